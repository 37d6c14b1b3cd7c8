//! Many inputs at once: which share the same SCHANNEL protocol settings, and
//! which differ. Drift between servers is what fleet owners hunt.

use crate::audit::Audit;

/// One group of inputs with identical protocol values.
#[derive(Clone, Debug)]
pub struct Group {
    /// `A`, `B`, ... by size, largest first.
    pub label: String,
    /// Indexes into the audits given to [`group`].
    pub members: Vec<usize>,
    /// The settings, compactly: `TLS 1.2 Client+Server: Enabled=1 DisabledByDefault=0`.
    pub description: String,
}

/// The protocol values an audit found, as a comparable key.
fn fingerprint(a: &Audit) -> Vec<(&'static str, &'static str, Option<String>, Option<String>)> {
    a.matrix
        .rows
        .iter()
        .map(|r| {
            let v = |e: &Option<crate::registry::Entry>| e.as_ref().map(|e| e.value.to_string());
            (r.protocol, r.side, v(&r.enabled), v(&r.disabled_by_default))
        })
        .collect()
}

fn short(value: &str) -> String {
    match value
        .strip_prefix("dword:")
        .and_then(|h| u32::from_str_radix(h, 16).ok())
    {
        Some(n) if n <= 9 => n.to_string(),
        Some(n) => format!("0x{n:x}"),
        None => value.to_owned(),
    }
}

fn describe(a: &Audit) -> String {
    let mut parts: Vec<String> = Vec::new();
    let rows = &a.matrix.rows;
    for pair in rows.chunks(2) {
        let text = |r: &crate::schannel::matrix::Row| {
            let mut t = Vec::new();
            if let Some(e) = &r.enabled {
                t.push(format!("Enabled={}", short(&e.value.to_string())));
            }
            if let Some(d) = &r.disabled_by_default {
                t.push(format!("DisabledByDefault={}", short(&d.value.to_string())));
            }
            t.join(" ")
        };
        if let [c, s] = pair {
            let (tc, ts) = (text(c), text(s));
            match (tc.is_empty(), ts.is_empty()) {
                (true, true) => {}
                _ if tc == ts => parts.push(format!("{} Client+Server {tc}", c.protocol)),
                (false, true) => parts.push(format!("{} Client {tc}", c.protocol)),
                (true, false) => parts.push(format!("{} Server {ts}", s.protocol)),
                (false, false) => parts.push(format!("{} Client {tc}, Server {ts}", c.protocol)),
            }
        }
    }
    match parts.is_empty() {
        true => "no protocol values set (OS defaults everywhere)".into(),
        false => parts.join("; "),
    }
}

/// Groups `audits` by identical protocol values, largest group first.
pub fn group(audits: &[&Audit]) -> Vec<Group> {
    let mut groups: Vec<(Vec<_>, Vec<usize>)> = Vec::new();
    for (i, a) in audits.iter().enumerate() {
        let f = fingerprint(a);
        match groups.iter_mut().find(|(g, _)| *g == f) {
            Some((_, members)) => members.push(i),
            None => groups.push((f, vec![i])),
        }
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1[0].cmp(&b.1[0])));
    groups
        .into_iter()
        .enumerate()
        .map(|(n, (_, members))| Group {
            label: label(n),
            description: describe(audits[members[0]]),
            members,
        })
        .collect()
}

/// `A` .. `Z`, then `AA`, `AB`, ...
fn label(n: usize) -> String {
    let letter = |i: usize| char::from(b'A' + (i % 26) as u8);
    match n {
        0..=25 => letter(n).to_string(),
        _ => format!("{}{}", label(n / 26 - 1), letter(n)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels() {
        assert_eq!(super::label(0), "A");
        assert_eq!(super::label(25), "Z");
        assert_eq!(super::label(26), "AA");
        assert_eq!(super::label(27), "AB");
    }
}
