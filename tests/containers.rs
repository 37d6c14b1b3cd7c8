//! Disk image containers read back byte for byte.
//!
//! A deterministic raw disk is converted by `qemu-img` (qemu-utils, installed
//! on developer machines and CI) into every container variant; each is opened
//! by signature and read back, whole and at many random places, against the
//! raw bytes. Then damaged and unsupported images: each must be a
//! `ContainerError` naming the format and a byte offset, never a panic, never
//! silently wrong data.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

mod common;

use common::crc32c;

use tlsreg::image::Disk;
use tlsreg::image::container::{ContainerError, Format, Opened, detect, open};

const SIZE: usize = 64 << 20;

/// xorshift64*: deterministic bytes and positions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// 64 MiB: an MBR signature, zeros, and data at scattered places, on and
/// across 512 B / 64 KiB / 1 MiB / 2 MiB / 32 MiB boundaries, up to the last
/// sector. Half the chunks are random (stored raw even by compressing
/// writers), half are text (compressed).
fn raw_disk() -> Vec<u8> {
    let mut d = vec![0u8; SIZE];
    d[510] = 0x55;
    d[511] = 0xAA;
    let mut rng = Rng(0x5EED_CAFE_F00D_1234);
    let put = |d: &mut Vec<u8>, at: usize, len: usize, rng: &mut Rng| {
        let end = (at + len).min(SIZE);
        if rng.below(2) == 0 {
            rng.fill(&mut d[at..end]);
        } else {
            let text = b"HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL ";
            for (i, b) in d[at..end].iter_mut().enumerate() {
                *b = text[(i + at) % text.len()];
            }
        }
    };
    let marks = [
        512,
        4095,
        65536 - 700,
        (1 << 20) - 3,
        (2 << 20) - 1000,
        (4 << 20) + 17,
        (8 << 20) - 512,
        (32 << 20) - 4096,
        (32 << 20) + 1,
        (48 << 20) + 65536,
        SIZE - 512,
        SIZE - 1,
    ];
    for &m in &marks {
        put(&mut d, m, 5000, &mut rng);
    }
    for _ in 0..150 {
        let at = rng.below(SIZE as u64) as usize;
        let len = 1 + rng.below(40_000) as usize;
        put(&mut d, at, len, &mut rng);
    }
    // A long run across a 2 MiB (VHD block) boundary, part random, part text.
    put(&mut d, (6 << 20) - 300_000, 700_000, &mut rng);
    put(&mut d, (10 << 20) - 300_000, 700_000, &mut rng);
    d
}

fn qemu_img(args: &[&str]) {
    common::run_tool("qemu-img", args);
}

fn convert(raw: &Path, out: &Path, format: &str, opts: &[&str]) {
    let mut args = vec!["convert", "-q", "-f", "raw", "-O", format];
    args.extend_from_slice(opts);
    args.push(raw.to_str().unwrap());
    args.push(out.to_str().unwrap());
    qemu_img(&args);
}

struct Case {
    name: &'static str,
    format: &'static str,
    opts: &'static [&'static str],
    expect: Format,
}

const CASES: &[Case] = &[
    Case {
        name: "dynamic.vhd",
        format: "vpc",
        opts: &["-o", "subformat=dynamic,force_size=on"],
        expect: Format::VhdDynamic,
    },
    Case {
        name: "fixed.vhd",
        format: "vpc",
        opts: &["-o", "subformat=fixed,force_size=on"],
        expect: Format::VhdFixed,
    },
    Case {
        name: "dynamic.vhdx",
        format: "vhdx",
        opts: &["-o", "subformat=dynamic"],
        expect: Format::Vhdx,
    },
    Case {
        name: "dynamic-1m-nozero.vhdx",
        format: "vhdx",
        opts: &["-o", "subformat=dynamic,block_size=1M,block_state_zero=off"],
        expect: Format::Vhdx,
    },
    Case {
        name: "fixed.vhdx",
        format: "vhdx",
        opts: &["-o", "subformat=fixed"],
        expect: Format::Vhdx,
    },
    Case {
        name: "sparse.vmdk",
        format: "vmdk",
        opts: &["-o", "subformat=monolithicSparse"],
        expect: Format::VmdkSparse,
    },
    Case {
        name: "stream.vmdk",
        format: "vmdk",
        opts: &["-o", "subformat=streamOptimized"],
        expect: Format::VmdkStreamOptimized,
    },
    Case {
        name: "flat.vmdk",
        format: "vmdk",
        opts: &["-o", "subformat=monolithicFlat"],
        expect: Format::VmdkDescriptor,
    },
    Case {
        name: "split-sparse.vmdk",
        format: "vmdk",
        opts: &["-o", "subformat=twoGbMaxExtentSparse"],
        expect: Format::VmdkDescriptor,
    },
    Case {
        name: "split-flat.vmdk",
        format: "vmdk",
        opts: &["-o", "subformat=twoGbMaxExtentFlat"],
        expect: Format::VmdkDescriptor,
    },
    Case {
        name: "plain.qcow2",
        format: "qcow2",
        opts: &[],
        expect: Format::Qcow2,
    },
    Case {
        name: "zlib.qcow2",
        format: "qcow2",
        opts: &["-c"],
        expect: Format::Qcow2,
    },
    Case {
        name: "v2.qcow2",
        format: "qcow2",
        opts: &["-o", "compat=0.10"],
        expect: Format::Qcow2,
    },
    Case {
        name: "v2-zlib.qcow2",
        format: "qcow2",
        opts: &["-c", "-o", "compat=0.10"],
        expect: Format::Qcow2,
    },
    Case {
        name: "zstd.qcow2",
        format: "qcow2",
        opts: &["-c", "-o", "compression_type=zstd"],
        expect: Format::Qcow2,
    },
    Case {
        name: "small-clusters.qcow2",
        format: "qcow2",
        opts: &["-c", "-o", "cluster_size=512"],
        expect: Format::Qcow2,
    },
    Case {
        name: "big-clusters.qcow2",
        format: "qcow2",
        opts: &["-o", "cluster_size=2M"],
        expect: Format::Qcow2,
    },
];

struct Fixture {
    dir: tempfile::TempDir,
    raw: PathBuf,
    bytes: Vec<u8>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    let bytes = raw_disk();
    fs::write(&raw, &bytes).unwrap();
    Fixture { dir, raw, bytes }
}

fn read_all(disk: &dyn Disk) -> std::io::Result<Vec<u8>> {
    let size = usize::try_from(disk.size()).unwrap();
    let mut out = vec![0u8; size];
    for (i, chunk) in out.chunks_mut(1 << 20).enumerate() {
        disk.read_exact_at((i << 20) as u64, chunk)?;
    }
    Ok(out)
}

fn compare(name: &str, opened: &Opened, raw: &[u8]) {
    let disk = &*opened.disk;
    assert_eq!(disk.size(), raw.len() as u64, "{name}: size");
    let all = read_all(disk).unwrap_or_else(|e| panic!("{name}: full read: {e}"));
    if all != raw {
        let i = all.iter().zip(raw).position(|(a, b)| a != b);
        panic!("{name}: first difference at byte {i:?}");
    }
    let mut rng = Rng(0xA11C_E5ED ^ name.len() as u64);
    for _ in 0..400 {
        let at = rng.below(raw.len() as u64) as usize;
        let len = (1 + rng.below(300_000) as usize).min(raw.len() - at);
        let mut buf = vec![0u8; len];
        disk.read_exact_at(at as u64, &mut buf)
            .unwrap_or_else(|e| panic!("{name}: read {len} at {at}: {e}"));
        assert!(
            buf == raw[at..at + len],
            "{name}: read {len} at {at} differs"
        );
    }
    // Reads that end exactly at, or run past, the end.
    let mut last = [0u8; 512];
    disk.read_exact_at(raw.len() as u64 - 512, &mut last)
        .unwrap();
    assert_eq!(last[..], raw[raw.len() - 512..]);
    assert!(
        disk.read_exact_at(raw.len() as u64 - 511, &mut last)
            .is_err()
    );
    assert!(disk.read_exact_at(u64::MAX - 10, &mut last).is_err());
}

#[test]
fn every_container_reads_back_the_raw_disk() {
    let f = fixture();
    let raw = open(&f.raw).unwrap();
    assert_eq!(raw.format, Format::Raw);
    compare("raw", &raw, &f.bytes);
    for case in CASES {
        let path = f.dir.path().join(case.name);
        convert(&f.raw, &path, case.format, case.opts);
        let opened = open(&path).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(opened.format, case.expect, "{}", case.name);
        assert_eq!(detect(&path), Some(case.expect), "{}: detect", case.name);
        compare(case.name, &opened, &f.bytes);
    }
}

/// Past 4 GiB: VHDX sector-bitmap entries interleave the BAT (every 4 GiB of
/// 512-byte-sector disk), qcow2 needs several L2 tables, VMDK many grain
/// tables, VHD a long BAT.
#[test]
fn big_sparse_disks_map_far_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let raw_path = dir.path().join("big.raw");
    let size: u64 = 9 << 30;
    let mut rng = Rng(0xB16_D15C);
    let mut chunks = Vec::new();
    {
        let mut file = fs::File::create(&raw_path).unwrap();
        file.set_len(size).unwrap();
        let mut mbr = [0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        file.write_all(&mbr).unwrap();
        let places = [
            (4u64 << 30) - 1000,
            (4u64 << 30) + (32 << 20) - 10,
            (5u64 << 30) + 12345,
            (8u64 << 30) + 7,
            size - 4096,
        ];
        for at in places {
            let mut data = vec![0u8; 70_000.min((size - at) as usize)];
            rng.fill(&mut data);
            file.seek(SeekFrom::Start(at)).unwrap();
            file.write_all(&data).unwrap();
            chunks.push((at, data));
        }
    }
    let cases: &[(&str, &str, &[&str])] = &[
        ("big.vhdx", "vhdx", &[]),
        ("big.vhd", "vpc", &["-o", "subformat=dynamic,force_size=on"]),
        ("big.qcow2", "qcow2", &[]),
        ("big-z.qcow2", "qcow2", &["-c"]),
        ("big.vmdk", "vmdk", &[]),
        (
            "big-stream.vmdk",
            "vmdk",
            &["-o", "subformat=streamOptimized"],
        ),
    ];
    let mut disks = vec![("raw", open(&raw_path).unwrap())];
    for (name, format, opts) in cases {
        let path = dir.path().join(name);
        convert(&raw_path, &path, format, opts);
        disks.push((name, open(&path).unwrap_or_else(|e| panic!("{name}: {e}"))));
    }
    for (name, opened) in &disks {
        assert_eq!(opened.disk.size(), size, "{name}");
        for (at, data) in &chunks {
            let mut buf = vec![0u8; data.len() + 2000];
            let start = at - 1000;
            let len = buf.len().min((size - start) as usize);
            opened.disk.read_exact_at(start, &mut buf[..len]).unwrap();
            assert!(buf[..1000].iter().all(|&b| b == 0), "{name} before {at}");
            assert!(buf[1000..1000 + data.len()] == data[..], "{name} at {at}");
        }
        let mut zeros = vec![1u8; 1 << 20];
        opened.disk.read_exact_at(7 << 30, &mut zeros).unwrap();
        assert!(zeros.iter().all(|&b| b == 0), "{name} zeros");
    }
}

/// The error (from open, or from reading the whole disk), if any.
fn outcome(path: &Path) -> Result<Vec<u8>, String> {
    let opened = open(path).map_err(|e| e.to_string())?;
    read_all(&*opened.disk).map_err(|e| e.to_string())
}

fn assert_names(msg: &str, format: &str, what: &str) {
    assert!(
        msg.contains(format),
        "{what}: {msg:?} does not name {format}"
    );
    assert!(msg.contains("byte"), "{what}: {msg:?} names no offset");
}

fn format_word(f: Format) -> &'static str {
    match f {
        Format::Raw => "raw",
        Format::VhdFixed | Format::VhdDynamic => "VHD",
        Format::Vhdx => "VHDX",
        Format::VmdkSparse | Format::VmdkStreamOptimized | Format::VmdkDescriptor => "VMDK",
        Format::Qcow2 => "qcow2",
    }
}

/// Cut at the header, in the tables, in the data and just before the end:
/// an error naming the format, or (when the cut spared everything the disk
/// needs) exactly the raw bytes. Never a panic, never other bytes.
#[test]
fn truncated_containers_fail_cleanly() {
    let f = fixture();
    for case in CASES.iter().filter(|c| c.expect != Format::VhdFixed) {
        if matches!(
            case.name,
            "flat.vmdk" | "split-flat.vmdk" | "split-sparse.vmdk"
        ) {
            continue; // the descriptor holds no data; see missing_extents
        }
        let path = f.dir.path().join(case.name);
        convert(&f.raw, &path, case.format, case.opts);
        let full = fs::read(&path).unwrap();
        let len = full.len();
        let cuts = [
            40,
            100,
            600,
            1600,
            70_000,
            200_000,
            300_000,
            1 << 20,
            (1 << 20) + 70_000,
            (3 << 20) + 100,
            len / 2,
            len - 2000,
            len - 600,
            len - 1,
        ];
        let cut_path = f.dir.path().join(format!("cut-{}", case.name));
        let mut errors = 0;
        for cut in cuts.into_iter().filter(|&c| c < len) {
            fs::write(&cut_path, &full[..cut]).unwrap();
            match outcome(&cut_path) {
                Ok(bytes) => assert!(
                    bytes == f.bytes,
                    "{} cut at {cut}: opened and read, but the bytes differ",
                    case.name
                ),
                Err(msg) if msg.starts_with("not a disk image") => {
                    // Too short to keep the signature the format is found by.
                    assert!(cut < 1 << 20, "{} cut at {cut}: {msg}", case.name);
                }
                Err(msg) => {
                    errors += 1;
                    assert_names(
                        &msg,
                        format_word(case.expect),
                        &format!("{} cut at {cut}", case.name),
                    );
                }
            }
        }
        assert!(errors >= 3, "{}: only {errors} cuts were errors", case.name);
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

/// Each signature followed by noise: an error naming the format, never a
/// panic. (The noise is long enough for every header and table offset.)
#[test]
fn garbage_after_each_signature() {
    let dir = tempfile::tempdir().unwrap();
    let signatures: &[(&[u8], &str)] = &[
        (b"QFI\xfb", "qcow2"),
        (b"QFI\xfb\x00\x00\x00\x03", "qcow2"),
        (b"QFI\xfb\x00\x00\x00\x02", "qcow2"),
        (b"vhdxfile", "VHDX"),
        (b"KDMV", "VMDK"),
        (b"KDMV\x01\x00\x00\x00", "VMDK"),
        (b"conectix", "VHD"),
        (b"# Disk DescriptorFile\n", "VMDK"),
    ];
    for (n, (sig, word)) in signatures.iter().enumerate() {
        for seed in 1..=6u64 {
            let mut rng = Rng(seed * 7919 + n as u64);
            let len = [600usize, 5000, 70_000, 400_000, 2 << 20, 3 << 20][seed as usize - 1];
            let mut bytes = vec![0u8; len];
            rng.fill(&mut bytes);
            if *word == "VMDK" && sig.starts_with(b"#") {
                // Text with random extent-looking lines.
                let mut text = String::from("# Disk DescriptorFile\n");
                for _ in 0..20 {
                    text.push_str(&format!(
                        "RW {} {} \"x{}\" {}\n",
                        rng.next() % 100_000,
                        ["FLAT", "SPARSE", "ZERO", "VMFSSPARSE"][rng.below(4) as usize],
                        rng.below(3),
                        rng.below(5)
                    ));
                }
                bytes = text.into_bytes();
            } else {
                bytes[..sig.len()].copy_from_slice(sig);
            }
            let p = write(dir.path(), &format!("g{n}-{seed}"), &bytes);
            if let Err(msg) = outcome(&p) {
                assert_names(&msg, word, &format!("{word} garbage {seed}"));
            }
        }
    }
    // VHD footer at the end of noise (fixed-disk signature): a bad checksum,
    // a random disk type.
    let mut bytes = vec![0u8; 4096];
    Rng(3).fill(&mut bytes);
    bytes[4096 - 512..4096 - 504].copy_from_slice(b"conectix");
    let p = write(dir.path(), "footer-noise", &bytes);
    if let Err(msg) = outcome(&p) {
        assert_names(&msg, "VHD", "footer noise");
    }
}

#[test]
fn not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "notes.txt", b"just some text, not a disk\n");
    assert!(matches!(open(&p), Err(ContainerError::NotAnImage)));
    assert_eq!(detect(&p), None);
    let empty = write(dir.path(), "empty", b"");
    assert!(matches!(open(&empty), Err(ContainerError::NotAnImage)));
    assert!(matches!(
        open(&dir.path().join("missing")),
        Err(ContainerError::Io { .. })
    ));
    // An NTFS volume image (no partition table) is a raw image.
    let mut vol = vec![0u8; 4096];
    vol[3..11].copy_from_slice(b"NTFS    ");
    let p = write(dir.path(), "volume.bin", &vol);
    assert_eq!(open(&p).unwrap().format, Format::Raw);
}

fn put_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn put_be64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

fn put_le64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Recomputes a VHD footer (or dynamic header) checksum.
fn vhd_checksum(b: &mut [u8], field: usize) {
    b[field..field + 4].fill(0);
    let sum = b.iter().fold(0u32, |s, &x| s.wrapping_add(u32::from(x)));
    put_be32(b, field, !sum);
}

/// Applies `edit` to both VHD footers and fixes their checksums.
fn edit_vhd_footers(bytes: &mut [u8], edit: impl Fn(&mut [u8])) {
    let len = bytes.len();
    for at in [0, len - 512] {
        let footer = &mut bytes[at..at + 512];
        edit(footer);
        vhd_checksum(footer, 64);
    }
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

fn expect_error(path: &Path, word: &str, needle: &str) -> String {
    let msg = match open(path) {
        Err(e) => e.to_string(),
        Ok(o) => match read_all(&*o.disk) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{}: opened and read without error", path.display()),
        },
    };
    assert_names(&msg, word, &path.display().to_string());
    assert!(msg.contains(needle), "{msg:?} does not say {needle:?}");
    msg
}

/// Headers that claim absurd sizes: an error at once, no allocation of it.
#[test]
fn huge_tables_are_errors_not_allocations() {
    let f = fixture();
    let d = f.dir.path();

    let q = d.join("q.qcow2");
    convert(&f.raw, &q, "qcow2", &[]);
    let mut b = fs::read(&q).unwrap();
    put_be64(&mut b, 24, 1 << 60);
    expect_error(
        &write(d, "huge.qcow2", &b),
        "qcow2",
        "over the 32 MiB limit",
    );
    let mut b = fs::read(&q).unwrap();
    put_be32(&mut b, 36, u32::MAX);
    put_be64(&mut b, 24, 1 << 50);
    expect_error(
        &write(d, "huge-l1.qcow2", &b),
        "qcow2",
        "truncated: L1 table",
    );

    let v = d.join("v.vhd");
    convert(
        &f.raw,
        &v,
        "vpc",
        &["-o", "subformat=dynamic,force_size=on"],
    );
    let mut b = fs::read(&v).unwrap();
    edit_vhd_footers(&mut b, |footer| put_be64(footer, 48, 1 << 60));
    expect_error(&write(d, "huge.vhd", &b), "VHD", "entries");
    // The dynamic header claims 2^32-1 BAT entries for the big disk too.
    let dh = be64(&b, 16) as usize;
    put_be32(&mut b, dh + 28, u32::MAX);
    vhd_checksum(&mut b[dh..dh + 1024], 36);
    expect_error(
        &write(d, "huge-bat.vhd", &b),
        "VHD",
        "block allocation table",
    );

    let k = d.join("k.vmdk");
    convert(&f.raw, &k, "vmdk", &[]);
    let mut b = fs::read(&k).unwrap();
    put_le64(&mut b, 12, 1 << 52); // 2^36 grain tables: a 256 GiB directory
    expect_error(&write(d, "huge.vmdk", &b), "VMDK", "grain directory");
    let mut b = fs::read(&k).unwrap();
    put_le64(&mut b, 12, u64::MAX / 256);
    expect_error(&write(d, "overflow.vmdk", &b), "VMDK", "capacity");

    let x = d.join("x.vhdx");
    convert(&f.raw, &x, "vhdx", &[]);
    let mut b = fs::read(&x).unwrap();
    let (item, _) = vhdx_metadata_item(&b, VHDX_VIRTUAL_DISK_SIZE);
    put_le64(&mut b, item, 1 << 60);
    expect_error(&write(d, "huge.vhdx", &b), "VHDX", "64 TiB");
}

const VHDX_VIRTUAL_DISK_SIZE: [u8; 16] = [
    0x24, 0x42, 0xA5, 0x2F, 0x1B, 0xCD, 0x76, 0x48, 0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8,
];
const VHDX_BAT: [u8; 16] = [
    0x66, 0x77, 0xC2, 0x2D, 0x23, 0xF6, 0x00, 0x42, 0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08,
];
const VHDX_METADATA: [u8; 16] = [
    0x06, 0xA2, 0x7C, 0x8B, 0x90, 0x47, 0x9A, 0x4B, 0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E,
];

/// The file offset of a region named in the first VHDX region table.
fn vhdx_region(b: &[u8], id: [u8; 16]) -> usize {
    let t = 192 * 1024;
    let count = le32(b, t + 8) as usize;
    (0..count)
        .map(|i| t + 16 + i * 32)
        .find(|&e| b[e..e + 16] == id)
        .map(|e| le64(b, e + 16) as usize)
        .expect("region")
}

/// The file offset and length of a VHDX metadata item.
fn vhdx_metadata_item(b: &[u8], id: [u8; 16]) -> (usize, usize) {
    let m = vhdx_region(b, VHDX_METADATA);
    let count = u16::from_le_bytes([b[m + 10], b[m + 11]]) as usize;
    (0..count)
        .map(|i| m + 32 + i * 32)
        .find(|&e| b[e..e + 16] == id)
        .map(|e| (m + le32(b, e + 16) as usize, le32(b, e + 20) as usize))
        .expect("metadata item")
}

#[test]
fn tables_pointing_past_the_end() {
    let f = fixture();
    let d = f.dir.path();
    let v = d.join("v.vhd");
    convert(
        &f.raw,
        &v,
        "vpc",
        &["-o", "subformat=dynamic,force_size=on"],
    );
    let mut b = fs::read(&v).unwrap();
    let dh = be64(&b, 16) as usize;
    let bat = be64(&b, dh + 16) as usize;
    let first = (0..32)
        .map(|i| bat + i * 4)
        .find(|&e| b[e..e + 4] != [0xFF; 4])
        .expect("an allocated block");
    put_be32(&mut b, first, 0x7FFF_FFFF);
    let msg = expect_error(
        &write(d, "bat-past-eof.vhd", &b),
        "VHD (dynamic)",
        "truncated",
    );
    assert!(msg.contains(&format!("BAT entry at byte {first}")), "{msg}");

    let x = d.join("x.vhdx");
    convert(&f.raw, &x, "vhdx", &[]);
    let mut b = fs::read(&x).unwrap();
    let bat = vhdx_region(&b, VHDX_BAT);
    put_le64(&mut b, bat, (1 << 40) | 6);
    expect_error(
        &write(d, "bat-past-eof.vhdx", &b),
        "VHDX",
        "payload block 0",
    );

    let q = d.join("q.qcow2");
    convert(&f.raw, &q, "qcow2", &[]);
    let mut b = fs::read(&q).unwrap();
    let l1 = be64(&b, 40) as usize;
    put_be64(&mut b, l1, 1 << 40);
    expect_error(&write(d, "l1-past-eof.qcow2", &b), "qcow2", "L2 table");
    // A data cluster past the end shows up when it is read.
    let mut b = fs::read(&q).unwrap();
    let l2 = (be64(&b, l1) & 0x00ff_ffff_ffff_fe00) as usize;
    put_be64(&mut b, l2, (1 << 63) | (1 << 40));
    expect_error(
        &write(d, "l2-past-eof.qcow2", &b),
        "qcow2",
        "byte 1099511627776",
    );
}

#[test]
fn missing_extents_and_descriptors() {
    let f = fixture();
    let d = f.dir.path();
    let flat = d.join("flat.vmdk");
    convert(&f.raw, &flat, "vmdk", &["-o", "subformat=monolithicFlat"]);
    fs::remove_file(d.join("flat-flat.vmdk")).unwrap();
    let msg = expect_error(&flat, "VMDK (descriptor)", "cannot be opened");
    assert!(msg.contains("flat-flat.vmdk"), "{msg}");

    // Extents that leave the descriptor's folder are refused.
    let text = "# Disk DescriptorFile\nversion=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"../etc/passwd\" 0\n";
    expect_error(&write(d, "escape.vmdk", text.as_bytes()), "VMDK", "outside");
    // Judged alike on every system: a drive path is outside too, and a
    // relative name with backslashes finds its extent in a subfolder.
    let text = "# Disk DescriptorFile\nRW 8 FLAT \"D:\\VMs\\short-flat.vmdk\" 0\n";
    expect_error(&write(d, "drive.vmdk", text.as_bytes()), "VMDK", "outside");
    fs::create_dir(d.join("sub")).unwrap();
    fs::write(d.join("sub").join("part-flat.vmdk"), vec![7u8; 4096]).unwrap();
    let text = "# Disk DescriptorFile\nRW 8 FLAT \"sub\\part-flat.vmdk\" 0\n";
    let o = open(&write(d, "sub.vmdk", text.as_bytes())).unwrap();
    assert_eq!(read_all(&*o.disk).unwrap(), vec![7u8; 4096]);
    // A flat extent shorter than the descriptor says.
    fs::write(d.join("short-flat.vmdk"), vec![0u8; 4096]).unwrap();
    let text = "# Disk DescriptorFile\nRW 2048 FLAT \"short-flat.vmdk\" 0\n";
    expect_error(
        &write(d, "short.vmdk", text.as_bytes()),
        "VMDK",
        "truncated",
    );
    // ZERO extents read as zeros.
    let text = "# Disk DescriptorFile\nRW 8 ZERO\nRW 8 FLAT \"short-flat.vmdk\" 0\n";
    let o = open(&write(d, "zero.vmdk", text.as_bytes())).unwrap();
    assert_eq!(o.disk.size(), 8192);
    assert_eq!(read_all(&*o.disk).unwrap(), vec![0u8; 8192]);
}

/// Children read through their parents (tests/chains.rs has the chains
/// themselves); here the same children once their parent is gone, children
/// that name no parent, and encryption.
#[test]
fn missing_parents_and_encryption_are_errors() {
    let f = fixture();
    let d = f.dir.path();

    // qcow2 with a backing file: read through it, then an error naming it
    // once it is gone.
    let base = d.join("base.qcow2");
    convert(&f.raw, &base, "qcow2", &[]);
    let child = d.join("child.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "base.qcow2",
        "-F",
        "qcow2",
        child.to_str().unwrap(),
    ]);
    compare("child.qcow2", &open(&child).unwrap(), &f.bytes);
    fs::remove_file(&base).unwrap();
    let msg = expect_error(&child, "qcow2", "its parent \"base.qcow2\"");
    assert!(
        msg.contains("child.qcow2") && msg.contains("not found"),
        "{msg}"
    );

    // A VMDK child (delta) disk, the same.
    let vbase = d.join("base.vmdk");
    convert(&f.raw, &vbase, "vmdk", &[]);
    let vchild = d.join("child.vmdk");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vmdk",
        "-b",
        "base.vmdk",
        "-F",
        "vmdk",
        vchild.to_str().unwrap(),
    ]);
    compare("child.vmdk", &open(&vchild).unwrap(), &f.bytes);
    fs::remove_file(&vbase).unwrap();
    let msg = expect_error(&vchild, "VMDK", "its parent \"base.vmdk\"");
    assert!(
        msg.contains("child.vmdk") && msg.contains("not found"),
        "{msg}"
    );

    // A differencing VHD that names no parent: qemu-img cannot make one, so
    // retype a dynamic one.
    let v = d.join("v.vhd");
    convert(
        &f.raw,
        &v,
        "vpc",
        &["-o", "subformat=dynamic,force_size=on"],
    );
    let mut b = fs::read(&v).unwrap();
    edit_vhd_footers(&mut b, |footer| put_be32(footer, 60, 4));
    expect_error(
        &write(d, "diff.vhd", &b),
        "VHD",
        "differencing disk without a parent locator",
    );

    // A VHDX whose file parameters say HasParent, without a parent locator.
    let x = d.join("x.vhdx");
    convert(&f.raw, &x, "vhdx", &[]);
    let mut b = fs::read(&x).unwrap();
    let params = [
        0x37, 0x67, 0xA1, 0xCA, 0x36, 0xFA, 0x43, 0x4D, 0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7,
        0x6B,
    ];
    let (item, _) = vhdx_metadata_item(&b, params);
    b[item + 4] |= 2;
    expect_error(
        &write(d, "diff.vhdx", &b),
        "VHDX",
        "differencing disk (HasParent is set) without a parent locator",
    );

    // LUKS-encrypted qcow2.
    let luks = d.join("luks.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "--object",
        "secret,id=s0,data=123456",
        "-f",
        "qcow2",
        "-o",
        "encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10",
        luks.to_str().unwrap(),
        "16M",
    ]);
    expect_error(&luks, "qcow2", "LUKS encryption");
}

/// Sets the log GUID in the active VHDX header (fresh CRC); returns the
/// header's offset.
fn vhdx_set_log_guid(b: &mut [u8], guid: [u8; 16]) -> usize {
    let (a, c) = (64 * 1024, 128 * 1024);
    let active = if le64(b, a + 8) >= le64(b, c + 8) {
        a
    } else {
        c
    };
    b[active + 48..active + 64].copy_from_slice(&guid);
    b[active + 4..active + 8].fill(0);
    let crc = crc32c(&b[active..active + 4096]);
    b[active + 4..active + 8].copy_from_slice(&crc.to_le_bytes());
    active
}

/// One log entry (at the start of the log): a data descriptor writing
/// `sector` at `write_at` and a zero descriptor clearing 4 KiB at `zero_at`.
fn vhdx_log_entry(
    guid: [u8; 16],
    seq: u64,
    file_len: u64,
    sector: &[u8],
    write_at: u64,
    zero_at: u64,
) -> Vec<u8> {
    let mut e = vec![0u8; 8192];
    e[0..4].copy_from_slice(b"loge");
    e[8..12].copy_from_slice(&8192u32.to_le_bytes());
    e[16..24].copy_from_slice(&seq.to_le_bytes());
    e[24..28].copy_from_slice(&2u32.to_le_bytes());
    e[32..48].copy_from_slice(&guid);
    put_le64(&mut e, 48, file_len);
    put_le64(&mut e, 56, file_len);
    let d = 64;
    e[d..d + 4].copy_from_slice(b"desc");
    e[d + 4..d + 8].copy_from_slice(&sector[4092..4096]);
    e[d + 8..d + 16].copy_from_slice(&sector[..8]);
    put_le64(&mut e, d + 16, write_at);
    put_le64(&mut e, d + 24, seq);
    let z = 96;
    e[z..z + 4].copy_from_slice(b"zero");
    put_le64(&mut e, z + 8, 4096);
    put_le64(&mut e, z + 16, zero_at);
    put_le64(&mut e, z + 24, seq);
    e[4096..4100].copy_from_slice(b"data");
    e[4100..4104].copy_from_slice(&((seq >> 32) as u32).to_le_bytes());
    e[4104..8188].copy_from_slice(&sector[8..4092]);
    e[8188..8192].copy_from_slice(&(seq as u32).to_le_bytes());
    let crc = crc32c(&e);
    e[4..8].copy_from_slice(&crc.to_le_bytes());
    e
}

/// A VHDX not closed cleanly (the VM was running): its header names a log.
/// A valid log entry is replayed in memory; a log with no valid entry
/// changes nothing, and says so.
#[test]
fn dirty_vhdx_logs_are_replayed() {
    let f = fixture();
    let d = f.dir.path();
    let x = d.join("x.vhdx");
    convert(&f.raw, &x, "vhdx", &[]);
    let clean = fs::read(&x).unwrap();
    let guid = [0xAB; 16];

    // A log GUID, but an empty log.
    let mut b = clean.clone();
    let header = vhdx_set_log_guid(&mut b, guid);
    let o = open(&write(d, "dirty-empty.vhdx", &b)).unwrap();
    assert!(
        o.notes.iter().any(|n| n.contains("no valid sequence")),
        "{:?}",
        o.notes
    );
    assert!(read_all(&*o.disk).unwrap() == f.bytes);

    // One entry: virtual bytes 8192..12288 rewritten, 65536..69632 zeroed
    // (block 0's payload is where the BAT says).
    let bat = vhdx_region(&b, VHDX_BAT);
    let payload = le64(&b, bat) & !0xF_FFFF;
    assert_eq!(le64(&b, bat) & 7, 6, "block 0 present");
    let log_len = u64::from(le32(&b, header + 68));
    let log_at = le64(&b, header + 72) as usize;
    assert!(log_len >= 8192);
    let mut sector = vec![0u8; 4096];
    Rng(77).fill(&mut sector);
    let entry = vhdx_log_entry(
        guid,
        5,
        b.len() as u64,
        &sector,
        payload + 8192,
        payload + 65536,
    );
    b[log_at..log_at + 8192].copy_from_slice(&entry);
    let o = open(&write(d, "dirty.vhdx", &b)).unwrap();
    assert!(
        o.notes.iter().any(|n| n.contains("replayed 1 log entries")),
        "{:?}",
        o.notes
    );
    let mut expect = f.bytes.clone();
    expect[8192..12288].copy_from_slice(&sector);
    expect[65536..69632].fill(0);
    assert!(read_all(&*o.disk).unwrap() == expect, "replayed bytes");
    // QEMU as the oracle: it replays the log when it opens the image for
    // writing (`check -r all`), then reads it back.
    let q = write(d, "dirty-qemu.vhdx", &b);
    qemu_img(&["check", "-q", "-r", "all", q.to_str().unwrap()]);
    let back = d.join("dirty-qemu.raw");
    qemu_img(&[
        "convert",
        "-q",
        "-f",
        "vhdx",
        "-O",
        "raw",
        q.to_str().unwrap(),
        back.to_str().unwrap(),
    ]);
    assert!(fs::read(&back).unwrap() == expect, "QEMU's replay agrees");

    // The same entry with a damaged CRC: not replayed.
    b[log_at + 5000] ^= 1;
    let o = open(&write(d, "dirty-badcrc.vhdx", &b)).unwrap();
    assert!(
        o.notes.iter().any(|n| n.contains("no valid sequence")),
        "{:?}",
        o.notes
    );
    assert!(read_all(&*o.disk).unwrap() == f.bytes);

    // A log that claims to need a longer file than there is.
    b[log_at + 5000] ^= 1;
    let entry = vhdx_log_entry(guid, 5, 1 << 40, &sector, payload + 8192, payload + 65536);
    b[log_at..log_at + 8192].copy_from_slice(&entry);
    expect_error(
        &write(d, "dirty-short.vhdx", &b),
        "VHDX",
        "the log (sequence 5) needs",
    );
}

/// Peak resident memory (VmHWM) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

const MEMORY_DIR: &str = "TLSREG_CONTAINER_MEMORY_DIR";

/// A 4 GiB disk holding 256 MiB of data, as sparse raw, dynamic VHDX and
/// compressed qcow2: each opened and read (300 MiB at scattered places) in a
/// child process of its own, whose peak RSS must stay well under 100 MiB.
#[test]
#[cfg(target_os = "linux")]
fn images_open_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("big.raw");
    {
        let mut file = fs::File::create(&raw).unwrap();
        file.set_len(4 << 30).unwrap();
        let mut mbr = [0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        file.write_all(&mbr).unwrap();
        let mut rng = Rng(0x4_6161);
        let mut chunk = vec![0u8; 1 << 20];
        for i in 0..256u64 {
            rng.fill(&mut chunk[..4096]);
            let (head, tail) = chunk.split_at_mut(4096);
            for piece in tail.chunks_mut(4096) {
                piece.copy_from_slice(head); // compressible, not trivially
            }
            file.seek(SeekFrom::Start(i * (16 << 20) + rng.below(8 << 20)))
                .unwrap();
            file.write_all(&chunk).unwrap();
        }
    }
    convert(
        &raw,
        &dir.path().join("big.vhdx"),
        "vhdx",
        &["-o", "subformat=dynamic"],
    );
    convert(&raw, &dir.path().join("big.qcow2"), "qcow2", &["-c"]);
    let exe = std::env::current_exe().unwrap();
    for name in ["big.raw", "big.vhdx", "big.qcow2"] {
        let out = std::process::Command::new(&exe)
            .args([
                "--exact",
                "memory_child",
                "--include-ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(MEMORY_DIR, dir.path().join(name))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {text}");
        let line = text
            .lines()
            .find_map(|l| l.split_once("peak-rss ").map(|(_, figure)| figure))
            .unwrap_or_else(|| panic!("{name}: no figure in {text}"));
        eprintln!("{name}: peak RSS {line}");
        let kib: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
        assert!(kib < 100 * 1024, "{name}: {line}");
    }
}

/// Run by `images_open_in_little_memory` in a process of its own.
#[test]
#[ignore = "run by images_open_in_little_memory"]
fn memory_child() {
    let Some(path) = std::env::var_os(MEMORY_DIR) else {
        return;
    };
    let before = peak_rss_kib();
    let opened = open(Path::new(&path)).unwrap();
    let disk = &*opened.disk;
    assert_eq!(disk.size(), 4 << 30);
    let mut rng = Rng(99);
    let mut buf = vec![0u8; 1 << 20];
    let mut nonzero = 0usize;
    for _ in 0..300 {
        let at = rng.below((4 << 30) - (1 << 20));
        disk.read_exact_at(at, &mut buf).unwrap();
        nonzero += buf.iter().filter(|&&b| b != 0).count();
    }
    assert!(nonzero > 1 << 20, "the reads met the data");
    println!(
        "peak-rss {} KiB for {} (test process before opening: {before} KiB; read 300 MiB)",
        peak_rss_kib(),
        opened.format
    );
}
