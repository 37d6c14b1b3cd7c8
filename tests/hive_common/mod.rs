//! Reading a hive back with nt-hive, an independent reader, for the hive
//! writer's tests.
#![allow(dead_code)]

use nt_hive::{Hive, KeyNode, NtHiveError, NtHiveNameString};
use tlsreg::registry::{Key, Value};

/// Every key and value of `bytes`, read with nt-hive after `Hive::new` has
/// validated the base block. Each subkey found by iteration must also be
/// found by `subkey()`, nt-hive's binary search, under its own name and with
/// its ASCII letters' case flipped, which only works if the writer sorted
/// the lists as Windows does; and iteration must yield names in strictly
/// increasing order by nt-hive's own case-insensitive comparison.
pub fn read_tree(bytes: &[u8]) -> Key {
    let hive = Hive::new(bytes).expect("Hive::new accepts the hive");
    assert_eq!((hive.major_version(), hive.minor_version()), (1, 5));
    let root = hive.root_key_node().expect("root key node");
    let mut tree = Key::new(name_of(&root));
    let mut stack: Vec<(KeyNode<&[u8]>, Vec<String>)> = vec![(root, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        let key = tree.create(&path, None);
        if let Some(values) = node.values() {
            for value in values.expect("values list") {
                let value = value.expect("value");
                let name = value
                    .name()
                    .expect("value name")
                    .to_string_checked()
                    .expect("value name decodes");
                // data_type() refuses numbers outside 0..=11; its error
                // still carries the raw number.
                let kind = match value.data_type() {
                    Ok(t) => t as u32,
                    Err(NtHiveError::UnsupportedKeyValueDataType { actual, .. }) => actual,
                    Err(e) => panic!("data type of {name}: {e}"),
                };
                let data = value
                    .data()
                    .expect("value data")
                    .into_vec()
                    .expect("data reads");
                assert_eq!(data.len(), value.data_size() as usize);
                key.set_value(&name, Value::new(kind, data), None);
            }
        }
        let Some(subkeys) = node.subkeys() else {
            continue;
        };
        let children: Vec<KeyNode<&[u8]>> = subkeys
            .expect("subkey list")
            .map(|k| k.expect("subkey"))
            .collect();
        let names: Vec<NtHiveNameString> = children.iter().map(|c| c.name().unwrap()).collect();
        for pair in names.windows(2) {
            assert!(
                pair[0] < pair[1],
                "subkeys of {path:?} out of order: {:?} then {:?}",
                pair[0].to_string_lossy(),
                pair[1].to_string_lossy()
            );
        }
        for child in children.into_iter().rev() {
            let name = name_of(&child);
            for probe in [name.clone(), flip_ascii_case(&name)] {
                assert!(
                    node.subkey(&probe).is_some_and(|k| k.is_ok()),
                    "subkey({probe:?}) under {path:?} not found by binary search"
                );
            }
            let mut p = path.clone();
            p.push(name);
            stack.push((child, p));
        }
    }
    tree
}

pub fn name_of(node: &KeyNode<&[u8]>) -> String {
    node.name()
        .expect("key name")
        .to_string_checked()
        .expect("key name decodes")
}

pub fn flip_ascii_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Asserts that two trees hold the same keys (with the same spelling), and
/// the same values in the same order.
pub fn assert_same_tree(expected: &Key, actual: &Key) {
    assert_eq!(expected.name(), actual.name(), "root name");
    let want = expected.walk();
    let got = actual.walk();
    assert_eq!(want.len(), got.len(), "number of keys");
    for ((wpath, wkey), (gpath, gkey)) in want.iter().zip(&got) {
        assert_eq!(wpath, gpath, "key path");
        assert_eq!(wkey.name(), gkey.name(), "key name at {wpath:?}");
        let wvals: Vec<_> = wkey.values().iter().map(|e| (&e.name, &e.value)).collect();
        let gvals: Vec<_> = gkey.values().iter().map(|e| (&e.name, &e.value)).collect();
        assert_eq!(wvals, gvals, "values of {wpath:?}");
    }
}
