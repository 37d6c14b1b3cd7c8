//! Replaying a dirty hive's logs, then auditing the result:
//! `cargo fuzz run --fuzz-dir tests/fuzz hive_logs`.
#![no_main]

mod common;

use tlsreg::hive::log::{LogFile, replay};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Two little-endian u32 lengths split the input into the primary and
    // two logs; what is left over is the second log.
    let (Some(a), Some(b)) = (data.get(0..4), data.get(4..8)) else {
        return;
    };
    let rest = &data[8..];
    let la = (u32::from_le_bytes(a.try_into().unwrap()) as usize).min(rest.len());
    let lb = (u32::from_le_bytes(b.try_into().unwrap()) as usize).min(rest.len() - la);
    let (primary, logs) = rest.split_at(la);
    let (log1, log2) = logs.split_at(lb);
    let files = [
        LogFile::new("SYSTEM.LOG1", log1),
        LogFile::new("SYSTEM.LOG2", log2),
    ];
    if let Ok(recovered) = replay(primary, &files) {
        common::audit(&recovered.bytes);
    }
});
