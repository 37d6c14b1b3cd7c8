//! Reading a `.reg` file as a stream: memory stays constant whatever the
//! file's size (a whole `HKLM` export is hundreds of MB of UTF-16), and the
//! value lines of keys the caller does not keep are passed over on their raw
//! bytes, without being decoded or parsed.

use std::io::{self, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16LE};

use super::ReadError;
use super::decode::{TextEncoding, detect};
use super::parse::{Keep, LineSource, MAX_DEPTH, Overlong};
use super::roots::parse_root;

/// How much is read at a time.
const BLOCK: usize = 1 << 20;
/// How much of a file without a BOM is looked at to tell UTF-8 from ANSI.
const HEAD: usize = 8 << 20;
/// The longest line held in memory, in bytes. regedit's own limits are far
/// below it (a key name has at most 255 characters and a key 512 levels, so
/// a key line is under 400 KB even in UTF-8; a value name has 16,383; exports
/// wrap hex data at 80 columns), so only a string value of millions of
/// characters on one line could reach it, and Microsoft advises against
/// values over 1 MB. A longer line is passed over in constant memory.
pub(super) const MAX_LINE: usize = 16 << 20;
/// The longest first line: the header is 36 characters, so this much of a
/// line without an end is plainly no header, and nothing more is read.
pub(super) const MAX_HEADER_LINE: usize = 4 << 10;
/// How much of a line passed over is kept to judge and quote it.
const SHOWN: usize = 256;

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
    /// Whether the last line passed over by a jump that was not blank or a
    /// comment may have continued a hex value (see `may_continue`).
    tail_continues: bool,
    /// Lines to read one by one before jumping again (up to a key line a
    /// continuation may swallow), so a hazard is not searched for twice.
    slow_lines: u32,
    /// What each read fills, allocated once.
    block: Vec<u8>,
    buf: Vec<u8>,
    /// Bytes mapped in memory, read in place of `reader` and `buf`.
    map: Option<Mapped<'k>>,
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
    /// The file offset of the first byte read (a part of a mapped file).
    origin: u64,
    pub io_error: Option<io::Error>,
    /// UTF-16 text that ended with half a character.
    pub truncated: bool,
    /// The line just handed out was too long to hold and was passed over.
    overlong: Option<Overlong>,
    /// Where a line too long to hold held a NUL: binary data, not a `.reg`
    /// file; reading stopped there.
    pub binary_at: Option<u64>,
}

/// A file (or part of one) mapped in memory: it is read in place, as if in
/// reads of `MAP_STEP` bytes, so that lines, their limits and their numbers
/// come out exactly as from a stream. The pages passed are given back as
/// reading goes on, so what stays resident is bounded like a stream's buffer.
pub(super) struct Mapped<'k> {
    bytes: &'k [u8],
    /// How much of `bytes` counts as read.
    end: usize,
    /// The map `bytes` lies in, to give pages back to (none in tests).
    region: Option<&'k memmap2::Mmap>,
    /// Where `bytes` starts in `region`, and how much of it is given back
    /// (pages are given back on Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    at: usize,
    released: usize,
}

/// How much more of a mapped file counts as read at a time.
const MAP_STEP: usize = 4 << 20;
/// Pages are given back in runs of this much, behind the reading position.
const RELEASE: usize = 8 << 20;

impl<'k> Mapped<'k> {
    pub fn new(bytes: &'k [u8], region: Option<&'k memmap2::Mmap>, at: usize) -> Self {
        Mapped {
            bytes,
            end: 0,
            region,
            at,
            released: 0,
        }
    }

    /// Gives back the pages wholly before byte `upto` of `bytes`, in runs
    /// of [`RELEASE`] bytes.
    fn release(&mut self, upto: usize) {
        if upto >= self.released + RELEASE {
            self.release_now(upto);
        }
    }

    /// Gives back the pages wholly before byte `upto` of `bytes` at once (at
    /// the end: a part read on one thread among several leaves none behind).
    fn release_now(&mut self, upto: usize) {
        let Some(map) = self.region else { return };
        #[cfg(unix)]
        {
            // Pages are 4 KiB here, 16 or 64 KiB on some ARM systems: an
            // unaligned range would be refused and nothing given back.
            // SAFETY: sysconf only reads a constant of the system.
            let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                .unwrap_or(4096)
                .max(1);
            let from = (self.at + self.released).next_multiple_of(page);
            let to = (self.at + upto) / page * page;
            if to > from {
                // SAFETY: the map is read-only and private, of a file: dropping
                // its pages only makes a later touch read them again from the
                // page cache. Reading has passed them for good anyway.
                let _ = unsafe {
                    map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
                };
            }
        }
        // Elsewhere a map is not made for a `.reg` file (see `input::open`).
        #[cfg(not(unix))]
        let _ = map;
        self.released = upto;
    }
}

impl<'k> ByteLines<'k, io::Empty> {
    /// Reads a mapped file (or the part of one `bytes` is, starting at file
    /// offset `origin`): as `open`, but without copying.
    pub fn open_mapped(
        map: Mapped<'k>,
        ansi: Option<&'static Encoding>,
        keep: Option<Keep<'k>>,
        origin: u64,
    ) -> Result<Self, ReadError> {
        Self::start(io::empty(), Some(map), ansi, keep, origin)
    }

    /// Reads a part of a mapped file that starts at a line after the header
    /// (file offset `origin` > 0), in the file's `encoding`. Its lines are
    /// numbered from 1.
    pub fn resume(
        map: Mapped<'k>,
        encoding: TextEncoding,
        keep: Option<Keep<'k>>,
        origin: u64,
    ) -> Self {
        let mut lines = Self::new(io::empty(), Some(map), keep, origin);
        lines.encoding = encoding;
        lines
    }
}

impl<'k, R: Read> ByteLines<'k, R> {
    /// Reads the head of the file, picks its encoding, and stands after the BOM.
    pub fn open(
        reader: R,
        ansi: Option<&'static Encoding>,
        keep: Option<Keep<'k>>,
    ) -> Result<Self, ReadError> {
        Self::start(reader, None, ansi, keep, 0)
    }

    fn start(
        reader: R,
        map: Option<Mapped<'k>>,
        ansi: Option<&'static Encoding>,
        keep: Option<Keep<'k>>,
        origin: u64,
    ) -> Result<Self, ReadError> {
        let mut lines = Self::new(reader, map, keep, origin);
        // The header line first: bytes that cannot be one (NULs, as in a
        // disk image or /dev/zero) are refused before more is read.
        while lines.data().len() < MAX_HEADER_LINE && lines.fill().is_some() {}
        let (early, bom) = detect(lines.data(), lines.eof, ansi)?;
        let w = match early {
            TextEncoding::Utf16Le => 2,
            _ => 1,
        };
        if let Some(at) = first_line_nul(&lines.data()[bom..], w) {
            return Err(ReadError::NotText {
                offset: (bom + at) as u64,
                context: "in the first line, where the header must be",
            });
        }
        while lines.data().len() < HEAD && lines.fill().is_some() {}
        let (encoding, bom) = detect(lines.data(), lines.eof, ansi)?;
        lines.encoding = encoding;
        lines.pos = bom;
        Ok(lines)
    }

    fn new(reader: R, map: Option<Mapped<'k>>, keep: Option<Keep<'k>>, origin: u64) -> Self {
        let mapped = map.is_some();
        ByteLines {
            reader,
            keep,
            dropped: false,
            parser_continuing: false,
            scratch: Vec::new(),
            tail_continues: false,
            slow_lines: 0,
            // A map needs no buffer.
            block: vec![0; if mapped { 0 } else { BLOCK }],
            buf: Vec::with_capacity(if mapped { 0 } else { BLOCK }),
            map,
            pos: 0,
            eof: false,
            encoding: TextEncoding::Utf8,
            number: 0,
            skip: false,
            continuing: false,
            had_errors: false,
            total: 0,
            origin,
            io_error: None,
            truncated: false,
            overlong: None,
            binary_at: None,
        }
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    /// Lines read so far (all of them, once `next_line` gave `None`).
    pub fn lines_read(&self) -> u32 {
        self.number
    }

    /// Whether the line at `pos` is the file's first (a header, or not).
    fn on_header(&self) -> bool {
        self.number == 0 && self.origin == 0
    }

    fn width(&self) -> usize {
        match self.encoding {
            TextEncoding::Utf16Le => 2,
            _ => 1,
        }
    }

    /// The bytes read and held: `pos` and every index handed out point here.
    fn data(&self) -> &[u8] {
        held(&self.buf, &self.map)
    }

    /// Lets go of everything held, after reading stopped.
    fn drop_held(&mut self) {
        match &mut self.map {
            Some(m) => self.pos = m.end,
            None => {
                self.buf.clear();
                self.pos = 0;
            }
        }
    }

    /// Reads more, dropping the bytes before `pos`. Returns how far the
    /// kept bytes moved, or `None` at the end of the file.
    fn fill(&mut self) -> Option<usize> {
        if self.eof {
            return None;
        }
        if let Some(m) = &mut self.map {
            // Nothing moves: more of the map counts as read.
            m.release(self.pos);
            let n = MAP_STEP.min(m.bytes.len() - m.end);
            if n == 0 {
                m.release_now(m.bytes.len());
                self.eof = true;
                return None;
            }
            m.end += n;
            self.total += n as u64;
            return Some(0);
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
        self.data().get(j + 1).map(|&hi| hi == 0 && byte != 0)
    }

    /// The next raw line as a range of `buf`, and moves past its end.
    fn next_raw(&mut self) -> Option<(usize, usize)> {
        let w = self.width();
        let mut i = self.pos;
        loop {
            let found = memchr::memchr2(b'\n', b'\r', &self.data()[i..]).map(|o| i + o);
            let Some(j) = found else {
                let cap = match self.on_header() {
                    true => MAX_HEADER_LINE,
                    false => MAX_LINE,
                };
                if self.data().len() - self.pos > cap && !self.pass_over(cap) {
                    return match self.on_header() {
                        // No header, and no need to read on to see that.
                        true => Some((0, 0)),
                        false => None,
                    };
                }
                let old_end = self.data().len();
                match self.fill() {
                    Some(shift) => {
                        // Go on from where the old bytes ended (one unit back,
                        // for a line end cut between two reads).
                        i = (old_end - shift).saturating_sub(w).max(self.pos);
                        continue;
                    }
                    None => {
                        if self.pos >= self.data().len() {
                            return None;
                        }
                        let rest = self.data().len() - self.pos;
                        if rest % w != 0 {
                            self.truncated = true;
                        }
                        let line = (self.pos, self.data().len() - rest % w);
                        self.pos = self.data().len();
                        return Some(line);
                    }
                }
            };
            let byte = self.data()[j];
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
                if next + w > self.data().len() && !self.eof {
                    if let Some(shift) = self.fill() {
                        i = j - shift;
                        continue;
                    }
                }
                let lf = self.data().get(next) == Some(&b'\n')
                    && (w == 1 || self.data().get(next + 1) == Some(&0));
                if lf {
                    next += w;
                }
            }
            let line = (self.pos, j);
            self.pos = next;
            return Some(line);
        }
    }

    /// The file offset of byte `i` of `buf`.
    fn offset_of(&self, i: usize) -> u64 {
        self.origin + self.total - (self.data().len() - i) as u64
    }

    /// The line at `pos` has more than `cap` bytes and no end yet: notes it
    /// (where, its first characters, a NUL in it), then drops what is held
    /// but its last unit, which a line end may share with the next read.
    /// False when reading must stop: a first line that long is no header, and
    /// a line that long with a NUL in it is binary data.
    fn pass_over(&mut self, cap: usize) -> bool {
        let w = self.width();
        if self.overlong.is_none() {
            let shown_end = self.pos + SHOWN.min(self.data().len() - self.pos) / w * w;
            let (text, _) = self.decode_raw(self.pos, shown_end);
            let nul = match w {
                2 => self.data()[self.pos..]
                    .chunks_exact(2)
                    .position(|u| u == [0, 0])
                    .map(|u| self.pos + 2 * u),
                _ => memchr::memchr(0, &self.data()[self.pos..]).map(|o| self.pos + o),
            };
            self.overlong = Some(Overlong {
                offset: self.offset_of(self.pos),
                bytes: 0,
                limit: cap,
                start: text,
            });
            let stop = self.on_header() || nul.is_some();
            if let Some(n) = nul.filter(|_| !self.on_header()) {
                self.binary_at = Some(self.offset_of(n));
            }
            if stop {
                self.eof = true;
                self.drop_held();
                return false;
            }
        }
        let held = (self.data().len() - self.pos) / w * w;
        self.pos += held.saturating_sub(w);
        true
    }

    fn first_unit(&self, a: usize, b: usize) -> Option<u16> {
        let w = self.width();
        let raw = &self.data()[a..b];
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
        let raw = &self.data()[a..b];
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
        path.extend(parts.filter(|p| !p.is_empty()).take(MAX_DEPTH + 1));
        // Too deep to exist: the parser reports it, kept or not.
        path.len() <= MAX_DEPTH + 1 && !keep(&path)
    }

    /// Copies the line into `scratch` when it is all ASCII (key lines nearly
    /// always are): no decoder, no allocation. False otherwise.
    fn ascii_into_scratch(&mut self, a: usize, b: usize) -> bool {
        let raw = &held(&self.buf, &self.map)[a..b];
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

    /// The unit at byte `i` of `buf`, if whole.
    fn unit_at(&self, i: usize) -> Option<u16> {
        match self.width() {
            2 => self
                .data()
                .get(i..i + 2)
                .map(|u| u16::from_le_bytes([u[0], u[1]])),
            _ => self.data().get(i).map(|&b| u16::from(b)),
        }
    }

    /// Line ends in `buf[a..b]` (whole units, aligned on `pos`).
    fn count_lines(&self, a: usize, b: usize) -> Option<u32> {
        let w = self.width();
        let mut n: u32 = 0;
        for i in memchr::memchr2_iter(b'\n', b'\r', &self.data()[a..b]).map(|o| a + o) {
            if self.is_unit(i, self.data()[i]) != Some(true) {
                continue;
            }
            // A CR is a line end unless an LF follows it.
            if self.data()[i] == b'\r' {
                match self.unit_at(i + w) {
                    Some(u) if u == unit('\n') => continue,
                    Some(_) => {}
                    None => return None,
                }
            }
            n += 1;
        }
        Some(n)
    }

    /// Whether a hex value may still be continued at `to`, judged by the
    /// lines in `from..to` (both on line starts, aligned on `pos`): the last
    /// line that is neither blank nor a `;` comment (regedit passes over
    /// those inside a continuation) has a `\` followed by nothing but blanks
    /// or by a `;` comment. `None` when every line there is blank or a
    /// comment. It errs towards yes: the parser then decides, exactly.
    fn may_continue(&self, from: usize, to: usize) -> Option<bool> {
        let w = self.width();
        let is_blank = |u: u16| u == unit(' ') || u == unit('\t');
        // The common case, cheaply (this runs once per key passed over): the
        // last unit that is not blank nor a line end, and no `;` between
        // the line end before it and it.
        let mut p = to;
        while p >= from + w {
            match self.unit_at(p - w) {
                Some(u) if is_blank(u) || u == unit('\r') || u == unit('\n') => p -= w,
                _ => break,
            }
        }
        if p < from + w {
            return None;
        }
        if self.unit_at(p - w) == Some(unit('\\')) {
            return Some(true);
        }
        if let Some(o) = memchr::memrchr3(b';', b'\n', b'\r', &self.data()[from..p]) {
            let j = from + o;
            if self.data()[j] != b';' && self.is_unit(j, self.data()[j]) == Some(true) {
                return Some(false);
            }
        }
        let mut end = to;
        while end > from {
            let start = self.line_start(from, end);
            // The line is start..end, less its line end; its first and last
            // units after blanks.
            let mut i = start;
            while i < end && self.unit_at(i).is_some_and(is_blank) {
                i += w;
            }
            let mut last = end;
            while last > i {
                match self.unit_at(last - w) {
                    Some(u) if is_blank(u) || u == unit('\r') || u == unit('\n') => last -= w,
                    _ => break,
                }
            }
            if last > i && self.unit_at(i) != Some(unit(';')) {
                if self.unit_at(last - w) == Some(unit('\\')) {
                    return Some(true);
                }
                // A `\` can only be followed by a comment where there is a
                // `;` (a byte search: one inside a UTF-16 unit errs to yes).
                if memchr::memchr(b';', &self.data()[i..last]).is_none() {
                    return Some(false);
                }
                let mut j = i;
                while j < last {
                    if self.unit_at(j) == Some(unit('\\')) {
                        let mut k = j + w;
                        while k < last && self.unit_at(k).is_some_and(is_blank) {
                            k += w;
                        }
                        if k >= last || self.unit_at(k) == Some(unit(';')) {
                            return Some(true);
                        }
                    }
                    j += w;
                }
                return Some(false);
            }
            if start < from + w {
                break;
            }
            // On to the line before, less its line end (LF, CR or CR LF).
            end = start - w;
            if self.unit_at(end) == Some(unit('\n'))
                && end > from
                && self.unit_at(end - w) == Some(unit('\r'))
            {
                end -= w;
            }
        }
        None
    }

    /// Where the line that ends at `end` starts, no earlier than `from`: a
    /// byte search for the line end before it, kept to whole units.
    fn line_start(&self, from: usize, end: usize) -> usize {
        let mut to = end;
        while let Some(o) = memchr::memrchr2(b'\n', b'\r', &self.data()[from..to]) {
            let j = from + o;
            if self.is_unit(j, self.data()[j]) == Some(true) {
                return j + self.width();
            }
            to = j;
        }
        from
    }

    /// While passing over a key nobody reads: moves to the next line that
    /// starts (after blanks) with `[`, counting the lines passed. Returns
    /// false where the line-by-line path must decide (a key line a hex
    /// continuation might swallow, CR-only line ends, the end of the file).
    fn jump(&mut self) -> bool {
        let w = self.width();
        loop {
            let mut from = self.pos;
            let found = loop {
                // A plain byte search: a two-byte memmem needle would build a
                // searcher at every call, and this runs once per skipped key.
                let Some(o) = memchr::memchr(b'[', &self.data()[from..]) else {
                    break None;
                };
                let j = from + o;
                if self.is_unit(j, b'[') != Some(true) {
                    from = j + 1;
                    continue;
                }
                // First on its line, after blanks only?
                let mut k = j;
                let start = loop {
                    if k == self.pos {
                        break Some(k);
                    }
                    match self.unit_at(k - w) {
                        Some(u) if u == unit(' ') || u == unit('\t') => k -= w,
                        Some(u) if u == unit('\n') || u == unit('\r') => break Some(k),
                        _ => break None,
                    }
                };
                match start {
                    Some(k) => break Some(k),
                    None => from = j + w,
                }
            };
            match found {
                Some(start) => {
                    let before = self
                        .may_continue(self.pos, start)
                        .unwrap_or(self.tail_continues);
                    if before {
                        self.slow_lines = self.count_lines(self.pos, start).unwrap_or(0) + 1;
                        return false;
                    }
                    let Some(n) = self.count_lines(self.pos, start) else {
                        return false;
                    };
                    self.number += n;
                    self.pos = start;
                    self.tail_continues = false;
                    return true;
                }
                None => {
                    // No key line in what is read: pass over every whole line
                    // (to the last LF), then read on.
                    let last_lf = memchr::memrchr_iter(b'\n', &self.data()[self.pos..])
                        .map(|o| self.pos + o)
                        .find(|&i| self.is_unit(i, b'\n') == Some(true));
                    let Some(lf) = last_lf else { return false };
                    let end = lf + w;
                    let Some(n) = self.count_lines(self.pos, end) else {
                        return false;
                    };
                    self.tail_continues = self
                        .may_continue(self.pos, end)
                        .unwrap_or(self.tail_continues);
                    self.number += n;
                    self.pos = end;
                    if self.fill().is_none() {
                        return false;
                    }
                }
            }
        }
    }

    fn decode(&mut self, a: usize, b: usize) -> String {
        let (text, errors) = self.decode_raw(a, b);
        self.had_errors |= errors;
        text
    }

    fn decode_raw(&self, a: usize, b: usize) -> (String, bool) {
        let raw = &self.data()[a..b];
        let (text, errors) = match self.encoding {
            TextEncoding::Utf16Le => UTF_16LE.decode_without_bom_handling(raw),
            TextEncoding::Ansi(e) => e.decode_without_bom_handling(raw),
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8.decode_without_bom_handling(raw),
        };
        (text.into_owned(), errors)
    }
}

/// How far past the byte asked for a split is looked for.
const SPLIT_LOOK: usize = 4 << 20;
/// How long the lines a split looks at, on either side of it, may be.
const SPLIT_LINE: usize = 64 << 10;

/// Where a file may be cut for two readers: the start of a line, at or after
/// byte `near`, that plainly opens a key (`[root\path]`, ASCII, nothing
/// before or after it, a name regedit takes) and follows a line that leaves
/// no value open: not blank, no `;` (no comment, nothing after a `\`), and
/// no `\` at its end, with only blank lines between. Whatever came before,
/// a reading stands there outside any value, and the key line opens its
/// key: so what follows reads the same alone.
pub(super) fn split_point(bytes: &[u8], encoding: TextEncoding, near: usize) -> Option<usize> {
    let w = match encoding {
        TextEncoding::Utf16Le => 2,
        _ => 1,
    };
    let end = near.saturating_add(SPLIT_LOOK).min(bytes.len());
    // From the line end before `near`: a line may start right there.
    let mut from = near.saturating_sub(w).next_multiple_of(w);
    while from < end {
        let lf = from + memchr::memchr(b'\n', &bytes[from..end])?;
        from = lf + 1;
        // A UTF-16 file's units start at even offsets, after its BOM.
        if lf % w != 0 || unit_in(bytes, w, lf) != Some(unit('\n')) {
            continue;
        }
        if opens_key(bytes, w, lf + w) && leaves_no_value_open(bytes, w, lf) {
            return Some(lf + w);
        }
    }
    None
}

fn unit_in(bytes: &[u8], w: usize, i: usize) -> Option<u16> {
    match w {
        2 => bytes
            .get(i..i + 2)
            .map(|u| u16::from_le_bytes([u[0], u[1]])),
        _ => bytes.get(i).map(|&b| u16::from(b)),
    }
}

/// Whether the line at `start` is a key line that surely opens its key.
fn opens_key(bytes: &[u8], w: usize, start: usize) -> bool {
    let mut text = String::new();
    let mut i = start;
    loop {
        match unit_in(bytes, w, i) {
            Some(u) if u == unit('\r') || u == unit('\n') => break,
            Some(u) if u != 0 && u < 0x80 && text.len() < SPLIT_LINE => {
                text.push(char::from(u as u8));
            }
            _ => return false,
        }
        i += w;
    }
    let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return false;
    };
    if inner.starts_with(['-', ' ', '\t']) || inner.contains([']', '[']) {
        return false;
    }
    let mut parts = inner.trim_end_matches('\\').split('\\');
    if parts.next().and_then(parse_root).is_none() {
        return false;
    }
    let mut levels = 0;
    parts.filter(|p| !p.is_empty()).all(|p| {
        levels += 1;
        p.len() <= 255 && levels <= MAX_DEPTH
    })
}

/// Whether the lines before the line end at `lf` leave no value open (see
/// [`split_point`]).
fn leaves_no_value_open(bytes: &[u8], w: usize, lf: usize) -> bool {
    let lo = lf.saturating_sub(SPLIT_LINE);
    let mut i = lf;
    // Back over blank lines to the last unit of the last line with text.
    loop {
        if i < lo + w {
            return false;
        }
        i -= w;
        match unit_in(bytes, w, i) {
            Some(u) if [' ', '\t', '\r', '\n'].iter().any(|&c| u == unit(c)) => {}
            Some(u) if u == unit('\\') || u == unit(';') => return false,
            Some(_) => break,
            None => return false,
        }
    }
    // Back to that line's start: no `;` in it.
    loop {
        if i < lo + w {
            return false;
        }
        i -= w;
        match unit_in(bytes, w, i) {
            Some(u) if u == unit('\r') || u == unit('\n') => return true,
            Some(u) if u == unit(';') => return false,
            Some(_) => {}
            None => return false,
        }
    }
}

/// What a reader holds: its buffer, or what of its map counts as read.
fn held<'a>(buf: &'a [u8], map: &'a Option<Mapped<'_>>) -> &'a [u8] {
    match map {
        Some(m) => &m.bytes[..m.end],
        None => buf,
    }
}

const fn unit(c: char) -> u16 {
    c as u16
}

/// Where the first line of `body` (units of `w` bytes) holds a NUL, looking
/// no further than what is there.
fn first_line_nul(body: &[u8], w: usize) -> Option<usize> {
    for (i, u) in body.chunks_exact(w).enumerate() {
        let v = match *u {
            [lo, hi] => u16::from_le_bytes([lo, hi]),
            [b] => u16::from(b),
            _ => return None,
        };
        if v == unit('\r') || v == unit('\n') {
            return None;
        }
        if v == 0 {
            return Some(i * w);
        }
    }
    None
}

impl<R: Read> LineSource for ByteLines<'_, R> {
    fn next_line(&mut self) -> Option<(u32, String)> {
        loop {
            self.overlong = None;
            // Up to a key line a continuation may swallow, the parser reads
            // the lines itself: it follows continuations exactly, and says
            // nothing of a key nobody reads.
            if self.slow_lines == 0 && self.skip && !self.continuing && !self.parser_continuing {
                self.jump();
            }
            if self.slow_lines > 0 {
                self.slow_lines -= 1;
            }
            let (a, b) = self.next_raw()?;
            self.number += 1;
            let end = self.offset_of(b);
            let long_start = match &mut self.overlong {
                Some(o) => {
                    o.bytes = end - o.offset;
                    Some(o.start.clone())
                }
                None => None,
            };
            let first = match &long_start {
                // What is left of a line passed over is its end: judge it
                // by its start.
                Some(start) => start
                    .trim_start_matches([' ', '\t'])
                    .chars()
                    .next()
                    .map(|c| u16::try_from(u32::from(c)).unwrap_or(u16::MAX)),
                None => self.first_unit(a, b),
            };
            if let Some(start) = long_start {
                let key_line = first == Some(unit('['));
                if !self.skip || self.parser_continuing || (key_line && !self.continuing) {
                    // The parser decides (whether a key is kept needs its
                    // whole name, which is gone).
                    return Some((self.number, start));
                }
                // A line of a key nobody reads: followed as below, by the
                // start kept and the end still held.
                let hex_digit = first.is_some_and(|c| c < 128 && (c as u8).is_ascii_hexdigit());
                let value = first == Some(unit('"')) || first == Some(unit('@'));
                let ends_continued = self.last_unit(a, b) == Some(unit('\\'));
                self.continuing = match self.continuing {
                    // Blank and comment lines go on, as below.
                    true if first.is_none() || first == Some(unit(';')) => true,
                    true => ends_continued && hex_digit,
                    false => ends_continued && value && start.contains("hex"),
                };
                continue;
            }
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
            // Every other line goes to the parser: it follows hex
            // continuations exactly (a key line one swallows is dropped with
            // it) and says nothing of a key nobody reads. Runs of a skipped
            // key's lines are passed over above, by jumps, where that is safe.
            self.continuing = false;
            let text = self.decode(a, b);
            return Some((self.number, text));
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

    fn overlong(&self) -> Option<&Overlong> {
        self.overlong.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Op, ReadError, read, read_stream};
    use super::{BLOCK, ByteLines, LineSource, MAX_LINE};
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

    /// Bytes made on the fly: each part repeated, so a test can read a line
    /// of hundreds of MB without holding it.
    struct Made {
        /// Each part's text repeated to at least 64 KiB, and how many bytes
        /// of it are still to come.
        parts: std::collections::VecDeque<(Vec<u8>, usize)>,
        at: usize,
    }

    impl Read for Made {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((pattern, left)) = self.parts.front_mut() else {
                return Ok(0);
            };
            let take = (pattern.len() - self.at).min(buf.len()).min(*left);
            buf[..take].copy_from_slice(&pattern[self.at..self.at + take]);
            self.at = (self.at + take) % pattern.len();
            *left -= take;
            if *left == 0 {
                self.parts.pop_front();
                self.at = 0;
            }
            Ok(take)
        }
    }

    fn made(parts: &[(&str, usize)], wide: bool) -> Made {
        let enc = |t: &str| -> Vec<u8> {
            match wide {
                true => t.encode_utf16().flat_map(u16::to_le_bytes).collect(),
                false => t.as_bytes().to_vec(),
            }
        };
        let mut all: std::collections::VecDeque<(Vec<u8>, usize)> = parts
            .iter()
            .map(|(t, n)| {
                let one = enc(t);
                let copies = (65536 / one.len().max(1)).clamp(1, *n);
                (one.repeat(copies), one.len() * n)
            })
            .collect();
        if wide {
            all.push_front((vec![0xFF, 0xFE], 2));
        }
        Made { parts: all, at: 0 }
    }

    /// 20 MiB lines (a value, a key, a hex continuation), each followed by
    /// lines that must still be read: passed over with a diagnostic each,
    /// holding at most about one cap of bytes, in both encodings, and the
    /// same with a filter that drops the key they stand in.
    #[test]
    fn a_line_over_the_cap_is_passed_over_and_reading_goes_on() {
        let big = 20 << 20;
        let parts: Vec<(&str, usize)> = vec![
            (
                "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\A]\r\n\"v\"=dword:1\r\n\"big\"=\"",
                1,
            ),
            ("x", big),
            ("\"\r\n\"w\"=dword:2\r\n\"h\"=hex:01,\\\r\n  ", 1),
            ("02,", big / 3),
            ("\r\n\"after\"=dword:4\r\n[HKEY_CURRENT_USER\\", 1),
            ("k", big),
            (
                "]\r\n\"lost\"=dword:5\r\n[HKEY_CURRENT_USER\\B]\r\n\"z\"=dword:3\r\n",
                1,
            ),
        ];
        for wide in [false, true] {
            let mut lines = ByteLines::open(made(&parts, wide), None, None).unwrap();
            let mut peak = 0;
            let mut long = Vec::new();
            while let Some((n, _)) = lines.next_line() {
                peak = peak.max(lines.buf.capacity());
                if let Some(o) = lines.overlong() {
                    long.push((n, o.bytes));
                }
            }
            assert!(peak < MAX_LINE * 2 + 4 * BLOCK, "{peak} bytes held");
            let w = if wide { 2 } else { 1 };
            assert_eq!(
                long,
                [
                    (5, (big as u64 + 8) * w),
                    (8, (big as u64 / 3 * 3 + 2) * w),
                    (10, (big as u64 + 20) * w)
                ]
            );
            let file = read_stream(made(&parts, wide), 0, None, None).unwrap();
            let ops: Vec<String> = file
                .ops()
                .iter()
                .map(|op| match op {
                    Op::SetValue { name, .. } => format!("set {name}"),
                    Op::Skipped { name, .. } => format!("skipped {name}"),
                    Op::CreateKey { path, .. } => format!("key {}", path[1]),
                    other => format!("{other:?}"),
                })
                .collect();
            assert_eq!(
                ops,
                [
                    "key A",
                    "set v",
                    "skipped big",
                    "set w",
                    "skipped h",
                    "set after",
                    "key B",
                    "set z"
                ]
            );
            let skipped: Vec<u32> = file
                .diagnostics()
                .iter()
                .filter(|d| d.code == "skipped-line")
                .map(|d| d.origin.unwrap().line)
                .collect();
            assert_eq!(skipped, [5, 7, 8, 10, 11], "{:?}", file.diagnostics());
            // With A and B not kept, the long lines are passed over silently
            // like the rest of them; the key line still closes A.
            let keep = |p: &[&str]| p.len() < 2;
            let kept = read_stream(made(&parts, wide), 0, None, Some(&keep)).unwrap();
            assert!(kept.ops().is_empty(), "{:?}", kept.ops());
        }
    }

    /// A line that long holding a NUL is binary data: reading stops there,
    /// with the offset, rather than go through gigabytes of zeros.
    #[test]
    fn a_long_run_of_nuls_is_not_a_reg_file() {
        let parts = [("REGEDIT4\r\n\r\n", 1), ("\0", 40 << 20), ("\r\n", 1)];
        let err = read_stream(made(&parts, false), 0, None, None).unwrap_err();
        assert!(
            matches!(err, ReadError::NotText { offset: 12, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("not a .reg"), "{err}");
        // A short run is only a line regedit skips.
        let parts = [("REGEDIT4\r\n\0\0\0\r\n", 1)];
        let file = read_stream(made(&parts, false), 0, None, None).unwrap();
        assert_eq!(file.diagnostics()[0].code, "skipped-line");
    }

    /// The header is judged on its first bytes: a NUL there, or no line end
    /// in the first 4 KiB, and nothing more is read (the reader below never
    /// ends, as /dev/zero does not).
    #[test]
    fn the_header_is_judged_without_reading_on() {
        struct Endless(u8);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(self.0);
                Ok(buf.len())
            }
        }
        let err = read_stream(Endless(0), 0, None, None).unwrap_err();
        assert!(matches!(err, ReadError::NotText { offset: 0, .. }), "{err}");
        let err = read_stream(Endless(b'A'), 0, None, None).unwrap_err();
        assert!(
            err.to_string().contains("no end in its first 4096 bytes"),
            "{err}"
        );
        let wide = [0xFF, 0xFE, b'R', 0, 0, 0];
        let err = read_stream(&wide[..], 0, None, None).unwrap_err();
        assert!(matches!(err, ReadError::NotText { offset: 4, .. }), "{err}");
        // `REGEDIT` and anything after it: regedit accepts it and imports
        // nothing, however long the line.
        let fuzzy = read_stream(
            made(&[("REGEDIT", 1), ("5", 10 << 20), ("\r\n", 1)], false),
            0,
            None,
            None,
        )
        .unwrap();
        assert_eq!(fuzzy.version(), super::super::Version::Fuzzy);
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

    /// A hex value in an unkept key continues with `\`, then comment and
    /// blank lines (regedit passes over them inside a continuation), then a
    /// kept key's line: regedit swallows that line, so a jump to it must not
    /// open it. Also with the comment after the `\` on the value's line.
    #[test]
    fn a_key_line_swallowed_past_comments_is_swallowed_with_a_filter_too() {
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        let gaps = ["\r\n; note\r\n\r\n", " ; note\r\n", "\r\n  ;x\r\n;y\r\n"];
        // Also with CR alone ending lines (where no jump is made) and with
        // the value's hex broken (then nothing is swallowed).
        let texts = gaps.iter().flat_map(|gap| {
            let crlf = format!(
                "Windows Registry Editor Version 5.00\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\K]\r\n\"a\"=hex:01,\\{gap}[HKEY_LOCAL_MACHINE\\S\\SCHANNEL]\r\n\"b\"=dword:1\r\n"
            );
            let broken = crlf.replace("hex:01,", "hex:01,0");
            let cr = crlf.replace("\r\n", "\r");
            [crlf, broken, cr]
        });
        for text in texts {
            let gap = &text;
            for bytes in [utf16(&text), text.as_bytes().to_vec()] {
                let all = read(&bytes, 0, None).unwrap();
                let kept = read_stream(&bytes[..], 0, None, Some(&keep)).unwrap();
                let in_kept: Vec<&Op> = all
                    .ops()
                    .iter()
                    .filter(|op| {
                        let parts: Vec<&str> = op.key().iter().map(String::as_str).collect();
                        keep(&parts)
                    })
                    .collect();
                let got: Vec<&Op> = kept.ops().iter().collect();
                assert_eq!(in_kept, got, "gap {gap:?}: {:?}", all.ops());
            }
        }
    }

    /// Many keys to pass over, with what could trip a jump to the next key
    /// line, then a kept key whose diagnostics must keep their line numbers.
    fn jumpy() -> String {
        let mut t = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
        for i in 0..400 {
            t.push_str(&format!("[HKEY_LOCAL_MACHINE\\SOFTWARE\\K{i}]\r\n\"s\"=\"a [bracket] in data\"\r\n\"h\"=hex:01,02,\\\r\n  03,04\r\n\r\n"));
            if i % 50 == 7 {
                // A key line a continuation swallows: regedit drops it, so
                // the value below lands in the kept key above it, if any.
                t.push_str("[HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\A]\r\n\"x\"=hex:01,\\\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Gone]\r\n\"y\"=dword:2\r\n");
            }
            if i % 60 == 3 {
                t.push_str("   [HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\Indented]\r\n\"z\"=dword:3\r\n");
            }
            if i == 300 {
                t.push_str("[HKEY_LOCAL_MACHINE\\SOFTWARE\\Mac]\r\"m\"=dword:1\r[HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\CR]\r\"c\"=dword:4\r");
            }
        }
        t.push_str(
            "[HKEY_LOCAL_MACHINE\\S\\SCHANNEL\\Last]\r\n\"bad\"=DWORD:1\r\n\"ok\"=dword:5\r\n",
        );
        t
    }

    #[test]
    fn jumping_over_unkept_keys_is_exact() {
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        let text = jumpy();
        for bytes in [utf16(&text), text.as_bytes().to_vec()] {
            let all = read(&bytes, 0, None).unwrap();
            let in_kept = |op: &&Op| {
                let parts: Vec<&str> = op.key().iter().map(String::as_str).collect();
                keep(&parts) || matches!(op, Op::DeleteKey { .. })
            };
            let want: Vec<&Op> = all.ops().iter().filter(in_kept).collect();
            // Every diagnostic here is about a kept key (the swallowed line,
            // the upper-case DWORD), so all must come through, at their lines.
            let want_lines: Vec<u32> = all
                .diagnostics()
                .iter()
                .filter_map(|d| d.origin.map(|o| o.line))
                .collect();
            assert!(want_lines.len() >= 4, "{want_lines:?}");
            for trickle in [false, true] {
                let kept = match trickle {
                    true => read_stream(
                        Trickle {
                            bytes: &bytes,
                            step: 2,
                        },
                        0,
                        None,
                        Some(&keep),
                    )
                    .unwrap(),
                    false => read_stream(&bytes[..], 0, None, Some(&keep)).unwrap(),
                };
                let got: Vec<&Op> = kept.ops().iter().collect();
                assert_eq!(want, got, "trickle {trickle}");
                let lines: Vec<u32> = kept
                    .diagnostics()
                    .iter()
                    .filter_map(|d| d.origin.map(|o| o.line))
                    .collect();
                assert_eq!(lines, want_lines, "diagnostic lines, trickle {trickle}");
            }
        }
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

    /// A file read in place (mapped) reads as the same file streamed: ops,
    /// diagnostics with their lines, and errors, with and without a filter.
    #[test]
    fn read_in_place_as_streamed() {
        use super::super::read_in_place;
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        let text = jumpy();
        let mut files = vec![
            utf16(TEXT),
            TEXT.as_bytes().to_vec(),
            utf16(TEXT.trim_end()),
            utf16(&text),
            text.as_bytes().to_vec(),
            utf16(SWALLOW),
            utf16(TEXT)[..utf16(TEXT).len() - 1].to_vec(),
            b"REGEDIT4\r\n\0\0\0\r\n".to_vec(),
            Vec::new(),
        ];
        // Longer than a step of the map, with lines across its steps.
        files.push(utf16(&text.repeat(40)));
        // Lines over the cap, as in the test above: passed over alike.
        let big = 20 << 20;
        let parts: Vec<(&str, usize)> = vec![
            (
                "Windows Registry Editor Version 5.00\r\n[HKEY_CURRENT_USER\\A]\r\n\"big\"=\"",
                1,
            ),
            ("x", big),
            ("\"\r\n\"h\"=hex:01,\\\r\n  ", 1),
            ("02,", big / 3),
            ("\r\n[HKEY_CURRENT_USER\\", 1),
            ("k", big),
            (
                "]\r\n\"lost\"=dword:5\r\n[HKEY_CURRENT_USER\\B]\r\n\"z\"=dword:3\r\n",
                1,
            ),
        ];
        for wide in [false, true] {
            let mut bytes = Vec::new();
            made(&parts, wide).read_to_end(&mut bytes).unwrap();
            files.push(bytes);
        }
        files.push([b"REGEDIT4\r\n\r\n".as_slice(), &[0; 40 << 20]].concat());
        for sample in ["compliant.reg", "translated/zh-TW.reg", "matrix.reg"] {
            files.push(
                std::fs::read(format!("{}/samples/{sample}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
            );
        }
        let same = |a: Result<super::super::RegFile, ReadError>,
                    b: Result<super::super::RegFile, ReadError>| {
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.ops(), b.ops());
                    assert_eq!(a.diagnostics(), b.diagnostics());
                    assert_eq!(a.encoding, b.encoding);
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{:?} / {:?}", a.map(|_| ()), b.map(|_| ())),
            }
        };
        for bytes in &files {
            for filter in [None, Some(&keep as super::super::Keep<'_>)] {
                same(
                    read_stream(&bytes[..], 0, None, filter),
                    read_in_place(bytes, None, 0, None, filter),
                );
            }
        }
    }

    /// A mapped file longer than what is given back at a time reads as
    /// streamed (pages given back are read again only if touched again).
    #[test]
    fn a_mapped_file_gives_pages_back_and_reads_the_same() {
        let keep = |p: &[&str]| p.iter().any(|x| name::eq(x, "SCHANNEL"));
        let one = jumpy();
        let bytes = utf16(&one.repeat(3 * super::RELEASE / (2 * one.len()) + 1));
        assert!(bytes.len() > 3 * super::RELEASE);
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &bytes).unwrap();
        // SAFETY: a private temporary file nobody else writes.
        let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
        let streamed = read_stream(&bytes[..], 0, None, Some(&keep)).unwrap();
        let mapped = super::super::read_mapped(&map, 0, None, Some(&keep)).unwrap();
        assert_eq!(streamed.ops(), mapped.ops());
        assert_eq!(streamed.diagnostics(), mapped.diagnostics());
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
