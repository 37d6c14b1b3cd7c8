//! The difference between what an input holds and the required state, as a
//! unified diff of `.reg` text.

use similar::TextDiff;

use crate::audit::Audit;
use crate::regfile::Export;
use crate::registry::Key;
use crate::schannel::{Policy, base_path};

/// The policy's keys as they stand in `root` below `base`, as `.reg` text.
fn render(root: &Key, base: &[String], policy: &Policy) -> String {
    let mut out = Export::new();
    for rel in policy.keys() {
        let mut path = base.to_vec();
        path.extend(rel);
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
    let base = base_path(audit.loaded.control_set.as_ref());
    let root = &audit.loaded.root;
    let before = render(root, &base, policy);
    let mut fixed = root.clone();
    for change in audit.evaluation.changes(false) {
        let mut path = base.clone();
        path.extend(change.key);
        fixed
            .create(&path, None)
            .set_value(&change.name, change.value, None);
    }
    (before, render(&fixed, &base, policy))
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
