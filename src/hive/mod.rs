//! Registry hive files (regf, the format of `config\SYSTEM`) as they sit on
//! disk: the base block, the transaction logs that bring a dirty hive up to
//! date, and a writer.
//!
//! [`build()`] writes a tree as a hive, so tests and benchmarks can make
//! realistic SYSTEM hives without shipping real ones.
//!
//! nt-hive reads clean hives but rejects dirty ones (sequence numbers that
//! differ, a bad checksum) and has no log replay. [`log::replay`] rebuilds
//! the hive in memory from its `.LOG1`/`.LOG2` (or old `.LOG`) files, so
//! nt-hive can then read what Windows would have seen.
//!
//! Every structure is a view over a byte slice; nothing here panics on any
//! input. Reference: Maxim Suhanov, "Windows registry file format
//! specification" (msuhanov/regf), whose yarp is the reference
//! implementation.

pub mod base_block;
pub mod build;
pub mod log;

pub use base_block::{BaseBlock, BaseBlockError, BaseBlockMut};
pub use build::{BuildOptions, build};

/// Hive bins start after the 4096-byte base block; every offset a hive or a
/// log stores is relative to this point.
pub const HIVE_BINS_START: usize = 4096;

/// A key node's (`nk`) cell data: the fixed header before its name, and
/// where its subkey list and value list offsets sit in it (the writer fills
/// them, the reader follows them).
pub(crate) const NK_HEADER: usize = 76;
pub(crate) const NK_SUBKEY_LIST: usize = 28;
pub(crate) const NK_VALUE_LIST: usize = 40;

/// Hive bins come in multiples of 4096 bytes.
pub const HIVE_BIN_ALIGNMENT: u32 = 4096;

/// Cell offsets are 31 bits (the top bit marks volatile storage), so the
/// stable hive bins data of a hive never reach 2 GiB. A larger size in a
/// base block or a log entry is damage, and must not make us allocate it.
pub const MAX_HIVE_BINS_SIZE: u32 = 0x8000_0000;

/// A little-endian u32 at `offset`, if the bytes are there.
pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let end = offset.checked_add(4)?;
    let b: [u8; 4] = bytes.get(offset..end)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// A little-endian u64 at `offset`, if the bytes are there.
pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let end = offset.checked_add(8)?;
    let b: [u8; 8] = bytes.get(offset..end)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Four bytes at `offset` (a signature), if they are there.
pub(crate) fn tag_at(bytes: &[u8], offset: usize) -> Option<[u8; 4]> {
    let end = offset.checked_add(4)?;
    bytes.get(offset..end)?.try_into().ok()
}

/// Whether `size` is a usable hive bins data size: a non-zero multiple of
/// 4096, below [`MAX_HIVE_BINS_SIZE`].
pub fn is_sane_hive_bins_size(size: u32) -> bool {
    size != 0 && size % HIVE_BIN_ALIGNMENT == 0 && size < MAX_HIVE_BINS_SIZE
}

/// A signature for messages: ASCII as text, anything else as hex bytes.
pub(crate) fn show_tag(tag: &[u8; 4]) -> String {
    if tag.iter().all(|b| b.is_ascii_graphic()) {
        format!("`{}`", String::from_utf8_lossy(tag))
    } else {
        format!("{tag:02x?}")
    }
}
