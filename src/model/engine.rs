//! What a live Docker Engine says about itself and its disk usage: filled by `source::engine`, read
//! by `df` and its report.

use serde::Serialize;

/// What the engine says about itself and its disk usage (`/info`, `/version`, `/system/df`).
#[derive(Debug, Clone, Serialize)]
pub struct EngineFacts {
    /// Where the engine was reached (`DOCKER_HOST` or the default socket).
    pub host: String,
    /// Engine version (`20.10.24+dfsg1`).
    pub server_version: Option<String>,
    /// The API version in use after negotiation.
    pub api_version: String,
    /// `ID`: on Engine 23+ the content of the data root's `engine-id` file.
    pub id: Option<String>,
    /// `DockerRootDir`.
    pub root_dir: Option<String>,
    /// `Driver` (`overlay2`, or `overlayfs` for the containerd image store).
    pub driver: Option<String>,
    /// True when `DriverStatus` says `driver-type io.containerd.snapshotter.v1`.
    pub containerd_store: bool,
    /// The engine's own disk-usage figures, when `/system/df` could be decoded.
    pub disk_usage: Option<EngineDiskUsage>,
    /// Problems that did not stop us.
    pub warnings: Vec<String>,
}

/// `docker system df`'s figures, as the engine computes them (apparent sizes).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineDiskUsage {
    /// `LayersSize`: Σ layer sizes of all images.
    pub images_bytes: u64,
    /// Images listed.
    pub images: u64,
    /// Σ `SizeRw` of containers.
    pub containers_bytes: u64,
    /// Containers listed.
    pub containers: u64,
    /// Σ `UsageData.Size` of volumes (−1, not computed, counts 0).
    pub volumes_bytes: u64,
    /// Volumes listed.
    pub volumes: u64,
    /// Σ sizes of build-cache records that are not shared with images.
    pub build_cache_bytes: u64,
    /// Build-cache records.
    pub build_cache_records: u64,
    /// Per-object figures, for joining with the data-root scan.
    pub container_sizes: Vec<(String, u64)>,
    /// Per-volume `_data` sizes.
    pub volume_sizes: Vec<(String, u64)>,
    /// What `docker system df` calls reclaimable, computed as the docker CLI does, per category
    /// (images, containers, volumes, build cache). Not in the JSON (its categories carry them when
    /// they stand in for a scan).
    #[serde(skip)]
    pub reclaimable: EngineReclaimable,
}

/// `docker system df`'s RECLAIMABLE column, as the docker CLI computes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineReclaimable {
    /// `LayersSize` minus the unique size (`Size - SharedSize`) of images some container uses.
    pub images_bytes: u64,
    /// Σ `SizeRw` of containers that are not running, paused or restarting.
    pub containers_bytes: u64,
    /// Σ sizes of volumes no container refers to (`RefCount` 0).
    pub volumes_bytes: u64,
    /// Σ sizes of build-cache records neither shared nor in use.
    pub build_cache_bytes: u64,
}
