//! Writes a registry tree as a regf hive file, version 1.5 as SYSTEM hives are.
//!
//! Section names below are those of M. Suhanov's "Windows registry file
//! format specification". The layout:
//!
//! * A base block of 4096 bytes, clean (equal sequence numbers) and with its
//!   XOR-32 checksum, then the hive bins.
//! * Bins are 4096 bytes, or the next multiple of 4096 that holds a cell too
//!   big for one; a cell never spans bins. What a bin has left when the next
//!   cell does not fit is one free cell (positive size), as is every padding
//!   bin added for [`BuildOptions::min_size`].
//! * Cells come in a fixed order, so the same tree always gives the same
//!   bytes: the root key node at offset 0x20 as in Windows hives, the one
//!   security cell every key shares, then each key depth first: its value
//!   data, value cells and value list, then its subkeys' key nodes and their
//!   subkey list.
//! * Names that fit Latin-1 are stored one byte a character with the
//!   compressed-name flag, others as UTF-16LE.
//! * Subkey lists are `lh` leaves sorted by the upper-cased UTF-16 name, the
//!   order Windows (and nt-hive's binary search) expects. A key with more
//!   subkeys than one leaf can hold in a 4096-byte bin (507) gets an `ri`
//!   index root over leaves of 507, as Windows does.
//! * Data of four bytes or less sits in the value cell itself, longer data in
//!   a data cell, and data over 16344 bytes in a `db` big-data record whose
//!   segments hold 16344 bytes each.

use super::base_block::checksum;
use super::{NK_HEADER, NK_SUBKEY_LIST, NK_VALUE_LIST};
use crate::registry::{Entry, Key};

/// 2024-01-01T00:00:00Z as a FILETIME (100 ns units since 1601).
pub const DEFAULT_TIMESTAMP: u64 = 133_485_408_000_000_000;

/// Longest value data that fits a single data cell; longer data is split
/// into segments of this size under a `db` record (spec: "Big data").
pub const BIG_DATA_SEGMENT: usize = 16344;

/// The most entries an `lh` leaf takes before Windows puts the subkeys under
/// an `ri` index root: what fits in one 4096-byte bin,
/// (4096 - 32 bin header - 4 cell size - 4 list header) / 8.
pub const MAX_LEAF_ENTRIES: usize = 507;

const BASE_BLOCK_SIZE: usize = 4096;
const BIN_ALIGN: usize = 4096;
const BIN_HEADER_SIZE: usize = 32;
/// An offset field that points nowhere.
const NIL: u32 = u32::MAX;

// Key node flags (spec: "Key node", "Flags").
const KEY_HIVE_ENTRY: u16 = 0x0004;
const KEY_NO_DELETE: u16 = 0x0008;
const KEY_COMP_NAME: u16 = 0x0020;
// Key value flag: the name is Latin-1.
const VALUE_COMP_NAME: u16 = 0x0001;
// Data size bit: the data sits in the data offset field.
const DATA_INLINE: u32 = 0x8000_0000;

// Field offsets inside cell data, patched once the cell they point to exists.
const NK_SECURITY: usize = 44;
const SK_FLINK: usize = 4;
const SK_BLINK: usize = 8;
const SK_REFERENCES: usize = 12;

/// How to write the hive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// FILETIME written to the base block, the first bin and every key node.
    pub timestamp: u64,
    /// The root key's name; `None` takes the name of the tree's root.
    pub root_name: Option<String>,
    /// Free bins are appended until the file is at least this many bytes
    /// (rounded up to 4096), to mimic a real hive's size.
    pub min_size: usize,
    /// Both sequence numbers of the base block.
    pub sequence: u32,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            timestamp: DEFAULT_TIMESTAMP,
            root_name: None,
            min_size: 0,
            sequence: 1,
        }
    }
}

/// Writes `root` and everything below it as a hive file whose root key node
/// is `root` itself.
///
/// The format bounds a few sizes, and the writer cuts what exceeds them
/// rather than fail: names past 65535 bytes as stored (Windows itself stops
/// at 255 characters for keys, 16383 for values) and value data past 65535
/// big-data segments (about 1 GiB). A hive over 4 GiB cannot be addressed.
pub fn build(root: &Key, options: &BuildOptions) -> Vec<u8> {
    let ts = options.timestamp;
    let mut bins = Bins::new(ts);

    let root_name = Name::new(options.root_name.as_deref().unwrap_or(root.name()));
    let root_flags = KEY_HIVE_ENTRY | KEY_NO_DELETE;
    let root_cell = bins.cell(&key_node(root, &root_name, root_flags, NIL, NIL, ts));

    // One security cell for the whole hive, a list of one: flink and blink
    // point to itself (spec: "Key security", notes 4-5).
    let sk = bins.cell(&security_cell(&security_descriptor()));
    bins.patch(sk, SK_FLINK, sk);
    bins.patch(sk, SK_BLINK, sk);
    bins.patch(root_cell, NK_SECURITY, sk);

    let mut keys: u32 = 0;
    // An explicit stack: a deep tree must not exhaust the call stack.
    let mut stack = vec![(root, root_cell)];
    while let Some((key, nk)) = stack.pop() {
        keys = keys.wrapping_add(1);

        if !key.values().is_empty() {
            let cells: Vec<u32> = key
                .values()
                .iter()
                .map(|entry| write_value(&mut bins, entry))
                .collect();
            let list = bins.cell(&u32_bytes(&cells));
            bins.patch(nk, NK_VALUE_LIST, list);
        }

        let mut children: Vec<(Name, &Key)> =
            key.subkeys().map(|k| (Name::new(k.name()), k)).collect();
        if children.is_empty() {
            continue;
        }
        children.sort_by(|a, b| a.0.upper.cmp(&b.0.upper));
        let entries: Vec<(u32, u32)> = children
            .iter()
            .map(|(name, child)| {
                let cell = bins.cell(&key_node(child, name, 0, nk, sk, ts));
                (cell, name.hash())
            })
            .collect();
        let list = subkey_list(&mut bins, &entries);
        bins.patch(nk, NK_SUBKEY_LIST, list);
        // Reversed, so the first subkey is written out first.
        for ((_, child), (cell, _)) in children.iter().zip(&entries).rev() {
            stack.push((child, *cell));
        }
    }
    bins.patch(sk, SK_REFERENCES, keys);
    bins.seal();

    let bins_target = options.min_size.saturating_sub(BASE_BLOCK_SIZE);
    while bins.data.len() < bins_target {
        bins.open(BIN_ALIGN);
        bins.seal();
    }

    let mut out = base_block(options, root_cell, bins.data.len());
    out.extend_from_slice(&bins.data);
    out
}

/// A name as the hive stores it, with what sorting and hashing need.
struct Name {
    /// Latin-1 bytes when `compressed`, UTF-16LE otherwise.
    stored: Vec<u8>,
    compressed: bool,
    /// Upper-cased UTF-16 units: the sort key and the hash input.
    upper: Vec<u16>,
    /// Length as UTF-16 in bytes, the unit of the "largest name" fields
    /// whatever the stored form.
    utf16_len: u32,
}

impl Name {
    fn new(name: &str) -> Name {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        let compressed = units.iter().all(|&u| u <= 0xFF);
        // The length fields are u16 byte counts.
        let limit = if compressed { 0xFFFF } else { 0xFFFF / 2 };
        if units.len() > limit {
            units.truncate(limit);
            if units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)) {
                units.pop();
            }
        }
        let stored = if compressed {
            units.iter().map(|&u| u as u8).collect()
        } else {
            units.iter().flat_map(|u| u.to_le_bytes()).collect()
        };
        Name {
            stored,
            compressed,
            upper: units.iter().map(|&u| upcase(u)).collect(),
            utf16_len: (units.len() * 2) as u32,
        }
    }

    /// The `lh` hash: H = 37 * H + C over the upper-cased name (spec: "Hash
    /// leaf", note).
    fn hash(&self) -> u32 {
        self.upper
            .iter()
            .fold(0u32, |h, &u| h.wrapping_mul(37).wrapping_add(u32::from(u)))
    }
}

/// Upper-cases one UTF-16 unit as Windows compares names: unit by unit, with
/// one-to-one mappings only, so surrogate halves (characters outside the
/// BMP) stay as they are and `ß` does not become `SS`.
fn upcase(unit: u16) -> u16 {
    // Greek letters with ypogegrammeni: Rust's full mapping gives two
    // characters, the one-to-one (UnicodeData) mapping the title-case letter.
    match unit {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => return unit + 8,
        0x1FB3 | 0x1FC3 | 0x1FF3 => return unit + 9,
        _ => {}
    }
    let Some(c) = char::from_u32(u32::from(unit)) else {
        return unit;
    };
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u16::try_from(u32::from(u)).unwrap_or(unit),
        _ => unit,
    }
}

/// The hive bins data under construction; offsets are relative to its start
/// (spec: "Base block", note 1).
struct Bins {
    data: Vec<u8>,
    /// Where the next cell goes.
    next: usize,
    timestamp: u64,
}

impl Bins {
    fn new(timestamp: u64) -> Self {
        Bins {
            data: Vec::new(),
            next: 0,
            timestamp,
        }
    }

    /// Allocates a cell for `len` bytes of data and returns its offset.
    fn alloc(&mut self, len: usize) -> u32 {
        // Cell sizes count the 4-byte size field and are multiples of 8.
        let size = (len + 4).next_multiple_of(8);
        if self.next + size > self.data.len() {
            self.seal();
            self.open((BIN_HEADER_SIZE + size).next_multiple_of(BIN_ALIGN));
        }
        let at = self.next;
        // Allocated cells have negative sizes.
        put(&mut self.data, at, &(-(size as i64) as i32).to_le_bytes());
        self.next += size;
        at as u32
    }

    fn cell(&mut self, bytes: &[u8]) -> u32 {
        let at = self.alloc(bytes.len());
        put(&mut self.data, at as usize + 4, bytes);
        at
    }

    /// Sets a u32 field of a cell already written.
    fn patch(&mut self, cell: u32, field: usize, value: u32) {
        put(
            &mut self.data,
            cell as usize + 4 + field,
            &value.to_le_bytes(),
        );
    }

    /// Marks the rest of the current bin as one free cell.
    fn seal(&mut self) {
        let rest = self.data.len() - self.next;
        if rest > 0 {
            put(&mut self.data, self.next, &(rest as u32).to_le_bytes());
            self.next = self.data.len();
        }
    }

    fn open(&mut self, size: usize) {
        let start = self.data.len();
        self.data.resize(start + size, 0);
        put(&mut self.data, start, b"hbin");
        put(&mut self.data, start + 4, &(start as u32).to_le_bytes());
        put(&mut self.data, start + 8, &(size as u32).to_le_bytes());
        if start == 0 {
            // The first bin's timestamp backs up the base block's (spec:
            // "Hive bin", note 3).
            put(&mut self.data, start + 20, &self.timestamp.to_le_bytes());
        }
        self.next = start + BIN_HEADER_SIZE;
    }
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn u32_bytes(items: &[u32]) -> Vec<u8> {
    items.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A key node (spec: "Key node"); list offsets are patched in later.
fn key_node(key: &Key, name: &Name, flags: u16, parent: u32, sk: u32, ts: u64) -> Vec<u8> {
    let flags = flags | if name.compressed { KEY_COMP_NAME } else { 0 };
    let subkeys = key.subkeys().count() as u32;
    let max_subkey_name = key
        .subkeys()
        .map(|k| Name::new(k.name()).utf16_len)
        .max()
        .unwrap_or(0);
    let max_value_name = key
        .values()
        .iter()
        .map(|e| Name::new(&e.name).utf16_len)
        .max()
        .unwrap_or(0);
    let max_data = key
        .values()
        .iter()
        .map(|e| stored_len(&e.value.data) as u32)
        .max()
        .unwrap_or(0);

    let mut b = Vec::with_capacity(NK_HEADER + name.stored.len());
    b.extend_from_slice(b"nk");
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&ts.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // spare
    b.extend_from_slice(&parent.to_le_bytes());
    b.extend_from_slice(&subkeys.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // volatile subkeys: never on disk
    b.extend_from_slice(&NIL.to_le_bytes()); // subkeys list
    b.extend_from_slice(&NIL.to_le_bytes()); // volatile subkeys list
    b.extend_from_slice(&(key.values().len() as u32).to_le_bytes());
    b.extend_from_slice(&NIL.to_le_bytes()); // values list
    b.extend_from_slice(&sk.to_le_bytes());
    b.extend_from_slice(&NIL.to_le_bytes()); // class name
    b.extend_from_slice(&max_subkey_name.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // largest subkey class name
    b.extend_from_slice(&max_value_name.to_le_bytes());
    b.extend_from_slice(&max_data.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // WorkVar
    b.extend_from_slice(&(name.stored.len() as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // class name length
    b.extend_from_slice(&name.stored);
    b
}

/// How many bytes of `data` the hive keeps: all of it up to 65535 big-data
/// segments.
fn stored_len(data: &[u8]) -> usize {
    data.len().min(BIG_DATA_SEGMENT * u16::MAX as usize)
}

/// Writes a value's data and its key value cell (spec: "Key value");
/// returns the key value cell.
fn write_value(bins: &mut Bins, entry: &Entry) -> u32 {
    let data = &entry.value.data[..stored_len(&entry.value.data)];
    let (size, offset) = if data.len() <= 4 {
        let mut inline = [0u8; 4];
        inline[..data.len()].copy_from_slice(data);
        (data.len() as u32 | DATA_INLINE, u32::from_le_bytes(inline))
    } else if data.len() <= BIG_DATA_SEGMENT {
        (data.len() as u32, bins.cell(data))
    } else {
        let segments: Vec<u32> = data
            .chunks(BIG_DATA_SEGMENT)
            .map(|chunk| bins.cell(chunk))
            .collect();
        let list = bins.cell(&u32_bytes(&segments));
        let mut db = Vec::with_capacity(12);
        db.extend_from_slice(b"db");
        db.extend_from_slice(&(segments.len() as u16).to_le_bytes());
        db.extend_from_slice(&list.to_le_bytes());
        db.extend_from_slice(&0u32.to_le_bytes()); // unused, as Windows leaves it
        (data.len() as u32, bins.cell(&db))
    };

    let name = Name::new(&entry.name);
    let mut b = Vec::with_capacity(20 + name.stored.len());
    b.extend_from_slice(b"vk");
    b.extend_from_slice(&(name.stored.len() as u16).to_le_bytes());
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(&offset.to_le_bytes());
    b.extend_from_slice(&entry.value.kind.to_le_bytes());
    let flags = if name.compressed { VALUE_COMP_NAME } else { 0 };
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes()); // spare
    b.extend_from_slice(&name.stored);
    bins.cell(&b)
}

/// Writes the subkey list for sorted `(key node, hash)` entries: one `lh`
/// leaf, or an `ri` index root over several once one leaf would not fit a
/// bin (spec: "Hash leaf", "Index root").
fn subkey_list(bins: &mut Bins, entries: &[(u32, u32)]) -> u32 {
    let leaf = |bins: &mut Bins, entries: &[(u32, u32)]| {
        let mut b = Vec::with_capacity(4 + 8 * entries.len());
        b.extend_from_slice(b"lh");
        b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (cell, hash) in entries {
            b.extend_from_slice(&cell.to_le_bytes());
            b.extend_from_slice(&hash.to_le_bytes());
        }
        bins.cell(&b)
    };
    if entries.len() <= MAX_LEAF_ENTRIES {
        return leaf(bins, entries);
    }
    // Counts are u16: past 65535 leaves of 507, leaves grow instead.
    let per_leaf = MAX_LEAF_ENTRIES.max(entries.len().div_ceil(u16::MAX as usize));
    let leaves: Vec<u32> = entries
        .chunks(per_leaf)
        .map(|chunk| leaf(bins, chunk))
        .collect();
    let mut b = Vec::with_capacity(4 + 4 * leaves.len());
    b.extend_from_slice(b"ri");
    b.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
    b.extend_from_slice(&u32_bytes(&leaves));
    bins.cell(&b)
}

/// A key security cell (spec: "Key security"); links and reference count
/// are patched in later.
fn security_cell(descriptor: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(20 + descriptor.len());
    b.extend_from_slice(b"sk");
    b.extend_from_slice(&0u16.to_le_bytes()); // reserved
    b.extend_from_slice(&NIL.to_le_bytes()); // flink
    b.extend_from_slice(&NIL.to_le_bytes()); // blink
    b.extend_from_slice(&0u32.to_le_bytes()); // reference count
    b.extend_from_slice(&(descriptor.len() as u32).to_le_bytes());
    b.extend_from_slice(descriptor);
    b
}

/// A SID in its binary form: revision 1, the authority as a 48-bit
/// big-endian number, then the sub-authorities.
fn sid(authority: u8, sub_authorities: &[u32]) -> Vec<u8> {
    let mut b = vec![1, sub_authorities.len() as u8, 0, 0, 0, 0, 0, authority];
    for s in sub_authorities {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// A self-relative security descriptor like those on SYSTEM hive keys:
/// owned by Administrators, full control for Administrators and SYSTEM
/// (and CREATOR OWNER on subkeys), read access for Users.
fn security_descriptor() -> Vec<u8> {
    const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
    const CONTAINER_INHERIT_ACE: u8 = 0x02;
    const INHERIT_ONLY_ACE: u8 = 0x08;
    const KEY_ALL_ACCESS: u32 = 0x000F_003F;
    const KEY_READ: u32 = 0x0002_0019;
    const GENERIC_ALL: u32 = 0x1000_0000;
    const SE_DACL_PRESENT: u16 = 0x0004;
    const SE_SELF_RELATIVE: u16 = 0x8000;

    let administrators = sid(5, &[32, 544]);
    let system = sid(5, &[18]);
    let users = sid(5, &[32, 545]);
    let creator_owner = sid(3, &[0]);
    let aces = [
        (CONTAINER_INHERIT_ACE, KEY_ALL_ACCESS, &administrators),
        (CONTAINER_INHERIT_ACE, KEY_ALL_ACCESS, &system),
        (
            CONTAINER_INHERIT_ACE | INHERIT_ONLY_ACE,
            GENERIC_ALL,
            &creator_owner,
        ),
        (CONTAINER_INHERIT_ACE, KEY_READ, &users),
    ];
    let mut ace_bytes = Vec::new();
    for (flags, mask, sid) in aces {
        ace_bytes.push(ACCESS_ALLOWED_ACE_TYPE);
        ace_bytes.push(flags);
        ace_bytes.extend_from_slice(&((8 + sid.len()) as u16).to_le_bytes());
        ace_bytes.extend_from_slice(&mask.to_le_bytes());
        ace_bytes.extend_from_slice(sid);
    }
    let mut dacl = vec![2, 0]; // ACL_REVISION, Sbz1
    dacl.extend_from_slice(&((8 + ace_bytes.len()) as u16).to_le_bytes());
    dacl.extend_from_slice(&(aces.len() as u16).to_le_bytes());
    dacl.extend_from_slice(&0u16.to_le_bytes()); // Sbz2
    dacl.extend_from_slice(&ace_bytes);

    const HEADER: usize = 20;
    let owner = HEADER + dacl.len();
    let group = owner + administrators.len();
    let mut sd = vec![1, 0]; // revision, Sbz1
    sd.extend_from_slice(&(SE_SELF_RELATIVE | SE_DACL_PRESENT).to_le_bytes());
    sd.extend_from_slice(&(owner as u32).to_le_bytes());
    sd.extend_from_slice(&(group as u32).to_le_bytes());
    sd.extend_from_slice(&0u32.to_le_bytes()); // no SACL
    sd.extend_from_slice(&(HEADER as u32).to_le_bytes());
    sd.extend_from_slice(&dacl);
    sd.extend_from_slice(&administrators);
    sd.extend_from_slice(&system);
    sd
}

/// The base block (spec: "Base block").
fn base_block(options: &BuildOptions, root_cell: u32, bins_len: usize) -> Vec<u8> {
    let mut b = vec![0u8; BASE_BLOCK_SIZE];
    put(&mut b, 0, b"regf");
    // Equal sequence numbers: a clean hive, fully written.
    put(&mut b, 4, &options.sequence.to_le_bytes());
    put(&mut b, 8, &options.sequence.to_le_bytes());
    put(&mut b, 12, &options.timestamp.to_le_bytes());
    put(&mut b, 20, &1u32.to_le_bytes()); // major version
    put(&mut b, 24, &5u32.to_le_bytes()); // minor version
    put(&mut b, 28, &0u32.to_le_bytes()); // file type: primary file
    put(&mut b, 32, &1u32.to_le_bytes()); // file format: direct memory load
    put(&mut b, 36, &root_cell.to_le_bytes());
    put(&mut b, 40, &(bins_len as u32).to_le_bytes());
    put(&mut b, 44, &1u32.to_le_bytes()); // clustering factor
    let checksum = checksum(&b);
    put(&mut b, 508, &checksum.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upcase_is_per_unit_and_one_to_one() {
        assert_eq!(upcase(u16::from(b'a')), u16::from(b'A'));
        assert_eq!(upcase(0x0436), 0x0416); // ж -> Ж
        assert_eq!(upcase(0x00DF), 0x00DF); // ß stays
        assert_eq!(upcase(0x00FF), 0x0178); // ÿ -> Ÿ
        assert_eq!(upcase(0x1FB3), 0x1FBC); // ᾳ -> ᾼ
        assert_eq!(upcase(0xD801), 0xD801); // a surrogate half
    }

    #[test]
    fn names_pick_their_form() {
        let latin = Name::new("Zürich");
        assert!(latin.compressed);
        assert_eq!(latin.stored.len(), 6);
        assert_eq!(latin.utf16_len, 12);
        let cyrillic = Name::new("Ключ");
        assert!(!cyrillic.compressed);
        assert_eq!(cyrillic.stored.len(), 8);
        // Over the u16 length field: cut, never mid-surrogate-pair.
        let long = Name::new(&"😀".repeat(20_000));
        assert!(!long.compressed);
        assert_eq!(long.stored.len(), 65_532);
    }

    #[test]
    fn hash_matches_the_spec_formula() {
        // 37 * 'A' + 'B' over "ab" upper-cased.
        assert_eq!(Name::new("ab").hash(), 37 * 65 + 66);
        assert_eq!(Name::new("AB").hash(), Name::new("ab").hash());
    }

    #[test]
    fn checksum_avoids_zero_and_all_ones() {
        assert_eq!(checksum(&[0u8; 512]), 1);
        let mut b = [0u8; 512];
        b[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(checksum(&b), u32::MAX - 1);
    }
}
