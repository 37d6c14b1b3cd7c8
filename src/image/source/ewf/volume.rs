//! The volume section (also named `disk`, and repeated as `data` in later
//! segments): the geometry of the acquired media. EnCase's layout is 1052
//! bytes, SMART's (`.s01`) 94; both start the same way.

use crate::image::crc::adler32;

/// EnCase's (EWF-E01) volume data: a checksum of the first 1048 bytes at 1048.
pub const LEN: usize = 1052;
/// SMART's (EWF-S01): a checksum of the first 90 bytes at 90.
pub const LEN_SMART: usize = 94;

/// The largest chunk read: EnCase allows 32768 sectors per chunk, 16 MiB
/// of 512-byte sectors; one chunk is held decompressed, so the cap bounds
/// the memory a read costs.
pub const MAX_CHUNK: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Volume {
    pub bytes_per_sector: u32,
    pub sectors: u64,
    /// The size of a chunk in bytes (sectors per chunk x bytes per sector).
    pub chunk_size: u64,
}

impl Volume {
    /// The media's size in bytes.
    pub fn media_size(&self) -> Option<u64> {
        self.sectors.checked_mul(u64::from(self.bytes_per_sector))
    }
}

/// Reads the volume data (`data` holds `LEN` bytes, or `LEN_SMART` when the
/// section is SMART's shorter one).
pub fn parse(data: &[u8]) -> Result<Volume, String> {
    let u32_at =
        |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let (sum_at, sectors) = match data.len() {
        LEN => (LEN - 4, {
            let mut v = [0u8; 8];
            v.copy_from_slice(&data[16..24]);
            u64::from_le_bytes(v)
        }),
        LEN_SMART => (LEN_SMART - 4, u64::from(u32_at(16))),
        n => return Err(format!("a volume section of {n} bytes")),
    };
    let (stored, computed) = (u32_at(sum_at), adler32(&data[..sum_at]));
    if stored != computed {
        return Err(format!(
            "volume section checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        ));
    }
    let sectors_per_chunk = u32_at(8);
    let bytes_per_sector = u32_at(12);
    let chunk_size = u64::from(sectors_per_chunk) * u64::from(bytes_per_sector);
    if chunk_size == 0 || chunk_size > MAX_CHUNK {
        return Err(format!(
            "{sectors_per_chunk} sectors of {bytes_per_sector} bytes per chunk (at most {MAX_CHUNK} bytes are read)"
        ));
    }
    let v = Volume {
        bytes_per_sector,
        sectors,
        chunk_size,
    };
    if v.media_size().is_none() {
        return Err(format!(
            "{sectors} sectors of {bytes_per_sector} bytes overflow a 64-bit size"
        ));
    }
    Ok(v)
}

#[cfg(test)]
pub(crate) fn build(sectors: u64, sectors_per_chunk: u32, bytes_per_sector: u32) -> Vec<u8> {
    let mut v = vec![0u8; LEN];
    v[0] = 1;
    v[8..12].copy_from_slice(&sectors_per_chunk.to_le_bytes());
    v[12..16].copy_from_slice(&bytes_per_sector.to_le_bytes());
    v[16..24].copy_from_slice(&sectors.to_le_bytes());
    let sum = adler32(&v[..LEN - 4]);
    v[LEN - 4..].copy_from_slice(&sum.to_le_bytes());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let v = parse(&build(24576, 64, 512)).unwrap();
        assert_eq!((v.chunk_size, v.media_size()), (32768, Some(12 << 20)));
        assert!(
            parse(&build(u64::MAX, 64, 512))
                .unwrap_err()
                .contains("overflow")
        );
        assert!(parse(&build(1, 0, 512)).is_err());
        assert!(parse(&build(1, 1 << 16, 4096)).is_err());
        let mut bad = build(8, 64, 512);
        bad[16] ^= 1;
        assert!(parse(&bad).unwrap_err().contains("checksum"));
        assert!(parse(&bad[..100]).is_err());
    }
}
