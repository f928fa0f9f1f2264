//! The objects of a Docker data root (`/var/lib/docker`) as its metadata records them: images, layer
//! chains, container mounts, containers, volumes, and whether BuildKit keeps state there. Filled by
//! `source::dataroot` (offline, from the files) and joined with what a live engine says.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

/// How the engine stores images in this data root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Driver {
    /// The overlay2 graph driver (`image/overlay2/`, `overlay2/`): fully understood.
    Overlay2,
    /// The containerd image store (`containerd/daemon/`, Engine 24+ opt-in, 29+ default): read by
    /// `source::containerd`, accounted by `audit::containerd`.
    ContainerdStore,
    /// Another graph driver (`vfs`, `btrfs`, `zfs`, `fuse-overlayfs`, …): not supported.
    Other(String),
    /// No image store found at all (empty or not a data root).
    #[default]
    None,
}

/// One image config of `image/overlay2/imagedb/content/sha256/`.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRecord {
    /// `sha256:<hex>` of the config.
    pub id: String,
    /// Tags and digests from `repositories.json`.
    pub tags: Vec<String>,
    /// Chain ids (bare hex) of its layers, base first, computed from `rootfs.diff_ids`.
    pub chain: Vec<String>,
    /// `imagedb/metadata/.../parent` (classic-builder intermediates, `docker commit`).
    pub parent: Option<String>,
}

/// One layer chain of `image/overlay2/layerdb/sha256/<chain-id>/`.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRecord {
    /// The chain id (bare hex).
    pub chain_id: String,
    /// The diff id (`sha256:` of the uncompressed tar).
    pub diff_id: Option<String>,
    /// The parent chain id (bare hex), absent for a base layer.
    pub parent: Option<String>,
    /// The directory under `overlay2/` holding the files.
    pub cache_id: Option<String>,
    /// The engine's recorded size (Σ regular-file sizes).
    pub size: Option<u64>,
    /// True when `diff`, `size` and `cache-id` were all read and valid: the record the engine's layer
    /// store loads at start (and so holds in memory while it runs).
    pub complete: bool,
}

/// One container mount of `image/overlay2/layerdb/mounts/<id>/`.
#[derive(Debug, Clone, Serialize)]
pub struct MountRecord {
    /// The container id (or a BuildKit key for a RUN step).
    pub id: String,
    /// The writable layer's directory under `overlay2/`.
    pub mount_id: Option<String>,
    /// The init layer's directory (`<mount-id>-init`).
    pub init_id: Option<String>,
    /// The image's top chain id (bare hex).
    pub parent: Option<String>,
}

/// One container of `containers/<id>/`.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerRecord {
    /// The full id (the directory name).
    pub id: String,
    /// The name, without the leading `/`.
    pub name: Option<String>,
    /// `sha256:` image id.
    pub image: Option<String>,
    /// True when `config.v2.json` says it runs (or is paused or restarting).
    pub running: bool,
    /// `State.StartedAt` from `config.v2.json`, seconds since the epoch (None: never started).
    pub started_at: Option<i64>,
    /// `State.FinishedAt` from `config.v2.json`, seconds since the epoch (None: never finished).
    pub finished_at: Option<i64>,
    /// The log driver from `hostconfig.json` (`json-file`, `local`, `none`, …).
    pub log_driver: Option<String>,
    /// Names of the volumes it mounts.
    pub volumes: Vec<String>,
    /// False when `config.v2.json` is missing or unreadable: the engine will not load it.
    pub known: bool,
    /// Whether `config.v2.json` was there, read, or there but unreadable.
    pub config: ConfigState,
}

/// The state of a container's `config.v2.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigState {
    /// Read and parsed.
    Read,
    /// No such file: the engine does not load the directory (an orphan).
    #[default]
    Missing,
    /// There, but not readable or not valid (a FIFO, a link, corrupt): the container it describes is
    /// unknown, so its directory and mount are kept.
    Unreadable,
}

/// Metadata that contradicts itself or cannot be read, where it decides what is live: never a deletion
/// candidate, and it protects whatever it could refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inconsistency {
    /// The path whose metadata is in doubt.
    pub path: String,
    /// What is wrong, one line.
    pub detail: String,
}

/// What a reference could not say: each flag widens what is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Unknowns {
    /// Some layer's `cache-id` or some mount's `mount-id`/`init-id` is unknown (unreadable,
    /// malformed, naming a path): any `overlay2/` dir may be referenced, so none is an unreferenced dir.
    pub dir_refs: bool,
    /// Some image config (or BuildKit database) cannot be read: any chain may be live, so none is an
    /// unreferenced layer.
    pub chain_refs: bool,
    /// `containers/` cannot be listed: any mount may be a container's, so none is an orphan.
    pub containers: bool,
}

/// Directory listings of the data root, gathered with the metadata so that deciding ownership reads
/// nothing more.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listing {
    /// Directory names under `overlay2/` (links and special files are left to "other").
    pub overlay2: Vec<String>,
    /// `layerdb/sha256/<chain>-<random>-removing` records and the plain `cache-id` they name, if any.
    pub removing: Vec<(String, Option<String>)>,
    /// Names under `image/overlay2/layerdb/tmp/`.
    pub layerdb_tmp: Vec<String>,
    /// Names under `tmp/`.
    pub tmp: Vec<String>,
    /// The data root's own entries, with whether each is a directory.
    pub top: Vec<(String, bool)>,
    /// Names written in `buildkit/*.db` (64-hex and 25-char base-36 runs).
    pub buildkit_names: HashSet<String>,
    /// True when every `buildkit/*.db` was read.
    pub buildkit_db_read: bool,
    /// Birth time of `tmp/`, nanoseconds since the epoch (dockerd re-creates it at every start).
    pub tmp_born_ns: Option<i64>,
    /// The run dirs of `dredge-quarantine/` (when it is a dir), sorted by name.
    pub quarantine: Vec<QuarantinedRun>,
}

/// One run dir of `dredge-quarantine/`: what one `dredge prune` run moved aside
/// (`<root>/dredge-quarantine/<run>/<item>`, see `prune::orphans::quarantine_target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QuarantinedRun {
    /// The run id (the dir's name).
    pub run: String,
    /// Entries in it: one per quarantined path.
    pub items: u64,
    /// The dir's modification time (the last rename in), nanoseconds since the epoch: what
    /// `dredge prune --purge-quarantine --older-than` goes by.
    pub modified_ns: Option<i64>,
}

/// Whether a Docker daemon uses this data root, and how that was found out (docs: data root §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum DaemonFact {
    /// A daemon uses the root: whatever its layer store holds in memory may be re-used at any moment.
    Running {
        /// Its process id, when known.
        pid: Option<u32>,
        /// When it started, nanoseconds since the epoch, when known.
        started_ns: Option<i64>,
        /// How it was found.
        evidence: DaemonEvidence,
    },
    /// No daemon found by any of the checks.
    NotFound,
}

/// How a running daemon was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaemonEvidence {
    /// The engine was asked and named this root (`dredge df` without `--data-root`).
    Engine,
    /// A `dockerd` process whose data root is this one.
    Process,
    /// The pid file names a live `dockerd` whose command line cannot be read.
    PidFile,
    /// Overlay mounts under `<root>/overlay2` (containers kept running by live-restore).
    Mounts,
    /// No `dockerd` process is visible, but the default socket accepts connections.
    Socket,
}

impl DaemonFact {
    /// True when a daemon uses the root.
    pub fn running(&self) -> bool {
        matches!(self, DaemonFact::Running { .. })
    }
}

/// One volume of `volumes/<name>/`.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeRecord {
    /// The volume name (the directory name).
    pub name: String,
    /// True for a 64-hex name (an anonymous volume).
    pub anonymous: bool,
}

/// What the metadata of a data root says; sizes on disk are measured separately (`audit`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataRoot {
    /// The data root.
    pub path: PathBuf,
    /// How images are stored.
    pub driver: Driver,
    /// Image configs.
    pub images: Vec<ImageRecord>,
    /// Layer chains by chain id (bare hex).
    pub layers: BTreeMap<String, LayerRecord>,
    /// Container mounts.
    pub mounts: Vec<MountRecord>,
    /// Containers.
    pub containers: Vec<ContainerRecord>,
    /// Volumes.
    pub volumes: Vec<VolumeRecord>,
    /// True when `buildkit/` exists (BuildKit state in graph-driver mode).
    pub buildkit: bool,
    /// Oddities met while reading (missing or corrupt files); the report is partial where they apply.
    pub warnings: Vec<String>,
    /// True when some metadata could not be read, so some figure is missing.
    pub missing_figures: bool,
    /// Metadata that cannot be trusted to say what is live.
    pub inconsistent: Vec<Inconsistency>,
    /// What unreadable references leave open.
    pub unknowns: Unknowns,
    /// Directory listings, for deciding ownership.
    pub listing: Listing,
}

/// The dir under the data root where `dredge prune` moves orphans (`<root>/dredge-quarantine/<run>/…`),
/// on the data root's own filesystem so that the move is one rename. The audit gives it a category of its
/// own (`quarantine`): never an orphan, never walked as anything else.
pub const QUARANTINE_DIR: &str = "dredge-quarantine";

/// True for a BuildKit snapshot key: 25 characters of `[0-9a-z]` (identity.NewID, base 36).
pub fn is_buildkit_key(name: &str) -> bool {
    name.len() == 25
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// True for 64 lowercase hex digits.
pub fn is_hex64(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkit_keys_are_25_base36() {
        assert!(is_buildkit_key("0t8qkhpx2mwvp1ifzcfbm3qbg"));
        assert!(!is_buildkit_key("0t8qkhpx2mwvp1ifzcfbm3qb")); // 24
        assert!(!is_buildkit_key("0T8QKHPX2MWVP1IFZCFBM3QBG")); // upper case
        assert!(!is_buildkit_key(&"a".repeat(64)));
    }

    #[test]
    fn hex64() {
        assert!(is_hex64(&"0f".repeat(32)));
        assert!(!is_hex64(&"0g".repeat(32)));
        assert!(!is_hex64("abc"));
    }
}

/// A data root proven to belong to the engine being asked (or named by the user): the only kind of
/// directory `dredge df` reads and `dredge prune` may touch. Made by `source::dataroot::prove_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataRootProof {
    /// The directory to read: the plain path when proven to be the daemon's own, else the daemon's
    /// `DockerRootDir` seen through `/proc/<pid>/root`.
    pub path: PathBuf,
    /// How it was proven.
    pub how: ProofHow,
    /// The dockerd serving the engine's socket (live).
    pub pid: Option<u32>,
    /// What the data root's `engine-id` file said about the engine's `ID` (live).
    pub engine_id: Option<EngineIdCheck>,
}

/// How a data root was proven to be the engine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProofHow {
    /// Offline: the user named it with `--data-root`.
    Named,
    /// The dockerd listening on the engine's socket shares this process's mount namespace and root
    /// directory, so its `DockerRootDir` is the same path here.
    SameNamespace,
    /// The dockerd runs in another mount namespace or root, and its `DockerRootDir`, seen through
    /// `/proc/<pid>/root`, is the same directory (device and inode) as the plain path.
    SameInode,
    /// The dockerd runs in another mount namespace or root, and the plain path is another directory:
    /// its `DockerRootDir` is read through `/proc/<pid>/root`.
    ProcessRoot,
}

/// The data root's `engine-id` file (Engine 23+) against the engine's `/info` `ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineIdCheck {
    /// Both exist and are equal.
    Matched,
    /// No `engine-id` file (engines before 23) or no `ID` in `/info`: proven by the process alone.
    Absent,
}
