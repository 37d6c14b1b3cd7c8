//! [`LiveRegistry`] over advapi32: HKEY_LOCAL_MACHINE's 64-bit view, read
//! only. Every call that fills a buffer is retried with a larger one when the
//! registry says it did not fit: a value can grow between two calls.

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_KEY_DELETED, ERROR_MORE_DATA,
    ERROR_NO_MORE_ITEMS, ERROR_PATH_NOT_FOUND, ERROR_SUCCESS, WIN32_ERROR,
};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, RegCloseKey, RegEnumKeyExW, RegEnumValueW,
    RegOpenKeyExW, RegQueryInfoKeyW,
};

use super::{LiveError, LiveRegistry, RawValue};

/// The registry of the machine tlsreg runs on.
pub struct System;

/// An open key, closed when dropped.
pub struct Handle {
    hkey: HKEY,
    /// The longest value data of the key when it was opened: the first
    /// buffer's size, so most keys are read in one call per value.
    max_data: usize,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: `hkey` was opened by RegOpenKeyExW and is closed once.
        unsafe { RegCloseKey(self.hkey) };
    }
}

/// Key names are at most 255 characters, value names 16,383 (plus a NUL).
const KEY_NAME: usize = 256;
const VALUE_NAME: usize = 16_384;
/// Tries at reading a value that keeps growing between calls.
const TRIES: usize = 8;

fn error(code: WIN32_ERROR) -> LiveError {
    match code {
        // A key deleted while open reads as ERROR_KEY_DELETED.
        ERROR_FILE_NOT_FOUND | ERROR_PATH_NOT_FOUND | ERROR_KEY_DELETED => LiveError::NotFound,
        ERROR_ACCESS_DENIED => LiveError::AccessDenied,
        c => LiveError::Other(std::io::Error::from_raw_os_error(c as i32).to_string()),
    }
}

impl LiveRegistry for System {
    type Key = Handle;

    fn open(&self, parent: Option<&Handle>, name: &[u16]) -> Result<Handle, LiveError> {
        let wide: Vec<u16> = name.iter().copied().chain([0]).collect();
        let base = parent.map_or(HKEY_LOCAL_MACHINE, |p| p.hkey);
        let mut hkey: HKEY = std::ptr::null_mut();
        // KEY_WOW64_64KEY: a 32-bit build reads what a 64-bit regedit shows.
        // SAFETY: `wide` is NUL-terminated and outlives the call; `hkey` is
        // written only on success.
        let rc = unsafe {
            RegOpenKeyExW(
                base,
                wide.as_ptr(),
                0,
                KEY_READ | KEY_WOW64_64KEY,
                &mut hkey,
            )
        };
        if rc != ERROR_SUCCESS {
            return Err(error(rc));
        }
        let mut handle = Handle { hkey, max_data: 0 };
        let mut max_data: u32 = 0;
        // SAFETY: every pointer is null (not asked for) but the one to a local.
        let rc = unsafe {
            RegQueryInfoKeyW(
                hkey,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut max_data,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        // Without it the buffers start small and grow.
        if rc == ERROR_SUCCESS {
            handle.max_data = max_data as usize;
        }
        Ok(handle)
    }

    fn subkey(&self, key: &Handle, index: u32) -> Result<Option<Vec<u16>>, LiveError> {
        let mut name = vec![0u16; KEY_NAME];
        loop {
            let mut len = name.len() as u32;
            // SAFETY: `name` holds `len` units; the other pointers are null.
            let rc = unsafe {
                RegEnumKeyExW(
                    key.hkey,
                    index,
                    name.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            match rc {
                ERROR_SUCCESS => {
                    let len = (len as usize).min(name.len());
                    return Ok(Some(name[..len].to_vec()));
                }
                ERROR_NO_MORE_ITEMS => return Ok(None),
                // Longer than Windows allows: a registry of another make.
                ERROR_MORE_DATA if name.len() < VALUE_NAME => name.resize(VALUE_NAME, 0),
                c => return Err(error(c)),
            }
        }
    }

    fn value(
        &self,
        key: &Handle,
        index: u32,
        max_data: usize,
    ) -> Result<Option<RawValue>, LiveError> {
        let mut name = vec![0u16; VALUE_NAME];
        // At least one byte: a zero-length buffer is no buffer to the API.
        let mut data = vec![0u8; key.max_data.clamp(1, max_data.max(1))];
        for _ in 0..TRIES {
            let got = enum_value(key, index, &mut name, Some(&mut data));
            match got.rc {
                ERROR_SUCCESS => {
                    return Ok(Some(RawValue {
                        name: name[..got.name_len.min(name.len())].to_vec(),
                        kind: got.kind,
                        data: Ok(data[..got.data_len.min(data.len())].to_vec()),
                    }));
                }
                ERROR_NO_MORE_ITEMS => return Ok(None),
                // The name buffer holds any name: it is the data that did
                // not fit, and `data_len` is what it needs now.
                ERROR_MORE_DATA => {
                    let need = got.data_len;
                    if need > max_data || data.len() >= max_data {
                        return too_large(key, index, name, max_data).map(Some);
                    }
                    data.resize(need.max(data.len().saturating_mul(2)).min(max_data), 0);
                }
                c => return Err(error(c)),
            }
        }
        Err(LiveError::Other(format!(
            "value {index} kept growing while it was read ({TRIES} tries)"
        )))
    }
}

/// What one RegEnumValueW call gave.
struct Enumerated {
    rc: WIN32_ERROR,
    name_len: usize,
    kind: u32,
    /// The data's length, or the length it needs when it did not fit.
    data_len: usize,
}

/// One RegEnumValueW call; with no data buffer, it gives the data's size.
fn enum_value(key: &Handle, index: u32, name: &mut [u16], data: Option<&mut [u8]>) -> Enumerated {
    let mut name_len = name.len() as u32;
    let (data_ptr, mut data_len) = match data {
        Some(d) => (d.as_mut_ptr(), d.len() as u32),
        None => (std::ptr::null_mut(), 0),
    };
    let mut kind = 0u32;
    // SAFETY: `name` holds `name_len` units and `data_ptr`, when not null,
    // `data_len` bytes; both outlive the call.
    let rc = unsafe {
        RegEnumValueW(
            key.hkey,
            index,
            name.as_mut_ptr(),
            &mut name_len,
            std::ptr::null(),
            &mut kind,
            data_ptr,
            &mut data_len,
        )
    };
    Enumerated {
        rc,
        name_len: name_len as usize,
        kind,
        data_len: data_len as usize,
    }
}

/// The name and type of a value whose data is more than `max_data` bytes,
/// and why its data is not read.
fn too_large(
    key: &Handle,
    index: u32,
    mut name: Vec<u16>,
    max_data: usize,
) -> Result<RawValue, LiveError> {
    let got = enum_value(key, index, &mut name, None);
    if got.rc != ERROR_SUCCESS {
        return Err(error(got.rc));
    }
    name.truncate(got.name_len);
    Ok(RawValue {
        name,
        kind: got.kind,
        data: Err(format!(
            "its data is {} bytes, more than the {max_data} tlsreg reads of one value",
            got.data_len
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT_VERSION: &str = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion";

    fn open(path: &str) -> Handle {
        let path: Vec<u16> = path.encode_utf16().collect();
        System.open(None, &path).expect("the key opens")
    }

    fn all(key: &Handle, max_data: usize) -> Vec<RawValue> {
        (0..)
            .map_while(|i| System.value(key, i, max_data).expect("lists"))
            .collect()
    }

    /// A buffer smaller than the data is grown (ERROR_MORE_DATA), and a
    /// value larger than asked for is named, typed and sized, not read.
    #[test]
    fn buffers_grow_and_large_values_are_named_not_read() {
        let whole = all(&open(CURRENT_VERSION), 1 << 20);
        assert!(
            whole
                .iter()
                .any(|v| v.data.as_ref().is_ok_and(|d| d.len() > 8))
        );
        let mut small = open(CURRENT_VERSION);
        small.max_data = 1;
        assert_eq!(all(&small, 1 << 20), whole);
        for (cut, full) in all(&open(CURRENT_VERSION), 8).iter().zip(&whole) {
            assert_eq!((&cut.name, cut.kind), (&full.name, full.kind));
            match full.data.as_ref().map(Vec::len) {
                Ok(n) if n > 8 => assert!(
                    cut.data
                        .as_ref()
                        .is_err_and(|e| e.contains(&format!("{n} bytes")))
                ),
                _ => assert_eq!(cut.data, full.data),
            }
        }
    }

    #[test]
    fn subkeys_list_and_missing_keys_are_not_found() {
        let hklm = System.open(None, &[]).expect("HKLM itself");
        let names: Vec<String> = (0..)
            .map_while(|i| System.subkey(&hklm, i).expect("lists"))
            .map(|n| String::from_utf16_lossy(&n))
            .collect();
        assert!(
            names.iter().any(|n| n.eq_ignore_ascii_case("SYSTEM")),
            "{names:?}"
        );
        let none: Vec<u16> = r"SOFTWARE\tlsreg-no-such-key".encode_utf16().collect();
        assert!(matches!(System.open(None, &none), Err(LiveError::NotFound)));
    }
}
