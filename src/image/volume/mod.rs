//! Volumes on a disk and the Windows installs on them.
//!
//! [`volumes`] reads the partition table: an MBR (primary, extended and
//! logical partitions), a GPT behind a protective MBR (512- or 4096-byte
//! sectors, the backup header when the primary is damaged), or none, in
//! which case the whole disk is one volume (a partition image). Each volume
//! is typed by its boot sector: NTFS, BitLocker, or something else.
//!
//! [`find_windows`] then looks on every NTFS volume for
//! `Windows\System32\config\SYSTEM` (case-insensitively, through the
//! volume's `$UpCase` table) and reads SYSTEM, its transaction logs and
//! SOFTWARE. Every volume comes back, either as an install or with the
//! reason it holds none (not NTFS, BitLocker, no Windows, damaged).
//!
//! One module per on-disk structure: [`mbr`], [`gpt`], [`ntfs`] (on top of
//! the `ntfs` crate) and [`lznt1`] (NTFS compression, which the crate does
//! not undo). Nothing here panics on bad input and every allocation is
//! bounded by the disk, a fixed limit or [`Limits`].
//!
//! Out of scope: dynamic disks (LDM), Storage Spaces, ReFS, BitLocker
//! without the key, and replaying the NTFS journal.

pub mod gpt;
pub mod lznt1;
pub mod mbr;
pub mod ntfs;

mod cache;

use std::fmt;
use std::io;
use std::sync::Arc;

use super::disk::Disk;

pub use cache::CachedDisk;
pub use ntfs::read_path;

/// What can go wrong, named by the layer it happened in and the byte offset
/// (on the disk, unless said otherwise).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A read of the disk failed: the container is damaged, or the read lies
    /// past its end.
    #[error("{layer}: cannot read {len} bytes at byte {offset} of the disk: {source}")]
    Read {
        layer: &'static str,
        offset: u64,
        len: u64,
        #[source]
        source: io::Error,
    },

    /// The MBR or one of its extended boot records is invalid.
    #[error("MBR partition table at byte {offset}: {reason}")]
    Mbr { offset: u64, reason: String },

    /// No usable GPT header or partition entry array.
    #[error("GPT at byte {offset}: {reason}")]
    Gpt { offset: u64, reason: String },

    /// A partition runs past the end of the disk.
    #[error(
        "partition table: {volume} spans bytes {start}..{end}, but the disk has only {disk} bytes: the image is truncated"
    )]
    Truncated {
        volume: String,
        start: u64,
        end: u64,
        disk: u64,
    },

    /// The NTFS structures are invalid (the `ntfs` crate's message or ours;
    /// byte positions in it count from the start of the volume).
    #[error("NTFS volume at byte {volume_start}: {reason}")]
    Ntfs { volume_start: u64, reason: String },

    /// An NTFS-compressed file whose LZNT1 stream is invalid.
    #[error(
        "NTFS volume at byte {volume_start}: {path}: LZNT1 compression unit at byte {unit_offset} of the file: {reason}"
    )]
    Lznt1 {
        volume_start: u64,
        path: String,
        unit_offset: u64,
        reason: lznt1::Lznt1Error,
    },

    /// A file this reader refuses to read (EFS-encrypted, an unsupported
    /// compression) or that is larger than the limit.
    #[error("NTFS volume at byte {volume_start}: {path}: {reason}")]
    File {
        volume_start: u64,
        path: String,
        reason: String,
    },
}

/// How far the readers go before they give up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest hive read, in bytes (a SYSTEM hive is tens of MB, a
    /// SOFTWARE hive up to a few hundred).
    pub max_file: u64,
    /// Bytes read from one volume while searching it, beyond which the
    /// volume is taken to be damaged (looping index or run lists).
    pub read_budget: u64,
    /// Bytes of files held in memory at once for one disk: every install's
    /// SYSTEM, logs and SOFTWARE, plus, for a dirty SYSTEM, room for the copy
    /// replaying its logs makes. Past it, a file is refused (SYSTEM) or left
    /// out with a note (logs, SOFTWARE), so that no disk, however many
    /// installs or huge files it holds, costs more than this.
    pub max_held: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file: 192 << 20,
            read_budget: 4 << 30,
            // With the readers' own few MiB, under 256 MiB in all.
            max_held: 224 << 20,
        }
    }
}

/// What a volume's boot sector says it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    /// OEM id `NTFS    `.
    Ntfs,
    /// OEM id `-FVE-FS-`: a BitLocker volume, encrypted.
    BitLocker,
    /// Anything else, described ("FAT32", "empty", "unknown file system").
    Other(String),
}

impl fmt::Display for VolumeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VolumeKind::Ntfs => f.write_str("NTFS"),
            VolumeKind::BitLocker => f.write_str("BitLocker"),
            VolumeKind::Other(s) => f.write_str(s),
        }
    }
}

/// A partition, or the whole disk when there is no partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The partition number as partitioning tools show it: GPT entry index
    /// from 1; MBR primary 1-4, logical from 5; 1 for a disk without table.
    pub number: usize,
    /// "GPT partition 3 (Microsoft basic data)",
    /// "MBR partition 5 (logical, type 0x07 NTFS/exFAT)",
    /// "the whole disk (no partition table)".
    pub description: String,
    /// Byte offset on the disk.
    pub start: u64,
    /// Length in bytes, as the table says (it may run past a truncated disk).
    pub len: u64,
    pub kind: VolumeKind,
    /// What was odd about the table this volume came from (a CRC mismatch,
    /// the backup GPT header used).
    pub notes: Vec<String>,
}

impl Volume {
    /// Where the volume ends, as the table says.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// A Windows install: a volume with `Windows\System32\config\SYSTEM`.
#[derive(Clone, Debug)]
pub struct Install {
    pub volume: Volume,
    /// The path of SYSTEM as named on disk, e.g. `Windows\System32\config\SYSTEM`.
    pub system_path: String,
    /// The SYSTEM hive file.
    pub system: Vec<u8>,
    /// `SYSTEM.LOG1`, `SYSTEM.LOG2` and `SYSTEM.LOG`, those present, named as
    /// on disk, in that order. Only what replay may use is read: beside a
    /// dirty SYSTEM, up to [`crate::hive::log::log_cap`] bytes (a note says
    /// when a log was cut); beside a clean one, only the log's base block
    /// (512 bytes), as a clean hive's logs are never applied.
    pub system_logs: Vec<(String, Vec<u8>)>,
    /// The SOFTWARE hive, when present and readable.
    pub software: Option<Vec<u8>>,
    /// What else was noticed: the volume's notes, files decompressed,
    /// SOFTWARE or a log missing or unreadable.
    pub notes: Vec<String>,
}

/// Why a volume holds no install that could be read.
#[derive(Debug)]
pub enum Reason {
    /// Not NTFS: an EFI system partition, an MSR, another file system.
    NotNtfs(VolumeKind),
    /// A BitLocker volume.
    BitLocker,
    /// NTFS without `Windows\System32\config\SYSTEM`.
    NoWindows,
    /// The volume or the SYSTEM file on it could not be read.
    Unreadable(VolumeError),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NotNtfs(kind) => write!(f, "not NTFS ({kind})"),
            Reason::BitLocker => {
                f.write_str("encrypted with BitLocker, cannot be audited without the key")
            }
            Reason::NoWindows => f.write_str("NTFS, but no Windows\\System32\\config\\SYSTEM"),
            Reason::Unreadable(e) => write!(f, "cannot be searched: {e}"),
        }
    }
}

/// One volume's outcome in [`find_windows`].
#[derive(Debug)]
pub enum Found {
    Windows(Box<Install>),
    /// A volume without an install that could be read, and why.
    Skipped {
        volume: Volume,
        reason: Reason,
    },
}

impl Found {
    pub fn volume(&self) -> &Volume {
        match self {
            Found::Windows(i) => &i.volume,
            Found::Skipped { volume, .. } => volume,
        }
    }

    pub fn install(&self) -> Option<&Install> {
        match self {
            Found::Windows(i) => Some(i),
            Found::Skipped { .. } => None,
        }
    }
}

/// The volumes on `disk`, in table order. An error only when a partition
/// table is there but cannot be read at all.
pub fn volumes(disk: Arc<dyn Disk>) -> Result<Vec<Volume>, VolumeError> {
    let disk: Arc<dyn Disk> = Arc::new(CachedDisk::new(disk));
    list(&disk)
}

/// Every volume on `disk` with what it holds: a Windows install (its hives
/// read), or the reason it has none.
pub fn find_windows(disk: Arc<dyn Disk>) -> Result<Vec<Found>, VolumeError> {
    find_windows_with(disk, Limits::default())
}

/// [`find_windows`] with other [`Limits`].
pub fn find_windows_with(disk: Arc<dyn Disk>, limits: Limits) -> Result<Vec<Found>, VolumeError> {
    let disk: Arc<dyn Disk> = Arc::new(CachedDisk::new(disk));
    let mut out = Vec::new();
    let mut held = Held {
        left: limits.max_held,
        max: limits.max_held,
    };
    for volume in list(&disk)? {
        let found = match volume.kind {
            _ if volume.end() > disk.size() => {
                let reason = Reason::Unreadable(VolumeError::Truncated {
                    volume: volume.description.clone(),
                    start: volume.start,
                    end: volume.end(),
                    disk: disk.size(),
                });
                Found::Skipped { volume, reason }
            }
            VolumeKind::Ntfs => search(&disk, volume, limits, &mut held),
            VolumeKind::BitLocker => Found::Skipped {
                volume,
                reason: Reason::BitLocker,
            },
            VolumeKind::Other(ref kind) => {
                let kind = VolumeKind::Other(kind.clone());
                Found::Skipped {
                    volume,
                    reason: Reason::NotNtfs(kind),
                }
            }
        };
        out.push(found);
    }
    Ok(out)
}

/// What is left of [`Limits::max_held`] for the rest of a disk.
#[derive(Debug)]
pub(crate) struct Held {
    pub left: u64,
    pub max: u64,
}

fn search(disk: &Arc<dyn Disk>, volume: Volume, limits: Limits, held: &mut Held) -> Found {
    match ntfs::find_install(disk.clone(), &volume, limits, held) {
        Ok(Some(files)) => {
            let mut notes = volume.notes.clone();
            notes.extend(files.notes);
            Found::Windows(Box::new(Install {
                volume,
                system_path: files.system_path,
                system: files.system,
                system_logs: files.system_logs,
                software: files.software,
                notes,
            }))
        }
        Ok(None) => Found::Skipped {
            volume,
            reason: Reason::NoWindows,
        },
        Err(e) => Found::Skipped {
            volume,
            reason: Reason::Unreadable(e),
        },
    }
}

/// A partition as a table gives it, before its boot sector is looked at.
struct Entry {
    number: usize,
    description: String,
    start: u64,
    len: u64,
    notes: Vec<String>,
}

fn list(disk: &Arc<dyn Disk>) -> Result<Vec<Volume>, VolumeError> {
    let entries = match mbr::read(disk.as_ref())? {
        mbr::Table::Partitions(parts) => parts
            .into_iter()
            .map(|p| Entry {
                number: p.number,
                description: p.description(),
                start: p.start,
                len: p.len,
                notes: Vec::new(),
            })
            .collect(),
        table @ (mbr::Table::Protective | mbr::Table::None) => match gpt::read(disk.as_ref())? {
            Some(gpt) => {
                let mut notes = gpt.notes.clone();
                if !matches!(table, mbr::Table::Protective) {
                    notes.push("GPT without a protective MBR".into());
                }
                gpt.partitions
                    .iter()
                    .map(|p| Entry {
                        number: p.number,
                        description: p.description(),
                        start: p.start,
                        len: p.len,
                        notes: notes.clone(),
                    })
                    .collect()
            }
            None if matches!(table, mbr::Table::Protective) => {
                return Err(VolumeError::Gpt {
                    offset: 512,
                    reason:
                        "a protective MBR, but no GPT header at LBA 1 or at the end of the disk"
                            .into(),
                });
            }
            None => vec![Entry {
                number: 1,
                description: "the whole disk (no partition table)".into(),
                start: 0,
                len: disk.size(),
                notes: Vec::new(),
            }],
        },
    };
    Ok(entries
        .into_iter()
        .map(|e| Volume {
            kind: kind_at(disk.as_ref(), e.start, e.len),
            number: e.number,
            description: e.description,
            start: e.start,
            len: e.len,
            notes: e.notes,
        })
        .collect())
}

/// The file system a boot sector names.
pub fn boot_sector_kind(sector: &[u8]) -> VolumeKind {
    let at = |range: std::ops::Range<usize>| sector.get(range).unwrap_or_default();
    match at(3..11) {
        b"NTFS    " => return VolumeKind::Ntfs,
        b"-FVE-FS-" => return VolumeKind::BitLocker,
        b"EXFAT   " => return VolumeKind::Other("exFAT".into()),
        _ => {}
    }
    if at(3..7) == b"ReFS" {
        return VolumeKind::Other("ReFS".into());
    }
    let valid = at(510..512) == [0x55, 0xAA];
    if valid && at(82..90) == b"FAT32   " {
        return VolumeKind::Other("FAT32".into());
    }
    if valid && (at(54..62) == b"FAT12   " || at(54..62) == b"FAT16   ") {
        let name = String::from_utf8_lossy(at(54..59)).into_owned();
        return VolumeKind::Other(name);
    }
    if sector.iter().all(|&b| b == 0) {
        return VolumeKind::Other("empty: no file system".into());
    }
    VolumeKind::Other("unknown file system".into())
}

fn kind_at(disk: &dyn Disk, start: u64, len: u64) -> VolumeKind {
    if len < 512 {
        return VolumeKind::Other("too small for a file system".into());
    }
    let mut sector = [0u8; 512];
    match disk.read_exact_at(start, &mut sector) {
        Ok(()) => boot_sector_kind(&sector),
        Err(_) if start >= disk.size() => VolumeKind::Other("past the end of the disk".into()),
        Err(e) => VolumeKind::Other(format!("unreadable boot sector: {e}")),
    }
}

/// Reads `buf.len()` bytes at `offset`, the error naming `layer`.
pub(crate) fn read_at(
    disk: &dyn Disk,
    layer: &'static str,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), VolumeError> {
    disk.read_exact_at(offset, buf)
        .map_err(|source| VolumeError::Read {
            layer,
            offset,
            len: buf.len() as u64,
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_sectors_are_told_apart() {
        let mut s = [0u8; 512];
        assert_eq!(
            boot_sector_kind(&s),
            VolumeKind::Other("empty: no file system".into())
        );
        s[3..11].copy_from_slice(b"NTFS    ");
        assert_eq!(boot_sector_kind(&s), VolumeKind::Ntfs);
        s[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(boot_sector_kind(&s), VolumeKind::BitLocker);
        s[3..11].copy_from_slice(b"mkfs.fat");
        s[82..90].copy_from_slice(b"FAT32   ");
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(boot_sector_kind(&s), VolumeKind::Other("FAT32".into()));
        assert_eq!(
            boot_sector_kind(&[1, 2, 3]),
            VolumeKind::Other("unknown file system".into())
        );
    }
}
