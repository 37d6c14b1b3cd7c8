//! One folder, listed once: the names and kinds of its entries, sorted, and
//! the lookups that find a file's neighbours (a hive's transaction logs, the
//! hive a log belongs to) in that listing instead of reading the folder
//! again. A flat share of 10,000 hives is then listed once, not once per
//! hive, so the work grows with the number of files, not its square.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::fsio::{self, FileKind};
use crate::hive::log::LOG_SUFFIXES;

/// What the listing says an entry is. File systems give the kind with the
/// name (`d_type`), so no `stat` is needed to tell a file from a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    /// A FIFO, a device or a socket.
    Special(FileKind),
    /// The listing could not tell.
    Unknown,
}

#[derive(Debug)]
pub struct Entry {
    pub name: OsString,
    pub kind: EntryKind,
}

/// A folder's entries, sorted by name (bytes), as read by one listing.
#[derive(Debug)]
pub struct Folder {
    dir: PathBuf,
    entries: Vec<Entry>,
    /// The names folded to ASCII upper case with their index, sorted: the
    /// any-case lookups, built on the first one (most folders need none).
    folded: OnceLock<Vec<(Box<[u8]>, u32)>>,
    /// Entries the listing could not read: how many, and the first error.
    unread: Option<(usize, io::Error)>,
}

fn fold(name: &[u8]) -> Box<[u8]> {
    name.to_ascii_uppercase().into_boxed_slice()
}

/// The kind the listing gives (`d_type`; where a file system gives none,
/// std asks `lstat`, and the kind is still that of the entry itself).
fn kind_of_entry(e: &std::fs::DirEntry) -> EntryKind {
    match e.file_type() {
        Ok(t) => EntryKind::of_type(t),
        Err(_) => EntryKind::Unknown,
    }
}

impl EntryKind {
    /// What `lstat` says an entry is.
    pub fn of(meta: &std::fs::Metadata) -> EntryKind {
        EntryKind::of_type(meta.file_type())
    }

    fn of_type(t: std::fs::FileType) -> EntryKind {
        if t.is_symlink() {
            return EntryKind::Symlink;
        }
        match fsio::kind_of_type(t) {
            FileKind::Regular => EntryKind::File,
            FileKind::Directory => EntryKind::Dir,
            k => EntryKind::Special(k),
        }
    }
}

impl Folder {
    /// Lists `dir` once. An entry that vanishes while it is listed is left
    /// out, as it would be by a listing a moment later.
    pub fn read(dir: &Path) -> io::Result<Folder> {
        let mut unread = None;
        let mut entries: Vec<Entry> = std::fs::read_dir(dir)?
            .filter_map(|e| match e {
                Ok(e) => Some(e),
                Err(e) => {
                    unread.get_or_insert((0, e)).0 += 1;
                    None
                }
            })
            .map(|e| Entry {
                kind: kind_of_entry(&e),
                name: e.file_name(),
            })
            .collect();
        fsio::count::dir_read(entries.len());
        entries.sort_unstable_by(|a, b| a.name.as_encoded_bytes().cmp(b.name.as_encoded_bytes()));
        Ok(Folder {
            dir: dir.to_path_buf(),
            entries,
            folded: OnceLock::new(),
            unread,
        })
    }

    /// The folder holding `path` (`.` for a bare name), listed.
    pub fn of(path: &Path) -> io::Result<Folder> {
        Folder::read(parent(path))
    }

    /// Entries the listing could not read (what they are is unknown): how
    /// many, and the first error.
    pub fn unread(&self) -> Option<&(usize, io::Error)> {
        self.unread.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The path of entry `i`, as `read_dir` would give it.
    pub fn path(&self, i: usize) -> PathBuf {
        self.dir.join(&self.entries[i].name)
    }

    /// The entries named `name` in any (ASCII) case, in name order.
    fn any_case(&self, name: &[u8]) -> impl Iterator<Item = &Entry> {
        let folded = self.folded.get_or_init(|| {
            let mut v: Vec<(Box<[u8]>, u32)> = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (fold(e.name.as_encoded_bytes()), i as u32))
                .collect();
            v.sort_unstable();
            v
        });
        let key = fold(name);
        let start = folded.partition_point(|(k, _)| **k < *key);
        folded[start..]
            .iter()
            .take_while(move |(k, _)| **k == *key)
            .map(|&(_, i)| &self.entries[i as usize])
    }

    /// Whether the entry is a regular file, following a link (one `stat`,
    /// only for links and entries the listing could not type).
    fn is_file(&self, e: &Entry) -> bool {
        match e.kind {
            EntryKind::File => true,
            EntryKind::Symlink | EntryKind::Unknown => {
                fsio::stat(&self.dir.join(&e.name)).is_ok_and(|m| m.is_file())
            }
            _ => false,
        }
    }

    /// The regular file named `name` in any (ASCII) case, preferring one
    /// whose name starts as `spelled` does (beside `system` and `SYSTEM`,
    /// `system.log1` goes with `system`); else the first in name order.
    fn file_any_case(&self, name: &[u8], spelled: &[u8]) -> Option<&Entry> {
        let files: Vec<&Entry> = self.any_case(name).filter(|e| self.is_file(e)).collect();
        let alike = files
            .iter()
            .find(|e| e.name.as_encoded_bytes().starts_with(spelled));
        alike.or(files.first()).copied()
    }

    /// The transaction logs Windows keeps beside the hive named `hive`:
    /// `<name>.LOG1`, `<name>.LOG2` and the old single `<name>.LOG`, in that
    /// order, in any case (Windows writes `SYSTEM.LOG1`; copies made by other
    /// tools may say `system.log1`); for each, the first regular file in
    /// name order. Missing ones are left out.
    pub fn logs_of(&self, hive: &OsStr) -> Vec<PathBuf> {
        let hive = hive.as_encoded_bytes();
        LOG_SUFFIXES
            .iter()
            .filter_map(|suffix| {
                let name = [hive, suffix.as_bytes()].concat();
                self.file_any_case(&name, hive)
                    .map(|e| self.dir.join(&e.name))
            })
            .collect()
    }

    /// The hive a file named like a log (`SYSTEM.LOG1`, `system.log2`,
    /// `SYSTEM.LOG`) belongs to, as spelled in this folder, when it is here:
    /// its own spelling first, else any case, by the rule of the reader
    /// that replays logs. Only a file can be a hive: beside a folder named
    /// `SYSTEM`, a `SYSTEM.LOG1` is an input of its own (an ERROR that says
    /// why).
    pub fn hive_of_log(&self, log: &OsStr) -> Option<String> {
        let stem = crate::hive::log::hive_name_of(log.to_str()?)?;
        self.file_any_case(stem.as_bytes(), stem.as_bytes())
            .map(|e| e.name.to_string_lossy().into_owned())
    }

    /// Whether a regular file named `name` (any ASCII case) is here.
    pub fn has_file(&self, name: &str) -> bool {
        self.file_any_case(name.as_bytes(), name.as_bytes())
            .is_some()
    }

    /// The SOFTWARE hive beside the SYSTEM hive named `system`: the name
    /// with `SYSTEM` at its start read as `SOFTWARE` (`SOFTWARE` beside
    /// `SYSTEM`, `software-host01` beside `SYSTEM-host01`), in any case,
    /// when it is a regular file.
    pub fn software_of(&self, system: &OsStr) -> Option<PathBuf> {
        self.partner(system, b"SYSTEM", b"SOFTWARE")
            .map(|e| self.dir.join(&e.name))
    }

    /// The SYSTEM hive a file named like a SOFTWARE hive goes with, as
    /// spelled here, by the rule of [`Folder::software_of`].
    pub fn system_of_software(&self, software: &OsStr) -> Option<String> {
        self.partner(software, b"SOFTWARE", b"SYSTEM")
            .map(|e| e.name.to_string_lossy().into_owned())
    }

    /// The file named as `name` with its leading `from` (any case) read as
    /// `to`.
    fn partner(&self, name: &OsStr, from: &[u8], to: &[u8]) -> Option<&Entry> {
        let name = name.as_encoded_bytes();
        let head = name.get(..from.len())?;
        if !head.eq_ignore_ascii_case(from) {
            return None;
        }
        self.file_any_case(&[to, &name[from.len()..]].concat(), b"")
    }
}

/// The folder a path is in, `.` for a bare name.
pub fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The transaction logs beside the hive file at `hive_path` (see
/// [`Folder::logs_of`]), from one listing of its folder.
pub fn sibling_logs(hive_path: &Path) -> Vec<PathBuf> {
    let Some(name) = hive_path.file_name() else {
        return Vec::new();
    };
    match Folder::of(hive_path) {
        Ok(folder) => folder.logs_of(name),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_in_order_and_any_case() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "SYSTEM",
            "system.log2",
            "SYSTEM.LOG1",
            "SYSTEM.LOG",
            "SYSTEM.LOG3",
            "SYSTEM.sav",
            "SOFTWARE.LOG1",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("SYSTEM.LOGS")).unwrap();
        // A folder named like a log sorts first but is not a file (where
        // names differ by case: on Windows it would be `SYSTEM.LOG` itself).
        if case_sensitive(dir.path()) {
            std::fs::create_dir(dir.path().join("System.Log")).unwrap();
        }
        let names: Vec<String> = sibling_logs(&dir.path().join("SYSTEM"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["SYSTEM.LOG1", "system.log2", "SYSTEM.LOG"]);
        assert!(sibling_logs(&dir.path().join("missing-dir").join("SYSTEM")).is_empty());
        let folder = Folder::read(dir.path()).unwrap();
        assert_eq!(
            folder.hive_of_log(OsStr::new("system.log2")).as_deref(),
            Some("SYSTEM")
        );
        assert_eq!(
            folder.hive_of_log(OsStr::new("SOFTWARE.LOG1")).as_deref(),
            None
        );
        assert_eq!(folder.hive_of_log(OsStr::new("SYSTEM")), None);
    }

    #[test]
    fn software_beside_system_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "SYSTEM",
            "software",
            "SYSTEM-host01",
            "SOFTWARE-HOST01",
            "SYSTEM-host02",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("SOFTWARE-host02")).unwrap();
        let folder = Folder::read(dir.path()).unwrap();
        let name = |p: Option<PathBuf>| p.map(|p| p.file_name().unwrap().to_owned());
        assert_eq!(
            name(folder.software_of(OsStr::new("SYSTEM"))).unwrap(),
            "software"
        );
        assert_eq!(
            name(folder.software_of(OsStr::new("SYSTEM-host01"))).unwrap(),
            "SOFTWARE-HOST01"
        );
        assert_eq!(
            folder.software_of(OsStr::new("SYSTEM-host02")),
            None,
            "a folder"
        );
        assert_eq!(folder.software_of(OsStr::new("SYS")), None);
        assert_eq!(
            folder
                .system_of_software(OsStr::new("SOFTWARE-HOST01"))
                .as_deref(),
            Some("SYSTEM-host01")
        );
        assert_eq!(folder.system_of_software(OsStr::new("SOFTWARE-x")), None);
    }

    /// Whether `dir` tells names apart by case (Linux, not Windows or Wine).
    fn case_sensitive(dir: &Path) -> bool {
        let probe = dir.join("case-probe");
        std::fs::write(&probe, b"").unwrap();
        let sensitive = !dir.join("CASE-PROBE").exists();
        std::fs::remove_file(probe).unwrap();
        sensitive
    }

    /// Hives whose names differ only in case each get their own logs, and
    /// a folder named like a hive owns no log. Only where a folder can hold
    /// such names: on Windows `system` is `SYSTEM`, tested above.
    #[test]
    fn logs_go_with_the_hive_spelled_alike() {
        let dir = tempfile::tempdir().unwrap();
        if !case_sensitive(dir.path()) {
            println!("skipped: names that differ only in case are one file here");
            return;
        }
        for name in [
            "SYSTEM",
            "SYSTEM.LOG1",
            "system",
            "system.log1",
            "OTHER.LOG1",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        std::fs::create_dir(dir.path().join("OTHER")).unwrap();
        let folder = Folder::read(dir.path()).unwrap();
        let names = |hive: &str| -> Vec<String> {
            folder
                .logs_of(OsStr::new(hive))
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names("SYSTEM"), ["SYSTEM.LOG1"]);
        assert_eq!(names("system"), ["system.log1"]);
        assert_eq!(
            folder.hive_of_log(OsStr::new("system.log1")).as_deref(),
            Some("system")
        );
        assert_eq!(
            folder.hive_of_log(OsStr::new("OTHER.LOG1")),
            None,
            "a folder"
        );
        assert!(folder.unread().is_none());
    }

    #[test]
    fn one_listing_however_many_lookups() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..50 {
            std::fs::write(dir.path().join(format!("SYSTEM-{i:02}")), b"").unwrap();
            std::fs::write(dir.path().join(format!("SYSTEM-{i:02}.LOG1")), b"").unwrap();
        }
        let folder = Folder::read(dir.path()).unwrap();
        for i in 0..50 {
            let logs = folder.logs_of(OsStr::new(&format!("SYSTEM-{i:02}")));
            assert_eq!(logs.len(), 1);
        }
        let names: Vec<&OsStr> = folder
            .entries()
            .iter()
            .map(|e| e.name.as_os_str())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
