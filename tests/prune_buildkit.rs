//! BuildKit builds in a loop while `dredge prune --orphans --grace 0s --yes` runs again and again, on a
//! PRIVATE dockerd (`DOCKER_BUILDKIT=1`, `--network none`, from a busybox image made with `docker
//! import`). BuildKit snapshots made before the daemon's restart have their times moved back an hour,
//! so that only what names them protects them. Two leftovers are planted first (an overlay2 dir no record names and a `tmp/` scratch
//! dir, their times moved back an hour, as an earlier daemon would have left them). Bounded: a fixed
//! number of prune runs, builds until they are done. Then: every build succeeded, what was quarantined
//! is exactly the planted leftovers (so no BuildKit snapshot dir, nor any layer being created, ever
//! was), BuildKit's snapshot dirs did exist while prune ran, and the last build's image runs.

mod common;
mod dfcommon;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use common::dredge;
use dfcommon::*;

/// Prune runs during the loop.
const PRUNES: usize = 15;
/// Builds at most (a bound against a hang; the loop stops once the prunes are done).
const MAX_BUILDS: usize = 200;

/// BuildKit's snapshot keys: 25 characters of `[0-9a-z]` (never 64-hex like a layer's cache-id).
fn is_buildkit_key(name: &str) -> bool {
    name.len() == 25
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

fn overlay_dirs(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("overlay2"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

#[test]
#[ignore = "needs docker engine and root"]
fn buildkit_builds_running_during_prune_orphans_lose_nothing() {
    let mut d = PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    let root = d.root();
    d.import_base("base:1");
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("data"), vec![b'd'; 200_000]).unwrap();
    let dockerfile = |n: usize| {
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!(
                "FROM base:1\nCOPY data /payload\nRUN echo {n} > /n && head -c 300000 /dev/zero > /z\n\
                 RUN cat /n /payload > /both\n"
            ),
        )
        .unwrap();
    };
    let host = d.host();
    let build = |tag: &str| {
        Command::new(DOCKER)
            .env("DOCKER_HOST", &host)
            .env("DOCKER_BUILDKIT", "1")
            .args([
                "build",
                "-q",
                "--network",
                "none",
                "-t",
                tag,
                ctx.path().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    // BuildKit snapshots from before this daemon started, all made to look an hour old: the grace
    // period and "changed since the daemon started" protect none of them, only what names them does.
    for n in [1000, 1001] {
        dockerfile(n);
        let out = build("bk:before");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    d.stop();
    let out = Command::new("find")
        .arg(root.join("overlay2"))
        .args(["-exec", "touch", "-h", "-d", "1 hour ago", "{}", "+"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let old_snapshots: BTreeSet<String> = overlay_dirs(&root)
        .into_iter()
        .filter(|n| is_buildkit_key(n.trim_end_matches("-init")))
        .collect();
    assert!(!old_snapshots.is_empty(), "BuildKit made snapshot dirs");
    d.spawn().expect("the daemon starts again");

    // The planted leftovers, an hour old.
    let dir = root.join("overlay2").join("e".repeat(64));
    std::fs::create_dir_all(dir.join("diff")).unwrap();
    std::fs::write(dir.join("diff/f"), vec![b'x'; 100_000]).unwrap();
    std::fs::write(dir.join("link"), b"PLANTEDLINKPLANTEDLINKABCD").unwrap();
    let scratch = root.join("tmp/docker-import-4242");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("layer.tar"), vec![b't'; 50_000]).unwrap();
    for p in [&dir, &scratch] {
        backdate(p, "1 hour ago");
    }
    let planted: BTreeSet<String> = [&dir, &scratch]
        .iter()
        .map(|p| p.display().to_string())
        .collect();

    let state = tempfile::tempdir().unwrap();
    let done = AtomicBool::new(false);
    let mut failures: Vec<String> = Vec::new();
    let mut quarantined: Vec<String> = Vec::new();
    let mut buildkit_dirs_seen = 0usize;
    let mut builds = 0usize;
    std::thread::scope(|s| {
        let builder = s.spawn(|| {
            let mut errs = Vec::new();
            let mut n = 0;
            while !done.load(Ordering::SeqCst) && n < MAX_BUILDS {
                // Each build differs (its RUN lines), so BuildKit makes new snapshots every time.
                dockerfile(n);
                let out = build("bk:latest");
                if !out.status.success() {
                    errs.push(format!(
                        "build {n}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    ));
                }
                n += 1;
            }
            (n, errs)
        });
        for _ in 0..PRUNES {
            buildkit_dirs_seen = buildkit_dirs_seen.max(
                overlay_dirs(&root)
                    .iter()
                    .filter(|n| is_buildkit_key(n.trim_end_matches("-init")))
                    .count(),
            );
            let out = dredge()
                .args([
                    "prune",
                    "--orphans",
                    "--grace",
                    "0s",
                    "--yes",
                    "--json",
                    "--state-dir",
                ])
                .arg(state.path())
                .env("DOCKER_HOST", d.host())
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "prune exited {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            for i in v["deleted"].as_array().unwrap() {
                quarantined.push(i["id"].as_str().unwrap().to_string());
            }
        }
        done.store(true, Ordering::SeqCst);
        let (n, errs) = builder.join().unwrap();
        builds = n;
        failures.extend(errs);
    });
    eprintln!(
        "buildkit loop: {builds} builds, {PRUNES} prune runs, quarantined {quarantined:?}, \
         at most {buildkit_dirs_seen} BuildKit snapshot dirs seen at once"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(builds >= 2, "builds ran during the prunes");
    assert!(
        buildkit_dirs_seen > 0,
        "BuildKit made snapshot dirs under overlay2/ while prune ran"
    );
    // Exactly the planted leftovers, each once: nothing of BuildKit's (the old snapshots among them)
    // nor any layer being made.
    let once: BTreeSet<String> = quarantined.iter().cloned().collect();
    assert_eq!(once.len(), quarantined.len(), "{quarantined:?}");
    assert_eq!(once, planted);
    assert!(
        quarantined
            .iter()
            .all(|q| !old_snapshots.iter().any(|s| Path::new(q).ends_with(s)))
    );
    let qdirs: Vec<String> = std::fs::read_dir(root.join("dredge-quarantine"))
        .unwrap()
        .flatten()
        .flat_map(|run| std::fs::read_dir(run.path()).unwrap().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(qdirs.len(), 2, "{qdirs:?}");
    // The last build is whole: it runs, with what its steps wrote.
    let out = d.docker(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "bk:latest",
            "sh",
            "-c",
            "cat /n; head -c 5 /payload",
        ],
        None,
    );
    assert_eq!(out.trim(), format!("{}\nddddd", builds - 1));
    // And the engine builds again from what BuildKit kept (its cache, its snapshots).
    let out = build("bk:again");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
