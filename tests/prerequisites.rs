//! The article's step 1: the Windows, Exchange and .NET builds read from the
//! SOFTWARE hive beside SYSTEM, and the rules they are held to.

mod common;

use std::path::Path;

use tlsreg::hive::build::{BuildOptions, build};
use tlsreg::input::{Options, load};
use tlsreg::registry::{Build, Key, ProductFacts, Value};

/// A SOFTWARE hive: each `(path, name, value)` below its root, and each
/// name in `packages` as a servicing package.
fn software_hive(values: &[(&[&str], &str, Value)], packages: &[&str]) -> Vec<u8> {
    let mut root = Key::new("ROOT");
    for (path, name, value) in values {
        root.create(path, None).set_value(name, value.clone(), None);
    }
    for p in packages {
        let mut path = tlsreg::registry::product::PACKAGES_KEY.to_vec();
        path.push(p);
        root.create(&path, None);
    }
    build(&root, &BuildOptions::default())
}

fn exchange(b: [u32; 4]) -> Vec<(&'static [&'static str], &'static str, Value)> {
    let key: &[&str] = &tlsreg::registry::product::EXCHANGE_V15_KEY;
    [
        "MsiProductMajor",
        "MsiProductMinor",
        "MsiBuildMajor",
        "MsiBuildMinor",
    ]
    .into_iter()
    .zip(b)
    .map(|(n, v)| (key, n, Value::dword(v)))
    .collect()
}

fn config(dir: &Path, software: &[u8]) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("SYSTEM"),
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hives/compliant.hiv"))
            .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("SOFTWARE"), software).unwrap();
    dir.join("SYSTEM").display().to_string()
}

#[test]
fn the_products_are_read_from_software_without_the_unasked_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let mut values = exchange([15, 1, 1415, 2]);
    values.push((
        &tlsreg::registry::product::DOTNET_KEY,
        "Release",
        Value::dword(461308),
    ));
    values.push((
        &["Microsoft", "Windows NT", "CurrentVersion"],
        "CurrentBuildNumber",
        Value::string("9600"),
    ));
    let many: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                "Package_for_KB{}~31bf3856ad364e35~amd64~~6.3.1.0",
                5000000 + i
            )
        })
        .collect();
    let mut packages: Vec<&str> = many.iter().map(String::as_str).collect();
    packages.push("Package_for_KB3161949~31bf3856ad364e35~amd64~~6.3.1.0");
    packages.push("Package_for_KB2973337~31bf3856ad364e35~amd64~~6.3.1.0");
    let system = config(
        &tmp.path().join("config"),
        &software_hive(&values, &packages),
    );
    let options = Options {
        software: Some(tmp.path().join("config/SOFTWARE").display().to_string()),
        software_packages: vec!["KB3161949".into(), "KB2973337".into()],
        ..Options::default()
    };
    let loaded = load(Some(&system), &[], &options).unwrap();
    let facts = ProductFacts::read(&loaded.root, &["KB3161949", "KB2973337"]).unwrap();
    assert_eq!(facts.exchange, Some(Build::new(15, 1, 1415, 2)));
    assert_eq!(facts.dotnet_release, Some(461308));
    assert_eq!(
        facts.packages,
        [
            "Package_for_KB2973337~31bf3856ad364e35~amd64~~6.3.1.0",
            "Package_for_KB3161949~31bf3856ad364e35~amd64~~6.3.1.0",
        ]
    );
    let os = tlsreg::registry::OsInfo::read(&loaded.root).unwrap();
    assert_eq!(os.build, Some(9600));
}

#[test]
fn packages_are_not_listed_unless_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let software = software_hive(
        &exchange([15, 0, 1365, 1]),
        &["Package_for_KB4019276~31bf3856ad364e35~amd64~~6.0.1.2"],
    );
    let system = config(&tmp.path().join("config"), &software);
    let options = Options {
        software: Some(tmp.path().join("config/SOFTWARE").display().to_string()),
        ..Options::default()
    };
    let loaded = load(Some(&system), &[], &options).unwrap();
    let facts = ProductFacts::read(&loaded.root, &["KB4019276"]).unwrap();
    assert_eq!(facts.exchange, Some(Build::new(15, 0, 1365, 1)));
    assert!(facts.packages.is_empty());
}

// The rule table against the research note's numbers
// (shared/research/prerequisites.md, from CSS-Exchange and Microsoft's TLS
// guidance): each side of each threshold.

use tlsreg::registry::OsInfo;
use tlsreg::schannel::prerequisites::{PrereqStatus, check};

fn os(build: u32) -> OsInfo {
    OsInfo {
        build: Some(build),
        ..OsInfo::default()
    }
}

fn facts(exchange: Option<[u32; 4]>, dotnet: Option<u32>, packages: &[&str]) -> ProductFacts {
    ProductFacts {
        exchange: exchange.map(|[a, b, c, d]| Build::new(a, b, c, d)),
        dotnet_release: dotnet,
        service_pack: None,
        packages: packages
            .iter()
            .map(|p| format!("Package_for_{p}~31bf3856ad364e35~amd64~~6.0.1.2"))
            .collect(),
        packages_listed: true,
    }
}

/// `(code, status)` of each check.
fn outcome(policy: &str, os: &OsInfo, f: &ProductFacts) -> Vec<(&'static str, PrereqStatus)> {
    check(policy, Some(os), f)
        .into_iter()
        .map(|c| (c.rule.code, c.status))
        .collect()
}

fn exchange_status(policy: &str, build: [u32; 4]) -> PrereqStatus {
    let checks = outcome(policy, &os(17763), &facts(Some(build), Some(533320), &[]));
    let ex: Vec<PrereqStatus> = checks
        .iter()
        .filter(|(c, _)| *c == "prerequisite-exchange")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(ex.len(), 1, "{policy} {build:?}: {checks:?}");
    ex[0]
}

#[test]
fn exchange_2013_needs_cu19_and_cu20_to_disable_old_tls() {
    use PrereqStatus::*;
    assert_eq!(exchange_status("article", [15, 0, 1347, 5]), Fail); // CU18 + SU
    assert_eq!(exchange_status("article", [15, 0, 1365, 0]), Fail);
    assert_eq!(exchange_status("article", [15, 0, 1365, 1]), Pass); // CU19
    assert_eq!(exchange_status("exchange", [15, 0, 1365, 7]), Fail); // CU19 May18SU
    assert_eq!(exchange_status("exchange", [15, 0, 1367, 3]), Pass); // CU20
}

#[test]
fn exchange_2016_needs_cu8_and_cu9_to_disable_old_tls() {
    use PrereqStatus::*;
    assert_eq!(exchange_status("article", [15, 1, 1261, 35]), Fail); // CU7
    assert_eq!(exchange_status("article", [15, 1, 1415, 1]), Fail);
    assert_eq!(exchange_status("article", [15, 1, 1415, 2]), Pass); // CU8
    assert_eq!(exchange_status("exchange", [15, 1, 1415, 8]), Fail); // CU8 Mar21SU
    assert_eq!(exchange_status("exchange", [15, 1, 1466, 3]), Pass); // CU9
}

#[test]
fn exchange_2019_and_se_have_no_exchange_prerequisite() {
    for build in [[15, 2, 221, 12], [15, 2, 1748, 10], [15, 2, 2562, 17]] {
        for policy in ["article", "exchange"] {
            let checks = outcome(policy, &os(20348), &facts(Some(build), Some(533320), &[]));
            assert!(
                checks.iter().all(|(c, _)| *c != "prerequisite-exchange"),
                "{build:?}: {checks:?}"
            );
        }
    }
}

#[test]
fn other_policies_have_no_prerequisites() {
    let f = facts(Some([15, 1, 1261, 35]), Some(394802), &[]);
    assert_eq!(outcome("cis-iis10", &os(9600), &f), []);
    assert_eq!(outcome("tls12-only", &os(6002), &f), []);
}

#[test]
fn server_2008_sp2_needs_kb4019276_until_build_6003() {
    use PrereqStatus::*;
    let none = facts(None, None, &[]);
    assert_eq!(
        outcome("article", &os(6002), &none),
        [("prerequisite-os", Fail)]
    );
    let kb = facts(None, None, &["KB4019276"]);
    assert_eq!(
        outcome("article", &os(6002), &kb),
        [("prerequisite-os", Pass)]
    );
    // The 2019-03 rollups raised the build to 6003: they hold KB4019276.
    assert_eq!(outcome("article", &os(6003), &none), []);
    // Not listed (a .reg export of SOFTWARE): not evaluated, never passed.
    let unlisted = ProductFacts {
        packages_listed: false,
        ..none
    };
    assert_eq!(
        outcome("exchange", &os(6002), &unlisted),
        [("prerequisite-os", NotEvaluated)]
    );
}

#[test]
fn server_2012_and_2012_r2_running_exchange_need_kb3161949_and_kb2973337() {
    use PrereqStatus::*;
    for build in [9200, 9600] {
        let os_checks = |f: &ProductFacts| -> Vec<PrereqStatus> {
            outcome("article", &os(build), f)
                .into_iter()
                .filter(|(c, _)| *c == "prerequisite-os")
                .map(|(_, s)| s)
                .collect()
        };
        let ex = Some([15, 1, 2507, 6]);
        assert_eq!(os_checks(&facts(ex, Some(528040), &[])), [Fail, Fail]);
        assert_eq!(
            os_checks(&facts(ex, Some(528040), &["KB3161949"])),
            [Pass, Fail]
        );
        assert_eq!(
            os_checks(&facts(ex, Some(528040), &["KB3161949", "KB2973337"])),
            [Pass, Pass]
        );
        // Without Exchange the rule does not apply.
        assert_eq!(os_checks(&facts(None, None, &[])), []);
    }
    // Server 2016 running Exchange: no KB rule.
    let f = facts(Some([15, 1, 2507, 6]), Some(528040), &[]);
    assert!(
        outcome("article", &os(14393), &f)
            .iter()
            .all(|(c, _)| *c != "prerequisite-os")
    );
}

/// The .NET check's status and the least release that passes it.
fn dotnet(build: [u32; 4], windows: u32) -> (PrereqStatus, PrereqStatus) {
    let at = |release: u32| {
        let checks = outcome(
            "article",
            &os(windows),
            &facts(Some(build), Some(release), &[]),
        );
        let d: Vec<PrereqStatus> = checks
            .iter()
            .filter(|(c, _)| *c == "prerequisite-dotnet")
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(d.len(), 1, "{build:?} on {windows}: {checks:?}");
        d[0]
    };
    (at(0), at(u32::MAX))
}

/// The least `Release` that passes the .NET check.
fn least_dotnet(build: [u32; 4], windows: u32) -> u32 {
    let releases = [394802, 460798, 461308, 461808, 528040, 533320];
    assert_eq!(
        dotnet(build, windows),
        (PrereqStatus::Fail, PrereqStatus::Pass)
    );
    let f = |r: u32| facts(Some(build), Some(r), &[]);
    *releases
        .iter()
        .find(|r| {
            outcome("article", &os(windows), &f(**r))
                .iter()
                .all(|(c, s)| *c != "prerequisite-dotnet" || *s == PrereqStatus::Pass)
        })
        .unwrap()
}

#[test]
fn dotnet_follows_healthchecker_per_cu() {
    let (v471, v472, v48, v481) = (461308, 461808, 528040, 533320);
    for (build, windows, least) in [
        ([15, 0, 1365, 1], 9600, v471),   // 2013 CU19
        ([15, 0, 1367, 3], 9600, v471),   // 2013 CU20
        ([15, 0, 1395, 4], 9600, v48),    // 2013 CU21
        ([15, 1, 1415, 2], 14393, v471),  // 2016 CU8
        ([15, 1, 1531, 3], 14393, v471),  // 2016 CU10
        ([15, 1, 1591, 10], 14393, v472), // 2016 CU11
        ([15, 1, 1713, 5], 14393, v472),  // 2016 CU12
        ([15, 1, 1779, 2], 14393, v48),   // 2016 CU13
        ([15, 2, 330, 5], 17763, v472),   // 2019 CU1
        ([15, 2, 397, 3], 17763, v48),    // 2019 CU2
        ([15, 2, 1258, 12], 20348, v48),  // 2019 CU13
        ([15, 2, 1544, 4], 17763, v48),   // 2019 CU14 on Server 2019
        ([15, 2, 1544, 4], 20348, v481),  // 2019 CU14 on Server 2022
        ([15, 2, 2562, 17], 26100, v481), // SE on Server 2025
    ] {
        assert_eq!(
            least_dotnet(build, windows),
            least,
            "{build:?} on {windows}"
        );
    }
}

#[test]
fn no_dotnet_is_a_failed_dotnet_check_and_an_unknown_windows_is_not_evaluated() {
    let f = facts(Some([15, 2, 1544, 4]), None, &[]);
    let checks = check("article", Some(&OsInfo::default()), &f);
    let d: Vec<(&str, PrereqStatus)> = checks.iter().map(|c| (c.rule.code, c.status)).collect();
    assert_eq!(
        d,
        [
            ("prerequisite-os", PrereqStatus::NotEvaluated),
            ("prerequisite-dotnet", PrereqStatus::NotEvaluated)
        ]
    );
    let checks = check("article", Some(&os(20348)), &f);
    assert_eq!(checks[0].status, PrereqStatus::Fail);
    assert_eq!(checks[0].found, "no .NET Framework 4.x");
}

// SOFTWARE beside a SYSTEM hive named alone.

fn audit_json(args: &[&str]) -> (i32, serde_json::Value) {
    let run = common::tlsreg(args);
    let doc = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stderr));
    (run.code, doc)
}

#[test]
fn a_system_hive_named_alone_is_read_with_the_software_beside_it_any_case() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("config");
    let system = config(&dir, b"");
    std::fs::remove_file(dir.join("SOFTWARE")).unwrap();
    let payload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/images/payload/SOFTWARE.hiv"),
    )
    .unwrap();
    std::fs::write(dir.join("software"), payload).unwrap();
    let (code, doc) = audit_json(&["audit", "--format", "json", &system]);
    assert_eq!(code, 0);
    let input = &doc["inputs"][0];
    assert_eq!(input["os"]["build"], 17763);
    assert!(input["software"].is_string(), "{input}");
    let from = common::slashed(input["software_path"].as_str().unwrap());
    assert!(from.ends_with("config/software"), "{from}");
    // --no-software: not read.
    let (code, doc) = audit_json(&["audit", "--format", "json", "--no-software", &system]);
    assert_eq!(code, 0);
    assert!(doc["inputs"][0]["os"].is_null());
}

#[test]
fn an_unreadable_software_beside_system_is_a_warning_and_the_verdict_stands() {
    let tmp = tempfile::tempdir().unwrap();
    let payload = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/images/payload/SOFTWARE.hiv"),
    )
    .unwrap();
    let system = config(&tmp.path().join("config"), &payload[..4096]);
    let (code, doc) = audit_json(&["audit", "--format", "json", &system]);
    assert_eq!(code, 0, "{doc}");
    let input = &doc["inputs"][0];
    assert_eq!(input["verdict"], "compliant");
    assert!(input["os"].is_null());
    let codes: Vec<&str> = input["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"software-unreadable"), "{codes:?}");
    // Named with --software, it is the user's error.
    let sw = tmp.path().join("config/SOFTWARE").display().to_string();
    let run = common::tlsreg(&["audit", "--software", &sw, &system]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

// Must show 1: config folders (SYSTEM + a SOFTWARE made by the hive writer)
// for each rule, each side of each threshold, audited through the SYSTEM
// path alone.

struct Case {
    name: &'static str,
    windows: (&'static str, u32),
    exchange: Option<[u32; 4]>,
    dotnet: Option<u32>,
    kbs: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "ex2016-cu7",
        windows: ("Windows Server 2016 Standard", 14393),
        exchange: Some([15, 1, 1261, 35]),
        dotnet: Some(461308),
        kbs: &[],
    },
    Case {
        name: "ex2016-cu8",
        windows: ("Windows Server 2016 Standard", 14393),
        exchange: Some([15, 1, 1415, 2]),
        dotnet: Some(461308),
        kbs: &[],
    },
    Case {
        name: "ex2016-cu9",
        windows: ("Windows Server 2016 Standard", 14393),
        exchange: Some([15, 1, 1466, 3]),
        dotnet: Some(461308),
        kbs: &[],
    },
    Case {
        name: "ex2013-cu18",
        windows: ("Windows Server 2012 R2 Standard", 9600),
        exchange: Some([15, 0, 1347, 2]),
        dotnet: Some(461308),
        kbs: &["KB3161949", "KB2973337"],
    },
    Case {
        name: "ex2013-cu19",
        windows: ("Windows Server 2012 R2 Standard", 9600),
        exchange: Some([15, 0, 1365, 1]),
        dotnet: Some(461308),
        kbs: &["KB3161949", "KB2973337"],
    },
    Case {
        name: "ex2013-cu20",
        windows: ("Windows Server 2012 R2 Standard", 9600),
        exchange: Some([15, 0, 1367, 3]),
        dotnet: Some(461308),
        kbs: &["KB3161949", "KB2973337"],
    },
    Case {
        name: "w2012r2-ex-no-kbs",
        windows: ("Windows Server 2012 R2 Standard", 9600),
        exchange: Some([15, 1, 2507, 6]),
        dotnet: Some(528040),
        kbs: &[],
    },
    Case {
        name: "w2012-ex-one-kb",
        windows: ("Windows Server 2012 Standard", 9200),
        exchange: Some([15, 1, 2507, 6]),
        dotnet: Some(528040),
        kbs: &["KB3161949"],
    },
    Case {
        name: "w2008sp2-no-kb",
        windows: ("Windows Server (R) 2008 Standard", 6002),
        exchange: None,
        dotnet: None,
        kbs: &[],
    },
    Case {
        name: "w2008sp2-kb4019276",
        windows: ("Windows Server (R) 2008 Standard", 6002),
        exchange: None,
        dotnet: None,
        kbs: &["KB4019276"],
    },
    Case {
        name: "w2008sp2-build6003",
        windows: ("Windows Server (R) 2008 Standard", 6003),
        exchange: None,
        dotnet: None,
        kbs: &[],
    },
    Case {
        name: "ex2019-cu14-net48-w2022",
        windows: ("Windows Server 2022 Standard", 20348),
        exchange: Some([15, 2, 1544, 4]),
        dotnet: Some(528040),
        kbs: &[],
    },
    Case {
        name: "ex2019-cu14-net481-w2022",
        windows: ("Windows Server 2022 Standard", 20348),
        exchange: Some([15, 2, 1544, 4]),
        dotnet: Some(533320),
        kbs: &[],
    },
    Case {
        name: "ex2019-cu14-net48-w2019",
        windows: ("Windows Server 2019 Standard", 17763),
        exchange: Some([15, 2, 1544, 4]),
        dotnet: Some(528040),
        kbs: &[],
    },
    Case {
        name: "no-exchange-w2019",
        windows: ("Windows Server 2019 Standard", 17763),
        exchange: None,
        dotnet: Some(528040),
        kbs: &[],
    },
];

fn case_software(c: &Case) -> Vec<u8> {
    let cv: &[&str] = &["Microsoft", "Windows NT", "CurrentVersion"];
    let mut values: Vec<(&[&str], &str, Value)> = vec![
        (cv, "ProductName", Value::string(c.windows.0)),
        (
            cv,
            "CurrentBuildNumber",
            Value::string(&c.windows.1.to_string()),
        ),
        (cv, "CurrentBuild", Value::string(&c.windows.1.to_string())),
        (cv, "InstallationType", Value::string("Server")),
    ];
    if c.windows.1 < 7600 {
        values.push((cv, "CSDVersion", Value::string("Service Pack 2")));
    }
    if let Some(b) = c.exchange {
        values.extend(exchange(b));
    }
    if let Some(r) = c.dotnet {
        values.push((
            &tlsreg::registry::product::DOTNET_KEY,
            "Release",
            Value::dword(r),
        ));
    }
    let mut packages: Vec<String> =
        vec!["Package_for_RollupFix~31bf3856ad364e35~amd64~~1.0.0.0".into()];
    packages.extend(
        c.kbs
            .iter()
            .map(|kb| format!("Package_for_{kb}~31bf3856ad364e35~amd64~~6.3.1.0")),
    );
    let packages: Vec<&str> = packages.iter().map(String::as_str).collect();
    software_hive(&values, &packages)
}

#[test]
fn sample_config_folders_audited_through_system_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut json = Vec::new();
    let mut cases: Vec<(String, &str)> = Vec::new();
    for c in CASES {
        config(&tmp.path().join("prereq").join(c.name), &case_software(c));
        cases.push((format!("prereq/{}/SYSTEM", c.name), "article"));
    }
    // The thresholds that hold under the exchange policy only.
    for name in ["ex2016-cu8", "ex2016-cu9", "ex2013-cu19", "ex2013-cu20"] {
        cases.push((format!("prereq/{name}/SYSTEM"), "exchange"));
    }
    // No SOFTWARE beside SYSTEM: not evaluated, never passed.
    let bare = tmp.path().join("prereq/no-software");
    config(&bare, b"");
    std::fs::remove_file(bare.join("SOFTWARE")).unwrap();
    cases.push(("prereq/no-software/SYSTEM".into(), "article"));
    for (path, policy) in &cases {
        let path = common::native(path);
        let run = common::tlsreg_in(tmp.path(), &["audit", "--policy", policy, &path]);
        text.push_str(&format!(
            "$ tlsreg audit --policy {policy} {}  (exit {})\n",
            common::slashed(&path),
            run.code
        ));
        let out = run.out();
        // The OS, products and prerequisites, their findings, and the verdict:
        // the SCHANNEL part is the same compliant hive throughout.
        for line in out.lines().filter(|l| {
            [
                "  OS ",
                "  Exchange ",
                "  .NET ",
                "  updates ",
                "COMPLIANT",
                "NONCOMPLIANT",
            ]
            .iter()
            .any(|p| l.starts_with(p))
                || l.contains("[prerequisite-")
        }) {
            text.push_str(&common::slashed(line));
            text.push('\n');
        }
        text.push('\n');
        let run = common::tlsreg_in(
            tmp.path(),
            &["audit", "--format", "json", "--policy", policy, &path],
        );
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let i = &doc["inputs"][0];
        json.push(serde_json::json!({
            "path": common::slashed(i["path"].as_str().unwrap()),
            "policy": policy,
            "verdict": i["verdict"],
            "os": i["os"],
            "exchange": i["exchange"],
            "dotnet": i["dotnet"],
            "prerequisites": i["prerequisites"],
        }));
    }
    snapshot!("prerequisites-samples-text", text);
    snapshot!(
        "prerequisites-samples-json",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[test]
fn fix_writes_the_registry_part_and_names_the_updates_it_cannot_install() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    config(&dir, &case_software(&CASES[0]));
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/hives/not-set.hiv"),
        dir.join("SYSTEM"),
    )
    .unwrap();
    let system = common::native("old/SYSTEM");
    let run = common::tlsreg_in(tmp.path(), &["fix", "--encoding", "utf8", &system]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("this fix cannot install Exchange 2016 CU8 (15.1.1415.2) or later"),
        "{}",
        run.stderr
    );
    let text = run.text();
    let lines: Vec<&str> = text.lines().take(4).collect();
    assert_eq!(
        lines,
        [
            "Windows Registry Editor Version 5.00",
            "; This file cannot install these updates, which TLS 1.2 also needs:",
            ";   Exchange 2016 CU8 (15.1.1415.2) or later",
            "",
        ]
    );
    assert!(text.contains("\"Enabled\"=dword:00000001"), "{text}");
}

// Must show 3: an image whose SOFTWARE holds Exchange 2016 CU7.

/// The SOFTWARE hive of `tests/prerequisites/exchange-cu7.raw`: Windows Server
/// 2016 with Exchange 2016 CU7 and .NET 4.7.1.
#[test]
fn committed_exchange_cu7_software_hive_is_what_the_writer_makes() {
    let bytes = case_software(&CASES[0]);
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prerequisites/SOFTWARE-ex2016cu7.hiv");
    if std::env::var_os("TLSREG_WRITE_SAMPLES").is_some_and(|v| v == "1") {
        std::fs::write(&path, &bytes).unwrap();
        return;
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == bytes,
        "{} is not what the writer makes now; if intended, rerun with \
         TLSREG_WRITE_SAMPLES=1 cargo test --test prerequisites, then samples/images/make.sh",
        path.display()
    );
}

#[test]
fn an_image_whose_software_holds_exchange_2016_cu7_is_noncompliant() {
    let (code, doc) = audit_json(&[
        "audit",
        "--format",
        "json",
        "tests/prerequisites/exchange-cu7.raw",
    ]);
    assert_eq!(code, 1, "{doc}");
    let input = &doc["inputs"][0];
    assert_eq!(input["kind"], "image");
    assert_eq!(input["verdict"], "noncompliant");
    assert_eq!(input["exchange"]["cu"], "Exchange 2016 CU7");
    let codes: Vec<&str> = common::findings(&doc)
        .iter()
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["prerequisite-exchange"], "{doc}");
    // The text says why on its verdict line (no SCHANNEL check fails), in
    // the summary too, and does not send the reader to `fix`, which would
    // write nothing; a merged shard says the same.
    let image = "tests/prerequisites/exchange-cu7.raw";
    let text = common::tlsreg(&["audit", image]).out();
    assert!(
        text.contains(&format!(
            "NONCOMPLIANT  {image} [the whole disk (no partition table)] (an update is missing)"
        )),
        "{text}"
    );
    assert!(
        text.contains("Next: install the updates the findings name"),
        "{text}"
    );
    assert!(!text.contains("Next: tlsreg fix"), "{text}");
    let summary = common::tlsreg(&["audit", "--summary", image]).out();
    assert!(
        summary.contains(": Exchange 2016 CU7 (15.1.1261."),
        "{summary}"
    );
    let dir = tempfile::tempdir().unwrap();
    let shard = dir.path().join("shard.jsonl");
    std::fs::write(
        &shard,
        common::tlsreg(&["audit", "--format", "jsonl", image]).stdout,
    )
    .unwrap();
    let merged = common::tlsreg(&["merge", shard.to_str().unwrap()]).out();
    assert!(merged.contains("(an update is missing)"), "{merged}");
}

/// A `.reg` export that holds SOFTWARE's keys is audited on them as a hive
/// is: Exchange's build is read (not "none installed"), and the servicing
/// packages the rules name are kept while the others are passed over.
#[test]
fn a_reg_export_with_exchange_and_packages_is_checked_as_a_hive_is() {
    let schannel = "\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Client]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server]\r\n\"DisabledByDefault\"=dword:00000000\r\n\"Enabled\"=dword:00000001\r\n";
    let exchange = |major: u32, minor: u32, build: u32, rev: u32| {
        format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup]\r\n\"MsiProductMajor\"=dword:{major:08x}\r\n\"MsiProductMinor\"=dword:{minor:08x}\r\n\"MsiBuildMajor\"=dword:{build:08x}\r\n\"MsiBuildMinor\"=dword:{rev:08x}\r\n"
        )
    };
    let windows = |build: &str| {
        format!(
            "\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\r\n\"ProductName\"=\"Windows Server\"\r\n\"CurrentBuildNumber\"=\"{build}\"\r\n\"InstallationType\"=\"Server\"\r\n"
        )
    };
    // As regedit exports them: the Packages key's own line, then each package.
    let packages = |names: &[&str]| {
        let key = "\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages]\r\n";
        key.to_owned()
            + &names
            .iter()
            .map(|n| format!("\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages\\{n}]\r\n\"CurrentState\"=dword:00000070\r\n"))
            .collect::<String>()
    };
    let dir = tempfile::tempdir().unwrap();
    let none: &[&str] = &[];
    let cases = [
        (
            "ex2016-cu7.reg",
            windows("14393") + &exchange(15, 1, 1261, 35),
            1,
            &["prerequisite-exchange"][..],
        ),
        (
            "ex2016-cu23.reg",
            windows("14393") + &exchange(15, 1, 2507, 6),
            0,
            none,
        ),
        (
            "w2012r2-kbs.reg",
            windows("9600")
                + &exchange(15, 1, 2507, 6)
                + &packages(&[
                    "Package_for_KB3161949~31bf3856ad364e35~amd64~~6.3.1.0",
                    "Package_for_KB2973337~31bf3856ad364e35~amd64~~6.3.1.0",
                    "Package_for_KB9999999~31bf3856ad364e35~amd64~~6.3.1.0",
                ]),
            0,
            none,
        ),
        (
            "w2012r2-no-kbs.reg",
            windows("9600")
                + &exchange(15, 1, 2507, 6)
                + &packages(&["Package_for_KB9999999~31bf3856ad364e35~amd64~~6.3.1.0"]),
            1,
            // One finding per missing KB.
            &["prerequisite-os", "prerequisite-os"][..],
        ),
    ];
    for (name, software, want, code) in cases {
        let text = format!("Windows Registry Editor Version 5.00\r\n{software}{schannel}");
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (got, doc) = audit_json(&["audit", "--format", "json", path.to_str().unwrap()]);
        assert_eq!(got, want, "{name}: {doc:#}");
        assert_ne!(
            doc["inputs"][0]["exchange"],
            serde_json::Value::Null,
            "{name}: {doc:#}"
        );
        let errors: Vec<&str> = common::findings(&doc)
            .iter()
            .filter(|f| f["severity"] == "error")
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert_eq!(errors, code, "{name}: {doc:#}");
    }
}
