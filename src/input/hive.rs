//! Reading an offline hive (regf) into the view.
//!
//! Only what an audit needs is copied: `Select`, the list of control sets and
//! each set's `Control\SecurityProviders` subtree (or one requested key, for
//! `export`). The hive itself is memory-mapped, so a 100 MB SYSTEM hive costs
//! the pages on the path to those keys, not a copy of the file.

use nt_hive::{Hive, KeyNode, NtHiveError};

use crate::registry::control_set::{HKLM, set_number};
use crate::registry::name;
use crate::registry::{Diagnostic, Key, Severity, Value};

use super::guard::contain;

/// Keys deeper than this are not followed: real hives stay far below it, and a
/// corrupt hive whose subkey lists loop must not recurse forever.
const MAX_DEPTH: usize = 256;
/// The most keys copied from one hive.
const MAX_KEYS: usize = 1_000_000;

/// Why a hive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HiveError {
    #[error("not a readable hive: {0}")]
    Open(NtHiveError),
    #[error("not a readable hive: {0}")]
    BaseBlock(String),
    #[error("corrupt hive at key `{key}`: {source}")]
    Corrupt { key: String, source: NtHiveError },
    #[error("corrupt hive at key `{key}`: a cell is malformed and the hive reader refused it")]
    Refused { key: String },
    #[error("corrupt hive at key `{key}`: subkeys nest deeper than {MAX_DEPTH} levels (a loop?)")]
    TooDeep { key: String },
    #[error("the hive holds more than {MAX_KEYS} keys below `{key}`")]
    TooMany { key: String },
    #[error(
        "truncated hive: its base block (offset 40) says the file holds {stated} bytes, but it has {actual}"
    )]
    Truncated { stated: u64, actual: u64 },
    #[error(
        "not a SYSTEM hive: its root key `{root}` has no ControlSetNNN subkey (SOFTWARE, SAM and NTUSER.DAT hold no SCHANNEL settings)"
    )]
    NotSystem { root: String },
}

type Node<'h> = KeyNode<'h, &'h [u8]>;

/// What to copy from the hive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `Select`, and every control set's `Control\SecurityProviders`.
    Audit,
    /// One key (a path below the hive root) and everything under it.
    Key(Vec<String>),
    /// The values of these keys (paths below the hive root), mounted at
    /// `HKEY_LOCAL_MACHINE\SOFTWARE`: what an audit reads of SOFTWARE.
    Values(Vec<Vec<String>>),
}

/// What was read.
pub struct HiveView {
    /// A tree with the hive mounted at `HKEY_LOCAL_MACHINE\SYSTEM`.
    pub root: Key,
    /// The hive's root key name (`CMI-CreateHive{...}`, `ROOT`, ...).
    pub root_name: String,
    /// Whether the root holds any `ControlSetNNN` key (a SYSTEM hive does).
    pub has_control_sets: bool,
    pub diagnostics: Vec<Diagnostic>,
}

/// The path in the view where the hive is mounted.
pub fn mount() -> [String; 2] {
    [HKLM.to_owned(), "SYSTEM".to_owned()]
}

/// Where a SOFTWARE hive is mounted.
pub fn software_mount() -> [String; 2] {
    [HKLM.to_owned(), "SOFTWARE".to_owned()]
}

/// Reads `hive` (already opened, validated or not) into a view.
pub fn read(hive: &Hive<&[u8]>, scope: &Scope) -> Result<HiveView, HiveError> {
    let at_root = |source| HiveError::Corrupt {
        key: "(root)".into(),
        source,
    };
    let refused = || HiveError::Refused {
        key: "(root)".into(),
    };
    let root_node = contain(|| hive.root_key_node())
        .ok_or_else(refused)?
        .map_err(at_root)?;
    let root_name = contain(|| root_node.name().map(|n| n.to_string_lossy()))
        .ok_or_else(refused)?
        .map_err(at_root)?;
    let mut walker = Walker {
        budget: MAX_KEYS,
        diagnostics: Vec::new(),
    };
    let mut tree = Key::new("");
    let mount = mount();
    let mut has_control_sets = false;
    match scope {
        Scope::Audit => {
            let system = tree.create(&mount, None);
            if let Some(select) = walker.child(&root_node, "Select", "Select")? {
                walker.copy(
                    &select,
                    system.create(&["Select"], None),
                    "Select",
                    0,
                    false,
                )?;
            }
            for node in walker.children(&root_node, "(root)")? {
                let Some(set) = walker.name(&node, "(root)")? else {
                    continue;
                };
                if set_number(&set).is_none() {
                    continue;
                }
                has_control_sets = true;
                let into = system.create(&[set.as_str()], None);
                let mut here = node;
                let mut path = set.clone();
                let mut target = into;
                let mut found = true;
                for part in ["Control", "SecurityProviders"] {
                    path = format!("{path}\\{part}");
                    match walker.child(&here, part, &path)? {
                        Some(n) => {
                            here = n;
                            target = target.create(&[part], None);
                        }
                        None => {
                            found = false;
                            break;
                        }
                    }
                }
                if found {
                    walker.copy(&here, target, &path, 0, true)?;
                }
            }
        }
        Scope::Values(keys) => {
            for key in keys {
                if let Some((node, spelled, shown)) = walker.walk_to(&root_node, key)? {
                    let mut path = software_mount().to_vec();
                    path.extend(spelled);
                    walker.copy(&node, tree.create(&path, None), &shown, 0, false)?;
                }
            }
        }
        Scope::Key(path) => {
            if let Some((node, spelled, shown)) = walker.walk_to(&root_node, path)? {
                let mut full = mount.to_vec();
                full.extend(spelled);
                walker.copy(&node, tree.create(&full, None), &shown, 0, true)?;
            }
        }
    }
    Ok(HiveView {
        root: tree,
        root_name,
        has_control_sets,
        diagnostics: walker.diagnostics,
    })
}

struct Walker {
    budget: usize,
    diagnostics: Vec<Diagnostic>,
}

impl Walker {
    /// The key at `path` below `from`, with its parts as the hive spells
    /// them and its path as shown in messages; `None` when it is absent.
    #[allow(clippy::type_complexity)]
    fn walk_to<'h>(
        &mut self,
        from: &Node<'h>,
        path: &[String],
    ) -> Result<Option<(Node<'h>, Vec<String>, String)>, HiveError> {
        let mut here = from.clone();
        let mut spelled = Vec::new();
        let mut shown = String::new();
        for part in path {
            shown = match shown.is_empty() {
                true => part.clone(),
                false => format!("{shown}\\{part}"),
            };
            let Some(n) = self.child(&here, part, &shown)? else {
                return Ok(None);
            };
            spelled.push(self.name(&n, &shown)?.unwrap_or_else(|| part.clone()));
            here = n;
        }
        Ok(Some((here, spelled, shown)))
    }

    fn warn(&mut self, message: String) {
        self.diagnostics.push(Diagnostic {
            code: "hive-value",
            severity: Severity::Warning,
            message,
            origin: None,
            suggestion: None,
        });
    }

    fn name(&mut self, node: &Node<'_>, at: &str) -> Result<Option<String>, HiveError> {
        let read = contain(|| node.name().map(|n| n.to_string_lossy()))
            .ok_or_else(|| HiveError::Refused { key: at.into() })?;
        read.map(Some).map_err(|source| HiveError::Corrupt {
            key: at.into(),
            source,
        })
    }

    fn children<'h>(&mut self, node: &Node<'h>, at: &str) -> Result<Vec<Node<'h>>, HiveError> {
        let corrupt = |source| HiveError::Corrupt {
            key: at.into(),
            source,
        };
        let listed = contain(|| match node.subkeys() {
            None => Ok(Vec::new()),
            Some(list) => list?.collect::<Result<Vec<_>, _>>(),
        })
        .ok_or_else(|| HiveError::Refused { key: at.into() })?;
        listed.map_err(corrupt)
    }

    /// The subkey `part`: by nt-hive's binary search, then by a linear scan,
    /// because a mis-sorted subkey list hides keys from a binary search.
    fn child<'h>(
        &mut self,
        node: &Node<'h>,
        part: &str,
        at: &str,
    ) -> Result<Option<Node<'h>>, HiveError> {
        let direct = contain(|| node.subkey(part).transpose())
            .ok_or_else(|| HiveError::Refused { key: at.into() })?;
        if let Ok(Some(n)) = direct {
            return Ok(Some(n));
        }
        for n in self.children(node, at)? {
            if self.name(&n, at)?.is_some_and(|s| name::eq(&s, part)) {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// Copies the values of `node` (and, with `deep`, its subtree) into `into`.
    /// A value that cannot be read is a warning: one odd value must not hide
    /// the others. A key that cannot be read is an error: what it hides may
    /// be exactly what the audit looks for.
    fn copy(
        &mut self,
        node: &Node<'_>,
        into: &mut Key,
        at: &str,
        depth: usize,
        deep: bool,
    ) -> Result<(), HiveError> {
        if depth > MAX_DEPTH {
            return Err(HiveError::TooDeep { key: at.into() });
        }
        self.budget = self
            .budget
            .checked_sub(1)
            .ok_or_else(|| HiveError::TooMany { key: at.into() })?;
        let values = contain(|| match node.values() {
            None => Ok(Vec::new()),
            Some(list) => list.map(|vals| vals.collect::<Vec<_>>()),
        })
        .ok_or_else(|| HiveError::Refused { key: at.into() })?
        .map_err(|source| HiveError::Corrupt {
            key: at.into(),
            source,
        })?;
        for value in values {
            match value
                .map_err(|e| (None, e.to_string()))
                .and_then(|v| read_value(&v))
            {
                Ok((name, v)) => into.set_value(&name, v, None),
                Err((Some(name), e)) => {
                    into.mark_unreadable(&name, &e);
                    self.warn(format!(
                        "the value `{name}` of `{at}` could not be read: {e}"
                    ));
                }
                Err((None, e)) => self.warn(format!(
                    "a value of `{at}` could not be read and was left out: {e}"
                )),
            }
        }
        if !deep {
            return Ok(());
        }
        for child in self.children(node, at)? {
            let Some(name) = self.name(&child, at)? else {
                continue;
            };
            let path = format!("{at}\\{name}");
            let sub = into.create(&[name.as_str()], None);
            self.copy(&child, sub, &path, depth + 1, true)?;
        }
        Ok(())
    }
}

/// A value's name, type and bytes. Types outside 0-11 are kept as they are
/// (real SYSTEM hives hold thousands, such as 0xFFFF0012). On failure, the
/// name when it could be read, and why.
fn read_value(
    v: &nt_hive::KeyValue<'_, &[u8]>,
) -> Result<(String, Value), (Option<String>, String)> {
    let refused = || (None, "its cell is malformed".to_owned());
    let name = contain(|| v.name().map(|n| n.to_string_lossy()))
        .ok_or_else(refused)?
        .map_err(|e| (None, e.to_string()))?;
    let named = |why: String| (Some(name.clone()), why);
    let kind =
        match contain(|| v.data_type()).ok_or_else(|| named("its cell is malformed".into()))? {
            Ok(t) => t as u32,
            Err(NtHiveError::UnsupportedKeyValueDataType { actual, .. }) => actual,
            Err(e) => return Err(named(e.to_string())),
        };
    // nt-hive asserts on a data offset of 0xFFFFFFFF (tombstone values, or
    // corruption); contained, that is a value whose data cannot be read.
    let data = contain(|| v.data().and_then(|d| d.into_vec()))
        .ok_or_else(|| named("its data offset points at no cell (0xFFFFFFFF)".into()))?
        .map_err(|e| named(e.to_string()))?;
    Ok((name, Value::new(kind, data)))
}

/// Opens `bytes` with nt-hive, validating the base block or not. nt-hive
/// asserts while it describes some errors (a bad signature at offset 0), so
/// the call is contained like every other.
pub fn open_hive(bytes: &[u8], validate: bool) -> Result<Hive<&[u8]>, HiveError> {
    let opened = contain(|| match validate {
        true => Hive::new(bytes),
        false => Hive::without_validation(bytes),
    });
    match opened {
        Some(Ok(h)) => Ok(h),
        Some(Err(e)) => Err(HiveError::Open(e)),
        None => Err(HiveError::BaseBlock("the base block is malformed".into())),
    }
}

/// Whether the hive file at `path` is a SYSTEM hive (its root holds a
/// `ControlSetNNN` or `Select`), read without copying it.
pub fn looks_like_system(path: &std::path::Path) -> Result<bool, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    // SAFETY: read-only private map of an input file; see input::read_bytes.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| e.to_string())?;
    let bytes: &[u8] = &map;
    let hive = open_hive(bytes, false).map_err(|e| e.to_string())?;
    let found = contain(|| -> Result<bool, NtHiveError> {
        let root = hive.root_key_node()?;
        let Some(subkeys) = root.subkeys() else {
            return Ok(false);
        };
        for k in subkeys? {
            let name = k?.name()?.to_string_lossy();
            if set_number(&name).is_some() || name.eq_ignore_ascii_case("Select") {
                return Ok(true);
            }
        }
        Ok(false)
    });
    match found {
        Some(Ok(b)) => Ok(b),
        // A damaged hive: let the audit say what is wrong with it.
        _ => Ok(true),
    }
}
