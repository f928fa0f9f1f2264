//! The data root's accounting: every byte under it is given to exactly one category (images,
//! containers, volumes, build cache, orphans, other), so the categories add up to what `du -sx` says.
//! Orphans are what nothing references: overlay2 dirs no layer, mount or BuildKit snapshot names,
//! layer chains no image or container reaches, `-removing` and `layerdb/tmp` leftovers, `tmp/`
//! scratch of interrupted loads and builds, container dirs the engine will not load.
//!
//! BuildKit's bbolt databases are not parsed; instead every `buildkit/*.db` is searched for names as
//! raw bytes (bbolt stores keys and values uncompressed), which protects every directory or chain
//! BuildKit names, and perhaps a few it named once (stale pages): a conservative error, never the
//! reverse. 25-character base-36 names are BuildKit's in any case.

pub mod cache;
pub mod walk;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::model::dataroot::{DataRoot, Driver, is_buildkit_key};
use walk::{Usage, Walker};

/// Why a path is an orphan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanKind {
    /// A layer chain (and its overlay2 dir) that no image, container or BuildKit record reaches.
    UnreferencedLayer,
    /// An `overlay2/` dir that no layer, mount or BuildKit snapshot names.
    UnreferencedDir,
    /// A container mount (`layerdb/mounts/<id>` and its overlay2 dirs) whose container is gone.
    UnreferencedMount,
    /// `layerdb/sha256/<chain>-<random>-removing`: a layer removal that did not finish; the main path is
    /// the overlay2 dir its `cache-id` names while that is still there (half deleted), else the record.
    RemovingLayer,
    /// `layerdb/tmp/*`: a layer commit that did not finish.
    LayerdbTmp,
    /// `tmp/*` or `tmp-old`: scratch of a load, save, import or build.
    Tmp,
    /// `containers/<id>` without a readable `config.v2.json`: the engine does not load it.
    UnknownContainerDir,
}

/// One orphan, with its size and age.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// The main path (an overlay2 dir for layers and mounts).
    pub path: String,
    /// Other paths belonging to the same orphan (its layerdb or mounts record).
    pub also: Vec<String>,
    /// Why it is an orphan.
    pub kind: OrphanKind,
    /// Allocated bytes.
    pub bytes: u64,
    /// Apparent bytes.
    pub apparent_bytes: u64,
    /// Seconds since anything inside was last modified.
    pub age_seconds: Option<u64>,
    /// Newest modification time inside, nanoseconds since the epoch.
    #[serde(skip)]
    pub modified_ns: Option<i64>,
}

/// One category's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Category {
    /// `images`, `containers`, `volumes`, `build-cache`, `orphans`, `other`.
    pub name: &'static str,
    /// Allocated bytes.
    pub bytes: u64,
    /// Apparent bytes.
    pub apparent_bytes: u64,
    /// Objects counted (images, containers, volumes, build-cache dirs, orphans, other entries).
    pub count: u64,
    /// Allocated bytes the reclaim command frees.
    pub reclaimable_bytes: u64,
    /// What frees it.
    pub reclaim: &'static str,
}

/// One image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUsage {
    /// `sha256:` config digest.
    pub id: String,
    /// Tags and digests.
    pub tags: Vec<String>,
    /// Allocated bytes of all its layers.
    pub bytes: u64,
    /// Apparent bytes of its layers' `diff/` trees (what `docker images` shows).
    pub apparent_bytes: u64,
    /// Bytes of layers no other image uses.
    pub unique_bytes: u64,
    /// Bytes of layers other images use too.
    pub shared_bytes: u64,
    /// Containers made from it.
    pub containers: u64,
    /// Untagged and no image's parent.
    pub dangling: bool,
}

/// One container.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerUsage {
    /// Full id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Image id.
    pub image: Option<String>,
    /// Running, paused or restarting.
    pub running: bool,
    /// Allocated bytes of the writable layer and its init layer (`overlay2/<mount-id>{,-init}`).
    pub writable_bytes: u64,
    /// Apparent bytes of the writable layer's `diff/` (what `docker ps -s` shows as size).
    pub writable_apparent_bytes: u64,
    /// Allocated bytes of its log files (json-file `<id>-json.log*`, local `local-logs/*`).
    pub log_bytes: u64,
    /// Apparent bytes of its log files.
    pub log_apparent_bytes: u64,
    /// Allocated bytes of `containers/<id>/`, logs included.
    pub dir_bytes: u64,
    /// `writable_bytes + dir_bytes`.
    pub bytes: u64,
}

/// One volume.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeUsage {
    /// Name.
    pub name: String,
    /// 64-hex name.
    pub anonymous: bool,
    /// Allocated bytes of `volumes/<name>/`.
    pub bytes: u64,
    /// Apparent bytes of `_data` (what `docker system df -v` shows).
    pub apparent_bytes: u64,
    /// Containers that mount it.
    pub containers: u64,
}

/// One of the largest single items.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `layer`, `container`, `volume`, `build-cache`, `orphan`, `other`, `image-metadata`.
    pub kind: &'static str,
    /// What it is (tags, names, path).
    pub name: String,
    /// Allocated bytes.
    pub bytes: u64,
}

/// The whole accounting of a data root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// The data root.
    pub data_root: String,
    /// Storage driver found.
    pub driver: Driver,
    /// Allocated bytes of the whole data root (one filesystem, hard links once).
    pub total_bytes: u64,
    /// Apparent bytes of the whole data root.
    pub total_apparent_bytes: u64,
    /// Categories, summing to the totals.
    pub categories: Vec<Category>,
    /// Images.
    pub images: Vec<ImageUsage>,
    /// Containers.
    pub containers: Vec<ContainerUsage>,
    /// Volumes.
    pub volumes: Vec<VolumeUsage>,
    /// Orphans, largest first.
    pub orphans: Vec<Orphan>,
    /// Orphan candidates that changed or became referenced while the engine ran (a pull, load, build
    /// or create under way): not orphans, their bytes are counted under "other".
    pub in_flight: Vec<Orphan>,
    /// Every item, largest first (cut to `--top` by the report).
    pub top: Vec<Item>,
    /// True when BuildKit's databases were searched for the names they hold.
    pub buildkit_db_read: bool,
    /// Layers whose sizes came from `--cache` instead of a walk.
    pub cached_layers: u64,
    /// Oddities: partial metadata, unreadable paths, unsupported drivers.
    pub warnings: Vec<String>,
    /// With `--cache`: the layer sizes to keep for the next run.
    #[serde(skip)]
    pub fresh_cache: Option<cache::LayerCache>,
}

/// Who owns a measured directory.
#[derive(Debug, Clone)]
enum Owner {
    Layer(String),
    ImageMeta,
    Writable(String),
    ContainerDir(String),
    Volume(String),
    Build(String),
    Orphan(usize),
    Other(String),
}

#[derive(Debug, Clone, Copy)]
enum Part {
    None,
    Diff,
    Logs,
    VolumeData,
}

struct Unit {
    path: PathBuf,
    owner: Owner,
    part: Part,
}

/// Audit options.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Threads measuring directories.
    pub threads: usize,
    /// A file keeping image layers' measured sizes between runs (read, then rewritten).
    pub layer_cache: Option<PathBuf>,
    /// Rewrite `layer_cache` at the end (false: the fresh cache is only kept in
    /// [`Audit::fresh_cache`], for the caller to save with [`cache::save`] once it knows the audit
    /// is the one it wants).
    pub write_cache: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            layer_cache: None,
            write_cache: true,
        }
    }
}

/// Names written in BuildKit's databases (`buildkit/*.db`): 64-hex and 25-char base-36 runs.
fn buildkit_names(root: &Path, warnings: &mut Vec<String>) -> (HashSet<String>, bool) {
    let mut names = HashSet::new();
    let dir = root.join("buildkit");
    let Ok(rd) = fs::read_dir(&dir) else {
        return (names, false);
    };
    let mut ok = true;
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "db") {
            continue;
        }
        match fs::read(&p) {
            Ok(bytes) => collect_names(&bytes, &mut names),
            Err(err) => {
                ok = false;
                warnings.push(format!(
                    "{}: {err}; only 25-character base-36 overlay2 dirs are taken to be BuildKit's",
                    p.display()
                ));
            }
        }
    }
    (names, ok)
}

/// Adds every 25-char base-36 window and every 64-hex window of the byte runs of `[0-9a-z]`.
fn collect_names(bytes: &[u8], names: &mut HashSet<String>) {
    let is36 = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    let mut i = 0;
    while i < bytes.len() {
        if !is36(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is36(bytes[i]) {
            i += 1;
        }
        let run = &bytes[start..i];
        if run.len() >= 25 {
            for w in run.windows(25) {
                names.insert(String::from_utf8_lossy(w).into_owned());
            }
            for w in run.windows(64) {
                if w.iter().all(|b| b.is_ascii_hexdigit()) {
                    names.insert(String::from_utf8_lossy(w).into_owned());
                }
            }
        }
    }
}

fn list_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Chains reachable from `starts` through parent links.
fn closure<'a>(dr: &DataRoot, starts: impl Iterator<Item = &'a String>) -> HashSet<String> {
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

struct Plan {
    units: Vec<Unit>,
    orphans: Vec<(PathBuf, Vec<PathBuf>, OrphanKind)>,
}

impl Plan {
    fn orphan(&mut self, kind: OrphanKind, paths: Vec<PathBuf>) {
        let idx = self.orphans.len();
        let main = paths[0].clone();
        for p in &paths {
            if p.exists() {
                self.units.push(Unit {
                    path: p.clone(),
                    owner: Owner::Orphan(idx),
                    part: Part::None,
                });
            }
        }
        self.orphans.push((main, paths[1..].to_vec(), kind));
    }
    fn add(&mut self, path: PathBuf, owner: Owner, part: Part) {
        self.units.push(Unit { path, owner, part });
    }
}

/// Decides who owns each directory of the data root.
fn plan(dr: &DataRoot, bk: &HashSet<String>) -> Plan {
    let root = &dr.path;
    let store = root.join("image/overlay2");
    let overlay = root.join("overlay2");
    let mut p = Plan {
        units: Vec::new(),
        orphans: Vec::new(),
    };
    let buildkit_owns = |name: &str| is_buildkit_key(name) || bk.contains(name);

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
        if live.contains(chain) {
            dir_owner.insert(cache.clone(), Owner::Layer(chain.clone()));
        } else if buildkit_owns(cache) || buildkit_owns(chain) {
            dir_owner.insert(cache.clone(), Owner::Build(format!("layer {chain}")));
        } else {
            dir_owner.insert(cache.clone(), Owner::Orphan(usize::MAX));
            p.orphan(
                OrphanKind::UnreferencedLayer,
                vec![
                    overlay.join(cache),
                    store.join("layerdb/sha256").join(chain),
                ],
            );
        }
    }
    let known: HashSet<&str> = dr
        .containers
        .iter()
        .filter(|c| c.known)
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
        } else {
            let mut paths: Vec<PathBuf> = ids.iter().map(|id| overlay.join(id)).collect();
            paths.push(store.join("layerdb/mounts").join(&m.id));
            for id in ids {
                dir_owner.insert(id.clone(), Owner::Orphan(usize::MAX));
            }
            p.orphan(OrphanKind::UnreferencedMount, paths);
        }
    }
    // Layer removals that did not finish: moby renames the chain's record `<chain>-<random>-removing`,
    // deletes its overlay2 dir, then the record. The dir its `cache-id` names, if still there, is
    // reported with the record, as one orphan.
    let layerdb = store.join("layerdb/sha256");
    for name in list_names(&layerdb) {
        if !name.ends_with("-removing") {
            continue;
        }
        let record = layerdb.join(&name);
        let dir = fs::read_to_string(record.join("cache-id"))
            .ok()
            .map(|c| c.trim().to_string())
            .filter(|c| {
                !c.is_empty()
                    && !c.contains('/')
                    && c != "l"
                    && !dir_owner.contains_key(c)
                    && !buildkit_owns(c)
                    && overlay.join(c).is_dir()
            });
        match dir {
            Some(c) => {
                dir_owner.insert(c.clone(), Owner::Orphan(usize::MAX));
                p.orphan(OrphanKind::RemovingLayer, vec![overlay.join(c), record]);
            }
            None => p.orphan(OrphanKind::RemovingLayer, vec![record]),
        }
    }
    for name in list_names(&overlay) {
        let path = overlay.join(&name);
        match dir_owner.get(&name) {
            Some(Owner::Orphan(_)) => {} // already planned with its record
            Some(Owner::Layer(c)) => p.add(path, Owner::Layer(c.clone()), Part::Diff),
            // The init layer's few stubs are not part of `SizeRw`: measured whole, not as diff.
            Some(Owner::Writable(c)) if name.ends_with("-init") => {
                p.add(path, Owner::Writable(c.clone()), Part::None)
            }
            Some(Owner::Writable(c)) => p.add(path, Owner::Writable(c.clone()), Part::Diff),
            Some(o) => p.add(path, o.clone(), Part::None),
            None if name == "l" => p.add(path, Owner::Other("overlay2/l".into()), Part::None),
            None if buildkit_owns(&name) => {
                p.add(path, Owner::Build(format!("snapshot {name}")), Part::None)
            }
            None => p.orphan(OrphanKind::UnreferencedDir, vec![path]),
        }
    }
    for name in list_names(&store.join("layerdb/tmp")) {
        p.orphan(
            OrphanKind::LayerdbTmp,
            vec![store.join("layerdb/tmp").join(name)],
        );
    }
    for name in list_names(&root.join("tmp")) {
        p.orphan(OrphanKind::Tmp, vec![root.join("tmp").join(name)]);
    }
    for c in &dr.containers {
        let path = root.join("containers").join(&c.id);
        if c.known {
            p.add(path, Owner::ContainerDir(c.id.clone()), Part::Logs);
        } else {
            p.orphan(OrphanKind::UnknownContainerDir, vec![path]);
        }
    }
    for v in &dr.volumes {
        p.add(
            root.join("volumes").join(&v.name),
            Owner::Volume(v.name.clone()),
            Part::VolumeData,
        );
    }
    if root.join("image").is_dir() {
        p.add(root.join("image"), Owner::ImageMeta, Part::None);
    }
    if dr.buildkit {
        p.add(
            root.join("buildkit"),
            Owner::Build("buildkit/".into()),
            Part::None,
        );
    }
    const CLAIMED: &[&str] = &[
        "image",
        "overlay2",
        "containers",
        "volumes",
        "buildkit",
        "tmp",
    ];
    for name in list_names(root) {
        if CLAIMED.contains(&name.as_str()) {
            continue;
        }
        if name == "tmp-old" {
            p.orphan(OrphanKind::Tmp, vec![root.join(name)]);
        } else {
            p.add(root.join(&name), Owner::Other(name.clone()), Part::None);
        }
    }
    // Whatever is left (the top directories themselves, `volumes/metadata.db`, strays) is "other".
    p.add(root.clone(), Owner::Other("(rest)".into()), Part::None);
    p
}

/// True for a log entry directly under `containers/<id>/`: json-file's `<id>-json.log` and its rotated
/// `.1`, `.2.gz`…, or the local driver's `local-logs/` directory.
fn is_log(name: &std::ffi::OsStr, id: &str) -> bool {
    name == "local-logs"
        || name.to_str().is_some_and(|n| {
            n.strip_prefix(id)
                .is_some_and(|r| r.starts_with("-json.log"))
        })
}

/// Measures the data root and gives every byte to one category. `progress(done, total)` is called as
/// directories are measured.
pub fn audit(dr: &DataRoot, opts: AuditOptions, progress: &(dyn Fn(usize, usize) + Sync)) -> Audit {
    let mut warnings = dr.warnings.clone();
    let (bk, bk_read) = buildkit_names(&dr.path, &mut warnings);
    let plan = plan(dr, &bk);
    let prune: HashSet<PathBuf> = plan.units.iter().map(|u| u.path.clone()).collect();
    let walker = match Walker::new(&dr.path) {
        Ok(w) => w,
        Err(e) => {
            warnings.push(format!("{}: {e}", dr.path.display()));
            return empty(dr, warnings);
        }
    };
    let data_root = dr.path.display().to_string();
    let cached = match &opts.layer_cache {
        Some(p) => {
            let (c, w) = cache::load(p, &data_root);
            warnings.extend(w);
            c
        }
        None => cache::LayerCache::default(),
    };
    // Layers found in the cache are not walked; everything else is, on all threads.
    let mut results: Vec<(Usage, Usage)> = vec![Default::default(); plan.units.len()];
    let mut hits = 0u64;
    let mut to_walk: Vec<usize> = Vec::new();
    for (i, u) in plan.units.iter().enumerate() {
        let hit = match &u.owner {
            Owner::Layer(chain) => u
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|dir| cached.layers.get(&cache::key(dir, chain))),
            _ => None,
        };
        match hit {
            Some(c) => {
                hits += 1;
                results[i] = (c.all, c.diff);
            }
            None => to_walk.push(i),
        }
    }
    type PartFn = Box<dyn Fn(&std::ffi::OsStr) -> bool + Sync>;
    let parts: Vec<PartFn> = to_walk
        .iter()
        .map(|&i| {
            let u = &plan.units[i];
            let f: PartFn = match (&u.part, &u.owner) {
                (Part::Diff, _) => Box::new(|n: &std::ffi::OsStr| n == "diff"),
                (Part::VolumeData, _) => Box::new(|n: &std::ffi::OsStr| n == "_data"),
                (Part::Logs, Owner::ContainerDir(id)) => {
                    let id = id.clone();
                    Box::new(move |n: &std::ffi::OsStr| is_log(n, &id))
                }
                _ => Box::new(|_: &std::ffi::OsStr| false),
            };
            f
        })
        .collect();
    let trees: Vec<(PathBuf, walk::PartOf<'_>)> = to_walk
        .iter()
        .zip(&parts)
        .map(|(&i, f)| (plan.units[i].path.clone(), &**f))
        .collect();
    let measured = walker.measure_all(&trees, &prune, opts.threads, progress);
    for (&i, r) in to_walk.iter().zip(measured) {
        results[i] = r;
    }
    let (errs, count) = walker.errors();
    if count > 0 {
        warnings.push(format!(
            "{count} paths could not be read (figures are lower bounds): {}",
            errs.join("; ")
        ));
    }
    let mut fresh_cache = None;
    if let Some(p) = &opts.layer_cache {
        let mut fresh = cache::LayerCache {
            layers: Default::default(),
            ..cached
        };
        for (u, r) in plan.units.iter().zip(&results) {
            if let (Owner::Layer(chain), Some(dir)) =
                (&u.owner, u.path.file_name().and_then(|n| n.to_str()))
            {
                fresh.layers.insert(
                    cache::key(dir, chain),
                    cache::CachedLayer {
                        all: r.0,
                        diff: r.1,
                    },
                );
            }
        }
        if opts.write_cache
            && let Err(e) = cache::save(p, &fresh)
        {
            warnings.push(format!("{}: cannot write the cache: {e}", p.display()));
        }
        fresh_cache = Some(fresh);
    }
    let mut a = assemble(dr, &plan, &results);
    a.buildkit_db_read = bk_read;
    a.cached_layers = hits;
    a.warnings = warnings;
    a.fresh_cache = fresh_cache;
    a
}

fn empty(dr: &DataRoot, warnings: Vec<String>) -> Audit {
    Audit {
        data_root: dr.path.display().to_string(),
        driver: dr.driver.clone(),
        warnings,
        ..Audit::default()
    }
}

/// What frees each category, in the report's order.
pub const RECLAIM: &[(&str, &str)] = &[
    ("images", "docker image prune -a"),
    ("containers", "docker container prune"),
    (
        "volumes",
        "docker volume prune (Engine 23+: docker volume prune --all)",
    ),
    ("build-cache", "docker builder prune -a"),
    (
        "orphans",
        "none via the engine: stop dockerd, re-check, delete the paths",
    ),
    ("other", "-"),
];

fn reclaim(name: &str) -> &'static str {
    RECLAIM
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("-", |(_, c)| c)
}

fn assemble(dr: &DataRoot, plan: &Plan, results: &[(Usage, Usage)]) -> Audit {
    let now = now_ns();
    let mut chain_use: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut meta = Usage::default();
    let mut writable: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut cdir: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut vols: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut build = Usage::default();
    let mut build_count = 0u64;
    let mut orphan_use: Vec<Usage> = vec![Usage::default(); plan.orphans.len()];
    let mut other = Usage::default();
    let mut other_count = 0u64;
    let mut top: Vec<Item> = Vec::new();
    let mut total = Usage::default();
    for (u, (all, part)) in plan.units.iter().zip(results) {
        total.add(all);
        let add = |m: &mut (Usage, Usage)| {
            m.0.add(all);
            m.1.add(part);
        };
        match &u.owner {
            Owner::Layer(c) => add(chain_use.entry(c).or_default()),
            Owner::ImageMeta => meta.add(all),
            Owner::Writable(c) => add(writable.entry(c).or_default()),
            Owner::ContainerDir(c) => add(cdir.entry(c).or_default()),
            Owner::Volume(v) => add(vols.entry(v).or_default()),
            Owner::Build(label) => {
                build.add(all);
                if label != "buildkit/" {
                    build_count += 1;
                }
                top.push(Item {
                    kind: "build-cache",
                    name: u.path.display().to_string(),
                    bytes: all.bytes,
                });
            }
            Owner::Orphan(i) => orphan_use[*i].add(all),
            Owner::Other(name) => {
                other.add(all);
                if name != "(rest)" {
                    other_count += 1;
                }
                top.push(Item {
                    kind: "other",
                    name: if name == "(rest)" {
                        format!(
                            "{} (the directories themselves, metadata.db, strays)",
                            u.path.display()
                        )
                    } else {
                        u.path.display().to_string()
                    },
                    bytes: all.bytes,
                });
            }
        }
    }
    top.push(Item {
        kind: "image-metadata",
        name: dr.path.join("image").display().to_string(),
        bytes: meta.bytes,
    });

    // Images.
    let mut users: HashMap<&str, u64> = HashMap::new();
    for img in &dr.images {
        let set: HashSet<&str> = img.chain.iter().map(String::as_str).collect();
        for c in set {
            *users.entry(c).or_default() += 1;
        }
    }
    let parents: HashSet<&str> = dr
        .images
        .iter()
        .filter_map(|i| i.parent.as_deref())
        .collect();
    let mut containers_of: HashMap<&str, u64> = HashMap::new();
    for c in dr.containers.iter().filter(|c| c.known) {
        if let Some(i) = &c.image {
            *containers_of.entry(i).or_default() += 1;
        }
    }
    let images: Vec<ImageUsage> = dr
        .images
        .iter()
        .map(|img| {
            let mut seen = HashSet::new();
            let (mut bytes, mut apparent, mut unique) = (0, 0, 0);
            for c in img.chain.iter().filter(|c| seen.insert(c.as_str())) {
                let (all, diff) = chain_use.get(c.as_str()).copied().unwrap_or_default();
                bytes += all.bytes;
                apparent += diff.apparent_bytes;
                if users.get(c.as_str()) == Some(&1) {
                    unique += all.bytes;
                }
            }
            ImageUsage {
                id: img.id.clone(),
                tags: img.tags.clone(),
                bytes,
                apparent_bytes: apparent,
                unique_bytes: unique,
                shared_bytes: bytes - unique,
                containers: containers_of.get(img.id.as_str()).copied().unwrap_or(0),
                dangling: img.tags.is_empty() && !parents.contains(img.id.as_str()),
            }
        })
        .collect();
    // Chains kept by containers: their images' chains and their mounts' parents, with ancestors.
    let used_starts: Vec<String> = dr
        .images
        .iter()
        .filter(|i| containers_of.contains_key(i.id.as_str()))
        .flat_map(|i| i.chain.iter().cloned())
        .chain(
            dr.mounts
                .iter()
                .filter(|m| dr.containers.iter().any(|c| c.known && c.id == m.id))
                .filter_map(|m| m.parent.clone()),
        )
        .collect();
    let used = closure(dr, used_starts.iter());
    let mut layers_total = Usage::default();
    let mut images_reclaimable = 0;
    for (c, (all, _)) in &chain_use {
        layers_total.add(all);
        if !used.contains(*c) {
            images_reclaimable += all.bytes;
        }
        let names: Vec<&str> = dr
            .images
            .iter()
            .filter(|i| i.chain.iter().any(|x| x == c))
            .flat_map(|i| i.tags.iter().map(String::as_str))
            .take(3)
            .collect();
        top.push(Item {
            kind: "layer",
            name: format!(
                "{} ({})",
                &c[..12.min(c.len())],
                if names.is_empty() {
                    "untagged".to_string()
                } else {
                    names.join(", ")
                }
            ),
            bytes: all.bytes,
        });
    }

    // Containers.
    let mut containers = Vec::new();
    let (mut c_total, mut c_reclaim) = (Usage::default(), 0);
    for c in dr.containers.iter().filter(|c| c.known) {
        let (w_all, w_diff) = writable.get(c.id.as_str()).copied().unwrap_or_default();
        let (d_all, d_logs) = cdir.get(c.id.as_str()).copied().unwrap_or_default();
        c_total.add(&w_all);
        c_total.add(&d_all);
        let bytes = w_all.bytes + d_all.bytes;
        if !c.running {
            c_reclaim += bytes;
        }
        top.push(Item {
            kind: "container",
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            bytes,
        });
        containers.push(ContainerUsage {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            running: c.running,
            writable_bytes: w_all.bytes,
            writable_apparent_bytes: w_diff.apparent_bytes,
            log_bytes: d_logs.bytes,
            log_apparent_bytes: d_logs.apparent_bytes,
            dir_bytes: d_all.bytes,
            bytes,
        });
    }

    // Volumes.
    let mut volumes = Vec::new();
    let (mut v_total, mut v_reclaim) = (Usage::default(), 0);
    for v in &dr.volumes {
        let (all, data) = vols.get(v.name.as_str()).copied().unwrap_or_default();
        v_total.add(&all);
        let n = dr
            .containers
            .iter()
            .filter(|c| c.known && c.volumes.contains(&v.name))
            .count() as u64;
        if n == 0 {
            v_reclaim += all.bytes;
        }
        top.push(Item {
            kind: "volume",
            name: v.name.clone(),
            bytes: all.bytes,
        });
        volumes.push(VolumeUsage {
            name: v.name.clone(),
            anonymous: v.anonymous,
            bytes: all.bytes,
            apparent_bytes: data.apparent_bytes,
            containers: n,
        });
    }

    // Orphans.
    let mut orphans: Vec<Orphan> = plan
        .orphans
        .iter()
        .zip(&orphan_use)
        .map(|((path, also, kind), u)| Orphan {
            path: path.display().to_string(),
            also: also.iter().map(|p| p.display().to_string()).collect(),
            kind: *kind,
            bytes: u.bytes,
            apparent_bytes: u.apparent_bytes,
            age_seconds: u.newest.map(|t| ((now - t).max(0) / 1_000_000_000) as u64),
            modified_ns: u.newest,
        })
        .collect();
    orphans.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    let mut o_total = Usage::default();
    for u in &orphan_use {
        o_total.add(u);
    }
    for o in &orphans {
        top.push(Item {
            kind: "orphan",
            name: o.path.clone(),
            bytes: o.bytes,
        });
    }

    let mut images_usage = layers_total;
    images_usage.add(&meta);
    let cat = |name: &'static str, u: &Usage, count: u64, reclaimable: u64| Category {
        name,
        bytes: u.bytes,
        apparent_bytes: u.apparent_bytes,
        count,
        reclaimable_bytes: reclaimable,
        reclaim: reclaim(name),
    };
    let categories = vec![
        cat(
            "images",
            &images_usage,
            dr.images.len() as u64,
            images_reclaimable,
        ),
        cat("containers", &c_total, containers.len() as u64, c_reclaim),
        cat("volumes", &v_total, volumes.len() as u64, v_reclaim),
        cat("build-cache", &build, build_count, build.bytes),
        cat("orphans", &o_total, orphans.len() as u64, o_total.bytes),
        cat("other", &other, other_count, 0),
    ];
    top.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Audit {
        data_root: dr.path.display().to_string(),
        driver: dr.driver.clone(),
        total_bytes: total.bytes,
        total_apparent_bytes: total.apparent_bytes,
        categories,
        images,
        containers,
        volumes,
        orphans,
        top,
        ..Audit::default()
    }
}

/// An accounting from the engine's own figures alone, for a data root that cannot be read here
/// (a remote `DOCKER_HOST`, no permission): no logs, orphans or "other"; `warning` says so.
pub fn from_engine(
    root: &Path,
    u: Option<&crate::source::engine::EngineDiskUsage>,
    warning: String,
) -> Audit {
    let u = u.cloned().unwrap_or_default();
    let cat = |name: &'static str, bytes: u64, count: u64| Category {
        name,
        bytes,
        apparent_bytes: bytes,
        count,
        reclaimable_bytes: 0,
        reclaim: reclaim(name),
    };
    let mut a = Audit {
        data_root: root.display().to_string(),
        categories: vec![
            cat("images", u.images_bytes, u.images),
            cat("containers", u.containers_bytes, u.containers),
            cat("volumes", u.volumes_bytes, u.volumes),
            cat("build-cache", u.build_cache_bytes, u.build_cache_records),
        ],
        warnings: vec![warning],
        ..Audit::default()
    };
    a.total_bytes = a.categories.iter().map(|c| c.bytes).sum();
    a.total_apparent_bytes = a.total_bytes;
    a
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// When the running daemon started, nanoseconds since the epoch: dockerd re-creates `<root>/tmp` at
/// every start (it renames the old one to `tmp-old` and deletes it), so that directory's birth time.
fn daemon_start_ns(root: &Path) -> Option<i64> {
    let born = fs::metadata(root.join("tmp")).ok()?.created().ok()?;
    Some(born.duration_since(UNIX_EPOCH).ok()?.as_nanos() as i64)
}

/// Without a daemon start time, candidates modified this recently are taken to be under way.
const IN_FLIGHT_WINDOW_NS: i64 = 10 * 60 * 1_000_000_000;

/// While the engine runs, an operation under way looks like an orphan: an overlay2 dir is filled
/// before its layer is committed, a loaded or pulled layer is committed before the image that names it,
/// a container dir exists before its config. Given a fresh read of the metadata taken after the audit,
/// this moves to `in_flight` every orphan that is now referenced, whose contents changed since it was
/// measured (measured again here), or that was modified since the running daemon started (only the
/// daemon's memory may reference it). Their bytes move to "other". What stays was left by an earlier
/// daemon process: an interrupted operation's leftovers.
pub fn confirm_orphans(a: &mut Audit, fresh: &DataRoot) {
    let since = daemon_start_ns(&fresh.path).unwrap_or(now_ns() - IN_FLIGHT_WINDOW_NS);
    // The orphans a fresh plan still finds; anything else became referenced meanwhile.
    let mut warnings = Vec::new();
    let (bk, _) = buildkit_names(&fresh.path, &mut warnings);
    let still: HashSet<PathBuf> = plan(fresh, &bk)
        .orphans
        .into_iter()
        .map(|(p, _, _)| p)
        .collect();
    let Ok(walker) = Walker::new(&fresh.path) else {
        return;
    };
    let none = HashSet::new();
    let (mut keep, mut moved) = (Vec::new(), Vec::new());
    for o in std::mem::take(&mut a.orphans) {
        let referenced = !still.contains(Path::new(&o.path));
        let mut now = Usage::default();
        for p in std::iter::once(&o.path).chain(&o.also) {
            now.add(&walker.measure(Path::new(p), &none, &|_| false).0);
        }
        let changed = now.bytes != o.bytes || now.apparent_bytes != o.apparent_bytes;
        let recent = o.modified_ns.is_some_and(|m| m >= since);
        if referenced || changed || recent {
            moved.push(o);
        } else {
            keep.push(o);
        }
    }
    let moved_bytes: u64 = moved.iter().map(|o| o.bytes).sum();
    let moved_apparent: u64 = moved.iter().map(|o| o.apparent_bytes).sum();
    for c in &mut a.categories {
        match c.name {
            "orphans" => {
                c.bytes -= moved_bytes;
                c.apparent_bytes -= moved_apparent;
                c.reclaimable_bytes -= moved_bytes;
                c.count -= moved.len() as u64;
            }
            "other" => {
                c.bytes += moved_bytes;
                c.apparent_bytes += moved_apparent;
            }
            _ => {}
        }
    }
    let moved_paths: HashSet<&str> = moved.iter().map(|o| o.path.as_str()).collect();
    for i in &mut a.top {
        if i.kind == "orphan" && moved_paths.contains(i.name.as_str()) {
            i.kind = "in-flight";
        }
    }
    a.orphans = keep;
    a.in_flight = moved;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaim_table_names_every_category_once() {
        let names: Vec<&str> = RECLAIM.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "images",
                "containers",
                "volumes",
                "build-cache",
                "orphans",
                "other"
            ]
        );
        assert!(RECLAIM.iter().all(|(_, c)| !c.is_empty()));
    }

    #[test]
    fn names_are_found_in_raw_bbolt_bytes() {
        let key = "0t8qkhpx2mwvp1ifzcfbm3qbg";
        let hex = "ab".repeat(32);
        let mut bytes = vec![0u8, 7, 0xff];
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(b"\x00\x01chainidsha256:");
        bytes.extend_from_slice(hex.as_bytes());
        bytes.push(0x61); // a pgid byte that happens to be ASCII 'a' right after the key
        let mut names = HashSet::new();
        collect_names(&bytes, &mut names);
        assert!(names.contains(key));
        assert!(names.contains(&hex));
        assert!(!names.contains(&"cd".repeat(32)));
    }

    #[test]
    fn log_files_are_recognised() {
        use std::ffi::OsStr;
        assert!(is_log(OsStr::new("abc-json.log"), "abc"));
        assert!(is_log(OsStr::new("abc-json.log.1"), "abc"));
        assert!(is_log(OsStr::new("abc-json.log.2.gz"), "abc"));
        assert!(is_log(OsStr::new("local-logs"), "abc"));
        assert!(!is_log(OsStr::new("config.v2.json"), "abc"));
        assert!(!is_log(OsStr::new("abd-json.log"), "abc"));
    }
}
