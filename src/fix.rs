//! The corrective `.reg` file, in the article's layout: the `[...\TLS 1.2]`
//! line, then each subkey with `DisabledByDefault` before `Enabled`, under
//! `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet` for regedit on the live machine.

use crate::regfile::Export;
use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::registry::name;
use crate::schannel::{Change, Policy, Remedy, Requirement};

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

/// A path from the view, as the live machine names it: below the control set
/// the audit read (`base`), `HKLM\SYSTEM\CurrentControlSet`.
fn as_live(path: &[String], base: &[String]) -> Vec<String> {
    let under = path.len() >= base.len() && path.iter().zip(base).all(|(a, b)| name::eq(a, b));
    match under {
        true => live(&path[base.len()..]),
        false => path.to_vec(),
    }
}

/// The fix for `changes`, and with `removals` the deletions of near misses
/// (their paths as in the view below `base`); `None` when there is nothing
/// to do.
pub fn render(policy: &Policy, changes: &[Change]) -> Option<Export> {
    render_with(policy, changes, &[], &[])
}

pub fn render_with(
    policy: &Policy,
    changes: &[Change],
    removals: &[Remedy],
    base: &[String],
) -> Option<Export> {
    if changes.is_empty() && removals.is_empty() {
        return None;
    }
    let same = |a: &[String], b: &[String]| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| name::eq(x, y))
    };
    let policy_keys: Vec<Vec<String>> = policy.keys().iter().map(|k| live(k)).collect();
    let mut deleted: Vec<Vec<String>> = Vec::new();
    for r in removals {
        if let Remedy::DeleteKey(p) = r {
            let p = as_live(p, base);
            if !deleted.iter().any(|d| same(d, &p)) {
                deleted.push(p);
            }
        }
    }
    let inside_deleted = |p: &[String]| {
        deleted
            .iter()
            .any(|d| p.len() >= d.len() && same(&p[..d.len()], d))
    };
    // Value deletions by key, leaving out keys that go whole anyway.
    let mut value_dels: Vec<(Vec<String>, String)> = Vec::new();
    for r in removals {
        if let Remedy::DeleteValue(k, v) = r {
            let k = as_live(k, base);
            if !inside_deleted(&k)
                && !value_dels
                    .iter()
                    .any(|(a, b)| same(a, &k) && name::eq(b, v))
            {
                value_dels.push((k, v.clone()));
            }
        }
    }
    let mut out = Export::new();
    for d in &deleted {
        out.delete_key(d);
    }
    for (k, _) in value_dels
        .iter()
        .filter(|(k, _)| !policy_keys.iter().any(|p| same(p, k)))
    {
        out.key(k);
        for (_, v) in value_dels.iter().filter(|(k2, _)| same(k2, k)) {
            out.delete_value(v);
        }
    }
    for (key, live_key) in policy.keys().into_iter().zip(&policy_keys) {
        let here: Vec<&Change> = changes.iter().filter(|c| c.key == key).collect();
        let dels: Vec<&String> = value_dels
            .iter()
            .filter(|(k, _)| same(k, live_key))
            .map(|(_, v)| v)
            .collect();
        let parent_of_change = changes
            .iter()
            .any(|c| c.key.len() > key.len() && c.key.starts_with(&key));
        if here.is_empty() && dels.is_empty() && !parent_of_change {
            continue;
        }
        out.key(live_key);
        for v in dels {
            out.delete_value(v);
        }
        for c in here {
            out.value(&c.name, &c.value);
        }
    }
    Some(out)
}
