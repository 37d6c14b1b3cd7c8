//! Disk images: each disk a source holds, each Windows installation on it a
//! target.

use super::bytes::LogBytes;
use super::hive_file::{hive_layer, software_layer, software_unread};
use super::{
    ErrorKind, InputError, Kind, Loaded, Options, Target, applied_layers, combine, note, unnamed,
};
use crate::image::source::Source;
use crate::registry::Severity;

/// Every disk a source holds (itself, the disk of an EWF set, each disk an
/// OVA names), each installation on each a target.
pub(super) fn load_image(source: Source, applied: &[String], options: &Options) -> Vec<Target> {
    let name = source.name();
    match crate::image::source::disks(source) {
        Ok(disks) => disks
            .iter()
            .flat_map(|disk| load_disk(disk, applied, options))
            .collect(),
        Err(e) => vec![Target {
            name: name.clone(),
            kind: Kind::Image,
            loaded: Err(InputError {
                kind: ErrorKind::source(&name, e),
                path: name,
            }),
        }],
    }
}

/// A container's error for the disk `name`, said once (see [`unnamed`]).
fn container_error(name: &str, e: crate::image::container::ContainerError) -> ErrorKind {
    match unnamed(name, &e.to_string()) {
        Some(rest) => ErrorKind::Source(format!("disk image: {rest}")),
        None => ErrorKind::Container(e),
    }
}

/// One target per Windows installation on a disk.
fn load_disk(disk: &Source, applied: &[String], options: &Options) -> Vec<Target> {
    use crate::image::volume::Found;
    let input = disk.name();
    let fail = |kind: ErrorKind| {
        vec![Target {
            name: input.clone(),
            kind: Kind::Image,
            loaded: Err(InputError {
                path: input.clone(),
                kind,
            }),
        }]
    };
    let opened = match crate::image::container::open_source(disk) {
        Ok(o) => o,
        Err(e) => return fail(container_error(&input, e)),
    };
    let found = match crate::image::volume::find_windows(opened.disk.clone()) {
        Ok(f) => f,
        Err(e) => return fail(e.into()),
    };
    let skipped: Vec<String> = found
        .iter()
        .filter_map(|f| match f {
            Found::Skipped { volume, reason } => Some(format!("{}: {reason}", volume.description)),
            Found::Windows(_) => None,
        })
        .collect();
    let installs: Vec<&crate::image::volume::Install> = found
        .iter()
        .filter_map(|f| match f {
            Found::Windows(i) => Some(i.as_ref()),
            Found::Skipped { .. } => None,
        })
        .collect();
    if installs.is_empty() {
        let why = match skipped.is_empty() {
            true => "no volume at all".to_owned(),
            false => skipped.join("; "),
        };
        return fail(ErrorKind::NoWindows(format!(
            "no Windows installation found in this {} ({why})",
            image_name(opened.format)
        )));
    }
    installs
        .iter()
        .map(|install| {
            let name = format!("{input} [{}]", install.volume.description);
            let loaded = load_install(&name, &opened, install, &skipped, applied, options);
            Target {
                name,
                kind: Kind::Image,
                loaded,
            }
        })
        .collect()
}

/// `VHDX image`, `raw image`, `VMDK (streamOptimized) image`.
pub(super) fn image_name(format: crate::image::container::Format) -> String {
    let f = format.to_string();
    match f.ends_with("image") {
        true => f,
        false => format!("{f} image"),
    }
}

/// What an image holds for one installation.
pub(super) struct Found<'a> {
    /// `VHDX image, GPT partition 3 (...), Windows\System32\config\SYSTEM`.
    pub(super) from: String,
    pub(super) system: &'a [u8],
    pub(super) logs: Vec<LogBytes<'a>>,
    pub(super) software: Option<&'a [u8]>,
    pub(super) notes: Vec<String>,
}

fn load_install(
    name: &str,
    opened: &crate::image::container::Opened,
    install: &crate::image::volume::Install,
    skipped: &[String],
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let logs = install
        .system_logs
        .iter()
        .map(|(n, b)| LogBytes::borrowed(n.clone(), b))
        .collect();
    let mut notes: Vec<String> = opened.notes.iter().chain(&install.notes).cloned().collect();
    notes.extend(skipped.iter().map(|s| format!("also on the disk: {s}")));
    let found = Found {
        from: format!(
            "{}, {}, {}",
            image_name(opened.format),
            install.volume.description,
            install.system_path
        ),
        system: &install.system,
        logs,
        software: install.software.as_deref(),
        notes,
    };
    load_found(name, found, applied, options)
}

pub(super) fn load_found(
    name: &str,
    found: Found<'_>,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let logs = match options.no_logs {
        true => Vec::new(),
        false => found.logs,
    };
    // In an image, the hive is `config\SYSTEM`, whatever the image is called.
    let mut system = hive_layer(name, "SYSTEM", found.system, None, &logs, options)?;
    system.source.kind = Kind::Image;
    system.source.detail = format!("{}: {}", found.from, system.source.detail);
    let info = |message: String| note("image", Severity::Info, message);
    system.diagnostics.extend(found.notes.into_iter().map(info));
    let mut layers = vec![system];
    match found.software.filter(|_| !options.no_software) {
        Some(bytes) => match software_layer(&format!("{name} SOFTWARE"), bytes, options) {
            Ok(layer) => layers.push(layer),
            Err(e) => layers[0].diagnostics.push(software_unread(&e)),
        },
        None if options.no_software => {}
        None => layers[0].diagnostics.push(info(
            "no SOFTWARE hive beside SYSTEM: the OS version is unknown".into(),
        )),
    }
    layers.extend(applied_layers(applied, layers.len(), options)?);
    combine::build(layers, true, options.control_set)
}
