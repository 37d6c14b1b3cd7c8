//! An audit: a loaded view evaluated against a policy, with every finding in
//! one list.

use crate::input::{Loaded, Role};
use crate::registry::control_set::{Reason, set_number};
use crate::registry::{ControlSet, OsInfo, ProductFacts, Severity};
use crate::schannel::prerequisites::{self, PrereqCheck, PrereqStatus};
use crate::schannel::{Evaluation, Finding, Matrix, Policy, base_path, evaluate, matrix};

/// The article's step 1 for one input: the Windows, Exchange and .NET
/// levels TLS 1.2 needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prerequisites {
    /// The policy names none.
    NoRules,
    /// No SOFTWARE hive was read, so nothing is known: never a pass.
    NotEvaluated,
    /// Each rule that applies, checked.
    Checked(Vec<PrereqCheck>),
}

impl Prerequisites {
    /// The checks that failed, warnings (.NET) among them.
    pub fn failing(&self) -> impl Iterator<Item = &PrereqCheck> {
        let checks = match self {
            Prerequisites::Checked(c) => c.as_slice(),
            _ => &[],
        };
        checks.iter().filter(|c| c.status == PrereqStatus::Fail)
    }

    /// The checks that failed with an error: the updates a `.reg` cannot
    /// install, each of which makes the input noncompliant.
    pub fn missing_updates(&self) -> impl Iterator<Item = &PrereqCheck> {
        self.failing()
            .filter(|c| c.rule.severity == Severity::Error)
    }

    fn of(
        loaded: &Loaded,
        os: Option<&OsInfo>,
        products: Option<&ProductFacts>,
        policy: &Policy,
    ) -> Self {
        let has_rules = prerequisites::table()
            .unwrap_or_default()
            .iter()
            .any(|r| r.policies.contains(&policy.name));
        let software = loaded.sources.iter().any(|s| s.role == Role::Software)
            || os.is_some()
            || products.is_some();
        match (has_rules, software) {
            (false, _) => Prerequisites::NoRules,
            (true, false) => Prerequisites::NotEvaluated,
            (true, true) => Prerequisites::Checked(prerequisites::check(
                &policy.name,
                os,
                &products.cloned().unwrap_or_default(),
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Audit {
    pub loaded: Loaded,
    /// The OS version, when the view holds the SOFTWARE hive.
    pub os: Option<OsInfo>,
    /// Exchange, .NET and the updates installed, when the view holds them.
    pub products: Option<ProductFacts>,
    pub prerequisites: Prerequisites,
    pub evaluation: Evaluation,
    /// Every protocol on each side, for `--matrix` and the JSON report.
    pub matrix: Matrix,
    /// The other `ControlSetNNN` keys, each evaluated on its own, when asked
    /// for (`--control-set all`). They do not change the verdict.
    pub other_sets: Vec<(ControlSet, Evaluation)>,
}

pub fn audit(mut loaded: Loaded, policy: &Policy) -> Audit {
    let os = OsInfo::read(&loaded.root);
    let products = ProductFacts::read(&loaded.root, &prerequisites::kbs());
    let prerequisites = Prerequisites::of(&loaded, os.as_ref(), products.as_ref(), policy);
    let evaluation = evaluate(
        &loaded.root,
        loaded.control_set.as_ref(),
        os.as_ref(),
        policy,
    );
    // A reader's "did you mean" repairs the syntax; the evaluation knows
    // which value a translated or misspelt name meant.
    crate::schannel::nearmiss::amend_suggestions(&mut loaded.diagnostics, &evaluation.near_misses);
    let matrix = matrix(
        &loaded.root,
        &base_path(loaded.control_set.as_ref()),
        os.as_ref(),
    );
    Audit {
        loaded,
        os,
        products,
        prerequisites,
        evaluation,
        matrix,
        other_sets: Vec::new(),
    }
}

/// An audit of the current control set, plus every other `ControlSetNNN`.
pub fn audit_all_sets(loaded: Loaded, policy: &Policy) -> Audit {
    let mut a = audit(loaded, policy);
    let Some(cs) = &a.loaded.control_set else {
        return a;
    };
    let system = &cs.path[..cs.path.len().saturating_sub(1)];
    let Some(hive) = a.loaded.root.find(system) else {
        return a;
    };
    for key in hive.subkeys() {
        if set_number(key.name()).is_none() || key.name().eq_ignore_ascii_case(cs.name()) {
            continue;
        }
        let mut path = system.to_vec();
        path.push(key.name().to_owned());
        let other = ControlSet {
            path,
            reason: Reason::Chosen,
            notes: Vec::new(),
        };
        let evaluation = evaluate(&a.loaded.root, Some(&other), a.os.as_ref(), policy);
        a.other_sets.push((other, evaluation));
    }
    a
}

/// One audit per `ControlSetNNN` of the SYSTEM hive the view's control set is
/// in, in the order of their numbers, each with that set read as the current
/// one: what `fix` and `diff` with `--control-set all` work from. A view
/// with no such set (a `.reg` export of `CurrentControlSet`) gives its one audit.
pub fn per_set(loaded: Loaded, policy: &Policy) -> Vec<Audit> {
    let sets: Vec<ControlSet> = match &loaded.control_set {
        Some(cs) => {
            let system = &cs.path[..cs.path.len().saturating_sub(1)];
            let mut sets: Vec<(u32, ControlSet)> = loaded
                .root
                .find(system)
                .map(|hive| {
                    hive.subkeys()
                        .filter_map(|k| set_number(k.name()).map(|n| (n, k.name().to_owned())))
                        .map(|(n, name)| {
                            let mut path = system.to_vec();
                            path.push(name);
                            let reason = match name_eq(&path, &cs.path) {
                                true => cs.reason.clone(),
                                false => Reason::Chosen,
                            };
                            (
                                n,
                                ControlSet {
                                    path,
                                    reason,
                                    notes: Vec::new(),
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            sets.sort_by_key(|(n, _)| *n);
            sets.into_iter().map(|(_, cs)| cs).collect()
        }
        None => Vec::new(),
    };
    if sets.is_empty() {
        return vec![audit(loaded, policy)];
    }
    sets.into_iter()
        .map(|cs| {
            let mut view = loaded.clone();
            view.control_set = Some(cs);
            audit(view, policy)
        })
        .collect()
}

fn name_eq(a: &[String], b: &[String]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| crate::registry::name::eq(x, y))
}

impl Audit {
    /// Every evaluated check holds, and no prerequisite fails with an error
    /// (a `.reg` cannot install an update).
    pub fn compliant(&self) -> bool {
        self.evaluation.compliant() && self.prerequisites.missing_updates().next().is_none()
    }

    /// False when a required value could not be read (see `Status::Unreadable`).
    pub fn conclusive(&self) -> bool {
        self.evaluation.conclusive()
    }

    /// What the readers noticed, which control set was read, then what the
    /// evaluation found.
    pub fn findings(&self) -> Vec<Finding> {
        let info = |code: &'static str, message: String| Finding {
            code,
            severity: Severity::Info,
            message,
            origin: None,
            suggestion: None,
        };
        let mut out = self.loaded.diagnostics.clone();
        match &self.loaded.control_set {
            Some(cs) => {
                out.push(info(
                    "control-set",
                    format!("read {} ({})", cs.path.join("\\"), cs.reason),
                ));
                out.extend(cs.notes.iter().map(|n| info("control-set", n.clone())));
            }
            None => out.push(info(
                "no-system-hive",
                "the input has no keys under HKEY_LOCAL_MACHINE\\SYSTEM, so every required value is missing".into(),
            )),
        }
        out.extend(self.evaluation.findings.iter().cloned());
        out.extend(self.prerequisites.failing().map(|c| Finding {
            code: c.rule.code,
            severity: c.rule.severity,
            message: format!(
                "{}: install {} (a .reg cannot; {})",
                c.found, c.rule.install, c.rule.source
            ),
            origin: None,
            suggestion: None,
        }));
        out
    }

    /// What to install that a `.reg` cannot: each failing prerequisite's
    /// update, once.
    pub fn updates_needed(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self.prerequisites.failing() {
            if !out.contains(&c.rule.install) {
                out.push(c.rule.install.clone());
            }
        }
        out
    }
}
