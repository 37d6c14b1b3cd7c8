//! Transaction-log replay on real dirty hives: yarp's test hives, two of
//! them with the recovery Windows itself made as ground truth, then damaged
//! copies of them, random mutations, and logs written by our own writer.
//!
//! The hives stay in the shared test data (GPL-3.0, from msuhanov/yarp) and
//! are read from there, never copied into the project.

mod common;

use std::path::Path;

use tlsreg::hive::log::marvin32::{LOG_ENTRY_SEED, marvin32};
use tlsreg::hive::log::new_format::EntryError;
use tlsreg::hive::log::old_format::DirtyVectorError;
use tlsreg::hive::log::write::{WriteError, WriteOptions, write_logs};
use tlsreg::hive::log::{LogError, LogFile, LogFormat, LogProblem, Recovered, replay};
use tlsreg::hive::{BaseBlock, BaseBlockError, BaseBlockMut};
use tlsreg::input::folder::sibling_logs;

const YARP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/yarp/");

fn yarp(path: &str) -> Vec<u8> {
    std::fs::read(format!("{YARP}{path}")).unwrap_or_else(|e| panic!("{YARP}{path}: {e}"))
}

/// A primary and its logs, as found beside it on disk.
#[derive(Clone)]
struct Hive {
    primary: Vec<u8>,
    logs: Vec<(String, Vec<u8>)>,
}

impl Hive {
    fn load(path: &str) -> Self {
        let path = Path::new(YARP).join(path);
        let primary = std::fs::read(&path).unwrap();
        let logs = sibling_logs(&path)
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(p).unwrap())
            })
            .collect();
        Hive { primary, logs }
    }

    fn log(&mut self, suffix: &str) -> &mut Vec<u8> {
        &mut self
            .logs
            .iter_mut()
            .find(|(n, _)| n.ends_with(suffix))
            .unwrap_or_else(|| panic!("no {suffix}"))
            .1
    }

    fn replay(&self) -> Result<Recovered, LogError> {
        let logs: Vec<LogFile<'_>> = self
            .logs
            .iter()
            .map(|(n, b)| LogFile::new(n.clone(), b))
            .collect();
        replay(&self.primary, &logs)
    }
}

/// (log name, entries) for each log applied.
fn applied(r: &Recovered) -> Vec<(&str, Vec<u32>)> {
    r.applied
        .iter()
        .map(|a| (a.log.as_str(), a.entries.clone()))
        .collect()
}

/// The names of the root key's subkeys, through nt-hive, which must accept
/// the hive as clean.
fn root_subkeys(bytes: &[u8]) -> Vec<String> {
    let hive = nt_hive::Hive::new(bytes).expect("nt-hive accepts the hive");
    subkeys_of(&hive)
}

fn subkeys_of(hive: &nt_hive::Hive<&[u8]>) -> Vec<String> {
    let root = hive.root_key_node().unwrap();
    root.subkeys()
        .map(|s| {
            s.unwrap()
                .map(|k| k.unwrap().name().unwrap().to_string_lossy())
                .collect()
        })
        .unwrap_or_default()
}

/// The clean base block replay must leave: equal sequence numbers, the
/// primary file type and a right checksum.
fn assert_clean(r: &Recovered) {
    let base = BaseBlock::new(&r.bytes).unwrap();
    assert!(!base.is_dirty(), "replay leaves a clean base block");
    assert_eq!(base.primary_sequence(), r.sequence_number);
    assert_eq!(base.file_type(), 0);
    let end = 4096 + base.hive_bins_size() as usize;
    assert!(r.bytes.len() >= end, "{} < {end}", r.bytes.len());
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn fix_checksum(bytes: &mut [u8]) {
    BaseBlockMut::new(bytes).unwrap().update_checksum();
}

/// Recomputes both hashes of the entry at `at`, so an edit to it passes
/// the hash checks and reaches the checks behind them.
fn rehash(log: &mut [u8], at: usize) {
    let size = u32_at(log, at + 4) as usize;
    let h1 = marvin32(LOG_ENTRY_SEED, &log[at + 40..at + size]);
    log[at + 24..at + 32].copy_from_slice(&h1.to_le_bytes());
    let h2 = marvin32(LOG_ENTRY_SEED, &log[at..at + 32]);
    log[at + 32..at + 40].copy_from_slice(&h2.to_le_bytes());
}

// NewDirtyHive1: the primary is at sequence numbers 3/2; LOG1 holds entry 2
// (at 0x200), LOG2 entries 3, 4 and 5 (at 0x200, 0x2000 and 0x8000).
const NEW1: &str = "NewDirtyHive1/NewDirtyHive";

#[test]
fn new_dirty_hive_1_gives_the_hive_bins_windows_10_recovered() {
    if common::shared_testdata(
        "new_dirty_hive_1_gives_the_hive_bins_windows_10_recovered",
        "yarp",
    )
    .is_none()
    {
        return;
    }
    let hive = Hive::load(NEW1);
    let windows = yarp("NewDirtyHive1/RecoveredHive_Windows10");
    let r = hive.replay().unwrap();

    assert_eq!(r.bytes.len(), windows.len());
    assert!(r.bytes[4096..] == windows[4096..], "hive bins differ");
    assert_eq!(
        applied(&r),
        [
            ("NewDirtyHive.LOG1", vec![2]),
            ("NewDirtyHive.LOG2", vec![3, 4, 5])
        ]
    );
    assert_eq!(r.format, Some(LogFormat::New));
    assert!(!r.rebuilt_base_block);
    assert!(r.issues.is_empty(), "{:?}", r.issues);
    // LOG2 ends where its fourth 512-byte-aligned slot is zeros.
    assert_eq!(
        r.applied[1].stopped_by,
        Some(EntryError::Signature {
            offset: 0xA000,
            found: [0; 4]
        })
    );

    // The base block is the primary's, with only what replay sets changed:
    // sequence numbers (to the last entry's) and so the checksum.
    assert_eq!(r.sequence_number, 5);
    assert_clean(&r);
    for at in (0..4096).filter(|&at| !(4..12).contains(&at) && !(508..512).contains(&at)) {
        assert_eq!(r.bytes[at], hive.primary[at], "base block byte {at:#x}");
    }

    // What the replay is for: the stale primary shows other keys.
    assert_eq!(root_subkeys(&r.bytes), ["Key3"]);
    assert!(nt_hive::Hive::new(&hive.primary[..]).is_err(), "dirty");
    let stale = nt_hive::Hive::without_validation(&hive.primary[..]).unwrap();
    assert_eq!(subkeys_of(&stale), ["Key1", "Key2"]);
}

#[test]
fn a_clean_hive_comes_back_unchanged_and_its_logs_are_ignored() {
    if common::shared_testdata(
        "a_clean_hive_comes_back_unchanged_and_its_logs_are_ignored",
        "yarp",
    )
    .is_none()
    {
        return;
    }
    let mut hive = Hive::load(NEW1);
    hive.primary = yarp("NewDirtyHive1/RecoveredHive_Windows10");
    let r = hive.replay().unwrap();
    assert_eq!(r.bytes, hive.primary);
    assert!(r.applied.is_empty() && !r.replayed() && r.format.is_none());
    assert_eq!(r.sequence_number, 6);
}

#[test]
fn old_dirty_hive_matches_windows_7_except_what_windows_wrote_after_recovery() {
    if common::shared_testdata(
        "old_dirty_hive_matches_windows_7_except_what_windows_wrote_after_recovery",
        "yarp",
    )
    .is_none()
    {
        return;
    }
    let hive = Hive::load("OldDirtyHive/OldDirtyHive");
    let windows = yarp("OldDirtyHive/RecoveredHive_Windows7");
    let r = hive.replay().unwrap();

    assert_eq!(r.format, Some(LogFormat::Old));
    assert_eq!(r.applied.len(), 1);
    assert_eq!(r.applied[0].log, "OldDirtyHive.LOG1");
    assert_eq!(r.applied[0].pages, 64);
    assert!(!r.rebuilt_base_block);
    // An old-format log is one unnumbered write: the hive takes the log's
    // sequence number (5/5 in its header; the primary was at 5/4).
    assert_eq!(r.sequence_number, 5);
    assert_clean(&r);
    assert_eq!(r.bytes.len(), windows.len());

    let differ: Vec<usize> = (4096..windows.len())
        .filter(|&i| r.bytes[i] != windows[i])
        .collect();
    // 0x1014..=0x1018: the first hive bin's timestamp (hbin header + 20, 8
    // bytes to 0x101b). Replay leaves the time of the interrupted write, as
    // the log's page holds it, equal to the base block's last written
    // timestamp; Windows 7 flushed the hive again after recovering it and
    // stamped both with that later time. The top three bytes agree.
    //
    // 0x6bdc8: in the key node "4500" (cell at file offset 0x6bd88), the
    // field "largest value name length" (key node + 60). The log holds 24;
    // Windows 7 wrote 2, the exact UTF-16 length of the key's only value
    // name, "V": Windows recomputed the field after recovery.
    assert_eq!(differ, [0x1014, 0x1015, 0x1016, 0x1017, 0x1018, 0x6bdc8]);

    let base = BaseBlock::new(&r.bytes).unwrap();
    assert_eq!(r.bytes[0x1000..0x1004], *b"hbin");
    assert_eq!(
        u64::from_le_bytes(r.bytes[0x1014..0x101c].try_into().unwrap()),
        base.timestamp()
    );
    let win_base = BaseBlock::new(&windows).unwrap();
    assert_eq!(
        u64::from_le_bytes(windows[0x1014..0x101c].try_into().unwrap()),
        win_base.timestamp()
    );
    let nk = 0x6bd88;
    assert_eq!(r.bytes[nk + 4..nk + 6], *b"nk");
    assert_eq!(r.bytes[nk + 4 + 76..nk + 4 + 80], *b"4500");
    assert_eq!(u32_at(&r.bytes, nk + 4 + 36), 1, "one value");
    assert_eq!(
        (u32_at(&r.bytes, nk + 4 + 60), u32_at(&windows, nk + 4 + 60)),
        (24, 2)
    );
    let values = 4096 + u32_at(&r.bytes, nk + 4 + 40) as usize + 4;
    let vk = 4096 + u32_at(&r.bytes, values) as usize + 4;
    assert_eq!(r.bytes[vk..vk + 2], *b"vk");
    assert_eq!(
        (
            u16::from_le_bytes([r.bytes[vk + 2], r.bytes[vk + 3]]),
            r.bytes[vk + 20]
        ),
        (1, b'V')
    );

    // Replay did change the hive: the stale primary differs in far more.
    let stale = (4096..windows.len())
        .filter(|&i| hive.primary[i] != windows[i])
        .count();
    assert!(stale > 1000, "{stale}");
    nt_hive::Hive::new(&r.bytes[..]).expect("nt-hive accepts the hive");
}

#[test]
fn bad_base_block_hive_is_rebuilt_from_its_log() {
    if common::shared_testdata("bad_base_block_hive_is_rebuilt_from_its_log", "yarp").is_none() {
        return;
    }
    let hive = Hive::load("BadBaseBlockHive/BadBaseBlockHive");
    let primary = BaseBlock::new(&hive.primary).unwrap();
    assert!(!primary.checksum_ok(), "the damage: checksum `INVL`");
    assert_eq!(hive.primary[508..512], *b"INVL");

    let r = hive.replay().unwrap();
    assert!(r.rebuilt_base_block);
    assert_eq!(r.format, Some(LogFormat::Old));
    assert_eq!(r.applied[0].log, "BadBaseBlockHive.LOG1");
    assert_clean(&r);
    nt_hive::Hive::new(&r.bytes[..]).expect("nt-hive accepts the hive");

    // Its hive bins and log are OldDirtyHive's, and the log's base block
    // copy was the primary's: the two recoveries are the same file.
    let old = Hive::load("OldDirtyHive/OldDirtyHive").replay().unwrap();
    assert!(r.bytes == old.bytes);
}

#[test]
fn new_dirty_hive_2_skips_the_log_it_no_longer_needs() {
    if common::shared_testdata("new_dirty_hive_2_skips_the_log_it_no_longer_needs", "yarp")
        .is_none()
    {
        return;
    }
    // The primary is at 4/3: LOG1 (entry 2) was fully written already.
    let r = Hive::load("NewDirtyHive2/NewDirtyHive").replay().unwrap();
    assert_eq!(applied(&r), [("NewDirtyHive.LOG2", vec![3, 4, 5])]);
    assert_eq!(r.issues.len(), 1);
    assert_eq!(r.issues[0].log, "NewDirtyHive.LOG1");
    assert_eq!(
        r.issues[0].problem,
        LogProblem::Stale {
            sequence: 2,
            secondary: 3
        }
    );
    assert_clean(&r);
    assert_eq!(root_subkeys(&r.bytes), ["Key3"]);
}

#[test]
fn truncated_dirty_hive_is_an_error_naming_the_offset() {
    if common::shared_testdata("truncated_dirty_hive_is_an_error_naming_the_offset", "yarp")
        .is_none()
    {
        return;
    }
    let primary = yarp("TruncatedDirtyHive");
    let err = replay(&primary, &[]).unwrap_err();
    assert_eq!(
        err,
        LogError::Truncated {
            end: 0x3000,
            needed: 0x78000,
            issues: vec![]
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("0x3000") && message.contains("0x78000"),
        "{message}"
    );
}

// Damage made from these files.

#[test]
fn a_flipped_hash_byte_stops_replay_at_that_entry() {
    if common::shared_testdata("a_flipped_hash_byte_stops_replay_at_that_entry", "yarp").is_none() {
        return;
    }
    // Entry 4 of LOG2 is at 0x2000: Hash-1 is at +24, Hash-2 at +32, and
    // Hash-2 covers Hash-1, so damage to either fails Hash-2; damage to a
    // page fails Hash-1.
    for (at, hash1) in [
        (0x2000 + 24, false),
        (0x2000 + 35, false),
        (0x2000 + 700, true),
    ] {
        let mut hive = Hive::load(NEW1);
        hive.log("LOG2")[at] ^= 0x01;
        let r = hive.replay().unwrap();
        assert_eq!(
            applied(&r),
            [
                ("NewDirtyHive.LOG1", vec![2]),
                ("NewDirtyHive.LOG2", vec![3])
            ]
        );
        let stop = r.applied[1].stopped_by.clone().unwrap();
        if hash1 {
            assert!(
                matches!(stop, EntryError::Hash1 { offset: 0x2000, .. }),
                "{stop}"
            );
        } else {
            assert!(
                matches!(stop, EntryError::Hash2 { offset: 0x2000, .. }),
                "{stop}"
            );
        }
        assert_eq!(r.sequence_number, 3);
        assert_clean(&r);
        nt_hive::Hive::new(&r.bytes[..]).expect("a consistent earlier state");
    }

    // A bad hash in the only entry of LOG1 leaves LOG2 nothing to continue.
    let mut hive = Hive::load(NEW1);
    hive.log("LOG1")[0x200 + 1000] ^= 0x80;
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!("expected NoUsableLog");
    };
    assert!(matches!(
        issues[0].problem,
        LogProblem::Entry(EntryError::Hash1 { offset: 0x200, .. })
    ));
    assert!(matches!(
        issues[1].problem,
        LogProblem::NothingToContinue { .. }
    ));
}

#[test]
fn a_sequence_gap_stops_replay() {
    if common::shared_testdata("a_sequence_gap_stops_replay", "yarp").is_none() {
        return;
    }
    // Inside a log: entry 4 renumbered 5 (hashes recomputed to match).
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 0x2000 + 12, 5);
    rehash(log2, 0x2000);
    let r = hive.replay().unwrap();
    assert_eq!(
        applied(&r),
        [
            ("NewDirtyHive.LOG1", vec![2]),
            ("NewDirtyHive.LOG2", vec![3])
        ]
    );
    assert_eq!(
        r.applied[1].stopped_by,
        Some(EntryError::Sequence {
            offset: 0x2000,
            expected: 4,
            found: 5
        })
    );

    // Between logs: LOG2 claims to start at 4 while LOG1 ended at 2.
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 4, 4);
    put_u32(log2, 8, 4);
    fix_checksum(log2);
    let r = hive.replay().unwrap();
    assert_eq!(applied(&r), [("NewDirtyHive.LOG1", vec![2])]);
    assert_eq!(
        r.issues[0].problem,
        LogProblem::NotNext {
            sequence: 4,
            last: 2
        }
    );
    assert_eq!(r.sequence_number, 2);
    assert_clean(&r);
    nt_hive::Hive::new(&r.bytes[..]).unwrap();
}

#[test]
fn a_truncated_log_stops_at_the_cut_entry() {
    if common::shared_testdata("a_truncated_log_stops_at_the_cut_entry", "yarp").is_none() {
        return;
    }
    // Entry 4 spans 0x2000..0x8000 of LOG2; cut it in the middle.
    let mut hive = Hive::load(NEW1);
    hive.log("LOG2").truncate(0x5000);
    let r = hive.replay().unwrap();
    assert_eq!(
        applied(&r),
        [
            ("NewDirtyHive.LOG1", vec![2]),
            ("NewDirtyHive.LOG2", vec![3])
        ]
    );
    assert_eq!(
        r.applied[1].stopped_by,
        Some(EntryError::Truncated {
            offset: 0x2000,
            needed: 0x6000,
            end: 0x5000
        })
    );

    // LOG1 cut inside its base block: unusable, and LOG2 is enough, since
    // the primary's last complete write was entry 2.
    let mut hive = Hive::load(NEW1);
    hive.log("LOG1").truncate(300);
    let r = hive.replay().unwrap();
    assert_eq!(applied(&r), [("NewDirtyHive.LOG2", vec![3, 4, 5])]);
    assert_eq!(
        r.issues[0].problem,
        LogProblem::Header(BaseBlockError::TooShort { end: 300 })
    );
    assert!(r.bytes[4096..] == yarp("NewDirtyHive1/RecoveredHive_Windows10")[4096..]);
}

#[test]
fn a_log_with_a_bad_header_is_not_used() {
    if common::shared_testdata("a_log_with_a_bad_header_is_not_used", "yarp").is_none() {
        return;
    }
    let windows = yarp("NewDirtyHive1/RecoveredHive_Windows10");

    // A flipped byte: the checksum fails.
    let mut hive = Hive::load(NEW1);
    hive.log("LOG1")[100] ^= 0x10;
    let r = hive.replay().unwrap();
    assert!(matches!(
        r.issues[0].problem,
        LogProblem::HeaderChecksum { .. }
    ));
    assert_eq!(applied(&r), [("NewDirtyHive.LOG2", vec![3, 4, 5])]);
    assert!(r.bytes[4096..] == windows[4096..]);

    // The log's own write did not finish (its sequence numbers differ).
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 4, 4);
    fix_checksum(log2);
    let r = hive.replay().unwrap();
    assert_eq!(
        r.issues[0].problem,
        LogProblem::HeaderDirty {
            primary: 4,
            secondary: 3
        }
    );
    assert_eq!(applied(&r), [("NewDirtyHive.LOG1", vec![2])]);

    // Not a log: file type 0.
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 28, 0);
    fix_checksum(log2);
    let r = hive.replay().unwrap();
    assert_eq!(r.issues[0].problem, LogProblem::FileType { found: 0 });
}

#[test]
fn log_order_and_names_do_not_matter_for_the_new_format() {
    if common::shared_testdata(
        "log_order_and_names_do_not_matter_for_the_new_format",
        "yarp",
    )
    .is_none()
    {
        return;
    }
    let straight = Hive::load(NEW1).replay().unwrap();
    let mut hive = Hive::load(NEW1);
    hive.logs.reverse();
    let r = hive.replay().unwrap();
    assert_eq!(r.bytes, straight.bytes);
    assert_eq!(applied(&r), applied(&straight));

    // Swapped names: the sequence numbers decide, and `applied` names the
    // files as given.
    let mut hive = Hive::load(NEW1);
    let (a, b) = (hive.logs[0].1.clone(), hive.logs[1].1.clone());
    hive.logs[0].1 = b;
    hive.logs[1].1 = a;
    let r = hive.replay().unwrap();
    assert_eq!(r.bytes, straight.bytes);
    assert_eq!(
        applied(&r),
        [
            ("NewDirtyHive.LOG2", vec![2]),
            ("NewDirtyHive.LOG1", vec![3, 4, 5])
        ]
    );

    // The same log given twice: the copy cannot continue the chain.
    let mut hive = Hive::load(NEW1);
    let log2 = hive.logs[1].clone();
    hive.logs.push(("copy of LOG2".into(), log2.1));
    let r = hive.replay().unwrap();
    assert_eq!(r.bytes, straight.bytes);
    assert_eq!(
        r.issues[0].problem,
        LogProblem::NotNext {
            sequence: 3,
            last: 5
        }
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    if common::shared_testdata("garbage_is_an_error_not_a_panic", "yarp").is_none() {
        return;
    }
    let mut rng = XorShift(0xB0B);
    let mut hive = Hive::load(NEW1);
    *hive.log("LOG1") = rng.bytes(0x10000);
    *hive.log("LOG2") = rng.bytes(0x10000);
    let err = hive.replay().unwrap_err();
    let LogError::NoUsableLog { issues } = &err else {
        panic!("{err}");
    };
    assert!(issues.iter().all(|i| matches!(
        i.problem,
        LogProblem::Header(BaseBlockError::Signature { .. })
    )));
    assert!(
        err.to_string()
            .contains("NewDirtyHive.LOG1: no `regf` signature at offset 0"),
        "{err}"
    );

    // `regf` followed by garbage: the checksum catches it.
    let mut log = rng.bytes(0x4000);
    log[..4].copy_from_slice(b"regf");
    *hive.log("LOG1") = log;
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!();
    };
    assert!(matches!(
        issues[0].problem,
        LogProblem::HeaderChecksum { .. }
    ));

    // A garbage primary, a too-short one, and a log passed as the primary.
    assert!(matches!(
        replay(&rng.bytes(8192), &[]),
        Err(LogError::Primary(BaseBlockError::Signature { .. }))
    ));
    assert_eq!(
        replay(b"regf", &[]).unwrap_err(),
        LogError::Primary(BaseBlockError::TooShort { end: 4 })
    );
    let hive = Hive::load(NEW1);
    assert_eq!(
        replay(&hive.logs[1].1, &[]).unwrap_err(),
        LogError::NotPrimary { found: 6 }
    );

    // Dirty, complete, but no logs at all.
    let err = replay(&hive.primary, &[]).unwrap_err();
    assert_eq!(err, LogError::NoUsableLog { issues: vec![] });
}

#[test]
fn logs_bigger_than_the_hive() {
    if common::shared_testdata("logs_bigger_than_the_hive", "yarp").is_none() {
        return;
    }
    let straight = Hive::load(NEW1).replay().unwrap();

    // A megabyte of zeros after the entries changes nothing.
    let mut hive = Hive::load(NEW1);
    hive.log("LOG2").resize(0x10_0000 + 0x10000, 0);
    assert_eq!(hive.replay().unwrap().bytes, straight.bytes);

    // An entry that claims 2 GiB of hive bins, with valid hashes: the
    // pages it holds cannot fill them, so it is refused, not allocated.
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 0x200 + 16, 0x7FFF_F000);
    rehash(log2, 0x200);
    let r = hive.replay().unwrap();
    assert_eq!(applied(&r), [("NewDirtyHive.LOG1", vec![2])]);
    assert_eq!(
        r.issues[0].problem,
        LogProblem::Entry(EntryError::GrowthNotLogged {
            offset: 0x200,
            end: 0x40000,
            needed: 4096 + 0x7FFF_F000
        })
    );
    assert_eq!(r.bytes.len(), 0x40000);

    // A page that lies past the entry's hive bins.
    let mut hive = Hive::load(NEW1);
    let log2 = hive.log("LOG2");
    put_u32(log2, 0x8000 + 40, 0x5000);
    rehash(log2, 0x8000);
    let r = hive.replay().unwrap();
    assert_eq!(r.applied[1].entries, [3, 4]);
    assert_eq!(
        r.applied[1].stopped_by,
        Some(EntryError::PageOutsideHive {
            offset: 0x8000,
            index: 0,
            page_offset: 0x5000,
            page_size: 0x1000,
            hive_bins_size: 0x5000
        })
    );

    // A log entry that grows the hive and holds all the new bytes: accepted.
    // (The primary is cut to its hive bins first; Windows pads it to
    // 256 KiB, which would leave nothing to grow into.)
    let mut hive = Hive::load(NEW1);
    hive.primary.truncate(4096 + 0x5000);
    let log2 = hive.log("LOG2");
    put_u32(log2, 0x8000 + 16, 0x6000);
    put_u32(log2, 0x8000 + 40, 0x5000);
    rehash(log2, 0x8000);
    let r = hive.replay().unwrap();
    assert_eq!(r.applied[1].entries, [3, 4, 5]);
    assert_eq!(r.bytes.len(), 4096 + 0x6000);
    assert_eq!(BaseBlock::new(&r.bytes).unwrap().hive_bins_size(), 0x6000);
}

#[test]
fn a_damaged_primary_base_block_is_rebuilt_from_the_latest_log() {
    if common::shared_testdata(
        "a_damaged_primary_base_block_is_rebuilt_from_the_latest_log",
        "yarp",
    )
    .is_none()
    {
        return;
    }
    let mut hive = Hive::load(NEW1);
    hive.primary[0x30] ^= 0xFF;
    let r = hive.replay().unwrap();
    assert!(r.rebuilt_base_block);
    assert_eq!(applied(&r), [("NewDirtyHive.LOG2", vec![3, 4, 5])]);
    assert!(matches!(r.issues[0].problem, LogProblem::Superseded { .. }));
    assert!(r.bytes[4096..] == yarp("NewDirtyHive1/RecoveredHive_Windows10")[4096..]);
    // The base block is LOG2's copy, made a primary again: the undamaged
    // filename field is back.
    assert_eq!(r.bytes[0x30], Hive::load(NEW1).primary[0x30]);
    assert_clean(&r);
    assert_eq!(root_subkeys(&r.bytes), ["Key3"]);
}

#[test]
fn old_format_damage() {
    if common::shared_testdata("old_format_damage", "yarp").is_none() {
        return;
    }
    const OLD: &str = "OldDirtyHive/OldDirtyHive";
    let good = Hive::load(OLD).replay().unwrap();

    // The last dirty page is missing: nothing is applied, not half a log.
    let mut hive = Hive::load(OLD);
    let len = hive.log("LOG1").len();
    hive.log("LOG1").truncate(len - 512);
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!();
    };
    assert_eq!(
        issues[0].problem,
        LogProblem::DirtyVector(DirtyVectorError::PagesTruncated {
            offset: 1024,
            pages: 64,
            needed: 1024 + 64 * 512,
            end: 1024 + 63 * 512
        })
    );

    // A log from another write: its timestamp differs from the hive's.
    let mut hive = Hive::load(OLD);
    let log1 = hive.log("LOG1");
    log1[12] ^= 1;
    fix_checksum(log1);
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!();
    };
    assert!(matches!(issues[0].problem, LogProblem::Timestamp { .. }));

    // No `DIRT`.
    let mut hive = Hive::load(OLD);
    hive.log("LOG1")[512] = b'X';
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!();
    };
    assert!(matches!(
        issues[0].problem,
        LogProblem::DirtyVector(DirtyVectorError::Signature { offset: 512, .. })
    ));

    // A dirty page that breaks a hive bin header: Windows aborts, and so do
    // we. The first dirty page (stored at 1024) is the first bin's start.
    let mut hive = Hive::load(OLD);
    hive.log("LOG1")[1024 + 3] = b'X';
    let LogError::NoUsableLog { issues } = hive.replay().unwrap_err() else {
        panic!();
    };
    assert!(
        matches!(
            issues[0].problem,
            LogProblem::DirtyBin { offset: 0x1000, .. }
        ),
        "{}",
        issues[0]
    );

    // ... and then a good LOG2 is used instead (the specification allows a
    // switch to the other log after an error).
    let log = Hive::load(OLD).log("LOG1").clone();
    *hive.log("LOG2") = log;
    let r = hive.replay().unwrap();
    assert_eq!(r.applied[0].log, "OldDirtyHive.LOG2");
    assert_eq!(r.bytes, good.bytes);
}

/// A small deterministic generator, so a failing case can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Damages one file: mostly where the structures are (base block fields,
/// entry headers on 512-byte boundaries), sometimes anywhere, and sometimes
/// repairs the checksum or hashes so the damage reaches deeper checks.
fn mutate(rng: &mut XorShift, file: &mut Vec<u8>) {
    if file.is_empty() {
        let len = rng.below(2048);
        *file = rng.bytes(len);
        return;
    }
    match rng.below(10) {
        0 => file.truncate(rng.below(file.len())),
        1 => {
            let len = rng.below(4096);
            let extra = rng.bytes(len);
            file.extend(extra);
        }
        2..=5 => {
            // A field: somewhere in the first 64 bytes of a 512-byte slot.
            let slot = rng.below(file.len() / 512 + 1) * 512;
            let at = slot + rng.below(16) * 4;
            if at + 4 <= file.len() {
                let v = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x7FFF_F000,
                    3 => u32_at(file, at).wrapping_add(1),
                    4 => u32_at(file, at).wrapping_sub(1),
                    _ => rng.next() as u32,
                };
                put_u32(file, at, v);
                if rng.below(2) == 0 && file.len() >= 512 && file[..4] == *b"regf" && slot == 0 {
                    fix_checksum(file);
                }
                if rng.below(2) == 0
                    && slot > 0
                    && file.len() >= slot + 40
                    && file[slot..slot + 4] == *b"HvLE"
                {
                    let size = u32_at(file, slot + 4) as usize;
                    if size >= 40 && slot + size <= file.len() {
                        rehash(file, slot);
                    }
                }
            }
        }
        _ => {
            let at = rng.below(file.len());
            file[at] ^= 1 << rng.below(8);
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    if common::shared_testdata("random_mutations_never_panic", "yarp").is_none() {
        return;
    }
    let cases = [
        Hive::load(NEW1),
        Hive::load("NewDirtyHive2/NewDirtyHive"),
        Hive::load("OldDirtyHive/OldDirtyHive"),
        Hive::load("BadBaseBlockHive/BadBaseBlockHive"),
        Hive {
            primary: yarp("TruncatedDirtyHive"),
            logs: vec![],
        },
    ];
    let mut rng = XorShift(0x5EED_1065);
    let (mut ok, mut err) = (0, 0);
    for case in 0..3000 {
        let mut hive = cases[case % cases.len()].clone();
        for _ in 0..=rng.below(3) {
            let target = rng.below(hive.logs.len() + 2);
            match target.checked_sub(1).and_then(|i| hive.logs.get_mut(i)) {
                Some((_, log)) => mutate(&mut rng, log),
                None if target == 0 => mutate(&mut rng, &mut hive.primary),
                None => hive.logs.reverse(),
            }
        }
        match hive.replay() {
            Ok(r) => {
                ok += 1;
                if r.replayed() {
                    assert_clean(&r);
                    assert!(r.applied.iter().all(|a| a.pages > 0));
                } else {
                    assert_eq!(r.bytes, hive.primary, "case {case}");
                }
                // nt-hive then judges the rest; it must not see a dirty hive.
                let _ = nt_hive::Hive::new(&r.bytes[..]);
            }
            Err(e) => {
                err += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    // Both outcomes are exercised, not just one.
    assert!(ok > 300 && err > 300, "{ok} replayed, {err} errors");
}

// The log writer.

/// RecoveredHive_Windows10 as "new" (sequence 6/6), and "old": the same hive
/// three writes earlier (3/3), with its key `Key3` still called `KeyX` and
/// two bytes of other cells different.
fn old_and_new() -> (Vec<u8>, Vec<u8>) {
    let new = yarp("NewDirtyHive1/RecoveredHive_Windows10");
    let mut old = new.clone();
    // The key node's name: 76 bytes after its `nk`, its length (4) just
    // before it, and no class name.
    let name = (76..old.len() - 4)
        .find(|&at| {
            old[at - 76..at - 74] == *b"nk"
                && old[at - 4..at] == [4, 0, 0, 0]
                && old[at..at + 4] == *b"Key3"
        })
        .expect("Key3's key node");
    old[name + 3] = b'X';
    old[0x1000 + 0x2345] ^= 0x55;
    old[0x1000 + 0x4FFF] ^= 0x01;
    let mut base = BaseBlockMut::new(&mut old).unwrap();
    base.set_sequence_numbers(3, 3);
    base.update_checksum();
    (old, new)
}

fn replay_written(primary: &[u8], log1: &[u8], log2: &[u8]) -> Recovered {
    replay(
        primary,
        &[
            LogFile::new("SYSTEM.LOG1", log1),
            LogFile::new("SYSTEM.LOG2", log2),
        ],
    )
    .unwrap()
}

#[test]
fn written_logs_replay_to_the_new_hive_byte_for_byte() {
    if common::shared_testdata("written_logs_replay_to_the_new_hive_byte_for_byte", "yarp")
        .is_none()
    {
        return;
    }
    let (old, new) = old_and_new();
    let mut logged = Vec::new();
    for page_size in [4096, 512] {
        let d = write_logs(
            &old,
            &new,
            WriteOptions {
                page_size,
                log1_entries: 1,
            },
        )
        .unwrap();

        // The primary is the old hive with a write started: 4/3.
        let base = BaseBlock::new(&d.primary).unwrap();
        assert_eq!((base.primary_sequence(), base.secondary_sequence()), (4, 3));
        assert!(base.checksum_ok() && base.is_dirty());
        assert!(d.primary[4096..] == old[4096..]);
        let stale = nt_hive::Hive::without_validation(&d.primary[..]).unwrap();
        assert_eq!(subkeys_of(&stale), ["KeyX"]);

        let r = replay_written(&d.primary, &d.log1, &d.log2);
        assert!(r.bytes == new, "page size {page_size}");
        assert_eq!(
            applied(&r),
            [("SYSTEM.LOG1", vec![4]), ("SYSTEM.LOG2", vec![5, 6])]
        );
        assert_eq!(root_subkeys(&r.bytes), ["Key3"]);
        logged.push(d.log1.len() + d.log2.len());
    }
    // Pages are compared at the given size: 512-byte ones log less.
    assert!(logged[1] < logged[0], "{logged:?}");
}

#[test]
fn written_logs_split_and_grow_as_asked() {
    if common::shared_testdata("written_logs_split_and_grow_as_asked", "yarp").is_none() {
        return;
    }
    let (old, new) = old_and_new();

    // Everything in LOG2 (LOG1 left empty, as an unused log is), or in LOG1.
    let d = write_logs(
        &old,
        &new,
        WriteOptions {
            page_size: 4096,
            log1_entries: 0,
        },
    )
    .unwrap();
    assert!(d.log1.is_empty());
    let r = replay_written(&d.primary, &d.log1, &d.log2);
    assert_eq!(applied(&r), [("SYSTEM.LOG2", vec![4, 5, 6])]);
    assert!(r.bytes == new);
    let d = write_logs(
        &old,
        &new,
        WriteOptions {
            page_size: 4096,
            log1_entries: 9,
        },
    )
    .unwrap();
    assert!(d.log2.is_empty());
    assert!(replay_written(&d.primary, &d.log1, &d.log2).bytes == new);

    // A hive that grows by a bin (0x4000 to 0x5000 bytes of bins): the entry
    // that grows it holds the new bin, so replay can grow the file. Once
    // with the files cut to their bins, once padded as Windows leaves them.
    let bins = |hive: &[u8], size: u32, seq: u32, cut: bool| {
        let mut hive = hive.to_vec();
        if cut {
            hive.truncate(4096 + size as usize);
        }
        let mut base = BaseBlockMut::new(&mut hive).unwrap();
        base.set_hive_bins_size(size);
        base.set_sequence_numbers(seq, seq);
        base.update_checksum();
        hive
    };
    for cut in [true, false] {
        let smaller = bins(&old, 0x4000, 5, cut);
        let new = bins(&new, 0x5000, 6, cut);
        let d = write_logs(&smaller, &new, WriteOptions::default()).unwrap();
        let r = replay_written(&d.primary, &d.log1, &d.log2);
        assert_eq!(applied(&r), [("SYSTEM.LOG1", vec![6])]);
        assert!(r.bytes == new, "cut {cut}");
    }
}

#[test]
fn the_writer_refuses_what_it_cannot_log() {
    if common::shared_testdata("the_writer_refuses_what_it_cannot_log", "yarp").is_none() {
        return;
    }
    let (old, new) = old_and_new();
    let opts = WriteOptions::default();
    let mut dirty = old.clone();
    put_u32(&mut dirty, 4, 9);
    fix_checksum(&mut dirty);
    assert_eq!(
        write_logs(&dirty, &new, opts),
        Err(WriteError::NotClean { which: "old" })
    );
    assert_eq!(
        write_logs(&new, &old, opts),
        Err(WriteError::Sequence { old: 6, new: 3 })
    );
    assert_eq!(
        write_logs(&new, &new, opts),
        Err(WriteError::Sequence { old: 6, new: 6 })
    );
    let smaller = &new[..new.len() - 4096];
    let mut smaller = smaller.to_vec();
    let mut base = BaseBlockMut::new(&mut smaller).unwrap();
    base.set_hive_bins_size(0x4000);
    base.set_sequence_numbers(7, 7);
    base.update_checksum();
    assert_eq!(
        write_logs(&new, &smaller, opts),
        Err(WriteError::Shrinks {
            old: 0x5000,
            new: 0x4000
        })
    );
    assert_eq!(
        write_logs(
            &old,
            &new,
            WriteOptions {
                page_size: 1000,
                log1_entries: 1
            }
        ),
        Err(WriteError::PageSize(1000))
    );
    assert!(matches!(
        write_logs(&old, &new[..4096 + 0x5000 - 1], opts),
        Err(WriteError::Length { which: "new", .. })
    ));
}

#[test]
fn random_edits_round_trip_through_written_logs() {
    if common::shared_testdata("random_edits_round_trip_through_written_logs", "yarp").is_none() {
        return;
    }
    let new = yarp("NewDirtyHive1/RecoveredHive_Windows10");
    let mut rng = XorShift(0x1065_F11E);
    for case in 0..60 {
        let mut new = new.clone();
        let mut old = new.clone();
        // Edits in the old bins, some clustered, some spread out.
        for _ in 0..rng.below(40) {
            let at = 4096 + rng.below(0x5000);
            old[at] = rng.next() as u8;
        }
        let writes = if case < 2 { 5 } else { 1 + rng.below(6) as u32 };
        // Sequence numbers anywhere, and across the u32 wrap-around.
        let start = match case {
            0 => u32::MAX - 2,
            1 => u32::MAX,
            _ => rng.next() as u32,
        };
        for (hive, seq) in [(&mut old, start), (&mut new, start.wrapping_add(writes))] {
            let mut base = BaseBlockMut::new(hive).unwrap();
            base.set_sequence_numbers(seq, seq);
            base.update_checksum();
        }
        let options = WriteOptions {
            page_size: [512, 4096][rng.below(2)],
            log1_entries: rng.below(writes as usize + 1) as u32,
        };
        let d = write_logs(&old, &new, options).unwrap();
        let r = replay_written(&d.primary, &d.log1, &d.log2);
        assert!(r.bytes == new, "case {case}: {options:?}");
        let entries: Vec<u32> = r.applied.iter().flat_map(|a| a.entries.clone()).collect();
        let want: Vec<u32> = (1..=writes).map(|i| start.wrapping_add(i)).collect();
        assert_eq!(entries, want, "case {case}");
    }
}

/// Replay onto a copy-on-write map of the primary (as the CLI does for a
/// hive on disk) gives the same hive as onto a copy, and the file keeps
/// its bytes: the written pages are private to the process.
#[test]
fn replay_onto_a_copy_on_write_map_is_replay_onto_a_copy() {
    use tlsreg::hive::log::{HiveBytes, replay_with};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hives/dirty");
    let path = dir.join("SYSTEM");
    let before = std::fs::read(&path).unwrap();
    let logs: Vec<(String, Vec<u8>)> = ["SYSTEM.LOG1", "SYSTEM.LOG2"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
        .collect();
    let files: Vec<LogFile<'_>> = logs
        .iter()
        .map(|(n, b)| LogFile::new(n.clone(), b))
        .collect();
    let copied = replay(&before, &files).unwrap();
    assert!(copied.replayed());
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: a private map of a test file nobody else writes.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let cow = |prefix: &[u8]| {
        let m = unsafe {
            memmap2::MmapOptions::new()
                .len(prefix.len())
                .map_copy(&file)
        }
        .unwrap();
        HiveBytes::Mapped(m)
    };
    let mapped = replay_with(&map, &files, &cow).unwrap();
    assert!(
        matches!(mapped.bytes, HiveBytes::Mapped(_)),
        "no copy was made"
    );
    assert!(mapped.bytes == copied.bytes, "the same recovered hive");
    assert_eq!(applied(&mapped), applied(&copied));
    drop(mapped);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );
    assert_eq!(&map[..], &before[..]);
}
