//! The `.reg` grammar, one behaviour at a time, read the way regedit applies
//! a file.
//!
//! Every key and value expected below was checked by importing the same
//! bytes under `HKEY_CURRENT_USER\T` with `reg import` in Wine 8 and reading
//! back what it created; the line and column of each diagnostic are tlsreg's
//! own. The cases were chosen from the behaviours Wine's import tests describe
//! (`programs/reg/tests/import.c`, `programs/regedit/tests/regedit.c`), which
//! also run on Windows. Where Wine 8 and Windows differ, or tlsreg departs from
//! Wine on purpose, a comment says which way the test goes and why.

use encoding_rs::{Encoding, WINDOWS_1252};
use tlsreg::regfile::{self, ReadError, RegFile, TextEncoding, Version};
use tlsreg::registry::value::{
    REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD,
    REG_SZ,
};
use tlsreg::registry::{Diagnostic, Key, Severity};

const V5: &str = "Windows Registry Editor Version 5.00";
const V4: &str = "REGEDIT4";
const KEY_T: &str = r"[HKEY_CURRENT_USER\T]";

// ---------------------------------------------------------------------------
// Helpers

/// `text` as UTF-16LE behind the `FF FE` byte-order mark, as regedit exports.
fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// `text` in an ANSI code page, as a `REGEDIT4` file is written.
fn ansi(text: &str, encoding: &'static Encoding) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable, "{text:?} does not fit {}", encoding.name());
    bytes.into_owned()
}

/// `lines`, each ended by CRLF, as regedit writes them.
fn crlf(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

/// What importing one file left behind.
struct Import {
    file: RegFile,
    root: Key,
}

/// Reads `bytes` (`ansi`: the code page for a file without a BOM) and applies
/// the result to an empty registry.
fn import(bytes: &[u8], ansi: Option<&'static Encoding>) -> Import {
    let file = regfile::read(bytes, 0, ansi).unwrap_or_else(|e| panic!("not read: {e}"));
    let mut root = Key::new("");
    regfile::apply(&mut root, file.ops());
    Import { file, root }
}

/// A UTF-16 file: the version 5 header, `[HKEY_CURRENT_USER\T]` and `body`,
/// one line each. The first body line is line 3.
fn v5(body: &[&str]) -> Import {
    let text = format!("{V5}\r\n{KEY_T}\r\n{}", crlf(body));
    import(&utf16(&text), None)
}

/// The same as an ANSI `REGEDIT4` file in Windows-1252.
fn v4(body: &[&str]) -> Import {
    let text = format!("{V4}\r\n{KEY_T}\r\n{}", crlf(body));
    import(&ansi(&text, WINDOWS_1252), Some(WINDOWS_1252))
}

/// A value as the registry holds it: its type and raw bytes.
type Data = (u32, Vec<u8>);

/// REG_SZ `s`: UTF-16LE with its NUL terminator.
fn sz(s: &str) -> Data {
    (REG_SZ, wide(s))
}

/// `s` as UTF-16LE bytes with a NUL terminator.
fn wide(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn dword(v: u32) -> Data {
    (REG_DWORD, v.to_le_bytes().to_vec())
}

fn typed(kind: u32, bytes: &[u8]) -> Data {
    (kind, bytes.to_vec())
}

impl Import {
    /// `HKEY_CURRENT_USER\T\<path>`.
    fn key(&self, path: &[&str]) -> Option<&Key> {
        let mut full = vec!["HKEY_CURRENT_USER", "T"];
        full.extend_from_slice(path);
        self.root.find(&full)
    }

    /// Value `name` of `HKEY_CURRENT_USER\T`.
    fn get(&self, name: &str) -> Option<Data> {
        self.get_in(&[], name)
    }

    /// Value `name` of `HKEY_CURRENT_USER\T\<path>`.
    fn get_in(&self, path: &[&str], name: &str) -> Option<Data> {
        let entry = self.key(path)?.value(name)?;
        Some((entry.value.kind, entry.value.data.clone()))
    }

    /// The names of the values of `HKEY_CURRENT_USER\T\<path>`, sorted.
    fn names(&self, path: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = self
            .key(path)
            .map(|k| k.values().iter().map(|e| e.name.clone()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The names of the subkeys of `HKEY_CURRENT_USER\T\<path>`.
    fn subkeys(&self, path: &[&str]) -> Vec<String> {
        self.key(path)
            .map(|k| k.subkeys().map(|s| s.name().to_owned()).collect())
            .unwrap_or_default()
    }

    fn diagnostics(&self, code: &str) -> Vec<&Diagnostic> {
        self.file
            .diagnostics()
            .iter()
            .filter(|d| d.code == code)
            .collect()
    }

    /// `(line, column)` of every line reported as skipped, in order.
    fn skipped(&self) -> Vec<(u32, u32)> {
        self.diagnostics("skipped-line")
            .iter()
            .map(|d| {
                let at = d.origin.expect("a skipped line has a place");
                (at.line, at.column)
            })
            .collect()
    }

    fn skipped_lines(&self) -> Vec<u32> {
        self.skipped().iter().map(|&(line, _)| line).collect()
    }
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Headers

#[test]
fn version_5_header_in_utf16() {
    let imp = v5(&[r#""v"="x""#]);
    assert_eq!(imp.file.version(), Version::Regedit5);
    assert_eq!(imp.file.encoding, TextEncoding::Utf16Le);
    assert_eq!(imp.get("v"), Some(sz("x")));
}

#[test]
fn regedit4_header_in_ansi() {
    let imp = v4(&[r#""v"="x""#]);
    assert_eq!(imp.file.version(), Version::Regedit4);
    assert_eq!(imp.file.encoding, TextEncoding::Ansi(WINDOWS_1252));
    assert_eq!(imp.get("v"), Some(sz("x")));
}

#[test]
fn header_may_be_indented_with_blanks() {
    for header in [
        "  REGEDIT4",
        "\tREGEDIT4",
        " \t Windows Registry Editor Version 5.00",
    ] {
        let text = format!("{header}\r\n{KEY_T}\r\n\"v\"=\"x\"\r\n");
        let imp = import(text.as_bytes(), Some(WINDOWS_1252));
        assert_eq!(imp.get("v"), Some(sz("x")), "{header:?}");
    }
}

#[test]
fn header_and_encoding_are_independent() {
    // The version 5 header in an ANSI file: `hex(2)` bytes are ANSI text.
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=hex(2):41,42\r\n");
    let imp = import(text.as_bytes(), Some(WINDOWS_1252));
    assert_eq!(imp.file.version(), Version::Regedit5);
    assert_eq!(imp.get("v"), Some((REG_EXPAND_SZ, wide("AB"))));

    // REGEDIT4 in a UTF-16 file: `hex(2)` bytes are UTF-16 already.
    let text = format!("{V4}\r\n{KEY_T}\r\n\"v\"=hex(2):41,00,42,00\r\n");
    let imp = import(&utf16(&text), None);
    assert_eq!(imp.file.version(), Version::Regedit4);
    assert_eq!(imp.get("v"), Some((REG_EXPAND_SZ, wide("AB"))));
}

#[test]
fn fuzzy_headers_are_accepted_but_import_nothing() {
    // `REGEDIT` followed by anything: reg.exe exits 0 and changes nothing.
    // A trailing blank after a real header makes it one of these.
    for header in [
        "REGEDIT4 ",
        "REGEDIT4\t",
        "REGEDIT 4",
        "REGEDIT3",
        "REGEDIT5",
        "REGEDIT4FOO",
        "REGEDIT4 FOO",
    ] {
        let text = format!("{header}\r\n{KEY_T}\r\n\"v\"=\"x\"\r\n");
        let file = regfile::read(text.as_bytes(), 0, None).expect(header);
        assert_eq!(file.version(), Version::Fuzzy, "{header:?}");
        assert!(file.ops().is_empty(), "{header:?}");
        let d = &file.diagnostics()[0];
        assert_eq!((d.code, d.severity), ("fuzzy-header", Severity::Error));
        let at = d.origin.expect("origin");
        assert_eq!((at.line, at.column), (1, 1));
    }
}

#[test]
fn rejected_headers() {
    // reg.exe exits 1 on all of these and imports nothing.
    for header in [
        "Windows Registry Editor Version 5.00 ",
        "regedit4",
        "Regedit4",
        "regedit",
        "Windows Registry Editor Version 4.00",
        "Windows Registry Editor Version 5",
        "WINDOWS REGISTRY EDITOR VERSION 5.00",
        "Windows Registry Editor version 5.00",
        "AREGEDIT4",
        "1REGEDIT4",
        "",
    ] {
        let text = format!("{header}\r\nREGEDIT4\r\n{KEY_T}\r\n\"v\"=\"x\"\r\n");
        for bytes in [text.clone().into_bytes(), utf16(&text)] {
            match regfile::read(&bytes, 0, None) {
                Err(ReadError::NoHeader { .. }) => {}
                other => panic!("{header:?}: {:?}", other.map(|f| f.version())),
            }
        }
    }
}

#[test]
fn windows_3_1_files_set_default_values_under_hkcr() {
    // `REGEDIT` alone: lines `HKEY_CLASSES_ROOT\path = value`. After the key,
    // blanks, one optional `=`, and at most one space are skipped.
    for (line, expected) in [
        (r"HKEY_CLASSES_ROOT\T = Value0", "Value0"),
        (r"HKEY_CLASSES_ROOT\T =Value1", "Value1"),
        (r"HKEY_CLASSES_ROOT\T =  Value2", " Value2"),
        (r"HKEY_CLASSES_ROOT\T = Value3 ", "Value3 "),
        (r"HKEY_CLASSES_ROOT\T Value4", "Value4"),
        (r"HKEY_CLASSES_ROOT\T  Value5", "Value5"),
        (r"HKEY_CLASSES_ROOT\T", ""),
        ("HKEY_CLASSES_ROOT\\T\t=\tTab", "\tTab"),
    ] {
        let imp = import(format!("REGEDIT\r\n{line}\r\n").as_bytes(), None);
        assert_eq!(imp.file.version(), Version::Win31);
        let key = imp.root.find(&["HKEY_CLASSES_ROOT", "T"]).expect(line);
        let value = key.value("").expect(line);
        assert_eq!((value.value.kind, value.value.data.clone()), sz(expected));
    }

    let imp = import(b"REGEDIT\r\nHKEY_CLASSES_ROOT\\T\\Sub = x", None);
    let sub = imp
        .root
        .find(&["HKEY_CLASSES_ROOT", "T", "Sub"])
        .expect("Sub");
    assert_eq!(sub.value("").map(|e| e.value.data.clone()), Some(wide("x")));
}

#[test]
fn windows_3_1_lines_regedit_ignores() {
    for line in [
        r" HKEY_CLASSES_ROOT\T = lead",
        r"hkey_classes_root\T = lower",
        r";HKEY_CLASSES_ROOT\T = comment",
        r"HKEY_CLASSES_ROOTX\T = no such root",
        r"[HKEY_CLASSES_ROOT\T]",
        r#""v"="x""#,
    ] {
        let imp = import(format!("REGEDIT\r\n{line}\r\n").as_bytes(), None);
        assert!(imp.file.ops().is_empty(), "{line:?}");
    }
}

// ---------------------------------------------------------------------------
// Encodings

#[test]
fn utf16_with_bom_reads_any_text() {
    let text = format!("{V5}\r\n[HKEY_CURRENT_USER\\T\\Ключ]\r\n\"名前\"=\"café ✓\"\r\n");
    let imp = import(&utf16(&text), None);
    assert_eq!(imp.get_in(&["Ключ"], "名前"), Some(sz("café ✓")));
    assert!(imp.file.diagnostics().is_empty());
}

#[test]
fn utf16_without_bom_or_big_endian_is_refused() {
    // "The specified file is not a registry script".
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=\"x\"\r\n");
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(matches!(
        regfile::read(&le, 0, None),
        Err(ReadError::Utf16WithoutBom)
    ));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    assert!(matches!(
        regfile::read(&be, 0, None),
        Err(ReadError::Utf16BigEndian)
    ));
}

#[test]
fn ansi_windows_1252() {
    let imp = v4(&[r#""café"="crème""#]);
    assert_eq!(imp.get("café"), Some(sz("crème")));
    // Without a code page asked for, bytes that are not UTF-8 are read as
    // Windows-1252, the ANSI code page of western Windows.
    let text = format!("{V4}\r\n{KEY_T}\r\n\"v\"=\"crème\"\r\n");
    let imp = import(&ansi(&text, WINDOWS_1252), None);
    assert_eq!(imp.file.encoding, TextEncoding::Ansi(WINDOWS_1252));
    assert_eq!(imp.get("v"), Some(sz("crème")));
}

#[test]
fn ansi_in_another_code_page() {
    // Checked with Wine running under a Russian locale (ANSI code page 1251).
    let cp1251 = regfile::codepage("1251").expect("1251");
    let text = format!(
        "{V4}\r\n{KEY_T}\r\n{}",
        crlf(&[
            r#""v"="привет""#,
            r#""e"=hex(2):ef,f0,00"#,
            r#""m"=hex(7):ef,00,f0,00,00"#,
            r#""s"=hex(1):ef,f0"#,
        ])
    );
    let imp = import(&ansi(&text, cp1251), Some(cp1251));
    assert_eq!(imp.file.encoding, TextEncoding::Ansi(cp1251));
    assert_eq!(imp.get("v"), Some(sz("привет")));
    assert_eq!(imp.get("e"), Some((REG_EXPAND_SZ, wide("пр"))));
    assert_eq!(
        imp.get("m"),
        Some(typed(REG_MULTI_SZ, &[0x3f, 4, 0, 0, 0x40, 4, 0, 0, 0, 0]))
    );
    assert_eq!(imp.get("s"), Some(sz("пр")));
}

#[test]
fn string_types_given_as_hex_in_an_ansi_file() {
    // The bytes are ANSI text: regedit converts them to UTF-16 and adds one
    // NUL when the last byte is not NUL. Other types keep their bytes.
    let imp = v4(&[
        r#""a"=hex(2):25,50,41,54,48,25"#,
        r#""b"=hex(2):25,50,41,54,48,25,00"#,
        r#""c"=hex(7):4c,69,6e,65"#,
        r#""d"=hex(7):4c,69,6e,65,00,00"#,
        r#""e"=hex(2):"#,
        r#""f"=hex(1):41,42"#,
        r#""g"=hex(2):e9,00"#,
        r#""h"=hex(0):41,42"#,
        r#""i"=hex(3):41,42"#,
    ]);
    assert_eq!(imp.get("a"), Some((REG_EXPAND_SZ, wide("%PATH%"))));
    assert_eq!(imp.get("b"), Some((REG_EXPAND_SZ, wide("%PATH%"))));
    assert_eq!(imp.get("c"), Some((REG_MULTI_SZ, wide("Line"))));
    assert_eq!(imp.get("d"), Some((REG_MULTI_SZ, wide("Line\0"))));
    assert_eq!(imp.get("e"), Some(typed(REG_EXPAND_SZ, &[])));
    assert_eq!(imp.get("f"), Some(sz("AB")));
    assert_eq!(imp.get("g"), Some((REG_EXPAND_SZ, wide("é"))));
    assert_eq!(imp.get("h"), Some(typed(REG_NONE, &[0x41, 0x42])));
    assert_eq!(imp.get("i"), Some(typed(REG_BINARY, &[0x41, 0x42])));
}

#[test]
fn string_types_given_as_hex_in_a_unicode_file() {
    // The bytes are UTF-16LE already; one NUL unit is added when the last
    // unit is not NUL.
    let imp = v5(&[
        r#""a"=hex(2):25,00,50,00"#,
        r#""b"=hex(2):25,00,50,00,00,00"#,
        r#""c"=hex(7):4c,00,69,00"#,
        r#""d"=hex(7):4c,00,00,00,00,00"#,
        r#""e"=hex(2):"#,
        r#""f"=hex(1):41,00,42,00"#,
        r#""g"=hex(1):41,00,00,00,42,00"#,
    ]);
    assert_eq!(imp.get("a"), Some((REG_EXPAND_SZ, wide("%P"))));
    assert_eq!(imp.get("b"), Some((REG_EXPAND_SZ, wide("%P"))));
    assert_eq!(imp.get("c"), Some((REG_MULTI_SZ, wide("Li"))));
    assert_eq!(imp.get("d"), Some((REG_MULTI_SZ, wide("L\0"))));
    assert_eq!(imp.get("e"), Some(typed(REG_EXPAND_SZ, &[])));
    assert_eq!(imp.get("f"), Some(sz("AB")));
    assert_eq!(imp.get("g"), Some(sz("A\0B")));
}

#[test]
fn utf8_without_bom_is_ansi_to_regedit() {
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=\"café\"\r\n");
    // Read in the ANSI code page, as regedit does, the text is mojibake.
    let imp = import(text.as_bytes(), Some(WINDOWS_1252));
    assert_eq!(imp.get("v"), Some(sz("cafÃ©")));
    // Left to guess, tlsreg reads valid UTF-8 as UTF-8 but warns that
    // regedit would not.
    let imp = import(text.as_bytes(), None);
    assert_eq!(imp.file.encoding, TextEncoding::Utf8);
    let d = imp.diagnostics("encoding");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Warning);
}

#[test]
fn utf8_with_bom() {
    // Wine 8 refuses this file (exit 1): it does not know the UTF-8 BOM.
    // Wine's tests do not cover UTF-8; a community test reports that regedit
    // on Windows 10 imports it, so tlsreg reads it as UTF-8 and notes that.
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(format!("{V5}\r\n{KEY_T}\r\n\"v\"=\"café\"\r\n").bytes());
    let imp = import(&bytes, None);
    assert_eq!(imp.file.encoding, TextEncoding::Utf8Bom);
    assert_eq!(imp.get("v"), Some(sz("café")));
    let d = imp.diagnostics("encoding");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Info);
}

// ---------------------------------------------------------------------------
// Line ends

#[test]
fn lines_end_at_crlf_lf_or_cr() {
    let body = [
        V4,
        KEY_T,
        r#""a"="1""#,
        r#""b"=hex:01,\"#,
        "  02",
        r#""c"="3""#,
    ];
    let mixed = format!(
        "{}\r{}\n{}\r\n{}\n\r{}\r{}",
        body[0], body[1], body[2], body[3], body[4], body[5]
    );
    for text in [
        body.join("\r\n"),
        body.join("\n"),
        body.join("\r"),
        body.join("\r\r\n"),
        mixed,
    ] {
        let imp = import(text.as_bytes(), None);
        assert_eq!(imp.get("a"), Some(sz("1")), "{text:?}");
        assert_eq!(imp.get("b"), Some(typed(REG_BINARY, &[1, 2])), "{text:?}");
        assert_eq!(imp.get("c"), Some(sz("3")), "{text:?}");
    }
}

#[test]
fn the_last_line_needs_no_line_end() {
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=\"No newline\"");
    assert_eq!(import(&utf16(&text), None).get("v"), Some(sz("No newline")));
    let text = format!("{V4}\r\n{KEY_T}\r\n\"w\"=dword:50\r\n\r\n\"v\"=\"No newline\"");
    let imp = import(text.as_bytes(), None);
    assert_eq!(imp.get("w"), Some(dword(0x50)));
    assert_eq!(imp.get("v"), Some(sz("No newline")));
}

#[test]
fn blank_lines_are_not_needed_and_not_harmful() {
    let text = format!(
        "{V4}\r\n{KEY_T}\r\n[HKEY_CURRENT_USER\\T\\a]\r\n\"v\"=\"1\"\r\n\r\n\r\n\"w\"=\"2\"\r\n"
    );
    let imp = import(text.as_bytes(), None);
    assert_eq!(imp.names(&["a"]), names(&["v", "w"]));
}

// ---------------------------------------------------------------------------
// Key lines

#[test]
fn a_key_line_creates_every_missing_parent() {
    let imp = v5(&[r"[HKEY_CURRENT_USER\T\a\b\c]", r#""v"="1""#]);
    assert_eq!(imp.get_in(&["a", "b", "c"], "v"), Some(sz("1")));
    assert!(imp.key(&["a", "b"]).is_some_and(|k| k.values().is_empty()));
}

#[test]
fn root_names_are_case_insensitive() {
    let imp = v5(&[
        r"[hkey_CURRENT_user\T\Subkey3a]",
        r"[HkEy_CuRrEnT_uSeR\T\SuBkEy3b]",
    ]);
    assert_eq!(imp.subkeys(&[]), ["Subkey3a", "SuBkEy3b"]);
}

#[test]
fn the_key_name_runs_to_the_last_bracket() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\a] junk",
        r#""v"="1""#,
        r"[HKEY_CURRENT_USER\T\c] ;see [d]",
        r#""w"="2""#,
    ]);
    // Text after the last `]` is ignored, with a warning.
    assert_eq!(imp.get_in(&["a"], "v"), Some(sz("1")));
    let ignored = imp.diagnostics("ignored-text");
    assert_eq!(ignored.len(), 1);
    let at = ignored[0].origin.expect("origin");
    assert_eq!((at.line, at.column), (3, 24));
    // A `]` in a comment moves the end of the name.
    assert_eq!(imp.get_in(&["c] ;see [d"], "w"), Some(sz("2")));
}

#[test]
fn trailing_blanks_are_part_of_the_key_name() {
    let imp = v5(&[r"[HKEY_CURRENT_USER\T\s ]", "[HKEY_CURRENT_USER\\T\\t\t]"]);
    assert_eq!(imp.subkeys(&[]), ["s ", "t\t"]);
}

#[test]
fn trailing_backslashes_are_dropped() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\e\]",
        r#""v"="1""#,
        r"[HKEY_CURRENT_USER\T\f\\]",
        r#""w"="2""#,
    ]);
    assert_eq!(imp.subkeys(&[]), ["e", "f"]);
    assert_eq!(imp.get_in(&["e"], "v"), Some(sz("1")));
    assert_eq!(imp.get_in(&["f"], "w"), Some(sz("2")));
}

#[test]
fn slash_quote_and_semicolon_are_legal_in_key_names() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\https://winehq.org]",
        r#"[HKEY_CURRENT_USER\T\a"b;c]"#,
    ]);
    assert_eq!(imp.subkeys(&[]), ["a\"b;c", "https://winehq.org"]);
}

#[test]
fn a_blank_after_the_bracket_ignores_the_line_but_keeps_the_key_open() {
    // Wine's tests check only that `x` and `y` are not created; Wine 8 puts
    // the values below such a line into the key opened before it.
    let imp = v5(&[
        r"[ HKEY_CURRENT_USER\T\x]",
        r#""v"="1""#,
        "[\tHKEY_CURRENT_USER\\T\\y]",
        r#""w"="2""#,
    ]);
    assert!(imp.subkeys(&[]).is_empty());
    assert_eq!(imp.names(&[]), names(&["v", "w"]));
    assert_eq!(imp.skipped(), [(3, 2), (5, 2)]);
}

#[test]
fn a_key_line_without_closing_bracket_is_ignored() {
    let imp = v5(&[r"[HKEY_CURRENT_USER\T\NoClosing", r#""v"="1""#]);
    assert!(imp.subkeys(&[]).is_empty());
    assert_eq!(imp.get("v"), Some(sz("1")));
    // The column is just past the end of the line, where `]` is missing.
    assert_eq!(imp.skipped(), [(3, 31)]);
}

#[test]
fn a_key_name_cannot_continue_on_the_next_line() {
    let imp = v5(&[r"[HKEY_CURRENT_USER\T\", r"Subkey1]", r#""v"="1""#]);
    assert!(imp.subkeys(&[]).is_empty());
    assert_eq!(imp.get("v"), Some(sz("1")));
    assert_eq!(imp.skipped_lines(), [3, 4]);
}

#[test]
fn a_line_without_a_bracket_is_not_a_key() {
    let imp = v5(&[r"HKEY_CURRENT_USER\T\NoOpening]", r#""v"="1""#]);
    assert!(imp.subkeys(&[]).is_empty());
    assert_eq!(imp.get("v"), Some(sz("1")));
}

#[test]
fn deleting_a_key_removes_its_tree_and_drops_the_values_after_it() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\a\b]",
        r#""x"="1""#,
        r"[HKEY_CURRENT_USER\T]",
        r"[-HKEY_CURRENT_USER\T\a]",
        r#""v"="1""#,
        r"[-HKEY_CURRENT_USER\T\missing]",
        r#""w"="2""#,
    ]);
    assert!(imp.subkeys(&[]).is_empty());
    // After `[-key]` no key is open, so `v` and `w` go nowhere.
    assert!(imp.names(&[]).is_empty());
    assert_eq!(imp.skipped_lines(), [7, 9]);
}

#[test]
fn a_blank_inside_a_delete_line_deletes_nothing() {
    // `[- key]` still closes the open key: the value after it is dropped.
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\a]",
        r"[HKEY_CURRENT_USER\T]",
        r"[- HKEY_CURRENT_USER\T\a]",
        r#""v"="1""#,
    ]);
    assert_eq!(imp.subkeys(&[]), ["a"]);
    assert!(imp.names(&[]).is_empty());
    // `[ -key]` is a key line with a blank after `[`: the key stays open.
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\a]",
        r"[HKEY_CURRENT_USER\T]",
        r"[ -HKEY_CURRENT_USER\T\a]",
        r#""v"="1""#,
    ]);
    assert_eq!(imp.subkeys(&[]), ["a"]);
    assert_eq!(imp.get("v"), Some(sz("1")));
}

#[test]
fn an_invalid_root_drops_the_values_below_it() {
    let imp = v5(&[r"[HKEY_CURRENT_USERS\T\x]", r#""v"="1""#]);
    assert_eq!(imp.get("v"), None);
    assert!(imp.subkeys(&[]).is_empty());
    assert_eq!(imp.skipped(), [(3, 2), (4, 1)]);
    for line in ["[]", "[-]", r"[-xyz\T]", r"[\T\x]"] {
        let imp = v5(&[line, r#""v"="1""#]);
        assert_eq!(imp.get("v"), None, "{line}");
    }
}

#[test]
fn a_short_root_is_read_with_a_warning() {
    // `reg import` (here Wine's) takes `HKCU`; Wine's regedit refuses the
    // key and drops the values below it. tlsreg reads it and says so.
    let imp = v5(&[r"[HKCU\T\s]", r#""v"="1""#, r"[hkcu\T\t]"]);
    assert_eq!(imp.get_in(&["s"], "v"), Some(sz("1")));
    assert!(imp.key(&["t"]).is_some());
    let short = imp.diagnostics("short-root");
    assert_eq!(short.len(), 2);
    assert_eq!(short[0].severity, Severity::Warning);
    let at = short[0].origin.expect("origin");
    assert_eq!((at.line, at.column), (3, 2));
    assert_eq!(
        short[0].suggestion.as_deref(),
        Some(r"[HKEY_CURRENT_USER\T\s]")
    );
}

#[test]
fn values_before_the_first_key_are_dropped() {
    let text = format!("{V5}\r\n\"v\"=\"1\"\r\n{KEY_T}\r\n\"w\"=\"2\"\r\n");
    let imp = import(&utf16(&text), None);
    assert_eq!(imp.names(&[]), ["w"]);
    assert_eq!(imp.skipped(), [(2, 1)]);
}

// ---------------------------------------------------------------------------
// Value names

#[test]
fn value_names_are_unescaped_like_strings() {
    let imp = v5(&[
        r#""double\"quote"="1""#,
        r#""\\foo\\bar"="2""#,
        r#""With=Equals"="3""#,
        r#""nl\n"="4""#,
        r#""a\qb"="5""#,
        r#""n\0"="6""#,
        r#""single'quote"=dword:8"#,
    ]);
    assert_eq!(
        imp.names(&[]),
        names(&[
            "double\"quote",
            "\\foo\\bar",
            "With=Equals",
            "nl\n",
            "aqb",
            "single'quote"
        ])
    );
    assert_eq!(imp.get("aqb"), Some(sz("5")));
    let escapes = imp.diagnostics("unknown-escape");
    assert_eq!(escapes.len(), 1);
    let at = escapes[0].origin.expect("origin");
    assert_eq!((at.line, at.column), (7, 3));
    // `\0` ends nothing: the whole line is dropped.
    assert_eq!(imp.skipped(), [(8, 3)]);
}

#[test]
fn blanks_around_names_and_equals() {
    let imp = v5(&[
        r#"  "  sp  "  =  "  x  "  "#,
        "\t\t\"tabs\"\t\t=\t\"y\"",
        r#""w"    =    dword:  8"#,
    ]);
    assert_eq!(imp.get("  sp  "), Some(sz("  x  ")));
    assert_eq!(imp.get("tabs"), Some(sz("y")));
    assert_eq!(imp.get("w"), Some(dword(8)));
}

#[test]
fn the_default_value() {
    for line in [r#"@="d""#, r#"""="d""#, r#"@ = "d""#, "\t@\t=\t\"d\"\t"] {
        let imp = v5(&[line]);
        assert_eq!(imp.get(""), Some(sz("d")), "{line:?}");
        assert_eq!(imp.names(&[]), [""], "{line:?}");
    }
    let imp = v5(&["\t@\t=\tdword:\t00000008\t"]);
    assert_eq!(imp.get(""), Some(dword(8)));
    let imp = v5(&[r#"@x="d""#]);
    assert!(imp.names(&[]).is_empty());
}

#[test]
fn malformed_value_names_are_dropped() {
    let imp = v5(&[
        r#"NameNoQuotes="1""#,
        r#""NameNoEndQuote="2""#,
        r#"NameNoBeginQuote"="3""#,
        r#""MixedQuotes=Asdffdsa""#,
        r#""Wine\"#,
        r#"42a"="4""#,
        r#""Wine"#,
        r#"\42c"="5""#,
        r#""kept"="6""#,
    ]);
    assert_eq!(imp.names(&[]), ["kept"]);
    assert_eq!(imp.skipped_lines(), [3, 4, 5, 6, 7, 8, 9, 10]);
}

// ---------------------------------------------------------------------------
// Strings

#[test]
fn string_escapes() {
    let imp = v5(&[
        r#""a"="x\\y\"z""#,
        r#""b"="l1\nl2\rl3""#,
        r#""c"="\\0""#,
        r##""d"="#comment""##,
        r#""e"="Value ;comment""#,
        r#""f"="    spaces	and tab""#,
        r#""g"="""#,
    ]);
    assert_eq!(imp.get("a"), Some(sz("x\\y\"z")));
    assert_eq!(imp.get("b"), Some(sz("l1\nl2\rl3")));
    assert_eq!(imp.get("c"), Some(sz("\\0")));
    assert_eq!(imp.get("d"), Some(sz("#comment")));
    assert_eq!(imp.get("e"), Some(sz("Value ;comment")));
    assert_eq!(imp.get("f"), Some(sz("    spaces\tand tab")));
    assert_eq!(imp.get("g"), Some(typed(REG_SZ, &[0, 0])));
}

#[test]
fn an_escaped_nul_drops_the_string() {
    // Wine's tests expect the line dropped on every Windows they run on.
    let imp = v5(&[
        r#""a"="\0""#,
        r#""b"="Value1\0""#,
        r#""c"="\0Value5""#,
        r#""d"="kept""#,
    ]);
    assert_eq!(imp.names(&[]), ["d"]);
    assert_eq!(imp.skipped(), [(3, 6), (4, 12), (5, 6)]);
}

#[test]
fn an_unknown_escape_is_kept_literally_with_a_warning() {
    let imp = v5(&[r#""e"="a\qb\tc""#]);
    assert_eq!(imp.get("e"), Some(sz("aqbtc")));
    let escapes = imp.diagnostics("unknown-escape");
    let places: Vec<(u32, u32)> = escapes
        .iter()
        .filter_map(|d| d.origin.map(|at| (at.line, at.column)))
        .collect();
    assert_eq!(places, [(3, 7), (3, 10)]);
    assert!(escapes.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn a_string_must_close_on_its_line() {
    let imp = v5(&[
        r#""a"="open"#,
        r#""b"="end\""#,
        r#""c"="trail\"#,
        r#""d"="Test \"#,
        r#"Value""#,
        r#""e"="kept""#,
    ]);
    assert_eq!(imp.names(&[]), ["e"]);
    assert_eq!(imp.skipped_lines(), [3, 4, 5, 6, 7]);
}

#[test]
fn only_blanks_or_a_semicolon_comment_may_follow_a_string() {
    let imp = v5(&[
        r#""a"="foo"bar""#,
        r#""b"="foo""bar""#,
        r#""c"="ok" ;c"#,
        r#""d"="ok";c"#,
        "\"e\"=\"ok\"\t\t;c",
        r#""f"="sp"   "#,
        r#""g"="no" #c"#,
        r##""h"="no"#c"##,
    ]);
    assert_eq!(imp.names(&[]), names(&["c", "d", "e", "f"]));
    for name in ["c", "d", "e"] {
        assert_eq!(imp.get(name), Some(sz("ok")));
    }
    assert_eq!(imp.get("f"), Some(sz("sp")));
    assert_eq!(imp.skipped(), [(3, 10), (4, 10), (9, 10), (10, 9)]);
}

#[test]
fn data_that_is_no_known_type_is_dropped() {
    let imp = v5(&[
        r#""a"="#,
        r#""b"=\"v\""#,
        r#""c"=Asdffdsa"#,
        r#""d"=#"x""#,
        r#""e"=;"x""#,
        r#""f"=qword:1"#,
        r#""g"=str:"x""#,
    ]);
    assert!(imp.names(&[]).is_empty());
    assert_eq!(imp.skipped_lines(), [3, 4, 5, 6, 7, 8, 9]);
}

// ---------------------------------------------------------------------------
// dword:

#[test]
fn dword_takes_one_to_eight_hex_digits() {
    let imp = v5(&[
        r#""a"=dword:1"#,
        r#""b"=dword:4444"#,
        r#""c"=dword:12345678"#,
        r#""d"=dword:ABCDEF01"#,
        r#""e"=dword:fffffffF"#,
        r#""f"=dword:  8"#,
        "\"g\"=dword:\t9",
        r#""h"=dword:1   "#,
    ]);
    assert_eq!(imp.get("a"), Some(dword(1)));
    assert_eq!(imp.get("b"), Some(dword(0x4444)));
    assert_eq!(imp.get("c"), Some(dword(0x1234_5678)));
    assert_eq!(imp.get("d"), Some(dword(0xabcd_ef01)));
    assert_eq!(imp.get("e"), Some(dword(0xffff_ffff)));
    assert_eq!(imp.get("f"), Some(dword(8)));
    assert_eq!(imp.get("g"), Some(dword(9)));
    assert_eq!(imp.get("h"), Some(dword(1)));
}

#[test]
fn malformed_dwords_are_dropped() {
    let imp = v5(&[
        r#""a"=dword:123456789"#,
        r#""b"=dword:000000001"#,
        r#""c"=dword:0x123"#,
        r#""d"=dword:"#,
        r#""e"=dword:hello"#,
        r#""f"=dword:123 456"#,
        r#""g"=dword:12345678abc"#,
        r#""h"=DWORD:1"#,
        r#""i"=Dword:1"#,
        r#""j"=dword :1"#,
        r#""k"=dword:-1"#,
        r#""l"=dword:+1"#,
        r#""m"=dword:1234\"#,
        "5678",
    ]);
    assert!(imp.names(&[]).is_empty());
    assert_eq!(imp.skipped_lines(), (3..=16).collect::<Vec<u32>>());
    // The column points at what follows `dword:`.
    assert_eq!(imp.skipped()[0], (3, 11));
}

#[test]
fn comments_after_a_dword() {
    let imp = v5(&[
        r#""a"=dword:1234;5678"#,
        r#""b"=dword:1234 ;5678"#,
        r#""c"=dword:1234#5678"#,
        r#""d"=dword:1234 #5678"#,
        // No digits before the comment: regedit stores 0 (Wine's tests do
        // not cover this; Wine 8 stores 0).
        r#""e"=dword:;comment"#,
    ]);
    assert_eq!(imp.get("a"), Some(dword(0x1234)));
    assert_eq!(imp.get("b"), Some(dword(0x1234)));
    assert_eq!(imp.get("c"), None);
    assert_eq!(imp.get("d"), None);
    assert_eq!(imp.get("e"), Some(dword(0)));
}

// ---------------------------------------------------------------------------
// hex: and hex(N):

#[test]
fn hex_types() {
    let imp = v5(&[
        r#""a"=hex:"#,
        r#""b"=hex(0):"#,
        r#""c"=hex(0):56,61"#,
        r#""d"=hex(b):01,02,03,04,05,06,07,08"#,
        r#""e"=hex(B):01,02,03,04,05,06,07,08"#,
        r#""f"=hex(5):00,00,00,01"#,
        r#""g"=hex(3):01"#,
        r#""h"=hex(abcd):"#,
        r#""i"=hex(7fffffff):01"#,
        r#""j"=hex(07fffffff):01"#,
        // Wine 8 also drops this one when an out-of-range type such as
        // `hex(100000000)` came earlier in the file (a stale `errno`).
        r#""k"=hex(ffffffff):01"#,
        r#""l"=hex:aB,Cd"#,
    ]);
    assert_eq!(imp.get("a"), Some(typed(REG_BINARY, &[])));
    assert_eq!(imp.get("b"), Some(typed(REG_NONE, &[])));
    assert_eq!(imp.get("c"), Some(typed(REG_NONE, &[0x56, 0x61])));
    let qword = [1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(imp.get("d"), Some(typed(REG_QWORD, &qword)));
    assert_eq!(imp.get("e"), Some(typed(REG_QWORD, &qword)));
    assert_eq!(
        imp.get("f"),
        Some(typed(REG_DWORD_BIG_ENDIAN, &[0, 0, 0, 1]))
    );
    assert_eq!(imp.get("g"), Some(typed(REG_BINARY, &[1])));
    assert_eq!(imp.get("h"), Some(typed(0xabcd, &[])));
    assert_eq!(imp.get("i"), Some(typed(0x7fff_ffff, &[1])));
    assert_eq!(imp.get("j"), Some(typed(0x7fff_ffff, &[1])));
    assert_eq!(imp.get("k"), Some(typed(0xffff_ffff, &[1])));
    assert_eq!(imp.get("l"), Some(typed(REG_BINARY, &[0xab, 0xcd])));
}

#[test]
fn a_dword_of_the_wrong_length_keeps_its_bytes() {
    // Checked in Wine's own registry file: Wine's `reg export` prints such a
    // value as `dword:` made of four bytes, whatever its length.
    let imp = v5(&[
        r#""a"=hex(4):01,02,03,04,05,06,07,08"#,
        r#""b"=hex(4):01,02"#,
        r#""c"=hex(4):"#,
        r#""d"=hex(4):40,30,20,10"#,
    ]);
    assert_eq!(
        imp.get("a"),
        Some(typed(REG_DWORD, &[1, 2, 3, 4, 5, 6, 7, 8]))
    );
    assert_eq!(imp.get("b"), Some(typed(REG_DWORD, &[1, 2])));
    assert_eq!(imp.get("c"), Some(typed(REG_DWORD, &[])));
    assert_eq!(imp.get("d"), Some(dword(0x1020_3040)));
}

#[test]
fn the_hex_type_number_is_read_like_strtoul() {
    // Blanks and a sign before the digits are taken, and no digits at all
    // read as 0. (Wine's tests do not cover these; Wine 8 reads them so.)
    let imp = v5(&[
        r#""a"=hex( 3):01"#,
        r#""b"=hex(+4):01,00,00,00"#,
        r#""c"=hex(-1):02"#,
        r#""d"=hex():04"#,
    ]);
    assert_eq!(imp.get("a"), Some(typed(REG_BINARY, &[1])));
    assert_eq!(imp.get("b"), Some(dword(1)));
    assert_eq!(imp.get("c"), Some(typed(0xffff_ffff, &[2])));
    assert_eq!(imp.get("d"), Some(typed(REG_NONE, &[4])));
}

#[test]
fn malformed_hex_types_are_dropped() {
    let imp = v5(&[
        r#""a"=hex(100000000):01"#,
        r#""b"=hex(0x2):41,00"#,
        r#""c"=hex(0X2):41,00"#,
        r#""d"=hex(x2):41,00"#,
        r#""e"=HEX:01"#,
        r#""f"=hex(2) :41,00"#,
        r#""g"=hex (2):41,00"#,
        r#""h"=hex(2:41,00"#,
    ]);
    assert!(imp.names(&[]).is_empty());
    assert_eq!(imp.skipped_lines(), (3..=10).collect::<Vec<u32>>());
}

#[test]
fn hex_byte_lists() {
    let imp = v5(&[
        r#""a"=hex:11,22,"#,
        r#""b"=hex:11, 22"#,
        r#""c"=hex:1,2,3"#,
        r#""d"=hex:11,22 ;c"#,
        r#""e"=hex:11,22;c"#,
        r#""f"=hex:0x11,22"#,
        r#""g"=hex:11,22,   "#,
    ]);
    for name in ["a", "b", "d", "e", "f", "g"] {
        assert_eq!(
            imp.get(name),
            Some(typed(REG_BINARY, &[0x11, 0x22])),
            "{name}"
        );
    }
    assert_eq!(imp.get("c"), Some(typed(REG_BINARY, &[1, 2, 3])));
}

#[test]
fn malformed_hex_byte_lists_are_dropped() {
    let imp = v5(&[
        r#""a"=hex:11,,22"#,
        r#""b"=hex:11 ,22"#,
        r#""c"=hex:100"#,
        r#""d"=hex(0):25,1a4,00"#,
        r#""e"=hex:-1"#,
        r#""f"=hex:11,22 #c"#,
        r#""g"=hex:,11"#,
        r#""h"=hex(2):25,48\,4f"#,
        r#""i"=hex(2):25,48,\4f"#,
        r#""j"=hex(2):25,48,4\f"#,
        r#""k"=hex:11,22/"#,
    ]);
    assert!(imp.names(&[]).is_empty());
    assert_eq!(imp.skipped_lines(), (3..=13).collect::<Vec<u32>>());
}

// ---------------------------------------------------------------------------
// Hex continuation lines

#[test]
fn hex_data_continues_after_a_comma_and_backslash() {
    let imp = v5(&[
        r#""a"=hex:11,22,\"#,
        "  33,44",
        r#""b"=hex:11,22,  \"#,
        "\t33",
        r#""c"=hex:11,22,\ ;comment"#,
        "  33,44,\\;#comment",
        "  55",
        r#""d"=hex:\"#,
        "  55",
        r#""e"=hex(7):4c,00,69,00,6e,00,65,00,20,00,\"#,
        "  63,00,00,00,00,00",
    ]);
    assert_eq!(
        imp.get("a"),
        Some(typed(REG_BINARY, &[0x11, 0x22, 0x33, 0x44]))
    );
    assert_eq!(imp.get("b"), Some(typed(REG_BINARY, &[0x11, 0x22, 0x33])));
    assert_eq!(
        imp.get("c"),
        Some(typed(REG_BINARY, &[0x11, 0x22, 0x33, 0x44, 0x55]))
    );
    assert_eq!(imp.get("d"), Some(typed(REG_BINARY, &[0x55])));
    assert_eq!(imp.get("e"), Some((REG_MULTI_SZ, wide("Line c\0"))));
    assert!(imp.skipped().is_empty());
}

#[test]
fn blank_and_comment_lines_between_continuation_lines_are_skipped() {
    let imp = v5(&[
        r#""a"=hex:11,22,\"#,
        "",
        "  ;comment",
        ";comment",
        " \t ",
        "  33,44",
        r#""b"=hex:11,\"#,
        "  44,\\",
        "  ;c",
        "  55",
    ]);
    assert_eq!(
        imp.get("a"),
        Some(typed(REG_BINARY, &[0x11, 0x22, 0x33, 0x44]))
    );
    assert_eq!(imp.get("b"), Some(typed(REG_BINARY, &[0x11, 0x44, 0x55])));
}

#[test]
fn a_continuation_line_ends_the_data_unless_it_ends_in_a_backslash() {
    let imp = v5(&[
        r#""a"=hex:11,\"#,
        "  44",
        "  55",
        r#""b"=hex:11,\"#,
        "  44;c",
        r#""c"=hex:11,\ ;c"#,
        "  44,",
        "  55",
    ]);
    assert_eq!(imp.get("a"), Some(typed(REG_BINARY, &[0x11, 0x44])));
    assert_eq!(imp.get("b"), Some(typed(REG_BINARY, &[0x11, 0x44])));
    assert_eq!(imp.get("c"), Some(typed(REG_BINARY, &[0x11, 0x44])));
    // The stray `  55` lines are neither values nor keys.
    assert_eq!(imp.skipped_lines(), [5, 10]);
}

#[test]
fn a_line_that_does_not_continue_the_hex_data_is_swallowed() {
    // The value is dropped, and so is the line that should have continued it.
    let imp = v5(&[
        r#""a"=hex:11,22,\"#,
        r#""a2"="swallowed""#,
        r#""b"=hex:11,22,\"#,
        "#comment",
        r#""b2"="kept""#,
        r#""c"=hex(2):41,00,\"#,
        r"[HKEY_CURRENT_USER\T\swallowed]",
        r#""c2"="dropped with c""#,
        r#""d"=hex:11,22,\"#,
        "",
        r#"@="swallowed""#,
        r#""e"=hex:11,\"#,
        r"\",
        "  55",
        r#""f"=hex:11,\"#,
        "  ,44",
        r#""g"=hex:11,4\"#,
        "  4",
    ]);
    assert_eq!(imp.names(&[]), names(&["b2", "c2"]));
    assert!(imp.subkeys(&[]).is_empty());
    let skipped = imp.skipped();
    assert_eq!(
        skipped,
        [
            (3, 9),
            (4, 1),
            (5, 9),
            (6, 1),
            (8, 12),
            (9, 1),
            (11, 9),
            (13, 1),
            (14, 9),
            (15, 1),
            (16, 3),
            (17, 9),
            (18, 3),
            (19, 13),
            (20, 3),
        ]
    );
}

#[test]
fn a_backslash_without_a_comma_drops_only_its_own_value() {
    let imp = v5(&[
        r#""a"=hex:11,22\"#,
        r#""a2"="kept""#,
        r#""b"=hex(2):41,00\"#,
        r"[HKEY_CURRENT_USER\T\kept]",
        r#""c"=hex:11,22  \  ;comment"#,
        "  33",
        r#""d"=hex:11,\\"#,
        "  55",
        r#""e"=hex:11,\x"#,
        r#""e2"="kept""#,
        r#""f"=hex:11,\ #c"#,
        r#""f2"="kept""#,
    ]);
    assert_eq!(imp.names(&[]), ["a2"]);
    assert_eq!(imp.subkeys(&[]), ["kept"]);
    assert_eq!(imp.names(&["kept"]), names(&["e2", "f2"]));
    assert_eq!(imp.skipped_lines(), [3, 5, 7, 8, 9, 10, 11, 13]);
}

#[test]
fn a_bad_continuation_line_is_consumed_not_swallowed() {
    // The broken line was read as data, so the line after it is read again
    // as a line of its own.
    let imp = v5(&[
        r#""a"=hex:11,22,\"#,
        "  33,44,  ",
        r#""a2"="kept""#,
        r#""b"=hex:11,\"#,
        "  44 ,55",
        r#""b2"="kept""#,
        r#""c"=hex:11,\"#,
        "  44,\\x",
        r#""c2"="kept""#,
    ]);
    assert_eq!(imp.names(&[]), names(&["a2", "b2", "c2"]));
    assert_eq!(imp.skipped_lines(), [3, 4, 6, 7, 9, 10]);
}

#[test]
fn trailing_blanks_on_continuation_lines() {
    let imp = v5(&[
        r#""a"=hex:11,22,\"#,
        "  33,44  \t",
        r#""b"=hex:11,22,\"#,
        "  33,\\  \t",
        "  44",
    ]);
    assert_eq!(
        imp.get("a"),
        Some(typed(REG_BINARY, &[0x11, 0x22, 0x33, 0x44]))
    );
    assert_eq!(
        imp.get("b"),
        Some(typed(REG_BINARY, &[0x11, 0x22, 0x33, 0x44]))
    );
}

#[test]
fn the_file_may_end_after_a_continuation_backslash() {
    for (line, expected) in [
        (r#""v"=hex(0):56,61,6c,75,65,\"#, typed(REG_NONE, b"Value")),
        (r#""v"=hex:11,22,\"#, typed(REG_BINARY, &[0x11, 0x22])),
        (r#""v"=hex(2):25,00,50,00,\"#, (REG_EXPAND_SZ, wide("%P"))),
        (r#""v"=hex(7):4c,00,69,00,\"#, (REG_MULTI_SZ, wide("Li"))),
    ] {
        let text = format!("{V5}\r\n{KEY_T}\r\n{line}");
        let imp = import(&utf16(&text), None);
        assert_eq!(imp.get("v"), Some(expected), "{line}");
    }
    // ... and after continuation lines, blank or not.
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=hex:11,\\\r\n  22,\\\r\n\r\n");
    assert_eq!(
        import(&utf16(&text), None).get("v"),
        Some(typed(REG_BINARY, &[0x11, 0x22]))
    );
    // Without the comma the backslash is not a continuation.
    let text = format!("{V5}\r\n{KEY_T}\r\n\"v\"=hex(7):4c,00,69,00\\");
    assert_eq!(import(&utf16(&text), None).get("v"), None);
}

// ---------------------------------------------------------------------------
// Deleting values

#[test]
fn deleting_values() {
    let imp = v5(&[
        r#""a"="1""#,
        r#""b"="2""#,
        r#""c"="3""#,
        r#""d"="4""#,
        r#""e"="5""#,
        r#""f"="6""#,
        r#"@="7""#,
        r#""g"="8""#,
        r#""a"=-"#,
        r#""b"=  -"#,
        "\"c\"=\t-\t ",
        r#""d"=-"x""#,
        r#""e"=- ;comment"#,
        r#""f"=- #comment"#,
        r#"@=-"#,
        r#""g"=-x"#,
        r#""missing"=-"#,
    ]);
    // `-` followed by anything but blanks or a `;` comment is ignored.
    assert_eq!(imp.names(&[]), names(&["d", "f", "g"]));
    assert_eq!(imp.get("d"), Some(sz("4")));
    assert_eq!(imp.skipped_lines(), [14, 16, 18]);
}

// ---------------------------------------------------------------------------
// Merging

#[test]
fn keys_and_values_merge_case_insensitively() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\Abc]",
        r#""foo"="1""#,
        r"[hkey_current_user\t\ABC]",
        r#""FOO"=-"#,
        r#""fOo"="2""#,
        r#""foO"="3""#,
        r#""Bar"=dword:1"#,
        r#""BAR"="s""#,
    ]);
    // The first spelling is kept; the last write wins.
    assert_eq!(imp.subkeys(&[]), ["Abc"]);
    assert_eq!(imp.names(&["abc"]), names(&["Bar", "fOo"]));
    assert_eq!(imp.get_in(&["ABC"], "FOO"), Some(sz("3")));
    assert_eq!(imp.get_in(&["abc"], "bar"), Some(sz("s")));
}

#[test]
fn a_deleted_key_comes_back_empty() {
    let imp = v5(&[
        r"[HKEY_CURRENT_USER\T\Gone\Sub]",
        r#""x"="1""#,
        r"[-HKEY_CURRENT_USER\T\gone]",
        r"[HKEY_CURRENT_USER\T\GONE]",
    ]);
    assert_eq!(imp.subkeys(&[]), ["GONE"]);
    let gone = imp.key(&["gone"]).expect("GONE");
    assert!(gone.values().is_empty() && !gone.has_subkeys());
}

// ---------------------------------------------------------------------------
// Where regedit skips, and why

#[test]
fn skipped_lines_carry_line_and_column() {
    // Columns count characters from 1; the BOM is not one.
    let imp = v5(&[
        r#""a"=dword:123456789"#,
        "#comment",
        r#"  "b"="open"#,
        r#""c"=hex:11,22,\"#,
        r#""d"="swallowed""#,
        r"[ HKEY_CURRENT_USER\T\x]",
        r#""e"=hex:11,4g"#,
        r#""f"=dword:1 #c"#,
        r#""é"=hex:zz"#,
        r#""g"="x\qy""#,
        r#""h"="kept""#,
    ]);
    assert_eq!(imp.names(&[]), names(&["g", "h"]));
    assert_eq!(
        imp.skipped(),
        [
            (3, 11),
            (4, 1),
            (5, 12),
            (6, 9),
            (7, 1),
            (8, 2),
            (9, 13),
            (10, 11),
            (11, 9),
        ]
    );
    for d in imp.diagnostics("skipped-line") {
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(d.origin.map(|at| at.source), Some(0));
    }
    let escape = imp.diagnostics("unknown-escape");
    assert_eq!(escape.len(), 1);
    assert_eq!(
        escape[0].origin.map(|at| (at.line, at.column)),
        Some((12, 7))
    );
}

#[test]
fn line_numbers_count_every_kind_of_line_end() {
    let text = format!("{V4}\r{KEY_T}\n\r\"a\"=dword:x\r\n\"b\"=\"ok\"\r\"c\"=dword:y");
    let imp = import(text.as_bytes(), None);
    assert_eq!(imp.names(&[]), ["b"]);
    assert_eq!(imp.skipped(), [(4, 11), (6, 11)]);
}
