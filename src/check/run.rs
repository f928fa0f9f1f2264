//! `dredge check` as one call: resolve the budgets, read the baseline, analyse the image, judge.

use std::path::{Path, PathBuf};

use super::config::{self, ConfigError, Sources};
use super::{Baseline, BaselineError, Budgets, CheckReport, Facts, RuleError};
use crate::image::{self, ImageError};

/// What `dredge check` was asked.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The image, as for `dredge image`.
    pub source: String,
    /// Budgets given as flags (highest precedence), each with its flag as origin.
    pub flags: Budgets,
    /// `--config PATH`.
    pub config: Option<PathBuf>,
    /// `--dive-ci PATH`.
    pub dive_ci: Option<PathBuf>,
    /// Directory searched for `dredge.toml` and `.dive-ci` (the working directory); `None` searches
    /// nowhere (`--no-config`).
    pub config_dir: Option<PathBuf>,
    /// The image or JSON report to measure growth against.
    pub baseline: Option<String>,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Show progress on stderr.
    pub progress: bool,
    /// Also check every blob's digest and size, and every diff id (reads every byte).
    pub verify: bool,
}

/// A finished check.
#[derive(Debug)]
pub struct CheckOutcome {
    /// The verdicts (the `dredge.check` document), its own warnings included.
    pub report: CheckReport,
    /// Warnings about the configuration read (not part of the document).
    pub warnings: Vec<String>,
}

impl CheckOutcome {
    /// [`crate::Exit::Done`] when every budget holds, else [`crate::Exit::Failed`].
    pub fn exit(&self) -> crate::Exit {
        if self.report.passed {
            crate::Exit::Done
        } else {
            crate::Exit::Failed
        }
    }
}

/// Why a check could not be made (usage or input error, exit 2; a broken budget is not an error).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A config file is unreadable or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No source sets any budget.
    #[error(
        "no budgets to check: give flags (--max-size …), a dredge.toml with a [check] table, \
         or a .dive-ci"
    )]
    NoBudgets,
    /// A growth budget without `--baseline`.
    #[error("max_growth and max_growth_percent need --baseline IMAGE-OR-REPORT")]
    NoBaseline,
    /// The baseline file cannot be read.
    #[error("cannot read baseline {spec}: {source}")]
    ReadBaseline {
        /// What the user named.
        spec: String,
        /// Why.
        source: std::io::Error,
    },
    /// The baseline report is not a usable `dredge.image`/`dredge.check` document.
    #[error("baseline {0}")]
    Baseline(#[from] BaselineError),
    /// The image (or the baseline image) cannot be read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A rule cannot be evaluated (a glob that does not compile).
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// A baseline: a JSON report when the named file starts with `{`, else an image source.
fn load_baseline(spec: &str, opts: &CheckOptions) -> Result<Baseline, CheckError> {
    let path = Path::new(spec);
    if spec != "-" && path.is_file() {
        let bytes = std::fs::read(path).map_err(|source| CheckError::ReadBaseline {
            spec: spec.to_string(),
            source,
        })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return Ok(Baseline::from_json(&bytes, spec)?);
        }
    }
    let (report, _, _) = image::analyse_stacked(spec, opts.threads, opts.progress, opts.verify)?;
    Ok(Baseline::from_report(&report))
}

/// `dredge check`: the budgets in force (see [`config`] for the precedence) against the image.
pub fn run(opts: &CheckOptions) -> Result<CheckOutcome, CheckError> {
    let resolved = config::resolve(&Sources {
        config: opts.config.clone(),
        dive_ci: opts.dive_ci.clone(),
        dir: opts.config_dir.clone(),
        flags: opts.flags.clone(),
    })?;
    let budgets = &resolved.budgets;
    if budgets.is_empty() {
        return Err(CheckError::NoBudgets);
    }
    if budgets.needs_baseline() && opts.baseline.is_none() {
        return Err(CheckError::NoBaseline);
    }
    let baseline = match &opts.baseline {
        Some(spec) => Some(load_baseline(spec, opts)?),
        None => None,
    };
    // The final filesystem comes from the analysis' own stacking, not a second one.
    let (report, stacked, paths) =
        image::analyse_stacked(&opts.source, opts.threads, opts.progress, opts.verify)?;
    let stacked = budgets.needs_paths().then_some((&stacked, &paths));
    let facts = Facts::new(&report, stacked, baseline.as_ref());
    let report = super::check(budgets, &facts, resolved.files.clone(), vec![])?;
    Ok(CheckOutcome {
        report,
        warnings: resolved.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Key, Setting, Value};

    #[test]
    fn usage_errors_come_before_any_image_is_read() {
        let opts = CheckOptions {
            source: "/nonexistent.tar".into(),
            ..CheckOptions::default()
        };
        assert!(matches!(run(&opts), Err(CheckError::NoBudgets)));
        let mut flags = Budgets::default();
        flags.settings.insert(
            Key::MaxGrowth,
            Setting {
                value: Value::Bytes(1),
                origin: "--max-growth".into(),
            },
        );
        let opts = CheckOptions { flags, ..opts };
        let e = run(&opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "max_growth and max_growth_percent need --baseline IMAGE-OR-REPORT"
        );
        // With a baseline, the image itself is what is missing: an input error naming it.
        let e = run(&CheckOptions {
            baseline: Some("/nonexistent-baseline.tar".into()),
            ..opts
        })
        .unwrap_err();
        assert!(matches!(e, CheckError::Image(_)), "{e}");
        assert!(e.to_string().contains("/nonexistent-baseline.tar"), "{e}");
    }
}
