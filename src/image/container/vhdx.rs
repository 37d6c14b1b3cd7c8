//! VHDX ([MS-VHDX]): dynamic and fixed disks, 512-byte or 4 KiB logical
//! sectors. Differencing disks (a parent locator) are refused.
//!
//! Layout (little-endian): the file type identifier `vhdxfile` at 0, two
//! headers (`head`, CRC-32C) at 64 KiB and 128 KiB (the valid one with the
//! higher sequence number wins), two copies of the region table (`regi`) at
//! 192 KiB and 256 KiB naming the BAT and metadata regions. The metadata
//! gives the block size, virtual size and logical sector size. BAT entries
//! are u64: state in bits 0–2, file offset in MiB in bits 20–63; after every
//! `chunk_ratio` payload entries comes one sector-bitmap entry.
//!
//! A header with a non-zero log GUID means the image was not closed cleanly
//! (a running or crashed VM): its log is replayed in memory
//! (`vhdx_log`), never written back.

use std::io;
use std::sync::Arc;

use super::cache::Tables;
use super::{
    Format, Result, for_each_entry, for_each_unit, invalid, le16, le32, le64, read_at,
    read_payload, table_error, truncated, unsupported,
};
use crate::image::crc::crc32c;
use crate::image::disk::{Disk, check_range};

pub(crate) const MAGIC: &[u8] = b"vhdxfile";
const FORMAT: Format = Format::Vhdx;
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const HEADERS: [u64; 2] = [64 * KIB, 128 * KIB];
const REGION_TABLES: [u64; 2] = [192 * KIB, 256 * KIB];
const HEADER_LEN: usize = 4096;
const REGION_TABLE_LEN: usize = 64 * 1024;
const METADATA_TABLE_LEN: usize = 64 * 1024;
const MAX_ENTRIES: u64 = 2047;

/// A GUID as stored on disk: the first three fields little-endian.
const fn guid(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

const BAT_REGION: [u8; 16] = guid(
    0x2DC2_7766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
const METADATA_REGION: [u8; 16] = guid(
    0x8B7C_A206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xCAA1_6737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2FA5_4224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
const LOGICAL_SECTOR_SIZE: [u8; 16] = guid(
    0x8141_BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
const PHYSICAL_SECTOR_SIZE: [u8; 16] = guid(
    0xCDA3_48C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
const VIRTUAL_DISK_ID: [u8; 16] = guid(
    0xBECA_12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
const PARENT_LOCATOR: [u8; 16] = guid(
    0xA8D3_5F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);

const STATE_FULLY_PRESENT: u64 = 6;
const STATE_PARTIALLY_PRESENT: u64 = 7;
const OFFSET_MASK: u64 = !(MIB - 1);

/// The active header's fields this reader uses.
pub(crate) struct Header {
    pub at: u64,
    pub log_guid: [u8; 16],
    pub log_length: u32,
    pub log_offset: u64,
}

/// A region (BAT, metadata) of the file.
#[derive(Clone, Copy)]
struct Region {
    offset: u64,
    length: u64,
}

struct Vhdx {
    file: Arc<dyn Disk>,
    tables: Tables,
    size: u64,
    block_size: u64,
    chunk_ratio: u64,
    bat_offset: u64,
}

/// CRC-32C of `data` with its 4-byte checksum field at `field` counted as
/// zero, compared with the stored value.
pub(crate) fn checksum_ok(data: &mut [u8], field: usize) -> bool {
    let stored = le32(data, field);
    let Some(f) = data.get_mut(field..field + 4) else {
        return false;
    };
    f.fill(0);
    let ok = crc32c(data) == stored;
    if let Some(f) = data.get_mut(field..field + 4) {
        f.copy_from_slice(&stored.to_le_bytes());
    }
    ok
}

fn active_header(file: &dyn Disk) -> Result<Header> {
    let mut best: Option<(u64, Header)> = None;
    for at in HEADERS {
        let mut h = vec![0u8; HEADER_LEN];
        read_at(file, FORMAT, at, &mut h, "header")?;
        if !h.starts_with(b"head") || !checksum_ok(&mut h, 4) {
            continue;
        }
        let seq = le64(&h, 8);
        if best.as_ref().is_some_and(|(s, _)| *s >= seq) {
            continue;
        }
        let version = le16(&h, 66);
        if version != 1 {
            return Err(unsupported(FORMAT, at + 66, format!("version {version}")));
        }
        let mut log_guid = [0u8; 16];
        log_guid.copy_from_slice(&h[48..64]);
        best = Some((
            seq,
            Header {
                at,
                log_guid,
                log_length: le32(&h, 68),
                log_offset: le64(&h, 72),
            },
        ));
    }
    best.map(|(_, h)| h).ok_or_else(|| {
        invalid(
            FORMAT,
            HEADERS[0],
            "no valid header (signature 'head' with a good CRC-32C) at 64 KiB or 128 KiB",
        )
    })
}

pub(crate) fn open(file: Arc<dyn Disk>, notes: &mut Vec<String>) -> Result<Arc<dyn Disk>> {
    let header = active_header(&*file)?;
    let mut file = file;
    if header.log_guid != [0u8; 16] {
        if let Some(replayed) = super::vhdx_log::replay(file.clone(), &header, notes)? {
            file = Arc::new(replayed);
        }
    }
    let (bat, metadata) = regions(&*file, notes)?;
    let meta = Metadata::read(&*file, metadata)?;
    if meta.logical_sector_size == 4096 {
        notes.push("VHDX: 4096-byte logical sectors".into());
    }
    let block_size = meta.block_size;
    let chunk_ratio = (1u64 << 23) * meta.logical_sector_size / block_size;
    let blocks = meta.size.div_ceil(block_size);
    let entries = match blocks.checked_sub(1) {
        Some(last) => last + last / chunk_ratio + 1,
        None => 0,
    };
    if entries * 8 > bat.length {
        return Err(invalid(
            FORMAT,
            bat.offset,
            format!(
                "the BAT region holds {} entries, a disk of {} bytes needs {entries}",
                bat.length / 8,
                meta.size
            ),
        ));
    }
    let disk = Vhdx {
        tables: Tables::new(file.clone()),
        file,
        size: meta.size,
        block_size,
        chunk_ratio,
        bat_offset: bat.offset,
    };
    disk.check_bat(entries)?;
    Ok(Arc::new(disk))
}

/// The BAT and metadata regions from the first valid region table.
fn regions(file: &dyn Disk, notes: &mut Vec<String>) -> Result<(Region, Region)> {
    let mut last_error = None;
    for (n, at) in REGION_TABLES.into_iter().enumerate() {
        match region_table(file, at) {
            Ok(r) => {
                if n > 0 {
                    notes.push(format!(
                        "VHDX: the region table at byte {} is damaged; using its copy at byte {at}",
                        REGION_TABLES[0]
                    ));
                }
                return Ok(r);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| invalid(FORMAT, REGION_TABLES[0], "no region table")))
}

fn region_table(file: &dyn Disk, at: u64) -> Result<(Region, Region)> {
    let mut t = vec![0u8; REGION_TABLE_LEN];
    read_at(file, FORMAT, at, &mut t, "region table")?;
    if !t.starts_with(b"regi") || !checksum_ok(&mut t, 4) {
        return Err(invalid(
            FORMAT,
            at,
            "no valid region table (signature 'regi' with a good CRC-32C)",
        ));
    }
    let count = u64::from(le32(&t, 8));
    if count > MAX_ENTRIES {
        return Err(invalid(
            FORMAT,
            at + 8,
            format!("{count} region table entries (at most {MAX_ENTRIES})"),
        ));
    }
    let (mut bat, mut metadata) = (None, None);
    for i in 0..count as usize {
        let e = 16 + i * 32;
        let entry_at = at + e as u64;
        let id = &t[e..e + 16];
        let region = Region {
            offset: le64(&t, e + 16),
            length: u64::from(le32(&t, e + 24)),
        };
        let required = le32(&t, e + 28) & 1 != 0;
        if id == BAT_REGION {
            bat = Some(region);
        } else if id == METADATA_REGION {
            metadata = Some(region);
        } else if required {
            return Err(unsupported(
                FORMAT,
                entry_at,
                "a required region this reader does not know",
            ));
        } else {
            continue;
        }
        if region.offset % MIB != 0 || region.length % MIB != 0 {
            return Err(invalid(
                FORMAT,
                entry_at,
                format!(
                    "region at byte {} of {} bytes is not aligned to 1 MiB",
                    region.offset, region.length
                ),
            ));
        }
        if region
            .offset
            .checked_add(region.length)
            .is_none_or(|end| end > file.size())
        {
            return Err(truncated(
                FORMAT,
                region.offset,
                format!(
                    "region of {} bytes (region table entry at byte {entry_at})",
                    region.length
                ),
            ));
        }
    }
    match (bat, metadata) {
        (Some(b), Some(m)) => Ok((b, m)),
        (None, _) => Err(invalid(FORMAT, at, "the region table names no BAT")),
        (_, None) => Err(invalid(
            FORMAT,
            at,
            "the region table names no metadata region",
        )),
    }
}

struct Metadata {
    block_size: u64,
    size: u64,
    logical_sector_size: u64,
}

impl Metadata {
    fn read(file: &dyn Disk, region: Region) -> Result<Self> {
        let at = region.offset;
        if region.length < METADATA_TABLE_LEN as u64 {
            return Err(invalid(
                FORMAT,
                at,
                format!("metadata region of {} bytes, under 64 KiB", region.length),
            ));
        }
        let mut t = vec![0u8; METADATA_TABLE_LEN];
        read_at(file, FORMAT, at, &mut t, "metadata table")?;
        if !t.starts_with(b"metadata") {
            return Err(invalid(
                FORMAT,
                at,
                "no metadata table (signature 'metadata')",
            ));
        }
        let count = u64::from(le16(&t, 10));
        if count > MAX_ENTRIES {
            return Err(invalid(
                FORMAT,
                at + 10,
                format!("{count} metadata entries (at most {MAX_ENTRIES})"),
            ));
        }
        let (mut params, mut size, mut sector) = (None, None, None);
        for i in 0..count as usize {
            let e = 32 + i * 32;
            let entry_at = at + e as u64;
            let id = &t[e..e + 16];
            let offset = u64::from(le32(&t, e + 16));
            let length = u64::from(le32(&t, e + 20));
            let required = le32(&t, e + 24) & 4 != 0;
            let value = |want: usize| -> Result<Vec<u8>> {
                if (length as usize) < want
                    || offset
                        .checked_add(length)
                        .is_none_or(|end| end > region.length)
                {
                    return Err(invalid(
                        FORMAT,
                        entry_at,
                        format!(
                            "metadata item of {length} bytes at {offset} does not fit the region"
                        ),
                    ));
                }
                let mut v = vec![0u8; want];
                read_at(file, FORMAT, at + offset, &mut v, "metadata item")?;
                Ok(v)
            };
            if id == FILE_PARAMETERS {
                let v = value(8)?;
                params = Some((u64::from(le32(&v, 0)), le32(&v, 4), at + offset));
            } else if id == VIRTUAL_DISK_SIZE {
                size = Some((le64(&value(8)?, 0), at + offset));
            } else if id == LOGICAL_SECTOR_SIZE {
                sector = Some((u64::from(le32(&value(4)?, 0)), at + offset));
            } else if id == PARENT_LOCATOR {
                return Err(unsupported(
                    FORMAT,
                    entry_at,
                    "differencing disk (it has a parent locator): its unallocated blocks live in the parent",
                ));
            } else if id == PHYSICAL_SECTOR_SIZE || id == VIRTUAL_DISK_ID || !required {
                continue;
            } else {
                return Err(unsupported(
                    FORMAT,
                    entry_at,
                    "a required metadata item this reader does not know",
                ));
            }
        }
        let (block_size, flags, params_at) =
            params.ok_or_else(|| invalid(FORMAT, at, "no file parameters metadata item"))?;
        let (size, size_at) =
            size.ok_or_else(|| invalid(FORMAT, at, "no virtual disk size metadata item"))?;
        let (logical_sector_size, sector_at) =
            sector.ok_or_else(|| invalid(FORMAT, at, "no logical sector size metadata item"))?;
        if flags & 2 != 0 {
            return Err(unsupported(
                FORMAT,
                params_at + 4,
                "differencing disk (HasParent is set): its unallocated blocks live in the parent",
            ));
        }
        if !block_size.is_power_of_two() || !(MIB..=256 * MIB).contains(&block_size) {
            return Err(invalid(
                FORMAT,
                params_at,
                format!("block size {block_size} is not a power of two between 1 MiB and 256 MiB"),
            ));
        }
        if logical_sector_size != 512 && logical_sector_size != 4096 {
            return Err(invalid(
                FORMAT,
                sector_at,
                format!("logical sector size {logical_sector_size} (512 or 4096)"),
            ));
        }
        if size > 64 * MIB * MIB || size % logical_sector_size != 0 {
            return Err(invalid(
                FORMAT,
                size_at,
                format!(
                    "virtual size {size} is over 64 TiB or not a multiple of the {logical_sector_size}-byte sector"
                ),
            ));
        }
        Ok(Metadata {
            block_size,
            size,
            logical_sector_size,
        })
    }
}

impl Vhdx {
    fn entry_at(&self, block: u64) -> u64 {
        self.bat_offset + (block + block / self.chunk_ratio) * 8
    }

    /// Every present block must lie inside the file and every state be one a
    /// disk without a parent may use.
    fn check_bat(&self, entries: u64) -> Result<()> {
        let at = self.bat_offset;
        for_each_entry(&*self.file, FORMAT, at, entries, 8, "BAT", |index, e| {
            if index % (self.chunk_ratio + 1) == self.chunk_ratio {
                return Ok(()); // a sector bitmap entry
            }
            let block = index - index / (self.chunk_ratio + 1);
            self.check_entry(block, le64(e, 0), at + index * 8)
        })
    }

    fn check_entry(&self, block: u64, entry: u64, at: u64) -> Result<()> {
        match entry & 7 {
            0..=3 => Ok(()),
            STATE_FULLY_PRESENT => {
                let start = entry & OFFSET_MASK;
                let need = self.block_size.min(self.size - block * self.block_size);
                if start
                    .checked_add(need)
                    .is_none_or(|end| end > self.file.size())
                {
                    Err(truncated(
                        FORMAT,
                        start,
                        format!("payload block {block} (BAT entry at byte {at})"),
                    ))
                } else {
                    Ok(())
                }
            }
            STATE_PARTIALLY_PRESENT => Err(invalid(
                FORMAT,
                at,
                format!("payload block {block} is partially present, in a disk without a parent"),
            )),
            s => Err(invalid(
                FORMAT,
                at,
                format!("payload block {block} has the reserved state {s}"),
            )),
        }
    }
}

impl Disk for Vhdx {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        for_each_unit(offset, buf, self.block_size, |pos, piece| {
            let block = pos / self.block_size;
            let at = self.entry_at(block);
            let entry = self.tables.le64(at).map_err(table_error(FORMAT, at))?;
            if entry & 7 == STATE_FULLY_PRESENT {
                let start = (entry & OFFSET_MASK) + pos % self.block_size;
                read_payload(&*self.file, FORMAT, start, piece, "payload block")
            } else {
                self.check_entry(block, entry, at)?;
                piece.fill(0);
                Ok(())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_byte_order() {
        assert_eq!(
            BAT_REGION,
            [
                0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD,
                0x4A, 0x08
            ]
        );
    }
}
