//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `dredge` binary under test.
pub fn dredge() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("dredge").expect("the dredge binary is built")
}

/// A file or directory under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Facts measured by `fixtures/build.sh` when it built the fixtures (`kitchen/recipe.env`).
pub fn recipe() -> HashMap<String, u64> {
    let text =
        std::fs::read_to_string(fixture("kitchen/recipe.env")).expect("recipe.env is committed");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// Runs `cmd`, which must exit 0 (else panics with its stderr), and parses its stdout as JSON.
pub fn json_ok(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().expect("dredge runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Runs `cmd`, a verdict that must exit 0 or 1 (else panics with its stderr): the code and stdout as JSON.
pub fn verdict_json(cmd: &mut assert_cmd::Command) -> (i32, serde_json::Value) {
    let out = cmd.output().expect("dredge runs");
    let code = out.status.code().expect("an exit code");
    assert!(
        code == 0 || code == 1,
        "{cmd:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        code,
        serde_json::from_slice(&out.stdout).expect("stdout is JSON"),
    )
}

/// Runs `dredge image ARGS --json` and parses the document; panics with stderr if it fails.
pub fn image_json(args: &[&str]) -> serde_json::Value {
    json_ok(dredge().arg("image").args(args).arg("--json"))
}

/// Asserts that what an `#[ignore = "needs …"]` test needs is there: such a test runs only when asked
/// for (`cargo test -- --include-ignored`, as `scripts/test` and `.ci/run` do), and then a missing
/// prerequisite is a failure, never a silent pass.
pub fn require(available: bool, what: &str) {
    assert!(
        available,
        "this test needs {what}, which is missing here (scripts/test installs and starts what the \
         ignored tests need; plain `cargo test` leaves them out)"
    );
}

/// True when a command runs and exits 0.
pub fn command_ok(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Docker client this project tests with (Debian's 20.10, classic builder).
pub const DOCKER: &str = "/usr/bin/docker";

/// True when a Docker Engine answers.
pub fn engine_up() -> bool {
    command_ok(DOCKER, &["info"])
}

/// Runs a command and returns its stdout, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads dive's own figures for an archive: (efficiency, wasted bytes, size bytes), from `dive --json`.
pub fn dive_figures(archive: &Path) -> (f64, u64, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("dive.json");
    run(
        "dive",
        &[
            "--source",
            "docker-archive",
            archive.to_str().expect("utf-8 path"),
            "--json",
            out.to_str().expect("utf-8"),
        ],
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("dive wrote its JSON")).expect("JSON");
    let img = &v["image"];
    (
        img["efficiencyScore"].as_f64().expect("efficiencyScore"),
        img["inefficientBytes"].as_u64().expect("inefficientBytes"),
        img["sizeBytes"].as_u64().expect("sizeBytes"),
    )
}

/// One entry of a hand-made layer tar.
pub enum E<'a> {
    /// A regular file of `n` bytes (content: the byte `b'x'`).
    File(&'a [u8], usize),
    /// A directory.
    Dir(&'a [u8]),
    /// A symlink to a target.
    Symlink(&'a [u8], &'a [u8]),
    /// A hard link to an earlier entry.
    Hardlink(&'a [u8], &'a [u8]),
    /// A whiteout deleting a path (written as `<dir>/.wh.<name>`).
    Whiteout(&'a [u8]),
    /// An opaque marker for a directory (written as `<dir>/.wh..wh..opq`).
    Opaque(&'a [u8]),
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_600_000_000);
    h
}

/// Builds a layer tar from entries, in order (long and non-UTF-8 names included).
pub fn layer_tar(entries: &[E<'_>]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let (path, kind, size, link): (Vec<u8>, tar::EntryType, usize, Option<&[u8]>) = match e {
            E::File(p, n) => (p.to_vec(), tar::EntryType::Regular, *n, None),
            E::Dir(p) => (p.to_vec(), tar::EntryType::Directory, 0, None),
            E::Symlink(p, t) => (p.to_vec(), tar::EntryType::Symlink, 0, Some(t)),
            E::Hardlink(p, t) => (p.to_vec(), tar::EntryType::Link, 0, Some(t)),
            E::Whiteout(p) => {
                let (dir, name) = match p.iter().rposition(|&c| c == b'/') {
                    Some(i) => (&p[..=i], &p[i + 1..]),
                    None => (&p[..0], &p[..]),
                };
                (
                    [dir, b".wh.", name].concat(),
                    tar::EntryType::Regular,
                    0,
                    None,
                )
            }
            E::Opaque(d) => (
                [*d, b"/.wh..wh..opq"].concat(),
                tar::EntryType::Regular,
                0,
                None,
            ),
        };
        let mut h = header(kind, size as u64);
        if path.starts_with(b"/") || path.starts_with(b"./") {
            // The tar crate refuses such names; some producers write them, so write the bytes as they are.
            h.as_old_mut().name[..path.len()].copy_from_slice(&path);
            h.set_cksum();
            b.append(&h, std::io::repeat(b'x').take_n(size))
                .expect("append raw");
            continue;
        }
        let p = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
        match link {
            Some(t) => b
                .append_link(
                    &mut h,
                    p,
                    std::path::Path::new(std::ffi::OsStr::from_bytes(t)),
                )
                .expect("append link"),
            None => b
                .append_data(&mut h, p, std::io::repeat(b'x').take_n(size))
                .expect("append"),
        }
    }
    b.into_inner().expect("finish tar")
}

trait TakeN: std::io::Read + Sized {
    fn take_n(self, n: usize) -> std::io::Take<Self> {
        self.take(n as u64)
    }
}
impl<R: std::io::Read> TakeN for R {}

/// A legacy `docker save` archive around the given layer blobs, with one history entry per layer.
/// `members` adds or replaces members (name, bytes); `None` bytes drops a member.
pub fn docker_save(
    layers: &[Vec<u8>],
    history: &[&str],
    members: &[(&str, Option<Vec<u8>>)],
) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex(l)))
        .collect();
    let hist: Vec<serde_json::Value> = history
        .iter()
        .map(|h| serde_json::json!({"created_by": h}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": hist,
    }))
    .unwrap();
    let config_name = format!("{}.json", hex(&config));
    let layer_names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name, "RepoTags": ["crafted:1"], "Layers": layer_names,
    }]))
    .unwrap();
    let mut all: Vec<(String, Vec<u8>)> = layer_names
        .iter()
        .cloned()
        .zip(layers.iter().cloned())
        .collect();
    all.push((config_name, config));
    all.push(("manifest.json".into(), manifest));
    for (name, bytes) in members {
        all.retain(|(n, _)| n != name);
        if let Some(b) = bytes {
            all.push((name.to_string(), b.clone()));
        }
    }
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in all {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &name, bytes.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// Removes what a test made, even when it fails: `("rmi", image)`, `("rm", container)`,
/// `("volume", name)`; last made, first removed.
pub struct Cleanup(pub Vec<(&'static str, String)>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (what, name) in self.0.iter().rev() {
            let args: Vec<&str> = match *what {
                "volume" => vec!["volume", "rm", "-f", name],
                w => vec![w, "-f", name],
            };
            let _ = Command::new(DOCKER).args(args).output();
        }
    }
}

/// A rootfs for `docker import`: Debian's static `/bin/busybox` and `applets` as hard links to it (a hard
/// link adds no bytes, so the engine's layer size, which counts symlink targets, is the sum of regular
/// files).
pub fn busybox_rootfs(applets: &[&str]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for d in ["bin", "tmp", "etc", "usr", "usr/bin", "root", "data"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .unwrap();
    for applet in applets {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "bin/busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}

/// Runs `docker ARGS` (classic builder) with `input` on its stdin; panics with its stderr on failure.
pub fn docker_stdin(args: &[&str], input: &[u8]) -> String {
    docker_with(&[("DOCKER_BUILDKIT", "0")], args, Some(input))
}

/// Runs the docker client with extra env and stdin; panics with stderr on failure.
pub fn docker_with(env: &[(&str, &str)], args: &[&str], input: Option<&[u8]>) -> String {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(DOCKER)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
