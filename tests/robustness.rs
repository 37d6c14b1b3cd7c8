//! No input makes tlsreg panic: what is not a registry file is an error with a
//! message and exit code 2, and everything else is audited.

mod common;

use common::{tlsreg, utf16};
use tlsreg::input::{Options, load};
use tlsreg::schannel::Policy;

/// A small deterministic generator, so a failure names a reproducible case.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn unreadable_inputs_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x5EED);
    let valid =
        utf16("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM]\r\n");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.reg", vec![], "empty"),
        ("random1.reg", rng.bytes(4096), "not a registry file"),
        ("random2.reg", rng.bytes(17), ""),
        (
            "odd-utf16.reg",
            valid[..valid.len() - 1].to_vec(),
            "odd length",
        ),
        ("bom-only-odd.reg", vec![0xFF, 0xFE, 0x41], "odd length"),
        (
            "utf16-no-bom.reg",
            valid[2..].to_vec(),
            "without a byte-order mark",
        ),
        (
            "utf16-be.reg",
            {
                let mut b = vec![0xFE, 0xFF];
                b.extend("REGEDIT4".encode_utf16().flat_map(u16::to_be_bytes));
                b
            },
            "big-endian",
        ),
        (
            "png.reg",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(),
            "not a registry file",
        ),
        ("zeros.reg", vec![0; 64], "not a registry file"),
        (
            "header-typo.reg",
            b"Windows Registry Editor Version 5.0\r\n".to_vec(),
            "not a registry file",
        ),
        (
            "header-space.reg",
            b"Windows Registry Editor Version 5.00 \r\n".to_vec(),
            "trailing characters",
        ),
    ];
    let mut args = vec!["audit".to_owned()];
    for (name, bytes, _) in &cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        args.push(path.to_str().unwrap().to_owned());
    }
    // Folders are searched (tests/fleet.rs); a path that does not exist is an error.
    args.push(
        dir.path()
            .join("no-such-file.reg")
            .to_str()
            .unwrap()
            .to_owned(),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = tlsreg(&argv);
    assert_eq!(run.code, 2);
    let out = run.out();
    for (name, _, message) in &cases {
        let line = out
            .lines()
            .skip_while(|l| !l.ends_with(name))
            .nth(1)
            .unwrap_or_else(|| panic!("{name} not reported:\n{out}"));
        assert!(
            line.contains("could not be read:") && line.contains(message),
            "{name}: {line}"
        );
    }
    assert!(
        out.contains("no-such-file.reg: no such file or folder"),
        "{out}"
    );
    // Each alone: exit 2, and the JSON form says why.
    for (name, _, _) in &cases {
        let path = dir.path().join(name);
        let run = tlsreg(&["audit", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{name}");
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(doc["inputs"][0]["verdict"], "error");
        assert!(doc["inputs"][0]["error"].as_str().unwrap().contains(name));
        for cmd in ["fix", "diff"] {
            let run = tlsreg(&[cmd, path.to_str().unwrap()]);
            assert_eq!(run.code, 2, "{cmd} {name}");
            assert!(
                run.stderr.starts_with("tlsreg: ") && run.stderr.contains(name),
                "{cmd}: {}",
                run.stderr
            );
        }
    }
}

/// Random bytes, random text after a valid header, and mutations of real
/// samples, through the whole pipeline: reading, applying, resolving the
/// control set, evaluating, diffing and writing the fix.
#[test]
fn no_bytes_make_the_pipeline_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.reg");
    let policy = Policy::article();
    let samples: Vec<Vec<u8>> = [
        "compliant.reg",
        "noncompliant.reg",
        "golden-mounted.reg",
        "translated/uk-UA.reg",
        "translated/zh-TW.reg",
    ]
    .iter()
    .map(|s| std::fs::read(format!("{}/samples/{s}", env!("CARGO_MANIFEST_DIR"))).unwrap())
    .collect();
    let alphabet = b"[]\\\"=-@;:,()hexdwordHKEY_LOCAL_MACHINE\\SYSTEM\\Select 0123456789abcdef\r\n\t\xff\xfe\x00";
    let mut rng = XorShift(42);
    for round in 0..3000u32 {
        let bytes = match round % 4 {
            0 => {
                let len = (rng.next() % 512) as usize;
                rng.bytes(len)
            }
            1 => {
                let mut b = b"Windows Registry Editor Version 5.00\r\n".to_vec();
                for _ in 0..rng.next() % 400 {
                    b.push(alphabet[(rng.next() % alphabet.len() as u64) as usize]);
                }
                b
            }
            2 => {
                let mut b = samples[(rng.next() % samples.len() as u64) as usize].clone();
                for _ in 0..1 + rng.next() % 8 {
                    let i = (rng.next() % b.len() as u64) as usize;
                    b[i] = rng.next() as u8;
                }
                b
            }
            _ => {
                let b = &samples[(rng.next() % samples.len() as u64) as usize];
                b[..(rng.next() % b.len() as u64) as usize].to_vec()
            }
        };
        std::fs::write(&path, &bytes).unwrap();
        let name = path.to_str().unwrap();
        if let Ok(loaded) = load(Some(name), &[], &Options::default()) {
            let audit = tlsreg::audit(loaded, &policy);
            let _ = tlsreg::report::json::document(&[tlsreg::report::Outcome::Audited(Box::new(
                audit.clone(),
            ))]);
            let _ = tlsreg::diff::unified(&audit, &policy, name);
            if let Some(e) = tlsreg::fix::render(&policy, &audit.evaluation.changes(true)) {
                let _ = e.to_bytes(tlsreg::regfile::OutputEncoding::Utf16Le);
            }
        }
    }
}
