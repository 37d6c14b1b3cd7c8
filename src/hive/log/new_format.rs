//! The new log format (Windows 8.1 and later, file type 6): after the
//! 512-byte base block copy come log entries (`HvLE`), each 512-aligned and
//! self-checking, each a set of hive-bin pages to write.
//!
//! Entry layout: signature, size, flags, sequence number, hive bins size,
//! dirty page count (all u32), Hash-1 and Hash-2 (u64), then `count`
//! references (offset, size: u32 each) and the pages, packed in that order.

use super::marvin32::{LOG_ENTRY_SEED, marvin32};
use crate::hive::base_block::LOG_BASE_BLOCK_SIZE;
use crate::hive::{MAX_HIVE_BINS_SIZE, is_sane_hive_bins_size, show_tag, tag_at, u32_at, u64_at};

pub const ENTRY_SIGNATURE: &[u8; 4] = b"HvLE";
/// The fixed part of an entry, before the page references.
pub const ENTRY_HEADER_SIZE: usize = 40;
/// Entries start and end on 512-byte boundaries.
pub const ENTRY_ALIGNMENT: usize = 512;
/// Hash-2 covers the first 32 bytes, Hash-1 included.
const HASH2_COVERS: usize = 32;
const HASH1_AT: usize = 24;
const HASH2_AT: usize = 32;

/// Why the bytes at an offset are not the log entry replay expects there.
/// Replay stops at the first one; offsets are from the start of the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error(
        "log entry at offset {offset:#x} is cut short: it needs {needed} bytes, the file ends at offset {end:#x}"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        end: usize,
    },
    #[error("no `HvLE` signature at offset {offset:#x} (found {})", show_tag(.found))]
    Signature { offset: usize, found: [u8; 4] },
    #[error("log entry at offset {offset:#x} has size {size}, not a non-zero multiple of 512")]
    Size { offset: usize, size: u32 },
    #[error(
        "log entry at offset {offset:#x} has hive bins size {size:#x}, not a non-zero multiple of 4096 below {MAX_HIVE_BINS_SIZE:#x}"
    )]
    HiveBinsSize { offset: usize, size: u32 },
    #[error(
        "log entry at offset {offset:#x} has {count} dirty pages, whose references do not fit in its {size} bytes"
    )]
    PageCount {
        offset: usize,
        count: u32,
        size: u32,
    },
    #[error(
        "log entry at offset {offset:#x}: Hash-2 is {stored:#018x}, its first 32 bytes hash to {computed:#018x}"
    )]
    Hash2 {
        offset: usize,
        stored: u64,
        computed: u64,
    },
    #[error(
        "log entry at offset {offset:#x}: Hash-1 is {stored:#018x}, its pages hash to {computed:#018x}"
    )]
    Hash1 {
        offset: usize,
        stored: u64,
        computed: u64,
    },
    #[error("log entry at offset {offset:#x} has sequence number {found}, expected {expected}")]
    Sequence {
        offset: usize,
        expected: u32,
        found: u32,
    },
    #[error(
        "log entry at offset {offset:#x}: page {index} ({page_size} bytes at hive bins offset {page_offset:#x}) lies outside its {hive_bins_size:#x} bytes of hive bins"
    )]
    PageOutsideHive {
        offset: usize,
        index: u32,
        page_offset: u32,
        page_size: u32,
        hive_bins_size: u32,
    },
    /// Raised by replay, not by [`LogEntry::parse`]: the entry would grow the
    /// hive file past its end without holding all of the new bytes.
    #[error(
        "log entry at offset {offset:#x} grows the hive from hive offset {end:#x} to {needed:#x} but does not hold all of that data"
    )]
    GrowthNotLogged {
        offset: usize,
        end: usize,
        needed: usize,
    },
    #[error(
        "log entry at offset {offset:#x}: its pages need {needed} bytes, more than the entry's {size}"
    )]
    PagesOverrun {
        offset: usize,
        needed: usize,
        size: u32,
    },
}

/// One page a log entry writes: `data` goes to hive bins offset `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirtyPage<'a> {
    pub offset: u32,
    pub data: &'a [u8],
}

/// A validated log entry: signature, sizes, both hashes, the expected
/// sequence number, and every page inside the entry and the hive bins.
#[derive(Clone, Copy, Debug)]
pub struct LogEntry<'a> {
    /// Exactly `size` bytes.
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> LogEntry<'a> {
    /// Reads and checks the entry at `offset` of `log`, which must carry
    /// `expected_sequence`. The checks follow the specification's recovery
    /// rules: a bad hash or hive bins size ends recovery, and so does a gap
    /// in the sequence (yarp, notatin and Windows agree on that).
    pub fn parse(log: &'a [u8], offset: usize, expected_sequence: u32) -> Result<Self, EntryError> {
        let end = log.len();
        let available = end.saturating_sub(offset);
        let truncated = |needed: usize| EntryError::Truncated {
            offset,
            needed,
            end,
        };
        if available < ENTRY_HEADER_SIZE {
            return Err(truncated(ENTRY_HEADER_SIZE));
        }
        let found = tag_at(log, offset).ok_or_else(|| truncated(ENTRY_HEADER_SIZE))?;
        if &found != ENTRY_SIGNATURE {
            return Err(EntryError::Signature { offset, found });
        }
        let field = |at: usize| {
            offset
                .checked_add(at)
                .and_then(|p| u32_at(log, p))
                .unwrap_or_default()
        };
        let size = field(4);
        let size_bytes = size as usize;
        if size_bytes == 0 || size_bytes % ENTRY_ALIGNMENT != 0 {
            return Err(EntryError::Size { offset, size });
        }
        let bytes = offset
            .checked_add(size_bytes)
            .and_then(|stop| log.get(offset..stop))
            .ok_or_else(|| truncated(size_bytes))?;
        let entry = LogEntry { bytes, offset };

        let hive_bins_size = entry.hive_bins_size();
        if !is_sane_hive_bins_size(hive_bins_size) {
            return Err(EntryError::HiveBinsSize {
                offset,
                size: hive_bins_size,
            });
        }
        let count = entry.dirty_page_count();
        let references_end = (count as usize)
            .checked_mul(8)
            .and_then(|n| n.checked_add(ENTRY_HEADER_SIZE));
        if count == 0 || references_end.is_none_or(|e| e > size_bytes) {
            return Err(EntryError::PageCount {
                offset,
                count,
                size,
            });
        }
        let (stored, computed) = (entry.hash2(), entry.computed_hash2());
        if stored != computed {
            return Err(EntryError::Hash2 {
                offset,
                stored,
                computed,
            });
        }
        let (stored, computed) = (entry.hash1(), entry.computed_hash1());
        if stored != computed {
            return Err(EntryError::Hash1 {
                offset,
                stored,
                computed,
            });
        }
        let found = entry.sequence_number();
        if found != expected_sequence {
            return Err(EntryError::Sequence {
                offset,
                expected: expected_sequence,
                found,
            });
        }
        entry.check_pages()?;
        Ok(entry)
    }

    fn field(&self, at: usize) -> u32 {
        // `parse` made sure the 40-byte header is there.
        u32_at(self.bytes, at).unwrap_or_default()
    }

    /// Where the entry starts in its log file.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The whole entry: header, references, pages and padding.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn size(&self) -> u32 {
        self.field(4)
    }

    /// Bit 0 is copied into the base block flags when the entry is applied.
    pub fn flags(&self) -> u32 {
        self.field(8)
    }

    /// The sequence number the hive has once this entry is applied.
    pub fn sequence_number(&self) -> u32 {
        self.field(12)
    }

    /// The hive bins size when the entry was written: the hive grows (or
    /// shrinks) to it.
    pub fn hive_bins_size(&self) -> u32 {
        self.field(16)
    }

    pub fn dirty_page_count(&self) -> u32 {
        self.field(20)
    }

    pub fn hash1(&self) -> u64 {
        u64_at(self.bytes, HASH1_AT).unwrap_or_default()
    }

    pub fn hash2(&self) -> u64 {
        u64_at(self.bytes, HASH2_AT).unwrap_or_default()
    }

    /// Marvin32 of everything after the header (references, pages, padding).
    pub fn computed_hash1(&self) -> u64 {
        marvin32(
            LOG_ENTRY_SEED,
            self.bytes.get(ENTRY_HEADER_SIZE..).unwrap_or_default(),
        )
    }

    /// Marvin32 of the first 32 bytes, which include Hash-1.
    pub fn computed_hash2(&self) -> u64 {
        marvin32(
            LOG_ENTRY_SEED,
            self.bytes.get(..HASH2_COVERS).unwrap_or_default(),
        )
    }

    /// The (offset, size) page references, in order.
    pub fn page_references(&self) -> impl Iterator<Item = (u32, u32)> + 'a {
        let bytes = self.bytes;
        let count = self.dirty_page_count() as usize;
        bytes
            .get(ENTRY_HEADER_SIZE..)
            .unwrap_or_default()
            .chunks_exact(8)
            .take(count)
            .map(|r| {
                (
                    u32_at(r, 0).unwrap_or_default(),
                    u32_at(r, 4).unwrap_or_default(),
                )
            })
    }

    /// The pages to write, in order (a later page wins where two overlap).
    pub fn pages(&self) -> impl Iterator<Item = DirtyPage<'a>> + 'a {
        let bytes = self.bytes;
        let start = ENTRY_HEADER_SIZE + 8 * self.dirty_page_count() as usize;
        self.page_references()
            .scan(start, move |at, (offset, size)| {
                let from = *at;
                *at = from.checked_add(size as usize)?;
                let data = bytes.get(from..*at)?;
                Some(DirtyPage { offset, data })
            })
    }

    fn check_pages(&self) -> Result<(), EntryError> {
        let hive_bins_size = self.hive_bins_size();
        let mut needed = ENTRY_HEADER_SIZE + 8 * self.dirty_page_count() as usize;
        for (index, (page_offset, page_size)) in (0u32..).zip(self.page_references()) {
            if page_offset
                .checked_add(page_size)
                .is_none_or(|e| e > hive_bins_size)
            {
                return Err(EntryError::PageOutsideHive {
                    offset: self.offset,
                    index,
                    page_offset,
                    page_size,
                    hive_bins_size,
                });
            }
            needed = needed.saturating_add(page_size as usize);
        }
        if needed > self.bytes.len() {
            return Err(EntryError::PagesOverrun {
                offset: self.offset,
                needed,
                size: self.size(),
            });
        }
        Ok(())
    }
}

/// The entries of a new-format log, from offset 512, each expected to carry
/// the next sequence number after `first_sequence`. Yields the good ones,
/// then the reason reading stopped (if the file did not simply end), then
/// nothing: what follows a bad entry is not trusted.
pub fn entries(log: &[u8], first_sequence: u32) -> Entries<'_> {
    Entries {
        log,
        offset: LOG_BASE_BLOCK_SIZE,
        expected: first_sequence,
        done: false,
    }
}

/// Iterator returned by [`entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    log: &'a [u8],
    offset: usize,
    expected: u32,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<LogEntry<'a>, EntryError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.log.len() {
            return None;
        }
        match LogEntry::parse(self.log, self.offset, self.expected) {
            Ok(entry) => {
                self.offset = self.offset.saturating_add(entry.bytes.len());
                self.expected = self.expected.wrapping_add(1);
                Some(Ok(entry))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
