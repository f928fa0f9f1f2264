//! While a daemon runs on a data root, a layer chain with a complete layerdb record is never an orphan:
//! the daemon's layer store holds it and re-uses it on the next load or pull. It is listed in
//! `held_by_daemon[]` and becomes an `unreferenced-layer` orphan only offline, with no daemon on the
//! root. An overlay2 dir no record names, older than the daemon's start, is a live orphan.
//!
//! Needs root and dockerd (a private daemon on its own data root).

mod common;
mod dfcommon;

use std::path::Path;
use std::process::Command;

use common::{dredge, json_ok};
use dfcommon::*;

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn df_json(args: &[&str], env: &[(&str, String)]) -> serde_json::Value {
    let mut cmd = dredge();
    cmd.args(["df", "--json", "--no-progress", "--top", "0"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    json_ok(&mut cmd)
}

fn paths_of(doc: &serde_json::Value, list: &str) -> Vec<(String, String)> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap().to_string(),
                o["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Sets the modification time of every entry under `p` (and `p`) an hour back.
fn age(p: &Path) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg("find \"$0\" -exec touch -h -d '1 hour ago' {} +")
        .arg(p)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
#[ignore = "needs root and dockerd (a private daemon)"]
fn a_complete_unreferenced_chain_is_held_while_the_daemon_runs() {
    let mut d = PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    d.docker(&["import", "-", "held/base:1"], Some(&busybox_rootfs()));
    d.stop();
    // Behind the stopped daemon's back: a complete layer record no image reaches (what `docker rmi`
    // of a base leaves while a child's load is under way, or a killed load's committed layer), and an
    // overlay2 dir no record names, both an hour old.
    let root = d.root();
    let (chain, cache, stray) = (hex('b'), hex('4'), hex('3'));
    let rec = root.join("image/overlay2/layerdb/sha256").join(&chain);
    write(&rec.join("diff"), format!("sha256:{chain}").as_bytes());
    write(&rec.join("size"), b"40000");
    write(&rec.join("cache-id"), cache.as_bytes());
    write(
        &root.join("overlay2").join(&cache).join("diff/f"),
        &[b'x'; 40_000],
    );
    write(
        &root.join("overlay2").join(&stray).join("diff/g"),
        &[b'y'; 30_000],
    );
    for p in [
        &rec,
        &root.join("overlay2").join(&cache),
        &root.join("overlay2").join(&stray),
    ] {
        age(p);
    }
    let cache_dir = root.join("overlay2").join(&cache).display().to_string();
    let stray_dir = root.join("overlay2").join(&stray).display().to_string();

    d.spawn().expect("restart");
    // Live, and offline with the daemon running: held, not an orphan; the old stray dir is an orphan.
    let live = df_json(&[], &d.env());
    let off_running = df_json(&["--data-root", root.to_str().unwrap()], &[]);
    for (how, doc) in [("live", &live), ("offline, daemon running", &off_running)] {
        let orphans = paths_of(doc, "orphans");
        assert!(
            !orphans.iter().any(|(_, p)| *p == cache_dir),
            "{how}: {orphans:?}"
        );
        assert_eq!(
            doc["daemon"]["state"], "running",
            "{how}: {}",
            doc["daemon"]
        );
        let held = paths_of(doc, "held_by_daemon");
        assert_eq!(
            held,
            [("unreferenced-layer".to_string(), cache_dir.clone())],
            "{how}"
        );
        assert!(
            orphans.contains(&("unreferenced-dir".to_string(), stray_dir.clone())),
            "{how}: an unnamed dir older than the daemon is an orphan: {orphans:?}"
        );
        assert!(
            doc["top"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["kind"] == "held-by-daemon" && i["name"] == cache_dir.as_str()),
            "{how}"
        );
    }
    // The categories still add up, the held bytes in "other".
    let sum: u64 = live["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, live["total_bytes"].as_u64().unwrap());

    // Offline with the daemon stopped: now an unreferenced-layer orphan, with its record.
    d.stop();
    let off = df_json(&["--data-root", root.to_str().unwrap()], &[]);
    assert_eq!(off["daemon"]["state"], "not-found");
    assert!(off["held_by_daemon"].as_array().unwrap().is_empty());
    let o = off["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == cache_dir.as_str())
        .unwrap_or_else(|| panic!("{:#}", off["orphans"]));
    assert_eq!(o["kind"], "unreferenced-layer");
    assert_eq!(o["also"][0], rec.display().to_string());
}
