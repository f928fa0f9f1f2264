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
    /// Where a Docker host's disk went: images, containers (logs included), volumes, build cache,
    /// orphans and everything else under the data root, with what reclaims each.
    Df(DfArgs),
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

/// `dredge df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Read this data root offline (daemon stopped, or a disk from another host) instead of asking the
    /// engine (`DOCKER_HOST` or /var/run/docker.sock).
    #[arg(long, value_name = "PATH")]
    pub data_root: Option<std::path::PathBuf>,
    /// Print the report as JSON (schema `dredge.df`, see docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// How many of the largest items and orphans to list (0 = all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Worker threads measuring directories (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Keep image layers' measured sizes in FILE between runs (layers never change once committed;
    /// entries of removed layers are dropped): a repeat run walks only what can change.
    #[arg(long, value_name = "FILE")]
    pub cache: Option<std::path::PathBuf>,
    /// Live mode: also ask the engine for its own `docker system df` figures and show them beside
    /// dredge's (the daemon then walks every container and volume, which is slow on a busy host).
    #[arg(long)]
    pub engine_df: bool,
    /// Never show progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
}
