//! The image to measure growth against (another image, or the JSON of an earlier run), and the growth:
//! in total and per layer, the layers of the two images paired by content or instruction.

use serde::Serialize;

use super::{BLAME_MAX, Blame, ratio};
use crate::analysis::ImageReport;

/// The image an earlier run saw, to measure growth against.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// What was named: an image source, or a JSON report.
    pub source: String,
    /// Total size of its layers.
    pub size_bytes: u64,
    /// Its layers, base first.
    pub layers: Vec<BaselineLayer>,
}

/// One layer of a baseline.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineLayer {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: Option<String>,
    /// The instruction.
    pub created_by: Option<String>,
    /// Σ regular-file sizes.
    pub size_bytes: u64,
}

impl Baseline {
    /// The baseline figures of an image report.
    pub fn from_report(r: &ImageReport) -> Baseline {
        Baseline {
            source: r.source.clone(),
            size_bytes: r.size_bytes,
            layers: r
                .layers
                .iter()
                .map(|l| BaselineLayer {
                    diff_id: l.diff_id.clone(),
                    created_by: l.created_by.clone(),
                    size_bytes: l.size_bytes,
                })
                .collect(),
        }
    }
}

/// Why a JSON baseline cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BaselineError(pub String);

impl Baseline {
    /// The baseline in a `dredge.image` (v1) or `dredge.check` (v1) JSON document; `name` names it.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Baseline, BaselineError> {
        let bad = |why: &str| BaselineError(format!("{name}: {why}"));
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let schema = v["schema"].as_str().unwrap_or("");
        let version = v["schema_version"].as_u64().unwrap_or(0);
        let image = match (schema, version) {
            ("dredge.image", 1) => &v,
            ("dredge.check", 1) => &v["image"],
            _ => {
                return Err(bad(&format!(
                    "not a dredge.image or dredge.check version 1 document (schema '{schema}', \
                     version {version})"
                )));
            }
        };
        let size_bytes = image["size_bytes"]
            .as_u64()
            .ok_or_else(|| bad("size_bytes is missing"))?;
        let layers = image["layers"]
            .as_array()
            .ok_or_else(|| bad("layers is missing"))?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(BaselineLayer {
                    diff_id: l["diff_id"].as_str().map(str::to_string),
                    created_by: l["created_by"].as_str().map(str::to_string),
                    size_bytes: l["size_bytes"]
                        .as_u64()
                        .ok_or_else(|| bad(&format!("layers[{i}].size_bytes is missing")))?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Baseline {
            source: name.to_string(),
            size_bytes,
            layers,
        })
    }
}

/// Growth against a baseline: total and per layer.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    /// What the baseline was read from.
    pub baseline: String,
    /// Baseline total size.
    pub baseline_bytes: u64,
    /// This image's total size.
    pub size_bytes: u64,
    /// `size_bytes - baseline_bytes`.
    pub delta_bytes: i64,
    /// `delta_bytes / baseline_bytes × 100`; `None` when the baseline is empty.
    pub percent: Option<f64>,
    /// Per layer position.
    pub layers: Vec<LayerGrowth>,
}

/// One layer compared with its counterpart in the baseline.
#[derive(Debug, Clone, Serialize)]
pub struct LayerGrowth {
    /// Position in this image (0 = base); `None` for a baseline layer this image no longer has.
    pub index: Option<usize>,
    /// Position of the counterpart in the baseline; `None` for a layer the baseline did not have.
    pub baseline_index: Option<usize>,
    /// The instruction of this image's layer (or the baseline's, when this image has no such layer).
    pub created_by: Option<String>,
    /// The baseline layer's size.
    pub baseline_bytes: Option<u64>,
    /// This image's layer size.
    pub size_bytes: Option<u64>,
    /// Difference (a missing layer counts as 0 bytes).
    pub delta_bytes: i64,
    /// Same content (equal diff ids).
    pub same: bool,
}

/// Pairs the layers of two images: the longest common sequence of layers that are the same (equal
/// diff ids) or made by the same instruction anchors the pairing; between two anchors, the layers left
/// over are paired in order (a rebuilt layer whose instruction changed, say by a build argument), and
/// the excess on one side stands alone (a layer added or removed).
pub(super) fn align(
    cur: &[BaselineLayer],
    old: &[BaselineLayer],
) -> Vec<(Option<usize>, Option<usize>)> {
    let matches = |a: &BaselineLayer, b: &BaselineLayer| {
        (a.diff_id.is_some() && a.diff_id == b.diff_id)
            || (a.created_by.is_some() && a.created_by == b.created_by)
    };
    let (n, m) = (cur.len(), old.len());
    // lcs[i][j]: length of the longest common sequence of cur[i..] and old[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if matches(&cur[i], &old[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut anchors = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if matches(&cur[i], &old[j]) && lcs[i][j] == lcs[i + 1][j + 1] + 1 {
            anchors.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    anchors.push((n, m));
    let mut out = Vec::with_capacity(n.max(m));
    let (mut i, mut j) = (0, 0);
    for (ai, aj) in anchors {
        let paired = (ai - i).min(aj - j);
        for k in 0..paired {
            out.push((Some(i + k), Some(j + k)));
        }
        out.extend((i + paired..ai).map(|x| (Some(x), None)));
        out.extend((j + paired..aj).map(|y| (None, Some(y))));
        if ai < n && aj < m {
            out.push((Some(ai), Some(aj)));
        }
        (i, j) = (ai + 1, aj + 1);
    }
    out
}

/// Compares `r` with `base`, layer by layer (see [`align`]).
pub fn growth(r: &ImageReport, base: &Baseline) -> Growth {
    let cur = Baseline::from_report(r);
    let layers = align(&cur.layers, &base.layers)
        .into_iter()
        .map(|(ci, bi)| {
            let c = ci.map(|i| &cur.layers[i]);
            let o = bi.map(|i| &base.layers[i]);
            let (a, b) = (c.map(|l| l.size_bytes), o.map(|l| l.size_bytes));
            LayerGrowth {
                index: ci,
                baseline_index: bi,
                created_by: c
                    .and_then(|l| l.created_by.clone())
                    .or_else(|| o.and_then(|l| l.created_by.clone())),
                baseline_bytes: b,
                size_bytes: a,
                delta_bytes: a.unwrap_or(0) as i64 - b.unwrap_or(0) as i64,
                same: match (c, o) {
                    (Some(c), Some(o)) => c.diff_id.is_some() && c.diff_id == o.diff_id,
                    _ => false,
                },
            }
        })
        .collect();
    let delta = r.size_bytes as i64 - base.size_bytes as i64;
    Growth {
        baseline: base.source.clone(),
        baseline_bytes: base.size_bytes,
        size_bytes: r.size_bytes,
        delta_bytes: delta,
        percent: if delta == 0 {
            Some(0.0)
        } else {
            ratio(delta as f64 * 100.0, base.size_bytes as f64)
        },
        layers,
    }
}

pub(super) fn growth_blame(g: &Growth) -> Vec<Blame> {
    let mut grew: Vec<&LayerGrowth> = g.layers.iter().filter(|l| l.delta_bytes > 0).collect();
    grew.sort_by(|a, b| {
        b.delta_bytes
            .cmp(&a.delta_bytes)
            .then(a.index.cmp(&b.index))
    });
    grew.iter()
        .take(BLAME_MAX)
        .map(|l| Blame {
            layer: l.index,
            path: None,
            bytes: Some(l.delta_bytes),
            instruction: l.created_by.clone(),
            detail: None,
        })
        .collect()
}
