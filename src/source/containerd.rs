//! Reads the containerd image store of a data root (`<data-root>/containerd/daemon/`, dockerd's own
//! containerd): the metadata database `io.containerd.metadata.v1.bolt/meta.db` (images, content
//! records and their `gc.ref` labels, snapshots, leases, ingests, in every namespace), the overlayfs
//! snapshotter's `metadata.db` (which numbered directory is which snapshot, and its kind), and the
//! listings of `blobs/sha256/`, `ingest/` and `snapshots/`. Both databases are read with
//! [`bbolt::read_consistent`]: no lock is taken or waited for, live or offline. An unreadable or corrupt
//! database is a warning and leaves its records empty (the report is then partial).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::bbolt::{self, Bucket, Db, Value};
use crate::model::containerd::{
    Blob, CtrdStore, Lease, SnapKind, SnapRecord, SnapshotRef, StoreImage,
};

/// dockerd's own containerd root, under the data root.
pub const DAEMON_ROOT: &str = "containerd/daemon";
/// The metadata database, under the containerd root.
pub const META_DB: &str = "io.containerd.metadata.v1.bolt/meta.db";
/// The overlayfs snapshotter's directory, under the containerd root.
pub const OVERLAYFS: &str = "io.containerd.snapshotter.v1.overlayfs";
/// The content store's directory, under the containerd root.
pub const CONTENT: &str = "io.containerd.content.v1.content";
/// A bbolt file larger than this is not read (containerd's are kilobytes to a few megabytes).
const DB_LIMIT: u64 = 1 << 30;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `time.Time.MarshalBinary` (version 1 or 2): seconds since year 1, nanoseconds; as Unix seconds.
pub fn go_time(b: &[u8]) -> Option<i64> {
    if !matches!(b.first(), Some(1 | 2)) || b.len() < 13 {
        return None;
    }
    let sec = i64::from_be_bytes(b.get(1..9)?.try_into().ok()?);
    Some(sec - 62_135_596_800)
}

fn labels(b: &Bucket<'_>) -> BTreeMap<String, String> {
    b.bucket(b"labels")
        .and_then(|l| l.entries().ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Bytes(v) => Some((text(k), text(v))),
            Value::Bucket(_) => None,
        })
        .collect()
}

fn keys(b: Option<Bucket<'_>>) -> Vec<String> {
    b.and_then(|b| b.entries().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| text(k))
        .collect()
}

fn buckets(b: Option<Bucket<'_>>) -> Result<Vec<(String, Bucket<'_>)>, bbolt::BoltError> {
    let Some(b) = b else { return Ok(Vec::new()) };
    Ok(b.entries()?
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::Bucket(c) => Some((text(k), c)),
            Value::Bytes(_) => None,
        })
        .collect())
}

/// Reads the records of `meta.db` into `s`.
fn read_meta(db: &Db, s: &mut CtrdStore) -> Result<(), bbolt::BoltError> {
    let v1 = db.root().bucket(b"v1");
    for (ns, nsb) in buckets(v1)? {
        for (name, ib) in buckets(nsb.bucket(b"images"))? {
            let target = ib
                .path(&[b"target"])
                .and_then(|t| t.bytes(b"digest"))
                .map(text);
            s.images.push(StoreImage {
                namespace: ns.clone(),
                name,
                target,
            });
        }
        for (digest, bb) in buckets(nsb.path(&[b"content", b"blob"]))? {
            let size = bb.bytes(b"size").and_then(bbolt::uvarint);
            s.blobs.push(Blob {
                namespace: ns.clone(),
                digest,
                size,
                labels: labels(&bb),
            });
        }
        for (key, ib) in buckets(nsb.path(&[b"content", b"ingests"]))? {
            let backend = ib.bytes(b"ref").map(text);
            s.ingest_records.push((ns.clone(), key, backend));
        }
        for (snapshotter, sb) in buckets(nsb.bucket(b"snapshots"))? {
            for (key, kb) in buckets(Some(sb))? {
                s.snapshot_refs.push(SnapshotRef {
                    namespace: ns.clone(),
                    snapshotter: snapshotter.clone(),
                    key,
                    backend: kb.bytes(b"name").map(text),
                    parent: kb.bytes(b"parent").map(text),
                    labels: labels(&kb),
                });
            }
        }
        for (id, lb) in buckets(nsb.bucket(b"leases"))? {
            let mut snapshots = Vec::new();
            for (snapshotter, sb) in buckets(lb.bucket(b"snapshots"))? {
                snapshots.extend(keys(Some(sb)).into_iter().map(|k| (snapshotter.clone(), k)));
            }
            s.leases.push(Lease {
                namespace: ns.clone(),
                id,
                created: lb.bytes(b"createdat").and_then(go_time),
                labels: labels(&lb),
                content: keys(lb.bucket(b"content")),
                snapshots,
                ingests: keys(lb.bucket(b"ingests")),
            });
        }
        for (id, cb) in buckets(nsb.bucket(b"containers"))? {
            s.containers.push((
                id,
                cb.bytes(b"snapshotKey").map(text),
                cb.bytes(b"snapshotter").map(text),
            ));
        }
    }
    Ok(())
}

/// Reads the overlayfs snapshotter's `metadata.db`: backend key → numbered dir, kind, parent.
fn read_snapshotter(db: &Db, s: &mut CtrdStore) -> Result<(), bbolt::BoltError> {
    for (key, kb) in buckets(db.root().path(&[b"v1", b"snapshots"]))? {
        let Some(id) = kb.bytes(b"id").and_then(bbolt::uvarint) else {
            s.warnings.push(format!(
                "snapshotter metadata.db: snapshot {key:?} has no id: its directory is unknown"
            ));
            s.missing = true;
            continue;
        };
        s.snapshots.push(SnapRecord {
            key,
            id,
            kind: SnapKind::from_byte(kb.bytes(b"kind").and_then(|k| k.first().copied())),
            parent: kb.bytes(b"parent").map(text),
        });
    }
    Ok(())
}

fn list_names(dir: &Path, s: &mut CtrdStore) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            s.warnings.push(format!("{}: {e}", dir.display()));
            s.missing = true;
            Vec::new()
        }
    }
}

/// Reads one database; a failure is a warning naming the file, and the store is marked partial.
fn read_db(
    path: &Path,
    s: &mut CtrdStore,
    f: fn(&Db, &mut CtrdStore) -> Result<(), bbolt::BoltError>,
) {
    let r = bbolt::read_consistent(path, DB_LIMIT).and_then(|db| f(&db, s));
    if let Err(e) = r {
        s.warnings.push(format!(
            "{}: {e}: the containerd store's records are incomplete, nothing it may name is called \
             unreferenced",
            path.display()
        ));
        s.missing = true;
        s.unreadable_db = true;
    }
}

/// Reads the containerd store under `root` (the containerd root: `<data-root>/containerd/daemon`).
pub fn read(root: &Path) -> CtrdStore {
    let mut s = CtrdStore {
        root: root.to_path_buf(),
        ..CtrdStore::default()
    };
    read_db(&root.join(META_DB), &mut s, read_meta);
    let snapdb = root.join(OVERLAYFS).join("metadata.db");
    if snapdb.exists() {
        read_db(&snapdb, &mut s, read_snapshotter);
    }
    s.blob_files = list_names(&root.join(CONTENT).join("blobs/sha256"), &mut s);
    s.ingest_dirs = list_names(&root.join(CONTENT).join("ingest"), &mut s);
    s.snapshot_dirs = list_names(&root.join(OVERLAYFS).join("snapshots"), &mut s);
    s.top = list_names(root, &mut s);
    s
}

/// The path of a content blob (`sha256:<hex>`) under the containerd root; None for another algorithm
/// or a digest that is not plain hex.
pub fn blob_path(root: &Path, digest: &str) -> Option<PathBuf> {
    let hex = digest.strip_prefix("sha256:")?;
    crate::model::dataroot::is_hex64(hex).then(|| root.join(CONTENT).join("blobs/sha256").join(hex))
}

/// An image's target in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    /// The image's name in the store.
    pub name: String,
    /// The target's digest (`sha256:…`).
    pub digest: String,
    /// The target's media type.
    pub media_type: String,
    /// The target's size.
    pub size: Option<u64>,
}

/// The names `spec` may have in the store, as the engine normalises a reference: `busybox` is
/// `docker.io/library/busybox:latest`, `me/app` is `docker.io/me/app:latest`.
pub fn name_candidates(spec: &str) -> Vec<String> {
    let mut out = vec![spec.to_string()];
    let (name, suffix) = match spec.find('@') {
        Some(i) => (&spec[..i], spec[i..].to_string()),
        None => {
            let last = spec.rsplit('/').next().unwrap_or(spec);
            if last.contains(':') {
                let i = spec.rfind(':').unwrap_or(spec.len());
                (&spec[..i], spec[i..].to_string())
            } else {
                (spec, ":latest".to_string())
            }
        }
    };
    let first = name.split('/').next().unwrap_or("");
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    for c in [format!("{name}{suffix}"), format!("{full}{suffix}")] {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Finds `spec` (a name, or an id: the target digest or a prefix of it of 12 or more hex digits)
/// among the images of namespace `moby` of the containerd root `root`.
pub fn find_image(root: &Path, spec: &str) -> Result<Option<TargetRef>, bbolt::BoltError> {
    let db = bbolt::read_consistent(&root.join(META_DB), DB_LIMIT)?;
    let images = buckets(db.root().path(&[b"v1", b"moby", b"images"]))?;
    let target = |name: &str, b: &Bucket<'_>| {
        let t = b.bucket(b"target")?;
        Some(TargetRef {
            name: name.to_string(),
            digest: text(t.bytes(b"digest")?),
            media_type: t.bytes(b"mediatype").map(text).unwrap_or_default(),
            size: t.bytes(b"size").and_then(bbolt::uvarint),
        })
    };
    for c in name_candidates(spec) {
        if let Some((n, b)) = images.iter().find(|(n, _)| *n == c) {
            return Ok(target(n, b));
        }
    }
    let hex = spec.strip_prefix("sha256:").unwrap_or(spec);
    if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let found: Vec<TargetRef> = images
            .iter()
            .filter_map(|(n, b)| target(n, b))
            .filter(|t| {
                t.digest
                    .strip_prefix("sha256:")
                    .is_some_and(|d| d.starts_with(hex))
            })
            .collect();
        if let Some(t) = found.first()
            && found.iter().all(|x| x.digest == t.digest)
        {
            return Ok(Some(t.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_as_the_engine_does() {
        assert!(name_candidates("busybox").contains(&"docker.io/library/busybox:latest".into()));
        assert!(name_candidates("busybox:1").contains(&"docker.io/library/busybox:1".into()));
        assert!(name_candidates("me/app").contains(&"docker.io/me/app:latest".into()));
        assert!(name_candidates("reg.io:5000/a/b:2").contains(&"reg.io:5000/a/b:2".into()));
        assert!(
            !name_candidates("reg.io:5000/a/b")
                .iter()
                .any(|c| c.starts_with("docker.io"))
        );
        assert!(name_candidates("x@sha256:ab").contains(&"docker.io/library/x@sha256:ab".into()));
    }

    #[test]
    fn go_times() {
        // time.Date(1970,1,1,0,0,10,0,UTC).MarshalBinary(): version 1, seconds since year 1.
        let mut b = vec![1u8];
        b.extend_from_slice(&(62_135_596_800i64 + 10).to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff]);
        assert_eq!(go_time(&b), Some(10));
        assert_eq!(go_time(&[9, 9]), None);
    }
}
