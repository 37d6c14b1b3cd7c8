//! The `.reg` file format: reading (as regedit applies a file) and writing (as
//! regedit exports one).

mod decode;
mod parse;
mod roots;
mod stream;
mod suggest;
mod write;

pub use decode::{TextEncoding, codepage};
pub use parse::{Document, HEADER_V4, HEADER_V5, Keep, LineSource, Op, Overlong, Version};
pub use roots::{Root, parse_root};
pub use write::{Export, OutputEncoding, escape};

use encoding_rs::Encoding;

use crate::registry::{Diagnostic, Key, Origin, Severity};

/// Why bytes are not a `.reg` file regedit would import.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("UTF-16 text cut mid-character: {len} bytes is an odd length")]
    Utf16Truncated { len: usize },
    #[error("UTF-16 big-endian text: regedit reads only UTF-16LE (BOM FF FE), ANSI and UTF-8")]
    Utf16BigEndian,
    #[error(
        "UTF-16 text without a byte-order mark: regedit refuses it; save it as UTF-16LE with BOM"
    )]
    Utf16WithoutBom,
    #[error(
        "not a registry file: {reason} (a .reg file starts with `Windows Registry Editor Version 5.00` or `REGEDIT4`)"
    )]
    NoHeader { reason: String },
    #[error(
        "not a registry file: a NUL byte at offset {offset} {context}: binary data, not a .reg file's text"
    )]
    NotText { offset: u64, context: &'static str },
    #[error(
        "too much to keep: by line {line}, the keys read from this file take more than {} MiB in memory, where a real export's keys an audit reads take a few KB",
        limit >> 20
    )]
    TooMuchKept { line: u32, limit: usize },
    #[error("{0}")]
    Io(std::io::Error),
}

/// A parsed `.reg` file.
#[derive(Clone, Debug)]
pub struct RegFile {
    pub encoding: TextEncoding,
    pub document: Document,
}

impl RegFile {
    pub fn version(&self) -> Version {
        self.document.version
    }

    pub fn ops(&self) -> &[Op] {
        &self.document.ops
    }

    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.document.diagnostics
    }
}

/// Reads a `.reg` file from its bytes. `source` is the index callers use to
/// name the file in diagnostics; `ansi` the code page for files without a BOM.
pub fn read(
    bytes: &[u8],
    source: usize,
    ansi: Option<&'static Encoding>,
) -> Result<RegFile, ReadError> {
    read_stream(bytes, source, ansi, None)
}

/// Reads a `.reg` file from a stream, in constant memory. With `keep`, only
/// the keys it accepts are read (their values, and the diagnostics of their
/// lines); key deletions are always kept.
pub fn read_stream<R: std::io::Read>(
    reader: R,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Option<Keep<'_>>,
) -> Result<RegFile, ReadError> {
    let lines = stream::ByteLines::open(reader, ansi, keep)?;
    read_lines(lines, source, keep)
}

/// Reads a mapped `.reg` file as [`read_stream`] reads it, line for line,
/// without copying it: the pages read are given back as reading goes on,
/// so memory stays as bounded as a stream's.
pub fn read_mapped(
    map: &memmap2::Mmap,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Option<Keep<'_>>,
) -> Result<RegFile, ReadError> {
    read_in_place(map, Some(map), source, ansi, keep)
}

/// Reads `bytes` in place; `region` is the map they are, to give its pages
/// back as they are passed.
fn read_in_place<'k>(
    bytes: &'k [u8],
    region: Option<&'k memmap2::Mmap>,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Option<Keep<'k>>,
) -> Result<RegFile, ReadError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(keep) = keep.filter(|_| bytes.len() >= PARALLEL_MIN && threads > 1) {
        let near: Vec<usize> = (1..PARTS).map(|k| bytes.len() / PARTS * k).collect();
        if let Some(file) = read_parts(bytes, region, source, ansi, keep, &near, threads) {
            return file;
        }
    }
    let lines =
        stream::ByteLines::open_mapped(stream::Mapped::new(bytes, region, 0), ansi, keep, 0)?;
    read_lines(lines, source, keep)
}

/// From this size on, a mapped file read for some keys is read in parts
/// at once: below it, a second thread costs more than it saves.
const PARALLEL_MIN: usize = 64 << 20;
/// How many parts: more than threads, so that a part dense in key lines
/// (the work is per key line, not per byte) does not leave a thread idle.
const PARTS: usize = 8;

/// Reads `bytes` in parts on up to `threads` threads, cut at the first key
/// line at or after each of `near` (in order) where one reading would stand
/// outside any value, so that each
/// part reads alone exactly as it would after the ones before it: then adds
/// them up in order, renumbering lines. `None` where that cannot be vouched
/// for (no such line near a cut, a part that stopped early or went over a
/// limit): the caller then reads the file in one go.
fn read_parts<'k>(
    bytes: &'k [u8],
    region: Option<&'k memmap2::Mmap>,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Keep<'k>,
    near: &[usize],
    threads: usize,
) -> Option<Result<RegFile, ReadError>> {
    let encoding =
        stream::ByteLines::open_mapped(stream::Mapped::new(bytes, None, 0), ansi, None, 0)
            .ok()?
            .encoding();
    // Where each part starts; a cut that is not past the one before (a run
    // with no safe line) is left out, so parts may be fewer.
    let mut starts = vec![0];
    for &at in near {
        let cut = stream::split_point(bytes, encoding, at)?;
        if cut > *starts.last()? && cut < bytes.len() {
            starts.push(cut);
        }
    }
    let ends: Vec<usize> = starts[1..].iter().copied().chain([bytes.len()]).collect();
    let mut first = stream::ByteLines::open_mapped(
        stream::Mapped::new(&bytes[..ends[0]], region, 0),
        ansi,
        Some(keep),
        0,
    )
    .ok()?;
    // Decided on fewer bytes, it could differ: then the cut is not vouched for.
    if first.encoding() != encoding {
        return None;
    }
    let file_ansi = match encoding {
        TextEncoding::Ansi(e) => Some(e),
        _ => None,
    };
    let (version, header) = parse::header(&mut first).ok()?;
    if !matches!(version, Version::Regedit4 | Version::Regedit5) {
        return None;
    }
    let mut readers = vec![first];
    for (&start, &end) in starts.iter().zip(&ends).skip(1) {
        readers.push(stream::ByteLines::resume(
            stream::Mapped::new(&bytes[start..end], region, start),
            encoding,
            Some(keep),
            start as u64,
        ));
    }
    // Each part read on whichever thread is free: (its reading, whether it
    // ran to its end, whether it met bad bytes, its lines).
    type Read = (Result<parse::Part, ReadError>, bool, bool, u32);
    let slots: Vec<std::sync::Mutex<Option<Read>>> = readers
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    let queue: std::sync::Mutex<Vec<(usize, stream::ByteLines<'k, std::io::Empty>)>> =
        std::sync::Mutex::new(readers.into_iter().enumerate().rev().collect());
    let header = &header;
    std::thread::scope(|s| {
        for _ in 0..threads.min(slots.len()) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                    let Some((i, mut lines)) = next else { break };
                    let head = if i == 0 { header.as_str() } else { "" };
                    let part =
                        parse::body(&mut lines, source, file_ansi, Some(keep), version, head);
                    let read = (
                        part,
                        stopped(&mut lines).is_ok(),
                        lines.had_errors,
                        lines.lines_read(),
                    );
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(read);
                }
            });
        }
    });
    let mut reads = slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()));
    let (Ok(mut whole), true, mut errors, mut lines) = reads.next()?? else {
        return None;
    };
    for read in reads {
        let (Ok(part), true, bad, n) = read? else {
            return None;
        };
        whole.append(part, lines);
        lines = lines.saturating_add(n);
        errors |= bad;
    }
    if whole.too_much() {
        return None;
    }
    let document = parse::finish(version, whole);
    Some(Ok(with_notes(document, encoding, errors, source)))
}

fn read_lines<R: std::io::Read>(
    mut lines: stream::ByteLines<'_, R>,
    source: usize,
    keep: Option<Keep<'_>>,
) -> Result<RegFile, ReadError> {
    let encoding = lines.encoding();
    let file_ansi = match encoding {
        TextEncoding::Ansi(e) => Some(e),
        _ => None,
    };
    let parsed = parse::parse_from(&mut lines, source, file_ansi, keep);
    stopped(&mut lines)?;
    Ok(with_notes(parsed?, encoding, lines.had_errors, source))
}

/// Why reading stopped early, if it did.
fn stopped<R: std::io::Read>(lines: &mut stream::ByteLines<'_, R>) -> Result<(), ReadError> {
    if let Some(e) = lines.io_error.take() {
        return Err(ReadError::Io(e));
    }
    if let Some(offset) = lines.binary_at {
        return Err(ReadError::NotText {
            offset,
            context: "in a line too long to hold",
        });
    }
    if lines.truncated {
        return Err(ReadError::Utf16Truncated {
            len: usize::try_from(lines.total).unwrap_or(usize::MAX),
        });
    }
    Ok(())
}

/// The file's notes about its encoding, before the notes about its lines.
fn with_notes(
    mut document: Document,
    encoding: TextEncoding,
    had_errors: bool,
    source: usize,
) -> RegFile {
    let at = Origin {
        source,
        line: 1,
        column: 1,
    };
    let mut notes = Vec::new();
    if had_errors {
        notes.push(Diagnostic {
            code: "encoding",
            severity: Severity::Warning,
            message: format!(
                "some bytes are not valid {}; they were read as U+FFFD",
                encoding.label()
            ),
            origin: Some(at),
            suggestion: None,
        });
    }
    match encoding {
        TextEncoding::Utf8Bom => notes.push(Diagnostic {
            code: "encoding",
            severity: Severity::Info,
            message: "UTF-8 with BOM: regedit on Windows 10 and 11 imports it; older regedit and `reg import` under Wine refuse it; regedit itself writes UTF-16LE".into(),
            origin: Some(at),
            suggestion: None,
        }),
        TextEncoding::Utf8 => notes.push(Diagnostic {
            code: "encoding",
            severity: Severity::Warning,
            message: "UTF-8 without BOM: regedit reads a file without BOM in the ANSI code page, so its non-ASCII names may import garbled; save it as UTF-16LE".into(),
            origin: Some(at),
            suggestion: None,
        }),
        _ => {}
    }
    notes.append(&mut document.diagnostics);
    document.diagnostics = notes;
    RegFile { encoding, document }
}

/// The text of a `.reg` file, decoded as `read` decodes it.
pub fn decode_text(bytes: &[u8], ansi: Option<&'static Encoding>) -> Result<String, ReadError> {
    decode::decode(bytes, ansi).map(|d| d.text)
}

/// Applies `ops` in order to the tree under `root`, as an import does.
pub fn apply(root: &mut Key, ops: &[Op]) {
    for op in ops {
        match op {
            Op::CreateKey { path, at } => {
                root.create(path, Some(*at));
            }
            Op::DeleteKey { path, at } => {
                root.delete_at(path, Some(*at));
            }
            Op::SetValue {
                key,
                name,
                value,
                at,
            } => {
                root.create(key, Some(*at))
                    .set_value(name, value.clone(), Some(*at));
            }
            Op::DeleteValue { key, name, at } => {
                root.create(key, Some(*at)).delete_value_at(name, Some(*at));
            }
            Op::Skipped { key, name, at } => {
                // The key line itself was fine, so the key exists.
                if let Some(k) = root.find_mut(key) {
                    k.mark_skipped(name, Some(*at));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ReadError, RegFile, read_in_place, read_parts, read_stream, stream};

    /// Two parts, cut at the first safe key line at or after `near`.
    fn read_halves(
        bytes: &[u8],
        region: Option<&memmap2::Mmap>,
        source: usize,
        ansi: Option<&'static encoding_rs::Encoding>,
        keep: super::Keep<'_>,
        near: usize,
    ) -> Option<Result<RegFile, ReadError>> {
        read_parts(bytes, region, source, ansi, keep, &[near], 2)
    }
    use crate::registry::name;

    fn keep(p: &[&str]) -> bool {
        p.len() <= 2 || p.iter().any(|x| name::eq(x, "SCHANNEL"))
    }

    fn utf16(s: &str) -> Vec<u8> {
        [0xFF, 0xFE]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_le_bytes))
            .collect()
    }

    /// Keys to read and to pass over, with what a cut must not fall into: a
    /// hex value continued past blank and comment lines onto a key line it
    /// swallows, `\` followed by a comment, key lines regedit cannot read,
    /// CR-only line ends, deletions, a key set twice (the later values win
    /// when applied), and characters whose UTF-16 bytes hold `\n` and `[`
    /// (U+5B0A is `0A 5B`).
    fn tricky(eol: &str) -> String {
        let mut t = format!("Windows Registry Editor Version 5.00{eol}{eol}");
        for i in 0..60 {
            let k = format!("[HKEY_LOCAL_MACHINE\\SOFTWARE\\K{i}]");
            let s = format!("[HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\P{}]", i % 7);
            let lines: Vec<String> = match i % 6 {
                0 => vec![
                    k,
                    "\"a\"=hex:01,02,\\".into(),
                    "".into(),
                    "; note".into(),
                    s.clone(),
                    "\"b\"=dword:1".into(),
                    "".into(),
                    s,
                    "\"Enabled\"=DWORD:1".into(),
                ],
                1 => vec![
                    s.clone(),
                    "\"x\"=hex:01,\\ ; more".into(),
                    "".into(),
                    k.clone(),
                    "\"y\"=\"嬊ਊ [x]\"".into(),
                    "".into(),
                    k,
                    "\"z\"=hex(7):41,00,\\".into(),
                    "  00,00".into(),
                ],
                2 => vec![
                    s.clone(),
                    "\"Enabled\"=dword:00000000".into(),
                    "".into(),
                    "[ HKEY_LOCAL_MACHINE\\SOFTWARE\\Blank]".into(),
                    "\"c\"=dword:2".into(),
                    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\NoClose".into(),
                    "\"d\"=dword:3".into(),
                    "[HKEY_NOWHERE\\x]".into(),
                    "\"e\"=dword:4".into(),
                    "".into(),
                    s,
                    "\"Enabled\"=dword:00000001".into(),
                ],
                3 => vec![
                    k.clone(),
                    "\"p\"=\"嬊\\\\\"".into(),
                    "".into(),
                    "[-HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\P1]".into(),
                    "".into(),
                    "  [HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\Indented]".into(),
                    "\"q\"=dword:5".into(),
                    "".into(),
                    k,
                    "\"h\"=hex:00,\\".into(),
                    "  ; a comment inside the value".into(),
                    "  11,\\".into(),
                    "".into(),
                    "  22".into(),
                ],
                4 => vec![
                    format!("{k}\r\"m\"=dword:1\r{s}\r\"c\"=dword:4\r"),
                    "[HKEY_LOCAL_MACHINE\\SOFTWARE\\嬊]".into(),
                    "\"u\"=dword:6".into(),
                    "".into(),
                    s,
                    "\"bad\"=hex:zz".into(),
                ],
                _ => vec![
                    s,
                    "\"v\"=hex:01,\\".into(),
                    k.clone(),
                    "\"w\"=dword:7".into(),
                    "".into(),
                    k,
                    "\"big\"=hex:00,01,02,03,04,05,06,07,08,09,0a,0b,0c,0d,0e,0f,\\".into(),
                    "  10,11,12,13,14,15,16,17,18,19,1a,1b,1c,1d,1e,1f,20,21,22,23,24,25,\\".into(),
                    "  26,27".into(),
                ],
            };
            for l in lines {
                t.push_str(&l);
                t.push_str(eol);
            }
            t.push_str(eol);
        }
        t
    }

    fn same(one: &RegFile, two: &RegFile, what: &str) {
        assert_eq!(one.ops(), two.ops(), "{what}");
        assert_eq!(one.diagnostics(), two.diagnostics(), "{what}");
        assert_eq!(one.encoding, two.encoding, "{what}");
        assert_eq!(one.version(), two.version(), "{what}");
    }

    /// Every cut `read_halves` makes reads as one reading does: the same
    /// ops in the same order, the same diagnostics at the same lines, in
    /// UTF-16, UTF-8 and ANSI, with CR LF and LF line ends, files of odd and
    /// even sizes; the cuts it refuses are the ones inside a value.
    #[test]
    fn two_halves_read_as_one() {
        let ansi = encoding_rs::WINDOWS_1252;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for eol in ["\r\n", "\n"] {
            let text = tricky(eol);
            files.push((format!("utf-16 {eol:?}"), utf16(&text)));
            files.push((format!("utf-8 {eol:?}"), text.as_bytes().to_vec()));
            let plain = text.replace(['嬊', 'ਊ'], "é");
            let (latin, _, _) = ansi.encode(&plain);
            files.push((format!("ansi {eol:?}"), latin.into_owned()));
            // No line end at the end; an odd size.
            let cut = text.trim_end();
            files.push((format!("utf-8 cut {eol:?}"), format!("{cut}x").into_bytes()));
        }
        for (what, bytes) in &files {
            let one = read_in_place(bytes, None, 0, Some(ansi), Some(&keep)).unwrap();
            let streamed = read_stream(&bytes[..], 0, Some(ansi), Some(&keep)).unwrap();
            same(&one, &streamed, what);
            assert!(
                one.diagnostics().len() > 20,
                "{what}: {:?}",
                one.diagnostics()
            );
            let encoding = one.encoding;
            let mut cuts = std::collections::BTreeSet::new();
            for near in 0..bytes.len() {
                if let Some(at) = stream::split_point(bytes, encoding, near) {
                    assert!(at >= near, "{what}: {at} before {near}");
                    cuts.insert(at);
                }
            }
            assert!(cuts.len() > 100, "{what}: only {} cuts", cuts.len());
            for &at in &cuts {
                let two = read_halves(bytes, None, 0, Some(ansi), &keep, at)
                    .unwrap_or_else(|| panic!("{what}: no read cut at {at}"))
                    .unwrap();
                same(&one, &two, &format!("{what}, cut at {at}"));
            }
            // Several parts on fewer threads: each pair and triple of cuts.
            let cuts: Vec<usize> = cuts.into_iter().collect();
            let step = (cuts.len() / 8).max(1);
            for i in (0..cuts.len()).step_by(step) {
                for j in (i + 1..cuts.len()).step_by(step * 2) {
                    let near = [cuts[i], cuts[j], cuts[(j + cuts.len()) / 2]];
                    for threads in [1, 2] {
                        let many = read_parts(bytes, None, 0, Some(ansi), &keep, &near, threads)
                            .unwrap_or_else(|| panic!("{what}: no read cut at {near:?}"))
                            .unwrap();
                        same(
                            &one,
                            &many,
                            &format!("{what}, cut at {near:?}, {threads} threads"),
                        );
                    }
                }
            }
            // A cut asked for inside a value goes past it.
            for swallowed in [
                "\\\r\n\r\n; note\r\n[",
                "\\\n\n; note\n[",
                "more\r\n\r\n[",
                "more\n\n[",
            ] {
                let Ok(text) = std::str::from_utf8(bytes) else {
                    continue;
                };
                for (i, _) in text.match_indices(swallowed) {
                    let key = i + swallowed.len() - 1;
                    assert!(!cuts.contains(&key), "{what}: cut at {key}");
                }
            }
        }
    }

    /// Over `MAX_DIAGNOSTICS` notes across the cut: the first ones listed, in
    /// order, the rest counted once, as in one reading.
    #[test]
    fn two_halves_count_notes_as_one() {
        let mut text = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
        for i in 0..1500 {
            text.push_str(&format!(
                "[HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\K{i}]\r\n\"a\"=DWORD:1\r\n\"b\"=hex:zz\r\n\"c\"=dword:\r\n\"d\"=x\r\n\"e\"=\"\r\n\"f\"=hex(2):q\r\n\"g\"=dword:123456789\r\n\r\n"
            ));
        }
        for bytes in [utf16(&text), text.into_bytes()] {
            let one = read_in_place(&bytes, None, 0, None, Some(&keep)).unwrap();
            assert!(
                one.diagnostics()
                    .iter()
                    .any(|d| d.code == "more-diagnostics"),
                "{:?}",
                one.diagnostics().last()
            );
            let encoding = one.encoding;
            for near in (0..bytes.len()).step_by(bytes.len() / 7) {
                let Some(at) = stream::split_point(&bytes, encoding, near) else {
                    continue;
                };
                let two = read_halves(&bytes, None, 0, None, &keep, at)
                    .unwrap()
                    .unwrap();
                same(&one, &two, &format!("cut at {at}"));
            }
        }
    }

    /// What one reading refuses, two halves do not read: the caller then
    /// reads it in one go, and gets the same error.
    #[test]
    fn errors_are_left_to_one_reading() {
        let mut text = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
        for i in 0..50 {
            text.push_str(&format!(
                "[HKEY_LOCAL_MACHINE\\SOFTWARE\\K{i}]\r\n\"a\"=dword:1\r\n\r\n"
            ));
        }
        let mut bytes = utf16(&text);
        bytes.push(b'x');
        let err = read_in_place(&bytes, None, 0, None, Some(&keep)).unwrap_err();
        assert!(matches!(err, ReadError::Utf16Truncated { .. }), "{err}");
        let at =
            stream::split_point(&bytes, super::TextEncoding::Utf16Le, bytes.len() / 2).unwrap();
        assert!(read_halves(&bytes, None, 0, None, &keep, at).is_none());
    }
}
