//! Measuring directories the way `du -sx` does: one filesystem only (so the mounted `merged/` dirs of
//! running containers and BuildKit's executor rootfs are never entered), a hard-linked inode counted
//! once across the whole audit, a directory reached twice (a bind mount of the same filesystem below
//! the root) walked once. Both allocated bytes (`st_blocks × 512`, what `du` shows) and apparent bytes
//! (Σ `st_size` of non-directories, what Docker's own figures count) are kept.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

/// Disk usage of a set of files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Allocated bytes (`st_blocks × 512`), directories included: what `du` counts.
    pub bytes: u64,
    /// Σ `st_size` of non-directories: what `docker system df` counts.
    pub apparent_bytes: u64,
    /// Entries counted (files, directories, links…).
    pub entries: u64,
    /// Newest modification time (nanoseconds since the epoch) of anything inside, if any was read.
    #[serde(skip, default)]
    pub newest: Option<i64>,
}

impl Usage {
    /// Adds another usage to this one.
    pub fn add(&mut self, o: &Usage) {
        self.bytes += o.bytes;
        self.apparent_bytes += o.apparent_bytes;
        self.entries += o.entries;
        self.newest = match (self.newest, o.newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A walker shared by the threads of one audit: it remembers hard-linked inodes and directories seen.
pub struct Walker {
    dev: u64,
    links: Mutex<HashSet<(u64, u64)>>,
    dirs: Mutex<HashSet<(u64, u64)>>,
    errors: Mutex<Vec<String>>,
    error_count: AtomicU64,
}

/// How many unreadable paths are named in warnings; the rest are counted.
const ERRORS_NAMED: usize = 5;

impl Walker {
    /// A walker that stays on the filesystem of `root`.
    pub fn new(root: &Path) -> io::Result<Walker> {
        let md = std::fs::metadata(root)?;
        Ok(Walker {
            dev: md.dev(),
            links: Mutex::new(HashSet::new()),
            dirs: Mutex::new(HashSet::new()),
            errors: Mutex::new(Vec::new()),
            error_count: AtomicU64::new(0),
        })
    }

    fn error(&self, msg: String) {
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if e.len() < ERRORS_NAMED {
            e.push(msg);
        }
    }

    /// Paths that could not be read (the first few) and how many there were in all.
    pub fn errors(&self) -> (Vec<String>, u64) {
        let e = self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        (e, self.error_count.load(Ordering::Relaxed))
    }

    /// Measures `path` (a file or a directory tree), not entering directories in `prune` (other than
    /// `path` itself). Returns the whole usage and the part of it whose paths `part` accepts.
    pub fn measure(
        &self,
        path: &Path,
        prune: &HashSet<PathBuf>,
        part: &dyn Fn(&Path) -> bool,
    ) -> (Usage, Usage) {
        let mut all = Usage::default();
        let mut sub = Usage::default();
        let mut it = WalkDir::new(path).follow_links(false).into_iter();
        while let Some(next) = it.next() {
            let e = match next {
                Ok(e) => e,
                Err(err) => {
                    // A file deleted while we walk (a build or prune running) is simply gone.
                    let gone = err
                        .io_error()
                        .is_some_and(|io| io.kind() == io::ErrorKind::NotFound);
                    if !gone {
                        let p = err
                            .path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default();
                        self.error(format!("{p}: {err}"));
                    }
                    continue;
                }
            };
            let is_dir = e.file_type().is_dir();
            if e.depth() > 0 && is_dir && prune.contains(e.path()) {
                it.skip_current_dir();
                continue;
            }
            let md = match e.metadata() {
                Ok(m) => m,
                Err(err) => {
                    if err
                        .io_error()
                        .is_none_or(|io| io.kind() != io::ErrorKind::NotFound)
                    {
                        self.error(format!("{}: {err}", e.path().display()));
                    }
                    continue;
                }
            };
            if md.dev() != self.dev {
                // Another filesystem: a running container's `merged/`, a tmpfs, an executor rootfs.
                if is_dir {
                    it.skip_current_dir();
                }
                continue;
            }
            let key = (md.dev(), md.ino());
            if is_dir {
                let fresh = self
                    .dirs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key);
                if !fresh {
                    it.skip_current_dir();
                    continue;
                }
            } else if md.nlink() > 1 {
                let fresh = self
                    .links
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key);
                if !fresh {
                    continue;
                }
            }
            let u = Usage {
                bytes: md.blocks() * 512,
                apparent_bytes: if is_dir { 0 } else { md.size() },
                entries: 1,
                newest: Some(
                    md.mtime()
                        .saturating_mul(1_000_000_000)
                        .saturating_add(md.mtime_nsec()),
                ),
            };
            all.add(&u);
            if part(e.path()) {
                sub.add(&u);
            }
        }
        (all, sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn hard_links_count_once_and_apparent_skips_dirs() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("a"), vec![b'x'; 10_000]).unwrap();
        fs::hard_link(d.join("a"), d.join("b")).unwrap();
        fs::write(d.join("c"), b"12345").unwrap();
        let w = Walker::new(t.path()).unwrap();
        let (all, part) = w.measure(&d, &HashSet::new(), &|p| p.ends_with("c"));
        // 10 000 + 5 bytes of content: the link adds nothing; directories add no apparent bytes.
        assert_eq!(all.apparent_bytes, 10_005);
        assert_eq!(all.entries, 3); // d, one of a/b, c
        assert_eq!(part.apparent_bytes, 5);
        // A second walk of the same tree by the same walker finds the directory already seen.
        let (again, _) = w.measure(&d, &HashSet::new(), &|_| false);
        assert_eq!(again.entries, 0);
    }

    #[test]
    fn pruned_dirs_are_not_entered() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("keep")).unwrap();
        fs::create_dir_all(t.path().join("skip")).unwrap();
        fs::write(t.path().join("keep/f"), b"abc").unwrap();
        fs::write(t.path().join("skip/g"), vec![0u8; 100]).unwrap();
        let w = Walker::new(t.path()).unwrap();
        let prune: HashSet<PathBuf> = [t.path().join("skip")].into();
        let (all, _) = w.measure(t.path(), &prune, &|_| false);
        assert_eq!(all.apparent_bytes, 3);
    }
}
