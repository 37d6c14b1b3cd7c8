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
