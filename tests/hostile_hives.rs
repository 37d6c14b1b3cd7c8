//! Hostile hives: valid or nearly valid regf files built to hurt a reader
//! (shared cells that unfold into millions of key paths, loops, keys nested
//! past Windows' limit, corrupt cells, copies too big for memory). Each is
//! generated here with the project's hive writer and patched at known cell
//! offsets, then audited by the binary as a child process whose exit code
//! and peak memory are checked.

mod common;

use std::path::{Path, PathBuf};

use tlsreg::hive::{BuildOptions, build};
use tlsreg::registry::{Key, Value};

const SCHANNEL: [&str; 3] = ["Control", "SecurityProviders", "SCHANNEL"];

/// A SYSTEM hive tree with `Select` = (current, last known good) and the
/// given control sets, each with a fresh install's SCHANNEL keys; TLS 1.2
/// is set explicitly (compliant) in the sets named in `compliant`.
fn system(root_name: &str, current: u32, lkg: u32, sets: &[&str], compliant: &[&str]) -> Key {
    let mut root = Key::new(root_name);
    let s = root.create(&["Select"], None);
    for (name, v) in [
        ("Current", current),
        ("Default", current),
        ("Failed", 0),
        ("LastKnownGood", lkg),
    ] {
        s.set_value(name, Value::dword(v), None);
    }
    for set in sets {
        let schannel = root.create(&path(set, &[]), None);
        schannel.set_value("EventLogging", Value::dword(1), None);
        for empty in ["Ciphers", "CipherSuites", "Hashes", "KeyExchangeAlgorithms"] {
            schannel.create(&[empty], None);
        }
        root.create(&[set, "Services", "Tcpip", "Parameters"], None)
            .set_value("Hostname", Value::string("golden01"), None);
        if compliant.contains(set) {
            for side in ["Client", "Server"] {
                let key = root.create(&path(set, &["Protocols", "TLS 1.2", side]), None);
                key.set_value("DisabledByDefault", Value::dword(0), None);
                key.set_value("Enabled", Value::dword(1), None);
            }
        }
    }
    root
}

/// `set\Control\SecurityProviders\SCHANNEL\rest...`
fn path(set: &str, rest: &[&str]) -> Vec<String> {
    std::iter::once(set)
        .chain(SCHANNEL)
        .chain(rest.iter().copied())
        .map(str::to_owned)
        .collect()
}

fn compliant() -> Key {
    system("ROOT", 1, 1, &["ControlSet001"], &["ControlSet001"])
}

/// Reading the cells of a hive the writer made, by the specification.
struct Cells<'a>(&'a [u8]);

impl Cells<'_> {
    fn u32(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap())
    }

    /// The root key node (hive bins offset).
    fn root(&self) -> u32 {
        self.u32(36)
    }

    /// A field of a key node's cell data (file offset of it).
    fn nk_field(nk: u32, field: usize) -> usize {
        4096 + nk as usize + 4 + field
    }

    fn name(&self, nk: u32) -> String {
        let at = Self::nk_field(nk, 0x48);
        let len = u16::from_le_bytes([self.0[at], self.0[at + 1]]) as usize;
        let name = Self::nk_field(nk, 0x4C);
        String::from_utf8_lossy(&self.0[name..name + len]).into_owned()
    }

    fn subkey_list(&self, nk: u32) -> u32 {
        self.u32(Self::nk_field(nk, 28))
    }

    /// The key nodes an `lh` list names.
    fn entries(&self, list: u32) -> Vec<u32> {
        let at = 4096 + list as usize + 4;
        assert_eq!(&self.0[at..at + 2], b"lh");
        let count = u16::from_le_bytes([self.0[at + 2], self.0[at + 3]]) as usize;
        (0..count).map(|i| self.u32(at + 4 + 8 * i)).collect()
    }

    fn child(&self, nk: u32, name: &str) -> u32 {
        self.entries(self.subkey_list(nk))
            .into_iter()
            .find(|&c| self.name(c).eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("no subkey {name}"))
    }

    fn find(&self, parts: &[&str]) -> u32 {
        parts.iter().fold(self.root(), |nk, p| self.child(nk, p))
    }
}

/// Sets a cell's size field to 0, the corruption nt-hive trips on.
fn zero_cell(bytes: &mut [u8], cell: u32) {
    let at = 4096 + cell as usize;
    bytes[at..at + 4].copy_from_slice(&[0; 4]);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs tlsreg as a child; where it is measured (Linux), its own peak
/// memory is bounded.
fn run(args: &[&str]) -> Run {
    let (run, peak) = common::Cmd::new(args).run_with_peak();
    if let Some(peak) = peak {
        eprintln!("{args:?}: exit {}, peak {} MiB", run.code, peak >> 20);
        assert!(
            peak < common::MEMORY_BOUND,
            "peak memory {} MiB for {args:?}",
            peak >> 20
        );
    }
    Run {
        code: run.code,
        stdout: run.text(),
        stderr: run.stderr,
    }
}

type Pairs = Vec<(String, String)>;
type Audit = (i32, Pairs, Pairs, serde_json::Value);

/// `audit --format json`: exit code, findings as (code, message), the
/// checks as (key\\value, status), and the report.
fn audit(file: &Path, extra: &[&str]) -> Audit {
    let mut args = vec!["audit", "--format", "json"];
    args.extend(extra);
    args.push(file.to_str().unwrap());
    let r = run(&args);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.stdout, r.stderr));
    let input = &doc["inputs"][0];
    let findings = input["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or_default().to_owned(),
                        f["message"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let checks = input["checks"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        format!(
                            "{}\\{}",
                            c["key"].as_str().unwrap_or_default(),
                            c["value"].as_str().unwrap_or_default()
                        ),
                        c["status"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (r.code, findings, checks, doc)
}

fn file_offset(cell: u32) -> String {
    format!("file offset {:#x}", cell as usize + 4096)
}

fn all_ok(checks: &[(String, String)]) -> bool {
    checks.len() == 4 && checks.iter().all(|(_, s)| s == "ok")
}

#[test]
fn shared_subkey_lists_do_not_unfold() {
    // SecurityProviders\Dag holds A and B; each A holds the next A and B,
    // 20 levels down. Then every B is given its sibling A's subkey list: a
    // 12 KB hive whose tree, read naively, has 2^21 key paths.
    let mut tree = compliant();
    let mut level = vec!["ControlSet001", "Control", "SecurityProviders", "Dag"];
    for _ in 0..20 {
        tree.create(&level, None).create(&["B"], None);
        level.push("A");
    }
    tree.create(&level, None);
    let mut bytes = build(&tree, &BuildOptions::default());
    let mut shared = Vec::new();
    {
        let cells = Cells(&bytes);
        let mut parts = vec!["ControlSet001", "Control", "SecurityProviders", "Dag"];
        for _ in 0..20 {
            let parent = cells.find(&parts);
            let (a, b) = (cells.child(parent, "A"), cells.child(parent, "B"));
            shared.push((b, cells.subkey_list(a), cells.u32(Cells::nk_field(a, 20))));
            parts.push("A");
        }
    }
    for (b, list, count) in &shared {
        bytes[Cells::nk_field(*b, 20)..][..4].copy_from_slice(&count.to_le_bytes());
        bytes[Cells::nk_field(*b, 28)..][..4].copy_from_slice(&list.to_le_bytes());
    }
    assert!(bytes.len() < 64 << 10, "{} bytes", bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "dag.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    let told: Vec<&String> = findings
        .iter()
        .filter(|(c, m)| c == "hive-shared" && m.contains("shared"))
        .map(|(_, m)| m)
        .collect();
    // One finding per shared list (the one in the level with no subkeys
    // names no list), each at the list's cell.
    assert!(told.len() >= 19, "{findings:?}");
    let (_, list, _) = shared[0];
    assert!(
        told.iter().any(|m| m.contains(&file_offset(list))),
        "{told:?}"
    );
    // Export reads the same way: each shared cell once.
    let r = run(&[
        "export",
        file.to_str().unwrap(),
        "HKLM\\SYSTEM\\ControlSet001\\Control\\SecurityProviders",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("shared"), "{}", r.stderr);
}

/// A compliant hive with a chain of `n` keys `L1\L2\...` under
/// SCHANNEL\Ciphers (at depth 5 below the hive root).
fn nested(n: usize) -> (Vec<u8>, Vec<String>) {
    let mut tree = compliant();
    let mut parts = path("ControlSet001", &["Ciphers"]);
    for i in 1..=n {
        parts.push(format!("L{i}"));
    }
    tree.create(&parts, None)
        .set_value("Deepest", Value::dword(7), None);
    (build(&tree, &BuildOptions::default()), parts)
}

#[test]
fn keys_nest_512_levels_deep_and_deeper_ones_are_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    // 260 under Ciphers (265 below the root) and 507 (exactly 512): read in
    // full, no finding, and the deepest value exported.
    for n in [260, 507] {
        let (bytes, _) = nested(n);
        let file = write(dir.path(), &format!("nested{n}.hiv"), &bytes);
        let (code, findings, checks, _) = audit(&file, &[]);
        assert_eq!(code, 0, "{n}: {findings:?}");
        assert!(all_ok(&checks), "{n}: {checks:?}");
        assert!(
            !findings.iter().any(|(c, _)| c.starts_with("hive-")),
            "{n}: {findings:?}"
        );
        let r = run(&["export", file.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{n}: {}", r.stderr);
        assert!(
            r.stdout.contains(&format!("\\L{n}]"))
                && r.stdout.contains("\"Deepest\"=dword:00000007"),
            "{n}: the deepest key is exported"
        );
    }
    // 512 and 600 under Ciphers: the keys past 512 levels below the root are
    // a finding at the first one's cell; TLS 1.2 is still judged.
    for n in [512, 600] {
        let (bytes, _) = nested(n);
        let first_unread = {
            let cells = Cells(&bytes);
            let mut parts: Vec<String> = path("ControlSet001", &["Ciphers"]);
            for i in 1..=507 {
                parts.push(format!("L{i}"));
            }
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            cells.child(cells.find(&refs), "L508")
        };
        let file = write(dir.path(), &format!("nested{n}.hiv"), &bytes);
        let (code, findings, checks, _) = audit(&file, &[]);
        assert_eq!(code, 0, "{n}: {findings:?}");
        assert!(all_ok(&checks), "{n}: {checks:?}");
        let depth: Vec<&String> = findings
            .iter()
            .filter(|(c, m)| c == "hive-limit" && m.contains("deeper than 512 levels"))
            .map(|(_, m)| m)
            .collect();
        assert_eq!(depth.len(), 1, "{n}: {findings:?}");
        assert!(depth[0].contains("\\L507\\L508`"), "{}", depth[0]);
        assert!(
            depth[0].contains(&file_offset(first_unread)),
            "{}",
            depth[0]
        );
    }
}

#[test]
fn a_key_that_is_its_own_child_is_a_finding_not_a_hang() {
    // SCHANNEL\Ciphers\Loop holds one subkey, whose list entry is then
    // pointed back at Loop itself.
    let mut tree = compliant();
    tree.create(&path("ControlSet001", &["Ciphers", "Loop", "Child"]), None);
    let mut bytes = build(&tree, &BuildOptions::default());
    let (lp, list) = {
        let cells = Cells(&bytes);
        let lp = cells.find(&[
            "ControlSet001",
            "Control",
            "SecurityProviders",
            "SCHANNEL",
            "Ciphers",
            "Loop",
        ]);
        (lp, cells.subkey_list(lp))
    };
    let entry = 4096 + list as usize + 4 + 4;
    bytes[entry..entry + 4].copy_from_slice(&lp.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "loop.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    assert!(
        findings.iter().any(|(c, m)| c == "hive-shared"
            && m.contains("a loop")
            && m.contains("Ciphers\\Loop\\Loop`")
            && m.contains(&file_offset(lp))),
        "{findings:?}"
    );
}

#[test]
fn a_corrupt_cell_is_a_finding_and_fails_only_the_checks_it_hides() {
    let dir = tempfile::tempdir().unwrap();
    let good = build(&compliant(), &BuildOptions::default());
    let cells = Cells(&good);
    let sp = ["ControlSet001", "Control", "SecurityProviders", "SCHANNEL"];
    let ciphers = cells.child(cells.find(&sp), "Ciphers");
    let client = cells.find(&[&sp[..], &["Protocols", "TLS 1.2", "Client"]].concat());
    let client_values = cells.u32(Cells::nk_field(client, 40));

    // Away from TLS 1.2: the Ciphers key node. Its siblings are read.
    let mut bytes = good.clone();
    zero_cell(&mut bytes, ciphers);
    let file = write(dir.path(), "ciphers.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    assert!(
        findings.iter().any(|(c, m)| c == "hive-key"
            && m.contains("SCHANNEL`")
            && m.contains(&file_offset(ciphers))),
        "{findings:?}"
    );

    // An unrelated value's cell (SCHANNEL\EventLogging): left out, said
    // where.
    let schannel = cells.find(&sp);
    let event_logging = cells.u32(4096 + cells.u32(Cells::nk_field(schannel, 40)) as usize + 4);
    let mut bytes = good.clone();
    zero_cell(&mut bytes, event_logging);
    let file = write(dir.path(), "value.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    assert!(
        findings.iter().any(|(c, m)| c == "hive-value"
            && m.contains("SCHANNEL`")
            && m.contains(&file_offset(event_logging))),
        "{findings:?}"
    );

    // The root's subkey list: no control set can be found, and the error
    // says the hive is corrupt there (not that it is another kind of hive).
    let mut bytes = good.clone();
    zero_cell(&mut bytes, cells.subkey_list(cells.root()));
    let file = write(dir.path(), "root.hiv", &bytes);
    let r = run(&["audit", file.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("corrupt hive: the subkey list of `(root)`")
            && r.stdout
                .contains(&file_offset(cells.subkey_list(cells.root()))),
        "{}",
        r.stdout
    );

    // In TLS 1.2\Client: its value list. No verdict, and the message says
    // where.
    let mut bytes = good.clone();
    zero_cell(&mut bytes, client_values);
    let file = write(dir.path(), "client.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 2, "{findings:?}");
    let unreadable: Vec<&String> = checks
        .iter()
        .filter(|(_, s)| s == "unreadable")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(unreadable.len(), 2, "{checks:?}");
    assert!(
        unreadable.iter().all(|n| n.contains("TLS 1.2\\Client\\")),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .filter(|(n, s)| n.contains("Server") && s == "ok")
            .count()
            == 2,
        "{checks:?}"
    );
    assert!(
        findings.iter().any(|(c, m)| c == "unreadable-value"
            && m.contains("TLS 1.2\\Client")
            && m.contains(&file_offset(client))),
        "{findings:?}"
    );
    // The text report and fix say it too.
    let r = run(&["audit", file.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("TLS 1.2\\Client"), "{}", r.stdout);
    let r = run(&["fix", file.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("TLS 1.2\\Client"), "{}", r.stderr);
}

#[test]
fn a_damaged_control_set_does_not_stop_the_current_one() {
    // regipy's corrupted_system_hive: root $$$PROTO.HIV, ControlSet001
    // current and readable with no TLS 1.2 key, ControlSet003 (last known
    // good) damaged.
    let tree = system(
        "$$$PROTO.HIV",
        1,
        3,
        &["ControlSet001", "ControlSet003"],
        &[],
    );
    let mut bytes = build(&tree, &BuildOptions::default());
    let control = {
        let cells = Cells(&bytes);
        cells.find(&["ControlSet003", "Control"])
    };
    zero_cell(&mut bytes, control);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "corrupted_system_hive", &bytes);
    for extra in [&[][..], &["--control-set", "1"]] {
        let (code, findings, checks, doc) = audit(&file, extra);
        assert_eq!(code, 1, "{extra:?}: {findings:?}");
        assert_eq!(doc["inputs"][0]["control_set"]["name"], "ControlSet001");
        assert!(checks.iter().all(|(_, s)| s == "missing"), "{checks:?}");
        assert!(
            findings.iter().any(|(c, m)| c == "hive-key"
                && m.contains("`ControlSet003`")
                && m.contains(&file_offset(control))),
            "{extra:?}: {findings:?}"
        );
    }
    // The damaged set itself has no verdict.
    let (code, findings, checks, _) = audit(&file, &["--control-set", "3"]);
    assert_eq!(code, 2, "{findings:?}");
    assert!(checks.iter().all(|(_, s)| s == "unreadable"), "{checks:?}");
}

#[test]
fn what_one_hive_copies_is_bounded() {
    // 300 keys under SecurityProviders\ZBig whose one value each is pointed
    // at the same 1 MiB of data: a 1 MiB hive that would copy 300 MiB.
    let mut tree = compliant();
    let big = tree.create(
        &["ControlSet001", "Control", "SecurityProviders", "ZBig"],
        None,
    );
    big.create(&["Source"], None)
        .set_value("Blob", Value::new(3, vec![0xA5; 1 << 20]), None);
    for i in 0..300 {
        big.create(&[format!("K{i:03}")], None)
            .set_value("Blob", Value::new(3, vec![1; 8]), None);
    }
    let mut bytes = build(&tree, &BuildOptions::default());
    let (source_vk, keys) = {
        let cells = Cells(&bytes);
        let zbig = cells.find(&["ControlSet001", "Control", "SecurityProviders", "ZBig"]);
        let vk_of = |nk: u32| cells.u32(4096 + cells.u32(Cells::nk_field(nk, 40)) as usize + 4);
        let keys: Vec<u32> = (0..300)
            .map(|i| vk_of(cells.child(zbig, &format!("K{i:03}"))))
            .collect();
        (vk_of(cells.child(zbig, "Source")), keys)
    };
    let field = |vk: u32, at: usize| 4096 + vk as usize + 4 + at;
    let (size, data) = (field(source_vk, 4), field(source_vk, 8));
    let (size, data) = (
        bytes[size..size + 4].to_vec(),
        bytes[data..data + 4].to_vec(),
    );
    for vk in keys {
        bytes[field(vk, 4)..field(vk, 4) + 4].copy_from_slice(&size);
        bytes[field(vk, 8)..field(vk, 8) + 4].copy_from_slice(&data);
    }
    assert!(bytes.len() < 2 << 20);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "big.hiv", &bytes);
    // SCHANNEL sorts before ZBig: it is read, then the limit stops the rest.
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    assert!(
        findings.iter().any(|(c, m)| c == "hive-limit"
            && m.contains("64 MiB")
            && m.contains("ZBig\\K0")
            && m.contains("file offset 0x")),
        "{findings:?}"
    );
}

#[test]
fn long_names_nested_deep_cost_no_more_than_their_bytes() {
    // 400 keys of 16,000-character names, each under the last: a 6.5 MB hive
    // whose paths, if each key kept its own, would add up to 1.3 GB. The
    // deepest key's value list is corrupt, so a message names it.
    let mut tree = compliant();
    let mut parts = path("ControlSet001", &["Ciphers"]);
    for i in 0..400 {
        parts.push(format!("N{i:03}{}", "x".repeat(16_000)));
    }
    tree.create(&parts, None)
        .set_value("Deepest", Value::dword(7), None);
    let mut bytes = build(&tree, &BuildOptions::default());
    let values = {
        let cells = Cells(&bytes);
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let (first, rest) = refs.split_at(1);
        let mut nk = cells.find(&[first, &rest[..4]].concat());
        for name in &rest[4..] {
            nk = cells.child(nk, name);
        }
        cells.u32(Cells::nk_field(nk, 40))
    };
    zero_cell(&mut bytes, values);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "long.hiv", &bytes);
    let (code, findings, checks, _) = audit(&file, &[]);
    assert_eq!(code, 0, "{findings:?}");
    assert!(all_ok(&checks), "{checks:?}");
    let told: Vec<&String> = findings
        .iter()
        .filter(|(c, m)| c == "hive-value" && m.contains(&file_offset(values)))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(told.len(), 1, "{findings:?}");
    // Names cut to 64 characters, the middle of the path left out.
    assert!(told[0].len() < 2000, "{} bytes", told[0].len());
    assert!(told[0].contains("N399xxx"), "{}", told[0]);
}
