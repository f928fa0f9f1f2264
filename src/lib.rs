//! dredge: finds where Docker's disk space went and gets it back.
//!
//! Data flows one way: [`source`] reads layers from wherever they are into the [`model`];
//! [`analysis`] stacks them and finds what is wasted; [`report`] formats the result.
//!
//! Each command is one call, which the binary, the tests and other commands share:
//! [`image::run`], [`check::run`], [`advise::run`], [`lint::run`]. Each returns an outcome (with its
//! [`Exit`]) or an error (always [`Exit::Input`]); none of them writes to stdout.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod advice;
pub mod advise;
pub mod analysis;
pub mod audit;
pub mod check;
pub mod config_file;
pub mod df;
mod exit;
pub mod image;
pub mod lint;
pub mod model;
mod par;
pub mod prune;
pub mod reclaim;
pub mod report;
pub mod source;
pub mod text;
pub mod units;

pub use exit::Exit;

use std::collections::HashSet;

impl analysis::ContentHasher for source::Opened {
    type Error = source::SourceError;
    fn hash_files(
        &self,
        layer: usize,
        offsets: &HashSet<u64>,
    ) -> Result<Vec<(u64, [u8; 32])>, Self::Error> {
        source::Opened::hash_files(self, layer, offsets)
    }
}
