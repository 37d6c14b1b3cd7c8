//! Combining an input with the `.reg` files applied on top of it into one
//! view, with `CurrentControlSet` resolved as Windows would link it.

use crate::regfile::{self, Op};
use crate::registry::control_set::{self, ControlSet, HKLM, LIVE_LINK, Reason};
use crate::registry::name;
use crate::registry::{Diagnostic, Key, Severity};

use super::{InputError, Loaded, Source};

/// What one file contributes: a ready tree (a hive) or changes to apply in
/// order (a `.reg` file).
pub(super) enum Content {
    Tree(Key),
    Ops(Vec<Op>),
}

pub(super) struct Layer {
    pub source: Source,
    pub diagnostics: Vec<Diagnostic>,
    pub content: Content,
}

fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| name::eq(a, b))
}

fn replace_prefix(path: &mut Vec<String>, prefix_len: usize, with: &[String]) {
    path.splice(..prefix_len, with.iter().cloned());
}

fn tree_of(layers: &[Layer]) -> Key {
    let mut root = Key::new("");
    for layer in layers {
        match &layer.content {
            Content::Tree(t) => root.merge_from(t),
            Content::Ops(ops) => regfile::apply(&mut root, ops),
        }
    }
    root
}

fn ops_mut(layer: &mut Layer) -> &mut [Op] {
    match &mut layer.content {
        Content::Ops(ops) => ops,
        Content::Tree(_) => &mut [],
    }
}

/// `has_input`: the first layer is the machine being audited; the others are
/// fixes applied to it. `choice`: the control set the user asked for.
pub(super) fn build(
    mut layers: Vec<Layer>,
    has_input: bool,
    choice: Option<u32>,
) -> Result<Loaded, InputError> {
    let mut diagnostics: Vec<Diagnostic> = layers
        .iter()
        .flat_map(|l| l.diagnostics.iter().cloned())
        .collect();

    // Which SYSTEM hive the input holds: HKLM\SYSTEM, or a hive loaded under
    // another name (`reg load HKLM\GOLDEN ...`).
    let pick = |roots: Vec<Vec<String>>| {
        roots
            .iter()
            .find(|r| r[1].eq_ignore_ascii_case("SYSTEM"))
            .or(roots.first())
            .cloned()
    };
    let first = if has_input {
        pick(control_set::system_roots(&tree_of(&layers[..1])))
    } else {
        None
    };
    let system = first.or_else(|| pick(control_set::system_roots(&tree_of(&layers))));

    // A fix targets HKLM\SYSTEM; on an export of a mounted hive, that is the
    // mount point.
    if let Some(sys) = system
        .as_ref()
        .filter(|s| has_input && !s[1].eq_ignore_ascii_case("SYSTEM"))
    {
        let live = [HKLM.to_owned(), "SYSTEM".to_owned()];
        for layer in layers.iter_mut().skip(1) {
            let mut moved = 0;
            for op in ops_mut(layer) {
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
                        layer.source.name,
                        sys.join("\\")
                    ),
                    origin: None,
                    suggestion: None,
                });
            }
        }
    }

    let mut root = tree_of(&layers);
    let chosen = match &system {
        Some(sys) => resolve(&root, sys, choice, &layers)?,
        None if choice.is_some() => {
            return Err(no_such_set(&layers, choice, "the input has no SYSTEM keys"));
        }
        None => None,
    };
    let mut chosen = chosen;
    // CurrentControlSet is a link to the chosen ControlSetNNN: writes through
    // it land there, in file order.
    if let (Some(sys), Some(cs)) = (&system, &mut chosen) {
        let mut link = sys.clone();
        link.push(LIVE_LINK.to_owned());
        // Every line through the link is moved, deletions too: a file that
        // only deletes `[-...\CurrentControlSet\...]` leaves no link key
        // in the tree, yet deletes from the set it stands for.
        if cs.reason != Reason::LiveLink {
            let mut moved = 0;
            for layer in layers.iter_mut() {
                for op in ops_mut(layer) {
                    if starts_with(op.key(), &link) {
                        replace_prefix(op.key_mut(), link.len(), &cs.path);
                        moved += 1;
                    }
                }
            }
            if moved > 0 {
                cs.notes.push(format!(
                    "{moved} CurrentControlSet line(s) were applied to {}, which CurrentControlSet stands for",
                    cs.name()
                ));
                root = tree_of(&layers);
            }
        }
    }
    Ok(Loaded {
        sources: layers.into_iter().map(|l| l.source).collect(),
        root,
        control_set: chosen,
        diagnostics,
    })
}

fn no_such_set(layers: &[Layer], choice: Option<u32>, why: &str) -> InputError {
    InputError {
        path: layers
            .first()
            .map(|l| l.source.name.clone())
            .unwrap_or_default(),
        kind: super::ErrorKind::ControlSet(format!(
            "--control-set {}: {why}",
            choice.map(|n| n.to_string()).unwrap_or_default()
        )),
    }
}

fn resolve(
    root: &Key,
    system: &[String],
    choice: Option<u32>,
    layers: &[Layer],
) -> Result<Option<ControlSet>, InputError> {
    let Some(n) = choice else {
        return Ok(control_set::resolve(root, system));
    };
    let name = control_set::set_name(n);
    let mut path = system.to_vec();
    path.push(name.clone());
    match root.find(&path) {
        Some(k) => {
            path.pop();
            path.push(k.name().to_owned());
            Ok(Some(ControlSet {
                path,
                reason: Reason::Chosen,
                notes: Vec::new(),
            }))
        }
        None => {
            let present: Vec<String> = root
                .find(system)
                .map(|h| {
                    h.subkeys()
                        .map(|k| k.name().to_owned())
                        .filter(|k| control_set::set_number(k).is_some())
                        .collect()
                })
                .unwrap_or_default();
            let why = match present.is_empty() {
                true => format!("there is no {name}, and no control set at all"),
                false => format!("there is no {name} (present: {})", present.join(", ")),
            };
            Err(no_such_set(layers, choice, &why))
        }
    }
}
