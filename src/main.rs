//! The `dredge` binary: parse, dispatch, map errors to exit codes. Nothing else lives here.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, ImageArgs};
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
