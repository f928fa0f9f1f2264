//! The `dredge` binary: parse, dispatch, map errors to exit codes. Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{CheckArgs, Cli, Command, Format, ImageArgs};
use dredge::analysis::{self, Options};
use dredge::check;
use dredge::report::{self, progress::LayerProgress};
use dredge::source::{self, LoadOptions};

/// Exit codes, documented in the README: 0 done, 1 a check or budget failed, 2 usage or input error.
mod exit {
    pub const CHECK: u8 = 1;
    pub const INPUT: u8 = 2;
}

/// How a command failed, and so which exit code it ends with.
enum Failure {
    /// A check or budget failed (exit 1); the report has already been printed.
    Check,
    /// Usage or input error (exit 2), with a one-line message.
    Input(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Image(args) => run_image(&args),
        Command::Check(args) => run_check(&args),
        Command::Completions { shell } => emit(|out| {
            clap_complete::generate(shell, &mut Cli::command(), "dredge", out);
            Ok(())
        }),
        Command::Man { command } => run_man(command.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Check) => ExitCode::from(exit::CHECK),
        Err(Failure::Input(msg)) => {
            eprintln!("dredge: error: {msg}");
            ExitCode::from(exit::INPUT)
        }
    }
}

/// Writes to stdout; a closed pipe (`dredge … | head`) ends the program quietly.
fn emit(
    f: impl FnOnce(&mut BufWriter<io::StdoutLock<'_>>) -> io::Result<()>,
) -> Result<(), Failure> {
    let mut out = BufWriter::new(io::stdout().lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Failure::Input(format!("cannot write output: {e}"))),
        Ok(()) => Ok(()),
    }
}

fn run_image(args: &ImageArgs) -> Result<(), Failure> {
    let mut load = LoadOptions::default();
    if let Some(t) = args.threads {
        load.threads = t.max(1);
    }
    load.hash_streamed = args.duplicates;
    let progress = LayerProgress::new(!args.no_progress);
    let opened =
        source::open(&args.source, load, &progress).map_err(|e| Failure::Input(e.to_string()));
    progress.finish();
    let opened = opened?;
    for w in &opened.image.warnings {
        eprintln!("dredge: warning: {w}");
    }
    let opts = Options {
        duplicates: args.duplicates,
        threads: load.threads,
        top: args.top,
        ..Options::default()
    };
    let report = analysis::analyze(&opened.image, &opened, opts)
        .map_err(|e| Failure::Input(e.to_string()))?;
    emit(|out| {
        if args.json {
            report::json::write_image(out, &report, args.top)
        } else {
            report::table::write_image(out, &report, args.top)
        }
    })
}

/// Opens and analyses an image source (progress on stderr, warnings printed).
fn analyse(
    spec: &str,
    threads: Option<usize>,
    no_progress: bool,
) -> Result<(source::Opened, analysis::ImageReport), Failure> {
    let mut load = LoadOptions::default();
    if let Some(t) = threads {
        load.threads = t.max(1);
    }
    let progress = LayerProgress::new(!no_progress);
    let opened = source::open(spec, load, &progress).map_err(|e| Failure::Input(e.to_string()));
    progress.finish();
    let opened = opened?;
    let opts = Options {
        threads: load.threads,
        ..Options::default()
    };
    let report = analysis::analyze(&opened.image, &opened, opts)
        .map_err(|e| Failure::Input(e.to_string()))?;
    Ok((opened, report))
}

/// A baseline: a JSON report when the named file starts with `{`, else an image source.
fn load_baseline(spec: &str, args: &CheckArgs) -> Result<check::Baseline, Failure> {
    let path = std::path::Path::new(spec);
    if spec != "-" && path.is_file() {
        let bytes = std::fs::read(path)
            .map_err(|e| Failure::Input(format!("cannot read baseline {spec}: {e}")))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return check::Baseline::from_json(&bytes, spec)
                .map_err(|e| Failure::Input(format!("baseline {e}")));
        }
    }
    let (_, report) = analyse(spec, args.threads, args.no_progress)?;
    Ok(check::Baseline::from_report(&report))
}

fn run_check(args: &CheckArgs) -> Result<(), Failure> {
    let input = |e: &dyn std::fmt::Display| Failure::Input(e.to_string());
    let cwd = std::env::current_dir().map_err(|e| input(&e))?;
    let resolved = check::config::resolve(&check::config::Sources {
        config: args.config.clone(),
        dive_ci: args.dive_ci.clone(),
        dir: (!args.no_config).then_some(cwd),
        flags: args.flag_budgets(),
    })
    .map_err(|e| input(&e))?;
    let budgets = &resolved.budgets;
    if budgets.is_empty() {
        return Err(Failure::Input(
            "no budgets to check: give flags (--max-size …), a dredge.toml with a [check] table, \
             or a .dive-ci"
                .into(),
        ));
    }
    if budgets.needs_baseline() && args.baseline.is_none() {
        return Err(Failure::Input(
            "max_growth and max_growth_percent need --baseline IMAGE-OR-REPORT".into(),
        ));
    }
    for w in &resolved.warnings {
        eprintln!("dredge: warning: {w}");
    }
    let baseline = match &args.baseline {
        Some(spec) => Some(load_baseline(spec, args)?),
        None => None,
    };
    let (opened, report) = analyse(&args.source, args.threads, args.no_progress)?;
    let stacked = budgets
        .needs_paths()
        .then(|| analysis::stack::stack(&opened.image));
    let facts = check::Facts::new(&report, stacked.as_ref(), baseline.as_ref());
    let result =
        check::check(budgets, &facts, resolved.files.clone(), vec![]).map_err(|e| input(&e))?;
    for w in &result.warnings {
        eprintln!("dredge: warning: {w}");
    }
    let format = args.format();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    // Annotations go to stdout, where the runner reads workflow commands, unless stdout carries a
    // document that must stay parseable (JSON, JUnit): then to stderr, which the runner reads too.
    if github && matches!(format, Format::Json | Format::Junit) {
        let mut err = io::stderr().lock();
        let _ = report::check::write_github_annotations(&mut err, &result);
    }
    let verdict = if result.passed {
        Ok(())
    } else {
        Err(Failure::Check)
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let written = write_check(&mut out, format, github, &result).and_then(|()| out.flush());
    match written {
        // A closed pipe (`dredge check … | head`) still ends with the verdict's exit code.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => verdict,
        Err(e) => Err(Failure::Input(format!("cannot write output: {e}"))),
        Ok(()) => verdict,
    }
}

fn write_check<W: Write>(
    out: &mut W,
    format: Format,
    github: bool,
    result: &check::CheckReport,
) -> io::Result<()> {
    if github && matches!(format, Format::Human | Format::Markdown) {
        report::check::write_github_annotations(out, result)?;
    }
    match format {
        Format::Human => report::check::write_human(out, result),
        Format::Json => report::check::write_json(out, result),
        Format::Junit => report::check::write_junit(out, result),
        Format::Markdown => report::check::write_markdown(out, result),
    }
}

/// Renders dredge(1), or dredge-COMMAND(1), from the clap definitions.
fn run_man(command: Option<&str>) -> Result<(), Failure> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = match command {
        None => clap_mangen::Man::new(cmd),
        Some(name) => {
            let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
                Failure::Input(format!(
                    "no command '{name}' (commands: {})",
                    cmd.get_subcommands()
                        .map(|c| c.get_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            clap_mangen::Man::new(sub.version(env!("CARGO_PKG_VERSION")))
                .title(format!("dredge-{name}"))
        }
    };
    emit(|out| man.render(out))
}
