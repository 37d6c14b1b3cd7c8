//! The line a user probably meant, for a line regedit skips: full-width and
//! typographic look-alikes of `.reg` syntax (machine translation and word
//! processors put them there), a data type in capitals, spaces inside
//! `dword: 0`, a key path pasted without its brackets. A suggestion is only
//! made when the corrected line is one regedit reads.

use super::parse::{HEADER_V5, parse};

/// The ASCII character a look-alike stands for.
fn plain(c: char) -> char {
    match c {
        '：' => ':',
        '＝' => '=',
        '“' | '”' | '„' | '‟' | '«' | '»' | '＂' | '″' => '"',
        '［' => '[',
        '］' => ']',
        '，' => ',',
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{3000}' => ' ',
        _ => c,
    }
}

/// The corrected line, if `original` is almost right.
pub fn line(original: &str) -> Option<String> {
    let norm: String = original.chars().map(plain).collect();
    let trimmed = norm.trim();
    let unbulleted = trimmed.trim_start_matches(['•', '·', '-', '*', '–', '—', ' ', '\t']);
    let starts_ci = |s: &str, p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let candidate = if starts_ci(unbulleted, "HKEY_") {
        // A key path from a bulleted list in an article.
        format!("[{}]", unbulleted.trim_end_matches(['\\', ' ', ']']))
    } else if trimmed.starts_with('[') && !trimmed.contains(']') {
        format!("{trimmed}]")
    } else if trimmed.starts_with('"') || trimmed.starts_with('@') {
        value(trimmed)?
    } else {
        return None;
    };
    (candidate != original.trim() && accepted(&candidate)).then_some(candidate)
}

/// `"name" = DWORD: 00000001` as `"name"=dword:00000001`.
fn value(line: &str) -> Option<String> {
    let name_end = if line.starts_with('@') {
        1
    } else {
        let mut escaped = false;
        let mut end = None;
        for (i, c) in line.char_indices().skip(1) {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i + 1);
                    break;
                }
                _ => escaped = false,
            }
        }
        end?
    };
    let name = &line[..name_end];
    let data = line[name_end..].trim_start().strip_prefix('=')?.trim();
    let lower = data.to_ascii_lowercase();
    let fixed = if lower.starts_with("dword") {
        let digits = data[5..].trim_start().trim_start_matches(':').trim();
        let digits: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        format!("dword:{:0>8}", digits.to_ascii_lowercase())
    } else if lower.starts_with("hex") {
        let (kind, rest) = data.split_at(data.find(':')?);
        let bytes: String = rest[1..].chars().filter(|c| !c.is_whitespace()).collect();
        format!(
            "{}:{}",
            kind.trim().to_ascii_lowercase().replace(' ', ""),
            bytes.to_ascii_lowercase()
        )
    } else {
        data.to_owned()
    };
    Some(format!("{name}={fixed}"))
}

/// Whether regedit reads `candidate` as a key or value line, with nothing skipped.
fn accepted(candidate: &str) -> bool {
    let text = format!("{HEADER_V5}\r\n[HKEY_CURRENT_USER\\tlsreg]\r\n{candidate}\r\n");
    match parse(&text, 0, None) {
        Ok(doc) => {
            doc.diagnostics
                .iter()
                .all(|d| d.severity < crate::registry::Severity::Warning)
                && doc.ops.len() == 2
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn repairs_what_translation_and_word_processors_break() {
        assert_eq!(
            line(r#""Enabled" = DWORD: 00000001"#).as_deref(),
            Some(r#""Enabled"=dword:00000001"#)
        );
        assert_eq!(
            line(r#""DisabledByDefault" = dword： 00000000"#).as_deref(),
            Some(r#""DisabledByDefault"=dword:00000000"#)
        );
        assert_eq!(
            line(r#"“Enabled”=dword:1"#).as_deref(),
            Some(r#""Enabled"=dword:00000001"#)
        );
        assert_eq!(
            line(r#""Enabled"＝dword:00000001"#).as_deref(),
            Some(r#""Enabled"=dword:00000001"#)
        );
        assert_eq!(
            line(r#""Blob"=HEX:01, 02"#).as_deref(),
            Some(r#""Blob"=hex:01,02"#)
        );
        assert_eq!(
            line(r"  • HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client").as_deref(),
            Some(r"[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client]")
        );
        assert_eq!(
            line(r"[HKEY_CURRENT_USER\Software").as_deref(),
            Some(r"[HKEY_CURRENT_USER\Software]")
        );
    }

    #[test]
    fn no_guess_when_the_fix_is_unclear() {
        assert_eq!(line(r#""Enabled"=dword:123456789"#), None);
        assert_eq!(line(r#""Enabled"=qword:1"#), None);
        assert_eq!(line("# a comment in the wrong syntax"), None);
        assert_eq!(line(r#""Enabled"=dword:00000001"#), None, "already right");
    }
}
