//! `dredge reclaim`: keeps a host's disk under a watermark, for timers and fleets.
//!
//! A run measures the data root's filesystem (`statvfs`); at or above the policy's `high` mark it frees
//! space step by step, in the policy's order of victims, until used space is at or below `low`. Each step
//! is planned by a pure function ([`order`]) over freshly gathered facts and applied by `dredge prune`'s
//! apply ([`crate::prune::apply::apply_plan`]): the same re-checks, journal, lock and quarantine. Last
//! use of images survives restarts in a state file ([`state`]).

pub mod events;
pub mod order;
pub mod policy;
pub mod run;
pub mod state;
pub mod timer;
pub mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

pub use policy::{Policy, PolicyError, Step};
pub use run::run;

use crate::prune::apply::{DoneItem, SkippedItem};

/// Version of the `dredge.reclaim` document.
pub const SCHEMA_VERSION: u32 = 1;

/// Why a run stopped before doing anything (each maps to an exit code).
#[derive(Debug, thiserror::Error)]
pub enum ReclaimError {
    /// The policy file is unreadable or invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Bad input: a daemon that is down, an unwritable metrics dir, a data root that cannot be measured.
    #[error("{0}")]
    Input(String),
    /// Another run holds the lock.
    #[error("{0}")]
    Locked(String),
}

impl ReclaimError {
    /// [`crate::Exit::Input`] (2), or [`crate::Exit::Locked`] (3) when another run holds the lock.
    pub fn exit(&self) -> crate::Exit {
        match self {
            ReclaimError::Locked(_) => crate::Exit::Locked,
            _ => crate::Exit::Input,
        }
    }
}

impl From<crate::prune::PruneError> for ReclaimError {
    fn from(e: crate::prune::PruneError) -> ReclaimError {
        match e {
            crate::prune::PruneError::Locked(m) => ReclaimError::Locked(m),
            other => ReclaimError::Input(other.to_string()),
        }
    }
}

/// Everything `dredge reclaim` is asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The policy file.
    pub policy: PathBuf,
    /// The state file (default `<state-dir>/reclaim-state.json`).
    pub state_file: PathBuf,
    /// Journal and lock (shared with `dredge prune`).
    pub state_dir: PathBuf,
    /// Write Prometheus textfile metrics here (atomically).
    pub metrics: Option<PathBuf>,
    /// Plan the steps and say what would go; delete nothing, write no state.
    pub dry_run: bool,
    /// Set (by SIGTERM in `--watch`): the run stops before its next step or round.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Options {
    fn stopping(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// The default state file: `<state-dir>/reclaim-state.json`.
pub fn default_state_file(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("reclaim-state.json")
}

/// Used and free space of a filesystem, as `df` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// `(f_blocks − f_bfree) × f_frsize` (df's Used).
    pub used_bytes: u64,
    /// `f_bavail × f_frsize` (df's Avail).
    pub free_bytes: u64,
}

impl Usage {
    /// Used + available: what percents are of (as df's Use%).
    pub fn size(self) -> u64 {
        self.used_bytes + self.free_bytes
    }
}

/// The watermarks as given and in bytes of used space on this filesystem.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Watermarks {
    /// `high` as written.
    pub high: String,
    /// `low` as written.
    pub low: String,
    /// `high` in bytes of used space.
    pub high_bytes: u64,
    /// `low` in bytes of used space.
    pub low_bytes: u64,
}

/// One victim as planned.
#[derive(Debug, Clone, Serialize)]
pub struct Victim {
    /// What it is.
    pub kind: crate::prune::Kind,
    /// Its id.
    pub id: String,
    /// Bytes the plan expects it to free.
    pub bytes: u64,
    /// The rule that chose it.
    pub rule: String,
    /// References (image tags, container name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
}

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepRun {
    /// The step.
    pub step: Step,
    /// Victims planned, in order (every round of the step).
    pub planned: Vec<Victim>,
    /// What was done (empty in a dry run).
    pub done: Vec<DoneItem>,
    /// Planned victims apply's re-check left, with the reason.
    pub skipped: Vec<SkippedItem>,
    /// The prune runs (journals) it made.
    pub runs: Vec<String>,
    /// Used bytes gone during the step, measured with statvfs before and after (a dry run: the plan's
    /// estimate).
    pub freed_bytes: u64,
}

/// What still holds the space when low was not reached.
#[derive(Debug, Clone, Serialize)]
pub struct Holding {
    /// What (`images used by containers`, `volumes`, …).
    pub what: String,
    /// Bytes.
    pub bytes: u64,
}

/// The `dredge.reclaim` document.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Nothing was deleted (`--dry-run`).
    pub dry_run: bool,
    /// The engine's id.
    pub engine_id: String,
    /// The data root, whose filesystem is measured.
    pub data_root: String,
    /// The state file.
    pub state_file: String,
    /// The watermarks.
    pub watermarks: Watermarks,
    /// Before the run.
    pub before: Usage,
    /// After the run (a dry run: before minus the estimates).
    pub after: Usage,
    /// Used space was at or above `high`: the steps ran.
    pub acted: bool,
    /// Used space is at or below `low` after the run.
    pub reached_low: bool,
    /// The steps that ran, in order.
    pub steps: Vec<StepRun>,
    /// Objects the steps looked at and left, by reason (each object once).
    pub skipped: BTreeMap<String, u64>,
    /// The same, object by object.
    pub left: Vec<order::Left>,
    /// Orphans of the data root found at the start.
    pub orphans: u64,
    /// Their bytes.
    pub orphans_bytes: u64,
    /// What still holds the space, when low was not reached.
    pub holding: Vec<Holding>,
    /// Wall time of the run.
    pub duration_seconds: f64,
    /// End of the last run that reached low or had nothing to do (this one, if it did).
    pub last_success: Option<i64>,
    /// Things worth saying that did not stop the run.
    pub warnings: Vec<String>,
}

impl Outcome {
    /// 0 when under low or nothing to do, 1 when low could not be reached.
    pub fn exit(&self) -> crate::Exit {
        if !self.acted || self.reached_low {
            crate::Exit::Done
        } else {
            crate::Exit::Failed
        }
    }
}
