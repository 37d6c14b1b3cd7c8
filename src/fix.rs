//! The corrective `.reg` file, in the article's layout: the `[...\TLS 1.2]`
//! line, then each subkey with `DisabledByDefault` before `Enabled`, under
//! `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet` for regedit on the live machine.

use crate::regfile::Export;
use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::schannel::{Change, Policy, Requirement};

fn live(key: &[String]) -> Vec<String> {
    [HKLM, "SYSTEM", LIVE_LINK]
        .into_iter()
        .map(str::to_owned)
        .chain(key.iter().cloned())
        .collect()
}

/// Every value the policy requires, as a fix from nothing would write it.
pub fn full_changes(policy: &Policy) -> Vec<Change> {
    policy
        .requirements
        .iter()
        .map(
            |Requirement {
                 key,
                 value,
                 expected,
                 ..
             }| Change {
                key: key.clone(),
                name: value.clone(),
                value: expected.clone(),
            },
        )
        .collect()
}

/// The fix for `changes`; `None` when there is nothing to change.
pub fn render(policy: &Policy, changes: &[Change]) -> Option<Export> {
    if changes.is_empty() {
        return None;
    }
    let mut out = Export::new();
    for key in policy.keys() {
        let here: Vec<&Change> = changes.iter().filter(|c| c.key == key).collect();
        let parent_of_change = changes
            .iter()
            .any(|c| c.key.len() > key.len() && c.key.starts_with(&key));
        if here.is_empty() && !parent_of_change {
            continue;
        }
        out.key(&live(&key));
        for c in here {
            out.value(&c.name, &c.value);
        }
    }
    Some(out)
}
