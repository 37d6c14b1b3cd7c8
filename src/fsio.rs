//! Opening the files tlsreg reads: read-only, never blocking on open, and
//! without changing their access times (inputs are often evidence).
//!
//! Every reader that opens an input by name goes through [`open`], so a FIFO
//! in a folder cannot hang a fleet run and a device is named for what it is.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What an opened path is, from `fstat` on the opened file (not the name,
/// which may have been replaced in between).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    /// A named pipe, or the pipe behind `<(command)` or standard input.
    Fifo,
    CharDevice,
    /// A disk (`/dev/sdb`): read like a raw image when named on purpose.
    BlockDevice,
    Socket,
    Other,
}

impl FileKind {
    /// `a FIFO`, `a character device`: for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a folder",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        }
    }

    /// Whether the bytes can be read at any offset (a file or a disk).
    pub fn seekable(self) -> bool {
        matches!(self, FileKind::Regular | FileKind::BlockDevice)
    }
}

/// What `meta` says a file is.
pub fn kind_of(meta: &std::fs::Metadata) -> FileKind {
    kind_of_type(meta.file_type())
}

/// What a file type is (a link is `Other`: `lstat` and listings give them).
pub fn kind_of_type(t: std::fs::FileType) -> FileKind {
    if t.is_file() {
        return FileKind::Regular;
    }
    if t.is_dir() {
        return FileKind::Directory;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return FileKind::Fifo;
        }
        if t.is_char_device() {
            return FileKind::CharDevice;
        }
        if t.is_block_device() {
            return FileKind::BlockDevice;
        }
        if t.is_socket() {
            return FileKind::Socket;
        }
    }
    FileKind::Other
}

/// Opens `path` for reading without blocking (a FIFO with no writer opens at
/// once) and, where the system allows it, without updating its access time.
/// A FIFO or device comes back in blocking mode, ready to be read as a
/// stream; a folder is opened but not readable, and the kind says so.
/// What tells two names of one file apart from two files, hard links
/// included: device and inode on Unix, volume and file index on Windows.
#[derive(Debug, PartialEq, Eq)]
pub struct FileId(#[cfg(unix)] (u64, u64), #[cfg(windows)] same_file::Handle);

/// The identity of the file at `path`; `None` when it cannot be had (no
/// such file, or a system without one). On Unix it is a `stat`, which never
/// blocks; on Windows the file is opened for no access, as `same-file` does.
pub fn file_id(path: &Path) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        stat(path).ok().map(|m| FileId((m.dev(), m.ino())))
    }
    #[cfg(windows)]
    {
        same_file::Handle::from_path(path).ok().map(FileId)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = path;
        None
    }
}

/// An I/O error in the same words on every system, for the common kinds: a
/// report of a fleet read on Linux and one read on Windows must say the same
/// thing of a missing file (tlsreg merge compares them, people diff them).
/// Other errors keep the system's own words and code.
pub fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or folder".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

pub fn open(path: &Path) -> io::Result<(File, FileKind)> {
    count::open();
    let file = open_raw(path)?;
    count::stat();
    let kind = kind_of(&file.metadata()?);
    #[cfg(unix)]
    if matches!(kind, FileKind::Fifo | FileKind::CharDevice) {
        set_blocking(&file)?;
    }
    Ok((file, kind))
}

#[cfg(unix)]
fn open_raw(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let with = |flags: i32| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // O_NOATIME is refused (EPERM) on files the caller does not own
        // unless it is root; then the file is opened without it.
        match with(libc::O_NONBLOCK | libc::O_NOATIME) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => with(libc::O_NONBLOCK),
            other => other,
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    with(libc::O_NONBLOCK)
}

#[cfg(not(unix))]
fn open_raw(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Clears `O_NONBLOCK`, which was only wanted for the open itself: a pipe
/// is then read like any stream (and ends when its writer closes it).
#[cfg(unix)]
fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor this function borrows.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `fstat` on an open file (counted, like every file system call tlsreg makes
/// for an input).
pub fn metadata(file: &File) -> io::Result<std::fs::Metadata> {
    count::stat();
    file.metadata()
}

/// `stat` of a path, following links (counted).
pub fn stat(path: &Path) -> io::Result<std::fs::Metadata> {
    count::stat();
    std::fs::metadata(path)
}

/// `lstat` of a path: a link itself, not what it names (counted).
pub fn lstat(path: &Path) -> io::Result<std::fs::Metadata> {
    count::stat();
    std::fs::symlink_metadata(path)
}

/// Counts of the file system calls made for inputs: how a test shows that a
/// folder of N files costs work linear in N (no per-file folder scans)
/// without timing anything. The counters are process-wide and cheap (one
/// relaxed atomic add per call); debug builds print them on exit when
/// `TLSREG_DEBUG_IO_COUNTS` is set.
pub mod count {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    static OPENS: AtomicU64 = AtomicU64::new(0);
    static STATS: AtomicU64 = AtomicU64::new(0);
    static DIR_READS: AtomicU64 = AtomicU64::new(0);
    static DIR_ENTRIES: AtomicU64 = AtomicU64::new(0);

    /// What was counted so far.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Counts {
        /// Files opened.
        pub opens: u64,
        /// `stat`, `lstat` and `fstat` calls, and entry types the listing
        /// did not give (an upper bound: most file systems give them).
        pub stats: u64,
        /// Folders listed (each `read_dir`, however many `getdents` it takes).
        pub dir_reads: u64,
        /// Entries those listings held.
        pub dir_entries: u64,
    }

    pub fn now() -> Counts {
        Counts {
            opens: OPENS.load(Relaxed),
            stats: STATS.load(Relaxed),
            dir_reads: DIR_READS.load(Relaxed),
            dir_entries: DIR_ENTRIES.load(Relaxed),
        }
    }

    pub(crate) fn open() {
        OPENS.fetch_add(1, Relaxed);
    }

    pub(crate) fn stat() {
        STATS.fetch_add(1, Relaxed);
    }

    pub(crate) fn dir_read(entries: usize) {
        DIR_READS.fetch_add(1, Relaxed);
        DIR_ENTRIES.fetch_add(entries as u64, Relaxed);
    }
}

/// Reads up to `buf.len()` bytes, fewer only at the end of the stream.
pub fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a whole stream that must fit in memory (a hive from a pipe, a
/// policy file), refusing one longer than `cap` bytes instead of growing
/// without bound (`/dev/zero` never ends).
pub fn read_capped(reader: &mut impl Read, cap: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(cap + 1).read_to_end(&mut out)?;
    if out.len() as u64 > cap {
        return Err(io::Error::other(format!(
            "{what} is larger than {} MiB, more than tlsreg reads into memory",
            cap >> 20
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_capped_refuses_an_endless_stream() {
        let mut zeros = io::repeat(0);
        let e = read_capped(&mut zeros, 1 << 20, "the policy").unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let mut short: &[u8] = b"abc";
        assert_eq!(read_capped(&mut short, 3, "x").unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_opens_at_once_and_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path in a fresh temporary folder.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (mut f, kind) = open(&fifo).unwrap();
        assert_eq!(kind, FileKind::Fifo);
        // No writer: the read ends at once instead of waiting for one.
        let mut buf = [0u8; 4];
        assert_eq!(read_up_to(&mut f, &mut buf).unwrap(), 0);
        assert_eq!(open(dir.path()).unwrap().1, FileKind::Directory);
    }
}
