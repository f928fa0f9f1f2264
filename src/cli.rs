//! Command-line definitions (clap derive). Help, completions and the man page all come from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use dredge::advise::AdviseOptions;
use dredge::check::{self, Budgets, CheckOptions, Key, Kind, Setting, Value};
use dredge::image::ImageOptions;
use dredge::lint::LintOptions;
use dredge::report;

// Examples and exit status of each command: after `--help`, and the EXAMPLES and EXIT STATUS sections
// of its man page ([`man_extra`]). Macros, so that `concat!` can join them into clap's attributes.
macro_rules! examples {
    (dredge) => {
        "  dredge df                                  where the disk went (as root)
  dredge prune --dangling-images --yes       remove untagged, unused images
  dredge image app:1                         what an image ships for nothing
  dredge advise app.tar --dockerfile Dockerfile --diff
  dredge check app.tar --max-size 200MB      a size budget in CI"
    };
    (image) => {
        "  dredge image app:1                         an image the engine knows
  dredge image app.tar                       a `docker save` archive
  docker save app:1 | dredge image -         from a pipe
  dredge image oci-layout/ --json            JSON (dredge schema image)
  dredge image app:1 --duplicates --top 20   also identical files"
    };
    (check) => {
        "  dredge check app.tar --max-size 200MB --forbid '**/.git'
  dredge check app:1 --dive-ci .dive-ci      dive's CI rules
  dredge check app.tar --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  dredge check app.tar --baseline main.json --max-growth 5MB"
    };
    (advise) => {
        "  dredge advise app:1 --dockerfile Dockerfile          what to change
  dredge advise app.tar --dockerfile Dockerfile --diff  as a unified diff
  dredge advise app.tar --dockerfile Dockerfile --write apply (keeps a backup)"
    };
    (lint) => {
        "  dredge lint Dockerfile
  dredge lint Dockerfile --json              JSON (dredge schema lint)"
    };
    (df) => {
        "  sudo dredge df                             everything under the data root
  dredge df --top 20                         the 20 largest items
  dredge df --data-root /mnt/disk/docker     a data root offline
  dredge df --json                           JSON (dredge schema df)"
    };
    (prune) => {
        "  dredge prune --dangling-images --stopped-containers     the plan only
  dredge prune --dangling-images --stopped-containers --yes
  dredge prune --unused-images=30d --keep 'prod/*' --plan-out plan.json
  dredge prune --apply plan.json             exactly that plan
  dredge prune --orphans --yes; dredge prune --undo"
    };
    (reclaim) => {
        "  dredge reclaim --policy /etc/dredge/reclaim.toml --dry-run   what would go
  dredge reclaim --policy reclaim.toml --metrics reclaim.prom  one run, for a timer
  dredge reclaim install-timer --on-calendar hourly --write    the systemd units
  dredge reclaim --policy reclaim.toml --watch                 hosts without timers"
    };
}

macro_rules! exit_status {
    (dredge) => {
        "0 done; 1 a check or lint rule failed, or reclaim could not reach low; 2 usage error or
unreadable input; 3 another dredge prune or reclaim holds the lock."
    };
    (image) => {
        "0 done; 2 usage error or unreadable input."
    };
    (check) => {
        "0 every budget holds; 1 a budget is broken; 2 usage error or unreadable input."
    };
    (advise) => {
        "0 done; 2 usage error, unreadable input, or a Dockerfile that does not match the
image with --diff or --write."
    };
    (lint) => {
        "0 no rule fired; 1 a rule fired; 2 usage error or unreadable input."
    };
    (df) => {
        "0 done (a partial report says so); 2 usage error, or no engine answers."
    };
    (prune) => {
        "0 done (skipped items are reported); 2 usage or input error (nothing deleted);
3 another dredge prune is running."
    };
    (reclaim) => {
        "0 at or under low, or under high (nothing to do); 1 low could not be reached (what
still holds the space is printed); 2 bad policy or input (nothing deleted); 3 another run holds the
lock."
    };
}

macro_rules! help {
    ($c:tt) => {
        concat!(
            "Examples:\n",
            examples!($c),
            "\n\nExit status: ",
            exit_status!($c)
        )
    };
}

macro_rules! check_notes {
    () => {
        "\
Budgets come from, lowest precedence first: ./.dive-ci (only when nothing else sets a dive rule),
dredge.toml (--config PATH, else ./dredge.toml), --dive-ci PATH, then flags. Sizes take units:
500MB, 1.5GiB, 20kB (SI: kB = 1000; IEC: KiB = 1024); percents are 0-100; dive's rules keep dive's
fractions (0-1) and \"disabled\"."
    };
}

macro_rules! prune_notes {
    () => {
        "\
Nothing is selected by default: name what to prune. A DURATION (90s, 30m, 12h, 7d, 2w) left out
means any age. Engine objects are deleted through the engine API, one at a time, never with force;
orphans are moved into <data-root>/dredge-quarantine (--undo restores, --purge-quarantine deletes);
on the containerd image store, leaked leases and ingest leftovers are deleted through containerd's
API (no undo).
Journal, lock and last-use memory live in --state-dir (default $DREDGE_STATE_DIR, else
/var/lib/dredge)."
    };
}

macro_rules! reclaim_notes {
    () => {
        "\
When used space on the data root's filesystem is at or above the policy's high mark, victims go in
the policy's order (quarantine, orphans, build-cache, dangling-images, stopped-containers,
unused-images, anonymous-volumes) until it is at or below low, measured with statvfs before and
after each step. The state file (default <state-dir>/reclaim-state.json; the state dir is
$DREDGE_STATE_DIR, else /var/lib/dredge) remembers when each image was first seen and last used."
    };
}

/// The EXAMPLES and EXIT STATUS of a man page (None: the main page), and the notes of `--help`'s long
/// form, if any.
pub fn man_extra(
    command: Option<&str>,
) -> Option<(&'static str, &'static str, Option<&'static str>)> {
    Some(match command {
        None => (examples!(dredge), exit_status!(dredge), None),
        Some("image") => (examples!(image), exit_status!(image), None),
        Some("check") => (examples!(check), exit_status!(check), Some(check_notes!())),
        Some("advise") => (examples!(advise), exit_status!(advise), None),
        Some("lint") => (examples!(lint), exit_status!(lint), None),
        Some("df") => (examples!(df), exit_status!(df), None),
        Some("prune") => (examples!(prune), exit_status!(prune), Some(prune_notes!())),
        Some("reclaim") => (
            examples!(reclaim),
            exit_status!(reclaim),
            Some(reclaim_notes!()),
        ),
        Some(_) => return None,
    })
}

/// The page `dredge man [COMMAND]` renders: the command (its version set), its title, and its
/// EXAMPLES, EXIT STATUS and notes ([`man_extra`]); an unknown command is an error naming the commands.
pub fn man_page(command: Option<&str>) -> Result<ManPage, String> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let extra = man_extra(command);
    let Some(name) = command else {
        return Ok((cmd, None, extra));
    };
    let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        format!("no command '{name}' (commands: {})", names.join(", "))
    })?;
    Ok((
        sub.version(env!("CARGO_PKG_VERSION")),
        Some(format!("dredge-{name}")),
        extra,
    ))
}

/// A man page: the command, its title (None: `dredge`), and [`man_extra`].
pub type ManPage = (
    clap::Command,
    Option<String>,
    Option<(&'static str, &'static str, Option<&'static str>)>,
);

/// Find where Docker's disk space went, and get it back.
#[derive(Debug, Parser)]
#[command(name = "dredge", version, about, long_about = None, after_help = help!(dredge))]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Do not cut tables to the terminal's width (piped output is never cut).
    #[arg(long, global = true)]
    pub wide: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per-layer waste of an image: invisible bytes by reason, caches, duplicates, dive's figures.
    #[command(after_help = help!(image))]
    Image(ImageArgs),
    /// Check an image against size budgets (flags, dredge.toml, .dive-ci); exit 1 when one is broken.
    #[command(after_help = help!(check), after_long_help = concat!(help!(check), "\n\n", check_notes!()))]
    Check(Box<CheckArgs>),
    /// Dockerfile changes that make an image smaller, each with the exact bytes it saves.
    #[command(after_help = help!(advise))]
    Advise(AdviseArgs),
    /// Size rules checked on a Dockerfile's text alone (hadolint's ids where they correspond).
    #[command(after_help = help!(lint))]
    Lint(LintArgs),
    /// Where a Docker host's disk went: images, containers (logs included), volumes, build cache,
    /// orphans and everything else under the data root, with what removes each.
    #[command(after_help = help!(df))]
    Df(DfArgs),
    /// Get the space back: plan (the default: nothing is deleted), then apply with --yes or
    /// --apply PLAN. Each object is re-checked just before it goes; orphans are quarantined.
    #[command(after_help = help!(prune), after_long_help = concat!(help!(prune), "\n\n", prune_notes!()))]
    Prune(Box<PruneArgs>),
    /// Keep the data root's filesystem under a watermark, by a policy file: for timers and fleets.
    /// Built on prune's plan and apply (same re-checks, journal, lock and quarantine).
    #[command(
        after_help = help!(reclaim),
        after_long_help = concat!(help!(reclaim), "\n\n", reclaim_notes!()),
        args_conflicts_with_subcommands = true
    )]
    Reclaim(Box<ReclaimArgs>),
    /// Print the JSON Schema of a document dredge writes (image, check, advice, lint, df,
    /// prune.plan, prune.result, reclaim).
    Schema {
        /// The document: `df` or `dredge.df`; none lists them.
        name: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: dredge(1), or dredge-COMMAND(1) for a command.
    Man {
        /// A command (`image`, `check`, …); none for the main page.
        command: Option<String>,
    },
}

/// `dredge reclaim`.
#[derive(Debug, Args)]
pub struct ReclaimArgs {
    /// Write the systemd units that run it.
    #[command(subcommand)]
    pub command: Option<ReclaimCommand>,
    /// The policy file (TOML: watermarks, order, keep rules; README "Keeping a host under its watermark").
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The state file (default <state-dir>/reclaim-state.json).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Journal, lock and prune's memory (default $DREDGE_STATE_DIR, else /var/lib/dredge).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Write Prometheus textfile-collector metrics to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Print the `dredge.reclaim` document.
    #[arg(long)]
    pub json: bool,
    /// Say what would go; delete nothing, write no state.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running: follow the engine's events (last use), apply the policy whenever usage is at or
    /// above high (checked on events and every minute); stop cleanly on SIGTERM.
    #[arg(long)]
    pub watch: bool,
}

impl ReclaimArgs {
    /// The run's options (`None`: no `--policy`).
    pub fn options(&self) -> Option<dredge::reclaim::Options> {
        let policy = self.policy.clone()?;
        let state_dir = self
            .state_dir
            .clone()
            .unwrap_or_else(dredge::prune::default_state_dir);
        Some(dredge::reclaim::Options {
            policy,
            state_file: self
                .state
                .clone()
                .unwrap_or_else(|| dredge::reclaim::default_state_file(&state_dir)),
            state_dir,
            metrics: self.metrics.clone(),
            dry_run: self.dry_run,
            stop: None,
        })
    }
}

/// `dredge reclaim`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum ReclaimCommand {
    /// Print (or --write) a systemd service (oneshot, idle priority) and timer (persistent,
    /// randomized delay) that run dredge reclaim.
    InstallTimer(InstallTimerArgs),
}

/// `dredge reclaim install-timer`.
#[derive(Debug, Args)]
pub struct InstallTimerArgs {
    /// When the timer fires (systemd.time(7) calendar event).
    #[arg(long, value_name = "SPEC", default_value = "hourly")]
    pub on_calendar: String,
    /// Random delay before each run, to spread a fleet (DURATION: 90s, 30m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = duration_arg)]
    pub randomized_delay: u64,
    /// The policy the service runs with.
    #[arg(long, value_name = "FILE", default_value = "/etc/dredge/reclaim.toml")]
    pub policy: PathBuf,
    /// The metrics file the service writes.
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// The state file the service uses.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Write the units into the unit dir (--unit-dir) instead of printing them.
    #[arg(long)]
    pub write: bool,
    /// Where --write puts the units.
    #[arg(long, value_name = "DIR", default_value = "/etc/systemd/system")]
    pub unit_dir: PathBuf,
}

impl InstallTimerArgs {
    /// The units' options, for the dredge binary at `exe`.
    pub fn options(&self, exe: PathBuf) -> dredge::reclaim::timer::TimerOptions {
        dredge::reclaim::timer::TimerOptions {
            exe,
            policy: self.policy.clone(),
            metrics: self.metrics.clone(),
            state: self.state.clone(),
            on_calendar: self.on_calendar.clone(),
            randomized_delay: self.randomized_delay,
        }
    }
}

/// `dredge prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Untagged images that no other image has as parent.
    #[arg(long)]
    pub dangling_images: bool,
    /// Images unused (no container started or stopped, nor first seen) for at least DURATION.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "0s", value_parser = duration_arg)]
    pub unused_images: Option<u64>,
    /// Stopped containers finished at least DURATION ago.
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "0s", value_parser = duration_arg)]
    pub stopped_containers: Option<u64>,
    /// Anonymous volumes no container (running or stopped) uses.
    #[arg(long)]
    pub volumes: bool,
    /// Named volumes no container (running or stopped) uses.
    #[arg(long)]
    pub named_volumes: bool,
    /// Build-cache records unused for DURATION (never one in use or shared with an image).
    #[arg(long, value_name = "DURATION", num_args = 0..=1, default_missing_value = "0s", value_parser = duration_arg)]
    pub build_cache: Option<u64>,
    /// Build-cache records, least recently used first, until the rest fits in SIZE.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub build_cache_budget: Option<u64>,
    /// Container logs over SIZE: reported with the fix (log-opts, daemon.json); truncated only with
    /// --truncate-logs.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub logs_over: Option<u64>,
    /// With --held: truncate deleted json-file/local logs dockerd still holds, through
    /// /proc/PID/fd/N. With --logs-over: truncate to 0 the json-file/local log files over SIZE.
    /// Their content is lost.
    #[arg(long)]
    pub truncate_logs: bool,
    /// Deleted files still held open (`dredge df`'s held): restart the container holding them (only
    /// with a restart policy, unless --restart-any); the rest are reported with the fix.
    #[arg(long)]
    pub held: bool,
    /// With --held: also restart containers that have no restart policy.
    #[arg(long, requires = "held")]
    pub restart_any: bool,
    /// Orphans of the data root, as `dredge df` finds them (quarantined, not deleted); on the
    /// containerd image store, leaked leases and ingest leftovers (deleted through containerd's API).
    #[arg(long)]
    pub orphans: bool,
    /// Orphans changed, and images, containers and volumes created, more recently than this are kept
    /// (a build, commit, pull or run may be under way).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration_arg)]
    pub grace: u64,
    /// Keep images with a repo:tag (or repo) matching GLOB.
    #[arg(long, value_name = "GLOB")]
    pub keep: Vec<String>,
    /// Keep images with this label (KEY, or KEY=VALUE).
    #[arg(long, value_name = "K[=V]")]
    pub keep_label: Vec<String>,
    /// Keep the N most recently used images of each repository.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<usize>,
    /// Plan and apply in one run.
    #[arg(long, conflicts_with_all = ["apply", "undo", "purge_quarantine"])]
    pub yes: bool,
    /// Apply a saved plan exactly (each item re-checked before it goes).
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["undo", "purge_quarantine"])]
    pub apply: Option<std::path::PathBuf>,
    /// Restore the orphans RUN quarantined (default: the last run that quarantined any).
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "", conflicts_with = "purge_quarantine")]
    pub undo: Option<String>,
    /// Delete quarantined orphans for good.
    #[arg(long)]
    pub purge_quarantine: bool,
    /// With --purge-quarantine: only what was quarantined at least DURATION ago.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg, requires = "purge_quarantine")]
    pub older_than: Option<u64>,
    /// Work offline on this data root, the daemon stopped (--orphans, --purge-quarantine).
    #[arg(long, value_name = "PATH")]
    pub data_root: Option<std::path::PathBuf>,
    /// Also write the plan (schema `dredge.prune.plan`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub plan_out: Option<std::path::PathBuf>,
    /// Journal, lock and last-use memory (default $DREDGE_STATE_DIR, else /var/lib/dredge).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<std::path::PathBuf>,
    /// Print JSON (`dredge.prune.plan`, or `dredge.prune.result` when something was applied).
    #[arg(long)]
    pub json: bool,
}

impl PruneArgs {
    /// What to prune, and how: the mode (plan, apply, undo, purge), the selectors and where state is kept.
    pub fn options(&self) -> dredge::prune::Options {
        use dredge::prune::{self, Mode, Options, Selectors};
        let keep_labels = self
            .keep_label
            .iter()
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (l.clone(), None),
            })
            .collect();
        let mode = if let Some(p) = &self.apply {
            Mode::Apply(p.clone())
        } else if let Some(r) = &self.undo {
            Mode::Undo(Some(r.clone()).filter(|r| !r.is_empty()))
        } else if self.purge_quarantine {
            Mode::Purge {
                older_than: self.older_than.unwrap_or(0),
            }
        } else if self.yes {
            Mode::Yes
        } else {
            Mode::Plan
        };
        Options {
            mode,
            selectors: Selectors {
                dangling_images: self.dangling_images,
                unused_images: self.unused_images,
                stopped_containers: self.stopped_containers,
                volumes: self.volumes,
                named_volumes: self.named_volumes,
                build_cache: self.build_cache,
                build_cache_budget: self.build_cache_budget,
                logs_over: self.logs_over,
                truncate_logs: self.truncate_logs,
                held: self.held,
                restart_any: self.restart_any,
                orphans: self.orphans,
                grace: self.grace,
                keep: self.keep.clone(),
                keep_labels,
                keep_last: self.keep_last,
            },
            data_root: self.data_root.clone(),
            state_dir: self
                .state_dir
                .clone()
                .unwrap_or_else(prune::default_state_dir),
            plan_out: self.plan_out.clone(),
        }
    }
}

fn duration_arg(s: &str) -> Result<u64, String> {
    dredge::prune::facts::parse_duration(s)
}

/// Output format of `dredge check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A line per rule when one fails, else a single summary line.
    Human,
    /// The `dredge.check` document (its schema: `dredge schema check`).
    Json,
    /// JUnit XML: one test case per rule.
    Junit,
    /// Markdown, for $GITHUB_STEP_SUMMARY or a review comment.
    Markdown,
}

fn size_arg(s: &str) -> Result<u64, String> {
    dredge::units::parse_size(s).map_err(|e| e.to_string())
}

fn percent_arg(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    check::config::check_range(Kind::Percent, x)
}

fn dive_arg(key: Key) -> impl Fn(&str) -> Result<Value, String> + Clone {
    move |s: &str| check::config::dive_value(key, s)
}

/// `dredge check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The image, as for `dredge image`.
    pub source: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, conflicts_with = "json")]
    pub format: Format,
    /// Same as --format json.
    #[arg(long)]
    pub json: bool,
    /// Budgets file (TOML, a [check] table); default ./dredge.toml when it exists.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// dive's CI config (.dive-ci) to take lowestEfficiency, highestWastedBytes and
    /// highestUserWastedPercent from; overrides dredge.toml's [check.dive].
    #[arg(long, value_name = "PATH")]
    pub dive_ci: Option<PathBuf>,
    /// Read neither ./dredge.toml nor ./.dive-ci (explicit --config and --dive-ci still are).
    #[arg(long)]
    pub no_config: bool,
    /// Maximum total size (Σ layer sizes).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_size: Option<u64>,
    /// Maximum size of any one layer.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_layer_size: Option<u64>,
    /// Maximum number of layers.
    #[arg(long, value_name = "N")]
    pub max_layers: Option<u64>,
    /// Maximum invisible bytes (shipped, but hidden in the final filesystem: what a rebuild can drop).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_reclaimable: Option<u64>,
    /// Maximum invisible bytes in percent of the bytes of layers 1.. (0-100).
    #[arg(long, value_name = "PCT", value_parser = percent_arg)]
    pub max_reclaimable_percent: Option<f64>,
    /// The percent rule fires only when invisible bytes exceed this (default 0).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub reclaimable_floor: Option<u64>,
    /// Maximum bytes in package-manager caches, /tmp and logs left in the final filesystem.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_cache: Option<u64>,
    /// A path that must not be in the final filesystem (glob, repeatable: `**/.git`, `/root/.ssh/**`).
    #[arg(long = "forbid", value_name = "GLOB")]
    pub forbid: Vec<String>,
    /// The image to measure growth against: an image source, or a JSON report of an earlier run
    /// (`dredge image --json` or `dredge check --json`).
    #[arg(long, value_name = "SOURCE")]
    pub baseline: Option<String>,
    /// Maximum growth over the baseline.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_growth: Option<u64>,
    /// Maximum growth over the baseline in percent of the baseline (0-100).
    #[arg(long, value_name = "PCT", value_parser = percent_arg)]
    pub max_growth_percent: Option<f64>,
    /// dive's lowestEfficiency (fraction 0-1, or "disabled").
    #[arg(long, value_name = "FRACTION", value_parser = dive_arg(Key::LowestEfficiency))]
    pub lowest_efficiency: Option<Value>,
    /// dive's highestWastedBytes (a size, or "disabled").
    #[arg(long, value_name = "SIZE", value_parser = dive_arg(Key::HighestWastedBytes))]
    pub highest_wasted_bytes: Option<Value>,
    /// dive's highestUserWastedPercent (fraction 0-1, or "disabled").
    #[arg(long, value_name = "FRACTION", value_parser = dive_arg(Key::HighestUserWastedPercent))]
    pub highest_user_wasted_percent: Option<Value>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Never show progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Read every blob whole and check its sha256 and size against its name, its descriptor and the
    /// config's diff ids (reads every byte: slower on uncompressed layers).
    #[arg(long)]
    pub verify: bool,
}

impl CheckArgs {
    /// The output format, `--json` included.
    pub fn format(&self) -> report::check::Format {
        match if self.json { Format::Json } else { self.format } {
            Format::Human => report::check::Format::Human,
            Format::Json => report::check::Format::Json,
            Format::Junit => report::check::Format::Junit,
            Format::Markdown => report::check::Format::Markdown,
        }
    }

    /// What to check; the working directory is searched for configs unless `--no-config`.
    pub fn options(&self) -> std::io::Result<CheckOptions> {
        Ok(CheckOptions {
            source: self.source.clone(),
            flags: self.flag_budgets(),
            config: self.config.clone(),
            dive_ci: self.dive_ci.clone(),
            config_dir: if self.no_config {
                None
            } else {
                Some(std::env::current_dir()?)
            },
            baseline: self.baseline.clone(),
            threads: self.threads,
            progress: !self.no_progress,
            verify: self.verify,
        })
    }

    /// The budgets given as flags, each with its flag as origin.
    pub fn flag_budgets(&self) -> Budgets {
        let given: [(Key, Option<Value>); 13] = [
            (Key::MaxSize, self.max_size.map(Value::Bytes)),
            (Key::MaxLayerSize, self.max_layer_size.map(Value::Bytes)),
            (Key::MaxLayers, self.max_layers.map(Value::Count)),
            (Key::MaxReclaimable, self.max_reclaimable.map(Value::Bytes)),
            (
                Key::MaxReclaimablePercent,
                self.max_reclaimable_percent.map(Value::Percent),
            ),
            (
                Key::ReclaimableFloor,
                self.reclaimable_floor.map(Value::Bytes),
            ),
            (Key::MaxCache, self.max_cache.map(Value::Bytes)),
            (
                Key::ForbiddenPaths,
                (!self.forbid.is_empty()).then(|| Value::Globs(self.forbid.clone())),
            ),
            (Key::MaxGrowth, self.max_growth.map(Value::Bytes)),
            (
                Key::MaxGrowthPercent,
                self.max_growth_percent.map(Value::Percent),
            ),
            (Key::LowestEfficiency, self.lowest_efficiency.clone()),
            (Key::HighestWastedBytes, self.highest_wasted_bytes.clone()),
            (
                Key::HighestUserWastedPercent,
                self.highest_user_wasted_percent.clone(),
            ),
        ];
        let mut b = Budgets::default();
        for (key, value) in given {
            if let Some(value) = value {
                b.settings.insert(
                    key,
                    Setting {
                        value,
                        origin: key.flag().to_string(),
                    },
                );
            }
        }
        b
    }
}

/// `dredge advise`.
#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// The image, as for `dredge image`: a name the engine knows (`app:1`), a `docker save` archive,
    /// an OCI layout or archive, or `-`.
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
    /// Print the advice as JSON (its schema: `dredge schema advice`).
    #[arg(long)]
    pub json: bool,
    /// Never show progress on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Read every blob whole and check its sha256 and size against its name, its descriptor and the
    /// config's diff ids (reads every byte: slower on uncompressed layers).
    #[arg(long)]
    pub verify: bool,
}

impl AdviseArgs {
    /// What to advise.
    pub fn options(&self) -> AdviseOptions {
        AdviseOptions {
            source: self.source.clone(),
            dockerfile: self.dockerfile.clone(),
            edits: self.diff,
            write: self.write,
            progress: !self.no_progress,
            verify: self.verify,
        }
    }
}

/// `dredge lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// The Dockerfile to check.
    pub dockerfile: std::path::PathBuf,
    /// Print the findings as JSON (its schema: `dredge schema lint`).
    #[arg(long)]
    pub json: bool,
}

impl LintArgs {
    /// What to lint.
    pub fn options(&self) -> LintOptions {
        LintOptions {
            dockerfile: self.dockerfile.clone(),
        }
    }
}

/// `dredge df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Read this data root offline (daemon stopped, or a disk from another host) instead of asking the
    /// engine (`DOCKER_HOST` or /var/run/docker.sock).
    #[arg(long, value_name = "PATH")]
    pub data_root: Option<std::path::PathBuf>,
    /// With --data-root: the root of the system containerd that engine used (`/var/lib/containerd`,
    /// when dockerd ran with `--containerd=SOCKET` and the containerd image store), read as its image
    /// store; the categories then add up to `du -sx` of both roots. Live, it is found and proven.
    #[arg(long, value_name = "PATH", requires = "data_root")]
    pub containerd_root: Option<std::path::PathBuf>,
    /// Print the report as JSON (its schema: `dredge schema df`).
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

impl DfArgs {
    /// The library's options, with images' last use and `progress` called as directories are
    /// measured.
    pub fn options<'a>(
        &self,
        progress: &'a (dyn Fn(usize, usize) + Sync),
    ) -> dredge::df::DfOptions<'a> {
        dredge::df::DfOptions {
            data_root: self.data_root.clone(),
            containerd_root: self.containerd_root.clone(),
            cache: self.cache.clone(),
            threads: self.threads,
            engine_df: self.engine_df,
            progress: Some(progress),
            last_use: true,
        }
    }
}

/// `dredge image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image: a name or id the engine knows (`app:1`), a `docker save` archive (legacy or
    /// OCI-based), an OCI layout directory or archive, or `-` for stdin.
    pub source: String,
    /// Print the report as JSON (its schema: `dredge schema image`).
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
    /// Read every blob whole and check its sha256 and size against its name, its descriptor and the
    /// config's diff ids (reads every byte: slower on uncompressed layers).
    #[arg(long)]
    pub verify: bool,
}

impl ImageArgs {
    /// What to analyse.
    pub fn options(&self) -> ImageOptions {
        ImageOptions {
            source: self.source.clone(),
            top: self.top,
            duplicates: self.duplicates,
            threads: self.threads,
            progress: !self.no_progress,
            verify: self.verify,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_budget_key_has_its_flag() {
        let cmd = Cli::command();
        let check = cmd.find_subcommand("check").expect("check command");
        let longs: Vec<String> = check
            .get_arguments()
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        for k in Key::all() {
            assert!(
                longs.contains(&k.flag().to_string()),
                "{} has no flag",
                k.flag()
            );
        }
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_become_budgets_with_their_origin() {
        let cli = Cli::try_parse_from([
            "dredge",
            "check",
            "x.tar",
            "--max-size",
            "1.5GiB",
            "--forbid",
            "a",
            "--forbid",
            "b",
            "--highest-wasted-bytes",
            "disabled",
            "--lowest-efficiency",
            "0.9",
        ])
        .unwrap();
        let Command::Check(args) = cli.command else {
            panic!("check")
        };
        let b = args.flag_budgets();
        assert_eq!(b.settings.len(), 4);
        let s = b.get(Key::MaxSize).unwrap();
        assert_eq!(s.value, Value::Bytes(1_610_612_736));
        assert_eq!(s.origin, "--max-size");
        assert_eq!(
            b.get(Key::ForbiddenPaths).unwrap().value,
            Value::Globs(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            b.get(Key::HighestWastedBytes).unwrap().value,
            Value::Disabled
        );
        assert_eq!(
            b.get(Key::LowestEfficiency).unwrap().value,
            Value::Fraction(0.9)
        );
        assert!(Cli::try_parse_from(["dredge", "check", "x", "--lowest-efficiency", "2"]).is_err());
        assert!(
            Cli::try_parse_from(["dredge", "check", "x", "--json", "--format", "junit"]).is_err()
        );
    }
}
