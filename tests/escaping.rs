//! Names cannot forge report lines or reach the terminal raw: control
//! characters, line separators and bidi overrides in file names, key names,
//! value names, string data and error messages are shown escaped.

mod common;

use std::fs;
#[cfg(unix)]
use std::path::Path;

use common::{hex_sz, tlsreg_in, utf16};
use tlsreg::report::text::escape;

// Names with these characters can be made only where file names allow them.
#[cfg(unix)]
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
#[cfg(unix)]
const FORGED: &str = "a\nCOMPLIANT     fake.reg";
#[cfg(unix)]
const ESC: &str = "b\x1b[2J\x1b]0;title\x07c.reg";

/// Nothing a terminal acts on: no ESC, BEL, CR, C1 control, line separator or
/// bidi override.
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(bad.is_empty(), "{what} holds raw {bad:?}:\n{text}");
}

fn assert_not_forged(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        assert!(
            !line.starts_with("COMPLIANT     fake.reg") && !line.starts_with("COMPLIANT     fake"),
            "{what} has a forged line: {line:?}"
        );
    }
}

#[test]
fn the_convention() {
    assert_eq!(escape("plain\\path é"), "plain\\path é");
    assert_eq!(
        escape(
            "a\nb\rc\td\x1b[e\x07\x7f\u{85}\u{9b}\u{2028}\u{2029}\u{202a}\u{202e}\u{2066}\u{2069}"
        ),
        "a\\nb\\rc\\td\\x1b[e\\x07\\x7f\\u{85}\\u{9b}\\u{2028}\\u{2029}\\u{202a}\\u{202e}\\u{2066}\\u{2069}"
    );
}

#[cfg(unix)]
#[test]
fn file_names_in_a_fleet_cannot_forge_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet");
    fs::create_dir(&fleet).unwrap();
    let sample = |s: &str| Path::new(ROOT).join("samples").join(s);
    fs::copy(sample("noncompliant.reg"), fleet.join(FORGED)).unwrap();
    fs::copy(sample("compliant.reg"), fleet.join(ESC)).unwrap();
    fs::copy(sample("compliant.reg"), fleet.join("bidi\u{202e}ger.reg")).unwrap();
    // A hive that cannot be read: its name is in the report's error lines.
    let mut hive = b"regf".to_vec();
    hive.resize(4096, 0);
    fs::write(fleet.join("broken\n\x1b[1mbad"), hive).unwrap();

    let run = tlsreg_in(dir.path(), &["audit", "fleet"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_not_forged("the text report", &run.stdout);
    assert_inert("the text report", &run.stdout);
    assert_inert("standard error", run.stderr.as_bytes());
    let out = run.out();
    assert!(
        out.contains("NONCOMPLIANT  fleet/a\\nCOMPLIANT     fake.reg"),
        "{out}"
    );
    assert!(
        out.contains("fleet/b\\x1b[2J\\x1b]0;title\\x07c.reg"),
        "{out}"
    );
    assert!(out.contains("fleet/bidi\\u{202e}ger.reg"), "{out}");
    assert!(
        out.contains("ERROR         fleet/broken\\n\\x1b[1mbad"),
        "{out}"
    );

    // One report for one file: the "Next:" line names it escaped too.
    let run = tlsreg_in(&fleet, &["audit", FORGED]);
    assert_not_forged("the text report", &run.stdout);
    assert!(
        run.out()
            .contains("Next: tlsreg fix 'a\\nCOMPLIANT     fake.reg' -o fix.reg"),
        "{}",
        run.out()
    );

    // JSON escapes by its own rules: each jsonl record is one line, and the
    // names come back exactly.
    let run = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "fleet"]);
    let text = run.out();
    // The last line is the run's counts (what `tlsreg merge` checks).
    let (records, trailer) = text.trim_end().rsplit_once('\n').unwrap();
    let trailer: serde_json::Value = serde_json::from_str(trailer).unwrap();
    assert_eq!(trailer["summary"]["inputs"], 4, "{trailer}");
    let names: Vec<String> = records
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON record a line");
            v["path"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&format!("fleet/{FORGED}")), "{names:?}");
    assert!(!text.contains('\x1b'));
}

/// A .reg file whose key names, value names and string data hold what
/// regedit accepts there: ESC, BEL and U+202E anywhere on a line, and a
/// newline in REG_SZ data written as hex(1).
fn hostile_reg() -> Vec<u8> {
    let base = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols";
    utf16(&format!(
        "Windows Registry Editor Version 5.00\r\n\r\n\
         [{base}\\TLS 1.2\\Client]\r\n\
         \"Enabled\"=hex(1):{}\r\n\
         \"DisabledByDefault\x1b[2J\"=dword:00000000\r\n\
         \"Enab\x1b]0;t\x07led\"=dword:00000001\r\n\r\n\
         [{base}\\TLS 1.2\x1b[31m\\Server]\r\n\
         \"Enabled\"=dword:00000001\r\n\r\n\
         [{base}\\TLS 1.2\\Server\u{202e}]\r\n\
         \"Enabled\"=dword:00000001\r\n",
        hex_sz("1\nCOMPLIANT     fake.reg\x1b[2J")
    ))
}

#[test]
fn registry_names_and_data_cannot_forge_report_lines() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("names.reg"), hostile_reg()).unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "--matrix", "names.reg"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_not_forged("the text report", &run.stdout);
    assert_inert("the text report", &run.stdout);
    let out = run.out();
    assert!(
        out.contains("\"1\\nCOMPLIANT     fake.reg\\x1b[2J\""),
        "{out}"
    );
    assert!(out.contains("`TLS 1.2\\Server\\u{202e}`"), "{out}");
    assert!(out.contains("`TLS 1.2\\x1b[31m`"), "{out}");

    // diff names its input in its header: escaped too.
    #[cfg(unix)]
    {
        fs::write(dir.path().join(ESC), hostile_reg()).unwrap();
        let run = tlsreg_in(dir.path(), &["diff", "--color", "never", ESC]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_inert("the diff", &run.stdout);
        assert!(run.out().contains("--- b\\x1b[2J"), "{}", run.out());
    }

    // The same data in JSON stays exact and escaped by JSON's rules.
    let run = tlsreg_in(dir.path(), &["audit", "--format", "json", "names.reg"]);
    let text = run.out();
    assert!(
        !text.contains('\x1b') && !text.contains("\nCOMPLIANT"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc.to_string()
            .contains("1\\nCOMPLIANT     fake.reg\\u001b[2J")
    );
}

#[cfg(unix)]
#[test]
fn error_messages_escape_names() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sample = |s: &str| Path::new(ROOT).join("samples").join(s);
    fs::copy(sample("noncompliant.reg"), d.join(FORGED)).unwrap();
    fs::copy(sample("compliant.reg"), d.join(ESC)).unwrap();
    let missing = "gone\nCOMPLIANT     fake\x1b[2J.reg";
    let out = "out\nCOMPLIANT     fake\x1b[2J.reg";
    for (args, code, shown) in [
        (
            vec!["fix", missing],
            2,
            "gone\\nCOMPLIANT     fake\\x1b[2J.reg",
        ),
        (vec!["diff", missing], 2, "gone\\nCOMPLIANT"),
        (vec!["export", missing], 2, "gone\\nCOMPLIANT"),
        (
            vec!["fix", ESC],
            0,
            "b\\x1b[2J\\x1b]0;title\\x07c.reg: nothing to fix",
        ),
        (
            vec!["diff", ESC],
            0,
            "b\\x1b[2J\\x1b]0;title\\x07c.reg: nothing to fix",
        ),
        (
            vec!["fix", FORGED, "-o", FORGED],
            2,
            "refusing to write a\\nCOMPLIANT",
        ),
        (
            vec!["fix", FORGED, "-o", out],
            0,
            "wrote out\\nCOMPLIANT     fake\\x1b[2J.reg",
        ),
        (
            vec!["fix", FORGED, "-o", out],
            2,
            "out\\nCOMPLIANT     fake\\x1b[2J.reg: the file exists",
        ),
        (
            vec!["audit", "--policy", missing, FORGED],
            2,
            "gone\\nCOMPLIANT",
        ),
    ] {
        let run = tlsreg_in(d, &args);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert_inert("standard error", run.stderr.as_bytes());
        assert_not_forged("standard error", run.stderr.as_bytes());
        assert!(run.stderr.contains(shown), "{args:?}: {}", run.stderr);
    }
}
