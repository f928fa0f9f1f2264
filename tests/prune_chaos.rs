//! Chaos: on a PRIVATE dockerd, a loop of classic builds (re-tagging one name, so that each build
//! leaves the previous image dangling), runs (with anonymous volumes) and removals runs while
//! `dredge prune --dangling-images --stopped-containers --volumes --yes --grace 3s` runs again and
//! again. Bounded iterations. Then: every build and run succeeded, the image in use and the kept image
//! are intact (they run, and their `docker save` hashes are unchanged), and once the loop is over the
//! engine's own `dangling=true` filters and dredge agree, and so do the engine's `docker system df`,
//! `docker image ls -a`, `docker ps -a`, `docker volume ls` and `/system/df` sizes with `dredge df
//! --json` (before and after the last prune).

mod common;
mod dfcommon;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use common::dredge;
use dfcommon::*;

const ITERATIONS: usize = 20;
/// Short, so that objects of the loop become eligible while it runs; still longer than the window
/// between a build's commit and its tag, or a `docker run`'s create and start.
const GRACE: &str = "3s";

fn sha_of_save(d: &PrivateDaemon, image: &str) -> String {
    let out = Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .args(["save", image])
        .output()
        .unwrap();
    assert!(out.status.success());
    use sha2::Digest;
    sha2::Sha256::digest(&out.stdout)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn try_docker(d: &PrivateDaemon, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[ignore = "needs docker engine and root"]
fn prune_in_a_loop_beside_builds_and_runs_breaks_nothing() {
    let d = PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    d.import_base("base:1");
    d.docker(&["tag", "base:1", "kept:1"], None);
    d.start_sleeper("holder", "base:1", 600);
    let base_sha = sha_of_save(&d, "base:1");
    let kept_sha = sha_of_save(&d, "kept:1");
    let state = tempfile::tempdir().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    let done = AtomicBool::new(false);
    let mut failures: Vec<String> = Vec::new();
    let mut prunes = 0usize;
    let mut pruned = 0usize;
    std::thread::scope(|s| {
        let chaos = s.spawn(|| {
            let mut errs = Vec::new();
            for k in 0..ITERATIONS {
                std::fs::write(
                    ctx.path().join("Dockerfile"),
                    format!("FROM base:1\nRUN echo {k} > /k && head -c 100000 /dev/zero > /z\n"),
                )
                .unwrap();
                let (ok, err) = try_docker(
                    &d,
                    &[
                        "build",
                        "-q",
                        "--network",
                        "none",
                        "-t",
                        "chaos:latest",
                        ctx.path().to_str().unwrap(),
                    ],
                    &[("DOCKER_BUILDKIT", "0")],
                );
                if !ok {
                    errs.push(format!("build {k}: {err}"));
                }
                let name = format!("c{k}");
                let (ok, err) = try_docker(
                    &d,
                    &[
                        "run",
                        "--network",
                        "none",
                        "-v",
                        "/data",
                        "--name",
                        &name,
                        "chaos:latest",
                        "true",
                    ],
                    &[],
                );
                if !ok {
                    errs.push(format!("run {k}: {err}"));
                }
                if k % 2 == 0 {
                    // May already be gone: dredge prunes stopped containers.
                    let _ = try_docker(&d, &["rm", &name], &[]);
                }
            }
            done.store(true, Ordering::SeqCst);
            errs
        });
        while !done.load(Ordering::SeqCst) {
            let out = dredge()
                .args([
                    "prune",
                    "--dangling-images",
                    "--stopped-containers",
                    "--volumes",
                    "--grace",
                    GRACE,
                    "--yes",
                    "--json",
                    "--state-dir",
                ])
                .arg(state.path())
                .env("DOCKER_HOST", d.host())
                .output()
                .unwrap();
            prunes += 1;
            if !out.status.success() {
                failures.push(format!(
                    "prune exited {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            } else if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) {
                pruned += v["deleted"].as_array().map_or(0, |a| a.len());
            }
        }
        failures.extend(chaos.join().unwrap());
    });
    eprintln!(
        "chaos: {ITERATIONS} build/run iterations, {prunes} prune runs, {pruned} objects deleted"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(prunes >= 2, "prune ran during the loop");
    // The image in use and the kept one: intact, byte for byte, and they run.
    assert_eq!(sha_of_save(&d, "base:1"), base_sha);
    assert_eq!(sha_of_save(&d, "kept:1"), kept_sha);
    d.docker(
        &["run", "--rm", "--network", "none", "kept:1", "true"],
        None,
    );
    d.docker(
        &["run", "--rm", "--network", "none", "chaos:latest", "true"],
        None,
    );
    let holder = d.docker(&["inspect", "-f", "{{.State.Running}}", "holder"], None);
    assert_eq!(holder.trim(), "true");
    // What the loop left (its last dangling images, stopped containers, volumes) is seen alike by
    // the engine and by dredge df; and again once dredge has pruned it, below.
    engine_and_dredge_df_agree(&d);
    // Quiet now: once the grace period is over, dredge plans exactly the engine's dangling images
    // (their stopped containers go first), and after applying, the engine has none left.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let sel = [
        "prune",
        "--dangling-images",
        "--stopped-containers",
        "--volumes",
        "--grace",
        GRACE,
        "--json",
        "--state-dir",
    ];
    let out = dredge()
        .args(sel)
        .arg(state.path())
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned: BTreeSet<String> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "image")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let engine_dangling = || -> BTreeSet<String> {
        d.docker(
            &["image", "ls", "-q", "--no-trunc", "-f", "dangling=true"],
            None,
        )
        .lines()
        .map(String::from)
        .collect()
    };
    assert_eq!(planned, engine_dangling());
    let out = dredge()
        .args(sel)
        .arg(state.path())
        .arg("--yes")
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(engine_dangling().is_empty());
    let vols = d.docker(&["volume", "ls", "-q", "-f", "dangling=true"], None);
    assert!(vols.lines().all(|v| v.len() != 64), "{vols}");
    assert_eq!(
        d.docker(&["ps", "-a", "--format", "{{.Names}}"], None)
            .trim(),
        "holder"
    );
    engine_and_dredge_df_agree(&d);
}

/// A set of lines.
/// The `TotalCount` of each type of `docker system df` (`Images`, `Containers`, `Local Volumes`, …).
fn system_df_counts(d: &PrivateDaemon) -> std::collections::BTreeMap<String, u64> {
    d.docker(&["system", "df", "--format", "{{json .}}"], None)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["Type"].as_str().unwrap().to_string(),
                v["TotalCount"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// After the chaos, the daemon's own view (`docker system df`, `docker image ls -a`, `docker ps -a`,
/// `docker volume ls`, and `/system/df`, the endpoint `docker system df` reads, for exact bytes) and
/// `dredge df --json` agree on what exists and on the sizes both measure the same way:
/// - the sets of image ids, container ids and volume names are equal; `docker system df`'s counts are
///   those of `docker image ls` (without `-a`: it leaves out intermediate images, untagged parents
///   of other images, which `dredge df` lists, as `docker image ls -a` does), `docker ps -a` and
///   `docker volume ls`;
/// - per image, `/system/df` `Size` (layerdb `size` summed over its layers) equals dredge's
///   `apparent_bytes` (Σ `st_size` of its layers' `diff/`: the same walk the engine made when it
///   recorded the layer); per container `SizeRw` equals `writable_apparent_bytes`; per volume
///   `UsageData.Size` equals `apparent_bytes`;
/// - not compared: dredge's allocated `bytes` (the engine counts no blocks); the engine's
///   `LayersSize` (dredge's `images` category also holds image metadata: imagedb, layerdb, and the
///   layers' link files); `SharedSize` (this test does not establish that both define sharing alike).
fn engine_and_dredge_df_agree(d: &PrivateDaemon) {
    let df = common::json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0"])
            .env("DOCKER_HOST", d.host()),
    );
    let field_set = |key: &str, field: &str| -> BTreeSet<String> {
        df[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o[field].as_str().unwrap().to_string())
            .collect()
    };
    let images_all = line_set(&d.docker(&["image", "ls", "-a", "-q", "--no-trunc"], None));
    let images_top = line_set(&d.docker(&["image", "ls", "-q", "--no-trunc"], None));
    let containers = line_set(&d.docker(&["ps", "-a", "-q", "--no-trunc"], None));
    let volumes = line_set(&d.docker(&["volume", "ls", "-q"], None));
    assert_eq!(field_set("images", "id"), images_all, "images");
    assert_eq!(field_set("containers", "id"), containers, "containers");
    assert_eq!(field_set("volumes", "name"), volumes, "volumes");
    let counts = system_df_counts(d);
    eprintln!(
        "after chaos: docker system df {counts:?}; image ls -a {}, image ls {}, ps -a {}, volume ls {}",
        images_all.len(),
        images_top.len(),
        containers.len(),
        volumes.len()
    );
    assert_eq!(counts["Images"], images_top.len() as u64);
    assert_eq!(counts["Containers"], containers.len() as u64);
    assert_eq!(counts["Local Volumes"], volumes.len() as u64);

    let out = Command::new("curl")
        .args([
            "-sf",
            "--unix-socket",
            d.sock().to_str().unwrap(),
            "http://x/system/df",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl /system/df");
    let sys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by = |doc: &serde_json::Value, key: &str, id: &str, size: &str| -> Vec<(String, i64)> {
        doc[key]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|o| {
                let mut v = o;
                for k in size.split('.') {
                    v = &v[k];
                }
                // The engine leaves out a zero (`SizeRw` of a container that wrote nothing).
                (o[id].as_str().unwrap().to_string(), v.as_i64().unwrap_or(0))
            })
            .collect()
    };
    let dredge_images: std::collections::BTreeMap<_, _> = by(&df, "images", "id", "apparent_bytes")
        .into_iter()
        .collect();
    for (id, size) in by(&sys, "Images", "Id", "Size") {
        assert_eq!(dredge_images.get(&id), Some(&size), "image {id}");
    }
    let dredge_containers: std::collections::BTreeMap<_, _> =
        by(&df, "containers", "id", "writable_apparent_bytes")
            .into_iter()
            .collect();
    for (id, size) in by(&sys, "Containers", "Id", "SizeRw") {
        assert_eq!(dredge_containers.get(&id), Some(&size), "container {id}");
    }
    let dredge_volumes: std::collections::BTreeMap<_, _> =
        by(&df, "volumes", "name", "apparent_bytes")
            .into_iter()
            .collect();
    for (name, size) in by(&sys, "Volumes", "Name", "UsageData.Size") {
        assert_eq!(dredge_volumes.get(&name), Some(&size), "volume {name}");
    }
}
