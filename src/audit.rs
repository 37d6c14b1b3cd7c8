//! An audit: a loaded view evaluated against a policy, with every finding in
//! one list.

use crate::input::Loaded;
use crate::registry::Severity;
use crate::schannel::{Evaluation, Finding, Policy, evaluate};

#[derive(Clone, Debug)]
pub struct Audit {
    pub loaded: Loaded,
    pub evaluation: Evaluation,
}

pub fn audit(loaded: Loaded, policy: &Policy) -> Audit {
    let evaluation = evaluate(&loaded.root, loaded.control_set.as_ref(), policy);
    Audit { loaded, evaluation }
}

impl Audit {
    pub fn compliant(&self) -> bool {
        self.evaluation.compliant()
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
