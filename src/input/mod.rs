//! Inputs: turning files into the one registry view (a tree, the control set
//! that stands for `CurrentControlSet`, and what the readers noticed).

mod combine;
pub mod discover;
pub mod folder;
pub mod hive;
pub mod live;

use std::io::Read;
use std::ops::Deref;
use std::path::Path;

use encoding_rs::Encoding;

use crate::fsio::FileKind;
use crate::regfile::{ReadError, Version};
use crate::registry::{ControlSet, Diagnostic, Key, Severity};

use combine::{Content, Layer};
pub use hive::{HiveError, Scope};

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
}

/// File bytes: mapped from disk, or read (standard input, replayed hives).
enum Bytes {
    /// The file is kept: a dirty hive is replayed onto a copy-on-write
    /// map of it.
    Mapped(memmap2::Mmap, std::fs::File),
    Owned(Vec<u8>),
}

impl Bytes {
    /// The file behind a map.
    fn file(&self) -> Option<&std::fs::File> {
        match self {
            Bytes::Mapped(_, f) => Some(f),
            Bytes::Owned(_) => None,
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m, _) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An input opened by what its first bytes say it is.
enum Opened {
    Hive(Bytes),
    Stream(Box<dyn Read>),
    /// A `.reg` file mapped in memory: read in place, not copied (Unix
    /// only: elsewhere pages cannot be given back as reading goes on).
    #[cfg_attr(not(unix), allow(dead_code))]
    Mapped(memmap2::Mmap),
}

/// The most bytes of a hive read from a pipe or standard input, which
/// cannot be mapped: a hive is read whole, and a stream may never end.
const PIPED_HIVE_CAP: u64 = 200 << 20;

fn open(path: &str) -> Result<Opened, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    if path == "-" {
        return open_stream(Box::new(std::io::stdin()), path);
    }
    let (mut file, kind) = crate::fsio::open(Path::new(path)).map_err(wrap)?;
    match kind {
        FileKind::Regular | FileKind::BlockDevice => {}
        FileKind::Directory => return Err(wrap(std::io::Error::other("is a directory"))),
        // A pipe (`<(cat x.reg)`, a named FIFO given on purpose) or a
        // character device is read once, as a stream: no seeking back.
        FileKind::Fifo | FileKind::CharDevice => return open_stream(Box::new(file), path),
        FileKind::Socket | FileKind::Other => {
            return Err(wrap(std::io::Error::other(format!(
                "is {}, not a file tlsreg reads",
                kind.describe()
            ))));
        }
    }
    let mut head = [0u8; 4];
    let n = crate::fsio::read_up_to(&mut file, &mut head).map_err(wrap)?;
    if !is_hive(&head[..n]) {
        // A regular file is mapped: no copy out of the page cache. Where
        // pages cannot be given back as reading goes on, it is streamed, and
        // so is a file whose size says nothing (`/proc`'s are 0 bytes).
        #[cfg(unix)]
        if kind == FileKind::Regular && crate::fsio::metadata(&file).is_ok_and(|m| m.len() > 0) {
            // SAFETY: as in `map_or_read_file`.
            if let Ok(m) = unsafe { memmap2::Mmap::map(&file) } {
                return Ok(Opened::Mapped(m));
            }
        }
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(0)).map_err(wrap)?;
        return Ok(Opened::Stream(Box::new(file)));
    }
    match map_or_read_file(file, PIPED_HIVE_CAP).map_err(wrap)? {
        (bytes, false) => Ok(Opened::Hive(bytes)),
        (_, true) => Err(wrap(std::io::Error::other(format!(
            "a hive that cannot be mapped is larger than {} MiB, more than tlsreg reads into memory",
            PIPED_HIVE_CAP >> 20
        )))),
    }
}

/// A stream that can be read only once: its first bytes say whether it is a
/// hive (then read whole, up to a cap) or a `.reg` file (streamed, with the
/// bytes already read put back in front).
fn open_stream(mut reader: Box<dyn Read>, path: &str) -> Result<Opened, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    let mut head = [0u8; 4];
    let n = crate::fsio::read_up_to(&mut reader, &mut head).map_err(wrap)?;
    let whole = std::io::Cursor::new(head[..n].to_vec()).chain(reader);
    if !is_hive(&head[..n]) {
        return Ok(Opened::Stream(Box::new(whole)));
    }
    let mut whole = whole;
    crate::fsio::read_capped(&mut whole, PIPED_HIVE_CAP, "a hive read from a pipe")
        .map(|b| Opened::Hive(Bytes::Owned(b)))
        .map_err(|e| {
            wrap(std::io::Error::other(format!(
                "{e}; give the hive as a file, which is mapped instead of read"
            )))
        })
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
    reg_layer_with(name, index, options, |keep| {
        crate::regfile::read_stream(reader, index, options.codepage, keep)
    })
}

fn reg_mapped_layer(
    name: &str,
    map: &memmap2::Mmap,
    index: usize,
    options: &Options,
) -> Result<Layer, InputError> {
    reg_layer_with(name, index, options, |keep| {
        crate::regfile::read_mapped(map, index, options.codepage, keep)
    })
}

fn reg_layer_with(
    name: &str,
    index: usize,
    options: &Options,
    read: impl FnOnce(
        Option<crate::regfile::Keep<'_>>,
    ) -> Result<crate::regfile::RegFile, crate::regfile::ReadError>,
) -> Result<Layer, InputError> {
    let keep = options.keep.as_ref().map(|k| k.0.clone());
    let keep_ref: Option<crate::regfile::Keep<'_>> =
        keep.as_deref().map(|f| f as crate::regfile::Keep<'_>);
    let file = read(keep_ref).map_err(|e| InputError {
        path: name.to_owned(),
        kind: e.into(),
    })?;
    Ok(Layer {
        source: Source {
            role: match index {
                0 => Role::Input,
                _ => Role::Applied,
            },
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

/// A log file found beside a hive (or in an image), by name: its first
/// bytes, at most [`crate::hive::log::log_cap`] of its hive.
pub struct LogBytes<'a> {
    pub name: String,
    bytes: LogData<'a>,
    /// How many bytes of `bytes` are used (a map holds the whole file).
    used: usize,
    /// The log's whole length, when it is longer than what is used.
    cut_from: Option<u64>,
}

/// A log's bytes: its own (mapped or read), or an image reader's.
enum LogData<'a> {
    File(Bytes),
    Borrowed(&'a [u8]),
}

impl<'a> LogBytes<'a> {
    /// A log read whole (or already cut by its reader, which said so).
    pub fn owned(name: String, bytes: Vec<u8>) -> Self {
        LogBytes {
            name,
            used: bytes.len(),
            bytes: LogData::File(Bytes::Owned(bytes)),
            cut_from: None,
        }
    }

    /// As [`LogBytes::owned`], without a copy.
    fn borrowed(name: String, bytes: &'a [u8]) -> Self {
        LogBytes {
            name,
            used: bytes.len(),
            bytes: LogData::Borrowed(bytes),
            cut_from: None,
        }
    }

    fn bytes(&self) -> &[u8] {
        let all: &[u8] = match &self.bytes {
            LogData::File(b) => b,
            LogData::Borrowed(b) => b,
        };
        all.get(..self.used).unwrap_or(all)
    }
}

/// Maps the file at `path` (only the pages read cost memory); a file that
/// cannot be mapped is read, at most `cap` bytes of it. The flag says
/// whether it was cut there.
fn map_or_read(path: &Path, cap: u64) -> std::io::Result<(Bytes, bool)> {
    // Never blocks: a FIFO named as a hive or log is an error, not a hang.
    map_or_read_file(crate::image::disk::open_regular(path)?, cap)
}

/// The first `len` bytes of `file` as a private, writable map: writes go
/// to copies of the pages written, never to the file (inputs are evidence).
fn copy_on_write(file: &std::fs::File, len: usize) -> Option<crate::hive::log::HiveBytes> {
    // SAFETY: as for the read-only map in `map_or_read_file`; MAP_PRIVATE
    // keeps every write in this process.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map_copy(file) }.ok()?;
    Some(crate::hive::log::HiveBytes::Mapped(map))
}

/// As [`map_or_read`], for a file already open (read from its start).
fn map_or_read_file(mut file: std::fs::File, cap: u64) -> std::io::Result<(Bytes, bool)> {
    // SAFETY: the map is read-only and private to this process. Inputs are
    // offline copies; if another process truncates one while we read it, the
    // worst case is a SIGBUS, as for any reader of a shrinking file.
    if let Ok(m) = unsafe { memmap2::Mmap::map(&file) } {
        return Ok((Bytes::Mapped(m, file), false));
    }
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    let cut = buf.len() as u64 > cap;
    buf.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    Ok((Bytes::Owned(buf), cut))
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

/// `logs_of`: the hive file's own name, which its logs are named after
/// (`SYSTEM_2` has `SYSTEM_2.LOG1`).
fn hive_layer(
    name: &str,
    logs_of: &str,
    bytes: &[u8],
    file: Option<&std::fs::File>,
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
            .map(|l| crate::hive::log::LogFile::new(l.name.clone(), l.bytes()))
            .collect();
        let cap = crate::hive::log::log_cap(bytes.len() as u64);
        for log in logs {
            if let Some(len) = log.cut_from {
                let message = crate::hive::log::cut_note(&log.name, len, cap);
                diagnostics.push(note("dirty-hive", Severity::Warning, message));
            }
        }
        let outcome = match (options.no_logs, files.is_empty()) {
            (true, _) => Err("--no-logs was given".to_owned()),
            (false, true) => {
                let [a, b, c] = crate::hive::log::LOG_SUFFIXES.map(|s| format!("{logs_of}{s}"));
                Err(format!("no {a}, {b} or {c} was found beside it"))
            }
            (false, false) => {
                // Replay writes a few pages: onto a private copy-on-write
                // map of the file, only those are copied, not the hive.
                let scratch = |prefix: &[u8]| {
                    file.filter(|_| {
                        prefix.as_ptr() == bytes.as_ptr() && prefix.len() <= bytes.len()
                    })
                    .and_then(|f| copy_on_write(f, prefix.len()))
                    .unwrap_or_else(|| crate::hive::log::copy(prefix))
                };
                crate::hive::log::replay_with(bytes, &files, &scratch).map_err(|e| e.to_string())
            }
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
                if r.bytes.len() < bytes.len() {
                    diagnostics.push(note(
                        "dirty-hive",
                        Severity::Info,
                        format!(
                            "the hive file is {} bytes, far past what its hive bins and logs reach: replay used its first {} bytes",
                            bytes.len(),
                            r.bytes.len()
                        ),
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
    // A dirty hive whose logs could not be replayed is read as it is (its
    // warning is above).
    let (hive, _dirty) = open_maybe_dirty(data).map_err(fail)?;
    let view = hive::read(data, &hive, &options.scope).map_err(fail)?;
    if options.require_system && options.scope == Scope::Audit && !view.has_control_sets {
        return Err(fail(HiveError::NotSystem {
            root: view.root_name,
        }));
    }
    diagnostics.extend(view.diagnostics);
    Ok(Layer {
        source: Source {
            role: Role::Input,
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

/// Opens a hive validated; a dirty one (sequence numbers or checksum off)
/// is opened as it is, once its size is known to be whole. The flag says
/// whether it was dirty.
fn open_maybe_dirty(bytes: &[u8]) -> Result<(nt_hive::Hive<&[u8]>, bool), HiveError> {
    match hive::open_hive(bytes, true) {
        Ok(h) => Ok((h, false)),
        Err(HiveError::Open(
            nt_hive::NtHiveError::SequenceNumberMismatch { .. }
            | nt_hive::NtHiveError::InvalidChecksum { .. },
        )) => {
            check_size(bytes)?;
            Ok((hive::open_hive(bytes, false)?, true))
        }
        Err(e) => Err(e),
    }
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

/// The last part of a path as given (`SYSTEM_2` for `backup/SYSTEM_2`).
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
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
    load_beside(input, None, None, applied, options)
}

/// As [`load`], with the input's logs and the SOFTWARE hive beside it when a folder walk
/// already found them (it lists each folder once; see [`discover::Input`]).
/// `--software` comes before a SOFTWARE hive found beside the input.
fn load_beside(
    input: Option<&str>,
    known_logs: Option<&[std::path::PathBuf]>,
    known_software: Option<&Path>,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    // A SOFTWARE hive named with --software must be read; one found beside
    // the input is read if it can be, and never costs the SYSTEM verdict.
    let (software, named) = match &options.software {
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
        let layer = match open(name)? {
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
                if let Some(sw) = software.as_deref().filter(|_| index == 0) {
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

/// The warning for a SOFTWARE hive found beside SYSTEM that could not be
/// read: the SYSTEM verdict stands, the OS is unknown.
fn software_unread(e: &InputError) -> Diagnostic {
    note(
        "software-unreadable",
        Severity::Warning,
        format!(
            "{e}: the SOFTWARE hive was not read, so the OS and the installed products are unknown"
        ),
    )
}

/// The most of a `--software` file read when it cannot be mapped, as for a
/// hive in a disk image ([`crate::image::volume::Limits::max_file`]).
const MAX_LOOSE_HIVE: u64 = 192 << 20;

/// The transaction logs beside a hive file of `hive_len` bytes
/// (`SYSTEM.LOG1`, `SYSTEM.LOG2`, `SYSTEM.LOG`, any case), mapped, each used
/// up to the cap for its hive; and a warning for each that cannot be read.
/// `known` are the logs a folder walk found; without them the folder is
/// listed here.
fn sibling_logs(
    path: &str,
    known: Option<&[std::path::PathBuf]>,
    hive_len: u64,
) -> (Vec<LogBytes<'static>>, Vec<Diagnostic>) {
    let cap = crate::hive::log::log_cap(hive_len);
    let mut unread = Vec::new();
    let found: std::borrow::Cow<'_, [std::path::PathBuf]> = match known {
        Some(logs) => logs.into(),
        None => folder::sibling_logs(Path::new(path)).into(),
    };
    let logs = found
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let (bytes, cut) = match map_or_read(p, cap) {
                Ok(read) => read,
                Err(e) => {
                    let message = format!("{name} could not be read, so it was not replayed: {e}");
                    unread.push(note("dirty-hive", Severity::Warning, message));
                    return None;
                }
            };
            let len = bytes.len() as u64;
            let used = usize::try_from(len.min(cap)).unwrap_or(usize::MAX);
            let cut_from = match (cut, len > cap) {
                (true, _) => crate::fsio::stat(p).ok().map(|m| m.len()),
                (false, true) => Some(len),
                (false, false) => None,
            };
            Some(LogBytes {
                name,
                bytes: LogData::File(bytes),
                used,
                cut_from,
            })
        })
        .collect();
    (logs, unread)
}

/// Whether the file is a disk image this build reads, by its signatures
/// (`head`: its first bytes, up to [`crate::image::source::WRAPPER_SNIFF`]).
pub fn image_kind(path: &Path, head: &[u8]) -> Option<Kind> {
    if crate::image::wim::is_wim(head) || crate::image::source::wrapper(head).is_some() {
        return Some(Kind::Image);
    }
    crate::image::container::detect(path).map(|_| Kind::Image)
}

/// The kind of file at `path`, by its first bytes; a URL is an image.
pub fn sniff(path: &str) -> Kind {
    if crate::image::source::is_url(path) {
        return Kind::Image;
    }
    let mut head = [0u8; crate::image::source::WRAPPER_SNIFF];
    // A pipe is not read here: its bytes can be read only once, by `open`.
    let read = crate::fsio::open(Path::new(path)).and_then(|(mut f, kind)| match kind {
        k if k.seekable() => crate::fsio::read_up_to(&mut f, &mut head),
        _ => Err(std::io::Error::other("a stream")),
    });
    match read {
        Ok(n) if n >= 4 && is_hive(&head[..n]) => Kind::Hive,
        Ok(n) if n >= 8 && path != "-" && image_kind(Path::new(path), &head[..n]).is_some() => {
            Kind::Image
        }
        _ => Kind::Reg,
    }
}

/// The keys of SOFTWARE (paths below its root) whose values every reader
/// reads: the OS version and the products TLS 1.2 depends on.
pub fn always_read_software_keys() -> Vec<Vec<String>> {
    std::iter::once(&crate::registry::os::CURRENT_VERSION_KEY[..])
        .chain(crate::registry::product::VALUE_KEYS)
        .map(|k| k.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// A SOFTWARE hive's layer: the OS version and the keys an audit reads,
/// mounted at `HKEY_LOCAL_MACHINE\SOFTWARE`.
fn software_layer(name: &str, bytes: &[u8], options: &Options) -> Result<Layer, InputError> {
    let fail = |e: HiveError| InputError {
        path: name.to_owned(),
        kind: e.into(),
    };
    let mut keys = always_read_software_keys();
    keys.extend(options.software_keys.iter().cloned());
    let mut diagnostics = Vec::new();
    let (hive, dirty) = open_maybe_dirty(bytes).map_err(fail)?;
    if dirty {
        diagnostics.push(note(
            "dirty-hive",
            Severity::Warning,
            format!("{name}: the SOFTWARE hive is dirty and was read as it is; recent changes may be missing"),
        ));
    }
    let listings = match options.software_packages.is_empty() {
        true => Vec::new(),
        false => vec![hive::Listing {
            key: crate::registry::product::PACKAGES_KEY
                .iter()
                .map(|s| s.to_string())
                .collect(),
            holding: options.software_packages.clone(),
        }],
    };
    let view = hive::read(bytes, &hive, &Scope::Values(keys, listings)).map_err(fail)?;
    diagnostics.extend(view.diagnostics);
    Ok(Layer {
        source: Source {
            role: Role::Software,
            name: name.to_owned(),
            kind: Kind::Hive,
            detail: format!("SOFTWARE hive, root key {}", view.root_name),
        },
        diagnostics,
        content: Content::Tree(view.root),
    })
}

/// One thing an input holds that is audited on its own: the input itself,
/// or one Windows installation in a disk image.
pub struct Target {
    pub name: String,
    pub kind: Kind,
    pub loaded: Result<Loaded, InputError>,
}

/// Loads `input` as one target, or a disk image as one target per Windows
/// installation on it, each with `applied` on top.
pub fn load_targets(found: &discover::Input, applied: &[String], options: &Options) -> Vec<Target> {
    let input = found.path.as_str();
    let kind = if input == "-" {
        Kind::Reg
    } else {
        sniff(input)
    };
    if kind != Kind::Image {
        let loaded = load_beside(
            Some(input),
            found.logs.as_deref(),
            found.software.as_deref(),
            applied,
            options,
        );
        // An input that cannot be opened was never read: no kind is claimed.
        let kind = match &loaded {
            Err(e)
                if input != "-"
                    && e.path == input
                    && matches!(e.kind, ErrorKind::Io(_))
                    && crate::fsio::open(Path::new(input)).is_err() =>
            {
                Kind::Unknown
            }
            _ => kind,
        };
        return vec![Target {
            name: input.to_owned(),
            kind,
            loaded,
        }];
    }
    let mut head = [0u8; 8];
    if !crate::image::source::is_url(input)
        && crate::fsio::open(Path::new(input))
            .and_then(|(mut f, _)| f.read_exact(&mut head))
            .is_ok()
        && crate::image::wim::is_wim(&head)
    {
        return load_wim(input, applied, options);
    }
    let shown = crate::image::source::display_name(input);
    let fail = |kind: ErrorKind| {
        vec![Target {
            name: shown.clone(),
            kind: Kind::Image,
            loaded: Err(InputError {
                path: shown.clone(),
                kind,
            }),
        }]
    };
    let disks = match crate::image::source::open_input(input).and_then(crate::image::source::disks)
    {
        Ok(d) => d,
        Err(e) => return fail(crate::image::container::ContainerError::from(e).into()),
    };
    let mut targets = Vec::new();
    for disk in disks {
        targets.extend(load_disk(&disk, applied, options));
    }
    targets
}

/// One target per Windows installation on a disk.
fn load_disk(
    disk: &crate::image::source::Source,
    applied: &[String],
    options: &Options,
) -> Vec<Target> {
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
        Err(e) => return fail(e.into()),
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
fn image_name(format: crate::image::container::Format) -> String {
    let f = format.to_string();
    match f.ends_with("image") {
        true => f,
        false => format!("{f} image"),
    }
}

/// What an image holds for one installation.
struct Found<'a> {
    /// `VHDX image, GPT partition 3 (...), Windows\System32\config\SYSTEM`.
    from: String,
    system: &'a [u8],
    logs: Vec<LogBytes<'a>>,
    software: Option<&'a [u8]>,
    notes: Vec<String>,
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

/// Every image of a WIM, each a target.
fn load_wim(input: &str, applied: &[String], options: &Options) -> Vec<Target> {
    use crate::image::wim::{Reader, Wim, read_file_or_wimlib_max};
    let fail = |name: String, kind: ErrorKind| Target {
        name,
        kind: Kind::Image,
        loaded: Err(InputError {
            path: input.to_owned(),
            kind,
        }),
    };
    let wim = match Wim::open(input) {
        Ok(w) => w,
        Err(e) => return vec![fail(input.to_owned(), e.into())],
    };
    let config = ["Windows", "System32", "config"];
    let read = |index: u32, file: &str, max: u64| {
        let path: Vec<&str> = config.iter().copied().chain([file]).collect();
        read_file_or_wimlib_max(Path::new(input), index, &path, max)
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

fn load_found(
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
        let mut layer = match open(file)? {
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
