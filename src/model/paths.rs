//! Every path an image names, stored once: a tree of names. A path is an id (`u32`); its bytes are its
//! parent's path, a `/` and its own name. Entries, the stacked filesystem and the groups of hidden bytes
//! hold ids, so memory grows with the number of distinct names, not with the length of full paths
//! (which repeat their directories: 110 bytes a path on average on a toolchain image, 22 a name).

use std::cmp::Ordering;
use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use super::Entry;
use super::EntryKind;

/// Id of an interned path.
pub type PathId = u32;

/// The root directory (the empty path). It is never interned: it is every top-level path's parent.
pub const ROOT: PathId = PathId::MAX;

/// An interner of normalized paths (see [`super::normalize_path`]).
#[derive(Debug, Clone)]
pub struct Paths {
    /// Every name, back to back.
    names: Vec<u8>,
    /// `names[starts[i]..starts[i + 1]]` is the name of id `i`.
    starts: Vec<usize>,
    parents: Vec<PathId>,
    /// Ids by (parent, name).
    table: HashTable<PathId>,
    /// The directory of the last path interned, and its id: consecutive tar entries share it.
    last_dir: Vec<u8>,
    last_dir_id: PathId,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            names: Vec::new(),
            starts: vec![0],
            parents: Vec::new(),
            table: HashTable::new(),
            last_dir: Vec::new(),
            last_dir_id: ROOT,
        }
    }
}

fn hash(parent: PathId, name: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u32(parent);
    h.write(name);
    h.finish()
}

/// The name of id `i` from the table's parts (borrowed apart from the hash table).
fn name_at<'a>(names: &'a [u8], starts: &[usize], i: usize) -> &'a [u8] {
    &names[starts[i]..starts[i + 1]]
}

/// The hash of an interned id, for the hash table's growth and shrinking.
fn rehash<'a>(
    names: &'a [u8],
    starts: &'a [usize],
    parents: &'a [PathId],
) -> impl Fn(&PathId) -> u64 + 'a {
    move |&id| {
        let i = id as usize;
        hash(parents[i], name_at(names, starts, i))
    }
}

fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memrchr(b'/', path) {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    }
}

impl Paths {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of interned paths.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// True when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// The last component of `id`.
    pub fn name(&self, id: PathId) -> &[u8] {
        name_at(&self.names, &self.starts, id as usize)
    }

    /// The parent of `id` ([`ROOT`] for a top-level path).
    pub fn parent(&self, id: PathId) -> PathId {
        self.parents[id as usize]
    }

    /// The id of `name` directly under `parent`, interning it when new.
    pub fn child(&mut self, parent: PathId, name: &[u8]) -> PathId {
        let h = hash(parent, name);
        let Paths {
            names,
            starts,
            parents,
            table,
            ..
        } = self;
        let same = |&id: &PathId| {
            let i = id as usize;
            parents[i] == parent && name_at(names, starts, i) == name
        };
        if let Some(&id) = table.find(h, same) {
            return id;
        }
        let id = PathId::try_from(parents.len())
            .ok()
            .filter(|&id| id != ROOT)
            .expect("fewer than 2^32 - 1 paths");
        names.extend_from_slice(name);
        starts.push(names.len());
        parents.push(parent);
        table.insert_unique(h, id, rehash(names, starts, parents));
        id
    }

    /// The id of the normalized `path` (`ROOT` for the empty path), interning it and its parents.
    pub fn intern(&mut self, path: &[u8]) -> PathId {
        if path.is_empty() {
            return ROOT;
        }
        let (dir, name) = split_last(path);
        let parent = if dir.is_empty() {
            ROOT
        } else if dir == self.last_dir.as_slice() {
            self.last_dir_id
        } else {
            let mut p = ROOT;
            for comp in dir.split(|&b| b == b'/') {
                p = self.child(p, comp);
            }
            self.last_dir.clear();
            self.last_dir.extend_from_slice(dir);
            self.last_dir_id = p;
            p
        };
        self.child(parent, name)
    }

    /// The id of `name` directly under `parent`, if interned.
    pub fn find_child(&self, parent: PathId, name: &[u8]) -> Option<PathId> {
        self.table
            .find(hash(parent, name), |&id| {
                self.parent(id) == parent && self.name(id) == name
            })
            .copied()
    }

    /// The id of the normalized `path` if it is interned (`Some(ROOT)` for the empty path).
    pub fn id(&self, path: &[u8]) -> Option<PathId> {
        if path.is_empty() {
            return Some(ROOT);
        }
        let mut p = ROOT;
        for comp in path.split(|&b| b == b'/') {
            p = self.find_child(p, comp)?;
        }
        Some(p)
    }

    /// Appends the bytes of `id`'s path (no leading `/`) to `out`.
    pub fn write(&self, id: PathId, out: &mut Vec<u8>) {
        if id == ROOT {
            return;
        }
        let mut chain: Vec<PathId> = Vec::with_capacity(16);
        let mut x = id;
        while x != ROOT {
            chain.push(x);
            x = self.parent(x);
        }
        for (k, &c) in chain.iter().rev().enumerate() {
            if k > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(self.name(c));
        }
    }

    /// The bytes of `id`'s path (empty for [`ROOT`]).
    pub fn bytes(&self, id: PathId) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(id, &mut v);
        v
    }

    /// `id`'s path for people and JSON (see [`super::display_path`]).
    pub fn display(&self, id: PathId) -> String {
        super::display_path(&self.bytes(id))
    }

    /// Compares two paths as their bytes compare.
    pub fn cmp(&self, a: PathId, b: PathId) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        self.bytes(a).cmp(&self.bytes(b))
    }

    /// Interns every path of `other` here and rewrites `entries` (whose ids are `other`'s) to this
    /// table's ids. Parents are interned before their children, so one pass in id order does it.
    pub fn absorb(&mut self, other: Paths, entries: &mut [Entry]) {
        let mut map: Vec<PathId> = Vec::with_capacity(other.len());
        for i in 0..other.len() {
            let p = other.parents[i];
            let parent = if p == ROOT { ROOT } else { map[p as usize] };
            let id = self.child(parent, other.name(i as PathId));
            map.push(id);
        }
        let remap = |id: PathId| if id == ROOT { ROOT } else { map[id as usize] };
        for e in entries {
            e.path = remap(e.path);
            if let EntryKind::Hardlink { target } = e.kind() {
                e.set_link_target(remap(target));
            }
        }
    }

    /// Gives back growth slack once the table is complete.
    pub fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.starts.shrink_to_fit();
        self.parents.shrink_to_fit();
        let Paths {
            names,
            starts,
            parents,
            table,
            ..
        } = self;
        table.shrink_to_fit(rehash(names, starts, parents));
        self.last_dir = Vec::new();
        self.last_dir_id = ROOT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_each_path_once_with_its_parents() {
        let mut t = Paths::new();
        let a = t.intern(b"usr/lib/x");
        let b = t.intern(b"usr/lib/y");
        let c = t.intern(b"usr/lib/x");
        assert_eq!(a, c);
        assert_ne!(a, b);
        assert_eq!(t.len(), 4); // usr, usr/lib, x, y
        assert_eq!(t.bytes(a), b"usr/lib/x");
        assert_eq!(t.id(b"usr/lib"), Some(t.parent(a)));
        assert_eq!(t.id(b"usr/li"), None);
        assert_eq!(t.id(b""), Some(ROOT));
        assert_eq!(t.intern(b""), ROOT);
    }

    #[test]
    fn compares_like_the_bytes() {
        let mut t = Paths::new();
        let ids: Vec<PathId> = [&b"a/b"[..], b"a.b", b"a", b"a/b/c", b"\xff", b"a-b"]
            .iter()
            .map(|p| t.intern(p))
            .collect();
        let mut by_id = ids.clone();
        by_id.sort_by(|&x, &y| t.cmp(x, y));
        let mut by_bytes = ids.clone();
        by_bytes.sort_by_key(|&x| t.bytes(x));
        assert_eq!(by_id, by_bytes);
    }

    #[test]
    fn absorbing_a_table_rewrites_entry_ids() {
        let mut local = Paths::new();
        let x = local.intern(b"b/x");
        let link = local.intern(b"b/y");
        let mut entries = vec![
            Entry::new(x, EntryKind::File, 1, 0),
            Entry::new(link, EntryKind::Hardlink { target: x }, 0, 0),
        ];
        let mut global = Paths::new();
        global.intern(b"a/z");
        global.absorb(local, &mut entries);
        assert_eq!(global.bytes(entries[0].path), b"b/x");
        assert_eq!(global.bytes(entries[1].path), b"b/y");
        assert_eq!(
            entries[1].kind(),
            EntryKind::Hardlink {
                target: entries[0].path
            }
        );
    }
}
