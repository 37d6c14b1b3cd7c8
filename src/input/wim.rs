//! WIM files: each image of the WIM a target.

use super::bytes::LogBytes;
use super::image::{Found, load_found};
use super::{ErrorKind, InputError, Kind, Options, Target};
use crate::image::source::Source;

/// Every image of a WIM, each a target.
pub(super) fn load_wim(source: &Source, applied: &[String], options: &Options) -> Vec<Target> {
    use crate::image::wim::{Reader, Wim, read_file_or_wimlib_with};
    let input = source.name();
    let input = input.as_str();
    let fail = |name: String, kind: ErrorKind| Target {
        name,
        kind: Kind::Image,
        loaded: Err(InputError {
            path: input.to_owned(),
            kind,
        }),
    };
    let wim = match Wim::from_disk(source.disk.clone()) {
        Ok(w) => w,
        Err(e) => return vec![fail(input.to_owned(), e.into())],
    };
    let config = ["Windows", "System32", "config"];
    let read = |index: u32, file: &str, max: u64| {
        let path: Vec<&str> = config.iter().copied().chain([file]).collect();
        read_file_or_wimlib_with(&wim, source.place.local_path(), index, &path, max)
    };
    // The same limits as for a disk, per WIM image (each is audited and
    // dropped before the next is read).
    let limits = crate::image::volume::Limits::default();
    wim.images()
        .iter()
        .map(|info| {
            let label = info.name.clone().unwrap_or_else(|| "unnamed".into());
            let name = format!("{input} [image {}: {label}]", info.index);
            // Each read holds the image's metadata too.
            let metadata = wim.metadata_size(info.index).unwrap_or(0);
            let mut left = limits.max_held.saturating_sub(metadata);
            let system = match read(info.index, "SYSTEM", limits.max_file.min(left)) {
                Ok((Some(bytes), reader)) => (bytes, reader),
                Ok((None, _)) => {
                    let why = format!(
                        "image {} ({label}) holds no Windows\\System32\\config\\SYSTEM",
                        info.index
                    );
                    return fail(name, ErrorKind::NoWindows(why));
                }
                Err(e) => return fail(name, e.into()),
            };
            left = left.saturating_sub(system.0.len() as u64);
            let mut notes = Vec::new();
            if let Reader::Wimlib { reason } = &system.1 {
                notes.push(format!(
                    "read with wimlib-imagex, because tlsreg's WIM reader refused it: {reason}"
                ));
            }
            if let Some(b) = &info.build {
                notes.push(format!("the WIM's XML gives version {b}"));
            }
            // Logs only for a dirty hive (a clean one's are never applied),
            // each up to the log cap, with room kept for replay's copy.
            let mut logs: Vec<LogBytes<'_>> = Vec::new();
            if !options.no_logs && crate::hive::log::needs_logs(&system.0) {
                let cap = crate::hive::log::log_cap(system.0.len() as u64);
                left = left.saturating_sub(system.0.len() as u64);
                for f in ["SYSTEM.LOG1", "SYSTEM.LOG2"] {
                    match read(info.index, f, cap.min(left / 2)) {
                        Ok((Some(bytes), _)) => {
                            left = left.saturating_sub(2 * bytes.len() as u64);
                            logs.push(LogBytes::owned(f.to_owned(), bytes));
                        }
                        Ok((None, _)) => {}
                        // A WIM file is read whole (its hash covers all of
                        // it), so a log over the cap is left out, and said.
                        Err(e) => notes.push(format!("{f} not read: {e}")),
                    }
                }
            }
            let software = match read(info.index, "SOFTWARE", limits.max_file.min(left)) {
                Ok((data, _)) => data,
                Err(e) => {
                    notes.push(format!("SOFTWARE could not be read: {e}"));
                    None
                }
            };
            let found = Found {
                from: format!(
                    "WIM image {} ({label}{}), Windows\\System32\\config\\SYSTEM",
                    info.index,
                    info.edition
                        .as_deref()
                        .map(|e| format!(", {e}"))
                        .unwrap_or_default()
                ),
                system: &system.0,
                logs,
                software: software.as_deref(),
                notes,
            };
            Target {
                name: name.clone(),
                kind: Kind::Image,
                loaded: load_found(&name, found, applied, options),
            }
        })
        .collect()
}
