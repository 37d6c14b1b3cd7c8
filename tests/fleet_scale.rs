//! Fleets at scale: the work a folder costs grows with its files, whatever
//! the layout, and every input is reported exactly once, in a stable order,
//! in every format.
//!
//! No timer: the binary counts what it asks of the file system (debug
//! builds print the counts when TLSREG_DEBUG_IO_COUNTS is set), and the
//! counts must grow in proportion to the files. A walk that listed a hive's
//! folder again to find its logs would make a flat folder of n hives cost
//! n listings of 3n entries: n times too much at 3,000 hives.

mod common;

use std::path::Path;

use common::Cmd;
use tlsreg::hive::build::{BuildOptions, build};
use tlsreg::hive::log::write::{WriteOptions, write_logs};
use tlsreg::registry::{Key, Value};

/// A small SYSTEM hive, TLS 1.2 set as the article says or not at all.
fn system(set: bool, sequence: u32) -> Vec<u8> {
    let mut root = Key::new("CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}");
    root.create(&["Select"], None)
        .set_value("Current", Value::dword(1), None);
    let protocols = [
        "ControlSet001",
        "Control",
        "SecurityProviders",
        "SCHANNEL",
        "Protocols",
        "TLS 1.2",
    ];
    for side in ["Client", "Server"] {
        let mut path = protocols.to_vec();
        path.push(side);
        let key = root.create(&path, None);
        if set {
            key.set_value("DisabledByDefault", Value::dword(0), None);
            key.set_value("Enabled", Value::dword(1), None);
        }
    }
    build(
        &root,
        &BuildOptions {
            sequence,
            ..BuildOptions::default()
        },
    )
}

/// A dirty hive whose logs carry the TLS 1.2 values: compliant only when
/// its logs are found and replayed.
struct Dirty {
    primary: Vec<u8>,
    log1: Vec<u8>,
    log2: Vec<u8>,
}

fn dirty() -> Dirty {
    let d = write_logs(&system(false, 1), &system(true, 3), WriteOptions::default())
        .expect("logs between two clean hives");
    Dirty {
        primary: d.primary,
        log1: d.log1,
        log2: d.log2,
    }
}

/// `n` dirty hives with their logs, flat in `dir` (`SYSTEM-host00001`,
/// `.LOG1`, `.LOG2`) or one folder per host (`host00001/SYSTEM`, ...).
fn fleet(dir: &Path, n: usize, flat: bool, hive: &Dirty) -> usize {
    for i in 1..=n {
        let (folder, name) = match flat {
            true => (dir.to_path_buf(), format!("SYSTEM-host{i:05}")),
            false => (dir.join(format!("host{i:05}")), "SYSTEM".to_owned()),
        };
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(&name), &hive.primary).unwrap();
        std::fs::write(folder.join(format!("{name}.LOG1")), &hive.log1).unwrap();
        std::fs::write(folder.join(format!("{name}.LOG2")), &hive.log2).unwrap();
    }
    3 * n
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    opens: u64,
    stats: u64,
    dir_reads: u64,
    dir_entries: u64,
}

/// Audits `dir` (JSONL) and returns what the run asked of the file system,
/// after checking that every hive was audited compliant (its logs found).
fn audit_counted(dir: &Path, hives: usize) -> Counts {
    let run = Cmd::new(&["audit", "--format", "jsonl", "fleet"])
        .dir(dir)
        .env("TLSREG_DEBUG_IO_COUNTS", "1")
        .watchdog(300)
        .run();
    assert_eq!(
        run.code, 0,
        "every hive compliant once its logs replay: {}",
        run.stderr
    );
    let out = run.out();
    let trailer: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(trailer["summary"]["inputs"], hives);
    assert_eq!(trailer["summary"]["compliant"], hives);
    assert_eq!(
        trailer["summary"]["skipped"],
        2 * hives,
        "the logs, by name"
    );
    let line = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("tlsreg: io counts: "))
        .unwrap_or_else(|| panic!("no counts (a debug build prints them): {}", run.stderr));
    let field = |name: &str| -> u64 {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    Counts {
        opens: field("opens"),
        stats: field("stats"),
        dir_reads: field("dir_reads"),
        dir_entries: field("dir_entries"),
    }
}

#[test]
fn a_folder_costs_work_linear_in_its_files_whatever_the_layout() {
    let hive = dirty();
    for flat in [true, false] {
        let mut seen = Vec::new();
        for n in [1000, 3000] {
            let dir = tempfile::tempdir().unwrap();
            let files = fleet(&dir.path().join("fleet"), n, flat, &hive) as u64;
            let c = audit_counted(dir.path(), n);
            let folders = if flat { 1 } else { n as u64 + 1 };
            // Each folder listed once, and its entries read once.
            assert_eq!(c.dir_reads, folders, "flat={flat} n={n}: {c:?}");
            assert_eq!(
                c.dir_entries,
                files + folders - 1,
                "flat={flat} n={n}: {c:?}"
            );
            // A few opens and stats per file: a constant, not the folder size.
            assert!(c.opens <= 3 * files, "flat={flat} n={n}: {c:?}");
            assert!(c.stats <= 4 * files, "flat={flat} n={n}: {c:?}");
            seen.push((files, c));
        }
        // Three times the files, three times the work: not nine.
        let [(f1, c1), (f3, c3)] = seen[..] else {
            unreachable!()
        };
        assert_eq!(f3, 3 * f1);
        for (what, a, b) in [
            ("opens", c1.opens, c3.opens),
            ("stats", c1.stats, c3.stats),
            ("dir_entries", c1.dir_entries, c3.dir_entries),
        ] {
            assert!(
                b <= 3 * a + 10,
                "flat={flat}: {what} grew from {a} to {b} for three times the files"
            );
        }
    }
}

/// Inputs that take different times (large exports among small hives), so
/// they finish out of order on several threads. Their paths as reports show
/// them (`fleet\SYSTEM-001` on Windows), in order.
fn mixed(dir: &Path) -> Vec<String> {
    let hive = dirty();
    let root = dir.join("fleet");
    std::fs::create_dir_all(&root).unwrap();
    let mut expected = Vec::new();
    for i in 1..=300 {
        if i % 25 == 0 {
            // A large export: thousands of keys before the SCHANNEL ones.
            let mut text = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
            for k in 0..20_000 {
                text.push_str(&format!(
                    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\CLSID\\{{{k:08}}}]\r\n@=\"x\"\r\n\r\n"
                ));
            }
            let name = format!("export-{i:03}.reg");
            std::fs::write(root.join(&name), common::utf16(&text)).unwrap();
            expected.push(common::native(&format!("fleet/{name}")));
        } else {
            let name = format!("SYSTEM-{i:03}");
            std::fs::write(root.join(&name), &hive.primary).unwrap();
            std::fs::write(root.join(format!("{name}.LOG1")), &hive.log1).unwrap();
            std::fs::write(root.join(format!("{name}.LOG2")), &hive.log2).unwrap();
            expected.push(common::native(&format!("fleet/{name}")));
        }
    }
    expected.sort();
    expected
}

#[test]
fn every_input_exactly_once_in_a_stable_order_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let expected = mixed(dir.path());
    let run = |format: &str| {
        let run = Cmd::new(&["audit", "--format", format, "fleet"])
            .dir(dir.path())
            .watchdog(300)
            .run();
        assert_eq!(run.code, 1, "the exports are noncompliant: {}", run.stderr);
        run.out()
    };

    // JSONL: the skipped logs, then every input in order, then the counts.
    let jsonl = run("jsonl");
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let inputs: Vec<&str> = lines
        .iter()
        .filter(|v| v.get("verdict").is_some_and(|v| v != "skipped"))
        .map(|v| v["path"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, expected);
    let skipped = lines.iter().filter(|v| v["verdict"] == "skipped").count();
    assert_eq!(skipped, 2 * (300 - 12));
    assert_eq!(lines.last().unwrap()["summary"]["inputs"], 300);
    assert_eq!(run("jsonl"), jsonl, "the same bytes every run");

    // JSON: the same order, and the document lists each input once.
    let json = run("json");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let paths: Vec<&str> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, expected);
    let grouped: usize = doc["summary"]["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["inputs"].as_array().unwrap().len())
        .sum();
    assert_eq!(grouped, 300, "each input in one configuration");
    assert_eq!(run("json"), json);

    // Text: a block and a verdict line per input, both in order.
    let text = run("text");
    let folder = common::native("fleet/");
    let blocks: Vec<&str> = text.lines().filter(|l| l.starts_with(&folder)).collect();
    assert_eq!(blocks, expected);
    let verdicts: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("COMPLIANT     ")
                .or_else(|| l.strip_prefix("NONCOMPLIANT  "))
        })
        .map(|l| l.split(" (").next().unwrap())
        .collect();
    assert_eq!(verdicts, expected);
    assert_eq!(run("text"), text);
}
