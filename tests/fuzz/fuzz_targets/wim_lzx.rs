//! The WIM LZX chunk decoder alone: `cargo fuzz run --fuzz-dir tests/fuzz wim_lzx`.
//! The first byte picks the window (32 KiB to 2 MiB), the next three the
//! chunk's size within it.
#![no_main]

use tlsreg::image::wim::lzx::Lzx;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let order = 15 + u32::from(data[0] % 7);
    let window = 1usize << order;
    let size = (usize::from(data[1]) | usize::from(data[2]) << 8 | usize::from(data[3]) << 16)
        % window
        + 1;
    let Ok(mut lzx) = Lzx::new(1 << order) else {
        return;
    };
    let mut out = vec![0u8; size];
    let _ = lzx.decompress(&data[4..], &mut out);
});
