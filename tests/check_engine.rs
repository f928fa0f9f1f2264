//! `dredge check --baseline` across two builds of the same Dockerfile by a real engine, where one
//! layer grew: the growth, its per-layer breakdown and the verdicts follow from the build arguments.
//! Needs an engine: ignored by plain `cargo test`; with `--include-ignored`, fails when none answers.

mod common;

use common::*;
use serde_json::Value;

fn check(args: &[&str]) -> (i32, Value) {
    verdict_json(
        dredge()
            .arg("check")
            .args(args)
            .args(["--no-config", "--json"])
            .env_remove("GITHUB_ACTIONS"),
    )
}

#[test]
#[ignore = "needs docker engine"]
fn baseline_across_two_builds_where_one_layer_grew() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let id = std::process::id();
    let base = format!("dredge-test/check-base:{id}");
    let (old_tag, new_tag) = (
        format!("dredge-test/check-app:{id}-old"),
        format!("dredge-test/check-app:{id}-new"),
    );
    let _cleanup = Cleanup(vec![
        ("rmi", base.clone()),
        ("rmi", old_tag.clone()),
        ("rmi", new_tag.clone()),
    ]);
    docker_stdin(
        &["import", "-", &base],
        &busybox_rootfs(&["sh", "head", "yes", "echo"]),
    );
    // Layer 1 writes 100 000 bytes; layer 2 writes N bytes (the only change between the builds);
    // layer 3 writes "c\n".
    let dockerfile = format!(
        "FROM {base}\nRUN yes a | head -c 100000 > /a\nARG N\nRUN yes b | head -c $N > /b\nRUN echo c > /c\n"
    );
    let dir = tempfile::tempdir().unwrap();
    for (tag, n) in [(&old_tag, "10000"), (&new_tag, "30000")] {
        docker_stdin(
            &[
                "build",
                "--network",
                "none",
                "--build-arg",
                &format!("N={n}"),
                "-t",
                tag,
                "-",
            ],
            dockerfile.as_bytes(),
        );
    }
    let (old, new) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    run(DOCKER, &["save", "-o", old.to_str().unwrap(), &old_tag]);
    run(DOCKER, &["save", "-o", new.to_str().unwrap(), &new_tag]);
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());

    let busybox = std::fs::metadata("/bin/busybox").unwrap().len();
    let old_size = busybox + 100_000 + 10_000 + 2;
    let (code, v) = check(&[new, "--baseline", old, "--max-growth", "19999"]);
    assert_eq!(code, 1);
    let g = &v["growth"];
    assert_eq!(g["baseline_bytes"], old_size);
    assert_eq!(g["size_bytes"], old_size + 20_000);
    assert_eq!(g["delta_bytes"], 20_000);
    let deltas: Vec<i64> = g["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["delta_bytes"].as_i64().unwrap())
        .collect();
    assert_eq!(deltas, [0, 0, 20_000, 0]);
    // The base and the cached first RUN are the very same layers.
    assert_eq!(g["layers"][0]["same"], true);
    assert_eq!(g["layers"][1]["same"], true);
    assert_eq!(g["layers"][2]["same"], false);
    let blame = &v["results"][0]["blame"];
    assert_eq!(blame.as_array().unwrap().len(), 1);
    assert_eq!(blame[0]["layer"], 2);
    assert_eq!(blame[0]["bytes"], 20_000);
    assert!(
        blame[0]["instruction"]
            .as_str()
            .unwrap()
            .contains("head -c $N > /b")
    );
    let (code, _) = check(&[new, "--baseline", old, "--max-growth", "20kB"]);
    assert_eq!(code, 0, "growth equal to the limit holds");

    // Percent of the baseline.
    let pct = 20_000.0 * 100.0 / old_size as f64;
    let (code, v) = check(&[
        new,
        "--baseline",
        old,
        "--max-growth-percent",
        &format!("{}", pct.floor()),
    ]);
    assert_eq!(code, 1);
    assert!((v["results"][0]["actual"].as_f64().unwrap() - pct).abs() < 1e-9);
    let (code, _) = check(&[
        new,
        "--baseline",
        old,
        "--max-growth-percent",
        &format!("{}", pct.ceil()),
    ]);
    assert_eq!(code, 0);

    // The baseline as the JSON report of an earlier run gives the same breakdown.
    let report = dir.path().join("old.json");
    std::fs::write(&report, serde_json::to_vec(&image_json(&[old])).unwrap()).unwrap();
    let (code, v) = check(&[
        new,
        "--baseline",
        report.to_str().unwrap(),
        "--max-growth",
        "19999",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["growth"]["delta_bytes"], 20_000);
    assert_eq!(v["growth"]["layers"][2]["delta_bytes"], 20_000);
    assert_eq!(v["growth"]["layers"][1]["same"], true);
}
