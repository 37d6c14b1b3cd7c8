//! Random access to the bytes of a disk, whatever holds them.
//!
//! Every container (raw, VHD, VHDX, VMDK, qcow2) turns a file into a `Disk`;
//! partitions and file systems read through it. Reads are positioned and
//! take `&self`, so nothing is loaded whole: a 60 GB image costs the blocks
//! on the path to the hives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// A read-only virtual disk.
pub trait Disk: Send + Sync {
    /// The size of the disk in bytes (its virtual size, not the file's).
    fn size(&self) -> u64;

    /// Fills `buf` from `offset`. Unallocated areas read as zeros. Reading
    /// past the end is an `UnexpectedEof` error.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// A plain file as a disk (a raw image, or the data file under a container).
#[derive(Debug)]
pub struct FileDisk {
    file: File,
    size: u64,
}

impl FileDisk {
    pub fn new(file: File) -> io::Result<Self> {
        let meta = crate::fsio::metadata(&file)?;
        // A disk (`/dev/sdb`, a loop device) states no length: its end does.
        let size = match meta.is_file() {
            true => meta.len(),
            false => {
                use std::io::{Seek, SeekFrom};
                (&file).seek(SeekFrom::End(0))?
            }
        };
        Ok(FileDisk { file, size })
    }

    /// The file back, to be read another way (a `.reg` file found not to be
    /// an image).
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Disk for FileDisk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        read_file_at(&self.file, offset, buf)
    }
}

/// Opens an image named on purpose: a regular file or a disk (block device).
pub fn open_regular_or_disk(path: &std::path::Path) -> io::Result<File> {
    open_if(path, crate::fsio::FileKind::seekable, "a file or a disk")
}

/// Opens a file an image names (a VMDK extent) for reading, only if it is a
/// regular file, through [`crate::fsio::open`]: the open does not block
/// (opening a FIFO for reading would otherwise wait for a writer forever). A
/// FIFO, a device or a directory is an error saying what it is.
pub fn open_regular(path: &std::path::Path) -> io::Result<File> {
    open_if(
        path,
        |k| k == crate::fsio::FileKind::Regular,
        "a regular file",
    )
}

fn open_if(
    path: &std::path::Path,
    wanted: impl Fn(crate::fsio::FileKind) -> bool,
    what: &str,
) -> io::Result<File> {
    match crate::fsio::open(path)? {
        (file, kind) if wanted(kind) => Ok(file),
        (_, kind) => Err(io::Error::other(format!(
            "not {what} ({})",
            kind.describe()
        ))),
    }
}

#[cfg(unix)]
fn read_file_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_file_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Bytes in memory as a disk (tests, small inputs).
impl Disk for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size(), offset, buf.len())?;
        let start = offset as usize;
        buf.copy_from_slice(&self[start..start + buf.len()]);
        Ok(())
    }
}

/// An error for a read of `len` bytes at `offset` that does not fit `size`.
pub fn check_range(size: u64, offset: u64, len: usize) -> io::Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("read of {len} bytes at offset {offset} is past the end ({size} bytes)"),
        )),
    }
}

/// A window onto part of a disk (a partition), itself a disk.
#[derive(Clone)]
pub struct Slice {
    disk: Arc<dyn Disk>,
    start: u64,
    len: u64,
}

impl Slice {
    /// The bytes `start..start + len` of `disk`; an error when they do not fit.
    pub fn new(disk: Arc<dyn Disk>, start: u64, len: u64) -> io::Result<Self> {
        let end = start.checked_add(len);
        if end.is_none_or(|e| e > disk.size()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the range {start}+{len} lies outside the disk ({} bytes)",
                    disk.size()
                ),
            ));
        }
        Ok(Slice { disk, start, len })
    }

    pub fn start(&self) -> u64 {
        self.start
    }
}

impl Disk for Slice {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.len, offset, buf.len())?;
        self.disk.read_exact_at(self.start + offset, buf)
    }
}

/// `Read + Seek` over a disk, for crates that want a stream (ntfs, partition
/// tables).
pub struct Cursor<D> {
    disk: D,
    pos: u64,
}

impl<D: Disk> Cursor<D> {
    pub fn new(disk: D) -> Self {
        Cursor { disk, pos: 0 }
    }

    pub fn get_ref(&self) -> &D {
        &self.disk
    }
}

impl<D: Disk> Read for Cursor<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.disk.size().saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.disk.read_exact_at(self.pos, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: Disk> Seek for Cursor<D> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.disk.size().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_cursors_stay_inside() {
        let disk: Arc<dyn Disk> = Arc::new((0..=255u8).collect::<Vec<u8>>());
        let part = Slice::new(disk.clone(), 16, 32).unwrap();
        let mut buf = [0u8; 4];
        part.read_exact_at(28, &mut buf).unwrap();
        assert_eq!(buf, [44, 45, 46, 47]);
        assert!(part.read_exact_at(30, &mut buf).is_err());
        assert!(Slice::new(disk, 250, 10).is_err());
        let mut c = Cursor::new(part);
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 32);
        assert_eq!(c.seek(SeekFrom::End(-2)).unwrap(), 30);
        assert!(c.seek(SeekFrom::Current(-31)).is_err());
    }
}
