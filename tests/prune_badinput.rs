//! Bad input for `dredge prune` on orphans, offline (a data root made by hand; no engine, no root
//! needed): a corrupt plan, a plan from another data root (refused, or, hand-edited to name another
//! root, every item outside it skipped), a truncated journal, a daemon that is down. Each: the
//! documented exit status (2, or 0 with every item skipped), a one-line error naming what is wrong,
//! and nothing moved in either data root. Then the right plan applies, so each refusal was for its
//! reason. (The same cases with engine objects: prune_engine.rs's bad-input test.)

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::dredge;

const DOWN: &str = "unix:///nonexistent/dredge-test.sock";

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn write(p: &Path, b: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b).unwrap();
}

/// A data root with an empty image store and two orphans: an overlay2 dir no record names, and a
/// `tmp/` leftover.
fn data_root(root: &Path) -> Vec<PathBuf> {
    for d in [
        "image/overlay2/imagedb/content/sha256",
        "image/overlay2/layerdb/sha256",
        "containers",
        "volumes",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let dir = root.join("overlay2").join(hex('9'));
    write(&dir.join("diff/f"), &[b'x'; 5000]);
    write(&dir.join("link"), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    let tmp = root.join("tmp/docker-import-7");
    write(&tmp.join("layer.tar"), &[b't'; 3000]);
    vec![dir, tmp]
}

/// Every path under `p` with its size: "nothing moved" is this, unchanged.
fn tree(p: &Path) -> BTreeSet<(PathBuf, u64)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            out.insert((e.path(), if m.is_file() { m.len() } else { 0 }));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

fn prune(state: &Path, args: &[&str]) -> (i32, String, String) {
    let out = dredge()
        .arg("prune")
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .env("DOCKER_HOST", DOWN)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn one_line(err: &str) {
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("dredge: error: "), "{err}");
}

fn ids(doc: &serde_json::Value, key: &str) -> BTreeSet<String> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bad_input_for_orphans_is_refused_in_one_line_and_nothing_moves() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    let b = t.path().join("b");
    let orphans: BTreeSet<String> = data_root(&a)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    data_root(&b);
    let state = t.path().join("state");
    let st = state.as_path();
    let plan_path = t.path().join("plan.json");
    let (code, out, err) = prune(
        st,
        &[
            "--orphans",
            "--grace",
            "0s",
            "--data-root",
            a.to_str().unwrap(),
            "--plan-out",
            plan_path.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&plan, "items"), orphans, "{plan:#}");
    let before = (tree(&a), tree(&b));
    let unchanged = || assert_eq!((tree(&a), tree(&b)), before, "nothing moved");
    let refused = |args: &[&str], want: &str| {
        let (code, _, err) = prune(st, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        one_line(&err);
        unchanged();
    };
    let text = std::fs::read_to_string(&plan_path).unwrap();

    // A corrupt plan: cut in the middle of its items.
    let corrupt = t.path().join("corrupt.json");
    std::fs::write(&corrupt, &text[..text.find("\"items\"").unwrap() + 20]).unwrap();
    refused(&["--apply", corrupt.to_str().unwrap()], "corrupt.json");
    // Not JSON at all, and empty.
    std::fs::write(&corrupt, b"\x00\xffnot a plan").unwrap();
    refused(&["--apply", corrupt.to_str().unwrap()], "corrupt.json");
    std::fs::write(&corrupt, b"").unwrap();
    refused(&["--apply", corrupt.to_str().unwrap()], "corrupt.json");

    // A plan from another data root: refused with the root named.
    refused(
        &[
            "--apply",
            plan_path.to_str().unwrap(),
            "--data-root",
            b.to_str().unwrap(),
        ],
        "the plan was made for data root",
    );
    // Hand-edited to name root b while its items are in a: each is outside b, skipped, and b gets no
    // quarantine.
    let mut edited: serde_json::Value = serde_json::from_str(&text).unwrap();
    edited["data_root"] = b.display().to_string().into();
    let other = t.path().join("other-root.json");
    std::fs::write(&other, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (code, out, err) = prune(st, &["--apply", other.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let res: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(res["deleted"].as_array().unwrap().is_empty(), "{res:#}");
    assert_eq!(ids(&res, "skipped"), orphans, "{res:#}");
    assert!(
        res["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reason"]
                .as_str()
                .unwrap()
                .contains("outside the data root")),
        "{res:#}"
    );
    unchanged();

    // A daemon that is down: a live plan, and a live --orphans run.
    let mut live: serde_json::Value = serde_json::from_str(&text).unwrap();
    live["mode"] = "live".into();
    live["engine_id"] = "SOME:ENGINE".into();
    let live_path = t.path().join("live.json");
    std::fs::write(&live_path, serde_json::to_vec(&live).unwrap()).unwrap();
    refused(
        &["--apply", live_path.to_str().unwrap()],
        "cannot reach the Docker Engine",
    );
    refused(&["--orphans", "--yes"], "cannot reach the Docker Engine");

    // A truncated journal (a torn last line) stops every applying run, naming its file and line.
    let runs = state.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let torn = runs.join("20260101T000000Z-1.jsonl");
    std::fs::write(
        &torn,
        format!(
            "{{\"op\":\"begin\",\"run\":\"r\",\"time\":1,\"engine_id\":\"offline\",\"data_root\":{:?},\"what\":\"apply\"}}\n{{\"op\":\"intent\",\"st",
            a.display().to_string()
        ),
    )
    .unwrap();
    refused(
        &["--apply", plan_path.to_str().unwrap()],
        "20260101T000000Z-1.jsonl line 2",
    );
    std::fs::remove_file(&torn).unwrap();

    // With everything right, the same plan quarantines exactly its orphans, and only in a.
    let (code, out, err) = prune(st, &["--apply", plan_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let res: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&res, "deleted"), orphans, "{res:#}");
    assert!(orphans.iter().all(|p| !Path::new(p).exists()));
    assert_eq!(tree(&b), before.1, "b untouched");
}
