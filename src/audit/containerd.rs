//! The accounting of a data root with the containerd image store: every byte under the data root
//! (which holds dockerd's own containerd root, `containerd/daemon/`) and under a system containerd's
//! root beside it (`/var/lib/containerd`, when dockerd uses one) goes to one category, so the
//! categories add up to `du -sx` of the data root plus `du -sx` of that containerd root:
//! - images: content blobs and snapshot directories an image reaches;
//! - containers: the snapshots a container's lease holds (its writable layer and init layer) and
//!   `containers/<id>/` (logs included);
//! - volumes: `volumes/<name>/`;
//! - build cache: what BuildKit's leases hold, and `buildkit/`;
//! - leases and ingest: what other leases hold (pulls and loads under way, or leaked), and `ingest/`;
//! - other: the rest, including what nothing reaches (containerd collects it) and what no record
//!   names.
//!
//! Who owns what is decided by [`crate::model::containerd::own`] (pure); here every unit is measured
//! once, on all threads, by the same walker as the overlay2 audit.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::PathBuf;

use serde::Serialize;
use sha2::Digest;

use super::measure::{AuditOptions, is_log, now_ns};
use super::types::{
    Audit, Category, CategoryName, ContainerUsage, ImageUsage, Item, ItemKind, VolumeUsage,
};
use super::walk::{self, Usage, Walker};
use crate::model::containerd::{
    CtrdStore, LeaseRole, SnapKind, Use, lease_expiry, lease_role, lease_state, own,
};
use crate::model::dataroot::{DaemonFact, DataRoot};
use crate::source::containerd::{CONTENT, OVERLAYFS};

/// One lease, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseReport {
    /// Namespace.
    pub namespace: String,
    /// Lease id.
    pub id: String,
    /// `container`, `build-kit` or `operation`.
    pub role: LeaseRole,
    /// Seconds until `containerd.io/gc.expire` (negative: expired); None without one.
    pub expires_in_seconds: Option<i64>,
    /// Age, seconds.
    pub age_seconds: Option<i64>,
    /// Content blobs and snapshots it holds.
    pub holds: u64,
    /// True for an operation lease that expired, or that has no expiry and is older than an hour:
    /// it pins content although no pull or load runs (moby #48909).
    pub leaked: bool,
}

/// A path of the containerd store that is reported on its own.
#[derive(Debug, Clone, Serialize)]
pub struct StorePath {
    /// The path.
    pub path: String,
    /// Allocated bytes.
    pub bytes: u64,
    /// `committed`, `active`, `view` for snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<SnapKind>,
    /// Seconds since it was last modified.
    pub age_seconds: Option<u64>,
    /// The lease (not leaked) that holds it: an operation under way, not reclaimable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease: Option<String>,
}

/// True for an operation lease that expired, or that has no expiry and is older than an hour: it pins
/// content although no pull or load runs (moby #48909). `dredge prune --orphans` decides with the
/// same rule and its `--grace`.
fn leaked(l: &crate::model::containerd::Lease, containers: &HashSet<String>, now_s: i64) -> bool {
    lease_state(l, containers, 3600, now_s).leaked()
}

/// What the containerd store holds besides the categories' objects.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CtrdFindings {
    /// The containerd root.
    pub root: String,
    /// Every lease.
    pub leases: Vec<LeaseReport>,
    /// Leftovers under `ingest/` (downloads or loads that did not finish).
    pub ingest: Vec<StorePath>,
    /// Snapshot dirs and blobs with a record that no image, container, BuildKit or lease reaches:
    /// containerd removes them at its next garbage collection.
    pub unreferenced: Vec<StorePath>,
    /// Snapshot dirs and blobs no record names (or every one, when a database could not be read):
    /// never called reclaimable.
    pub no_record: Vec<StorePath>,
}

/// What a measured unit is.
enum Unit {
    Blob(String, Use),
    Snapshot(String, Use),
    Ingest,
    ContainerDir(String),
    Volume(String),
    BuildKit,
    Rest,
}

/// Measures the data root `dr` whose containerd store is `store`.
pub fn audit(
    dr: &DataRoot,
    store: &CtrdStore,
    daemon: DaemonFact,
    opts: AuditOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Audit {
    let mut warnings = dr.warnings.clone();
    warnings.extend(store.warnings.iter().cloned());
    let mut missing = dr.missing_figures || store.missing;
    let data_root = dr.path.display().to_string();
    let walker = match Walker::new(&dr.path) {
        Ok(w) => w,
        Err(e) => {
            warnings.push(format!("{data_root}: {e}"));
            return Audit {
                data_root,
                driver: dr.driver.clone(),
                warnings,
                missing_figures: true,
                ..Audit::default()
            };
        }
    };
    let container_ids: HashSet<String> = dr.containers.iter().map(|c| c.id.clone()).collect();
    let o = own(store, &container_ids);
    let blobs_dir = store.root.join(CONTENT).join("blobs/sha256");
    let snaps_dir = store.root.join(OVERLAYFS).join("snapshots");
    let mut units: Vec<(PathBuf, Unit)> = Vec::new();
    // The walker counts a plain file wherever it finds it (it prunes directories only), so blob files
    // are measured by lstat here, and `blobs/sha256/` is kept out of the walk; anything there that
    // is a directory is walked as its own unit.
    let mut stat_units: Vec<(PathBuf, Unit, Usage)> = Vec::new();
    for f in &store.blob_files {
        let u = o.blobs.get(f).copied().unwrap_or(Use::NoRecord);
        let p = blobs_dir.join(f);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if !m.is_dir() => stat_units.push((p, Unit::Blob(f.clone(), u), usage_of(&m))),
            Ok(_) => units.push((p, Unit::Blob(f.clone(), u))),
            // Gone since it was listed (containerd collected it): nothing to count.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                missing = true;
                warnings.push(format!("{}: {e}", p.display()));
            }
        }
    }
    if let Ok(m) = std::fs::symlink_metadata(&blobs_dir)
        && m.is_dir()
    {
        stat_units.push((blobs_dir.clone(), Unit::Rest, usage_of(&m)));
    }
    for d in &store.snapshot_dirs {
        let u = o.snapshots.get(d).copied().unwrap_or(Use::NoRecord);
        units.push((snaps_dir.join(d), Unit::Snapshot(d.clone(), u)));
    }
    for i in &store.ingest_dirs {
        units.push((
            store.root.join(CONTENT).join("ingest").join(i),
            Unit::Ingest,
        ));
    }
    for c in &dr.containers {
        units.push((
            dr.path.join("containers").join(&c.id),
            Unit::ContainerDir(c.id.clone()),
        ));
    }
    for v in &dr.volumes {
        units.push((
            dr.path.join("volumes").join(&v.name),
            Unit::Volume(v.name.clone()),
        ));
    }
    if dr.buildkit {
        units.push((dr.path.join("buildkit"), Unit::BuildKit));
    }
    units.push((dr.path.clone(), Unit::Rest));
    // A system containerd's root, beside the data root: what no other unit takes there is "other".
    let beside = !store.root.starts_with(&dr.path);
    if beside {
        units.push((store.root.clone(), Unit::Rest));
    }
    let mut prune: HashSet<PathBuf> = units
        .iter()
        .filter(|(_, u)| !matches!(u, Unit::Rest))
        .map(|(p, _)| p.clone())
        .collect();
    prune.insert(blobs_dir.clone());
    type PartFn = Box<dyn Fn(&OsStr) -> bool + Sync>;
    let parts: Vec<PartFn> = units
        .iter()
        .map(|(_, u)| -> PartFn {
            match u {
                Unit::ContainerDir(id) => {
                    let id = id.clone();
                    Box::new(move |n: &OsStr| is_log(n, &id))
                }
                Unit::Volume(_) => Box::new(|n: &OsStr| n == "_data"),
                Unit::Snapshot(..) => Box::new(|n: &OsStr| n == "fs"),
                _ => Box::new(|_: &OsStr| false),
            }
        })
        .collect();
    let trees: Vec<(PathBuf, walk::PartOf<'_>)> = units
        .iter()
        .zip(&parts)
        .map(|((p, _), f)| (p.clone(), &**f))
        .collect();
    // Each root stays on its own filesystem, as `du -sx DATA_ROOT` and `du -sx CONTAINERD_ROOT` do:
    // a containerd root on another filesystem is walked by a walker of its own.
    let other_fs = beside && {
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.dev()).ok();
        dev(&store.root) != dev(&dr.path)
    };
    let results = if other_fs {
        let in_store: Vec<bool> = trees
            .iter()
            .map(|(p, _)| p.starts_with(&store.root))
            .collect();
        let (mine, theirs): (Vec<_>, Vec<_>) = trees
            .iter()
            .cloned()
            .zip(&in_store)
            .partition(|(_, s)| !**s);
        let mine: Vec<_> = mine.into_iter().map(|(t, _)| t).collect();
        let theirs: Vec<_> = theirs.into_iter().map(|(t, _)| t).collect();
        let mut a = walker
            .measure_all(&mine, &prune, opts.threads.max(1), progress)
            .into_iter();
        let mut b = match Walker::new(&store.root) {
            Ok(w2) => {
                let r = w2.measure_all(&theirs, &prune, opts.threads.max(1), progress);
                if let Some(w) = w2.error_warning() {
                    missing = true;
                    warnings.push(w);
                }
                r
            }
            Err(e) => {
                missing = true;
                warnings.push(format!("{}: {e}", store.root.display()));
                vec![Default::default(); theirs.len()]
            }
        }
        .into_iter();
        in_store
            .iter()
            .map(|s| if *s { b.next() } else { a.next() }.unwrap_or_default())
            .collect()
    } else {
        walker.measure_all(&trees, &prune, opts.threads.max(1), progress)
    };
    if let Some(w) = walker.error_warning() {
        missing = true;
        warnings.push(w);
    }
    let mut results = results;
    for (p, u, usage) in stat_units {
        units.push((p, u));
        results.push((usage, Usage::default()));
    }
    let mut a = assemble(dr, store, &o, &units, &results);
    a.warnings.splice(0..0, warnings);
    a.missing_figures |= missing;
    a.daemon = Some(daemon);
    a
}

/// A plain file's usage, as the walker counts it.
fn usage_of(m: &std::fs::Metadata) -> Usage {
    use std::os::unix::fs::MetadataExt;
    Usage {
        bytes: m.blocks() * 512,
        apparent_bytes: if m.is_dir() { 0 } else { m.size() },
        entries: 1,
        newest: Some(m.mtime() * 1_000_000_000 + m.mtime_nsec()),
    }
}

fn cat(name: CategoryName, u: &Usage, count: u64, reclaimable: u64) -> Category {
    Category {
        name,
        bytes: u.bytes,
        apparent_bytes: u.apparent_bytes,
        count,
        reclaimable_bytes: reclaimable,
        reclaim: name.reclaim(),
    }
}

fn age(u: &Usage, now: i64) -> Option<u64> {
    u.newest.map(|t| ((now - t).max(0) / 1_000_000_000) as u64)
}

/// Gives the measured units to categories, objects and findings (pure over the measures).
fn assemble(
    dr: &DataRoot,
    store: &CtrdStore,
    o: &crate::model::containerd::Ownership,
    units: &[(PathBuf, Unit)],
    results: &[(Usage, Usage)],
) -> Audit {
    let now = now_ns();
    let mut total = Usage::default();
    let mut by_cat: HashMap<CategoryName, Usage> = HashMap::new();
    let mut blob_use: HashMap<&str, Usage> = HashMap::new();
    let mut snap_use: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut cdir: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut vols: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut findings = CtrdFindings {
        root: store.root.display().to_string(),
        ..CtrdFindings::default()
    };
    let mut top = Vec::new();
    let mut lease_ingest_reclaim = 0u64;
    let now_s = now / 1_000_000_000;
    let ids: HashSet<String> = dr.containers.iter().map(|c| c.id.clone()).collect();
    let ingest_lease: HashMap<String, String> = store
        .leases
        .iter()
        .filter(|l| !leaked(l, &ids, now_s))
        .flat_map(|l| {
            l.ingests.iter().filter_map(|r| {
                let (_, _, backend) = store
                    .ingest_records
                    .iter()
                    .find(|(ns, k, _)| *ns == l.namespace && k == r)?;
                let b = backend.as_deref()?;
                Some((
                    crate::model::hex(&sha2::Sha256::digest(b.as_bytes())),
                    l.id.clone(),
                ))
            })
        })
        .collect();
    for ((path, unit), (all, part)) in units.iter().zip(results) {
        total.add(all);
        let shown = path.display().to_string();
        let sp = |kind| StorePath {
            path: shown.clone(),
            bytes: all.bytes,
            kind,
            age_seconds: age(all, now),
            lease: None,
        };
        let (c, kind) = match unit {
            Unit::Blob(h, u) | Unit::Snapshot(h, u) => {
                let kind = match unit {
                    Unit::Snapshot(..) => {
                        snap_use.insert(h, (*all, *part));
                        o.snapshot_kind.get(h).copied()
                    }
                    _ => {
                        blob_use.insert(h, *all);
                        None
                    }
                };
                match u {
                    Use::Unreferenced => findings.unreferenced.push(sp(kind)),
                    Use::NoRecord => findings.no_record.push(sp(kind)),
                    _ => {}
                }
                let c = match u {
                    Use::Image => CategoryName::Images,
                    Use::Container => CategoryName::Containers,
                    Use::BuildCache => CategoryName::BuildCache,
                    Use::Lease => CategoryName::LeasesIngest,
                    Use::Unreferenced | Use::NoRecord => CategoryName::Other,
                };
                let ik = match c {
                    CategoryName::Images => ItemKind::Layer,
                    CategoryName::BuildCache => ItemKind::BuildCache,
                    CategoryName::Containers => ItemKind::Container,
                    _ => ItemKind::Other,
                };
                (c, ik)
            }
            Unit::Ingest => {
                // containerd names an ingest dir by the sha256 of its ref; a lease that is not
                // leaked (a load or pull under way) keeps it: not reclaimable.
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let lease = ingest_lease.get(name).cloned();
                if lease.is_none() {
                    lease_ingest_reclaim += all.bytes;
                }
                findings.ingest.push(StorePath { lease, ..sp(None) });
                (CategoryName::LeasesIngest, ItemKind::InFlight)
            }
            Unit::ContainerDir(id) => {
                cdir.insert(id, (*all, *part));
                (CategoryName::Containers, ItemKind::Container)
            }
            Unit::Volume(n) => {
                vols.insert(n, (*all, *part));
                (CategoryName::Volumes, ItemKind::Volume)
            }
            Unit::BuildKit => (CategoryName::BuildCache, ItemKind::BuildCache),
            Unit::Rest => (CategoryName::Other, ItemKind::Other),
        };
        by_cat.entry(c).or_default().add(all);
        top.push(Item {
            kind,
            name: shown,
            bytes: all.bytes,
        });
    }
    // Images, grouped by target (one image, several names).
    let mut targets: Vec<(String, Vec<String>, usize)> = Vec::new();
    for (i, img) in store.images.iter().enumerate() {
        let t = img.target.clone().unwrap_or_default();
        match targets.iter_mut().find(|x| x.0 == t) {
            Some(x) => x.1.push(img.name.clone()),
            None => targets.push((t, vec![img.name.clone()], i)),
        }
    }
    let mut reach_count: HashMap<&str, u64> = HashMap::new();
    for (_, _, i) in &targets {
        let (b, d) = &o.image_parts[*i];
        for x in b.iter().chain(d) {
            *reach_count.entry(x.as_str()).or_default() += 1;
        }
    }
    let mut images = Vec::new();
    for (t, names, i) in &targets {
        let (b, d) = &o.image_parts[*i];
        let mut u = Usage::default();
        let (mut unique, mut shared) = (0, 0);
        let mut apparent = 0;
        for (x, bytes) in b
            .iter()
            .map(|h| (h, blob_use.get(h.as_str()).copied().unwrap_or_default()))
            .chain(
                d.iter()
                    .map(|s| (s, snap_use.get(s.as_str()).map(|p| p.0).unwrap_or_default())),
            )
        {
            u.add(&bytes);
            if reach_count.get(x.as_str()).copied().unwrap_or(0) > 1 {
                shared += bytes.bytes;
            } else {
                unique += bytes.bytes;
            }
        }
        // What `docker system df` calls an image's size on this store: its content (compressed
        // blobs) plus its unpacked snapshots' files.
        for h in b {
            apparent += blob_use.get(h.as_str()).map_or(0, |u| u.apparent_bytes);
        }
        for s in d {
            apparent += snap_use.get(s.as_str()).map_or(0, |p| p.1.apparent_bytes);
        }
        let containers = dr
            .containers
            .iter()
            .filter(|c| c.image.as_deref() == Some(t.as_str()))
            .count() as u64;
        let tags: Vec<String> = names
            .iter()
            .filter(|n| !n.starts_with("moby-dangling@"))
            .cloned()
            .collect();
        images.push(ImageUsage {
            id: t.clone(),
            dangling: tags.is_empty(),
            tags,
            bytes: u.bytes,
            apparent_bytes: apparent,
            unique_bytes: unique,
            shared_bytes: shared,
            containers,
            // Not looked for on this store (the engine's containers would tell, as on overlay2).
            last_used: None,
            last_used_source: None,
        });
    }
    let containers: Vec<ContainerUsage> = dr
        .containers
        .iter()
        .map(|c| {
            let (dir, logs) = cdir.get(c.id.as_str()).copied().unwrap_or_default();
            let mut w = Usage::default();
            let mut wa = 0;
            for s in o.container_snaps.get(&c.id).into_iter().flatten() {
                if let Some((all, fs)) = snap_use.get(s.as_str()) {
                    w.add(all);
                    if o.snapshot_kind.get(s) == Some(&SnapKind::Active) {
                        wa += fs.apparent_bytes;
                    }
                }
            }
            ContainerUsage {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                running: c.running,
                writable_bytes: w.bytes,
                writable_apparent_bytes: wa,
                log_bytes: logs.bytes,
                log_apparent_bytes: logs.apparent_bytes,
                dir_bytes: dir.bytes,
                bytes: w.bytes + dir.bytes,
            }
        })
        .collect();
    let volumes: Vec<VolumeUsage> = dr
        .volumes
        .iter()
        .map(|v| {
            let (all, data) = vols.get(v.name.as_str()).copied().unwrap_or_default();
            VolumeUsage {
                name: v.name.clone(),
                anonymous: v.anonymous,
                bytes: all.bytes,
                apparent_bytes: data.apparent_bytes,
                containers: dr
                    .containers
                    .iter()
                    .filter(|c| c.volumes.contains(&v.name))
                    .count() as u64,
            }
        })
        .collect();
    // Leases: which pin content with nothing under way.
    let mut leased_ops = 0u64;
    let mut build_leases = 0u64;
    for l in &store.leases {
        let role = lease_role(l, &ids);
        let expires = lease_expiry(l, now_s);
        let age_s = l.created.map(|c| (now_s - c).max(0));
        let leaked = leaked(l, &ids, now_s);
        match role {
            LeaseRole::Operation => leased_ops += 1,
            LeaseRole::BuildKit => build_leases += 1,
            LeaseRole::Container => {}
        }
        findings.leases.push(LeaseReport {
            namespace: l.namespace.clone(),
            id: l.id.clone(),
            role,
            expires_in_seconds: expires,
            age_seconds: age_s,
            holds: (l.content.len() + l.snapshots.len()) as u64,
            leaked,
        });
    }
    // What the leaked leases alone hold is reclaimable by deleting them.
    let leaked: Vec<&crate::model::containerd::Lease> = store
        .leases
        .iter()
        .zip(&findings.leases)
        .filter(|(_, r)| r.leaked)
        .map(|(l, _)| l)
        .collect();
    for l in leaked {
        for d in &l.content {
            let h = d.strip_prefix("sha256:").unwrap_or(d);
            if o.blobs.get(h) == Some(&Use::Lease) {
                lease_ingest_reclaim += blob_use.get(h).map_or(0, |u| u.bytes);
            }
        }
    }
    let get = |c| by_cat.get(&c).copied().unwrap_or_default();
    let img_reclaim: u64 = images
        .iter()
        .filter(|i| i.containers == 0)
        .map(|i| i.unique_bytes)
        .sum();
    let ctr_reclaim: u64 = containers
        .iter()
        .filter(|c| !c.running)
        .map(|c| c.bytes)
        .sum();
    let vol_reclaim: u64 = volumes
        .iter()
        .filter(|v| v.containers == 0)
        .map(|v| v.bytes)
        .sum();
    let categories = vec![
        cat(
            CategoryName::Images,
            &get(CategoryName::Images),
            images.len() as u64,
            img_reclaim,
        ),
        cat(
            CategoryName::Containers,
            &get(CategoryName::Containers),
            containers.len() as u64,
            ctr_reclaim,
        ),
        cat(
            CategoryName::Volumes,
            &get(CategoryName::Volumes),
            volumes.len() as u64,
            vol_reclaim,
        ),
        cat(
            CategoryName::BuildCache,
            &get(CategoryName::BuildCache),
            build_leases,
            get(CategoryName::BuildCache).bytes,
        ),
        cat(
            CategoryName::LeasesIngest,
            &get(CategoryName::LeasesIngest),
            leased_ops + findings.ingest.len() as u64,
            lease_ingest_reclaim,
        ),
        cat(
            CategoryName::Other,
            &get(CategoryName::Other),
            (findings.unreferenced.len() + findings.no_record.len()) as u64,
            0,
        ),
    ];
    top.sort_by_key(|x| std::cmp::Reverse(x.bytes));
    findings
        .unreferenced
        .sort_by_key(|x| std::cmp::Reverse(x.bytes));
    findings
        .no_record
        .sort_by_key(|x| std::cmp::Reverse(x.bytes));
    Audit {
        container_times: super::last_used::from_records(&dr.containers),
        data_root: dr.path.display().to_string(),
        driver: dr.driver.clone(),
        total_bytes: total.bytes,
        total_apparent_bytes: total.apparent_bytes,
        categories,
        images,
        containers,
        volumes,
        top,
        buildkit_db_read: false,
        warnings: Vec::new(),
        missing_figures: false,
        containerd: Some(findings),
        ..Audit::default()
    }
}
