//! Disk images: containers turn a file into a [`Disk`], partitions and file
//! systems find the hives on it. Knows nothing of SCHANNEL.

pub mod container;
mod crc;
pub mod disk;
pub mod source;
pub mod volume;
pub mod wim;

pub use disk::{Cursor, Disk, FileDisk, Slice};
