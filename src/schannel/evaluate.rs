//! Judging a registry view against a policy.

use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::registry::value::{REG_DWORD, type_name};
use crate::registry::{ControlSet, Diagnostic, Entry, Key, Severity, Value};

use super::nearmiss::{self, NearMiss};
use super::policy::{Policy, Requirement, Rule};

/// A finding has the same shape as a reader's diagnostic.
pub type Finding = Diagnostic;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Missing,
    WrongValue,
    WrongType,
    /// The input holds the value, but its data could not be read.
    Unreadable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::WrongValue => "wrong-value",
            Status::WrongType => "wrong-type",
            Status::Unreadable => "unreadable",
        }
    }
}

/// One required value, and what the input holds for it.
#[derive(Clone, Debug)]
pub struct Check {
    /// The full path where it was looked for.
    pub key: Vec<String>,
    pub requirement: Requirement,
    pub found: Option<Entry>,
    pub status: Status,
    /// Compliant, but not the canonical value (`Enabled` = 0xffffffff).
    pub non_canonical: bool,
}

impl Check {
    /// `TLS 1.2\Client\Enabled`: the short name people use.
    pub fn short_name(&self) -> String {
        let k = &self.requirement.key;
        let tail = &k[k.len().saturating_sub(2)..];
        format!("{}\\{}", tail.join("\\"), self.requirement.value)
    }
}

/// A value the fix must write, relative to the control set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Vec<String>,
    pub name: String,
    pub value: Value,
}

#[derive(Clone, Debug)]
pub struct Evaluation {
    pub policy: &'static str,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    /// Keys and values that were probably meant to be the required ones.
    pub near_misses: Vec<NearMiss>,
}

impl Evaluation {
    pub fn compliant(&self) -> bool {
        self.checks.iter().all(|c| c.status == Status::Ok)
    }

    /// False when a required value exists but could not be read: then no
    /// verdict can be given.
    pub fn conclusive(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Unreadable)
    }

    /// What must be written to reach the required state; with `canonical`,
    /// compliant but non-canonical values are rewritten too.
    pub fn changes(&self, canonical: bool) -> Vec<Change> {
        self.checks
            .iter()
            .filter(|c| c.status != Status::Ok || (canonical && c.non_canonical))
            .map(|c| Change {
                key: c.requirement.key.clone(),
                name: c.requirement.value.clone(),
                value: c.requirement.expected.clone(),
            })
            .collect()
    }
}

/// The path the control set stands at, or the live path when there is none.
pub fn base_path(control_set: Option<&ControlSet>) -> Vec<String> {
    control_set.map_or_else(
        || vec![HKLM.to_owned(), "SYSTEM".to_owned(), LIVE_LINK.to_owned()],
        |cs| cs.path.clone(),
    )
}

pub fn evaluate(root: &Key, control_set: Option<&ControlSet>, policy: &Policy) -> Evaluation {
    let base = base_path(control_set);
    let mut findings = Vec::new();
    let mut checks = Vec::new();
    let mut missing_keys: Vec<Vec<String>> = Vec::new();
    for req in &policy.requirements {
        let mut key = base.clone();
        key.extend(req.key.iter().cloned());
        let found_key = root.find(&key);
        if found_key.is_none() && !missing_keys.contains(&req.key) {
            missing_keys.push(req.key.clone());
            findings.push(Finding {
                code: "missing-key",
                severity: Severity::Error,
                message: format!(
                    "the key {} does not exist, so Windows uses its default for it; the article requires explicit values",
                    req.key[req.key.len().saturating_sub(2)..].join("\\")
                ),
                origin: None,
                suggestion: None,
            });
        }
        let found = found_key.and_then(|k| k.value(&req.value)).cloned();
        let (mut status, non_canonical) = judge(req, found.as_ref().map(|e| &e.value));
        let unreadable = found_key.and_then(|k| k.unreadable(&req.value));
        if let Some(why) = unreadable.filter(|_| found.is_none()) {
            status = Status::Unreadable;
            findings.push(Finding {
                code: "unreadable-value",
                severity: Severity::Error,
                message: format!(
                    "{}\\{} exists but could not be read ({why}): no verdict is possible until the hive is repaired",
                    req.key[req.key.len().saturating_sub(2)..].join("\\"),
                    req.value
                ),
                origin: None,
                suggestion: None,
            });
        }
        let check = Check {
            key,
            requirement: req.clone(),
            found,
            status,
            non_canonical,
        };
        if let Some(f) = explain(&check) {
            findings.push(f);
        }
        checks.push(check);
    }
    let compliant = checks.iter().all(|c| c.status == Status::Ok);
    let mut near_misses = nearmiss::find(root, &base, policy);
    for m in &mut near_misses {
        // On a compliant machine a near miss is leftover clutter, not the cause.
        if compliant {
            m.finding.severity = Severity::Warning;
        }
        findings.push(m.finding.clone());
    }
    if checks.iter().any(|c| c.status == Status::Missing) {
        findings.push(Finding {
            code: "os-default",
            severity: Severity::Info,
            message: "when these values are absent, Windows 8 / Server 2012 and later enable TLS 1.2 by default, while Windows 7 / Server 2008 R2 leave it off; the article requires explicit values either way".into(),
            origin: None,
            suggestion: None,
        });
    }
    Evaluation {
        policy: policy.name,
        checks,
        findings,
        near_misses,
    }
}

fn judge(req: &Requirement, found: Option<&Value>) -> (Status, bool) {
    let Some(found) = found else {
        return (Status::Missing, false);
    };
    let (Some(want), Some(have)) = (req.expected.as_dword(), found.as_dword()) else {
        return (Status::WrongType, false);
    };
    match req.rule {
        Rule::Equals if have == want => (Status::Ok, false),
        Rule::NonZero if have != 0 => (Status::Ok, have != want),
        _ => (Status::WrongValue, false),
    }
}

/// The sentence a busy admin needs for a check that is not simply ok or missing.
fn explain(check: &Check) -> Option<Finding> {
    let entry = check.found.as_ref()?;
    let name = check.short_name();
    let want = &check.requirement.expected;
    let (code, severity, message) = match check.status {
        Status::Ok if check.non_canonical => (
            "non-canonical",
            Severity::Warning,
            format!(
                "{name} is {}: SCHANNEL treats any non-zero value as enabled, so this counts as compliant, but STIG and CIS checks and tools that compare with 1 (SChannelDsc's Test-TlsProtocol) will flag it; `tlsreg fix --canonical` rewrites it to {want}",
                entry.value
            ),
        ),
        Status::WrongType => {
            let size = if entry.value.kind == REG_DWORD {
                format!(" of {} bytes", entry.value.data.len())
            } else {
                String::new()
            };
            (
                "wrong-type",
                Severity::Error,
                format!(
                    "{name} is a {}{size} ({}), not a 4-byte REG_DWORD: SCHANNEL's settings are DWORDs, the article, STIG and CIS require one, and Windows cannot be counted on to honour this value; it must be {want}",
                    type_name(entry.value.kind),
                    entry.value
                ),
            )
        }
        Status::WrongValue => {
            let effect = match (check.requirement.value.as_str(), entry.value.as_dword()) {
                ("Enabled", Some(0)) => "the protocol is disabled on this side and can never be negotiated".to_owned(),
                ("DisabledByDefault", Some(_)) => "the protocol is left out of what Windows offers unless an application asks for it explicitly".to_owned(),
                _ => "this is not the required value".to_owned(),
            };
            (
                "wrong-value",
                Severity::Error,
                format!("{name} is {}: {effect}; it must be {want}", entry.value),
            )
        }
        _ => return None,
    };
    Some(Finding {
        code,
        severity,
        message,
        origin: entry.origin,
        suggestion: None,
    })
}
