//! Measured sizes of image layers kept between runs (`dredge df --cache FILE`). A committed layer's
//! directory never changes, so its figures are kept under its overlay2 dir name and its chain id; an
//! entry whose layer is gone is dropped at the next save. Only layers are kept: containers, volumes,
//! logs and everything else can change and are walked every time. The file is written only when asked,
//! atomically (a temp file in the same directory, then a rename).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::walk::Usage;

/// Version of the cache file's layout; another version is ignored (and replaced).
pub const CACHE_VERSION: u32 = 1;

/// One layer's figures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct CachedLayer {
    /// The whole overlay2 dir.
    pub all: Usage,
    /// Its `diff/`.
    pub diff: Usage,
}

/// The cache file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LayerCache {
    /// `dredge.df-cache`.
    pub schema: String,
    /// [`CACHE_VERSION`].
    pub schema_version: u32,
    /// The data root the figures belong to.
    pub data_root: String,
    /// By `<overlay2 dir>:<chain id>`.
    pub layers: BTreeMap<String, CachedLayer>,
}

/// The key of a layer.
pub fn key(dir: &str, chain: &str) -> String {
    format!("{dir}:{chain}")
}

/// Reads the cache for `data_root`; a missing file is an empty cache, an unreadable or foreign one is
/// an empty cache and a warning.
pub fn load(path: &Path, data_root: &str) -> (LayerCache, Option<String>) {
    let empty = LayerCache {
        schema: "dredge.df-cache".into(),
        schema_version: CACHE_VERSION,
        data_root: data_root.to_string(),
        layers: BTreeMap::new(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (empty, None),
        Err(e) => {
            return (
                empty,
                Some(format!("{}: {e}; cache not used", path.display())),
            );
        }
    };
    match serde_json::from_slice::<LayerCache>(&bytes) {
        Ok(c)
            if c.schema == "dredge.df-cache"
                && c.schema_version == CACHE_VERSION
                && c.data_root == data_root =>
        {
            (c, None)
        }
        Ok(_) => (empty, None),
        Err(e) => (
            empty,
            Some(format!(
                "{}: not a dredge cache ({e}); replaced",
                path.display()
            )),
        ),
    }
}

/// Writes the cache atomically.
pub fn save(path: &Path, cache: &LayerCache) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cache".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(cache).map_err(io::Error::other)?)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The data root a cache file was written for, if it is a readable cache.
pub fn data_root_of(path: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Head {
        schema: String,
        data_root: String,
    }
    let head: Head = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (head.schema == "dredge.df-cache").then_some(head.data_root)
}
