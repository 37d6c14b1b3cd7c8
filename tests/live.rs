//! `--live` on a real registry API: samples imported with `reg import` are
//! audited live with the verdict, checks and findings of the file itself, and
//! `fix --live` writes the file's fix byte for byte. Windows only; run under
//! Wine (its `reg` and its registry) as the README says.
//!
//! One test function: the registry is shared by every test of the run.
#![cfg(windows)]

mod common;

use std::process::Command;

use common::{Run, tlsreg, utf16};
use serde_json::Value as Json;

const SCHANNEL: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL";
const CURRENT_VERSION: &str = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";

/// The samples that target the live registry (`CurrentControlSet`) and
/// nothing else a machine needs.
const SAMPLES: &[&str] = &[
    "samples/noncompliant.reg",
    "samples/compliant.reg",
    "samples/enabled-ffffffff.reg",
    "samples/wrong-type.reg",
];

/// Runs the system's `reg.exe`.
fn reg(args: &[&str]) -> std::process::Output {
    common::retrying(|| Command::new("reg").args(args).output()).expect("run reg")
}

fn reg_ok(args: &[&str]) {
    let out = reg(args);
    assert!(
        out.status.success(),
        "reg {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes the SCHANNEL key; absent is fine (`reg delete` then fails, and
/// the key is checked gone instead).
fn delete_schannel() {
    let _ = reg(&["delete", SCHANNEL, "/f"]);
    assert!(
        !reg(&["query", SCHANNEL]).status.success(),
        "SCHANNEL is gone"
    );
}

/// Puts the machine's SCHANNEL key back as it was, whatever the test did.
struct Restore(Option<std::path::PathBuf>);

impl Restore {
    fn save(dir: &std::path::Path) -> Restore {
        let backup = dir.join("schannel-before.reg");
        let saved = reg(&["export", SCHANNEL, path(&backup), "/y"])
            .status
            .success();
        Restore(saved.then_some(backup))
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = reg(&["delete", SCHANNEL, "/f"]);
        if let Some(backup) = &self.0 {
            let _ = reg(&["import", path(backup)]);
        }
    }
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

fn json(run: &Run, what: &str) -> Json {
    serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{what}: {e}: {}", run.stderr))
}

/// What an audit says of its input, without where each thing was found
/// (a registry has no line numbers) or the input's name.
fn said(doc: &Json) -> (Json, Vec<Json>, Vec<Json>) {
    let input = &doc["inputs"][0];
    let pick = |v: &Json, keys: &[&str]| -> Json {
        keys.iter().map(|k| (k.to_string(), v[k].clone())).collect()
    };
    let findings = input["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| pick(f, &["code", "severity", "message", "suggestion"]))
        .collect();
    let checks = input["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            pick(
                c,
                &[
                    "key",
                    "value",
                    "expected",
                    "found",
                    "found_type",
                    "status",
                    "non_canonical",
                    "check",
                    "note",
                ],
            )
        })
        .collect();
    let head = pick(input, &["verdict", "error", "policy", "control_set", "os"]);
    (head, findings, checks)
}

/// The text report's verdict line (`NONCOMPLIANT  NAME (2 of 4 checks fail)`),
/// with the input's name put as `INPUT`.
fn verdict_line(run: &Run, name: &str) -> String {
    let text = run.out();
    let line = text
        .lines()
        .find(|l| l.starts_with("COMPLIANT") || l.starts_with("NONCOMPLIANT"))
        .unwrap_or_else(|| panic!("no verdict line in {text}"));
    line.replacen(name, "INPUT", 1)
}

/// `sample` with the machine's own OS version after it: the live registry
/// holds the SOFTWARE hive, a sample does not, and what Windows does when a
/// value is absent depends on the version. Same data, same findings.
fn with_machine_os(sample: &str, os: &[u8]) -> Vec<u8> {
    let text = |bytes: &[u8]| -> String {
        let units: Vec<u16> = bytes
            .strip_prefix(&[0xFF, 0xFE])
            .expect("UTF-16LE with BOM")
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).expect("UTF-16")
    };
    let sample = text(&std::fs::read(sample).unwrap());
    let os = text(os);
    let body = os
        .split_once('\n')
        .map(|(_, rest)| rest)
        .expect("a header line");
    utf16(&format!("{sample}\r\n{body}"))
}

#[test]
fn samples_imported_with_reg_are_audited_live_as_the_files_are() {
    let dir = tempfile::tempdir().unwrap();
    let _restore = Restore::save(dir.path());
    let os_file = dir.path().join("os.reg");
    reg_ok(&["export", CURRENT_VERSION, path(&os_file), "/y"]);
    let os = std::fs::read(&os_file).unwrap();

    for &sample in SAMPLES {
        delete_schannel();
        reg_ok(&["import", sample]);

        let live = tlsreg(&["audit", "--live", "--format", "json"]);
        let file = tlsreg(&["audit", sample, "--format", "json"]);
        assert_eq!(live.code, file.code, "{sample}: {}", live.stderr);
        let (live_doc, file_doc) = (json(&live, "live"), json(&file, sample));
        let input = &live_doc["inputs"][0];
        assert_eq!(input["kind"], "live", "{sample}");
        let name = input["path"].as_str().expect("a name").to_owned();
        assert!(name.ends_with(r"\HKLM"), "{sample}: {name}");
        assert!(
            input["read_as"].as_str().unwrap().contains("Windows API"),
            "{sample}"
        );
        assert!(input["os"].is_object(), "{sample}: the OS is read live");

        // The verdict and the checks are the file's; so are the findings,
        // once the file has the machine's OS version with it.
        let (live_head, live_findings, live_checks) = said(&live_doc);
        let (file_head, _, file_checks) = said(&file_doc);
        assert_eq!(live_head["verdict"], file_head["verdict"], "{sample}");
        assert_eq!(
            live_head["control_set"], file_head["control_set"],
            "{sample}"
        );
        assert_eq!(live_checks, file_checks, "{sample}");
        let both = dir.path().join("with-os.reg");
        std::fs::write(&both, with_machine_os(sample, &os)).unwrap();
        let with_os = tlsreg(&["audit", path(&both), "--format", "json"]);
        let (with_os_head, with_os_findings, _) = said(&json(&with_os, "with os"));
        assert_eq!(live_head, with_os_head, "{sample}");
        assert_eq!(live_findings, with_os_findings, "{sample}");

        let live_text = tlsreg(&["audit", "--live"]);
        let file_text = tlsreg(&["audit", sample]);
        assert_eq!(
            verdict_line(&live_text, &name),
            verdict_line(&file_text, sample),
            "{sample}"
        );

        let live_fix = tlsreg(&["fix", "--live"]);
        let file_fix = tlsreg(&["fix", sample]);
        assert_eq!(
            live_fix.code, file_fix.code,
            "{sample}: {}",
            live_fix.stderr
        );
        assert!(live_fix.stdout == file_fix.stdout, "{sample}: fix differs");

        // The fix, applied on top of the live registry, makes it compliant.
        if !live_fix.stdout.is_empty() {
            let fix = dir.path().join("fix.reg");
            std::fs::write(&fix, &live_fix.stdout).unwrap();
            let checked = tlsreg(&["audit", "--live", "--apply", path(&fix)]);
            assert_eq!(checked.code, 0, "{sample}: {}", checked.out());
        }
    }
}
