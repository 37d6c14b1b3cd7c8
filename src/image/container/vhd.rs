//! VHD (Microsoft "Virtual Hard Disk Image Format Specification" 1.0):
//! fixed and dynamic disks. Differencing disks are refused: their
//! unallocated blocks live in a parent image.
//!
//! Layout (all fields big-endian): a 512-byte footer (`conectix`) at the end
//! of the file, and for dynamic disks a copy of it at byte 0, then a 1024-byte
//! dynamic header (`cxsparse`) pointing to the block allocation table (BAT):
//! one u32 per block, the block's sector in the file (0xFFFFFFFF: not
//! allocated, reads as zeros). Each block is a sector bitmap padded to 512
//! bytes, then the block's data.

use std::io;
use std::sync::Arc;

use super::cache::Tables;
use super::{
    Format, Result, be32, be64, for_each_entry, for_each_unit, invalid, read_at, read_payload,
    table_error, truncated, unsupported,
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
    notes: &mut Vec<String>,
) -> Result<(Format, Arc<dyn Disk>)> {
    let size = file.size();
    if size < FOOTER_LEN {
        return Err(truncated(sniffed, 0, "512-byte footer"));
    }
    let tail = footer_at(&*file, sniffed, size - FOOTER_LEN)?;
    let head = if size >= 2 * FOOTER_LEN {
        footer_at(&*file, sniffed, 0)?
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
    match footer.disk_type {
        TYPE_FIXED => {
            let format = Format::VhdFixed;
            // The data is the file up to its footer at the end.
            let data_end = size - FOOTER_LEN;
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
            Arc::new(Dynamic::open(file, &footer, notes)?),
        )),
        TYPE_DIFFERENCING => Err(unsupported(
            Format::VhdDynamic,
            footer.at + 60,
            "differencing disk: its unallocated blocks live in a parent image, open the parent (or merge the chain) instead",
        )),
        other => Err(invalid(
            sniffed,
            footer.at + 60,
            format!("unknown disk type {other}"),
        )),
    }
}

/// A dynamic VHD: BAT lookups through a page cache, data on demand.
struct Dynamic {
    file: Arc<dyn Disk>,
    tables: Tables,
    size: u64,
    table_offset: u64,
    block_size: u64,
    bitmap_len: u64,
}

const FORMAT: Format = Format::VhdDynamic;

impl Dynamic {
    fn open(file: Arc<dyn Disk>, footer: &Footer, notes: &mut Vec<String>) -> Result<Self> {
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
        let disk = Dynamic {
            tables: Tables::new(file.clone()),
            file,
            size,
            table_offset,
            block_size,
            bitmap_len,
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
            if entry == UNALLOCATED {
                piece.fill(0);
                return Ok(());
            }
            let at = u64::from(entry) * 512 + self.bitmap_len + pos % self.block_size;
            read_payload(&*self.file, FORMAT, at, piece, "block data")
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
