//! Reading and auditing a .reg file: `cargo fuzz run --fuzz-dir tests/fuzz reg`.
#![no_main]

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::audit(data);
    common::audit_as_cli(data);
});
