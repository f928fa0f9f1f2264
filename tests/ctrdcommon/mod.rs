//! Helpers shared by the tests on the containerd-store engines of `scripts/docker-up-containerd`:
//! where each engine is, the docker CLI and `ctr` pointed at it, the check that it is up (the tests
//! fail, never skip, when it is not), and `du`.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A test engine of `scripts/docker-up-containerd`.
pub struct Eng {
    /// Its chroot.
    pub root: &'static str,
    /// containerd's socket inside it.
    pub ctr_sock: &'static str,
    /// The containerd root inside it.
    pub store: &'static str,
    /// How to start it.
    pub up: &'static str,
}

/// dockerd's own containerd (`<data-root>/containerd/daemon`).
pub const OWN: Eng = Eng {
    root: "/var/tmp/dredge-trixie",
    ctr_sock: "/run/docker/containerd/containerd.sock",
    store: "var/lib/docker/containerd/daemon",
    up: "scripts/docker-up-containerd",
};

/// A system containerd beside dockerd (`--containerd=/run/containerd/containerd.sock`).
pub const SYSTEM: Eng = Eng {
    root: "/var/tmp/dredge-trixie-sys",
    ctr_sock: "/run/containerd/containerd.sock",
    store: "var/lib/containerd",
    up: "DREDGE_CTRD_MODE=system scripts/docker-up-containerd",
};

impl Eng {
    /// `DOCKER_HOST` for it.
    pub fn sock(&self) -> String {
        format!("unix://{}/run/docker.sock", self.root)
    }

    /// Its data root, seen from here.
    pub fn data_root(&self) -> PathBuf {
        Path::new(self.root).join("var/lib/docker")
    }

    /// Its containerd root, seen from here.
    pub fn store_root(&self) -> PathBuf {
        Path::new(self.root).join(self.store)
    }

    /// The docker CLI against it, with `stdin` fed (or empty).
    pub fn docker_in(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new("docker")
            .env("DOCKER_HOST", self.sock())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker runs");
        let mut i = c.stdin.take().expect("piped stdin");
        if let Some(b) = stdin {
            i.write_all(b).expect("docker reads its input");
        }
        drop(i);
        c.wait_with_output().expect("docker ends")
    }

    /// The docker CLI against it.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_in(args, None)
    }

    /// The docker CLI against it, which must succeed: its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Fails (never skips) when the engine is not up, or this is not root.
    pub fn need(&self) {
        let uid0 = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
        assert!(uid0, "this test needs root (it is #[ignore]d)");
        let ok = self.docker(&["info", "--format", "{{.DriverStatus}}"]);
        assert!(
            ok.status.success()
                && String::from_utf8_lossy(&ok.stdout).contains("containerd.snapshotter"),
            "this test needs the containerd-store engine of `{}` on {} (it is #[ignore]d: run it \
             where that is available)",
            self.up,
            self.sock()
        );
    }

    /// An image of its own, `NAME:1`: busybox plus 1 MiB of random bytes, committed from a container
    /// (`NAME-src`, removed). Its id.
    pub fn commit_mib_image(&self, name: &str) -> String {
        let src = format!("{name}-src");
        self.docker_ok(&[
            "run",
            "--network",
            "none",
            "--name",
            &src,
            "dredge-ctrd-busybox",
            "sh",
            "-c",
            "head -c 1048576 /dev/urandom > /big",
        ]);
        let id = self.docker_ok(&["commit", &src, &format!("{name}:1")]);
        self.docker_ok(&["rm", &src]);
        id.trim().to_string()
    }

    /// containerd's own CLI in the chroot, namespace `moby`.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("chroot")
            .args([self.root, "ctr", "-a", self.ctr_sock, "-n", "moby"])
            .args(args)
            .output()
            .expect("chroot ctr runs")
    }
}

/// `du -sx -B1 p`: allocated bytes, one filesystem.
pub fn du_sx(p: &Path) -> u64 {
    let o = Command::new("du")
        .args(["-sx", "-B1"])
        .arg(p)
        .output()
        .expect("du runs");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("du prints a number")
}

/// [`du_sx`] once it gives the same figure twice, 300 ms apart (containerd collects after a
/// deletion), at most 12 s.
pub fn du_settled(p: &Path) -> u64 {
    let mut last = du_sx(p);
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(300));
        let now = du_sx(p);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}
