//! qcow2 (QEMU `docs/interop/qcow2.rst`), versions 2 and 3.
//!
//! Big-endian header (`QFI\xfb`), then a two-level map: the L1 table (u64
//! entries, contiguous) points to L2 tables of one cluster each, whose u64
//! entries give each guest cluster's host offset, or say it is compressed
//! (deflate without zlib header, or zstd when the header says so), or reads
//! as zeros. Refused: encryption, external data files and extended L2
//! entries (subclusters). Internal snapshots do not matter: the active L1
//! table is the disk.
//!
//! An overlay names its backing file in the header (`backing_file_offset`,
//! `backing_file_size`); its format is the backing file format header
//! extension (0xE2792ACA) when there is one, `raw` or an image this module
//! reads, else found from its bytes as qemu probes it (plain bytes when no
//! signature). An unallocated cluster (no L2 table, or an L2 entry of 0)
//! reads from the backing file, past whose end it reads zeros; a v3 cluster
//! with the zero flag reads as zeros.

use std::io::{self, Read};
use std::sync::Arc;

use super::cache::{LastCluster, Tables};
use super::{
    Chain, Format, ParentKind, Result, be32, be64, for_each_entry, for_each_unit, invalid, read_at,
    read_parent, read_payload, table_error, truncated, unsupported,
};
use crate::image::disk::{Disk, check_range};

pub(crate) const MAGIC: &[u8] = b"QFI\xfb";
const FORMAT: Format = Format::Qcow2;
/// Bits 9–55: the offset of an L2 table or of a standard cluster.
const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const COMPRESSED: u64 = 1 << 62;
const ZERO: u64 = 1;
/// QEMU's own limit on the L1 table.
const MAX_L1_BYTES: u64 = 32 << 20;
/// QEMU's own limit on a backing file name.
const MAX_BACKING_NAME: u32 = 1023;
/// The header extension naming the backing file's format.
const EXT_BACKING_FORMAT: u32 = 0xE279_2ACA;

const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Compression {
    Deflate,
    Zstd,
}

struct Qcow2 {
    file: Arc<dyn Disk>,
    tables: Tables,
    size: u64,
    cluster_bits: u32,
    l1_offset: u64,
    /// v3: bit 0 of a standard L2 entry means "reads as zeros".
    zero_flag: bool,
    compression: Compression,
    last: LastCluster,
    /// The backing file: unallocated clusters read from it.
    backing: Option<Arc<dyn Disk>>,
}

pub(crate) fn open(
    file: Arc<dyn Disk>,
    chain: &Chain<'_>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn Disk>> {
    let mut h = [0u8; 112];
    read_at(&*file, FORMAT, 0, &mut h[..72], "header")?;
    let version = be32(&h, 4);
    if !(2..=3).contains(&version) {
        return Err(unsupported(FORMAT, 4, format!("version {version}")));
    }
    let cluster_bits = be32(&h, 20);
    if !(9..=21).contains(&cluster_bits) {
        return Err(invalid(
            FORMAT,
            20,
            format!("cluster_bits {cluster_bits} is outside 9..=21"),
        ));
    }
    let size = be64(&h, 24);
    match be32(&h, 32) {
        0 => {}
        1 => return Err(unsupported(FORMAT, 32, "AES encryption")),
        2 => return Err(unsupported(FORMAT, 32, "LUKS encryption")),
        m => return Err(unsupported(FORMAT, 32, format!("encryption method {m}"))),
    }
    let mut compression = Compression::Deflate;
    let mut header_length_v3 = 0;
    if version == 3 {
        read_at(&*file, FORMAT, 72, &mut h[72..104], "version 3 header")?;
        let header_length = be32(&h, 100);
        if header_length < 104 {
            return Err(invalid(
                FORMAT,
                100,
                format!("header_length {header_length} is below 104"),
            ));
        }
        if header_length > 104 {
            read_at(&*file, FORMAT, 104, &mut h[104..105], "compression type")?;
        }
        let header_end = u64::from(header_length);
        let incompat = be64(&h, 72);
        if incompat & INCOMPAT_DIRTY != 0 {
            notes.push("qcow2: the dirty bit is set (refcounts may be stale; the data map is read as it is)".into());
        }
        if incompat & INCOMPAT_CORRUPT != 0 {
            notes.push("qcow2: the image is marked corrupt; reads may return damaged data".into());
        }
        if incompat & INCOMPAT_DATA_FILE != 0 {
            return Err(unsupported(FORMAT, 72, "external data file"));
        }
        if incompat & INCOMPAT_EXTL2 != 0 {
            return Err(unsupported(FORMAT, 72, "extended L2 entries (subclusters)"));
        }
        let unknown = incompat & !0x1f;
        if unknown != 0 {
            return Err(unsupported(
                FORMAT,
                72,
                format!("unknown incompatible feature bits {unknown:#x}"),
            ));
        }
        let kind = if header_length > 104 { h[104] } else { 0 };
        header_length_v3 = header_end;
        compression = match (incompat & INCOMPAT_COMPRESSION != 0, kind) {
            (false, 0) => Compression::Deflate,
            (true, 1) => Compression::Zstd,
            (true, 0) | (false, _) => {
                return Err(invalid(
                    FORMAT,
                    104,
                    format!("compression type {kind} disagrees with the compression feature bit"),
                ));
            }
            (true, k) => return Err(unsupported(FORMAT, 104, format!("compression type {k}"))),
        };
    }
    let cluster_size = 1u64 << cluster_bits;
    let header_end = if version == 3 { header_length_v3 } else { 72 };
    let backing = match be64(&h, 8) {
        0 => None,
        at => {
            let len = be32(&h, 16);
            if len == 0 || len > MAX_BACKING_NAME {
                return Err(invalid(
                    FORMAT,
                    16,
                    format!("backing file name of {len} bytes (1 to {MAX_BACKING_NAME})"),
                ));
            }
            let mut name = vec![0u8; len as usize];
            read_at(&*file, FORMAT, at, &mut name, "backing file name")?;
            let name = String::from_utf8_lossy(&name).into_owned();
            let kind = match backing_format(&*file, header_end, cluster_size)? {
                Some(f) if f == "raw" => ParentKind::Raw,
                Some(_) => ParentKind::Image,
                None => ParentKind::ImageElseRaw,
            };
            let parent = chain.parent(&[name], (FORMAT, at), kind, |_| Ok(()))?;
            parent.note("qcow2 overlay", notes);
            Some(parent.opened.disk)
        }
    };

    let l2_entries = cluster_size / 8;
    let l1_needed = size.div_ceil(cluster_size).div_ceil(l2_entries);
    let l1_size = u64::from(be32(&h, 36));
    let l1_offset = be64(&h, 40);
    if l1_needed * 8 > MAX_L1_BYTES {
        return Err(invalid(
            FORMAT,
            24,
            format!(
                "a virtual size of {size} bytes needs an L1 table of {l1_needed} entries, over the 32 MiB limit"
            ),
        ));
    }
    if l1_size < l1_needed {
        return Err(invalid(
            FORMAT,
            36,
            format!("the L1 table has {l1_size} entries, a disk of {size} bytes needs {l1_needed}"),
        ));
    }
    if l1_offset % cluster_size != 0 {
        return Err(invalid(
            FORMAT,
            40,
            format!("L1 table offset {l1_offset} is not cluster-aligned"),
        ));
    }
    if l1_offset
        .checked_add(l1_needed * 8)
        .is_none_or(|end| end > file.size())
    {
        return Err(truncated(
            FORMAT,
            l1_offset,
            format!("L1 table of {l1_needed} entries"),
        ));
    }
    check_l1(&*file, l1_offset, l1_needed, cluster_size)?;
    Ok(Arc::new(Qcow2 {
        tables: Tables::new(file.clone()),
        file,
        size,
        cluster_bits,
        l1_offset,
        zero_flag: version >= 3,
        compression,
        last: LastCluster::default(),
        backing,
    }))
}

/// The backing file format header extension's value, if there is one. The
/// extensions follow the header, up to the end of the first cluster (at
/// most 2 MiB, read at once).
fn backing_format(file: &dyn Disk, header_end: u64, cluster_size: u64) -> Result<Option<String>> {
    let end = cluster_size.min(file.size());
    let Some(len) = end.checked_sub(header_end) else {
        return Ok(None);
    };
    let mut area = vec![0u8; len as usize];
    read_at(file, FORMAT, header_end, &mut area, "header extensions")?;
    let mut at = 0usize;
    while let Some(e) = area.get(at..at + 8) {
        let (kind, len) = (be32(e, 0), be32(e, 4) as usize);
        if kind == 0 {
            break;
        }
        let data = at + 8;
        let Some(value) = data.checked_add(len).and_then(|end| area.get(data..end)) else {
            return Err(invalid(
                FORMAT,
                header_end + at as u64,
                format!("header extension of {len} bytes runs past the first cluster"),
            ));
        };
        if kind == EXT_BACKING_FORMAT {
            return Ok(Some(String::from_utf8_lossy(value).into_owned()));
        }
        at = data + len.div_ceil(8) * 8;
    }
    Ok(None)
}

/// Every L2 table the L1 table names must be aligned and inside the file.
fn check_l1(file: &dyn Disk, l1_offset: u64, entries: u64, cluster_size: u64) -> Result<()> {
    for_each_entry(file, FORMAT, l1_offset, entries, 8, "L1 table", |k, e| {
        let l2 = be64(e, 0) & OFFSET_MASK;
        let at = l1_offset + k * 8;
        if l2 == 0 {
            return Ok(());
        }
        if l2 % cluster_size != 0 {
            return Err(invalid(
                FORMAT,
                at,
                format!("L2 table offset {l2} is not cluster-aligned"),
            ));
        }
        if l2 + cluster_size > file.size() {
            return Err(truncated(
                FORMAT,
                l2,
                format!("L2 table (L1 entry at byte {at})"),
            ));
        }
        Ok(())
    })
}

impl Qcow2 {
    fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    fn read_compressed(&self, entry: u64, in_cluster: usize, buf: &mut [u8]) -> io::Result<()> {
        let x = 62 - (self.cluster_bits - 8);
        let offset = entry & ((1u64 << x) - 1);
        let sectors = ((entry >> x) & ((1u64 << (self.cluster_bits - 8)) - 1)) + 1;
        // The data starts inside its first sector; the count is an upper
        // bound and may run past the end of the file.
        let len = (sectors * 512 - (offset & 511)).min(self.file.size().saturating_sub(offset));
        if len == 0 {
            return Err(truncated(FORMAT, offset, "compressed cluster").into());
        }
        let cluster_size = self.cluster_size() as usize;
        let compression = self.compression;
        self.last.read(offset, in_cluster, buf, || {
            let mut input = vec![0u8; len as usize];
            read_payload(
                &*self.file,
                FORMAT,
                offset,
                &mut input,
                "compressed cluster",
            )?;
            inflate_cluster(compression, &input, cluster_size)
                .map_err(|what| invalid(FORMAT, offset, what).into())
        })
    }
}

/// Inflates one compressed cluster to exactly `cluster_size` bytes.
fn inflate_cluster(
    compression: Compression,
    input: &[u8],
    cluster_size: usize,
) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; cluster_size];
    match compression {
        Compression::Deflate => {
            let mut z = flate2::Decompress::new(false);
            z.decompress(input, &mut out, flate2::FlushDecompress::Finish)
                .map_err(|e| format!("compressed cluster does not inflate: {e}"))?;
            if z.total_out() != cluster_size as u64 {
                return Err(format!(
                    "compressed cluster inflates to {} bytes, not {cluster_size}",
                    z.total_out()
                ));
            }
        }
        Compression::Zstd => {
            check_zstd_window(input, cluster_size)?;
            let mut d = ruzstd::decoding::StreamingDecoder::new(input)
                .map_err(|e| format!("compressed cluster is no zstd frame: {e}"))?;
            d.read_exact(&mut out)
                .map_err(|e| format!("compressed cluster does not decompress: {e}"))?;
        }
    }
    Ok(out)
}

/// A zstd frame announces its window (or content) size; the decoder reserves
/// that much. A cluster needs at most its own size, so refuse big claims
/// before the decoder sees them.
fn check_zstd_window(frame: &[u8], cluster_size: usize) -> Result<(), String> {
    const LIMIT: u64 = 8 << 20;
    let descriptor = *frame.get(4).ok_or("zstd frame header is cut short")?;
    let single_segment = descriptor & 0x20 != 0;
    let window = if single_segment {
        let dict_len = [0usize, 1, 2, 4][usize::from(descriptor & 3)];
        let fcs_len = [1usize, 2, 4, 8][usize::from(descriptor >> 6)];
        let at = 5 + dict_len;
        let field = frame
            .get(at..at + fcs_len)
            .ok_or("zstd frame header is cut short")?;
        let mut v = [0u8; 8];
        v[..fcs_len].copy_from_slice(field);
        let fcs = u64::from_le_bytes(v);
        if fcs_len == 2 { fcs + 256 } else { fcs }
    } else {
        let wd = *frame.get(5).ok_or("zstd frame header is cut short")?;
        let log = 10 + u32::from(wd >> 3);
        let base = 1u64 << log;
        base + base / 8 * u64::from(wd & 7)
    };
    if window > LIMIT.max(cluster_size as u64) {
        return Err(format!(
            "zstd frame wants a {window}-byte window for a {cluster_size}-byte cluster"
        ));
    }
    Ok(())
}

impl Disk for Qcow2 {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size, offset, buf.len())?;
        let cluster_size = self.cluster_size();
        let l2_entries = cluster_size / 8;
        for_each_unit(offset, buf, cluster_size, |pos, piece| {
            let cluster = pos >> self.cluster_bits;
            let in_cluster = pos & (cluster_size - 1);
            let l1_at = self.l1_offset + cluster / l2_entries * 8;
            let l2 = self
                .tables
                .be64(l1_at)
                .map_err(table_error(FORMAT, l1_at))?
                & OFFSET_MASK;
            let entry = match l2 {
                0 => 0,
                _ => {
                    let l2_at = l2 + cluster % l2_entries * 8;
                    self.tables
                        .be64(l2_at)
                        .map_err(table_error(FORMAT, l2_at))?
                }
            };
            if entry & COMPRESSED != 0 {
                return self.read_compressed(entry, in_cluster as usize, piece);
            }
            let host = entry & OFFSET_MASK;
            if self.zero_flag && entry & ZERO != 0 {
                piece.fill(0);
                return Ok(());
            }
            if host == 0 {
                // Unallocated: the backing file's, or zeros.
                return match &self.backing {
                    Some(backing) => read_parent(&**backing, pos, piece),
                    None => {
                        piece.fill(0);
                        Ok(())
                    }
                };
            }
            read_payload(&*self.file, FORMAT, host + in_cluster, piece, "cluster")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_window_claims_are_bounded() {
        // Magic, then a descriptor with a window descriptor of 2^40 bytes.
        let mut f = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 30 << 3];
        assert!(check_zstd_window(&f, 65536).is_err());
        f[5] = 6 << 3; // 64 KiB window
        assert!(check_zstd_window(&f, 65536).is_ok());
        assert!(check_zstd_window(&f[..4], 65536).is_err());
        // Single segment, 8-byte content size of 2^60.
        let mut g = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
        g.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(check_zstd_window(&g, 65536).is_err());
    }

    #[test]
    fn bad_deflate_is_an_error() {
        assert!(inflate_cluster(Compression::Deflate, &[0xff; 32], 512).is_err());
        assert!(inflate_cluster(Compression::Zstd, &[0xff; 32], 512).is_err());
    }
}
