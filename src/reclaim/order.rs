//! Which victims one step takes: a pure function of the gathered facts, the remembered first
//! detections and last uses, the policy and the bytes still to free. It takes victims of the step's kind,
//! cheapest to lose first, until their bytes reach what is needed; everything the step looked at and
//! left is kept with its reason. The run ([`super::run`]) applies the step, measures, and asks again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::policy::{Policy, Step};
use super::state::Seen;
use crate::prune::Kind;
use crate::prune::facts::{Facts, ImageFact, format_time};
use crate::prune::plan::{Item, human_secs, repository};

/// Why a step left an object. The text is in [`Why::as_str`] and nowhere else (metric labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// A container (running or stopped) uses it, or a build uses the record, or a container mounts
    /// the volume, or the container is running.
    InUse,
    /// `images.keep` matches one of its references.
    Keep,
    /// `images.keep_labels` matches one of its labels.
    KeepLabel,
    /// Among the `images.keep_last` most recently used of its repository.
    KeepLast,
    /// Younger than the step's minimum age (images: since first detection).
    TooYoung,
    /// Built or pulled since the last run (first seen in this run).
    New,
    /// The parent of an image that stays.
    Parent,
    /// A build-cache record whose data an image shares: deleting it frees nothing.
    Shared,
    /// A layer chain with a complete record: only removed with the daemon stopped.
    NeedsDaemonStopped,
    /// Changed between planning and applying (apply's re-check).
    Changed,
}

impl Why {
    /// The reason's name in documents and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::InUse => "in-use",
            Why::Keep => "keep",
            Why::KeepLabel => "keep-label",
            Why::KeepLast => "keep-last",
            Why::TooYoung => "too-young",
            Why::New => "new",
            Why::Parent => "parent",
            Why::Shared => "shared",
            Why::NeedsDaemonStopped => "needs-daemon-stopped",
            Why::Changed => "changed",
        }
    }
}

/// An object a step looked at and left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    /// What it is.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Why it stays.
    pub why: Why,
    /// The same for people.
    pub reason: String,
}

/// A quarantine run dir, as gathered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Its path.
    pub path: String,
    /// Seconds since it was quarantined.
    pub age: i64,
    /// Allocated bytes.
    pub bytes: u64,
}

/// What one step decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepPlan {
    /// Victims, in the order they go (a child before its parent).
    pub items: Vec<Item>,
    /// The quarantine step: delete for good every run dir quarantined at least this many seconds ago.
    pub purge_older_than: Option<u64>,
    /// The quarantine run dirs that purge deletes.
    pub purge: Vec<Quarantined>,
    /// Σ the victims' bytes (what the step expects to free).
    pub estimate: u64,
    /// What the step looked at and left.
    pub left: Vec<Left>,
}

/// Everything a step decides on.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Fresh facts (`now` is the clock; `last_used` holds remembered last uses).
    pub facts: &'a Facts,
    /// First detection and last use of each image (this run's state).
    pub seen: &'a BTreeMap<String, Seen>,
    /// Images the previous run did not know (built or pulled since, or every image after a lost
    /// state file): never victims in this run.
    pub new: &'a BTreeSet<String>,
    /// Quarantine run dirs.
    pub quarantined: &'a [Quarantined],
}

fn item(kind: Kind, id: &str, bytes: u64, rule: String) -> Item {
    Item::new(kind, id, bytes, rule)
}

fn left(out: &mut Vec<Left>, kind: Kind, id: &str, why: Why, reason: String) {
    out.push(Left {
        kind,
        id: id.to_string(),
        why,
        reason,
    });
}

/// Plans one step: victims until their bytes reach `need` (all candidates if they never do).
pub fn plan_step(
    policy: &Policy,
    globs: &globset::GlobSet,
    step: Step,
    v: &View<'_>,
    need: u64,
) -> StepPlan {
    let mut p = StepPlan::default();
    let f = v.facts;
    let now = f.now;
    match step {
        Step::Quarantine => {
            let mut due: Vec<&Quarantined> = Vec::new();
            for q in v.quarantined {
                if q.age >= policy.quarantine_grace as i64 {
                    due.push(q);
                } else {
                    left(
                        &mut p.left,
                        Kind::Orphan,
                        &q.path,
                        Why::TooYoung,
                        format!(
                            "quarantined {} ago, less than quarantine.grace",
                            human_secs(q.age.max(0) as u64)
                        ),
                    );
                }
            }
            if !due.is_empty() {
                p.purge_older_than = Some(policy.quarantine_grace);
                p.estimate = due.iter().map(|q| q.bytes).sum();
                p.purge = due.into_iter().cloned().collect();
            }
        }
        Step::Orphans => {
            let now_ns = now.saturating_mul(1_000_000_000);
            let grace_ns = (policy.orphan_grace as i64).saturating_mul(1_000_000_000);
            let mut cands = Vec::new();
            for o in &f.orphans {
                if o.needs_daemon_stopped {
                    left(
                        &mut p.left,
                        Kind::Orphan,
                        &o.path,
                        Why::NeedsDaemonStopped,
                        "a layer chain with a complete layerdb record: removed only with the engine \
                         stopped (dredge prune --data-root PATH --orphans)"
                            .into(),
                    );
                    continue;
                }
                match o.modified_ns {
                    Some(m) if now_ns.saturating_sub(m) >= grace_ns => cands.push(o),
                    _ => left(
                        &mut p.left,
                        Kind::Orphan,
                        &o.path,
                        Why::TooYoung,
                        format!(
                            "changed less than {} ago (orphans.grace)",
                            human_secs(policy.orphan_grace)
                        ),
                    ),
                }
            }
            // Biggest first: the fewest moves to reach low.
            cands.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.path.cmp(&b.path)));
            for o in cands {
                if p.estimate >= need && !p.items.is_empty() {
                    break;
                }
                let mut it = item(
                    Kind::Orphan,
                    &o.path,
                    o.bytes,
                    format!(
                        "orphan ({}), unchanged for ≥ {}",
                        o.kind,
                        human_secs(policy.orphan_grace)
                    ),
                );
                it.orphan_kind = Some(o.kind.clone());
                it.also = o.also.clone();
                it.modified_ns = o.modified_ns;
                p.estimate += o.bytes;
                p.items.push(it);
            }
        }
        Step::BuildCache => {
            let mut cands = Vec::new();
            for r in &f.build_cache {
                if r.in_use {
                    left(
                        &mut p.left,
                        Kind::BuildCache,
                        &r.id,
                        Why::InUse,
                        "in use by a build".into(),
                    );
                } else if r.shared {
                    left(
                        &mut p.left,
                        Kind::BuildCache,
                        &r.id,
                        Why::Shared,
                        "shared with an image: deleting it frees nothing".into(),
                    );
                } else {
                    let idle = now - r.last_used.unwrap_or(now);
                    if idle >= policy.build_cache_unused_for as i64 {
                        cands.push(r);
                    } else {
                        left(
                            &mut p.left,
                            Kind::BuildCache,
                            &r.id,
                            Why::TooYoung,
                            format!(
                                "used {} ago, less than build_cache.unused_for",
                                human_secs(idle.max(0) as u64)
                            ),
                        );
                    }
                }
            }
            cands.sort_by_key(|r| (r.last_used.unwrap_or(now), r.id.clone()));
            for r in cands {
                if p.estimate >= need && !p.items.is_empty() {
                    break;
                }
                let mut it = item(
                    Kind::BuildCache,
                    &r.id,
                    r.bytes,
                    format!(
                        "build cache unused since {}",
                        r.last_used.map_or("?".into(), format_time)
                    ),
                );
                it.last_used = r.last_used;
                if !r.description.is_empty() {
                    it.refs = vec![r.description.clone()];
                }
                p.estimate += r.bytes;
                p.items.push(it);
            }
        }
        Step::StoppedContainers => {
            let mut cands = Vec::new();
            for c in &f.containers {
                if c.active {
                    continue; // running containers are not candidates at all
                }
                let since = c.finished_at.unwrap_or(c.created);
                let age = now - since;
                if age >= policy.container_finished_for as i64 {
                    cands.push((since, c));
                } else {
                    left(
                        &mut p.left,
                        Kind::Container,
                        &c.id,
                        Why::TooYoung,
                        format!(
                            "stopped {} ago, less than containers.finished_for",
                            human_secs(age.max(0) as u64)
                        ),
                    );
                }
            }
            cands.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
            for (_, c) in cands {
                if p.estimate >= need && !p.items.is_empty() {
                    break;
                }
                let mut it = item(
                    Kind::Container,
                    &c.id,
                    c.bytes,
                    match c.finished_at {
                        Some(t) => format!("stopped container, finished {}", format_time(t)),
                        None => format!(
                            "container never started, created {}",
                            format_time(c.created)
                        ),
                    },
                );
                it.refs = vec![c.name.clone()];
                it.finished_at = c.finished_at;
                it.image = Some(c.image.clone());
                p.estimate += c.bytes;
                p.items.push(it);
            }
        }
        Step::AnonymousVolumes => {
            let mut cands = Vec::new();
            for vol in f.volumes.iter().filter(|x| x.anonymous) {
                if let Some(c) = f.containers.iter().find(|c| c.volumes.contains(&vol.name)) {
                    left(
                        &mut p.left,
                        Kind::Volume,
                        &vol.name,
                        Why::InUse,
                        format!("mounted by container {}", c.name),
                    );
                    continue;
                }
                let created = crate::prune::facts::parse_time(&vol.created_at);
                match created {
                    Some(t) if now - t >= policy.volume_min_age as i64 => cands.push(vol),
                    _ => left(
                        &mut p.left,
                        Kind::Volume,
                        &vol.name,
                        Why::TooYoung,
                        "created less than volumes.min_age ago".into(),
                    ),
                }
            }
            cands.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
            for vol in cands {
                if p.estimate >= need && !p.items.is_empty() {
                    break;
                }
                let mut it = item(
                    Kind::Volume,
                    &vol.name,
                    vol.bytes,
                    "anonymous volume, no container uses it".into(),
                );
                it.created_at = Some(vol.created_at.clone());
                p.estimate += vol.bytes;
                p.items.push(it);
            }
        }
        Step::DanglingImages | Step::UnusedImages => images(policy, globs, step, v, need, &mut p),
    }
    p
}

/// The last use an image ranks by: its own, raised to its newest descendant's (so children go first).
fn rank_use(f: &Facts, v: &View<'_>, id: &str) -> i64 {
    let own = |id: &str| {
        f.last_use(id)
            .or_else(|| v.seen.get(id).map(|s| s.last_used))
            .unwrap_or(f.now)
    };
    let mut best = own(id);
    let mut frontier = vec![id.to_string()];
    let mut seen = HashSet::new();
    while let Some(p) = frontier.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        for c in f
            .images
            .iter()
            .filter(|c| c.parent.as_deref() == Some(p.as_str()))
        {
            best = best.max(own(&c.id));
            frontier.push(c.id.clone());
        }
    }
    best
}

fn images(
    policy: &Policy,
    globs: &globset::GlobSet,
    step: Step,
    v: &View<'_>,
    need: u64,
    p: &mut StepPlan,
) {
    let f = v.facts;
    let now = f.now;
    let has_child = |id: &str| f.images.iter().any(|c| c.parent.as_deref() == Some(id));
    // keep_last: the N most recently used images of each repository.
    let mut kept_last: HashSet<&str> = HashSet::new();
    if policy.keep_last > 0 && step == Step::UnusedImages {
        let mut by_repo: BTreeMap<&str, Vec<&ImageFact>> = BTreeMap::new();
        for i in &f.images {
            let repos: BTreeSet<&str> = i.tags.iter().map(|t| repository(t)).collect();
            for r in repos {
                by_repo.entry(r).or_default().push(i);
            }
        }
        for list in by_repo.values_mut() {
            list.sort_by_key(|i| {
                std::cmp::Reverse((rank_use(f, v, &i.id), i.created, i.id.clone()))
            });
            kept_last.extend(list.iter().take(policy.keep_last).map(|i| i.id.as_str()));
        }
    }
    let mut cands: Vec<&ImageFact> = Vec::new();
    for i in &f.images {
        let dangling = i.tags.is_empty() && !has_child(&i.id);
        if step == Step::DanglingImages && !dangling {
            continue;
        }
        let mut why = |w: Why, r: String| left(&mut p.left, Kind::Image, &i.id, w, r);
        if let Some(c) = f.containers.iter().find(|c| c.image == i.id) {
            why(
                Why::InUse,
                format!("used by container {} ({})", c.name, c.status),
            );
            continue;
        }
        let Some(seen) = v.seen.get(&i.id) else {
            why(Why::New, "first seen in this run".into());
            continue;
        };
        if v.new.contains(&i.id) {
            why(Why::New, "built or pulled since the last run".into());
            continue;
        }
        let age = now - seen.first_seen;
        if age < policy.image_min_age as i64 {
            why(
                Why::TooYoung,
                format!(
                    "first seen {} ago, less than images.min_age",
                    human_secs(age.max(0) as u64)
                ),
            );
            continue;
        }
        if let Some(t) = i
            .tags
            .iter()
            .find(|t| globs.is_match(t.as_str()) || globs.is_match(repository(t)))
        {
            why(Why::Keep, format!("images.keep matches {t}"));
            continue;
        }
        if policy
            .keep_labels
            .iter()
            .any(|(k, want)| match (i.labels.get(k), want) {
                (Some(_), None) => true,
                (Some(have), Some(w)) => have == w,
                _ => false,
            })
        {
            why(Why::KeepLabel, "images.keep_labels matches".into());
            continue;
        }
        if kept_last.contains(i.id.as_str()) {
            why(
                Why::KeepLast,
                format!(
                    "among the {} most recently used of its repository",
                    policy.keep_last
                ),
            );
            continue;
        }
        cands.push(i);
    }
    // A parent goes only after all its children: one with a child that stays, stays (and its own
    // parents in turn).
    loop {
        let ids: HashSet<&str> = cands.iter().map(|i| i.id.as_str()).collect();
        let before = cands.len();
        cands.retain(|i| {
            match f
                .images
                .iter()
                .find(|c| c.parent.as_deref() == Some(&i.id) && !ids.contains(c.id.as_str()))
            {
                Some(c) => {
                    left(
                        &mut p.left,
                        Kind::Image,
                        &i.id,
                        Why::Parent,
                        format!("parent of image {}, which stays", c.id),
                    );
                    false
                }
                None => true,
            }
        });
        if cands.len() == before {
            break;
        }
    }
    // Least recently used first, ties by first detection (kubelet), then id.
    let first = |id: &str| v.seen.get(id).map_or(now, |s| s.first_seen);
    cands.sort_by_key(|i| (rank_use(f, v, &i.id), first(&i.id), i.id.clone()));
    // Layer users, and layers a container pins.
    let mut users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for i in &f.images {
        for c in &i.chain {
            users.entry(c).or_default().insert(&i.id);
        }
    }
    let mut pinned: HashSet<&str> = HashSet::new();
    for c in &f.containers {
        if let Some(img) = f.image(&c.image) {
            pinned.extend(img.chain.iter().map(String::as_str));
        }
    }
    let mut chosen: Vec<&ImageFact> = Vec::new();
    let mut chosen_ids: HashSet<&str> = HashSet::new();
    let mut counted: HashSet<&str> = HashSet::new();
    // Passes: each takes, in LRU order, the images whose children are all taken already.
    loop {
        let mut progress = false;
        for i in &cands {
            if chosen_ids.contains(i.id.as_str()) {
                continue;
            }
            if p.estimate >= need && !chosen.is_empty() {
                break;
            }
            let waits = f
                .images
                .iter()
                .any(|c| c.parent.as_deref() == Some(&i.id) && !chosen_ids.contains(c.id.as_str()));
            if waits {
                continue;
            }
            chosen_ids.insert(&i.id);
            // Bytes: its layers that no image outside the chosen ones has, that no container pins,
            // not counted yet.
            let mut bytes = 0;
            for layer in &i.chain {
                let free = !pinned.contains(layer.as_str())
                    && !counted.contains(layer.as_str())
                    && users
                        .get(layer.as_str())
                        .is_some_and(|u| u.iter().all(|w| chosen_ids.contains(w)));
                if free {
                    counted.insert(layer);
                    bytes += f.layer_bytes.get(layer).copied().unwrap_or(0);
                }
            }
            let last = f
                .last_use(&i.id)
                .or_else(|| v.seen.get(&i.id).map(|s| s.last_used));
            let rule = if step == Step::DanglingImages {
                "dangling image (untagged, no child)".to_string()
            } else {
                format!(
                    "unused image, last used {}, first seen {}",
                    last.map_or("?".into(), format_time),
                    format_time(first(&i.id))
                )
            };
            let mut it = item(Kind::Image, &i.id, bytes, rule);
            it.refs = i.tags.clone();
            it.last_used = f.last_use(&i.id);
            p.estimate += bytes;
            p.items.push(it);
            chosen.push(i);
            progress = true;
        }
        if !progress || (p.estimate >= need && !chosen.is_empty()) {
            break;
        }
    }
}

#[cfg(test)]
mod tests;
