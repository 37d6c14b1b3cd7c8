//! The 208-byte WIM header at the start of the file.
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 8 | `MSWIM\0\0\0` |
//! | 8 | 4 | header size (208) |
//! | 12 | 4 | version: 0x10D00, or 0xE00 when solid resources may occur |
//! | 16 | 4 | flags: 0x2 compressed, with 0x20000 XPRESS (0x200000 too), 0x40000 LZX, 0x80000 LZMS |
//! | 20 | 4 | chunk size of compressed resources (32 KiB by default) |
//! | 24 | 16 | GUID |
//! | 40 | 2 | part number (from 1) |
//! | 42 | 2 | total parts (more than 1: a split `.swm` set) |
//! | 44 | 4 | image count |
//! | 48 | 24 | resource header of the blob table |
//! | 72 | 24 | resource header of the XML data |
//! | 96 | 24 | resource header of the boot image's metadata |
//! | 120 | 4 | boot image index |
//! | 124 | 24 | resource header of the integrity table |
//! | 148 | 60 | unused |

use std::fmt;

use super::resource::ResHdr;
use super::{Unsupported, WimError};

pub const HEADER_SIZE: usize = 208;
pub const MAGIC: &[u8; 8] = b"MSWIM\0\0\0";
/// wimlib's pipable WIM, whose header is repeated at the end of the file.
pub const PIPABLE_MAGIC: &[u8; 8] = b"WLPWM\0\0\0";

pub const VERSION_DEFAULT: u32 = 0x10D00;
pub const VERSION_SOLID: u32 = 0xE00;

const FLAG_COMPRESSION: u32 = 0x2;
const FLAG_XPRESS: u32 = 0x2_0000;
const FLAG_LZX: u32 = 0x4_0000;
const FLAG_LZMS: u32 = 0x8_0000;
const FLAG_XPRESS_2: u32 = 0x20_0000;

/// Most images a WIM can hold (wimlib's limit).
const MAX_IMAGES: u32 = 65535;

/// How the WIM's compressed resources are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xpress,
    Lzx,
    Lzms,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "no compression",
            Compression::Xpress => "XPRESS",
            Compression::Lzx => "LZX",
            Compression::Lzms => "LZMS",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Header {
    pub version: u32,
    pub chunk_size: u32,
    pub image_count: u32,
    pub blob_table: ResHdr,
    pub xml: ResHdr,
    pub compression: Compression,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Header {
    /// Parses the header from the first bytes of the file (all of them when
    /// the file is shorter than a header).
    pub fn parse(b: &[u8]) -> Result<Header, WimError> {
        let magic = &b[..b.len().min(8)];
        if magic == PIPABLE_MAGIC {
            return Err(WimError::Unsupported {
                offset: 0,
                feature: Unsupported::Pipable,
            });
        }
        if magic != MAGIC {
            return Err(WimError::NotWim);
        }
        let corrupt = |offset: u64, problem: String| WimError::Corrupt {
            offset,
            what: "header".into(),
            problem,
        };
        if b.len() < HEADER_SIZE {
            return Err(corrupt(
                0,
                format!(
                    "truncated: the file has {} bytes, a header {HEADER_SIZE}",
                    b.len()
                ),
            ));
        }
        let size = u32_at(b, 8);
        if size != HEADER_SIZE as u32 {
            return Err(corrupt(8, format!("header size {size}, expected 208")));
        }
        let version = u32_at(b, 12);
        if version != VERSION_DEFAULT && version != VERSION_SOLID {
            return Err(WimError::Unsupported {
                offset: 12,
                feature: Unsupported::Version(version),
            });
        }
        let flags = u32_at(b, 16);
        let chunk_size = u32_at(b, 20);
        let part = u16_at(b, 40);
        let total_parts = u16_at(b, 42);
        if part == 0 || total_parts == 0 || part > total_parts {
            return Err(corrupt(40, format!("part {part} of {total_parts}")));
        }
        if total_parts != 1 {
            return Err(WimError::Split {
                part,
                total: total_parts,
            });
        }
        let image_count = u32_at(b, 44);
        if image_count > MAX_IMAGES {
            return Err(corrupt(44, format!("image count {image_count}")));
        }

        let compression = if flags & FLAG_COMPRESSION == 0 {
            Compression::None
        } else if flags & FLAG_LZX != 0 {
            Compression::Lzx
        } else if flags & (FLAG_XPRESS | FLAG_XPRESS_2) != 0 {
            Compression::Xpress
        } else if flags & FLAG_LZMS != 0 {
            Compression::Lzms
        } else {
            return Err(WimError::Unsupported {
                offset: 16,
                feature: Unsupported::Compression(flags),
            });
        };
        // The chunk sizes wimlib accepts; Windows writes 32 KiB.
        let range = match compression {
            Compression::None | Compression::Lzms => None,
            Compression::Xpress => Some(4096..=65536),
            Compression::Lzx => Some(32768..=2 << 20),
        };
        let fits = range.is_none_or(|r| chunk_size.is_power_of_two() && r.contains(&chunk_size));
        if !fits {
            return Err(WimError::Unsupported {
                offset: 20,
                feature: Unsupported::ChunkSize {
                    compression,
                    size: chunk_size,
                },
            });
        }

        let res = |at: usize| ResHdr::parse(&b[at..at + 24]);
        // The boot metadata (96) and integrity table (124) are not needed.
        Ok(Header {
            version,
            chunk_size,
            image_count,
            blob_table: res(48),
            xml: res(72),
            compression,
        })
    }
}
