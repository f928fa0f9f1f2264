//! The run: measure the data root's filesystem, and while used space is above `low`, plan one step over
//! fresh facts ([`super::order`]), apply it with `dredge prune`'s apply, and measure again. I/O lives
//! here; every decision is in [`super::order`].

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::order::{self, Quarantined, View, Why};
use super::policy::{self, Mark, Step};
use super::state::{self, State};
use super::{Holding, Options, Outcome, ReclaimError, StepRun, Usage, Victim, Watermarks};
use crate::model::dataroot::ProofHow;
use crate::prune::engine::{Engine, Need, now};
use crate::prune::facts::{Facts, format_time};
use crate::prune::{self, Kind, Mode, Plan};

/// Used and free space of the filesystem holding `p`, as `df` computes them.
pub fn measure(p: &Path) -> Result<Usage, ReclaimError> {
    let s = rustix::fs::statvfs(p).map_err(|e| {
        ReclaimError::Input(format!("cannot measure {}: statvfs: {e}", p.display()))
    })?;
    Ok(Usage {
        used_bytes: s
            .f_blocks
            .saturating_sub(s.f_bfree)
            .saturating_mul(s.f_frsize),
        free_bytes: s.f_bavail.saturating_mul(s.f_frsize),
    })
}

/// Fails when the metrics file's directory does not take a new file (checked before anything goes).
fn probe_metrics(path: &Path) -> Result<(), ReclaimError> {
    let tmp = tmp_path(path);
    std::fs::File::create(&tmp)
        .and_then(|_| std::fs::remove_file(&tmp))
        .map_err(|e| {
            ReclaimError::Input(format!(
                "cannot write the metrics file {}: {e}",
                path.display()
            ))
        })
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Writes the metrics text atomically: `FILE.tmp` in the same directory, fsync, rename.
pub fn write_metrics(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The engine's facts for planning: lists, inspects, `/system/df`, image chains and layer sizes from
/// the data root, orphans when asked; remembered last uses merged in (reclaim's and prune's).
fn gather(
    engine: &Engine,
    root: &Path,
    st: &State,
    prune_dir: &Path,
    orphans: bool,
    ctrd: Option<&Path>,
    warnings: &mut Vec<String>,
) -> Result<Facts, ReclaimError> {
    let (mut facts, _) = engine.gather(Need {
        df: true,
        container_sizes: true,
    })?;
    if let Some(ctrd) = ctrd {
        let mut w = Vec::new();
        prune::apply::fill_from_store(&mut facts, ctrd, &mut w)?;
        for w in w {
            push_once(warnings, w);
        }
    } else if let Some(w) = prune::apply::fill_from_dataroot(&mut facts, root) {
        push_once(warnings, w);
    }
    // Apply re-checks an image against prune's own memory of last uses: plan with the newer of both.
    let (pruned, _) = prune::state::load(prune_dir, &facts.engine_id);
    let mut last: BTreeMap<String, i64> = st
        .images
        .iter()
        .map(|(k, s)| (k.clone(), s.last_used))
        .collect();
    for (k, t) in pruned {
        let e = last.entry(k).or_insert(t);
        *e = (*e).max(t);
    }
    facts.last_used = last;
    if orphans {
        let (o, w) = prune::orphans::gather(root)?;
        for w in w {
            push_once(warnings, w);
        }
        facts.orphans = o;
    }
    Ok(facts)
}

fn push_once(w: &mut Vec<String>, s: String) {
    if !w.contains(&s) {
        w.push(s);
    }
}

fn quarantined(root: &Path, now: i64) -> Vec<Quarantined> {
    prune::orphans::quarantined_runs(root, now)
        .into_iter()
        .map(|(p, age)| Quarantined {
            bytes: prune::orphans::allocated(&p),
            path: p.display().to_string(),
            age,
        })
        .collect()
}

/// What still holds the space: each kind of object the engine keeps, and the rest of the filesystem.
fn holding(f: &Facts, used: u64) -> Vec<Holding> {
    let mut in_use_layers: BTreeSet<&str> = BTreeSet::new();
    for c in &f.containers {
        if let Some(i) = f.image(&c.image) {
            in_use_layers.extend(i.chain.iter().map(String::as_str));
        }
    }
    let all_layers: BTreeSet<&str> = f
        .images
        .iter()
        .flat_map(|i| i.chain.iter().map(String::as_str))
        .collect();
    let size = |l: &&str| f.layer_bytes.get(*l).copied().unwrap_or(0);
    let used_by_containers: u64 = in_use_layers.iter().map(size).sum();
    let other_images: u64 = all_layers
        .iter()
        .filter(|l| !in_use_layers.contains(*l))
        .map(size)
        .sum();
    let mut v = vec![
        Holding {
            what: "image layers used by containers".into(),
            bytes: used_by_containers,
        },
        Holding {
            what: "image layers kept by the policy (keep rules, min_age, new)".into(),
            bytes: other_images,
        },
        Holding {
            what: "containers (writable layers and logs)".into(),
            bytes: f.containers.iter().map(|c| c.bytes).sum(),
        },
        Holding {
            what: "volumes".into(),
            bytes: f.volumes.iter().map(|v| v.bytes).sum(),
        },
        Holding {
            what: "build cache".into(),
            bytes: f
                .build_cache
                .iter()
                .filter(|r| !r.shared)
                .map(|r| r.bytes)
                .sum(),
        },
        Holding {
            what: "orphans".into(),
            bytes: f.orphans.iter().map(|o| o.bytes).sum(),
        },
    ];
    let known: u64 = v.iter().map(|h| h.bytes).sum();
    v.push(Holding {
        what: "everything else on the filesystem".into(),
        bytes: used.saturating_sub(known),
    });
    v.retain(|h| h.bytes > 0);
    v.sort_by_key(|h| std::cmp::Reverse(h.bytes));
    v
}

fn plan_of(facts: &Facts, policy: &policy::Policy, items: Vec<prune::plan::Item>) -> Plan {
    Plan {
        created: format_time(facts.now),
        engine_id: facts.engine_id.clone(),
        data_root: facts.data_root.clone(),
        mode: "live".into(),
        total_bytes: items.iter().map(|i| i.bytes).sum(),
        items,
        shared: Vec::new(),
        kept: Vec::new(),
        logs: Vec::new(),
        held: Vec::new(),
        grace_seconds: policy.orphan_grace,
        warnings: Vec::new(),
    }
}

/// Runs `dredge reclaim` once.
pub fn run(opts: &Options) -> Result<Outcome, ReclaimError> {
    let started = Instant::now();
    let policy = policy::load(&opts.policy)?;
    let globs = prune::plan::keep_globs(&policy.keep).map_err(ReclaimError::Input)?;
    if let Some(m) = &opts.metrics {
        probe_metrics(m)?;
    }
    // One reclaim at a time (each step's apply takes prune's own lock too).
    let _lock = if opts.dry_run {
        None
    } else {
        Some(prune::lock::take(&opts.state_dir.join("reclaim"))?)
    };
    let engine = Engine::connect()?;
    let id = engine.identity()?;
    let host =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    // Measured and read through any proof (a chrooted or containerised engine's root is seen through
    // its /proc/PID/root); orphans are gathered and moved only in a root that is the same directory
    // here, and never on the containerd image store (changed only through the engine there).
    let (root, orphans_ok, ctrd) =
        match crate::source::dataroot::prove_live_root(&host, Some(&id.root), Some(&id.id)) {
            Ok(p) => {
                let ctrd = if id.containerd_store {
                    Some(crate::source::syscontainerd::store_root(&p).map_err(|e| {
                        ReclaimError::Input(format!("the containerd store's root: {e}"))
                    })?)
                } else {
                    None
                };
                let same = matches!(p.how, ProofHow::SameNamespace | ProofHow::SameInode);
                (p.path, same && !id.containerd_store, ctrd)
            }
            Err(e) => {
                return Err(ReclaimError::Input(format!(
                    "the engine's data root {} cannot be measured from here: {e}",
                    id.root
                )));
            }
        };
    let mut out = Outcome {
        dry_run: opts.dry_run,
        engine_id: id.id.clone(),
        data_root: id.root.clone(),
        state_file: opts.state_file.display().to_string(),
        ..Default::default()
    };
    let before = measure(&root)?;
    let size = before.size();
    let (high, low) = (policy.high.bytes(size), policy.low.bytes(size));
    if low > high {
        return Err(ReclaimError::Input(format!(
            "{}: watermarks.low ({} = {}) is above watermarks.high ({} = {}) on this filesystem",
            opts.policy.display(),
            policy.low.text(),
            crate::units::size(low),
            policy.high.text(),
            crate::units::size(high)
        )));
    }
    if let Mark::Bytes(b) = policy.high
        && b > size
    {
        out.warnings.push(format!(
            "watermarks.high ({}) is more than the filesystem holds ({})",
            crate::units::size(b),
            crate::units::size(size)
        ));
    }
    out.watermarks = Watermarks {
        high: policy.high.text(),
        low: policy.low.text(),
        high_bytes: high,
        low_bytes: low,
    };
    out.before = before;

    // Remember what is there now, and what was used since the last run.
    let (prev, w) = state::load(&opts.state_file, &id.id);
    out.warnings.extend(w);
    let run_start = now();
    let mut facts = gather(
        &engine,
        &root,
        &prev,
        &opts.state_dir,
        orphans_ok,
        ctrd.as_deref(),
        &mut out.warnings,
    )?;
    out.orphans = facts.orphans.len() as u64;
    out.orphans_bytes = facts.orphans.iter().map(|o| o.bytes).sum();
    let mut uses = Vec::new();
    if let Some(since) = prev.last_run {
        match super::events::container_uses(since, run_start) {
            Ok(ev) => {
                for (name, t) in ev {
                    if let Some(i) = state::event_image(&name, &facts) {
                        uses.push((i, t));
                    }
                }
            }
            Err(e) => out.warnings.push(format!(
                "the engine's events since the last run were not read: {e}"
            )),
        }
    }
    let mut st = state::updated(&prev, &facts, &uses, run_start);
    let new: BTreeSet<String> = st
        .images
        .keys()
        .filter(|k| !prev.images.contains_key(*k))
        .cloned()
        .collect();
    let save = |st: &State, warnings: &mut Vec<String>| {
        if !opts.dry_run
            && let Err(e) = state::save(&opts.state_file, st)
        {
            warnings.push(format!(
                "cannot save the state file {}: {e}",
                opts.state_file.display()
            ));
        }
    };
    save(&st, &mut out.warnings);

    let prune_opts = prune::Options {
        mode: Mode::Yes,
        selectors: prune::Selectors::default(),
        data_root: None,
        state_dir: opts.state_dir.clone(),
        plan_out: None,
    };
    let mut used = before.used_bytes;
    let mut seen_left: HashSet<(Kind, String)> = HashSet::new();
    out.acted = used >= high;
    if out.acted {
        'steps: for &step in policy.steps.iter().filter(|s| policy.runs(**s)) {
            if used <= low {
                break;
            }
            if matches!(step, Step::Orphans | Step::Quarantine) && !orphans_ok {
                push_once(
                    &mut out.warnings,
                    format!(
                        "step {} skipped: {}",
                        step.as_str(),
                        if id.containerd_store {
                            "the containerd image store has no orphans to move (containerd \
                             collects what nothing references)"
                        } else {
                            "the data root is seen only through another mount namespace"
                        }
                    ),
                );
                continue;
            }
            let mut sr = StepRun {
                step,
                planned: Vec::new(),
                done: Vec::new(),
                skipped: Vec::new(),
                runs: Vec::new(),
                freed_bytes: 0,
            };
            let step_before = used;
            let mut tried: HashSet<String> = HashSet::new();
            loop {
                if used <= low {
                    break;
                }
                if opts.stopping() {
                    out.warnings
                        .push("stopped (SIGTERM) before the next step".into());
                    break 'steps;
                }
                facts = gather(
                    &engine,
                    &root,
                    &st,
                    &opts.state_dir,
                    step == Step::Orphans && orphans_ok,
                    ctrd.as_deref(),
                    &mut out.warnings,
                )?;
                facts.now = now();
                let q = if step == Step::Quarantine {
                    quarantined(&root, facts.now)
                } else {
                    Vec::new()
                };
                let v = View {
                    facts: &facts,
                    seen: &st.images,
                    new: &new,
                    quarantined: &q,
                };
                let mut plan = order::plan_step(&policy, &globs, step, &v, used - low);
                for l in &plan.left {
                    if seen_left.insert((l.kind, l.id.clone())) {
                        *out.skipped.entry(l.why.as_str().to_string()).or_default() += 1;
                        out.left.push(l.clone());
                    }
                }
                // An item a round already tried (and apply left) is not tried again in this run.
                plan.items.retain(|i| !tried.contains(&i.id));
                if plan.items.is_empty() && plan.purge_older_than.is_none() {
                    break;
                }
                tried.extend(plan.items.iter().map(|i| i.id.clone()));
                sr.planned.extend(plan.items.iter().map(|i| Victim {
                    kind: i.kind,
                    id: i.id.clone(),
                    bytes: i.bytes,
                    rule: i.rule.clone(),
                    refs: i.refs.clone(),
                }));
                sr.planned.extend(plan.purge.iter().map(|q| Victim {
                    kind: Kind::Orphan,
                    id: q.path.clone(),
                    bytes: q.bytes,
                    rule: "quarantined orphans past quarantine.grace".into(),
                    refs: Vec::new(),
                }));
                if opts.dry_run {
                    used = used.saturating_sub(plan.estimate);
                    break;
                }
                let done_before = sr.done.len();
                if let Some(older) = plan.purge_older_than {
                    let o = prune::run(&prune::Options {
                        mode: Mode::Purge { older_than: older },
                        ..prune_opts.clone()
                    })?;
                    take(&mut sr, o, &mut out);
                }
                if !plan.items.is_empty() {
                    let p = plan_of(&facts, &policy, std::mem::take(&mut plan.items));
                    let o = prune::apply::apply_plan(&prune_opts, &p)?;
                    take(&mut sr, o, &mut out);
                }
                used = measure(&root)?.used_bytes;
                if sr.done.len() == done_before || step == Step::Quarantine {
                    break;
                }
            }
            sr.freed_bytes = step_before.saturating_sub(used);
            if !sr.planned.is_empty() {
                out.steps.push(sr);
            }
            if used <= low {
                break 'steps;
            }
        }
    }
    out.after = if opts.dry_run {
        Usage {
            used_bytes: used,
            free_bytes: before.free_bytes + (before.used_bytes - used),
        }
    } else {
        measure(&root)?
    };
    out.reached_low = out.after.used_bytes <= low;
    if out.acted && !out.reached_low {
        if !opts.dry_run {
            facts = gather(
                &engine,
                &root,
                &st,
                &opts.state_dir,
                false,
                ctrd.as_deref(),
                &mut out.warnings,
            )?;
            facts.orphans = Vec::new();
        }
        out.holding = holding(&facts, out.after.used_bytes);
    }
    if !out.acted || out.reached_low {
        st.last_success = Some(now());
    }
    out.last_success = st.last_success;
    save(&st, &mut out.warnings);
    out.duration_seconds = started.elapsed().as_secs_f64();
    if let Some(m) = &opts.metrics {
        let text = crate::report::reclaim::metrics(&out);
        if let Err(e) = write_metrics(m, &text) {
            out.warnings.push(format!(
                "cannot write the metrics file {}: {e}",
                m.display()
            ));
        }
    }
    Ok(out)
}

/// Folds one prune outcome into the step.
fn take(sr: &mut StepRun, o: prune::Outcome, out: &mut Outcome) {
    out.warnings.extend(o.warnings);
    for r in o.recovered {
        out.warnings.push(format!(
            "settled the interrupted run {} ({} steps)",
            r.run,
            r.settled.len()
        ));
    }
    if let Some(r) = o.result {
        sr.runs.push(r.run_id);
        sr.done.extend(r.deleted);
        for s in r.skipped {
            *out.skipped
                .entry(Why::Changed.as_str().to_string())
                .or_default() += 1;
            sr.skipped.push(s);
        }
    }
}
