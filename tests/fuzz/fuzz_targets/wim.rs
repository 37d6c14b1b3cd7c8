//! Opening a WIM and reading SYSTEM out of image 1:
//! `cargo fuzz run --fuzz-dir tests/fuzz wim` (seeds: samples/images/wim/tiny-*.wim).
#![no_main]

use std::sync::Arc;

use tlsreg::image::wim::Wim;

// From memory: `Wim::open` adds only the file open, and a file per input
// would be left in /tmp whenever a run is stopped.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(wim) = Wim::from_disk(Arc::new(data.to_vec())) {
        let _ = wim.images();
        let _ = wim.list(1);
        let _ = wim.read_file_max(1, &["Windows", "System32", "config", "SYSTEM"], 1 << 24);
    }
});
