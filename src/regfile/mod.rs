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
    let lines =
        stream::ByteLines::open_mapped(stream::Mapped::new(bytes, region, 0), ansi, keep, 0)?;
    read_lines(lines, source, keep)
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
    let mut document = parsed?;
    let at = Origin {
        source,
        line: 1,
        column: 1,
    };
    let mut notes = Vec::new();
    if lines.had_errors {
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
    Ok(RegFile { encoding, document })
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
            Op::DeleteKey { path, .. } => {
                root.delete(path);
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
                root.create(key, Some(*at)).delete_value(name);
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
