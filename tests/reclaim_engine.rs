//! `dredge reclaim` on a real full disk: a PRIVATE dockerd whose data root is a small ext4 filesystem
//! on a loop device, filled past `high` with real images, stopped containers (one with a chatty log),
//! build cache, a dangling image and an orphan. Expected survivors and victims come from how the test
//! made each object (its recipe) and from the engine's own listings; the filesystem figures from `df`.

mod common;
mod dfcommon;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dredge;
use dfcommon::*;

const MB: u64 = 1_000_000;

/// `df -B1 --output=used,avail` of a path: (used, avail), as df computes them.
fn df(p: &Path) -> (u64, u64) {
    let out = common::run("df", &["-B1", "--output=used,avail", p.to_str().unwrap()]);
    let nums: Vec<u64> = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

fn tags(d: &PrivateDaemon) -> BTreeSet<String> {
    line_set(&d.docker(
        &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        None,
    ))
}

/// Commits an image `tag` holding `mb` MB of its own (the committing container is removed).
fn image(d: &PrivateDaemon, tag: &str, mb: u64) -> String {
    let name = format!("mk-{}", tag.replace([':', '/'], "-"));
    let script = format!("head -c {} /dev/zero > /blob-{name}", mb * MB);
    d.commit_sh("base:1", &name, &script, tag);
    d.docker(&["rm", &name], None);
    d.image_id(tag)
}

fn reclaim(d: &PrivateDaemon, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = dredge()
        .arg("reclaim")
        .args(["--policy", dir.join("policy.toml").to_str().unwrap()])
        .args(["--state-dir", dir.join("state").to_str().unwrap()])
        .args(["--metrics", dir.join("m/reclaim.prom").to_str().unwrap()])
        .args(args)
        .env("DOCKER_HOST", d.host())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs root and dockerd (a private daemon on a loop device)"]
fn a_full_disk_comes_back_under_low_in_the_policy_order_and_nothing_kept_is_lost() {
    let d = PrivateDaemon::on_loop_fs(320);
    let root = d.root();
    let dir = tempfile::Builder::new()
        .prefix("reclaim-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    d.import_base("base:1");

    // Phase 1: images a run sees before the disk fills.
    // In three different seconds: the engine's `Created` (seconds) ranks them for keep_last.
    let old: Vec<String> = (1..=3)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(1100));
            image(&d, &format!("old:{i}"), 10)
        })
        .collect();
    let keepme = image(&d, "keepme:1", 10);
    let used = image(&d, "used:1", 10);
    let running = image(&d, "run:1", 10);
    let dangling = image(&d, "dang:1", 10);
    image(&d, "dang:1", 1); // dang:1 moves on: the first one is dangling now
    assert!(
        d.docker(
            &[
                "image",
                "ls",
                "-q",
                "--no-trunc",
                "--filter",
                "dangling=true"
            ],
            None
        )
        .contains(&dangling)
    );
    let (u1, a1) = df(&root);
    // Watermarks in bytes of used space, from this filesystem's figures: high 35 MB above what phase
    // 1 uses, low 4 MB below it.
    let (high, low) = (u1 + 35 * MB, u1 - 4 * MB);
    assert!(high < u1 + a1, "the filesystem holds the high mark");
    std::fs::write(
        dir.path().join("policy.toml"),
        format!(
            "[watermarks]\nhigh = \"{high}B\"\nlow = \"{low}B\"\n\
             [images]\nmin_age = \"0s\"\nkeep = [\"keepme:*\", \"base:*\"]\nkeep_last = 1\n\
             [containers]\nfinished_for = \"60s\"\n[build_cache]\nunused_for = \"60s\"\n\
             [orphans]\ngrace = \"1h\"\n"
        ),
    )
    .unwrap();
    // Run 1: under high, nothing to do (exit 0); it remembers the images it saw.
    let (code, out, err) = reclaim(&d, dir.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("nothing to do"), "{out}");

    // Phase 2: past high.
    let t0 = Instant::now();
    let fresh = image(&d, "fresh:1", 10); // built since the last run: never a victim in the next
    d.start_sleeper("runner", "run:1", 900);
    // A chatty log (15 MB) and a writable layer (10 MB), both in stopped containers.
    d.run_sh(
        "base:1",
        "chatty",
        &format!("yes chatty-log-line | head -c {}", 15 * MB),
    );
    d.run_sh(
        "base:1",
        "junk",
        &format!("head -c {} /dev/zero > /junk", 10 * MB),
    );
    // Build cache: a BuildKit build whose image is then removed (its 10 MB step stays as cache).
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM base:1\nRUN head -c {} /dev/zero > /bk\n", 10 * MB),
    )
    .unwrap();
    let b = Command::new(DOCKER)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--network", "none", "-t", "bk:1"])
        .arg(ctx.path())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    d.docker(&["rmi", "bk:1"], None);
    // An orphan: an overlay2 dir nothing references, unchanged for two days.
    let orphan = root.join("overlay2").join("3".repeat(64));
    std::fs::create_dir_all(orphan.join("diff")).unwrap();
    std::fs::write(orphan.join("diff/blob"), vec![b'o'; (10 * MB) as usize]).unwrap();
    std::fs::write(orphan.join("link"), "ORPHANLINKORPHANLINKORPHAN").unwrap();
    let two_days_ago = format!("@{}", dredge::prune::engine::now() - 2 * 86_400);
    backdate(&orphan, &two_days_ago);
    // Stopped containers and build cache must be a minute old (finished_for, unused_for); the
    // container of used:1 is created after that, so it is young and stays, and so does its image.
    while t0.elapsed() < Duration::from_secs(65) {
        std::thread::sleep(Duration::from_secs(1));
    }
    d.docker(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "user",
            "used:1",
            "true",
        ],
        None,
    );
    let (before_used, _) = df(&root);
    assert!(
        before_used >= high,
        "filled past high: {before_used} < {high}"
    );

    // Run 2: back under low.
    let (code, out, err) = reclaim(&d, dir.path(), &["--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["schema"], "dredge.reclaim");
    assert_eq!(doc["acted"], true);
    assert_eq!(doc["reached_low"], true);
    let (after_used, after_free) = df(&root);
    assert!(after_used <= low, "{after_used} > low {low}");

    // In the policy's order: each step after the one before, each with what it took.
    let order = [
        "quarantine",
        "orphans",
        "build-cache",
        "dangling-images",
        "stopped-containers",
        "unused-images",
        "anonymous-volumes",
    ];
    let steps: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    let pos: Vec<usize> = steps
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    let done = |step: &str| -> BTreeSet<String> {
        doc["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == step)
            .flat_map(|s| s["done"].as_array().unwrap().iter())
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    // The cheap steps come first and, on this disk, all of them are needed (their bytes, 55 MB, are
    // less than the 35 + 4 MB over low plus the fresh image's 10 MB that cannot go).
    assert_eq!(done("orphans"), [orphan.display().to_string()].into());
    assert!(!done("build-cache").is_empty(), "{steps:?}");
    assert_eq!(done("dangling-images"), [dangling.clone()].into());
    let names = |ids: &BTreeSet<String>| -> BTreeSet<String> {
        ids.iter()
            .map(|id| {
                doc["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s["planned"].as_array().unwrap().iter())
                    .find(|v| v["id"] == id.as_str())
                    .and_then(|v| v["refs"][0].as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let stopped = names(&done("stopped-containers"));
    assert!(
        stopped.is_subset(&["chatty".to_string(), "junk".to_string()].into()),
        "{stopped:?}"
    );
    // Unused images: only the two older of old:* may go.
    let images = done("unused-images");
    assert!(
        images.is_subset(&[old[0].clone(), old[1].clone()].into()),
        "{images:?}"
    );

    // Survivors, by the engine's own listing: kept, newest of old, in use (stopped and running), new.
    let left = tags(&d);
    for t in ["base:1", "keepme:1", "old:3", "used:1", "run:1", "fresh:1"] {
        assert!(left.contains(t), "{t} survived: {left:?}");
    }
    for id in [&keepme, &old[2], &used, &running, &fresh] {
        assert!(!d.image_id(id).is_empty());
    }
    let containers = line_set(&d.docker(&["ps", "-a", "--format", "{{.Names}}"], None));
    assert!(
        containers.contains("user") && containers.contains("runner"),
        "{containers:?}"
    );
    assert!(!orphan.exists());

    // The metrics: the statvfs figures equal df's, read after the run.
    let m = std::fs::read_to_string(dir.path().join("m/reclaim.prom")).unwrap();
    assert_eq!(
        metric(&m, "dredge_reclaim_used_bytes{when=\"after\"}"),
        after_used,
        "{m}"
    );
    assert_eq!(
        metric(&m, "dredge_reclaim_free_bytes{when=\"after\"}"),
        after_free,
        "{m}"
    );
    assert_eq!(
        metric(&m, "dredge_reclaim_used_bytes{when=\"before\"}"),
        doc["before"]["used_bytes"].as_u64().unwrap()
    );
    assert_eq!(metric(&m, "dredge_reclaim_high_bytes"), high);
    assert!(metric(&m, "dredge_reclaim_last_success_timestamp_seconds") > 0);
    assert!(
        metric(&m, "dredge_reclaim_skipped{reason=\"in-use\"}") >= 2,
        "{m}"
    );
    assert!(
        metric(&m, "dredge_reclaim_skipped{reason=\"new\"}") >= 1,
        "{m}"
    );
    assert!(!dir.path().join("m/reclaim.prom.tmp").exists());
    println!(
        "before {before_used} after {after_used} (high {high}, low {low})\n{m}\n{}",
        serde_json::to_string_pretty(&doc["steps"]).unwrap()
    );

    // Restart safety: a corrupt state file, a disk past high again: a warning, and no image goes
    // (every one counts as just seen).
    image(&d, "late:1", 30);
    let state_file = dir.path().join("state/reclaim-state.json");
    std::fs::write(&state_file, "{\"version\": 1, \"images\": {\"sha").unwrap();
    let before = tags(&d);
    let (code, out, err) = reclaim(&d, dir.path(), &[]);
    assert!(err.contains("corrupt"), "{err}");
    assert!(code == 0 || code == 1, "{code} {out}{err}");
    assert_eq!(tags(&d), before, "no image goes after a corrupt state file");
}

/// `--watch`: an image built while it watches is never a victim of the run its events start; a
/// container that stopped meanwhile is; SIGTERM ends it cleanly (exit 0).
#[test]
#[ignore = "needs root and dockerd (a private daemon)"]
fn watch_runs_on_events_keeps_a_build_made_meanwhile_and_stops_on_sigterm() {
    use std::io::Read;
    let d = PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    d.import_base("base:1");
    let dir = tempfile::tempdir().unwrap();
    // 0%: every check is past high; images need an hour since first seen; containers none.
    std::fs::write(
        dir.path().join("policy.toml"),
        "[watermarks]\nhigh = \"0%\"\nlow = \"0%\"\n[images]\nmin_age = \"1h\"\n\
         [containers]\nfinished_for = \"0s\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .arg("reclaim")
        .args(["--policy", dir.path().join("policy.toml").to_str().unwrap()])
        .args(["--state-dir", dir.path().join("state").to_str().unwrap()])
        .args(["--watch", "--json"])
        .env("DOCKER_HOST", d.host())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stdout = child.stdout.take().unwrap();
    let sink = out.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let docs = |min: usize, why: &str| -> Vec<serde_json::Value> {
        let t = Instant::now();
        loop {
            let text = out.lock().unwrap().clone();
            let v: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
                .into_iter()
                .filter_map(Result::ok)
                .collect();
            if v.len() >= min {
                return v;
            }
            assert!(
                t.elapsed() < Duration::from_secs(180),
                "no {why} in 180 s: {text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let first = docs(1, "first run");
    assert_eq!(first[0]["schema"], "dredge.reclaim");
    // A build while it watches (a commit: its container stops, then is committed).
    let built = image(&d, "built-during-watch:1", 1);
    d.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "stopped",
            "base:1",
            "true",
        ],
        None,
    );
    // Events within 10 s of a run wait for the next one (or the minute's check): nudge after 11 s.
    std::thread::sleep(Duration::from_secs(11));
    d.docker(
        &["run", "--network", "none", "--rm", "base:1", "true"],
        None,
    );
    let all = docs(2, "run after the events");
    let second = &all[1];
    let left: Vec<&serde_json::Value> = second["left"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["id"] == built.as_str())
        .collect();
    assert_eq!(left.len(), 1, "{second:#}");
    assert!(
        left[0]["why"] == "new" || left[0]["why"] == "too-young",
        "{second:#}"
    );
    assert!(!d.image_id(&built).is_empty());
    // The stopped container went.
    let containers = line_set(&d.docker(&["ps", "-a", "--format", "{{.Names}}"], None));
    assert!(!containers.contains("stopped"), "{containers:?}");

    common::run("kill", &["-TERM", &pid.to_string()]);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "dredge reclaim --watch did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    reader.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
}

/// SIGTERM to a one-shot run stopped right after a step's intent is journaled (prune's test pause):
/// the next run settles the interrupted run before it applies anything, and finishes the job.
#[test]
#[ignore = "needs root and dockerd (a private daemon)"]
fn a_run_killed_mid_apply_leaves_a_journal_the_next_run_settles() {
    use std::io::{BufRead, BufReader};
    let d = PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    d.import_base("base:1");
    d.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "victim",
            "base:1",
            "true",
        ],
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.toml"),
        "[watermarks]\nhigh = \"0%\"\nlow = \"0%\"\n[containers]\nfinished_for = \"0s\"\n",
    )
    .unwrap();
    let cmd = |pause: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dredge"));
        c.arg("reclaim")
            .args(["--policy", dir.path().join("policy.toml").to_str().unwrap()])
            .args(["--state-dir", dir.path().join("state").to_str().unwrap()])
            .env("DOCKER_HOST", d.host())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(p) = pause {
            c.env("DREDGE_PRUNE_TEST_PAUSE", p);
        }
        c
    };
    let mut child = cmd(Some("intent:1")).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the run ended before its pause"
        );
        if line.contains("test pause") {
            break;
        }
    }
    common::run("kill", &["-TERM", &child.id().to_string()]);
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(0), "killed by SIGTERM");
    assert!(line_set(&d.docker(&["ps", "-a", "--format", "{{.Names}}"], None)).contains("victim"));
    let out = cmd(None).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("settled the interrupted run"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "0% cannot be reached: {stderr}");
    assert!(!line_set(&d.docker(&["ps", "-a", "--format", "{{.Names}}"], None)).contains("victim"));
}
