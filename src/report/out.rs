//! Writing a command's outcome to stdout: documents whole, text for people fitted to the terminal
//! ([`super::fit`]), warnings on stderr. A closed pipe (`dredge … | head`) is not an error.

use std::io::{self, BufWriter, Write};

use crate::Exit;

/// Where the binary writes its results.
pub type Out<'a> = super::fit::FitWriter<BufWriter<io::StdoutLock<'a>>>;

/// Writes a document (JSON, XML, Markdown, a diff, roff) to stdout whole and gives back `exit`; an
/// error is the one-line reason.
pub fn print(exit: Exit, f: impl FnOnce(&mut Out<'_>) -> io::Result<()>) -> Result<Exit, String> {
    write_out(exit, None, f)
}

/// Writes text for people to stdout, each line fitted to the terminal's width, and gives back `exit`.
pub fn print_human(
    exit: Exit,
    f: impl FnOnce(&mut Out<'_>) -> io::Result<()>,
) -> Result<Exit, String> {
    write_out(exit, super::fit::width(), f)
}

/// [`print`] for `--json`, else [`print_human`].
pub fn print_as(
    json: bool,
    exit: Exit,
    f: impl FnOnce(&mut Out<'_>) -> io::Result<()>,
) -> Result<Exit, String> {
    if json {
        print(exit, f)
    } else {
        print_human(exit, f)
    }
}

fn write_out(
    exit: Exit,
    width: Option<u16>,
    f: impl FnOnce(&mut Out<'_>) -> io::Result<()>,
) -> Result<Exit, String> {
    let mut out = super::fit::FitWriter::new(BufWriter::new(io::stdout().lock()), width);
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(format!("cannot write output: {e}")),
        _ => Ok(exit),
    }
}

/// Each warning as one `dredge: warning:` line on stderr.
pub fn warn(warnings: &[String]) {
    for w in warnings {
        eprintln!("dredge: warning: {}", super::errors::line(w));
    }
}

/// An error as one `dredge: error:` line on stderr.
pub fn error(e: &impl std::fmt::Display) {
    eprintln!("dredge: error: {}", super::errors::line(&e.to_string()));
}
