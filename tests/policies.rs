//! Policies: every built-in one satisfies itself, its fix fixes, a user's
//! policy with deletions is enforced both ways, and baselines cite their checks.

mod common;

use common::{Cmd, findings, tlsreg, utf16};

const BUILTINS: [&str; 5] = [
    "article",
    "exchange",
    "tls12-only",
    "stig-iis10",
    "cis-iis10",
];

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let run = tlsreg(args);
    let doc = serde_json::from_slice(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", run.out(), run.stderr));
    (run.code, doc)
}

#[test]
fn every_builtin_policy_satisfies_itself() {
    let dir = tempfile::tempdir().unwrap();
    for p in BUILTINS {
        let template = dir.path().join(format!("{p}.reg"));
        let run = tlsreg(&["template", "--policy", p, "-o", template.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{p}: {}", run.stderr);
        assert!(std::fs::read(&template).unwrap().starts_with(&[0xFF, 0xFE]));
        // The same through a pipe: `template | audit --apply -`.
        let out = tlsreg(&["template", "--policy", p]);
        let done = Cmd::new(&["audit", "--format", "json", "--policy", p, "--apply", "-"])
            .stdin(&out.stdout)
            .run();
        assert_eq!(
            done.code,
            0,
            "{p}: {}",
            String::from_utf8_lossy(&done.stdout)
        );
        let doc: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(doc["inputs"][0]["verdict"], "compliant", "{p}");
    }
}

#[test]
fn each_policys_fix_makes_a_noncompliant_sample_compliant() {
    let dir = tempfile::tempdir().unwrap();
    for p in BUILTINS {
        for sample in [
            "samples/noncompliant.reg",
            "samples/hives/two-control-sets.hiv",
            "samples/translated/uk-UA.reg",
        ] {
            let (code, _) = json(&["audit", "--format", "json", "--policy", p, sample]);
            assert_eq!(code, 1, "{p} {sample} starts noncompliant");
            let fix = dir.path().join("fix.reg");
            let run = tlsreg(&[
                "fix",
                "--policy",
                p,
                sample,
                "-o",
                fix.to_str().unwrap(),
                "--force",
            ]);
            assert_eq!(run.code, 0, "{p} {sample}: {}", run.stderr);
            let (code, doc) = json(&[
                "audit",
                "--format",
                "json",
                "--policy",
                p,
                "--apply",
                fix.to_str().unwrap(),
                sample,
            ]);
            assert_eq!(code, 0, "{p} {sample} + fix: {doc:#}");
        }
    }
}

#[test]
fn a_users_policy_with_deletions_is_enforced_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let p =
        r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols";
    let policy = dir.path().join("mine.reg");
    std::fs::write(
        &policy,
        utf16(&format!(
            "Windows Registry Editor Version 5.00\r\n\r\n[-{p}\\PCT 1.0]\r\n\r\n[{p}\\SSL 3.0\\Server]\r\n\"Enabled\"=-\r\n\r\n[{p}\\TLS 1.2\\Server]\r\n\"Enabled\"=dword:00000001\r\n"
        )),
    )
    .unwrap();
    let input = dir.path().join("in.reg");
    std::fs::write(
        &input,
        utf16(&format!(
            "Windows Registry Editor Version 5.00\r\n\r\n[{p}\\PCT 1.0\\Client]\r\n\"Enabled\"=dword:00000000\r\n\r\n[{p}\\SSL 3.0\\Server]\r\n\"Enabled\"=dword:00000001\r\n\r\n[{p}\\TLS 1.2\\Server]\r\n\"Enabled\"=dword:00000001\r\n"
        )),
    )
    .unwrap();
    let (policy, input) = (policy.to_str().unwrap(), input.to_str().unwrap());
    let (code, doc) = json(&["audit", "--format", "json", "--policy", policy, input]);
    assert_eq!(code, 1);
    let statuses: Vec<(&str, &str)> = doc["inputs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["value"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("", "present"), ("Enabled", "present"), ("Enabled", "ok")]
    );
    let codes: Vec<&str> = findings(&doc)
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == "must-be-absent").count(),
        2,
        "{codes:?}"
    );
    // The fix deletes both, and nothing else.
    let fix = tlsreg(&["fix", "--policy", policy, "--encoding", "utf8", input]).out();
    assert_eq!(
        fix,
        format!(
            "Windows Registry Editor Version 5.00\r\n\r\n[-{p}\\PCT 1.0]\r\n\r\n[{p}\\SSL 3.0\\Server]\r\n\"Enabled\"=-\r\n\r\n"
        )
    );
    let fixfile = std::path::Path::new(input).with_file_name("fix.reg");
    std::fs::write(&fixfile, &fix).unwrap();
    let (code, _) = json(&[
        "audit",
        "--format",
        "json",
        "--policy",
        policy,
        "--apply",
        fixfile.to_str().unwrap(),
        input,
    ]);
    assert_eq!(code, 0);
    // And the other way: the same policy on a machine without those keys is compliant.
    let clean = std::path::Path::new(input).with_file_name("clean.reg");
    std::fs::write(&clean, utf16(&format!("Windows Registry Editor Version 5.00\r\n\r\n[{p}\\TLS 1.2\\Server]\r\n\"Enabled\"=dword:00000001\r\n"))).unwrap();
    assert_eq!(
        json(&[
            "audit",
            "--format",
            "json",
            "--policy",
            policy,
            clean.to_str().unwrap()
        ])
        .0,
        0
    );
}

#[test]
fn baselines_cite_their_checks_and_compare_exactly() {
    // 0xffffffff enables TLS 1.2 for SCHANNEL (the article passes it) but the
    // STIG compares with 1.
    assert_eq!(
        json(&["audit", "--format", "json", "samples/enabled-ffffffff.reg"]).0,
        0
    );
    let (code, doc) = json(&[
        "audit",
        "--format",
        "json",
        "--policy",
        "stig-iis10",
        "samples/enabled-ffffffff.reg",
    ]);
    assert_eq!(code, 1);
    let messages: Vec<&str> = findings(&doc)
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with(
            "V-218821 (IIST-SV-000153): TLS 1.2 enabled: TLS 1.2\\Server\\Enabled is dword:ffffffff"
        )),
        "{messages:#?}"
    );
    let (_, doc) = json(&[
        "audit",
        "--format",
        "json",
        "--policy",
        "cis-iis10",
        "samples/compliant.reg",
    ]);
    let checks: Vec<&str> = doc["inputs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["check"].as_str())
        .collect();
    assert!(
        checks.contains(&"CIS IIS 10 7.11: AES 256/256 enabled"),
        "{checks:?}"
    );
}

#[test]
fn what_needs_the_software_hive_is_said_not_passed() {
    let (code, doc) = json(&[
        "audit",
        "--format",
        "json",
        "--policy",
        "exchange",
        "samples/hives/compliant.hiv",
    ]);
    assert_eq!(code, 1, "TLS 1.0 and 1.1 are not off in the sample");
    let not_evaluated: Vec<&serde_json::Value> = doc["inputs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "not-evaluated")
        .collect();
    assert_eq!(not_evaluated.len(), 8, "the eight .NET values");
    let f = findings(&doc)
        .iter()
        .find(|f| f["code"] == "not-evaluated")
        .unwrap();
    assert!(f["message"].as_str().unwrap().contains("SOFTWARE hive"));
    let text = tlsreg(&[
        "audit",
        "--policy",
        "exchange",
        "samples/hives/compliant.hiv",
    ])
    .out();
    assert!(text.contains("8 not evaluated"), "{text}");
}

#[test]
fn unknown_policies_and_bad_files_are_clear_errors() {
    let run = tlsreg(&["audit", "--policy", "nope", "samples/compliant.reg"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("article, exchange, tls12-only, stig-iis10, cis-iis10"),
        "{}",
        run.stderr
    );
    let run = tlsreg(&["audit", "--policy", "Cargo.toml", "samples/compliant.reg"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("Cargo.toml") && run.stderr.contains("not a registry file"),
        "{}",
        run.stderr
    );
    snapshot!(
        "template-exchange",
        String::from_utf8(
            tlsreg(&["template", "--policy", "exchange", "--encoding", "utf8"]).stdout
        )
        .unwrap()
    );
}

#[test]
fn the_protocol_matrix_and_its_os_defaults() {
    let run = tlsreg(&["audit", "--matrix", "samples/matrix.reg"]);
    assert_eq!(run.code, 0, "TLS 1.2 is enabled (0xffffffff)");
    snapshot!("matrix-server2019", run.out());
    // The same values on Windows 7: the OS-default column changes.
    let win7 = tlsreg(&[
        "audit",
        "--matrix",
        "--apply",
        "samples/os-windows7.reg",
        "samples/matrix.reg",
    ])
    .out();
    snapshot!("matrix-windows7", win7);
    let (_, doc) = json(&["audit", "--format", "json", "samples/matrix.reg"]);
    let row = |doc: &serde_json::Value, p: &str, s: &str| {
        doc["inputs"][0]["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["protocol"] == p && r["side"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row(&doc, "TLS 1.3", "Client")["os_default"],
        "not supported"
    );
    assert_eq!(row(&doc, "TLS 1.2", "Client")["effective"], "enabled");
    assert_eq!(
        row(&doc, "TLS 1.0", "Client")["effective"],
        "enabled, not by default"
    );
    assert_eq!(
        row(&doc, "SSL 3.0", "Client")["effective"],
        "OS default: disabled"
    );
    let flags: Vec<&str> = doc["inputs"][0]["matrix_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        flags
            .iter()
            .any(|f| f.starts_with("TLS 1.1: Client and Server differ")),
        "{flags:?}"
    );
    assert!(
        flags
            .iter()
            .any(|f| f.starts_with("TLS 1.0 Server: Enabled=0 with DisabledByDefault=0")),
        "{flags:?}"
    );
    let (_, doc7) = json(&[
        "audit",
        "--format",
        "json",
        "--apply",
        "samples/os-windows7.reg",
        "samples/matrix.reg",
    ]);
    assert_eq!(
        row(&doc7, "SSL 3.0", "Client")["effective"],
        "OS default: enabled"
    );
    assert_eq!(
        row(&doc7, "DTLS 1.2", "Server")["os_default"],
        "not supported"
    );
    assert_eq!(doc7["inputs"][0]["os"]["build"], 7601);
    // Without SOFTWARE, the OS is unknown, and said to be.
    let text = tlsreg(&["audit", "--matrix", "samples/compliant.reg"]).out();
    assert!(
        text.contains("OS           unknown (the input holds no SOFTWARE hive)"),
        "{text}"
    );
    assert!(text.contains("OS default (OS unknown)"), "{text}");
}
