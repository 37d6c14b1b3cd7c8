//! Opening and auditing a hive: `cargo fuzz run --fuzz-dir tests/fuzz hive`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Always a hive: the reader is chosen by the `regf` signature.
    let mut bytes = b"regf".to_vec();
    bytes.extend_from_slice(data.get(4..).unwrap_or_default());
    common::audit(&bytes);
});
