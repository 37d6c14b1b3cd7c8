//! The base block: the header of a primary hive file (4096 bytes) and of a
//! transaction log (its first 512 bytes, the part the checksum covers).

use super::{HIVE_BINS_START, show_tag, u32_at, u64_at};

pub const SIGNATURE: &[u8; 4] = b"regf";

/// A primary file's base block is 4096 bytes; logs keep only this much of
/// it, which is also all the checksum covers.
pub const LOG_BASE_BLOCK_SIZE: usize = 512;
pub const PRIMARY_BASE_BLOCK_SIZE: usize = HIVE_BINS_START;

/// File types: what the base block heads.
pub const FILE_TYPE_PRIMARY: u32 = 0;
/// An old-format log (Windows XP to 8.0).
pub const FILE_TYPE_LOG_OLD: u32 = 1;
/// The same old format, as Windows NT 3.51 to 2000 numbered it.
pub const FILE_TYPE_LOG_VERY_OLD: u32 = 2;
/// A new-format log (Windows 8.1 and later).
pub const FILE_TYPE_LOG_NEW: u32 = 6;

const PRIMARY_SEQUENCE: usize = 4;
const SECONDARY_SEQUENCE: usize = 8;
const TIMESTAMP: usize = 12;
const MAJOR_VERSION: usize = 20;
const MINOR_VERSION: usize = 24;
const FILE_TYPE: usize = 28;
const FILE_FORMAT: usize = 32;
const ROOT_CELL: usize = 36;
const HIVE_BINS_SIZE: usize = 40;
const CLUSTERING_FACTOR: usize = 44;
const FLAGS: usize = 144;
const CHECKSUM: usize = 508;

/// Why bytes are not a base block at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BaseBlockError {
    #[error(
        "the file ends at offset {end:#x}: a base block needs {LOG_BASE_BLOCK_SIZE} bytes from offset 0"
    )]
    TooShort { end: usize },
    #[error("no `regf` signature at offset 0 (found {})", show_tag(.found))]
    Signature { found: [u8; 4] },
}

/// A read-only view of a base block.
#[derive(Clone, Copy, Debug)]
pub struct BaseBlock<'a> {
    /// The first 512 bytes: every field and the checksummed area.
    header: &'a [u8],
}

impl<'a> BaseBlock<'a> {
    /// The base block at the start of `bytes` (a primary file or a log):
    /// needs 512 bytes and the `regf` signature, nothing more, so a damaged
    /// base block can still be inspected.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BaseBlockError> {
        let header = bytes
            .get(..LOG_BASE_BLOCK_SIZE)
            .ok_or(BaseBlockError::TooShort { end: bytes.len() })?;
        let found: [u8; 4] = header
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]);
        if &found != SIGNATURE {
            return Err(BaseBlockError::Signature { found });
        }
        Ok(BaseBlock { header })
    }

    /// The 512 bytes a log keeps and the checksum covers.
    pub fn header_bytes(&self) -> &'a [u8] {
        self.header
    }

    fn field(&self, offset: usize) -> u32 {
        // `header` is 512 bytes and every field lies below 512.
        u32_at(self.header, offset).unwrap_or_default()
    }

    /// Incremented when a write to the hive starts.
    pub fn primary_sequence(&self) -> u32 {
        self.field(PRIMARY_SEQUENCE)
    }

    /// Incremented when that write has finished.
    pub fn secondary_sequence(&self) -> u32 {
        self.field(SECONDARY_SEQUENCE)
    }

    /// Last written time, a FILETIME (not kept up to date since Windows 8.1).
    pub fn timestamp(&self) -> u64 {
        u64_at(self.header, TIMESTAMP).unwrap_or_default()
    }

    pub fn major_version(&self) -> u32 {
        self.field(MAJOR_VERSION)
    }

    pub fn minor_version(&self) -> u32 {
        self.field(MINOR_VERSION)
    }

    /// [`FILE_TYPE_PRIMARY`], or one of the log types.
    pub fn file_type(&self) -> u32 {
        self.field(FILE_TYPE)
    }

    /// 1: "direct memory load", the only format there is.
    pub fn file_format(&self) -> u32 {
        self.field(FILE_FORMAT)
    }

    /// The root key node, relative to the start of the hive bins.
    pub fn root_cell_offset(&self) -> u32 {
        self.field(ROOT_CELL)
    }

    /// How many bytes of hive bins follow the base block.
    pub fn hive_bins_size(&self) -> u32 {
        self.field(HIVE_BINS_SIZE)
    }

    pub fn clustering_factor(&self) -> u32 {
        self.field(CLUSTERING_FACTOR)
    }

    /// Windows 10 flags; bit 0 is carried over from log entries on replay.
    pub fn flags(&self) -> u32 {
        self.field(FLAGS)
    }

    pub fn stored_checksum(&self) -> u32 {
        self.field(CHECKSUM)
    }

    /// The XOR-32 of bytes 0..508, as Windows stores it.
    pub fn computed_checksum(&self) -> u32 {
        checksum(self.header)
    }

    pub fn checksum_ok(&self) -> bool {
        self.stored_checksum() == self.computed_checksum()
    }

    /// A write did not finish: Windows replays the logs before using the hive.
    pub fn is_dirty(&self) -> bool {
        !self.checksum_ok() || self.primary_sequence() != self.secondary_sequence()
    }
}

/// A base block in a buffer we own, for the fields replay rewrites.
#[derive(Debug)]
pub struct BaseBlockMut<'a> {
    header: &'a mut [u8],
}

impl<'a> BaseBlockMut<'a> {
    /// The base block at the start of `bytes`, which must hold at least 512
    /// bytes and the `regf` signature.
    pub fn new(bytes: &'a mut [u8]) -> Result<Self, BaseBlockError> {
        BaseBlock::new(bytes)?;
        let end = bytes.len();
        let header = bytes
            .get_mut(..LOG_BASE_BLOCK_SIZE)
            .ok_or(BaseBlockError::TooShort { end })?;
        Ok(BaseBlockMut { header })
    }

    pub fn view(&self) -> BaseBlock<'_> {
        BaseBlock {
            header: self.header,
        }
    }

    fn set(&mut self, offset: usize, value: u32) {
        if let Some(slot) = offset
            .checked_add(4)
            .and_then(|end| self.header.get_mut(offset..end))
        {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }

    pub fn set_sequence_numbers(&mut self, primary: u32, secondary: u32) {
        self.set(PRIMARY_SEQUENCE, primary);
        self.set(SECONDARY_SEQUENCE, secondary);
    }

    pub fn set_file_type(&mut self, file_type: u32) {
        self.set(FILE_TYPE, file_type);
    }

    pub fn set_hive_bins_size(&mut self, size: u32) {
        self.set(HIVE_BINS_SIZE, size);
    }

    pub fn set_flags(&mut self, flags: u32) {
        self.set(FLAGS, flags);
    }

    /// Stores the checksum of the current contents; call it last.
    pub fn update_checksum(&mut self) {
        let sum = checksum(self.header);
        self.set(CHECKSUM, sum);
    }
}

/// XOR of the 127 little-endian words before the checksum field. Windows
/// never stores 0 or 0xFFFFFFFF there (they are turned into 1 and
/// 0xFFFFFFFE), so a zeroed or erased header never passes as valid.
pub fn checksum(header: &[u8]) -> u32 {
    let words = header.get(..CHECKSUM).unwrap_or_default();
    let sum = words
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .fold(0, |acc, w| acc ^ w);
    match sum {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut b = vec![0u8; PRIMARY_BASE_BLOCK_SIZE];
        b[..4].copy_from_slice(SIGNATURE);
        b
    }

    #[test]
    fn checksum_never_stores_0_or_all_ones() {
        let mut b = header();
        // "regf" alone XORs to 0x66676572; cancel it out to reach 0.
        b[4..8].copy_from_slice(&0x6667_6572u32.to_le_bytes());
        assert_eq!(checksum(&b), 1);
        b[4..8].copy_from_slice(&(!0x6667_6572u32).to_le_bytes());
        assert_eq!(checksum(&b), 0xFFFF_FFFE);
    }

    #[test]
    fn dirty_when_sequences_differ_or_checksum_is_wrong() {
        let mut b = header();
        let mut m = BaseBlockMut::new(&mut b).unwrap();
        m.set_sequence_numbers(7, 7);
        m.update_checksum();
        assert!(!m.view().is_dirty());
        m.set_sequence_numbers(8, 7);
        assert!(m.view().is_dirty(), "checksum now stale, sequences differ");
        m.update_checksum();
        assert!(m.view().checksum_ok() && m.view().is_dirty());
        m.set_sequence_numbers(8, 8);
        assert!(m.view().is_dirty(), "only the checksum is wrong");
    }

    #[test]
    fn short_or_foreign_bytes_are_errors() {
        assert_eq!(
            BaseBlock::new(&[0; 511]).unwrap_err(),
            BaseBlockError::TooShort { end: 511 }
        );
        assert_eq!(
            BaseBlock::new(&[0x41; 512]).unwrap_err(),
            BaseBlockError::Signature { found: *b"AAAA" }
        );
    }
}
