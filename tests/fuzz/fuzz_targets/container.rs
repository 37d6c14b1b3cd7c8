//! Opening a disk image container from bytes and reading from it:
//! `cargo fuzz run --fuzz-dir tests/fuzz container`.
//!
//! Seeds: small images made by `qemu-img convert` (see tests/containers.rs);
//! the signatures alone already reach every header parser.
#![no_main]

use std::sync::Arc;

use tlsreg::image::Disk;
use tlsreg::image::container::open_disk;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let file: Arc<dyn Disk> = Arc::new(data.to_vec());
    let Ok(opened) = open_disk(file) else {
        return;
    };
    let size = opened.disk.size();
    // A few ranges: the start, across the middle, the end, and places
    // picked by the input, each at most 64 KiB.
    let seed = data
        .iter()
        .fold(0u64, |h, &b| h.rotate_left(5) ^ u64::from(b));
    let picks = [
        0,
        size / 2,
        size.saturating_sub(4096),
        seed % size.max(1),
        (seed >> 17) % size.max(1),
    ];
    let mut buf = vec![0u8; 65536];
    for (i, at) in picks.into_iter().enumerate() {
        let len = [512usize, 65536, 4096, 3000, 70][i]
            .min(usize::try_from(size - at).unwrap_or(usize::MAX));
        let _ = opened.disk.read_exact_at(at, &mut buf[..len]);
    }
    // Past the end: always an error.
    assert!(opened.disk.read_exact_at(size, &mut buf[..1]).is_err());
});
