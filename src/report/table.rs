//! Tables for people.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ColumnConstraint, ContentArrangement, Table};

use super::size;
use crate::advice::history::{Step, parse_created_by};
use crate::analysis::{ImageReport, Reason};
use crate::text;

/// The instruction as a person would write it, on one line of at most 70 characters: the history's
/// `created_by` as [`parse_created_by`] reads it (builder prefixes, build args, the shell and the
/// `# buildkit` suffix dropped). A record the parser found no wrapper on (an exec-form RUN, another
/// tool's text) is shown as recorded.
pub fn instruction_label(created_by: Option<&str>) -> String {
    let Some(raw) = created_by else {
        return "(no history)".into();
    };
    let s = match parse_created_by(created_by) {
        Step::Run { command } if command == raw.trim() => command,
        Step::Run { command } => format!("RUN {command}"),
        Step::Copy { keyword, args } => format!("{keyword} {args}"),
        Step::Other(text) => text,
        Step::Unknown => String::new(),
    };
    // Whitespace runs become one space, reading no further than the cell shows (a crafted history
    // entry can be megabytes long).
    let mut one_line = String::new();
    for word in s.split_whitespace() {
        if !one_line.is_empty() {
            one_line.push(' ');
        }
        one_line.push_str(word);
        if one_line.len() > 4 * INSTRUCTION_WIDTH {
            break;
        }
    }
    text::cell(&one_line, INSTRUCTION_WIDTH)
}

/// Widest instruction shown in a table, in characters.
const INSTRUCTION_WIDTH: usize = 70;
/// Widest path or name shown in a table cell, in characters: longer ones are cut with an ellipsis
/// (the JSON report has them whole).
pub const NAME_WIDTH: usize = 100;

/// A table cell for input-derived text (a path, a tag, a name): control characters escaped, cut to
/// [`NAME_WIDTH`] characters with an ellipsis, in time linear in what is shown whatever the input's size.
pub fn name_cell(s: &str) -> Cell {
    Cell::new(text::cell(s, NAME_WIDTH))
}

/// A table in the house style (condensed UTF-8 lines) with this header.
pub(crate) fn new_table(header: &[&str]) -> Grid {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(Cell::new));
    Grid(t)
}

/// Columns at most this wide (figures, kinds, short names) are never cut to fit the terminal; the
/// wider ones (paths, instructions, fixes) share what is left.
const KEEP_WHOLE: u16 = 16;

/// A table that fits the width set by [`super::fit::set_width`] when it is shown: each row one line,
/// its wide columns cut with `…`. Without a width (piped, `--wide`) it is shown whole.
pub struct Grid(Table);

impl std::ops::Deref for Grid {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.0
    }
}

impl std::ops::DerefMut for Grid {
    fn deref_mut(&mut self) -> &mut Table {
        &mut self.0
    }
}

impl std::fmt::Display for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(width) = super::fit::width() else {
            return write!(f, "{}", self.0);
        };
        let mut t = self.0.clone();
        let widths = t.column_max_content_widths();
        for (column, w) in t.column_iter_mut().zip(widths) {
            if w <= KEEP_WHOLE {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width)
            .set_truncation_indicator("…");
        for row in t.row_iter_mut() {
            row.max_height(1);
        }
        write!(f, "{t}")
    }
}

/// A right-aligned cell (figures).
pub(crate) fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

/// A reason as the table shows it: its name, and "opaque dir" said in full.
fn reason_label(r: Reason) -> &'static str {
    match r {
        Reason::Opaque => "opaque dir",
        r => r.name(),
    }
}

/// Writes the `dredge image` report as tables; `top` limits the wasted-paths table (0 = all).
pub fn write_image<W: Write>(out: &mut W, r: &ImageReport, top: usize) -> io::Result<()> {
    let name = if r.tags.is_empty() {
        text::cell(&r.source, NAME_WIDTH)
    } else {
        r.tags
            .iter()
            .map(|t| text::cell(t, NAME_WIDTH))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(
        out,
        "Image {name} ({}, {} layers)",
        r.format,
        r.layers.len()
    )?;
    writeln!(
        out,
        "  size {} = visible {} + invisible {}",
        size(r.size_bytes),
        size(r.visible_bytes),
        size(r.invisible_bytes),
    )?;
    writeln!(
        out,
        "  invisible: deleted {}, opaque {}, overwritten {}",
        size(r.invisible.deleted),
        size(r.invisible.opaque),
        size(r.invisible.overwritten),
    )?;
    writeln!(
        out,
        "  caches {}  efficiency {:.2} % (visible / size)",
        size(r.cache_bytes),
        r.efficiency * 100.0
    )?;
    let pct = r
        .dive
        .user_wasted_percent
        .map_or("n/a".to_string(), |p| format!("{:.2} %", p * 100.0));
    writeln!(
        out,
        "dive's figures (as dive computes them, for .dive-ci rules):"
    )?;
    writeln!(
        out,
        "  efficiency {:.2} %  wasted {} ({} bytes)  user wasted {pct}",
        r.dive.efficiency * 100.0,
        size(r.dive.wasted_bytes),
        r.dive.wasted_bytes
    )?;
    writeln!(out)?;

    // The per-reason columns only when there is room for them and the instruction.
    let breakdown = super::fit::width().is_none_or(|w| w >= 120);
    let mut header = vec!["#", "size", "invisible"];
    if breakdown {
        header.extend(["deleted", "opaque", "overwritten"]);
    }
    header.extend(["cache", "+/~/-", "instruction"]);
    let mut t = new_table(&header);
    for l in &r.layers {
        let mut row = vec![
            right(l.index.to_string()),
            right(size(l.size_bytes)),
            right(size(l.invisible_bytes)),
        ];
        if breakdown {
            row.extend([
                right(size(l.invisible.deleted)),
                right(size(l.invisible.opaque)),
                right(size(l.invisible.overwritten)),
            ]);
        }
        row.extend([
            right(size(l.cache_bytes)),
            right(format!(
                "{}/{}/{}",
                l.files_added, l.files_modified, l.files_deleted
            )),
            Cell::new(match (&l.created_by, &l.comment) {
                (None, Some(comment)) => format!("({})", text::cell(comment, INSTRUCTION_WIDTH)),
                (by, _) => instruction_label(by.as_deref()),
            }),
        ]);
        t.add_row(row);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "  +/~/-: files added / modified / deleted by the layer{}",
        if breakdown {
            ""
        } else {
            "; invisible by reason: --wide or --json"
        }
    )?;

    if !r.wasted.is_empty() {
        let shown = if top == 0 {
            r.wasted.len()
        } else {
            top.min(r.wasted.len())
        };
        writeln!(
            out,
            "\nLargest invisible bytes ({shown} of {}):",
            r.wasted_total
        )?;
        let mut t = new_table(&["bytes", "files", "path", "why", "layer", "hidden by"]);
        for w in r.wasted.iter().take(shown) {
            t.add_row(vec![
                right(size(w.bytes)),
                right(w.files.to_string()),
                name_cell(&w.path),
                Cell::new(reason_label(w.reason)),
                right(w.added_in.to_string()),
                right(w.hidden_by.to_string()),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if !r.caches.is_empty() {
        writeln!(out, "\nCaches and temp files left in the image:")?;
        let mut t = new_table(&["bytes", "files", "kind", "layers", "fix"]);
        for c in &r.caches {
            let layers = c
                .layers
                .iter()
                .map(|(i, b)| format!("{i}: {}", size(*b)))
                .collect::<Vec<_>>()
                .join(", ");
            t.add_row(vec![
                right(size(c.bytes)),
                right(c.files.to_string()),
                Cell::new(c.id.as_str()),
                Cell::new(layers),
                Cell::new(c.fix),
            ]);
        }
        writeln!(out, "{t}")?;
    }

    if let Some(d) = &r.duplicates {
        writeln!(
            out,
            "\nDuplicate content: {} group{}; keeping one copy of each would save {}",
            d.groups.len(),
            if d.groups.len() == 1 { "" } else { "s" },
            size(d.reclaimable_bytes),
        )?;
        if !d.groups.is_empty() {
            let shown = if top == 0 {
                d.groups.len()
            } else {
                top.min(d.groups.len())
            };
            let mut t = new_table(&["each", "copies", "paths"]);
            // One row per path: a row is one line when cut to the terminal.
            for g in d.groups.iter().take(shown) {
                for (i, p) in g.paths.iter().enumerate() {
                    let first = i == 0;
                    t.add_row(vec![
                        right(if first { size(g.size) } else { String::new() }),
                        right(if first {
                            g.paths.len().to_string()
                        } else {
                            String::new()
                        }),
                        name_cell(p),
                    ]);
                }
            }
            writeln!(out, "{t}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::instruction_label;

    #[test]
    fn instructions_read_as_written() {
        assert_eq!(
            instruction_label(Some("/bin/sh -c apk add x")),
            "RUN apk add x"
        );
        assert_eq!(
            instruction_label(Some("/bin/sh -c #(nop) COPY file:abc in /app ")),
            "COPY file:abc in /app"
        );
        // BuildKit's record and the classic builder's with build args read like the Dockerfile line.
        assert_eq!(
            instruction_label(Some("RUN /bin/sh -c make # buildkit")),
            "RUN make"
        );
        assert_eq!(
            instruction_label(Some("|2 A=1 B=2 /bin/sh -c make all")),
            "RUN make all"
        );
        assert_eq!(
            instruction_label(Some("COPY --chown=1:1 src /dst # buildkit")),
            "COPY --chown=1:1 src /dst"
        );
        // Records with no builder wrapper read as written.
        assert_eq!(instruction_label(Some("COPY app")), "COPY app");
        assert_eq!(instruction_label(Some("echo hi")), "echo hi");
        assert_eq!(instruction_label(None), "(no history)");
        assert_eq!(instruction_label(Some("")), "");
        let long = instruction_label(Some(&format!("/bin/sh -c {}", "x ".repeat(50))));
        assert_eq!(long.chars().count(), 70);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn long_or_hostile_instructions_are_one_short_line() {
        let long = format!("/bin/sh -c {}", "x ".repeat(5_000_000));
        let label = instruction_label(Some(&long));
        assert_eq!(label.chars().count(), 70);
        assert!(label.starts_with("RUN x x") && label.ends_with('…'));
        assert_eq!(
            instruction_label(Some("/bin/sh -c echo \x1b[2J\x07")),
            "RUN echo \\x1b[2J\\x07"
        );
    }
}
