//! `dredge prune` on the containerd image store (issue 13), on the engine of
//! `scripts/docker-up-containerd` (Engine 26, containerd image store, chrooted):
//!
//! - a stopped container and an unused named volume go through the engine API (gone afterwards, as
//!   `docker inspect` says);
//! - an image whose load is under way (a `docker load` whose archive stalls after the image's own
//!   manifest blob: its lease holds that blob) is kept at planning, and skipped at apply when the load
//!   began after planning; the reason names the lease;
//! - once nothing holds it, the image is deleted through the engine, and its planned bytes are what
//!   `du -sx -B1` of the containerd root lost (containerd's collection is synchronous after the last
//!   reference goes; the test waits for `du` to settle);
//! - nothing is ever removed under containerd's root by dredge (the engine and containerd do it);
//! - `dredge reclaim` there: a run records the images, the next (watermark unreachable, keep rules
//!   for everything but this test's image) deletes the image, and what `du` lost is its planned bytes.
//!
//! Only objects this test made are planned: the plan is cut down to them before `--apply` (a plan
//! file is the user's to edit). `#[ignore = "needs containerd-store engine"]`, failing when it is
//! missing.

mod common;
mod ctrdcommon;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{dredge, json_ok};
use ctrdcommon::{OWN, du_settled};

fn sock() -> String {
    OWN.sock()
}

fn ctrd_root() -> PathBuf {
    OWN.store_root()
}

fn docker(args: &[&str]) -> std::process::Output {
    OWN.docker(args)
}

fn docker_ok(args: &[&str]) -> String {
    OWN.docker_ok(args).trim().to_string()
}
use serde_json::Value;

/// One test at a time: reclaim deletes any image its policy does not keep.
static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Operation leases (`containerd.io/gc.expire`): a killed `docker load` leaves one for 24 hours.
fn operation_leases() -> Vec<String> {
    let ls = OWN.ctr(&["leases", "ls"]);
    String::from_utf8_lossy(&ls.stdout)
        .lines()
        .skip(1)
        .filter(|l| l.contains("containerd.io/gc.expire"))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

fn prune(args: &[&str], state: &Path) -> Value {
    json_ok(
        dredge()
            .env("DOCKER_HOST", sock())
            .args(["prune", "--json", "--state-dir"])
            .arg(state)
            .args(args),
    )
}

/// Writes `plan` cut down to the items whose id is in `ids`.
fn plan_of(plan: &Value, ids: &[&str], to: &Path) {
    let mut p = plan.clone();
    let items: Vec<Value> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| ids.contains(&i["id"].as_str().unwrap()))
        .cloned()
        .collect();
    assert_eq!(items.len(), ids.len(), "not all planned: {ids:?} in {plan}");
    p["items"] = Value::Array(items);
    p["shared"] = Value::Array(Vec::new());
    std::fs::write(to, serde_json::to_vec(&p).unwrap()).unwrap();
}

fn apply(plan: &Path, state: &Path) -> Value {
    let out = dredge()
        .env("DOCKER_HOST", sock())
        .args(["prune", "--json", "--state-dir"])
        .arg(state)
        .arg("--apply")
        .arg(plan)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn reason_of<'a>(list: &'a Value, id: &str) -> Option<&'a str> {
    list.as_array()?
        .iter()
        .find(|k| k["id"] == id)
        .and_then(|k| k["reason"].as_str())
}

/// A `docker load` of `archive` that stops sending right after the entry of the blob `hex` and stays
/// open: the load's lease then holds that blob. Dropped (also when the test fails), it is killed, and
/// the lease the killed load leaves (24 h expiry) is deleted through containerd's API.
struct StalledLoad(
    std::process::Child,
    Option<std::process::ChildStdin>,
    Vec<String>,
);

impl StalledLoad {
    fn start(archive: &[u8], hex: &str) -> StalledLoad {
        let mut ar = tar::Archive::new(archive);
        let end = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().ends_with(hex))
            .map(|e| e.raw_file_position() + e.size().div_ceil(512) * 512)
            .expect("the archive has the image's blob");
        let before = operation_leases();
        let mut child = Command::new("docker")
            .env("DOCKER_HOST", sock())
            .arg("load")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&archive[..end as usize]).unwrap();
        stdin.flush().unwrap();
        StalledLoad(child, Some(stdin), before)
    }
}

impl Drop for StalledLoad {
    fn drop(&mut self) {
        let _ = self.0.kill();
        self.1.take();
        let _ = self.0.wait();
        for l in operation_leases() {
            if !self.2.contains(&l) {
                let _ = OWN.ctr(&["leases", "delete", "--sync", &l]);
            }
        }
    }
}

/// Waits until `f` holds, at most 60 s.
fn wait_for<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let t = &self.0;
        let _ = docker(&["rm", "-f", &format!("{t}-src"), &format!("{t}-c")]);
        let _ = docker(&["rmi", &format!("{t}:1")]);
        let _ = docker(&["volume", "rm", &format!("{t}-vol")]);
    }
}

#[test]
#[ignore = "needs containerd-store engine"]
fn prune_goes_through_the_engine_and_leaves_what_a_lease_holds() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    OWN.need();
    let t = format!("dredge-ctrd-prune-{}", std::process::id());
    let _cleanup = Cleanup(t.clone());
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // An image of its own: busybox plus 1 MiB of random bytes, committed from a container.
    let image = OWN.commit_mib_image(&t);
    // A stopped container of it with writable data, and a named volume nothing mounts.
    docker_ok(&[
        "run",
        "--network",
        "none",
        "--name",
        &format!("{t}-c"),
        &format!("{t}:1"),
        "sh",
        "-c",
        "head -c 524288 /dev/urandom > /more",
    ]);
    let container = docker_ok(&["inspect", "--format", "{{.Id}}", &format!("{t}-c")]);
    docker_ok(&["volume", "create", &format!("{t}-vol")]);
    // The volume's creation time is the grace period's clock: 0 s here.
    let all = [
        "--stopped-containers",
        "0s",
        "--named-volumes",
        "--unused-images",
        "0s",
        "--grace",
        "0s",
    ];

    // 1. Container and volume, through the engine. While the container stays, its image does.
    let images_only = prune(&all[3..], state.path());
    assert_eq!(
        reason_of(&images_only["kept"], &image),
        Some(format!("used by container {t}-c").as_str()),
        "{images_only}"
    );
    let plan = prune(&all, state.path());
    let vol = format!("{t}-vol");
    let p1 = dir.path().join("p1.json");
    plan_of(&plan, &[&container, &vol], &p1);
    let r = apply(&p1, state.path());
    assert_eq!(r["deleted"].as_array().unwrap().len(), 2, "{r}");
    assert!(!docker(&["inspect", &container]).status.success());
    assert!(!docker(&["volume", "inspect", &vol]).status.success());

    // 2. The image, planned now that no container uses it.
    let plan = prune(&all, state.path());
    let p2 = dir.path().join("p2.json");
    plan_of(&plan, &[&image], &p2);
    let planned_bytes = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == image.as_str())
        .unwrap()["bytes"]
        .as_u64()
        .unwrap();

    // 3. A load of the same image begins after planning: its lease holds the image's manifest.
    let archive = {
        let o = docker(&["save", &format!("{t}:1")]);
        assert!(o.status.success());
        o.stdout
    };
    let hex = image.trim_start_matches("sha256:").to_string();
    let before_leases = operation_leases();
    {
        let _load = StalledLoad::start(&archive, &hex);
        wait_for("the load's lease holds the image", || {
            let p = prune(&all, state.path());
            reason_of(&p["kept"], &image).is_some_and(|r| r.contains("lease"))
        });
        let kept = prune(&all, state.path());
        let why = reason_of(&kept["kept"], &image).unwrap().to_string();
        assert!(
            why.contains("content held by lease") && why.contains("expires in"),
            "{why}"
        );
        // Apply the plan made before the load: the re-check leaves the image.
        let r = apply(&p2, state.path());
        assert_eq!(r["deleted"].as_array().unwrap().len(), 0, "{r}");
        let skipped = reason_of(&r["skipped"], &image).expect("skipped");
        assert!(skipped.contains("lease"), "{skipped}");
        assert!(docker(&["image", "inspect", &image]).status.success());
    }
    // The killed load's lease went with the guard.
    let left: Vec<String> = operation_leases()
        .into_iter()
        .filter(|l| !before_leases.contains(l))
        .collect();
    assert!(left.is_empty(), "leases left: {left:?}");

    // 4. Nothing holds it now: deleted through the engine; what it frees is what du loses.
    let before = du_settled(&ctrd_root());
    let r = apply(&p2, state.path());
    assert_eq!(r["deleted"].as_array().unwrap().len(), 1, "{r}");
    assert!(!docker(&["image", "inspect", &image]).status.success());
    let after = du_settled(&ctrd_root());
    assert!(planned_bytes > 1 << 20, "{planned_bytes}");
    assert_eq!(
        before - after,
        planned_bytes,
        "du of {} went {before} -> {after}",
        ctrd_root().display()
    );
}

#[test]
#[ignore = "needs containerd-store engine"]
fn reclaim_deletes_an_unused_image_and_du_agrees() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    OWN.need();
    let t = format!("dredge-ctrd-reclaim-{}", std::process::id());
    let _cleanup = Cleanup(t.clone());
    let image = OWN.commit_mib_image(&t);
    let dir = tempfile::tempdir().unwrap();
    // Everything but this test's image is kept (by name, or in use); only the image step runs.
    let policy = |high: &str, low: &str| {
        let p = dir.path().join(format!("policy-{high}.toml"));
        std::fs::write(
            &p,
            format!(
                "[watermarks]\nhigh = \"{high}\"\nlow = \"{low}\"\n[images]\nmin_age = \"0s\"\n\
                 keep = [\"dredge-ctrd-busybox*\", \"dredge-ctrd-built*\", \"dredge-ctrd-killed*\"]\n\
                 keep_last = 0\n[order]\nsteps = [\"unused-images\"]\n"
            ),
        )
        .unwrap();
        p
    };
    let reclaim = |policy: &Path| {
        dredge()
            .env("DOCKER_HOST", sock())
            .args(["reclaim", "--json", "--state-dir"])
            .arg(dir.path())
            .arg("--state")
            .arg(dir.path().join("state.json"))
            .arg("--policy")
            .arg(policy)
            .output()
            .unwrap()
    };
    // First run: under the high watermark, it only records what it sees.
    let out = reclaim(&policy("100%", "99%"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = du_settled(&ctrd_root());
    // Second run: the low watermark cannot be reached (exit 1); this test's image goes.
    let out = reclaim(&policy("1%", "0%"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let done: Vec<&Value> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["done"].as_array().unwrap())
        .collect();
    let mine = done
        .iter()
        .find(|d| d["id"] == image.as_str())
        .unwrap_or_else(|| panic!("{image} not deleted: {doc}"));
    assert!(!docker(&["image", "inspect", &image]).status.success());
    let after = du_settled(&ctrd_root());
    assert_eq!(done.len(), 1, "only this test's image goes: {doc}");
    assert_eq!(before - after, mine["bytes"].as_u64().unwrap(), "{doc}");
}
