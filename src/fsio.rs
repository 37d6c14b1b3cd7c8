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
    let t = meta.file_type();
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
pub fn open(path: &Path) -> io::Result<(File, FileKind)> {
    let file = open_raw(path)?;
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
