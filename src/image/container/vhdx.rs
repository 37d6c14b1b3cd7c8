//! VHDX ([MS-VHDX]): dynamic, fixed and differencing disks, 512-byte or
//! 4 KiB logical sectors.
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
//!
//! A differencing disk (HasParent in the file parameters) has a parent
//! locator metadata item: UTF-16LE key/value pairs naming the parent
//! (`relative_path`, `absolute_win32_path`, `volume_path`) and the parent's
//! DataWriteGuid when the child was made (`parent_linkage`, or
//! `parent_linkage2`), which must match the parent's header. Its BAT has a
//! sector bitmap entry after every `chunk_ratio` payload entries. A block
//! NOT_PRESENT reads from the parent; in a PARTIALLY_PRESENT block each
//! logical sector whose bit is set in the sector bitmap block (least
//! significant bit first) is read from the block, the others from the
//! parent.

use std::io;
use std::sync::Arc;

use super::cache::Tables;
use super::{
    Chain, Format, ParentKind, Result, for_each_entry, for_each_run, for_each_unit, invalid, le16,
    le32, le64, read_at, read_parent, read_payload, table_error, truncated, unsupported,
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

/// The parent locator type of a VHDX parent.
const LOCATOR_VHDX: [u8; 16] = guid(
    0xB04A_EFB7,
    0xD19E,
    0x4A81,
    [0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13],
);
/// A parent locator item larger than this is not one (the metadata items
/// of [MS-VHDX] are at most 1 MiB).
const MAX_LOCATOR: u64 = MIB;

const STATE_NOT_PRESENT: u64 = 0;
const STATE_FULLY_PRESENT: u64 = 6;
/// A sector bitmap block entry whose block is in the file.
const SB_PRESENT: u64 = 6;
const STATE_PARTIALLY_PRESENT: u64 = 7;
const OFFSET_MASK: u64 = !(MIB - 1);

/// The active header's fields this reader uses.
pub(crate) struct Header {
    pub at: u64,
    pub log_guid: [u8; 16],
    pub log_length: u32,
    pub log_offset: u64,
    /// Changes whenever the disk's data does; a child records its parent's.
    pub data_write_guid: [u8; 16],
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
    logical_sector_size: u64,
    /// A differencing disk's parent.
    parent: Option<Arc<dyn Disk>>,
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
                data_write_guid: super::array(&h, 32),
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

pub(crate) fn open(
    file: Arc<dyn Disk>,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn Disk>> {
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
    // A differencing disk's BAT ends with the sector bitmap entry of its
    // last chunk; a BAT of any other disk, with its last payload entry.
    let entries = match (blocks.checked_sub(1), meta.locator.is_some()) {
        (Some(last), false) => last + last / chunk_ratio + 1,
        (Some(last), true) => (last / chunk_ratio + 1) * (chunk_ratio + 1),
        (None, _) => 0,
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
    let parent = match meta.locator {
        None => None,
        Some(item) => {
            let locator = Locator::read(&*file, item)?;
            let named = (FORMAT, item.0);
            let parent = chain.parent(&locator.paths, named, ParentKind::Image, |p| {
                let header = active_header(p).map_err(|_| "it is not a VHDX (no valid header)")?;
                let guid = show_guid(&header.data_write_guid);
                if locator.linkage.iter().any(|l| l.eq_ignore_ascii_case(&guid)) {
                    Ok(())
                } else {
                    Err(format!(
                        "the child's parent locator (byte {}) records the parent DataWriteGuid {}, the parent's header has {guid}",
                        item.0,
                        locator.linkage.join(" or ")
                    ))
                }
            })?;
            parent.note("VHDX differencing disk", notes);
            Some(parent.opened.disk)
        }
    };
    let disk = Vhdx {
        tables: Tables::new(file.clone()),
        file,
        size: meta.size,
        block_size,
        chunk_ratio,
        bat_offset: bat.offset,
        logical_sector_size: meta.logical_sector_size,
        parent,
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
    /// A differencing disk's parent locator item: its byte offset and length.
    locator: Option<(u64, u64)>,
}

/// A GUID written as VHDX parent locators write it: `{XXXXXXXX-XXXX-...}`.
fn show_guid(g: &[u8; 16]) -> String {
    format!(
        "{{{:08X}-{:04X}-{:04X}-{}-{}}}",
        le32(g, 0),
        le16(g, 4),
        le16(g, 6),
        g[8..10]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>(),
        g[10..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
    )
}

/// What a parent locator says: the parent's paths, in the order tried,
/// and the DataWriteGuids it may have.
struct Locator {
    paths: Vec<String>,
    linkage: Vec<String>,
}

impl Locator {
    fn read(file: &dyn Disk, (at, len): (u64, u64)) -> Result<Locator> {
        if !(20..=MAX_LOCATOR).contains(&len) {
            return Err(invalid(
                FORMAT,
                at,
                format!("parent locator of {len} bytes"),
            ));
        }
        let mut b = vec![0u8; len as usize];
        read_at(file, FORMAT, at, &mut b, "parent locator")?;
        if b[..16] != LOCATOR_VHDX {
            return Err(unsupported(
                FORMAT,
                at,
                "a parent locator of a type other than VHDX",
            ));
        }
        let count = usize::from(le16(&b, 18));
        if 20 + count * 12 > b.len() {
            return Err(invalid(
                FORMAT,
                at + 18,
                format!("{count} parent locator entries do not fit the item of {len} bytes"),
            ));
        }
        let mut pairs = Vec::with_capacity(count);
        for i in 0..count {
            let e = 20 + i * 12;
            let entry_at = at + e as u64;
            let text = |offset: u32, length: u16| -> Result<String> {
                let start = offset as usize;
                let s = start
                    .checked_add(usize::from(length))
                    .and_then(|end| b.get(start..end))
                    .ok_or_else(|| {
                        invalid(
                            FORMAT,
                            entry_at,
                            "a parent locator key or value lies outside the item",
                        )
                    })?;
                let units: Vec<u16> = s
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Ok(String::from_utf16_lossy(&units))
            };
            let key = text(le32(&b, e), le16(&b, e + 8))?;
            let value = text(le32(&b, e + 4), le16(&b, e + 10))?;
            pairs.push((key, value));
        }
        let get = |k: &str| {
            pairs
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        let paths: Vec<String> = ["relative_path", "absolute_win32_path", "volume_path"]
            .iter()
            .flat_map(|k| get(k))
            .collect();
        let linkage: Vec<String> = ["parent_linkage", "parent_linkage2"]
            .iter()
            .flat_map(|k| get(k))
            .collect();
        if paths.is_empty() {
            return Err(invalid(
                FORMAT,
                at,
                "the parent locator names no parent path",
            ));
        }
        if linkage.is_empty() {
            return Err(invalid(
                FORMAT,
                at,
                "the parent locator has no parent_linkage",
            ));
        }
        Ok(Locator { paths, linkage })
    }
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
        let (mut params, mut size, mut sector, mut locator) = (None, None, None, None);
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
                value(0)?;
                locator = Some((at + offset, length));
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
        let locator = match (flags & 2 != 0, locator) {
            (true, None) => {
                return Err(invalid(
                    FORMAT,
                    params_at + 4,
                    "differencing disk (HasParent is set) without a parent locator",
                ));
            }
            (false, _) => None,
            (true, l) => l,
        };
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
            locator,
        })
    }
}

impl Vhdx {
    fn entry_at(&self, block: u64) -> u64 {
        self.bat_offset + (block + block / self.chunk_ratio) * 8
    }

    /// The BAT entry of the sector bitmap block for `block`'s chunk.
    fn bitmap_entry_at(&self, block: u64) -> u64 {
        let chunk = block / self.chunk_ratio;
        self.bat_offset + (chunk * (self.chunk_ratio + 1) + self.chunk_ratio) * 8
    }

    /// Every present block must lie inside the file and every state be one
    /// the disk may use (partially present only with a parent).
    fn check_bat(&self, entries: u64) -> Result<()> {
        let at = self.bat_offset;
        let blocks = self.size.div_ceil(self.block_size);
        for_each_entry(&*self.file, FORMAT, at, entries, 8, "BAT", |index, e| {
            if index % (self.chunk_ratio + 1) == self.chunk_ratio {
                return self.check_bitmap_entry(le64(e, 0), at + index * 8);
            }
            let block = index - index / (self.chunk_ratio + 1);
            if block >= blocks {
                return Ok(()); // past the disk's end, in the last chunk
            }
            self.check_entry(block, le64(e, 0), at + index * 8)
        })
    }

    /// A sector bitmap block must lie inside the file (only a differencing
    /// disk reads them).
    fn check_bitmap_entry(&self, entry: u64, at: u64) -> Result<()> {
        if self.parent.is_none() || entry & 7 != SB_PRESENT {
            return Ok(());
        }
        let start = entry & OFFSET_MASK;
        if start
            .checked_add(MIB)
            .is_none_or(|end| end > self.file.size())
        {
            return Err(truncated(
                FORMAT,
                start,
                format!("sector bitmap block (BAT entry at byte {at})"),
            ));
        }
        Ok(())
    }

    fn check_entry(&self, block: u64, entry: u64, at: u64) -> Result<()> {
        match entry & 7 {
            0..=3 => Ok(()),
            STATE_PARTIALLY_PRESENT if self.parent.is_none() => Err(invalid(
                FORMAT,
                at,
                format!("payload block {block} is partially present, in a disk without a parent"),
            )),
            STATE_FULLY_PRESENT | STATE_PARTIALLY_PRESENT => {
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
            let state = entry & 7;
            if state == STATE_FULLY_PRESENT {
                let start = (entry & OFFSET_MASK) + pos % self.block_size;
                return read_payload(&*self.file, FORMAT, start, piece, "payload block");
            }
            self.check_entry(block, entry, at)?;
            match &self.parent {
                Some(parent) if state == STATE_NOT_PRESENT => read_parent(&**parent, pos, piece),
                Some(parent) if state == STATE_PARTIALLY_PRESENT => {
                    self.read_partial(&**parent, block, entry, pos, piece)
                }
                // Undefined, zero and unmapped blocks read as zeros.
                _ => {
                    piece.fill(0);
                    Ok(())
                }
            }
        })
    }
}

impl Vhdx {
    /// Reads a partially present block of a differencing disk: sectors set
    /// in its chunk's sector bitmap from the block, the others from the
    /// parent.
    fn read_partial(
        &self,
        parent: &dyn Disk,
        block: u64,
        entry: u64,
        pos: u64,
        piece: &mut [u8],
    ) -> io::Result<()> {
        let sb_at = self.bitmap_entry_at(block);
        let sb = self
            .tables
            .le64(sb_at)
            .map_err(table_error(FORMAT, sb_at))?;
        if sb & 7 != SB_PRESENT {
            return Err(invalid(
                FORMAT,
                sb_at,
                format!(
                    "payload block {block} is partially present, but its sector bitmap block is not"
                ),
            )
            .into());
        }
        self.check_bitmap_entry(sb, sb_at)?;
        let sector = self.logical_sector_size;
        let block_start = block * self.block_size;
        let in_block = pos - block_start;
        // The block's bits within the 1 MiB bitmap, then the piece's bytes
        // of them (at most block_size / sector / 8 bytes, 64 KiB).
        let block_bits = (block % self.chunk_ratio) * (self.block_size / sector) / 8;
        let first = in_block / sector / 8;
        let last = (in_block + piece.len() as u64 - 1) / sector / 8;
        let bits_at = (sb & OFFSET_MASK) + block_bits + first;
        let mut bits = vec![0u8; (last - first + 1) as usize];
        self.tables
            .read(bits_at, &mut bits)
            .map_err(table_error(FORMAT, bits_at))?;
        let present = |s: u64| {
            let byte = bits.get((s / 8 - first) as usize).copied().unwrap_or(0);
            byte & (1 << (s % 8)) != 0
        };
        let data = entry & OFFSET_MASK;
        for_each_run(in_block, piece, sector, present, |at, run, own| {
            if own {
                read_payload(&*self.file, FORMAT, data + at, run, "payload block")
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
