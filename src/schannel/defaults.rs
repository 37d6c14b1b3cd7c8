//! What Windows does when a protocol's values are absent, by OS build.
//!
//! Source: Microsoft's "Protocols in TLS/SSL (Schannel SSP)" table
//! (shared/research/schannel-anchors.md §3.2). Builds: 6000-6002 Vista/2008,
//! 7600-7601 7/2008 R2, 9200 8/2012, 9600 8.1/2012 R2, 10240 and 10586
//! Windows 10 1507-1511, 14393 1607/2016 and later, 20348 Server 2022 and
//! 22000 Windows 11 and later.

/// The default state of one protocol side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsDefault {
    Enabled,
    Disabled,
    /// The OS does not implement it at all.
    NotSupported,
    /// It was implemented once and has been removed.
    Removed,
}

impl OsDefault {
    pub fn as_str(self) -> &'static str {
        match self {
            OsDefault::Enabled => "enabled",
            OsDefault::Disabled => "disabled",
            OsDefault::NotSupported => "not supported",
            OsDefault::Removed => "removed",
        }
    }
}

/// The protocols SCHANNEL has keys for, in the order tools list them.
pub const PROTOCOLS: [&str; 10] = [
    "PCT 1.0",
    "Multi-Protocol Unified Hello",
    "SSL 2.0",
    "SSL 3.0",
    "TLS 1.0",
    "TLS 1.1",
    "TLS 1.2",
    "TLS 1.3",
    "DTLS 1.0",
    "DTLS 1.2",
];

/// The default for `protocol` on `side` (`Client` or `Server`) of OS build
/// `build`; `None` where the source does not say (Multi-Protocol Unified
/// Hello, builds before Vista).
pub fn default_for(protocol: &str, side: &str, build: u32) -> Option<OsDefault> {
    use OsDefault::*;
    let server = side.eq_ignore_ascii_case("Server");
    if build < 6000 {
        return None;
    }
    let win7 = build < 9200;
    let win10_1607 = build >= 14393;
    Some(match protocol {
        "PCT 1.0" => NotSupported,
        "SSL 2.0" if win10_1607 => Removed,
        "SSL 2.0" if server && build < 9200 => Enabled,
        "SSL 2.0" => Disabled,
        "SSL 3.0" if win10_1607 => Disabled,
        "SSL 3.0" => Enabled,
        "TLS 1.0" => Enabled,
        "TLS 1.1" | "TLS 1.2" if build < 7600 => NotSupported,
        "TLS 1.1" | "TLS 1.2" if win7 => Disabled,
        "TLS 1.1" | "TLS 1.2" => Enabled,
        "TLS 1.3" if build >= 20348 => Enabled,
        "TLS 1.3" => NotSupported,
        "DTLS 1.0" if build < 7600 => NotSupported,
        "DTLS 1.0" => Enabled,
        "DTLS 1.2" if win10_1607 => Enabled,
        "DTLS 1.2" => NotSupported,
        _ => return None,
    })
}

/// The one-line answer to "what happens to TLS 1.2 when its values are
/// absent", for a known build or for any.
pub fn tls12_absent(build: Option<u32>) -> String {
    match build.map(|b| (b, default_for("TLS 1.2", "Client", b))) {
        Some((b, Some(OsDefault::Enabled))) => {
            format!("this OS (build {b}) enables TLS 1.2 by default when these values are absent")
        }
        Some((b, Some(OsDefault::Disabled))) => format!(
            "this OS (build {b}, Windows 7 / Server 2008 R2) leaves TLS 1.2 off when these values are absent: without them, TLS 1.2 mail flow fails"
        ),
        Some((b, Some(d))) => format!("TLS 1.2 is {} on this OS (build {b})", d.as_str()),
        _ => "when these values are absent, Windows 8 / Server 2012 and later enable TLS 1.2 by default, while Windows 7 / Server 2008 R2 leave it off".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert_eq!(
            default_for("TLS 1.2", "Client", 7601),
            Some(OsDefault::Disabled)
        );
        assert_eq!(
            default_for("TLS 1.2", "Server", 9600),
            Some(OsDefault::Enabled)
        );
        assert_eq!(
            default_for("TLS 1.3", "Server", 17763),
            Some(OsDefault::NotSupported)
        );
        assert_eq!(
            default_for("TLS 1.3", "Client", 22631),
            Some(OsDefault::Enabled)
        );
        assert_eq!(
            default_for("SSL 3.0", "Server", 17763),
            Some(OsDefault::Disabled)
        );
        assert_eq!(
            default_for("SSL 2.0", "Server", 7601),
            Some(OsDefault::Enabled)
        );
        assert_eq!(
            default_for("SSL 2.0", "Client", 7601),
            Some(OsDefault::Disabled)
        );
        assert_eq!(
            default_for("SSL 2.0", "Server", 14393),
            Some(OsDefault::Removed)
        );
        assert_eq!(
            default_for("DTLS 1.2", "Server", 9600),
            Some(OsDefault::NotSupported)
        );
        assert_eq!(
            default_for("Multi-Protocol Unified Hello", "Server", 17763),
            None
        );
    }
}
