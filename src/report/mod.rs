//! Printers for audit results: text for people, JSON for machines. Each input
//! either was audited or could not be read.

pub mod json;
pub mod text;

use crate::audit::Audit;
use crate::fleet::{Detail, Record, Settings, Verdict};
use crate::registry::Origin;

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
