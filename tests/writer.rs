//! The `.reg` writer against a real exporter, byte for byte.
//!
//! Every file under `tests/golden/` is what an exporter wrote, not what the
//! writer wrote: the writer's output was imported into Wine 8.0 and exported
//! back, and only exports identical from both of Wine's exporters were kept.
//! Wine's exporter is the reference because its own tests
//! (`programs/reg/tests/export.c`) compare its output byte for byte with
//! native reg.exe on Windows: BOM, CRLF, blank lines, `dword:%08x`, the hex
//! wrap at 77 columns, `hex(N):` for empty data. Windows writes values in
//! creation order and Wine alphabetically (case-insensitively), so every key
//! here names its values so that the two orders agree.
//!
//! To regenerate (Wine 8 installed; run from the repository root):
//!
//! ```sh
//! export WINEPREFIX=/tmp/wp-writer WINEDEBUG=-all
//! wineboot -i; wineserver -p
//! REPO=$PWD
//! TLSREG_WRITER_DUMP=/tmp/writer-dump cargo test --test writer  # writes the writer's files
//! cd /tmp/writer-dump
//! for f in types empty wrap names tree; do
//!     wine reg delete 'HKCU\T' /f
//!     wine reg import $f.reg
//!     wine reg export 'HKCU\T' $f.out.reg /y
//!     wine regedit /e $f.out2.reg 'HKEY_CURRENT_USER\T'
//!     cmp $f.out.reg $f.out2.reg && cp $f.out.reg "$REPO/tests/golden/$f.reg"
//! done
//! K='HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2'
//! wine reg delete "$K" /f                # so that the export shows only the import
//! wine reg import article-tls12.reg
//! wine reg export "$K" article.out.reg /y
//! wine regedit /e article.out2.reg 'HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2'
//! cmp article.out.reg article.out2.reg && cp article.out.reg "$REPO/tests/golden/article-tls12.reg"
//! cd "$REPO" && git diff --stat tests/golden   # no change: the writer still matches
//! ```
//!
//! When these files were made, every `$f.reg` the writer wrote was already
//! identical to both exports. The values the writer writes differently from
//! regedit on purpose are checked as text below (`lossless_*`,
//! `unterminated_*`, `names_with_line_breaks`). Their lines were imported
//! with `wine reg import` and the stored bytes read from
//! `$WINEPREFIX/user.reg`, which wineserver rewrites 30 s after a change and
//! which keeps every byte (a terminated string as escaped text, anything else
//! as hex).

mod common;

use std::path::{Path, PathBuf};

use tlsreg::regfile::{Export, OutputEncoding};
use tlsreg::registry::value::{
    REG_BINARY, REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_EXPAND_SZ, REG_FULL_RESOURCE_DESCRIPTOR,
    REG_LINK, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_RESOURCE_LIST, REG_RESOURCE_REQUIREMENTS_LIST,
    REG_SZ, utf16_bytes,
};
use tlsreg::registry::{Key, Value};

const T: [&str; 2] = ["HKEY_CURRENT_USER", "T"];

const TLS12: &str = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2";

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// UTF-16LE bytes without a terminator: `utf16("a\0")` is a terminated string.
fn utf16(s: &str) -> Vec<u8> {
    utf16_bytes(s, false)
}

/// UTF-16LE text of a `.reg` file, BOM removed, for readable failures.
fn text_of(bytes: &[u8]) -> String {
    let body = bytes.strip_prefix(&[0xFF, 0xFE]).unwrap_or(bytes);
    let units: Vec<u16> = body
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Compares the writer's bytes with a golden export. With
/// `TLSREG_WRITER_DUMP=DIR`, first writes them to `DIR/name` for Wine.
fn assert_golden(name: &str, actual: &[u8]) {
    if let Some(dir) = std::env::var_os("TLSREG_WRITER_DUMP") {
        std::fs::create_dir_all(&dir).expect("create the dump folder");
        std::fs::write(Path::new(&dir).join(name), actual).expect("write the dump");
    }
    let expected = std::fs::read(golden_path(name)).expect("read the golden file");
    // The text first, so that a failure shows which line differs.
    assert_eq!(text_of(actual), text_of(&expected), "{name}: text differs");
    assert_eq!(actual, expected.as_slice(), "{name}: bytes differ");
}

fn bytes(e: &Export) -> Vec<u8> {
    e.to_bytes(OutputEncoding::Utf16Le)
}

/// The value lines the writer produces for one value, without header or key.
fn line(name: &str, v: Value) -> String {
    let mut e = Export::new();
    e.key(&T).value(name, &v);
    let text = e.text("\n");
    let prefix = "Windows Registry Editor Version 5.00\n\n[HKEY_CURRENT_USER\\T]\n";
    text.strip_prefix(prefix)
        .and_then(|t| t.strip_suffix("\n\n"))
        .expect("header, key line and final blank line")
        .to_owned()
}

fn seq(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 1) as u8).collect()
}

/// A name of exactly `len` UTF-16 units starting with `tag`, so that names
/// sort in creation order.
fn sized_name(tag: &str, len: usize) -> String {
    let mut s = tag.to_owned();
    while s.len() < len {
        s.push('-');
    }
    s
}

/// `name`s and values written to `[HKEY_CURRENT_USER\T]`, in order.
fn export_of(values: &[(String, Value)]) -> Vec<u8> {
    let mut e = Export::new();
    e.key(&T);
    for (name, v) in values {
        e.value(name, v);
    }
    bytes(&e)
}

fn v(name: &str, value: Value) -> (String, Value) {
    (name.to_owned(), value)
}

/// One value of every type 0-11 and two types Windows has no name for.
fn every_type() -> Vec<(String, Value)> {
    vec![
        v("", Value::string("default")),
        v("t00", Value::new(REG_NONE, b"Value\0".to_vec())),
        v("t01", Value::string("Value")),
        v("t02", Value::new(REG_EXPAND_SZ, utf16("%SystemRoot%\0"))),
        v("t03", Value::new(REG_BINARY, vec![0x11, 0x22, 0x33, 0x44])),
        v("t04", Value::dword(0x0ABC_DEF0)),
        v(
            "t05",
            Value::new(REG_DWORD_BIG_ENDIAN, vec![0x12, 0x34, 0x56, 0x78]),
        ),
        v("t06", Value::new(REG_LINK, utf16("\\Registry\\T"))),
        v("t07", Value::new(REG_MULTI_SZ, utf16("a\0bc\0\0"))),
        v("t08", Value::new(REG_RESOURCE_LIST, vec![1, 0, 0, 0])),
        v(
            "t09",
            Value::new(REG_FULL_RESOURCE_DESCRIPTOR, vec![2, 0, 0, 0]),
        ),
        v(
            "t10",
            Value::new(REG_RESOURCE_REQUIREMENTS_LIST, vec![3, 0, 0, 0]),
        ),
        v(
            "t11",
            Value::new(REG_QWORD, 0x0102_0304_0506_0708u64.to_le_bytes().to_vec()),
        ),
        v("t12", Value::dword(0)),
        v("t13", Value::dword(0xFFFF_FFFF)),
        v("tx12345", Value::new(0x12345, vec![0xDE, 0xAD])),
        v("txffffffff", Value::new(0xFFFF_FFFF, vec![0xBE, 0xEF])),
    ]
}

/// Zero-length data of every type: `hex(N):` with nothing after it, and a
/// REG_DWORD of no bytes as `hex(4):` (export test `empty_hex_test`). The
/// empty string `""` is a REG_SZ of one NUL (two bytes); a REG_SZ of zero
/// bytes is in `lossless_strings`.
fn empty_data() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = (0..=11u32)
        .map(|kind| {
            let value = if kind == REG_SZ {
                Value::string("")
            } else {
                Value::new(kind, Vec::new())
            };
            (format!("e{kind:02}"), value)
        })
        .collect();
    out.push(v("ex12345", Value::new(0x12345, Vec::new())));
    out.push(v("exffffffff", Value::new(0xFFFF_FFFF, Vec::new())));
    out
}

/// regedit writes `xx,` and, once the line reaches column 77, `\` and a new
/// line indented by two spaces. `"name"=hex:` is `len + 7` columns, so names
/// of 3, 4 and 5 characters reach 77 one column early, exactly and one column
/// late. The data lengths put the last byte just before and just after each
/// break (no `\` follows the last byte).
fn hex_wrap() -> Vec<(String, Value)> {
    // `@=hex:` is 6 columns.
    let mut out = vec![v("", Value::new(REG_BINARY, seq(40)))];
    for len in [3, 4, 5] {
        out.push((
            sized_name(&format!("b{len}"), len),
            Value::new(REG_BINARY, seq(60)),
        ));
    }
    // `"c1--"=hex:` is 11 columns: 22 bytes end the first line at column 76
    // without a break, 23 break after the 22nd; 47 and 48 do the same on the
    // first continuation line (25 bytes each).
    for (i, n) in [22, 23, 47, 48].into_iter().enumerate() {
        out.push((
            sized_name(&format!("c{i}"), 4),
            Value::new(REG_BINARY, seq(n)),
        ));
    }
    // Names as long as the line: the break comes after the first byte (70
    // characters: column 80; 67: exactly 77) or the second (66: 76, then 79).
    for (tag, len) in [("d", 70), ("e", 67), ("f", 66)] {
        out.push((sized_name(tag, len), Value::new(REG_BINARY, seq(3))));
    }
    // The line from Wine's export test that real Windows also writes.
    out.push(v(
        "Multiple strings",
        Value::new(REG_MULTI_SZ, utf16("Line1\0Line2\0Line3\0\0")),
    ));
    // `"name"=hex(7):` is `len + 10` columns.
    for len in [3, 4, 5] {
        out.push((
            sized_name(&format!("n{len}"), len),
            Value::new(REG_MULTI_SZ, utf16("first string\0second\0third one\0\0")),
        ));
    }
    out.push(v(
        "p",
        Value::new(
            REG_EXPAND_SZ,
            utf16("%SystemRoot%\\System32\\drivers\\etc\0"),
        ),
    ));
    out
}

/// `\` and `"` escaped in names and strings; non-ASCII names and strings. The
/// wrap column counts UTF-16 units of the escaped name, so the names below
/// break their data at a different byte if counted in bytes or in characters.
fn names_and_strings() -> Vec<(String, Value)> {
    vec![
        v("", Value::string("\"quoted\" \\ path")),
        v("a\\b", Value::string("C:\\Windows\\\"x\"")),
        // `"b\"q\""=hex:` is 13 columns.
        v("b\"q\"", Value::new(REG_BINARY, seq(30))),
        v("c\\", Value::string("\\\\server\\share\\")),
        v("d Ключ", Value::string("Значение")),
        // 4 units, 7 UTF-8 bytes: 11 columns, the break lands exactly on 77.
        v("eЖЖЖ", Value::new(REG_BINARY, seq(30))),
        // 3 units, 7 UTF-8 bytes.
        v("f漢字", Value::new(REG_BINARY, seq(30))),
        v("f漢字 text", Value::string("漢字テキスト")),
        // U+1F600 is two UTF-16 units: 4 units, 3 characters, 6 UTF-8 bytes.
        v("g\u{1F600}x", Value::new(REG_BINARY, seq(30))),
        v("h\u{1F600}", Value::string("smile \u{1F600}")),
    ]
}

// ---------------------------------------------------------------------------
// Against Wine's export

#[test]
fn every_type_matches_regedit() {
    assert_golden("types.reg", &export_of(&every_type()));
}

#[test]
fn empty_data_matches_regedit() {
    assert_golden("empty.reg", &export_of(&empty_data()));
}

#[test]
fn hex_wrap_matches_regedit() {
    assert_golden("wrap.reg", &export_of(&hex_wrap()));
}

#[test]
fn names_and_strings_match_regedit() {
    assert_golden("names.reg", &export_of(&names_and_strings()));
}

/// `Export::tree`: the key, its values in creation order, then its subkeys
/// depth first, each level sorted case-insensitively as regedit enumerates
/// them. Names avoid `[ ] ^ _ \``, which sort between `Z` and `a`: Windows
/// compares upcased names and Wine lowercased ones, so the two disagree there.
#[test]
fn tree_matches_regedit() {
    let mut root = Key::new("T");
    root.set_value("v1", Value::dword(1), None);
    root.set_value("v2", Value::string("two"), None);
    root.create(&["zeta"], None)
        .set_value("z", Value::string("last"), None);
    root.create(&["Beta"], None)
        .set_value("b", Value::dword(2), None);
    root.create(&["alpha", "Child2"], None);
    root.create(&["alpha", "child1"], None).set_value(
        "c",
        Value::new(REG_BINARY, vec![1, 2, 3]),
        None,
    );
    root.create(&["Gamma"], None);
    // Opens `Beta` under another spelling, which keeps the first.
    root.create(&["BETA", "Deep", "Deeper"], None)
        .set_value("d", Value::dword(4), None);
    // String order, not numeric: `10` before `9`.
    root.create(&["9"], None);
    root.create(&["10"], None);
    let mut e = Export::new();
    e.tree(&T, &root);
    assert_golden("tree.reg", &bytes(&e));
}

// ---------------------------------------------------------------------------
// The article block

fn article_bytes() -> Vec<u8> {
    std::fs::read(golden_path("article-tls12.reg")).expect("read the golden file")
}

fn run_tlsreg(args: &[&str], out: &Path) -> Vec<u8> {
    let _ = std::fs::remove_file(out);
    let mut args = args.to_vec();
    args.extend(["-o", out.to_str().unwrap()]);
    let run = common::tlsreg(&args);
    assert_eq!(run.code, 0, "tlsreg {args:?} failed: {}", run.stderr);
    std::fs::read(out).expect("read tlsreg's output")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("writer");
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir.join(name)
}

/// The article's block through the library, as `tlsreg template` renders it.
#[test]
fn article_block_matches_regedit() {
    let policy = tlsreg::schannel::Policy::article();
    let export = tlsreg::fix::render(&policy, &tlsreg::fix::full_changes(&policy))
        .expect("the article requires values");
    assert_golden("article-tls12.reg", &bytes(&export));
}

#[test]
fn template_command_matches_regedit() {
    let out = run_tlsreg(&["template"], &scratch("template.reg"));
    assert_eq!(text_of(&out), text_of(&article_bytes()));
    assert_eq!(out, article_bytes());
}

/// `fix --full` writes the whole block whatever the input holds.
#[test]
fn fix_full_matches_regedit_for_any_input() {
    let inputs = [
        ("empty", String::new()),
        (
            "wrong",
            format!(
                "[{TLS12}\\Client]\r\n\"Enabled\"=dword:00000000\r\n\"DisabledByDefault\"=dword:00000001\r\n"
            ),
        ),
        (
            "compliant",
            format!(
                "[{TLS12}\\Client]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n\r\n\
                 [{TLS12}\\Server]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n"
            ),
        ),
    ];
    for (name, body) in inputs {
        let text = format!("Windows Registry Editor Version 5.00\r\n\r\n{body}\r\n");
        let input = scratch(&format!("fix-{name}-in.reg"));
        let file: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        std::fs::write(&input, file).expect("write the input");
        let input = input.to_str().expect("a UTF-8 path");
        let out = run_tlsreg(
            &["fix", "--full", input],
            &scratch(&format!("fix-{name}-out.reg")),
        );
        assert_eq!(text_of(&out), text_of(&article_bytes()), "input {name}");
        assert_eq!(out, article_bytes(), "input {name}");
    }
}

/// The golden file itself has regedit's layout, checked without the writer:
/// BOM, header, CRLF only, a blank line before every key, a final blank line.
#[test]
fn article_golden_has_regedit_layout() {
    let bytes = article_bytes();
    assert_eq!(&bytes[..2], &[0xFF, 0xFE], "UTF-16LE BOM");
    assert_eq!(&bytes[2..8], b"W\0i\0n\0", "UTF-16LE text after the BOM");
    assert_eq!(bytes.len() % 2, 0);
    let text = text_of(&bytes);
    assert!(text.starts_with("Windows Registry Editor Version 5.00\r\n\r\n["));
    assert!(text.ends_with("dword:00000001\r\n\r\n"));
    assert!(!text.ends_with("\r\n\r\n\r\n"));
    // Every line break is CRLF: no lone CR or LF.
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count());
    assert_eq!(text.matches('\r').count(), text.matches("\r\n").count());
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "Windows Registry Editor Version 5.00",
            "",
            &format!("[{TLS12}]"),
            "",
            &format!("[{TLS12}\\Client]"),
            "\"DisabledByDefault\"=dword:00000000",
            "\"Enabled\"=dword:00000001",
            "",
            &format!("[{TLS12}\\Server]"),
            "\"DisabledByDefault\"=dword:00000000",
            "\"Enabled\"=dword:00000001",
            "",
            "",
        ]
    );
    // Each key line is preceded by exactly one blank line.
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with('[') {
            assert_eq!(lines[i - 1], "", "line {i}");
            assert!(i < 2 || !lines[i - 2].is_empty(), "line {i}");
        }
    }
}

// ---------------------------------------------------------------------------
// Where the writer differs from regedit on purpose

/// A REG_SZ is written as a quoted string only when importing `"..."` gives
/// back the same bytes: the text, one NUL, nothing else. Otherwise it is
/// `hex(1):`, which Wine imported back byte for byte for each value below.
/// regedit instead writes the text up to the first NUL (export test
/// `embedded_null_test`), and Wine writes CR and LF as `\r` and `\n`.
#[test]
fn lossless_strings() {
    // Embedded NUL: regedit writes "abc", which imports as `abc\0`.
    assert_eq!(
        line("s1", Value::new(REG_SZ, utf16("abc\0def\0"))),
        "\"s1\"=hex(1):61,00,62,00,63,00,00,00,64,00,65,00,66,00,00,00"
    );
    // Only NULs: regedit writes "".
    assert_eq!(
        line("s2", Value::new(REG_SZ, utf16("\0\0"))),
        "\"s2\"=hex(1):00,00,00,00"
    );
    // Zero bytes: regedit writes "", which imports as one NUL (two bytes).
    assert_eq!(line("s4", Value::new(REG_SZ, Vec::new())), "\"s4\"=hex(1):");
    // CR and LF: a quoted string must close on its line. Wine writes `\r\n`
    // escapes; native regedit's handling of line breaks is not documented.
    assert_eq!(
        line("s6", Value::new(REG_SZ, utf16("a\r\nb\0"))),
        "\"s6\"=hex(1):61,00,0d,00,0a,00,62,00,00,00"
    );
    // A lone surrogate has no UTF-8 form for the writer's text; a UTF-16 file
    // could carry it, but hex is as exact.
    assert_eq!(
        line("s7", Value::new(REG_SZ, vec![0x00, 0xD8, 0x00, 0x00])),
        "\"s7\"=hex(1):00,d8,00,00"
    );
    // Long enough to wrap, like any other hex.
    assert_eq!(
        line(
            "s8",
            Value::new(REG_SZ, utf16("0123456789\0abcdefghijklmnop\0"))
        ),
        "\"s8\"=hex(1):30,00,31,00,32,00,33,00,34,00,35,00,36,00,37,00,38,00,39,00,00,00,\\\n  \
         61,00,62,00,63,00,64,00,65,00,66,00,67,00,68,00,69,00,6a,00,6b,00,6c,00,6d,\\\n  \
         00,6e,00,6f,00,70,00,00,00"
    );
}

/// A REG_SZ that does not end in a NUL unit survives no `.reg` form: regedit
/// appends a NUL to `hex(1)`, `hex(2)` and `hex(7)` data without one (Wine's
/// import tests, run on Windows), and so does Wine. The writer still writes
/// every byte as `hex(1):`, where regedit's export would write a string: Wine
/// drops the last unit of such a string, so its `"ab"` imports as `ab\0`.
/// Checked with Wine: `s3` imports as `abc\0`, and `s5` (odd length) as
/// `61,00,00,00,00`, the NUL written over the odd byte.
#[test]
fn unterminated_strings_keep_every_byte() {
    assert_eq!(
        line("s3", Value::new(REG_SZ, utf16("abc"))),
        "\"s3\"=hex(1):61,00,62,00,63,00"
    );
    assert_eq!(
        line("s5", Value::new(REG_SZ, vec![0x61, 0x00, 0x62])),
        "\"s5\"=hex(1):61,00,62"
    );
}

/// A REG_DWORD that is not four bytes is written as `hex(4):`. regedit does
/// so only for no bytes (in `empty.reg`); for other sizes Wine writes
/// `dword:` from the first four bytes, or from past the end of a shorter
/// value, and the import stores a four-byte DWORD.
#[test]
fn lossless_dword_of_wrong_size() {
    assert_eq!(
        line("w1", Value::new(REG_DWORD, vec![1])),
        "\"w1\"=hex(4):01"
    );
    assert_eq!(
        line("w2", Value::new(REG_DWORD, vec![1, 2, 3])),
        "\"w2\"=hex(4):01,02,03"
    );
    assert_eq!(
        line("w3", Value::new(REG_DWORD, vec![1, 0, 0, 0, 0, 0, 0, 0])),
        "\"w3\"=hex(4):01,00,00,00,00,00,00,00"
    );
}

/// A name with CR or LF is written with `\r` and `\n`. Wine imports these
/// lines to the same names (checked), and its export of them is byte for
/// byte these lines. A raw line break
/// would split the line, and the rest of the name would be read as a line of
/// its own. Native regedit's reading of these escapes in names is unverified.
#[test]
fn names_with_line_breaks() {
    assert_eq!(line("a\nb", Value::dword(1)), "\"a\\nb\"=dword:00000001");
    assert_eq!(
        line("c\r\n[HKEY_LOCAL_MACHINE\\X]", Value::string("x")),
        "\"c\\r\\n[HKEY_LOCAL_MACHINE\\\\X]\"=\"x\""
    );
    // The escapes count as two columns each for the wrap, as in Wine.
    assert_eq!(
        line("d\n-", Value::new(REG_BINARY, seq(23))),
        "\"d\\n-\"=hex:01,08,0f,16,1d,24,2b,32,39,40,47,4e,55,5c,63,6a,71,78,7f,86,8d,94,\\\n  9b"
    );
}

/// Deletions are not part of an export; these are the forms regedit imports.
#[test]
fn deletions() {
    let mut e = Export::new();
    e.delete_key(&["HKEY_CURRENT_USER", "T", "Old"])
        .key(&T)
        .delete_value("gone")
        .delete_value("")
        .delete_value("q\"\\");
    assert_eq!(
        e.text("\n"),
        "Windows Registry Editor Version 5.00\n\n\
         [-HKEY_CURRENT_USER\\T\\Old]\n\n\
         [HKEY_CURRENT_USER\\T]\n\
         \"gone\"=-\n\
         @=-\n\
         \"q\\\"\\\\\"=-\n\n"
    );
}

/// `Utf8` is the same text without BOM.
#[test]
fn utf8_is_the_same_text() {
    let mut e = Export::new();
    e.key(&T).value("d Ключ", &Value::string("Значение"));
    let utf16 = e.to_bytes(OutputEncoding::Utf16Le);
    let utf8 = e.to_bytes(OutputEncoding::Utf8);
    assert_eq!(String::from_utf8(utf8).unwrap(), text_of(&utf16));
}

/// What the writer writes, tlsreg's own reader reads back to the same names
/// and bytes, for every value above that regedit also imports exactly.
#[test]
fn reads_back_through_tlsreg() {
    let lossless = [
        v("s1", Value::new(REG_SZ, utf16("abc\0def\0"))),
        v("s2", Value::new(REG_SZ, utf16("\0\0"))),
        v("s4", Value::new(REG_SZ, Vec::new())),
        v("s6", Value::new(REG_SZ, utf16("a\r\nb\0"))),
        v("s7", Value::new(REG_SZ, vec![0x00, 0xD8, 0x00, 0x00])),
        v("w1", Value::new(REG_DWORD, vec![1])),
        v("w3", Value::new(REG_DWORD, vec![1, 0, 0, 0, 0, 0, 0, 0])),
        v("a\nb\r", Value::dword(1)),
    ];
    for values in [
        every_type(),
        empty_data(),
        hex_wrap(),
        names_and_strings(),
        lossless.to_vec(),
    ] {
        let file = tlsreg::regfile::read(&export_of(&values), 0, None).expect("readable");
        let read: Vec<(String, Value)> = file
            .ops()
            .iter()
            .filter_map(|op| match op {
                tlsreg::regfile::Op::SetValue { name, value, .. } => {
                    Some((name.clone(), value.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(read, values);
    }
}
