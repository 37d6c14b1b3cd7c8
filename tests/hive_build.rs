//! The hive writer: what it writes reads back, through nt-hive and through
//! the raw bytes checked against the format specification, and (when they
//! are installed) through hivex, reglookup and libregf.

mod hive_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use hive_common::{assert_same_tree, read_tree};
use tlsreg::hive::base_block::checksum;
use tlsreg::hive::build::{BIG_DATA_SEGMENT, DEFAULT_TIMESTAMP, MAX_LEAF_ENTRIES};
use tlsreg::hive::{BuildOptions, build};
use tlsreg::registry::value::{REG_BINARY, REG_MULTI_SZ, REG_QWORD, REG_SZ};
use tlsreg::registry::{Key, Value};

fn round_trip(tree: &Key) -> Vec<u8> {
    let bytes = build(tree, &BuildOptions::default());
    assert_same_tree(tree, &read_tree(&bytes));
    Raw::new(&bytes).check_layout();
    bytes
}

/// Deterministic filler bytes, so data errors do not hide in repetition.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ seed)
        .collect()
}

// ---------------------------------------------------------------------------
// A raw reader that follows the specification, independent of the writer.

struct Raw<'a> {
    d: &'a [u8],
}

#[derive(Debug)]
struct Layout {
    bins: Vec<(usize, usize)>,
    /// Offset (relative to the bins data) and size of every allocated cell.
    cells: BTreeMap<u32, usize>,
    free_cells: usize,
}

impl<'a> Raw<'a> {
    fn new(d: &'a [u8]) -> Self {
        Raw { d }
    }

    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.d[at..at + 4].try_into().unwrap())
    }

    /// The data of the allocated cell at `off` (relative to the bins data).
    fn cell(&self, off: u32) -> &'a [u8] {
        let at = 4096 + off as usize;
        let size = i32::from_le_bytes(self.d[at..at + 4].try_into().unwrap());
        assert!(size < 0, "cell at {off:#x} is free");
        &self.d[at + 4..at + (-size) as usize]
    }

    fn root(&self) -> u32 {
        self.u32(36)
    }

    /// Base block fields and the tiling of bins and cells.
    fn check_layout(&self) -> Layout {
        let d = self.d;
        assert_eq!(&d[..4], b"regf");
        assert_eq!(self.u32(4), self.u32(8), "sequence numbers");
        assert_eq!((self.u32(20), self.u32(24)), (1, 5), "version");
        assert_eq!(self.u32(28), 0, "file type");
        assert_eq!(self.u32(32), 1, "file format");
        assert_eq!(self.u32(44), 1, "clustering factor");
        let bins_size = self.u32(40) as usize;
        assert_eq!(d.len(), 4096 + bins_size, "file is base block + bins");
        let mut xor = 0u32;
        for i in 0..127 {
            xor ^= self.u32(i * 4);
        }
        let expected = match xor {
            0 => 1,
            u32::MAX => u32::MAX - 1,
            x => x,
        };
        assert_eq!(self.u32(508), expected, "checksum");
        assert_eq!(self.u32(508), checksum(d));

        let mut layout = Layout {
            bins: Vec::new(),
            cells: BTreeMap::new(),
            free_cells: 0,
        };
        let mut at = 0usize;
        while at < bins_size {
            let bin = 4096 + at;
            assert_eq!(&d[bin..bin + 4], b"hbin", "bin at {at:#x}");
            assert_eq!(self.u32(bin + 4) as usize, at, "bin offset field");
            let size = self.u32(bin + 8) as usize;
            assert!(size >= 4096 && size % 4096 == 0, "bin size {size}");
            let mut cell = at + 32;
            while cell < at + size {
                let raw = i32::from_le_bytes(d[4096 + cell..4096 + cell + 4].try_into().unwrap());
                let len = raw.unsigned_abs() as usize;
                assert!(len >= 8 && len % 8 == 0, "cell size {raw} at {cell:#x}");
                if raw > 0 {
                    layout.free_cells += 1;
                } else {
                    layout.cells.insert(cell as u32, len);
                }
                cell += len;
            }
            assert_eq!(cell, at + size, "cells tile the bin at {at:#x}");
            layout.bins.push((at, size));
            at += size;
        }
        assert_eq!(at, bins_size);
        assert_eq!(
            self.root(),
            0x20,
            "root key node first, as in Windows hives"
        );
        layout
    }

    /// Subkeys of the key node at `nk`: (list signature, entries per leaf,
    /// (key node, hash) in order).
    fn subkey_list(&self, nk: u32) -> (String, Vec<usize>, Vec<(u32, u32)>) {
        let node = self.cell(nk);
        assert_eq!(&node[..2], b"nk");
        let list = u32::from_le_bytes(node[28..32].try_into().unwrap());
        let top = self.cell(list);
        let sig = String::from_utf8_lossy(&top[..2]).into_owned();
        let leaf = |cell: &[u8]| -> Vec<(u32, u32)> {
            assert_eq!(&cell[..2], b"lh");
            let n = u16::from_le_bytes([cell[2], cell[3]]) as usize;
            (0..n)
                .map(|i| {
                    let e = &cell[4 + 8 * i..12 + 8 * i];
                    (
                        u32::from_le_bytes(e[..4].try_into().unwrap()),
                        u32::from_le_bytes(e[4..].try_into().unwrap()),
                    )
                })
                .collect()
        };
        if sig == "ri" {
            let n = u16::from_le_bytes([top[2], top[3]]) as usize;
            let mut sizes = Vec::new();
            let mut all = Vec::new();
            for i in 0..n {
                let off = u32::from_le_bytes(top[4 + 4 * i..8 + 4 * i].try_into().unwrap());
                let entries = leaf(self.cell(off));
                sizes.push(entries.len());
                all.extend(entries);
            }
            (sig, sizes, all)
        } else {
            let entries = leaf(top);
            (sig, vec![entries.len()], entries)
        }
    }

    fn nk_find(&self, path: &[&str]) -> u32 {
        let mut nk = self.root();
        for part in path {
            let (_, _, entries) = self.subkey_list(nk);
            nk = entries
                .into_iter()
                .map(|(off, _)| off)
                .find(|&off| self.nk_name(off).eq_ignore_ascii_case(part))
                .unwrap_or_else(|| panic!("{part} not found"));
        }
        nk
    }

    fn nk_flags(&self, nk: u32) -> u16 {
        let c = self.cell(nk);
        u16::from_le_bytes([c[2], c[3]])
    }

    fn nk_name(&self, nk: u32) -> String {
        let c = self.cell(nk);
        let len = u16::from_le_bytes([c[72], c[73]]) as usize;
        let raw = &c[76..76 + len];
        if self.nk_flags(nk) & 0x20 != 0 {
            raw.iter().map(|&b| b as char).collect()
        } else {
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16(&units).unwrap()
        }
    }

    fn nk_field(&self, nk: u32, at: usize) -> u32 {
        let c = self.cell(nk);
        u32::from_le_bytes(c[at..at + 4].try_into().unwrap())
    }

    /// The value cells of a key node, in list order.
    fn vks(&self, nk: u32) -> Vec<u32> {
        let n = self.nk_field(nk, 36) as usize;
        if n == 0 {
            return Vec::new();
        }
        let list = self.cell(self.nk_field(nk, 40));
        (0..n)
            .map(|i| u32::from_le_bytes(list[4 * i..4 * i + 4].try_into().unwrap()))
            .collect()
    }
}

/// The lh hash of the specification, computed here for names whose
/// characters upper-case one to one.
fn spec_hash(name: &str) -> u32 {
    name.chars()
        .flat_map(|c| {
            let mut up = c.to_uppercase();
            let u = up.next().unwrap();
            assert!(up.next().is_none());
            let mut buf = [0u16; 2];
            u.encode_utf16(&mut buf).to_vec()
        })
        .fold(0u32, |h, u| h.wrapping_mul(37).wrapping_add(u32::from(u)))
}

// ---------------------------------------------------------------------------

#[test]
fn every_value_type_round_trips() {
    let mut root = Key::new("ROOT");
    let key = root.create(&["Types"], None);
    let kinds: Vec<u32> = (0..=11)
        .chain([0x0000_000C, 0xFFFF_0007, 0xFFFF_0011, 0xFFFF_0012])
        .chain([0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF])
        .collect();
    for &kind in &kinds {
        for len in [0usize, 1, 3, 4, 5, 8, 200] {
            key.set_value(
                &format!("t{kind:08x}-{len}"),
                Value::new(kind, pattern(len, kind as u8)),
                None,
            );
        }
    }
    key.set_value("", Value::string("the default value"), None);
    key.set_value("sz", Value::string("GOLDEN01"), None);
    key.set_value("empty sz", Value::new(REG_SZ, Vec::new()), None);
    key.set_value("dword", Value::dword(0xffff_ffff), None);
    key.set_value(
        "qword",
        Value::new(REG_QWORD, u64::MAX.to_le_bytes().to_vec()),
        None,
    );
    let multi: Vec<u8> = "a\0bc\0\0"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    key.set_value("multi", Value::new(REG_MULTI_SZ, multi), None);
    let bytes = round_trip(&root);

    // Inline data: at most four bytes, with the top bit of the size set.
    let raw = Raw::new(&bytes);
    let nk = raw.nk_find(&["Types"]);
    for vk in raw.vks(nk) {
        let c = raw.cell(vk);
        assert_eq!(&c[..2], b"vk");
        let size = u32::from_le_bytes(c[4..8].try_into().unwrap());
        let len = size & 0x7FFF_FFFF;
        assert_eq!(size & 0x8000_0000 != 0, len <= 4, "inline iff <= 4 bytes");
        if len > 4 {
            let data_cell = u32::from_le_bytes(c[8..12].try_into().unwrap());
            assert!(raw.cell(data_cell).len() >= len as usize);
        }
    }
}

#[test]
fn big_data_uses_db_records_past_16344_bytes() {
    let mut root = Key::new("ROOT");
    let key = root.create(&["Big"], None);
    let lens = [16343usize, 16344, 16345, 2 * BIG_DATA_SEGMENT, 100_000];
    for (i, len) in lens.iter().enumerate() {
        key.set_value(
            &format!("b{len}"),
            Value::new(REG_BINARY, pattern(*len, i as u8)),
            None,
        );
    }
    let text = "Ж".repeat(9000) + "\0"; // a REG_SZ over the threshold
    key.set_value("long sz", Value::string(&text), None);
    let bytes = round_trip(&root);

    let raw = Raw::new(&bytes);
    let layout = raw.check_layout();
    assert!(layout.bins.len() > 2, "big cells need bins of their own");
    assert!(
        layout.bins.iter().any(|&(_, size)| size > 4096),
        "a 16344-byte cell needs a bin larger than 4096"
    );
    let nk = raw.nk_find(&["Big"]);
    for (vk, len) in raw.vks(nk).into_iter().zip(lens) {
        let c = raw.cell(vk);
        assert_eq!(
            u32::from_le_bytes(c[4..8].try_into().unwrap()) as usize,
            len
        );
        let data = raw.cell(u32::from_le_bytes(c[8..12].try_into().unwrap()));
        if len <= BIG_DATA_SEGMENT {
            assert_ne!(&data[..2], b"db", "{len} bytes fit one cell");
        } else {
            assert_eq!(&data[..2], b"db", "{len} bytes need a db record");
            let segments = u16::from_le_bytes([data[2], data[3]]) as usize;
            assert_eq!(segments, len.div_ceil(BIG_DATA_SEGMENT));
        }
    }
}

#[test]
fn unicode_names_round_trip_and_pick_their_storage() {
    let mut root = Key::new("ROOT");
    let names = [
        "Zürich ÿ µ",   // Latin-1: compressed, though ÿ and µ upper-case outside it
        "Ключ",         // Cyrillic
        "中文键名",     // CJK
        "emoji 😀 𐐷",   // outside the BMP
        "ᾳ Greek",      // one-to-one upper case (U+1FBC) differs from the full one
        "Ᾰ Greek",      // U+1FB8 sorts between ᾳ and its upper case
        "😀 first",     // surrogates sort below U+E000..U+FFFF, unit by unit
        "Straße",       // ß has no one-to-one upper case
        "\u{FF41}wide", // full-width a
    ];
    for name in names {
        let key = root.create(&["Names", name], None);
        key.set_value(name, Value::string(name), None);
        key.set_value("Wert", Value::dword(1), None);
    }
    // The same names in other cases elsewhere in the tree.
    root.create(&["Other", "CLIENT"], None)
        .set_value("ENABLED", Value::dword(1), None);
    root.create(&["Names", "Client"], None)
        .set_value("Enabled", Value::dword(0), None);
    root.create(&["Other", "КЛЮЧ"], None);
    let bytes = round_trip(&root);

    let raw = Raw::new(&bytes);
    for name in names {
        let nk = raw.nk_find(&["Names", name]);
        let latin1 = name.chars().all(|c| u32::from(c) <= 0xFF);
        assert_eq!(
            raw.nk_flags(nk) & 0x20 != 0,
            latin1,
            "{name}: compressed flag"
        );
        assert_eq!(raw.nk_name(nk), name);
        let vk = raw.cell(raw.vks(nk)[0]);
        let flags = u16::from_le_bytes([vk[16], vk[17]]);
        assert_eq!(flags & 1 != 0, latin1, "{name}: value name flag");
    }
    // nt-hive's binary search compares case-insensitively beyond ASCII.
    let hive = nt_hive::Hive::new(bytes.as_slice()).unwrap();
    let root_node = hive.root_key_node().unwrap();
    for path in [
        "names\\КЛЮЧ",
        "NAMES\\ключ",
        "Other\\ключ",
        "names\\ZÜRICH Ÿ Μ",
    ] {
        assert!(root_node.subpath(path).is_some(), "{path}");
    }
}

#[test]
fn subkey_lists_lh_then_ri_past_507() {
    let mut root = Key::new("ROOT");
    let counts = [0usize, 1, 2, 507, 508, 5000];
    for n in counts {
        let parent = root.create(&[format!("n{n}")], None);
        // Inserted in reverse, and alternating in case, so that neither
        // insertion order nor byte order is the case-insensitive order.
        for i in (0..n).rev() {
            let name = if i % 2 == 0 {
                format!("Key{i:05}")
            } else {
                format!("kEY{i:05}")
            };
            parent.create(&[name], None);
        }
    }
    let bytes = round_trip(&root);

    let raw = Raw::new(&bytes);
    for n in counts {
        let nk = raw.nk_find(&[&format!("n{n}")]);
        assert_eq!(raw.nk_field(nk, 20) as usize, n, "subkey count");
        if n == 0 {
            assert_eq!(raw.nk_field(nk, 28), u32::MAX, "no list");
            continue;
        }
        let (sig, leaves, entries) = raw.subkey_list(nk);
        assert_eq!(entries.len(), n);
        if n <= MAX_LEAF_ENTRIES {
            assert_eq!(sig, "lh");
        } else {
            assert_eq!(sig, "ri");
            assert_eq!(leaves.len(), n.div_ceil(MAX_LEAF_ENTRIES));
            assert!(leaves.iter().all(|&l| l <= MAX_LEAF_ENTRIES));
        }
        let names: Vec<String> = entries.iter().map(|&(off, _)| raw.nk_name(off)).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|s| s.to_ascii_uppercase());
        assert_eq!(names, sorted, "sorted by upper-cased name");
        for (&(off, hash), name) in entries.iter().zip(&names) {
            assert_eq!(hash, spec_hash(name), "hash of {name}");
            assert_eq!(raw.nk_field(off, 16), nk, "parent of {name}");
        }
    }
}

#[test]
fn deep_paths_and_parents() {
    let mut root = Key::new("ROOT");
    // 512 levels: the most Windows allows below a hive root.
    let path: Vec<String> = (0..512).map(|i| format!("L{i}")).collect();
    root.create(&path, None)
        .set_value("Leaf", Value::dword(512), None);
    let bytes = round_trip(&root);

    let hive = nt_hive::Hive::new(bytes.as_slice()).unwrap();
    let leaf = hive
        .root_key_node()
        .unwrap()
        .subpath(&path.join("\\"))
        .expect("deep path")
        .unwrap();
    let value = leaf.value("leaf").unwrap().unwrap();
    assert_eq!(value.dword_data().unwrap(), 512);
}

#[test]
fn structure_follows_the_specification() {
    let mut root = Key::new("CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}");
    for i in 0..300 {
        root.create(&["Services", &format!("Svc{i:03}"), "Parameters"], None)
            .set_value("ImagePath", Value::string(&format!("C:\\svc{i}.sys")), None);
    }
    let bytes = round_trip(&root);
    let raw = Raw::new(&bytes);
    let layout = raw.check_layout();
    assert!(layout.bins.len() > 1, "several bins");
    assert!(layout.free_cells >= 1, "unused space is marked free");

    // Root: hive entry + no delete + compressed name; no parent.
    let root_nk = raw.root();
    assert_eq!(raw.nk_flags(root_nk), 0x2C);
    assert_eq!(raw.nk_field(root_nk, 16), u32::MAX);
    assert_eq!(raw.nk_name(root_nk), root.name());

    // One sk cell shared by every key: a list of one, counting them all.
    let sk = raw.nk_field(root_nk, 44);
    let cell = raw.cell(sk);
    assert_eq!(&cell[..2], b"sk");
    let field = |at: usize| u32::from_le_bytes(cell[at..at + 4].try_into().unwrap());
    assert_eq!((field(4), field(8)), (sk, sk), "flink and blink");
    let keys = root.walk().len() as u32;
    assert_eq!(field(12), keys, "reference count");
    let sd = &cell[20..20 + field(16) as usize];
    assert_eq!(sd[0], 1, "SD revision");
    let control = u16::from_le_bytes([sd[2], sd[3]]);
    assert_eq!(control & 0x8004, 0x8004, "self-relative with a DACL");
    for at in [4usize, 8, 16] {
        let off = u32::from_le_bytes(sd[at..at + 4].try_into().unwrap()) as usize;
        assert!(off >= 20 && off < sd.len(), "owner, group and DACL inside");
    }
    let mut nks = 0;
    for &off in layout.cells.keys() {
        if raw.cell(off).starts_with(b"nk") {
            nks += 1;
            assert_eq!(raw.nk_field(off, 44), sk, "every key uses the shared sk");
            assert_eq!(raw.nk_field(off, 24), 0, "no volatile subkeys on disk");
        }
    }
    assert_eq!(nks, keys);

    // Largest-name fields count UTF-16 bytes.
    let services = raw.nk_find(&["Services"]);
    assert_eq!(raw.nk_field(services, 52), 2 * "Svc000".len() as u32);
    let params = raw.nk_find(&["Services", "Svc000", "Parameters"]);
    assert_eq!(raw.nk_field(params, 60), 2 * "ImagePath".len() as u32);
    assert_eq!(
        raw.nk_field(params, 64),
        (("C:\\svc0.sys".len() + 1) * 2) as u32
    );
}

#[test]
fn building_twice_gives_identical_bytes() {
    let mut root = Key::new("ROOT");
    for i in 0..1000 {
        root.create(&[format!("k{}", i * 7919 % 1000), "sub".into()], None)
            .set_value("v", Value::new(0xFFFF_0012, pattern(i % 40, 1)), None);
    }
    let options = BuildOptions::default();
    let a = build(&root, &options);
    let b = build(&root.clone(), &options);
    assert!(a == b, "same tree, same bytes");
}

#[test]
fn options_set_name_time_sequence_and_size() {
    let mut root = Key::new("ROOT");
    root.create(&["Select"], None)
        .set_value("Current", Value::dword(1), None);
    let options = BuildOptions {
        timestamp: 0x01DA_1234_5678_9ABC,
        root_name: Some("$$$PROTO.HIV".into()),
        min_size: 10 * 1024 * 1024 + 1,
        sequence: 0x1234,
    };
    let bytes = build(&root, &options);
    assert_eq!(
        bytes.len(),
        10 * 1024 * 1024 + 4096,
        "padded, rounded up to 4096"
    );
    let raw = Raw::new(&bytes);
    let layout = raw.check_layout();
    assert!(layout.free_cells > 2000, "padding is free bins");
    assert_eq!((raw.u32(4), raw.u32(8)), (0x1234, 0x1234));
    let ts = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    assert_eq!(ts, options.timestamp);
    let first_bin_ts = u64::from_le_bytes(bytes[4096 + 20..4096 + 28].try_into().unwrap());
    assert_eq!(first_bin_ts, options.timestamp, "first bin backs it up");
    let nk_ts = u64::from_le_bytes(raw.cell(raw.root())[4..12].try_into().unwrap());
    assert_eq!(nk_ts, options.timestamp);

    let expected = rename(&root, "$$$PROTO.HIV");
    assert_same_tree(&expected, &read_tree(&bytes));

    let plain = build(&root, &BuildOptions::default());
    assert_eq!(
        u64::from_le_bytes(plain[12..20].try_into().unwrap()),
        DEFAULT_TIMESTAMP
    );
    assert_eq!(plain.len(), 8192, "a small hive is one bin");
}

/// A copy of `key` under another name.
fn rename(key: &Key, name: &str) -> Key {
    let mut out = Key::new(name);
    for (path, k) in key.walk() {
        let dst = out.create(&path, None);
        for e in k.values() {
            dst.set_value(&e.name, e.value.clone(), None);
        }
    }
    out
}

#[test]
fn a_system_sized_hive_with_many_keys_reads_back() {
    // Roughly the shape of a real SYSTEM hive's bulk: many small keys with a
    // few values each, several MB before padding.
    let mut root = Key::new("CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}");
    for set in ["ControlSet001", "ControlSet002"] {
        for i in 0..4000 {
            let key = root.create(
                &[set, "Enum", "ROOT", &format!("DEVICE{i:04}"), "0000"],
                None,
            );
            key.set_value("HardwareID", Value::new(REG_MULTI_SZ, pattern(40, 3)), None);
            key.set_value("ConfigFlags", Value::dword(0), None);
            key.set_value("Capabilities", Value::new(0xFFFF_0012, pattern(4, 9)), None);
            key.set_value(
                "Driver",
                Value::string(&format!("{{4d36e97d}}\\{i:04}")),
                None,
            );
        }
    }
    let options = BuildOptions {
        min_size: 12 * 1024 * 1024,
        ..BuildOptions::default()
    };
    let bytes = build(&root, &options);
    assert!(bytes.len() >= 12 * 1024 * 1024);
    assert_same_tree(&root, &read_tree(&bytes));
    Raw::new(&bytes).check_layout();
}

// ---------------------------------------------------------------------------
// Other readers: hivex, reglookup and libregf (Debian: libhivex-bin,
// reglookup, libregf-utils). CI may not have them; each is skipped then.

fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()));
    if !found {
        eprintln!("note: {name} is not on PATH; skipping its check");
    }
    found
}

fn run(program: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn hivexget(file: &Path, key: &str, value: &str) -> String {
    let out = Command::new("hivexget")
        .arg(file)
        .arg(key)
        .arg(value)
        .output()
        .expect("hivexget");
    assert!(
        out.status.success(),
        "hivexget {key} {value}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

const CLIENT: &str =
    "ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Client";

fn sample_for_readers() -> Key {
    let mut root = Key::new("CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}");
    let select = root.create(&["Select"], None);
    select.set_value("Current", Value::dword(1), None);
    select.set_value("LastKnownGood", Value::dword(2), None);
    let client: Vec<&str> = CLIENT.split('\\').collect();
    let key = root.create(&client, None);
    key.set_value("Enabled", Value::dword(0xffff_ffff), None);
    key.set_value("DisabledByDefault", Value::dword(0), None);
    root.create(
        &["ControlSet001", "Control", "ComputerName", "ComputerName"],
        None,
    )
    .set_value("ComputerName", Value::string("GOLDEN01"), None);
    let tcpip = root.create(&["ControlSet001", "Services", "Tcpip", "Parameters"], None);
    tcpip.set_value("Hostname", Value::string("golden01"), None);
    tcpip.set_value("Blob", Value::new(REG_BINARY, pattern(100_000, 5)), None);
    tcpip.set_value(
        "Quad",
        Value::new(REG_QWORD, 42u64.to_le_bytes().to_vec()),
        None,
    );
    tcpip.set_value("Odd", Value::new(0xFFFF_0012, vec![1, 2, 3, 4, 5, 6]), None);
    let many = root.create(&["Many"], None);
    for i in 0..600 {
        many.create(&[format!("K{i:03}")], None);
    }
    root.create(&["Юникод", "中文", "😀"], None)
        .set_value("Ключ", Value::dword(7), None);
    root
}

#[test]
fn external_readers_agree() {
    let root = sample_for_readers();
    let keys = root.walk().len();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("system.hiv");
    std::fs::write(&file, build(&root, &BuildOptions::default())).unwrap();

    if tool("hivexget") {
        let client = format!("\\{CLIENT}");
        // hivexget prints a DWORD as a signed 32-bit number.
        assert_eq!(hivexget(&file, &client, "Enabled"), "-1");
        assert_eq!(hivexget(&file, &client, "DisabledByDefault"), "0");
        assert_eq!(hivexget(&file, "\\Select", "LastKnownGood"), "2");
        assert_eq!(
            hivexget(
                &file,
                "\\ControlSet001\\Control\\ComputerName\\ComputerName",
                "ComputerName"
            ),
            "GOLDEN01"
        );
        assert_eq!(hivexget(&file, "\\Юникод\\中文\\😀", "Ключ"), "7");
        // hivex's path lookup is its own: the last of 600 subkeys, other case.
        let out = Command::new("hivexget")
            .arg(&file)
            .arg("\\many\\k599")
            .output()
            .unwrap();
        assert!(out.status.success(), "hivexget finds \\Many\\K599");
    }
    if tool("hivexml") {
        let xml = run("hivexml", &[], &file);
        assert_eq!(
            xml.matches("<node").count(),
            keys,
            "hivexml walks every key"
        );
    }
    if tool("reglookup") {
        let csv = run(
            "reglookup",
            &[
                "-p",
                "/ControlSet001/Control/SecurityProviders/SCHANNEL/Protocols/TLS 1.2/Client",
            ],
            &file,
        );
        assert!(csv.contains("/Client/Enabled,DWORD,0xFFFFFFFF,"), "{csv}");
        assert!(
            csv.contains("/Client/DisabledByDefault,DWORD,0x00000000,"),
            "{csv}"
        );
        let all = run("reglookup", &["-t", "KEY", "-H"], &file);
        assert_eq!(all.lines().count(), keys, "reglookup lists every key");
        let quad = run(
            "reglookup",
            &["-p", "/ControlSet001/Services/Tcpip/Parameters"],
            &file,
        );
        assert!(
            quad.contains("/Parameters/Quad,QWORD,0x000000000000002A,"),
            "{quad}"
        );
    }
    if tool("regfinfo") {
        let info = run("regfinfo", &[], &file);
        assert!(info.contains("Version:\t1.5"), "{info}");
    }
    if tool("regfexport") {
        let export = run("regfexport", &[], &file);
        assert_eq!(export.matches("Key path: ").count(), keys, "every key");
        let enabled = export
            .split("Value: ")
            .find(|v| v.contains(" Enabled\n"))
            .expect("Enabled exported");
        assert!(enabled.contains("Data size: 4"), "{enabled}");
        assert!(enabled.contains("Data: 4294967295"), "{enabled}");
        assert!(export.contains("Data size: 100000"), "big data size");
        assert!(
            export.contains("Type: unknown: 0xffff0012"),
            "odd type kept"
        );
    }
}
