//! Man pages: dredge(1) and dredge-COMMAND(1), rendered from the clap definitions, with the EXAMPLES,
//! EXIT STATUS and NOTES sections clap_mangen does not write.

use std::io::{self, Write};

/// The sections clap does not know: examples, exit status and (optional) notes, as plain text.
pub type Extra<'a> = (&'a str, &'a str, Option<&'a str>);

/// Text for a roff page: backslashes escaped, no line read as a request.
fn roff_text(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l = l.replace('\\', "\\e").replace('-', "\\-");
            if l.starts_with(['.', '\'']) {
                format!("\\&{l}")
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes the page of `cmd` (the whole CLI, or one subcommand titled `dredge-NAME`).
pub fn write<W: Write>(
    out: &mut W,
    cmd: &clap::Command,
    title: Option<&str>,
    extra: Option<Extra<'_>>,
) -> io::Result<()> {
    let mut man = clap_mangen::Man::new(cmd.clone());
    if let Some(t) = title {
        man = man.title(t.to_string());
    }
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.has_subcommands() {
        man.render_subcommands_section(out)?;
    }
    if let Some((examples, exit, notes)) = extra {
        writeln!(out, ".SH EXAMPLES\n.nf\n{}\n.fi", roff_text(examples))?;
        writeln!(out, ".SH \"EXIT STATUS\"\n{}", roff_text(exit))?;
        if let Some(notes) = notes {
            writeln!(out, ".SH NOTES\n{}", roff_text(notes))?;
        }
    }
    man.render_version_section(out)
}
