//! The `dredge` binary: parse, dispatch, map errors to exit codes. Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{AdviseArgs, Cli, Command, ImageArgs, LintArgs};
use dredge::analysis::{self, Options};
use dredge::report::{self, progress::LayerProgress};
use dredge::source::{self, LoadOptions};

/// Exit codes, documented in the README: 0 done, 1 a check or budget failed, 2 usage or input error.
mod exit {
    pub const CHECK: u8 = 1;
    pub const INPUT: u8 = 2;
}

/// How a command failed, and so which exit code it ends with.
#[allow(dead_code)]
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
        Command::Advise(args) => run_advise(&args),
        Command::Lint(args) => run_lint(&args),
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
    let opened = source::open(&args.source, LoadOptions::default(), &progress)
        .map_err(|e| Failure::Input(e.to_string()));
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
