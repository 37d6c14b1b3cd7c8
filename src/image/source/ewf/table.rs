//! The table section (and its mirror, table2): a 24-byte header (entry
//! count, base offset, Adler-32), then one 4-byte entry per chunk (bit 31:
//! the chunk is compressed; bits 0-30: its offset from the base offset),
//! then, since EnCase 6, an Adler-32 of the entries.

use crate::image::crc::adler32;

pub const HEADER_LEN: u64 = 24;

/// The most entries one table may hold here (4 MiB of entries). EnCase
/// writes at most 16375 per table; EWF-X has no limit, so a larger table is
/// read, but one table is loaded whole to check its checksum.
pub const MAX_ENTRIES: u32 = 1 << 20;

/// Bit 31 of an entry: the chunk is zlib-compressed.
pub const COMPRESSED: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub count: u32,
    /// Added to every entry's offset (EnCase 6.7 and later; 0 before, when
    /// entries were offsets from the start of the segment file).
    pub base: u64,
}

pub fn parse_header(b: &[u8; HEADER_LEN as usize]) -> Result<Header, String> {
    let stored = u32::from_le_bytes([b[20], b[21], b[22], b[23]]);
    let computed = adler32(&b[..20]);
    if stored != computed {
        return Err(format!(
            "table header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if count > MAX_ENTRIES {
        return Err(format!(
            "a table of {count} entries (at most {MAX_ENTRIES} are read)"
        ));
    }
    let mut base = [0u8; 8];
    base.copy_from_slice(&b[8..16]);
    Ok(Header {
        count,
        base: u64::from_le_bytes(base),
    })
}

/// The entries in `raw` (`count` entries, then the 4-byte checksum when
/// `footer`), checked against that checksum.
pub fn parse_entries(raw: &[u8], footer: bool) -> Result<Vec<u32>, String> {
    let entries_len = match footer {
        true => raw.len().checked_sub(4).ok_or("no room for a checksum")?,
        false => raw.len(),
    };
    let (entries, rest) = raw.split_at(entries_len);
    if footer {
        let stored = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let computed = adler32(entries);
        if stored != computed {
            return Err(format!(
                "table entries checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
    }
    Ok(entries
        .chunks_exact(4)
        .map(|e| u32::from_le_bytes([e[0], e[1], e[2], e[3]]))
        .collect())
}

#[cfg(test)]
pub(crate) fn build_header(count: u32, base: u64) -> [u8; HEADER_LEN as usize] {
    let mut b = [0u8; HEADER_LEN as usize];
    b[..4].copy_from_slice(&count.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    let sum = adler32(&b[..20]);
    b[20..].copy_from_slice(&sum.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let h = parse_header(&build_header(3, 1778)).unwrap();
        assert_eq!((h.count, h.base), (3, 1778));
        assert!(parse_header(&build_header(MAX_ENTRIES + 1, 0)).is_err());
        let mut bad = build_header(3, 0);
        bad[9] = 1;
        assert!(parse_header(&bad).is_err());
        let mut raw: Vec<u8> = [0x4cu32, 0x8000_0100]
            .iter()
            .flat_map(|e| e.to_le_bytes())
            .collect();
        let sum = adler32(&raw);
        raw.extend_from_slice(&sum.to_le_bytes());
        assert_eq!(parse_entries(&raw, true).unwrap(), vec![0x4c, 0x8000_0100]);
        assert_eq!(parse_entries(&raw[..8], false).unwrap().len(), 2);
        raw[0] ^= 1;
        assert!(parse_entries(&raw, true).is_err());
        assert!(parse_entries(&raw[..2], true).is_err());
    }
}
