//! Registry values as the registry stores them: a type number and raw bytes.

use std::borrow::Cow;

pub const REG_NONE: u32 = 0;
pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;
pub const REG_BINARY: u32 = 3;
pub const REG_DWORD: u32 = 4;
pub const REG_DWORD_BIG_ENDIAN: u32 = 5;
pub const REG_LINK: u32 = 6;
pub const REG_MULTI_SZ: u32 = 7;
pub const REG_RESOURCE_LIST: u32 = 8;
pub const REG_FULL_RESOURCE_DESCRIPTOR: u32 = 9;
pub const REG_RESOURCE_REQUIREMENTS_LIST: u32 = 10;
pub const REG_QWORD: u32 = 11;

/// One value's data. The type is any 32-bit number, as in the registry:
/// hives and `.reg` files (`hex(ffffffff):`) both carry types outside 0-11.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    pub kind: u32,
    pub data: Vec<u8>,
}

impl Value {
    pub fn new(kind: u32, data: Vec<u8>) -> Self {
        Value { kind, data }
    }

    pub fn dword(v: u32) -> Self {
        Value::new(REG_DWORD, v.to_le_bytes().to_vec())
    }

    /// A REG_SZ holding `s`, NUL-terminated as Windows stores it.
    pub fn string(s: &str) -> Self {
        Value::new(REG_SZ, utf16_bytes(s, true))
    }

    /// The number, when this is a REG_DWORD of exactly four bytes: the only
    /// form a DWORD reader such as SCHANNEL takes.
    pub fn as_dword(&self) -> Option<u32> {
        match (self.kind, self.data.as_slice()) {
            (REG_DWORD, &[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
            _ => None,
        }
    }

    /// The text of a REG_SZ or REG_EXPAND_SZ, up to its first NUL.
    pub fn as_str(&self) -> Option<String> {
        if !matches!(self.kind, REG_SZ | REG_EXPAND_SZ) || self.data.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = self
            .data
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16(&units).ok()
    }

    pub fn type_name(&self) -> Cow<'static, str> {
        type_name(self.kind)
    }
}

/// `REG_DWORD`, or `type 0x1234` for numbers Windows gives no name.
pub fn type_name(kind: u32) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        REG_NONE => "REG_NONE",
        REG_SZ => "REG_SZ",
        REG_EXPAND_SZ => "REG_EXPAND_SZ",
        REG_BINARY => "REG_BINARY",
        REG_DWORD => "REG_DWORD",
        REG_DWORD_BIG_ENDIAN => "REG_DWORD_BIG_ENDIAN",
        REG_LINK => "REG_LINK",
        REG_MULTI_SZ => "REG_MULTI_SZ",
        REG_RESOURCE_LIST => "REG_RESOURCE_LIST",
        REG_FULL_RESOURCE_DESCRIPTOR => "REG_FULL_RESOURCE_DESCRIPTOR",
        REG_RESOURCE_REQUIREMENTS_LIST => "REG_RESOURCE_REQUIREMENTS_LIST",
        REG_QWORD => "REG_QWORD",
        other => return Cow::Owned(format!("type 0x{other:x}")),
    })
}

/// `s` as UTF-16LE bytes, with a NUL unit appended when `terminate` is set.
pub fn utf16_bytes(s: &str, terminate: bool) -> Vec<u8> {
    let mut out: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    if terminate {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// regedit's notation (`dword:00000001`, `"text"`, `hex(b):01,00,...`), the
/// one admins read; long binary data is shortened.
impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(v) = self.as_dword() {
            return write!(f, "dword:{v:08x}");
        }
        if self.kind == REG_SZ {
            if let Some(s) = self.as_str() {
                return write!(f, "\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
            }
        }
        match self.kind {
            REG_BINARY => f.write_str("hex:")?,
            k => write!(f, "hex({k:x}):")?,
        }
        const SHOWN: usize = 16;
        for (i, b) in self.data.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{b:02x}")?;
        }
        if self.data.len() > SHOWN {
            write!(f, ",… ({} bytes)", self.data.len())?;
        }
        Ok(())
    }
}
