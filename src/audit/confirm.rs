//! The live re-check of orphans a moment after the audit. Safety does not rest on it (a running
//! daemon's layers are never orphans, unnamed dirs must predate it: see `plan` and `classify`); it
//! catches what changed or became referenced during the scan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::classify::classify;
use super::measure::now_ns;
use super::plan::{Candidate, Owner, Verdict, plan};
use super::types::{Audit, CategoryName, ItemKind, Orphan};
use super::walk::{Usage, Walker};
use crate::model::dataroot::{DaemonFact, DataRoot};

/// Without a daemon start time, candidates modified this recently are taken to be under way.
const IN_FLIGHT_WINDOW_NS: i64 = 10 * 60 * 1_000_000_000;

/// Since when, while a daemon runs, a change means "maybe an operation of this daemon": its start
/// (else `tmp/`'s birth, else the last [`IN_FLIGHT_WINDOW_NS`]). None without a daemon.
fn in_flight_since(fresh: &DataRoot, daemon: DaemonFact, now_ns: i64) -> Option<i64> {
    match daemon {
        DaemonFact::Running { started_ns, .. } => Some(
            started_ns
                .or(fresh.listing.tmp_born_ns)
                .unwrap_or(now_ns - IN_FLIGHT_WINDOW_NS),
        ),
        DaemonFact::NotFound => None,
    }
}

/// THE rule "is this still an orphan?", on facts read again: `dredge df` applies it to confirm a live
/// scan ([`confirm_orphans`]), `dredge prune` immediately before it moves anything. Made once from a
/// fresh read ([`Recheck::new`]), then asked about each orphan ([`Recheck::why_not`]) with its
/// `modified_ns` as measured now. Pure: the audit's own [`plan`] (ownership: layerdb cache-ids, mounts'
/// mount-id and init-id, BuildKit's databases, container configs, and containers the engine lists
/// when they were added to `fresh`; metadata in doubt keeps what it could name) and [`classify`]
/// (while a daemon runs, an unnamed dir must predate it), then:
/// - every path of the orphan is still that one candidate's, of the same kind, and the candidate is an
///   orphan (not held by the running daemon);
/// - while a daemon runs, it has not changed since the daemon started.
pub struct Recheck {
    daemon: DaemonFact,
    tmp_born_ns: Option<i64>,
    since: Option<i64>,
    owner: HashMap<PathBuf, Owner>,
    candidates: HashMap<PathBuf, Candidate>,
}

impl Recheck {
    /// The audit's plan of `fresh`, kept for the questions that follow.
    pub fn new(fresh: &DataRoot, daemon: DaemonFact, now_ns: i64) -> Recheck {
        let p = plan(fresh, daemon);
        Recheck {
            daemon,
            tmp_born_ns: fresh.listing.tmp_born_ns,
            since: in_flight_since(fresh, daemon, now_ns),
            owner: p.units.into_iter().map(|u| (u.path, u.owner)).collect(),
            candidates: p
                .candidates
                .into_iter()
                .map(|c| (c.paths[0].clone(), c))
                .collect(),
        }
    }

    /// None when `o` is still an orphan now, else why not.
    pub fn why_not(&self, o: &Orphan, now_ns: i64) -> Option<String> {
        let paths: Vec<&Path> = std::iter::once(&o.path)
            .chain(&o.also)
            .map(Path::new)
            .collect();
        let named = |q: &Path| match self.owner.get(q) {
            Some(Owner::Orphan(_)) | None => format!("{} is no orphan now", q.display()),
            Some(w) => w.describe(),
        };
        let Some(c) = self.candidates.get(paths[0]) else {
            return Some(named(paths[0]));
        };
        let theirs: HashSet<&Path> = c.paths.iter().map(PathBuf::as_path).collect();
        if let Some(q) = paths.iter().find(|q| !theirs.contains(**q)) {
            return Some(named(q));
        }
        if c.kind != o.kind {
            let others: Vec<String> = c
                .paths
                .iter()
                .filter(|q| !paths.contains(&q.as_path()))
                .map(|q| q.display().to_string())
                .collect();
            return Some(format!(
                "now part of a {} with {}",
                c.kind.as_str(),
                others.join(", ")
            ));
        }
        if c.verdict == Verdict::Held {
            return Some(format!(
                "a {} the running daemon holds (it may use it again)",
                c.kind.as_str()
            ));
        }
        if let (Some(since), Some(m)) = (self.since, o.modified_ns)
            && m >= since
        {
            return Some(
                "changed since the running daemon started: it may be an operation under way".into(),
            );
        }
        let sorted = classify(
            vec![(c.clone(), o.clone())],
            self.daemon,
            self.tmp_born_ns,
            now_ns,
        );
        if !sorted.in_flight.is_empty() {
            return Some(
                "changed too close to the running daemon's start: it may be an operation under way"
                    .into(),
            );
        }
        None
    }
}

/// While the engine runs, an operation under way looks like an orphan: an overlay2 dir is filled
/// before its layer is committed, a loaded or pulled layer is committed before the image that names it,
/// a container dir exists before its config. Given a fresh read of the metadata taken after the audit,
/// this moves to `in_flight` every orphan [`recheck`] no longer calls one (now referenced, or modified
/// since the running daemon started: only the daemon's memory may reference it), and every one whose
/// contents changed since it was measured (measured again here). Their bytes move to "other". What
/// stays was left by an earlier daemon process: an interrupted operation's leftovers.
pub fn confirm_orphans(a: &mut Audit, fresh: &DataRoot, daemon: DaemonFact) {
    let now = now_ns();
    let rc = Recheck::new(fresh, daemon, now);
    let Ok(walker) = Walker::new(&fresh.path) else {
        return;
    };
    let none = HashSet::new();
    let (mut keep, mut moved) = (Vec::new(), Vec::new());
    for o in std::mem::take(&mut a.orphans) {
        let why = rc.why_not(&o, now);
        let mut now = Usage::default();
        for p in std::iter::once(&o.path).chain(&o.also) {
            now.add(&walker.measure(Path::new(p), &none, &|_| false).0);
        }
        let changed = now.bytes != o.bytes || now.apparent_bytes != o.apparent_bytes;
        if why.is_some() || changed {
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

#[cfg(test)]
mod tests {
    use super::super::classify::GRACE_NS;
    use super::super::plan::fixture::{RUNNING, container, hex, layer, mount, root};
    use super::super::types::OrphanKind;
    use super::*;
    use crate::model::dataroot::{ConfigState, DaemonEvidence};

    const S: i64 = 1_000_000_000;
    const NOW: i64 = 100_000 * S;

    fn orphan(kind: OrphanKind, path: &str, also: &[&str], modified: i64) -> Orphan {
        Orphan {
            path: path.into(),
            also: also.iter().map(|s| s.to_string()).collect(),
            kind,
            bytes: 1,
            apparent_bytes: 1,
            age_seconds: None,
            modified_ns: Some(modified),
        }
    }
    fn dir(c: char) -> String {
        format!("/r/overlay2/{}", hex(c))
    }
    fn why(dr: &DataRoot, daemon: DaemonFact, o: &Orphan) -> Option<String> {
        Recheck::new(dr, daemon, NOW).why_not(o, NOW)
    }

    /// Every orphan the audit finds (plan, classify and, live, the confirmation) is still one for the
    /// re-check, and every other candidate is not: `dredge df` and `dredge prune` cannot disagree.
    #[test]
    fn the_recheck_accepts_exactly_the_audits_orphans() {
        let running = |start: i64| DaemonFact::Running {
            pid: Some(1),
            started_ns: Some(start),
            evidence: DaemonEvidence::Process,
        };
        let mut dr = root();
        dr.listing.tmp = vec!["docker-import-1".into()];
        dr.containers
            .push(container(&hex('d'), ConfigState::Missing));
        for (daemon, modified) in [
            (DaemonFact::NotFound, NOW),
            (running(NOW - 3600 * S), NOW - 7200 * S),
            (running(NOW - 3600 * S), NOW - 60 * S),
        ] {
            let p = plan(&dr, daemon);
            let measured: Vec<(Candidate, Orphan)> = p
                .candidates
                .iter()
                .map(|c| (c.clone(), c.orphan((1, 1), None, Some(modified))))
                .collect();
            let sorted = classify(measured.clone(), daemon, None, NOW);
            let rc = Recheck::new(&dr, daemon, NOW);
            // Live, `dredge df` then confirms: what changed since the daemon started is under way.
            let ok: HashSet<String> = sorted
                .orphans
                .iter()
                .filter(|_| !daemon.running() || modified < NOW - 3600 * S)
                .map(|o| o.path.clone())
                .collect();
            assert!(!measured.is_empty());
            for (_, o) in &measured {
                assert_eq!(
                    rc.why_not(o, NOW).is_none(),
                    ok.contains(&o.path),
                    "{daemon:?} {}: {:?}",
                    o.path,
                    rc.why_not(o, NOW)
                );
            }
        }
    }

    #[test]
    fn an_orphan_that_gained_a_reference_is_no_longer_one() {
        let free = orphan(OrphanKind::UnreferencedDir, &dir('9'), &[], NOW);
        let dr = root();
        assert_eq!(why(&dr, DaemonFact::NotFound, &free), None);
        // A live layer's cache-id now names it.
        let mut d = root();
        d.layers
            .insert(hex('b'), layer(&hex('b'), &hex('9'), Some(&hex('a'))));
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("cache-id of layer"), "{w}");
        // A new layer record no image reaches names it: now part of an unreferenced layer.
        let mut d = root();
        d.layers.insert(hex('7'), layer(&hex('7'), &hex('9'), None));
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("now part of a unreferenced-layer"), "{w}");
        // A container's mount.
        let mut d = root();
        d.mounts.push(mount(&hex('f'), &hex('9'), Some(&hex('b'))));
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("container"), "{w}");
        // BuildKit's database names it.
        let mut d = root();
        d.listing.buildkit_names.insert(hex('9'));
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("BuildKit"), "{w}");
        // A reference that cannot be read keeps every unnamed dir.
        let mut d = root();
        d.unknowns.dir_refs = true;
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("in doubt"), "{w}");
        // Gone from the listing (renamed, deleted): no candidate any more.
        let mut d = root();
        d.listing.overlay2.retain(|n| *n != hex('9'));
        assert!(why(&d, DaemonFact::NotFound, &free).is_some());
    }

    #[test]
    fn a_removal_whose_dir_is_named_again_keeps_the_dir() {
        let mut d = root();
        d.layers.remove(&hex('c'));
        let rec = format!("/r/image/overlay2/layerdb/sha256/{}-1-removing", hex('c'));
        d.listing.removing = vec![(format!("{}-1-removing", hex('c')), Some(hex('3')))];
        let o = orphan(OrphanKind::RemovingLayer, &dir('3'), &[&rec], NOW);
        assert_eq!(why(&d, DaemonFact::NotFound, &o), None);
        // The live image's layer b now names dir 3: the record alone is a candidate.
        d.layers
            .insert(hex('b'), layer(&hex('b'), &hex('3'), Some(&hex('a'))));
        let w = why(&d, DaemonFact::NotFound, &o).unwrap();
        assert!(w.contains("cache-id of layer"), "{w}");
    }

    #[test]
    fn a_running_daemon_holds_chains_and_its_recent_changes() {
        let chain = orphan(
            OrphanKind::UnreferencedLayer,
            &dir('3'),
            &[&format!("/r/image/overlay2/layerdb/sha256/{}", hex('c'))],
            0,
        );
        assert_eq!(why(&root(), DaemonFact::NotFound, &chain), None);
        let w = why(&root(), RUNNING, &chain).unwrap();
        assert!(w.contains("holds"), "{w}");
        let start = NOW - 3600 * S;
        let running = DaemonFact::Running {
            pid: Some(1),
            started_ns: Some(start),
            evidence: DaemonEvidence::Process,
        };
        let at = |m: i64| orphan(OrphanKind::UnreferencedDir, &dir('9'), &[], m);
        assert_eq!(why(&root(), running, &at(start - GRACE_NS - 1)), None);
        let w = why(&root(), running, &at(start - GRACE_NS + 1)).unwrap();
        assert!(w.contains("too close"), "{w}");
        let w = why(&root(), running, &at(start)).unwrap();
        assert!(w.contains("since the running daemon started"), "{w}");
        // A tmp/ leftover changed since the start: under way too (the live confirmation's rule).
        let mut d = root();
        d.listing.tmp = vec!["docker-import-1".into()];
        let t = |m| orphan(OrphanKind::Tmp, "/r/tmp/docker-import-1", &[], m);
        assert_eq!(why(&d, running, &t(start - 1)), None);
        assert!(why(&d, running, &t(start + 1)).is_some());
    }

    #[test]
    fn a_container_the_engine_lists_is_never_an_orphan() {
        let mut d = root();
        d.containers
            .push(container(&hex('d'), ConfigState::Missing));
        let o = orphan(
            OrphanKind::UnknownContainerDir,
            &format!("/r/containers/{}", hex('d')),
            &[],
            NOW,
        );
        assert_eq!(why(&d, DaemonFact::NotFound, &o), None);
        let ids: HashSet<String> = [hex('d'), hex('8')].into_iter().collect();
        super::super::plan::with_engine_containers(&mut d, &ids);
        assert!(why(&d, DaemonFact::NotFound, &o).is_some());
        // A mount whose container only the engine knows so far: its dirs are the container's.
        d.mounts.push(mount(&hex('8'), &hex('9'), None));
        let free = orphan(OrphanKind::UnreferencedDir, &dir('9'), &[], NOW);
        let w = why(&d, DaemonFact::NotFound, &free).unwrap();
        assert!(w.contains("container"), "{w}");
    }
}
