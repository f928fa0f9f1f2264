//! Text that came from input (paths in a tar, member names, JSON parser messages, Dockerfile lines) made
//! safe to show on a terminal: [`escape`] for messages, [`cell`] for table cells. Every error, warning
//! and table that carries input-derived text goes through one of them.

use std::borrow::Cow;
use std::fmt::Write;

/// Control characters (C0, DEL, C1) as visible escapes: `\n`, `\r`, `\t`, anything else as `\x1b` (or
/// `\u{9b}` above 0xff). Everything else is kept, backslashes included, so escaping is idempotent: text
/// escaped where it was made can be escaped again where it is printed without doubling anything. The
/// result never holds a line break or a terminal escape sequence.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() && (c as u32) <= 0xff => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Input-derived text for a table cell: escaped as by [`escape`] and, when longer than `max` characters,
/// cut to `max - 1` characters and an ellipsis. One pass over at most `max` characters of the input,
/// whatever its length: a 30 MB path costs what a 100-character one does.
pub fn cell(s: &str, max: usize) -> String {
    let max = max.max(1);
    let mut out = String::with_capacity(s.len().min(4 * max));
    let mut shown = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        let before = out.len();
        push_escaped(&mut out, c);
        // An escape counts as the characters it shows.
        shown += out[before..].chars().count();
        if shown > max || (shown == max && chars.clone().next().is_some()) {
            // Too long: go back to max - 1 characters and end with the ellipsis.
            let keep = out
                .char_indices()
                .nth(max - 1)
                .map_or(out.len(), |(i, _)| i);
            out.truncate(keep);
            out.push('…');
            return out;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape("plain/path ü"), "plain/path ü");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\x1b[2J\x07b\nc\r\td\x7f\u{9b}"),
            "a\\x1b[2J\\x07b\\nc\\r\\td\\x7f\\x9b"
        );
        assert_eq!(escape("\u{0}"), "\\x00");
        // Idempotent: what was escaped once holds no control character.
        let once = escape("x\n\x1by\\n").into_owned();
        assert_eq!(escape(&once), once);
        assert!(!once.bytes().any(|b| b < 0x20));
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis() {
        assert_eq!(cell("short", 10), "short");
        assert_eq!(cell("exactly10!", 10), "exactly10!");
        assert_eq!(cell("eleven chars", 10), "eleven ch…");
        assert_eq!(cell("ü".repeat(20).as_str(), 5), "üüüü…");
        assert_eq!(cell("a\nb", 10), "a\\nb");
        // An escape that would cross the limit is cut like any other text.
        assert_eq!(cell("abc\x1bdef", 5), "abc\\…");
        assert_eq!(cell("", 3), "");
        assert_eq!(cell("abcd", 1), "…");
        // The cut reads only the start of a huge input.
        let huge = "x".repeat(30 << 20);
        assert_eq!(cell(&huge, 80).chars().count(), 80);
    }
}
