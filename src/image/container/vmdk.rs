//! VMDK (VMware "Virtual Disk Format" 1.1 and 5.0 technotes): hosted sparse
//! extents (`KDMV`: monolithicSparse, and the `-s00N` files of
//! twoGbMaxExtentSparse), streamOptimized (grain directory in a footer,
//! deflate-compressed grains behind markers), and text descriptors whose
//! extents are FLAT (raw data), SPARSE or ZERO.
//!
//! A child (delta, snapshot) disk has a `parentCID` other than ffffffff in
//! its descriptor (a file of its own, or embedded in a monolithicSparse
//! extent) and names its parent in `parentFileNameHint`; the parent's
//! descriptor `CID` must equal `parentCID`. In the child's sparse extents a
//! grain whose grain table entry (or whole grain table) is 0 reads from the
//! parent at the same place of the disk; entry 1 is a zero grain and reads
//! as zeros.
//!
//! Refused: ESXi's VMFSSPARSE/SESPARSE and raw device mappings.
//!
//! Sparse layout (little-endian): a 512-byte header, a grain directory (GD)
//! of u32 sector offsets of grain tables (GT), each GT `numGTEsPerGT` u32
//! sector offsets of grains (0: not allocated, 1: zero grain).

use std::io::{self, Read};
use std::sync::Arc;

use super::cache::{LastCluster, Tables};
use super::{
    Chain, Format, ParentKind, Result, for_each_entry, for_each_unit, invalid, le16, le32, le64,
    read_at, read_parent, read_payload, table_error, truncated, unsupported,
};
use crate::image::disk::{Disk, check_range};

pub(crate) const MAGIC: &[u8] = b"KDMV";
/// `gdOffset` of a streamOptimized header: the real one is in the footer.
pub(crate) const GD_AT_END: u64 = u64::MAX;
/// A descriptor file larger than this is not taken for one.
pub(crate) const MAX_DESCRIPTOR: u64 = 1 << 20;
const FLAG_COMPRESSED: u32 = 1 << 16;
const COMPRESSION_DEFLATE: u16 = 1;
const MAX_GRAIN_SECTORS: u64 = 8192;
const MAX_GTES_PER_GT: u64 = 65536;
const SECTOR: u64 = 512;

/// A sparse header whose grains are compressed (streamOptimized), or whose
/// grain directory is in the footer.
pub(crate) fn is_stream_optimized(header: &[u8]) -> bool {
    le32(header, 8) & FLAG_COMPRESSED != 0 || le64(header, 56) == GD_AT_END
}

/// A text descriptor starts with this comment line.
pub(crate) fn is_descriptor(head: &[u8]) -> bool {
    let s = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    s[start..].starts_with(b"# Disk DescriptorFile")
}

/// The header fields of a sparse extent this reader uses.
struct Header {
    flags: u32,
    capacity: u64,
    grain_size: u64,
    descriptor_offset: u64,
    descriptor_size: u64,
    gtes_per_gt: u64,
    gd_offset: u64,
    compression: u16,
}

fn parse_header(b: &[u8]) -> Header {
    Header {
        flags: le32(b, 8),
        capacity: le64(b, 12),
        grain_size: le64(b, 20),
        descriptor_offset: le64(b, 28),
        descriptor_size: le64(b, 36),
        gtes_per_gt: u64::from(le32(b, 44)),
        gd_offset: le64(b, 56),
        compression: le16(b, 77),
    }
}

/// A hosted sparse or streamOptimized extent.
struct Sparse {
    file: Arc<dyn Disk>,
    format: Format,
    tables: Tables,
    size: u64,
    grain_bytes: u64,
    gtes_per_gt: u64,
    gd_offset: u64,
    compressed: bool,
    last: LastCluster,
    /// The byte where the embedded descriptor starts (0: none).
    descriptor_at: u64,
    /// A child's parent, and where this extent starts on the disk: an
    /// unallocated grain reads from there.
    parent: Option<(Arc<dyn Disk>, u64)>,
}

/// Opens a monolithicSparse or streamOptimized VMDK file.
pub(crate) fn open_sparse(
    file: Arc<dyn Disk>,
    format: Format,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn Disk>> {
    let (mut sparse, descriptor) = Sparse::open(file, format)?;
    if let Some(text) = descriptor {
        let d = Descriptor::parse(&text);
        if let Some(t) = &d.create_type {
            notes.push(format!("VMDK: createType \"{t}\""));
        }
        let at = sparse.descriptor_at;
        if let Some(parent) = d.open_parent(format, at, chain, notes)? {
            sparse.parent = Some((parent, 0));
        }
    }
    Ok(Arc::new(sparse))
}

/// The `CID` in a VMDK's descriptor (its own file, or embedded in a sparse
/// extent), for checking a parent; an error says why there is none.
fn descriptor_cid(file: &dyn Disk) -> Result<u32, String> {
    let mut head = vec![0u8; file.size().min(512) as usize];
    file.read_exact_at(0, &mut head)
        .map_err(|e| format!("it cannot be read: {e}"))?;
    let text = if head.starts_with(MAGIC) {
        let h = parse_header(&head);
        let at = h.descriptor_offset.saturating_mul(SECTOR);
        let len = h
            .descriptor_size
            .saturating_mul(SECTOR)
            .min(MAX_DESCRIPTOR)
            .min(file.size().saturating_sub(at));
        let mut text = vec![0u8; len as usize];
        if at == 0 || file.read_exact_at(at, &mut text).is_err() {
            return Err("it is a VMDK extent without an embedded descriptor".into());
        }
        text
    } else {
        let mut text = vec![0u8; file.size().min(MAX_DESCRIPTOR) as usize];
        file.read_exact_at(0, &mut text)
            .map_err(|e| format!("it cannot be read: {e}"))?;
        if !is_descriptor(&text) {
            return Err("it is not a VMDK".into());
        }
        text
    };
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let d = Descriptor::parse(&String::from_utf8_lossy(&text[..end]));
    match d.cid {
        Some(cid) => parse_cid(&cid).ok_or(format!("its descriptor has the CID {cid:?}")),
        None => Err("its descriptor has no CID".into()),
    }
}

/// A content ID: 32 bits in hexadecimal (qemu writes no leading zeros).
fn parse_cid(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim(), 16).ok()
}

impl Sparse {
    /// The extent, and its embedded descriptor text if it has one.
    fn open(file: Arc<dyn Disk>, format: Format) -> Result<(Self, Option<String>)> {
        let mut b = [0u8; 512];
        read_at(&*file, format, 0, &mut b, "sparse extent header")?;
        if !b.starts_with(MAGIC) {
            return Err(invalid(format, 0, "no sparse extent header (KDMV)"));
        }
        let version = le32(&b, 4);
        if !(1..=3).contains(&version) {
            return Err(unsupported(
                format,
                4,
                format!("sparse extent version {version}"),
            ));
        }
        let mut h = parse_header(&b);
        let descriptor = (h.descriptor_offset, h.descriptor_size);
        if h.gd_offset == GD_AT_END {
            // streamOptimized: footer header, end-of-stream marker.
            let at = file
                .size()
                .checked_sub(1024)
                .ok_or_else(|| truncated(format, 0, "streamOptimized footer"))?;
            read_at(&*file, format, at, &mut b, "streamOptimized footer")?;
            if !b.starts_with(MAGIC) {
                return Err(invalid(
                    format,
                    at,
                    "no streamOptimized footer (KDMV) 1024 bytes before the end",
                ));
            }
            h = parse_header(&b);
            if h.gd_offset == GD_AT_END {
                return Err(invalid(
                    format,
                    at + 56,
                    "the footer has no grain directory offset",
                ));
            }
        }
        let compressed = h.flags & FLAG_COMPRESSED != 0;
        if compressed && h.compression != COMPRESSION_DEFLATE {
            return Err(unsupported(
                format,
                77,
                format!("grain compression algorithm {}", h.compression),
            ));
        }
        if !(1..=MAX_GRAIN_SECTORS).contains(&h.grain_size) {
            return Err(invalid(
                format,
                20,
                format!(
                    "grain size of {} sectors (1 to {MAX_GRAIN_SECTORS})",
                    h.grain_size
                ),
            ));
        }
        if !(1..=MAX_GTES_PER_GT).contains(&h.gtes_per_gt) {
            return Err(invalid(
                format,
                44,
                format!(
                    "{} entries per grain table (1 to {MAX_GTES_PER_GT})",
                    h.gtes_per_gt
                ),
            ));
        }
        let size = h
            .capacity
            .checked_mul(SECTOR)
            .ok_or_else(|| invalid(format, 12, format!("capacity of {} sectors", h.capacity)))?;
        let grains = h.capacity.div_ceil(h.grain_size);
        let tables = grains.div_ceil(h.gtes_per_gt);
        let gd_offset = h.gd_offset.checked_mul(SECTOR).ok_or_else(|| {
            invalid(
                format,
                56,
                format!("grain directory sector {}", h.gd_offset),
            )
        })?;
        if tables
            .checked_mul(4)
            .and_then(|len| gd_offset.checked_add(len))
            .is_none_or(|end| end > file.size())
        {
            return Err(truncated(
                format,
                gd_offset,
                format!("grain directory of {tables} entries"),
            ));
        }
        let sparse = Sparse {
            descriptor_at: descriptor.0.saturating_mul(SECTOR),
            parent: None,
            tables: Tables::new(file.clone()),
            format,
            size,
            grain_bytes: h.grain_size * SECTOR,
            gtes_per_gt: h.gtes_per_gt,
            gd_offset,
            compressed,
            last: LastCluster::default(),
            file,
        };
        sparse.check_gd(tables)?;
        let text = sparse.embedded_descriptor(descriptor.0, descriptor.1);
        Ok((sparse, text))
    }

    /// Every grain table the directory names must lie inside the file.
    fn check_gd(&self, tables: u64) -> Result<()> {
        let gt_len = self.gtes_per_gt * 4;
        let at = self.gd_offset;
        for_each_entry(
            &*self.file,
            self.format,
            at,
            tables,
            4,
            "grain directory",
            |k, e| {
                let gt = u64::from(le32(e, 0)) * SECTOR;
                if gt != 0 && gt + gt_len > self.file.size() {
                    return Err(truncated(
                        self.format,
                        gt,
                        format!("grain table (directory entry at byte {})", at + k * 4),
                    ));
                }
                Ok(())
            },
        )
    }

    /// The embedded descriptor (monolithicSparse has one), if readable.
    fn embedded_descriptor(&self, sector: u64, sectors: u64) -> Option<String> {
        let at = sector.checked_mul(SECTOR)?;
        let len = sectors.checked_mul(SECTOR)?.min(MAX_DESCRIPTOR);
        if at == 0 || len == 0 {
            return None;
        }
        let mut text = vec![0u8; len as usize];
        self.file.read_exact_at(at, &mut text).ok()?;
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        Some(String::from_utf8_lossy(&text[..end]).into_owned())
    }

    fn table_entry(&self, at: u64) -> io::Result<u32> {
        self.tables.le32(at).map_err(table_error(self.format, at))
    }

    fn read_compressed(
        &self,
        grain: u64,
        at: u64,
        in_grain: usize,
        buf: &mut [u8],
    ) -> io::Result<()> {
        let format = self.format;
        let grain_bytes = self.grain_bytes;
        // The bytes of this grain that belong to the disk (the last grain may
        // be cut short by the capacity).
        let needed = grain_bytes.min(self.size - grain * grain_bytes) as usize;
        self.last.read(at, in_grain, buf, || {
            let mut marker = [0u8; 12];
            read_payload(&*self.file, format, at, &mut marker, "grain marker")?;
            let lba = le64(&marker, 0);
            let len = u64::from(le32(&marker, 8));
            if lba != grain * (grain_bytes / SECTOR) {
                return Err(invalid(
                    format,
                    at,
                    format!(
                        "the grain marker names sector {lba}, the grain table sector {}",
                        grain * (grain_bytes / SECTOR)
                    ),
                )
                .into());
            }
            if len > grain_bytes + 65536 {
                return Err(invalid(
                    format,
                    at + 8,
                    format!("compressed grain of {len} bytes for a {grain_bytes}-byte grain"),
                )
                .into());
            }
            let mut input = vec![0u8; len as usize];
            read_payload(&*self.file, format, at + 12, &mut input, "compressed grain")?;
            let mut out = Vec::with_capacity(grain_bytes as usize);
            flate2::read::ZlibDecoder::new(input.as_slice())
                .take(grain_bytes)
                .read_to_end(&mut out)
                .map_err(|e| {
                    invalid(
                        format,
                        at + 12,
                        format!("compressed grain does not inflate: {e}"),
                    )
                })?;
            if out.len() < needed {
                return Err(invalid(
                    format,
                    at + 12,
                    format!(
                        "compressed grain inflates to {} bytes, not {needed}",
                        out.len()
                    ),
                )
                .into());
            }
            out.resize(grain_bytes as usize, 0);
            Ok(out)
        })
    }
}

impl Disk for Sparse {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        for_each_unit(offset, buf, self.grain_bytes, |pos, piece| {
            let grain = pos / self.grain_bytes;
            let in_grain = pos % self.grain_bytes;
            let gd_at = self.gd_offset + grain / self.gtes_per_gt * 4;
            let gt = u64::from(self.table_entry(gd_at)?) * SECTOR;
            let gte = match gt {
                0 => 0,
                _ => self.table_entry(gt + grain % self.gtes_per_gt * 4)?,
            };
            match (gte, &self.parent) {
                (0, Some((parent, base))) => return read_parent(&**parent, base + pos, piece),
                (0 | 1, _) => {
                    piece.fill(0);
                    return Ok(());
                }
                _ => {}
            }
            let at = u64::from(gte) * SECTOR;
            if self.compressed {
                self.read_compressed(grain, at, in_grain as usize, piece)
            } else {
                read_payload(&*self.file, self.format, at + in_grain, piece, "grain")
            }
        })
    }
}

/// What this reader needs from a text descriptor.
#[derive(Default)]
struct Descriptor {
    create_type: Option<String>,
    /// `CID`: this disk's content ID.
    cid: Option<String>,
    /// `parentCID` and the byte offset of its line.
    parent: Option<(String, u64)>,
    parent_hint: Option<String>,
    extents: Vec<Extent>,
}

struct Extent {
    /// The byte offset of the extent's line in the descriptor.
    line_at: u64,
    sectors: u64,
    kind: String,
    file: Option<String>,
    /// FLAT: the first sector in the file.
    offset: u64,
}

impl Descriptor {
    fn parse(text: &str) -> Descriptor {
        let mut d = Descriptor::default();
        let mut at = 0u64;
        for raw in text.split_inclusive('\n') {
            let line_at = at;
            at += raw.len() as u64;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim().trim_matches('"').to_string();
                match key.trim() {
                    "createType" => d.create_type = Some(value),
                    "CID" => d.cid = Some(value),
                    "parentCID" => d.parent = Some((value, line_at)),
                    "parentFileNameHint" => d.parent_hint = Some(value),
                    _ => {}
                }
                continue;
            }
            if let Some(e) = Extent::parse(line, line_at) {
                d.extents.push(e);
            }
        }
        d
    }

    /// A child's `parentCID` and the byte of its line in the descriptor;
    /// `None` for a disk without a parent (no `parentCID`, or ffffffff).
    fn parent_cid(&self, format: Format, text_at: u64) -> Result<Option<(u32, u64)>> {
        let Some((cid, line)) = &self.parent else {
            return Ok(None);
        };
        let at = text_at + line;
        match parse_cid(cid) {
            Some(u32::MAX) => Ok(None),
            Some(c) => Ok(Some((c, at))),
            None => Err(invalid(
                format,
                at,
                format!("parentCID {cid:?} is not hexadecimal"),
            )),
        }
    }

    /// Opens a child's parent (`parentFileNameHint`), whose `CID` must be
    /// the child's `parentCID`; `None` for a disk without a parent.
    /// `text_at` is the descriptor's byte in its file.
    fn open_parent(
        &self,
        format: Format,
        text_at: u64,
        chain: &Chain<'_>,
        notes: &mut Vec<String>,
    ) -> Result<Option<Arc<dyn Disk>>> {
        let Some((want, at)) = self.parent_cid(format, text_at)? else {
            return Ok(None);
        };
        let Some(hint) = self.parent_hint.clone() else {
            return Err(invalid(
                format,
                at,
                "child (delta) disk without a parentFileNameHint",
            ));
        };
        let parent = chain.parent(&[hint], (format, at), ParentKind::Image, |p| {
            let cid = descriptor_cid(p)?;
            if cid == want {
                Ok(())
            } else {
                Err(format!(
                    "the child's parentCID (byte {at}) is {want:08x}, the parent's CID is {cid:08x}"
                ))
            }
        })?;
        parent.note("VMDK child (delta) disk", notes);
        Ok(Some(parent.opened.disk))
    }
}

impl Extent {
    /// `RW 4192256 FLAT "disk-flat.vmdk" 0`, `RW 1048576 ZERO`.
    fn parse(line: &str, line_at: u64) -> Option<Extent> {
        let mut words = line.split_whitespace();
        let access = words.next()?;
        if !matches!(access, "RW" | "RDONLY" | "NOACCESS") {
            return None;
        }
        let sectors = words.next()?.parse().ok()?;
        let kind = words.next()?.to_ascii_uppercase();
        let (file, rest) = match line.split_once('"') {
            Some((_, tail)) => {
                let (name, rest) = tail.split_once('"')?;
                (Some(name.to_string()), rest)
            }
            None => (None, ""),
        };
        let offset = match rest.split_whitespace().next() {
            Some(w) => w.parse().ok()?,
            None => 0,
        };
        Some(Extent {
            line_at,
            sectors,
            kind,
            file,
            offset,
        })
    }
}

/// Opens a text descriptor and its extents, which lie beside it.
pub(crate) fn open_descriptor(
    file: &dyn Disk,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn Disk>> {
    const FORMAT: Format = Format::VmdkDescriptor;
    let len = file.size().min(MAX_DESCRIPTOR);
    let mut bytes = vec![0u8; len as usize];
    read_at(file, FORMAT, 0, &mut bytes, "descriptor")?;
    let d = Descriptor::parse(&String::from_utf8_lossy(&bytes));
    if let Some(t) = &d.create_type {
        notes.push(format!("VMDK: createType \"{t}\""));
    }
    if d.extents.is_empty() {
        return Err(invalid(FORMAT, 0, "the descriptor names no extents"));
    }
    let parent = d.open_parent(FORMAT, 0, chain, notes)?;
    let mut parts = Vec::with_capacity(d.extents.len());
    let mut start = 0u64;
    for e in &d.extents {
        let len = e.sectors.checked_mul(SECTOR).ok_or_else(|| {
            invalid(
                FORMAT,
                e.line_at,
                format!("extent of {} sectors", e.sectors),
            )
        })?;
        let source = match e.kind.as_str() {
            "ZERO" => None,
            "FLAT" | "VMFS" => {
                let (name, data) = open_extent(chain, e)?;
                let first = e.offset.checked_mul(SECTOR);
                if first
                    .and_then(|f| f.checked_add(len))
                    .is_none_or(|end| end > data.size())
                {
                    return Err(truncated(
                        FORMAT,
                        e.line_at,
                        format!(
                            "flat extent \"{name}\" of {len} bytes from its sector {} (descriptor line)",
                            e.offset
                        ),
                    ));
                }
                Some((data, first.unwrap_or(0)))
            }
            "SPARSE" => {
                let (name, data) = open_extent(chain, e)?;
                let mut magic = [0u8; 64];
                read_at(&*data, FORMAT, 0, &mut magic, "sparse extent header")?;
                if !magic.starts_with(MAGIC) {
                    return Err(invalid(
                        FORMAT,
                        e.line_at,
                        format!("sparse extent \"{name}\" has no KDMV header"),
                    ));
                }
                let format = if is_stream_optimized(&magic) {
                    Format::VmdkStreamOptimized
                } else {
                    Format::VmdkSparse
                };
                let (mut sparse, _) = Sparse::open(data, format)?;
                sparse.parent = parent.clone().map(|p| (p, start));
                if sparse.size < len {
                    return Err(invalid(
                        FORMAT,
                        e.line_at,
                        format!(
                            "sparse extent \"{name}\" holds {} bytes, the descriptor says {len}",
                            sparse.size
                        ),
                    ));
                }
                Some((Arc::new(sparse) as Arc<dyn Disk>, 0))
            }
            other => {
                return Err(unsupported(
                    FORMAT,
                    e.line_at,
                    format!("{other} extent (ESXi delta or raw device mapping)"),
                ));
            }
        };
        if len > 0 {
            parts.push(Part { start, len, source });
        }
        start = start
            .checked_add(len)
            .ok_or_else(|| invalid(FORMAT, e.line_at, "the extents add up to over 2^64 bytes"))?;
    }
    Ok(Arc::new(Concat { parts, size: start }))
}

/// Opens an extent file, named relative to the descriptor's folder. The
/// name is judged the same way on every system (`sub\x.vmdk` and
/// `sub/x.vmdk` are relative; `..`, `/x`, `D:\x` are not), not by the
/// path rules of the machine that runs tlsreg.
fn open_extent(chain: &Chain<'_>, e: &Extent) -> Result<(String, Arc<dyn Disk>)> {
    const FORMAT: Format = Format::VmdkDescriptor;
    let name = e.file.clone().unwrap_or_default();
    if crate::image::source::relative_parts(&name).is_none() {
        return Err(unsupported(
            FORMAT,
            e.line_at,
            format!("extent file \"{name}\" outside the descriptor's folder"),
        ));
    }
    let opened = chain.place.open_beside(&name).map_err(|err| {
        invalid(
            FORMAT,
            e.line_at,
            format!("extent file \"{name}\" cannot be opened: {err}"),
        )
    })?;
    Ok((name, opened.disk))
}

/// Extents one after the other; `None` reads as zeros.
struct Concat {
    parts: Vec<Part>,
    size: u64,
}

struct Part {
    start: u64,
    len: u64,
    /// The extent and the byte where its data starts.
    source: Option<(Arc<dyn Disk>, u64)>,
}

impl Disk for Concat {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        let mut pos = offset;
        let mut rest = buf;
        while !rest.is_empty() {
            // The last part starting at or before `pos` (parts may be empty).
            let i = self.parts.partition_point(|p| p.start <= pos);
            let part = i
                .checked_sub(1)
                .and_then(|i| self.parts.get(i))
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no extent"))?;
            let within = pos - part.start;
            let n = usize::try_from(part.len - within).map_or(rest.len(), |l| l.min(rest.len()));
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no extent"));
            }
            let (piece, tail) = std::mem::take(&mut rest).split_at_mut(n);
            match &part.source {
                None => piece.fill(0),
                Some((disk, first)) => disk.read_exact_at(first + within, piece)?,
            }
            pos += n as u64;
            rest = tail;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extent_lines() {
        let e = Extent::parse(r#"RW 131072 FLAT "my disk-flat.vmdk" 2"#, 7).unwrap();
        assert_eq!(
            (e.sectors, e.kind.as_str(), e.file.as_deref(), e.offset),
            (131072, "FLAT", Some("my disk-flat.vmdk"), 2)
        );
        let z = Extent::parse("RW 100 ZERO", 0).unwrap();
        assert_eq!((z.kind.as_str(), z.file), ("ZERO", None));
        assert!(Extent::parse("ddb.geometry.heads = \"16\"", 0).is_none());
        assert!(Extent::parse(r#"RW -5 FLAT "x""#, 0).is_none());
    }

    #[test]
    fn descriptor_signature_and_parent() {
        assert!(is_descriptor(
            b"\xEF\xBB\xBF\n# Disk DescriptorFile\nversion=1"
        ));
        assert!(!is_descriptor(b"# Disk"));
        let d = Descriptor::parse(
            "# Disk DescriptorFile\nCID=e138a14\nparentCID=1234abcd\nparentFileNameHint=\"base.vmdk\"\n",
        );
        assert_eq!(
            d.parent_cid(Format::VmdkDescriptor, 0).unwrap(),
            Some((0x1234_abcd, 34))
        );
        assert_eq!(d.parent_hint.as_deref(), Some("base.vmdk"));
        assert_eq!(d.cid.as_deref().and_then(parse_cid), Some(0x0e13_8a14));
        let ok = Descriptor::parse("parentCID=ffffffff\n");
        assert_eq!(ok.parent_cid(Format::VmdkDescriptor, 0).unwrap(), None);
        let bad = Descriptor::parse("parentCID=xyz\n");
        let e = bad
            .parent_cid(Format::VmdkDescriptor, 7)
            .unwrap_err()
            .to_string();
        assert!(e.contains("byte 7"), "{e}");
    }

    #[test]
    fn concat_reads_across_parts() {
        let a: Arc<dyn Disk> = Arc::new(vec![1u8; 10]);
        let c = Concat {
            parts: vec![
                Part {
                    start: 0,
                    len: 4,
                    source: Some((a.clone(), 6)),
                },
                Part {
                    start: 4,
                    len: 0,
                    source: None,
                },
                Part {
                    start: 4,
                    len: 3,
                    source: None,
                },
                Part {
                    start: 7,
                    len: 2,
                    source: Some((a, 0)),
                },
            ],
            size: 9,
        };
        let mut buf = [9u8; 9];
        c.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 0, 0, 0, 1, 1]);
        assert!(c.read_exact_at(5, &mut buf[..5]).is_err());
    }
}
