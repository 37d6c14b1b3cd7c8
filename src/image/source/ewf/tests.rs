//! The reader against the committed ewfacquire samples, whole and damaged.

use std::path::{Path, PathBuf};

use super::*;
use crate::image::source::{Place, disks, open_path};

fn images() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/images")
}

/// The split set, kept out of samples/ (see samples/images/README.md).
fn split_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ewf")
}

fn sample(name: &str) -> Vec<u8> {
    let path = match name.strip_prefix("split/") {
        Some(f) => split_dir().join(f),
        None => images().join(name),
    };
    std::fs::read(path).unwrap()
}

/// The split sample's five segments.
fn split() -> Vec<(String, Vec<u8>)> {
    (1..=5)
        .map(|n| {
            let f = format!("bare-ntfs.E0{n}");
            let bytes = sample(&format!("split/{f}"));
            (f, bytes)
        })
        .collect()
}

/// Writes `files` into a new folder; the path of the first.
fn set(dir: &tempfile::TempDir, files: &[(String, Vec<u8>)]) -> PathBuf {
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir.path().join(&files[0].0)
}

fn open_file(path: &Path) -> Result<Source, SourceError> {
    open(open_path(path).unwrap())
}

fn read_all(s: &Source) -> io::Result<Vec<u8>> {
    let mut all = vec![0u8; s.disk.size() as usize];
    // Odd-sized reads cross chunk boundaries.
    for (i, piece) in all.chunks_mut(10_000).enumerate() {
        s.disk.read_exact_at(i as u64 * 10_000, piece)?;
    }
    Ok(all)
}

/// (offset, type, next, size) of each section of a segment.
fn sections(b: &[u8]) -> Vec<(usize, String, u64, u64)> {
    let mut at = file_header::LEN;
    let mut out = Vec::new();
    loop {
        let raw: [u8; 76] = b[at..at + 76].try_into().unwrap();
        let d = section::Descriptor::parse(&raw).unwrap();
        out.push((at, d.kind(), d.next, d.size));
        if d.next as usize == at {
            return out;
        }
        at = d.next as usize;
    }
}

fn find(b: &[u8], kind: &str) -> usize {
    sections(b).iter().find(|s| s.1 == kind).unwrap().0
}

/// Rewrites the descriptor at `at` with a valid checksum.
fn redescribe(b: &mut [u8], at: usize, kind: &str, next: u64, size: u64) {
    b[at..at + 76].copy_from_slice(&section::build(kind, next, size));
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn err_text<T>(r: Result<T, impl std::fmt::Display>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_samples_read_as_the_raw_disks_they_were_made_from() {
    let gpt = open_file(&images().join("gpt.E01")).unwrap();
    assert_eq!(gpt.disk.size(), 12 << 20);
    assert_eq!(read_all(&gpt).unwrap(), sample("gpt.raw"));
    assert!(gpt.name().ends_with("gpt.E01"));
    let bare = open_file(&split_dir().join("bare-ntfs.E01")).unwrap();
    assert_eq!(read_all(&bare).unwrap(), sample("bare-ntfs.raw"));
}

#[test]
fn reads_keep_few_segments_open_and_few_entries() {
    let bare = open_file(&split_dir().join("bare-ntfs.E01")).unwrap();
    let raw = sample("bare-ntfs.raw");
    // Back and forth across the five segments.
    for at in [4_000_000u64, 10, 2_100_000, 3_200_000, 1_050_000, 4_100_000] {
        let mut buf = vec![0u8; 70_000];
        let n = buf.len().min(raw.len() - at as usize);
        bare.disk.read_exact_at(at, &mut buf[..n]).unwrap();
        assert_eq!(buf[..n], raw[at as usize..at as usize + n], "at {at}");
    }
    let mut past = [0u8; 2];
    assert!(bare.disk.read_exact_at((4 << 20) - 1, &mut past).is_err());
}

#[test]
fn a_damaged_table_is_read_from_its_table2_mirror() {
    let mut b = sample("gpt.E01");
    let t = find(&b, "table");
    b[t + 76 + 24 + 40] ^= 0x40;
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(&set(&dir, &[("gpt.E01".into(), b.clone())])).unwrap();
    assert_eq!(read_all(&s).unwrap(), sample("gpt.raw"));
    // A table section whose type is lost: table2 alone maps the chunks.
    let mut lost = sample("gpt.E01");
    let (at, _, next, size) = sections(&lost)
        .into_iter()
        .find(|s| s.1 == "table")
        .unwrap();
    redescribe(&mut lost, at, "tablx", next, size);
    let s = open_file(&set(&dir, &[("gpt.E01".into(), lost)])).unwrap();
    assert_eq!(read_all(&s).unwrap(), sample("gpt.raw"));
    // With both copies damaged the read fails, naming the file and where.
    let t2 = find(&b, "table2");
    b[t2 + 76 + 24 + 40] ^= 0x40;
    let s = open_file(&set(&dir, &[("gpt.E01".into(), b)])).unwrap();
    let e = err_text(read_all(&s));
    assert!(
        e.contains("gpt.E01") && e.contains("entries checksum mismatch") && e.contains("at byte"),
        "{e}"
    );
}

#[test]
fn a_truncated_segment_is_an_error_naming_it() {
    let whole = sample("gpt.E01");
    let dir = tempfile::tempdir().unwrap();
    for len in [
        0,
        8,
        12,
        13,
        50,
        100,
        700,
        1778,
        200_000,
        whole.len() - 100,
        whole.len() - 1,
    ] {
        let path = set(&dir, &[("gpt.E01".into(), whole[..len].to_vec())]);
        let e = match open_path(&path).and_then(disks) {
            Ok(d) if len < 8 => {
                // Too short to be recognised: not EWF at all.
                assert_eq!(d.len(), 1);
                continue;
            }
            r => err_text(r),
        };
        assert!(e.contains("gpt.E01"), "{len}: {e}");
    }
    // A later segment cut in its chunks.
    let mut files = split();
    files[2].1.truncate(500_000);
    let e = err_text(open_file(&set(&tempfile::tempdir().unwrap(), &files)));
    assert!(
        e.contains("bare-ntfs.E03") && e.contains("truncated"),
        "{e}"
    );
}

#[test]
fn a_missing_or_misplaced_segment_is_named() {
    let mut files = split();
    files.remove(2);
    // Named where the set says it goes on: E02's next section.
    let next = sections(&files[1].1).last().unwrap().0;
    let e = err_text(open_file(&set(&tempfile::tempdir().unwrap(), &files)));
    assert!(
        e.contains("segment 3")
            && e.contains("bare-ntfs.E03")
            && e.contains("missing")
            && e.contains("bare-ntfs.E02: EWF")
            && e.contains(&format!("at byte {next})")),
        "{e}"
    );
    let mut files = split();
    files[2].1 = files[3].1.clone();
    let e = err_text(open_file(&set(&tempfile::tempdir().unwrap(), &files)));
    assert!(
        e.contains("bare-ntfs.E03") && e.contains("segment number 4 where segment 3"),
        "{e}"
    );
}

#[test]
fn only_the_first_segment_is_an_input() {
    let e = err_text(open_path(&split_dir().join("bare-ntfs.E02")).and_then(disks));
    assert!(
        e.contains("segment 2 of an EWF set: give the first segment, bare-ntfs.E01"),
        "{e}"
    );
    assert_eq!(
        crate::image::source::ewf_segment_number(&sample("split/bare-ntfs.E04")),
        Some(4)
    );
    assert_eq!(
        crate::image::source::ewf_segment_number(&sample("gpt.raw")),
        None
    );
}

#[test]
fn ewf2_and_logical_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (sig, says) in [
        (
            file_header::SIGNATURE_V2,
            "version 2 (Ex01) is not supported",
        ),
        (file_header::SIGNATURE_LOGICAL, "logical evidence file"),
    ] {
        let mut b = sig.to_vec();
        b.resize(4096, 0);
        let path = set(&dir, &[("x.Ex01".into(), b)]);
        let e = err_text(open_path(&path).and_then(disks));
        assert!(e.contains(says) && e.contains("x.Ex01"), "{e}");
    }
}

#[test]
fn a_section_chain_that_loops_back_ends_in_an_error() {
    let mut b = sample("gpt.E01");
    for (kind, to) in [("table2", 13u64), ("sectors", 1778), ("header", 0)] {
        let (at, _, _, size) = sections(&b).into_iter().find(|s| s.1 == kind).unwrap();
        let mut bad = b.clone();
        redescribe(&mut bad, at, kind, to, size);
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(open_file(&set(&dir, &[("gpt.E01".into(), bad)])));
        assert!(
            e.contains("gpt.E01") && e.contains("a loop") && e.contains(&format!("at byte {at}")),
            "{kind}: {e}"
        );
    }
    // A next section past the end of the file.
    let at = find(&b, "data");
    redescribe(&mut b, at, "data", 1 << 40, 1128);
    let e = err_text(open_file(&set(
        &tempfile::tempdir().unwrap(),
        &[("gpt.E01".into(), b)],
    )));
    assert!(e.contains("past the end of the segment"), "{e}");
}

#[test]
fn volume_sizes_the_tables_do_not_map_are_refused() {
    let b = sample("gpt.E01");
    let at = find(&b, "volume") + 76;
    for sectors in [u64::MAX, 1 << 40, 24_577] {
        let mut bad = b.clone();
        let mut v = bad[at..at + volume::LEN].to_vec();
        v[16..24].copy_from_slice(&sectors.to_le_bytes());
        let sum = adler32(&v[..volume::LEN - 4]);
        v[volume::LEN - 4..].copy_from_slice(&sum.to_le_bytes());
        bad[at..at + volume::LEN].copy_from_slice(&v);
        let dir = tempfile::tempdir().unwrap();
        let e = err_text(open_file(&set(&dir, &[("gpt.E01".into(), bad)])));
        assert!(
            e.contains("gpt.E01") && e.contains("sectors"),
            "{sectors}: {e}"
        );
    }
}

/// Writes entry `i` of both the table and its table2 mirror of `b`, with
/// their checksums made right again.
fn set_entry(b: &mut [u8], i: usize, value: u32) {
    for kind in ["table", "table2"] {
        let entries = find(b, kind) + 76 + 24;
        let count = le32(b, entries - 24) as usize;
        b[entries + 4 * i..entries + 4 * i + 4].copy_from_slice(&value.to_le_bytes());
        let sum = adler32(&b[entries..entries + 4 * count]);
        b[entries + 4 * count..entries + 4 * count + 4].copy_from_slice(&sum.to_le_bytes());
    }
}

#[test]
fn a_table_pointing_past_the_end_fails_the_read_naming_where() {
    let mut b = sample("gpt.E01");
    set_entry(&mut b, 5, 0x8000_0000 | 0x7000_0000);
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(&set(&dir, &[("gpt.E01".into(), b.clone())])).unwrap();
    let mut buf = [0u8; 512];
    s.disk.read_exact_at(0, &mut buf).unwrap();
    let e = err_text(s.disk.read_exact_at(5 * 32768, &mut buf));
    assert!(e.contains("gpt.E01") && e.contains("chunk 5"), "{e}");
    // A stored (uncompressed) chunk past the end, and one whose end is
    // before its start.
    set_entry(&mut b, 5, 0x7000_0000);
    let s = open_file(&set(&dir, &[("gpt.E01".into(), b.clone())])).unwrap();
    let e = err_text(s.disk.read_exact_at(5 * 32768, &mut buf));
    assert!(e.contains("gpt.E01") && e.contains("truncated"), "{e}");
    let next = find(&b, "table") + 100 + 4 * 7;
    let seventh = le32(&b, next);
    set_entry(&mut b, 6, seventh + 10);
    let s = open_file(&set(&dir, &[("gpt.E01".into(), b)])).unwrap();
    let e = err_text(s.disk.read_exact_at(6 * 32768, &mut buf));
    assert!(e.contains("not after its start"), "{e}");
}

#[test]
fn a_chunk_that_fails_to_inflate_or_to_match_its_checksum_is_an_error() {
    let b = sample("gpt.E01");
    let entries = find(&b, "table") + 100;
    let base = u64::from_le_bytes(b[entries - 16..entries - 8].try_into().unwrap()) as usize;
    let chunk = |i: usize| base + (le32(&b, entries + 4 * i) & 0x7fff_ffff) as usize;
    let dir = tempfile::tempdir().unwrap();
    // The zlib stream's own Adler-32 (its last 4 bytes), then its body.
    for (at, says) in [(chunk(4) - 1, "chunk 3"), (chunk(3) + 3, "chunk 3")] {
        let mut bad = b.clone();
        bad[at] ^= 0x55;
        let s = open_file(&set(&dir, &[("gpt.E01".into(), bad)])).unwrap();
        let mut buf = [0u8; 100];
        let e = err_text(s.disk.read_exact_at(3 * 32768 + 5, &mut buf));
        assert!(
            e.contains("gpt.E01")
                && e.contains(says)
                && e.contains(&format!("at byte {}", chunk(3))),
            "{e}"
        );
        // The chunks around it are still read.
        s.disk.read_exact_at(4 * 32768, &mut buf).unwrap();
    }
    // A stored chunk: its trailing Adler-32.
    let mut files = split();
    let e01 = &mut files[0].1;
    let data = find(e01, "sectors") + 76;
    e01[data + 1000] ^= 1;
    let s = open_file(&set(&tempfile::tempdir().unwrap(), &files)).unwrap();
    let e = err_text(read_all(&s));
    assert!(
        e.contains("bare-ntfs.E01")
            && e.contains("chunk 0: checksum mismatch")
            && e.contains(&format!("at byte {data}")),
        "{e}"
    );
}

#[test]
fn damaged_descriptors_and_volumes_are_errors() {
    let b = sample("gpt.E01");
    let dir = tempfile::tempdir().unwrap();
    for (at, says) in [
        (find(&b, "sectors") + 30, "descriptor checksum"),
        (find(&b, "volume") + 76 + 20, "volume section checksum"),
    ] {
        let mut bad = b.clone();
        bad[at] ^= 1;
        let e = err_text(open_file(&set(&dir, &[("gpt.E01".into(), bad)])));
        assert!(e.contains(says) && e.contains("gpt.E01"), "{e}");
    }
}

#[test]
fn flipped_bytes_never_panic() {
    // Every byte of the descriptors, the volume and the tables, and a
    // spread of the rest, flipped one at a time: an error or bytes, never
    // a panic or a hang.
    let b = sample("gpt.E01");
    let mut spots: Vec<usize> = Vec::new();
    for (at, kind, _, _) in sections(&b) {
        spots.extend((at..at + 76).step_by(3));
        if kind == "volume" || kind.starts_with("table") {
            spots.extend((at + 76..at + 140).step_by(5));
        }
    }
    spots.extend((0..b.len()).step_by(9973));
    let dir = tempfile::tempdir().unwrap();
    for at in spots {
        let mut bad = b.clone();
        bad[at] ^= 0xA5;
        let path = set(&dir, &[("gpt.E01".into(), bad)]);
        if let Ok(list) = open_path(&path).and_then(disks) {
            for s in list {
                let mut buf = vec![0u8; 40_000];
                for pos in [0u64, 3 << 20, (12 << 20) - 40_000] {
                    let _ = s
                        .disk
                        .read_exact_at(pos.min(s.disk.size().saturating_sub(40_000)), &mut buf);
                }
            }
        }
    }
}

/// Files in memory, found by name: how a set inside an archive or at a URL
/// is found, through its place. Counts the opens.
struct Shelf {
    files: std::collections::HashMap<String, Vec<u8>>,
    opens: std::sync::atomic::AtomicUsize,
    this: String,
}

struct OnShelf(Arc<Shelf>, String);

impl Place for OnShelf {
    fn name(&self) -> String {
        format!("{}!{}", self.0.this, self.1)
    }

    fn open_beside(&self, name: &str) -> Result<Source, SourceError> {
        self.0
            .opens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.0.files.get(name) {
            Some(b) => Ok(Source {
                disk: Arc::new(b.clone()),
                place: Arc::new(OnShelf(self.0.clone(), name.to_owned())),
            }),
            None => Err(SourceError::NotFound {
                wanted: name.to_owned(),
                beside: self.name(),
                tried: vec![name.to_owned()],
            }),
        }
    }
}

#[test]
fn segments_are_found_through_the_first_ones_place() {
    let shelf = Arc::new(Shelf {
        files: split().into_iter().collect(),
        opens: Default::default(),
        this: "case.tar".into(),
    });
    let first = Source {
        disk: Arc::new(shelf.files["bare-ntfs.E01"].clone()),
        place: Arc::new(OnShelf(shelf.clone(), "bare-ntfs.E01".into())),
    };
    let s = open(first).unwrap();
    assert_eq!(s.name(), "case.tar!bare-ntfs.E01");
    let walked = shelf.opens.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(walked, 4, "E02 to E05, once each");
    assert_eq!(read_all(&s).unwrap(), sample("bare-ntfs.raw"));
    // Reading every segment in turn opens each once more, then holds them.
    let reads = shelf.opens.load(std::sync::atomic::Ordering::Relaxed) - walked;
    assert_eq!(reads, 4);
    read_all(&s).unwrap();
    assert_eq!(
        shelf.opens.load(std::sync::atomic::Ordering::Relaxed),
        walked + 4
    );
}

#[test]
fn a_set_whose_first_segment_is_not_named_e01_cannot_be_followed() {
    let mut files = split();
    files[0].0 = "evidence.img".into();
    let e = err_text(open_file(&set(&tempfile::tempdir().unwrap(), &files)));
    assert!(
        e.contains("evidence.img") && e.contains("not named like one"),
        "{e}"
    );
    // A single segment needs no name.
    let dir = tempfile::tempdir().unwrap();
    let s = open_file(&set(&dir, &[("evidence.img".into(), sample("gpt.E01"))])).unwrap();
    assert_eq!(s.disk.size(), 12 << 20);
}

/// A disk that counts the bytes read from it.
struct Counted(Vec<u8>, std::sync::atomic::AtomicU64);

impl Disk for Counted {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.1
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.0.read_exact_at(offset, buf)
    }
}

/// One segment holding `chunks` chunks of zeros, every table entry pointing
/// to the one stored zero chunk, in tables of 16375 entries as EnCase
/// writes them: table bytes for a big disk in a small file.
fn zeros_set(chunks: u64) -> Vec<u8> {
    let mut b = file_header::SIGNATURE.to_vec();
    b.extend_from_slice(&[1, 1, 0, 0, 0]);
    let section = |b: &mut Vec<u8>, kind: &str, data: &[u8]| {
        let at = b.len() as u64;
        let len = 76 + data.len() as u64;
        let next = if kind == "done" { at } else { at + len };
        b.extend_from_slice(&section::build(kind, next, len));
        b.extend_from_slice(data);
        at
    };
    section(&mut b, "volume", &volume::build(chunks * 64, 64, 512));
    let mut chunk = vec![0u8; 32768];
    chunk.extend_from_slice(&adler32(&[0u8; 32768]).to_le_bytes());
    let sectors = section(&mut b, "sectors", &chunk);
    let mut left = chunks;
    while left > 0 {
        let count = left.min(16375) as u32;
        left -= u64::from(count);
        let mut t = table::build_header(count, sectors).to_vec();
        let entries: Vec<u8> = (0..count).flat_map(|_| 76u32.to_le_bytes()).collect();
        t.extend_from_slice(&entries);
        t.extend_from_slice(&adler32(&entries).to_le_bytes());
        section(&mut b, "table", &t);
        section(&mut b, "table2", &t);
    }
    section(&mut b, "done", &[]);
    b
}

#[test]
fn a_big_disk_is_opened_without_reading_its_tables() {
    // 64 GiB: two million chunks, 8 MiB of entries (twice, with table2).
    let chunks = 2 << 20;
    let bytes = zeros_set(chunks);
    let tables = chunks * 4 * 2;
    let counted = Arc::new(Counted(bytes, Default::default()));
    let s = open(Source::detached("big.E01", counted.clone())).unwrap();
    assert_eq!(s.disk.size(), 64 << 30);
    let read = || counted.1.load(std::sync::atomic::Ordering::Relaxed);
    let at_open = read();
    assert!(at_open < 64 << 10, "{at_open} bytes read to open");
    // A read in each table loads that table's entries alone, and the cache
    // keeps at most CACHED_ENTRIES of them.
    let mut buf = [0u8; 4096];
    let every = 16375 * 32768;
    for t in 0..(chunks / 16375 + 1) {
        s.disk.read_exact_at(t * every + 100, &mut buf).unwrap();
        assert_eq!(buf, [0u8; 4096]);
    }
    let per_read = (read() - at_open) / (chunks / 16375 + 1);
    assert!(per_read < 16375 * 4 + 40_000, "{per_read} bytes per read");
    assert!(read() < tables + (5 << 20));
    s.disk.read_exact_at((64 << 30) - 4096, &mut buf).unwrap();
    let ewf = EwfDisk::open(Source::detached("big.E01", counted.clone())).unwrap();
    for t in 0..ewf.tables.len() {
        ewf.entries(t).unwrap();
    }
    let held: usize = lock(&ewf.entries).iter().map(|(_, e)| e.len()).sum();
    assert!(
        held <= CACHED_ENTRIES && held > CACHED_ENTRIES / 2,
        "{held}"
    );
}
