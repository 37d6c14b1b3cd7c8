//! Partition tables, NTFS and the search for Windows installs, on the disk
//! images in `samples/images/` (made by `samples/images/make.sh`) and on
//! disks built here in memory.
//!
//! The SOFTWARE hive that the images carry is made by the hive writer; this
//! test checks the committed file is what the writer makes now. To rewrite it:
//!
//! ```sh
//! TLSREG_WRITE_SAMPLES=1 cargo test --test volumes
//! ```

use std::path::{Path, PathBuf};

use tlsreg::hive::{BuildOptions, build};
use tlsreg::registry::{Key, Value};

/// The root key name of SOFTWARE hives as Windows setup creates them.
const SOFTWARE_ROOT: &str = "CMI-CreateHive{199DAFC2-6F16-4946-BF90-5A3FC3A60902}";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn images() -> PathBuf {
    samples().join("images")
}

/// A SOFTWARE hive holding what identifies a Windows Server 2019 build.
fn software() -> Key {
    let mut root = Key::new(SOFTWARE_ROOT);
    let cv = root.create(&["Microsoft", "Windows NT", "CurrentVersion"], None);
    cv.set_value(
        "ProductName",
        Value::string("Windows Server 2019 Standard"),
        None,
    );
    cv.set_value("CurrentBuildNumber", Value::string("17763"), None);
    cv.set_value("CurrentBuild", Value::string("17763"), None);
    cv.set_value("UBR", Value::dword(6893), None);
    cv.set_value("InstallationType", Value::string("Server"), None);
    cv.set_value("CurrentVersion", Value::string("6.3"), None);
    cv.set_value("EditionID", Value::string("ServerStandard"), None);
    root
}

#[test]
fn committed_software_hive_is_what_the_writer_makes() {
    let bytes = build(&software(), &BuildOptions::default());
    let path = images().join("payload/SOFTWARE.hiv");
    if std::env::var_os("TLSREG_WRITE_SAMPLES").is_some_and(|v| v == "1") {
        std::fs::write(&path, &bytes).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run TLSREG_WRITE_SAMPLES=1 cargo test --test volumes",
            path.display()
        )
    });
    assert!(
        committed == bytes,
        "payload/SOFTWARE.hiv is not what the writer makes now; if intended, rerun \
         with TLSREG_WRITE_SAMPLES=1, then samples/images/make.sh, and commit"
    );
    let hive = nt_hive::Hive::new(committed.as_slice()).unwrap();
    let root = hive.root_key_node().unwrap();
    let cv = root
        .subpath("Microsoft\\Windows NT\\CurrentVersion")
        .unwrap()
        .unwrap();
    let s = |name: &str| cv.value(name).unwrap().unwrap().string_data().unwrap();
    assert_eq!(s("ProductName"), "Windows Server 2019 Standard");
    assert_eq!(s("CurrentBuildNumber"), "17763");
    assert_eq!(
        cv.value("UBR").unwrap().unwrap().dword_data().unwrap(),
        6893
    );
    assert!(cv.value("DisplayVersion").is_none());
}

// ---------------------------------------------------------------------------
// The images.

use std::sync::Arc;

use tlsreg::image::volume::{
    self, Found, Install, Limits, Reason, Volume, VolumeError, VolumeKind, find_windows,
    find_windows_with, volumes,
};
use tlsreg::image::{Disk, FileDisk};

fn open(name: &str) -> Arc<dyn Disk> {
    let path = images().join(name);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run samples/images/make.sh", path.display()));
    Arc::new(FileDisk::new(file).unwrap())
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(images().join(name)).unwrap()
}

fn hive(name: &str) -> Vec<u8> {
    std::fs::read(samples().join("hives").join(name)).unwrap()
}

fn software_hive() -> Vec<u8> {
    std::fs::read(images().join("payload/SOFTWARE.hiv")).unwrap()
}

/// The article policy's verdict on a SYSTEM hive found on a disk.
fn compliant(system: &[u8]) -> bool {
    let loaded = tlsreg::input::from_bytes("SYSTEM", system, &Default::default()).unwrap();
    let policy = tlsreg::schannel::Policy::article();
    tlsreg::audit(loaded, &policy).evaluation.compliant()
}

fn installs(found: &[Found]) -> Vec<&Install> {
    found.iter().filter_map(Found::install).collect()
}

fn reason(found: &Found) -> &Reason {
    match found {
        Found::Skipped { reason, .. } => reason,
        Found::Windows(i) => panic!("an install on {}", i.volume.description),
    }
}

/// (number, description, start, len, kind) of each volume.
fn summary(vols: &[Volume]) -> Vec<(usize, String, u64, u64, VolumeKind)> {
    vols.iter()
        .map(|v| {
            (
                v.number,
                v.description.clone(),
                v.start,
                v.len,
                v.kind.clone(),
            )
        })
        .collect()
}

const MIB: u64 = 1 << 20;

fn other(s: &str) -> VolumeKind {
    VolumeKind::Other(s.into())
}

/// The logs of the first install of each sample disk: empty files.
fn empty_logs() -> Vec<(String, Vec<u8>)> {
    vec![
        ("SYSTEM.LOG1".into(), vec![]),
        ("SYSTEM.LOG2".into(), vec![]),
    ]
}

#[test]
fn gpt_disk_lists_its_four_partitions() {
    let vols = volumes(open("gpt.raw")).unwrap();
    assert_eq!(
        summary(&vols),
        [
            (
                1,
                "GPT partition 1 (EFI system)".into(),
                MIB,
                MIB,
                other("FAT12")
            ),
            (
                2,
                "GPT partition 2 (Microsoft reserved)".into(),
                2 * MIB,
                MIB,
                other("empty: no file system")
            ),
            (
                3,
                "GPT partition 3 (Microsoft basic data)".into(),
                3 * MIB,
                6 * MIB,
                VolumeKind::Ntfs
            ),
            (
                4,
                "GPT partition 4 (Windows recovery)".into(),
                9 * MIB,
                2 * MIB,
                VolumeKind::Ntfs
            ),
        ]
    );
    assert!(vols.iter().all(|v| v.notes.is_empty()), "{vols:?}");
}

#[test]
fn gpt_disk_has_one_install_on_the_basic_data_partition() {
    let found = find_windows(open("gpt.raw")).unwrap();
    assert_eq!(found.len(), 4);
    let [install] = installs(&found)[..] else {
        panic!("one install: {found:?}")
    };
    assert_eq!(install.volume.number, 3);
    assert_eq!(install.system_path, "Windows\\System32\\config\\SYSTEM");
    assert!(install.system == hive("compliant.hiv"), "SYSTEM differs");
    assert!(compliant(&install.system));
    assert_eq!(install.system_logs, empty_logs());
    assert_eq!(install.software.as_deref(), Some(&software_hive()[..]));
    assert!(install.notes.is_empty(), "{:?}", install.notes);
    assert!(matches!(reason(&found[0]), Reason::NotNtfs(k) if *k == other("FAT12")));
    assert!(matches!(reason(&found[1]), Reason::NotNtfs(_)));
    assert!(matches!(reason(&found[3]), Reason::NoWindows));
    assert_eq!(
        reason(&found[3]).to_string(),
        "NTFS, but no Windows\\System32\\config\\SYSTEM"
    );
}

#[test]
fn mbr_disk_with_one_ntfs_partition() {
    let vols = volumes(open("mbr.raw")).unwrap();
    assert_eq!(
        summary(&vols),
        [(
            1,
            "MBR partition 1 (type 0x07 NTFS/exFAT)".into(),
            MIB,
            7 * MIB,
            VolumeKind::Ntfs
        )]
    );
    let found = find_windows(open("mbr.raw")).unwrap();
    let [install] = installs(&found)[..] else {
        panic!("one install: {found:?}")
    };
    assert!(install.system == hive("not-set.hiv"));
    assert!(!compliant(&install.system));
    assert_eq!(install.system_logs, empty_logs());
    assert_eq!(install.software.as_deref(), Some(&software_hive()[..]));
}

#[test]
fn two_installs_on_a_primary_and_a_logical_partition() {
    let vols = volumes(open("two-windows.raw")).unwrap();
    assert_eq!(
        summary(&vols),
        [
            (
                1,
                "MBR partition 1 (type 0x07 NTFS/exFAT)".into(),
                MIB,
                4 * MIB,
                VolumeKind::Ntfs
            ),
            (
                5,
                "MBR partition 5 (logical, type 0x07 NTFS/exFAT)".into(),
                6 * MIB,
                3 * MIB,
                VolumeKind::Ntfs
            ),
            (
                6,
                "MBR partition 6 (logical, type 0x07 NTFS/exFAT)".into(),
                10 * MIB,
                2 * MIB,
                VolumeKind::Ntfs
            ),
        ]
    );
    let found = find_windows(open("two-windows.raw")).unwrap();
    let [a, b] = installs(&found)[..] else {
        panic!("two installs: {found:?}")
    };
    assert_eq!(a.volume.number, 1);
    assert!(a.system == hive("compliant.hiv"));
    assert!(compliant(&a.system));
    assert_eq!(a.system_logs, empty_logs());
    assert!(a.software.is_some());
    // The second install spells every name in other cases: found through
    // $UpCase, reported as named on disk.
    assert_eq!(b.volume.number, 5);
    assert_eq!(b.system_path, "WINDOWS\\system32\\Config\\system");
    assert!(b.system == hive("not-set.hiv"));
    assert!(!compliant(&b.system));
    assert_eq!(
        b.system_logs,
        [
            ("system.LOG1".into(), b"log1 of the second install".to_vec()),
            ("system.LOG2".into(), b"log2".to_vec()),
            ("SYSTEM.LOG".into(), b"an old-style log".to_vec()),
        ]
    );
    assert_eq!(b.software, None);
    assert_eq!(b.notes, ["no SOFTWARE hive in WINDOWS\\system32\\Config"]);
    assert!(matches!(reason(&found[2]), Reason::NoWindows));
}

#[test]
fn bare_ntfs_volume_is_the_whole_disk() {
    let vols = volumes(open("bare-ntfs.raw")).unwrap();
    assert_eq!(
        summary(&vols),
        [(
            1,
            "the whole disk (no partition table)".into(),
            0,
            4 * MIB,
            VolumeKind::Ntfs
        )]
    );
    let found = find_windows(open("bare-ntfs.raw")).unwrap();
    let [install] = installs(&found)[..] else {
        panic!("one install: {found:?}")
    };
    assert!(install.system == hive("compliant.hiv"));
    assert_eq!(install.software.as_deref(), Some(&software_hive()[..]));
}

#[test]
fn no_windows_gives_no_install_and_says_why() {
    let found = find_windows(open("no-windows.raw")).unwrap();
    assert_eq!(found.len(), 1);
    assert!(installs(&found).is_empty());
    assert!(matches!(reason(&found[0]), Reason::NoWindows));
    // The config folder is there, SOFTWARE too, but no SYSTEM.
    let vol = &found[0].volume().clone();
    let (path, data) = volume::read_path(
        open("no-windows.raw"),
        vol,
        &["windows", "system32", "config", "software"],
        Limits::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(path, "Windows\\System32\\config\\SOFTWARE");
    assert!(data == software_hive());
}

#[test]
fn bitlocker_is_reported_as_encrypted_not_damaged() {
    let vols = volumes(open("bitlocker.raw")).unwrap();
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].kind, VolumeKind::BitLocker);
    let found = find_windows(open("bitlocker.raw")).unwrap();
    let r = reason(&found[0]);
    assert!(matches!(r, Reason::BitLocker), "{r}");
    assert_eq!(
        r.to_string(),
        "encrypted with BitLocker, cannot be audited without the key"
    );
}

#[test]
fn truncated_image_names_the_cut_partitions() {
    let vols = volumes(open("truncated.raw")).unwrap();
    assert_eq!(vols.len(), 4, "the table is whole: {vols:?}");
    let found = find_windows(open("truncated.raw")).unwrap();
    assert!(installs(&found).is_empty());
    for f in &found[2..] {
        let Reason::Unreadable(e @ VolumeError::Truncated { .. }) = reason(f) else {
            panic!("{}: {}", f.volume().description, reason(f))
        };
        let msg = e.to_string();
        assert!(msg.starts_with("partition table: GPT partition"), "{msg}");
        assert!(msg.contains("the image is truncated"), "{msg}");
    }
    assert_eq!(
        reason(&found[2]).to_string(),
        "cannot be searched: partition table: GPT partition 3 (Microsoft basic data) spans \
         bytes 3145728..9437184, but the disk has only 6291456 bytes: the image is truncated"
    );
}

#[test]
fn truncated_bare_volume_is_an_ntfs_error() {
    for cut in [2 * MIB, 512 * 1024, 4096, 700] {
        let mut disk = bytes("bare-ntfs.raw");
        disk.truncate(cut as usize);
        let found = find_windows(Arc::new(disk)).unwrap();
        let Reason::Unreadable(e) = reason(&found[0]) else {
            panic!("{cut}: {}", reason(&found[0]))
        };
        let msg = e.to_string();
        assert!(msg.starts_with("NTFS volume at byte 0: "), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    }
}

/// The bytes mixed.py writes: see samples/images/mixed.py.
fn mixed() -> Vec<u8> {
    const UNIT: usize = 65536;
    fn text(n: usize, first: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = first;
        while out.len() < n {
            out.extend_from_slice(format!("line {i} of some compressible text\n").as_bytes());
            i += 1;
        }
        out.truncate(n);
        out
    }
    fn noise(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }
    [
        text(UNIT, 0),
        noise(UNIT, 1),
        vec![0; UNIT],
        noise(UNIT / 2, 2),
        text(UNIT / 2, 5000),
        text(10000, 9000),
    ]
    .concat()
}

#[test]
fn ntfs_compressed_files_are_decompressed() {
    let found = find_windows(open("compressed.raw")).unwrap();
    let [install] = installs(&found)[..] else {
        panic!("one install: {found:?}")
    };
    assert!(install.system == hive("compliant.hiv"), "SYSTEM differs");
    assert_eq!(install.software.as_deref(), Some(&software_hive()[..]));
    assert_eq!(install.system_logs, empty_logs());
    assert!(
        install.notes[0].contains("SYSTEM is NTFS-compressed; decompressed"),
        "{:?}",
        install.notes
    );
    // Units compressed, stored raw, sparse, and a short last one.
    let (path, data) = volume::read_path(
        open("compressed.raw"),
        &install.volume,
        &["Windows", "System32", "config", "MIXED"],
        Limits::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(path, "Windows\\System32\\config\\MIXED");
    let want = mixed();
    assert_eq!(data.len(), want.len());
    let first_diff = data.iter().zip(&want).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "MIXED differs");
}

#[test]
fn files_over_the_limit_are_refused() {
    let limits = Limits {
        max_file: 4096,
        ..Limits::default()
    };
    let found = find_windows_with(open("bare-ntfs.raw"), limits).unwrap();
    let msg = reason(&found[0]).to_string();
    assert!(
        msg.contains("SYSTEM: 8192 bytes, more than the 4096 bytes read at most"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------
// Disks built here.

/// Writes a GPT of one Microsoft basic data partition spanning `part`
/// (in sectors) onto `disk`, with a protective MBR and both headers.
fn write_gpt(disk: &mut [u8], sector: usize, part: std::ops::Range<u64>) {
    let crc = |b: &[u8]| {
        let mut c = !0u32;
        for &x in b {
            c ^= x as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    };
    let sectors = (disk.len() / sector) as u64;
    // Protective MBR.
    let e = &mut disk[0x1BE..0x1CE];
    e[4] = 0xEE;
    e[8..12].copy_from_slice(&1u32.to_le_bytes());
    e[12..16].copy_from_slice(&((sectors - 1).min(u32::MAX as u64) as u32).to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xAA;
    let mut entries = vec![0u8; 128 * 128];
    entries[..16].copy_from_slice(&[
        0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44, 0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99,
        0xC7,
    ]);
    entries[32..40].copy_from_slice(&part.start.to_le_bytes());
    entries[40..48].copy_from_slice(&(part.end - 1).to_le_bytes());
    let entries_crc = crc(&entries);
    let entry_sectors = (entries.len() / sector) as u64;
    let last = sectors - 1;
    for (lba, alt, elba) in [(1, last, 2), (last, 1, last - entry_sectors)] {
        let mut h = vec![0u8; 92];
        h[..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&0x10000u32.to_le_bytes());
        h[12..16].copy_from_slice(&92u32.to_le_bytes());
        h[24..32].copy_from_slice(&lba.to_le_bytes());
        h[32..40].copy_from_slice(&alt.to_le_bytes());
        h[72..80].copy_from_slice(&elba.to_le_bytes());
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        h[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let c = crc(&h);
        h[16..20].copy_from_slice(&c.to_le_bytes());
        let at = lba as usize * sector;
        disk[at..at + 92].copy_from_slice(&h);
        let at = elba as usize * sector;
        disk[at..at + entries.len()].copy_from_slice(&entries);
    }
}

#[test]
fn gpt_with_4096_byte_sectors() {
    let volume = bytes("bare-ntfs.raw");
    let sector = 4096;
    let mut disk = vec![0u8; 6 << 20];
    write_gpt(&mut disk, sector, 256..256 + (volume.len() / sector) as u64);
    disk[1 << 20..(1 << 20) + volume.len()].copy_from_slice(&volume);
    let disk: Arc<dyn Disk> = Arc::new(disk);
    let vols = volumes(disk.clone()).unwrap();
    assert_eq!(
        summary(&vols),
        [(
            1,
            "GPT partition 1 (Microsoft basic data)".into(),
            MIB,
            4 * MIB,
            VolumeKind::Ntfs
        )]
    );
    let found = find_windows(disk).unwrap();
    let [install] = installs(&found)[..] else {
        panic!("one install: {found:?}")
    };
    assert!(install.system == hive("compliant.hiv"));
}

#[test]
fn gpt_with_2_pow_31_entries_is_a_gpt_error() {
    let mut disk = bytes("gpt.raw");
    let h = 512;
    disk[h + 80..h + 84].copy_from_slice(&(1u32 << 31).to_le_bytes());
    // A valid header CRC, so that only the count is wrong.
    let mut copy = disk[h..h + 92].to_vec();
    copy[16..20].fill(0);
    let crc = {
        let mut c = !0u32;
        for &x in &copy {
            c ^= x as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    };
    disk[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
    // With the backup there, it is used and the damage noted.
    let vols = volumes(Arc::new(disk.clone())).unwrap();
    assert_eq!(vols.len(), 4);
    assert!(
        vols[0]
            .notes
            .iter()
            .any(|n| n.contains("2147483648 partition entries")),
        "{:?}",
        vols[0].notes
    );
    // Without it, an error naming the GPT.
    let last = disk.len() - 512;
    disk[last..].fill(0);
    let err = find_windows(Arc::new(disk)).unwrap_err();
    assert!(matches!(err, VolumeError::Gpt { offset: 512, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("GPT at byte 512: "), "{msg}");
    assert!(msg.contains("2147483648 partition entries"), "{msg}");
}

#[test]
fn random_bytes_are_no_file_system() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let disk: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let found = find_windows(Arc::new(disk)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].volume().description,
        "the whole disk (no partition table)"
    );
    assert_eq!(
        reason(&found[0]).to_string(),
        "not NTFS (unknown file system)"
    );
    assert!(
        find_windows(Arc::new(Vec::new())).unwrap()[0]
            .install()
            .is_none()
    );
}

#[test]
fn absurd_boot_sectors_are_ntfs_errors() {
    let base = bytes("bare-ntfs.raw");
    let cases: [(&str, usize, &[u8]); 6] = [
        ("3 bytes per sector", 11, &[3, 0]),
        ("sectors per cluster 0x00", 13, &[0]),
        ("sectors per cluster 0x03", 13, &[3]),
        ("file record size", 0x40, &[127]),
        ("index record size", 0x44, &[0x80]),
        ("claims 18446744073709551615 sectors", 0x28, &[0xFF; 8]),
    ];
    for (what, at, value) in cases {
        let mut disk = base.clone();
        disk[at..at + value.len()].copy_from_slice(value);
        let found = find_windows(Arc::new(disk)).unwrap();
        let Reason::Unreadable(e) = reason(&found[0]) else {
            panic!("{what}: {}", reason(&found[0]))
        };
        let msg = e.to_string();
        assert!(msg.starts_with("NTFS volume at byte 0: "), "{msg}");
        assert!(msg.contains(what), "{what}: {msg}");
    }
}

// ---------------------------------------------------------------------------
// Mutations: no input may panic.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Flips bytes in the sectors of `image` that hold anything (the tables,
/// boot sectors, MFT, indexes and files), a few at a time, and searches
/// every result; returns how many mutants were searched.
fn mutate(image: &str, cases: usize, seed: u64) -> usize {
    let mut disk = Arc::new(bytes(image));
    let live: Vec<usize> = disk
        .chunks(512)
        .enumerate()
        .filter(|(_, s)| s.iter().any(|&b| b != 0))
        .map(|(i, _)| i)
        .collect();
    let limits = Limits {
        max_file: 1 << 20,
        read_budget: 16 << 20,
        ..Limits::default()
    };
    let mut rng = Rng(seed);
    for case in 0..cases {
        let bytes = Arc::get_mut(&mut disk).expect("no other reference");
        let mut undo = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let at = live[rng.below(live.len())] * 512 + rng.below(512);
            let value = match rng.below(4) {
                0 => 0,
                1 => 0xFF,
                2 => bytes[at] ^ (1 << rng.below(8)),
                _ => rng.next() as u8,
            };
            undo.push((at, bytes[at]));
            bytes[at] = value;
        }
        let as_disk: Arc<dyn Disk> = disk.clone();
        let _ = volumes(as_disk.clone());
        let _ = find_windows_with(as_disk, limits);
        let panics = PANICS.lock().unwrap();
        assert!(
            panics.is_empty(),
            "{image}: case {case} (seed {seed}) panicked: {panics:?}"
        );
        drop(panics);
        let bytes = Arc::get_mut(&mut disk).expect("no other reference");
        for (at, old) in undo.into_iter().rev() {
            bytes[at] = old;
        }
    }
    cases
}

/// Panics seen, caught or not: the library catches a panic of the `ntfs`
/// crate and reports it as an error, which must not hide it here.
static PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[test]
fn mutated_images_never_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut p) = PANICS.lock() {
            p.push(info.to_string());
        }
        default(info);
    }));
    let mut total = 0;
    total += mutate("bare-ntfs.raw", 1200, 1);
    total += mutate("compressed.raw", 800, 2);
    total += mutate("two-windows.raw", 600, 3);
    total += mutate("gpt.raw", 600, 4);
    assert_eq!(total, 3200);
}

#[test]
fn protective_mbr_without_a_gpt_is_a_gpt_error() {
    let mut disk = bytes("gpt.raw");
    disk[512..1024].fill(0);
    let last = disk.len() - 512;
    disk[last..].fill(0);
    let err = volumes(Arc::new(disk)).unwrap_err().to_string();
    assert_eq!(
        err,
        "GPT at byte 512: a protective MBR, but no GPT header at LBA 1 or at the end of the disk"
    );
}
