//! The walk, on a registry made up in memory: what it reads is what an
//! export of the same registry gives, and whatever the registry does (a key
//! denied, deleted, badly named, too deep, too wide) is a diagnostic.

use std::cell::RefCell;

use super::*;
use crate::input::KeepKeys;
use crate::registry::value::REG_DWORD;

/// A key of the fake registry: its subkeys by index into [`Fake::keys`].
#[derive(Default)]
struct FakeKey {
    name: Vec<u16>,
    subkeys: Vec<usize>,
    values: Vec<(Vec<u16>, u32, Vec<u8>)>,
    /// What opening it gives instead of the key.
    open_error: Option<LiveError>,
    /// Listing its subkeys fails from this index on.
    list_error_at: Option<u32>,
}

/// A registry: key 0 is HKEY_LOCAL_MACHINE. Every key opened is recorded.
struct Fake {
    keys: Vec<FakeKey>,
    opened: RefCell<Vec<String>>,
}

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// Registry names compare without regard to ASCII case.
fn same(a: &[u16], b: &[u16]) -> bool {
    let up = |u: &u16| match *u {
        0x61..=0x7a => u - 0x20,
        u => u,
    };
    a.len() == b.len() && a.iter().map(up).eq(b.iter().map(up))
}

impl Fake {
    fn new() -> Fake {
        Fake {
            keys: vec![FakeKey::default()],
            opened: RefCell::new(Vec::new()),
        }
    }

    fn child(&self, id: usize, name: &[u16]) -> Option<usize> {
        let key = self.keys.get(id)?;
        key.subkeys
            .iter()
            .copied()
            .find(|&c| same(&self.keys[c].name, name))
    }

    /// The key at `path` (parts in UTF-16), made with the keys on the way.
    fn make(&mut self, path: &[Vec<u16>]) -> usize {
        let mut id = 0;
        for part in path {
            id = match self.child(id, part) {
                Some(c) => c,
                None => {
                    self.keys.push(FakeKey {
                        name: part.clone(),
                        ..FakeKey::default()
                    });
                    let c = self.keys.len() - 1;
                    self.keys[id].subkeys.push(c);
                    c
                }
            };
        }
        id
    }

    /// The key at `path` (below HKLM, `\`-separated).
    fn key(&mut self, path: &str) -> &mut FakeKey {
        let parts: Vec<Vec<u16>> = path.split('\\').map(units).collect();
        let id = self.make(&parts);
        &mut self.keys[id]
    }

    fn dword(&mut self, path: &str, name: &str, v: u32) {
        let data = v.to_le_bytes().to_vec();
        self.key(path).values.push((units(name), REG_DWORD, data));
    }

    /// A registry holding what a `.reg` file sets, as `reg import` leaves it.
    fn from_reg(text: &str) -> Fake {
        let loaded = crate::input::from_bytes("x.reg", text.as_bytes(), &Options::default())
            .expect("the .reg text reads");
        let mut fake = Fake::new();
        let hklm = loaded.root.find(&[HKLM]).expect("keys under HKLM");
        hklm.visit(|path, key| {
            let parts: Vec<Vec<u16>> = path.iter().map(|p| units(p)).collect();
            let id = fake.make(&parts);
            for e in key.values() {
                let value = (units(&e.name), e.value.kind, e.value.data.clone());
                fake.keys[id].values.push(value);
            }
        });
        fake
    }

    fn was_opened(&self, part: &str) -> bool {
        self.opened.borrow().iter().any(|p| p.contains(part))
    }
}

impl LiveRegistry for Fake {
    type Key = usize;

    fn open(&self, parent: Option<&usize>, name: &[u16]) -> Result<usize, LiveError> {
        let mut id = parent.copied().unwrap_or(0);
        for part in name.split(|&u| u == u16::from(b'\\')) {
            id = self.child(id, part).ok_or(LiveError::NotFound)?;
        }
        if let Some(e) = &self.keys[id].open_error {
            return Err(e.clone());
        }
        let shown = String::from_utf16_lossy(&self.keys[id].name);
        self.opened.borrow_mut().push(shown);
        Ok(id)
    }

    fn subkey(&self, key: &usize, index: u32) -> Result<Option<Vec<u16>>, LiveError> {
        let k = &self.keys[*key];
        if k.list_error_at.is_some_and(|at| index >= at) {
            return Err(LiveError::Other("the list broke".into()));
        }
        Ok(k.subkeys
            .get(index as usize)
            .map(|&c| self.keys[c].name.clone()))
    }

    fn value(
        &self,
        key: &usize,
        index: u32,
        max_data: usize,
    ) -> Result<Option<RawValue>, LiveError> {
        let Some((name, kind, data)) = self.keys[*key].values.get(index as usize) else {
            return Ok(None);
        };
        let data = match data.len() > max_data {
            true => Err(format!("its data is {} bytes", data.len())),
            false => Ok(data.clone()),
        };
        Ok(Some(RawValue {
            name: name.clone(),
            kind: *kind,
            data,
        }))
    }
}

const SCHANNEL: &str = r"SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL";

fn article() -> crate::schannel::Policy {
    crate::policies::load("article", None)
        .expect("the built-in policy")
        .policy
}

/// The options an audit reads with (as the CLI sets them).
fn audit_options(policy: &crate::schannel::Policy) -> Options {
    Options {
        keep: Some(KeepKeys(crate::schannel::relevant(policy))),
        software_keys: policy
            .keys
            .iter()
            .filter(|(s, _)| *s == crate::schannel::Scope::Software)
            .map(|(_, k)| k.clone())
            .collect(),
        ..Options::default()
    }
}

fn path(p: &str) -> Vec<String> {
    std::iter::once(HKLM)
        .chain(p.split('\\'))
        .map(String::from)
        .collect()
}

/// What an audit says, without where things were found (a live registry
/// has no lines) and without the name of the input.
type Said = (
    Option<String>,
    Vec<(&'static str, Severity, String)>,
    Vec<(String, String, &'static str, Option<String>)>,
);

fn said(a: &crate::Audit) -> Said {
    let findings = a
        .findings()
        .into_iter()
        .map(|f| (f.code, f.severity, f.message))
        .collect();
    let checks = a
        .evaluation
        .checks
        .iter()
        .map(|c| {
            (
                c.key.join("\\"),
                c.requirement.value.clone(),
                c.status.as_str(),
                c.found.as_ref().map(|e| e.value.to_string()),
            )
        })
        .collect();
    let cs = a.loaded.control_set.as_ref().map(|c| c.path.join("\\"));
    (cs, findings, checks)
}

fn sample(name: &str) -> Vec<u8> {
    let at = format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&at).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// The text of a sample, as regedit writes it (UTF-16LE with BOM).
fn sample_text(name: &str) -> String {
    let bytes = sample(name);
    let body = bytes
        .strip_prefix(&[0xFF, 0xFE])
        .expect("a UTF-16LE sample");
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).expect("valid UTF-16")
}

#[test]
fn a_registry_that_holds_a_sample_is_audited_as_the_sample_is() {
    let policy = article();
    let options = audit_options(&policy);
    for name in [
        "noncompliant.reg",
        "compliant.reg",
        "enabled-ffffffff.reg",
        "wrong-type.reg",
        "matrix.reg",
    ] {
        let text = sample_text(name);
        let mut fake = Fake::from_reg(&text);
        // What an audit has no business reading.
        fake.dword(r"SYSTEM\CurrentControlSet\Services\Tcpip", "Start", 1);
        fake.dword(
            r"SYSTEM\CurrentControlSet\Control\SecurityProviders\WDigest\Deep",
            "UseLogonCredential",
            1,
        );
        let live = load_from(&fake, &[], &options).expect("the live registry loads");
        let file = crate::input::from_bytes(name, &sample(name), &options).expect("the sample");
        let (live, file) = (crate::audit(live, &policy), crate::audit(file, &policy));
        assert_eq!(said(&live), said(&file), "{name}");
        assert_eq!(live.compliant(), file.compliant(), "{name}");
        assert_eq!(live.os, file.os, "{name}");
        assert!(
            !fake.was_opened("WDigest"),
            "{name}: read outside the filter"
        );
        assert!(
            !fake.was_opened("Tcpip"),
            "{name}: read outside the subtree"
        );
        let source = &live.loaded.sources[0];
        assert_eq!((source.kind, source.role), (Kind::Live, Role::Input));
        assert_eq!(source.name, "HKLM", "no computer name in this registry");
    }
}

#[test]
fn the_computer_name_names_the_registry() {
    let mut fake = Fake::new();
    let key = r"SYSTEM\CurrentControlSet\Control\ComputerName\ActiveComputerName";
    fake.key(key).values.push((
        units("ComputerName"),
        crate::registry::value::REG_SZ,
        crate::registry::value::utf16_bytes("WEB01", true),
    ));
    let loaded = load_from(&fake, &[], &Options::default()).expect("loads");
    assert_eq!(loaded.sources[0].name, r"\\WEB01\HKLM");
}

/// A registry in which `Protocols\{other}\Client` and `Protocols\TLS 1.2\Client`
/// each hold `Enabled`, and `{what}` below SCHANNEL gives `error`.
fn two_protocols(other: &str, what: &str, error: LiveError) -> Fake {
    let mut fake = Fake::new();
    for (protocol, enabled) in [(other, 0), ("TLS 1.2", 1)] {
        let key = format!(r"{SCHANNEL}\Protocols\{protocol}\Client");
        fake.dword(&key, "Enabled", enabled);
    }
    fake.key(&format!(r"{SCHANNEL}\{what}")).open_error = Some(error);
    fake
}

/// The key at `below` SCHANNEL in the view.
fn schannel<'a>(loaded: &'a Loaded, below: &str) -> Option<&'a Key> {
    loaded.root.find(&path(&format!(r"{SCHANNEL}\{below}")))
}

#[test]
fn a_denied_key_is_a_diagnostic_and_the_rest_is_read() {
    let mut fake = two_protocols("TLS 1.0", r"Protocols\TLS 1.0", LiveError::AccessDenied);
    let loaded = load_from(&fake, &[], &Options::default()).expect("loads");
    let denied = schannel(&loaded, r"Protocols\TLS 1.0").expect("the denied key is in the view");
    let why = denied.incomplete().expect("the denied key is incomplete");
    assert!(why.contains("access is denied"), "{why}");
    let d = &loaded.diagnostics[0];
    assert_eq!((d.code, d.severity), ("live-read", Severity::Warning));
    assert!(
        d.message.contains(r"SCHANNEL\Protocols\TLS 1.0"),
        "{}",
        d.message
    );
    let client = schannel(&loaded, r"Protocols\TLS 1.2\Client").expect("the rest is read");
    assert_eq!(client.value("Enabled").unwrap().value.as_dword(), Some(1));

    // A required key denied leaves the audit without a verdict.
    fake.key(&format!(r"{SCHANNEL}\Protocols\TLS 1.2"))
        .open_error = Some(LiveError::AccessDenied);
    let policy = article();
    let loaded = load_from(&fake, &[], &audit_options(&policy)).expect("loads");
    assert!(!crate::audit(loaded, &policy).conclusive());
}

#[test]
fn a_key_deleted_while_read_is_left_out_and_said() {
    let fake = two_protocols("TLS 1.1", r"Protocols\TLS 1.1", LiveError::NotFound);
    let loaded = load_from(&fake, &[], &Options::default()).expect("loads");
    assert!(schannel(&loaded, r"Protocols\TLS 1.1").is_none());
    assert_eq!(loaded.diagnostics[0].code, "live-changed");
    assert!(schannel(&loaded, r"Protocols\TLS 1.2\Client").is_some());
}

#[test]
fn a_list_that_breaks_marks_its_key_incomplete() {
    let mut fake = Fake::new();
    for protocol in ["TLS 1.0", "TLS 1.2"] {
        let key = format!(r"{SCHANNEL}\Protocols\{protocol}\Client");
        fake.dword(&key, "Enabled", 1);
    }
    fake.key(&format!(r"{SCHANNEL}\Protocols")).list_error_at = Some(1);
    let loaded = load_from(&fake, &[], &Options::default()).expect("loads");
    let protocols = schannel(&loaded, "Protocols").unwrap();
    let why = protocols.incomplete().expect("the list is incomplete");
    assert!(why.contains("the list broke"), "{why}");
    assert!(protocols.subkey("TLS 1.0").is_some());
    assert!(protocols.subkey("TLS 1.2").is_none());
}

#[test]
fn names_that_are_not_utf16_are_read_and_opened_as_given() {
    let mut fake = Fake::new();
    let schannel: Vec<Vec<u16>> = SCHANNEL.split('\\').map(units).collect();
    // An unpaired surrogate in a key name and in a value name.
    let odd = vec![0xD800, u16::from(b'x')];
    let mut at = schannel.clone();
    at.push(odd.clone());
    let id = fake.make(&at);
    fake.keys[id]
        .values
        .push((odd.clone(), REG_DWORD, vec![1, 0, 0, 0]));
    // A NUL in a key name: the API would open the key named by what comes
    // before it (`Hidden`), so it is not opened at all.
    let mut hidden = schannel.clone();
    hidden.push(units("Hidden\0Twin"));
    fake.make(&hidden);
    fake.dword(&format!(r"{SCHANNEL}\Hidden"), "Enabled", 7);
    let loaded = load_from(&fake, &[], &Options::default()).expect("loads");
    let key = loaded
        .root
        .find(&path(&format!("{SCHANNEL}\\\u{FFFD}x")))
        .expect("the key, named with U+FFFD");
    assert_eq!(key.value("\u{FFFD}x").unwrap().value.as_dword(), Some(1));
    let codes: Vec<&str> = loaded.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes.iter().filter(|c| **c == "live-name").count(), 2);
    let twin = loaded
        .root
        .find(&path(&format!("{SCHANNEL}\\Hidden\0Twin")))
        .expect("the key with a NUL is shown");
    assert!(twin.values().is_empty() && twin.incomplete().is_some());
    assert!(loaded.diagnostics.iter().any(|d| d.message.contains("NUL")));
}

#[test]
fn depth_keys_and_bytes_are_bounded() {
    // A chain deeper than Windows allows: a loop, no recursion, and a stop.
    let mut fake = Fake::new();
    let deep: Vec<String> = std::iter::once(SCHANNEL.to_owned())
        .chain((0..600).map(|i| format!("k{i}")))
        .collect();
    fake.dword(&deep.join("\\"), "v", 1);
    let limits = Limits::default();
    let walked = read(&fake, &Options::default(), limits);
    let mut deepest = (0, None);
    walked.root.visit(|p, k| {
        if p.len() > deepest.0 {
            deepest = (p.len(), k.incomplete());
        }
    });
    // HKLM, the 512 levels below it that are read, and the first that is
    // not, marked so.
    assert_eq!(deepest.0, 1 + limits.max_depth + 1);
    assert!(
        deepest
            .1
            .is_some_and(|w| w.contains("deeper than 512 levels"))
    );
    assert_eq!(walked.diagnostics.len(), 1);

    // Wide: a limit on keys stops the walk, and says so once.
    let mut fake = Fake::new();
    for i in 0..200 {
        fake.dword(&format!(r"{SCHANNEL}\Ciphers\c{i}"), "Enabled", 0);
    }
    let small = Limits {
        max_keys: 50,
        ..Limits::default()
    };
    let walked = read(&fake, &Options::default(), small);
    let ciphers = walked
        .root
        .find(&path(&format!(r"{SCHANNEL}\Ciphers")))
        .unwrap();
    assert!(ciphers.subkeys().count() < 200);
    assert!(ciphers.incomplete().is_some());
    let limits: Vec<_> = walked
        .diagnostics
        .iter()
        .filter(|d| d.code == "live-limit")
        .collect();
    assert_eq!(limits.len(), 1, "{:?}", walked.diagnostics);
    assert!(fake.opened.borrow().len() <= 55);

    // One value larger than asked for is unreadable, not read.
    let mut fake = Fake::new();
    let big = vec![7u8; 100];
    fake.key(SCHANNEL).values.push((units("Big"), 3, big));
    fake.dword(SCHANNEL, "Small", 1);
    let small = Limits {
        max_value: 64,
        ..Limits::default()
    };
    let walked = read(&fake, &Options::default(), small);
    let key = walked.root.find(&path(SCHANNEL)).unwrap();
    assert!(
        key.unreadable("Big")
            .is_some_and(|w| w.contains("100 bytes"))
    );
    assert_eq!(key.value("Small").unwrap().value.as_dword(), Some(1));
}

#[test]
fn export_reads_the_key_asked_for_whole() {
    let mut fake = Fake::new();
    fake.dword(
        &format!(r"{SCHANNEL}\Protocols\TLS 1.2\Client"),
        "Enabled",
        1,
    );
    fake.dword(
        r"SYSTEM\CurrentControlSet\Control\SecurityProviders\WDigest",
        "UseLogonCredential",
        0,
    );
    fake.dword(r"SYSTEM\CurrentControlSet\Services\Tcpip", "Start", 1);
    let target = path(r"SYSTEM\CurrentControlSet\Control\SecurityProviders");
    let options = Options {
        scope: Scope::Key(target[2..].to_vec()),
        keep: Some(KeepKeys(crate::registry::subtree_filter(&target))),
        require_system: false,
        ..Options::default()
    };
    let loaded = load_from(&fake, &[], &options).expect("loads");
    let wdigest = loaded
        .root
        .find(&path(
            r"SYSTEM\CurrentControlSet\Control\SecurityProviders\WDigest",
        ))
        .expect("a key outside SCHANNEL, below the one asked for");
    assert!(wdigest.value("UseLogonCredential").is_some());
    assert!(!fake.was_opened("Tcpip"));
}

#[test]
fn a_missing_schannel_key_is_an_empty_machine() {
    let policy = article();
    let mut fake = Fake::new();
    fake.key(r"SYSTEM\CurrentControlSet\Control");
    let loaded = load_from(&fake, &[], &audit_options(&policy)).expect("loads");
    assert!(loaded.diagnostics.is_empty());
    let audit = crate::audit(loaded, &policy);
    assert!(audit.conclusive() && !audit.compliant());
    let cs = audit
        .loaded
        .control_set
        .expect("the live link is the control set");
    assert_eq!(cs.reason, crate::registry::control_set::Reason::LiveLink);
}
