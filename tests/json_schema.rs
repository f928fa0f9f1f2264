//! JSON as a contract: the real output of every command is validated against its JSON Schema in
//! `docs/schema/NAME.vVERSION.json` (written from docs/json.md, `additionalProperties: false` everywhere, so a field the
//! doc does not name fails here). Image, check, advise and lint run on the committed fixtures; `df` on a
//! small data root made here (offline) and, in an ignored test, on the live engine; `prune` offline on
//! that data root and, in an ignored test, on a private dockerd.

mod common;
mod dfcommon;
mod schemacheck;

use std::fs;
use std::path::Path;

use common::*;
use schemacheck::{assert_journal, assert_valid, schema, violations};
use serde_json::{Value, json};

fn kitchen(rel: &str) -> String {
    fixture(&format!("kitchen/{rel}"))
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn image_documents_follow_the_schema() {
    for form in ["docker-archive.tar", "docker25.tar", "oci-zstd.tar"] {
        let doc = image_json(&[&kitchen(form), "--duplicates", "--top", "0"]);
        assert_valid(&doc);
        assert_eq!(doc["schema"], "dredge.image");
        assert!(!doc["wasted"].as_array().unwrap().is_empty(), "{form}");
        assert!(!doc["caches"].as_array().unwrap().is_empty(), "{form}");
        assert!(doc["duplicates"].is_object(), "{form}");
    }
    // Without --duplicates: null.
    let doc = image_json(&[&kitchen("docker-archive.tar")]);
    assert_valid(&doc);
    assert!(doc["duplicates"].is_null());
}

#[test]
fn check_documents_follow_the_schema() {
    let img = kitchen("docker-archive.tar");
    let dir = tempfile::tempdir().unwrap();
    // A baseline, for `growth`: this image's own image document.
    let base = dir.path().join("base.json");
    let out = dredge().args(["image", &img, "--json"]).output().unwrap();
    fs::write(&base, out.stdout).unwrap();
    // Every rule set, some broken (exit 1), with blame, growth, and a dive rule disabled.
    let (code, doc) = verdict_json(
        dredge()
            .args(["check", &img, "--json", "--no-config"])
            .args([
                "--lowest-efficiency",
                "0.5",
                "--highest-wasted-bytes",
                "disabled",
            ])
            .args(["--highest-user-wasted-percent", "0.9"])
            .args([
                "--max-size",
                "1",
                "--max-layer-size",
                "1",
                "--max-layers",
                "1",
            ])
            .args(["--max-reclaimable", "1", "--max-reclaimable-percent", "1"])
            .args(["--max-cache", "1", "--forbid", "**/*.apk"])
            .args(["--max-growth", "0", "--max-growth-percent", "0"])
            .arg("--baseline")
            .arg(&base),
    );
    assert_eq!(code, 1, "{doc:#}");
    assert_valid(&doc);
    assert!(doc["growth"].is_object());
    let statuses: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    for s in ["fail", "pass", "skip"] {
        assert!(statuses.contains(&s), "no {s} result: {statuses:?}");
    }
    // A passing check without a baseline: growth is null.
    let (code, doc) =
        verdict_json(dredge().args(["check", &img, "--json", "--no-config", "--max-size", "1GB"]));
    assert_eq!(code, 0, "{doc:#}");
    assert_valid(&doc);
    assert!(doc["growth"].is_null());
}

#[test]
fn advice_documents_follow_the_schema() {
    let img = kitchen("docker-archive.tar");
    let run = |extra: &[&str]| {
        json_ok(
            dredge()
                .args(["advise", &img, "--json", "--no-progress"])
                .args(extra),
        )
    };
    let matched = run(&["--dockerfile", &kitchen("Dockerfile")]);
    assert_valid(&matched);
    assert_eq!(matched["dockerfile_matched"], true);
    assert!(!matched["suggestions"].as_array().unwrap().is_empty());
    let bare = run(&[]);
    assert_valid(&bare);
    assert!(bare["dockerfile"].is_null());
    // A Dockerfile that does not match: `mismatch` is a string.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("Dockerfile");
    fs::write(&other, "FROM scratch\nRUN true\n").unwrap();
    let mismatched = run(&["--dockerfile", other.to_str().unwrap()]);
    assert_valid(&mismatched);
    assert!(mismatched["mismatch"].is_string(), "{mismatched:#}");
}

#[test]
fn lint_documents_follow_the_schema() {
    let (code, doc) = verdict_json(dredge().args(["lint", &kitchen("Dockerfile"), "--json"]));
    assert_eq!(code, 1, "the kitchen Dockerfile breaks size rules: {doc:#}");
    assert_valid(&doc);
    assert!(!doc["findings"].as_array().unwrap().is_empty());
}

fn write(p: &Path, bytes: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

/// A small Docker 20.10 data root (layout: /work/shared/docs/docker-data-root.md): one image of one
/// layer, a stopped container on it with a log, a named volume it mounts and an anonymous one, a
/// BuildKit snapshot, a leaked layer chain, an unnamed overlay2 dir and a `tmp/` leftover.
fn data_root(root: &Path) {
    let store = root.join("image/overlay2");
    let layer = |id: &str, n: usize| {
        write(
            &root.join("overlay2").join(id).join("diff/f"),
            &vec![b'x'; n],
        );
        write(
            &root.join("overlay2").join(id).join("link"),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        );
    };
    let (image, live, leaked, mount, ctr) = (hex('e'), hex('1'), hex('4'), hex('2'), hex('c'));
    let diff_id = format!("sha256:{}", hex('a'));
    write(
        &store.join("imagedb/content/sha256").join(&image),
        format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#).as_bytes(),
    );
    write(
        &store.join("repositories.json"),
        format!(r#"{{"Repositories":{{"t":{{"t:1":"sha256:{image}"}}}}}}"#).as_bytes(),
    );
    let chain = store.join("layerdb/sha256").join(hex('a'));
    write(&chain.join("diff"), diff_id.as_bytes());
    write(&chain.join("cache-id"), live.as_bytes());
    write(&chain.join("size"), b"10000");
    layer(&live, 10_000);
    let stray = store.join("layerdb/sha256").join(hex('b'));
    write(
        &stray.join("diff"),
        format!("sha256:{}", hex('b')).as_bytes(),
    );
    write(&stray.join("cache-id"), leaked.as_bytes());
    layer(&leaked, 4000);
    let m = store.join("layerdb/mounts").join(&ctr);
    write(&m.join("mount-id"), mount.as_bytes());
    write(&m.join("init-id"), format!("{mount}-init").as_bytes());
    write(&m.join("parent"), diff_id.as_bytes());
    layer(&mount, 2000);
    layer(&format!("{mount}-init"), 10);
    let c = root.join("containers").join(&ctr);
    write(
        &c.join("config.v2.json"),
        format!(
            r#"{{"Name":"/web","Image":"sha256:{image}","State":{{"Running":false}},
            "MountPoints":{{"/data":{{"Type":"volume","Name":"named"}}}}}}"#
        )
        .as_bytes(),
    );
    write(
        &c.join("hostconfig.json"),
        br#"{"LogConfig":{"Type":"json-file"}}"#,
    );
    write(&c.join(format!("{ctr}-json.log")), &[b'l'; 3000]);
    write(&root.join("volumes/named/_data/v"), &[b'v'; 3000]);
    write(
        &root.join("volumes").join(hex('f')).join("_data/w"),
        &[b'w'; 600],
    );
    layer("0t8qkhpx2mwvp1ifzcfbm3qbg", 900);
    layer(&hex('3'), 5000);
    write(&root.join("tmp/docker-import-42/repo.tar"), &[b't'; 1200]);
    write(&root.join("network/files/local-kv.db"), &[0u8; 4096]);
}

#[test]
fn df_offline_document_follows_the_schema() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    data_root(&root);
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0", "--data-root"])
            .arg(&root),
    );
    assert_valid(&doc);
    assert_eq!(doc["mode"], "offline");
    for list in ["images", "containers", "volumes", "orphans", "top"] {
        assert!(!doc[list].as_array().unwrap().is_empty(), "{list}: {doc:#}");
    }
    // An empty directory: no image store at all.
    let empty = tempfile::tempdir().unwrap();
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--data-root"])
            .arg(empty.path()),
    );
    assert_valid(&doc);
    assert_eq!(doc["driver"]["kind"], "none");
}

#[test]
#[ignore = "needs docker engine"]
fn df_live_document_follows_the_schema() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let doc = json_ok(dredge().args(["df", "--json", "--no-progress", "--engine-df"]));
    assert_valid(&doc);
    assert_eq!(doc["mode"], "live");
    assert!(doc["engine"].is_object(), "{doc:#}");
}

/// The category named `name` of a df document.
fn category<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no category {name}: {doc:#}"))
}

fn ids_of(doc: &Value, list: &str, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = doc[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list}: {doc:#}"))
        .iter()
        .filter(|i| i["kind"] == kind)
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn prune_offline_documents_follow_the_schema() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    data_root(&root);
    let state = t.path().join("state");
    let r = root.to_str().unwrap();
    // The orphans the recipe made: a leaked chain (its overlay2 dir, layerdb record also), an unnamed
    // overlay2 dir, and a tmp/ leftover.
    let leaked = root.join("overlay2").join(hex('4'));
    let unnamed = root.join("overlay2").join(hex('3'));
    let tmp = root.join("tmp/docker-import-42");
    let mut expected: Vec<String> = [&leaked, &unnamed, &tmp]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    expected.sort();

    // Default grace (1 h): everything is seconds old, so kept, each with its reason.
    let young = dfcommon::dredge_prune_json(None, &state, &["--orphans", "--data-root", r]);
    assert_valid(&young);
    assert_eq!(young["schema"], "dredge.prune.plan");
    assert_eq!(young["mode"], "offline");
    assert_eq!(young["engine_id"], "offline");
    assert!(young["items"].as_array().unwrap().is_empty(), "{young:#}");
    assert_eq!(ids_of(&young, "kept", "orphan"), expected, "{young:#}");

    // Two hours later (every mtime moved back: `--grace 0s` would still keep what changed this very
    // second): a plan of the three; --plan-out writes the very document --json prints.
    dfcommon::backdate(Path::new(r), "2 hours ago");
    let saved = t.path().join("plan.json");
    let args = [
        "--orphans",
        "--data-root",
        r,
        "--plan-out",
        saved.to_str().unwrap(),
    ];
    let (code, out, err) = dfcommon::dredge_prune(None, &state, &[&args[..], &["--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&plan);
    assert_eq!(ids_of(&plan, "items", "orphan"), expected, "{plan:#}");
    let file = fs::read_to_string(&saved).unwrap();
    assert_eq!(file, out, "--plan-out writes what --json prints");

    // Applied: a result that quarantined the three, under <root>/dredge-quarantine/<run_id>.
    let res = dfcommon::dredge_prune_json(None, &state, &["--apply", saved.to_str().unwrap()]);
    assert_valid(&res);
    assert_journal(res["journal"].as_str().unwrap());
    assert_eq!(res["schema"], "dredge.prune.result");
    assert_eq!(res["what"], "apply");
    assert_eq!(ids_of(&res, "deleted", "orphan"), expected);
    let run_id = res["run_id"].as_str().unwrap();
    let q = root.join("dredge-quarantine").join(run_id);
    assert_eq!(res["quarantine"], q.display().to_string());
    assert!(q.is_dir() && !leaked.exists() && !unnamed.exists() && !tmp.exists());

    // df now: the quarantine is its own category (du of it), and none of it is an orphan.
    let df = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0", "--data-root"])
            .arg(&root),
    );
    assert_valid(&df);
    let qc = category(&df, "quarantine");
    assert_eq!(
        qc["bytes"],
        dfcommon::du(&root.join("dredge-quarantine")),
        "{df:#}"
    );
    assert!(df["orphans"].as_array().unwrap().is_empty(), "{df:#}");

    // Undo: a result that restored them.
    let undo = dfcommon::dredge_prune_json(None, &state, &["--undo", run_id]);
    assert_valid(&undo);
    assert_journal(undo["journal"].as_str().unwrap());
    assert_eq!(undo["what"], "undo");
    // One entry per path renamed back: the leaked chain's layerdb record is one too.
    let record = root
        .join("image/overlay2/layerdb/sha256")
        .join(hex('b'))
        .display()
        .to_string();
    let mut restored = expected.clone();
    restored.push(record.clone());
    restored.sort();
    assert_eq!(ids_of(&undo, "deleted", "orphan"), restored);
    assert!(
        undo["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["action"] == "restored")
    );
    assert!(leaked.is_dir() && unnamed.is_dir() && tmp.is_dir());

    // Quarantine again (--yes), then purge: results of both.
    let again = dfcommon::dredge_prune_json(
        None,
        &state,
        &["--orphans", "--grace", "0s", "--yes", "--data-root", r],
    );
    assert_valid(&again);
    assert_journal(again["journal"].as_str().unwrap());
    let purge =
        dfcommon::dredge_prune_json(None, &state, &["--purge-quarantine", "--data-root", r]);
    assert_valid(&purge);
    assert_journal(purge["journal"].as_str().unwrap());
    assert_eq!(purge["what"], "purge");
    // One entry per run dir purged, each under the quarantine; none is left, nor the orphans.
    let quarantine = root.join("dredge-quarantine");
    let purged = purge["deleted"].as_array().unwrap();
    assert!(!purged.is_empty(), "{purge:#}");
    for d in purged {
        assert_eq!(d["action"], "purged", "{purge:#}");
        assert!(Path::new(d["id"].as_str().unwrap()).starts_with(&quarantine));
    }
    assert_eq!(fs::read_dir(&quarantine).map_or(0, Iterator::count), 0);
    assert!(!leaked.exists() && !Path::new(&record).exists());
}

/// `dredge df` gives `<root>/dredge-quarantine` a category of its own: its bytes are `du` of the
/// dir, it is no orphan (even with a leftover-looking name inside), and the categories still add up.
#[test]
fn df_counts_the_quarantine_apart() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    data_root(&root);
    let q = root.join("dredge-quarantine");
    // What prune leaves: run dirs holding renamed orphans (an overlay2 dir and a tmp leftover; an
    // overlay2 dir and its layerdb record), and a stray file beside the runs (bytes, not an item).
    let run = q.join("20260101T000000Z-1");
    write(
        &run.join(format!("0-overlay2%{}", hex('9')))
            .join("diff/big"),
        &[b'q'; 70_000],
    );
    write(&run.join("1-tmp%docker-import-7/x"), &[b'x'; 5000]);
    let run2 = q.join("20260102T000000Z-2");
    write(
        &run2.join(format!("0-overlay2%{}", hex('8'))).join("diff/f"),
        &[b'r'; 20_000],
    );
    write(
        &run2
            .join(format!("1-image%overlay2%layerdb%sha256%{}", hex('7')))
            .join("cache-id"),
        hex('8').as_bytes(),
    );
    write(&q.join("stray"), b"s");
    // The runs' mtimes, as prune's last rename in leaves them: two days and one hour ago.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (d, ago) in [(&run, 2 * 86_400), (&run2, 3600)] {
        common::run(
            "touch",
            &["-d", &format!("@{}", now - ago), d.to_str().unwrap()],
        );
    }
    let expected = dfcommon::du(&q);
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--top", "0", "--data-root"])
            .arg(&root),
    );
    assert_valid(&doc);
    let c = category(&doc, "quarantine");
    assert_eq!(c["bytes"], expected, "{doc:#}");
    assert_eq!(c["reclaimable_bytes"], expected);
    // Four quarantined items (ls of the run dirs), the stray file not one of them.
    let items = |d: &Path| fs::read_dir(d).unwrap().count() as u64;
    assert_eq!(c["count"], items(&run) + items(&run2), "{doc:#}");
    assert_eq!(c["count"], 4);
    // One entry per run, by run id: its items, du of it, its age from the mtime set above.
    let runs = doc["quarantine"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{doc:#}");
    for (r, d, ago) in [(&runs[0], &run, 2 * 86_400), (&runs[1], &run2, 3600)] {
        assert_eq!(r["run"], d.file_name().unwrap().to_str().unwrap());
        assert_eq!(r["path"], d.display().to_string());
        assert_eq!(r["items"], items(d));
        assert_eq!(r["bytes"], dfcommon::du(d), "{r:#}");
        // The age is counted from a clock read after `now` above: not less, and not absurdly more.
        let age = r["age_seconds"].as_u64().unwrap();
        assert!((ago..ago + 3600).contains(&age), "{r:#}");
    }
    // Each run is a top item of kind quarantine; the dir itself is not.
    let top_q: Vec<&str> = doc["top"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "quarantine")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(top_q.len(), 2, "{doc:#}");
    // The table lists the runs with their item counts.
    let out = dredge()
        .args(["df", "--no-progress", "--data-root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("Quarantine (2 run(s), 4 item(s))"),
        "{table}"
    );
    assert!(
        table.contains("20260101T000000Z-1") && table.contains("2 d"),
        "{table}"
    );
    assert!(
        c["reclaim"]
            .as_str()
            .unwrap()
            .contains("dredge prune --purge-quarantine")
    );
    let qs = q.display().to_string();
    for list in ["orphans", "in_flight", "held_by_daemon"] {
        assert!(
            doc[list]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| !o["path"].as_str().unwrap().starts_with(&qs)),
            "{list}: {doc:#}"
        );
    }
    let sum: u64 = doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, doc["total_bytes"].as_u64().unwrap());
    assert_eq!(
        doc["total_bytes"],
        dfcommon::du(&root),
        "the whole root, by du"
    );
    // Without it: the category is there, zero.
    fs::remove_dir_all(&q).unwrap();
    let doc = json_ok(
        dredge()
            .args(["df", "--json", "--no-progress", "--data-root"])
            .arg(&root),
    );
    assert_eq!(category(&doc, "quarantine")["bytes"], 0);
}

/// A private dockerd with base:1 and app:1 committed twice: the first becomes dangling; mk0 and mk1
/// are stopped.
fn daemon_with_app() -> dfcommon::PrivateDaemon {
    let d = dfcommon::PrivateDaemon::start().expect("a private dockerd (needs root and dockerd)");
    d.import_base("base:1");
    for (i, word) in ["one", "two"].iter().enumerate() {
        d.commit_sh(
            "base:1",
            &format!("mk{i}"),
            &format!("echo {word} > /f"),
            "app:1",
        );
    }
    d
}

/// On a private dockerd: the plan and the result of pruning a dangling image and stopped containers.
#[test]
#[ignore = "needs docker engine and root"]
fn prune_engine_documents_follow_the_schema() {
    let d = daemon_with_app();
    let host = d.host();
    let lines = |s: String| -> Vec<String> {
        let mut v: Vec<String> = s
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    };
    let dangling = lines(d.docker(
        &["image", "ls", "-q", "--no-trunc", "-f", "dangling=true"],
        None,
    ));
    assert_eq!(dangling.len(), 1, "the recipe makes one dangling image");
    let stopped = lines(d.docker(&["ps", "-aq", "--no-trunc", "-f", "status=exited"], None));
    assert_eq!(stopped.len(), 2, "mk0, mk1");

    let state = tempfile::tempdir().unwrap();
    let st = state.path();
    let saved = st.join("plan.json");
    let sel = ["--dangling-images", "--stopped-containers", "--grace", "0s"];
    let (code, out, err) = dfcommon::dredge_prune(
        Some(&host),
        st,
        &[&sel[..], &["--json", "--plan-out", saved.to_str().unwrap()]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let plan: Value = serde_json::from_str(&out).unwrap();
    assert_valid(&plan);
    assert_eq!(plan["mode"], "live");
    assert_eq!(ids_of(&plan, "items", "image"), dangling, "{plan:#}");
    assert_eq!(ids_of(&plan, "items", "container"), stopped, "{plan:#}");
    assert_eq!(fs::read_to_string(&saved).unwrap(), out);

    let res = dfcommon::dredge_prune_json(Some(&host), st, &[&sel[..], &["--yes"]].concat());
    assert_valid(&res);
    assert_journal(res["journal"].as_str().unwrap());
    assert_eq!(res["what"], "apply");
    assert_eq!(ids_of(&res, "deleted", "image"), dangling, "{res:#}");
    assert_eq!(ids_of(&res, "deleted", "container"), stopped, "{res:#}");
    assert!(lines(d.docker(&["ps", "-aq", "-f", "status=exited"], None)).is_empty());
}

/// `held` plans, results and journal lines as dredge's own writers serialize them (every optional
/// field set) follow the schemas; the real `--held` documents are validated in tests/prune_held.rs
/// (a private dockerd, root). The schemas stay strict about what is new.
#[test]
fn held_documents_as_dredge_writes_them_follow_the_schema() {
    use dredge::prune::apply::DoneItem;
    use dredge::prune::journal::{Action, Entry};
    use dredge::prune::{Kind, Plan, RunResult};
    use dredge::report::prune::{write_plan_json, write_result_json};

    let file = |pid: u32, fd: u32| {
        json!({"pid": pid, "pid_start": 123_456, "fd": fd, "dev": 2049, "inode": 77,
               "bytes": 30_003_200, "path": "/big"})
    };
    let plan: Plan = serde_json::from_value(json!({
        "created": "2026-12-01T00:00:00Z", "engine_id": "E", "data_root": "/var/lib/docker",
        "mode": "live", "total_bytes": 35_000_000,
        "items": [
            {"kind": "held", "id": hex('a'), "bytes": 30_003_200,
             "rule": "holds deleted files; restart policy always", "refs": ["keeper"],
             "held_action": "restart", "container": hex('a'),
             "container_started": "2026-12-01T00:00:00.123456789Z",
             "files": [file(4321, 3), file(4322, 3)]},
            {"kind": "held", "id": "1000:12", "bytes": 4_996_800,
             "rule": "deleted log held by dockerd; --truncate-logs", "refs": ["chatty"],
             "held_action": "truncate", "container": hex('b'),
             "container_started": "2026-12-01T00:00:00Z", "files": [file(1000, 12)],
             "data_loss": true},
            {"kind": "log", "id": hex('d'), "bytes": 15_266_816,
             "rule": "json-file log of container chatty holds 15.3 MB, over 1.0 MB: truncated to 0",
             "refs": ["chatty"], "data_loss": true,
             "log_file": {"path": "/var/lib/docker/containers/d/d-json.log", "driver": "json-file",
                          "over": 1_000_000, "dev": 2049, "inode": 78, "size": 15_266_657}}
        ],
        "held": [
            {"id": "4400:3", "pid": 4400, "process": "sh", "fd": 3, "container": hex('c'),
             "container_name": "plain", "path": "/big", "bytes": 30_003_200,
             "fix": "restart-container", "reason": "no restart policy: --restart-any restarts it"},
            {"id": "99:4", "pid": 99, "process": "tail", "fd": 4, "path": "/var/lib/docker/x",
             "bytes": 4096, "fix": "restart-process",
             "reason": "held by a process of no container: restart or stop it yourself"}
        ]
    }))
    .unwrap();
    let mut out = Vec::new();
    write_plan_json(&mut out, &plan).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["items"][0]["held_action"], "restart");
    assert_eq!(doc["items"][1]["files"][0]["pid_start"], 123_456);
    assert_eq!(doc["held"][1]["fix"], "restart-process");
    // Strict about the new parts too.
    for (at, field, value) in [
        ("/items/0", "held_action", json!("kill")),
        ("/items/0/files/0", "undocumented", json!(1)),
        ("/items/0/files/0", "inode", json!("77")),
        ("/held/0", "fix", json!("reboot")),
        ("/held/0", "holders", json!([])),
        ("/items/2/log_file", "driver", json!("syslog")),
        ("/items/2/log_file", "size", json!(-1)),
        ("/items/2", "data_loss", json!(false)),
    ] {
        let mut bad = doc.clone();
        bad.pointer_mut(at).unwrap()[field] = value;
        assert!(!violations(&bad).is_empty(), "{at} {field}");
    }
    let mut bad = doc.clone();
    bad["held"][0].as_object_mut().unwrap().remove("reason");
    assert!(!violations(&bad).is_empty());

    let done = |id: String, action: &'static str, data_loss: bool| DoneItem {
        kind: Kind::Held,
        id,
        bytes: 4_996_800,
        action,
        detail: vec!["the log's content is lost".into()],
        data_loss,
        lost_bytes: data_loss.then_some(5_000_000),
    };
    let res = RunResult {
        run_id: "20261201T000000Z-1".into(),
        what: "apply".into(),
        engine_id: "E".into(),
        data_root: "/var/lib/docker".into(),
        journal: "/var/lib/dredge/runs/20261201T000000Z-1.jsonl".into(),
        deleted: vec![
            done("1000:12".into(), "truncated", true),
            done(hex('a'), "restarted", false),
        ],
        freed_bytes: Some(35_000_000),
        reclaimed_bytes: 35_000_000,
        ..Default::default()
    };
    let mut out = Vec::new();
    write_result_json(&mut out, &res).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_valid(&doc);
    assert_eq!(doc["deleted"][0]["data_loss"], true);
    assert_eq!(doc["deleted"][0]["lost_bytes"], 5_000_000);
    assert!(doc["deleted"][1].get("data_loss").is_none(), "{doc:#}");
    assert!(doc["deleted"][1].get("lost_bytes").is_none(), "{doc:#}");
    let mut bad = doc.clone();
    bad["deleted"][0]["data_loss"] = json!("yes");
    assert!(!violations(&bad).is_empty());

    for action in [Action::Restart, Action::Truncate] {
        let line = serde_json::to_value(Entry::Intent {
            step: 1,
            kind: Kind::Held,
            id: "1000:12".into(),
            action,
            reference: None,
            from: None,
            to: None,
        })
        .unwrap();
        let errs = schemacheck::journal_line_violations(&line);
        assert!(errs.is_empty(), "{line}: {}", errs.join("; "));
    }
    let line = serde_json::to_value(Entry::Intent {
        step: 2,
        kind: Kind::Log,
        id: hex('d'),
        action: Action::Truncate,
        reference: Some("/var/lib/docker/containers/d/d-json.log".into()),
        from: None,
        to: None,
    })
    .unwrap();
    let errs = schemacheck::journal_line_violations(&line);
    assert!(errs.is_empty(), "{line}: {}", errs.join("; "));
}

/// The schemas reject what the doc does not name, and wrong types: the test above means something.
#[test]
fn the_schemas_are_strict() {
    let good = image_json(&[&kitchen("docker-archive.tar")]);
    let mut extra = good.clone();
    extra["undocumented"] = json!(1);
    assert!(!violations(&extra).is_empty());
    let mut nested = good.clone();
    nested["layers"][0]["undocumented"] = json!(1);
    assert!(!violations(&nested).is_empty());
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("wasted_total");
    assert!(!violations(&missing).is_empty());
    let mut typed = good.clone();
    typed["size_bytes"] = json!("12");
    assert!(!violations(&typed).is_empty());
    let mut reason = good;
    reason["wasted"][0]["reason"] = json!("vanished");
    assert!(!violations(&reason).is_empty());
}

/// The id enums in the schemas are the ids in the code (one place for their text: the code's tables).
#[test]
fn schema_enums_are_the_code_tables() {
    let enum_of = |doc: &Value, def: &str, field: &str| -> Vec<String> {
        doc["$defs"][def]["properties"][field]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{def}.{field} has an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let caches: Vec<String> = dredge::analysis::caches::CACHE_RULES
        .iter()
        .map(|r| r.id.as_str().to_string())
        .collect();
    assert_eq!(enum_of(&schema("dredge.image", 1), "cache", "id"), caches);
    let lint: Vec<String> = dredge::advice::lint::LintRule::ALL
        .iter()
        .map(|r| r.spec().id.to_string())
        .collect();
    assert_eq!(enum_of(&schema("dredge.lint", 1), "finding", "rule"), lint);
    let mut rules: Vec<String> = dredge::check::TABLE
        .iter()
        .filter(|s| s.rule.is_some())
        .map(|s| s.name.to_string())
        .collect();
    let mut in_schema = enum_of(&schema("dredge.check", 1), "result", "rule");
    rules.sort();
    in_schema.sort();
    assert_eq!(in_schema, rules);
}

/// On a private dockerd: `dredge reclaim` documents (a dry run, a run that cannot reach low, with
/// victims, left objects and what still holds the space).
#[test]
#[ignore = "needs docker engine and root"]
fn reclaim_documents_follow_the_schema() {
    let d = daemon_with_app();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    // 0%: always past high, never at low: every step runs, and the run ends with exit 1.
    fs::write(
        &policy,
        "[watermarks]\nhigh = \"0%\"\nlow = \"0%\"\n[images]\nmin_age = \"0s\"\n[containers]\nfinished_for = \"0s\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| -> (i32, Value) {
        let out = dredge()
            .args(["reclaim", "--json", "--policy", policy.to_str().unwrap()])
            .args(["--state-dir", dir.path().join("state").to_str().unwrap()])
            .args(extra)
            .env("DOCKER_HOST", d.host())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code().unwrap_or(-1), doc)
    };
    let (code, dry) = run(&["--dry-run"]);
    assert_eq!(code, 1);
    assert_valid(&dry);
    assert_eq!(dry["dry_run"], true);
    let (code, first) = run(&[]);
    assert_eq!(code, 1);
    assert_valid(&first);
    // The images are new in the first run: only the stopped containers went.
    assert_eq!(first["steps"][0]["step"], "stopped-containers", "{first:#}");
    assert!(first["skipped"]["new"].as_u64().unwrap() >= 1, "{first:#}");
    assert!(!first["holding"].as_array().unwrap().is_empty());
    let (code, second) = run(&[]);
    assert_eq!(code, 1);
    assert_valid(&second);
    let steps: Vec<&str> = second["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"dangling-images"), "{second:#}");
}
