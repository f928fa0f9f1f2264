//! Command-line definitions (clap derive). Help, completions and the man page all come from here.

use clap::{Args, Parser, Subcommand};

/// Find where Docker's disk space went, and get it back.
#[derive(Debug, Parser)]
#[command(name = "dredge", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-layer waste of an image: invisible bytes by reason, caches, duplicates, dive's figures.
    Image(ImageArgs),
    /// Dockerfile changes that make an image smaller, each with the exact bytes it saves.
    Advise(AdviseArgs),
    /// Size rules checked on a Dockerfile's text alone (hadolint's ids where they correspond).
    Lint(LintArgs),
}

/// `dredge advise`.
#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// The image, as for `dredge image`: a `docker save` archive, an OCI layout or archive, or `-`.
    pub source: String,
    /// The Dockerfile the image was built from (its final stage is matched to the layers).
    #[arg(long, value_name = "PATH")]
    pub dockerfile: Option<std::path::PathBuf>,
    /// Print a unified diff of the Dockerfile (and .dockerignore) with the mechanical suggestions applied.
    #[arg(long, requires = "dockerfile")]
    pub diff: bool,
    /// Apply the mechanical suggestions in place (the originals are kept as `*.dredge-bak`).
    #[arg(long, requires = "dockerfile")]
    pub write: bool,
    /// Print the advice as JSON (schema `dredge.advice`, see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Never show progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

/// `dredge lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// The Dockerfile to check.
    pub dockerfile: std::path::PathBuf,
    /// Print the findings as JSON (schema `dredge.lint`, see docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// `dredge image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// A `docker save` archive (legacy or OCI-based), an OCI layout directory or archive, or `-` for stdin.
    pub source: String,
    /// Print the report as JSON (schema `dredge.image`, see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// How many of the largest invisible paths and duplicate groups to list (0 = all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Also find identical content under different paths (hashes only files that share a size).
    #[arg(long)]
    pub duplicates: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Never show progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
}
