//! Everything that formats: tables for people, versioned JSON for programs, progress on stderr.

pub mod advice;
pub mod check;
pub mod df;
pub mod json;
pub mod progress;
pub mod prune;
pub mod table;

use humansize::{DECIMAL, format_size};

/// Formats a byte count for people (decimal units, like `docker`).
pub fn size(bytes: u64) -> String {
    format_size(bytes, DECIMAL)
}
