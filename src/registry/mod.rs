//! The one registry view every input becomes, and what is known about a
//! SYSTEM hive inside it. Nothing here knows a file format or SCHANNEL.

pub mod control_set;
pub mod name;
pub mod os;
mod tree;
pub mod value;

pub use control_set::ControlSet;
pub use os::OsInfo;
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
