//! `dredge prune --held` against a PRIVATE dockerd whose data root is its own loop-device ext4 (so that
//! other writers on /tmp do not move the free-space measurement). Expected numbers come from
//! `stat -L /proc/PID/fd/N` (the held file's allocated bytes), `stat -f` (the filesystem's free
//! blocks) and `docker inspect` (whether a container was restarted), never from dredge's output.
//!
//! These tests need root and dockerd, and fail without.

mod common;
mod dfcommon;
mod schemacheck;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::dredge;
use dfcommon::*;

/// [`PrivateDaemon::on_loop_fs`] with the busybox base imported as `held/base:1`.
fn daemon_on_loop_fs(mb: u64) -> PrivateDaemon {
    let d = PrivateDaemon::on_loop_fs(mb);
    d.import_base("held/base:1");
    d
}

/// `(free bytes, block size)` of the filesystem at `p`, by `stat -f` (after a `sync`).
fn fs_free(p: &Path) -> (u64, u64) {
    Command::new("sync").status().unwrap();
    let out = Command::new("stat")
        .args(["-f", "-c", "%S %f"])
        .arg(p)
        .output()
        .unwrap();
    let v: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (v[1] * v[0], v[0])
}

/// A prune run against the daemon with its own state dir (off the loop filesystem). Its document
/// (a plan or a result) must follow its schema (docs/schema/), and a result's journal docs/json.md.
fn prune(d: &PrivateDaemon, state: &Path, args: &[&str]) -> serde_json::Value {
    let out = dredge()
        .arg("prune")
        .args(args)
        .args(["--json", "--state-dir"])
        .arg(state)
        .env("DOCKER_HOST", d.host())
        .output()
        .expect("dredge runs");
    schemacheck::prune_document(&out, args)
}

fn df_table(d: &PrivateDaemon) -> String {
    let out = dredge()
        .args(["df", "--no-progress", "--top", "0"])
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn df(d: &PrivateDaemon) -> serde_json::Value {
    common::json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0"])
            .env("DOCKER_HOST", d.host()),
    )
}

/// Allocated bytes `dredge df` says the inode holds (0: not listed).
fn held_bytes_of(doc: &serde_json::Value, inode: u64) -> u64 {
    doc["held"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["inode"] == inode)
        .map(|h| h["bytes"].as_u64().unwrap())
        .sum()
}

/// A container whose output is logged (json-file), then its log deleted behind dockerd's back:
/// `(container id, dockerd pid, fd, log path)`.
fn chatty_with_deleted_log(d: &PrivateDaemon) -> (String, u32, u32, String) {
    let id = d.start_sh(
        &["--name", "chatty"],
        "held/base:1",
        "seq 1 300000; echo done; sleep 600",
    );
    let log = d.inspect(&id, "{{.LogPath}}");
    let t = Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|s| s.contains("\"done\\n\"")) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the log never got its last line"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::remove_file(&log).unwrap();
    let dockerd = d.child.as_ref().unwrap().id();
    let fd = fd_to(dockerd, &format!("{log} (deleted)"));
    (id, dockerd, fd, log)
}

#[test]
#[ignore = "needs docker engine and root"]
fn a_deleted_log_is_truncated_only_with_truncate_logs_and_its_space_comes_back() {
    let d = daemon_on_loop_fs(400);
    let state = tempfile::tempdir().unwrap();
    let (id, dockerd, fd, log) = chatty_with_deleted_log(&d);
    let (size, allocated, ino) = stat_fd(dockerd, fd);
    assert!(size > 5_000_000, "seq 1 300000 as JSON lines: {size}");

    // Without --truncate-logs: a finding, nothing touched.
    let plan = prune(&d, state.path(), &["--held"]);
    assert!(plan["items"].as_array().unwrap().is_empty(), "{plan:#}");
    let f = &plan["held"][0];
    assert_eq!(f["id"], format!("{dockerd}:{fd}"), "{plan:#}");
    assert_eq!(f["fix"], "truncate-log");
    assert_eq!(f["container"], id.as_str());
    assert_eq!(f["bytes"], allocated);
    assert!(
        f["reason"].as_str().unwrap().contains("--truncate-logs"),
        "{f:#}"
    );
    let res = prune(&d, state.path(), &["--held", "--yes"]);
    assert!(res["deleted"].as_array().unwrap().is_empty(), "{res:#}");
    assert_eq!(stat_fd(dockerd, fd), (size, allocated, ino));

    // The plan with the flag: one item, with what identifies the file.
    let plan = prune(&d, state.path(), &["--held", "--truncate-logs"]);
    let it = &plan["items"][0];
    assert_eq!(it["kind"], "held", "{plan:#}");
    assert_eq!(it["id"], format!("{dockerd}:{fd}"));
    assert_eq!(it["held_action"], "truncate");
    assert_eq!(it["container"], id.as_str());
    assert_eq!(it["bytes"], allocated);
    assert_eq!(it["files"][0]["inode"], ino);
    assert_eq!(it["files"][0]["path"], log.as_str());

    eprintln!("dredge df before:\n{}", df_table(&d));
    let (free_before, block) = fs_free(&d.root());
    let res = prune(&d, state.path(), &["--held", "--truncate-logs", "--yes"]);
    let (free_after, _) = fs_free(&d.root());
    eprintln!("dredge df after:\n{}", df_table(&d));
    eprintln!(
        "truncate: held {allocated} B (stat -L), free before {free_before} B, after {free_after} B, \
         gained {} B, block {block} B",
        free_after - free_before
    );
    let done = &res["deleted"][0];
    assert_eq!(done["kind"], "held", "{res:#}");
    assert_eq!(done["action"], "truncated");
    assert_eq!(done["data_loss"], true);
    assert_eq!(done["bytes"], allocated);
    assert!(res["skipped"].as_array().unwrap().is_empty(), "{res:#}");
    // The filesystem got the held bytes back, within a few blocks.
    let gained = free_after as i64 - free_before as i64;
    let slack = 8 * block as i64;
    assert!(
        (gained - allocated as i64).abs() <= slack,
        "free space gained {gained}, held {allocated} (block {block})"
    );
    let freed = res["freed_bytes"].as_i64().unwrap();
    assert!((freed - allocated as i64).abs() <= slack, "{res:#}");
    // dockerd still holds the (now empty) file; nothing is held any more.
    let (size_now, allocated_now, ino_now) = stat_fd(dockerd, fd);
    assert_eq!((size_now, allocated_now, ino_now), (0, 0, ino));
    assert_eq!(held_bytes_of(&df(&d), ino), 0);
    // Nothing left to plan for it.
    let again = prune(&d, state.path(), &["--held", "--truncate-logs"]);
    assert!(again["items"].as_array().unwrap().is_empty(), "{again:#}");
    assert!(again["held"].is_null(), "{again:#}");
    // The container still runs.
    assert_eq!(d.inspect(&id, "{{.State.Running}}"), "true");
    // Journaled: intent before, outcome after.
    let journal = std::fs::read_to_string(res["journal"].as_str().unwrap()).unwrap();
    assert!(
        journal.contains("\"action\":\"truncate\"") && journal.contains("\"outcome\":\"done\""),
        "{journal}"
    );
}

/// Holds a deleted 30 MB `/big` on fd 3, once (a restart finds `/done` in its writable layer and only
/// sleeps). With `/swap` created, fd 3 is re-pointed at `/other` (the deleted file is closed).
const HOLDER: &str = "if [ ! -e /done ]; then echo > /done; head -c 30000000 /dev/zero > /big; \
                      exec 3</big; rm /big; echo x > /other; \
                      while [ ! -e /swap ]; do sleep 1; done; exec 3</other; fi; sleep 600";

fn holder(d: &PrivateDaemon, name: &str, policy: &str) -> (String, u32, u32) {
    let id = d.start_sh(
        &["--stop-timeout", "1", "--restart", policy, "--name", name],
        "held/base:1",
        HOLDER,
    );
    let pid = d.container_pid(&id);
    let fd = fd_to(pid, "/big (deleted)");
    (id, pid, fd)
}

#[test]
#[ignore = "needs docker engine and root"]
fn a_container_with_a_restart_policy_is_restarted_and_one_without_is_not() {
    let d = daemon_on_loop_fs(400);
    let state = tempfile::tempdir().unwrap();
    let (kept_id, kept_pid, kept_fd) = holder(&d, "keeper", "always");
    let (plain_id, plain_pid, plain_fd) = holder(&d, "plain", "no");
    Command::new("sync").status().unwrap();
    let (_, kept_bytes, kept_ino) = stat_fd(kept_pid, kept_fd);
    let (_, plain_bytes, plain_ino) = stat_fd(plain_pid, plain_fd);
    let kept_started = d.inspect(&kept_id, "{{.State.StartedAt}}");
    let plain_started = d.inspect(&plain_id, "{{.State.StartedAt}}");

    // --restart-any would restart the plain one too (plan only).
    let any = prune(&d, state.path(), &["--held", "--restart-any"]);
    let planned: Vec<&str> = any["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(
        planned.contains(&kept_id.as_str()) && planned.contains(&plain_id.as_str()),
        "{any:#}"
    );

    let (free_before, block) = fs_free(&d.root());
    let res = prune(&d, state.path(), &["--held", "--yes"]);
    let (free_after, _) = fs_free(&d.root());
    eprintln!(
        "restart: held {kept_bytes} B (stat -L), free before {free_before} B, after {free_after} B, \
         gained {} B, block {block} B",
        free_after as i64 - free_before as i64
    );
    let deleted = res["deleted"].as_array().unwrap();
    assert_eq!(deleted.len(), 1, "{res:#}");
    assert_eq!(deleted[0]["kind"], "held");
    assert_eq!(deleted[0]["id"], kept_id.as_str());
    assert_eq!(deleted[0]["action"], "restarted");
    assert_eq!(deleted[0]["bytes"], kept_bytes);
    // The engine restarted the one and not the other.
    assert_ne!(d.inspect(&kept_id, "{{.State.StartedAt}}"), kept_started);
    assert_eq!(d.inspect(&kept_id, "{{.State.Running}}"), "true");
    assert_eq!(d.inspect(&plain_id, "{{.State.StartedAt}}"), plain_started);
    // The restart gave the held bytes back (a restart rewrites the container's small config files:
    // a few more blocks of slack).
    let gained = free_after as i64 - free_before as i64;
    assert!(
        (gained - kept_bytes as i64).abs() <= 64 * block as i64,
        "free space gained {gained}, held {kept_bytes} (block {block})"
    );
    let doc = df(&d);
    assert_eq!(held_bytes_of(&doc, kept_ino), 0, "{:#}", doc["held"]);
    assert_eq!(held_bytes_of(&doc, plain_ino), plain_bytes);
    // The plain one is a finding with the fix.
    let plan = prune(&d, state.path(), &["--held"]);
    assert!(plan["items"].as_array().unwrap().is_empty(), "{plan:#}");
    let f = &plan["held"][0];
    assert_eq!(f["container"], plain_id.as_str(), "{plan:#}");
    assert_eq!(f["fix"], "restart-container");
    assert!(
        f["reason"].as_str().unwrap().contains("no restart policy"),
        "{f:#}"
    );
}

#[test]
#[ignore = "needs docker engine and root"]
fn a_plan_whose_descriptor_now_points_elsewhere_is_skipped() {
    let d = daemon_on_loop_fs(300);
    let state = tempfile::tempdir().unwrap();
    let (id, pid, fd) = holder(&d, "swapper", "always");
    let started = d.inspect(&id, "{{.State.StartedAt}}");
    let plan_file = state.path().join("plan.json");
    let plan = prune(
        &d,
        state.path(),
        &["--held", "--plan-out", plan_file.to_str().unwrap()],
    );
    assert_eq!(plan["items"][0]["id"], id.as_str(), "{plan:#}");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    schemacheck::assert_valid(&saved);
    assert!(
        plan["items"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["pid"] == pid && f["fd"] == fd),
        "{plan:#}"
    );
    // The same process, the same descriptor number, another file.
    d.docker(&["exec", &id, "sh", "-c", "echo > /swap"], None);
    fd_to(pid, "/other");
    let res = prune(&d, state.path(), &["--apply", plan_file.to_str().unwrap()]);
    assert!(res["deleted"].as_array().unwrap().is_empty(), "{res:#}");
    let s = &res["skipped"][0];
    assert_eq!(s["id"], id.as_str(), "{res:#}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("now points at another file"),
        "{s:#}"
    );
    assert_eq!(d.inspect(&id, "{{.State.StartedAt}}"), started);
}
