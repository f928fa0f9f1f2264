//! What an audit of a data root says: categories, objects, orphans and the largest items. Category and
//! item names are enums whose text is given here once.

use serde::Serialize;

use super::cache;
use crate::model::dataroot::{DaemonFact, Driver, Inconsistency};

/// Why a path is an orphan (or, for layers and mounts while a daemon runs, held by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanKind {
    /// A layer chain (and its overlay2 dir) that no image, container or BuildKit record reaches.
    UnreferencedLayer,
    /// An `overlay2/` dir that no layer, mount or BuildKit snapshot names.
    UnreferencedDir,
    /// A container mount (`layerdb/mounts/<id>` and its overlay2 dirs) whose container is gone.
    UnreferencedMount,
    /// `layerdb/sha256/<chain>-<random>-removing`: a layer removal that did not finish; the main path is
    /// the overlay2 dir its `cache-id` names while that is still there (half deleted), else the record.
    RemovingLayer,
    /// `layerdb/tmp/*`: a layer commit that did not finish.
    LayerdbTmp,
    /// `tmp/*` or `tmp-old`: scratch of a load, save, import or build.
    Tmp,
    /// `containers/<id>` without a `config.v2.json`: the engine does not load it.
    UnknownContainerDir,
}

impl OrphanKind {
    /// Every kind.
    pub const ALL: [OrphanKind; 7] = [
        OrphanKind::UnreferencedLayer,
        OrphanKind::UnreferencedDir,
        OrphanKind::UnreferencedMount,
        OrphanKind::RemovingLayer,
        OrphanKind::LayerdbTmp,
        OrphanKind::Tmp,
        OrphanKind::UnknownContainerDir,
    ];

    /// The kind [`as_str`](Self::as_str) names.
    pub fn from_name(name: &str) -> Option<OrphanKind> {
        OrphanKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kebab-case name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            OrphanKind::UnreferencedLayer => "unreferenced-layer",
            OrphanKind::UnreferencedDir => "unreferenced-dir",
            OrphanKind::UnreferencedMount => "unreferenced-mount",
            OrphanKind::RemovingLayer => "removing-layer",
            OrphanKind::LayerdbTmp => "layerdb-tmp",
            OrphanKind::Tmp => "tmp",
            OrphanKind::UnknownContainerDir => "unknown-container-dir",
        }
    }
}

/// One orphan (or in-flight or held-by-daemon candidate), with its size and age: what `prune` needs to
/// re-check it before deleting.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// The main path (an overlay2 dir for layers and mounts).
    pub path: String,
    /// Other paths belonging to the same orphan (its layerdb or mounts record).
    pub also: Vec<String>,
    /// Why it is an orphan.
    pub kind: OrphanKind,
    /// Allocated bytes.
    pub bytes: u64,
    /// Apparent bytes.
    pub apparent_bytes: u64,
    /// Seconds since anything inside was last modified.
    pub age_seconds: Option<u64>,
    /// Newest modification time inside, nanoseconds since the epoch.
    #[serde(skip)]
    pub modified_ns: Option<i64>,
}

/// The categories every byte is given to, in the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CategoryName {
    /// Image layers and image metadata.
    Images,
    /// Writable layers and container dirs.
    Containers,
    /// Volumes.
    Volumes,
    /// BuildKit snapshots and state.
    BuildCache,
    /// The containerd image store only: what leases other than containers' and BuildKit's hold (pulls
    /// and loads under way, or leaked leases), and `ingest/` leftovers.
    LeasesIngest,
    /// Orphans (deletion candidates).
    Orphans,
    /// Everything else, including in-flight and held-by-daemon items and what inconsistent metadata
    /// keeps.
    Other,
    /// `dredge-quarantine/`: orphans `dredge prune` moved aside, restorable (`--undo`) until purged.
    Quarantine,
}

impl CategoryName {
    /// Every category, in order.
    pub const ALL: [CategoryName; 8] = [
        CategoryName::Images,
        CategoryName::Containers,
        CategoryName::Volumes,
        CategoryName::BuildCache,
        CategoryName::LeasesIngest,
        CategoryName::Orphans,
        CategoryName::Other,
        CategoryName::Quarantine,
    ];

    /// The name shown in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CategoryName::Images => "images",
            CategoryName::Containers => "containers",
            CategoryName::Volumes => "volumes",
            CategoryName::BuildCache => "build-cache",
            CategoryName::LeasesIngest => "leases-ingest",
            CategoryName::Orphans => "orphans",
            CategoryName::Other => "other",
            CategoryName::Quarantine => "quarantine",
        }
    }

    /// What frees the category.
    pub fn reclaim(self) -> &'static str {
        match self {
            CategoryName::Images => "docker image prune -a",
            CategoryName::Containers => "docker container prune",
            CategoryName::Volumes => "docker volume prune (Engine 23+: docker volume prune --all)",
            CategoryName::BuildCache => "docker builder prune -a",
            CategoryName::LeasesIngest => {
                "leaked leases: ctr -n moby leases delete --sync ID (containerd's GC frees what they held)"
            }
            CategoryName::Orphans => {
                "none via the engine: stop dockerd, re-check, delete the paths"
            }
            CategoryName::Other => "-",
            CategoryName::Quarantine => {
                "dredge prune --purge-quarantine (dredge prune --undo restores)"
            }
        }
    }
}

/// One category's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Category {
    /// `images`, `containers`, `volumes`, `build-cache`, `orphans`, `other`, `quarantine`.
    pub name: CategoryName,
    /// Allocated bytes.
    pub bytes: u64,
    /// Apparent bytes.
    pub apparent_bytes: u64,
    /// Objects counted (images, containers, volumes, build-cache dirs, orphans, other entries,
    /// quarantined items).
    pub count: u64,
    /// Allocated bytes the reclaim command frees.
    pub reclaimable_bytes: u64,
    /// What frees it.
    pub reclaim: &'static str,
}

/// One image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageUsage {
    /// `sha256:` config digest.
    pub id: String,
    /// Tags and digests.
    pub tags: Vec<String>,
    /// Allocated bytes of all its layers.
    pub bytes: u64,
    /// Apparent bytes of its layers' `diff/` trees (what `docker images` shows).
    pub apparent_bytes: u64,
    /// Bytes of layers no other image uses.
    pub unique_bytes: u64,
    /// Bytes of layers other images use too.
    pub shared_bytes: u64,
    /// Containers made from it.
    pub containers: u64,
    /// Untagged and no image's parent.
    pub dangling: bool,
    /// When it was last used, seconds since the epoch, where known (see `last_used_source`).
    pub last_used: Option<i64>,
    /// Where `last_used` comes from; None when it was not looked for (offline, engine not reached).
    pub last_used_source: Option<LastUsedSource>,
}

/// Where an image's last use comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LastUsedSource {
    /// The newest `State.StartedAt` or `State.FinishedAt` of its containers, as the engine has them.
    Containers,
    /// `dredge prune`'s memory (its state dir's `last-used-<engine>.json`): the newest container use
    /// it saw, else when it first saw the image.
    StateFile,
    /// Neither: no container the engine has now ever ran it, and nothing remembers a use.
    NoneSeen,
}

impl LastUsedSource {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LastUsedSource::Containers => "containers",
            LastUsedSource::StateFile => "state-file",
            LastUsedSource::NoneSeen => "none-seen",
        }
    }
}

/// One container.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerUsage {
    /// Full id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Image id.
    pub image: Option<String>,
    /// Running, paused or restarting.
    pub running: bool,
    /// Allocated bytes of the writable layer and its init layer (`overlay2/<mount-id>{,-init}`).
    pub writable_bytes: u64,
    /// Apparent bytes of the writable layer's `diff/` (what `docker ps -s` shows as size).
    pub writable_apparent_bytes: u64,
    /// Allocated bytes of its log files (json-file `<id>-json.log*`, local `local-logs/*`).
    pub log_bytes: u64,
    /// Apparent bytes of its log files.
    pub log_apparent_bytes: u64,
    /// Allocated bytes of `containers/<id>/`, logs included.
    pub dir_bytes: u64,
    /// `writable_bytes + dir_bytes`.
    pub bytes: u64,
}

/// One volume.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeUsage {
    /// Name.
    pub name: String,
    /// 64-hex name.
    pub anonymous: bool,
    /// Allocated bytes of `volumes/<name>/`.
    pub bytes: u64,
    /// Apparent bytes of `_data` (what `docker system df -v` shows).
    pub apparent_bytes: u64,
    /// Containers that mount it.
    pub containers: u64,
}

/// One run dir of `dredge-quarantine/`: what one `dredge prune` run moved aside, restorable with
/// `dredge prune --undo RUN` until `dredge prune --purge-quarantine` deletes it.
#[derive(Debug, Clone, Serialize)]
pub struct QuarantineRun {
    /// The run id (the dir's name).
    pub run: String,
    /// The run dir.
    pub path: String,
    /// Quarantined items in it (one per path prune moved aside).
    pub items: u64,
    /// Allocated bytes.
    pub bytes: u64,
    /// Apparent bytes.
    pub apparent_bytes: u64,
    /// Seconds since the run dir was last modified (the last rename in): what
    /// `--purge-quarantine --older-than` compares.
    pub age_seconds: Option<u64>,
    /// The run dir's modification time, nanoseconds since the epoch.
    #[serde(skip)]
    pub modified_ns: Option<i64>,
}

/// What a largest item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// An image layer.
    Layer,
    /// A container (writable layer and dir).
    Container,
    /// A volume.
    Volume,
    /// A BuildKit snapshot or state.
    BuildCache,
    /// An orphan.
    Orphan,
    /// An orphan candidate found under way.
    InFlight,
    /// An unreferenced layer or mount the running daemon holds.
    HeldByDaemon,
    /// Anything else.
    Other,
    /// `image/`.
    ImageMetadata,
    /// A run dir of `dredge-quarantine/`.
    Quarantine,
}

impl ItemKind {
    /// The name shown in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Layer => "layer",
            ItemKind::Container => "container",
            ItemKind::Volume => "volume",
            ItemKind::BuildCache => "build-cache",
            ItemKind::Orphan => "orphan",
            ItemKind::InFlight => "in-flight",
            ItemKind::HeldByDaemon => "held-by-daemon",
            ItemKind::Other => "other",
            ItemKind::ImageMetadata => "image-metadata",
            ItemKind::Quarantine => "quarantine",
        }
    }
}

/// One of the largest single items.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `layer`, `container`, `volume`, `build-cache`, `orphan`, `other`, `image-metadata`,
    /// `in-flight`, `held-by-daemon`, `quarantine`.
    pub kind: ItemKind,
    /// What it is (tags, names, path).
    pub name: String,
    /// Allocated bytes.
    pub bytes: u64,
}

/// The whole accounting of a data root.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Audit {
    /// The data root.
    pub data_root: String,
    /// Storage driver found.
    pub driver: Driver,
    /// Allocated bytes of the whole data root (one filesystem, hard links once).
    pub total_bytes: u64,
    /// Apparent bytes of the whole data root.
    pub total_apparent_bytes: u64,
    /// Categories, summing to the totals.
    pub categories: Vec<Category>,
    /// Images.
    pub images: Vec<ImageUsage>,
    /// Containers.
    pub containers: Vec<ContainerUsage>,
    /// Volumes.
    pub volumes: Vec<VolumeUsage>,
    /// Orphans, largest first.
    pub orphans: Vec<Orphan>,
    /// Orphan candidates that changed or became referenced while the engine ran (a pull, load, build
    /// or create under way): not orphans, their bytes are counted under "other".
    pub in_flight: Vec<Orphan>,
    /// Layer chains with a complete layerdb record (and container mounts) that nothing references
    /// while a daemon runs on the root: its layer store holds them and re-uses them on the next load
    /// or pull. Not orphans; reclaimable with the daemon stopped. Their bytes are counted under
    /// "other".
    pub held_by_daemon: Vec<Orphan>,
    /// Metadata that cannot be read or contradicts itself where it decides what is live: whatever it
    /// could refer to is kept (never a deletion candidate).
    pub inconsistent: Vec<Inconsistency>,
    /// Every item, largest first (cut to `--top` by the report).
    pub top: Vec<Item>,
    /// The run dirs of `dredge-quarantine/`, by run id: what `dredge prune --purge-quarantine` deletes.
    pub quarantine: Vec<QuarantineRun>,
    /// True when BuildKit's databases were searched for the names they hold.
    pub buildkit_db_read: bool,
    /// Layers whose sizes came from `--cache` instead of a walk.
    pub cached_layers: u64,
    /// Whether a daemon was found using the root, and how (offline mode; live mode: the engine).
    pub daemon: Option<DaemonFact>,
    /// Oddities: partial metadata, unreadable paths, unsupported drivers.
    pub warnings: Vec<String>,
    /// True when some figure is missing (metadata or paths unreadable, driver unsupported); a warning
    /// alone (an unusable `--cache`) does not make it so.
    #[serde(skip)]
    pub missing_figures: bool,
    /// The containerd image store: its leases, `ingest/` leftovers, and what nothing reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd: Option<super::containerd::CtrdFindings>,
    /// With `--cache`: the layer sizes to keep for the next run.
    #[serde(skip)]
    pub fresh_cache: Option<cache::LayerCache>,
    /// Each container's image and its start and finish times, from `config.v2.json` (what
    /// [`super::last_used`] decides images' last use from, live or offline, without an API call).
    #[serde(skip)]
    pub container_times: Vec<super::last_used::ContainerTimes>,
}
