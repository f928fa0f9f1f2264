//! Reading an image straight from the overlay2 graph driver's directories, when the data root is local
//! and readable: no export, no tar. A layer's `diff/` directory is walked in the order Docker's own tar
//! writer walks it (names sorted, a directory before its contents), and turned into the entries its
//! `docker save` layer would hold: a whiteout is a character device 0/0, an opaque directory carries the
//! `trusted.overlay.opaque` (or, under user namespaces, `user.overlay.opaque`) attribute, and the second
//! and later names of an inode are hard links to the first.
//!
//! The walk is walkdir's (`sort_by` name bytes, a directory before its contents, links not followed).
//! It replaced a hand-written `std::fs::read_dir` recursion that was not faster by a margin that
//! matters, measured by benches/walk.rs (`layer-ours` is that recursion, `layer-walkdir` this walk) on
//! a 306 345-entry tree, one thread each, warm cache, the same ordered entry list from both:
//!
//! ```text
//! KEEP=/var/tmp/walkbench RUNS=11 bash benches/walk.sh       (2026-12-01, load 7.7-9.8 on 2 cores)
//!                          median wall s   CPU s   peak RSS
//! hand-written read_dir            2.414    0.98   18.2 MiB
//! walkdir                          2.931    1.10   19.0 MiB
//! walkdir/hand-written: wall 1.22 (median of per-round ratios 1.03), CPU 1.12, peak RSS 1.04
//! ```
//!
//! (Again at load 8.3-12.2: wall 1.22, per-round 1.09, CPU 1.10 s against 0.98 s; RUNS=9 at load 11-14:
//! wall 1.08, per-round 1.12; RUNS=3 at load 10: 1.01.) `dredge image` on the
//! kitchen fixture's image read from the data root gave byte-identical JSON before and after.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::layer::{LayerError, Listing};
use super::{Progress, SourceError, dataroot, manifest};
use crate::model::{Compression, Entry, EntryKind, Image, Layer, PathId, Paths, ROOT, hex};

const OPAQUE_XATTRS: &[&str] = &["trusted.overlay.opaque", "user.overlay.opaque"];

/// An image found in a data root.
pub(crate) struct Found {
    /// Image id, hex.
    pub id: String,
    /// Its tags, sorted.
    pub tags: Vec<String>,
}

/// The image `spec` names in the data root at `root`, if the root is an overlay2 graph-driver root that
/// knows it.
pub(crate) fn find(root: &Path, spec: &str) -> Option<Found> {
    let store = root.join("image/overlay2");
    let repos: serde_json::Value =
        serde_json::from_slice(&fs::read(store.join("repositories.json")).ok()?).ok()?;
    let mut tags_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut by_ref: HashMap<String, String> = HashMap::new();
    for refs in repos.get("Repositories")?.as_object()?.values() {
        for (name, id) in refs.as_object()? {
            let id = id.as_str()?.trim_start_matches("sha256:").to_string();
            if !name.contains('@') {
                tags_of.entry(id.clone()).or_default().push(name.clone());
            }
            by_ref.insert(name.clone(), id);
        }
    }
    let wanted = spec.trim_start_matches("sha256:");
    let id = by_ref
        .get(spec)
        .or_else(|| by_ref.get(&format!("{spec}:latest")))
        .cloned()
        .or_else(|| {
            // An id or a unique prefix of one (at least 12 hex digits, as `docker images` shows).
            if wanted.len() < 12 || !wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let mut hits = fs::read_dir(store.join("imagedb/content/sha256"))
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(wanted));
            let first = hits.next()?;
            hits.next().is_none().then_some(first)
        })?;
    let mut tags = tags_of.remove(&id).unwrap_or_default();
    tags.sort();
    Some(Found { id, tags })
}

/// Reads the image `found` from the data root at `root`.
pub(crate) fn open(
    root: &Path,
    spec: &str,
    found: Found,
    threads: usize,
    hash: bool,
    legacy_save: bool,
    progress: &dyn Progress,
) -> Result<Image, SourceError> {
    let store = root.join("image/overlay2");
    let label = root.display().to_string();
    let Found { id, tags } = found;
    let config_path = store.join("imagedb/content/sha256").join(&id);
    let bytes = fs::read(&config_path).map_err(|e| SourceError::Io {
        path: config_path.display().to_string(),
        source: e,
    })?;
    let config =
        manifest::config_info(&label, &format!("imagedb/content/sha256/{id}"), bytes, None)?;
    let diff_ids: Vec<String> = config.diff_ids.iter().flatten().cloned().collect();
    let chains = dataroot::chain_ids(&diff_ids);
    let mut dirs = Vec::with_capacity(chains.len());
    for (index, chain) in chains.iter().enumerate() {
        let cache_id_path = store.join("layerdb/sha256").join(chain).join("cache-id");
        let cache_id = fs::read_to_string(&cache_id_path).map_err(|e| SourceError::Layer {
            archive: label.clone(),
            index,
            member: cache_id_path.display().to_string(),
            error: LayerError {
                entry: None,
                reason: format!("cannot read the layer's cache-id: {e}"),
            },
        })?;
        let cache_id = cache_id.trim();
        if cache_id.is_empty() || cache_id.contains('/') || cache_id.starts_with('.') {
            return Err(SourceError::Member {
                archive: label,
                member: cache_id_path.display().to_string(),
                reason: "not a layer directory name".into(),
            });
        }
        dirs.push(root.join("overlay2").join(cache_id).join("diff"));
    }
    progress.start(dirs.len());

    // Layers are independent: walk them on every core.
    let listed = crate::par::map(&dirs, threads, |_, dir| {
        let r = list_dir(dir, hash);
        progress.layer_done(&dir.display().to_string());
        r
    });
    let mut listings: Vec<Listing> = Vec::with_capacity(dirs.len());
    for (index, r) in listed.into_iter().enumerate() {
        listings.push(r.map_err(|error| SourceError::Layer {
            archive: label.clone(),
            index,
            member: dirs[index].display().to_string(),
            error,
        })?);
    }
    let paths = super::merge_paths(listings.iter_mut());
    let mut layers: Vec<Layer> = Vec::with_capacity(dirs.len());
    for (index, ((listing, diff_id), history)) in listings
        .into_iter()
        .zip(config.diff_ids)
        .zip(config.history)
        .enumerate()
    {
        let entries = listing.entries;
        let repeated = layers
            .iter()
            .any(|l| l.diff_id.is_some() && l.diff_id == diff_id);
        layers.push(Layer {
            index,
            diff_id,
            origin: dirs[index].display().to_string(),
            compression: Compression::None,
            blob_bytes: 0,
            // An engine before 25.0 saves a repeated layer as a symlink to the first (which dive reads as
            // empty): say so, so that dive's figures are the ones `dive IMAGE` computes there.
            stored_as_link: legacy_save && repeated,
            history,
            entries,
            hashes: listing.hashes,
        });
    }
    Ok(Image {
        source: spec.to_string(),
        format: "overlay2",
        id: Some(format!("sha256:{}", hex(&Sha256::digest(&config.bytes)))),
        tags,
        paths,
        layers,
        warnings: config.warnings,
    })
}

/// Lists one layer's `diff/` directory as the entries of its tar.
fn list_dir(dir: &Path, hash: bool) -> Result<Listing, LayerError> {
    let mut w = Walk {
        root: dir,
        hash,
        out: Vec::new(),
        paths: Paths::new(),
        hashes: Vec::new(),
        first_name: HashMap::new(),
    };
    w.walk()?;
    w.out.shrink_to_fit();
    w.paths.shrink_to_fit();
    Ok(Listing {
        entries: w.out,
        paths: w.paths,
        compression: Compression::None,
        hashes: w.hashes,
    })
}

struct Walk<'a> {
    root: &'a Path,
    hash: bool,
    out: Vec<Entry>,
    paths: Paths,
    hashes: Vec<(usize, [u8; 32])>,
    /// First name of each multiply-linked inode, for the hard links that follow.
    first_name: HashMap<(u64, u64), PathId>,
}

impl Walk<'_> {
    fn fail(&self, path: &Path, what: &str, e: io::Error) -> LayerError {
        LayerError {
            entry: Some(format!(
                "/{}",
                path.strip_prefix(self.root).unwrap_or(path).display()
            )),
            reason: format!("cannot {what}: {e}"),
        }
    }

    fn push(&mut self, path: PathId, kind: EntryKind, size: u64) {
        let data_offset = self.out.len() as u64; // unique in the layer: what hashes are keyed by
        self.out.push(Entry::new(path, kind, size, data_offset));
    }

    /// Docker's tar writer order: names sorted (bytewise), each directory followed at once by its
    /// contents; symbolic links are not followed.
    fn walk(&mut self) -> Result<(), LayerError> {
        // The path id of the directory at each depth (depth 0: the layer's root).
        let mut parents: Vec<PathId> = vec![ROOT];
        let entries = walkdir::WalkDir::new(self.root)
            .min_depth(1)
            .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()));
        for e in entries {
            let e = e.map_err(|e| {
                let path = e.path().unwrap_or(self.root).to_path_buf();
                self.fail(&path, "read the directory", e.into())
            })?;
            let full = e.path();
            let meta = e
                .metadata()
                .map_err(|err| self.fail(full, "stat", err.into()))?;
            parents.truncate(e.depth());
            let Some(&dir) = parents.last() else {
                continue; // depth >= 1 keeps the root's slot
            };
            let rel = self.paths.child(dir, e.file_name().as_bytes());
            let ft = meta.file_type();
            if ft.is_dir() {
                self.push(rel, EntryKind::Dir, 0);
                if is_opaque(full) {
                    self.push(rel, EntryKind::Opaque, 0);
                }
                parents.push(rel);
            } else if ft.is_file() {
                let key = (meta.dev(), meta.ino());
                if meta.nlink() > 1 {
                    if let Some(&target) = self.first_name.get(&key) {
                        self.push(rel, EntryKind::Hardlink { target }, 0);
                        continue;
                    }
                    self.first_name.insert(key, rel);
                }
                if self.hash && meta.len() > 0 {
                    let h = hash_file(full).map_err(|e| self.fail(full, "read", e))?;
                    self.hashes.push((self.out.len(), h));
                }
                self.push(rel, EntryKind::File, meta.len());
            } else if ft.is_symlink() {
                self.push(rel, EntryKind::Symlink, 0);
            } else if ft.is_char_device() && meta.rdev() == 0 {
                self.push(rel, EntryKind::Whiteout, 0);
            } else {
                self.push(rel, EntryKind::Special, 0);
            }
        }
        Ok(())
    }
}

fn hash_file(path: &Path) -> io::Result<[u8; 32]> {
    super::layer::hash_reader(&mut fs::File::open(path)?)
}

fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 4];
    OPAQUE_XATTRS.iter().any(|name| {
        matches!(rustix::fs::lgetxattr(dir, *name, &mut value[..]), Ok(n) if value[..n] == *b"y")
    })
}
