//! Benchmark binary for benches/walk.sh (`harness = false`): dredge's hand-written walkers against the
//! crates that do the same job. Each run is one process, so that its peak memory is its own:
//!
//!     walk make ROOT              build the benchmark tree (deterministic recipe, see `make`)
//!     walk ours ROOT THREADS      dredge::audit::walk::Walker::measure_all on ROOT (what `dredge df` runs)
//!     walk jwalk ROOT THREADS     jwalk on a rayon pool with an inode filter, as dua-cli does
//!     walk layer-ours DIR         overlay.rs's former layer walk (std::fs::read_dir, sorted, recursive)
//!     walk layer-walkdir DIR      the same listing done by walkdir (sorted by name), as overlay.rs does
//!
//! Each prints one JSON line: the walker, the wall seconds of the walk alone, the CPU seconds of the
//! process (user + system, all threads), what it found (allocated
//! and apparent bytes and entries; for the layer walks a fingerprint of the ordered entry list), and
//! the peak resident memory of the process (VmHWM, KiB). Figures that differ between the two walkers of
//! a pair make the comparison void: benches/walk.sh checks them.
//!
//! The layer walk of overlay.rs is private to the crate. `layer_ours` below is a copy of the
//! hand-written traversal overlay.rs had until this benchmark (read_dir, sort by bytes, lstat by full
//! path, the opaque xattrs of each directory, the first name of each multiply-linked inode), building
//! the same entry list with dredge's own `Paths` and `Entry`; `layer_walkdir` is the same work driven
//! by walkdir, as overlay.rs now does it (the numbers said parity: see overlay.rs's module doc).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dredge::audit::walk::Walker;
use dredge::model::{Entry, EntryKind, PathId, Paths, ROOT};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes --bench; ignore flags.
    let args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let threads = |i: usize| args.get(i).and_then(|t| t.parse().ok()).unwrap_or(2usize);
    match args.as_slice() {
        ["make", root] => make(Path::new(root)).expect("building the tree"),
        ["ours", root, ..] => {
            let t0 = Instant::now();
            let r = ours(Path::new(root), threads(2));
            print_totals("ours", t0, r);
        }
        ["jwalk", root, ..] => {
            let t0 = Instant::now();
            let r = jwalk_walk(Path::new(root), threads(2));
            print_totals("jwalk", t0, r);
        }
        ["layer-ours", dir] => {
            let t0 = Instant::now();
            let r = layer_ours(Path::new(dir)).expect("layer walk");
            print_layer("layer-ours", t0, r);
        }
        ["layer-walkdir", dir] => {
            let t0 = Instant::now();
            let r = layer_walkdir(Path::new(dir)).expect("layer walk");
            print_layer("layer-walkdir", t0, r);
        }
        // `cargo bench` (which passes --bench) and `cargo test --benches` run it with no arguments:
        // nothing to do, benches/walk.sh drives it.
        [] => eprintln!("walk: run by benches/walk.sh (see its header)"),
        _ => {
            eprintln!(
                "usage: walk make ROOT | ours ROOT [THREADS] | jwalk ROOT [THREADS] | layer-ours DIR | layer-walkdir DIR"
            );
            std::process::exit(2);
        }
    }
}

/// Peak resident set of this process, KiB.
fn peak_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system, all threads) this process has used so far.
fn cpu_secs() -> f64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which ends at the last ')'): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks: 100 a second on Linux.
    f.iter().sum::<u64>() as f64 / 100.0
}

#[derive(Default)]
struct Totals {
    bytes: u64,
    apparent: u64,
    entries: u64,
    newest: i64,
    errors: u64,
}

fn print_totals(walker: &str, t0: Instant, r: Totals) {
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{{\"walker\":\"{walker}\",\"secs\":{secs:.6},\"cpu_secs\":{:.2},\"bytes\":{},\"apparent_bytes\":{},\"entries\":{},\"newest_ns\":{},\"errors\":{},\"peak_kib\":{}}}",
        cpu_secs(),
        r.bytes,
        r.apparent,
        r.entries,
        r.newest,
        r.errors,
        peak_kib()
    );
}

/// dredge's walker, as `dredge df` calls it (one tree here: the whole root, nothing pruned).
fn ours(root: &Path, threads: usize) -> Totals {
    let w = Walker::new(root).expect("root");
    let part = |_: &std::ffi::OsStr| false;
    let r = w.measure_all(
        &[(root.to_path_buf(), &part)],
        &HashSet::new(),
        threads,
        &|_, _| {},
    );
    let u = r[0].0;
    Totals {
        bytes: u.bytes,
        apparent: u.apparent_bytes,
        entries: u.entries,
        newest: u.newest.unwrap_or(0),
        errors: w.errors().1,
    }
}

/// dua-cli's counting of hard links: an inode with n links is counted at its first name and
/// forgotten after its n-th.
#[derive(Default)]
struct InodeFilter {
    inner: HashMap<(u64, u64), u64>,
}

impl InodeFilter {
    fn add(&mut self, m: &fs::Metadata) -> bool {
        let n = m.nlink();
        if n <= 1 {
            return true;
        }
        let key = (m.dev(), m.ino());
        match self.inner.get_mut(&key) {
            Some(1) => {
                self.inner.remove(&key);
                false
            }
            Some(c) => {
                *c -= 1;
                false
            }
            None => {
                self.inner.insert(key, n - 1);
                true
            }
        }
    }
}

type JWalk = jwalk::WalkDirGeneric<((), Option<Result<fs::Metadata, jwalk::Error>>)>;

/// jwalk as dua-cli drives it: entries' metadata read on the rayon threads in `process_read_dir`,
/// directories on another filesystem (or seen before: a bind mount) not entered, the totals summed on
/// the calling thread through an inode filter. Same semantics as `ours`.
fn jwalk_walk(root: &Path, threads: usize) -> Totals {
    let dev = fs::symlink_metadata(root).expect("root").dev();
    let seen_dirs: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let seen = seen_dirs.clone();
    let walk = JWalk::new(root)
        .follow_links(false)
        .skip_hidden(false)
        .sort(false)
        .parallelism(if threads <= 1 {
            jwalk::Parallelism::Serial
        } else {
            jwalk::Parallelism::RayonNewPool(threads)
        })
        .process_read_dir(move |_, _, (), children| {
            for c in children.iter_mut().flatten() {
                let md = c.metadata();
                if c.file_type.is_dir() {
                    let enter = match &md {
                        Ok(m) => {
                            m.dev() == dev
                                && seen
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .insert((m.dev(), m.ino()))
                        }
                        Err(_) => false,
                    };
                    if !enter {
                        c.read_children = None;
                    }
                }
                c.client_state = Some(md);
            }
        });
    let mut t = Totals::default();
    let mut links = InodeFilter::default();
    let mut counted_dirs: HashSet<(u64, u64)> = HashSet::new();
    for e in walk {
        let Ok(e) = e else {
            t.errors += 1;
            continue;
        };
        let md = match e.client_state {
            Some(Ok(m)) => m,
            Some(Err(_)) => {
                t.errors += 1;
                continue;
            }
            // The root is not passed through process_read_dir.
            None => match fs::symlink_metadata(e.path()) {
                Ok(m) => m,
                Err(_) => {
                    t.errors += 1;
                    continue;
                }
            },
        };
        if md.dev() != dev {
            continue;
        }
        let fresh = if md.is_dir() {
            counted_dirs.insert((md.dev(), md.ino()))
        } else {
            links.add(&md)
        };
        if !fresh {
            continue;
        }
        t.bytes += md.blocks() * 512;
        if !md.is_dir() {
            t.apparent += md.size();
        }
        t.entries += 1;
        t.newest = t
            .newest
            .max(md.mtime().saturating_mul(1_000_000_000) + md.mtime_nsec());
    }
    t
}

struct Layer {
    entries: usize,
    file_bytes: u64,
    links: usize,
    whiteouts: usize,
    opaque: usize,
    /// FNV-1a over (path, kind, size) in walk order: equal only for the same list in the same order.
    fingerprint: u64,
}

fn print_layer(walker: &str, t0: Instant, r: Layer) {
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{{\"walker\":\"{walker}\",\"secs\":{secs:.6},\"cpu_secs\":{:.2},\"entries\":{},\"file_bytes\":{},\"hardlinks\":{},\"whiteouts\":{},\"opaque\":{},\"fingerprint\":\"{:016x}\",\"peak_kib\":{}}}",
        cpu_secs(),
        r.entries,
        r.file_bytes,
        r.links,
        r.whiteouts,
        r.opaque,
        r.fingerprint,
        peak_kib()
    );
}

/// The entry list being built, as overlay.rs's `Walk` builds it.
struct Listing {
    out: Vec<Entry>,
    paths: Paths,
    first_name: HashMap<(u64, u64), PathId>,
    file_bytes: u64,
    links: usize,
    whiteouts: usize,
    opaque: usize,
    fingerprint: u64,
}

impl Listing {
    fn new() -> Self {
        Listing {
            out: Vec::new(),
            paths: Paths::new(),
            first_name: HashMap::new(),
            file_bytes: 0,
            links: 0,
            whiteouts: 0,
            opaque: 0,
            fingerprint: 0xcbf2_9ce4_8422_2325,
        }
    }

    fn push(&mut self, path: PathId, kind: EntryKind, size: u64, rel: &[u8]) {
        let tag: u8 = match kind {
            EntryKind::File => {
                self.file_bytes += size;
                1
            }
            EntryKind::Dir => 2,
            EntryKind::Symlink => 3,
            EntryKind::Hardlink { .. } => {
                self.links += 1;
                4
            }
            EntryKind::Special => 5,
            EntryKind::Whiteout => {
                self.whiteouts += 1;
                6
            }
            EntryKind::Opaque => {
                self.opaque += 1;
                7
            }
        };
        for &b in rel.iter().chain([tag].iter()).chain(&size.to_le_bytes()) {
            self.fingerprint = (self.fingerprint ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let data_offset = self.out.len() as u64;
        self.out.push(Entry::new(path, kind, size, data_offset));
    }

    /// One entry, given its lstat: the per-entry work of overlay.rs's walk (hashing left out).
    fn entry(&mut self, full: &Path, rel_bytes: &[u8], rel: PathId, meta: &fs::Metadata) -> bool {
        let ft = meta.file_type();
        if ft.is_dir() {
            self.push(rel, EntryKind::Dir, 0, rel_bytes);
            if is_opaque(full) {
                self.push(rel, EntryKind::Opaque, 0, rel_bytes);
            }
            return true;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(&target) = self.first_name.get(&key) {
                    self.push(rel, EntryKind::Hardlink { target }, 0, rel_bytes);
                    return false;
                }
                self.first_name.insert(key, rel);
            }
            self.push(rel, EntryKind::File, meta.len(), rel_bytes);
        } else if ft.is_symlink() {
            self.push(rel, EntryKind::Symlink, 0, rel_bytes);
        } else if ft.is_char_device() && meta.rdev() == 0 {
            self.push(rel, EntryKind::Whiteout, 0, rel_bytes);
        } else {
            self.push(rel, EntryKind::Special, 0, rel_bytes);
        }
        false
    }

    fn done(self) -> Layer {
        Layer {
            entries: self.out.len(),
            file_bytes: self.file_bytes,
            links: self.links,
            whiteouts: self.whiteouts,
            opaque: self.opaque,
            fingerprint: self.fingerprint,
        }
    }
}

fn is_opaque(dir: &Path) -> bool {
    let mut value = [0u8; 4];
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| {
            matches!(rustix::fs::lgetxattr(dir, *name, &mut value[..]), Ok(n) if value[..n] == *b"y")
        })
}

/// overlay.rs's traversal: names sorted, each directory followed at once by its contents.
fn layer_ours(root: &Path) -> io::Result<Layer> {
    fn walk(l: &mut Listing, root: &Path, d: &Path, dir: PathId) -> io::Result<()> {
        let mut names: Vec<_> = fs::read_dir(d)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let full = d.join(&name);
            let meta = fs::symlink_metadata(&full)?;
            let rel = l.paths.child(dir, name.as_bytes());
            let rel_path = full.strip_prefix(root).unwrap_or(&full).to_path_buf();
            if l.entry(&full, rel_path.as_os_str().as_bytes(), rel, &meta) {
                walk(l, root, &full, rel)?;
            }
        }
        Ok(())
    }
    let mut l = Listing::new();
    walk(&mut l, root, root, ROOT)?;
    Ok(l.done())
}

/// The same listing by walkdir: sorted by name (bytes), parents before children, links not followed.
fn layer_walkdir(root: &Path) -> io::Result<Layer> {
    let mut l = Listing::new();
    // The path id of the directory at each depth (depth 0: the layer's root).
    let mut parents: Vec<PathId> = vec![ROOT];
    for e in walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()))
    {
        let e = e.map_err(io::Error::from)?;
        let meta = e.metadata().map_err(io::Error::from)?;
        parents.truncate(e.depth());
        let rel = l
            .paths
            .child(parents[e.depth() - 1], e.file_name().as_bytes());
        let full = e.path();
        let rel_path: PathBuf = full.strip_prefix(root).unwrap_or(full).to_path_buf();
        if l.entry(full, rel_path.as_os_str().as_bytes(), rel, &meta) {
            parents.push(rel);
        }
    }
    Ok(l.done())
}

/// The benchmark tree, a data-root-like population of about 306 000 entries and 1.2 GB allocated:
/// - `big/b00..b19/`: 20 directories of 10 000 files each, 0 to 4 096 bytes (package-manager layers);
/// - `small/s000..s199/t00..t99/`: 20 000 directories of 4 files each, 0 to 8 KiB (many small dirs);
/// - `links/`: 5 000 hard links to files under `big/` (counted once); `sym/`: 1 000 symlinks;
/// - `wh/`: 100 whiteouts (character devices 0/0) and 10 directories marked opaque (xattr), for the
///   layer walk.
fn make(root: &Path) -> io::Result<()> {
    fs::create_dir_all(root)?;
    std::thread::scope(|s| -> io::Result<()> {
        let mut handles = Vec::new();
        for half in 0..2usize {
            handles.push(s.spawn(move || -> io::Result<()> {
                for b in (0..20usize).filter(|b| b % 2 == half) {
                    let d = root.join(format!("big/b{b:02}"));
                    fs::create_dir_all(&d)?;
                    for f in 0..10_000usize {
                        fs::write(
                            d.join(format!("f{f:05}")),
                            vec![b'b'; (b * 37 + f * 13) % 4097],
                        )?;
                    }
                }
                for s_ in (0..200usize).filter(|s_| s_ % 2 == half) {
                    for t in 0..100usize {
                        let d = root.join(format!("small/s{s_:03}/t{t:02}"));
                        fs::create_dir_all(&d)?;
                        for f in 0..4usize {
                            let n = (s_ * 131 + t * 17 + f * 1031) % 8193;
                            fs::write(d.join(format!("g{f}")), vec![b's'; n])?;
                        }
                    }
                }
                Ok(())
            }));
        }
        for h in handles {
            h.join().expect("builder thread")?;
        }
        Ok(())
    })?;
    let links = root.join("links");
    fs::create_dir_all(&links)?;
    for i in 0..5_000usize {
        let target = root.join(format!("big/b{:02}/f{:05}", i % 20, (i * 7) % 10_000));
        fs::hard_link(target, links.join(format!("l{i:04}")))?;
    }
    let sym = root.join("sym");
    fs::create_dir_all(&sym)?;
    for i in 0..1_000usize {
        std::os::unix::fs::symlink(format!("../big/b00/f{i:05}"), sym.join(format!("s{i:03}")))?;
    }
    let wh = root.join("wh");
    fs::create_dir_all(&wh)?;
    for i in 0..100usize {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            wh.join(format!("w{i:03}")),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0),
            0,
        )?;
    }
    for i in 0..10usize {
        let d = wh.join(format!("o{i}"));
        fs::create_dir_all(&d)?;
        rustix::fs::setxattr(
            &d,
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )?;
    }
    Ok(())
}
