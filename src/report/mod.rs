//! Printers for audit results: text for people, JSON for machines. Each input
//! either was audited or could not be read.

pub mod json;
pub mod junit;
pub mod text;

use crate::audit::Audit;
use crate::fleet::{Detail, Record, Settings, Verdict};
use crate::registry::Origin;
use crate::schannel::{Check, Rule, Status};

/// What happened to one input.
#[derive(Debug)]
pub enum Outcome {
    Audited(Box<Audit>),
    Failed {
        path: String,
        kind: &'static str,
        error: String,
    },
}

impl Outcome {
    pub fn path(&self) -> &str {
        match self {
            Outcome::Audited(a) => a.loaded.sources.first().map_or("-", |s| s.name.as_str()),
            Outcome::Failed { path, .. } => path,
        }
    }

    pub fn verdict(&self) -> Verdict {
        match self {
            Outcome::Audited(a) => verdict(a),
            Outcome::Failed { .. } => Verdict::Error,
        }
    }

    /// What a fleet summary keeps of this outcome.
    pub fn record(&self) -> Record {
        use crate::schannel::Status;
        let (verdict, detail, settings, policy, kind) = match self {
            Outcome::Audited(a) => {
                let e = &a.evaluation;
                let detail = match a.conclusive() {
                    false => Detail::Inconclusive,
                    true => Detail::Checks {
                        failing: e.checks.iter().filter(|c| c.status.fails()).count(),
                        total: e.checks.len(),
                        not_evaluated: e
                            .checks
                            .iter()
                            .filter(|c| c.status == Status::NotEvaluated)
                            .count(),
                        updates: a.prerequisites.missing_updates().count(),
                    },
                };
                let kind = a.loaded.sources.first().map_or("reg", |s| s.kind.as_str());
                (
                    verdict(a),
                    detail,
                    Some(Settings::of(a)),
                    Some(e.policy.clone()),
                    kind,
                )
            }
            Outcome::Failed { kind, .. } => (Verdict::Error, Detail::Unread, None, None, *kind),
        };
        Record {
            path: self.path().to_owned(),
            kind: kind.to_owned(),
            verdict,
            detail,
            settings,
            policy,
        }
    }
}

/// An audit's verdict: an error when a required value could not be read.
pub fn verdict(a: &Audit) -> Verdict {
    match (a.conclusive(), a.compliant()) {
        (false, _) => Verdict::Error,
        (true, true) => Verdict::Compliant,
        (true, false) => Verdict::Noncompliant,
    }
}

/// Counts over a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub inputs: usize,
    pub compliant: usize,
    pub noncompliant: usize,
    pub error: usize,
}

impl Summary {
    /// Counts one more input with verdict `v`.
    pub fn add(&mut self, v: Verdict) {
        self.inputs += 1;
        match v {
            Verdict::Compliant => self.compliant += 1,
            Verdict::Noncompliant => self.noncompliant += 1,
            Verdict::Error => self.error += 1,
        }
    }

    /// grep-like: 2 when an input could not be read, 1 when one is
    /// noncompliant, 0 when all are compliant.
    pub fn exit_code(&self) -> i32 {
        if self.error > 0 {
            2
        } else if self.noncompliant > 0 {
            1
        } else {
            0
        }
    }
}

/// `file:line:column`, grep style.
pub fn location(audit: &Audit, origin: &Origin) -> String {
    let file = audit
        .loaded
        .sources
        .get(origin.source)
        .map_or("?", |s| s.name.as_str());
    format!("{file}:{}:{}", origin.line, origin.column)
}

/// A check's name, short but unambiguous: its key below `SCHANNEL\Protocols`
/// (`TLS 1.2\Client\Enabled`), below `SCHANNEL` for its other keys
/// (`Ciphers\RC4 128/128\Enabled`), below the root elsewhere (.NET's keys,
/// with or without `WOW6432Node`), then the value. A check that a key is
/// absent is named by the key alone.
pub fn check_name(c: &Check) -> String {
    let at = |name: &str| c.key.iter().position(|k| k.eq_ignore_ascii_case(name));
    let protocols = |i: usize| {
        c.key
            .get(i)
            .is_some_and(|k| k.eq_ignore_ascii_case("Protocols"))
    };
    let below = match at("SCHANNEL") {
        Some(i) if protocols(i + 1) => i + 2,
        Some(i) => i + 1,
        None => 1,
    }
    .min(c.key.len());
    let mut name = c.key[below..].join("\\");
    if c.requirement.rule != Rule::KeyAbsent {
        if !name.is_empty() {
            name.push('\\');
        }
        name.push_str(match c.requirement.value.as_str() {
            "" => "@",
            v => v,
        });
    }
    name
}

/// Why an input is not compliant, compactly, for one line: the failing
/// checks by key, `TLS 1.2\Client+Server: DisabledByDefault, Enabled missing`;
/// a wrong value as what was found (`Enabled=0`, `Enabled="1"`); for an
/// input that could not be read, the error.
pub fn why(o: &Outcome) -> String {
    let a = match o {
        Outcome::Failed { path, error, .. } => {
            let prefix = format!("{path}: ");
            return error.strip_prefix(&prefix).unwrap_or(error).to_owned();
        }
        Outcome::Audited(a) => a,
    };
    // Each failing check as (key, value, what is wrong), in report order.
    let mut keys: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for c in a.evaluation.checks.iter().filter(|c| c.status.fails()) {
        let name = check_name(c);
        let (key, value) = match c.requirement.rule {
            Rule::KeyAbsent => (name, String::new()),
            _ => match name.rsplit_once('\\') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (String::new(), name),
            },
        };
        let what = match c.status {
            Status::WrongValue | Status::WrongType => {
                format!("={}", crate::fleet::short(&c.found_text()))
            }
            Status::Missing => " missing".into(),
            Status::Unreadable => " unreadable".into(),
            Status::Present if value.is_empty() => "present".into(),
            Status::Present => " present".into(),
            Status::Ok | Status::NotEvaluated => continue,
        };
        match keys.last_mut() {
            Some((k, items)) if *k == key => items.push((value, what)),
            _ => keys.push((key, vec![(value, what)])),
        }
    }
    // Per key: values wrong the same way share their word.
    let mut parts: Vec<(String, String)> = Vec::new();
    for (key, items) in keys {
        let mut text = String::new();
        for (i, (value, what)) in items.iter().enumerate() {
            let shared = what.starts_with(' ');
            let next_same = items.get(i + 1).is_some_and(|(_, w)| shared && w == what);
            text.push_str(value);
            if next_same {
                text.push_str(", ");
            } else {
                text.push_str(what);
                if i + 1 < items.len() {
                    text.push_str(", ");
                }
            }
        }
        // `TLS 1.2\Client` and `TLS 1.2\Server` alike: `TLS 1.2\Client+Server`.
        let merged = parts.last_mut().and_then(|(k, t)| {
            let (parent, _) = k.rsplit_once('\\')?;
            let (p2, leaf) = key.rsplit_once('\\')?;
            (parent == p2 && *t == text).then(|| k.push_str(&format!("+{leaf}")))
        });
        if merged.is_none() {
            parts.push((key, text));
        }
    }
    // Updates a .reg cannot install: what was found, as the report says it.
    let updates = a
        .prerequisites
        .missing_updates()
        .map(|c| format!("{} ({})", c.found, c.rule.code));
    if parts.is_empty() && !a.conclusive() {
        return "a required value could not be read".into();
    }
    parts
        .into_iter()
        .map(|(k, t)| match k.is_empty() {
            true => t,
            false if t.starts_with("present") => format!("{k} {t}"),
            false => format!("{k}: {t}"),
        })
        .chain(updates)
        .collect::<Vec<_>>()
        .join("; ")
}
