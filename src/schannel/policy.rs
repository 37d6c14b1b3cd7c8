//! The required state: a list of rules about keys and values, each relative
//! to where it lives (the control set, the SOFTWARE hive, or an absolute
//! path). Where rules come from (a `.reg` file) is not this module's concern.

use crate::registry::Value;

/// Path of the SCHANNEL protocols key below a control set.
pub const PROTOCOLS: [&str; 4] = ["Control", "SecurityProviders", "SCHANNEL", "Protocols"];

/// Where a rule's key path starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Below `HKLM\SYSTEM\CurrentControlSet` (the control set the audit reads).
    ControlSet,
    /// Below `HKLM\SOFTWARE` (the SOFTWARE hive).
    Software,
    /// A full path from the root (`HKEY_CURRENT_USER\...`).
    Absolute,
}

/// How a found value is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The value must equal the expected one.
    Equals,
    /// SCHANNEL reads the DWORD as a boolean: any non-zero value enables. A
    /// value other than the expected one is compliant but non-canonical.
    NonZero,
    /// The value must not exist (`"name"=-`).
    ValueAbsent,
    /// The key must not exist (`[-key]`).
    KeyAbsent,
}

/// A rule that applies only from an OS build on (TLS 1.3 from 20348).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub min_build: u32,
    /// As the policy states it.
    pub text: String,
}

/// One rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub scope: Scope,
    /// Key path below the scope's root.
    pub key: Vec<String>,
    /// The value name (empty for the default value, and for `KeyAbsent`).
    pub value: String,
    /// The required value (unused for the absent rules).
    pub expected: Value,
    pub rule: Rule,
    /// The baseline's check identifier (`V-218821`, `CIS IIS 10 7.6`).
    pub check: Option<String>,
    pub when: Option<Condition>,
}

impl Requirement {
    /// `TLS 1.2\Client\Enabled`: the last two key parts and the value.
    pub fn short_name(&self) -> String {
        let tail = &self.key[self.key.len().saturating_sub(2)..];
        match self.rule {
            Rule::KeyAbsent => tail.join("\\"),
            _ => format!("{}\\{}", tail.join("\\"), self.value),
        }
    }

    /// What the rule requires, in regedit's notation.
    pub fn expected_text(&self) -> String {
        match self.rule {
            Rule::Equals | Rule::NonZero => self.expected.to_string(),
            Rule::ValueAbsent => "absent".into(),
            Rule::KeyAbsent => "key absent".into(),
        }
    }
}

/// A named set of rules.
#[derive(Clone, Debug)]
pub struct Policy {
    pub name: String,
    pub title: String,
    /// Who requires it, for messages: "the article", "the STIG", "your policy".
    pub authority: String,
    pub requirements: Vec<Requirement>,
    /// Every key the policy names, in its order (parents such as
    /// `[...\TLS 1.2]` included), for laying out fixes and diffs.
    pub keys: Vec<(Scope, Vec<String>)>,
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
        let mut keys = vec![(Scope::ControlSet, protocol_key("TLS 1.2", "")[..5].to_vec())];
        for side in ["Client", "Server"] {
            keys.push((Scope::ControlSet, protocol_key("TLS 1.2", side)));
            for (value, n, rule) in [
                ("DisabledByDefault", 0, Rule::Equals),
                ("Enabled", 1, Rule::NonZero),
            ] {
                requirements.push(Requirement {
                    scope: Scope::ControlSet,
                    key: protocol_key("TLS 1.2", side),
                    value: value.into(),
                    expected: Value::dword(n),
                    rule,
                    check: None,
                    when: None,
                });
            }
        }
        Policy {
            name: "article".into(),
            title: "TLS 1.2 explicitly enabled for Client and Server (Microsoft's Exchange Online / Office 365 article)"
                .into(),
            authority: "the article".into(),
            requirements,
            keys,
        }
    }

    /// The keys below the control set that the policy names, in order.
    pub fn control_set_keys(&self) -> impl Iterator<Item = &Vec<String>> {
        self.keys
            .iter()
            .filter(|(s, _)| *s == Scope::ControlSet)
            .map(|(_, k)| k)
    }

    /// Whether any rule needs the SOFTWARE hive.
    pub fn needs_software(&self) -> bool {
        self.requirements.iter().any(|r| r.scope == Scope::Software)
    }
}
