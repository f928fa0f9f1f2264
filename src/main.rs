//! The `dredge` binary: parse, dispatch, map errors to exit codes. Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, DfArgs, ImageArgs};
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
        Command::Df(args) => run_df(&args),
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

fn run_df(args: &DfArgs) -> Result<(), Failure> {
    use dredge::audit::{self, AuditOptions};
    use dredge::report::df::{self, DfReport};
    use dredge::report::progress::ScanProgress;
    use dredge::source::{dataroot, engine};

    let (engine, root) = match &args.data_root {
        Some(p) => (None, p.clone()),
        None => {
            let f = engine::facts(args.engine_df).map_err(|e| Failure::Input(e.to_string()))?;
            let root = f
                .root_dir
                .clone()
                .unwrap_or_else(|| "/var/lib/docker".into());
            (Some(f), std::path::PathBuf::from(root))
        }
    };
    let mut opts = AuditOptions::default();
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    opts.layer_cache = args.cache.clone();
    let scanned = match dataroot::read(&root) {
        Ok(dr) => {
            let progress = ScanProgress::new(!args.no_progress);
            let a = audit::audit(&dr, opts, &|done, total| progress.update(done, total));
            progress.finish();
            Ok(a)
        }
        Err(e) => Err(e),
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
