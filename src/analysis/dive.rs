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

use super::paths::{PathId, PathTable, ROOT};
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

/// A node's payload in dive's trees: parents without an entry of their own have an empty one.
#[derive(Debug, Clone, Copy)]
struct DNode {
    is_dir: bool,
    size: u64,
}

const IMPLICIT: DNode = DNode {
    is_dir: false,
    size: 0,
};

/// A stacked node, in 8 bytes: `size << 2 | is_dir << 1 | present` (0 = no node). Sizes come from tar
/// headers; anything at or above 2^62 is absurd and saturates.
#[derive(Debug, Clone, Copy, Default)]
struct Packed(u64);

impl Packed {
    const NONE: Packed = Packed(0);

    fn new(n: DNode) -> Packed {
        Packed((n.size.min(u64::MAX >> 2) << 2) | (u64::from(n.is_dir) << 1) | 1)
    }

    fn get(self) -> Option<DNode> {
        (self.0 & 1 == 1).then_some(DNode {
            is_dir: self.0 & 2 != 0,
            size: self.0 >> 2,
        })
    }
}

/// One node of a layer's tree.
#[derive(Debug, Clone, Copy)]
struct TNode {
    size: u64,
    id: PathId,
    is_dir: bool,
}

impl TNode {
    fn node(&self) -> DNode {
        DNode {
            is_dir: self.is_dir,
            size: self.size,
        }
    }
}

const NO_SLOT: u32 = u32::MAX;

/// One layer as dive sees it.
struct LayerTree {
    /// Nodes other than whiteouts, each path once (the last entry for a path wins its payload).
    nodes: Vec<TNode>,
    /// Paths deleted by this layer's whiteouts (dive's `.wh.<name>` nodes, always leaves).
    whiteouts: Vec<PathId>,
    /// Σ of the layer's tar header sizes.
    size: u64,
}

/// Scratch space by path id, reused for every layer.
struct Scratch {
    /// Index of the path's node in the current layer's tree.
    slot: Vec<u32>,
    /// `stamp` when the path is a parent of a node (or a whiteout) of the current layer, or a
    /// whiteout of it.
    mark: Vec<u32>,
    stamp: u32,
}

impl LayerTree {
    fn set(&mut self, sc: &mut Scratch, id: PathId, node: DNode) {
        match sc.slot[id as usize] {
            NO_SLOT => {
                sc.slot[id as usize] = self.nodes.len() as u32;
                self.nodes.push(TNode {
                    size: node.size,
                    id,
                    is_dir: node.is_dir,
                });
            }
            i => {
                let n = &mut self.nodes[i as usize];
                n.size = node.size;
                n.is_dir = node.is_dir;
            }
        }
    }

    fn add_implicit(&mut self, sc: &mut Scratch, paths: &PathTable<'_>, mut id: PathId) {
        while id != ROOT && sc.slot[id as usize] == NO_SLOT {
            self.set(sc, id, IMPLICIT);
            id = paths.parent(id);
        }
    }
}

fn layer_tree(layer: &Layer, paths: &PathTable<'_>, sc: &mut Scratch) -> LayerTree {
    let mut t = LayerTree {
        // Every entry is at most one node; implicit parents are few (their directories have entries).
        nodes: Vec::with_capacity(if layer.stored_as_link {
            0
        } else {
            layer.entries.len()
        }),
        whiteouts: Vec::new(),
        size: 0,
    };
    if layer.stored_as_link {
        return t;
    }
    sc.stamp += 1;
    for e in &layer.entries {
        t.size += e.size;
        let id = e.path;
        if id == ROOT {
            continue; // the root itself
        }
        match e.kind() {
            // The opaque marker is dropped, but its directory is created like any parent.
            EntryKind::Opaque => t.add_implicit(sc, paths, id),
            EntryKind::Whiteout => {
                t.add_implicit(sc, paths, paths.parent(id));
                if sc.mark[id as usize] != sc.stamp {
                    sc.mark[id as usize] = sc.stamp;
                    t.whiteouts.push(id);
                }
            }
            k => {
                t.add_implicit(sc, paths, paths.parent(id));
                t.set(
                    sc,
                    id,
                    DNode {
                        is_dir: k == EntryKind::Dir,
                        size: e.size,
                    },
                );
            }
        }
    }
    t
}

/// dive's `Stack`: whiteouts remove the path and everything below it, every other node replaces the
/// payload at its path (children stay). Every node's parents are nodes of the same tree, so removals
/// first and then the payloads is the order dive's child-first walk gives.
fn stack_onto(lower: &mut [Packed], tree: &LayerTree, paths: &PathTable<'_>) {
    for &w in &tree.whiteouts {
        paths.for_subtree(w, |x| lower[x as usize] = Packed::NONE);
    }
    for n in &tree.nodes {
        lower[n.id as usize] = Packed::new(n.node());
    }
}

/// dive's walk order for leaves: names compared component by component, a whiteout named `.wh.<name>`.
fn walk_key(paths: &PathTable<'_>, id: PathId, whiteout: bool) -> Vec<u8> {
    let path = paths.path(id);
    let mut k: Vec<u8> = path
        .iter()
        .map(|&b| if b == b'/' { 0 } else { b })
        .collect();
    if whiteout {
        let at = k.iter().rposition(|&b| b == 0).map_or(0, |i| i + 1);
        k.splice(at..at, b".wh.".iter().copied());
    }
    k
}

/// What dive's efficiency map holds for one path (with [`Flags`]).
#[derive(Clone, Copy)]
struct PathData {
    cumulative: i64,
    min: i64,
}

const NEW_PATH: PathData = PathData {
    cumulative: 0,
    min: -1,
};

/// One bit per path.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Per path: in dive's map at all (`seen`), and with one node / two or more nodes.
struct Flags {
    seen: Bits,
    one: Bits,
    many: Bits,
}

impl Flags {
    fn add_node(&mut self, i: usize) {
        if self.one.get(i) {
            self.many.set(i);
        } else {
            self.one.set(i);
        }
    }
}

/// Computes dive's figures for `image`, whose paths are interned in `paths`.
pub fn figures_with(image: &Image, paths: &PathTable<'_>) -> DiveFigures {
    let mut data: Vec<PathData> = vec![NEW_PATH; paths.len()];
    let mut flags = Flags {
        seen: Bits::new(paths.len()),
        one: Bits::new(paths.len()),
        many: Bits::new(paths.len()),
    };
    // The lower layers stacked, as dive's `StackTreeRange(trees, 0, i-1)` sees them: layer 0 is a copy
    // of its own tree, and from layer 1 on it is stacked onto that copy once more. Each layer's tree
    // is stacked once its own leaves are counted, so one tree is alive at a time.
    let mut lower: Vec<Packed> = vec![Packed::NONE; paths.len()];
    let mut sc = Scratch {
        slot: vec![NO_SLOT; paths.len()],
        mark: vec![0; paths.len()],
        stamp: 0,
    };
    let (mut size_bytes, mut user_size_bytes) = (0u64, 0u64);
    for (i, layer) in image.layers.iter().enumerate() {
        let tree = layer_tree(layer, paths, &mut sc);
        size_bytes += tree.size;
        if i > 0 {
            user_size_bytes += tree.size;
        } else {
            for n in &tree.nodes {
                lower[n.id as usize] = Packed::new(n.node());
            }
        }
        // Leaves: nodes that no node of the same layer has as parent, and every whiteout.
        sc.stamp += 1;
        for id in tree
            .nodes
            .iter()
            .map(|n| n.id)
            .chain(tree.whiteouts.iter().copied())
        {
            let p = paths.parent(id);
            if p != ROOT {
                sc.mark[p as usize] = sc.stamp;
            }
        }
        let leaves = tree
            .nodes
            .iter()
            .filter(|n| sc.mark[n.id as usize] != sc.stamp)
            .map(|n| (n.id, false))
            .chain(tree.whiteouts.iter().map(|&id| (id, true)));
        // A whiteout of a path missing below stops dive's walk of this layer: only then does the
        // order of the walk matter (and the leaves are collected to be sorted).
        let sorted: Vec<(PathId, bool)>;
        let mut unsorted;
        let mut in_order;
        let leaves: &mut dyn Iterator<Item = (PathId, bool)> = if tree
            .whiteouts
            .iter()
            .any(|&w| lower[w as usize].get().is_none())
        {
            let mut v: Vec<(PathId, bool)> = leaves.collect();
            v.sort_by_cached_key(|&(id, wh)| walk_key(paths, id, wh));
            sorted = v;
            in_order = sorted.iter().copied();
            &mut in_order
        } else {
            unsorted = leaves;
            &mut unsorted
        };
        for (id, whiteout) in leaves {
            flags.seen.set(id as usize);
            let size = if whiteout {
                match lower[id as usize].get() {
                    None => break, // dive's GetNode error: the entry stays, with min -1
                    Some(prev) if prev.is_dir => {
                        let mut sum = 0;
                        paths.for_subtree(id, |x| {
                            sum += lower[x as usize].get().map_or(0, |n| n.size)
                        });
                        sum
                    }
                    Some(_) => 0,
                }
            } else {
                tree.nodes[sc.slot[id as usize] as usize].size
            } as i64;
            let d = &mut data[id as usize];
            d.cumulative += size;
            if d.min < 0 || size < d.min {
                d.min = size;
            }
            flags.add_node(id as usize);
        }
        for n in &tree.nodes {
            sc.slot[n.id as usize] = NO_SLOT;
        }
        stack_onto(&mut lower, &tree, paths);
    }
    let (mut min_sum, mut cum_sum, mut wasted, mut inefficient) = (0i64, 0i64, 0u64, 0usize);
    for (i, d) in data.iter().enumerate().filter(|(i, _)| flags.seen.get(*i)) {
        min_sum += d.min;
        cum_sum += d.cumulative;
        if flags.many.get(i) {
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
