//! What each input is, decided once from its first bytes: a `.reg` file, a
//! hive, a WIM, or a disk image (a container, an EWF set, an OVA; at a path
//! or a URL). The input is opened once here and handed, open, to the reader
//! of its kind.

use std::io::Read;
use std::path::Path;

use super::bytes::{Bytes, map_or_read_file};
use super::{ErrorKind, InputError, Kind};
use crate::fsio::FileKind;
use crate::image::disk::{Disk, FileDisk};
use crate::image::source::{Source, file_source};

/// An input opened by what its first bytes say it is.
pub(super) enum Opened {
    Hive(Bytes),
    Stream(Box<dyn Read>),
    /// A `.reg` file mapped in memory: read in place, not copied (Unix
    /// only: elsewhere pages cannot be given back as reading goes on).
    #[cfg_attr(not(unix), allow(dead_code))]
    Mapped(memmap2::Mmap),
}

/// The most bytes of a hive read from a pipe or standard input, which
/// cannot be mapped: a hive is read whole, and a stream may never end.
pub(super) const PIPED_HIVE_CAP: u64 = 200 << 20;

/// An input, opened, by what its first bytes say it is.
pub(super) enum Haystack {
    /// `.reg` text or a hive: a file, a pipe, standard input.
    Registry(Opened),
    /// A WIM: each of its images is audited.
    Wim(Source),
    /// A disk image (a container, an EWF set, an OVA), at a path or a URL.
    Image(Source),
}

impl Haystack {
    pub(super) fn kind(&self) -> Kind {
        match self {
            Haystack::Registry(Opened::Hive(_)) => Kind::Hive,
            Haystack::Registry(_) => Kind::Reg,
            Haystack::Wim(_) | Haystack::Image(_) => Kind::Image,
        }
    }
}

/// Why an input could not be opened: `opened` says whether it was (an input
/// that never opened was never read, so no kind is claimed for it).
pub(super) struct Unopened {
    pub error: InputError,
    pub opened: bool,
}

/// Opens an input named on the command line (`-` for standard input, a
/// path, a URL) once, and decides from its first bytes what it is.
pub(super) fn open_input(input: &str) -> Result<Haystack, Unopened> {
    let opened = |error| Unopened {
        error,
        opened: true,
    };
    if input == "-" {
        return open_stream(Box::new(std::io::stdin()), input)
            .map(Haystack::Registry)
            .map_err(opened);
    }
    if crate::image::source::is_url(input) {
        let shown = crate::image::source::display_name(input);
        let source = crate::image::source::open_input(input).map_err(|e| Unopened {
            error: InputError {
                kind: ErrorKind::source(&shown, e),
                path: shown,
            },
            opened: false,
        })?;
        return Ok(image_or_wim(source));
    }
    let wrap = |e: std::io::Error| InputError {
        path: input.to_owned(),
        kind: ErrorKind::Io(e),
    };
    let (file, kind) = crate::fsio::open(Path::new(input)).map_err(|e| Unopened {
        error: wrap(e),
        opened: false,
    })?;
    match regular(file, kind, input).map_err(opened)? {
        Either::Stream(opened) => Ok(Haystack::Registry(opened)),
        Either::Seekable(disk) => decide(disk, input).map_err(opened),
    }
}

/// Opens a file applied on top of an input (`--apply`): `.reg` text, or a
/// hive (which the caller refuses by name). Images are not looked for.
pub(super) fn open(path: &str) -> Result<Opened, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    if path == "-" {
        return open_stream(Box::new(std::io::stdin()), path);
    }
    let (file, kind) = crate::fsio::open(Path::new(path)).map_err(wrap)?;
    match regular(file, kind, path)? {
        Either::Stream(opened) => Ok(opened),
        Either::Seekable(disk) => {
            let mut head = [0u8; 4];
            read_head(&disk, &mut head).map_err(wrap)?;
            registry_file(disk, &head, path)
        }
    }
}

enum Either {
    Stream(Opened),
    Seekable(FileDisk),
}

/// A file that can be read at any offset (a regular file, a disk), or a
/// stream (a pipe, a character device) already opened as one; anything
/// else is an error saying what it is.
fn regular(file: std::fs::File, kind: FileKind, path: &str) -> Result<Either, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    match kind {
        FileKind::Regular | FileKind::BlockDevice => {
            FileDisk::new(file).map(Either::Seekable).map_err(wrap)
        }
        FileKind::Directory => Err(wrap(std::io::Error::other("is a directory"))),
        // A pipe (`<(cat x.reg)`, a named FIFO given on purpose) or a
        // character device is read once, as a stream: no seeking back.
        FileKind::Fifo | FileKind::CharDevice => {
            open_stream(Box::new(file), path).map(Either::Stream)
        }
        FileKind::Socket | FileKind::Other => Err(wrap(std::io::Error::other(format!(
            "is {}, not a file tlsreg reads",
            kind.describe()
        )))),
    }
}

/// Fills as much of `head` as the file holds; the count read.
fn read_head(disk: &FileDisk, head: &mut [u8]) -> std::io::Result<usize> {
    let n = usize::try_from(disk.size()).map_or(head.len(), |s| s.min(head.len()));
    disk.read_exact_at(0, &mut head[..n])?;
    Ok(n)
}

/// What a seekable file is, from its first bytes (and, for a VHD, its last).
fn decide(disk: FileDisk, path: &str) -> Result<Haystack, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    let mut head = [0u8; crate::image::source::WRAPPER_SNIFF];
    let n = read_head(&disk, &mut head).map_err(wrap)?;
    let head = &head[..n];
    if !is_hive(head)
        && (crate::image::wim::is_wim(head)
            || crate::image::source::wrapper(head).is_some()
            || crate::image::container::detect_disk(&disk).is_some())
    {
        return Ok(image_or_wim(file_source(disk, Path::new(path))));
    }
    registry_file(disk, head, path).map(Haystack::Registry)
}

/// A source already known to hold an image: a WIM, or a disk image.
fn image_or_wim(source: Source) -> Haystack {
    let mut head = [0u8; 8];
    let is_wim = source.disk.size() >= head.len() as u64
        && source.disk.read_exact_at(0, &mut head).is_ok()
        && crate::image::wim::is_wim(&head);
    match is_wim {
        true => Haystack::Wim(source),
        false => Haystack::Image(source),
    }
}

/// A file that holds `.reg` text or a hive, by its first bytes.
fn registry_file(disk: FileDisk, head: &[u8], path: &str) -> Result<Opened, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    let file = disk.into_file();
    if !is_hive(head) {
        // A regular file is mapped: no copy out of the page cache. Where
        // pages cannot be given back as reading goes on, it is streamed, and
        // so is a file whose size says nothing (`/proc`'s are 0 bytes).
        #[cfg(unix)]
        if crate::fsio::metadata(&file).is_ok_and(|m| m.is_file() && m.len() > 0) {
            // SAFETY: as in `map_or_read_file`.
            if let Ok(m) = unsafe { memmap2::Mmap::map(&file) } {
                return Ok(Opened::Mapped(m));
            }
        }
        let mut file = file;
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
pub(super) fn open_stream(mut reader: Box<dyn Read>, path: &str) -> Result<Opened, InputError> {
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

/// True when `bytes` start like a hive (`regf`), whatever the file is called.
pub fn is_hive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"regf")
}

/// Whether an open file is a disk image this build reads, by its
/// signatures (`head`: its first bytes, up to
/// [`crate::image::source::WRAPPER_SNIFF`]; a VHD's are at its end).
pub fn is_image(file: std::fs::File, head: &[u8]) -> bool {
    crate::image::wim::is_wim(head)
        || crate::image::source::wrapper(head).is_some()
        || FileDisk::new(file)
            .is_ok_and(|disk| crate::image::container::detect_disk(&disk).is_some())
}
