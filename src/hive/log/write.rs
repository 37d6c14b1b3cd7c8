//! Writing new-format logs, for tests and samples: from an old and a new
//! version of a hive, a dirty primary (the old one, mid-write) and the
//! `.LOG1`/`.LOG2` files whose replay gives back the new one.

use super::marvin32::{LOG_ENTRY_SEED, marvin32};
use super::new_format::{ENTRY_ALIGNMENT, ENTRY_HEADER_SIZE, ENTRY_SIGNATURE};
use crate::hive::base_block::{FILE_TYPE_LOG_NEW, LOG_BASE_BLOCK_SIZE};
use crate::hive::{BaseBlock, BaseBlockError, BaseBlockMut, HIVE_BINS_START};

/// At most this many entries (one per sequence number between the hives).
pub const MAX_ENTRIES: u32 = 65_536;

/// A dirty hive and its two logs; a log with no entries is empty (0 bytes),
/// as Windows leaves an unused one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirtyHive {
    pub primary: Vec<u8>,
    pub log1: Vec<u8>,
    pub log2: Vec<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// The unit pages are compared and logged in: 512 or 4096 bytes.
    /// Adjacent changed pages go out as one reference, as Windows writes them.
    pub page_size: u32,
    /// How many entries `.LOG1` holds; the rest go to `.LOG2`.
    pub log1_entries: u32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            page_size: 4096,
            log1_entries: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("{which} hive: {source}")]
    BaseBlock {
        which: &'static str,
        source: BaseBlockError,
    },
    #[error("{which} hive is not clean (dirty base block): replay it first")]
    NotClean { which: &'static str },
    #[error(
        "{which} hive is {len} bytes, less than the 4096-byte base block and its {size:#x} bytes of hive bins"
    )]
    Length {
        which: &'static str,
        len: usize,
        size: u32,
    },
    #[error(
        "the bytes after the new hive bins (from offset {offset:#x}) differ between the hives, or so do their lengths: no log entry can carry them"
    )]
    Padding { offset: usize },
    #[error("the new hive bins ({new:#x} bytes) are smaller than the old ({old:#x})")]
    Shrinks { old: u32, new: u32 },
    #[error("page size {0}: use 512 or 4096")]
    PageSize(u32),
    #[error(
        "the new hive's sequence number {new} must be 1 to {MAX_ENTRIES} past the old one's {old} (one log entry each)"
    )]
    Sequence { old: u32, new: u32 },
}

/// Writes the dirty primary and logs that take `old` to `new`.
///
/// Both hives must be clean, with `new`'s bins no smaller. Files may run on
/// past their hive bins (Windows pads them); what lies past `new`'s bins
/// must then be the same in both, since entries only carry hive bins.
///
/// The entries are numbered from `old`'s sequence number + 1 to `new`'s
/// (one entry per write in between, so at least one); the primary is `old`
/// with its primary sequence number bumped, which is what Windows leaves
/// when a write stops before the hive is updated. Replay gives back `new`
/// byte for byte when the two base blocks differ only in their sequence
/// numbers, hive bins size and flags (and so checksum).
pub fn write_logs(old: &[u8], new: &[u8], options: WriteOptions) -> Result<DirtyHive, WriteError> {
    let old_base = clean(old, "old")?;
    let new_base = clean(new, "new")?;
    let (old_size, new_size) = (old_base.hive_bins_size(), new_base.hive_bins_size());
    if new_size < old_size {
        return Err(WriteError::Shrinks {
            old: old_size,
            new: new_size,
        });
    }
    let bins_end = HIVE_BINS_START + new_size as usize;
    // Replay keeps the old file's length (grown to the new bins if shorter)
    // and its bytes past the bins: they must already be the new ones.
    let same_tail = new.len() == old.len().max(bins_end)
        && old.get(bins_end..).unwrap_or_default() == new.get(bins_end..).unwrap_or_default();
    if !same_tail {
        return Err(WriteError::Padding { offset: bins_end });
    }
    if !matches!(options.page_size, 512 | 4096) {
        return Err(WriteError::PageSize(options.page_size));
    }
    let first = old_base.primary_sequence().wrapping_add(1);
    let last = new_base.primary_sequence();
    let count = last.wrapping_sub(first).wrapping_add(1);
    if count == 0 || count > MAX_ENTRIES {
        return Err(WriteError::Sequence {
            old: old_base.primary_sequence(),
            new: last,
        });
    }

    let page = options.page_size as usize;
    let old_bins = old
        .get(HIVE_BINS_START..HIVE_BINS_START + old_size as usize)
        .unwrap_or_default();
    let new_bins = new.get(HIVE_BINS_START..bins_end).unwrap_or_default();
    let runs = changed_runs(old_bins, new_bins, page);
    let chunks = split(&runs, old_size as usize, count as usize, page);

    let flags = new_base.flags() & 1;
    let mut entries = chunks
        .iter()
        .zip((0..count).map(|i| first.wrapping_add(i)))
        .map(|(chunk, seq)| entry(chunk, new_bins, seq, new_size, flags));
    let in_log1 = options.log1_entries.min(count) as usize;
    let log1_entries: Vec<Vec<u8>> = entries.by_ref().take(in_log1).collect();
    let log2_entries: Vec<Vec<u8>> = entries.collect();
    let log1 = log_file(new, first, &log1_entries);
    let log2 = log_file(new, first.wrapping_add(in_log1 as u32), &log2_entries);

    let mut primary = old.to_vec();
    let mut base = BaseBlockMut::new(&mut primary).map_err(|source| WriteError::BaseBlock {
        which: "old",
        source,
    })?;
    base.set_sequence_numbers(first, old_base.secondary_sequence());
    base.update_checksum();
    Ok(DirtyHive {
        primary,
        log1,
        log2,
    })
}

fn clean<'a>(bytes: &'a [u8], which: &'static str) -> Result<BaseBlock<'a>, WriteError> {
    let base = BaseBlock::new(bytes).map_err(|source| WriteError::BaseBlock { which, source })?;
    if base.is_dirty() {
        return Err(WriteError::NotClean { which });
    }
    let size = base.hive_bins_size();
    if bytes.len() < HIVE_BINS_START.saturating_add(size as usize) {
        return Err(WriteError::Length {
            which,
            len: bytes.len(),
            size,
        });
    }
    Ok(base)
}

/// (offset, length) runs of pages that differ, or that lie past the end of
/// the old bins: Windows logs a new bin in full, and replay only grows a
/// hive with bytes the log holds.
fn changed_runs(old: &[u8], new: &[u8], page: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, data) in new.chunks(page).enumerate() {
        let offset = i * page;
        if old.get(offset..offset + data.len()) == Some(data) {
            continue;
        }
        match runs.last_mut() {
            Some((start, len)) if *start + *len == offset => *len += data.len(),
            _ => runs.push((offset, data.len())),
        }
    }
    runs
}

/// Spreads the runs over `count` entries. The growth (past `old_len`) goes
/// into the first entry, the one that grows the hive. An entry needs at least
/// one page, so one left without pages logs the first page again (its final
/// content, so writing it twice changes nothing).
fn split(
    runs: &[(usize, usize)],
    old_len: usize,
    count: usize,
    page: usize,
) -> Vec<Vec<(usize, usize)>> {
    let (growth, inside): (Vec<_>, Vec<_>) =
        runs.iter().copied().partition(|(o, l)| o + l > old_len);
    let mut chunks: Vec<Vec<(usize, usize)>> = (0..count)
        .map(|i| inside[i * inside.len() / count..(i + 1) * inside.len() / count].to_vec())
        .collect();
    if let Some(firstchunk) = chunks.first_mut() {
        firstchunk.extend(growth);
    }
    for chunk in &mut chunks {
        if chunk.is_empty() {
            chunk.push((0, page));
        }
    }
    chunks
}

/// One `HvLE` entry writing `runs` of `bins`, with both hashes.
fn entry(
    runs: &[(usize, usize)],
    bins: &[u8],
    seq: u32,
    hive_bins_size: u32,
    flags: u32,
) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(ENTRY_SIGNATURE);
    let data_len: usize = runs.iter().map(|r| r.1).sum();
    let unpadded = ENTRY_HEADER_SIZE + 8 * runs.len() + data_len;
    let size = unpadded.div_ceil(ENTRY_ALIGNMENT) * ENTRY_ALIGNMENT;
    for field in [size as u32, flags, seq, hive_bins_size, runs.len() as u32] {
        e.extend_from_slice(&field.to_le_bytes());
    }
    e.resize(ENTRY_HEADER_SIZE, 0);
    for &(offset, len) in runs {
        e.extend_from_slice(&(offset as u32).to_le_bytes());
        e.extend_from_slice(&(len as u32).to_le_bytes());
    }
    for &(offset, len) in runs {
        e.extend_from_slice(&bins[offset..offset + len]);
    }
    e.resize(size, 0);
    let hash1 = marvin32(LOG_ENTRY_SEED, &e[ENTRY_HEADER_SIZE..]);
    e[24..32].copy_from_slice(&hash1.to_le_bytes());
    let hash2 = marvin32(LOG_ENTRY_SEED, &e[..32]);
    e[32..40].copy_from_slice(&hash2.to_le_bytes());
    e
}

/// A log: `new`'s base block as a log keeps it (512 bytes, file type 6,
/// both sequence numbers those of its first entry), then the entries.
fn log_file(new: &[u8], seq: u32, entries: &[Vec<u8>]) -> Vec<u8> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut log = new[..LOG_BASE_BLOCK_SIZE].to_vec();
    if let Ok(mut base) = BaseBlockMut::new(&mut log) {
        base.set_sequence_numbers(seq, seq);
        base.set_file_type(FILE_TYPE_LOG_NEW);
        base.update_checksum();
    }
    for e in entries {
        log.extend_from_slice(e);
    }
    log
}
