//! Opening a WIM and reading SYSTEM out of image 1:
//! `cargo fuzz run --fuzz-dir tests/fuzz wim` (seeds: samples/images/wim/tiny-*.wim).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use tlsreg::image::wim::Wim;

/// One file per fuzzing process, rewritten for every input: the reader is
/// exercised through `Wim::open`, with positioned reads from a real file.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("tlsreg-fuzz-wim-{}.wim", std::process::id()))
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = path();
    if std::fs::write(path, data).is_err() {
        return;
    }
    if let Ok(wim) = Wim::open(path) {
        let _ = wim.images();
        let _ = wim.list(1);
        let _ = wim.read_file_max(1, &["Windows", "System32", "config", "SYSTEM"], 1 << 24);
    }
});
