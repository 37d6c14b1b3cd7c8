//! `-o` never writes over what a command reads (the input, its transaction
//! logs, --software, --apply, --policy, an image), `-o -` is standard output,
//! and a killed `fix -o` leaves nothing behind.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::tlsreg_in;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every file under `dir` with its bytes: equal snapshots mean nothing was
/// written, replaced or added.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p);
            } else if meta.file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap();
                files.insert(p, target.into_os_string().into_encoded_bytes());
            } else {
                let bytes = fs::read(&p).unwrap();
                files.insert(p, bytes);
            }
        }
    }
    files
}

/// A temporary folder holding copies of the samples the cases read.
fn evidence() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("dirty")).unwrap();
    for f in ["SYSTEM", "SYSTEM.LOG1", "SYSTEM.LOG2"] {
        fs::copy(
            Path::new(ROOT).join("samples/hives/dirty").join(f),
            d.join("dirty").join(f),
        )
        .unwrap();
    }
    for (from, to) in [
        ("samples/hives/compliant.hiv", "SYSTEM"),
        ("samples/noncompliant.reg", "noncompliant.reg"),
        ("samples/compliant.reg", "fix.reg"),
        ("samples/images/gpt.vhdx", "img.vhdx"),
        ("samples/images/gpt-z.qcow2", "img.qcow2"),
    ] {
        fs::copy(Path::new(ROOT).join(from), d.join(to)).unwrap();
    }
    dir
}

/// Runs `args` in `dir`; it must fail with exit 2, name `named` and the
/// refused path, and leave every file in `dir` as it was.
fn refused(dir: &Path, args: &[&str], named: &str) {
    let before = snapshot(dir);
    let run = tlsreg_in(dir, args);
    assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    assert!(
        run.stderr.contains("refusing to write") && run.stderr.contains(named),
        "{args:?} must name {named}: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{args:?} wrote to stdout");
    assert!(
        snapshot(dir) == before,
        "{args:?} changed a file in {dir:?}"
    );
}

#[test]
fn output_never_names_an_input_its_logs_or_an_image() {
    let dir = evidence();
    let d = dir.path();
    for force in [true, false] {
        let with = |args: &[&'static str]| -> Vec<&'static str> {
            let mut v = args.to_vec();
            if force {
                v.push("--force");
            }
            v
        };
        refused(d, &with(&["export", "SYSTEM", "-o", "SYSTEM"]), "SYSTEM");
        refused(d, &with(&["export", "SYSTEM", "-o", "./SYSTEM"]), "SYSTEM");
        refused(
            d,
            &with(&["fix", "dirty/SYSTEM", "-o", "dirty/SYSTEM.LOG1"]),
            "dirty/SYSTEM",
        );
        refused(
            d,
            &with(&["fix", "dirty/SYSTEM", "-o", "dirty/SYSTEM.LOG2"]),
            "dirty/SYSTEM",
        );
        refused(
            d,
            &with(&["fix", "dirty/SYSTEM", "-o", "dirty/../dirty/SYSTEM"]),
            "dirty/SYSTEM",
        );
        // Not there yet, but the hive reader would replay it as a log next time.
        refused(
            d,
            &with(&["fix", "dirty/SYSTEM", "-o", "dirty/system.log"]),
            "dirty/SYSTEM",
        );
        refused(d, &with(&["fix", "img.vhdx", "-o", "img.vhdx"]), "img.vhdx");
        refused(
            d,
            &with(&["fix", "img.qcow2", "-o", "img.qcow2"]),
            "img.qcow2",
        );
        refused(
            d,
            &with(&["export", "img.vhdx", "-o", "img.vhdx"]),
            "img.vhdx",
        );
        refused(
            d,
            &with(&[
                "fix",
                "noncompliant.reg",
                "--apply",
                "fix.reg",
                "-o",
                "fix.reg",
            ]),
            "fix.reg",
        );
        refused(
            d,
            &with(&[
                "fix",
                "SYSTEM",
                "--software",
                "dirty/SYSTEM",
                "-o",
                "dirty/SYSTEM",
            ]),
            "dirty/SYSTEM",
        );
        refused(
            d,
            &with(&[
                "fix",
                "SYSTEM",
                "--software",
                "dirty/SYSTEM",
                "-o",
                "dirty/SYSTEM.LOG1",
            ]),
            "dirty/SYSTEM",
        );
        refused(
            d,
            &with(&[
                "fix",
                "noncompliant.reg",
                "--policy",
                "fix.reg",
                "-o",
                "fix.reg",
            ]),
            "fix.reg",
        );
        refused(
            d,
            &with(&["template", "--policy", "fix.reg", "-o", "fix.reg"]),
            "fix.reg",
        );
    }
}

#[cfg(unix)]
#[test]
fn output_never_names_an_input_through_a_link() {
    let dir = evidence();
    let d = dir.path();
    fs::hard_link(d.join("noncompliant.reg"), d.join("hard.reg")).unwrap();
    std::os::unix::fs::symlink("noncompliant.reg", d.join("soft.reg")).unwrap();
    std::os::unix::fs::symlink("dirty", d.join("linked")).unwrap();
    for force in [&["--force"][..], &[]] {
        for (input, out) in [
            ("noncompliant.reg", "hard.reg"),
            ("hard.reg", "noncompliant.reg"),
            ("noncompliant.reg", "soft.reg"),
            ("soft.reg", "noncompliant.reg"),
            ("dirty/SYSTEM", "linked/SYSTEM.LOG1"),
            ("linked/SYSTEM", "dirty/SYSTEM.LOG2"),
        ] {
            let mut args = vec!["fix", input, "-o", out];
            args.extend(force);
            refused(d, &args, input);
        }
    }
}

#[test]
fn output_is_a_file_not_a_folder_or_a_device() {
    let dir = evidence();
    let d = dir.path();
    for out in [".", "dirty"] {
        let before = snapshot(d);
        let run = tlsreg_in(d, &["fix", "noncompliant.reg", "-o", out, "--force"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("folder"), "{}", run.stderr);
        assert!(snapshot(d) == before);
    }
    #[cfg(unix)]
    {
        let run = tlsreg_in(
            d,
            &["fix", "noncompliant.reg", "-o", "/dev/null", "--force"],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Opening a FIFO to write would block until a reader came: refused first.
        let run = tlsreg_in(d, &["fix", "noncompliant.reg", "-o", "fifo", "--force"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }
}

#[test]
fn dash_is_standard_output() {
    let dir = evidence();
    let d = dir.path();
    for args in [
        &["fix", "noncompliant.reg"][..],
        &["fix", "noncompliant.reg", "--encoding", "utf8"],
        &["template"],
        &["export", "SYSTEM"],
    ] {
        let plain = tlsreg_in(d, args);
        assert_eq!(plain.code, 0, "{args:?}: {}", plain.stderr);
        assert!(!plain.stdout.is_empty());
        let mut dash = args.to_vec();
        dash.extend(["-o", "-"]);
        let before = snapshot(d);
        let run = tlsreg_in(d, &dash);
        assert_eq!(run.code, 0, "{dash:?}: {}", run.stderr);
        assert_eq!(run.stdout, plain.stdout, "{dash:?}");
        assert!(!d.join("-").exists(), "{dash:?} wrote a file named -");
        assert!(snapshot(d) == before);
    }
}

#[test]
fn force_replaces_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(
        Path::new(ROOT).join("samples/noncompliant.reg"),
        d.join("in.reg"),
    )
    .unwrap();
    let expected = tlsreg_in(d, &["fix", "in.reg"]).stdout;
    fs::write(d.join("out.reg"), b"old").unwrap();
    let run = tlsreg_in(d, &["fix", "in.reg", "-o", "out.reg"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(fs::read(d.join("out.reg")).unwrap(), b"old");
    let run = tlsreg_in(d, &["fix", "in.reg", "-o", "out.reg", "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(fs::read(d.join("out.reg")).unwrap(), expected);
    let mut names: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["in.reg", "out.reg"]);
}

/// `kill -9` at random moments of `fix -o`: each output is whole or absent,
/// and no temporary file is ever left in the folder.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_fix_leaves_no_debris() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::copy(
        Path::new(ROOT).join("samples/noncompliant.reg"),
        d.join("in.reg"),
    )
    .unwrap();
    fs::create_dir(d.join("out")).unwrap();
    let expected = tlsreg_in(d, &["fix", "in.reg"]).stdout;
    // The runs below are killed on purpose, so they are spawned here, not
    // through common's runner: the input is hashed around all of them.
    let evidence = common::Evidence::of(d, &["fix", "in.reg"]);
    let spawn = |out: &str| {
        Command::new(env!("CARGO_BIN_EXE_tlsreg"))
            .args(["fix", "in.reg", "-o", out])
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one run takes here, so the kills spread over all of it
    // (calibration, not an assertion).
    let start = Instant::now();
    assert!(spawn("out/calibrate.reg").wait().unwrap().success());
    let span = start.elapsed().as_micros().max(1) as u64;
    fs::remove_file(d.join("out/calibrate.reg")).unwrap();

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut finished = 0;
    for i in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = spawn(&format!("out/fix-{i}.reg"));
        std::thread::sleep(Duration::from_micros(seed % (span + span / 4)));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            finished += 1;
        }
    }
    for e in fs::read_dir(d.join("out")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            name.starts_with("fix-") && name.ends_with(".reg"),
            "a killed run left {name}"
        );
        assert_eq!(fs::read(e.path()).unwrap(), expected, "{name} is not whole");
    }
    // Some runs were killed before they wrote: the test did kill.
    assert!(finished < 200, "no run was killed");
    evidence.unchanged(&["fix", "in.reg", "-o", "out/fix-N.reg"]);
}
