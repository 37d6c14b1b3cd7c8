//! Keys and values that were meant to be the required ones but are not, so
//! Windows ignores them: `TLS 1,2`, `TLS 1.2 \ клієнт`, `Disablebydefault`,
//! `увімкнено`, the right values on the wrong key.

use crate::registry::name::{self, fold};
use crate::registry::{Key, Origin, Severity};

use super::evaluate::Finding;
use super::policy::{PROTOCOLS, Policy, Rule, Scope};
use super::translations::{self, squash};

/// What the fix can do about a near miss.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Remedy {
    /// Delete this key (a full path) and everything below it.
    DeleteKey(Vec<String>),
    /// Delete this value of the key at the path.
    DeleteValue(Vec<String>, String),
    /// Nothing to undo (the line was never imported).
    Nothing,
}

#[derive(Clone, Debug)]
pub struct NearMiss {
    pub finding: Finding,
    pub remedy: Remedy,
    /// A value name written (`увімкнено`) and the one meant (`Enabled`).
    pub rename: Option<(String, String)>,
}

/// Rewrites the line a reader suggests for a line it skipped (a syntax
/// repair: `"увімкнено"=dword:00000001` for `"увімкнено"=DWORD:00000001`)
/// so that it also names the value meant (`"Enabled"=dword:00000001`),
/// when a near miss stands on the same line. Other suggestions are kept.
pub fn amend_suggestions(diagnostics: &mut [crate::registry::Diagnostic], misses: &[NearMiss]) {
    for d in diagnostics.iter_mut() {
        let (Some(at), Some(suggestion)) = (d.origin, d.suggestion.as_deref()) else {
            continue;
        };
        let renamed = misses.iter().find_map(|m| {
            let (written, meant) = m.rename.as_ref()?;
            let o = m.finding.origin?;
            if (o.source, o.line) != (at.source, at.line) {
                return None;
            }
            let rest = suggestion.strip_prefix(&format!("\"{written}\"="))?;
            Some(format!("\"{meant}\"={rest}"))
        });
        if let Some(r) = renamed {
            d.suggestion = Some(r);
        }
    }
}

/// SCHANNEL's other branches, where protocol keys do nothing.
const BRANCHES: [&str; 4] = ["Ciphers", "CipherSuites", "Hashes", "KeyExchangeAlgorithms"];

/// Optimal string alignment distance: edits, with a swap of neighbours as one.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = fold(a).chars().collect();
    let b: Vec<char> = fold(b).chars().collect();
    // Three rows are all the recurrence needs.
    let mut before = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(before[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether a key name is SCHANNEL or a misspelling of it (cheap: most
/// names are told apart by their length alone).
pub fn schannel_like(name: &str) -> bool {
    let bytes = name.as_bytes();
    // 6 to 10 characters take 6 to 40 bytes: most names (a GUID, `CLSID`)
    // are told by their length alone, before any scan of them. This runs
    // for every part of every key line of a whole export.
    if !(6..=40).contains(&bytes.len()) {
        return false;
    }
    // Eleven ASCII bytes are eleven characters: a long name (a GUID) is
    // told by its start, without a scan of all of it.
    if bytes.len() > 10 && bytes[..11].is_ascii() {
        return false;
    }
    if name.is_ascii() {
        if !(6..=10).contains(&bytes.len()) {
            return false;
        }
        if bytes.eq_ignore_ascii_case(b"SCHANNEL") {
            return true;
        }
        // Within two edits, at least six of SCHANNEL's eight letters remain:
        // most names (Services, Parameters, SYSTEM) fail this cheaply.
        // Counts of S, C, H, A, N, E, L in SCHANNEL, by letter.
        let mut left = [1u8, 1, 1, 1, 2, 1, 1];
        let mut common = 0;
        for &c in bytes {
            let slot = match c & !0x20 {
                b'S' => 0,
                b'C' => 1,
                b'H' => 2,
                b'A' => 3,
                b'N' => 4,
                b'E' => 5,
                b'L' => 6,
                _ => continue,
            };
            if left[slot] > 0 {
                left[slot] -= 1;
                common += 1;
            }
        }
        if common < 6 {
            return false;
        }
    } else if !(6..=10).contains(&name.chars().count()) {
        return false;
    }
    distance(name, "SCHANNEL") <= 2
}

/// Typos allowed for a name of this length.
fn tolerance(name: &str) -> usize {
    match name.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// How `found` relates to the name `want`, or `None` when it is unrelated.
/// An empty reason list means the same name (names ignore case).
fn compare(found: &str, want: &str) -> Option<Vec<String>> {
    if name::eq(found, want) {
        return Some(Vec::new());
    }
    let mut why = Vec::new();
    if found != found.trim() {
        why.push(format!("`{found}` has spaces around it"));
    }
    let (f, w) = (squash(found), squash(want));
    if f == w {
        if why.is_empty() {
            why.push(format!(
                "`{}` is spaced differently from `{want}`",
                found.trim()
            ));
        }
        return Some(why);
    }
    let mut languages: Vec<&str> = Vec::new();
    for t in translations::lookup(found).filter(|t| name::eq(t.term, want)) {
        let l = language(t.language);
        if !languages.contains(&l) {
            languages.push(l);
        }
    }
    if !languages.is_empty() {
        why.push(format!(
            "`{}` is {} for {want}",
            found.trim(),
            and_list(&languages)
        ));
        return Some(why);
    }
    if distance(&f, &w) <= tolerance(want) {
        why.push(format!("`{}` is a misspelling of `{want}`", found.trim()));
        return Some(why);
    }
    None
}

/// The protocol key name: spaces and a decimal comma do not matter to the
/// eye, but every other difference is another protocol (`TLS 1.1`, `TLS 1.3`,
/// `DTLS 1.2` are one edit away and real).
fn compare_protocol(found: &str, want: &str) -> Option<Vec<String>> {
    if name::eq(found, want) {
        return Some(Vec::new());
    }
    let f = squash(found).replace(',', ".");
    if f != squash(want) {
        return None;
    }
    let mut why = Vec::new();
    if found.contains(',') {
        why.push(format!(
            "`{}` has a decimal comma where Windows needs `{want}`",
            found.trim()
        ));
    }
    if found != found.trim() {
        why.push(format!("`{found}` has spaces around it"));
    } else if why.is_empty() {
        why.push(format!("`{found}` is spaced differently from `{want}`"));
    }
    Some(why)
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn language(code: &str) -> &'static str {
    match code {
        "zh-TW" => "Chinese (Traditional)",
        "zh-CN" => "Chinese (Simplified)",
        "uk" => "Ukrainian",
        "vi" => "Vietnamese",
        "he" => "Hebrew",
        "pl" => "Polish",
        "de" => "German",
        "fr" => "French",
        "es" => "Spanish",
        "it" => "Italian",
        "pt" => "Portuguese",
        "nl" => "Dutch",
        "ru" => "Russian",
        "cs" => "Czech",
        "tr" => "Turkish",
        "ja" => "Japanese",
        "ko" => "Korean",
        "ar" => "Arabic",
        _ => "a translation",
    }
}

/// The policy's keys below `...\SCHANNEL\Protocols`, relative to the control set.
fn protocol_keys(policy: &Policy) -> Vec<Vec<String>> {
    policy
        .control_set_keys()
        .filter(|k| {
            k.len() > PROTOCOLS.len() && k.iter().zip(PROTOCOLS).all(|(a, b)| name::eq(a, b))
        })
        .cloned()
        .collect()
}

fn show(path: &[&str]) -> String {
    path.join("\\")
}

/// Looks through every key of the view for near misses of `policy`'s keys
/// and values below the control set at `base`.
pub fn find(root: &Key, base: &[String], policy: &Policy) -> Vec<NearMiss> {
    let mut out = Vec::new();
    let keys = protocol_keys(policy);
    if keys.is_empty() {
        return out;
    }
    // firsts[d]: where the first SCHANNEL-like name stands in the first d
    // parts of the path being visited. Kept along the walk, so each key costs
    // one step, not a scan of its whole path (deep trees were quadratic).
    let mut firsts: Vec<Option<usize>> = Vec::new();
    root.visit(|path, key| {
        let d = path.len();
        firsts.truncate(d);
        let first = match d.checked_sub(1) {
            None => None,
            Some(last) => firsts.get(last).copied().flatten().or_else(|| {
                #[cfg(test)]
                tests::LIKE_CALLS.with(|c| c.set(c.get() + 1));
                schannel_like(path[last]).then_some(last)
            }),
        };
        firsts.push(first);
        // Where SCHANNEL stands in this path, allowing a typo.
        let Some(s) = first else { return };
        if (s + 3..=s + 4).contains(&d) {
            key_misses(path, key, s, base, policy, &keys, &mut out);
        }
    });
    let mut out = dedupe(out);
    out.sort_by_key(|m| m.finding.origin.map(|o| (o.source, o.line, o.column)));
    out
}

/// The near misses of one key whose path has a SCHANNEL-like name at `s`,
/// two or three names above it.
fn key_misses(
    path: &[&str],
    key: &Key,
    s: usize,
    base: &[String],
    policy: &Policy,
    keys: &[Vec<String>],
    out: &mut Vec<NearMiss>,
) {
    let tail = &path[s + 1..];
    let prefix = &path[..s];
    let here = || prefix_issue(prefix, base);
    // A protocol key spelled wrong (`TLS 1,2`) with no Client or Server
    // below it: its children, if any, are reported themselves.
    if tail.len() == 2
        && matches!(here(), Some(Where::Same))
        && compare(tail[0], "Protocols").is_some()
    {
        for want in keys.iter().filter(|k| k.len() == PROTOCOLS.len() + 1) {
            let proto = &want[PROTOCOLS.len()];
            let Some(why) = compare_protocol(tail[1], proto).filter(|w| !w.is_empty()) else {
                continue;
            };
            let sides = ["Client", "Server"];
            if key
                .subkeys()
                .any(|k| sides.iter().any(|side| compare(k.name(), side).is_some()))
            {
                continue;
            }
            out.push(miss(
                "near-miss-key",
                key.origin(),
                format!(
                    "`{}` is not the key SCHANNEL reads ({}): Windows ignores it; the settings belong under `{proto}\\Client` and `{proto}\\Server`",
                    tail[1],
                    tidy(why, &tail[1..]).join("; ")
                ),
                Remedy::DeleteKey(path.iter().map(|p| p.to_string()).collect()),
            ));
        }
    }
    for req_key in keys.iter().filter(|k| k.len() == PROTOCOLS.len() + 2) {
        let want = &req_key[PROTOCOLS.len() - 1..]; // Protocols, TLS 1.2, Client
        if tail.len() != 3 {
            continue;
        }
        let Some(proto) = compare_protocol(tail[1], &want[1]) else {
            continue;
        };
        let Some(side) = compare(tail[2], &want[2]) else {
            continue;
        };
        let branch = compare(tail[0], &want[0]);
        let wanted = format!("{}\\{}", want[1], want[2]);
        let origin = key.origin();
        match (branch, here()) {
            // A protocol key under Ciphers or Hashes does nothing.
            (None, Some(Where::Same)) if BRANCHES.iter().any(|b| name::eq(b, tail[0])) => {
                let mut del: Vec<String> = path[..s + 2].iter().map(|p| p.to_string()).collect();
                del.truncate(s + 3);
                out.push(miss(
                    "wrong-location",
                    origin,
                    format!(
                        "`{}` stands under `{}`, where SCHANNEL never looks for protocols: Windows ignores it; the settings belong under `Protocols\\{wanted}`",
                        show(tail),
                        tail[0]
                    ),
                    Remedy::DeleteKey(path[..s + 3].iter().map(|p| p.to_string()).collect()),
                ));
            }
            (None, _) => {}
            (Some(branch), Some(place)) => {
                let mut why = tidy(
                    branch.into_iter().chain(proto).chain(side).collect(),
                    &tail[1..],
                );
                match place {
                    Where::Same if why.is_empty() => continue, // the required key itself
                    Where::OtherSet => continue, // another control set: not ours to judge
                    Where::Same => {}
                    Where::Typo(t) => why.insert(0, t),
                    Where::Elsewhere(e) => {
                        out.push(miss(
                            "wrong-location",
                            origin,
                            format!(
                                "`{}` is {e}: SCHANNEL reads only HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\{wanted}, so Windows ignores this key",
                                show(&path[1..])
                            ),
                            Remedy::DeleteKey(path[..s + 4].iter().map(|p| p.to_string()).collect()),
                        ));
                        continue;
                    }
                }
                // Delete from the first part that differs: `TLS 1,2` goes whole.
                // Never above the SCHANNEL-like key: a part on the way may be a
                // real key (`Services` where `Control` was meant).
                let first_bad = (0..path.len())
                    .find(|&i| i >= base.len() && !req_path_has(base, req_key, i, path[i]))
                    .unwrap_or(path.len() - 1)
                    .max(s);
                out.push(miss(
                    "near-miss-key",
                    origin,
                    format!(
                        "`{}` is not the key SCHANNEL reads ({}): Windows ignores it and every value in it; the settings belong under `{wanted}`",
                        show(&tail[1..]),
                        why.join("; ")
                    ),
                    Remedy::DeleteKey(path[..=first_bad].iter().map(|p| p.to_string()).collect()),
                ));
            }
            (Some(_), None) => {}
        }
    }
    // Values that mean Enabled or DisabledByDefault, on the required keys,
    // on near-miss keys, or on `TLS 1.2` itself.
    out.extend(value_misses(path, key, s, policy, keys));
}

/// One reason for spacing, however many parts have it: a pasted
/// `TLS 1.2 \ Client` has spaces on both sides of the backslash.
fn tidy(why: Vec<String>, parts: &[&str]) -> Vec<String> {
    let spaced =
        |w: &String| w.ends_with("has spaces around it") || w.contains("is spaced differently");
    let mut out: Vec<String> = why.iter().filter(|w| !spaced(w)).cloned().collect();
    if why.iter().any(spaced) {
        let around = parts
            .windows(2)
            .any(|p| p[0].ends_with(' ') || p[1].starts_with(' '));
        out.insert(
            0,
            if around {
                "spaces around the `\\`".into()
            } else {
                "spaces in the name".into()
            },
        );
    }
    out
}

/// Whether part `i` of a path matches the required key path at `i`.
fn req_path_has(base: &[String], req_key: &[String], i: usize, part: &str) -> bool {
    let full: Vec<&str> = base.iter().chain(req_key).map(String::as_str).collect();
    full.get(i).is_some_and(|w| name::eq(w, part))
}

enum Where {
    /// Under the control set the audit reads, spelled right.
    Same,
    /// Under it, with a misspelled part on the way.
    Typo(String),
    /// Under another control set.
    OtherSet,
    /// Under HKCU, Wow6432Node or another place SCHANNEL never reads.
    Elsewhere(String),
}

/// How the path up to SCHANNEL relates to `base\Control\SecurityProviders`.
fn prefix_issue(prefix: &[&str], base: &[String]) -> Option<Where> {
    let want: Vec<&str> = base
        .iter()
        .map(String::as_str)
        .chain(["Control", "SecurityProviders"])
        .collect();
    if prefix.iter().any(|p| name::eq(p, "Wow6432Node")) {
        return Some(Where::Elsewhere("under Wow6432Node".into()));
    }
    if let Some(root) = prefix
        .first()
        .filter(|r| !name::eq(r, "HKEY_LOCAL_MACHINE"))
    {
        return Some(Where::Elsewhere(format!("under {root}")));
    }
    if prefix.len() == want.len() && prefix.iter().zip(&want).all(|(a, b)| name::eq(a, b)) {
        return Some(Where::Same);
    }
    // Same shape, another ControlSetNNN or CurrentControlSet: other sets are
    // audited on their own (`--control-set`).
    let is_set = |p: &str| {
        crate::registry::control_set::set_number(p).is_some() || name::eq(p, "CurrentControlSet")
    };
    if prefix.len() == want.len() && prefix.len() >= 3 {
        let set = prefix.len() - 3;
        let others_match = prefix
            .iter()
            .zip(&want)
            .enumerate()
            .all(|(i, (a, b))| i == set || name::eq(a, b));
        if others_match && is_set(prefix[set]) && is_set(want[set]) {
            return Some(Where::OtherSet);
        }
        // Misspelt parts, and at most one part below the control set that is
        // something else entirely (a translated `SecurityProviders`): with
        // SCHANNEL and the protocol key below it, the path is still plainly
        // the one meant.
        let mut why = Vec::new();
        let mut replaced = false;
        for (i, (a, b)) in prefix.iter().zip(&want).enumerate() {
            if name::eq(a, b) {
                continue;
            }
            if compare(a, b).is_some() {
                why.push(format!("`{a}` is a misspelling of `{b}`"));
            } else if i > set && !replaced {
                replaced = true;
                why.push(format!("`{a}` stands where Windows needs `{b}`"));
            } else {
                return None;
            }
        }
        return Some(Where::Typo(why.join("; ")));
    }
    None
}

fn miss(code: &'static str, origin: Option<Origin>, message: String, remedy: Remedy) -> NearMiss {
    NearMiss {
        finding: Finding {
            code,
            severity: Severity::Error,
            message,
            origin,
            suggestion: None,
        },
        remedy,
        rename: None,
    }
}

/// Near-miss value names in a key below SCHANNEL (`tail` starts after it).
fn value_misses(
    path: &[&str],
    key: &Key,
    s: usize,
    policy: &Policy,
    keys: &[Vec<String>],
) -> Vec<NearMiss> {
    let tail = &path[s + 1..];
    let mut out = Vec::new();
    let names: Vec<&str> = policy
        .requirements
        .iter()
        .filter(|r| r.scope == Scope::ControlSet && matches!(r.rule, Rule::Equals | Rule::NonZero))
        .filter(|r| !r.value.is_empty())
        .map(|r| r.value.as_str())
        .collect();
    let on_protocol_key = tail.len() == 2
        && keys.iter().any(|k| {
            k.len() == PROTOCOLS.len() + 1
                && compare_protocol(tail[1], &k[PROTOCOLS.len()]).is_some()
        });
    let on_side_key = tail.len() == 3
        && keys
            .iter()
            .filter(|k| k.len() == PROTOCOLS.len() + 2)
            .any(|k| {
                compare_protocol(tail[1], &k[PROTOCOLS.len()]).is_some()
                    && compare(tail[2], &k[PROTOCOLS.len() + 1]).is_some()
            });
    if !on_protocol_key && !on_side_key {
        return out;
    }
    let key_path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
    // Values set, then values on lines regedit skips (still what the user meant).
    let seen = key
        .values()
        .iter()
        .map(|e| (e.name.as_str(), e.origin, false))
        .chain(key.skipped().iter().map(|(n, o)| (n.as_str(), *o, true)));
    let wanted: std::collections::BTreeSet<&str> = names.iter().copied().collect();
    for (value, origin, skipped) in seen {
        let also = if skipped {
            " (regedit also skips this line: see its warning)"
        } else {
            ""
        };
        // A skipped line deletes nothing, so the fix need not either.
        let remedy = |v: &str| match skipped {
            true => Remedy::Nothing,
            false => Remedy::DeleteValue(key_path.clone(), v.to_owned()),
        };
        for want in wanted.iter().copied() {
            let Some(why) = compare(value, want) else {
                continue;
            };
            if on_protocol_key {
                out.push(miss(
                    "wrong-location",
                    origin,
                    format!(
                        "`{value}` is set on `{}` itself, but SCHANNEL reads it only on its `Client` and `Server` subkeys: Windows ignores it here{also}",
                        tail[1]
                    ),
                    remedy(value),
                ));
            } else if !why.is_empty() {
                let mut m = miss(
                    "near-miss-value",
                    origin,
                    format!(
                        "`{value}` is not a value SCHANNEL reads ({}): Windows reads only a value named exactly `{want}`, so this one has no effect{also}",
                        tidy(why, &[]).join("; ")
                    ),
                    remedy(value),
                );
                m.rename = Some((value.to_owned(), want.to_owned()));
                out.push(m);
            }
        }
    }
    out
}

/// One finding per key or value, and no finding for a key whose parent is
/// already to be deleted for the same reason.
fn dedupe(mut out: Vec<NearMiss>) -> Vec<NearMiss> {
    // A set, not a list: a hostile tree can hold a near miss per key.
    let mut seen = std::collections::HashSet::new();
    out.retain(|m| {
        seen.insert((
            m.finding.message.clone(),
            m.finding.origin,
            m.remedy.clone(),
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// How many names `find` asked `schannel_like` about: the seam that
        /// shows its work per key does not grow with the key's depth.
        pub(super) static LIKE_CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A 30,000-level chain below Protocols, next to a `TLS 1,2` near miss:
    /// each key's name is looked at once (it was once per key and per level
    /// above it), and the near miss is still found.
    #[test]
    fn a_deep_tree_costs_one_look_per_key() {
        const DEPTH: usize = 30_000;
        let base: Vec<String> = ["HKEY_LOCAL_MACHINE", "SYSTEM", "ControlSet001"]
            .map(String::from)
            .to_vec();
        let protocols: Vec<String> = base
            .iter()
            .cloned()
            .chain(["Control", "SecurityProviders", "SCHANNEL", "Protocols"].map(String::from))
            .collect();
        let mut root = Key::new("");
        let mut miss_path = protocols.clone();
        miss_path.push("TLS 1,2".into());
        root.create(&miss_path, None);
        let mut deep = protocols.clone();
        deep.extend((0..DEPTH).map(|i| format!("k{}", i % 10)));
        root.create(&deep, None);
        let keys = deep.len() + 2; // and the root and `TLS 1,2`
        LIKE_CALLS.with(|c| c.set(0));
        let found = find(&root, &base, &Policy::article());
        let calls = LIKE_CALLS.with(|c| c.get());
        assert!(calls <= keys, "{calls} looks for {keys} keys");
        assert!(
            found.iter().any(|m| m.finding.message.contains("TLS 1,2")),
            "{:?}",
            found.iter().map(|m| &m.finding.message).collect::<Vec<_>>()
        );
    }

    #[test]
    fn distances() {
        assert_eq!(distance("DisabledByDefault", "Disablebydefault"), 1);
        assert_eq!(distance("DisabledByDefault", "DisabledByDefualt"), 1);
        assert_eq!(distance("Enabled", "Enable"), 1);
        assert_eq!(distance("Protocols", "Protocol"), 1);
    }

    #[test]
    fn protocols_one_edit_away_are_other_protocols() {
        assert!(compare_protocol("TLS 1.1", "TLS 1.2").is_none());
        assert!(compare_protocol("DTLS 1.2", "TLS 1.2").is_none());
        assert!(compare_protocol("TLS 1.3", "TLS 1.2").is_none());
        assert!(compare_protocol("TLS 1,2", "TLS 1.2").is_some());
        assert!(compare_protocol("TLS1.2", "TLS 1.2").is_some());
        assert!(compare_protocol("TLS 1.2 ", "TLS 1.2").is_some());
        assert_eq!(compare_protocol("tls 1.2", "TLS 1.2"), Some(vec![]));
    }

    #[test]
    fn names() {
        assert!(compare("Clients", "Client").is_some());
        assert!(compare(" клієнт", "Client").is_some());
        assert!(compare("Server", "Client").is_none());
        assert!(compare("Hashes", "Protocols").is_none());
        assert!(compare("Enabled", "DisabledByDefault").is_none());
        assert!(compare("EventLogging", "Enabled").is_none());
    }
}
