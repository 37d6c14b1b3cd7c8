//! LZNT1, the compression of NTFS-compressed files ([MS-XCA] §2.5).
//!
//! A compressed stream is a run of chunks, each standing for up to 4096
//! bytes of output. A chunk starts with a 2-byte little-endian header: bits
//! 0-11 are the chunk's size less 3 (header included), bits 12-14 a
//! signature (3), bit 15 set when the chunk is compressed. A header of 0
//! ends the stream. An uncompressed chunk holds its bytes as they are. A
//! compressed chunk is a run of groups: a flag byte, then eight items, bit
//! `i` (from the low bit) saying whether item `i` is a literal byte (0) or a
//! 2-byte copy token (1). A token splits into a displacement (high bits) and
//! a length (low bits); the split depends on how much of the chunk has been
//! written: with `p` bytes written, the displacement takes
//! `max(4, ceil(log2(p)))` bits, the length the rest. The copy reads from
//! `displacement + 1` bytes back, `length + 3` bytes, overlapping allowed,
//! and never reaches before the chunk's start.
//!
//! In NTFS a compression unit (16 clusters) decompresses to its full size:
//! each chunk fills 4096 bytes of it, a short chunk or an early end leaving
//! zeros.

use std::fmt;

/// Uncompressed bytes a chunk stands for.
pub const CHUNK: usize = 4096;

/// Why a stream does not decompress, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lznt1Error {
    /// Byte offset in the compressed stream.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for Lznt1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (at byte {} of the compressed data)",
            self.reason, self.offset
        )
    }
}

impl std::error::Error for Lznt1Error {}

/// Decompresses `input` into `out`, chunk `i` at `out[i * 4096..]`, and
/// returns how many bytes of `out` the chunks covered. Bytes not written
/// are left as they are (zeros, for a fresh unit).
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, Lznt1Error> {
    let mut pos = 0;
    let mut written = 0;
    let mut chunk_start = 0;
    while pos + 2 <= input.len() {
        let header = u16::from_le_bytes([input[pos], input[pos + 1]]);
        if header == 0 {
            break;
        }
        if chunk_start >= out.len() {
            return Err(Lznt1Error {
                offset: pos,
                reason: "more chunks than the compression unit holds",
            });
        }
        let size = (header & 0x0FFF) as usize + 1;
        let data = input.get(pos + 2..pos + 2 + size).ok_or(Lznt1Error {
            offset: pos,
            reason: "a chunk runs past the end of the compressed data",
        })?;
        let window_end = (chunk_start + CHUNK).min(out.len());
        let window = &mut out[chunk_start..window_end];
        let n = if header & 0x8000 == 0 {
            let dst = window.get_mut(..size).ok_or(Lznt1Error {
                offset: pos,
                reason: "an uncompressed chunk is larger than 4096 bytes",
            })?;
            dst.copy_from_slice(data);
            size
        } else {
            chunk(data, window).map_err(|(at, reason)| Lznt1Error {
                offset: pos + 2 + at,
                reason,
            })?
        };
        written = chunk_start + n;
        chunk_start += CHUNK;
        pos += 2 + size;
    }
    Ok(written)
}

/// Decompresses one compressed chunk into `out` (at most 4096 bytes) and
/// returns the bytes written; an error names the offset in `data`.
fn chunk(data: &[u8], out: &mut [u8]) -> Result<usize, (usize, &'static str)> {
    let mut i = 0;
    let mut p = 0;
    while i < data.len() {
        let flags = data[i];
        i += 1;
        for bit in 0..8 {
            if i >= data.len() {
                break;
            }
            if flags & (1 << bit) == 0 {
                *out.get_mut(p)
                    .ok_or((i, "a literal past the end of the chunk"))? = data[i];
                p += 1;
                i += 1;
                continue;
            }
            let token = match data.get(i..i + 2) {
                Some(t) => u16::from_le_bytes([t[0], t[1]]) as usize,
                None => return Err((i, "a copy token cut short")),
            };
            if p == 0 {
                return Err((i, "a copy token before any byte of the chunk"));
            }
            let mut length_bits = 12;
            let mut q = p - 1;
            while q >= 0x10 {
                q >>= 1;
                length_bits -= 1;
            }
            let displacement = (token >> length_bits) + 1;
            let length = (token & ((1 << length_bits) - 1)) + 3;
            if displacement > p {
                return Err((i, "a copy token reaches before the start of the chunk"));
            }
            if p + length > out.len() {
                return Err((i, "a copy runs past the end of the chunk"));
            }
            for k in 0..length {
                out[p + k] = out[p + k - displacement];
            }
            p += length;
            i += 2;
        }
    }
    Ok(p)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A plain greedy LZNT1 compressor, written from the format above, for
    /// round trips. Returns the compressed chunks of `data`.
    pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for block in data.chunks(CHUNK) {
            let mut body = Vec::new();
            let mut p = 0;
            while p < block.len() {
                let flag_at = body.len();
                body.push(0u8);
                for bit in 0..8 {
                    if p >= block.len() {
                        break;
                    }
                    let mut length_bits = 12;
                    if p > 0 {
                        let mut q = p - 1;
                        while q >= 0x10 {
                            q >>= 1;
                            length_bits -= 1;
                        }
                    }
                    let max_len = (1usize << length_bits) + 2;
                    let max_disp = p.min(1 << (16 - length_bits));
                    let (mut best_len, mut best_disp) = (0, 0);
                    for disp in 1..=max_disp {
                        let mut l = 0;
                        while p + l < block.len()
                            && l < max_len
                            && block[p + l] == block[p + l - disp]
                        {
                            l += 1;
                        }
                        if l > best_len {
                            (best_len, best_disp) = (l, disp);
                        }
                    }
                    if best_len >= 3 {
                        let token = ((best_disp - 1) << length_bits) | (best_len - 3);
                        body.extend_from_slice(&(token as u16).to_le_bytes());
                        body[flag_at] |= 1 << bit;
                        p += best_len;
                    } else {
                        body.push(block[p]);
                        p += 1;
                    }
                }
            }
            if body.len() < block.len() {
                let header = 0xB000 | (body.len() as u16 + 2 - 3);
                out.extend_from_slice(&header.to_le_bytes());
                out.extend_from_slice(&body);
            } else {
                let header = 0x3000 | (block.len() as u16 + 2 - 3);
                out.extend_from_slice(&header.to_le_bytes());
                out.extend_from_slice(block);
            }
        }
        out
    }

    fn roundtrip(data: &[u8]) {
        let packed = compress(data);
        let mut out = vec![0u8; data.len().div_ceil(CHUNK).max(1) * CHUNK];
        let n = decompress(&packed, &mut out).unwrap();
        assert_eq!(n, data.len());
        assert_eq!(&out[..n], data);
    }

    #[test]
    fn hand_made_chunks() {
        // "abcabcabcabc!": 3 literals, a copy of 9 from 3 back, a literal.
        // At p = 3 the displacement has 4 bits: token = (2 << 12) | (9 - 3).
        let token: u16 = (2 << 12) | 6;
        let mut body = vec![0b0000_1000, b'a', b'b', b'c'];
        body.extend_from_slice(&token.to_le_bytes());
        body.push(b'!');
        let mut stream = (0xB000u16 | (body.len() as u16 - 1)).to_le_bytes().to_vec();
        stream.extend_from_slice(&body);
        // An uncompressed chunk follows (4096 bytes), then the end marker.
        stream.extend_from_slice(&(0x3000u16 | 4095).to_le_bytes());
        stream.extend((0..4096).map(|i| (i % 7) as u8));
        stream.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
        let mut out = vec![0xEEu8; 3 * CHUNK];
        out[..2 * CHUNK].fill(0);
        let n = decompress(&stream, &mut out).unwrap();
        assert_eq!(n, 2 * CHUNK);
        assert_eq!(&out[..13], b"abcabcabcabc!");
        assert!(
            out[13..CHUNK].iter().all(|&b| b == 0),
            "a short chunk is zero-filled"
        );
        assert_eq!(out[CHUNK + 8], 1);
        assert_eq!(out[2 * CHUNK], 0xEE, "nothing past the end marker");
    }

    #[test]
    fn bad_streams_are_errors_not_panics() {
        let mut out = vec![0u8; CHUNK];
        // A copy token first.
        let e = decompress(&[0x02, 0xB0, 0x01, 0x00, 0x00], &mut out).unwrap_err();
        assert!(e.reason.contains("before any byte"), "{e}");
        // Displacement past the start: at p = 1, 4 bits of displacement 15.
        let e = decompress(&[0x03, 0xB0, 0x02, b'x', 0x00, 0xF0], &mut out).unwrap_err();
        assert!(e.reason.contains("before the start"), "{e}");
        // Chunk size past the input.
        let e = decompress(&[0xFF, 0xBF, 0x00], &mut out).unwrap_err();
        assert!(e.reason.contains("past the end"), "{e}");
        // Two chunks for a 4096-byte unit.
        let mut two = (0x3000u16 | 4095).to_le_bytes().to_vec();
        two.extend([0u8; 4096]);
        two.extend([0x00, 0x30, 7]);
        assert!(decompress(&two, &mut out).is_err());
        // Every short input: no panic.
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0xB1) as u8).collect();
            let _ = decompress(&junk, &mut out);
        }
    }

    #[test]
    fn round_trips() {
        roundtrip(b"");
        roundtrip(b"a");
        roundtrip(&[7u8; 10000]);
        let text: Vec<u8> = (0..3000)
            .flat_map(|i| format!("line {i} of some compressible text\n").into_bytes())
            .take(20000)
            .collect();
        roundtrip(&text);
        let mut x: u64 = 1;
        let noise: Vec<u8> = (0..9000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect();
        roundtrip(&noise);
        let mixed: Vec<u8> = noise
            .iter()
            .zip(text.iter())
            .flat_map(|(a, b)| [*a % 4, *b])
            .collect();
        roundtrip(&mixed);
    }
}
