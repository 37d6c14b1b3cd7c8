//! VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0):
//! fixed, dynamic and differencing disks.
//!
//! Layout (all fields big-endian): a 512-byte footer (`conectix`) at the end
//! of the file, and for dynamic disks a copy of it at byte 0, then a 1024-byte
//! dynamic header (`cxsparse`) pointing to the block allocation table (BAT):
//! one u32 per block, the block's sector in the file (0xFFFFFFFF: not
//! allocated, reads as zeros). Each block is a sector bitmap padded to 512
//! bytes, then the block's data.
//!
//! A differencing disk (type 4) is laid out as a dynamic one; its dynamic
//! header names the parent (locators `W2ru` relative and `W2ku` absolute,
//! UTF-16LE; the older `Wi2r`/`Wi2k`; the parent's file name, UTF-16BE) and
//! records the parent footer's unique ID, which must match. An unallocated
//! block reads from the parent, and so does each sector of an allocated
//! block whose bitmap bit (most significant bit first) is clear.

use std::io;
use std::sync::Arc;

use super::cache::Tables;
use super::{
    Chain, Format, ParentKind, Result, be32, be64, for_each_entry, for_each_run, for_each_unit,
    invalid, read_at, read_parent, read_payload, table_error, truncated,
};
use crate::image::disk::{Disk, Slice, check_range};

pub(crate) const COOKIE: &[u8] = b"conectix";
pub(crate) const TYPE_FIXED: u32 = 2;
const TYPE_DYNAMIC: u32 = 3;
const TYPE_DIFFERENCING: u32 = 4;
const DYNAMIC_COOKIE: &[u8] = b"cxsparse";
const UNALLOCATED: u32 = 0xFFFF_FFFF;
const FOOTER_LEN: u64 = 512;
const DYNAMIC_HEADER_LEN: usize = 1024;

/// The fields of a footer this reader uses.
struct Footer {
    at: u64,
    data_offset: u64,
    current_size: u64,
    disk_type: u32,
    checksum_ok: bool,
    unique_id: [u8; 16],
}

fn footer_at(file: &dyn Disk, format: Format, at: u64) -> Result<Option<Footer>> {
    let mut b = [0u8; FOOTER_LEN as usize];
    read_at(file, format, at, &mut b, "footer")?;
    if !b.starts_with(COOKIE) {
        return Ok(None);
    }
    Ok(Some(Footer {
        at,
        data_offset: be64(&b, 16),
        current_size: be64(&b, 48),
        disk_type: be32(&b, 60),
        checksum_ok: checksum(&b, 64) == be32(&b, 64),
        unique_id: super::array(&b, 68),
    }))
}

/// The one's complement of the byte sum, the checksum field counted as zero.
fn checksum(b: &[u8], field: usize) -> u32 {
    let sum = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field..field + 4).contains(i))
        .fold(0u32, |s, (_, &x)| s.wrapping_add(u32::from(x)));
    !sum
}

/// Opens a VHD whose footer (at the end) or footer copy (at byte 0) was
/// found; returns the refined format (the footer's disk type decides).
pub(crate) fn open(
    file: Arc<dyn Disk>,
    sniffed: Format,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<(Format, Arc<dyn Disk>)> {
    let footer = footer(&*file, sniffed, notes)?;
    match footer.disk_type {
        TYPE_FIXED => {
            let format = Format::VhdFixed;
            // The data is the file up to its footer at the end.
            let data_end = file.size() - FOOTER_LEN;
            if footer.current_size > data_end {
                return Err(truncated(
                    format,
                    data_end,
                    format!("the data of a {}-byte disk", footer.current_size),
                ));
            }
            let disk = Slice::new(file, 0, footer.current_size)
                .map_err(|e| invalid(format, footer.at + 48, e.to_string()))?;
            Ok((format, Arc::new(disk)))
        }
        TYPE_DYNAMIC => Ok((
            Format::VhdDynamic,
            Arc::new(Dynamic::open(file, &footer, None, notes)?),
        )),
        TYPE_DIFFERENCING => Ok((
            Format::VhdDynamic,
            Arc::new(Dynamic::open(file, &footer, Some(chain), notes)?),
        )),
        other => Err(invalid(
            sniffed,
            footer.at + 60,
            format!("unknown disk type {other}"),
        )),
    }
}

/// The footer at the end, or its copy at byte 0 when that one is damaged.
fn footer(file: &dyn Disk, sniffed: Format, notes: &mut Vec<String>) -> Result<Footer> {
    let size = file.size();
    if size < FOOTER_LEN {
        return Err(truncated(sniffed, 0, "512-byte footer"));
    }
    let tail = footer_at(file, sniffed, size - FOOTER_LEN)?;
    let head = if size >= 2 * FOOTER_LEN {
        footer_at(file, sniffed, 0)?
    } else {
        None
    };
    let footer = match (tail, head) {
        (Some(t), _) if t.checksum_ok => t,
        (_, Some(h)) if h.checksum_ok => {
            notes.push(format!(
                "VHD: the footer at byte {} is missing or damaged; using its copy at byte 0",
                size - FOOTER_LEN
            ));
            h
        }
        (Some(t), _) => {
            notes.push(format!("VHD: footer checksum mismatch at byte {}", t.at));
            t
        }
        (None, Some(h)) => {
            notes.push("VHD: footer checksum mismatch at byte 0".into());
            h
        }
        (None, None) => return Err(invalid(sniffed, 0, "no VHD footer (conectix)")),
    };
    Ok(footer)
}

/// The unique ID in a VHD's footer (at the end, else its copy at byte 0),
/// for checking a parent; an error says why there is none.
fn unique_id(file: &dyn Disk) -> Result<[u8; 16], String> {
    let mut notes = Vec::new();
    match footer(file, FORMAT, &mut notes) {
        Ok(f) => Ok(f.unique_id),
        Err(_) => Err("it is not a VHD (no footer)".into()),
    }
}

/// A unique ID as a GUID is written (its first three fields as stored, big
/// endian in a VHD).
fn show_id(id: &[u8; 16]) -> String {
    let h =
        |r: std::ops::Range<usize>| id[r].iter().map(|b| format!("{b:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        h(0..4),
        h(4..6),
        h(6..8),
        h(8..10),
        h(10..16)
    )
}

/// Platform codes of the parent locators this reader follows, in the order
/// tried: relative then absolute Windows paths, UTF-16LE, then the
/// deprecated ones (bytes).
const LOCATORS: [(&[u8; 4], bool); 4] = [
    (b"W2ru", true),
    (b"W2ku", true),
    (b"Wi2r", false),
    (b"Wi2k", false),
];
/// A locator longer than this is not a path.
const MAX_LOCATOR: u64 = 64 * 1024;

/// The names a differencing disk's dynamic header gives its parent, in the
/// order they are tried: the locators, then the parent's file name.
fn parent_names(file: &dyn Disk, h: &[u8], at: u64) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (code, utf16) in LOCATORS {
        for i in 0..8 {
            let e = 576 + i * 24;
            if &h[e..e + 4] != code {
                continue;
            }
            let len = u64::from(be32(h, e + 8));
            let offset = be64(h, e + 16);
            if len > MAX_LOCATOR {
                return Err(invalid(
                    FORMAT,
                    at + e as u64 + 8,
                    format!("parent locator of {len} bytes"),
                ));
            }
            let mut data = vec![0u8; len as usize];
            read_at(file, FORMAT, offset, &mut data, "parent locator")?;
            let name = if utf16 {
                let units: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(&data).into_owned()
            };
            names.push(name.trim_end_matches('\0').to_owned());
        }
    }
    let units: Vec<u16> = h[64..576]
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    names.push(String::from_utf16_lossy(&units));
    names.retain(|n| !n.is_empty());
    if names.is_empty() {
        return Err(invalid(
            FORMAT,
            at + 64,
            "differencing disk without a parent locator or parent name",
        ));
    }
    Ok(names)
}

/// A dynamic VHD: BAT lookups through a page cache, data on demand.
struct Dynamic {
    file: Arc<dyn Disk>,
    tables: Tables,
    size: u64,
    table_offset: u64,
    block_size: u64,
    bitmap_len: u64,
    /// A differencing disk's parent.
    parent: Option<Arc<dyn Disk>>,
}

const FORMAT: Format = Format::VhdDynamic;

impl Dynamic {
    /// A dynamic disk, or with `chain` a differencing one whose parent is
    /// opened through it.
    fn open(
        file: Arc<dyn Disk>,
        footer: &Footer,
        chain: Option<&Chain<'_>>,
        notes: &mut Vec<String>,
    ) -> Result<Self> {
        let at = footer.data_offset;
        let mut h = [0u8; DYNAMIC_HEADER_LEN];
        read_at(&*file, FORMAT, at, &mut h, "dynamic disk header")?;
        if !h.starts_with(DYNAMIC_COOKIE) {
            return Err(invalid(
                FORMAT,
                at,
                "no dynamic disk header (cxsparse) where the footer points",
            ));
        }
        if checksum(&h, 36) != be32(&h, 36) {
            notes.push(format!(
                "VHD: dynamic header checksum mismatch at byte {at}"
            ));
        }
        let table_offset = be64(&h, 16);
        let max_entries = u64::from(be32(&h, 28));
        let block_size = u64::from(be32(&h, 32));
        if !block_size.is_power_of_two() || !(512..=1 << 28).contains(&block_size) {
            return Err(invalid(
                FORMAT,
                at + 32,
                format!("block size {block_size} is not a power of two between 512 B and 256 MiB"),
            ));
        }
        let size = footer.current_size;
        let blocks = size.div_ceil(block_size);
        if blocks > max_entries {
            return Err(invalid(
                FORMAT,
                at + 28,
                format!(
                    "the block allocation table has {max_entries} entries, a disk of {size} bytes needs {blocks}"
                ),
            ));
        }
        // `blocks <= max_entries < 2^32`, so this cannot overflow.
        let table_len = blocks * 4;
        if table_offset
            .checked_add(table_len)
            .is_none_or(|end| end > file.size())
        {
            return Err(truncated(
                FORMAT,
                table_offset,
                format!("block allocation table of {blocks} entries"),
            ));
        }
        let sectors = block_size / 512;
        let bitmap_len = sectors.div_ceil(8).div_ceil(512) * 512;
        let parent = match chain {
            None => None,
            Some(chain) => {
                let names = parent_names(&*file, &h, at)?;
                let want: [u8; 16] = super::array(&h, 40);
                let named = (FORMAT, at + 576);
                let parent = chain.parent(&names, named, ParentKind::Image, |p| {
                    let id = unique_id(p)?;
                    if id == want {
                        Ok(())
                    } else {
                        Err(format!(
                            "the child's dynamic header (byte {}) records the parent unique ID {}, the parent's footer has {}",
                            at + 40,
                            show_id(&want),
                            show_id(&id)
                        ))
                    }
                })?;
                parent.note("VHD differencing disk", notes);
                Some(parent.opened.disk)
            }
        };
        let disk = Dynamic {
            tables: Tables::new(file.clone()),
            file,
            size,
            table_offset,
            block_size,
            bitmap_len,
            parent,
        };
        disk.check_blocks(blocks)?;
        Ok(disk)
    }

    /// Every allocated block must lie inside the file: a cut-off image is an
    /// error when it is opened, not halfway through a read.
    fn check_blocks(&self, blocks: u64) -> Result<()> {
        let at = self.table_offset;
        for_each_entry(
            &*self.file,
            FORMAT,
            at,
            blocks,
            4,
            "block allocation table",
            |block, e| {
                let entry = be32(e, 0);
                if entry == UNALLOCATED {
                    return Ok(());
                }
                let start = u64::from(entry) * 512 + self.bitmap_len;
                let need = self.block_size.min(self.size - block * self.block_size);
                if start + need > self.file.size() {
                    return Err(truncated(
                        FORMAT,
                        start,
                        format!("block {block} (BAT entry at byte {})", at + block * 4),
                    ));
                }
                Ok(())
            },
        )
    }
}

impl Disk for Dynamic {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        for_each_unit(offset, buf, self.block_size, |pos, piece| {
            let block = pos / self.block_size;
            let entry_at = self.table_offset + block * 4;
            let entry = self
                .tables
                .be32(entry_at)
                .map_err(table_error(FORMAT, entry_at))?;
            let data = u64::from(entry) * 512 + self.bitmap_len;
            match (&self.parent, entry == UNALLOCATED) {
                (None, true) => {
                    piece.fill(0);
                    Ok(())
                }
                (None, false) => {
                    let at = data + pos % self.block_size;
                    read_payload(&*self.file, FORMAT, at, piece, "block data")
                }
                (Some(parent), true) => read_parent(&**parent, pos, piece),
                (Some(parent), false) => self.read_differencing(&**parent, entry, pos, piece),
            }
        })
    }
}

impl Dynamic {
    /// Reads an allocated block of a differencing disk: sectors whose
    /// bitmap bit is set from the block, the others from the parent.
    fn read_differencing(
        &self,
        parent: &dyn Disk,
        entry: u32,
        pos: u64,
        piece: &mut [u8],
    ) -> io::Result<()> {
        let bitmap_at = u64::from(entry) * 512;
        let block_start = pos - pos % self.block_size;
        let in_block = pos - block_start;
        // The bitmap bytes of the sectors the piece covers (at most the
        // block's bitmap, 64 KiB for the largest block).
        let first = in_block / 512 / 8;
        let last = (in_block + piece.len() as u64 - 1) / 512 / 8;
        let mut bits = vec![0u8; (last - first + 1) as usize];
        self.tables
            .read(bitmap_at + first, &mut bits)
            .map_err(table_error(FORMAT, bitmap_at + first))?;
        let present = |s: u64| {
            let byte = bits.get((s / 8 - first) as usize).copied().unwrap_or(0);
            byte & (0x80 >> (s % 8)) != 0
        };
        let data = bitmap_at + self.bitmap_len;
        for_each_run(in_block, piece, 512, present, |at, run, own| {
            if own {
                read_payload(&*self.file, FORMAT, data + at, run, "block data")
            } else {
                read_parent(parent, block_start + at, run)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_skips_its_field() {
        let mut b = vec![1u8; 16];
        b[4..8].copy_from_slice(&[9, 9, 9, 9]);
        assert_eq!(checksum(&b, 4), !12u32);
    }
}
