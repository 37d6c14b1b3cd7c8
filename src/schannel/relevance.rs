//! Which keys of an input an audit reads: the rest of a whole-`HKLM` export
//! can be passed over without decoding it.

use std::sync::Arc;

use crate::registry::control_set::{HKLM, LIVE_LINK, set_number};
use crate::registry::{name, product};

use super::nearmiss;
use super::policy::{Policy, Scope};

pub use crate::registry::KeyFilter;

const CURRENT_VERSION: [&str; 3] = ["Microsoft", "Windows NT", "CurrentVersion"];

fn under(path: &[&str], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(a, b)| name::eq(a, b))
}

/// The keys an audit against `policy` needs: the top of each hive (where
/// the SYSTEM hive and its control sets are found), `Select`, everything
/// below a key named like SCHANNEL (the required keys and their near
/// misses, anywhere), the OS version, and the policy's own keys.
pub fn relevant(policy: &Policy) -> KeyFilter {
    let control_set: Vec<Vec<String>> = policy.control_set_keys().cloned().collect();
    let software: Vec<Vec<String>> = policy
        .keys
        .iter()
        .filter(|(s, _)| *s == Scope::Software)
        .map(|(_, k)| k.clone())
        .chain(std::iter::once(
            CURRENT_VERSION.iter().map(|s| s.to_string()).collect(),
        ))
        // Exchange's and .NET's builds, for the prerequisites: without them
        // an export that holds Exchange would read as "none installed".
        .chain(
            product::VALUE_KEYS
                .iter()
                .map(|k| k.iter().map(|s| s.to_string()).collect()),
        )
        .collect();
    let packages: Vec<String> = product::PACKAGES_KEY
        .iter()
        .map(|s| s.to_string())
        .collect();
    let kbs = super::prerequisites::kbs();
    let absolute: Vec<Vec<String>> = policy
        .keys
        .iter()
        .filter(|(s, _)| *s == Scope::Absolute)
        .map(|(_, k)| k.clone())
        .collect();
    Arc::new(move |path: &[&str]| {
        if path.len() <= 3 || path.get(2).is_some_and(|p| name::eq(p, "Select")) {
            return true;
        }
        if path.iter().any(|p| nearmiss::schannel_like(p)) {
            return true;
        }
        let hklm = name::eq(path[0], HKLM);
        if hklm && name::eq(path[1], "SOFTWARE") && software.iter().any(|k| under(&path[2..], k)) {
            return true;
        }
        // The servicing packages the prerequisites name, and no others: a
        // whole SOFTWARE export lists tens of thousands.
        if hklm && name::eq(path[1], "SOFTWARE") && under(&path[2..], &packages) {
            return match path.get(2 + packages.len()) {
                None => true,
                Some(package) => kbs.iter().any(|kb| product::names_kb(package, kb)),
            };
        }
        // Below any control set (or the live link) of any mounted hive.
        let set = hklm && (set_number(path[2]).is_some() || name::eq(path[2], LIVE_LINK));
        if set && control_set.iter().any(|k| under(&path[3..], k)) {
            return true;
        }
        absolute.iter().any(|k| under(path, k))
    })
}
