//! Output that fits the terminal. The binary decides once, from facts it gathers (is stdout a
//! terminal, `COLUMNS`, the terminal's size, `--wide`), how wide human output may be ([`decide`]) and
//! sets it ([`set_width`]); tables ([`super::table::Grid`]) then cut their wide text columns with an
//! ellipsis, and [`FitWriter`] wraps the prose lines around them. Piped output, and `--wide`, are never
//! cut (ripgrep's rule): a script reading dredge's tables gets the values whole.

use std::io::{self, Write};
use std::sync::OnceLock;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Narrowest width honoured: below it, tables of figures cannot fit whatever is cut.
pub const MIN_WIDTH: u16 = 40;
/// Width assumed when stdout is a terminal that does not say its size (a serial console).
pub const DEFAULT_WIDTH: u16 = 80;

/// How wide human output on stdout may be: the terminal's width (or `COLUMNS`) when stdout is one;
/// piped output is not cut (`None`). `--wide` is applied by the caller.
pub fn stdout_width() -> Option<u16> {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let size = if tty {
        rustix::termios::tcgetwinsize(&stdout)
            .ok()
            .map(|w| w.ws_col)
    } else {
        None
    };
    decide(tty, false, std::env::var("COLUMNS").ok().as_deref(), size)
}

/// How wide human output may be: `None` (not cut) when stdout is not a terminal or `--wide` is given;
/// else `COLUMNS` when it is a number, else the terminal's own width, else [`DEFAULT_WIDTH`]; never
/// less than [`MIN_WIDTH`].
pub fn decide(
    stdout_is_terminal: bool,
    wide: bool,
    columns: Option<&str>,
    terminal: Option<u16>,
) -> Option<u16> {
    if wide || !stdout_is_terminal {
        return None;
    }
    let from_env = columns
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0);
    Some(
        from_env
            .or(terminal.filter(|&c| c > 0))
            .unwrap_or(DEFAULT_WIDTH)
            .max(MIN_WIDTH),
    )
}

static WIDTH: OnceLock<Option<u16>> = OnceLock::new();

/// Sets the width of human output for this process (first call wins; unset means not cut).
pub fn set_width(width: Option<u16>) {
    let _ = WIDTH.set(width);
}

/// The width human output must fit in, if any.
pub fn width() -> Option<u16> {
    WIDTH.get().copied().flatten()
}

/// Display width of `s` in terminal columns (wide CJK characters count two).
pub fn columns(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending with `…` when anything was cut.
pub fn cut(s: &str, max: usize) -> String {
    if columns(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// One line made to fit `max` columns. Table lines (box drawing) are cut with an ellipsis; other lines
/// are wrapped at spaces, continuation lines indented two more than the first; a word longer than a
/// whole line is cut.
pub fn fit_line(line: &str, max: usize) -> Vec<String> {
    if columns(line) <= max {
        return vec![line.to_string()];
    }
    if line.starts_with(['│', '┌', '└', '╞', '├', '┆']) {
        return vec![cut(line, max)];
    }
    let indent = (line.len() - line.trim_start_matches(' ').len()).min(max / 2);
    let next_indent = (indent + 2).min(max / 2);
    let mut lines = Vec::new();
    let mut current = " ".repeat(indent);
    let mut room = max - indent;
    let mut empty = true;
    for word in line.split(' ').filter(|w| !w.is_empty()) {
        let w = columns(word);
        if !empty && w + 1 > room {
            lines.push(std::mem::take(&mut current));
            current = " ".repeat(next_indent);
            room = max - next_indent;
            empty = true;
        }
        if !empty {
            current.push(' ');
            room -= 1;
        }
        if w > room {
            current.push_str(&cut(word, room));
            room = 0;
        } else {
            current.push_str(word);
            room -= w;
        }
        empty = false;
    }
    lines.push(current);
    lines
}

/// A writer that passes every line through [`fit_line`] when a width is given; without one it passes
/// bytes through untouched.
pub struct FitWriter<W: Write> {
    inner: W,
    width: Option<u16>,
    pending: Vec<u8>,
}

impl<W: Write> FitWriter<W> {
    /// Fits what is written to `inner` into `width` columns (None: untouched).
    pub fn new(inner: W, width: Option<u16>) -> Self {
        FitWriter {
            inner,
            width,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8], newline: bool) -> io::Result<()> {
        let Some(w) = self.width else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(line);
        let parts = fit_line(&text, usize::from(w));
        let n = parts.len();
        for (i, p) in parts.into_iter().enumerate() {
            self.inner.write_all(p.as_bytes())?;
            if newline || i + 1 < n {
                self.inner.write_all(b"\n")?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for FitWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.width.is_none() {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            self.emit(&line[..line.len() - 1], true)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest, false)?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_terminal_gets_a_width_and_columns_overrides_its_size() {
        assert_eq!(decide(false, false, Some("80"), Some(120)), None);
        assert_eq!(decide(true, true, Some("80"), Some(120)), None);
        assert_eq!(decide(true, false, Some("80"), Some(120)), Some(80));
        assert_eq!(decide(true, false, Some(" 100 "), None), Some(100));
        assert_eq!(decide(true, false, Some("wide"), Some(120)), Some(120));
        assert_eq!(decide(true, false, Some("0"), Some(0)), Some(DEFAULT_WIDTH));
        assert_eq!(decide(true, false, None, None), Some(DEFAULT_WIDTH));
        assert_eq!(decide(true, false, Some("10"), None), Some(MIN_WIDTH));
    }

    #[test]
    fn prose_wraps_at_spaces_with_a_hanging_indent() {
        let line = "  one two three four five six seven";
        let got = fit_line(line, 16);
        assert_eq!(
            got,
            vec!["  one two three", "    four five", "    six seven"]
        );
        for l in &got {
            assert!(columns(l) <= 16);
        }
        assert_eq!(fit_line("short", 16), vec!["short"]);
    }

    #[test]
    fn long_words_and_table_lines_are_cut_by_display_width() {
        assert_eq!(fit_line(&"x".repeat(30), 10), vec!["xxxxxxxxx…"]);
        assert_eq!(fit_line("│ aaaa ┆ bbbb │", 8), vec!["│ aaaa …"]);
        // A CJK character takes two columns.
        assert_eq!(cut("日本語テキスト", 7), "日本語…");
        assert!(columns(&cut("日本語テキスト", 7)) <= 7);
    }

    #[test]
    fn the_writer_fits_lines_split_across_writes() {
        let mut out = Vec::new();
        {
            let mut w = FitWriter::new(&mut out, Some(10));
            w.write_all(b"aaaa bbbb ").unwrap();
            w.write_all(b"cccc\nshort\nend").unwrap();
            w.flush().unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "aaaa bbbb\n  cccc\nshort\nend"
        );
        let mut raw = Vec::new();
        FitWriter::new(&mut raw, None)
            .write_all(b"a very long line that stays")
            .unwrap();
        assert_eq!(raw, b"a very long line that stays");
    }
}
