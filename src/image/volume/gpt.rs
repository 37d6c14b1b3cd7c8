//! The GUID partition table (UEFI specification, chapter 5.3).
//!
//! The header sits at LBA 1, the backup at the last LBA; the sector size
//! (512 or 4096) is found by looking for the `EFI PART` signature at both.
//! Header fields used (little-endian): header size (12), header CRC32 (16,
//! computed with the field zeroed), my LBA (24), alternate LBA (32), entry
//! array LBA (72), entry count (80), entry size (84), entry array CRC32
//! (88). An entry: type GUID (0), unique GUID (16), first LBA (32), last
//! LBA (40, inclusive), attributes (48), name (56, 36 UTF-16LE units).
//!
//! A header or entry array whose CRC does not match is noted, and the
//! backup is tried; when neither matches, the primary is read anyway if its
//! fields are sane. An entry array over [`MAX_ENTRY_BYTES`] is refused.

use super::{VolumeError, read_at};
use crate::image::crc::crc32;
use crate::image::disk::Disk;

/// The largest partition entry array read (the usual one is 16 KiB).
pub const MAX_ENTRY_BYTES: u64 = 4 << 20;
const SIGNATURE: &[u8; 8] = b"EFI PART";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// The entry's index in the array, from 1.
    pub number: usize,
    /// The type GUID in its usual text form.
    pub type_guid: String,
    pub name: String,
    /// Bytes.
    pub start: u64,
    pub len: u64,
}

impl Partition {
    pub fn description(&self) -> String {
        format!(
            "GPT partition {} ({})",
            self.number,
            type_name(&self.type_guid).unwrap_or(&self.type_guid)
        )
    }
}

#[derive(Debug)]
pub struct Gpt {
    pub sector_size: u64,
    pub partitions: Vec<Partition>,
    /// CRC mismatches, the backup header used.
    pub notes: Vec<String>,
}

/// The names of common partition type GUIDs.
pub fn type_name(guid: &str) -> Option<&'static str> {
    Some(match guid {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3" => "Windows LDM metadata",
        "AF9B60A0-1431-4F62-BC68-3311714A69AD" => "Windows LDM data",
        "E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D" => "Windows Storage Spaces",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux file system",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        _ => return None,
    })
}

/// A GUID stored mixed-endian, as text.
pub fn guid_text(b: &[u8; 16]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

/// A header that parsed, and whether its CRC matched.
struct Header {
    offset: u64,
    crc_ok: bool,
    alternate_lba: u64,
    entries_lba: u64,
    count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Parses the header in `sector` (read at byte `offset`).
fn header(sector: &[u8], offset: u64, sector_size: u64) -> Result<Header, VolumeError> {
    let bad = |reason: String| VolumeError::Gpt { offset, reason };
    if &sector[..8] != SIGNATURE {
        return Err(bad("no EFI PART signature".into()));
    }
    let size = u32_at(sector, 12) as u64;
    if !(92..=sector_size).contains(&size) {
        return Err(bad(format!("header size {size} is not 92..={sector_size}")));
    }
    let mut copy = sector[..size as usize].to_vec();
    copy[16..20].fill(0);
    let crc_ok = crc32(&copy) == u32_at(sector, 16);
    let count = u32_at(sector, 80);
    let entry_size = u32_at(sector, 84);
    if entry_size < 128 || entry_size % 8 != 0 || entry_size as u64 > MAX_ENTRY_BYTES {
        return Err(bad(format!(
            "partition entry size {entry_size} is not a multiple of 8 of at least 128"
        )));
    }
    let total = count as u64 * entry_size as u64;
    if total > MAX_ENTRY_BYTES {
        return Err(bad(format!(
            "{count} partition entries of {entry_size} bytes ({total} bytes) are more than the {MAX_ENTRY_BYTES} bytes this reader takes"
        )));
    }
    Ok(Header {
        offset,
        crc_ok,
        alternate_lba: u64_at(sector, 32),
        entries_lba: u64_at(sector, 72),
        count,
        entry_size,
        entries_crc: u32_at(sector, 88),
    })
}

/// Reads the entry array of `h`; the bool is whether its CRC matched.
fn entry_array(
    disk: &dyn Disk,
    h: &Header,
    sector_size: u64,
) -> Result<(Vec<u8>, bool), VolumeError> {
    let len = h.count as u64 * h.entry_size as u64;
    let offset = h.entries_lba.checked_mul(sector_size);
    let fits = offset
        .and_then(|o| o.checked_add(len))
        .is_some_and(|end| end <= disk.size());
    let offset = offset.unwrap_or(u64::MAX);
    if !fits {
        return Err(VolumeError::Gpt {
            offset: h.offset,
            reason: format!(
                "the partition entry array (LBA {}, {len} bytes) lies past the end of the disk ({} bytes)",
                h.entries_lba,
                disk.size()
            ),
        });
    }
    let mut bytes = vec![0u8; len as usize];
    read_at(disk, "GPT", offset, &mut bytes)?;
    let ok = crc32(&bytes) == h.entries_crc;
    Ok((bytes, ok))
}

fn partitions(bytes: &[u8], h: &Header, sector_size: u64) -> Result<Vec<Partition>, VolumeError> {
    let mut out = Vec::new();
    for (i, e) in bytes.chunks_exact(h.entry_size as usize).enumerate() {
        let ty: [u8; 16] = e[..16].try_into().unwrap_or_default();
        if ty == [0; 16] {
            continue;
        }
        let first = u64_at(e, 32);
        let last = u64_at(e, 40);
        let start = first.checked_mul(sector_size);
        let len = last
            .checked_sub(first)
            .and_then(|n| n.checked_add(1))
            .and_then(|n| n.checked_mul(sector_size));
        let (Some(start), Some(len)) = (start, len) else {
            return Err(VolumeError::Gpt {
                offset: h.entries_lba.saturating_mul(sector_size)
                    + (i as u64) * h.entry_size as u64,
                reason: format!(
                    "partition {} has first LBA {first} and last LBA {last}",
                    i + 1
                ),
            });
        };
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        out.push(Partition {
            number: i + 1,
            type_guid: guid_text(&ty),
            name: String::from_utf16_lossy(&units),
            start,
            len,
        });
    }
    Ok(out)
}

/// Reads the GPT of `disk`, or `None` when there is no `EFI PART` header
/// at LBA 1 or at the last LBA for either sector size.
pub fn read(disk: &dyn Disk) -> Result<Option<Gpt>, VolumeError> {
    let mut first_error = None;
    for sector_size in [512u64, 4096] {
        if disk.size() < 2 * sector_size {
            continue;
        }
        let mut primary = vec![0u8; sector_size as usize];
        read_at(disk, "GPT", sector_size, &mut primary)?;
        let last = disk.size() / sector_size - 1;
        let backup_at = |alternate: Option<u64>| -> Result<Option<(Vec<u8>, u64)>, VolumeError> {
            // The backup where the primary says, else at the last LBA.
            let lba = alternate.filter(|&l| l > 1 && l <= last).unwrap_or(last);
            let offset = lba * sector_size;
            let mut s = vec![0u8; sector_size as usize];
            read_at(disk, "GPT", offset, &mut s)?;
            Ok((&s[..8] == SIGNATURE).then_some((s, offset)))
        };
        let has_primary = &primary[..8] == SIGNATURE;
        if !has_primary && backup_at(None)?.is_none() {
            continue;
        }
        let mut notes = Vec::new();
        let primary_header = if has_primary {
            header(&primary, sector_size, sector_size)
        } else {
            Err(VolumeError::Gpt {
                offset: sector_size,
                reason: "no primary header at LBA 1".into(),
            })
        };
        let alternate = primary_header.as_ref().ok().map(|h| h.alternate_lba);
        let backup_header =
            backup_at(alternate)?.map(|(s, offset)| header(&s, offset, sector_size));

        // Candidates in order of preference: a header and an entry array
        // whose CRCs match, the primary first.
        let mut candidates = Vec::new();
        match &primary_header {
            Ok(h) => {
                if !h.crc_ok {
                    notes.push(format!(
                        "primary GPT header (byte {}) CRC mismatch",
                        h.offset
                    ));
                }
                candidates.push(h);
            }
            Err(e) => notes.push(format!("primary GPT header unusable: {e}")),
        }
        match &backup_header {
            Some(Ok(h)) => candidates.push(h),
            Some(Err(e)) => notes.push(format!("backup GPT header unusable: {e}")),
            None => {}
        }
        let mut chosen = None;
        let mut fallback = None;
        for (i, h) in candidates.iter().enumerate() {
            match entry_array(disk, h, sector_size) {
                Ok((bytes, crc_ok)) => {
                    if h.crc_ok && crc_ok {
                        chosen = Some((i, *h, bytes));
                        break;
                    }
                    if h.crc_ok {
                        notes.push(format!(
                            "GPT partition entry array of the header at byte {} CRC mismatch",
                            h.offset
                        ));
                    }
                    if fallback.is_none() {
                        fallback = Some((i, *h, bytes));
                    }
                }
                Err(e) => notes.push(format!("{e}")),
            }
        }
        let Some((i, h, bytes)) = chosen.or(fallback) else {
            let e = match primary_header {
                Err(e) => e,
                Ok(h) => VolumeError::Gpt {
                    offset: h.offset,
                    reason: format!(
                        "no usable header or partition entry array: {}",
                        notes.join("; ")
                    ),
                },
            };
            first_error.get_or_insert(e);
            continue;
        };
        let backup_used = !(i == 0 && has_primary && primary_header.is_ok());
        if backup_used {
            notes.push(format!("read the backup GPT header at byte {}", h.offset));
        } else if !(h.crc_ok) || notes.iter().any(|n| n.contains("CRC")) {
            notes.push("read the primary GPT despite the CRC mismatch".into());
        }
        let parts = partitions(&bytes, h, sector_size)?;
        return Ok(Some(Gpt {
            sector_size,
            partitions: parts,
            notes,
        }));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk of `sectors` sectors with a GPT of one partition, both headers.
    pub(crate) fn disk(sector: usize, sectors: usize) -> Vec<u8> {
        let mut d = vec![0u8; sector * sectors];
        let mut entries = vec![0u8; 128 * 128];
        let basic = [
            0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26,
            0x99, 0xC7,
        ];
        entries[..16].copy_from_slice(&basic);
        entries[32..40].copy_from_slice(&40u64.to_le_bytes());
        entries[40..48].copy_from_slice(&59u64.to_le_bytes());
        for (i, c) in "Basic data".encode_utf16().enumerate() {
            entries[56 + 2 * i..58 + 2 * i].copy_from_slice(&c.to_le_bytes());
        }
        let ecrc = crc32(&entries);
        let entry_sectors = entries.len() / sector;
        let last = sectors - 1;
        let mut put = |lba: usize, alt: usize, elba: usize| {
            let mut h = vec![0u8; 92];
            h[..8].copy_from_slice(SIGNATURE);
            h[8..12].copy_from_slice(&0x10000u32.to_le_bytes());
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&(lba as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(alt as u64).to_le_bytes());
            h[72..80].copy_from_slice(&(elba as u64).to_le_bytes());
            h[80..84].copy_from_slice(&128u32.to_le_bytes());
            h[84..88].copy_from_slice(&128u32.to_le_bytes());
            h[88..92].copy_from_slice(&ecrc.to_le_bytes());
            let crc = crc32(&h);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            d[lba * sector..lba * sector + 92].copy_from_slice(&h);
            d[elba * sector..elba * sector + entries.len()].copy_from_slice(&entries);
        };
        put(1, last, 2);
        put(last, 1, last - entry_sectors);
        d
    }

    #[test]
    fn both_sector_sizes() {
        for sector in [512, 4096] {
            let d = disk(sector, 100);
            let gpt = read(&d).unwrap().unwrap();
            assert_eq!(gpt.sector_size, sector as u64);
            assert_eq!(gpt.partitions.len(), 1);
            let p = &gpt.partitions[0];
            assert_eq!((p.start, p.len), (40 * sector as u64, 20 * sector as u64));
            assert_eq!(p.description(), "GPT partition 1 (Microsoft basic data)");
            assert_eq!(p.name, "Basic data");
            assert!(gpt.notes.is_empty(), "{:?}", gpt.notes);
        }
    }

    #[test]
    fn damaged_primary_falls_back_to_the_backup() {
        let mut d = disk(512, 100);
        d[512 + 40] ^= 1; // header CRC now wrong
        let gpt = read(&d).unwrap().unwrap();
        assert_eq!(gpt.partitions.len(), 1);
        assert!(
            gpt.notes.iter().any(|n| n.contains("CRC mismatch")),
            "{:?}",
            gpt.notes
        );
        assert!(
            gpt.notes.iter().any(|n| n.contains("backup")),
            "{:?}",
            gpt.notes
        );

        let mut d = disk(512, 100);
        d[1024 + 33] ^= 1; // primary entry array CRC wrong
        let gpt = read(&d).unwrap().unwrap();
        assert!(
            gpt.notes.iter().any(|n| n.contains("backup")),
            "{:?}",
            gpt.notes
        );
        assert_eq!(gpt.partitions[0].start, 40 * 512);

        // No backup and a bad primary CRC: read anyway, noted.
        let mut d = disk(512, 100);
        d.truncate(512 * 60);
        d[512 + 40] ^= 1;
        let gpt = read(&d).unwrap().unwrap();
        assert_eq!(gpt.partitions.len(), 1);
        assert!(
            gpt.notes.iter().any(|n| n.contains("despite")),
            "{:?}",
            gpt.notes
        );
    }

    #[test]
    fn absurd_entry_counts_are_refused() {
        let mut d = disk(512, 100);
        d.truncate(512 * 60); // no backup
        d[512 + 80..512 + 84].copy_from_slice(&(1u32 << 31).to_le_bytes());
        let mut h = d[512..512 + 92].to_vec();
        h[16..20].fill(0);
        let crc = crc32(&h);
        d[512 + 16..512 + 20].copy_from_slice(&crc.to_le_bytes());
        let err = read(&d).unwrap_err().to_string();
        assert!(err.starts_with("GPT at byte 512"), "{err}");
        assert!(err.contains("2147483648 partition entries"), "{err}");
    }

    #[test]
    fn no_gpt() {
        assert!(read(&vec![0u8; 4096 * 4]).unwrap().is_none());
        assert!(read(&vec![0u8; 10]).unwrap().is_none());
    }
}
