//! Transaction logs, and replaying them onto a dirty hive in memory.
//!
//! A hive is dirty when its base block checksum is wrong or its two sequence
//! numbers differ: Windows stopped in the middle of a write. The data it was
//! writing sits in the hive's logs (`SYSTEM.LOG1`, `SYSTEM.LOG2`, or the old
//! `SYSTEM.LOG`), and Windows replays them when it next loads the hive.
//! Reading a dirty hive without them gives stale or broken data.
//!
//! [`replay`] follows the specification (its sections on both log formats,
//! the dirty state and multiple log files) and yarp's behaviour where the
//! specification is silent. Inputs are never modified: the result is a copy.

pub mod marvin32;
pub mod new_format;
pub mod old_format;
pub mod write;

use std::fmt;

use self::new_format::EntryError;
use self::old_format::{DirtyVector, DirtyVectorError};
use super::base_block::{
    FILE_TYPE_LOG_NEW, FILE_TYPE_LOG_OLD, FILE_TYPE_LOG_VERY_OLD, FILE_TYPE_PRIMARY,
    LOG_BASE_BLOCK_SIZE, PRIMARY_BASE_BLOCK_SIZE,
};
use super::{
    BaseBlock, BaseBlockError, BaseBlockMut, HIVE_BINS_START, is_sane_hive_bins_size, tag_at,
    u32_at, u64_at,
};

/// A log file's name (for messages and [`Applied`]) and its bytes.
#[derive(Clone, Debug)]
pub struct LogFile<'a> {
    pub name: String,
    pub bytes: &'a [u8],
}

impl<'a> LogFile<'a> {
    pub fn new(name: impl Into<String>, bytes: &'a [u8]) -> Self {
        LogFile {
            name: name.into(),
            bytes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `DIRT` dirty vector (Windows XP to 8.0).
    Old,
    /// `HvLE` log entries (Windows 8.1 and later).
    New,
}

/// What one log contributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The [`LogFile::name`].
    pub log: String,
    pub format: LogFormat,
    /// New format: the sequence numbers of the entries applied, in order.
    /// Old format: empty (the log is one unnumbered set of pages).
    pub entries: Vec<u32>,
    /// Pages written: page references for the new format (of any size),
    /// 512-byte pages for the old.
    pub pages: usize,
    /// Why reading entries stopped, unless the file simply ended. Usually
    /// the end of what was written (zeros, or an older entry from a previous
    /// use of the file), so not an error by itself.
    pub stopped_by: Option<EntryError>,
}

/// A recovered hive's bytes: a copy of the primary with the logs' pages
/// written over it, or a private copy-on-write map of the primary's file,
/// where only the pages replay writes are copied (a 5 KiB log on a 10 MiB
/// hive then costs a few pages, not the hive).
#[derive(Debug)]
pub enum HiveBytes {
    Owned(Vec<u8>),
    Mapped(memmap2::MmapMut),
}

impl HiveBytes {
    /// Grows or cuts to `len` bytes, new ones zero; a map becomes a copy
    /// first (a file's map cannot grow).
    fn resize(&mut self, len: usize) {
        if let HiveBytes::Mapped(m) = self {
            if m.len() == len {
                return;
            }
            *self = HiveBytes::Owned(m.to_vec());
        }
        if let HiveBytes::Owned(v) = self {
            v.resize(len, 0);
        }
    }
}

impl std::ops::Deref for HiveBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            HiveBytes::Owned(v) => v,
            HiveBytes::Mapped(m) => m,
        }
    }
}

impl std::ops::DerefMut for HiveBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            HiveBytes::Owned(v) => v,
            HiveBytes::Mapped(m) => m,
        }
    }
}

impl Clone for HiveBytes {
    fn clone(&self) -> Self {
        HiveBytes::Owned(self.to_vec())
    }
}

impl PartialEq for HiveBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<u8>> for HiveBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}

/// How replay gets its working copy of the primary's bytes (the prefix of
/// the file it needs): [`copy`], or a copy-on-write map of the file.
pub type Scratch<'a> = &'a dyn Fn(&[u8]) -> HiveBytes;

/// The plain working copy.
pub fn copy(primary: &[u8]) -> HiveBytes {
    HiveBytes::Owned(primary.to_vec())
}

/// A hive after replay.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The whole hive file: base block (clean: both sequence numbers equal,
    /// checksum right) and hive bins.
    pub bytes: HiveBytes,
    /// In order; empty when the hive was not dirty.
    pub applied: Vec<Applied>,
    /// The primary's base block was damaged and was rebuilt from a log's.
    pub rebuilt_base_block: bool,
    pub format: Option<LogFormat>,
    /// The sequence number the hive now has (both of them).
    pub sequence_number: u32,
    /// Logs, or parts of logs, not used and why.
    pub issues: Vec<LogIssue>,
}

impl Recovered {
    /// Whether anything was replayed (the hive was dirty).
    pub fn replayed(&self) -> bool {
        !self.applied.is_empty()
    }
}

/// A log that was not used, or not in full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogIssue {
    pub log: String,
    pub problem: LogProblem,
}

impl fmt::Display for LogIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.log, self.problem)
    }
}

/// Why a log was not used. Offsets are from the start of that log, except
/// where they say "hive offset".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogProblem {
    #[error("{0}")]
    Header(BaseBlockError),
    #[error(
        "its base block checksum (offset 0x1fc) is {stored:#010x}, the header sums to {computed:#010x}"
    )]
    HeaderChecksum { stored: u32, computed: u32 },
    #[error(
        "its own base block is dirty (sequence numbers {primary} and {secondary}): the log was not completely written"
    )]
    HeaderDirty { primary: u32, secondary: u32 },
    #[error("file type {found} at offset 0x1c: not a transaction log")]
    FileType { found: u32 },
    #[error(
        "it starts at sequence number {sequence}, before the hive's last complete write ({secondary}): already applied"
    )]
    Stale { sequence: u32, secondary: u32 },
    #[error(
        "it starts at sequence number {sequence}, but the previous log ended at {last}: not its continuation"
    )]
    NotNext { sequence: u32, last: u32 },
    #[error("it would continue {previous}, which had no usable entry")]
    NothingToContinue { previous: String },
    #[error(
        "the hive's base block is damaged, so only the log with the latest entries ({latest}) is applied, as Windows does"
    )]
    Superseded { latest: String },
    #[error("no log entries after its base block")]
    NoEntries,
    #[error("{0}")]
    Entry(EntryError),
    #[error("{0}")]
    DirtyVector(DirtyVectorError),
    #[error(
        "its last written timestamp {log:#018x} does not match the hive's {hive:#018x}: it belongs to another write"
    )]
    Timestamp { log: u64, hive: u64 },
    #[error(
        "it grows the hive from hive offset {end:#x} to {needed:#x} but does not hold all of that data"
    )]
    GrowthNotLogged { end: usize, needed: usize },
    #[error(
        "after its pages are written, the hive bin at hive offset {offset:#x} is invalid ({reason}): Windows aborts such a recovery"
    )]
    DirtyBin { offset: usize, reason: &'static str },
}

/// Why a hive could not be replayed at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("hive base block: {0}")]
    Primary(BaseBlockError),
    #[error("file type {found} at offset 0x1c: not a primary hive file (a transaction log?)")]
    NotPrimary { found: u32 },
    #[error(
        "the hive is truncated: its data ends at offset {end:#x}, but its hive bins run to offset {needed:#x}, and no log restores the rest{}",
        list(.issues)
    )]
    Truncated {
        end: usize,
        needed: usize,
        issues: Vec<LogIssue>,
    },
    #[error(
        "the hive is dirty (a write did not finish) and no transaction log could be applied{}",
        list(.issues)
    )]
    NoUsableLog { issues: Vec<LogIssue> },
}

fn list(issues: &[LogIssue]) -> String {
    if issues.is_empty() {
        return " (none was given)".into();
    }
    let all: Vec<String> = issues.iter().map(ToString::to_string).collect();
    format!(": {}", all.join("; "))
}

/// Replays `logs` onto the dirty hive `primary` and returns the recovered
/// hive; a hive that is not dirty comes back unchanged (`applied` empty).
///
/// Logs may come in any order and mixed formats; a log of 0 bytes (an unused
/// slot) is ignored. For the old format their order is the order of
/// preference: give `.LOG1` first, as `input::folder::Folder::logs_of` does.
pub fn replay(primary: &[u8], logs: &[LogFile<'_>]) -> Result<Recovered, LogError> {
    replay_with(primary, logs, &copy)
}

/// As [`replay`], with the working copy of the primary made by `scratch`
/// (given a prefix of `primary`).
pub fn replay_with(
    primary: &[u8],
    logs: &[LogFile<'_>],
    scratch: Scratch<'_>,
) -> Result<Recovered, LogError> {
    let base = BaseBlock::new(primary).map_err(LogError::Primary)?;
    if base.checksum_ok() && base.file_type() != FILE_TYPE_PRIMARY {
        return Err(LogError::NotPrimary {
            found: base.file_type(),
        });
    }
    if !base.is_dirty() {
        return Ok(Recovered {
            bytes: scratch(primary),
            applied: Vec::new(),
            rebuilt_base_block: false,
            format: None,
            sequence_number: base.primary_sequence(),
            issues: Vec::new(),
        });
    }

    let mut issues = Vec::new();
    let mut new_logs = Vec::new();
    let mut old_logs = Vec::new();
    for log in logs.iter().filter(|l| !l.bytes.is_empty()) {
        match Header::check(log) {
            Ok(h) if h.format == LogFormat::New => new_logs.push(h),
            Ok(h) => old_logs.push(h),
            Err(problem) => issues.push(issue(&log.name, problem)),
        }
    }
    let primary = primary
        .get(..copied_len(base, &new_logs, &old_logs, logs))
        .unwrap_or(primary);
    // A hive is written in one format; try the newer first, since Windows
    // 8.1 and later may leave an old, stale `.LOG` beside `.LOG1`/`.LOG2`.
    if let Some(done) = replay_new(primary, base, &new_logs, &mut issues, scratch) {
        return Ok(done);
    }
    if let Some(done) = replay_old(primary, base, &old_logs, &mut issues, scratch) {
        return Ok(done);
    }
    let needed = HIVE_BINS_START.saturating_add(base.hive_bins_size() as usize);
    if base.checksum_ok() && primary.len() < needed {
        return Err(LogError::Truncated {
            end: primary.len(),
            needed,
            issues,
        });
    }
    Err(LogError::NoUsableLog { issues })
}

/// How much of a dirty primary [`replay`] copies. Only the hive's stated
/// bins, and what the logs can grow them by, can matter: an entry's pages
/// lie within its hive bins size, and growth must be logged
/// ([`Work::grow`]). Windows leaves slack past the bins (files grow in
/// 256 KiB steps), kept so the result matches Windows' byte for byte; a
/// file longer than that much again plus [`PRIMARY_SLACK`] is cut there,
/// so a huge or sparse primary costs about its hive, not its file.
fn copied_len(
    base: BaseBlock<'_>,
    new_logs: &[Header<'_>],
    old_logs: &[Header<'_>],
    logs: &[LogFile<'_>],
) -> usize {
    let stated = new_logs
        .iter()
        .chain(old_logs)
        .map(|h| h.base.hive_bins_size())
        .fold(base.hive_bins_size(), u32::max);
    let logged: usize = logs.iter().map(|l| l.bytes.len()).sum();
    let reach = HIVE_BINS_START
        .saturating_add(stated as usize)
        .saturating_add(logged);
    reach.saturating_mul(2).saturating_add(PRIMARY_SLACK)
}

/// Bytes of a dirty primary copied past twice what its bins and logs reach
/// (Windows leaves slack past the bins); the rest is not part of the hive.
pub const PRIMARY_SLACK: usize = 16 << 20;

fn issue(log: &str, problem: LogProblem) -> LogIssue {
    LogIssue {
        log: log.to_string(),
        problem,
    }
}

/// A log whose own base block is valid.
#[derive(Clone, Copy)]
struct Header<'a> {
    name: &'a str,
    bytes: &'a [u8],
    base: BaseBlock<'a>,
    format: LogFormat,
}

impl<'a> Header<'a> {
    /// The specification's rule: a log is usable when its base block copy has
    /// a valid checksum and equal sequence numbers (the log write finished).
    fn check(log: &'a LogFile<'a>) -> Result<Self, LogProblem> {
        let base = BaseBlock::new(log.bytes).map_err(LogProblem::Header)?;
        if !base.checksum_ok() {
            return Err(LogProblem::HeaderChecksum {
                stored: base.stored_checksum(),
                computed: base.computed_checksum(),
            });
        }
        if base.primary_sequence() != base.secondary_sequence() {
            return Err(LogProblem::HeaderDirty {
                primary: base.primary_sequence(),
                secondary: base.secondary_sequence(),
            });
        }
        let format = match base.file_type() {
            FILE_TYPE_LOG_NEW => LogFormat::New,
            FILE_TYPE_LOG_OLD | FILE_TYPE_LOG_VERY_OLD => LogFormat::Old,
            found => return Err(LogProblem::FileType { found }),
        };
        Ok(Header {
            name: &log.name,
            bytes: log.bytes,
            base,
            format,
        })
    }

    fn sequence(&self) -> u32 {
        self.base.primary_sequence()
    }
}

/// `b` comes after `a` in sequence-number order, allowing for u32 wrap-around
/// (as yarp does: a gap above 2^31 means the counter wrapped).
fn is_after(b: u32, a: u32) -> bool {
    matches!(b.wrapping_sub(a), 1..=0x7FFF_FFFF)
}

/// The hive being rebuilt and what replay knows about it so far.
struct Work {
    bytes: HiveBytes,
    hive_bins_size: u32,
    flags: u32,
    last: Option<u32>,
    applied: Vec<Applied>,
}

impl Work {
    /// Grows the file to hold `hive_bins_size` bytes of bins, if `pages`
    /// (ranges of hive bins offsets) hold all the new bytes. Windows marks a
    /// new bin dirty as a whole, so the write that grows a hive logs it; new
    /// bytes no log holds would be zeros posing as data.
    fn grow(
        &mut self,
        hive_bins_size: u32,
        pages: impl Iterator<Item = (usize, usize)>,
    ) -> Result<(), (usize, usize)> {
        let needed = HIVE_BINS_START.saturating_add(hive_bins_size as usize);
        let end = self.bytes.len();
        if needed <= end {
            return Ok(());
        }
        let from = end.max(HIVE_BINS_START) - HIVE_BINS_START;
        if !covers(pages, from, needed - HIVE_BINS_START) {
            return Err((end, needed));
        }
        self.bytes.resize(needed);
        Ok(())
    }

    fn write(&mut self, hive_offset: u32, data: &[u8]) {
        let start = HIVE_BINS_START.saturating_add(hive_offset as usize);
        // In bounds: pages were checked against the hive bins size, and the
        // file was grown to it.
        if let Some(dst) = start
            .checked_add(data.len())
            .and_then(|end| self.bytes.get_mut(start..end))
        {
            dst.copy_from_slice(data);
        }
    }

    /// The clean hive: both sequence numbers `sequence`, the final size and
    /// flags, file type primary, and a fresh checksum.
    fn finish(
        mut self,
        sequence: u32,
        format: LogFormat,
        rebuilt_base_block: bool,
        issues: &mut Vec<LogIssue>,
    ) -> Recovered {
        if self.bytes.len() < PRIMARY_BASE_BLOCK_SIZE {
            self.bytes.resize(PRIMARY_BASE_BLOCK_SIZE);
        }
        if let Ok(mut base) = BaseBlockMut::new(&mut self.bytes) {
            base.set_sequence_numbers(sequence, sequence);
            base.set_hive_bins_size(self.hive_bins_size);
            base.set_flags(self.flags);
            base.set_file_type(FILE_TYPE_PRIMARY);
            base.update_checksum();
        }
        Recovered {
            bytes: self.bytes,
            applied: self.applied,
            rebuilt_base_block,
            format: Some(format),
            sequence_number: sequence,
            issues: std::mem::take(issues),
        }
    }
}

/// Whether the ranges (start, length) cover all of `from..to`.
fn covers(ranges: impl Iterator<Item = (usize, usize)>, from: usize, to: usize) -> bool {
    let mut spans: Vec<(usize, usize)> = ranges
        .map(|(start, len)| (start, start.saturating_add(len)))
        .filter(|&(start, end)| end > from && start < to)
        .collect();
    spans.sort_unstable();
    let mut reached = from;
    for (start, end) in spans {
        if start > reached {
            return false;
        }
        reached = reached.max(end);
    }
    reached >= to
}

/// A base block from a log's 512-byte copy: the rest of the 4096 bytes is
/// reserved, so zeros.
fn rebuilt_base_block(log: &Header<'_>, primary: &[u8]) -> HiveBytes {
    let mut bytes = vec![0u8; PRIMARY_BASE_BLOCK_SIZE];
    bytes[..LOG_BASE_BLOCK_SIZE].copy_from_slice(log.base.header_bytes());
    bytes.extend_from_slice(primary.get(HIVE_BINS_START..).unwrap_or_default());
    HiveBytes::Owned(bytes)
}

fn replay_new(
    primary: &[u8],
    base: BaseBlock<'_>,
    logs: &[Header<'_>],
    issues: &mut Vec<LogIssue>,
    scratch: Scratch<'_>,
) -> Option<Recovered> {
    if !base.checksum_ok() {
        // Nothing in the primary's base block can be trusted, not even its
        // sequence numbers: take the base block and the entries of the log
        // that was written last (yarp: "this is how Windows works").
        let (mut at, mut latest) = (0, logs.first()?);
        for (i, log) in logs.iter().enumerate() {
            if is_after(log.sequence(), latest.sequence()) {
                (at, latest) = (i, log);
            }
        }
        for (i, log) in logs.iter().enumerate() {
            if i != at {
                let latest = latest.name.to_string();
                issues.push(issue(log.name, LogProblem::Superseded { latest }));
            }
        }
        let mut work = Work {
            bytes: rebuilt_base_block(latest, primary),
            hive_bins_size: latest.base.hive_bins_size(),
            flags: latest.base.flags(),
            last: None,
            applied: Vec::new(),
        };
        apply_entries(&mut work, latest, issues);
        let last = work.last?;
        return Some(work.finish(last, LogFormat::New, true, issues));
    }

    // Entries numbered from the last complete write on are new; order the
    // logs by how far past it they start (a key that survives wrap-around).
    let secondary = base.secondary_sequence();
    let mut eligible = Vec::new();
    for log in logs {
        let ahead = log.sequence().wrapping_sub(secondary);
        if ahead > 0x7FFF_FFFF {
            issues.push(issue(
                log.name,
                LogProblem::Stale {
                    sequence: log.sequence(),
                    secondary,
                },
            ));
        } else {
            eligible.push((ahead, log));
        }
    }
    eligible.sort_by_key(|&(ahead, _)| ahead);

    let mut work = Work {
        bytes: scratch(primary),
        hive_bins_size: base.hive_bins_size(),
        flags: base.flags(),
        last: None,
        applied: Vec::new(),
    };
    let mut previous: Option<&str> = None;
    for (_, log) in eligible {
        if let Some(previous) = previous {
            // A later log only continues the chain where the earlier one
            // ended; anything else would skip a write.
            let problem = match work.last {
                Some(last) if log.sequence() == last.wrapping_add(1) => None,
                Some(last) => Some(LogProblem::NotNext {
                    sequence: log.sequence(),
                    last,
                }),
                None => Some(LogProblem::NothingToContinue {
                    previous: previous.to_string(),
                }),
            };
            if let Some(problem) = problem {
                issues.push(issue(log.name, problem));
                continue;
            }
        }
        apply_entries(&mut work, log, issues);
        previous = Some(log.name);
    }
    let last = work.last?;
    Some(work.finish(last, LogFormat::New, false, issues))
}

/// Applies the entries of one new-format log, from its header's sequence
/// number on, up to the first one that fails a check.
fn apply_entries(work: &mut Work, log: &Header<'_>, issues: &mut Vec<LogIssue>) {
    let mut applied = Applied {
        log: log.name.to_string(),
        format: LogFormat::New,
        entries: Vec::new(),
        pages: 0,
        stopped_by: None,
    };
    let mut flags = log.base.flags();
    for entry in new_format::entries(log.bytes, log.sequence()) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                applied.stopped_by = Some(e);
                break;
            }
        };
        let pages = entry
            .page_references()
            .map(|(offset, size)| (offset as usize, size as usize));
        if let Err((end, needed)) = work.grow(entry.hive_bins_size(), pages) {
            applied.stopped_by = Some(EntryError::GrowthNotLogged {
                offset: entry.offset(),
                end,
                needed,
            });
            break;
        }
        for page in entry.pages() {
            work.write(page.offset, page.data);
            applied.pages += 1;
        }
        // Bit 0 of the base block flags follows the entry; the other bits
        // come from the log's copy of the base block.
        flags = (flags & !1) | (entry.flags() & 1);
        work.flags = flags;
        work.hive_bins_size = entry.hive_bins_size();
        work.last = Some(entry.sequence_number());
        applied.entries.push(entry.sequence_number());
    }
    if applied.entries.is_empty() {
        let problem = match applied.stopped_by {
            Some(e) => LogProblem::Entry(e),
            None => LogProblem::NoEntries,
        };
        issues.push(issue(log.name, problem));
    } else {
        work.applied.push(applied);
    }
}

fn replay_old(
    primary: &[u8],
    base: BaseBlock<'_>,
    logs: &[Header<'_>],
    issues: &mut Vec<LogIssue>,
    scratch: Scratch<'_>,
) -> Option<Recovered> {
    let valid = base.checksum_ok();
    for log in logs {
        match apply_old(primary, base, valid, log, scratch) {
            Ok(work) => {
                let sequence = log.sequence();
                return Some(work.finish(sequence, LogFormat::Old, !valid, issues));
            }
            Err(problem) => issues.push(issue(log.name, problem)),
        }
    }
    None
}

/// One old-format log onto a copy of the primary; the specification allows
/// switching to the next log when one fails, so nothing is kept on error.
fn apply_old(
    primary: &[u8],
    base: BaseBlock<'_>,
    valid: bool,
    log: &Header<'_>,
    scratch: Scratch<'_>,
) -> Result<Work, LogProblem> {
    let log_time = log.base.timestamp();
    if valid {
        // The log of this very write carries the same timestamp.
        if log_time != base.timestamp() {
            return Err(LogProblem::Timestamp {
                log: log_time,
                hive: base.timestamp(),
            });
        }
    } else if let Some(bin_time) = first_bin_timestamp(primary) {
        // The first bin's timestamp stands in for the damaged base block's,
        // but it is only a backup and may lag behind (yarp's BadBaseBlockHive:
        // the bin says 0x01d294f6ccf6f3f0, the matching log 0x01d29627f1c8a860);
        // a log from before it would be older than the hive.
        if log_time < bin_time {
            return Err(LogProblem::Timestamp {
                log: log_time,
                hive: bin_time,
            });
        }
    }
    let hive_bins_size = log.base.hive_bins_size();
    let vector = DirtyVector::parse(log.bytes, hive_bins_size).map_err(LogProblem::DirtyVector)?;
    let mut work = Work {
        bytes: if valid {
            scratch(primary)
        } else {
            rebuilt_base_block(log, primary)
        },
        hive_bins_size,
        flags: log.base.flags(),
        last: Some(log.sequence()),
        applied: Vec::new(),
    };
    let pages = vector
        .dirty_pages()
        .map(|p| (p.offset as usize, old_format::PAGE_SIZE));
    work.grow(hive_bins_size, pages)
        .map_err(|(end, needed)| LogProblem::GrowthNotLogged { end, needed })?;
    for page in vector.dirty_pages() {
        work.write(page.offset, page.data);
    }
    check_dirty_bins(&work.bytes, hive_bins_size, &vector)?;
    work.applied.push(Applied {
        log: log.name.to_string(),
        format: LogFormat::Old,
        entries: Vec::new(),
        pages: vector.dirty_page_count(),
        stopped_by: None,
    });
    Ok(work)
}

/// The timestamp in the first hive bin's header, if there is a bin there.
fn first_bin_timestamp(primary: &[u8]) -> Option<u64> {
    if tag_at(primary, HIVE_BINS_START)? != *b"hbin" {
        return None;
    }
    u64_at(primary, HIVE_BINS_START + 20)
}

/// The specification's check for old-format recovery: a hive bin written
/// from the log must have its signature and its own offset. Walks the bins;
/// a bad header the log did not write ends the walk without blame, since the
/// rest of the chain cannot be followed.
fn check_dirty_bins(
    bytes: &[u8],
    hive_bins_size: u32,
    vector: &DirtyVector<'_>,
) -> Result<(), LogProblem> {
    let is_dirty = |offset: usize| {
        let page = offset / old_format::PAGE_SIZE;
        vector
            .bitmap()
            .get(page / 8)
            .is_some_and(|byte| byte >> (page % 8) & 1 == 1)
    };
    let limit = hive_bins_size as usize;
    let mut offset = 0usize;
    while offset < limit {
        let at = HIVE_BINS_START + offset;
        let reason = if tag_at(bytes, at) != Some(*b"hbin") {
            Some("no `hbin` signature")
        } else if u32_at(bytes, at + 4) != u32::try_from(offset).ok() {
            Some("its offset field does not match its place")
        } else {
            None
        };
        let size = u32_at(bytes, at + 8).unwrap_or_default();
        let reason = reason.or_else(|| {
            let fits = (size as usize)
                .checked_add(offset)
                .is_some_and(|end| end <= limit);
            (!is_sane_hive_bins_size(size) || !fits).then_some("its size is invalid")
        });
        match reason {
            Some(reason) if is_dirty(offset) => {
                return Err(LogProblem::DirtyBin { offset: at, reason });
            }
            Some(_) => return Ok(()),
            None => offset += size as usize,
        }
    }
    Ok(())
}

/// How many times its hive's size a log is read up to, plus [`LOG_CAP_FLOOR`].
pub const LOG_CAP_FACTOR: u64 = 4;
/// The least of a log read, whatever the hive's size.
pub const LOG_CAP_FLOOR: u64 = 1 << 20;

/// The bytes of a transaction log worth reading for a hive of `hive_len`
/// bytes. An entry holds dirty pages of the hive (at most all of them, plus
/// what it grows by), and Windows starts a log over once its entries are in
/// the hive, so real logs stay below the hive's size (a 12 MiB SYSTEM has
/// 3 MiB logs). Four times the hive, and at least 1 MiB, leaves ample room
/// while keeping a huge or sparse log from costing memory or time.
pub fn log_cap(hive_len: u64) -> u64 {
    hive_len
        .saturating_mul(LOG_CAP_FACTOR)
        .saturating_add(LOG_CAP_FLOOR)
}

/// What is said of a log longer than [`log_cap`]: `name` is `len` bytes
/// and only its first `cap` were read.
pub fn cut_note(name: &str, len: u64, cap: u64) -> String {
    format!(
        "{name}: log larger than {cap} bytes ({LOG_CAP_FACTOR} times its hive's size plus {} MiB): it is {len} bytes, not read past byte {cap}; entries after that, if any, were not replayed",
        LOG_CAP_FLOOR >> 20
    )
}

/// Whether [`replay`] would look past the logs' base blocks: the primary's
/// base block is readable and dirty. A clean hive's logs are never applied.
pub fn needs_logs(primary: &[u8]) -> bool {
    BaseBlock::new(primary).is_ok_and(|b| b.is_dirty())
}

/// What Windows puts after a hive's name for its logs, in the order they
/// are read: `SYSTEM.LOG1`, `SYSTEM.LOG2`, and the old single `SYSTEM.LOG`.
pub const LOG_SUFFIXES: [&str; 3] = [".LOG1", ".LOG2", ".LOG"];

/// Which of [`LOG_SUFFIXES`] `file` is named with after `hive`, in any case.
fn log_suffix(hive: &std::ffi::OsStr, file: &std::ffi::OsStr) -> Option<usize> {
    let hive = hive.as_encoded_bytes();
    let (stem, ext) = file.as_encoded_bytes().split_at_checked(hive.len())?;
    if !stem.eq_ignore_ascii_case(hive) {
        return None;
    }
    LOG_SUFFIXES
        .iter()
        .position(|s| ext.eq_ignore_ascii_case(s.as_bytes()))
}

/// Whether a file named `file` is a transaction log of the hive named
/// `hive` (`system.log1` of `SYSTEM`): what the reader picks up beside it.
pub fn is_log_of(hive: &std::ffi::OsStr, file: &std::ffi::OsStr) -> bool {
    log_suffix(hive, file).is_some()
}

/// The name of the hive a file named like a log belongs to, as spelled in
/// the log's name (`system` for `system.LOG1`); `None` for other names.
pub fn hive_name_of(log: &str) -> Option<&str> {
    LOG_SUFFIXES.iter().find_map(|s| {
        let cut = log.len().checked_sub(s.len()).filter(|&c| c > 0)?;
        // The suffix is ASCII, so a match puts `cut` on a character boundary.
        let ext = log.as_bytes().get(cut..)?;
        ext.eq_ignore_ascii_case(s.as_bytes())
            .then(|| log.get(..cut))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_order_survives_wrap_around() {
        assert!(is_after(3, 2));
        assert!(!is_after(2, 3));
        assert!(!is_after(2, 2));
        assert!(is_after(0, u32::MAX));
        assert!(is_after(5, 0xFFFF_FFF0));
        assert!(!is_after(0xFFFF_FFF0, 5));
    }

    fn pages(v: &[(usize, usize)]) -> impl Iterator<Item = (usize, usize)> + '_ {
        v.iter().copied()
    }

    #[test]
    fn coverage_of_a_range_by_pages() {
        assert!(covers(pages(&[(0, 4096), (4096, 4096)]), 1000, 8192));
        assert!(covers(pages(&[(4096, 4096), (0, 5000)]), 0, 8192));
        assert!(!covers(pages(&[(0, 4096), (4608, 4096)]), 0, 8192));
        assert!(!covers(pages(&[(0, 4096)]), 0, 4097));
        assert!(covers(pages(&[]), 10, 10));
        assert!(!covers(pages(&[(usize::MAX - 1, 10)]), 0, 1));
    }

    #[test]
    fn log_names_and_their_hives() {
        use std::ffi::OsStr;
        assert_eq!(hive_name_of("system.Log1"), Some("system"));
        assert_eq!(hive_name_of("SYSTEM.LOG"), Some("SYSTEM"));
        assert_eq!(hive_name_of("日本.LOG2"), Some("日本"));
        assert_eq!(hive_name_of(".LOG1"), None);
        assert_eq!(hive_name_of("é"), None);
        assert_eq!(hive_name_of("SYSTEM.LOG3"), None);
        assert!(is_log_of(OsStr::new("SYSTEM"), OsStr::new("system.log2")));
        assert!(!is_log_of(OsStr::new("SYSTEM"), OsStr::new("SYSTEM")));
        assert!(!is_log_of(
            OsStr::new("SYSTEM"),
            OsStr::new("SOFTWARE.LOG1")
        ));
    }
}
