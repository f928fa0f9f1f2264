//! Every path of an image, interned once: an id per path, its parent and its children. Stacking by id
//! replaces sorted maps of byte strings (whose comparisons dominated the run time on big images) with
//! vector indexing, and a directory's subtree is a walk over its children.

use rustc_hash::FxHashMap;

use crate::model::Image;

/// Id of an interned path.
pub type PathId = u32;

/// The parent of a top-level path.
pub const ROOT: PathId = PathId::MAX;

/// All paths named by an image's entries (and their parents).
#[derive(Debug, Default)]
pub struct PathTable<'a> {
    ids: FxHashMap<&'a [u8], PathId>,
    paths: Vec<&'a [u8]>,
    parents: Vec<PathId>,
    children: Vec<Vec<PathId>>,
}

impl<'a> PathTable<'a> {
    /// Interns every entry path of `image` and every parent directory of one.
    pub fn of(image: &'a Image) -> Self {
        let n: usize = image.layers.iter().map(|l| l.entries.len()).sum();
        let mut t = PathTable {
            ids: FxHashMap::with_capacity_and_hasher(n, Default::default()),
            ..PathTable::default()
        };
        for layer in &image.layers {
            for e in &layer.entries {
                if !e.path.is_empty() {
                    t.intern(&e.path);
                }
            }
        }
        t.children = vec![Vec::new(); t.paths.len()];
        for (id, &p) in t.parents.iter().enumerate() {
            if p != ROOT {
                t.children[p as usize].push(id as PathId);
            }
        }
        t
    }

    fn intern(&mut self, path: &'a [u8]) -> PathId {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let parent = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => self.intern(&path[..i]),
            None => ROOT,
        };
        let id = self.paths.len() as PathId;
        self.ids.insert(path, id);
        self.paths.push(path);
        self.parents.push(parent);
        id
    }

    /// The id of a path named by the image (every entry path and parent is interned).
    pub fn id(&self, path: &[u8]) -> Option<PathId> {
        self.ids.get(path).copied()
    }

    /// The path of an id.
    pub fn path(&self, id: PathId) -> &'a [u8] {
        self.paths[id as usize]
    }

    /// The parent of an id ([`ROOT`] for top-level paths).
    pub fn parent(&self, id: PathId) -> PathId {
        self.parents[id as usize]
    }

    /// The interned children of an id.
    pub fn children(&self, id: PathId) -> &[PathId] {
        &self.children[id as usize]
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
