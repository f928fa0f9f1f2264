//! dredge: finds where Docker's disk space went and gets it back.
//!
//! Data flows one way: [`source`] reads layers from wherever they are into the [`model`];
//! [`analysis`] stacks them and finds what is wasted; [`report`] formats the result.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod advice;
pub mod analysis;
pub mod audit;
pub mod check;
pub mod df;
pub mod model;
pub mod report;
pub mod source;
pub mod text;
pub mod units;

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
