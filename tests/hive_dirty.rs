//! A dirty SYSTEM hive whose newest writes, the TLS keys, are only in its
//! logs: tlsreg replays them, says so, and audits what Windows would see.

mod common;

use common::{findings, tlsreg, tlsreg_in};
use tlsreg::hive::log::write::{WriteOptions, write_logs};
use tlsreg::hive::{BuildOptions, build};
use tlsreg::registry::Key;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/hives/dirty");

/// The old hive (TLS 1.2 not set) at sequence 7 and the new one (set) at 10:
/// three log entries, one in LOG1 and two in LOG2.
fn dirty() -> tlsreg::hive::log::write::DirtyHive {
    let read = |name: &str| {
        std::fs::read(format!(
            "{}/samples/hives/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let tree = |bytes: &[u8]| -> Key {
        // Rebuild the sample's tree from its bytes through our own reader.
        let loaded = tlsreg::input::from_bytes(
            "x",
            bytes,
            &tlsreg::input::Options {
                scope: tlsreg::input::Scope::Key(Vec::new()),
                require_system: false,
                ..Default::default()
            },
        )
        .unwrap();
        loaded
            .root
            .find(&["HKEY_LOCAL_MACHINE", "SYSTEM"])
            .unwrap()
            .clone()
    };
    let options = |sequence| BuildOptions {
        sequence,
        root_name: Some("CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}".into()),
        ..BuildOptions::default()
    };
    let old = build(&tree(&read("not-set.hiv")), &options(7));
    let new = build(&tree(&read("compliant.hiv")), &options(10));
    write_logs(
        &old,
        &new,
        WriteOptions {
            page_size: 512,
            log1_entries: 1,
        },
    )
    .unwrap()
}

#[test]
fn the_committed_dirty_sample_is_what_the_writers_make() {
    let d = dirty();
    let files = [
        ("SYSTEM", &d.primary),
        ("SYSTEM.LOG1", &d.log1),
        ("SYSTEM.LOG2", &d.log2),
    ];
    if std::env::var_os("TLSREG_WRITE_SAMPLES").is_some() {
        std::fs::create_dir_all(DIR).unwrap();
        for (name, bytes) in files {
            std::fs::write(format!("{DIR}/{name}"), bytes).unwrap();
        }
        return;
    }
    for (name, bytes) in files {
        assert_eq!(
            &std::fs::read(format!("{DIR}/{name}")).unwrap(),
            bytes,
            "{name} differs: rerun with TLSREG_WRITE_SAMPLES=1"
        );
    }
}

#[test]
fn logs_are_replayed_and_reported() {
    let system = format!("{DIR}/SYSTEM");
    let run = tlsreg(&["audit", "--format", "json", &system]);
    assert_eq!(run.code, 0, "{}", run.out());
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let dirty: Vec<&str> = findings(&doc)
        .iter()
        .filter(|f| f["code"] == "dirty-hive")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(dirty.len(), 1, "{dirty:?}");
    assert!(
        dirty[0].contains("replayed 3 log entries from SYSTEM.LOG1, SYSTEM.LOG2"),
        "{dirty:?}"
    );
    let text = tlsreg(&["audit", &system]).out();
    assert!(
        text.contains("dirty (sequence numbers 8 and 7); replayed 3 log entries"),
        "{text}"
    );
}

#[test]
fn without_logs_the_stale_primary_is_read_with_a_loud_warning() {
    let system = format!("{DIR}/SYSTEM");
    for run in [
        tlsreg(&["audit", "--format", "json", "--no-logs", &system]),
        {
            // The logs missing: copy the primary alone.
            let dir = tempfile::tempdir().unwrap();
            let alone = dir.path().join("SYSTEM");
            std::fs::copy(&system, &alone).unwrap();
            let run = tlsreg(&["audit", "--format", "json", alone.to_str().unwrap()]);
            drop(dir);
            run
        },
    ] {
        assert_eq!(run.code, 1, "TLS 1.2 is only in the logs");
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let f = findings(&doc)
            .iter()
            .find(|f| f["code"] == "dirty-hive")
            .expect("a dirty-hive finding");
        assert_eq!(f["severity"], "warning");
        assert!(f["message"].as_str().unwrap().contains("may be missing"));
    }
}

#[test]
fn logs_are_found_in_any_case_and_inputs_are_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dirty();
    std::fs::write(dir.path().join("system"), &d.primary).unwrap();
    std::fs::write(dir.path().join("system.log1"), &d.log1).unwrap();
    std::fs::write(dir.path().join("System.Log2"), &d.log2).unwrap();
    let path = dir.path().join("system");
    let run = tlsreg(&["audit", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.out());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        d.primary,
        "the primary is untouched"
    );
    assert_eq!(
        std::fs::read(dir.path().join("system.log1")).unwrap(),
        d.log1
    );
}

/// A hive copied under another name (`SYSTEM_2`) has logs named after it:
/// the warning names those it looked for, and replay uses them.
#[test]
fn a_renamed_hive_is_told_of_its_own_logs() {
    let system = format!("{DIR}/SYSTEM");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&system, dir.path().join("SYSTEM_2")).unwrap();
    let text = tlsreg_in(dir.path(), &["audit", "SYSTEM_2"]);
    assert_eq!(text.code, 1, "{}", text.out());
    let json = tlsreg_in(dir.path(), &["audit", "--format", "json", "SYSTEM_2"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let dirty: Vec<&str> = findings(&doc)
        .iter()
        .filter(|f| f["code"] == "dirty-hive")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let warning = dirty.join("\n");
    snapshot!("audit-dirty-renamed", text.out());
    snapshot!("audit-dirty-renamed-json", warning);
    assert!(
        warning.contains("no SYSTEM_2.LOG1, SYSTEM_2.LOG2 or SYSTEM_2.LOG was found"),
        "{warning}"
    );
    for log in ["LOG1", "LOG2"] {
        std::fs::copy(
            format!("{DIR}/SYSTEM.{log}"),
            dir.path().join(format!("SYSTEM_2.{log}")),
        )
        .unwrap();
    }
    let run = tlsreg_in(dir.path(), &["audit", "SYSTEM_2"]);
    assert_eq!(run.code, 0, "{}", run.out());
    assert!(
        run.out()
            .contains("replayed 3 log entries from SYSTEM_2.LOG1, SYSTEM_2.LOG2"),
        "{}",
        run.out()
    );
}
