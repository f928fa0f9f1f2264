//! The containerd image store as its databases record it (filled by `source::containerd`), and who
//! owns each content blob and snapshot directory ([`own`], pure).
//!
//! containerd collects its own garbage: a blob or snapshot lives while an image, a container or a
//! lease reaches it through `containerd.io/gc.ref.*` labels and snapshot parents
//! (containerd `docs/garbage-collection.md`). So the owners here follow the same edges, from these
//! roots, first owner wins: images; containers (moby keeps a container's snapshots under a lease
//! named by the container id); BuildKit (its leases carry `containerd.io/gc.flat` or
//! `buildkit/lease.temporary`, are named by a BuildKit record id (25 base-36 characters, with
//! `-variants` or `-view`), or live in namespace `moby_history`); any other lease (a pull or load
//! under way, or one that leaked: moby #48909). What nothing reaches is unreferenced: containerd
//! removes it at its next collection.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use serde::Serialize;

/// A containerd root beside the data root (a system containerd's), proven to be the one of the
/// containerd the engine's dockerd talks to, or named by the user. Made by `source::syscontainerd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CtrdRootProof {
    /// The directory read here (the plain path, or the root seen through `/proc/<pid>/root`).
    pub path: PathBuf,
    /// The root as containerd names it (`--root`, `root =` of its config, or `/var/lib/containerd`);
    /// offline, the path given.
    pub root: String,
    /// How it was proven (`named` offline; as for a data root live, for the containerd process).
    pub how: crate::model::dataroot::ProofHow,
    /// The containerd process listening on the socket dockerd names (live).
    pub pid: Option<u32>,
    /// The socket dockerd names (`--containerd`, or `"containerd"` in its daemon.json), as it sees it
    /// (live).
    pub socket: Option<String>,
}

/// One image record (`v1/<ns>/images/<name>`).
#[derive(Debug, Clone, Default)]
pub struct StoreImage {
    /// Namespace (`moby` for dockerd).
    pub namespace: String,
    /// Name (`docker.io/library/busybox:latest`, or `moby-dangling@sha256:…`).
    pub name: String,
    /// Target digest (manifest or index).
    pub target: Option<String>,
}

/// One content record (`v1/<ns>/content/blob/<digest>`).
#[derive(Debug, Clone, Default)]
pub struct Blob {
    /// Namespace.
    pub namespace: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Recorded size.
    pub size: Option<u64>,
    /// Labels (the `gc.ref` edges among them).
    pub labels: BTreeMap<String, String>,
}

/// One snapshot record of the metadata database (`v1/<ns>/snapshots/<snapshotter>/<key>`).
#[derive(Debug, Clone, Default)]
pub struct SnapshotRef {
    /// Namespace.
    pub namespace: String,
    /// Snapshotter (`overlayfs`).
    pub snapshotter: String,
    /// The key clients use (a chain id, a container id, a BuildKit id).
    pub key: String,
    /// The snapshotter's own key (`<ns>/<n>/<key>`).
    pub backend: Option<String>,
    /// Parent key.
    pub parent: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// One lease (`v1/<ns>/leases/<id>`).
#[derive(Debug, Clone, Default)]
pub struct Lease {
    /// Namespace.
    pub namespace: String,
    /// Id.
    pub id: String,
    /// Creation, Unix seconds.
    pub created: Option<i64>,
    /// Labels (`containerd.io/gc.expire`, `containerd.io/gc.flat`, `buildkit/lease.temporary`).
    pub labels: BTreeMap<String, String>,
    /// Content digests it holds.
    pub content: Vec<String>,
    /// `(snapshotter, key)` it holds.
    pub snapshots: Vec<(String, String)>,
    /// Ingest refs it holds.
    pub ingests: Vec<String>,
}

/// A snapshot's kind in the snapshotter's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapKind {
    /// Read-only view.
    View,
    /// Writable (a container's layer, an extraction under way).
    Active,
    /// Committed (an image layer).
    Committed,
    /// Unknown byte.
    Unknown,
}

impl SnapKind {
    /// containerd's `snapshots.Kind` byte.
    pub fn from_byte(b: Option<u8>) -> SnapKind {
        match b {
            Some(1) => SnapKind::View,
            Some(2) => SnapKind::Active,
            Some(3) => SnapKind::Committed,
            _ => SnapKind::Unknown,
        }
    }
}

/// One snapshot of the overlayfs snapshotter's `metadata.db`.
#[derive(Debug, Clone)]
pub struct SnapRecord {
    /// Backend key `<ns>/<n>/<key>`.
    pub key: String,
    /// The numbered directory under `snapshots/`.
    pub id: u64,
    /// Kind.
    pub kind: SnapKind,
    /// Parent backend key.
    pub parent: Option<String>,
}

/// Everything read of a containerd root.
#[derive(Debug, Clone, Default)]
pub struct CtrdStore {
    /// The containerd root.
    pub root: PathBuf,
    /// Images.
    pub images: Vec<StoreImage>,
    /// Content records.
    pub blobs: Vec<Blob>,
    /// Ingest records: `(namespace, ref, the content store's own ref)`; `ingest/<sha256 of the
    /// latter>` holds the data.
    pub ingest_records: Vec<(String, String, Option<String>)>,
    /// Snapshot records of the metadata database.
    pub snapshot_refs: Vec<SnapshotRef>,
    /// Leases.
    pub leases: Vec<Lease>,
    /// containerd containers: `(id, snapshot key, snapshotter)`.
    pub containers: Vec<(String, Option<String>, Option<String>)>,
    /// Snapshots of the overlayfs snapshotter.
    pub snapshots: Vec<SnapRecord>,
    /// Names under `blobs/sha256/`.
    pub blob_files: Vec<String>,
    /// Names under `ingest/`.
    pub ingest_dirs: Vec<String>,
    /// Names under `snapshots/`.
    pub snapshot_dirs: Vec<String>,
    /// Names directly under the containerd root.
    pub top: Vec<String>,
    /// What could not be read.
    pub warnings: Vec<String>,
    /// True when some record is missing.
    pub missing: bool,
    /// True when a database could not be read: then nothing is unreferenced.
    pub unreadable_db: bool,
}

/// Who owns a blob or snapshot directory, by priority (first owner wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Use {
    /// An image reaches it.
    Image,
    /// A container's lease (or containerd container) reaches it.
    Container,
    /// A BuildKit lease reaches it.
    BuildCache,
    /// Another lease reaches it (a pull or load under way, or a leaked lease).
    Lease,
    /// Nothing reaches it, although it has a record: containerd collects it.
    Unreferenced,
    /// No record at all (a file or directory the databases do not name), or the databases could not
    /// be read.
    NoRecord,
}

/// A lease's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseRole {
    /// Named by a container id: the container's snapshots.
    Container,
    /// BuildKit's.
    BuildKit,
    /// A pull, load or other client operation; with `containerd.io/gc.expire`.
    Operation,
}

/// Seconds until a lease's `containerd.io/gc.expire`, negative when expired; None without one.
pub fn lease_expiry(l: &Lease, now: i64) -> Option<i64> {
    let e = l.labels.get("containerd.io/gc.expire")?;
    Some(rfc3339(e)? - now)
}

/// Unix seconds of an RFC 3339 time (`2026-12-01T17:48:32Z`, `…32.123+02:00`); None when malformed.
pub fn rfc3339(t: &str) -> Option<i64> {
    let num = |a: usize, b: usize| t.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if t.get(4..5)? != "-" || !t.get(10..11)?.eq_ignore_ascii_case("T") || !(1..=12).contains(&mo) {
        return None;
    }
    let mut rest = t.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        r if r.len() == 6 => {
            let sign = match &r[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            sign * (r.get(1..3)?.parse::<i64>().ok()? * 3600
                + r.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// What a lease is for.
pub fn lease_role(l: &Lease, containers: &HashSet<String>) -> LeaseRole {
    if containers.contains(&l.id) {
        LeaseRole::Container
    } else if l.namespace == "moby_history"
        || l.id.get(..25).is_some_and(|k| {
            crate::model::dataroot::is_buildkit_key(k)
                && matches!(l.id.get(25..), Some("" | "-variants" | "-view"))
        })
        || l.labels.contains_key("containerd.io/gc.flat")
        || l.labels.contains_key("buildkit/lease.temporary")
    {
        LeaseRole::BuildKit
    } else {
        LeaseRole::Operation
    }
}

/// Where a lease stands: leaked (it pins content with nothing under way, moby #48909) or not, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// An operation's lease past its `containerd.io/gc.expire`, by this many seconds.
    Expired(i64),
    /// An operation's lease without an expiry, created this many seconds ago (at least the grace).
    Stale(i64),
    /// An operation's lease that expires in this many seconds: a pull or load may be under way.
    Pending(i64),
    /// An operation's lease without an expiry, created this many seconds ago, within the grace.
    Young(i64),
    /// An operation's lease whose `containerd.io/gc.expire` is not a time.
    BadExpiry,
    /// An operation's lease with neither an expiry nor a creation time.
    NoAge,
    /// A container's lease.
    Container,
    /// BuildKit's lease.
    BuildKit,
}

impl LeaseState {
    /// True for the leaked states.
    pub fn leaked(self) -> bool {
        matches!(self, LeaseState::Expired(_) | LeaseState::Stale(_))
    }
}

/// Where lease `l` stands at `now` (Unix seconds), a lease without an expiry counting as leaked once
/// it is `grace` seconds old (`dredge df`: an hour; `dredge prune`: `--grace`). Pure.
pub fn lease_state(l: &Lease, containers: &HashSet<String>, grace: u64, now: i64) -> LeaseState {
    match lease_role(l, containers) {
        LeaseRole::Container => return LeaseState::Container,
        LeaseRole::BuildKit => return LeaseState::BuildKit,
        LeaseRole::Operation => {}
    }
    match (
        lease_expiry(l, now),
        l.labels.contains_key("containerd.io/gc.expire"),
    ) {
        (Some(e), _) if e < 0 => LeaseState::Expired(-e),
        (Some(e), _) => LeaseState::Pending(e),
        (None, true) => LeaseState::BadExpiry,
        (None, false) => match l.created {
            None => LeaseState::NoAge,
            Some(c) if now - c >= i64::try_from(grace).unwrap_or(i64::MAX) => {
                LeaseState::Stale(now - c)
            }
            Some(c) => LeaseState::Young((now - c).max(0)),
        },
    }
}

/// The owners of every blob and snapshot directory, and what reaches each.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    /// Blob hex → owner.
    pub blobs: HashMap<String, Use>,
    /// Snapshot directory name → owner.
    pub snapshots: HashMap<String, Use>,
    /// Per image (index into `CtrdStore::images`): the blob hexes and snapshot dirs it reaches.
    pub image_parts: Vec<(Vec<String>, Vec<String>)>,
    /// Per container id: snapshot dirs its lease holds (not those of its image).
    pub container_snaps: HashMap<String, Vec<String>>,
    /// Snapshot dir → its kind.
    pub snapshot_kind: HashMap<String, SnapKind>,
    /// Per lease (index into `CtrdStore::leases`): the blob hexes and snapshot dirs it reaches,
    /// whoever else reaches them too.
    pub lease_parts: Vec<(Vec<String>, Vec<String>)>,
    /// Per containerd container record (id): the snapshot dirs its snapshot key reaches.
    pub record_parts: Vec<(String, Vec<String>)>,
}

fn hex_of(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

/// Decides the owner of every blob and snapshot directory (module docs). `containers` are the ids of
/// the data root's containers.
pub fn own(s: &CtrdStore, containers: &HashSet<String>) -> Ownership {
    let mut o = Ownership {
        lease_parts: vec![Default::default(); s.leases.len()],
        ..Ownership::default()
    };
    // Content edges, and content → snapshot edges (overlayfs only), by (namespace, digest).
    let blob_of: HashMap<(&str, &str), &Blob> = s
        .blobs
        .iter()
        .map(|b| ((b.namespace.as_str(), b.digest.as_str()), b))
        .collect();
    let snapref: HashMap<(&str, &str), &SnapshotRef> = s
        .snapshot_refs
        .iter()
        .filter(|r| r.snapshotter == "overlayfs")
        .map(|r| ((r.namespace.as_str(), r.key.as_str()), r))
        .collect();
    let dir_of_backend: HashMap<&str, String> = s
        .snapshots
        .iter()
        .map(|r| (r.key.as_str(), r.id.to_string()))
        .collect();
    let backend_parent: HashMap<&str, &str> = s
        .snapshots
        .iter()
        .filter_map(|r| Some((r.key.as_str(), r.parent.as_deref()?)))
        .collect();
    for r in &s.snapshots {
        o.snapshot_kind.insert(r.id.to_string(), r.kind);
    }
    // Snapshot dirs reached from a metadata key: its backend dir and every parent's.
    let snap_closure = |ns: &str, key: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut backend = snapref.get(&(ns, key)).and_then(|r| r.backend.as_deref());
        let mut seen = HashSet::new();
        while let Some(b) = backend {
            if !seen.insert(b) {
                break;
            }
            if let Some(d) = dir_of_backend.get(b) {
                out.push(d.clone());
            }
            backend = backend_parent.get(b).copied();
        }
        out
    };
    // Blobs and snapshot dirs reached from a set of content roots and snapshot keys.
    let reach = |ns: &str, content: &[String], snaps: &[String]| -> (Vec<String>, Vec<String>) {
        let mut blobs = Vec::new();
        let mut dirs = Vec::new();
        let mut seen = HashSet::new();
        let mut q: VecDeque<&str> = content.iter().map(|c| c.as_str()).collect();
        let mut snap_keys: Vec<&str> = snaps.iter().map(|k| k.as_str()).collect();
        while let Some(d) = q.pop_front() {
            if !seen.insert(d) {
                continue;
            }
            blobs.push(hex_of(d).to_string());
            if let Some(b) = blob_of.get(&(ns, d)) {
                for (k, v) in &b.labels {
                    if k.starts_with("containerd.io/gc.ref.content") {
                        q.push_back(v.as_str());
                    } else if k == "containerd.io/gc.ref.snapshot.overlayfs" {
                        snap_keys.push(v.as_str());
                    }
                }
            }
        }
        for k in snap_keys {
            dirs.extend(snap_closure(ns, k));
        }
        (blobs, dirs)
    };
    let claim_b = |o: &mut Ownership, hexes: &[String], u: Use| {
        for h in hexes {
            o.blobs.entry(h.clone()).or_insert(u);
        }
    };
    let claim_s = |o: &mut Ownership, dirs: &[String], u: Use| {
        for d in dirs {
            o.snapshots.entry(d.clone()).or_insert(u);
        }
    };
    for img in &s.images {
        let roots: Vec<String> = img.target.iter().cloned().collect();
        let (b, d) = reach(&img.namespace, &roots, &[]);
        claim_b(&mut o, &b, Use::Image);
        claim_s(&mut o, &d, Use::Image);
        o.image_parts.push((b, d));
    }
    // Containers, then BuildKit, then other leases.
    for role in [
        LeaseRole::Container,
        LeaseRole::BuildKit,
        LeaseRole::Operation,
    ] {
        let u = match role {
            LeaseRole::Container => Use::Container,
            LeaseRole::BuildKit => Use::BuildCache,
            LeaseRole::Operation => Use::Lease,
        };
        for (li, l) in s
            .leases
            .iter()
            .enumerate()
            .filter(|(_, l)| lease_role(l, containers) == role)
        {
            let keys: Vec<String> = l
                .snapshots
                .iter()
                .filter(|(sn, _)| sn == "overlayfs")
                .map(|(_, k)| k.clone())
                .collect();
            let (b, d) = reach(&l.namespace, &l.content, &keys);
            claim_b(&mut o, &b, u);
            claim_s(&mut o, &d, u);
            o.lease_parts[li] = (b.clone(), d.clone());
            if role == LeaseRole::Container {
                let own: Vec<String> = d
                    .iter()
                    .filter(|x| o.snapshots.get(*x) == Some(&Use::Container))
                    .cloned()
                    .collect();
                let v = o.container_snaps.entry(l.id.clone()).or_default();
                v.extend(own);
                v.sort();
                v.dedup();
            }
        }
    }
    for (id, key, sn) in &s.containers {
        if let (Some(k), Some("overlayfs")) = (key, sn.as_deref()) {
            let d = snap_closure("moby", k);
            claim_s(&mut o, &d, Use::Container);
            o.record_parts.push((id.clone(), d));
        }
    }
    // What nothing reaches: with a record, unreferenced; without one (or unreadable databases), no
    // record: never called reclaimable.
    let recorded_blobs: HashSet<&str> = s.blobs.iter().map(|b| hex_of(&b.digest)).collect();
    let recorded_dirs: HashSet<String> = s.snapshots.iter().map(|r| r.id.to_string()).collect();
    for f in &s.blob_files {
        o.blobs.entry(f.clone()).or_insert(
            if !s.unreadable_db && recorded_blobs.contains(f.as_str()) {
                Use::Unreferenced
            } else {
                Use::NoRecord
            },
        );
    }
    for d in &s.snapshot_dirs {
        o.snapshots
            .entry(d.clone())
            .or_insert(if !s.unreadable_db && recorded_dirs.contains(d) {
                Use::Unreferenced
            } else {
                Use::NoRecord
            });
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(d: &str, labels: &[(&str, &str)]) -> Blob {
        Blob {
            namespace: "moby".into(),
            digest: format!("sha256:{d}"),
            size: Some(1),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn store() -> CtrdStore {
        // image → manifest m → config c (→ snapshot L) and layer l; container X on L; a BuildKit
        // lease on snapshot B; a pull lease on blob p; an unreferenced blob u; a stray dir 9.
        CtrdStore {
            images: vec![StoreImage {
                namespace: "moby".into(),
                name: "img".into(),
                target: Some("sha256:m".into()),
            }],
            blobs: vec![
                blob(
                    "m",
                    &[
                        ("containerd.io/gc.ref.content.config", "sha256:c"),
                        ("containerd.io/gc.ref.content.l.0", "sha256:l"),
                    ],
                ),
                blob("c", &[("containerd.io/gc.ref.snapshot.overlayfs", "L")]),
                blob("l", &[]),
                blob("p", &[]),
                blob("u", &[]),
            ],
            snapshot_refs: ["L", "X-init", "X", "B"]
                .iter()
                .zip([None, Some("L"), Some("X-init"), Some("L")])
                .enumerate()
                .map(|(i, (k, p))| SnapshotRef {
                    namespace: "moby".into(),
                    snapshotter: "overlayfs".into(),
                    key: k.to_string(),
                    backend: Some(format!("moby/{}/{k}", i + 1)),
                    parent: p.map(String::from),
                    labels: BTreeMap::new(),
                })
                .collect(),
            snapshots: ["L", "X-init", "X", "B"]
                .iter()
                .zip([None, Some("L"), Some("X-init"), Some("L")])
                .enumerate()
                .map(|(i, (k, p))| SnapRecord {
                    key: format!("moby/{}/{k}", i + 1),
                    id: i as u64 + 1,
                    kind: if *k == "X" {
                        SnapKind::Active
                    } else {
                        SnapKind::Committed
                    },
                    parent: p.map(|p| {
                        let j = ["L", "X-init", "X", "B"]
                            .iter()
                            .position(|x| *x == p)
                            .unwrap();
                        format!("moby/{}/{p}", j + 1)
                    }),
                })
                .collect(),
            leases: vec![
                Lease {
                    namespace: "moby".into(),
                    id: "X".into(),
                    snapshots: vec![("overlayfs".into(), "X".into())],
                    ..Lease::default()
                },
                Lease {
                    namespace: "moby".into(),
                    id: "bk".into(),
                    labels: [("containerd.io/gc.flat".to_string(), "t".to_string())].into(),
                    snapshots: vec![("overlayfs".into(), "B".into())],
                    ..Lease::default()
                },
                Lease {
                    namespace: "moby".into(),
                    id: "pull".into(),
                    labels: [(
                        "containerd.io/gc.expire".to_string(),
                        "2020-01-01T00:00:00Z".to_string(),
                    )]
                    .into(),
                    content: vec!["sha256:p".into()],
                    ..Lease::default()
                },
            ],
            blob_files: ["m", "c", "l", "p", "u", "z"].map(String::from).to_vec(),
            snapshot_dirs: ["1", "2", "3", "4", "9"].map(String::from).to_vec(),
            ..CtrdStore::default()
        }
    }

    #[test]
    fn owners_follow_gc_edges_first_owner_wins() {
        let s = store();
        let o = own(&s, &HashSet::from(["X".to_string()]));
        for (h, u) in [
            ("m", Use::Image),
            ("c", Use::Image),
            ("l", Use::Image),
            ("p", Use::Lease),
            ("u", Use::Unreferenced),
            ("z", Use::NoRecord),
        ] {
            assert_eq!(o.blobs[h], u, "blob {h}");
        }
        for (d, u) in [
            ("1", Use::Image),
            ("2", Use::Container),
            ("3", Use::Container),
            ("4", Use::BuildCache),
            ("9", Use::NoRecord),
        ] {
            assert_eq!(o.snapshots[d], u, "snapshot {d}");
        }
        assert_eq!(o.image_parts[0].1, vec!["1".to_string()]);
        let mut x = o.container_snaps["X"].clone();
        x.sort();
        assert_eq!(x, vec!["2".to_string(), "3".to_string()]);
    }

    #[test]
    fn unreadable_databases_leave_nothing_unreferenced() {
        let mut s = store();
        s.unreadable_db = true;
        s.images.clear();
        s.leases.clear();
        let o = own(&s, &HashSet::new());
        assert!(o.blobs.values().all(|u| *u == Use::NoRecord));
        assert!(o.snapshots.values().all(|u| *u == Use::NoRecord));
    }

    #[test]
    fn lease_states_for_df_and_prune() {
        let s = store();
        let none = HashSet::new();
        let x = HashSet::from(["X".to_string()]);
        let now = 1_577_836_800 + 10;
        assert_eq!(
            lease_state(&s.leases[2], &none, 3600, now),
            LeaseState::Expired(10)
        );
        assert_eq!(
            lease_state(&s.leases[1], &none, 0, now),
            LeaseState::BuildKit
        );
        assert_eq!(lease_state(&s.leases[0], &x, 0, now), LeaseState::Container);
        let mut l = Lease {
            created: Some(now - 100),
            ..Lease::default()
        };
        assert_eq!(lease_state(&l, &none, 100, now), LeaseState::Stale(100));
        assert_eq!(lease_state(&l, &none, 101, now), LeaseState::Young(100));
        assert!(lease_state(&l, &none, 100, now).leaked());
        assert!(!lease_state(&l, &none, 101, now).leaked());
        l.labels.insert(
            "containerd.io/gc.expire".into(),
            "2020-01-01T00:00:20Z".into(),
        );
        assert_eq!(lease_state(&l, &none, 0, now), LeaseState::Pending(10));
        l.labels
            .insert("containerd.io/gc.expire".into(), "later".into());
        assert_eq!(lease_state(&l, &none, 0, now), LeaseState::BadExpiry);
        l.labels.clear();
        l.created = None;
        assert_eq!(lease_state(&l, &none, 0, now), LeaseState::NoAge);
    }

    #[test]
    fn lease_expiry_and_role() {
        let s = store();
        let none = HashSet::new();
        assert_eq!(lease_role(&s.leases[1], &none), LeaseRole::BuildKit);
        assert_eq!(lease_role(&s.leases[2], &none), LeaseRole::Operation);
        assert_eq!(lease_expiry(&s.leases[2], 1_577_836_800 + 10), Some(-10));
        assert_eq!(lease_expiry(&s.leases[1], 0), None);
        // date -d 2026-12-01T17:48:32Z +%s
        assert_eq!(rfc3339("2026-12-01T17:48:32Z"), Some(1_796_147_312));
        assert_eq!(
            rfc3339("2026-12-01T17:43:33.497819564Z"),
            Some(1_796_147_013)
        );
        assert_eq!(rfc3339("2026-12-01T19:48:32+02:00"), Some(1_796_147_312));
        assert_eq!(rfc3339("garbage"), None);
        assert_eq!(rfc3339("2026-13-01T00:00:00Z"), None);
    }
}
