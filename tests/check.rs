//! `dredge check` on the kitchen fixture and on crafted archives: every budget passes at its exact
//! limit and fails one unit below it, exit codes, config errors, and every output format parsed back.
//! Expected numbers come from the recipe (fixtures/kitchen/Dockerfile, recipe.env), written out below;
//! image_fixtures.rs checks the same figures against `dredge image`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn kitchen() -> String {
    fixture("kitchen/docker-archive.tar")
        .to_str()
        .unwrap()
        .to_string()
}

/// Kitchen figures from the recipe.
struct Kitchen {
    size: u64,
    base: u64,
    layer1: u64,
    reclaimable: u64,
    user: u64,
}

fn kitchen_figures() -> Kitchen {
    let r = recipe();
    // Layer 0: busybox, motd, passwd. Layer 1: 442 500 bytes (see image_fixtures.rs for the sum);
    // layer 2: 76 804; layer 3: 67 000; layer 4: 0; layer 5: 3 000; layers 6 and 7: same.txt each.
    let base = r["BUSYBOX_BYTES"] + r["MOTD_BYTES"] + r["PASSWD_BYTES"];
    let layer1 = 442_500;
    let user = layer1 + 76_804 + 67_000 + 3_000 + 2 * r["SAME_BYTES"];
    // Invisible: motd (deleted), 253 000 of layer 1, the 64 000-byte split apk index, the first same.txt.
    let reclaimable = r["MOTD_BYTES"] + 253_000 + 64_000 + r["SAME_BYTES"];
    Kitchen {
        size: base + user,
        base,
        layer1,
        reclaimable,
        user,
    }
}

/// Runs `dredge check SOURCE ARGS --no-config --json` in `dir` and returns (exit code, document).
fn check_json_in(dir: &Path, source: &str, args: &[&str]) -> (i32, Value) {
    verdict_json(
        dredge()
            .current_dir(dir)
            .arg("check")
            .arg(source)
            .args(args)
            .arg("--json")
            .env_remove("GITHUB_ACTIONS"),
    )
}

fn check_json(source: &str, args: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["--no-config"];
    all.extend_from_slice(args);
    check_json_in(dir.path(), source, &all)
}

fn result<'a>(v: &'a Value, rule: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no result for {rule}: {v}"))
}

/// `flag LIMIT` holds and `flag LIMIT-1` breaks `rule`, and the measured value is `actual`.
fn boundary(rule: &str, flag: &str, actual: u64) {
    let (code, v) = check_json(&kitchen(), &[flag, &actual.to_string()]);
    assert_eq!(code, 0, "{rule} at its limit holds: {v}");
    assert_eq!(result(&v, rule)["status"], "pass");
    assert_eq!(result(&v, rule)["actual"], actual);
    assert_eq!(v["passed"], true);
    let (code, v) = check_json(&kitchen(), &[flag, &(actual - 1).to_string()]);
    assert_eq!(code, 1, "{rule} one below its limit breaks: {v}");
    assert_eq!(result(&v, rule)["status"], "fail");
    assert_eq!(result(&v, rule)["limit"], actual - 1);
    assert_eq!(v["passed"], false);
    assert_eq!(v["failed"], 1);
}

#[test]
fn kitchen_size_budgets_hold_at_the_limit_and_break_below() {
    let k = kitchen_figures();
    boundary("max_size", "--max-size", k.size);
    boundary("max_layer_size", "--max-layer-size", k.base);
    boundary("max_layers", "--max-layers", 8);
    boundary("max_reclaimable", "--max-reclaimable", k.reclaimable);
    boundary("max_cache", "--max-cache", 70_000 + 2_000);
}

#[test]
fn kitchen_blames_the_right_layers_and_paths() {
    let k = kitchen_figures();
    // A layer limit between layer 1 and the base: only the base is to blame.
    let (code, v) = check_json(&kitchen(), &["--max-layer-size", &k.layer1.to_string()]);
    assert_eq!(code, 1);
    let blame = result(&v, "max_layer_size")["blame"].as_array().unwrap();
    assert_eq!(blame.len(), 1);
    assert_eq!(blame[0]["layer"], 0);
    assert_eq!(blame[0]["bytes"], k.base);
    // One byte lower, layer 1 (the big RUN) joins.
    let (_, v) = check_json(
        &kitchen(),
        &["--max-layer-size", &(k.layer1 - 1).to_string()],
    );
    let blame = result(&v, "max_layer_size")["blame"].as_array().unwrap();
    assert_eq!(blame.len(), 2);
    assert_eq!(blame[1]["layer"], 1);
    assert!(
        blame[1]["instruction"]
            .as_str()
            .unwrap()
            .contains("yes del | head -c 100000")
    );

    // Reclaimable: the largest invisible path is /data/del.bin (100 000, written by layer 1, deleted by 2).
    let (_, v) = check_json(&kitchen(), &["--max-reclaimable", "0"]);
    let b = &result(&v, "max_reclaimable")["blame"][0];
    assert_eq!(b["path"], "/data/del.bin");
    assert_eq!(b["bytes"], 100_000);
    assert_eq!(b["layer"], 1);

    // Caches: the kept apk index (70 000) in layer 1, then /tmp/build.log (2 000).
    let (_, v) = check_json(&kitchen(), &["--max-cache", "1kB"]);
    let blame = result(&v, "max_cache")["blame"].as_array().unwrap();
    assert_eq!(blame[0]["bytes"], 70_000);
    assert_eq!(blame[0]["layer"], 1);
    assert!(blame[0]["detail"].as_str().unwrap().starts_with("apk"));
    assert_eq!(blame[1]["bytes"], 2_000);
}

#[test]
fn kitchen_reclaimable_percent_with_a_floor() {
    let k = kitchen_figures();
    let pct = k.reclaimable as f64 * 100.0 / k.user as f64; // 53.95 %
    let (code, v) = check_json(
        &kitchen(),
        &["--max-reclaimable-percent", &format!("{}", pct.ceil())],
    );
    assert_eq!(code, 0);
    let r = result(&v, "max_reclaimable_percent");
    assert!((r["actual"].as_f64().unwrap() - pct).abs() < 1e-9, "{r}");
    let below = format!("{}", pct.floor());
    let (code, _) = check_json(&kitchen(), &["--max-reclaimable-percent", &below]);
    assert_eq!(code, 1);
    // A floor at the reclaimable bytes keeps the rule from firing; one byte lower it fires.
    let (code, v) = check_json(
        &kitchen(),
        &[
            "--max-reclaimable-percent",
            &below,
            "--reclaimable-floor",
            &k.reclaimable.to_string(),
        ],
    );
    assert_eq!(code, 0);
    assert!(
        result(&v, "max_reclaimable_percent")["note"]
            .as_str()
            .unwrap()
            .contains("floor")
    );
    let (code, _) = check_json(
        &kitchen(),
        &[
            "--max-reclaimable-percent",
            &below,
            "--reclaimable-floor",
            &(k.reclaimable - 1).to_string(),
        ],
    );
    assert_eq!(code, 1);
}

#[test]
fn kitchen_forbidden_paths_match_the_final_filesystem_only() {
    // /tmp/build.log stays; /data/del.bin was deleted by layer 2; hard2 stays; of the three apk indexes
    // only the kept one is in the final filesystem.
    let (code, v) = check_json(&kitchen(), &["--forbid", "/data/del.bin"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = check_json(
        &kitchen(),
        &[
            "--forbid",
            "**/*.log",
            "--forbid",
            "data/hard2",
            "--forbid",
            "/var/cache/**/APKINDEX.*",
        ],
    );
    assert_eq!(code, 1);
    let r = result(&v, "forbidden_paths");
    assert_eq!(r["actual"], 3);
    let mut paths: Vec<(&str, u64)> = r["blame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["path"].as_str().unwrap(), b["layer"].as_u64().unwrap()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("/data/hard2", 1),
            ("/tmp/build.log", 1),
            ("/var/cache/apk/APKINDEX.kept.tar.gz", 1)
        ]
    );
    // `*` does not cross a directory.
    let (code, _) = check_json(&kitchen(), &["--forbid", "/*.log"]);
    assert_eq!(code, 0);
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn dredge_toml_in_the_working_directory_and_by_path() {
    let k = kitchen_figures();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "dredge.toml",
        &format!(
            "[check]\nmax_size = \"{} B\"\nmax_layers = 8\nforbidden_paths = [\"/tmp/*.log\"]\n",
            k.size - 1
        ),
    );
    let (code, v) = check_json_in(dir.path(), &kitchen(), &[]);
    assert_eq!(code, 1);
    assert_eq!(v["failed"], 2);
    assert_eq!(
        result(&v, "max_size")["origin"],
        format!("{}/dredge.toml:2", dir.path().display())
    );
    assert_eq!(result(&v, "max_layers")["status"], "pass");
    // A flag overrides the file's key.
    let (code, v) = check_json_in(
        dir.path(),
        &kitchen(),
        &["--max-size", "1GB", "--forbid", "/nothing"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(result(&v, "max_size")["origin"], "--max-size");
    // --config PATH from elsewhere; --no-config ignores ./dredge.toml.
    let other = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("dredge.toml");
    let (code, _) = check_json_in(
        other.path(),
        &kitchen(),
        &["--config", cfg.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    let (code, v) = check_json_in(
        dir.path(),
        &kitchen(),
        &["--no-config", "--max-layers", "8"],
    );
    assert_eq!(code, 0);
    assert_eq!(v["checked"], 1);
}

/// Runs `dredge check` in `dir` and returns (exit code, stdout, stderr).
fn check_raw(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = dredge();
    cmd.current_dir(dir)
        .arg("check")
        .args(args)
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn bad_config_and_usage_exit_2_naming_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = kitchen();
    let cases: &[(&str, &str)] = &[
        (
            "[check]\nmax_size = \"1GB\"\nmax_sise = \"2GB\"\n",
            "dredge.toml:3: check.max_sise: unknown key",
        ),
        (
            "[check]\n# a comment\nmax_layer_size = \"12 XB\"\n",
            "dredge.toml:3: check.max_layer_size: '12 XB': unknown unit 'XB'",
        ),
        (
            "[check]\nmax_reclaimable_percent = 101\n",
            "dredge.toml:2: check.max_reclaimable_percent: 101 is out of range",
        ),
        (
            "[check]\nmax_growth_percent = 250.5\n",
            "dredge.toml:2: check.max_growth_percent: 250.5 is out of range",
        ),
        (
            "[check.dive]\nhighestUserWastedPercent = 15\n",
            "dredge.toml:2: check.dive.highestUserWastedPercent: 15 is out of range",
        ),
        ("[check\nmax_size = 1\n", "dredge.toml:1: "),
    ];
    for (text, want) in cases {
        write(d, "dredge.toml", text);
        let (code, out, err) = check_raw(d, &[&k], &[]);
        assert_eq!(code, 2, "{text}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(want), "{text}: want {want:?} in {err:?}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    std::fs::remove_file(d.join("dredge.toml")).unwrap();

    // Flags: bad unit, percent over 100 (clap's usage errors exit 2).
    let (code, _, err) = check_raw(d, &[&k, "--max-size", "5 parsecs"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--max-size") && err.contains("unknown unit"),
        "{err}"
    );
    let (code, _, err) = check_raw(d, &[&k, "--max-growth-percent", "120"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("out of range"), "{err}");
    // Nothing to check, growth without baseline, unreadable source and baseline, bad .dive-ci.
    let (code, _, err) = check_raw(d, &[&k], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no budgets"), "{err}");
    let (code, _, err) = check_raw(d, &[&k, "--max-growth", "1MB"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--baseline"), "{err}");
    let (code, _, err) = check_raw(d, &["/nonexistent.tar", "--max-size", "1MB"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.tar"), "{err}");
    write(d, "bad.json", "{\"schema\": \"other\"}");
    let (code, _, err) = check_raw(
        d,
        &[&k, "--baseline", "bad.json", "--max-growth", "1MB"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.json") && err.contains("dredge.image"),
        "{err}"
    );
    write(d, ".dive-ci", "rules:\n  lowestEfficiency: 1.2\n");
    let (code, _, err) = check_raw(d, &[&k], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(".dive-ci:2: rules.lowestEfficiency: 1.2 is out of range"),
        "{err}"
    );
    let (code, _, err) = check_raw(d, &[&k, "--no-config", "--forbid", "a[b"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a[b"), "{err}");
}

/// Two crafted images: layer 1 of the second is 1 000 bytes larger, layer 2 is unchanged.
fn grown_pair(dir: &Path) -> (String, String) {
    let base = layer_tar(&[E::Dir(b"bin"), E::File(b"bin/sh", 10_000)]);
    let old = docker_save(
        &[
            base.clone(),
            layer_tar(&[E::File(b"app", 5_000)]),
            layer_tar(&[E::File(b"conf", 100)]),
        ],
        &["base", "COPY app", "COPY conf"],
        &[],
    );
    let new = docker_save(
        &[
            base,
            layer_tar(&[E::File(b"app", 6_000)]),
            layer_tar(&[E::File(b"conf", 100)]),
        ],
        &["base", "COPY app", "COPY conf"],
        &[],
    );
    let (o, n) = (dir.join("old.tar"), dir.join("new.tar"));
    std::fs::write(&o, old).unwrap();
    std::fs::write(&n, new).unwrap();
    (o.to_str().unwrap().into(), n.to_str().unwrap().into())
}

#[test]
fn growth_against_an_image_and_against_a_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = grown_pair(dir.path());
    // Old: 10 000 + 5 000 + 100 = 15 100; new: 16 100; growth 1 000 = 6.62 %.
    let (code, v) = check_json(&new, &["--baseline", &old, "--max-growth", "999"]);
    assert_eq!(code, 1);
    let g = &v["growth"];
    assert_eq!(g["baseline_bytes"], 15_100);
    assert_eq!(g["size_bytes"], 16_100);
    assert_eq!(g["delta_bytes"], 1_000);
    let deltas: Vec<i64> = g["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["delta_bytes"].as_i64().unwrap())
        .collect();
    assert_eq!(deltas, [0, 1_000, 0]);
    assert_eq!(g["layers"][0]["same"], true);
    assert_eq!(g["layers"][1]["same"], false);
    let blame = result(&v, "max_growth")["blame"].as_array().unwrap();
    assert_eq!(blame.len(), 1);
    assert_eq!(blame[0]["layer"], 1);
    assert_eq!(blame[0]["bytes"], 1_000);
    assert_eq!(blame[0]["instruction"], "COPY app");
    let (code, _) = check_json(&new, &["--baseline", &old, "--max-growth", "1kB"]);
    assert_eq!(code, 0, "growth equal to the limit holds");

    // Percent: 1 000 / 15 100 = 6.62 %.
    let (code, v) = check_json(&new, &["--baseline", &old, "--max-growth-percent", "6.6"]);
    assert_eq!(code, 1);
    let p = result(&v, "max_growth_percent")["actual"].as_f64().unwrap();
    assert!((p - 100_000.0 / 15_100.0).abs() < 1e-9);
    let (code, _) = check_json(&new, &["--baseline", &old, "--max-growth-percent", "6.7"]);
    assert_eq!(code, 0);

    // The same against JSON reports of the old image: `dredge image --json` and `dredge check --json`.
    let image_doc = image_json(&[&old]);
    let p = dir.path().join("old-image.json");
    std::fs::write(&p, serde_json::to_vec(&image_doc).unwrap()).unwrap();
    let (_, check_doc) = check_json(&old, &["--max-size", "1GB"]);
    let q = dir.path().join("old-check.json");
    std::fs::write(&q, serde_json::to_vec(&check_doc).unwrap()).unwrap();
    for report in [&p, &q] {
        let (code, v) = check_json(
            &new,
            &[
                "--baseline",
                report.to_str().unwrap(),
                "--max-growth",
                "999",
            ],
        );
        assert_eq!(code, 1);
        assert_eq!(v["growth"]["delta_bytes"], 1_000);
        assert_eq!(v["growth"]["layers"][1]["delta_bytes"], 1_000);
        assert_eq!(v["growth"]["layers"][0]["same"], true);
    }
    // The human report names the layer that grew, with its instruction.
    let (code, out, _) = check_raw(
        dir.path(),
        &[
            &new,
            "--no-config",
            "--baseline",
            &old,
            "--max-growth",
            "999",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "FAIL max_growth: growth over the baseline +1 kB > 999 B (--max-growth)\n       layer 1, +1 kB: COPY app\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("       layer 1: 5 kB -> 6 kB (+1 kB): COPY app\n"),
        "{out}"
    );
    assert!(
        !out.contains("layer 2:"),
        "unchanged layers are not listed: {out}"
    );

    // Shrinking is no growth.
    let (code, v) = check_json(&old, &["--baseline", &new, "--max-growth", "0"]);
    assert_eq!(code, 0);
    assert_eq!(v["growth"]["delta_bytes"], -1_000);
}

/// A failing run with every kind of rule, in `dir` (no config files there).
fn failing_args(k: &str) -> Vec<String> {
    [
        k,
        "--no-config",
        "--max-size",
        "1MB",
        "--max-layers",
        "8",
        "--max-cache",
        "10kB",
        "--forbid",
        "**/*.log",
        "--highest-user-wasted-percent",
        "disabled",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn human_output_is_quiet_when_all_is_well_and_lists_failures_first() {
    let dir = tempfile::tempdir().unwrap();
    let k = kitchen();
    let (code, out, err) = check_raw(
        dir.path(),
        &[&k, "--max-size", "1GB", "--max-layers", "8"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "dredge check: ok, 2 budgets hold for dredge-fixture/kitchen:1 (2.58 MB)\n"
    );
    assert!(err.is_empty(), "{err}");

    let args = failing_args(&k);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = check_raw(dir.path(), &args, &[]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    let rules: Vec<&str> = lines
        .iter()
        .filter(|l| !l.starts_with(' ') && !l.starts_with("dredge check:"))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "FAIL max_size",
            "FAIL max_cache",
            "FAIL forbidden_paths",
            "ok   max_layers",
            "skip highestUserWastedPercent"
        ]
    );
    assert!(
        out.contains("       /tmp/build.log (layer 1): matches **/*.log\n"),
        "{out}"
    );
    assert!(out.contains("       layer 0, 1.98 MB\n"), "{out}");
    assert_eq!(
        *lines.last().unwrap(),
        "dredge check: FAIL, 3 of 4 budgets broken for dredge-fixture/kitchen:1 (2.58 MB, 1 disabled)"
    );
}

#[test]
fn json_document_is_versioned_and_complete() {
    let dir = tempfile::tempdir().unwrap();
    let args = failing_args(&kitchen());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, v) = check_json_in(dir.path(), args[0], &args[1..]);
    assert_eq!(code, 1);
    assert_eq!(v["schema"], "dredge.check");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["passed"], false);
    assert_eq!(
        (
            v["checked"].as_u64(),
            v["failed"].as_u64(),
            v["skipped"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(v["image"]["size_bytes"], kitchen_figures().size);
    assert_eq!(v["image"]["layers"].as_array().unwrap().len(), 8);
    let r = result(&v, "max_size");
    assert_eq!(r["unit"], "bytes");
    assert_eq!(r["limit"], 1_000_000);
    assert_eq!(r["origin"], "--max-size");
    assert_eq!(result(&v, "highestUserWastedPercent")["status"], "skip");
    assert!(v["growth"].is_null());
}

#[test]
fn junit_parses_back_with_one_case_per_rule() {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let dir = tempfile::tempdir().unwrap();
    let mut args = failing_args(&kitchen());
    args.extend(["--format".into(), "junit".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, _) = check_raw(dir.path(), &args, &[]);
    assert_eq!(code, 1);
    let mut reader = Reader::from_str(&out);
    let (mut cases, mut failures, mut skipped) = (Vec::new(), Vec::new(), 0);
    let mut suite_attrs = Vec::new();
    let mut current = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.attributes()
                        .map(|a| a.unwrap())
                        .find(|a| AsRef::<str>::as_ref(&a.key) == name)
                        .map(|a| {
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .unwrap()
                                .into_owned()
                        })
                };
                match AsRef::<str>::as_ref(&e.name()) {
                    "testsuite" => {
                        suite_attrs = vec![attr("name"), attr("tests"), attr("failures")];
                    }
                    "testcase" => {
                        current = attr("name").unwrap();
                        assert_eq!(attr("classname").as_deref(), Some("dredge.check"));
                        cases.push(current.clone());
                    }
                    "failure" => failures.push((current.clone(), attr("message").unwrap())),
                    "skipped" => skipped += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        suite_attrs,
        [
            Some("dredge-fixture/kitchen:1".to_string()),
            Some("5".into()),
            Some("3".into())
        ]
    );
    assert_eq!(
        cases,
        [
            "max_size",
            "max_cache",
            "forbidden_paths",
            "max_layers",
            "highestUserWastedPercent"
        ]
    );
    assert_eq!(skipped, 1);
    assert_eq!(failures.len(), 3);
    assert_eq!(failures[0].0, "max_size");
    assert!(
        failures[0].1.starts_with("total size 2.58 MB > 1 MB"),
        "{failures:?}"
    );
    assert!(out.contains("/tmp/build.log (layer 1): matches **/*.log"));
}

#[test]
fn markdown_has_its_sections() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = grown_pair(dir.path());
    let (code, out, _) = check_raw(
        dir.path(),
        &[
            &new,
            "--baseline",
            &old,
            "--max-growth",
            "500",
            "--max-layers",
            "3",
            "--format",
            "markdown",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("## dredge check: FAILED (1 of 2 budgets broken)\n"),
        "{out}"
    );
    assert!(
        out.contains("\n| status | rule | measured | limit | set in |\n|---|---|---|---|---|\n")
    );
    assert!(
        out.contains("| **FAIL** | max\\_growth | +1 kB | 500 B | --max-growth |"),
        "{out}"
    );
    assert!(
        out.contains("| ok | max\\_layers | 3 | 3 | --max-layers |"),
        "{out}"
    );
    assert!(out.contains("\n### What to blame\n"));
    assert!(out.contains("  - layer 1, +1 kB: COPY app\n"), "{out}");
    assert!(out.contains("\n### Growth against "));
    assert!(
        out.contains("| 1 | 5 kB | 6 kB | +1 kB | COPY app |"),
        "{out}"
    );
    assert!(out.contains("| 0 | 10 kB | 10 kB | same | base |"), "{out}");
}

#[test]
fn github_annotations_when_in_actions() {
    let dir = tempfile::tempdir().unwrap();
    let args = failing_args(&kitchen());
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gh = [("GITHUB_ACTIONS", "true")];
    let (code, out, _) = check_raw(dir.path(), &args, &gh);
    assert_eq!(code, 1);
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 3);
    assert!(
        errors[0].starts_with(
            "::error title=dredge check%3A max_size (dredge-fixture/kitchen%3A1)::total size 2.58 MB > 1 MB (--max-size)%0Alayer 0, 1.98 MB"
        ),
        "{}",
        errors[0]
    );
    // With JSON on stdout, annotations go to stderr and stdout stays one document.
    args.push("--json");
    let (code, out, err) = check_raw(dir.path(), &args, &gh);
    assert_eq!(code, 1);
    let _: Value = serde_json::from_str(&out).expect("stdout is JSON");
    assert_eq!(err.lines().filter(|l| l.starts_with("::error ")).count(), 3);
    // Outside Actions, none.
    let (_, out, err) = check_raw(dir.path(), &args, &[]);
    assert!(!out.contains("::error") && !err.contains("::error"));
}
