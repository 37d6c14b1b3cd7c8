//! Inputs: turning files into the one registry view (a tree, the control set
//! that stands for `CurrentControlSet`, and what the readers noticed).

mod combine;
pub mod discover;
mod guard;
pub mod hive;

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::Path;

use encoding_rs::Encoding;

use crate::regfile::{ReadError, Version};
use crate::registry::{ControlSet, Diagnostic, Key, Severity};

use combine::{Content, Layer};
pub use hive::{HiveError, Scope};

/// What kind of file an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reg,
    Hive,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reg => "reg",
            Kind::Hive => "hive",
        }
    }
}

/// One file that went into a view.
#[derive(Clone, Debug)]
pub struct Source {
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
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Reg(#[from] ReadError),
    #[error(transparent)]
    Hive(#[from] HiveError),
    #[error("{0}")]
    ControlSet(String),
    #[error("a hive cannot be applied like a .reg file; give it as the INPUT")]
    HiveApplied,
}

/// File bytes: mapped from disk, or read (standard input, replayed hives).
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An input opened by what its first bytes say it is.
enum Opened {
    Hive(Bytes),
    Stream(Box<dyn Read>),
}

fn open(path: &str) -> Result<Opened, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(wrap)?;
        return Ok(match is_hive(&buf) {
            true => Opened::Hive(Bytes::Owned(buf)),
            false => Opened::Stream(Box::new(std::io::Cursor::new(buf))),
        });
    }
    if Path::new(path).is_dir() {
        return Err(wrap(std::io::Error::other("is a directory")));
    }
    let mut file = File::open(path).map_err(wrap)?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(wrap)?;
    if !is_hive(&head[..n]) {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(0)).map_err(wrap)?;
        return Ok(Opened::Stream(Box::new(file)));
    }
    // SAFETY: the map is read-only and private to this process. Inputs are
    // offline copies; if another process truncates one while we read it, the
    // worst case is a SIGBUS, as for any reader of a shrinking file.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(m) => Ok(Opened::Hive(Bytes::Mapped(m))),
        Err(_) => std::fs::read(path)
            .map(|b| Opened::Hive(Bytes::Owned(b)))
            .map_err(wrap),
    }
}

fn version_label(v: Version) -> &'static str {
    match v {
        Version::Regedit5 => crate::regfile::HEADER_V5,
        Version::Regedit4 => crate::regfile::HEADER_V4,
        Version::Win31 => "REGEDIT (Windows 3.1)",
        Version::Fuzzy => "an unknown REGEDIT header",
    }
}

/// True when `bytes` start like a hive (`regf`), whatever the file is called.
pub fn is_hive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"regf")
}

fn reg_layer(
    name: &str,
    reader: impl Read,
    index: usize,
    options: &Options,
) -> Result<Layer, InputError> {
    let keep = options.keep.as_ref().map(|k| k.0.clone());
    let keep_ref: Option<crate::regfile::Keep<'_>> =
        keep.as_deref().map(|f| f as crate::regfile::Keep<'_>);
    let file =
        crate::regfile::read_stream(reader, index, options.codepage, keep_ref).map_err(|e| {
            InputError {
                path: name.to_owned(),
                kind: e.into(),
            }
        })?;
    Ok(Layer {
        source: Source {
            name: name.to_owned(),
            kind: Kind::Reg,
            detail: format!(
                "{}, {}",
                file.encoding.label(),
                version_label(file.version())
            ),
        },
        diagnostics: file.document.diagnostics,
        content: Content::Ops(file.document.ops),
    })
}

/// A log file found beside a hive (or in an image), by name.
pub struct LogBytes {
    pub name: String,
    pub bytes: Vec<u8>,
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

/// What replay did, in one line: `replayed 4 log entries from SYSTEM.LOG1, SYSTEM.LOG2`.
fn replayed(r: &crate::hive::log::Recovered) -> String {
    let used: Vec<&str> = r.applied.iter().map(|a| a.log.as_str()).collect();
    let what = match r.format {
        Some(crate::hive::log::LogFormat::Old) => {
            let pages: usize = r.applied.iter().map(|a| a.pages).sum();
            format!("{pages} dirty pages")
        }
        _ => {
            let n: usize = r.applied.iter().map(|a| a.entries.len()).sum();
            format!("{n} log entries")
        }
    };
    let rebuilt = if r.rebuilt_base_block {
        "; its damaged base block was rebuilt from the log"
    } else {
        ""
    };
    format!("replayed {what} from {}{rebuilt}", used.join(", "))
}

fn hive_layer(
    name: &str,
    bytes: &[u8],
    logs: &[LogBytes],
    options: &Options,
) -> Result<Layer, InputError> {
    let fail = |e: HiveError| InputError {
        path: name.to_owned(),
        kind: e.into(),
    };
    let mut diagnostics = Vec::new();
    let base = crate::hive::BaseBlock::new(bytes)
        .map_err(|e| fail(HiveError::BaseBlock(e.to_string())))?;
    let mut state = "clean".to_owned();
    let mut recovered = None;
    if base.is_dirty() {
        let why = format!(
            "sequence numbers {} and {}{}",
            base.primary_sequence(),
            base.secondary_sequence(),
            if base.checksum_ok() {
                ""
            } else {
                ", bad checksum"
            }
        );
        let files: Vec<crate::hive::log::LogFile<'_>> = logs
            .iter()
            .map(|l| crate::hive::log::LogFile::new(l.name.clone(), &l.bytes))
            .collect();
        let outcome = match (options.no_logs, files.is_empty()) {
            (true, _) => Err("--no-logs was given".to_owned()),
            (false, true) => Err("no SYSTEM.LOG1 or SYSTEM.LOG2 was found beside it".to_owned()),
            (false, false) => crate::hive::log::replay(bytes, &files).map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(r) if r.replayed() => {
                state = format!("dirty ({why}); {}", replayed(&r));
                diagnostics.push(note(
                    "dirty-hive",
                    Severity::Info,
                    format!("the hive was dirty ({why}): {}", replayed(&r)),
                ));
                for issue in &r.issues {
                    diagnostics.push(note(
                        "dirty-hive",
                        Severity::Info,
                        format!("log not used in full: {issue}"),
                    ));
                }
                recovered = Some(r.bytes);
            }
            Ok(r) => {
                state = format!("dirty ({why}), nothing to replay");
                let issues: Vec<String> = r.issues.iter().map(ToString::to_string).collect();
                diagnostics.push(note(
                    "dirty-hive",
                    Severity::Warning,
                    format!(
                        "the hive is dirty ({why}) but its logs held nothing to replay ({}): changes made just before it was copied may be missing",
                        issues.join("; ")
                    ),
                ));
                recovered = Some(r.bytes);
            }
            Err(e) => {
                state = format!("dirty ({why}), logs not replayed");
                diagnostics.push(note(
                    "dirty-hive",
                    Severity::Warning,
                    format!(
                        "the hive is dirty ({why}) and its logs were not replayed ({e}): it was read as it is, so changes made just before it was copied, such as TLS keys someone just set, may be missing"
                    ),
                ));
            }
        }
    }
    let data: &[u8] = recovered.as_deref().unwrap_or(bytes);
    let hive = match nt_hive::Hive::new(data) {
        Ok(h) => h,
        Err(
            nt_hive::NtHiveError::SequenceNumberMismatch { .. }
            | nt_hive::NtHiveError::InvalidChecksum { .. },
        ) => {
            check_size(data).map_err(fail)?;
            nt_hive::Hive::without_validation(data).map_err(|e| fail(HiveError::Open(e)))?
        }
        Err(e) => return Err(fail(HiveError::Open(e))),
    };
    let view = hive::read(&hive, &options.scope).map_err(fail)?;
    if options.require_system && options.scope == Scope::Audit && !view.has_control_sets {
        return Err(fail(HiveError::NotSystem {
            root: view.root_name,
        }));
    }
    diagnostics.extend(view.diagnostics);
    Ok(Layer {
        source: Source {
            name: name.to_owned(),
            kind: Kind::Hive,
            detail: format!(
                "regf hive {}.{}, root key {}, {state}",
                hive.major_version(),
                hive.minor_version(),
                view.root_name
            ),
        },
        diagnostics,
        content: Content::Tree(view.root),
    })
}

/// A hive's base block states how many bytes of hive bins follow it; a copy
/// cut short holds fewer. nt-hive checks this only when validating, and a
/// dirty hive is read without validation.
fn check_size(bytes: &[u8]) -> Result<(), HiveError> {
    let stated = bytes
        .get(40..44)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64)
        .ok_or(HiveError::Truncated {
            stated: 0,
            actual: bytes.len() as u64,
        })?;
    let actual = bytes.len() as u64;
    if 4096 + stated > actual {
        return Err(HiveError::Truncated {
            stated: 4096 + stated,
            actual,
        });
    }
    Ok(())
}

/// Builds a view from one input's bytes (a `.reg` file or a hive, told apart
/// by their first bytes), as `load` does for a file on disk.
pub fn from_bytes(name: &str, bytes: &[u8], options: &Options) -> Result<Loaded, InputError> {
    let layer = if is_hive(bytes) {
        hive_layer(name, bytes, &[], options)?
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
    let names: Vec<&str> = input
        .into_iter()
        .chain(applied.iter().map(String::as_str))
        .collect();
    let mut layers = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let layer = match open(name)? {
            Opened::Hive(bytes) => {
                if index > 0 || input.is_none() {
                    return Err(InputError {
                        path: (*name).to_owned(),
                        kind: ErrorKind::HiveApplied,
                    });
                }
                let logs = if options.no_logs {
                    Vec::new()
                } else {
                    sibling_logs(name)
                };
                hive_layer(name, &bytes, &logs, options)?
            }
            // A .reg file is streamed, not mapped: a 1 GiB export must not
            // cost 1 GiB of memory.
            Opened::Stream(reader) => reg_layer(name, reader, index, options)?,
        };
        layers.push(layer);
    }
    combine::build(layers, input.is_some(), options.control_set)
}

/// The transaction logs beside a hive file (`SYSTEM.LOG1`, `SYSTEM.LOG2`,
/// `SYSTEM.LOG`, any case). Unreadable ones are skipped: replay says which
/// logs it used.
fn sibling_logs(path: &str) -> Vec<LogBytes> {
    crate::hive::log::sibling_logs(Path::new(path))
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some(LogBytes { name, bytes })
        })
        .collect()
}

/// Whether the file is a disk image or WIM this build reads (`head`: its
/// first bytes). Images arrive with the image readers.
pub fn image_kind(_path: &Path, _head: &[u8]) -> Option<Kind> {
    None
}

/// The kind of file at `path`, by its first bytes.
pub fn sniff(path: &str) -> Kind {
    let mut head = [0u8; 4];
    let read = File::open(path).and_then(|mut f| f.read_exact(&mut head));
    match read {
        Ok(()) if is_hive(&head) => Kind::Hive,
        _ => Kind::Reg,
    }
}
