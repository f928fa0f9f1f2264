//! A Dockerfile parser that keeps what an editor needs: every instruction with its physical line range,
//! the escape character (`# escape=` directive), flags, exec or shell form, heredocs and stages.
//! Comments and blank lines are not instructions, but the source lines are kept so edits leave them be.

use std::fmt;

/// Instructions the Dockerfile reference defines.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Parser directives the builders know (BuildKit's `syntax`, `escape`, `check`).
const DIRECTIVES: &[&str] = &["syntax", "escape", "check"];

/// A Dockerfile that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ParseError {
    /// The file as the user named it.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// `--name=value` (or `--name`) before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flag {
    /// Name without the dashes (`mount`, `chown`).
    pub name: String,
    /// Value after `=`, if any.
    pub value: Option<String>,
}

/// Exec form (`["a", "b"]`) or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Shell form: the arguments are one string run by the `SHELL`.
    Shell,
    /// Exec form: a JSON array of strings.
    Exec(Vec<String>),
}

/// A here-document (`<<EOF … EOF`) attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word.
    pub name: String,
    /// `<<-`: leading tabs are stripped.
    pub strip_tabs: bool,
    /// Lines of the body (1-based, inclusive), the terminator excluded.
    pub body_lines: (usize, usize),
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-case keyword (`RUN`).
    pub keyword: String,
    /// First physical line (1-based).
    pub start_line: usize,
    /// Last physical line (1-based, inclusive; heredoc bodies and terminators included).
    pub end_line: usize,
    /// Flags before the arguments.
    pub flags: Vec<Flag>,
    /// The arguments as the builder sees them: continuations joined, comment lines dropped.
    pub args: String,
    /// Exec or shell form.
    pub form: Form,
    /// Heredocs, in order.
    pub heredocs: Vec<Heredoc>,
    /// Index of the stage the instruction belongs to (`None` for ARGs before the first FROM).
    pub stage: Option<usize>,
    /// Where the arguments begin: (line offset from `start_line`, byte column in that line).
    pub args_pos: Option<(usize, usize)>,
}

impl Instruction {
    /// The value of flag `name`, `Some("")` for a bare flag.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// True for a shell-form instruction without heredocs (its text can be edited as shell).
    pub fn is_plain_shell(&self) -> bool {
        self.form == Form::Shell && self.heredocs.is_empty()
    }
}

/// A build stage: `FROM base [AS name]` and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The image or stage it starts from.
    pub base: String,
    /// `AS name`, lower-cased as the builder compares it.
    pub name: Option<String>,
    /// Index of its FROM in `Dockerfile::instructions`.
    pub from: usize,
    /// One past the index of its last instruction.
    pub end: usize,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The file as the user named it.
    pub path: String,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// Physical lines, without line ends.
    pub lines: Vec<String>,
    /// True when the text ended with a newline.
    pub trailing_newline: bool,
    /// True when lines end with CRLF (edits keep it).
    pub crlf: bool,
    /// Every instruction, in order.
    pub instructions: Vec<Instruction>,
    /// Stages, in order; the last is the one built by default.
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// The final stage (the one `docker build` produces without `--target`).
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// Instructions of the final stage, FROM included, with their indices.
    pub fn final_instructions(&self) -> impl Iterator<Item = (usize, &Instruction)> {
        let range = self.final_stage().map_or(0..0, |s| s.from..s.end);
        range.map(move |i| (i, &self.instructions[i]))
    }
}

fn err(path: &str, line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        path: path.to_string(),
        line,
        message: message.into(),
    }
}

/// `# key=value` at the top of the file, before anything else.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start().strip_prefix('#')?;
    let (k, v) = rest.split_once('=')?;
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((k.to_ascii_lowercase(), v.trim().to_string()))
}

/// The line without its trailing escape character (and the blanks after it), if it continues.
fn continued(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    t.strip_suffix(escape)
}

/// Heredoc openers in a RUN/COPY/ADD argument string: (name, strip_tabs).
fn heredoc_openers(args: &str) -> Vec<(String, bool)> {
    let b = args.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                i += 1;
                continue;
            }
            None if c == b'\'' || c == b'"' => {
                quote = Some(c);
                i += 1;
                continue;
            }
            None => {}
        }
        if c == b'<' && b.get(i + 1) == Some(&b'<') && (i == 0 || b[i - 1] != b'<') {
            let mut j = i + 2;
            if b.get(j) == Some(&b'<') {
                // `<<<` is a here-string, not a heredoc.
                i = j + 1;
                continue;
            }
            let strip = b.get(j) == Some(&b'-');
            if strip {
                j += 1;
            }
            let q = match b.get(j) {
                Some(&q @ (b'\'' | b'"')) => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name_ok = j > start && !b[start].is_ascii_digit();
            if name_ok {
                if let Some(q) = q {
                    if b.get(j) != Some(&q) {
                        i = j;
                        continue;
                    }
                    j += 1;
                }
                out.push((args[start..j - usize::from(q.is_some())].to_string(), strip));
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Splits leading `--flag[=value]` tokens off the arguments.
fn split_flags(rest: &str) -> (Vec<Flag>, &str) {
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while let Some(tok_rest) = rest.strip_prefix("--") {
        let end = tok_rest
            .find(|c: char| c.is_whitespace())
            .unwrap_or(tok_rest.len());
        let tok = &tok_rest[..end];
        if tok.is_empty() {
            break;
        }
        let (name, value) = match tok.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (tok.to_string(), None),
        };
        flags.push(Flag { name, value });
        rest = tok_rest[end..].trim_start();
    }
    (flags, rest)
}

/// Where the arguments begin: (line offset from the instruction's first line, byte column), found by
/// skipping the keyword and `nflags` flags over the physical lines `parts` of the logical line.
fn args_position(
    lines: &[String],
    parts: &[usize],
    escape: char,
    nflags: usize,
) -> Option<(usize, usize)> {
    let mut to_skip = 1 + nflags;
    for (k, &li) in parts.iter().enumerate() {
        let line = lines[li].as_str();
        let body = if k + 1 < parts.len() {
            continued(line, escape).unwrap_or(line)
        } else {
            line
        };
        let mut pos = 0;
        loop {
            let rest = &body[pos..];
            pos += rest.len() - rest.trim_start().len();
            if pos >= body.len() {
                break;
            }
            if to_skip == 0 {
                return Some((li - parts[0], pos));
            }
            let tok = &body[pos..];
            pos += tok.find(char::is_whitespace).unwrap_or(tok.len());
            to_skip -= 1;
        }
    }
    None
}

/// Parses Dockerfile text; `path` names it in errors.
pub fn parse(path: &str, text: &str) -> Result<Dockerfile, ParseError> {
    // A UTF-8 byte-order mark is not part of the first line, as for `docker build`; it is put back on
    // the stored line so that an edited file keeps it.
    let (bom, text) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let trailing_newline = text.ends_with('\n');
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives: only at the very top, before any comment, blank line or instruction.
    while i < lines.len() {
        // An unknown directive is a comment, and ends the directives like any comment.
        let Some((k, v)) = directive(&lines[i]).filter(|(k, _)| DIRECTIVES.contains(&k.as_str()))
        else {
            break;
        };
        if k == "escape" {
            escape = match v.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => return Err(err(path, i + 1, format!("invalid escape character {v:?}"))),
            };
        }
        i += 1;
    }
    let mut instructions: Vec<Instruction> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    while i < lines.len() {
        let first = lines[i].trim_start();
        if first.is_empty() || first.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        let mut last = i;
        let mut parts: Vec<usize> = Vec::new();
        loop {
            if i >= lines.len() {
                break;
            }
            let l = &lines[i];
            if i != start && (l.trim().is_empty() || l.trim_start().starts_with('#')) {
                // Comment and empty lines inside a continuation are dropped by the builder.
                i += 1;
                continue;
            }
            last = i;
            parts.push(i);
            i += 1;
            match continued(l, escape) {
                Some(t) => text.push_str(t),
                None => {
                    text.push_str(l);
                    break;
                }
            }
        }
        let text = text.trim();
        let (kw, rest) = match text.find(char::is_whitespace) {
            Some(p) => (&text[..p], text[p..].trim_start()),
            None => (text, ""),
        };
        let keyword = kw.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(err(path, start + 1, format!("unknown instruction {kw:?}")));
        }
        let (flags, args) = split_flags(rest);
        let args = args.to_string();
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (name, strip) in heredoc_openers(&args) {
                let body_start = i;
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(err(
                            path,
                            start + 1,
                            format!("heredoc <<{name} is never terminated"),
                        ));
                    };
                    i += 1;
                    let l = if strip { l.trim_start_matches('\t') } else { l };
                    if l == name {
                        break;
                    }
                }
                last = i - 1;
                heredocs.push(Heredoc {
                    name,
                    strip_tabs: strip,
                    body_lines: (body_start + 1, i - 1),
                });
            }
        }
        if args.is_empty() && heredocs.is_empty() {
            return Err(err(
                path,
                start + 1,
                format!("{keyword} requires at least one argument"),
            ));
        }
        let form = if args.starts_with('[')
            && matches!(
                keyword.as_str(),
                "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "COPY" | "ADD" | "VOLUME"
            ) {
            match serde_json::from_str::<Vec<String>>(&args) {
                Ok(v) => Form::Exec(v),
                Err(_) if keyword == "SHELL" => {
                    return Err(err(
                        path,
                        start + 1,
                        "SHELL requires a JSON array of strings",
                    ));
                }
                Err(_) => Form::Shell,
            }
        } else if keyword == "SHELL" {
            return Err(err(
                path,
                start + 1,
                "SHELL requires a JSON array of strings",
            ));
        } else {
            Form::Shell
        };
        let index = instructions.len();
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let name = match words.as_slice() {
                [_] => None,
                [_, as_, n] if as_.eq_ignore_ascii_case("as") => Some(n.to_ascii_lowercase()),
                _ => {
                    return Err(err(
                        path,
                        start + 1,
                        "FROM takes an image and an optional `AS name`",
                    ));
                }
            };
            if let Some(prev) = stages.last_mut() {
                prev.end = index;
            }
            stages.push(Stage {
                base: words[0].to_string(),
                name,
                from: index,
                end: index + 1,
            });
        } else if stages.is_empty() && keyword != "ARG" {
            return Err(err(
                path,
                start + 1,
                format!("{keyword} before the first FROM (only ARG may come first)"),
            ));
        } else if let Some(s) = stages.last_mut() {
            s.end = index + 1;
        }
        let args_pos = args_position(&lines, &parts, escape, flags.len());
        instructions.push(Instruction {
            keyword,
            start_line: start + 1,
            end_line: last + 1,
            flags,
            args,
            form,
            heredocs,
            stage: stages.len().checked_sub(1),
            args_pos,
        });
    }
    if stages.is_empty() {
        return Err(err(path, lines.len().max(1), "no FROM instruction"));
    }
    if bom && let Some(first) = lines.first_mut() {
        first.insert(0, '\u{feff}');
    }
    Ok(Dockerfile {
        path: path.to_string(),
        escape,
        lines,
        trailing_newline,
        crlf: text.contains("\r\n"),
        instructions,
        stages,
    })
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.keyword)?;
        for fl in &self.flags {
            match &fl.value {
                Some(v) => write!(f, " --{}={v}", fl.name)?,
                None => write!(f, " --{}", fl.name)?,
            }
        }
        write!(f, " {}", self.args)
    }
}

/// Collapses runs of whitespace into one space (builders and people differ in how they wrap lines).
pub fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Dockerfile {
        parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn continuations_comments_and_line_ranges() {
        let d = p("# syntax=docker/dockerfile:1\n\
                   FROM alpine:3.19 AS base\n\
                   # a comment\n\
                   RUN apk add curl \\\n\
                   # inside a continuation\n\
                   \n\
                   \x20   && rm -rf /tmp/x\n\
                   RUN echo hi\n");
        assert_eq!(d.instructions.len(), 3);
        let run = &d.instructions[1];
        assert_eq!((run.start_line, run.end_line), (4, 7));
        assert_eq!(squash(&run.args), "apk add curl && rm -rf /tmp/x");
        assert_eq!(run.args_pos, Some((0, 4)));
        assert_eq!(d.instructions[2].start_line, 8);
        assert_eq!(d.stages[0].name.as_deref(), Some("base"));
        assert!(d.trailing_newline);
        // Arguments (and flags) that start on a continuation line.
        let d = p("FROM a\nRUN \\\n  --network=none \\\n  # c\n    make\n");
        assert_eq!(d.instructions[1].flag("network"), Some("none"));
        assert_eq!(d.instructions[1].args_pos, Some((3, 4)));
    }

    #[test]
    fn escape_directive_changes_the_continuation_character() {
        let d = p("# escape=`\nFROM mcr.microsoft.com/windows\nRUN dir C:\\ `\n  && echo done\n");
        assert_eq!(d.escape, '`');
        let run = &d.instructions[1];
        assert_eq!((run.start_line, run.end_line), (3, 4));
        assert!(run.args.contains("C:\\"));
        // A directive after a comment is only a comment: `\` stays the escape.
        let d = p("# hello\n# escape=`\nFROM a\nRUN x \\\n y\n");
        assert_eq!(d.escape, '\\');
        assert_eq!(d.instructions[1].end_line, 5);
        // So does an unknown directive; a known one may follow `syntax`, any case and spacing.
        assert_eq!(p("# foo=bar\n# escape=`\nFROM a\n").escape, '\\');
        assert_eq!(
            p("# syntax=docker/dockerfile:1\n#  ESCAPE = `\nFROM a\n").escape,
            '`'
        );
    }

    #[test]
    fn flags_forms_and_stages() {
        let d = p("ARG V=1\n\
                   FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n\
                   RUN --mount=type=cache,target=/root/.cache/go-build --network=none go build\n\
                   FROM scratch\n\
                   COPY --from=build --chown=1:1 --chmod=755 /out/app /app\n\
                   CMD [\"/app\", \"--serve\"]\n\
                   ENTRYPOINT [not json\n");
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stages[0].base, "golang:1.22");
        assert_eq!(d.instructions[1].flag("platform"), Some("$BUILDPLATFORM"));
        assert_eq!(d.instructions[0].stage, None);
        let run = &d.instructions[2];
        assert_eq!(
            run.flag("mount"),
            Some("type=cache,target=/root/.cache/go-build")
        );
        assert_eq!(run.flag("network"), Some("none"));
        assert_eq!(run.args, "go build");
        let copy = &d.instructions[4];
        assert_eq!(copy.flag("from"), Some("build"));
        assert_eq!(copy.flag("chown"), Some("1:1"));
        assert_eq!(copy.flag("chmod"), Some("755"));
        assert_eq!(copy.stage, Some(1));
        assert_eq!(
            d.instructions[5].form,
            Form::Exec(vec!["/app".into(), "--serve".into()])
        );
        assert_eq!(d.instructions[6].form, Form::Shell);
        let fin: Vec<_> = d.final_instructions().map(|(i, _)| i).collect();
        assert_eq!(fin, vec![3, 4, 5, 6]);
    }

    #[test]
    fn heredocs_are_recognised_and_their_bodies_skipped() {
        let d = p("FROM a\n\
                   RUN <<EOF\n\
                   apt-get update\n\
                   RUN this is body, not an instruction\n\
                   EOF\n\
                   COPY <<-\"A\" /a <<B /b\n\
                   \tone\n\
                   \tA\n\
                   two\n\
                   B\n\
                   RUN cat <<<word && echo '<<NOT'\n");
        assert_eq!(d.instructions.len(), 4);
        let run = &d.instructions[1];
        assert_eq!((run.start_line, run.end_line), (2, 5));
        assert_eq!(run.heredocs[0].name, "EOF");
        assert!(!run.is_plain_shell());
        let copy = &d.instructions[2];
        assert_eq!(copy.heredocs.len(), 2);
        assert!(copy.heredocs[0].strip_tabs);
        assert_eq!(copy.end_line, 10);
        assert!(d.instructions[3].heredocs.is_empty());
    }

    #[test]
    fn crlf_and_lower_case_keywords() {
        let d = p("from a\r\nrun echo a \\\r\n  b\r\n");
        assert_eq!(d.instructions[1].keyword, "RUN");
        assert_eq!(squash(&d.instructions[1].args), "echo a b");
        assert!(!d.lines[1].ends_with('\r'));
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_instruction() {
        let d = p("\u{feff}FROM alpine\nRUN true\n");
        assert_eq!(d.instructions[0].keyword, "FROM");
        assert_eq!(d.instructions.len(), 2);
        assert_eq!(d.stages.len(), 1);
        // Kept on the stored line, so an edit writes it back.
        assert_eq!(d.lines[0], "\u{feff}FROM alpine");
        // Directives may follow it.
        let d = p("\u{feff}# escape=`\nFROM a\nRUN a `\n  b\n");
        assert_eq!(d.escape, '`');
        assert_eq!(squash(&d.instructions[1].args), "a b");
        // A mark anywhere else is still text.
        assert!(parse("df", "FROM a\n\u{feff}RUN x\n").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("df", "FROM a\nRUNN x\n").unwrap_err();
        assert_eq!(e.to_string(), "df:2: unknown instruction \"RUNN\"");
        assert_eq!(parse("df", "RUN x\n").unwrap_err().line, 1);
        assert_eq!(parse("df", "FROM a\n\nRUN <<EOF\nx\n").unwrap_err().line, 3);
        assert_eq!(
            parse("df", "FROM a\nSHELL /bin/bash\n").unwrap_err().line,
            2
        );
        assert_eq!(parse("df", "FROM a b c d\n").unwrap_err().line, 1);
        assert_eq!(parse("df", "FROM a\nRUN\n").unwrap_err().line, 2);
        assert_eq!(parse("df", "# escape=x\nFROM a\n").unwrap_err().line, 1);
        assert_eq!(parse("df", "").unwrap_err().message, "no FROM instruction");
    }
}
