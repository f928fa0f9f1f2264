//! The one way dredge reads a Docker data root's metadata: every file and directory is opened relative
//! to the data root's descriptor, never following a symbolic link on the way or at the end
//! (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`; on kernels without it, a walk of the components
//! with `O_NOFOLLOW`), opened with `O_NONBLOCK | O_NOCTTY` (a FIFO cannot block), checked with `fstat`
//! (a regular file, or a directory to list, and nothing else), and read only up to a bound per kind of
//! file. Two system calls per file beyond the read: `openat2` and `fstat`. A data root
//! is input: a symlink, a FIFO, a device, a directory or an oversized file where metadata should be is
//! named in a one-line [`FileError`], and the caller treats the object it describes as unknown.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, ResolveFlags, Stat};

/// How many bytes a metadata file of each kind may hold.
pub mod limit {
    /// `cache-id`, `mount-id`, `init-id`, `parent`, `diff`, `size`: one id or number.
    pub const ID: u64 = 4 << 10;
    /// `config.v2.json`, `hostconfig.json`.
    pub const CONTAINER_CONFIG: u64 = 8 << 20;
    /// `repositories.json` and image configs.
    pub const IMAGE_METADATA: u64 = 64 << 20;
    /// `buildkit/*.db`, read by streaming for names.
    pub const BUILDKIT_DB: u64 = 4 << 30;
}

/// What a path in the data root is, without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

impl Kind {
    fn of(t: FileType) -> Kind {
        match t {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Special,
        }
    }
}

fn describe(t: FileType) -> &'static str {
    match t {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link (not followed)",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of unknown type",
    }
}

/// Why a metadata path could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileErrorKind {
    /// The path or one of its parents is a symbolic link.
    #[error("a symbolic link, there or on the way (links are not followed in a data root)")]
    Symlink,
    /// Not the kind of object expected (a FIFO where a file should be…).
    #[error("{found}, not {wanted}")]
    WrongType {
        /// What is there.
        found: &'static str,
        /// What was expected.
        wanted: &'static str,
    },
    /// Larger than files of its kind are.
    #[error("{size} bytes, more than the {limit} such a file may hold")]
    TooBig {
        /// The file's size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// A name that would leave the data root.
    #[error("a path leaving the data root")]
    Outside,
    /// The object changed between the check and the open.
    #[error("changed while being opened")]
    Raced,
    /// Any other error.
    #[error("{0}")]
    Io(io::Error),
}

/// A metadata path that could not be read, and why; its `Display` is one line.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct FileError {
    /// The full path.
    pub path: PathBuf,
    /// Why.
    pub kind: FileErrorKind,
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name (UTF-8 names only; others are skipped, and so left to "other").
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// An open data root.
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Cleared once `openat2` is found missing (kernels before 5.6, or filtered by seccomp).
static HAVE_OPENAT2: AtomicBool = AtomicBool::new(true);

impl RootDir {
    /// Opens the data root itself (the path given may go through links: it is the user's choice).
    pub fn open(path: &Path) -> io::Result<RootDir> {
        let fd = rustix::fs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The data root's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The full path of `rel`, for messages and for the walker.
    pub fn join(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.path.clone()
        } else {
            self.path.join(rel)
        }
    }

    fn err(&self, rel: &str, kind: FileErrorKind) -> FileError {
        FileError {
            path: self.join(rel),
            kind,
        }
    }

    fn io_err(&self, rel: &str, e: rustix::io::Errno) -> FileError {
        let kind = match e {
            rustix::io::Errno::LOOP => FileErrorKind::Symlink,
            rustix::io::Errno::XDEV => FileErrorKind::Outside,
            e => FileErrorKind::Io(e.into()),
        };
        self.err(rel, kind)
    }

    /// Opens `rel` (components separated by `/`) with `flags`, never following a link; `Ok(None)`
    /// when it does not exist.
    fn open_at(&self, rel: &str, flags: OFlags) -> Result<Option<OwnedFd>, FileError> {
        let parts: Vec<&str> = rel.split('/').collect();
        if rel.is_empty() {
            return rustix::fs::openat(&self.fd, ".", flags, Mode::empty())
                .map(Some)
                .map_err(|e| self.io_err(rel, e));
        }
        if parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
        {
            return Err(self.err(rel, FileErrorKind::Outside));
        }
        // openat2 refuses O_PATH with any flag but O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC
        } else {
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        if HAVE_OPENAT2.load(Ordering::Relaxed) {
            let how =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(Some(fd)),
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                    HAVE_OPENAT2.store(false, Ordering::Relaxed)
                }
                Err(e) => return Err(self.io_err(rel, e)),
            }
        }
        // Without openat2: one component at a time, each directory opened with O_NOFOLLOW.
        let mut cur: Option<OwnedFd> = None;
        for (i, p) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let f = if last {
                flags
            } else {
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
            };
            let dir = cur.as_ref().map_or(self.fd.as_fd(), |d| d.as_fd());
            match rustix::fs::openat(dir, *p, f, Mode::empty()) {
                Ok(fd) => cur = Some(fd),
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                Err(rustix::io::Errno::NOTDIR) if !last => {
                    // A symlink (or a file) where a directory should be.
                    return Err(self.err(rel, FileErrorKind::Symlink));
                }
                Err(e) => return Err(self.io_err(rel, e)),
            }
        }
        Ok(cur)
    }

    /// What `rel` is, without following links; `Ok(None)` when absent.
    pub fn kind(&self, rel: &str) -> Result<Option<Kind>, FileError> {
        Ok(self
            .stat(rel)?
            .map(|st| Kind::of(FileType::from_raw_mode(st.st_mode))))
    }

    fn stat(&self, rel: &str) -> Result<Option<Stat>, FileError> {
        let Some(fd) = self.open_at(rel, OFlags::PATH)? else {
            return Ok(None);
        };
        rustix::fs::fstat(&fd)
            .map(Some)
            .map_err(|e| self.io_err(rel, e))
    }

    /// Why `rel` is not what was wanted (on the error path only: one more `O_PATH` open and `fstat`).
    fn wrong_type(&self, rel: &str, wanted: &'static str) -> FileError {
        match self.stat(rel) {
            Ok(Some(st)) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                self.err(rel, FileErrorKind::Symlink)
            }
            Ok(Some(st)) => self.err(
                rel,
                FileErrorKind::WrongType {
                    found: describe(FileType::from_raw_mode(st.st_mode)),
                    wanted,
                },
            ),
            Ok(None) => self.err(rel, FileErrorKind::Raced),
            Err(e) => e,
        }
    }

    /// Opens a regular file of at most `limit` bytes for reading (`O_NONBLOCK`: a FIFO cannot block;
    /// `O_NOCTTY`; then `fstat`: anything but a regular file is refused); `Ok(None)` when absent.
    pub fn open_file(&self, rel: &str, limit: u64) -> Result<Option<(File, u64)>, FileError> {
        let fd = match self.open_at(rel, OFlags::RDONLY | OFlags::NONBLOCK) {
            Ok(Some(fd)) => fd,
            Ok(None) => return Ok(None),
            // A socket cannot be opened (ENXIO): say what it is.
            Err(FileError {
                kind: FileErrorKind::Io(e),
                ..
            }) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => {
                return Err(self.wrong_type(rel, "a regular file"));
            }
            Err(e) => return Err(e),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| self.io_err(rel, e))?;
        let t = FileType::from_raw_mode(st.st_mode);
        if t != FileType::RegularFile {
            return Err(self.err(
                rel,
                FileErrorKind::WrongType {
                    found: describe(t),
                    wanted: "a regular file",
                },
            ));
        }
        let size = st.st_size.max(0) as u64;
        if size > limit {
            return Err(self.err(rel, FileErrorKind::TooBig { size, limit }));
        }
        Ok(Some((File::from(fd), limit)))
    }

    /// Opens an existing file of the data root write-only (`dredge prune --truncate-logs`), never
    /// following a link and never leaving the data root, `O_NONBLOCK | O_NOCTTY` (a FIFO cannot block
    /// nor a terminal become ours); `Ok(None)` when absent. The caller checks what it opened with
    /// `fstat` before writing.
    pub fn open_write(&self, rel: &str) -> Result<Option<File>, FileError> {
        Ok(self
            .open_at(rel, OFlags::WRONLY | OFlags::NONBLOCK)?
            .map(File::from))
    }

    /// Reads a whole regular file of at most `limit` bytes; `Ok(None)` when absent.
    pub fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, FileError> {
        let Some((f, limit)) = self.open_file(rel, limit)? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(rel, FileErrorKind::Io(e)))?;
        if buf.len() as u64 > limit {
            return Err(self.err(
                rel,
                FileErrorKind::TooBig {
                    size: buf.len() as u64,
                    limit,
                },
            ));
        }
        Ok(Some(buf))
    }

    /// Lists a directory (entries sorted by name, UTF-8 names only); `Ok(None)` when absent. A symlink
    /// or anything else where the directory should be is an error.
    pub fn list(&self, rel: &str) -> Result<Option<Vec<Entry>>, FileError> {
        let fd = match self.open_at(rel, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(Some(fd)) => fd,
            Ok(None) => return Ok(None),
            Err(FileError {
                kind: FileErrorKind::Io(e),
                ..
            }) if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                return Err(self.wrong_type(rel, "a directory"));
            }
            Err(e) => return Err(e),
        };
        let dirfd = fd
            .try_clone()
            .map_err(|e| self.err(rel, FileErrorKind::Io(e)))?;
        let mut dir = Dir::new(fd).map_err(|e| self.io_err(rel, e))?;
        let mut out = Vec::new();
        while let Some(e) = dir.read() {
            let e = e.map_err(|e| self.io_err(rel, e))?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            let mut t = e.file_type();
            if t == FileType::Unknown {
                t = rustix::fs::statat(&dirfd, name, AtFlags::SYMLINK_NOFOLLOW)
                    .map_or(FileType::Unknown, |s| FileType::from_raw_mode(s.st_mode));
            }
            out.push(Entry {
                name: name.to_string(),
                kind: Kind::of(t),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(out))
    }

    /// Reads a small text file (an id, a number), trimmed; `Ok(None)` when absent.
    pub fn read_text(&self, rel: &str) -> Result<Option<String>, FileError> {
        let Some(b) = self.read(rel, limit::ID)? else {
            return Ok(None);
        };
        String::from_utf8(b)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|_| {
                self.err(
                    rel,
                    FileErrorKind::Io(io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
                )
            })
    }
}

/// True for a name that can stand for one directory entry under `overlay2/`: not empty, no `/`, not `.`,
/// `..` or `l` (the short-link directory), no NUL, no control character.
pub fn is_plain_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name != "l"
        && !name.contains('/')
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fifo(p: &Path) {
        rustix::fs::mknodat(CWD, p, FileType::Fifo, Mode::from_raw_mode(0o600), 0).unwrap();
    }

    #[test]
    fn files_symlinks_fifos_and_bounds() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::write(d.join("a/b/f"), b" id \n").unwrap();
        std::fs::write(d.join("big"), vec![b'x'; 100]).unwrap();
        fifo(&d.join("a/fifo"));
        symlink("/etc/passwd", d.join("a/link")).unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap();
        symlink(d.join("a"), d.join("linkdir")).unwrap();
        let r = RootDir::open(d).unwrap();
        assert_eq!(r.read_text("a/b/f").unwrap().as_deref(), Some("id"));
        assert!(r.read("a/none", 10).unwrap().is_none());
        assert!(matches!(
            r.read("big", 10).unwrap_err().kind,
            FileErrorKind::TooBig { size: 100, .. }
        ));
        assert!(matches!(
            r.read("a/fifo", 10).unwrap_err().kind,
            FileErrorKind::WrongType {
                found: "a FIFO",
                ..
            }
        ));
        assert!(matches!(
            r.read("a/link", 10).unwrap_err().kind,
            FileErrorKind::Symlink
        ));
        assert!(matches!(
            r.read("linkdir/b/f", 10).unwrap_err().kind,
            FileErrorKind::Symlink
        ));
        assert!(matches!(
            r.read("sock", 10).unwrap_err().kind,
            FileErrorKind::WrongType {
                found: "a socket",
                ..
            }
        ));
        assert!(matches!(
            r.read("a", 10).unwrap_err().kind,
            FileErrorKind::WrongType {
                found: "a directory",
                ..
            }
        ));
        assert!(matches!(
            r.list("big").unwrap_err().kind,
            FileErrorKind::WrongType {
                found: "a regular file",
                ..
            }
        ));
        assert!(matches!(
            r.read("a/../big", 1000).unwrap_err().kind,
            FileErrorKind::Outside
        ));
        assert!(matches!(
            r.list("linkdir").unwrap_err().kind,
            FileErrorKind::Symlink
        ));
        let names: Vec<(String, Kind)> = r
            .list("a")
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("b".to_string(), Kind::Dir),
                ("fifo".to_string(), Kind::Special),
                ("link".to_string(), Kind::Symlink)
            ]
        );
        // The fallback walk gives the same answers.
        HAVE_OPENAT2.store(false, Ordering::Relaxed);
        assert_eq!(r.read_text("a/b/f").unwrap().as_deref(), Some("id"));
        assert!(matches!(
            r.read("linkdir/b/f", 10).unwrap_err().kind,
            FileErrorKind::Symlink
        ));
        assert!(matches!(
            r.read("a/link", 10).unwrap_err().kind,
            FileErrorKind::Symlink
        ));
        assert!(matches!(
            r.read("a/fifo", 10).unwrap_err().kind,
            FileErrorKind::WrongType { .. }
        ));
        HAVE_OPENAT2.store(true, Ordering::Relaxed);
    }

    #[test]
    fn plain_components() {
        for bad in ["", ".", "..", "l", "a/b", "../..", "/", "a\nb"] {
            assert!(!is_plain_component(bad), "{bad:?}");
        }
        assert!(is_plain_component(&"a".repeat(64)));
        assert!(is_plain_component("abc-init"));
    }
}
