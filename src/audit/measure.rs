//! `audit`: plans ownership ([`plan`](super::plan)), measures every unit once (layers from `--cache`
//! when it has them), sorts the orphan candidates ([`classify`](super::classify)) and assembles the
//! accounting ([`assemble`](super::assemble)).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::assemble::assemble;
use super::cache;
use super::classify::classify;
use super::plan::{Owner, Part, plan};
use super::types::Audit;
use super::walk::{self, Usage, Walker};
use crate::model::dataroot::{DaemonFact, DataRoot};

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

/// True for a log entry directly under `containers/<id>/`: json-file's `<id>-json.log` and its rotated
/// `.1`, `.2.gz`…, or the local driver's `local-logs/` directory.
pub(crate) fn is_log(name: &OsStr, id: &str) -> bool {
    name == "local-logs"
        || name.to_str().is_some_and(|n| {
            n.strip_prefix(id)
                .is_some_and(|r| r.starts_with("-json.log"))
        })
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Measures the data root and gives every byte to one category. `daemon` says whether a daemon uses
/// the root (then unreferenced layers it holds are not orphans). `progress(done, total)` is called as
/// directories are measured.
pub fn audit(
    dr: &DataRoot,
    daemon: DaemonFact,
    opts: AuditOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Audit {
    let mut warnings = dr.warnings.clone();
    let mut missing = dr.missing_figures;
    let plan = plan(dr, daemon);
    let prune: HashSet<PathBuf> = plan.units.iter().map(|u| u.path.clone()).collect();
    let walker = match Walker::new(&dr.path) {
        Ok(w) => w,
        Err(e) => {
            warnings.push(format!("{}: {e}", dr.path.display()));
            return Audit {
                data_root: dr.path.display().to_string(),
                driver: dr.driver.clone(),
                warnings,
                missing_figures: true,
                ..Audit::default()
            };
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
    type PartFn = Box<dyn Fn(&OsStr) -> bool + Sync>;
    let parts: Vec<PartFn> = to_walk
        .iter()
        .map(|&i| {
            let u = &plan.units[i];
            let f: PartFn = match (&u.part, &u.owner) {
                (Part::Diff, _) => Box::new(|n: &OsStr| n == "diff"),
                (Part::VolumeData, _) => Box::new(|n: &OsStr| n == "_data"),
                (Part::Logs, Owner::ContainerDir(id)) => {
                    let id = id.clone();
                    Box::new(move |n: &OsStr| is_log(n, &id))
                }
                _ => Box::new(|_: &OsStr| false),
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
    if let Some(w) = walker.error_warning() {
        missing = true;
        warnings.push(w);
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
    // Orphan candidates, measured, then sorted into orphans, held and under way.
    let now = now_ns();
    let mut use_of: Vec<Usage> = vec![Usage::default(); plan.candidates.len()];
    for (u, (all, _)) in plan.units.iter().zip(&results) {
        if let Owner::Orphan(i) = u.owner {
            use_of[i].add(all);
        }
    }
    let measured_candidates: Vec<_> = plan
        .candidates
        .iter()
        .zip(&use_of)
        .map(|(c, u)| {
            let age = u.newest.map(|t| ((now - t).max(0) / 1_000_000_000) as u64);
            let o = c.orphan((u.bytes, u.apparent_bytes), age, u.newest);
            (c.clone(), o)
        })
        .collect();
    let sorted = classify(measured_candidates, daemon, dr.listing.tmp_born_ns, now);
    let mut a = assemble(dr, &plan, &results, sorted);
    for q in &mut a.quarantine {
        q.age_seconds = q
            .modified_ns
            .map(|t| ((now - t).max(0) / 1_000_000_000) as u64);
    }
    a.buildkit_db_read = dr.listing.buildkit_db_read;
    a.cached_layers = hits;
    a.warnings = warnings;
    a.missing_figures = missing;
    a.fresh_cache = fresh_cache;
    a.daemon = Some(daemon);
    a
}
