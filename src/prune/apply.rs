//! The run: gather facts, plan, and apply the plan one item at a time, each re-checked immediately
//! before it goes and journaled before and after. Also `--undo` and `--purge-quarantine`.

use crate::model::dataroot::{DaemonEvidence, DaemonFact, ProofHow};
use crate::source::dataroot;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::engine::{Engine, Need, Removal, now, now_ns};
use super::facts::{Facts, format_time};
use super::journal::{self, Action, Entry, Journal, Outcome as JOutcome};
use super::plan::{self, Item, Plan};
use super::recheck::{self, Verdict};
use super::{Kind, Mode, Options, Outcome, PruneError, SCHEMA_VERSION, lock, orphans, state};

/// One thing a run did.
#[derive(Debug, Clone, Serialize)]
pub struct DoneItem {
    /// What it is.
    pub kind: Kind,
    /// Its id (for a quarantined orphan, its original path).
    pub id: String,
    /// The plan's bytes for it (purge: allocated bytes deleted).
    pub bytes: u64,
    /// `deleted`, `quarantined`, `restored`, `purged`, `restarted` or `truncated`.
    pub action: &'static str,
    /// Image references untagged on the way; quarantine targets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    /// True when content was discarded (a truncated log): data loss.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub data_loss: bool,
    /// A truncated log: bytes of log content lost (its `st_size` just before the truncation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_bytes: Option<u64>,
}

/// One item a run left, and why.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedItem {
    /// What it is.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Why it was left.
    pub reason: String,
}

/// The `dredge.prune.result` document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunResult {
    /// The run id (`--undo RUN`).
    pub run_id: String,
    /// `apply`, `undo` or `purge`.
    pub what: String,
    /// The engine id (`offline` without one).
    pub engine_id: String,
    /// The data root.
    pub data_root: String,
    /// The run's journal.
    pub journal: String,
    /// What was done.
    pub deleted: Vec<DoneItem>,
    /// What was left, with the reason.
    pub skipped: Vec<SkippedItem>,
    /// Planned items already gone when their turn came (an earlier, interrupted run of the same plan).
    pub gone: Vec<SkippedItem>,
    /// The plan's bytes of what was deleted (and of layers shared only by deleted images).
    pub reclaimed_bytes: u64,
    /// Free space gained on the data root's filesystem, measured with statvfs before and after (None
    /// when the data root is not reachable from here). Other writers on the filesystem change it too.
    pub freed_bytes: Option<i64>,
    /// Where quarantined orphans are (undo with `dredge prune --undo RUN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
}

/// The containerd image store is changed only through containerd's API (its leases and ingest
/// leftovers, `--orphans` live: [`super::ctrd_orphans`]), never by removing files under its root:
/// offline, refused.
fn refuse_containerd_store(root: &Path) -> Result<(), PruneError> {
    let ctrd = root
        .join(crate::source::containerd::DAEMON_ROOT)
        .join(crate::source::containerd::CONTENT);
    if !root.join("image/overlay2/imagedb").is_dir() && ctrd.is_dir() {
        return Err(PruneError::Input(format!(
            "{}: the containerd image store is changed only through containerd's API, never by \
             removing its files: start the engine and run dredge prune without --data-root",
            root.display()
        )));
    }
    Ok(())
}

fn usage(s: &str) -> PruneError {
    PruneError::Usage(s.to_string())
}

/// A run's id: the time to the second, the pid, and the run's number within the process (reclaim
/// applies several plans in one process, often within one second, and each needs its own journal).
/// Ids of one process sort in the order they were made (`T-PID-000`, `T-PID-001`, …).
fn run_id() -> String {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let t = format_time(now()).replace(['-', ':'], "");
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{t}-{}-{n:03}", std::process::id())
}

/// Free bytes (for unprivileged users too, `f_bavail`) of the filesystem holding `p`.
fn free_bytes(p: &Path) -> Option<i64> {
    rustix::fs::statvfs(p)
        .ok()
        .map(|s| (s.f_bavail as i64).saturating_mul(s.f_frsize as i64))
}

pub(super) fn run(opts: &Options) -> Result<Outcome, PruneError> {
    let sel = &opts.selectors;
    match &opts.mode {
        Mode::Plan | Mode::Yes if !sel.any() => {
            return Err(usage(
                "nothing selected: name what to prune (--dangling-images, --unused-images, \
                 --stopped-containers, --volumes, --named-volumes, --orphans, --held, …); there is no default",
            ));
        }
        Mode::Apply(_) | Mode::Undo(_) | Mode::Purge { .. } if sel.any() => {
            return Err(usage(
                "selectors plan a new run; --apply, --undo and --purge-quarantine take none",
            ));
        }
        _ => {}
    }
    if sel.truncate_logs && !sel.held && sel.logs_over.is_none() {
        return Err(usage("--truncate-logs goes with --held (or --logs-over)"));
    }
    if opts.data_root.is_some()
        && matches!(opts.mode, Mode::Plan | Mode::Yes)
        && !sel.only_orphans()
    {
        return Err(usage(
            "--data-root works offline, daemon stopped, for --orphans only",
        ));
    }
    let mut out = Outcome::default();
    match &opts.mode {
        Mode::Plan => {
            // Nothing changes: no lock; interrupted runs are only reported.
            match journal::all(&opts.state_dir) {
                Ok(all) => {
                    for r in all.iter().filter(|r| !r.ended()) {
                        out.warnings.push(format!(
                            "run {} was interrupted ({}): the next run that applies anything settles it",
                            r.run(),
                            r.path.display()
                        ));
                    }
                }
                Err(e) => out.warnings.push(e.to_string()),
            }
            out.plan = Some(make_plan(opts, &mut out.warnings)?);
            write_plan_out(opts, out.plan.as_ref())?;
        }
        Mode::Yes => {
            let _lock = lock::take(&opts.state_dir)?;
            let plan = make_plan(opts, &mut out.warnings)?;
            write_plan_out(opts, Some(&plan))?;
            out.recovered = recover(opts, plan_root(&plan).as_deref())?;
            out.result = Some(apply(opts, &plan)?);
            out.plan = Some(plan);
        }
        Mode::Apply(path) => {
            let plan = read_plan(path)?;
            let _lock = lock::take(&opts.state_dir)?;
            out.recovered = recover(opts, plan_root(&plan).as_deref())?;
            out.result = Some(apply(opts, &plan)?);
        }
        Mode::Undo(run) => {
            let _lock = lock::take(&opts.state_dir)?;
            out.recovered = recover(opts, None)?;
            out.result = Some(undo(opts, run.as_deref())?);
        }
        Mode::Purge { older_than } => {
            let _lock = lock::take(&opts.state_dir)?;
            out.recovered = recover(opts, None)?;
            out.result = Some(purge(opts, *older_than)?);
        }
    }
    Ok(out)
}

fn plan_root(p: &Plan) -> Option<PathBuf> {
    Some(PathBuf::from(&p.data_root))
}

fn write_plan_out(opts: &Options, plan: Option<&Plan>) -> Result<(), PruneError> {
    let (Some(path), Some(plan)) = (&opts.plan_out, plan) else {
        return Ok(());
    };
    let mut buf = Vec::new();
    crate::report::json::write_versioned(&mut buf, "dredge.prune.plan", SCHEMA_VERSION, plan)
        .map_err(|e| PruneError::Input(e.to_string()))?;
    std::fs::write(path, buf)
        .map_err(|e| PruneError::Input(format!("cannot write {}: {e}", path.display())))
}

/// Reads a `dredge.prune.plan` document.
pub fn read_plan(path: &Path) -> Result<Plan, PruneError> {
    let name = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| PruneError::Input(format!("cannot read the plan {name}: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| PruneError::Input(format!("plan {name} is not JSON: {e}")))?;
    if v["schema"] != "dredge.prune.plan" {
        return Err(PruneError::Input(format!(
            "{name} is not a dredge.prune.plan document (schema {})",
            v["schema"]
        )));
    }
    if v["schema_version"] != SCHEMA_VERSION {
        return Err(PruneError::Input(format!(
            "plan {name} has schema_version {}, this dredge reads {SCHEMA_VERSION}",
            v["schema_version"]
        )));
    }
    serde_json::from_value(v).map_err(|e| PruneError::Input(format!("plan {name} is corrupt: {e}")))
}

/// Applies a plan made by the caller (`dredge reclaim`) exactly as `--apply FILE` applies a saved one:
/// takes the lock, settles interrupted runs, then re-checks and applies item by item, journaled.
pub fn apply_plan(opts: &Options, plan: &Plan) -> Result<Outcome, PruneError> {
    let _lock = lock::take(&opts.state_dir)?;
    let recovered = recover(opts, plan_root(plan).as_deref())?;
    let result = apply(opts, plan)?;
    Ok(Outcome {
        result: Some(result),
        recovered,
        ..Default::default()
    })
}

/// Gathers the facts (engine and data root) and plans.
fn make_plan(opts: &Options, warnings: &mut Vec<String>) -> Result<Plan, PruneError> {
    let sel = &opts.selectors;
    let globs = plan::keep_globs(&sel.keep).map_err(PruneError::Usage)?;
    if let Some(root) = &opts.data_root {
        let root = std::fs::canonicalize(root)
            .map_err(|e| PruneError::Input(format!("{}: {e}", root.display())))?;
        refuse_containerd_store(&root)?;
        if let Some(why) = orphans::daemon_on(&root, &orphans::mount_points()) {
            return Err(PruneError::Input(format!(
                "refusing to work offline: {why}; stop the engine first"
            )));
        }
        let (o, w) = orphans::gather(&root)?;
        warnings.extend(w);
        let facts = Facts {
            engine_id: "offline".into(),
            data_root: root.display().to_string(),
            now: now(),
            now_ns: now_ns(),
            orphans: o,
            ..Default::default()
        };
        return Ok(plan::plan(&facts, sel, &globs, "offline"));
    }
    let engine = Engine::connect()?;
    // One concurrent round of requests (the identity's `/info` among them); the engine sizes
    // volumes (`/system/df`) and containers' writable layers only for the selectors that count them.
    let (mut facts, id) = engine.gather(Need {
        df: sel.volumes
            || sel.named_volumes
            || sel.build_cache.is_some()
            || sel.build_cache_budget.is_some(),
        container_sizes: sel.stopped_containers.is_some(),
    })?;
    // The engine's DockerRootDir is read here only when proven to be that engine's own directory (the
    // dockerd serving DOCKER_HOST, seen through its /proc/PID/root, and its engine-id): a chrooted,
    // containerised or remote engine may name a path that is another engine's data here.
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    // Read through any proof (also a chrooted or containerised engine's root, seen through its
    // /proc/PID/root); orphans are moved and held files truncated only in a root that is the same
    // directory here.
    let (read_proof, root) = match crate::source::dataroot::prove_live_root(
        &host,
        Some(&facts.data_root),
        Some(&facts.engine_id),
    ) {
        Ok(p) if matches!(p.how, ProofHow::SameNamespace | ProofHow::SameInode) => {
            let path = p.path.clone();
            (Some(p), Some(path))
        }
        Ok(p) => {
            // The containerd store's leases and ingest leftovers go through containerd's API,
            // read through any proof: planned all the same.
            if !id.containerd_store {
                warnings.push(format!(
                    "the engine's data root is seen only through {} (another mount namespace): no \
                     orphans are planned",
                    p.path.display()
                ));
            }
            (Some(p), None)
        }
        Err(e) => {
            warnings.push(format!(
                "data root not read ({e}): image bytes are not counted and no orphans are planned"
            ));
            (None, None)
        }
    };
    // Chains and layer sizes count only images' bytes; on the containerd store, an image's parts,
    // and the leases that hold them, also decide which images stay.
    let images = sel.dangling_images || sel.unused_images.is_some();
    match (images, id.containerd_store, &read_proof) {
        (true, false, Some(p)) => warnings.extend(fill_from_dataroot(&mut facts, &p.path)),
        (true, true, Some(p)) => {
            let ctrd = crate::source::syscontainerd::store_root(p)
                .map_err(|e| PruneError::Input(format!("{e}: no image is planned")))?;
            fill_from_store(&mut facts, &ctrd, warnings)?
        }
        (true, true, None) => {
            return Err(PruneError::Input(
                "the engine uses the containerd image store and its data root is not proven to be \
                 readable here: the leases that hold images cannot be checked, so no image is \
                 planned"
                    .into(),
            ));
        }
        _ => {}
    }
    let (last, w) = state::load(&opts.state_dir, &facts.engine_id);
    warnings.extend(w);
    facts.last_used = last;
    // First seen now: remembered from this plan on, and what apply compares with.
    facts.last_used = state::updated(&facts);
    // The containerd store's orphans are its leases and ingest leftovers (below), not overlay2's.
    if let (true, false, Some(root)) = (sel.orphans, id.containerd_store, &root) {
        let (o, w) = orphans::gather(root)?;
        warnings.extend(w);
        facts.orphans = o;
        facts.now_ns = now_ns();
    }
    match (sel.held, &root) {
        (true, Some(root)) => gather_held(&engine, &mut facts, root, warnings),
        (true, None) => warnings.push(
            "--held: the data root is not reachable from here: deleted files still held open are \
             not looked for"
                .into(),
        ),
        _ => {}
    }
    let mut p = plan::plan(&facts, sel, &globs, "live");
    if sel.orphans && id.containerd_store {
        super::ctrd_orphans::add_to_plan(&mut p, &engine, sel.grace, warnings);
    }
    if let Err(e) = state::save(&opts.state_dir, &facts.engine_id, &facts.last_used) {
        warnings.push(format!(
            "cannot save the last uses in {}: {e}",
            opts.state_dir.display()
        ));
    }
    Ok(p)
}

/// `--held`: the deleted files still held open (as `dredge df` finds them), their containers as the
/// engine knows them now, and the start time of each holding process.
fn gather_held(engine: &Engine, facts: &mut Facts, root: &Path, warnings: &mut Vec<String>) {
    use crate::model::dataroot::DaemonFact;
    let pid = match crate::source::dataroot::daemon_on(root) {
        DaemonFact::Running { pid, .. } => pid,
        DaemonFact::NotFound => None,
    };
    let names: BTreeMap<&str, &str> = facts
        .containers
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    let scan = crate::source::held::scan(root, pid, &|id| names.get(id).map(|n| (*n).to_string()));
    if let Some(r) = &scan.reason {
        warnings.push(format!("--held: {r}"));
    }
    for f in &scan.files {
        if let Some(c) = &f.container
            && !facts.held_containers.contains_key(c)
        {
            match engine.held_container(c) {
                Ok(Some(hc)) => {
                    facts.held_containers.insert(c.clone(), hc);
                }
                Ok(None) => {}
                Err(e) => warnings.push(format!("--held: cannot inspect container {c}: {e}")),
            }
        }
        for pid in std::iter::once(f.pid).chain(f.holders.iter().map(|h| h.pid)) {
            if let Some(t) = read_proc_start(pid) {
                facts.proc_start.insert(pid, t);
            }
        }
    }
    facts.held = scan.files;
}

/// `/proc/PID/stat` field 22: when the process started (None: no such process).
fn read_proc_start(pid: u32) -> Option<u64> {
    recheck::proc_start(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// A held file as it is now, through `/proc/PID/fd/N` (`stat` follows the descriptor's link to the
/// file itself).
fn fd_now(r: &plan::HeldRef) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/{}/fd/{}", r.pid, r.fd);
    let m = std::fs::metadata(&path);
    let now = m.as_ref().ok().map(|m| recheck::FdNow {
        pid_start: read_proc_start(r.pid),
        dev: m.dev(),
        inode: m.ino(),
        nlink: m.nlink(),
    });
    let why = m.err().map(|e| e.to_string()).unwrap_or_default();
    recheck::held_file(r, now.as_ref(), &why)
}

/// Applies a `held` item: re-checks it against the container and `/proc` now, then restarts the
/// container or truncates the log (opened write-only through `/proc/PID/fd/N`, and re-checked through
/// the opened file itself, so that what is truncated is what was checked).
fn held_step(
    en: &Engine,
    j: &mut Journal,
    item: &Item,
    res: &mut RunResult,
) -> Result<(), PruneError> {
    use std::os::unix::fs::MetadataExt;
    let container = match item.container.as_deref().map(|c| en.held_container(c)) {
        None => None,
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            res.skipped
                .push(skipped(item, format!("cannot inspect the container: {e}")));
            return Ok(());
        }
    };
    match item.held_action {
        Some(plan::HeldAction::Truncate) => {
            let Some(r) = item.files.first() else {
                res.skipped
                    .push(skipped(item, "the plan names no held file for it".into()));
                return Ok(());
            };
            let path = format!("/proc/{}/fd/{}", r.pid, r.fd);
            // A FIFO or a terminal behind a re-used descriptor must not block or become ours.
            let opened = std::fs::metadata(&path)
                .map_err(|e| e.to_string())
                .and_then(|m| {
                    if m.file_type().is_file() {
                        Ok(())
                    } else {
                        Err("not a regular file any more".into())
                    }
                })
                .and_then(|()| {
                    use rustix::fs::{Mode as FMode, OFlags};
                    rustix::fs::open(
                        path.as_str(),
                        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
                        FMode::empty(),
                    )
                    .map(std::fs::File::from)
                    .map_err(|e| e.to_string())
                });
            let (file, check) = match opened {
                Ok(f) => {
                    let check = match f.metadata() {
                        Ok(m) => recheck::held_file(
                            r,
                            Some(&recheck::FdNow {
                                pid_start: read_proc_start(r.pid),
                                dev: m.dev(),
                                inode: m.ino(),
                                nlink: m.nlink(),
                            }),
                            "",
                        ),
                        Err(e) => recheck::held_file(r, None, &e.to_string()),
                    };
                    (Some(f), check)
                }
                Err(e) => (None, recheck::held_file(r, None, &e)),
            };
            match (recheck::held(item, container.as_ref(), &[check]), file) {
                (Verdict::Go { .. }, Some(f)) => {
                    let step = j.intent(Kind::Held, &item.id, Action::Truncate, None, None)?;
                    let lost = f.metadata().ok().map(|m| m.len());
                    let name = item.refs.first().map_or("?", String::as_str);
                    let detail = format!(
                        "data loss: the deleted log of container {name} ({}) was truncated to 0 \
                         through {path}",
                        r.path
                    );
                    truncate(j, res, step, (Kind::Held, item), &f, detail, lost)?;
                }
                (Verdict::Skip(why), _) => res.skipped.push(skipped(item, why)),
                (_, _) => res
                    .skipped
                    .push(skipped(item, "the file could not be opened".into())),
            }
        }
        Some(plan::HeldAction::Restart) => {
            let checks: Vec<Result<(), String>> = item.files.iter().map(fd_now).collect();
            match recheck::held(item, container.as_ref(), &checks) {
                Verdict::Go { .. } => {
                    let step = j.intent(Kind::Held, &item.id, Action::Restart, None, None)?;
                    match en.restart_container(&item.id) {
                        Removal::Done => {
                            j.done(step, JOutcome::Done, None)?;
                            res.deleted.push(DoneItem {
                                kind: Kind::Held,
                                id: item.id.clone(),
                                bytes: item.bytes,
                                action: "restarted",
                                detail: item.refs.clone(),
                                data_loss: false,
                                lost_bytes: None,
                            });
                        }
                        Removal::Gone => {
                            j.done(step, JOutcome::Skipped, Some("already gone".into()))?;
                            res.gone.push(skipped(item, "already gone".into()));
                        }
                        Removal::Conflict(m) | Removal::Failed(m) => {
                            j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                            res.skipped.push(skipped(
                                item,
                                format!("the engine failed to restart it: {m}"),
                            ));
                        }
                    }
                }
                Verdict::Skip(why) => res.skipped.push(skipped(item, why)),
                Verdict::Gone => res.gone.push(skipped(item, "already gone".into())),
            }
        }
        None => res.skipped.push(skipped(
            item,
            "the plan does not say what to do with it".into(),
        )),
    }
    Ok(())
}

/// Applies a `log` item (`--logs-over --truncate-logs`): opens the planned log file write-only beneath
/// the data root without following links, re-checks the container (inspected now) and the opened file
/// itself (`fstat`: same inode, still over the size), then truncates it to 0. dockerd appends with
/// `O_APPEND` (json-file and local alike), so its next entry starts the file again: nothing breaks, the
/// old content is lost.
fn log_step(
    en: &Engine,
    root: &Path,
    j: &mut Journal,
    item: &Item,
    res: &mut RunResult,
) -> Result<(), PruneError> {
    use std::os::unix::fs::MetadataExt;
    let container = match en.held_container(&item.id) {
        Ok(c) => c,
        Err(e) => {
            res.skipped
                .push(skipped(item, format!("cannot inspect the container: {e}")));
            return Ok(());
        }
    };
    let now_path = container.as_ref().and_then(|c| {
        super::facts::live_log_path(
            &c.log_driver,
            &c.log_path,
            &root.display().to_string(),
            &c.id,
        )
    });
    let planned = item
        .log_file
        .as_ref()
        .map(|l| l.path.as_str())
        .unwrap_or("");
    // Only beneath the data root, opened relative to it.
    let opened: Result<std::fs::File, String> = match Path::new(planned).strip_prefix(root) {
        Ok(rel) if !planned.is_empty() => crate::source::rootfs::RootDir::open(root)
            .map_err(|e| format!("{}: {e}", root.display()))
            .and_then(|d| {
                d.open_write(&rel.to_string_lossy())
                    .map_err(|e| e.to_string())
            })
            .and_then(|f| f.ok_or_else(|| "no such file".to_string())),
        _ => Err(format!("not beneath the data root {}", root.display())),
    };
    let now = opened.as_ref().map_err(String::clone).and_then(|f| {
        f.metadata()
            .map(|m| recheck::LogNow {
                regular: m.file_type().is_file(),
                dev: m.dev(),
                inode: m.ino(),
                size: m.len(),
            })
            .map_err(|e| e.to_string())
    });
    let verdict = recheck::log(
        item,
        container.as_ref(),
        now_path.as_deref(),
        now.as_ref().map_err(String::as_str),
    );
    match (verdict, opened, now) {
        (Verdict::Go { .. }, Ok(f), Ok(n)) => {
            let step = j.intent(Kind::Log, &item.id, Action::Truncate, Some(planned), None)?;
            let lost = f.metadata().map_or(n.size, |m| m.len());
            let name = item.refs.first().map_or("?", String::as_str);
            let detail = format!(
                "data loss: {lost} bytes of the log of container {name} ({planned}) were \
                 discarded (truncated to 0)"
            );
            truncate(j, res, step, (Kind::Log, item), &f, detail, Some(lost))?;
        }
        (Verdict::Gone, _, _) => res.gone.push(skipped(item, "the container is gone".into())),
        (Verdict::Skip(why), _, _) => res.skipped.push(skipped(item, why)),
        (Verdict::Go { .. }, _, _) => res
            .skipped
            .push(skipped(item, "the log file could not be opened".into())),
    }
    Ok(())
}

/// Image chains and layer sizes from the data root's metadata, where readable; else the warning to give.
/// Prune's plan and reclaim's gathering share it.
pub(crate) fn fill_from_dataroot(facts: &mut Facts, root: &Path) -> Option<String> {
    match crate::source::dataroot::read(root) {
        Ok(dr) => {
            let chains: BTreeMap<&str, &Vec<String>> = dr
                .images
                .iter()
                .map(|i| (i.id.as_str(), &i.chain))
                .collect();
            for i in &mut facts.images {
                if let Some(c) = chains.get(i.id.as_str()) {
                    i.chain = (*c).clone();
                }
            }
            facts.layer_bytes = dr
                .layers
                .iter()
                .filter_map(|(c, l)| l.size.map(|s| (c.clone(), s)))
                .collect();
            None
        }
        Err(e) => Some(format!(
            "data root not readable here ({e}): image bytes are not counted"
        )),
    }
}

/// The containerd image store's ids of the engine's containers (they name container leases).
fn container_ids(facts: &Facts) -> HashSet<String> {
    facts.containers.iter().map(|c| c.id.clone()).collect()
}

/// The containerd image store whose root is `ctrd` (dockerd's own under the data root, or a system
/// containerd's, [`crate::source::syscontainerd::store_root`]): each image's parts (blobs and
/// snapshot directories) and their bytes, what else holds parts, and which images an unexpired lease
/// holds (see [`super::store`]).
pub(crate) fn fill_from_store(
    facts: &mut Facts,
    ctrd: &Path,
    warnings: &mut Vec<String>,
) -> Result<(), PruneError> {
    let (store, _, sf) = super::store::read(ctrd, &container_ids(facts), facts.now)
        .map_err(|e| PruneError::Input(format!("{e}: no image is planned")))?;
    warnings.extend(store.warnings);
    let (bytes, w) = super::store::measure(ctrd, &sf.parts);
    warnings.extend(w);
    for i in &mut facts.images {
        i.chain = sf.parts.get(&i.id).cloned().unwrap_or_default();
        i.held_by_lease = sf.leased.get(&i.id).cloned();
    }
    facts.layer_bytes = bytes;
    facts.held_parts = sf.held;
    Ok(())
}

/// Settles interrupted runs (needs the lock).
fn recover(opts: &Options, _root: Option<&Path>) -> Result<Vec<journal::Recovered>, PruneError> {
    let all = journal::all(&opts.state_dir)?;
    if all.iter().all(journal::Read::ended) {
        return Ok(Vec::new());
    }
    let mut engine: Option<Engine> = None;
    journal::recover(&opts.state_dir, now(), &mut |e| {
        let Entry::Intent {
            kind,
            id,
            action,
            reference,
            from,
            to,
            ..
        } = e
        else {
            return Err("not a step".into());
        };
        let exists = |p: &Option<String>| {
            p.as_deref()
                .is_some_and(|p| std::fs::symlink_metadata(p).is_ok())
        };
        match action {
            Action::Quarantine | Action::Restore => match (exists(from), exists(to)) {
                (false, true) => Ok((true, "moved".into())),
                (true, false) => Ok((false, "not moved".into())),
                (true, true) => Ok((false, "both names exist; nothing was moved".into())),
                (false, false) => Err(format!("neither {from:?} nor {to:?} exists")),
            },
            Action::Purge => Ok(if std::path::Path::new(id).exists() {
                (false, "partly deleted: purge again".into())
            } else {
                (true, "deleted".into())
            }),
            Action::Truncate if *kind == Kind::Log => Ok(match reference {
                Some(p) => match std::fs::symlink_metadata(p) {
                    Ok(m) if m.len() == 0 => (true, format!("{p} is empty")),
                    Ok(m) => (
                        false,
                        format!(
                            "{p} holds {} bytes: not truncated, or written to since",
                            m.len()
                        ),
                    ),
                    Err(e) => (false, format!("{p}: {e}")),
                },
                None => (false, "the journal names no log file".into()),
            }),
            Action::Truncate => Ok(truncated(id)),
            Action::Restart => Ok((
                false,
                "whether the restart happened is not known; dredge df shows what is still held"
                    .into(),
            )),
            Action::Delete | Action::Abort if matches!(kind, Kind::Lease | Kind::Ingest) => {
                if engine.is_none() {
                    engine = Some(Engine::connect().map_err(|e| e.to_string())?);
                }
                let Some(en) = engine.as_ref() else {
                    return Err("no engine".into());
                };
                super::ctrd_orphans::settle(*kind, id, reference.as_deref(), en)
            }
            Action::Abort => Err("an abort of something not in the containerd store".into()),
            Action::Delete | Action::Untag => {
                if engine.is_none() {
                    engine = Some(Engine::connect().map_err(|e| e.to_string())?);
                }
                let Some(en) = engine.as_ref() else {
                    return Err("no engine".into());
                };
                let name = reference.as_deref().unwrap_or(id);
                let there = en.exists(*kind, name)?;
                Ok(if there {
                    (false, format!("{name} still exists"))
                } else {
                    (true, format!("{name} is gone"))
                })
            }
        }
    })
}

/// Applies a plan.
fn apply(opts: &Options, plan: &Plan) -> Result<RunResult, PruneError> {
    let offline = plan.mode == "offline";
    let root = PathBuf::from(&plan.data_root);
    let mut containerd_store = false;
    let engine = if offline {
        if let Some(d) = &opts.data_root {
            let d = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            if d != root {
                return Err(PruneError::Input(format!(
                    "the plan was made for data root {}, not {}",
                    root.display(),
                    d.display()
                )));
            }
        }
        refuse_containerd_store(&root)?;
        if let Some(why) = orphans::daemon_on(&root, &orphans::mount_points()) {
            return Err(PruneError::Input(format!(
                "refusing to apply an offline plan: {why}; stop the engine first"
            )));
        }
        None
    } else {
        let e = Engine::connect()?;
        let id = e.identity()?;
        recheck::same_engine(plan, &id.id, &id.root)
            .map_err(|why| PruneError::Input(format!("{why}: nothing was deleted")))?;
        containerd_store = id.containerd_store;
        Some(e)
    };
    // Live orphans are moved only inside a data root proven, now, to be this engine's own directory;
    // the dockerd the proof names is the daemon their re-check takes into account.
    let mut live_daemon: Option<DaemonFact> = None;
    // Where the data root is read from here (any proof): for the containerd store's leases and the
    // free space; None when not proven.
    let mut read_root: Option<PathBuf> = offline.then(|| root.clone());
    // The containerd store's root (live, containerd store only), or why it is not known.
    let mut ctrd_root: Result<PathBuf, String> =
        Err("the data root is not proven to be the engine's".into());
    let root_unproven: Option<String> = if offline {
        None
    } else {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        match crate::source::dataroot::prove_live_root(
            &host,
            Some(&plan.data_root),
            Some(&plan.engine_id),
        ) {
            Ok(p) if matches!(p.how, ProofHow::SameNamespace | ProofHow::SameInode) => {
                read_root = Some(p.path.clone());
                if containerd_store {
                    ctrd_root =
                        crate::source::syscontainerd::store_root(&p).map_err(|e| e.to_string());
                }
                live_daemon = Some(match p.pid {
                    Some(pid) => crate::source::dataroot::engine_daemon(pid),
                    None => DaemonFact::Running {
                        pid: None,
                        started_ns: None,
                        evidence: DaemonEvidence::Engine,
                    },
                });
                None
            }
            Ok(p) => {
                let why = format!(
                    "the data root is seen only through {} (another mount namespace)",
                    p.path.display()
                );
                if containerd_store {
                    ctrd_root =
                        crate::source::syscontainerd::store_root(&p).map_err(|e| e.to_string());
                }
                read_root = Some(p.path);
                Some(why)
            }
            Err(e) => Some(format!(
                "the data root is not proven to be the engine's: {e}"
            )),
        }
    };
    let engine_id = if offline {
        "offline".to_string()
    } else {
        plan.engine_id.clone()
    };
    let before = read_root.as_deref().and_then(free_bytes);
    let run = run_id();
    let mut j = Journal::create(
        &opts.state_dir,
        Entry::Begin {
            run: run.clone(),
            time: now(),
            engine_id: engine_id.clone(),
            data_root: plan.data_root.clone(),
            what: "apply".into(),
        },
    )?;
    let mut res = RunResult {
        run_id: run.clone(),
        what: "apply".into(),
        engine_id,
        data_root: plan.data_root.clone(),
        journal: j.path().display().to_string(),
        ..Default::default()
    };
    let (last, _) = state::load(&opts.state_dir, &plan.engine_id);
    // What names the orphans: read at the first one (after every engine deletion, before any move),
    // again once it is too old (see `orphans::Fresh`).
    let mut fresh: Option<orphans::Fresh> = None;
    let mut store: Option<super::ctrd_orphans::Applier> = None;
    for (seq, item) in plan.items.iter().enumerate() {
        match item.kind {
            Kind::Lease | Kind::Ingest => {
                let Some(en) = &engine else {
                    res.skipped.push(skipped(
                        item,
                        "an offline plan holds containerd leases or ingests".into(),
                    ));
                    continue;
                };
                let ap = store.get_or_insert_with(|| super::ctrd_orphans::Applier::new(plan));
                store_step(ap, en, &mut j, item, plan.grace_seconds, &mut res)?;
            }
            Kind::Image | Kind::Container | Kind::Volume | Kind::BuildCache => {
                let Some(en) = &engine else {
                    res.skipped
                        .push(skipped(item, "an offline plan holds engine objects".into()));
                    continue;
                };
                let mut fresh = en.recheck_facts(item.kind, &item.id)?;
                fresh.last_used = last.clone();
                if item.kind == Kind::Image && containerd_store {
                    // The leases, read again now: a pull or load may have begun since planning.
                    let held = ctrd_root.clone().and_then(|r| {
                        super::store::read(&r, &container_ids(&fresh), now())
                            .map(|(_, _, sf)| sf.leased.get(&item.id).cloned())
                    });
                    match held {
                        Ok(why) => {
                            if let Some(i) = fresh.images.iter_mut().find(|i| i.id == item.id) {
                                i.held_by_lease = why;
                            }
                        }
                        Err(e) => {
                            res.skipped.push(skipped(
                                item,
                                format!("the containerd store's leases cannot be checked: {e}"),
                            ));
                            continue;
                        }
                    }
                }
                match recheck::engine_item(item, &fresh) {
                    Verdict::Gone => res.gone.push(skipped(item, "already gone".into())),
                    Verdict::Skip(r) => res.skipped.push(skipped(item, r)),
                    Verdict::Go { untag } => engine_step(en, &mut j, item, &untag, &mut res)?,
                }
            }
            Kind::Orphan => {
                if let Some(why) = &root_unproven {
                    res.skipped.push(skipped(item, why.clone()));
                    continue;
                }
                let chain = item.orphan_kind.as_deref()
                    == Some(crate::audit::OrphanKind::UnreferencedLayer.as_str());
                if chain && !offline {
                    res.skipped.push(skipped(
                        item,
                        "a layer chain with a complete record is removed only offline".into(),
                    ));
                    continue;
                }
                if fresh.as_ref().is_none_or(orphans::Fresh::stale) {
                    let daemon = live_daemon.unwrap_or_else(|| dataroot::daemon_on(&root));
                    let ids = match &engine {
                        Some(en) => match en.container_ids() {
                            Ok(ids) => Some(ids),
                            Err(e) => {
                                fresh = None;
                                res.skipped.push(skipped(item, e.to_string()));
                                continue;
                            }
                        },
                        None => None,
                    };
                    match orphans::Fresh::read(&root, daemon, ids.as_ref(), now_ns()) {
                        Ok(f) => fresh = Some(f),
                        Err(e) => {
                            fresh = None;
                            res.skipped.push(skipped(
                                item,
                                format!("cannot read the data root again to re-check it: {e}"),
                            ));
                            continue;
                        }
                    }
                }
                let Some(names) = &fresh else { continue };
                let mounts = orphans::mount_points();
                let mut st = orphans::inspect(&root, item, &mounts);
                let now_ns = now_ns();
                st.named_by = names.named_by(item, st.modified_ns, now_ns);
                if chain {
                    st.daemon = orphans::daemon_on(&root, &mounts).map(|_| 0);
                }
                match recheck::orphan(item, &st, now_ns, plan.grace_seconds, chain) {
                    Verdict::Gone => res.gone.push(skipped(item, "already gone".into())),
                    Verdict::Skip(r) => res.skipped.push(skipped(item, r)),
                    Verdict::Go { .. } => {
                        quarantine(&root, &run, &mut j, item, seq, &st.existing, &mut res)?
                    }
                }
            }
            Kind::Log => {
                let Some(en) = &engine else {
                    res.skipped
                        .push(skipped(item, "an offline plan holds container logs".into()));
                    continue;
                };
                if let Some(why) = &root_unproven {
                    res.skipped.push(skipped(item, why.clone()));
                    continue;
                }
                log_step(en, &root, &mut j, item, &mut res)?;
            }
            Kind::Held => {
                let Some(en) = &engine else {
                    res.skipped
                        .push(skipped(item, "an offline plan holds held files".into()));
                    continue;
                };
                held_step(en, &mut j, item, &mut res)?;
            }
        }
    }
    let deleted: HashSet<&str> = res.deleted.iter().map(|d| d.id.as_str()).collect();
    res.reclaimed_bytes = res.deleted.iter().map(|d| d.bytes).sum::<u64>()
        + plan
            .shared
            .iter()
            .filter(|s| s.images.iter().all(|i| deleted.contains(i.as_str())))
            .map(|s| s.bytes)
            .sum::<u64>();
    res.freed_bytes = before
        .zip(read_root.as_deref().and_then(free_bytes))
        .map(|(b, a)| a - b);
    j.end(now())?;
    Ok(res)
}

/// Applies a lease or ingest item of the containerd store ([`super::ctrd_orphans`]).
fn store_step(
    ap: &super::ctrd_orphans::Applier,
    en: &Engine,
    j: &mut Journal,
    item: &Item,
    grace: u64,
    res: &mut RunResult,
) -> Result<(), PruneError> {
    use super::ctrd_orphans::{Applied, NO_UNDO};
    match ap.step(en, j, item, grace)? {
        Applied::Done => res.deleted.push(DoneItem {
            kind: item.kind,
            id: item.id.clone(),
            bytes: item.bytes,
            action: if item.kind == Kind::Lease {
                "deleted"
            } else {
                "aborted"
            },
            detail: vec![NO_UNDO.to_string()],
            data_loss: false,
            lost_bytes: None,
        }),
        Applied::Gone => res.gone.push(skipped(item, "already gone".into())),
        Applied::Skipped(why) => res.skipped.push(skipped(item, why)),
    }
    Ok(())
}

/// An interrupted truncation (`PID:FD`): done when the descriptor's file is empty now.
fn truncated(id: &str) -> (bool, String) {
    let Some((pid, fd)) = id.split_once(':') else {
        return (false, format!("{id} is not PID:FD"));
    };
    match std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) {
        Ok(m) if m.len() == 0 => (true, format!("/proc/{pid}/fd/{fd} is empty")),
        Ok(m) => (
            false,
            format!("/proc/{pid}/fd/{fd} holds {} bytes", m.len()),
        ),
        Err(e) => (false, format!("/proc/{pid}/fd/{fd}: {e}")),
    }
}

/// Truncates an opened file to 0 under journal `step`: a data-loss deletion saying `detail`, or
/// skipped with the reason. Held files and logs share it.
fn truncate(
    j: &mut Journal,
    res: &mut RunResult,
    step: u64,
    (kind, item): (Kind, &Item),
    f: &std::fs::File,
    detail: String,
    lost_bytes: Option<u64>,
) -> Result<(), PruneError> {
    match f.set_len(0) {
        Ok(()) => {
            j.done(step, JOutcome::Done, None)?;
            res.deleted.push(DoneItem {
                kind,
                id: item.id.clone(),
                bytes: item.bytes,
                action: "truncated",
                detail: vec![detail],
                data_loss: true,
                lost_bytes,
            });
        }
        Err(e) => {
            j.done(step, JOutcome::Skipped, Some(e.to_string()))?;
            res.skipped
                .push(skipped(item, format!("truncation failed: {e}")));
        }
    }
    Ok(())
}

fn skipped(item: &Item, reason: String) -> SkippedItem {
    SkippedItem {
        kind: item.kind,
        id: item.id.clone(),
        reason,
    }
}

fn engine_step(
    en: &Engine,
    j: &mut Journal,
    item: &Item,
    untag: &[String],
    res: &mut RunResult,
) -> Result<(), PruneError> {
    let mut detail = Vec::new();
    let mut gone_with_tag = false;
    for r in untag {
        let step = j.intent(item.kind, &item.id, Action::Untag, Some(r), None)?;
        match en.remove_image(r) {
            Removal::Done | Removal::Gone => {
                j.done(step, JOutcome::Done, None)?;
                detail.push(format!("untagged {r}"));
            }
            Removal::Conflict(m) | Removal::Failed(m) => {
                j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                res.skipped.push(skipped(
                    item,
                    format!("the engine refused to untag {r}: {m}"),
                ));
                return Ok(());
            }
        }
    }
    if item.kind == Kind::Image && !untag.is_empty() {
        // Untagging the last reference deletes an image nothing else holds.
        gone_with_tag = matches!(en.exists(Kind::Image, &item.id), Ok(false));
    }
    if item.kind == Kind::BuildCache {
        let step = j.intent(item.kind, &item.id, Action::Delete, None, None)?;
        match en.prune_build_record(&item.id) {
            Ok(deleted) if deleted.iter().any(|d| d == &item.id) => {
                j.done(step, JOutcome::Done, None)?;
                let others: Vec<String> = deleted.into_iter().filter(|d| d != &item.id).collect();
                if !others.is_empty() {
                    detail.push(format!("the engine also deleted {}", others.join(", ")));
                }
            }
            Ok(deleted) => {
                let why = format!(
                    "the engine did not delete it (deleted: {})",
                    if deleted.is_empty() {
                        "nothing".into()
                    } else {
                        deleted.join(", ")
                    }
                );
                j.done(step, JOutcome::Skipped, Some(why.clone()))?;
                res.skipped.push(skipped(item, why));
                return Ok(());
            }
            Err(m) => {
                j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                res.skipped
                    .push(skipped(item, format!("the engine failed: {m}")));
                return Ok(());
            }
        }
    } else if !gone_with_tag {
        let step = j.intent(item.kind, &item.id, Action::Delete, None, None)?;
        let r = match item.kind {
            Kind::Image => en.remove_image(&item.id),
            Kind::Container => en.remove_container(&item.id),
            _ => en.remove_volume(&item.id),
        };
        match r {
            Removal::Done => j.done(step, JOutcome::Done, None)?,
            Removal::Gone => {
                j.done(step, JOutcome::Skipped, Some("already gone".into()))?;
                res.gone.push(skipped(item, "already gone".into()));
                return Ok(());
            }
            Removal::Conflict(m) => {
                j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                res.skipped
                    .push(skipped(item, format!("the engine refused (in use): {m}")));
                return Ok(());
            }
            Removal::Failed(m) => {
                j.done(step, JOutcome::Skipped, Some(m.clone()))?;
                res.skipped
                    .push(skipped(item, format!("the engine failed: {m}")));
                return Ok(());
            }
        }
    }
    res.deleted.push(DoneItem {
        kind: item.kind,
        id: item.id.clone(),
        bytes: item.bytes,
        action: "deleted",
        detail,
        data_loss: false,
        lost_bytes: None,
    });
    Ok(())
}

fn quarantine(
    root: &Path,
    run: &str,
    j: &mut Journal,
    item: &Item,
    seq: usize,
    paths: &[String],
    res: &mut RunResult,
) -> Result<(), PruneError> {
    let qdir = match orphans::prepare_quarantine(root, run) {
        Ok(d) => d,
        Err(e) => {
            res.skipped.push(skipped(item, e));
            return Ok(());
        }
    };
    res.quarantine = Some(qdir.display().to_string());
    let mut detail = Vec::new();
    for (k, p) in paths.iter().enumerate() {
        let probe = orphans::quarantine_target(root, run, &format!("{seq}.{k}"), Path::new(p));
        let to = probe.display().to_string();
        let step = j.intent(
            Kind::Orphan,
            &item.id,
            Action::Quarantine,
            None,
            Some((p, &to)),
        )?;
        match orphans::rename_noreplace(Path::new(p), &probe) {
            Ok(()) => {
                j.done(step, JOutcome::Done, None)?;
                detail.push(to);
            }
            Err(e) => {
                j.done(step, JOutcome::Skipped, Some(e.clone()))?;
                res.skipped.push(skipped(
                    item,
                    if detail.is_empty() {
                        e
                    } else {
                        format!("{e} (partly quarantined: {})", detail.join(", "))
                    },
                ));
                return Ok(());
            }
        }
    }
    res.deleted.push(DoneItem {
        kind: Kind::Orphan,
        id: item.id.clone(),
        bytes: item.bytes,
        action: "quarantined",
        detail,
        data_loss: false,
        lost_bytes: None,
    });
    Ok(())
}

/// `--undo [RUN]`.
fn undo(opts: &Options, run: Option<&str>) -> Result<RunResult, PruneError> {
    let all = journal::all(&opts.state_dir)?;
    let chosen = match run {
        Some(r) => all.iter().find(|j| j.run() == r).ok_or_else(|| {
            PruneError::Input(format!(
                "no run {r} in {}",
                journal::runs_dir(&opts.state_dir).display()
            ))
        })?,
        None => all
            .iter()
            .rev()
            .find(|j| !j.quarantined().is_empty())
            .ok_or_else(|| PruneError::Input("no run has quarantined anything".into()))?,
    };
    let (engine_id, data_root) = match chosen.entries.first() {
        Some(Entry::Begin {
            engine_id,
            data_root,
            ..
        }) => (engine_id.clone(), data_root.clone()),
        _ => (String::new(), String::new()),
    };
    let before = free_bytes(Path::new(&data_root));
    let id = run_id();
    let mut j = Journal::create(
        &opts.state_dir,
        Entry::Begin {
            run: id.clone(),
            time: now(),
            engine_id: engine_id.clone(),
            data_root: data_root.clone(),
            what: format!("undo {}", chosen.run()),
        },
    )?;
    let mut res = RunResult {
        run_id: id,
        what: "undo".into(),
        engine_id,
        data_root: data_root.clone(),
        journal: j.path().display().to_string(),
        ..Default::default()
    };
    for (item, from, to) in chosen.quarantined() {
        let sk = |reason: String| SkippedItem {
            kind: Kind::Orphan,
            id: from.clone(),
            reason,
        };
        if std::fs::symlink_metadata(&to).is_err() {
            res.skipped.push(sk(format!(
                "{to} is not in quarantine any more (restored or purged)"
            )));
            continue;
        }
        let step = j.intent(
            Kind::Orphan,
            &item,
            Action::Restore,
            None,
            Some((&to, &from)),
        )?;
        match orphans::rename_noreplace(Path::new(&to), Path::new(&from)) {
            Ok(()) => {
                j.done(step, JOutcome::Done, None)?;
                res.deleted.push(DoneItem {
                    kind: Kind::Orphan,
                    id: from.clone(),
                    bytes: 0,
                    action: "restored",
                    detail: vec![format!("from {to}")],
                    data_loss: false,
                    lost_bytes: None,
                });
            }
            Err(e) => {
                j.done(step, JOutcome::Skipped, Some(e.clone()))?;
                res.skipped.push(sk(e));
            }
        }
    }
    res.freed_bytes = before
        .zip(free_bytes(Path::new(&data_root)))
        .map(|(b, a)| a - b);
    j.end(now())?;
    Ok(res)
}

/// `--purge-quarantine [--older-than D]`.
fn purge(opts: &Options, older_than: u64) -> Result<RunResult, PruneError> {
    let (engine_id, root) = match &opts.data_root {
        Some(r) => (
            "offline".to_string(),
            std::fs::canonicalize(r)
                .map_err(|e| PruneError::Input(format!("{}: {e}", r.display())))?,
        ),
        None => {
            let e = Engine::connect()?;
            let id = e.identity()?;
            (id.id, PathBuf::from(id.root))
        }
    };
    let before = free_bytes(&root);
    let id = run_id();
    let mut j = Journal::create(
        &opts.state_dir,
        Entry::Begin {
            run: id.clone(),
            time: now(),
            engine_id: engine_id.clone(),
            data_root: root.display().to_string(),
            what: "purge".into(),
        },
    )?;
    let mut res = RunResult {
        run_id: id,
        what: "purge".into(),
        engine_id,
        data_root: root.display().to_string(),
        journal: j.path().display().to_string(),
        quarantine: Some(super::quarantine_dir(&root).display().to_string()),
        ..Default::default()
    };
    let mounts = orphans::mount_points();
    for (dir, age) in orphans::quarantined_runs(&root, now()) {
        let name = dir.display().to_string();
        if age < older_than as i64 {
            res.skipped.push(SkippedItem {
                kind: Kind::Orphan,
                id: name,
                reason: format!(
                    "quarantined {} ago, less than --older-than",
                    plan::human_secs(age.max(0) as u64)
                ),
            });
            continue;
        }
        let step = j.intent(Kind::Orphan, &name, Action::Purge, None, None)?;
        match orphans::purge(&root, &dir, &mounts) {
            Ok(bytes) => {
                j.done(step, JOutcome::Done, None)?;
                res.reclaimed_bytes += bytes;
                res.deleted.push(DoneItem {
                    kind: Kind::Orphan,
                    id: name,
                    bytes,
                    action: "purged",
                    detail: vec![],
                    data_loss: false,
                    lost_bytes: None,
                });
            }
            Err(e) => {
                j.done(step, JOutcome::Skipped, Some(e.clone()))?;
                res.skipped.push(SkippedItem {
                    kind: Kind::Orphan,
                    id: name,
                    reason: e,
                });
            }
        }
    }
    res.freed_bytes = before.zip(free_bytes(&root)).map(|(b, a)| a - b);
    j.end(now())?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_of_one_process_differ_and_sort_in_the_order_they_were_made() {
        let ids: Vec<String> = (0..12).map(|_| super::run_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        // Made within the same second or across a second boundary: either way unique and ordered.
        assert_eq!(sorted, ids);
    }
}
