//! Paths as another process sees them: resolved inside its root directory (`/proc/<pid>/root`).
//!
//! A plain `/proc/<pid>/root/var/run/docker.sock` is not that: the magic link `/proc/<pid>/root`
//! leads into the process's root, but an absolute symbolic link met further on (`/var/run -> /run` on
//! every Debian) is resolved against the *reader's* root. From inside a chroot, the host dockerd's
//! `/var/run/docker.sock` read that way is the chroot's own `/run/docker.sock`, another engine's
//! socket. Here every absolute link is resolved against the process's root, as that process would
//! (`openat2(RESOLVE_IN_ROOT)`; on kernels without it, a walk of the components that re-roots each
//! absolute link target and keeps `..` from climbing above the root).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{CWD, FileType, Mode, OFlags, ResolveFlags};

/// Cleared once `openat2` is found missing (kernels before 5.6, or filtered by seccomp).
static HAVE_OPENAT2: AtomicBool = AtomicBool::new(true);

/// A file's identity: device and inode.
pub type DevIno = (u64, u64);

/// What `path` (absolute, as process `pid` names it) is, seen inside that process's root: its device
/// and inode, and whether it is a directory. The last component is followed when it is a link.
pub fn stat_in(pid: u32, path: &Path) -> io::Result<(DevIno, bool)> {
    id_of(&open_in_pid(pid, path)?)
}

/// [`stat_in`] for any directory taken as the root (`/proc/<pid>/root`, or a test's directory).
pub fn stat_in_root(root: &Path, path: &Path) -> io::Result<(DevIno, bool)> {
    id_of(&open_under(root, path)?)
}

/// An `O_PATH` descriptor of `path` resolved inside the directory `root` taken as the root.
fn open_under(root: &Path, path: &Path) -> io::Result<OwnedFd> {
    let root = rustix::fs::openat(
        CWD,
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    open_in(root.as_fd(), path)
}

/// [`open_under`] process `pid`'s root.
fn open_in_pid(pid: u32, path: &Path) -> io::Result<OwnedFd> {
    open_under(Path::new(&format!("/proc/{pid}/root")), path)
}

/// Reads the regular file `path` as process `pid` names it, inside its root, up to `limit` bytes.
pub fn read_in(pid: u32, path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let at = open_in_pid(pid, path)?;
    let st = rustix::fs::fstat(&at)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // Reopened for reading through the O_PATH descriptor's own magic link (no path is walked again).
    let f = std::fs::File::open(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&at)
    ))?;
    let mut out = Vec::new();
    f.take(limit).read_to_end(&mut out)?;
    Ok(out)
}

/// Where `path`, as process `pid` names it inside its root, is seen from here (the link of its
/// `O_PATH` descriptor in `/proc/self/fd`), and its device and inode: to reach a socket of that
/// process (a chrooted daemon's `/var/run/…` is `<chroot>/run/…` here).
pub fn seen_from_here(pid: u32, path: &Path) -> io::Result<(std::path::PathBuf, DevIno)> {
    let at = open_in_pid(pid, path)?;
    let (id, _) = id_of(&at)?;
    let here = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&at)
    ))?;
    Ok((here, id))
}

fn id_of(fd: &OwnedFd) -> io::Result<(DevIno, bool)> {
    let st = rustix::fs::fstat(fd)?;
    Ok((
        (st.st_dev, st.st_ino),
        FileType::from_raw_mode(st.st_mode) == FileType::Directory,
    ))
}

/// Opens (`O_PATH`) `path` below `root`, with `root` as `/` for every link on the way.
fn open_in(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    if HAVE_OPENAT2.load(Ordering::Relaxed) {
        let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        match rustix::fs::openat2(
            root,
            rel,
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            how,
        ) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                HAVE_OPENAT2.store(false, Ordering::Relaxed)
            }
            Err(e) => return Err(e.into()),
        }
    }
    walk_in(root, rel)
}

/// Symbolic links followed at most, as the kernel's own limit (`MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Without `openat2`: one component at a time (`O_PATH | O_NOFOLLOW`); a link's target is spliced in
/// front of what is left, from `root` when it is absolute; `..` never climbs above `root`.
fn walk_in(root: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let mut todo: VecDeque<OsString> = VecDeque::new();
    push_front(&mut todo, rel);
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            dirs.pop();
            continue;
        }
        let dir = dirs.last().map_or(root, |d| d.as_fd());
        let fd = rustix::fs::openat(
            dir,
            c.as_os_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            dirs.push(fd);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(rustix::io::Errno::LOOP.into());
        }
        let target = rustix::fs::readlinkat(dir, c.as_os_str(), Vec::new())?;
        let target = Path::new(std::ffi::OsStr::from_bytes(target.to_bytes()));
        if target.is_absolute() {
            dirs.clear();
        }
        push_front(&mut todo, target);
    }
    match dirs.pop() {
        Some(fd) => Ok(fd),
        None => rustix::fs::openat(root, ".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(Into::into),
    }
}

/// Puts the components of `p` (names and `..`; `/` and `.` dropped) in front of `todo`, in order.
fn push_front(todo: &mut VecDeque<OsString>, p: &Path) {
    let parts: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from_vec(b"..".to_vec())),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    for part in parts.into_iter().rev() {
        todo.push_front(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    fn id(p: &Path) -> DevIno {
        let m = std::fs::metadata(p).unwrap();
        (m.dev(), m.ino())
    }

    /// A root laid out like Debian's (`var/run -> /run`), and the same names outside it, where a
    /// reader whose own root is `/` would land by following the absolute link plainly.
    fn layout() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path().join("root");
        for d in ["root/run", "root/var/lib/docker", "root/etc", "run"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::fs::write(r.join("run/docker.sock"), "inside").unwrap();
        symlink("/run", r.join("var/run")).unwrap();
        // Relative links, `..` past the root, a link to a link.
        symlink("../../../../../../etc", r.join("var/lib/up")).unwrap();
        symlink("var/run", r.join("vr")).unwrap();
        symlink("/vr/docker.sock", r.join("sock")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        t
    }

    fn both(root: &Path, p: &str) -> Vec<io::Result<(DevIno, bool)>> {
        let fd = rustix::fs::openat(
            CWD,
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        vec![
            stat_in_root(root, Path::new(p)),
            walk_in(fd.as_fd(), Path::new(p.trim_start_matches('/'))).and_then(|f| id_of(&f)),
        ]
    }

    #[test]
    fn absolute_links_resolve_inside_the_root_not_the_readers() {
        let t = layout();
        let r = t.path().join("root");
        let inside = id(&r.join("run/docker.sock"));
        for got in both(&r, "/var/run/docker.sock") {
            assert_eq!(got.unwrap(), (inside, false));
        }
        for got in both(&r, "/sock") {
            assert_eq!(got.unwrap(), (inside, false));
        }
        // `..` stops at the root: /var/lib/up is the root's /etc.
        for got in both(&r, "/var/lib/up") {
            assert_eq!(got.unwrap(), (id(&r.join("etc")), true));
        }
        for got in both(&r, "/") {
            assert_eq!(got.unwrap(), (id(&r), true));
        }
        for got in both(&r, "/var/lib/docker") {
            assert_eq!(got.unwrap(), (id(&r.join("var/lib/docker")), true));
        }
        for got in both(&r, "/var/lib/docker/nothing") {
            assert_eq!(got.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
        for got in both(&r, "/loop1/x") {
            assert_eq!(got.unwrap_err().raw_os_error(), Some(libc_eloop()));
        }
    }

    fn libc_eloop() -> i32 {
        rustix::io::Errno::LOOP.raw_os_error()
    }

    #[test]
    fn a_process_root_is_followed_through_proc() {
        // This process's own root: the same directory as `/`.
        let me = std::process::id();
        assert_eq!(
            stat_in(me, Path::new("/")).unwrap(),
            (id(Path::new("/")), true)
        );
        let t = layout();
        let f = t.path().join("root/etc/f");
        std::fs::write(&f, "hello").unwrap();
        assert_eq!(read_in(me, &f, 3).unwrap(), b"hel");
        assert!(read_in(me, &t.path().join("root/etc"), 3).is_err());
    }
}
