//! LZX as WIM uses it ([MS-PATCH] LZX DELTA, with wimlib's notes on the WIM
//! variant): every chunk is an independent stream whose window is the WIM's
//! chunk size (32 KiB normally, up to 2 MiB), there is no file header, and
//! E8 call translation is always on with a fixed "file size" of 12 000 000.
//!
//! A stream is a sequence of blocks: 3 bits of type (1 verbatim, 2 aligned
//! offset, 3 uncompressed), then the block size (1 bit set = 32 768, else
//! 16 bits, plus 8 more when the window is over 32 KiB). Compressed blocks
//! carry their main and length code lengths as deltas from the previous
//! block's, coded with a 20-symbol pretree; aligned blocks add an 8-symbol
//! code for the low 3 bits of long offsets. Match offsets 0, 1 and 2 are the
//! three most recent offsets.

use super::huffman::{BitReader, Huffman};
use super::xpress::copy_match;

const NUM_CHARS: usize = 256;
const MIN_MATCH: usize = 2;
const NUM_PRIMARY_LENS: u32 = 7;
const LEN_SYMBOLS: usize = 249;
const PRETREE_SYMBOLS: usize = 20;
const ALIGNED_SYMBOLS: usize = 8;
const MAX_SLOTS: usize = 50;
const MAX_MAIN_SYMBOLS: usize = NUM_CHARS + MAX_SLOTS * 8;
const DEFAULT_BLOCK_SIZE: usize = 32768;
const E8_FILE_SIZE: i32 = 12_000_000;

pub const MIN_WINDOW_ORDER: u32 = 15;
pub const MAX_WINDOW_ORDER: u32 = 21;

const VERBATIM: u32 = 1;
const ALIGNED: u32 = 2;
const UNCOMPRESSED: u32 = 3;

/// Extra offset bits per position slot: 0,0,0,0,1,1,2,2,…,16,16, then 17.
const fn extra_bits(slot: usize) -> u32 {
    if slot < 4 {
        0
    } else {
        let e = (slot as u32 - 2) / 2;
        if e > 17 { 17 } else { e }
    }
}

/// The first formatted offset of each slot (before the adjustment of 2).
const fn slot_bases() -> [u32; MAX_SLOTS + 1] {
    let mut b = [0u32; MAX_SLOTS + 1];
    let mut i = 1;
    while i <= MAX_SLOTS {
        b[i] = b[i - 1] + (1 << extra_bits(i - 1));
        i += 1;
    }
    b
}

const SLOT_BASE: [u32; MAX_SLOTS + 1] = slot_bases();

/// The number of position slots for a window of `2^order` bytes: enough for
/// an offset of `window - 3`.
fn num_slots(order: u32) -> usize {
    let max_offset = (1u32 << order) - 3;
    // Formatted offset = offset + 2.
    (0..MAX_SLOTS)
        .find(|&s| SLOT_BASE[s + 1] > max_offset + 2)
        .map_or(MAX_SLOTS, |s| s + 1)
}

/// Counts of block types decoded, for tests that check which paths real
/// streams take.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BlockStats {
    pub verbatim: u64,
    pub aligned: u64,
    pub uncompressed: u64,
}

/// Decodes WIM LZX chunks of one window size; keeps its tables between
/// chunks (but no state: every chunk starts afresh).
pub struct Lzx {
    window_order: u32,
    num_main: usize,
    main_lens: [u8; MAX_MAIN_SYMBOLS],
    len_lens: [u8; LEN_SYMBOLS],
    main: Huffman,
    length: Huffman,
    aligned: Huffman,
    pretree: Huffman,
    pub stats: BlockStats,
}

impl Lzx {
    /// A decoder for chunks of at most `chunk_size` bytes (a power of two,
    /// 32 KiB to 2 MiB).
    pub fn new(chunk_size: u32) -> Result<Self, &'static str> {
        if !chunk_size.is_power_of_two() {
            return Err("LZX chunk size is not a power of two");
        }
        let order = chunk_size.trailing_zeros().max(MIN_WINDOW_ORDER);
        if order > MAX_WINDOW_ORDER {
            return Err("LZX chunk size over 2 MiB");
        }
        Ok(Lzx {
            window_order: order,
            num_main: NUM_CHARS + num_slots(order) * 8,
            main_lens: [0; MAX_MAIN_SYMBOLS],
            len_lens: [0; LEN_SYMBOLS],
            main: Huffman::new(16),
            length: Huffman::new(16),
            aligned: Huffman::new(7),
            pretree: Huffman::new(15),
            stats: BlockStats::default(),
        })
    }

    /// Decompresses one chunk into all of `out` (at most the window size).
    pub fn decompress(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), &'static str> {
        if out.len() > 1 << self.window_order {
            return Err("chunk larger than the LZX window");
        }
        let mut r = BitReader::new(input);
        let mut recent: [u32; 3] = [1, 1, 1];
        self.main_lens = [0; MAX_MAIN_SYMBOLS];
        self.len_lens = [0; LEN_SYMBOLS];

        let mut pos = 0usize;
        while pos < out.len() {
            r.ensure(4);
            let block_type = r.read(3);
            let block_size = if r.read(1) == 1 {
                DEFAULT_BLOCK_SIZE
            } else {
                let mut s = r.read(16) as usize;
                if self.window_order >= 16 {
                    s = (s << 8) | r.read(8) as usize;
                }
                s
            };
            if block_size == 0 || block_size > out.len() - pos {
                return Err("LZX block size out of range");
            }
            match block_type {
                VERBATIM | ALIGNED => {
                    if block_type == ALIGNED {
                        let mut lens = [0u8; ALIGNED_SYMBOLS];
                        for l in &mut lens {
                            *l = r.read(3) as u8;
                        }
                        self.aligned.build(&lens)?;
                        self.stats.aligned += 1;
                    } else {
                        self.stats.verbatim += 1;
                    }
                    let n = self.num_main;
                    read_lens(&mut self.pretree, &mut r, &mut self.main_lens[..NUM_CHARS])?;
                    read_lens(&mut self.pretree, &mut r, &mut self.main_lens[NUM_CHARS..n])?;
                    read_lens(&mut self.pretree, &mut r, &mut self.len_lens)?;
                    self.main.build(&self.main_lens[..n])?;
                    self.length.build(&self.len_lens)?;
                    let end = pos + block_size;
                    self.block(&mut r, out, pos, end, block_type == ALIGNED, &mut recent)?;
                    pos = end;
                }
                UNCOMPRESSED => {
                    self.stats.uncompressed += 1;
                    // The header starts at the next unit boundary; when
                    // already on one, a whole unit of padding comes first.
                    r.ensure(1);
                    r.align();
                    for rec in &mut recent {
                        *rec = r
                            .u32()
                            .ok_or("uncompressed block past the end of the data")?;
                        if *rec == 0 {
                            return Err("recent offset of 0 in an uncompressed block");
                        }
                    }
                    let data = r
                        .bytes(block_size)
                        .ok_or("uncompressed block past the end of the data")?;
                    out[pos..pos + block_size].copy_from_slice(data);
                    pos += block_size;
                    if block_size % 2 == 1 {
                        // Realign to a unit; the pad byte may be cut off at the end.
                        let _ = r.byte();
                    }
                }
                _ => return Err("invalid LZX block type"),
            }
        }
        if r.overran() {
            return Err("the compressed data ends early");
        }
        undo_e8(out);
        Ok(())
    }

    /// Decodes the literals and matches of one verbatim or aligned block.
    fn block(
        &self,
        r: &mut BitReader,
        out: &mut [u8],
        mut pos: usize,
        end: usize,
        aligned: bool,
        recent: &mut [u32; 3],
    ) -> Result<(), &'static str> {
        while pos < end {
            let sym = usize::from(self.main.decode(r)?);
            if sym < NUM_CHARS {
                out[pos] = sym as u8;
                pos += 1;
                continue;
            }
            let sym = sym - NUM_CHARS;
            let mut len = (sym & 7) as u32;
            let slot = sym >> 3;
            if len == NUM_PRIMARY_LENS {
                len += u32::from(self.length.decode(r)?);
            }
            let len = len as usize + MIN_MATCH;

            let offset = if slot < 3 {
                let o = recent[slot];
                recent[slot] = recent[0];
                o
            } else {
                let extra = extra_bits(slot);
                let bits = if aligned && extra >= 3 {
                    (r.read(extra - 3) << 3) | u32::from(self.aligned.decode(r)?)
                } else {
                    r.read(extra)
                };
                // Formatted offsets count the three recent offsets first.
                let o = SLOT_BASE[slot] + bits - 2;
                recent[2] = recent[1];
                recent[1] = recent[0];
                o
            };
            recent[0] = offset;
            copy_match(&mut out[..end], pos, offset as usize, len)?;
            pos += len;
        }
        Ok(())
    }
}

/// Reads a pretree, then with it the code lengths `lens`, coded as deltas
/// (mod 17) from their previous values, with runs of zeros and of one value.
fn read_lens(
    pretree: &mut Huffman,
    r: &mut BitReader,
    lens: &mut [u8],
) -> Result<(), &'static str> {
    let mut pre = [0u8; PRETREE_SYMBOLS];
    for l in &mut pre {
        *l = r.read(4) as u8;
    }
    pretree.build(&pre)?;
    let delta = |old: u8, sym: u16| ((u16::from(old) + 17 - sym) % 17) as u8;
    let mut i = 0;
    while i < lens.len() {
        let sym = pretree.decode(r)?;
        let (run, value) = match sym {
            0..=16 => (1, delta(lens[i], sym)),
            17 => (4 + r.read(4) as usize, 0),
            18 => (20 + r.read(5) as usize, 0),
            19 => {
                let run = 4 + r.read(1) as usize;
                let sym = pretree.decode(r)?;
                if sym > 17 {
                    return Err("invalid LZX pretree symbol after a run");
                }
                (run, delta(lens[i], sym))
            }
            _ => return Err("invalid LZX pretree symbol"),
        };
        // A run may overshoot the last length; the excess is dropped.
        let stop = (i + run).min(lens.len());
        lens[i..stop].fill(value);
        i = stop;
    }
    Ok(())
}

/// Undoes the E8 preprocessing: the 32-bit operand after each 0xE8 byte
/// (a call) that starts before the last 10 bytes goes from absolute back to
/// relative, when it lies in the translated range.
fn undo_e8(data: &mut [u8]) {
    if data.len() <= 10 {
        return;
    }
    let limit = data.len() - 10;
    let mut i = 0;
    while i < limit {
        if data[i] != 0xE8 {
            i += 1;
            continue;
        }
        let pos = i as i32;
        let at = i + 1..i + 5;
        let abs = i32::from_le_bytes([data[i + 1], data[i + 2], data[i + 3], data[i + 4]]);
        let rel = if (0..E8_FILE_SIZE).contains(&abs) {
            Some(abs - pos)
        } else if abs < 0 && abs >= -pos {
            Some(abs + E8_FILE_SIZE)
        } else {
            None
        };
        if let Some(rel) = rel {
            data[at].copy_from_slice(&rel.to_le_bytes());
        }
        i += 5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_tables_match_the_format() {
        assert_eq!(&SLOT_BASE[..10], &[0, 1, 2, 3, 4, 6, 8, 12, 16, 24]);
        assert_eq!(SLOT_BASE[30], 32768);
        assert_eq!(SLOT_BASE[50], 2097152);
        assert_eq!(extra_bits(36), 17);
        assert_eq!(num_slots(15), 30);
        assert_eq!(num_slots(16), 32);
        assert_eq!(num_slots(17), 34);
        assert_eq!(num_slots(21), 50);
    }

    #[test]
    fn e8_translation_is_undone_in_range_only() {
        let mut d = vec![0u8; 32];
        d[0] = 0xE8;
        d[1..5].copy_from_slice(&100i32.to_le_bytes()); // abs 100 at 0 -> rel 100
        d[5] = 0xE8;
        d[6..10].copy_from_slice(&(-3i32).to_le_bytes()); // abs -3 at 5 -> rel -3 + 12e6
        d[10] = 0xE8;
        d[11..15].copy_from_slice(&(-20i32).to_le_bytes()); // -20 < -10: untouched
        d[22] = 0xE8; // in the last 10 bytes: untouched
        d[23..27].copy_from_slice(&5i32.to_le_bytes());
        undo_e8(&mut d);
        assert_eq!(i32::from_le_bytes(d[1..5].try_into().unwrap()), 100);
        assert_eq!(
            i32::from_le_bytes(d[6..10].try_into().unwrap()),
            12_000_000 - 3
        );
        assert_eq!(i32::from_le_bytes(d[11..15].try_into().unwrap()), -20);
        assert_eq!(i32::from_le_bytes(d[23..27].try_into().unwrap()), 5);
    }

    /// A bit writer for hand-made streams: most significant bit first,
    /// 16-bit little-endian units.
    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }

    impl BitWriter {
        fn put(&mut self, v: u32, bits: u32) {
            for i in (0..bits).rev() {
                self.acc = (self.acc << 1) | ((v >> i) & 1);
                self.n += 1;
                if self.n == 16 {
                    self.out.extend_from_slice(&(self.acc as u16).to_le_bytes());
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }

        /// Pads to a unit; an already aligned stream gets a whole unit, as
        /// uncompressed blocks need.
        fn align_for_uncompressed(&mut self) {
            let pad = 16 - self.n;
            self.put(0, pad);
        }
    }

    #[test]
    fn uncompressed_blocks_decode_with_their_padding() {
        // Block type 3, size 5 (not the default: a 0 bit, then 16 bits).
        let mut w = BitWriter::default();
        w.put(UNCOMPRESSED, 3);
        w.put(0, 1);
        w.put(5, 16);
        w.align_for_uncompressed();
        let mut s = w.out;
        for r in [1u32, 2, 3] {
            s.extend_from_slice(&r.to_le_bytes());
        }
        s.extend_from_slice(b"hello");
        s.push(0); // odd size: one pad byte
        // A second uncompressed block, size 3, whose last pad byte is cut off.
        let mut w = BitWriter::default();
        w.put(UNCOMPRESSED, 3);
        w.put(0, 1);
        w.put(3, 16);
        w.align_for_uncompressed();
        s.extend_from_slice(&w.out);
        for r in [7u32, 8, 9] {
            s.extend_from_slice(&r.to_le_bytes());
        }
        s.extend_from_slice(b"abc");
        let mut out = [0u8; 8];
        let mut lzx = Lzx::new(32768).unwrap();
        lzx.decompress(&s, &mut out).unwrap();
        assert_eq!(&out, b"helloabc");
        assert_eq!(lzx.stats.uncompressed, 2);
        // A zero recent offset is refused.
        let mut bad = s.clone();
        bad[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(lzx.decompress(&bad, &mut out).is_err());
    }

    /// Writes `n` code lengths of 0 except `lens` (symbol, length 1), with
    /// a pretree giving 2-bit codewords to symbols 0, 16, 17 and 18.
    fn put_lens(w: &mut BitWriter, n: usize, ones: &[usize]) {
        let code = |sym: u32| match sym {
            0 => 0b00,
            16 => 0b01,
            17 => 0b10,
            18 => 0b11,
            _ => unreachable!(),
        };
        for sym in 0..20 {
            w.put(if [0, 16, 17, 18].contains(&sym) { 2 } else { 0 }, 4);
        }
        let mut i = 0;
        while i < n {
            if ones.contains(&i) {
                w.put(code(16), 2); // (0 - 1) mod 17: length 1
                i += 1;
                continue;
            }
            let zeros = (i..n).take_while(|j| !ones.contains(j)).count();
            if zeros >= 20 {
                let run = zeros.min(51);
                w.put(code(18), 2);
                w.put((run - 20) as u32, 5);
                i += run;
            } else if zeros >= 4 {
                w.put(code(17), 2);
                w.put((zeros - 4) as u32, 4);
                i += zeros;
            } else {
                w.put(code(0), 2); // length stays 0
                i += 1;
            }
        }
    }

    #[test]
    fn a_verbatim_block_then_an_aligned_uncompressed_header() {
        // Verbatim block: literals 'a' and 'b' with 1-bit codewords, the
        // length tree empty. Its size is chosen so that the next block's
        // header ends on a unit boundary: the uncompressed block must then
        // skip a whole unit of padding before its recent offsets.
        let header_bits = |w: &BitWriter| w.out.len() as u32 * 8 + w.n;
        let mut w = BitWriter::default();
        w.put(VERBATIM, 3);
        w.put(0, 1);
        let size_at = header_bits(&w);
        w.put(0, 16); // block size, patched below
        put_lens(&mut w, 256, &[b'a' as usize, b'b' as usize]);
        put_lens(&mut w, 240, &[]);
        put_lens(&mut w, LEN_SYMBOLS, &[]);
        let so_far = header_bits(&w);
        // so_far + literals + 20 header bits of the next block = 0 mod 16.
        let literals = 32 + (16 - (so_far + 20) % 16) % 16;
        let text: Vec<u8> = (0..literals)
            .map(|i| if i % 3 == 0 { b'b' } else { b'a' })
            .collect();
        for &c in &text {
            w.put(u32::from(c == b'b'), 1);
        }
        w.put(UNCOMPRESSED, 3);
        w.put(0, 1);
        w.put(2, 16);
        assert_eq!(w.n, 0, "the header ends on a unit boundary");
        w.put(0xFFFF, 16); // the extra unit
        let mut s = w.out;
        // Patch the verbatim block size (16 bits at size_at, MSB first).
        let unit = (size_at / 16) as usize;
        let shift = size_at % 16;
        let mut pair = (u32::from(u16::from_le_bytes([s[2 * unit], s[2 * unit + 1]])) << 16)
            | u32::from(u16::from_le_bytes([s[2 * unit + 2], s[2 * unit + 3]]));
        pair |= literals << (16 - shift);
        s[2 * unit..2 * unit + 2].copy_from_slice(&((pair >> 16) as u16).to_le_bytes());
        s[2 * unit + 2..2 * unit + 4].copy_from_slice(&(pair as u16).to_le_bytes());
        for r in [1u32, 1, 1] {
            s.extend_from_slice(&r.to_le_bytes());
        }
        s.extend_from_slice(b"hi");

        let mut out = vec![0u8; literals as usize + 2];
        let mut lzx = Lzx::new(32768).unwrap();
        lzx.decompress(&s, &mut out).unwrap();
        assert_eq!(&out[..literals as usize], &text[..]);
        assert_eq!(&out[literals as usize..], b"hi");
        assert_eq!(
            lzx.stats,
            BlockStats {
                verbatim: 1,
                aligned: 0,
                uncompressed: 1
            }
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut lzx = Lzx::new(32768).unwrap();
        let mut out = vec![0u8; 32768];
        let mut seed = 0x1234_5678_9abc_def0u64;
        for len in [0usize, 1, 2, 7, 64, 1000, 40000] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let _ = lzx.decompress(&data, &mut out);
        }
        assert!(Lzx::new(1 << 22).is_err());
        assert!(Lzx::new(3000).is_err());
    }

    /// Decodes every chunk wimlib wrote for the fixtures, on its own, and
    /// checks the files' SHA-1s; notes which block types real streams use.
    fn decode_fixture(name: &str, chunk_size: u32) -> BlockStats {
        use crate::image::wim::{sha1, test_support};
        let mut lzx = Lzx::new(chunk_size).unwrap();
        let mut files = 0;
        let mut multi_block_chunks = 0;
        for (path, sha, chunks) in test_support::compressed_files(name) {
            let mut data = Vec::new();
            for (stored, original) in &chunks {
                let mut out = vec![0u8; *original as usize];
                if stored.len() == out.len() {
                    out.copy_from_slice(stored);
                } else {
                    let before = lzx.stats;
                    lzx.decompress(stored, &mut out)
                        .unwrap_or_else(|e| panic!("{name} {path}: {e}"));
                    let blocks = |s: BlockStats| s.verbatim + s.aligned + s.uncompressed;
                    if blocks(lzx.stats) - blocks(before) > 1 {
                        multi_block_chunks += 1;
                    }
                    // Cut short, the stream must fail, not invent data.
                    let cut = &stored[..stored.len() / 2];
                    assert!(lzx.decompress(cut, &mut out.clone()).is_err(), "{path}");
                }
                data.extend_from_slice(&out);
            }
            assert_eq!(sha1::hex(&sha1::sha1(&data)), sha, "{name} {path}");
            files += 1;
        }
        assert!(files >= 5, "{name}: {files} compressed files");
        if chunk_size > 32768 {
            assert!(multi_block_chunks > 0, "{name}: no chunk of several blocks");
        }
        lzx.stats
    }

    #[test]
    fn decodes_wimlib_streams() {
        let s = decode_fixture("lzx.wim", 32768);
        assert!(s.verbatim > 0 && s.aligned > 0, "{s:?}");
        let s = decode_fixture("lzx-256k.wim", 262144);
        assert!(s.verbatim > 0 && s.aligned > 0, "{s:?}");
    }
}
