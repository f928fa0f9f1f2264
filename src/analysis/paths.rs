//! The image's paths as a tree the analysis can walk: each path's children, from the image's interner
//! ([`crate::model::Paths`]). Stacking by id replaces sorted maps of byte strings (whose comparisons
//! dominated the run time on big images) with vector indexing, and a directory's subtree is a walk
//! over its children.

use crate::model::{Image, Paths};
pub use crate::model::{PathId, ROOT};

/// Every path named by an image's entries (and their parents), with their children.
#[derive(Debug)]
pub struct PathTable<'a> {
    paths: &'a Paths,
    /// `kids[starts[i]..starts[i + 1]]` are the children of id `i`.
    starts: Vec<u32>,
    kids: Vec<PathId>,
    /// Top-level paths (children of the root).
    roots: Vec<PathId>,
}

impl<'a> PathTable<'a> {
    /// The tree of `image`'s paths.
    pub fn of(image: &'a Image) -> Self {
        Self::new(&image.paths)
    }

    /// The tree of the paths in `paths`.
    pub fn new(paths: &'a Paths) -> Self {
        let n = paths.len();
        let mut count = vec![0u32; n + 1];
        let mut roots = Vec::new();
        for id in 0..n as PathId {
            match paths.parent(id) {
                ROOT => roots.push(id),
                p => count[p as usize + 1] += 1,
            }
        }
        for i in 1..=n {
            count[i] += count[i - 1];
        }
        let starts = count.clone();
        let mut kids = vec![0; starts[n] as usize];
        let mut fill = count;
        for id in 0..n as PathId {
            let p = paths.parent(id);
            if p != ROOT {
                kids[fill[p as usize] as usize] = id;
                fill[p as usize] += 1;
            }
        }
        PathTable {
            paths,
            starts,
            kids,
            roots,
        }
    }

    /// The bytes of an id's path.
    pub fn path(&self, id: PathId) -> Vec<u8> {
        self.paths.bytes(id)
    }

    /// The parent of an id ([`ROOT`] for top-level paths).
    pub fn parent(&self, id: PathId) -> PathId {
        self.paths.parent(id)
    }

    /// The children of an id (the top-level paths for [`ROOT`]).
    pub fn children(&self, id: PathId) -> &[PathId] {
        if id == ROOT {
            return &self.roots;
        }
        let i = id as usize;
        &self.kids[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// Number of interned paths.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when no path is interned.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Calls `f` for `id` and every interned path below it, parents before children.
    pub fn for_subtree(&self, id: PathId, mut f: impl FnMut(PathId)) {
        let mut stack = vec![id];
        while let Some(x) = stack.pop() {
            f(x);
            stack.extend_from_slice(self.children(x));
        }
    }
}
