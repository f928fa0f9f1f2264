//! The JSON documents. Every document carries `schema` (its name) and `schema_version`; a field is only
//! ever added within a version. The schemas ship in the binary ([`SCHEMAS`], `dredge schema NAME`) and
//! are described in `docs/json.md`.

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

/// The JSON Schemas of every document, shipped in the binary (`dredge schema NAME` prints one): the
/// document's name, its version, and the schema's text (`docs/schema/NAME.vVERSION.json`).
pub const SCHEMAS: [(&str, u32, &str); 8] = [
    (
        "dredge.image",
        IMAGE_SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.image.v1.json"),
    ),
    (
        "dredge.check",
        super::check::CHECK_SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.check.v1.json"),
    ),
    (
        "dredge.advice",
        super::advice::ADVICE_SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.advice.v1.json"),
    ),
    (
        "dredge.lint",
        super::advice::LINT_SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.lint.v1.json"),
    ),
    (
        "dredge.df",
        super::df::DF_SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.df.v2.json"),
    ),
    (
        "dredge.prune.plan",
        crate::prune::SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.prune.plan.v1.json"),
    ),
    (
        "dredge.prune.result",
        crate::prune::SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.prune.result.v1.json"),
    ),
    (
        "dredge.reclaim",
        crate::reclaim::SCHEMA_VERSION,
        include_str!("../../docs/schema/dredge.reclaim.v1.json"),
    ),
];

/// The shipped documents, each as `NAME (version N)`, for `dredge schema` and its errors.
pub fn schema_names() -> Vec<String> {
    SCHEMAS
        .iter()
        .map(|(n, v, _)| format!("{} (version {v})", n.trim_start_matches("dredge.")))
        .collect()
}

/// `dredge schema [NAME]`: the schema of document `name`, or the list of documents without one; an
/// unknown name is an error naming the documents there are.
pub fn schema_text(name: Option<&str>) -> Result<String, String> {
    let names = schema_names();
    match name {
        None => Ok(names.join("\n") + "\n"),
        Some(n) => schema(n)
            .map(str::to_string)
            .ok_or_else(|| format!("no document '{n}' (documents: {})", names.join(", "))),
    }
}

/// The schema of document `name` (`df`, `dredge.df`, `prune.plan` …).
pub fn schema(name: &str) -> Option<&'static str> {
    let full = if name.starts_with("dredge.") {
        name.to_string()
    } else {
        format!("dredge.{name}")
    };
    SCHEMAS
        .iter()
        .find(|(n, _, _)| *n == full)
        .map(|(_, _, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_schema_is_the_file_of_its_current_version() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
        for (name, version, text) in SCHEMAS {
            let file = dir.join(format!("{name}.v{version}.json"));
            let on_disk = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(text, on_disk, "{name}: bump the include_str! in SCHEMAS");
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(v["$schema"].is_string(), "{name}");
        }
        assert_eq!(schema("df"), Some(SCHEMAS[4].2));
        assert_eq!(schema("dredge.prune.plan"), Some(SCHEMAS[5].2));
        assert_eq!(schema("nope"), None);
    }
}
