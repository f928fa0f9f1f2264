//! From waste to Dockerfile changes: which instruction made each layer, what to change, and exactly how
//! many bytes each change saves. Savings come from the stacked image (shared/docs/size-rules.md §3):
//! merging RUNs is simulated by combining the layers' entries as one layer would hold them.

pub mod dockerfile;
pub mod edit;
pub mod history;
pub mod lint;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::analysis::caches;
use crate::analysis::stack::{self, Reason, Stacked};
use crate::model::{EntryKind, Image, Layer, Paths, display_path};
use dockerfile::{Dockerfile, squash};
use edit::Change;
use history::{LayerMap, Step};

/// What kind of change a suggestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Merge consecutive RUNs whose later ones delete or overwrite what earlier ones wrote.
    MergeRuns,
    /// Delete, in the RUN that made them, files a later (not mergeable) RUN deletes.
    CleanupInCreatingRun,
    /// Package-manager caches and temp files left by a RUN: a flag, a cleanup or a cache mount.
    Cache,
    /// `RUN chown -R`/`chmod -R` copying a COPYed tree: `COPY --chown`/`--chmod` instead.
    CopyChown,
    /// Compilers, headers and static libraries in the final image: build in another stage.
    MultiStage,
    /// Junk sent by the build context and COPYed in: a `.dockerignore`.
    Dockerignore,
}

impl Kind {
    /// The kebab-case name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::MergeRuns => "merge-runs",
            Kind::CleanupInCreatingRun => "cleanup-in-creating-run",
            Kind::Cache => "cache",
            Kind::CopyChown => "copy-chown",
            Kind::MultiStage => "multi-stage",
            Kind::Dockerignore => "dockerignore",
        }
    }
}

/// Bytes behind a suggestion: which path, which layer wrote it, which hid it.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The path (a file, or the directory whose subtree it is).
    pub path: String,
    /// Bytes of data.
    pub bytes: u64,
    /// Regular files.
    pub files: u64,
    /// Layer that wrote them.
    pub added_in: usize,
    /// Layer that hid them (`None`: still visible).
    pub hidden_by: Option<usize>,
    /// `deleted`, `opaque`, `overwritten`, or `visible`.
    pub reason: &'static str,
}

/// Lines of the Dockerfile (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineSpan {
    /// First line.
    pub start: usize,
    /// Last line.
    pub end: usize,
}

/// One change to make, with its saving and the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// What kind of change.
    pub kind: Kind,
    /// Bytes of layer content the change removes from the image.
    pub bytes_saved: u64,
    /// One line for people.
    pub title: String,
    /// Layers involved.
    pub layers: Vec<usize>,
    /// Dockerfile lines involved (empty without a matching Dockerfile).
    pub lines: Vec<LineSpan>,
    /// The bytes behind the saving, largest first (at most 20 rows).
    pub evidence: Vec<Evidence>,
    /// Evidence rows left out.
    pub evidence_more: usize,
    /// Text to paste into the Dockerfile (or `.dockerignore`).
    pub snippet: String,
    /// True when `--diff`/`--write` apply it.
    pub mechanical: bool,
    /// hadolint's rule for the same problem, if any.
    pub hadolint: Option<&'static str>,
    /// Caveats.
    pub note: Option<String>,
    /// The edit, for `--diff`/`--write`.
    #[serde(skip)]
    pub changes: Vec<Change>,
}

/// What one layer is, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerStep {
    /// Layer index.
    pub index: usize,
    /// The history's `created_by`.
    pub created_by: Option<String>,
    /// Content bytes.
    pub content_bytes: u64,
    /// The Dockerfile lines that made it.
    pub lines: Option<LineSpan>,
    /// True for layers below the Dockerfile's final stage.
    pub base: bool,
}

/// The `dredge.advice` document body.
#[derive(Debug, Clone, Serialize)]
pub struct Advice {
    /// What the user named.
    pub source: String,
    /// The Dockerfile given, if any.
    pub dockerfile: Option<String>,
    /// True when the Dockerfile's final stage matches the image's history.
    pub dockerfile_matched: bool,
    /// Why it does not, when it does not.
    pub mismatch: Option<String>,
    /// Σ layer content bytes.
    pub size_bytes: u64,
    /// Σ `bytes_saved` over the suggestions (they never count a byte twice).
    pub bytes_saved: u64,
    /// Layers and the instructions that made them.
    pub layers: Vec<LayerStep>,
    /// Suggestions, largest saving first.
    pub suggestions: Vec<Suggestion>,
    /// Things that limited the advice.
    pub warnings: Vec<String>,
}

const EVIDENCE_ROWS: usize = 20;

/// Quotes a path for sh when it needs it.
fn sh_quote(p: &str) -> String {
    if p.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        p.to_string()
    } else {
        format!("'{}'", p.replace('\'', "'\\''"))
    }
}

/// Content bytes of one layer holding what `layers` (consecutive) would hold if they were one
/// instruction: later entries replace earlier ones at the same path, whiteouts and opaque markers
/// remove what earlier layers of the range wrote, hard links keep data alive under their other name.
pub fn merged_content_bytes(paths: &Paths, layers: &[Layer]) -> u64 {
    struct Kept {
        path: Box<[u8]>,
        is_dir: bool,
        size: u64,
        layer: usize,
        /// For a hard link: the path of the data it names.
        link: Option<Box<[u8]>>,
    }
    let mut kept: Vec<Option<Kept>> = Vec::new();
    let mut at: BTreeMap<Box<[u8]>, usize> = BTreeMap::new();
    let mut links: HashMap<Box<[u8]>, Vec<usize>> = HashMap::new();

    fn remove(
        kept: &mut [Option<Kept>],
        at: &mut BTreeMap<Box<[u8]>, usize>,
        links: &mut HashMap<Box<[u8]>, Vec<usize>>,
        idx: usize,
    ) {
        let Some(k) = kept[idx].take() else { return };
        at.remove(&k.path);
        if let Some(t) = &k.link
            && let Some(v) = links.get_mut(t)
        {
            v.retain(|&i| i != idx);
        }
        // The data lives on under its first remaining hard link.
        if !k.is_dir && k.link.is_none() {
            let names: Vec<usize> = links
                .remove(&k.path)
                .unwrap_or_default()
                .into_iter()
                .filter(|&i| kept[i].is_some())
                .collect();
            if let Some((&heir, rest)) = names.split_first() {
                let heir_path = {
                    let h = kept[heir].as_mut().expect("filtered on is_some");
                    h.size = k.size;
                    h.link = None;
                    h.path.clone()
                };
                for &r in rest {
                    if let Some(x) = kept[r].as_mut() {
                        x.link = Some(heir_path.clone());
                    }
                }
                if !rest.is_empty() {
                    links.insert(heir_path, rest.to_vec());
                }
            }
        }
    }
    fn remove_below(
        kept: &mut [Option<Kept>],
        at: &mut BTreeMap<Box<[u8]>, usize>,
        links: &mut HashMap<Box<[u8]>, Vec<usize>>,
        dir: &[u8],
        before_layer: usize,
    ) {
        let mut lo = dir.to_vec();
        lo.push(b'/');
        let mut hi = dir.to_vec();
        hi.push(b'/' + 1);
        let idx: Vec<usize> = at
            .range::<[u8], _>((
                std::ops::Bound::Excluded(lo.as_slice()),
                std::ops::Bound::Excluded(hi.as_slice()),
            ))
            .map(|(_, &i)| i)
            .filter(|&i| kept[i].as_ref().is_some_and(|k| k.layer < before_layer))
            .collect();
        for i in idx {
            remove(kept, at, links, i);
        }
    }

    for (li, layer) in layers.iter().enumerate() {
        for e in layer
            .entries
            .iter()
            .filter(|e| e.kind() == EntryKind::Opaque)
        {
            remove_below(&mut kept, &mut at, &mut links, &paths.bytes(e.path), li);
        }
        for e in &layer.entries {
            let path: Box<[u8]> = paths.bytes(e.path).into();
            match &e.kind() {
                EntryKind::Opaque => {}
                EntryKind::Whiteout => {
                    if let Some(&i) = at.get(&path)
                        && kept[i].as_ref().is_some_and(|k| k.layer < li)
                    {
                        remove(&mut kept, &mut at, &mut links, i);
                    }
                    remove_below(&mut kept, &mut at, &mut links, &path, li);
                }
                kind => {
                    // A non-directory standing where a parent directory goes is replaced.
                    let mut end = path.len();
                    while let Some(p) = path[..end].iter().rposition(|&b| b == b'/') {
                        if let Some(&i) = at.get(&path[..p])
                            && kept[i].as_ref().is_some_and(|k| !k.is_dir)
                        {
                            remove(&mut kept, &mut at, &mut links, i);
                        }
                        end = p;
                    }
                    let is_dir = *kind == EntryKind::Dir;
                    if let Some(&i) = at.get(&path) {
                        let old_dir = kept[i].as_ref().is_some_and(|k| k.is_dir);
                        remove(&mut kept, &mut at, &mut links, i);
                        if old_dir && !is_dir {
                            remove_below(&mut kept, &mut at, &mut links, &path, usize::MAX);
                        }
                    }
                    let link = match kind {
                        EntryKind::Hardlink { target } => {
                            let t: Box<[u8]> = paths.bytes(*target).into();
                            at.contains_key(&t).then_some(t)
                        }
                        _ => None,
                    };
                    let idx = kept.len();
                    if let Some(t) = &link {
                        links.entry(t.clone()).or_default().push(idx);
                    }
                    kept.push(Some(Kept {
                        path: path.clone(),
                        is_dir,
                        size: e.size,
                        layer: li,
                        link,
                    }));
                    at.insert(path, idx);
                }
            }
        }
    }
    kept.iter().flatten().map(|k| k.size).sum()
}

/// What the advisor knows about each layer.
struct Ctx<'a> {
    image: &'a Image,
    df: Option<&'a Dockerfile>,
    map: LayerMap,
    st: Stacked,
    /// The final filesystem as (path, node), sorted by path.
    live: Vec<(Box<[u8]>, stack::Node)>,
}

impl Ctx<'_> {
    fn instr(&self, layer: usize) -> Option<&dockerfile::Instruction> {
        let df = self.df?;
        self.map
            .instruction
            .get(layer)
            .copied()
            .flatten()
            .map(|i| &df.instructions[i])
    }
    fn is_run(&self, layer: usize) -> bool {
        match self.instr(layer) {
            Some(i) => i.keyword == "RUN",
            None => self.df.is_none() && matches!(self.map.steps[layer], Step::Run { .. }),
        }
    }
    fn is_copy(&self, layer: usize) -> bool {
        match self.instr(layer) {
            Some(i) => matches!(i.keyword.as_str(), "COPY" | "ADD"),
            None => self.df.is_none() && matches!(self.map.steps[layer], Step::Copy { .. }),
        }
    }
    /// The command text of a RUN layer.
    fn command(&self, layer: usize) -> String {
        if let Some(i) = self.instr(layer) {
            return squash(&i.args);
        }
        match &self.map.steps[layer] {
            Step::Run { command } => squash(command),
            _ => String::new(),
        }
    }
    fn span(&self, layer: usize) -> Option<LineSpan> {
        self.instr(layer).map(|i| LineSpan {
            start: i.start_line,
            end: i.end_line,
        })
    }
    fn spans(&self, layers: &[usize]) -> Vec<LineSpan> {
        layers.iter().filter_map(|&l| self.span(l)).collect()
    }
    /// Layers the Dockerfile at hand can change.
    fn ours(&self, layer: usize) -> bool {
        layer >= self.map.base_layers
    }
    /// True when RUN layers `l` and `l + 1` could be one RUN without changing meaning.
    fn mergeable_pair(&self, l: usize) -> bool {
        if !(self.is_run(l) && self.is_run(l + 1) && self.ours(l)) {
            return false;
        }
        match self.df {
            Some(_) => {
                let (Some(&Some(a)), Some(&Some(b))) =
                    (self.map.instruction.get(l), self.map.instruction.get(l + 1))
                else {
                    return false;
                };
                let df = self.df.expect("matched above");
                let (ia, ib) = (&df.instructions[a], &df.instructions[b]);
                b == a + 1
                    && edit::appendable(ia)
                    && edit::appendable(ib)
                    && ["mount", "network", "security"]
                        .iter()
                        .all(|f| ia.flag(f) == ib.flag(f))
            }
            // From history alone: nothing recorded between them (ENV, USER, WORKDIR… leave records).
            None => self.image.layers[l + 1].history.empty_before.is_empty(),
        }
    }
}

fn evidence_rows(mut rows: Vec<Evidence>) -> (Vec<Evidence>, usize) {
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    let more = rows.len().saturating_sub(EVIDENCE_ROWS);
    rows.truncate(EVIDENCE_ROWS);
    (rows, more)
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Deleted => "deleted",
        Reason::Opaque => "opaque",
        Reason::Overwritten => "overwritten",
    }
}

fn hidden_evidence(paths: &Paths, items: &[&stack::HiddenItem]) -> (Vec<Evidence>, usize) {
    evidence_rows(
        items
            .iter()
            .map(|h| Evidence {
                path: paths.display(h.path),
                bytes: h.bytes,
                files: h.files,
                added_in: h.added(),
                hidden_by: Some(h.hidden_by()),
                reason: reason_name(h.reason),
            })
            .collect(),
    )
}

/// True when the command has an `rm` that cannot fail on a missing file (`-f`, `-rf`, `--force`).
fn has_forced_rm(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        (*w == "rm" || w.ends_with("/rm"))
            && words[i + 1..]
                .iter()
                .take_while(|x| x.starts_with('-'))
                .any(|x| *x == "--force" || (!x.starts_with("--") && x.contains('f')))
    })
}

/// Works out the suggestions for `image`; with a Dockerfile, also their edits and line numbers.
pub fn advise(source: &str, image: &Image, df: Option<&Dockerfile>) -> Advice {
    let mut warnings = Vec::new();
    let given = df;
    let (map, df, mismatch) = match df {
        Some(d) => match history::match_dockerfile(image, d) {
            Ok(m) => (m, Some(d), None),
            Err(e) => (history::from_history(image), None, Some(e.to_string())),
        },
        None => (history::from_history(image), None, None),
    };
    if image
        .layers
        .iter()
        .all(|l| l.history.created_by.as_deref().is_none_or(str::is_empty))
        && !image.layers.is_empty()
    {
        warnings.push(
            "the image's history records no `created_by`: layers cannot be tied to instructions"
                .to_string(),
        );
    }
    let st = stack::stack(image);
    let live = st.live_sorted(&image.paths);
    let ctx = Ctx {
        image,
        df,
        map,
        st,
        live,
    };
    let mut out: Vec<Suggestion> = Vec::new();
    merge_runs(&ctx, &mut out);
    cleanup_moves(&ctx, &mut out);
    caches_left(&ctx, &mut out);
    copy_chown(&ctx, &mut out);
    multi_stage(&ctx, &mut out);
    dockerignore(&ctx, &mut out);
    // Snippets of mechanical suggestions come from applying their own edit.
    if let Some(d) = ctx.df {
        for s in &mut out {
            if s.mechanical && !s.changes.is_empty() {
                match edit::apply(d, &s.changes, None) {
                    Ok((new, ignore)) => {
                        if let Some(ig) = ignore {
                            s.snippet = ig
                                .lines()
                                .filter(|l| !l.starts_with('#'))
                                .collect::<Vec<_>>()
                                .join("\n");
                        } else {
                            s.snippet = changed_instructions(d, &new);
                        }
                    }
                    Err(e) => {
                        s.mechanical = false;
                        s.changes.clear();
                        s.note = Some(format!("not applied automatically: {e}"));
                    }
                }
            }
        }
    }
    out.retain(|s| s.bytes_saved > 0);
    out.sort_by(|a, b| {
        b.bytes_saved
            .cmp(&a.bytes_saved)
            .then(a.kind.cmp(&b.kind))
            .then(a.layers.cmp(&b.layers))
    });
    let layers = image
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerStep {
            index: i,
            created_by: l.history.created_by.clone(),
            content_bytes: ctx.st.layers[i].content_bytes,
            lines: ctx.span(i),
            base: ctx.df.is_some() && i < ctx.map.base_layers,
        })
        .collect();
    Advice {
        source: source.to_string(),
        dockerfile: given.map(|d| d.path.clone()),
        dockerfile_matched: ctx.df.is_some(),
        mismatch,
        size_bytes: ctx.st.layers.iter().map(|l| l.content_bytes).sum(),
        bytes_saved: out.iter().map(|s| s.bytes_saved).sum(),
        layers,
        suggestions: out,
        warnings,
    }
}

/// The instructions of `new` that differ from `df`, whole, as a snippet.
fn changed_instructions(df: &Dockerfile, new: &str) -> String {
    let old: Vec<&str> = df.lines.iter().map(String::as_str).collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let prefix = old
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (lo, hi) = (prefix + 1, new_lines.len() - suffix);
    let Ok(parsed) = dockerfile::parse(&df.path, new) else {
        return new_lines[prefix..new_lines.len() - suffix].join("\n");
    };
    let mut out: Vec<&str> = Vec::new();
    for ins in &parsed.instructions {
        if ins.end_line >= lo && ins.start_line <= hi {
            out.extend(&new_lines[ins.start_line - 1..ins.end_line]);
        }
    }
    if out.is_empty() {
        // Only deletions: show what goes.
        return old[prefix..old.len() - suffix]
            .iter()
            .map(|l| format!("# delete: {l}"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    out.join("\n")
}

/// The whole edit of the mechanical suggestions, as new texts (Dockerfile, `.dockerignore`).
pub fn apply_all(
    df: &Dockerfile,
    advice: &Advice,
    old_ignore: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let changes: Vec<Change> = advice
        .suggestions
        .iter()
        .filter(|s| s.mechanical)
        .flat_map(|s| s.changes.iter().cloned())
        .collect();
    edit::apply(df, &changes, old_ignore)
}

fn merge_runs(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let n = ctx.image.layers.len();
    // Group id of each layer: consecutive mergeable RUNs share one.
    let mut group = vec![0usize; n];
    for l in 1..n {
        group[l] = if ctx.mergeable_pair(l - 1) {
            group[l - 1]
        } else {
            l
        };
    }
    // Intervals [added, hidden_by] inside one group, joined where they overlap.
    let mut spans: Vec<(usize, usize)> = ctx
        .st
        .hidden
        .iter()
        .filter(|h| h.added() < h.hidden_by() && group[h.added()] == group[h.hidden_by()])
        .map(|h| (h.added(), h.hidden_by()))
        .collect();
    spans.sort_unstable();
    let mut joined: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match joined.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => joined.push((a, b)),
        }
    }
    for (first, last) in joined {
        let layers: Vec<usize> = (first..=last).collect();
        let separate: u64 = layers.iter().map(|&l| ctx.st.layers[l].content_bytes).sum();
        let merged = merged_content_bytes(&ctx.image.paths, &ctx.image.layers[first..=last]);
        let saved = separate.saturating_sub(merged);
        let items: Vec<&stack::HiddenItem> = ctx
            .st
            .hidden
            .iter()
            .filter(|h| h.added() >= first && h.hidden_by() <= last)
            .collect();
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let cmds: Vec<String> = layers
            .iter()
            .map(|&l| {
                let c = ctx.command(l);
                if l < last && edit::changes_shell_state(&c) {
                    format!("( {} )", c.trim_end().trim_end_matches(';'))
                } else {
                    c
                }
            })
            .collect();
        let snippet = format!("RUN {}", cmds.join(" && \\\n    "));
        let changes = match (
            ctx.df,
            ctx.map.instruction[first],
            ctx.map.instruction[last],
        ) {
            (Some(_), Some(a), Some(b)) => vec![Change::Merge { first: a, last: b }],
            _ => vec![],
        };
        out.push(Suggestion {
            kind: Kind::MergeRuns,
            bytes_saved: saved,
            title: format!(
                "merge the RUNs of layers {first}-{last}: later ones delete or overwrite what earlier ones wrote"
            ),
            lines: ctx.spans(&layers),
            layers,
            evidence,
            evidence_more: more,
            snippet,
            mechanical: !changes.is_empty(),
            hadolint: Some("DL3059"),
            note: if ctx.df.is_none() {
                Some("from the history alone: check that the RUNs have the same --mount/--network flags".into())
            } else {
                None
            },
            changes,
        });
    }
}

fn cleanup_moves(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let n = ctx.image.layers.len();
    let mut group = vec![0usize; n];
    for l in 1..n {
        group[l] = if ctx.mergeable_pair(l - 1) {
            group[l - 1]
        } else {
            l
        };
    }
    let mut by_pair: BTreeMap<(usize, usize), Vec<&stack::HiddenItem>> = BTreeMap::new();
    for h in &ctx.st.hidden {
        if matches!(h.reason, Reason::Deleted | Reason::Opaque)
            && h.added() < h.hidden_by()
            && group[h.added()] != group[h.hidden_by()]
            && ctx.ours(h.added())
            && ctx.is_run(h.added())
            && ctx.is_run(h.hidden_by())
        {
            by_pair
                .entry((h.added(), h.hidden_by()))
                .or_default()
                .push(h);
        }
    }
    for ((x, y), items) in by_pair {
        let bytes: u64 = items.iter().map(|h| h.bytes).sum();
        let paths: BTreeSet<String> = items
            .iter()
            .map(|h| ctx.image.paths.display(h.path))
            .collect();
        let rm = format!(
            "rm -rf {}",
            paths
                .iter()
                .map(|p| sh_quote(p))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let mut note = None;
        let mut changes = Vec::new();
        if let (Some(df), Some(a), Some(b)) =
            (ctx.df, ctx.map.instruction[x], ctx.map.instruction[y])
        {
            let runs_between = df.instructions[a + 1..b].iter().any(|i| i.keyword == "RUN");
            if runs_between {
                note = Some(
                    "RUNs between them may read these files: check before moving the cleanup"
                        .into(),
                );
            } else if !has_forced_rm(&ctx.command(y)) {
                note = Some(format!(
                    "the deleting RUN (line {}) has no `rm -f`: drop its deletion when moving it",
                    df.instructions[b].start_line
                ));
            } else {
                changes.push(Change::Append {
                    instr: a,
                    command: rm.clone(),
                });
            }
        }
        out.push(Suggestion {
            kind: Kind::CleanupInCreatingRun,
            bytes_saved: bytes,
            title: format!("delete in layer {x}'s RUN what layer {y} deletes later"),
            layers: vec![x, y],
            lines: ctx.spans(&[x, y]),
            evidence,
            evidence_more: more,
            snippet: format!("RUN {} && \\\n    {rm}", ctx.command(x)),
            mechanical: !changes.is_empty(),
            hadolint: None,
            note,
            changes,
        });
    }
}

/// The cache directory a path lies in: the rule directory with its `*` filled in.
fn concrete_dir(rule: &caches::CacheRule, path: &[u8]) -> Option<String> {
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    rule.dirs.iter().find_map(|d| {
        let want: Vec<&str> = d.split('/').collect();
        (comps.len() > want.len()
            && want
                .iter()
                .zip(&comps)
                .all(|(w, c)| *w == "*" || w.as_bytes() == *c))
        .then(|| display_path(&comps[..want.len()].join(&b'/')))
    })
}

/// Cache files one layer left: (directory, bytes, files, evidence).
type Found = (String, u64, u64, Vec<Evidence>);

fn caches_left(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    // (layer, rule) → (dir, bytes, files, evidence)
    let mut found: BTreeMap<(usize, caches::CacheKind), Found> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (path, node) in &ctx.live {
        let Some(i) = node.inode() else { continue };
        if !seen.insert(i) {
            continue;
        }
        let inode = ctx.st.inode(i);
        let Some(rule) = caches::classify(path) else {
            continue;
        };
        if !ctx.ours(inode.layer) || !ctx.is_run(inode.layer) {
            continue;
        }
        let Some(dir) = concrete_dir(rule, path) else {
            continue;
        };
        let e = found
            .entry((inode.layer, rule.id))
            .or_insert_with(|| (dir, 0, 0, Vec::new()));
        e.1 += inode.size;
        e.2 += 1;
        e.3.push(Evidence {
            path: display_path(path),
            bytes: inode.size,
            files: 1,
            added_in: inode.layer,
            hidden_by: None,
            reason: "visible",
        });
    }
    for ((layer, rule_id), (dir, bytes, files, ev)) in found {
        let fix = rules::cache_fix(rule_id);
        let cleanup = fix.map_or_else(
            || format!("rm -rf {}/*", sh_quote(&dir)),
            |f| f.cleanup.replace("{dir}", &sh_quote(&dir)),
        );
        let mut changes = Vec::new();
        let mut how = format!("append `&& {cleanup}`");
        if let Some(ins_idx) = ctx.map.instruction[layer]
            && let Some(df) = ctx.df
        {
            let ins = &df.instructions[ins_idx];
            let flag_fits = fix.and_then(|f| f.flag.map(|fl| (f, fl))).filter(|(f, _)| {
                df.lines[ins.start_line - 1..ins.end_line]
                    .iter()
                    .any(|l| !edit::tool_sub_ends(l, f.tools, f.sub, f.flag_equivalents).is_empty())
            });
            match flag_fits {
                Some((f, flag)) => {
                    how = format!("use `{} {} {flag}`", f.tools[0], f.sub);
                    changes.push(Change::InsertFlag {
                        instr: ins_idx,
                        tools: f.tools,
                        sub: f.sub,
                        flag,
                    });
                }
                None => changes.push(Change::Append {
                    instr: ins_idx,
                    command: cleanup.clone(),
                }),
            }
        }
        let mount = fix.map_or(dir.as_str(), |f| f.mount);
        let (evidence, more) = evidence_rows(ev);
        out.push(Suggestion {
            kind: Kind::Cache,
            bytes_saved: bytes,
            title: format!(
                "{rule_id} cache left by layer {layer} ({files} file{} in {dir}): {how}",
                if files == 1 { "" } else { "s" }
            ),
            layers: vec![layer],
            lines: ctx.spans(&[layer]),
            evidence,
            evidence_more: more,
            snippet: format!("RUN {} && {cleanup}", ctx.command(layer)),
            mechanical: !changes.is_empty(),
            hadolint: fix.and_then(|f| f.hadolint),
            note: Some(format!(
                "or, with BuildKit: RUN --mount=type=cache,target={mount} …"
            )),
            changes,
        });
    }
}

/// `chown -R OWNER` / `chmod -R MODE` in a command: (flag name, value).
fn recursive_owner_change(command: &str) -> Option<(&'static str, String)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let flag = match edit_basename(w) {
            "chown" => "chown",
            "chmod" => "chmod",
            _ => continue,
        };
        let opts: Vec<&&str> = words[i + 1..]
            .iter()
            .take_while(|x| x.starts_with('-'))
            .collect();
        if opts
            .iter()
            .any(|o| **o == "--recursive" || (!o.starts_with("--") && o.contains('R')))
            && let Some(v) = words.get(i + 1 + opts.len())
        {
            return Some((flag, (*v).to_string()));
        }
    }
    None
}

fn edit_basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

fn copy_chown(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut by_run: BTreeMap<usize, Vec<&stack::HiddenItem>> = BTreeMap::new();
    for h in &ctx.st.hidden {
        if h.reason == Reason::Overwritten
            && ctx.ours(h.added())
            && ctx.is_copy(h.added())
            && ctx.is_run(h.hidden_by())
            && recursive_owner_change(&ctx.command(h.hidden_by())).is_some()
        {
            by_run.entry(h.hidden_by()).or_default().push(h);
        }
    }
    for (run, items) in by_run {
        let cmd = ctx.command(run);
        let Some((flag, value)) = recursive_owner_change(&cmd) else {
            continue;
        };
        let bytes: u64 = items.iter().map(|h| h.bytes).sum();
        let copies: BTreeSet<usize> = items.iter().map(|h| h.added()).collect();
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let mut changes = Vec::new();
        let mut note = if flag == "chmod" {
            Some("COPY --chmod needs BuildKit (the classic builder refuses it)".to_string())
        } else {
            None
        };
        // Mechanical only when the RUN is that one command and it copies nothing but COPYed files.
        let only_copies = ctx
            .st
            .hidden
            .iter()
            .filter(|h| h.hidden_by() == run)
            .all(|h| copies.contains(&h.added()));
        let single = edit::changes_shell_state(&cmd) || cmd.contains("&&") || cmd.contains(';');
        if let (Some(df), Some(r)) = (ctx.df, ctx.map.instruction[run]) {
            let copy_instrs: Vec<usize> = copies
                .iter()
                .filter_map(|&c| ctx.map.instruction[c])
                .collect();
            let flagged = copy_instrs
                .iter()
                .any(|&c| df.instructions[c].flag(flag).is_some());
            if only_copies && !single && !flagged && copy_instrs.len() == copies.len() {
                for c in copy_instrs {
                    changes.push(Change::AddFlag {
                        instr: c,
                        flag: format!("--{flag}={value}"),
                    });
                }
                changes.push(Change::Delete { instr: r });
            } else if note.is_none() {
                note = Some(
                    "the RUN does more than this, or also changes files not COPYed: edit by hand"
                        .into(),
                );
            }
        }
        let mut layers: Vec<usize> = copies.iter().copied().collect();
        layers.push(run);
        out.push(Suggestion {
            kind: Kind::CopyChown,
            bytes_saved: bytes,
            title: format!(
                "layer {run} (`{flag} -R`) copies the tree COPYed by layer(s) {}: use COPY --{flag}={value}",
                copies.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
            ),
            lines: ctx.spans(&layers),
            layers,
            evidence,
            evidence_more: more,
            snippet: format!("COPY --{flag}={value} <src> <dst>   # instead of RUN {cmd}"),
            mechanical: !changes.is_empty(),
            hadolint: None,
            note,
            changes,
        });
    }
}

fn multi_stage(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut groups: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut layers = BTreeSet::new();
    let mut ev = Vec::new();
    let mut seen = HashSet::new();
    for (path, node) in &ctx.live {
        let Some(i) = node.inode() else { continue };
        let Some(tool) = rules::build_tool(path) else {
            continue;
        };
        if !seen.insert(i) {
            continue;
        }
        let inode = ctx.st.inode(i);
        if !ctx.ours(inode.layer) {
            continue;
        }
        let g = groups.entry(tool).or_default();
        g.0 += inode.size;
        g.1 += 1;
        layers.insert(inode.layer);
        ev.push(Evidence {
            path: display_path(path),
            bytes: inode.size,
            files: 1,
            added_in: inode.layer,
            hidden_by: None,
            reason: "visible",
        });
    }
    if groups.is_empty() {
        return;
    }
    let bytes: u64 = groups.values().map(|g| g.0).sum();
    let layers: Vec<usize> = layers.into_iter().collect();
    let what = groups
        .iter()
        .map(|(k, (b, f))| format!("{k} {} in {f} files", crate::report::size(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    let (evidence, more) = evidence_rows(ev);
    out.push(Suggestion {
        kind: Kind::MultiStage,
        bytes_saved: bytes,
        title: format!("build tooling in the final image ({what}): build in a separate stage"),
        lines: ctx.spans(&layers),
        layers,
        evidence,
        evidence_more: more,
        snippet: "FROM <base> AS build\n\
                  RUN <install compilers and -dev packages, build into /out>\n\
                  \n\
                  FROM <base>\n\
                  RUN <install runtime packages only>\n\
                  COPY --from=build /out/ /usr/local/"
            .to_string(),
        mechanical: false,
        hadolint: None,
        note: Some(
            "the saving is the bytes of these paths; the COPY --from layer adds back what you copy"
                .into(),
        ),
        changes: vec![],
    });
}

/// A file copied from the build context, as `dockerignore` looks at it.
struct Junk<'a> {
    path: &'a [u8],
    size: u64,
}

fn dockerignore(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut patterns: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut layers = BTreeSet::new();
    let mut ev: BTreeMap<(usize, String), (u64, u64)> = BTreeMap::new();
    for (li, layer) in ctx.image.layers.iter().enumerate() {
        if !ctx.ours(li) || !ctx.is_copy(li) {
            continue;
        }
        if ctx.instr(li).is_some_and(|i| i.flag("from").is_some()) {
            continue; // copied from a stage or image, not from the context
        }
        // Build outputs that say so: a directory holding a CACHEDIR.TAG (cargo's target/, …).
        let files: Vec<(Vec<u8>, u64)> = layer
            .entries
            .iter()
            .filter(|e| e.kind() == EntryKind::File)
            .map(|e| (ctx.image.paths.bytes(e.path), e.size))
            .collect();
        let tagged: Vec<&[u8]> = files
            .iter()
            .filter_map(|(p, _)| p.strip_suffix(b"/CACHEDIR.TAG".as_slice()))
            .collect();
        for (path, size) in &files {
            let e = Junk { path, size: *size };
            let comps: Vec<&[u8]> = e.path.split(|&b| b == b'/').collect();
            let (k, pat) = if let Some((name, pat)) = rules::context_junk(e.path) {
                let k = comps
                    .iter()
                    .position(|c| *c == name.as_bytes())
                    .unwrap_or(0);
                (k, pat.to_string())
            } else if let Some(dir) = tagged
                .iter()
                .find(|d| e.path.starts_with(d) && e.path.get(d.len()) == Some(&b'/'))
            {
                let k = dir.split(|&b| b == b'/').count() - 1;
                (k, format!("**/{}", String::from_utf8_lossy(comps[k])))
            } else {
                continue;
            };
            let p = patterns.entry(pat).or_default();
            p.0 += e.size;
            p.1 += 1;
            layers.insert(li);
            // Evidence per junk directory.
            let dir = display_path(&comps[..=k].join(&b'/'));
            let r = ev.entry((li, dir)).or_default();
            r.0 += e.size;
            r.1 += 1;
        }
    }
    if patterns.is_empty() {
        return;
    }
    let bytes = patterns.values().map(|p| p.0).sum();
    let pats: Vec<String> = patterns.keys().cloned().collect();
    let changes = if ctx.df.is_some() {
        vec![Change::Ignore {
            patterns: pats.clone(),
        }]
    } else {
        vec![]
    };
    let (evidence, more) = evidence_rows(
        ev.into_iter()
            .map(|((l, path), (b, f))| Evidence {
                path,
                bytes: b,
                files: f,
                added_in: l,
                hidden_by: None,
                reason: "visible",
            })
            .collect(),
    );
    let layers: Vec<usize> = layers.into_iter().collect();
    out.push(Suggestion {
        kind: Kind::Dockerignore,
        bytes_saved: bytes,
        title: format!(
            "COPY sent {} the image rarely needs: add them to .dockerignore",
            pats.join(", ")
        ),
        lines: ctx.spans(&layers),
        layers,
        evidence,
        evidence_more: more,
        snippet: pats.join("\n"),
        mechanical: !changes.is_empty(),
        hadolint: None,
        note: Some(
            "the .dockerignore goes next to the Dockerfile (assumed to be the build context)"
                .into(),
        ),
        changes,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Compression, Entry, History};

    thread_local! {
        static PATHS: std::cell::RefCell<crate::model::Paths> = Default::default();
    }
    /// Interns a test path in this test's (thread's) path table.
    fn p(path: &str) -> crate::model::PathId {
        PATHS.with(|t| t.borrow_mut().intern(path.as_bytes()))
    }
    /// This test's (thread's) path table.
    fn paths() -> crate::model::Paths {
        PATHS.with(|t| t.borrow().clone())
    }
    /// An image of `layers` (made first: their entries' paths are interned as they are built).
    fn image(layers: Vec<Layer>) -> Image {
        Image {
            source: "t".into(),
            format: "docker-archive",
            id: None,
            tags: vec![],
            warnings: vec![],
            layers,
            paths: paths(),
        }
    }

    fn entry(path: &str, kind: EntryKind, size: u64) -> Entry {
        Entry::new(p(path), kind, size, 0)
    }
    fn layer(index: usize, created_by: &str, entries: Vec<Entry>) -> Layer {
        Layer {
            index,
            diff_id: None,
            origin: String::new(),
            compression: Compression::None,
            blob_bytes: 0,
            stored_as_link: false,
            history: History {
                created_by: Some(created_by.into()),
                ..History::default()
            },
            entries,
            hashes: vec![],
        }
    }
    fn f(p: &str, n: u64) -> Entry {
        entry(p, EntryKind::File, n)
    }

    /// The worked example of image-archives.md §9, with the history of its Dockerfile.
    fn example() -> Image {
        use EntryKind::*;
        image(vec![
            layer(
                0,
                "",
                vec![
                    f("bin/app", 1_000_000),
                    f("etc/conf", 2_000),
                    entry("var/cache/pkg", Dir, 0),
                    f("var/cache/pkg/index", 5_000_000),
                ],
            ),
            layer(
                1,
                "/bin/sh -c install",
                vec![
                    f("usr/lib/libx.so", 3_000_000),
                    f("var/cache/pkg/x.deb", 2_500_000),
                    entry("tmp/build", Dir, 0),
                    f("tmp/build/obj.o", 800_000),
                ],
            ),
            layer(
                2,
                "/bin/sh -c chmod +x /usr/lib/libx.so && rm -rf /tmp/build",
                vec![
                    f("usr/lib/libx.so", 3_000_000),
                    entry("tmp/build", Whiteout, 0),
                ],
            ),
            layer(
                3,
                "/bin/sh -c rm -rf /var/cache/pkg && mkdir /var/cache/pkg && edit /etc/conf",
                vec![entry("var/cache/pkg", Opaque, 0), f("etc/conf", 2_100)],
            ),
        ])
    }

    #[test]
    fn merged_layer_matches_the_worked_example() {
        let img = example();
        // §9: merging L1-L3 drops libx.so's first copy (3 000 000), obj.o (800 000) and x.deb (2 500 000).
        let sep: u64 = img.layers[1..=3].iter().map(Layer::content_bytes).sum();
        assert_eq!(
            sep - merged_content_bytes(&img.paths, &img.layers[1..=3]),
            6_300_000
        );
        // L1-L2 only: libx.so's copy and obj.o.
        let sep: u64 = img.layers[1..=2].iter().map(Layer::content_bytes).sum();
        assert_eq!(
            sep - merged_content_bytes(&img.paths, &img.layers[1..=2]),
            3_800_000
        );
        let a = advise("t", &img, None);
        let merge: Vec<_> = a
            .suggestions
            .iter()
            .filter(|s| s.kind == Kind::MergeRuns)
            .collect();
        assert_eq!(merge.len(), 1);
        assert_eq!(merge[0].layers, vec![1, 2, 3]);
        assert_eq!(merge[0].bytes_saved, 6_300_000);
        // The base's /var/cache/pkg/index (L0, hidden by L3) is not ours to save.
        assert_eq!(a.bytes_saved, 6_300_000);
    }

    #[test]
    fn hard_links_keep_data_in_a_merged_layer() {
        use EntryKind::*;
        let l1 = layer(
            1,
            "x",
            vec![f("a", 100), entry("b", Hardlink { target: p("a") }, 0)],
        );
        let l2 = layer(2, "y", vec![entry("a", Whiteout, 0)]);
        // The data stays under b: nothing saved.
        assert_eq!(merged_content_bytes(&paths(), &[l1.clone(), l2]), 100);
        let l3 = layer(
            3,
            "z",
            vec![entry("a", Whiteout, 0), entry("b", Whiteout, 0)],
        );
        assert_eq!(merged_content_bytes(&paths(), &[l1, l3]), 0);
    }

    #[test]
    fn detectors() {
        assert!(has_forced_rm("set -e; rm -rf /x"));
        assert!(has_forced_rm("rm -r -f /x"));
        assert!(!has_forced_rm("rm /x && echo -f"));
        assert_eq!(
            recursive_owner_change("chown -R 1000:1000 /app"),
            Some(("chown", "1000:1000".into()))
        );
        assert_eq!(
            recursive_owner_change("/bin/chmod -R -v 755 /app"),
            Some(("chmod", "755".into()))
        );
        assert_eq!(recursive_owner_change("chown 1:1 /app"), None);
    }

    /// Layer 1 writes /w/big (1000 bytes), layer 2 deletes it; between their RUNs stands `between`.
    fn two_runs(between: &str, first_flags: &str) -> (Image, Dockerfile) {
        use EntryKind::*;
        let mut img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c make big",
                vec![entry("w", Dir, 0), f("w/big", 1000)],
            ),
            layer(
                2,
                "/bin/sh -c rm -rf /w/big",
                vec![entry("w/big", Whiteout, 0)],
            ),
        ]);
        if !between.is_empty() {
            img.layers[2].history.empty_before = vec![format!("/bin/sh -c #(nop)  {between}")];
        }
        let text = format!("FROM base\nRUN {first_flags}make big\n{between}\nRUN rm -rf /w/big\n");
        (img, dockerfile::parse("Dockerfile", &text).unwrap())
    }

    fn kinds(a: &Advice) -> Vec<(Kind, u64, bool)> {
        a.suggestions
            .iter()
            .map(|s| (s.kind, s.bytes_saved, s.mechanical))
            .collect()
    }

    #[test]
    fn never_merges_across_what_changes_meaning() {
        let (img, df) = two_runs("", "");
        assert_eq!(
            kinds(&advise("t", &img, Some(&df))),
            vec![(Kind::MergeRuns, 1000, true)]
        );
        for between in [
            "USER app",
            "WORKDIR /w",
            "ENV A=1",
            "ARG V",
            "SHELL [\"/bin/bash\", \"-c\"]",
        ] {
            let (img, df) = two_runs(between, "");
            // Not merged; the deletion moves into the RUN that made the file instead.
            assert_eq!(
                kinds(&advise("t", &img, Some(&df))),
                vec![(Kind::CleanupInCreatingRun, 1000, true)],
                "{between}"
            );
            // From the history alone, the empty-layer record between them says the same.
            assert_eq!(
                kinds(&advise("t", &img, None)),
                vec![(Kind::CleanupInCreatingRun, 1000, false)],
                "{between}"
            );
        }
        // Different --mount or --network flags: no merge either.
        for flags in ["--mount=type=cache,target=/c ", "--network=none "] {
            let (img, df) = two_runs("", flags);
            let k = kinds(&advise("t", &img, Some(&df)));
            assert_eq!(k, vec![(Kind::CleanupInCreatingRun, 1000, true)], "{flags}");
        }
    }

    #[test]
    fn heredoc_and_exec_runs_are_never_merged_into() {
        use EntryKind::*;
        let img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "RUN /bin/sh -c make big # buildkit",
                vec![f("big", 1000)],
            ),
            layer(
                2,
                "RUN rm -rf /big # buildkit",
                vec![entry("big", Whiteout, 0)],
            ),
        ]);
        for text in [
            "FROM b\nRUN make big\nRUN [\"rm\", \"-rf\", \"/big\"]\n",
            "FROM b\nRUN make big\nRUN <<EOF\nrm -rf /big\nEOF\n",
        ] {
            let df = dockerfile::parse("D", text).unwrap();
            let a = advise("t", &img, Some(&df));
            assert!(a.dockerfile_matched, "{text}: {:?}", a.mismatch);
            assert!(
                a.suggestions.iter().all(|s| s.kind != Kind::MergeRuns),
                "{text}"
            );
        }
    }

    #[test]
    fn a_recreated_directory_moves_its_cleanup_too() {
        use EntryKind::*;
        let mut img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c make d",
                vec![entry("d", Dir, 0), f("d/x", 500)],
            ),
            layer(
                2,
                "/bin/sh -c rm -rf /d && mkdir /d && touch /d/new",
                vec![entry("d", Dir, 0), entry("d", Opaque, 0), f("d/new", 1)],
            ),
        ]);
        img.layers[2].history.empty_before = vec!["USER x".to_string()];
        let df = dockerfile::parse(
            "D",
            "FROM b\nRUN make d\nUSER x\nRUN rm -rf /d && mkdir /d && touch /d/new\n",
        )
        .unwrap();
        let a = advise("t", &img, Some(&df));
        assert_eq!(kinds(&a), vec![(Kind::CleanupInCreatingRun, 500, true)]);
        assert_eq!(a.suggestions[0].snippet, "RUN make d && rm -rf /d");
        assert_eq!(a.suggestions[0].evidence[0].reason, "opaque");
    }
}
