//! NTFS volumes: the hives of a Windows install, through the `ntfs` crate.
//!
//! The crate (Colin Finck, MIT/Apache-2.0) parses the boot sector, file
//! records, indexes and data runs, and looks names up through the volume's
//! `$UpCase` table, as Windows does. This module adds what it lacks:
//!
//! * Checks before the crate allocates from the disk: the boot sector's
//!   record sizes and volume size, and each directory's index record size.
//! * A reader under the crate that never fails a read: a read past the
//!   volume, a container error, or one past the read budget returns zeros
//!   and is remembered, and the remembered error is what gets reported.
//!   The crate turns some I/O errors into a panic (binrw "backtrace"
//!   errors reach an `unreachable!`), and the budget stops a looping index
//!   or run list.
//! * NTFS compression: the crate returns a compressed file's raw clusters;
//!   here each compression unit (16 clusters) is read from the data runs
//!   and, when fewer than 16 of its clusters are allocated, decompressed
//!   with [`super::lznt1`]. Wholly sparse units are zeros, wholly
//!   allocated ones are stored as they are.
//! * EFS-encrypted files are refused, and a hive over [`Limits::max_file`]
//!   or past what is left of [`Limits::max_held`]; logs are read only as
//!   far as replay may use them (see [`super::Install::system_logs`]).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use ::ntfs::attribute_value::NtfsAttributeValue;
use ::ntfs::indexes::NtfsFileNameIndex;
use ::ntfs::structured_values::{NtfsFileAttributeFlags, NtfsIndexRoot};
use ::ntfs::{Ntfs, NtfsAttributeFlags, NtfsAttributeType, NtfsError, NtfsFile};

use super::{Held, Limits, Volume, VolumeError, lznt1, read_at};
use crate::image::disk::Disk;

/// The path of the SYSTEM hive, from the volume's root.
pub const CONFIG: [&str; 3] = ["Windows", "System32", "config"];
/// The transaction logs looked for beside SYSTEM, in this order.
pub const LOGS: [&str; 3] = ["SYSTEM.LOG1", "SYSTEM.LOG2", "SYSTEM.LOG"];
/// The largest index record taken (Windows writes 4 KiB ones).
const MAX_INDEX_RECORD: u32 = 64 * 1024;
/// Clusters in an NTFS compression unit (compression unit exponent 4).
const UNIT_CLUSTERS: u64 = 16;

/// The files of one install, as [`super::Install`] holds them.
#[derive(Debug)]
pub(super) struct Files {
    pub system_path: String,
    pub system: Vec<u8>,
    pub system_logs: Vec<(String, Vec<u8>)>,
    pub software: Option<Vec<u8>>,
    pub notes: Vec<String>,
}

/// `Read + Seek` over a volume for the `ntfs` crate; see the module notes.
struct Reader {
    disk: Arc<dyn Disk>,
    start: u64,
    len: u64,
    pos: u64,
    budget: u64,
    limits: Limits,
    failure: Option<VolumeError>,
}

impl Reader {
    fn new(disk: Arc<dyn Disk>, start: u64, len: u64, limits: Limits) -> Self {
        Reader {
            disk,
            start,
            len,
            pos: 0,
            budget: limits.read_budget,
            limits,
            failure: None,
        }
    }

    fn ntfs_error(&self, reason: String) -> VolumeError {
        VolumeError::Ntfs {
            volume_start: self.start,
            reason,
        }
    }

    /// Reads `buf` at byte `at` of the volume, within the budget.
    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> Result<(), VolumeError> {
        let n = buf.len() as u64;
        if n > self.budget {
            self.budget = 0;
            return Err(self.ntfs_error(format!(
                "more than {} bytes read while searching the volume: its structures loop",
                self.limits.read_budget
            )));
        }
        self.budget -= n;
        if at.checked_add(n).is_none_or(|end| end > self.len) {
            return Err(self.ntfs_error(format!(
                "a read of {n} bytes at byte {at} lies past the end of the volume ({} bytes)",
                self.len
            )));
        }
        read_at(self.disk.as_ref(), "NTFS", self.start + at, buf)
    }

    /// The error remembered from a failed read, if any.
    fn check(&mut self) -> Result<(), VolumeError> {
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// An error of the crate as ours; a remembered read failure first, as
    /// it is the cause.
    fn wrap(&mut self, e: NtfsError) -> VolumeError {
        match self.failure.take() {
            Some(failure) => failure,
            None => self.ntfs_error(e.to_string()),
        }
    }
}

impl Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Err(e) = self.read_at(self.pos, buf) {
            buf.fill(0);
            self.failure.get_or_insert(e);
        }
        self.pos = self.pos.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }
}

impl Seek for Reader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// Checks the boot sector fields the crate would allocate or read by, so
/// that absurd values are refused before it acts on them.
fn check_boot_sector(fs: &mut Reader) -> Result<(), VolumeError> {
    let mut b = [0u8; 512];
    if fs.len < 512 {
        return Err(fs.ntfs_error(format!(
            "the volume is {} bytes, too small for NTFS",
            fs.len
        )));
    }
    fs.read_at(0, &mut b)?;
    let bad = |what: String| VolumeError::Ntfs {
        volume_start: fs.start,
        reason: format!("boot sector: {what}"),
    };
    let sector = u16::from_le_bytes([b[11], b[12]]) as u64;
    if !matches!(sector, 512 | 1024 | 2048 | 4096) {
        return Err(bad(format!("{sector} bytes per sector")));
    }
    let spc = b[13];
    let cluster = match spc {
        1..=128 if spc.is_power_of_two() => sector * spc as u64,
        // 2^(256 - n) sectors, for clusters over 64 KiB.
        225..=255 => sector.checked_shl(256 - spc as u32).unwrap_or(u64::MAX),
        _ => return Err(bad(format!("sectors per cluster {spc:#04x}"))),
    };
    if cluster > 2 << 20 {
        return Err(bad(format!("{cluster}-byte clusters")));
    }
    for (what, at) in [("file record", 0x40), ("index record", 0x44)] {
        let info = b[at] as i8;
        let size = if info > 0 {
            cluster.saturating_mul(info as u64)
        } else {
            1u64.checked_shl(info.unsigned_abs() as u32)
                .unwrap_or(u64::MAX)
        };
        if !(512..=MAX_INDEX_RECORD as u64).contains(&size) {
            return Err(bad(format!("{what} size {size} (field {info})")));
        }
    }
    let total = u64::from_le_bytes(b[0x28..0x30].try_into().unwrap_or_default());
    let bytes = total.checked_mul(sector);
    if bytes.is_none_or(|n| n > fs.len) {
        return Err(fs.ntfs_error(format!(
            "the file system claims {total} sectors of {sector} bytes, more than the volume's {} bytes: the image is truncated or the boot sector damaged",
            fs.len
        )));
    }
    Ok(())
}

/// An opened NTFS volume with its `$UpCase` table read.
fn open(fs: &mut Reader) -> Result<Ntfs, VolumeError> {
    check_boot_sector(fs)?;
    let mut ntfs = Ntfs::new(fs).map_err(|e| fs.wrap(e))?;
    ntfs.read_upcase_table(fs).map_err(|e| fs.wrap(e))?;
    fs.check()?;
    Ok(ntfs)
}

/// Refuses a directory whose index record size is absurd: the crate
/// allocates one buffer of that size per index record it reads.
fn check_index_root(fs: &mut Reader, dir: &NtfsFile) -> Result<(), VolumeError> {
    let mut attributes = dir.attributes();
    while let Some(item) = attributes.next(fs) {
        let item = item.map_err(|e| fs.wrap(e))?;
        let attribute = item.to_attribute().map_err(|e| fs.wrap(e))?;
        if !matches!(attribute.ty(), Ok(NtfsAttributeType::IndexRoot)) {
            continue;
        }
        let root = attribute
            .resident_structured_value::<NtfsIndexRoot>()
            .map_err(|e| fs.wrap(e))?;
        let size = root.index_record_size();
        if !(512..=MAX_INDEX_RECORD).contains(&size) {
            return Err(fs.ntfs_error(format!(
                "the directory at byte {:#x} has index records of {size} bytes",
                dir.position().value().map_or(0, |p| p.get())
            )));
        }
    }
    fs.check()
}

/// Looks `name` up in directory `dir`; the file and its name as on disk.
fn lookup<'n>(
    ntfs: &'n Ntfs,
    fs: &mut Reader,
    dir: &NtfsFile<'n>,
    name: &str,
) -> Result<Option<(NtfsFile<'n>, String)>, VolumeError> {
    if !dir.is_directory() {
        return Ok(None);
    }
    check_index_root(fs, dir)?;
    let index = dir.directory_index(fs).map_err(|e| fs.wrap(e))?;
    let mut finder = index.finder();
    let entry = match NtfsFileNameIndex::find(&mut finder, ntfs, fs, name) {
        None => {
            fs.check()?;
            return Ok(None);
        }
        Some(entry) => entry.map_err(|e| fs.wrap(e))?,
    };
    let on_disk = match entry.key() {
        Some(Ok(key)) => key.name().to_string_lossy(),
        _ => name.to_owned(),
    };
    let file = entry.to_file(ntfs, fs).map_err(|e| fs.wrap(e))?;
    fs.check()?;
    Ok(Some((file, on_disk)))
}

/// Walks `path` from the root; the file and its path as named on disk.
fn walk<'n>(
    ntfs: &'n Ntfs,
    fs: &mut Reader,
    path: &[&str],
) -> Result<Option<(NtfsFile<'n>, String)>, VolumeError> {
    let mut file = ntfs.root_directory(fs).map_err(|e| fs.wrap(e))?;
    let mut names = Vec::new();
    for name in path {
        match lookup(ntfs, fs, &file, name)? {
            Some((next, on_disk)) => {
                file = next;
                names.push(on_disk);
            }
            None => return Ok(None),
        }
    }
    Ok(Some((file, names.join("\\"))))
}

/// How much of a file [`read_file`] reads.
#[derive(Clone, Copy)]
enum Take {
    /// All of it; refused when over [`Limits::max_file`] or `left` bytes
    /// (what is left of [`Limits::max_held`], whose total is `held`).
    Whole { left: u64, held: u64 },
    /// Its first bytes, at most this many.
    Head(u64),
}

/// The bytes of `file`'s unnamed data stream (all, or its head as `take`
/// says), whether it was NTFS-compressed, and its whole length.
fn read_file(
    ntfs: &Ntfs,
    fs: &mut Reader,
    file: &NtfsFile,
    path: &str,
    take: Take,
) -> Result<(Vec<u8>, bool, u64), VolumeError> {
    let refuse = |fs: &Reader, reason: String| VolumeError::File {
        volume_start: fs.start,
        path: path.to_owned(),
        reason,
    };
    if file.is_directory() {
        return Err(refuse(fs, "is a directory".into()));
    }
    let encrypted_file = file.info().is_ok_and(|i| {
        i.file_attributes()
            .contains(NtfsFileAttributeFlags::ENCRYPTED)
    });
    let item = match file.data(fs, "") {
        Some(item) => item.map_err(|e| fs.wrap(e))?,
        None => {
            fs.check()?;
            return Err(refuse(fs, "has no data stream".into()));
        }
    };
    let attribute = item.to_attribute().map_err(|e| fs.wrap(e))?;
    let flags = attribute.flags();
    if encrypted_file || flags.contains(NtfsAttributeFlags::ENCRYPTED) {
        return Err(refuse(
            fs,
            "encrypted with EFS: its contents cannot be read without the user's key".into(),
        ));
    }
    let whole = attribute.value_length();
    let len = match take {
        Take::Whole { .. } if whole > fs.limits.max_file => {
            return Err(refuse(
                fs,
                format!(
                    "{whole} bytes, more than the {} bytes read at most",
                    fs.limits.max_file
                ),
            ));
        }
        Take::Whole { left, held } if whole > left => {
            return Err(refuse(
                fs,
                format!(
                    "{whole} bytes, more than the {left} bytes left of the {held} held in memory at once for one disk"
                ),
            ));
        }
        Take::Whole { .. } => whole,
        Take::Head(n) => whole.min(n),
    };
    let compressed = flags.contains(NtfsAttributeFlags::COMPRESSED);
    let value = attribute.value(fs).map_err(|e| fs.wrap(e))?;
    let data = match value {
        NtfsAttributeValue::NonResident(value) if compressed => {
            let unit = compression_unit(ntfs, fs, &attribute, path)?;
            let mut runs = Vec::new();
            let mut vcn = 0u64;
            for run in value.data_runs() {
                let run = run.map_err(|e| fs.wrap(e))?;
                let size = run.allocated_size();
                let at = run.data_position().value().map(|p| p.get());
                runs.push((vcn, size, at));
                vcn = vcn.saturating_add(size);
            }
            decompress(fs, &runs, len, unit, path)?
        }
        NtfsAttributeValue::AttributeListNonResident(_) if compressed => {
            return Err(refuse(
                fs,
                "NTFS-compressed and split over an attribute list: not supported".into(),
            ));
        }
        // Resident data is never compressed, whatever the flag says.
        value => {
            // Sized up front: `len` is bounded above, and growing by
            // doubling could hold twice the file.
            let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            let got = value.attach(fs).take(len).read_to_end(&mut out);
            fs.check()?;
            got.map_err(|e| refuse(fs, format!("reading the data: {e}")))?;
            out
        }
    };
    fs.check()?;
    if data.len() as u64 != len {
        return Err(refuse(
            fs,
            format!("{} bytes of data where {len} were expected", data.len()),
        ));
    }
    Ok((data, compressed, whole))
}

/// The compression unit in bytes: 16 clusters, which is all Windows writes
/// (and for clusters of 4 KiB or less).
fn compression_unit(
    ntfs: &Ntfs,
    fs: &mut Reader,
    attribute: &::ntfs::NtfsAttribute,
    path: &str,
) -> Result<u64, VolumeError> {
    let refuse = |fs: &Reader, reason: String| VolumeError::File {
        volume_start: fs.start,
        path: path.to_owned(),
        reason,
    };
    let cluster = ntfs.cluster_size() as u64;
    if cluster > 4096 {
        return Err(refuse(
            fs,
            format!("NTFS-compressed on a volume of {cluster}-byte clusters: not supported"),
        ));
    }
    // The exponent sits at byte 0x22 of the non-resident attribute header;
    // the crate does not expose it. The last two bytes of each 512-byte
    // sector of a record hold the update sequence number on disk, so the
    // byte can only be checked elsewhere.
    if let Some(at) = attribute.position().value() {
        let at = at.get() + 0x22;
        if at % 512 < 510 {
            let mut b = [0u8];
            fs.read_at(at, &mut b)?;
            if b[0] as u64 != UNIT_CLUSTERS.trailing_zeros() as u64 {
                return Err(refuse(
                    fs,
                    format!(
                        "NTFS-compressed with compression units of 2^{} clusters: not supported",
                        b[0]
                    ),
                ));
            }
        }
    }
    Ok(cluster * UNIT_CLUSTERS)
}

/// Rebuilds a compressed file of `len` bytes from its data runs
/// (`(vcn_byte, bytes, Some(volume_byte))`, `None` for sparse runs).
fn decompress(
    fs: &mut Reader,
    runs: &[(u64, u64, Option<u64>)],
    len: u64,
    unit: u64,
    path: &str,
) -> Result<Vec<u8>, VolumeError> {
    // `len` is bounded by the caller's limits.
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let mut packed = Vec::new();
    let mut first = 0;
    let mut start = 0u64;
    while start < len {
        let end = start.saturating_add(unit);
        // The allocated pieces of this unit, in file order.
        let mut pieces = Vec::new();
        while first < runs.len() && runs[first].0.saturating_add(runs[first].1) <= start {
            first += 1;
        }
        for &(vcn, size, at) in &runs[first..] {
            if vcn >= end {
                break;
            }
            let from = vcn.max(start);
            let to = vcn.saturating_add(size).min(end);
            if let (Some(at), true) = (at, to > from) {
                pieces.push((at + (from - vcn), to - from));
            }
        }
        let allocated: u64 = pieces.iter().map(|p| p.1).sum();
        let keep = (len - start).min(unit) as usize;
        packed.clear();
        for &(at, n) in &pieces {
            let from = packed.len();
            packed.resize(from + n as usize, 0);
            fs.read_at(at, &mut packed[from..])?;
        }
        if allocated == 0 {
            out.resize(out.len() + keep, 0);
        } else if allocated >= unit {
            out.extend_from_slice(&packed[..keep]);
        } else {
            let mut plain = vec![0u8; unit as usize];
            lznt1::decompress(&packed, &mut plain).map_err(|reason| VolumeError::Lznt1 {
                volume_start: fs.start,
                path: path.to_owned(),
                unit_offset: start,
                reason,
            })?;
            out.extend_from_slice(&plain[..keep]);
        }
        start = end;
    }
    Ok(out)
}

/// Looks for `Windows\System32\config\SYSTEM` on `volume` and reads it,
/// its logs and SOFTWARE; `None` when the volume has no install.
pub(super) fn find_install(
    disk: Arc<dyn Disk>,
    volume: &Volume,
    limits: Limits,
    held: &mut Held,
) -> Result<Option<Files>, VolumeError> {
    let mut fs = Reader::new(disk, volume.start, volume.len, limits);
    guarded(volume.start, || search(&mut fs, held))
}

/// Runs `f`, turning a panic in the `ntfs` crate into an error: its known
/// ones are avoided above, this is the net for the rest (quiet, like the
/// one around nt-hive: a damaged volume prints no panic message).
fn guarded<T>(
    volume_start: u64,
    f: impl FnOnce() -> Result<T, VolumeError>,
) -> Result<T, VolumeError> {
    crate::guard::contain_why(f).unwrap_or_else(|what| {
        Err(VolumeError::Ntfs {
            volume_start,
            reason: format!("the NTFS reader failed on this volume: {what}"),
        })
    })
}

fn search(fs: &mut Reader, held: &mut Held) -> Result<Option<Files>, VolumeError> {
    let ntfs = open(fs)?;
    let Some((config, config_path)) = walk(&ntfs, fs, &CONFIG)? else {
        return Ok(None);
    };
    let Some((system, name)) = lookup(&ntfs, fs, &config, "SYSTEM")? else {
        return Ok(None);
    };
    if system.is_directory() {
        return Ok(None);
    }
    let system_path = format!("{config_path}\\{name}");
    let mut notes = Vec::new();
    let whole = |held: &Held| Take::Whole {
        left: held.left,
        held: held.max,
    };
    let (bytes, compressed, _) = read_file(&ntfs, fs, &system, &system_path, whole(held))?;
    held.left = held.left.saturating_sub(bytes.len() as u64);
    if compressed {
        notes.push(format!(
            "{system_path} is NTFS-compressed; decompressed (LZNT1)"
        ));
    }

    // A dirty hive's logs are read up to the cap for its size, and room is
    // kept for the copy replay makes (the hive and what the logs add); a
    // clean hive's logs are never applied, so only their base block is read.
    let dirty = crate::hive::log::needs_logs(&bytes);
    let cap = match dirty {
        true => crate::hive::log::log_cap(bytes.len() as u64),
        false => crate::hive::base_block::LOG_BASE_BLOCK_SIZE as u64,
    };
    if dirty {
        held.left = held.left.saturating_sub(bytes.len() as u64);
    }
    let mut logs = Vec::new();
    for log in LOGS {
        match lookup(&ntfs, fs, &config, log) {
            Ok(Some((file, name))) => {
                let path = format!("{config_path}\\{name}");
                // Replay's copy may grow by what a log holds: kept room too.
                let room = match dirty {
                    true => held.left / 2,
                    false => held.left,
                };
                match read_file(&ntfs, fs, &file, &path, Take::Head(cap.min(room))) {
                    Ok((data, _, len)) => {
                        let kept = data.len() as u64;
                        if dirty && len > kept {
                            notes.push(match kept < cap {
                                true => format!(
                                    "{path}: {len} bytes, only the first {kept} read: more would pass the {} bytes held in memory at once for one disk",
                                    held.max
                                ),
                                false => crate::hive::log::cut_note(&path, len, cap),
                            });
                        }
                        held.left = held.left.saturating_sub(kept * if dirty { 2 } else { 1 });
                        logs.push((name, data));
                    }
                    Err(e) => notes.push(format!("{path} not read: {e}")),
                }
            }
            Ok(None) => {}
            Err(e) => notes.push(format!("{config_path}\\{log} not looked up: {e}")),
        }
    }

    let software = match lookup(&ntfs, fs, &config, "SOFTWARE") {
        Ok(Some((file, name))) => {
            let path = format!("{config_path}\\{name}");
            match read_file(&ntfs, fs, &file, &path, whole(held)) {
                Ok((data, compressed, _)) => {
                    held.left = held.left.saturating_sub(data.len() as u64);
                    if compressed {
                        notes.push(format!("{path} is NTFS-compressed; decompressed (LZNT1)"));
                    }
                    Some(data)
                }
                Err(e) => {
                    notes.push(format!("{path} not read: {e}"));
                    None
                }
            }
        }
        Ok(None) => {
            notes.push(format!("no SOFTWARE hive in {config_path}"));
            None
        }
        Err(e) => {
            notes.push(format!("{config_path}\\SOFTWARE not looked up: {e}"));
            None
        }
    };

    Ok(Some(Files {
        system_path,
        system: bytes,
        system_logs: logs,
        software,
        notes,
    }))
}

/// Reads the file at `path` (components looked up case-insensitively) on
/// an NTFS `volume`: its path as named on disk and its bytes, or `None`
/// when it does not exist.
pub fn read_path(
    disk: Arc<dyn Disk>,
    volume: &Volume,
    path: &[&str],
    limits: Limits,
) -> Result<Option<(String, Vec<u8>)>, VolumeError> {
    let mut fs = Reader::new(disk, volume.start, volume.len, limits);
    guarded(volume.start, || {
        let ntfs = open(&mut fs)?;
        let Some((file, on_disk)) = walk(&ntfs, &mut fs, path)? else {
            return Ok(None);
        };
        let take = Take::Whole {
            left: limits.max_file,
            held: limits.max_file,
        };
        let (data, _, _) = read_file(&ntfs, &mut fs, &file, &on_disk, take)?;
        Ok(Some((on_disk, data)))
    })
}
