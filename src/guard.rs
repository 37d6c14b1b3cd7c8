//! Containing panics in third-party parsers.
//!
//! nt-hive 0.3 asserts on some corrupt cells (a zero-size cell overflows in
//! debug builds; a value whose data offset is 0xFFFFFFFF trips an `assert!` in
//! every build; registry-formats.md §2.5), and ntfs 0.4 slices past a short
//! index entry (index_entry.rs:205, found by the `volume` fuzz target). A
//! corrupt input must be an error, not a crash, and must not print a panic
//! message either. Under a fuzzer, a panic contained here is not a crash; one
//! that escapes still is.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `f`; a panic inside it comes back as `None`, silently.
pub fn contain<T>(f: impl FnOnce() -> T) -> Option<T> {
    contain_why(f).ok()
}

/// Runs `f`; a panic inside it comes back as its message, silently.
pub fn contain_why<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(g.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get().saturating_sub(1)));
    result.map_err(|panic| panic_message(&*panic))
}

/// The text a panic was raised with (`panic!`'s message), or `""` when it
/// carried something else.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn panics_become_none() {
        assert_eq!(super::contain(|| 7), Some(7));
        let none: Option<()> = super::contain(|| panic!("boom"));
        assert!(none.is_none());
        let why: Result<(), String> = super::contain_why(|| panic!("boom {}", 7));
        assert_eq!(why, Err("boom 7".to_owned()));
    }
}
