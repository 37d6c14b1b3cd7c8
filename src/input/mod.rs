//! Inputs: turning files into the one registry view (a tree, the control set
//! that stands for `CurrentControlSet`, and what the readers noticed).
//!
//! Like ripgrep's haystacks: `haystack` decides once what each input is and
//! opens it once; each kind has its reader (`reg`, `hive_file`, `image`,
//! `wim`, `live`), and `combine` stacks what they read into one view.

mod bytes;
mod combine;
pub mod discover;
pub mod folder;
mod haystack;
pub mod hive;
mod hive_file;
mod image;
pub mod live;
mod reg;
mod wim;

use std::path::Path;

use encoding_rs::Encoding;

use crate::regfile::ReadError;
use crate::registry::{ControlSet, Diagnostic, Key, Severity};

use bytes::map_or_read;
use combine::Layer;
use haystack::{Haystack, Opened};
use hive_file::{
    MAX_LOOSE_HIVE, file_name, hive_layer, sibling_logs, software_layer, software_unread,
};
use reg::{reg_layer, reg_mapped_layer};

pub use bytes::LogBytes;
pub use haystack::{is_hive, is_image};
pub use hive::{HiveError, Scope};
pub use hive_file::always_read_software_keys;

/// What kind of file an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reg,
    Hive,
    /// A disk image or WIM holding Windows installations.
    Image,
    /// The running machine's registry, read through the Windows API.
    Live,
    /// A file that could not be opened: it was never read, so it is of no
    /// kind.
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reg => "reg",
            Kind::Hive => "hive",
            Kind::Image => "image",
            Kind::Live => "live",
            Kind::Unknown => "unknown",
        }
    }
}

/// What a file is to the view it went into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The machine being audited.
    Input,
    /// The SOFTWARE hive read with a SYSTEM hive.
    Software,
    /// A `.reg` file applied on top (`--apply`).
    Applied,
}

/// One file that went into a view.
#[derive(Clone, Debug)]
pub struct Source {
    pub role: Role,
    /// The path as the user gave it (`-` for standard input).
    pub name: String,
    pub kind: Kind,
    /// How it was read: `UTF-16LE, Windows Registry Editor Version 5.00`.
    pub detail: String,
}

/// A registry view built from an input and the files applied on top of it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The input first (when there is one), then each applied file in order.
    pub sources: Vec<Source>,
    pub root: Key,
    pub control_set: Option<ControlSet>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Code page for `.reg` files without a BOM; `None` picks Windows-1252,
    /// or UTF-8 when the bytes are valid UTF-8.
    pub codepage: Option<&'static Encoding>,
    /// Read `ControlSetNNN` instead of the one `Select` names.
    pub control_set: Option<u32>,
    /// What to copy out of a hive.
    pub scope: Scope,
    /// Read a dirty hive as it is, without replaying its logs.
    pub no_logs: bool,
    /// Refuse a hive that is not a SYSTEM hive (audits); `export` reads any.
    pub require_system: bool,
    /// Which keys of a `.reg` file to read; all when `None`.
    pub keep: Option<KeepKeys>,
    /// Keys of the SOFTWARE hive whose values an audit reads (paths below
    /// its root), besides the OS version, which is always read.
    pub software_keys: Vec<Vec<String>>,
    /// A SOFTWARE hive to read beside a loose SYSTEM hive.
    pub software: Option<String>,
    /// Read no SOFTWARE hive found beside SYSTEM (`--no-software`).
    pub no_software: bool,
    /// Words (KB numbers) whose servicing packages an audit lists from
    /// SOFTWARE's `Component Based Servicing\Packages`.
    pub software_packages: Vec<String>,
}

/// A key filter for `.reg` inputs (an audit's comes from `schannel::relevant`).
#[derive(Clone)]
pub struct KeepKeys(pub crate::registry::KeyFilter);

impl std::fmt::Debug for KeepKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeepKeys(..)")
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            codepage: None,
            control_set: None,
            scope: Scope::Audit,
            no_logs: false,
            require_system: true,
            keep: None,
            software_keys: Vec::new(),
            software: None,
            no_software: false,
            software_packages: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct InputError {
    pub path: String,
    pub kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("{}", crate::fsio::describe(.0))]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Reg(#[from] ReadError),
    #[error(transparent)]
    Hive(#[from] HiveError),
    #[error("{0}")]
    ControlSet(String),
    #[error("a hive cannot be applied like a .reg file; give it as the INPUT")]
    HiveApplied,
    #[error("disk image: {0}")]
    Container(#[from] crate::image::container::ContainerError),
    #[error("{0}")]
    Volume(#[from] crate::image::volume::VolumeError),
    #[error("{0}")]
    NoWindows(String),
    #[error("WIM: {0}")]
    Wim(#[from] crate::image::wim::WimError),
    #[error("{0}")]
    Live(String),
    /// A source (a URL, an EWF set, an OVA and its members) could not be
    /// read: the message names what failed, and where.
    #[error("{0}")]
    Source(String),
}

impl ErrorKind {
    /// A source's error, for the input `path`: its message without the
    /// input's name in front, which the error line already starts with.
    pub fn source(path: &str, e: crate::image::source::SourceError) -> ErrorKind {
        let text = e.to_string();
        ErrorKind::Source(unnamed(path, &text).unwrap_or(&text).to_owned())
    }
}

/// An error's message without `name: ` in front, when it starts so: the
/// error line names the input already, and the lower layers' errors name
/// the file that failed, which at the top is the input itself.
fn unnamed<'t>(name: &str, text: &'t str) -> Option<&'t str> {
    text.strip_prefix(name)?.strip_prefix(": ")
}

fn note(code: &'static str, severity: Severity, message: String) -> Diagnostic {
    Diagnostic {
        code,
        severity,
        message,
        origin: None,
        suggestion: None,
    }
}

/// Builds a view from one input's bytes (a `.reg` file or a hive, told apart
/// by their first bytes), as `load` does for a file on disk.
pub fn from_bytes(name: &str, bytes: &[u8], options: &Options) -> Result<Loaded, InputError> {
    let layer = if is_hive(bytes) {
        hive_layer(name, &file_name(name), bytes, None, &[], options)?
    } else {
        reg_layer(name, bytes, 0, options)?
    };
    combine::build(vec![layer], true, options.control_set)
}

/// Loads `input` (or an empty machine when `None`) and applies each file in
/// `applied` on top of it, in order, as `regedit /s` would import them.
pub fn load(
    input: Option<&str>,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let input = match input {
        Some(name) => Some((name, haystack::open(name)?)),
        None => None,
    };
    load_beside(input, None, None, applied, options)
}

/// As [`load`], with the input's logs and the SOFTWARE hive beside it when a folder walk
/// already found them (it lists each folder once; see [`discover::Input`]).
/// `--software` comes before a SOFTWARE hive found beside the input.
fn load_beside(
    input: Option<(&str, Opened)>,
    known_logs: Option<&[std::path::PathBuf]>,
    known_software: Option<&Path>,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let (input, mut given) = match input {
        Some((name, opened)) => (Some(name), Some(opened)),
        None => (None, None),
    };
    // A SOFTWARE hive named with --software must be read; one found beside
    // the input is read if it can be, and never costs the SYSTEM verdict.
    // Looked for only once the input is known to be a hive.
    let software_beside = || match &options.software {
        Some(s) => (Some(s.clone()), true),
        None if options.no_software => (None, false),
        None => match (known_software, known_logs, input) {
            (Some(p), _, _) => (Some(p.display().to_string()), false),
            // A folder walk found none; a file named alone is looked beside
            // (by audits: an export reads what it is asked for).
            (None, None, Some(path)) if path != "-" && options.scope == Scope::Audit => {
                let path = Path::new(path);
                let found = path.file_name().and_then(|name| {
                    folder::Folder::of(path)
                        .ok()
                        .and_then(|f| f.software_of(name))
                        .filter(|sw| sw.as_path() != path)
                });
                (found.map(|p| p.display().to_string()), false)
            }
            _ => (None, false),
        },
    };
    let names: Vec<&str> = input
        .into_iter()
        .chain(applied.iter().map(String::as_str))
        .collect();
    let mut layers = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let opened = match given.take().filter(|_| index == 0) {
            Some(opened) => opened,
            None => haystack::open(name)?,
        };
        let layer = match opened {
            Opened::Hive(bytes) => {
                if index > 0 || input.is_none() {
                    return Err(InputError {
                        path: (*name).to_owned(),
                        kind: ErrorKind::HiveApplied,
                    });
                }
                // A clean hive's logs are never used: not even opened.
                let (logs, unread) = if options.no_logs || !crate::hive::log::needs_logs(&bytes) {
                    (Vec::new(), Vec::new())
                } else {
                    sibling_logs(name, known_logs, bytes.len() as u64)
                };
                let mut layer =
                    hive_layer(name, &file_name(name), &bytes, bytes.file(), &logs, options)?;
                layer.diagnostics.extend(unread);
                let (software, named) = software_beside();
                if let Some(sw) = software.as_deref() {
                    layers.push(layer);
                    // Mapped, not read: only the pages of the few keys read
                    // cost memory, however large the file.
                    let io = |e: std::io::Error| InputError {
                        path: sw.to_owned(),
                        kind: ErrorKind::Io(e),
                    };
                    let read = map_or_read(Path::new(sw), MAX_LOOSE_HIVE)
                        .map_err(io)
                        .and_then(|(bytes, cut)| match cut {
                            true => Err(io(std::io::Error::other(format!(
                                "cannot be mapped, and is larger than the {MAX_LOOSE_HIVE} bytes read at most"
                            )))),
                            false => software_layer(sw, &bytes, options),
                        });
                    match read {
                        Ok(layer) => layer,
                        Err(e) if !named => {
                            if let Some(system) = layers.last_mut() {
                                system.diagnostics.push(software_unread(&e));
                            }
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                } else {
                    layer
                }
            }
            // A .reg file is streamed, or mapped with its pages given back as
            // they are passed: a 1 GiB export must not cost 1 GiB of memory.
            // Its locations name the source at its place in `layers`: after
            // a SOFTWARE hive, that is not `index`.
            Opened::Stream(reader) => reg_layer(name, reader, layers.len(), options)?,
            Opened::Mapped(map) => reg_mapped_layer(name, &map, layers.len(), options)?,
        };
        let mut layer = layer;
        if input.is_none() || index > 0 {
            layer.source.role = Role::Applied;
        }
        layers.push(layer);
    }
    combine::build(layers, input.is_some(), options.control_set)
}

/// One thing an input holds that is audited on its own: the input itself,
/// or one Windows installation in a disk image.
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub loaded: Result<Loaded, InputError>,
}

/// Loads `input` as one target, or a disk image as one target per Windows
/// installation on it, each with `applied` on top. The input is opened
/// once, and read by the reader of what its first bytes say it is.
pub fn load_targets(found: &discover::Input, applied: &[String], options: &Options) -> Vec<Target> {
    let input = found.path.as_str();
    let haystack = match haystack::open_input(input) {
        Ok(h) => h,
        Err(e) => {
            let kind = match (e.opened, crate::image::source::is_url(input)) {
                (_, true) => Kind::Image,
                (true, false) => Kind::Reg,
                // Never opened, never read: no kind is claimed.
                (false, false) => Kind::Unknown,
            };
            return vec![Target {
                name: e.error.path.clone(),
                kind,
                loaded: Err(e.error),
            }];
        }
    };
    let kind = haystack.kind();
    match haystack {
        Haystack::Registry(opened) => vec![Target {
            name: input.to_owned(),
            kind,
            loaded: load_beside(
                Some((input, opened)),
                found.logs.as_deref(),
                found.software.as_deref(),
                applied,
                options,
            ),
        }],
        Haystack::Wim(source) => wim::load_wim(&source, applied, options),
        Haystack::Image(source) => image::load_image(source, applied, options),
    }
}

/// The layers of `.reg` files applied on top of an input that is not a
/// file of its own list (an image's installation, the live registry); the
/// first is source number `first`.
fn applied_layers(
    applied: &[String],
    first: usize,
    options: &Options,
) -> Result<Vec<Layer>, InputError> {
    let mut layers = Vec::new();
    for (index, file) in applied.iter().enumerate() {
        let mut layer = match haystack::open(file)? {
            Opened::Hive(_) => {
                return Err(InputError {
                    path: file.clone(),
                    kind: ErrorKind::HiveApplied,
                });
            }
            Opened::Stream(reader) => reg_layer(file, reader, first + index, options)?,
            Opened::Mapped(map) => reg_mapped_layer(file, &map, first + index, options)?,
        };
        layer.source.role = Role::Applied;
        layers.push(layer);
    }
    Ok(layers)
}
