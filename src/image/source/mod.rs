//! Byte sources: where an image's bytes come from.
//!
//! A [`Source`] is a [`Disk`] (positioned reads over bytes) together with
//! its [`Place`]: how reports name it, and how the files it names are found
//! (a VMDK descriptor's extents, a differencing disk's parent, the next
//! segment of a split set). Containers are handed a `Source` and never ask
//! what is underneath, so a new kind of source (a URL, a member of a tar, an
//! EWF segment set) needs no change above this layer.

pub mod ewf;
mod file;
pub mod http;
pub mod ova;
pub mod tar;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::disk::Disk;

pub use file::{FilePlace, source as file_source};

/// Bytes and where they came from.
#[derive(Clone)]
pub struct Source {
    pub disk: Arc<dyn Disk>,
    pub place: Arc<dyn Place>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.place.name())
            .field("size", &self.disk.size())
            .finish()
    }
}

impl Source {
    /// How reports name the source.
    pub fn name(&self) -> String {
        self.place.name()
    }

    /// Bytes with no place (tests, a fuzzer): they name nothing beside them.
    pub fn detached(name: &str, disk: Arc<dyn Disk>) -> Source {
        Source {
            disk,
            place: Arc::new(Detached(name.to_owned())),
        }
    }
}

/// Where a source's bytes live, and what lies beside them.
pub trait Place: Send + Sync {
    /// How reports name it: a path, a URL without its query string (which
    /// may hold a secret), `disk.ova!disk1.vmdk`.
    fn name(&self) -> String;

    /// Opens a file this source names, as written in the image: an extent,
    /// a parent, a segment. `name` may be a Windows path, relative or
    /// absolute; each place resolves it beside itself (never elsewhere on
    /// the machine that runs tlsreg).
    fn open_beside(&self, name: &str) -> Result<Source, SourceError>;

    /// What tells two places apart, for finding a loop in a chain of
    /// parents (a canonical path, a URL); by default the name.
    fn identity(&self) -> String {
        self.name()
    }

    /// The file on this machine, when the source is one (for tools that
    /// read by path, such as wimlib-imagex).
    fn local_path(&self) -> Option<&Path> {
        None
    }
}

/// A source or a file it names could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The named thing could not be opened.
    #[error("{name}: {source}")]
    Open {
        name: String,
        #[source]
        source: io::Error,
    },
    /// A file named inside an image was looked for beside it and not found.
    #[error("{wanted:?} not found beside {beside} (looked for {})", tried.join(", "))]
    NotFound {
        wanted: String,
        beside: String,
        tried: Vec<String>,
    },
    /// This place cannot hold other files (bytes in memory, a pipe).
    #[error("{wanted:?} cannot be looked for: {beside} names nothing beside it")]
    Alone { wanted: String, beside: String },
    /// A wrapper (an EWF segment, an OVA's tar or OVF) is malformed or
    /// uses what this reader does not handle; `offset` is in `name`.
    #[error("{name}: {format}: {what} (at byte {offset})")]
    Format {
        name: String,
        format: &'static str,
        offset: u64,
        what: String,
    },
}

impl From<SourceError> for io::Error {
    fn from(e: SourceError) -> io::Error {
        let kind = match &e {
            SourceError::Open { source, .. } => source.kind(),
            SourceError::NotFound { .. } => io::ErrorKind::NotFound,
            SourceError::Alone { .. } => io::ErrorKind::Unsupported,
            SourceError::Format { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

struct Detached(String);

impl Place for Detached {
    fn name(&self) -> String {
        self.0.clone()
    }

    fn open_beside(&self, name: &str) -> Result<Source, SourceError> {
        Err(SourceError::Alone {
            wanted: name.to_owned(),
            beside: self.0.clone(),
        })
    }
}

/// Opens a file (or a disk device) named on purpose as a source.
pub fn open_path(path: &Path) -> Result<Source, SourceError> {
    file::open(path)
}

/// Whether a command-line argument is a URL (`http://`, `https://`, any
/// case) rather than a path.
pub fn is_url(arg: &str) -> bool {
    let scheme = |s: &str| {
        arg.get(..s.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(s))
    };
    scheme("http://") || scheme("https://")
}

/// How reports name an input given on the command line: a URL without its
/// query string (a SAS token or a presigned signature is a secret), a path
/// as given.
pub fn display_name(arg: &str) -> String {
    match is_url(arg) {
        true => without_userinfo(arg.split(['?', '#']).next().unwrap_or(arg)),
        false => arg.to_owned(),
    }
}

/// A URL without a `user:password@` before its host (a secret too).
pub fn without_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
}

/// Opens an input named on the command line: a URL or a path.
pub fn open_input(arg: &str) -> Result<Source, SourceError> {
    if is_url(arg) {
        return http::open(arg);
    }
    open_path(Path::new(arg))
}

/// What wraps the disk (or disks) a source holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrapper {
    /// An EnCase (EWF) segment: the first of a set holds the disk.
    Ewf,
    /// An OVA: a tar whose OVF names the disks.
    Ova,
    /// A tar whose first member is no OVF: an OVA whose OVF comes later,
    /// or no OVA at all (then an error saying so, rather than taking its
    /// bytes for a `.reg` file).
    Tar,
}

/// How many bytes of a source [`wrapper`] looks at.
pub const WRAPPER_SNIFF: usize = 512;

/// The wrapper `head` (a source's first [`WRAPPER_SNIFF`] bytes, or fewer)
/// starts, if any.
pub fn wrapper(head: &[u8]) -> Option<Wrapper> {
    // EWF version 2 and logical evidence files too, so that they are
    // refused by name rather than read as something else.
    if ewf::is_ewf(head) {
        return Some(Wrapper::Ewf);
    }
    if tar::is_header(head) {
        // GNU tar names a pax header `./PaxHeaders/vm.ovf` after its member.
        let first = tar::header_name(head);
        let ovf = matches!(tar::header_type(head), b'0' | 0 | b'7' | b'x') && ova::is_ovf(&first);
        return Some(if ovf { Wrapper::Ova } else { Wrapper::Tar });
    }
    None
}

/// The segment number of an EWF (version 1) segment, from its first 13
/// bytes: a folder walk takes segment 1 as the input and skips the others,
/// which belong to it.
pub fn ewf_segment_number(head: &[u8]) -> Option<u16> {
    ewf::segment_number(head)
}

/// The disks a source holds, each a source of its own: the source itself,
/// the disk inside an EWF set, or each disk an OVA's OVF names (in the
/// OVF's order, named `x.ova!disk1.vmdk`).
pub fn disks(source: Source) -> Result<Vec<Source>, SourceError> {
    let mut head =
        vec![0u8; WRAPPER_SNIFF.min(usize::try_from(source.disk.size()).unwrap_or(WRAPPER_SNIFF))];
    source
        .disk
        .read_exact_at(0, &mut head)
        .map_err(|e| SourceError::Open {
            name: source.name(),
            source: e,
        })?;
    match wrapper(&head) {
        None => Ok(vec![source]),
        Some(Wrapper::Ova | Wrapper::Tar) => ova::disks(&source),
        Some(Wrapper::Ewf) => match ewf_segment_number(&head) {
            Some(n) if n != 1 => Err(SourceError::Format {
                name: source.name(),
                format: "EWF",
                offset: 9,
                what: format!(
                    "segment {n} of an EWF set: give the first segment, {}",
                    ewf::first_segment_file(&source.name())
                        .unwrap_or_else(|| "named like name.E01".into())
                ),
            }),
            _ => Ok(vec![ewf::open(source)?]),
        },
    }
}

/// The last component of a name written in an image, whichever separator it
/// uses (`C:\VMs\base.vhdx`, `../base.vmdk`): how a parent named by an
/// absolute path on another machine is found beside its child.
pub fn file_name_of(name: &str) -> &str {
    name.rsplit(['\\', '/']).next().unwrap_or(name)
}

/// The components of a relative name written in an image (either
/// separator), or `None` when it is absolute, has a drive or a `..`: such a
/// name is looked for by its file name alone.
pub fn relative_parts(name: &str) -> Option<Vec<&str>> {
    if name.is_empty() || name.starts_with(['\\', '/']) || name.contains(':') {
        return None;
    }
    let parts: Vec<&str> = name
        .split(['\\', '/'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    match parts.is_empty() || parts.contains(&"..") {
        true => None,
        false => Some(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_written_in_images() {
        assert_eq!(file_name_of(r"C:\VMs\base.vhdx"), "base.vhdx");
        assert_eq!(file_name_of("../x/base.vmdk"), "base.vmdk");
        assert_eq!(file_name_of("base.qcow2"), "base.qcow2");
        assert_eq!(relative_parts(r".\a\b.vhd"), Some(vec!["a", "b.vhd"]));
        assert_eq!(relative_parts(r"..\b.vhd"), None);
        assert_eq!(relative_parts(r"C:\b.vhd"), None);
        assert_eq!(relative_parts("/b.vhd"), None);
        assert_eq!(relative_parts(""), None);
    }

    #[test]
    fn urls_are_shown_without_their_secrets() {
        assert_eq!(
            display_name("https://u:p@host:8080/a/b.vhd?sig=x#f"),
            "https://host:8080/a/b.vhd"
        );
        assert_eq!(display_name("HTTP://host/x@y.vhd"), "HTTP://host/x@y.vhd");
        assert_eq!(display_name("disk@2.vhd?x"), "disk@2.vhd?x");
    }

    #[test]
    fn detached_bytes_name_nothing_beside_them() {
        let s = Source::detached("bytes", Arc::new(vec![0u8; 16]));
        let e = s.place.open_beside("parent.vhd").unwrap_err();
        assert!(e.to_string().contains("parent.vhd"), "{e}");
    }
}
