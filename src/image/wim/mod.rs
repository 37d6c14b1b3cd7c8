//! Windows Imaging (WIM) files, such as `install.wim`: list the images and
//! read one file out of one image, without extracting anything else.
//!
//! The format, from Microsoft's "Windows Imaging File Format (WIM)" paper
//! and wimlib's documentation, one file per structure: a header
//! (`header.rs`) points at the blob table (`blob_table.rs`), the XML data
//! (`xml.rs`) and, through the blob table, each image's metadata
//! (`metadata.rs`: security data and directory tree). A file's content is
//! the blob named by the SHA-1 in its directory entry; every resource
//! (`resource.rs`) is stored raw or in independently compressed chunks
//! ([XPRESS](xpress), [LZX](lzx)).
//!
//! Reads are positioned: opening reads the header, the blob table and the
//! XML; reading a file decompresses that image's metadata resource and the
//! chunks of that file, and checks both against their SHA-1s. Memory use
//! is the blob table, one image's uncompressed metadata (tens of megabytes
//! for a full Windows image) and the file itself, whatever the WIM's size.
//!
//! Not read, with an error that says so and how to convert the image: LZMS
//! compression and solid resources (`install.esd`, WIM version 0xE00),
//! split WIMs (`.swm`) and wimlib's pipable WIMs. [`read_file_or_wimlib`]
//! hands those to `wimlib-imagex` when it is installed.

mod blob_table;
mod header;
mod huffman;
pub mod lzx;
mod metadata;
mod resource;
pub mod sha1;
mod wimlib;
mod xml;
pub mod xpress;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::image::{Disk, FileDisk};
use blob_table::BlobTable;
use header::{HEADER_SIZE, Header};
use metadata::{ATTR_ENCRYPTED, Metadata};
use resource::{Ctx, ResHdr};

pub use header::Compression;
pub use wimlib::{
    Reader, extract_with_wimlib, extract_with_wimlib_max, read_file_or_wimlib,
    read_file_or_wimlib_max, read_file_or_wimlib_with,
};
pub use xml::ImageInfo;

/// The largest file [`Wim::read_file`] returns (1 GiB); SYSTEM hives are
/// tens of megabytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The largest metadata resource read (uncompressed). Windows images have
/// tens of megabytes; it is held whole while a file is read, so more would
/// break the memory bound of an image input (see `volume::Limits`).
pub const MAX_METADATA_SIZE: u64 = 128 << 20;
/// A metadata resource may decompress to this many times the file size at
/// most (wimlib's bound), which keeps tiny corrupt files from claiming
/// gigabytes.
const METADATA_EXPANSION: u64 = 512;
/// The largest blob table and XML data read; both are stored uncompressed.
/// A blob table entry is 50 bytes, so this is over a million blobs (a
/// Windows image has a few hundred thousand).
const MAX_TABLE_SIZE: u64 = 64 << 20;

/// `MSWIM\0\0\0`, or wimlib's pipable `WLPWM\0\0\0` (which [`Wim::open`]
/// refuses with a message, rather than reading it as a raw disk).
pub fn is_wim(head: &[u8]) -> bool {
    head.starts_with(header::MAGIC) || head.starts_with(header::PIPABLE_MAGIC)
}

/// A feature of the WIM format that this reader does not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// LZMS-compressed resources.
    Lzms,
    /// Solid resources, which compress many blobs together.
    Solid,
    /// wimlib's pipable format.
    Pipable,
    /// A WIM version other than 0x10D00 and 0xE00.
    Version(u32),
    /// Compression flags naming no known compression.
    Compression(u32),
    /// A chunk size outside what the format allows for its compression.
    ChunkSize { compression: Compression, size: u32 },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Lzms => f.write_str("LZMS compression (as in install.esd)"),
            Unsupported::Solid => {
                f.write_str("a solid resource (WIM version 0xE00, as in install.esd)")
            }
            Unsupported::Pipable => f.write_str("a pipable WIM (wimlib's WLPWM format)"),
            Unsupported::Version(v) => write!(f, "WIM version {v:#x}"),
            Unsupported::Compression(flags) => write!(f, "unknown compression (flags {flags:#x})"),
            Unsupported::ChunkSize { compression, size } => {
                write!(f, "{compression} chunks of {size} bytes")
            }
        }
    }
}

/// Why a WIM could not be read. Offsets are bytes from the start of the
/// file, except where a message says otherwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WimError {
    #[error("cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },

    #[error("cannot read {what} ({len} bytes at byte {offset}): {source}")]
    Io {
        offset: u64,
        len: u64,
        what: String,
        source: io::Error,
    },

    #[error("not a WIM file: it does not start with \"MSWIM\\0\\0\\0\"")]
    NotWim,

    #[error("corrupt WIM: {what} at byte {offset}: {problem}")]
    Corrupt {
        offset: u64,
        what: String,
        problem: String,
    },

    #[error("{what} at byte {offset} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        offset: u64,
        what: String,
        size: u64,
        limit: u64,
    },

    #[error(
        "corrupt WIM: {what}: {compression} chunk {chunk} at byte {offset} does not decompress: {problem}"
    )]
    Decompress {
        offset: u64,
        what: String,
        compression: Compression,
        chunk: u64,
        problem: &'static str,
    },

    #[error(
        "corrupt WIM: {what} at byte {offset} does not match its SHA-1 {expected} (got {actual})"
    )]
    HashMismatch {
        offset: u64,
        what: String,
        expected: String,
        actual: String,
    },

    #[error(
        "this WIM uses {feature} (at byte {offset}), which tlsreg cannot read; convert the image \
         with `wimlib-imagex export SRC.wim N DST.wim --compress=lzx`, or install wimlib-imagex \
         (package wimtools)"
    )]
    Unsupported { offset: u64, feature: Unsupported },

    #[error(
        "this is part {part} of a split WIM ({total} parts, .swm), which tlsreg cannot read; join \
         it with `wimlib-imagex export SRC.swm N DST.wim --ref=\"SRC*.swm\" --compress=lzx`"
    )]
    Split { part: u16, total: u16 },

    #[error("image {index} does not exist: the WIM holds {count} image(s), numbered from 1")]
    NoSuchImage { index: u32, count: u32 },

    #[error("{path} in image {index} is {kind}, not a plain file")]
    NotAFile {
        index: u32,
        path: String,
        kind: &'static str,
    },

    #[error(
        "wimlib-imagex is not installed (not found on PATH); install wimtools \
         (Debian/Ubuntu: apt install wimtools) to read this WIM"
    )]
    WimlibMissing,

    #[error("`{command}` failed ({status}): {stderr}")]
    WimlibFailed {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("{ours}; and wimlib-imagex could not read it either: {wimlib}")]
    BothFailed {
        ours: Box<WimError>,
        wimlib: Box<WimError>,
    },
}

impl WimError {
    /// Whether the WIM is valid but uses a feature this reader lacks (so
    /// that `wimlib-imagex` may read it).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, WimError::Unsupported { .. })
    }
}

/// One entry of an image's directory tree, from [`Wim::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path components from the image's root.
    pub path: Vec<String>,
    pub is_dir: bool,
    /// Size of the unnamed data stream (0 for directories and links).
    pub size: u64,
    /// Windows file attributes.
    pub attributes: u32,
}

/// An open WIM file.
pub struct Wim {
    disk: Arc<dyn Disk>,
    header: Header,
    blobs: BlobTable,
    images: Vec<ImageInfo>,
    /// The last metadata resource read: (image index, bytes).
    metadata: Mutex<Option<(u32, Arc<Vec<u8>>)>>,
}

impl fmt::Debug for Wim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wim")
            .field("header", &self.header)
            .field("images", &self.images)
            .finish_non_exhaustive()
    }
}

/// Splits `Windows/System32/config/SYSTEM` or `\Windows\System32\...` into
/// components, dropping empty ones.
pub fn path_components(path: &str) -> Vec<&str> {
    path.split(['/', '\\']).filter(|c| !c.is_empty()).collect()
}

impl Wim {
    /// Opens a WIM file: reads its header, blob table and XML data.
    pub fn open(path: impl AsRef<Path>) -> Result<Wim, WimError> {
        let path = path.as_ref();
        let open_err = |source| WimError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = crate::image::disk::open_regular(path).map_err(open_err)?;
        let disk = FileDisk::new(file).map_err(open_err)?;
        Wim::from_disk(Arc::new(disk))
    }

    /// Opens a WIM held by any [`Disk`] (a file, bytes in memory, a slice).
    pub fn from_disk(disk: Arc<dyn Disk>) -> Result<Wim, WimError> {
        let head_len = disk.size().min(HEADER_SIZE as u64) as usize;
        let mut head = vec![0u8; head_len];
        disk.read_exact_at(0, &mut head)
            .map_err(|source| WimError::Io {
                offset: 0,
                len: head_len as u64,
                what: "header".into(),
                source,
            })?;
        let header = Header::parse(&head)?;
        let ctx = Ctx {
            disk: disk.as_ref(),
            compression: header.compression,
            chunk_size: header.chunk_size,
        };
        let table_limit = MAX_TABLE_SIZE.min(disk.size());

        let raw = ctx.read(&header.blob_table, "blob table", table_limit)?;
        let blobs = BlobTable::parse(&raw, header.blob_table.offset)?;
        drop(raw);
        if (blobs.metadata.len() as u64) < u64::from(header.image_count) {
            return Err(WimError::Corrupt {
                offset: header.blob_table.offset,
                what: "blob table".into(),
                problem: format!(
                    "{} metadata resources for {} images",
                    blobs.metadata.len(),
                    header.image_count
                ),
            });
        }

        let described = if header.xml.original_size == 0 {
            Vec::new()
        } else {
            let raw = ctx.read(&header.xml, "XML data", table_limit)?;
            xml::images(&xml::decode(&raw)).map_err(|problem| WimError::Corrupt {
                offset: header.xml.offset,
                what: "XML data".into(),
                problem,
            })?
        };
        let images = (1..=header.image_count)
            .map(|index| {
                described
                    .iter()
                    .find(|i| i.index == index)
                    .cloned()
                    .unwrap_or(ImageInfo {
                        index,
                        ..ImageInfo::default()
                    })
            })
            .collect();

        Ok(Wim {
            disk,
            header,
            blobs,
            images,
            metadata: Mutex::new(None),
        })
    }

    /// The images, image 1 first, with what the XML data says of them.
    pub fn images(&self) -> &[ImageInfo] {
        &self.images
    }

    pub fn image_count(&self) -> u32 {
        self.header.image_count
    }

    pub fn compression(&self) -> Compression {
        self.header.compression
    }

    pub fn chunk_size(&self) -> u32 {
        self.header.chunk_size
    }

    /// The WIM version: 0x10D00, or 0xE00 for WIMs that may hold solid
    /// resources.
    pub fn version(&self) -> u32 {
        self.header.version
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            disk: self.disk.as_ref(),
            compression: self.header.compression,
            chunk_size: self.header.chunk_size,
        }
    }

    /// The uncompressed size of image `index`'s metadata resource, which
    /// reading any of its files holds in memory.
    pub fn metadata_size(&self, index: u32) -> Result<u64, WimError> {
        Ok(self.metadata_entry(index)?.original_size)
    }

    fn metadata_entry(&self, index: u32) -> Result<ResHdr, WimError> {
        let count = self.header.image_count;
        if index == 0 || index > count {
            return Err(WimError::NoSuchImage { index, count });
        }
        Ok(self.blobs.metadata[index as usize - 1].res)
    }

    /// The uncompressed metadata resource of image `index`, checked against
    /// its SHA-1; the last one read is kept.
    fn metadata_bytes(&self, index: u32) -> Result<Arc<Vec<u8>>, WimError> {
        let res = self.metadata_entry(index)?;
        let mut cache = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((i, bytes)) = cache.as_ref() {
            if *i == index {
                return Ok(bytes.clone());
            }
        }
        let what = format!("metadata resource of image {index}");
        let limit = MAX_METADATA_SIZE.min(self.disk.size().saturating_mul(METADATA_EXPANSION));
        let bytes = self.ctx().read(&res, &what, limit)?;
        let expected = self.blobs.metadata[index as usize - 1].hash;
        check_hash(&bytes, &expected, res.offset, &what)?;
        let bytes = Arc::new(bytes);
        *cache = Some((index, bytes.clone()));
        Ok(bytes)
    }

    fn with_metadata<T>(
        &self,
        index: u32,
        f: impl FnOnce(&Metadata) -> Result<T, WimError>,
    ) -> Result<T, WimError> {
        let bytes = self.metadata_bytes(index)?;
        let res = self.metadata_entry(index)?;
        let md = Metadata::new(
            &bytes,
            res.offset,
            format!("metadata resource of image {index}"),
        )?;
        f(&md)
    }

    /// Reads one file of image `index` (from 1), found by path components
    /// matched case-insensitively, e.g.
    /// `["Windows", "System32", "config", "SYSTEM"]`. `None` when the path
    /// does not exist. Files over [`DEFAULT_MAX_FILE_SIZE`] are an error.
    pub fn read_file(&self, index: u32, path: &[&str]) -> Result<Option<Vec<u8>>, WimError> {
        self.read_file_max(index, path, DEFAULT_MAX_FILE_SIZE)
    }

    /// As [`read_file`](Self::read_file), with a size limit of `max_size`
    /// bytes.
    pub fn read_file_max(
        &self,
        index: u32,
        path: &[&str],
        max_size: u64,
    ) -> Result<Option<Vec<u8>>, WimError> {
        let path: Vec<&str> = path.iter().copied().filter(|c| !c.is_empty()).collect();
        let shown = format!("/{}", path.join("/"));
        let Some(d) = self.with_metadata(index, |md| md.lookup(&path))? else {
            return Ok(None);
        };
        let not_a_file = |kind| WimError::NotAFile {
            index,
            path: shown.clone(),
            kind,
        };
        if d.is_dir() {
            return Err(not_a_file("a directory"));
        }
        if d.is_reparse_point() {
            return Err(not_a_file("a reparse point (a link)"));
        }
        if d.attributes & ATTR_ENCRYPTED != 0 {
            return Err(not_a_file("an encrypted (EFS) file"));
        }
        let Some(hash) = d.data else {
            return Ok(Some(Vec::new()));
        };
        let what = format!("data of {shown} in image {index}");
        let blob = self.blobs.get(&hash).ok_or_else(|| WimError::Corrupt {
            offset: self.header.blob_table.offset,
            what: "blob table".into(),
            problem: format!("no entry for the SHA-1 {} of {shown}", sha1::hex(&hash)),
        })?;
        if blob.res.flags & resource::FLAG_SOLID != 0 {
            return Err(WimError::Unsupported {
                offset: blob.at,
                feature: Unsupported::Solid,
            });
        }
        let data = self.ctx().read(&blob.res, &what, max_size)?;
        check_hash(&data, &hash, blob.res.offset, &what)?;
        Ok(Some(data))
    }

    /// Every file and directory of image `index`, with its size.
    pub fn list(&self, index: u32) -> Result<Vec<Entry>, WimError> {
        let found = self.with_metadata(index, |md| md.walk())?;
        found
            .into_iter()
            .map(|(path, d)| {
                let size = match &d.data {
                    None => 0,
                    Some(h) => match self.blobs.get(h) {
                        Some(b) => b.size(),
                        None => {
                            return Err(WimError::Corrupt {
                                offset: self.header.blob_table.offset,
                                what: "blob table".into(),
                                problem: format!(
                                    "no entry for the SHA-1 {} of /{}",
                                    sha1::hex(h),
                                    path.join("/")
                                ),
                            });
                        }
                    },
                };
                Ok(Entry {
                    is_dir: d.is_dir(),
                    size,
                    attributes: d.attributes,
                    path,
                })
            })
            .collect()
    }

    /// The stored chunks of the file at `path` in image `index` (for tests
    /// of the decoders): each chunk's stored bytes and original size.
    #[doc(hidden)]
    pub fn raw_chunks(&self, index: u32, path: &[&str]) -> Result<Vec<(Vec<u8>, u64)>, WimError> {
        let d = self
            .with_metadata(index, |md| md.lookup(path))?
            .ok_or_else(|| WimError::NotAFile {
                index,
                path: path.join("/"),
                kind: "missing",
            })?;
        let hash = d.data.ok_or_else(|| WimError::NotAFile {
            index,
            path: path.join("/"),
            kind: "empty",
        })?;
        let blob = self.blobs.get(&hash).ok_or(WimError::NotWim)?;
        let ctx = self.ctx();
        let mut out = Vec::new();
        if !blob.res.is_compressed() {
            return Ok(out);
        }
        for c in ctx.chunks(&blob.res, "test", DEFAULT_MAX_FILE_SIZE)? {
            let mut b = vec![0u8; c.stored as usize];
            self.disk
                .read_exact_at(c.offset, &mut b)
                .map_err(|source| WimError::Io {
                    offset: c.offset,
                    len: c.stored,
                    what: "chunk".into(),
                    source,
                })?;
            out.push((b, c.original));
        }
        Ok(out)
    }
}

fn check_hash(data: &[u8], expected: &sha1::Sha1, offset: u64, what: &str) -> Result<(), WimError> {
    let actual = sha1::sha1(data);
    if actual != *expected {
        return Err(WimError::HashMismatch {
            offset,
            what: what.to_string(),
            expected: sha1::hex(expected),
            actual: sha1::hex(&actual),
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/images/wim")
            .join(name)
    }

    /// `payload.sha1`: (image tag, SHA-1 hex, size, path).
    pub fn manifest() -> Vec<(String, String, u64, String)> {
        std::fs::read_to_string(fixture("payload.sha1"))
            .expect("payload.sha1")
            .lines()
            .map(|l| {
                let mut f = l.splitn(4, ' ');
                let mut next = || f.next().expect("4 fields").to_string();
                let (tag, sha, size, path) = (next(), next(), next(), next());
                (tag, sha, size.parse().expect("size"), path)
            })
            .collect()
    }

    /// (path, SHA-1 hex, chunks as (stored bytes, original size)).
    pub type CompressedFile = (String, String, Vec<(Vec<u8>, u64)>);

    /// Every compressed file of image 1 of a fixture: its path, the SHA-1
    /// it must have, and its stored chunks.
    pub fn compressed_files(name: &str) -> Vec<CompressedFile> {
        let wim = Wim::open(fixture(name)).expect("fixture opens");
        let mut out = Vec::new();
        for (tag, sha, size, path) in manifest() {
            if tag != "std" || size == 0 {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            let chunks = wim.raw_chunks(1, &parts).expect("chunks");
            if !chunks.is_empty() {
                out.push((path, sha, chunks));
            }
        }
        out
    }
}
