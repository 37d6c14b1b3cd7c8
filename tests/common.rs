//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The result of one run of the `tlsreg` binary.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }
}

/// Runs `tlsreg` from the project root, so paths in its output are relative.
pub fn tlsreg(args: &[&str]) -> Run {
    tlsreg_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

pub fn tlsreg_in(dir: &Path, args: &[&str]) -> Run {
    let evidence = Evidence::of(dir, args);
    let run = tlsreg_unchecked(dir, args);
    evidence.unchanged(args);
    run
}

/// What an examiner would hash before handing files to a tool: every file
/// an argument names (the input, `--apply`, `--software` and `--policy`
/// files, an `-o` target that already exists is left out: it is written on
/// purpose) and the transaction logs beside each, by SHA-256. Every run of
/// the binary in the tests checks them afterwards, `--force` or not.
pub struct Evidence(Vec<(std::path::PathBuf, [u8; 32])>);

impl Evidence {
    /// Files over this are sparse test giants: their size and the hash of
    /// their first and last MiB stand for them.
    const WHOLE: u64 = 256 << 20;

    pub fn of(dir: &Path, args: &[&str]) -> Evidence {
        let mut files = Vec::new();
        let mut output = false;
        for arg in args {
            if std::mem::take(&mut output) {
                continue;
            }
            if matches!(*arg, "-o" | "--output") {
                output = true;
                continue;
            }
            let path = dir.join(arg);
            if !path.is_file() {
                continue;
            }
            files.push(path.clone());
            if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
                let name = name.to_string_lossy().to_ascii_uppercase();
                for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
                    let other = entry.file_name().to_string_lossy().to_ascii_uppercase();
                    let log = ["LOG", "LOG1", "LOG2"]
                        .iter()
                        .any(|ext| other == format!("{name}.{ext}"));
                    if log && entry.path().is_file() {
                        files.push(entry.path());
                    }
                }
            }
        }
        files.sort();
        files.dedup();
        Evidence(files.into_iter().map(|f| (f.clone(), sha256(&f))).collect())
    }

    pub fn unchanged(&self, args: &[&str]) {
        for (file, before) in &self.0 {
            assert!(
                sha256(file) == *before,
                "tlsreg {args:?} changed {}",
                file.display()
            );
        }
    }
}

fn sha256(path: &Path) -> [u8; 32] {
    use sha2::Digest;
    use std::io::{Read, Seek, SeekFrom};
    let mut hash = sha2::Sha256::new();
    // Hashing must not be what moves an access time (tests check those too).
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOATIME);
    let mut file = options.open(path).unwrap();
    let len = file.metadata().unwrap().len();
    hash.update(len.to_le_bytes());
    let mut buf = vec![0u8; 1 << 20];
    let mut feed = |file: &mut std::fs::File, limit: u64| {
        let mut left = limit;
        while left > 0 {
            let n = file.read(&mut buf[..left.min(1 << 20) as usize]).unwrap();
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            left -= n as u64;
        }
    };
    if len <= Evidence::WHOLE {
        feed(&mut file, len);
    } else {
        feed(&mut file, 1 << 20);
        file.seek(SeekFrom::End(-(1 << 20))).unwrap();
        feed(&mut file, 1 << 20);
    }
    hash.finalize().into()
}

/// Runs the binary without the evidence check (for tests that hand it files
/// they mean to change, or none).
pub fn tlsreg_unchecked(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsreg"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("run tlsreg");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "tlsreg panicked: {stderr}");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: out.stdout,
        stderr,
    }
}

/// The findings of the first input in a `--format json` report.
pub fn findings(doc: &serde_json::Value) -> &[serde_json::Value] {
    doc["inputs"][0]["findings"]
        .as_array()
        .expect("a JSON report lists its findings")
}

/// insta, with snapshots in the top-level `snapshots/` folder.
#[macro_export]
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// UTF-16LE bytes with a BOM, as regedit writes them.
pub fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// Runs `tlsreg` in `dir` and measures its peak memory (resident set, bytes)
/// from the kernel's accounting of that one child (wait4), not of all of
/// them, so tests running side by side do not blur each other's figures.
#[cfg(target_os = "linux")]
pub fn tlsreg_measured(dir: &Path, args: &[&str]) -> (Run, u64) {
    let evidence = Evidence::of(dir, args);
    let measured = measured_unchecked(dir, args);
    evidence.unchanged(args);
    measured
}

#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)] // reaped by wait4, which clippy does not know
fn measured_unchecked(dir: &Path, args: &[&str]) -> (Run, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tlsreg"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tlsreg");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        err.read_to_end(&mut b).unwrap();
        b
    });
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout).unwrap();
    let stderr = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let mut status = 0;
    // SAFETY: wait4 on our own child's pid, writing into locals we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status),
        "tlsreg was killed by signal {} (status {status}): {stderr}",
        libc::WTERMSIG(status)
    );
    assert!(!stderr.contains("panicked"), "tlsreg panicked: {stderr}");
    let run = Run {
        code: libc::WEXITSTATUS(status),
        stdout,
        stderr,
    };
    (run, usage.ru_maxrss as u64 * 1024)
}

/// The most memory any single input may cost, whatever its bytes (README).
pub const MEMORY_BOUND: u64 = 256 << 20;
