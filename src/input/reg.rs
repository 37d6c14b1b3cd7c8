//! Building a view from `.reg` files applied in order.

use crate::regfile::{self, Op, RegFile, Version};
use crate::registry::control_set::{self, HKLM, LIVE_LINK, Reason};
use crate::registry::name;
use crate::registry::{Diagnostic, Key, Severity};

use super::{Kind, Loaded, Source};

fn version_label(v: Version) -> &'static str {
    match v {
        Version::Regedit5 => regfile::HEADER_V5,
        Version::Regedit4 => regfile::HEADER_V4,
        Version::Win31 => "REGEDIT (Windows 3.1)",
        Version::Fuzzy => "an unknown REGEDIT header",
    }
}

fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| name::eq(a, b))
}

fn replace_prefix(path: &mut Vec<String>, prefix_len: usize, with: &[String]) {
    path.splice(..prefix_len, with.iter().cloned());
}

fn tree_of(ops: &[Op]) -> Key {
    let mut root = Key::new("");
    regfile::apply(&mut root, ops);
    root
}

/// `has_input`: the first file is the machine being audited; the others are
/// fixes applied to it.
pub(super) fn build(files: Vec<(String, RegFile)>, has_input: bool) -> Loaded {
    let mut diagnostics = Vec::new();
    let mut sources = Vec::new();
    let mut per_file: Vec<Vec<Op>> = Vec::new();
    for (name, file) in files {
        sources.push(Source {
            name,
            kind: Kind::Reg,
            detail: format!(
                "{}, {}",
                file.encoding.label(),
                version_label(file.version())
            ),
        });
        diagnostics.extend(file.diagnostics().iter().cloned());
        per_file.push(file.document.ops);
    }

    // Which SYSTEM hive the input holds: HKLM\SYSTEM, or a hive loaded under
    // another name (`reg load HKLM\GOLDEN ...`).
    let first = tree_of(per_file.first().map(Vec::as_slice).unwrap_or_default());
    let all: Vec<Op> = per_file.iter().flatten().cloned().collect();
    let whole = tree_of(&all);
    let pick = |roots: Vec<Vec<String>>| {
        roots
            .iter()
            .find(|r| r[1].eq_ignore_ascii_case("SYSTEM"))
            .or(roots.first())
            .cloned()
    };
    let system = if has_input {
        pick(control_set::system_roots(&first))
    } else {
        None
    }
    .or_else(|| pick(control_set::system_roots(&whole)));

    let mut ops = Vec::new();
    for (index, mut file_ops) in per_file.into_iter().enumerate() {
        // A fix targets HKLM\SYSTEM; on an export of a mounted hive, that is
        // the mount point.
        if let Some(sys) = system
            .as_ref()
            .filter(|s| index > 0 && has_input && !s[1].eq_ignore_ascii_case("SYSTEM"))
        {
            let live = [HKLM.to_owned(), "SYSTEM".to_owned()];
            let mut moved = 0;
            for op in &mut file_ops {
                if starts_with(op.key(), &live) {
                    replace_prefix(op.key_mut(), 2, sys);
                    moved += 1;
                }
            }
            if moved > 0 {
                diagnostics.push(Diagnostic {
                    code: "mounted-hive",
                    severity: Severity::Info,
                    message: format!(
                        "{}: its HKEY_LOCAL_MACHINE\\SYSTEM lines were applied to {}, where the input holds the SYSTEM hive",
                        sources[index].name,
                        sys.join("\\")
                    ),
                    origin: None,
                    suggestion: None,
                });
            }
        }
        ops.extend(file_ops);
    }

    let mut root = tree_of(&ops);
    let mut chosen = system.as_ref().and_then(|s| control_set::resolve(&root, s));
    // CurrentControlSet is a link to the chosen ControlSetNNN: writes through
    // it land there, in file order.
    if let (Some(sys), Some(cs)) = (&system, &mut chosen) {
        let mut link = sys.clone();
        link.push(LIVE_LINK.to_owned());
        if cs.reason != Reason::LiveLink && root.find(&link).is_some() {
            let mut moved = 0;
            for op in &mut ops {
                if starts_with(op.key(), &link) {
                    replace_prefix(op.key_mut(), link.len(), &cs.path);
                    moved += 1;
                }
            }
            cs.notes.push(format!(
                "{moved} CurrentControlSet line(s) were applied to {}, which CurrentControlSet stands for",
                cs.name()
            ));
            root = tree_of(&ops);
        }
    }
    Loaded {
        sources,
        root,
        control_set: chosen,
        diagnostics,
    }
}
