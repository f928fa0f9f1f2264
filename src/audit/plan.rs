//! Who owns each directory of the data root: a pure function of the metadata and listings gathered by
//! `source::dataroot` and of whether a daemon runs on the root. Nothing here touches the filesystem.
//!
//! The rules (docs: data root §7, §12):
//! - A chain is live when an image's chain or a mount's parent reaches it through parent links; its
//!   overlay2 dir is the image's. A chain or dir BuildKit names (25-char base-36 keys, names in
//!   `buildkit/*.db`) is build cache.
//! - An unreferenced chain is an orphan only with no daemon on the root: a running daemon holds every
//!   complete layerdb record in its layer store and re-uses it (`held_by_daemon`). Likewise a mount
//!   whose container is gone.
//! - A reference that cannot be read protects everything it could mean: an unknown cache-id, mount-id
//!   or init-id keeps every unnamed overlay2 dir; an unreadable image config or BuildKit database keeps
//!   every chain; a container whose `config.v2.json` is there but unreadable keeps its dir and mount.
//!   What is kept this way is counted under "other" and listed as inconsistent, never as an orphan.
//! - `dredge-quarantine/` (a dir) is the quarantine of `dredge prune`: its own category, never an
//!   orphan; each run dir in it is measured apart, nothing deeper is looked at.
//! - `-removing` records, `layerdb/tmp`, `tmp/`, `tmp-old` and container dirs without a config are
//!   orphans; an unnamed overlay2 dir is one too (while a daemon runs, only once its age is checked:
//!   see `classify`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::types::{Orphan, OrphanKind};
use crate::model::dataroot::{
    ConfigState, DaemonFact, DataRoot, Inconsistency, QUARANTINE_DIR, is_buildkit_key,
};

/// Who owns a measured directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    Layer(String),
    ImageMeta,
    Writable(String),
    ContainerDir(String),
    Volume(String),
    Build(String),
    /// An orphan candidate, by index into [`Plan::candidates`].
    Orphan(usize),
    /// Kept because metadata is in doubt (counted as "other").
    Kept,
    /// `dredge-quarantine/`: what `dredge prune` moved aside (its own category). `Some(i)`: the run dir
    /// `listing.quarantine[i]`; `None`: the dir itself and any stray in it.
    Quarantine(Option<usize>),
    Other(String),
}

impl Owner {
    /// What owning a path means, in words (why a path it owns is not an orphan).
    pub(crate) fn describe(&self) -> String {
        match self {
            Owner::Layer(c) => {
                format!("the cache-id of layer {c}, which an image or a container reaches")
            }
            Owner::ImageMeta => "the image store's metadata".into(),
            Owner::Writable(c) => format!("a mount-id of container {c}'s layer"),
            Owner::ContainerDir(c) => format!("container {c} exists"),
            Owner::Volume(v) => format!("volume {v}"),
            Owner::Build(what) => format!("BuildKit's {what}"),
            Owner::Orphan(_) => "another orphan".into(),
            Owner::Kept => {
                "kept: metadata in doubt may name it, or the engine lists its container".into()
            }
            Owner::Quarantine(_) => "the quarantine".into(),
            Owner::Other(what) => format!("not an orphan: {what}"),
        }
    }
}

/// Containers the engine lists (its API, asked live) count as known, whatever their files say: the
/// engine may have one in memory before its `config.v2.json` is written. One not in `dr` yet is added
/// without a config (then its mount and, once made, its dir are kept). Pure.
pub(crate) fn with_engine_containers(dr: &mut DataRoot, ids: &HashSet<String>) {
    for c in &mut dr.containers {
        if ids.contains(&c.id) {
            c.known = true;
        }
    }
    let have: HashSet<String> = dr.containers.iter().map(|c| c.id.clone()).collect();
    let mut new: Vec<&String> = ids.iter().filter(|i| !have.contains(*i)).collect();
    new.sort();
    for id in new {
        dr.containers.push(crate::model::dataroot::ContainerRecord {
            id: id.clone(),
            name: None,
            image: None,
            running: false,
            started_at: None,
            finished_at: None,
            log_driver: None,
            volumes: Vec::new(),
            known: true,
            config: ConfigState::Missing,
        });
    }
}

/// Which part of a unit is measured separately (a layer's `diff/`, a container's logs, a volume's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    None,
    Diff,
    Logs,
    VolumeData,
}

/// One directory (or file) to measure, and who gets its bytes.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub path: PathBuf,
    pub owner: Owner,
    pub part: Part,
}

/// What the candidate would be if confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// An orphan (subject to `classify` while a daemon runs).
    Orphan,
    /// Held by the running daemon.
    Held,
}

/// An orphan or held-by-daemon candidate: its paths (main first) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub paths: Vec<PathBuf>,
    pub kind: OrphanKind,
    pub verdict: Verdict,
}

impl Candidate {
    /// The candidate as an [`Orphan`], with its measured sizes and times.
    pub fn orphan(
        &self,
        (bytes, apparent_bytes): (u64, u64),
        age_seconds: Option<u64>,
        modified_ns: Option<i64>,
    ) -> Orphan {
        Orphan {
            path: self.paths[0].display().to_string(),
            also: self.paths[1..]
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            kind: self.kind,
            bytes,
            apparent_bytes,
            age_seconds,
            modified_ns,
        }
    }
}

/// The ownership of every measured path.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub units: Vec<Unit>,
    pub candidates: Vec<Candidate>,
    /// Paths kept because of doubtful metadata, beyond what the reader recorded.
    pub inconsistent: Vec<Inconsistency>,
}

impl Plan {
    /// Adds a candidate; its paths that exist (`exists`) are measured for it.
    fn candidate(&mut self, kind: OrphanKind, verdict: Verdict, paths: Vec<(PathBuf, bool)>) {
        let idx = self.candidates.len();
        for (p, exists) in &paths {
            if *exists {
                self.units.push(Unit {
                    path: p.clone(),
                    owner: Owner::Orphan(idx),
                    part: Part::None,
                });
            }
        }
        self.candidates.push(Candidate {
            paths: paths.into_iter().map(|(p, _)| p).collect(),
            kind,
            verdict,
        });
    }
    fn add(&mut self, path: PathBuf, owner: Owner, part: Part) {
        self.units.push(Unit { path, owner, part });
    }
    fn keep(&mut self, path: PathBuf, detail: &str) {
        self.inconsistent.push(Inconsistency {
            path: path.display().to_string(),
            detail: detail.into(),
        });
        self.add(path, Owner::Kept, Part::None);
    }
}

/// Chains reachable from `starts` through parent links.
pub(crate) fn closure<'a>(
    dr: &DataRoot,
    starts: impl Iterator<Item = &'a String>,
) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut stack: Vec<String> = starts.cloned().collect();
    while let Some(c) = stack.pop() {
        if !seen.insert(c.clone()) {
            continue;
        }
        if let Some(p) = dr.layers.get(&c).and_then(|l| l.parent.clone()) {
            stack.push(p);
        }
    }
    seen
}

/// Top-level entries given their own treatment.
const CLAIMED: &[&str] = &[
    "image",
    "overlay2",
    "containers",
    "volumes",
    "buildkit",
    "tmp",
];

/// Decides who owns each directory of the data root.
pub(crate) fn plan(dr: &DataRoot, daemon: DaemonFact) -> Plan {
    let root = &dr.path;
    let store = root.join("image/overlay2");
    let overlay = root.join("overlay2");
    let listing = &dr.listing;
    let dirs: HashSet<&str> = listing.overlay2.iter().map(String::as_str).collect();
    let mut p = Plan::default();
    let bk = &listing.buildkit_names;
    let buildkit_owns = |name: &str| is_buildkit_key(name) || bk.contains(name);
    let running = daemon.running();

    // Live chains: image chains and container mount parents, with their ancestors.
    let starts: Vec<String> = dr
        .images
        .iter()
        .flat_map(|i| i.chain.iter().cloned())
        .chain(dr.mounts.iter().filter_map(|m| m.parent.clone()))
        .collect();
    let live = closure(dr, starts.iter());

    let mut dir_owner: HashMap<String, Owner> = HashMap::new();
    for (chain, l) in &dr.layers {
        let Some(cache) = &l.cache_id else { continue };
        let record = store.join("layerdb/sha256").join(chain);
        let paths = vec![
            (overlay.join(cache), dirs.contains(cache.as_str())),
            (record, true),
        ];
        if live.contains(chain) {
            dir_owner.insert(cache.clone(), Owner::Layer(chain.clone()));
        } else if buildkit_owns(cache) || buildkit_owns(chain) {
            dir_owner.insert(cache.clone(), Owner::Build(format!("layer {chain}")));
        } else if dr.unknowns.chain_refs {
            // An image config (or BuildKit database) could not be read: this chain may be its.
            dir_owner.insert(cache.clone(), Owner::Kept);
            p.inconsistent.push(Inconsistency {
                path: overlay.join(cache).display().to_string(),
                detail: format!(
                    "layer {chain}: no readable image reaches it, but some image config or BuildKit \
                     database is unreadable: kept"
                ),
            });
        } else {
            dir_owner.insert(cache.clone(), Owner::Orphan(p.candidates.len()));
            // A complete record is in the running daemon's layer store; an incomplete one may be
            // being written or repaired: while it runs, neither is an orphan.
            let verdict = if running {
                Verdict::Held
            } else {
                Verdict::Orphan
            };
            p.candidate(OrphanKind::UnreferencedLayer, verdict, paths);
        }
    }
    // Containers the engine knows, and those whose config is there but unreadable (kept).
    let known: HashSet<&str> = dr
        .containers
        .iter()
        .filter(|c| c.known)
        .map(|c| c.id.as_str())
        .collect();
    let doubtful: HashSet<&str> = dr
        .containers
        .iter()
        .filter(|c| c.config == ConfigState::Unreadable)
        .map(|c| c.id.as_str())
        .collect();
    for m in &dr.mounts {
        let ids: Vec<&String> = m.mount_id.iter().chain(m.init_id.iter()).collect();
        if buildkit_owns(&m.id) {
            for id in ids {
                dir_owner.insert(id.clone(), Owner::Build(format!("mount {}", m.id)));
            }
        } else if known.contains(m.id.as_str()) {
            for id in ids {
                dir_owner.insert(id.clone(), Owner::Writable(m.id.clone()));
            }
        } else if doubtful.contains(m.id.as_str()) || dr.unknowns.containers {
            for id in ids {
                dir_owner.insert(id.clone(), Owner::Kept);
            }
            p.keep(
                store.join("layerdb/mounts").join(&m.id),
                "mount of a container whose config.v2.json is unreadable: kept",
            );
        } else {
            let mut paths: Vec<(PathBuf, bool)> = ids
                .iter()
                .map(|id| (overlay.join(id), dirs.contains(id.as_str())))
                .collect();
            paths.push((store.join("layerdb/mounts").join(&m.id), true));
            for id in ids {
                dir_owner.insert(id.clone(), Owner::Orphan(p.candidates.len()));
            }
            let verdict = if running {
                Verdict::Held
            } else {
                Verdict::Orphan
            };
            p.candidate(OrphanKind::UnreferencedMount, verdict, paths);
        }
    }
    // Layer removals that did not finish: the dir the record's `cache-id` names, if still there and
    // named by nothing else, is reported with the record, as one orphan.
    let layerdb = store.join("layerdb/sha256");
    for (name, cache) in &listing.removing {
        let record = layerdb.join(name);
        let dir = cache.as_ref().filter(|c| {
            !dir_owner.contains_key(*c) && !buildkit_owns(c) && dirs.contains(c.as_str())
        });
        match dir {
            Some(c) => {
                dir_owner.insert(c.clone(), Owner::Orphan(p.candidates.len()));
                p.candidate(
                    OrphanKind::RemovingLayer,
                    Verdict::Orphan,
                    vec![(overlay.join(c), true), (record, true)],
                );
            }
            None => p.candidate(
                OrphanKind::RemovingLayer,
                Verdict::Orphan,
                vec![(record, true)],
            ),
        }
    }
    for name in &listing.overlay2 {
        let path = overlay.join(name);
        match dir_owner.get(name) {
            Some(Owner::Orphan(_)) => {} // already planned with its record
            Some(Owner::Layer(c)) => p.add(path, Owner::Layer(c.clone()), Part::Diff),
            // The init layer's few stubs are not part of `SizeRw`: measured whole, not as diff.
            Some(Owner::Writable(c)) if name.ends_with("-init") => {
                p.add(path, Owner::Writable(c.clone()), Part::None)
            }
            Some(Owner::Writable(c)) => p.add(path, Owner::Writable(c.clone()), Part::Diff),
            Some(o) => p.add(path, o.clone(), Part::None),
            None if name == "l" => p.add(path, Owner::Other("overlay2/l".into()), Part::None),
            None if buildkit_owns(name) => {
                p.add(path, Owner::Build(format!("snapshot {name}")), Part::None)
            }
            None if dr.unknowns.dir_refs => p.keep(
                path,
                "no record names it, but some cache-id, mount-id or init-id is unknown: \
                 inconsistent metadata, kept",
            ),
            None => p.candidate(
                OrphanKind::UnreferencedDir,
                Verdict::Orphan,
                vec![(path, true)],
            ),
        }
    }
    for name in &listing.layerdb_tmp {
        p.candidate(
            OrphanKind::LayerdbTmp,
            Verdict::Orphan,
            vec![(store.join("layerdb/tmp").join(name), true)],
        );
    }
    for name in &listing.tmp {
        p.candidate(
            OrphanKind::Tmp,
            Verdict::Orphan,
            vec![(root.join("tmp").join(name), true)],
        );
    }
    for c in &dr.containers {
        let path = root.join("containers").join(&c.id);
        match c.config {
            ConfigState::Read => p.add(path, Owner::ContainerDir(c.id.clone()), Part::Logs),
            // Recorded as inconsistent by the reader.
            ConfigState::Unreadable => p.add(path, Owner::Kept, Part::None),
            // The engine lists it (prune's re-check asks): a container being created or one whose
            // config went missing, never an orphan.
            ConfigState::Missing if c.known => p.keep(
                path,
                "the engine lists this container, but its config.v2.json is missing: kept",
            ),
            ConfigState::Missing => p.candidate(
                OrphanKind::UnknownContainerDir,
                Verdict::Orphan,
                vec![(path, true)],
            ),
        }
    }
    for v in &dr.volumes {
        p.add(
            root.join("volumes").join(&v.name),
            Owner::Volume(v.name.clone()),
            Part::VolumeData,
        );
    }
    if listing.top.iter().any(|(n, d)| n == "image" && *d) {
        p.add(root.join("image"), Owner::ImageMeta, Part::None);
    }
    if dr.buildkit {
        p.add(
            root.join("buildkit"),
            Owner::Build("buildkit/".into()),
            Part::None,
        );
    }
    for (name, is_dir) in &listing.top {
        if CLAIMED.contains(&name.as_str()) {
            continue;
        }
        if name == QUARANTINE_DIR && *is_dir {
            // Orphans prune moved aside: restorable, so never an orphan again, and theirs alone. Each
            // run dir is measured apart (what `--purge-quarantine` deletes run by run).
            let q = root.join(name);
            for (i, r) in listing.quarantine.iter().enumerate() {
                p.add(q.join(&r.run), Owner::Quarantine(Some(i)), Part::None);
            }
            p.add(q, Owner::Quarantine(None), Part::None);
        } else if name == "tmp-old" {
            p.candidate(
                OrphanKind::Tmp,
                Verdict::Orphan,
                vec![(root.join(name), true)],
            );
        } else {
            p.add(root.join(name), Owner::Other(name.clone()), Part::None);
        }
    }
    // Whatever is left (the top directories themselves, `volumes/metadata.db`, strays) is "other".
    p.add(root.clone(), Owner::Other("(rest)".into()), Part::None);
    p
}

/// A data root in memory for the tests of the audit's rules (here and in `confirm`).
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;
    use crate::model::dataroot::{
        ContainerRecord, DaemonEvidence, ImageRecord, LayerRecord, MountRecord,
    };

    pub(crate) fn hex(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    pub(crate) const RUNNING: DaemonFact = DaemonFact::Running {
        pid: Some(1),
        started_ns: Some(0),
        evidence: DaemonEvidence::Process,
    };

    pub(crate) fn layer(chain: &str, cache: &str, parent: Option<&str>) -> LayerRecord {
        LayerRecord {
            chain_id: chain.into(),
            diff_id: Some(format!("sha256:{chain}")),
            parent: parent.map(String::from),
            cache_id: Some(cache.into()),
            size: Some(1),
            complete: true,
        }
    }

    pub(crate) fn container(id: &str, config: ConfigState) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: None,
            image: None,
            running: false,
            started_at: None,
            finished_at: None,
            log_driver: None,
            volumes: vec![],
            known: config == ConfigState::Read,
            config,
        }
    }

    pub(crate) fn mount(id: &str, rw: &str, parent: Option<&str>) -> MountRecord {
        MountRecord {
            id: id.into(),
            mount_id: Some(rw.into()),
            init_id: Some(format!("{rw}-init")),
            parent: parent.map(String::from),
        }
    }

    /// A root: image `i` on chains a ← b (dirs 1, 2); a leaked chain c (dir 3); container `k` on b
    /// (dirs 4, 4-init); overlay2 also holds 9 (named by nothing) and `l`.
    pub(crate) fn root() -> DataRoot {
        let mut dr = DataRoot {
            path: PathBuf::from("/r"),
            ..DataRoot::default()
        };
        dr.layers
            .insert(hex('a'), layer(&hex('a'), &hex('1'), None));
        dr.layers
            .insert(hex('b'), layer(&hex('b'), &hex('2'), Some(&hex('a'))));
        dr.layers
            .insert(hex('c'), layer(&hex('c'), &hex('3'), None));
        dr.images.push(ImageRecord {
            id: format!("sha256:{}", hex('e')),
            tags: vec![],
            chain: vec![hex('a'), hex('b')],
            parent: None,
        });
        dr.mounts.push(mount(&hex('f'), &hex('4'), Some(&hex('b'))));
        dr.containers.push(container(&hex('f'), ConfigState::Read));
        dr.listing.overlay2 = vec![
            hex('1'),
            hex('2'),
            hex('3'),
            hex('4'),
            format!("{}-init", hex('4')),
            hex('9'),
            "l".into(),
        ];
        dr
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;
    use crate::model::dataroot::QuarantinedRun;

    fn owner_of(p: &Plan, name: &str) -> Option<Owner> {
        p.units
            .iter()
            .find(|u| u.path.file_name().is_some_and(|n| n == name))
            .map(|u| u.owner.clone())
    }

    fn kinds(p: &Plan, verdict: Verdict) -> Vec<(OrphanKind, String)> {
        p.candidates
            .iter()
            .filter(|c| c.verdict == verdict)
            .map(|c| {
                (
                    c.kind,
                    c.paths[0]
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn offline_live_chains_mounts_and_leftovers() {
        let p = plan(&root(), DaemonFact::NotFound);
        assert_eq!(owner_of(&p, &hex('1')), Some(Owner::Layer(hex('a'))));
        assert_eq!(owner_of(&p, &hex('2')), Some(Owner::Layer(hex('b'))));
        assert_eq!(owner_of(&p, &hex('4')), Some(Owner::Writable(hex('f'))));
        let init = p
            .units
            .iter()
            .find(|u| u.path.ends_with(format!("{}-init", hex('4'))))
            .unwrap();
        assert_eq!(init.part, Part::None, "the init layer is not SizeRw");
        assert_eq!(owner_of(&p, "l"), Some(Owner::Other("overlay2/l".into())));
        assert_eq!(
            kinds(&p, Verdict::Orphan),
            [
                (OrphanKind::UnreferencedLayer, hex('3')),
                (OrphanKind::UnreferencedDir, hex('9')),
            ]
        );
        assert!(p.inconsistent.is_empty());
    }

    #[test]
    fn a_running_daemon_holds_complete_unreferenced_layers_and_mounts() {
        let mut dr = root();
        dr.containers.clear(); // the mount's container is gone
        let p = plan(&dr, RUNNING);
        assert_eq!(
            kinds(&p, Verdict::Held),
            [
                (OrphanKind::UnreferencedLayer, hex('3')),
                (OrphanKind::UnreferencedMount, hex('4')),
            ]
        );
        // An incomplete record (no size) is not an orphan while the daemon runs either.
        dr.layers.get_mut(&hex('c')).unwrap().complete = false;
        let p = plan(&dr, RUNNING);
        assert!(kinds(&p, Verdict::Held).contains(&(OrphanKind::UnreferencedLayer, hex('3'))));
        // Offline, both are orphans.
        let p = plan(&root_without_container(), DaemonFact::NotFound);
        assert!(kinds(&p, Verdict::Orphan).contains(&(OrphanKind::UnreferencedMount, hex('4'))));
    }

    fn root_without_container() -> DataRoot {
        let mut dr = root();
        dr.containers.clear();
        dr
    }

    #[test]
    fn buildkit_names_own_dirs_chains_and_mounts() {
        let mut dr = root();
        let key = "0t8qkhpx2mwvp1ifzcfbm3qbg".to_string();
        dr.listing.overlay2.push(key.clone());
        dr.listing.buildkit_names.insert(hex('9'));
        dr.listing.buildkit_names.insert(hex('c')); // the leaked chain, by chain id
        dr.mounts.push(mount(&key, &hex('8'), None));
        dr.listing.overlay2.push(hex('8'));
        let p = plan(&dr, DaemonFact::NotFound);
        assert!(matches!(owner_of(&p, &key), Some(Owner::Build(_))));
        assert!(matches!(owner_of(&p, &hex('9')), Some(Owner::Build(_))));
        assert!(matches!(owner_of(&p, &hex('3')), Some(Owner::Build(_))));
        assert!(matches!(owner_of(&p, &hex('8')), Some(Owner::Build(_))));
        assert!(kinds(&p, Verdict::Orphan).is_empty());
    }

    #[test]
    fn removing_records_take_their_dir_unless_something_else_names_it() {
        let mut dr = root();
        dr.layers.remove(&hex('c')); // dir 3 is now only the removal's
        dr.listing.removing = vec![
            (format!("{}-1-removing", hex('c')), Some(hex('3'))),
            (format!("{}-2-removing", hex('d')), Some(hex('1'))), // a live layer's dir
            (format!("{}-3-removing", hex('d')), None),
        ];
        let p = plan(&dr, RUNNING);
        let rm: Vec<&Candidate> = p
            .candidates
            .iter()
            .filter(|c| c.kind == OrphanKind::RemovingLayer)
            .collect();
        assert_eq!(rm.len(), 3);
        assert_eq!(rm[0].paths.len(), 2, "dir and record");
        assert!(rm[0].paths[0].ends_with(hex('3')));
        assert_eq!(rm[1].paths.len(), 1, "the live dir is not the removal's");
        assert_eq!(rm[2].paths.len(), 1);
        assert!(rm.iter().all(|c| c.verdict == Verdict::Orphan), "even live");
        assert_eq!(owner_of(&p, &hex('1')), Some(Owner::Layer(hex('a'))));
    }

    #[test]
    fn an_unknown_dir_reference_keeps_every_unnamed_dir() {
        let mut dr = root();
        dr.unknowns.dir_refs = true;
        let p = plan(&dr, DaemonFact::NotFound);
        assert_eq!(owner_of(&p, &hex('9')), Some(Owner::Kept));
        assert!(p.inconsistent.iter().any(|i| i.path.ends_with(&hex('9'))));
        assert!(
            !kinds(&p, Verdict::Orphan)
                .iter()
                .any(|(k, _)| *k == OrphanKind::UnreferencedDir)
        );
    }

    #[test]
    fn an_unreadable_image_config_keeps_every_chain() {
        let mut dr = root();
        dr.unknowns.chain_refs = true;
        let p = plan(&dr, DaemonFact::NotFound);
        assert_eq!(owner_of(&p, &hex('3')), Some(Owner::Kept));
        assert!(
            !kinds(&p, Verdict::Orphan)
                .iter()
                .any(|(k, _)| *k == OrphanKind::UnreferencedLayer)
        );
    }

    #[test]
    fn a_container_config_decides_between_kept_and_orphan() {
        let mut dr = root();
        dr.containers[0] = container(&hex('f'), ConfigState::Unreadable);
        dr.containers
            .push(container(&hex('d'), ConfigState::Missing));
        let p = plan(&dr, DaemonFact::NotFound);
        assert_eq!(owner_of(&p, &hex('f')), Some(Owner::Kept), "its dir");
        assert_eq!(owner_of(&p, &hex('4')), Some(Owner::Kept), "its rw dir");
        assert_eq!(
            kinds(&p, Verdict::Orphan)
                .into_iter()
                .filter(|(k, _)| *k != OrphanKind::UnreferencedLayer
                    && *k != OrphanKind::UnreferencedDir)
                .collect::<Vec<_>>(),
            [(OrphanKind::UnknownContainerDir, hex('d'))]
        );
        // containers/ unlistable: every mount is kept.
        let mut dr = root();
        dr.containers.clear();
        dr.unknowns.containers = true;
        let p = plan(&dr, DaemonFact::NotFound);
        assert_eq!(owner_of(&p, &hex('4')), Some(Owner::Kept));
    }

    #[test]
    fn scratch_leftovers_are_orphans() {
        let mut dr = root();
        dr.listing.layerdb_tmp = vec!["write-set-1".into()];
        dr.listing.tmp = vec!["docker-import-1".into()];
        dr.listing.top = vec![("tmp-old".into(), true), ("network".into(), true)];
        let p = plan(&dr, RUNNING);
        let k = kinds(&p, Verdict::Orphan);
        assert!(k.contains(&(OrphanKind::LayerdbTmp, "write-set-1".into())));
        assert!(k.contains(&(OrphanKind::Tmp, "docker-import-1".into())));
        assert!(k.contains(&(OrphanKind::Tmp, "tmp-old".into())));
        assert_eq!(
            owner_of(&p, "network"),
            Some(Owner::Other("network".into()))
        );
    }

    #[test]
    fn the_quarantine_dir_is_its_own_and_never_an_orphan() {
        for daemon in [DaemonFact::NotFound, RUNNING] {
            let mut dr = root();
            dr.listing.top = vec![
                (QUARANTINE_DIR.into(), true),
                ("tmp-old".into(), true),
                ("network".into(), true),
            ];
            dr.listing.quarantine = ["run-a", "run-b"]
                .map(|r| QuarantinedRun {
                    run: r.into(),
                    items: 2,
                    modified_ns: None,
                })
                .to_vec();
            let p = plan(&dr, daemon);
            assert_eq!(owner_of(&p, QUARANTINE_DIR), Some(Owner::Quarantine(None)));
            assert_eq!(owner_of(&p, "run-a"), Some(Owner::Quarantine(Some(0))));
            assert_eq!(owner_of(&p, "run-b"), Some(Owner::Quarantine(Some(1))));
            // The dir and one unit per run: nothing deeper is planned apart.
            let q = PathBuf::from("/r").join(QUARANTINE_DIR);
            let under: Vec<&Unit> = p.units.iter().filter(|u| u.path.starts_with(&q)).collect();
            assert_eq!(under.len(), 3);
            assert!(
                p.candidates
                    .iter()
                    .all(|c| c.paths.iter().all(|x| !x.starts_with(&q)))
            );
        }
        // A file of that name is not the quarantine (prune makes a dir): it is "other".
        let mut dr = root();
        dr.listing.top = vec![(QUARANTINE_DIR.into(), false)];
        let p = plan(&dr, DaemonFact::NotFound);
        assert_eq!(
            owner_of(&p, QUARANTINE_DIR),
            Some(Owner::Other(QUARANTINE_DIR.into()))
        );
    }
}
