//! Finding the control set that `CurrentControlSet` stands for.
//!
//! On a running machine `HKLM\SYSTEM\CurrentControlSet` is a volatile link made
//! at boot; offline it does not exist. `Select\Current` names the set it would
//! point to (`ControlSet%03u`), with `Default` and `LastKnownGood` as fallbacks.

use std::fmt;

use super::tree::Key;

pub const HKLM: &str = "HKEY_LOCAL_MACHINE";
pub const LIVE_LINK: &str = "CurrentControlSet";

/// Why a control set was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `Select\<value>` = n named it.
    Select { value: &'static str, number: u32 },
    /// The input writes to `CurrentControlSet` itself, as a live export does.
    LiveLink,
    /// The only `ControlSetNNN` present.
    OnlyOne,
    /// Several sets and nothing to choose by: the lowest-numbered one.
    Lowest,
    /// The user asked for it (`--control-set N`).
    Chosen,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Select { value, number } => write!(f, "Select\\{value} = {number}"),
            Reason::LiveLink => f.write_str("the input targets the live registry"),
            Reason::OnlyOne => f.write_str("the only control set present"),
            Reason::Chosen => f.write_str("chosen with --control-set"),
            Reason::Lowest => {
                f.write_str("several control sets and no usable Select key: the lowest-numbered")
            }
        }
    }
}

/// The control set an audit reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlSet {
    /// Path from the tree root, e.g. `HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001`.
    pub path: Vec<String>,
    pub reason: Reason,
    /// Things worth telling about the Select key (a failed set, a
    /// LastKnownGood that differs, a Current that names a missing set).
    pub notes: Vec<String>,
}

impl ControlSet {
    /// The set's own name: `ControlSet001` or `CurrentControlSet`.
    pub fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or_default()
    }
}

/// `ControlSet%03u`: 1 is `ControlSet001`, 10 is `ControlSet010`.
pub fn set_name(number: u32) -> String {
    format!("ControlSet{number:03}")
}

/// The number in a `ControlSetNNN` key name (three or more digits).
pub fn set_number(name: &str) -> Option<u32> {
    let digits = name
        .get(..10)
        .filter(|p| p.eq_ignore_ascii_case("ControlSet"))
        .map(|_| &name[10..])?;
    if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Keys directly under HKLM that hold a SYSTEM hive: `SYSTEM` itself, and any
/// other name under which a hive was loaded (`reg load HKLM\GOLDEN ...`),
/// recognised by its `Select`, `ControlSetNNN` or `CurrentControlSet` subkeys.
pub fn system_roots(root: &Key) -> Vec<Vec<String>> {
    let Some(hklm) = root.subkey(HKLM) else {
        return Vec::new();
    };
    hklm.subkeys()
        .filter(|k| {
            k.name().eq_ignore_ascii_case("SYSTEM")
                || k.subkeys().any(|s| {
                    set_number(s.name()).is_some()
                        || s.name().eq_ignore_ascii_case("Select")
                        || s.name().eq_ignore_ascii_case(LIVE_LINK)
                })
        })
        .map(|k| vec![hklm.name().to_owned(), k.name().to_owned()])
        .collect()
}

/// Picks the control set of the SYSTEM hive at `system` (a path from `root`).
pub fn resolve(root: &Key, system: &[String]) -> Option<ControlSet> {
    let hive = root.find(system)?;
    let mut notes = Vec::new();
    let numbers: Vec<u32> = hive
        .subkeys()
        .filter_map(|k| set_number(k.name()))
        .collect();
    let select = hive.subkey("Select");
    let read = |value: &str| {
        select
            .and_then(|s| s.value(value))
            .and_then(|e| e.value.as_dword())
    };
    let at = |name: String, reason: Reason, notes: Vec<String>| {
        let mut path = system.to_vec();
        path.push(hive.subkey(&name).map_or(name, |k| k.name().to_owned()));
        ControlSet {
            path,
            reason,
            notes,
        }
    };

    if let Some(failed) = read("Failed").filter(|&n| n != 0) {
        notes.push(format!(
            "Select\\Failed = {failed}: {} was rejected at a past boot",
            set_name(failed)
        ));
    }
    if let (Some(current), Some(lkg)) = (read("Current"), read("LastKnownGood")) {
        if current != lkg {
            notes.push(format!(
                "Select\\LastKnownGood = {lkg} differs from Current = {current}: {} may hold older settings",
                set_name(lkg)
            ));
        }
    }
    for value in ["Current", "Default", "LastKnownGood"] {
        match read(value) {
            Some(number) if numbers.contains(&number) => {
                return Some(at(
                    set_name(number),
                    Reason::Select { value, number },
                    notes,
                ));
            }
            Some(number) => notes.push(format!(
                "Select\\{value} = {number}, but there is no {}",
                set_name(number)
            )),
            None if select.is_some_and(|s| s.value(value).is_some()) => {
                notes.push(format!("Select\\{value} is not a REG_DWORD: ignored"))
            }
            None => {}
        }
    }
    if let [only] = numbers.as_slice() {
        return Some(at(set_name(*only), Reason::OnlyOne, notes));
    }
    if hive.subkey(LIVE_LINK).is_some() {
        return Some(at(LIVE_LINK.to_owned(), Reason::LiveLink, notes));
    }
    let lowest = numbers.iter().min()?;
    Some(at(set_name(*lowest), Reason::Lowest, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Value;

    fn hive(sets: &[&str], current: Option<u32>) -> Key {
        let mut root = Key::new("");
        for s in sets {
            root.create(&[HKLM, "SYSTEM", s], None);
        }
        if let Some(c) = current {
            root.create(&[HKLM, "SYSTEM", "Select"], None).set_value(
                "Current",
                Value::dword(c),
                None,
            );
        }
        root
    }

    fn system() -> Vec<String> {
        vec![HKLM.into(), "SYSTEM".into()]
    }

    #[test]
    fn names_are_three_digits_at_least() {
        assert_eq!(set_name(1), "ControlSet001");
        assert_eq!(set_name(10), "ControlSet010");
        assert_eq!(set_number("controlset010"), Some(10));
        assert_eq!(set_number("ControlSet1"), None);
        assert_eq!(set_number("ControlSetX01"), None);
        assert_eq!(set_number("Control"), None);
    }

    #[test]
    fn select_current_wins() {
        let root = hive(&["ControlSet001", "ControlSet002"], Some(2));
        let cs = resolve(&root, &system()).unwrap();
        assert_eq!(cs.name(), "ControlSet002");
        assert_eq!(cs.reason.to_string(), "Select\\Current = 2");
    }

    #[test]
    fn missing_target_falls_back() {
        let root = hive(&["ControlSet001"], Some(3));
        let cs = resolve(&root, &system()).unwrap();
        assert_eq!(cs.name(), "ControlSet001");
        assert_eq!(cs.reason, Reason::OnlyOne);
        assert!(cs.notes[0].contains("no ControlSet003"));
    }

    #[test]
    fn live_link_and_mounted_roots() {
        let root = hive(&["CurrentControlSet"], None);
        assert_eq!(resolve(&root, &system()).unwrap().reason, Reason::LiveLink);
        let mut root = Key::new("");
        root.create(&[HKLM, "GOLDEN", "ControlSet001"], None);
        root.create(&[HKLM, "SOFTWARE", "Microsoft"], None);
        assert_eq!(
            system_roots(&root),
            vec![vec![HKLM.to_owned(), "GOLDEN".to_owned()]]
        );
    }
}
