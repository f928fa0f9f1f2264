//! Everything that formats: tables for people, versioned JSON for programs, progress on stderr.

pub mod advice;
pub mod check;
pub mod df;
pub mod errors;
pub mod fit;
pub mod json;
pub mod man;
pub mod out;
pub mod progress;
pub mod prune;
pub mod reclaim;
pub mod table;

/// Formats a byte count for people (decimal units, like `docker`).
pub use crate::units::size;
