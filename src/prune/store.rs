//! The containerd image store (Engine 29's default), for prune: what each image's deletion frees and
//! which images an unexpired lease holds.
//!
//! There are no layer chains here. An image reaches content blobs (its index, manifests, config and
//! compressed layers) and snapshot directories (its unpacked layers) through containerd's own
//! garbage-collection edges ([`crate::model::containerd::own`]); those are its "chain", with keys
//! `blob:HEX` and `snapshot:N`, and their allocated bytes are its layer bytes. The plan's rule is
//! then the same as on overlay2: a part is freed when every image that reaches it goes and nothing
//! else holds it. Here something else may be a lease (a container's, BuildKit's, a pull's or a
//! load's) or a containerd container record: their parts are pinned, a container's only while the
//! container stays.
//!
//! An image whose root (its index or manifest) an unexpired operation lease reaches (a pull or load
//! of that image under way, or a lease that never expires) is left, at planning and again just before
//! its deletion: deleting it would race the operation, and would free nothing the lease holds. An
//! image that only shares layers with what a lease holds may go; those shared parts are pinned, not
//! counted as freed. Expired leases hold nothing: containerd collects them at its next collection.
//!
//! Deletion itself goes through the engine API (`DELETE /images/{id}`, no force), never under
//! containerd's root.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::model::containerd::{CtrdStore, LeaseRole, Ownership, lease_expiry, lease_role, own};

/// Namespace of Docker's objects in containerd.
const MOBY: &str = "moby";

/// The key of a blob part.
pub fn blob_key(hex: &str) -> String {
    format!("blob:{hex}")
}

/// The key of a snapshot-directory part.
pub fn snapshot_key(dir: &str) -> String {
    format!("snapshot:{dir}")
}

/// What prune needs from the store (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreFacts {
    /// Engine image id (the target digest) → its parts' keys.
    pub parts: BTreeMap<String, Vec<String>>,
    /// Parts held by something other than an image, with the container id for a container's.
    pub held: Vec<(Option<String>, Vec<String>)>,
    /// Engine image id → why an unexpired lease holds it.
    pub leased: BTreeMap<String, String>,
}

/// Seconds as `7h59m`, `3m12s`, `45s`.
fn span(s: i64) -> String {
    let s = s.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Decides the parts, holders and leased images (pure). `containers` are the ids of the data root's
/// containers (they name container leases); `now` is Unix seconds.
pub fn decide(
    store: &CtrdStore,
    o: &Ownership,
    containers: &HashSet<String>,
    now: i64,
) -> StoreFacts {
    let mut f = StoreFacts::default();
    for (img, (blobs, dirs)) in store.images.iter().zip(&o.image_parts) {
        let Some(target) = img.target.as_ref().filter(|_| img.namespace == MOBY) else {
            continue;
        };
        let keys = f.parts.entry(target.clone()).or_default();
        for k in blobs
            .iter()
            .map(|h| blob_key(h))
            .chain(dirs.iter().map(|d| snapshot_key(d)))
        {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    // The image whose root (its index or manifest) a part is.
    let root_of: HashMap<String, &str> = f
        .parts
        .keys()
        .map(|id| {
            (
                blob_key(id.strip_prefix("sha256:").unwrap_or(id)),
                id.as_str(),
            )
        })
        .collect();
    let mut leased: BTreeMap<String, String> = BTreeMap::new();
    for (l, (blobs, dirs)) in store.leases.iter().zip(&o.lease_parts) {
        let role = lease_role(l, containers);
        let expiry = lease_expiry(l, now);
        if expiry.is_some_and(|e| e < 0) {
            // Expired: containerd drops it at its next collection; it holds nothing to count on.
            continue;
        }
        let keys: Vec<String> = blobs
            .iter()
            .map(|h| blob_key(h))
            .chain(dirs.iter().map(|d| snapshot_key(d)))
            .collect();
        if role == LeaseRole::Operation {
            let why = match expiry {
                Some(e) => format!(
                    "content held by lease {} (expires in {}): a pull or load may be under way",
                    l.id,
                    span(e)
                ),
                None => format!(
                    "content held by lease {}, which never expires (a leaked lease: dredge prune \
                     --orphans deletes it)",
                    l.id
                ),
            };
            for k in &keys {
                if let Some(id) = root_of.get(k) {
                    leased
                        .entry((*id).to_string())
                        .or_insert_with(|| why.clone());
                }
            }
        }
        let holder = (role == LeaseRole::Container).then(|| l.id.clone());
        if !keys.is_empty() {
            f.held.push((holder, keys));
        }
    }
    for (id, dirs) in &o.record_parts {
        if !dirs.is_empty() {
            f.held.push((
                Some(id.clone()),
                dirs.iter().map(|d| snapshot_key(d)).collect(),
            ));
        }
    }
    f.leased = leased;
    f
}

/// Reads the store under the containerd root `ctrd_root` and decides ([`decide`]). Warnings of the
/// read come back; an unreadable metadata database is an error (nothing could be decided safely).
pub fn read(
    ctrd_root: &Path,
    containers: &HashSet<String>,
    now: i64,
) -> Result<(CtrdStore, Ownership, StoreFacts), String> {
    let store = crate::source::containerd::read(ctrd_root);
    if store.unreadable_db {
        return Err(format!(
            "the containerd store at {} could not be read: {}",
            ctrd_root.display(),
            store.warnings.join("; ")
        ));
    }
    let o = own(&store, containers);
    let f = decide(&store, &o, containers, now);
    Ok((store, o, f))
}

/// Allocated bytes of every part any image reaches: blobs by `lstat`, snapshot directories walked as
/// `du` does. Parts that could not be measured are left out (the plan then warns that some sizes
/// could not be read).
pub fn measure(
    ctrd_root: &Path,
    parts: &BTreeMap<String, Vec<String>>,
) -> (BTreeMap<String, u64>, Option<String>) {
    use std::os::unix::fs::MetadataExt;
    let blobs = ctrd_root
        .join(crate::source::containerd::CONTENT)
        .join("blobs/sha256");
    let snaps = ctrd_root
        .join(crate::source::containerd::OVERLAYFS)
        .join("snapshots");
    let mut out = BTreeMap::new();
    let walker = crate::audit::walk::Walker::new(ctrd_root).ok();
    let all: HashSet<&String> = parts.values().flatten().collect();
    for k in all {
        if let Some(h) = k.strip_prefix("blob:") {
            if let Ok(m) = std::fs::symlink_metadata(blobs.join(h)) {
                out.insert(k.clone(), m.blocks() * 512);
            }
        } else if let (Some(d), Some(w)) = (k.strip_prefix("snapshot:"), &walker) {
            let p = snaps.join(d);
            if p.is_dir() {
                let (u, _) = w.measure(&p, &HashSet::new(), &|_| false);
                out.insert(k.clone(), u.bytes);
            }
        }
    }
    let warning = walker.as_ref().and_then(|w| w.error_warning());
    (out, warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::containerd::{Blob, Lease, SnapKind, SnapRecord, SnapshotRef, StoreImage};

    const NOW: i64 = 1_800_000_000;

    fn blob(d: &str, refs: &[(&str, &str)]) -> Blob {
        Blob {
            namespace: MOBY.into(),
            digest: d.into(),
            size: Some(1),
            labels: refs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Two images sharing a base layer blob and its snapshot: image A (index a → manifest ma →
    /// layers l1, l2, snapshots 1, 2) and image B (manifest mb → layer l1, snapshot 1).
    fn store() -> CtrdStore {
        CtrdStore {
            images: vec![
                StoreImage {
                    namespace: MOBY.into(),
                    name: "a:1".into(),
                    target: Some("sha256:a".into()),
                },
                StoreImage {
                    namespace: MOBY.into(),
                    name: "moby-dangling@sha256:b".into(),
                    target: Some("sha256:b".into()),
                },
            ],
            blobs: vec![
                blob(
                    "sha256:a",
                    &[
                        ("containerd.io/gc.ref.content.l.0", "sha256:l1"),
                        ("containerd.io/gc.ref.content.l.1", "sha256:l2"),
                        ("containerd.io/gc.ref.snapshot.overlayfs", "s2"),
                    ],
                ),
                blob(
                    "sha256:b",
                    &[
                        ("containerd.io/gc.ref.content.l.0", "sha256:l1"),
                        ("containerd.io/gc.ref.snapshot.overlayfs", "s1"),
                    ],
                ),
                blob("sha256:l1", &[]),
                blob("sha256:l2", &[]),
            ],
            snapshot_refs: ["s1", "s2", "c1"]
                .iter()
                .map(|k| SnapshotRef {
                    namespace: MOBY.into(),
                    snapshotter: "overlayfs".into(),
                    key: k.to_string(),
                    backend: Some(format!("b-{k}")),
                    ..Default::default()
                })
                .collect(),
            snapshots: vec![
                SnapRecord {
                    key: "b-s1".into(),
                    id: 1,
                    kind: SnapKind::Committed,
                    parent: None,
                },
                SnapRecord {
                    key: "b-s2".into(),
                    id: 2,
                    kind: SnapKind::Committed,
                    parent: Some("b-s1".into()),
                },
                SnapRecord {
                    key: "b-c1".into(),
                    id: 3,
                    kind: SnapKind::Active,
                    parent: Some("b-s2".into()),
                },
            ],
            ..Default::default()
        }
    }

    fn lease(id: &str, expire: Option<&str>, content: &[&str], snaps: &[&str]) -> Lease {
        Lease {
            namespace: MOBY.into(),
            id: id.into(),
            created: Some(NOW - 100),
            labels: expire
                .map(|e| ("containerd.io/gc.expire".to_string(), e.to_string()))
                .into_iter()
                .collect(),
            content: content.iter().map(|c| c.to_string()).collect(),
            snapshots: snaps
                .iter()
                .map(|k| ("overlayfs".to_string(), k.to_string()))
                .collect(),
            ingests: Vec::new(),
        }
    }

    fn facts(s: &CtrdStore, containers: &[&str]) -> StoreFacts {
        let ids: HashSet<String> = containers.iter().map(|c| c.to_string()).collect();
        decide(s, &own(s, &ids), &ids, NOW)
    }

    #[test]
    fn an_image_reaches_its_blobs_and_snapshot_dirs() {
        let f = facts(&store(), &[]);
        let mut a = f.parts["sha256:a"].clone();
        a.sort();
        assert_eq!(
            a,
            ["blob:a", "blob:l1", "blob:l2", "snapshot:1", "snapshot:2"]
        );
        let mut b = f.parts["sha256:b"].clone();
        b.sort();
        assert_eq!(b, ["blob:b", "blob:l1", "snapshot:1"]);
        assert!(f.held.is_empty() && f.leased.is_empty());
    }

    #[test]
    fn an_unexpired_or_endless_operation_lease_leaves_the_images_it_touches() {
        let mut s = store();
        // NOW is 2027-01-15; the pull's lease expires in 2099.
        s.leases = vec![
            lease("pull-1", Some("2099-01-01T00:00:00Z"), &["sha256:a"], &[]),
            lease("leaked", None, &["sha256:b"], &[]),
        ];
        let f = facts(&s, &[]);
        assert!(f.leased["sha256:a"].contains("pull-1"), "{:?}", f.leased);
        assert!(
            f.leased["sha256:b"].contains("never expires"),
            "{:?}",
            f.leased
        );
        // Both leases pin what they reach, whoever goes.
        assert!(f.held.iter().all(|(h, _)| h.is_none()));
        let pinned: HashSet<&String> = f.held.iter().flat_map(|(_, k)| k).collect();
        for k in [
            "blob:a",
            "blob:l2",
            "blob:b",
            "blob:l1",
            "snapshot:1",
            "snapshot:2",
        ] {
            assert!(pinned.contains(&k.to_string()), "{k}");
        }
    }

    #[test]
    fn a_lease_on_a_shared_layer_pins_it_but_leaves_no_image() {
        let mut s = store();
        s.leases = vec![lease(
            "pull-2",
            Some("2099-01-01T00:00:00Z"),
            &["sha256:l1"],
            &[],
        )];
        let f = facts(&s, &[]);
        assert!(f.leased.is_empty(), "{:?}", f.leased);
        assert_eq!(f.held, vec![(None, vec!["blob:l1".to_string()])]);
    }

    #[test]
    fn an_expired_lease_holds_nothing() {
        let mut s = store();
        s.leases = vec![lease(
            "old-pull",
            Some("2020-01-01T00:00:00Z"),
            &["sha256:l2"],
            &[],
        )];
        let f = facts(&s, &[]);
        assert!(f.leased.is_empty() && f.held.is_empty(), "{f:?}");
    }

    #[test]
    fn a_containers_lease_pins_for_that_container_and_does_not_leave_images() {
        let mut s = store();
        let c = "c".repeat(64);
        s.leases = vec![lease(&c, None, &[], &["c1"])];
        let f = facts(&s, &[c.as_str()]);
        assert!(f.leased.is_empty());
        assert_eq!(f.held.len(), 1);
        assert_eq!(f.held[0].0.as_deref(), Some(c.as_str()));
        let mut k = f.held[0].1.clone();
        k.sort();
        // Its active snapshot and the image snapshots below it.
        assert_eq!(k, ["snapshot:1", "snapshot:2", "snapshot:3"]);
    }

    #[test]
    fn spans_read_like_durations() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(192), "3m12s");
        assert_eq!(span(8 * 3600 - 60), "7h59m");
        assert_eq!(span(-5), "0s");
    }
}
