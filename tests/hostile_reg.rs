//! Hostile `.reg` inputs, made in the test: endless or sparse zeros, lines of
//! hundreds of MB, keys 100,000 levels deep, names that cut a character at a
//! byte count. Each is run through the binary, which must exit 0, 1 or 2 on
//! its own (no panic, no abort) in less than 256 MiB (measured on Linux;
//! elsewhere the behaviour is asserted and the memory is not). The sparse
//! giants are made only on Unix: NTFS reserves the whole length of a file
//! extended with set_len.

mod common;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use common::{MEMORY_BOUND, utf16};

const MIB: u64 = 1 << 20;
const HEADER: &str = "Windows Registry Editor Version 5.00\r\n\r\n";
const PROTOCOLS: &str = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols";

struct Run {
    code: i32,
    out: String,
}

/// Runs `tlsreg` in `dir` through common's runner, for its exit status and,
/// where the platform tells it, its own peak memory.
fn run(dir: &Path, args: &[&str]) -> Run {
    let (r, peak) = common::Cmd::new(args).dir(dir).run_with_peak();
    let run = Run {
        code: r.code,
        out: format!("{}{}", String::from_utf8_lossy(&r.stdout), r.stderr),
    };
    assert!(
        cfg!(not(target_os = "linux")) || peak.is_some(),
        "no peak measured"
    );
    if let Some(peak) = peak {
        assert!(
            peak < MEMORY_BOUND,
            "{args:?}: peak {} MiB\n{}",
            peak / MIB,
            run.out
        );
    }
    run
}

/// The TLS 1.2 keys as the audit's default policy requires them.
fn compliant_body() -> String {
    let mut t = String::new();
    for side in ["Client", "Server"] {
        t.push_str(&format!(
            "\r\n[{PROTOCOLS}\\TLS 1.2\\{side}]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n"
        ));
    }
    t
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[cfg(unix)]
fn dev_zero_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &["audit", "/dev/zero"]);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(run.out.contains("not a .reg"), "{}", run.out);
    assert!(run.out.contains("NUL byte at offset 0"), "{}", run.out);
}

#[test]
#[cfg(unix)]
fn a_100_gib_sparse_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["x", "x.reg"] {
        let path = dir.path().join(name);
        File::create(&path).unwrap().set_len(100 << 30).unwrap();
        let run = run(dir.path(), &["audit", path_str(&path)]);
        assert_eq!(run.code, 2, "{name}: {}", run.out);
        assert!(
            run.out.contains("not a .reg") && run.out.contains("NUL byte at offset 0"),
            "{name}: {}",
            run.out
        );
    }
}

/// A header, then 1 GiB of zeros (a preallocated file, a disk region): a
/// line that long holding NULs is binary data, refused with its offset once
/// 16 MiB of it are read, not buffered whole.
#[test]
#[cfg(unix)]
fn a_header_then_a_gib_of_zeros_is_refused_with_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    for (name, head) in [
        ("ansi.reg", HEADER.as_bytes().to_vec()),
        ("utf16.reg", utf16(HEADER)),
    ] {
        let path = dir.path().join(name);
        let mut f = File::create(&path).unwrap();
        f.write_all(&head).unwrap();
        f.set_len(1 << 30).unwrap();
        drop(f);
        let run = run(dir.path(), &["audit", path_str(&path)]);
        assert_eq!(run.code, 2, "{name}: {}", run.out);
        let at = format!("NUL byte at offset {} in a line too long", head.len());
        assert!(run.out.contains(&at), "{name}: {}", run.out);
    }
}

/// A key line of 300 MiB, written in pieces: passed over with a diagnostic
/// at its line, and the TLS 1.2 keys after it are audited as compliant.
#[test]
fn a_300_mib_key_line_is_skipped_and_the_rest_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.reg");
    let mut f = BufWriter::new(File::create(&path).unwrap());
    f.write_all(HEADER.as_bytes()).unwrap();
    f.write_all(b"[HKEY_LOCAL_MACHINE\\SOFTWARE\\").unwrap();
    let chunk = vec![b'x'; MIB as usize];
    for _ in 0..300 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"]\r\n\"Enabled\"=dword:00000000\r\n").unwrap();
    f.write_all(compliant_body().as_bytes()).unwrap();
    drop(f);
    let run = run(dir.path(), &["audit", path_str(&path)]);
    assert_eq!(run.code, 0, "{}", run.out);
    assert!(run.out.contains("COMPLIANT"), "{}", run.out);
    let skipped = run
        .out
        .lines()
        .find(|l| l.contains("long.reg:3:1:"))
        .unwrap_or_else(|| panic!("no diagnostic at line 3:\n{}", run.out));
    assert!(
        skipped.contains("314572830 bytes long") && skipped.contains("[skipped-line]"),
        "{skipped}"
    );
    // The value under it has no key to go to, and says so.
    assert!(
        run.out
            .contains("long.reg:4:1: regedit skips this line: no key is open")
    );
}

fn deep_key(levels: usize) -> String {
    let mut key = format!("[{PROTOCOLS}\\TLS 1.2");
    for i in 0..levels {
        key.push_str(&format!("\\k{}", i % 10));
    }
    key.push_str("]\r\n\"Enabled\"=dword:00000000\r\n");
    key
}

/// Key lines of 10,000, 30,000, 100,000 and (in 15 MB of ANSI) 5 million
/// levels (Windows stops at 512): each is a skipped line, and the audit
/// goes on.
#[test]
fn keys_deeper_than_windows_allows_are_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    for levels in [10_000, 30_000, 100_000, 5_000_000] {
        let path = dir.path().join(format!("deep{levels}.reg"));
        let text = format!("{HEADER}{}{}", deep_key(levels), compliant_body());
        match levels < 1_000_000 {
            true => std::fs::write(&path, utf16(&text)).unwrap(),
            false => std::fs::write(&path, text).unwrap(),
        }
        let run = run(dir.path(), &["audit", path_str(&path)]);
        assert_eq!(run.code, 0, "{levels}: {}", run.out);
        let levels_deep = format!("{} levels deep", levels + 7);
        assert!(
            run.out.contains(&levels_deep) && run.out.contains("at most 512"),
            "{levels}: {}",
            run.out
        );
    }
}

/// Nested keys within Windows' 512 levels: one chain of 512 key lines is
/// read and audited; 10,000 and 30,000 nested keys (chains of 500 under
/// SCHANNEL, every path repeated in full on its line) would hold hundreds
/// of MB of paths, and are refused with the line where that was reached.
#[test]
fn nested_keys_are_audited_or_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let chains = |n: usize, depth: usize| {
        let mut t = String::from(HEADER);
        for c in 0..n {
            let mut key = format!("{PROTOCOLS}\\c{c}");
            for _ in 0..depth {
                key.push_str("\\k");
                t.push_str(&format!("[{key}]\r\n"));
            }
        }
        t.push_str(&compliant_body());
        t
    };
    let path = dir.path().join("chain.reg");
    std::fs::write(&path, chains(1, 505)).unwrap();
    let run1 = run(dir.path(), &["audit", path_str(&path)]);
    assert_eq!(run1.code, 0, "{}", run1.out);
    assert!(!run1.out.contains("levels deep"), "{}", run1.out);
    for (n, keys) in [(20, 10_000), (60, 30_000)] {
        let path = dir.path().join(format!("nested{keys}.reg"));
        std::fs::write(&path, chains(n, 500)).unwrap();
        let run = run(dir.path(), &["audit", path_str(&path)]);
        assert_eq!(run.code, 2, "{keys}: {}", run.out);
        assert!(run.out.contains("too much to keep: by line"), "{}", run.out);
    }
}

/// Endless values under a key an audit keeps: refused once they would take
/// 64 MiB, not read until memory runs out.
#[test]
fn endless_kept_values_are_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("values.reg");
    let mut f = BufWriter::new(File::create(&path).unwrap());
    f.write_all(HEADER.as_bytes()).unwrap();
    writeln!(f, "[{PROTOCOLS}\\TLS 1.2\\Client]\r").unwrap();
    for i in 0..600_000 {
        write!(f, "\"v{i}\"=hex:00,01,02,03,04,05,06,07\r\n").unwrap();
    }
    drop(f);
    let run = run(dir.path(), &["audit", path_str(&path)]);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(run.out.contains("too much to keep: by line"), "{}", run.out);
}

/// A hex value whose continuation lines go on past 16 MiB of data: counted
/// and let go as read, then a skipped line; the keys after it are audited.
#[test]
fn a_hex_value_without_end_is_skipped_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hex.reg");
    let mut f = BufWriter::new(File::create(&path).unwrap());
    f.write_all(HEADER.as_bytes()).unwrap();
    writeln!(f, "[{PROTOCOLS}\\TLS 1.2\\Client]\r").unwrap();
    f.write_all(b"\"Enabled\"=hex:00,\\\r\n").unwrap();
    let line = format!("  {}\\\r\n", "ff,".repeat(1024));
    for _ in 0..17 * 1024 {
        f.write_all(line.as_bytes()).unwrap();
    }
    f.write_all(b"  00\r\n").unwrap();
    f.write_all(compliant_body().as_bytes()).unwrap();
    drop(f);
    let run = run(dir.path(), &["audit", path_str(&path)]);
    assert_eq!(run.code, 0, "{}", run.out);
    let want = format!(
        "hex.reg:4:15: regedit skips this line: its hex data is {} bytes",
        17 * MIB + 2
    );
    assert!(run.out.contains(&want), "{}", run.out);
}

/// A key name over 255 characters whose 32nd byte falls inside a character
/// (300 x `é`, 256 x `日` under Protocols) once made the quote of it panic.
#[test]
fn long_multibyte_key_names_are_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    for (name, key) in [
        ("e.reg", format!("HKEY_LOCAL_MACHINE\\{}", "é".repeat(300))),
        ("ri.reg", format!("{PROTOCOLS}\\{}", "日".repeat(256))),
    ] {
        let path = dir.path().join(name);
        let text = format!(
            "{HEADER}[{key}]\r\n\"Enabled\"=dword:00000000\r\n{}",
            compliant_body()
        );
        for bytes in [utf16(&text), text.clone().into_bytes()] {
            std::fs::write(&path, bytes).unwrap();
            let run = run(dir.path(), &["audit", path_str(&path)]);
            assert_eq!(run.code, 0, "{name}: {}", run.out);
            assert!(
                run.out.contains(&format!("{name}:3:2:"))
                    && run.out.contains("is longer than 255 characters"),
                "{name}: {}",
                run.out
            );
        }
    }
}

/// `export` of one key from a large export keeps only the way to that key
/// and below it: 450,000 other keys (about 50 MB, which read whole cost
/// over 800 MB) do not count against memory.
#[test]
fn exporting_one_key_of_a_large_export_reads_only_that_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hklm.reg");
    let mut w = BufWriter::new(File::create(&path).unwrap());
    w.write_all(HEADER.as_bytes()).unwrap();
    for i in 0..450_000 {
        write!(
            w,
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Svc{i}]\r\n\"ImagePath\"=\"C:\\\\Windows\\\\svc{i}.exe\"\r\n\r\n"
        )
        .unwrap();
    }
    w.write_all(compliant_body().as_bytes()).unwrap();
    drop(w);
    assert!(std::fs::metadata(&path).unwrap().len() > 40 * MIB);
    let out = dir.path().join("schannel.reg");
    let run = run(
        dir.path(),
        &[
            "export",
            path_str(&path),
            "-o",
            path_str(&out),
            "--encoding",
            "utf8",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.out);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("TLS 1.2\\Client]"), "{text}");
    assert!(!text.contains("Svc1"), "{text}");
}
