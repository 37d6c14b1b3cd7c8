//! The running machine's registry (`--live`): HKEY_LOCAL_MACHINE read through
//! the Windows API into the tree a regedit export of it would give, with keys
//! under `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet`, so the rest of tlsreg
//! treats it as it treats a `.reg` file that targets the live registry.
//!
//! The walk is written against [`LiveRegistry`], so it runs and is tested
//! anywhere on a registry made up in memory; the Windows implementation only
//! opens keys and lists them. The registry is an input like any other: a key
//! can vanish or be denied mid-walk, a name need not be valid UTF-16, and a
//! tree can be made deep or wide on purpose. So the walk is a loop with its
//! own stack and bounds, and each such thing is a diagnostic, not a failure.

use crate::registry::control_set::{HKLM, LIVE_LINK};
use crate::registry::{Diagnostic, Key, Severity, Value, name};

use crate::regfile::Keep;

use super::combine::{Content, Layer};
// What one key or value costs in the view besides its name and data.
use super::hive::{KEY_COST, VALUE_COST};
use super::{InputError, Kind, Loaded, Options, Role, Scope, Source};

#[cfg(windows)]
mod windows;

/// Whether this build can read the running machine's registry.
pub const AVAILABLE: bool = cfg!(windows);

/// Why `--live` cannot be used in this build, and what to use instead.
pub fn unavailable() -> String {
    format!(
        "--live reads the running machine's registry through the Windows API, which this build (for {}) does not have; \
         give tlsreg an exported .reg file (reg export HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL schannel.reg), \
         a saved hive (reg save HKLM\\SYSTEM system.hiv) or a disk image instead",
        std::env::consts::OS
    )
}

/// Why a key could not be opened or listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("it does not exist")]
    NotFound,
    #[error("access is denied")]
    AccessDenied,
    #[error("{0}")]
    Other(String),
}

/// A value as the registry gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawValue {
    /// UTF-16 units as stored: not always valid UTF-16.
    pub name: Vec<u16>,
    pub kind: u32,
    /// The data, or why it was not read (it is larger than asked for).
    pub data: Result<Vec<u8>, String>,
}

/// What the walk needs of a registry: keys opened below HKEY_LOCAL_MACHINE
/// (64-bit view), their subkeys and values listed by index, as the Windows
/// API does it. Names are UTF-16 units, passed back as given: a name that is
/// not valid UTF-16 can still be opened.
pub trait LiveRegistry {
    type Key;
    /// Opens `name` (one or more `\`-separated parts) below `parent`, or
    /// below HKEY_LOCAL_MACHINE when `parent` is `None`.
    fn open(&self, parent: Option<&Self::Key>, name: &[u16]) -> Result<Self::Key, LiveError>;
    /// The name of the subkey at `index`; `None` past the last.
    fn subkey(&self, key: &Self::Key, index: u32) -> Result<Option<Vec<u16>>, LiveError>;
    /// The value at `index`, its data read when it is at most `max_data`
    /// bytes; `None` past the last.
    fn value(
        &self,
        key: &Self::Key,
        index: u32,
        max_data: usize,
    ) -> Result<Option<RawValue>, LiveError>;
}

/// How much one walk reads at most.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Levels below HKEY_LOCAL_MACHINE: Windows' own limit for a key path.
    pub max_depth: usize,
    /// Keys opened.
    pub max_keys: usize,
    /// Subkey and value entries listed.
    pub max_steps: usize,
    /// Values read from one key.
    pub max_values: usize,
    /// Bytes of names and data copied, as for one hive.
    pub max_bytes: usize,
    /// Bytes of one value's data.
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: super::hive::MAX_DEPTH,
            // The SCHANNEL subtree of a real machine holds a few hundred
            // keys; a whole exported subtree (`export`) a few thousand.
            max_keys: 100_000,
            max_steps: 1_000_000,
            max_values: 10_000,
            max_bytes: super::hive::MAX_COPY,
            max_value: 16 << 20,
        }
    }
}

/// The shown name of the running machine's registry: `\\NAME\HKLM`, as
/// `reg query` names a machine's HKLM, or `HKLM` when the name is unknown.
fn shown_name(computer: Option<&str>) -> String {
    match computer {
        Some(c) => format!("\\\\{c}\\HKLM"),
        None => "HKLM".to_owned(),
    }
}

/// The keys below HKEY_LOCAL_MACHINE that hold the computer's name: the one
/// in use, then the one set for the next boot.
const COMPUTER_NAME: [[&str; 6]; 2] = [
    [
        "SYSTEM",
        LIVE_LINK,
        "Control",
        "ComputerName",
        "ActiveComputerName",
        "ComputerName",
    ],
    [
        "SYSTEM",
        LIVE_LINK,
        "Control",
        "ComputerName",
        "ComputerName",
        "ComputerName",
    ],
];

/// The subtree of SYSTEM an audit reads: the running control set's
/// `Control\SecurityProviders`, through the link a regedit export names.
const SECURITY_PROVIDERS: [&str; 4] = ["SYSTEM", LIVE_LINK, "Control", "SecurityProviders"];

/// Loads the running machine's registry, with each file in `applied` on top.
pub fn load(applied: &[String], options: &Options) -> Result<Loaded, InputError> {
    #[cfg(windows)]
    {
        load_from(&windows::System, applied, options)
    }
    #[cfg(not(windows))]
    {
        let _ = (applied, options);
        Err(InputError {
            path: shown_name(None),
            kind: super::ErrorKind::Live(unavailable()),
        })
    }
}

/// As [`load`], from any registry.
pub fn load_from(
    registry: &impl LiveRegistry,
    applied: &[String],
    options: &Options,
) -> Result<Loaded, InputError> {
    let walked = read(registry, options, Limits::default());
    let layer = Layer {
        source: Source {
            role: Role::Input,
            name: shown_name(walked.computer.as_deref()),
            kind: Kind::Live,
            detail: "the running machine's HKEY_LOCAL_MACHINE, through the Windows API".into(),
        },
        diagnostics: walked.diagnostics,
        content: Content::Tree(walked.root),
    };
    let mut layers = vec![layer];
    layers.extend(super::applied_layers(applied, layers.len(), options)?);
    super::combine::build(layers, true, options.control_set)
}

/// What a walk read.
struct Read {
    /// Keys from HKEY_LOCAL_MACHINE down, as their paths in an export.
    root: Key,
    computer: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

/// Reads what `options` asks for: the SYSTEM subtree its scope names
/// (SecurityProviders for an audit, one key for `export`), only into keys
/// its filter keeps, and the values of the SOFTWARE keys a SOFTWARE hive
/// read gives (the OS version, the policy's keys), so the OS is known.
fn read(registry: &impl LiveRegistry, options: &Options, limits: Limits) -> Read {
    let mut walk = Walk::new(registry, limits);
    let mut root = Key::new("");
    let system: Vec<String> = match &options.scope {
        Scope::Key(below) => std::iter::once("SYSTEM".to_owned())
            .chain(below.iter().cloned())
            .collect(),
        // `Values` is how a SOFTWARE hive is read; SOFTWARE is read below.
        Scope::Audit | Scope::Values(..) => SECURITY_PROVIDERS.map(String::from).to_vec(),
    };
    let keep = options.keep.as_ref().map(|k| &*k.0 as Keep<'_>);
    // The link itself, as an export names it even when nothing below it
    // is read: it is what says the view is of the running control set.
    let link: Vec<String> = SECURITY_PROVIDERS[..2]
        .iter()
        .map(|s| s.to_string())
        .collect();
    walk.subtree(&mut root, &link, keep, false);
    walk.subtree(&mut root, &system, keep, true);
    let always = super::always_read_software_keys();
    for key in always.iter().chain(&options.software_keys) {
        let path: Vec<String> = std::iter::once("SOFTWARE".to_owned())
            .chain(key.iter().cloned())
            .collect();
        walk.subtree(&mut root, &path, None, false);
    }
    let computer = walk.computer_name();
    Read {
        root,
        computer,
        diagnostics: walk.finish(),
    }
}

/// Diagnostics listed per walk; the rest are counted in one more.
const MAX_DIAGNOSTICS: usize = 100;

/// A key open in the walk, with the index of its next subkey.
struct Frame<H> {
    key: Key,
    handle: H,
    next: u32,
}

struct Walk<'r, R: LiveRegistry> {
    registry: &'r R,
    limits: Limits,
    keys: usize,
    steps: usize,
    bytes: usize,
    /// Why the walk stopped early, once a limit was reached.
    stopped: Option<String>,
    diagnostics: Vec<Diagnostic>,
    unlisted: usize,
}

impl<'r, R: LiveRegistry> Walk<'r, R> {
    fn new(registry: &'r R, limits: Limits) -> Self {
        Walk {
            registry,
            limits,
            keys: 0,
            steps: 0,
            bytes: 0,
            stopped: None,
            diagnostics: Vec::new(),
            unlisted: 0,
        }
    }

    fn note(&mut self, code: &'static str, severity: Severity, message: String) {
        if self.diagnostics.len() >= MAX_DIAGNOSTICS {
            self.unlisted += 1;
            return;
        }
        self.diagnostics.push(Diagnostic {
            code,
            severity,
            message,
            origin: None,
            suggestion: None,
        });
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        if self.unlisted > 0 {
            let message = format!(
                "{} more problem(s) reading the registry were found and not listed",
                self.unlisted
            );
            self.diagnostics.push(Diagnostic {
                code: "live-read",
                severity: Severity::Warning,
                message,
                origin: None,
                suggestion: None,
            });
        }
        self.diagnostics
    }

    /// Stops the walk (once): what is left unread is marked incomplete.
    fn stop(&mut self, why: String) {
        if self.stopped.is_none() {
            self.note("live-limit", Severity::Warning, why.clone());
            self.stopped = Some(why);
        }
    }

    /// Marks `key` with why the walk stopped, when it has.
    fn mark_stopped(&self, key: &mut Key) {
        if let Some(why) = &self.stopped {
            key.mark_incomplete(why);
        }
    }

    /// Says that `what` (`the key`, `the value list of`) the key at `at`
    /// could not be read, whole, and returns why, for the key it leaves
    /// incomplete.
    fn unread(&mut self, what: &str, at: &[String], e: &LiveError) -> String {
        let why = format!("{what} `{}` could not be read: {e}", shown(at));
        self.note("live-read", Severity::Warning, why.clone());
        why
    }

    /// Counts one listed entry; false once the walk has stopped.
    fn step(&mut self, at: &[String]) -> bool {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            self.stop(format!(
                "the registry lists more than {} subkeys and values where tlsreg looked; reading stopped at `{}`",
                self.limits.max_steps,
                shown(at)
            ));
        }
        self.stopped.is_none()
    }

    /// Pays for `cost` bytes; false once the walk has stopped.
    fn spend(&mut self, cost: usize, at: &[String]) -> bool {
        self.bytes = self.bytes.saturating_add(cost);
        if self.bytes > self.limits.max_bytes {
            self.stop(format!(
                "the keys read hold more than {} MiB; reading stopped at `{}`",
                self.limits.max_bytes >> 20,
                shown(at)
            ));
        }
        self.stopped.is_none()
    }

    /// A name as text: lossless when it is valid UTF-16, else with U+FFFD
    /// for each unpaired surrogate, and said.
    fn name(&mut self, units: &[u16], at: &[String], what: &str) -> String {
        match String::from_utf16(units) {
            Ok(s) => s,
            Err(_) => {
                let s = String::from_utf16_lossy(units);
                self.note(
                    "live-name",
                    Severity::Warning,
                    format!(
                        "a {what} of `{}` has a name that is not valid UTF-16 (an unpaired surrogate); it is shown as `{}`",
                        shown(at),
                        name::clip(&s, 64)
                    ),
                );
                s
            }
        }
    }

    /// Copies the key at `below` (parts below HKEY_LOCAL_MACHINE) into
    /// `tree` with its values, and with `deep` every subkey `keep` keeps, as
    /// far down as the limits allow. A root that does not exist is left out.
    fn subtree(&mut self, tree: &mut Key, below: &[String], keep: Option<Keep<'_>>, deep: bool) {
        let Some((last, _)) = below.split_last() else {
            return;
        };
        let mut path: Vec<String> = std::iter::once(HKLM.to_owned())
            .chain(below.iter().cloned())
            .collect();
        let kept = |path: &[String]| {
            keep.is_none_or(|k| k(&path.iter().map(String::as_str).collect::<Vec<_>>()))
        };
        let parts: Vec<Vec<u16>> = below.iter().map(|p| p.encode_utf16().collect()).collect();
        let raw = parts.join(&(b'\\' as u16));
        let handle = match self.registry.open(None, &raw) {
            Ok(h) => h,
            Err(LiveError::NotFound) => return,
            Err(e) => {
                let why = self.unread("the key", &path, &e);
                tree.create(&path, None).mark_incomplete(&why);
                return;
            }
        };
        let mut first = Key::new(last.as_str());
        if let Some(why) = self.stopped.clone().or_else(|| self.count_key(&path)) {
            first.mark_incomplete(&why);
        } else if kept(&path) {
            self.values(&handle, &mut first, &path);
        }
        let mut frames = vec![Frame {
            key: first,
            handle,
            next: 0,
        }];
        while let Some(top) = frames.last_mut() {
            let child = match deep {
                true => self.next_subkey(top, &path),
                false => None,
            };
            let Some(units) = child else {
                let done = frames.pop().expect("a frame is on the stack");
                match frames.last_mut() {
                    Some(parent) => {
                        parent.key.adopt(done.key);
                        path.pop();
                    }
                    None => {
                        path.pop();
                        tree.create(&path, None).adopt(done.key);
                    }
                }
                continue;
            };
            let child = self.name(&units, &path, "subkey");
            path.push(child.clone());
            if !kept(&path) {
                path.pop();
                continue;
            }
            if let Some((code, why)) = self.unopenable(&units, &path) {
                self.note(code, Severity::Warning, why.clone());
                top.key
                    .create(&[child.as_str()], None)
                    .mark_incomplete(&why);
                path.pop();
                continue;
            }
            if let Some(why) = self.count_key(&path) {
                top.key
                    .create(&[child.as_str()], None)
                    .mark_incomplete(&why);
                path.pop();
                continue;
            }
            match self.registry.open(Some(&top.handle), &units) {
                Ok(handle) => {
                    let mut key = Key::new(child);
                    self.values(&handle, &mut key, &path);
                    frames.push(Frame {
                        key,
                        handle,
                        next: 0,
                    });
                }
                Err(LiveError::NotFound) => {
                    // Deleted since it was listed: as if it had been before.
                    self.note(
                        "live-changed",
                        Severity::Info,
                        format!(
                            "the key `{}` was deleted while the registry was read",
                            shown(&path)
                        ),
                    );
                    path.pop();
                }
                Err(e) => {
                    let why = self.unread("the key", &path, &e);
                    top.key
                        .create(&[child.as_str()], None)
                        .mark_incomplete(&why);
                    path.pop();
                }
            }
        }
    }

    /// Why the key at `path` is not opened, when it is not: too deep, or a
    /// name the Windows API cannot pass (a NUL in it: such a key, made with
    /// the native API, is hidden from regedit, and opening it by the name
    /// before the NUL would read another key).
    fn unopenable(&self, units: &[u16], path: &[String]) -> Option<(&'static str, String)> {
        if path.len() - 1 > self.limits.max_depth {
            let why = format!(
                "the key `{}` is deeper than {} levels below HKEY_LOCAL_MACHINE, Windows' limit; it and its subkeys are not read",
                shown(path),
                self.limits.max_depth
            );
            return Some(("live-limit", why));
        }
        if units.contains(&0) {
            let why = format!(
                "the key `{}` has a NUL character in its name, which the Windows API cannot open (regedit does not show such a key); it is not read",
                shown(path)
            );
            return Some(("live-read", why));
        }
        None
    }

    /// Counts one key opened; why not, once the walk has stopped.
    fn count_key(&mut self, path: &[String]) -> Option<String> {
        self.keys += 1;
        if self.keys > self.limits.max_keys {
            self.stop(format!(
                "more than {} keys are where tlsreg looked; reading stopped at `{}`",
                self.limits.max_keys,
                shown(path)
            ));
        }
        let cost = KEY_COST + path.last().map_or(0, String::len);
        if self.stopped.is_none() {
            self.spend(cost, path);
        }
        self.stopped.clone()
    }

    /// The next subkey of the frame's key; `None` when there is no more, or
    /// when the list could not be read on (then the key is incomplete).
    fn next_subkey(&mut self, frame: &mut Frame<R::Key>, at: &[String]) -> Option<Vec<u16>> {
        if !self.step(at) {
            self.mark_stopped(&mut frame.key);
            return None;
        }
        match self.registry.subkey(&frame.handle, frame.next) {
            Ok(Some(units)) => {
                frame.next += 1;
                Some(units)
            }
            Ok(None) => None,
            Err(e) => {
                let why = self.unread("the subkey list of", at, &e);
                frame.key.mark_incomplete(&why);
                None
            }
        }
    }

    /// Copies the values of the open key at `at` into `into`.
    fn values(&mut self, handle: &R::Key, into: &mut Key, at: &[String]) {
        for index in 0.. {
            if index == self.limits.max_values {
                let why = format!(
                    "the key `{}` holds more than {} values; the rest are not read",
                    shown(at),
                    self.limits.max_values
                );
                self.note("live-limit", Severity::Warning, why.clone());
                into.mark_incomplete(&why);
                return;
            }
            if !self.step(at) {
                self.mark_stopped(into);
                return;
            }
            let left = self.limits.max_bytes.saturating_sub(self.bytes);
            let max_data = left.min(self.limits.max_value);
            let Ok(index32) = u32::try_from(index) else {
                return;
            };
            let raw = match self.registry.value(handle, index32, max_data) {
                Ok(Some(raw)) => raw,
                Ok(None) => return,
                Err(e) => {
                    let why = self.unread("the value list of", at, &e);
                    into.mark_incomplete(&why);
                    return;
                }
            };
            let name = self.name(&raw.name, at, "value");
            let size = raw.data.as_ref().map_or(0, Vec::len);
            if !self.spend(VALUE_COST + 2 * raw.name.len() + size, at) {
                self.mark_stopped(into);
                return;
            }
            match raw.data {
                Ok(data) => into.set_value(&name, Value::new(raw.kind, data), None),
                Err(why) => {
                    let shown_name = name::clip(&name, 64);
                    self.note(
                        "live-read",
                        Severity::Warning,
                        format!(
                            "the value `{shown_name}` of `{}` could not be read: {why}",
                            shown(at)
                        ),
                    );
                    into.mark_unreadable(&name, &why);
                }
            }
        }
    }

    /// The computer's name, from the registry (clipped: it is shown).
    fn computer_name(&mut self) -> Option<String> {
        COMPUTER_NAME.iter().find_map(|path| {
            let (value, key) = path.split_last()?;
            let key: Vec<String> = key.iter().map(|s| s.to_string()).collect();
            // Read on its own: it is not part of the view, and a problem
            // with it is no problem of the audit's.
            let mut scratch = Walk::new(self.registry, self.limits);
            let mut tree = Key::new("");
            scratch.subtree(&mut tree, &key, None, false);
            let full: Vec<String> = std::iter::once(HKLM.to_owned()).chain(key).collect();
            tree.find(&full)?
                .value(value)?
                .value
                .as_str()
                .map(|s| name::clip(s.trim(), 64))
                .filter(|s| !s.is_empty())
        })
    }
}

/// A key's path as messages show it: past 12 levels the middle is left out,
/// and each name is clipped, so a message stays short whatever the registry
/// holds.
fn shown(path: &[String]) -> String {
    let clip = |p: &String| name::clip(p, 64);
    let parts: Vec<String> = match path.len() {
        n if n > 12 => path[..4]
            .iter()
            .map(clip)
            .chain(std::iter::once(format!("…({} levels)…", n - 12)))
            .chain(path[n - 8..].iter().map(clip))
            .collect(),
        _ => path.iter().map(clip).collect(),
    };
    parts.join("\\")
}

#[cfg(test)]
mod tests;
