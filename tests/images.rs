//! Disk images: the hive inside an image audits exactly as the loose hive,
//! in every container; what cannot be read says which layer failed; the OS
//! version comes from SOFTWARE; memory stays small on a large image.

mod common;

use common::{findings, tlsreg};

const CONTAINERS: [&str; 8] = [
    "gpt.raw",
    "gpt.vhd",
    "gpt-fixed.vhd",
    "gpt.vhdx",
    "gpt.vmdk",
    "gpt-stream.vmdk",
    "gpt.qcow2",
    "gpt-z.qcow2",
];

fn json(args: &[&str]) -> (i32, serde_json::Value) {
    let run = tlsreg(args);
    let doc = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    (run.code, doc)
}

/// What an audit says, without where the input came from: verdict, control
/// set, OS, checks, and findings (the image's own notes left out).
fn body(input: &serde_json::Value) -> serde_json::Value {
    let mut findings: Vec<serde_json::Value> = input["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] != "image")
        .cloned()
        .collect();
    for f in &mut findings {
        f["location"] = serde_json::Value::Null;
    }
    serde_json::json!({
        "verdict": input["verdict"],
        "control_set": input["control_set"],
        "os": input["os"],
        "checks": input["checks"],
        "matrix": input["matrix"],
        "findings": findings,
    })
}

#[test]
fn every_container_audits_like_the_loose_hive_inside_it() {
    let software = "samples/images/payload/SOFTWARE.hiv";
    for policy in ["article", "exchange"] {
        let (code, loose) = json(&[
            "audit",
            "--format",
            "json",
            "--policy",
            policy,
            "--software",
            software,
            "samples/hives/compliant.hiv",
        ]);
        let want = body(&loose["inputs"][0]);
        for c in CONTAINERS {
            let path = format!("samples/images/{c}");
            let (got_code, doc) = json(&["audit", "--format", "json", "--policy", policy, &path]);
            assert_eq!(got_code, code, "{policy} {c}");
            let inputs = doc["inputs"].as_array().unwrap();
            assert_eq!(inputs.len(), 1, "{c}: one Windows installation");
            assert_eq!(inputs[0]["kind"], "image");
            assert_eq!(body(&inputs[0]), want, "{policy} {c}");
        }
    }
    // The text report's body too, from the control set line on.
    let loose = tlsreg(&[
        "audit",
        "--software",
        software,
        "samples/hives/compliant.hiv",
    ])
    .out();
    let image = tlsreg(&["audit", "samples/images/gpt.vhdx"]).out();
    let from = |s: &str| {
        let end = ["  Findings:", "\nCOMPLIANT"]
            .iter()
            .filter_map(|m| s.find(m))
            .min()
            .unwrap();
        s[s.find("  control set").unwrap()..end]
            .trim_end()
            .to_owned()
    };
    assert_eq!(from(&loose), from(&image));
}

#[test]
fn each_installation_is_audited_and_named() {
    let (code, doc) = json(&[
        "audit",
        "--format",
        "json",
        "samples/images/two-windows.raw",
    ]);
    assert_eq!(code, 1);
    let inputs = doc["inputs"].as_array().unwrap();
    let named: Vec<(&str, &str)> = inputs
        .iter()
        .map(|i| (i["path"].as_str().unwrap(), i["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [
            (
                "samples/images/two-windows.raw [MBR partition 1 (type 0x07 NTFS/exFAT)]",
                "compliant"
            ),
            (
                "samples/images/two-windows.raw [MBR partition 5 (logical, type 0x07 NTFS/exFAT)]",
                "noncompliant"
            ),
        ]
    );
    // Partition 5 carries no SOFTWARE: its OS is unknown, and said to be.
    assert!(inputs[1]["os"].is_null());
    let text = tlsreg(&["audit", "samples/images/two-windows.raw"]).out();
    assert!(
        text.contains("OS           Windows Server 2019 Standard, build 17763.6893 (Server)"),
        "{text}"
    );
    assert!(text.contains("OS           unknown"), "{text}");
    // diff and fix take one installation and say so.
    let run = tlsreg(&["fix", "samples/images/two-windows.raw"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("holds 2 Windows installations"),
        "{}",
        run.stderr
    );
    assert_eq!(
        tlsreg(&["fix", "samples/images/mbr.raw", "--encoding", "utf8"]).code,
        0
    );
}

#[test]
fn what_cannot_be_read_names_the_layer_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let gpt = std::fs::read("samples/images/gpt.raw").unwrap();
    let vhdx = std::fs::read("samples/images/gpt.vhdx").unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // Container: a VHDX cut inside its headers.
    let container = write("cut.vhdx", &vhdx[..300 * 1024]);
    // NTFS: the Windows partition's boot sector wiped (partition 3 starts at sector 6144).
    let mut bytes = gpt.clone();
    let start = 6144 * 512;
    bytes[start..start + 512].copy_from_slice(&[0x55; 512]);
    let ntfs = write("bad-ntfs.raw", &bytes);
    // Hive: the hives inside the image (SYSTEM and SOFTWARE), their base
    // blocks damaged.
    let mut bytes = gpt.clone();
    let mut at = 0;
    while let Some(h) = find(&bytes[at..], b"regf\x01\x00\x00\x00") {
        bytes[at + h..at + h + 4].copy_from_slice(b"XXXX");
        at += h + 4;
    }
    assert!(at > 0, "the hives in gpt.raw");
    let hive = write("bad-hive.raw", &bytes);
    let garbage = write("garbage.vhdx", &{
        let mut b = b"vhdxfile".to_vec();
        b.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        b
    });
    let cases = [
        (container.as_str(), "disk image: VHDX"),
        ("samples/images/truncated.raw", "partition table:"),
        (ntfs.as_str(), "NTFS"),
        (hive.as_str(), "hive"),
        (garbage.as_str(), "disk image: VHDX"),
        ("samples/images/bitlocker.raw", "encrypted with BitLocker"),
        (
            "samples/images/no-windows.raw",
            "no Windows installation found",
        ),
    ];
    for (path, layer) in cases {
        let run = tlsreg(&["audit", path]);
        assert_eq!(run.code, 2, "{path}: {}", run.out());
        assert!(
            run.out().contains(layer),
            "{path} should name {layer}:\n{}",
            run.out()
        );
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn images_are_found_in_folders() {
    let run = tlsreg(&["audit", "--format", "json", "samples/images"]);
    let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let paths: Vec<String> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| common::slashed(i["path"].as_str().unwrap()))
        .collect();
    for c in CONTAINERS {
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with(&format!("samples/images/{c} ["))),
            "{c} in {paths:?}"
        );
    }
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with(".hiv") || p.contains("make.sh")),
        "{paths:?}"
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_4_gib_image_audits_in_little_memory() {
    // A 4 GiB sparse raw disk whose first 12 MiB are the GPT sample, and the
    // same as a dynamic VHDX (qemu-img is part of the machine).
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("big.raw");
    let gpt = std::fs::read("samples/images/gpt.raw").unwrap();
    std::fs::write(&raw, &gpt).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let vhdx = dir.path().join("big.vhdx");
    let converted = std::process::Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "vhdx"])
        .arg(&raw)
        .arg(&vhdx)
        .status()
        .expect("qemu-img (qemu-utils) is needed for this test");
    assert!(converted.success());
    for image in [&raw, &vhdx] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (run, peak) = common::tlsreg_measured(root, &["audit", image.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{image:?}");
        assert!(peak < 100 << 20, "{image:?}: peak RSS {} MiB", peak >> 20);
    }
}

#[test]
fn wim_images_audit_like_the_hive_inside_them() {
    let (code, loose) = json(&["audit", "--format", "json", "samples/hives/compliant.hiv"]);
    let want = body(&loose["inputs"][0]);
    for wim in [
        "none.wim",
        "xpress.wim",
        "lzx.wim",
        "lzx-256k.wim",
        "solid-lzx.wim",
    ] {
        let path = format!("samples/images/wim/{wim}");
        // A solid WIM is read through wimlib-imagex, where it is installed
        // (on CI's Linux, not inside Wine): without it, a clear refusal.
        if wim.starts_with("solid") && !wimlib_runs() {
            let (got, doc) = json(&["audit", "--format", "json", &path]);
            let error = doc["inputs"][0]["error"].as_str().unwrap_or_default();
            assert_eq!(got, 2, "{wim}: {doc:#}");
            assert!(
                error.contains("solid") && error.contains("wimlib-imagex export"),
                "{error}"
            );
            continue;
        }
        let (got, doc) = json(&["audit", "--format", "json", &path]);
        let inputs = doc["inputs"].as_array().unwrap();
        assert_eq!(got, code, "{wim}: {doc:#}");
        assert_eq!(
            inputs[0]["path"],
            format!("{path} [image 1: Windows Server 2019 Standard]")
        );
        assert_eq!(body(&inputs[0]), want, "{wim}");
    }
    // Every edition is audited on its own.
    let (code, doc) = json(&[
        "audit",
        "--format",
        "json",
        "samples/images/wim/two-images.wim",
    ]);
    assert_eq!(code, 1);
    let verdicts: Vec<(&str, &str)> = doc["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["path"].as_str().unwrap(), i["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "samples/images/wim/two-images.wim [image 1: Windows Server 2019 Standard]",
                "compliant"
            ),
            (
                "samples/images/wim/two-images.wim [image 2: Windows Server 2019 Datacenter]",
                "noncompliant"
            ),
        ]
    );
}

/// Whether tlsreg, running as this process does, can start wimlib-imagex.
fn wimlib_runs() -> bool {
    std::process::Command::new("wimlib-imagex")
        .arg("--version")
        .output()
        .is_ok()
}

#[test]
fn lzms_is_read_by_wimlib_when_it_is_there_and_refused_clearly_when_not() {
    let have_wimlib = wimlib_runs();
    let run = tlsreg(&["audit", "samples/images/wim/lzms.wim"]);
    if have_wimlib {
        assert_eq!(run.code, 0, "{}", run.out());
        assert!(
            run.out().contains("read with wimlib-imagex"),
            "{}",
            run.out()
        );
    } else {
        assert_eq!(run.code, 2, "{}", run.out());
        assert!(
            run.out().contains("LZMS") && run.out().contains("wimlib-imagex export"),
            "{}",
            run.out()
        );
    }
}

#[test]
fn a_dirty_hive_in_an_image_has_its_logs_replayed() {
    // dirty.vhdx holds samples/hives/dirty: the TLS keys are only in its logs.
    let (code, doc) = json(&["audit", "--format", "json", "samples/images/dirty.vhdx"]);
    assert_eq!(code, 0, "{doc:#}");
    let read_as = doc["inputs"][0]["read_as"].as_str().unwrap();
    assert!(
        read_as.contains("replayed 3 log entries from SYSTEM.LOG1, SYSTEM.LOG2"),
        "{read_as}"
    );
    let (code, doc) = json(&[
        "audit",
        "--format",
        "json",
        "--no-logs",
        "samples/images/dirty.vhdx",
    ]);
    assert_eq!(code, 1);
    let findings = findings(&doc);
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "dirty-hive" && f["severity"] == "warning")
    );
    let text = tlsreg(&["audit", "--no-logs", "samples/images/dirty.vhdx"]).out();
    assert!(
        text.contains("Next: tlsreg fix samples/images/dirty.vhdx -o fix.reg"),
        "{text}"
    );
}

/// The input is opened once: deciding what it is and reading it share one
/// handle (it was opened three times: to sniff, to find the container, to
/// read it). Counted by the debug build's file-system counters.
#[test]
fn an_image_is_opened_once() {
    let wims = ["none.wim", "lzx.wim", "tiny-xpress.wim"].map(|w| format!("wim/{w}"));
    let inputs = CONTAINERS
        .iter()
        .map(|c| c.to_string())
        .chain(wims)
        .chain(["two-windows.raw".to_owned()]);
    for input in inputs {
        let path = format!("samples/images/{input}");
        let run = common::Cmd::new(&["audit", &path])
            .env("TLSREG_DEBUG_IO_COUNTS", "1")
            .run();
        let line = run
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("tlsreg: io counts: "))
            .unwrap_or_else(|| panic!("no counts (a debug build prints them): {}", run.stderr));
        assert!(line.split(' ').any(|kv| kv == "opens=1"), "{input}: {line}");
    }
}
