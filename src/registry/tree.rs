//! An in-memory registry tree: what every input is turned into.
//!
//! Names are matched case-insensitively and keep the spelling first seen,
//! as Windows does. Values keep their creation order (regedit exports them in
//! that order); subkeys iterate in case-folded order (regedit sorts them).

use std::collections::btree_map::Entry as Slot;
use std::collections::{BTreeMap, btree_map};

use super::name::fold;
use super::value::Value;

/// Where something in the tree came from: an input (by index into the list of
/// sources the caller keeps), and a 1-based line and column, or a byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub source: usize,
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: Value,
    pub origin: Option<Origin>,
}

/// Clone, drop, Debug, merge and walks are loops with their own stack, never
/// recursion: an input decides how deep a tree is (a `.reg` key line can name
/// 100,000 levels), and recursion that deep overflows the thread's stack.
#[derive(Default)]
pub struct Key {
    name: String,
    subkeys: Subkeys,
    values: Vec<Entry>,
    origin: Option<Origin>,
    /// Values the input holds but whose data could not be read (a corrupt
    /// cell in a hive), with why.
    unreadable: Vec<(String, String)>,
    /// Values a line of the input meant to set, but which its reader skipped
    /// (a `.reg` line regedit would not import), with where.
    skipped: Vec<(String, Option<Origin>)>,
    /// Why some of this key's values or subkeys could not be read (a corrupt
    /// or shared cell in a hive): what is absent here may exist in the input.
    incomplete: Option<String>,
    /// Values a line of the input deleted here (`"name"=-`), with where; a
    /// later write of the value drops its record.
    deleted_values: Vec<(String, Option<Origin>)>,
    /// Keys below this one a line of the input deleted (`[-key]`), by path
    /// relative to this key, with where. Kept at the deepest key that
    /// exists: re-creating a key on the path takes the records below it
    /// along, and drops the one for the key itself.
    deleted_keys: Vec<(Vec<String>, Option<Origin>)>,
}

impl Key {
    pub fn new(name: impl Into<String>) -> Self {
        Key {
            name: name.into(),
            ..Key::default()
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the key was first created, if it came from a located input.
    pub fn origin(&self) -> Option<Origin> {
        self.origin
    }

    pub fn subkey(&self, name: &str) -> Option<&Key> {
        self.subkeys.get(&fold(name))
    }

    pub fn subkeys(&self) -> impl Iterator<Item = &Key> {
        self.subkeys.values()
    }

    pub fn has_subkeys(&self) -> bool {
        !self.subkeys.is_empty()
    }

    pub fn values(&self) -> &[Entry] {
        &self.values
    }

    /// The value named `name`; the empty name is the default value (`@`).
    pub fn value(&self, name: &str) -> Option<&Entry> {
        let folded = fold(name);
        self.values.iter().find(|e| fold(&e.name) == folded)
    }

    pub fn find<S: AsRef<str>>(&self, path: &[S]) -> Option<&Key> {
        path.iter()
            .try_fold(self, |key, part| key.subkey(part.as_ref()))
    }

    pub fn find_mut<S: AsRef<str>>(&mut self, path: &[S]) -> Option<&mut Key> {
        let mut key = self;
        for part in path {
            key = key.subkeys.get_mut(&fold(part.as_ref()))?;
        }
        Some(key)
    }

    /// Opens `path`, creating every missing key on the way (RegCreateKeyEx).
    pub fn create<S: AsRef<str>>(&mut self, path: &[S], origin: Option<Origin>) -> &mut Key {
        path.iter().fold(self, |key, part| {
            let part = part.as_ref();
            let folded = fold(part);
            if !key.subkeys.contains_key(&folded) && !key.deleted_keys.is_empty() {
                // Re-created after a deletion: the deletions below it move
                // down with it, and its own is undone.
                let mut below = Vec::new();
                key.deleted_keys.retain(|(p, at)| match p.split_first() {
                    Some((first, rest)) if fold(first) == folded => {
                        if !rest.is_empty() {
                            below.push((rest.to_vec(), *at));
                        }
                        false
                    }
                    _ => true,
                });
                let sub = key.subkeys.entry(folded).or_insert_with(|| Key {
                    name: part.to_owned(),
                    origin,
                    ..Key::default()
                });
                sub.deleted_keys = below;
                return sub;
            }
            key.subkeys.entry(folded).or_insert_with(|| Key {
                name: part.to_owned(),
                origin,
                ..Key::default()
            })
        })
    }

    /// Adds everything in `other` to this key: its values (replacing those
    /// of the same name) and subkeys, all the way down.
    pub fn merge_from(&mut self, other: &Key) {
        // Each key being merged is taken out of its parent while its subkeys
        // are merged, and put back after: a stack of owned keys, no recursion.
        let mut root = std::mem::take(self);
        root.merge_own(other);
        let mut stack = vec![(String::new(), root, other.subkeys.iter())];
        while let Some((_, mine, theirs)) = stack.last_mut() {
            match theirs.next() {
                Some((folded, sub)) => match mine.subkeys.remove(folded) {
                    Some(mut existing) => {
                        existing.merge_own(sub);
                        stack.push((folded.clone(), existing, sub.subkeys.iter()));
                    }
                    None => {
                        mine.subkeys.insert(folded.clone(), sub.clone());
                    }
                },
                None => {
                    let Some((folded, done, _)) = stack.pop() else {
                        break;
                    };
                    match stack.last_mut() {
                        Some((_, parent, _)) => {
                            parent.subkeys.insert(folded, done);
                        }
                        None => *self = done,
                    }
                }
            }
        }
    }

    /// The merge of one key's own contents, without its subkeys.
    fn merge_own(&mut self, other: &Key) {
        for e in &other.values {
            self.set_value(&e.name, e.value.clone(), e.origin);
        }
        self.unreadable.extend(other.unreadable.iter().cloned());
        self.skipped.extend(other.skipped.iter().cloned());
        self.deleted_values
            .extend(other.deleted_values.iter().cloned());
        self.deleted_keys.extend(other.deleted_keys.iter().cloned());
        if self.incomplete.is_none() {
            self.incomplete.clone_from(&other.incomplete);
        }
    }

    /// Deletes `path` and everything below it (RegDeleteTree). False when it
    /// did not exist.
    pub fn delete<S: AsRef<str>>(&mut self, path: &[S]) -> bool {
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let mut key = self;
        for part in parents {
            match key.subkeys.get_mut(&fold(part.as_ref())) {
                Some(k) => key = k,
                None => return false,
            }
        }
        key.subkeys.remove(&fold(last.as_ref())).is_some()
    }

    /// Deletes `path` and everything below it, as `delete` does, and
    /// remembers at the deepest key on the way that exists that `at`
    /// deleted it, whether or not it existed: see `deletion`.
    pub fn delete_at<S: AsRef<str>>(&mut self, path: &[S], at: Option<Origin>) -> bool {
        let deleted = self.delete(path);
        let mut key = self;
        let mut depth = 0;
        for part in path.iter().take(path.len().saturating_sub(1)) {
            match key.subkeys.get_mut(&fold(part.as_ref())) {
                Some(k) => {
                    key = k;
                    depth += 1;
                }
                None => break,
            }
        }
        let rest: Vec<String> = path[depth..]
            .iter()
            .map(|p| p.as_ref().to_owned())
            .collect();
        if !rest.is_empty() {
            key.deleted_keys.push((rest, at));
        }
        deleted
    }

    /// Deletes the value `name`, as `delete_value` does, and remembers that
    /// `at` deleted it, whether or not it existed: see `deletion`.
    pub fn delete_value_at(&mut self, name: &str, at: Option<Origin>) -> bool {
        let deleted = self.delete_value(name);
        self.deleted_values.push((name.to_owned(), at));
        deleted
    }

    /// Where the input last deleted the value `value` of the key at `path`
    /// (or, with `None`, the key itself), if that is why it is absent: the
    /// value deleted in its key, or the key or one above it deleted and
    /// not created again since. `None` when it exists, or was never deleted.
    pub fn deletion<S: AsRef<str>>(&self, path: &[S], value: Option<&str>) -> Option<Origin> {
        let mut key = self;
        let mut depth = 0;
        for part in path {
            match key.subkey(part.as_ref()) {
                Some(k) => {
                    key = k;
                    depth += 1;
                }
                None => break,
            }
        }
        let rest = &path[depth..];
        if rest.is_empty() {
            let value = value?;
            if key.value(value).is_some() {
                return None;
            }
            let folded = fold(value);
            return key
                .deleted_values
                .iter()
                .rev()
                .find(|(n, _)| fold(n) == folded)
                .and_then(|(_, at)| *at);
        }
        key.deleted_keys
            .iter()
            .rev()
            .find(|(p, _)| {
                p.len() <= rest.len()
                    && p.iter().zip(rest).all(|(a, b)| fold(a) == fold(b.as_ref()))
            })
            .and_then(|(_, at)| *at)
    }

    /// Sets a value; a value of the same name (in any case) is replaced in
    /// place and keeps its first spelling, as RegSetValueEx does.
    pub fn set_value(&mut self, name: &str, value: Value, origin: Option<Origin>) {
        let folded = fold(name);
        if !self.deleted_values.is_empty() {
            self.deleted_values.retain(|(n, _)| fold(n) != folded);
        }
        match self.values.iter_mut().find(|e| fold(&e.name) == folded) {
            Some(e) => {
                e.value = value;
                e.origin = origin;
            }
            None => self.values.push(Entry {
                name: name.to_owned(),
                value,
                origin,
            }),
        }
    }

    /// Records that the input holds a value `name` that could not be read.
    pub fn mark_unreadable(&mut self, name: &str, why: &str) {
        self.unreadable.push((name.to_owned(), why.to_owned()));
    }

    /// Records that some of this key's values or subkeys could not be read;
    /// the first reason is kept.
    pub fn mark_incomplete(&mut self, why: &str) {
        if self.incomplete.is_none() {
            self.incomplete = Some(why.to_owned());
        }
    }

    /// Why this key was not read in full, if it was not.
    pub fn incomplete(&self) -> Option<&str> {
        self.incomplete.as_deref()
    }

    /// Adds `key` as a subkey, merged into one of the same name (in any
    /// case) if there is one, so a tree can be built from the leaves up.
    pub fn adopt(&mut self, key: Key) -> &mut Key {
        match self.subkeys.entry(fold(&key.name)) {
            Slot::Occupied(slot) => {
                let mine = slot.into_mut();
                mine.merge_from(&key);
                mine
            }
            Slot::Vacant(slot) => slot.insert(key),
        }
    }

    /// Records a value a skipped line meant to set here.
    pub fn mark_skipped(&mut self, name: &str, origin: Option<Origin>) {
        self.skipped.push((name.to_owned(), origin));
    }

    /// Values skipped lines meant to set here, in input order.
    pub fn skipped(&self) -> &[(String, Option<Origin>)] {
        &self.skipped
    }

    /// Why the value `name` could not be read, if it could not.
    pub fn unreadable(&self, name: &str) -> Option<&str> {
        let folded = fold(name);
        self.unreadable
            .iter()
            .find(|(n, _)| fold(n) == folded)
            .map(|(_, why)| why.as_str())
    }

    pub fn delete_value(&mut self, name: &str) -> bool {
        let folded = fold(name);
        let before = self.values.len();
        self.values.retain(|e| fold(&e.name) != folded);
        self.values.len() != before
    }

    /// Every key below this one with its path relative to it, depth first,
    /// in export order. Holds every path at once: prefer `visit`.
    pub fn walk(&self) -> Vec<(Vec<&str>, &Key)> {
        let mut out = Vec::new();
        self.visit(|path, key| out.push((path.to_vec(), key)));
        out
    }

    /// Calls `f` with this key and every key below it, with the path relative
    /// to this key, depth first, in export order (a key, then its subkeys in
    /// sorted order). One path is kept and grown or cut as the walk moves, so
    /// the cost is one step per key whatever the depth.
    pub fn visit<'a>(&'a self, mut f: impl FnMut(&[&'a str], &'a Key)) {
        let mut path: Vec<&'a str> = Vec::new();
        f(&path, self);
        let mut stack: Vec<btree_map::Values<'a, String, Key>> = vec![self.subkeys.values()];
        while let Some(level) = stack.last_mut() {
            match level.next() {
                Some(k) => {
                    path.push(k.name());
                    f(&path, k);
                    stack.push(k.subkeys.values());
                }
                None => {
                    stack.pop();
                    path.pop();
                }
            }
        }
    }

    /// A copy of this key without its subkeys. Destructured in full, so a
    /// field added to `Key` must be named here (the compiler says so).
    fn shallow_clone(&self) -> Key {
        let Key {
            name,
            subkeys: _,
            values,
            origin,
            unreadable,
            skipped,
            incomplete,
            deleted_values,
            deleted_keys,
        } = self;
        Key {
            name: name.clone(),
            subkeys: Subkeys::default(),
            values: values.clone(),
            origin: *origin,
            unreadable: unreadable.clone(),
            skipped: skipped.clone(),
            incomplete: incomplete.clone(),
            deleted_values: deleted_values.clone(),
            deleted_keys: deleted_keys.clone(),
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        // Copies are built on a stack and attached to their parent when done.
        let mut stack = vec![(String::new(), self.shallow_clone(), self.subkeys.iter())];
        loop {
            let Some((_, _, originals)) = stack.last_mut() else {
                return Key::default();
            };
            match originals.next() {
                Some((folded, sub)) => {
                    stack.push((folded.clone(), sub.shallow_clone(), sub.subkeys.iter()));
                }
                None => {
                    let Some((folded, done, _)) = stack.pop() else {
                        return Key::default();
                    };
                    match stack.last_mut() {
                        Some((_, parent, _)) => {
                            parent.subkeys.insert(folded, done);
                        }
                        None => return done,
                    }
                }
            }
        }
    }
}

/// A key's subkeys by folded name. Its own type so that dropping a tree is
/// a loop (the default drop recurses once per level), while `Key` itself has
/// no `Drop` and can still be built with `..Key::default()`.
#[derive(Default)]
struct Subkeys(BTreeMap<String, Key>);

impl std::ops::Deref for Subkeys {
    type Target = BTreeMap<String, Key>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Subkeys {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Subkeys {
    fn drop(&mut self) {
        // Each key is emptied of its subkeys before it is dropped.
        let mut stack: Vec<Key> = std::mem::take(&mut self.0).into_values().collect();
        while let Some(mut k) = stack.pop() {
            stack.extend(std::mem::take(&mut k.subkeys.0).into_values());
        }
    }
}

impl std::fmt::Debug for Key {
    /// Shallow (subkeys by name only): printing must not recurse either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("values", &self.values)
            .field(
                "subkeys",
                &self.subkeys.values().map(Key::name).collect::<Vec<_>>(),
            )
            .field("unreadable", &self.unreadable)
            .field("skipped", &self.skipped)
            .field("incomplete", &self.incomplete)
            .field("deleted_values", &self.deleted_values)
            .field("deleted_keys", &self.deleted_keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_keys_keep_first_spelling() {
        let mut root = Key::new("");
        root.create(&["HKEY_LOCAL_MACHINE", "Software", "Wine"], None);
        root.create(&["hkey_local_machine", "SOFTWARE", "wine", "Sub"], None);
        let wine = root
            .find(&["HKEY_LOCAL_MACHINE", "software", "WINE"])
            .unwrap();
        assert_eq!(wine.name(), "Wine");
        assert!(wine.subkey("sub").is_some());
        assert!(root.delete(&["HKEY_LOCAL_MACHINE", "SOFTWARE"]));
        assert!(root.find(&["HKEY_LOCAL_MACHINE", "Software"]).is_none());
        assert!(!root.delete(&["HKEY_LOCAL_MACHINE", "Software"]));
    }

    /// A chain as deep as a hostile `.reg` line can make it: every operation
    /// on the tree is a loop, so none overflows the stack.
    #[test]
    fn a_100000_level_tree_is_built_walked_cloned_merged_and_dropped() {
        const DEPTH: usize = 100_000;
        let path: Vec<String> = (0..DEPTH).map(|i| format!("k{}", i % 7)).collect();
        let mut root = Key::new("");
        root.create(&path, None)
            .set_value("v", Value::dword(1), None);
        let mut visited = 0;
        let mut deepest = 0;
        root.visit(|p, _| {
            visited += 1;
            deepest = deepest.max(p.len());
        });
        assert_eq!((visited, deepest), (DEPTH + 1, DEPTH));
        let copy = root.clone();
        assert_eq!(
            copy.find(&path)
                .unwrap()
                .value("v")
                .unwrap()
                .value
                .as_dword(),
            Some(1)
        );
        let mut other = Key::new("");
        other.create(&path[..DEPTH / 2], None);
        other
            .create(&path, None)
            .set_value("w", Value::dword(2), None);
        other.merge_from(&copy);
        let leaf = other.find(&path).unwrap();
        assert_eq!(leaf.values().len(), 2);
        assert!(format!("{copy:?}").len() < 1000);
        drop((root, copy, other));
    }

    #[test]
    fn visit_is_walk_order() {
        let mut root = Key::new("");
        for p in [&["b", "x"][..], &["a"], &["B", "a"], &["c", "d", "e"]] {
            root.create(p, None);
        }
        let mut seen: Vec<String> = Vec::new();
        root.visit(|p, _| seen.push(p.join("\\")));
        assert_eq!(seen, ["", "a", "b", "b\\a", "b\\x", "c", "c\\d", "c\\d\\e"]);
        let merged = {
            let mut m = Key::new("");
            m.merge_from(&root);
            m
        };
        let walked: Vec<String> = merged.walk().iter().map(|(p, _)| p.join("\\")).collect();
        assert_eq!(walked, seen);
    }

    fn at(line: u32) -> Option<Origin> {
        Some(Origin {
            source: 0,
            line,
            column: 1,
        })
    }

    #[test]
    fn deletions_are_remembered_until_a_later_write() {
        let mut root = Key::new("");
        let k = root.create(&["a", "b", "c"], at(1));
        k.set_value("v", Value::dword(1), at(2));
        k.set_value("w", Value::dword(1), at(3));
        root.create(&["a", "b", "c"], None)
            .delete_value_at("V", at(4));
        assert_eq!(root.deletion(&["a", "b", "c"], Some("v")), at(4));
        assert_eq!(root.deletion(&["a", "b", "c"], Some("w")), None);
        root.create(&["a", "b", "c"], None)
            .set_value("v", Value::dword(1), at(5));
        assert_eq!(root.deletion(&["a", "b", "c"], Some("v")), None);
        assert!(root.delete_at(&["A", "b"], at(6)));
        assert_eq!(root.deletion(&["a", "b", "c"], Some("v")), at(6));
        assert_eq!(root.deletion(&["a", "B"], None), at(6));
        assert_eq!(root.deletion(&["a"], None), None);
        assert_eq!(root.deletion(&["a", "x"], None), None);
        // Re-created below the deleted key: only the deeper key was re-made.
        root.create(&["a", "b"], at(7));
        assert_eq!(root.deletion(&["a", "b", "c"], Some("v")), None);
        assert!(!root.delete_at(&["a", "b", "c", "d"], at(8)));
        assert_eq!(root.deletion(&["a", "b", "c", "d", "e"], Some("v")), at(8));
        root.create(&["a", "b", "c", "d", "e"], at(9));
        assert_eq!(root.deletion(&["a", "b", "c", "d", "e"], Some("v")), None);
        assert_eq!(root.deletion(&["a", "b", "c", "d"], None), None);
    }

    #[test]
    fn last_write_wins_and_keeps_name() {
        let mut k = Key::new("k");
        k.set_value("foo", Value::dword(1), None);
        k.set_value("FOO", Value::dword(2), None);
        assert_eq!(k.values().len(), 1);
        assert_eq!(k.values()[0].name, "foo");
        assert_eq!(k.value("Foo").unwrap().value.as_dword(), Some(2));
        assert!(k.delete_value("fOO"));
        assert!(k.value("foo").is_none());
    }
}
