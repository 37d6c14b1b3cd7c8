//! The `.reg` grammar, as regedit and `reg import` apply it.
//!
//! The reader follows the line state machine of Wine's `reg import` (whose
//! conformance tests run on Windows): a bad line is skipped, not fatal, and the
//! rest of the file still applies. Every skip becomes a diagnostic with its
//! line and column, because a skipped line is the silent failure users hit.

use encoding_rs::Encoding;

use crate::registry::name::clip;
use crate::registry::value::{REG_BINARY, REG_EXPAND_SZ, REG_MULTI_SZ, REG_SZ};
use crate::registry::{Diagnostic, Origin, Severity, Value};

use super::ReadError;
use super::roots::parse_root;

pub const HEADER_V5: &str = "Windows Registry Editor Version 5.00";
pub const HEADER_V4: &str = "REGEDIT4";
const HEADER_WIN31: &str = "REGEDIT";
/// How many names below its root a key may have: "a registry tree can be
/// 512 levels deep" (Microsoft, Registry element size limits). Deeper key
/// lines cannot be created, and no tree built from a file is deeper.
pub const MAX_DEPTH: usize = 512;

/// The header a file starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `REGEDIT`: Windows 3.1, only `HKEY_CLASSES_ROOT\path = value` lines.
    Win31,
    Regedit4,
    Regedit5,
    /// `REGEDIT` followed by anything else: accepted, but nothing is imported.
    Fuzzy,
}

/// One change a file makes, in file order, with the key path spelled out.
/// Paths start with the long root name (`HKEY_LOCAL_MACHINE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    CreateKey {
        path: Vec<String>,
        at: Origin,
    },
    DeleteKey {
        path: Vec<String>,
        at: Origin,
    },
    SetValue {
        key: Vec<String>,
        name: String,
        value: Value,
        at: Origin,
    },
    DeleteValue {
        key: Vec<String>,
        name: String,
        at: Origin,
    },
    /// A value line regedit skips (its data is malformed): nothing changes,
    /// but what it meant to set is kept for the audit to explain.
    Skipped {
        key: Vec<String>,
        name: String,
        at: Origin,
    },
}

impl Op {
    pub fn key(&self) -> &[String] {
        match self {
            Op::CreateKey { path, .. } | Op::DeleteKey { path, .. } => path,
            Op::SetValue { key, .. } | Op::DeleteValue { key, .. } | Op::Skipped { key, .. } => key,
        }
    }

    pub fn key_mut(&mut self) -> &mut Vec<String> {
        match self {
            Op::CreateKey { path, .. } | Op::DeleteKey { path, .. } => path,
            Op::SetValue { key, .. } | Op::DeleteValue { key, .. } | Op::Skipped { key, .. } => key,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Document {
    pub version: Version,
    pub ops: Vec<Op>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses decoded text. `ansi` is the code page of a file without a BOM
/// (`hex(2)`, `hex(7)` and `hex(1)` bytes in such files are ANSI text that
/// regedit converts to UTF-16); `None` for Unicode files.
pub fn parse(
    text: &str,
    source: usize,
    ansi: Option<&'static Encoding>,
) -> Result<Document, ReadError> {
    parse_from(
        &mut TextLines {
            rest: text,
            number: 0,
        },
        source,
        ansi,
        None,
    )
}

/// Which keys to keep: the others' values are not read (a whole `HKLM`
/// export is hundreds of MB; an audit needs a few keys of it). `Sync`: a
/// large mapped file is read by two threads at once.
pub type Keep<'a> = &'a (dyn Fn(&[&str]) -> bool + Sync);

/// Parses lines from `lines`, keeping only the keys `keep` accepts (all
/// when `None`; key deletions are always kept, as they may remove kept keys).
pub fn parse_from(
    lines: &mut dyn LineSource,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Option<Keep<'_>>,
) -> Result<Document, ReadError> {
    let (version, first) = header(lines)?;
    let part = body(lines, source, ansi, keep, version, &first)?;
    Ok(finish(version, part))
}

/// What the lines of a file, or of a part of one, made: ops and
/// diagnostics numbered from the part's first line.
pub(super) struct Part {
    pub ops: Vec<Op>,
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics past `MAX_DIAGNOSTICS`, counted but not kept.
    pub unlisted: usize,
    /// About how many bytes `ops` takes.
    pub held: usize,
}

impl Part {
    /// `next`, read from the lines after this part's `lines` lines, added
    /// after it: what one reading of both parts would have made.
    pub fn append(&mut self, mut next: Part, lines: u32) {
        for op in &mut next.ops {
            let at = match op {
                Op::CreateKey { at, .. }
                | Op::DeleteKey { at, .. }
                | Op::SetValue { at, .. }
                | Op::DeleteValue { at, .. }
                | Op::Skipped { at, .. } => at,
            };
            at.line = at.line.saturating_add(lines);
        }
        for d in &mut next.diagnostics {
            if let Some(at) = &mut d.origin {
                at.line = at.line.saturating_add(lines);
            }
        }
        self.ops.append(&mut next.ops);
        let room = MAX_DIAGNOSTICS.saturating_sub(self.diagnostics.len());
        self.unlisted += next.unlisted + next.diagnostics.len().saturating_sub(room);
        next.diagnostics.truncate(room);
        self.diagnostics.append(&mut next.diagnostics);
        self.held += next.held;
    }

    /// Whether `keep`ing reads would refuse this much (`MAX_HELD`).
    pub fn too_much(&self) -> bool {
        self.held > MAX_HELD
    }
}

/// The header line: the file's version, and the line itself.
pub(super) fn header(lines: &mut dyn LineSource) -> Result<(Version, String), ReadError> {
    let (_, first) = lines.next_line().unwrap_or((1, String::new()));
    let version = match lines.overlong() {
        // Only the start of the line was read: enough to tell the one header
        // that may go on (a fuzzy one: regedit then imports nothing).
        Some(o) if !first.trim_start_matches(WS).starts_with(HEADER_WIN31) => {
            let shown: String = first
                .trim_start_matches(WS)
                .chars()
                .take(48)
                .flat_map(char::escape_debug)
                .collect();
            return Err(ReadError::NoHeader {
                reason: format!(
                    "the first line has no end in its first {} bytes (it starts \"{shown}\")",
                    o.limit
                ),
            });
        }
        _ => parse_header(&first)?,
    };
    Ok((version, first))
}

/// The lines after the header (or the lines of a part of the file after
/// it, which must start with a key line that opens a key), parsed.
pub(super) fn body(
    lines: &mut dyn LineSource,
    source: usize,
    ansi: Option<&'static Encoding>,
    keep: Option<Keep<'_>>,
    version: Version,
    first: &str,
) -> Result<Part, ReadError> {
    let mut parser = Parser {
        source,
        ansi,
        key: None,
        ops: Vec::new(),
        diagnostics: Vec::new(),
        keep,
        kept: true,
        unlisted: 0,
        held: 0,
        counted: 0,
    };
    match version {
        Version::Regedit4 | Version::Regedit5 => {
            while let Some((n, line)) = lines.next_line() {
                parser.line(n, &line, lines);
                parser.within_budget(n)?;
            }
        }
        Version::Win31 => {
            while let Some((n, line)) = lines.next_line() {
                parser.win31_line(n, &line);
                parser.within_budget(n)?;
            }
        }
        Version::Fuzzy => parser.push_diag(Diagnostic {
            code: "fuzzy-header",
            severity: Severity::Error,
            message: format!(
                "the header `{}` is not one regedit knows: it accepts the file but imports nothing from it",
                first.trim()
            ),
            origin: Some(Origin { source, line: 1, column: 1 }),
            suggestion: Some(HEADER_V5.to_owned()),
        }),
    }
    Ok(Part {
        ops: parser.ops,
        diagnostics: parser.diagnostics,
        unlisted: parser.unlisted,
        held: parser.held,
    })
}

/// The document the lines made.
pub(super) fn finish(version: Version, mut part: Part) -> Document {
    if part.unlisted > 0 {
        part.diagnostics.push(Diagnostic {
            code: "more-diagnostics",
            severity: Severity::Warning,
            message: format!(
                "{} more notes about lines of this file (lines regedit skips, or warns about) are not listed: only the first {MAX_DIAGNOSTICS} are",
                part.unlisted
            ),
            origin: None,
            suggestion: None,
        });
    }
    Document {
        version,
        ops: part.ops,
        diagnostics: part.diagnostics,
    }
}

fn parse_header(first: &str) -> Result<Version, ReadError> {
    let s = first.trim_start_matches([' ', '\t']);
    match s {
        HEADER_V5 => return Ok(Version::Regedit5),
        HEADER_V4 => return Ok(Version::Regedit4),
        HEADER_WIN31 => return Ok(Version::Win31),
        _ => {}
    }
    if s.starts_with(HEADER_WIN31) {
        return Ok(Version::Fuzzy);
    }
    let near = s.trim_end();
    let reason = if near == HEADER_V5 || near == HEADER_V4 {
        "the header has trailing characters after it, and regedit then imports nothing".into()
    } else if near.eq_ignore_ascii_case(HEADER_V5) || near.eq_ignore_ascii_case(HEADER_V4) {
        "the header's letter case differs, and regedit then imports nothing".into()
    } else if s.is_empty() {
        "the first line is empty; the header must be the first line".into()
    } else {
        let shown: String = s.chars().take(48).flat_map(char::escape_debug).collect();
        format!("the first line is \"{shown}\"")
    };
    Err(ReadError::NoHeader { reason })
}

/// Where the parser gets its lines: the text of a small file, or a stream.
pub trait LineSource {
    /// The next line, without its end, and its 1-based number. Lines end at
    /// `\r\n`, `\r` or `\n`, as in regedit.
    fn next_line(&mut self) -> Option<(u32, String)>;

    /// Told `true` when the open key is one the caller does not keep: a
    /// source may then pass over its value lines (and their continuations)
    /// without decoding them, up to the next key line.
    fn skip_values(&mut self, _skip: bool) {}

    /// True once after the source passed over a key line its caller does not
    /// keep: that key is now the open one, and nothing of it is to be read.
    fn take_dropped_key(&mut self) -> bool {
        false
    }

    /// Told `true` while the parser reads a value's continuation lines: a
    /// key line there is data to regedit (and swallowed), so it must come
    /// through as it is.
    fn in_continuation(&mut self, _on: bool) {}

    /// Set when the line just returned was too long to hold: it was passed
    /// over, and the text returned is only its start.
    fn overlong(&self) -> Option<&Overlong> {
        None
    }
}

/// A line too long to hold in memory, passed over unread.
#[derive(Clone, Debug)]
pub struct Overlong {
    /// The file offset where it starts.
    pub offset: u64,
    /// Its length in bytes, without its line end.
    pub bytes: u64,
    /// The most a line may have.
    pub limit: usize,
    /// Its first characters.
    pub start: String,
}

impl Overlong {
    fn why(&self) -> String {
        format!(
            "it is {} bytes long, more than the {} MiB a line may have here, so it was passed over",
            self.bytes,
            self.limit >> 20
        )
    }
}

/// The lines of text in memory.
struct TextLines<'a> {
    rest: &'a str,
    number: u32,
}

impl LineSource for TextLines<'_> {
    fn next_line(&mut self) -> Option<(u32, String)> {
        if self.rest.is_empty() {
            return None;
        }
        self.number += 1;
        let end = self.rest.find(['\r', '\n']).unwrap_or(self.rest.len());
        let line = &self.rest[..end];
        let tail = &self.rest[end..];
        self.rest = tail
            .strip_prefix("\r\n")
            .or_else(|| tail.strip_prefix('\r'))
            .or_else(|| tail.strip_prefix('\n'))
            .unwrap_or(tail);
        Some((self.number, line.to_owned()))
    }
}

struct Parser<'a> {
    source: usize,
    ansi: Option<&'static Encoding>,
    /// The open key; `None` after `[-key]` or a key line that failed, when
    /// value lines are dropped.
    key: Option<Vec<String>>,
    ops: Vec<Op>,
    diagnostics: Vec<Diagnostic>,
    keep: Option<Keep<'a>>,
    /// False while the open key is one `keep` rejects: its lines change and
    /// report nothing.
    kept: bool,
    /// Diagnostics past `MAX_DIAGNOSTICS`, counted but not kept.
    unlisted: usize,
    /// About how many bytes `ops` holds, up to `ops[..counted]`.
    held: usize,
    counted: usize,
}

/// The most diagnostics kept for one file: each skipped line of a file of
/// millions of garbage lines would otherwise be held. The rest are counted.
const MAX_DIAGNOSTICS: usize = 10_000;
/// The largest hex value kept. Continuation lines can go on without end,
/// and Microsoft advises values under 1 MB; a larger one is a skipped line.
const MAX_VALUE: usize = 16 << 20;
/// A suggested line longer than this is not kept (nobody pastes it back).
const MAX_SUGGESTION: usize = 4 << 10;
/// The most memory the changes kept from one file may take when the caller
/// keeps only some keys (an audit: real exports hold a few KB of them), so a
/// file of endless kept keys or values is refused, not read until memory
/// runs out. Reads of whole files (`keep` is `None`) have no such bound.
const MAX_HELD: usize = 64 << 20;

/// About how many bytes an op takes in memory.
fn op_size(op: &Op) -> usize {
    // A `String` is 24 bytes, and its bytes a heap block of at least 32.
    let path: usize = op.key().iter().map(|p| p.len().max(8) + 48).sum();
    let data = match op {
        Op::SetValue { name, value, .. } => name.len() + value.data.len(),
        Op::DeleteValue { name, .. } | Op::Skipped { name, .. } => name.len(),
        Op::CreateKey { .. } | Op::DeleteKey { .. } => 0,
    };
    96 + path + data
}

/// Why a value line was skipped, and where in the line.
struct Skip {
    at: usize,
    why: String,
}

fn skip(at: usize, why: impl Into<String>) -> Skip {
    Skip {
        at,
        why: why.into(),
    }
}

/// A line regedit skipped: its number, text, and why.
type Skipped = (u32, String, Skip);

enum Data {
    Set(Value),
    Delete,
}

const WS: [char; 2] = [' ', '\t'];

fn column(line: &str, byte: usize) -> u32 {
    let byte = byte.min(line.len());
    let chars = line.char_indices().take_while(|(i, _)| *i < byte).count();
    u32::try_from(chars + 1).unwrap_or(u32::MAX)
}

impl Parser<'_> {
    fn origin(&self, line: u32, column: u32) -> Origin {
        Origin {
            source: self.source,
            line,
            column,
        }
    }

    /// Keeps a diagnostic, unless `MAX_DIAGNOSTICS` are kept already.
    fn push_diag(&mut self, mut d: Diagnostic) {
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.unlisted += 1;
            return;
        }
        if d.suggestion
            .as_ref()
            .is_some_and(|s| s.len() > MAX_SUGGESTION)
        {
            d.suggestion = None;
        }
        self.diagnostics.push(d);
    }

    /// Counts the ops added since the last call against `MAX_HELD`.
    fn within_budget(&mut self, n: u32) -> Result<(), ReadError> {
        if self.keep.is_none() {
            return Ok(());
        }
        self.held += self.ops[self.counted..].iter().map(op_size).sum::<usize>();
        self.counted = self.ops.len();
        match self.held > MAX_HELD {
            true => Err(ReadError::TooMuchKept {
                line: n,
                limit: MAX_HELD,
            }),
            false => Ok(()),
        }
    }

    fn note(&mut self, code: &'static str, severity: Severity, at: Origin, message: String) {
        self.push_diag(Diagnostic {
            code,
            severity,
            message,
            origin: Some(at),
            suggestion: None,
        });
    }

    fn skipped(&mut self, n: u32, line: &str, s: Skip) {
        if !self.kept {
            return;
        }
        let at = self.origin(n, column(line, s.at));
        self.push_diag(Diagnostic {
            code: "skipped-line",
            severity: Severity::Warning,
            message: format!("regedit skips this line: {}", s.why),
            origin: Some(at),
            suggestion: super::suggest::line(line),
        });
    }

    fn line(&mut self, n: u32, line: &str, more: &mut dyn LineSource) {
        if more.take_dropped_key() {
            self.key = None;
            self.kept = false;
        }
        if let Some(o) = more.overlong() {
            let o = o.clone();
            return self.overlong_line(n, line, &o, more);
        }
        let start = line.len() - line.trim_start_matches(WS).len();
        let body = &line[start..];
        match body.chars().next() {
            None | Some(';') => {}
            Some('[') => {
                let before = self.key.clone();
                self.key_line(n, line, start + 1);
                // A key line regedit cannot read leaves the open key, and
                // whether it is kept, as they were.
                if self.key == before && !line[start..].starts_with("[-") {
                    more.skip_values(!self.kept);
                    return;
                }
                self.kept = match (&self.key, self.keep) {
                    (Some(k), Some(keep)) => {
                        keep(&k.iter().map(String::as_str).collect::<Vec<_>>())
                    }
                    _ => true,
                };
                more.skip_values(!self.kept);
            }
            Some('@') | Some('"') => self.value_line(n, line, start, more),
            Some(_) => self.skipped(
                n,
                line,
                skip(
                    start,
                    "it is not a [key], a \"value\"=data line or a ; comment",
                ),
            ),
        }
    }

    /// A line passed over for its length; `start` is its beginning.
    fn overlong_line(&mut self, n: u32, start: &str, o: &Overlong, more: &mut dyn LineSource) {
        let at = start.len() - start.trim_start_matches(WS).len();
        let mut why = o.why();
        match start[at..].chars().next() {
            // A comment: nothing is lost.
            Some(';') => return,
            // No key name is that long (255 characters, 512 levels), so
            // regedit fails the key, and the values below go nowhere; but
            // `[ ` never closes the open key.
            Some('[') if !start[at + 1..].starts_with(WS) => {
                self.key = None;
                self.kept = true;
                more.skip_values(false);
                why.push_str("; no key name is that long, so the values below it are dropped");
            }
            Some('"' | '@') => {
                // The name, when its start holds it, is what the audit explains.
                let name = parse_name(start, at, &mut |_, _| {});
                if let (Ok((name, _)), Some(key), true) = (name, self.key.clone(), self.kept) {
                    let at = self.origin(n, column(start, at));
                    self.ops.push(Op::Skipped { key, name, at });
                }
            }
            _ => {}
        }
        if self.kept {
            let shown: String = start[at..].chars().take(48).collect();
            let at = self.origin(n, column(start, at));
            self.push_diag(Diagnostic {
                code: "skipped-line",
                severity: Severity::Warning,
                message: format!("this line (`{shown}…`) was not read: {why}"),
                origin: Some(at),
                suggestion: None,
            });
        }
    }

    /// `[path]` or `[-path]`; `open` is the byte after `[`.
    fn key_line(&mut self, n: u32, line: &str, open: usize) {
        let inner = &line[open..];
        // regedit drops a key line it cannot read without closing the key
        // that is open, so the values below it still land in that key.
        if inner.starts_with(WS) {
            return self.skipped(
                n,
                line,
                skip(
                    open,
                    "a key name cannot start with a blank; the values below it still go to the key opened before",
                ),
            );
        }
        let Some(close) = inner.rfind(']') else {
            return self.skipped(
                n,
                line,
                skip(
                    line.len(),
                    "the key name has no closing ]; the values below it still go to the key opened before",
                ),
            );
        };
        let after = inner[close + 1..].trim_matches(WS);
        if !after.is_empty() {
            let at = self.origin(n, column(line, open + close + 1));
            self.note(
                "ignored-text",
                Severity::Warning,
                at,
                format!("regedit ignores the text after `]`: {}", clip(after, 64)),
            );
        }
        let mut name = &inner[..close];
        let delete = name.starts_with('-');
        if delete {
            // Unlike `[ key]`, any `[-...]` line closes the open key first,
            // even one whose name regedit then cannot use.
            self.key = None;
            name = &name[1..];
            if name.starts_with(WS) {
                return self.skipped(
                    n,
                    line,
                    skip(
                        open + 1,
                        "a blank follows `[-`, so nothing is deleted, and the values below it are dropped",
                    ),
                );
            }
        }
        let name_at = open + usize::from(delete);
        // A trailing backslash is dropped; empty parts (`a\\b`) are skipped by
        // RegCreateKeyEx.
        let mut parts = name.trim_end_matches('\\').split('\\');
        let root_text = parts.next().unwrap_or_default();
        // Counted before anything is copied: a 16 MiB line can name millions.
        let levels = parts.clone().filter(|p| !p.is_empty()).count();
        let rest: Vec<String> = match levels > MAX_DEPTH {
            true => Vec::new(),
            false => parts.filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        };
        let Some((root, short)) = parse_root(root_text) else {
            self.key = None;
            let why = if root_text.is_empty() {
                "the key has no root (HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, ...)".to_owned()
            } else {
                format!(
                    "`{}` is not a registry root, so the values below it are dropped too",
                    clip(root_text, 64)
                )
            };
            return self.skipped(n, line, skip(name_at, why));
        };
        if short {
            let at = self.origin(n, column(line, name_at));
            self.push_diag(Diagnostic {
                code: "short-root",
                severity: Severity::Warning,
                message: format!(
                    "`{root_text}` is a short root name: `reg import` accepts it, but regedit refuses the key and everything below it; write `{}`",
                    root.long_name()
                ),
                origin: Some(at),
                suggestion: Some(line.replacen(root_text, root.long_name(), 1)),
            });
        }
        if let Some(long) = rest.iter().find(|p| p.encode_utf16().count() > 255) {
            self.key = None;
            let why = format!(
                "the key name `{}` is longer than 255 characters",
                clip(long, 32)
            );
            return self.skipped(n, line, skip(name_at, why));
        }
        if levels > MAX_DEPTH {
            self.key = None;
            let why = format!(
                "the key is {levels} levels deep, and Windows allows at most {MAX_DEPTH}, so the values below it are dropped too"
            );
            return self.skipped(n, line, skip(name_at, why));
        }
        let mut path = vec![root.long_name().to_owned()];
        path.extend(rest);
        let at = self.origin(n, column(line, name_at));
        if delete {
            if path.len() == 1 {
                return self.skipped(n, line, skip(name_at, "a whole root cannot be deleted"));
            }
            self.ops.push(Op::DeleteKey { path, at });
        } else {
            self.key = Some(path.clone());
            if self
                .keep
                .is_none_or(|keep| keep(&path.iter().map(String::as_str).collect::<Vec<_>>()))
            {
                self.ops.push(Op::CreateKey {
                    path: path.clone(),
                    at,
                });
                // A value written on the key's line (`[key]"name"=...`) is
                // ignored with the rest of it: the audit says where it was meant.
                let tail = &inner[close + 1..];
                let text = tail.trim_start_matches(WS);
                let start = open + close + 1 + (tail.len() - text.len());
                let named = text.starts_with(['"', '@']);
                if let Some(Ok((name, _))) = named.then(|| parse_name(line, start, &mut |_, _| {}))
                {
                    let at = self.origin(n, column(line, start));
                    self.ops.push(Op::Skipped {
                        key: path,
                        name,
                        at,
                    });
                }
            }
        }
    }

    fn value_line(&mut self, n: u32, line: &str, start: usize, more: &mut dyn LineSource) {
        let (mut escapes, mut extra) = (Vec::new(), 0);
        let parsed = parse_name(line, start, &mut |c, col| {
            // Enough to fill the list; more are only counted.
            match escapes.len() < MAX_DIAGNOSTICS {
                true => escapes.push((c, col)),
                false => extra += 1,
            }
        });
        if self.kept {
            self.unlisted += extra;
        }
        let (name, after_name) = match parsed {
            Ok(v) => v,
            Err(s) => return self.skipped(n, line, s),
        };
        let kept = self.kept;
        for (c, col) in escapes.into_iter().filter(|_| kept) {
            let d = unknown_escape(self.origin(n, col), c);
            self.push_diag(d);
        }
        let data_at = match expect_equals(line, after_name) {
            Ok(at) => at,
            Err(s) => return self.skipped(n, line, s),
        };
        let at = self.origin(n, column(line, start));
        // Continuation lines are read even when the value will be dropped.
        let data = match self.parse_data(n, line, data_at, more) {
            Ok(_) if !self.kept => return,
            Ok(d) => d,
            Err(_) if !self.kept => return,
            Err(skips) => {
                if let Some(key) = self.key.clone() {
                    self.ops.push(Op::Skipped { key, name, at });
                }
                for (m, text, s) in skips {
                    self.skipped(m, &text, s);
                }
                return;
            }
        };
        let Some(key) = self.key.clone() else {
            return self.skipped(
                n,
                line,
                skip(
                    start,
                    "no key is open (the key line above it was skipped, or deleted the key)",
                ),
            );
        };
        self.ops.push(match data {
            Data::Set(value) => Op::SetValue {
                key,
                name,
                value,
                at,
            },
            Data::Delete => Op::DeleteValue { key, name, at },
        });
    }

    /// Parses the data after `=`. On failure, returns each line regedit
    /// skipped: this one, and the next when a broken hex continuation
    /// consumed it.
    fn parse_data(
        &mut self,
        n: u32,
        line: &str,
        at: usize,
        more: &mut dyn LineSource,
    ) -> Result<Data, Vec<Skipped>> {
        let here = |s: Skip| vec![(n, line.to_owned(), s)];
        // regedit trims trailing blanks of the first data line only.
        let data = line[at..].trim_end_matches(WS);
        if let Some(rest) = data.strip_prefix('-') {
            return match only_comment(rest) {
                true => Ok(Data::Delete),
                false => Err(here(skip(at, "only a ; comment may follow `=-`"))),
            };
        }
        if data.starts_with('"') {
            let (source, kept) = (self.source, self.kept);
            let (mut escapes, mut extra) = (Vec::new(), 0);
            let unescaped = unescape(line, at + 1, &mut |c, col| {
                // Enough to fill the list; more are only counted.
                match kept && escapes.len() < MAX_DIAGNOSTICS {
                    true => escapes.push((c, col)),
                    false => extra += usize::from(kept),
                }
            });
            self.unlisted += extra;
            for (c, col) in escapes {
                let at = Origin {
                    source,
                    line: n,
                    column: col,
                };
                self.push_diag(unknown_escape(at, c));
            }
            let (s, end) = unescaped.map_err(here)?;
            let tail = &line[end..at + data.len()];
            if !only_comment(tail) {
                let text_at = end + tail.len() - tail.trim_start_matches(WS).len();
                return Err(here(skip(text_at, "text follows the closing quote")));
            }
            return Ok(Data::Set(Value::string(&s)));
        }
        if let Some(rest) = data.strip_prefix("dword:") {
            return parse_dword(rest)
                .map(|v| Data::Set(Value::dword(v)))
                .ok_or_else(|| {
                    here(skip(
                        at + 6,
                        "`dword:` takes 1 to 8 hex digits and nothing else",
                    ))
                });
        }
        let (kind, list_at) = if data.starts_with("hex:") {
            (REG_BINARY, at + 4)
        } else if let Some(rest) = data.strip_prefix("hex(") {
            match parse_hex_type(rest) {
                Some((kind, used)) => (kind, at + 4 + used),
                None => {
                    return Err(here(skip(
                        at,
                        "`hex(N):` needs a hex type number from 0 to ffffffff",
                    )));
                }
            }
        } else {
            return Err(here(skip(at, unknown_type(data))));
        };
        let mut bytes = Vec::new();
        // Bytes of a value too large to keep, counted and let go as read.
        let mut let_go: usize = 0;
        // The continuation line being read (none: the value's own line), and
        // where its hex data starts.
        let mut cont: Option<(u32, String)> = None;
        let mut base = list_at;
        loop {
            let (cur_n, cur_line) = match &cont {
                Some((m, l)) => (*m, l.as_str()),
                None => (n, line),
            };
            let text = match cont {
                Some(_) => &cur_line[base..],
                None => &line[list_at..at + data.len()],
            };
            let broken = |why: &str, at: usize| {
                let mut skips = vec![(cur_n, cur_line.to_owned(), skip(at, why))];
                if cur_n != n {
                    let first = skip(
                        list_at,
                        "its hex data is malformed on a continuation line below",
                    );
                    skips.insert(0, (n, line.to_owned(), first));
                }
                skips
            };
            let listed = hex_list(text, &mut bytes);
            if bytes.len() > MAX_VALUE {
                let_go += bytes.len();
                bytes.clear();
            }
            match listed {
                HexList::Done => break,
                HexList::Invalid(off) => {
                    return Err(broken(
                        "the hex data is malformed (bytes are 00-ff separated by commas; a line break needs `,\\`)",
                        base + off,
                    ));
                }
                HexList::Continue(after) if !only_comment(after) => {
                    return Err(broken(
                        "only a ; comment may follow the `\\` that continues hex data",
                        base,
                    ));
                }
                HexList::Continue(_) => {}
            }
            // The next data line: blank and comment lines are passed over.
            more.in_continuation(true);
            let next = loop {
                match more.next_line() {
                    None => break None,
                    Some((m, l)) => {
                        let t = l.trim_start_matches(WS);
                        if t.is_empty() || t.starts_with(';') {
                            continue;
                        }
                        let off = l.len() - t.len();
                        break Some((m, l, off));
                    }
                }
            };
            more.in_continuation(false);
            let Some((m, l, off)) = next else { break };
            if let Some(o) = more.overlong() {
                return Err(vec![
                    (
                        n,
                        line.to_owned(),
                        skip(
                            list_at,
                            "its hex data continues on a line too long to read, so the value is dropped",
                        ),
                    ),
                    (m, l.clone(), skip(off, o.why())),
                ]);
            }
            if !l[off..].starts_with(|c: char| c.is_ascii_hexdigit()) {
                // regedit drops the value, and this line with it.
                return Err(vec![
                    (
                        n,
                        line.to_owned(),
                        skip(
                            list_at,
                            "its hex data continues with `\\`, but the next line is not hex data",
                        ),
                    ),
                    (
                        m,
                        l.clone(),
                        skip(
                            off,
                            "the hex data above expected a continuation here, so regedit consumed this line",
                        ),
                    ),
                ]);
            }
            cont = Some((m, l));
            base = off;
        }
        if let_go > 0 {
            let why = format!(
                "its hex data is {} bytes, more than the {} MiB a value may have here, so it was not kept",
                let_go + bytes.len(),
                MAX_VALUE >> 20
            );
            return Err(here(skip(list_at, why)));
        }
        Ok(Data::Set(Value::new(
            kind,
            self.hex_string_fixup(kind, bytes),
        )))
    }

    /// regedit NUL-terminates string types given as hex, and in ANSI files
    /// converts their bytes from the code page to UTF-16.
    fn hex_string_fixup(&self, kind: u32, mut bytes: Vec<u8>) -> Vec<u8> {
        if !matches!(kind, REG_SZ | REG_EXPAND_SZ | REG_MULTI_SZ) || bytes.is_empty() {
            return bytes;
        }
        match self.ansi {
            None => {
                let units = bytes.len() / 2;
                let last = units
                    .checked_sub(1)
                    .map(|i| [bytes[2 * i], bytes[2 * i + 1]]);
                if last != Some([0, 0]) {
                    bytes.truncate(units * 2);
                    bytes.extend_from_slice(&[0, 0]);
                }
                bytes
            }
            Some(enc) => {
                if bytes.last() != Some(&0) {
                    bytes.push(0);
                }
                let (text, _) = enc.decode_without_bom_handling(&bytes);
                text.encode_utf16().flat_map(u16::to_le_bytes).collect()
            }
        }
    }

    /// A Windows 3.1 line: `HKEY_CLASSES_ROOT\path = value` sets the default value.
    fn win31_line(&mut self, n: u32, line: &str) {
        const HKCR: &str = "HKEY_CLASSES_ROOT";
        if !line.starts_with(HKCR) {
            return;
        }
        let key_end = line.find(char::is_whitespace).unwrap_or(line.len());
        // The key runs to the first blank and must be the root itself or a
        // path below it: `HKEY_CLASSES_ROOTX\a` names no root.
        if !matches!(line[HKCR.len()..key_end].chars().next(), None | Some('\\')) {
            return self.skipped(
                n,
                line,
                skip(0, "the key must be HKEY_CLASSES_ROOT or a path below it"),
            );
        }
        let mut value = line[key_end..].trim_start_matches(WS);
        value = value.strip_prefix('=').unwrap_or(value);
        value = value.strip_prefix(' ').unwrap_or(value);
        let mut path = vec![HKCR.to_owned()];
        path.extend(
            line[HKCR.len()..key_end]
                .split('\\')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        let at = self.origin(n, 1);
        self.ops.push(Op::CreateKey {
            path: path.clone(),
            at,
        });
        self.ops.push(Op::SetValue {
            key: path,
            name: String::new(),
            value: Value::string(value),
            at,
        });
    }
}

/// The value name at `start` (`@` or a quoted name) and the byte after it.
/// Names are unescaped like string data; `warn` hears about unknown escapes.
fn parse_name(
    line: &str,
    start: usize,
    warn: &mut dyn FnMut(char, u32),
) -> Result<(String, usize), Skip> {
    if line[start..].starts_with('@') {
        return Ok((String::new(), start + 1));
    }
    unescape(line, start + 1, warn).map_err(|s| skip(s.at, format!("the value name {}", s.why)))
}

fn unknown_escape(at: Origin, c: char) -> Diagnostic {
    Diagnostic {
        code: "unknown-escape",
        severity: Severity::Warning,
        message: format!("`\\{c}` is not an escape regedit knows: it stores `{c}`"),
        origin: Some(at),
        suggestion: None,
    }
}

/// Skips blanks, `=`, blanks; returns where the data starts.
fn expect_equals(line: &str, at: usize) -> Result<usize, Skip> {
    let rest = line[at..].trim_start_matches(WS);
    let eq = line.len() - rest.len();
    match rest.strip_prefix('=') {
        Some(data) => Ok(line.len() - data.trim_start_matches(WS).len()),
        None if rest.starts_with('＝') => Err(skip(
            eq,
            "`＝` is a full-width equals sign; regedit needs `=`",
        )),
        None => Err(skip(eq, "`=` must follow the value name")),
    }
}

/// Reads a quoted string whose opening quote is just before `from`; returns
/// the text and the byte after the closing quote. `warn` hears about unknown
/// escapes (with their column).
fn unescape(
    line: &str,
    from: usize,
    warn: &mut dyn FnMut(char, u32),
) -> Result<(String, usize), Skip> {
    let mut out = String::new();
    let mut chars = line[from..].char_indices();
    // Columns are counted along, not from the line start at each escape: a
    // line of a million escapes would be quadratic.
    let mut col = column(line, from);
    while let Some((i, c)) = chars.next() {
        let here = col;
        col = col.saturating_add(1);
        match c {
            '"' => return Ok((out, from + i + 1)),
            '\\' => {
                col = col.saturating_add(1);
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, e @ ('\\' | '"'))) => out.push(e),
                    Some((_, '0')) => {
                        return Err(skip(from + i, "`\\0` is not allowed in a string"));
                    }
                    Some((_, other)) => {
                        warn(other, here);
                        out.push(other);
                    }
                    None => break,
                }
            }
            _ => out.push(c),
        }
    }
    Err(skip(line.len(), "has no closing quote on the same line"))
}

fn only_comment(rest: &str) -> bool {
    let rest = rest.trim_start_matches(WS);
    rest.is_empty() || rest.starts_with(';')
}

fn parse_dword(rest: &str) -> Option<u32> {
    let digits_at = rest.trim_start_matches(WS);
    // regedit needs something after `dword:`, yet a `;` comment with no digits
    // before it stores 0: `wcstoul` reads no digits as 0.
    if digits_at.is_empty() {
        return None;
    }
    let count = digits_at.bytes().take_while(u8::is_ascii_hexdigit).count();
    if count > 8 || !only_comment(&digits_at[count..]) {
        return None;
    }
    if count == 0 {
        return Some(0);
    }
    u32::from_str_radix(&digits_at[..count], 16).ok()
}

/// `N):` after `hex(`: the type and how many bytes it used.
fn parse_hex_type(rest: &str) -> Option<(u32, usize)> {
    let mut second = rest.chars().skip(1);
    if rest.is_empty() || second.next().is_some_and(|c| c.eq_ignore_ascii_case(&'x')) {
        return None;
    }
    // No digits at all reads as type 0, as `strtoul` does: `hex():` is REG_NONE.
    let (value, used) = strtoul16(rest).unwrap_or((0, 0));
    let kind = u32::try_from(value).ok()?;
    rest[used..].starts_with("):").then_some((kind, used + 2))
}

/// C's `strtoul(s, &end, 16)`, which regedit uses for hex bytes and types:
/// blanks, a sign and a `0x` prefix are allowed. `None` when no digit was
/// read; a value too large for 32 bits comes back above `u32::MAX`.
fn strtoul16(s: &str) -> Option<(u64, usize)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let mut i = s.len() - t.len();
    let negative = match s[i..].chars().next() {
        Some('-') => {
            i += 1;
            true
        }
        Some('+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let b = s.as_bytes();
    if b.len() > i + 2
        && b[i] == b'0'
        && matches!(b[i + 1], b'x' | b'X')
        && b[i + 2].is_ascii_hexdigit()
    {
        i += 2;
    }
    let digits = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[i..i + digits] {
        let d = u64::from((c as char).to_digit(16).unwrap_or(0));
        v = (v << 4 | d).min(u64::from(u32::MAX) + 1);
    }
    if negative && v <= u64::from(u32::MAX) {
        v = u64::from((v as u32).wrapping_neg());
    }
    Some((v, i + digits))
}

enum HexList<'a> {
    Done,
    /// A `\` ended the line; the text after it.
    Continue(&'a str),
    /// Malformed at this byte offset.
    Invalid(usize),
}

/// Appends the comma-separated bytes of `s`.
fn hex_list<'a>(s: &'a str, out: &mut Vec<u8>) -> HexList<'a> {
    let mut pos = 0;
    while pos < s.len() {
        let Some((v, used)) = strtoul16(&s[pos..]) else {
            let rest = s[pos..].trim_start_matches(WS);
            let at = s.len() - rest.len();
            return match rest.chars().next() {
                Some('\\') => HexList::Continue(&rest[1..]),
                Some(';') => HexList::Done,
                _ => HexList::Invalid(at),
            };
        };
        let Ok(byte) = u8::try_from(v) else {
            return HexList::Invalid(pos);
        };
        out.push(byte);
        pos += used;
        match s[pos..].chars().next() {
            None => return HexList::Done,
            Some(',') => pos += 1,
            Some(_) => {
                return match only_comment(&s[pos..]) {
                    true => HexList::Done,
                    false => HexList::Invalid(pos),
                };
            }
        }
    }
    HexList::Done
}

/// Why data that matched no type was skipped, with what it probably meant.
fn unknown_type(data: &str) -> String {
    let lower = data.to_lowercase();
    // The type word as written: `DWORD:`, `dword：`, `hex (2)`.
    let head: String = match data.find([':', '：']) {
        Some(i) if i <= 12 => data[..i].chars().chain(data[i..].chars().take(1)).collect(),
        _ => data.chars().take(12).collect(),
    };
    if lower.starts_with("dword") || lower.starts_with("hex") {
        if data.starts_with("dword") || data.starts_with("hex") {
            let after = data
                .trim_start_matches(|c: char| c.is_ascii_alphanumeric() || matches!(c, '(' | ')'))
                .chars()
                .next();
            let what = match after {
                Some('：') => "a full-width colon `：`".to_owned(),
                Some('\u{a0}') | Some('\u{202f}') => "a no-break space".to_owned(),
                Some(c) if c.is_whitespace() => "a space".to_owned(),
                Some(c) => format!("`{c}`"),
                None => "nothing".to_owned(),
            };
            format!("`{head}`: the type must be followed directly by `:`, not by {what}")
        } else {
            format!("`{head}`: data types are lower case (`dword:`, `hex:`, `hex(N):`)")
        }
    } else if lower.starts_with("qword") || lower.starts_with("str") {
        format!("`{head}`: regedit has no such data type; write a QWORD as `hex(b):`")
    } else if data.starts_with(['“', '”', '„', '«', '»', '＂']) {
        "the string starts with a typographic quote; regedit needs a plain `\"`".to_owned()
    } else if data.is_empty() {
        "there is no data after `=`".to_owned()
    } else {
        format!("`{head}` is not a data type regedit knows (\"text\", dword:, hex:, hex(N):, -)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostics_of(key: &str) -> Document {
        let text = format!("{HEADER_V5}\r\n\r\n[{key}]\r\n\"Enabled\"=dword:00000001\r\n");
        parse(&text, 0, None).unwrap()
    }

    /// A value on its key's line is ignored, and kept as skipped where it
    /// stands; other text there (or a multibyte one, or `]` alone) is not.
    #[test]
    fn a_value_on_the_key_line_is_a_skipped_value() {
        let text = format!(
            "{HEADER_V5}\r\n\r\n[HKEY_CURRENT_USER\\A] \"Enabled\"=dword:1\r\n[HKEY_CURRENT_USER\\B]é\r\n[HKEY_CURRENT_USER\\C]\r\n[HKEY_CURRENT_USER\\D]\"\r\n"
        );
        let doc = parse(&text, 0, None).unwrap();
        let skipped: Vec<(String, u32, u32)> = doc
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Skipped { name, at, .. } => Some((name.clone(), at.line, at.column)),
                _ => None,
            })
            .collect();
        assert_eq!(skipped, [("Enabled".to_owned(), 3, 23)]);
    }

    /// A key name over 255 characters is quoted in its diagnostic: the quote
    /// is cut by characters, never inside one (`é` is two bytes, `日` three).
    /// A file of garbage lines keeps the first 10,000 diagnostics and counts
    /// the rest; a line of a million unknown escapes is read in one pass.
    #[test]
    fn diagnostics_are_capped_and_counted() {
        let mut text = format!("{HEADER_V5}\r\n[HKEY_CURRENT_USER\\A]\r\n");
        for _ in 0..15_000 {
            text.push_str("garbage\r\n");
        }
        text.push_str(&format!("\"s\"=\"{}\"\r\n", "\\q".repeat(1_000_000)));
        let doc = parse(&text, 0, None).unwrap();
        assert_eq!(doc.diagnostics.len(), MAX_DIAGNOSTICS + 1);
        let last = doc.diagnostics.last().unwrap();
        assert_eq!(last.code, "more-diagnostics");
        assert!(
            last.message
                .starts_with(&format!("{} more", 5_000 + 1_000_000)),
            "{}",
            last.message
        );
        assert!(
            matches!(&doc.ops[1], Op::SetValue { name, value, .. } if name == "s" && value.data.len() == 2_000_002)
        );
    }

    /// Windows' limit: 512 levels below the root are created, 513 are not.
    #[test]
    fn a_key_deeper_than_512_levels_is_a_skipped_line() {
        let path = |levels: usize| {
            let mut p = String::from("HKEY_CURRENT_USER");
            for i in 0..levels {
                p.push_str(&format!("\\k{i}"));
            }
            p
        };
        let doc = diagnostics_of(&path(512));
        assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
        assert!(matches!(&doc.ops[0], Op::CreateKey { path, .. } if path.len() == 513));
        for levels in [513, 100_000] {
            let doc = diagnostics_of(&path(levels));
            let d = &doc.diagnostics[0];
            assert_eq!(d.code, "skipped-line");
            assert!(
                d.message.contains(&format!("{levels} levels deep")),
                "{}",
                d.message
            );
            assert!(doc.ops.is_empty(), "{:?}", doc.ops);
        }
    }

    #[test]
    fn an_overlong_multibyte_key_name_is_a_skipped_line_not_a_panic() {
        let protocols = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols";
        for key in [
            format!("HKEY_LOCAL_MACHINE\\{}", "é".repeat(300)),
            format!("{protocols}\\{}", "日".repeat(256)),
            format!("HKEY_LOCAL_MACHINE\\a{}", "😀".repeat(200)),
        ] {
            let doc = diagnostics_of(&key);
            let d = &doc.diagnostics[0];
            assert_eq!(d.code, "skipped-line", "{d:?}");
            assert!(d.message.contains("longer than 255"), "{}", d.message);
            // The value below has no key to go to.
            assert!(doc.ops.is_empty(), "{:?}", doc.ops);
        }
    }
}
