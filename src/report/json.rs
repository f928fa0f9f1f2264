//! The JSON documents. Every document carries `schema` (its name) and `schema_version`; a field is only
//! ever added within a version. The schemas are described in `docs/json.md`.

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::ImageReport;

/// Version of the `dredge.image` document.
pub const IMAGE_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Versioned<'a, T> {
    schema: &'static str,
    schema_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// Writes the `dredge.image` document; `top` limits `wasted` (0 = all).
pub fn write_image<W: Write>(out: &mut W, report: &ImageReport, top: usize) -> io::Result<()> {
    let mut r = report.clone();
    if top > 0 {
        r.wasted.truncate(top);
    }
    let doc = Versioned {
        schema: "dredge.image",
        schema_version: IMAGE_SCHEMA_VERSION,
        body: &r,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}
