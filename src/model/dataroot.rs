//! The objects of a Docker data root (`/var/lib/docker`) as its metadata records them: images, layer
//! chains, container mounts, containers, volumes, and whether BuildKit keeps state there. Filled by
//! `source::dataroot` (offline, from the files) and joined with what a live engine says.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// How the engine stores images in this data root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "kebab-case")]
pub enum Driver {
    /// The overlay2 graph driver (`image/overlay2/`, `overlay2/`): fully understood.
    Overlay2,
    /// The containerd image store (`containerd/daemon/`, Engine 24+ opt-in, 29+ default): not supported;
    /// its bytes are counted under "other".
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
    /// The log driver from `hostconfig.json` (`json-file`, `local`, `none`, …).
    pub log_driver: Option<String>,
    /// Names of the volumes it mounts.
    pub volumes: Vec<String>,
    /// False when `config.v2.json` is missing or unreadable: the engine will not load it.
    pub known: bool,
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
#[derive(Debug, Clone, Serialize)]
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
}

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
