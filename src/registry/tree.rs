//! An in-memory registry tree: what every input is turned into.
//!
//! Names are matched case-insensitively and keep the spelling first seen,
//! as Windows does. Values keep their creation order (regedit exports them in
//! that order); subkeys iterate in case-folded order (regedit sorts them).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as Slot;

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

#[derive(Clone, Debug, Default)]
pub struct Key {
    name: String,
    subkeys: BTreeMap<String, Key>,
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
            key.subkeys.entry(fold(part)).or_insert_with(|| Key {
                name: part.to_owned(),
                origin,
                ..Key::default()
            })
        })
    }

    /// Adds everything in `other` to this key: its values (replacing those
    /// of the same name) and subkeys, recursively.
    pub fn merge_from(&mut self, other: &Key) {
        for e in &other.values {
            self.set_value(&e.name, e.value.clone(), e.origin);
        }
        self.unreadable.extend(other.unreadable.iter().cloned());
        self.skipped.extend(other.skipped.iter().cloned());
        if self.incomplete.is_none() {
            self.incomplete.clone_from(&other.incomplete);
        }
        for (folded, sub) in &other.subkeys {
            match self.subkeys.get_mut(folded) {
                Some(mine) => mine.merge_from(sub),
                None => {
                    self.subkeys.insert(folded.clone(), sub.clone());
                }
            }
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

    /// Sets a value; a value of the same name (in any case) is replaced in
    /// place and keeps its first spelling, as RegSetValueEx does.
    pub fn set_value(&mut self, name: &str, value: Value, origin: Option<Origin>) {
        let folded = fold(name);
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
    /// in export order.
    pub fn walk(&self) -> Vec<(Vec<&str>, &Key)> {
        let mut out = Vec::new();
        let mut stack: Vec<(Vec<&str>, &Key)> = vec![(Vec::new(), self)];
        while let Some((path, key)) = stack.pop() {
            for sub in key.subkeys.values().rev() {
                let mut p = path.clone();
                p.push(sub.name());
                stack.push((p, sub));
            }
            out.push((path, key));
        }
        out
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
