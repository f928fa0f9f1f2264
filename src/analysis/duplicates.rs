//! Identical content under different paths in the final filesystem. Sizes first; only files that share
//! a size with another are hashed (sha256), and only those are read again.

use std::collections::{HashMap, HashSet};

use super::stack::Stacked;
use crate::model::{Image, PathId};

/// Where file contents can be read again for hashing.
pub trait ContentHasher: Sync {
    /// The error reading may give.
    type Error: Send;
    /// Hashes the files of layer `layer` whose data starts at one of `offsets`: (offset, sha256).
    fn hash_files(
        &self,
        layer: usize,
        offsets: &HashSet<u64>,
    ) -> Result<Vec<(u64, [u8; 32])>, Self::Error>;
}

/// A set of visible files with identical content.
#[derive(Debug, Clone)]
pub struct DuplicateGroup {
    /// Size of each copy.
    pub size: u64,
    /// sha256 of the content.
    pub sha256: [u8; 32],
    /// One path per copy (hard links of one copy are not duplicates), sorted.
    pub paths: Vec<Box<[u8]>>,
    /// Layer of each copy, in the order of `paths`.
    pub layers: Vec<usize>,
}

impl DuplicateGroup {
    /// Bytes saved by keeping one copy.
    pub fn reclaimable(&self) -> u64 {
        self.size * (self.paths.len() as u64 - 1)
    }
}

/// Finds duplicate groups among visible files of at least `min_size` bytes.
pub fn find<H: ContentHasher>(
    image: &Image,
    stacked: &Stacked,
    hasher: &H,
    min_size: u64,
    threads: usize,
) -> Result<Vec<DuplicateGroup>, H::Error> {
    // One visible name per inode: the first in path order.
    let paths = &image.paths;
    let mut name_of: HashMap<usize, PathId> = HashMap::new();
    for (id, node) in stacked.live() {
        if let Some(i) = node.inode() {
            name_of
                .entry(i)
                .and_modify(|old| {
                    if paths.cmp(id, *old).is_lt() {
                        *old = id;
                    }
                })
                .or_insert(id);
        }
    }
    let offset = |i: usize| {
        let ino = stacked.inode(i);
        (
            ino.layer,
            image.layers[ino.layer].entries[ino.entry].data_offset(),
        )
    };
    let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
    for &i in name_of.keys() {
        let size = stacked.inode(i).size;
        if size >= min_size.max(1) {
            by_size.entry(size).or_default().push(i);
        }
    }
    let candidates: Vec<usize> = by_size
        .into_values()
        .filter(|v| v.len() > 1)
        .flatten()
        .collect();

    // Hashes already taken while streaming, else read the candidates again, layer by layer.
    let mut hash_of: HashMap<(usize, u64), [u8; 32]> = HashMap::new();
    for l in &image.layers {
        for &(entry, h) in &l.hashes {
            hash_of.insert((l.index, l.entries[entry].data_offset()), h);
        }
    }
    let mut wanted: HashMap<usize, HashSet<u64>> = HashMap::new();
    for &i in &candidates {
        let (layer, off) = offset(i);
        if !hash_of.contains_key(&(layer, off)) {
            wanted.entry(layer).or_default().insert(off);
        }
    }
    let jobs: Vec<(usize, HashSet<u64>)> = wanted.into_iter().collect();
    let results = crate::par::map(&jobs, threads, |_, (layer, offsets)| {
        hasher.hash_files(*layer, offsets).map(|v| (*layer, v))
    });
    for r in results {
        let (layer, hashes) = r?;
        for (off, h) in hashes {
            hash_of.insert((layer, off), h);
        }
    }

    let mut groups: HashMap<(u64, [u8; 32]), Vec<usize>> = HashMap::new();
    for &i in &candidates {
        if let Some(h) = hash_of.get(&offset(i)) {
            groups
                .entry((stacked.inode(i).size, *h))
                .or_default()
                .push(i);
        }
    }
    let mut out: Vec<DuplicateGroup> = groups
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((size, sha256), inodes)| {
            let mut copies: Vec<(Box<[u8]>, usize)> = inodes
                .iter()
                .map(|i| (paths.bytes(name_of[i]).into(), stacked.inode(*i).layer))
                .collect();
            copies.sort();
            DuplicateGroup {
                size,
                sha256,
                layers: copies.iter().map(|c| c.1).collect(),
                paths: copies.into_iter().map(|c| c.0).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.reclaimable()
            .cmp(&a.reclaimable())
            .then_with(|| a.paths.cmp(&b.paths))
    });
    Ok(out)
}
