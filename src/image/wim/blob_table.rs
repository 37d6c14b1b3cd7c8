//! The blob table (Microsoft's "offset table"): one 50-byte entry per blob.
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 24 | resource header |
//! | 24 | 2 | part number |
//! | 26 | 4 | reference count |
//! | 30 | 20 | SHA-1 of the uncompressed data |
//!
//! Entries flagged metadata are the images' metadata resources, in image
//! order. The others are file data, found by the SHA-1 in a dentry; a blob
//! shared by several files or images is stored once.

use std::collections::HashMap;

use super::WimError;
use super::resource::{FLAG_METADATA, FLAG_SOLID, ResHdr};
use super::sha1::Sha1;

pub const ENTRY_SIZE: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    /// Where the entry is in the file (the table is stored uncompressed).
    pub at: u64,
    pub res: ResHdr,
    pub part: u16,
    pub refcount: u32,
    pub hash: Sha1,
}

impl BlobEntry {
    fn parse(b: &[u8], at: u64) -> BlobEntry {
        BlobEntry {
            at,
            res: ResHdr::parse(&b[..24]),
            part: u16::from_le_bytes([b[24], b[25]]),
            refcount: u32::from_le_bytes([b[26], b[27], b[28], b[29]]),
            hash: b[30..50].try_into().expect("20 bytes"),
        }
    }
}

impl BlobEntry {
    /// The blob's size. A blob inside a solid resource keeps its size in
    /// the "stored size" field and its offset within the solid resource in
    /// the offset field.
    pub fn size(&self) -> u64 {
        if self.res.flags & FLAG_SOLID != 0 {
            self.res.size_in_wim
        } else {
            self.res.original_size
        }
    }
}

#[derive(Debug, Default)]
pub struct BlobTable {
    /// The metadata resources, image 1 first.
    pub metadata: Vec<BlobEntry>,
    by_hash: HashMap<Sha1, BlobEntry>,
}

impl BlobTable {
    /// Parses the table, read whole from `offset` in the file.
    pub fn parse(b: &[u8], offset: u64) -> Result<BlobTable, WimError> {
        if b.len() % ENTRY_SIZE != 0 {
            return Err(WimError::Corrupt {
                offset,
                what: "blob table".into(),
                problem: format!(
                    "{} bytes, not a whole number of {ENTRY_SIZE}-byte entries",
                    b.len()
                ),
            });
        }
        let mut table = BlobTable::default();
        for (i, raw) in b.chunks_exact(ENTRY_SIZE).enumerate() {
            let e = BlobEntry::parse(raw, offset.saturating_add((i * ENTRY_SIZE) as u64));
            if e.res.flags & FLAG_METADATA != 0 {
                table.metadata.push(e);
            } else if e.hash != [0; 20] {
                table.by_hash.entry(e.hash).or_insert(e);
            }
        }
        Ok(table)
    }

    /// The file data blob with this SHA-1.
    pub fn get(&self, hash: &Sha1) -> Option<&BlobEntry> {
        self.by_hash.get(hash)
    }
}
