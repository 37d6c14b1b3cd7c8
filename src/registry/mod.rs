//! The one registry view every input becomes, and what is known about a
//! SYSTEM hive inside it. Nothing here knows a file format or SCHANNEL.

pub mod control_set;
pub mod name;
pub mod os;
pub mod product;
mod tree;
pub mod value;

pub use control_set::ControlSet;
pub use os::OsInfo;
pub use product::{Build, ProductFacts};
pub use tree::{Entry, Key, Origin};
pub use value::Value;

/// A predicate over full key paths (`HKEY_LOCAL_MACHINE\...`): which keys a
/// reader should keep.
pub type KeyFilter = std::sync::Arc<dyn Fn(&[&str]) -> bool + Send + Sync>;

/// How much a note about an input matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Something a reader noticed while turning an input into a tree: a line that
/// regedit would skip, a short root name, an encoding guess.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable kebab-case identifier (`skipped-line`, `short-root`, ...).
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub origin: Option<Origin>,
    /// The line as it was probably meant, where that is clear.
    pub suggestion: Option<String>,
}

/// The keys a reader must keep to show `target` and everything below it:
/// the top of each hive and `Select` (to resolve `CurrentControlSet`), the
/// keys on the way, and the subtree. A control set in `target` (or the live
/// link) stands for any control set, since which one is current is known
/// only once `Select` is read.
pub fn subtree_filter(target: &[String]) -> KeyFilter {
    use control_set::{LIVE_LINK, set_number};
    let target = target.to_vec();
    let is_set = |p: &str| set_number(p).is_some() || name::eq(p, LIVE_LINK);
    std::sync::Arc::new(move |path: &[&str]| {
        if path.len() <= 3 || path.get(2).is_some_and(|p| name::eq(p, "Select")) {
            return true;
        }
        path.iter()
            .zip(&target)
            .enumerate()
            .all(|(i, (a, b))| name::eq(a, b) || (i == 2 && is_set(a) && is_set(b)))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_subtree_filter_keeps_the_way_there_and_below() {
        let target: Vec<String> = [
            "HKEY_LOCAL_MACHINE",
            "SYSTEM",
            "CurrentControlSet",
            "Control",
        ]
        .map(String::from)
        .to_vec();
        let keep = super::subtree_filter(&target);
        let k = |p: &str| keep(&p.split('\\').collect::<Vec<_>>());
        assert!(k(r"HKEY_LOCAL_MACHINE\SYSTEM\Select"));
        assert!(k(r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\control\X\Y"));
        assert!(!k(r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet002\Services\X"));
        assert!(!k(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows"));
    }
}
