//! Inputs as a reviewer of a forensic tool would give them: FIFOs in a
//! folder, pipes, files that start like a hive but are not one, a folder of
//! everything at once. Every file given is audited or reported, nothing
//! blocks, and nothing read is changed (not even its access time).
//! FIFOs, links and these file names are Unix things: the file is for Unix.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Cmd, Run, tlsreg_in};

fn sample(p: &str) -> Vec<u8> {
    std::fs::read(format!("{}/samples/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Runs tlsreg with a watchdog, so a hang fails the test instead of
/// stalling the suite.
fn bounded(dir: &Path, args: &[&str]) -> Run {
    Cmd::new(args).dir(dir).watchdog(20).run()
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo on a path in the test's own temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// A hive whose base block says "transaction log" (file type 1 at offset 28).
fn log_typed(mut hive: Vec<u8>) -> Vec<u8> {
    hive[28..32].copy_from_slice(&1u32.to_le_bytes());
    hive
}

fn verdict_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            ["COMPLIANT ", "NONCOMPLIANT ", "ERROR ", "SKIPPED "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn a_fifo_in_a_folder_is_named_and_never_opened_for_reading() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    std::fs::create_dir(&fleet).unwrap();
    std::fs::write(fleet.join("a.reg"), sample("compliant.reg")).unwrap();
    // A FIFO with a hive's name, and one with a .reg name: no writer ever
    // comes, so opening either for reading the usual way blocks forever.
    mkfifo(&fleet.join("SYSTEM"));
    mkfifo(&fleet.join("b.reg"));
    let run = bounded(dir.path(), &["audit", "fleet"]);
    assert_eq!(run.code, 0, "{}{}", run.out(), run.stderr);
    assert_eq!(
        verdict_lines(&run.out()),
        [
            "COMPLIANT     fleet/a.reg",
            "SKIPPED       fleet/SYSTEM: a FIFO (named pipe) (only regular files are read in a folder)",
            "SKIPPED       fleet/b.reg: a FIFO (named pipe) (only regular files are read in a folder)",
        ]
    );
    // A link to a FIFO is the FIFO.
    std::os::unix::fs::symlink(fleet.join("SYSTEM"), fleet.join("link")).unwrap();
    let run = bounded(dir.path(), &["audit", "fleet"]);
    assert!(
        run.out().contains("SKIPPED       fleet/link: a FIFO"),
        "{}",
        run.out()
    );
}

#[test]
fn pipes_given_on_purpose_are_read_as_streams() {
    let root = env!("CARGO_MANIFEST_DIR");
    let shell = |script: &str| {
        let out = Command::new("timeout")
            .args(["20", "bash", "-c", script])
            .env("TLSREG", env!("CARGO_BIN_EXE_tlsreg"))
            .current_dir(root)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("panicked"), "{script}: {text}");
        (out.status.code().unwrap(), text)
    };
    // The binary runs inside the shell: its inputs are hashed around all.
    let samples = [
        "samples/compliant.reg",
        "samples/noncompliant.reg",
        "samples/hives/compliant.hiv",
        "samples/hives/not-set.hiv",
    ];
    let evidence = common::Evidence::of(Path::new(root), &samples);
    // Process substitution hands a pipe that cannot seek back.
    for (script, code, says) in [
        (
            r#""$TLSREG" audit <(cat samples/compliant.reg)"#,
            0,
            "COMPLIANT",
        ),
        (
            r#""$TLSREG" audit <(cat samples/noncompliant.reg)"#,
            1,
            "NONCOMPLIANT",
        ),
        (
            r#""$TLSREG" audit <(cat samples/hives/compliant.hiv)"#,
            0,
            "COMPLIANT",
        ),
        (
            r#"cat samples/hives/not-set.hiv | "$TLSREG" audit -"#,
            1,
            "NONCOMPLIANT",
        ),
        (
            r#"cat samples/compliant.reg | "$TLSREG" audit -"#,
            0,
            "COMPLIANT",
        ),
    ] {
        let (got, text) = shell(script);
        assert_eq!(got, code, "{script}: {text}");
        assert!(text.contains(says), "{script}: {text}");
    }
    evidence.unchanged(&samples);
    // A named FIFO with no writer: read once, it is empty, not a hang.
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&dir.path().join("pipe"));
    let run = bounded(dir.path(), &["audit", "pipe"]);
    assert_eq!(run.code, 2, "{}{}", run.out(), run.stderr);
}

#[test]
fn files_that_start_like_a_hive_are_inputs_unless_they_are_a_hives_log() {
    let dir = tempfile::tempdir().unwrap();
    let put = |p: &str, bytes: &[u8]| {
        let path = dir.path().join("fleet").join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("good.reg", &sample("compliant.reg"));
    // A whole machine whose base block was damaged to say "log": before,
    // it was skipped as a log and the run said "all compliant".
    put("srv1/SYSTEM", &log_typed(sample("hives/compliant.hiv")));
    // A copy cut inside its base block.
    put("srv2/SYSTEM", &sample("hives/compliant.hiv")[..3000]);
    // A log whose hive is not there: nothing reads it, so it is reported.
    put("srv3/SYSTEM.LOG1", &sample("hives/dirty/SYSTEM.LOG1"));
    // Logs beside their hive are read with it.
    put("srv4/SYSTEM", &sample("hives/dirty/SYSTEM"));
    put("srv4/SYSTEM.LOG1", &sample("hives/dirty/SYSTEM.LOG1"));
    put("srv4/system.log2", &sample("hives/dirty/SYSTEM.LOG2"));
    let run = bounded(dir.path(), &["audit", "fleet"]);
    assert_eq!(run.code, 2, "{}", run.out());
    assert_eq!(
        verdict_lines(&run.out()),
        [
            "COMPLIANT     fleet/good.reg",
            "ERROR         fleet/srv1/SYSTEM (could not be read)",
            "ERROR         fleet/srv2/SYSTEM (could not be read)",
            "ERROR         fleet/srv3/SYSTEM.LOG1 (could not be read)",
            "COMPLIANT     fleet/srv4/SYSTEM",
            "SKIPPED       fleet/srv4/SYSTEM.LOG1: the transaction log of SYSTEM (read with its hive)",
            "SKIPPED       fleet/srv4/system.log2: the transaction log of SYSTEM (read with its hive)",
        ]
    );
    assert!(
        run.out().contains(
            "Summary: 5 inputs: 2 compliant, 0 noncompliant, 3 could not be read; 2 files skipped"
        ),
        "{}",
        run.out()
    );
}

/// Every regular file of a folder of hostile and good files, by path, with
/// what the JSON report says of it: each appears exactly once.
#[test]
#[cfg(target_os = "linux")]
fn a_folder_of_everything_accounts_for_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    let put = |p: &str, bytes: &[u8]| {
        let path = fleet.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("ok/compliant.reg", &sample("compliant.reg"));
    put("ok/SYSTEM", &sample("hives/not-set.hiv"));
    put("ok/disk.vhd", &sample("images/gpt.vhd"));
    put("bad/log-typed", &log_typed(sample("hives/compliant.hiv")));
    put("bad/tiny", b"regf\x01\x00\x00\x00");
    put("bad/cut.reg", &sample("noncompliant.reg")[..101]);
    // A header, then 512 MiB of zeros (sparse): refused at the first NUL.
    let mut zeros_reg = b"Windows Registry Editor Version 5.00\r\n\r\n".to_vec();
    zeros_reg.resize(4096, 0);
    put("bad/zeros.reg", &zeros_reg);
    std::fs::OpenOptions::new()
        .write(true)
        .open(fleet.join("bad/zeros.reg"))
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    // A key 100,000 levels deep (a skipped line), then nothing else.
    let mut deep_key =
        String::from("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE");
    for _ in 0..100_000 {
        deep_key.push_str("\\k");
    }
    deep_key.push_str("]\r\n");
    put("bad/deep-key.reg", deep_key.as_bytes());
    put("other/notes.txt", b"exported on Monday\n");
    put("other/empty", b"");
    // 1 GiB of zeros, sparse: looked at (512 bytes), never read whole.
    let zeros = fleet.join("other/zeros");
    std::fs::File::create(&zeros)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    mkfifo(&fleet.join("other/fifo"));
    std::os::unix::fs::symlink("../other", fleet.join("ok/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere", fleet.join("other/broken")).unwrap();
    // Folders nested deeper than any recursion should be trusted with.
    let mut deep = fleet.join("deep");
    for _ in 0..200 {
        deep.push("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("deep.reg"), sample("noncompliant.reg")).unwrap();

    let (run, peak) = common::tlsreg_measured(dir.path(), &["audit", "--format", "json", "fleet"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(peak < common::MEMORY_BOUND, "peak {peak} bytes");
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let mut seen: Vec<(String, String)> = Vec::new();
    for entry in doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(doc["skipped"].as_array().unwrap())
    {
        let path = entry["path"].as_str().unwrap();
        // An image is reported per Windows installation: `FILE [volume]`.
        let file = path.split(" [").next().unwrap().to_owned();
        seen.push((file, entry["verdict"].as_str().unwrap().to_owned()));
    }
    let verdict = |p: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(f, _)| f == p)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let deep_reg = deep
        .strip_prefix(dir.path())
        .unwrap()
        .join("deep.reg")
        .display()
        .to_string();
    for (file, expected) in [
        ("fleet/ok/compliant.reg", "compliant"),
        ("fleet/ok/SYSTEM", "noncompliant"),
        ("fleet/ok/disk.vhd", "compliant"),
        ("fleet/bad/log-typed", "error"),
        ("fleet/bad/tiny", "error"),
        ("fleet/bad/cut.reg", "error"),
        ("fleet/bad/zeros.reg", "error"),
        ("fleet/bad/deep-key.reg", "noncompliant"),
        ("fleet/other/notes.txt", "skipped"),
        ("fleet/other/empty", "skipped"),
        ("fleet/other/zeros", "skipped"),
        ("fleet/other/fifo", "skipped"),
        ("fleet/ok/loop", "skipped"),
        ("fleet/other/broken", "skipped"),
        (deep_reg.as_str(), "noncompliant"),
    ] {
        assert_eq!(verdict(file), [expected], "{file}: {seen:#?}");
    }
    // Every regular file under the folder is there.
    let mut files = Vec::new();
    let mut stack = vec![fleet.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            if m.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(dir.path()).unwrap().display().to_string());
            }
        }
    }
    for f in &files {
        assert_eq!(verdict(f).len(), 1, "{f} appears once: {seen:#?}");
    }
    assert_eq!(doc["summary"]["skipped"], 6);
}

#[test]
fn a_panic_on_one_input_is_that_inputs_error() {
    // Debug builds carry a fault seam that panics on the named input.
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the fault seam exists only in debug builds");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fleet")).unwrap();
    std::fs::write(dir.path().join("fleet/a.reg"), sample("compliant.reg")).unwrap();
    std::fs::write(dir.path().join("fleet/b.reg"), sample("compliant.reg")).unwrap();
    let run = Cmd::new(&["audit", "fleet"])
        .dir(dir.path())
        .env("TLSREG_DEBUG_PANIC_ON", "fleet/b.reg")
        .allow_panic()
        .run();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.code, 2, "{text}");
    assert_eq!(
        verdict_lines(&text),
        [
            "COMPLIANT     fleet/a.reg",
            "ERROR         fleet/b.reg (could not be read)"
        ]
    );
    assert!(text.contains("this is a bug in tlsreg"), "{text}");
}
/// What a file looks like to a forensic examiner: its bytes and its times.
#[cfg(unix)]
fn fingerprint(path: &Path) -> (Vec<u8>, i64, i64) {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let m = std::fs::metadata(path).unwrap();
    // Read without touching the access time, or the test would move it.
    let mut bytes = Vec::new();
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOATIME)
        .open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap();
    (bytes, m.atime(), m.mtime())
}

#[test]
#[cfg(target_os = "linux")]
fn reading_changes_neither_bytes_nor_access_times() {
    let dir = tempfile::tempdir().unwrap();
    let put = |p: &str, from: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, sample(from)).unwrap();
        // An access time older than the modification time: relatime would
        // update it on the next read, unless the file is opened O_NOATIME.
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let times = [
            libc::timespec {
                tv_sec: 946_684_800,
                tv_nsec: 0,
            },
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        ];
        // SAFETY: utimensat on a file the test just wrote.
        assert_eq!(
            unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) },
            0
        );
        path
    };
    let files = [
        put("f/a.reg", "compliant.reg"),
        put("f/m/SYSTEM", "hives/dirty/SYSTEM"),
        put("f/m/SYSTEM.LOG1", "hives/dirty/SYSTEM.LOG1"),
        put("f/m/SYSTEM.LOG2", "hives/dirty/SYSTEM.LOG2"),
        put("f/n.hiv", "hives/not-set.hiv"),
        put("f/disk.vhdx", "images/dirty.vhdx"),
    ];
    let before: Vec<_> = files.iter().map(|f| fingerprint(f)).collect();
    assert!(
        before.iter().all(|b| b.1 == 946_684_800),
        "the test set old atimes"
    );
    for args in [
        &["audit", "f"][..],
        &["audit", "--format", "json", "f/m/SYSTEM"],
        &["diff", "f/m/SYSTEM"],
        &["fix", "f/n.hiv"],
        &["export", "f/m/SYSTEM"],
        &["audit", "--apply", "f/a.reg", "f/n.hiv"],
        &["audit", "f/disk.vhdx"],
    ] {
        let run = tlsreg_in(dir.path(), args);
        assert!(run.code <= 2, "{args:?}: {}", run.stderr);
        for (f, b) in files.iter().zip(&before) {
            assert!(fingerprint(f) == *b, "{args:?} changed {}", f.display());
        }
    }
}

/// A disk named on purpose (a block device: `/dev/sdb`, here a read-only
/// loop device over the GPT sample) is read like the raw image it holds.
/// Needs root and a free loop device; says so and passes where there is none.
#[test]
#[cfg(target_os = "linux")]
fn a_block_device_is_read_like_a_raw_image() {
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.0]).status();
        }
    }
    let image = format!("{}/samples/images/gpt.raw", env!("CARGO_MANIFEST_DIR"));
    let attached = Command::new("losetup")
        .args(["-f", "--show", "-r", &image])
        .output();
    let device = match attached {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        _ => {
            eprintln!("skipped: no loop device could be attached (needs root and losetup)");
            return;
        }
    };
    let _detach = Detach(device.clone());
    let run = Cmd::new(&["audit", &device]).watchdog(20).run();
    assert_eq!(run.code, 0, "{}{}", run.out(), run.stderr);
    assert!(
        run.out()
            .contains(&format!("COMPLIANT     {device} [GPT partition 3")),
        "{}",
        run.out()
    );
}
