//! `--orphans` on the containerd image store: leaked leases and `ingest/` leftovers, deleted through
//! containerd's API (never a file removed under containerd's root).
//!
//! containerd collects what nothing references, so the orphans here are what pins space with
//! nothing under way (`dredge df`'s `containerd` findings):
//! - a **lease** of a client operation ([`LeaseRole::Operation`]: not a container's, not BuildKit's)
//!   that expired (`containerd.io/gc.expire` in the past), or that has no expiry and was created
//!   longer ago than `--grace` (moby #48909). Its bytes are what it alone holds: the content blobs,
//!   snapshot directories and ingest leftovers that nothing else (image, container, BuildKit, another
//!   lease) reaches, found with the audit's own ownership rule ([`own`]) with and without the lease.
//!   It goes with `Leases.Delete` and `sync`, so containerd collects what it held before answering;
//! - an **ingest** leftover (an unfinished download or load under `ingest/`) with an ingest record,
//!   held by no lease and unchanged for `--grace`: `Content.Abort` of its ref.
//!
//! Only namespace `moby` (dockerd's) is pruned. Unexpired operation leases (a pull or load under
//! way), containers' and BuildKit's leases, and other namespaces' (other clients of a system
//! containerd) are kept with the reason. Neither kind is quarantined: `--undo` cannot bring them back, and the plan's rule
//! and the result say so.
//!
//! Decisions ([`decide`], [`recheck`], [`held_alone`]) are pure over [`StoreFacts`]; [`gather`] reads
//! the store (lock-free, `source::containerd::read`) and measures; [`locate`] proves the store and
//! its containerd's socket; [`Applier::step`] applies one item, journaled.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::engine::{Engine, now, now_ns};
use super::journal::{Action, Journal, Outcome as JOutcome};
use super::plan::{Item, Kept, Plan, StoreRef, human_secs};
use super::recheck::{Verdict, past_grace};
use super::{Kind, PruneError};
use crate::model::containerd::{
    CtrdStore, Lease, LeaseRole, LeaseState, Use, lease_role, lease_state, own,
};
use crate::source::containerd::{self, CONTENT, DAEMON_ROOT, OVERLAYFS};
use crate::source::containerd_api::{Client, NAMESPACE};

/// Said of every lease and ingest item: they are deleted, not quarantined.
pub const NO_UNDO: &str = "deleted through containerd's API: --undo cannot restore it";

/// What the plan and the re-check decide on: the store as read, and the sizes measured.
#[derive(Debug, Clone, Default)]
pub struct StoreFacts {
    /// The store, read lock-free.
    pub store: CtrdStore,
    /// The engine's container ids (their leases are containers').
    pub containers: HashSet<String>,
    /// Allocated bytes of the content blobs (by hex) that some operation lease alone holds.
    pub blob_bytes: HashMap<String, u64>,
    /// Allocated bytes of the snapshot dirs that some operation lease alone holds.
    pub snap_bytes: HashMap<String, u64>,
    /// Per `ingest/` dir name: allocated bytes and newest modification inside (ns).
    pub ingest: HashMap<String, (u64, Option<i64>)>,
    /// Seconds since the epoch.
    pub now: i64,
    /// Nanoseconds since the epoch.
    pub now_ns: i64,
}

/// What one operation lease alone holds (nothing else reaches it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// Content blobs (hex).
    pub blobs: Vec<String>,
    /// Snapshot dirs.
    pub snaps: Vec<String>,
    /// `ingest/` dir names.
    pub ingests: Vec<String>,
}

/// containerd names an ingest dir by the sha256 of the content store's own ref.
pub fn ingest_dir_name(backend_ref: &str) -> String {
    crate::model::hex(&sha2::Sha256::digest(backend_ref.as_bytes()))
}

/// `(namespace, ref)` of the ingest record whose data is `ingest/<dir>`.
fn record_of<'a>(s: &'a CtrdStore, dir: &str) -> Option<(&'a str, &'a str)> {
    s.ingest_records.iter().find_map(|(ns, r, backend)| {
        (ingest_dir_name(backend.as_deref()?) == dir).then_some((ns.as_str(), r.as_str()))
    })
}

/// The `ingest/` dir of ingest record `(ns, reference)`.
fn dir_of(s: &CtrdStore, ns: &str, reference: &str) -> Option<String> {
    s.ingest_records
        .iter()
        .find(|(n, r, _)| n == ns && r == reference)
        .and_then(|(_, _, b)| b.as_deref())
        .map(ingest_dir_name)
}

/// Per operation lease `(namespace, id)`: what it alone holds. Pure: the audit's ownership
/// ([`own`]) with the lease, and without it; what goes from "a lease holds it" to "unreferenced" is
/// that lease's alone. Its ingests: the refs no other lease of its namespace holds.
pub fn held_alone(s: &CtrdStore, containers: &HashSet<String>) -> HashMap<(String, String), Held> {
    let base = own(s, containers);
    let mut out = HashMap::new();
    for (i, l) in s.leases.iter().enumerate() {
        if lease_role(l, containers) != LeaseRole::Operation {
            continue;
        }
        let mut without = s.clone();
        without.leases.remove(i);
        let o = own(&without, containers);
        let freed = |b: &HashMap<String, Use>, a: &HashMap<String, Use>| {
            let mut v: Vec<String> = b
                .iter()
                .filter(|(k, u)| **u == Use::Lease && a.get(*k) == Some(&Use::Unreferenced))
                .map(|(k, _)| k.clone())
                .collect();
            v.sort();
            v
        };
        let mut ingests: Vec<String> =
            l.ingests
                .iter()
                .filter(|r| {
                    !s.leases.iter().enumerate().any(|(j, m)| {
                        j != i && m.namespace == l.namespace && m.ingests.contains(*r)
                    })
                })
                .filter_map(|r| dir_of(s, &l.namespace, r))
                .collect();
        ingests.sort();
        out.insert(
            (l.namespace.clone(), l.id.clone()),
            Held {
                blobs: freed(&base.blobs, &o.blobs),
                snaps: freed(&base.snapshots, &o.snapshots),
                ingests,
            },
        );
    }
    out
}

/// Whether a lease is leaked (`Ok(the rule)`) or kept (`Err(the reason)`), by the audit's rule
/// ([`lease_state`]) with `--grace`. Pure.
pub fn lease_decision(
    l: &Lease,
    containers: &HashSet<String>,
    grace: u64,
    now: i64,
) -> Result<String, String> {
    let t = |s: i64| human_secs(s.unsigned_abs());
    match lease_state(l, containers, grace, now) {
        LeaseState::Expired(s) => Ok(format!("leaked lease: expired {} ago", t(s))),
        LeaseState::Stale(s) => Ok(format!(
            "leaked lease: no expiry, created {} ago (--grace {})",
            t(s),
            human_secs(grace)
        )),
        LeaseState::Pending(s) => Err(format!(
            "expires in {}: a pull, load or other operation may be under way",
            t(s)
        )),
        LeaseState::Young(s) => Err(format!(
            "no expiry, created {} ago, within --grace: an operation may be under way",
            t(s)
        )),
        LeaseState::BadExpiry => Err(format!(
            "its containerd.io/gc.expire {:?} is not a time: its state is unknown",
            l.labels
                .get("containerd.io/gc.expire")
                .map_or("", String::as_str)
        )),
        LeaseState::NoAge => Err("no expiry and no creation time: its age is unknown".into()),
        LeaseState::Container => Err(
            "a container's lease (its writable layer): it goes with the container \
             (--stopped-containers)"
                .into(),
        ),
        LeaseState::BuildKit => {
            Err("BuildKit's lease: build cache, pruned through the engine (--build-cache)".into())
        }
    }
}

fn bytes_of(f: &StoreFacts, h: &Held) -> u64 {
    h.blobs
        .iter()
        .map(|b| f.blob_bytes.get(b).copied().unwrap_or(0))
        .chain(
            h.snaps
                .iter()
                .map(|d| f.snap_bytes.get(d).copied().unwrap_or(0)),
        )
        .chain(h.ingests.iter().map(|i| f.ingest.get(i).map_or(0, |x| x.0)))
        .sum()
}

/// Why an ingest leftover is kept (`Err`), or the rule that plans it. Pure.
fn ingest_decision(
    f: &StoreFacts,
    ns: &str,
    reference: &str,
    dir: &str,
    grace: u64,
) -> Result<String, String> {
    let holders: Vec<&Lease> = f
        .store
        .leases
        .iter()
        .filter(|l| l.namespace == ns && l.ingests.iter().any(|r| r == reference))
        .collect();
    if let Some(l) = holders.first() {
        return Err(match lease_decision(l, &f.containers, grace, f.now) {
            Ok(_) => format!("held by the leaked lease {}: it goes with that lease", l.id),
            Err(_) => format!(
                "held by the lease {}: a pull or load may be under way",
                l.id
            ),
        });
    }
    let modified = f.ingest.get(dir).and_then(|x| x.1);
    if !past_grace(modified, f.now_ns, grace) {
        return Err(format!(
            "changed less than {} ago (--grace): a write may be under way",
            human_secs(grace)
        ));
    }
    Ok(format!(
        "ingest leftover held by no lease, unchanged for {}",
        human_secs(grace)
    ))
}

/// The leases and ingest leftovers to delete, and what is kept with the reason. Pure.
pub fn decide(f: &StoreFacts, grace: u64) -> (Vec<Item>, Vec<Kept>) {
    let mut items = Vec::new();
    let mut kept = Vec::new();
    let held = held_alone(&f.store, &f.containers);
    for l in &f.store.leases {
        if l.namespace != NAMESPACE {
            kept.push(Kept {
                kind: Kind::Lease,
                id: l.id.clone(),
                reason: format!("in namespace {}, not dockerd's ({NAMESPACE})", l.namespace),
            });
            continue;
        }
        match lease_decision(l, &f.containers, grace, f.now) {
            Ok(rule) => {
                let h = held
                    .get(&(l.namespace.clone(), l.id.clone()))
                    .cloned()
                    .unwrap_or_default();
                let mut it = Item::new(
                    Kind::Lease,
                    &l.id,
                    bytes_of(f, &h),
                    format!("{rule}; {NO_UNDO}"),
                );
                it.store = Some(StoreRef {
                    namespace: l.namespace.clone(),
                    created: l.created,
                    path: None,
                });
                items.push(it);
            }
            Err(reason) => kept.push(Kept {
                kind: Kind::Lease,
                id: l.id.clone(),
                reason,
            }),
        }
    }
    let ingest_root = f.store.root.join(CONTENT).join("ingest");
    let mut dirs = f.store.ingest_dirs.clone();
    dirs.sort();
    for dir in &dirs {
        let path = ingest_root.join(dir).display().to_string();
        let Some((ns, reference)) = record_of(&f.store, dir) else {
            kept.push(Kept {
                kind: Kind::Ingest,
                id: path,
                reason: if f.store.unreadable_db {
                    "the store's records could not be read".into()
                } else {
                    "no ingest record names it: containerd's API cannot abort it".into()
                },
            });
            continue;
        };
        if ns != NAMESPACE {
            kept.push(Kept {
                kind: Kind::Ingest,
                id: reference.to_string(),
                reason: format!("in namespace {ns}, not dockerd's ({NAMESPACE})"),
            });
            continue;
        }
        match ingest_decision(f, ns, reference, dir, grace) {
            Ok(rule) => {
                let (bytes, modified) = f.ingest.get(dir).copied().unwrap_or((0, None));
                let mut it =
                    Item::new(Kind::Ingest, reference, bytes, format!("{rule}; {NO_UNDO}"));
                it.modified_ns = modified;
                it.store = Some(StoreRef {
                    namespace: ns.to_string(),
                    created: None,
                    path: Some(path),
                });
                items.push(it);
            }
            Err(reason) => kept.push(Kept {
                kind: Kind::Ingest,
                id: reference.to_string(),
                reason,
            }),
        }
    }
    (items, kept)
}

/// The re-check of one planned lease or ingest against the store read again now. Pure.
pub fn recheck(item: &Item, f: &StoreFacts, grace: u64) -> Verdict {
    let Some(sr) = &item.store else {
        return Verdict::Skip("the plan does not say which namespace it is in".into());
    };
    let go = Verdict::Go { untag: Vec::new() };
    match item.kind {
        Kind::Lease => {
            let Some(l) = f
                .store
                .leases
                .iter()
                .find(|l| l.namespace == sr.namespace && l.id == item.id)
            else {
                return Verdict::Gone;
            };
            if l.created != sr.created {
                return Verdict::Skip(
                    "another lease behind the same id (its creation time differs)".into(),
                );
            }
            match lease_decision(l, &f.containers, grace, f.now) {
                Ok(_) => go,
                Err(why) => Verdict::Skip(format!("not leaked any more: {why}")),
            }
        }
        Kind::Ingest => {
            let Some(dir) = dir_of(&f.store, &sr.namespace, &item.id) else {
                return Verdict::Gone;
            };
            if !f.store.ingest_dirs.contains(&dir) {
                return Verdict::Gone;
            }
            if f.ingest.get(&dir).and_then(|x| x.1) != item.modified_ns {
                return Verdict::Skip("written to since planning".into());
            }
            match ingest_decision(f, &sr.namespace, &item.id, &dir, grace) {
                Ok(_) => go,
                Err(why) => Verdict::Skip(why),
            }
        }
        _ => Verdict::Skip("not an item of the containerd store".into()),
    }
}

/// Reads the store under `root` (lock-free) and measures what the decisions need: the blobs and
/// snapshot dirs operation leases alone hold, and every `ingest/` dir.
pub fn gather(root: &Path, containers: HashSet<String>) -> StoreFacts {
    let store = containerd::read(root);
    let held = held_alone(&store, &containers);
    let mut f = StoreFacts {
        containers,
        now: now(),
        now_ns: now_ns(),
        ..StoreFacts::default()
    };
    let blobs = root.join(CONTENT).join("blobs/sha256");
    let snaps = root.join(OVERLAYFS).join("snapshots");
    for h in held.values() {
        for b in &h.blobs {
            f.blob_bytes
                .insert(b.clone(), super::orphans::allocated(&blobs.join(b)));
        }
        for d in &h.snaps {
            f.snap_bytes
                .insert(d.clone(), super::orphans::allocated(&snaps.join(d)));
        }
    }
    let ingest = root.join(CONTENT).join("ingest");
    for d in &store.ingest_dirs {
        let p = ingest.join(d);
        f.ingest.insert(
            d.clone(),
            (
                super::orphans::allocated(&p),
                super::orphans::newest_mtime(&[p.display().to_string()]),
            ),
        );
    }
    f.store = store;
    f
}

/// The containerd store of the engine and the socket of its containerd, both proven.
#[derive(Debug, Clone)]
pub struct Location {
    /// `<data root>/containerd/daemon`, as read from here.
    pub store_root: PathBuf,
    /// containerd's socket, as reached from here.
    pub socket: PathBuf,
}

/// Proves the engine's data root (`root_dir`, `engine_id` from its `/info`: the dockerd serving
/// `DOCKER_HOST`, seen through its root; read only, so another mount namespace is fine) and the socket
/// of the containerd that serves its store: dockerd's own (`containerd_api::find_socket`), or the
/// system containerd it names (`syscontainerd::prove`). `Err`: why not, one line.
pub fn locate(root_dir: &str, engine_id: &str) -> Result<Location, String> {
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let p = crate::source::dataroot::prove_live_root(&host, Some(root_dir), Some(engine_id))
        .map_err(|e| format!("the engine's data root is not proven: {e}"))?;
    let pid = p.pid.ok_or("no dockerd process serves the engine")?;
    // A system containerd (dockerd's --containerd, or "containerd" in its daemon.json): its root and
    // the containerd listening on the socket dockerd names, proven by `syscontainerd::prove`.
    if let Some(sock) = crate::source::syscontainerd::socket_of_dockerd(pid) {
        let proof = crate::source::syscontainerd::prove(pid, &sock)
            .map_err(|e| format!("the system containerd's root is not proven: {e}"))?;
        let cpid = proof
            .pid
            .ok_or("no containerd process listens on its socket")?;
        let socket = crate::source::containerd_api::reachable(pid, cpid, &sock)
            .map_err(|e| format!("containerd pid {cpid}: {e}"))?;
        return Ok(Location {
            store_root: proof.path,
            socket,
        });
    }
    let store_root = p.path.join(DAEMON_ROOT);
    let socket = crate::source::containerd_api::find_socket(pid, &store_root)
        .map_err(|e| format!("the socket of the store's containerd is not proven: {e}"))?;
    Ok(Location { store_root, socket })
}

/// `--orphans` on the containerd store, live: adds its leases and ingest leftovers to the plan (made
/// for the engine `p.engine_id` at `p.data_root`). Not proven: nothing planned, one warning.
pub fn add_to_plan(p: &mut Plan, engine: &Engine, grace: u64, warnings: &mut Vec<String>) {
    let loc = match locate(&p.data_root, &p.engine_id) {
        Ok(l) => l,
        Err(why) => {
            warnings.push(format!(
                "--orphans on the containerd image store: {why}; no lease or ingest leftover is planned"
            ));
            return;
        }
    };
    let containers = match engine.container_ids() {
        Ok(c) => c,
        Err(e) => {
            warnings.push(format!(
                "--orphans on the containerd image store: {e}; no lease or ingest leftover is planned"
            ));
            return;
        }
    };
    let f = gather(&loc.store_root, containers);
    warnings.extend(f.store.warnings.iter().cloned());
    let (items, kept) = decide(&f, grace);
    p.total_bytes += items.iter().map(|i| i.bytes).sum::<u64>();
    p.items.extend(items);
    p.kept.extend(kept);
}

/// What applying items of the containerd store needs, found at the first such item.
pub struct Applier {
    at: Result<(Location, Client), String>,
}

impl Applier {
    /// Proves the store and its containerd again, for the plan's engine.
    pub fn new(plan: &Plan) -> Applier {
        Applier {
            at: locate(&plan.data_root, &plan.engine_id).map(|l| {
                let c = Client::new(&l.socket, crate::source::containerd_api::NAMESPACE);
                (l, c)
            }),
        }
    }

    /// Applies one lease or ingest item: re-reads the store (lock-free) and re-checks it, then
    /// deletes it through containerd's API, journaled (intent before, done after).
    pub fn step(
        &self,
        en: &Engine,
        j: &mut Journal,
        item: &Item,
        grace: u64,
    ) -> Result<Applied, PruneError> {
        let (loc, client) = match &self.at {
            Ok(x) => x,
            Err(why) => return Ok(Applied::Skipped(why.clone())),
        };
        let containers = match en.container_ids() {
            Ok(c) => c,
            Err(e) => return Ok(Applied::Skipped(e.to_string())),
        };
        let fresh = gather(&loc.store_root, containers);
        match recheck(item, &fresh, grace) {
            Verdict::Gone => return Ok(Applied::Gone),
            Verdict::Skip(why) => return Ok(Applied::Skipped(why)),
            Verdict::Go { .. } => {}
        }
        let ns = item
            .store
            .as_ref()
            .map_or(crate::source::containerd_api::NAMESPACE, |s| {
                s.namespace.as_str()
            });
        let client = client.in_namespace(ns);
        let action = match item.kind {
            Kind::Lease => Action::Delete,
            _ => Action::Abort,
        };
        let step = j.intent(item.kind, &item.id, action, Some(ns), None)?;
        let done = match item.kind {
            Kind::Lease => client.delete_lease(&item.id, true),
            _ => client.abort_ingest(&item.id),
        };
        Ok(match done {
            Ok(()) => {
                j.done(step, JOutcome::Done, None)?;
                Applied::Done
            }
            Err(e) if e.not_found() => {
                j.done(step, JOutcome::Skipped, Some("already gone".into()))?;
                Applied::Gone
            }
            Err(e) => {
                let m = e.to_string();
                j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                Applied::Skipped(m)
            }
        })
    }
}

/// How one item went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Deleted (a lease) or aborted (an ingest).
    Done,
    /// Already gone.
    Gone,
    /// Left, for this reason.
    Skipped(String),
}

/// An interrupted step on a lease or ingest (`namespace` from the journal's `reference`): done when
/// the store, read again, no longer has it. For `journal::recover`.
pub fn settle(
    kind: Kind,
    id: &str,
    namespace: Option<&str>,
    en: &Engine,
) -> Result<(bool, String), String> {
    let ns = namespace.unwrap_or(crate::source::containerd_api::NAMESPACE);
    let ident = en.identity().map_err(|e| e.to_string())?;
    let loc = locate(&ident.root, &ident.id)?;
    let s = containerd::read(&loc.store_root);
    if s.unreadable_db {
        return Err(format!(
            "the store's records under {} could not be read",
            loc.store_root.display()
        ));
    }
    let there = match kind {
        Kind::Lease => s.leases.iter().any(|l| l.namespace == ns && l.id == id),
        _ => s.ingest_records.iter().any(|(n, r, _)| n == ns && r == id),
    };
    Ok(if there {
        (false, format!("{} {id} is still there", kind.as_str()))
    } else {
        (true, format!("{} {id} is gone", kind.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::containerd::{Blob, StoreImage};
    use std::collections::BTreeMap;

    const NOW: i64 = 1_796_147_312; // 2026-12-01T17:48:32Z
    const HOUR: u64 = 3600;

    fn lease(id: &str, created: Option<i64>, expire: Option<&str>, content: &[&str]) -> Lease {
        Lease {
            namespace: "moby".into(),
            id: id.into(),
            created,
            labels: expire
                .map(|e| BTreeMap::from([("containerd.io/gc.expire".to_string(), e.to_string())]))
                .unwrap_or_default(),
            content: content.iter().map(|c| format!("sha256:{c}")).collect(),
            ..Lease::default()
        }
    }

    fn blob(d: &str) -> Blob {
        Blob {
            namespace: "moby".into(),
            digest: format!("sha256:{d}"),
            size: Some(1),
            labels: BTreeMap::new(),
        }
    }

    /// An image on blob `i`; leases: `old` (no expiry, 2 h old) on `a` and `s` (shared with `other`,
    /// no expiry, 2 h old), `expired` (an hour ago) on `b`, `pull` (expires in an hour) on `c`,
    /// `young` (no expiry, 10 min old) on `d`, `img` on the image's blob `i`; a container `X`'s lease
    /// and a BuildKit one. Blob bytes: a 100, b 200, c 300, d 400, i 500, s 600.
    fn facts() -> StoreFacts {
        let h2 = Some(NOW - 7200);
        let store = CtrdStore {
            root: PathBuf::from("/r"),
            images: vec![StoreImage {
                namespace: "moby".into(),
                name: "img".into(),
                target: Some("sha256:i".into()),
            }],
            blobs: ["a", "b", "c", "d", "i", "s"].map(blob).to_vec(),
            leases: vec![
                lease("old", h2, None, &["a", "s"]),
                lease("other", h2, None, &["s"]),
                lease("expired", h2, Some("2026-12-01T16:48:32Z"), &["b"]),
                lease("pull", h2, Some("2026-12-01T18:48:32Z"), &["c"]),
                lease("young", Some(NOW - 600), None, &["d"]),
                lease("img", h2, None, &["i"]),
                lease("X", h2, None, &[]),
                Lease {
                    labels: BTreeMap::from([(
                        "containerd.io/gc.flat".to_string(),
                        "t".to_string(),
                    )]),
                    ..lease("bk", h2, None, &[])
                },
                Lease {
                    namespace: "k8s.io".into(),
                    ..lease("other-client", h2, None, &[])
                },
            ],
            blob_files: ["a", "b", "c", "d", "i", "s"].map(String::from).to_vec(),
            ..CtrdStore::default()
        };
        StoreFacts {
            store,
            containers: HashSet::from(["X".to_string()]),
            blob_bytes: [
                ("a", 100),
                ("b", 200),
                ("c", 300),
                ("d", 400),
                ("i", 500),
                ("s", 600),
            ]
            .map(|(k, v)| (k.to_string(), v))
            .into(),
            now: NOW,
            now_ns: NOW * 1_000_000_000,
            ..StoreFacts::default()
        }
    }

    fn find<'a>(items: &'a [Item], id: &str) -> Option<&'a Item> {
        items.iter().find(|i| i.id == id)
    }

    fn reason<'a>(kept: &'a [Kept], id: &str) -> &'a str {
        &kept.iter().find(|k| k.id == id).unwrap().reason
    }

    #[test]
    fn leaked_leases_are_planned_with_what_they_alone_hold() {
        let f = facts();
        let (items, kept) = decide(&f, HOUR);
        // `old` alone holds a (100); s is shared with `other`, so neither frees it alone.
        assert_eq!(find(&items, "old").unwrap().bytes, 100);
        assert_eq!(find(&items, "other").unwrap().bytes, 0);
        assert_eq!(find(&items, "expired").unwrap().bytes, 200);
        assert!(
            find(&items, "expired")
                .unwrap()
                .rule
                .contains("expired 60m ago")
        );
        // The image reaches i: the lease frees nothing.
        assert_eq!(find(&items, "img").unwrap().bytes, 0);
        assert!(
            items
                .iter()
                .all(|i| i.kind == Kind::Lease && i.rule.contains("--undo"))
        );
        assert_eq!(
            find(&items, "old").unwrap().store,
            Some(StoreRef {
                namespace: "moby".into(),
                created: Some(NOW - 7200),
                path: None
            })
        );
        assert!(reason(&kept, "pull").contains("expires in 60m"));
        assert!(reason(&kept, "young").contains("within --grace"));
        assert!(reason(&kept, "X").contains("container"));
        assert!(reason(&kept, "bk").contains("BuildKit"));
        // Another client's namespace (a system containerd's): never dockerd's to delete.
        assert!(reason(&kept, "other-client").contains("namespace k8s.io"));
        assert_eq!(items.len() + kept.len(), 9);
    }

    #[test]
    fn grace_decides_for_leases_without_expiry() {
        let f = facts();
        // --grace 0: the 10-minute-old lease is leaked too; an unexpired one never is.
        let (items, kept) = decide(&f, 0);
        assert_eq!(find(&items, "young").unwrap().bytes, 400);
        assert!(find(&items, "pull").is_none());
        assert!(reason(&kept, "pull").contains("expires in"));
        // --grace 3h: the 2-hour-old ones are kept; an expired one still goes.
        let (items, _) = decide(&f, 3 * HOUR);
        assert!(find(&items, "old").is_none());
        assert!(find(&items, "expired").is_some());
        // A malformed expiry and a missing creation time are kept.
        let mut l = lease("m", None, None, &[]);
        assert!(lease_decision(&l, &HashSet::new(), 0, NOW).is_err());
        l.labels
            .insert("containerd.io/gc.expire".into(), "soon".into());
        l.created = Some(0);
        assert!(
            lease_decision(&l, &HashSet::new(), 0, NOW)
                .unwrap_err()
                .contains("not a time")
        );
    }

    fn with_ingests(mut f: StoreFacts) -> StoreFacts {
        // Three ingest records: `free` held by no lease, `pulling` held by the unexpired `pull`,
        // `leaked` held by the leaked `old`, and a dir no record names.
        for (r, b) in [
            ("free", "moby/1/free"),
            ("pulling", "moby/2/pulling"),
            ("leaked", "moby/3/leaked"),
        ] {
            f.store
                .ingest_records
                .push(("moby".into(), r.into(), Some(b.into())));
            let d = ingest_dir_name(b);
            f.store.ingest_dirs.push(d.clone());
            f.ingest
                .insert(d, (4096, Some((NOW - 7200) * 1_000_000_000)));
        }
        f.store.ingest_dirs.push("stray".into());
        f.ingest.insert("stray".into(), (8192, Some(0)));
        f.store.leases[3].ingests.push("pulling".into());
        f.store.leases[0].ingests.push("leaked".into());
        f
    }

    #[test]
    fn ingest_leftovers_held_by_no_lease_go_others_stay() {
        let f = with_ingests(facts());
        let (items, kept) = decide(&f, HOUR);
        let free = find(&items, "free").unwrap();
        assert_eq!((free.kind, free.bytes), (Kind::Ingest, 4096));
        assert_eq!(
            free.store.as_ref().unwrap().path.as_deref(),
            Some(format!("/r/{CONTENT}/ingest/{}", ingest_dir_name("moby/1/free")).as_str())
        );
        assert!(reason(&kept, "pulling").contains("held by the lease pull"));
        assert!(reason(&kept, "leaked").contains("leaked lease old"));
        // The leaked lease's bytes include the ingest only it holds.
        assert_eq!(find(&items, "old").unwrap().bytes, 100 + 4096);
        assert!(reason(&kept, &format!("/r/{CONTENT}/ingest/stray")).contains("no ingest record"));
        // Changed within --grace: kept.
        let (items, kept) = decide(&f, 3 * HOUR);
        assert!(find(&items, "free").is_none());
        assert!(reason(&kept, "free").contains("--grace"));
    }

    #[test]
    fn the_recheck_goes_only_when_nothing_changed() {
        let f = with_ingests(facts());
        let (items, _) = decide(&f, HOUR);
        let old = find(&items, "old").unwrap();
        let free = find(&items, "free").unwrap();
        assert_eq!(recheck(old, &f, HOUR), Verdict::Go { untag: vec![] });
        assert_eq!(recheck(free, &f, HOUR), Verdict::Go { untag: vec![] });
        // Gone: deleted meanwhile.
        let mut g = f.clone();
        g.store.leases.retain(|l| l.id != "old");
        g.store.ingest_records.retain(|r| r.1 != "free");
        assert_eq!(recheck(old, &g, HOUR), Verdict::Gone);
        assert_eq!(recheck(free, &g, HOUR), Verdict::Gone);
        // Another lease behind the same id; a lease given an expiry in the future.
        let mut g = f.clone();
        g.store.leases[0].created = Some(NOW - 60);
        assert!(matches!(recheck(old, &g, HOUR), Verdict::Skip(s) if s.contains("another lease")));
        let mut g = f.clone();
        g.store.leases[0].labels.insert(
            "containerd.io/gc.expire".into(),
            "2026-12-02T00:00:00Z".into(),
        );
        assert!(matches!(recheck(old, &g, HOUR), Verdict::Skip(s) if s.contains("not leaked")));
        // An ingest written to since, or taken by a lease since.
        let mut g = f.clone();
        let d = ingest_dir_name("moby/1/free");
        g.ingest.insert(d, (4096, Some(NOW * 1_000_000_000)));
        assert!(matches!(recheck(free, &g, HOUR), Verdict::Skip(s) if s.contains("written")));
        let mut g = f;
        g.store.leases[3].ingests.push("free".into());
        assert!(matches!(recheck(free, &g, HOUR), Verdict::Skip(s) if s.contains("held by")));
    }

    #[test]
    fn ingest_dirs_are_named_by_the_sha256_of_the_backend_ref() {
        // printf %s 'moby/1/free' | sha256sum
        assert_eq!(
            ingest_dir_name("moby/1/free"),
            "943051975363b189bb38eb8551c67035bdfe13444737d3fac585f8de140f5472"
        );
    }
}
