//! Virtual disk containers: a file (raw, VHD, VHDX, VMDK, qcow2) becomes a
//! [`Disk`] of its virtual size.
//!
//! The format is chosen by signature, never by file name. Each reader keeps
//! only small metadata in memory (headers, plus a bounded page cache over the
//! allocation tables and one decompressed cluster); payload is read on demand,
//! so a 60 GB image costs the blocks that are actually read.
//!
//! Every header field is checked before use: sizes and offsets with checked
//! arithmetic, tables against the file's length. A malformed image is a
//! [`ContainerError`] naming the format and the byte offset, never a panic.
//! Errors found while reading (a grain past the end, a bad compressed
//! cluster) are `io::Error`s that wrap a `ContainerError`.
//!
//! Differencing images (a differencing VHD or VHDX, a VMDK child, a qcow2
//! overlay) read what they do not hold from their parent, found through the
//! child's [`Place`] (beside it: in its folder, its OVA, its URL) and opened
//! like any image ([`Chain`]). A chain holds at most [`MAX_CHAIN`] images and
//! may not loop; the parent's identity recorded in the child (VHD unique ID,
//! VHDX DataWriteGuid, VMDK CID) must match. Opening recurses once per
//! image of the chain and reading through it once per layer, both bounded by
//! [`MAX_CHAIN`]; each layer keeps its own bounded caches (about 1 MiB), so
//! a whole chain stays well under 100 MiB.

pub(crate) mod cache;
pub mod qcow2;
pub mod raw;
pub mod vhd;
pub mod vhdx;
mod vhdx_log;
pub mod vmdk;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::disk::{Disk, check_range};
use super::source::{Place, Source, SourceError};

/// The container formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A plain disk or volume image (`dd`, `.img`, `.raw`, `-flat.vmdk`).
    Raw,
    /// VHD with the data followed by a `conectix` footer.
    VhdFixed,
    /// VHD with a `cxsparse` dynamic header and a block allocation table.
    VhdDynamic,
    /// VHDX (Hyper-V).
    Vhdx,
    /// A hosted sparse VMDK extent (`KDMV`), monolithicSparse.
    VmdkSparse,
    /// A streamOptimized VMDK (`KDMV`, grain directory in the footer,
    /// compressed grains).
    VmdkStreamOptimized,
    /// A VMDK text descriptor naming FLAT, SPARSE or ZERO extent files.
    VmdkDescriptor,
    /// qcow2, versions 2 and 3.
    Qcow2,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Raw => "raw image",
            Format::VhdFixed => "VHD (fixed)",
            Format::VhdDynamic => "VHD (dynamic)",
            Format::Vhdx => "VHDX",
            Format::VmdkSparse => "VMDK (monolithicSparse)",
            Format::VmdkStreamOptimized => "VMDK (streamOptimized)",
            Format::VmdkDescriptor => "VMDK (descriptor)",
            Format::Qcow2 => "qcow2",
        })
    }
}

/// An opened container: its format, the virtual disk, and remarks worth
/// showing (a dirty flag, a damaged copy of a header that was skipped).
pub struct Opened {
    pub format: Format,
    pub disk: Arc<dyn Disk>,
    pub notes: Vec<String>,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .field("size", &self.disk.size())
            .field("notes", &self.notes)
            .finish()
    }
}

/// Why a file could not be opened as a disk image.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The file itself (or an extent file it names) could not be opened.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file the image names (an extent, a parent) could not be found or
    /// opened.
    #[error(transparent)]
    Source(SourceError),
    /// No container signature, no partition table, no NTFS/BitLocker boot
    /// sector.
    #[error(
        "not a disk image: no VHD, VHDX, VMDK or qcow2 signature, no partition table (0x55AA at byte 510) and no NTFS or BitLocker boot sector"
    )]
    NotAnImage,
    /// A structure lies (partly) past the end of the file.
    #[error("{format}: truncated: {what} at byte {offset} lies past the end of the file")]
    Truncated {
        format: Format,
        offset: u64,
        what: String,
    },
    /// A structure is malformed.
    #[error("{format}: {what} (at byte {offset})")]
    Invalid {
        format: Format,
        offset: u64,
        what: String,
    },
    /// A well-formed feature this reader does not handle.
    #[error("{format}: not supported: {what} (at byte {offset})")]
    Unsupported {
        format: Format,
        offset: u64,
        what: String,
    },
    /// The file could not be read at that offset.
    #[error("{format}: cannot read byte {offset}: {source}")]
    Read {
        format: Format,
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The parent a differencing image names could not be found or opened.
    #[error(
        "{child}: {format}: its parent \"{parent}\" (named at byte {offset}) cannot be opened: {source}"
    )]
    Parent {
        child: String,
        format: Format,
        /// Where the child names its parent.
        offset: u64,
        /// The parent as written in the child.
        parent: String,
        #[source]
        source: Box<ContainerError>,
    },
    /// The parent found is not the image the child was made from.
    #[error("{child}: its parent {parent} is not the image it was made from: {what}")]
    ParentMismatch {
        child: String,
        parent: String,
        what: String,
    },
    /// A chain of differencing images that loops or is too deep.
    #[error("{name}: {what}")]
    Chain { name: String, what: String },
}

impl ContainerError {
    /// The format named by the error, if any.
    pub fn format(&self) -> Option<Format> {
        match self {
            ContainerError::Truncated { format, .. }
            | ContainerError::Invalid { format, .. }
            | ContainerError::Unsupported { format, .. }
            | ContainerError::Read { format, .. }
            | ContainerError::Parent { format, .. } => Some(*format),
            ContainerError::Io { .. }
            | ContainerError::Source(_)
            | ContainerError::NotAnImage
            | ContainerError::ParentMismatch { .. }
            | ContainerError::Chain { .. } => None,
        }
    }
}

impl From<ContainerError> for io::Error {
    fn from(e: ContainerError) -> io::Error {
        let kind = match &e {
            ContainerError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            ContainerError::Read { source, .. } | ContainerError::Io { source, .. } => {
                source.kind()
            }
            ContainerError::Source(SourceError::NotFound { .. }) => io::ErrorKind::NotFound,
            ContainerError::Parent { source, .. }
                if matches!(
                    **source,
                    ContainerError::Source(SourceError::NotFound { .. })
                ) =>
            {
                io::ErrorKind::NotFound
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

impl From<SourceError> for ContainerError {
    /// A file that cannot be opened keeps the words it always had
    /// (`path: reason`).
    fn from(e: SourceError) -> ContainerError {
        match e {
            SourceError::Open { name, source } => ContainerError::Io {
                path: PathBuf::from(name),
                source,
            },
            other => ContainerError::Source(other),
        }
    }
}

type Result<T, E = ContainerError> = std::result::Result<T, E>;

pub(crate) fn invalid(format: Format, offset: u64, what: impl Into<String>) -> ContainerError {
    ContainerError::Invalid {
        format,
        offset,
        what: what.into(),
    }
}

pub(crate) fn unsupported(format: Format, offset: u64, what: impl Into<String>) -> ContainerError {
    ContainerError::Unsupported {
        format,
        offset,
        what: what.into(),
    }
}

pub(crate) fn truncated(format: Format, offset: u64, what: impl Into<String>) -> ContainerError {
    ContainerError::Truncated {
        format,
        offset,
        what: what.into(),
    }
}

/// Opens a disk image. The format is found from the bytes; a VMDK text
/// descriptor's extents and a differencing image's parent are opened
/// relative to its folder.
pub fn open(path: &Path) -> Result<Opened> {
    open_source(&crate::image::source::open_path(path)?)
}

/// Opens the image held by `file` (any [`Disk`]: a file, bytes in memory).
/// Bytes without a place name nothing beside them: a VMDK descriptor's
/// extents and a differencing image's parent cannot be opened.
pub fn open_disk(file: Arc<dyn Disk>) -> Result<Opened> {
    open_source(&Source::detached("the image", file))
}

/// Opens the image held by a source; the files it names (extents, parents)
/// are looked for through the source's place.
pub fn open_source(source: &Source) -> Result<Opened> {
    open_in(source, Chain::top(source)?)
}

/// At most this many images in a chain: a differencing image and its
/// ancestors. Opening and reading recurse once per image, so this also
/// bounds the recursion; each image keeps about 1 MiB of caches.
pub const MAX_CHAIN: usize = 32;

/// Where an image stands in a chain of differencing images: the identities
/// ([`Place::identity`]) of the images from the top of the chain down to
/// this one, and this one's place, through which its parent is found.
pub(crate) struct Chain<'a> {
    place: &'a dyn Place,
    name: String,
    seen: Vec<String>,
}

/// How a parent's bytes are taken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ParentKind {
    /// An image of any format this module reads, found by signature.
    Image,
    /// Plain bytes (a qcow2 backing file said to be raw).
    Raw,
    /// An image if it has a signature, else plain bytes (a qcow2 backing
    /// file of unstated format: qemu probes it the same way).
    ImageElseRaw,
}

/// An opened parent: how it is named, and the image.
pub(crate) struct Parent {
    pub name: String,
    pub opened: Opened,
}

impl Parent {
    /// The notes a child shows for its parent: what the parent is, then the
    /// parent's own notes.
    pub(crate) fn note(&self, what: &str, notes: &mut Vec<String>) {
        notes.push(format!(
            "{what}; parent: {} ({})",
            self.name, self.opened.format
        ));
        for n in &self.opened.notes {
            notes.push(format!("{}: {n}", self.name));
        }
    }
}

impl<'a> Chain<'a> {
    fn top(source: &'a Source) -> Result<Chain<'a>> {
        Chain::enter(source, &[], None)
    }

    /// Admits `source` below the images `above`: it must not be one of them
    /// (a loop), and the chain must not grow past [`MAX_CHAIN`].
    fn enter(source: &'a Source, above: &[String], child: Option<&str>) -> Result<Chain<'a>> {
        let name = source.name();
        let identity = source.place.identity();
        let by = child.map_or_else(String::new, |c| format!(" (named as the parent of {c})"));
        if above.contains(&identity) {
            return Err(ContainerError::Chain {
                name,
                what: format!(
                    "the chain of differencing images loops: this image is its own ancestor{by}"
                ),
            });
        }
        if above.len() >= MAX_CHAIN {
            return Err(ContainerError::Chain {
                name,
                what: format!(
                    "the chain of differencing images is deeper than {MAX_CHAIN} images{by}"
                ),
            });
        }
        let mut seen = above.to_vec();
        seen.push(identity);
        Ok(Chain {
            place: &*source.place,
            name,
            seen,
        })
    }

    /// Opens the parent, named by the first of `names` found beside this
    /// image (a child may record several: relative, absolute) at byte
    /// `offset` of this `format`. `check` looks at the parent's bytes
    /// before they are opened and says why they are not the parent the
    /// child was made from.
    pub(crate) fn parent(
        &self,
        names: &[String],
        (format, offset): (Format, u64),
        kind: ParentKind,
        check: impl FnOnce(&dyn Disk) -> Result<(), String>,
    ) -> Result<Parent> {
        let written = names.first().cloned().unwrap_or_default();
        let wrap = |e: ContainerError| match e {
            e @ (ContainerError::Parent { .. }
            | ContainerError::ParentMismatch { .. }
            | ContainerError::Chain { .. }) => e,
            e => ContainerError::Parent {
                child: self.name.clone(),
                format,
                offset,
                parent: written.clone(),
                source: Box::new(e),
            },
        };
        let mut first_error = None;
        let mut found = None;
        for name in names.iter().filter(|n| !n.is_empty()) {
            match self.place.open_beside(name) {
                Ok(s) => {
                    found = Some(s);
                    break;
                }
                Err(e @ SourceError::NotFound { .. }) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(wrap(e.into())),
            }
        }
        let source = match (found, first_error) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(wrap(e.into())),
            (None, None) => {
                return Err(wrap(ContainerError::Source(SourceError::NotFound {
                    wanted: written.clone(),
                    beside: self.name.clone(),
                    tried: Vec::new(),
                })));
            }
        };
        let chain = Chain::enter(&source, &self.seen, Some(&self.name))?;
        if let Err(what) = check(&*source.disk) {
            return Err(ContainerError::ParentMismatch {
                child: self.name.clone(),
                parent: source.name(),
                what,
            });
        }
        let raw = || Opened {
            format: Format::Raw,
            disk: source.disk.clone(),
            notes: Vec::new(),
        };
        let opened = match kind {
            ParentKind::Raw => raw(),
            ParentKind::Image => open_in(&source, chain).map_err(wrap)?,
            ParentKind::ImageElseRaw => match open_in(&source, chain) {
                Err(ContainerError::NotAnImage) => raw(),
                other => other.map_err(wrap)?,
            },
        };
        Ok(Parent {
            name: source.name(),
            opened,
        })
    }
}

/// Opens `source`, admitted to `chain`.
fn open_in(source: &Source, chain: Chain<'_>) -> Result<Opened> {
    let file = source.disk.clone();
    let format = sniff(&*file)
        .map_err(|source| ContainerError::Read {
            format: Format::Raw,
            offset: 0,
            source,
        })?
        .ok_or(ContainerError::NotAnImage)?;
    let mut notes = Vec::new();
    let (format, disk) = match format {
        Format::VhdFixed | Format::VhdDynamic => vhd::open(file, format, &chain, &mut notes)?,
        _ => (format, open_other(format, file, &chain, &mut notes)?),
    };
    Ok(Opened {
        format,
        disk,
        notes,
    })
}

/// Reads `buf` at `offset` of a parent; what lies past the parent's end
/// reads as zeros (a parent smaller than its child, as qemu reads a backing
/// file).
pub(crate) fn read_parent(parent: &dyn Disk, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let inside = parent.size().saturating_sub(offset);
    let n = usize::try_from(inside).map_or(buf.len(), |i| i.min(buf.len()));
    let (head, tail) = buf.split_at_mut(n);
    if !head.is_empty() {
        parent.read_exact_at(offset, head)?;
    }
    tail.fill(0);
    Ok(())
}

/// Splits `buf`, read at `pos` of a block whose sectors of `sector` bytes
/// are each present in the image or not (`present(sector index)`, counted
/// from the block's start), into runs of like sectors, handing each to `f`
/// with its position and whether it is present.
pub(crate) fn for_each_run(
    pos: u64,
    buf: &mut [u8],
    sector: u64,
    present: impl Fn(u64) -> bool,
    mut f: impl FnMut(u64, &mut [u8], bool) -> io::Result<()>,
) -> io::Result<()> {
    let mut at = pos;
    let mut rest = buf;
    while !rest.is_empty() {
        let first = at / sector;
        let kind = present(first);
        let end = at + rest.len() as u64;
        let mut s = first + 1;
        while s * sector < end && present(s) == kind {
            s += 1;
        }
        let n = usize::try_from((s * sector).min(end) - at).unwrap_or(rest.len());
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(n);
        f(at, piece, kind)?;
        at += n as u64;
        rest = tail;
    }
    Ok(())
}

/// The format of the file at `path` from its signatures, without parsing it
/// further; `None` when it is no disk image (or cannot be read).
pub fn detect(path: &Path) -> Option<Format> {
    let source = crate::image::source::open_path(path).ok()?;
    detect_disk(&*source.disk)
}

/// As [`detect`], for bytes already open.
pub fn detect_disk(disk: &dyn Disk) -> Option<Format> {
    sniff(disk).ok().flatten()
}

fn open_other(
    format: Format,
    file: Arc<dyn Disk>,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn Disk>> {
    Ok(match format {
        Format::Raw => raw::open(file),
        Format::VhdFixed | Format::VhdDynamic => vhd::open(file, format, chain, notes)?.1,
        Format::Vhdx => vhdx::open(file, chain, notes)?,
        Format::VmdkSparse | Format::VmdkStreamOptimized => {
            vmdk::open_sparse(file, format, chain, notes)?
        }
        Format::VmdkDescriptor => vmdk::open_descriptor(&*file, chain, notes)?,
        Format::Qcow2 => qcow2::open(file, chain, notes)?,
    })
}

/// How many bytes of a file are looked at to find its format.
const SNIFF: usize = 4096;

/// The format from the first 4 KiB and the last 512 bytes.
fn sniff(file: &dyn Disk) -> io::Result<Option<Format>> {
    let size = file.size();
    let mut head = vec![0u8; usize::try_from(size).unwrap_or(SNIFF).min(SNIFF)];
    file.read_exact_at(0, &mut head)?;
    if head.starts_with(qcow2::MAGIC) {
        return Ok(Some(Format::Qcow2));
    }
    if head.starts_with(vhdx::MAGIC) {
        return Ok(Some(Format::Vhdx));
    }
    if head.starts_with(vmdk::MAGIC) {
        return Ok(Some(if vmdk::is_stream_optimized(&head) {
            Format::VmdkStreamOptimized
        } else {
            Format::VmdkSparse
        }));
    }
    if head.starts_with(vhd::COOKIE) {
        return Ok(Some(Format::VhdDynamic));
    }
    if size >= 512 {
        let mut tail = [0u8; 512];
        file.read_exact_at(size - 512, &mut tail)?;
        if tail.starts_with(vhd::COOKIE) {
            return Ok(Some(if be32(&tail, 60) == vhd::TYPE_FIXED {
                Format::VhdFixed
            } else {
                Format::VhdDynamic
            }));
        }
    }
    if vmdk::is_descriptor(&head) && size <= vmdk::MAX_DESCRIPTOR {
        return Ok(Some(Format::VmdkDescriptor));
    }
    if raw::looks_like_disk(&head) {
        return Ok(Some(Format::Raw));
    }
    Ok(None)
}

/// Reads `buf` at `offset` of the container file, for parsing: a short file
/// is [`ContainerError::Truncated`] naming `what`.
pub(crate) fn read_at(
    file: &dyn Disk,
    format: Format,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<()> {
    if check_range(file.size(), offset, buf.len()).is_err() {
        return Err(truncated(format, offset, what));
    }
    file.read_exact_at(offset, buf)
        .map_err(|source| ContainerError::Read {
            format,
            offset,
            source,
        })
}

/// For `map_err` on a table read inside `Disk::read_exact_at`: the I/O
/// error, wrapped so that it names the format and the table's offset.
pub(crate) fn table_error(format: Format, offset: u64) -> impl FnOnce(io::Error) -> io::Error {
    move |source| {
        ContainerError::Read {
            format,
            offset,
            source,
        }
        .into()
    }
}

/// Walks a table of `count` entries of `width` bytes at `offset`, read a
/// piece at a time so that a huge (or lying) table is never allocated whole,
/// handing `f` each entry with its index. `what` names the table in errors.
pub(crate) fn for_each_entry(
    file: &dyn Disk,
    format: Format,
    offset: u64,
    count: u64,
    width: usize,
    what: &str,
    mut f: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    const PIECE: usize = 64 * 1024;
    let per_piece = (PIECE / width) as u64;
    let mut buf = vec![0u8; PIECE];
    let mut first = 0;
    while first < count {
        let n = per_piece.min(count - first);
        let table = &mut buf[..n as usize * width];
        read_at(file, format, offset + first * width as u64, table, what)?;
        for (k, e) in table.chunks_exact(width).enumerate() {
            f(first + k as u64, e)?;
        }
        first += n;
    }
    Ok(())
}

/// Splits a read at `offset` into pieces that do not cross a multiple of
/// `unit` (a block, a cluster, a grain) and hands each to `f` with its
/// virtual offset. The caller has checked that the read fits the disk.
pub(crate) fn for_each_unit(
    offset: u64,
    buf: &mut [u8],
    unit: u64,
    mut f: impl FnMut(u64, &mut [u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut pos = offset;
    let mut rest = buf;
    while !rest.is_empty() {
        let left_in_unit = unit - pos % unit;
        let n = usize::try_from(left_in_unit).map_or(rest.len(), |l| l.min(rest.len()));
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(n);
        f(pos, piece)?;
        pos += n as u64;
        rest = tail;
    }
    Ok(())
}

/// Reads payload bytes at `offset` of the container file; a failure names the
/// format and the offset.
pub(crate) fn read_payload(
    file: &dyn Disk,
    format: Format,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> io::Result<()> {
    read_at(file, format, offset, buf, what).map_err(io::Error::from)
}

pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = at.checked_add(N).and_then(|end| b.get(at..end)) {
        out.copy_from_slice(src);
    }
    out
}

// Field readers for fixed-size header buffers: a field past the end of the
// buffer (a bug, never input) reads as zero rather than panicking.
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}
pub(crate) fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(b, at))
}
pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(b, at))
}
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(b, at))
}
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(b, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_split_at_boundaries() {
        let mut buf = vec![0u8; 10];
        let mut seen = Vec::new();
        for_each_unit(6, &mut buf, 4, |pos, piece| {
            seen.push((pos, piece.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(6, 2), (8, 4), (12, 4)]);
    }

    #[test]
    fn field_readers_never_panic() {
        assert_eq!(be32(&[1, 2], 0), 0);
        assert_eq!(le16(&[1, 2, 3], usize::MAX), 0);
        assert_eq!(le16(&[1, 2], 0), 0x0201);
    }

    #[test]
    fn runs_of_like_sectors() {
        // Sectors of 4 bytes: 0 and 1 present, 2 absent, 3 present.
        let present = |s: u64| s != 2;
        let mut buf = vec![0u8; 13];
        let mut seen = Vec::new();
        for_each_run(2, &mut buf, 4, present, |at, run, own| {
            seen.push((at, run.len(), own));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, [(2, 6, true), (8, 4, false), (12, 3, true)]);
    }

    #[test]
    fn parents_read_zeros_past_their_end() {
        let parent: Arc<dyn Disk> = Arc::new(vec![7u8; 10]);
        let mut buf = [1u8; 6];
        read_parent(&*parent, 7, &mut buf).unwrap();
        assert_eq!(buf, [7, 7, 7, 0, 0, 0]);
        read_parent(&*parent, 100, &mut buf).unwrap();
        assert_eq!(buf, [0; 6]);
    }

    #[test]
    fn detached_children_name_their_parent() {
        // A qcow2 header naming a backing file, in memory: nothing beside it.
        let mut q = vec![0u8; 4096];
        q[..4].copy_from_slice(qcow2::MAGIC);
        q[4..8].copy_from_slice(&2u32.to_be_bytes());
        q[8..16].copy_from_slice(&512u64.to_be_bytes());
        q[16..20].copy_from_slice(&8u32.to_be_bytes());
        q[20..24].copy_from_slice(&16u32.to_be_bytes());
        q[24..32].copy_from_slice(&(1u64 << 20).to_be_bytes());
        q[512..520].copy_from_slice(b"base.raw");
        let e = open_disk(Arc::new(q)).unwrap_err().to_string();
        assert!(
            e.contains("the image: qcow2: its parent \"base.raw\" (named at byte 512)"),
            "{e}"
        );
    }

    #[test]
    fn garbage_is_not_an_image() {
        let d: Arc<dyn Disk> = Arc::new(vec![7u8; 4096]);
        assert!(matches!(open_disk(d), Err(ContainerError::NotAnImage)));
        let empty: Arc<dyn Disk> = Arc::new(Vec::new());
        assert!(matches!(open_disk(empty), Err(ContainerError::NotAnImage)));
    }
}
