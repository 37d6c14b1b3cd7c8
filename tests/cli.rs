//! The command line, end to end: verdicts and exit codes on every sample,
//! reports as insta snapshots, fix files byte for byte, and the round trip
//! (a sample with its fix applied audits compliant).

mod common;

use common::{findings, tlsreg, tlsreg_in, utf16};

const SAMPLES: &[(&str, i32)] = &[
    ("samples/compliant.reg", 0),
    ("samples/noncompliant.reg", 1),
    ("samples/enabled-ffffffff.reg", 0),
    ("samples/wrong-type.reg", 1),
    ("samples/deleted.reg", 1),
    ("samples/golden-mounted.reg", 1),
    ("samples/translated/en-US.reg", 0),
    ("samples/translated/pl-PL.reg", 1),
    ("samples/translated/zh-TW.reg", 1),
    ("samples/translated/uk-UA.reg", 1),
    ("samples/translated/vi-VN.reg", 1),
    ("samples/translated/he-IL.reg", 1),
    ("samples/translated/de-DE.reg", 1),
    ("samples/translated/fr-FR.reg", 1),
    ("samples/translated/es-ES.reg", 1),
    ("samples/translated/ru-RU.reg", 1),
    ("samples/translated/ja-JP.reg", 1),
];

fn snapshot_name(path: &str) -> String {
    path.trim_start_matches("samples/")
        .trim_end_matches(".reg")
        .replace('/', "-")
}

#[test]
fn every_sample_has_the_right_verdict_and_report() {
    for (path, code) in SAMPLES {
        let run = tlsreg(&["audit", path]);
        assert_eq!(run.code, *code, "{path}: {}", run.stderr);
        snapshot!(format!("audit-{}", snapshot_name(path)), run.out());
    }
}

#[test]
fn json_report_for_several_inputs() {
    let run = tlsreg(&[
        "audit",
        "--format",
        "json",
        "samples/compliant.reg",
        "samples/noncompliant.reg",
        "samples/enabled-ffffffff.reg",
        "samples/wrong-type.reg",
        "samples/does-not-exist.reg",
    ]);
    assert_eq!(run.code, 2, "an unreadable input makes the run exit 2");
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON document");
    let verdicts: Vec<&str> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        [
            "compliant",
            "noncompliant",
            "compliant",
            "noncompliant",
            "error"
        ]
    );
    assert_eq!(doc["summary"]["error"], 1);
    assert!(run.stderr.contains("does-not-exist.reg"), "{}", run.stderr);
    // A file that could not be opened was never read: it claims no kind,
    // and merge takes its line as it is.
    assert_eq!(doc["inputs"][4]["kind"], "unknown");
    let dir = tempfile::tempdir().unwrap();
    let lines = tlsreg(&["audit", "--format", "jsonl", "samples/does-not-exist.reg"]);
    std::fs::write(dir.path().join("a.jsonl"), &lines.stdout).unwrap();
    let merged = tlsreg_in(dir.path(), &["merge", "--format", "jsonl", "a.jsonl"]);
    assert_eq!(merged.code, 2, "{}", merged.stderr);
    assert!(
        merged.out().starts_with(
            "{\"path\":\"samples/does-not-exist.reg\",\"kind\":\"unknown\",\"verdict\":\"error\""
        ),
        "{}",
        merged.out()
    );
    let text = serde_json::to_string_pretty(&doc).unwrap();
    // The OS's own wording of "file not found" is not ours to snapshot.
    let text = text.replace(
        &std::io::Error::from(std::io::ErrorKind::NotFound).to_string(),
        "<not found>",
    );
    snapshot!("audit-json", text);
}

/// Writes `name` in `dir`: a regedit file whose one key line, the TLS 1.2
/// Server key, is followed by `rest`; returns its path.
fn server_reg(dir: &std::path::Path, name: &str, rest: &str) -> String {
    let path = dir.join(name);
    let text = format!(
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server]{rest}\r\n\r\n"
    );
    std::fs::write(&path, utf16(&text)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Each failing check has exactly one error finding naming its key and
/// value (`TLS 1.2\Server\Enabled`), whatever made it fail: a filter on
/// severity finds every one.
#[test]
fn every_failing_check_has_one_error_finding() {
    let dir = tempfile::tempdir().unwrap();
    // The values on the key's line: regedit ignores them.
    let key_line = server_reg(dir.path(), "key-line.reg", "\"Enabled\"=dword:00000001");
    let mut paths: Vec<&str> = SAMPLES.iter().map(|(p, _)| *p).collect();
    paths.push(&key_line);
    for path in paths {
        let run = tlsreg(&["audit", "--format", "json", path]);
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let errors: Vec<&str> = findings(&doc)
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["message"].as_str().unwrap())
            .collect();
        for c in doc["inputs"][0]["checks"].as_array().unwrap() {
            if matches!(c["status"].as_str(), Some("ok" | "not-evaluated")) {
                continue;
            }
            let key = c["key"].as_str().unwrap();
            let tail: Vec<&str> = key.rsplit('\\').take(2).collect();
            let name = format!("{}\\{}\\{}", tail[1], tail[0], c["value"].as_str().unwrap());
            let naming = errors.iter().filter(|m| m.contains(&name)).count();
            assert!(naming >= 1, "{path}: no error names {name}: {errors:#?}");
        }
        let failing = doc["inputs"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| !matches!(c["status"].as_str(), Some("ok" | "not-evaluated")))
            .count();
        let per_check = findings(&doc)
            .iter()
            .filter(|f| {
                f["severity"] == "error"
                    && matches!(
                        f["code"].as_str(),
                        Some(
                            "missing-key"
                                | "missing-value"
                                | "skipped-value"
                                | "wrong-value"
                                | "wrong-type"
                                | "unreadable-value"
                                | "must-be-absent"
                        )
                    )
            })
            .count();
        assert_eq!(
            per_check, failing,
            "{path}: one error per failing check: {errors:#?}"
        );
    }
}

/// Values written on the key's line are ignored by regedit: each failing
/// check still has its error, the one meant there cited at its place.
#[test]
fn values_on_the_key_line_are_errors_where_they_stand() {
    let dir = tempfile::tempdir().unwrap();
    server_reg(dir.path(), "key-line.reg", "\"Enabled\"=dword:00000001");
    let text = tlsreg_in(dir.path(), &["audit", "key-line.reg"]);
    assert_eq!(text.code, 1, "{}", text.stderr);
    snapshot!("audit-key-line", text.out());
    let json = tlsreg_in(dir.path(), &["audit", "--format", "json", "key-line.reg"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let errors: Vec<serde_json::Value> = findings(&doc)
        .iter()
        .filter(|f| f["severity"] == "error")
        .cloned()
        .collect();
    snapshot!(
        "audit-key-line-json",
        serde_json::to_string_pretty(&errors).unwrap()
    );
}

/// A value deleted with `"name"=-` and a key with `[-key]` are cited at
/// the deleting line, in the check and its finding; a value set again
/// after its deletion is cited at the line that set it.
#[test]
fn deletions_are_cited_at_the_deleting_line() {
    let run = tlsreg(&["audit", "--format", "json", "samples/deleted.reg"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let at: Vec<(String, u64)> = doc["inputs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!(
                    "{} {}",
                    c["status"].as_str().unwrap(),
                    c["value"].as_str().unwrap()
                ),
                c["location"]["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let want = [
        ("ok DisabledByDefault", 16),
        ("missing Enabled", 14),
        ("missing DisabledByDefault", 18),
        ("missing Enabled", 18),
    ];
    assert_eq!(
        at,
        want.map(|(s, l)| (s.to_owned(), l)).to_vec(),
        "{}",
        run.out()
    );
    let input = &doc["inputs"][0];
    let shown = serde_json::json!({"checks": input["checks"], "findings": input["findings"]});
    snapshot!(
        "audit-deleted-json",
        serde_json::to_string_pretty(&shown).unwrap()
    );
}

/// In each key's block, `required` starts in the same column on every
/// row, however long a found value; one too long for a column is written
/// whole on its own line.
#[test]
fn report_columns_line_up_in_each_block() {
    let dir = tempfile::tempdir().unwrap();
    let long = server_reg(
        dir.path(),
        "long.reg",
        "\r\n\"Enabled\"=hex:01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21\r\n\"DisabledByDefault\"=\"0\"",
    );
    for path in ["samples/wrong-type.reg", long.as_str()] {
        let out = tlsreg(&["audit", path]).out();
        let mut blocks = 0;
        for block in out
            .split("\n\n")
            .filter(|b| b.trim_start().starts_with("[HKEY"))
        {
            blocks += 1;
            let columns: Vec<usize> = block.lines().filter_map(|l| l.find(" required ")).collect();
            assert_eq!(columns.len(), 2, "{block}");
            assert!(columns.iter().all(|&c| c == columns[0]), "{block}");
        }
        assert_eq!(blocks, 2, "{out}");
    }
    let out = tlsreg(&["audit", &long]).out();
    assert!(
        out.contains("found (below)")
            && out.contains("\n                       found hex:01,02,03,"),
        "{out}"
    );
}

/// The `Next:` hint is the command that fixes what was audited, as it was
/// audited (the same `--apply` files), into a file the command does not
/// read; with nothing sensible to suggest, there is no hint.
#[test]
fn the_next_hint_fits_every_way_of_calling() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read("samples/noncompliant.reg").unwrap();
    for name in ["fix.reg", "tls12-fix.reg", "my server.reg", "server.reg"] {
        std::fs::write(dir.path().join(name), &sample).unwrap();
    }
    let cases: &[(&[&str], Option<&str>)] = &[
        (
            &["audit", "server.reg"],
            Some("tlsreg fix server.reg -o fix.reg"),
        ),
        // Never an output the command reads.
        (
            &["audit", "fix.reg"],
            Some("tlsreg fix fix.reg -o tls12-fix.reg"),
        ),
        (
            &["audit", "./fix.reg"],
            Some("tlsreg fix ./fix.reg -o tls12-fix.reg"),
        ),
        (
            &["audit", "fix.reg", "--apply", "tls12-fix.reg"],
            Some("tlsreg fix fix.reg --apply tls12-fix.reg -o fix-2.reg"),
        ),
        (
            &["audit", "server.reg", "--apply", "fix.reg"],
            Some("tlsreg fix server.reg --apply fix.reg -o tls12-fix.reg"),
        ),
        (
            &["audit", "my server.reg"],
            Some("tlsreg fix 'my server.reg' -o fix.reg"),
        ),
        // No INPUT: the file applied is what is checked, not a machine.
        (&["audit", "--apply", "fix.reg"], None),
        (
            &["audit", "--apply", "fix.reg", "--apply", "server.reg"],
            None,
        ),
    ];
    for (args, want) in cases {
        let run = tlsreg_in(dir.path(), args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        let out = run.out();
        let next: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("Next: "))
            .collect();
        assert_eq!(next, want.iter().copied().collect::<Vec<_>>(), "{args:?}");
    }
    // The hint runs, and writes the fix without touching what it reads.
    let run = tlsreg_in(
        dir.path(),
        &[
            "fix",
            "fix.reg",
            "--apply",
            "tls12-fix.reg",
            "-o",
            "fix-2.reg",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read(dir.path().join("fix.reg")).unwrap(), sample);
    let run = tlsreg_in(dir.path(), &["audit", "fix.reg", "--apply", "fix-2.reg"]);
    assert_eq!(run.code, 0, "{}", run.out());
    snapshot!(
        "audit-apply-next",
        tlsreg_in(dir.path(), &["audit", "server.reg", "--apply", "fix.reg"]).out()
    );
}

#[test]
fn exit_codes_follow_the_worst_input() {
    assert_eq!(tlsreg(&["audit", "samples/compliant.reg"]).code, 0);
    assert_eq!(
        tlsreg(&["audit", "samples/compliant.reg", "samples/noncompliant.reg"]).code,
        1
    );
    let run = tlsreg(&["audit", "samples/noncompliant.reg", "Cargo.toml"]);
    assert_eq!(run.code, 2);
    // The unreadable input is reported and the other one still audited.
    let out = run.out();
    assert!(
        out.contains("NONCOMPLIANT  samples/noncompliant.reg"),
        "{out}"
    );
    assert!(out.contains("ERROR         Cargo.toml"), "{out}");
    assert!(out.contains("not a registry file"), "{out}");
}

/// A hunk's numbers are the input's lines: every line the diff removes
/// stands at that line of the file, on every sample that has one (keys made
/// by a child's line, wrapped hex and translated files among them).
#[test]
fn diff_hunks_cite_the_input_lines() {
    let mut samples: Vec<std::path::PathBuf> = ["samples", "samples/translated"]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "reg"))
        .collect();
    samples.sort();
    let mut removed = 0;
    for path in &samples {
        let shown = path.to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let text = match bytes.strip_prefix(&[0xFF, 0xFE]) {
            Some(units) => String::from_utf16_lossy(
                &units
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect::<Vec<_>>(),
            ),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        };
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        let run = tlsreg(&["diff", "--color", "never", shown]);
        let out = run.out();
        let mut at = None;
        for line in out.lines().skip(2) {
            if let Some(header) = line.strip_prefix("@@ -") {
                let start = header.split([',', ' ']).next().unwrap();
                at = Some(start.parse::<usize>().unwrap());
                continue;
            }
            let n = at.as_mut().expect("a hunk header first");
            match line.as_bytes().first() {
                Some(b'-') => {
                    assert_eq!(lines.get(*n - 1), Some(&&line[1..]), "{shown}:{n}\n{out}");
                    removed += 1;
                    *n += 1;
                }
                Some(b' ') => *n += 1,
                _ => {}
            }
        }
    }
    assert!(removed >= 4, "the samples remove lines: {removed}");
}

#[test]
fn diff_shows_what_must_change() {
    let run = tlsreg(&["diff", "samples/noncompliant.reg"]);
    assert_eq!(run.code, 1);
    snapshot!("diff-noncompliant", run.out());
    let run = tlsreg(&["diff", "samples/compliant.reg"]);
    assert_eq!((run.code, run.stdout.len()), (0, 0));
    assert!(
        run.stderr
            .contains("nothing to fix, the input is compliant")
    );
    // One wording for "nothing to fix", whichever command says it.
    let fix = tlsreg(&["fix", "samples/compliant.reg"]);
    assert_eq!(
        fix.stderr,
        format!("{}; nothing was written\n", run.stderr.trim_end()),
    );
    let run = tlsreg(&["diff", "--color", "always", "samples/noncompliant.reg"]);
    assert!(
        run.out()
            .contains("\x1b[32m+\"DisabledByDefault\"=dword:00000000\x1b[0m")
    );
}

/// `--color auto` follows NO_COLOR, CLICOLOR and CLICOLOR_FORCE (standard
/// output is a pipe here, so plain by default); `always` and `never` are
/// what they say whatever the environment.
#[test]
fn diff_colour_follows_the_environment() {
    let green = "\x1b[32m+\"DisabledByDefault\"=dword:00000000\x1b[0m";
    for (color, env, coloured) in [
        ("auto", &[][..], false),
        ("auto", &[("CLICOLOR_FORCE", "1")][..], true),
        (
            "auto",
            &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")][..],
            false,
        ),
        ("auto", &[("CLICOLOR", "0")][..], false),
        ("always", &[("NO_COLOR", "1")][..], true),
        ("always", &[("CLICOLOR", "0")][..], true),
        ("never", &[("CLICOLOR_FORCE", "1")][..], false),
    ] {
        let args = ["diff", "--color", color, "samples/noncompliant.reg"];
        let run = env
            .iter()
            .fold(common::Cmd::new(&args), |c, &(k, v)| c.env(k, v))
            .run();
        assert_eq!(run.code, 1, "{color} {env:?}: {}", run.stderr);
        let out = run.out();
        if coloured {
            assert!(out.contains(green), "{color} {env:?}: {out}");
        } else {
            assert!(!out.contains('\x1b'), "{color} {env:?}: {out}");
            assert!(out.contains("\n+\"DisabledByDefault\"=dword:00000000\n"));
        }
    }
}

fn crlf(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

const TLS12: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2";

#[test]
fn fix_writes_only_what_must_change_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fix.reg");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/noncompliant.reg");
    let run = tlsreg(&["fix", sample, "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = crlf(&[
        "Windows Registry Editor Version 5.00",
        "",
        &format!("[{TLS12}]"),
        "",
        &format!("[{TLS12}\\Client]"),
        "\"DisabledByDefault\"=dword:00000000",
        "",
        &format!("[{TLS12}\\Server]"),
        "\"DisabledByDefault\"=dword:00000000",
        "",
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), utf16(&expected));
    // The same as UTF-8, to standard output.
    let run = tlsreg(&["fix", sample, "--encoding", "utf8"]);
    assert_eq!(run.out(), expected);
}

#[test]
fn fix_canonical_rewrites_ffffffff_and_nothing_else() {
    let run = tlsreg(&["fix", "samples/enabled-ffffffff.reg"]);
    assert_eq!(
        (run.code, run.stdout.len()),
        (0, 0),
        "compliant: nothing is written"
    );
    assert!(
        run.stderr.contains("nothing to fix") && run.stderr.contains("--canonical"),
        "{}",
        run.stderr
    );
    let run = tlsreg(&[
        "fix",
        "--canonical",
        "--encoding",
        "utf8",
        "samples/enabled-ffffffff.reg",
    ]);
    let expected = crlf(&[
        "Windows Registry Editor Version 5.00",
        "",
        &format!("[{TLS12}]"),
        "",
        &format!("[{TLS12}\\Client]"),
        "\"Enabled\"=dword:00000001",
        "",
        &format!("[{TLS12}\\Server]"),
        "\"Enabled\"=dword:00000001",
        "",
    ]);
    assert_eq!(run.out(), expected);
}

#[test]
fn fix_and_template_full_block_is_the_article() {
    let expected = utf16(&crlf(&[
        "Windows Registry Editor Version 5.00",
        "",
        &format!("[{TLS12}]"),
        "",
        &format!("[{TLS12}\\Client]"),
        "\"DisabledByDefault\"=dword:00000000",
        "\"Enabled\"=dword:00000001",
        "",
        &format!("[{TLS12}\\Server]"),
        "\"DisabledByDefault\"=dword:00000000",
        "\"Enabled\"=dword:00000001",
        "",
    ]));
    for (path, _) in SAMPLES {
        let run = tlsreg(&["fix", "--full", path]);
        assert_eq!(run.stdout, expected, "{path}");
    }
    assert_eq!(tlsreg(&["template"]).stdout, expected);
}

#[test]
fn fix_never_clobbers_and_never_leaves_half_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fix.reg");
    std::fs::write(&out, b"keep me").unwrap();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/noncompliant.reg");
    let run = tlsreg(&["fix", sample, "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let run = tlsreg(&["fix", sample, "-o", out.to_str().unwrap(), "--force"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read(&out).unwrap().starts_with(&[0xFF, 0xFE]));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A folder that does not exist: a clear error, nothing written.
    let run = tlsreg(&[
        "fix",
        sample,
        "-o",
        dir.path().join("no/such/dir/fix.reg").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("fix.reg"), "{}", run.stderr);
    // Nothing to fix: the file is not created.
    let compliant = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/compliant.reg");
    let none = dir.path().join("none.reg");
    let run = tlsreg(&["fix", compliant, "-o", none.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert!(!none.exists());
}

#[test]
fn every_noncompliant_sample_is_compliant_after_its_fix() {
    let dir = tempfile::tempdir().unwrap();
    for (path, code) in SAMPLES.iter().filter(|(_, c)| *c == 1) {
        let sample = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        let fix = dir.path().join(format!("{}.fix.reg", snapshot_name(path)));
        let run = tlsreg(&["fix", &sample, "-o", fix.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        let run = tlsreg(&["audit", "--apply", fix.to_str().unwrap(), &sample]);
        assert_eq!(run.code, 0, "{path} + its fix:\n{}", run.out());
        assert_eq!(*code, 1);
    }
}

#[test]
fn fix_on_a_mounted_export_applies_through_current_control_set() {
    // golden-mounted.reg holds HKLM\GOLDEN with Select\Current = 2; the fix
    // targets HKLM\SYSTEM\CurrentControlSet, which stands for that set.
    let run = tlsreg(&[
        "audit",
        "--apply",
        "samples/translated/en-US.reg",
        "samples/golden-mounted.reg",
    ]);
    assert_eq!(run.code, 0, "{}", run.out());
    assert!(
        run.out()
            .contains("control set  ControlSet002 (Select\\Current = 2)"),
        "{}",
        run.out()
    );
}

#[test]
fn apply_alone_starts_from_an_empty_machine() {
    assert_eq!(
        tlsreg(&["audit", "--apply", "samples/translated/en-US.reg"]).code,
        0
    );
    let run = tlsreg(&["audit", "--apply", "samples/translated/uk-UA.reg"]);
    assert_eq!(run.code, 1);
    let run = tlsreg(&["audit"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--apply"), "{}", run.stderr);
}

#[test]
fn help_teaches_every_command() {
    let run = tlsreg(&["--help"]);
    assert_eq!(run.code, 0);
    for cmd in ["audit", "diff", "fix", "template", "export", "merge"] {
        assert!(run.out().contains(cmd));
        let run = tlsreg(&[cmd, "--help"]);
        assert_eq!(run.code, 0, "{cmd}");
    }
    let fix = tlsreg(&["fix", "--help"]).out();
    for flag in [
        "--output",
        "--force",
        "--full",
        "--canonical",
        "--encoding",
        "--codepage",
        "--apply",
    ] {
        assert!(fix.contains(flag), "fix --help lacks {flag}");
    }
    snapshot!("help-audit", tlsreg(&["audit", "--help"]).out());
}

/// `--live` reads the running registry through the Windows API: elsewhere it
/// is an error that says what to give instead, before anything is printed.
#[cfg(not(windows))]
#[test]
fn live_is_a_clear_error_off_windows() {
    for args in [
        &["audit", "--live"][..],
        &["audit", "--live", "--format", "json"],
        &["fix", "--live", "-o", "never-written.reg"],
        &["diff", "--live"],
    ] {
        let run = tlsreg(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.out());
        for what in ["--live", "Windows API", ".reg file", "hive", "disk image"] {
            assert!(run.stderr.contains(what), "{args:?}: {}", run.stderr);
        }
    }
    assert!(!std::path::Path::new("never-written.reg").exists());
}

/// The live registry is an input of its own: never beside files, nor with
/// the options that only files have.
#[test]
fn live_takes_no_files() {
    for args in [
        &["audit", "--live", "samples/compliant.reg"][..],
        &["fix", "--live", "samples/compliant.reg"],
        &["diff", "--live", "samples/compliant.reg"],
        &["audit", "--live", "--software", "samples/compliant.reg"],
        &["fix", "--live", "--control-set", "1"],
        &["diff", "--live", "--no-logs"],
    ] {
        let run = tlsreg(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(
            run.stderr.contains("cannot be used with"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// A value an --apply file sets is located in that file, also where a
/// SOFTWARE hive read beside the input is a source before it.
#[test]
fn applied_values_are_located_in_their_file_beside_a_software_hive() {
    for args in [
        &["audit", "samples/images/gpt.raw"][..],
        &[
            "audit",
            "samples/hives/not-set.hiv",
            "--software",
            "samples/hives/compliant.hiv",
        ],
    ] {
        let args = [
            args,
            &["--apply", "samples/noncompliant.reg", "--format", "json"],
        ]
        .concat();
        let run = tlsreg(&args);
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let input = &doc["inputs"][0];
        assert!(
            input["software"].is_string(),
            "{args:?}: a SOFTWARE hive was read"
        );
        let files: Vec<&str> = input["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["location"]["file"].as_str())
            .collect();
        assert_eq!(files, ["samples/noncompliant.reg"; 3], "{args:?}");
    }
}

#[test]
fn runs_from_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.reg"),
        utf16("Windows Registry Editor Version 5.00\r\n"),
    )
    .unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "in.reg"]);
    assert_eq!(run.code, 1);
    assert!(run.out().contains("no SYSTEM keys"), "{}", run.out());
}

/// The same file in each encoding regedit reads: continuation lines,
/// comments, deletions and duplicates decide the verdict, not the encoding.
#[test]
fn audit_reads_all_four_encodings_with_the_whole_grammar() {
    let body = |tail: &str| {
        crlf(&[
            "",
            "; set by the deployment script",
            &format!("[{TLS12}\\Client]"),
            "\"Enabled\"=dword:00000000",
            "\"enabled\"=dword:00000001 ; a later write wins, names ignore case",
            "\"DisabledByDefault\"=dword:00000001",
            "\"DisabledByDefault\"=-",
            "\"DisabledByDefault\"=dword:0",
            "\"Owner\"=\"Müller\"",
            "\"Blob\"=hex:01,02,\\",
            "  ; a comment inside continued data",
            "  03,04",
            "",
            &format!("[{TLS12}\\Server]"),
            "\"Enabled\"=dword:00000000",
            &format!("[-{TLS12}\\Server]"),
            "\"Enabled\"=dword:00000000",
            &format!(
                "[{}\\SERVER]",
                TLS12
                    .to_lowercase()
                    .replace("hkey_local_machine", "HKEY_LOCAL_MACHINE")
            ),
            "\"DisabledByDefault\"=hex(4):00,00,\\",
            "  00,00",
            "\"Enabled\"=dword:1",
            tail,
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    for (tail, code) in [("", 0), (&format!("[-{TLS12}]") as &str, 1)] {
        let v5 = format!("Windows Registry Editor Version 5.00\r\n{}", body(tail));
        let v4 = format!("REGEDIT4\r\n{}", body(tail));
        let files: [(&str, Vec<u8>); 4] = [
            ("utf16.reg", utf16(&v5)),
            (
                "utf8-bom.reg",
                [&[0xEF, 0xBB, 0xBF][..], v5.as_bytes()].concat(),
            ),
            ("utf8.reg", v5.clone().into_bytes()),
            (
                "ansi.reg",
                v4.chars()
                    .map(|c| if c == 'ü' { 0xFC } else { c as u8 })
                    .collect(),
            ),
        ];
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let run = tlsreg(&["audit", "--format", "json", path.to_str().unwrap()]);
            assert_eq!(run.code, code, "{name} with tail {tail:?}: {}", run.out());
            let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
            let findings = findings(&doc);
            // Only the value after `[-...\Server]` is dropped, as regedit drops it.
            let skipped: Vec<_> = findings
                .iter()
                .filter(|f| f["code"] == "skipped-line")
                .map(|f| f["location"]["line"].as_u64().unwrap())
                .collect();
            assert_eq!(skipped, [18], "{name}: {findings:?}");
        }
    }
}

/// Every command that reads an input says it takes every kind `audit` reads,
/// and the top-level help names them too.
#[test]
fn help_texts_agree_on_what_an_input_may_be() {
    for args in [
        &["--help"][..],
        &["audit", "--help"],
        &["diff", "--help"],
        &["fix", "--help"],
        &["export", "--help"],
    ] {
        let help = tlsreg(args).out().replace('\n', " ");
        for kind in [".reg", "hive", "image", "WIM", "E01", "OVA", "URL"] {
            assert!(help.contains(kind), "{args:?} does not name {kind}: {help}");
        }
    }
}

/// A reader that goes away (`tlsreg audit samples | head`) ends the run
/// quietly: no "Broken pipe" message, no panic, and an exit status that says
/// the output is incomplete.
#[test]
// std::io::pipe is from Rust 1.87; only this test needs it, the crate
// itself builds with its rust-version (1.85).
#[allow(clippy::incompatible_msrv)]
fn a_closed_pipe_ends_the_run_quietly() {
    for args in [
        &["audit", "samples"][..],
        &["audit", "--format", "json", "samples"],
        &["diff", "samples/noncompliant.reg"],
    ] {
        // The reader is closed before the child starts, so its first write
        // finds none whatever the scheduling (dropped after the spawn, a
        // small output could fit the pipe's buffer first, and exit 1).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tlsreg"));
        command
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(std::process::Stdio::piped());
        // Through common's spawn, which rides out Wine's CreateProcess hiccup.
        let child = common::spawn(&mut command);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("standard output"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
