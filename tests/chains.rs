//! Differencing images read through to their parents: a qcow2 overlay on a
//! raw disk and VMDK snapshots made by qemu, differencing VHD and VHDX made
//! by the writer below (qemu makes neither). Each child holds the Windows
//! disk of `samples/images/gpt.raw` with its SYSTEM hive swapped for
//! `samples/hives/not-set.hiv`, over a parent holding `compliant.hiv`: the
//! child reads, byte for byte, as that modified disk, and audits
//! NONCOMPLIANT where its parent audits COMPLIANT. Then the chains that
//! cannot be read: a missing parent, a parent that is not the one the child
//! was made from, a loop, a chain deeper than the cap. Each is an error
//! naming the files, never a panic or a hang.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

mod common;
mod serve;

use tlsreg::image::container::{ContainerError, MAX_CHAIN, open};

const SECTOR: usize = 512;
/// The 64 KiB cluster (of `gpt.raw`) holding the SYSTEM hive.
const ZEROED: usize = 4_325_376;

/// The disks of a chain: the parent's bytes (`gpt.raw`) and the child's
/// (the same with the SYSTEM hive replaced), in a folder of their own.
struct Fixture {
    dir: tempfile::TempDir,
    base: Vec<u8>,
    modified: Vec<u8>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::read("samples/images/gpt.raw").unwrap();
        let compliant = fs::read("samples/hives/compliant.hiv").unwrap();
        let not_set = fs::read("samples/hives/not-set.hiv").unwrap();
        assert_eq!(compliant.len(), not_set.len());
        let at = base
            .windows(compliant.len())
            .position(|w| w == compliant)
            .expect("compliant.hiv is stored whole in gpt.raw");
        let mut modified = base.clone();
        modified[at..at + not_set.len()].copy_from_slice(&not_set);
        fs::write(dir.path().join("base.raw"), &base).unwrap();
        fs::write(dir.path().join("modified.raw"), &modified).unwrap();
        Fixture {
            dir,
            base,
            modified,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn copy_sample(&self, sample: &str, name: &str) -> PathBuf {
        let to = self.path(name);
        fs::copy(Path::new("samples/images").join(sample), &to).unwrap();
        to
    }

    /// `base.raw` converted by qemu-img to `format`, as `name`.
    fn convert_base(&self, format: &str, name: &str) -> String {
        let out = self.arg(name);
        qemu_img(&[
            "convert",
            "-q",
            "-f",
            "raw",
            "-O",
            format,
            &self.arg("base.raw"),
            &out,
        ]);
        out
    }

    /// An empty child `name` in `format` (with `opts`) made by qemu-img
    /// over `backing` (a file beside it, named as the child records it).
    fn child(
        &self,
        name: &str,
        format: &str,
        opts: &[&str],
        backing: &str,
        backing_format: &str,
    ) -> String {
        let out = self.arg(name);
        let mut args = vec!["create", "-q", "-f", format];
        args.extend_from_slice(opts);
        args.extend_from_slice(&["-b", backing, "-F", backing_format, &out]);
        qemu_img(&args);
        out
    }

    /// A qcow2 overlay over `backing` holding only what `modified.raw`
    /// changes: empty over `modified.raw`, then rebased (safe mode) onto
    /// `backing`, for which qemu copies in the clusters that differ.
    fn changes_over(&self, name: &str, backing: &str, backing_format: &str) -> String {
        let out = self.child(name, "qcow2", &[], "modified.raw", "raw");
        qemu_img(&[
            "rebase",
            "-q",
            "-f",
            "qcow2",
            "-b",
            backing,
            "-F",
            backing_format,
            &out,
        ]);
        out
    }

    /// Zeros written by qemu-io over the 64 KiB cluster holding the hive
    /// (which the base has data in); the base's bytes with those zeros.
    fn zero_cluster(&self, image: &str) -> Vec<u8> {
        let at = ZEROED;
        common::run_tool("qemu-io", &["-c", &format!("write -z {at} 65536"), image]);
        let mut want = self.base.clone();
        assert!(want[at..at + 65536].iter().any(|&b| b != 0));
        want[at..at + 65536].fill(0);
        want
    }

    /// A committed sample holding `gpt.raw` (checked), copied as `name` to
    /// be a parent: its path and bytes.
    fn parent_sample(&self, sample: &str, name: &str) -> (PathBuf, Vec<u8>) {
        let path = self.copy_sample(sample, name);
        same_bytes(&read_all(&path), &self.base, sample);
        let bytes = fs::read(&path).unwrap();
        (path, bytes)
    }

    /// `parent.vmdk` (the base) and an empty snapshot of it made by qemu,
    /// `child-desc.vmdk`, a descriptor with a sparse extent: the
    /// descriptor's path and text.
    fn vmdk_snapshot(&self) -> (String, String) {
        self.convert_base("vmdk", "parent.vmdk");
        let sparse_extents = ["-o", "subformat=twoGbMaxExtentSparse"];
        let desc = self.child(
            "child-desc.vmdk",
            "vmdk",
            &sparse_extents,
            "parent.vmdk",
            "vmdk",
        );
        let text = fs::read_to_string(&desc).unwrap();
        (desc, text)
    }

    /// The sectors where the modified disk differs from the base.
    fn changed_sectors(&self) -> BTreeMap<u64, Vec<u8>> {
        self.modified
            .chunks(SECTOR)
            .zip(self.base.chunks(SECTOR))
            .enumerate()
            .filter(|(_, (m, b))| m != b)
            .map(|(i, (m, _))| (i as u64, m.to_vec()))
            .collect()
    }
}

fn qemu_img(args: &[&str]) {
    common::run_tool("qemu-img", args);
}

/// The whole disk through the library, and some reads that start and end
/// inside sectors, compared with the whole.
fn read_all(path: &Path) -> Vec<u8> {
    let opened = open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let disk = opened.disk;
    let size = usize::try_from(disk.size()).unwrap();
    let mut out = vec![0u8; size];
    for (i, chunk) in out.chunks_mut(1 << 20).enumerate() {
        disk.read_exact_at((i << 20) as u64, chunk).unwrap();
    }
    let mut piece = vec![0u8; 9000];
    for at in [4_374_528 - 700, 4_374_528 + 4097, 4_325_376 - 3] {
        disk.read_exact_at(at as u64, &mut piece).unwrap();
        assert_eq!(piece, out[at..at + piece.len()], "read at {at}");
    }
    out
}

fn notes(path: &Path) -> String {
    open(path).unwrap().notes.join("\n")
}

fn error(path: &Path) -> ContainerError {
    match open(path) {
        Err(e) => e,
        Ok(_) => panic!("{} opened without error", path.display()),
    }
}

/// The verdict of `tlsreg audit --format json` on a disk image, and its
/// image notes (one a line).
fn audit(path: &Path) -> (String, String) {
    audit_input(path.to_str().unwrap())
}

/// As [`audit`], for any INPUT (a URL).
fn audit_input(input: &str) -> (String, String) {
    let run = common::Cmd::new(&["audit", "--format", "json", input])
        .env("HTTP_PROXY", "")
        .env("http_proxy", "")
        .run();
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stderr, run.text()));
    let input = &doc["inputs"][0];
    let verdict = input["verdict"].as_str().unwrap().to_owned();
    let want = match verdict.as_str() {
        "compliant" => 0,
        "noncompliant" => 1,
        _ => 2,
    };
    assert_eq!(run.code, want, "{verdict}: {}", run.stderr);
    let notes: Vec<&str> = common::findings(&doc)
        .iter()
        .filter(|f| f["code"] == "image")
        .filter_map(|f| f["message"].as_str())
        .collect();
    (verdict, notes.join("\n"))
}

fn verdict(path: &Path) -> String {
    audit(path).0
}

/// Where a qcow2 file's backing format header extension starts.
fn backing_format_extension(qcow2: &[u8]) -> usize {
    qcow2[..4096]
        .windows(4)
        .position(|w| w == 0xE279_2ACAu32.to_be_bytes())
        .expect("a backing format extension")
}

fn same_bytes(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: size");
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at byte {i}");
    }
}

#[test]
fn qcow2_overlay_on_a_raw_disk() {
    let f = Fixture::new();
    // An empty overlay over the modified disk, rebased (safe mode) onto the
    // base: qemu stores in it exactly the clusters that differ.
    let ov = f.changes_over("overlay.qcow2", "base.raw", "raw");
    let len = fs::metadata(&ov).unwrap().len();
    assert!(
        len < 1 << 20,
        "the overlay holds only the changes ({len} bytes)"
    );
    same_bytes(&read_all(Path::new(&ov)), &f.modified, "overlay");
    let n = notes(Path::new(&ov));
    assert!(
        n.contains("qcow2 overlay; parent: ") && n.contains("base.raw (raw image)"),
        "{n}"
    );
    assert_eq!(verdict(&f.path("base.raw")), "compliant");
    let (verdict_ov, cli_notes) = audit(Path::new(&ov));
    assert_eq!(verdict_ov, "noncompliant");
    assert!(
        cli_notes.contains("qcow2 overlay; parent: ") && cli_notes.contains("base.raw (raw image)"),
        "{cli_notes}"
    );

    // A zero cluster (v3) reads zeros, not the backing file's bytes; a
    // backing file smaller than its overlay reads zeros past its end.
    let big = f.arg("big.qcow2");
    qemu_img(&[
        "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", &big, "16M",
    ]);
    let mut want = f.zero_cluster(&big);
    let got = read_all(Path::new(&big));
    want.resize(16 << 20, 0);
    same_bytes(&got, &want, "16 MiB overlay with a zero cluster");

    // Over a qcow2 backing file (format stated in the header extension).
    f.convert_base("qcow2", "base.qcow2");
    let ov2 = f.changes_over("overlay2.qcow2", "base.qcow2", "qcow2");
    same_bytes(&read_all(Path::new(&ov2)), &f.modified, "overlay on qcow2");
    assert!(notes(Path::new(&ov2)).contains("base.qcow2 (qcow2)"));

    // Without the backing format extension, the backing file's format is
    // found from its bytes (qcow2 here, raw for the first overlay).
    for (name, parent) in [("overlay.qcow2", "raw image"), ("overlay2.qcow2", "qcow2")] {
        let mut b = fs::read(f.path(name)).unwrap();
        let ext = backing_format_extension(&b);
        b[ext..ext + 4].fill(0); // the end of the extensions
        let plain = f.path(&format!("plain-{name}"));
        fs::write(&plain, &b).unwrap();
        same_bytes(&read_all(&plain), &f.modified, name);
        let n = notes(&plain);
        assert!(n.contains(&format!("({parent})")), "{n}");
    }
}

#[test]
fn vmdk_snapshots_on_a_vmdk() {
    let f = Fixture::new();
    let parent = f.convert_base("vmdk", "parent.vmdk");
    // The changes alone, as a qcow2 overlay on the parent, then converted
    // with the parent as backing: the child holds only those grains.
    let changes = f.changes_over("changes.qcow2", "parent.vmdk", "vmdk");
    for (name, subformat) in [
        ("child.vmdk", "monolithicSparse"),
        ("child-desc.vmdk", "twoGbMaxExtentSparse"),
    ] {
        let child = f.arg(name);
        qemu_img(&[
            "convert",
            "-q",
            "-f",
            "qcow2",
            "-O",
            "vmdk",
            "-o",
            &format!("subformat={subformat}"),
            "-B",
            "parent.vmdk",
            "-F",
            "vmdk",
            &changes,
            &child,
        ]);
        let text = String::from_utf8_lossy(&fs::read(&child).unwrap()).into_owned();
        assert!(
            text.contains("parentFileNameHint=\"parent.vmdk\""),
            "{name}"
        );
        same_bytes(&read_all(Path::new(&child)), &f.modified, name);
        let n = notes(Path::new(&child));
        assert!(
            n.contains("VMDK child (delta) disk; parent: ") && n.contains("parent.vmdk"),
            "{n}"
        );
        assert_eq!(verdict(Path::new(&child)), "noncompliant", "{name}");
    }
    assert_eq!(verdict(Path::new(&parent)), "compliant");

    // A zero grain (grain table entry 1) reads zeros, not the parent's.
    let z = f.child(
        "zero.vmdk",
        "vmdk",
        &["-o", "zeroed_grain=on"],
        "parent.vmdk",
        "vmdk",
    );
    let want = f.zero_cluster(&z);
    same_bytes(&read_all(Path::new(&z)), &want, "zero grains");
}

/// The sectors of `modified` that differ from `base`, grouped by block of
/// `block` bytes.
fn by_block(changed: &BTreeMap<u64, Vec<u8>>, block: u64) -> BTreeMap<u64, Vec<u64>> {
    let mut out: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &s in changed.keys() {
        out.entry(s * SECTOR as u64 / block).or_default().push(s);
    }
    out
}

/// Bytes the child stores for sectors it does not hold: read through to
/// the parent, they never show.
const FILLER: u8 = 0xEE;

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

// ---- A differencing VHD writer ------------------------------------------

/// What a differencing VHD says of its parent and holds.
struct VhdChild<'a> {
    size: u64,
    unique_id: [u8; 16],
    parent_id: [u8; 16],
    /// Parent locators: platform code and the path (UTF-16LE).
    locators: Vec<(&'a [u8; 4], String)>,
    /// Sectors the child holds: index and 512 bytes.
    sectors: &'a BTreeMap<u64, Vec<u8>>,
}

const VHD_BLOCK: u64 = 2 << 20;

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

fn vhd_checksum(b: &mut [u8], field: usize) {
    b[field..field + 4].fill(0);
    let sum = b.iter().fold(0u32, |s, &x| s.wrapping_add(u32::from(x)));
    put(b, field, &(!sum).to_be_bytes());
}

impl VhdChild<'_> {
    /// Footer copy, dynamic header, BAT, locators, then one block (bitmap
    /// and data) per block holding a changed sector, then the footer.
    fn write(&self) -> Vec<u8> {
        let blocks = self.size.div_ceil(VHD_BLOCK);
        let bat_at = 1536u64;
        let bat_len = (blocks * 4).div_ceil(512) * 512;
        let mut out = vec![0u8; (bat_at + bat_len) as usize];
        let mut header = vec![0u8; 1024];
        put(&mut header, 0, b"cxsparse");
        put(&mut header, 8, &u64::MAX.to_be_bytes());
        put(&mut header, 16, &bat_at.to_be_bytes());
        put(&mut header, 24, &0x0001_0000u32.to_be_bytes());
        put(&mut header, 28, &(blocks as u32).to_be_bytes());
        put(&mut header, 32, &(VHD_BLOCK as u32).to_be_bytes());
        put(&mut header, 40, &self.parent_id);
        if let Some((_, first)) = self.locators.first() {
            let name = first.rsplit(['\\', '/']).next().unwrap();
            let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_be_bytes).collect();
            put(&mut header, 64, &units);
        }
        for (i, (code, path)) in self.locators.iter().enumerate() {
            let data = utf16le(path);
            let at = out.len() as u64;
            let space = data.len().div_ceil(512) * 512;
            out.resize(out.len() + space, 0);
            put(&mut out, at as usize, &data);
            let e = 576 + i * 24;
            put(&mut header, e, *code);
            put(&mut header, e + 4, &(space as u32).to_be_bytes());
            put(&mut header, e + 8, &(data.len() as u32).to_be_bytes());
            put(&mut header, e + 16, &at.to_be_bytes());
        }
        vhd_checksum(&mut header, 36);
        put(&mut out, 512, &header);
        let mut bat = vec![0xFFu8; (blocks * 4) as usize];
        let sectors_per_block = VHD_BLOCK / SECTOR as u64;
        for (block, sectors) in by_block(self.sectors, VHD_BLOCK) {
            let at = out.len();
            put(
                &mut bat,
                block as usize * 4,
                &((at / SECTOR) as u32).to_be_bytes(),
            );
            let mut bitmap = vec![0u8; 512];
            let mut data = vec![FILLER; VHD_BLOCK as usize];
            for s in sectors {
                let i = (s % sectors_per_block) as usize;
                bitmap[i / 8] |= 0x80 >> (i % 8);
                put(&mut data, i * SECTOR, &self.sectors[&s]);
            }
            out.extend_from_slice(&bitmap);
            out.extend_from_slice(&data);
        }
        put(&mut out, bat_at as usize, &bat);
        let mut footer = vec![0u8; 512];
        put(&mut footer, 0, b"conectix");
        put(&mut footer, 8, &2u32.to_be_bytes());
        put(&mut footer, 12, &0x0001_0000u32.to_be_bytes());
        put(&mut footer, 16, &512u64.to_be_bytes());
        put(&mut footer, 28, b"tlsr");
        put(&mut footer, 36, b"Wi2k");
        put(&mut footer, 40, &self.size.to_be_bytes());
        put(&mut footer, 48, &self.size.to_be_bytes());
        put(&mut footer, 60, &4u32.to_be_bytes());
        put(&mut footer, 68, &self.unique_id);
        vhd_checksum(&mut footer, 64);
        put(&mut out, 0, &footer);
        out.extend_from_slice(&footer);
        out
    }
}

/// The unique ID in a VHD's footer.
fn vhd_id(file: &[u8]) -> [u8; 16] {
    file[file.len() - 512 + 68..file.len() - 512 + 84]
        .try_into()
        .unwrap()
}

fn vhd_child<'a>(
    parent: &[u8],
    names: &[(&'a [u8; 4], &str)],
    id: u8,
    sectors: &'a BTreeMap<u64, Vec<u8>>,
) -> VhdChild<'a> {
    VhdChild {
        size: u64::from_be_bytes(parent[parent.len() - 512 + 48..][..8].try_into().unwrap()),
        unique_id: [id; 16],
        parent_id: vhd_id(parent),
        locators: names.iter().map(|(c, n)| (*c, (*n).to_owned())).collect(),
        sectors,
    }
}

#[test]
fn vhd_differencing_disk_from_our_writer() {
    let f = Fixture::new();
    let (parent_path, parent) = f.parent_sample("gpt.vhd", "parent.vhd");
    let changed = f.changed_sectors();
    assert!(!changed.is_empty());
    let child = vhd_child(
        &parent,
        &[(b"W2ru", r".\parent.vhd"), (b"W2ku", r"C:\VMs\parent.vhd")],
        0x11,
        &changed,
    );
    let child_path = f.path("child.vhd");
    fs::write(&child_path, child.write()).unwrap();
    same_bytes(&read_all(&child_path), &f.modified, "differencing VHD");
    let n = notes(&child_path);
    assert!(
        n.contains("VHD differencing disk; parent: ") && n.contains("parent.vhd (VHD (dynamic))"),
        "{n}"
    );
    assert_eq!(verdict(&parent_path), "compliant");
    assert_eq!(verdict(&child_path), "noncompliant");

    // Only an absolute path from another machine: found by its file name.
    let absolute = vhd_child(
        &parent,
        &[(b"W2ku", r"D:\Hyper-V\parent.vhd")],
        0x12,
        &changed,
    );
    let absolute_path = f.path("absolute.vhd");
    fs::write(&absolute_path, absolute.write()).unwrap();
    same_bytes(&read_all(&absolute_path), &f.modified, "absolute locator");

    // A grandchild over the child, holding the parent's hive again: it
    // reads as the base, its unallocated blocks through two layers.
    let child_bytes = fs::read(&child_path).unwrap();
    let undo: BTreeMap<u64, Vec<u8>> = changed
        .keys()
        .map(|&s| (s, f.base[s as usize * SECTOR..][..SECTOR].to_vec()))
        .collect();
    let grandchild = vhd_child(&child_bytes, &[(b"W2ru", "child.vhd")], 0x13, &undo);
    let grandchild_path = f.path("grandchild.vhd");
    fs::write(&grandchild_path, grandchild.write()).unwrap();
    same_bytes(&read_all(&grandchild_path), &f.base, "grandchild");
    assert_eq!(verdict(&grandchild_path), "compliant");
}

// ---- A differencing VHDX writer -----------------------------------------

const MIB: usize = 1 << 20;
const VHDX_BLOCK: usize = 2 * MIB;
/// Payload blocks per sector bitmap block (512-byte sectors, 2 MiB blocks).
const CHUNK_RATIO: usize = (1 << 23) * SECTOR / VHDX_BLOCK;

/// A GUID as VHDX stores it (the first three fields little-endian), from
/// its text form as [MS-VHDX] writes it.
fn guid(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .split('-')
        .flat_map(|part| {
            (0..part.len() / 2)
                .map(move |i| u8::from_str_radix(&part[2 * i..2 * i + 2], 16).unwrap())
        })
        .collect();
    let mut g = [0u8; 16];
    g.copy_from_slice(&hex);
    g[0..4].reverse();
    g[4..6].reverse();
    g[6..8].reverse();
    g
}

fn show_guid(g: &[u8; 16]) -> String {
    let le32 = u32::from_le_bytes(g[0..4].try_into().unwrap());
    let le16 = |at: usize| u16::from_le_bytes(g[at..at + 2].try_into().unwrap());
    let hex =
        |r: std::ops::Range<usize>| g[r].iter().map(|b| format!("{b:02X}")).collect::<String>();
    format!(
        "{{{le32:08X}-{:04X}-{:04X}-{}-{}}}",
        le16(4),
        le16(6),
        hex(8..10),
        hex(10..16)
    )
}

/// The DataWriteGuid of a VHDX's current header (the valid one with the
/// higher sequence number).
fn vhdx_data_write_guid(file: &[u8]) -> [u8; 16] {
    let seq = |at: usize| u64::from_le_bytes(file[at + 8..at + 16].try_into().unwrap());
    let at = if seq(64 << 10) >= seq(128 << 10) {
        64 << 10
    } else {
        128 << 10
    };
    file[at + 32..at + 48].try_into().unwrap()
}

/// What a differencing VHDX says of its parent and holds.
struct VhdxChild<'a> {
    size: u64,
    /// Parent locator key/value pairs.
    locator: Vec<(&'a str, String)>,
    /// Sectors held in partially present blocks.
    sectors: &'a BTreeMap<u64, Vec<u8>>,
    /// Blocks held whole: index and 2 MiB.
    full: Vec<(usize, &'a [u8])>,
}

impl VhdxChild<'_> {
    /// Headers, region tables, an empty log at 1 MiB, metadata at 2 MiB,
    /// the BAT at 3 MiB, the sector bitmap block at 4 MiB, payload blocks
    /// from 5 MiB.
    fn write(&self) -> Vec<u8> {
        let bat_region = guid("2DC27766-F623-4200-9D64-115E9BFD4A08");
        let metadata_region = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E");
        let file_parameters = guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
        let virtual_disk_size = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
        let logical_sector_size = guid("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
        let physical_sector_size = guid("CDA348C7-445D-4471-9CC9-E9885251C556");
        let virtual_disk_id = guid("BECA12AB-B2E6-4523-93EF-C309E000C746");
        let parent_locator = guid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");
        let locator_vhdx = guid("B04AEFB7-D19E-4A81-B789-25B8E9445913");
        const SECTOR_BITMAP_AT: usize = 4 * MIB;

        let blocks = (self.size as usize).div_ceil(VHDX_BLOCK);
        let partial = by_block(self.sectors, VHDX_BLOCK as u64);
        let mut out = vec![0u8; 5 * MIB];
        put(&mut out, 0, b"vhdxfile");
        for (n, at) in [(1u64, 64 << 10), (2, 128 << 10)] {
            let h = &mut out[at..at + 4096];
            put(h, 0, b"head");
            put(h, 8, &n.to_le_bytes());
            put(h, 16, &[0x21; 16]); // FileWriteGuid
            put(h, 32, &[0x22; 16]); // DataWriteGuid
            put(h, 66, &1u16.to_le_bytes());
            put(h, 68, &(MIB as u32).to_le_bytes());
            put(h, 72, &(MIB as u64).to_le_bytes());
            let crc = common::crc32c(h);
            put(h, 4, &crc.to_le_bytes());
        }
        for at in [192 << 10, 256 << 10] {
            let t = &mut out[at..at + (64 << 10)];
            put(t, 0, b"regi");
            put(t, 8, &2u32.to_le_bytes());
            for (i, (id, offset)) in [(bat_region, 3 * MIB), (metadata_region, 2 * MIB)]
                .iter()
                .enumerate()
            {
                let e = 16 + i * 32;
                put(t, e, id);
                put(t, e + 16, &(*offset as u64).to_le_bytes());
                put(t, e + 24, &(MIB as u32).to_le_bytes());
                put(t, e + 28, &1u32.to_le_bytes());
            }
            let crc = common::crc32c(t);
            put(t, 4, &crc.to_le_bytes());
        }
        // Metadata: the table, then the items from 64 KiB.
        let mut locator = locator_vhdx.to_vec();
        locator.extend_from_slice(&0u16.to_le_bytes());
        locator.extend_from_slice(&(self.locator.len() as u16).to_le_bytes());
        let mut strings = Vec::new();
        let strings_at = 20 + 12 * self.locator.len();
        for (key, value) in &self.locator {
            let (k, v) = (utf16le(key), utf16le(value));
            let key_at = strings_at + strings.len();
            strings.extend_from_slice(&k);
            let value_at = strings_at + strings.len();
            strings.extend_from_slice(&v);
            locator.extend_from_slice(&(key_at as u32).to_le_bytes());
            locator.extend_from_slice(&(value_at as u32).to_le_bytes());
            locator.extend_from_slice(&(k.len() as u16).to_le_bytes());
            locator.extend_from_slice(&(v.len() as u16).to_le_bytes());
        }
        locator.extend_from_slice(&strings);
        let mut params = (VHDX_BLOCK as u32).to_le_bytes().to_vec();
        params.extend_from_slice(&2u32.to_le_bytes()); // HasParent
        let items: [([u8; 16], Vec<u8>, u32); 6] = [
            (file_parameters, params, 4),
            (virtual_disk_size, self.size.to_le_bytes().to_vec(), 6),
            (logical_sector_size, 512u32.to_le_bytes().to_vec(), 6),
            (physical_sector_size, 512u32.to_le_bytes().to_vec(), 6),
            (virtual_disk_id, vec![0x23; 16], 6),
            (parent_locator, locator, 4),
        ];
        let meta = 2 * MIB;
        put(&mut out, meta, b"metadata");
        put(&mut out, meta + 10, &(items.len() as u16).to_le_bytes());
        let mut item_at = 64 << 10;
        for (i, (id, value, flags)) in items.iter().enumerate() {
            let e = meta + 32 + i * 32;
            put(&mut out, e, id);
            put(&mut out, e + 16, &(item_at as u32).to_le_bytes());
            put(&mut out, e + 20, &(value.len() as u32).to_le_bytes());
            put(&mut out, e + 24, &flags.to_le_bytes());
            put(&mut out, meta + item_at, value);
            item_at += value.len().div_ceil(8) * 8;
        }
        // BAT, sector bitmap and payload.
        let bat = 3 * MIB;
        let entry = |out: &mut Vec<u8>, index: usize, state: u64, at: usize| {
            let e = state | ((at / MIB) as u64) << 20;
            put(out, bat + index * 8, &e.to_le_bytes());
        };
        for (block, sectors) in &partial {
            let block = *block as usize;
            let at = out.len();
            let mut data = vec![FILLER; VHDX_BLOCK];
            let per_block = VHDX_BLOCK / SECTOR;
            for &s in sectors {
                let i = s as usize % per_block;
                let bit = block % CHUNK_RATIO * per_block + i;
                out[SECTOR_BITMAP_AT + bit / 8] |= 1 << (bit % 8);
                put(&mut data, i * SECTOR, &self.sectors[&s]);
            }
            out.extend_from_slice(&data);
            entry(&mut out, block + block / CHUNK_RATIO, 7, at);
        }
        for (block, data) in &self.full {
            let at = out.len();
            out.extend_from_slice(data);
            entry(&mut out, block + block / CHUNK_RATIO, 6, at);
        }
        assert!(blocks <= CHUNK_RATIO, "one sector bitmap block");
        entry(&mut out, CHUNK_RATIO, 6, SECTOR_BITMAP_AT);
        out
    }
}

fn vhdx_child<'a>(
    linkage: &[u8; 16],
    paths: &[(&'a str, &str)],
    sectors: &'a BTreeMap<u64, Vec<u8>>,
    full: Vec<(usize, &'a [u8])>,
    size: u64,
) -> VhdxChild<'a> {
    let mut locator = vec![("parent_linkage", show_guid(linkage))];
    locator.extend(paths.iter().map(|(k, v)| (*k, (*v).to_owned())));
    VhdxChild {
        size,
        locator,
        sectors,
        full,
    }
}

#[test]
fn vhdx_differencing_disk_from_our_writer() {
    let f = Fixture::new();
    let (parent_path, parent) = f.parent_sample("gpt.vhdx", "parent.vhdx");
    let changed = f.changed_sectors();
    // The block with the hive partially present; the last block whole (as
    // the modified disk has it); the others not present.
    let last = f.modified.len() / VHDX_BLOCK - 1;
    assert!(!by_block(&changed, VHDX_BLOCK as u64).contains_key(&(last as u64)));
    let full = vec![(last, &f.modified[last * VHDX_BLOCK..])];
    let child = vhdx_child(
        &vhdx_data_write_guid(&parent),
        &[
            ("relative_path", r".\parent.vhdx"),
            (
                "volume_path",
                r"\\?\Volume{26A21BDA-A627-11D7-9931-806E6F6E6963}\VMs\parent.vhdx",
            ),
            ("absolute_win32_path", r"C:\VMs\parent.vhdx"),
        ],
        &changed,
        full,
        f.modified.len() as u64,
    );
    let child_path = f.path("child.vhdx");
    fs::write(&child_path, child.write()).unwrap();
    same_bytes(&read_all(&child_path), &f.modified, "differencing VHDX");
    let n = notes(&child_path);
    assert!(
        n.contains("VHDX differencing disk; parent: ") && n.contains("parent.vhdx (VHDX)"),
        "{n}"
    );
    assert_eq!(verdict(&parent_path), "compliant");
    assert_eq!(verdict(&child_path), "noncompliant");

    // qemu reads no differencing VHDX: it must refuse, not read it as a
    // disk of its own (the read-through above is the cross-check).
    let out = common::host_tool(
        "qemu-img",
        &[
            OsStr::new("compare"),
            OsStr::new("-f"),
            OsStr::new("vhdx"),
            child_path.as_os_str(),
            f.path("modified.raw").as_os_str(),
        ],
    )
    .unwrap();
    if out.status.success() {
        panic!("qemu-img now reads differencing VHDX: compare it with the library's reads");
    }
}

// ---- Chains that cannot be read -----------------------------------------

/// An error naming every one of `names`, and the kind of error wanted.
fn assert_names(e: &ContainerError, names: &[&str]) -> String {
    let msg = e.to_string();
    for n in names {
        assert!(msg.contains(n), "{msg:?} does not name {n:?}");
    }
    msg
}

#[test]
fn a_missing_parent_is_named() {
    let f = Fixture::new();
    // qcow2 and VMDK made by qemu, their parents then removed.
    fs::copy(f.path("base.raw"), f.path("gone.raw")).unwrap();
    f.child("overlay.qcow2", "qcow2", &[], "gone.raw", "raw");
    f.convert_base("vmdk", "gone.vmdk");
    f.child("child.vmdk", "vmdk", &[], "gone.vmdk", "vmdk");
    let sparse_extents = ["-o", "subformat=twoGbMaxExtentSparse"];
    f.child(
        "child-desc.vmdk",
        "vmdk",
        &sparse_extents,
        "gone.vmdk",
        "vmdk",
    );
    fs::remove_file(f.path("gone.raw")).unwrap();
    fs::remove_file(f.path("gone.vmdk")).unwrap();
    // VHD and VHDX from the writer, naming parents that are not there.
    let none = BTreeMap::new();
    let gpt_vhd = fs::read("samples/images/gpt.vhd").unwrap();
    let vhd = vhd_child(
        &gpt_vhd,
        &[(b"W2ru", r".\gone.vhd"), (b"W2ku", r"C:\VMs\gone.vhd")],
        1,
        &none,
    );
    fs::write(f.path("child.vhd"), vhd.write()).unwrap();
    let vhdx = vhdx_child(
        &[7; 16],
        &[("relative_path", r"..\gone.vhdx")],
        &none,
        Vec::new(),
        12 << 20,
    );
    fs::write(f.path("child.vhdx"), vhdx.write()).unwrap();
    for (child, parent) in [
        ("overlay.qcow2", "gone.raw"),
        ("child.vmdk", "gone.vmdk"),
        ("child-desc.vmdk", "gone.vmdk"),
        ("child.vhd", r".\gone.vhd"),
        ("child.vhdx", r"..\gone.vhdx"),
    ] {
        let e = error(&f.path(child));
        assert!(matches!(e, ContainerError::Parent { .. }), "{child}: {e:?}");
        let msg = assert_names(&e, &[child, parent]);
        assert!(msg.contains("not found"), "{msg}");
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound, "{child}");
        // Through the CLI: an error naming both, exit code 2.
        let run = common::tlsreg(&["audit", f.path(child).to_str().unwrap()]);
        assert_eq!(run.code, 2, "{child}: {}", run.text());
        let text = common::slashed(&format!("{}{}", run.text(), run.stderr));
        assert!(
            text.contains(child) && text.contains(&common::slashed(parent)),
            "{text}"
        );
    }
}

#[test]
fn a_parent_that_is_not_the_one_the_child_was_made_from() {
    let f = Fixture::new();
    let none = BTreeMap::new();
    // VHD: the parent's unique ID differs.
    let parent_path = f.copy_sample("gpt.vhd", "parent.vhd");
    let parent = fs::read(&parent_path).unwrap();
    let mut vhd = vhd_child(&parent, &[(b"W2ru", "parent.vhd")], 1, &none);
    vhd.parent_id[0] ^= 0xFF;
    fs::write(f.path("child.vhd"), vhd.write()).unwrap();
    // VHDX: another DataWriteGuid.
    f.copy_sample("gpt.vhdx", "parent.vhdx");
    let vhdx = vhdx_child(
        &[7; 16],
        &[("relative_path", "parent.vhdx")],
        &none,
        Vec::new(),
        12 << 20,
    );
    fs::write(f.path("child.vhdx"), vhdx.write()).unwrap();
    // A VHD parent named by a VHDX child is no VHDX.
    let wrong = vhdx_child(
        &[7; 16],
        &[("relative_path", "parent.vhd")],
        &none,
        Vec::new(),
        12 << 20,
    );
    fs::write(f.path("wrong.vhdx"), wrong.write()).unwrap();
    // VMDK: the parent changed after the snapshot was taken (its CID).
    let (desc, text) = f.vmdk_snapshot();
    let line = text.lines().find(|l| l.starts_with("parentCID=")).unwrap();
    let cid = u32::from_str_radix(&line["parentCID=".len()..], 16).unwrap();
    fs::write(
        &desc,
        text.replace(line, &format!("parentCID={:08x}", cid ^ 1)),
    )
    .unwrap();
    for (child, parent, says) in [
        ("child.vhd", "parent.vhd", "unique ID"),
        ("child.vhdx", "parent.vhdx", "DataWriteGuid"),
        ("wrong.vhdx", "parent.vhd", "not a VHDX"),
        ("child-desc.vmdk", "parent.vmdk", "parentCID"),
    ] {
        let e = error(&f.path(child));
        assert!(
            matches!(e, ContainerError::ParentMismatch { .. }),
            "{child}: {e:?}"
        );
        assert_names(&e, &[child, parent, says]);
    }
}

#[test]
fn loops_are_errors() {
    let f = Fixture::new();
    let none = BTreeMap::new();
    let gpt_vhd = fs::read("samples/images/gpt.vhd").unwrap();
    // A VHD naming itself, its parent unique ID its own.
    let mut own = vhd_child(&gpt_vhd, &[(b"W2ru", "self.vhd")], 3, &none);
    own.parent_id = own.unique_id;
    fs::write(f.path("self.vhd"), own.write()).unwrap();
    // Two VHDs naming each other, each the other's parent by unique ID.
    let mut a = vhd_child(&gpt_vhd, &[(b"W2ru", "b.vhd")], 0xA, &none);
    let mut b = vhd_child(&gpt_vhd, &[(b"W2ru", "a.vhd")], 0xB, &none);
    a.parent_id = b.unique_id;
    b.parent_id = a.unique_id;
    fs::write(f.path("a.vhd"), a.write()).unwrap();
    fs::write(f.path("b.vhd"), b.write()).unwrap();
    // A qcow2 overlay whose backing file name is its own.
    let ov = f.child("aaaa.qcow2", "qcow2", &[], "base.raw", "raw");
    let mut bytes = fs::read(&ov).unwrap();
    let at = bytes.windows(8).position(|w| w == b"base.raw").unwrap();
    bytes[at..at + 8].copy_from_slice(b"self.qco");
    fs::write(f.path("self.qco"), &bytes).unwrap();
    for (child, names) in [
        ("self.vhd", &["self.vhd", "loops"][..]),
        ("a.vhd", &["a.vhd", "b.vhd", "loops"]),
        ("self.qco", &["self.qco", "loops"]),
    ] {
        let e = error(&f.path(child));
        assert!(matches!(e, ContainerError::Chain { .. }), "{child}: {e:?}");
        assert_names(&e, names);
    }
}

#[test]
fn a_chain_deeper_than_the_cap_is_an_error() {
    let f = Fixture::new();
    let none = BTreeMap::new();
    let mut previous = f.copy_sample("gpt.vhd", "layer0.vhd");
    // layer0 is the base: MAX_CHAIN images in all still open.
    for n in 1..=MAX_CHAIN {
        let parent = fs::read(&previous).unwrap();
        let name = format!("layer{}.vhd", n - 1);
        let child = vhd_child(&parent, &[(b"W2ru", &name)], n as u8, &none);
        let path = f.path(&format!("layer{n}.vhd"));
        fs::write(&path, child.write()).unwrap();
        previous = path;
    }
    let deepest_allowed = f.path(&format!("layer{}.vhd", MAX_CHAIN - 1));
    same_bytes(
        &read_all(&deepest_allowed),
        &f.base,
        "a chain of MAX_CHAIN images",
    );
    // The audit of the deepest chain allowed stays in bounded memory: each
    // image keeps its own small caches, whatever the depth.
    #[cfg(target_os = "linux")]
    {
        let (run, peak) =
            common::Cmd::new(&["audit", deepest_allowed.to_str().unwrap()]).measured();
        assert_eq!(run.code, 0, "{}", run.out());
        assert!(
            peak < 100 << 20,
            "peak {peak} bytes for a chain of {MAX_CHAIN}"
        );
    }
    let too_deep = f.path(&format!("layer{MAX_CHAIN}.vhd"));
    let e = error(&too_deep);
    assert!(matches!(e, ContainerError::Chain { .. }), "{e:?}");
    assert_names(&e, &["layer0.vhd", "deeper than 32"]);
}

/// Damaged parent references: errors naming the format and the byte, never
/// a panic, an allocation of what the bytes claim or a read past the end.
#[test]
fn damaged_parent_references_are_errors() {
    let f = Fixture::new();
    let none = BTreeMap::new();
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    let mut case = |name: &str, bytes: &[u8], says: &'static str| {
        let p = f.path(name);
        fs::write(&p, bytes).unwrap();
        cases.push((p, says));
    };

    // VHD: a parent locator claiming 1 GiB, one past the end of the file.
    f.copy_sample("gpt.vhd", "parent.vhd");
    let gpt_vhd = fs::read(f.path("parent.vhd")).unwrap();
    let vhd = vhd_child(&gpt_vhd, &[(b"W2ru", "parent.vhd")], 1, &none).write();
    let locator = |edit: &dyn Fn(&mut [u8])| {
        let mut b = vhd.clone();
        let header = &mut b[512..1536];
        edit(&mut header[576..600]);
        vhd_checksum(header, 36);
        b
    };
    case(
        "huge-locator.vhd",
        &locator(&|e| put(e, 8, &(1u32 << 30).to_be_bytes())),
        "parent locator of 1073741824 bytes",
    );
    case(
        "far-locator.vhd",
        &locator(&|e| put(e, 16, &(1u64 << 40).to_be_bytes())),
        "parent locator at byte 1099511627776",
    );

    // VHDX: the parent locator item's key outside the item, too many
    // entries, another locator type.
    f.copy_sample("gpt.vhdx", "parent.vhdx");
    let linkage = vhdx_data_write_guid(&fs::read(f.path("parent.vhdx")).unwrap());
    let vhdx = vhdx_child(
        &linkage,
        &[("relative_path", "parent.vhdx")],
        &none,
        Vec::new(),
        12 << 20,
    )
    .write();
    let item = 2 * MIB + (64 << 10) + 48;
    let patched = |at: usize, v: &[u8]| {
        let mut b = vhdx.clone();
        put(&mut b, item + at, v);
        b
    };
    case(
        "key-outside.vhdx",
        &patched(20, &0xFFFF_FFF0u32.to_le_bytes()),
        "lies outside the item",
    );
    case(
        "many-entries.vhdx",
        &patched(18, &60000u16.to_le_bytes()),
        "60000 parent locator entries",
    );
    case(
        "other-type.vhdx",
        &patched(0, &[0xAB]),
        "a parent locator of a type other than VHDX",
    );

    // qcow2: a backing file name over qemu's limit; a header extension
    // running past the first cluster.
    let ov = f.child("overlay.qcow2", "qcow2", &[], "base.raw", "raw");
    let q = fs::read(&ov).unwrap();
    let mut long = q.clone();
    put(&mut long, 16, &5000u32.to_be_bytes());
    case("long-name.qcow2", &long, "backing file name of 5000 bytes");
    let mut ext = q.clone();
    let at = backing_format_extension(&q);
    put(&mut ext, at + 4, &0xFFFF_FF00u32.to_be_bytes());
    case("long-ext.qcow2", &ext, "runs past the first cluster");

    // VMDK: a parentCID that is no number; a child that names no parent.
    let (_, text) = f.vmdk_snapshot();
    let cid_line = text.lines().find(|l| l.starts_with("parentCID=")).unwrap();
    let hint_line = text
        .lines()
        .find(|l| l.starts_with("parentFileNameHint="))
        .unwrap();
    case(
        "bad-cid.vmdk",
        text.replace(cid_line, "parentCID=zz").as_bytes(),
        "parentCID \"zz\" is not hexadecimal",
    );
    case(
        "no-hint.vmdk",
        text.replace(hint_line, "").as_bytes(),
        "without a parentFileNameHint",
    );

    for (path, says) in &cases {
        let e = error(path).to_string();
        assert!(
            e.contains(says) && e.contains("byte"),
            "{}: {e}",
            path.display()
        );
    }

    // A partially present VHDX block whose sector bitmap block is not: the
    // read that needs it fails, naming the BAT entry.
    let changed = f.changed_sectors();
    let mut b = vhdx_child(
        &linkage,
        &[("relative_path", "parent.vhdx")],
        &changed,
        Vec::new(),
        12 << 20,
    )
    .write();
    let sb_entry = 3 * MIB + CHUNK_RATIO * 8;
    put(&mut b, sb_entry, &0u64.to_le_bytes());
    let p = f.path("no-bitmap.vhdx");
    fs::write(&p, &b).unwrap();
    let disk = open(&p).unwrap().disk;
    let mut buf = vec![0u8; 8192];
    let e = disk
        .read_exact_at(4_374_528, &mut buf)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sector bitmap block is not") && e.contains(&format!("byte {sb_entry}")),
        "{e}"
    );
}

/// A chain kept at a URL or inside an OVA finds its parent beside it there,
/// through the same place that found the child: the parent is fetched from
/// the URL's folder (with the query), or read from the OVA's other member.
#[test]
fn chains_at_a_url_and_inside_an_ova_find_their_parents_there() {
    let f = Fixture::new();
    let ov = f.changes_over("overlay.qcow2", "base.raw", "raw");
    let server = serve::Server::start(serve::Mode::Ranges);
    server.require_query("sig=x");
    server.add("/vm/overlay.qcow2", Path::new(&ov));
    let url = server.url("/vm/overlay.qcow2?sig=x");
    let (verdict, _) = audit_input(&url);
    assert_eq!(verdict, "error", "no parent served yet");
    let run = common::Cmd::new(&["audit", &url])
        .env("HTTP_PROXY", "")
        .env("http_proxy", "")
        .run();
    let base_url = server.url("/vm/base.raw");
    assert!(
        run.out().contains("its parent \"base.raw\"") && run.out().contains(&base_url),
        "the parent is named, and where it was looked for: {}",
        run.out()
    );
    assert!(!run.out().contains("sig=x"), "{}", run.out());
    server.add("/vm/base.raw", &f.path("base.raw"));
    let (verdict, notes) = audit_input(&url);
    assert_eq!(verdict, "noncompliant");
    assert!(notes.contains("base.raw (raw image)"), "{notes}");
    assert_eq!(
        audit_input(&server.url("/vm/base.raw?sig=x")).0,
        "compliant"
    );

    let ovf = common::ovf_naming(&["overlay.qcow2"]);
    let overlay = fs::read(&ov).unwrap();
    let base = fs::read(f.path("base.raw")).unwrap();
    let ova = f.path("vm.ova");
    fs::write(
        &ova,
        common::tar(&[
            (b"vm.ovf", ovf.as_bytes(), b'0'),
            (b"overlay.qcow2", &overlay, b'0'),
            (b"base.raw", &base, b'0'),
        ]),
    )
    .unwrap();
    let (verdict, notes) = audit(&ova);
    assert_eq!(verdict, "noncompliant");
    assert!(notes.contains("base.raw (raw image)"), "{notes}");
}
