//! A small read cache in front of a disk.
//!
//! The NTFS reader asks for file records, index records and boot sectors a
//! few hundred bytes at a time, and often the same ones again. Over a
//! container that decompresses a grain or walks a block table per read,
//! that is slow; this keeps the last [`BLOCKS`] blocks of [`BLOCK`] bytes
//! (4 MiB in all). Reads of a block or more go straight through.

use std::io;
use std::sync::{Arc, Mutex};

use crate::image::disk::{Disk, check_range};

/// Bytes per cached block.
pub const BLOCK: usize = 64 * 1024;
/// Blocks kept.
pub const BLOCKS: usize = 64;

struct Slot {
    index: u64,
    data: Vec<u8>,
    used: u64,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    clock: u64,
}

/// A disk whose small reads are served from a bounded block cache.
pub struct CachedDisk {
    inner: Arc<dyn Disk>,
    state: Mutex<State>,
}

impl CachedDisk {
    pub fn new(inner: Arc<dyn Disk>) -> Self {
        CachedDisk {
            inner,
            state: Mutex::new(State::default()),
        }
    }

    /// Copies the part of block `index` that `buf` wants, from `offset`.
    fn read_block(&self, index: u64, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let base = index * BLOCK as u64;
        let from = (offset - base) as usize;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.clock += 1;
        let clock = state.clock;
        if let Some(slot) = state.slots.iter_mut().find(|s| s.index == index) {
            slot.used = clock;
            buf.copy_from_slice(&slot.data[from..from + buf.len()]);
            return Ok(());
        }
        let len = (self.inner.size() - base).min(BLOCK as u64) as usize;
        let mut data = vec![0u8; len];
        if self.inner.read_exact_at(base, &mut data).is_err() {
            // A damaged area elsewhere in the block need not fail this read.
            drop(state);
            return self.inner.read_exact_at(offset, buf);
        }
        buf.copy_from_slice(&data[from..from + buf.len()]);
        let slot = Slot {
            index,
            data,
            used: clock,
        };
        if state.slots.len() < BLOCKS {
            state.slots.push(slot);
        } else if let Some(oldest) = state.slots.iter_mut().min_by_key(|s| s.used) {
            *oldest = slot;
        }
        Ok(())
    }
}

impl Disk for CachedDisk {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(self.size(), offset, buf.len())?;
        if buf.len() >= BLOCK {
            return self.inner.read_exact_at(offset, buf);
        }
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let index = at / BLOCK as u64;
            let block_end = (index + 1) * BLOCK as u64;
            let n = ((block_end - at) as usize).min(buf.len() - done);
            self.read_block(index, at, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_reads_match_the_disk() {
        let bytes: Vec<u8> = (0..BLOCK * 3 + 100).map(|i| (i * 7 % 251) as u8).collect();
        let disk = CachedDisk::new(Arc::new(bytes.clone()));
        for (offset, len) in [(0, 10), (BLOCK - 5, 10), (3 * BLOCK + 90, 10), (7, BLOCK)] {
            let mut buf = vec![0; len];
            disk.read_exact_at(offset as u64, &mut buf).unwrap();
            assert_eq!(buf, bytes[offset..offset + len]);
        }
        let mut buf = [0; 11];
        assert!(
            disk.read_exact_at((3 * BLOCK + 90) as u64, &mut buf)
                .is_err()
        );
        for i in 0..(BLOCKS as u64 * 2) {
            let mut b = [0; 1];
            disk.read_exact_at(i * 1000, &mut b).unwrap();
            assert_eq!(b[0], bytes[i as usize * 1000]);
        }
        assert!(disk.state.lock().unwrap().slots.len() <= BLOCKS);
    }
}
