//! A fleet's report in the forms people and CI read it: `--summary` on one
//! screen, verdicts in colour, and JUnit XML checked against the rules of the
//! JUnit schema CI systems read (Jenkins' junit-10.xsd, as GitLab and Azure
//! Pipelines read it).

mod common;

use common::{Cmd, hex_sz, native, slashed, tlsreg, tlsreg_in, utf16};

/// How many of the samples cannot be read: three images, and the three
/// LZMS and solid WIMs where wimlib-imagex is not there to read them (as
/// under Wine; tests/images.rs shows both ways).
fn unreadable_samples() -> usize {
    let wimlib = std::process::Command::new("wimlib-imagex")
        .arg("--version")
        .output()
        .is_ok();
    if wimlib { 3 } else { 6 }
}

/// `--summary` over the bundled samples (57 inputs, 25 of them not
/// compliant, 14 configurations) fits one screen: at most 50 lines of at
/// most 120 characters, compliant inputs unnamed, every other one named.
#[test]
fn summary_of_the_samples_fits_one_screen() {
    let run = tlsreg(&["audit", "--summary", "samples"]);
    assert_eq!(run.code, 2, "images cannot be read: {}", run.stderr);
    let unread = unreadable_samples();
    let out = run.out();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() <= 50, "{} lines:\n{out}", lines.len());
    for l in &lines {
        assert!(l.chars().count() <= 120, "wider than 120: {l:?}");
    }
    let count = |word: &str| lines.iter().filter(|l| l.starts_with(word)).count();
    assert_eq!(count("COMPLIANT"), 0, "{out}");
    assert_eq!(count("NONCOMPLIANT"), 22, "{out}");
    assert_eq!(count("ERROR"), unread, "{out}");
    let counts = format!(
        "Summary: 57 inputs: {} compliant, 22 noncompliant, {unread} could not be read; 11 files skipped",
        57 - 22 - unread
    );
    assert!(out.contains(&counts), "{out}");
    assert!(out.contains("Configurations (14;"), "{out}");
    // Why, compactly, beside each name.
    let de = format!(
        "NONCOMPLIANT  {}: TLS 1.2\\Client+Server: DisabledByDefault, Enabled missing",
        native("samples/translated/de-DE.reg")
    );
    assert!(lines.contains(&de.as_str()), "{out}");
    // No per-input block: no key headers, no findings.
    assert!(!out.contains("  [HKEY_LOCAL_MACHINE"), "{out}");
    assert!(!out.contains("Findings:"), "{out}");
    // The full report of the same run is the long one this replaces.
    let full = tlsreg(&["audit", "samples"]).out();
    assert!(full.lines().count() > 10 * lines.len());
}

#[test]
fn summary_snapshot_and_its_formats() {
    // Files named one by one are echoed as given on every system.
    let args = [
        "audit",
        "--summary",
        "samples/compliant.reg",
        "samples/noncompliant.reg",
        "samples/wrong-type.reg",
        "samples/hives/reg-sz.hiv",
        "samples/images/mbr.raw",
        "samples/images/bitlocker.raw",
    ];
    let run = tlsreg(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    snapshot!("audit-summary", run.out());
    // A summary is for people: machine formats refuse it, before reading.
    for format in ["json", "jsonl", "junit"] {
        let run = tlsreg(&["audit", "--summary", "--format", format, "samples"]);
        assert_eq!(run.code, 2);
        assert!(run.stdout.is_empty(), "{format}");
        assert!(
            run.stderr.contains("--summary is for the text report"),
            "{format}: {}",
            run.stderr
        );
    }
    // One compliant input: nothing but the counts.
    let run = tlsreg(&["audit", "--summary", "samples/compliant.reg"]);
    assert_eq!(run.code, 0);
    assert!(!run.out().contains("COMPLIANT "), "{}", run.out());
    assert!(run.out().contains("Summary: 1 inputs: 1 compliant"));
}

const GREEN: &str = "\x1b[1m\x1b[32mCOMPLIANT\x1b[0m";
const RED: &str = "\x1b[1m\x1b[31mNONCOMPLIANT\x1b[0m";
const YELLOW: &str = "\x1b[1m\x1b[33m";

/// Escape sequences only around verdict words, none anywhere else.
fn assert_only_verdicts_styled(out: &str) {
    let mut rest = out.replace(GREEN, "").replace(RED, "");
    for word in ["ERROR", "SKIPPED"] {
        rest = rest.replace(&format!("{YELLOW}{word}\x1b[0m"), "");
    }
    assert!(
        !rest.contains('\x1b'),
        "an escape outside a verdict:\n{rest}"
    );
}

#[test]
fn verdicts_in_colour_only_when_asked_or_on_a_terminal() {
    let inputs = [
        "samples/compliant.reg",
        "samples/noncompliant.reg",
        "samples/images/bitlocker.raw",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        [&["audit"][..], extra, &inputs[..]]
            .concat()
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run_with = |args: &[String], env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = Cmd::new(&args);
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.run().out()
    };
    for extra in [
        &["--color", "always"][..],
        &["--summary", "--color", "always"],
    ] {
        let out = run_with(&with(extra), &[]);
        assert_only_verdicts_styled(&out);
        assert!(out.contains(RED), "{extra:?}: {out}");
        assert!(
            out.contains(&format!(
                "{YELLOW}ERROR\x1b[0m         samples/images/bitlocker.raw"
            )),
            "{out}"
        );
        if !extra.contains(&"--summary") {
            assert!(out.contains(&format!("{GREEN}     samples/compliant.reg")));
        }
    }
    // never, auto on a pipe, and NO_COLOR over CLICOLOR_FORCE: no escape.
    let plain = [
        (with(&["--color", "never"]), vec![("CLICOLOR_FORCE", "1")]),
        (with(&[]), vec![]),
        (with(&["--color", "auto"]), vec![("TERM", "xterm-256color")]),
        (
            with(&["--color", "auto"]),
            vec![("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        ),
    ];
    for (args, env) in &plain {
        let out = run_with(args, env);
        assert!(!out.contains('\x1b'), "{args:?} {env:?}:\n{out}");
    }
    // CLICOLOR_FORCE colours auto anywhere, as for diff.
    let out = run_with(&with(&[]), &[("CLICOLOR_FORCE", "1")]);
    assert!(out.contains(RED), "{out}");
    // Machine formats never carry colour.
    let out = run_with(&with(&["--format", "junit", "--color", "always"]), &[]);
    assert!(!out.contains('\x1b'), "{out}");
}

/// On a real terminal (a pty from `script`): colour in auto, none with
/// TERM=dumb or NO_COLOR.
#[cfg(target_os = "linux")]
#[test]
fn auto_colours_a_terminal_unless_dumb_or_no_color() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no `script` here to make a terminal: skipped");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_tlsreg");
    let on_a_terminal = |env: &[(&str, &str)]| {
        let mut c = std::process::Command::new("script");
        c.args([
            "-qec",
            &format!("{exe} audit --summary samples/noncompliant.reg"),
            "/dev/null",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE")
        // anstream colours a terminal in CI whatever TERM says.
        .env_remove("CI")
        .stdin(std::process::Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = on_a_terminal(&[("TERM", "xterm-256color")]);
    assert!(out.contains(RED), "{out:?}");
    let out = on_a_terminal(&[("TERM", "dumb")]);
    assert!(
        out.contains("NONCOMPLIANT") && !out.contains('\x1b'),
        "{out:?}"
    );
    let out = on_a_terminal(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")]);
    assert!(
        out.contains("NONCOMPLIANT") && !out.contains('\x1b'),
        "{out:?}"
    );
    let out = on_a_terminal(&[("TERM", "xterm-256color"), ("CLICOLOR", "0")]);
    assert!(
        out.contains("NONCOMPLIANT") && !out.contains('\x1b'),
        "{out:?}"
    );
}

/// Names from the input are escaped before the verdict is styled: a file
/// name holding an escape sequence shows as text, coloured or not.
#[cfg(unix)]
#[test]
fn colour_never_lets_a_name_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let name = "b\x1b[2J\x1b]0;title\x07c.reg";
    std::fs::copy(
        format!("{}/samples/noncompliant.reg", env!("CARGO_MANIFEST_DIR")),
        dir.path().join(name),
    )
    .unwrap();
    for extra in [&[][..], &["--summary"]] {
        let args = [&["audit", "--color", "always"][..], extra, &[name]].concat();
        let out = tlsreg_in(dir.path(), &args).out();
        assert_only_verdicts_styled(&out);
        assert!(
            out.contains(&format!("{RED}  b\\x1b[2J\\x1b]0;title\\x07c.reg")),
            "{out}"
        );
    }
}

/// The rules of the common JUnit schema (junit-10.xsd, what Jenkins,
/// GitLab and Azure Pipelines read), checked on a parsed document; returns
/// (suites, tests, failures, errors, skipped) added up.
fn check_junit(xml: &str) -> (usize, usize, usize, usize, usize) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let root = doc.root_element();
    let suites: Vec<roxmltree::Node> = match root.tag_name().name() {
        "testsuites" => {
            // Its attributes are all optional; any count it gives must hold.
            for child in root.children().filter(|n| n.is_element()) {
                assert_eq!(child.tag_name().name(), "testsuite", "under testsuites");
            }
            root.children().filter(|n| n.is_element()).collect()
        }
        "testsuite" => vec![root],
        other => panic!("the root is {other}, not testsuites or testsuite"),
    };
    let number = |n: &roxmltree::Node, a: &str| -> usize {
        n.attribute(a)
            .unwrap_or_else(|| panic!("testsuite without {a}"))
            .parse()
            .unwrap_or_else(|e| panic!("{a} is not a count: {e}"))
    };
    let mut total = (suites.len(), 0, 0, 0, 0);
    for s in &suites {
        assert!(s.attribute("name").is_some(), "a testsuite without name");
        let (tests, failures, errors) = (
            number(s, "tests"),
            number(s, "failures"),
            number(s, "errors"),
        );
        let skipped = s.attribute("skipped").map_or(0, |_| number(s, "skipped"));
        let mut seen = (0, 0, 0, 0);
        let mut after_cases = false;
        for child in s.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "properties" => assert!(seen.0 == 0, "properties come first"),
                "testcase" => {
                    assert!(!after_cases, "testcase after system-out");
                    seen.0 += 1;
                    assert!(child.attribute("name").is_some(), "testcase without name");
                    assert!(
                        child.attribute("classname").is_some(),
                        "testcase without classname"
                    );
                    let results: Vec<_> = child.children().filter(|n| n.is_element()).collect();
                    assert!(results.len() <= 1, "one result per testcase");
                    for r in results {
                        match r.tag_name().name() {
                            "failure" | "error" => {
                                assert!(r.attribute("message").is_some(), "no message");
                                assert!(r.attribute("type").is_some(), "no type");
                                match r.tag_name().name() {
                                    "failure" => seen.1 += 1,
                                    _ => seen.2 += 1,
                                }
                            }
                            "skipped" => seen.3 += 1,
                            other => panic!("{other} in a testcase"),
                        }
                    }
                }
                "system-out" | "system-err" => after_cases = true,
                other => panic!("{other} in a testsuite"),
            }
        }
        assert_eq!(seen, (tests, failures, errors, skipped), "counts of {s:?}");
        total.1 += tests;
        total.2 += failures;
        total.3 += errors;
        total.4 += skipped;
    }
    total
}

#[test]
fn junit_of_the_samples_is_valid_and_counts_what_the_audit_found() {
    let run = tlsreg(&["audit", "--format", "junit", "samples"]);
    assert_eq!(run.code, 2, "exit codes as for text: {}", run.stderr);
    let xml = run.out();
    let (suites, tests, failures, errors, skipped) = check_junit(&xml);
    // A suite per input (57), four checks each, one `read` case for each
    // unreadable image; skipped files are left out.
    let unread = unreadable_samples();
    assert_eq!(suites, 57);
    assert_eq!(tests, (57 - unread) * 4 + unread);
    assert_eq!(errors, unread);
    assert_eq!(skipped, 0);
    assert!(failures > 0);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = doc
        .descendants()
        .find(|n| {
            n.attribute("classname") == Some(native("samples/translated/de-DE.reg").as_str())
                && n.attribute("name") == Some("TLS 1.2\\Client\\Enabled")
        })
        .expect("a testcase per input and check");
    let failure = case.first_element_child().unwrap();
    assert_eq!(failure.tag_name().name(), "failure");
    assert_eq!(failure.attribute("type"), Some("missing"));
    assert!(!xml.contains("SKIPPED") && !xml.contains("README.md"));
    // Each file skipped is not a test.
    let names: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| slashed(n.attribute("name").unwrap()))
        .collect();
    assert!(names.contains(&"samples/images/bitlocker.raw".to_owned()));
    assert!(!names.iter().any(|n| n.ends_with(".LOG1")));

    // Every input compliant: exit 0, no failure.
    let run = tlsreg(&["audit", "--format", "junit", "samples/compliant.reg"]);
    assert_eq!(run.code, 0);
    assert_eq!(check_junit(&run.out()), (1, 4, 0, 0, 0));
    let run = tlsreg(&["audit", "--format", "junit", "samples/noncompliant.reg"]);
    assert_eq!(run.code, 1);
    assert_eq!(check_junit(&run.out()), (1, 4, 2, 0, 0));

    // A policy with .NET's values: an export holds no SOFTWARE hive, so
    // they are <skipped/>; every case's name is its own.
    let run = tlsreg(&[
        "audit",
        "--policy",
        "exchange",
        "--format",
        "junit",
        "samples/compliant.reg",
    ]);
    let xml = run.out();
    let (_, tests, _, errors, skipped) = check_junit(&xml);
    assert!(skipped > 0 && errors == 0, "{xml}");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let mut names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(names.contains(
        &"SOFTWARE\\WOW6432Node\\Microsoft\\.NETFramework\\v4.0.30319\\SchUseStrongCrypto"
    ));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), tests, "{xml}");
}

#[test]
fn junit_snapshot() {
    let run = tlsreg(&[
        "audit",
        "--format",
        "junit",
        "samples/noncompliant.reg",
        "samples/wrong-type.reg",
        "samples/images/bitlocker.raw",
    ]);
    assert_eq!(run.code, 2);
    snapshot!("audit-junit", run.out());
}

/// What a hostile name can hold: markup, quotes, controls XML 1.0 forbids,
/// an escape sequence, a bidi override, a noncharacter.
const HOSTILE: &str = "<&\"'\x01\x0b\x1b[31m\u{202e}\u{fffe}";

/// A .reg whose key names and string data hold [`HOSTILE`] (the data with
/// a newline, as hex(1)); the data reaches the failure and the findings.
fn hostile_reg() -> Vec<u8> {
    let key = |k: &str| {
        format!(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\{k}]"
        )
    };
    let enabled = "\"Enabled\"=dword:00000001".to_owned();
    let lines = [
        "Windows Registry Editor Version 5.00".to_owned(),
        String::new(),
        key("TLS 1.2\\Client"),
        format!("\"Enabled\"=hex(1):{}", hex_sz(&format!("1\n{HOSTILE}"))),
        "\"DisabledByDefault\"=dword:00000000".to_owned(),
        String::new(),
        key(&format!("TLS 1.2{HOSTILE}\\Server")),
        enabled.clone(),
        String::new(),
        key(&format!("TLS 1.2\\Server{HOSTILE}")),
        enabled,
    ];
    utf16(&(lines.join("\r\n") + "\r\n"))
}

#[test]
fn junit_of_hostile_names_parses_and_says_them_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A file name with them too, where the system allows it.
    let name = match cfg!(unix) {
        true => format!("names{HOSTILE}.reg"),
        false => "names.reg".to_owned(),
    };
    std::fs::write(dir.path().join(&name), hostile_reg()).unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "junit", &name]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let xml = run.out();
    // Nothing raw that XML forbids or a terminal acts on.
    let bad: Vec<char> = xml
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n') || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{202e}')
        })
        .collect();
    assert!(bad.is_empty(), "raw {bad:?} in:\n{xml}");
    assert_eq!(check_junit(&xml).1, 4);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    // The names come back as the text report shows them.
    let shown = "<&\"'\\x01\\x0b\\x1b[31m\\u{202e}\\u{fffe}";
    // In data, regedit's notation puts a `\` before `"`.
    let data = shown.replace('"', "\\\"");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    if cfg!(unix) {
        assert_eq!(
            suite.attribute("name"),
            Some(format!("names{shown}.reg").as_str())
        );
    }
    let failure = doc
        .descendants()
        .find(|n| n.attribute("type") == Some("wrong-type"))
        .expect("Enabled as REG_SZ fails");
    assert!(
        failure
            .attribute("message")
            .unwrap()
            .contains(&format!("\"1\\n{data}\"")),
        "{xml}"
    );
    let out = doc
        .descendants()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(out.contains(&format!("REG_SZ (\"1\\n{data}\")")), "{xml}");
}
