//! Finding inputs in folders: every file is judged by its first bytes, never
//! by its name, and what is not an input is accounted for with a reason.
//!
//! A fleet report that drops a machine and says "all compliant" has failed,
//! so the walk keeps no file back silently: each one is an input (audited,
//! or an ERROR when it looks like a hive but cannot be read) or a
//! [`Skipped`] entry that the report lists. Only regular files are opened
//! for their bytes, and without blocking: a FIFO or a device in a folder is
//! named, never read.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::folder::{EntryKind, Folder};
use crate::fsio::FileKind;

/// What walking the arguments found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The inputs, in a stable order: arguments in order, folders sorted.
    pub inputs: Vec<Input>,
    /// Files and folders passed over, with why, in the same order.
    pub skipped: Vec<Skipped>,
    /// Folders and entries that could not be looked at, with why: what they
    /// hold is unknown, so a run that met one cannot pass (ERROR).
    pub unreadable: Vec<(String, String)>,
}

/// One input to audit, with what the walk already knows of its neighbours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    pub path: String,
    /// The transaction logs beside a dirty hive, found in the listing the
    /// walk already made (so no folder is listed again per hive); `None`
    /// when the walk did not look (an argument, a clean hive, not a hive),
    /// and the reader looks for itself if it needs them.
    pub logs: Option<Box<[PathBuf]>>,
    /// The SOFTWARE hive beside a SYSTEM hive in a folder (`SOFTWARE` beside
    /// `SYSTEM`, `SOFTWARE-host01` beside `SYSTEM-host01`, any case): read
    /// with it for the OS version, as from a disk image.
    pub software: Option<PathBuf>,
}

impl Input {
    /// An input named on the command line: nothing known of it yet.
    pub fn given(path: &str) -> Input {
        Input {
            path: path.to_owned(),
            logs: None,
            software: None,
        }
    }
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

/// Whether a file found in a folder is an input, or why it is not audited
/// on its own; for a SYSTEM hive, what lies beside it in `folder` (see
/// [`Input`]). `path` is `name` in `folder`, `shown` how reports name it
/// (the walk has both already). The file is opened once, without blocking
/// and only when it is regular.
fn classify(folder: &Folder, name: &OsStr, path: &Path, shown: &str) -> Result<Input, Pass> {
    let given = || Input::given(shown);
    let (mut file, kind) = match crate::fsio::open(path) {
        Ok(opened) => opened,
        // Unreadable bytes may be a machine's hive: an ERROR input says so
        // with the reason, where a skip would hide it.
        Err(_) => return Ok(given()),
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
        Err(_) => return Ok(given()),
    };
    let head = &head[..n];
    if super::is_hive(head) {
        drop(file);
        return classify_hive(folder, name, path, head, given());
    }
    // A later segment of an EWF set is read with the first one (`.E01`),
    // which is the input. Without its first segment beside it, the set
    // cannot be read at all: then it is an input, whose ERROR says so.
    if let Some(n) = crate::image::source::ewf_segment_number(head).filter(|&n| n > 1) {
        let first = crate::image::source::ewf::first_segment_file(&name.to_string_lossy());
        if let Some(first) = first.filter(|f| folder.has_file(f)) {
            return Err(Pass::Notable(format!(
                "segment {n} of an EWF set, read with {first}"
            )));
        }
        return Ok(given());
    }
    // An OVA has its OVF first (the OVF standard says so); any other tar
    // in a folder is said and passed over, not an ERROR in every fleet
    // report: named on the command line, it is read as an OVA if its OVF
    // comes later.
    if crate::image::source::wrapper(head) == Some(crate::image::source::Wrapper::Tar) {
        return Err(Pass::Notable(
            "a tar archive whose first file is not an .ovf descriptor: not an OVA, not audited (name it as an INPUT if it is an OVA)"
                .into(),
        ));
    }
    if is_reg_header(head) || super::is_image(file, head) {
        return Ok(given());
    }
    // Named as a log beside its hive, but not one: said, since a damaged
    // log is worth a look (an empty one is the slot Windows leaves unused).
    if let Some(hive) = folder.hive_of_log(name) {
        return Err(Pass::Notable(match head.is_empty() {
            true => format!("the transaction log of {hive}, empty (an unused log slot)"),
            false => format!(
                "named as the transaction log of {hive}, but not one (no regf signature): not replayed"
            ),
        }));
    }
    Err(Pass::Other(
        "not a .reg file, a hive or a disk image".into(),
    ))
}

/// A file that starts with `regf`: a primary hive, or a transaction log
/// (recognised by its name beside its hive, never by failing to open). A
/// SYSTEM hive comes back as `input` with what lies beside it.
fn classify_hive(
    folder: &Folder,
    name: &OsStr,
    path: &Path,
    head: &[u8],
    input: Input,
) -> Result<Input, Pass> {
    if let Some(hive) = folder.hive_of_log(name) {
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
    let whole = file_type == Some(0) && head.len() >= 512;
    let system = match whole.then(|| super::hive::looks_like_system(path)) {
        Some(Ok(false)) => {
            return Err(Pass::Notable(match folder.system_of_software(name) {
                Some(system) => format!("the SOFTWARE hive of {system} (read with it)"),
                None => "a hive, but not a SYSTEM hive (it holds no control set)".into(),
            }));
        }
        Some(Ok(true) | Err(_)) => true,
        None => false,
    };
    // Only a dirty hive's logs are ever read: look them up now, in the
    // listing at hand.
    let logs = (system && crate::hive::log::needs_logs(head))
        .then(|| folder.logs_of(name).into_boxed_slice());
    let software = system.then(|| folder.software_of(name)).flatten();
    Ok(Input {
        logs,
        software,
        ..input
    })
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
/// folders can exhaust the thread's. Each folder is listed once, and its
/// files are looked up in that listing (a hive's logs, a log's hive): the
/// work grows with the number of files, whatever the layout.
pub fn discover(args: &[String]) -> Discovered {
    let mut found = Discovered::default();
    for arg in args {
        let path = Path::new(arg);
        if crate::fsio::stat(path).is_ok_and(|m| m.is_dir()) {
            walk(path, &mut found);
        } else {
            found.inputs.push(Input::given(arg));
        }
    }
    found
}

fn walk(top: &Path, found: &mut Discovered) {
    // Each open folder with the next entry to look at: the order is the
    // sorted depth-first one a recursive walk gives.
    let mut stack: Vec<(Folder, usize)> = Vec::new();
    if let Some(folder) = list(top, found) {
        stack.push((folder, 0));
    }
    while let Some((folder, next)) = stack.last_mut() {
        let Some(entry) = folder.entries().get(*next) else {
            stack.pop();
            continue;
        };
        *next += 1;
        let (name, mut kind) = (entry.name.clone(), entry.kind);
        let path = folder.dir().join(&name);
        let shown = path.display().to_string();
        let skip = |reason: String, notable: bool| Skipped {
            path: shown.clone(),
            reason,
            notable,
        };
        // The listing gives each entry's kind; a stat only where it cannot.
        if kind == EntryKind::Unknown {
            match crate::fsio::lstat(&path) {
                Ok(m) => kind = EntryKind::of(&m),
                Err(e) => {
                    found
                        .unreadable
                        .push((shown, format!("cannot be read: {e}")));
                    continue;
                }
            }
        }
        match kind {
            EntryKind::Dir => {
                if let Some(sub) = list(&path, found) {
                    stack.push((sub, 0));
                }
                continue;
            }
            EntryKind::Symlink => match crate::fsio::stat(&path) {
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
            },
            EntryKind::Special(k) => {
                found.skipped.push(skip(
                    format!("{} (only regular files are read in a folder)", k.describe()),
                    true,
                ));
                continue;
            }
            EntryKind::File | EntryKind::Unknown => {}
        }
        let Some((folder, _)) = stack.last() else {
            break;
        };
        match classify(folder, &name, &path, &shown) {
            Ok(input) => found.inputs.push(input),
            Err(Pass::Notable(why)) => found.skipped.push(skip(why, true)),
            Err(Pass::Other(why)) => found.skipped.push(skip(why, false)),
        }
    }
}

/// A folder, listed and sorted once; an unreadable folder is accounted for.
fn list(dir: &Path, found: &mut Discovered) -> Option<Folder> {
    match Folder::read(dir) {
        Ok(folder) => {
            // What a listing could not read may be a machine: an ERROR.
            if let Some((n, e)) = folder.unread() {
                found.unreadable.push((
                    dir.display().to_string(),
                    format!("{n} entries of the folder could not be read: {e}"),
                ));
            }
            Some(folder)
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
