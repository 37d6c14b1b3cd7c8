//! The Windows version, from `SOFTWARE\Microsoft\Windows NT\CurrentVersion`.

use super::Key;
use super::control_set::HKLM;

const CURRENT_VERSION: [&str; 5] = [
    HKLM,
    "SOFTWARE",
    "Microsoft",
    "Windows NT",
    "CurrentVersion",
];

/// What the SOFTWARE hive says about the OS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsInfo {
    pub product_name: Option<String>,
    /// `CurrentBuildNumber` (17763 is Windows Server 2019 / Windows 10 1809).
    pub build: Option<u32>,
    /// `UBR`: the update revision (17763.6893).
    pub ubr: Option<u32>,
    /// `DisplayVersion` (22H2), or `ReleaseId` on older builds.
    pub display_version: Option<String>,
    /// `Server`, `Server Core`, `Client`.
    pub installation_type: Option<String>,
    pub edition_id: Option<String>,
}

impl OsInfo {
    /// Reads the OS version from the view, when it holds the SOFTWARE hive.
    pub fn read(root: &Key) -> Option<OsInfo> {
        let key = root.find(&CURRENT_VERSION)?;
        let text = |name: &str| {
            key.value(name)
                .and_then(|e| e.value.as_str())
                .filter(|s| !s.is_empty())
        };
        let info = OsInfo {
            product_name: text("ProductName"),
            build: text("CurrentBuildNumber")
                .or_else(|| text("CurrentBuild"))
                .and_then(|s| s.trim().parse().ok()),
            ubr: key.value("UBR").and_then(|e| e.value.as_dword()),
            display_version: text("DisplayVersion").or_else(|| text("ReleaseId")),
            installation_type: text("InstallationType"),
            edition_id: text("EditionID"),
        };
        (info != OsInfo::default()).then_some(info)
    }

    /// `Windows Server 2019 Standard, build 17763.6893 (Server)`.
    pub fn describe(&self) -> String {
        let mut s = self
            .product_name
            .clone()
            .unwrap_or_else(|| "Windows".into());
        if let Some(b) = self.build {
            s.push_str(&format!(", build {b}"));
            if let Some(u) = self.ubr {
                s.push_str(&format!(".{u}"));
            }
        }
        if let Some(v) = &self.display_version {
            s.push_str(&format!(", version {v}"));
        }
        if let Some(t) = &self.installation_type {
            s.push_str(&format!(" ({t})"));
        }
        s
    }
}

/// The key holding the OS version, below the SOFTWARE hive's root.
pub const CURRENT_VERSION_KEY: [&str; 3] = ["Microsoft", "Windows NT", "CurrentVersion"];
