//! Hostile inputs around hives and images: huge sparse logs, a huge
//! SOFTWARE file, a VMDK extent that is a FIFO, a 100 GiB sparse file.
//! Each runs the binary as a child and asserts its exit code, that it did
//! not panic, and (on Linux) its peak memory from the kernel's accounting.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Peak memory any one of these inputs may cost.
const MAX_RSS: u64 = 256 << 20;

struct Child {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size in bytes, from the kernel.
    peak: u64,
}

/// Runs `tlsreg` and waits for it with `wait4`, which gives this child's own
/// peak RSS. A child still running after 60 s is killed, so that a hang
/// fails the test instead of stalling it (no timing is asserted).
#[cfg(unix)]
fn run(args: &[&str]) -> Child {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    // Reaped below with wait4 (not Child::wait), which also gives its rusage.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_tlsreg"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let watchdog = std::thread::spawn(move || {
        for _ in 0..600 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            // SAFETY: signal 0 only asks whether the process still exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                return false;
            }
        }
        // SAFETY: the pid is our child's and has not been reaped yet (we
        // are the only one waiting for it).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        true
    });
    let mut status = 0;
    // SAFETY: rusage is plain data filled in by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4");
    let killed = watchdog.join().unwrap();
    assert!(!killed, "tlsreg {args:?} hung and was killed");
    assert!(libc::WIFEXITED(status), "tlsreg {args:?}: status {status}");
    let read = |p: &Path| {
        let mut s = String::new();
        std::fs::File::open(p)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let (stdout, stderr) = (read(&out), read(&err));
    assert!(!stderr.contains("panicked"), "tlsreg panicked: {stderr}");
    Child {
        code: libc::WEXITSTATUS(status),
        stdout,
        stderr,
        peak: usage.ru_maxrss as u64 * 1024,
    }
}

#[cfg(unix)]
fn bounded(what: &str, c: &Child) {
    assert!(
        c.peak < MAX_RSS,
        "{what}: peak RSS {} MiB\n{}",
        c.peak >> 20,
        c.stderr
    );
}

/// A sparse file of `len` bytes beginning with `head`.
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
    for (image, extent, what) in [
        (&vmdk, "extent-flat.vmdk", "a FIFO"),
        (&vmdk2, "dir-flat.vmdk", "a directory"),
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
        let made = Command::new("qemu-img")
            .args(["create", "-q", "-f", format])
            .arg(&path)
            .arg("100G")
            .status()
            .expect("qemu-img (qemu-utils) is needed for this test");
        assert!(made.success());
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
