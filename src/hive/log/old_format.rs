//! The old log format (Windows XP to 8.0, file types 1 and 2): after the
//! 512-byte base block copy, a dirty vector (`DIRT` and a bitmap with one bit
//! per 512-byte page of hive bins, least significant bit first), then the
//! dirty pages themselves, packed in bit order.

use crate::hive::base_block::LOG_BASE_BLOCK_SIZE;
use crate::hive::{MAX_HIVE_BINS_SIZE, is_sane_hive_bins_size, show_tag, tag_at};

pub const DIRTY_VECTOR_SIGNATURE: &[u8; 4] = b"DIRT";
/// The unit the bitmap counts in, whatever the disk's sector size.
pub const PAGE_SIZE: usize = 512;
/// The dirty vector and the pages start on sector boundaries.
const SECTOR: usize = 512;

/// Why a log's dirty vector or pages are unusable. Offsets are from the start
/// of the log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirtyVectorError {
    #[error(
        "the log's hive bins size {size:#x} is not a non-zero multiple of 4096 below {MAX_HIVE_BINS_SIZE:#x}"
    )]
    HiveBinsSize { size: u32 },
    #[error("no `DIRT` signature at offset {offset:#x} (found {})", show_tag(.found))]
    Signature { offset: usize, found: [u8; 4] },
    #[error(
        "the dirty vector is cut short: its bitmap needs bytes up to offset {needed:#x}, the file ends at offset {end:#x}"
    )]
    BitmapTruncated { needed: usize, end: usize },
    #[error(
        "the dirty pages are cut short: {pages} pages from offset {offset:#x} need bytes up to offset {needed:#x}, the file ends at offset {end:#x}"
    )]
    PagesTruncated {
        offset: usize,
        pages: usize,
        needed: usize,
        end: usize,
    },
}

/// A dirty page: `data` (512 bytes) goes to hive bins offset `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirtyPage<'a> {
    pub offset: u32,
    pub data: &'a [u8],
}

/// A checked dirty vector: every page its bitmap marks is in the file.
#[derive(Clone, Copy, Debug)]
pub struct DirtyVector<'a> {
    bitmap: &'a [u8],
    /// From the first dirty page to the end of the file.
    pages: &'a [u8],
    pages_offset: usize,
    dirty_pages: usize,
}

impl<'a> DirtyVector<'a> {
    /// The dirty vector of `log`, for a hive with `hive_bins_size` bytes of
    /// bins (the log's own base block says how many).
    pub fn parse(log: &'a [u8], hive_bins_size: u32) -> Result<Self, DirtyVectorError> {
        if !is_sane_hive_bins_size(hive_bins_size) {
            return Err(DirtyVectorError::HiveBinsSize {
                size: hive_bins_size,
            });
        }
        let end = log.len();
        let offset = LOG_BASE_BLOCK_SIZE;
        let found = tag_at(log, offset).ok_or(DirtyVectorError::BitmapTruncated {
            needed: offset + 4,
            end,
        })?;
        if &found != DIRTY_VECTOR_SIGNATURE {
            return Err(DirtyVectorError::Signature { offset, found });
        }
        // One bit per 512-byte page: hive_bins_size / 4096 bytes.
        let bitmap_start = offset + 4;
        let bitmap_end = bitmap_start + hive_bins_size as usize / (PAGE_SIZE * 8);
        let bitmap =
            log.get(bitmap_start..bitmap_end)
                .ok_or(DirtyVectorError::BitmapTruncated {
                    needed: bitmap_end,
                    end,
                })?;
        // The pages start at the next sector boundary, which is 1024 only
        // while the bitmap fits in the first sector (hives below ~2 MiB).
        let pages_offset = bitmap_end.div_ceil(SECTOR) * SECTOR;
        let dirty_pages = bitmap
            .iter()
            .map(|b| b.count_ones() as usize)
            .sum::<usize>();
        let needed = pages_offset + dirty_pages * PAGE_SIZE;
        let pages = log
            .get(pages_offset..needed)
            .ok_or(DirtyVectorError::PagesTruncated {
                offset: pages_offset,
                pages: dirty_pages,
                needed,
                end,
            })?;
        Ok(DirtyVector {
            bitmap,
            pages,
            pages_offset,
            dirty_pages,
        })
    }

    pub fn bitmap(&self) -> &'a [u8] {
        self.bitmap
    }

    /// Where the first dirty page is stored in the log.
    pub fn pages_offset(&self) -> usize {
        self.pages_offset
    }

    pub fn dirty_page_count(&self) -> usize {
        self.dirty_pages
    }

    /// The dirty pages, in bit order; page `i` of the hive bins goes to
    /// offset `512 * i`.
    pub fn dirty_pages(&self) -> impl Iterator<Item = DirtyPage<'a>> + 'a {
        let bitmap = self.bitmap;
        let mut stored = self.pages.chunks_exact(PAGE_SIZE);
        (0u32..)
            .zip(
                bitmap
                    .iter()
                    .flat_map(|&byte| (0..8).map(move |bit| byte >> bit & 1 == 1)),
            )
            .filter(|&(_, dirty)| dirty)
            .map_while(move |(page, _)| {
                let data = stored.next()?;
                let offset = page.checked_mul(PAGE_SIZE as u32)?;
                Some(DirtyPage { offset, data })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(bitmap: &[u8], pages_at: usize, pages: usize) -> Vec<u8> {
        let mut log = vec![0u8; pages_at + pages * PAGE_SIZE];
        log[512..516].copy_from_slice(DIRTY_VECTOR_SIGNATURE);
        log[516..516 + bitmap.len()].copy_from_slice(bitmap);
        for i in 0..pages {
            log[pages_at + i * PAGE_SIZE] = i as u8 + 1;
        }
        log
    }

    #[test]
    fn pages_follow_the_bitmap_at_the_next_sector() {
        // 0x2000 bytes of bins: a 2-byte bitmap, pages 1 and 9 dirty.
        let log = log_with(&[0b10, 0b10], 1024, 2);
        let v = DirtyVector::parse(&log, 0x2000).unwrap();
        let pages: Vec<_> = v.dirty_pages().map(|p| (p.offset, p.data[0])).collect();
        assert_eq!(pages, [(512, 1), (9 * 512, 2)]);
    }

    #[test]
    fn a_bitmap_past_the_first_sector_moves_the_pages() {
        // 4 MiB of bins: a 1024-byte bitmap ends at 1540, so pages start at
        // 1536 + 512 = 2048, not at 1024.
        let mut bitmap = vec![0u8; 1024];
        bitmap[1023] = 0x80;
        let log = log_with(&bitmap, 2048, 1);
        let v = DirtyVector::parse(&log, 4 << 20).unwrap();
        assert_eq!(v.pages_offset(), 2048);
        let pages: Vec<_> = v.dirty_pages().map(|p| (p.offset, p.data[0])).collect();
        assert_eq!(pages, [((4 << 20) - 512, 1)]);
    }

    #[test]
    fn missing_pages_are_an_error() {
        let mut log = log_with(&[0xFF], 1024, 8);
        log.truncate(1024 + 7 * PAGE_SIZE);
        assert_eq!(
            DirtyVector::parse(&log, 0x1000).unwrap_err(),
            DirtyVectorError::PagesTruncated {
                offset: 1024,
                pages: 8,
                needed: 1024 + 8 * 512,
                end: 1024 + 7 * 512
            }
        );
    }
}
