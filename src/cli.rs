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
