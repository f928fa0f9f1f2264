//! `dredge df` in live mode against the shared Docker Engine: objects made by this test (unique names,
//! removed at the end; nothing else is touched), each compared with the engine's own figure for it
//! (`docker inspect --size`, `docker image inspect`, `/system/df`) and log bytes with the files' sizes.
//! Other developers use the same engine, so only per-object figures are compared, never totals.

mod common;
mod dfcommon;

use std::path::Path;
use std::process::Command;

use common::{Cleanup, dredge, engine_up, json_ok, require, run};
use dfcommon::*;

fn docker(args: &[&str]) -> String {
    run(DOCKER, args)
}

fn by<'a>(arr: &'a serde_json::Value, key: &str, val: &str) -> &'a serde_json::Value {
    arr.as_array()
        .unwrap()
        .iter()
        .find(|o| o[key] == val)
        .unwrap_or_else(|| panic!("{key}={val} not in report"))
}

fn close(ours: u64, theirs: u64, what: &str) {
    let d = ours.abs_diff(theirs) as f64 / theirs.max(1) as f64;
    assert!(d <= 0.01, "{what}: dredge {ours} vs engine {theirs}");
}

/// Σ sizes of a container's log files, read from the filesystem here.
fn log_file_bytes(dir: &Path, id: &str) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().into_string().unwrap();
        if name.starts_with(&format!("{id}-json.log")) {
            n += e.metadata().unwrap().len();
        }
    }
    if let Ok(rd) = std::fs::read_dir(dir.join("local-logs")) {
        for e in rd.flatten() {
            n += e.metadata().unwrap().len();
        }
    }
    n
}

#[test]
#[ignore = "needs docker engine and root (to read its data root)"]
fn live_figures_match_the_engine_per_object() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let root = docker(&["info", "--format", "{{.DockerRootDir}}"])
        .trim()
        .to_string();
    require(
        std::fs::read_dir(&root).is_ok(),
        "a readable local data root (run as root)",
    );
    let id = std::process::id();
    let base = format!("dredge-df-test/base:{id}");
    let (c1, c2, c3) = (
        format!("dredge-df-{id}-stopped"),
        format!("dredge-df-{id}-running"),
        format!("dredge-df-{id}-local"),
    );
    let vol = format!("dredge-df-{id}-vol");
    let _cleanup = Cleanup(vec![
        ("rmi", base.clone()),
        ("volume", vol.clone()),
        ("rm", c1.clone()),
        ("rm", c2.clone()),
        ("rm", c3.clone()),
    ]);
    docker_with(&[], &["import", "-", &base], Some(&busybox_rootfs()));
    // Stopped, json-file logs rotated at 10 kB (three files), 300 000 bytes written into its layer.
    docker(&[
        "run",
        "--network",
        "none",
        "--name",
        &c1,
        "--log-opt",
        "max-size=10k",
        "--log-opt",
        "max-file=3",
        &base,
        "sh",
        "-c",
        "seq 1 4000; head -c 300000 /dev/zero > /root/big",
    ]);
    // Running, with a named volume holding 200 000 bytes.
    docker(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &c2,
        "-v",
        &format!("{vol}:/data"),
        &base,
        "sh",
        "-c",
        "head -c 200000 /dev/zero > /data/f; echo ready; sleep 600",
    ]);
    // The local log driver.
    docker(&[
        "run",
        "--network",
        "none",
        "--name",
        &c3,
        "--log-driver",
        "local",
        &base,
        "sh",
        "-c",
        "seq 1 3000",
    ]);
    for _ in 0..100 {
        if docker(&["logs", &c2]).contains("ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let doc = json_ok(dredge().args(["df", "--json", "--no-progress", "--top", "0"]));
    assert_eq!(doc["mode"], "live");
    assert_eq!(doc["data_root"], root.as_str());
    assert!(doc["engine"]["api_version"].is_string());

    // Writable layers against `docker inspect --size` (SizeRw).
    for name in [&c1, &c2, &c3] {
        let cid = docker(&["inspect", "-f", "{{.Id}}", name])
            .trim()
            .to_string();
        let size_rw: u64 = docker(&["inspect", "--size", "-f", "{{.SizeRw}}", name])
            .trim()
            .parse()
            .unwrap();
        let c = by(&doc["containers"], "id", &cid);
        close(
            c["writable_apparent_bytes"].as_u64().unwrap(),
            size_rw,
            "SizeRw",
        );
        // Log bytes: exactly the files' sizes.
        let dir = Path::new(&root).join("containers").join(&cid);
        assert_eq!(
            c["log_apparent_bytes"].as_u64().unwrap(),
            log_file_bytes(&dir, &cid),
            "log bytes of {name}"
        );
        if name != &c2 {
            assert!(
                c["log_apparent_bytes"].as_u64().unwrap() > 10_000,
                "{name} logged"
            );
        }
    }
    let c1_id = docker(&["inspect", "-f", "{{.Id}}", &c1])
        .trim()
        .to_string();
    assert!(
        Path::new(&root)
            .join("containers")
            .join(&c1_id)
            .join(format!("{c1_id}-json.log.1"))
            .exists(),
        "json-file log rotated"
    );
    // The running container: its merged/ is mounted and must not be walked (busybox alone is ~2 MB).
    let c2_id = docker(&["inspect", "-f", "{{.Id}}", &c2])
        .trim()
        .to_string();
    let running = by(&doc["containers"], "id", &c2_id);
    assert_eq!(running["running"], true);
    assert!(
        running["writable_bytes"].as_u64().unwrap() < 1_000_000,
        "{running}"
    );

    // The image against `docker image inspect` (Size: Σ layer sizes).
    let image_id = docker(&["image", "inspect", "-f", "{{.Id}}", &base])
        .trim()
        .to_string();
    let size: u64 = docker(&["image", "inspect", "-f", "{{.Size}}", &base])
        .trim()
        .parse()
        .unwrap();
    let img = by(&doc["images"], "id", &image_id);
    close(img["apparent_bytes"].as_u64().unwrap(), size, "image size");
    assert_eq!(img["containers"], 3);

    // The volume against the engine's /system/df (the only API that sizes volumes).
    let sys: serde_json::Value = serde_json::from_str(&run(
        "curl",
        &[
            "-s",
            "--unix-socket",
            "/var/run/docker.sock",
            "http://localhost/system/df",
        ],
    ))
    .unwrap();
    let engine_vol = by(&sys["Volumes"], "Name", &vol);
    let v = by(&doc["volumes"], "name", &vol);
    close(
        v["apparent_bytes"].as_u64().unwrap(),
        engine_vol["UsageData"]["Size"].as_u64().unwrap(),
        "volume size",
    );
    assert_eq!(v["containers"], 1);

    // With --engine-df the engine's own /system/df figures come along (bollard decodes 20.10's answer).
    let with_engine = json_ok(dredge().args(["df", "--json", "--no-progress", "--engine-df"]));
    let sizes = &with_engine["engine"]["disk_usage"]["container_sizes"];
    let c1_rw: u64 = docker(&["inspect", "--size", "-f", "{{.SizeRw}}", &c1])
        .trim()
        .parse()
        .unwrap();
    assert!(
        sizes
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0] == c1_id.as_str() && p[1] == c1_rw),
        "{sizes}"
    );
    assert!(
        doc["engine"]["disk_usage"].is_null(),
        "not asked for without --engine-df"
    );

    // Nothing this test made is an orphan.
    for o in doc["orphans"].as_array().unwrap() {
        let p = o["path"].as_str().unwrap();
        assert!(!p.contains(&c1_id) && !p.contains(&c2_id), "{p}");
    }
}

#[test]
#[ignore = "needs docker engine"]
fn image_ref_read_from_the_engine_equals_its_docker_save() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let id = std::process::id();
    let base = format!("dredge-df-test/export-base:{id}");
    let tag = format!("dredge-df-test/export:{id}");
    let _cleanup = Cleanup(vec![("rmi", base.clone()), ("rmi", tag.clone())]);
    docker_with(&[], &["import", "-", &base], Some(&busybox_rootfs()));
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base}\nRUN head -c 200000 /dev/zero > /root/z && echo a > /root/a\n\
             RUN rm /root/z && mkdir /root/d && echo b > /root/d/b\n"
        ),
    )
    .unwrap();
    docker_with(
        &[("DOCKER_BUILDKIT", "0")],
        &[
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            &tag,
            ctx.path().to_str().unwrap(),
        ],
        None,
    );
    // The engine's export (the path taken when the data root is not here); the overlay2 path is
    // compared with `docker save` in tests/engine_image.rs.
    let from_engine = dredge()
        .env("DREDGE_EXPORT", "1")
        .args(["image", &tag, "--json"])
        .output()
        .unwrap();
    assert!(
        from_engine.status.success(),
        "{}",
        String::from_utf8_lossy(&from_engine.stderr)
    );
    let save = Command::new(DOCKER).args(["save", &tag]).output().unwrap();
    assert!(save.status.success());
    let piped = dredge()
        .args(["image", "-", "--json"])
        .write_stdin(save.stdout)
        .output()
        .unwrap();
    assert!(piped.status.success());
    let mut a: serde_json::Value = serde_json::from_slice(&from_engine.stdout).unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(a["source"], tag.as_str());
    a.as_object_mut().unwrap().remove("source");
    b.as_object_mut().unwrap().remove("source");
    assert_eq!(a, b, "dredge image REF vs docker save REF | dredge image -");
    assert_eq!(a["layers"].as_array().unwrap().len(), 3);
    // From the recipe: layer 1's 200 000-byte /root/z is deleted by layer 2.
    assert_eq!(a["invisible"]["deleted"], 200_000);

    // A name the engine does not know: exit 2, one line naming it.
    let missing = format!("dredge-df-test/none:{id}");
    let out = dredge().args(["image", &missing]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&missing) && err.lines().count() == 1, "{err}");
}
