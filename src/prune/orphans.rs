//! Orphans of the data root: what `dredge df` finds ([`from_audit`], the one narrow adapter over the
//! audit), what names them now ([`Fresh`]: the audit's own rule on a fresh read), and the file-system
//! steps: quarantine (one
//! rename, same filesystem), restore, purge. Never follows a symlink out of the data root; never acts
//! on a path with a mount point at or below it, or on another filesystem.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::PruneError;
use super::facts::OrphanFact;
use super::plan::Item;
use super::recheck::OrphanState;
use crate::audit::plan::with_engine_containers;
use crate::audit::{Audit, Orphan, OrphanKind, Recheck};
use crate::model::dataroot::{DaemonFact, QUARANTINE_DIR};
use crate::source::dataroot;

/// THE adapter: the audit's orphan list as prune facts. `modified_ns` is measured here, by the same
/// function the re-check uses, so that "unchanged since planning" compares like with like.
pub fn from_audit(a: &Audit) -> Vec<OrphanFact> {
    a.orphans
        .iter()
        .map(|o| {
            let mut paths = vec![o.path.clone()];
            paths.extend(o.also.iter().cloned());
            OrphanFact {
                path: o.path.clone(),
                also: o.also.clone(),
                kind: o.kind.as_str().to_string(),
                bytes: o.bytes,
                modified_ns: newest_mtime(&paths),
                needs_daemon_stopped: o.kind == OrphanKind::UnreferencedLayer,
            }
        })
        .collect()
}

/// Audits the data root with `dredge df`'s own call ([`crate::df::run`], on this root: while a
/// daemon runs on it, orphans are confirmed against a fresh read and what the daemon may hold is put
/// aside) and returns its orphans.
pub fn gather(root: &Path) -> Result<(Vec<OrphanFact>, Vec<String>), PruneError> {
    let r = crate::df::run(crate::df::DfOptions {
        data_root: Some(root.to_path_buf()),
        ..Default::default()
    })
    .map_err(|e| PruneError::Input(e.to_string()))?;
    Ok((from_audit(&r.audit), r.audit.warnings))
}

/// Newest modification time (ns) of the paths and everything inside, not following symlinks and not
/// crossing into other filesystems. None when none exists.
pub fn newest_mtime(paths: &[String]) -> Option<i64> {
    let mut newest: Option<i64> = None;
    for p in paths {
        let Ok(m) = std::fs::symlink_metadata(p) else {
            continue;
        };
        let dev = m.dev();
        let mut stack = vec![(PathBuf::from(p), m)];
        while let Some((path, m)) = stack.pop() {
            let t = m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec();
            newest = Some(newest.map_or(t, |n| n.max(t)));
            if m.is_dir() && m.dev() == dev {
                for e in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    if let Ok(cm) = std::fs::symlink_metadata(e.path()) {
                        stack.push((e.path(), cm));
                    }
                }
            }
        }
    }
    newest
}

/// What names things in the data root, read once for a batch of moves (after the plan, immediately
/// before the first move): the data root's metadata again (layerdb cache-ids, `mounts/*/mount-id` and
/// `init-id`, container configs, BuildKit's `buildkit/*.db`), live the containers the engine lists,
/// and whether a daemon runs on the root; decided on by the audit's own rule ([`Recheck`]: `dredge
/// df`'s plan and classify), so that the re-check and `dredge df` never disagree.
///
/// The window: a reference written after this read and before an item's rename is not seen. Each item
/// is still stat'ed just before it moves ([`inspect`]: it exists, is inside the root on its
/// filesystem, holds no mount point (`/proc/self/mountinfo` read then), and nothing in it changed
/// since planning), and the read is made again once it is [`Fresh::MAX_AGE`] old, so the window is
/// at most that long; and nothing a daemon does names an existing unnamed dir (new layers, mounts and
/// snapshots get new random names; only complete layer chains are adopted again, and those move only
/// with the daemon stopped).
pub struct Fresh {
    recheck: Recheck,
    read_at: std::time::Instant,
}

impl Fresh {
    /// How long one read stands for the moves that follow it.
    pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

    /// Reads the data root's metadata again; `engine_containers`: what the engine lists (live).
    pub fn read(
        root: &Path,
        daemon: DaemonFact,
        engine_containers: Option<&HashSet<String>>,
        now_ns: i64,
    ) -> Result<Fresh, PruneError> {
        let mut dr = dataroot::read(root).map_err(|e| PruneError::Input(e.to_string()))?;
        if let Some(ids) = engine_containers {
            with_engine_containers(&mut dr, ids);
        }
        Ok(Fresh {
            recheck: Recheck::new(&dr, daemon, now_ns),
            read_at: std::time::Instant::now(),
        })
    }

    /// True once this read is too old to stand for another move.
    pub fn stale(&self) -> bool {
        self.read_at.elapsed() > Fresh::MAX_AGE
    }

    /// What names the item now, per the audit's rule, given its paths' newest change as measured now
    /// (empty: still an orphan).
    pub fn named_by(&self, item: &Item, modified_ns: Option<i64>, now_ns: i64) -> Vec<String> {
        match as_orphan(item, modified_ns) {
            Ok(o) => self.recheck.why_not(&o, now_ns).into_iter().collect(),
            Err(e) => vec![e],
        }
    }
}

/// An orphan item of a plan as the audit's [`Orphan`], with its newest change as measured now. Pure.
pub fn as_orphan(item: &Item, modified_ns: Option<i64>) -> Result<Orphan, String> {
    let name = item.orphan_kind.as_deref().unwrap_or("");
    let kind = OrphanKind::from_name(name)
        .ok_or_else(|| format!("the plan gives no known orphan kind ({name:?})"))?;
    Ok(Orphan {
        path: item.id.clone(),
        also: item.also.clone(),
        kind,
        bytes: item.bytes,
        apparent_bytes: item.bytes,
        age_seconds: None,
        modified_ns,
    })
}

/// Mount points (unescaped) from `/proc/self/mountinfo`.
pub fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| {
            m.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\012", "\n")
                .replace("\\134", "\\")
        })
        .collect()
}

/// True when `p` is strictly below `root`, lexically clean (no `..`), and reached without a symlink
/// among its parents.
fn inside(root: &Path, p: &Path) -> bool {
    let Ok(rel) = p.strip_prefix(root) else {
        return false;
    };
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return false;
    }
    let mut cur = root.to_path_buf();
    let n = rel.components().count();
    for (i, c) in rel.components().enumerate() {
        cur.push(c);
        if i + 1 == n {
            break;
        }
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            _ => return false,
        }
    }
    true
}

/// Looks at an orphan item now (a stat of each of its paths, and of what is inside for its newest
/// change): which paths exist, where they are, when it changed. What names it is [`Fresh::named_by`].
pub fn inspect(root: &Path, item: &Item, mounts: &[String]) -> OrphanState {
    let mut st = OrphanState::default();
    let root_dev = std::fs::metadata(root).map(|m| m.dev()).ok();
    let paths: Vec<String> = std::iter::once(item.id.clone())
        .chain(item.also.iter().cloned())
        .collect();
    for p in &paths {
        let path = Path::new(p);
        if !inside(root, path) || path.starts_with(root.join(QUARANTINE_DIR)) {
            st.outside.get_or_insert(p.clone());
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(path) else {
            continue;
        };
        st.existing.push(p.clone());
        if Some(m.dev()) != root_dev {
            st.mount.get_or_insert(p.clone());
        }
        if let Some(mp) = mounts.iter().find(|mp| Path::new(mp).starts_with(path)) {
            st.mount.get_or_insert(mp.clone());
        }
    }
    st.modified_ns = newest_mtime(&paths);
    st
}

/// Where a path goes in quarantine: `<root>/dredge-quarantine/<run>/<seq>-<rel>`, its relative path
/// flattened (`/` → `%`); `seq` keeps targets of one run apart.
pub fn quarantine_target(root: &Path, run: &str, seq: &str, path: &Path) -> PathBuf {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let flat = rel.to_string_lossy().replace('/', "%");
    root.join(QUARANTINE_DIR)
        .join(run)
        .join(format!("{seq}-{flat}"))
}

/// Makes the run's quarantine dir, checking it is a real dir on the data root's filesystem.
pub fn prepare_quarantine(root: &Path, run: &str) -> Result<PathBuf, String> {
    let q = root.join(QUARANTINE_DIR);
    let dir = q.join(run);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let rd = std::fs::metadata(root).map_err(|e| e.to_string())?.dev();
    for p in [&q, &dir] {
        let m = std::fs::symlink_metadata(p).map_err(|e| e.to_string())?;
        if !m.is_dir() || m.dev() != rd {
            return Err(format!(
                "{} is not a directory on the data root's filesystem",
                p.display()
            ));
        }
    }
    Ok(dir)
}

/// One atomic rename that never replaces what is at `to`.
pub fn rename_noreplace(from: &Path, to: &Path) -> Result<(), String> {
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(|e| {
        if e == rustix::io::Errno::EXIST || e == rustix::io::Errno::NOTEMPTY {
            format!("{} exists: its name is in use again", to.display())
        } else {
            format!("cannot rename {} to {}: {e}", from.display(), to.display())
        }
    })
}

/// The run dirs in quarantine with their age in seconds (from the dir's mtime: the last rename in).
pub fn quarantined_runs(root: &Path, now: i64) -> Vec<(PathBuf, i64)> {
    let mut v: Vec<(PathBuf, i64)> = std::fs::read_dir(root.join(QUARANTINE_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            m.is_dir().then(|| (e.path(), now - m.mtime()))
        })
        .collect();
    v.sort();
    v
}

/// Deletes a quarantined run dir for good, refusing a symlink, another filesystem or a mount below.
pub fn purge(root: &Path, dir: &Path, mounts: &[String]) -> Result<u64, String> {
    if !inside(root, dir) || !dir.starts_with(root.join(QUARANTINE_DIR)) {
        return Err(format!("{} is not in the quarantine", dir.display()));
    }
    let m = std::fs::symlink_metadata(dir).map_err(|e| e.to_string())?;
    let rd = std::fs::metadata(root).map_err(|e| e.to_string())?.dev();
    if !m.is_dir() || m.dev() != rd {
        return Err(format!(
            "{} is not a dir on the data root's filesystem",
            dir.display()
        ));
    }
    if let Some(mp) = mounts.iter().find(|mp| Path::new(mp).starts_with(dir)) {
        return Err(format!("{mp} is a mount point"));
    }
    let bytes = allocated(dir);
    std::fs::remove_dir_all(dir).map_err(|e| format!("cannot delete {}: {e}", dir.display()))?;
    Ok(bytes)
}

/// Allocated bytes under a path (not following symlinks, one filesystem; hard links once).
pub fn allocated(p: &Path) -> u64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    let dev = m.dev();
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![(p.to_path_buf(), m)];
    while let Some((path, m)) = stack.pop() {
        if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
            continue;
        }
        total += m.blocks() * 512;
        if m.is_dir() && m.dev() == dev {
            for e in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                if let Ok(cm) = std::fs::symlink_metadata(e.path()) {
                    stack.push((e.path(), cm));
                }
            }
        }
    }
    total
}

/// A dockerd on this data root: its process, the engine answering on `DOCKER_HOST` with this data
/// root, or overlay mounts of running containers (live-restore). The reason, if any.
pub fn daemon_on(root: &Path, mounts: &[String]) -> Option<String> {
    if let DaemonFact::Running { pid, evidence, .. } = dataroot::daemon_on(root) {
        return Some(format!(
            "a dockerd{} runs on {} (found by {evidence:?})",
            pid.map_or(String::new(), |p| format!(" (pid {p})")),
            root.display()
        ));
    }
    let overlay = root.join("overlay2");
    if let Some(m) = mounts.iter().find(|m| Path::new(m).starts_with(&overlay)) {
        return Some(format!(
            "{m} is mounted: a container runs on {} (live-restore?)",
            root.display()
        ));
    }
    if let Ok(e) = super::engine::Engine::connect()
        && let Ok(id) = e.identity()
        && std::fs::canonicalize(&id.root).ok() == std::fs::canonicalize(root).ok()
    {
        return Some(format!(
            "the engine at {} answers with data root {}",
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into()),
            id.root
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::Kind;

    fn orphan(path: &str, also: &[&str]) -> Item {
        let mut i: Item = serde_json::from_value(serde_json::json!({
            "kind": Kind::Orphan, "id": path, "bytes": 1, "rule": "r"
        }))
        .unwrap();
        i.also = also.iter().map(|s| s.to_string()).collect();
        i
    }

    #[test]
    fn a_planned_orphan_is_asked_about_as_the_audit_knows_it() {
        let mut i = orphan("/r/overlay2/x", &["/r/image/overlay2/layerdb/sha256/c"]);
        i.orphan_kind = Some("unreferenced-layer".into());
        let o = as_orphan(&i, Some(5)).unwrap();
        assert_eq!(o.kind, OrphanKind::UnreferencedLayer);
        assert_eq!(
            (o.path.as_str(), o.also.len(), o.modified_ns),
            ("/r/overlay2/x", 1, Some(5))
        );
        // A hand-edited kind is no orphan: said, never guessed.
        i.orphan_kind = Some("everything".into());
        assert!(as_orphan(&i, None).unwrap_err().contains("\"everything\""));
        i.orphan_kind = None;
        assert!(as_orphan(&i, None).is_err());
    }

    /// The fresh read on a real directory: what the audit's rule says of a data root made by hand.
    #[test]
    fn a_fresh_read_names_what_gained_a_reference() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let free = "a".repeat(64);
        for p in [
            "image/overlay2/layerdb/sha256",
            "image/overlay2/imagedb/content/sha256",
        ] {
            std::fs::create_dir_all(root.join(p)).unwrap();
        }
        std::fs::create_dir_all(root.join("overlay2").join(&free).join("diff")).unwrap();
        let mut item = orphan(
            &root.join("overlay2").join(&free).display().to_string(),
            &[],
        );
        item.orphan_kind = Some("unreferenced-dir".into());
        let f = Fresh::read(root, DaemonFact::NotFound, None, 0).unwrap();
        assert!(f.named_by(&item, Some(0), 0).is_empty());
        assert!(!f.stale());
        // A layer record now names the dir.
        let rec = root
            .join("image/overlay2/layerdb/sha256")
            .join("c".repeat(64));
        std::fs::create_dir(&rec).unwrap();
        std::fs::write(rec.join("cache-id"), &free).unwrap();
        std::fs::write(rec.join("diff"), format!("sha256:{}", "c".repeat(64))).unwrap();
        let f = Fresh::read(root, DaemonFact::NotFound, None, 0).unwrap();
        let n = f.named_by(&item, Some(0), 0);
        assert!(n[0].contains("unreferenced-layer"), "{n:?}");
        // BuildKit's database names it.
        std::fs::remove_dir_all(&rec).unwrap();
        std::fs::create_dir(root.join("buildkit")).unwrap();
        std::fs::write(root.join("buildkit/snapshots.db"), format!("\0k{free}\0")).unwrap();
        let f = Fresh::read(root, DaemonFact::NotFound, None, 0).unwrap();
        let n = f.named_by(&item, Some(0), 0);
        assert!(n[0].contains("BuildKit"), "{n:?}");
    }

    #[test]
    fn paths_must_be_strictly_inside_and_not_through_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("overlay2/x")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("overlay2/link")).unwrap();
        assert!(inside(root, &root.join("overlay2/x")));
        assert!(!inside(root, root));
        assert!(!inside(root, &root.join("overlay2/../../etc")));
        assert!(!inside(root, Path::new("/etc/passwd")));
        assert!(!inside(root, &root.join("overlay2/link/passwd")));
        // A symlink itself is inside (renaming it moves the link, not its target).
        assert!(inside(root, &root.join("overlay2/link")));
    }

    #[test]
    fn quarantine_rename_and_restore_never_replace() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("overlay2/x/diff")).unwrap();
        std::fs::write(root.join("overlay2/x/diff/f"), b"data").unwrap();
        let from = root.join("overlay2/x");
        let q = prepare_quarantine(root, "run1").unwrap();
        let to = quarantine_target(root, "run1", "3.0", &from);
        assert_eq!(to, q.join("3.0-overlay2%x"));
        rename_noreplace(&from, &to).unwrap();
        assert!(!from.exists() && to.join("diff/f").exists());
        // The name came back: restore refuses.
        std::fs::create_dir(&from).unwrap();
        let e = rename_noreplace(&to, &from).unwrap_err();
        assert!(e.contains("in use again"), "{e}");
        std::fs::remove_dir(&from).unwrap();
        rename_noreplace(&to, &from).unwrap();
        assert_eq!(std::fs::read(from.join("diff/f")).unwrap(), b"data");
        // Purge takes only quarantine dirs.
        assert!(purge(root, &from, &[]).is_err());
        assert!(purge(root, &q, &[]).is_ok());
        assert!(!q.exists());
    }
}
