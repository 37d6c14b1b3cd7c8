//! Hive files as layers: a SYSTEM hive (replayed from its logs when dirty)
//! and the SOFTWARE hive read beside it.

use std::path::Path;

use super::bytes::{LogBytes, LogData, copy_on_write, map_or_read};
use super::combine::{Content, Layer};
use super::hive::{self, HiveError, Scope};
use super::{InputError, Kind, Options, Role, Source, folder, note};
use crate::registry::{Diagnostic, Severity};

/// What replay did, in one line: `replayed 4 log entries from SYSTEM.LOG1, SYSTEM.LOG2`.
pub(super) fn replayed(r: &crate::hive::log::Recovered) -> String {
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
pub(super) fn hive_layer(
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
pub(super) fn open_maybe_dirty(bytes: &[u8]) -> Result<(nt_hive::Hive<&[u8]>, bool), HiveError> {
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
pub(super) fn check_size(bytes: &[u8]) -> Result<(), HiveError> {
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
pub(super) fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The warning for a SOFTWARE hive found beside SYSTEM that could not be
/// read: the SYSTEM verdict stands, the OS is unknown.
pub(super) fn software_unread(e: &InputError) -> Diagnostic {
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
pub(super) const MAX_LOOSE_HIVE: u64 = 192 << 20;

/// The transaction logs beside a hive file of `hive_len` bytes
/// (`SYSTEM.LOG1`, `SYSTEM.LOG2`, `SYSTEM.LOG`, any case), mapped, each used
/// up to the cap for its hive; and a warning for each that cannot be read.
/// `known` are the logs a folder walk found; without them the folder is
/// listed here.
pub(super) fn sibling_logs(
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
pub(super) fn software_layer(
    name: &str,
    bytes: &[u8],
    options: &Options,
) -> Result<Layer, InputError> {
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
