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
        Command::Df(args) => run_df(&args).map(|()| Exit::Done),
        Command::Advise(args) => run_advise(&args),
        Command::Lint(args) => run_lint(&args),
        Command::Completions { shell } => print(Exit::Done, |out| {
            clap_complete::generate(shell, &mut Cli::command(), "dredge", out);
            Ok(())
        }),
        Command::Man { command } => run_man(command.as_deref()),
    };
    let exit = result.unwrap_or_else(|Failure::Input(msg)| {
        eprintln!("dredge: error: {msg}");
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

/// [`print`] for a command that ends in success.
fn emit(f: impl FnOnce(&mut Out<'_>) -> io::Result<()>) -> Result<(), Failure> {
    print(Exit::Done, f).map(|_| ())
}

fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("dredge: warning: {w}");
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

fn run_df(args: &DfArgs) -> Result<(), Failure> {
    use dredge::audit::{self, AuditOptions};
    use dredge::report::df::{self, DfReport};
    use dredge::report::progress::ScanProgress;
    use dredge::source::{dataroot, engine};

    let mut opts = AuditOptions::default();
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    opts.layer_cache = args.cache.clone();
    let scan = |root: &std::path::Path, opts: AuditOptions| {
        dataroot::read(root).map(|dr| {
            let progress = ScanProgress::new(!args.no_progress);
            let a = audit::audit(&dr, opts, &|done, total| progress.update(done, total));
            progress.finish();
            a
        })
    };
    let (engine, root, early) = match &args.data_root {
        Some(p) => (None, p.clone(), None),
        None => {
            // While the engine answers /info (tens of ms on a 20.10 daemon), the data root it will
            // name is read already when it can be guessed (the cache's, when a dockerd runs on it, or
            // that of the dockerd serving DOCKER_HOST); a wrong guess is thrown away, and its cache is
            // not written. No running dockerd, no guess: an engine that is down is said at once.
            let guess = args
                .cache
                .as_deref()
                .and_then(audit::cache::data_root_of)
                .map(std::path::PathBuf::from)
                .filter(|p| p.is_dir() && dataroot::daemon_using(p).is_some())
                .or_else(|| {
                    let host = std::env::var("DOCKER_HOST")
                        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
                    dataroot::guess_root_of(&host)
                });
            let (facts, early) = std::thread::scope(|s| {
                let asked = s.spawn(|| engine::facts(args.engine_df));
                let early = guess.map(|g| {
                    let a = scan(
                        &g,
                        AuditOptions {
                            write_cache: false,
                            ..opts.clone()
                        },
                    );
                    (g, a)
                });
                (asked.join(), early)
            });
            let f = facts
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
                .map_err(|e| Failure::Input(e.to_string()))?;
            let root = std::path::PathBuf::from(
                f.root_dir
                    .clone()
                    .unwrap_or_else(|| "/var/lib/docker".into()),
            );
            let same = |g: &std::path::Path| {
                std::fs::canonicalize(g).ok() == std::fs::canonicalize(&root).ok()
            };
            let early = early.filter(|(g, a)| a.is_ok() && same(g)).map(|(_, a)| a);
            (Some(f), root, early)
        }
    };
    let scanned = match early {
        Some(Ok(mut a)) => {
            if let (Some(p), Some(c)) = (&opts.layer_cache, &a.fresh_cache)
                && let Err(e) = audit::cache::save(p, c)
            {
                a.warnings
                    .push(format!("{}: cannot write the cache: {e}", p.display()));
            }
            Ok(a)
        }
        _ => scan(&root, opts),
    };
    // Live: the engine may be pulling, loading or building right now; confirm orphans against a
    // fresh read of the metadata a moment later (their contents must not have changed either).
    let daemon = if engine.is_none() {
        dataroot::daemon_using(&root)
    } else {
        None
    };
    let scanned = scanned.map(|mut a| {
        if (engine.is_some() || daemon.is_some()) && !a.orphans.is_empty() {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if let Ok(fresh) = dataroot::read(&root) {
                audit::confirm_orphans(&mut a, &fresh);
            }
        }
        a
    });
    let (audit, mut partial) = match (scanned, &engine) {
        (Ok(a), _) => (a, false),
        (Err(e), None) => return Err(Failure::Input(e.to_string())),
        (Err(e), Some(f)) => (
            audit::from_engine(
                &root,
                f.disk_usage.as_ref(),
                format!(
                    "data root not readable here ({e}): figures are the engine's own; no logs, orphans or other"
                ),
            ),
            true,
        ),
    };
    partial |= !audit.warnings.is_empty();
    let mut report = DfReport {
        mode: if args.data_root.is_some() {
            "offline"
        } else {
            "live"
        },
        audit,
        engine,
        partial,
    };
    if let Some(f) = &mut report.engine {
        if f.containerd_store {
            report.audit.warnings.push(
                "the engine uses the containerd image store, which dredge df does not support yet"
                    .into(),
            );
            report.partial = true;
        }
        report.audit.warnings.append(&mut f.warnings.clone());
    }
    if let Some(pid) = daemon {
        // Not partial: every figure is there, but the scan raced a running daemon.
        report.audit.warnings.push(format!(
            "dockerd (pid {pid}) is running on {}: orphans were confirmed as in live mode; stop it \
             for a final word",
            root.display()
        ));
    }
    for w in &report.audit.warnings {
        eprintln!("dredge: warning: {w}");
    }
    emit(|out| {
        if args.json {
            df::write_json(out, &report, args.top)
        } else {
            df::write_table(out, &report, args.top)
        }
    })
}
