//! The `dredge` binary: parse, dispatch, map errors to exit codes. Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{AdviseArgs, CheckArgs, Cli, Command, DfArgs, Format, ImageArgs, LintArgs};
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
        Command::Df(args) => run_df(&args),
        Command::Advise(args) => run_advise(&args),
        Command::Lint(args) => run_lint(&args),
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
            eprintln!("dredge: error: {}", dredge::text::escape(&msg));
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
    load.verify = args.verify;
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
    verify: bool,
) -> Result<
    (
        analysis::ImageReport,
        analysis::stack::Stacked,
        dredge::model::Paths,
    ),
    Failure,
> {
    let mut load = LoadOptions::default();
    if let Some(t) = threads {
        load.threads = t.max(1);
    }
    load.verify = verify;
    let progress = LayerProgress::new(!no_progress);
    let opened = source::open(spec, load, &progress).map_err(|e| Failure::Input(e.to_string()));
    progress.finish();
    let mut opened = opened?;
    let opts = Options {
        threads: load.threads,
        ..Options::default()
    };
    let (report, stacked) = analysis::analyze_stacked(&opened.image, &opened, opts)
        .map_err(|e| Failure::Input(e.to_string()))?;
    Ok((report, stacked, std::mem::take(&mut opened.image.paths)))
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
    let (report, _, _) = analyse(spec, args.threads, args.no_progress, args.verify)?;
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
    // The final filesystem comes from the analysis' own stacking, not a second one.
    let (report, stacked, paths) =
        analyse(&args.source, args.threads, args.no_progress, args.verify)?;
    let stacked = budgets.needs_paths().then_some((&stacked, &paths));
    let facts = check::Facts::new(&report, stacked, baseline.as_ref());
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

fn read_dockerfile(
    path: &std::path::Path,
) -> Result<dredge::advice::dockerfile::Dockerfile, Failure> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("cannot read {name}: {e}")))?;
    dredge::advice::dockerfile::parse(&name, &text).map_err(|e| Failure::Input(e.to_string()))
}

fn run_advise(args: &AdviseArgs) -> Result<(), Failure> {
    let df = args
        .dockerfile
        .as_deref()
        .map(read_dockerfile)
        .transpose()?;
    let progress = LayerProgress::new(!args.no_progress);
    let load = LoadOptions {
        verify: args.verify,
        ..LoadOptions::default()
    };
    let opened =
        source::open(&args.source, load, &progress).map_err(|e| Failure::Input(e.to_string()));
    progress.finish();
    let opened = opened?;
    for w in &opened.image.warnings {
        eprintln!("dredge: warning: {w}");
    }
    let advice = dredge::advice::advise(&args.source, &opened.image, df.as_ref());
    for w in &advice.warnings {
        eprintln!("dredge: warning: {w}");
    }
    if let Some(m) = &advice.mismatch {
        if args.diff || args.write {
            return Err(Failure::Input(format!("no diff: {m}")));
        }
        eprintln!("dredge: warning: {m}; advice from the image history only");
    }
    if let (Some(df), true) = (&df, args.diff || args.write) {
        let path = args
            .dockerfile
            .as_deref()
            .expect("clap: --diff requires --dockerfile");
        let ignore_path = path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(".dockerignore");
        let old_ignore = match std::fs::read_to_string(&ignore_path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(Failure::Input(format!(
                    "cannot read {}: {e}",
                    ignore_path.display()
                )));
            }
        };
        let old = std::fs::read_to_string(path)
            .map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))?;
        let (new, new_ignore) = dredge::advice::apply_all(df, &advice, old_ignore.as_deref())
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        if args.diff {
            let name = path.display().to_string();
            let iname = ignore_path.display().to_string();
            emit(|out| {
                report::advice::write_diff(out, &old, &new, &name, &name)?;
                if let Some(ni) = &new_ignore {
                    let from = if old_ignore.is_some() {
                        iname.as_str()
                    } else {
                        "/dev/null"
                    };
                    let was = old_ignore.as_deref().unwrap_or("");
                    report::advice::write_diff(out, was, ni, from, &iname)?;
                }
                Ok(())
            })?;
        }
        if args.write {
            let backup = |p: &std::path::Path| {
                let mut b = p.as_os_str().to_owned();
                b.push(".dredge-bak");
                std::path::PathBuf::from(b)
            };
            let write = |p: &std::path::Path, text: &str, existed: bool| -> Result<(), Failure> {
                if existed {
                    std::fs::copy(p, backup(p)).map_err(|e| {
                        Failure::Input(format!("cannot back up {}: {e}", p.display()))
                    })?;
                }
                let tmp = backup(p).with_extension("dredge-tmp");
                std::fs::write(&tmp, text)
                    .and_then(|()| std::fs::rename(&tmp, p))
                    .map_err(|e| Failure::Input(format!("cannot write {}: {e}", p.display())))
            };
            if new != old {
                write(path, &new, true)?;
                eprintln!(
                    "dredge: wrote {} (backup {})",
                    path.display(),
                    backup(path).display()
                );
            }
            if let Some(ni) = &new_ignore {
                write(&ignore_path, ni, old_ignore.is_some())?;
                eprintln!("dredge: wrote {}", ignore_path.display());
            }
        }
        if args.diff {
            return Ok(());
        }
    }
    emit(|out| {
        if args.json {
            report::advice::write_advice_json(out, &advice)
        } else {
            report::advice::write_advice_table(out, &advice)
        }
    })
}

fn run_lint(args: &LintArgs) -> Result<(), Failure> {
    let df = read_dockerfile(&args.dockerfile)?;
    let findings = dredge::advice::lint::lint(&df);
    emit(|out| report::advice::write_lint(out, &df.path, &findings, args.json))?;
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Failure::Check)
    }
}

fn run_df(args: &DfArgs) -> Result<(), Failure> {
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
    let report = report.map_err(|e| Failure::Input(e.to_string()))?;
    let _ = table::write_warnings(&mut io::stderr().lock(), &report);
    emit(|out| {
        if args.json {
            table::write_json(out, &report, args.top)
        } else {
            table::write_table(out, &report, args.top)
        }
    })
}
