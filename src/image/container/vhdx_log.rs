//! The VHDX metadata log ([MS-VHDX] §2.3), replayed in memory.
//!
//! A VHDX whose active header names a log GUID was not closed cleanly (a
//! running or crashed VM): updates to its metadata and BAT may still sit in
//! the log, a circular buffer of 4 KiB sectors. Each entry (`loge`, CRC-32C
//! over the whole entry) carries zero descriptors (`zero`: clear a range)
//! and data descriptors (`desc`: one 4 KiB sector, whose middle 4084 bytes
//! are in a `data` sector of the entry). The active sequence is the run of
//! valid entries with consecutive sequence numbers, starting where its last
//! entry's `Tail` points, with the highest sequence number. Replaying it
//! means writing its sectors in order; here they become an overlay over the
//! unchanged file, which is never written.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use super::vhdx::{Header, checksum_ok};
use super::{Format, Result, invalid, le32, le64, read_at, truncated, unsupported};
use crate::image::disk::{Disk, check_range};

const FORMAT: Format = Format::Vhdx;
const SECTOR: u64 = 4096;
const MIB: u64 = 1024 * 1024;
/// Logs are 1 MiB in practice (Hyper-V, QEMU); refuse more than this, which
/// also bounds the work of finding the sequence in a crafted log.
const MAX_LOG: u64 = 8 * MIB;

/// A replayed write.
enum Write {
    Sector(Box<[u8]>),
    Zero(u64),
}

/// The file with the log's writes laid over it, in replay order.
pub(crate) struct Replayed {
    file: Arc<dyn Disk>,
    size: u64,
    writes: Vec<(u64, Write)>,
}

/// A valid log entry, parsed.
struct Entry {
    seq: u64,
    length: u64,
    tail: u64,
    flushed_file_offset: u64,
    last_file_offset: u64,
    writes: Vec<(u64, Write)>,
}

/// Replays the log named by `header` over `file`. `Ok(None)` when no valid
/// sequence is found (nothing can be replayed).
pub(crate) fn replay(
    file: Arc<dyn Disk>,
    header: &Header,
    notes: &mut Vec<String>,
) -> Result<Option<Replayed>> {
    let length = u64::from(header.log_length);
    let offset = header.log_offset;
    let at = header.at;
    if length == 0 || length % MIB != 0 || offset % MIB != 0 {
        return Err(invalid(
            FORMAT,
            at + 68,
            format!("log of {length} bytes at byte {offset} (both must be multiples of 1 MiB)"),
        ));
    }
    if length > MAX_LOG {
        return Err(unsupported(
            FORMAT,
            at + 68,
            format!("a log of {length} bytes (at most {MAX_LOG})"),
        ));
    }
    let mut log = vec![0u8; length as usize];
    read_at(&*file, FORMAT, offset, &mut log, "log")?;

    let mut entries = HashMap::new();
    for pos in (0..length).step_by(SECTOR as usize) {
        if let Some(e) = parse_entry(&log, pos, &header.log_guid) {
            entries.insert(pos, e);
        }
    }
    // Each valid entry may start a sequence; follow it while the next entry
    // is valid and numbered one more. A sequence counts if its last entry's
    // tail is where it starts.
    // (head sequence number, entry offsets, (flushed, last) file offsets)
    type Best = (u64, Vec<u64>, (u64, u64));
    let mut best: Option<Best> = None;
    for (&start, first) in &entries {
        // Sequence numbers only grow along a chain, so it cannot loop.
        let mut chain = vec![start];
        let mut head = first;
        loop {
            let next = (chain[chain.len() - 1] + head.length) % length;
            match entries.get(&next) {
                Some(n) if Some(n.seq) == head.seq.checked_add(1) => {
                    chain.push(next);
                    head = n;
                }
                _ => break,
            }
        }
        if head.tail == start && best.as_ref().is_none_or(|(s, _, _)| head.seq > *s) {
            best = Some((
                head.seq,
                chain,
                (head.flushed_file_offset, head.last_file_offset),
            ));
        }
    }
    let Some((seq, chain, (flushed, last))) = best else {
        notes.push(format!(
            "VHDX: the header at byte {at} names a log, but the log at byte {offset} holds no valid sequence; nothing was replayed"
        ));
        return Ok(None);
    };
    if file.size() < flushed {
        return Err(truncated(
            FORMAT,
            file.size(),
            format!("the file is shorter than the {flushed} bytes the log (sequence {seq}) needs"),
        ));
    }
    let size = file.size().max(last);
    let mut writes = Vec::new();
    let mut count = 0;
    for pos in &chain {
        if let Some(e) = entries.remove(pos) {
            count += e.writes.len();
            writes.extend(e.writes);
        }
    }
    notes.push(format!(
        "VHDX: the image was not closed cleanly; replayed {} log entries ({count} writes, up to sequence {seq}) in memory",
        chain.len()
    ));
    Ok(Some(Replayed { file, size, writes }))
}

/// The bytes `pos..pos + len` of the circular log.
fn circular(log: &[u8], pos: u64, len: u64) -> Option<Vec<u8>> {
    let n = log.len() as u64;
    if len > n || pos >= n {
        return None;
    }
    let start = pos as usize;
    let len = len as usize;
    let first = len.min(log.len() - start);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&log[start..start + first]);
    out.extend_from_slice(&log[..len - first]);
    Some(out)
}

fn parse_entry(log: &[u8], pos: u64, guid: &[u8; 16]) -> Option<Entry> {
    let head = circular(log, pos, 64)?;
    if !head.starts_with(b"loge") || head[32..48] != guid[..] {
        return None;
    }
    let length = u64::from(le32(&head, 8));
    let tail = u64::from(le32(&head, 12));
    let seq = le64(&head, 16);
    let descriptors = u64::from(le32(&head, 24));
    if length == 0 || length % SECTOR != 0 || tail % SECTOR != 0 || seq == 0 {
        return None;
    }
    // The header and descriptors fill the first sectors, then one data
    // sector per data descriptor: check that before reading the whole entry.
    let descriptor_sectors = (64 + 32 * descriptors).div_ceil(SECTOR);
    if descriptor_sectors * SECTOR > length {
        return None;
    }
    let table = circular(log, pos, descriptor_sectors * SECTOR)?;
    let data_descriptors = (0..descriptors)
        .filter(|i| {
            table
                .get((64 + 32 * i) as usize..)
                .is_some_and(|d| d.starts_with(b"desc"))
        })
        .count() as u64;
    if descriptor_sectors + data_descriptors != length / SECTOR {
        return None;
    }
    let mut entry = circular(log, pos, length)?;
    if !checksum_ok(&mut entry, 4) {
        return None;
    }
    let mut data_at = descriptor_sectors * SECTOR;
    let mut writes = Vec::new();
    for i in 0..descriptors {
        let d = (64 + 32 * i) as usize;
        let desc = entry.get(d..d + 32)?;
        if le64(desc, 24) != seq {
            return None;
        }
        match &desc[..4] {
            b"zero" => {
                let zero_length = le64(desc, 8);
                let file_offset = le64(desc, 16);
                if zero_length % SECTOR != 0 || file_offset % SECTOR != 0 {
                    return None;
                }
                writes.push((file_offset, Write::Zero(zero_length)));
            }
            b"desc" => {
                let trailing = le32(desc, 4).to_le_bytes();
                let leading = le64(desc, 8).to_le_bytes();
                let file_offset = le64(desc, 16);
                let sector = entry.get(data_at as usize..(data_at + SECTOR) as usize)?;
                let sector_seq = (u64::from(le32(sector, 4)) << 32) | u64::from(le32(sector, 4092));
                if !sector.starts_with(b"data") || sector_seq != seq || file_offset % SECTOR != 0 {
                    return None;
                }
                let mut bytes = vec![0u8; SECTOR as usize].into_boxed_slice();
                bytes[..8].copy_from_slice(&leading);
                bytes[8..4092].copy_from_slice(&sector[8..4092]);
                bytes[4092..].copy_from_slice(&trailing);
                writes.push((file_offset, Write::Sector(bytes)));
                data_at += SECTOR;
            }
            _ => return None,
        }
    }
    Some(Entry {
        seq,
        length,
        tail,
        flushed_file_offset: le64(&head, 48),
        last_file_offset: le64(&head, 56),
        writes,
    })
}

impl Disk for Replayed {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        // The file, then zeros up to the size the log gave it.
        let in_file = usize::try_from(self.file.size().saturating_sub(offset))
            .map_or(buf.len(), |n| n.min(buf.len()));
        let (head, rest) = buf.split_at_mut(in_file);
        self.file.read_exact_at(offset, head)?;
        rest.fill(0);
        let end = offset + buf.len() as u64;
        for (at, write) in &self.writes {
            let len = match write {
                Write::Sector(b) => b.len() as u64,
                Write::Zero(n) => *n,
            };
            let (from, to) = ((*at).max(offset), at.saturating_add(len).min(end));
            if from >= to {
                continue;
            }
            let dst = &mut buf[(from - offset) as usize..(to - offset) as usize];
            match write {
                Write::Sector(b) => {
                    let src = (from - at) as usize;
                    dst.copy_from_slice(&b[src..src + dst.len()]);
                }
                Write::Zero(_) => dst.fill(0),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn circular_reads_wrap() {
        let log: Vec<u8> = (0..8).collect();
        assert_eq!(circular(&log, 6, 4).unwrap(), [6, 7, 0, 1]);
        assert!(circular(&log, 8, 1).is_none());
        assert!(circular(&log, 0, 9).is_none());
    }

    #[test]
    fn overlay_applies_in_order() {
        let file: Arc<dyn Disk> = Arc::new(vec![1u8; 8192]);
        let r = Replayed {
            file,
            size: 12288,
            writes: vec![
                (4096, Write::Sector(vec![2u8; 4096].into_boxed_slice())),
                (6000, Write::Zero(4096)),
            ],
        };
        let mut buf = vec![0u8; 12288];
        r.read_exact_at(0, &mut buf).unwrap();
        assert!(buf[..4096].iter().all(|&b| b == 1));
        assert!(buf[4096..6000].iter().all(|&b| b == 2));
        assert!(buf[6000..].iter().all(|&b| b == 0));
        let mut one = [9u8];
        r.read_exact_at(8191, &mut one).unwrap();
        assert_eq!(one, [0]);
    }
}
