//! Space that deleting did not free: files deleted (link count 0) while a process still holds them open.
//! Their blocks stay allocated until the last descriptor closes, and no walk of the data root sees them.
//! Gathered by `source::held` from `/proc/*/fd`; the decisions (which container a cgroup path names,
//! which container a log path belongs to, one entry per inode, the fix, what explains the gap between
//! the filesystem's used bytes and the walk) are the pure functions here.

use std::collections::BTreeMap;

use serde::Serialize;

use super::dataroot::is_hex64;

/// Who holds a deleted file open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HolderKind {
    /// A process of a container (its cgroup names the container).
    Container,
    /// The docker daemon, holding a container's log it writes to.
    Dockerd,
    /// Any other process of the host (a backup, a `tail -f`).
    Process,
}

impl HolderKind {
    /// The name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HolderKind::Container => "container",
            HolderKind::Dockerd => "dockerd",
            HolderKind::Process => "process",
        }
    }
}

/// What gives the blocks back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldFix {
    /// Restart the container: its processes close their descriptors.
    RestartContainer,
    /// A container log deleted by hand that dockerd still writes: truncate it through
    /// `/proc/<pid>/fd/<fd>` (the log's content is lost), or restart the container; then set up log
    /// rotation (`--log-opt max-size`).
    TruncateLog,
    /// Restart or stop the process holding it.
    RestartProcess,
}

impl HeldFix {
    /// The name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldFix::RestartContainer => "restart-container",
            HeldFix::TruncateLog => "truncate-log",
            HeldFix::RestartProcess => "restart-process",
        }
    }

    /// What to do, for a person.
    pub fn advice(self) -> &'static str {
        match self {
            HeldFix::RestartContainer => "restart the container",
            HeldFix::TruncateLog => {
                "truncate via /proc/PID/fd/N (log lost; prune --held) or restart the container; \
                 set log rotation (--log-opt max-size)"
            }
            HeldFix::RestartProcess => "restart or stop the process",
        }
    }
}

/// Where a held file lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldOn {
    /// The data root's filesystem (under the data root, or anywhere on it when it is its own
    /// filesystem).
    DataRoot,
    /// A container's overlay mount (its writable layer under `<root>/overlay2`).
    ContainerOverlay,
}

/// One open descriptor of a deleted file, as `/proc` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdFact {
    /// Process id.
    pub pid: u32,
    /// Descriptor number.
    pub fd: u32,
    /// `/proc/<pid>/comm`.
    pub comm: String,
    /// `/proc/<pid>/cgroup`, whole.
    pub cgroup: String,
    /// The link's target, without the ` (deleted)` suffix.
    pub path: String,
    /// `st_dev` through the descriptor.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// `st_size`.
    pub size: u64,
    /// `st_blocks × 512`.
    pub allocated: u64,
    /// Where it lives (the caller keeps only descriptors on the data root's filesystem or a container's
    /// overlay mount).
    pub on: HeldOn,
}

/// One descriptor holding a deleted file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Process name (`comm`).
    pub process: String,
    /// Descriptor number: `/proc/<pid>/fd/<fd>`.
    pub fd: u32,
    /// Full id of the container the process belongs to, if any.
    pub container: Option<String>,
    /// Who it is.
    pub kind: HolderKind,
}

/// One deleted file still held open, counted once however many descriptors hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldFile {
    /// The main holder's process id.
    pub pid: u32,
    /// The main holder's process name.
    pub process: String,
    /// The main holder's descriptor: `/proc/<pid>/fd/<fd>`.
    pub fd: u32,
    /// Full id of the container it belongs to: the holder's container, or for a log the container whose
    /// dir it was in.
    pub container: Option<String>,
    /// That container's name, when the data root knows it.
    pub container_name: Option<String>,
    /// Who the main holder is.
    pub holder: HolderKind,
    /// The path it had, as `/proc` shows it (inside a container: the container's view).
    pub path: String,
    /// Allocated bytes (`st_blocks × 512`): what deleting it would have freed.
    pub bytes: u64,
    /// Apparent bytes (`st_size`).
    pub apparent_bytes: u64,
    /// `st_dev` through the descriptor.
    pub dev: u64,
    /// Inode number.
    pub inode: u64,
    /// The data root's filesystem or a container's overlay mount.
    pub on: HeldOn,
    /// What gives the blocks back (every holder must close it).
    pub fix: HeldFix,
    /// Every descriptor holding it, the main one first.
    pub holders: Vec<Holder>,
}

/// Whether `/proc` was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldState {
    /// Every process's descriptors were read.
    Complete,
    /// Some processes' descriptors could not be read (no permission): their files are not counted.
    Partial,
    /// Not looked for (offline with no daemon on the root, or no `/proc`).
    #[default]
    NotScanned,
}

impl HeldState {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldState::Complete => "complete",
            HeldState::Partial => "partial",
            HeldState::NotScanned => "not-scanned",
        }
    }
}

/// What the scan of `/proc` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HeldScan {
    /// Whether it was done, and whole.
    pub state: HeldState,
    /// Why not, or why partial (one line).
    pub reason: Option<String>,
    /// Processes whose descriptors could not be read.
    pub unreadable_processes: u64,
    /// Deleted files on the data root's filesystem but outside the data root, held by processes of
    /// no container (not Docker's; listed nowhere, counted here).
    pub elsewhere_files: u64,
    /// Their allocated bytes.
    pub elsewhere_bytes: u64,
    /// The files, largest first.
    #[serde(skip)]
    pub files: Vec<HeldFile>,
}

impl HeldScan {
    /// Not scanned, and why.
    pub fn not_scanned(reason: impl Into<String>) -> HeldScan {
        HeldScan {
            state: HeldState::NotScanned,
            reason: Some(reason.into()),
            ..HeldScan::default()
        }
    }

    /// Σ allocated bytes of the files; None when not scanned (unknown, not zero).
    pub fn bytes(&self) -> Option<u64> {
        (self.state != HeldState::NotScanned).then(|| self.files.iter().map(|f| f.bytes).sum())
    }
}

/// The container a process belongs to, from its `/proc/<pid>/cgroup`: the last 64-hex path component
/// (cgroupfs, v1 and v2: `/docker/<id>`, nested `/docker/<a>/docker/<b>`), or `docker-<id>.scope`
/// (systemd driver: `/system.slice/docker-<id>.scope`). Every line is looked at; the first with an id
/// wins (v1 controllers agree).
pub fn container_of_cgroup(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        // hierarchy-id:controllers:path; the path may itself hold ':'.
        let path = line.splitn(3, ':').nth(2)?;
        path.rsplit('/').find_map(|c| {
            let c = c
                .strip_prefix("docker-")
                .and_then(|c| c.strip_suffix(".scope"))
                .unwrap_or(c);
            is_hex64(c).then(|| c.to_string())
        })
    })
}

/// The container whose log (or other file of `containers/<id>/`) `path` was, when it lies under
/// `<root>/containers/<64-hex>/`; `log` tells whether it is a log file (`<id>-json.log*`,
/// `local-logs/*`).
pub fn container_of_path(root: &str, path: &str) -> Option<(String, bool)> {
    let rest = path
        .strip_prefix(root.trim_end_matches('/'))?
        .strip_prefix("/containers/")?;
    let (id, file) = rest.split_once('/')?;
    if !is_hex64(id) {
        return None;
    }
    let log = file.starts_with(&format!("{id}-json.log")) || file.starts_with("local-logs/");
    Some((id.to_string(), log))
}

/// True when `path` lies under `root` (component-wise).
pub fn under(root: &str, path: &str) -> bool {
    let root = root.trim_end_matches('/');
    path.strip_prefix(root)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// Groups descriptors by inode (`(dev, ino)`: one file however many descriptors and processes hold it),
/// attributes each file to its holder and container, and chooses its fix. `root` is the data root
/// (canonical), `dockerd` the daemon's pid, `name_of` the container names the data root knows. Largest
/// first.
pub fn assemble(
    facts: Vec<FdFact>,
    root: &str,
    dockerd: Option<u32>,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<HeldFile> {
    let mut by_inode: BTreeMap<(u64, u64), Vec<FdFact>> = BTreeMap::new();
    for f in facts {
        by_inode.entry((f.dev, f.ino)).or_default().push(f);
    }
    let mut files: Vec<HeldFile> = by_inode
        .into_values()
        .filter_map(|mut fds| {
            fds.sort_by_key(|f| (f.pid, f.fd));
            let of_path = container_of_path(root, &fds.first()?.path);
            let mut holders: Vec<Holder> = fds
                .iter()
                .map(|f| {
                    let container = container_of_cgroup(&f.cgroup);
                    let kind = if container.is_some() {
                        HolderKind::Container
                    } else if Some(f.pid) == dockerd || f.comm == "dockerd" {
                        HolderKind::Dockerd
                    } else {
                        HolderKind::Process
                    };
                    Holder {
                        pid: f.pid,
                        process: f.comm.clone(),
                        fd: f.fd,
                        container,
                        kind,
                    }
                })
                .collect();
            // The main holder: a container's process, else dockerd, else the lowest pid; every holder
            // must close the file, so any host process makes the fix a restart of that process.
            let rank = |h: &Holder| match h.kind {
                HolderKind::Container => 0,
                HolderKind::Dockerd => 1,
                HolderKind::Process => 2,
            };
            holders.sort_by_key(|h| (rank(h), h.pid, h.fd));
            let main = holders.first()?.clone();
            let any_process = holders.iter().any(|h| h.kind == HolderKind::Process);
            let containers: Vec<&String> = holders
                .iter()
                .filter_map(|h| h.container.as_ref())
                .collect();
            let one_container = containers.windows(2).all(|w| w[0] == w[1]);
            let fix = if any_process || !one_container {
                HeldFix::RestartProcess
            } else if main.kind == HolderKind::Container {
                HeldFix::RestartContainer
            } else if matches!(of_path, Some((_, true))) {
                HeldFix::TruncateLog
            } else {
                // dockerd holding something other than a log: a daemon restart closes it.
                HeldFix::RestartProcess
            };
            let container = main.container.clone().or(of_path.map(|(id, _)| id));
            let f = &fds[0];
            Some(HeldFile {
                pid: main.pid,
                process: main.process.clone(),
                fd: main.fd,
                container_name: container.as_deref().and_then(name_of),
                container,
                holder: main.kind,
                path: f.path.clone(),
                bytes: f.allocated,
                apparent_bytes: f.size,
                dev: f.dev,
                inode: f.ino,
                on: f.on,
                fix,
                holders,
            })
        })
        .collect();
    files.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.inode.cmp(&b.inode)));
    files
}

/// The filesystem's figures (`statvfs`) for a data root that is its own filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsFacts {
    /// `f_blocks × f_frsize`.
    pub size: u64,
    /// `(f_blocks − f_bfree) × f_frsize`: what `df` calls used.
    pub used: u64,
    /// `f_bavail × f_frsize`: what an unprivileged writer can still use.
    pub available: u64,
    /// `(f_bfree − f_bavail) × f_frsize`: free, but kept for root (ext4's reserved blocks).
    pub reserved: u64,
    /// `f_frsize`.
    pub block: u64,
}

/// The gap between the filesystem's used bytes and the walk, and what explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsGap {
    /// Filesystem size (`statvfs`).
    pub size_bytes: u64,
    /// Used bytes (`f_blocks − f_bfree`, as `df`).
    pub used_bytes: u64,
    /// Available bytes (`f_bavail`).
    pub available_bytes: u64,
    /// Free but reserved for root (`f_bfree − f_bavail`): not in `used_bytes`, not available either;
    /// why `size − used ≠ available`.
    pub reserved_bytes: u64,
    /// The walk's total (`total_bytes`).
    pub walked_bytes: u64,
    /// `used_bytes − walked_bytes` (negative when the walk counted more, e.g. delayed allocation).
    pub gap_bytes: i64,
    /// Of the gap: deleted files still held open on this filesystem (`held[]` and `elsewhere_bytes`).
    pub held_bytes: u64,
    /// Of the gap: filesystem metadata the walk cannot see (a few blocks: journal and inode tables
    /// are not in `used`) and anything unexplained: `gap − held`.
    pub unexplained_bytes: i64,
    /// Filesystem block size.
    pub block_bytes: u64,
    /// Set when the unexplained part is large: the likely causes.
    pub warning: Option<String>,
}

/// Unexplained bytes above this share of the filesystem (and above [`GAP_FLOOR`]) make a warning.
pub const GAP_SHARE_PERCENT: u64 = 1;
/// Unexplained bytes below this never make a warning (metadata of a few MB is normal).
pub const GAP_FLOOR: u64 = 64 << 20;

/// Explains the gap between the filesystem's used bytes and the walk's total: held deleted files, the
/// rest unexplained (a few metadata blocks, normally); a warning naming the likely causes when the
/// rest is large. `held` is None when `/proc` could not be read (then the gap is left unexplained and
/// the warning says held files are possible).
pub fn explain_gap(fs: FsFacts, walked: u64, held: Option<u64>, held_partial: bool) -> FsGap {
    let gap = fs.used as i64 - walked as i64;
    let held_bytes = held.unwrap_or(0);
    let unexplained = gap - held_bytes as i64;
    let limit = (fs.size / 100 * GAP_SHARE_PERCENT).max(GAP_FLOOR);
    let warning = (unexplained > limit as i64).then(|| {
        let mut causes = vec![
            "files hidden under a mount point inside the data root",
            "paths the walk could not read",
        ];
        if held.is_none() || held_partial {
            causes.insert(
                0,
                "deleted files held by processes whose descriptors were not read",
            );
        }
        causes.push("filesystem metadata or snapshots (btrfs, xfs reflinks)");
        format!(
            "the filesystem uses {} more bytes than the walk and held files explain: likely {}",
            unexplained,
            causes.join(", ")
        )
    });
    FsGap {
        size_bytes: fs.size,
        used_bytes: fs.used,
        available_bytes: fs.available,
        reserved_bytes: fs.reserved,
        walked_bytes: walked,
        gap_bytes: gap,
        held_bytes,
        unexplained_bytes: unexplained,
        block_bytes: fs.block,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn cgroup_paths_name_the_container() {
        let a = id('a');
        // cgroup v1, cgroupfs driver.
        let v1 = format!("12:pids:/docker/{a}\n1:name=systemd:/docker/{a}\n0::/\n");
        assert_eq!(container_of_cgroup(&v1), Some(a.clone()));
        // cgroup v2, cgroupfs driver, and under a parent cgroup.
        assert_eq!(
            container_of_cgroup(&format!("0::/docker/{a}\n")),
            Some(a.clone())
        );
        assert_eq!(
            container_of_cgroup(&format!("0::/process_api/x/docker/{a}\n")),
            Some(a.clone())
        );
        // systemd driver, v1 and v2.
        assert_eq!(
            container_of_cgroup(&format!("0::/system.slice/docker-{a}.scope\n")),
            Some(a.clone())
        );
        assert_eq!(
            container_of_cgroup(&format!("4:memory:/system.slice/docker-{a}.scope\n")),
            Some(a.clone())
        );
        // A process in a sub-cgroup of the container (v2 needs leaves).
        assert_eq!(
            container_of_cgroup(&format!("0::/system.slice/docker-{a}.scope/init\n")),
            Some(a.clone())
        );
        // Nested (docker in docker): the innermost.
        let b = id('b');
        assert_eq!(
            container_of_cgroup(&format!("0::/docker/{a}/docker/{b}\n")),
            Some(b)
        );
        // Host processes.
        assert_eq!(container_of_cgroup("0::/\n"), None);
        assert_eq!(
            container_of_cgroup("0::/system.slice/docker.service\n1:name=systemd:/user.slice\n"),
            None
        );
        assert_eq!(
            container_of_cgroup("0::/system.slice/docker-abc.scope\n"),
            None
        );
        assert_eq!(container_of_cgroup(""), None);
        assert_eq!(container_of_cgroup(&format!("garbage {a}")), None);
    }

    #[test]
    fn log_paths_name_the_container() {
        let a = id('a');
        let root = "/var/lib/docker";
        assert_eq!(
            container_of_path(root, &format!("{root}/containers/{a}/{a}-json.log")),
            Some((a.clone(), true))
        );
        assert_eq!(
            container_of_path(root, &format!("{root}/containers/{a}/{a}-json.log.1")),
            Some((a.clone(), true))
        );
        assert_eq!(
            container_of_path(
                root,
                &format!("{root}/containers/{a}/local-logs/container.log")
            ),
            Some((a.clone(), true))
        );
        assert_eq!(
            container_of_path(root, &format!("{root}/containers/{a}/hosts")),
            Some((a.clone(), false))
        );
        assert_eq!(
            container_of_path("/var/lib/docker/", &format!("{root}/containers/{a}/x")),
            Some((a.clone(), false))
        );
        assert_eq!(
            container_of_path(root, "/var/lib/docker/containers/abc/x"),
            None
        );
        assert_eq!(
            container_of_path(root, &format!("/var/lib/docker2/containers/{a}/x")),
            None
        );
        assert_eq!(container_of_path(root, &format!("/big/{a}-json.log")), None);
        assert!(under(root, "/var/lib/docker/x"));
        assert!(under(root, "/var/lib/docker"));
        assert!(!under(root, "/var/lib/docker2/x"));
    }

    fn fact(pid: u32, fd: u32, comm: &str, cgroup: &str, path: &str, ino: u64) -> FdFact {
        FdFact {
            pid,
            fd,
            comm: comm.into(),
            cgroup: cgroup.into(),
            path: path.into(),
            dev: 2049,
            ino,
            size: 50_000_000,
            allocated: 50_003_968,
            on: HeldOn::DataRoot,
        }
    }

    #[test]
    fn one_entry_per_inode_with_every_holder() {
        let a = id('a');
        let cg = format!("0::/docker/{a}\n");
        // Two processes of one container, three descriptors, one inode; another inode elsewhere.
        let facts = vec![
            fact(20, 4, "sh", &cg, "/big", 7),
            fact(10, 3, "sh", &cg, "/big", 7),
            fact(10, 5, "sh", &cg, "/big", 7),
            fact(30, 3, "tail", "0::/\n", "/var/lib/docker/x", 8),
        ];
        let name_of = |i: &str| (i == a).then(|| "web".to_string());
        let files = assemble(facts, "/var/lib/docker", Some(1), &name_of);
        assert_eq!(files.len(), 2);
        let big = &files[0];
        assert_eq!((big.pid, big.fd, big.inode), (10, 3, 7));
        assert_eq!(big.holders.len(), 3);
        assert_eq!(big.container.as_deref(), Some(a.as_str()));
        assert_eq!(big.container_name.as_deref(), Some("web"));
        assert_eq!(big.holder, HolderKind::Container);
        assert_eq!(big.fix, HeldFix::RestartContainer);
        assert_eq!(big.bytes, 50_003_968);
        let other = &files[1];
        assert_eq!(
            (other.holder, other.fix),
            (HolderKind::Process, HeldFix::RestartProcess)
        );
        assert_eq!(other.container, None);
        // The same inode number on another device is another file.
        let mut f = fact(10, 3, "sh", &cg, "/big", 7);
        f.dev = 99;
        let files = assemble(
            vec![f, fact(10, 4, "sh", &cg, "/big", 7)],
            "/var/lib/docker",
            None,
            &|_| None,
        );
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn a_log_held_by_dockerd_is_truncated_unless_a_host_process_holds_it_too() {
        let a = id('c');
        let log = format!("/var/lib/docker/containers/{a}/{a}-json.log");
        let files = assemble(
            vec![fact(
                900,
                41,
                "dockerd",
                "0::/system.slice/docker.service\n",
                &log,
                5,
            )],
            "/var/lib/docker",
            Some(900),
            &|_| None,
        );
        assert_eq!(files[0].holder, HolderKind::Dockerd);
        assert_eq!(files[0].container.as_deref(), Some(a.as_str()));
        assert_eq!(files[0].fix, HeldFix::TruncateLog);
        // Known by pid even when renamed.
        let files = assemble(
            vec![fact(900, 41, "docker-daemon", "0::/\n", &log, 5)],
            "/var/lib/docker",
            Some(900),
            &|_| None,
        );
        assert_eq!(files[0].fix, HeldFix::TruncateLog);
        // A `tail -f` on the same log: truncating is not enough to say; the tail must go.
        let files = assemble(
            vec![
                fact(900, 41, "dockerd", "0::/\n", &log, 5),
                fact(950, 3, "tail", "0::/\n", &log, 5),
            ],
            "/var/lib/docker",
            Some(900),
            &|_| None,
        );
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].holder, HolderKind::Dockerd);
        assert_eq!(files[0].fix, HeldFix::RestartProcess);
        // dockerd holding something not a log.
        let files = assemble(
            vec![fact(900, 7, "dockerd", "0::/\n", "/var/lib/docker/x", 6)],
            "/var/lib/docker",
            Some(900),
            &|_| None,
        );
        assert_eq!(files[0].fix, HeldFix::RestartProcess);
    }

    #[test]
    fn the_gap_is_held_bytes_plus_the_rest_and_a_large_rest_warns() {
        let fs = FsFacts {
            size: 300 << 20,
            used: 50_015_232,
            available: 214_347_776,
            reserved: 14 << 20,
            block: 1024,
        };
        let g = explain_gap(fs, 13_312, Some(50_000_896), false);
        assert_eq!(g.gap_bytes, 50_001_920);
        assert_eq!(g.held_bytes, 50_000_896);
        assert_eq!(g.unexplained_bytes, 1024);
        assert_eq!(g.reserved_bytes, 14 << 20);
        assert!(g.warning.is_none());
        // Not scanned: the whole gap is unexplained, and held files are named as a cause.
        let g = explain_gap(fs, 13_312, None, false);
        assert_eq!(g.unexplained_bytes, 50_001_920);
        assert!(g.warning.is_none(), "under the 64 MiB floor");
        let big = FsFacts {
            size: 100 << 30,
            used: 60 << 30,
            ..fs
        };
        let g = explain_gap(big, 40 << 30, None, false);
        let w = g.warning.unwrap();
        assert!(w.contains("held by processes"), "{w}");
        assert!(w.contains("mount point"), "{w}");
        let g = explain_gap(big, 40 << 30, Some(20 << 30), false);
        assert!(g.warning.is_none());
        // The walk can count more than the filesystem uses (delayed allocation): negative, no warning.
        let g = explain_gap(fs, 60_000_000, Some(0), false);
        assert!(g.gap_bytes < 0 && g.warning.is_none());
    }
}
