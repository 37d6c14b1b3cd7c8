//! A tar archive read in place: an index of its members, each a [`Source`]
//! over a window of the archive's bytes (nothing is extracted or copied).
//!
//! Reads the POSIX ustar and pax formats and GNU tar's own (`././@LongLink`
//! long names, base-256 sizes). A header is 512 bytes: the name at 0 (100
//! bytes), the size at 124 (12 bytes, octal or base-256), the checksum at
//! 148, the type at 156, the magic at 257 (`ustar\0` POSIX, `ustar  \0`
//! GNU), the name's prefix at 345 (155 bytes, POSIX only). The data follows,
//! padded to 512 bytes; one (or two) zero blocks end the archive.
//!
//! Everything an archive says is bounded before use: a pax or long-name
//! record is read only up to [`MAX_META`], a name is at most [`MAX_NAME`]
//! bytes, the index holds at most [`MAX_HEADERS`] headers, and each member's
//! data must lie inside the archive.

use std::sync::Arc;

use super::{Place, Source, SourceError, file_name_of, relative_parts};
use crate::image::disk::{Disk, Slice};

const BLOCK: u64 = 512;

/// The most headers (members, directories, pax and long-name headers) an
/// index reads: an OVA holds a handful of files; a tar of a hundred thousand
/// empty members is refused rather than walked.
pub const MAX_HEADERS: usize = 10_000;

/// The most bytes of a pax extended header or a GNU long name read.
pub const MAX_META: u64 = 1 << 20;

/// The longest member name kept (PATH_MAX on Linux): the index holds at most
/// [`MAX_HEADERS`] of them.
pub const MAX_NAME: usize = 4096;

/// The format word in errors about the archive itself.
const FORMAT: &str = "tar";

/// One file in the archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// As written in the archive, without a leading `./`.
    pub name: String,
    /// Where its header starts.
    pub header: u64,
    /// Where its data starts.
    pub offset: u64,
    pub size: u64,
    /// A GNU sparse member: its data is not the file's bytes in order.
    pub sparse: bool,
}

/// The regular files of a tar archive, in the order they are stored.
pub struct Tar {
    disk: Arc<dyn Disk>,
    place: Arc<dyn Place>,
    members: Vec<Member>,
}

impl std::fmt::Debug for Tar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tar")
            .field("name", &self.place.name())
            .field("members", &self.members)
            .finish()
    }
}

/// Whether a 512-byte block is a tar header: the ustar magic (POSIX or GNU)
/// and a checksum that adds up.
pub fn is_header(block: &[u8]) -> bool {
    block.len() >= BLOCK as usize
        && (block[257..263] == *b"ustar\0" || block[257..265] == *b"ustar  \0")
        && checksum_ok(block).unwrap_or(false)
}

/// The name in a header's name field (without the POSIX prefix).
pub fn header_name(block: &[u8]) -> String {
    text(block.get(..100).unwrap_or_default())
}

/// The header's type byte.
pub fn header_type(block: &[u8]) -> u8 {
    block.get(156).copied().unwrap_or(0)
}

/// The bytes up to the first NUL, as text (a name is bytes in tar; a name
/// that is not UTF-8 is shown with replacement characters).
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// An octal number field: leading spaces, digits, then NUL or space. `None`
/// when malformed or past `u64`.
fn octal(field: &[u8]) -> Option<u64> {
    let digits = field
        .iter()
        .skip_while(|&&b| b == b' ')
        .take_while(|&&b| b != 0 && b != b' ');
    let mut n: u64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        n = n.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// A size field: octal, or GNU base-256 (high bit of the first byte set;
/// big-endian, negative when the first byte is 0xFF).
fn number(field: &[u8]) -> Result<u64, String> {
    match field.first() {
        Some(&b) if b & 0x80 != 0 => {
            if b == 0xFF {
                return Err("a negative base-256 number".into());
            }
            let mut n = u64::from(b & 0x7F);
            for &d in &field[1..] {
                n = n
                    .checked_mul(256)
                    .and_then(|n| n.checked_add(u64::from(d)))
                    .ok_or("a base-256 number past 2^64")?;
            }
            Ok(n)
        }
        _ => octal(field).ok_or_else(|| format!("a malformed octal number {:?}", text(field))),
    }
}

/// Whether the stored checksum (at 148, octal) is the sum of the header's
/// bytes with that field read as spaces, unsigned (POSIX) or signed (some
/// old tars).
fn checksum_ok(block: &[u8]) -> Result<bool, String> {
    let stored = octal(&block[148..156])
        .ok_or_else(|| format!("a malformed checksum {:?}", text(&block[148..156])))?;
    let (unsigned, signed) = sums(block);
    Ok(stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed))
}

fn sums(block: &[u8]) -> (u64, i64) {
    block[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { b' ' } else { b })
        .fold((0u64, 0i64), |(u, s), b| {
            (u + u64::from(b), s + i64::from(b as i8))
        })
}

/// A name without its leading `./` (GNU tar writes `./x.ovf` for `tar -C
/// dir .`), so that it matches what an OVF names.
fn clean(name: &str) -> String {
    let mut n = name;
    while let Some(rest) = n.strip_prefix("./") {
        n = rest;
    }
    n.to_owned()
}

/// What the pax extended records of one header set for the next member.
#[derive(Debug, Default)]
struct Pax {
    path: Option<String>,
    size: Option<u64>,
    sparse: bool,
}

/// Parses pax records (`LEN key=value\n`, LEN counting the whole record).
fn pax_records(data: &[u8]) -> Result<Pax, String> {
    let mut pax = Pax::default();
    let mut rest = data;
    while !rest.is_empty() {
        // Some writers pad the records with NULs.
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let space = rest
            .iter()
            .take(20)
            .position(|&b| b == b' ')
            .ok_or("a pax record without a length")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a pax record with a malformed length")?;
        if len <= space + 1 || len > rest.len() || rest[len - 1] != b'\n' {
            return Err(format!(
                "a pax record of {len} bytes that does not fit its {} bytes",
                rest.len()
            ));
        }
        let record = &rest[space + 1..len - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a pax record without '='")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => {
                if value.len() > MAX_NAME {
                    return Err(format!(
                        "a pax path of {} bytes (the most read is {MAX_NAME})",
                        value.len()
                    ));
                }
                pax.path = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or("a malformed pax size")?;
                pax.size = Some(size);
            }
            k if k.starts_with(b"GNU.sparse.") => pax.sparse = true,
            _ => {}
        }
        rest = &rest[len..];
    }
    Ok(pax)
}

impl Tar {
    /// Walks the headers of the archive `source` holds.
    pub fn read(source: &Source) -> Result<Tar, SourceError> {
        let disk = source.disk.clone();
        let name = source.name();
        let fail = |offset: u64, what: String| SourceError::Format {
            name: name.clone(),
            format: FORMAT,
            offset,
            what,
        };
        let size = disk.size();
        let mut members = Vec::new();
        let mut headers = 0usize;
        let mut pax = Pax::default();
        let mut long_name: Option<String> = None;
        let mut block = [0u8; BLOCK as usize];
        let mut pos = 0u64;
        // Fewer than 512 bytes left (GNU tar pads to 10 KiB; some writers
        // leave off the end blocks): the end.
        while size.saturating_sub(pos) >= BLOCK {
            disk.read_exact_at(pos, &mut block)
                .map_err(|e| fail(pos, format!("cannot read the header: {e}")))?;
            if block.iter().all(|&b| b == 0) {
                break;
            }
            headers += 1;
            if headers > MAX_HEADERS {
                return Err(fail(
                    pos,
                    format!("more than {MAX_HEADERS} headers: not read further"),
                ));
            }
            if !checksum_ok(&block).map_err(|e| fail(pos + 148, e))? {
                let (unsigned, _) = sums(&block);
                return Err(fail(
                    pos + 148,
                    format!(
                        "header checksum mismatch (stored {}, the header adds up to {unsigned:06o}, both octal): not a tar header",
                        text(&block[148..156]).trim()
                    ),
                ));
            }
            let posix = block[257..263] == *b"ustar\0";
            if !posix && block[257..265] != *b"ustar  \0" {
                return Err(fail(
                    pos + 257,
                    "no ustar magic: an old (v7) tar, not read".into(),
                ));
            }
            let kind = header_type(&block);
            let mut data_size = number(&block[124..136]).map_err(|e| fail(pos + 124, e))?;
            let regular = matches!(kind, b'0' | 0 | b'7' | b'S');
            if regular && let Some(s) = pax.size {
                data_size = s;
            }
            // Links, devices, directories and FIFOs carry no data, whatever
            // their size field says.
            if matches!(kind, b'1'..=b'6') {
                data_size = 0;
            }
            if matches!(kind, b'x' | b'L' | b'g') && data_size > MAX_META {
                return Err(fail(
                    pos + 124,
                    format!(
                        "an extended header of {data_size} bytes (the most read is {MAX_META})"
                    ),
                ));
            }
            let data = pos + BLOCK;
            let padded = data_size
                .checked_add(BLOCK - 1)
                .map(|s| s / BLOCK * BLOCK)
                .and_then(|s| data.checked_add(s));
            let next = match padded {
                Some(n) if data.checked_add(data_size).is_some_and(|end| end <= size) => n,
                _ => {
                    return Err(fail(
                        pos,
                        format!(
                            "a member of {data_size} bytes at byte {data} runs past the end of the archive ({size} bytes)"
                        ),
                    ));
                }
            };
            match kind {
                b'x' | b'L' => {
                    let mut meta = vec![0u8; data_size as usize];
                    disk.read_exact_at(data, &mut meta)
                        .map_err(|e| fail(data, format!("cannot read: {e}")))?;
                    if kind == b'x' {
                        pax = pax_records(&meta).map_err(|e| fail(data, e))?;
                    } else {
                        let name = text(&meta);
                        if name.len() > MAX_NAME {
                            return Err(fail(
                                data,
                                format!(
                                    "a long name of {} bytes (the most read is {MAX_NAME})",
                                    name.len()
                                ),
                            ));
                        }
                        long_name = Some(name);
                    }
                }
                // Global pax records and GNU long link names say nothing an
                // audit needs.
                b'g' | b'K' => {}
                _ => {
                    let name = match (pax.path.take(), long_name.take()) {
                        (Some(p), _) => p,
                        (None, Some(l)) => l,
                        (None, None) => {
                            let base = header_name(&block);
                            let prefix = text(&block[345..500]);
                            match posix && !prefix.is_empty() {
                                true => format!("{prefix}/{base}"),
                                false => base,
                            }
                        }
                    };
                    if regular {
                        members.push(Member {
                            name: clean(&name),
                            header: pos,
                            offset: data,
                            size: data_size,
                            sparse: kind == b'S' || pax.sparse,
                        });
                    }
                    pax = Pax::default();
                }
            }
            pos = next;
        }
        Ok(Tar {
            disk,
            place: source.place.clone(),
            members,
        })
    }

    /// The regular files, in the order they are stored.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// How reports name the archive.
    pub fn name(&self) -> String {
        self.place.name()
    }

    /// The member stored under `name` (the last one, as `tar -x` leaves
    /// the last copy of a name appended twice).
    pub fn find(&self, name: &str) -> Option<usize> {
        let name = clean(name);
        self.members.iter().rposition(|m| m.name == name)
    }

    /// Member `index` as a source of its own, named `tar!member`.
    pub fn open(self: &Arc<Tar>, index: usize) -> Result<Source, SourceError> {
        let member = self.members.get(index).ok_or_else(|| SourceError::Format {
            name: self.name(),
            format: FORMAT,
            offset: 0,
            what: format!("no member {index}"),
        })?;
        if member.sparse {
            return Err(SourceError::Format {
                name: self.name(),
                format: FORMAT,
                offset: member.header,
                what: format!(
                    "{:?} is a GNU sparse member: not supported (extract it, then audit the file)",
                    member.name
                ),
            });
        }
        let slice = Slice::new(self.disk.clone(), member.offset, member.size).map_err(|e| {
            SourceError::Format {
                name: self.name(),
                format: FORMAT,
                offset: member.header,
                what: e.to_string(),
            }
        })?;
        Ok(Source {
            disk: Arc::new(slice),
            place: Arc::new(TarPlace {
                tar: self.clone(),
                index,
            }),
        })
    }

    /// Opens the member a name written in an image (or an OVF) stands for,
    /// relative to the folder `dir` inside the archive (`""` for the top):
    /// a relative name under `dir`, else its file name alone in `dir` (as a
    /// Windows or absolute path, or one with `..`, is looked for beside),
    /// else the only member anywhere with that file name.
    pub fn open_named(self: &Arc<Tar>, dir: &str, name: &str) -> Result<Source, SourceError> {
        let join = |rest: &str| match dir.is_empty() {
            true => rest.to_owned(),
            false => format!("{dir}/{rest}"),
        };
        let mut candidates = Vec::new();
        if let Some(parts) = relative_parts(name) {
            candidates.push(join(&parts.join("/")));
        }
        let alone = file_name_of(name);
        if !alone.is_empty() && alone != "." && alone != ".." {
            let beside = join(alone);
            if !candidates.contains(&beside) {
                candidates.push(beside);
            }
        }
        for c in &candidates {
            if let Some(i) = self.find(c) {
                return self.open(i);
            }
        }
        // The archive is one package: a name whose folder is not in it
        // (`C:\export\disk1.vmdk`) is the one member of that file name.
        let mut same = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| file_name_of(&m.name) == alone);
        if let (Some((i, _)), None) = (same.next(), same.next()) {
            return self.open(i);
        }
        Err(SourceError::NotFound {
            wanted: name.to_owned(),
            beside: self.name(),
            tried: candidates
                .iter()
                .map(|c| member_name(&self.name(), c))
                .collect(),
        })
    }
}

/// `x.ova!disk1.vmdk`: `!` is no path separator on any system (so the name
/// cannot be taken for a folder `x.ova/`), and Java's `jar:` URLs and
/// several archivers use it for "inside". Control characters in a member's
/// name are shown escaped, so a name cannot break a report's lines.
pub fn member_name(tar: &str, member: &str) -> String {
    let shown: String = member
        .chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect();
    format!("{tar}!{shown}")
}

/// A member of a tar archive: the files its image names are other members.
pub struct TarPlace {
    tar: Arc<Tar>,
    index: usize,
}

impl TarPlace {
    fn member(&self) -> &str {
        self.tar
            .members
            .get(self.index)
            .map_or("", |m| m.name.as_str())
    }
}

impl Place for TarPlace {
    fn name(&self) -> String {
        member_name(&self.tar.name(), self.member())
    }

    /// Another member, relative to this one's folder inside the archive (a
    /// VMDK descriptor's extents, a differencing disk's parent).
    fn open_beside(&self, name: &str) -> Result<Source, SourceError> {
        let member = self.member();
        let dir = member.rfind('/').map_or("", |i| &member[..i]);
        self.tar.open_named(dir, name).map_err(|e| match e {
            SourceError::NotFound { wanted, tried, .. } => SourceError::NotFound {
                wanted,
                beside: self.name(),
                tried,
            },
            other => other,
        })
    }

    fn identity(&self) -> String {
        format!("{}!{}", self.tar.place.identity(), self.member())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Whole archives (built byte by byte) are read in tests/ova.rs.

    #[test]
    fn numbers() {
        assert_eq!(number(b"00000001750\0"), Ok(1000));
        assert_eq!(number(b"  1750 \0\0\0\0\0"), Ok(1000));
        assert_eq!(number(&[0u8; 12]), Ok(0));
        assert_eq!(number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]), Ok(258));
        assert!(number(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(number(&[0xFF; 12]).unwrap_err().contains("negative"));
        assert!(number(b"0000000009\0\0").is_err());
        assert!(number(b"77777777777777777777777").is_err());
    }

    #[test]
    fn pax_records_are_bounded() {
        let pax = pax_records(b"17 path=a/b.vmdk\n10 size=7\n22 GNU.sparse.major=1\n\0\0").unwrap();
        assert_eq!(pax.path.as_deref(), Some("a/b.vmdk"));
        assert_eq!(pax.size, Some(7));
        assert!(pax.sparse);
        for bad in [
            &b"99 path=x\n"[..],
            b"x path\n",
            b"6 path\n",
            b"9 size=q\n",
            b"0 \n",
        ] {
            assert!(pax_records(bad).is_err(), "{bad:?}");
        }
        let long = format!("{} path={}\n", 4096 + 12, "x".repeat(4097));
        assert!(pax_records(long.as_bytes()).unwrap_err().contains("4097"));
    }

    #[test]
    fn names() {
        assert_eq!(member_name("x.ova", "a\nb.vmdk"), r"x.ova!a\nb.vmdk");
        assert_eq!(clean("././vm.ovf"), "vm.ovf");
        assert!(!is_header(&[0u8; 100]));
        assert!(!is_header(&[0u8; 512]));
    }
}
