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

/// Writes `body` as the document `schema` of `version`: its fields after `schema` and
/// `schema_version`, pretty-printed, and a newline. Every JSON document of dredge goes through here.
pub fn write_versioned<W: Write, T: Serialize>(
    out: &mut W,
    schema: &'static str,
    version: u32,
    body: &T,
) -> io::Result<()> {
    let doc = Versioned {
        schema,
        schema_version: version,
        body,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Writes the `dredge.image` document; `top` limits `wasted` (0 = all).
pub fn write_image<W: Write>(out: &mut W, report: &ImageReport, top: usize) -> io::Result<()> {
    if top == 0 || report.wasted.len() <= top {
        return write_versioned(out, "dredge.image", IMAGE_SCHEMA_VERSION, report);
    }
    let mut r = report.clone();
    r.wasted.truncate(top);
    write_versioned(out, "dredge.image", IMAGE_SCHEMA_VERSION, &r)
}
