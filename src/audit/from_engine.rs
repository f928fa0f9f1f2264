//! An accounting from the engine's own figures alone, for a data root that cannot be read here.

use std::path::Path;

use super::types::{Audit, Category, CategoryName};
use crate::model::engine::EngineDiskUsage;

/// An accounting from the engine's own figures alone, for a data root that cannot be read here
/// (a remote `DOCKER_HOST`, no permission): no logs, orphans or "other"; `warning` says so.
pub fn from_engine(root: &Path, u: Option<&EngineDiskUsage>, warning: String) -> Audit {
    let u = u.cloned().unwrap_or_default();
    let cat = |name: CategoryName, bytes: u64, count: u64, reclaimable_bytes: u64| Category {
        name,
        bytes,
        apparent_bytes: bytes,
        count,
        reclaimable_bytes,
        reclaim: name.reclaim(),
    };
    let r = u.reclaimable;
    let mut a = Audit {
        data_root: root.display().to_string(),
        categories: vec![
            cat(
                CategoryName::Images,
                u.images_bytes,
                u.images,
                r.images_bytes,
            ),
            cat(
                CategoryName::Containers,
                u.containers_bytes,
                u.containers,
                r.containers_bytes,
            ),
            cat(
                CategoryName::Volumes,
                u.volumes_bytes,
                u.volumes,
                r.volumes_bytes,
            ),
            cat(
                CategoryName::BuildCache,
                u.build_cache_bytes,
                u.build_cache_records,
                r.build_cache_bytes,
            ),
        ],
        warnings: vec![warning],
        missing_figures: true,
        ..Audit::default()
    };
    a.total_bytes = a.categories.iter().map(|c| c.bytes).sum();
    a.total_apparent_bytes = a.total_bytes;
    a
}
