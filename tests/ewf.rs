//! EnCase (EWF) images: the samples made by ewfacquire (samples/images/make.sh;
//! the split set is in tests/ewf/, out of the folder the fleet tests walk)
//! audit as the raw disks inside them, and read back byte for byte; the host's
//! libewf tools (Debian ewf-tools: ewfverify, ewfexport, ewfacquire) agree
//! when they are installed, and say they were skipped when not.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use tlsreg::image::source::{self, Source};

mod common;
use common::tlsreg;

/// Each sample set (its first segment) and the raw disk it was made from.
const SAMPLES: [(&str, &str); 2] = [
    ("samples/images/gpt.E01", "samples/images/gpt.raw"),
    ("tests/ewf/bare-ntfs.E01", "samples/images/bare-ntfs.raw"),
];

fn open(path: &Path) -> Source {
    let mut disks = source::open_path(path).and_then(source::disks).unwrap();
    assert_eq!(disks.len(), 1, "{path:?}");
    disks.remove(0)
}

fn read_all(s: &Source) -> Vec<u8> {
    let mut all = vec![0u8; s.disk.size() as usize];
    for (i, piece) in all.chunks_mut(1 << 20).enumerate() {
        s.disk.read_exact_at((i as u64) << 20, piece).unwrap();
    }
    all
}

/// Runs an ewf-tools program; `None` (after a visible skip line) when it is
/// not installed.
fn ewf_tool(program: &str, args: &[&OsStr]) -> Option<std::process::Output> {
    match common::host_tool(program, args) {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIP: {program} (Debian ewf-tools) is not installed: cross-check not run");
            None
        }
        Err(e) => panic!("{program} could not be run: {e}"),
    }
}

/// `path` (relative to the project root, where tests run) made absolute in
/// this system's form, which host_tool converts under Wine.
fn absolute(path: &str) -> PathBuf {
    std::env::current_dir().unwrap().join(common::native(path))
}

#[test]
fn the_samples_audit_as_the_raw_disks_inside() {
    for (e01, raw) in SAMPLES {
        let of_e01 = tlsreg(&["audit", "--format", "json", &common::native(e01)]);
        let of_raw = tlsreg(&["audit", "--format", "json", &common::native(raw)]);
        assert_eq!(of_e01.code, of_raw.code, "{e01}: {}", of_e01.stderr);
        assert_eq!(of_e01.code, 0, "{e01}: {}", of_e01.out());
        // Modulo the input's name, the same report: verdict, findings, all.
        let name = |p: &str| common::native(p).replace('\\', "\\\\");
        let e01_text = of_e01.out().replace(&name(e01), &name(raw));
        let a: serde_json::Value = serde_json::from_str(&e01_text).unwrap();
        let b: serde_json::Value = serde_json::from_slice(&of_raw.stdout).unwrap();
        assert_eq!(a, b, "{e01}");
        assert_eq!(a["inputs"][0]["verdict"], "compliant", "{e01}");
    }
}

#[test]
fn the_library_reads_the_samples_byte_for_byte() {
    for (e01, raw) in SAMPLES {
        let s = open(Path::new(e01));
        assert_eq!(read_all(&s), std::fs::read(raw).unwrap(), "{e01}");
        assert_eq!(common::slashed(&s.name()), e01);
    }
}

#[test]
fn a_missing_middle_segment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for n in [1, 2, 4, 5] {
        let f = format!("bare-ntfs.E0{n}");
        std::fs::copy(format!("tests/ewf/{f}"), dir.path().join(&f)).unwrap();
    }
    let first = dir.path().join("bare-ntfs.E01");
    let run = tlsreg(&["audit", first.to_str().unwrap()]);
    assert_ne!(run.code, 0);
    let text = run.out() + &run.stderr;
    assert!(
        text.contains("segment 3 (bare-ntfs.E03) is missing") && text.contains("bare-ntfs.E02"),
        "{text}"
    );
    // A later segment given alone points to the first.
    let run = tlsreg(&["audit", &common::native("tests/ewf/bare-ntfs.E02")]);
    assert_ne!(run.code, 0);
    let text = run.out() + &run.stderr;
    assert!(
        text.contains("segment 2 of an EWF set: give the first segment, bare-ntfs.E01"),
        "{text}"
    );
}

/// In a folder the set is one input, its first segment; the later segments
/// are listed as read with it. Without the first, each later segment is an
/// ERROR saying which file is missing, never a silent skip.
#[test]
fn a_folder_holding_a_set_audits_it_once() {
    let run = tlsreg(&["audit", "--format", "json", "tests/ewf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let inputs = doc["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{doc}");
    assert!(
        inputs[0]["path"]
            .as_str()
            .unwrap()
            .contains("bare-ntfs.E01")
    );
    let skipped: Vec<String> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    for n in 2..=5 {
        assert!(
            skipped
                .iter()
                .any(|s| s.contains(&format!("bare-ntfs.E0{n}"))
                    && s.contains(&format!(
                        "segment {n} of an EWF set, read with bare-ntfs.E01"
                    ))),
            "{skipped:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    for n in 2..=5 {
        let f = format!("bare-ntfs.E0{n}");
        std::fs::copy(format!("tests/ewf/{f}"), dir.path().join(&f)).unwrap();
    }
    let run = tlsreg(&["audit", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.out());
    assert_eq!(
        run.out()
            .matches("give the first segment, bare-ntfs.E01")
            .count(),
        4,
        "{}",
        run.out()
    );
}

#[test]
fn ewfverify_finds_the_samples_sound() {
    for (e01, _) in SAMPLES {
        let path = absolute(e01);
        let Some(out) = ewf_tool("ewfverify", &[OsStr::new("-q"), path.as_os_str()]) else {
            return;
        };
        assert!(
            out.status.success(),
            "ewfverify {e01}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Exports `e01` to raw with ewfexport; its bytes, or `None` when ewf-tools
/// is not installed.
fn ewfexport(e01: &Path) -> Option<Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("export");
    let args = [
        OsStr::new("-u"),
        OsStr::new("-q"),
        OsStr::new("-f"),
        OsStr::new("raw"),
        OsStr::new("-t"),
        target.as_os_str(),
        e01.as_os_str(),
    ];
    let out = ewf_tool("ewfexport", &args)?;
    assert!(
        out.status.success(),
        "ewfexport {e01:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(std::fs::read(dir.path().join("export.raw")).unwrap())
}

#[test]
fn ewfexport_exports_what_the_library_reads() {
    for (e01, _) in SAMPLES {
        let Some(exported) = ewfexport(&absolute(e01)) else {
            return;
        };
        assert_eq!(read_all(&open(Path::new(e01))), exported, "{e01}");
    }
}

/// Sets ewfacquire makes now, in the ways the samples do not cover: best
/// compression and small chunks, empty-block compression (stored chunks
/// and compressed empty ones mixed), a media size that is no whole number
/// of chunks (split in six segments, then renamed in lower case), one
/// 16 MiB chunk; each read back as the raw bytes and as ewfexport exports it.
#[test]
fn fresh_sets_from_ewfacquire_read_back() {
    let raw = std::fs::read("samples/images/mbr.raw").unwrap();
    let source = absolute("samples/images/mbr.raw");
    let odd = (5 << 20) + 3 * 512;
    let cases: [(&str, &[&str], usize); 4] = [
        ("best", &["-c", "deflate:best", "-b", "16"], raw.len()),
        (
            "empty",
            &["-c", "empty-block", "-b", "128", "-S", "1MiB"],
            raw.len(),
        ),
        ("odd", &["-c", "none", "-B", "5244416", "-S", "1MiB"], odd),
        (
            "oddz",
            &["-c", "deflate:fast", "-B", "5244416", "-b", "32768"],
            odd,
        ),
    ];
    assert_eq!(odd, 5_244_416);
    for (name, opts, len) in cases {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(name);
        let mut args: Vec<&OsStr> = ["-u", "-q", "-t"].map(OsStr::new).to_vec();
        args.push(target.as_os_str());
        args.extend(opts.iter().map(OsStr::new));
        args.push(source.as_os_str());
        let Some(out) = ewf_tool("ewfacquire", &args) else {
            return;
        };
        assert!(
            out.status.success(),
            "ewfacquire {opts:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let first = dir.path().join(format!("{name}.E01"));
        let segments = std::fs::read_dir(dir.path()).unwrap().count();
        let s = open(&first);
        assert_eq!(s.disk.size(), len as u64, "{name}");
        let read = read_all(&s);
        assert!(read == raw[..len], "{name}: differs from mbr.raw");
        if let Some(exported) = ewfexport(&first) {
            assert!(read == exported, "{name}: differs from ewfexport's");
        }
        // The same set under lower-case names.
        if segments > 1 {
            for e in std::fs::read_dir(dir.path()).unwrap() {
                let p = e.unwrap().path();
                let lower = p.file_name().unwrap().to_str().unwrap().to_lowercase();
                std::fs::rename(&p, dir.path().join(lower)).unwrap();
            }
            let s = open(&dir.path().join(format!("{name}.e01")));
            assert!(read_all(&s) == raw[..len], "{name} in lower case");
        }
    }
}
