//! Judging a registry view against a policy.

use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::registry::value::{REG_DWORD, type_name};
use crate::registry::{ControlSet, Diagnostic, Entry, Key, Origin, OsInfo, Severity, Value};

use super::nearmiss::{self, NearMiss};
use super::policy::{Policy, Requirement, Rule, Scope};

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
    /// The policy says it must not exist, and it does.
    Present,
    /// The input cannot answer it (no SOFTWARE hive, no OS version).
    NotEvaluated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Missing => "missing",
            Status::WrongValue => "wrong-value",
            Status::WrongType => "wrong-type",
            Status::Unreadable => "unreadable",
            Status::Present => "present",
            Status::NotEvaluated => "not-evaluated",
        }
    }

    /// Whether the check fails the verdict.
    pub fn fails(self) -> bool {
        !matches!(self, Status::Ok | Status::NotEvaluated)
    }
}

/// One rule, and what the input holds for it.
#[derive(Clone, Debug)]
pub struct Check {
    /// The full path where it was looked for.
    pub key: Vec<String>,
    pub requirement: Requirement,
    pub found: Option<Entry>,
    pub status: Status,
    /// Compliant, but not the canonical value (`Enabled` = 0xffffffff).
    pub non_canonical: bool,
    /// Why the check was not evaluated.
    pub note: Option<String>,
    /// Where the input deleted what was required, when that is why it is
    /// absent (a later write of it undoes the deletion).
    pub deleted_at: Option<Origin>,
}

impl Check {
    /// `TLS 1.2\Client\Enabled`: the short name people use.
    pub fn short_name(&self) -> String {
        self.requirement.short_name()
    }

    /// The line to cite: where the value was found, or where the input
    /// deleted it.
    pub fn origin(&self) -> Option<Origin> {
        self.found
            .as_ref()
            .and_then(|e| e.origin)
            .or(self.deleted_at)
    }

    /// What was found, in regedit's notation.
    pub fn found_text(&self) -> String {
        match (&self.found, self.requirement.rule, self.status) {
            (Some(e), ..) => e.value.to_string(),
            (None, Rule::KeyAbsent, Status::Present) => "key present".into(),
            (None, _, Status::NotEvaluated) => "(not evaluated)".into(),
            (None, _, Status::Unreadable) => "(unreadable)".into(),
            (None, ..) => "(absent)".into(),
        }
    }
}

/// What a fix does to one value or key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Set(Value),
    DeleteValue,
    DeleteKey,
}

/// A change the fix must make, relative to its scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub scope: Scope,
    pub key: Vec<String>,
    pub name: String,
    pub action: Action,
}

impl Change {
    /// The change that makes `r` hold.
    pub fn for_requirement(r: &Requirement) -> Change {
        Change {
            scope: r.scope,
            key: r.key.clone(),
            name: r.value.clone(),
            action: match r.rule {
                Rule::Equals | Rule::NonZero => Action::Set(r.expected.clone()),
                Rule::ValueAbsent => Action::DeleteValue,
                Rule::KeyAbsent => Action::DeleteKey,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct Evaluation {
    pub policy: String,
    pub checks: Vec<Check>,
    pub findings: Vec<Finding>,
    /// Keys and values that were probably meant to be the required ones.
    pub near_misses: Vec<NearMiss>,
}

impl Evaluation {
    /// Every evaluated check holds.
    pub fn compliant(&self) -> bool {
        self.checks.iter().all(|c| !c.status.fails())
    }

    /// False when a required value exists but could not be read: then no
    /// verdict can be given.
    pub fn conclusive(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Unreadable)
    }

    pub fn not_evaluated(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::NotEvaluated)
            .count()
    }

    /// What must be written to reach the required state; with `canonical`,
    /// compliant but non-canonical values are rewritten too. Checks that could
    /// not be evaluated are included: setting a required value is harmless,
    /// and the fix is meant for the machine, which has the missing hive.
    pub fn changes(&self, canonical: bool) -> Vec<Change> {
        self.checks
            .iter()
            .filter(|c| {
                c.status.fails() && c.status != Status::Unreadable
                    || (canonical && c.non_canonical)
                    || (c.status == Status::NotEvaluated
                        && matches!(c.requirement.rule, Rule::Equals | Rule::NonZero))
            })
            .map(|c| Change::for_requirement(&c.requirement))
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

/// Where keys of `scope` start in the view.
pub fn scope_base(scope: Scope, control_set: Option<&ControlSet>) -> Vec<String> {
    match scope {
        Scope::ControlSet => base_path(control_set),
        Scope::Software => vec![HKLM.to_owned(), "SOFTWARE".to_owned()],
        Scope::Absolute => Vec::new(),
    }
}

fn short_key(key: &[String]) -> String {
    key[key.len().saturating_sub(2)..].join("\\")
}

pub fn evaluate(
    root: &Key,
    control_set: Option<&ControlSet>,
    os: Option<&OsInfo>,
    policy: &Policy,
) -> Evaluation {
    let mut findings = Vec::new();
    let mut checks = Vec::new();
    let software = root.find(&[HKLM, "SOFTWARE"]).is_some();
    let build = os.and_then(|o| o.build);
    let mut skipped: Vec<String> = Vec::new();
    for req in &policy.requirements {
        let mut key = scope_base(req.scope, control_set);
        key.extend(req.key.iter().cloned());
        let mut not_evaluated = None;
        if let Some(when) = &req.when {
            match build {
                Some(b) if b < when.min_build => {
                    skipped.push(format!("{} ({})", req.short_name(), when.text));
                    continue;
                }
                Some(_) => {}
                None => {
                    not_evaluated = Some(format!(
                        "applies only {}, and the OS version is unknown",
                        when.text
                    ))
                }
            }
        }
        if req.scope == Scope::Software && !software {
            not_evaluated = Some("needs the SOFTWARE hive, which the input does not hold".into());
        }
        if let Some(note) = not_evaluated {
            checks.push(Check {
                key,
                requirement: req.clone(),
                found: None,
                status: Status::NotEvaluated,
                non_canonical: false,
                note: Some(note),
                deleted_at: None,
            });
            continue;
        }
        let found_key = root.find(&key);
        let found = match req.rule {
            Rule::KeyAbsent => None,
            _ => found_key.and_then(|k| k.value(&req.value)).cloned(),
        };
        let (mut status, non_canonical) =
            judge(req, found_key.is_some(), found.as_ref().map(|e| &e.value));
        let is_value_rule = matches!(req.rule, Rule::Equals | Rule::NonZero);
        let hidden = incomplete_at(root, &key);
        let deleted_at = match req.rule {
            Rule::KeyAbsent => None,
            _ if found.is_some() => None,
            _ => root.deletion(&key, Some(&req.value)),
        };
        let mut explained = false;
        if is_value_rule && found_key.is_none() && hidden.is_none() {
            explained = true;
            let why = match deleted_at {
                Some(_) => "is deleted by this line",
                None => "does not exist",
            };
            findings.push(Finding {
                origin: deleted_at,
                ..finding(
                    "missing-key",
                    Severity::Error,
                    req,
                    format!(
                        "{} is absent: the key {} {why}, so Windows uses its default for it; {} requires explicit values, and this one must be {}",
                        req.short_name(),
                        short_key(&req.key),
                        policy.authority,
                        req.expected,
                    ),
                    None,
                )
            });
        }
        let unreadable = found_key.and_then(|k| k.unreadable(&req.value));
        if let Some(why) = unreadable.filter(|_| found.is_none() && req.rule != Rule::KeyAbsent) {
            status = Status::Unreadable;
            findings.push(finding(
                "unreadable-value",
                Severity::Error,
                req,
                format!(
                    "{} exists but could not be read ({why}): no verdict is possible until the hive is repaired",
                    req.short_name()
                ),
                None,
            ));
        }
        // Absent, but the deepest key on its path was not read in full (a
        // corrupt cell in a hive): it may be there, so no verdict.
        let absent = match req.rule {
            Rule::KeyAbsent => found_key.is_none(),
            _ => found.is_none(),
        };
        let hidden = hidden.filter(|_| absent && status != Status::Unreadable);
        if let Some((at, why)) = hidden {
            status = Status::Unreadable;
            findings.push(finding(
                "unreadable-value",
                Severity::Error,
                req,
                format!(
                    "{} could not be read: the key {at} was not read in full ({why}); no verdict is possible until the hive is repaired",
                    req.short_name()
                ),
                None,
            ));
        }
        // The value was on a line regedit skips: say so where it was meant.
        let skipped_at = found_key
            .filter(|_| status == Status::Missing)
            .and_then(|k| {
                k.skipped()
                    .iter()
                    .find(|(n, _)| crate::registry::name::eq(n, &req.value))
            })
            .map(|(_, o)| *o);
        if let Some(origin) = skipped_at {
            explained = true;
            findings.push(Finding {
                code: "skipped-value",
                severity: Severity::Error,
                message: format!(
                    "{} is set on a line regedit skips (see its warning), so it stays absent",
                    req.short_name()
                ),
                origin,
                suggestion: None,
            });
        }
        let check = Check {
            key,
            requirement: req.clone(),
            found,
            status,
            non_canonical,
            note: None,
            deleted_at,
        };
        let unexplained = !explained && status == Status::Missing;
        if let Some(f) = explain(&check, &policy.authority).filter(|_| !explained) {
            findings.push(f);
        } else if unexplained {
            // Every failing check has its error: absent, and not for a
            // reason told above.
            let (why, origin) = match check.deleted_at {
                Some(at) => ("is deleted by this line", Some(at)),
                None => ("is absent", None),
            };
            findings.push(Finding {
                origin,
                ..finding(
                    "missing-value",
                    Severity::Error,
                    req,
                    format!("{} {why}; it must be {}", req.short_name(), req.expected),
                    None,
                )
            });
        }
        checks.push(check);
    }
    let compliant = checks.iter().all(|c| !c.status.fails());
    let mut near_misses = nearmiss::find(root, &base_path(control_set), policy);
    for m in &mut near_misses {
        // On a compliant machine a near miss is leftover clutter, not the cause.
        if compliant {
            m.finding.severity = Severity::Warning;
        }
        findings.push(m.finding.clone());
    }
    let tls12_missing = checks
        .iter()
        .any(|c| c.status == Status::Missing && c.requirement.key.iter().any(|p| p == "TLS 1.2"));
    if tls12_missing {
        findings.push(Finding {
            code: "os-default",
            severity: Severity::Info,
            message: format!(
                "{}; {} requires explicit values either way",
                super::defaults::tls12_absent(build),
                policy.authority
            ),
            origin: None,
            suggestion: None,
        });
    }
    let not_evaluated: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == Status::NotEvaluated)
        .collect();
    if !not_evaluated.is_empty() {
        let mut why: Vec<&str> = not_evaluated
            .iter()
            .filter_map(|c| c.note.as_deref())
            .collect();
        why.dedup();
        findings.push(Finding {
            code: "not-evaluated",
            severity: Severity::Warning,
            message: format!(
                "{} check(s) were not evaluated: {} ({})",
                not_evaluated.len(),
                why.join("; "),
                not_evaluated
                    .iter()
                    .map(|c| c.short_name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            origin: None,
            suggestion: None,
        });
    }
    if !skipped.is_empty() {
        findings.push(Finding {
            code: "not-applicable",
            severity: Severity::Info,
            message: format!("not applicable to this OS version: {}", skipped.join(", ")),
            origin: None,
            suggestion: None,
        });
    }
    Evaluation {
        policy: policy.name.clone(),
        checks,
        findings,
        near_misses,
    }
}

/// The deepest key on `path` that exists, by name, and why it was not read in
/// full, if it was not: whatever of `path` is absent may exist in the input.
fn incomplete_at(root: &Key, path: &[String]) -> Option<(String, String)> {
    let mut key = root;
    for part in path {
        match key.subkey(part) {
            Some(k) => key = k,
            None => break,
        }
    }
    key.incomplete()
        .map(|why| (format!("`{}`", key.name()), why.to_owned()))
}

fn finding(
    code: &'static str,
    severity: Severity,
    req: &Requirement,
    message: String,
    entry: Option<&Entry>,
) -> Finding {
    let message = match &req.check {
        Some(id) => format!("{id}: {message}"),
        None => message,
    };
    Finding {
        code,
        severity,
        message,
        origin: entry.and_then(|e| e.origin),
        suggestion: None,
    }
}

fn judge(req: &Requirement, key_exists: bool, found: Option<&Value>) -> (Status, bool) {
    match req.rule {
        Rule::KeyAbsent => {
            return (
                if key_exists {
                    Status::Present
                } else {
                    Status::Ok
                },
                false,
            );
        }
        Rule::ValueAbsent => {
            return (
                if found.is_some() {
                    Status::Present
                } else {
                    Status::Ok
                },
                false,
            );
        }
        Rule::Equals | Rule::NonZero => {}
    }
    let Some(found) = found else {
        return (Status::Missing, false);
    };
    if found.kind != req.expected.kind
        || (req.expected.kind == REG_DWORD && found.as_dword().is_none())
    {
        return (Status::WrongType, false);
    }
    match (req.rule, req.expected.as_dword(), found.as_dword()) {
        (Rule::NonZero, Some(_), Some(have)) if have != 0 => {
            (Status::Ok, Some(have) != req.expected.as_dword())
        }
        _ if found == &req.expected => (Status::Ok, false),
        _ => (Status::WrongValue, false),
    }
}

/// The sentence a busy admin needs for a check that is not simply ok.
fn explain(check: &Check, authority: &str) -> Option<Finding> {
    let req = &check.requirement;
    let name = check.short_name();
    let want = &req.expected;
    let entry = check.found.as_ref();
    let (code, severity, message) = match (check.status, entry) {
        (Status::Ok, Some(e)) if check.non_canonical => (
            "non-canonical",
            Severity::Warning,
            format!(
                "{name} is {}: SCHANNEL treats any non-zero value as enabled, so this counts as compliant, but STIG and CIS checks and tools that compare with 1 (SChannelDsc's Test-TlsProtocol) will flag it; `tlsreg fix --canonical` rewrites it to {want}",
                e.value
            ),
        ),
        (Status::WrongType, Some(e)) => {
            let size = if e.value.kind == REG_DWORD {
                format!(" of {} bytes", e.value.data.len())
            } else {
                String::new()
            };
            (
                "wrong-type",
                Severity::Error,
                format!(
                    "{name} is a {}{size} ({}), not a {}{}: SCHANNEL's settings are DWORDs, {authority} requires one, and Windows cannot be counted on to honour this value; it must be {want}",
                    type_name(e.value.kind),
                    e.value,
                    if want.kind == REG_DWORD {
                        "4-byte "
                    } else {
                        ""
                    },
                    type_name(want.kind),
                ),
            )
        }
        (Status::WrongValue, Some(e)) => {
            let effect = match (req.value.as_str(), e.value.as_dword(), want.as_dword()) {
                ("Enabled", Some(0), _) => {
                    "the protocol is disabled on this side and can never be negotiated"
                }
                ("Enabled", Some(_), Some(0)) => {
                    "the protocol is enabled on this side, and the policy requires it off"
                }
                ("DisabledByDefault", Some(0), Some(_)) => {
                    "the protocol is offered by default, and the policy requires it off"
                }
                ("DisabledByDefault", Some(_), _) => {
                    "the protocol is left out of what Windows offers unless an application asks for it explicitly"
                }
                _ => "this is not the required value",
            };
            (
                "wrong-value",
                Severity::Error,
                format!("{name} is {}: {effect}; it must be {want}", e.value),
            )
        }
        (Status::Present, Some(e)) => (
            "must-be-absent",
            Severity::Error,
            format!(
                "{name} is {}, and {authority} requires it absent: the fix deletes it",
                e.value
            ),
        ),
        (Status::Present, None) => (
            "must-be-absent",
            Severity::Error,
            format!(
                "the key {name} exists, and {authority} requires it absent: the fix deletes it"
            ),
        ),
        _ => return None,
    };
    Some(finding(code, severity, req, message, entry))
}
