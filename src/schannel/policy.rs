//! The required state: what must be in the registry, relative to the control
//! set (`HKLM\SYSTEM\CurrentControlSet`).

use crate::registry::Value;

/// Path of the SCHANNEL protocols key below a control set.
pub const PROTOCOLS: [&str; 4] = ["Control", "SecurityProviders", "SCHANNEL", "Protocols"];

/// How a found value is judged against the expected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The DWORD must equal the expected number.
    Equals,
    /// SCHANNEL reads the DWORD as a boolean: any non-zero value enables. A
    /// value other than the expected one is compliant but non-canonical.
    NonZero,
}

/// One value the policy requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// Key path below the control set.
    pub key: Vec<String>,
    pub value: String,
    pub expected: Value,
    pub rule: Rule,
}

/// A named set of requirements.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: &'static str,
    pub title: &'static str,
    pub requirements: Vec<Requirement>,
}

fn protocol_key(protocol: &str, side: &str) -> Vec<String> {
    PROTOCOLS
        .iter()
        .copied()
        .chain([protocol, side])
        .map(str::to_owned)
        .collect()
}

impl Policy {
    /// Microsoft's article "Can't send or receive email when using TLS 1.1 or
    /// TLS 1.0": TLS 1.2 Client and Server, `DisabledByDefault` = 0 and
    /// `Enabled` = 1, both REG_DWORD, in that order.
    pub fn article() -> Policy {
        let mut requirements = Vec::new();
        for side in ["Client", "Server"] {
            requirements.push(Requirement {
                key: protocol_key("TLS 1.2", side),
                value: "DisabledByDefault".into(),
                expected: Value::dword(0),
                rule: Rule::Equals,
            });
            requirements.push(Requirement {
                key: protocol_key("TLS 1.2", side),
                value: "Enabled".into(),
                expected: Value::dword(1),
                rule: Rule::NonZero,
            });
        }
        Policy {
            name: "article",
            title: "TLS 1.2 explicitly enabled for Client and Server (Microsoft's Exchange Online / Office 365 article)",
            requirements,
        }
    }

    /// The distinct keys the policy touches, in order, each with its parents
    /// below `Protocols` (the article shows `[...\TLS 1.2]` before its subkeys).
    pub fn keys(&self) -> Vec<Vec<String>> {
        let mut keys: Vec<Vec<String>> = Vec::new();
        for r in &self.requirements {
            for depth in PROTOCOLS.len() + 1..=r.key.len() {
                let k = r.key[..depth].to_vec();
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }
}
