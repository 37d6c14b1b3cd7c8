//! Offline SYSTEM hives through the command line: verdicts on every sample,
//! control-set choice, export and re-import, and corrupt hives that must give
//! an error with a message, never a crash.

mod common;

use common::{findings, tlsreg};

const HIVES: &[(&str, i32)] = &[
    ("samples/hives/compliant.hiv", 0),
    ("samples/hives/enabled-ffffffff.hiv", 0),
    ("samples/hives/not-set.hiv", 1),
    ("samples/hives/client-only.hiv", 1),
    ("samples/hives/reg-sz.hiv", 1),
    ("samples/hives/two-control-sets.hiv", 1),
];

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let run = tlsreg(args);
    let doc = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.out()));
    (run.code, doc)
}

#[test]
fn every_sample_hive_has_the_right_verdict() {
    for (path, code) in HIVES {
        let (got, doc) = json(&["audit", "--format", "json", path]);
        assert_eq!(got, *code, "{path}");
        assert_eq!(doc["inputs"][0]["kind"], "hive");
    }
    let run = tlsreg(&["audit", "samples/hives/reg-sz.hiv"]);
    assert!(run.out().contains("WRONG TYPE"), "{}", run.out());
}

#[test]
fn the_control_set_select_names_is_the_one_audited() {
    let two = "samples/hives/two-control-sets.hiv";
    let (code, doc) = json(&["audit", "--format", "json", two]);
    assert_eq!(code, 1);
    assert_eq!(doc["inputs"][0]["control_set"]["name"], "ControlSet002");
    assert_eq!(
        doc["inputs"][0]["control_set"]["reason"],
        "Select\\Current = 2"
    );
    // ControlSet001 alone is compliant; asked for, it is what is read.
    let (code, doc) = json(&["audit", "--format", "json", "--control-set", "1", two]);
    assert_eq!(code, 0);
    assert_eq!(doc["inputs"][0]["control_set"]["name"], "ControlSet001");
    let run = tlsreg(&["audit", "--control-set", "3", two]);
    assert_eq!(run.code, 2);
    assert!(
        run.out()
            .contains("there is no ControlSet003 (present: ControlSet001, ControlSet002)"),
        "{}",
        run.out()
    );
    // `all` reports every set; the verdict follows the current one.
    let (code, doc) = json(&["audit", "--format", "json", "--control-set", "all", two]);
    assert_eq!(code, 1);
    let others = doc["inputs"][0]["other_control_sets"].as_array().unwrap();
    assert_eq!(others.len(), 1);
    assert_eq!(
        (others[0]["name"].as_str(), others[0]["verdict"].as_str()),
        (Some("ControlSet001"), Some("compliant"))
    );
    snapshot!(
        "audit-hive-all-control-sets",
        tlsreg(&["audit", "--control-set", "all", two]).out()
    );
}

#[test]
fn diff_and_fix_on_a_hive_target_current_control_set() {
    let two = "samples/hives/two-control-sets.hiv";
    let run = tlsreg(&["diff", two]);
    assert_eq!(run.code, 1);
    snapshot!("diff-hive", run.out());
    let fix = tlsreg(&["fix", "--encoding", "utf8", two]).out();
    assert!(fix.contains(r"[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client]"));
    assert!(!fix.contains("ControlSet002"), "{fix}");
    // The fix applied to the hive's view makes it compliant.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.reg");
    std::fs::write(&file, fix).unwrap();
    let run = tlsreg(&["audit", "--apply", file.to_str().unwrap(), two]);
    assert_eq!(run.code, 0, "{}", run.out());
}

/// A file that only deletes through `CurrentControlSet` deletes from the
/// set it stands for: it used to be moved only when the file also wrote a
/// key there, so `[-...\TLS 1.2]` applied to a compliant hive said COMPLIANT.
#[test]
fn a_deletion_through_current_control_set_deletes_from_the_set() {
    let dir = tempfile::tempdir().unwrap();
    let key = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2";
    for (lines, failing) in [
        (format!("[-{key}]"), "4 of 4"),
        (format!("[-{key}\\Server]"), "2 of 4"),
        (format!("[{key}\\Client]\r\n\"Enabled\"=-"), "1 of 4"),
    ] {
        let file = dir.path().join("delete.reg");
        let text = format!("Windows Registry Editor Version 5.00\r\n\r\n{lines}\r\n");
        std::fs::write(&file, text).unwrap();
        let file = file.to_str().unwrap();
        let run = tlsreg(&["audit", "--apply", file, "samples/hives/compliant.hiv"]);
        assert_eq!(run.code, 1, "{lines}: {}", run.out());
        assert!(
            run.out().contains(&format!("({failing} checks fail)")),
            "{lines}: {}",
            run.out()
        );
        assert!(
            run.out().contains("line(s) were applied to ControlSet001"),
            "{}",
            run.out()
        );
    }
}

/// The checks of one audit, without where they were found.
fn checks(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    doc["inputs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or("-").to_owned();
            (s("key"), s("value"), s("found"), s("status"))
        })
        .collect()
}

#[test]
fn export_of_a_hive_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for (path, code) in HIVES {
        let out = dir.path().join("export.reg");
        let run = tlsreg(&["export", path, "-o", out.to_str().unwrap(), "--force"]);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        let bytes = std::fs::read(&out).unwrap();
        assert!(
            bytes.starts_with(&[0xFF, 0xFE]),
            "{path}: regedit's UTF-16LE"
        );
        let (hive_code, hive) = json(&["audit", "--format", "json", path]);
        let (reg_code, reg) = json(&["audit", "--format", "json", out.to_str().unwrap()]);
        assert_eq!((hive_code, reg_code), (*code, *code), "{path}");
        assert_eq!(checks(&hive), checks(&reg), "{path}");
    }
    // Any key, short root names accepted; the export names the real set.
    let run = tlsreg(&[
        "export",
        "samples/hives/two-control-sets.hiv",
        r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName",
        "--encoding",
        "utf8",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    snapshot!("export-hive-computername", run.out());
    let run = tlsreg(&[
        "export",
        "samples/hives/compliant.hiv",
        r"HKLM\SOFTWARE\Microsoft",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("SYSTEM"), "{}", run.stderr);
    let run = tlsreg(&[
        "export",
        "samples/hives/compliant.hiv",
        r"HKLM\SYSTEM\NoSuchKey",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("there is no key"), "{}", run.stderr);
}

/// The offset of the cell (its size field) of the key node named `name`.
fn nk_cell(hive: &[u8], name: &str) -> Vec<usize> {
    find_cells(hive, b"nk", 0x4C, 0x48, name)
}

/// The offset of the signature of every value cell named `name`.
fn vk_cells(hive: &[u8], name: &str) -> Vec<usize> {
    find_cells(hive, b"vk", 0x14, 0x02, name)
        .into_iter()
        .map(|o| o + 4)
        .collect()
}

/// Cells with signature `sig` whose Latin-1 name (at `name_at`, length at
/// `len_at`, both from the signature) is `name`.
fn find_cells(hive: &[u8], sig: &[u8], name_at: usize, len_at: usize, name: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 4096;
    while i + name_at + name.len() <= hive.len() {
        if &hive[i..i + 2] == sig {
            let len = u16::from_le_bytes([hive[i + len_at], hive[i + len_at + 1]]) as usize;
            if len == name.len() && &hive[i + name_at..i + name_at + len] == name.as_bytes() {
                out.push(i - 4);
            }
        }
        i += 1;
    }
    out
}

fn crafted(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn corrupt_hives_are_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read("samples/hives/compliant.hiv").unwrap();
    let yarp = common::shared_testdata(
        "corrupt_hives_are_errors_not_crashes (the yarp case)",
        "yarp/TruncatedDirtyHive",
    );

    // A key node with a cell size of 0 (nt-hive overflows on it).
    let mut zero = good.clone();
    let client = nk_cell(&zero, "Client");
    assert!(!client.is_empty());
    for c in client {
        zero[c..c + 4].copy_from_slice(&[0; 4]);
    }
    // The required values with a data offset of 0xFFFFFFFF (nt-hive asserts).
    let mut ffff = good.clone();
    let enabled = vk_cells(&ffff, "Enabled");
    assert!(enabled.len() >= 2);
    for v in &enabled {
        ffff[v + 4..v + 8].copy_from_slice(&4u32.to_le_bytes()); // size 4, not inline
        ffff[v + 8..v + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    // The same with size 0: a tombstone layout, the second nt-hive assert.
    let mut tomb = ffff.clone();
    for v in &enabled {
        tomb[v + 4..v + 8].copy_from_slice(&0u32.to_le_bytes());
    }
    let mut random = b"regf".to_vec();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    random.extend((0..8188).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    let mut cases = vec![
        (
            crafted(dir.path(), "zero-size-cell.hiv", &zero),
            "corrupt hive",
        ),
        (
            crafted(dir.path(), "offset-ffffffff.hiv", &ffff),
            "could not be read",
        ),
        (
            crafted(dir.path(), "tombstone.hiv", &tomb),
            "could not be read",
        ),
        (
            crafted(dir.path(), "truncated.hiv", &good[..good.len() / 2]),
            "hive",
        ),
        (
            crafted(dir.path(), "header-only.hiv", &good[..4096]),
            "hive",
        ),
        (crafted(dir.path(), "signature-only.hiv", b"regf"), "hive"),
        (crafted(dir.path(), "random.hiv", &random), "hive"),
    ];
    if let Some(yarp) = yarp {
        cases.push((yarp.to_str().unwrap().to_owned(), "truncated hive"));
    }
    for (path, message) in &cases {
        let run = tlsreg(&["audit", path]);
        assert_eq!(run.code, 2, "{path}:\n{}", run.out());
        let name = std::path::Path::new(path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            run.out().contains(message) && run.out().contains(name),
            "{path}:\n{}",
            run.out()
        );
        for cmd in ["fix", "diff"] {
            let run = tlsreg(&[cmd, path]);
            assert_eq!(run.code, 2, "{cmd} {path}");
            assert!(
                run.stderr.contains(name),
                "{cmd} {path}: says why: {}",
                run.stderr
            );
        }
        // Export is for reviewing what is there: it may export the rest, but
        // says what it could not read.
        let run = tlsreg(&["export", path]);
        assert!(
            run.code == 2 || run.stderr.contains("could not be read"),
            "export {path}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(name), "export {path}: {}", run.stderr);
    }
    // One run with all of them and a good hive: the good one is still audited.
    let mut args = vec!["audit", "samples/hives/compliant.hiv"];
    args.extend(cases.iter().map(|(p, _)| p.as_str()));
    let run = tlsreg(&args);
    assert_eq!(run.code, 2);
    assert!(
        run.out()
            .contains("COMPLIANT     samples/hives/compliant.hiv"),
        "{}",
        run.out()
    );
}

#[test]
fn an_odd_unrelated_value_does_not_fail_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read("samples/hives/compliant.hiv").unwrap();
    let v = vk_cells(&bytes, "EventLogging")[0];
    bytes[v + 4..v + 8].copy_from_slice(&4u32.to_le_bytes());
    bytes[v + 8..v + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = crafted(dir.path(), "odd-value.hiv", &bytes);
    let (code, doc) = json(&["audit", "--format", "json", &path]);
    assert_eq!(code, 0);
    let findings = findings(&doc);
    assert!(
        findings.iter().any(|f| f["code"] == "hive-value"
            && f["message"].as_str().unwrap().contains("EventLogging"))
    );
}

#[test]
fn a_mis_sorted_subkey_list_hides_nothing() {
    // Swap the two entries of the root's subkey list (ControlSet00x before
    // Select): nt-hive's binary search then misses Select.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read("samples/hives/two-control-sets.hiv").unwrap();
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let root = 4096 + word(36); // the root cell, from the base block
    let root_list = 4096 + word(root + 4 + 0x1C); // its subkey list
    assert_eq!(&bytes[root_list + 4..root_list + 6], b"lh");
    let count = u16::from_le_bytes([bytes[root_list + 6], bytes[root_list + 7]]) as usize;
    assert!(count >= 2);
    let first = root_list + 8;
    let last = first + 8 * (count - 1);
    let (a, b) = (
        bytes[first..first + 8].to_vec(),
        bytes[last..last + 8].to_vec(),
    );
    bytes[first..first + 8].copy_from_slice(&b);
    bytes[last..last + 8].copy_from_slice(&a);
    let path = crafted(dir.path(), "mis-sorted.hiv", &bytes);
    let (code, doc) = json(&["audit", "--format", "json", &path]);
    assert_eq!(code, 1);
    assert_eq!(doc["inputs"][0]["control_set"]["name"], "ControlSet002");
}
