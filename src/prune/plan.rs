//! The plan: a pure selection over [`Facts`]. Every object a selector names is either an item (with the
//! bytes its deletion frees and the rule that chose it) or kept (with the reason). Nothing here reads or
//! writes anything.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Kind;
use super::facts::{Facts, format_time};

/// What to select. Each object kind is opt-in; there is no "everything".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selectors {
    /// Untagged images no other image has as parent.
    pub dangling_images: bool,
    /// Images unused for at least this many seconds (0: any age).
    pub unused_images: Option<u64>,
    /// Stopped containers finished at least this many seconds ago (0: any age).
    pub stopped_containers: Option<u64>,
    /// Anonymous volumes no container uses.
    pub volumes: bool,
    /// Named volumes no container uses.
    pub named_volumes: bool,
    /// Build-cache records unused for this long (0: any age).
    pub build_cache: Option<u64>,
    /// Build-cache records, least recently used first, until the rest fits in this many bytes.
    pub build_cache_budget: Option<u64>,
    /// Container logs over this size: findings with the fix.
    pub logs_over: Option<u64>,
    /// With `--held`: truncate deleted json-file/local logs dockerd still holds; with `--logs-over`:
    /// truncate to 0 the json-file/local log files over the size (data loss, both).
    pub truncate_logs: bool,
    /// Deleted files still held open: restart their container (restart policy) or truncate the log.
    pub held: bool,
    /// With `--held`: restart containers without a restart policy too.
    pub restart_any: bool,
    /// Orphans of the data root, as `dredge df` finds them.
    pub orphans: bool,
    /// Orphans changed, and images, containers and volumes created, less than this many seconds ago
    /// are kept: a build, pull, commit or `docker run` may be under way.
    pub grace: u64,
    /// Images with a `repo:tag` matching one of these globs are kept.
    pub keep: Vec<String>,
    /// Images with one of these labels (`KEY`, or `KEY=VALUE`) are kept.
    pub keep_labels: Vec<(String, Option<String>)>,
    /// The N most recently used images of each repository are kept.
    pub keep_last: Option<usize>,
}

impl Selectors {
    /// True when at least one object kind is selected.
    pub fn any(&self) -> bool {
        self.dangling_images
            || self.unused_images.is_some()
            || self.stopped_containers.is_some()
            || self.volumes
            || self.named_volumes
            || self.build_cache.is_some()
            || self.build_cache_budget.is_some()
            || self.logs_over.is_some()
            || self.orphans
            || self.held
    }
    /// True when something the engine knows is selected (the engine must then answer).
    pub fn engine_objects(&self) -> bool {
        self.any() && !(self.orphans && self.only_orphans())
    }
    /// True when orphans are the only selection.
    pub fn only_orphans(&self) -> bool {
        let mut s = self.clone();
        s.orphans = false;
        self.orphans && !s.any()
    }
}

/// One object the plan deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Full image id, container id, volume name, build-cache record id, or orphan path.
    pub id: String,
    /// Bytes its deletion frees (an image: its layers nothing else shares).
    pub bytes: u64,
    /// The rule that chose it.
    pub rule: String,
    /// Images: the `repo:tag` references to untag; containers: the name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    /// Images: last use when planned (seconds since the epoch); a newer use skips it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<i64>,
    /// Containers: `FinishedAt` when planned (seconds since the epoch; None: never ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// Containers: the image it was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Volumes: `CreatedAt` as the engine gave it (another volume behind the same name differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Orphans: the audit's kind (`unreferenced-dir`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_kind: Option<String>,
    /// Orphans: other paths that go with it (its layerdb or mounts record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// Orphans: newest modification inside when planned (ns since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ns: Option<i64>,
    /// Held: what is done (`restart` the container, `truncate` the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_action: Option<HeldAction>,
    /// Held: the container (a restart: the item's id; a log: the container it belongs to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Held: the container's `State.StartedAt` when planned (a restart since changes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_started: Option<String>,
    /// Held: the deleted files it frees, with what identifies each (re-checked before acting); for a
    /// restart, one entry per descriptor holding them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<HeldRef>,
    /// Log (`--logs-over --truncate-logs`): the file truncated, with what identifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<LogRef>,
    /// True when doing it discards content (a log truncated): data loss.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_loss: bool,
}

/// The log file a `log` item truncates, as planned (re-checked before it is truncated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRef {
    /// Its path (beneath the data root).
    pub path: String,
    /// The container's log driver (`json-file` or `local`).
    pub driver: String,
    /// `--logs-over`: the file must still be over this many bytes.
    pub over: u64,
    /// `st_dev` when planned.
    pub dev: u64,
    /// `st_ino` when planned (a rotation since puts another file behind the path).
    pub inode: u64,
    /// `st_size` when planned: the log content lost.
    pub size: u64,
}

/// What a `held` item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeldAction {
    /// `POST /containers/{id}/restart`: its processes close their descriptors.
    Restart,
    /// Open `/proc/PID/fd/N` write-only and truncate to 0: the log's content is lost.
    Truncate,
}

impl HeldAction {
    /// The name used in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldAction::Restart => "restart",
            HeldAction::Truncate => "truncate",
        }
    }
}

/// One deleted file a `held` item frees, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldRef {
    /// The holding process.
    pub pid: u32,
    /// Its start time (`/proc/PID/stat` field 22, clock ticks after boot): another process behind a
    /// re-used pid differs.
    pub pid_start: u64,
    /// The descriptor: `/proc/PID/fd/FD`.
    pub fd: u32,
    /// `st_dev` through the descriptor.
    pub dev: u64,
    /// Inode number.
    pub inode: u64,
    /// Allocated bytes when planned.
    pub bytes: u64,
    /// The path it had.
    pub path: String,
}

/// A deleted file still held open that the plan does not act on: a finding with the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldFinding {
    /// `PID:FD` of its main holder.
    pub id: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's name.
    pub process: String,
    /// The descriptor.
    pub fd: u32,
    /// The container it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// That container's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// The path it had.
    pub path: String,
    /// Allocated bytes.
    pub bytes: u64,
    /// `dredge df`'s fix (`restart-container`, `truncate-log`, `restart-process`).
    pub fix: String,
    /// Why the plan does not act on it.
    pub reason: String,
}

impl Item {
    /// An item with only its kind, id, bytes and rule set (the rest empty).
    pub fn new(kind: Kind, id: &str, bytes: u64, rule: String) -> Item {
        Item {
            kind,
            id: id.to_string(),
            bytes,
            rule,
            refs: Vec::new(),
            last_used: None,
            finished_at: None,
            image: None,
            created_at: None,
            orphan_kind: None,
            also: Vec::new(),
            modified_ns: None,
            held_action: None,
            container: None,
            container_started: None,
            files: Vec::new(),
            log_file: None,
            data_loss: false,
        }
    }
}

/// Layers that only several planned images share: freed only when they all go, counted once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shared {
    /// Bytes of those layers.
    pub bytes: u64,
    /// The planned images that share them.
    pub images: Vec<String>,
}

/// An object a selector named that the plan keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// What it is.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Why it stays.
    pub reason: String,
}

/// A container whose logs are over `--logs-over`: a finding with the fix, not a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFinding {
    /// The container's id.
    pub container: String,
    /// Its name.
    pub name: String,
    /// Its log driver.
    pub driver: String,
    /// Bytes of its logs now.
    pub log_bytes: u64,
    /// What to change so that they stay bounded.
    pub fix: String,
}

/// The fix for a container's unbounded (or too generous) logs. Pure.
pub fn log_fix(driver: &str, opts: &BTreeMap<String, String>) -> String {
    const DAEMON: &str = "for new containers, set \"log-driver\": \"local\" or \"log-opts\": \
                          {\"max-size\": \"10m\", \"max-file\": \"3\"} in /etc/docker/daemon.json \
                          and restart the engine";
    match (driver, opts.get("max-size")) {
        ("json-file", None) => format!(
            "json-file without max-size grows for ever: recreate the container with --log-opt \
             max-size=10m --log-opt max-file=3 (or --log-driver local); {DAEMON}"
        ),
        ("json-file" | "local", Some(max)) => format!(
            "rotation is on (max-size {max}, max-file {}): lower them when recreating the container",
            opts.get("max-file")
                .map_or("1 (json-file) or 5 (local)", String::as_str)
        ),
        ("local", None) => format!(
            "the local driver keeps 5 files of 20 MB by default: recreate with smaller --log-opt \
             max-size/max-file; {DAEMON}"
        ),
        (d, _) => format!("logs are kept by the {d} driver: bound them in its own options"),
    }
}

/// The `dredge.prune.plan` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// When planned (RFC 3339, UTC).
    pub created: String,
    /// The engine's id (`docker info` ID), or `offline`.
    pub engine_id: String,
    /// The data root.
    pub data_root: String,
    /// `live` (engine) or `offline` (`--data-root`, daemon stopped).
    pub mode: String,
    /// Objects to delete, in the order they go (containers, volumes, images, orphans).
    pub items: Vec<Item>,
    /// Layers freed only because several planned images go together.
    #[serde(default)]
    pub shared: Vec<Shared>,
    /// Σ item bytes + Σ shared bytes.
    pub total_bytes: u64,
    /// What the selectors named but the plan keeps.
    #[serde(default)]
    pub kept: Vec<Kept>,
    /// Containers whose logs are over `--logs-over`, with the fix (nothing is deleted for them).
    #[serde(default)]
    pub logs: Vec<LogFinding>,
    /// Deleted files still held open that `--held` does not act on, with the fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldFinding>,
    /// Orphans: the grace period planned with (seconds); apply re-checks with it.
    #[serde(default = "default_grace")]
    pub grace_seconds: u64,
    /// Selections that could not be made (not implemented, figures missing).
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn default_grace() -> u64 {
    3600
}

fn age_text(secs: u64) -> String {
    match secs {
        0 => "any age".into(),
        s if s % 86_400 == 0 => format!("≥ {}d", s / 86_400),
        s if s % 3600 == 0 => format!("≥ {}h", s / 3600),
        s if s % 60 == 0 => format!("≥ {}m", s / 60),
        s => format!("≥ {s}s"),
    }
}

/// The repository of a `repo:tag` reference (the registry's port is not the tag).
pub fn repository(reference: &str) -> &str {
    match reference.rfind(':') {
        Some(i) if !reference[i..].contains('/') => &reference[..i],
        _ => reference,
    }
}

fn label_matches(labels: &BTreeMap<String, String>, keep: &[(String, Option<String>)]) -> bool {
    keep.iter().any(|(k, v)| match (labels.get(k), v) {
        (Some(_), None) => true,
        (Some(have), Some(want)) => have == want,
        _ => false,
    })
}

/// Makes the plan. `mode` is `live` or `offline`; `globs` are the compiled `--keep` globs.
pub fn plan(facts: &Facts, sel: &Selectors, globs: &globset::GlobSet, mode: &str) -> Plan {
    let mut items: Vec<Item> = Vec::new();
    let mut kept: Vec<Kept> = Vec::new();
    let mut warnings = Vec::new();
    let keep = |kept: &mut Vec<Kept>, kind, id: &str, reason: String| {
        kept.push(Kept {
            kind,
            id: id.to_string(),
            reason,
        })
    };

    // Containers first: their images and volumes may then be free.
    let mut gone_containers: HashSet<&str> = HashSet::new();
    if let Some(min) = sel.stopped_containers {
        for c in &facts.containers {
            if c.active {
                continue;
            }
            let young = facts.now - c.created;
            if young < sel.grace as i64 {
                keep(
                    &mut kept,
                    Kind::Container,
                    &c.id,
                    format!(
                        "created {} ago, within --grace: a run may be starting it",
                        human_secs(young.max(0) as u64)
                    ),
                );
                continue;
            }
            let since = c.finished_at.unwrap_or(c.created);
            let age = facts.now - since;
            if age < min as i64 {
                keep(
                    &mut kept,
                    Kind::Container,
                    &c.id,
                    format!(
                        "stopped {} ago, less than {}",
                        human_secs(age.max(0) as u64),
                        human_secs(min)
                    ),
                );
                continue;
            }
            let mut it = Item::new(
                Kind::Container,
                &c.id,
                c.bytes,
                format!(
                    "stopped container ({}), {}",
                    match c.finished_at {
                        Some(t) => format!("finished {}", format_time(t)),
                        None => format!("never started, created {}", format_time(c.created)),
                    },
                    age_text(min)
                ),
            );
            it.refs = vec![c.name.clone()];
            it.finished_at = c.finished_at;
            it.image = Some(c.image.clone());
            items.push(it);
            gone_containers.insert(&c.id);
        }
    }
    let staying: Vec<_> = facts
        .containers
        .iter()
        .filter(|c| !gone_containers.contains(c.id.as_str()))
        .collect();

    // Volumes no staying container mounts.
    if sel.volumes || sel.named_volumes {
        for v in &facts.volumes {
            let wanted = if v.anonymous {
                sel.volumes
            } else {
                sel.named_volumes
            };
            if !wanted {
                continue;
            }
            if let Some(t) = super::facts::parse_time(&v.created_at)
                && facts.now - t < sel.grace as i64
            {
                keep(
                    &mut kept,
                    Kind::Volume,
                    &v.name,
                    format!(
                        "created {} ago, within --grace: a container may be being made with it",
                        human_secs((facts.now - t).max(0) as u64)
                    ),
                );
                continue;
            }
            if let Some(c) = staying.iter().find(|c| c.volumes.contains(&v.name)) {
                keep(
                    &mut kept,
                    Kind::Volume,
                    &v.name,
                    format!("mounted by container {}", c.name),
                );
                continue;
            }
            let mut it = Item::new(
                Kind::Volume,
                &v.name,
                v.bytes,
                format!(
                    "{} volume, no container uses it",
                    if v.anonymous { "anonymous" } else { "named" }
                ),
            );
            it.created_at = Some(v.created_at.clone());
            items.push(it);
        }
    }

    // Images.
    if sel.dangling_images || sel.unused_images.is_some() {
        // --keep-last N: the N most recently used images of each repository.
        let mut kept_last: HashSet<&str> = HashSet::new();
        if let Some(n) = sel.keep_last {
            let mut by_repo: BTreeMap<&str, Vec<&super::facts::ImageFact>> = BTreeMap::new();
            for i in &facts.images {
                let repos: BTreeSet<&str> = i.tags.iter().map(|t| repository(t)).collect();
                for r in repos {
                    by_repo.entry(r).or_default().push(i);
                }
            }
            for list in by_repo.values_mut() {
                list.sort_by_key(|i| {
                    std::cmp::Reverse((facts.last_use(&i.id).unwrap_or(facts.now), i.created))
                });
                kept_last.extend(list.iter().take(n).map(|i| i.id.as_str()));
            }
        }
        let mut chosen: Vec<&super::facts::ImageFact> = Vec::new();
        let mut candidates: Vec<(&super::facts::ImageFact, String)> = Vec::new();
        for i in &facts.images {
            let dangling = i.tags.is_empty();
            let selected = (dangling && sel.dangling_images) || sel.unused_images.is_some();
            let young = facts.now - i.created;
            if selected && young < sel.grace as i64 {
                keep(
                    &mut kept,
                    Kind::Image,
                    &i.id,
                    format!(
                        "created {} ago, within --grace: a build or commit may be under way",
                        human_secs(young.max(0) as u64)
                    ),
                );
                continue;
            }
            let rule = if dangling && sel.dangling_images {
                "dangling image (untagged)".to_string()
            } else if let Some(min) = sel.unused_images {
                let last = facts.last_use(&i.id).unwrap_or(facts.now);
                let idle = (facts.now - last).max(0) as u64;
                if idle < min {
                    keep(
                        &mut kept,
                        Kind::Image,
                        &i.id,
                        format!(
                            "last used {} ago, less than {}",
                            human_secs(idle),
                            human_secs(min)
                        ),
                    );
                    continue;
                }
                format!(
                    "unused image {}, last use {}",
                    age_text(min),
                    format_time(last)
                )
            } else {
                continue;
            };
            if let Some(c) = staying.iter().find(|c| c.image == i.id) {
                keep(
                    &mut kept,
                    Kind::Image,
                    &i.id,
                    format!("used by container {}", c.name),
                );
                continue;
            }
            if let Some(why) = &i.held_by_lease {
                keep(&mut kept, Kind::Image, &i.id, why.clone());
                continue;
            }
            if let Some(t) = i
                .tags
                .iter()
                .find(|t| globs.is_match(t.as_str()) || globs.is_match(repository(t)))
            {
                keep(&mut kept, Kind::Image, &i.id, format!("--keep matches {t}"));
                continue;
            }
            if label_matches(&i.labels, &sel.keep_labels) {
                keep(&mut kept, Kind::Image, &i.id, "--keep-label matches".into());
                continue;
            }
            if kept_last.contains(i.id.as_str()) {
                keep(
                    &mut kept,
                    Kind::Image,
                    &i.id,
                    "among the --keep-last of its repository".into(),
                );
                continue;
            }
            candidates.push((i, rule));
        }
        // A parent goes only with all its children, after them; else it is kept (and so are its
        // own parents, in turn).
        loop {
            let ids: HashSet<&str> = candidates.iter().map(|(i, _)| i.id.as_str()).collect();
            let before = candidates.len();
            candidates.retain(|(i, _)| {
                let staying_child = facts
                    .images
                    .iter()
                    .find(|c| c.parent.as_deref() == Some(&i.id) && !ids.contains(c.id.as_str()));
                match staying_child {
                    Some(c) => {
                        kept.push(Kept {
                            kind: Kind::Image,
                            id: i.id.clone(),
                            reason: format!("parent of image {}, which stays", c.id),
                        });
                        false
                    }
                    None => true,
                }
            });
            if candidates.len() == before {
                break;
            }
        }
        let depth = |i: &super::facts::ImageFact| {
            let mut d = 0;
            let mut cur = i.parent.as_deref();
            while let Some(p) = cur.filter(|_| d < facts.images.len()) {
                d += 1;
                cur = facts.image(p).and_then(|x| x.parent.as_deref());
            }
            d
        };
        // Children (deeper) first; a stable sort keeps the engine's order otherwise.
        candidates.sort_by_key(|(i, _)| std::cmp::Reverse(depth(i)));
        for (i, rule) in candidates {
            let mut it = Item::new(Kind::Image, &i.id, 0, rule);
            it.refs = i.tags.clone();
            it.last_used = facts.last_use(&i.id);
            items.push(it);
            chosen.push(i);
        }
        // Bytes: a layer's users are every image whose chain has it and every staying container's image.
        let mut users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for i in &facts.images {
            for c in &i.chain {
                users.entry(c).or_default().insert(&i.id);
            }
        }
        let mut pinned: HashSet<&str> = HashSet::new();
        for c in &staying {
            if let Some(img) = facts.image(&c.image) {
                pinned.extend(img.chain.iter().map(String::as_str));
            }
        }
        for (holder, parts) in &facts.held_parts {
            if holder
                .as_deref()
                .is_none_or(|c| !gone_containers.contains(c))
            {
                pinned.extend(parts.iter().map(String::as_str));
            }
        }
        let planned: HashSet<&str> = chosen.iter().map(|i| i.id.as_str()).collect();
        let mut own: HashMap<&str, u64> = HashMap::new();
        let mut shared: BTreeMap<BTreeSet<&str>, u64> = BTreeMap::new();
        let mut missing = 0usize;
        for (layer, who) in &users {
            if pinned.contains(layer) || !who.iter().all(|w| planned.contains(w)) {
                continue;
            }
            let Some(bytes) = facts.layer_bytes.get(*layer) else {
                missing += 1;
                continue;
            };
            if who.len() == 1 {
                if let Some(w) = who.iter().next() {
                    *own.entry(w).or_default() += bytes;
                }
            } else {
                *shared.entry(who.clone()).or_default() += bytes;
            }
        }
        if missing > 0 {
            warnings.push(format!(
                "{missing} layer sizes could not be read from the data root: those bytes are not counted"
            ));
        }
        for it in items.iter_mut().filter(|i| i.kind == Kind::Image) {
            it.bytes = own.get(it.id.as_str()).copied().unwrap_or(0);
        }
        let shared: Vec<Shared> = shared
            .into_iter()
            .map(|(who, bytes)| Shared {
                bytes,
                images: who.into_iter().map(String::from).collect(),
            })
            .collect();
        return finish(facts, sel, mode, items, shared, kept, warnings);
    }
    finish(facts, sel, mode, items, Vec::new(), kept, warnings)
}

fn finish(
    facts: &Facts,
    sel: &Selectors,
    mode: &str,
    mut items: Vec<Item>,
    shared: Vec<Shared>,
    mut kept: Vec<Kept>,
    warnings: Vec<String>,
) -> Plan {
    if sel.orphans {
        for o in &facts.orphans {
            if o.needs_daemon_stopped && mode == "live" {
                kept.push(Kept {
                    kind: Kind::Orphan,
                    id: o.path.clone(),
                    reason: "a layer chain with a complete layerdb record: the running daemon may \
                             use it again; stop the engine and run dredge prune --data-root PATH \
                             --orphans"
                        .into(),
                });
                continue;
            }
            if !super::recheck::past_grace(o.modified_ns, facts.now_ns, sel.grace) {
                kept.push(Kept {
                    kind: Kind::Orphan,
                    id: o.path.clone(),
                    reason: format!("changed less than {} ago (--grace)", human_secs(sel.grace)),
                });
                continue;
            }
            let mut it = Item::new(
                Kind::Orphan,
                &o.path,
                o.bytes,
                format!("orphan ({}), unchanged for {}", o.kind, age_text(sel.grace)),
            );
            it.orphan_kind = Some(o.kind.clone());
            it.also = o.also.clone();
            it.modified_ns = o.modified_ns;
            items.push(it);
        }
    }
    let mut logs = Vec::new();
    if let Some(over) = sel.logs_over {
        for c in facts.containers.iter().filter(|c| c.log_bytes > over) {
            logs.push(LogFinding {
                container: c.id.clone(),
                name: c.name.clone(),
                driver: c.log_driver.clone(),
                log_bytes: c.log_bytes,
                fix: log_fix(&c.log_driver, &c.log_opts),
            });
            if sel.truncate_logs {
                match truncate_log(c, over) {
                    Ok(it) => items.push(it),
                    Err(reason) => kept.push(Kept {
                        kind: Kind::Log,
                        id: c.id.clone(),
                        reason,
                    }),
                }
            }
        }
        logs.sort_by_key(|l| std::cmp::Reverse(l.log_bytes));
    }
    build_cache(facts, sel, &mut items, &mut kept);
    let held_findings = if sel.held {
        held(facts, sel, &mut items)
    } else {
        Vec::new()
    };
    items.sort_by_key(|i| match i.kind {
        Kind::Container => 0,
        Kind::Volume => 1,
        Kind::Image => 2,
        Kind::BuildCache => 3,
        Kind::Log => 4,
        Kind::Orphan => 5,
        Kind::Held => 6,
    });
    let total_bytes =
        items.iter().map(|i| i.bytes).sum::<u64>() + shared.iter().map(|s| s.bytes).sum::<u64>();
    Plan {
        created: format_time(facts.now),
        engine_id: facts.engine_id.clone(),
        data_root: facts.data_root.clone(),
        mode: mode.to_string(),
        items,
        shared,
        total_bytes,
        kept,
        logs,
        held: held_findings,
        grace_seconds: sel.grace,
        warnings,
    }
}

/// Build-cache records unused for `--build-cache[=D]`, and the least recently used ones until what
/// is left fits `--build-cache-budget`. Records in use or shared with images are kept.
fn build_cache(facts: &Facts, sel: &Selectors, items: &mut Vec<Item>, kept: &mut Vec<Kept>) {
    if sel.build_cache.is_none() && sel.build_cache_budget.is_none() {
        return;
    }
    let mut chosen: BTreeMap<&str, String> = BTreeMap::new();
    let mut candidates = Vec::new();
    for r in &facts.build_cache {
        let why = if r.in_use {
            Some("in use by a build".to_string())
        } else if r.shared {
            Some("shared with an image: deleting it frees nothing".to_string())
        } else {
            None
        };
        if let Some(reason) = why {
            kept.push(Kept {
                kind: Kind::BuildCache,
                id: r.id.clone(),
                reason,
            });
            continue;
        }
        candidates.push(r);
        if let Some(min) = sel.build_cache {
            let idle = facts.now - r.last_used.unwrap_or(facts.now);
            if idle >= min as i64 {
                chosen.insert(&r.id, format!("build cache unused {}", age_text(min)));
            }
        }
    }
    if let Some(budget) = sel.build_cache_budget {
        let mut left: u64 = facts
            .build_cache
            .iter()
            .filter(|r| !r.shared)
            .map(|r| r.bytes)
            .sum::<u64>()
            - candidates
                .iter()
                .filter(|r| chosen.contains_key(r.id.as_str()))
                .map(|r| r.bytes)
                .sum::<u64>();
        candidates.sort_by_key(|r| (r.last_used.unwrap_or(i64::MAX), r.id.clone()));
        let rest: Vec<_> = candidates
            .iter()
            .filter(|r| !chosen.contains_key(r.id.as_str()))
            .collect();
        for r in rest {
            if left <= budget {
                break;
            }
            left -= r.bytes;
            chosen.insert(
                &r.id,
                format!(
                    "least recently used, over the build-cache budget of {}",
                    crate::report::size(budget)
                ),
            );
        }
    }
    for r in &facts.build_cache {
        if let Some(rule) = chosen.remove(r.id.as_str()) {
            let mut it = Item::new(Kind::BuildCache, &r.id, r.bytes, rule);
            it.last_used = r.last_used;
            if !r.description.is_empty() {
                it.refs = vec![r.description.clone()];
            }
            items.push(it);
        }
    }
}

/// `--logs-over SIZE --truncate-logs`: the item truncating a container's live log file to 0, or why
/// not. Only the json-file and local drivers (their files are the data root's, and dockerd appends to
/// them with `O_APPEND`, so it writes on at the new end); only the file the driver writes now (rotated
/// files are bounded by `max-file`), and only when that file itself is over the size. Pure.
pub fn truncate_log(c: &super::facts::ContainerFact, over: u64) -> Result<Item, String> {
    if !matches!(c.log_driver.as_str(), "json-file" | "local") {
        return Err(format!(
            "the {} log driver is not json-file or local: its logs are not truncated",
            c.log_driver
        ));
    }
    let Some(f) = &c.log_file else {
        return Err("its log file was not found (or is not a regular file)".into());
    };
    if f.size <= over {
        return Err(format!(
            "the file its driver writes now holds {}, not over --logs-over ({}); the rest is \
             rotated files (bounded by max-file): lower max-size/max-file",
            crate::report::size(f.size),
            crate::report::size(over)
        ));
    }
    let mut it = Item::new(
        Kind::Log,
        &c.id,
        f.allocated,
        format!(
            "{} log of container {} holds {}, over {}: truncated to 0 (--truncate-logs, its \
             content is lost)",
            c.log_driver,
            c.name,
            crate::report::size(f.size),
            crate::report::size(over)
        ),
    );
    it.refs = vec![c.name.clone()];
    it.log_file = Some(LogRef {
        path: f.path.clone(),
        driver: c.log_driver.clone(),
        over,
        dev: f.dev,
        inode: f.inode,
        size: f.size,
    });
    it.data_loss = true;
    Ok(it)
}

/// `--held`: deleted files still held open become items (a container with a restart policy, or any
/// with `--restart-any`, is restarted; a deleted json-file/local log dockerd holds is truncated with
/// `--truncate-logs`); the rest are findings with the fix. Pure.
fn held(facts: &Facts, sel: &Selectors, items: &mut Vec<Item>) -> Vec<HeldFinding> {
    use crate::model::held::{HeldFix, HolderKind};
    let mut findings = Vec::new();
    let mut restarts: BTreeMap<&str, (u64, Vec<HeldRef>)> = BTreeMap::new();
    // A file with no blocks (a log truncated already) frees nothing: neither an item nor a finding.
    for f in facts.held.iter().filter(|f| f.bytes > 0) {
        let finding = |reason: String| HeldFinding {
            id: format!("{}:{}", f.pid, f.fd),
            pid: f.pid,
            process: f.process.clone(),
            fd: f.fd,
            container: f.container.clone(),
            container_name: f.container_name.clone(),
            path: f.path.clone(),
            bytes: f.bytes,
            fix: f.fix.as_str().to_string(),
            reason,
        };
        let Some(start) = facts.proc_start.get(&f.pid).copied() else {
            findings.push(finding(format!(
                "the start time of process {} could not be read: it cannot be re-checked",
                f.pid
            )));
            continue;
        };
        let r = HeldRef {
            pid: f.pid,
            pid_start: start,
            fd: f.fd,
            dev: f.dev,
            inode: f.inode,
            bytes: f.bytes,
            path: f.path.clone(),
        };
        let c = f
            .container
            .as_deref()
            .and_then(|id| facts.held_containers.get(id));
        match (f.fix, c) {
            (HeldFix::RestartProcess, _) => findings.push(finding(
                "held by a process of no container: restart or stop it yourself".into(),
            )),
            (_, None) => findings.push(finding(
                "its container is not known to the engine any more".into(),
            )),
            (_, Some(c)) if !c.running => {
                findings.push(finding(format!("container {} is not running", c.name)))
            }
            (HeldFix::TruncateLog, Some(c)) => {
                if !matches!(c.log_driver.as_str(), "json-file" | "local") {
                    findings.push(finding(format!(
                        "the {} log driver is not json-file or local: restart the container",
                        c.log_driver
                    )));
                } else if f.holder != HolderKind::Dockerd || f.holders.len() != 1 {
                    findings.push(finding(
                        "held by other processes than dockerd: restart them, or the container"
                            .into(),
                    ));
                } else if !sel.truncate_logs {
                    findings.push(finding(
                        "truncating loses the log's content: pass --truncate-logs to do it".into(),
                    ));
                } else {
                    let mut it = Item::new(
                        Kind::Held,
                        &format!("{}:{}", f.pid, f.fd),
                        f.bytes,
                        format!(
                            "deleted {} log of container {} still held by dockerd: truncate \
                             (--truncate-logs, its content is lost)",
                            c.log_driver, c.name
                        ),
                    );
                    it.refs = vec![c.name.clone()];
                    it.held_action = Some(HeldAction::Truncate);
                    it.container = Some(c.id.clone());
                    it.container_started = Some(c.started_at.clone());
                    it.files = vec![r];
                    it.data_loss = true;
                    items.push(it);
                }
            }
            (HeldFix::RestartContainer, Some(c)) => {
                if c.has_restart_policy() || sel.restart_any {
                    // Every descriptor holding it (the restart frees it while any is still there).
                    let e = restarts.entry(c.id.as_str()).or_default();
                    e.0 += f.bytes;
                    e.1.push(r);
                    for h in f.holders.iter().filter(|h| (h.pid, h.fd) != (f.pid, f.fd)) {
                        if let Some(&start) = facts.proc_start.get(&h.pid) {
                            e.1.push(HeldRef {
                                pid: h.pid,
                                pid_start: start,
                                fd: h.fd,
                                dev: f.dev,
                                inode: f.inode,
                                bytes: f.bytes,
                                path: f.path.clone(),
                            });
                        }
                    }
                } else {
                    findings.push(finding(format!(
                        "container {} has no restart policy: restart it yourself, or pass \
                         --restart-any",
                        c.name
                    )));
                }
            }
        }
    }
    for (id, (bytes, files)) in restarts {
        let Some(c) = facts.held_containers.get(id) else {
            continue;
        };
        let n = files
            .iter()
            .map(|f| (f.dev, f.inode))
            .collect::<BTreeSet<_>>()
            .len();
        let mut it = Item::new(
            Kind::Held,
            id,
            bytes,
            format!(
                "running container holds {n} deleted file{}: restart ({})",
                if n == 1 { "" } else { "s" },
                if c.has_restart_policy() {
                    format!("restart policy {}", c.restart_policy)
                } else {
                    "no restart policy, --restart-any".into()
                }
            ),
        );
        it.refs = vec![c.name.clone()];
        it.held_action = Some(HeldAction::Restart);
        it.container = Some(c.id.clone());
        it.container_started = Some(c.started_at.clone());
        it.files = files;
        items.push(it);
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.bytes));
    findings
}

/// Seconds for people: `42s`, `5m`, `3h`, `2d`.
pub fn human_secs(s: u64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Compiles `--keep` globs (`*` does not cross `/`).
pub fn keep_globs(globs: &[String]) -> Result<globset::GlobSet, String> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        let glob = globset::GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("--keep {g}: {e}"))?;
        b.add(glob);
    }
    b.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::facts::{ContainerFact, ImageFact, OrphanFact, VolumeFact};

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_796_136_354;

    fn img(id: &str, tags: &[&str], chain: &[&str]) -> ImageFact {
        ImageFact {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            chain: chain.iter().map(|t| t.to_string()).collect(),
            created: NOW - 1000 * DAY, // old on purpose: creation time is never age
            ..Default::default()
        }
    }
    fn ctr(id: &str, image: &str, finished: Option<i64>, active: bool) -> ContainerFact {
        ContainerFact {
            id: id.into(),
            name: format!("n-{id}"),
            image: image.into(),
            active,
            status: if active { "running" } else { "exited" }.into(),
            started_at: finished.map(|f| f - 10),
            finished_at: finished,
            created: NOW - 30 * DAY,
            bytes: 7,
            ..Default::default()
        }
    }
    fn facts() -> Facts {
        let mut f = Facts {
            engine_id: "E".into(),
            data_root: "/var/lib/docker".into(),
            now: NOW,
            now_ns: NOW * 1_000_000_000,
            ..Default::default()
        };
        f.images = vec![
            img("sha256:base", &["base:1"], &["L0"]),
            img("sha256:d1", &[], &["L0", "L1"]),
            img("sha256:d2", &[], &["L0", "L1", "L2"]),
            img("sha256:app1", &["app:1"], &["L0", "L3"]),
            img("sha256:app2", &["app:2"], &["L0", "L4"]),
            img("sha256:app3", &["app:3"], &["L0", "L5"]),
        ];
        f.layer_bytes = [
            ("L0", 100),
            ("L1", 10),
            ("L2", 20),
            ("L3", 30),
            ("L4", 40),
            ("L5", 50),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        f
    }
    fn none() -> globset::GlobSet {
        keep_globs(&[]).unwrap()
    }
    fn ids(p: &Plan, kind: Kind) -> Vec<&str> {
        p.items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.id.as_str())
            .collect()
    }

    #[test]
    fn a_leased_image_stays_and_held_parts_are_not_counted() {
        // The containerd store: d2 is being loaded (a lease reaches its root), a lease pins L1, and a
        // container's lease pins L2 only while that container stays.
        let mut f = facts();
        f.images[2].held_by_lease = Some("content held by lease load-1 (expires in 23h59m)".into());
        f.containers = vec![ctr("c1", "sha256:gone", Some(NOW - 2 * DAY), false)];
        f.held_parts = vec![
            (None, vec!["L1".into()]),
            (Some("c1".into()), vec!["L3".into()]),
        ];
        let sel = Selectors {
            unused_images: Some(0),
            keep: vec!["base:*".into(), "app:2".into(), "app:3".into()],
            ..Default::default()
        };
        let globs = keep_globs(&sel.keep).unwrap();
        let p = plan(&f, &sel, &globs, "live");
        assert_eq!(ids(&p, Kind::Image), ["sha256:d1", "sha256:app1"]);
        let k = p.kept.iter().find(|k| k.id == "sha256:d2").unwrap();
        assert!(k.reason.contains("lease load-1"), "{}", k.reason);
        // d1's own L1 is pinned by a lease; app1's L3 by the staying container c1.
        assert!(p.items.iter().all(|i| i.bytes == 0), "{:?}", p.items);
        // With c1 planned too, L3 goes with app1.
        let sel = Selectors {
            stopped_containers: Some(0),
            ..sel
        };
        let p = plan(&f, &sel, &globs, "live");
        let app1 = p.items.iter().find(|i| i.id == "sha256:app1").unwrap();
        assert_eq!(app1.bytes, 30);
    }

    #[test]
    fn nothing_selected_nothing_planned() {
        let p = plan(&facts(), &Selectors::default(), &none(), "live");
        assert!(p.items.is_empty());
        assert!(!Selectors::default().any());
    }

    #[test]
    fn dangling_images_count_their_own_layers_and_shared_ones_once() {
        let sel = Selectors {
            dangling_images: true,
            ..Default::default()
        };
        let p = plan(&facts(), &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Image), ["sha256:d1", "sha256:d2"]);
        // d1 owns nothing alone (L1 is d2's too), d2 owns L2; L1 is shared by the two planned images.
        let b: Vec<u64> = p.items.iter().map(|i| i.bytes).collect();
        assert_eq!(b, [0, 20]);
        assert_eq!(
            p.shared,
            [Shared {
                bytes: 10,
                images: vec!["sha256:d1".into(), "sha256:d2".into()]
            }]
        );
        assert_eq!(p.total_bytes, 30);
    }

    #[test]
    fn an_image_used_by_any_container_is_kept_unless_the_container_goes_too() {
        let mut f = facts();
        f.containers = vec![ctr("c1", "sha256:d2", Some(NOW - 5 * DAY), false)];
        let sel = Selectors {
            dangling_images: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Image), ["sha256:d1"]);
        assert!(
            p.kept
                .iter()
                .any(|k| k.id == "sha256:d2" && k.reason.contains("used by container n-c1"))
        );
        // L1 is pinned by the container's image: d1 frees nothing.
        assert_eq!(p.total_bytes, 0);
        let sel = Selectors {
            dangling_images: true,
            stopped_containers: Some(0),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Container), ["c1"]);
        assert_eq!(ids(&p, Kind::Image), ["sha256:d1", "sha256:d2"]);
        assert_eq!(p.items[0].kind, Kind::Container, "containers go first");
        assert_eq!(p.total_bytes, 7 + 30);
    }

    #[test]
    fn a_parent_image_goes_after_its_children_or_stays_with_them() {
        let mut f = facts();
        f.images[2].parent = Some("sha256:d1".into());
        let sel = Selectors {
            dangling_images: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(
            ids(&p, Kind::Image),
            ["sha256:d2", "sha256:d1"],
            "child first"
        );
        // A child that stays (tagged, not selected) keeps its parent.
        f.images[3].parent = Some("sha256:d1".into());
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Image), ["sha256:d2"]);
        assert!(
            p.kept
                .iter()
                .any(|k| k.id == "sha256:d1" && k.reason.contains("parent of image sha256:app1"))
        );
        // And its grandparent through it: d1 stays, so base (unused, tagged) does too.
        f.images[1].parent = Some("sha256:base".into());
        let sel = Selectors {
            unused_images: Some(0),
            keep: vec!["app:*".into()],
            ..Default::default()
        };
        let p = plan(&f, &sel, &keep_globs(&["app:*".into()]).unwrap(), "live");
        let planned = ids(&p, Kind::Image);
        assert!(
            !planned.contains(&"sha256:d1") && !planned.contains(&"sha256:base"),
            "{planned:?}"
        );
    }

    #[test]
    fn stopped_containers_by_finished_at_never_running_ones() {
        let mut f = facts();
        f.containers = vec![
            ctr("old", "sha256:base", Some(NOW - 10 * DAY), false),
            ctr("new", "sha256:base", Some(NOW - 3600), false),
            ctr("run", "sha256:base", None, true),
            ctr("created", "sha256:base", None, false), // never started: its creation counts
        ];
        let sel = Selectors {
            stopped_containers: Some(DAY as u64),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Container), ["old", "created"]);
        assert_eq!(p.items[0].finished_at, Some(NOW - 10 * DAY));
        assert!(p.kept.iter().any(|k| k.id == "new"));
        assert!(!p.kept.iter().any(|k| k.id == "run"));
        let p = plan(
            &f,
            &Selectors {
                stopped_containers: Some(0),
                ..Default::default()
            },
            &none(),
            "live",
        );
        assert_eq!(ids(&p, Kind::Container), ["old", "new", "created"]);
    }

    #[test]
    fn volumes_anonymous_only_unless_named_asked_and_never_one_a_container_mounts() {
        let mut f = facts();
        let anon = "a".repeat(64);
        let anon_used = "b".repeat(64);
        let vol = |n: &str, a: bool| VolumeFact {
            name: n.into(),
            anonymous: a,
            created_at: "t".into(),
            bytes: 5,
        };
        f.volumes = vec![
            vol(&anon, true),
            vol(&anon_used, true),
            vol("db", false),
            vol("cache", false),
        ];
        let mut stopped = ctr("s", "sha256:base", Some(NOW - DAY), false);
        stopped.volumes = vec![anon_used.clone(), "db".into()];
        f.containers = vec![stopped];
        let sel = Selectors {
            volumes: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Volume), [anon.as_str()]);
        let sel = Selectors {
            named_volumes: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Volume), ["cache"]);
        // The stopped container goes first: its volumes are then free.
        let sel = Selectors {
            volumes: true,
            named_volumes: true,
            stopped_containers: Some(0),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(p.items.len(), 5);
    }

    #[test]
    fn unused_images_by_last_use_never_creation_time() {
        let mut f = facts();
        // app:1 ran 10 days ago, app:2 an hour ago; app:3 was first seen now (state), base never.
        f.containers = vec![];
        f.last_used.insert("sha256:app1".into(), NOW - 10 * DAY);
        f.last_used.insert("sha256:app2".into(), NOW - 3600);
        f.last_used.insert("sha256:app3".into(), NOW);
        let sel = Selectors {
            unused_images: Some(7 * DAY as u64),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        // base was never seen before: first seen now, so not idle, even though created 1000 days ago.
        assert_eq!(ids(&p, Kind::Image), ["sha256:app1"]);
        assert_eq!(p.items[0].refs, ["app:1"]);
        assert_eq!(p.items[0].bytes, 30);
        assert_eq!(p.items[0].last_used, Some(NOW - 10 * DAY));
        // A container's start counts as a use.
        f.containers = vec![ctr("c", "sha256:app1", Some(NOW - 60), false)];
        let p = plan(
            &f,
            &Selectors {
                unused_images: Some(7 * DAY as u64),
                stopped_containers: Some(0),
                ..Default::default()
            },
            &none(),
            "live",
        );
        assert!(ids(&p, Kind::Image).is_empty());
    }

    #[test]
    fn keep_rules() {
        let mut f = facts();
        f.images[3].labels.insert("keep".into(), "yes".into());
        for i in &f.images {
            f.last_used.insert(i.id.clone(), NOW - 30 * DAY);
        }
        f.last_used.insert("sha256:app3".into(), NOW - 20 * DAY);
        let sel = Selectors {
            unused_images: Some(0),
            keep: vec!["base:*".into()],
            keep_labels: vec![("keep".into(), Some("yes".into()))],
            keep_last: Some(1),
            ..Default::default()
        };
        let p = plan(&f, &sel, &keep_globs(&["base:*".into()]).unwrap(), "live");
        // base: --keep; app1: label; app3: the newest of repo "app"; app2 goes; d1/d2 are untagged.
        assert_eq!(
            ids(&p, Kind::Image),
            ["sha256:d1", "sha256:d2", "sha256:app2"]
        );
        let reason = |id: &str| p.kept.iter().find(|k| k.id == id).unwrap().reason.clone();
        assert!(reason("sha256:base").contains("--keep"));
        assert!(reason("sha256:app1").contains("label"));
        assert!(reason("sha256:app3").contains("keep-last"));
        // A label without a value matches any value; a different value does not.
        let mut l = BTreeMap::new();
        l.insert("k".to_string(), "v".to_string());
        assert!(label_matches(&l, &[("k".into(), None)]));
        assert!(!label_matches(&l, &[("k".into(), Some("w".into()))]));
    }

    #[test]
    fn objects_created_within_the_grace_period_are_kept() {
        let mut f = facts();
        f.images[1].created = NOW - 30; // d1, just committed
        let mut c = ctr("starting", "sha256:base", None, false);
        c.created = NOW - 5;
        f.containers = vec![c];
        f.volumes = vec![VolumeFact {
            name: "a".repeat(64),
            anonymous: true,
            created_at: format_time(NOW - 5),
            bytes: 1,
        }];
        let sel = Selectors {
            dangling_images: true,
            stopped_containers: Some(0),
            volumes: true,
            grace: 60,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Image), ["sha256:d2"]);
        assert!(ids(&p, Kind::Container).is_empty() && ids(&p, Kind::Volume).is_empty());
        assert_eq!(
            p.kept
                .iter()
                .filter(|k| k.reason.contains("--grace"))
                .count(),
            3
        );
        let p = plan(&f, &Selectors { grace: 0, ..sel }, &none(), "live");
        assert_eq!(p.items.len(), 2 + 1 + 1);
    }

    #[test]
    fn repositories_keep_their_registry_port() {
        assert_eq!(repository("app:1"), "app");
        assert_eq!(repository("reg:5000/app:1"), "reg:5000/app");
        assert_eq!(repository("reg:5000/app"), "reg:5000/app");
    }

    #[test]
    fn orphans_need_grace_and_live_chains_need_the_daemon_stopped() {
        let mut f = facts();
        let now_ns = NOW * 1_000_000_000;
        let o = |p: &str, age_s: i64, chain: bool| OrphanFact {
            path: p.into(),
            kind: "unreferenced-dir".into(),
            bytes: 3,
            modified_ns: Some(now_ns - age_s * 1_000_000_000),
            needs_daemon_stopped: chain,
            ..Default::default()
        };
        f.orphans = vec![
            o("/r/overlay2/old", 7200, false),
            o("/r/overlay2/young", 60, false),
            o("/r/overlay2/chain", 7200, true),
        ];
        let sel = Selectors {
            orphans: true,
            grace: 3600,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Orphan), ["/r/overlay2/old"]);
        assert_eq!(p.kept.len(), 2);
        let p = plan(&f, &sel, &none(), "offline");
        assert_eq!(
            ids(&p, Kind::Orphan),
            ["/r/overlay2/old", "/r/overlay2/chain"]
        );
        assert!(sel.only_orphans() && !sel.engine_objects());
        // --grace 0s, to the nanosecond: an orphan changed 0.4 s ago, within the current second of
        // the clock, is planned; one "changed" after now (a clock step) is kept.
        f.now_ns = now_ns + 500_000_000;
        f.orphans = vec![OrphanFact {
            modified_ns: Some(now_ns + 100_000_000),
            ..o("/r/overlay2/fresh", 0, false)
        }];
        let zero = Selectors { grace: 0, ..sel };
        let p = plan(&f, &zero, &none(), "offline");
        assert_eq!(ids(&p, Kind::Orphan), ["/r/overlay2/fresh"]);
        f.orphans[0].modified_ns = Some(f.now_ns + 1);
        let p = plan(&f, &zero, &none(), "offline");
        assert!(ids(&p, Kind::Orphan).is_empty());
    }

    #[test]
    fn logs_over_a_size_are_findings_with_their_fix_not_items() {
        let mut f = facts();
        let mut big = ctr("big", "sha256:base", None, true);
        big.log_bytes = 5_000_000;
        big.log_driver = "json-file".into();
        let mut small = ctr("small", "sha256:base", None, true);
        small.log_bytes = 10;
        small.log_driver = "json-file".into();
        f.containers = vec![small, big];
        let sel = Selectors {
            logs_over: Some(1_000_000),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert!(p.items.is_empty());
        assert_eq!(p.logs.len(), 1);
        assert_eq!(p.logs[0].container, "big");
        assert!(p.logs[0].fix.contains("max-size=10m"), "{}", p.logs[0].fix);
        let mut opts = BTreeMap::new();
        opts.insert("max-size".to_string(), "1g".to_string());
        assert!(log_fix("json-file", &opts).contains("max-size 1g"));
        assert!(log_fix("journald", &BTreeMap::new()).contains("journald driver"));
        assert!(log_fix("local", &BTreeMap::new()).contains("20 MB"));
    }

    #[test]
    fn truncate_logs_makes_a_data_loss_item_of_each_json_file_or_local_log_over_the_size() {
        use crate::prune::facts::LogFile;
        let mut f = facts();
        let file = |path: &str, size: u64| LogFile {
            path: path.into(),
            dev: 1,
            inode: 9,
            size,
            allocated: size + 100,
        };
        let mut json = ctr("json", "sha256:base", None, true);
        json.log_bytes = 5_000_000;
        json.log_driver = "json-file".into();
        json.log_file = Some(file("/r/containers/json/json-json.log", 5_000_000));
        let mut local = ctr("local", "sha256:base", None, false);
        local.log_bytes = 3_000_000;
        local.log_driver = "local".into();
        local.log_file = Some(file(
            "/r/containers/local/local-logs/container.log",
            3_000_000,
        ));
        // Over the size only with its rotated files: truncating the live file would not help.
        let mut rotated = ctr("rotated", "sha256:base", None, true);
        rotated.log_bytes = 4_000_000;
        rotated.log_driver = "json-file".into();
        rotated.log_file = Some(file("/r/containers/rotated/rotated-json.log", 500_000));
        let mut journald = ctr("journald", "sha256:base", None, true);
        journald.log_bytes = 2_000_000;
        journald.log_driver = "journald".into();
        f.containers = vec![json, local, rotated, journald];
        let sel = Selectors {
            logs_over: Some(1_000_000),
            truncate_logs: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(p.logs.len(), 4, "the findings stay");
        let ids: Vec<&str> = p.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["json", "local"]);
        for i in &p.items {
            assert_eq!(i.kind, Kind::Log);
            assert!(i.data_loss);
            let l = i.log_file.as_ref().unwrap();
            assert_eq!(i.bytes, l.size + 100, "allocated bytes are what it frees");
            assert_eq!(l.over, 1_000_000);
            assert!(i.rule.contains("content is lost"), "{}", i.rule);
        }
        assert_eq!(p.total_bytes, 5_000_100 + 3_000_100);
        let why = |id: &str| {
            p.kept
                .iter()
                .find(|k| k.id == id)
                .map(|k| k.reason.clone())
                .unwrap()
        };
        assert!(
            why("rotated").contains("rotated files"),
            "{}",
            why("rotated")
        );
        assert!(why("journald").contains("not json-file or local"));
        // Without the flag: findings only.
        let p = plan(
            &f,
            &Selectors {
                truncate_logs: false,
                ..sel
            },
            &none(),
            "live",
        );
        assert!(p.items.is_empty() && p.kept.is_empty());
    }

    #[test]
    fn the_local_drivers_log_is_under_local_logs_and_other_drivers_have_none() {
        use crate::prune::facts::live_log_path;
        let id = "ab".repeat(32);
        assert_eq!(
            live_log_path("local", "", "/var/lib/docker/", &id).unwrap(),
            format!("/var/lib/docker/containers/{id}/local-logs/container.log")
        );
        assert_eq!(
            live_log_path("json-file", "/x/y-json.log", "/var/lib/docker", &id).as_deref(),
            Some("/x/y-json.log")
        );
        assert_eq!(live_log_path("json-file", "", "/r", &id), None);
        assert_eq!(live_log_path("local", "", "/r", "../../etc"), None);
        assert_eq!(live_log_path("journald", "/x", "/r", &id), None);
    }

    #[test]
    fn build_cache_by_age_and_by_budget_never_in_use_or_shared() {
        use crate::prune::facts::BuildRecord;
        let mut f = facts();
        let r = |id: &str, bytes: u64, age: i64, in_use: bool, shared: bool| BuildRecord {
            id: id.into(),
            bytes,
            in_use,
            shared,
            last_used: Some(NOW - age),
            description: String::new(),
        };
        f.build_cache = vec![
            r("old", 100, 10 * DAY, false, false),
            r("mid", 200, 3 * DAY, false, false),
            r("new", 300, 60, false, false),
            r("busy", 400, 20 * DAY, true, false),
            r("shared", 500, 20 * DAY, false, true),
        ];
        let sel = Selectors {
            build_cache: Some(2 * DAY as u64),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::BuildCache), ["old", "mid"]);
        assert_eq!(p.total_bytes, 300);
        assert!(p.kept.iter().any(|k| k.id == "busy"));
        assert!(p.kept.iter().any(|k| k.id == "shared"));
        // Not shared: 100+200+300+400 = 1000; down to 500: the least recently used go first (old,
        // mid), then new (busy is in use): 1000-100-200-300 = 400.
        let sel = Selectors {
            build_cache_budget: Some(500),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::BuildCache), ["old", "mid", "new"]);
        let sel = Selectors {
            build_cache_budget: Some(800),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::BuildCache), ["old", "mid"]);
        let sel = Selectors {
            build_cache_budget: Some(900),
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::BuildCache), ["old"]);
    }

    fn held_file(
        pid: u32,
        container: &str,
        holder: crate::model::held::HolderKind,
        fix: crate::model::held::HeldFix,
        bytes: u64,
    ) -> crate::model::held::HeldFile {
        use crate::model::held::{HeldFile, HeldOn, Holder};
        HeldFile {
            pid,
            process: "p".into(),
            fd: 3,
            container: Some(container.into()),
            container_name: Some(container.into()),
            holder,
            path: format!("/f{pid}"),
            bytes,
            apparent_bytes: bytes,
            dev: 1,
            inode: u64::from(pid),
            on: HeldOn::DataRoot,
            fix,
            holders: vec![Holder {
                pid,
                process: "p".into(),
                fd: 3,
                container: Some(container.into()),
                kind: holder,
            }],
        }
    }

    #[test]
    fn held_files_become_restarts_with_a_policy_and_truncations_with_the_flag() {
        use crate::model::held::{HeldFix, HolderKind};
        use crate::prune::facts::HeldContainer;
        let hc = |id: &str, policy: &str, driver: &str| HeldContainer {
            id: id.into(),
            name: format!("n-{id}"),
            running: true,
            started_at: "S".into(),
            restart_policy: policy.into(),
            log_driver: driver.into(),
            log_path: String::new(),
        };
        let mut f = Facts {
            held: vec![
                held_file(
                    1,
                    "always",
                    HolderKind::Container,
                    HeldFix::RestartContainer,
                    100,
                ),
                held_file(
                    2,
                    "always",
                    HolderKind::Container,
                    HeldFix::RestartContainer,
                    50,
                ),
                held_file(
                    3,
                    "never",
                    HolderKind::Container,
                    HeldFix::RestartContainer,
                    70,
                ),
                held_file(4, "log", HolderKind::Dockerd, HeldFix::TruncateLog, 30),
                held_file(5, "syslog", HolderKind::Dockerd, HeldFix::TruncateLog, 20),
                held_file(6, "x", HolderKind::Process, HeldFix::RestartProcess, 10),
                held_file(
                    7,
                    "stopped",
                    HolderKind::Container,
                    HeldFix::RestartContainer,
                    5,
                ),
                held_file(
                    8,
                    "unknown",
                    HolderKind::Container,
                    HeldFix::RestartContainer,
                    4,
                ),
            ],
            ..Default::default()
        };
        f.held.push(held_file(
            10,
            "log",
            HolderKind::Dockerd,
            HeldFix::TruncateLog,
            0,
        ));
        f.held.push(held_file(
            9,
            "always",
            HolderKind::Container,
            HeldFix::RestartContainer,
            1,
        ));
        for (id, c) in [
            ("always", hc("always", "always", "json-file")),
            ("never", hc("never", "no", "json-file")),
            ("log", hc("log", "", "json-file")),
            ("syslog", hc("syslog", "", "syslog")),
            (
                "stopped",
                HeldContainer {
                    running: false,
                    ..hc("stopped", "always", "local")
                },
            ),
        ] {
            f.held_containers.insert(id.into(), c);
        }
        // pid 9 has no readable start time: it cannot be re-checked.
        f.proc_start = (1..=10)
            .filter(|p| *p != 9)
            .map(|p| (p, u64::from(p) * 10))
            .collect();
        let sel = Selectors {
            held: true,
            ..Default::default()
        };
        assert!(sel.any());
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Held), vec!["always"]);
        let it = &p.items[0];
        assert_eq!(it.bytes, 150);
        assert_eq!(it.held_action, Some(HeldAction::Restart));
        assert_eq!(it.container_started.as_deref(), Some("S"));
        assert_eq!(
            it.files
                .iter()
                .map(|r| (r.pid, r.pid_start))
                .collect::<Vec<_>>(),
            vec![(1, 10), (2, 20)]
        );
        assert_eq!(p.total_bytes, 150);
        let why = |id: &str| {
            p.held
                .iter()
                .find(|h| h.id == id)
                .map(|h| h.reason.clone())
                .unwrap_or_default()
        };
        assert!(why("3:3").contains("no restart policy"));
        assert!(why("4:3").contains("--truncate-logs"));
        assert!(why("5:3").contains("syslog"));
        assert!(why("6:3").contains("no container"));
        assert!(why("7:3").contains("not running"));
        assert!(why("8:3").contains("not known"));
        assert!(why("9:3").contains("start time"));
        assert_eq!(p.held.len(), 7);
        assert_eq!(p.held[0].bytes, 70, "largest first");

        let sel = Selectors {
            held: true,
            truncate_logs: true,
            restart_any: true,
            ..Default::default()
        };
        let p = plan(&f, &sel, &none(), "live");
        assert_eq!(ids(&p, Kind::Held), vec!["4:3", "always", "never"]);
        let t = p.items.iter().find(|i| i.id == "4:3").unwrap();
        assert_eq!(t.held_action, Some(HeldAction::Truncate));
        assert_eq!(t.container.as_deref(), Some("log"));
        assert_eq!(t.bytes, 30);
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // Round trip through the document.
        let back: Plan = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }
}
