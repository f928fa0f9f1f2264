//! Reads the metadata of a Docker data root from its files, with no daemon: `image/overlay2/imagedb`,
//! `layerdb` (chains, cache ids, sizes, mounts), `containers/<id>/config.v2.json` and `hostconfig.json`,
//! `volumes/<name>/`, and the directory listings deciding ownership needs (`overlay2/`, leftovers,
//! names in `buildkit/*.db`). Every read goes through [`rootfs`](super::rootfs): nothing is followed
//! out of the root, a FIFO cannot block, a file is read only up to its kind's bound. Missing or corrupt
//! files become warnings (the report says it is partial); a reference that cannot be read is recorded
//! as an [`Inconsistency`] and widens what is kept ([`Unknowns`]). Only a path that is not a directory
//! at all is an error. `volumes/metadata.db` and BuildKit's databases are bbolt files and are not
//! parsed: volume names come from the directories, and BuildKit's databases are searched for names.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::procroot;
use super::rootfs::{Entry, FileError, Kind, RootDir, is_plain_component, limit};
use crate::model::dataroot::{
    ConfigState, ContainerRecord, DaemonEvidence, DaemonFact, DataRoot, DataRootProof, Driver,
    EngineIdCheck, ImageRecord, Inconsistency, LayerRecord, Listing, MountRecord, ProofHow,
    QUARANTINE_DIR, QuarantinedRun, Unknowns, VolumeRecord, is_hex64,
};

/// Why a data root could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DataRootError {
    /// The path cannot be listed.
    #[error("{path}: {source}")]
    Io {
        /// The data root named.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The path is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
}

/// What one reading thread found besides records.
#[derive(Default)]
struct Found {
    warnings: Vec<String>,
    inconsistent: Vec<Inconsistency>,
    unknowns: Unknowns,
    missing: bool,
}

impl Found {
    fn warn(&mut self, w: String) {
        self.missing = true;
        self.warnings.push(w);
    }
    fn file_error(&mut self, e: &FileError) {
        self.warn(e.to_string());
    }
    fn inconsistent(&mut self, path: PathBuf, detail: String) {
        self.inconsistent.push(Inconsistency {
            path: path.display().to_string(),
            detail,
        });
    }
    fn merge(&mut self, o: Found) {
        self.warnings.extend(o.warnings);
        self.inconsistent.extend(o.inconsistent);
        self.unknowns.dir_refs |= o.unknowns.dir_refs;
        self.unknowns.chain_refs |= o.unknowns.chain_refs;
        self.unknowns.containers |= o.unknowns.containers;
        self.missing |= o.missing;
    }
}

/// Reads the data root's metadata.
pub fn read(root: &Path) -> Result<DataRoot, DataRootError> {
    read_with(root, false)
}

/// [`read`]; with `containerd_beside`, the engine keeps its images in a system containerd's root
/// beside this data root (the containerd image store without `containerd/daemon/` here): its driver
/// is the containerd store whatever else is there (an old `overlay2/` is then "other").
pub fn read_with(root: &Path, containerd_beside: bool) -> Result<DataRoot, DataRootError> {
    let meta = fs::metadata(root).map_err(|source| DataRootError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(DataRootError::NotADirectory(root.to_path_buf()));
    }
    let io_err = |source| DataRootError::Io {
        path: root.to_path_buf(),
        source,
    };
    let rd = RootDir::open(root).map_err(io_err)?;
    fs::read_dir(root).map_err(io_err)?;
    let mut r = DataRoot {
        path: root.to_path_buf(),
        driver: if containerd_beside {
            Driver::ContainerdStore
        } else {
            detect_driver(&rd)
        },
        buildkit: rd.kind("buildkit").ok().flatten() == Some(Kind::Dir),
        ..DataRoot::default()
    };
    let mut found = Found::default();
    // Two threads: the layer store (layers, then the images that name them) and the rest (mounts,
    // containers, volumes, listings); hundreds of small files each, independent of each other.
    let overlay2 = r.driver == Driver::Overlay2;
    let (rest, mut rest_found) = std::thread::scope(|s| {
        let other = s.spawn(|| {
            let mut f = Found::default();
            let mut rest = DataRoot::default();
            if overlay2 {
                rest.mounts = read_mounts(&rd, &mut f);
            }
            rest.containers = read_containers(&rd, &mut f);
            rest.volumes = read_volumes(&rd, &mut f);
            rest.listing = read_listing(&rd, &mut f);
            (rest, f)
        });
        if overlay2 {
            read_layers(&rd, &mut r, &mut found);
            read_images(&rd, &mut r, &mut found);
        }
        other
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    r.mounts = rest.mounts;
    r.containers = rest.containers;
    r.volumes = rest.volumes;
    r.listing = rest.listing;
    check_dirs_exist(&r, &mut rest_found);
    found.merge(rest_found);
    match &r.driver {
        // Read by source::containerd.
        Driver::Overlay2 | Driver::ContainerdStore => {}
        Driver::Other(d) => found.warn(format!(
            "{}: the {d} storage driver is not supported (only overlay2): its bytes are counted as \
             \"other\"",
            root.display()
        )),
        Driver::None => found.warn(format!(
            "{}: no image store found (no image/overlay2, no containerd store): is this a Docker \
             data root?",
            root.display()
        )),
    }
    r.warnings = found.warnings;
    r.inconsistent = found.inconsistent;
    r.unknowns = found.unknowns;
    r.missing_figures = found.missing;
    Ok(r)
}

/// Graph drivers Docker has had; the directory `image/<driver>` tells which one a root uses.
const GRAPH_DRIVERS: &[&str] = &[
    "overlay2",
    "fuse-overlayfs",
    "btrfs",
    "zfs",
    "vfs",
    "devicemapper",
    "aufs",
    "overlay",
    "windowsfilter",
];

fn nonempty_dir(rd: &RootDir, rel: &str) -> bool {
    rd.list(rel).ok().flatten().is_some_and(|v| !v.is_empty())
}

fn detect_driver(rd: &RootDir) -> Driver {
    if nonempty_dir(rd, "image/overlay2/imagedb")
        || rd.kind("overlay2").ok().flatten() == Some(Kind::Dir)
    {
        return Driver::Overlay2;
    }
    for d in GRAPH_DRIVERS {
        if nonempty_dir(rd, &format!("image/{d}")) {
            return Driver::Other((*d).to_string());
        }
    }
    if nonempty_dir(rd, "containerd/daemon/io.containerd.content.v1.content")
        || nonempty_dir(
            rd,
            "containerd/daemon/io.containerd.snapshotter.v1.overlayfs",
        )
    {
        return Driver::ContainerdStore;
    }
    Driver::None
}

/// Lists a directory; a missing directory is empty, anything else that fails warns.
fn list(rd: &RootDir, rel: &str, f: &mut Found) -> Vec<Entry> {
    match rd.list(rel) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => {
            f.file_error(&e);
            Vec::new()
        }
    }
}

/// Reads a small text file, trimmed; None when absent. Other errors become a warning, and `Err`.
fn read_text(rd: &RootDir, rel: &str, f: &mut Found) -> Result<Option<String>, ()> {
    rd.read_text(rel).map_err(|e| f.file_error(&e))
}

fn strip_sha(s: &str) -> &str {
    s.strip_prefix("sha256:").unwrap_or(s)
}

const LAYERDB: &str = "image/overlay2/layerdb/sha256";
const MOUNTS: &str = "image/overlay2/layerdb/mounts";

/// Reads a reference to an `overlay2/` dir (`cache-id`, `mount-id`, `init-id`): `Ok(Some)` a plain
/// name, `Ok(None)` absent, `Err` unreadable or malformed (recorded as an inconsistency).
fn read_dir_ref(rd: &RootDir, rel: &str, f: &mut Found) -> Result<Option<String>, ()> {
    let v = read_text(rd, rel, f).inspect_err(|()| {
        f.inconsistent(
            rd.join(rel),
            "unreadable: the overlay2 dir it names is unknown".into(),
        );
    })?;
    match v {
        Some(id) if !is_plain_component(&id) => {
            f.warn(format!(
                "{}: names {:?}, not a directory of overlay2/: inconsistent metadata",
                rd.join(rel).display(),
                id
            ));
            f.inconsistent(
                rd.join(rel),
                format!("names {id:?}, not a directory of overlay2/"),
            );
            Err(())
        }
        v => Ok(v),
    }
}

/// Reads a parent chain reference (`sha256:<hex>`), bare hex; `Err` when unreadable or not a chain id.
fn read_parent(rd: &RootDir, rel: &str, f: &mut Found) -> Result<Option<String>, ()> {
    match read_text(rd, rel, f)? {
        None => Ok(None),
        Some(p) if is_hex64(strip_sha(&p)) => Ok(Some(strip_sha(&p).to_string())),
        Some(p) => {
            f.warn(format!(
                "{}: {:?} is not a chain id: inconsistent metadata",
                rd.join(rel).display(),
                p
            ));
            Err(())
        }
    }
}

/// Lists a directory of records; when it cannot be listed, `unknown` says what that leaves open.
fn list_records(rd: &RootDir, rel: &str, f: &mut Found, unknown: fn(&mut Unknowns)) -> Vec<Entry> {
    match rd.list(rel) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => {
            f.file_error(&e);
            f.inconsistent(
                rd.join(rel),
                "cannot be listed: what it records is unknown".into(),
            );
            unknown(&mut f.unknowns);
            Vec::new()
        }
    }
}

fn read_layers(rd: &RootDir, r: &mut DataRoot, f: &mut Found) {
    for e in list_records(rd, LAYERDB, f, |u| {
        u.dir_refs = true;
        u.chain_refs = true;
    }) {
        let name = e.name;
        if !is_hex64(&name) {
            continue; // `<chain>-<random>-removing` and strays: found by audit as leftovers.
        }
        let d = format!("{LAYERDB}/{name}");
        if e.kind != Kind::Dir {
            f.warn(format!(
                "{}: not a directory (not followed): not a layer, inconsistent metadata",
                rd.join(&d).display()
            ));
            f.inconsistent(rd.join(&d), "a layer record that is not a directory".into());
            f.unknowns.dir_refs = true;
            f.unknowns.chain_refs = true;
            continue;
        }
        let cache_id = match read_dir_ref(rd, &format!("{d}/cache-id"), f) {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                f.warn(format!(
                    "{}: no cache-id, layer files unknown",
                    rd.join(&d).display()
                ));
                f.inconsistent(
                    rd.join(&d),
                    "no cache-id: its overlay2 dir is unknown".into(),
                );
                f.unknowns.dir_refs = true;
                None
            }
            Err(()) => {
                f.unknowns.dir_refs = true;
                None
            }
        };
        let size_path = format!("{d}/size");
        let size = read_text(rd, &size_path, f).ok().flatten().and_then(|s| {
            s.parse::<u64>().ok().or_else(|| {
                f.warn(format!(
                    "{}: size is not a number",
                    rd.join(&size_path).display()
                ));
                None
            })
        });
        let diff_id = read_text(rd, &format!("{d}/diff"), f).ok().flatten();
        let parent = read_parent(rd, &format!("{d}/parent"), f);
        if parent.is_err() {
            f.inconsistent(
                rd.join(&d),
                "parent unreadable: the chains below it are unknown".into(),
            );
            f.unknowns.chain_refs = true;
        }
        let layer = LayerRecord {
            chain_id: name.clone(),
            complete: cache_id.is_some() && size.is_some() && diff_id.is_some(),
            diff_id,
            parent: parent.ok().flatten(),
            cache_id,
            size,
        };
        r.layers.insert(name, layer);
    }
}

fn read_mounts(rd: &RootDir, f: &mut Found) -> Vec<MountRecord> {
    let mut out = Vec::new();
    for e in list_records(rd, MOUNTS, f, |u| {
        u.dir_refs = true;
        u.chain_refs = true;
    }) {
        let d = format!("{MOUNTS}/{}", e.name);
        if e.kind != Kind::Dir {
            f.warn(format!(
                "{}: not a directory (not followed): not a mount, inconsistent metadata",
                rd.join(&d).display()
            ));
            f.inconsistent(rd.join(&d), "a mount record that is not a directory".into());
            f.unknowns.dir_refs = true;
            continue;
        }
        let mount_id = read_dir_ref(rd, &format!("{d}/mount-id"), f);
        let init_id = read_dir_ref(rd, &format!("{d}/init-id"), f);
        if mount_id.is_err() || init_id.is_err() {
            f.unknowns.dir_refs = true;
        }
        if matches!(mount_id, Ok(None)) {
            f.inconsistent(
                rd.join(&d),
                "no mount-id: its overlay2 dir is unknown".into(),
            );
            f.unknowns.dir_refs = true;
        }
        let parent = read_parent(rd, &format!("{d}/parent"), f);
        if parent.is_err() {
            f.inconsistent(
                rd.join(&d),
                "parent unreadable: the chains below it are unknown".into(),
            );
            f.unknowns.chain_refs = true;
        }
        out.push(MountRecord {
            mount_id: mount_id.ok().flatten(),
            init_id: init_id.ok().flatten(),
            parent: parent.ok().flatten(),
            id: e.name,
        });
    }
    out
}

/// A cache-id or mount-id naming an `overlay2/` dir that is not there: the layer's real files are
/// unknown, so no directory may be taken for unreferenced.
fn check_dirs_exist(r: &DataRoot, f: &mut Found) {
    if r.driver != Driver::Overlay2 {
        return;
    }
    let dirs: HashSet<&str> = r.listing.overlay2.iter().map(String::as_str).collect();
    let refs = r
        .layers
        .values()
        .filter_map(|l| {
            l.cache_id
                .as_deref()
                .map(|c| (c, format!("layer {}", l.chain_id)))
        })
        .chain(r.mounts.iter().flat_map(|m| {
            m.mount_id
                .iter()
                .chain(m.init_id.iter())
                .map(move |c| (c.as_str(), format!("mount {}", m.id)))
        }));
    for (dir, by) in refs {
        if !dirs.contains(dir) {
            let p = r.path.join("overlay2").join(dir);
            f.warn(format!(
                "{}: named by {by} but missing: inconsistent metadata, no overlay2 dir is taken for an orphan",
                p.display()
            ));
            f.inconsistent(p, format!("named by {by} but missing"));
            f.unknowns.dir_refs = true;
        }
    }
}

/// Chain ids from diff ids: `ChainID(L0) = DiffID(L0)`, `ChainID(..n) = sha256(ChainID(..n-1) + " " + DiffID(n))`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => strip_sha(d).to_string(),
            Some(prev) => {
                let text = format!("sha256:{prev} {d}");
                crate::model::hex(&Sha256::digest(text.as_bytes()))
            }
        };
        out.push(next);
    }
    out
}

#[derive(Deserialize)]
struct ConfigRootfs {
    rootfs: Option<Rootfs>,
}
#[derive(Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<String>,
}
#[derive(Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories", default)]
    repositories: HashMap<String, HashMap<String, String>>,
}

const IMAGEDB: &str = "image/overlay2/imagedb";

fn read_images(rd: &RootDir, r: &mut DataRoot, f: &mut Found) {
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    let repo_path = "image/overlay2/repositories.json";
    match rd.read(repo_path, limit::IMAGE_METADATA) {
        Ok(None) => {}
        Err(e) => f.warn(format!("{e}; images listed without tags")),
        Ok(Some(bytes)) => match serde_json::from_slice::<Repositories>(&bytes) {
            Ok(repos) => {
                for refs in repos.repositories.into_values() {
                    for (reference, id) in refs {
                        tags.entry(id).or_default().push(reference);
                    }
                }
            }
            Err(e) => f.warn(format!(
                "{}: {e}; images listed without tags",
                rd.join(repo_path).display()
            )),
        },
    }
    let dir = format!("{IMAGEDB}/content/sha256");
    for e in list_records(rd, &dir, f, |u| u.chain_refs = true) {
        let name = e.name;
        if !is_hex64(&name) {
            continue;
        }
        let rel = format!("{dir}/{name}");
        let unknown = |f: &mut Found, why: String| {
            f.warn(format!("{why}; any layer may be in use by it"));
            f.inconsistent(
                rd.join(&rel),
                "image config unreadable: its layers are unknown".into(),
            );
            f.unknowns.chain_refs = true;
        };
        let bytes = match rd.read(&rel, limit::IMAGE_METADATA) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                unknown(f, e.to_string());
                continue;
            }
        };
        let id = format!("sha256:{name}");
        let chain = match serde_json::from_slice::<ConfigRootfs>(&bytes) {
            Ok(c) => chain_ids(&c.rootfs.map(|r| r.diff_ids).unwrap_or_default()),
            Err(e) => {
                unknown(
                    f,
                    format!("{}: not an image config ({e})", rd.join(&rel).display()),
                );
                Vec::new()
            }
        };
        if let Some(top) = chain.last()
            && !r.layers.contains_key(top)
        {
            f.warn(format!(
                "image {id}: layer chain {top} is missing (the engine skips this image)"
            ));
        }
        let parent = read_text(rd, &format!("{IMAGEDB}/metadata/sha256/{name}/parent"), f)
            .ok()
            .flatten();
        let mut t = tags.remove(&id).unwrap_or_default();
        t.sort();
        r.images.push(ImageRecord {
            id,
            tags: t,
            chain,
            parent,
        });
    }
}

#[derive(Deserialize)]
struct ContainerConfig {
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Image")]
    image: Option<String>,
    #[serde(rename = "State")]
    state: Option<State>,
    #[serde(rename = "MountPoints", default)]
    mount_points: HashMap<String, MountPoint>,
}
#[derive(Deserialize)]
struct State {
    #[serde(rename = "Running", default)]
    running: bool,
    #[serde(rename = "Paused", default)]
    paused: bool,
    #[serde(rename = "Restarting", default)]
    restarting: bool,
    #[serde(rename = "StartedAt", default)]
    started_at: String,
    #[serde(rename = "FinishedAt", default)]
    finished_at: String,
}

/// A Go `time.Time` as dockerd writes it (RFC 3339, nanoseconds); its zero time
/// (`0001-01-01T00:00:00Z`, never) and anything unparsable are None.
fn state_time(t: &str) -> Option<i64> {
    crate::model::containerd::rfc3339(t).filter(|s| *s > 0)
}
#[derive(Deserialize)]
struct MountPoint {
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(rename = "Name", default)]
    name: String,
}
#[derive(Deserialize)]
struct HostConfig {
    #[serde(rename = "LogConfig")]
    log_config: Option<LogConfig>,
}
#[derive(Deserialize)]
struct LogConfig {
    #[serde(rename = "Type")]
    kind: Option<String>,
}

fn read_containers(rd: &RootDir, f: &mut Found) -> Vec<ContainerRecord> {
    let mut out = Vec::new();
    for e in list_records(rd, "containers", f, |u| u.containers = true) {
        let d = format!("containers/{}", e.name);
        match e.kind {
            Kind::Dir => {}
            Kind::Symlink => {
                f.warn(format!(
                    "{}: a symbolic link, not a container (not followed, not an orphan)",
                    rd.join(&d).display()
                ));
                continue;
            }
            _ => continue,
        }
        let mut c = ContainerRecord {
            id: e.name,
            name: None,
            image: None,
            running: false,
            started_at: None,
            finished_at: None,
            log_driver: None,
            volumes: Vec::new(),
            known: false,
            config: ConfigState::Missing,
        };
        let cfg_path = format!("{d}/config.v2.json");
        let unreadable = |f: &mut Found, why: String| {
            f.warn(why);
            f.inconsistent(
                rd.join(&d),
                "config.v2.json unreadable: the container is unknown, its dir and mount are kept"
                    .into(),
            );
        };
        match rd.read(&cfg_path, limit::CONTAINER_CONFIG) {
            Ok(Some(b)) => match serde_json::from_slice::<ContainerConfig>(&b) {
                Ok(cfg) => {
                    c.known = true;
                    c.config = ConfigState::Read;
                    c.name = cfg.name.map(|n| n.trim_start_matches('/').to_string());
                    c.image = cfg.image;
                    if let Some(s) = &cfg.state {
                        c.running = s.running || s.paused || s.restarting;
                        c.started_at = state_time(&s.started_at);
                        c.finished_at = state_time(&s.finished_at);
                    }
                    c.volumes = cfg
                        .mount_points
                        .into_values()
                        .filter(|m| m.kind == "volume" && !m.name.is_empty())
                        .map(|m| m.name)
                        .collect();
                    c.volumes.sort();
                }
                Err(e) => {
                    c.config = ConfigState::Unreadable;
                    unreadable(
                        f,
                        format!(
                            "{}: {e}; the engine will not load this container",
                            rd.join(&cfg_path).display()
                        ),
                    );
                }
            },
            Ok(None) => {}
            Err(e) => {
                c.config = ConfigState::Unreadable;
                unreadable(f, e.to_string());
            }
        }
        match rd.read(&format!("{d}/hostconfig.json"), limit::CONTAINER_CONFIG) {
            Ok(Some(b)) => {
                if let Ok(h) = serde_json::from_slice::<HostConfig>(&b) {
                    c.log_driver = h.log_config.and_then(|l| l.kind);
                }
            }
            Ok(None) => {}
            Err(e) => f.file_error(&e),
        }
        out.push(c);
    }
    out
}

fn read_volumes(rd: &RootDir, f: &mut Found) -> Vec<VolumeRecord> {
    let mut out = Vec::new();
    for e in list(rd, "volumes", f) {
        if e.kind != Kind::Dir {
            continue;
        }
        let d = format!("volumes/{}", e.name);
        // A directory is a volume if it has `_data` or `opts.json` (moby volume/local).
        let is = |rel: String, k: Kind| rd.kind(&rel).ok().flatten() == Some(k);
        if is(format!("{d}/_data"), Kind::Dir) || is(format!("{d}/opts.json"), Kind::File) {
            out.push(VolumeRecord {
                anonymous: is_hex64(&e.name),
                name: e.name,
            });
        }
    }
    out
}

fn names(entries: Vec<Entry>) -> Vec<String> {
    entries.into_iter().map(|e| e.name).collect()
}

/// The listings deciding ownership needs.
fn read_listing(rd: &RootDir, f: &mut Found) -> Listing {
    let mut l = Listing {
        overlay2: list(rd, "overlay2", f)
            .into_iter()
            .filter(|e| e.kind == Kind::Dir)
            .map(|e| e.name)
            .collect(),
        layerdb_tmp: names(list(rd, "image/overlay2/layerdb/tmp", f)),
        tmp: names(list(rd, "tmp", f)),
        top: list(rd, "", f)
            .into_iter()
            .map(|e| (e.name, e.kind == Kind::Dir))
            .collect(),
        tmp_born_ns: fs::symlink_metadata(rd.join("tmp"))
            .ok()
            .filter(|m| m.is_dir())
            .and_then(|m| m.created().ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64),
        ..Listing::default()
    };
    // Layer removals that did not finish: moby renames the chain's record `<chain>-<random>-removing`,
    // deletes its overlay2 dir, then the record.
    for e in rd.list(LAYERDB).ok().flatten().unwrap_or_default() {
        if !e.name.ends_with("-removing") {
            continue;
        }
        let cache = rd
            .read_text(&format!("{LAYERDB}/{}/cache-id", e.name))
            .ok()
            .flatten()
            .filter(|c| is_plain_component(c));
        l.removing.push((e.name, cache));
    }
    if l.top.iter().any(|(n, d)| n == QUARANTINE_DIR && *d) {
        l.quarantine = quarantined_runs(rd, f);
    }
    let (names, read, unknown) = buildkit_names(rd, f);
    l.buildkit_names = names;
    l.buildkit_db_read = read;
    if unknown {
        f.unknowns.dir_refs = true;
        f.unknowns.chain_refs = true;
    }
    l
}

/// The run dirs of `dredge-quarantine/`, with how many entries each holds and its mtime. A run dir that
/// cannot be listed warns and counts 0 items (its bytes are still measured).
fn quarantined_runs(rd: &RootDir, f: &mut Found) -> Vec<QuarantinedRun> {
    use std::os::unix::fs::MetadataExt;
    let mut runs: Vec<QuarantinedRun> = list(rd, QUARANTINE_DIR, f)
        .into_iter()
        .filter(|e| e.kind == Kind::Dir)
        .map(|e| {
            let rel = format!("{QUARANTINE_DIR}/{}", e.name);
            QuarantinedRun {
                items: list(rd, &rel, f).len() as u64,
                modified_ns: fs::symlink_metadata(rd.join(&rel))
                    .ok()
                    .map(|m| m.mtime() * 1_000_000_000 + m.mtime_nsec()),
                run: e.name,
            }
        })
        .collect();
    runs.sort_by(|a, b| a.run.cmp(&b.run));
    runs
}

/// Names written in BuildKit's databases (`buildkit/*.db`): 64-hex and 25-char base-36 runs, read by
/// streaming. Returns the names, whether any database was read and all were, and whether one could not
/// be read (then any dir or chain may be BuildKit's).
fn buildkit_names(rd: &RootDir, f: &mut Found) -> (HashSet<String>, bool, bool) {
    let mut names = HashSet::new();
    let Ok(Some(entries)) = rd.list("buildkit") else {
        return (names, false, false);
    };
    let mut ok = true;
    for e in entries {
        if !e.name.ends_with(".db") {
            continue;
        }
        let rel = format!("buildkit/{}", e.name);
        let res = rd
            .open_file(&rel, limit::BUILDKIT_DB)
            .and_then(|o| match o {
                None => Ok(()),
                Some((file, _)) => {
                    scan_names(file, &mut names).map_err(|err| super::rootfs::FileError {
                        path: rd.join(&rel),
                        kind: super::rootfs::FileErrorKind::Io(err),
                    })
                }
            });
        if let Err(err) = res {
            ok = false;
            f.warn(format!(
                "{err}; any overlay2 dir or layer may be BuildKit's, none is taken for an orphan"
            ));
            f.inconsistent(rd.join(&rel), "BuildKit database unreadable".into());
        }
    }
    (names, ok, !ok)
}

/// Reads `r` in chunks and adds the names [`collect_names`] finds; a run crossing a chunk boundary is
/// carried over (its last 63 bytes are enough for every window of 25 or 64).
fn scan_names(mut r: impl Read, names: &mut HashSet<String>) -> io::Result<()> {
    let is36 = |b: &u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut chunk = std::mem::take(&mut carry);
        chunk.extend_from_slice(&buf[..n]);
        collect_names(&chunk, names);
        let tail = chunk.iter().rev().take_while(|b| is36(b)).count().min(63);
        carry = chunk[chunk.len() - tail..].to_vec();
    }
    Ok(())
}

/// Adds every 25-char base-36 window and every 64-hex window of the byte runs of `[0-9a-z]`.
pub fn collect_names(bytes: &[u8], names: &mut HashSet<String>) {
    let is36 = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase();
    let mut i = 0;
    while i < bytes.len() {
        if !is36(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is36(bytes[i]) {
            i += 1;
        }
        let run = &bytes[start..i];
        if run.len() >= 25 {
            for w in run.windows(25) {
                names.insert(String::from_utf8_lossy(w).into_owned());
            }
            for w in run.windows(64) {
                if w.iter().all(|b| b.is_ascii_hexdigit()) {
                    names.insert(String::from_utf8_lossy(w).into_owned());
                }
            }
        }
    }
}

/// A running `dockerd`, from its command line.
struct Dockerd {
    pid: u32,
    /// `--data-root`/`-g`, else `data-root` of /etc/docker/daemon.json, else /var/lib/docker.
    data_root: PathBuf,
}

/// Every running `dockerd` found in `/proc/*/cmdline`.
fn dockerds() -> Vec<Dockerd> {
    let config = fs::read("/etc/docker/daemon.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let configured = config
        .as_ref()
        .and_then(|v| v["data-root"].as_str().map(PathBuf::from));
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_dockerd = args
            .first()
            .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "dockerd"));
        if !is_dockerd {
            continue;
        }
        let mut data_root = None;
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            if let Some(v) = a
                .strip_prefix("--data-root=")
                .or(a.strip_prefix("--graph="))
            {
                data_root = Some(PathBuf::from(v));
            } else if a == "--data-root" || a == "-g" || a == "--graph" {
                data_root = it.next().map(PathBuf::from);
            }
        }
        found.push(Dockerd {
            pid,
            data_root: data_root
                .or_else(|| configured.clone())
                .unwrap_or_else(|| PathBuf::from("/var/lib/docker")),
        });
    }
    found
}

/// Whether a Docker daemon uses the data root `root` (docs: data root §10; there is no lock on a data
/// root). Checked in turn: a `dockerd` in `/proc/*/cmdline` whose `--data-root`/`-g` (else
/// `data-root` of /etc/docker/daemon.json, else /var/lib/docker), seen through its `/proc/PID/root`,
/// is `root`; the pid file
/// `/var/run/docker.pid` naming a live `dockerd` whose command line cannot be read; overlay mounts
/// under `<root>/overlay2/` (containers kept running by live-restore); and, when no `dockerd` process
/// can be seen at all (another pid namespace, `hidepid`), a default socket that accepts a connection.
/// Any doubt answers "running": what a running daemon holds must not be called an orphan.
pub fn daemon_on(root: &Path) -> DaemonFact {
    let Ok(want) = fs::canonicalize(root) else {
        return DaemonFact::NotFound;
    };
    let all = dockerds();
    // A dockerd's data root as it sees it, inside its own root (a chrooted or containerised dockerd
    // whose `/var/lib/docker` is elsewhere here), compared by device and inode; the plain path only
    // when that root cannot be read.
    let want_id = fs::metadata(&want).ok().map(|m| dev_ino(&m));
    let seen = |d: &Dockerd| match procroot::stat_in(d.pid, &d.data_root) {
        Ok((id, _)) => want_id == Some(id),
        Err(_) => fs::canonicalize(&d.data_root).is_ok_and(|u| u == want),
    };
    if let Some(d) = all.iter().find(|d| seen(d)) {
        return DaemonFact::Running {
            pid: Some(d.pid),
            started_ns: started_ns(d.pid),
            evidence: DaemonEvidence::Process,
        };
    }
    if let Some(pid) = fs::read_to_string("/var/run/docker.pid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        && Path::new(&format!("/proc/{pid}")).exists()
        && !all.iter().any(|d| d.pid == pid)
        && fs::read(format!("/proc/{pid}/cmdline")).is_err()
    {
        return DaemonFact::Running {
            pid: Some(pid),
            started_ns: started_ns(pid),
            evidence: DaemonEvidence::PidFile,
        };
    }
    let under = want.join("overlay2");
    let mounted = fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines().any(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|mp| Path::new(mp).starts_with(&under))
        })
    });
    if mounted {
        return DaemonFact::Running {
            pid: None,
            started_ns: None,
            evidence: DaemonEvidence::Mounts,
        };
    }
    if all.is_empty() && std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok() {
        return DaemonFact::Running {
            pid: None,
            started_ns: None,
            evidence: DaemonEvidence::Socket,
        };
    }
    DaemonFact::NotFound
}

/// When process `pid` started, nanoseconds since the epoch, to the clock tick (10 ms): field 22 of
/// `/proc/<pid>/stat` (clock ticks since boot, CLOCK_BOOTTIME) turned into wall-clock time with the
/// realtime and boot-time clocks read now ([`start_from_ticks`]). Never later than the true start (see
/// there). `btime` of `/proc/stat` would do the same at whole-second precision.
fn started_ns(pid: u32) -> Option<i64> {
    use rustix::time::{ClockId, clock_gettime};
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    // Realtime first, boot time second: the gap between the reads makes the offset smaller, and the
    // start earlier, never later.
    let ns = |t: rustix::time::Timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
    let realtime = ns(clock_gettime(ClockId::Realtime));
    let boottime = ns(clock_gettime(ClockId::Boottime));
    start_from_ticks(
        ticks,
        rustix::param::clock_ticks_per_second(),
        realtime,
        boottime,
    )
}

/// The wall-clock instant (nanoseconds since the epoch) of `ticks` clock ticks (`hz` a second) after
/// boot, given the realtime and CLOCK_BOOTTIME clocks read at one moment (nanoseconds). The kernel
/// truncates a start time to whole ticks (`nsec_to_clock_t`), so the result is at most one tick
/// early (under 10 ms at USER_HZ 100, plus the microseconds between the two clock reads), never late:
/// the safe side, as an earlier daemon start only makes fewer leftovers old enough to be orphans.
/// None when `hz` is 0 or the result is out of range.
pub fn start_from_ticks(ticks: u64, hz: u64, realtime_ns: i128, boottime_ns: i128) -> Option<i64> {
    if hz == 0 {
        return None;
    }
    // Floor division: a tick length that does not divide a second rounds the start down (by under
    // 1 ns more; USER_HZ is 100 on Linux, 10 ms exactly).
    let since_boot = (ticks as i128 * 1_000_000_000).div_euclid(hz as i128);
    i64::try_from(realtime_ns - boottime_ns + since_boot).ok()
}

/// Why no local directory could be proven to be the asked engine's data root: one line each.
#[derive(Debug, thiserror::Error)]
pub enum NotProven {
    /// `tcp://`, `ssh://`, …: the engine may be anywhere, and a directory here of the same name proves
    /// nothing.
    #[error(
        "the engine at {0} is not reached through a local unix socket: no directory here is proven to be its data root"
    )]
    NotLocal(String),
    /// The socket file cannot be examined.
    #[error("{path}: {source}")]
    Socket {
        /// The engine's socket.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// No visible dockerd holds a listening socket whose file is the engine's socket.
    #[error(
        "no dockerd visible here listens on {0} (another pid namespace, or no permission to see its sockets)"
    )]
    NoOwner(PathBuf),
    /// More than one dockerd seems to listen on the socket.
    #[error("several dockerd processes ({0:?}) listen on {1}")]
    SeveralOwners(Vec<u32>, PathBuf),
    /// `/info` named no (absolute) `DockerRootDir`.
    #[error("the engine named no absolute data root (DockerRootDir {0:?})")]
    NoRootDir(Option<String>),
    /// The daemon's data root, seen through its root, cannot be examined.
    #[error("{path}: {source} (a directory of process {pid}, seen inside its root)")]
    Unreadable {
        /// The dockerd.
        pid: u32,
        /// The path tried.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The daemon's data root is reached inside its root only through a link that, followed from
    /// here, leads elsewhere: no path here reads it.
    #[error(
        "{path}: a symbolic link on the way leads out of the root of process {pid} when read from \
         here: the directory is not read"
    )]
    LinkOut {
        /// The dockerd.
        pid: u32,
        /// The path through its root.
        path: PathBuf,
    },
    /// The data root's `engine-id` names another engine.
    #[error(
        "{file}: engine-id {found:?} is not the engine's ID {engine:?}: another engine's data root"
    )]
    OtherEngine {
        /// The `engine-id` file.
        file: PathBuf,
        /// What it says.
        found: String,
        /// What `/info` said.
        engine: String,
    },
}

/// The socket file `docker_host` names: `unix://PATH`, or `fd://` (systemd's socket activation, taken to
/// be the default socket); anything else is not local.
pub fn socket_path(docker_host: &str) -> Result<PathBuf, NotProven> {
    match docker_host {
        "fd://" => Ok(PathBuf::from("/var/run/docker.sock")),
        h => h
            .strip_prefix("unix://")
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from)
            .ok_or_else(|| NotProven::NotLocal(h.to_string())),
    }
}

/// Listening unix sockets of a `/proc/<pid>/net/unix` table: inode → bound path (abstract and unnamed
/// sockets are left out). A row is `Num RefCount Protocol Flags Type St Inode [Path]`; listening is
/// the flag `__SO_ACCEPTCON` (0x10000).
pub fn listening_unix_sockets(table: &str) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    for line in table.lines().skip(1) {
        let mut rest = line;
        let mut fields = Vec::with_capacity(7);
        for _ in 0..7 {
            rest = rest.trim_start_matches(' ');
            let end = rest.find(' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let path = rest.strip_prefix(' ').unwrap_or("");
        let listening = u32::from_str_radix(fields[3], 16).is_ok_and(|f| f & 0x10000 != 0);
        if let (true, Ok(ino), true) = (listening, fields[6].parse::<u64>(), path.starts_with('/'))
        {
            out.insert(ino, path.to_string());
        }
    }
    out
}

/// `socket:[INODE]`, the link text of a socket's file descriptor.
fn socket_inode(link: &Path) -> Option<u64> {
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn dev_ino(m: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// Whether process `pid` holds a listening unix socket bound to a path that, seen inside its own root
/// and mount namespace ([`procroot::stat_in`]: an absolute link on the way, such as `/var/run ->
/// /run`, leads back into its root, not into this process's), is the socket file `want` (device,
/// inode).
pub fn listens_on(pid: u32, want: (u64, u64)) -> bool {
    let Ok(table) = fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return false;
    };
    let listening = listening_unix_sockets(&table);
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .ok()
            .and_then(|l| socket_inode(&l))
            .and_then(|ino| listening.get(&ino))
            .is_some_and(|bound| {
                procroot::stat_in(pid, Path::new(bound)).is_ok_and(|(id, _)| id == want)
            })
    })
}

/// The dockerd serving an engine's socket, found by [`socket_owner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOwner {
    /// Its process id (in this pid namespace).
    pub pid: u32,
    /// Its data root as its command line says (`--data-root`, else /etc/docker/daemon.json's here,
    /// else /var/lib/docker): a guess, in its own namespace.
    cmdline_root: PathBuf,
}

/// The dockerd serving `docker_host`: the one process whose command is `dockerd` and which listens on
/// the very socket file `docker_host` names (its listening socket's inode in `/proc/<pid>/net/unix`,
/// held as `socket:[inode]` in `/proc/<pid>/fd`, bound to a path that is that file seen through
/// `/proc/<pid>/root`). A file of the same name elsewhere does not count.
pub fn socket_owner(docker_host: &str) -> Result<SocketOwner, NotProven> {
    let sock = socket_path(docker_host)?;
    let want = fs::metadata(&sock)
        .map(|m| dev_ino(&m))
        .map_err(|source| NotProven::Socket {
            path: sock.clone(),
            source,
        })?;
    let mut owners: Vec<Dockerd> = dockerds()
        .into_iter()
        .filter(|d| listens_on(d.pid, want))
        .collect();
    match owners.len() {
        1 => {
            let d = owners.remove(0);
            Ok(SocketOwner {
                pid: d.pid,
                cmdline_root: d.data_root,
            })
        }
        0 => Err(NotProven::NoOwner(sock)),
        _ => Err(NotProven::SeveralOwners(
            owners.iter().map(|d| d.pid).collect(),
            sock,
        )),
    }
}

/// Where `root_dir` (a path in the namespace of dockerd `pid`) is read from here, and why that is the
/// daemon's own directory: the plain path when the daemon shares this mount namespace and root, or
/// when the directory it sees is the same device and inode; else through `/proc/<pid>/root`.
pub fn resolve_in(pid: u32, root_dir: &Path) -> Result<(PathBuf, ProofHow), NotProven> {
    let Ok(rel) = root_dir.strip_prefix("/") else {
        return Err(NotProven::NoRootDir(Some(root_dir.display().to_string())));
    };
    let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
    let through = proc_root.join(rel);
    let unreadable = |path: &Path, source| NotProven::Unreadable {
        pid,
        path: path.to_path_buf(),
        source,
    };
    // The directory the daemon itself uses: every link on the way resolved inside its root.
    let (seen, is_dir) = procroot::stat_in(pid, root_dir).map_err(|e| unreadable(&through, e))?;
    if !is_dir {
        return Err(unreadable(
            &through,
            io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    let plain_same = fs::metadata(root_dir).is_ok_and(|m| dev_ino(&m) == seen);
    // Read by path below, `through` must lead there too: an absolute link on the way would be
    // resolved against this process's root, elsewhere.
    let through_same = fs::metadata(&through).is_ok_and(|m| dev_ino(&m) == seen);
    let link = |p: &str| fs::read_link(p).ok();
    let same_ns = link(&format!("/proc/{pid}/ns/mnt"))
        .is_some_and(|n| Some(n) == link("/proc/self/ns/mnt"))
        && fs::metadata(&proc_root)
            .and_then(|r| fs::metadata("/").map(|s| dev_ino(&r) == dev_ino(&s)))
            .unwrap_or(false);
    Ok(match (plain_same, same_ns, through_same) {
        (true, true, _) => (root_dir.to_path_buf(), ProofHow::SameNamespace),
        (true, false, _) => (root_dir.to_path_buf(), ProofHow::SameInode),
        (false, _, true) => (through, ProofHow::ProcessRoot),
        (false, _, false) => return Err(NotProven::LinkOut { pid, path: through }),
    })
}

/// The verdict on a data root's `engine-id` file (`None`: no such file) against the engine's `ID`.
/// Err carries the file's id when it names another engine.
pub fn engine_id_verdict(
    file: Option<&str>,
    engine: Option<&str>,
) -> Result<EngineIdCheck, String> {
    match (file.map(str::trim), engine) {
        (Some(f), Some(e)) if f == e => Ok(EngineIdCheck::Matched),
        (Some(f), Some(_)) => Err(f.to_string()),
        _ => Ok(EngineIdCheck::Absent),
    }
}

/// Proves the data root of the engine served by dockerd `pid` (from [`socket_owner`]): its
/// `DockerRootDir` resolved in its own namespace ([`resolve_in`]), and the `engine-id` file there
/// compared with the engine's `ID` when both exist.
pub fn prove_root(
    pid: u32,
    root_dir: Option<&str>,
    engine_id: Option<&str>,
) -> Result<DataRootProof, NotProven> {
    let dir = root_dir
        .filter(|d| d.starts_with('/'))
        .ok_or_else(|| NotProven::NoRootDir(root_dir.map(String::from)))?;
    let (path, how) = resolve_in(pid, Path::new(dir))?;
    let file = path.join("engine-id");
    let text = match fs::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(NotProven::Unreadable {
                pid,
                path: file,
                source,
            });
        }
    };
    let check =
        engine_id_verdict(text.as_deref(), engine_id).map_err(|found| NotProven::OtherEngine {
            file: file.clone(),
            found,
            engine: engine_id.unwrap_or_default().to_string(),
        })?;
    Ok(DataRootProof {
        path,
        how,
        pid: Some(pid),
        engine_id: Some(check),
    })
}

/// Proves, in one call, the data root of the engine reached at `docker_host` (`DOCKER_HOST`, or
/// `unix:///var/run/docker.sock`) whose `/info` said `root_dir` (`DockerRootDir`) and `engine_id`
/// (`ID`): [`socket_owner`] then [`prove_root`]. For readers of the data root outside `dredge df`
/// (`dredge image` from the data root, `dredge prune`): read or touch [`DataRootProof::path`] only.
pub fn prove_live_root(
    docker_host: &str,
    root_dir: Option<&str>,
    engine_id: Option<&str>,
) -> Result<DataRootProof, NotProven> {
    let owner = socket_owner(docker_host)?;
    prove_root(owner.pid, root_dir, engine_id)
}

/// [`prove_live_root`] for what `source::engine::facts` answered.
pub fn prove_engine_root(
    facts: &crate::model::engine::EngineFacts,
) -> Result<DataRootProof, NotProven> {
    prove_live_root(&facts.host, facts.root_dir.as_deref(), facts.id.as_deref())
}

/// The dockerd `pid` serving the engine, as the daemon on its proven data root.
pub fn engine_daemon(pid: u32) -> DaemonFact {
    DaemonFact::Running {
        pid: Some(pid),
        started_ns: started_ns(pid),
        evidence: DaemonEvidence::Engine,
    }
}

/// A guess, from the command line of the dockerd serving the engine, at where its data root is read
/// from here: to start reading before the engine has answered. Only [`prove_root`] decides, and a read
/// of a guess it does not confirm is thrown away.
pub fn guess_root_of(owner: &SocketOwner) -> Option<PathBuf> {
    resolve_in(owner.pid, &owner.cmdline_root)
        .ok()
        .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_image_spec() {
        // From docs/docker-data-root.md §3, checked on a real engine: diff ids c363e8…, 9a4fb3… give
        // chain dirs c363e8…, 8b1c42…. Here a self-made case, computed with `printf | sha256sum`:
        // printf 'sha256:%s sha256:%s' $(printf a%.0s {1..64}) $(printf b%.0s {1..64}) | sha256sum
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let ids = chain_ids(&[a, b]);
        assert_eq!(ids[0], "a".repeat(64));
        assert_eq!(ids[1], EXPECTED_AB);
    }

    #[test]
    fn names_are_found_in_raw_bbolt_bytes() {
        let key = "0t8qkhpx2mwvp1ifzcfbm3qbg";
        let hex = "ab".repeat(32);
        let mut bytes = vec![0u8, 7, 0xff];
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(b"\x00\x01chainidsha256:");
        bytes.extend_from_slice(hex.as_bytes());
        bytes.push(0x61); // a pgid byte that happens to be ASCII 'a' right after the key
        let mut names = HashSet::new();
        collect_names(&bytes, &mut names);
        assert!(names.contains(key));
        assert!(names.contains(&hex));
        assert!(!names.contains(&"cd".repeat(32)));
    }

    #[test]
    fn names_across_a_chunk_boundary_are_found() {
        // A 64-hex name straddling the 1 MiB read boundary, and a base-36 key right at the end.
        let hex = "0123456789abcdef".repeat(4);
        let key = "0t8qkhpx2mwvp1ifzcfbm3qbg";
        let mut bytes = vec![0u8; (1 << 20) - 30];
        bytes.extend_from_slice(hex.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(key.as_bytes());
        let mut names = HashSet::new();
        scan_names(&bytes[..], &mut names).unwrap();
        assert!(names.contains(&hex));
        assert!(names.contains(key));
    }

    const S: i128 = 1_000_000_000;

    #[test]
    fn start_ticks_become_wall_clock_to_the_tick() {
        // Booted at 1 699 999 000.25 s (realtime 1 700 000 000.5 s when boot time read 1000.25 s);
        // started 50 012 ticks (500.12 s) after boot.
        let real = 1_700_000_000 * S + S / 2;
        let boot = 1000 * S + S / 4;
        assert_eq!(
            start_from_ticks(50_012, 100, real, boot),
            Some((1_699_999_500 * S + 370_000_000) as i64)
        );
        // A tick length that does not divide a second rounds down (early): 1 tick of 3 Hz.
        assert_eq!(start_from_ticks(1, 3, 0, 0), Some(333_333_333));
        assert_eq!(start_from_ticks(0, 0, real, boot), None);
        assert_eq!(start_from_ticks(0, 100, i128::MAX, 0), None);
    }

    #[test]
    fn a_start_is_at_most_one_tick_early_and_never_late() {
        // The kernel's tick count is the true start (ns after boot) truncated to whole ticks.
        let boot_wall = 1_750_000_000 * S + 123_456_789;
        let boottime_now = 90_000 * S + 7;
        let real_now = boot_wall + boottime_now;
        for hz in [100u64, 250, 300, 1000] {
            for since_boot in [
                0,
                1,
                9_999_999,
                10_000_000,
                10_000_001,
                4_321 * S + 987_654_321,
            ] {
                let ticks = (since_boot * hz as i128 / S) as u64;
                let got = start_from_ticks(ticks, hz, real_now, boottime_now).unwrap() as i128;
                let truth = boot_wall + since_boot;
                assert!(got <= truth, "late: hz {hz}, {since_boot} ns");
                // Under one tick, (truth − got) < 1 s / hz, plus the nanosecond of rounding down
                // when a tick is not a whole number of nanoseconds.
                let slack = i128::from(S % hz as i128 != 0);
                assert!(
                    (truth - got - slack) * (hz as i128) < S,
                    "more than a tick early: hz {hz}"
                );
            }
        }
    }

    #[test]
    fn a_child_started_between_two_clock_reads() {
        let now = || {
            std::time::SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as i64
        };
        let before = now();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let after = now();
        let got = started_ns(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        let got = got.expect("a start time");
        let tick = 1_000_000_000 / rustix::param::clock_ticks_per_second() as i64;
        // At most one tick early (and a millisecond for the clock reads), never after it was running.
        assert!(got >= before - tick - 1_000_000, "{got} vs {before}");
        assert!(got <= after, "{got} vs {after}");
    }

    #[test]
    fn listening_unix_sockets_keep_bound_listeners_only() {
        // Rows as /proc/net/unix prints them (taken from this machine, plus a path with a space).
        let table = "Num       RefCount Protocol Flags    Type St Inode Path\n\
            00000000ba3190e5: 00000003 00000000 00000000 0001 03 301397\n\
            0000000022c629da: 00000003 00000000 00000000 0001 03 10927 /var/run/docker/containerd/containerd.sock\n\
            0000000059e2a304: 00000002 00000000 00010000 0001 01 11962 /var/run/docker.sock\n\
            0000000059e2a305: 00000002 00000000 00010000 0001 01  1196 /tmp/a b.sock\n\
            0000000059e2a306: 00000002 00000000 00010000 0001 01 11963 @abstract\n";
        let m = listening_unix_sockets(table);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m[&11962], "/var/run/docker.sock");
        assert_eq!(m[&1196], "/tmp/a b.sock");
    }

    #[test]
    fn a_listener_is_found_by_its_bound_path_resolved_in_the_listeners_root() {
        // Bound through an absolute link (as dockerd binds /var/run/docker.sock, /var/run -> /run):
        // the bound path is looked up inside this process's root, with the link followed there, and
        // is the socket file itself.
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("run")).unwrap();
        std::os::unix::fs::symlink(t.path().join("run"), t.path().join("varrun")).unwrap();
        let bound = t.path().join("varrun/d.sock");
        let _l = std::os::unix::net::UnixListener::bind(&bound).unwrap();
        let want = dev_ino(&fs::metadata(t.path().join("run/d.sock")).unwrap());
        let me = std::process::id();
        assert!(listens_on(me, want));
        // A file of the same name elsewhere, or one this process does not listen on, is not it.
        std::fs::write(t.path().join("other.sock"), "").unwrap();
        let other = dev_ino(&fs::metadata(t.path().join("other.sock")).unwrap());
        assert!(!listens_on(me, other));
        let (dir, how) = resolve_in(me, t.path()).unwrap();
        assert_eq!((dir.as_path(), how), (t.path(), ProofHow::SameNamespace));
    }

    #[test]
    fn socket_inodes_come_from_fd_links() {
        assert_eq!(socket_inode(Path::new("socket:[11962]")), Some(11962));
        assert_eq!(socket_inode(Path::new("/dev/null")), None);
        assert_eq!(socket_inode(Path::new("pipe:[5]")), None);
    }

    #[test]
    fn engine_id_file_must_name_the_engine_asked() {
        let id = "b7cf1c4e-2f9c-4a7e-9a43-6b2a3f8b0d11";
        assert_eq!(
            engine_id_verdict(Some(&format!("{id}\n")), Some(id)),
            Ok(EngineIdCheck::Matched)
        );
        assert_eq!(
            engine_id_verdict(Some("another"), Some(id)),
            Err("another".to_string())
        );
        assert_eq!(engine_id_verdict(None, Some(id)), Ok(EngineIdCheck::Absent));
        assert_eq!(engine_id_verdict(Some(id), None), Ok(EngineIdCheck::Absent));
    }

    #[test]
    fn only_local_sockets_can_be_proven() {
        assert_eq!(
            socket_path("unix:///tmp/d.sock").unwrap(),
            PathBuf::from("/tmp/d.sock")
        );
        assert_eq!(
            socket_path("fd://").unwrap(),
            PathBuf::from("/var/run/docker.sock")
        );
        for h in [
            "tcp://127.0.0.1:2375",
            "ssh://u@h",
            "unix://rel.sock",
            "npipe:////./pipe/x",
        ] {
            assert!(matches!(socket_path(h), Err(NotProven::NotLocal(_))), "{h}");
        }
    }

    const EXPECTED_AB: &str = "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c";
}
