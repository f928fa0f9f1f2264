//! `dredge prune --orphans` on the containerd image store (issue 13), on the engine of
//! `scripts/docker-up-containerd` (`#[ignore = "needs containerd-store engine"]`, failing when it is
//! missing), and the leaked lease also beside a system containerd (`DREDGE_CTRD_MODE=system
//! scripts/docker-up-containerd`):
//! - a leaked lease (no expiry) that alone holds a layer blob of an image since removed is planned with
//!   the blob's allocated bytes (`du -B1` of the blob file, not dredge), deleted through containerd's
//!   API by `--apply` of that plan, and the blob file is gone afterwards; the journal has the step's
//!   intent and done lines;
//! - a lease with a future expiry that holds content is kept, with the reason;
//! - an ingest leftover (a `ctr content ingest` killed midway: no lease holds it) is planned with the
//!   allocated bytes of its `ingest/` dir (`du -sB1`), aborted through containerd's API by `--apply`,
//!   and its dir is gone afterwards;
//! - interrupted steps are settled by reading the store again; containerd's errors are one line; a
//!   path in the daemon's root is resolved there (`/var/run -> /run` is the chroot's, not ours).
//!
//! Only objects this test made are touched: the engine is shared, so the plan is cut down to this
//! test's own lease before it is applied (`--plan-out`, then `--apply`).

mod common;
mod ctrdcommon;
mod schemacheck;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{dredge, json_ok};
use ctrdcommon::{Eng, OWN, SYSTEM, du_sx};
use dredge::source::containerd_api::{Client, NAMESPACE, find_socket};
use serde_json::Value;
use sha2::{Digest, Sha256};

const ROOT: &str = OWN.root;

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A docker-archive of one image `tag`: one layer holding `name`, 1 MiB of bytes. Returns the archive,
/// the layer's digest and the config's digest (both as `docker load` stores them: the layer tar as it
/// is, the config's bytes).
fn archive(tag: &str, name: &str) -> (Vec<u8>, String, String) {
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    layer.append_data(&mut h, name, data.as_slice()).unwrap();
    let layer = layer.into_inner().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&layer))]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": "config.json", "RepoTags": [tag], "Layers": ["l/layer.tar"],
    }]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (n, bytes) in [
        ("l/layer.tar", &layer),
        ("config.json", &config),
        ("manifest.json", &manifest),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, n, bytes.as_slice()).unwrap();
    }
    (
        b.into_inner().unwrap(),
        format!("sha256:{}", hex(&layer)),
        format!("sha256:{}", hex(&config)),
    )
}

fn blob_file(e: &Eng, digest: &str) -> PathBuf {
    e.store_root()
        .join("io.containerd.content.v1.content/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// containerd's API as dredge finds it: dockerd's own containerd (the dockerd of the pidfile, its
/// containerd child), or the system containerd listening on the socket dockerd names.
fn client(e: &Eng) -> Client {
    let pid: u32 = std::fs::read_to_string(Path::new(e.root).join("run/docker.pid"))
        .expect("dockerd's pid file")
        .trim()
        .parse()
        .unwrap();
    let s = match dredge::source::syscontainerd::socket_of_dockerd(pid) {
        None => find_socket(pid, &e.store_root()).expect("the store's containerd socket is proven"),
        Some(named) => {
            let proof = dredge::source::syscontainerd::prove(pid, &named).expect("proven");
            dredge::source::containerd_api::reachable(pid, proof.pid.unwrap(), &named)
                .expect("the system containerd's socket is reachable")
        }
    };
    let want = Path::new(e.root).join(e.ctr_sock.trim_start_matches('/'));
    assert_eq!(
        std::fs::canonicalize(&s).unwrap(),
        std::fs::canonicalize(&want).unwrap()
    );
    Client::new(&s, NAMESPACE)
}

/// Deletes this test's leases whatever happens.
struct Leases(&'static Eng, Vec<String>);

impl Drop for Leases {
    fn drop(&mut self) {
        for l in &self.1 {
            let _ = self.0.ctr(&["leases", "delete", "--sync", l]);
        }
    }
}

#[test]
#[ignore = "needs containerd-store engine"]
fn a_leaked_lease_goes_through_containerds_api_and_its_blob_with_it() {
    leaked_lease(&OWN);
}

/// The same beside a system containerd (its root `/var/lib/containerd`, its socket the one dockerd
/// names).
#[test]
#[ignore = "needs root and the system-containerd engine"]
fn a_leaked_lease_goes_through_the_system_containerds_api() {
    leaked_lease(&SYSTEM);
}

fn leaked_lease(e: &'static Eng) {
    e.need();
    let tag = format!("dredge-leak-{}:1", std::process::id());
    let unique = format!(
        "leak-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (tar, layer, config) = archive(&tag, &unique);
    let o = e.docker_in(&["load"], Some(&tar));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let leaked = format!("dredge-test-leaked-{}", std::process::id());
    let pending = format!("dredge-test-pending-{}", std::process::id());
    let _cleanup = Leases(e, vec![leaked.clone(), pending.clone()]);
    for (id, expires) in [(&leaked, "0"), (&pending, "1h")] {
        let o = e.ctr(&["leases", "create", "--id", id, "--expires", expires]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let c = client(e);
    c.add_lease_resource(&leaked, &layer, "content")
        .expect("AddResource of the layer");
    c.add_lease_resource(&pending, &config, "content")
        .expect("AddResource of the config");
    let o = e.docker_in(&["rmi", &tag], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The leases keep their blobs although no image names them.
    let blob = blob_file(e, &layer);
    assert!(blob.exists(), "{} went with the image", blob.display());
    assert!(blob_file(e, &config).exists());
    let expected = du_sx(&blob);
    assert!(expected >= 1 << 20, "{expected}");

    let state = tempfile::tempdir().unwrap();
    let plan_file = state.path().join("plan.json");
    let plan = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args([
                "prune",
                "--orphans",
                "--grace",
                "0s",
                "--json",
                "--state-dir",
            ])
            .arg(state.path())
            .arg("--plan-out")
            .arg(&plan_file),
    );
    assert_eq!(plan["mode"], "live");
    schemacheck::assert_valid(&plan);
    let item = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == leaked.as_str())
        .unwrap_or_else(|| panic!("{leaked} is not planned: {plan}"));
    eprintln!("du -B1 {}: {expected}\nplanned: {item}", blob.display());
    assert_eq!(item["kind"], "lease");
    assert_eq!(item["bytes"].as_u64(), Some(expected), "{item}");
    assert!(item["rule"].as_str().unwrap().contains("--undo cannot"));
    assert_eq!(item["store"]["namespace"], NAMESPACE);
    let kept = plan["kept"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == pending.as_str())
        .unwrap_or_else(|| panic!("{pending} is not kept: {plan}"));
    assert_eq!(kept["kind"], "lease");
    assert!(
        kept["reason"].as_str().unwrap().contains("expires in"),
        "{kept}"
    );
    assert!(
        !plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == pending.as_str())
    );

    // Only this test's lease is applied (the engine is shared).
    let mut own: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    own["items"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["id"] == leaked.as_str());
    own["total_bytes"] = expected.into();
    std::fs::write(&plan_file, serde_json::to_vec(&own).unwrap()).unwrap();
    let res = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args(["prune", "--json", "--state-dir"])
            .arg(state.path())
            .arg("--apply")
            .arg(&plan_file),
    );
    eprintln!("result: {res}");
    schemacheck::assert_valid(&res);
    let done = &res["deleted"][0];
    assert_eq!(done["id"], leaked.as_str(), "{res}");
    assert_eq!(done["kind"], "lease");
    assert_eq!(done["action"], "deleted");
    assert_eq!(res["reclaimed_bytes"].as_u64(), Some(expected));
    assert!(!blob.exists(), "{} is still there", blob.display());
    assert!(
        !String::from_utf8_lossy(&e.ctr(&["leases", "ls", "-q"]).stdout)
            .lines()
            .any(|l| l == leaked),
        "the lease is still there"
    );
    // The kept lease and what it holds are untouched.
    assert!(blob_file(e, &config).exists());
    // The journal: intent (with the namespace) before, done after.
    let journal = std::fs::read_to_string(res["journal"].as_str().unwrap()).unwrap();
    let lines: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let intent = lines
        .iter()
        .find(|l| l["op"] == "intent" && l["id"] == leaked.as_str())
        .unwrap_or_else(|| panic!("no intent in {journal}"));
    assert_eq!(intent["kind"], "lease");
    assert_eq!(intent["action"], "delete");
    assert_eq!(intent["reference"], NAMESPACE);
    assert!(
        lines
            .iter()
            .any(|l| l["op"] == "done" && l["step"] == intent["step"] && l["outcome"] == "done"),
        "{journal}"
    );
    // Applying the same plan again: the lease is gone, nothing is deleted.
    let again = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args(["prune", "--json", "--state-dir"])
            .arg(state.path())
            .arg("--apply")
            .arg(&plan_file),
    );
    assert_eq!(again["deleted"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["gone"][0]["id"], leaked.as_str(), "{again}");
}

/// A call containerd refuses is a one-line error with its status and message.
#[test]
#[ignore = "needs containerd-store engine"]
fn containerd_errors_are_one_line_with_the_status() {
    OWN.need();
    let e = client(&OWN)
        .delete_lease("dredge-no-such-lease", true)
        .unwrap_err();
    assert!(e.not_found(), "{e}");
    let m = e.to_string();
    assert_eq!(m.lines().count(), 1);
    assert!(
        m.contains("NOT_FOUND (5)") && m.contains("dredge-no-such-lease"),
        "{m}"
    );
    let e = client(&OWN).abort_ingest("dredge-no-such-ref").unwrap_err();
    assert!(e.not_found(), "{e}");
}

fn ingest_dirs(e: &Eng) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(
        e.store_root()
            .join("io.containerd.content.v1.content/ingest"),
    )
    .map(|r| {
        r.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    })
    .unwrap_or_default()
}

/// Plans with `--grace 0s`, keeps only the item `id` of the plan, applies that: (plan, result).
fn plan_and_apply_only(e: &Eng, id: &str, state: &Path) -> (Value, Value) {
    let plan_file = state.join("plan.json");
    let plan = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args([
                "prune",
                "--orphans",
                "--grace",
                "0s",
                "--json",
                "--state-dir",
            ])
            .arg(state)
            .arg("--plan-out")
            .arg(&plan_file),
    );
    schemacheck::assert_valid(&plan);
    let mut own: Value = serde_json::from_slice(&std::fs::read(&plan_file).unwrap()).unwrap();
    own["items"]
        .as_array_mut()
        .unwrap()
        .retain(|i| i["id"] == id);
    std::fs::write(&plan_file, serde_json::to_vec(&own).unwrap()).unwrap();
    let res = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args(["prune", "--json", "--state-dir"])
            .arg(state)
            .arg("--apply")
            .arg(&plan_file),
    );
    schemacheck::assert_valid(&res);
    (plan, res)
}

#[test]
#[ignore = "needs containerd-store engine"]
fn an_unleased_ingest_leftover_is_aborted_through_containerds_api() {
    let e = &OWN;
    e.need();
    let reference = format!("dredge-test-ingest-{}", std::process::id());
    let before = ingest_dirs(e);
    // `ctr content ingest` takes no lease; killed midway, it leaves its write under ingest/.
    let mut w = Command::new("chroot")
        .args([
            ROOT,
            "ctr",
            "-a",
            "/run/docker/containerd/containerd.sock",
            "-n",
            NAMESPACE,
            "content",
            "ingest",
            &reference,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = w.stdin.take().unwrap();
    let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
    for _ in 0..2 {
        stdin.write_all(&chunk).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let dir = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no ingest dir appeared within 30 s"
        );
        let new: Vec<String> = ingest_dirs(e).difference(&before).cloned().collect();
        if let [d] = new.as_slice() {
            let data = e
                .store_root()
                .join("io.containerd.content.v1.content/ingest")
                .join(d)
                .join("data");
            if std::fs::metadata(&data).is_ok_and(|m| m.len() >= 2 << 20) {
                break d.clone();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    w.kill().unwrap();
    let _ = w.wait();
    drop(stdin);
    let path = e
        .store_root()
        .join("io.containerd.content.v1.content/ingest")
        .join(&dir);
    // containerd finishes the write it was serving after the client is gone: measured once it has
    // stood still (the same `du` and the same newest mtime for half a second).
    let du_s = || {
        let o = Command::new("du").arg("-sB1").arg(&path).output().unwrap();
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .expect("du prints a number")
    };
    let newest = || {
        std::fs::read_dir(&path)
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok()?.modified().ok())
            .max()
    };
    let mut last = (du_s(), newest());
    let expected = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "{} kept changing",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = (du_s(), newest());
        if now == last {
            break now.0;
        }
        last = now;
    };
    let state = tempfile::tempdir().unwrap();
    let (plan, res) = plan_and_apply_only(e, &reference, state.path());
    let item = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == reference.as_str())
        .unwrap_or_else(|| panic!("{reference} is not planned: {plan}"));
    eprintln!(
        "du -sB1 {}: {expected}\nplanned: {item}\nresult: {res}",
        path.display()
    );
    assert_eq!(item["kind"], "ingest");
    assert_eq!(item["bytes"].as_u64(), Some(expected), "{item}");
    assert!(
        item["store"]["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/ingest/{dir}")),
        "{item}"
    );
    let done = &res["deleted"][0];
    assert_eq!(done["id"], reference.as_str(), "{res}");
    assert_eq!(done["action"], "aborted");
    assert!(!path.exists(), "{} is still there", path.display());
}

/// A run killed between the intent and the done of a lease's delete or an ingest's abort: the next
/// applying run settles each step by reading the store again: a lease or ingest that is gone is done,
/// one still there is not.
#[test]
#[ignore = "needs containerd-store engine"]
fn interrupted_steps_are_settled_by_reading_the_store_again() {
    let e = &OWN;
    e.need();
    let here = format!("dredge-test-recover-{}", std::process::id());
    let _cleanup = Leases(e, vec![here.clone()]);
    let o = e.ctr(&["leases", "create", "--id", &here, "--expires", "1h"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let state = tempfile::tempdir().unwrap();
    // An empty plan of this engine, to apply (applying settles interrupted runs first).
    let plan_file = state.path().join("plan.json");
    let plan = json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args(["prune", "--orphans", "--json", "--state-dir"])
            .arg(state.path())
            .arg("--plan-out")
            .arg(&plan_file),
    );
    let mut empty = plan.clone();
    empty["items"] = serde_json::json!([]);
    empty["total_bytes"] = 0.into();
    std::fs::write(&plan_file, serde_json::to_vec(&empty).unwrap()).unwrap();
    let runs = state.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let journal = runs.join("20000101T000000Z-1-000.jsonl");
    let lines = [
        serde_json::json!({"op": "begin", "run": "20000101T000000Z-1-000", "time": 946_684_800,
            "engine_id": plan["engine_id"], "data_root": plan["data_root"], "what": "apply"}),
        serde_json::json!({"op": "intent", "step": 1, "kind": "lease",
            "id": "dredge-test-no-such-lease", "action": "delete", "reference": NAMESPACE}),
        serde_json::json!({"op": "intent", "step": 2, "kind": "lease", "id": here,
            "action": "delete", "reference": NAMESPACE}),
        serde_json::json!({"op": "intent", "step": 3, "kind": "ingest",
            "id": "dredge-test-no-such-ref", "action": "abort", "reference": NAMESPACE}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&journal, text).unwrap();
    json_ok(
        dredge()
            .env("DOCKER_HOST", e.sock())
            .args(["prune", "--json", "--state-dir"])
            .arg(state.path())
            .arg("--apply")
            .arg(&plan_file),
    );
    let settled: Vec<Value> = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done = |step: u64| {
        settled
            .iter()
            .find(|l| l["op"] == "done" && l["step"] == step)
            .unwrap_or_else(|| panic!("step {step} is not settled: {settled:?}"))
            .clone()
    };
    eprintln!("{settled:?}");
    assert_eq!(done(1)["outcome"], "done");
    assert_eq!(done(1)["recovered"], true);
    assert!(done(1)["reason"].as_str().unwrap().contains("is gone"));
    assert_eq!(done(2)["outcome"], "skipped");
    assert!(done(2)["reason"].as_str().unwrap().contains("still there"));
    assert_eq!(done(3)["outcome"], "done");
    assert!(
        settled
            .iter()
            .any(|l| l["op"] == "end" && l["interrupted"] == true)
    );
}

/// A path is resolved inside the daemon's own root: `/var/run` is an absolute link to `/run` in the
/// chroot, and `/proc/PID/root/var/run/…` opened the plain way follows it to *this* root's `/run`
/// (the host engine's files), `source::procroot::seen_from_here` to the chroot's.
#[test]
#[ignore = "needs containerd-store engine"]
fn paths_are_resolved_inside_the_daemons_root() {
    use std::os::unix::fs::MetadataExt;
    let e = &OWN;
    e.need();
    let pid: u32 = std::fs::read_to_string(Path::new(ROOT).join("run/docker.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (here, id) =
        dredge::source::procroot::seen_from_here(pid, Path::new("/var/run/docker.pid")).unwrap();
    assert_eq!(here, Path::new(ROOT).join("run/docker.pid"));
    let m = std::fs::metadata(Path::new(ROOT).join("run/docker.pid")).unwrap();
    assert_eq!(id, (m.dev(), m.ino()));
    if let Ok(naive) = std::fs::metadata(format!("/proc/{pid}/root/var/run/docker.pid")) {
        assert_ne!(
            (naive.dev(), naive.ino()),
            id,
            "the plain way no longer leaves the root: this test shows nothing"
        );
    }
}
