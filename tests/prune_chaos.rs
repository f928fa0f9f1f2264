//! Chaos: on a PRIVATE dockerd, a loop of classic builds (re-tagging one name, so that each build
//! leaves the previous image dangling), runs (with anonymous volumes) and removals runs while
//! `dredge prune --dangling-images --stopped-containers --volumes --yes --grace 3s` runs again and
//! again. Bounded iterations. Then: every build and run succeeded, the image in use and the kept image
//! are intact (they run, and their `docker save` hashes are unchanged), and once the loop is over the
//! engine's own `dangling=true` filters and dredge agree.

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
    d.docker(&["import", "-", "base:1"], Some(&busybox_rootfs()));
    d.docker(&["tag", "base:1", "kept:1"], None);
    d.docker(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "holder",
            "base:1",
            "sleep",
            "600",
        ],
        None,
    );
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
}
