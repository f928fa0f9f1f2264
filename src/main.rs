//! The `dredge` binary: parse flags, call the command's library function, print its outcome through
//! `report`, and end with its exit status ([`Exit`]). Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{AdviseArgs, CheckArgs, Cli, Command, DfArgs, ImageArgs, LintArgs};
use dredge::report;
use dredge::{Exit, advise, check, image, lint};

/// A command that could not be done: usage or input error ([`Exit::Input`]), with a one-line message.
enum Failure {
    /// The message.
    Input(String),
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Image(args) => run_image(&args),
        Command::Check(args) => run_check(&args),
        Command::Df(args) => run_df(&args),
        Command::Prune(args) => run_prune(&args),
        Command::Advise(args) => run_advise(&args),
        Command::Lint(args) => run_lint(&args),
        Command::Completions { shell } => print(Exit::Done, |out| {
            clap_complete::generate(shell, &mut Cli::command(), "dredge", out);
            Ok(())
        }),
        Command::Man { command } => run_man(command.as_deref()),
    };
    let exit = result.unwrap_or_else(|Failure::Input(msg)| {
        eprintln!("dredge: error: {}", dredge::text::escape(&msg));
        Exit::Input
    });
    ExitCode::from(exit.code())
}

type Out<'a> = BufWriter<io::StdoutLock<'a>>;

/// Writes to stdout and ends with `exit`; a closed pipe (`dredge … | head`) is not an error.
fn print(exit: Exit, f: impl FnOnce(&mut Out<'_>) -> io::Result<()>) -> Result<Exit, Failure> {
    let mut out = BufWriter::new(io::stdout().lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(input(format!("cannot write output: {e}")))
        }
        _ => Ok(exit),
    }
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("dredge: warning: {}", dredge::text::escape(w));
    }
}

fn run_image(args: &ImageArgs) -> Result<Exit, Failure> {
    let done = image::run(&args.options()).map_err(input)?;
    warn(&done.warnings);
    print(done.exit(), |out| {
        if args.json {
            report::json::write_image(out, &done.report, args.top)
        } else {
            report::table::write_image(out, &done.report, args.top)
        }
    })
}

fn run_check(args: &CheckArgs) -> Result<Exit, Failure> {
    let done = check::run(&args.options().map_err(input)?).map_err(input)?;
    warn(&done.warnings);
    warn(&done.report.warnings);
    let format = args.format();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if report::check::annotations_on_stderr(format, github) {
        let _ = report::check::write_github_annotations(&mut io::stderr().lock(), &done.report);
    }
    print(done.exit(), |out| {
        report::check::write(out, format, github, &done.report)
    })
}

fn run_advise(args: &AdviseArgs) -> Result<Exit, Failure> {
    let done = advise::run(&args.options()).map_err(input)?;
    warn(&done.warnings);
    let _ = report::advice::write_written(&mut io::stderr().lock(), &done.written);
    print(done.exit(), |out| match &done.edits {
        Some(edits) if args.diff => report::advice::write_edits(out, edits),
        _ if args.json => report::advice::write_advice_json(out, &done.advice),
        _ => report::advice::write_advice_table(out, &done.advice),
    })
}

fn run_lint(args: &LintArgs) -> Result<Exit, Failure> {
    let done = lint::run(&args.options()).map_err(input)?;
    print(done.exit(), |out| {
        report::advice::write_lint(out, &done.dockerfile.path, &done.findings, args.json)
    })
}

/// Renders dredge(1), or dredge-COMMAND(1), from the clap definitions.
fn run_man(command: Option<&str>) -> Result<Exit, Failure> {
    let mut cmd = Cli::command();
    cmd.build();
    let man = match command {
        None => clap_mangen::Man::new(cmd),
        Some(name) => {
            let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
                let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
                input(format!(
                    "no command '{name}' (commands: {})",
                    names.join(", ")
                ))
            })?;
            clap_mangen::Man::new(sub.version(env!("CARGO_PKG_VERSION")))
                .title(format!("dredge-{name}"))
        }
    };
    print(Exit::Done, |out| man.render(out))
}

fn run_df(args: &DfArgs) -> Result<Exit, Failure> {
    use dredge::df::{self, DfOptions};
    use dredge::report::{df as table, progress::ScanProgress};

    let progress = ScanProgress::new(!args.no_progress);
    let update = |done, total| progress.update(done, total);
    let report = df::run(DfOptions {
        data_root: args.data_root.clone(),
        cache: args.cache.clone(),
        threads: args.threads,
        engine_df: args.engine_df,
        progress: Some(&update),
    });
    progress.finish();
    let report = report.map_err(input)?;
    let _ = table::write_warnings(&mut io::stderr().lock(), &report);
    print(Exit::Done, |out| {
        if args.json {
            table::write_json(out, &report, args.top)
        } else {
            table::write_table(out, &report, args.top)
        }
    })
}

/// `dredge prune`: parse into options, run, print, exit code (3 when another run holds the lock).
fn run_prune(args: &cli::PruneArgs) -> Result<Exit, Failure> {
    use dredge::prune::{self, Mode, Options, Selectors};
    let keep_labels = args
        .keep_label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (l.clone(), None),
        })
        .collect();
    let mode = if let Some(p) = &args.apply {
        Mode::Apply(p.clone())
    } else if let Some(r) = &args.undo {
        Mode::Undo(Some(r.clone()).filter(|r| !r.is_empty()))
    } else if args.purge_quarantine {
        Mode::Purge {
            older_than: args.older_than.unwrap_or(0),
        }
    } else if args.yes {
        Mode::Yes
    } else {
        Mode::Plan
    };
    let opts = Options {
        mode,
        selectors: Selectors {
            dangling_images: args.dangling_images,
            unused_images: args.unused_images,
            stopped_containers: args.stopped_containers,
            volumes: args.volumes,
            named_volumes: args.named_volumes,
            build_cache: args.build_cache,
            build_cache_budget: args.build_cache_budget,
            logs_over: args.logs_over,
            truncate_logs: args.truncate_logs,
            held: args.held,
            restart_any: args.restart_any,
            orphans: args.orphans,
            grace: args.grace,
            keep: args.keep.clone(),
            keep_labels,
            keep_last: args.keep_last,
        },
        data_root: args.data_root.clone(),
        state_dir: args
            .state_dir
            .clone()
            .unwrap_or_else(prune::default_state_dir),
        plan_out: args.plan_out.clone(),
    };
    let outcome = match prune::run(&opts) {
        Ok(o) => o,
        Err(e) if e.exit() == Exit::Input => return Err(input(e)),
        Err(e) => {
            eprintln!("dredge: error: {}", dredge::text::escape(&e.to_string()));
            return Ok(e.exit());
        }
    };
    warn(&outcome.warnings);
    if let Some(p) = &outcome.plan {
        warn(&p.warnings);
    }
    let _ = report::prune::write_recovered(&mut io::stderr().lock(), &outcome.recovered);
    print(Exit::Done, |out| {
        report::prune::write(out, &outcome, args.json)
    })
}
