//! The article's step 1: "Install the latest Windows and Exchange updates":
//! the Exchange, Windows and .NET levels TLS 1.2 needs, as data
//! (`prerequisites.tsv`), and how the products a SOFTWARE hive lists measure
//! up. Knows nothing of where the facts came from.

use std::sync::OnceLock;

use crate::registry::{Build, OsInfo, ProductFacts, Severity};

const TABLE: &str = include_str!("prerequisites.tsv");

/// The codes a rule may carry.
pub const CODES: [&str; 3] = [
    "prerequisite-exchange",
    "prerequisite-os",
    "prerequisite-dotnet",
];

/// Which Exchange installs a rule is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExchangeBuilds {
    /// Whether or not Exchange is installed (`-`).
    Any,
    /// Any installed Exchange (`*`).
    Installed,
    /// Builds from the first up to the second, excluded (`15.1.0.0..15.2.0.0`).
    Range(Build, Build),
}

/// Which Windows builds (`CurrentBuild`) a rule is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OsBuilds {
    Any,
    Only(Vec<u32>),
    AllBut(Vec<u32>),
}

/// What a rule requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requires {
    /// Exchange at least this build.
    Exchange(Build),
    /// The servicing package of this KB installed (`KB4019276`).
    Kb(String),
    /// .NET Framework 4.x `Release` at least this.
    Dotnet(u32),
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prerequisite {
    pub code: &'static str,
    pub severity: Severity,
    /// The policies (by name) the rule applies under.
    pub policies: Vec<String>,
    pub exchange: ExchangeBuilds,
    pub os: OsBuilds,
    pub requires: Requires,
    /// What to install when it fails.
    pub install: String,
    pub source: String,
    /// The row's line in the table, from 1.
    pub line: usize,
}

/// A row the table parser refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("prerequisites table, line {line}: {why}")]
pub struct TableError {
    pub line: usize,
    pub why: String,
}

/// Parses a table in the format of `prerequisites.tsv`.
pub fn parse(text: &str) -> Result<Vec<Prerequisite>, TableError> {
    let mut rows = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let fail = |why: String| TableError { line, why };
        let cols: Vec<&str> = l.split('\t').map(str::trim).collect();
        let [
            code,
            severity,
            policies,
            exchange,
            os,
            requires,
            install,
            source,
        ] = cols[..]
        else {
            return Err(fail(format!("{} columns where 8 are needed", cols.len())));
        };
        let code = CODES
            .iter()
            .find(|c| **c == code)
            .ok_or_else(|| fail(format!("unknown code `{code}`")))?;
        let severity = match severity {
            "error" => Severity::Error,
            "warning" => Severity::Warning,
            "info" => Severity::Info,
            s => return Err(fail(format!("unknown severity `{s}`"))),
        };
        let policies: Vec<String> = policies
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if policies.is_empty() {
            return Err(fail("no policy named".into()));
        }
        let build = |s: &str| Build::parse(s).ok_or_else(|| fail(format!("`{s}` is not a build")));
        let exchange = match exchange {
            "-" => ExchangeBuilds::Any,
            "*" => ExchangeBuilds::Installed,
            r => {
                let (from, to) = r
                    .split_once("..")
                    .ok_or_else(|| fail(format!("`{r}` is not FROM..TO")))?;
                let (from, to) = (build(from)?, build(to)?);
                if from >= to {
                    return Err(fail(format!("the range `{r}` is empty")));
                }
                ExchangeBuilds::Range(from, to)
            }
        };
        let numbers = |s: &str| -> Result<Vec<u32>, TableError> {
            s.split(',')
                .map(|n| {
                    n.trim()
                        .parse()
                        .map_err(|_| fail(format!("`{n}` is not a Windows build")))
                })
                .collect()
        };
        let os = match os {
            "-" => OsBuilds::Any,
            s => match s.strip_prefix('!') {
                Some(rest) => OsBuilds::AllBut(numbers(rest)?),
                None => OsBuilds::Only(numbers(s)?),
            },
        };
        let requires = if let Some(b) = requires.strip_prefix("exchange>=") {
            Requires::Exchange(build(b)?)
        } else if let Some(kb) = requires.strip_prefix("kb=") {
            let digits = kb.strip_prefix("KB").unwrap_or("");
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(fail(format!("`{kb}` is not KB and a number")));
            }
            Requires::Kb(kb.to_owned())
        } else if let Some(r) = requires.strip_prefix("dotnet>=") {
            Requires::Dotnet(
                r.parse()
                    .map_err(|_| fail(format!("`{r}` is not a .NET release number")))?,
            )
        } else {
            return Err(fail(format!("unknown requirement `{requires}`")));
        };
        if install.is_empty() || source.is_empty() {
            return Err(fail("the install text and the source are needed".into()));
        }
        rows.push(Prerequisite {
            code,
            severity,
            policies,
            exchange,
            os,
            requires,
            install: install.to_owned(),
            source: source.to_owned(),
            line,
        });
    }
    Ok(rows)
}

/// The built-in table. Its tests make sure it parses; were it not to, no
/// rule applies and every prerequisite is reported as not evaluated.
pub fn table() -> Result<&'static [Prerequisite], &'static TableError> {
    static ROWS: OnceLock<Result<Vec<Prerequisite>, TableError>> = OnceLock::new();
    ROWS.get_or_init(|| parse(TABLE))
        .as_ref()
        .map(Vec::as_slice)
}

/// The KBs the built-in table asks about: what a reader lists of the
/// servicing packages.
pub fn kbs() -> Vec<&'static str> {
    let mut kbs: Vec<&str> = table()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| match &r.requires {
            Requires::Kb(kb) => Some(kb.as_str()),
            _ => None,
        })
        .collect();
    kbs.sort();
    kbs.dedup();
    kbs
}

/// How a prerequisite measured up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrereqStatus {
    Pass,
    Fail,
    /// The SOFTWARE hive does not say (the OS build or the package list is
    /// unknown).
    NotEvaluated,
}

impl PrereqStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PrereqStatus::Pass => "pass",
            PrereqStatus::Fail => "fail",
            PrereqStatus::NotEvaluated => "not evaluated",
        }
    }
}

/// One prerequisite, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrereqCheck {
    pub rule: Prerequisite,
    pub status: PrereqStatus,
    /// What was found (`Exchange 2016 CU7 (15.1.1261.35)`, `.NET 4.7.1 (461308)`).
    pub found: String,
}

const UNKNOWN_OS: &str = "the Windows build is unknown";

/// The rules of `table` that apply under `policy`, checked against what the
/// SOFTWARE hive says. A rule about Exchange builds does not apply without
/// Exchange; those about Windows builds are not evaluated when the build
/// is unknown (one check a code).
pub fn check_with(
    table: &[Prerequisite],
    policy: &str,
    os: Option<&OsInfo>,
    facts: &ProductFacts,
) -> Vec<PrereqCheck> {
    let mut checks = Vec::new();
    for rule in table
        .iter()
        .filter(|r| r.policies.iter().any(|p| p == policy))
    {
        let exchange_applies = match (&rule.exchange, facts.exchange) {
            (ExchangeBuilds::Any, _) => true,
            (ExchangeBuilds::Installed, e) => e.is_some(),
            (ExchangeBuilds::Range(from, to), Some(e)) => *from <= e && e < *to,
            (ExchangeBuilds::Range(..), None) => false,
        };
        if !exchange_applies {
            continue;
        }
        let build = os.and_then(|o| o.build);
        let os_applies = match (&rule.os, build) {
            (OsBuilds::Any, _) => Some(true),
            (OsBuilds::Only(list), Some(b)) => Some(list.contains(&b)),
            (OsBuilds::AllBut(list), Some(b)) => Some(!list.contains(&b)),
            (_, None) => None,
        };
        let (status, found) = match os_applies {
            Some(false) => continue,
            // One such check a code says it all.
            None if checks
                .iter()
                .any(|c: &PrereqCheck| c.rule.code == rule.code && c.found == UNKNOWN_OS) =>
            {
                continue;
            }
            None => (PrereqStatus::NotEvaluated, UNKNOWN_OS.to_owned()),
            Some(true) => measure(&rule.requires, facts),
        };
        checks.push(PrereqCheck {
            rule: rule.clone(),
            status,
            found,
        });
    }
    checks
}

/// [`check_with`] the built-in table.
pub fn check(policy: &str, os: Option<&OsInfo>, facts: &ProductFacts) -> Vec<PrereqCheck> {
    check_with(table().unwrap_or_default(), policy, os, facts)
}

fn measure(requires: &Requires, facts: &ProductFacts) -> (PrereqStatus, String) {
    let pass = |ok: bool| match ok {
        true => PrereqStatus::Pass,
        false => PrereqStatus::Fail,
    };
    match requires {
        Requires::Exchange(min) => match facts.exchange {
            Some(e) => (pass(e >= *min), exchange_name(e)),
            None => (PrereqStatus::Fail, "no Exchange build".into()),
        },
        Requires::Dotnet(min) => match facts.dotnet_release {
            Some(r) => (pass(r >= *min), dotnet_name(r)),
            None => (PrereqStatus::Fail, "no .NET Framework 4.x".into()),
        },
        Requires::Kb(kb) if !facts.packages_listed => (
            PrereqStatus::NotEvaluated,
            format!("the installed updates were not listed, so {kb} is unknown"),
        ),
        Requires::Kb(kb) => match facts.has_package(kb) {
            true => (PrereqStatus::Pass, format!("{kb} installed")),
            false => (PrereqStatus::Fail, format!("{kb} not installed")),
        },
    }
}

/// Exchange's cumulative updates, each with its first build: the name of a
/// build is that of the last CU at or below it.
const CUS: [(&str, [u32; 4]); 44] = [
    ("Exchange 2013 CU18", [15, 0, 1347, 2]),
    ("Exchange 2013 CU19", [15, 0, 1365, 1]),
    ("Exchange 2013 CU20", [15, 0, 1367, 3]),
    ("Exchange 2013 CU21", [15, 0, 1395, 4]),
    ("Exchange 2013 CU22", [15, 0, 1473, 3]),
    ("Exchange 2013 CU23", [15, 0, 1497, 2]),
    ("Exchange 2016 CU1", [15, 1, 396, 30]),
    ("Exchange 2016 CU2", [15, 1, 466, 34]),
    ("Exchange 2016 CU3", [15, 1, 544, 27]),
    ("Exchange 2016 CU4", [15, 1, 669, 32]),
    ("Exchange 2016 CU5", [15, 1, 845, 34]),
    ("Exchange 2016 CU6", [15, 1, 1034, 26]),
    ("Exchange 2016 CU7", [15, 1, 1261, 35]),
    ("Exchange 2016 CU8", [15, 1, 1415, 2]),
    ("Exchange 2016 CU9", [15, 1, 1466, 3]),
    ("Exchange 2016 CU10", [15, 1, 1531, 3]),
    ("Exchange 2016 CU11", [15, 1, 1591, 10]),
    ("Exchange 2016 CU12", [15, 1, 1713, 5]),
    ("Exchange 2016 CU13", [15, 1, 1779, 2]),
    ("Exchange 2016 CU14", [15, 1, 1847, 3]),
    ("Exchange 2016 CU15", [15, 1, 1913, 5]),
    ("Exchange 2016 CU16", [15, 1, 1979, 3]),
    ("Exchange 2016 CU17", [15, 1, 2044, 4]),
    ("Exchange 2016 CU18", [15, 1, 2106, 2]),
    ("Exchange 2016 CU19", [15, 1, 2176, 2]),
    ("Exchange 2016 CU20", [15, 1, 2242, 4]),
    ("Exchange 2016 CU21", [15, 1, 2308, 8]),
    ("Exchange 2016 CU22", [15, 1, 2375, 7]),
    ("Exchange 2016 CU23", [15, 1, 2507, 6]),
    ("Exchange 2019 CU1", [15, 2, 330, 5]),
    ("Exchange 2019 CU2", [15, 2, 397, 3]),
    ("Exchange 2019 CU3", [15, 2, 464, 5]),
    ("Exchange 2019 CU4", [15, 2, 529, 5]),
    ("Exchange 2019 CU5", [15, 2, 595, 3]),
    ("Exchange 2019 CU6", [15, 2, 659, 4]),
    ("Exchange 2019 CU7", [15, 2, 721, 2]),
    ("Exchange 2019 CU8", [15, 2, 792, 3]),
    ("Exchange 2019 CU9", [15, 2, 858, 5]),
    ("Exchange 2019 CU10", [15, 2, 922, 7]),
    ("Exchange 2019 CU11", [15, 2, 986, 5]),
    ("Exchange 2019 CU12", [15, 2, 1118, 7]),
    ("Exchange 2019 CU13", [15, 2, 1258, 12]),
    ("Exchange 2019 CU14", [15, 2, 1544, 4]),
    ("Exchange 2019 CU15", [15, 2, 1748, 10]),
];

/// The CU a build belongs to (`Exchange 2016 CU8`), when it is one of the
/// known ones; SE from 15.2.2562.
pub fn cu_name(b: Build) -> Option<&'static str> {
    if b.major == 15 && b.minor == 2 && b.build >= 2562 {
        return Some("Exchange SE RTM");
    }
    CUS.iter()
        .map(|(name, [a, c, d, e])| (*name, Build::new(*a, *c, *d, *e)))
        .rfind(|(_, first)| first.major == b.major && first.minor == b.minor && *first <= b)
        .map(|(name, _)| name)
}

/// `Exchange 2016 CU8 (15.1.1415.2)`, or the build alone.
pub fn exchange_name(b: Build) -> String {
    match cu_name(b) {
        Some(name) => format!("{name} ({b})"),
        None => format!("Exchange {b}"),
    }
}

/// The .NET Framework 4.x versions, each with its least `Release`.
const DOTNET: [(&str, u32); 11] = [
    ("4.5", 378389),
    ("4.5.1", 378675),
    ("4.5.2", 379893),
    ("4.6", 393295),
    ("4.6.1", 394254),
    ("4.6.2", 394802),
    ("4.7", 460798),
    ("4.7.1", 461308),
    ("4.7.2", 461808),
    ("4.8", 528040),
    ("4.8.1", 533320),
];

/// The .NET Framework version a `Release` value stands for (`4.8`).
pub fn dotnet_version(release: u32) -> Option<&'static str> {
    DOTNET
        .iter()
        .rfind(|(_, min)| *min <= release)
        .map(|(v, _)| *v)
}

/// `.NET Framework 4.8 (528040)`.
pub fn dotnet_name(release: u32) -> String {
    match dotnet_version(release) {
        Some(v) => format!(".NET Framework {v} ({release})"),
        None => format!(".NET Framework release {release}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_every_row_has_a_source() {
        let rows = table().expect("the built-in table parses");
        let n = TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(rows.len(), n);
        for r in rows {
            assert!(r.source.starts_with("https://"), "line {}", r.line);
        }
        assert_eq!(kbs(), ["KB2973337", "KB3161949", "KB4019276"]);
    }

    #[test]
    fn a_bad_row_is_an_error_with_its_line() {
        let good = "prerequisite-os\terror\tarticle\t-\t6002\tkb=KB4019276\tKB4019276\thttps://x";
        assert_eq!(parse(good).unwrap().len(), 1);
        for (bad, why) in [
            (
                good.replace("prerequisite-os", "prerequisite-x"),
                "unknown code",
            ),
            (good.replace("error", "fatal"), "unknown severity"),
            (good.replace("\t6002", "\tsix"), "not a Windows build"),
            (good.replace("kb=KB4019276", "kb=4019276"), "not KB"),
            (
                good.replace("kb=KB4019276", "ram>=4"),
                "unknown requirement",
            ),
            (good.replace("\t-\t", "\t15.1.0.0..15.0.0.0\t"), "is empty"),
            (good.replace("\t-\t", "\t15.1\t"), "FROM..TO"),
            (good.replace("\thttps://x", ""), "columns"),
        ] {
            let e = parse(&format!("# comment\n\n{bad}")).unwrap_err();
            assert_eq!(e.line, 3, "{bad}");
            assert!(e.why.contains(why), "{bad}: {}", e.why);
        }
    }

    #[test]
    fn names_of_builds_and_releases() {
        for (b, name) in [
            ([15, 1, 1415, 2], "Exchange 2016 CU8"),
            ([15, 1, 1415, 8], "Exchange 2016 CU8"),
            ([15, 1, 1415, 1], "Exchange 2016 CU7"),
            ([15, 2, 2562, 17], "Exchange SE RTM"),
        ] {
            assert_eq!(cu_name(Build::new(b[0], b[1], b[2], b[3])), Some(name));
        }
        assert_eq!(cu_name(Build::new(15, 2, 221, 12)), None);
        assert_eq!(cu_name(Build::new(14, 3, 382, 0)), None);
        assert_eq!(
            exchange_name(Build::new(15, 0, 1365, 1)),
            "Exchange 2013 CU19 (15.0.1365.1)"
        );
        assert_eq!(dotnet_version(528040), Some("4.8"));
        assert_eq!(dotnet_version(528049), Some("4.8"));
        assert_eq!(dotnet_version(533325), Some("4.8.1"));
        assert_eq!(dotnet_version(461307), Some("4.7"));
        assert_eq!(dotnet_version(1), None);
        assert_eq!(dotnet_name(461308), ".NET Framework 4.7.1 (461308)");
    }
}
