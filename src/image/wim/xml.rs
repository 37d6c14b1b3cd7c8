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
//! A minimal parser: elements, attributes, text and the five entities plus
//! character references; comments, processing instructions and
//! declarations are skipped. No namespaces, no DTDs.

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

const MAX_DEPTH: usize = 64;

#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<usize>,
}

/// Parsed elements; node 0 is the document, holding the root element.
struct Doc {
    nodes: Vec<Node>,
}

impl Doc {
    fn child(&self, node: usize, name: &str) -> Option<usize> {
        self.nodes[node]
            .children
            .iter()
            .copied()
            .find(|&c| self.nodes[c].name == name)
    }

    fn path(&self, node: usize, path: &[&str]) -> Option<usize> {
        path.iter().try_fold(node, |n, p| self.child(n, p))
    }

    fn text(&self, node: usize, path: &[&str]) -> Option<String> {
        self.path(node, path)
            .map(|n| self.nodes[n].text.trim().to_string())
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let num = if let Some(hex) = entity.strip_prefix("#x").or(entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                num.and_then(char::from_u32)
            }
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Splits a start tag's inside (`NAME a="b" c='d'`) into name and
/// attributes.
fn parse_tag(tag: &str) -> Result<(String, Vec<(String, String)>), String> {
    let tag = tag.trim();
    let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
    let name = &tag[..name_end];
    if name.is_empty() {
        return Err("an element without a name".into());
    }
    let mut attrs = Vec::new();
    let mut rest = tag[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("attribute without a value in <{name}>"))?;
        let key = rest[..eq].trim().to_string();
        let after = rest[eq + 1..].trim_start();
        let quote = after
            .chars()
            .next()
            .filter(|&q| q == '"' || q == '\'')
            .ok_or_else(|| format!("unquoted attribute {key} in <{name}>"))?;
        let close = after[1..]
            .find(quote)
            .ok_or_else(|| format!("unterminated attribute {key} in <{name}>"))?;
        attrs.push((key, unescape(&after[1..1 + close])));
        rest = after[1 + close + 1..].trim_start();
    }
    Ok((name.to_string(), attrs))
}

fn parse(s: &str) -> Result<Doc, String> {
    let mut nodes = vec![Node::default()];
    let mut stack = vec![0usize];
    let mut rest = s;
    while !rest.is_empty() {
        let top = *stack.last().expect("never empty");
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            nodes[top].text.push_str(&unescape(&rest[..end]));
            rest = &rest[end..];
            continue;
        }
        let skip = |rest: &str, open: usize, close: &str| -> Result<usize, String> {
            rest[open..]
                .find(close)
                .map(|i| open + i + close.len())
                .ok_or_else(|| format!("unterminated {:?}", &rest[..open]))
        };
        if rest.starts_with("<!--") {
            rest = &rest[skip(rest, 4, "-->")?..];
        } else if rest.starts_with("<![CDATA[") {
            let end = skip(rest, 9, "]]>")?;
            nodes[top].text.push_str(&rest[9..end - 3]);
            rest = &rest[end..];
        } else if rest.starts_with("<?") {
            rest = &rest[skip(rest, 2, "?>")?..];
        } else if rest.starts_with("<!") {
            rest = &rest[skip(rest, 2, ">")?..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("unterminated end tag")?;
            let name = after[..end].trim();
            if stack.len() < 2 || nodes[top].name != name {
                return Err(format!("unexpected </{name}>"));
            }
            stack.pop();
            rest = &after[end + 1..];
        } else {
            // A start tag; '>' may appear inside quoted attribute values.
            let mut quote = None;
            let end = rest
                .char_indices()
                .skip(1)
                .find(|&(_, c)| match quote {
                    Some(q) => {
                        if c == q {
                            quote = None;
                        }
                        false
                    }
                    None if c == '"' || c == '\'' => {
                        quote = Some(c);
                        false
                    }
                    None => c == '>',
                })
                .map(|(i, _)| i)
                .ok_or("unterminated start tag")?;
            let inner = &rest[1..end];
            let (inner, empty) = match inner.strip_suffix('/') {
                Some(i) => (i, true),
                None => (inner, false),
            };
            let (name, attrs) = parse_tag(inner)?;
            let id = nodes.len();
            nodes.push(Node {
                name,
                attrs,
                ..Node::default()
            });
            nodes[top].children.push(id);
            if !empty {
                if stack.len() > MAX_DEPTH {
                    return Err("elements nested too deep".into());
                }
                stack.push(id);
            }
            rest = &rest[end + 1..];
        }
    }
    if stack.len() != 1 {
        let open = &nodes[*stack.last().expect("never empty")].name;
        return Err(format!("<{open}> is never closed"));
    }
    Ok(Doc { nodes })
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
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc = parse(text)?;
    let wim = doc.child(0, "WIM").ok_or("no <WIM> root element")?;
    let mut out = Vec::new();
    for &img in &doc.nodes[wim].children {
        let node = &doc.nodes[img];
        if node.name != "IMAGE" {
            continue;
        }
        let Some(index) = node
            .attrs
            .iter()
            .find(|(k, _)| k == "INDEX")
            .and_then(|(_, v)| v.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let v = |part: &str| doc.text(img, &["WINDOWS", "VERSION", part]);
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
            name: doc.text(img, &["NAME"]),
            description: doc.text(img, &["DESCRIPTION"]),
            display_name: doc.text(img, &["DISPLAYNAME"]),
            edition: doc.text(img, &["WINDOWS", "EDITIONID"]),
            flags: doc.text(img, &["FLAGS"]),
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
    fn decodes_utf16_with_or_without_bom() {
        let mut b = vec![0xFF, 0xFE];
        b.extend("<WIM/>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&b), "<WIM/>");
        assert_eq!(decode(&b[2..]), "<WIM/>");
    }
}
