//! The XML data: UTF-16LE text (with a byte-order mark) describing each
//! image, e.g.
//!
//! ```xml
//! <WIM><IMAGE INDEX="1"><NAME>Windows Server 2019 Standard</NAME>
//!   <DESCRIPTION>…</DESCRIPTION><DISPLAYNAME>…</DISPLAYNAME><FLAGS>ServerStandard</FLAGS>
//!   <WINDOWS><EDITIONID>ServerStandard</EDITIONID>
//!     <VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>17763</BUILD><SPBUILD>1</SPBUILD></VERSION>
//!   </WINDOWS></IMAGE></WIM>
//! ```
//!
//! roxmltree parses it, with a bound on its nodes and no DTDs: the text
//! comes from the file, so anything malformed is an error value.

use roxmltree::{Document, Node, ParsingOptions};

/// What the XML says about one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    /// 1-based, as `wimlib-imagex` and DISM number images.
    pub index: u32,
    /// `NAME`, e.g. "Windows Server 2019 Standard".
    pub name: Option<String>,
    /// `DESCRIPTION`.
    pub description: Option<String>,
    /// `DISPLAYNAME`.
    pub display_name: Option<String>,
    /// `WINDOWS/EDITIONID`, e.g. "ServerStandard".
    pub edition: Option<String>,
    /// `FLAGS`, which Windows setup also sets to the edition.
    pub flags: Option<String>,
    /// `WINDOWS/VERSION` as MAJOR.MINOR.BUILD[.SPBUILD], e.g. "10.0.17763.1".
    pub build: Option<String>,
}

/// The most nodes (elements, text, comments) parsed. The XML is untrusted
/// and each node costs tens of bytes, while the text may be up to
/// `MAX_TABLE_SIZE`; an image takes about a hundred nodes, so this leaves room
/// for a thousand images.
const MAX_NODES: u32 = 100_000;

/// The trimmed text directly inside `node` (CDATA included), as the one
/// string Windows writes there.
fn own_text(node: Node<'_, '_>) -> String {
    let text: String = node
        .children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect();
    text.trim().to_string()
}

/// The text of the element at `path` below `node`: the first child of each
/// name, as Windows writes one of each.
fn text_at(node: Node<'_, '_>, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(node, |n, name| {
            n.children()
                .find(|c| c.is_element() && c.tag_name().name() == *name)
        })
        .map(own_text)
}

/// Decodes the XML resource (UTF-16LE, optionally with a byte-order mark).
pub fn decode(b: &[u8]) -> String {
    let b = b.strip_prefix(&[0xFF, 0xFE]).unwrap_or(b);
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// The images the XML describes, by index. An empty document describes
/// none; anything but a `WIM` root element is an error.
pub fn images(text: &str) -> Result<Vec<ImageInfo>, String> {
    // XML forbids NUL, but a C-string terminator after the document is no
    // reason to lose the image list.
    let text = text.trim_end_matches('\0');
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let options = ParsingOptions {
        nodes_limit: MAX_NODES,
        // DTDs are refused (roxmltree's default): WIMs have none, and
        // entities are a way to blow up the document.
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| e.to_string())?;
    let wim = doc.root_element();
    if wim.tag_name().name() != "WIM" {
        return Err(format!(
            "the root element is <{}>, not <WIM>",
            wim.tag_name().name()
        ));
    }
    let mut out = Vec::new();
    for img in wim
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "IMAGE")
    {
        let Some(index) = img
            .attribute("INDEX")
            .and_then(|v| v.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let v = |part: &str| text_at(img, &["WINDOWS", "VERSION", part]);
        let build = match (v("MAJOR"), v("MINOR"), v("BUILD"), v("SPBUILD")) {
            (Some(ma), Some(mi), Some(b), sp) => Some(match sp {
                Some(sp) => format!("{ma}.{mi}.{b}.{sp}"),
                None => format!("{ma}.{mi}.{b}"),
            }),
            (_, _, Some(b), _) => Some(b),
            _ => None,
        };
        out.push(ImageInfo {
            index,
            name: text_at(img, &["NAME"]),
            description: text_at(img, &["DESCRIPTION"]),
            display_name: text_at(img, &["DISPLAYNAME"]),
            edition: text_at(img, &["WINDOWS", "EDITIONID"]),
            flags: text_at(img, &["FLAGS"]),
            build,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_windows_writes() {
        let xml = "<WIM><TOTALBYTES>123</TOTALBYTES>\
            <IMAGE INDEX=\"2\"><NAME>Windows Server 2019 SERVERDATACENTER</NAME>\
            <DESCRIPTION>Dev &amp; test &#x263A; &lt;x&gt;</DESCRIPTION>\
            <WINDOWS><ARCH>9</ARCH><EDITIONID>ServerDatacenter</EDITIONID>\
            <VERSION><MAJOR>10</MAJOR><MINOR>0</MINOR><BUILD>17763</BUILD><SPBUILD>1</SPBUILD></VERSION>\
            </WINDOWS><FLAGS>ServerDatacenter</FLAGS><!-- note --><EMPTY/></IMAGE>\
            <IMAGE INDEX='1'><NAME> one </NAME></IMAGE></WIM>";
        let imgs = images(xml).unwrap();
        assert_eq!(imgs.len(), 2);
        assert_eq!(imgs[0].index, 2);
        assert_eq!(imgs[0].edition.as_deref(), Some("ServerDatacenter"));
        assert_eq!(imgs[0].build.as_deref(), Some("10.0.17763.1"));
        assert_eq!(imgs[0].description.as_deref(), Some("Dev & test ☺ <x>"));
        assert_eq!(imgs[1].name.as_deref(), Some("one"));
        assert_eq!(imgs[1].build, None);
    }

    #[test]
    fn malformed_xml_is_an_error() {
        let deep = "<A>".repeat(100);
        for bad in [
            "<WIM><IMAGE INDEX=\"1\"></WIM>",
            "<WIM",
            "<WIM><!-- x</WIM>",
            "<NOTWIM/>",
            "</WIM>",
            "<WIM a=b></WIM>",
            deep.as_str(),
        ] {
            assert!(images(bad).is_err(), "{bad}");
        }
        assert_eq!(images("").unwrap(), vec![]);
    }

    #[test]
    fn says_what_is_wrong() {
        let e = images("<WIM><IMAGE INDEX=\"1\"></WIM>").unwrap_err();
        assert!(e.contains("IMAGE") && e.contains("1:"), "{e}");
        let e = images("<NOTWIM/>").unwrap_err();
        assert!(e.contains("<NOTWIM>"), "{e}");
    }

    #[test]
    fn hostile_xml_is_an_error_not_a_panic() {
        // Nested as deep as the node limit allows: parsed without recursion.
        let n = MAX_NODES as usize - 2;
        let deep = format!("<WIM>{}{}</WIM>", "<A>".repeat(n), "</A>".repeat(n));
        assert_eq!(images(&deep).unwrap(), vec![]);
        // Deeper and wider than the limit.
        let deep = format!("{}{}", "<A>".repeat(1_000_000), "</A>".repeat(1_000_000));
        assert!(images(&deep).is_err());
        let wide = format!("<WIM>{}</WIM>", "<X/>".repeat(MAX_NODES as usize));
        assert!(images(&wide).unwrap_err().contains("limit"));
        // Entity expansion needs a DTD, which is refused.
        let laughs = "<!DOCTYPE WIM [<!ENTITY a \"aaaaaaaaaa\">\
            <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><WIM>&b;</WIM>";
        assert!(images(laughs).is_err());
        assert!(images("<WIM>&unknown;</WIM>").is_err());
        // Random UTF-16 and random mutations of a good document.
        let good: Vec<u8> = "<WIM><IMAGE INDEX=\"1\"><NAME>n</NAME></IMAGE></WIM>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut b = good.clone();
            for _ in 0..=next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            let _ = images(&decode(&b));
            let noise: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
            let _ = images(&decode(&noise));
        }
    }

    #[test]
    fn a_nul_after_the_document_is_tolerated() {
        let imgs = images("<WIM><IMAGE INDEX=\"1\"/></WIM>\0").unwrap();
        assert_eq!(imgs.len(), 1);
    }

    #[test]
    fn decodes_utf16_with_or_without_bom() {
        let mut b = vec![0xFF, 0xFE];
        b.extend("<WIM/>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&b), "<WIM/>");
        assert_eq!(decode(&b[2..]), "<WIM/>");
    }
}
