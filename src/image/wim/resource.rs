//! Resources: the blob table, the XML data, each image's metadata and each
//! file's data are all resources, found through 24-byte resource headers.
//!
//! Resource header: 7-byte size in the WIM, 1 flag byte (0x01 free, 0x02
//! metadata, 0x04 compressed, 0x08 spanned, 0x10 solid), 8-byte offset in
//! the file, 8-byte original (uncompressed) size.
//!
//! A compressed, non-solid resource is cut into chunks of the header's chunk
//! size (the last one shorter), compressed one by one. It starts with a
//! chunk table: one entry per chunk but the first, each the offset of that
//! chunk from the end of the table, 4 bytes wide (8 when the original size
//! is 4 GiB or more). A chunk whose stored size equals its original size is
//! stored as is.

use super::header::Compression;
use super::lzx::Lzx;
use super::xpress::Xpress;
use super::{Unsupported, WimError};
use crate::image::Disk;

pub const FLAG_METADATA: u8 = 0x02;
pub const FLAG_COMPRESSED: u8 = 0x04;
pub const FLAG_SOLID: u8 = 0x10;

/// A resource header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResHdr {
    pub size_in_wim: u64,
    pub flags: u8,
    pub offset: u64,
    pub original_size: u64,
}

impl ResHdr {
    /// Parses 24 bytes.
    pub fn parse(b: &[u8]) -> ResHdr {
        let mut size = [0u8; 8];
        size[..7].copy_from_slice(&b[..7]);
        let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        ResHdr {
            size_in_wim: u64::from_le_bytes(size),
            flags: b[7],
            offset: u64_at(8),
            original_size: u64_at(16),
        }
    }

    pub fn is_compressed(&self) -> bool {
        self.flags & FLAG_COMPRESSED != 0
    }
}

/// What reading a resource needs to know about the WIM.
pub struct Ctx<'a> {
    pub disk: &'a dyn Disk,
    pub compression: Compression,
    pub chunk_size: u32,
}

/// One chunk of a compressed resource, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Where the stored bytes start in the file.
    pub offset: u64,
    /// How many bytes are stored.
    pub stored: u64,
    /// How many bytes it decompresses to.
    pub original: u64,
}

impl Chunk {
    pub fn is_raw(&self) -> bool {
        self.stored == self.original
    }
}

impl Ctx<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<(), WimError> {
        self.disk
            .read_exact_at(offset, buf)
            .map_err(|source| WimError::Io {
                offset,
                len: buf.len() as u64,
                what: what.to_string(),
                source,
            })
    }

    fn corrupt(offset: u64, what: &str, problem: String) -> WimError {
        WimError::Corrupt {
            offset,
            what: what.to_string(),
            problem,
        }
    }

    /// Checks that the resource lies inside the file and is of a kind we
    /// read; refuses solid and LZMS resources.
    fn check(&self, res: &ResHdr, what: &str, limit: u64) -> Result<(), WimError> {
        if res.flags & FLAG_SOLID != 0 {
            return Err(WimError::Unsupported {
                offset: res.offset,
                feature: Unsupported::Solid,
            });
        }
        if res.original_size > limit {
            return Err(WimError::TooLarge {
                offset: res.offset,
                what: what.to_string(),
                size: res.original_size,
                limit,
            });
        }
        let end = res.offset.checked_add(res.size_in_wim);
        if end.is_none_or(|e| e > self.disk.size()) {
            return Err(Self::corrupt(
                res.offset,
                what,
                format!(
                    "{} stored bytes run past the end of the file ({} bytes)",
                    res.size_in_wim,
                    self.disk.size()
                ),
            ));
        }
        if !res.is_compressed() {
            if res.size_in_wim != res.original_size {
                return Err(Self::corrupt(
                    res.offset,
                    what,
                    format!(
                        "uncompressed, but {} bytes stored for {} bytes",
                        res.size_in_wim, res.original_size
                    ),
                ));
            }
            return Ok(());
        }
        match self.compression {
            Compression::None => Err(Self::corrupt(
                res.offset,
                what,
                "marked compressed in a WIM without compression".into(),
            )),
            Compression::Lzms => Err(WimError::Unsupported {
                offset: res.offset,
                feature: Unsupported::Lzms,
            }),
            Compression::Xpress | Compression::Lzx => Ok(()),
        }
    }

    /// The chunks of a compressed resource, from its chunk table.
    pub fn chunks(&self, res: &ResHdr, what: &str, limit: u64) -> Result<Vec<Chunk>, WimError> {
        self.check(res, what, limit)?;
        if !res.is_compressed() {
            return Err(Self::corrupt(res.offset, what, "not compressed".into()));
        }
        let cs = u64::from(self.chunk_size);
        let n = res.original_size.div_ceil(cs);
        if n == 0 {
            return Ok(Vec::new());
        }
        let entry: u64 = if res.original_size > u64::from(u32::MAX) {
            8
        } else {
            4
        };
        // n - 1 entries; n is at most limit / chunk size + 1, so this is small.
        let table_len = (n - 1) * entry;
        if table_len > res.size_in_wim {
            return Err(Self::corrupt(
                res.offset,
                what,
                format!(
                    "a chunk table of {table_len} bytes for {n} chunks, in {} stored bytes",
                    res.size_in_wim
                ),
            ));
        }
        let mut table = vec![0u8; table_len as usize];
        self.read_at(res.offset, &mut table, what)?;
        let data_start = res.offset + table_len;
        let data_len = res.size_in_wim - table_len;
        let start_of = |i: u64| -> u64 {
            if i == 0 {
                return 0;
            }
            let at = ((i - 1) * entry) as usize;
            let b = &table[at..at + entry as usize];
            if entry == 4 {
                u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            } else {
                u64::from_le_bytes(b.try_into().expect("8 bytes"))
            }
        };

        let mut chunks = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = start_of(i);
            let end = if i + 1 == n {
                data_len
            } else {
                start_of(i + 1)
            };
            let entry_at = res.offset + i.saturating_sub(1) * entry;
            if start > end {
                return Err(Self::corrupt(
                    entry_at,
                    what,
                    format!("chunk table offsets out of order: chunk {i} from {start} to {end}"),
                ));
            }
            if end > data_len {
                return Err(Self::corrupt(
                    entry_at,
                    what,
                    format!("chunk {i} ends at {end}, past the {data_len} bytes of chunk data"),
                ));
            }
            let original = cs.min(res.original_size - i * cs);
            let stored = end - start;
            if stored == 0 || stored > original {
                return Err(Self::corrupt(
                    data_start + start,
                    what,
                    format!("chunk {i} claims {stored} stored bytes for {original} bytes"),
                ));
            }
            chunks.push(Chunk {
                offset: data_start + start,
                stored,
                original,
            });
        }
        Ok(chunks)
    }

    /// Reads and decompresses a whole resource of at most `limit` bytes.
    pub fn read(&self, res: &ResHdr, what: &str, limit: u64) -> Result<Vec<u8>, WimError> {
        self.check(res, what, limit)?;
        // `limit` bounds the allocation; the caller keeps it sane.
        let len = usize::try_from(res.original_size).map_err(|_| WimError::TooLarge {
            offset: res.offset,
            what: what.to_string(),
            size: res.original_size,
            limit: usize::MAX as u64,
        })?;
        if !res.is_compressed() {
            // Stored whole in the file, so no larger than it.
            let mut out = vec![0u8; len];
            self.read_at(res.offset, &mut out, what)?;
            return Ok(out);
        }
        let chunks = self.chunks(res, what, limit)?;
        let mut decoder = Decoder::new(self.compression, self.chunk_size)
            .map_err(|problem| Self::corrupt(res.offset, what, problem.into()))?;
        let mut stored = Vec::new();
        // Reserved for a compression ratio of up to 8, then grown chunk by
        // chunk: a corrupt resource claiming much more than its stored bytes
        // can hold fails before it costs that memory.
        let guess = res.size_in_wim.saturating_mul(8).max(1 << 20);
        let mut out = Vec::with_capacity(len.min(usize::try_from(guess).unwrap_or(usize::MAX)));
        let mut at = 0usize;
        for (i, c) in chunks.iter().enumerate() {
            out.resize(at + c.original as usize, 0);
            let dst = &mut out[at..];
            if c.is_raw() {
                self.read_at(c.offset, dst, what)?;
            } else {
                stored.resize(c.stored as usize, 0);
                self.read_at(c.offset, &mut stored, what)?;
                decoder
                    .decompress(&stored, dst)
                    .map_err(|problem| WimError::Decompress {
                        offset: c.offset,
                        what: what.to_string(),
                        compression: self.compression,
                        chunk: i as u64,
                        problem,
                    })?;
            }
            at += c.original as usize;
        }
        Ok(out)
    }
}

/// A chunk decoder for the WIM's compression.
pub enum Decoder {
    Xpress(Box<Xpress>),
    Lzx(Box<Lzx>),
}

impl Decoder {
    pub fn new(compression: Compression, chunk_size: u32) -> Result<Decoder, &'static str> {
        match compression {
            Compression::Xpress => Ok(Decoder::Xpress(Box::default())),
            Compression::Lzx => Ok(Decoder::Lzx(Box::new(Lzx::new(chunk_size)?))),
            Compression::None | Compression::Lzms => Err("no decoder for this compression"),
        }
    }

    pub fn decompress(&mut self, input: &[u8], out: &mut [u8]) -> Result<(), &'static str> {
        match self {
            Decoder::Xpress(x) => x.decompress(input, out),
            Decoder::Lzx(l) => l.decompress(input, out),
        }
    }
}
