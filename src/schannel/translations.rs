//! The names SCHANNEL reads, as machine translation renders them.
//!
//! Microsoft's localized articles were machine translated, registry block
//! included: `TLS 1.2\Client` became `TLS 1,2 \ клієнт`, `Enabled` became
//! `увімкнено`. The table is data (`translations.tsv`), in one place.

use std::sync::OnceLock;

use crate::registry::name::fold;

const TABLE: &str = include_str!("translations.tsv");

/// The names that have translations.
pub const TERMS: [&str; 5] = [
    "Client",
    "Server",
    "Enabled",
    "DisabledByDefault",
    "Protocols",
];

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub language: &'static str,
    pub term: &'static str,
    pub text: &'static str,
}

fn rows() -> &'static [Translation] {
    static ROWS: OnceLock<Vec<Translation>> = OnceLock::new();
    ROWS.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (language, term, text) = (cols.next()?, cols.next()?, cols.next()?);
                TERMS.contains(&term).then_some(Translation {
                    language,
                    term,
                    text,
                })
            })
            .collect()
    })
}

/// Every row, in table order.
pub fn all() -> &'static [Translation] {
    rows()
}

/// What a name is compared by: case folded, with spaces, `_` and `-`
/// removed, so `Disabled By Default`, `disabled_by_default` and
/// `DisabledByDefault` meet.
pub fn squash(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-'))
        .collect()
}

/// Every row `text` matches whose term differs from `text` itself, in table
/// order. Several languages share words (`сервер` is Ukrainian and Russian),
/// so a caller that names the language should name them all.
pub fn lookup(text: &str) -> impl Iterator<Item = Translation> {
    // The table, squashed once: this runs for every name an audit compares.
    static SQUASHED: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let squashed = SQUASHED.get_or_init(|| {
        rows()
            .iter()
            .map(|t| (squash(t.text), squash(t.term)))
            .collect()
    });
    let s = squash(text);
    rows()
        .iter()
        .zip(squashed)
        .filter(move |(_, (text, term))| *text == s && *term != s)
        .map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(language: &str, term: &str, text: &str) {
        let found: Vec<(&str, &str)> = lookup(text).map(|t| (t.term, t.language)).collect();
        assert!(
            found.contains(&(term, language)),
            "{language}: `{text}` is not in the table as {term}: {found:?}"
        );
    }

    #[test]
    fn every_row_names_a_term_and_a_language() {
        let n = TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(
            all().len(),
            n,
            "a row has an unknown term or lacks a column"
        );
    }

    #[test]
    fn every_language_translates_client_server_and_enabled() {
        let languages = [
            "zh-TW", "uk", "vi", "he", "pl", "de", "fr", "es", "it", "pt", "nl", "ru", "cs", "tr",
            "ja", "ko", "zh-CN", "ar",
        ];
        for lang in languages {
            for term in TERMS {
                assert!(
                    all().iter().any(|t| t.language == lang && t.term == term),
                    "{lang} has no {term}"
                );
            }
        }
    }

    // One test per language: the words the seeds and machine translation use.
    #[test]
    fn chinese_traditional() {
        has("zh-TW", "Client", "用戶端");
        has("zh-TW", "Server", "伺服器");
    }
    #[test]
    fn ukrainian() {
        has("uk", "Client", "клієнт");
        has("uk", "Client", " КЛІЄНТ");
        has("uk", "Enabled", "увімкнено");
    }
    #[test]
    fn vietnamese() {
        has("vi", "Client", "máy khách");
        has("vi", "Server", "Máy Chủ");
        has("vi", "Enabled", "bật");
    }
    #[test]
    fn hebrew() {
        has("he", "Client", "לקוח");
        has("he", "Enabled", "זמין");
    }
    #[test]
    fn polish() {
        has("pl", "Client", "Klient");
        has("pl", "Enabled", "Włączone");
    }
    #[test]
    fn german() {
        has("de", "Enabled", "Aktiviert");
        has("de", "DisabledByDefault", "Standardmäßig deaktiviert");
    }
    #[test]
    fn french() {
        has("fr", "Server", "Serveur");
        has("fr", "Enabled", "Activé");
    }
    #[test]
    fn spanish() {
        has("es", "Client", "Cliente");
        has("es", "Server", "Servidor");
        has("es", "Enabled", "Habilitado");
    }
    #[test]
    fn italian() {
        has("it", "Enabled", "Abilitato");
    }
    #[test]
    fn portuguese() {
        has("pt", "Enabled", "Ativado");
        has("pt", "DisabledByDefault", "Desativado por padrão");
    }
    #[test]
    fn dutch() {
        has("nl", "Enabled", "Ingeschakeld");
    }
    #[test]
    fn russian() {
        has("ru", "Client", "Клиент");
        has("ru", "Enabled", "Включено");
    }
    #[test]
    fn czech() {
        has("cs", "Enabled", "Povoleno");
    }
    #[test]
    fn turkish() {
        has("tr", "Client", "İstemci");
        has("tr", "Server", "Sunucu");
    }
    #[test]
    fn japanese() {
        has("ja", "Client", "クライアント");
        has("ja", "Enabled", "有効");
    }
    #[test]
    fn korean() {
        has("ko", "Server", "서버");
        has("ko", "Enabled", "사용");
    }
    #[test]
    fn chinese_simplified() {
        has("zh-CN", "Client", "客户端");
        has("zh-CN", "Enabled", "已启用");
    }
    #[test]
    fn arabic() {
        has("ar", "Client", "العميل");
        has("ar", "Server", "الخادم");
    }

    #[test]
    fn english_terms_are_not_translations() {
        assert!(lookup("Client").next().is_none());
        assert!(lookup("server").next().is_none());
        assert!(lookup("Enabled").next().is_none());
    }

    #[test]
    fn a_word_two_languages_share_names_both() {
        let langs: Vec<&str> = lookup("Сервер")
            .filter(|t| t.term == "Server")
            .map(|t| t.language)
            .collect();
        assert!(langs.contains(&"uk") && langs.contains(&"ru"), "{langs:?}");
    }
}
