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

fn buckets<'a>(b: Option<Bucket<'a>>) -> Result<Vec<(String, Bucket<'a>)>, bbolt::BoltError> {
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
        s.ingest_records
            .extend(keys(nsb.path(&[b"content", b"ingests"])));
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
