//! `dredge df`'s last use of each image, on a private dockerd (own data root, exec root, pid file and
//! socket; the shared engine is never touched): the times come from `docker inspect` of its containers
//! (parsed by `date`) and from a `dredge prune` memory file written here by hand.

mod common;
mod dfcommon;

use std::process::Command;

use common::{dredge, json_ok, require};
use dfcommon::*;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Seconds since the epoch of an RFC 3339 time, as `date` reads it (fraction dropped).
fn epoch(t: &str) -> i64 {
    let out = Command::new("date")
        .args(["-u", "-d", t, "+%s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "date -d {t}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
#[ignore = "needs docker engine and root"]
fn last_use_comes_from_containers_then_the_state_file() {
    require(is_root(), "root (a private dockerd needs it)");
    let pd =
        PrivateDaemon::start().unwrap_or_else(|e| panic!("this test needs a private dockerd: {e}"));
    let rootfs = busybox_rootfs();
    let mut id = std::collections::BTreeMap::new();
    for name in ["lu-ran", "lu-remembered", "lu-created", "lu-running"] {
        pd.docker(
            &["import", "-c", &format!("LABEL n={name}"), "-", name],
            Some(&rootfs),
        );
        let i = pd.docker(&["image", "inspect", "-f", "{{.Id}}", name], None);
        id.insert(name, i.trim().to_string());
    }
    // Ran and exited; created and never started; still running.
    pd.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "ran",
            "lu-ran",
            "true",
        ],
        None,
    );
    pd.docker(
        &[
            "create",
            "--network",
            "none",
            "--name",
            "created",
            "lu-created",
            "true",
        ],
        None,
    );
    pd.docker(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "running",
            "lu-running",
            "sleep",
            "600",
        ],
        None,
    );
    let times = |c: &str| {
        let s = pd.docker(
            &[
                "inspect",
                "-f",
                "{{.State.StartedAt}} {{.State.FinishedAt}}",
                c,
            ],
            None,
        );
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        (v[0].clone(), v[1].clone())
    };
    let (ran_start, ran_finish) = times("ran");
    let ran_used = epoch(&ran_start).max(epoch(&ran_finish));
    let (running_start, _) = times("running");
    // prune's memory, by hand: lu-remembered used at a known time; lu-ran remembered earlier than its
    // container's use (the container's time wins).
    let state = tempfile::tempdir().unwrap();
    let engine_id = pd
        .docker(&["info", "-f", "{{.ID}}"], None)
        .trim()
        .to_string();
    let safe: String = engine_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let remembered = 1_700_000_000i64;
    std::fs::write(
        state.path().join(format!("last-used-{safe}.json")),
        serde_json::json!({
            id["lu-remembered"].clone(): remembered,
            id["lu-ran"].clone(): ran_used - 86_400,
        })
        .to_string(),
    )
    .unwrap();

    let run = |json: bool| {
        let mut cmd = dredge();
        cmd.args(["df", "--no-progress", "--top", "0"])
            .env("DOCKER_HOST", pd.host())
            .env("DREDGE_STATE_DIR", state.path());
        if json {
            cmd.arg("--json");
        }
        cmd
    };
    let doc = json_ok(&mut run(true));
    assert_eq!(doc["mode"], "live");
    let image = |name: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id[name].as_str())
            .unwrap_or_else(|| panic!("{name} in {doc:#}"))
            .clone()
    };
    let got = |name: &str| {
        let i = image(name);
        (i["last_used"].as_i64(), i["last_used_source"].clone())
    };
    assert_eq!(got("lu-ran"), (Some(ran_used), "containers".into()));
    assert_eq!(
        got("lu-remembered"),
        (Some(remembered), "state-file".into())
    );
    assert_eq!(got("lu-created"), (None, "none-seen".into()));
    assert_eq!(
        got("lu-running"),
        (Some(epoch(&running_start)), "containers".into())
    );

    let out = run(false).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(&format!("{name}:latest")))
            .unwrap_or_else(|| panic!("{name} in\n{table}"))
            .to_string()
    };
    assert!(row("lu-created").contains("never used"), "{table}");
    assert!(row("lu-running").contains("in use"), "{table}");
    // Ran moments ago ("just now", or "N minutes ago" on a slow machine).
    let ran = row("lu-ran");
    assert!(ran.contains("just now") || ran.contains(" ago"), "{table}");
    // 1 700 000 000 s is November 2023: some hundreds of days before any run of this test.
    assert!(row("lu-remembered").contains(" days ago"), "{table}");

    // Offline, the engine stopped: the times come from the containers' config.v2.json (read here
    // with serde_json and `date`); the stop gave the running container a finish time. Engine 20.10
    // writes no engine-id file, so prune's memory (kept per engine id) is not used offline.
    let mut pd = pd;
    pd.stop();
    let on_disk = |c: &str| -> i64 {
        let cid = ids_by_name(&pd, c);
        let cfg: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                pd.root()
                    .join("containers")
                    .join(&cid)
                    .join("config.v2.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let st = &cfg["State"];
        let t = |k: &str| {
            let v = st[k].as_str().unwrap();
            if v.starts_with("0001-") { 0 } else { epoch(v) }
        };
        t("StartedAt").max(t("FinishedAt"))
    };
    let off = json_ok(
        dredge()
            .args(["df", "--no-progress", "--top", "0", "--json", "--data-root"])
            .arg(pd.root())
            .env("DREDGE_STATE_DIR", state.path()),
    );
    assert_eq!(off["mode"], "offline");
    let off_got = |name: &str| {
        let i = off["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id[name].as_str())
            .unwrap_or_else(|| panic!("{name} in {off:#}"));
        (i["last_used"].as_i64(), i["last_used_source"].clone())
    };
    assert_eq!(off_got("lu-ran"), (Some(ran_used), "containers".into()));
    assert_eq!(on_disk("ran"), ran_used);
    let running_used = on_disk("running");
    assert!(running_used >= epoch(&running_start));
    assert_eq!(
        off_got("lu-running"),
        (Some(running_used), "containers".into())
    );
    assert_eq!(off_got("lu-created"), (None, "none-seen".into()));
    assert_eq!(off_got("lu-remembered"), (None, "none-seen".into()));
}

/// The container id of `name`, from the data root (`config.v2.json`'s `Name`), engine stopped.
fn ids_by_name(pd: &PrivateDaemon, name: &str) -> String {
    for e in std::fs::read_dir(pd.root().join("containers")).unwrap() {
        let e = e.unwrap();
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path().join("config.v2.json")).unwrap())
                .unwrap();
        if cfg["Name"] == format!("/{name}") {
            return e.file_name().to_string_lossy().into_owned();
        }
    }
    panic!("no container {name} under {}", pd.root().display())
}
