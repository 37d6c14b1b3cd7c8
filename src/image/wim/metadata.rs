//! An image's metadata resource: the security data, then the dentry tree.
//!
//! Security data: total length (u32, rounded up to 8; 0 means 8), number of
//! descriptors (u32), their sizes (u64 each), the descriptors. The root
//! dentry follows it.
//!
//! Dentry (all little-endian):
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 8 | length (rounded up to 8; 0 ends a directory's list) |
//! | 8 | 4 | attributes (0x10 directory, 0x400 reparse point, 0x4000 encrypted) |
//! | 12 | 4 | security id |
//! | 16 | 8 | offset of the first child in this resource (0: none) |
//! | 24 | 16 | unused |
//! | 40 | 24 | creation, last access, last write times |
//! | 64 | 20 | SHA-1 of the unnamed data stream (zero: empty, or see below) |
//! | 84 | 4 | unknown |
//! | 88 | 8 | reparse tag and flags, or hard link group id |
//! | 96 | 2 | number of extra stream entries |
//! | 98 | 2 | short name length in bytes |
//! | 100 | 2 | name length in bytes |
//! | 102 | | name (UTF-16LE) and NUL, short name and NUL |
//!
//! Extra stream entries follow the dentry, each 8-byte aligned: length (u64),
//! reserved (u64), SHA-1 (20), name length (u16), name. A file with named
//! streams may keep its unnamed data in an unnamed extra entry, leaving the
//! dentry's own SHA-1 zero. Siblings follow each other; a directory's
//! children start at its child offset.

use std::collections::HashSet;

use super::WimError;
use super::sha1::Sha1;

pub const ATTR_DIRECTORY: u32 = 0x10;
pub const ATTR_REPARSE_POINT: u32 = 0x400;
pub const ATTR_ENCRYPTED: u32 = 0x4000;

const DENTRY_FIXED: u64 = 102;
const STREAM_FIXED: u64 = 38;
/// Deeper trees are refused (Windows paths stop far earlier).
const MAX_DEPTH: usize = 4096;

fn align8(n: u64) -> Option<u64> {
    n.checked_add(7).map(|v| v & !7)
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dentry {
    /// Where it starts in the metadata resource.
    pub offset: u64,
    pub attributes: u32,
    /// Offset of the first child, or 0.
    pub subdir: u64,
    pub name: String,
    /// SHA-1 of the unnamed data stream; `None` when empty.
    pub data: Option<Sha1>,
    /// Where the next sibling starts.
    pub next: u64,
}

impl Dentry {
    pub fn is_dir(&self) -> bool {
        self.attributes & ATTR_DIRECTORY != 0
    }

    pub fn is_reparse_point(&self) -> bool {
        self.attributes & ATTR_REPARSE_POINT != 0
    }
}

/// A parsed view of one image's metadata resource.
pub struct Metadata<'m> {
    m: &'m [u8],
    /// Offset in the file of the metadata resource, for errors.
    base: u64,
    what: String,
    root: Dentry,
}

impl<'m> Metadata<'m> {
    /// `m` is the whole uncompressed resource, read from `base` in the file.
    pub fn new(m: &'m [u8], base: u64, what: String) -> Result<Self, WimError> {
        let len = m.len() as u64;
        let corrupt = |offset: u64, problem: String| WimError::Corrupt {
            offset,
            what: what.clone(),
            problem,
        };
        if len < 8 {
            return Err(corrupt(
                base,
                format!("{len} bytes, too short for security data"),
            ));
        }
        let total = u64::from(u32::from_le_bytes(m[0..4].try_into().expect("4 bytes")));
        let total = align8(total).expect("small").max(8);
        let count = u64::from(u32::from_le_bytes(m[4..8].try_into().expect("4 bytes")));
        if total > len || 8 + count * 8 > total {
            return Err(corrupt(
                base,
                format!("security data of {total} bytes with {count} descriptors, in {len} bytes"),
            ));
        }
        let mut md = Metadata {
            m,
            base,
            what: what.clone(),
            root: Dentry {
                offset: 0,
                attributes: ATTR_DIRECTORY,
                subdir: 0,
                name: String::new(),
                data: None,
                next: 0,
            },
        };
        let root = md
            .dentry_at(total)?
            .ok_or_else(|| corrupt(base + total, "no root directory entry".into()))?;
        if !root.is_dir() {
            return Err(corrupt(base + total, "the root is not a directory".into()));
        }
        md.root = root;
        Ok(md)
    }

    fn corrupt(&self, offset: u64, problem: String) -> WimError {
        WimError::Corrupt {
            offset: self.base.saturating_add(offset),
            what: self.what.clone(),
            problem,
        }
    }

    fn bytes(&self, offset: u64, len: u64, item: &str) -> Result<&'m [u8], WimError> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if end <= self.m.len() as u64 => Ok(&self.m[offset as usize..end as usize]),
            _ => Err(self.corrupt(
                offset,
                format!(
                    "{item} of {len} bytes at {offset} runs past the end ({} bytes; offsets here are in the uncompressed resource)",
                    self.m.len()
                ),
            )),
        }
    }

    /// The dentry at `offset`, or `None` for the end of a directory.
    pub fn dentry_at(&self, offset: u64) -> Result<Option<Dentry>, WimError> {
        let b = self.bytes(offset, 8, "directory entry")?;
        let length = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        if length == 0 {
            return Ok(None);
        }
        let aligned = align8(length).unwrap_or(u64::MAX);
        if length < DENTRY_FIXED {
            return Err(self.corrupt(offset, format!("directory entry length {length}")));
        }
        let b = self.bytes(offset, aligned, "directory entry")?;
        let u16_at = |at: usize| u64::from(u16::from_le_bytes([b[at], b[at + 1]]));
        let attributes = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes"));
        let subdir = u64::from_le_bytes(b[16..24].try_into().expect("8 bytes"));
        let hash: Sha1 = b[64..84].try_into().expect("20 bytes");
        let streams = u16_at(96);
        let short_len = u16_at(98);
        let name_len = u16_at(100);
        if name_len % 2 == 1 || short_len % 2 == 1 {
            return Err(self.corrupt(offset, "odd UTF-16 name length".into()));
        }
        let names = (if name_len > 0 { name_len + 2 } else { 0 })
            + (if short_len > 0 { short_len + 2 } else { 0 });
        if DENTRY_FIXED + names > length {
            return Err(self.corrupt(
                offset,
                format!("names of {names} bytes do not fit a {length}-byte entry"),
            ));
        }
        let name = decode_utf16(&b[DENTRY_FIXED as usize..(DENTRY_FIXED + name_len) as usize]);

        // Extra stream entries: the unnamed one, if any, may hold the data.
        let mut next = offset + aligned;
        let mut data = (hash != [0; 20]).then_some(hash);
        let mut unnamed_seen = data.is_some();
        for _ in 0..streams {
            let s = self.bytes(next, STREAM_FIXED, "stream entry")?;
            let slen = u64::from_le_bytes(s[0..8].try_into().expect("8 bytes"));
            let snlen = u64::from(u16::from_le_bytes([s[36], s[37]]));
            let saligned = align8(slen).unwrap_or(u64::MAX);
            if slen < STREAM_FIXED || STREAM_FIXED + snlen > slen {
                return Err(self.corrupt(next, format!("stream entry length {slen}")));
            }
            self.bytes(next, saligned, "stream entry")?;
            if snlen == 0 && !unnamed_seen {
                let h: Sha1 = s[16..36].try_into().expect("20 bytes");
                unnamed_seen = true;
                data = (h != [0; 20]).then_some(h);
            }
            next += saligned;
        }
        // A reparse point's unnamed stream is its reparse data, not content.
        if attributes & ATTR_REPARSE_POINT != 0 {
            data = None;
        }
        Ok(Some(Dentry {
            offset,
            attributes,
            subdir,
            name,
            data,
            next,
        }))
    }

    /// The children of a directory, in stored order; names that cannot be
    /// path components (empty, ".", "..", with a slash) are skipped, as
    /// wimlib does.
    pub fn children(&self, dir: &Dentry) -> Result<Vec<Dentry>, WimError> {
        let mut out = Vec::new();
        if !dir.is_dir() || dir.subdir == 0 {
            return Ok(out);
        }
        let mut at = dir.subdir;
        // Every entry is at least 104 bytes, so this ends.
        while let Some(d) = self.dentry_at(at)? {
            at = d.next;
            if d.name.is_empty() || d.name == "." || d.name == ".." || d.name.contains(['/', '\\'])
            {
                continue;
            }
            out.push(d);
        }
        Ok(out)
    }

    /// Finds a path, matching names case-insensitively (an exact match
    /// wins over one that differs in case).
    pub fn lookup(&self, path: &[&str]) -> Result<Option<Dentry>, WimError> {
        let mut cur = self.root.clone();
        let mut seen = HashSet::new();
        for (i, want) in path.iter().enumerate() {
            if !cur.is_dir() || cur.is_reparse_point() {
                return Ok(None);
            }
            if !seen.insert(cur.subdir) {
                return Err(self.corrupt(
                    cur.offset,
                    format!(
                        "directory loop: the children of {:?} were already visited",
                        cur.name
                    ),
                ));
            }
            let kids = self.children(&cur)?;
            let found = kids
                .iter()
                .find(|d| d.name == *want)
                .or_else(|| kids.iter().find(|d| eq_ignore_case(&d.name, want)));
            match found {
                Some(d) => cur = d.clone(),
                None => return Ok(None),
            }
            if i + 1 == path.len() {
                return Ok(Some(cur));
            }
        }
        Ok(Some(cur))
    }

    /// Every entry under the root, depth first, with its path. Each
    /// directory's list is read once: a list reached twice is a loop (or a
    /// shared subtree) and an error.
    pub fn walk(&self) -> Result<Vec<(Vec<String>, Dentry)>, WimError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<(Vec<String>, Dentry)> = vec![(Vec::new(), self.root.clone())];
        while let Some((path, dir)) = stack.pop() {
            if !dir.is_dir() || dir.is_reparse_point() || dir.subdir == 0 {
                continue;
            }
            if path.len() >= MAX_DEPTH {
                return Err(self.corrupt(dir.offset, "directory tree too deep".into()));
            }
            if !seen.insert(dir.subdir) {
                return Err(self.corrupt(
                    dir.offset,
                    format!(
                        "directory loop: the children of {:?} were already visited",
                        dir.name
                    ),
                ));
            }
            let kids = self.children(&dir)?;
            let first = out.len();
            for d in kids {
                let mut p = path.clone();
                p.push(d.name.clone());
                out.push((p, d));
            }
            // Each directory's children come out together, in stored order.
            for (p, d) in out[first..].iter().rev() {
                stack.push((p.clone(), d.clone()));
            }
        }
        Ok(out)
    }
}

fn decode_utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Compares names as Windows does, by simple per-character upper-casing.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    fn up(c: char) -> char {
        let mut u = c.to_uppercase();
        match (u.next(), u.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
    a.chars().map(up).eq(b.chars().map(up))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding() {
        assert!(eq_ignore_case("System32", "SYSTEM32"));
        assert!(eq_ignore_case("ÉTÉ", "été"));
        assert!(!eq_ignore_case("straße", "STRASSE"));
        assert!(!eq_ignore_case("config", "confi"));
    }
}
