//! The 76-byte section descriptor that starts every section: its type, the
//! offset of the next section, its size, and an Adler-32 of the first 72
//! bytes.

use crate::image::crc::adler32;

pub const LEN: u64 = 76;

#[derive(Debug, Clone)]
pub struct Descriptor {
    /// The type, up to its first NUL (`header`, `volume`, `table`, ...).
    kind: [u8; 16],
    /// Where the next section starts, from the start of the segment file;
    /// `next` and `done` point to themselves.
    pub next: u64,
    /// The section's size with its descriptor; 0 in `next` and `done`
    /// sections, and in every section some old writers made.
    pub size: u64,
}

impl Descriptor {
    pub fn parse(b: &[u8; LEN as usize]) -> Result<Descriptor, String> {
        let stored = u32::from_le_bytes([b[72], b[73], b[74], b[75]]);
        let computed = adler32(&b[..72]);
        if stored != computed {
            return Err(format!(
                "section descriptor checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ));
        }
        let mut kind = [0u8; 16];
        kind.copy_from_slice(&b[..16]);
        let u64_at = |at: usize| {
            let mut v = [0u8; 8];
            v.copy_from_slice(&b[at..at + 8]);
            u64::from_le_bytes(v)
        };
        Ok(Descriptor {
            kind,
            next: u64_at(16),
            size: u64_at(24),
        })
    }

    /// The type as written, for messages.
    pub fn kind(&self) -> String {
        let end = self.kind.iter().position(|&c| c == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.kind[..end]).into_owned()
    }

    pub fn is(&self, kind: &str) -> bool {
        let end = self.kind.iter().position(|&c| c == 0).unwrap_or(16);
        &self.kind[..end] == kind.as_bytes()
    }
}

#[cfg(test)]
pub(crate) fn build(kind: &str, next: u64, size: u64) -> [u8; LEN as usize] {
    let mut b = [0u8; LEN as usize];
    b[..kind.len()].copy_from_slice(kind.as_bytes());
    b[16..24].copy_from_slice(&next.to_le_bytes());
    b[24..32].copy_from_slice(&size.to_le_bytes());
    let sum = adler32(&b[..72]);
    b[72..].copy_from_slice(&sum.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors() {
        let mut b = build("table2", 500, 228);
        let d = Descriptor::parse(&b).unwrap();
        assert!(d.is("table2") && !d.is("table"));
        assert_eq!((d.next, d.size, d.kind()), (500, 228, "table2".into()));
        b[20] ^= 1;
        assert!(Descriptor::parse(&b).unwrap_err().contains("checksum"));
    }
}
