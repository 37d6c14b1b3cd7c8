//! The 13-byte file header that starts every segment file: a signature, then
//! the segment's number in its set (1 for the first).

/// EWF version 1 (`.E01` from EnCase 1 to 7, FTK Imager, ewfacquire; the
/// SMART `.s01` shares it).
pub const SIGNATURE: [u8; 8] = *b"EVF\x09\x0d\x0a\xff\x00";
/// EWF version 2 (`.Ex01`, EnCase 7 and later).
pub const SIGNATURE_V2: [u8; 8] = *b"EVF2\x0d\x0a\x81\x00";
/// A logical evidence file (`.L01`): files, not a disk.
pub const SIGNATURE_LOGICAL: [u8; 8] = *b"LVF\x09\x0d\x0a\xff\x00";
/// Version 2's logical evidence file (`.Lx01`).
pub const SIGNATURE_LOGICAL_V2: [u8; 8] = *b"LEF2\x0d\x0a\x81\x00";

/// The size of the file header; the first section descriptor follows it.
pub const LEN: usize = 13;

/// What a file's first eight bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    V1,
    V2,
    Logical,
}

pub fn kind(head: &[u8]) -> Option<Kind> {
    let sig = head.get(..8)?;
    if sig == SIGNATURE {
        Some(Kind::V1)
    } else if sig == SIGNATURE_V2 {
        Some(Kind::V2)
    } else if sig == SIGNATURE_LOGICAL || sig == SIGNATURE_LOGICAL_V2 {
        Some(Kind::Logical)
    } else {
        None
    }
}

/// The segment number of an EWF version 1 segment (bytes 9..11, little
/// endian), when `head` starts with one.
pub fn segment_number(head: &[u8]) -> Option<u16> {
    let h = head.get(..LEN)?;
    match kind(h) {
        Some(Kind::V1) => Some(u16::from_le_bytes([h[9], h[10]])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut h = SIGNATURE.to_vec();
        h.extend_from_slice(&[1, 2, 0, 0, 0]);
        assert_eq!(segment_number(&h), Some(2));
        assert_eq!(segment_number(&h[..12]), None);
        assert_eq!(kind(&SIGNATURE_V2), Some(Kind::V2));
        assert_eq!(kind(b"EVF\x09\x0d\x0a\xff\x01"), None);
        assert_eq!(segment_number(&[0u8; 13]), None);
    }
}
