//! `dredge reclaim install-timer`: a systemd service (`Type=oneshot`, idle CPU and IO priority) and a
//! timer (`Persistent=true`, `RandomizedDelaySec=`) that run `dredge reclaim`. Printed, or written
//! into a unit dir with `--write`. The unit text is made by [`crate::report::reclaim::units`].

use std::path::{Path, PathBuf};

use super::ReclaimError;

/// Unit names.
pub const SERVICE: &str = "dredge-reclaim.service";
/// The timer's name.
pub const TIMER: &str = "dredge-reclaim.timer";

/// What the units run, and when.
#[derive(Debug, Clone)]
pub struct TimerOptions {
    /// The dredge binary (absolute).
    pub exe: PathBuf,
    /// `--policy` of the run.
    pub policy: PathBuf,
    /// `--metrics` of the run.
    pub metrics: Option<PathBuf>,
    /// `--state` of the run.
    pub state: Option<PathBuf>,
    /// The timer's `OnCalendar=`.
    pub on_calendar: String,
    /// The timer's `RandomizedDelaySec=`, in seconds.
    pub randomized_delay: u64,
}

/// The two unit files' text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    /// `dredge-reclaim.service`.
    pub service: String,
    /// `dredge-reclaim.timer`.
    pub timer: String,
}

/// This dredge binary's own path (what the units run), symlinks resolved.
pub fn this_binary() -> Result<std::path::PathBuf, ReclaimError> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| ReclaimError::Input(format!("cannot find this dredge binary: {e}")))
}

/// Checks the options and makes the units.
pub fn units(o: &TimerOptions) -> Result<Units, ReclaimError> {
    let bad = |what: &str, s: &str| {
        ReclaimError::Input(format!(
            "{what} {s:?} cannot go into a unit file (empty, or a control character)"
        ))
    };
    if o.on_calendar.trim().is_empty() || o.on_calendar.chars().any(char::is_control) {
        return Err(bad("--on-calendar", &o.on_calendar));
    }
    for p in [
        Some(&o.exe),
        Some(&o.policy),
        o.metrics.as_ref(),
        o.state.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        let s = p.to_str().ok_or_else(|| {
            ReclaimError::Input(format!(
                "{} is not UTF-8: it cannot go into a unit file",
                p.display()
            ))
        })?;
        if s.is_empty() || s.chars().any(char::is_control) {
            return Err(bad("path", s));
        }
        if !p.is_absolute() {
            return Err(ReclaimError::Input(format!(
                "{s} is not an absolute path: systemd runs the service from /"
            )));
        }
    }
    Ok(crate::report::reclaim::units(o))
}

/// Writes both units into `dir`; their paths.
pub fn install(o: &TimerOptions, dir: &Path) -> Result<Vec<PathBuf>, ReclaimError> {
    let u = units(o)?;
    let mut written = Vec::new();
    for (name, text) in [(SERVICE, &u.service), (TIMER, &u.timer)] {
        let p = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &p))
            .map_err(|e| ReclaimError::Input(format!("cannot write {}: {e}", p.display())))?;
        written.push(p);
    }
    Ok(written)
}
