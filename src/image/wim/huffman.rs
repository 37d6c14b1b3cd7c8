//! What XPRESS and LZX share: a bit reader over 16-bit little-endian coding
//! units, read most significant bit first, and canonical Huffman decoding.
//!
//! Both formats pad the end of a chunk to a whole coding unit, and a decoder
//! that peeks a whole codeword may look up to two units past the data. Those
//! units read as zeros; needing more than that means the data ended early,
//! which [`BitReader::overran`] reports once the chunk is decoded.

/// Reads bits, most significant first, from 16-bit little-endian units.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// The next unread byte of `data`.
    pos: usize,
    /// The unread bits, left-aligned: the next bit is bit 63.
    buf: u64,
    /// How many bits of `buf` are valid.
    bits: u32,
    /// Zero units supplied past the end of `data`.
    padding: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            bits: 0,
            padding: 0,
        }
    }

    /// Loads 16-bit units until at least `n` (at most 32) bits are buffered.
    #[inline]
    pub(crate) fn ensure(&mut self, n: u32) {
        while self.bits < n {
            let unit = match self.data.get(self.pos..self.pos + 2) {
                Some(b) => {
                    self.pos += 2;
                    u16::from_le_bytes([b[0], b[1]])
                }
                None => {
                    self.padding = self.padding.saturating_add(1);
                    0
                }
            };
            self.buf |= u64::from(unit) << (48 - self.bits);
            self.bits += 16;
        }
    }

    /// The next `n` (at most 32) bits, without consuming them. Call
    /// [`ensure`](Self::ensure) first.
    #[inline]
    pub(crate) fn peek(&self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            (self.buf >> (64 - n)) as u32
        }
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.bits);
        self.buf = self.buf.checked_shl(n).unwrap_or(0);
        self.bits = self.bits.saturating_sub(n);
    }

    /// Reads `n` (at most 32) bits.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> u32 {
        self.ensure(n);
        let v = self.peek(n);
        self.consume(n);
        v
    }

    /// Drops the buffered bits, so that byte reads start at the next unit
    /// boundary.
    pub(crate) fn align(&mut self) {
        self.buf = 0;
        self.bits = 0;
    }

    /// Reads `n` raw bytes at the current byte position (after the units
    /// already buffered).
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let b = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Whether decoding used more than two units past the end of the data,
    /// that is, consumed bits the data does not have.
    pub(crate) fn overran(&self) -> bool {
        self.padding > 2
    }
}

/// Symbols whose codewords are at most this long decode with one lookup.
const TABLE_BITS: u32 = 10;

/// A canonical Huffman code, as both formats define it: codewords are
/// assigned in order of length, then of symbol value.
pub(crate) struct Huffman {
    /// Indexed by the next `TABLE_BITS` bits: `symbol << 5 | length`, or 0
    /// when the codeword is longer than `TABLE_BITS` (or unassigned).
    table: Vec<u16>,
    /// How many codewords have each length, 0..=16.
    counts: [u16; 17],
    /// The symbols with a codeword, in canonical order.
    sorted: Vec<u16>,
    max_len: u32,
}

impl Huffman {
    pub(crate) fn new(max_len: u32) -> Self {
        debug_assert!((1..=16).contains(&max_len));
        Huffman {
            table: vec![0; 1 << TABLE_BITS],
            counts: [0; 17],
            sorted: Vec::new(),
            max_len,
        }
    }

    /// Builds the code from one length per symbol (0 = symbol unused).
    ///
    /// An empty code is accepted (a block may not use its length tree), and
    /// fails only when something is decoded with it. An over-subscribed code
    /// is an error, and so is an incomplete one, as in wimlib: no compressor
    /// writes one.
    pub(crate) fn build(&mut self, lens: &[u8]) -> Result<(), &'static str> {
        if lens.len() >= 1 << 11 {
            return Err("too many Huffman symbols");
        }
        self.counts = [0; 17];
        for &l in lens {
            if u32::from(l) > self.max_len {
                return Err("Huffman codeword length out of range");
            }
            self.counts[usize::from(l)] += 1;
        }
        self.counts[0] = 0;
        // Kraft sum, in units of the longest codeword.
        let mut used: u32 = 0;
        for len in 1..=self.max_len {
            used += u32::from(self.counts[len as usize]) << (self.max_len - len);
        }
        let full = 1u32 << self.max_len;
        if used > full {
            return Err("over-subscribed Huffman code");
        }
        if used != 0 && used != full {
            return Err("incomplete Huffman code");
        }

        self.sorted.clear();
        for len in 1..=self.max_len as u8 {
            for (sym, &l) in lens.iter().enumerate() {
                if l == len {
                    self.sorted.push(sym as u16);
                }
            }
        }

        self.table.iter_mut().for_each(|e| *e = 0);
        let mut code: u32 = 0;
        let mut i = 0usize;
        for len in 1..=self.max_len {
            let count = u32::from(self.counts[len as usize]);
            if len <= TABLE_BITS {
                let span = 1usize << (TABLE_BITS - len);
                for k in 0..count {
                    let sym = self.sorted[i + k as usize];
                    let entry = (sym << 5) | len as u16;
                    let start = ((code + k) as usize) << (TABLE_BITS - len);
                    self.table[start..start + span].fill(entry);
                }
            }
            i += count as usize;
            code = (code + count) << 1;
        }
        Ok(())
    }

    /// Decodes one symbol.
    #[inline]
    pub(crate) fn decode(&self, r: &mut BitReader) -> Result<u16, &'static str> {
        r.ensure(16);
        let top = r.peek(16);
        let entry = self.table[(top >> (16 - TABLE_BITS)) as usize];
        if entry != 0 {
            r.consume(u32::from(entry & 31));
            return Ok(entry >> 5);
        }
        // Longer codewords: walk the lengths canonically.
        let mut first: u32 = 0;
        let mut index: u32 = 0;
        for len in 1..=self.max_len {
            let count = u32::from(self.counts[len as usize]);
            let code = top >> (16 - len);
            if code >= first && code - first < count {
                r.consume(len);
                return Ok(self.sorted[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
        }
        Err("bits that match no Huffman codeword")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_come_most_significant_first_from_little_endian_units() {
        let mut r = BitReader::new(&[0x34, 0x12, 0xCD, 0xAB]);
        assert_eq!(r.read(4), 0x1);
        assert_eq!(r.read(8), 0x23);
        assert_eq!(r.read(8), 0x4A);
        assert_eq!(r.read(12), 0xBCD);
        assert!(!r.overran());
        assert_eq!(r.read(16), 0);
        assert_eq!(r.read(17), 0);
        assert!(r.overran());
    }

    #[test]
    fn canonical_codes_decode_short_and_long_codewords() {
        // Lengths 1, 2, 3, ..., 15, 15: codewords 0, 10, 110, ..., 111..10, 111..11.
        let mut lens: Vec<u8> = (1..=15).collect();
        lens.push(15);
        let mut h = Huffman::new(15);
        h.build(&lens).unwrap();
        // Symbol 0 = "0", symbol 11 = eleven 1s then 0, symbol 15 = fifteen 1s.
        #[allow(clippy::unusual_byte_groupings)]
        let stream: u32 = 0b0_111111111110_111111111111111_0000;
        let units = [(stream >> 16) as u16, stream as u16];
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let mut r = BitReader::new(&bytes);
        assert_eq!(h.decode(&mut r), Ok(0));
        assert_eq!(h.decode(&mut r), Ok(11));
        assert_eq!(h.decode(&mut r), Ok(15));
    }

    #[test]
    fn bad_codes_are_refused() {
        let mut h = Huffman::new(15);
        assert_eq!(h.build(&[1, 1, 1]), Err("over-subscribed Huffman code"));
        assert_eq!(h.build(&[1, 2]), Err("incomplete Huffman code"));
        assert_eq!(h.build(&[16]), Err("Huffman codeword length out of range"));
        h.build(&[0, 0, 0]).unwrap();
        let mut r = BitReader::new(&[0xFF, 0xFF]);
        assert!(h.decode(&mut r).is_err());
    }
}
