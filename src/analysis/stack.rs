//! Stacking layers the way overlayfs does, and recording every byte that ends up out of sight.
//!
//! Every path of the image is interned once ([`PathTable`]); the filesystem built so far is a vector
//! indexed by path id holding the layer that last wrote each path. Deleting a directory walks the paths
//! below it and costs their number, never a rebuild of the lower layers (dive stacks all lower layers
//! again for every deleted file). Data belongs to inodes, so a file named by several hard links stays
//! visible while any of its names is.
//!
//! [`squash`] stacks a range of layers alone, on an empty filesystem: what they would hold as one layer
//! (the advice's simulation of merged RUNs). dive's own stacking (`dive.rs`) stays apart on purpose: it
//! reproduces dive's figures, quirks included.

use std::collections::BTreeMap;

use super::paths::{PathId, PathTable, ROOT};
use crate::model::{EntryKind, Image, Paths};

/// Why bytes written by a layer cannot be seen in the final filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// A later whiteout (`.wh.<name>`) deleted the path or a directory above it.
    Deleted,
    /// A later opaque directory (`.wh..wh..opq`) hid everything below it.
    Opaque,
    /// A later layer wrote the same path (or replaced it, or a directory above it, by another type).
    Overwritten,
}

impl Reason {
    /// The name used in JSON documents and evidence rows.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Deleted => "deleted",
            Reason::Opaque => "opaque",
            Reason::Overwritten => "overwritten",
        }
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Bytes split by the reason they are out of sight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ByReason {
    /// Deleted by a later whiteout.
    pub deleted: u64,
    /// Hidden by a later opaque directory.
    pub opaque: u64,
    /// Overwritten by a later layer.
    pub overwritten: u64,
}

impl ByReason {
    fn add(&mut self, reason: Reason, bytes: u64) {
        match reason {
            Reason::Deleted => self.deleted += bytes,
            Reason::Opaque => self.opaque += bytes,
            Reason::Overwritten => self.overwritten += bytes,
        }
    }

    /// The sum over all reasons.
    pub fn total(&self) -> u64 {
        self.deleted + self.opaque + self.overwritten
    }
}

/// One group of invisible bytes: written under `path` by layer `added`, hidden by layer `hidden_by`.
/// A deleted or replaced directory is one item with the files below it counted in `files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiddenItem {
    /// The path the hiding layer acted on (a file, or the directory whose subtree went).
    pub path: PathId,
    added: u32,
    hidden_by: u32,
    /// Why they are hidden.
    pub reason: Reason,
    /// Bytes of data that became invisible.
    pub bytes: u64,
    /// Regular files (inodes) whose data became invisible.
    pub files: u64,
}

impl HiddenItem {
    /// Layer that wrote the bytes.
    pub fn added(&self) -> usize {
        self.added as usize
    }

    /// Layer that hid them.
    pub fn hidden_by(&self) -> usize {
        self.hidden_by as usize
    }
}

/// What stacking found for one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerStack {
    /// Sum of regular-file sizes in the layer's tar.
    pub content_bytes: u64,
    /// Non-directory entries at paths that did not exist below.
    pub files_added: u64,
    /// Non-directory entries at paths that existed below (or earlier in the same layer).
    pub files_modified: u64,
    /// Non-directory paths of lower layers this layer removed (whiteouts and opaque directories).
    pub files_deleted: u64,
    /// This layer's bytes that are invisible in the final filesystem, by reason.
    pub invisible: ByReason,
    /// Bytes of earlier layers that this layer made invisible, by reason.
    pub hides: ByReason,
    /// Hard links whose target was not found (their names carry no bytes).
    pub dangling_links: u64,
}

/// A regular file's data, as [`Stacked::inode`] describes it. Hard links share one.
#[derive(Debug, Clone, Copy)]
pub struct Inode {
    /// Bytes of data.
    pub size: u64,
    /// Layer that wrote the data.
    pub layer: usize,
    /// Index of the entry that wrote it, in that layer (its `data_offset` says where the data is).
    pub entry: usize,
    /// Names (paths) that still refer to it.
    names: u32,
}

/// An inode as stored: 16 bytes, the entry as an index over all layers' entries.
#[derive(Debug, Clone, Copy)]
struct Data {
    size: u64,
    at: u32,
    names: u32,
}

impl Inode {
    /// True while at least one name refers to the data.
    pub fn is_visible(&self) -> bool {
        self.names > 0
    }
}

const NO_INODE: u32 = u32::MAX;

/// One path of the final filesystem.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    layer: u32,
    inode: u32,
    is_dir: bool,
}

impl Node {
    /// Layer that last wrote the path.
    pub fn layer(&self) -> usize {
        self.layer as usize
    }

    /// The data it names (an index in [`Stacked::inodes`]), for regular files and hard links.
    pub fn inode(&self) -> Option<usize> {
        (self.inode != NO_INODE).then_some(self.inode as usize)
    }

    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.is_dir
    }
}

/// The stacked image: the final filesystem, and where every invisible byte went.
#[derive(Debug, Clone, Default)]
pub struct Stacked {
    /// Per-layer figures, by layer index.
    pub layers: Vec<LayerStack>,
    /// The final filesystem by path id (of the image's [`Paths`]): what holds each path, if anything.
    pub nodes: Vec<Option<Node>>,
    /// Every regular file's data, visible or not (see [`Stacked::inode`]).
    data: Vec<Data>,
    /// Index of each layer's first entry over all layers' entries.
    starts: Vec<u32>,
    /// Every group of invisible bytes.
    pub hidden: Vec<HiddenItem>,
}

impl Stacked {
    /// Every path of the final filesystem with its node, in id order.
    pub fn live(&self) -> impl Iterator<Item = (PathId, Node)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(id, n)| n.map(|n| (id as PathId, n)))
    }

    /// The final filesystem as (path bytes, node), sorted by path.
    pub fn live_sorted(&self, paths: &Paths) -> Vec<(Box<[u8]>, Node)> {
        let mut v: Vec<(Box<[u8]>, Node)> = self
            .live()
            .map(|(id, n)| (paths.bytes(id).into_boxed_slice(), n))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Bytes of data still visible in the final filesystem.
    pub fn visible_bytes(&self) -> u64 {
        self.data
            .iter()
            .filter(|d| d.names > 0)
            .map(|d| d.size)
            .sum()
    }

    /// Inode `i` (as [`Node::inode`] names it).
    pub fn inode(&self, i: usize) -> Inode {
        let d = self.data[i];
        let layer = self.layer_of(d.at);
        Inode {
            size: d.size,
            layer,
            entry: (d.at - self.starts[layer]) as usize,
            names: d.names,
        }
    }

    fn layer_of(&self, at: u32) -> usize {
        self.starts.partition_point(|&s| s <= at) - 1
    }
}

struct Stacker<'p> {
    /// The filesystem so far is `s.nodes`.
    s: Stacked,
    paths: &'p PathTable<'p>,
    /// Groups being filled by the current removal, keyed by the layer that wrote the bytes.
    pending: BTreeMap<u32, (u64, u64)>,
}

impl Stacker<'_> {
    /// Drops one name; when it was the data's last name, the data becomes invisible.
    fn drop_name(&mut self, node: Node, reason: Reason, actor: usize) {
        let Some(i) = node.inode() else { return };
        let d = &mut self.s.data[i];
        d.names -= 1;
        if d.names == 0 {
            let (at, size) = (d.at, d.size);
            let layer = self.s.layer_of(at);
            self.s.layers[layer].invisible.add(reason, size);
            self.s.layers[actor].hides.add(reason, size);
            let g = self.pending.entry(layer as u32).or_default();
            g.0 += size;
            g.1 += 1;
        }
    }

    /// Turns the pending groups into hidden items reported at `id`'s path.
    fn flush(&mut self, id: PathId, actor: usize, reason: Reason) {
        for (added, (bytes, files)) in std::mem::take(&mut self.pending) {
            self.s.hidden.push(HiddenItem {
                path: id,
                added,
                hidden_by: actor as u32,
                reason,
                bytes,
                files,
            });
        }
    }

    /// Removes the paths strictly below `dir` (all of them for [`ROOT`]); with `lower_only`, entries of
    /// layer `actor` itself stay.
    fn remove_below(&mut self, dir: PathId, actor: usize, reason: Reason, lower_only: bool) {
        let mut stack: Vec<PathId> = self.paths.children(dir).to_vec();
        while let Some(x) = stack.pop() {
            stack.extend_from_slice(self.paths.children(x));
            let Some(node) = self.s.nodes[x as usize] else {
                continue;
            };
            if lower_only && node.layer() == actor {
                continue;
            }
            self.s.nodes[x as usize] = None;
            if !node.is_dir && reason != Reason::Overwritten {
                self.s.layers[actor].files_deleted += 1;
            }
            self.drop_name(node, reason, actor);
        }
    }

    /// Makes sure every directory above `id` exists as a directory (a file in the way is replaced).
    fn ensure_parents(&mut self, id: PathId, actor: usize) {
        let mut p = self.paths.parent(id);
        while p != ROOT {
            match self.s.nodes[p as usize] {
                Some(n) if n.is_dir => return,
                Some(n) => {
                    self.drop_name(n, Reason::Overwritten, actor);
                    self.flush(p, actor, Reason::Overwritten);
                    self.s.nodes[p as usize] = Some(dir_node(actor));
                    return;
                }
                None => self.s.nodes[p as usize] = Some(dir_node(actor)),
            }
            p = self.paths.parent(p);
        }
    }

    fn stack_layer(&mut self, index: usize, layer: &crate::model::Layer) {
        self.s.layers[index].content_bytes = layer.content_bytes();
        // Opaque markers hide lower children wherever they stand in the tar: apply them first.
        for e in layer
            .entries
            .iter()
            .filter(|e| e.kind() == EntryKind::Opaque)
        {
            let id = e.path;
            self.remove_below(id, index, Reason::Opaque, true);
            if id != ROOT {
                self.flush(id, index, Reason::Opaque);
            } else {
                self.pending.clear();
            }
        }
        for (ei, e) in layer.entries.iter().enumerate() {
            let id = e.path;
            if id == ROOT {
                continue;
            }
            match e.kind() {
                EntryKind::Opaque => {}
                EntryKind::Whiteout => {
                    if let Some(node) = self.s.nodes[id as usize]
                        && node.layer() != index
                    {
                        self.s.nodes[id as usize] = None;
                        if !node.is_dir {
                            self.s.layers[index].files_deleted += 1;
                        }
                        self.drop_name(node, Reason::Deleted, index);
                    }
                    self.remove_below(id, index, Reason::Deleted, true);
                    self.flush(id, index, Reason::Deleted);
                }
                kind => {
                    self.ensure_parents(id, index);
                    let is_dir = kind == EntryKind::Dir;
                    if let Some(old) = self.s.nodes[id as usize] {
                        if old.is_dir && is_dir {
                            // Same directory, new metadata: its contents stay.
                            self.s.nodes[id as usize] = Some(dir_node(index));
                            continue;
                        }
                        if !is_dir {
                            self.s.layers[index].files_modified += 1;
                        }
                        self.drop_name(old, Reason::Overwritten, index);
                        if old.is_dir {
                            // A non-directory in place of a directory hides the whole subtree.
                            self.s.nodes[id as usize] = None;
                            self.remove_below(id, index, Reason::Overwritten, false);
                        }
                        self.flush(id, index, Reason::Overwritten);
                    } else if !is_dir {
                        self.s.layers[index].files_added += 1;
                    }
                    let inode = match kind {
                        EntryKind::File => {
                            self.s.data.push(Data {
                                size: e.size,
                                at: self.s.starts[index] + ei as u32,
                                names: 1,
                            });
                            (self.s.data.len() - 1) as u32
                        }
                        EntryKind::Hardlink { target } => {
                            let t = (target != ROOT)
                                .then(|| self.s.nodes[target as usize])
                                .flatten()
                                .and_then(|n| n.inode());
                            match t {
                                Some(i) => {
                                    self.s.data[i].names += 1;
                                    i as u32
                                }
                                None => {
                                    self.s.layers[index].dangling_links += 1;
                                    NO_INODE
                                }
                            }
                        }
                        _ => NO_INODE,
                    };
                    self.s.nodes[id as usize] = Some(Node {
                        layer: index as u32,
                        inode,
                        is_dir,
                    });
                }
            }
        }
    }
}

fn dir_node(layer: usize) -> Node {
    Node {
        layer: layer as u32,
        inode: NO_INODE,
        is_dir: true,
    }
}

/// Stacks every layer of `image`, base first.
pub fn stack(image: &Image) -> Stacked {
    stack_with(image, &PathTable::of(image))
}

/// Stacks every layer of `image`, whose paths are interned in `paths`.
pub fn stack_with(image: &Image, paths: &PathTable<'_>) -> Stacked {
    stack_layers(image, paths, 0..image.layers.len())
}

/// What layers `range` (of `image`, paths interned in `paths`) would hold if they were squashed into one
/// layer: those layers stacked alone, on an empty filesystem. Later entries replace earlier ones at the
/// same path, whiteouts and opaque directories remove what earlier layers of the range wrote (a
/// whiteout aimed below the range has nothing to act on: in a squashed layer it stays a whiteout, which
/// carries no bytes), and hard links keep data alive under their other names. The squashed layer's
/// content bytes are [`Stacked::visible_bytes`]. Layer indices in the result stay the image's; layers
/// outside the range have empty figures. A range past the last layer is cut to the layers there are.
pub fn squash(
    image: &Image,
    paths: &PathTable<'_>,
    range: std::ops::RangeInclusive<usize>,
) -> Stacked {
    let (first, last) = range.into_inner();
    let end = last.saturating_add(1).min(image.layers.len());
    stack_layers(image, paths, first.min(end)..end)
}

/// Stacks layers `range` of `image` on an empty filesystem.
fn stack_layers(image: &Image, paths: &PathTable<'_>, range: std::ops::Range<usize>) -> Stacked {
    let layers = &image.layers[range.clone()];
    let mut st = Stacker {
        s: Stacked {
            layers: vec![LayerStack::default(); image.layers.len()],
            nodes: vec![None; paths.len()],
            // One inode per regular file: no growth slack in the largest vector.
            data: Vec::with_capacity(
                layers
                    .iter()
                    .flat_map(|l| &l.entries)
                    .filter(|e| e.kind() == EntryKind::File)
                    .count(),
            ),
            starts: image
                .layers
                .iter()
                .scan(0u32, |n, l| {
                    let at = *n;
                    *n += u32::try_from(l.entries.len()).expect("fewer than 2^32 entries");
                    Some(at)
                })
                .collect(),
            ..Stacked::default()
        },
        paths,
        pending: BTreeMap::new(),
    };
    for (i, layer) in layers.iter().enumerate() {
        st.stack_layer(range.start + i, layer);
    }
    st.s.data.shrink_to_fit();
    st.s.hidden.shrink_to_fit();
    st.s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Compression, Entry, History, Layer, Paths};

    /// One entry of a test layer: `path` and what stands there.
    enum E {
        /// A regular file of this many bytes.
        F(&'static str, u64),
        /// A directory.
        D(&'static str),
        /// A hard link to the path given second.
        L(&'static str, &'static str),
        /// A whiteout (`.wh.<name>`) of the path.
        W(&'static str),
        /// An opaque marker (`.wh..wh..opq`) in the directory.
        O(&'static str),
    }
    use E::*;

    /// An image of these layers, base first.
    fn image(layers: &[&[E]]) -> Image {
        let mut paths = Paths::new();
        let mut intern = |p: &str| paths.intern(p.as_bytes());
        let layers = layers
            .iter()
            .enumerate()
            .map(|(index, entries)| Layer {
                index,
                diff_id: None,
                origin: String::new(),
                compression: Compression::None,
                blob_bytes: 0,
                stored_as_link: false,
                history: History::default(),
                entries: entries
                    .iter()
                    .map(|e| match *e {
                        F(p, n) => Entry::new(intern(p), EntryKind::File, n, 0),
                        D(p) => Entry::new(intern(p), EntryKind::Dir, 0, 0),
                        L(p, t) => {
                            let target = intern(t);
                            Entry::new(intern(p), EntryKind::Hardlink { target }, 0, 0)
                        }
                        W(p) => Entry::new(intern(p), EntryKind::Whiteout, 0, 0),
                        O(p) => Entry::new(intern(p), EntryKind::Opaque, 0, 0),
                    })
                    .collect(),
                hashes: vec![],
            })
            .collect();
        Image {
            source: "t".into(),
            format: "docker-archive",
            id: None,
            tags: vec![],
            warnings: vec![],
            layers,
            paths,
        }
    }

    /// Content bytes of layers `range` squashed into one.
    fn squashed(img: &Image, range: std::ops::RangeInclusive<usize>) -> u64 {
        squash(img, &PathTable::of(img), range).visible_bytes()
    }

    /// The paths of the squashed range's filesystem, sorted.
    fn files(img: &Image, range: std::ops::RangeInclusive<usize>) -> Vec<String> {
        let st = squash(img, &PathTable::of(img), range);
        st.live_sorted(&img.paths)
            .into_iter()
            .map(|(p, _)| String::from_utf8_lossy(&p).into_owned())
            .collect()
    }

    #[test]
    fn whiteouts_remove_what_the_range_wrote() {
        let img = image(&[
            &[
                F("a", 100),
                D("d"),
                F("d/x", 10),
                F("d/y", 20),
                F("keep", 1),
            ],
            &[W("a"), W("d")],
        ]);
        assert_eq!(squashed(&img, 0..=0), 100 + 10 + 20 + 1);
        assert_eq!(squashed(&img, 0..=1), 1);
        assert_eq!(files(&img, 0..=1), ["keep"]);
        // Layer 1 alone: whiteouts with nothing below them hold nothing.
        assert_eq!(squashed(&img, 1..=1), 0);
        assert!(files(&img, 1..=1).is_empty());
    }

    #[test]
    fn opaque_dirs_hide_what_earlier_layers_of_the_range_put_there() {
        // The opaque marker stands after the new file in tar order: it still hides only lower ones.
        let img = image(&[
            &[D("d"), F("d/x", 10), F("d/y", 20), F("e", 3)],
            &[D("d"), F("d/z", 5), O("d")],
        ]);
        assert_eq!(squashed(&img, 0..=1), 5 + 3);
        assert_eq!(files(&img, 0..=1), ["d", "d/z", "e"]);
    }

    #[test]
    fn overwrites_keep_the_last_copy_only() {
        let img = image(&[
            &[F("f", 100), D("d"), F("d/x", 10), F("g", 40)],
            // f rewritten, directory d replaced by a file, file g replaced by a directory.
            &[F("f", 150), F("d", 7), D("g"), F("g/h", 3)],
        ]);
        assert_eq!(squashed(&img, 0..=1), 150 + 7 + 3);
        assert_eq!(files(&img, 0..=1), ["d", "f", "g", "g/h"]);
    }

    #[test]
    fn hard_links_keep_data_while_a_name_is_left() {
        let img = image(&[
            &[F("a", 100), L("b", "a")],
            &[W("a")],
            &[W("b")],
            &[F("c", 8), L("c2", "c"), F("c", 50)],
        ]);
        // Layer 1 deletes one name: the data stays under b, counted once.
        assert_eq!(squashed(&img, 0..=0), 100);
        assert_eq!(squashed(&img, 0..=1), 100);
        // Layer 2 deletes the other: nothing is left.
        assert_eq!(squashed(&img, 0..=2), 0);
        // c rewritten after c2 was linked to it: c2 keeps the old 8 bytes, c holds 50 new ones.
        assert_eq!(squashed(&img, 3..=3), 58);
        // A link whose target is below the range names nothing in it: no bytes.
        let img = image(&[&[F("a", 100)], &[L("b", "a"), F("x", 1)]]);
        assert_eq!(squashed(&img, 1..=1), 1);
        assert_eq!(squashed(&img, 0..=1), 101);
    }

    #[test]
    fn a_file_added_then_deleted_inside_the_range_costs_nothing() {
        let img = image(&[
            &[F("bin/sh", 10)],
            &[
                D("tmp"),
                D("tmp/build"),
                F("tmp/build/obj.o", 800),
                F("lib.so", 300),
            ],
            &[W("tmp/build"), F("lib.so", 300)],
        ]);
        // Separately the two layers ship 800 + 300 + 300 bytes; squashed, one lib.so.
        assert_eq!(squashed(&img, 1..=2), 300);
        assert_eq!(files(&img, 1..=2), ["lib.so", "tmp"]);
        assert_eq!(squashed(&img, 0..=2), 310);
    }

    #[test]
    fn deletions_across_the_range_boundary_do_not_count() {
        let img = image(&[
            &[F("old", 100), F("keep", 10)],
            &[F("new", 20), F("late", 40)],
            &[W("old")],
            &[W("late")],
        ]);
        // Layer 2 deletes a file of layer 0, below the range: nothing of the range goes.
        assert_eq!(squashed(&img, 1..=2), 20 + 40);
        // Layer 3 deletes late, above the range: it is still in the range's filesystem.
        assert_eq!(files(&img, 1..=2), ["late", "new"]);
        // Both ends inside: old and late both go.
        assert_eq!(squashed(&img, 0..=3), 10 + 20);
        // The whole image agrees with the full stacking.
        assert_eq!(stack(&img).visible_bytes(), squashed(&img, 0..=3));
        // Ranges past the end are cut; empty images hold nothing.
        assert_eq!(squashed(&img, 3..=9), 0);
        assert_eq!(squashed(&img, 2..=9), 0);
        assert_eq!(squashed(&image(&[]), 0..=0), 0);
    }
}
