//! Registry hive files (the regf format of `config\SYSTEM`).
//!
//! [`build`] writes a tree as a hive, so tests and benchmarks can make
//! realistic SYSTEM hives without shipping real ones.

pub mod build;

pub use build::{BuildOptions, build};
