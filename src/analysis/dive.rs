//! dive 0.13.1's three figures (efficiency, wasted bytes, user wasted percent), computed exactly as dive
//! computes them, quirks included, so that CI thresholds move from dive without changing verdicts.
//!
//! What dive does (dive `filetree/efficiency.go`, `filetree/file_tree.go`, `image/image.go`):
//! - each layer becomes a tree of its tar entries; `.wh..wh..opq` markers are dropped (opaque directories
//!   are never applied); parents without an entry of their own get an empty payload (not a directory);
//! - every leaf of every layer tree is a "node" of its path (`.wh.x` counts as a node of `x`); a node's
//!   size is its tar header size, except a whiteout, sized as the whole subtree it deletes when that was
//!   a directory in the stacked lower layers and 0 when it was anything else; a whiteout whose path is not
//!   in the lower layers stops that layer's walk (an entry with min -1 stays behind);
//! - efficiency = Σ per-path minimum node size / Σ per-path node sizes (1 when the latter is 0);
//! - wasted bytes = Σ over paths with ≥ 2 nodes of all their node sizes (the copy that stays included);
//! - user wasted percent = wasted bytes / Σ sizes of layers 1.. (a fraction, not × 100).
//!
//! The files under a directory deleted whole are never paired with the whiteout, so `rm -rf dir` adds no
//! waste in dive. dive also reads a legacy archive's repeated layer (stored as a symlinked `layer.tar`)
//! as an empty layer; so do these figures, and only these (see [`crate::model::Layer::stored_as_link`]).

use std::collections::{BTreeMap, HashMap};

use crate::model::{EntryKind, Image, Layer};

/// dive's figures for an image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiveFigures {
    /// dive's efficiency score, 0..1.
    pub efficiency: f64,
    /// dive's "wasted bytes".
    pub wasted_bytes: u64,
    /// dive's user wasted percent, as a fraction (0.1 = 10 %); `None` when it is not a finite number
    /// (no bytes in layers 1..: dive then computes NaN when nothing is wasted and +Inf otherwise).
    pub user_wasted_percent: Option<f64>,
    /// Σ of every layer's tar header sizes, dive's image size.
    pub size_bytes: u64,
    /// Σ of the same over layers 1.., dive's user size.
    pub user_size_bytes: u64,
    /// Paths dive lists as inefficient (≥ 2 nodes).
    pub inefficient_paths: usize,
}

/// A node of a dive layer tree. Keys are paths with `/` replaced by NUL, so that byte order of keys is
/// dive's order (children sorted by name, compared component by component).
#[derive(Debug, Clone, Copy)]
struct DNode {
    is_dir: bool,
    size: u64,
    whiteout: bool,
}

const SEP: u8 = 0;

fn key_of(path: &[u8]) -> Vec<u8> {
    path.iter()
        .map(|&b| if b == b'/' { SEP } else { b })
        .collect()
}

fn is_below(key: &[u8], parent: &[u8]) -> bool {
    key.len() > parent.len() && key.starts_with(parent) && key[parent.len()] == SEP
}

/// The key dive uses for a whiteout node of `path`: the last name with `.wh.` in front.
fn whiteout_key(path: &[u8]) -> Vec<u8> {
    let mut k = key_of(path);
    let at = k.iter().rposition(|&b| b == SEP).map_or(0, |i| i + 1);
    k.splice(at..at, b".wh.".iter().copied());
    k
}

/// Strips `.wh.` from a whiteout key's last name: the path dive files the node under.
fn stripped(key: &[u8]) -> Vec<u8> {
    let at = key.iter().rposition(|&b| b == SEP).map_or(0, |i| i + 1);
    let mut k = key.to_vec();
    k.drain(at..at + 4);
    k
}

/// One layer as dive sees it: its tree, and the Σ of its header sizes.
fn layer_tree(layer: &Layer) -> (BTreeMap<Vec<u8>, DNode>, u64) {
    let mut tree: BTreeMap<Vec<u8>, DNode> = BTreeMap::new();
    let mut size = 0;
    if layer.stored_as_link {
        return (tree, size);
    }
    let implicit = DNode {
        is_dir: false,
        size: 0,
        whiteout: false,
    };
    for e in &layer.entries {
        size += e.size;
        let (key, node) = match e.kind {
            EntryKind::Opaque => (key_of(&e.path), None),
            EntryKind::Whiteout => (
                whiteout_key(&e.path),
                Some(DNode {
                    is_dir: false,
                    size: 0,
                    whiteout: true,
                }),
            ),
            ref k => (
                key_of(&e.path),
                Some(DNode {
                    is_dir: *k == EntryKind::Dir,
                    size: e.size,
                    whiteout: false,
                }),
            ),
        };
        // Parents that the tar did not list get an empty payload.
        let mut end = 0;
        while let Some(i) = key[end..].iter().position(|&b| b == SEP) {
            tree.entry(key[..end + i].to_vec()).or_insert(implicit);
            end += i + 1;
        }
        match node {
            Some(n) => {
                tree.insert(key, n);
            }
            // The opaque marker is dropped, but its directory is created like any parent.
            None if !key.is_empty() => {
                tree.entry(key).or_insert(implicit);
            }
            None => {}
        }
    }
    (tree, size)
}

/// Leaves of a layer tree, in dive's walk order.
fn leaves(tree: &BTreeMap<Vec<u8>, DNode>) -> Vec<(&Vec<u8>, &DNode)> {
    let mut out = Vec::new();
    let mut it = tree.iter().peekable();
    while let Some((k, n)) = it.next() {
        let has_child = it.peek().is_some_and(|(next, _)| is_below(next, k));
        if !has_child {
            out.push((k, n));
        }
    }
    out
}

/// dive's `Stack`: every node of the upper tree, children first; whiteouts remove, the rest replace the
/// payload (keeping children).
fn stack_onto(state: &mut BTreeMap<Vec<u8>, DNode>, tree: &BTreeMap<Vec<u8>, DNode>) {
    // Post-order from the sorted (pre-order) keys.
    let mut order: Vec<(&Vec<u8>, &DNode)> = Vec::with_capacity(tree.len());
    let mut pending: Vec<(&Vec<u8>, &DNode)> = Vec::new();
    for (k, n) in tree {
        while let Some((top, _)) = pending.last() {
            if is_below(k, top) {
                break;
            }
            order.push(pending.pop().expect("checked non-empty"));
        }
        pending.push((k, n));
    }
    while let Some(p) = pending.pop() {
        order.push(p);
    }
    for (k, n) in order {
        if n.whiteout {
            let target = stripped(k);
            let doomed: Vec<Vec<u8>> = state
                .range(target.clone()..)
                .take_while(|(x, _)| *x == &target || is_below(x, &target))
                .map(|(x, _)| x.clone())
                .collect();
            for d in doomed {
                state.remove(&d);
            }
        } else {
            let mut end = 0;
            while let Some(i) = k[end..].iter().position(|&b| b == SEP) {
                state.entry(k[..end + i].to_vec()).or_insert(DNode {
                    is_dir: false,
                    size: 0,
                    whiteout: false,
                });
                end += i + 1;
            }
            state.insert(k.clone(), *n);
        }
    }
}

#[derive(Default)]
struct PathData {
    cumulative: i64,
    min: i64,
    nodes: usize,
}

/// Computes dive's figures for `image`.
pub fn figures(image: &Image) -> DiveFigures {
    let mut data: HashMap<Vec<u8>, PathData> = HashMap::new();
    // The lower layers stacked, as dive's `StackTreeRange(trees, 0, i-1)` sees them: layer 0 is a copy
    // of its own tree, and from layer 1 on it is stacked onto that copy once more. Only two layer trees
    // are held at a time.
    let mut lower: BTreeMap<Vec<u8>, DNode> = BTreeMap::new();
    let mut previous: Option<BTreeMap<Vec<u8>, DNode>> = None;
    let (mut size_bytes, mut user_size_bytes) = (0u64, 0u64);
    for (i, layer) in image.layers.iter().enumerate() {
        let (tree, size) = layer_tree(layer);
        size_bytes += size;
        if i > 0 {
            user_size_bytes += size;
        }
        match &previous {
            None => {
                lower = tree
                    .iter()
                    .filter(|(_, n)| !n.whiteout)
                    .map(|(k, n)| (k.clone(), *n))
                    .collect()
            }
            Some(prev) => stack_onto(&mut lower, prev),
        }
        for (k, n) in leaves(&tree) {
            let path = if n.whiteout { stripped(k) } else { k.clone() };
            let d = data.entry(path.clone()).or_insert(PathData {
                cumulative: 0,
                min: -1,
                nodes: 0,
            });
            let size = if n.whiteout {
                match lower.get(&path) {
                    None => break, // dive's GetNode error ends this layer's walk
                    Some(prev) if prev.is_dir => lower
                        .range(path.clone()..)
                        .take_while(|(x, _)| *x == &path || is_below(x, &path))
                        .map(|(_, x)| x.size)
                        .sum::<u64>(),
                    Some(_) => 0,
                }
            } else {
                n.size
            } as i64;
            d.cumulative += size;
            if d.min < 0 || size < d.min {
                d.min = size;
            }
            d.nodes += 1;
        }
        previous = Some(tree);
    }
    let (mut min_sum, mut cum_sum, mut wasted, mut inefficient) = (0i64, 0i64, 0u64, 0usize);
    for d in data.values() {
        min_sum += d.min;
        cum_sum += d.cumulative;
        if d.nodes >= 2 {
            wasted += d.cumulative as u64;
            inefficient += 1;
        }
    }
    let efficiency = if cum_sum == 0 {
        1.0
    } else {
        min_sum as f64 / cum_sum as f64
    };
    let pct = wasted as f64 / user_size_bytes as f64;
    DiveFigures {
        efficiency,
        wasted_bytes: wasted,
        user_wasted_percent: pct.is_finite().then_some(pct),
        size_bytes,
        user_size_bytes,
        inefficient_paths: inefficient,
    }
}
