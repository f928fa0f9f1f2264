//! `dredge prune`: gets the space back, exactly as planned.
//!
//! A run plans by default and deletes nothing. The plan ([`Plan`], the `dredge.prune.plan` document)
//! lists every object with its bytes and the rule that chose it. Applying it ([`apply`]) re-checks each
//! object against fresh facts immediately before it goes ([`recheck`]); one that changed is skipped with
//! its reason. Engine objects are deleted through the engine API one at a time and never with `force`;
//! orphans are moved (one rename) into a quarantine dir on the data root, from which `--undo` restores
//! them and `--purge-quarantine` deletes them for good. A journal of JSON lines ([`journal`]) records
//! every step, and a lock ([`lock`]) keeps two runs apart.
//!
//! Decisions ([`plan`], [`recheck`]) are pure functions over [`facts::Facts`]; the engine
//! ([`engine`]) and the data root ([`orphans`]) are read and changed at the edges.

pub mod apply;
pub mod engine;
pub mod facts;
pub mod journal;
pub mod lock;
pub mod orphans;
pub mod plan;
pub mod recheck;
pub mod state;
pub mod store;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::dataroot::QUARANTINE_DIR;

pub use apply::RunResult;
pub use plan::{Plan, Selectors};

/// Version of the `dredge.prune.plan` and `dredge.prune.result` documents.
pub const SCHEMA_VERSION: u32 = 1;

/// What kind of object an item is. Its text (`image`, …) is in [`Kind::as_str`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An image, by full id.
    Image,
    /// A container, by full id.
    Container,
    /// A volume, by name.
    Volume,
    /// A build-cache record, by id.
    BuildCache,
    /// A container's log file.
    Log,
    /// An orphan of the data root, by path.
    Orphan,
    /// A deleted file still held open (`dredge df`'s `held[]`): a container to restart (id: the
    /// container's id) or a deleted log to truncate (id: `PID:FD`).
    Held,
}

impl Kind {
    /// The kind's name in documents and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Container => "container",
            Kind::Volume => "volume",
            Kind::BuildCache => "build-cache",
            Kind::Log => "log",
            Kind::Orphan => "orphan",
            Kind::Held => "held",
        }
    }
}

/// Why a run stopped before doing anything (each maps to an exit code, see [`PruneError::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// Bad usage: no selector, conflicting flags.
    #[error("{0}")]
    Usage(String),
    /// Bad input: a corrupt plan or journal, a plan from another engine, a daemon that is down.
    #[error("{0}")]
    Input(String),
    /// Another `dredge prune` holds the lock.
    #[error("{0}")]
    Locked(String),
}

impl PruneError {
    /// [`crate::Exit::Input`] (2) for usage and input errors, [`crate::Exit::Locked`] (3) when
    /// another run holds the lock (README, "Exit status").
    pub fn exit(&self) -> crate::Exit {
        match self {
            PruneError::Usage(_) | PruneError::Input(_) => crate::Exit::Input,
            PruneError::Locked(_) => crate::Exit::Locked,
        }
    }

    /// The process exit status of [`PruneError::exit`].
    pub fn exit_code(&self) -> u8 {
        self.exit().code()
    }
}

/// What a run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plan and print; delete nothing.
    Plan,
    /// Plan, then apply the plan.
    Yes,
    /// Apply a saved plan exactly.
    Apply(PathBuf),
    /// Restore what a run quarantined (None: the last run that quarantined anything).
    Undo(Option<String>),
    /// Delete quarantined orphans for good (only those quarantined at least this many seconds ago).
    Purge {
        /// Seconds.
        older_than: u64,
    },
}

/// Everything `dredge prune` is asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to do.
    pub mode: Mode,
    /// What to select (planning modes).
    pub selectors: Selectors,
    /// Offline: this data root, daemon stopped (orphans only).
    pub data_root: Option<PathBuf>,
    /// Where the journal, lock and last-use state live.
    pub state_dir: PathBuf,
    /// Also write the plan here.
    pub plan_out: Option<PathBuf>,
}

/// The default state dir: `$DREDGE_STATE_DIR`, else `/var/lib/dredge`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("DREDGE_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/dredge"))
}

/// The quarantine dir of a data root: `<data-root>/dredge-quarantine`, on the data root's own filesystem
/// so that moving an orphan there is one rename. The engine ignores names it does not know there.
pub fn quarantine_dir(data_root: &Path) -> PathBuf {
    data_root.join(QUARANTINE_DIR)
}

/// What a run produced, for the report.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The plan made (plan and `--yes` modes).
    pub plan: Option<Plan>,
    /// What was done (`--yes`, `--apply`, `--undo`, `--purge-quarantine`).
    pub result: Option<RunResult>,
    /// Runs found interrupted, and how each was settled.
    pub recovered: Vec<journal::Recovered>,
    /// Things worth saying that did not stop the run.
    pub warnings: Vec<String>,
}

/// Runs `dredge prune`: plan, apply, undo or purge, as `opts.mode` says.
pub fn run(opts: &Options) -> Result<Outcome, PruneError> {
    apply::run(opts)
}
