//! XPRESS Huffman (LZ77 + Huffman, [MS-XCA] §2.1–2.2), as WIM uses it: every
//! chunk (at most 64 KiB) is one independent stream with one Huffman table,
//! and decoding stops when the chunk's known size is reached.
//!
//! Stream layout: 256 bytes holding 512 four-bit codeword lengths (symbol
//! `2i` in the low nibble of byte `i`), then a bit stream of 16-bit
//! little-endian units. Symbols below 256 are literals. A symbol `256 + s`
//! is a match: `s & 15` is the length minus 3 (15 = read more) and `s >> 4`
//! the number of offset bits below the offset's leading 1 bit. Extra length
//! bytes sit in the byte stream, right after the units buffered so far.

use super::huffman::{BitReader, Huffman};

const NUM_SYMBOLS: usize = 512;
const MAX_CODEWORD_LEN: u32 = 15;

/// Decodes XPRESS Huffman chunks; keeps its tables between chunks.
pub struct Xpress {
    code: Huffman,
    lens: [u8; NUM_SYMBOLS],
}

impl Default for Xpress {
    fn default() -> Self {
        Self::new()
    }
}

impl Xpress {
    pub fn new() -> Self {
        Xpress {
            code: Huffman::new(MAX_CODEWORD_LEN),
            lens: [0; NUM_SYMBOLS],
        }
    }

    /// Decompresses one chunk into all of `out`.
    pub fn decompress(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), &'static str> {
        let Some((table, stream)) = input.split_at_checked(NUM_SYMBOLS / 2) else {
            return Err("shorter than its Huffman table");
        };
        for (i, &b) in table.iter().enumerate() {
            self.lens[2 * i] = b & 0x0F;
            self.lens[2 * i + 1] = b >> 4;
        }
        self.code.build(&self.lens)?;

        let mut r = BitReader::new(stream);
        let mut pos = 0usize;
        while pos < out.len() {
            let sym = self.code.decode(&mut r)?;
            if sym < 256 {
                out[pos] = sym as u8;
                pos += 1;
                continue;
            }
            let sym = u32::from(sym - 256);
            let offset_bits = sym >> 4;
            // With 16 bits buffered, as [MS-XCA]'s decoder always has after a
            // symbol, the extra length bytes come after those units.
            r.ensure(16);
            let offset = (1usize << offset_bits) | r.read(offset_bits) as usize;
            let mut len = (sym & 15) as usize;
            if len == 15 {
                let b = r.byte().ok_or("match length past the end of the data")?;
                if b == 255 {
                    let mut l = r
                        .u16()
                        .map(u32::from)
                        .ok_or("match length past the end of the data")?;
                    if l == 0 {
                        l = r.u32().ok_or("match length past the end of the data")?;
                    }
                    if l < 15 {
                        return Err("invalid long match length");
                    }
                    len = l as usize;
                } else {
                    len = 15 + usize::from(b);
                }
            }
            len = len.checked_add(3).ok_or("invalid long match length")?;
            copy_match(out, pos, offset, len)?;
            pos += len;
        }
        if r.overran() {
            return Err("the compressed data ends early");
        }
        Ok(())
    }
}

/// Copies an LZ77 match of `len` bytes from `offset` bytes back to `pos`;
/// the ranges may overlap (a run).
#[inline]
pub(crate) fn copy_match(
    out: &mut [u8],
    pos: usize,
    offset: usize,
    len: usize,
) -> Result<(), &'static str> {
    if offset == 0 || offset > pos {
        return Err("match offset before the start of the chunk");
    }
    if len > out.len() - pos {
        return Err("match runs past the end of the chunk");
    }
    let src = pos - offset;
    if offset >= len {
        out.copy_within(src..src + len, pos);
    } else {
        for i in 0..len {
            out[pos + i] = out[src + i];
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made stream: literals 'a', 'b', then a match of length 7 at
    /// offset 2, using a code where symbols 'a', 'b', and match symbol
    /// 256 + (1 << 4 | 4) each have 2-bit codewords and one more 2-bit
    /// symbol fills the code.
    fn hand_made() -> Vec<u8> {
        let mut lens = [0u8; NUM_SYMBOLS];
        lens[b'a' as usize] = 2; // 00
        lens[b'b' as usize] = 2; // 01
        lens[256 + 0x14] = 2; // 10
        lens[300] = 2; // 11
        let mut v: Vec<u8> = (0..256)
            .map(|i| lens[2 * i] | (lens[2 * i + 1] << 4))
            .collect();
        // Bits: 00 01 10 then 1 offset bit (0 -> offset 2), then zeros.
        let unit: u16 = 0b0001_1000_0000_0000;
        v.extend_from_slice(&unit.to_le_bytes());
        v.extend_from_slice(&[0, 0]);
        v
    }

    #[test]
    fn decodes_a_hand_made_stream() {
        let mut out = [0u8; 9];
        Xpress::new().decompress(&hand_made(), &mut out).unwrap();
        assert_eq!(&out, b"ababababa");
    }

    #[test]
    fn refuses_bad_streams() {
        let mut x = Xpress::new();
        let mut out = [0u8; 16];
        assert!(x.decompress(&[0u8; 100], &mut out).is_err());
        // All lengths 15: over-subscribed.
        assert!(x.decompress(&[0xFFu8; 300], &mut out).is_err());
        // A match before the start.
        let mut s = hand_made();
        s[256] = 0;
        s[257] = 0b1000_0000; // the match first
        assert_eq!(
            x.decompress(&s, &mut out),
            Err("match offset before the start of the chunk")
        );
    }

    #[test]
    fn decodes_wimlib_streams() {
        use crate::image::wim::{sha1, test_support};
        let mut x = Xpress::new();
        let mut compressed = 0;
        for (path, sha, chunks) in test_support::compressed_files("xpress.wim") {
            let mut data = Vec::new();
            for (stored, original) in &chunks {
                let mut out = vec![0u8; *original as usize];
                if stored.len() == out.len() {
                    out.copy_from_slice(stored);
                } else {
                    x.decompress(stored, &mut out)
                        .unwrap_or_else(|e| panic!("{path}: {e}"));
                    compressed += 1;
                    let cut = &stored[..stored.len() / 2];
                    assert!(x.decompress(cut, &mut out.clone()).is_err(), "{path}");
                }
                data.extend_from_slice(&out);
            }
            assert_eq!(sha1::hex(&sha1::sha1(&data)), sha, "{path}");
        }
        assert!(compressed >= 10, "{compressed} compressed chunks");
    }
}
