//! Registry name comparison.
//!
//! Windows compares key and value names case-insensitively by upcasing each
//! UTF-16 unit with a one-to-one table. Rust's `to_uppercase` can expand one
//! character into several (`ß` -> `SS`); those expansions are not what the
//! kernel does, so such characters are kept as they are.

/// The form of `name` that two names share when Windows treats them as equal.
pub fn fold(name: &str) -> String {
    name.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// True when Windows would treat `a` and `b` as the same name.
pub fn eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    fold(a) == fold(b)
}

/// A name (or any text from an input) as a message shows it: at most `max`
/// characters, with `…` when cut. By characters, never bytes: a byte count
/// could cut one in half (`é` is two bytes).
pub fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_and_simple_unicode() {
        assert!(eq("Enabled", "ENABLED"));
        assert!(eq("клієнт", "КЛІЄНТ"));
        assert!(!eq("Enabled", "Enable"));
        // One-to-many expansions are not applied.
        assert_eq!(fold("straße"), "STRAßE");
    }
}
