//! Finding inputs in folders: every file is judged by its first bytes, never
//! by its name, and what is not an input is skipped with a reason.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Kind;

/// What walking the arguments found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The inputs, in a stable order: arguments in order, folders sorted.
    pub inputs: Vec<String>,
    /// Files passed over, with why (for `-v`).
    pub skipped: Vec<(String, String)>,
}

/// What a file is, or why it is not an input.
pub fn classify(path: &Path) -> Result<Kind, String> {
    let mut head = [0u8; 512];
    let n = File::open(path)
        .and_then(|mut f| read_up_to(&mut f, &mut head))
        .map_err(|e| format!("cannot be read: {e}"))?;
    let head = &head[..n];
    if head.starts_with(b"regf") {
        let file_type = head
            .get(28..32)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        return match file_type {
            Some(0) => match super::hive::looks_like_system(path) {
                Ok(true) => Ok(Kind::Hive),
                Ok(false) => Err("a hive, but not a SYSTEM hive".into()),
                Err(e) => Err(e),
            },
            _ => Err("a hive's transaction log (read with its hive)".into()),
        };
    }
    if is_reg_header(head) {
        return Ok(Kind::Reg);
    }
    if let Some(kind) = crate::input::image_kind(path, head) {
        return Ok(kind);
    }
    Err("not a .reg file, a hive or a disk image".into())
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
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
/// audit then says why); a folder is searched recursively, and only what
/// `classify` accepts is kept. Links to folders are not followed, so a loop
/// of links cannot hang the walk.
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

fn walk(dir: &Path, found: &mut Discovered) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            found.skipped.push((
                dir.display().to_string(),
                format!("folder cannot be read: {e}"),
            ));
            return;
        }
    };
    entries.sort();
    for path in entries {
        let shown = path.display().to_string();
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(e) => {
                found.skipped.push((shown, format!("cannot be read: {e}")));
                continue;
            }
        };
        if meta.is_dir() {
            walk(&path, found);
        } else if meta.file_type().is_symlink() && path.is_dir() {
            found
                .skipped
                .push((shown, "a link to a folder (not followed)".into()));
        } else {
            match classify(&path) {
                Ok(_) => found.inputs.push(shown),
                Err(why) => found.skipped.push((shown, why)),
            }
        }
    }
}
