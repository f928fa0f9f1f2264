//! The advice document: suggestions, the evidence behind them, and the layers they talk about.

use serde::Serialize;

use super::edit::Change;

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
    /// A COPY/ADD whose files a later RUN deletes: bind-mount them into the RUN that uses them.
    CopyThenDelete,
    /// Package archives or lists (`.deb`, `.apk`, wheels, apt lists) COPYed in and deleted later.
    CopiedCache,
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
            Kind::CopyThenDelete => "copy-then-delete",
            Kind::CopiedCache => "copied-cache",
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
    /// Hidden items (indices into the stacked image's `hidden`) whose bytes this change removes.
    #[serde(skip)]
    pub covers: Vec<usize>,
}

/// Reclaimable bytes no suggestion removes, grouped by the layers involved and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unaddressed {
    /// The largest path of the group.
    pub path: String,
    /// Hidden items in the group (the path's included).
    pub items: usize,
    /// Bytes of data.
    pub bytes: u64,
    /// Layer that wrote them.
    pub layer: usize,
    /// Layer that hid them.
    pub hidden_by: usize,
    /// Why no Dockerfile change is offered.
    pub reason: String,
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
    /// Bytes shipped but invisible in the final filesystem (the same figure as `dredge image`).
    pub reclaimable_bytes: u64,
    /// The part of `reclaimable_bytes` that suggestions remove (their union: no byte counted twice).
    pub addressed_bytes: u64,
    /// Σ `bytes_saved` over the suggestions `--diff`/`--write` apply.
    pub diff_bytes_saved: u64,
    /// The rest of `reclaimable_bytes`, largest first, with why.
    pub unaddressed: Vec<Unaddressed>,
    /// Layers and the instructions that made them.
    pub layers: Vec<LayerStep>,
    /// Suggestions, largest saving first.
    pub suggestions: Vec<Suggestion>,
    /// Things that limited the advice.
    pub warnings: Vec<String>,
}
