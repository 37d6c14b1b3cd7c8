//! The sample SYSTEM hives in `samples/hives/`, made by the hive writer.
//!
//! The test builds each tree and checks that the committed file is what the
//! writer makes now, byte for byte. To (re)write the files after an intended
//! change to the writer or the trees:
//!
//! ```sh
//! TLSREG_WRITE_SAMPLES=1 cargo test --test hive_samples
//! ```

mod hive_common;

use std::path::{Path, PathBuf};

use hive_common::{assert_same_tree, read_tree};
use tlsreg::hive::{BuildOptions, build};
use tlsreg::registry::control_set::{HKLM, resolve};
use tlsreg::registry::{Key, Value};
use tlsreg::schannel::{Policy, evaluate};

/// The root key name of SYSTEM hives as Windows setup creates them.
const ROOT: &str = "CMI-CreateHive{2A7FB991-7BBE-4F9D-B91E-7CB51D4737F5}";
const SCHANNEL: [&str; 3] = ["Control", "SecurityProviders", "SCHANNEL"];

fn dword(v: u32) -> Value {
    Value::dword(v)
}

/// A SYSTEM hive with `Select` and the given control sets, each holding what
/// a fresh Windows install has under SCHANNEL and a few unrelated keys.
fn system(select: [u32; 4], sets: &[&str]) -> Key {
    let mut root = Key::new(ROOT);
    let s = root.create(&["Select"], None);
    for (name, v) in ["Current", "Default", "Failed", "LastKnownGood"]
        .into_iter()
        .zip(select)
    {
        s.set_value(name, dword(v), None);
    }
    for set in sets {
        let at = |rest: &[&str]| -> Vec<String> {
            std::iter::once(*set)
                .chain(rest.iter().copied())
                .map(str::to_owned)
                .collect()
        };
        root.create(&at(&["Control", "ComputerName", "ComputerName"]), None)
            .set_value("ComputerName", Value::string("GOLDEN01"), None);
        let schannel = root.create(&at(&SCHANNEL), None);
        schannel.set_value("EventLogging", dword(1), None);
        for empty in ["Ciphers", "CipherSuites", "Hashes", "KeyExchangeAlgorithms"] {
            schannel.create(&[empty], None);
        }
        schannel
            .create(&["Protocols", "SSL 2.0", "Client"], None)
            .set_value("DisabledByDefault", dword(1), None);
        let tcpip = root.create(&at(&["Services", "Tcpip", "Parameters"]), None);
        tcpip.set_value("Hostname", Value::string("golden01"), None);
        tcpip.set_value("NV Hostname", Value::string("golden01"), None);
        tcpip.set_value("EnableICMPRedirect", dword(1), None);
        // Device properties are stored as default values typed 0xFFFF0000 |
        // DEVPROP_TYPE (0x12: a string), a type number no API documents.
        let property = root.create(
            &at(&[
                "Enum",
                "ROOT",
                "BasicDisplay",
                "0000",
                "Properties",
                "{a8b865dd-2e3d-4094-ad97-e593a70c75d6}",
                "0005",
            ]),
            None,
        );
        let inf = Value::string("display.inf");
        property.set_value("", Value::new(0xFFFF_0012, inf.data), None);
    }
    root
}

/// Sets TLS 1.2 `side` in control set `set` to the values given, in order.
fn tls12(root: &mut Key, set: &str, side: &str, values: &[(&str, Value)]) {
    let mut path = vec![set];
    path.extend(SCHANNEL);
    path.extend(["Protocols", "TLS 1.2", side]);
    let key = root.create(&path, None);
    for (name, value) in values {
        key.set_value(name, value.clone(), None);
    }
}

fn compliant_side(root: &mut Key, set: &str, side: &str, enabled: u32) {
    tls12(
        root,
        set,
        side,
        &[("DisabledByDefault", dword(0)), ("Enabled", dword(enabled))],
    );
}

/// Every sample: file name, tree, and whether the article's policy passes.
fn samples() -> Vec<(&'static str, Key, bool)> {
    let one = [1, 1, 0, 1];
    let mut out = Vec::new();

    let mut t = system(one, &["ControlSet001"]);
    compliant_side(&mut t, "ControlSet001", "Client", 1);
    compliant_side(&mut t, "ControlSet001", "Server", 1);
    out.push(("compliant.hiv", t, true));

    out.push(("not-set.hiv", system(one, &["ControlSet001"]), false));

    let mut t = system(one, &["ControlSet001"]);
    compliant_side(&mut t, "ControlSet001", "Client", 1);
    out.push(("client-only.hiv", t, false));

    let mut t = system(one, &["ControlSet001"]);
    for side in ["Client", "Server"] {
        let values = [
            ("DisabledByDefault", Value::string("0")),
            ("Enabled", Value::string("1")),
        ];
        tls12(&mut t, "ControlSet001", side, &values);
    }
    out.push(("reg-sz.hiv", t, false));

    let mut t = system([2, 2, 0, 1], &["ControlSet001", "ControlSet002"]);
    compliant_side(&mut t, "ControlSet001", "Client", 1);
    compliant_side(&mut t, "ControlSet001", "Server", 1);
    tls12(&mut t, "ControlSet002", "Client", &[("Enabled", dword(0))]);
    out.push(("two-control-sets.hiv", t, false));

    let mut t = system(one, &["ControlSet001"]);
    compliant_side(&mut t, "ControlSet001", "Client", 0xffff_ffff);
    compliant_side(&mut t, "ControlSet001", "Server", 0xffff_ffff);
    out.push(("enabled-ffffffff.hiv", t, true));

    out
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hives")
}

/// `hive` mounted at `HKEY_LOCAL_MACHINE\SYSTEM`, as the audit sees it.
fn mounted(hive: &Key) -> Key {
    let mut root = Key::new("");
    for (path, key) in hive.walk() {
        let full: Vec<&str> = [HKLM, "SYSTEM"].into_iter().chain(path).collect();
        let dst = root.create(&full, None);
        for e in key.values() {
            dst.set_value(&e.name, e.value.clone(), None);
        }
    }
    root
}

#[test]
fn committed_sample_hives_are_what_the_writer_makes() {
    let write = std::env::var_os("TLSREG_WRITE_SAMPLES").is_some_and(|v| v == "1");
    let dir = dir();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, tree, _) in samples() {
        let bytes = build(&tree, &BuildOptions::default());
        assert_same_tree(&tree, &read_tree(&bytes));
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
            eprintln!("wrote {}", path.display());
            continue;
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run TLSREG_WRITE_SAMPLES=1 cargo test --test hive_samples",
                path.display()
            )
        });
        assert!(
            committed == bytes,
            "{name} is not what the writer makes now; if the change is intended, \
             rerun with TLSREG_WRITE_SAMPLES=1 and commit the new file"
        );
        assert!(bytes.len() <= 16 * 1024, "{name}: a few KiB");
    }
    // No stale sample left behind.
    let names: Vec<&str> = samples().iter().map(|s| s.0).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().file_name().into_string().unwrap();
        if file.ends_with(".hiv") {
            assert!(
                names.contains(&file.as_str()),
                "{file} is made by no sample"
            );
        }
    }
}

#[test]
fn sample_trees_give_the_intended_verdicts() {
    let policy = Policy::article();
    let system = vec![HKLM.to_owned(), "SYSTEM".to_owned()];
    for (name, tree, compliant) in samples() {
        let root = mounted(&tree);
        let cs = resolve(&root, &system).expect("a control set");
        let evaluation = evaluate(&root, Some(&cs), None, &policy);
        assert_eq!(evaluation.compliant(), compliant, "{name}");
        if name == "two-control-sets.hiv" {
            // Select\Current = 2 picks ControlSet002; ControlSet001 alone
            // would have passed.
            assert_eq!(cs.name(), "ControlSet002");
            let mut first = cs.clone();
            *first.path.last_mut().unwrap() = "ControlSet001".into();
            assert!(evaluate(&root, Some(&first), None, &policy).compliant());
        } else {
            assert_eq!(cs.name(), "ControlSet001", "{name}");
        }
    }
}

#[test]
fn committed_samples_read_back_with_nt_hive() {
    // What a hive reader sees in the committed files, independent of the
    // trees above.
    if std::env::var_os("TLSREG_WRITE_SAMPLES").is_some_and(|v| v == "1") {
        eprintln!("note: samples are being rewritten by another test; not read here");
        return;
    }
    let read = |name: &str| std::fs::read(dir().join(name)).expect("sample present");
    let client = "ControlSet001\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Client";
    let bytes = read("compliant.hiv");
    let hive = nt_hive::Hive::new(bytes.as_slice()).unwrap();
    let root = hive.root_key_node().unwrap();
    assert_eq!(root.name().unwrap().to_string_lossy(), ROOT);
    let key = root.subpath(client).unwrap().unwrap();
    assert_eq!(
        key.value("Enabled").unwrap().unwrap().dword_data().unwrap(),
        1
    );

    let bytes = read("two-control-sets.hiv");
    let hive = nt_hive::Hive::new(bytes.as_slice()).unwrap();
    let root = hive.root_key_node().unwrap();
    let select = root.subkey("Select").unwrap().unwrap();
    let current = select.value("Current").unwrap().unwrap();
    assert_eq!(current.dword_data().unwrap(), 2);
    let cs2 = client.replace("ControlSet001", "ControlSet002");
    let key = root.subpath(&cs2).unwrap().unwrap();
    assert_eq!(
        key.value("Enabled").unwrap().unwrap().dword_data().unwrap(),
        0
    );
    let server = cs2.replace("Client", "Server");
    assert!(root.subpath(&server).is_none());

    let bytes = read("reg-sz.hiv");
    let hive = nt_hive::Hive::new(bytes.as_slice()).unwrap();
    let key = hive
        .root_key_node()
        .unwrap()
        .subpath(client)
        .unwrap()
        .unwrap();
    let enabled = key.value("Enabled").unwrap().unwrap();
    assert_eq!(enabled.string_data().unwrap(), "1");
}
