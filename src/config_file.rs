//! Config files in TOML read with `FILE:LINE` errors: `dredge.toml` ([`crate::check`]) and the reclaim
//! policy ([`crate::reclaim`]) share the error type, the reading and the line numbers here.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::DeTable;

/// A config file that cannot be used. Messages name the file, the line and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The file cannot be read.
    #[error("cannot read {what}{file}: {reason}")]
    Read {
        /// What the file is, with a trailing space (`"the policy "`), or empty.
        what: &'static str,
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML (or YAML).
    #[error("{file}:{line}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A key that does not exist, or a value it cannot take.
    #[error("{file}:{line}: {key}: {message}")]
    Key {
        /// The file, or `command line`.
        file: String,
        /// 1-based line (0 on the command line).
        line: usize,
        /// The key (`check.max_size`, `watermarks.low`) or flag.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads a file whole; `what` names it in the message (see [`FileError::Read`]).
pub fn read(path: &Path, what: &'static str) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|e| FileError::Read {
        what,
        file: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses TOML text into its spanned table; `file` names it in a syntax error.
pub fn parse_toml<'a>(text: &'a str, file: &str) -> Result<Spanned<DeTable<'a>>, FileError> {
    DeTable::parse(text).map_err(|e| FileError::Syntax {
        file: file.to_string(),
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        message: e.message().trim().to_string(),
    })
}

/// A [`FileError::Key`] at the line of byte range `span` in `text`.
pub fn key_error(
    text: &str,
    file: &str,
    span: Range<usize>,
    key: String,
    message: String,
) -> FileError {
    FileError::Key {
        file: file.to_string(),
        line: line_of(text, span.start),
        key,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_count_from_one_and_clamp() {
        let text = "a = 1\nb = 2\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 6), 2);
        assert_eq!(line_of(text, 1000), 3);
    }

    #[test]
    fn syntax_and_read_errors_name_the_file() {
        let e = parse_toml("a = 1\nb = \n", "x.toml").unwrap_err();
        assert!(matches!(e, FileError::Syntax { line: 2, .. }), "{e}");
        assert!(e.to_string().starts_with("x.toml:2: "), "{e}");
        let e = read(Path::new("/nonexistent/x.toml"), "the policy ").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the policy /nonexistent/x.toml: "),
            "{e}"
        );
    }
}
