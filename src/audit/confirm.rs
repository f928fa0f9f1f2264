//! The live re-check of orphans a moment after the audit. Safety does not rest on it (a running
//! daemon's layers are never orphans, unnamed dirs must predate it: see `plan` and `classify`); it
//! catches what changed or became referenced during the scan.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::measure::now_ns;
use super::plan::{Verdict, plan};
use super::types::{Audit, CategoryName, ItemKind};
use super::walk::{Usage, Walker};
use crate::model::dataroot::{DaemonFact, DataRoot};

/// Without a daemon start time, candidates modified this recently are taken to be under way.
const IN_FLIGHT_WINDOW_NS: i64 = 10 * 60 * 1_000_000_000;

/// While the engine runs, an operation under way looks like an orphan: an overlay2 dir is filled
/// before its layer is committed, a loaded or pulled layer is committed before the image that names it,
/// a container dir exists before its config. Given a fresh read of the metadata taken after the audit,
/// this moves to `in_flight` every orphan that is now referenced, whose contents changed since it was
/// measured (measured again here), or that was modified since the running daemon started (only the
/// daemon's memory may reference it). Their bytes move to "other". What stays was left by an earlier
/// daemon process: an interrupted operation's leftovers.
pub fn confirm_orphans(a: &mut Audit, fresh: &DataRoot, daemon: DaemonFact) {
    let started = match daemon {
        DaemonFact::Running { started_ns, .. } => started_ns,
        DaemonFact::NotFound => None,
    };
    let since = started
        .or(fresh.listing.tmp_born_ns)
        .unwrap_or(now_ns() - IN_FLIGHT_WINDOW_NS);
    // The orphans a fresh plan still finds; anything else became referenced meanwhile.
    let still: HashSet<PathBuf> = plan(fresh, daemon)
        .candidates
        .into_iter()
        .filter(|c| c.verdict == Verdict::Orphan)
        .map(|c| c.paths[0].clone())
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
            CategoryName::Orphans => {
                c.bytes -= moved_bytes;
                c.apparent_bytes -= moved_apparent;
                c.reclaimable_bytes -= moved_bytes;
                c.count -= moved.len() as u64;
            }
            CategoryName::Other => {
                c.bytes += moved_bytes;
                c.apparent_bytes += moved_apparent;
            }
            _ => {}
        }
    }
    let moved_paths: HashSet<&str> = moved.iter().map(|o| o.path.as_str()).collect();
    for i in &mut a.top {
        if i.kind == ItemKind::Orphan && moved_paths.contains(i.name.as_str()) {
            i.kind = ItemKind::InFlight;
        }
    }
    a.orphans = keep;
    a.in_flight.extend(moved);
    a.in_flight
        .sort_by(|x, y| y.bytes.cmp(&x.bytes).then(x.path.cmp(&y.path)));
}
