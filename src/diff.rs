//! The difference between what an input holds and the required state, as a
//! unified diff of `.reg` text.

use similar::{ChangeTag, DiffTag, TextDiff};

use crate::audit::Audit;
use crate::input::{Kind, Role};
use crate::regfile::Export;
use crate::registry::{Key, Origin};
use crate::schannel::{Action, Policy, scope_base};

/// The policy's keys as they stand in `root`, as `.reg` text, and for each
/// line of it the input's line it came from, where the input has lines and
/// the line came from it (not from an `--apply` file).
fn render(root: &Key, audit: &Audit, policy: &Policy) -> (String, Vec<Option<u32>>) {
    let mut out = Export::new();
    let mut at: Vec<Option<u32>> = vec![None];
    let input_line = |o: Option<Origin>| {
        o.filter(|o| o.source == 0 && o.line > 0 && located(audit))
            .map(|o| o.line)
    };
    // The lines written since the last call came from `first` on: a value
    // written on several lines (hex wrapped at 77 columns) was read from as
    // many, as regedit wraps them.
    let mark = |at: &mut Vec<Option<u32>>, out: &Export, first: Option<u32>| {
        let written = out.line_count() - at.len();
        at.extend((0..written).map(|i| first.map(|l| l + i as u32)));
    };
    for (scope, rel) in &policy.keys {
        let mut path = scope_base(*scope, audit.loaded.control_set.as_ref());
        path.extend(rel.iter().cloned());
        if let Some(key) = root.find(&path) {
            out.key(&path);
            at.push(None); // the blank line before a key
            mark(&mut at, &out, input_line(key.origin()));
            for e in key.values() {
                out.value(&e.name, &e.value);
                mark(&mut at, &out, input_line(e.origin));
            }
        }
    }
    (out.text("\n"), at)
}

/// Whether origins with a line are lines of the input: a `.reg` file read
/// as the input (hives have no lines).
fn located(audit: &Audit) -> bool {
    audit
        .loaded
        .sources
        .first()
        .is_some_and(|s| s.role == Role::Input && s.kind == Kind::Reg)
}

/// The input's tree with the fix applied (other values untouched).
fn fixed(audit: &Audit) -> Key {
    let mut fixed = audit.loaded.root.clone();
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
    fixed
}

/// A unified diff from the input to the required state; empty when they agree.
///
/// The text is the input's keys re-rendered, so a hunk's numbers are made
/// the input's own lines where they are known (a `.reg` input): the hunk is
/// placed by the first line it removes (or the line before the first it
/// adds), so a `-` line stands at its line in the file. A hive has no lines: its header says the numbers
/// count lines of its keys as `.reg` text.
pub fn unified(audit: &Audit, policy: &Policy, input_name: &str) -> String {
    let (before, lines) = render(&audit.loaded.root, audit, policy);
    let (after, _) = render(&fixed(audit), audit, policy);
    if before == after {
        return String::new();
    }
    let diff = TextDiff::from_lines(&before, &after);
    let mut out = String::new();
    match located(audit) {
        true => out.push_str(&format!("--- {input_name}\n")),
        false => out.push_str(&format!("--- {input_name} (its keys as .reg text)\n")),
    }
    out.push_str("+++ required\n");
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old = first.old_range().start..last.old_range().end;
        let new = first.new_range().start..last.new_range().end;
        // 1-based start of the hunk in the input, counted back from a line
        // whose place is known: a removed line, else the line before the
        // first added one, else any. Context lines may be keys a child's line
        // created (`[A\B]` makes `A`), which stand where the child does.
        let removed = group
            .iter()
            .filter(|op| op.tag() == DiffTag::Delete || op.tag() == DiffTag::Replace)
            .flat_map(|op| op.old_range());
        let before_added = group
            .iter()
            .filter(|op| op.tag() == DiffTag::Insert)
            .filter_map(|op| op.old_range().start.checked_sub(1));
        let anchor = |i: usize| {
            let line = (*lines.get(i)?)? as usize;
            line.checked_sub(i.checked_sub(old.start)?)
                .filter(|&s| s >= 1)
        };
        let old_start = removed
            .chain(before_added)
            .chain(old.clone())
            .filter(|i| old.contains(i))
            .find_map(anchor)
            .unwrap_or(old.start + 1);
        let new_start = (old_start + new.start).saturating_sub(old.start);
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_start, old.len()),
            range(new_start, new.len())
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                out.push(sign);
                out.push_str(change.value());
                if !change.value().ends_with('\n') {
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// A unified diff's range: `start,len`, `start` alone for one line, and the
/// line before for none (`-3,0`: after line 3).
fn range(start: usize, len: usize) -> String {
    match len {
        1 => start.to_string(),
        0 => format!("{},0", start.saturating_sub(1)),
        n => format!("{start},{n}"),
    }
}
