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
            let mut name_len = name.len() as u32;
            let mut data_len = data.len() as u32;
            let mut kind = 0u32;
            // SAFETY: `name` and `data` hold the lengths passed with them.
            let rc = unsafe {
                RegEnumValueW(
                    key.hkey,
                    index,
                    name.as_mut_ptr(),
                    &mut name_len,
                    std::ptr::null(),
                    &mut kind,
                    data.as_mut_ptr(),
                    &mut data_len,
                )
            };
            match rc {
                ERROR_SUCCESS => {
                    let name_len = (name_len as usize).min(name.len());
                    let data_len = (data_len as usize).min(data.len());
                    return Ok(Some(RawValue {
                        name: name[..name_len].to_vec(),
                        kind,
                        data: Ok(data[..data_len].to_vec()),
                    }));
                }
                ERROR_NO_MORE_ITEMS => return Ok(None),
                // The name buffer holds any name: it is the data that did
                // not fit, and `data_len` is what it needs now.
                ERROR_MORE_DATA => {
                    let need = data_len as usize;
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

/// The name and type of a value whose data is more than `max_data` bytes,
/// and why its data is not read.
fn too_large(
    key: &Handle,
    index: u32,
    mut name: Vec<u16>,
    max_data: usize,
) -> Result<RawValue, LiveError> {
    let mut name_len = name.len() as u32;
    let mut size = 0u32;
    let mut kind = 0u32;
    // SAFETY: `name` holds `name_len` units; a null data pointer asks for
    // the data's size only.
    let rc = unsafe {
        RegEnumValueW(
            key.hkey,
            index,
            name.as_mut_ptr(),
            &mut name_len,
            std::ptr::null(),
            &mut kind,
            std::ptr::null_mut(),
            &mut size,
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(error(rc));
    }
    name.truncate(name_len as usize);
    Ok(RawValue {
        name,
        kind,
        data: Err(format!(
            "its data is {size} bytes, more than the {max_data} tlsreg reads of one value"
        )),
    })
}
