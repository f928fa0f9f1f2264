//! `dredge advise` and `dredge lint` output: tables for people, `dredge.advice` / `dredge.lint` JSON.

use std::io::{self, Write};

use comfy_table::{Cell, CellAlignment};
use serde::Serialize;

use super::json::write_versioned;
use super::size;
use super::table::{instruction_label, new_table};
use crate::advice::lint::Finding;
use crate::advice::{Advice, LineSpan};

/// Version of the `dredge.advice` document.
pub const ADVICE_SCHEMA_VERSION: u32 = 1;
/// Version of the `dredge.lint` document.
pub const LINT_SCHEMA_VERSION: u32 = 1;

/// Writes the `dredge.advice` document.
pub fn write_advice_json<W: Write>(out: &mut W, a: &Advice) -> io::Result<()> {
    write_versioned(out, "dredge.advice", ADVICE_SCHEMA_VERSION, a)
}

fn lines_label(lines: &[LineSpan]) -> String {
    lines
        .iter()
        .map(|l| {
            if l.start == l.end {
                l.start.to_string()
            } else {
                format!("{}-{}", l.start, l.end)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Writes the advice as tables and snippets.
pub fn write_advice_table<W: Write>(out: &mut W, a: &Advice) -> io::Result<()> {
    writeln!(
        out,
        "{}: {} of layer content; the suggestions below save {} ({} by --diff)",
        a.source,
        size(a.size_bytes),
        size(a.bytes_saved),
        size(a.diff_bytes_saved)
    )?;
    writeln!(
        out,
        "invisible (shipped, hidden in the final filesystem): {}; addressed by the suggestions: {}",
        size(a.reclaimable_bytes),
        size(a.addressed_bytes)
    )?;
    if let Some(m) = &a.mismatch {
        writeln!(
            out,
            "note: {m}; advice from the image history only, no diff"
        )?;
    }
    if a.suggestions.is_empty() {
        writeln!(
            out,
            "no suggestions: nothing this Dockerfile controls is wasted"
        )?;
        return write_unaddressed(out, a);
    }
    let mut t = new_table(&["#", "saves", "kind", "layers", "lines", "what"]);
    for (i, s) in a.suggestions.iter().enumerate() {
        t.add_row(vec![
            Cell::new(i + 1),
            Cell::new(size(s.bytes_saved)).set_alignment(CellAlignment::Right),
            Cell::new(s.kind.name()),
            Cell::new(
                s.layers
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Cell::new(lines_label(&s.lines)),
            Cell::new(&s.title),
        ]);
    }
    writeln!(out, "{t}")?;
    write_unaddressed(out, a)?;
    for (i, s) in a.suggestions.iter().enumerate() {
        writeln!(out)?;
        let ids = s.hadolint.map(|h| format!(" [{h}]")).unwrap_or_default();
        writeln!(
            out,
            "#{} {} saves {}{ids}{}",
            i + 1,
            s.kind.name(),
            size(s.bytes_saved),
            if s.mechanical {
                " (applied by --diff)"
            } else {
                ""
            }
        )?;
        writeln!(out, "  {}", crate::text::escape(&s.title))?;
        for e in &s.evidence {
            let hidden = e
                .hidden_by
                .map(|h| format!(", {} by layer {h}", e.reason))
                .unwrap_or_default();
            writeln!(
                out,
                "  {:>10}  {} (written by layer {}{hidden})",
                size(e.bytes),
                crate::text::cell(&e.path, 240),
                e.added_in
            )?;
        }
        if s.evidence_more > 0 {
            writeln!(out, "  … and {} more", s.evidence_more)?;
        }
        // The snippet is Dockerfile text: cut, never wrapped, to the terminal (--diff has it whole).
        let width = super::fit::width().map(|w| usize::from(w) - 4);
        let mut cut = false;
        for l in s.snippet.lines() {
            match width {
                Some(w) if super::fit::columns(l) > w => {
                    cut = true;
                    writeln!(out, "    {}", super::fit::cut(l, w))?;
                }
                _ => writeln!(out, "    {l}")?,
            }
        }
        if cut {
            writeln!(
                out,
                "  (lines cut to the terminal: --wide or --diff shows them whole)"
            )?;
        }
        if let Some(n) = &s.note {
            writeln!(out, "  note: {n}")?;
        }
    }
    writeln!(out)?;
    writeln!(out, "layers:")?;
    for l in &a.layers {
        let lines = l
            .lines
            .map(|s| format!("line {}", lines_label(&[s])))
            .unwrap_or_else(|| if l.base { "base".into() } else { String::new() });
        writeln!(
            out,
            "  {:>3} {:>10} {:<12} {}",
            l.index,
            size(l.content_bytes),
            lines,
            instruction_label(l.created_by.as_deref())
        )?;
    }
    Ok(())
}

/// The "not addressed" line and, below it, the largest groups with why.
fn write_unaddressed<W: Write>(out: &mut W, a: &Advice) -> io::Result<()> {
    let rest = a.reclaimable_bytes.saturating_sub(a.addressed_bytes);
    if rest == 0 {
        return Ok(());
    }
    writeln!(out, "not addressed: {}", size(rest))?;
    for u in a.unaddressed.iter().take(5) {
        let more = if u.items > 1 {
            format!(" (+{} more)", u.items - 1)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:>10}  {}{more} (layer {}, hidden by layer {}): {}",
            size(u.bytes),
            crate::text::cell(&u.path, 120),
            u.layer,
            u.hidden_by,
            u.reason
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct LintDoc<'a> {
    dockerfile: &'a str,
    findings: &'a [Finding],
}

/// Writes lint findings: `file:line: [rule/DLxxxx] message` lines, or the `dredge.lint` document.
pub fn write_lint<W: Write>(out: &mut W, path: &str, f: &[Finding], json: bool) -> io::Result<()> {
    if json {
        let doc = LintDoc {
            dockerfile: path,
            findings: f,
        };
        return write_versioned(out, "dredge.lint", LINT_SCHEMA_VERSION, &doc);
    }
    for x in f {
        let id = match x.hadolint {
            Some(h) => format!("{}/{h}", x.rule),
            None => x.rule.to_string(),
        };
        writeln!(out, "{path}:{}: [{id}] {}", x.line, x.message)?;
    }
    Ok(())
}

/// Writes a unified diff between two texts (`--- old_name` / `+++ new_name`, 3 lines of context).
pub fn write_diff<W: Write>(
    out: &mut W,
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
) -> io::Result<()> {
    write!(
        out,
        "{}",
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(old_name, new_name)
    )
}

/// Writes the edits as unified diffs: the Dockerfile's, then its `.dockerignore`'s (from `/dev/null`
/// when it is new).
pub fn write_edits<W: Write>(out: &mut W, edits: &crate::advise::Edits) -> io::Result<()> {
    // Lines before the first `---` are ignored by patch(1) and git apply.
    writeln!(
        out,
        "# dredge: this diff saves {} bytes ({}); all suggestions together save {}",
        edits.bytes_saved,
        size(edits.bytes_saved),
        size(edits.advice_bytes_saved)
    )?;
    for (n, why) in &edits.left_out {
        writeln!(out, "# dredge: left out suggestion #{n}: {why}")?;
    }
    let df = &edits.dockerfile;
    let name = df.path.display().to_string();
    write_diff(out, df.old.as_deref().unwrap_or(""), &df.new, &name, &name)?;
    if let Some(ig) = &edits.dockerignore {
        let name = ig.path.display().to_string();
        let from = if ig.old.is_some() {
            name.as_str()
        } else {
            "/dev/null"
        };
        write_diff(out, ig.old.as_deref().unwrap_or(""), &ig.new, from, &name)?;
    }
    Ok(())
}

/// Says which files `advise --write` wrote, a line each: `dredge: wrote PATH (backup PATH)`.
pub fn write_written<W: Write>(out: &mut W, written: &[crate::advise::Written]) -> io::Result<()> {
    for w in written {
        write!(out, "dredge: wrote {}", w.path.display())?;
        match &w.backup {
            Some(b) => writeln!(out, " (backup {})", b.display())?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}
