//! The run: gather facts, plan, and apply the plan one item at a time, each re-checked immediately
//! before it goes and journaled before and after. Also `--undo` and `--purge-quarantine`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::engine::{Engine, Need, Removal, now};
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
    /// `deleted`, `quarantined`, `restored` or `purged`.
    pub action: &'static str,
    /// Image references untagged on the way; quarantine targets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
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

fn usage(s: &str) -> PruneError {
    PruneError::Usage(s.to_string())
}

fn run_id() -> String {
    let t = format_time(now()).replace(['-', ':'], "");
    format!("{t}-{}", std::process::id())
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
                 --stopped-containers, --volumes, --named-volumes, --orphans, …); there is no default",
            ));
        }
        Mode::Apply(_) | Mode::Undo(_) | Mode::Purge { .. } if sel.any() => {
            return Err(usage(
                "selectors plan a new run; --apply, --undo and --purge-quarantine take none",
            ));
        }
        _ => {}
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

/// Gathers the facts (engine and data root) and plans.
fn make_plan(opts: &Options, warnings: &mut Vec<String>) -> Result<Plan, PruneError> {
    let sel = &opts.selectors;
    let globs = plan::keep_globs(&sel.keep).map_err(PruneError::Usage)?;
    if let Some(root) = &opts.data_root {
        let root = std::fs::canonicalize(root)
            .map_err(|e| PruneError::Input(format!("{}: {e}", root.display())))?;
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
    if id.containerd_store {
        return Err(PruneError::Input(
            "the engine uses the containerd image store, which dredge prune does not support yet"
                .into(),
        ));
    }
    let root = PathBuf::from(&facts.data_root);
    // Chains and layer sizes count only images' bytes.
    if sel.dangling_images || sel.unused_images.is_some() {
        fill_from_dataroot(&mut facts, &root, warnings);
    }
    let (last, w) = state::load(&opts.state_dir, &facts.engine_id);
    warnings.extend(w);
    facts.last_used = last;
    // First seen now: remembered from this plan on, and what apply compares with.
    facts.last_used = state::updated(&facts);
    if sel.orphans {
        let (o, w) = orphans::gather(&root)?;
        warnings.extend(w);
        facts.orphans = o;
    }
    let p = plan::plan(&facts, sel, &globs, "live");
    if let Err(e) = state::save(&opts.state_dir, &facts.engine_id, &facts.last_used) {
        warnings.push(format!(
            "cannot save the last uses in {}: {e}",
            opts.state_dir.display()
        ));
    }
    Ok(p)
}

/// Image chains and layer sizes from the data root's metadata, where readable.
fn fill_from_dataroot(facts: &mut Facts, root: &Path, warnings: &mut Vec<String>) {
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
        }
        Err(e) => warnings.push(format!(
            "data root not readable here ({e}): image bytes are not counted"
        )),
    }
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
        Some(e)
    };
    let engine_id = if offline {
        "offline".to_string()
    } else {
        plan.engine_id.clone()
    };
    let before = free_bytes(&root);
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
    for (seq, item) in plan.items.iter().enumerate() {
        match item.kind {
            Kind::Image | Kind::Container | Kind::Volume | Kind::BuildCache => {
                let Some(en) = &engine else {
                    res.skipped
                        .push(skipped(item, "an offline plan holds engine objects".into()));
                    continue;
                };
                let mut fresh = en.recheck_facts(item.kind, &item.id)?;
                fresh.last_used = last.clone();
                match recheck::engine_item(item, &fresh) {
                    Verdict::Gone => res.gone.push(skipped(item, "already gone".into())),
                    Verdict::Skip(r) => res.skipped.push(skipped(item, r)),
                    Verdict::Go { untag } => engine_step(en, &mut j, item, &untag, &mut res)?,
                }
            }
            Kind::Orphan => {
                let refs = orphans::Refs::read(&root)?;
                let mounts = orphans::mount_points();
                let mut st = orphans::inspect(&root, item, &refs, &mounts);
                let chain = item.orphan_kind.as_deref() == Some("unreferenced-layer");
                if chain {
                    if !offline {
                        res.skipped.push(skipped(
                            item,
                            "a layer chain with a complete record is removed only offline".into(),
                        ));
                        continue;
                    }
                    st.daemon = orphans::daemon_on(&root, &mounts).map(|_| 0);
                }
                let now_ns = now().saturating_mul(1_000_000_000);
                match recheck::orphan(item, &st, now_ns, plan.grace_seconds, chain) {
                    Verdict::Gone => res.gone.push(skipped(item, "already gone".into())),
                    Verdict::Skip(r) => res.skipped.push(skipped(item, r)),
                    Verdict::Go { .. } => {
                        quarantine(&root, &run, &mut j, item, seq, &st.existing, &mut res)?
                    }
                }
            }
            Kind::Log => res
                .skipped
                .push(skipped(item, "not implemented by this version".into())),
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
    res.freed_bytes = before.zip(free_bytes(&root)).map(|(b, a)| a - b);
    j.end(now())?;
    Ok(res)
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
