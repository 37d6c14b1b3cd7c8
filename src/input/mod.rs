//! Inputs: turning files into the one registry view (a tree, the control set
//! that stands for `CurrentControlSet`, and what the readers noticed).

mod reg;

use std::io::Read;
use std::path::Path;

use encoding_rs::Encoding;

use crate::regfile::ReadError;
use crate::registry::{ControlSet, Diagnostic, Key};

/// What kind of file an input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reg,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Reg => "reg",
        }
    }
}

/// One file that went into a view.
#[derive(Clone, Debug)]
pub struct Source {
    /// The path as the user gave it (`-` for standard input).
    pub name: String,
    pub kind: Kind,
    /// How it was read: `UTF-16LE, Windows Registry Editor Version 5.00`.
    pub detail: String,
}

/// A registry view built from an input and the files applied on top of it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The input first (when there is one), then each applied file in order.
    pub sources: Vec<Source>,
    pub root: Key,
    pub control_set: Option<ControlSet>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Code page for `.reg` files without a BOM; `None` picks Windows-1252,
    /// or UTF-8 when the bytes are valid UTF-8.
    pub codepage: Option<&'static Encoding>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct InputError {
    pub path: String,
    pub kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Reg(#[from] ReadError),
}

fn read_bytes(path: &str) -> Result<Vec<u8>, InputError> {
    let wrap = |e: std::io::Error| InputError {
        path: path.to_owned(),
        kind: ErrorKind::Io(e),
    };
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(wrap)?;
        return Ok(buf);
    }
    if Path::new(path).is_dir() {
        return Err(wrap(std::io::Error::other("is a directory")));
    }
    std::fs::read(path).map_err(wrap)
}

/// Loads `input` (or an empty machine when `None`) and applies each file in
/// `applied` on top of it, in order, as `regedit /s` would import them.
pub fn load(
    input: Option<&str>,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let names: Vec<&str> = input
        .into_iter()
        .chain(applied.iter().map(String::as_str))
        .collect();
    let mut files = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let bytes = read_bytes(name)?;
        let file =
            crate::regfile::read(&bytes, index, options.codepage).map_err(|e| InputError {
                path: (*name).to_owned(),
                kind: e.into(),
            })?;
        files.push(((*name).to_owned(), file));
    }
    Ok(reg::build(files, input.is_some()))
}
