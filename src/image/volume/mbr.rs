//! The master boot record and the extended boot record chain.
//!
//! Sector 0 holds four 16-byte entries at 0x1BE and the signature 55 AA:
//! boot flag (0x00 or 0x80), CHS start, type, CHS end, start LBA (u32),
//! sector count (u32). An extended partition (type 0x05, 0x0F or 0x85)
//! holds a chain of EBRs: each has the logical partition in its first entry
//! (start relative to that EBR) and the next EBR in its second (start
//! relative to the extended partition). LBAs are 512-byte sectors here.
//!
//! A volume boot record (an NTFS or FAT boot sector on a disk with no table)
//! also ends in 55 AA, so a sector whose OEM id names a file system, or
//! whose entries are not plausible, is not taken for an MBR.

use super::{VolumeError, VolumeKind, boot_sector_kind, read_at};
use crate::image::disk::Disk;

pub const SECTOR: u64 = 512;
const TABLE: usize = 0x1BE;
/// The most logical partitions followed along an EBR chain.
pub const MAX_LOGICAL: usize = 128;

/// What sector 0 holds.
#[derive(Debug)]
pub enum Table {
    /// No MBR: a volume boot record, zeros, or garbage.
    None,
    /// A protective (or hybrid) MBR: type 0xEE, so a GPT follows.
    Protective,
    /// The partitions of an MBR, extended containers left out.
    Partitions(Vec<Partition>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// 1-4 for primary partitions, 5 on for logical ones.
    pub number: usize,
    pub kind: u8,
    pub logical: bool,
    pub bootable: bool,
    /// Bytes.
    pub start: u64,
    pub len: u64,
}

impl Partition {
    pub fn description(&self) -> String {
        format!(
            "MBR partition {} ({}type {:#04x} {})",
            self.number,
            if self.logical { "logical, " } else { "" },
            self.kind,
            type_name(self.kind)
        )
    }
}

/// Common MBR partition types.
pub fn type_name(kind: u8) -> &'static str {
    match kind {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0E => "FAT16",
        0x05 | 0x0F | 0x85 => "extended",
        0x07 => "NTFS/exFAT",
        0x0B | 0x0C => "FAT32",
        0x12 => "OEM recovery",
        0x17 | 0x27 => "hidden NTFS/recovery",
        0x42 => "Windows dynamic disk (LDM)",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x8E => "Linux LVM",
        0xEE => "GPT protective",
        0xEF => "EFI system",
        _ => "other",
    }
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

struct RawEntry {
    boot: u8,
    kind: u8,
    lba: u32,
    sectors: u32,
}

fn entries(sector: &[u8; 512]) -> [RawEntry; 4] {
    std::array::from_fn(|i| {
        let e = &sector[TABLE + 16 * i..TABLE + 16 * (i + 1)];
        RawEntry {
            boot: e[0],
            kind: e[4],
            lba: u32::from_le_bytes([e[8], e[9], e[10], e[11]]),
            sectors: u32::from_le_bytes([e[12], e[13], e[14], e[15]]),
        }
    })
}

/// Reads the MBR of `disk` and the EBR chain of its extended partition.
pub fn read(disk: &dyn Disk) -> Result<Table, VolumeError> {
    if disk.size() < SECTOR {
        return Ok(Table::None);
    }
    let mut sector = [0u8; 512];
    read_at(disk, "MBR", 0, &mut sector)?;
    if sector[510..512] != [0x55, 0xAA] {
        return Ok(Table::None);
    }
    // A volume boot record: a file system starts at sector 0.
    if !matches!(
        boot_sector_kind(&sector),
        VolumeKind::Other(ref s) if s == "unknown file system" || s == "empty: no file system"
    ) {
        return Ok(Table::None);
    }
    let primary = entries(&sector);
    let plausible = primary
        .iter()
        .all(|e| (e.boot == 0 || e.boot == 0x80) && (e.kind == 0 || e.lba != 0 || e.kind == 0xEE));
    if !plausible || primary.iter().all(|e| e.kind == 0) {
        return Ok(Table::None);
    }
    if primary.iter().any(|e| e.kind == 0xEE) {
        return Ok(Table::Protective);
    }

    let mut parts = Vec::new();
    let mut extended = None;
    for (i, e) in primary.iter().enumerate() {
        if e.kind == 0 || e.sectors == 0 {
            continue;
        }
        if is_extended(e.kind) {
            // Only the first extended partition is followed, as Windows does.
            extended.get_or_insert((e.lba as u64, e.sectors as u64));
            continue;
        }
        parts.push(Partition {
            number: i + 1,
            kind: e.kind,
            logical: false,
            bootable: e.boot == 0x80,
            start: e.lba as u64 * SECTOR,
            len: e.sectors as u64 * SECTOR,
        });
    }
    if let Some((ext_lba, ext_sectors)) = extended {
        logical(disk, ext_lba, ext_sectors, &mut parts)?;
    }
    Ok(Table::Partitions(parts))
}

/// Follows the EBR chain of the extended partition at `ext_lba`.
fn logical(
    disk: &dyn Disk,
    ext_lba: u64,
    ext_sectors: u64,
    parts: &mut Vec<Partition>,
) -> Result<(), VolumeError> {
    let ext_end = ext_lba + ext_sectors;
    let mut seen = Vec::new();
    let mut ebr = ext_lba;
    let mut number = 5;
    loop {
        let offset = ebr * SECTOR;
        if seen.contains(&ebr) {
            return Err(VolumeError::Mbr {
                offset,
                reason: "the extended boot record chain loops".into(),
            });
        }
        if seen.len() >= MAX_LOGICAL {
            return Err(VolumeError::Mbr {
                offset,
                reason: format!("more than {MAX_LOGICAL} logical partitions"),
            });
        }
        seen.push(ebr);
        if offset.saturating_add(SECTOR) > disk.size() {
            return Err(VolumeError::Mbr {
                offset,
                reason: format!(
                    "extended boot record past the end of the disk ({} bytes): the image is truncated",
                    disk.size()
                ),
            });
        }
        let mut sector = [0u8; 512];
        read_at(disk, "MBR", offset, &mut sector)?;
        if sector[510..512] != [0x55, 0xAA] {
            return Err(VolumeError::Mbr {
                offset,
                reason: "extended boot record without the 55 AA signature".into(),
            });
        }
        let [first, next, ..] = entries(&sector);
        if first.kind != 0 && first.sectors != 0 {
            let start = ebr + first.lba as u64;
            let end = start + first.sectors as u64;
            if first.lba == 0 || end > ext_end {
                return Err(VolumeError::Mbr {
                    offset,
                    reason: format!(
                        "logical partition {number} (sectors {start}..{end}) lies outside its extended partition (sectors {ext_lba}..{ext_end})"
                    ),
                });
            }
            parts.push(Partition {
                number,
                kind: first.kind,
                logical: true,
                bootable: first.boot == 0x80,
                start: start * SECTOR,
                len: first.sectors as u64 * SECTOR,
            });
            number += 1;
        }
        if next.kind == 0 || next.lba == 0 {
            return Ok(());
        }
        ebr = ext_lba + next.lba as u64;
        if ebr >= ext_end {
            return Err(VolumeError::Mbr {
                offset,
                reason: format!(
                    "the next extended boot record (sector {ebr}) lies outside the extended partition (sectors {ext_lba}..{ext_end})"
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sector: &mut [u8], i: usize, kind: u8, lba: u32, sectors: u32) {
        let e = &mut sector[TABLE + 16 * i..TABLE + 16 * (i + 1)];
        e[4] = kind;
        e[8..12].copy_from_slice(&lba.to_le_bytes());
        e[12..16].copy_from_slice(&sectors.to_le_bytes());
    }

    fn disk(sectors: usize) -> Vec<u8> {
        vec![0u8; sectors * 512]
    }

    fn sign(disk: &mut [u8], lba: usize) {
        disk[lba * 512 + 510] = 0x55;
        disk[lba * 512 + 511] = 0xAA;
    }

    #[test]
    fn primary_and_logical_partitions() {
        let mut d = disk(400);
        sign(&mut d, 0);
        entry(&mut d[..512], 0, 0x07, 10, 50);
        entry(&mut d[..512], 1, 0x0F, 100, 300);
        // EBR 1 at 100: logical at 100+2, next EBR at 100+150.
        sign(&mut d, 100);
        entry(&mut d[100 * 512..101 * 512], 0, 0x07, 2, 40);
        entry(&mut d[100 * 512..101 * 512], 1, 0x05, 150, 100);
        sign(&mut d, 250);
        entry(&mut d[250 * 512..251 * 512], 0, 0x83, 2, 30);
        let Table::Partitions(parts) = read(&d).unwrap() else {
            panic!("an MBR")
        };
        let got: Vec<(usize, u8, u64, u64)> = parts
            .iter()
            .map(|p| (p.number, p.kind, p.start / 512, p.len / 512))
            .collect();
        assert_eq!(got, [(1, 7, 10, 50), (5, 7, 102, 40), (6, 0x83, 252, 30)]);
        assert_eq!(
            parts[1].description(),
            "MBR partition 5 (logical, type 0x07 NTFS/exFAT)"
        );
    }

    #[test]
    fn ebr_loops_and_strays_are_errors() {
        let mut d = disk(400);
        sign(&mut d, 0);
        entry(&mut d[..512], 0, 0x05, 100, 300);
        sign(&mut d, 100);
        entry(&mut d[100 * 512..101 * 512], 0, 0x07, 2, 40);
        // The next EBR is the first one again.
        entry(&mut d[100 * 512..101 * 512], 1, 0x05, 0, 100);
        assert!(matches!(read(&d), Ok(Table::Partitions(p)) if p.len() == 1));
        entry(&mut d[100 * 512..101 * 512], 1, 0x05, 50, 100);
        sign(&mut d, 150);
        entry(&mut d[150 * 512..151 * 512], 1, 0x05, 50, 100);
        let err = read(&d).unwrap_err().to_string();
        assert!(err.contains("MBR") && err.contains("loops"), "{err}");
        entry(&mut d[150 * 512..151 * 512], 1, 0x05, 5000, 100);
        let err = read(&d).unwrap_err().to_string();
        assert!(err.contains("outside the extended partition"), "{err}");
    }

    #[test]
    fn not_an_mbr() {
        let mut d = disk(4);
        assert!(matches!(read(&d), Ok(Table::None)));
        sign(&mut d, 0);
        assert!(matches!(read(&d), Ok(Table::None)), "no entries");
        d[3..11].copy_from_slice(b"NTFS    ");
        entry(&mut d[..512], 0, 0x07, 1, 2);
        assert!(matches!(read(&d), Ok(Table::None)), "an NTFS boot sector");
        d[3..11].copy_from_slice(b"\0\0\0\0\0\0\0\0");
        d[TABLE] = 0x12;
        assert!(matches!(read(&d), Ok(Table::None)), "bad boot flag");
        d[TABLE] = 0;
        entry(&mut d[..512], 1, 0xEE, 1, 3);
        assert!(matches!(read(&d), Ok(Table::Protective)));
        assert!(matches!(read(&vec![0u8; 100]), Ok(Table::None)));
    }
}
