//! `dredge prune` against a PRIVATE dockerd (own data root, socket; the shared engine is never
//! touched). Expected results come from the engine itself (`docker image ls`, `ps -a`, `volume ls`
//! and their filters), never from dredge's output.

mod common;
mod dfcommon;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use common::dredge;
use dfcommon::*;

fn daemon() -> PrivateDaemon {
    PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)")
}

/// A prune run against the daemon with its own state dir: (exit code, stdout, stderr).
fn prune(d: &PrivateDaemon, state: &Path, args: &[&str]) -> (i32, String, String) {
    // The objects here are seconds old: no grace period (its own test is the unit test in plan.rs).
    let grace: &[&str] = if args.contains(&"--grace") {
        &[]
    } else {
        &["--grace", "0s"]
    };
    dredge_prune(Some(&d.host()), state, &[args, grace].concat())
}

fn prune_json(d: &PrivateDaemon, state: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, out, err) = prune(d, state, &a);
    assert_eq!(code, 0, "dredge prune {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn ids(doc: &serde_json::Value, key: &str, kind: &str) -> BTreeSet<String> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Commits a container that wrote `content` as `tag` (a child of base:1); returns the image id.
fn commit(d: &PrivateDaemon, name: &str, content: &str, tag: &str) -> String {
    let script = format!("echo {content} > /f; head -c 200000 /dev/zero > /z");
    d.commit_sh("base:1", name, &script, tag)
}

/// base:1; two dangling images (a tag committed three times); stopped containers (the three
/// committers, one never started); a running container; a named volume, an anonymous volume a
/// stopped container mounts, and an anonymous volume nothing mounts.
fn population(d: &PrivateDaemon) {
    d.import_base("base:1");
    for (i, c) in ["one", "two", "three"].iter().enumerate() {
        commit(d, &format!("mk{i}"), c, "app:1");
    }
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "fresh",
            "app:1",
            "true",
        ],
        None,
    );
    d.start_sleeper("runner", "base:1", 600);
    d.docker(&["volume", "create", "named1"], None);
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "-v",
            "/data",
            "--name",
            "withvol",
            "base:1",
            "true",
        ],
        None,
    );
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "-v",
            "/data",
            "--name",
            "tmpvol",
            "base:1",
            "true",
        ],
        None,
    );
    d.docker(&["rm", "tmpvol"], None); // its anonymous volume stays, unused
}

#[test]
#[ignore = "needs docker engine and root"]
fn each_rule_plans_exactly_what_the_engine_calls_it_and_apply_removes_exactly_that() {
    let d = daemon();
    population(&d);
    let state = tempfile::tempdir().unwrap();
    let st = state.path();

    // No selector: a usage error, nothing deleted.
    let (code, _, err) = prune(&d, st, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing selected"), "{err}");

    let all_images = line_set(&d.docker(&["image", "ls", "-aq", "--no-trunc"], None));
    let dangling = line_set(&d.docker(
        &["image", "ls", "-q", "--no-trunc", "-f", "dangling=true"],
        None,
    ));
    assert_eq!(dangling.len(), 2, "the recipe makes two dangling images");
    let anon_unused: BTreeSet<String> =
        line_set(&d.docker(&["volume", "ls", "-q", "-f", "dangling=true"], None))
            .into_iter()
            .filter(|v| v.len() == 64)
            .collect();
    assert_eq!(anon_unused.len(), 1);
    let stopped = line_set(&d.docker(
        &[
            "ps",
            "-aq",
            "--no-trunc",
            "-f",
            "status=exited",
            "-f",
            "status=created",
        ],
        None,
    ));
    assert_eq!(stopped.len(), 5, "mk0-2, fresh, withvol");

    // The plan: exactly the engine's dangling images and unused anonymous volumes; nothing deleted.
    let plan = prune_json(&d, st, &["--dangling-images", "--volumes"]);
    assert_eq!(plan["schema"], "dredge.prune.plan");
    assert_eq!(ids(&plan, "items", "image"), dangling);
    assert_eq!(ids(&plan, "items", "volume"), anon_unused);
    for i in plan["items"].as_array().unwrap() {
        assert!(!i["rule"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        line_set(&d.docker(&["image", "ls", "-aq", "--no-trunc"], None)),
        all_images,
        "planning deleted nothing"
    );
    // Each dangling image's own layer: the 200 kB file and the few bytes of /f (layerdb size).
    let bytes: u64 = plan["total_bytes"].as_u64().unwrap();
    assert!(
        (2 * 200_000..2 * 200_000 + 8192).contains(&bytes),
        "two dangling layers of ~200 kB: {bytes}"
    );

    // Apply: exactly those go.
    let res = prune_json(&d, st, &["--dangling-images", "--volumes", "--yes"]);
    assert_eq!(res["schema"], "dredge.prune.result");
    assert_eq!(ids(&res, "deleted", "image"), dangling);
    assert_eq!(ids(&res, "deleted", "volume"), anon_unused);
    assert!(res["skipped"].as_array().unwrap().is_empty(), "{res:#}");
    let after = line_set(&d.docker(&["image", "ls", "-aq", "--no-trunc"], None));
    assert_eq!(
        after,
        all_images.difference(&dangling).cloned().collect(),
        "exactly the dangling images went"
    );
    let vols = line_set(&d.docker(&["volume", "ls", "-q"], None));
    assert!(vols.contains("named1"));
    assert!(vols.is_disjoint(&anon_unused));
    assert_eq!(
        vols.len(),
        2,
        "named1 and withvol's anonymous volume stay: {vols:?}"
    );
    assert_eq!(res["reclaimed_bytes"], plan["total_bytes"]);
    eprintln!(
        "reclaimed {} (plan) vs statvfs {}",
        res["reclaimed_bytes"], res["freed_bytes"]
    );

    // Stopped containers: exactly the engine's exited and created ones; the running one stays.
    let res = prune_json(&d, st, &["--stopped-containers", "--yes"]);
    assert_eq!(ids(&res, "deleted", "container"), stopped);
    let left = line_set(&d.docker(&["ps", "-aq", "--no-trunc"], None));
    assert_eq!(left.len(), 1, "only the running container stays: {left:?}");
    // Its volume is now unused: a later run takes it, the named one still only with --named-volumes.
    let res = prune_json(&d, st, &["--volumes", "--yes"]);
    assert_eq!(ids(&res, "deleted", "volume").len(), 1);
    assert_eq!(
        line_set(&d.docker(&["volume", "ls", "-q"], None)),
        line_set("named1")
    );
    let res = prune_json(&d, st, &["--named-volumes", "--yes"]);
    assert_eq!(ids(&res, "deleted", "volume"), line_set("named1"));
    assert!(line_set(&d.docker(&["volume", "ls", "-q"], None)).is_empty());
    // Unused images: base:1 runs, app:1 lost its last container; --keep spares by glob.
    let plan = prune_json(&d, st, &["--unused-images", "--keep", "nothing:*"]);
    let app = d.docker(&["image", "inspect", "-f", "{{.Id}}", "app:1"], None);
    assert_eq!(ids(&plan, "items", "image"), line_set(app.trim()));
    let plan = prune_json(&d, st, &["--unused-images", "--keep", "app:*"]);
    assert!(ids(&plan, "items", "image").is_empty());
    // A week: app:1 was first seen minutes ago (never its creation time).
    let plan = prune_json(&d, st, &["--unused-images=7d"]);
    assert!(ids(&plan, "items", "image").is_empty());
}

#[test]
#[ignore = "needs docker engine and root"]
fn what_changed_between_plan_and_apply_is_skipped_and_intact() {
    let d = daemon();
    d.import_base("base:1");
    let gets_container = commit(&d, "ca", "a", "gets:1");
    let moved = commit(&d, "cb", "b", "moves:1");
    let stays_planned = commit(&d, "cc", "c", "plain:1");
    d.docker(&["rm", "ca", "cb", "cc"], None);
    d.docker(&["volume", "create", "vol1"], None);
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let plan_path = state.path().join("plan.json");
    let plan = prune_json(
        &d,
        st,
        &[
            "--unused-images",
            "--named-volumes",
            "--keep",
            "base:*",
            "--plan-out",
            plan_path.to_str().unwrap(),
        ],
    );
    let planned = ids(&plan, "items", "image");
    for i in [&gets_container, &moved, &stays_planned] {
        assert!(planned.contains(i), "{i} planned: {plan:#}");
    }
    assert_eq!(ids(&plan, "items", "volume"), line_set("vol1"));

    // Meanwhile: a container from one image, the tag of another moved, the volume mounted.
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "late",
            "gets:1",
            "true",
        ],
        None,
    );
    d.docker(&["tag", "base:1", "moves:1"], None);
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "-v",
            "vol1:/data",
            "--name",
            "mounter",
            "base:1",
            "true",
        ],
        None,
    );
    let res = prune_json(&d, st, &["--apply", plan_path.to_str().unwrap()]);
    let skipped: Vec<(String, String)> = res["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason = |id: &str| {
        skipped
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{id} skipped: {res:#}"))
    };
    assert!(reason(&gets_container).contains("in use"));
    assert!(reason(&moved).contains("re-tagged"));
    assert!(
        reason("vol1").contains("in use"),
        "vol1: {}",
        reason("vol1")
    );
    assert_eq!(ids(&res, "deleted", "image"), line_set(&stays_planned));
    // Intact, by the engine's word.
    let images = line_set(&d.docker(&["image", "ls", "-aq", "--no-trunc"], None));
    assert!(images.contains(&gets_container) && images.contains(&moved));
    assert!(!images.contains(&stays_planned));
    assert!(line_set(&d.docker(&["volume", "ls", "-q"], None)).contains("vol1"));
    assert_eq!(
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "moves:1"], None)
            .trim(),
        d.docker(&["image", "inspect", "-f", "{{.Id}}", "base:1"], None)
            .trim(),
        "moves:1 still names base:1"
    );
}

#[test]
#[ignore = "needs docker engine and root"]
fn bad_input_is_one_line_exit_2_or_3_and_nothing_is_deleted() {
    let d = daemon();
    d.import_base("base:1");
    commit(&d, "ca", "a", "x:1");
    commit(&d, "cb", "b", "x:1"); // the first is now dangling
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let plan_path = st.join("plan.json");
    prune_json(
        &d,
        st,
        &[
            "--dangling-images",
            "--stopped-containers",
            "--plan-out",
            plan_path.to_str().unwrap(),
        ],
    );
    let images = || line_set(&d.docker(&["image", "ls", "-aq", "--no-trunc"], None));
    let containers = || line_set(&d.docker(&["ps", "-aq", "--no-trunc"], None));
    let (i0, c0) = (images(), containers());
    let one_line = |err: &str| {
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(lines[0].starts_with("dredge: error: "), "{err}");
    };
    let check = |args: &[&str], env: Option<(&str, &str)>, code: i32, want: &str| {
        let mut cmd = dredge();
        cmd.arg("prune").args(args).arg("--state-dir").arg(st);
        cmd.env("DOCKER_HOST", d.host());
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        one_line(&err);
        assert_eq!((images(), containers()), (i0.clone(), c0.clone()));
    };
    // A corrupt plan.
    let corrupt = st.join("corrupt.json");
    std::fs::write(
        &corrupt,
        "{\"schema\":\"dredge.prune.plan\",\"schema_version\":1,\"items\":[{",
    )
    .unwrap();
    check(
        &["--apply", corrupt.to_str().unwrap()],
        None,
        2,
        "corrupt.json",
    );
    let wrong = st.join("wrong.json");
    std::fs::write(&wrong, "{\"schema\":\"dredge.df\"}").unwrap();
    check(
        &["--apply", wrong.to_str().unwrap()],
        None,
        2,
        "not a dredge.prune.plan",
    );
    // A plan from another engine.
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    p["engine_id"] = "SOME:OTHER:ENGINE".into();
    let other = st.join("other.json");
    std::fs::write(&other, serde_json::to_vec(&p).unwrap()).unwrap();
    check(
        &["--apply", other.to_str().unwrap()],
        None,
        2,
        "another engine",
    );
    // A plan from another data root (the same engine id).
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    p["data_root"] = "/srv/another/docker".into();
    let other_root = st.join("other-root.json");
    std::fs::write(&other_root, serde_json::to_vec(&p).unwrap()).unwrap();
    check(
        &["--apply", other_root.to_str().unwrap()],
        None,
        2,
        "data root",
    );
    // A daemon that is down.
    check(
        &["--apply", plan_path.to_str().unwrap()],
        Some(("DOCKER_HOST", "unix:///nonexistent/d.sock")),
        2,
        "cannot reach the Docker Engine",
    );
    check(
        &["--dangling-images"],
        Some(("DOCKER_HOST", "unix:///nonexistent/d.sock")),
        2,
        "cannot reach the Docker Engine",
    );
    // Another run holds the lock: exit 3 at once.
    std::fs::create_dir_all(st).unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(st.join("prune.lock"))
        .unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    check(
        &["--apply", plan_path.to_str().unwrap()],
        None,
        3,
        "another dredge prune is running",
    );
    drop(held);
    // A truncated journal (a torn last line).
    let runs = st.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    std::fs::write(
        runs.join("20260101T000000Z-1.jsonl"),
        "{\"op\":\"begin\",\"run\":\"r\",\"time\":1,\"engine_id\":\"E\",\"data_root\":\"/r\",\"what\":\"apply\"}\n{\"op\":\"intent\",\"st",
    )
    .unwrap();
    check(
        &["--apply", plan_path.to_str().unwrap()],
        None,
        2,
        "20260101T000000Z-1.jsonl line 2",
    );
    std::fs::remove_dir_all(&runs).unwrap();
    // And with everything right, the same plan applies.
    let res = prune_json(&d, st, &["--apply", plan_path.to_str().unwrap()]);
    assert_eq!(res["deleted"].as_array().unwrap().len(), 3, "{res:#}");
}

/// kill -9 of dredge right after each journal line of an apply, one step further each time; the next
/// run settles the interrupted one, and the last completes the plan. Bounded: one iteration per step.
#[test]
#[ignore = "needs docker engine and root"]
fn killed_at_every_step_the_next_run_settles_and_completes() {
    let d = daemon();
    d.import_base("base:1");
    for (i, c) in ["1", "2", "3"].iter().enumerate() {
        commit(&d, &format!("k{i}"), c, "k:1");
    }
    d.docker(&["tag", "k:1", "k:2"], None);
    d.start_sleeper("live", "base:1", 600);
    for i in 0..3 {
        d.docker(&["volume", "create", &format!("v{i}")], None);
    }
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let plan_path = st.join("plan.json");
    let plan = prune_json(
        &d,
        st,
        &[
            "--dangling-images",
            "--stopped-containers",
            "--named-volumes",
            "--plan-out",
            plan_path.to_str().unwrap(),
        ],
    );
    let n = plan["items"].as_array().unwrap().len();
    assert_eq!(
        n,
        3 + 2 + 3,
        "3 containers, 2 dangling images, 3 volumes: {plan:#}"
    );
    let keep_images = line_set(&d.docker(
        &["image", "ls", "-q", "--no-trunc", "-f", "dangling=false"],
        None,
    ));
    let mut iterations = 0;
    let mut interrupted = 0;
    for i in 0..(2 * n) {
        let at = if i % 2 == 0 { "intent:1" } else { "done:1" };
        iterations += 1;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dredge"))
            .args([
                "prune",
                "--apply",
                plan_path.to_str().unwrap(),
                "--state-dir",
            ])
            .arg(st)
            .env("DOCKER_HOST", d.host())
            .env("DREDGE_PRUNE_TEST_PAUSE", at)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the pause marker (or the end: nothing left to do).
        let paused = reached_test_pause(&mut child);
        if paused {
            interrupted += 1;
            // kill -9 by pid.
            Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status()
                .unwrap();
        }
        let _ = child.wait();
        if !paused {
            break;
        }
    }
    // The last run, unhindered: it settles what is left and finishes.
    let (code, out, err) = prune(&d, st, &["--apply", plan_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let _res: serde_json::Value = serde_json::from_str(&out).unwrap();
    eprintln!("crash iterations: {iterations}, interrupted runs: {interrupted}");
    assert!(interrupted >= n, "each step was interrupted at least once");
    // Everything planned is gone; everything else is intact (the engine's word).
    assert!(
        line_set(&d.docker(
            &["image", "ls", "-q", "--no-trunc", "-f", "dangling=true"],
            None
        ))
        .is_empty()
    );
    assert_eq!(
        line_set(&d.docker(
            &["image", "ls", "-q", "--no-trunc", "-f", "dangling=false"],
            None
        )),
        keep_images
    );
    assert_eq!(
        line_set(&d.docker(&["ps", "-a", "--format", "{{.Names}}"], None)),
        line_set("live")
    );
    assert!(line_set(&d.docker(&["volume", "ls", "-q"], None)).is_empty());
    // Every journal is closed.
    for e in std::fs::read_dir(st.join("runs")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        assert!(
            text.lines().last().unwrap().contains("\"op\":\"end\""),
            "{text}"
        );
    }
}

#[test]
#[ignore = "needs docker engine and root"]
fn logs_over_a_size_are_a_finding_with_the_fix_and_nothing_is_truncated() {
    let d = daemon();
    d.import_base("base:1");
    d.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "chatty",
            "base:1",
            "seq",
            "1",
            "40000",
        ],
        None,
    );
    d.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "quiet",
            "base:1",
            "echo",
            "hi",
        ],
        None,
    );
    let log = d.docker(&["inspect", "-f", "{{.LogPath}}", "chatty"], None);
    let log = log.trim();
    let size = std::fs::metadata(log).unwrap().len();
    assert!(size > 1_000_000, "40000 json lines: {size}");
    let state = tempfile::tempdir().unwrap();
    let plan = prune_json(&d, state.path(), &["--logs-over", "1MB"]);
    let logs = plan["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{plan:#}");
    assert_eq!(logs[0]["name"], "chatty");
    assert_eq!(logs[0]["log_bytes"], size);
    assert!(logs[0]["fix"].as_str().unwrap().contains("max-size"));
    assert!(plan["items"].as_array().unwrap().is_empty());
    assert_eq!(
        std::fs::metadata(log).unwrap().len(),
        size,
        "nothing truncated"
    );
}

/// The engine's own `/system/df` build-cache records: (id, in use, shared).
fn build_records(d: &PrivateDaemon) -> Vec<(String, bool, bool)> {
    let out = Command::new("curl")
        .args([
            "-s",
            "--unix-socket",
            d.sock().to_str().unwrap(),
            "http://x/system/df",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["BuildCache"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["ID"].as_str().unwrap().to_string(),
                r["InUse"].as_bool().unwrap_or(true),
                r["Shared"].as_bool().unwrap_or(true),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs docker engine and root"]
fn build_cache_records_go_one_by_one_and_the_image_stays() {
    let d = daemon();
    d.import_base("base:1");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("data"), vec![b'x'; 300_000]).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base:1\nCOPY data /data\nRUN head -c 500000 /dev/zero > /z\n",
    )
    .unwrap();
    docker_with(
        &[("DOCKER_HOST", &d.host()), ("DOCKER_BUILDKIT", "1")],
        &[
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            "built:1",
            ctx.path().to_str().unwrap(),
        ],
        None,
    );
    let before = build_records(&d);
    let free: BTreeSet<String> = before
        .iter()
        .filter(|(_, in_use, shared)| !in_use && !shared)
        .map(|(id, _, _)| id.clone())
        .collect();
    assert!(
        !free.is_empty(),
        "the build left unshared records: {before:?}"
    );
    let state = tempfile::tempdir().unwrap();
    let plan = prune_json(&d, state.path(), &["--build-cache"]);
    assert_eq!(ids(&plan, "items", "build-cache"), free);
    let res = prune_json(&d, state.path(), &["--build-cache", "--yes"]);
    assert_eq!(ids(&res, "deleted", "build-cache"), free, "{res:#}");
    let after: BTreeSet<String> = build_records(&d).into_iter().map(|(id, _, _)| id).collect();
    assert!(after.is_disjoint(&free), "{after:?}");
    let kept: BTreeSet<String> = before
        .iter()
        .filter(|(id, _, _)| !free.contains(id))
        .map(|(id, _, _)| id.clone())
        .collect();
    assert!(kept.is_subset(&after), "shared and in-use records stay");
    d.docker(
        &["run", "--rm", "--network", "none", "built:1", "true"],
        None,
    );
}

/// The daemon is killed (SIGKILL) in the middle of an apply, with dredge stopped right after a step's
/// intent is on disk (then killed too); the daemon restarts, and the next run settles and completes.
#[test]
#[ignore = "needs docker engine and root"]
fn a_daemon_killed_mid_apply_then_restarted_leaves_a_run_the_next_one_completes() {
    let mut d = daemon();
    d.import_base("base:1");
    for i in 0..4 {
        d.docker(
            &[
                "create",
                "--network",
                "none",
                "--name",
                &format!("s{i}"),
                "base:1",
                "true",
            ],
            None,
        );
    }
    for i in 0..3 {
        d.docker(&["volume", "create", &format!("v{i}")], None);
    }
    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let plan_path = st.join("plan.json");
    let plan = prune_json(
        &d,
        st,
        &[
            "--stopped-containers",
            "--named-volumes",
            "--plan-out",
            plan_path.to_str().unwrap(),
        ],
    );
    assert_eq!(plan["items"].as_array().unwrap().len(), 7);
    let mut child = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args([
            "prune",
            "--apply",
            plan_path.to_str().unwrap(),
            "--state-dir",
        ])
        .arg(st)
        .env("DOCKER_HOST", d.host())
        .env("DREDGE_PRUNE_TEST_PAUSE", "intent:3")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(reached_test_pause(&mut child), "the apply reached step 3");
    d.crash();
    Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    // While the daemon is down, an apply says so and changes nothing.
    let (code, _, err) = prune(&d, st, &["--apply", plan_path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
    d.spawn().expect("restart");
    let (code, out, err) = prune(&d, st, &["--apply", plan_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("was interrupted"),
        "the interrupted run is reported: {err}"
    );
    let res: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(res["skipped"].as_array().unwrap().is_empty(), "{res:#}");
    assert!(line_set(&d.docker(&["ps", "-aq"], None)).is_empty());
    assert!(line_set(&d.docker(&["volume", "ls", "-q"], None)).is_empty());
    assert!(
        line_set(&d.docker(&["image", "ls", "-q"], None)).len() == 1,
        "base:1 stays"
    );
}
