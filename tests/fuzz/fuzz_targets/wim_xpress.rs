//! The XPRESS Huffman chunk decoder alone: `cargo fuzz run --fuzz-dir tests/fuzz wim_xpress`.
//! The first two bytes give the chunk's size.
#![no_main]

use tlsreg::image::wim::xpress::Xpress;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let size = usize::from(u16::from_le_bytes([data[0], data[1]])) + 1;
    let mut out = vec![0u8; size];
    let _ = Xpress::new().decompress(&data[2..], &mut out);
});
