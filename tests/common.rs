//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The result of one run of the `tlsreg` binary.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn out(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }
}

/// Runs `tlsreg` from the project root, so paths in its output are relative.
pub fn tlsreg(args: &[&str]) -> Run {
    tlsreg_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

pub fn tlsreg_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tlsreg"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("run tlsreg");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "tlsreg panicked: {stderr}");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: out.stdout,
        stderr,
    }
}

/// The findings of the first input in a `--format json` report.
pub fn findings(doc: &serde_json::Value) -> &[serde_json::Value] {
    doc["inputs"][0]["findings"]
        .as_array()
        .expect("a JSON report lists its findings")
}

/// insta, with snapshots in the top-level `snapshots/` folder.
#[macro_export]
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// UTF-16LE bytes with a BOM, as regedit writes them.
pub fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}
