//! The `dredge` binary: parse flags, call the command's library function, print its outcome through
//! `report`, and end with its exit status ([`Exit`]). Nothing else lives here.

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{AdviseArgs, CheckArgs, Cli, Command, DfArgs, ImageArgs, LintArgs};
use dredge::report;
use dredge::report::out::{Out, print, print_as, print_human, warn};
use dredge::{Exit, advise, check, image, lint};

/// A command that could not be done: a usage or input error ([`Exit::Input`]), one line.
type Failed = String;

fn input(e: impl std::fmt::Display) -> Failed {
    e.to_string()
}

fn main() -> ExitCode {
    // Help wraps at the width tables fit in (COLUMNS first, then the terminal's).
    let width = report::fit::stdout_width();
    let mut cmd = Cli::command();
    if let Some(w) = width {
        cmd = cmd.term_width(usize::from(w));
    }
    let cli = Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit());
    report::fit::set_width(if cli.wide { None } else { width });
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
        Command::Man { command } => cli::man_page(command.as_deref()).and_then(|(c, t, x)| {
            print(Exit::Done, |out| {
                report::man::write(out, &c, t.as_deref(), x)
            })
        }),
        Command::Schema { name } => report::json::schema_text(name.as_deref())
            .and_then(|t| print(Exit::Done, |out| out.write_all(t.as_bytes()))),
    };
    let exit = result.unwrap_or_else(|msg| {
        report::out::error(&msg);
        Exit::Input
    });
    ExitCode::from(exit.code())
}

fn run_image(args: &ImageArgs) -> Result<Exit, Failed> {
    let done = image::run(&args.options()).map_err(input)?;
    warn(&done.warnings);
    if args.json {
        print(done.exit(), |out| {
            report::json::write_image(out, &done.report, args.top)
        })
    } else {
        print_human(done.exit(), |out| {
            report::table::write_image(out, &done.report, args.top)
        })
    }
}

fn run_check(args: &CheckArgs) -> Result<Exit, Failed> {
    let done = check::run(&args.options().map_err(input)?).map_err(input)?;
    warn(&done.warnings);
    warn(&done.report.warnings);
    let format = args.format();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if report::check::annotations_on_stderr(format, github) {
        let _ = report::check::write_github_annotations(&mut io::stderr().lock(), &done.report);
    }
    let write = |out: &mut Out<'_>| report::check::write(out, format, github, &done.report);
    print_as(format != report::check::Format::Human, done.exit(), write)
}

fn run_advise(args: &AdviseArgs) -> Result<Exit, Failed> {
    let done = advise::run(&args.options()).map_err(input)?;
    warn(&done.warnings);
    let _ = report::advice::write_written(&mut io::stderr().lock(), &done.written);
    match &done.edits {
        Some(edits) if args.diff => {
            print(done.exit(), |out| report::advice::write_edits(out, edits))
        }
        _ if args.json => print(done.exit(), |out| {
            report::advice::write_advice_json(out, &done.advice)
        }),
        _ => print_human(done.exit(), |out| {
            report::advice::write_advice_table(out, &done.advice)
        }),
    }
}

fn run_lint(args: &LintArgs) -> Result<Exit, Failed> {
    let done = lint::run(&args.options()).map_err(input)?;
    print_as(args.json, done.exit(), |out| {
        report::advice::write_lint(out, &done.dockerfile.path, &done.findings, args.json)
    })
}

/// A failed prune or reclaim: input errors exit 2 through [`Failed`]; the others (lock held, low not
/// reached …) print their line and exit with their own code.
fn failed(e: &impl std::fmt::Display, exit: Exit) -> Result<Exit, Failed> {
    if exit == Exit::Input {
        return Err(input(e));
    }
    report::out::error(e);
    Ok(exit)
}

fn run_df(args: &DfArgs) -> Result<Exit, Failed> {
    use dredge::report::{df as table, progress::ScanProgress};
    let progress = ScanProgress::new(!args.no_progress);
    let update = |done, total| progress.update(done, total);
    let report = dredge::df::run(args.options(&update));
    progress.finish();
    let report = report.map_err(input)?;
    let _ = table::write_warnings(&mut io::stderr().lock(), &report);
    if args.json {
        print(Exit::Done, |out| table::write_json(out, &report, args.top))
    } else {
        print_human(Exit::Done, |out| table::write_table(out, &report, args.top))
    }
}

/// `dredge prune`: parse into options, run, print, exit code (3 when another run holds the lock).
fn run_prune(args: &cli::PruneArgs) -> Result<Exit, Failed> {
    let outcome = match dredge::prune::run(&args.options()) {
        Ok(o) => o,
        Err(e) => return failed(&e, e.exit()),
    };
    warn(&outcome.warnings);
    if let Some(p) = &outcome.plan {
        warn(&p.warnings);
    }
    let _ = report::prune::write_recovered(&mut io::stderr().lock(), &outcome.recovered);
    print_as(args.json, Exit::Done, |out| {
        report::prune::write(out, &outcome, args.json)
    })
}

/// `dredge reclaim`: one run (exit 0 under low, 1 low not reached, 2 bad input, 3 locked), or
/// `install-timer`.
fn run_reclaim(args: &cli::ReclaimArgs) -> Result<Exit, Failed> {
    use dredge::reclaim;
    if let Some(cli::ReclaimCommand::InstallTimer(t)) = &args.command {
        let o = t.options(reclaim::timer::this_binary().map_err(input)?);
        if t.write {
            let written = reclaim::timer::install(&o, &t.unit_dir).map_err(input)?;
            return print(Exit::Done, |out| {
                report::reclaim::write_installed(out, &written)
            });
        }
        let u = reclaim::timer::units(&o).map_err(input)?;
        return print(Exit::Done, |out| report::reclaim::write_units(out, &u));
    }
    let opts = args.options().ok_or_else(|| {
        input("dredge reclaim needs --policy FILE (or the install-timer command)")
    })?;
    if args.watch {
        // Each run's report as it ends; exit 0 on SIGTERM/SIGINT.
        let mut each = |r: &Result<reclaim::Outcome, reclaim::ReclaimError>| match r {
            Ok(o) => {
                warn(&o.warnings);
                let mut out = io::stdout().lock();
                let _ = report::reclaim::write(&mut out, o, args.json);
                let _ = out.flush();
            }
            Err(e) => report::out::error(e),
        };
        return match reclaim::watch::watch(&opts, &mut each) {
            Ok(()) => Ok(Exit::Done),
            Err(e) => failed(&e, e.exit()),
        };
    }
    let outcome = match reclaim::run(&opts) {
        Ok(o) => o,
        Err(e) => return failed(&e, e.exit()),
    };
    warn(&outcome.warnings);
    print(outcome.exit(), |out| {
        report::reclaim::write(out, &outcome, args.json)
    })
}
