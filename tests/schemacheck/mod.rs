//! Validation of documents against their JSON Schema in `docs/schema/NAME.vVERSION.json`, and of
//! `dredge prune`'s journal lines against docs/json.md; shared by tests/json_schema.rs,
//! tests/prune_held.rs and tests/prune_disk.rs.
#![allow(dead_code)]

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

/// `docs/schema/NAME.vVERSION.json`.
pub fn schema(name: &str, version: u64) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(format!("{name}.v{version}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema violations of `doc`, one line each (empty: valid).
pub fn violations(doc: &Value) -> Vec<String> {
    let name = doc["schema"].as_str().expect("a document names its schema");
    let version = doc["schema_version"]
        .as_u64()
        .expect("a document names its schema_version");
    let s = schema(name, version);
    let validator = jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{name}: {e}"));
    validator
        .iter_errors(doc)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

/// Panics, listing every violation, unless `doc` follows its schema.
pub fn assert_valid(doc: &Value) {
    let v = violations(doc);
    assert!(
        v.is_empty(),
        "{} does not follow its schema:\n{}",
        doc["schema"],
        v.join("\n")
    );
}

/// The violations of one journal line of what docs/json.md describes (strict; empty: valid).
pub fn journal_line_violations(line: &Value) -> Vec<String> {
    let kinds = json!([
        "image",
        "container",
        "volume",
        "build-cache",
        "log",
        "orphan",
        "held"
    ]);
    let schema = json!({
        "oneOf": [
            {"type": "object", "additionalProperties": false,
             "required": ["op", "run", "time", "engine_id", "data_root", "what"],
             "properties": {"op": {"const": "begin"}, "run": {"type": "string"},
                "time": {"type": "integer"}, "engine_id": {"type": "string"},
                "data_root": {"type": "string"}, "what": {"type": "string", "pattern": "^(apply|purge|undo .+)$"}}},
            {"type": "object", "additionalProperties": false,
             "required": ["op", "step", "kind", "id", "action"],
             "properties": {"op": {"const": "intent"}, "step": {"type": "integer", "minimum": 1},
                "kind": {"enum": kinds}, "id": {"type": "string"},
                "action": {"enum": ["untag", "delete", "quarantine", "restore", "purge", "restart", "truncate"]},
                "reference": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}}},
            {"type": "object", "additionalProperties": false,
             "required": ["op", "step", "outcome"],
             "properties": {"op": {"const": "done"}, "step": {"type": "integer", "minimum": 1},
                "outcome": {"enum": ["done", "skipped"]}, "reason": {"type": "string"},
                "recovered": {"type": "boolean"}}},
            {"type": "object", "additionalProperties": false,
             "required": ["op", "time"],
             "properties": {"op": {"const": "end"}, "time": {"type": "integer"},
                "interrupted": {"type": "boolean"}}}
        ]
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator.iter_errors(line).map(|e| e.to_string()).collect()
}

/// Panics unless every line of the journal at `path` follows docs/json.md, from `begin` to `end`.
pub fn assert_journal(path: &str) {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let ops: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}: {l}"));
            let errs = journal_line_violations(&v);
            assert!(errs.is_empty(), "{path}: {l}: {}", errs.join("; "));
            v["op"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ops.first().map(String::as_str), Some("begin"), "{text}");
    assert_eq!(ops.last().map(String::as_str), Some("end"), "{text}");
}

/// The document of a `dredge prune … --json` run that must have succeeded: it must follow its schema,
/// and a result's journal docs/json.md. `args` name the run in the message.
pub fn prune_document(out: &std::process::Output, args: &[&str]) -> Value {
    assert!(
        out.status.success(),
        "dredge prune {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_valid(&doc);
    if let Some(journal) = doc["journal"].as_str() {
        assert_journal(journal);
    }
    doc
}
