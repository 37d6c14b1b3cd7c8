//! The WIM reader against the fixtures of samples/images/wim (made by
//! wimlib-imagex with make.sh): every file of every image, the image list,
//! refusals, crafted corruptions and a random-mutation loop. When
//! wimlib-imagex is installed, its extractions are compared with ours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tlsreg::image::Disk;
use tlsreg::image::wim::{
    Compression, DEFAULT_MAX_FILE_SIZE, Reader, Wim, WimError, extract_with_wimlib, is_wim,
    read_file_or_wimlib, sha1,
};

const SYSTEM: [&str; 4] = ["Windows", "System32", "config", "SYSTEM"];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/images/wim")
}

fn fixture(name: &str) -> PathBuf {
    dir().join(name)
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn hive(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/hives")
            .join(name),
    )
    .unwrap()
}

fn from_bytes(b: Vec<u8>) -> Result<Wim, WimError> {
    Wim::from_disk(Arc::new(b))
}

/// payload.sha1 by image tag ("std", "dc"): path -> (SHA-1, size).
fn manifest() -> BTreeMap<String, BTreeMap<String, (String, u64)>> {
    let mut out: BTreeMap<String, BTreeMap<String, (String, u64)>> = BTreeMap::new();
    for line in std::fs::read_to_string(fixture("payload.sha1"))
        .unwrap()
        .lines()
    {
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        out.entry(f[0].into())
            .or_default()
            .insert(f[3].into(), (f[1].into(), f[2].parse().unwrap()));
    }
    out
}

/// The readable fixtures: file, compression, chunk size, tag per image.
const READABLE: &[(&str, Compression, u32, &[&str])] = &[
    ("none.wim", Compression::None, 0, &["std"]),
    ("xpress.wim", Compression::Xpress, 32768, &["std"]),
    ("lzx.wim", Compression::Lzx, 32768, &["std"]),
    ("lzx-256k.wim", Compression::Lzx, 262144, &["std"]),
    ("two-images.wim", Compression::Lzx, 32768, &["std", "dc"]),
];

fn parts(path: &str) -> Vec<&str> {
    path.split('/').collect()
}

fn wimlib_installed() -> bool {
    Command::new("wimlib-imagex")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_file_of_every_image_matches_the_payload() {
    let manifest = manifest();
    for &(name, compression, chunk, tags) in READABLE {
        let wim = Wim::open(fixture(name)).unwrap();
        assert_eq!(wim.compression(), compression, "{name}");
        assert_eq!(wim.chunk_size(), chunk, "{name}");
        assert_eq!(wim.version(), 0x10D00, "{name}");
        assert_eq!(wim.image_count() as usize, tags.len(), "{name}");
        for (i, tag) in tags.iter().enumerate() {
            let index = i as u32 + 1;
            let want = &manifest[*tag];
            let list = wim.list(index).unwrap();
            let files: BTreeMap<String, u64> = list
                .iter()
                .filter(|e| !e.is_dir && e.attributes & 0x400 == 0)
                .map(|e| (e.path.join("/"), e.size))
                .collect();
            let want_files: BTreeMap<String, u64> =
                want.iter().map(|(p, (_, s))| (p.clone(), *s)).collect();
            assert_eq!(files, want_files, "{name} image {index}");
            for (path, (sha, size)) in want {
                let data = wim.read_file(index, &parts(path)).unwrap().unwrap();
                assert_eq!(data.len() as u64, *size, "{name} {index} {path}");
                assert_eq!(&sha1::hex(&sha1::sha1(&data)), sha, "{name} {index} {path}");
            }
            // The hives, byte for byte.
            let h = hive(if *tag == "std" {
                "compliant.hiv"
            } else {
                "not-set.hiv"
            });
            assert_eq!(wim.read_file(index, &SYSTEM).unwrap().unwrap(), h);
            let regback = ["Windows", "System32", "config", "RegBack", "SYSTEM"];
            assert_eq!(wim.read_file(index, &regback).unwrap().unwrap(), h);
            // Directories, including an empty one, and the link.
            let dirs: Vec<String> = list
                .iter()
                .filter(|e| e.is_dir)
                .map(|e| e.path.join("/"))
                .collect();
            for d in [
                "Windows",
                "Windows/Temp",
                "Program Files/Résumé",
                "Windows/System32/config",
            ] {
                assert!(dirs.contains(&d.to_string()), "{name}: {d} in {dirs:?}");
            }
            assert!(
                list.iter()
                    .any(|e| e.path.last().unwrap() == "SYSTEM.lnk" && e.attributes & 0x400 != 0)
            );
        }
    }
}

#[test]
fn paths_match_case_insensitively_and_odd_paths_say_what_they_are() {
    let wim = Wim::open(fixture("two-images.wim")).unwrap();
    let h = hive("not-set.hiv");
    for p in [
        &["windows", "SYSTEM32", "Config", "system"][..],
        &["WINDOWS", "system32", "CONFIG", "SYSTEM"],
        &["", "Windows", "", "System32", "config", "SYSTEM"],
    ] {
        assert_eq!(wim.read_file(2, p).unwrap().unwrap(), h, "{p:?}");
    }
    let accented = ["PROGRAM FILES", "RÉSUMÉ", "EXACT-32769.TXT"];
    assert_eq!(wim.read_file(1, &accented).unwrap().unwrap().len(), 32769);
    assert_eq!(
        wim.read_file(1, &["Windows", "System32", "config", "SOFTWARE"])
            .unwrap(),
        None
    );
    assert_eq!(
        wim.read_file(1, &["Windows", "nope", "config", "SYSTEM"])
            .unwrap(),
        None
    );
    // Through a file as if it were a directory.
    assert_eq!(
        wim.read_file(1, &["Windows", "exact-32768.txt", "x"])
            .unwrap(),
        None
    );
    assert_eq!(
        wim.read_file(1, &["Windows", "System32", "config", "SYSTEM.LOG2"])
            .unwrap(),
        Some(vec![])
    );

    let err = wim.read_file(1, &["Windows", "System32"]).unwrap_err();
    assert!(
        matches!(
            err,
            WimError::NotAFile {
                kind: "a directory",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "/Windows/System32 in image 1 is a directory, not a plain file"
    );
    let err = wim.read_file(1, &[]).unwrap_err();
    assert!(matches!(err, WimError::NotAFile { .. }), "{err}");
    let err = wim
        .read_file(1, &["Windows", "System32", "config", "SYSTEM.lnk"])
        .unwrap_err();
    assert!(err.to_string().contains("reparse point"), "{err}");

    for index in [0, 3, u32::MAX] {
        let err = wim.read_file(index, &SYSTEM).unwrap_err();
        assert!(
            matches!(err, WimError::NoSuchImage { count: 2, .. }),
            "{err}"
        );
        assert!(wim.list(index).is_err());
    }
    assert_eq!(
        tlsreg::image::wim::path_components("\\Windows\\System32/config//SYSTEM"),
        SYSTEM
    );
}

#[test]
fn image_list_and_xml_properties() {
    let wim = Wim::open(fixture("two-images.wim")).unwrap();
    let imgs = wim.images();
    assert_eq!(imgs.len(), 2);
    let std = &imgs[0];
    assert_eq!(std.index, 1);
    assert_eq!(std.name.as_deref(), Some("Windows Server 2019 Standard"));
    assert_eq!(
        std.display_name.as_deref(),
        Some("Windows Server 2019 Standard")
    );
    assert_eq!(std.description.as_deref(), Some("Standard edition"));
    assert_eq!(std.edition.as_deref(), Some("ServerStandard"));
    assert_eq!(std.flags.as_deref(), Some("ServerStandard"));
    assert_eq!(std.build.as_deref(), Some("10.0.17763.1"));
    let dc = &imgs[1];
    assert_eq!(dc.index, 2);
    assert_eq!(dc.name.as_deref(), Some("Windows Server 2019 Datacenter"));
    assert_eq!(dc.description.as_deref(), Some("Datacenter edition"));
    assert_eq!(dc.edition.as_deref(), Some("ServerDatacenter"));
    assert_eq!(dc.build.as_deref(), Some("10.0.17763.1"));

    // Without properties, only the name.
    let tiny = Wim::open(fixture("tiny-lzx.wim")).unwrap();
    let img = &tiny.images()[0];
    assert_eq!(img.name.as_deref(), Some("Windows Server 2019 Standard"));
    assert_eq!((img.edition.as_ref(), img.build.as_ref()), (None, None));
}

#[test]
fn detection() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Wim>();
    for name in ["none.wim", "lzx.wim", "lzms-solid.esd"] {
        assert!(is_wim(&bytes(name)[..16]), "{name}");
    }
    assert!(!is_wim(b"MSWIM\0\0"));
    assert!(!is_wim(b"regf\0\0\0\0"));
    assert!(is_wim(b"WLPWM\0\0\0"));
    assert!(matches!(
        from_bytes(b"regf".to_vec()),
        Err(WimError::NotWim)
    ));
    assert!(matches!(from_bytes(vec![]), Err(WimError::NotWim)));
    assert!(matches!(
        Wim::open(fixture("does-not-exist.wim")),
        Err(WimError::Open { .. })
    ));
}

/// LZMS, solid resources and the rest: refused with a message naming the
/// feature and the way out; images still listed where the XML is readable.
#[test]
fn refusals_name_the_feature_and_the_conversion() {
    for (name, feature) in [
        ("lzms.wim", "LZMS compression"),
        ("lzms-solid.esd", "LZMS compression"),
        ("solid-lzx.wim", "a solid resource"),
    ] {
        let wim = Wim::open(fixture(name)).unwrap();
        assert_eq!(
            wim.images()[0].name.as_deref(),
            Some("Windows Server 2019 Standard")
        );
        let err = wim.read_file(1, &SYSTEM).unwrap_err();
        assert!(err.is_unsupported(), "{name}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(feature), "{name}: {msg}");
        assert!(
            msg.contains("wimlib-imagex export SRC.wim N DST.wim --compress=lzx"),
            "{name}: {msg}"
        );
    }
    assert_eq!(
        Wim::open(fixture("lzms-solid.esd")).unwrap().version(),
        0xE00
    );

    let mut split = bytes("lzx.wim");
    split[42] = 3; // total parts
    let err = from_bytes(split).unwrap_err();
    assert!(
        matches!(err, WimError::Split { part: 1, total: 3 }),
        "{err}"
    );
    assert!(err.to_string().contains("--ref="), "{err}");

    let mut pipable = bytes("lzx.wim");
    pipable[..8].copy_from_slice(b"WLPWM\0\0\0");
    let err = from_bytes(pipable).unwrap_err();
    assert!(
        err.is_unsupported() && err.to_string().contains("pipable"),
        "{err}"
    );

    let mut version = bytes("lzx.wim");
    version[12..16].copy_from_slice(&0x10B00u32.to_le_bytes());
    let err = from_bytes(version).unwrap_err();
    assert!(err.to_string().contains("WIM version 0x10b00"), "{err}");

    let mut chunk = bytes("lzx.wim");
    chunk[20..24].copy_from_slice(&4096u32.to_le_bytes());
    let err = from_bytes(chunk).unwrap_err();
    assert!(
        err.to_string().contains("LZX chunks of 4096 bytes"),
        "{err}"
    );

    let mut flags = bytes("lzx.wim");
    flags[16..20].copy_from_slice(&0x2u32.to_le_bytes()); // compressed, but how?
    let err = from_bytes(flags).unwrap_err();
    assert!(err.to_string().contains("unknown compression"), "{err}");
}

#[test]
fn the_fallback_uses_wimlib_only_for_what_we_refuse_and_says_so() {
    // Ours first.
    let (data, reader) = read_file_or_wimlib(&fixture("lzx.wim"), 1, &SYSTEM).unwrap();
    assert_eq!(
        (data.unwrap(), reader),
        (hive("compliant.hiv"), Reader::Builtin)
    );
    // Corruption is not handed to wimlib.
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.wim");
    std::fs::write(&bad, &bytes("lzx.wim")[..100]).unwrap();
    assert!(matches!(
        read_file_or_wimlib(&bad, 1, &SYSTEM),
        Err(WimError::Corrupt { .. })
    ));

    let refused = read_file_or_wimlib(&fixture("lzms-solid.esd"), 1, &SYSTEM);
    if wimlib_installed() {
        let (data, reader) = refused.unwrap();
        assert_eq!(data.unwrap(), hive("compliant.hiv"));
        let Reader::Wimlib { reason } = reader else {
            panic!("{reader:?}")
        };
        assert!(reason.contains("LZMS"), "{reason}");
        // Case-insensitive, like ours; a missing path is wimlib's error.
        let lower = ["windows", "system32", "config", "system"];
        assert_eq!(
            extract_with_wimlib(&fixture("solid-lzx.wim"), 1, &lower).unwrap(),
            hive("compliant.hiv")
        );
        let err = extract_with_wimlib(&fixture("lzx.wim"), 1, &["nope"]).unwrap_err();
        assert!(matches!(err, WimError::WimlibFailed { .. }), "{err}");
    } else {
        let err = refused.unwrap_err();
        assert!(err.is_unsupported(), "{err}");
        let err = extract_with_wimlib(&fixture("lzx.wim"), 1, &SYSTEM).unwrap_err();
        assert!(matches!(err, WimError::WimlibMissing), "{err}");
        assert!(err.to_string().contains("not installed"));
    }
}

/// With wimlib-imagex installed: its extraction of every file equals ours,
/// and a solid LZMS image exported as the error message advises reads.
#[test]
fn wimlib_cross_check() {
    if !wimlib_installed() {
        eprintln!("wimlib-imagex is not installed: cross-check skipped");
        return;
    }
    for &(name, _, _, tags) in READABLE {
        let wim = Wim::open(fixture(name)).unwrap();
        for index in 1..=tags.len() as u32 {
            for e in wim.list(index).unwrap() {
                if e.is_dir || e.attributes & 0x400 != 0 {
                    continue;
                }
                let p: Vec<&str> = e.path.iter().map(String::as_str).collect();
                let ours = wim.read_file(index, &p).unwrap().unwrap();
                let theirs = extract_with_wimlib(&fixture(name), index, &p).unwrap();
                assert!(ours == theirs, "{name} {index} {p:?}");
            }
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("exported.wim");
    let st = Command::new("wimlib-imagex")
        .arg("export")
        .arg(fixture("lzms-solid.esd"))
        .arg("1")
        .arg(&out)
        .arg("--compress=lzx")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let wim = Wim::open(&out).unwrap();
    assert_eq!(wim.compression(), Compression::Lzx);
    assert_eq!(
        wim.read_file(1, &SYSTEM).unwrap().unwrap(),
        hive("compliant.hiv")
    );
}

// ---------------------------------------------------------------------------
// Crafted corruptions. The structures are found the way a reader finds them.

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

struct Blob {
    /// Offset of the 50-byte entry in the file.
    entry: usize,
    offset: usize,
    stored: usize,
    original: u64,
    flags: u8,
    hash: [u8; 20],
}

fn blobs(b: &[u8]) -> Vec<Blob> {
    let table = u64_at(b, 48 + 8) as usize;
    let len = (u64_at(b, 48) & 0x00FF_FFFF_FFFF_FFFF) as usize;
    (table..table + len)
        .step_by(50)
        .map(|e| Blob {
            entry: e,
            offset: u64_at(b, e + 8) as usize,
            stored: (u64_at(b, e) & 0x00FF_FFFF_FFFF_FFFF) as usize,
            original: u64_at(b, e + 16),
            flags: b[e + 7],
            hash: b[e + 30..e + 50].try_into().unwrap(),
        })
        .collect()
}

/// The blob holding the file with this manifest path.
fn blob_of(b: &[u8], path: &str) -> Blob {
    let sha = &manifest()["std"][path].0;
    blobs(b)
        .into_iter()
        .find(|x| &sha1::hex(&x.hash) == sha)
        .unwrap()
}

fn read_system(b: Vec<u8>) -> Result<Option<Vec<u8>>, WimError> {
    from_bytes(b)?.read_file(1, &SYSTEM)
}

fn read_log(b: Vec<u8>) -> Result<Option<Vec<u8>>, WimError> {
    from_bytes(b)?.read_file(1, &parts("Windows/Logs/setup.log"))
}

#[test]
fn truncated_and_misplaced_tables_are_errors() {
    let good = bytes("lzx.wim");
    let err = from_bytes(good[..100].to_vec()).unwrap_err();
    assert!(
        err.to_string()
            .contains("header at byte 0: truncated: the file has 100 bytes"),
        "{err}"
    );
    let mut b = good.clone();
    b[8] = 200;
    assert!(
        from_bytes(b)
            .unwrap_err()
            .to_string()
            .contains("header size 200")
    );

    // The blob table and XML sit at the end: cut them off.
    let table = u64_at(&good, 56) as usize;
    let err = from_bytes(good[..table + 10].to_vec()).unwrap_err();
    assert!(
        err.to_string().contains("blob table at byte") && err.to_string().contains("past the end"),
        "{err}"
    );
    let mut b = good.clone();
    b[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(from_bytes(b), Err(WimError::Corrupt { .. })));
    let mut b = good.clone();
    b[48..55].copy_from_slice(&[0xFF; 7]);
    assert!(matches!(
        from_bytes(b),
        Err(WimError::Corrupt { .. } | WimError::TooLarge { .. })
    ));
    let mut b = good.clone();
    b[48] = b[48].wrapping_add(1); // not a whole number of entries
    assert!(from_bytes(b).is_err());
    // More images than metadata resources.
    let mut b = good.clone();
    b[44] = 2;
    let err = from_bytes(b).unwrap_err();
    assert!(
        err.to_string()
            .contains("1 metadata resources for 2 images"),
        "{err}"
    );
    // Broken XML.
    let mut b = good.clone();
    let xml = u64_at(&good, 72 + 8) as usize;
    b[xml + 2] = b'!';
    b[xml + 3] = 0;
    let err = from_bytes(b).unwrap_err();
    assert!(err.to_string().contains("XML data"), "{err}");
}

#[test]
fn chunk_tables_out_of_order_or_oversized_are_errors() {
    for name in ["lzx.wim", "xpress.wim"] {
        let good = bytes(name);
        let log = blob_of(&good, "Windows/Logs/setup.log");
        assert!(log.flags & 4 != 0 && log.original > 5 * 32768);
        let t = log.offset;

        let mut b = good.clone();
        let (e1, e2) = (u32_at(&b, t), u32_at(&b, t + 4));
        b[t..t + 4].copy_from_slice(&e2.to_le_bytes());
        b[t + 4..t + 8].copy_from_slice(&e1.to_le_bytes());
        let err = read_log(b).unwrap_err();
        assert!(
            err.to_string().contains("chunk table offsets out of order"),
            "{name}: {err}"
        );

        // Chunk 1 claims 32868 stored bytes, more than its 32 KiB.
        let n = log.original.div_ceil(32768) as usize;
        let data_len = log.stored - 4 * (n - 1);
        let mut b = good.clone();
        let start = u32_at(&b, t);
        assert!(start as usize + 32868 <= data_len);
        b[t + 4..t + 8].copy_from_slice(&(start + 32868).to_le_bytes());
        let err = read_log(b).unwrap_err();
        assert!(
            err.to_string()
                .contains("chunk 1 claims 32868 stored bytes for 32768 bytes"),
            "{name}: {err}"
        );

        // An entry past the end of the resource.
        let mut b = good.clone();
        b[t + 4 * (n - 2)..t + 4 * (n - 1)].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
        assert!(read_log(b).is_err(), "{name}");

        // A resource claiming 2^50 bytes, and one over the caller's cap.
        let mut b = good.clone();
        b[log.entry + 16..log.entry + 24].copy_from_slice(&(1u64 << 50).to_le_bytes());
        let err = read_log(b).unwrap_err();
        assert!(
            matches!(
                err,
                WimError::TooLarge {
                    limit: DEFAULT_MAX_FILE_SIZE,
                    ..
                }
            ),
            "{err}"
        );
        let wim = from_bytes(good.clone()).unwrap();
        let err = wim
            .read_file_max(1, &parts("Windows/Logs/setup.log"), 1000)
            .unwrap_err();
        assert!(
            err.to_string().contains("over the limit of 1000 bytes"),
            "{err}"
        );
    }
}

#[test]
fn bad_huffman_tables_and_random_chunk_bytes_are_errors() {
    // XPRESS: every codeword length 1 is an over-subscribed code.
    let good = bytes("xpress.wim");
    let log = blob_of(&good, "Windows/Logs/setup.log");
    let n = log.original.div_ceil(32768) as usize;
    let first_chunk = log.offset + 4 * (n - 1);
    let mut b = good.clone();
    b[first_chunk..first_chunk + 256].fill(0x11);
    let err = read_log(b).unwrap_err();
    assert!(
        err.to_string().contains("XPRESS chunk 0") && err.to_string().contains("over-subscribed"),
        "{err}"
    );
    // All zero: an empty code, which cannot decode anything.
    let mut b = good.clone();
    b[first_chunk..first_chunk + 256].fill(0);
    assert!(matches!(read_log(b), Err(WimError::Decompress { .. })));

    // Random bytes in the middle of a compressed chunk: an error (the
    // decoder's, or the SHA-1's), never wrong data.
    let mut seed = 0x00DD_BA11_u64;
    for name in ["xpress.wim", "lzx.wim", "lzx-256k.wim"] {
        let good = bytes(name);
        let log = blob_of(&good, "Windows/Logs/setup.log");
        for _ in 0..40 {
            let mut b = good.clone();
            let at = log.offset + 300 + (next(&mut seed) as usize % (log.stored - 600));
            for k in 0..16 {
                b[at + k] = next(&mut seed) as u8;
            }
            let r = read_log(b);
            assert!(
                matches!(
                    r,
                    Err(WimError::Decompress { .. } | WimError::HashMismatch { .. })
                ),
                "{name}: {r:?}"
            );
        }
    }
}

#[test]
fn corrupt_file_data_and_metadata_fail_their_sha1() {
    let good = bytes("none.wim");
    let sys = blob_of(&good, "Windows/System32/config/SYSTEM");
    assert_eq!(sys.flags & 4, 0);
    let mut b = good.clone();
    b[sys.offset + 4000] ^= 1;
    let err = read_system(b).unwrap_err();
    assert!(matches!(err, WimError::HashMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("does not match its SHA-1"),
        "{err}"
    );

    let meta = blobs(&good).into_iter().find(|x| x.flags & 2 != 0).unwrap();
    let mut b = good.clone();
    b[meta.offset + meta.stored - 100] ^= 1;
    let err = read_system(b).unwrap_err();
    assert!(
        err.to_string().contains("metadata resource of image 1"),
        "{err}"
    );

    // Metadata claiming 2^50 bytes.
    let mut b = good.clone();
    b[meta.entry + 16..meta.entry + 24].copy_from_slice(&(1u64 << 50).to_le_bytes());
    assert!(matches!(read_system(b), Err(WimError::TooLarge { .. })));
}

/// Rewrites the metadata resource of none.wim (stored raw) and fixes its
/// SHA-1 in the blob table, so that the dentry walk sees the change.
fn with_metadata(edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut b = bytes("none.wim");
    let meta = blobs(&b).into_iter().find(|x| x.flags & 2 != 0).unwrap();
    assert_eq!(meta.flags & 4, 0, "none.wim's metadata is stored raw");
    let m = &mut b[meta.offset..meta.offset + meta.stored];
    edit(m);
    let h = sha1::sha1(m);
    b[meta.entry + 30..meta.entry + 50].copy_from_slice(&h);
    b
}

/// Offsets of the root dentry and of the dentry named `name` in a list.
fn root_of(m: &[u8]) -> usize {
    ((u32_at(m, 0) as usize + 7) & !7).max(8)
}

fn child(m: &[u8], dir: usize, name: &str) -> usize {
    let mut at = u64_at(m, dir + 16) as usize;
    loop {
        let len = u64_at(m, at) as usize;
        assert_ne!(len, 0, "{name} not found");
        let nlen = u16::from_le_bytes([m[at + 100], m[at + 101]]) as usize;
        let units: Vec<u16> = m[at + 102..at + 102 + nlen]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if String::from_utf16_lossy(&units) == name {
            return at;
        }
        let streams = u16::from_le_bytes([m[at + 96], m[at + 97]]);
        assert_eq!(streams, 0);
        at += (len + 7) & !7;
    }
}

#[test]
fn dentry_loops_and_broken_dentries_are_errors() {
    // Windows/System32's children list is the root's: a loop.
    let b = with_metadata(|m| {
        let root = root_of(m);
        let windows = child(m, root, "Windows");
        let system32 = child(m, windows, "System32");
        let root_list = m[root + 16..root + 24].to_vec();
        m[system32 + 16..system32 + 24].copy_from_slice(&root_list);
    });
    let wim = from_bytes(b.clone()).unwrap();
    let err = wim.list(1).unwrap_err();
    assert!(err.to_string().contains("directory loop"), "{err}");
    // A lookup through it sees the loop too.
    for p in [
        &SYSTEM[..],
        &["Windows", "System32", "Windows", "System32", "Windows"],
    ] {
        let err = wim.read_file(1, p).unwrap_err();
        assert!(err.to_string().contains("directory loop"), "{err}");
    }
    // Paths that do not go through it still read.
    assert!(
        wim.read_file(1, &parts("Windows/Logs/setup.log"))
            .unwrap()
            .is_some()
    );

    // A directory pointing at itself.
    let b = with_metadata(|m| {
        let windows = child(m, root_of(m), "Windows");
        m[windows + 16..windows + 24].copy_from_slice(&(windows as u64).to_le_bytes());
    });
    let wim = from_bytes(b).unwrap();
    assert!(
        wim.list(1)
            .unwrap_err()
            .to_string()
            .contains("directory loop")
    );
    // Its "children" are itself and its later siblings: no System32 there.
    assert_eq!(wim.read_file(1, &SYSTEM).unwrap(), None);
    let err = wim
        .read_file(1, &["Windows", "Windows", "Windows"])
        .unwrap_err();
    assert!(err.to_string().contains("directory loop"), "{err}");

    // A child list past the end, a name longer than its entry, an odd name
    // length, a dentry length of 20, a list without its end marker.
    type Edit = Box<dyn Fn(&mut [u8])>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "past the end",
            Box::new(|m: &mut [u8]| {
                let w = child(m, root_of(m), "Windows");
                m[w + 16..w + 24].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
            }),
        ),
        (
            "do not fit",
            Box::new(|m: &mut [u8]| {
                let w = child(m, root_of(m), "Windows");
                m[w + 100..w + 102].copy_from_slice(&4000u16.to_le_bytes());
            }),
        ),
        (
            "odd UTF-16",
            Box::new(|m: &mut [u8]| {
                let w = child(m, root_of(m), "Windows");
                m[w + 100] |= 1;
            }),
        ),
        (
            "directory entry length 20",
            Box::new(|m: &mut [u8]| {
                let w = child(m, root_of(m), "Windows");
                m[w..w + 8].copy_from_slice(&20u64.to_le_bytes());
            }),
        ),
        (
            "security data",
            Box::new(|m: &mut [u8]| m[0..4].copy_from_slice(&u32::MAX.to_le_bytes())),
        ),
        (
            "root is not a directory",
            Box::new(|m: &mut [u8]| {
                let r = root_of(m);
                m[r + 8] = 0x80;
            }),
        ),
    ];
    for (what, edit) in edits {
        let b = with_metadata(|m| edit(m));
        let r = from_bytes(b).and_then(|w| w.list(1).map(|_| ()));
        let err = r.unwrap_err();
        assert!(err.to_string().contains(what), "{what}: {err}");
    }
}

// ---------------------------------------------------------------------------
// Random mutations: no panic, no hang, and never wrong data.

fn next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn exercise(b: Vec<u8>) -> Result<(), WimError> {
    let wim = from_bytes(b)?;
    let _ = wim.images();
    for index in 1..=wim.image_count().min(3) {
        let _ = wim.list(index);
        // Whatever comes out passed its SHA-1 check.
        if let Ok(Some(data)) = wim.read_file_max(index, &SYSTEM, 1 << 20) {
            assert!(
                data == hive("compliant.hiv") || data == hive("not-set.hiv"),
                "wrong data"
            );
        }
    }
    Ok(())
}

#[test]
fn random_mutations_never_panic_or_hang() {
    let fixtures = [
        "tiny-none.wim",
        "tiny-xpress.wim",
        "tiny-lzx.wim",
        "solid-lzx.wim",
        "lzms-solid.esd",
        "two-images.wim",
    ];
    let mut seed = 0x005E_ED0F_u64;
    let mut cases = 0;
    let mut opened = 0;
    let started = Instant::now();
    for name in fixtures {
        let good = bytes(name);
        let n = if good.len() > 20_000 { 300 } else { 800 };
        // Mutations aimed at the structures: header, tables and metadata
        // (at the end in wimlib's layout), then anywhere.
        let tail = good.len().saturating_sub(4096);
        for case in 0..n {
            let mut b = good.clone();
            match next(&mut seed) % 6 {
                0 => {
                    let len = next(&mut seed) as usize % (b.len() + 1);
                    b.truncate(len);
                }
                1 => {
                    let at = next(&mut seed) as usize % 208;
                    b[at] = next(&mut seed) as u8;
                }
                2 => {
                    for _ in 0..1 + next(&mut seed) % 4 {
                        let at = tail + next(&mut seed) as usize % (b.len() - tail);
                        b[at] = next(&mut seed) as u8;
                    }
                }
                3 => {
                    // A u32 or u64 field set to an extreme.
                    let at = if next(&mut seed) % 2 == 0 {
                        next(&mut seed) as usize % 200
                    } else {
                        tail + next(&mut seed) as usize % (b.len() - tail - 8)
                    };
                    let v: u64 = [0, 1, 0xFFFF_FFFF, u64::MAX, 1 << 40, 0x8000_0000]
                        [next(&mut seed) as usize % 6];
                    let w = if next(&mut seed) % 2 == 0 { 4 } else { 8 };
                    b[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
                4 => {
                    for _ in 0..1 + next(&mut seed) % 16 {
                        let at = next(&mut seed) as usize % b.len();
                        b[at] ^= 1 << (next(&mut seed) % 8);
                    }
                }
                _ => {
                    let at = next(&mut seed) as usize % b.len();
                    let len = (next(&mut seed) as usize % 64).min(b.len() - at);
                    for k in 0..len {
                        b[at + k] = next(&mut seed) as u8;
                    }
                }
            }
            let t = Instant::now();
            let r = std::panic::catch_unwind(|| exercise(b));
            assert!(r.is_ok(), "{name} case {case} panicked");
            if matches!(r, Ok(Ok(()))) {
                opened += 1;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{name} case {case} took {:?}",
                t.elapsed()
            );
            cases += 1;
        }
    }
    assert!(cases >= 3000, "{cases}");
    assert!(
        opened > cases / 4,
        "only {opened} of {cases} opened: the mutations miss"
    );
    eprintln!(
        "{cases} mutations ({opened} opened) in {:?}",
        started.elapsed()
    );
}

/// The reader needs no more than positioned reads: a disk that counts them
/// shows that reading SYSTEM from a large WIM touches only its tables, the
/// metadata and the hive's chunks.
#[test]
fn reads_only_what_it_needs() {
    use std::sync::atomic::{AtomicU64, Ordering};
    struct Counting(Vec<u8>, AtomicU64);
    impl Disk for Counting {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            self.1.fetch_add(buf.len() as u64, Ordering::Relaxed);
            self.0.read_exact_at(offset, buf)
        }
    }
    let b = bytes("two-images.wim");
    let total = b.len() as u64;
    let disk = Arc::new(Counting(b, AtomicU64::new(0)));
    let wim = Wim::from_disk(disk.clone()).unwrap();
    assert_eq!(
        wim.read_file(2, &SYSTEM).unwrap().unwrap(),
        hive("not-set.hiv")
    );
    let read = disk.1.load(Ordering::Relaxed);
    assert!(read < total / 4, "read {read} of {total} bytes");
}
