//! Partition tables, NTFS and the search for Windows on a disk made of the
//! input: `cargo fuzz run --fuzz-dir tests/fuzz volume`.
//!
//! Seed it with the small images: `cargo fuzz run --fuzz-dir tests/fuzz volume
//! samples/images/bare-ntfs.raw -- -max_len=4194304` (the corpus folder
//! takes copies of any files given).
#![no_main]

use std::sync::Arc;

use tlsreg::image::Disk;
use tlsreg::image::volume::{Limits, find_windows_with, volumes};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let disk: Arc<dyn Disk> = Arc::new(data.to_vec());
    let _ = volumes(disk.clone());
    // Small limits: a sparse file or a looping index costs time, not a crash.
    let limits = Limits {
        max_file: 4 << 20,
        read_budget: 16 << 20,
        ..Limits::default()
    };
    let _ = find_windows_with(disk, limits);
});
