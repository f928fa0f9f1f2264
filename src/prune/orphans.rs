//! Orphans of the data root: what `dredge df` finds ([`from_audit`], the one narrow adapter over the
//! audit), what names them now ([`Refs`], [`named_by`]), and the file-system steps: quarantine (one
//! rename, same filesystem), restore, purge. Never follows a symlink out of the data root; never acts
//! on a path with a mount point at or below it, or on another filesystem.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::PruneError;
use super::facts::OrphanFact;
use super::plan::Item;
use super::recheck::OrphanState;
use crate::audit::{Audit, OrphanKind};
use crate::model::dataroot::DaemonFact;
use crate::model::dataroot::QUARANTINE_DIR;
use crate::model::dataroot::{ConfigState, DataRoot, Unknowns, is_buildkit_key};
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

/// What names things in the data root now.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    /// overlay2 dir name → (the record that names it, relative to the data root; what it is).
    pub dirs: HashMap<String, (String, String)>,
    /// Chains an image or a container mount reaches (with their parents).
    pub live_chains: HashSet<String>,
    /// Containers whose `config.v2.json` the engine loads.
    pub known_containers: HashSet<String>,
    /// Raw bytes of `buildkit/*.db` (bbolt keeps keys and values uncompressed).
    pub buildkit: Vec<(String, Vec<u8>)>,
    /// What the metadata could not say (each widens what counts as referenced).
    pub unknowns: Unknowns,
    /// Paths (relative to the data root) whose metadata contradicts itself: never touched.
    pub inconsistent: Vec<String>,
}

impl Refs {
    /// From a fresh read of the data root's metadata.
    pub fn read(root: &Path) -> Result<Refs, PruneError> {
        let dr = dataroot::read(root).map_err(|e| PruneError::Input(e.to_string()))?;
        let mut r = Refs::from_dataroot(&dr);
        if let Ok(rd) = std::fs::read_dir(root.join("buildkit")) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "db") {
                    let bytes = std::fs::read(&p).map_err(|err| {
                        PruneError::Input(format!(
                            "{}: {err}: cannot tell what BuildKit uses",
                            p.display()
                        ))
                    })?;
                    r.buildkit.push((
                        format!("buildkit/{}", e.file_name().to_string_lossy()),
                        bytes,
                    ));
                }
            }
        }
        Ok(r)
    }

    /// The references a data root's metadata makes. Pure.
    pub fn from_dataroot(dr: &DataRoot) -> Refs {
        let mut r = Refs::default();
        for (chain, l) in &dr.layers {
            if let Some(c) = &l.cache_id {
                r.dirs.insert(
                    c.clone(),
                    (
                        format!("image/overlay2/layerdb/sha256/{chain}"),
                        format!("the cache-id of layer {chain}"),
                    ),
                );
            }
        }
        for m in &dr.mounts {
            for id in m.mount_id.iter().chain(m.init_id.iter()) {
                r.dirs.insert(
                    id.clone(),
                    (
                        format!("image/overlay2/layerdb/mounts/{}", m.id),
                        format!("a mount-id of container mount {}", m.id),
                    ),
                );
            }
        }
        let mut stack: Vec<String> = dr
            .images
            .iter()
            .flat_map(|i| i.chain.iter().cloned())
            .chain(dr.mounts.iter().filter_map(|m| m.parent.clone()))
            .collect();
        while let Some(c) = stack.pop() {
            if r.live_chains.insert(c.clone())
                && let Some(p) = dr.layers.get(&c).and_then(|l| l.parent.clone())
            {
                stack.push(p);
            }
        }
        // A config that is there but unreadable describes a container too.
        r.known_containers = dr
            .containers
            .iter()
            .filter(|c| c.known || c.config != ConfigState::Missing)
            .map(|c| c.id.clone())
            .collect();
        r.unknowns = dr.unknowns;
        r.inconsistent = dr
            .inconsistent
            .iter()
            .map(|i| {
                Path::new(&i.path)
                    .strip_prefix(&dr.path)
                    .unwrap_or(Path::new(&i.path))
                    .display()
                    .to_string()
            })
            .collect();
        r
    }

    fn buildkit_names(&self, name: &str) -> Option<String> {
        let f = memchr::memmem::Finder::new(name.as_bytes());
        self.buildkit
            .iter()
            .find(|(_, b)| f.find(b).is_some())
            .map(|(n, _)| format!("{n} names {name}"))
    }
}

/// What names any path of an orphan item now (its own records excepted). Pure.
pub fn named_by(root: &Path, item: &Item, refs: &Refs) -> Vec<String> {
    let own: HashSet<PathBuf> = std::iter::once(&item.id)
        .chain(&item.also)
        .map(|p| {
            Path::new(p)
                .strip_prefix(root)
                .unwrap_or(Path::new(p))
                .to_path_buf()
        })
        .collect();
    let mut found = Vec::new();
    for rel in &own {
        if let Some(i) = refs
            .inconsistent
            .iter()
            .find(|i| rel.starts_with(i) || Path::new(i).starts_with(rel))
        {
            found.push(format!("metadata in doubt at {i}"));
        }
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        match parts.as_slice() {
            ["overlay2", name] => {
                if refs.unknowns.dir_refs {
                    found.push(
                        "some cache-id or mount-id is unreadable: any dir may be named".into(),
                    );
                }
                if let Some((record, what)) = refs.dirs.get(*name)
                    && !own.contains(Path::new(record))
                {
                    found.push(what.clone());
                }
                if is_buildkit_key(name.trim_end_matches("-init")) {
                    found.push(format!("{name} is a BuildKit snapshot key"));
                }
                found.extend(refs.buildkit_names(name));
            }
            ["image", "overlay2", "layerdb", "sha256", chain] if !chain.ends_with("-removing") => {
                if refs.unknowns.chain_refs {
                    found.push("some image config is unreadable: any chain may be live".into());
                }
                if refs.live_chains.contains(*chain) {
                    found.push(format!(
                        "layer {chain} is reached by an image or a container"
                    ));
                }
                found.extend(refs.buildkit_names(chain));
            }
            ["image", "overlay2", "layerdb", "mounts", id] | ["containers", id] => {
                if refs.unknowns.containers {
                    found.push(
                        "containers/ cannot be listed: any mount may be a container's".into(),
                    );
                }
                if refs.known_containers.contains(*id) {
                    found.push(format!("container {id} exists"));
                }
                found.extend(refs.buildkit_names(id));
            }
            _ => {}
        }
    }
    found
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

/// Looks at an orphan item now: which paths exist, where they are, what names them, when it changed.
pub fn inspect(root: &Path, item: &Item, refs: &Refs, mounts: &[String]) -> OrphanState {
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
    st.named_by = named_by(root, item, refs);
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
    use crate::model::dataroot::{ContainerRecord, Driver, ImageRecord, LayerRecord, MountRecord};
    use crate::prune::Kind;

    fn dr() -> DataRoot {
        let mut layers = std::collections::BTreeMap::new();
        for (c, cache, parent) in [
            ("c0", "d0", None),
            ("c1", "d1", Some("c0")),
            ("cx", "dx", None),
        ] {
            layers.insert(
                c.to_string(),
                LayerRecord {
                    chain_id: c.into(),
                    diff_id: None,
                    parent: parent.map(String::from),
                    cache_id: Some(cache.into()),
                    size: None,
                    complete: true,
                },
            );
        }
        DataRoot {
            path: "/r".into(),
            driver: Driver::Overlay2,
            images: vec![ImageRecord {
                id: "sha256:i".into(),
                tags: vec![],
                chain: vec!["c1".into()],
                parent: None,
            }],
            layers,
            mounts: vec![MountRecord {
                id: "k".into(),
                mount_id: Some("m".into()),
                init_id: Some("m-init".into()),
                parent: Some("c0".into()),
            }],
            containers: vec![ContainerRecord {
                id: "k".into(),
                name: None,
                image: None,
                running: false,
                log_driver: None,
                volumes: vec![],
                known: true,
                config: ConfigState::Read,
            }],
            ..Default::default()
        }
    }
    fn orphan(path: &str, also: &[&str]) -> Item {
        let mut i: Item = serde_json::from_value(serde_json::json!({
            "kind": Kind::Orphan, "id": path, "bytes": 1, "rule": "r"
        }))
        .unwrap();
        i.also = also.iter().map(|s| s.to_string()).collect();
        i
    }

    #[test]
    fn what_names_an_orphan() {
        let mut refs = Refs::from_dataroot(&dr());
        let root = Path::new("/r");
        assert!(refs.live_chains.contains("c0") && refs.live_chains.contains("c1"));
        assert!(!refs.live_chains.contains("cx"));
        // An unreferenced dir nothing names.
        assert!(named_by(root, &orphan("/r/overlay2/free", &[]), &refs).is_empty());
        // A dir a live layer names.
        let n = named_by(root, &orphan("/r/overlay2/d1", &[]), &refs);
        assert!(n[0].contains("cache-id of layer c1"), "{n:?}");
        // An unreferenced chain with its own dir: its own record does not count.
        let own = orphan("/r/overlay2/dx", &["/r/image/overlay2/layerdb/sha256/cx"]);
        assert!(named_by(root, &own, &refs).is_empty());
        // A container's mount dirs, and the container.
        let n = named_by(root, &orphan("/r/overlay2/m-init", &[]), &refs);
        assert!(n[0].contains("mount k"), "{n:?}");
        let n = named_by(root, &orphan("/r/containers/k", &[]), &refs);
        assert!(n[0].contains("container k exists"), "{n:?}");
        // BuildKit: by key shape, and by name in its db.
        let n = named_by(
            root,
            &orphan("/r/overlay2/0t8qkhpx2mwvp1ifzcfbm3qbg", &[]),
            &refs,
        );
        assert!(n[0].contains("BuildKit"), "{n:?}");
        refs.buildkit
            .push(("buildkit/snapshots.db".into(), b"\0\x01free\0".to_vec()));
        let n = named_by(root, &orphan("/r/overlay2/free", &[]), &refs);
        assert!(n[0].contains("snapshots.db names free"), "{n:?}");
    }

    #[test]
    fn unknown_or_inconsistent_metadata_names_everything_it_could() {
        let root = Path::new("/r");
        let mut d = dr();
        d.unknowns.dir_refs = true;
        let refs = Refs::from_dataroot(&d);
        let n = named_by(root, &orphan("/r/overlay2/free", &[]), &refs);
        assert!(n[0].contains("unreadable"), "{n:?}");
        let mut d = dr();
        d.inconsistent.push(crate::model::dataroot::Inconsistency {
            path: "/r/overlay2/free".into(),
            detail: "x".into(),
        });
        let refs = Refs::from_dataroot(&d);
        let n = named_by(root, &orphan("/r/overlay2/free", &[]), &refs);
        assert!(n[0].contains("in doubt"), "{n:?}");
        // An unreadable config is a container too.
        let mut d = dr();
        d.containers[0].known = false;
        d.containers[0].config = ConfigState::Unreadable;
        let refs = Refs::from_dataroot(&d);
        assert!(!named_by(root, &orphan("/r/containers/k", &[]), &refs).is_empty());
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
