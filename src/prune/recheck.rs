//! Is a planned item still what was planned? Pure functions over fresh facts, asked immediately before
//! each item goes. Anything that changed (now in use, re-tagged, newer, a different object behind the
//! name, an orphan that gained a reference) skips the item with the reason.

use super::Kind;
use super::facts::HeldContainer;
use super::facts::{Facts, format_time};
use super::plan::{HeldAction, HeldRef, Item, LogRef, Plan};

/// What to do with one planned item now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Still as planned: go. For an image, the references to untag first (those that still name it).
    Go {
        /// `repo:tag` references to untag before the id is deleted.
        untag: Vec<String>,
    },
    /// Changed since planning: leave it, for this reason.
    Skip(String),
    /// Already gone (deleted by someone else, or by an interrupted run of this plan).
    Gone,
}

fn skip(s: String) -> Verdict {
    Verdict::Skip(s)
}

/// A plan is applied only on the engine and data root it was made on.
pub fn same_engine(plan: &Plan, engine_id: &str, data_root: &str) -> Result<(), String> {
    if plan.engine_id != engine_id {
        return Err(format!(
            "the plan was made on another engine (ID {}, this one is {engine_id})",
            plan.engine_id
        ));
    }
    if plan.data_root != data_root {
        return Err(format!(
            "the plan was made for data root {}, this engine's is {data_root}",
            plan.data_root
        ));
    }
    Ok(())
}

/// Re-checks an image, container or volume item against fresh facts.
pub fn engine_item(item: &Item, fresh: &Facts) -> Verdict {
    match item.kind {
        Kind::Image => image(item, fresh),
        Kind::Container => container(item, fresh),
        Kind::Volume => volume(item, fresh),
        Kind::BuildCache => build_record(item, fresh),
        k => skip(format!(
            "{} items are not applied by this version",
            k.as_str()
        )),
    }
}

fn image(item: &Item, fresh: &Facts) -> Verdict {
    let Some(img) = fresh.image(&item.id) else {
        return Verdict::Gone;
    };
    if let Some(c) = fresh.containers.iter().find(|c| c.image == item.id) {
        return skip(format!("now in use by container {} ({})", c.name, c.status));
    }
    if let Some(why) = &img.held_by_lease {
        return skip(why.clone());
    }
    if let Some(child) = fresh
        .images
        .iter()
        .find(|i| i.parent.as_deref() == Some(&item.id))
    {
        return skip(format!("now the parent of image {}", child.id));
    }
    for r in &item.refs {
        if let Some(other) = fresh.image_tagged(r)
            && other.id != item.id
        {
            return skip(format!(
                "re-tagged: {r} now names a different image, {}",
                other.id
            ));
        }
    }
    if let Some(t) = img.tags.iter().find(|t| !item.refs.contains(t)) {
        return skip(format!("re-tagged: it gained the reference {t}"));
    }
    let now = fresh.last_use(&item.id);
    if let Some(n) = now
        && item.last_used.is_none_or(|was| n > was)
    {
        return skip(format!("newer: used at {}, after planning", format_time(n)));
    }
    Verdict::Go {
        untag: img.tags.clone(),
    }
}

fn container(item: &Item, fresh: &Facts) -> Verdict {
    let Some(c) = fresh.container(&item.id) else {
        return Verdict::Gone;
    };
    if c.active {
        return skip(format!("now in use: the container is {}", c.status));
    }
    if c.finished_at != item.finished_at {
        return skip(format!(
            "newer: it ran again after planning (finished {})",
            c.finished_at.map_or("never".into(), format_time)
        ));
    }
    Verdict::Go { untag: Vec::new() }
}

fn volume(item: &Item, fresh: &Facts) -> Verdict {
    let Some(v) = fresh.volume(&item.id) else {
        return Verdict::Gone;
    };
    // In use first: a local volume's `CreatedAt` is its `_data` dir's mtime, which a container that
    // mounts it (or writes to it) moves, so "in use" is the truer reason when both hold.
    if let Some(c) = fresh
        .containers
        .iter()
        .find(|c| c.volumes.contains(&v.name))
    {
        return skip(format!("now in use by container {} ({})", c.name, c.status));
    }
    if item.created_at.as_deref() != Some(v.created_at.as_str()) {
        return skip(format!(
            "a different volume behind the name {}, or written to since planning (created or \
             modified {}, planned {})",
            v.name,
            v.created_at,
            item.created_at.as_deref().unwrap_or("unknown")
        ));
    }
    Verdict::Go { untag: Vec::new() }
}

fn build_record(item: &Item, fresh: &Facts) -> Verdict {
    let Some(r) = fresh.build_cache.iter().find(|r| r.id == item.id) else {
        return Verdict::Gone;
    };
    if r.in_use {
        return skip("now in use by a build".into());
    }
    if r.last_used != item.last_used {
        return skip(format!(
            "newer: used at {}, after planning",
            r.last_used.map_or("?".into(), format_time)
        ));
    }
    Verdict::Go { untag: Vec::new() }
}

/// What was found about one orphan immediately before it moves (gathered by `orphans::inspect`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanState {
    /// Paths of the item that still exist.
    pub existing: Vec<String>,
    /// A path that is not strictly below the data root, or reached through a symlink.
    pub outside: Option<String>,
    /// A path on another filesystem than the data root, or with a mount point at or below it.
    pub mount: Option<String>,
    /// What names it now (a layer's cache-id, a mount's mount-id, BuildKit's db, the engine, …).
    pub named_by: Vec<String>,
    /// Newest modification inside now (ns since the epoch).
    pub modified_ns: Option<i64>,
    /// A dockerd running on the data root (pid), for items that need it stopped.
    pub daemon: Option<u32>,
}

/// Re-checks an orphan: still unreferenced, unchanged since planning, older than the grace period,
/// inside the data root and on its filesystem.
pub fn orphan(
    item: &Item,
    st: &OrphanState,
    now_ns: i64,
    grace_s: u64,
    needs_stopped: bool,
) -> Verdict {
    // Outside first: a path outside the data root is not looked at, so it is never "already gone".
    if let Some(p) = &st.outside {
        return skip(format!(
            "{p} is outside the data root or reached through a symlink"
        ));
    }
    if st.existing.is_empty() {
        return Verdict::Gone;
    }
    if let Some(p) = &st.mount {
        return skip(format!("{p} is or holds a mount point"));
    }
    if let Some(n) = st.named_by.first() {
        return skip(format!("an orphan that gained a reference: {n}"));
    }
    if needs_stopped && let Some(pid) = st.daemon {
        return skip(format!(
            "a layer chain with a complete record: dockerd (pid {pid}) now runs on the data root"
        ));
    }
    if st.modified_ns != item.modified_ns {
        return skip("newer: it changed after planning".into());
    }
    if !past_grace(st.modified_ns, now_ns, grace_s) {
        return skip("changed within the grace period".into());
    }
    Verdict::Go { untag: Vec::new() }
}

/// Whether what last changed at `modified_ns` has been left alone for the grace period at `now_ns`:
/// its age, to the nanosecond (`st_mtim` against the clock's nanoseconds, never whole seconds), is at
/// least `grace_s` seconds. `--grace 0s` thus takes what changed a moment ago, even within the current
/// second; a change time unknown, or ahead of the clock, is never past any grace. Pure: the one
/// comparison planning and the re-check before each move make.
pub fn past_grace(modified_ns: Option<i64>, now_ns: i64, grace_s: u64) -> bool {
    let grace_ns = i64::try_from(grace_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000);
    modified_ns.is_some_and(|m| m <= now_ns && now_ns.saturating_sub(m) >= grace_ns)
}

/// A descriptor as it is now: read through the file `/proc/PID/fd/N` opens (`fstat`), and the start
/// time of the process PID now (None: no such process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdNow {
    /// `/proc/PID/stat` field 22 now.
    pub pid_start: Option<u64>,
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub inode: u64,
    /// `st_nlink`.
    pub nlink: u64,
}

/// Whether a planned held file is still the one planned: same process (start time), the descriptor
/// on the same (dev, inode), still deleted. `now` None: the descriptor cannot be opened (closed, the
/// process gone, no permission: `why`).
pub fn held_file(r: &HeldRef, now: Option<&FdNow>, why: &str) -> Result<(), String> {
    let Some(n) = now else {
        return Err(format!("/proc/{}/fd/{}: {why}", r.pid, r.fd));
    };
    if n.pid_start != Some(r.pid_start) {
        return Err(format!(
            "process {} is not the one planned (it exited, or its pid was re-used)",
            r.pid
        ));
    }
    if (n.dev, n.inode) != (r.dev, r.inode) {
        return Err(format!(
            "/proc/{}/fd/{} now points at another file (dev {} inode {}, planned dev {} inode {})",
            r.pid, r.fd, n.dev, n.inode, r.dev, r.inode
        ));
    }
    if n.nlink != 0 {
        return Err(format!(
            "/proc/{}/fd/{}: the file has {} links again: it is not deleted",
            r.pid, r.fd, n.nlink
        ));
    }
    Ok(())
}

/// Re-checks a `held` item: its container is the one planned, still running and not restarted since
/// (`State.StartedAt`); a truncation's file is still the one planned; a restart still frees at least
/// one of its files. `files[i]` is the re-check of `item.files[i]`.
pub fn held(
    item: &Item,
    container: Option<&HeldContainer>,
    files: &[Result<(), String>],
) -> Verdict {
    if let Some(want) = &item.container {
        let Some(c) = container else {
            return skip(format!("container {want} is gone"));
        };
        if &c.id != want {
            return skip(format!("{} is another container now", c.id));
        }
        if !c.running {
            return skip(format!("container {} is not running any more", c.name));
        }
        if item.container_started.as_deref() != Some(c.started_at.as_str()) {
            return skip(format!(
                "container {} was restarted since planning (started {})",
                c.name, c.started_at
            ));
        }
    }
    if files.is_empty() || files.len() != item.files.len() {
        return skip("the plan names no held file for it".into());
    }
    match item.held_action {
        Some(HeldAction::Truncate) => match &files[0] {
            Ok(()) if files.len() == 1 => Verdict::Go { untag: vec![] },
            Ok(()) => skip("a truncation names one file".into()),
            Err(e) => skip(e.clone()),
        },
        Some(HeldAction::Restart) => {
            if files.iter().any(Result::is_ok) {
                Verdict::Go { untag: vec![] }
            } else {
                let why: Vec<&str> = files
                    .iter()
                    .filter_map(|f| f.as_ref().err())
                    .map(String::as_str)
                    .collect();
                skip(format!(
                    "none of its deleted files is held as planned: {}",
                    why.join("; ")
                ))
            }
        }
        None => skip("the plan does not say what to do with it".into()),
    }
}

/// A log file as it is now, through the descriptor opened to truncate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogNow {
    /// Regular file.
    pub regular: bool,
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub inode: u64,
    /// `st_size`.
    pub size: u64,
}

/// Re-checks a `log` item (`--logs-over --truncate-logs`) immediately before its truncation: the
/// container still exists (`container` None: gone), with the same driver (json-file or local) and
/// the same log path (`now_path`: the path the driver writes now, [`super::facts::live_log_path`]);
/// the file opened (`file`: its `fstat`, or why it could not be opened) is the one planned (same dev
/// and inode: not rotated since) and still over the size. Pure.
pub fn log(
    item: &Item,
    container: Option<&HeldContainer>,
    now_path: Option<&str>,
    file: Result<&LogNow, &str>,
) -> Verdict {
    let Some(want) = &item.log_file else {
        return skip("the plan names no log file for it".into());
    };
    let LogRef {
        path,
        driver,
        over,
        dev,
        inode,
        ..
    } = want;
    if !matches!(driver.as_str(), "json-file" | "local") {
        return skip(format!(
            "the {driver} log driver is not json-file or local: only their logs are truncated"
        ));
    }
    let Some(c) = container else {
        return Verdict::Gone;
    };
    if c.id != item.id {
        return skip(format!("{} is another container now", c.id));
    }
    if &c.log_driver != driver {
        return skip(format!(
            "its log driver is {} now, {driver} when planned",
            c.log_driver
        ));
    }
    if now_path != Some(path.as_str()) {
        return skip(format!(
            "its log file is {} now, {path} when planned",
            now_path.unwrap_or("unknown")
        ));
    }
    let f = match file {
        Ok(f) => f,
        Err(why) => return skip(format!("{path}: {why}")),
    };
    if !f.regular {
        return skip(format!("{path} is not a regular file"));
    }
    if (f.dev, f.inode) != (*dev, *inode) {
        return skip(format!(
            "{path} is another file now (inode {}, planned {inode}): rotated or replaced since planning",
            f.inode
        ));
    }
    if f.size <= *over {
        return skip(format!(
            "{path} holds {} bytes now, not over --logs-over ({over})",
            f.size
        ));
    }
    Verdict::Go { untag: vec![] }
}

/// The start time of a process: field 22 of `/proc/PID/stat` (after the `)` that ends its name, which
/// may hold spaces and parentheses). Pure.
pub fn proc_start(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_goes_only_if_container_driver_path_inode_and_size_are_as_planned() {
        let mut it = item(Kind::Log, "c1");
        it.log_file = Some(LogRef {
            path: "/r/containers/c1/c1-json.log".into(),
            driver: "json-file".into(),
            over: 100,
            dev: 7,
            inode: 42,
            size: 500,
        });
        let c = HeldContainer {
            id: "c1".into(),
            name: "chatty".into(),
            running: true,
            log_driver: "json-file".into(),
            log_path: "/r/containers/c1/c1-json.log".into(),
            ..Default::default()
        };
        let path = Some("/r/containers/c1/c1-json.log");
        let f = LogNow {
            regular: true,
            dev: 7,
            inode: 42,
            size: 300,
        };
        assert_eq!(
            log(&it, Some(&c), path, Ok(&f)),
            Verdict::Go { untag: vec![] }
        );
        // Stopped containers' logs go too: nothing holds them but the file.
        let stopped = HeldContainer {
            running: false,
            ..c.clone()
        };
        assert!(matches!(
            log(&it, Some(&stopped), path, Ok(&f)),
            Verdict::Go { .. }
        ));
        assert_eq!(log(&it, None, path, Ok(&f)), Verdict::Gone);
        let why = |v: Verdict| match v {
            Verdict::Skip(s) => s,
            v => panic!("{v:?}"),
        };
        let other = HeldContainer {
            id: "c2".into(),
            ..c.clone()
        };
        assert!(why(log(&it, Some(&other), path, Ok(&f))).contains("another container"));
        let local = HeldContainer {
            log_driver: "local".into(),
            ..c.clone()
        };
        assert!(why(log(&it, Some(&local), path, Ok(&f))).contains("driver is local now"));
        assert!(why(log(&it, Some(&c), Some("/elsewhere"), Ok(&f))).contains("/elsewhere"));
        assert!(why(log(&it, Some(&c), path, Err("a symbolic link"))).contains("symbolic"));
        let rotated = LogNow {
            inode: 43,
            ..f.clone()
        };
        assert!(why(log(&it, Some(&c), path, Ok(&rotated))).contains("rotated"));
        let small = LogNow {
            size: 100,
            ..f.clone()
        };
        assert!(why(log(&it, Some(&c), path, Ok(&small))).contains("not over"));
        let fifo = LogNow {
            regular: false,
            ..f.clone()
        };
        assert!(why(log(&it, Some(&c), path, Ok(&fifo))).contains("regular"));
        // Another driver in a (hand-made) plan is refused, whatever the container says.
        let mut syslog = it.clone();
        if let Some(l) = syslog.log_file.as_mut() {
            l.driver = "syslog".into();
        }
        assert!(why(log(&syslog, Some(&c), path, Ok(&f))).contains("not json-file or local"));
        let bare = item(Kind::Log, "c1");
        assert!(why(log(&bare, Some(&c), path, Ok(&f))).contains("no log file"));
    }
    use crate::prune::facts::{ContainerFact, ImageFact, VolumeFact};

    fn item(kind: Kind, id: &str) -> Item {
        serde_json::from_value(serde_json::json!({
            "kind": kind, "id": id, "bytes": 1, "rule": "r"
        }))
        .unwrap()
    }
    fn facts() -> Facts {
        Facts {
            images: vec![
                ImageFact {
                    id: "sha256:a".into(),
                    tags: vec!["app:1".into()],
                    ..Default::default()
                },
                ImageFact {
                    id: "sha256:b".into(),
                    tags: vec!["other:1".into()],
                    ..Default::default()
                },
            ],
            volumes: vec![VolumeFact {
                name: "v".into(),
                created_at: "T1".into(),
                ..Default::default()
            }],
            containers: vec![ContainerFact {
                id: "c".into(),
                name: "web".into(),
                image: "sha256:b".into(),
                status: "exited".into(),
                finished_at: Some(100),
                ..Default::default()
            }],
            ..Default::default()
        }
    }
    fn img_item() -> Item {
        let mut i = item(Kind::Image, "sha256:a");
        i.refs = vec!["app:1".into()];
        i
    }

    #[test]
    fn an_unchanged_image_goes_untagging_its_references() {
        assert_eq!(
            engine_item(&img_item(), &facts()),
            Verdict::Go {
                untag: vec!["app:1".into()]
            }
        );
        let mut f = facts();
        f.images.remove(0);
        assert_eq!(engine_item(&img_item(), &f), Verdict::Gone);
    }

    #[test]
    fn an_image_that_changed_is_skipped() {
        // A container was made from it.
        let mut f = facts();
        f.containers[0].image = "sha256:a".into();
        assert!(
            matches!(engine_item(&img_item(), &f), Verdict::Skip(r) if r.contains("in use by container web"))
        );
        // Its tag moved to another image (and it is left untagged).
        let mut f = facts();
        f.images[0].tags.clear();
        f.images[1].tags.push("app:1".into());
        assert!(
            matches!(engine_item(&img_item(), &f), Verdict::Skip(r) if r.contains("re-tagged: app:1 now names"))
        );
        // It gained a tag.
        let mut f = facts();
        f.images[0].tags.push("app:latest".into());
        assert!(matches!(engine_item(&img_item(), &f), Verdict::Skip(r) if r.contains("gained")));
        // A planned tag already gone (an interrupted run untagged it): still goes.
        let mut f = facts();
        f.images[0].tags.clear();
        assert_eq!(engine_item(&img_item(), &f), Verdict::Go { untag: vec![] });
        // Used after planning (the state file saw a use).
        let mut f = facts();
        f.last_used.insert("sha256:a".into(), 50);
        let mut i = img_item();
        i.last_used = Some(40);
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("newer")));
        i.last_used = Some(50);
        assert!(matches!(engine_item(&i, &f), Verdict::Go { .. }));
        // Became a parent.
        let mut f = facts();
        f.images[1].parent = Some("sha256:a".into());
        assert!(matches!(engine_item(&img_item(), &f), Verdict::Skip(r) if r.contains("parent")));
    }

    #[test]
    fn containers_that_run_or_ran_again_are_skipped() {
        let mut i = item(Kind::Container, "c");
        i.finished_at = Some(100);
        assert_eq!(engine_item(&i, &facts()), Verdict::Go { untag: vec![] });
        let mut f = facts();
        f.containers[0].active = true;
        f.containers[0].status = "running".into();
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("running")));
        let mut f = facts();
        f.containers[0].finished_at = Some(200);
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("ran again")));
        f.containers.clear();
        assert_eq!(engine_item(&i, &f), Verdict::Gone);
    }

    #[test]
    fn volumes_mounted_or_replaced_are_skipped() {
        let mut i = item(Kind::Volume, "v");
        i.created_at = Some("T1".into());
        assert_eq!(engine_item(&i, &facts()), Verdict::Go { untag: vec![] });
        let mut f = facts();
        f.containers[0].volumes.push("v".into());
        assert!(
            matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("in use by container web"))
        );
        let mut f = facts();
        f.volumes[0].created_at = "T2".into();
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("different volume")));
    }

    #[test]
    fn build_records_used_again_or_in_use_are_skipped() {
        use crate::prune::facts::BuildRecord;
        let mut i = item(Kind::BuildCache, "r");
        i.last_used = Some(10);
        let mut f = facts();
        f.build_cache.push(BuildRecord {
            id: "r".into(),
            last_used: Some(10),
            ..Default::default()
        });
        assert_eq!(engine_item(&i, &f), Verdict::Go { untag: vec![] });
        f.build_cache[0].last_used = Some(20);
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("newer")));
        f.build_cache[0].in_use = true;
        assert!(matches!(engine_item(&i, &f), Verdict::Skip(r) if r.contains("in use")));
        f.build_cache.clear();
        assert_eq!(engine_item(&i, &f), Verdict::Gone);
    }

    #[test]
    fn plans_from_another_engine_or_root_are_refused() {
        let p = Plan {
            created: "t".into(),
            engine_id: "E1".into(),
            data_root: "/var/lib/docker".into(),
            mode: "live".into(),
            items: vec![],
            shared: vec![],
            total_bytes: 0,
            kept: vec![],
            logs: vec![],
            held: vec![],
            grace_seconds: 3600,
            warnings: vec![],
        };
        assert!(same_engine(&p, "E1", "/var/lib/docker").is_ok());
        assert!(
            same_engine(&p, "E2", "/var/lib/docker")
                .unwrap_err()
                .contains("another engine")
        );
        assert!(
            same_engine(&p, "E1", "/srv/docker")
                .unwrap_err()
                .contains("data root")
        );
    }

    #[test]
    fn orphans_are_rechecked() {
        const S: i64 = 1_000_000_000;
        let mut i = item(Kind::Orphan, "/r/overlay2/x");
        i.modified_ns = Some(10 * S);
        let ok = OrphanState {
            existing: vec!["/r/overlay2/x".into()],
            modified_ns: Some(10 * S),
            ..Default::default()
        };
        let now = 10_000 * S;
        assert_eq!(
            orphan(&i, &ok, now, 3600, false),
            Verdict::Go { untag: vec![] }
        );
        let v = |st: OrphanState| orphan(&i, &st, now, 3600, true);
        assert_eq!(
            v(OrphanState {
                existing: vec![],
                ..ok.clone()
            }),
            Verdict::Gone
        );
        // A path outside the data root is not looked at: skipped as outside, never "gone".
        assert!(matches!(
            v(OrphanState {
                existing: vec![],
                outside: Some("/elsewhere/x".into()),
                ..ok.clone()
            }),
            Verdict::Skip(r) if r.contains("outside")
        ));
        for (st, want) in [
            (
                OrphanState {
                    named_by: vec!["cache-id of layer abc".into()],
                    ..ok.clone()
                },
                "gained a reference",
            ),
            (
                OrphanState {
                    outside: Some("/etc".into()),
                    ..ok.clone()
                },
                "outside",
            ),
            (
                OrphanState {
                    mount: Some("/r/overlay2/x/merged".into()),
                    ..ok.clone()
                },
                "mount point",
            ),
            (
                OrphanState {
                    modified_ns: Some(11 * S),
                    ..ok.clone()
                },
                "changed after planning",
            ),
            (
                OrphanState {
                    daemon: Some(42),
                    ..ok.clone()
                },
                "pid 42",
            ),
        ] {
            assert!(
                matches!(v(st), Verdict::Skip(r) if r.contains(want)),
                "{want}"
            );
        }
        // Within the grace period (a plan made with a shorter grace).
        assert!(
            matches!(orphan(&i, &ok, 11 * S, 3600, false), Verdict::Skip(r) if r.contains("grace"))
        );
    }

    #[test]
    fn the_grace_period_is_measured_to_the_nanosecond() {
        const S: i64 = 1_000_000_000;
        let now = 1_700_000_000 * S + 500_000_000; // half way through a second
        // --grace 0s: what changed a moment ago, in this very second, is past it (whole seconds
        // would have put `now` at the start of the second, after the change: kept).
        assert!(past_grace(Some(now - 300_000_000), now, 0));
        assert!(past_grace(Some(now - 1), now, 0));
        assert!(past_grace(Some(now), now, 0));
        // Ahead of the clock, or unknown: never past.
        assert!(!past_grace(Some(now + 1), now, 0));
        assert!(!past_grace(None, now, 0));
        // --grace 1s, at the boundary: exactly 1 s old is past it, one nanosecond younger is not.
        assert!(past_grace(Some(now - S), now, 1));
        assert!(!past_grace(Some(now - S + 1), now, 1));
        // --grace 1h.
        assert!(past_grace(Some(now - 3600 * S), now, 3600));
        assert!(!past_grace(Some(now - 3600 * S + 1), now, 3600));
        // A grace too long for the clock never overflows into "past".
        assert!(!past_grace(Some(0), now, u64::MAX));
        // The re-check before a move uses it: a change 0.3 s ago passes --grace 0s.
        let mut i = item(Kind::Orphan, "/r/overlay2/x");
        i.modified_ns = Some(now - 300_000_000);
        let st = OrphanState {
            existing: vec!["/r/overlay2/x".into()],
            modified_ns: i.modified_ns,
            ..Default::default()
        };
        assert_eq!(
            orphan(&i, &st, now, 0, false),
            Verdict::Go { untag: vec![] }
        );
        assert!(matches!(orphan(&i, &st, now, 1, false), Verdict::Skip(_)));
    }

    fn held_item(action: HeldAction) -> (Item, HeldContainer) {
        let c = HeldContainer {
            id: "c1".into(),
            name: "web".into(),
            running: true,
            started_at: "2026-12-01T10:00:00Z".into(),
            restart_policy: "always".into(),
            log_driver: "json-file".into(),
            log_path: String::new(),
        };
        let mut i: Item = serde_json::from_value(serde_json::json!({
            "kind": "held", "id": "c1", "bytes": 5, "rule": "r"
        }))
        .unwrap();
        i.held_action = Some(action);
        i.container = Some("c1".into());
        i.container_started = Some(c.started_at.clone());
        i.files = vec![HeldRef {
            pid: 10,
            pid_start: 777,
            fd: 3,
            dev: 2049,
            inode: 42,
            bytes: 5,
            path: "/big".into(),
        }];
        (i, c)
    }

    #[test]
    fn a_held_file_is_the_planned_one_only_with_the_same_process_inode_and_no_link() {
        let (i, _) = held_item(HeldAction::Truncate);
        let r = &i.files[0];
        let same = FdNow {
            pid_start: Some(777),
            dev: 2049,
            inode: 42,
            nlink: 0,
        };
        assert!(held_file(r, Some(&same), "").is_ok());
        let reused = FdNow {
            pid_start: Some(778),
            ..same
        };
        assert!(
            held_file(r, Some(&reused), "")
                .unwrap_err()
                .contains("re-used")
        );
        let gone = FdNow {
            pid_start: None,
            ..same
        };
        assert!(held_file(r, Some(&gone), "").is_err());
        let other = FdNow { inode: 43, ..same };
        assert!(
            held_file(r, Some(&other), "")
                .unwrap_err()
                .contains("another file")
        );
        let other_dev = FdNow { dev: 7, ..same };
        assert!(held_file(r, Some(&other_dev), "").is_err());
        let linked = FdNow { nlink: 1, ..same };
        assert!(
            held_file(r, Some(&linked), "")
                .unwrap_err()
                .contains("not deleted")
        );
        assert!(
            held_file(r, None, "No such file")
                .unwrap_err()
                .contains("/proc/10/fd/3: No such file")
        );
    }

    #[test]
    fn a_held_item_goes_only_while_its_container_runs_unrestarted() {
        let (i, c) = held_item(HeldAction::Truncate);
        let ok: Vec<Result<(), String>> = vec![Ok(())];
        assert!(matches!(held(&i, Some(&c), &ok), Verdict::Go { .. }));
        assert!(matches!(held(&i, None, &ok), Verdict::Skip(r) if r.contains("gone")));
        let stopped = HeldContainer {
            running: false,
            ..c.clone()
        };
        assert!(
            matches!(held(&i, Some(&stopped), &ok), Verdict::Skip(r) if r.contains("not running"))
        );
        let restarted = HeldContainer {
            started_at: "2026-12-01T11:00:00Z".into(),
            ..c.clone()
        };
        assert!(
            matches!(held(&i, Some(&restarted), &ok), Verdict::Skip(r) if r.contains("restarted"))
        );
        let other = HeldContainer {
            id: "c2".into(),
            ..c.clone()
        };
        assert!(matches!(held(&i, Some(&other), &ok), Verdict::Skip(_)));
        let bad: Vec<Result<(), String>> = vec![Err("now points at another file".into())];
        assert!(matches!(held(&i, Some(&c), &bad), Verdict::Skip(r) if r.contains("another file")));
        assert!(matches!(held(&i, Some(&c), &[]), Verdict::Skip(_)));
        // A restart goes while at least one of its files is still held as planned.
        let (mut r, c) = held_item(HeldAction::Restart);
        r.files.push(r.files[0].clone());
        let half: Vec<Result<(), String>> = vec![Err("x".into()), Ok(())];
        assert!(matches!(held(&r, Some(&c), &half), Verdict::Go { .. }));
        let none: Vec<Result<(), String>> = vec![Err("x".into()), Err("y".into())];
        assert!(matches!(held(&r, Some(&c), &none), Verdict::Skip(w) if w.contains("x; y")));
        let mut nothing = r.clone();
        nothing.held_action = None;
        assert!(matches!(held(&nothing, Some(&c), &half), Verdict::Skip(_)));
    }

    #[test]
    fn the_start_time_is_field_22_of_proc_stat_even_with_odd_names() {
        let stat = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 \
                    1000 100";
        assert_eq!(proc_start(stat), Some(987_654));
        assert_eq!(proc_start("garbage"), None);
        assert_eq!(proc_start("1 (x) S 1"), None);
    }
}
