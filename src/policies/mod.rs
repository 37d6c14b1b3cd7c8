//! Policies are `.reg` files: every value in one is required, every `"name"=-`
//! and `[-key]` must be absent. The built-in ones are the files in this
//! folder, embedded in the binary, so a user can print one
//! (`tlsreg template --policy exchange`), edit it and pass it back.
//!
//! Comments carry what a `.reg` line cannot: `; check: V-218821` names the
//! baseline's check for the values that follow it in that key,
//! `; when: build >= 20348 ...` limits them to an OS build, and
//! `; tlsreg: compare=exact` makes `Enabled` compare with 1 exactly instead of
//! as the boolean SCHANNEL reads.

use std::path::Path;

use encoding_rs::Encoding;

use crate::regfile::{self, Export, Op, ReadError};
use crate::registry::control_set::{HKLM, LIVE_LINK, set_number};
use crate::registry::name;
use crate::registry::value::REG_DWORD;
use crate::schannel::{Condition, Policy, Requirement, Rule, Scope};

/// A policy that ships with tlsreg.
pub struct Builtin {
    pub name: &'static str,
    pub title: &'static str,
    pub authority: &'static str,
    pub text: &'static str,
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "article",
        title: "TLS 1.2 explicitly enabled for Client and Server (Microsoft's Exchange Online / Office 365 article)",
        authority: "the article",
        text: include_str!("article.reg"),
    },
    Builtin {
        name: "exchange",
        title: "Exchange Server TLS configuration best practices: TLS 1.2 only, .NET strong crypto and OS TLS versions",
        authority: "Exchange's TLS best practices",
        text: include_str!("exchange.reg"),
    },
    Builtin {
        name: "tls12-only",
        title: "TLS 1.2 (and TLS 1.3 where the OS has it) only; every older protocol off",
        authority: "the tls12-only policy",
        text: include_str!("tls12-only.reg"),
    },
    Builtin {
        name: "stig-iis10",
        title: "DISA IIS 10.0 Server STIG V-218821 (IIST-SV-000153): TLS 1.2 only on the Server side",
        authority: "the STIG",
        text: include_str!("stig-iis10.reg"),
    },
    Builtin {
        name: "cis-iis10",
        title: "CIS Microsoft IIS 10 Benchmark section 7 (7.2-7.11): protocols and ciphers",
        authority: "the CIS benchmark",
        text: include_str!("cis-iis10.reg"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("`{0}` is neither a built-in policy ({names}) nor a .reg file", names = builtin_names())]
    Unknown(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Reg { path: String, source: ReadError },
    #[error("{path}: the policy requires nothing (no value, no deletion)")]
    Empty { path: String },
    #[error("{path}:{line}: `; when:` must read `build >= N`, e.g. `; when: build >= 20348`")]
    When { path: String, line: u32 },
}

pub fn builtin_names() -> String {
    BUILTINS
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name.eq_ignore_ascii_case(name))
}

/// A loaded policy, and what its file's reader noticed (lines regedit
/// would skip), as `file:line: message`.
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<String>,
}

/// Loads a built-in policy by name, or a `.reg` file by path.
pub fn load(spec: &str, codepage: Option<&'static Encoding>) -> Result<Loaded, PolicyError> {
    if let Some(b) = builtin(spec) {
        return from_bytes(
            b.text.as_bytes(),
            b.name,
            b.name,
            b.title,
            b.authority,
            None,
        );
    }
    if !Path::new(spec).is_file() {
        return Err(PolicyError::Unknown(spec.to_owned()));
    }
    // A policy is a short .reg file; a cap keeps `--policy /dev/zero`-like
    // mistakes from growing without bound.
    let bytes = crate::fsio::open(Path::new(spec))
        .and_then(|(mut f, _)| crate::fsio::read_capped(&mut f, 16 << 20, "the policy file"))
        .map_err(|source| PolicyError::Io {
            path: spec.to_owned(),
            source,
        })?;
    let stem = Path::new(spec)
        .file_stem()
        .map_or(spec.to_owned(), |s| s.to_string_lossy().into_owned());
    let title = format!("the required state in {spec}");
    from_bytes(&bytes, spec, &stem, &title, "your policy", codepage)
}

/// The `.reg` file of a built-in policy, as regedit writes files.
pub fn template(name: &str) -> Option<Export> {
    builtin(name).map(|b| Export::from_text(b.text))
}

/// The check and the condition in force at one line.
type LineDirectives = (Option<String>, Option<Condition>);

/// Per line: the check and the condition that comments above it set.
fn directives(text: &str, path: &str) -> Result<(Vec<LineDirectives>, bool), PolicyError> {
    let mut out = Vec::new();
    let (mut check, mut when, mut exact) = (None, None, false);
    for (i, line) in text.split(['\n']).enumerate() {
        let t = line.trim().trim_end_matches('\r');
        if t.starts_with('[') {
            (check, when) = (None, None);
        } else if let Some(c) = t.strip_prefix(';') {
            let c = c.trim();
            if let Some(id) = c.strip_prefix("check:") {
                check = Some(id.trim().to_owned());
            } else if let Some(w) = c.strip_prefix("when:") {
                let w = w.trim();
                let min_build = w
                    .strip_prefix("build")
                    .map(str::trim_start)
                    .and_then(|r| r.strip_prefix(">="))
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
                    .ok_or(PolicyError::When {
                        path: path.to_owned(),
                        line: i as u32 + 1,
                    })?;
                when = Some(Condition {
                    min_build,
                    text: w.to_owned(),
                });
            } else if c
                .replace(' ', "")
                .eq_ignore_ascii_case("tlsreg:compare=exact")
            {
                exact = true;
            }
        }
        out.push((check.clone(), when.clone()));
    }
    Ok((out, exact))
}

/// The scope a full key path belongs to, and the path below it.
fn scope_of(path: &[String]) -> (Scope, Vec<String>) {
    let is = |i: usize, s: &str| path.get(i).is_some_and(|p| name::eq(p, s));
    if is(0, HKLM)
        && is(1, "SYSTEM")
        && path
            .get(2)
            .is_some_and(|p| name::eq(p, LIVE_LINK) || set_number(p).is_some())
    {
        return (Scope::ControlSet, path[3..].to_vec());
    }
    if is(0, HKLM) && is(1, "SOFTWARE") {
        return (Scope::Software, path[2..].to_vec());
    }
    (Scope::Absolute, path.to_vec())
}

fn from_bytes(
    bytes: &[u8],
    path: &str,
    name: &str,
    title: &str,
    authority: &str,
    codepage: Option<&'static Encoding>,
) -> Result<Loaded, PolicyError> {
    let file = regfile::read(bytes, 0, codepage).map_err(|source| PolicyError::Reg {
        path: path.to_owned(),
        source,
    })?;
    let text = regfile::decode_text(bytes, codepage).map_err(|source| PolicyError::Reg {
        path: path.to_owned(),
        source,
    })?;
    let (per_line, exact) = directives(&text, path)?;
    let warnings = file
        .diagnostics()
        .iter()
        .filter(|d| d.severity >= crate::registry::Severity::Warning)
        .map(|d| match d.origin {
            Some(o) => format!("{path}:{}:{}: {}", o.line, o.column, d.message),
            None => format!("{path}: {}", d.message),
        })
        .collect();
    let mut requirements = Vec::new();
    let mut keys: Vec<(Scope, Vec<String>)> = Vec::new();
    let mut add_key = |scope: Scope, key: &[String]| {
        if !keys.iter().any(|(s, k)| {
            *s == scope && k.len() == key.len() && k.iter().zip(key).all(|(a, b)| name::eq(a, b))
        }) {
            keys.push((scope, key.to_vec()));
        }
    };
    for op in file.ops() {
        let (scope, key) = scope_of(op.key());
        let line = |at: &crate::registry::Origin| {
            per_line
                .get(at.line as usize - 1)
                .cloned()
                .unwrap_or_default()
        };
        let (requirement, at) = match op {
            Op::CreateKey { .. } => {
                add_key(scope, &key);
                continue;
            }
            Op::Skipped { .. } => continue,
            Op::SetValue {
                name: value,
                value: v,
                at,
                ..
            } => {
                let schannel = key.iter().any(|p| name::eq(p, "SCHANNEL"));
                let boolean = !exact
                    && schannel
                    && name::eq(value, "Enabled")
                    && v.kind == REG_DWORD
                    && v.as_dword().is_some_and(|n| n != 0);
                let rule = if boolean { Rule::NonZero } else { Rule::Equals };
                ((value.clone(), v.clone(), rule), at)
            }
            Op::DeleteValue {
                name: value, at, ..
            } => (
                (
                    value.clone(),
                    crate::registry::Value::new(0, Vec::new()),
                    Rule::ValueAbsent,
                ),
                at,
            ),
            Op::DeleteKey { at, .. } => (
                (
                    String::new(),
                    crate::registry::Value::new(0, Vec::new()),
                    Rule::KeyAbsent,
                ),
                at,
            ),
        };
        add_key(scope, &key);
        let (check, when) = line(at);
        let (value, expected, rule) = requirement;
        // A later line about the same value replaces an earlier one, as an import would.
        requirements.retain(|r: &Requirement| {
            !(r.scope == scope
                && r.key == key
                && name::eq(&r.value, &value)
                && r.rule != Rule::KeyAbsent)
        });
        requirements.push(Requirement {
            scope,
            key,
            value,
            expected,
            rule,
            check,
            when,
        });
    }
    if requirements.is_empty() {
        return Err(PolicyError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Loaded {
        policy: Policy {
            name: name.to_owned(),
            title: title.to_owned(),
            authority: authority.to_owned(),
            requirements,
            keys,
        },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_and_the_article_matches_the_code() {
        for b in BUILTINS {
            let l = load(b.name, None).unwrap_or_else(|e| panic!("{}: {e}", b.name));
            assert!(l.warnings.is_empty(), "{}: {:?}", b.name, l.warnings);
            assert!(!l.policy.requirements.is_empty());
        }
        let from_file = load("article", None).unwrap().policy;
        let built = Policy::article();
        assert_eq!(from_file.requirements, built.requirements);
        assert_eq!(from_file.keys, built.keys);
    }

    #[test]
    fn comments_carry_checks_conditions_and_exactness() {
        let stig = load("stig-iis10", None).unwrap().policy;
        assert!(stig.requirements.iter().all(|r| {
            r.check
                .as_deref()
                .is_some_and(|c| c.starts_with("V-218821"))
        }));
        assert!(stig.requirements.iter().all(|r| r.rule == Rule::Equals));
        let t12 = load("tls12-only", None).unwrap().policy;
        let tls13: Vec<_> = t12
            .requirements
            .iter()
            .filter(|r| r.key.iter().any(|k| k == "TLS 1.3"))
            .collect();
        assert_eq!(tls13.len(), 4);
        assert!(
            tls13
                .iter()
                .all(|r| r.when.as_ref().is_some_and(|w| w.min_build == 20348))
        );
        let ex = load("exchange", None).unwrap().policy;
        assert!(ex.needs_software());
    }

    #[test]
    fn unknown_names_list_the_builtins() {
        let e = load("no-such-policy", None).err().unwrap().to_string();
        assert!(
            e.contains("article, exchange, tls12-only, stig-iis10, cis-iis10"),
            "{e}"
        );
    }
}
