//! Raw images: the file is the disk. Accepted only when it looks like one,
//! so that a stray file is not audited as a disk of garbage.

use std::sync::Arc;

use crate::image::disk::Disk;

/// A partition table (MBR or GPT's protective MBR) or a boot sector: the
/// 0x55AA signature at byte 510, or an NTFS / BitLocker OEM id at byte 3.
pub fn looks_like_disk(head: &[u8]) -> bool {
    head.get(510..512) == Some(&[0x55, 0xAA][..])
        || matches!(head.get(3..11), Some(b"NTFS    " | b"-FVE-FS-"))
}

pub(crate) fn open(file: Arc<dyn Disk>) -> Arc<dyn Disk> {
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let mut mbr = vec![0u8; 512];
        assert!(!looks_like_disk(&mbr));
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert!(looks_like_disk(&mbr));
        let mut ntfs = vec![0u8; 16];
        ntfs[3..11].copy_from_slice(b"NTFS    ");
        assert!(looks_like_disk(&ntfs));
        ntfs[3..11].copy_from_slice(b"-FVE-FS-");
        assert!(looks_like_disk(&ntfs));
        assert!(!looks_like_disk(b"short"));
    }
}
