//! A file (or a disk device) as a source; the files it names are looked for
//! in its folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Place, Source, SourceError, file_name_of, relative_parts};
use crate::image::disk::{FileDisk, open_regular, open_regular_or_disk};

/// A file on this machine.
#[derive(Debug, Clone)]
pub struct FilePlace {
    path: PathBuf,
}

impl FilePlace {
    pub fn new(path: &Path) -> FilePlace {
        FilePlace {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn folder(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// Opens `path`, named on purpose: a regular file or a disk.
pub(super) fn open(path: &Path) -> Result<Source, SourceError> {
    open_regular_or_disk(path)
        .and_then(|file| Ok(source(FileDisk::new(file)?, path)))
        .map_err(|source| SourceError::Open {
            name: path.display().to_string(),
            source,
        })
}

/// The source of a file already open at `path`.
pub fn source(disk: FileDisk, path: &Path) -> Source {
    Source {
        disk: Arc::new(disk),
        place: Arc::new(FilePlace::new(path)),
    }
}

impl Place for FilePlace {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// A relative name is looked for under the folder, then by its file name
    /// alone in the folder (where an absolute name is looked for too: a
    /// parent written as `D:\Hyper-V\base.vhdx` on the host that made the
    /// chain is beside its child on the machine that audits it). Only a
    /// regular file is opened, so a name cannot lead to a FIFO or a device.
    fn open_beside(&self, name: &str) -> Result<Source, SourceError> {
        let folder = self.folder();
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(parts) = relative_parts(name) {
            candidates.push(parts.iter().fold(folder.to_path_buf(), |p, c| p.join(c)));
        }
        let alone = file_name_of(name);
        if !alone.is_empty() && alone != "." && alone != ".." {
            let beside = folder.join(alone);
            if !candidates.contains(&beside) {
                candidates.push(beside);
            }
        }
        for path in &candidates {
            match open_regular(path).and_then(FileDisk::new) {
                Ok(disk) => return Ok(source(disk, path)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(SourceError::Open {
                        name: path.display().to_string(),
                        source,
                    });
                }
            }
        }
        Err(SourceError::NotFound {
            wanted: name.to_owned(),
            beside: self.name(),
            tried: candidates.iter().map(|p| p.display().to_string()).collect(),
        })
    }

    fn local_path(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn identity(&self) -> String {
        std::fs::canonicalize(&self.path)
            .unwrap_or_else(|_| self.path.clone())
            .display()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("base.vhd"), b"base").unwrap();
        std::fs::write(dir.path().join("sub").join("x.vmdk"), b"xx").unwrap();
        std::fs::write(dir.path().join("child.vhd"), b"child").unwrap();
        let child = open(&dir.path().join("child.vhd")).unwrap();
        for name in [
            r"C:\Hyper-V\base.vhd",
            r".\base.vhd",
            "base.vhd",
            "../base.vhd",
        ] {
            let s = child.place.open_beside(name).unwrap();
            assert_eq!(s.disk.size(), 4, "{name}");
        }
        assert_eq!(
            child.place.open_beside(r"sub\x.vmdk").unwrap().disk.size(),
            2
        );
        let e = child.place.open_beside(r"D:\gone\missing.vhd").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("missing.vhd") && text.contains("child.vhd"),
            "{text}"
        );
    }
}
