//! From an image's layers to the figures users act on: invisible bytes per layer and reason, caches
//! left in the final filesystem, duplicate content, and dive's figures for migrating CI thresholds.

pub mod caches;
pub mod dive;
pub mod duplicates;
pub mod paths;
pub mod stack;

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::model::{Image, display_path};
pub use dive::DiveFigures;
pub use duplicates::ContentHasher;
pub use stack::{ByReason, Reason};

/// What to compute besides the always-on figures.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Search identical content under different paths (reads candidate files again).
    pub duplicates: bool,
    /// Smallest file considered by the duplicate search.
    pub duplicates_min_size: u64,
    /// Threads for the duplicate search.
    pub threads: usize,
    /// How many of the largest invisible groups to describe in `wasted` (0 = all).
    pub top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duplicates: false,
            duplicates_min_size: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            top: 0,
        }
    }
}

/// The analysis of one image. Field names are the JSON schema (see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// What the user named.
    pub source: String,
    /// The container format read.
    pub format: &'static str,
    /// Image id (`sha256:` of the config).
    pub id: Option<String>,
    /// Tags named by the archive.
    pub tags: Vec<String>,
    /// Σ content bytes of all layers (regular-file sizes).
    pub size_bytes: u64,
    /// Bytes of data visible in the final filesystem.
    pub visible_bytes: u64,
    /// Bytes shipped in some layer but visible in no path of the final filesystem.
    pub invisible_bytes: u64,
    /// `invisible_bytes` by reason.
    pub invisible: ByReason,
    /// Bytes a rebuild could drop without changing the final filesystem: every hidden copy of a path
    /// counted once, the visible copy never (unlike dive's wasted bytes).
    pub reclaimable_bytes: u64,
    /// Visible bytes in cache and temp locations (see `caches`).
    pub cache_bytes: u64,
    /// visible_bytes / size_bytes (1 for an empty image).
    pub efficiency: f64,
    /// dive 0.13.1's figures, computed as dive does (for thresholds moved from `.dive-ci`).
    pub dive: DiveFigures,
    /// Per layer, base first.
    pub layers: Vec<LayerReport>,
    /// The largest groups of invisible bytes, largest first.
    pub wasted: Vec<WastedReport>,
    /// Number of groups of invisible bytes in all (`wasted` may be cut to the top N).
    pub wasted_total: usize,
    /// Cache and temp bytes per catalog entry, largest first.
    pub caches: Vec<CacheReport>,
    /// Duplicate content, when asked for (`--duplicates`).
    pub duplicates: Option<DuplicatesReport>,
    /// Things that were odd but did not stop the analysis.
    pub warnings: Vec<String>,
}

/// One layer's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// 0 = base.
    pub index: usize,
    /// `sha256:` of the uncompressed tar, from the config.
    pub diff_id: Option<String>,
    /// The instruction that made the layer (config history, aligned past `empty_layer` entries).
    pub created_by: Option<String>,
    /// The builder's comment.
    pub comment: Option<String>,
    /// Compression of the stored blob.
    pub compression: crate::model::Compression,
    /// Bytes of the blob as stored.
    pub blob_bytes: u64,
    /// Sum of regular-file sizes in the layer's tar.
    pub size_bytes: u64,
    /// Non-directory entries at new paths.
    pub files_added: u64,
    /// Non-directory entries at paths that existed.
    pub files_modified: u64,
    /// Non-directory lower paths removed by this layer's whiteouts and opaque directories.
    pub files_deleted: u64,
    /// This layer's bytes that are invisible in the final filesystem.
    pub invisible_bytes: u64,
    /// `invisible_bytes` by reason.
    pub invisible: ByReason,
    /// Bytes of earlier layers this layer made invisible.
    pub hides_bytes: u64,
    /// This layer's visible bytes in cache and temp locations.
    pub cache_bytes: u64,
}

/// One group of invisible bytes.
#[derive(Debug, Clone, Serialize)]
pub struct WastedReport {
    /// The path acted on (a file, or the directory whose subtree went).
    pub path: String,
    /// Invisible bytes.
    pub bytes: u64,
    /// Regular files whose data went.
    pub files: u64,
    /// Why.
    pub reason: Reason,
    /// Layer that wrote the bytes.
    pub added_in: usize,
    /// Layer that hid them.
    pub hidden_by: usize,
}

/// Visible bytes matched by one cache catalog entry.
#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    /// Catalog id (`apk`, `apt-lists`, `pip`, `tmp`, …).
    pub id: caches::CacheKind,
    /// Tool that leaves it.
    pub tool: &'static str,
    /// Visible bytes.
    pub bytes: u64,
    /// Visible files.
    pub files: u64,
    /// Bytes per layer that wrote them: `[index, bytes]`.
    pub layers: Vec<(usize, u64)>,
    /// How to avoid it.
    pub fix: &'static str,
}

/// Duplicate content among visible files.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicatesReport {
    /// Bytes saved by keeping one copy of each group.
    pub reclaimable_bytes: u64,
    /// Groups, most reclaimable first.
    pub groups: Vec<DuplicateReport>,
}

/// One set of identical files.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateReport {
    /// Bytes of each copy.
    pub size: u64,
    /// sha256 of the content, hex.
    pub sha256: String,
    /// The copies.
    pub paths: Vec<String>,
    /// Layer of each copy.
    pub layers: Vec<usize>,
}

/// Analyses `image`. `hasher` reads contents again for the duplicate search.
pub fn analyze<H: ContentHasher>(
    image: &Image,
    hasher: &H,
    opts: Options,
) -> Result<ImageReport, H::Error> {
    analyze_stacked(image, hasher, opts).map(|(report, _)| report)
}

/// [`analyze`], also handing back the stacked image (the final filesystem) it was computed from, for
/// callers that need the final paths too.
pub fn analyze_stacked<H: ContentHasher>(
    image: &Image,
    hasher: &H,
    opts: Options,
) -> Result<(ImageReport, stack::Stacked), H::Error> {
    // dive's figures need their own stacking; it runs beside ours on the other core.
    let paths = paths::PathTable::of(image);
    let (stacked, dive) = std::thread::scope(|s| {
        let dive = s.spawn(|| dive::figures_with(image, &paths));
        let stacked = stack::stack_with(image, &paths);
        (
            stacked,
            dive.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });

    // Caches: visible data only, each inode once, attributed to the layer that wrote it.
    // Per rule: (rule, bytes, files, bytes per layer).
    type RuleTotals = (&'static caches::CacheRule, u64, u64, BTreeMap<usize, u64>);
    let mut per_rule: BTreeMap<caches::CacheKind, RuleTotals> = BTreeMap::new();
    let mut layer_cache = vec![0u64; image.layers.len()];
    let mut seen = HashSet::new();
    let mut path = Vec::new();
    for (id, node) in stacked.live() {
        let Some(i) = node.inode() else { continue };
        path.clear();
        image.paths.write(id, &mut path);
        let Some(rule) = caches::classify(&path) else {
            continue;
        };
        if !seen.insert(i) {
            continue;
        }
        let ino = stacked.inode(i);
        let r = per_rule
            .entry(rule.id)
            .or_insert((rule, 0, 0, BTreeMap::new()));
        r.1 += ino.size;
        r.2 += 1;
        *r.3.entry(ino.layer).or_default() += ino.size;
        layer_cache[ino.layer] += ino.size;
    }
    let mut cache_list: Vec<CacheReport> = per_rule
        .into_values()
        .filter(|r| r.2 > 0)
        .map(|(rule, bytes, files, layers)| CacheReport {
            id: rule.id,
            tool: rule.tool,
            bytes,
            files,
            layers: layers.into_iter().collect(),
            fix: rule.fix,
        })
        .collect();
    cache_list.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id)));

    let duplicates = if opts.duplicates {
        let groups = duplicates::find(
            image,
            &stacked,
            hasher,
            opts.duplicates_min_size,
            opts.threads,
        )?;
        Some(DuplicatesReport {
            reclaimable_bytes: groups.iter().map(|g| g.reclaimable()).sum(),
            groups: groups
                .into_iter()
                .map(|g| DuplicateReport {
                    size: g.size,
                    sha256: crate::model::hex(&g.sha256),
                    paths: g.paths.iter().map(|p| display_path(p)).collect(),
                    layers: g.layers,
                })
                .collect(),
        })
    } else {
        None
    };

    let layers: Vec<LayerReport> = image
        .layers
        .iter()
        .zip(&stacked.layers)
        .map(|(l, s)| LayerReport {
            index: l.index,
            diff_id: l.diff_id.clone(),
            created_by: l.history.created_by.clone(),
            comment: l.history.comment.clone(),
            compression: l.compression,
            blob_bytes: l.blob_bytes,
            size_bytes: s.content_bytes,
            files_added: s.files_added,
            files_modified: s.files_modified,
            files_deleted: s.files_deleted,
            invisible_bytes: s.invisible.total(),
            invisible: s.invisible,
            hides_bytes: s.hides.total(),
            cache_bytes: layer_cache[l.index],
        })
        .collect();

    // Largest first; only the ones shown are turned into display paths.
    let mut hidden: Vec<&stack::HiddenItem> =
        stacked.hidden.iter().filter(|h| h.bytes > 0).collect();
    let order = |a: &&stack::HiddenItem, b: &&stack::HiddenItem| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| image.paths.cmp(a.path, b.path))
    };
    let wasted_total = hidden.len();
    let shown = if opts.top == 0 {
        hidden.len()
    } else {
        opts.top.min(hidden.len())
    };
    if shown < hidden.len() && shown > 0 {
        hidden.select_nth_unstable_by(shown - 1, order);
        hidden.truncate(shown);
    }
    hidden.sort_by(order);
    let wasted: Vec<WastedReport> = hidden[..shown]
        .iter()
        .map(|h| WastedReport {
            path: image.paths.display(h.path),
            bytes: h.bytes,
            files: h.files,
            reason: h.reason,
            added_in: h.added(),
            hidden_by: h.hidden_by(),
        })
        .collect();

    let size_bytes: u64 = layers.iter().map(|l| l.size_bytes).sum();
    let visible_bytes = stacked.visible_bytes();
    let mut invisible = ByReason::default();
    for l in &stacked.layers {
        invisible.deleted += l.invisible.deleted;
        invisible.opaque += l.invisible.opaque;
        invisible.overwritten += l.invisible.overwritten;
    }
    let mut warnings = image.warnings.clone();
    let dangling: u64 = stacked.layers.iter().map(|l| l.dangling_links).sum();
    if dangling > 0 {
        warnings.push(format!(
            "{dangling} hard link(s) point at no file of their layer; counted as empty"
        ));
    }
    debug_assert_eq!(size_bytes, visible_bytes + invisible.total());
    let report = ImageReport {
        source: image.source.clone(),
        format: image.format,
        id: image.id.clone(),
        tags: image.tags.clone(),
        size_bytes,
        visible_bytes,
        invisible_bytes: invisible.total(),
        invisible,
        reclaimable_bytes: invisible.total(),
        cache_bytes: cache_list.iter().map(|c| c.bytes).sum(),
        efficiency: if size_bytes == 0 {
            1.0
        } else {
            visible_bytes as f64 / size_bytes as f64
        },
        dive,
        layers,
        wasted_total,
        wasted,
        caches: cache_list,
        duplicates,
        warnings,
    };
    Ok((report, stacked))
}
