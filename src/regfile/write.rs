//! Writing `.reg` files byte for byte as regedit exports them: UTF-16LE with a
//! BOM, CRLF, the version 5 header, a blank line before every key, long root
//! names, `dword:%08x`, and hex data wrapped at 77 columns.

use crate::registry::Key;
use crate::registry::Value;
use crate::registry::value::{REG_BINARY, REG_DWORD, REG_SZ};

use super::parse::HEADER_V5;

/// regedit breaks a hex line once it reaches this column.
const HEX_WRAP: usize = 77;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputEncoding {
    /// What regedit writes and what every regedit reads.
    #[default]
    Utf16Le,
    /// UTF-8 without BOM, for diffs and review tools.
    Utf8,
}

/// A `.reg` file being written, line by line.
#[derive(Clone, Debug)]
pub struct Export {
    lines: Vec<String>,
}

impl Default for Export {
    fn default() -> Self {
        Export::new()
    }
}

impl Export {
    pub fn new() -> Self {
        Export {
            lines: vec![HEADER_V5.to_owned()],
        }
    }

    /// A file from its text (comments and all), laid out as regedit writes:
    /// its line ends become CRLF and it ends in one blank line.
    pub fn from_text(text: &str) -> Self {
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        Export { lines }
    }

    /// Opens `[path]`, preceded by a blank line.
    pub fn key<S: AsRef<str>>(&mut self, path: &[S]) -> &mut Self {
        self.lines.push(String::new());
        self.lines.push(format!("[{}]", join(path)));
        self
    }

    /// `[-path]`: deletes the key and everything below it.
    pub fn delete_key<S: AsRef<str>>(&mut self, path: &[S]) -> &mut Self {
        self.lines.push(String::new());
        self.lines.push(format!("[-{}]", join(path)));
        self
    }

    pub fn value(&mut self, name: &str, value: &Value) -> &mut Self {
        self.lines.extend(value_lines(name, value));
        self
    }

    /// `"name"=-`: deletes the value.
    pub fn delete_value(&mut self, name: &str) -> &mut Self {
        self.lines.push(format!("{}-", name_prefix(name)));
        self
    }

    /// Adds `other`'s keys and values after this file's (its header is not
    /// repeated): several fixes in one file.
    pub fn append(&mut self, other: &Export) -> &mut Self {
        let body = other.lines.iter().skip_while(|l| !l.is_empty()).cloned();
        self.lines.extend(body);
        self
    }

    /// Writes `key` at `path`, its values, then its subkeys in sorted order.
    pub fn tree<S: AsRef<str>>(&mut self, path: &[S], key: &Key) -> &mut Self {
        let base: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
        key.visit(|rel, k| {
            let mut full = base.clone();
            full.extend(rel);
            self.key(&full);
            for e in k.values() {
                self.value(&e.name, &e.value);
            }
        });
        self
    }

    /// `; text` lines right below the header, after any put there before:
    /// what a reader should know before importing. regedit skips them.
    pub fn comment_at_top(&mut self, text: &[String]) -> &mut Self {
        let at = self
            .lines
            .iter()
            .skip(1)
            .take_while(|l| l.starts_with(';'))
            .count()
            + 1;
        let at = at.min(self.lines.len());
        let comments = text
            .iter()
            .map(|t| format!("; {}", t.replace(['\r', '\n'], " ")));
        self.lines.splice(at..at, comments);
        self
    }

    /// How many lines are written so far (the header is line 1).
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The text with `newline` between lines, ending in a blank line.
    pub fn text(&self, newline: &str) -> String {
        let mut out = self.lines.join(newline);
        out.push_str(newline);
        out.push_str(newline);
        out
    }

    /// The file's bytes: CRLF text, with a BOM for UTF-16LE.
    pub fn to_bytes(&self, encoding: OutputEncoding) -> Vec<u8> {
        let text = self.text("\r\n");
        match encoding {
            OutputEncoding::Utf16Le => [0xFF, 0xFE]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                .collect(),
            OutputEncoding::Utf8 => text.into_bytes(),
        }
    }
}

fn join<S: AsRef<str>>(path: &[S]) -> String {
    path.iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("\\")
}

/// `\` and `"` escaped as regedit escapes them in names and strings, and CR
/// and LF as `\r` and `\n` as Wine's exporter writes them. A raw line break
/// would end the line: the value would be lost and the rest of its name read
/// as a line of its own, even a `[key]` line. Strings never reach here with
/// one (they are written as hex), so this matters for names only.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn name_prefix(name: &str) -> String {
    if name.is_empty() {
        "@=".to_owned()
    } else {
        format!("\"{}\"=", escape(name))
    }
}

/// The text of a REG_SZ that reads back to the same bytes: one final NUL, no
/// other NUL, and no line break (which regedit's quoting cannot carry).
fn plain_string(data: &[u8]) -> Option<String> {
    let body = data.strip_suffix(&[0, 0])?;
    if body.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16(&units).ok()?;
    (!s.contains(['\0', '\r', '\n'])).then_some(s)
}

/// The line(s) regedit writes for one value.
fn value_lines(name: &str, value: &Value) -> Vec<String> {
    let prefix = name_prefix(name);
    if value.kind == REG_SZ {
        if let Some(s) = plain_string(&value.data) {
            return vec![format!("{prefix}\"{}\"", escape(&s))];
        }
    }
    if let (REG_DWORD, Some(v)) = (value.kind, value.as_dword()) {
        return vec![format!("{prefix}dword:{v:08x}")];
    }
    // Everything else is hex, which keeps every byte. One loss no `.reg` form
    // avoids: regedit and Wine append a NUL to `hex(1)`, `hex(2)` and `hex(7)`
    // data that does not end in one, so such a string imports one unit longer.
    let kind = match value.kind {
        REG_BINARY => "hex:".to_owned(),
        k => format!("hex({k:x}):"),
    };
    // Columns count UTF-16 units, as regedit's buffer does.
    let mut column = prefix.encode_utf16().count() + kind.len();
    let mut lines = Vec::new();
    let mut line = prefix + &kind;
    for (i, b) in value.data.iter().enumerate() {
        line.push_str(&format!("{b:02x}"));
        if i + 1 == value.data.len() {
            break;
        }
        line.push(',');
        column += 3;
        if column >= HEX_WRAP {
            line.push('\\');
            lines.push(std::mem::replace(&mut line, "  ".to_owned()));
            column = 2;
        }
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::value::*;

    fn one(name: &str, v: Value) -> String {
        value_lines(name, &v).join("\n")
    }

    #[test]
    fn formats_each_type() {
        assert_eq!(
            one("Enabled", Value::dword(1)),
            "\"Enabled\"=dword:00000001"
        );
        assert_eq!(one("x", Value::dword(0xFFFF_FFFF)), "\"x\"=dword:ffffffff");
        assert_eq!(one("", Value::string("a\"b\\c")), "@=\"a\\\"b\\\\c\"");
        assert_eq!(one("e", Value::string("")), "\"e\"=\"\"");
        assert_eq!(
            one("n", Value::new(REG_SZ, vec![b'a', 0, 0, 0, b'b', 0, 0, 0])),
            "\"n\"=hex(1):61,00,00,00,62,00,00,00"
        );
        assert_eq!(one("s", Value::new(REG_DWORD, vec![1])), "\"s\"=hex(4):01");
        assert_eq!(
            one("q", Value::new(REG_QWORD, vec![1, 0, 0, 0, 0, 0, 0, 0])),
            "\"q\"=hex(b):01,00,00,00,00,00,00,00"
        );
        assert_eq!(one("b", Value::new(REG_BINARY, vec![])), "\"b\"=hex:");
        assert_eq!(
            one("z", Value::new(0xFFFF_FFFF, vec![0xAB])),
            "\"z\"=hex(ffffffff):ab"
        );
        assert_eq!(one("d", Value::new(REG_NONE, vec![])), "\"d\"=hex(0):");
    }

    #[test]
    fn wraps_hex_like_regedit() {
        // `"Multiple strings"=hex(7):` is 26 columns: 17 bytes fit before the break,
        // then 25 bytes on each continuation line.
        let v = Value::new(REG_MULTI_SZ, (0..60u8).collect());
        let lines = value_lines("Multiple strings", &v);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), 78);
        assert!(lines[0].ends_with("10,\\"));
        assert_eq!(lines[1].len(), 78);
        assert!(lines[1].starts_with("  11,"));
        assert_eq!(
            lines[2],
            "  2a,2b,2c,2d,2e,2f,30,31,32,33,34,35,36,37,38,39,3a,3b"
        );
    }
}
