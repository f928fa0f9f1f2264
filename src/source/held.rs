//! Deleted files still held open, read from `/proc`: every descriptor of `/proc/*/fd` whose target is
//! ` (deleted)`, with a link count of 0, on the data root's filesystem or on a container's overlay mount
//! (an overlay mount whose `upperdir` lies under `<root>/overlay2`), is `stat`ed through the descriptor.
//! The attribution (process, container, fix) and the de-duplication by inode are
//! `model::held::assemble`; the filesystem's own figures (`statvfs`) for the gap are [`fs_facts`].

use std::collections::HashSet;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::model::held::{
    FdFact, FsFacts, HeldOn, HeldScan, HeldState, assemble, container_of_cgroup, under,
};

/// The ` (deleted)` suffix the kernel puts on the link of a descriptor whose file was unlinked.
const DELETED: &str = " (deleted)";

/// Scans `/proc` for deleted files held open on the data root `root` (its filesystem, or the overlay
/// mounts of its containers). `dockerd` is the daemon's pid when known; `name_of` gives container names.
/// Never guesses: processes whose descriptors cannot be read make the scan partial, and a missing
/// `/proc` makes it not scanned.
pub fn scan(
    root: &Path,
    dockerd: Option<u32>,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> HeldScan {
    let (root, root_dev) = match fs::canonicalize(root).and_then(|r| {
        let m = fs::metadata(&r)?;
        Ok((r, m.dev()))
    }) {
        Ok(x) => x,
        Err(e) => {
            return HeldScan::not_scanned(format!(
                "{}: cannot stat the data root ({e})",
                root.display()
            ));
        }
    };
    let own_fs = own_filesystem(&root).unwrap_or(false);
    let root_s = root.to_string_lossy().into_owned();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let overlays: HashSet<u64> = mountinfo
        .lines()
        .filter_map(|l| overlay_dev_under(l, &format!("{root_s}/overlay2")))
        .map(|(maj, min)| rustix::fs::makedev(maj, min))
        .collect();
    let hidden = mountinfo.lines().any(hides_pids);
    let procs = match fs::read_dir("/proc") {
        Ok(rd) if Path::new("/proc/self/fd").is_dir() => rd,
        _ => {
            return HeldScan::not_scanned(
                "no /proc here: which processes hold deleted files cannot be seen",
            );
        }
    };
    let mut facts = Vec::new();
    let mut unreadable = 0u64;
    let (mut elsewhere_files, mut elsewhere_bytes) = (0u64, 0u64);
    let mut seen_elsewhere: HashSet<(u64, u64)> = HashSet::new();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let fd_dir = p.path().join("fd");
        let fds = match fs::read_dir(&fd_dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                unreadable += 1;
                continue;
            }
            // Gone (exited), a kernel thread, a zombie: nothing held.
            Err(_) => continue,
        };
        let mut info: Option<(String, String)> = None;
        for fd in fds.flatten() {
            let Some(n) = fd.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            let Some(path) = target.strip_suffix(DELETED) else {
                continue;
            };
            // Through the descriptor: the file itself, not a path.
            let Ok(m) = fs::metadata(fd.path()) else {
                continue;
            };
            if m.nlink() != 0 || !m.file_type().is_file() {
                continue;
            }
            let on = if overlays.contains(&m.dev()) {
                HeldOn::ContainerOverlay
            } else if m.dev() == root_dev {
                HeldOn::DataRoot
            } else {
                continue;
            };
            let (comm, cgroup) = info
                .get_or_insert_with(|| {
                    let read = |f: &str| {
                        fs::read_to_string(format!("/proc/{pid}/{f}")).unwrap_or_default()
                    };
                    (read("comm").trim_end().to_string(), read("cgroup"))
                })
                .clone();
            // On a filesystem shared with the host, a file outside the data root held by no container
            // is not Docker's: counted, not listed.
            if on == HeldOn::DataRoot
                && !own_fs
                && !under(&root_s, path)
                && container_of_cgroup(&cgroup).is_none()
            {
                if seen_elsewhere.insert((m.dev(), m.ino())) {
                    elsewhere_files += 1;
                    elsewhere_bytes += m.blocks() * 512;
                }
                continue;
            }
            facts.push(FdFact {
                pid,
                fd: n,
                comm,
                cgroup,
                path: path.to_string(),
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                allocated: m.blocks() * 512,
                on,
            });
        }
    }
    let files = assemble(facts, &root_s, dockerd, name_of);
    let (state, reason) = if unreadable > 0 {
        (
            HeldState::Partial,
            Some(format!(
                "the descriptors of {unreadable} processes could not be read (no permission; run as \
                 root): deleted files they hold are not counted"
            )),
        )
    } else if hidden {
        (
            HeldState::Partial,
            Some(
                "/proc is mounted with hidepid: other users' processes are not visible, deleted \
                 files they hold are not counted"
                    .to_string(),
            ),
        )
    } else {
        (HeldState::Complete, None)
    };
    HeldScan {
        state,
        reason,
        unreadable_processes: unreadable,
        elsewhere_files,
        elsewhere_bytes,
        files,
    }
}

/// True when `root` is its own filesystem: its `st_dev` differs from its parent's. None when either
/// cannot be stat'ed.
pub fn own_filesystem(root: &Path) -> Option<bool> {
    let root = fs::canonicalize(root).ok()?;
    let parent = root.parent()?;
    Some(fs::metadata(&root).ok()?.dev() != fs::metadata(parent).ok()?.dev())
}

/// The filesystem's figures (`statvfs`) of the filesystem holding `root`.
pub fn fs_facts(root: &Path) -> Option<FsFacts> {
    let s = rustix::fs::statvfs(root).ok()?;
    let b = s.f_frsize;
    Some(FsFacts {
        size: s.f_blocks * b,
        used: s.f_blocks.saturating_sub(s.f_bfree) * b,
        available: s.f_bavail * b,
        reserved: s.f_bfree.saturating_sub(s.f_bavail) * b,
        block: b,
    })
}

/// `(major, minor)` of an overlay mount of `/proc/self/mountinfo` whose `upperdir` lies under `dir`.
fn overlay_dev_under(line: &str, dir: &str) -> Option<(u32, u32)> {
    let (left, right) = line.split_once(" - ")?;
    let mut r = right.split(' ');
    if r.next()? != "overlay" {
        return None;
    }
    let opts = r.nth(1)?;
    let upper = opts.split(',').find_map(|o| o.strip_prefix("upperdir="))?;
    if !under(dir, &unescape(upper)) {
        return None;
    }
    let (maj, min) = left.split(' ').nth(2)?.split_once(':')?;
    Some((maj.parse().ok()?, min.parse().ok()?))
}

/// A `/proc` mount with `hidepid` set (other than 0/off).
fn hides_pids(line: &str) -> bool {
    let Some((_, right)) = line.split_once(" - ") else {
        return false;
    };
    let mut r = right.split(' ');
    r.next() == Some("proc")
        && r.nth(1).is_some_and(|o| {
            o.split(',').any(|o| {
                o.strip_prefix("hidepid=")
                    .is_some_and(|v| !matches!(v, "0" | "off"))
            })
        })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_mounts_of_the_root_are_found() {
        let line = "51 45 0:40 / /var/lib/docker/overlay2/577c/merged rw,relatime shared:3 - overlay \
                    overlay rw,lowerdir=/var/lib/docker/overlay2/l/VTX:/var/lib/docker/overlay2/l/AB,\
                    upperdir=/var/lib/docker/overlay2/577c/diff,workdir=/var/lib/docker/overlay2/577c/work";
        assert_eq!(
            overlay_dev_under(line, "/var/lib/docker/overlay2"),
            Some((0, 40))
        );
        assert_eq!(overlay_dev_under(line, "/srv/docker/overlay2"), None);
        assert_eq!(overlay_dev_under(line, "/var/lib/docker/overlay"), None);
        let spaced = "60 45 0:52 / /a\\040b/overlay2/x/merged rw - overlay overlay \
                      rw,lowerdir=/l,upperdir=/a\\040b/overlay2/x/diff,workdir=/w";
        assert_eq!(overlay_dev_under(spaced, "/a b/overlay2"), Some((0, 52)));
        let ext4 = "29 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";
        assert_eq!(overlay_dev_under(ext4, "/"), None);
        assert_eq!(overlay_dev_under("garbage", "/"), None);
    }

    #[test]
    fn hidepid_is_noticed() {
        assert!(hides_pids(
            "22 1 0:5 / /proc rw,nosuid - proc proc rw,hidepid=2"
        ));
        assert!(hides_pids(
            "22 1 0:5 / /proc rw - proc proc rw,hidepid=invisible"
        ));
        assert!(!hides_pids("22 1 0:5 / /proc rw - proc proc rw"));
        assert!(!hides_pids("22 1 0:5 / /proc rw - proc proc rw,hidepid=0"));
        assert!(!hides_pids("29 1 8:1 / / rw - ext4 /dev/sda1 rw,hidepid=2"));
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("\\999"), "\\999");
    }
}
