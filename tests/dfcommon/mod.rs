//! Helpers shared by the engine tests (`dredge df`, `prune`, `reclaim`): a busybox base image made with
//! `docker import`, a private dockerd with its own data root, exec root, pid file and socket, and what
//! those tests measure and run again and again (`stat` of a descriptor, `du`, `dredge prune`).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::common::{DOCKER, docker_with};

/// The busybox base the df tests import: `common::busybox_rootfs` with the applets they run.
pub fn busybox_rootfs() -> Vec<u8> {
    crate::common::busybox_rootfs(&[
        "sh", "rm", "mkdir", "head", "yes", "echo", "sleep", "true", "cat", "seq",
    ])
}

/// A private dockerd under a temp dir, torn down (processes by pid, mounts under the dir) on drop.
pub struct PrivateDaemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl PrivateDaemon {
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("exec")
    }
    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }
    pub fn host(&self) -> String {
        format!("unix://{}", self.sock().display())
    }
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("DOCKER_HOST", self.host())]
    }

    /// Starts a new private daemon (needs root and dockerd); None with the reason if it cannot.
    pub fn start() -> Result<PrivateDaemon, String> {
        if !Path::new("/usr/sbin/dockerd").exists() && !Path::new("/usr/bin/dockerd").exists() {
            return Err("dockerd is not installed".into());
        }
        // A short path: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("dredge-dfd-")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        let log = dir.path().join("dockerd.log");
        let mut d = PrivateDaemon {
            dir,
            child: None,
            log,
        };
        d.spawn()?;
        Ok(d)
    }

    /// Starts dockerd on this daemon's dirs and waits until it answers.
    pub fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(self.root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("--pidfile")
            .arg(self.dir.path().join("d.pid"))
            .arg("-H")
            .arg(self.host())
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip6tables=false",
                "--storage-driver=overlay2",
            ])
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("dockerd: {e}"))?;
        self.child = Some(child);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if self.answers() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "private dockerd did not answer in 60 s: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        ))
    }

    pub fn answers(&self) -> bool {
        Command::new(DOCKER)
            .args(["-H", &self.host(), "info"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn docker(&self, args: &[&str], input: Option<&[u8]>) -> String {
        docker_with(&[("DOCKER_HOST", &self.host())], args, input)
    }

    fn dockerd_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The dockerd-managed containerd it started (its pid file under the exec root).
    fn containerd_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.exec_root().join("containerd/containerd.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn signal(pid: i32, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status();
    }

    /// SIGKILL to dockerd (by pid), as a crash would; then its containerd too, so a restart starts clean.
    pub fn crash(&mut self) {
        if let Some(pid) = self.dockerd_pid() {
            Self::signal(pid as i32, "KILL");
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        if let Some(pid) = self.containerd_pid() {
            Self::signal(pid, "KILL");
            // A killed containerd may stay a zombie (nobody reaps it here); dockerd would take that for
            // a running containerd, so its pid file goes once it is dead.
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                let state =
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                if state.is_empty() || state.contains(") Z ") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = std::fs::remove_file(self.exec_root().join("containerd/containerd.pid"));
        }
    }

    /// SIGTERM and wait: a clean stop.
    pub fn stop(&mut self) {
        if let Some(pid) = self.dockerd_pid() {
            Self::signal(pid as i32, "TERM");
        }
        if let Some(mut c) = self.child.take() {
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if let Some(pid) = self.containerd_pid()
            && Path::new(&format!("/proc/{pid}")).exists()
        {
            Self::signal(pid, "TERM");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Mount points under this daemon's dir, deepest first.
    pub fn mounts(&self) -> Vec<String> {
        let base = self.dir.path().display().to_string();
        let mut v: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(|m| m.replace("\\040", " ")))
            .filter(|m| m.starts_with(&base))
            .collect();
        v.sort_by_key(|m| std::cmp::Reverse(m.len()));
        v
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.stop();
        for _ in 0..4 {
            let m = self.mounts();
            if m.is_empty() {
                break;
            }
            for p in m {
                let _ = Command::new("umount").args(["-l", &p]).status();
            }
        }
    }
}

impl PrivateDaemon {
    /// A private daemon whose data root is a loop-mounted ext4 image (unmounted on drop by the daemon's
    /// own teardown, which unmounts everything under its dir; `mount -o loop` frees the loop device then).
    pub fn on_loop_fs(mb: u64) -> PrivateDaemon {
        let dir = tempfile::Builder::new()
            .prefix("dredge-dfd-")
            .tempdir_in("/tmp")
            .unwrap();
        let log = dir.path().join("dockerd.log");
        let img = dir.path().join("root.img");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(mb << 20).unwrap();
        let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
            let out = Command::new(cmd)
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("{cmd}: {e}"));
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(
            "mkfs.ext4",
            &["-q".as_ref(), "-F".as_ref(), img.as_os_str()],
        );
        let mut d = PrivateDaemon {
            dir,
            child: None,
            log,
        };
        run(
            "mount",
            &[
                "-o".as_ref(),
                "loop".as_ref(),
                img.as_os_str(),
                root.as_os_str(),
            ],
        );
        d.spawn().expect("a private dockerd on the loop filesystem");
        d
    }
}

/// What the engine tests do again and again on a private daemon: the busybox base, committed images,
/// `docker inspect` fields.
impl PrivateDaemon {
    /// Imports the busybox base ([`busybox_rootfs`]) as `tag`.
    pub fn import_base(&self, tag: &str) {
        self.docker(&["import", "-", tag], Some(&busybox_rootfs()));
    }

    /// Runs `sh -c script` to its end in a container `name` of `base` (no network); the container is
    /// left, stopped.
    pub fn run_sh(&self, base: &str, name: &str, script: &str) {
        let args = [
            "run",
            "--network",
            "none",
            "--name",
            name,
            base,
            "sh",
            "-c",
            script,
        ];
        self.docker(&args, None);
    }

    /// [`PrivateDaemon::run_sh`], then commits the container as `tag`; returns what `docker commit`
    /// prints (the image id).
    pub fn commit_sh(&self, base: &str, name: &str, script: &str, tag: &str) -> String {
        self.run_sh(base, name, script);
        self.docker(&["commit", name, tag], None).trim().to_string()
    }

    /// Starts `sh -c script` detached in a container of `image` (no network; `opts` go before the
    /// image: `--name`, `--log-driver` …); returns the container's id.
    pub fn start_sh(&self, opts: &[&str], image: &str, script: &str) -> String {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(opts);
        args.extend_from_slice(&[image, "sh", "-c", script]);
        self.docker(&args, None).trim().to_string()
    }

    /// Starts `sleep SECS` detached in a container `name` of `image` (no network): a running container.
    pub fn start_sleeper(&self, name: &str, image: &str, secs: u32) {
        let secs = secs.to_string();
        let args = [
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            image,
            "sleep",
            &secs,
        ];
        self.docker(&args, None);
    }

    /// `docker inspect -f FORMAT ID`, trimmed.
    pub fn inspect(&self, id: &str, format: &str) -> String {
        self.docker(&["inspect", "-f", format, id], None)
            .trim()
            .to_string()
    }

    /// The pid of a running container's first process.
    pub fn container_pid(&self, id: &str) -> u32 {
        self.inspect(id, "{{.State.Pid}}").parse().unwrap()
    }

    /// The id of an image.
    pub fn image_id(&self, image: &str) -> String {
        self.docker(&["image", "inspect", "--format", "{{.Id}}", image], None)
            .trim()
            .to_string()
    }
}

/// The trimmed, non-empty lines of `s`, as a set (of ids, tags, names a docker command lists).
pub fn line_set(s: &str) -> BTreeSet<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `(st_size, st_blocks × 512, st_ino)` of what `/proc/PID/fd/N` points to, by `stat -L`.
pub fn stat_fd(pid: u32, fd: u32) -> (u64, u64, u64) {
    let out = Command::new("stat")
        .args(["-L", "-c", "%s %b %B %i", &format!("/proc/{pid}/fd/{fd}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    (v[0], v[1] * v[2], v[3])
}

/// The descriptor of `pid` whose link is exactly `target`, waiting up to 60 s for it.
pub fn fd_to(pid: u32, target: &str) -> u32 {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            for e in rd.flatten() {
                if std::fs::read_link(e.path()).is_ok_and(|l| l == Path::new(target)) {
                    return e.file_name().to_str().unwrap().parse().unwrap();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no descriptor of pid {pid} points to {target:?}");
}

/// Allocated bytes under `p` (one filesystem), by `du -sx --block-size=1`.
pub fn du(p: &Path) -> u64 {
    crate::common::run("du", &["-sx", "--block-size=1", p.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `dredge prune ARGS --state-dir STATE`, against `DOCKER_HOST=host` when given: (exit code, stdout,
/// stderr).
pub fn dredge_prune(host: Option<&str>, state: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = crate::common::dredge();
    cmd.arg("prune").args(args).arg("--state-dir").arg(state);
    if let Some(h) = host {
        cmd.env("DOCKER_HOST", h);
    }
    let out = cmd.output().expect("dredge runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`dredge_prune`] with `--json`, which must succeed: its document.
pub fn dredge_prune_json(host: Option<&str>, state: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (code, out, err) = dredge_prune(host, state, &a);
    assert_eq!(code, 0, "dredge prune {a:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Waits up to 120 s for dredge's test pause (`DREDGE_PRUNE_TEST_PAUSE`) on a child's piped stderr,
/// which is read to its end meanwhile: true when it paused, false when its stderr ended first or the
/// time ran out.
pub fn reached_test_pause(child: &mut Child) -> bool {
    use std::io::Read;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(k) = stderr.read(&mut buf) {
            if k == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..k]));
            if all.contains("test pause") {
                let _ = tx.send(true);
            }
        }
        let _ = tx.send(false);
    });
    rx.recv_timeout(Duration::from_secs(120)).unwrap_or(false)
}

/// Moves the mtime of `p` and of everything under it (links themselves) back to `ago` (`touch -d`'s
/// words: "1 hour ago"), as an earlier daemon would have left them.
pub fn backdate(p: &Path, ago: &str) {
    crate::common::run(
        "find",
        &[
            p.to_str().unwrap(),
            "-exec",
            "touch",
            "-h",
            "-d",
            ago,
            "{}",
            "+",
        ],
    );
}
