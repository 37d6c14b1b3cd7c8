//! Finding inputs in folders: every file is judged by its first bytes, never
//! by its name, and what is not an input is accounted for with a reason.
//!
//! A fleet report that drops a machine and says "all compliant" has failed,
//! so the walk keeps no file back silently: each one is an input (audited,
//! or an ERROR when it looks like a hive but cannot be read) or a
//! [`Skipped`] entry that the report lists. Only regular files are opened
//! for their bytes, and without blocking: a FIFO or a device in a folder is
//! named, never read.

use std::path::{Path, PathBuf};

use super::Kind;
use crate::fsio::FileKind;

/// What walking the arguments found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The inputs, in a stable order: arguments in order, folders sorted.
    pub inputs: Vec<String>,
    /// Files and folders passed over, with why, in the same order.
    pub skipped: Vec<Skipped>,
    /// Folders and entries that could not be looked at, with why: what they
    /// hold is unknown, so a run that met one cannot pass (ERROR).
    pub unreadable: Vec<(String, String)>,
}

/// A file (or folder) the walk found and did not audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
    /// Whether it is worth a line in every report: registry files read
    /// another way (logs, other hives), or files that could not be looked at.
    /// Plain other files (notes, pictures) are counted, and listed with `-v`.
    pub notable: bool,
}

/// Why a file found in a folder is not audited on its own.
enum Pass {
    /// Not registry data at all.
    Other(String),
    /// Worth naming in every report.
    Notable(String),
}

/// What a file found in a folder is, or why it is not audited on its own.
/// The file is opened once, without blocking and only when it is regular.
fn classify(path: &Path) -> Result<Kind, Pass> {
    let (mut file, kind) = match crate::fsio::open(path) {
        Ok(opened) => opened,
        // Unreadable bytes may be a machine's hive: an ERROR input says so
        // with the reason, where a skip would hide it.
        Err(_) => return Ok(Kind::Hive),
    };
    if kind != FileKind::Regular {
        return Err(Pass::Notable(format!(
            "{} (only regular files are read in a folder)",
            kind.describe()
        )));
    }
    let mut head = [0u8; 512];
    let n = match crate::fsio::read_up_to(&mut file, &mut head) {
        Ok(n) => n,
        Err(_) => return Ok(Kind::Hive),
    };
    let head = &head[..n];
    if super::is_hive(head) {
        return classify_hive(path, head);
    }
    if is_reg_header(head) {
        return Ok(Kind::Reg);
    }
    if let Some(kind) = crate::input::image_kind(path, head) {
        return Ok(kind);
    }
    Err(Pass::Other(
        "not a .reg file, a hive or a disk image".into(),
    ))
}

/// A file that starts with `regf`: a primary hive, or a transaction log
/// (recognised by its name beside its hive, never by failing to open).
fn classify_hive(path: &Path, head: &[u8]) -> Result<Kind, Pass> {
    if let Some(hive) = log_of(path) {
        return Err(Pass::Notable(format!(
            "the transaction log of {hive} (read with its hive)"
        )));
    }
    // Anything else that says regf is a machine until proven otherwise: a
    // log without its hive, a cut copy or a damaged base block is an ERROR
    // input whose message says what is wrong, not a skipped file.
    let file_type = head
        .get(28..32)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if file_type != Some(0) || head.len() < 512 {
        return Ok(Kind::Hive);
    }
    match super::hive::looks_like_system(path) {
        Ok(false) => Err(Pass::Notable(
            "a hive, but not a SYSTEM hive (it holds no control set)".into(),
        )),
        Ok(true) | Err(_) => Ok(Kind::Hive),
    }
}

/// The hive a file named like its log (`SYSTEM.LOG1`, `SYSTEM.LOG2`,
/// `SYSTEM.LOG`, any case) belongs to, when that hive is beside it.
fn log_of(path: &Path) -> Option<String> {
    let file = path.file_name()?;
    let stem = crate::hive::log::hive_name_of(file.to_str()?)?;
    if path.with_file_name(stem).symlink_metadata().is_ok() {
        return Some(stem.to_owned());
    }
    // Logs are matched to their hive in any case (`system.log1` beside
    // `SYSTEM`), by the rule of the reader that replays them.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .find(|hive| crate::hive::log::is_log_of(hive, file))
        .map(|hive| hive.to_string_lossy().into_owned())
}

/// Whether `head` starts like a `.reg` file in any encoding regedit reads.
fn is_reg_header(head: &[u8]) -> bool {
    const HEADERS: [&str; 2] = ["Windows Registry Editor", "REGEDIT"];
    if let Some(body) = head.strip_prefix(&[0xFF, 0xFE]) {
        let text: String = char::decode_utf16(
            body.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]])),
        )
        .map(|c| c.unwrap_or('\u{FFFD}'))
        .collect();
        return HEADERS
            .iter()
            .any(|h| text.trim_start_matches([' ', '\t']).starts_with(h));
    }
    let body = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = body
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(body.len());
    HEADERS
        .iter()
        .any(|h| body[start..].starts_with(h.as_bytes()))
}

/// Walks `args`: a file is an input as given (even if it is not one: the
/// audit then says why); a folder is searched, and only what `classify`
/// accepts is kept. Links to folders are not followed, so a loop of links
/// cannot hang the walk; the walk keeps its own stack, so no depth of
/// folders can exhaust the thread's.
pub fn discover(args: &[String]) -> Discovered {
    let mut found = Discovered::default();
    for arg in args {
        let path = Path::new(arg);
        if path.is_dir() {
            walk(path, &mut found);
        } else {
            found.inputs.push(arg.clone());
        }
    }
    found
}

fn walk(top: &Path, found: &mut Discovered) {
    // Each open folder's sorted entries, with the next one to look at: the
    // order is the sorted depth-first one a recursive walk gives.
    let mut stack: Vec<std::vec::IntoIter<PathBuf>> = Vec::new();
    if let Some(entries) = read_sorted(top, found) {
        stack.push(entries);
    }
    while let Some(entries) = stack.last_mut() {
        let Some(path) = entries.next() else {
            stack.pop();
            continue;
        };
        let shown = path.display().to_string();
        let skip = |reason: String, notable: bool| Skipped {
            path: shown.clone(),
            reason,
            notable,
        };
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(e) => {
                found
                    .unreadable
                    .push((shown, format!("cannot be read: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            if let Some(entries) = read_sorted(&path, found) {
                stack.push(entries);
            }
            continue;
        }
        if meta.file_type().is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    found
                        .skipped
                        .push(skip("a link to a folder (not followed)".into(), true));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    found
                        .skipped
                        .push(skip(format!("a broken link: {e}"), true));
                    continue;
                }
            }
        }
        match classify(&path) {
            Ok(_) => found.inputs.push(shown),
            Err(Pass::Notable(why)) => found.skipped.push(skip(why, true)),
            Err(Pass::Other(why)) => found.skipped.push(skip(why, false)),
        }
    }
}

/// A folder's entries, sorted; an unreadable folder is accounted for.
fn read_sorted(dir: &Path, found: &mut Discovered) -> Option<std::vec::IntoIter<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            Some(entries.into_iter())
        }
        Err(e) => {
            found.unreadable.push((
                dir.display().to_string(),
                format!("the folder cannot be read: {e}"),
            ));
            None
        }
    }
}
