//! Hostile inputs around hives and images: huge sparse logs, a huge
//! SOFTWARE file, a VMDK extent that is a FIFO, a 100 GiB sparse file.
//! Each runs the binary as a child and asserts its exit code, that it did
//! not panic, and (on Linux) its peak memory from the kernel's accounting.

mod common;

use std::path::{Path, PathBuf};

struct Child {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size in bytes, from the kernel (Linux).
    #[cfg_attr(not(unix), allow(dead_code))] // read by the Unix-only tests
    peak: Option<u64>,
}

/// Runs `tlsreg` through common's runner: a child still running after 60 s
/// is killed, so that a hang fails the test instead of stalling it (no
/// timing is asserted), and on Linux its own peak RSS is measured (wait4).
fn run(args: &[&str]) -> Child {
    let (run, peak) = common::Cmd::new(args).watchdog(60).run_with_peak();
    Child {
        code: run.code,
        stdout: run.out(),
        stderr: run.stderr,
        peak,
    }
}

#[cfg(unix)]
fn bounded(what: &str, c: &Child) {
    if let Some(peak) = c.peak {
        assert!(
            peak < common::MEMORY_BOUND,
            "{what}: peak RSS {} MiB\n{}",
            peak >> 20,
            c.stderr
        );
    }
}

/// A sparse file of `len` bytes beginning with `head`.
#[cfg(unix)]
fn sparse(path: &Path, head: &[u8], len: u64) {
    std::fs::write(path, head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
#[cfg(unix)]
fn a_vmdk_extent_that_is_a_fifo_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("extent-flat.vmdk");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let vmdk = dir.path().join("disk.vmdk");
    std::fs::write(
        &vmdk,
        "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\nRW 2048 FLAT \"extent-flat.vmdk\" 0\n",
    )
    .unwrap();
    // A directory named as an extent is refused the same way.
    std::fs::create_dir(dir.path().join("dir-flat.vmdk")).unwrap();
    let vmdk2 = dir.path().join("disk2.vmdk");
    std::fs::write(
        &vmdk2,
        "# Disk DescriptorFile\nRW 2048 FLAT \"dir-flat.vmdk\" 0\n",
    )
    .unwrap();
    // And a device, through a link in the folder.
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("dev-flat.vmdk")).unwrap();
    let vmdk3 = dir.path().join("disk3.vmdk");
    std::fs::write(
        &vmdk3,
        "# Disk DescriptorFile\nRW 2048 FLAT \"dev-flat.vmdk\" 0\n",
    )
    .unwrap();
    for (image, extent, what) in [
        (&vmdk, "extent-flat.vmdk", "a FIFO"),
        (&vmdk2, "dir-flat.vmdk", "a folder"),
        (&vmdk3, "dev-flat.vmdk", "device"),
    ] {
        let c = run(&["audit", image.to_str().unwrap()]);
        let said = format!("{}{}", c.stdout, c.stderr);
        assert_eq!(c.code, 2, "{said}");
        assert!(said.contains(extent), "{said}");
        assert!(said.contains(what), "{said}");
    }
}

fn json(c: &Child) -> serde_json::Value {
    serde_json::from_str(&c.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", c.stdout, c.stderr))
}

/// The findings of the first input of a JSON report, as `code: message`.
fn findings(doc: &serde_json::Value) -> Vec<String> {
    common::findings(doc)
        .iter()
        .map(|f| format!("{}: {}", f["code"], f["message"]))
        .collect()
}

#[test]
#[cfg(unix)]
fn a_clean_hive_beside_2_gib_logs_does_not_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let system = dir.path().join("SYSTEM");
    std::fs::copy(root().join("samples/hives/compliant.hiv"), &system).unwrap();
    // Log-looking heads, then 2 GiB of holes.
    let head = std::fs::read(root().join("samples/hives/dirty/SYSTEM.LOG2")).unwrap();
    for log in ["SYSTEM.LOG1", "SYSTEM.LOG2"] {
        sparse(&dir.path().join(log), &head, 2 << 30);
    }
    let want = run(&["audit", "--format", "json", "samples/hives/compliant.hiv"]);
    let got = run(&["audit", "--format", "json", system.to_str().unwrap()]);
    bounded("clean hive, 2 GiB logs", &got);
    assert_eq!(got.code, want.code, "{}", got.stderr);
    let (want, got) = (json(&want), json(&got));
    assert_eq!(got["inputs"][0]["verdict"], want["inputs"][0]["verdict"]);
    assert_eq!(got["inputs"][0]["checks"], want["inputs"][0]["checks"]);
    assert_eq!(findings(&got), findings(&want));
}

#[test]
#[cfg(unix)]
fn a_dirty_hive_with_a_4_gib_log_is_replayed_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let dirty = root().join("samples/hives/dirty");
    for f in ["SYSTEM", "SYSTEM.LOG1", "SYSTEM.LOG2"] {
        std::fs::copy(dirty.join(f), dir.path().join(f)).unwrap();
    }
    let log1 = dir.path().join("SYSTEM.LOG1");
    let head = std::fs::read(&log1).unwrap();
    sparse(&log1, &head, 4 << 30);
    let want = run(&["audit", "--format", "json", "samples/hives/dirty/SYSTEM"]);
    let system = dir.path().join("SYSTEM");
    let got = run(&["audit", "--format", "json", system.to_str().unwrap()]);
    bounded("dirty hive, 4 GiB LOG1", &got);
    assert_eq!(got.code, want.code, "{}", got.stderr);
    let (want, got) = (json(&want), json(&got));
    // Same replay, same verdict; and the cut is said.
    assert_eq!(got["inputs"][0]["verdict"], want["inputs"][0]["verdict"]);
    assert_eq!(got["inputs"][0]["checks"], want["inputs"][0]["checks"]);
    let said = findings(&got);
    assert!(
        said.iter()
            .any(|f| f.contains("replayed 3 log entries from SYSTEM.LOG1, SYSTEM.LOG2")),
        "{said:#?}"
    );
    // 4 x 8192 + 1 MiB.
    let cap = 4 * 8192 + (1 << 20);
    assert!(
        said.iter().any(|f| f.contains(&format!(
            "SYSTEM.LOG1: log larger than {cap} bytes (4 times its hive's size plus 1 MiB): it is {} bytes, not read past byte {cap}",
            4u64 << 30
        ))),
        "{said:#?}"
    );
}

#[test]
#[cfg(unix)]
fn a_dirty_hive_file_of_2_gib_is_replayed_without_copying_it() {
    let dir = tempfile::tempdir().unwrap();
    let dirty = root().join("samples/hives/dirty");
    for f in ["SYSTEM", "SYSTEM.LOG1", "SYSTEM.LOG2"] {
        std::fs::copy(dirty.join(f), dir.path().join(f)).unwrap();
    }
    let system = dir.path().join("SYSTEM");
    let head = std::fs::read(&system).unwrap();
    sparse(&system, &head, 2 << 30);
    let want = json(&run(&[
        "audit",
        "--format",
        "json",
        "samples/hives/dirty/SYSTEM",
    ]));
    let got = run(&["audit", "--format", "json", system.to_str().unwrap()]);
    bounded("dirty hive file of 2 GiB", &got);
    assert_eq!(got.code, 0, "{}", got.stderr);
    let got = json(&got);
    assert_eq!(got["inputs"][0]["verdict"], want["inputs"][0]["verdict"]);
    assert_eq!(got["inputs"][0]["checks"], want["inputs"][0]["checks"]);
    let said = findings(&got);
    assert!(
        said.iter()
            .any(|f| f.contains("replayed 3 log entries from SYSTEM.LOG1, SYSTEM.LOG2")),
        "{said:#?}"
    );
    // 2 x (4096 + 4096 of bins + 6656 of logs) + 16 MiB.
    let used = 2 * (4096 + 4096 + 1536 + 5120) + (16 << 20);
    assert!(
        said.iter().any(|f| f.contains(&format!(
            "the hive file is {} bytes, far past what its hive bins and logs reach: replay used its first {used} bytes",
            2u64 << 30
        ))),
        "{said:#?}"
    );
}

#[test]
#[cfg(unix)]
fn a_4_gib_software_file_is_mapped_not_read() {
    let dir = tempfile::tempdir().unwrap();
    // Holes only: not a hive, said so.
    let holes = dir.path().join("holes");
    sparse(&holes, &[], 4 << 30);
    let got = run(&[
        "audit",
        "--software",
        holes.to_str().unwrap(),
        "samples/hives/compliant.hiv",
    ]);
    bounded("--software of 4 GiB of holes", &got);
    assert_eq!(got.code, 2, "{}{}", got.stdout, got.stderr);
    let said = format!("{}{}", got.stdout, got.stderr);
    assert!(said.contains(holes.to_str().unwrap()), "{said}");
    // A real SOFTWARE hive followed by 4 GiB of holes: read, OS known.
    let software = dir.path().join("SOFTWARE");
    let hive = std::fs::read(root().join("samples/images/payload/SOFTWARE.hiv")).unwrap();
    sparse(&software, &hive, 4 << 30);
    let got = run(&[
        "audit",
        "--format",
        "json",
        "--software",
        software.to_str().unwrap(),
        "samples/hives/compliant.hiv",
    ]);
    bounded("--software of a hive and 4 GiB of holes", &got);
    assert_eq!(got.code, 0, "{}{}", got.stdout, got.stderr);
    let os = &json(&got)["inputs"][0]["os"];
    assert!(os.to_string().contains("17763"), "{os}");
}

#[test]
#[cfg(unix)]
fn a_100_gib_sparse_file_with_a_container_signature_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let big: u64 = 100 << 30;
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    // Signatures alone, then 100 GiB of holes.
    for (name, head, said) in [
        ("sig.vhdx", &b"vhdxfile"[..], "VHDX"),
        ("sig.qcow2", b"QFI\xfb", "qcow2"),
        ("sig.vmdk", b"KDMV", "VMDK"),
        ("sig.wim", b"MSWIM\0\0\0", "WIM"),
    ] {
        let path = dir.path().join(name);
        sparse(&path, head, big);
        cases.push((path, said));
    }
    // An MBR signature on 100 GiB of holes: a raw disk with nothing on it.
    let mut mbr = vec![0u8; 512];
    mbr[510..].copy_from_slice(&[0x55, 0xAA]);
    let raw = dir.path().join("disk");
    sparse(&raw, &mbr, big);
    cases.push((raw, "no Windows installation found in this raw image"));
    // A VHD footer at the end of 100 GiB of holes.
    let vhd = dir.path().join("footer.vhd");
    sparse(&vhd, &[], big);
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&vhd).unwrap();
        f.write_all_at(b"conectix", big - 512).unwrap();
    }
    cases.push((vhd, "VHD"));
    // Valid, empty 100 GiB containers (qemu-img is part of the machine, as
    // for tests/images.rs).
    for format in ["vhdx", "qcow2", "vmdk", "vpc"] {
        let path = dir.path().join(format!("empty.{format}"));
        let args = ["create", "-q", "-f", format].map(std::ffi::OsStr::new);
        let args = [&args[..], &[path.as_os_str(), "100G".as_ref()]].concat();
        let made = common::host_tool("qemu-img", &args)
            .expect("qemu-img (qemu-utils) is needed for this test");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        cases.push((path, "no Windows installation found"));
    }
    for (path, said) in &cases {
        let c = run(&["audit", path.to_str().unwrap()]);
        bounded(path.to_str().unwrap(), &c);
        let all = format!("{}{}", c.stdout, c.stderr);
        assert_eq!(c.code, 2, "{path:?}: {all}");
        assert!(all.contains(said), "{path:?}: {all}");
    }
}

// ---------------------------------------------------------------------------
// An NTFS volume whose SYSTEM.LOG1 is a 1 GiB sparse file, made from the
// committed bare-ntfs.raw by rewriting two things in place (mkntfs and
// ntfs-3g are not needed): the log's MFT record, whose empty resident $DATA
// becomes a non-resident one of a single sparse run, and the SYSTEM hive's
// base block, made dirty so that its logs are wanted.

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The MFT record (fix-ups undone) of the file named `name`, and its offset.
fn mft_record(volume: &[u8], name: &str) -> (usize, Vec<u8>) {
    let cluster = le16(volume, 11) * volume[13] as usize;
    let mft = u64::from_le_bytes(volume[0x30..0x38].try_into().unwrap()) as usize * cluster;
    let want: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for i in 0..256 {
        let at = mft + i * 1024;
        let Some(raw) = volume.get(at..at + 1024) else {
            break;
        };
        if &raw[..4] != b"FILE" {
            continue;
        }
        let mut r = raw.to_vec();
        let (usa, count) = (le16(&r, 4), le16(&r, 6));
        for k in 1..count {
            r[k * 512 - 2] = r[usa + 2 * k];
            r[k * 512 - 1] = r[usa + 2 * k + 1];
        }
        let mut a = le16(&r, 0x14);
        while le32(&r, a) != 0xFFFF_FFFF {
            if le32(&r, a) == 0x30 {
                let v = a + le16(&r, a + 0x14);
                let n = r[v + 0x40] as usize;
                if r[v + 0x42..v + 0x42 + 2 * n] == want[..] {
                    return (at, r);
                }
            }
            a += le32(&r, a + 4) as usize;
        }
    }
    panic!("no MFT record for {name}");
}

/// Writes record `r` back at `at`, redoing its fix-ups.
fn put_record(volume: &mut [u8], at: usize, mut r: Vec<u8>) {
    let (usa, count) = (le16(&r, 4), le16(&r, 6));
    for k in 1..count {
        r[usa + 2 * k] = r[k * 512 - 2];
        r[usa + 2 * k + 1] = r[k * 512 - 1];
        r[k * 512 - 2] = r[usa];
        r[k * 512 - 1] = r[usa + 1];
    }
    volume[at..at + 1024].copy_from_slice(&r);
}

/// Makes `name`'s (empty, resident, last) $DATA a sparse run of `len` bytes.
fn make_sparse(volume: &mut [u8], name: &str, len: u64) {
    let cluster = (le16(volume, 11) * volume[13] as usize) as u64;
    let (at, mut r) = mft_record(volume, name);
    let mut a = le16(&r, 0x14);
    while le32(&r, a) != 0x80 {
        a += le32(&r, a + 4) as usize;
    }
    assert_eq!(r[a + 8], 0, "{name}: $DATA is resident");
    assert_eq!(le32(&r, a + le32(&r, a + 4) as usize), 0xFFFF_FFFF, "last");
    let id = [r[a + 14], r[a + 15]];
    let clusters = len / cluster;
    let mut attr = vec![0u8; 0x48];
    attr[..4].copy_from_slice(&0x80u32.to_le_bytes());
    attr[4..8].copy_from_slice(&0x48u32.to_le_bytes());
    attr[8] = 1; // non-resident
    attr[10..12].copy_from_slice(&0x40u16.to_le_bytes()); // name offset
    attr[14..16].copy_from_slice(&id);
    attr[0x18..0x20].copy_from_slice(&(clusters - 1).to_le_bytes()); // last VCN
    attr[0x20..0x22].copy_from_slice(&0x40u16.to_le_bytes()); // runs
    for field in [0x28, 0x30, 0x38] {
        // Allocated, data and initialized sizes.
        attr[field..field + 8].copy_from_slice(&len.to_le_bytes());
    }
    // One run of `clusters`, with no offset: sparse.
    attr[0x40] = 0x04;
    attr[0x41..0x45].copy_from_slice(&(clusters as u32).to_le_bytes());
    r[a..a + 0x48].copy_from_slice(&attr);
    r[a + 0x48..a + 0x4C].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    r[a + 0x4C..a + 0x50].fill(0);
    let used = (a + 0x50) as u32;
    r[0x18..0x1C].copy_from_slice(&used.to_le_bytes());
    put_record(volume, at, r);
}

/// Bumps the primary sequence number of the hive `hive` inside `volume`
/// (and its checksum), so it is dirty.
fn make_dirty(volume: &mut [u8], hive: &[u8]) {
    let at = volume
        .windows(hive.len())
        .position(|w| w == hive)
        .expect("the hive is in the volume");
    let seq = le32(volume, at + 4) + 1;
    volume[at + 4..at + 8].copy_from_slice(&seq.to_le_bytes());
    let sum = (0..127).fold(0u32, |x, i| x ^ le32(volume, at + 4 * i));
    volume[at + 508..at + 512].copy_from_slice(&sum.to_le_bytes());
}

#[test]
#[cfg(unix)]
fn an_ntfs_image_with_a_1_gib_sparse_log_is_read_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut volume = std::fs::read(root().join("samples/images/bare-ntfs.raw")).unwrap();
    make_sparse(&mut volume, "SYSTEM.LOG1", 1 << 30);
    let clean = dir.path().join("clean.raw");
    std::fs::write(&clean, &volume).unwrap();
    let hive = std::fs::read(root().join("samples/hives/compliant.hiv")).unwrap();
    make_dirty(&mut volume, &hive);
    let dirty = dir.path().join("dirty.raw");
    std::fs::write(&dirty, &volume).unwrap();

    let want = run(&["audit", "--format", "json", "samples/images/bare-ntfs.raw"]);
    assert_eq!(want.code, 0, "{}", want.stderr);
    let want = json(&want);
    for image in [&clean, &dirty] {
        let got = run(&["audit", "--format", "json", image.to_str().unwrap()]);
        bounded(image.to_str().unwrap(), &got);
        assert_eq!(got.code, 0, "{image:?}: {}{}", got.stdout, got.stderr);
        let got = json(&got);
        assert_eq!(got["inputs"][0]["verdict"], want["inputs"][0]["verdict"]);
        assert_eq!(got["inputs"][0]["checks"], want["inputs"][0]["checks"]);
        let said = findings(&got);
        let cut = said.iter().any(|f| {
            f.contains("SYSTEM.LOG1: log larger than 1081344 bytes")
                && f.contains("it is 1073741824 bytes, not read past byte 1081344")
        });
        if image == &clean {
            // A clean hive's logs are not wanted: nothing to say.
            assert!(!cut, "{said:#?}");
            assert_eq!(said, findings(&want));
        } else {
            assert!(cut, "{said:#?}");
            // Its logs hold no entry (zeros), and that is said too.
            assert!(
                said.iter().any(|f| f.contains("logs were not replayed")),
                "{said:#?}"
            );
        }
    }
}

/// ntfs 0.4 slices past an index entry whose length field is under its
/// 16-byte header (index_entry.rs:205; found by the `volume` fuzz target).
/// The panic is contained: the volume is an error naming the NTFS reader,
/// and no panic message reaches standard error.
#[test]
fn an_index_entry_shorter_than_its_header_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut volume = std::fs::read(root().join("samples/images/bare-ntfs.raw")).unwrap();
    let (at, mut r) = mft_record(&volume, "config");
    let mut a = le16(&r, 0x14);
    while le32(&r, a) != 0x90 {
        a += le32(&r, a + 4) as usize;
    }
    // $INDEX_ROOT: 16 bytes, then the node header, whose first field is
    // where its first entry starts; an entry's length is at its byte 8.
    let node = a + le16(&r, a + 0x14) + 16;
    let entry = node + le32(&r, node) as usize;
    r[entry + 8..entry + 10].copy_from_slice(&1u16.to_le_bytes());
    put_record(&mut volume, at, r);
    let image = dir.path().join("short-entry.raw");
    std::fs::write(&image, &volume).unwrap();
    let got = run(&["audit", image.to_str().unwrap()]);
    assert_eq!(got.code, 2, "{}{}", got.stdout, got.stderr);
    assert!(
        got.stdout.contains("the NTFS reader failed on this volume"),
        "{}",
        got.stdout
    );
    assert!(!got.stderr.contains("panicked"), "{}", got.stderr);
}

/// A WIM of a Windows tree whose config folder holds `files`, made with
/// wimlib-imagex; `None` (and a visible line) when it is not installed.
fn wim_of(dir: &Path, files: &[(&str, Vec<u8>)]) -> Option<PathBuf> {
    let config = dir.join("tree/Windows/System32/config");
    std::fs::create_dir_all(&config).unwrap();
    for (name, bytes) in files {
        std::fs::write(config.join(name), bytes).unwrap();
    }
    let wim = dir.join("image.wim");
    let tree = dir.join("tree");
    let args = [
        "capture".as_ref(),
        tree.as_os_str(),
        wim.as_os_str(),
        "Windows".as_ref(),
        "--compress=none".as_ref(),
    ];
    match common::host_tool("wimlib-imagex", &args) {
        Ok(s) if s.status.success() => Some(wim),
        Ok(s) => panic!(
            "wimlib-imagex capture: {}",
            String::from_utf8_lossy(&s.stderr)
        ),
        Err(e) => {
            println!("skipped: wimlib-imagex (Debian package wimtools) cannot be run: {e}");
            None
        }
    }
}

#[test]
fn a_wim_reads_a_dirty_hives_logs_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let dirty = root().join("samples/hives/dirty");
    let file = |name: &str| std::fs::read(dirty.join(name)).unwrap();
    let (system, log1, log2) = (file("SYSTEM"), file("SYSTEM.LOG1"), file("SYSTEM.LOG2"));
    let Some(wim) = wim_of(
        &dir.path().join("ok"),
        &[
            ("SYSTEM", system.clone()),
            ("SYSTEM.LOG1", log1.clone()),
            ("SYSTEM.LOG2", log2.clone()),
        ],
    ) else {
        return;
    };
    let c = run(&["audit", "--format", "json", wim.to_str().unwrap()]);
    let doc = json(&c);
    assert_eq!(c.code, 0, "{doc:#}");
    let read_as = doc["inputs"][0]["read_as"].as_str().unwrap();
    assert!(
        read_as.contains("replayed 3 log entries from SYSTEM.LOG1, SYSTEM.LOG2"),
        "{read_as}"
    );
    // LOG1 padded to 2 MiB, over the cap of 4 x 8192 + 1 MiB: a WIM file is
    // read whole (its hash covers it all), so LOG1 is left out and said to
    // be; what LOG2 holds is still replayed.
    let mut big = log1;
    big.resize(2 << 20, 0);
    let wim = wim_of(
        &dir.path().join("big"),
        &[
            ("SYSTEM", system),
            ("SYSTEM.LOG1", big),
            ("SYSTEM.LOG2", log2),
        ],
    )
    .unwrap();
    let c = run(&["audit", "--format", "json", wim.to_str().unwrap()]);
    let doc = json(&c);
    let said = findings(&doc);
    assert!(
        said.iter().any(|f| f.contains("SYSTEM.LOG1 not read")
            && f.contains(&format!(
                "is {} bytes, over the limit of {} bytes",
                2 << 20,
                4 * 8192 + (1 << 20)
            ))),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|f| f.contains("replayed 2 log entries from SYSTEM.LOG2")),
        "{said:#?}"
    );
}

// ---------------------------------------------------------------------------
// The per-disk budget, at the library level with small limits (the default
// is 224 MiB, too much to build in a test).

mod budget {
    use std::sync::Arc;

    use tlsreg::image::volume::{Found, Limits, find_windows_with};
    use tlsreg::image::{Disk, FileDisk};

    fn disk(bytes: Vec<u8>) -> Arc<dyn Disk> {
        Arc::new(bytes)
    }

    fn sample(name: &str) -> Arc<dyn Disk> {
        let path = super::root().join("samples/images").join(name);
        Arc::new(FileDisk::new(std::fs::File::open(path).unwrap()).unwrap())
    }

    fn held(max_held: u64) -> Limits {
        Limits {
            max_held,
            ..Limits::default()
        }
    }

    #[test]
    fn software_past_the_budget_is_left_out_with_a_note() {
        // SYSTEM (8192 bytes) fits, SOFTWARE (8192) does not.
        let found = find_windows_with(sample("bare-ntfs.raw"), held(12288)).unwrap();
        let install = found[0].install().expect("an install");
        assert_eq!(install.software, None);
        assert!(
            install.notes.iter().any(|n| n.contains(
                "SOFTWARE not read: NTFS volume at byte 0: Windows\\System32\\config\\SOFTWARE: 8192 bytes, more than the 4096 bytes left of the 12288 held in memory at once for one disk"
            )),
            "{:?}",
            install.notes
        );
    }

    #[test]
    fn a_second_install_past_the_budget_is_refused_by_name_and_size() {
        // The first install's SYSTEM and SOFTWARE fit, the second's SYSTEM
        // does not.
        let max = 2 * 8192 + 100;
        let found = find_windows_with(sample("two-windows.raw"), held(max)).unwrap();
        assert!(found[0].install().is_some());
        let Found::Skipped { reason, .. } = &found[1] else {
            panic!("the second install is refused: {found:?}");
        };
        let why = reason.to_string();
        assert!(
            why.contains(&format!(
                "WINDOWS\\system32\\Config\\system: 8192 bytes, more than the 100 bytes left of the {max} held"
            )),
            "{why}"
        );
    }

    #[test]
    fn a_dirty_hives_logs_get_what_the_budget_leaves_and_say_so() {
        let mut volume = std::fs::read(super::root().join("samples/images/bare-ntfs.raw")).unwrap();
        super::make_sparse(&mut volume, "SYSTEM.LOG1", 1 << 30);
        let hive = std::fs::read(super::root().join("samples/hives/compliant.hiv")).unwrap();
        super::make_dirty(&mut volume, &hive);
        // SYSTEM, room for replay's copy of it, and 1000 bytes: 500 for
        // LOG1 and 500 for what it could add to the copy.
        let found = find_windows_with(disk(volume), held(2 * 8192 + 1000)).unwrap();
        let install = found[0].install().expect("an install");
        assert_eq!(install.system_logs[0].0, "SYSTEM.LOG1");
        assert_eq!(install.system_logs[0].1.len(), 500);
        assert!(
            install.notes.iter().any(|n| n.contains(
                "SYSTEM.LOG1: 1073741824 bytes, only the first 500 read: more would pass the 17384 bytes held in memory at once for one disk"
            )),
            "{:?}",
            install.notes
        );
        // With the default limits it is read up to the log cap.
        let mut volume = std::fs::read(super::root().join("samples/images/bare-ntfs.raw")).unwrap();
        super::make_sparse(&mut volume, "SYSTEM.LOG1", 1 << 30);
        super::make_dirty(&mut volume, &hive);
        let found = find_windows_with(disk(volume), Limits::default()).unwrap();
        let install = found[0].install().expect("an install");
        assert_eq!(install.system_logs[0].1.len(), 4 * 8192 + (1 << 20));
    }
}

#[test]
#[cfg(unix)]
fn a_wim_claiming_a_1_gib_metadata_resource_is_refused_in_little_memory() {
    // none.wim with its metadata resource moved to the end of the file and
    // said to be 1 GiB, stored: the file becomes 1 GiB of holes there.
    let mut wim = std::fs::read(root().join("samples/images/wim/none.wim")).unwrap();
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let table = u64_at(&wim, 48 + 8) as usize;
    let table_len = u64_at(&wim, 48) as usize & 0x00FF_FFFF_FFFF_FFFF;
    let end = wim.len().next_multiple_of(4096) as u64;
    let size: u64 = 1 << 30;
    let mut patched = 0;
    for entry in wim[table..table + table_len].chunks_exact_mut(50) {
        if entry[7] & 0x02 != 0 {
            entry[..7].copy_from_slice(&size.to_le_bytes()[..7]);
            entry[7] = 0x02; // metadata, stored
            entry[8..16].copy_from_slice(&end.to_le_bytes());
            entry[16..24].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 1, "one image");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big-metadata.wim");
    sparse(&path, &wim, end + size);
    let c = run(&["audit", path.to_str().unwrap()]);
    bounded("WIM with 1 GiB of metadata", &c);
    let said = format!("{}{}", c.stdout, c.stderr);
    assert_eq!(c.code, 2, "{said}");
    assert!(
        said.contains(&format!(
            "metadata resource of image 1 at byte {end} is {size} bytes, over the limit of {} bytes",
            128 << 20
        )),
        "{said}"
    );
}
