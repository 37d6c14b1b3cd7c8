//! `--install N` for fix, diff and export; export of every kind of input
//! audit reads; `--control-set all` for fix and diff (issue 13, points 3 and 4).

mod common;

use common::tlsreg;

const TWO: &str = "samples/images/two-windows.raw";
const TWO_SETS: &str = "samples/hives/two-control-sets.hiv";

/// `text` holds `first`, and `then` after it.
fn in_order(text: &str, first: &str, then: &str) {
    let a = text
        .find(first)
        .unwrap_or_else(|| panic!("{first:?} in {text}"));
    let b = text
        .find(then)
        .unwrap_or_else(|| panic!("{then:?} in {text}"));
    assert!(a < b, "{first:?} before {then:?} in {text}");
}

#[test]
fn fix_install_2_writes_the_fix_of_the_second_installation() {
    let run = tlsreg(&["fix", "--install", "2", "--encoding", "utf8", TWO]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fix = run.out();
    // The second install has no TLS 1.2 keys: every value is written.
    for key in ["Client", "Server"] {
        let section = format!(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\{key}]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n"
        );
        assert!(fix.contains(&section), "{fix}");
    }
    snapshot!("fix-install-2", fix.replace("\r\n", "\n"));
    // The first is compliant: nothing to write.
    let run = tlsreg(&["fix", "--install", "1", TWO]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr
            .contains("[MBR partition 1 (type 0x07 NTFS/exFAT)]: nothing to fix"),
        "{}",
        run.stderr
    );
    // The fix of install 2, applied, makes install 2 compliant.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.reg");
    std::fs::write(&file, fix).unwrap();
    let run = tlsreg(&[
        "diff",
        "--install",
        "2",
        "--apply",
        file.to_str().unwrap(),
        TWO,
    ]);
    assert_eq!(run.code, 0, "{}{}", run.out(), run.stderr);
}

#[test]
fn diff_install_2_names_the_installation() {
    let run = tlsreg(&["diff", "--install", "2", TWO]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = run.out();
    assert!(
        out.starts_with(
            "--- samples/images/two-windows.raw [MBR partition 5 (logical, type 0x07 NTFS/exFAT)] (its keys as .reg text)\n"
        ),
        "{out}"
    );
    snapshot!("diff-install-2", out);
}

#[test]
fn export_install_1_writes_that_installations_schannel_key() {
    let run = tlsreg(&["export", "--install", "1", "--encoding", "utf8", TWO]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.out();
    // Install 1's own values (install 2 has no TLS 1.2 key at all).
    assert!(out.contains("[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n"), "{out}");
    assert!(out.contains("\"EventLogging\"=dword:00000001"), "{out}");
    snapshot!("export-install-1", out.replace("\r\n", "\n"));
    let run = tlsreg(&["export", "--install", "2", "--encoding", "utf8", TWO]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.out().contains("TLS 1.2"), "{}", run.out());
    // Any key of the installation, not only what an audit reads.
    let run = tlsreg(&[
        "export",
        "--install",
        "2",
        "--encoding",
        "utf8",
        TWO,
        r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.out().contains(
            "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]"
        ),
        "{}",
        run.out()
    );
    assert!(
        run.stderr.contains("control set ControlSet001"),
        "{}",
        run.stderr
    );
}

#[test]
fn several_installations_and_no_install_is_a_clear_error() {
    let list = "install 1: samples/images/two-windows.raw [MBR partition 1 (type 0x07 NTFS/exFAT)]; install 2: samples/images/two-windows.raw [MBR partition 5 (logical, type 0x07 NTFS/exFAT)]";
    // Exit 2, nothing on standard output, and this one line on standard error.
    let refused = |args: &[&str], said: String| {
        let run = tlsreg(args);
        assert_eq!((run.code, run.stdout.is_empty()), (2, true), "{args:?}");
        assert_eq!(run.stderr, format!("tlsreg: {said}\n"), "{args:?}");
    };
    for cmd in ["fix", "diff", "export"] {
        refused(
            &[cmd, TWO],
            format!(
                "samples/images/two-windows.raw holds 2 Windows installations ({list}); pass --install N to choose one (`tlsreg audit` reports each)"
            ),
        );
        refused(
            &[cmd, "--install", "3", TWO],
            format!(
                "samples/images/two-windows.raw has no installation 3: it holds 2 ({list}); pass --install N with one of these"
            ),
        );
        // 0 is no installation number.
        let run = tlsreg(&[cmd, "--install", "0", TWO]);
        assert_eq!(run.code, 2, "{cmd}: {}", run.stderr);
        // A file that is not an image has no installations to choose from.
        let run = tlsreg(&[cmd, "--install", "1", "samples/noncompliant.reg"]);
        assert_eq!(run.code, 2, "{cmd}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("--install chooses a Windows installation of a disk image or WIM"),
            "{cmd}: {}",
            run.stderr
        );
    }
    // The audit names them the same way, in the same order.
    in_order(
        &tlsreg(&["audit", TWO]).out(),
        "[MBR partition 1 (type 0x07 NTFS/exFAT)]\n",
        "[MBR partition 5 (logical, type 0x07 NTFS/exFAT)]\n",
    );
}

#[test]
fn install_and_live_conflict() {
    for cmd in ["fix", "diff"] {
        let run = tlsreg(&[cmd, "--live", "--install", "1"]);
        assert_eq!(run.code, 2, "{cmd}: {}", run.stderr);
        assert!(
            run.stderr.contains("cannot be used with"),
            "{cmd}: {}",
            run.stderr
        );
    }
}

/// The image samples `tlsreg audit` is given: every container kind and
/// every WIM.
fn image_samples() -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["samples/images", "samples/images/wim"] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let keep = p.is_file()
                && p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    ["raw", "vhd", "vhdx", "vmdk", "qcow2", "wim", "esd", "ova"].contains(&x)
                });
            if keep {
                found.push(format!(
                    "{dir}/{}",
                    p.file_name().unwrap().to_str().unwrap()
                ));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn export_reads_every_image_sample_audit_reads_and_fails_as_audit_does() {
    let samples = image_samples();
    assert!(samples.len() >= 25, "{samples:?}");
    let mut exported = 0;
    for sample in &samples {
        let audit = tlsreg(&["audit", "--format", "jsonl", sample]);
        let lines: Vec<serde_json::Value> = audit
            .out()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v.get("path").is_some())
            .collect();
        assert!(!lines.is_empty(), "{sample}");
        for (i, line) in lines.iter().enumerate() {
            let n = (i + 1).to_string();
            let mut args = vec!["export", "--encoding", "utf8"];
            if lines.len() > 1 {
                args.extend(["--install", n.as_str()]);
            }
            args.push(sample);
            let run = tlsreg(&args);
            match line["error"].as_str() {
                // What audit cannot read, export cannot either, and says the
                // same (solid and LZMS WIMs where wimlib-imagex cannot run).
                Some(error) => {
                    assert_eq!(run.code, 2, "{sample} {n}: {}", run.out());
                    assert_eq!(run.stderr, format!("tlsreg: {error}\n"), "{sample} {n}");
                    assert!(run.stdout.is_empty(), "{sample} {n}");
                }
                None => {
                    assert_eq!(run.code, 0, "{sample} {n}: {}", run.stderr);
                    let out = run.out();
                    assert!(out.starts_with("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet"), "{sample} {n}: {out}");
                    assert!(
                        out.contains("\\Control\\SecurityProviders\\SCHANNEL]\r\n"),
                        "{sample} {n}: {out}"
                    );
                    let set = line["control_set"]["name"]
                        .as_str()
                        .or_else(|| line["control_set"].as_str())
                        .unwrap_or("ControlSet");
                    assert!(
                        out.contains(&format!("\\SYSTEM\\{set}")),
                        "{sample} {n}: {set} {out}"
                    );
                    exported += 1;
                }
            }
        }
    }
    // bitlocker, no-windows and truncated are the only ones with no
    // installation to read; the WIMs that need wimlib may be refused too.
    assert!(exported >= 14, "{exported}");
}

#[test]
fn export_refuses_control_set_all() {
    let run = tlsreg(&["export", "--control-set", "all", TWO_SETS]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert_eq!(
        run.stderr,
        "tlsreg: export writes one control set: give --control-set N (1 for ControlSet001), or name ControlSetNNN in KEY\n"
    );
}

#[test]
fn fix_control_set_all_fixes_each_set_that_needs_it() {
    // ControlSet001 is compliant, ControlSet002 (the current) is not.
    let run = tlsreg(&[
        "fix",
        "--control-set",
        "all",
        "--encoding",
        "utf8",
        TWO_SETS,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fix = run.out();
    assert!(!fix.contains("CurrentControlSet"), "{fix}");
    assert!(!fix.contains("ControlSet001"), "{fix}");
    assert!(fix.contains("[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet002\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Client]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n"), "{fix}");
    assert!(
        run.stderr.contains(
            "samples/hives/two-control-sets.hiv [ControlSet001]: nothing to fix, the input is compliant"
        ),
        "{}",
        run.stderr
    );
    snapshot!("fix-control-set-all", fix.replace("\r\n", "\n"));
    // With --full, one block per set, in the order of their numbers.
    let run = tlsreg(&[
        "fix",
        "--control-set",
        "all",
        "--full",
        "--encoding",
        "utf8",
        TWO_SETS,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let full = run.out();
    assert_eq!(full.matches("Windows Registry Editor").count(), 1, "{full}");
    in_order(&full, "\\ControlSet001\\", "\\ControlSet002\\");
    assert_eq!(
        full.matches("\"Enabled\"=dword:00000001").count(),
        4,
        "{full}"
    );
    snapshot!("fix-control-set-all-full", full.replace("\r\n", "\n"));
    // The fix applied makes every set compliant: audit --control-set all
    // then reports each set compliant.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.reg");
    std::fs::write(&file, &fix).unwrap();
    let run = tlsreg(&[
        "audit",
        "--control-set",
        "all",
        "--format",
        "json",
        "--apply",
        file.to_str().unwrap(),
        TWO_SETS,
    ]);
    assert_eq!(run.code, 0, "{}", run.out());
    let doc: serde_json::Value = serde_json::from_str(&run.out()).unwrap();
    let others = doc["inputs"][0]["other_control_sets"].as_array().unwrap();
    assert!(
        others.iter().all(|o| o["verdict"] == "compliant"),
        "{others:?}"
    );
    // Without `all`, the fix still targets CurrentControlSet.
    let run = tlsreg(&["fix", "--encoding", "utf8", TWO_SETS]);
    assert!(run.out().contains("\\CurrentControlSet\\"), "{}", run.out());
}

#[test]
fn diff_control_set_all_gives_one_diff_per_set() {
    let run = tlsreg(&["diff", "--control-set", "all", TWO_SETS]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = run.out();
    assert!(
        out.starts_with(
            "--- samples/hives/two-control-sets.hiv [ControlSet002] (its keys as .reg text)\n+++ required\n"
        ),
        "{out}"
    );
    assert!(!out.contains("ControlSet001"), "{out}");
    assert_eq!(
        run.stderr,
        "tlsreg: samples/hives/two-control-sets.hiv [ControlSet001]: nothing to fix, the input is compliant\n"
    );
    snapshot!("diff-control-set-all", out);
    // A policy ControlSet001 fails too: two sections, in set order.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.reg");
    std::fs::write(
        &policy,
        "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.3\\Server]\r\n\"Enabled\"=dword:00000001\r\n",
    )
    .unwrap();
    let run = tlsreg(&[
        "diff",
        "--control-set",
        "all",
        "--policy",
        policy.to_str().unwrap(),
        TWO_SETS,
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = run.out();
    in_order(
        &out,
        "--- samples/hives/two-control-sets.hiv [ControlSet001] (its keys as .reg text)\n",
        "--- samples/hives/two-control-sets.hiv [ControlSet002] (its keys as .reg text)\n",
    );
    assert!(out.contains("+[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.3\\Server]"), "{out}");
}

#[test]
fn help_of_fix_diff_and_export() {
    snapshot!("help-fix", tlsreg(&["fix", "--help"]).out());
    snapshot!("help-diff", tlsreg(&["diff", "--help"]).out());
    snapshot!("help-export", tlsreg(&["export", "--help"]).out());
}

#[test]
fn audit_install_n_audits_that_installation_only() {
    let run = tlsreg(&["audit", "--install", "2", "--format", "json", TWO]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.out()).unwrap();
    let inputs = doc["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        inputs[0]["path"],
        "samples/images/two-windows.raw [MBR partition 5 (logical, type 0x07 NTFS/exFAT)]"
    );
    let run = tlsreg(&["audit", "--install", "1", TWO]);
    assert_eq!(run.code, 0, "{}", run.out());
    assert!(
        !run.out().contains("MBR partition 5 (logical"),
        "{}",
        run.out()
    );
    // A WIM's images by their index.
    let run = tlsreg(&[
        "audit",
        "--install",
        "2",
        "--format",
        "json",
        "samples/images/wim/two-images.wim",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&run.out()).unwrap();
    assert_eq!(doc["inputs"].as_array().unwrap().len(), 1);
    assert!(
        doc["inputs"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("[image 2: Windows Server 2019 Datacenter]"),
        "{doc}"
    );
    // Out of range: the input's error, with the list.
    let run = tlsreg(&["audit", "--install", "3", TWO]);
    assert_eq!(run.code, 2);
    assert!(
        run.out()
            .contains("has no installation 3: it holds 2 (install 1: "),
        "{}",
        run.out()
    );
    // One INPUT only, and not with --live.
    let run = tlsreg(&["audit", "--install", "1", TWO, "samples/compliant.reg"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "tlsreg: --install chooses an installation of one disk image or WIM: give that one INPUT\n"
    );
    let run = tlsreg(&["audit", "--live", "--install", "1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}
