//! The corrective `.reg` file, in the policy's own layout: each key in the
//! order the policy names it (parents such as `[...\TLS 1.2]` included, as in
//! the article), deletions before settings, under
//! `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet` and `HKEY_LOCAL_MACHINE\SOFTWARE`
//! for regedit on the live machine.

use crate::regfile::Export;
use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::registry::{Value, name};
use crate::schannel::{Action, Change, Policy, Remedy, Scope};

/// A value to set (`Some`) or delete (`None`), by name.
type Item = (String, Option<Value>);
/// A key and what the fix does to its values.
type Section = (Vec<String>, Vec<Item>);

/// The path regedit is to write for a key of `scope`: below `set`
/// (`CurrentControlSet` on the live machine, or one `ControlSetNNN`).
fn live(scope: Scope, key: &[String], set: &str) -> Vec<String> {
    let base: &[&str] = match scope {
        Scope::ControlSet => &[HKLM, "SYSTEM", set],
        Scope::Software => &[HKLM, "SOFTWARE"],
        Scope::Absolute => &[],
    };
    base.iter()
        .map(|s| s.to_string())
        .chain(key.iter().cloned())
        .collect()
}

fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| name::eq(x, y))
}

fn under(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && same(&path[..prefix.len()], prefix)
}

/// Every change the policy requires, as a fix from nothing would write it.
pub fn full_changes(policy: &Policy) -> Vec<Change> {
    policy
        .requirements
        .iter()
        .map(Change::for_requirement)
        .collect()
}

/// A path from the view, as the live machine names it: below the control set
/// the audit read (`base`), `HKLM\SYSTEM\<set>`.
fn as_live(path: &[String], base: &[String], set: &str) -> Vec<String> {
    match under(path, base) {
        true => live(Scope::ControlSet, &path[base.len()..], set),
        false => path.to_vec(),
    }
}

/// The fix for `changes`; `None` when there is nothing to change.
pub fn render(policy: &Policy, changes: &[Change]) -> Option<Export> {
    render_with(policy, changes, &[], &[])
}

/// The fix for `changes`, and with `removals` the deletions of near misses
/// (paths as in the view, with the control set at `base`).
pub fn render_with(
    policy: &Policy,
    changes: &[Change],
    removals: &[Remedy],
    base: &[String],
) -> Option<Export> {
    render_in_set(policy, changes, removals, base, LIVE_LINK)
}

/// As [`render_with`], with the control set's keys written below
/// `HKEY_LOCAL_MACHINE\SYSTEM\<set>` (`ControlSet002` for a fix of that set
/// alone) instead of `CurrentControlSet`.
pub fn render_in_set(
    policy: &Policy,
    changes: &[Change],
    removals: &[Remedy],
    base: &[String],
    set: &str,
) -> Option<Export> {
    if changes.is_empty() && removals.is_empty() {
        return None;
    }
    // Whole keys to delete: the policy's, then the near misses'.
    let mut deleted: Vec<Vec<String>> = Vec::new();
    let key_deletions = changes
        .iter()
        .filter(|c| c.action == Action::DeleteKey)
        .map(|c| live(c.scope, &c.key, set));
    let near = removals.iter().filter_map(|r| match r {
        Remedy::DeleteKey(p) => Some(as_live(p, base, set)),
        Remedy::DeleteValue(..) | Remedy::Nothing => None,
    });
    for p in key_deletions.chain(near) {
        if !deleted.iter().any(|d| under(&p, d)) {
            deleted.retain(|d| !under(d, &p));
            deleted.push(p);
        }
    }
    let gone = |p: &[String]| deleted.iter().any(|d| under(p, d));
    // Per key: values to delete, then values to set.
    let mut sections: Vec<Section> = Vec::new();
    let mut add = |key: Vec<String>, name: String, value: Option<Value>| match sections
        .iter_mut()
        .find(|(k, _)| same(k, &key))
    {
        Some((_, items)) => {
            if !items
                .iter()
                .any(|(n, v)| name::eq(n, &name) && v.is_none() == value.is_none())
            {
                items.push((name, value));
            }
        }
        None => sections.push((key, vec![(name, value)])),
    };
    for r in removals {
        if let Remedy::DeleteValue(k, v) = r {
            let k = as_live(k, base, set);
            if !gone(&k) {
                add(k, v.clone(), None);
            }
        }
    }
    for c in changes {
        let k = live(c.scope, &c.key, set);
        match &c.action {
            Action::DeleteValue if !gone(&k) => add(k, c.name.clone(), None),
            Action::Set(v) => add(k, c.name.clone(), Some(v.clone())),
            _ => {}
        }
    }
    for (_, items) in &mut sections {
        items.sort_by_key(|(_, v)| v.is_some());
    }

    let mut out = Export::new();
    for d in &deleted {
        out.delete_key(d);
    }
    // The policy's keys in its order; a parent is written when something
    // below it is; keys the policy does not name (near misses) come first.
    let policy_keys: Vec<Vec<String>> = policy.keys.iter().map(|(s, k)| live(*s, k, set)).collect();
    let unnamed: Vec<&(Vec<String>, _)> = sections
        .iter()
        .filter(|(k, _)| !policy_keys.iter().any(|p| same(p, k)))
        .collect();
    for (k, items) in unnamed {
        write_section(&mut out, k, items);
    }
    for key in &policy_keys {
        let here = sections.iter().find(|(k, _)| same(k, key));
        let parent_of_change = sections
            .iter()
            .any(|(k, _)| k.len() > key.len() && under(k, key));
        match here {
            Some((k, items)) => write_section(&mut out, k, items),
            None if parent_of_change && !gone(key) => {
                out.key(key);
            }
            None => {}
        }
    }
    Some(out)
}

fn write_section(out: &mut Export, key: &[String], items: &[(String, Option<Value>)]) {
    out.key(key);
    for (name, value) in items {
        match value {
            Some(v) => out.value(name, v),
            None => out.delete_value(name),
        };
    }
}
