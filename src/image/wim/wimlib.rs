//! The fallback: `wimlib-imagex extract`, for WIMs our reader refuses
//! (LZMS, solid resources). wimlib-imagex is a separate GPL-3.0-or-later
//! program, run as a child process; nothing of it is linked in.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{DEFAULT_MAX_FILE_SIZE, Wim, WimError};

/// Which reader produced a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// tlsreg's own reader.
    Builtin,
    /// `wimlib-imagex`, because our reader refused the WIM for `reason`.
    Wimlib { reason: String },
}

/// A private directory under the system temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = base.join(format!("tlsreg-wim-{}-{nanos:x}-{n}", std::process::id()));
            #[cfg_attr(not(unix), allow(unused_mut))]
            let mut builder = fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            match builder.create(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free temporary directory name",
        ))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Extracts one file of image `index` with
/// `wimlib-imagex extract WIM N /PATH --dest-dir=TMP --no-acls` into a
/// private temporary directory, and returns its bytes. Path components
/// are matched case-insensitively (`WIMLIB_IMAGEX_IGNORE_CASE=1`).
pub fn extract_with_wimlib(wim: &Path, index: u32, path: &[&str]) -> Result<Vec<u8>, WimError> {
    extract_with_wimlib_max(wim, index, path, DEFAULT_MAX_FILE_SIZE)
}

/// As [`extract_with_wimlib`], refusing a file over `max_size` bytes.
pub fn extract_with_wimlib_max(
    wim: &Path,
    index: u32,
    path: &[&str],
    max_size: u64,
) -> Result<Vec<u8>, WimError> {
    let inner = format!(
        "/{}",
        path.iter()
            .filter(|c| !c.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    );
    let io_err = |what: &str, source| WimError::Io {
        offset: 0,
        len: 0,
        what: what.to_string(),
        source,
    };
    let tmp = TempDir::new().map_err(|e| io_err("a temporary directory", e))?;
    let mut dest = OsString::from("--dest-dir=");
    dest.push(tmp.0.as_os_str());
    let command = format!(
        "wimlib-imagex extract {} {index} {inner} --dest-dir=TMP --no-acls",
        wim.display()
    );
    let out = Command::new("wimlib-imagex")
        .arg("extract")
        .arg(wim)
        .arg(index.to_string())
        .arg(&inner)
        .arg(dest)
        .arg("--no-acls")
        .env("WIMLIB_IMAGEX_IGNORE_CASE", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                WimError::WimlibMissing
            } else {
                io_err("wimlib-imagex (running it)", e)
            }
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = stderr.trim();
        let stderr = if stderr.is_empty() {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        } else {
            stderr.to_string()
        };
        // One line: it ends up inside a one-line message.
        let stderr = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        return Err(WimError::WimlibFailed {
            command,
            status: out.status.to_string(),
            stderr,
        });
    }
    // The file keeps the name it has in the image, whose case may differ.
    let mut found = fs::read_dir(&tmp.0)
        .map_err(|e| io_err("wimlib-imagex's output directory", e))?
        .filter_map(Result::ok)
        .map(|e| e.path());
    let (Some(file), None) = (found.next(), found.next()) else {
        return Err(WimError::WimlibFailed {
            command,
            status: "success".into(),
            stderr: "it did not write exactly one file".into(),
        });
    };
    let meta = fs::symlink_metadata(&file).map_err(|e| io_err("the extracted file", e))?;
    if !meta.is_file() {
        return Err(WimError::NotAFile {
            index,
            path: inner,
            kind: "not a regular file once extracted",
        });
    }
    if meta.len() > max_size {
        return Err(WimError::TooLarge {
            offset: 0,
            what: format!("{inner} in image {index}"),
            size: meta.len(),
            limit: max_size,
        });
    }
    fs::read(&file).map_err(|e| io_err("the extracted file", e))
}

/// Reads a file with our reader, or, when it refuses the WIM as
/// unsupported (LZMS, solid), with `wimlib-imagex`. Says which one did;
/// never falls back silently, and an unsupported WIM without wimlib-imagex
/// is our reader's error, which says how to convert the image.
pub fn read_file_or_wimlib(
    wim: &Path,
    index: u32,
    path: &[&str],
) -> Result<(Option<Vec<u8>>, Reader), WimError> {
    read_file_or_wimlib_max(wim, index, path, DEFAULT_MAX_FILE_SIZE)
}

/// As [`read_file_or_wimlib`], refusing a file over `max_size` bytes.
pub fn read_file_or_wimlib_max(
    wim: &Path,
    index: u32,
    path: &[&str],
    max_size: u64,
) -> Result<(Option<Vec<u8>>, Reader), WimError> {
    let opened = Wim::open(wim)?;
    read_file_or_wimlib_with(&opened, Some(wim), index, path, max_size)
}

/// As [`read_file_or_wimlib_max`], for a WIM already open; `file` is where
/// wimlib-imagex can read it, `None` when it is not a file on this machine
/// (a WIM at a URL), and then there is no fallback.
pub fn read_file_or_wimlib_with(
    opened: &Wim,
    file: Option<&Path>,
    index: u32,
    path: &[&str],
    max_size: u64,
) -> Result<(Option<Vec<u8>>, Reader), WimError> {
    let ours = opened.read_file_max(index, path, max_size);
    let Some(wim) = file else {
        return ours.map(|data| (data, Reader::Builtin));
    };
    match ours {
        Ok(data) => Ok((data, Reader::Builtin)),
        Err(e) if e.is_unsupported() => match extract_with_wimlib_max(wim, index, path, max_size) {
            Ok(data) => Ok((
                Some(data),
                Reader::Wimlib {
                    reason: e.to_string(),
                },
            )),
            Err(WimError::WimlibMissing) => Err(e),
            Err(w) => Err(WimError::BothFailed {
                ours: Box::new(e),
                wimlib: Box::new(w),
            }),
        },
        Err(e) => Err(e),
    }
}
