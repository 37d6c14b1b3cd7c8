//! tlsreg: audits the Windows SCHANNEL TLS registry settings offline, from
//! exported `.reg` files, diffs them against a required state, and writes the
//! corrective `.reg` file.
//!
//! Data flows one way: [`input`] readers build one [`registry`] view,
//! [`schannel`] evaluates it, and [`report`], [`fix`] and [`diff`] render the
//! result. [`regfile`] is the `.reg` format itself, read and written.
//! [`hive`] is the hive file format on disk, so far the base block and the
//! replay of transaction logs onto a dirty hive.

pub mod audit;
pub mod diff;
pub mod fix;
pub mod fleet;
pub mod fsio;
pub mod guard;
pub mod hive;
pub mod image;
pub mod input;
pub mod policies;
pub mod regfile;
pub mod registry;
pub mod report;
pub mod schannel;

pub use audit::{Audit, audit, audit_all_sets, per_set};
