//! `dredge df` as a user who is in the `docker` group but not root: the engine answers, its data root
//! cannot be read. The report must give the engine's own figures, marked as the engine's, with the
//! engine's reclaimable bytes, and say in one line what only root would see. A private dockerd (its
//! socket in group docker, as dockerd makes it) holds one imported image and one stopped container; the
//! expected figures come from the engine's `/system/df`, asked with curl as root.

mod common;
mod dfcommon;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use dfcommon::*;

const USER: &str = "dredge-dockergroup";

fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// The unprivileged member of group docker, made when missing.
fn docker_group_user() {
    assert!(
        sh("getent", &["group", "docker"]).status.success(),
        "no group docker here"
    );
    if !sh("id", &[USER]).status.success() {
        let out = sh(
            "useradd",
            &["-M", "-N", "-s", "/bin/false", "-G", "docker", USER],
        );
        assert!(out.status.success(), "useradd: {out:?}");
    }
    let groups = String::from_utf8_lossy(&sh("id", &["-nG", USER]).stdout).into_owned();
    assert!(groups.split_whitespace().any(|g| g == "docker"), "{groups}");
}

#[test]
#[ignore = "needs root and docker engine (a private dockerd, useradd, setpriv, curl)"]
fn a_docker_group_member_gets_the_engines_figures_marked_as_such() {
    assert_eq!(rustix::process::geteuid().as_raw(), 0, "needs root");
    docker_group_user();
    let d = PrivateDaemon::start().expect("a private dockerd");
    // The user must reach the socket (group docker, mode 660) but not the data root (root's, 0710).
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    d.docker(&["import", "-", "dg/base:1"], Some(&busybox_rootfs()));
    d.docker(
        &[
            "run",
            "--network",
            "none",
            "--name",
            "dg-stopped",
            "dg/base:1",
            "sh",
            "-c",
            "yes data | head -c 300000 > /written",
        ],
        None,
    );
    // The binary, where the user can run it.
    let bin_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("dredge");
    std::fs::copy(env!("CARGO_BIN_EXE_dredge"), &bin).unwrap();
    let as_user = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid", USER, "--regid", "docker", "--init-groups"])
            .arg(&bin)
            .args(args)
            .env("DOCKER_HOST", d.host())
            .env_remove("COLUMNS")
            .current_dir(bin_dir.path())
            .output()
            .expect("setpriv runs")
    };
    // The user cannot read the data root: the premise of the test.
    let ls = Command::new("setpriv")
        .args(["--reuid", USER, "--regid", "docker", "--init-groups", "ls"])
        .arg(d.root())
        .output()
        .unwrap();
    assert!(!ls.status.success(), "the user can read the data root");

    // The engine's own figures, asked as root.
    let api = sh(
        "curl",
        &[
            "-sf",
            "--unix-socket",
            d.sock().to_str().unwrap(),
            "http://localhost/v1.41/system/df",
        ],
    );
    assert!(api.status.success(), "curl: {api:?}");
    let api: serde_json::Value = serde_json::from_slice(&api.stdout).unwrap();
    let layers_size = api["LayersSize"].as_u64().unwrap();
    let size_rw: u64 = api["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["SizeRw"].as_u64().unwrap_or(0))
        .sum();
    assert!(
        layers_size > 1_000_000,
        "busybox is in the layers: {layers_size}"
    );
    assert!(size_rw >= 300_000, "the container wrote 300 kB: {size_rw}");

    let out = as_user(&["df", "--json", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["partial"], true);
    let cat = |name: &str| {
        v["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"))
            .clone()
    };
    assert_eq!(cat("images")["bytes"], layers_size);
    assert_eq!(cat("images")["count"], 1);
    assert_eq!(cat("containers")["bytes"], size_rw);
    // No container runs: everything is reclaimable as docker counts it, the stopped container's
    // writable layer, and the image's layers (a stopped container still uses its image: docker counts
    // its unique size as used).
    assert_eq!(cat("containers")["reclaimable_bytes"], size_rw);
    let used: u64 = api["Images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .map(|i| i["Size"].as_u64().unwrap() - i["SharedSize"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(cat("images")["reclaimable_bytes"], layers_size - used);

    let out = as_user(&["df", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("The engine's own figures (docker system df"),
        "{text}"
    );
    assert!(text.contains(&dredge::units::size(layers_size)), "{text}");
    let missing: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Missing here:"))
        .collect();
    assert_eq!(missing.len(), 1, "{text}");
    assert!(
        missing[0].contains("logs")
            && missing[0].contains("orphans")
            && missing[0].contains("root")
    );
    d.docker(&["rm", "dg-stopped"], None);
}
