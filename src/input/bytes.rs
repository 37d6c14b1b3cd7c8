//! File bytes for the hive readers: mapped where the file allows (only the
//! pages read cost memory), read where it does not, and the logs beside a
//! hive.

use std::io::Read;
use std::ops::Deref;
use std::path::Path;

/// File bytes: mapped from disk, or read (standard input, replayed hives).
pub(super) enum Bytes {
    /// The file is kept: a dirty hive is replayed onto a copy-on-write
    /// map of it.
    Mapped(memmap2::Mmap, std::fs::File),
    Owned(Vec<u8>),
}

impl Bytes {
    /// The file behind a map.
    pub(super) fn file(&self) -> Option<&std::fs::File> {
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

/// A log file found beside a hive (or in an image), by name: its first
/// bytes, at most [`crate::hive::log::log_cap`] of its hive.
pub struct LogBytes<'a> {
    pub name: String,
    pub(super) bytes: LogData<'a>,
    /// How many bytes of `bytes` are used (a map holds the whole file).
    pub(super) used: usize,
    /// The log's whole length, when it is longer than what is used.
    pub(super) cut_from: Option<u64>,
}

/// A log's bytes: its own (mapped or read), or an image reader's.
pub(super) enum LogData<'a> {
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
    pub(super) fn borrowed(name: String, bytes: &'a [u8]) -> Self {
        LogBytes {
            name,
            used: bytes.len(),
            bytes: LogData::Borrowed(bytes),
            cut_from: None,
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
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
pub(super) fn map_or_read(path: &Path, cap: u64) -> std::io::Result<(Bytes, bool)> {
    // Never blocks: a FIFO named as a hive or log is an error, not a hang.
    map_or_read_file(crate::image::disk::open_regular(path)?, cap)
}

/// The first `len` bytes of `file` as a private, writable map: writes go
/// to copies of the pages written, never to the file (inputs are evidence).
pub(super) fn copy_on_write(
    file: &std::fs::File,
    len: usize,
) -> Option<crate::hive::log::HiveBytes> {
    // SAFETY: as for the read-only map in `map_or_read_file`; MAP_PRIVATE
    // keeps every write in this process.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map_copy(file) }.ok()?;
    Some(crate::hive::log::HiveBytes::Mapped(map))
}

/// As [`map_or_read`], for a file already open (read from its start).
pub(super) fn map_or_read_file(
    mut file: std::fs::File,
    cap: u64,
) -> std::io::Result<(Bytes, bool)> {
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
