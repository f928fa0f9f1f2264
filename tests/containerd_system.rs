//! The containerd image store beside a SYSTEM containerd (issue 13: "under /var/lib/containerd beside
//! a system containerd"): dockerd runs with `--containerd=/run/containerd/containerd.sock`, as Debian's
//! systemd unit runs it, so images and containers' snapshots live under containerd's own root, not
//! under `<data-root>/containerd/daemon`.
//!
//! On the engine of `DREDGE_CTRD_MODE=system scripts/docker-up-containerd` (Engine 26 and containerd
//! 1.7 chrooted in /var/tmp/dredge-trixie-sys; `#[ignore = "needs root and the system-containerd
//! engine"]`, failing when it is missing):
//! - live: the containerd root is found through the containerd that listens on the socket dockerd
//!   names, and proven; the categories add up to `du -sx -B1` of the data root plus `du -sx -B1` of
//!   the containerd root; the counts are the engine's (`docker image ls`, `ps -a`, `volume ls`); the
//!   report names both roots;
//! - offline, both daemons stopped: `--data-root ROOT/var/lib/docker --containerd-root
//!   ROOT/var/lib/containerd` gives the live categories (but "other": runtime state goes with the
//!   daemons) and adds up to `du` of both roots; with the containerd root copied to /dev/shm (another
//!   filesystem) the same objects, adding up to `du -sx` of each root; without `--containerd-root`
//!   the images are not there and the report is partial.
//!
//! Expected figures come from `du`, `/proc` and the engine, never from dredge.

mod common;
mod ctrdcommon;
mod schemacheck;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::{dredge, json_ok};
use ctrdcommon::{SYSTEM, du_sx};

fn sock() -> String {
    SYSTEM.sock()
}

fn data_root() -> PathBuf {
    SYSTEM.data_root()
}

fn ctrd_root() -> PathBuf {
    SYSTEM.store_root()
}

fn docker(args: &[&str]) -> std::process::Output {
    SYSTEM.docker(args)
}

fn docker_ok(args: &[&str]) -> String {
    SYSTEM.docker_ok(args)
}
use serde_json::Value;

const ROOT: &str = "/var/tmp/dredge-trixie-sys";
const CTRD_SOCK: &str = "/run/containerd/containerd.sock";

/// The tests run one at a time (one stops and restarts the engine).
static ENGINE: Mutex<()> = Mutex::new(());

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The engine's dockerd (its pid file in the root), checked to name the system containerd's socket.
fn dockerd_pid() -> u32 {
    let pid: u32 = std::fs::read_to_string(Path::new(ROOT).join("run/docker.pid"))
        .expect("the engine's pid file")
        .trim()
        .parse()
        .unwrap();
    let args = cmdline(pid);
    assert!(
        args.first().is_some_and(|a| a.ends_with("dockerd"))
            && args.contains(&format!("--containerd={CTRD_SOCK}")),
        "pid {pid} is not the dockerd of a system containerd: {args:?}"
    );
    pid
}

/// The containerd running chrooted in ROOT (its /proc/PID/root is ROOT).
fn containerd_pid() -> u32 {
    let found: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/root")).is_ok_and(|r| r == Path::new(ROOT))
                && std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "containerd")
        })
        .collect();
    assert_eq!(found.len(), 1, "one containerd runs in {ROOT}: {found:?}");
    found[0]
}

/// A stopped container with a written file and logs, and a volume with data: made once.
fn ensure_state() {
    let names = docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    if !names.lines().any(|n| n == "dredge-sys-stopped") {
        docker_ok(&[
            "run",
            "--network",
            "none",
            "--name",
            "dredge-sys-stopped",
            "-v",
            "dredge-sys-vol:/data",
            "dredge-ctrd-busybox",
            "sh",
            "-c",
            "dd if=/dev/zero of=/big bs=1k count=2500 2>/dev/null; \
             dd if=/dev/zero of=/data/v bs=1k count=1500 2>/dev/null; \
             i=0; while [ $i -lt 1000 ]; do echo log line $i; i=$((i+1)); done",
        ]);
    }
}

fn du_both() -> u64 {
    du_sx(&data_root()) + du_sx(&ctrd_root())
}

fn categories(d: &Value) -> Vec<(String, u64, u64)> {
    d["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["bytes"].as_u64().unwrap(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn cat(d: &Value, name: &str) -> (u64, u64) {
    categories(d)
        .into_iter()
        .find(|c| c.0 == name)
        .map(|c| (c.1, c.2))
        .unwrap_or_else(|| panic!("no category {name}"))
}

fn df_live() -> Value {
    json_ok(
        dredge()
            .env("DOCKER_HOST", sock())
            .args(["df", "--json", "--no-progress"]),
    )
}

/// A live read between two equal `du`s (the engine is idle: nothing else uses it); a few tries.
fn df_live_settled() -> (Value, u64) {
    let mut tries = 0;
    loop {
        let before = du_both();
        let d = df_live();
        let after = du_both();
        tries += 1;
        if before == after || tries == 3 {
            return (d, after);
        }
    }
}

fn lines(s: &str) -> BTreeSet<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[test]
#[ignore = "needs root and the system-containerd engine"]
fn live_the_system_containerds_root_is_proven_and_the_categories_add_up_to_both_roots() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    SYSTEM.need();
    ensure_state();
    let dpid = dockerd_pid();
    let cpid = containerd_pid();
    let (d, du) = df_live_settled();
    schemacheck::assert_valid(&d);
    let cats = categories(&d);
    let sum: u64 = cats.iter().map(|c| c.1).sum();
    eprintln!(
        "categories {cats:?}, sum {sum}; du -sx -B1 data root {} + containerd root {} = {du}",
        du_sx(&data_root()),
        du_sx(&ctrd_root())
    );
    assert_eq!(d["partial"], false, "{:#}", d["warnings"]);
    assert_eq!(d["driver"]["kind"], "containerd-store");
    assert_eq!(d["data_root_proof"]["pid"], dpid);
    assert_eq!(d["data_root_proof"]["engine_id"], "matched");
    let c = &d["containerd_root_proof"];
    assert_eq!(c["pid"], cpid, "{c:#}");
    assert_eq!(c["socket"], CTRD_SOCK);
    // Debian's config.toml sets no root: containerd's default.
    assert_eq!(c["root"], "/var/lib/containerd");
    assert_eq!(c["how"], "process-root");
    let read = PathBuf::from(c["path"].as_str().unwrap());
    assert_eq!(
        read,
        Path::new(&format!("/proc/{cpid}/root/var/lib/containerd"))
    );
    assert_eq!(
        std::fs::canonicalize(&read).unwrap(),
        std::fs::canonicalize(ctrd_root()).unwrap()
    );
    assert_eq!(d["containerd"]["root"], c["path"]);
    assert_eq!(sum, d["total_bytes"].as_u64().unwrap());
    assert_eq!(sum, du, "the categories add up to du -sx of both roots");
    // The counts are the engine's.
    let images = lines(&docker_ok(&["image", "ls", "-q", "--no-trunc"]));
    let containers = lines(&docker_ok(&["ps", "-a", "-q", "--no-trunc"]));
    let volumes = lines(&docker_ok(&["volume", "ls", "-q"]));
    assert_eq!(cat(&d, "images").1, images.len() as u64);
    assert_eq!(cat(&d, "containers").1, containers.len() as u64);
    assert_eq!(cat(&d, "volumes").1, volumes.len() as u64);
    for name in ["images", "containers", "volumes"] {
        assert!(cat(&d, name).0 > 0, "{name} is empty: {cats:?}");
    }
    // The written 2.5 MB are the container's (its snapshot under the containerd root).
    assert!(cat(&d, "containers").0 >= 2500 * 1024, "{cats:?}");
    // The report names both roots.
    let out = dredge()
        .env("DOCKER_HOST", sock())
        .args(["df", "--no-progress"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("/proc/{dpid}/root/var/lib/docker"))
            && text.contains("containerd root /var/lib/containerd"),
        "{text}"
    );
}

#[test]
#[ignore = "needs root and the system-containerd engine"]
fn offline_with_the_containerd_root_gives_the_live_categories() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    SYSTEM.need();
    ensure_state();
    let (live, _) = df_live_settled();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/docker-up-containerd");
    let env = ("DREDGE_CTRD_MODE", "system");
    let down = Command::new(&script)
        .env(env.0, env.1)
        .arg("--down")
        .status()
        .unwrap();
    assert!(down.success());
    let run = |with_ctrd: bool| {
        let mut c = dredge();
        c.args(["df", "--json", "--no-progress", "--data-root"])
            .arg(data_root());
        if with_ctrd {
            c.arg("--containerd-root").arg(ctrd_root());
        }
        c.output().unwrap()
    };
    let off = run(true);
    let bare = run(false);
    let du = du_both();
    // The containerd root on another filesystem (a copy on /dev/shm, a tmpfs): each root is walked on
    // its own filesystem, as `du -sx` of each does.
    let shm = ShmCopy::of(&ctrd_root());
    let elsewhere = dredge()
        .args(["df", "--json", "--no-progress", "--data-root"])
        .arg(data_root())
        .arg("--containerd-root")
        .arg(&shm.0)
        .output()
        .unwrap();
    let du_elsewhere = du_sx(&data_root()) + du_sx(&shm.0);
    let up = Command::new(&script).env(env.0, env.1).status().unwrap();
    assert!(up.success(), "the engine did not come back up");
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    let off: Value = serde_json::from_slice(&off.stdout).unwrap();
    schemacheck::assert_valid(&off);
    assert_eq!(off["mode"], "offline");
    assert_eq!(off["partial"], false, "{:#}", off["warnings"]);
    assert_eq!(off["containerd_root_proof"]["how"], "named");
    assert_eq!(
        off["containerd_root_proof"]["path"],
        ctrd_root().display().to_string()
    );
    let (l, o) = (categories(&live), categories(&off));
    eprintln!("live {l:?}\noffline {o:?}\ndu -sx -B1 of both roots, stopped: {du}");
    assert_eq!(o.iter().map(|c| c.1).sum::<u64>(), du);
    // Stopping the daemons removes their runtime state: "other" may change; the rest is the same.
    for (lc, oc) in l.iter().zip(&o) {
        assert_eq!(lc.0, oc.0);
        if lc.0 != "other" {
            assert_eq!(lc, oc);
        }
    }
    let elsewhere: Value = serde_json::from_slice(&elsewhere.stdout).unwrap();
    assert_eq!(elsewhere["partial"], false, "{:#}", elsewhere["warnings"]);
    let e = categories(&elsewhere);
    eprintln!("containerd root copied to a tmpfs {e:?}, du -sx -B1 of both {du_elsewhere}");
    assert_eq!(e.iter().map(|c| c.1).sum::<u64>(), du_elsewhere);
    for (oc, ec) in o.iter().zip(&e) {
        assert_eq!((&oc.0, oc.2), (&ec.0, ec.2), "the same objects");
    }
    // Without it, the data root alone has no image store: partial, and no images.
    let bare: Value = serde_json::from_slice(&bare.stdout).unwrap();
    assert_eq!(bare["partial"], true);
    assert!(bare["containerd_root_proof"].is_null());
    assert_eq!(cat(&bare, "images").1, 0);
}

/// A copy (`cp -a`) of a directory on /dev/shm, a filesystem other than the roots'; removed on drop.
struct ShmCopy(PathBuf);

impl ShmCopy {
    fn of(dir: &Path) -> ShmCopy {
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
        assert_ne!(
            dev(Path::new("/dev/shm")),
            dev(dir),
            "this test needs /dev/shm on another filesystem than {}",
            dir.display()
        );
        let c = ShmCopy(PathBuf::from(format!(
            "/dev/shm/dredge-ctrd-roots-{}",
            std::process::id()
        )));
        let st = Command::new("cp")
            .arg("-a")
            .arg(dir)
            .arg(&c.0)
            .status()
            .unwrap();
        assert!(st.success(), "cp -a {} {}", dir.display(), c.0.display());
        c
    }
}

impl Drop for ShmCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_containerd_root_is_an_offline_option_of_df_with_a_data_root() {
    // Without --data-root: a usage error (exit 2), one line naming the option.
    let out = dredge()
        .args(["df", "--containerd-root", "/var/lib/containerd"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-root"));
    // A containerd root that is not a directory: exit 2, naming it.
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("file");
    std::fs::write(&f, "x").unwrap();
    let out = dredge()
        .args(["df", "--json", "--data-root"])
        .arg(t.path())
        .arg("--containerd-root")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&f.display().to_string()) && err.lines().count() == 1,
        "{err}"
    );
    let help = dredge().args(["df", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--containerd-root"));
}

/// `dredge image NAME` reads the system containerd's content store in place (`format`
/// `containerd-store`, no export), with the figures of `dredge image` on its `docker save` archive.
#[test]
#[ignore = "needs root and the system-containerd engine"]
fn image_name_reads_the_system_containerds_store_with_the_figures_of_its_archive() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    SYSTEM.need();
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("save.tar");
    let name = "dredge-ctrd-busybox";
    docker_ok(&["save", "-o", tar.to_str().unwrap(), name]);
    let live = json_ok(
        dredge()
            .env("DOCKER_HOST", sock())
            .args(["image", name, "--json"]),
    );
    assert_eq!(live["format"], "containerd-store");
    schemacheck::assert_valid(&live);
    let saved = json_ok(
        dredge()
            .env("DOCKER_HOST", "unix:///nonexistent")
            .args(["image", "--json"])
            .arg(&tar),
    );
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("source");
        v.as_object_mut().unwrap().remove("format");
        v
    };
    assert_eq!(strip(live), strip(saved), "in place vs its archive");
}

/// `dredge prune` on the system containerd's store: an image's parts and their bytes are read from
/// containerd's own root (found and proven as `df` finds it), the image goes through the engine, and
/// what `du -sx -B1` of the containerd root lost is the planned bytes.
#[test]
#[ignore = "needs root and the system-containerd engine"]
fn prune_reads_the_system_containerds_root_and_du_agrees() {
    let _g = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
    SYSTEM.need();
    let t = format!("dredge-ctrd-sysprune-{}", std::process::id());
    let image = SYSTEM.commit_mib_image(&t);
    let state = tempfile::tempdir().unwrap();
    let prune = |extra: &[&str]| {
        json_ok(
            dredge()
                .env("DOCKER_HOST", sock())
                .args(["prune", "--json", "--unused-images", "0s", "--grace", "0s"])
                .args(["--keep", "dredge-ctrd-busybox*", "--state-dir"])
                .arg(state.path())
                .args(extra),
        )
    };
    let plan = prune(&[]);
    let items = plan["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only this test's image: {plan}");
    assert_eq!(items[0]["id"], image.as_str(), "{plan}");
    let planned = items[0]["bytes"].as_u64().unwrap();
    assert!(planned > 1 << 20, "its 1 MiB layer at least: {plan}");
    let before = du_sx(&ctrd_root());
    let done = prune(&["--yes"]);
    assert_eq!(done["deleted"].as_array().unwrap().len(), 1, "{done}");
    assert!(!docker(&["image", "inspect", &image]).status.success());
    let mut after = du_sx(&ctrd_root());
    for _ in 0..20 {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let now = du_sx(&ctrd_root());
        if now == after {
            break;
        }
        after = now;
    }
    assert_eq!(
        before - after,
        planned,
        "{}: {before} -> {after}",
        ctrd_root().display()
    );
}
