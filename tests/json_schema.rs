//! JSON as a contract: the real output of every command is validated against its JSON Schema in
//! `docs/schema/NAME.vVERSION.json` (written from docs/json.md, `additionalProperties: false` everywhere, so a field the
//! doc does not name fails here). Image, check, advise and lint run on the committed fixtures; `df` on a
//! small data root made here (offline) and, in an ignored test, on the live engine.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// `docs/schema/NAME.vVERSION.json`.
fn schema(name: &str, version: u64) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/schema")
        .join(format!("{name}.v{version}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema violations of `doc`, one line each (empty: valid).
fn violations(doc: &Value) -> Vec<String> {
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
fn assert_valid(doc: &Value) {
    let v = violations(doc);
    assert!(
        v.is_empty(),
        "{} does not follow its schema:\n{}",
        doc["schema"],
        v.join("\n")
    );
}

fn kitchen(rel: &str) -> String {
    fixture(&format!("kitchen/{rel}"))
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn image_documents_follow_the_schema() {
    for form in ["docker-archive.tar", "docker25.tar", "oci-zstd.tar"] {
        let doc = image_json(&[&kitchen(form), "--duplicates", "--top", "0"]);
        assert_valid(&doc);
        assert_eq!(doc["schema"], "dredge.image");
        assert!(!doc["wasted"].as_array().unwrap().is_empty(), "{form}");
        assert!(!doc["caches"].as_array().unwrap().is_empty(), "{form}");
        assert!(doc["duplicates"].is_object(), "{form}");
    }
    // Without --duplicates: null.
    let doc = image_json(&[&kitchen("docker-archive.tar")]);
    assert_valid(&doc);
    assert!(doc["duplicates"].is_null());
}

#[test]
fn check_documents_follow_the_schema() {
    let img = kitchen("docker-archive.tar");
    let dir = tempfile::tempdir().unwrap();
    // A baseline, for `growth`: this image's own image document.
    let base = dir.path().join("base.json");
    let out = dredge().args(["image", &img, "--json"]).output().unwrap();
    fs::write(&base, out.stdout).unwrap();
    // Every rule set, some broken (exit 1), with blame, growth, and a dive rule disabled.
    let (code, doc) = verdict_json(
        dredge()
            .args(["check", &img, "--json", "--no-config"])
            .args([
                "--lowest-efficiency",
                "0.5",
                "--highest-wasted-bytes",
                "disabled",
            ])
            .args(["--highest-user-wasted-percent", "0.9"])
            .args([
                "--max-size",
                "1",
                "--max-layer-size",
                "1",
                "--max-layers",
                "1",
            ])
            .args(["--max-reclaimable", "1", "--max-reclaimable-percent", "1"])
            .args(["--max-cache", "1", "--forbid", "**/*.apk"])
            .args(["--max-growth", "0", "--max-growth-percent", "0"])
            .arg("--baseline")
            .arg(&base),
    );
    assert_eq!(code, 1, "{doc:#}");
    assert_valid(&doc);
    assert!(doc["growth"].is_object());
    let statuses: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    for s in ["fail", "pass", "skip"] {
        assert!(statuses.contains(&s), "no {s} result: {statuses:?}");
    }
    // A passing check without a baseline: growth is null.
    let (code, doc) =
        verdict_json(dredge().args(["check", &img, "--json", "--no-config", "--max-size", "1GB"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_valid(&doc);
    assert!(doc["growth"].is_null());
}

#[test]
fn advice_documents_follow_the_schema() {
    let img = kitchen("docker-archive.tar");
    let run = |extra: &[&str]| {
        json_ok(
            dredge()
                .args(["advise", &img, "--json", "--no-progress"])
                .args(extra),
        )
    };
    let matched = run(&["--dockerfile", &kitchen("Dockerfile")]);
    assert_valid(&matched);
    assert_eq!(matched["dockerfile_matched"], true);
    assert!(!matched["suggestions"].as_array().unwrap().is_empty());
    let bare = run(&[]);
    assert_valid(&bare);
    assert!(bare["dockerfile"].is_null());
    // A Dockerfile that does not match: `mismatch` is a string.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("Dockerfile");
    fs::write(&other, "FROM scratch\nRUN true\n").unwrap();
    let mismatched = run(&["--dockerfile", other.to_str().unwrap()]);
    assert_valid(&mismatched);
    assert!(mismatched["mismatch"].is_string(), "{mismatched:#}");
}

#[test]
fn lint_documents_follow_the_schema() {
    let (code, doc) = verdict_json(dredge().args(["lint", &kitchen("Dockerfile"), "--json"]));
    assert_eq!(code, 1, "the kitchen Dockerfile breaks size rules: {doc:#}");
    assert_valid(&doc);
    assert!(!doc["findings"].as_array().unwrap().is_empty());
}

fn write(p: &Path, bytes: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A small Docker 20.10 data root (layout: /work/shared/docs/docker-data-root.md): one image of one
/// layer, a stopped container on it with a log, a named volume it mounts and an anonymous one, a
/// BuildKit snapshot, a leaked layer chain, an unnamed overlay2 dir and a `tmp/` leftover.
fn data_root(root: &Path) {
    let store = root.join("image/overlay2");
    let layer = |id: &str, n: usize| {
        write(
            &root.join("overlay2").join(id).join("diff/f"),
            &vec![b'x'; n],
        );
        write(
            &root.join("overlay2").join(id).join("link"),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        );
    };
    let (image, live, leaked, mount, ctr) = (hex('e'), hex('1'), hex('4'), hex('2'), hex('c'));
    let diff_id = format!("sha256:{}", hex('a'));
    write(
        &store.join("imagedb/content/sha256").join(&image),
        format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#).as_bytes(),
    );
    write(
        &store.join("repositories.json"),
        format!(r#"{{"Repositories":{{"t":{{"t:1":"sha256:{image}"}}}}}}"#).as_bytes(),
    );
    let chain = store.join("layerdb/sha256").join(hex('a'));
    write(&chain.join("diff"), diff_id.as_bytes());
    write(&chain.join("cache-id"), live.as_bytes());
    write(&chain.join("size"), b"10000");
    layer(&live, 10_000);
    let stray = store.join("layerdb/sha256").join(hex('b'));
    write(
        &stray.join("diff"),
        format!("sha256:{}", hex('b')).as_bytes(),
    );
    write(&stray.join("cache-id"), leaked.as_bytes());
    layer(&leaked, 4000);
    let m = store.join("layerdb/mounts").join(&ctr);
    write(&m.join("mount-id"), mount.as_bytes());
    write(&m.join("init-id"), format!("{mount}-init").as_bytes());
    write(&m.join("parent"), diff_id.as_bytes());
    layer(&mount, 2000);
    layer(&format!("{mount}-init"), 10);
    let c = root.join("containers").join(&ctr);
    write(
        &c.join("config.v2.json"),
        format!(
            r#"{{"Name":"/web","Image":"sha256:{image}","State":{{"Running":false}},
            "MountPoints":{{"/data":{{"Type":"volume","Name":"named"}}}}}}"#
        )
        .as_bytes(),
    );
    write(
        &c.join("hostconfig.json"),
        br#"{"LogConfig":{"Type":"json-file"}}"#,
    );
    write(&c.join(format!("{ctr}-json.log")), &[b'l'; 3000]);
    write(&root.join("volumes/named/_data/v"), &[b'v'; 3000]);
    write(
        &root.join("volumes").join(hex('f')).join("_data/w"),
        &[b'w'; 600],
    );
    layer("0t8qkhpx2mwvp1ifzcfbm3qbg", 900);
    layer(&hex('3'), 5000);
    write(&root.join("tmp/docker-import-42/repo.tar"), &[b't'; 1200]);
    write(&root.join("network/files/local-kv.db"), &[0u8; 4096]);
}

#[test]
fn df_offline_document_follows_the_schema() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    data_root(&root);
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0", "--data-root"])
            .arg(&root),
    );
    assert_valid(&doc);
    assert_eq!(doc["mode"], "offline");
    for list in ["images", "containers", "volumes", "orphans", "top"] {
        assert!(!doc[list].as_array().unwrap().is_empty(), "{list}: {doc:#}");
    }
    // An empty directory: no image store at all.
    let empty = tempfile::tempdir().unwrap();
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--data-root"])
            .arg(empty.path()),
    );
    assert_valid(&doc);
    assert_eq!(doc["driver"]["kind"], "none");
}

#[test]
#[ignore = "needs docker engine"]
fn df_live_document_follows_the_schema() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let doc = json_ok(dredge().args(["df", "--json", "--no-progress", "--engine-df"]));
    assert_valid(&doc);
    assert_eq!(doc["mode"], "live");
    assert!(doc["engine"].is_object(), "{doc:#}");
}

/// The schemas reject what the doc does not name, and wrong types: the test above means something.
#[test]
fn the_schemas_are_strict() {
    let good = image_json(&[&kitchen("docker-archive.tar")]);
    let mut extra = good.clone();
    extra["undocumented"] = json!(1);
    assert!(!violations(&extra).is_empty());
    let mut nested = good.clone();
    nested["layers"][0]["undocumented"] = json!(1);
    assert!(!violations(&nested).is_empty());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("wasted_total");
    assert!(!violations(&missing).is_empty());
    let mut typed = good.clone();
    typed["size_bytes"] = json!("12");
    assert!(!violations(&typed).is_empty());
    let mut reason = good;
    reason["wasted"][0]["reason"] = json!("vanished");
    assert!(!violations(&reason).is_empty());
}

/// The id enums in the schemas are the ids in the code (one place for their text: the code's tables).
#[test]
fn schema_enums_are_the_code_tables() {
    let enum_of = |doc: &Value, def: &str, field: &str| -> Vec<String> {
        doc["$defs"][def]["properties"][field]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{def}.{field} has an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let caches: Vec<String> = dredge::analysis::caches::CACHE_RULES
        .iter()
        .map(|r| r.id.as_str().to_string())
        .collect();
    assert_eq!(enum_of(&schema("dredge.image", 1), "cache", "id"), caches);
    let lint: Vec<String> = dredge::advice::lint::LintRule::ALL
        .iter()
        .map(|r| r.spec().id.to_string())
        .collect();
    assert_eq!(enum_of(&schema("dredge.lint", 1), "finding", "rule"), lint);
    let mut rules: Vec<String> = dredge::check::TABLE
        .iter()
        .filter(|s| s.rule.is_some())
        .map(|s| s.name.to_string())
        .collect();
    let mut in_schema = enum_of(&schema("dredge.check", 1), "result", "rule");
    rules.sort();
    in_schema.sort();
    assert_eq!(in_schema, rules);
}
