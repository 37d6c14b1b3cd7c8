//! `.reg` files as layers: streamed, or mapped with their pages given back
//! as reading goes on.

use std::io::Read;

use super::combine::{Content, Layer};
use super::{InputError, Kind, Options, Role, Source};
use crate::regfile::Version;

pub(super) fn version_label(v: Version) -> &'static str {
    match v {
        Version::Regedit5 => crate::regfile::HEADER_V5,
        Version::Regedit4 => crate::regfile::HEADER_V4,
        Version::Win31 => "REGEDIT (Windows 3.1)",
        Version::Fuzzy => "an unknown REGEDIT header",
    }
}

pub(super) fn reg_layer(
    name: &str,
    reader: impl Read,
    index: usize,
    options: &Options,
) -> Result<Layer, InputError> {
    reg_layer_with(name, index, options, |keep| {
        crate::regfile::read_stream(reader, index, options.codepage, keep)
    })
}

pub(super) fn reg_mapped_layer(
    name: &str,
    map: &memmap2::Mmap,
    index: usize,
    options: &Options,
) -> Result<Layer, InputError> {
    reg_layer_with(name, index, options, |keep| {
        crate::regfile::read_mapped(map, index, options.codepage, keep)
    })
}

pub(super) fn reg_layer_with(
    name: &str,
    index: usize,
    options: &Options,
    read: impl FnOnce(
        Option<crate::regfile::Keep<'_>>,
    ) -> Result<crate::regfile::RegFile, crate::regfile::ReadError>,
) -> Result<Layer, InputError> {
    let keep = options.keep.as_ref().map(|k| k.0.clone());
    let keep_ref: Option<crate::regfile::Keep<'_>> =
        keep.as_deref().map(|f| f as crate::regfile::Keep<'_>);
    let file = read(keep_ref).map_err(|e| InputError {
        path: name.to_owned(),
        kind: e.into(),
    })?;
    Ok(Layer {
        source: Source {
            role: match index {
                0 => Role::Input,
                _ => Role::Applied,
            },
            name: name.to_owned(),
            kind: Kind::Reg,
            detail: format!(
                "{}, {}",
                file.encoding.label(),
                version_label(file.version())
            ),
        },
        diagnostics: file.document.diagnostics,
        content: Content::Ops(file.document.ops),
    })
}
