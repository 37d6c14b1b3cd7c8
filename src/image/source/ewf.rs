//! EnCase images (EWF version 1: `.E01`, split sets `.E01`, `.E02`, ...):
//! the disk an acquisition holds.
//!
//! A set is one or more segment files. Each starts with a file header (its
//! number in the set) and is a chain of sections: in the first, the volume
//! section gives the media's geometry; in every one, `sectors` sections
//! hold chunks (32 KiB of media by default, zlib-compressed or stored with
//! an Adler-32) and `table` sections (mirrored by `table2`) give each
//! chunk's offset. A `next` section ends every segment but the last, which
//! ends with `done`.
//!
//! Opening walks every section descriptor of every segment once (segments
//! are found beside the first through its [`Place`], so a set inside an
//! archive or at a URL is found the same way) and keeps where each table
//! is, not its entries: a 2 TB image has 64 million entries (256 MB). Reads
//! load a table's entries on demand into a bounded cache, and keep one
//! decompressed chunk. Every checksum on the way is checked: a mismatch is
//! an error naming the segment and the offset, since an audit must not rest
//! on bytes known to be damaged.

mod file_header;
mod naming;
mod section;
mod table;
mod volume;

use std::io;
use std::sync::{Arc, Mutex};

use flate2::{Decompress, FlushDecompress, Status};

use super::{Source, SourceError};
use crate::image::container::cache::{LastCluster, lock};
use crate::image::container::for_each_unit;
use crate::image::crc::adler32;
use crate::image::disk::{Disk, check_range};

pub use file_header::segment_number;
pub use naming::MAX_SEGMENTS;

const FORMAT: &str = "EWF";

/// The most tables a set may have: their locations cost about 50 bytes
/// each, 13 MiB at this cap, which maps 4 billion chunks (128 TiB of
/// 32 KiB chunks) at EnCase's 16375 entries per table.
pub const MAX_TABLES: usize = 1 << 18;

/// Table entries held at once (4 MiB); the least recently used table is
/// dropped first.
const CACHED_ENTRIES: usize = 1 << 20;

/// Segment files held open at once besides the first: a set may have
/// thousands, more than a process may open.
const OPEN_SEGMENTS: usize = 16;

/// Whether the first bytes of a file are an EWF segment (either version)
/// or a logical evidence file: what [`open`] speaks for, if only to refuse.
pub fn is_ewf(head: &[u8]) -> bool {
    file_header::kind(head).is_some()
}

/// The file the first segment of the set `name` (a segment's place name)
/// belongs to would have: `disk.E01` for `dir/disk.E02`.
pub fn first_segment_file(name: &str) -> Option<String> {
    naming::segment_file(naming::file_part(name), 1)
}

/// Where one table's entries are, and which chunks they map.
#[derive(Debug, Clone)]
struct Table {
    segment: u32,
    /// Offset of the entries in the segment file.
    entries: u64,
    /// Offset of the same entries in the table2 section, read when the
    /// table's do not match their checksum.
    mirror: Option<u64>,
    count: u32,
    base: u64,
    /// Whether an Adler-32 of the entries follows them.
    footer: bool,
    /// Where the data of the table's last chunk ends at the latest: the end
    /// of the sectors section that holds its chunks.
    end: u64,
    /// The index of the table's first chunk in the media.
    first: u64,
}

struct Segment {
    /// How reports name it (its place's name).
    name: String,
    /// The file name it is opened by, beside the first segment.
    file: String,
}

/// The media an EWF set holds, as a disk.
pub struct EwfDisk {
    first: Source,
    segments: Vec<Segment>,
    tables: Vec<Table>,
    chunk_size: u64,
    size: u64,
    open: Mutex<Vec<(u32, Arc<dyn Disk>)>>,
    entries: Mutex<Vec<(usize, Arc<[u32]>)>>,
    chunk: LastCluster,
}

/// Opens the EWF set whose first segment is `source`: a source whose disk
/// is the acquired media and whose place is the first segment's.
pub fn open(source: Source) -> Result<Source, SourceError> {
    let disk = EwfDisk::open(source.clone())?;
    Ok(Source {
        disk: Arc::new(disk),
        place: source.place,
    })
}

fn bad(name: &str, offset: u64, what: impl Into<String>) -> SourceError {
    SourceError::Format {
        name: name.to_owned(),
        format: FORMAT,
        offset,
        what: what.into(),
    }
}

fn read(disk: &dyn Disk, name: &str, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
    disk.read_exact_at(offset, buf).map_err(|e| {
        let what = match e.kind() {
            io::ErrorKind::UnexpectedEof => format!(
                "{} bytes wanted, the file has {} (truncated?)",
                buf.len(),
                disk.size()
            ),
            _ => format!("read failed: {e}"),
        };
        bad(name, offset, what)
    })
}

/// The segment number in a segment's file header; an error unless it is an
/// EWF version 1 segment numbered `want`.
fn check_header(disk: &dyn Disk, name: &str, want: u32) -> Result<(), SourceError> {
    let mut head = [0u8; file_header::LEN];
    read(disk, name, 0, &mut head)?;
    let what = match file_header::kind(&head) {
        Some(file_header::Kind::V1) => match file_header::segment_number(&head) {
            Some(n) if u32::from(n) == want => return Ok(()),
            Some(n) => format!("segment number {n} where segment {want} of the set was expected"),
            None => "no segment number".into(),
        },
        Some(file_header::Kind::V2) => {
            "EWF version 2 (Ex01) is not supported; ewfexport can convert it to raw".into()
        }
        Some(file_header::Kind::Logical) => {
            "a logical evidence file (L01) holds files, not a disk".into()
        }
        None => "not an EWF segment (no EVF signature)".into(),
    };
    Err(bad(name, 0, what))
}

/// What the walk of the set gathers.
#[derive(Default)]
struct Walk {
    volume: Option<volume::Volume>,
    tables: Vec<Table>,
    chunks: u64,
}

/// A table seen, waiting for the table2 that may mirror it: its header or
/// why it could not be read.
type Pending = (u64, Result<Table, String>);

impl Walk {
    fn push(&mut self, name: &str, t: Table) -> Result<(), SourceError> {
        if t.count == 0 {
            return Ok(());
        }
        if self.tables.len() >= MAX_TABLES {
            return Err(bad(
                name,
                t.entries,
                format!("more than {MAX_TABLES} tables in the set"),
            ));
        }
        self.chunks += u64::from(t.count);
        self.tables.push(t);
        Ok(())
    }

    /// A table whose table2 did not follow (or was no use) is taken alone,
    /// or is an error when its header could not be read.
    fn settle(&mut self, name: &str, pending: Option<Pending>) -> Result<(), SourceError> {
        match pending {
            None => Ok(()),
            Some((_, Ok(t))) => self.push(name, t),
            Some((at, Err(what))) => Err(bad(name, at, what)),
        }
    }

    /// Reads a table or table2 section at `at` (of `span` bytes) in segment
    /// `seg`, whose chunks end by `end`.
    fn table(
        &self,
        disk: &dyn Disk,
        seg: u32,
        at: u64,
        span: u64,
        end: u64,
    ) -> Result<Table, String> {
        let header_at = at + section::LEN;
        let mut raw = [0u8; table::HEADER_LEN as usize];
        disk.read_exact_at(header_at, &mut raw)
            .map_err(|e| format!("table header cut short: {e}"))?;
        let h = table::parse_header(&raw)?;
        let entries = header_at + table::HEADER_LEN;
        let entries_len = u64::from(h.count) * 4;
        let entries_end = entries + entries_len;
        if entries_end > disk.size() {
            return Err(format!(
                "a table of {} entries runs past the end of the file ({} bytes)",
                h.count,
                disk.size()
            ));
        }
        Ok(Table {
            segment: seg,
            entries,
            mirror: None,
            count: h.count,
            base: h.base,
            footer: span >= section::LEN + table::HEADER_LEN + entries_len + 4,
            end,
            first: self.chunks,
        })
    }

    /// Walks the sections of segment `seg` (0-based): where its `next`
    /// section is, or `None` when it is the last of the set (it ends with
    /// `done`).
    fn segment(
        &mut self,
        disk: &dyn Disk,
        name: &str,
        seg: u32,
    ) -> Result<Option<u64>, SourceError> {
        let size = disk.size();
        let mut at = file_header::LEN as u64;
        // The end of the last sectors section: the chunks of the tables
        // after it lie in it.
        let mut sectors_end: Option<u64> = None;
        let mut pending: Option<Pending> = None;
        loop {
            let mut raw = [0u8; section::LEN as usize];
            if at.checked_add(section::LEN).is_none_or(|e| e > size) {
                return Err(bad(
                    name,
                    at,
                    format!(
                        "the segment ends (at byte {size}) before its next or done section (truncated?)"
                    ),
                ));
            }
            read(disk, name, at, &mut raw)?;
            let d = section::Descriptor::parse(&raw).map_err(|w| bad(name, at, w))?;
            if d.is("next") || d.is("done") {
                self.settle(name, pending.take())?;
                return Ok(d.is("next").then_some(at));
            }
            // Every other section must move forward, so a chain that loops
            // back is found at once, and the walk ends.
            let Some(span) = d.next.checked_sub(at).filter(|&s| s >= section::LEN) else {
                return Err(bad(
                    name,
                    at,
                    format!(
                        "the {} section's next section is at byte {}, not after it (a loop?)",
                        d.kind(),
                        d.next
                    ),
                ));
            };
            if d.next > size {
                return Err(bad(
                    name,
                    at,
                    format!(
                        "the {} section's next section is at byte {}, past the end of the segment ({size} bytes; truncated?)",
                        d.kind(),
                        d.next
                    ),
                ));
            }
            // Writers disagree on the size field (0, or without the data);
            // the distance to the next section is what the section spans.
            let span = match d.size {
                s if s >= section::LEN && s <= span => s,
                _ => span,
            };
            let end = at + span;
            if d.is("table2") {
                let mirror = self.table(disk, seg, at, span, sectors_end.unwrap_or(at));
                match (pending.take(), mirror) {
                    (Some((_, Ok(mut t))), Ok(m)) if (m.count, m.base) == (t.count, t.base) => {
                        t.mirror = Some(m.entries);
                        self.push(name, t)?;
                    }
                    // The table is damaged, or not there, and its mirror
                    // is whole.
                    (Some((_, Err(_))) | None, Ok(m)) => self.push(name, m)?,
                    (p, _) => self.settle(name, p)?,
                }
            } else {
                self.settle(name, pending.take())?;
                if d.is("table") {
                    // SMART and EnCase 1 keep the chunks in the table
                    // section itself, after the entries.
                    let chunks_end = sectors_end.unwrap_or(end);
                    pending = Some((at, self.table(disk, seg, at, span, chunks_end)));
                } else if d.is("sectors") {
                    sectors_end = Some(end);
                } else if (d.is("volume") || d.is("disk")) && seg == 0 && self.volume.is_none() {
                    let len = match span - section::LEN {
                        n if n >= volume::LEN as u64 => volume::LEN,
                        _ => volume::LEN_SMART,
                    };
                    let mut data = vec![0u8; len];
                    read(disk, name, at + section::LEN, &mut data)?;
                    let v = volume::parse(&data).map_err(|w| bad(name, at, w))?;
                    self.volume = Some(v);
                }
            }
            at = d.next;
        }
    }
}

impl EwfDisk {
    fn open(first: Source) -> Result<EwfDisk, SourceError> {
        let first_name = first.name();
        check_header(first.disk.as_ref(), &first_name, 1)?;
        let first_file = naming::file_part(&first_name).to_owned();
        let mut segments = vec![Segment {
            name: first_name.clone(),
            file: first_file.clone(),
        }];
        let mut walk = Walk::default();
        let mut current = first.clone();
        for seg in 0u32.. {
            let name = current.name();
            // A next section: the set goes on.
            let Some(at) = walk.segment(current.disk.as_ref(), &name, seg)? else {
                break;
            };
            let n = seg + 2;
            if n > MAX_SEGMENTS {
                return Err(bad(
                    &name,
                    at,
                    format!("the set goes on past {MAX_SEGMENTS} segments, the most EWF names"),
                ));
            }
            let named = naming::segment_file(&first_file, 1).is_some_and(|f| f == first_file);
            let Some(file) = naming::segment_file(&first_file, n).filter(|_| named) else {
                return Err(bad(
                    &first_name,
                    0,
                    format!(
                        "the set has more than one segment, but the first is not named like one (disk.E01), so segment {n} cannot be found"
                    ),
                ));
            };
            current = first.place.open_beside(&file).map_err(|e| {
                bad(
                    &name,
                    at,
                    format!("the set goes on, but its segment {n} ({file}) is missing: {e}"),
                )
            })?;
            check_header(current.disk.as_ref(), &current.name(), n)?;
            segments.push(Segment {
                name: current.name(),
                file,
            });
        }
        let Some(v) = walk.volume else {
            return Err(bad(
                &first_name,
                0,
                "no volume section in the first segment",
            ));
        };
        let size = v.media_size().unwrap_or(u64::MAX);
        let mapped = walk.chunks.saturating_mul(v.chunk_size);
        if mapped < size {
            return Err(bad(
                &first_name,
                0,
                format!(
                    "the volume section says {} sectors of {} bytes ({size} bytes), but the tables map only {} chunks of {} bytes",
                    v.sectors, v.bytes_per_sector, walk.chunks, v.chunk_size
                ),
            ));
        }
        Ok(EwfDisk {
            first,
            segments,
            tables: walk.tables,
            chunk_size: v.chunk_size,
            size,
            open: Mutex::new(Vec::new()),
            entries: Mutex::new(Vec::new()),
            chunk: LastCluster::default(),
        })
    }

    fn name(&self, seg: u32) -> &str {
        self.segments
            .get(seg as usize)
            .map_or("?", |s| s.name.as_str())
    }

    /// Segment `seg`'s bytes, opened again beside the first when it is not
    /// among the few held open.
    fn segment(&self, seg: u32) -> Result<Arc<dyn Disk>, SourceError> {
        if seg == 0 {
            return Ok(self.first.disk.clone());
        }
        let mut open = lock(&self.open);
        if let Some(disk) = recall(&mut open, seg) {
            return Ok(disk);
        }
        let s = &self.segments[seg as usize];
        let source = self.first.place.open_beside(&s.file)?;
        check_header(source.disk.as_ref(), &s.name, seg + 1)?;
        open.insert(0, (seg, source.disk.clone()));
        open.truncate(OPEN_SEGMENTS);
        Ok(source.disk)
    }

    /// Table `t`'s entries, from the cache or read and checked.
    fn entries(&self, t: usize) -> Result<Arc<[u32]>, SourceError> {
        let mut cache = lock(&self.entries);
        if let Some(entries) = recall(&mut cache, t) {
            return Ok(entries);
        }
        let table = &self.tables[t];
        let name = self.name(table.segment);
        let disk = self.segment(table.segment)?;
        let len = table.count as usize * 4 + if table.footer { 4 } else { 0 };
        let mut raw = vec![0u8; len];
        let mut load = |at: u64| -> Result<Vec<u32>, SourceError> {
            read(disk.as_ref(), name, at, &mut raw)?;
            table::parse_entries(&raw, table.footer).map_err(|w| bad(name, at, w))
        };
        let entries: Arc<[u32]> = match (load(table.entries), table.mirror) {
            (Ok(e), _) => e.into(),
            (Err(_), Some(mirror)) => load(mirror)?.into(),
            (Err(e), None) => return Err(e),
        };
        let mut held: usize = entries.len();
        cache.retain(|(_, e)| {
            held += e.len();
            held <= CACHED_ENTRIES
        });
        cache.insert(0, (t, entries.clone()));
        Ok(entries)
    }

    /// The media bytes of chunk `index`: `chunk_size` bytes, fewer for the
    /// last chunk.
    fn load_chunk(&self, index: u64) -> Result<Vec<u8>, SourceError> {
        // The last table starting at or before the chunk.
        let t = self.tables.partition_point(|t| t.first <= index);
        let Some(table) = t.checked_sub(1).and_then(|t| self.tables.get(t)) else {
            return Err(bad(self.name(0), 0, format!("no table maps chunk {index}")));
        };
        let name = self.name(table.segment);
        let entries = self.entries(t - 1)?;
        let i = index - table.first;
        let offset_of = |e: u32| table.base.checked_add(u64::from(e & !table::COMPRESSED));
        let (entry, next) = match usize::try_from(i).ok().and_then(|i| entries.get(i..)) {
            Some([e, rest @ ..]) => (*e, rest.first().copied()),
            _ => {
                return Err(bad(
                    name,
                    table.entries,
                    format!("no table entry for chunk {index}"),
                ));
            }
        };
        let Some(at) = offset_of(entry) else {
            return Err(bad(
                name,
                table.entries,
                format!("chunk {index}'s offset overflows"),
            ));
        };
        // Where the next chunk starts, or where the last chunk's data ends.
        let end = next.and_then(offset_of).unwrap_or(table.end);
        let start = index * self.chunk_size;
        let want = (self.size - start).min(self.chunk_size) as usize;
        let disk = self.segment(table.segment)?;
        if entry & table::COMPRESSED != 0 {
            let stored = end.checked_sub(at).filter(|&n| n > 0).ok_or_else(|| {
                bad(
                    name,
                    at,
                    format!("chunk {index} ends at byte {end}, not after its start"),
                )
            })?;
            // zlib marks its own end: read no more than a chunk stored in
            // deflate blocks could take, nor past the file.
            let most = self.chunk_size + self.chunk_size / 64 + 64;
            let len = stored.min(most).min(disk.size().saturating_sub(at));
            let mut packed = vec![0u8; len as usize];
            read(disk.as_ref(), name, at, &mut packed)?;
            inflate(&packed, self.chunk_size as usize, want)
                .map_err(|w| bad(name, at, format!("chunk {index}: {w}")))
        } else {
            // Stored: the data, then its Adler-32. Its length is the
            // media's, unless the next entry tells of a full chunk (a
            // writer that pads the last one).
            let len = end
                .checked_sub(at)
                .and_then(|s| s.checked_sub(4))
                .filter(|&s| s > want as u64 && s <= self.chunk_size)
                .map_or(want, |s| s as usize);
            let mut data = vec![0u8; len + 4];
            read(disk.as_ref(), name, at, &mut data)?;
            let sum = data.split_off(len);
            let stored = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
            let computed = adler32(&data);
            if stored != computed {
                return Err(bad(
                    name,
                    at,
                    format!(
                        "chunk {index}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                    ),
                ));
            }
            data.truncate(want);
            Ok(data)
        }
    }
}

/// Inflates a zlib chunk into at most `room` bytes, of which `want` are
/// kept; the stream must end (its Adler-32 is then checked by zlib) and
/// give at least `want` bytes.
fn inflate(packed: &[u8], room: usize, want: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; room];
    let mut z = Decompress::new(true);
    let status = z
        .decompress(packed, &mut out, FlushDecompress::Finish)
        .map_err(|e| format!("does not inflate: {e}"))?;
    let got = usize::try_from(z.total_out()).unwrap_or(usize::MAX);
    if status != Status::StreamEnd {
        return Err(match got >= room {
            true => format!("inflates to more than a chunk ({room} bytes)"),
            false => format!("the compressed data is cut short after {got} bytes"),
        });
    }
    if got < want {
        return Err(format!("inflates to {got} bytes, {want} expected"));
    }
    out.truncate(want);
    Ok(out)
}

impl Disk for EwfDisk {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        for_each_unit(offset, buf, self.chunk_size, |pos, piece| {
            let index = pos / self.chunk_size;
            let at = (pos % self.chunk_size) as usize;
            self.chunk.read(index, at, piece, || {
                self.load_chunk(index).map_err(io::Error::from)
            })
        })
    }
}

/// The value kept for `key` in a most-recently-used-first list, moved to
/// the front.
fn recall<K: PartialEq, V: Clone>(list: &mut Vec<(K, V)>, key: K) -> Option<V> {
    let i = list.iter().position(|(k, _)| *k == key)?;
    let hit = list.remove(i);
    let value = hit.1.clone();
    list.insert(0, hit);
    Some(value)
}

#[cfg(test)]
mod tests;
