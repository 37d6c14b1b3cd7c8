//! Small bounded caches shared by the readers: pages of allocation tables
//! (BAT, grain tables, L1/L2) and one decompressed cluster.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::image::disk::{Disk, check_range};

const PAGE: usize = 4096;
const SLOTS: usize = 256;

/// A cached page: its number and bytes.
type Slot = Option<(u64, Box<[u8]>)>;

/// A direct-mapped cache of 4 KiB pages of the container file, for table
/// lookups: at most `SLOTS * PAGE` bytes (1 MiB), whatever the table sizes.
pub(crate) struct Tables {
    file: Arc<dyn Disk>,
    slots: Mutex<Vec<Slot>>,
}

impl Tables {
    pub fn new(file: Arc<dyn Disk>) -> Self {
        Tables {
            file,
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Fills `buf` from `offset` of the file, through the page cache.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let size = self.file.size();
        check_range(size, offset, buf.len())?;
        let mut slots = lock(&self.slots);
        if slots.is_empty() {
            slots.resize_with(SLOTS, || None);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let page = pos / PAGE as u64;
            let in_page = (pos % PAGE as u64) as usize;
            let n = (PAGE - in_page).min(buf.len() - done);
            let slot = &mut slots[(page % SLOTS as u64) as usize];
            if slot.as_ref().is_none_or(|(p, _)| *p != page) {
                let start = page * PAGE as u64;
                let len = usize::try_from(size - start).map_or(PAGE, |l| l.min(PAGE));
                let mut data = vec![0u8; PAGE].into_boxed_slice();
                self.file.read_exact_at(start, &mut data[..len])?;
                *slot = Some((page, data));
            }
            if let Some((_, data)) = slot {
                buf[done..done + n].copy_from_slice(&data[in_page..in_page + n]);
            }
            done += n;
        }
        Ok(())
    }

    pub fn be32(&self, offset: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    pub fn le32(&self, offset: u64) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read(offset, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn be64(&self, offset: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_be_bytes(b))
    }

    pub fn le64(&self, offset: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// The last decompressed cluster or grain, keyed by its file offset: reading
/// a compressed cluster 4 KiB at a time inflates it once.
#[derive(Default)]
pub(crate) struct LastCluster {
    slot: Mutex<Option<(u64, Vec<u8>)>>,
}

impl LastCluster {
    /// Copies `buf.len()` bytes from `at` in the cluster stored at `key`,
    /// inflating it with `load` when it is not the cached one.
    pub fn read(
        &self,
        key: u64,
        at: usize,
        buf: &mut [u8],
        load: impl FnOnce() -> io::Result<Vec<u8>>,
    ) -> io::Result<()> {
        let mut slot = lock(&self.slot);
        if slot.as_ref().is_none_or(|(k, _)| *k != key) {
            *slot = None;
            *slot = Some((key, load()?));
        }
        let data = slot.as_ref().map(|(_, d)| d.as_slice()).unwrap_or_default();
        match at.checked_add(buf.len()).and_then(|end| data.get(at..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "read outside a decompressed cluster",
            )),
        }
    }
}

/// A poisoned lock only means another reader panicked; the cached bytes are
/// still whole pages, so go on.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_across_boundaries_and_at_the_end() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let file: Arc<dyn Disk> = Arc::new(bytes.clone());
        let t = Tables::new(file);
        let mut buf = [0u8; 10];
        t.read(4090, &mut buf).unwrap();
        assert_eq!(buf, bytes[4090..4100]);
        t.read(9990, &mut buf).unwrap();
        assert_eq!(buf, bytes[9990..]);
        assert!(t.read(9991, &mut buf).is_err());
        assert!(t.read(u64::MAX - 2, &mut buf).is_err());
        assert_eq!(
            t.be32(0).unwrap(),
            u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
        );
    }
}
