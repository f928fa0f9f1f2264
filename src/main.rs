//! The `dredge` binary: parse flags, call the command's library function, print its outcome through
//! `report`, and end with its exit status ([`Exit`]). Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

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
        Command::Man { command } => run_man(command.as_deref()),
        Command::Schema { name } => run_schema(name.as_deref()),
    };
    let exit = result.unwrap_or_else(|Failure::Input(msg)| {
        eprintln!("dredge: error: {}", report::errors::line(&msg));
        Exit::Input
    });
    ExitCode::from(exit.code())
}

type Out<'a> = report::fit::FitWriter<BufWriter<io::StdoutLock<'a>>>;

/// Writes a document (JSON, XML, Markdown, a diff, roff) to stdout whole and ends with `exit`.
fn print(exit: Exit, f: impl FnOnce(&mut Out<'_>) -> io::Result<()>) -> Result<Exit, Failure> {
    write_out(exit, None, f)
}

/// Writes text for people to stdout, each line fitted to the terminal's width, and ends with `exit`.
fn print_human(
    exit: Exit,
    f: impl FnOnce(&mut Out<'_>) -> io::Result<()>,
) -> Result<Exit, Failure> {
    write_out(exit, report::fit::width(), f)
}

/// Writes to stdout and ends with `exit`; a closed pipe (`dredge … | head`) is not an error.
fn write_out(
    exit: Exit,
    width: Option<u16>,
    f: impl FnOnce(&mut Out<'_>) -> io::Result<()>,
) -> Result<Exit, Failure> {
    let mut out = report::fit::FitWriter::new(BufWriter::new(io::stdout().lock()), width);
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(input(format!("cannot write output: {e}")))
        }
        _ => Ok(exit),
    }
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("dredge: warning: {}", report::errors::line(w));
    }
}

fn run_image(args: &ImageArgs) -> Result<Exit, Failure> {
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

fn run_check(args: &CheckArgs) -> Result<Exit, Failure> {
    let done = check::run(&args.options().map_err(input)?).map_err(input)?;
    warn(&done.warnings);
    warn(&done.report.warnings);
    let format = args.format();
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    if report::check::annotations_on_stderr(format, github) {
        let _ = report::check::write_github_annotations(&mut io::stderr().lock(), &done.report);
    }
    let write = |out: &mut Out<'_>| report::check::write(out, format, github, &done.report);
    if format == report::check::Format::Human {
        print_human(done.exit(), write)
    } else {
        print(done.exit(), write)
    }
}

fn run_advise(args: &AdviseArgs) -> Result<Exit, Failure> {
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

fn run_lint(args: &LintArgs) -> Result<Exit, Failure> {
    let done = lint::run(&args.options()).map_err(input)?;
    let write = |out: &mut Out<'_>| {
        report::advice::write_lint(out, &done.dockerfile.path, &done.findings, args.json)
    };
    if args.json {
        print(done.exit(), write)
    } else {
        print_human(done.exit(), write)
    }
}

/// `dredge schema [NAME]`: the JSON Schema of a document, or the list of them.
fn run_schema(name: Option<&str>) -> Result<Exit, Failure> {
    let names = report::json::schema_names();
    let Some(n) = name else {
        return print(Exit::Done, |out| writeln!(out, "{}", names.join("\n")));
    };
    let text = report::json::schema(n).ok_or_else(|| {
        input(format!(
            "no document '{n}' (documents: {})",
            names.join(", ")
        ))
    })?;
    print(Exit::Done, |out| out.write_all(text.as_bytes()))
}

/// Renders dredge(1), or dredge-COMMAND(1), from the clap definitions (report::man).
fn run_man(command: Option<&str>) -> Result<Exit, Failure> {
    let mut cmd = Cli::command();
    cmd.build();
    let extra = cli::man_extra(command);
    let Some(name) = command else {
        return print(Exit::Done, |out| report::man::write(out, &cmd, None, extra));
    };
    let sub = cmd.find_subcommand(name).cloned().ok_or_else(|| {
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        input(format!(
            "no command '{name}' (commands: {})",
            names.join(", ")
        ))
    })?;
    let sub = sub.version(env!("CARGO_PKG_VERSION"));
    let title = format!("dredge-{name}");
    print(Exit::Done, |out| {
        report::man::write(out, &sub, Some(&title), extra)
    })
}

/// A failed prune or reclaim: input errors exit 2 through [`Failure`]; the others (lock held, low not
/// reached …) print their line and exit with their own code.
fn failed(e: &impl std::fmt::Display, exit: Exit) -> Result<Exit, Failure> {
    if exit == Exit::Input {
        return Err(input(e));
    }
    eprintln!("dredge: error: {}", report::errors::line(&e.to_string()));
    Ok(exit)
}

fn run_df(args: &DfArgs) -> Result<Exit, Failure> {
    use dredge::df::{self, DfOptions};
    use dredge::report::{df as table, progress::ScanProgress};

    let progress = ScanProgress::new(!args.no_progress);
    let update = |done, total| progress.update(done, total);
    let report = df::run(DfOptions {
        data_root: args.data_root.clone(),
        containerd_root: args.containerd_root.clone(),
        cache: args.cache.clone(),
        threads: args.threads,
        engine_df: args.engine_df,
        progress: Some(&update),
        last_use: true,
    });
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
fn run_prune(args: &cli::PruneArgs) -> Result<Exit, Failure> {
    use dredge::prune;
    let outcome = match prune::run(&args.options()) {
        Ok(o) => o,
        Err(e) => return failed(&e, e.exit()),
    };
    warn(&outcome.warnings);
    if let Some(p) = &outcome.plan {
        warn(&p.warnings);
    }
    let _ = report::prune::write_recovered(&mut io::stderr().lock(), &outcome.recovered);
    let write = |out: &mut Out<'_>| report::prune::write(out, &outcome, args.json);
    if args.json {
        print(Exit::Done, write)
    } else {
        print_human(Exit::Done, write)
    }
}

/// `dredge reclaim`: one run (exit 0 under low, 1 low not reached, 2 bad input, 3 locked), or
/// `install-timer`.
fn run_reclaim(args: &cli::ReclaimArgs) -> Result<Exit, Failure> {
    use dredge::reclaim;
    if let Some(cli::ReclaimCommand::InstallTimer(t)) = &args.command {
        let exe = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| input(format!("cannot find this dredge binary: {e}")))?;
        let o = t.options(exe);
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
            Err(e) => eprintln!("dredge: error: {}", report::errors::line(&e.to_string())),
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
