//! Reading a `.reg` file as a stream: memory stays constant whatever the
//! file's size (a whole `HKLM` export is hundreds of MB of UTF-16), and the
//! value lines of keys the caller does not keep are passed over on their raw
//! bytes, without being decoded or parsed.

use std::io::{self, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16LE};

use super::ReadError;
use super::decode::{TextEncoding, detect};
use super::parse::{Keep, LineSource};
use super::roots::parse_root;

/// How much is read at a time.
const BLOCK: usize = 1 << 20;
/// How much of a file without a BOM is looked at to tell UTF-8 from ANSI.
const HEAD: usize = 8 << 20;

pub(super) struct ByteLines<'k, R> {
    reader: R,
    /// Keys the caller keeps; the others' key lines are not handed on.
    keep: Option<Keep<'k>>,
    /// A key line was passed over since the parser last asked.
    dropped: bool,
    /// The parser is reading a value's continuation lines.
    parser_continuing: bool,
    /// Reused for judging key lines, so keys passed over cost no allocation.
    scratch: Vec<u8>,
    hex: memchr::memmem::Finder<'static>,
    /// What each read fills, allocated once.
    block: Vec<u8>,
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    pos: usize,
    eof: bool,
    encoding: TextEncoding,
    number: u32,
    /// Pass over value lines (the open key is not kept).
    skip: bool,
    /// While skipping: inside a hex value continued with `\`.
    continuing: bool,
    pub had_errors: bool,
    /// Bytes read in all.
    pub total: u64,
    pub io_error: Option<io::Error>,
    /// UTF-16 text that ended with half a character.
    pub truncated: bool,
}

impl<'k, R: Read> ByteLines<'k, R> {
    /// Reads the head of the file, picks its encoding, and stands after the BOM.
    pub fn open(
        reader: R,
        ansi: Option<&'static Encoding>,
        keep: Option<Keep<'k>>,
    ) -> Result<Self, ReadError> {
        let mut lines = ByteLines {
            reader,
            keep,
            dropped: false,
            parser_continuing: false,
            scratch: Vec::new(),
            hex: memchr::memmem::Finder::new(b"hex"),
            block: vec![0; BLOCK],
            buf: Vec::with_capacity(BLOCK),
            pos: 0,
            eof: false,
            encoding: TextEncoding::Utf8,
            number: 0,
            skip: false,
            continuing: false,
            had_errors: false,
            total: 0,
            io_error: None,
            truncated: false,
        };
        while lines.buf.len() < HEAD && lines.fill().is_some() {}
        let (encoding, bom) = detect(&lines.buf, lines.eof, ansi)?;
        lines.encoding = encoding;
        if encoding == TextEncoding::Utf16Le {
            lines.hex = memchr::memmem::Finder::new(b"h\0e\0x\0");
        }
        lines.pos = bom;
        Ok(lines)
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    fn width(&self) -> usize {
        match self.encoding {
            TextEncoding::Utf16Le => 2,
            _ => 1,
        }
    }

    /// Reads more, dropping the bytes before `pos`. Returns how far the
    /// kept bytes moved, or `None` at the end of the file.
    fn fill(&mut self) -> Option<usize> {
        if self.eof {
            return None;
        }
        let shift = self.pos;
        self.buf.drain(..shift);
        self.pos = 0;
        loop {
            match self.reader.read(&mut self.block) {
                Ok(0) => {
                    self.eof = true;
                    return None;
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.block[..n]);
                    self.total += n as u64;
                    return Some(shift);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.io_error = Some(e);
                    self.eof = true;
                    return None;
                }
            }
        }
    }

    /// Whether the unit at `j` (a candidate line end found by byte) is one:
    /// in UTF-16 it must be whole and aligned. `None`: more bytes needed.
    fn is_unit(&self, j: usize, byte: u8) -> Option<bool> {
        if self.width() == 1 {
            return Some(true);
        }
        if (j - self.pos) % 2 != 0 {
            return Some(false);
        }
        self.buf.get(j + 1).map(|&hi| hi == 0 && byte != 0)
    }

    /// The next raw line as a range of `buf`, and moves past its end.
    fn next_raw(&mut self) -> Option<(usize, usize)> {
        let w = self.width();
        let mut i = self.pos;
        loop {
            let found = memchr::memchr2(b'\n', b'\r', &self.buf[i..]).map(|o| i + o);
            let Some(j) = found else {
                let old_end = self.buf.len();
                match self.fill() {
                    Some(shift) => {
                        // Go on from where the old bytes ended (one unit back,
                        // for a line end cut between two reads).
                        i = (old_end - shift).saturating_sub(w).max(self.pos);
                        continue;
                    }
                    None => {
                        if self.pos >= self.buf.len() {
                            return None;
                        }
                        let rest = self.buf.len() - self.pos;
                        if rest % w != 0 {
                            self.truncated = true;
                        }
                        let line = (self.pos, self.buf.len() - rest % w);
                        self.pos = self.buf.len();
                        return Some(line);
                    }
                }
            };
            let byte = self.buf[j];
            match self.is_unit(j, byte) {
                Some(true) => {}
                Some(false) => {
                    i = j + 1;
                    continue;
                }
                None => match self.fill() {
                    Some(shift) => {
                        i = j - shift;
                        continue;
                    }
                    None => {
                        i = j + 1;
                        continue;
                    }
                },
            }
            let mut next = j + w;
            if byte == b'\r' {
                // A CR LF pair ends one line; wait for the LF's bytes if needed.
                if next + w > self.buf.len() && !self.eof {
                    if let Some(shift) = self.fill() {
                        i = j - shift;
                        continue;
                    }
                }
                let lf = self.buf.get(next) == Some(&b'\n')
                    && (w == 1 || self.buf.get(next + 1) == Some(&0));
                if lf {
                    next += w;
                }
            }
            let line = (self.pos, j);
            self.pos = next;
            return Some(line);
        }
    }

    fn first_unit(&self, a: usize, b: usize) -> Option<u16> {
        let w = self.width();
        let raw = &self.buf[a..b];
        let mut i = 0;
        while i + w <= raw.len() {
            let u = match w {
                2 => u16::from_le_bytes([raw[i], raw[i + 1]]),
                _ => u16::from(raw[i]),
            };
            if u != u16::from(b' ') && u != u16::from(b'\t') {
                return Some(u);
            }
            i += w;
        }
        None
    }

    fn last_unit(&self, a: usize, b: usize) -> Option<u16> {
        let w = self.width();
        let raw = &self.buf[a..b];
        let mut end = raw.len() - raw.len() % w;
        while end >= w {
            let u = match w {
                2 => u16::from_le_bytes([raw[end - 2], raw[end - 1]]),
                _ => u16::from(raw[end - 1]),
            };
            if u != u16::from(b' ') && u != u16::from(b'\t') {
                return Some(u);
            }
            end -= w;
        }
        None
    }

    fn contains_hex(&self, a: usize, b: usize) -> bool {
        self.hex.find(&self.buf[a..b]).is_some()
    }

    /// For a key line: false when the caller keeps its key, or it is one
    /// the parser must see anyway (a deletion, a line regedit cannot read).
    fn unkept(&self, line: &str) -> bool {
        let Some(keep) = self.keep else { return false };
        let inner = line
            .trim_start_matches([' ', '\t'])
            .strip_prefix('[')
            .unwrap_or_default();
        if inner.starts_with(['-', ' ', '\t']) {
            return false;
        }
        let Some(close) = inner.rfind(']') else {
            return false;
        };
        let mut parts = inner[..close].trim_end_matches('\\').split('\\');
        let Some((root, _)) = parts.next().and_then(parse_root) else {
            return false;
        };
        let mut path: Vec<&str> = Vec::with_capacity(12);
        path.push(root.long_name());
        path.extend(parts.filter(|p| !p.is_empty()));
        !keep(&path)
    }

    /// Copies the line into `scratch` when it is all ASCII (key lines nearly
    /// always are): no decoder, no allocation. False otherwise.
    fn ascii_into_scratch(&mut self, a: usize, b: usize) -> bool {
        let raw = &self.buf[a..b];
        self.scratch.clear();
        match self.width() {
            2 => {
                if !raw.chunks_exact(2).all(|u| u[1] == 0 && u[0] < 0x80) {
                    return false;
                }
                self.scratch.extend(raw.chunks_exact(2).map(|u| u[0]));
            }
            _ => {
                if !raw.is_ascii() {
                    return false;
                }
                self.scratch.extend_from_slice(raw);
            }
        }
        true
    }

    fn decode(&mut self, a: usize, b: usize) -> String {
        let raw = &self.buf[a..b];
        let (text, errors) = match self.encoding {
            TextEncoding::Utf16Le => UTF_16LE.decode_without_bom_handling(raw),
            TextEncoding::Ansi(e) => e.decode_without_bom_handling(raw),
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8.decode_without_bom_handling(raw),
        };
        self.had_errors |= errors;
        text.into_owned()
    }
}

const fn unit(c: char) -> u16 {
    c as u16
}

impl<R: Read> LineSource for ByteLines<'_, R> {
    fn next_line(&mut self) -> Option<(u32, String)> {
        loop {
            let (a, b) = self.next_raw()?;
            self.number += 1;
            let first = self.first_unit(a, b);
            if !self.continuing && !self.parser_continuing && first == Some(unit('[')) {
                if self.keep.is_some() && self.ascii_into_scratch(a, b) {
                    let scratch = std::mem::take(&mut self.scratch);
                    // ASCII, so valid UTF-8; the check is the cheap SIMD one.
                    let text = std::str::from_utf8(&scratch).unwrap_or_default();
                    let unkept = self.unkept(text);
                    let owned = (!unkept).then(|| text.to_owned());
                    self.scratch = scratch;
                    match owned {
                        // The parser need not see it: nothing of this key is read.
                        None => {
                            self.skip = true;
                            self.dropped = true;
                            continue;
                        }
                        Some(text) => return Some((self.number, text)),
                    }
                }
                let text = self.decode(a, b);
                if self.unkept(&text) {
                    self.skip = true;
                    self.dropped = true;
                    continue;
                }
                return Some((self.number, text));
            }
            if !self.skip {
                let text = self.decode(a, b);
                return Some((self.number, text));
            }
            // Skipping a key's values: look at the raw units only, and follow
            // hex continuations as regedit does, so a key line is never taken
            // for data nor data for a key line.
            if self.continuing {
                match first {
                    None => {}
                    Some(c) if c == unit(';') => {}
                    Some(c) if c < 128 && (c as u8).is_ascii_hexdigit() => {
                        self.continuing = self.last_unit(a, b) == Some(unit('\\'));
                    }
                    // Not hex: regedit drops the value and this line with it.
                    Some(_) => self.continuing = false,
                }
                continue;
            }
            match first {
                Some(c) if c == unit('"') || c == unit('@') => {
                    self.continuing =
                        self.last_unit(a, b) == Some(unit('\\')) && self.contains_hex(a, b);
                }
                _ => {}
            }
        }
    }

    fn skip_values(&mut self, skip: bool) {
        self.skip = skip;
        self.continuing = false;
    }

    fn take_dropped_key(&mut self) -> bool {
        std::mem::take(&mut self.dropped)
    }

    fn in_continuation(&mut self, on: bool) {
        self.parser_continuing = on;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Op, read, read_stream};
    use crate::registry::name;
    use std::io::Read;

    /// A reader that hands out a few bytes at a time, so every line end,
    /// CR LF pair and UTF-16 unit crosses a read boundary somewhere.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.step = self.step % 7 + 1;
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn utf16(s: &str) -> Vec<u8> {
        [0xFF, 0xFE]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_le_bytes))
            .collect()
    }

    /// A hex value in a kept key continues with `\`, and the next line opens
    /// an unkept key: regedit swallows that line, so the value after it still
    /// lands in the kept key.
    const SWALLOW: &str = "Windows Registry Editor Version 5.00\r\n[HKEY_LOCAL_MACHINE\\S\\SCHANNEL]\r\n\"a\"=hex:01,\\\r\n[HKEY_CURRENT_USER\\Other]\r\n\"b\"=dword:1\r\n";

    #[test]
    fn a_swallowed_key_line_is_swallowed_with_a_filter_too() {
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        let bytes = utf16(SWALLOW);
        let all = read(&bytes, 0, None).unwrap();
        let kept = read_stream(&bytes[..], 0, None, Some(&keep)).unwrap();
        assert_eq!(all.ops(), kept.ops());
        assert!(
            matches!(&kept.ops()[2], Op::SetValue { name, key, .. } if name == "b" && key.len() == 3),
            "{:?}",
            kept.ops()
        );
    }

    const TEXT: &str = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\A]\r\n\"s\"=\"x\\\\y\"\r\n\"b\"=hex:01,02,\\\r\n  ; note\r\n\r\n  03\r\n\"bad\"=hex:01,\\\r\n[HKEY_CURRENT_USER\\swallowed]\r\n\"d\"=dword:1\n[HKEY_LOCAL_MACHINE\\SYSTEM\\X\\SCHANNEL\\P]\r\"Enabled\"=dword:00000001\r\n\"é\"=\"ü\"\r\n\r\n";

    #[test]
    fn reads_the_same_whatever_the_read_sizes() {
        let mut files = vec![
            utf16(TEXT),
            TEXT.as_bytes().to_vec(),
            utf16(TEXT.trim_end()),
        ];
        for sample in [
            "compliant.reg",
            "translated/uk-UA.reg",
            "translated/zh-TW.reg",
            "matrix.reg",
        ] {
            files.push(
                std::fs::read(format!("{}/samples/{sample}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
            );
        }
        for bytes in files {
            let whole = read(&bytes, 0, None).unwrap();
            let trickled = read_stream(
                Trickle {
                    bytes: &bytes,
                    step: 0,
                },
                0,
                None,
                None,
            )
            .unwrap();
            assert_eq!(whole.ops(), trickled.ops());
            assert_eq!(whole.diagnostics(), trickled.diagnostics());
            assert_eq!(whole.encoding, trickled.encoding);
        }
        let cut = utf16(TEXT);
        let err = read_stream(
            Trickle {
                bytes: &cut[..cut.len() - 1],
                step: 0,
            },
            0,
            None,
            None,
        )
        .err();
        assert!(
            matches!(err, Some(super::super::ReadError::Utf16Truncated { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn skipping_unkept_keys_changes_nothing_in_kept_ones() {
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        for bytes in [utf16(TEXT), TEXT.as_bytes().to_vec()] {
            let all = read(&bytes, 0, None).unwrap();
            let kept = read_stream(
                Trickle {
                    bytes: &bytes,
                    step: 3,
                },
                0,
                None,
                Some(&keep),
            )
            .unwrap();
            let in_kept = |op: &&Op| {
                let parts: Vec<&str> = op.key().iter().map(String::as_str).collect();
                keep(&parts) || matches!(op, Op::DeleteKey { .. })
            };
            let want: Vec<&Op> = all.ops().iter().filter(in_kept).collect();
            let got: Vec<&Op> = kept.ops().iter().collect();
            assert_eq!(want, got);
            assert_eq!(got.len(), 3, "the SCHANNEL key and its two values: {got:?}");
        }
    }
}
