//! Size budgets for CI: which budgets exist ([`Key`], described in [`TABLE`]), where their values came from
//! ([`Budgets`], filled by [`config`]), and the verdict of each against an image ([`evaluate`]).
//!
//! A budget is a maximum, except dive's `lowestEfficiency` (a minimum). A value equal to its limit holds,
//! as in dive. Formatting of the verdicts lives in `report::check`.

mod baseline;
pub mod config;
mod run;

use baseline::growth_blame;
pub use baseline::{Baseline, BaselineError, BaselineLayer, Growth, LayerGrowth, growth};
pub use run::{CheckError, CheckOptions, CheckOutcome, run};

use std::collections::BTreeMap;

use globset::GlobSetBuilder;
use serde::Serialize;

use crate::analysis::{ImageReport, stack::Stacked};
use crate::model::{Paths, display_path};

/// What kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bytes, written with units (`500MB`, `1.5GiB`) or as an integer.
    Size,
    /// A whole number.
    Count,
    /// A percent, 0 to 100.
    Percent,
    /// A fraction, 0 to 1 (dive's thresholds).
    Fraction,
    /// A list of globs.
    Globs,
}

/// Where a key belongs in `dredge.toml`: the `[check]` table or `[check.dive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[check]`.
    Check,
    /// `[check.dive]`, with dive's own names (also read from `.dive-ci`'s `rules:`).
    Dive,
}

/// A budget key: a setting of `dredge.toml`, a flag, and (but for the floor) the id of the rule it
/// sets. Everything about a key is in its row of [`TABLE`]; its text is [`Key::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `max_size`.
    MaxSize,
    /// `max_layer_size`.
    MaxLayerSize,
    /// `max_layers`.
    MaxLayers,
    /// `max_reclaimable`.
    MaxReclaimable,
    /// `max_reclaimable_percent`.
    MaxReclaimablePercent,
    /// `reclaimable_floor`: qualifies `max_reclaimable_percent`, not a rule of its own.
    ReclaimableFloor,
    /// `max_cache`.
    MaxCache,
    /// `forbidden_paths`.
    ForbiddenPaths,
    /// `max_growth`.
    MaxGrowth,
    /// `max_growth_percent`.
    MaxGrowthPercent,
    /// dive's `lowestEfficiency`.
    LowestEfficiency,
    /// dive's `highestWastedBytes`.
    HighestWastedBytes,
    /// dive's `highestUserWastedPercent`.
    HighestUserWastedPercent,
}

/// One key's row: its names, its value, and the rule it sets.
pub struct Spec {
    /// The key (rows are in [`Key`] order).
    pub key: Key,
    /// Name in the config file, in JSON and in messages.
    pub name: &'static str,
    /// Table it lives in.
    pub section: Section,
    /// Value type.
    pub kind: Kind,
    /// The command-line flag that sets it.
    pub flag: &'static str,
    /// The rule it sets (`None` for the floor).
    pub rule: Option<Rule>,
}

/// Unit of a rule's measure and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Bytes.
    Bytes,
    /// A count.
    Count,
    /// A percent (0-100).
    Percent,
    /// A fraction (0-1).
    Fraction,
    /// A count of paths.
    Paths,
}

/// A rule: what it measures in words, how it compares, and how it is evaluated.
pub struct Rule {
    /// What is measured, for people ("total size").
    pub what: &'static str,
    /// Unit of the measure.
    pub unit: Unit,
    /// Maximum or minimum.
    pub bound: Bound,
    /// Evaluation, given all budgets (for qualifiers such as the floor) and the rule's own setting.
    eval: fn(&Budgets, &Setting, &Facts<'_>) -> Result<Outcome, RuleError>,
}

const fn row(
    key: Key,
    name: &'static str,
    section: Section,
    kind: Kind,
    flag: &'static str,
    rule: Option<Rule>,
) -> Spec {
    Spec {
        key,
        name,
        section,
        kind,
        flag,
        rule,
    }
}

const fn rule(
    what: &'static str,
    unit: Unit,
    bound: Bound,
    eval: fn(&Budgets, &Setting, &Facts<'_>) -> Result<Outcome, RuleError>,
) -> Option<Rule> {
    Some(Rule {
        what,
        unit,
        bound,
        eval,
    })
}

use Bound::{Max, Min};
use Kind::{Count as KCount, Fraction as KFraction, Globs, Percent as KPercent, Size};
use Section::{Check as CheckSection, Dive};

/// Every key, in [`Key`] order, which is also the order rules are listed in when they agree in verdict.
pub const TABLE: [Spec; 13] = [
    row(
        Key::MaxSize,
        "max_size",
        CheckSection,
        Size,
        "--max-size",
        rule("total size", Unit::Bytes, Max, max_size),
    ),
    row(
        Key::MaxLayerSize,
        "max_layer_size",
        CheckSection,
        Size,
        "--max-layer-size",
        rule("largest layer", Unit::Bytes, Max, max_layer_size),
    ),
    row(
        Key::MaxLayers,
        "max_layers",
        CheckSection,
        KCount,
        "--max-layers",
        rule("layer count", Unit::Count, Max, max_layers),
    ),
    row(
        Key::MaxReclaimable,
        "max_reclaimable",
        CheckSection,
        Size,
        "--max-reclaimable",
        rule("invisible bytes", Unit::Bytes, Max, max_reclaimable),
    ),
    row(
        Key::MaxReclaimablePercent,
        "max_reclaimable_percent",
        CheckSection,
        KPercent,
        "--max-reclaimable-percent",
        rule(
            "invisible bytes in percent of layers 1..",
            Unit::Percent,
            Max,
            max_reclaimable_percent,
        ),
    ),
    row(
        Key::ReclaimableFloor,
        "reclaimable_floor",
        CheckSection,
        Size,
        "--reclaimable-floor",
        None,
    ),
    row(
        Key::MaxCache,
        "max_cache",
        CheckSection,
        Size,
        "--max-cache",
        rule("cache and temp bytes", Unit::Bytes, Max, max_cache),
    ),
    row(
        Key::ForbiddenPaths,
        "forbidden_paths",
        CheckSection,
        Globs,
        "--forbid",
        rule("forbidden paths present", Unit::Paths, Max, forbidden_paths),
    ),
    row(
        Key::MaxGrowth,
        "max_growth",
        CheckSection,
        Size,
        "--max-growth",
        rule("growth over the baseline", Unit::Bytes, Max, max_growth),
    ),
    row(
        Key::MaxGrowthPercent,
        "max_growth_percent",
        CheckSection,
        KPercent,
        "--max-growth-percent",
        rule(
            "growth over the baseline in percent",
            Unit::Percent,
            Max,
            max_growth_percent,
        ),
    ),
    row(
        Key::LowestEfficiency,
        "lowestEfficiency",
        Dive,
        KFraction,
        "--lowest-efficiency",
        rule("dive efficiency", Unit::Fraction, Min, lowest_efficiency),
    ),
    row(
        Key::HighestWastedBytes,
        "highestWastedBytes",
        Dive,
        Size,
        "--highest-wasted-bytes",
        rule("dive wasted bytes", Unit::Bytes, Max, highest_wasted_bytes),
    ),
    row(
        Key::HighestUserWastedPercent,
        "highestUserWastedPercent",
        Dive,
        KFraction,
        "--highest-user-wasted-percent",
        rule(
            "dive user wasted percent",
            Unit::Fraction,
            Max,
            highest_user_wasted_percent,
        ),
    ),
];

impl Key {
    /// Every key, in table order.
    pub fn all() -> impl Iterator<Item = Key> {
        TABLE.iter().map(|s| s.key)
    }

    /// Its row.
    pub fn spec(self) -> &'static Spec {
        &TABLE[self as usize]
    }

    /// Its name in `dredge.toml`, JSON and messages (dive's keys keep dive's camelCase).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The flag that sets it.
    pub fn flag(self) -> &'static str {
        self.spec().flag
    }

    /// The key named `name`, in `section`.
    pub fn named(section: Section, name: &str) -> Option<Key> {
        TABLE
            .iter()
            .find(|s| s.section == section && s.name == name)
            .map(|s| s.key)
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Unit {
    /// Its name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Bytes => "bytes",
            Unit::Count => "count",
            Unit::Percent => "percent",
            Unit::Fraction => "fraction",
            Unit::Paths => "paths",
        }
    }
}

/// A value a key was given.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Bytes.
    Bytes(u64),
    /// A count.
    Count(u64),
    /// A percent (0..=100).
    Percent(f64),
    /// A fraction (0..=1).
    Fraction(f64),
    /// Globs.
    Globs(Vec<String>),
    /// dive's `"disabled"`: the rule is off.
    Disabled,
}

/// A value and where it came from (`--max-size`, `dredge.toml:3`, `.dive-ci (dive's default)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The value.
    pub value: Value,
    /// Where it was set, for messages.
    pub origin: String,
}

/// The budgets in force, by key name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budgets {
    /// Settings by key.
    pub settings: BTreeMap<Key, Setting>,
}

impl Budgets {
    /// The setting of `key`, if any.
    pub fn get(&self, key: Key) -> Option<&Setting> {
        self.settings.get(&key)
    }

    fn bytes(&self, key: Key) -> Option<u64> {
        match self.get(key)?.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// True when some key of `section` is set.
    pub fn has_section(&self, section: Section) -> bool {
        self.settings.keys().any(|k| k.spec().section == section)
    }

    /// Sets every key of `other` here (later sources win, key by key).
    pub fn overlay(&mut self, other: Budgets) {
        self.settings.extend(other.settings);
    }

    /// True when a baseline is needed (a growth budget is set).
    pub fn needs_baseline(&self) -> bool {
        self.get(Key::MaxGrowth).is_some() || self.get(Key::MaxGrowthPercent).is_some()
    }

    /// True when final paths are needed (forbidden globs are set).
    pub fn needs_paths(&self) -> bool {
        self.get(Key::ForbiddenPaths).is_some()
    }

    /// True when no rule would be checked.
    pub fn is_empty(&self) -> bool {
        !self.settings.keys().any(|k| k.spec().rule.is_some())
    }
}

/// The image a check looked at, summarised (enough to serve as the next run's baseline).
#[derive(Debug, Clone, Serialize)]
pub struct ImageSummary {
    /// What the user named.
    pub source: String,
    /// Image id.
    pub id: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Σ layer sizes.
    pub size_bytes: u64,
    /// Bytes a rebuild could drop.
    pub reclaimable_bytes: u64,
    /// Cache and temp bytes.
    pub cache_bytes: u64,
    /// Layers, base first (`index`, `diff_id`, `created_by`, `size_bytes`).
    pub layers: Vec<SummaryLayer>,
}

/// One layer in an [`ImageSummary`].
#[derive(Debug, Clone, Serialize)]
pub struct SummaryLayer {
    /// 0 = base.
    pub index: usize,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: Option<String>,
    /// The instruction.
    pub created_by: Option<String>,
    /// Σ regular-file sizes.
    pub size_bytes: u64,
}

/// A whole check: the `dredge.check` document.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// True when no budget is broken.
    pub passed: bool,
    /// Rules evaluated (passed + failed; disabled ones not counted).
    pub checked: usize,
    /// Rules broken.
    pub failed: usize,
    /// Rules set to `disabled`.
    pub skipped: usize,
    /// Config files read, lowest precedence first.
    pub config_files: Vec<String>,
    /// The image.
    pub image: ImageSummary,
    /// One per rule set: failing first.
    pub results: Vec<Outcome>,
    /// Growth against the baseline, when one was given.
    pub growth: Option<Growth>,
    /// Oddities that did not stop the check.
    pub warnings: Vec<String>,
}

/// Checks `report` against `budgets`.
pub fn check(
    budgets: &Budgets,
    facts: &Facts<'_>,
    config_files: Vec<String>,
    mut warnings: Vec<String>,
) -> Result<CheckReport, RuleError> {
    let results = evaluate(budgets, facts)?;
    let r = facts.report;
    let failed = results.iter().filter(|o| o.status == Status::Fail).count();
    let skipped = results.iter().filter(|o| o.status == Status::Skip).count();
    warnings.extend(r.warnings.iter().cloned());
    Ok(CheckReport {
        passed: failed == 0,
        checked: results.len() - skipped,
        failed,
        skipped,
        config_files,
        image: ImageSummary {
            source: r.source.clone(),
            id: r.id.clone(),
            tags: r.tags.clone(),
            size_bytes: r.size_bytes,
            reclaimable_bytes: r.reclaimable_bytes,
            cache_bytes: r.cache_bytes,
            layers: r
                .layers
                .iter()
                .map(|l| SummaryLayer {
                    index: l.index,
                    diff_id: l.diff_id.clone(),
                    created_by: l.created_by.clone(),
                    size_bytes: l.size_bytes,
                })
                .collect(),
        },
        results,
        growth: facts.baseline.map(|b| growth(r, b)),
        warnings,
    })
}

/// What a check looks at.
pub struct Facts<'a> {
    /// The image's analysis.
    pub report: &'a ImageReport,
    /// The final filesystem: paths (display form, with a leading `/`) and the layer that wrote each.
    /// Needed only for forbidden paths.
    pub paths: Vec<(String, usize)>,
    /// The earlier image, for growth budgets.
    pub baseline: Option<&'a Baseline>,
}

impl<'a> Facts<'a> {
    /// Facts about `report`, with the final paths of `stacked` when given.
    pub fn new(
        report: &'a ImageReport,
        stacked: Option<(&Stacked, &Paths)>,
        baseline: Option<&'a Baseline>,
    ) -> Facts<'a> {
        let paths = stacked
            .map(|(s, paths)| {
                s.live_sorted(paths)
                    .into_iter()
                    .map(|(p, n)| (display_path(&p), n.layer()))
                    .collect()
            })
            .unwrap_or_default();
        Facts {
            report,
            paths,
            baseline,
        }
    }
}

/// A measured figure or a limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Measure {
    /// Bytes.
    Bytes(u64),
    /// Bytes that may be negative (growth).
    Delta(i64),
    /// A count.
    Count(u64),
    /// A ratio: percent or fraction, by the rule's unit; `None` when not a number (a division by 0).
    Ratio(Option<f64>),
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The budget is broken.
    Fail,
    /// The budget holds.
    Pass,
    /// The rule is set to `disabled` (dive's rules only).
    Skip,
}

/// Something to blame for a broken budget: a layer, a path, or a cache.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Blame {
    /// The layer (0 = base).
    pub layer: Option<usize>,
    /// A path of the image.
    pub path: Option<String>,
    /// Bytes it accounts for (for growth: bytes it grew by).
    pub bytes: Option<i64>,
    /// The instruction of the layer, for a blamed layer.
    pub instruction: Option<String>,
    /// What it is: why the bytes are invisible, the cache kind, the glob matched.
    pub detail: Option<String>,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Rule id (its key).
    pub rule: Key,
    /// Verdict.
    pub status: Status,
    /// Unit of `actual` and `limit`.
    pub unit: Unit,
    /// The measured figure.
    pub actual: Measure,
    /// The limit.
    pub limit: Measure,
    /// Where the limit was set.
    pub origin: String,
    /// A remark (the floor that kept a percent rule from firing, the meaning of a missing number).
    pub note: Option<String>,
    /// What to blame, worst first (for a passing rule, usually empty).
    pub blame: Vec<Blame>,
}

/// How a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The measure may not exceed the limit.
    Max,
    /// The measure may not fall below the limit.
    Min,
}

/// Why budgets could not be evaluated (bad usage, not a broken budget).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A growth budget without a baseline.
    #[error("{0} needs a baseline: give --baseline IMAGE-OR-REPORT")]
    NoBaseline(Key),
    /// A glob that does not compile.
    #[error("forbidden path glob '{glob}' ({origin}): {reason}")]
    BadGlob {
        /// The glob.
        glob: String,
        /// Where it was set.
        origin: String,
        /// What is wrong.
        reason: String,
    },
}

/// Evaluates every set rule; failing rules first, then passing, then skipped, each in table order.
pub fn evaluate(budgets: &Budgets, facts: &Facts<'_>) -> Result<Vec<Outcome>, RuleError> {
    let mut out = Vec::new();
    for spec in &TABLE {
        let (Some(r), Some(setting)) = (&spec.rule, budgets.get(spec.key)) else {
            continue;
        };
        let outcome = if setting.value == Value::Disabled {
            Outcome {
                rule: spec.key,
                status: Status::Skip,
                unit: r.unit,
                actual: Measure::Ratio(None),
                limit: Measure::Ratio(None),
                origin: setting.origin.clone(),
                note: None,
                blame: vec![],
            }
        } else {
            (r.eval)(budgets, setting, facts)?
        };
        out.push(outcome);
    }
    // Stable: table order within a verdict.
    out.sort_by_key(|o| o.status);
    Ok(out)
}

/// How many layers or paths a blame list names at most (forbidden paths: [`PATHS_MAX`]).
pub(super) const BLAME_MAX: usize = 3;
/// How many forbidden paths are named at most.
const PATHS_MAX: usize = 10;

fn outcome(key: Key, failed: bool, actual: Measure, limit: Measure, s: &Setting) -> Outcome {
    Outcome {
        rule: key,
        status: if failed { Status::Fail } else { Status::Pass },
        unit: key.spec().rule.as_ref().map_or(Unit::Bytes, |r| r.unit),
        actual,
        limit,
        origin: s.origin.clone(),
        note: None,
        blame: vec![],
    }
}

fn limit_bytes(s: &Setting) -> u64 {
    match s.value {
        Value::Bytes(b) | Value::Count(b) => b,
        _ => u64::MAX,
    }
}

fn limit_ratio(s: &Setting) -> f64 {
    match s.value {
        Value::Percent(p) | Value::Fraction(p) => p,
        _ => f64::INFINITY,
    }
}

fn layer_blame(r: &ImageReport, index: usize, bytes: u64) -> Blame {
    Blame {
        layer: Some(index),
        path: None,
        bytes: Some(bytes as i64),
        instruction: r.layers.get(index).and_then(|l| l.created_by.clone()),
        detail: None,
    }
}

/// The largest layers, largest first.
fn largest_layers(r: &ImageReport, min_exclusive: u64) -> Vec<Blame> {
    let mut ls: Vec<_> = r
        .layers
        .iter()
        .filter(|l| l.size_bytes > min_exclusive)
        .collect();
    ls.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then(a.index.cmp(&b.index)));
    ls.iter()
        .take(BLAME_MAX)
        .map(|l| layer_blame(r, l.index, l.size_bytes))
        .collect()
}

/// The largest groups of invisible bytes, each with the layer that wrote them.
fn wasted_blame(r: &ImageReport) -> Vec<Blame> {
    r.wasted
        .iter()
        .take(BLAME_MAX)
        .map(|w| Blame {
            layer: Some(w.added_in),
            path: Some(w.path.clone()),
            bytes: Some(w.bytes as i64),
            instruction: None,
            detail: Some(format!(
                "{} by layer {}",
                match w.reason {
                    crate::analysis::Reason::Deleted => "deleted",
                    crate::analysis::Reason::Opaque => "hidden by an opaque directory",
                    crate::analysis::Reason::Overwritten => "overwritten",
                },
                w.hidden_by
            )),
        })
        .collect()
}

/// `actual` bytes against the setting's byte limit: a failure when over it.
fn bytes_over(rule: Key, actual: u64, s: &Setting) -> Outcome {
    let limit = limit_bytes(s);
    outcome(
        rule,
        actual > limit,
        Measure::Bytes(actual),
        Measure::Bytes(limit),
        s,
    )
}

fn max_size(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let mut o = bytes_over(Key::MaxSize, f.report.size_bytes, s);
    if o.status == Status::Fail {
        o.blame = largest_layers(f.report, 0);
    }
    Ok(o)
}

fn max_layer_size(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let actual = f
        .report
        .layers
        .iter()
        .map(|l| l.size_bytes)
        .max()
        .unwrap_or(0);
    let mut o = bytes_over(Key::MaxLayerSize, actual, s);
    o.blame = largest_layers(f.report, limit_bytes(s));
    Ok(o)
}

fn max_layers(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let (actual, limit) = (f.report.layers.len() as u64, limit_bytes(s));
    Ok(outcome(
        Key::MaxLayers,
        actual > limit,
        Measure::Count(actual),
        Measure::Count(limit),
        s,
    ))
}

fn max_reclaimable(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let mut o = bytes_over(Key::MaxReclaimable, f.report.reclaimable_bytes, s);
    if o.status == Status::Fail {
        o.blame = wasted_blame(f.report);
    }
    Ok(o)
}

/// Σ sizes of layers 1.. (the user's layers, as dive counts them).
pub fn user_bytes(r: &ImageReport) -> u64 {
    r.layers.iter().skip(1).map(|l| l.size_bytes).sum()
}

pub(super) fn ratio(part: f64, whole: f64) -> Option<f64> {
    let x = part / whole;
    x.is_finite().then_some(x)
}

fn max_reclaimable_percent(b: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let reclaimable = f.report.reclaimable_bytes;
    let user = user_bytes(f.report);
    let limit = limit_ratio(s);
    let pct = ratio(reclaimable as f64 * 100.0, user as f64);
    let floor = b.bytes(Key::ReclaimableFloor).unwrap_or(0);
    // No user bytes: 0 reclaimable is 0 %, anything more is unbounded.
    let value = if reclaimable == 0 { Some(0.0) } else { pct };
    let over = value.is_none_or(|p| p > limit);
    let mut o = outcome(
        Key::MaxReclaimablePercent,
        over && reclaimable > floor,
        Measure::Ratio(value),
        Measure::Ratio(Some(limit)),
        s,
    );
    if over && reclaimable <= floor {
        o.note = Some(format!(
            "not applied: {reclaimable} reclaimable bytes are within the floor of {floor} ({})",
            b.get(Key::ReclaimableFloor)
                .map_or("default", |s| s.origin.as_str())
        ));
    } else if value.is_none() {
        o.note = Some("layers 1.. hold no bytes".into());
    }
    if o.status == Status::Fail {
        o.blame = wasted_blame(f.report);
    }
    Ok(o)
}

fn max_cache(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let mut o = bytes_over(Key::MaxCache, f.report.cache_bytes, s);
    if o.status == Status::Fail {
        for c in f.report.caches.iter().take(BLAME_MAX) {
            // The layer that wrote most of it.
            let layer = c.layers.iter().max_by_key(|(_, b)| *b).map(|(i, _)| *i);
            o.blame.push(Blame {
                layer,
                path: None,
                bytes: Some(c.bytes as i64),
                instruction: None,
                detail: Some(format!("{} ({}): {}", c.id, c.tool, c.fix)),
            });
        }
    }
    Ok(o)
}

fn forbidden_paths(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let Value::Globs(globs) = &s.value else {
        unreachable!("forbidden_paths is a glob list by its key's kind")
    };
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let pattern = g.trim_start_matches('/');
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| RuleError::BadGlob {
                glob: g.clone(),
                origin: s.origin.clone(),
                reason: e.kind().to_string(),
            })?;
        set.add(glob);
    }
    let set = set.build().map_err(|e| RuleError::BadGlob {
        glob: globs.join(", "),
        origin: s.origin.clone(),
        reason: e.to_string(),
    })?;
    let mut hits: Vec<Blame> = Vec::new();
    let mut count = 0u64;
    for (path, layer) in &f.paths {
        let rel = path.trim_start_matches('/');
        let matched = set.matches(rel);
        if let Some(&i) = matched.first() {
            count += 1;
            if hits.len() < PATHS_MAX {
                hits.push(Blame {
                    layer: Some(*layer),
                    path: Some(path.clone()),
                    bytes: None,
                    instruction: None,
                    detail: Some(format!("matches {}", globs[i])),
                });
            }
        }
    }
    let mut o = outcome(
        Key::ForbiddenPaths,
        count > 0,
        Measure::Count(count),
        Measure::Count(0),
        s,
    );
    o.blame = hits;
    Ok(o)
}

fn max_growth(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let base = f.baseline.ok_or(RuleError::NoBaseline(Key::MaxGrowth))?;
    let g = growth(f.report, base);
    let limit = limit_bytes(s);
    let failed = g.delta_bytes > 0 && g.delta_bytes as u64 > limit;
    let mut o = outcome(
        Key::MaxGrowth,
        failed,
        Measure::Delta(g.delta_bytes),
        Measure::Bytes(limit),
        s,
    );
    if failed {
        o.blame = growth_blame(&g);
    }
    Ok(o)
}

fn max_growth_percent(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let base = f
        .baseline
        .ok_or(RuleError::NoBaseline(Key::MaxGrowthPercent))?;
    let g = growth(f.report, base);
    let limit = limit_ratio(s);
    // None: grew from an empty baseline, an unbounded growth.
    let failed = g.percent.is_none_or(|p| p > limit);
    let mut o = outcome(
        Key::MaxGrowthPercent,
        failed,
        Measure::Ratio(g.percent),
        Measure::Ratio(Some(limit)),
        s,
    );
    if g.percent.is_none() {
        o.note = Some("the baseline holds no bytes".into());
    }
    if failed {
        o.blame = growth_blame(&g);
    }
    Ok(o)
}

fn lowest_efficiency(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let (actual, limit) = (f.report.dive.efficiency, limit_ratio(s));
    // dive: fails when threshold > efficiency.
    let mut o = outcome(
        Key::LowestEfficiency,
        limit > actual,
        Measure::Ratio(Some(actual)),
        Measure::Ratio(Some(limit)),
        s,
    );
    if o.status == Status::Fail {
        o.blame = wasted_blame(f.report);
    }
    Ok(o)
}

fn highest_wasted_bytes(_: &Budgets, s: &Setting, f: &Facts<'_>) -> Result<Outcome, RuleError> {
    let mut o = bytes_over(Key::HighestWastedBytes, f.report.dive.wasted_bytes, s);
    if o.status == Status::Fail {
        o.blame = wasted_blame(f.report);
    }
    Ok(o)
}

fn highest_user_wasted_percent(
    _: &Budgets,
    s: &Setting,
    f: &Facts<'_>,
) -> Result<Outcome, RuleError> {
    let d = &f.report.dive;
    let limit = limit_ratio(s);
    // dive: fails when threshold < value. Not a number: NaN (nothing wasted) passes, +Inf fails.
    let failed = match d.user_wasted_percent {
        Some(v) => limit < v,
        None => d.wasted_bytes > 0,
    };
    let mut o = outcome(
        Key::HighestUserWastedPercent,
        failed,
        Measure::Ratio(d.user_wasted_percent),
        Measure::Ratio(Some(limit)),
        s,
    );
    if d.user_wasted_percent.is_none() {
        o.note = Some(if d.wasted_bytes > 0 {
            "layers 1.. hold no bytes: dive computes +Inf, which fails".into()
        } else {
            "layers 1.. hold no bytes and nothing is wasted: dive computes NaN, which passes".into()
        });
    }
    if failed {
        o.blame = wasted_blame(f.report);
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::baseline::align;
    use super::*;

    #[test]
    fn one_row_per_key_in_key_order_and_every_key_but_the_floor_a_rule() {
        let all: Vec<Key> = Key::all().collect();
        for (i, spec) in TABLE.iter().enumerate() {
            assert_eq!(spec.key as usize, i, "{} is out of place", spec.name);
            assert_eq!(spec.key.spec().name, spec.name);
            assert_eq!(
                spec.rule.is_some(),
                spec.key != Key::ReclaimableFloor,
                "{}",
                spec.name
            );
            assert!(spec.flag.starts_with("--"));
            assert_eq!(Key::named(spec.section, spec.name), Some(spec.key));
            assert_eq!(
                spec.section == Section::Dive,
                spec.name.chars().any(|c| c.is_ascii_uppercase()),
                "dive keys keep dive's camelCase names, ours are snake_case: {}",
                spec.name
            );
        }
        assert_eq!(all.len(), 13);
        let mut names: Vec<_> = TABLE.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len(), "key names are unique");
        // JSON carries the names.
        assert_eq!(
            serde_json::to_string(&Key::HighestUserWastedPercent).unwrap(),
            "\"highestUserWastedPercent\""
        );
        assert_eq!(serde_json::to_string(&Unit::Paths).unwrap(), "\"paths\"");
    }

    #[test]
    fn growth_pairs_layers_by_position() {
        let l = |id: &str, size| BaselineLayer {
            diff_id: Some(id.into()),
            created_by: None,
            size_bytes: size,
        };
        let base = Baseline {
            source: "old".into(),
            size_bytes: 300,
            layers: vec![l("a", 100), l("b", 200)],
        };
        let cur = Baseline {
            source: "new".into(),
            size_bytes: 450,
            layers: vec![l("a", 100), l("c", 250), l("d", 100)],
        };
        let r = fake_report(&cur);
        let g = growth(&r, &base);
        assert_eq!(g.delta_bytes, 150);
        assert_eq!(g.percent, Some(50.0));
        let d: Vec<i64> = g.layers.iter().map(|x| x.delta_bytes).collect();
        assert_eq!(d, [0, 50, 100]);
        assert!(g.layers[0].same && !g.layers[1].same && !g.layers[2].same);
        assert_eq!(g.layers[2].baseline_bytes, None);
        let blame = growth_blame(&g);
        assert_eq!(blame[0].layer, Some(2));
        assert_eq!(blame[1].layer, Some(1));
        assert_eq!(g.layers[2].baseline_index, None);
        assert_eq!(blame.len(), 2);
    }

    #[test]
    fn growth_aligns_an_inserted_layer_and_a_rebuilt_one() {
        let l = |id: &str, by: &str, size| BaselineLayer {
            diff_id: Some(id.into()),
            created_by: Some(by.into()),
            size_bytes: size,
        };
        // The baseline: base, RUN b, RUN c. Now: base, a new RUN x, RUN b rebuilt larger, RUN c
        // rebuilt (same instruction, new diff id), and RUN d renamed from nothing.
        let base = Baseline {
            source: "old".into(),
            size_bytes: 100 + 20 + 30,
            layers: vec![
                l("a", "base", 100),
                l("b", "RUN b", 20),
                l("c", "RUN c", 30),
            ],
        };
        let cur = Baseline {
            source: "new".into(),
            size_bytes: 100 + 7 + 25 + 30,
            layers: vec![
                l("a", "base", 100),
                l("x", "RUN x", 7),
                l("b2", "RUN b", 25),
                l("c2", "RUN c", 30),
            ],
        };
        let g = growth(&fake_report(&cur), &base);
        let pairs: Vec<(Option<usize>, Option<usize>, i64)> = g
            .layers
            .iter()
            .map(|x| (x.index, x.baseline_index, x.delta_bytes))
            .collect();
        assert_eq!(
            pairs,
            [
                (Some(0), Some(0), 0),
                (Some(1), None, 7),
                (Some(2), Some(1), 5),
                (Some(3), Some(2), 0)
            ]
        );
        assert_eq!(g.delta_bytes, 12);
        // A layer dropped at the end, and two rebuilt layers whose instructions changed (paired in order).
        let old = Baseline {
            source: "old".into(),
            size_bytes: 0,
            layers: vec![
                l("a", "base", 1),
                l("p", "|1 N=1 RUN p", 2),
                l("q", "|1 N=1 RUN q", 3),
                l("z", "RUN z", 4),
            ],
        };
        let new = Baseline {
            source: "new".into(),
            size_bytes: 0,
            layers: vec![
                l("a", "base", 1),
                l("p2", "|1 N=2 RUN p", 5),
                l("q2", "|1 N=2 RUN q", 3),
            ],
        };
        let pairs: Vec<(Option<usize>, Option<usize>)> = align(&new.layers, &old.layers);
        assert_eq!(
            pairs,
            [
                (Some(0), Some(0)),
                (Some(1), Some(1)),
                (Some(2), Some(2)),
                (None, Some(3))
            ]
        );
    }

    fn fake_report(b: &Baseline) -> ImageReport {
        use crate::analysis::{ByReason, DiveFigures, LayerReport};
        ImageReport {
            source: b.source.clone(),
            format: "test",
            id: None,
            tags: vec![],
            size_bytes: b.size_bytes,
            visible_bytes: b.size_bytes,
            invisible_bytes: 0,
            invisible: ByReason::default(),
            reclaimable_bytes: 0,
            cache_bytes: 0,
            efficiency: 1.0,
            dive: DiveFigures {
                efficiency: 1.0,
                wasted_bytes: 0,
                user_wasted_percent: None,
                size_bytes: b.size_bytes,
                user_size_bytes: 0,
                inefficient_paths: 0,
            },
            layers: b
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| LayerReport {
                    index: i,
                    diff_id: l.diff_id.clone(),
                    created_by: l.created_by.clone(),
                    comment: None,
                    compression: crate::model::Compression::None,
                    blob_bytes: l.size_bytes,
                    size_bytes: l.size_bytes,
                    files_added: 0,
                    files_modified: 0,
                    files_deleted: 0,
                    invisible_bytes: 0,
                    invisible: ByReason::default(),
                    hides_bytes: 0,
                    cache_bytes: 0,
                })
                .collect(),
            wasted: vec![],
            wasted_total: 0,
            caches: vec![],
            duplicates: None,
            warnings: vec![],
        }
    }

    #[test]
    fn verdicts_sort_failing_first_then_table_order() {
        let base = Baseline {
            source: "x".into(),
            size_bytes: 1000,
            layers: vec![BaselineLayer {
                diff_id: None,
                created_by: None,
                size_bytes: 1000,
            }],
        };
        let r = fake_report(&base);
        let mut b = Budgets::default();
        let set = |v| Setting {
            value: v,
            origin: "test".into(),
        };
        b.settings.insert(Key::MaxSize, set(Value::Bytes(1000))); // equal: holds
        b.settings.insert(Key::MaxLayers, set(Value::Count(0))); // 1 > 0: broken
        b.settings
            .insert(Key::HighestWastedBytes, set(Value::Disabled));
        b.settings
            .insert(Key::HighestUserWastedPercent, set(Value::Fraction(0.0)));
        let facts = Facts::new(&r, None, None);
        let o = evaluate(&b, &facts).unwrap();
        let got: Vec<(Key, Status)> = o.iter().map(|o| (o.rule, o.status)).collect();
        assert_eq!(
            got,
            [
                (Key::MaxLayers, Status::Fail),
                (Key::MaxSize, Status::Pass),
                // NaN (nothing wasted, no user bytes) passes, as in dive.
                (Key::HighestUserWastedPercent, Status::Pass),
                (Key::HighestWastedBytes, Status::Skip),
            ]
        );
        b.settings.insert(Key::MaxGrowth, set(Value::Bytes(0)));
        assert_eq!(
            evaluate(&b, &facts),
            Err(RuleError::NoBaseline(Key::MaxGrowth))
        );
    }
}
