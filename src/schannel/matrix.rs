//! Every protocol SCHANNEL knows, on each side: the values found and what
//! they add up to, with the OS default where the values are absent.

use crate::registry::name;
use crate::registry::{Entry, Key, OsInfo};

use super::defaults::{self, PROTOCOLS};
use super::policy::PROTOCOLS as PROTOCOLS_KEY;

/// What a protocol side amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effective {
    Enabled,
    /// Enabled, but left out of what Windows offers unless an application
    /// asks for it (`DisabledByDefault` non-zero).
    EnabledNotByDefault,
    Disabled,
    /// No usable `Enabled` value: the OS default, when it is known.
    OsDefault(Option<defaults::OsDefault>),
    /// No usable `Enabled` value, and no way to tell the default: the OS is
    /// unknown (`false`) or the table has no data for it (`true`).
    Unknown {
        os_known: bool,
    },
}

impl Effective {
    pub fn describe(&self) -> String {
        match self {
            Effective::Enabled => "enabled".into(),
            Effective::EnabledNotByDefault => "enabled, not by default".into(),
            Effective::Disabled => "disabled".into(),
            Effective::OsDefault(Some(d)) => format!("OS default: {}", d.as_str()),
            Effective::OsDefault(None) | Effective::Unknown { os_known: false } => {
                "OS default (OS unknown)".into()
            }
            Effective::Unknown { os_known: true } => "OS default (no data)".into(),
        }
    }

    fn on(&self) -> Option<bool> {
        match self {
            Effective::Enabled | Effective::EnabledNotByDefault => Some(true),
            Effective::Disabled => Some(false),
            Effective::OsDefault(Some(defaults::OsDefault::Enabled)) => Some(true),
            Effective::OsDefault(Some(_)) => Some(false),
            Effective::OsDefault(None) | Effective::Unknown { .. } => None,
        }
    }

    fn explicit(&self) -> bool {
        matches!(
            self,
            Effective::Enabled | Effective::EnabledNotByDefault | Effective::Disabled
        )
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub protocol: &'static str,
    pub side: &'static str,
    pub enabled: Option<Entry>,
    pub disabled_by_default: Option<Entry>,
    pub effective: Effective,
    /// The default this OS applies when the values are absent.
    pub os_default: Option<defaults::OsDefault>,
}

/// A combination tools such as Exchange HealthChecker flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    pub protocol: &'static str,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Matrix {
    pub rows: Vec<Row>,
    pub flags: Vec<Flag>,
}

fn dword(e: Option<&Entry>) -> Option<u32> {
    e.and_then(|e| e.value.as_dword())
}

/// The matrix of the control set at `base` in `root`.
pub fn matrix(root: &Key, base: &[String], os: Option<&OsInfo>) -> Matrix {
    let build = os.and_then(|o| o.build);
    let mut rows = Vec::new();
    let mut flags = Vec::new();
    let protocols_key: Vec<String> = base
        .iter()
        .cloned()
        .chain(PROTOCOLS_KEY.iter().map(|s| s.to_string()))
        .collect();
    let protocols = root.find(&protocols_key);
    for protocol in PROTOCOLS {
        let mut pair = Vec::new();
        for side in ["Client", "Server"] {
            let key = protocols
                .and_then(|p| p.subkey(protocol))
                .and_then(|k| k.subkey(side));
            let enabled = key.and_then(|k| k.value("Enabled")).cloned();
            let dbd = key.and_then(|k| k.value("DisabledByDefault")).cloned();
            let os_default = build.and_then(|b| defaults::default_for(protocol, side, b));
            let effective = match (dword(enabled.as_ref()), dword(dbd.as_ref())) {
                (Some(0), _) => Effective::Disabled,
                (Some(_), Some(d)) if d != 0 => Effective::EnabledNotByDefault,
                (Some(_), _) => Effective::Enabled,
                (None, _) if os_default.is_some() => Effective::OsDefault(os_default),
                (None, _) => Effective::Unknown {
                    os_known: build.is_some(),
                },
            };
            let (e, d) = (dword(enabled.as_ref()), dword(dbd.as_ref()));
            if e == Some(0) && d == Some(0) {
                flags.push(Flag {
                    protocol,
                    message: format!(
                        "{protocol} {side}: Enabled=0 with DisabledByDefault=0 contradict each other (disabled, yet marked as offered by default); HealthChecker calls this half disabled"
                    ),
                });
            }
            if e.is_some_and(|v| v != 0) && d.is_some_and(|v| v != 0) {
                flags.push(Flag {
                    protocol,
                    message: format!(
                        "{protocol} {side}: Enabled with DisabledByDefault={} is enabled but not offered by default; HealthChecker calls this half disabled",
                        d.unwrap_or_default()
                    ),
                });
            }
            pair.push(effective.clone());
            rows.push(Row {
                protocol,
                side,
                enabled,
                disabled_by_default: dbd,
                effective,
                os_default,
            });
        }
        if let [client, server] = pair.as_slice() {
            // Only settings someone made: OS defaults that differ (SSL 2.0 on
            // Windows 7) are Windows' choice, not a misconfiguration.
            let explicit = client.explicit() || server.explicit();
            if explicit
                && client.on().is_some()
                && server.on().is_some()
                && client.on() != server.on()
            {
                flags.push(Flag {
                    protocol,
                    message: format!(
                        "{protocol}: Client and Server differ (Client {}, Server {}); HealthChecker calls this misconfigured: Exchange is both a client and a server",
                        client.describe(),
                        server.describe()
                    ),
                });
            }
        }
    }
    // A protocol key this table does not know, spelt like none of them.
    if let Some(p) = protocols {
        for k in p.subkeys() {
            if !PROTOCOLS.iter().any(|known| name::eq(known, k.name())) {
                flags.push(Flag {
                    protocol: "",
                    message: format!(
                        "`{}` under Protocols is not a protocol SCHANNEL knows",
                        k.name()
                    ),
                });
            }
        }
    }
    Matrix { rows, flags }
}
