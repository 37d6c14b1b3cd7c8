//! An OVA: a tar holding an OVF descriptor (XML), optionally a manifest
//! (`.mf`) and a certificate, and the disk files the OVF names, e.g.
//!
//! ```xml
//! <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="…">
//!   <References><File ovf:id="file1" ovf:href="vm-disk1.vmdk"/></References>
//!   <DiskSection><Disk ovf:diskId="vmdisk1" ovf:fileRef="file1"
//!     ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
//!   </DiskSection>
//!   <VirtualSystem ovf:id="vm">…</VirtualSystem>
//! </Envelope>
//! ```
//!
//! The tar is read in place, never extracted: each disk the OVF names is a
//! window onto the archive's bytes. Elements and attributes are matched by
//! their local name, whatever the namespace (OVF 1.x and 2.x, with or
//! without a prefix). The manifest's digests are not checked: that would
//! mean reading every disk whole.

use std::sync::Arc;

use roxmltree::{Document, Node, ParsingOptions};

use super::tar::Tar;
use super::{Source, SourceError};

/// The largest OVF read (they are a few KiB; ovftool's largest are well
/// under a MiB).
pub const MAX_OVF: u64 = 16 << 20;

/// The most XML nodes parsed: a descriptor has a few hundred.
const MAX_NODES: u32 = 200_000;

/// Whether a member's name is an OVF descriptor's.
pub(super) fn is_ovf(name: &str) -> bool {
    name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|e| e.eq_ignore_ascii_case(".ovf"))
}

/// The disks an OVA holds, in the OVF's order, each a source over its
/// member of the tar. A tar with no `.ovf` is not an OVA: an error saying
/// so (it holds no disk this reads).
pub fn disks(source: &Source) -> Result<Vec<Source>, SourceError> {
    let tar = Arc::new(Tar::read(source)?);
    // The OVF comes first by the specification; any place is accepted.
    let Some(ovf_index) = tar.members().iter().position(|m| is_ovf(&m.name)) else {
        return Err(SourceError::Format {
            name: tar.name(),
            format: "tar",
            offset: 0,
            what: format!(
                "a tar archive with no .ovf descriptor among its {} files: not an OVA, so it holds no disk image to audit (extract the image from it and audit that)",
                tar.members().len()
            ),
        });
    };
    let ovf = tar.open(ovf_index)?;
    let ovf_name = ovf.name();
    let fail = |offset: u64, what: String| SourceError::Format {
        name: ovf_name.clone(),
        format: "OVF",
        offset,
        what,
    };
    if ovf.disk.size() > MAX_OVF {
        return Err(fail(
            0,
            format!(
                "a descriptor of {} bytes (the most read is {MAX_OVF})",
                ovf.disk.size()
            ),
        ));
    }
    let mut bytes = vec![0u8; ovf.disk.size() as usize];
    ovf.disk
        .read_exact_at(0, &mut bytes)
        .map_err(|e| fail(0, format!("cannot read: {e}")))?;
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
        .map_err(|e| fail(e.valid_up_to() as u64, "not UTF-8 text".into()))?;
    let files = disk_files(text).map_err(|(offset, what)| fail(offset, what))?;
    let ovf_member = &tar.members()[ovf_index].name;
    let dir = ovf_member.rfind('/').map_or("", |i| &ovf_member[..i]);
    files
        .iter()
        .map(|f| {
            if let Some(c) = &f.compression
                && c != "identity"
            {
                return Err(fail(
                    f.at,
                    format!(
                        "{:?} is stored {c}-compressed (ovf:compression): not supported, since a compressed disk cannot be read in place (extract and decompress it, then audit the disk)",
                        f.href
                    ),
                ));
            }
            if let Some(chunk) = &f.chunk_size {
                return Err(fail(
                    f.at,
                    format!(
                        "{:?} is stored in chunks of {chunk} bytes (ovf:chunkSize): not supported (join the chunks, then audit the disk)",
                        f.href
                    ),
                ));
            }
            if f.href.contains("://") {
                return Err(fail(
                    f.at,
                    format!("{:?} lies outside the OVA: not read", f.href),
                ));
            }
            tar.open_named(dir, &f.href).map_err(|e| match e {
                SourceError::NotFound { tried, .. } => fail(
                    f.at,
                    format!(
                        "the disk file {:?} (ovf:href) is not in the OVA (looked for {})",
                        f.href,
                        tried.join(", ")
                    ),
                ),
                other => other,
            })
        })
        .collect()
}

/// A file a disk is stored in, as `References/File` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DiskFile {
    href: String,
    compression: Option<String>,
    chunk_size: Option<String>,
    /// Where its `File` element starts in the OVF.
    at: u64,
}

/// An attribute by local name, whatever its namespace (`ovf:href`, `href`).
fn attr<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attributes()
        .find(|a| a.name() == name)
        .map(|a| a.value())
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The files of the disks the OVF names, in `DiskSection` order (a file
/// two disks name is listed once; a disk with no file is a blank disk made
/// on import, with nothing to audit). An error is its offset in the text.
fn disk_files(text: &str) -> Result<Vec<DiskFile>, (u64, String)> {
    // No DTD (so no entity expansion: a billion laughs is refused).
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| (0, format!("not well-formed XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "Envelope" {
        return Err((
            root.range().start as u64,
            format!(
                "the root element is <{}>, not an OVF <Envelope>",
                root.tag_name().name()
            ),
        ));
    }
    let mut files = Vec::new();
    let mut ids = Vec::new();
    for file in children(root, "References").flat_map(|r| children(r, "File")) {
        let at = file.range().start as u64;
        let (Some(id), Some(href)) = (attr(file, "id"), attr(file, "href")) else {
            return Err((at, "a <File> without ovf:id or ovf:href".into()));
        };
        ids.push(id);
        files.push(DiskFile {
            href: href.to_owned(),
            compression: attr(file, "compression").map(str::to_owned),
            chunk_size: attr(file, "chunkSize").map(str::to_owned),
            at,
        });
    }
    let mut out: Vec<DiskFile> = Vec::new();
    for disk in children(root, "DiskSection").flat_map(|s| children(s, "Disk")) {
        let Some(file_ref) = attr(disk, "fileRef") else {
            continue;
        };
        let at = disk.range().start as u64;
        let file = ids
            .iter()
            .position(|id| *id == file_ref)
            .map(|i| &files[i])
            .ok_or_else(|| {
                (
                    at,
                    format!(
                        "a <Disk> names the file {file_ref:?}, which <References> does not list"
                    ),
                )
            })?;
        if !out.contains(file) {
            out.push(file.clone());
        }
    }
    if out.is_empty() {
        return Err((
            root.range().start as u64,
            "the OVF names no disk file (no <DiskSection> <Disk> with an ovf:fileRef)".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OVF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:id="file1" ovf:href="a.vmdk" ovf:size="3"/>
    <File ovf:id="file2" ovf:href="b.vmdk.gz" ovf:compression="gzip"/>
    <File ovf:id="file3" ovf:href="c.vmdk"/>
  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
    <Disk ovf:diskId="d3" ovf:fileRef="file3" ovf:capacity="1"/>
    <Disk ovf:diskId="d1" ovf:fileRef="file1" ovf:capacity="1"/>
    <Disk ovf:diskId="blank" ovf:capacity="1"/>
  </DiskSection>
</Envelope>"#;

    #[test]
    fn disks_in_the_ovf_order() {
        let files = disk_files(OVF).unwrap();
        let hrefs: Vec<&str> = files.iter().map(|f| f.href.as_str()).collect();
        assert_eq!(hrefs, ["c.vmdk", "a.vmdk"]);
        // Prefixed elements (ovf:Envelope) read the same.
        let prefixed = OVF
            .replace(
                "<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"",
                "<ovf:Envelope",
            )
            .replace("</Envelope>", "</ovf:Envelope>");
        assert_eq!(disk_files(&prefixed).unwrap().len(), 2);
    }

    #[test]
    fn malformed_descriptors_are_errors() {
        let e = disk_files(&OVF.replace("fileRef=\"file1\"", "fileRef=\"gone\""));
        assert!(e.unwrap_err().1.contains("\"gone\""));
        let e = disk_files("<Envelope><DiskSection/></Envelope>").unwrap_err();
        assert!(e.1.contains("no disk"), "{e:?}");
        let e = disk_files("<WIM/>").unwrap_err();
        assert!(e.1.contains("<WIM>"), "{e:?}");
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Envelope>&b;</Envelope>"#;
        let e = disk_files(laughs).unwrap_err();
        assert!(e.1.contains("XML"), "{e:?}");
    }

    #[test]
    fn ovf_names() {
        assert!(is_ovf("x/VM.OVF") && is_ovf("a.ovf") && !is_ovf(".ovf") && !is_ovf("a.ovf.bak"));
        assert!(!is_ovf("ä.ov"));
    }
}
