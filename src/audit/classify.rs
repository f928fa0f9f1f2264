//! After measuring: which candidates are orphans, which are held by the running daemon, which are
//! under way. A pure function of the candidates' measured ages, the daemon fact and the time now.

use super::plan::{Candidate, Verdict};
use super::types::{Orphan, OrphanKind};
use crate::model::dataroot::DaemonFact;

/// While a daemon runs, an overlay2 dir no record names is an orphan only when nothing in it changed
/// since this long before the daemon started: a pull, load, build or commit fills a dir before it
/// writes the record naming it, so only what predates the daemon is surely no operation of its. The
/// margin covers the start time's imprecision (`<root>/tmp`'s birth, the fallback, comes a moment
/// after the process starts).
pub const GRACE_NS: i64 = 10 * 1_000_000_000;

/// Where each measured candidate goes.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    pub orphans: Vec<Orphan>,
    pub in_flight: Vec<Orphan>,
    pub held: Vec<Orphan>,
}

/// Sorts measured candidates. `tmp_born_ns` stands in for the daemon's start when its process is not
/// known (dockerd re-creates `<root>/tmp` at every start).
pub(crate) fn classify(
    measured: Vec<(Candidate, Orphan)>,
    daemon: DaemonFact,
    tmp_born_ns: Option<i64>,
    now_ns: i64,
) -> Sorted {
    let mut s = Sorted::default();
    let started = match daemon {
        DaemonFact::Running { started_ns, .. } => Some(started_ns.or(tmp_born_ns)),
        DaemonFact::NotFound => None,
    };
    for (c, o) in measured {
        match (c.verdict, started) {
            (Verdict::Held, _) => s.held.push(o),
            (Verdict::Orphan, Some(started)) if c.kind == OrphanKind::UnreferencedDir => {
                let old = match (o.modified_ns, started) {
                    (Some(m), Some(st)) => m < st - GRACE_NS && m < now_ns - GRACE_NS,
                    _ => false,
                };
                if old {
                    s.orphans.push(o);
                } else {
                    s.in_flight.push(o);
                }
            }
            (Verdict::Orphan, _) => s.orphans.push(o),
        }
    }
    let by_size = |v: &mut Vec<Orphan>| {
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
    };
    by_size(&mut s.orphans);
    by_size(&mut s.in_flight);
    by_size(&mut s.held);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dataroot::DaemonEvidence;
    use std::path::PathBuf;

    const S: i64 = 1_000_000_000;

    fn cand(kind: OrphanKind, verdict: Verdict, modified: Option<i64>) -> (Candidate, Orphan) {
        (
            Candidate {
                paths: vec![PathBuf::from("/r/x")],
                kind,
                verdict,
            },
            Orphan {
                path: format!("/r/{}", kind.as_str()),
                also: vec![],
                kind,
                bytes: 1,
                apparent_bytes: 1,
                age_seconds: None,
                modified_ns: modified,
            },
        )
    }

    fn running(started: Option<i64>) -> DaemonFact {
        DaemonFact::Running {
            pid: Some(1),
            started_ns: started,
            evidence: DaemonEvidence::Process,
        }
    }

    #[test]
    fn offline_every_candidate_is_an_orphan() {
        let now = 10_000 * S;
        let v = vec![
            cand(OrphanKind::UnreferencedDir, Verdict::Orphan, Some(now)),
            cand(OrphanKind::UnreferencedLayer, Verdict::Orphan, Some(now)),
        ];
        let s = classify(v, DaemonFact::NotFound, None, now);
        assert_eq!(s.orphans.len(), 2);
    }

    #[test]
    fn live_unnamed_dir_must_predate_the_daemon_and_the_grace_period() {
        let now = 100_000 * S;
        let start = now - 3600 * S;
        let dirs = |m| cand(OrphanKind::UnreferencedDir, Verdict::Orphan, Some(m));
        // Older than the start and the grace period: orphan.
        let s = classify(vec![dirs(start - 60 * S)], running(Some(start)), None, now);
        assert_eq!((s.orphans.len(), s.in_flight.len()), (1, 0));
        // Since the daemon started (even long ago): under way as far as we know.
        let s = classify(vec![dirs(start + S)], running(Some(start)), None, now);
        assert_eq!((s.orphans.len(), s.in_flight.len()), (0, 1));
        // Older than the start, but within the grace period before it.
        let s = classify(vec![dirs(start - 5 * S)], running(Some(start)), None, now);
        assert_eq!(s.in_flight.len(), 1);
        // Start unknown and no tmp/ birth time: never an orphan while the daemon runs.
        let s = classify(vec![dirs(0)], running(None), None, now);
        assert_eq!(s.in_flight.len(), 1);
        // tmp/'s birth time stands in for the start.
        let s = classify(vec![dirs(start - 60 * S)], running(None), Some(start), now);
        assert_eq!(s.orphans.len(), 1);
        // No modification time: not an orphan.
        let s = classify(
            vec![cand(OrphanKind::UnreferencedDir, Verdict::Orphan, None)],
            running(Some(start)),
            None,
            now,
        );
        assert_eq!(s.in_flight.len(), 1);
    }

    #[test]
    fn held_candidates_are_never_orphans_and_leftovers_always_are() {
        let now = 100_000 * S;
        let v = vec![
            cand(OrphanKind::UnreferencedLayer, Verdict::Held, Some(0)),
            cand(OrphanKind::UnreferencedMount, Verdict::Held, Some(0)),
            cand(OrphanKind::RemovingLayer, Verdict::Orphan, Some(now)),
            cand(OrphanKind::Tmp, Verdict::Orphan, Some(now)),
            cand(OrphanKind::LayerdbTmp, Verdict::Orphan, Some(now)),
            cand(OrphanKind::UnknownContainerDir, Verdict::Orphan, Some(now)),
        ];
        let s = classify(v, running(Some(0)), None, now);
        assert_eq!(s.held.len(), 2);
        assert_eq!(s.orphans.len(), 4);
    }
}
