//! The difference between what an input holds and the required state, as a
//! unified diff of `.reg` text.

use similar::TextDiff;

use crate::audit::Audit;
use crate::regfile::Export;
use crate::registry::Key;
use crate::schannel::{Action, Policy, scope_base};

/// The policy's keys as they stand in `root`, as `.reg` text.
fn render(root: &Key, audit: &Audit, policy: &Policy) -> String {
    let mut out = Export::new();
    for (scope, rel) in &policy.keys {
        let mut path = scope_base(*scope, audit.loaded.control_set.as_ref());
        path.extend(rel.iter().cloned());
        if let Some(key) = root.find(&path) {
            out.key(&path);
            for e in key.values() {
                out.value(&e.name, &e.value);
            }
        }
    }
    out.text("\n")
}

/// Before and after text: the input's keys, and the same keys with the fix
/// applied (other values untouched).
pub fn texts(audit: &Audit, policy: &Policy) -> (String, String) {
    let root = &audit.loaded.root;
    let before = render(root, audit, policy);
    let mut fixed = root.clone();
    for change in audit.evaluation.changes(false) {
        let mut path = scope_base(change.scope, audit.loaded.control_set.as_ref());
        path.extend(change.key);
        match change.action {
            Action::Set(v) => fixed.create(&path, None).set_value(&change.name, v, None),
            Action::DeleteValue => {
                if let Some(k) = fixed
                    .find(&path)
                    .is_some()
                    .then(|| fixed.create(&path, None))
                {
                    k.delete_value(&change.name);
                }
            }
            Action::DeleteKey => {
                fixed.delete(&path);
            }
        }
    }
    (before, render(&fixed, audit, policy))
}

/// A unified diff from the input to the required state; empty when they agree.
pub fn unified(audit: &Audit, policy: &Policy, input_name: &str) -> String {
    let (before, after) = texts(audit, policy);
    if before == after {
        return String::new();
    }
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(input_name, "required")
        .to_string()
}
