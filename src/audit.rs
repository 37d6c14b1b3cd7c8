//! An audit: a loaded view evaluated against a policy, with every finding in
//! one list.

use crate::input::Loaded;
use crate::registry::control_set::{Reason, set_number};
use crate::registry::{ControlSet, OsInfo, Severity};
use crate::schannel::{Evaluation, Finding, Matrix, Policy, base_path, evaluate, matrix};

#[derive(Clone, Debug)]
pub struct Audit {
    pub loaded: Loaded,
    /// The OS version, when the view holds the SOFTWARE hive.
    pub os: Option<OsInfo>,
    pub evaluation: Evaluation,
    /// Every protocol on each side, for `--matrix` and the JSON report.
    pub matrix: Matrix,
    /// The other `ControlSetNNN` keys, each evaluated on its own, when asked
    /// for (`--control-set all`). They do not change the verdict.
    pub other_sets: Vec<(ControlSet, Evaluation)>,
}

pub fn audit(mut loaded: Loaded, policy: &Policy) -> Audit {
    let os = OsInfo::read(&loaded.root);
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
    pub fn compliant(&self) -> bool {
        self.evaluation.compliant()
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
        out
    }
}
