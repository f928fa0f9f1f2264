//! Reads the metadata of a Docker data root from its files, with no daemon: `image/overlay2/imagedb`,
//! `layerdb` (chains, cache ids, sizes, mounts), `containers/<id>/config.v2.json` and `hostconfig.json`,
//! `volumes/<name>/`. Missing or corrupt files become warnings (the report says it is partial); only a path
//! that is not a directory at all is an error. `volumes/metadata.db` and BuildKit's databases are bbolt
//! files and are not read: volume names come from the directories, and every 25-character base-36
//! `overlay2/` directory is taken to be BuildKit's (see `audit`).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::model::dataroot::{
    ContainerRecord, DataRoot, Driver, ImageRecord, LayerRecord, MountRecord, VolumeRecord,
    is_hex64,
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

/// Reads the data root's metadata.
pub fn read(root: &Path) -> Result<DataRoot, DataRootError> {
    let meta = fs::metadata(root).map_err(|source| DataRootError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(DataRootError::NotADirectory(root.to_path_buf()));
    }
    fs::read_dir(root).map_err(|source| DataRootError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let mut r = DataRoot {
        path: root.to_path_buf(),
        driver: detect_driver(root),
        images: Vec::new(),
        layers: BTreeMap::new(),
        mounts: Vec::new(),
        containers: Vec::new(),
        volumes: Vec::new(),
        buildkit: root.join("buildkit").is_dir(),
        warnings: Vec::new(),
    };
    // Two threads: the layer store (layers, then the images that name them) and the rest (mounts,
    // containers, volumes); hundreds of small files each, independent of each other.
    let mut rest = DataRoot {
        path: root.to_path_buf(),
        driver: r.driver.clone(),
        images: Vec::new(),
        layers: BTreeMap::new(),
        mounts: Vec::new(),
        containers: Vec::new(),
        volumes: Vec::new(),
        buildkit: r.buildkit,
        warnings: Vec::new(),
    };
    let store = root.join("image/overlay2");
    std::thread::scope(|s| {
        s.spawn(|| {
            if rest.driver == Driver::Overlay2 {
                read_mounts(&store, &mut rest);
            }
            read_containers(root, &mut rest);
            read_volumes(root, &mut rest);
        });
        if r.driver == Driver::Overlay2 {
            read_layers(&store, &mut r);
            read_images(&store, &mut r);
        }
    });
    r.mounts = rest.mounts;
    r.containers = rest.containers;
    r.volumes = rest.volumes;
    r.warnings.append(&mut rest.warnings);
    match &r.driver {
        Driver::Overlay2 => {}
        Driver::ContainerdStore => r.warnings.push(format!(
            "{}: the containerd image store is not supported: images, layers and build cache are \
             counted as \"other\"",
            root.display()
        )),
        Driver::Other(d) => r.warnings.push(format!(
            "{}: the {d} storage driver is not supported (only overlay2): its bytes are counted as \
             \"other\"",
            root.display()
        )),
        Driver::None => r.warnings.push(format!(
            "{}: no image store found (no image/overlay2, no containerd store): is this a Docker \
             data root?",
            root.display()
        )),
    }
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

fn nonempty_dir(p: &Path) -> bool {
    fs::read_dir(p).is_ok_and(|mut d| d.next().is_some())
}

fn detect_driver(root: &Path) -> Driver {
    if nonempty_dir(&root.join("image/overlay2/imagedb")) || root.join("overlay2").is_dir() {
        return Driver::Overlay2;
    }
    for d in GRAPH_DRIVERS {
        if nonempty_dir(&root.join("image").join(d)) {
            return Driver::Other((*d).to_string());
        }
    }
    if nonempty_dir(&root.join("containerd/daemon/io.containerd.content.v1.content"))
        || nonempty_dir(&root.join("containerd/daemon/io.containerd.snapshotter.v1.overlayfs"))
    {
        return Driver::ContainerdStore;
    }
    Driver::None
}

/// Reads a small text file, trimmed; None when absent. Other errors become a warning.
fn read_text(path: &Path, warnings: &mut Vec<String>) -> Option<String> {
    match fs::read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Some(s.trim().to_string()),
            Err(_) => {
                warnings.push(format!("{}: not UTF-8 text, ignored", path.display()));
                None
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

/// Lists a directory's entry names (UTF-8 only); a missing directory is empty, other errors warn.
fn list(dir: &Path, warnings: &mut Vec<String>) -> Vec<String> {
    match fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            v.sort();
            v
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            warnings.push(format!("{}: {e}", dir.display()));
            Vec::new()
        }
    }
}

fn strip_sha(s: &str) -> &str {
    s.strip_prefix("sha256:").unwrap_or(s)
}

fn read_layers(store: &Path, r: &mut DataRoot) {
    let dir = store.join("layerdb/sha256");
    for name in list(&dir, &mut r.warnings) {
        if !is_hex64(&name) {
            continue; // `<chain>-<random>-removing` and strays: found by audit as leftovers.
        }
        let d = dir.join(&name);
        let w = &mut r.warnings;
        let cache_id = read_text(&d.join("cache-id"), w);
        if cache_id.is_none() {
            w.push(format!("{}: no cache-id, layer files unknown", d.display()));
        }
        let size = read_text(&d.join("size"), w).and_then(|s| {
            s.parse::<u64>().ok().or_else(|| {
                w.push(format!(
                    "{}: size is not a number",
                    d.join("size").display()
                ));
                None
            })
        });
        let layer = LayerRecord {
            chain_id: name.clone(),
            diff_id: read_text(&d.join("diff"), w),
            parent: read_text(&d.join("parent"), w).map(|p| strip_sha(&p).to_string()),
            cache_id,
            size,
        };
        r.layers.insert(name, layer);
    }
}

fn read_mounts(store: &Path, r: &mut DataRoot) {
    let dir = store.join("layerdb/mounts");
    for name in list(&dir, &mut r.warnings) {
        let d = dir.join(&name);
        let w = &mut r.warnings;
        r.mounts.push(MountRecord {
            mount_id: read_text(&d.join("mount-id"), w),
            init_id: read_text(&d.join("init-id"), w),
            parent: read_text(&d.join("parent"), w).map(|p| strip_sha(&p).to_string()),
            id: name,
        });
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

fn read_images(store: &Path, r: &mut DataRoot) {
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    let repo_path = store.join("repositories.json");
    if let Some(text) = read_text(&repo_path, &mut r.warnings) {
        match serde_json::from_str::<Repositories>(&text) {
            Ok(repos) => {
                for refs in repos.repositories.into_values() {
                    for (reference, id) in refs {
                        tags.entry(id).or_default().push(reference);
                    }
                }
            }
            Err(e) => r.warnings.push(format!(
                "{}: {e}; images listed without tags",
                repo_path.display()
            )),
        }
    }
    let dir = store.join("imagedb/content/sha256");
    for name in list(&dir, &mut r.warnings) {
        if !is_hex64(&name) {
            continue;
        }
        let path = dir.join(&name);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                r.warnings.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let id = format!("sha256:{name}");
        let chain = match serde_json::from_slice::<ConfigRootfs>(&bytes) {
            Ok(c) => chain_ids(&c.rootfs.map(|r| r.diff_ids).unwrap_or_default()),
            Err(e) => {
                r.warnings.push(format!(
                    "{}: not an image config ({e}); its layers are not counted as used",
                    path.display()
                ));
                Vec::new()
            }
        };
        if let Some(top) = chain.last()
            && !r.layers.contains_key(top)
        {
            r.warnings.push(format!(
                "image {id}: layer chain {top} is missing (the engine skips this image)"
            ));
        }
        let parent = read_text(
            &store
                .join("imagedb/metadata/sha256")
                .join(&name)
                .join("parent"),
            &mut r.warnings,
        );
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

fn read_containers(root: &Path, r: &mut DataRoot) {
    let dir = root.join("containers");
    for name in list(&dir, &mut r.warnings) {
        let d = dir.join(&name);
        if !d.is_dir() {
            continue;
        }
        let mut c = ContainerRecord {
            id: name,
            name: None,
            image: None,
            running: false,
            log_driver: None,
            volumes: Vec::new(),
            known: false,
        };
        let cfg_path = d.join("config.v2.json");
        match fs::read(&cfg_path) {
            Ok(b) => match serde_json::from_slice::<ContainerConfig>(&b) {
                Ok(cfg) => {
                    c.known = true;
                    c.name = cfg.name.map(|n| n.trim_start_matches('/').to_string());
                    c.image = cfg.image;
                    c.running = cfg
                        .state
                        .is_some_and(|s| s.running || s.paused || s.restarting);
                    c.volumes = cfg
                        .mount_points
                        .into_values()
                        .filter(|m| m.kind == "volume" && !m.name.is_empty())
                        .map(|m| m.name)
                        .collect();
                    c.volumes.sort();
                }
                Err(e) => r.warnings.push(format!(
                    "{}: {e}; the engine will not load this container",
                    cfg_path.display()
                )),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => r.warnings.push(format!("{}: {e}", cfg_path.display())),
        }
        if let Ok(b) = fs::read(d.join("hostconfig.json"))
            && let Ok(h) = serde_json::from_slice::<HostConfig>(&b)
        {
            c.log_driver = h.log_config.and_then(|l| l.kind);
        }
        r.containers.push(c);
    }
}

fn read_volumes(root: &Path, r: &mut DataRoot) {
    let dir = root.join("volumes");
    for name in list(&dir, &mut r.warnings) {
        let d = dir.join(&name);
        // A directory is a volume if it has `_data` or `opts.json` (moby volume/local).
        if d.join("_data").is_dir() || d.join("opts.json").is_file() {
            r.volumes.push(VolumeRecord {
                anonymous: is_hex64(&name),
                name,
            });
        }
    }
}

/// A running `dockerd`, from its command line.
struct Dockerd {
    pid: u32,
    /// `--data-root`/`-g`, else `data-root` of /etc/docker/daemon.json, else /var/lib/docker.
    data_root: PathBuf,
    /// `-H`/`--host` values, else `hosts` of daemon.json, else the default socket.
    hosts: Vec<String>,
}

/// Every running `dockerd` found in `/proc/*/cmdline`.
fn dockerds() -> Vec<Dockerd> {
    let config = fs::read("/etc/docker/daemon.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let configured = config
        .as_ref()
        .and_then(|v| v["data-root"].as_str().map(PathBuf::from));
    let configured_hosts: Vec<String> = config
        .as_ref()
        .and_then(|v| v["hosts"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|h| h.as_str().map(String::from))
        .collect();
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
        let mut hosts = Vec::new();
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            if let Some(v) = a
                .strip_prefix("--data-root=")
                .or(a.strip_prefix("--graph="))
            {
                data_root = Some(PathBuf::from(v));
            } else if a == "--data-root" || a == "-g" || a == "--graph" {
                data_root = it.next().map(PathBuf::from);
            } else if let Some(v) = a.strip_prefix("--host=").or(a.strip_prefix("-H=")) {
                hosts.push(v.to_string());
            } else if a == "-H" || a == "--host" {
                hosts.extend(it.next().cloned());
            }
        }
        if hosts.is_empty() {
            hosts = configured_hosts.clone();
        }
        if hosts.is_empty() {
            hosts.push("unix:///var/run/docker.sock".into());
        }
        found.push(Dockerd {
            pid,
            data_root: data_root
                .or_else(|| configured.clone())
                .unwrap_or_else(|| PathBuf::from("/var/lib/docker")),
            hosts,
        });
    }
    found
}

/// The pid of a running `dockerd` whose data root is `root` (its `--data-root`/`-g` flag, else
/// `data-root` of /etc/docker/daemon.json, else /var/lib/docker), found in `/proc/*/cmdline`.
/// There is no lock on a data root; this is how one tells it is in use (docs: data root §10).
pub fn daemon_using(root: &Path) -> Option<u32> {
    let want = fs::canonicalize(root).ok()?;
    dockerds()
        .into_iter()
        .find(|d| fs::canonicalize(&d.data_root).is_ok_and(|u| u == want))
        .map(|d| d.pid)
}

/// A guess, from the command lines of running dockerds, at the data root of the one listening on
/// `docker_host` (a `unix://` socket; `fd://`, systemd's, is taken to be the default socket). Only a
/// guess, to start reading before the engine has answered: the engine's `DockerRootDir` decides.
pub fn guess_root_of(docker_host: &str) -> Option<PathBuf> {
    let socket = |h: &str| {
        let p = match h {
            "fd://" => "/var/run/docker.sock",
            h => h.strip_prefix("unix://")?,
        };
        fs::canonicalize(p).ok()
    };
    let want = socket(docker_host)?;
    let mut matching = dockerds()
        .into_iter()
        .filter(|d| d.hosts.iter().any(|h| socket(h).as_ref() == Some(&want)));
    let d = matching.next()?;
    (matching.next().is_none() && d.data_root.is_dir()).then_some(d.data_root)
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

    const EXPECTED_AB: &str = "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c";
}
