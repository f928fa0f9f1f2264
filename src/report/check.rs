//! `dredge check` output: a short summary for people, the `dredge.check` JSON document, JUnit XML,
//! Markdown (for `$GITHUB_STEP_SUMMARY` or a pull-request comment), and GitHub Actions annotations.

use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::size;
use super::table::instruction_label;
use crate::check::{Blame, Bound, CheckReport, Key, Measure, Outcome, Status, Unit};
use crate::text;

/// Version of the `dredge.check` document.
pub const CHECK_SCHEMA_VERSION: u32 = 1;

/// The formats of a check report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A line per rule when one fails, else a single summary line.
    Human,
    /// The `dredge.check` document.
    Json,
    /// JUnit XML, one test case per rule.
    Junit,
    /// Markdown, for `$GITHUB_STEP_SUMMARY` or a review comment.
    Markdown,
}

/// Where GitHub Actions annotations go, under GitHub Actions (`github`): on stdout with the human
/// report, where the runner reads workflow commands; on stderr (which the runner reads too) whenever
/// stdout carries a document (JSON, JUnit, Markdown), so that the document stays clean: the README's
/// recipe appends the Markdown to `$GITHUB_STEP_SUMMARY`, where a workflow command would show raw.
pub fn annotations_on_stderr(format: Format, github: bool) -> bool {
    github && format != Format::Human
}

/// Writes the report in `format`, preceded by GitHub Actions annotations when `github` and the
/// format leaves them on stdout (see [`annotations_on_stderr`]).
pub fn write<W: Write>(
    out: &mut W,
    format: Format,
    github: bool,
    r: &CheckReport,
) -> io::Result<()> {
    if github && !annotations_on_stderr(format, github) {
        write_github_annotations(out, r)?;
    }
    match format {
        Format::Human => write_human(out, r),
        Format::Json => write_json(out, r),
        Format::Junit => write_junit(out, r),
        Format::Markdown => write_markdown(out, r),
    }
}

fn measure(unit: Unit, m: Measure) -> String {
    match m {
        Measure::Bytes(b) => size(b),
        Measure::Delta(d) if d < 0 => format!("-{}", size(d.unsigned_abs())),
        Measure::Delta(d) => format!("+{}", size(d as u64)),
        Measure::Count(n) => n.to_string(),
        Measure::Ratio(None) => "n/a".into(),
        Measure::Ratio(Some(x)) if unit == Unit::Percent => format!("{x:.2} %"),
        Measure::Ratio(Some(x)) => format!("{x:.4}"),
    }
}

/// The one-line verdict of a rule, without its status word: `total size 2.4 MB > 1 MB (--max-size)`.
pub fn rule_line(o: &Outcome) -> String {
    let what = o
        .rule
        .spec()
        .rule
        .as_ref()
        .map_or(o.rule.name(), |r| r.what);
    let bound = o.rule.spec().rule.as_ref().map_or(Bound::Max, |r| r.bound);
    let body = match (o.rule, o.status) {
        (Key::ForbiddenPaths, Status::Fail) => format!(
            "{} forbidden path{} present",
            measure(o.unit, o.actual),
            if o.actual == Measure::Count(1) {
                " is"
            } else {
                "s are"
            }
        ),
        (Key::ForbiddenPaths, _) => "no forbidden path is present".into(),
        (_, Status::Skip) => format!("{what} not checked: disabled"),
        (_, status) => {
            let op = match (bound, status == Status::Fail) {
                (Bound::Max, true) => ">",
                (Bound::Max, false) => "<=",
                (Bound::Min, true) => "<",
                (Bound::Min, false) => ">=",
            };
            format!(
                "{what} {} {op} {}",
                measure(o.unit, o.actual),
                measure(o.unit, o.limit)
            )
        }
    };
    let note = o.note.as_ref().map_or(String::new(), |n| format!("; {n}"));
    format!("{body} ({}){note}", o.origin)
}

/// The longest input-derived path or detail a blame line shows (escaped, then cut with `…`).
const PATH_WIDTH: usize = 240;

/// A blame entry as one line: `layer 3, 2.1 MB: RUN apk add …` or `/data/x (layer 1), 100 kB: deleted …`.
/// `signed` shows bytes as a change (`+2 kB`), for growth.
pub fn blame_line(b: &Blame, signed: bool) -> String {
    let mut s = String::new();
    match (&b.path, b.layer) {
        (Some(p), Some(l)) => s.push_str(&format!("{} (layer {l})", text::cell(p, PATH_WIDTH))),
        (Some(p), None) => s.push_str(&text::cell(p, PATH_WIDTH)),
        (None, Some(l)) => s.push_str(&format!("layer {l}")),
        (None, None) => {}
    }
    if let Some(bytes) = b.bytes {
        let m = if signed || bytes < 0 {
            Measure::Delta(bytes)
        } else {
            Measure::Bytes(bytes.unsigned_abs())
        };
        s.push_str(&format!(", {}", measure(Unit::Bytes, m)));
    }
    if b.instruction.is_some() {
        s.push_str(&format!(
            ": {}",
            instruction_label(b.instruction.as_deref())
        ));
    }
    if let Some(d) = &b.detail {
        s.push_str(&format!(": {}", text::cell(d, PATH_WIDTH)));
    }
    s
}

fn is_growth(k: Key) -> bool {
    matches!(k, Key::MaxGrowth | Key::MaxGrowthPercent)
}

fn blames(o: &Outcome) -> impl Iterator<Item = String> + '_ {
    let signed = is_growth(o.rule);
    o.blame.iter().map(move |b| blame_line(b, signed))
}

/// A compared layer's position: `3`, `3 (was 2)`, `3 (new)`, `- (was 2, removed)`.
fn layer_position(l: &crate::check::LayerGrowth) -> String {
    match (l.index, l.baseline_index) {
        (Some(i), Some(b)) if i == b => i.to_string(),
        (Some(i), Some(b)) => format!("{i} (was {b})"),
        (Some(i), None) => format!("{i} (new)"),
        (None, Some(b)) => format!("- (was {b}, removed)"),
        (None, None) => "-".into(),
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Fail => "FAIL",
        Status::Pass => "ok",
        Status::Skip => "skip",
    }
}

fn image_name(r: &CheckReport) -> String {
    if r.image.tags.is_empty() {
        r.image.source.clone()
    } else {
        r.image.tags.join(", ")
    }
}

/// The last line of every human report.
pub fn summary_line(r: &CheckReport) -> String {
    let skipped = if r.skipped > 0 {
        format!(", {} disabled", r.skipped)
    } else {
        String::new()
    };
    if r.passed {
        format!(
            "dredge check: ok, {} budget{} hold{} for {} ({}{skipped})",
            r.checked,
            if r.checked == 1 { "" } else { "s" },
            if r.checked == 1 { "s" } else { "" },
            image_name(r),
            size(r.image.size_bytes)
        )
    } else {
        format!(
            "dredge check: FAIL, {} of {} budget{} broken for {} ({}{skipped})",
            r.failed,
            r.checked,
            if r.checked == 1 { "" } else { "s" },
            image_name(r),
            size(r.image.size_bytes)
        )
    }
}

/// The human report: quiet (the summary only) when every budget holds; otherwise one line per rule,
/// failing ones first with what to blame below them, then the summary.
pub fn write_human<W: Write>(out: &mut W, r: &CheckReport) -> io::Result<()> {
    if !r.passed {
        for o in &r.results {
            writeln!(
                out,
                "{:<4} {}: {}",
                status_word(o.status),
                o.rule,
                rule_line(o)
            )?;
            if o.status == Status::Fail {
                for b in blames(o) {
                    writeln!(out, "       {b}")?;
                }
            }
        }
        if let Some(g) = &r.growth
            && r.results
                .iter()
                .any(|o| o.status == Status::Fail && is_growth(o.rule))
        {
            writeln!(
                out,
                "     growth against {}: {} -> {}",
                g.baseline,
                size(g.baseline_bytes),
                size(g.size_bytes)
            )?;
            for l in g.layers.iter().filter(|l| l.delta_bytes != 0) {
                writeln!(
                    out,
                    "       layer {}: {} -> {} ({}): {}",
                    layer_position(l),
                    l.baseline_bytes.map_or("-".into(), size),
                    l.size_bytes.map_or("-".into(), size),
                    measure(Unit::Bytes, Measure::Delta(l.delta_bytes)),
                    instruction_label(l.created_by.as_deref())
                )?;
            }
        }
    }
    writeln!(out, "{}", summary_line(r))
}

/// Writes the `dredge.check` document.
pub fn write_json<W: Write>(out: &mut W, r: &CheckReport) -> io::Result<()> {
    super::json::write_versioned(out, "dredge.check", CHECK_SCHEMA_VERSION, r)
}

/// Writes JUnit XML: one test suite (the image), one test case per rule; broken budgets are failures
/// (message: the verdict line; text: what to blame), disabled dive rules are skipped.
pub fn write_junit<W: Write>(out: &mut W, r: &CheckReport) -> io::Result<()> {
    let mut report = Report::new("dredge check");
    let mut suite = TestSuite::new(image_name(r));
    for o in &r.results {
        let status = match o.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Skip => TestCaseStatus::skipped(),
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(rule_line(o)).set_type("budget");
                let text: Vec<String> = blames(o).collect();
                if !text.is_empty() {
                    s.set_description(text.join("\n"));
                }
                s
            }
        };
        let mut case = TestCase::new(o.rule.name(), status);
        case.set_classname("dredge.check");
        if o.status == Status::Pass {
            case.set_system_out(rule_line(o));
        }
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.serialize(&mut *out).map_err(io::Error::other)?;
    writeln!(out)
}

/// Escapes text for a Markdown table cell or list item.
fn md(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('`', "\\`")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('<', "&lt;")
        .replace('\n', " ")
}

/// Writes Markdown: a heading with the verdict, a table of rules, what to blame, and the growth table.
pub fn write_markdown<W: Write>(out: &mut W, r: &CheckReport) -> io::Result<()> {
    let verdict = if r.passed {
        format!("all {} budgets hold", r.checked)
    } else {
        format!("{} of {} budgets broken", r.failed, r.checked)
    };
    writeln!(
        out,
        "## dredge check: {} ({verdict})\n",
        if r.passed { "passed" } else { "FAILED" }
    )?;
    writeln!(
        out,
        "Image {}: {} in {} layers, {} invisible (shipped, hidden in the final filesystem), {} in \
         caches.\n",
        md(&image_name(r)),
        size(r.image.size_bytes),
        r.image.layers.len(),
        size(r.image.reclaimable_bytes),
        size(r.image.cache_bytes)
    )?;
    writeln!(out, "| status | rule | measured | limit | set in |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for o in &r.results {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            match o.status {
                Status::Fail => "**FAIL**",
                Status::Pass => "ok",
                Status::Skip => "disabled",
            },
            md(o.rule.name()),
            md(&measure(o.unit, o.actual)),
            md(&measure(o.unit, o.limit)),
            md(&o.origin)
        )?;
    }
    let failing: Vec<&Outcome> = r
        .results
        .iter()
        .filter(|o| o.status == Status::Fail)
        .collect();
    if !failing.is_empty() {
        writeln!(out, "\n### What to blame\n")?;
        for o in failing {
            writeln!(out, "- **{}**: {}", md(o.rule.name()), md(&rule_line(o)))?;
            for b in blames(o) {
                writeln!(out, "  - {}", md(&b))?;
            }
        }
    }
    if let Some(g) = &r.growth {
        writeln!(
            out,
            "\n### Growth against {}\n\n{} to {} ({})\n",
            md(&g.baseline),
            size(g.baseline_bytes),
            size(g.size_bytes),
            measure(Unit::Bytes, Measure::Delta(g.delta_bytes))
        )?;
        writeln!(out, "| layer | baseline | now | change | instruction |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for l in &g.layers {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                layer_position(l),
                l.baseline_bytes.map_or("-".into(), size),
                l.size_bytes.map_or("-".into(), size),
                if l.same {
                    "same".to_string()
                } else {
                    measure(Unit::Bytes, Measure::Delta(l.delta_bytes))
                },
                md(&instruction_label(l.created_by.as_deref()))
            )?;
        }
    }
    if !r.warnings.is_empty() {
        writeln!(out, "\n### Warnings\n")?;
        for w in &r.warnings {
            writeln!(out, "- {}", md(w))?;
        }
    }
    Ok(())
}

/// Escapes a workflow command's message (GitHub: `%`, CR, LF).
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (also `:` and `,`).
fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Writes one `::error` workflow command per broken budget (GitHub Actions shows them as annotations).
pub fn write_github_annotations<W: Write>(out: &mut W, r: &CheckReport) -> io::Result<()> {
    for o in r.results.iter().filter(|o| o.status == Status::Fail) {
        let mut msg = rule_line(o);
        for b in blames(o) {
            msg.push('\n');
            msg.push_str(&b);
        }
        writeln!(
            out,
            "::error title={}::{}",
            gh_property(&format!("dredge check: {} ({})", o.rule, image_name(r))),
            gh_data(&msg)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(gh_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(gh_property("a: b, c"), "a%3A b%2C c");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md("a|b`c*d_e<f\ng"), "a\\|b\\`c\\*d\\_e&lt;f g");
    }

    #[test]
    fn measures_read_as_written() {
        assert_eq!(measure(Unit::Bytes, Measure::Bytes(1_500_000)), "1.50 MB");
        assert_eq!(measure(Unit::Bytes, Measure::Delta(-2_000)), "-2 kB");
        assert_eq!(measure(Unit::Bytes, Measure::Delta(2_000)), "+2 kB");
        assert_eq!(
            measure(Unit::Percent, Measure::Ratio(Some(12.345))),
            "12.35 %"
        );
        assert_eq!(
            measure(Unit::Fraction, Measure::Ratio(Some(0.95))),
            "0.9500"
        );
        assert_eq!(measure(Unit::Fraction, Measure::Ratio(None)), "n/a");
    }
}
