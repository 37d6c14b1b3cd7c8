//! Fleet mode: folders of mixed inputs, audited in parallel, reported in a
//! stable order with the inputs grouped by identical configuration.

mod common;

use common::{native, slashed, tlsreg_in};

/// A bundled sample's bytes.
fn sample(p: &str) -> Vec<u8> {
    std::fs::read(format!("{}/samples/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A share as an admin might have it: exports, hives with logs, a broken
/// hive, a broken export, and files that are not inputs.
fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fleet");
    let put = |p: &str, bytes: &[u8]| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    put("web01/SYSTEM", &sample("hives/compliant.hiv"));
    put("web02/SYSTEM", &sample("hives/compliant.hiv"));
    put("web03/SYSTEM", &sample("hives/dirty/SYSTEM"));
    put("web03/SYSTEM.LOG1", &sample("hives/dirty/SYSTEM.LOG1"));
    put("web03/SYSTEM.LOG2", &sample("hives/dirty/SYSTEM.LOG2"));
    put("mail01/SYSTEM", &sample("hives/two-control-sets.hiv"));
    put("mail02/SYSTEM", &sample("hives/not-set.hiv"));
    let broken = sample("hives/compliant.hiv");
    put("mail03/SYSTEM", &broken[..broken.len() / 2]);
    put("exports/dc01.reg", &sample("compliant.reg"));
    put("exports/dc02.reg", &sample("noncompliant.reg"));
    let export = sample("noncompliant.reg");
    put("exports/dc03-cut.reg", &export[..export.len() - 1]);
    put("exports/notes.txt", b"exported on Monday\n");
    put("exports/README.md", b"# exports\n");
    dir
}

#[test]
fn a_folder_of_mixed_inputs() {
    let dir = fleet();
    let run = tlsreg_in(dir.path(), &["audit", "fleet"]);
    assert_eq!(run.code, 2, "one input is unreadable");
    assert!(run.stderr.is_empty(), "no noise without -v: {}", run.stderr);
    // Verdict, skip and summary lines hold no registry path: every `\` is
    // a path separator.
    let out = slashed(&run.out());
    let verdicts: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.starts_with("COMPLIANT") || l.starts_with("NONCOMPLIANT") || l.starts_with("ERROR")
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            "COMPLIANT     fleet/exports/dc01.reg",
            "NONCOMPLIANT  fleet/exports/dc02.reg (2 of 4 checks fail)",
            "ERROR         fleet/exports/dc03-cut.reg (could not be read)",
            "NONCOMPLIANT  fleet/mail01/SYSTEM (4 of 4 checks fail)",
            "NONCOMPLIANT  fleet/mail02/SYSTEM (4 of 4 checks fail)",
            "ERROR         fleet/mail03/SYSTEM (could not be read)",
            "COMPLIANT     fleet/web01/SYSTEM",
            "COMPLIANT     fleet/web02/SYSTEM",
            "COMPLIANT     fleet/web03/SYSTEM",
        ]
    );
    let summary = &out[out.find("Summary:").unwrap()..out.find("Why it matters").unwrap()];
    snapshot!("fleet-summary", summary);
    // Every file is accounted for: the logs by name, the others as a count.
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIPPED")).collect();
    assert_eq!(
        skipped,
        [
            "SKIPPED       fleet/web03/SYSTEM.LOG1: the transaction log of SYSTEM (read with its hive)",
            "SKIPPED       fleet/web03/SYSTEM.LOG2: the transaction log of SYSTEM (read with its hive)",
            "SKIPPED       2 other files: not a .reg file, a hive or a disk image (-v lists them)",
        ]
    );
    // -v names the others too, in the report.
    let run = tlsreg_in(dir.path(), &["audit", "-v", "fleet"]);
    let skips = slashed(&run.out());
    for skipped in [
        "SKIPPED       fleet/exports/README.md: not a .reg file",
        "SKIPPED       fleet/exports/notes.txt: not a .reg file",
        "SKIPPED       fleet/web03/SYSTEM.LOG1: the transaction log of SYSTEM",
    ] {
        assert!(skips.contains(skipped), "{skipped}: {skips}");
    }
}

#[test]
fn json_and_jsonl_for_pipelines() {
    let dir = fleet();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "json", "fleet"]);
    assert_eq!(run.code, 2);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(doc["summary"]["inputs"], 9);
    assert_eq!(
        (
            doc["summary"]["compliant"].as_u64(),
            doc["summary"]["error"].as_u64()
        ),
        (Some(4), Some(2))
    );
    let configs = doc["summary"]["configurations"].as_array().unwrap();
    assert_eq!(
        configs[0]["inputs"].as_array().unwrap().len(),
        3,
        "the three web servers: {configs:#?}"
    );
    // Only the failures reach standard error in a json run.
    assert_eq!(run.stderr.lines().count(), 2, "{}", run.stderr);
    let run = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "fleet"]);
    assert_eq!(run.code, 2);
    // The last line is the run's counts (what `tlsreg merge` checks).
    let out = run.out();
    let (records, trailer) = out.trim_end().rsplit_once('\n').unwrap();
    let trailer: serde_json::Value = serde_json::from_str(trailer).unwrap();
    assert_eq!(trailer["summary"], {
        let mut counts = doc["summary"].clone();
        counts.as_object_mut().unwrap().remove("configurations");
        counts
    });
    let mut paths: Vec<String> = records
        .lines()
        .map(|l| {
            slashed(
                serde_json::from_str::<serde_json::Value>(l).unwrap()["path"]
                    .as_str()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(paths.len(), 13, "one object per file: 9 inputs, 4 skipped");
    let skipped = doc["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 4, "{skipped:#?}");
    assert_eq!(doc["summary"]["skipped"], 4);
    assert!(
        run.out()
            .lines()
            .filter(|l| l.contains(r#""verdict":"skipped""#))
            .count()
            == 4
    );
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 13, "no file twice");
    assert!(paths.iter().any(|p| p == "fleet/exports/dc01.reg"));
}

#[test]
fn an_empty_folder_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"nothing here").unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "."]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no .reg file, hive or disk image found"),
        "{}",
        run.stderr
    );
}

/// The report from its first verdict line on: what `tlsreg merge` prints.
fn summary_part(report: &str) -> &str {
    let at = report
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let line = &report[i..];
            ["COMPLIANT ", "NONCOMPLIANT ", "ERROR "]
                .iter()
                .any(|v| line.starts_with(v))
        })
        .expect("a report with verdict lines");
    &report[at..]
}

/// The share audited in two shards (as two CI jobs would), then merged:
/// the same summary, configurations and document as one run over it all.
#[test]
fn merged_shards_equal_one_run() {
    let dir = fleet();
    let shards = [
        (
            "a.jsonl",
            vec![
                "fleet/exports",
                "fleet/mail01",
                "fleet/mail02",
                "fleet/mail03",
            ],
        ),
        ("b.jsonl", vec!["fleet/web01", "fleet/web02", "fleet/web03"]),
    ];
    for ((name, inputs), code) in shards.iter().zip([2, 0]) {
        // As typed on this system, so that each path reads as in one run.
        let inputs: Vec<String> = inputs.iter().map(|i| native(i)).collect();
        let mut args = vec!["audit", "--format", "jsonl"];
        args.extend(inputs.iter().map(String::as_str));
        let run = tlsreg_in(dir.path(), &args);
        assert_eq!(run.code, code, "{name}: {}", run.stderr);
        std::fs::write(dir.path().join(name), &run.stdout).unwrap();
    }
    let one = tlsreg_in(dir.path(), &["audit", "fleet"]);
    let merged = tlsreg_in(dir.path(), &["merge", "a.jsonl", "b.jsonl"]);
    assert_eq!(merged.code, one.code, "{}", merged.stderr);
    assert!(merged.stderr.is_empty(), "{}", merged.stderr);
    assert_eq!(merged.out(), summary_part(&one.out()));
    snapshot!("fleet-merged", slashed(&merged.out()));

    // The JSON document is the same, byte for byte.
    let one = tlsreg_in(dir.path(), &["audit", "--format", "json", "fleet"]);
    let merged = tlsreg_in(
        dir.path(),
        &["merge", "--format", "json", "a.jsonl", "b.jsonl"],
    );
    assert_eq!(merged.code, one.code);
    assert_eq!(merged.out(), one.out());

    // A merged jsonl is a shard too: merging it again changes nothing.
    let again = tlsreg_in(
        dir.path(),
        &["merge", "--format", "jsonl", "a.jsonl", "b.jsonl"],
    );
    std::fs::write(dir.path().join("ab.jsonl"), &again.stdout).unwrap();
    let twice = tlsreg_in(dir.path(), &["merge", "ab.jsonl"]);
    let once = tlsreg_in(dir.path(), &["merge", "a.jsonl", "b.jsonl"]);
    assert_eq!(twice.out(), once.out());
}

/// A merge refuses what would make its summary wrong, and prints nothing.
#[test]
fn a_merge_never_leaves_a_machine_out() {
    let dir = fleet();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "fleet"]);
    let shard = run.out();
    let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    put("all.jsonl", &shard);
    // Killed before its last line: no counts line.
    let cut: String = shard.lines().take(5).map(|l| format!("{l}\n")).collect();
    put("cut.jsonl", &cut);
    // A line lost from the middle: the counts no longer match.
    let lost: String = shard
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 6)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    put("lost.jsonl", &lost);
    put("copy.jsonl", &shard);
    put("garbage.jsonl", "{\"summary\":{\"inputs\":0}}\nnot json\n");
    put("empty.jsonl", "");
    let strict = tlsreg_in(
        dir.path(),
        &[
            "audit",
            "--format",
            "jsonl",
            "--policy",
            "tls12-only",
            "fleet/web01",
        ],
    );
    put("other-policy.jsonl", &strict.out());
    let partial = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "fleet/web02"]);
    put("web02.jsonl", &partial.out());
    // A shard with nothing to audit is a run too (exit 2, "nothing found"),
    // and its files count once.
    let folder_of_logs = dir.path().join("logsonly");
    std::fs::create_dir_all(&folder_of_logs).unwrap();
    std::fs::write(folder_of_logs.join("notes.txt"), b"x\n").unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "logsonly"]);
    assert_eq!(run.code, 2, "nothing to audit");
    assert!(run.out().ends_with("{\"summary\":{\"inputs\":0,\"skipped\":1,\"compliant\":0,\"noncompliant\":0,\"error\":0}}\n"), "{}", run.out());
    put("logs-a.jsonl", &run.out());
    put("logs-b.jsonl", &run.out());
    let merged = tlsreg_in(dir.path(), &["merge", "logs-a.jsonl", "all.jsonl"]);
    assert_eq!(merged.code, 2, "{}", merged.stderr);
    assert!(merged.out().contains("5 files skipped"), "{}", merged.out());
    // An input given twice to one run is counted as that run counted it.
    let twice = tlsreg_in(
        dir.path(),
        &[
            "audit",
            "--format",
            "jsonl",
            "fleet/exports/dc01.reg",
            "fleet/exports/dc01.reg",
        ],
    );
    put("twice.jsonl", &twice.out());
    let merged = tlsreg_in(dir.path(), &["merge", "twice.jsonl"]);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    assert!(
        merged.out().contains("Summary: 2 inputs"),
        "{}",
        merged.out()
    );
    for (shards, says) in [
        (
            &["cut.jsonl"][..],
            "cut.jsonl: ends after 5 line(s) with no counts line",
        ),
        (&["lost.jsonl"][..], "lines were lost or added"),
        (
            &["all.jsonl", "copy.jsonl"][..],
            "was already read at all.jsonl:",
        ),
        (&["all.jsonl", "all.jsonl"][..], "all.jsonl is given twice"),
        (
            &["all.jsonl", "./all.jsonl"][..],
            "./all.jsonl is given twice",
        ),
        (
            &["logs-a.jsonl", "logs-b.jsonl"][..],
            "was already read at logs-a.jsonl:1",
        ),
        (
            &["garbage.jsonl"][..],
            "garbage.jsonl:1: not a line of `tlsreg audit --format jsonl`",
        ),
        (&["empty.jsonl"][..], "empty.jsonl: empty"),
        (
            &["web02.jsonl", "other-policy.jsonl"][..],
            "would mix two requirements",
        ),
        (&["missing.jsonl"][..], "missing.jsonl: cannot be read"),
    ] {
        let mut args = vec!["merge"];
        args.extend(shards);
        let run = tlsreg_in(dir.path(), &args);
        assert_eq!(run.code, 2, "{shards:?}");
        assert!(run.stdout.is_empty(), "{shards:?}: nothing printed");
        assert!(run.stderr.contains(says), "{shards:?}: {}", run.stderr);
    }
}

/// A config folder copied whole: the SOFTWARE hive beside each SYSTEM hive
/// is read with it (the OS version, as from a disk image), and named.
#[test]
fn software_beside_system_is_read_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("share");
    std::fs::create_dir_all(root.join("srv1")).unwrap();
    std::fs::write(root.join("srv1/SYSTEM"), sample("hives/compliant.hiv")).unwrap();
    std::fs::write(
        root.join("srv1/SOFTWARE"),
        sample("images/payload/SOFTWARE.hiv"),
    )
    .unwrap();
    std::fs::write(root.join("SYSTEM-host01"), sample("hives/compliant.hiv")).unwrap();
    std::fs::write(
        root.join("software-host01"),
        sample("images/payload/SOFTWARE.hiv"),
    )
    .unwrap();
    std::fs::write(root.join("SYSTEM-host02"), sample("hives/compliant.hiv")).unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "json", "share"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let os: Vec<(String, Option<&str>)> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                slashed(i["path"].as_str().unwrap()),
                i["os"]["product_name"].as_str(),
            )
        })
        .collect();
    let os: Vec<(&str, Option<&str>)> = os.iter().map(|(p, n)| (p.as_str(), *n)).collect();
    assert_eq!(
        os,
        [
            ("share/SYSTEM-host01", Some("Windows Server 2019 Standard")),
            ("share/SYSTEM-host02", None),
            ("share/srv1/SYSTEM", Some("Windows Server 2019 Standard")),
        ]
    );
    let skipped: Vec<&str> = doc["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "the SOFTWARE hive of SYSTEM-host01 (read with it)",
            "the SOFTWARE hive of SYSTEM (read with it)",
        ]
    );
}

/// Files named as a hive's logs are named in the report whatever they hold:
/// an empty slot, and a damaged one (not counted among "other files").
#[test]
fn every_file_named_as_a_log_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("SYSTEM"), sample("hives/compliant.hiv")).unwrap();
    std::fs::write(root.join("SYSTEM.LOG2"), b"").unwrap();
    std::fs::write(root.join("system.log"), b"not a log\n").unwrap();
    let run = tlsreg_in(dir.path(), &["audit", "srv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = slashed(&run.out());
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIPPED")).collect();
    assert_eq!(
        skipped,
        [
            "SKIPPED       srv/SYSTEM.LOG2: the transaction log of SYSTEM, empty (an unused log slot)",
            "SKIPPED       srv/system.log: named as the transaction log of SYSTEM, but not one (no regf signature): not replayed",
        ]
    );
}

/// Shards saved by Windows PowerShell 5.1 (`> shard.jsonl` writes UTF-16LE
/// with a BOM; `Out-File -Encoding utf8` a UTF-8 BOM) merge as the bytes
/// tlsreg wrote do.
#[test]
fn shards_saved_by_powershell_merge_alike() {
    let dir = fleet();
    let run = tlsreg_in(dir.path(), &["audit", "--format", "jsonl", "fleet"]);
    let shard = run.out();
    std::fs::write(dir.path().join("plain.jsonl"), &shard).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(shard.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(dir.path().join("ps51.jsonl"), utf16).unwrap();
    std::fs::write(
        dir.path().join("bom.jsonl"),
        [&b"\xEF\xBB\xBF"[..], shard.as_bytes()].concat(),
    )
    .unwrap();
    let plain = tlsreg_in(dir.path(), &["merge", "--format", "json", "plain.jsonl"]);
    assert_eq!(plain.code, 2, "{}", plain.stderr);
    for name in ["ps51.jsonl", "bom.jsonl"] {
        let run = tlsreg_in(dir.path(), &["merge", "--format", "json", name]);
        assert_eq!(run.code, plain.code, "{name}: {}", run.stderr);
        assert_eq!(run.out(), plain.out(), "{name}");
    }
}
