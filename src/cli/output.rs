//! Writing results: whole files or nothing, and no UTF-16 bytes on a terminal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use tlsreg::regfile::{Export, OutputEncoding};

/// Writes `bytes` to `path` through a temporary file in the same folder, so a
/// crash or a full disk never leaves half a file. Without `force`, an existing
/// file is an error and stays as it was.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> io::Result<()> {
    if !force && path.symlink_metadata().is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the file exists; pass --force to overwrite it",
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = temp_file(&dir, &name)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let placed = written.and_then(|()| {
        if force {
            fs::rename(&tmp, path)
        } else {
            // A hard link fails if the target appeared meanwhile: no clobbering.
            match fs::hard_link(&tmp, path) {
                Ok(()) => fs::remove_file(&tmp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "the file exists; pass --force to overwrite it",
                )),
                Err(_) if path.symlink_metadata().is_err() => fs::rename(&tmp, path),
                Err(e) => Err(e),
            }
        }
    });
    if placed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    placed
}

fn temp_file(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let tmp = dir.join(format!(".{name}.tlsreg-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("could not create a temporary file"))
}

/// Writes a `.reg` file to `path`, or to standard output. On a terminal the
/// UTF-16 bytes would be unreadable, so the text is shown as UTF-8 instead.
pub fn emit(
    export: &Export,
    encoding: OutputEncoding,
    path: Option<&Path>,
    force: bool,
) -> Result<(), String> {
    match path {
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
                .map_err(|e| format!("standard output: {e}"))
        }
    }
}
