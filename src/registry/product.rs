//! What the SOFTWARE hive says about the installed products a TLS 1.2 setup
//! depends on: Exchange Server's build, the .NET Framework 4.x release, the
//! Windows service pack, and the servicing packages (updates) installed.
//! Knows nothing of SCHANNEL or of what the numbers are required to be.

use super::Key;
use super::control_set::HKLM;

/// `Microsoft\ExchangeServer\v15\Setup` (2013, 2016, 2019, SE), below the
/// SOFTWARE hive's root.
pub const EXCHANGE_V15_KEY: [&str; 4] = ["Microsoft", "ExchangeServer", "v15", "Setup"];
/// `Microsoft\ExchangeServer\v14\Setup` (2010).
pub const EXCHANGE_V14_KEY: [&str; 4] = ["Microsoft", "ExchangeServer", "v14", "Setup"];
/// `Microsoft\NET Framework Setup\NDP\v4\Full`, holding the DWORD `Release`.
pub const DOTNET_KEY: [&str; 5] = ["Microsoft", "NET Framework Setup", "NDP", "v4", "Full"];
/// The installed servicing packages, one subkey each (`Package_for_KB…`).
pub const PACKAGES_KEY: [&str; 5] = [
    "Microsoft",
    "Windows",
    "CurrentVersion",
    "Component Based Servicing",
    "Packages",
];
/// The keys below SOFTWARE's root whose values [`ProductFacts::read`] uses.
pub const VALUE_KEYS: [&[&str]; 3] = [&EXCHANGE_V15_KEY, &EXCHANGE_V14_KEY, &DOTNET_KEY];

/// The most package names kept: a real SOFTWARE hive lists tens of
/// thousands; only those naming a KB asked for are kept, and never more
/// than this.
pub const MAX_PACKAGES: usize = 256;

/// An Exchange Server build, as setup records it (`15.1.1415.2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Build {
    pub major: u32,
    pub minor: u32,
    pub build: u32,
    pub revision: u32,
}

impl Build {
    pub const fn new(major: u32, minor: u32, build: u32, revision: u32) -> Self {
        Build {
            major,
            minor,
            build,
            revision,
        }
    }

    /// Parses `15.1.1415.2`; the revision may be left out (`15.1.1415`).
    pub fn parse(s: &str) -> Option<Build> {
        let mut parts = s.trim().split('.').map(|p| p.trim().parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next()?.ok()?;
        let build = parts.next()?.ok()?;
        let revision = match parts.next() {
            Some(r) => r.ok()?,
            None => 0,
        };
        parts
            .next()
            .is_none()
            .then_some(Build::new(major, minor, build, revision))
    }
}

impl std::fmt::Display for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Build {
            major,
            minor,
            build,
            revision,
        } = self;
        write!(f, "{major}.{minor}.{build}.{revision}")
    }
}

/// What the SOFTWARE hive says about the products TLS 1.2 depends on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductFacts {
    /// Exchange's build from setup's `Msi*` values, when Exchange is installed.
    pub exchange: Option<Build>,
    /// `Release` of .NET Framework 4.x (528040 is 4.8).
    pub dotnet_release: Option<u32>,
    /// `CSDVersion` (`Service Pack 2`), on systems that have service packs.
    pub service_pack: Option<String>,
    /// The names of installed servicing packages naming a KB asked for
    /// (at most [`MAX_PACKAGES`]), as far as the view holds them.
    pub packages: Vec<String>,
    /// Whether the view holds the package list at all: without it, no KB is
    /// known to be missing.
    pub packages_listed: bool,
}

impl ProductFacts {
    /// Reads the facts from the view's `HKEY_LOCAL_MACHINE\SOFTWARE`, keeping
    /// only the packages whose name holds one of `kbs` (`KB4019276`).
    /// `None` when the view holds none of them.
    pub fn read(root: &Key, kbs: &[&str]) -> Option<ProductFacts> {
        let software = root.find(&[HKLM, "SOFTWARE"])?;
        let dword = |path: &[&str], name: &str| {
            software
                .find(path)
                .and_then(|k| k.value(name))
                .and_then(|e| e.value.as_dword())
        };
        let exchange = [&EXCHANGE_V15_KEY, &EXCHANGE_V14_KEY]
            .into_iter()
            .find_map(|key| {
                Some(Build::new(
                    dword(key, "MsiProductMajor")?,
                    dword(key, "MsiProductMinor")?,
                    dword(key, "MsiBuildMajor")?,
                    dword(key, "MsiBuildMinor")?,
                ))
            });
        let service_pack = software
            .find(&["Microsoft", "Windows NT", "CurrentVersion"])
            .and_then(|k| k.value("CSDVersion"))
            .and_then(|e| e.value.as_str())
            .filter(|s| !s.trim().is_empty());
        let listed = software.find(&PACKAGES_KEY);
        let packages = listed
            .map(|k| packages_naming(k.subkeys().map(Key::name), kbs))
            .unwrap_or_default();
        let facts = ProductFacts {
            exchange,
            dotnet_release: dword(&DOTNET_KEY, "Release"),
            service_pack,
            packages,
            packages_listed: listed.is_some(),
        };
        (facts != ProductFacts::default()).then_some(facts)
    }

    /// Whether a package naming `kb` (`KB4019276`) is installed.
    pub fn has_package(&self, kb: &str) -> bool {
        self.packages.iter().any(|p| names_kb(p, kb))
    }
}

/// Whether a package name (`Package_for_KB4019276~31bf3856ad364e35~…`)
/// names `kb` exactly: `KB40192760` does not name `KB4019276`.
pub fn names_kb(package: &str, kb: &str) -> bool {
    let (p, kb) = (package.to_ascii_uppercase(), kb.to_ascii_uppercase());
    p.match_indices(&kb).any(|(at, _)| {
        !p[at + kb.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// The names that name one of `kbs`, sorted, deduplicated, at most
/// [`MAX_PACKAGES`]: memory stays bounded whatever the list holds.
pub fn packages_naming<'a>(names: impl Iterator<Item = &'a str>, kbs: &[&str]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for name in names {
        if kept.len() >= MAX_PACKAGES {
            break;
        }
        if kbs.iter().any(|kb| names_kb(name, kb)) {
            kept.push(name.to_owned());
        }
    }
    kept.sort();
    kept.dedup();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Value;

    fn software(entries: &[(&[&str], &str, Value)], packages: &[&str]) -> Key {
        let mut root = Key::new("");
        for (path, name, value) in entries {
            let full: Vec<&str> = [HKLM, "SOFTWARE"]
                .iter()
                .chain(path.iter())
                .copied()
                .collect();
            root.create(&full, None)
                .set_value(name, value.clone(), None);
        }
        for p in packages {
            let full: Vec<&str> = [HKLM, "SOFTWARE"]
                .iter()
                .chain(PACKAGES_KEY.iter())
                .chain(std::iter::once(p))
                .copied()
                .collect();
            root.create(&full, None);
        }
        root
    }

    fn exchange<'a>(key: &'a [&'a str], b: [u32; 4]) -> Vec<(&'a [&'a str], &'static str, Value)> {
        let names = [
            "MsiProductMajor",
            "MsiProductMinor",
            "MsiBuildMajor",
            "MsiBuildMinor",
        ];
        names
            .into_iter()
            .zip(b)
            .map(|(n, v)| (key, n, Value::dword(v)))
            .collect()
    }

    #[test]
    fn exchange_2016_cu8_is_read_from_the_msi_values() {
        let root = software(&exchange(&EXCHANGE_V15_KEY, [15, 1, 1415, 2]), &[]);
        let facts = ProductFacts::read(&root, &[]).unwrap();
        assert_eq!(facts.exchange, Some(Build::new(15, 1, 1415, 2)));
        assert_eq!(facts.exchange.unwrap().to_string(), "15.1.1415.2");
    }

    #[test]
    fn exchange_2010_is_read_from_v14() {
        let root = software(&exchange(&EXCHANGE_V14_KEY, [14, 3, 382, 0]), &[]);
        let facts = ProductFacts::read(&root, &[]).unwrap();
        assert_eq!(facts.exchange, Some(Build::new(14, 3, 382, 0)));
    }

    #[test]
    fn a_partial_setup_key_is_no_build() {
        let mut e = exchange(&EXCHANGE_V15_KEY, [15, 1, 1415, 2]);
        e.pop();
        let facts = ProductFacts::read(&software(&e, &[]), &[]).unwrap_or_default();
        assert_eq!(facts.exchange, None);
    }

    #[test]
    fn dotnet_release_and_service_pack_are_read() {
        let root = software(
            &[
                (&DOTNET_KEY, "Release", Value::dword(528040)),
                (
                    &["Microsoft", "Windows NT", "CurrentVersion"],
                    "CSDVersion",
                    Value::string("Service Pack 2"),
                ),
            ],
            &[],
        );
        let facts = ProductFacts::read(&root, &[]).unwrap();
        assert_eq!(facts.dotnet_release, Some(528040));
        assert_eq!(facts.service_pack.as_deref(), Some("Service Pack 2"));
        assert_eq!(facts.exchange, None);
    }

    #[test]
    fn only_packages_naming_a_kb_asked_for_are_kept() {
        let root = software(
            &[],
            &[
                "Package_for_KB4019276~31bf3856ad364e35~amd64~~6.0.1.2",
                "Package_for_KB40192760~31bf3856ad364e35~amd64~~6.0.1.2",
                "Package_for_KB3161949~31bf3856ad364e35~amd64~~6.3.1.0",
                "Package_for_RollupFix~31bf3856ad364e35~amd64~~17763.6893.1.8",
            ],
        );
        let facts = ProductFacts::read(&root, &["KB4019276"]).unwrap();
        assert_eq!(
            facts.packages,
            ["Package_for_KB4019276~31bf3856ad364e35~amd64~~6.0.1.2"]
        );
        assert!(facts.has_package("kb4019276"));
        assert!(!facts.has_package("KB3161949"));
    }

    #[test]
    fn the_kept_packages_are_bounded() {
        let names: Vec<String> = (0..MAX_PACKAGES * 4)
            .map(|i| format!("Package_for_KB3161949~{i}"))
            .collect();
        let kept = packages_naming(names.iter().map(String::as_str), &["KB3161949"]);
        assert_eq!(kept.len(), MAX_PACKAGES);
    }

    #[test]
    fn nothing_known_is_none() {
        assert_eq!(ProductFacts::read(&Key::new(""), &["KB1"]), None);
    }

    #[test]
    fn builds_parse_and_order() {
        assert_eq!(
            Build::parse("15.0.1365.1"),
            Some(Build::new(15, 0, 1365, 1))
        );
        assert_eq!(Build::parse("15.1.1415"), Some(Build::new(15, 1, 1415, 0)));
        assert_eq!(Build::parse("15.x"), None);
        assert_eq!(Build::parse("1.2.3.4.5"), None);
        assert!(Build::new(15, 1, 1415, 2) > Build::new(15, 1, 1415, 1));
        assert!(Build::new(15, 1, 1466, 3) > Build::new(15, 1, 1415, 2));
    }
}
