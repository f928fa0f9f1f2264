//! `dredge df` as a library call: [`run`] reads the data root (the engine's, or the one given), audits
//! it, re-checks orphans when a daemon runs on it, keeps the layer cache, and says whether any figure
//! is missing. The binary parses, calls, prints; `dredge prune` plans with the same call.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audit::{self, Audit, AuditOptions};
use crate::model::containerd::CtrdRootProof;
use crate::model::dataroot::{DaemonEvidence, DaemonFact, DataRootProof, Driver, ProofHow};
use crate::model::engine::EngineFacts;
use crate::model::held::{FsGap, HeldFile, HeldScan};
use crate::source::containerd;
use crate::source::dataroot::{self, DataRootError};
use crate::source::engine::{self, EngineError};
use crate::source::held;
use crate::source::syscontainerd;

/// What to account for, and how.
#[derive(Default)]
pub struct DfOptions<'a> {
    /// Offline: this data root, read without asking an engine. Live (None): the engine's.
    pub data_root: Option<PathBuf>,
    /// Offline, with `data_root`: the root of the system containerd that engine used (the containerd
    /// image store beside a system containerd, `/var/lib/containerd`), read as its image store. Live,
    /// it is found from the engine's dockerd and proven (`source::syscontainerd`).
    pub containerd_root: Option<PathBuf>,
    /// A file keeping layer sizes between runs.
    pub cache: Option<PathBuf>,
    /// Threads measuring directories (None: all cores).
    pub threads: Option<usize>,
    /// Also ask the engine for its own `/system/df` figures.
    pub engine_df: bool,
    /// Called as directories are measured: `(done, total)`.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// Also find each image's last use: its containers' start and finish times from their
    /// `config.v2.json` (live or offline), and `dredge prune`'s memory of last uses.
    pub last_use: bool,
}

/// Why `dredge df` could not report.
#[derive(Debug, thiserror::Error)]
pub enum DfError {
    /// Live mode, and no engine answers.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Offline mode, and the data root cannot be read at all.
    #[error(transparent)]
    DataRoot(#[from] DataRootError),
}

/// Whether the engine was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The engine was asked, and its data root scanned when readable.
    Live,
    /// `--data-root`: files only.
    Offline,
}

impl Mode {
    /// `live` or `offline`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Offline => "offline",
        }
    }
}

/// Everything `dredge df` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DfReport {
    /// `live` (engine asked, data root scanned when readable) or `offline` (`--data-root`).
    pub mode: Mode,
    /// The accounting of the data root.
    #[serde(flatten)]
    pub audit: Audit,
    /// What the engine said, in live mode.
    pub engine: Option<EngineFacts>,
    /// How the data root read was proven to be the engine's (or named by the user); None when no
    /// local directory could be proven to be it (then the figures are the engine's own). `dredge
    /// prune` requires it.
    pub data_root_proof: Option<DataRootProof>,
    /// The root of the system containerd beside the data root, read as the engine's image store, and
    /// why it is the engine's (or named by the user); None when there is none (dockerd's own
    /// containerd keeps its root under the data root) or it was not proven. The categories then add
    /// up to `du -sx` of the data root plus `du -sx` of this root.
    pub containerd_root_proof: Option<CtrdRootProof>,
    /// True when some figures are missing (data root unreadable, metadata corrupt, paths unreadable,
    /// unsupported store); never because of a warning alone.
    pub partial: bool,
    /// Deleted files still held open by a process, on the data root's filesystem or a container's
    /// overlay mount, largest first: not in the categories (no walk sees them).
    pub held: Vec<HeldFile>,
    /// Σ `held[].bytes`; None when `/proc` was not scanned.
    pub held_bytes: Option<u64>,
    /// Whether `/proc` was scanned for them, and why not.
    pub held_scan: HeldScan,
    /// When the data root is its own filesystem: its `statvfs` figures and the gap to the walk.
    pub filesystem: Option<FsGap>,
    /// True when the categories are the engine's own `/system/df` figures (the data root was not
    /// read here: no permission, another host, not proven to be the engine's). The JSON says it with
    /// `partial` and a warning.
    #[serde(skip)]
    pub engine_figures: bool,
}

/// Why the data root was not scanned.
enum Unread {
    /// It could not be read.
    DataRoot(DataRootError),
    /// Live: no local directory is proven to be the engine's (one line).
    NotProven(String),
}

/// Runs `dredge df`.
pub fn run(opts: DfOptions<'_>) -> Result<DfReport, DfError> {
    let mut aopts = AuditOptions::default();
    if let Some(t) = opts.threads {
        aopts.threads = t.max(1);
    }
    aopts.layer_cache = opts.cache.clone();
    // The cache is written once, below, for the scan that is kept.
    aopts.write_cache = false;
    let quiet = |_: usize, _: usize| {};
    let progress: &(dyn Fn(usize, usize) + Sync) = opts.progress.unwrap_or(&quiet);
    let scan = |root: &Path, beside: Option<&Path>, daemon: DaemonFact, aopts: AuditOptions| {
        dataroot::read_with(root, beside.is_some()).map(|dr| match (&dr.driver, beside) {
            // A system containerd keeps the store in its own root, beside the data root.
            (_, Some(c)) => {
                let store = containerd::read(c);
                audit::containerd::audit(&dr, &store, daemon, aopts, progress)
            }
            // dockerd's own containerd keeps the store under the data root.
            (Driver::ContainerdStore, None) => {
                let store = containerd::read(&root.join(containerd::DAEMON_ROOT));
                audit::containerd::audit(&dr, &store, daemon, aopts, progress)
            }
            _ => audit::audit(&dr, daemon, aopts, progress),
        })
    };
    // Offline, the containerd root named must be a directory.
    if let Some(c) = &opts.containerd_root {
        match std::fs::metadata(c) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(DataRootError::NotADirectory(c.clone()).into()),
            Err(source) => {
                return Err(DataRootError::Io {
                    path: c.clone(),
                    source,
                }
                .into());
            }
        }
    }
    // Live: the system containerd's root, or why it is not read (the engine uses the containerd
    // store and its dockerd names a containerd socket, but no containerd is proven to serve it).
    let mut ctrd: Option<CtrdRootProof> = opts
        .containerd_root
        .as_deref()
        .map(syscontainerd::named_root);
    let mut ctrd_unproven: Option<String> = None;
    // The root read, and why it is the right one; or, live, why no local directory is proven to be
    // the engine's (then its own figures are reported).
    let (mut engine, proof, early) = match &opts.data_root {
        Some(p) => (
            None,
            Ok(DataRootProof {
                path: p.clone(),
                how: ProofHow::Named,
                pid: None,
                engine_id: None,
            }),
            None,
        ),
        None => {
            // While the engine answers /info (tens of ms on a 20.10 daemon), the dockerd serving
            // DOCKER_HOST's socket is found from /proc, and its data root, guessed from its command
            // line (or the cache's, when a dockerd runs on it) and seen through its own root, is read
            // already. Only the proof below decides: a read of any other directory is thrown away,
            // and its cache is not written. No dockerd serving the socket, no guess: an engine that
            // is down is said at once.
            let host = std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
            let (facts, owner, early) = std::thread::scope(|s| {
                let asked = s.spawn(|| engine::facts(opts.engine_df));
                let owner = dataroot::socket_owner(&host);
                let guess = owner.as_ref().ok().and_then(|o| {
                    dataroot::guess_root_of(o).or_else(|| {
                        opts.cache
                            .as_deref()
                            .and_then(audit::cache::data_root_of)
                            .map(PathBuf::from)
                            .filter(|p| p.is_dir() && dataroot::daemon_on(p).running())
                    })
                });
                let early = match (&owner, guess) {
                    (Ok(o), Some(g)) => {
                        let a = scan(&g, None, dataroot::engine_daemon(o.pid), aopts.clone());
                        Some((g, a))
                    }
                    _ => None,
                };
                (asked.join(), owner, early)
            });
            let f = facts.unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            // The containerd store with a system containerd: dockerd names its socket.
            let sys_sock = match (&owner, f.containerd_store) {
                (Ok(o), true) => syscontainerd::socket_of_dockerd(o.pid).map(|s| (o.pid, s)),
                _ => None,
            };
            let proof = owner
                .and_then(|o| dataroot::prove_root(o.pid, f.root_dir.as_deref(), f.id.as_deref()));
            if let (Ok(_), Some((pid, sock))) = (&proof, &sys_sock) {
                match syscontainerd::prove(*pid, sock) {
                    Ok(c) => ctrd = Some(c),
                    Err(e) => ctrd_unproven = Some(e.to_string()),
                }
            }
            let early = match &proof {
                // The early read knew of no containerd root beside the data root.
                Ok(p) if sys_sock.is_none() => early.filter(|(g, a)| a.is_ok() && *g == p.path),
                _ => None,
            };
            (Some(f), proof, early.map(|(_, a)| a))
        }
    };
    let (root, daemon) = match &proof {
        // Offline, look for a daemon on the root (pid file, process, mounts).
        Ok(p) if engine.is_none() => (p.path.clone(), dataroot::daemon_on(&p.path)),
        // Live, the proof names the dockerd serving the engine.
        Ok(p) => (
            p.path.clone(),
            match p.pid {
                Some(pid) => dataroot::engine_daemon(pid),
                None => DaemonFact::Running {
                    pid: None,
                    started_ns: None,
                    evidence: DaemonEvidence::Engine,
                },
            },
        ),
        // Unproven: nothing local is read.
        Err(_) => (
            PathBuf::from(
                engine
                    .as_ref()
                    .and_then(|f| f.root_dir.clone())
                    .unwrap_or_default(),
            ),
            DaemonFact::NotFound,
        ),
    };
    let scanned = match (&proof, early) {
        (Err(e), _) => Err(Unread::NotProven(e.to_string())),
        (Ok(_), Some(Ok(a))) => Ok(a),
        (Ok(_), _) => scan(
            &root,
            ctrd.as_ref().map(|c| c.path.as_path()),
            daemon,
            aopts.clone(),
        )
        .map_err(Unread::DataRoot),
    };
    let scanned = scanned.map(|mut a| {
        if let (Some(p), Some(c)) = (&aopts.layer_cache, &a.fresh_cache)
            && let Err(e) = audit::cache::save(p, c)
        {
            a.warnings
                .push(format!("{}: cannot write the cache: {e}", p.display()));
        }
        a
    });
    // A daemon may be pulling, loading or building right now; confirm orphans against a fresh read of
    // the metadata a moment later (their contents must not have changed either).
    let scanned = scanned.map(|mut a| {
        if daemon.running() && !a.orphans.is_empty() {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if let Ok(fresh) = dataroot::read(&root) {
                audit::confirm_orphans(&mut a, &fresh, daemon);
            }
        }
        a
    });
    let engine_figures = scanned.is_err();
    let audit = match scanned {
        Ok(a) => a,
        Err(Unread::DataRoot(e)) if engine.is_none() => return Err(e.into()),
        Err(e) => {
            // The engine's own figures stand in; asked for now if they were not asked already.
            if let Some(f) = engine.as_mut().filter(|f| f.disk_usage.is_none())
                && let Ok(g) = engine::facts(true)
            {
                f.disk_usage = g.disk_usage;
                f.warnings.extend(g.warnings);
            }
            let why = match e {
                Unread::DataRoot(e) => format!("data root not readable here ({e})"),
                Unread::NotProven(why) => format!("data root not read: {why}"),
            };
            audit::from_engine(
                &root,
                engine.as_ref().and_then(|f| f.disk_usage.as_ref()),
                format!("{why}: figures are the engine's own; no logs, orphans or other"),
            )
        }
    };
    let mut report = DfReport {
        mode: if opts.data_root.is_some() {
            Mode::Offline
        } else {
            Mode::Live
        },
        partial: audit.missing_figures,
        containerd_root_proof: match &proof {
            Ok(_) if !engine_figures => ctrd,
            _ => None,
        },
        data_root_proof: proof.ok(),
        audit,
        engine,
        held: Vec::new(),
        held_bytes: None,
        held_scan: HeldScan::default(),
        filesystem: None,
        engine_figures,
    };
    match &report.data_root_proof {
        Some(_) => gather_held(&mut report, &root, daemon),
        // Without /proc neither the engine's dockerd nor any holder can be seen: say that, the cause.
        None if !Path::new("/proc/self/fd").is_dir() => {
            report.held_scan = HeldScan::not_scanned(
                "no /proc here: which processes hold deleted files cannot be seen (nor which dockerd \
                 serves the engine, so its data root is not read)",
            );
        }
        // Nothing local is the engine's: no process's files are looked for under a path of the
        // same name.
        None => {
            report.held_scan = HeldScan::not_scanned(
                "the data root is not proven to be the engine's: processes holding deleted files \
                 are not looked for",
            )
        }
    }
    if let Some(f) = &mut report.engine {
        // The containerd image store is read from its files when the data root is proven; its
        // records only live under the data root with dockerd's own containerd.
        if f.containerd_store
            && report.data_root_proof.is_some()
            && report.audit.driver != Driver::ContainerdStore
        {
            report.audit.warnings.push(match &ctrd_unproven {
                Some(why) => format!(
                    "the engine uses the containerd image store with a system containerd whose root \
                     is not read ({why}): images and build cache there are not counted"
                ),
                None => "the engine uses the containerd image store, but its data root has no \
                         containerd/daemon/ and its dockerd names no containerd socket: images and \
                         build cache are not counted"
                    .into(),
            });
            report.partial = true;
        }
        report.audit.warnings.append(&mut f.warnings.clone());
    }
    if opts.last_use && !report.engine_figures {
        // Containers' times from their config.v2.json (read with the data root, live or offline: no
        // inspect per container); prune's memory of last uses is per engine id (live: the engine's;
        // offline: the data root's engine-id file, Engine 23+).
        let id = match &report.engine {
            Some(f) => f.id.clone(),
            None => std::fs::read_to_string(root.join("engine-id"))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        };
        let state = match id {
            Some(id) => {
                let (state, warning) =
                    crate::prune::state::load(&crate::prune::default_state_dir(), &id);
                report.audit.warnings.extend(warning);
                state
            }
            None => Default::default(),
        };
        let times = std::mem::take(&mut report.audit.container_times);
        audit::last_used::apply(&mut report.audit.images, &times, &state);
    }
    if report.mode == Mode::Offline
        && let DaemonFact::Running { pid, evidence, .. } = daemon
    {
        // Not partial: every figure is there, but the scan raced a running daemon.
        let who = match pid {
            Some(pid) => format!("dockerd (pid {pid})"),
            None => format!("a dockerd (found by {evidence:?})"),
        };
        report.audit.warnings.push(format!(
            "{who} is running on {}: orphans were confirmed as in live mode, and unreferenced layers \
             it holds are not orphans; stop it for a final word",
            root.display()
        ));
    }
    Ok(report)
}

/// Deleted files still held open (live, or offline while a daemon runs on the root), and, when the
/// data root is its own filesystem, the gap between its used bytes and the walk.
fn gather_held(report: &mut DfReport, root: &Path, daemon: DaemonFact) {
    let scan = match (report.mode, daemon) {
        (Mode::Offline, DaemonFact::NotFound) => HeldScan::not_scanned(
            "offline and no daemon runs on the data root: processes holding deleted files are not \
             looked for",
        ),
        (_, d) => {
            let pid = match d {
                DaemonFact::Running { pid, .. } => pid,
                DaemonFact::NotFound => None,
            };
            let containers = &report.audit.containers;
            let name_of = |id: &str| {
                containers
                    .iter()
                    .find(|c| c.id == id)
                    .and_then(|c| c.name.clone())
            };
            held::scan(root, pid, &name_of)
        }
    };
    report.held_bytes = scan.bytes();
    report.held = scan.files.clone();
    // The walk's total counts a system containerd's root beside the data root too (another
    // filesystem, or a directory outside the data root's): no gap is computed then.
    if report.containerd_root_proof.is_none()
        && held::own_filesystem(root) == Some(true)
        && let Some(fs) = held::fs_facts(root)
    {
        let on_fs = scan.bytes().map(|b| b + scan.elsewhere_bytes);
        let gap = crate::model::held::explain_gap(
            fs,
            report.audit.total_bytes,
            on_fs,
            scan.state == crate::model::held::HeldState::Partial,
        );
        if let Some(w) = &gap.warning {
            report
                .audit
                .warnings
                .push(format!("{}: {w}", root.display()));
        }
        report.filesystem = Some(gap);
    }
    report.held_scan = scan;
}
