//! Mechanical changes to a Dockerfile's text, applied to its physical lines so that everything not
//! touched (comments, blank lines, wrapping, the escape character) stays as the author wrote it.

use std::collections::BTreeMap;

use super::dockerfile::{Dockerfile, Instruction};

/// One change, on instructions named by their index in `Dockerfile::instructions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Append `&& command` to a shell-form RUN.
    Append {
        /// The RUN.
        instr: usize,
        /// Shell text to run last.
        command: String,
    },
    /// Insert `flag` after each `<tool> <sub>` (e.g. `apk add`) of a RUN that lacks it.
    InsertFlag {
        /// The RUN.
        instr: usize,
        /// Command names, matched on the basename (`pip` matches `/usr/bin/pip` and `pip3.12`).
        tools: &'static [&'static str],
        /// The subcommand after which the flag goes.
        sub: &'static str,
        /// The flag to insert.
        flag: &'static str,
    },
    /// Add a flag right after the keyword of a COPY/ADD (`--chown=1000:1000`).
    AddFlag {
        /// The COPY or ADD.
        instr: usize,
        /// The flag text.
        flag: String,
    },
    /// Add `flag` after a shell-form RUN's keyword and run `command &&` before its commands
    /// (`RUN --mount=type=bind,… cp … && <the RUN's commands>`).
    Prepend {
        /// The RUN.
        instr: usize,
        /// The flag (`--mount=…`).
        flag: String,
        /// Shell text to run first.
        command: String,
    },
    /// Remove an instruction (its comment lines stay).
    Delete {
        /// The instruction.
        instr: usize,
    },
    /// Join the RUNs `first..=last` (consecutive, shell form) into one with `&&`.
    Merge {
        /// First RUN.
        first: usize,
        /// Last RUN.
        last: usize,
    },
    /// Lines to add to the `.dockerignore` next to the Dockerfile.
    Ignore {
        /// Patterns.
        patterns: Vec<String>,
    },
}

/// Shell words that change state a later command of the same shell would inherit.
const STATEFUL: &[&str] = &[
    "cd", "pushd", "popd", "export", "unset", "umask", "set", "alias", "source", ".", "trap",
    "exec", "shopt", "ulimit", "readonly", "declare", "local",
];

/// Positions of unquoted shell characters in `s`; `f` decides on each (char, index).
fn unquoted(s: &str, mut f: impl FnMut(usize, char)) {
    let mut quote: Option<char> = None;
    let mut prev_backslash = false;
    for (i, c) in s.char_indices() {
        if prev_backslash {
            prev_backslash = false;
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => prev_backslash = true,
            Some(_) => {}
            None if c == '\\' => prev_backslash = true,
            None if c == '\'' || c == '"' => quote = Some(c),
            None => f(i, c),
        }
    }
}

/// The first word of every simple command in `s` (split at unquoted `;`, `&`, `|`, `(`, `)`, newlines).
fn command_words(s: &str) -> Vec<String> {
    let mut cuts = vec![0];
    unquoted(s, |i, c| {
        if matches!(c, ';' | '&' | '|' | '(' | ')' | '{' | '}' | '\n') {
            cuts.push(i);
            cuts.push(i + 1);
        }
    });
    cuts.push(s.len());
    cuts.chunks(2)
        .filter_map(|w| s.get(w[0]..w[1]))
        .filter_map(|seg| seg.split_whitespace().next().map(str::to_string))
        .collect()
}

/// True when the command leaves shell state (cwd, variables, options) behind for what follows it.
pub fn changes_shell_state(args: &str) -> bool {
    command_words(args)
        .iter()
        .any(|w| STATEFUL.contains(&w.as_str()) || w.ends_with("()"))
}

/// True when `&& more` can be added after the RUN's text: shell form, no heredoc, no trailing comment
/// (sh would read the addition as part of the comment), no trailing operator.
pub fn appendable(ins: &Instruction) -> bool {
    if ins.keyword != "RUN" || !ins.is_plain_shell() || ins.args_pos.is_none() {
        return false;
    }
    let mut comment = false;
    let mut prev = ' ';
    unquoted(&ins.args, |_, c| {
        if c == '#' && prev.is_whitespace() {
            comment = true;
        }
        prev = c;
    });
    let t = ins.args.trim_end();
    !comment && !t.ends_with('&') && !t.ends_with('|') && !t.ends_with('\\')
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

/// True when word `w` names `tool` (by basename; a version suffix such as `pip3.12` is allowed).
pub fn is_tool(w: &str, tool: &str) -> bool {
    let b = basename(w);
    b.strip_prefix(tool)
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Byte offsets just past each `<tool> <sub>` in `line` whose simple command does not already use
/// one of `have` (flags that make the insertion unnecessary).
pub fn tool_sub_ends(line: &str, tools: &[&str], sub: &str, have: &[&str]) -> Vec<usize> {
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        if c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')') {
            if let Some(s) = start.take() {
                words.push((s, &line[s..i]));
            }
            if !c.is_whitespace() {
                words.push((i, &line[i..i + 1]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    let mut out = Vec::new();
    for k in 1..words.len() {
        if words[k].1 == sub && tool_before(&words[..k], tools) {
            // The rest of this simple command: up to the next separator.
            let rest: Vec<&str> = words[k + 1..]
                .iter()
                .map(|w| w.1)
                .take_while(|w| !matches!(*w, ";" | "&" | "|" | "(" | ")"))
                .collect();
            if !rest.iter().any(|w| have.iter().any(|h| w.starts_with(h))) {
                out.push(words[k].0 + sub.len());
            }
        }
    }
    out
}

/// True when the words before a subcommand end with one of `tools` followed only by its global options
/// (`apk -U add`, `yum -y install`, `apt-get -o Dpkg::Options::=x install`), as the shell-command
/// model reads them ([`super::command::TOOLS`]).
fn tool_before(before: &[(usize, &str)], tools: &[&str]) -> bool {
    let mut j = before.len();
    while j > 0 {
        let w = before[j - 1].1;
        if tools.iter().any(|t| is_tool(w, t)) {
            return true;
        }
        let is_opt = w.starts_with('-') && w.len() > 1;
        // The value of an option that takes one (`-o X`, `--enablerepo crb`).
        let is_value = j >= 2
            && super::command::TOOLS
                .iter()
                .any(|t| t.value_options.contains(&before[j - 2].1));
        if !(is_opt || is_value) || matches!(w, ";" | "&" | "|" | "(" | ")") {
            return false;
        }
        j -= if is_value && !is_opt { 2 } else { 1 };
    }
    false
}

/// Applies `changes` and returns the new Dockerfile text and, when patterns were added, the new
/// `.dockerignore` text (`old_ignore` is its current text, if any). Changes that cannot be applied
/// mechanically are refused with a reason.
pub fn apply(
    df: &Dockerfile,
    changes: &[Change],
    old_ignore: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let esc = df.escape;
    // Per instruction: its (edited) physical lines; `None` once deleted.
    let mut text: BTreeMap<usize, Option<Vec<String>>> = BTreeMap::new();
    let lines_of = |i: usize| -> Vec<String> {
        let ins = &df.instructions[i];
        df.lines[ins.start_line - 1..ins.end_line].to_vec()
    };
    let mut merges: Vec<(usize, usize)> = Vec::new();
    let mut ignore: Vec<String> = Vec::new();
    for ch in changes {
        match ch {
            Change::Append { instr, command } => {
                let ins = &df.instructions[*instr];
                if !appendable(ins) {
                    return Err(format!(
                        "line {}: cannot append to this RUN",
                        ins.start_line
                    ));
                }
                let l = text.entry(*instr).or_insert_with(|| Some(lines_of(*instr)));
                let Some(l) = l.as_mut() else { continue };
                let last = l.len() - 1;
                let mut t = l[last].trim_end().trim_end_matches(';').to_string();
                if l.len() == 1 {
                    t.push_str(" && ");
                    t.push_str(command);
                    l[last] = t;
                } else {
                    t.push_str(&format!(" && {esc}"));
                    l[last] = t;
                    l.push(format!("    {command}"));
                }
            }
            Change::InsertFlag {
                instr,
                tools,
                sub,
                flag,
            } => {
                let l = text.entry(*instr).or_insert_with(|| Some(lines_of(*instr)));
                let Some(l) = l.as_mut() else { continue };
                let mut done = false;
                for line in l.iter_mut() {
                    for at in tool_sub_ends(line, tools, sub, &[flag]).into_iter().rev() {
                        line.insert_str(at, &format!(" {flag}"));
                        done = true;
                    }
                }
                if !done {
                    return Err(format!(
                        "line {}: no `{} {sub}` to add {flag} to",
                        df.instructions[*instr].start_line, tools[0]
                    ));
                }
            }
            Change::AddFlag { instr, flag } => {
                let l = text.entry(*instr).or_insert_with(|| Some(lines_of(*instr)));
                let Some(l) = l.as_mut() else { continue };
                let lead = l[0].len() - l[0].trim_start().len();
                let kw = df.instructions[*instr].keyword.len();
                l[0].insert_str(lead + kw, &format!(" {flag}"));
            }
            Change::Prepend {
                instr,
                flag,
                command,
            } => {
                let ins = &df.instructions[*instr];
                let Some((off, col)) = ins
                    .args_pos
                    .filter(|_| ins.keyword == "RUN" && ins.is_plain_shell())
                else {
                    return Err(format!(
                        "line {}: cannot run a command before this RUN's",
                        ins.start_line
                    ));
                };
                let l = text.entry(*instr).or_insert_with(|| Some(lines_of(*instr)));
                let Some(l) = l.as_mut() else { continue };
                if l.get(off).is_none_or(|line| line.get(..col).is_none()) {
                    return Err(format!(
                        "line {}: this RUN was already edited",
                        ins.start_line
                    ));
                }
                l[off].insert_str(col, &format!("{command} && "));
                let lead = l[0].len() - l[0].trim_start().len();
                l[0].insert_str(lead + ins.keyword.len(), &format!(" {flag}"));
            }
            Change::Delete { instr } => {
                text.insert(*instr, None);
            }
            Change::Merge { first, last } => merges.push((*first, *last)),
            Change::Ignore { patterns } => ignore.extend(patterns.iter().cloned()),
        }
    }
    // Merged blocks, keyed by their first instruction.
    let mut blocks: BTreeMap<usize, (usize, Vec<String>)> = BTreeMap::new();
    merges.sort_unstable();
    // Two suggestions may need the same merge: it is done once.
    merges.dedup();
    for &(first, last) in &merges {
        if blocks
            .range(..=last)
            .next_back()
            .is_some_and(|(_, (end, _))| *end >= first)
        {
            return Err(format!(
                "line {}: overlapping merges",
                df.instructions[first].start_line
            ));
        }
        let mut out: Vec<String> = Vec::new();
        for i in first..=last {
            let ins = &df.instructions[i];
            if ins.keyword != "RUN" || !appendable(ins) {
                return Err(format!(
                    "line {}: this RUN cannot be merged",
                    ins.start_line
                ));
            }
            let Some(mut l) = text.get(&i).cloned().unwrap_or_else(|| Some(lines_of(i))) else {
                return Err(format!(
                    "line {}: a RUN to merge is also deleted",
                    ins.start_line
                ));
            };
            let (off, col) = ins
                .args_pos
                .expect("appendable RUNs have a known argument position");
            let wrap = i < last && changes_shell_state(&ins.args);
            if i > first {
                // The keyword and flags go (the merged RUN keeps the first one's, which are equal).
                l.drain(..off);
                l[0] = format!("    {}", &l[0][col..]);
                if wrap {
                    l[0].insert_str(4, "( ");
                }
            } else if wrap {
                l[off].insert_str(col, "( ");
            }
            if i < last {
                let n = l.len() - 1;
                let mut t = l[n].trim_end().trim_end_matches(';').to_string();
                if wrap {
                    t.push_str(" )");
                }
                t.push_str(&format!(" && {esc}"));
                l[n] = t;
                // Comment lines up to the next RUN stay inside the continuation; blank lines go.
                let next = df.instructions[i + 1].start_line - 1;
                for between in &df.lines[ins.end_line..next] {
                    if between.trim_start().starts_with('#') {
                        l.push(between.clone());
                    }
                }
            }
            out.extend(l);
        }
        blocks.insert(first, (last, out));
    }
    // Rebuild the file.
    let mut out: Vec<String> = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while line <= df.lines.len() {
        let at_instr = df
            .instructions
            .get(i)
            .is_some_and(|ins| ins.start_line == line);
        if !at_instr {
            out.push(df.lines[line - 1].clone());
            line += 1;
            continue;
        }
        if let Some((last, block)) = blocks.get(&i) {
            out.extend(block.iter().cloned());
            line = df.instructions[*last].end_line + 1;
            i = last + 1;
            continue;
        }
        match text.get(&i) {
            Some(Some(l)) => out.extend(l.iter().cloned()),
            Some(None) => {}
            None => out.extend(lines_of(i)),
        }
        line = df.instructions[i].end_line + 1;
        i += 1;
    }
    let eol = if df.crlf { "\r\n" } else { "\n" };
    let mut new = out.join(eol);
    if df.trailing_newline {
        new.push_str(eol);
    }
    let ignore_text = (!ignore.is_empty()).then(|| {
        let mut t = old_ignore.unwrap_or("").to_string();
        if !t.is_empty() && !t.ends_with('\n') {
            t.push('\n');
        }
        t.push_str(
            "# added by dredge advise: files the build context sent that the image does not need\n",
        );
        for p in &ignore {
            if !t.lines().any(|l| l.trim() == p) {
                t.push_str(p);
                t.push('\n');
            }
        }
        t
    });
    Ok((new, ignore_text))
}

#[cfg(test)]
mod tests {
    #[test]
    fn global_options_before_the_subcommand() {
        let at = |l: &str, t: &[&str], sub: &str| tool_sub_ends(l, t, sub, &[]);
        assert_eq!(at("apk -U add curl", &["apk"], "add"), [10]);
        assert_eq!(at("yum -y install x", &["yum"], "install"), [14]);
        assert_eq!(
            at("dnf --enablerepo crb install x", &["dnf"], "install"),
            [28]
        );
        assert_eq!(at("echo -n add", &["apk"], "add"), [0usize; 0]);
    }

    use super::super::dockerfile::{parse, squash};
    use super::*;

    fn applied(src: &str, changes: &[Change]) -> String {
        let df = parse("Dockerfile", src).unwrap();
        apply(&df, changes, None).unwrap().0
    }

    #[test]
    fn merge_keeps_continuations_and_comments() {
        let src = "FROM a\n\
                   # fetch\n\
                   RUN --network=none wget x \\\n\
                   \x20   && tar xf x.tgz\n\
                   \n\
                   # clean up\n\
                   RUN rm -rf /x.tgz\n\
                   ENV A=1\n";
        let got = applied(src, &[Change::Merge { first: 1, last: 2 }]);
        assert_eq!(
            got,
            "FROM a\n\
             # fetch\n\
             RUN --network=none wget x \\\n\
             \x20   && tar xf x.tgz && \\\n\
             # clean up\n\
             \x20   rm -rf /x.tgz\n\
             ENV A=1\n"
        );
        // The result parses back to one RUN with both commands.
        let df = parse("D", &got).unwrap();
        assert_eq!(df.instructions.len(), 3);
        assert_eq!(
            super::super::dockerfile::squash(&df.instructions[1].args),
            "wget x && tar xf x.tgz && rm -rf /x.tgz"
        );
    }

    #[test]
    fn merge_handles_arguments_that_start_on_a_continuation_line() {
        let src = "FROM a\nRUN \\\n    make\nRUN \\\n    rm -rf /src \\\n    && echo ok\n";
        let got = applied(src, &[Change::Merge { first: 1, last: 2 }]);
        assert_eq!(
            got,
            "FROM a\nRUN \\\n    make && \\\n    rm -rf /src \\\n    && echo ok\n"
        );
        let src = "FROM a\nRUN \\\n  cd /x && make\nRUN rm -rf /src\n";
        assert_eq!(
            applied(src, &[Change::Merge { first: 1, last: 2 }]),
            "FROM a\nRUN \\\n  ( cd /x && make ) && \\\n    rm -rf /src\n"
        );
    }

    #[test]
    fn no_change_is_the_same_text() {
        for src in [
            "FROM a\r\nRUN a \\\r\n  b\r\n\r\n# c\r\nRUN <<EOF\r\nx\r\nEOF\r\n",
            "# escape=`\nFROM a\nRUN x `\n\n  # c\n  y\nCOPY . /\n\n\n",
            "FROM a\nRUN x",
        ] {
            assert_eq!(applied(src, &[]), src);
        }
        let crlf = applied(
            "FROM a\r\nRUN a\r\nRUN b\r\n",
            &[Change::Merge { first: 1, last: 2 }],
        );
        assert_eq!(crlf, "FROM a\r\nRUN a && \\\r\n    b\r\n");
    }

    #[test]
    fn merge_wraps_commands_that_change_shell_state() {
        let src = "FROM a\nRUN cd /src && make;\nRUN rm -rf build\n";
        let got = applied(src, &[Change::Merge { first: 1, last: 2 }]);
        assert_eq!(
            got,
            "FROM a\nRUN ( cd /src && make ) && \\\n    rm -rf build\n"
        );
    }

    #[test]
    fn escape_backtick_is_used_for_continuations() {
        let src = "# escape=`\nFROM a\nRUN a\nRUN b\n";
        assert_eq!(
            applied(src, &[Change::Merge { first: 1, last: 2 }]),
            "# escape=`\nFROM a\nRUN a && `\n    b\n"
        );
    }

    #[test]
    fn flags_appends_deletes_and_ignore() {
        let src = "FROM a\n\
                   RUN apk update && apk add curl && /usr/bin/pip3 install --user x; pip install --no-cache-dir y\n\
                   COPY . /app\n\
                   RUN chown -R 1:1 /app\n\
                   RUN touch /x \\\n  /y\n";
        let df = parse("D", src).unwrap();
        let (got, ign) = apply(
            &df,
            &[
                Change::InsertFlag {
                    instr: 1,
                    tools: &["apk"],
                    sub: "add",
                    flag: "--no-cache",
                },
                Change::InsertFlag {
                    instr: 1,
                    tools: &["pip"],
                    sub: "install",
                    flag: "--no-cache-dir",
                },
                Change::AddFlag {
                    instr: 2,
                    flag: "--chown=1:1".into(),
                },
                Change::Delete { instr: 3 },
                Change::Append {
                    instr: 4,
                    command: "rm -rf /tmp/*".into(),
                },
                Change::Ignore {
                    patterns: vec!["**/.git".into()],
                },
            ],
            Some("node_modules"),
        )
        .unwrap();
        assert_eq!(
            got,
            "FROM a\n\
             RUN apk update && apk add --no-cache curl && /usr/bin/pip3 install --no-cache-dir --user x; pip install --no-cache-dir y\n\
             COPY --chown=1:1 . /app\n\
             RUN touch /x \\\n  /y && \\\n    rm -rf /tmp/*\n"
        );
        let ign = ign.unwrap();
        assert!(ign.starts_with("node_modules\n# added by dredge"));
        assert!(ign.ends_with("**/.git\n"));
    }

    #[test]
    fn refuses_what_it_cannot_do_safely() {
        let df = parse(
            "D",
            "FROM a\nRUN echo a # note\nRUN [\"b\"]\nRUN <<EOF\nx\nEOF\nRUN c\n",
        )
        .unwrap();
        for (first, last) in [(1, 2), (2, 3), (3, 4)] {
            assert!(apply(&df, &[Change::Merge { first, last }], None).is_err());
        }
        assert!(
            apply(
                &df,
                &[Change::Append {
                    instr: 1,
                    command: "x".into()
                }],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn tools_match_by_basename() {
        assert!(is_tool("/usr/bin/pip", "pip"));
        assert!(is_tool("pip3.12", "pip"));
        assert!(!is_tool("pipx", "pip"));
        assert_eq!(
            tool_sub_ends("python3 -m pip install x", &["pip"], "install", &[]),
            vec![22]
        );
        assert!(
            tool_sub_ends(
                "pip install --no-cache x",
                &["pip"],
                "install",
                &["--no-cache"]
            )
            .is_empty()
        );
        assert!(changes_shell_state("set -e; make"));
        assert!(changes_shell_state("x && cd /a"));
        assert!(!changes_shell_state("echo cd; make 'cd x'"));
    }

    /// Dockerfiles assembled from awkward fragments: parsing never panics, no change gives the same
    /// text, and every merge the editor accepts parses back to one RUN fewer with the same commands.
    #[test]
    fn property_merges_reparse() {
        const FRAGS: &[&str] = &[
            "RUN a",
            "RUN set -e; cd /x; make",
            "RUN b \\\n  && c",
            "RUN \\\n    d",
            "RUN --mount=type=cache,target=/c e",
            "RUN [\"f\", \"g\"]",
            "RUN h # trailing comment",
            "RUN <<EOF\ni\nEOF",
            "RUN j;",
            "RUN k |",
            "# comment",
            "",
            "ENV A=1",
            "COPY . /app",
            "RUN l \\\n# inner\n\n  m",
            "RUN echo 'x # y' \"$(date)\"",
            "RUN",
            "FROM b AS c",
            "RUN n \\",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut merged_ok, mut refused) = (0, 0);
        for _ in 0..3000 {
            let mut src = String::from("FROM a\n");
            for _ in 0..next(8) {
                src.push_str(FRAGS[next(FRAGS.len())]);
                src.push('\n');
            }
            let Ok(df) = parse("D", &src) else { continue };
            assert_eq!(apply(&df, &[], None).unwrap().0, src);
            let _ = super::super::lint::lint(&df);
            for i in 0..df.instructions.len().saturating_sub(1) {
                let (a, b) = (&df.instructions[i], &df.instructions[i + 1]);
                if a.keyword != "RUN" || b.keyword != "RUN" {
                    continue;
                }
                let Ok((new, _)) = apply(
                    &df,
                    &[Change::Merge {
                        first: i,
                        last: i + 1,
                    }],
                    None,
                ) else {
                    refused += 1;
                    continue;
                };
                merged_ok += 1;
                let d2 = parse("D", &new).unwrap_or_else(|e| panic!("{e}\n{src}\n--\n{new}"));
                assert_eq!(
                    d2.instructions.len(),
                    df.instructions.len() - 1,
                    "{src}\n--\n{new}"
                );
                let merged = squash(&d2.instructions[i].args);
                for part in [&a.args, &b.args] {
                    let words = squash(part.trim_end().trim_end_matches(';'));
                    assert!(
                        merged.contains(&words),
                        "{merged:?} lacks {words:?}\n{src}\n--\n{new}"
                    );
                }
            }
        }
        // Both paths are exercised.
        assert!(
            merged_ok > 200 && refused > 200,
            "{merged_ok} merged, {refused} refused"
        );
    }
}
