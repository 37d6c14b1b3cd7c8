//! Reading an offline hive (regf) into the view.
//!
//! Only what an audit needs is copied: `Select`, the list of control sets and
//! each set's `Control\SecurityProviders` subtree (or one requested key, for
//! `export`). The hive itself is memory-mapped, so a 100 MB SYSTEM hive costs
//! the pages on the path to those keys, not a copy of the file.

use std::collections::HashSet;
use std::fmt;

use nt_hive::{Hive, KeyNode, NtHiveError, NtHiveNameString};

use crate::hive::{HIVE_BINS_START, NK_HEADER, NK_SUBKEY_LIST, NK_VALUE_LIST, u32_at};
use crate::registry::control_set::{HKLM, set_number};
use crate::registry::name;
use crate::registry::{Diagnostic, Key, Severity, Value};

use crate::guard::contain;

/// Keys nest at most this many levels below the hive root: Windows' limit
/// for a registry tree. Deeper keys are not read (a finding says so).
pub const MAX_DEPTH: usize = 512;
/// The most bytes (an estimate of names, value data and per-key overhead)
/// copied out of one hive: the view is cloned once or twice on its way to a
/// report, so this keeps one hive input well under 256 MiB whatever it holds.
pub const MAX_COPY: usize = 64 << 20;
/// The most subkey- and value-list entries examined in one hive: real SYSTEM
/// hives hold well under a million keys and values, and a list of a million
/// entries that all name one cell must not take minutes.
pub const MAX_STEPS: usize = 10_000_000;
/// Values read from one key: real keys hold a few hundred at most, and each
/// new name is compared with the ones before it.
const MAX_VALUES: usize = 10_000;
/// Control sets read from one hive (Windows keeps two or three).
const MAX_SETS: usize = 1000;
/// Reader findings listed per hive; the rest are counted in one more.
const MAX_FINDINGS: usize = 100;
/// Bytes one key costs in the view besides its name: the key itself, its
/// slot in its parent's map, and its entry in the set of cells read.
pub(super) const KEY_COST: usize = std::mem::size_of::<Key>() + 96;
/// Bytes one value costs besides its name and data.
pub(super) const VALUE_COST: usize = std::mem::size_of::<crate::registry::Entry>() + 16;

/// Where a cell is: its offset as the hive stores it (from the start of the
/// hive bins) and in the file (4096 more, after the base block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellAt(pub Option<usize>);

impl fmt::Display for CellAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(o) => write!(
                f,
                "cell at hive bins offset {o:#x}, file offset {:#x}",
                o + HIVE_BINS_START
            ),
            None => f.write_str("cell at an offset the reader could not tell"),
        }
    }
}

/// Why a hive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HiveError {
    #[error("not a readable hive: {0}")]
    Open(NtHiveError),
    #[error("not a readable hive: {0}")]
    BaseBlock(String),
    #[error("corrupt hive at key `{key}`: {source}")]
    Corrupt { key: String, source: NtHiveError },
    #[error(
        "corrupt hive at key `{key}` ({at}): a cell is malformed and the hive reader refused it"
    )]
    Refused { key: String, at: CellAt },
    #[error("{why}")]
    Damaged { why: String },
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
type Children<'h> = nt_hive::SubKeyNodes<'h, &'h [u8]>;

/// What to copy from the hive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `Select`, and every control set's `Control\SecurityProviders`.
    Audit,
    /// One key (a path below the hive root) and everything under it.
    Key(Vec<String>),
    /// The values of these keys (paths below the hive root), mounted at
    /// `HKEY_LOCAL_MACHINE\SOFTWARE`: what an audit reads of SOFTWARE;
    /// and, of each listing, the names of the subkeys it asks for.
    Values(Vec<Vec<String>>, Vec<Listing>),
}

/// The subkeys of `key` (a path below the hive root) whose names hold one
/// of `holding` (ignoring case), as empty keys: the servicing packages
/// naming a KB, out of the tens of thousands a SOFTWARE hive lists. At most
/// [`MAX_LISTED`] are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub key: Vec<String>,
    pub holding: Vec<String>,
}

/// The most subkey names one listing keeps.
pub const MAX_LISTED: usize = 256;

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

/// Reads `hive`, opened over `bytes`, into a view, best effort: a key or
/// value that cannot be read is a finding at its cell, its parent is marked
/// incomplete (so a check that looks there has no verdict), and the rest is
/// read. Only a root key that cannot be read is an error.
pub fn read(bytes: &[u8], hive: &Hive<&[u8]>, scope: &Scope) -> Result<HiveView, HiveError> {
    let at_root = |source| HiveError::Corrupt {
        key: "(root)".into(),
        source,
    };
    let refused = || HiveError::Refused {
        key: "(root)".into(),
        at: CellAt(crate::hive::u32_at(bytes, 36).map(|o| o as usize)),
    };
    let root_node = contain(|| hive.root_key_node())
        .ok_or_else(refused)?
        .map_err(at_root)?;
    let root_name = contain(|| root_node.name().map(|n| n.to_string_lossy()))
        .ok_or_else(refused)?
        .map_err(at_root)?;
    let mut walker = Walker {
        bytes,
        copy_left: MAX_COPY,
        steps_left: MAX_STEPS,
        stopped: false,
        diagnostics: Vec::new(),
        said: HashSet::new(),
        unlisted: 0,
    };
    let mut tree = Key::new("");
    let mount = mount();
    let mut has_control_sets = false;
    match scope {
        Scope::Audit => {
            let system = tree.create(&mount, None);
            match walker.child(&root_node, "Select", "(root)") {
                Lookup::Found(select) => {
                    walker.copy(select, system.create(&["Select"], None), "Select", 1, false)
                }
                Lookup::Absent => {}
                Lookup::Broken(why) => system.mark_incomplete(&why),
            }
            let mut sets = Vec::new();
            walker.each_child(&root_node, "(root)", None, system, |w, node| {
                if let Some(set) = w.name(&node).filter(|n| set_number(n).is_some()) {
                    sets.push((set, node));
                }
                // Control sets are few; a root listing thousands is damage.
                sets.len() < MAX_SETS
            });
            if sets.len() == MAX_SETS {
                walker.warn(
                    "hive-limit",
                    format!("the hive root lists more than {MAX_SETS} control sets; only the first {MAX_SETS} are read"),
                );
                system.mark_incomplete("the hive root lists too many control sets to read");
            }
            for (set, node) in sets {
                has_control_sets = true;
                let mut here = node;
                let mut path = set.clone();
                let mut target = system.create(&[set.as_str()], None);
                let mut found = true;
                for part in ["Control", "SecurityProviders"] {
                    match walker.child(&here, part, &path) {
                        Lookup::Found(n) => {
                            here = n;
                            target = target.create(&[part], None);
                        }
                        Lookup::Absent => {
                            found = false;
                            break;
                        }
                        Lookup::Broken(why) => {
                            target.mark_incomplete(&why);
                            found = false;
                            break;
                        }
                    }
                    path = format!("{path}\\{part}");
                }
                if found {
                    walker.copy(here, target, &path, 3, true);
                }
            }
        }
        Scope::Values(keys, listings) => {
            for key in keys {
                let mut path = software_mount().to_vec();
                if let Some((node, shown, depth)) =
                    walker.walk_to(&root_node, key, &mut tree, &mut path)
                {
                    walker.copy(node, tree.create(&path, None), &shown, depth, false);
                }
            }
            for listing in listings {
                let mut path = software_mount().to_vec();
                if let Some((node, shown, _)) =
                    walker.walk_to(&root_node, &listing.key, &mut tree, &mut path)
                {
                    let holding: Vec<String> =
                        listing.holding.iter().map(|h| h.to_uppercase()).collect();
                    let mut names = Vec::new();
                    let mut mark = Key::default();
                    walker.each_child(&node, &shown, None, &mut mark, |w, n| {
                        if let Some(name) = w.name(&n) {
                            let upper = name.to_uppercase();
                            if holding.iter().any(|h| upper.contains(h.as_str())) {
                                names.push(name);
                            }
                        }
                        names.len() < MAX_LISTED
                    });
                    let into = tree.create(&path, None);
                    for name in names {
                        into.create(&[name], None);
                    }
                    if let Some(why) = mark.incomplete() {
                        into.mark_incomplete(why);
                    }
                }
            }
        }
        Scope::Key(key) => {
            let mut full = mount.to_vec();
            if let Some((node, shown, depth)) =
                walker.walk_to(&root_node, key, &mut tree, &mut full)
            {
                walker.copy(node, tree.create(&full, None), &shown, depth, true);
            }
        }
    }
    if let (Scope::Audit, false) = (scope, has_control_sets) {
        // No control set found because the root's list could not be read:
        // that is damage, not a hive of another kind.
        if let Some(why) = tree.find(&mount).and_then(Key::incomplete) {
            return Err(HiveError::Damaged {
                why: why.to_owned(),
            });
        }
    }
    if walker.unlisted > 0 {
        let more = walker.unlisted;
        walker.diagnostics.push(note(
            "hive-damage",
            format!("{more} more problem(s) in this hive were found and not listed"),
        ));
    }
    Ok(HiveView {
        root: tree,
        root_name,
        has_control_sets,
        diagnostics: walker.diagnostics,
    })
}

fn note(code: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        code,
        severity: Severity::Warning,
        message,
        origin: None,
        suggestion: None,
    }
}

/// A subkey looked up by name.
enum Lookup<'h> {
    Found(Node<'h>),
    Absent,
    /// It may exist, but the subkey list could not be read in full: why.
    Broken(String),
}

/// What a frame's subkey list gives next.
enum Next<'h> {
    Child(Node<'h>),
    Done,
    /// The step budget ran out.
    Stopped,
    /// An entry that cannot be read, and why.
    Bad(String),
}

/// The path of the top frame's key, or of its subkey `child`, as messages
/// show it: past 12 levels the middle is left out, so building one costs
/// the same at any depth and a message stays short whatever the hive holds.
fn path_shown(frames: &[Frame<'_>], child: Option<&str>) -> String {
    let n = frames.len();
    let mut out = String::new();
    let mut push = |s: &str| {
        if !out.is_empty() {
            out.push('\\');
        }
        out.push_str(s);
    };
    if n > 12 {
        frames[..4].iter().for_each(|f| push(&f.shown));
        push(&format!("…({} levels)…", n - 12));
        frames[n - 8..].iter().for_each(|f| push(&f.shown));
    } else {
        frames.iter().for_each(|f| push(&f.shown));
    }
    if let Some(c) = child {
        push(c);
    }
    out
}

/// A key being copied, with the subkeys still to visit.
struct Frame<'h> {
    key: Key,
    /// Its name as messages show it (for the first frame, its path).
    shown: String,
    /// Levels below the hive root.
    depth: usize,
    /// The address of its name in the hive bytes: the identity of its cell.
    id: usize,
    children: Option<Children<'h>>,
    /// Its subkey list's cell, for messages.
    list: Option<usize>,
    /// Entries of that list visited so far.
    index: usize,
}

struct Walker<'b> {
    bytes: &'b [u8],
    copy_left: usize,
    steps_left: usize,
    /// A limit was reached: nothing more is copied.
    stopped: bool,
    diagnostics: Vec<Diagnostic>,
    /// Messages already given, so one bad cell met twice is told once.
    said: HashSet<String>,
    unlisted: usize,
}

impl<'b> Walker<'b> {
    /// The key at `path` below `from`, created in `tree` at `mount` + the
    /// parts as the hive spells them (which `mount` then holds), with its
    /// path as shown in messages and its depth; `None` when it is absent or
    /// cannot be reached (then the last key reached is marked incomplete).
    fn walk_to<'h>(
        &mut self,
        from: &Node<'h>,
        path: &[String],
        tree: &mut Key,
        mount: &mut Vec<String>,
    ) -> Option<(Node<'h>, String, usize)> {
        let mut here = from.clone();
        let mut shown = String::new();
        for part in path {
            let at = match shown.is_empty() {
                true => "(root)".to_owned(),
                false => shown.clone(),
            };
            let n = match self.child(&here, part, &at) {
                Lookup::Found(n) => n,
                Lookup::Absent => return None,
                Lookup::Broken(why) => {
                    tree.create(mount, None).mark_incomplete(&why);
                    return None;
                }
            };
            let spelled = self.name(&n).unwrap_or_else(|| part.clone());
            shown = match shown.is_empty() {
                true => spelled.clone(),
                false => format!("{shown}\\{spelled}"),
            };
            mount.push(spelled);
            here = n;
        }
        Some((here, shown, path.len()))
    }

    /// Records a finding once; past [`MAX_FINDINGS`] it is only counted.
    fn warn(&mut self, code: &'static str, message: String) {
        if self.said.contains(&message) {
            return;
        }
        if self.diagnostics.len() >= MAX_FINDINGS {
            self.unlisted += 1;
            return;
        }
        self.said.insert(message.clone());
        self.diagnostics.push(note(code, message));
    }

    /// One step of work; false (and a finding, once) when none are left.
    fn step(&mut self, at: &str) -> bool {
        let ok = self.tick();
        if !ok {
            self.out_of_steps(at);
        }
        ok
    }

    /// One step of work, if any are left and nothing stopped the walk.
    fn tick(&mut self) -> bool {
        if self.stopped {
            return false;
        }
        match self.steps_left.checked_sub(1) {
            Some(left) => {
                self.steps_left = left;
                true
            }
            None => false,
        }
    }

    fn out_of_steps(&mut self, at: &str) {
        if !self.stopped {
            self.stop(format!(
                "the hive's lists hold more than {MAX_STEPS} entries in all (reading stopped at `{at}`)"
            ));
        }
    }

    /// Takes `cost` bytes of the copy budget; false (and a finding, once)
    /// when they are not left.
    fn spend(&mut self, cost: usize, at: &str, cell: CellAt) -> bool {
        if self.stopped {
            return false;
        }
        match self.copy_left.checked_sub(cost) {
            Some(left) => {
                self.copy_left = left;
                true
            }
            None => {
                self.stop(format!(
                    "more than {} MiB would be copied out of the hive (reading stopped at `{at}`, {cell})",
                    MAX_COPY >> 20
                ));
                false
            }
        }
    }

    fn stop(&mut self, why: String) {
        self.stopped = true;
        self.warn("hive-limit", format!("hive not read in full: {why}"));
    }

    fn why_stopped(&self) -> &'static str {
        "not read: a limit on what is read from one hive was reached"
    }

    /// A key's name, or `None` when its cell is malformed.
    fn name(&mut self, node: &Node<'_>) -> Option<String> {
        contain(|| node.name().map(|n| n.to_string_lossy()).ok()).flatten()
    }

    /// nt-hive 0.3 does not tell where a key node's cell is, but its
    /// `name()` borrows the name's bytes from the hive's own bytes, and a key
    /// node keeps its name right after the cell's 4-byte size and its
    /// 76-byte header. So the name's address is a sound identity for the
    /// cell, and that address less the address of the file's bytes locates
    /// it; the offset is kept only when an `nk` signature is there.
    fn identify(&self, node: &Node<'_>) -> Option<(usize, CellAt)> {
        let name = contain(|| node.name().ok()).flatten()?;
        let (NtHiveNameString::Latin1(b) | NtHiveNameString::Utf16LE(b)) = name;
        let id = b.as_ptr() as usize;
        let offset = id
            .checked_sub(self.bytes.as_ptr() as usize)
            .filter(|&o| o <= self.bytes.len())
            .and_then(|o| o.checked_sub(HIVE_BINS_START + 4 + NK_HEADER))
            .filter(|&cell| {
                let sig = HIVE_BINS_START + cell + 4;
                self.bytes.get(sig..sig + 2) == Some(b"nk")
            });
        Some((id, CellAt(offset)))
    }

    /// The subkey list cell a key node names, read from the bytes.
    fn list_of(&self, cell: CellAt) -> Option<usize> {
        let off = u32_at(self.bytes, HIVE_BINS_START + cell.0? + 4 + NK_SUBKEY_LIST)?;
        (off != u32::MAX).then_some(off as usize)
    }

    /// The key node the `index`th entry of the subkey list at `list` names,
    /// read from the bytes: nt-hive does not say which cell it refused.
    fn entry_of(&self, list: Option<usize>, index: usize) -> CellAt {
        let leaf = |list: usize, index: usize| -> Option<(usize, usize)> {
            let at = HIVE_BINS_START + list + 4;
            let sig = self.bytes.get(at..at + 2)?;
            let count = u16::from_le_bytes(self.bytes.get(at + 2..at + 4)?.try_into().ok()?);
            let size = match sig {
                b"lf" | b"lh" => 8,
                b"li" => 4,
                _ => return None,
            };
            let count = count as usize;
            if index >= count {
                return Some((count, usize::MAX));
            }
            u32_at(self.bytes, at + 4 + size * index).map(|o| (count, o as usize))
        };
        let found = (|| {
            let list = list?;
            let at = HIVE_BINS_START + list + 4;
            if self.bytes.get(at..at + 2)? != b"ri" {
                return leaf(list, index).map(|(_, o)| o);
            }
            let count = u16::from_le_bytes(self.bytes.get(at + 2..at + 4)?.try_into().ok()?);
            let mut rest = index;
            for i in 0..count as usize {
                let sub = u32_at(self.bytes, at + 4 + 4 * i)? as usize;
                let (n, o) = leaf(sub, rest)?;
                if rest < n {
                    return Some(o);
                }
                rest -= n;
            }
            None
        })();
        CellAt(found.filter(|&o| o != usize::MAX))
    }

    /// Calls `f` on each subkey of `node` that can be read, until it
    /// returns false; an entry that cannot be read is a finding, and marks
    /// `mark` incomplete.
    fn each_child<'h>(
        &mut self,
        node: &Node<'h>,
        at: &str,
        cell: Option<CellAt>,
        mark: &mut Key,
        mut f: impl FnMut(&mut Self, Node<'h>) -> bool,
    ) {
        let cell = cell.unwrap_or_else(|| self.identify(node).map_or(CellAt(None), |(_, c)| c));
        let list = self.list_of(cell);
        let mut iter = match self.subkeys(node, at, cell, list) {
            Ok(Some(iter)) => iter,
            Ok(None) => return,
            Err(why) => {
                mark.mark_incomplete(&why);
                return;
            }
        };
        let mut index = 0;
        loop {
            if !self.step(at) {
                mark.mark_incomplete(self.why_stopped());
                return;
            }
            let next = contain(|| iter.next());
            let child = match next {
                Some(None) => return,
                Some(Some(Ok(child))) => Ok(child),
                Some(Some(Err(e))) => Err(e.to_string()),
                None => Err("its cell is malformed".to_owned()),
            };
            match child {
                Ok(child) => {
                    if !f(self, child) {
                        return;
                    }
                }
                Err(e) => {
                    let why = self.bad_entry(at, list, index, &e);
                    mark.mark_incomplete(&why);
                }
            }
            index += 1;
        }
    }

    /// The finding for a subkey list entry that cannot be read; returns why.
    fn bad_entry(&mut self, at: &str, list: Option<usize>, index: usize, e: &str) -> String {
        let why = format!(
            "corrupt hive: a subkey of `{at}` could not be read (entry {index} of its subkey list, key node {}): {e}",
            self.entry_of(list, index)
        );
        self.warn("hive-key", why.clone());
        why
    }

    /// The iterator over `node`'s subkeys; `Err` (after a finding) when the
    /// list cannot be read.
    fn subkeys<'h>(
        &mut self,
        node: &Node<'h>,
        at: &str,
        cell: CellAt,
        list: Option<usize>,
    ) -> Result<Option<Children<'h>>, String> {
        let failed = match contain(|| node.subkeys()) {
            Some(None) => return Ok(None),
            Some(Some(Ok(iter))) => return Ok(Some(iter)),
            Some(Some(Err(e))) => e.to_string(),
            None => "its cell is malformed".to_owned(),
        };
        let why = format!(
            "corrupt hive: the subkey list of `{at}` ({}; key node {cell}) could not be read: {failed}",
            CellAt(list)
        );
        self.warn("hive-key", why.clone());
        Err(why)
    }

    /// The subkey `part`: by nt-hive's binary search, then by a linear scan,
    /// because a mis-sorted subkey list hides keys from a binary search.
    fn child<'h>(&mut self, node: &Node<'h>, part: &str, at: &str) -> Lookup<'h> {
        if let Some(Some(Ok(n))) = contain(|| node.subkey(part)) {
            return Lookup::Found(n);
        }
        let mut found = None;
        let mut scratch = Key::default();
        self.each_child(node, at, None, &mut scratch, |w, n| {
            if w.name(&n).is_some_and(|s| name::eq(&s, part)) {
                found = Some(n);
                return false;
            }
            true
        });
        match (found, scratch.incomplete()) {
            (Some(n), _) => Lookup::Found(n),
            (None, None) => Lookup::Absent,
            (None, Some(why)) => Lookup::Broken(why.to_owned()),
        }
    }

    /// Copies the values of `node` (and, with `deep`, its subtree) into
    /// `into`; `depth` is its level below the hive root. Iterative: an
    /// explicit stack of frames, each building its key, adopted by its
    /// parent when done. Each key node is read once, known by its cell: a
    /// cell met again (a loop, or keys sharing a subkey list) is a finding,
    /// and the key there is marked incomplete instead of being read again,
    /// so a hive of a few kilobytes cannot unfold into millions of keys.
    fn copy<'h>(&mut self, node: Node<'h>, into: &mut Key, at: &str, depth: usize, deep: bool) {
        if self.stopped {
            into.mark_incomplete(self.why_stopped());
            return;
        }
        let mut seen: HashSet<usize> = HashSet::new();
        let mut lists: HashSet<usize> = HashSet::new();
        // The cells of the keys on the path to the current one: a loop.
        let mut on_path: HashSet<usize> = HashSet::new();
        let Some((id, cell)) = self.identify(&node) else {
            let why =
                format!("corrupt hive: the key `{at}` could not be read: its name is malformed");
            self.warn("hive-key", why.clone());
            into.mark_incomplete(&why);
            return;
        };
        seen.insert(id);
        on_path.insert(id);
        let root = std::mem::take(into);
        let mut first = self.open(node, root, at, cell, deep, &mut lists);
        first.shown = at.to_owned();
        first.depth = depth;
        first.id = id;
        let mut frames = vec![first];
        while let Some(top) = frames.last_mut() {
            let next = self.next_child(top);
            let child = match next {
                Next::Child(child) => child,
                Next::Done => {
                    let done = frames.pop().expect("a frame is on the stack");
                    on_path.remove(&done.id);
                    match frames.last_mut() {
                        Some(parent) => {
                            parent.key.adopt(done.key);
                        }
                        None => *into = done.key,
                    }
                    continue;
                }
                Next::Stopped => {
                    let at = path_shown(&frames, None);
                    self.out_of_steps(&at);
                    for f in &mut frames {
                        f.children = None;
                        f.key.mark_incomplete(self.why_stopped());
                    }
                    continue;
                }
                Next::Bad(e) => {
                    let (list, index) = (top.list, top.index - 1);
                    let at = path_shown(&frames, None);
                    let why = self.bad_entry(&at, list, index, &e);
                    frames.last_mut().expect("top").key.mark_incomplete(&why);
                    continue;
                }
            };
            let (list, index, parent_depth) = (top.list, top.index - 1, top.depth);
            let identified = self.name(&child).zip(self.identify(&child));
            let Some((name, (id, cell))) = identified else {
                let at = path_shown(&frames, None);
                let why = self.bad_entry(&at, list, index, "its name is malformed");
                frames.last_mut().expect("top").key.mark_incomplete(&why);
                continue;
            };
            let child_at = path_shown(&frames, Some(&name::clip(&name, 64)));
            if !seen.insert(id) {
                let how = match on_path.contains(&id) {
                    true => "a loop: the key is its own ancestor",
                    false => "a shared cell: another key lists it too",
                };
                let why = format!(
                    "corrupt hive: the key node of `{child_at}` ({cell}) was already read ({how}); it is not read again"
                );
                self.warn("hive-shared", why.clone());
                let top = frames.last_mut().expect("top");
                top.key.create(&[name.as_str()], None).mark_incomplete(&why);
                continue;
            }
            if parent_depth + 1 > MAX_DEPTH {
                let why = format!(
                    "the key `{child_at}` ({cell}) is deeper than {MAX_DEPTH} levels below the hive root, Windows' limit; it and its subkeys are not read"
                );
                self.warn("hive-limit", why.clone());
                let top = frames.last_mut().expect("top");
                top.key.create(&[name.as_str()], None).mark_incomplete(&why);
                continue;
            }
            if !self.spend(KEY_COST + 2 * name.len(), &child_at, cell) {
                for f in &mut frames {
                    f.children = None;
                    f.key.mark_incomplete(self.why_stopped());
                }
                continue;
            }
            let shown = name::clip(&name, 64);
            let mut frame = self.open(child, Key::new(name), &child_at, cell, true, &mut lists);
            frame.shown = shown;
            frame.depth = parent_depth + 1;
            frame.id = id;
            on_path.insert(id);
            frames.push(frame);
        }
    }

    /// The next subkey of the frame's key.
    fn next_child<'h>(&mut self, frame: &mut Frame<'h>) -> Next<'h> {
        let Some(iter) = frame.children.as_mut() else {
            return Next::Done;
        };
        if !self.tick() {
            return Next::Stopped;
        }
        let next = contain(|| iter.next());
        frame.index += 1;
        match next {
            Some(None) => {
                frame.children = None;
                Next::Done
            }
            Some(Some(Ok(child))) => Next::Child(child),
            Some(Some(Err(e))) => Next::Bad(e.to_string()),
            None => Next::Bad("its cell is malformed".to_owned()),
        }
    }

    /// Starts copying one key: reads its values into `key`, and with `deep`
    /// opens its subkey list (one read from another key is a shared cell).
    /// The frame's `shown`, `depth` and `id` are the caller's to set.
    fn open<'h>(
        &mut self,
        node: Node<'h>,
        mut key: Key,
        at: &str,
        cell: CellAt,
        deep: bool,
        lists: &mut HashSet<usize>,
    ) -> Frame<'h> {
        self.values(&node, &mut key, at, cell);
        let list = self.list_of(cell);
        let mut children = None;
        if deep {
            if let Some(l) = list.filter(|l| !lists.insert(*l)) {
                let why = format!(
                    "corrupt hive: the subkey list of `{at}` ({}) is shared with another key; it is not read again",
                    CellAt(Some(l))
                );
                self.warn("hive-shared", why.clone());
                key.mark_incomplete(&why);
            } else {
                match self.subkeys(&node, at, cell, list) {
                    Ok(iter) => children = iter,
                    Err(why) => key.mark_incomplete(&why),
                }
            }
        }
        Frame {
            key,
            shown: String::new(),
            depth: 0,
            id: 0,
            children,
            list,
            index: 0,
        }
    }

    /// Copies `node`'s values into `into`. A value that cannot be read is a
    /// finding and is marked unreadable: one odd value must not hide the
    /// others.
    fn values(&mut self, node: &Node<'_>, into: &mut Key, at: &str, cell: CellAt) {
        let list = cell
            .0
            .and_then(|c| u32_at(self.bytes, HIVE_BINS_START + c + 4 + NK_VALUE_LIST))
            .filter(|&o| o != u32::MAX)
            .map(|o| o as usize);
        let failed = match contain(|| node.values()) {
            Some(None) => return,
            Some(Some(Ok(iter))) => Ok(iter),
            Some(Some(Err(e))) => Err(e.to_string()),
            None => Err("its cell is malformed".to_owned()),
        };
        let mut iter = match failed {
            Ok(iter) => iter,
            Err(e) => {
                let why = format!(
                    "corrupt hive: the value list of `{at}` ({}; key node {cell}) could not be read: {e}",
                    CellAt(list)
                );
                self.warn("hive-value", why.clone());
                into.mark_incomplete(&why);
                return;
            }
        };
        // Where the `i`th value cell is, read from the bytes, for messages.
        let where_ = |i: usize| {
            let vk = list
                .and_then(|l| u32_at(self.bytes, (HIVE_BINS_START + l + 4).checked_add(4 * i)?))
                .map(|o| o as usize);
            format!(
                "value {i} of the value list at {}: {}",
                CellAt(list),
                CellAt(vk)
            )
        };
        for count in 0.. {
            if count == MAX_VALUES {
                let why = format!(
                    "the key `{at}` ({cell}) holds more than {MAX_VALUES} values; the rest are not read"
                );
                self.warn("hive-limit", why.clone());
                into.mark_incomplete(&why);
                return;
            }
            if !self.step(at) {
                into.mark_incomplete(self.why_stopped());
                return;
            }
            let value = match contain(|| iter.next()) {
                Some(None) => return,
                Some(Some(v)) => v.map_err(|e| (None, e.to_string())),
                None => Err((None, "its cell is malformed".to_owned())),
            };
            // The data is paid for before it is read: one value may say 1 GiB.
            let size = value
                .as_ref()
                .ok()
                .and_then(|v| contain(|| v.data_size()))
                .unwrap_or(0) as usize;
            if !self.spend(VALUE_COST + size, at, cell) {
                into.mark_incomplete(self.why_stopped());
                return;
            }
            match value.and_then(|v| read_value(&v)) {
                Ok((name, v)) => into.set_value(&name, v, None),
                Err((Some(name), e)) => {
                    into.mark_unreadable(&name, &e);
                    let place = where_(count);
                    self.warn(
                        "hive-value",
                        format!("the value `{name}` of `{at}` could not be read ({place}): {e}"),
                    );
                }
                Err((None, e)) => {
                    let place = where_(count);
                    let why = format!(
                        "a value of `{at}` could not be read and was left out ({place}): {e}"
                    );
                    self.warn("hive-value", why.clone());
                    into.mark_incomplete(&why);
                }
            }
        }
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
    let (file, _) = crate::fsio::open(path).map_err(|e| e.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The step budget stops a walk with a finding, and marks what it left.
    #[test]
    fn running_out_of_steps_is_a_finding() {
        let mut tree = Key::new("ROOT");
        let wide = tree.create(&["Wide"], None);
        for i in 0..50 {
            wide.create(&[format!("K{i:02}")], None);
        }
        let bytes = crate::hive::build(&tree, &crate::hive::BuildOptions::default());
        let hive = open_hive(&bytes, true).unwrap();
        let mut walker = Walker {
            bytes: &bytes,
            copy_left: MAX_COPY,
            steps_left: 10,
            stopped: false,
            diagnostics: Vec::new(),
            said: HashSet::new(),
            unlisted: 0,
        };
        let root = hive.root_key_node().unwrap();
        let Lookup::Found(node) = walker.child(&root, "Wide", "(root)") else {
            panic!("Wide is there");
        };
        let mut into = Key::new("Wide");
        walker.copy(node, &mut into, "Wide", 1, true);
        assert!(into.incomplete().is_some());
        assert!(into.subkeys().count() < 50);
        assert_eq!(walker.diagnostics.len(), 1, "{:?}", walker.diagnostics);
        assert!(
            walker.diagnostics[0]
                .message
                .contains("more than 10000000 entries"),
            "{:?}",
            walker.diagnostics
        );
        // Later copies are refused at once.
        let mut other = Key::new("Other");
        walker.copy(root, &mut other, "(root)", 0, true);
        assert!(other.incomplete().is_some());
    }
}
