//! Turning the bytes of a `.reg` file into text, the way regedit picks the
//! encoding: by the byte-order mark alone.

use encoding_rs::{Encoding, UTF_8, UTF_16LE, WINDOWS_1252};

use super::ReadError;

/// The encoding a `.reg` file was read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// `FF FE`: what regedit writes for `Windows Registry Editor Version 5.00`.
    Utf16Le,
    /// `EF BB BF`.
    Utf8Bom,
    /// No BOM, valid UTF-8 with non-ASCII text, and no code page asked for.
    Utf8,
    /// No BOM: an ANSI code page, as regedit reads `REGEDIT4` files.
    Ansi(&'static Encoding),
}

impl TextEncoding {
    pub fn label(self) -> String {
        match self {
            TextEncoding::Utf16Le => "UTF-16LE".into(),
            TextEncoding::Utf8Bom => "UTF-8 with BOM".into(),
            TextEncoding::Utf8 => "UTF-8 without BOM".into(),
            TextEncoding::Ansi(e) => e.name().into(),
        }
    }

    /// True when regedit treats the text as Unicode (`hex(2)` and `hex(7)`
    /// bytes are then UTF-16 already); false for ANSI files.
    pub fn is_unicode(self) -> bool {
        !matches!(self, TextEncoding::Ansi(_))
    }
}

#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    #[cfg_attr(not(test), allow(dead_code))]
    pub encoding: TextEncoding,
    /// Set when bytes did not decode and were replaced by U+FFFD.
    #[allow(dead_code)]
    pub had_errors: bool,
}

/// The code page named by `label`: a WHATWG label (`windows-1251`, `gbk`,
/// `shift_jis`) or a Windows code page number (`1251`, `936`, `932`).
pub fn codepage(label: &str) -> Option<&'static Encoding> {
    let by_number = match label.trim() {
        "874" => Some("windows-874"),
        "932" => Some("shift_jis"),
        "936" => Some("gbk"),
        "949" => Some("euc-kr"),
        "950" => Some("big5"),
        "1250" | "1251" | "1252" | "1253" | "1254" | "1255" | "1256" | "1257" | "1258" => None,
        "65001" => Some("utf-8"),
        _ => None,
    };
    let label = match by_number {
        Some(l) => l.to_owned(),
        None if label.trim().len() == 4 && label.trim().starts_with("125") => {
            format!("windows-{}", label.trim())
        }
        None => label.trim().to_owned(),
    };
    Encoding::for_label(label.as_bytes())
}

/// The encoding of a file from its first bytes (`head`; `complete` when it
/// is the whole file), and how many bytes its byte-order mark takes.
pub fn detect(
    head: &[u8],
    complete: bool,
    ansi: Option<&'static Encoding>,
) -> Result<(TextEncoding, usize), ReadError> {
    if head.is_empty() {
        return Err(ReadError::Empty);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Ok((TextEncoding::Utf16Le, 2));
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Err(ReadError::Utf16BigEndian);
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok((TextEncoding::Utf8Bom, 3));
    }
    // "W\0i\0n\0" or "R\0E\0G\0": UTF-16 that lost its BOM; regedit refuses it.
    if head.len() >= 4 && head[0] != 0 && head[1] == 0 && head[3] == 0 {
        return Err(ReadError::Utf16WithoutBom);
    }
    let utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A character cut at the end of the head is no evidence against UTF-8.
        Err(e) => !complete && e.error_len().is_none(),
    };
    let encoding = match ansi {
        Some(e) if e == UTF_8 => TextEncoding::Utf8,
        Some(e) => TextEncoding::Ansi(e),
        None if !head.is_ascii() && utf8 => TextEncoding::Utf8,
        None => TextEncoding::Ansi(WINDOWS_1252),
    };
    Ok((encoding, 0))
}

/// Decodes `bytes` whole. `ansi` is the code page for files without a BOM;
/// `None` means "Windows-1252, or UTF-8 when the bytes are clearly UTF-8".
pub fn decode(bytes: &[u8], ansi: Option<&'static Encoding>) -> Result<Decoded, ReadError> {
    let (encoding, bom) = detect(bytes, true, ansi)?;
    let body = &bytes[bom..];
    let (text, had_errors) = match encoding {
        TextEncoding::Utf16Le if body.len() % 2 != 0 => {
            return Err(ReadError::Utf16Truncated { len: bytes.len() });
        }
        TextEncoding::Utf16Le => UTF_16LE.decode_without_bom_handling(body),
        TextEncoding::Ansi(e) => e.decode_without_bom_handling(body),
        TextEncoding::Utf8 | TextEncoding::Utf8Bom => UTF_8.decode_without_bom_handling(body),
    };
    Ok(Decoded {
        text: text.into_owned(),
        encoding,
        had_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_by_bom() {
        let d = decode(b"\xFF\xFEA\0", None).unwrap();
        assert_eq!((d.text.as_str(), d.encoding), ("A", TextEncoding::Utf16Le));
        assert!(matches!(
            decode(b"\xFF\xFEA", None),
            Err(ReadError::Utf16Truncated { len: 3 })
        ));
        assert!(matches!(
            decode(b"\xFE\xFF\0A", None),
            Err(ReadError::Utf16BigEndian)
        ));
        assert!(matches!(
            decode(b"R\0E\0", None),
            Err(ReadError::Utf16WithoutBom)
        ));
        let d = decode("é".as_bytes(), None).unwrap();
        assert_eq!(d.encoding, TextEncoding::Utf8);
        let d = decode(b"\xe9", None).unwrap();
        assert_eq!(
            (d.text.as_str(), d.encoding),
            ("é", TextEncoding::Ansi(WINDOWS_1252))
        );
        let d = decode(b"\xef", codepage("1251")).unwrap();
        assert_eq!(d.text, "п");
    }

    #[test]
    fn code_page_numbers() {
        assert_eq!(codepage("1251").unwrap().name(), "windows-1251");
        assert_eq!(codepage("936").unwrap().name(), "GBK");
        assert_eq!(codepage("koi8-u").unwrap().name(), "KOI8-U");
        assert!(codepage("12345").is_none());
    }
}
