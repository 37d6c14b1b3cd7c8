//! Writing results: whole files or nothing, never over a file being read, and
//! no UTF-16 bytes on a terminal.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use tlsreg::regfile::{Export, OutputEncoding};

/// Set once standard output's reader has gone (`tlsreg audit | head`).
static STDOUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The error of a write to standard output. When its reader has gone away
/// (a closed pipe: `| head`, `| Select-Object -First 5`), that is noted so
/// the run ends without a message, as other tools do; its exit status still
/// says the output is incomplete.
pub fn stdout_failed(e: io::Error) -> String {
    // Windows says ERROR_NO_DATA (232, which std maps to BrokenPipe); Wine
    // says ERROR_PIPE_NOT_CONNECTED (233).
    let gone =
        e.kind() == io::ErrorKind::BrokenPipe || (cfg!(windows) && e.raw_os_error() == Some(233));
    if gone {
        STDOUT_GONE.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    format!("standard output: {e}")
}

/// Whether a write found standard output's reader gone.
pub fn stdout_gone() -> bool {
    STDOUT_GONE.load(std::sync::atomic::Ordering::Relaxed)
}

/// `-o -` means standard output, as it does for most tools.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// What a path resolves to: its canonical form (the folder's, plus the name,
/// when the file does not exist yet) and its file identity, which also
/// catches hard links.
struct Identity {
    canonical: Option<PathBuf>,
    id: Option<tlsreg::fsio::FileId>,
}

fn identity(path: &Path) -> Identity {
    let canonical = fs::canonicalize(path).ok().or_else(|| {
        let name = path.file_name()?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(fs::canonicalize(dir).ok()?.join(name))
    });
    Identity {
        canonical,
        id: tlsreg::fsio::file_id(path),
    }
}

/// Windows and macOS compare names without case; a false match only refuses
/// a write, a missed one destroys evidence.
fn same_name(a: &Path, b: &Path) -> bool {
    if cfg!(any(windows, target_os = "macos")) {
        a.to_string_lossy().to_lowercase() == b.to_string_lossy().to_lowercase()
    } else {
        a == b
    }
}

fn same_file(a: &Identity, b: &Identity) -> bool {
    if a.id.is_some() && a.id == b.id {
        return true;
    }
    matches!((&a.canonical, &b.canonical), (Some(x), Some(y)) if same_name(x, y))
}

/// Refuses an output path that would replace a file this command reads
/// (`reads`: each path with what it is to the command), or a transaction log a hive in `hives` would pick up on its next
/// read (`SYSTEM.LOG1` beside `SYSTEM`, even before it exists), or that is not
/// a regular file. `--force` does not lift this: evidence is never written.
pub fn check_target(
    out: &Path,
    reads: &[(PathBuf, String)],
    hives: &[PathBuf],
) -> Result<(), String> {
    if is_stdout(out) {
        return Ok(());
    }
    let shown = out.display();
    if let Ok(meta) = fs::metadata(out) {
        use tlsreg::fsio::{FileKind, kind_of};
        match kind_of(&meta) {
            FileKind::Regular => {}
            FileKind::Directory => {
                return Err(format!("{shown}: is a folder; -o takes a file name"));
            }
            kind => {
                return Err(format!(
                    "{shown}: is {}, not a regular file; -o takes a file name, or - for standard output",
                    kind.describe()
                ));
            }
        }
    }
    let target = identity(out);
    for (read, what) in reads {
        if same_file(&target, &identity(read)) {
            return Err(format!(
                "refusing to write {shown}: it is {} ({what}), which this command reads; inputs are never written, even with --force",
                read.display()
            ));
        }
    }
    let Some(out_canon) = &target.canonical else {
        return Ok(());
    };
    for hive in hives {
        let Some(log) = log_name(out_canon, hive) else {
            continue;
        };
        return Err(format!(
            "refusing to write {shown}: it would be {log}, a transaction log of {}, which this command reads; inputs are never written, even with --force",
            hive.display()
        ));
    }
    Ok(())
}

/// `SYSTEM.LOG1` when `out` is that name (in any case) beside `hive`: the hive
/// reader replays such files, so a report written there would corrupt the next read.
fn log_name(out: &Path, hive: &Path) -> Option<String> {
    let dir = match hive.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(dir).ok()?;
    if !same_name(out.parent()?, &dir) {
        return None;
    }
    let out_name = out.file_name()?;
    tlsreg::hive::log::is_log_of(hive.file_name()?, out_name)
        .then(|| out_name.to_string_lossy().into_owned())
}

fn exists_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        "the file exists; pass --force to overwrite it",
    )
}

/// Writes `bytes` to `path` so that a crash, a kill or a full disk never leaves
/// half a file. Without `force`, an existing file is an error and stays as it was.
///
/// On Linux the bytes go to an unnamed file (O_TMPFILE) in the target's folder,
/// which is linked in only when complete: a killed process leaves nothing
/// behind (tests/evidence.rs kills runs to check it; a named temporary file
/// cannot give this). Without `force` the link is to the final name, which
/// fails if it exists; with `force` it is to a temporary name renamed over the
/// target, the only moment (two system calls) a kill can leave a
/// `.NAME.tlsreg-*.tmp`. Elsewhere, and on filesystems without O_TMPFILE, a
/// named temporary file is used and removed on every error.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> io::Result<()> {
    if !force && path.symlink_metadata().is_ok() {
        return Err(exists_error());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    #[cfg(target_os = "linux")]
    if unnamed::write(dir, &name, path, bytes, force)? {
        return Ok(());
    }
    write_named(dir, &name, path, bytes, force)
}

/// Through a named temporary file (tempfile's, deleted on every error) put in
/// place by a rename, or without `force` by one that refuses to replace
/// (renameat2's RENAME_NOREPLACE or a hard link; MoveFileExW without
/// MOVEFILE_REPLACE_EXISTING).
fn write_named(dir: &Path, name: &str, path: &Path, bytes: &[u8], force: bool) -> io::Result<()> {
    let prefix = format!(".{name}.tlsreg-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile makes its files private (0600); an output gets the usual
    // 0666 less the umask, as any other file the user writes.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let placed = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
            .or_else(|e| match e.error.kind() {
                io::ErrorKind::AlreadyExists => Err(e),
                // A filesystem that can neither refuse to replace nor hard-link
                // (FAT on macOS): a plain rename, as the target was absent a
                // moment ago, rather than no output at all.
                _ if path.symlink_metadata().is_err() => e.file.persist(path),
                _ => Err(e),
            })
    };
    placed.map_err(|e| match e.error.kind() {
        io::ErrorKind::AlreadyExists => exists_error(),
        _ => e.error,
    })?;
    #[cfg(unix)]
    sync_folder(dir);
    Ok(())
}

/// Best effort: the file is in place; some filesystems refuse to sync a
/// folder, which must not turn a written file into a reported failure.
#[cfg(unix)]
fn sync_folder(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(target_os = "linux")]
mod unnamed {
    use std::ffi::CString;
    use std::fs::{self, File, OpenOptions};
    use std::io::{self, Write};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use std::path::{Path, PathBuf};

    fn temp_name(dir: &Path, name: &str, n: u32) -> PathBuf {
        dir.join(format!(".{name}.tlsreg-{}-{n}.tmp", std::process::id()))
    }

    /// A temporary name that is removed when dropped, unless it was renamed.
    struct TempName(Option<PathBuf>);

    impl Drop for TempName {
        fn drop(&mut self) {
            if let Some(p) = self.0.take() {
                let _ = fs::remove_file(p);
            }
        }
    }

    /// Writes through an O_TMPFILE file. `Ok(false)`: this filesystem cannot
    /// (no O_TMPFILE, or no way to link it), so the caller uses a named file.
    pub fn write(
        dir: &Path,
        name: &str,
        path: &Path,
        bytes: &[u8],
        force: bool,
    ) -> io::Result<bool> {
        let opened = OpenOptions::new()
            .write(true)
            .mode(0o666)
            .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
            .open(dir);
        let mut file = match opened {
            Ok(f) => f,
            // Kernels and filesystems without O_TMPFILE answer with one of these.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        file.write_all(bytes)?;
        file.sync_all()?;
        if !force {
            match link(&file, path) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                    return Err(super::exists_error());
                }
                Err(_) => return Ok(false),
            }
        } else {
            let mut placed = None;
            for n in 0..100u32 {
                let tmp = temp_name(dir, name, n);
                match link(&file, &tmp) {
                    Ok(()) => {
                        placed = Some(tmp);
                        break;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EEXIST) => continue,
                    Err(_) => return Ok(false),
                }
            }
            let tmp =
                placed.ok_or_else(|| io::Error::other("could not create a temporary file"))?;
            let guard = TempName(Some(tmp.clone()));
            fs::rename(&tmp, path)?;
            drop(guard);
        }
        super::sync_folder(dir);
        Ok(true)
    }

    /// Gives the unnamed file `to` as its name; fails with EEXIST if `to` exists.
    fn link(file: &File, to: &Path) -> io::Result<()> {
        let to = CString::new(to.as_os_str().as_bytes()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in the file name")
        })?;
        let fd = file.as_raw_fd();
        let proc = CString::new(format!("/proc/self/fd/{fd}"))
            .map_err(|_| io::Error::other("a NUL byte in a /proc path"))?;
        // SAFETY: both paths are NUL-terminated C strings that outlive the call.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
        // No /proc: AT_EMPTY_PATH does the same, but older kernels allow it
        // only with CAP_DAC_READ_SEARCH.
        // SAFETY: as above; the empty path is a valid C string.
        let r = unsafe {
            libc::linkat(
                fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        match r {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

/// Writes a `.reg` file to `path`, or to standard output (no path, or `-`). On
/// a terminal the UTF-16 bytes would be unreadable, so the text is shown as
/// UTF-8 instead.
pub fn emit(
    export: &Export,
    encoding: OutputEncoding,
    path: Option<&Path>,
    force: bool,
) -> Result<(), String> {
    match path.filter(|p| !is_stdout(p)) {
        Some(p) => write_atomic(p, &export.to_bytes(encoding), force)
            .map_err(|e| format!("{}: {e}", p.display())),
        None => {
            let stdout = io::stdout();
            let tty = stdout.is_terminal();
            let bytes = if tty && encoding == OutputEncoding::Utf16Le {
                eprintln!(
                    "tlsreg: standard output is a terminal, so this is shown as UTF-8 text; use -o FILE or a redirect for regedit's UTF-16LE bytes"
                );
                export.to_bytes(OutputEncoding::Utf8)
            } else {
                export.to_bytes(encoding)
            };
            let mut lock = stdout.lock();
            lock.write_all(&bytes)
                .and_then(|()| lock.flush())
                .map_err(stdout_failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The named-file way, which Linux uses only where O_TMPFILE fails (the
    /// binary's tests go through O_TMPFILE here, the other way elsewhere).
    #[test]
    fn a_named_temporary_file_never_clobbers_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = d.join("out.reg");
        write_named(d, "out.reg", &out, b"first", false).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"first");
        let e = write_named(d, "out.reg", &out, b"second", false).unwrap_err();
        assert_eq!(e.to_string(), exists_error().to_string());
        assert_eq!(fs::read(&out).unwrap(), b"first");
        write_named(d, "out.reg", &out, b"third", true).unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"third");
        assert_eq!(names(d), ["out.reg"]);
        // A folder that is not there: an error, and nothing written.
        let e = write_named(&d.join("none"), "x.reg", &d.join("none/x.reg"), b"", true);
        assert!(e.is_err());
        assert_eq!(names(d), ["out.reg"]);
    }

    /// Not tempfile's private 0600: the mode any file the user writes gets.
    #[cfg(unix)]
    #[test]
    fn a_named_temporary_file_gets_the_usual_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("plain"), b"").unwrap();
        write_named(d, "out.reg", &d.join("out.reg"), b"x", false).unwrap();
        let mode = |n: &str| fs::metadata(d.join(n)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("out.reg"), mode("plain"));
    }
}
