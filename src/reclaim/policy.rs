//! The reclaim policy: a TOML file of watermarks, steps and keep rules, validated with `FILE:LINE`
//! errors (shared with `dredge.toml`'s loader through [`crate::config_file`]). Parsing is pure: [`parse`] takes the text.

use toml::Spanned;
use toml::de::DeValue;

use crate::config_file::{self, FileError};
use crate::prune::facts::parse_duration;
use crate::units::parse_size;

/// A policy that cannot be used. Messages name the file, the line and the key.
pub type PolicyError = FileError;

/// A watermark on the data root's filesystem: a percent of its size, or bytes of used space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// Percent (0-100) of used + available (as `df` computes Use%).
    Percent(f64),
    /// Bytes of used space.
    Bytes(u64),
}

impl Mark {
    /// The mark in bytes of used space, on a filesystem of `size` bytes (used + available).
    pub fn bytes(self, size: u64) -> u64 {
        match self {
            Mark::Percent(p) => (size as f64 * p / 100.0).floor() as u64,
            Mark::Bytes(b) => b,
        }
    }
    /// The mark as written (`85%`, `40 GB`).
    pub fn text(self) -> String {
        match self {
            Mark::Percent(p) => format!("{p}%"),
            Mark::Bytes(b) => crate::units::size(b),
        }
    }
}

/// One step of the order of victims. Its text is in [`Step::as_str`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Quarantined orphans past their grace period, deleted for good.
    Quarantine,
    /// Orphans of the data root, moved to the quarantine.
    Orphans,
    /// Build-cache records unused for `build_cache.unused_for`.
    BuildCache,
    /// Untagged images no image has as parent.
    DanglingImages,
    /// Containers finished more than `containers.finished_for` ago.
    StoppedContainers,
    /// Images no container uses, least recently used first.
    UnusedImages,
    /// Anonymous volumes no container uses (only with `volumes.anonymous = true`).
    AnonymousVolumes,
}

impl Step {
    /// Every step, in the default order.
    pub const ALL: [Step; 7] = [
        Step::Quarantine,
        Step::Orphans,
        Step::BuildCache,
        Step::DanglingImages,
        Step::StoppedContainers,
        Step::UnusedImages,
        Step::AnonymousVolumes,
    ];
    /// The step's name in the policy, documents and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Quarantine => "quarantine",
            Step::Orphans => "orphans",
            Step::BuildCache => "build-cache",
            Step::DanglingImages => "dangling-images",
            Step::StoppedContainers => "stopped-containers",
            Step::UnusedImages => "unused-images",
            Step::AnonymousVolumes => "anonymous-volumes",
        }
    }
    fn from_name(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A parsed, valid policy. Durations are seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Act when used space is at or above this.
    pub high: Mark,
    /// Free until used space is at or below this.
    pub low: Mark,
    /// The steps, in order; a step not listed does not run.
    pub steps: Vec<Step>,
    /// Images (dangling and unused): minimum age, counted from the first time dredge saw the image.
    pub image_min_age: u64,
    /// Images with a `repo:tag` (or repository) matching one of these globs are kept.
    pub keep: Vec<String>,
    /// Images with one of these labels (`KEY`, or `KEY=VALUE`) are kept.
    pub keep_labels: Vec<(String, Option<String>)>,
    /// The N most recently used images of each repository are kept.
    pub keep_last: usize,
    /// Stopped containers finished at least this long ago.
    pub container_finished_for: u64,
    /// Build-cache records unused for at least this long.
    pub build_cache_unused_for: u64,
    /// Anonymous volumes no container uses are victims (the `anonymous-volumes` step).
    pub volumes_anonymous: bool,
    /// Anonymous volumes created at least this long ago.
    pub volume_min_age: u64,
    /// Orphans unchanged for at least this long.
    pub orphan_grace: u64,
    /// Quarantined orphans are deleted for good this long after they were quarantined.
    pub quarantine_grace: u64,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            high: Mark::Percent(85.0),
            low: Mark::Percent(80.0),
            steps: Step::ALL.to_vec(),
            image_min_age: 2 * 3600,
            keep: Vec::new(),
            keep_labels: Vec::new(),
            keep_last: 1,
            container_finished_for: 24 * 3600,
            build_cache_unused_for: 24 * 3600,
            volumes_anonymous: false,
            volume_min_age: 24 * 3600,
            orphan_grace: 3600,
            quarantine_grace: 24 * 3600,
        }
    }
}

impl Policy {
    /// True when `step` runs: listed in the order, and switched on where it has a switch.
    pub fn runs(&self, step: Step) -> bool {
        self.steps.contains(&step) && (step != Step::AnonymousVolumes || self.volumes_anonymous)
    }
}

/// Reads and parses a policy file.
pub fn load(path: &std::path::Path) -> Result<Policy, PolicyError> {
    let text = config_file::read(path, "the policy ")?;
    parse(&text, &path.display().to_string())
}

/// The keys of each table, for "unknown key" messages.
const KEYS: &[(&str, &[&str])] = &[
    ("watermarks", &["high", "low"]),
    ("images", &["min_age", "keep", "keep_labels", "keep_last"]),
    ("containers", &["finished_for"]),
    ("build_cache", &["unused_for"]),
    ("volumes", &["anonymous", "min_age"]),
    ("orphans", &["grace"]),
    ("quarantine", &["grace"]),
    ("order", &["steps"]),
];

fn mark(v: &DeValue<'_>) -> Result<Mark, String> {
    let Some(s) = v.as_str() else {
        return Err(
            "must be a string: a percent (\"85%\") or a size of used space (\"40GB\")".into(),
        );
    };
    let s = s.trim();
    if let Some(p) = s.strip_suffix('%') {
        let x: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a percent"))?;
        if !(0.0..=100.0).contains(&x) || !x.is_finite() {
            return Err(format!("{s} is not a percent between 0% and 100%"));
        }
        return Ok(Mark::Percent(x));
    }
    parse_size(s).map(Mark::Bytes).map_err(|e| e.to_string())
}

fn duration(v: &DeValue<'_>) -> Result<u64, String> {
    let s = v
        .as_str()
        .ok_or("must be a duration string, like \"24h\" or \"7d\"")?;
    parse_duration(s)
}

fn boolean(v: &DeValue<'_>) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "must be true or false".into())
}

fn strings(v: &DeValue<'_>) -> Result<Vec<String>, String> {
    let arr = v.as_array().ok_or("must be an array of strings")?;
    arr.iter()
        .map(|x| {
            x.get_ref()
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| "must be an array of strings".to_string())
        })
        .collect()
}

/// Parses policy text; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
    let doc = config_file::parse_toml(text, file)?;
    let err = |span: std::ops::Range<usize>, key: String, message: String| {
        config_file::key_error(text, file, span, key, message)
    };
    let mut p = Policy::default();
    let mut high_at = None;
    let mut low_at = None;
    for (top, value) in doc.get_ref() {
        let name = top.get_ref().as_ref();
        let Some((_, known)) = KEYS.iter().find(|(t, _)| *t == name) else {
            let tables: Vec<&str> = KEYS.iter().map(|(t, _)| *t).collect();
            return Err(err(
                top.span(),
                name.to_string(),
                format!("unknown table (known: {})", tables.join(", ")),
            ));
        };
        let Some(table) = value.get_ref().as_table() else {
            return Err(err(top.span(), name.to_string(), "must be a table".into()));
        };
        for (k, v) in table {
            let key: &Spanned<std::borrow::Cow<'_, str>> = k;
            let kname = key.get_ref().as_ref();
            let full = format!("{name}.{kname}");
            if !known.contains(&kname) {
                return Err(err(
                    key.span(),
                    full,
                    format!("unknown key (known: {})", known.join(", ")),
                ));
            }
            let v = v.get_ref();
            let e = |m: String| err(key.span(), full.clone(), m);
            match full.as_str() {
                "watermarks.high" => {
                    p.high = mark(v).map_err(e)?;
                    high_at = Some(key.span());
                }
                "watermarks.low" => {
                    p.low = mark(v).map_err(e)?;
                    low_at = Some(key.span());
                }
                "images.min_age" => p.image_min_age = duration(v).map_err(e)?,
                "images.keep" => {
                    p.keep = strings(v).map_err(e)?;
                    crate::prune::plan::keep_globs(&p.keep).map_err(e)?;
                }
                "images.keep_labels" => {
                    p.keep_labels = strings(v)
                        .map_err(e)?
                        .into_iter()
                        .map(|l| match l.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (l, None),
                        })
                        .collect();
                    if p.keep_labels.iter().any(|(k, _)| k.is_empty()) {
                        return Err(e("a label needs a key (KEY or KEY=VALUE)".into()));
                    }
                }
                "images.keep_last" => {
                    let n = v
                        .as_integer()
                        .and_then(|i| i.as_str().parse::<i64>().ok())
                        .ok_or_else(|| e("must be a whole number".into()))?;
                    p.keep_last = usize::try_from(n)
                        .map_err(|_| e(format!("{n} is negative: must be 0 or more")))?;
                }
                "containers.finished_for" => p.container_finished_for = duration(v).map_err(e)?,
                "build_cache.unused_for" => p.build_cache_unused_for = duration(v).map_err(e)?,
                "volumes.anonymous" => p.volumes_anonymous = boolean(v).map_err(e)?,
                "volumes.min_age" => p.volume_min_age = duration(v).map_err(e)?,
                "orphans.grace" => p.orphan_grace = duration(v).map_err(e)?,
                "quarantine.grace" => p.quarantine_grace = duration(v).map_err(e)?,
                "order.steps" => {
                    let names = strings(v).map_err(e)?;
                    let mut steps = Vec::new();
                    for n in names {
                        let s = Step::from_name(&n).ok_or_else(|| {
                            let all: Vec<&str> = Step::ALL.iter().map(|s| s.as_str()).collect();
                            e(format!("unknown step '{n}' (known: {})", all.join(", ")))
                        })?;
                        if steps.contains(&s) {
                            return Err(e(format!("step '{n}' is listed twice")));
                        }
                        steps.push(s);
                    }
                    p.steps = steps;
                }
                _ => return Err(e("unknown key".into())),
            }
        }
    }
    // low above high, when both are of the same kind (a percent and a size compare only on a disk:
    // the run checks them there).
    let above = match (p.low, p.high) {
        (Mark::Percent(l), Mark::Percent(h)) => l > h,
        (Mark::Bytes(l), Mark::Bytes(h)) => l > h,
        _ => false,
    };
    if above {
        let span = low_at.or(high_at).unwrap_or(0..0);
        return Err(err(
            span,
            "watermarks.low".into(),
            format!(
                "low ({}) is above high ({}): low must be at or below high",
                p.low.text(),
                p.high.text()
            ),
        ));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[watermarks]
high = "85%"              # a percent of the data root's filesystem, or a size of used space
low = "80%"
[images]
min_age = "2h"            # counted from first detection
keep = ["myregistry/base:*"]
keep_labels = ["keep=true"]
keep_last = 1             # per repository
[containers]
finished_for = "24h"
[build_cache]
unused_for = "24h"
[volumes]
anonymous = false
[order]                   # optional; the default order above
steps = ["quarantine", "orphans", "build-cache", "dangling-images", "stopped-containers", "unused-images", "anonymous-volumes"]
"#;

    fn bad(text: &str) -> String {
        parse(text, "p.toml").unwrap_err().to_string()
    }

    #[test]
    fn the_issue_example_parses() {
        let p = parse(EXAMPLE, "p.toml").unwrap();
        assert_eq!(p.high, Mark::Percent(85.0));
        assert_eq!(p.low, Mark::Percent(80.0));
        assert_eq!(p.image_min_age, 7200);
        assert_eq!(p.keep, vec!["myregistry/base:*".to_string()]);
        assert_eq!(p.keep_labels, vec![("keep".into(), Some("true".into()))]);
        assert_eq!(p.keep_last, 1);
        assert_eq!(p.container_finished_for, 86_400);
        assert_eq!(p.steps, Step::ALL.to_vec());
        assert!(!p.runs(Step::AnonymousVolumes));
        assert!(p.runs(Step::UnusedImages));
        // An empty policy is the defaults.
        assert_eq!(parse("", "p.toml").unwrap(), Policy::default());
    }

    #[test]
    fn sizes_and_order() {
        let p = parse(
            "[watermarks]\nhigh = \"40GB\"\nlow = \"30 GB\"\n[order]\nsteps = [\"orphans\", \"unused-images\"]\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.high, Mark::Bytes(40_000_000_000));
        assert_eq!(p.low, Mark::Bytes(30_000_000_000));
        assert_eq!(p.steps, vec![Step::Orphans, Step::UnusedImages]);
        assert!(!p.runs(Step::Quarantine));
        assert_eq!(Mark::Percent(80.0).bytes(1000), 800);
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        assert_eq!(
            bad("[watermarks]\nhigh = \"80%\"\nlow = \"85%\"\n"),
            "p.toml:3: watermarks.low: low (85%) is above high (80%): low must be at or below high"
        );
        assert_eq!(
            bad("[watermarks]\n\nhigh = \"120%\"\n"),
            "p.toml:3: watermarks.high: 120% is not a percent between 0% and 100%"
        );
        assert!(
            bad("[images]\nmin_agee = \"2h\"\n")
                .starts_with("p.toml:2: images.min_agee: unknown key")
        );
        assert!(bad("[image]\nmin_age = \"2h\"\n").starts_with("p.toml:1: image: unknown table"));
        assert!(bad("[images]\nmin_age = \"2 hours\"\n").starts_with("p.toml:2: images.min_age: "));
        assert!(bad("[images]\nkeep_last = -1\n").starts_with("p.toml:2: images.keep_last: "));
        assert!(bad("[images]\nkeep = [\"a[\"]\n").starts_with("p.toml:2: images.keep: "));
        assert!(
            bad("[order]\nsteps = [\"orphans\", \"everything\"]\n")
                .starts_with("p.toml:2: order.steps: unknown step 'everything'")
        );
        assert!(bad("[order]\nsteps = [\"orphans\", \"orphans\"]\n").contains("listed twice"));
        assert!(
            bad("[volumes]\nanonymous = \"yes\"\n").starts_with("p.toml:2: volumes.anonymous: ")
        );
        assert!(
            bad("[watermarks]\nhigh = 85\n")
                .starts_with("p.toml:2: watermarks.high: must be a string")
        );
        assert!(bad("[watermarks\n").starts_with("p.toml:1: "));
        assert!(bad("watermarks = 1\n").starts_with("p.toml:1: watermarks: must be a table"));
    }
}
