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
        Command::Reclaim(args) => run_reclaim(&args),
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
    use dredge::prune;
    let outcome = match prune::run(&args.options()) {
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

/// `dredge reclaim`: one run (exit 0 under low, 1 low not reached, 2 bad input, 3 locked), or
/// `install-timer`.
fn run_reclaim(args: &cli::ReclaimArgs) -> Result<Exit, Failure> {
    use dredge::{prune, reclaim};
    if let Some(cli::ReclaimCommand::InstallTimer(t)) = &args.command {
        let exe = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| input(format!("cannot find this dredge binary: {e}")))?;
        let o = reclaim::timer::TimerOptions {
            exe,
            policy: t.policy.clone(),
            metrics: t.metrics.clone(),
            state: t.state.clone(),
            on_calendar: t.on_calendar.clone(),
            randomized_delay: t.randomized_delay,
        };
        if t.write {
            let written = reclaim::timer::install(&o, &t.unit_dir).map_err(input)?;
            return print(Exit::Done, |out| {
                for p in &written {
                    writeln!(out, "wrote {}", p.display())?;
                }
                writeln!(
                    out,
                    "then: systemctl daemon-reload && systemctl enable --now {}",
                    reclaim::timer::TIMER
                )
            });
        }
        let u = reclaim::timer::units(&o).map_err(input)?;
        return print(Exit::Done, |out| {
            writeln!(out, "# {}", reclaim::timer::SERVICE)?;
            write!(out, "{}", u.service)?;
            writeln!(out)?;
            writeln!(out, "# {}", reclaim::timer::TIMER)?;
            write!(out, "{}", u.timer)
        });
    }
    let Some(policy) = &args.policy else {
        return Err(input(
            "dredge reclaim needs --policy FILE (or the install-timer command)",
        ));
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(prune::default_state_dir);
    let opts = reclaim::Options {
        policy: policy.clone(),
        state_file: args
            .state
            .clone()
            .unwrap_or_else(|| reclaim::default_state_file(&state_dir)),
        state_dir,
        metrics: args.metrics.clone(),
        dry_run: args.dry_run,
        stop: None,
    };
    if args.watch {
        // Each run's report as it ends; exit 0 on SIGTERM/SIGINT.
        let mut each = |r: &Result<reclaim::Outcome, reclaim::ReclaimError>| match r {
            Ok(o) => {
                warn(&o.warnings);
                let mut out = io::stdout().lock();
                let _ = report::reclaim::write(&mut out, o, args.json);
                let _ = out.flush();
            }
            Err(e) => eprintln!("dredge: error: {}", dredge::text::escape(&e.to_string())),
        };
        return match reclaim::watch::watch(&opts, &mut each) {
            Ok(()) => Ok(Exit::Done),
            Err(e) if e.exit() == Exit::Input => Err(input(e)),
            Err(e) => {
                eprintln!("dredge: error: {}", dredge::text::escape(&e.to_string()));
                Ok(e.exit())
            }
        };
    }
    let outcome = match reclaim::run(&opts) {
        Ok(o) => o,
        Err(e) if e.exit() == Exit::Input => return Err(input(e)),
        Err(e) => {
            eprintln!("dredge: error: {}", dredge::text::escape(&e.to_string()));
            return Ok(e.exit());
        }
    };
    warn(&outcome.warnings);
    print(outcome.exit(), |out| {
        report::reclaim::write(out, &outcome, args.json)
    })
}
