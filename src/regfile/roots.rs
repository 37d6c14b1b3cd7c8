//! Root key names.

/// The roots regedit knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Root {
    LocalMachine,
    Users,
    ClassesRoot,
    CurrentConfig,
    CurrentUser,
    DynData,
}

const ROOTS: [(Root, &str, Option<&str>); 6] = [
    (Root::LocalMachine, "HKEY_LOCAL_MACHINE", Some("HKLM")),
    (Root::Users, "HKEY_USERS", Some("HKU")),
    (Root::ClassesRoot, "HKEY_CLASSES_ROOT", Some("HKCR")),
    (Root::CurrentConfig, "HKEY_CURRENT_CONFIG", Some("HKCC")),
    (Root::CurrentUser, "HKEY_CURRENT_USER", Some("HKCU")),
    (Root::DynData, "HKEY_DYN_DATA", None),
];

impl Root {
    pub fn long_name(self) -> &'static str {
        ROOTS
            .iter()
            .find(|(r, ..)| *r == self)
            .map_or("HKEY_LOCAL_MACHINE", |(_, long, _)| long)
    }
}

/// The root `name` stands for, case-insensitively, and whether it was a short
/// name (`HKLM`), which only `reg import` accepts.
pub fn parse_root(name: &str) -> Option<(Root, bool)> {
    ROOTS.iter().find_map(|(root, long, short)| {
        if name.eq_ignore_ascii_case(long) {
            Some((*root, false))
        } else if short.is_some_and(|s| name.eq_ignore_ascii_case(s)) {
            Some((*root, true))
        } else {
            None
        }
    })
}
