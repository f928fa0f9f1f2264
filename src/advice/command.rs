//! The shell-command model that `lint` and `advise` share: a RUN's script split into simple commands,
//! each package manager recognised through one data table (global options, with or without values,
//! subcommands and their aliases), and what each command writes and deletes.
//!
//! Pure: text in, facts out. Paths are absolute when they can be resolved (`~` is the home directory
//! given, relative paths are resolved against the working directory given), else left out.

use crate::analysis::caches::CacheKind;

/// A package manager or build tool the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `apt-get`.
    AptGet,
    /// `apt`.
    Apt,
    /// `apk`.
    Apk,
    /// `pip`, `pip3`, `python -m pip`.
    Pip,
    /// `npm`.
    Npm,
    /// `yarn`.
    Yarn,
    /// `pnpm`.
    Pnpm,
    /// `yum`.
    Yum,
    /// `dnf`.
    Dnf,
    /// `microdnf`.
    Microdnf,
    /// `zypper`.
    Zypper,
    /// `gem`.
    Gem,
    /// `go`.
    Go,
    /// `cargo`.
    Cargo,
}

/// One row of the tool table.
#[derive(Debug)]
pub struct ToolSpec {
    /// The tool.
    pub tool: Tool,
    /// Command names (basenames; a version suffix such as `pip3.12` is allowed).
    pub names: &'static [&'static str],
    /// Options that take a value in the next word when written without `=`.
    pub value_options: &'static [&'static str],
    /// Subcommand aliases: (as written, canonical).
    pub aliases: &'static [(&'static str, &'static str)],
    /// The subcommand when none is given (`yarn` alone installs).
    pub default_sub: Option<&'static str>,
}

/// The tools, their options and subcommand aliases.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        tool: Tool::AptGet,
        names: &["apt-get"],
        value_options: &[
            "-o",
            "--option",
            "-c",
            "--config-file",
            "-t",
            "--target-release",
        ],
        aliases: &[("dist-upgrade", "upgrade"), ("full-upgrade", "upgrade")],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Apt,
        names: &["apt"],
        value_options: &[
            "-o",
            "--option",
            "-c",
            "--config-file",
            "-t",
            "--target-release",
        ],
        aliases: &[("full-upgrade", "upgrade"), ("dist-upgrade", "upgrade")],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Apk,
        names: &["apk"],
        value_options: &[
            "-X",
            "--repository",
            "-p",
            "--root",
            "--arch",
            "--keys-dir",
            "--repositories-file",
            "--cache-dir",
            "-t",
            "--virtual",
            "--timeout",
        ],
        aliases: &[],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Pip,
        names: &["pip"],
        value_options: &[
            "-r",
            "--requirement",
            "-c",
            "--constraint",
            "-i",
            "--index-url",
            "--extra-index-url",
            "-f",
            "--find-links",
            "--target",
            "-t",
            "--prefix",
            "--root",
            "--cache-dir",
            "--trusted-host",
            "--timeout",
            "--retries",
            "--proxy",
            "-e",
            "--editable",
            "--platform",
            "--python-version",
            "--only-binary",
            "--no-binary",
            "--progress-bar",
            "--log",
        ],
        aliases: &[],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Npm,
        names: &["npm"],
        value_options: &[
            "--prefix",
            "-C",
            "--registry",
            "--cache",
            "-w",
            "--workspace",
        ],
        aliases: &[
            ("i", "install"),
            ("in", "install"),
            ("ins", "install"),
            ("inst", "install"),
            ("insta", "install"),
            ("instal", "install"),
            ("isnt", "install"),
            ("isntall", "install"),
            ("add", "install"),
            ("clean-install", "ci"),
            ("install-clean", "ci"),
            ("ic", "ci"),
            ("isntall-clean", "ci"),
        ],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Yarn,
        names: &["yarn"],
        value_options: &[
            "--cwd",
            "--cache-folder",
            "--modules-folder",
            "--network-timeout",
        ],
        aliases: &[("add", "install")],
        default_sub: Some("install"),
    },
    ToolSpec {
        tool: Tool::Pnpm,
        names: &["pnpm"],
        value_options: &["-C", "--dir", "--store-dir", "-F", "--filter"],
        aliases: &[("i", "install"), ("add", "install")],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Yum,
        names: &["yum"],
        value_options: &[
            "-c",
            "--config",
            "--enablerepo",
            "--disablerepo",
            "--setopt",
            "--installroot",
            "--releasever",
            "-d",
            "-e",
            "--exclude",
            "-x",
        ],
        aliases: &[
            ("groupinstall", "install"),
            ("localinstall", "install"),
            ("reinstall", "install"),
            ("update", "upgrade"),
        ],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Dnf,
        names: &["dnf", "dnf5"],
        value_options: &[
            "-c",
            "--config",
            "--enablerepo",
            "--disablerepo",
            "--setopt",
            "--installroot",
            "--releasever",
            "--repo",
            "--repoid",
            "-d",
            "-e",
            "--exclude",
            "-x",
            "--forcearch",
        ],
        aliases: &[
            ("in", "install"),
            ("groupinstall", "install"),
            ("localinstall", "install"),
            ("reinstall", "install"),
            ("update", "upgrade"),
            ("up", "upgrade"),
        ],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Microdnf,
        names: &["microdnf"],
        value_options: &[
            "--enablerepo",
            "--disablerepo",
            "--setopt",
            "--installroot",
            "--releasever",
            "--config",
        ],
        aliases: &[("reinstall", "install"), ("update", "upgrade")],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Zypper,
        names: &["zypper"],
        value_options: &["-R", "--root", "-c", "--config", "-D", "--reposd-dir", "-C"],
        aliases: &[
            ("in", "install"),
            ("si", "install"),
            ("source-install", "install"),
            ("up", "upgrade"),
            ("update", "upgrade"),
            ("dup", "upgrade"),
            ("dist-upgrade", "upgrade"),
            ("ref", "refresh"),
            ("cc", "clean"),
            ("rm", "remove"),
        ],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Gem,
        names: &["gem"],
        value_options: &["-v", "--version", "-i", "--install-dir", "-s", "--source"],
        aliases: &[("i", "install")],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Go,
        names: &["go"],
        value_options: &["-C"],
        aliases: &[],
        default_sub: None,
    },
    ToolSpec {
        tool: Tool::Cargo,
        names: &["cargo"],
        value_options: &["-Z", "--config", "-C"],
        aliases: &[("b", "build")],
        default_sub: None,
    },
];

/// Where a cache a tool writes lives, relative to `/` unless it starts with `~/` (the home directory).
#[derive(Debug)]
pub struct CacheWrite {
    /// The tool.
    pub tool: Tool,
    /// Canonical subcommands that write it.
    pub subs: &'static [&'static str],
    /// The cache.
    pub kind: CacheKind,
    /// Its directory.
    pub dir: &'static str,
    /// Options that stop the write (`--no-cache`; pip takes prefixes, so `--no-cache` = `--no-cache-dir`).
    pub avoided_by: &'static [&'static str],
    /// Canonical subcommands (with a required argument, if any) that clean it.
    pub cleaned_by: &'static [(&'static str, Option<&'static str>)],
}

/// What each tool writes to its caches, and what cleans them.
pub const CACHE_WRITES: &[CacheWrite] = &[
    CacheWrite {
        tool: Tool::AptGet,
        subs: &["update"],
        kind: CacheKind::AptLists,
        dir: "/var/lib/apt/lists",
        avoided_by: &[],
        cleaned_by: &[],
    },
    CacheWrite {
        tool: Tool::Apt,
        subs: &["update"],
        kind: CacheKind::AptLists,
        dir: "/var/lib/apt/lists",
        avoided_by: &[],
        cleaned_by: &[],
    },
    CacheWrite {
        tool: Tool::AptGet,
        subs: &["install", "upgrade"],
        kind: CacheKind::AptArchives,
        dir: "/var/cache/apt",
        avoided_by: &[],
        cleaned_by: &[("clean", None), ("autoclean", None)],
    },
    CacheWrite {
        tool: Tool::Apt,
        subs: &["install", "upgrade"],
        kind: CacheKind::AptArchives,
        dir: "/var/cache/apt",
        avoided_by: &[],
        cleaned_by: &[("clean", None), ("autoclean", None)],
    },
    // `apk cache clean` deletes cached packages, not the index that `apk update` wrote.
    CacheWrite {
        tool: Tool::Apk,
        subs: &["add", "update", "upgrade", "fetch"],
        kind: CacheKind::Apk,
        dir: "/var/cache/apk",
        avoided_by: &["--no-cache", "--no-network"],
        cleaned_by: &[],
    },
    CacheWrite {
        tool: Tool::Pip,
        subs: &["install", "wheel", "download"],
        kind: CacheKind::Pip,
        dir: "~/.cache/pip",
        avoided_by: &["--no-cache"],
        cleaned_by: &[("cache", Some("purge"))],
    },
    CacheWrite {
        tool: Tool::Npm,
        subs: &["install", "ci"],
        kind: CacheKind::Npm,
        dir: "~/.npm",
        avoided_by: &[],
        cleaned_by: &[("cache", Some("clean"))],
    },
    CacheWrite {
        tool: Tool::Yarn,
        subs: &["install"],
        kind: CacheKind::Yarn,
        dir: "/usr/local/share/.cache/yarn",
        avoided_by: &[],
        cleaned_by: &[("cache", Some("clean"))],
    },
    CacheWrite {
        tool: Tool::Pnpm,
        subs: &["install"],
        kind: CacheKind::Pnpm,
        dir: "~/.local/share/pnpm/store",
        avoided_by: &[],
        cleaned_by: &[],
    },
    CacheWrite {
        tool: Tool::Yum,
        subs: &["install", "upgrade", "makecache"],
        kind: CacheKind::Yum,
        dir: "/var/cache/yum",
        avoided_by: &[],
        cleaned_by: &[("clean", Some("all"))],
    },
    CacheWrite {
        tool: Tool::Dnf,
        subs: &["install", "upgrade", "makecache"],
        kind: CacheKind::Dnf,
        dir: "/var/cache/dnf",
        avoided_by: &[],
        cleaned_by: &[("clean", Some("all"))],
    },
    CacheWrite {
        tool: Tool::Microdnf,
        subs: &["install", "upgrade", "makecache"],
        kind: CacheKind::Dnf,
        dir: "/var/cache/yum",
        avoided_by: &[],
        cleaned_by: &[("clean", Some("all"))],
    },
    CacheWrite {
        tool: Tool::Zypper,
        subs: &["install", "upgrade", "refresh"],
        kind: CacheKind::Zypper,
        dir: "/var/cache/zypp",
        avoided_by: &[],
        cleaned_by: &[("clean", None)],
    },
    CacheWrite {
        tool: Tool::Gem,
        subs: &["install"],
        kind: CacheKind::Gem,
        dir: "/usr/local/bundle/cache",
        avoided_by: &[],
        cleaned_by: &[],
    },
    CacheWrite {
        tool: Tool::Go,
        subs: &["build", "install", "test", "get", "mod"],
        kind: CacheKind::GoBuild,
        dir: "~/.cache/go-build",
        avoided_by: &[],
        cleaned_by: &[("clean", Some("-cache"))],
    },
    CacheWrite {
        tool: Tool::Cargo,
        subs: &["build", "install", "fetch"],
        kind: CacheKind::Cargo,
        dir: "/usr/local/cargo/registry",
        avoided_by: &[],
        cleaned_by: &[],
    },
];

/// A simple command: its words (quotes removed), the files its redirections write, and the variables
/// assigned before it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// The words, the command name first (assignments and wrappers such as `sudo` removed).
    pub words: Vec<String>,
    /// Files written by `>`/`>>` redirections.
    pub redirects: Vec<String>,
    /// `NAME=value` assignments before the command (or by `export`).
    pub env: Vec<(String, String)>,
}

impl Command {
    /// The command's name without its directory (`/bin/rm` → `rm`).
    pub fn name(&self) -> &str {
        self.words
            .first()
            .map_or("", |w| w.rsplit('/').next().unwrap_or(w))
    }
}

/// Splits a shell script into simple commands, at unquoted `&&`, `||`, `;`, `|`, `&`, newlines and
/// grouping characters. Quotes are removed from words; `$(…)` and backquotes stay inside their word.
pub fn split(script: &str) -> Vec<Command> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let mut depth = 0usize; // $( … ) nesting
    let flush_word = |cur: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(cur));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        if depth > 0 {
            cur.push(c);
            if c == '(' {
                depth += 1;
            } else if c == ')' {
                depth -= 1;
            }
            continue;
        }
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && n != '\n'
                {
                    cur.push(n);
                    in_word = true;
                }
            }
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    cur.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(m) = chars.next() {
                                if !matches!(m, '"' | '\\' | '$' | '`') {
                                    cur.push('\\');
                                }
                                cur.push(m);
                            }
                        }
                        _ => cur.push(n),
                    }
                }
            }
            '`' => {
                in_word = true;
                cur.push(c);
                for n in chars.by_ref() {
                    cur.push(n);
                    if n == '`' {
                        break;
                    }
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                in_word = true;
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                depth = 1;
            }
            '#' if !in_word => {
                // A comment to the end of the line.
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                flush_word(&mut cur, &mut in_word, &mut words);
                finish(&mut words, &mut out);
            }
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                // `>&2`, `2>&1`: part of a redirection, not a separator.
                if c == '&' && (cur.ends_with('>') || cur.ends_with('<')) {
                    cur.push(c);
                    in_word = true;
                    continue;
                }
                if c == '&' && chars.peek() == Some(&'>') {
                    flush_word(&mut cur, &mut in_word, &mut words);
                    cur.push(c);
                    in_word = true;
                    continue;
                }
                flush_word(&mut cur, &mut in_word, &mut words);
                finish(&mut words, &mut out);
            }
            c if c.is_whitespace() => flush_word(&mut cur, &mut in_word, &mut words),
            _ => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    flush_word(&mut cur, &mut in_word, &mut words);
    finish(&mut words, &mut out);
    out
}

/// Shell keywords and wrappers that come before the real command.
const PREFIX_WORDS: &[&str] = &[
    "then", "do", "else", "elif", "if", "while", "until", "!", "{", "}", "time", "sudo", "exec",
    "nohup", "command", "builtin",
];

/// Turns collected words into a command: redirections and leading assignments taken out.
fn finish(words: &mut Vec<String>, out: &mut Vec<Command>) {
    if words.is_empty() {
        return;
    }
    let all = std::mem::take(words);
    let mut cmd = Command::default();
    let mut it = all.into_iter().peekable();
    while let Some(w) = it.next() {
        // Redirections: `>f`, `> f`, `>>f`, `2>f`, `&>f`; `<f` and `>&2` read or duplicate.
        let t = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
        if let Some(rest) = t.strip_prefix(">>").or_else(|| t.strip_prefix('>')) {
            if rest.starts_with('&') {
                continue;
            }
            let target = if rest.is_empty() {
                it.next().unwrap_or_default()
            } else {
                rest.to_string()
            };
            cmd.redirects.push(target);
            continue;
        }
        if let Some(rest) = t.strip_prefix('<') {
            if rest.is_empty() {
                it.next();
            }
            continue;
        }
        if cmd.words.is_empty() {
            if let Some((k, v)) = assignment(&w) {
                cmd.env.push((k, v));
                continue;
            }
            if PREFIX_WORDS.contains(&w.as_str()) {
                // `sudo -u x cmd`: skip sudo's options too.
                if w == "sudo" {
                    while it.peek().is_some_and(|n| n.starts_with('-')) {
                        let o = it.next().unwrap_or_default();
                        if matches!(o.as_str(), "-u" | "-g" | "-E" | "--user") && o != "-E" {
                            it.next();
                        }
                    }
                }
                continue;
            }
            if (w == "su-exec" || w == "gosu") && it.peek().is_some() {
                it.next();
                continue;
            }
            if w == "env" {
                while let Some(n) = it.peek() {
                    if let Some((k, v)) = assignment(n) {
                        cmd.env.push((k, v));
                        it.next();
                    } else if n.starts_with('-') {
                        it.next();
                    } else {
                        break;
                    }
                }
                continue;
            }
        }
        cmd.words.push(w);
    }
    if cmd.words.first().is_some_and(|w| w == "export") {
        let env: Vec<(String, String)> = cmd.words[1..]
            .iter()
            .filter_map(|w| assignment(w))
            .collect();
        cmd.env.extend(env);
    }
    if !cmd.words.is_empty() || !cmd.env.is_empty() || !cmd.redirects.is_empty() {
        out.push(cmd);
    }
}

/// `NAME=value` as (name, value).
fn assignment(w: &str) -> Option<(String, String)> {
    let (k, v) = w.split_once('=')?;
    let ok = !k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit());
    ok.then(|| (k.to_string(), v.to_string()))
}

/// True when word `w` names `tool` (by basename; a version suffix such as `pip3.12` is allowed).
fn names_tool(w: &str, name: &str) -> bool {
    let b = w.rsplit('/').next().unwrap_or(w);
    b.strip_prefix(name)
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// A package-manager command, read through [`TOOLS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The tool.
    pub tool: Tool,
    /// The canonical subcommand (`install` for zypper's `in`), empty when there is none.
    pub sub: String,
    /// Every option, before and after the subcommand, as written (`--no-cache`, `-y`, `--setopt=x`).
    pub options: Vec<String>,
    /// The operands after the subcommand (package names, paths).
    pub operands: Vec<String>,
    /// Values of options that take one: (option, value).
    pub values: Vec<(String, String)>,
}

impl Invocation {
    /// True when one of `names` is among the options (`--name`, `--name=value`; a short option may
    /// be bundled: `-Uy` has `-U`). A long name also matches a longer option it is a prefix of only
    /// when the table says so (pip), so the caller passes the prefixes it accepts.
    pub fn has(&self, names: &[&str]) -> bool {
        self.options.iter().any(|o| {
            names.iter().any(|n| {
                if n.starts_with("--") {
                    o == n
                        || o.starts_with(&format!("{n}="))
                        || (self.tool == Tool::Pip && o.starts_with(n))
                } else {
                    o == n
                        || (!o.starts_with("--")
                            && n.len() == 2
                            && o.len() > 2
                            && o[1..].contains(&n[1..]))
                }
            })
        })
    }

    /// The value of option `name` (`--virtual x`, `--virtual=x`, `-t x`).
    pub fn value(&self, names: &[&str]) -> Option<&str> {
        self.values
            .iter()
            .find(|(o, _)| names.contains(&o.as_str()))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a simple command as a package-manager invocation.
pub fn invocation(cmd: &Command) -> Option<Invocation> {
    let w = &cmd.words;
    let first = w.first()?;
    // `python -m pip …`, `python3.11 -m pip …`.
    let (spec, rest) = if (names_tool(first, "python") || names_tool(first, "python3"))
        && w.get(1).is_some_and(|x| x == "-m")
        && w.get(2).is_some_and(|x| x == "pip")
    {
        (TOOLS.iter().find(|t| t.tool == Tool::Pip)?, &w[3..])
    } else {
        let spec = TOOLS
            .iter()
            .find(|t| t.names.iter().any(|n| names_tool(first, n)))?;
        (spec, &w[1..])
    };
    let mut inv = Invocation {
        tool: spec.tool,
        sub: String::new(),
        options: Vec::new(),
        operands: Vec::new(),
        values: Vec::new(),
    };
    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        if word.starts_with('-') && word.len() > 1 {
            let name = word.split_once('=').map_or(word.as_str(), |p| p.0);
            if let Some((n, v)) = word.split_once('=') {
                inv.values.push((n.to_string(), v.to_string()));
            } else if spec.value_options.contains(&name) {
                if let Some(v) = rest.get(i + 1) {
                    inv.values.push((name.to_string(), v.clone()));
                }
                inv.options.push(word.clone());
                i += 2;
                continue;
            }
            inv.options.push(word.clone());
        } else if inv.sub.is_empty() {
            inv.sub = spec
                .aliases
                .iter()
                .find(|(a, _)| a == word)
                .map_or(word.clone(), |(_, c)| (*c).to_string());
        } else {
            inv.operands.push(word.clone());
        }
        i += 1;
    }
    if inv.sub.is_empty()
        && let Some(d) = spec.default_sub
    {
        inv.sub = d.to_string();
    }
    // `yarn global add x`: the subcommand is the second word.
    if spec.tool == Tool::Yarn && inv.sub == "global" && !inv.operands.is_empty() {
        let s = inv.operands.remove(0);
        inv.sub = if s == "add" { "install".into() } else { s };
    }
    Some(inv)
}

/// How much an instruction wrote at a path, where it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// A package manager's cache.
    Cache(CacheKind),
    /// Files of unknown size (a download, a clone, a build tree, copied files).
    Files,
    /// A symlink, an empty directory or a line of text: deleting it later saves nothing worth a change.
    Tiny,
    /// An installed package (`pkg:NAME`), whose files a later purge removes.
    Package,
}

/// A path a command writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Absolute path (`pkg:NAME` for a package).
    pub path: String,
    /// What is there.
    pub amount: Amount,
    /// Index of the command in the script.
    pub cmd: usize,
}

/// A path a command deletes (a glob stays a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Absolute path or glob (`pkg:NAME` for a package).
    pub path: String,
    /// Index of the command in the script.
    pub cmd: usize,
}

/// What one RUN does to the filesystem, as far as the text tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Paths written, in order.
    pub writes: Vec<Write>,
    /// Paths deleted, in order.
    pub deletes: Vec<Delete>,
    /// Caches cleaned by a tool's own command (`apt-get clean`), with the command's index.
    pub cleaned: Vec<(CacheKind, usize)>,
    /// Variables the script sets (for PIP_NO_CACHE_DIR and the like).
    pub env: Vec<(String, String)>,
}

/// Where a RUN starts: its working directory, the home directory and the variables in force.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// WORKDIR, if known.
    pub cwd: Option<String>,
    /// The home directory (`/root` unless USER changed it), if known.
    pub home: Option<String>,
    /// ENV and ARG values in force.
    pub env: Vec<(String, String)>,
}

/// Resolves `word` to an absolute, normalised path: variables from `env`, `~` from `home`, relative
/// paths against `cwd`. `None` when something cannot be known.
pub fn resolve(
    word: &str,
    cwd: Option<&str>,
    home: Option<&str>,
    env: &[(String, String)],
) -> Option<String> {
    let mut s = expand(word, env)?;
    if s == "~" || s.starts_with("~/") {
        s = format!("{}{}", home?, &s[1..]);
    }
    if s.is_empty() || s.starts_with('-') || s.contains('`') {
        return None;
    }
    if !s.starts_with('/') {
        let base = cwd?;
        s = format!("{}/{}", base.trim_end_matches('/'), s);
    }
    Some(normalise(&s))
}

/// `$X`, `${X}`, `${X:-d}` replaced from `env`; `None` when a variable is unknown or the word runs a
/// command.
pub fn expand(word: &str, env: &[(String, String)]) -> Option<String> {
    if word.contains("$(") {
        return None;
    }
    let mut out = String::new();
    let mut rest = word;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let (name, default, used) = if let Some(b) = after.strip_prefix('{') {
            let end = b.find('}')?;
            let inner = &b[..end];
            let (n, d) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            (n, d, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        if name.is_empty() {
            return None;
        }
        let v = env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
            .or(default)?;
        if v.contains('$') {
            return None;
        }
        out.push_str(v);
        rest = &after[used..];
    }
    out.push_str(rest);
    Some(out)
}

/// Removes `.`, `..`, doubled and trailing slashes (keeps a trailing `/*`).
pub fn normalise(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Directories too broad to say that deleting something below them removes what was written there.
const BROAD: &[&str] = &[
    "/",
    "/usr",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/bin",
    "/usr/lib",
    "/usr/share",
    "/usr/src",
    "/opt",
    "/tmp",
    "/var",
    "/var/tmp",
    "/var/lib",
    "/var/cache",
    "/etc",
    "/root",
    "/home",
    "/bin",
    "/lib",
    "/srv",
    "/sbin",
    "/usr/sbin",
    "/var/www",
    "/var/log",
];

/// True for a directory too broad to match deletions below it.
pub fn broad(p: &str) -> bool {
    BROAD.contains(&p) || p.starts_with("/home/") && p.matches('/').count() == 2
}

/// True when deleting `del` (a path or glob) removes all or part of what was written at `written`:
/// `written` lies at or below what `del` names, or `del` lies below a `written` directory that is not
/// too broad to tell.
pub fn overlaps(del: &str, written: &str) -> bool {
    if let Some(p) = written.strip_prefix("pkg:") {
        return del.strip_prefix("pkg:") == Some(p);
    }
    if del.starts_with("pkg:") {
        return false;
    }
    covers(del, written) || (below(glob_prefix(del), written) && !broad(written))
}

/// True when deleting `del` removes everything at `written` (at or below it).
pub fn covers(del: &str, written: &str) -> bool {
    if del.starts_with("pkg:") || written.starts_with("pkg:") {
        return del == written;
    }
    let d = del.strip_suffix("/*").unwrap_or(del);
    let d = d.strip_suffix("/.[!.]*").unwrap_or(d);
    if d.contains(['*', '?', '[']) {
        // `/tmp/*.tgz` covers `/tmp/x.tgz`: a one-level glob match.
        return glob_match(del, written);
    }
    let d = if d.is_empty() { "/" } else { d };
    written == d || below(written, d)
}

/// True when `path` lies strictly below directory `dir` (`/a/b` below `/a`; everything below `/`).
fn below(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/') && (rest.len() > 1 || !dir.is_empty()))
}

/// The part of a glob before its first wildcard.
fn glob_prefix(p: &str) -> &str {
    p.find(['*', '?', '[']).map_or(p, |i| &p[..i])
}

/// Matches `*` and `?` in `pat` against `s`, `*` not crossing `/`; a match of a directory also covers
/// what is below it. Dynamic programming over (pattern, text) prefixes: linear in each, never
/// exponential; inputs too long to match in a bounded time do not match.
fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t) = (pat.as_bytes(), s.as_bytes());
    if p.len().saturating_mul(t.len() + 1) > 4_000_000 {
        return false;
    }
    // dp[j]: the pattern read so far matches t[..j].
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    let mut next = vec![false; t.len() + 1];
    for &c in p {
        next[0] = c == b'*' && dp[0];
        for j in 1..=t.len() {
            let ch = t[j - 1];
            next[j] = match c {
                b'*' => dp[j] || (next[j - 1] && ch != b'/'),
                b'?' => dp[j - 1] && ch != b'/',
                _ => dp[j - 1] && ch == c,
            };
        }
        std::mem::swap(&mut dp, &mut next);
    }
    dp[t.len()] || (0..t.len()).any(|j| dp[j] && t[j] == b'/')
}

/// True when a variable is set to a truthy value (`1`, `true`, `yes`, `on`, anything but false-like).
pub fn truthy(env: &[(String, String)], name: &str) -> bool {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .is_some_and(|(_, v)| {
            !matches!(
                v.trim_matches('"').to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            )
        })
}

/// The caches `inv` writes that its options do not avoid.
pub fn cache_writes(inv: &Invocation, env: &[(String, String)]) -> Vec<&'static CacheWrite> {
    CACHE_WRITES
        .iter()
        .filter(|c| c.tool == inv.tool && c.subs.contains(&inv.sub.as_str()))
        .filter(|c| !inv.has(c.avoided_by))
        .filter(|c| !(c.tool == Tool::Pip && truthy(env, "PIP_NO_CACHE_DIR")))
        .filter(|c| {
            !(c.tool == Tool::Go
                && inv.sub == "mod"
                && inv.operands.first().is_none_or(|o| o != "download"))
        })
        .collect()
}

/// The caches `inv` cleans (`apt-get clean`, `yum clean all`, `npm cache clean`).
pub fn cache_cleans(inv: &Invocation) -> Vec<CacheKind> {
    CACHE_WRITES
        .iter()
        .filter(|c| c.tool == inv.tool)
        .filter(|c| {
            c.cleaned_by.iter().any(|(sub, arg)| {
                inv.sub == *sub
                    && arg.is_none_or(|a| {
                        inv.operands.iter().any(|o| o == a) || inv.options.iter().any(|o| o == a)
                    })
            })
        })
        .map(|c| c.kind)
        .collect()
}

fn basename(w: &str) -> &str {
    w.trim_end_matches('/').rsplit('/').next().unwrap_or(w)
}

/// What a script does to the filesystem, from its text.
pub fn effects(script: &str, start: &Start) -> Effects {
    let cmds = split(script);
    let mut fx = Effects::default();
    let mut cwd = start.cwd.clone();
    let mut env = start.env.clone();
    let home = start.home.clone();
    for (i, c) in cmds.iter().enumerate() {
        env.extend(c.env.iter().cloned());
        fx.env.extend(c.env.iter().cloned());
        let res = |w: &str, cwd: &Option<String>| resolve(w, cwd.as_deref(), home.as_deref(), &env);
        let tiny_cmd = matches!(c.name(), "echo" | "printf" | "true" | "");
        for r in &c.redirects {
            if r.starts_with("/dev/") {
                continue;
            }
            if let Some(p) = res(r, &cwd) {
                let amount = if tiny_cmd {
                    Amount::Tiny
                } else {
                    Amount::Files
                };
                fx.writes.push(Write {
                    path: p,
                    amount,
                    cmd: i,
                });
            }
        }
        let Some(first) = c.words.first() else {
            continue;
        };
        let args: Vec<&str> = c.words[1..].iter().map(String::as_str).collect();
        let operands: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| !a.starts_with('-'))
            .collect();
        let write = |fx: &mut Effects, w: &str, amount: Amount, cwd: &Option<String>| {
            if let Some(p) = res(w, cwd) {
                fx.writes.push(Write {
                    path: p,
                    amount,
                    cmd: i,
                });
            }
        };
        if let Some(inv) = invocation(c) {
            for cw in cache_writes(&inv, &env) {
                if let Some(p) = res(cw.dir, &cwd) {
                    fx.writes.push(Write {
                        path: p,
                        amount: Amount::Cache(cw.kind),
                        cmd: i,
                    });
                }
            }
            for k in cache_cleans(&inv) {
                fx.cleaned.push((k, i));
            }
            let installs = matches!(
                (inv.tool, inv.sub.as_str()),
                (
                    Tool::AptGet
                        | Tool::Apt
                        | Tool::Yum
                        | Tool::Dnf
                        | Tool::Microdnf
                        | Tool::Zypper,
                    "install"
                ) | (Tool::Apk, "add")
            );
            let removes = matches!(
                (inv.tool, inv.sub.as_str()),
                (Tool::AptGet | Tool::Apt, "purge" | "remove" | "autoremove")
                    | (Tool::Apk, "del")
                    | (
                        Tool::Yum | Tool::Dnf | Tool::Microdnf,
                        "remove" | "erase" | "autoremove"
                    )
                    | (Tool::Zypper, "remove")
            );
            if installs {
                let virt = inv.value(&["-t", "--virtual"]);
                for name in virt
                    .into_iter()
                    .chain(inv.operands.iter().map(String::as_str))
                {
                    fx.writes.push(Write {
                        path: format!("pkg:{name}"),
                        amount: Amount::Package,
                        cmd: i,
                    });
                }
            } else if removes {
                for name in &inv.operands {
                    fx.deletes.push(Delete {
                        path: format!("pkg:{name}"),
                        cmd: i,
                    });
                }
            }
            if matches!(inv.tool, Tool::Npm | Tool::Yarn | Tool::Pnpm)
                && inv.sub == "install"
                && !inv.options.iter().any(|o| o == "-g" || o == "--global")
            {
                write(&mut fx, "node_modules", Amount::Files, &cwd);
            }
            if inv.tool == Tool::Cargo && inv.sub == "build" {
                write(&mut fx, "target", Amount::Files, &cwd);
            }
            continue;
        }
        match c.name() {
            "cd" | "pushd" => {
                cwd = match operands.first() {
                    Some(d) => res(d, &cwd),
                    None => home.clone(),
                };
            }
            "rm" | "rmdir" | "unlink" => {
                for o in &operands {
                    if let Some(p) = res(o, &cwd) {
                        fx.deletes.push(Delete { path: p, cmd: i });
                    }
                }
            }
            "mkdir" | "touch" | "ln" => {
                for o in operands.iter().skip(usize::from(c.name() == "ln")) {
                    write(&mut fx, o, Amount::Tiny, &cwd);
                }
            }
            "curl" => {
                let mut k = 0;
                while k < args.len() {
                    let a = args[k];
                    if a == "-o" || a == "--output" {
                        if let Some(f) = args.get(k + 1) {
                            write(&mut fx, f, Amount::Files, &cwd);
                        }
                        k += 1;
                    } else if let Some(f) = a.strip_prefix("--output=") {
                        write(&mut fx, f, Amount::Files, &cwd);
                    } else if !a.starts_with("--") && a.starts_with('-') && a.ends_with('o') {
                        if let Some(f) = args.get(k + 1) {
                            write(&mut fx, f, Amount::Files, &cwd);
                        }
                        k += 1;
                    } else if (a == "-O"
                        || a == "--remote-name"
                        || (a.starts_with('-') && !a.starts_with("--") && a.contains('O')))
                        && let Some(url) = args.iter().find(|x| x.contains("://"))
                    {
                        write(&mut fx, basename(url), Amount::Files, &cwd);
                    }
                    k += 1;
                }
            }
            "wget" => {
                let mut named = false;
                let mut dir: Option<String> = None;
                let mut k = 0;
                while k < args.len() {
                    let a = args[k];
                    if a == "-O" || a == "--output-document" {
                        if let Some(f) = args.get(k + 1)
                            && *f != "-"
                        {
                            write(&mut fx, f, Amount::Files, &cwd);
                        }
                        named = true;
                        k += 1;
                    } else if let Some(f) = a
                        .strip_prefix("--output-document=")
                        .or_else(|| a.strip_prefix("-O").filter(|f| !f.is_empty()))
                    {
                        if f != "-" {
                            write(&mut fx, f, Amount::Files, &cwd);
                        }
                        named = true;
                    } else if a == "-P" || a == "--directory-prefix" {
                        dir = args.get(k + 1).map(|s| s.to_string());
                        k += 1;
                    } else if a.starts_with('-') && !a.starts_with("--") && a.ends_with('O') {
                        if let Some(f) = args.get(k + 1)
                            && *f != "-"
                        {
                            write(&mut fx, f, Amount::Files, &cwd);
                        }
                        named = true;
                        k += 1;
                    }
                    k += 1;
                }
                if !named {
                    for url in args.iter().filter(|x| x.contains("://")) {
                        let name = basename(url.split(['?', '#']).next().unwrap_or(url));
                        let at = match &dir {
                            Some(d) => format!("{d}/{name}"),
                            None => name.to_string(),
                        };
                        write(&mut fx, &at, Amount::Files, &cwd);
                    }
                }
            }
            "git" if args.first() == Some(&"clone") => {
                let ops: Vec<&str> = operands
                    .iter()
                    .copied()
                    .skip(1)
                    .filter(|o| !o.starts_with('-'))
                    .collect();
                let url = ops.first();
                let dir = ops
                    .get(1)
                    .map(|s| s.to_string())
                    .or_else(|| url.map(|u| basename(u).trim_end_matches(".git").to_string()));
                if let Some(d) = dir {
                    write(&mut fx, &d, Amount::Files, &cwd);
                }
            }
            "cp" | "mv" | "install" | "rsync" => {
                if let Some(d) = operands.last()
                    && operands.len() >= 2
                {
                    write(&mut fx, d, Amount::Files, &cwd);
                }
            }
            "tar" | "unzip" | "bsdtar" => {
                let flag = if c.name() == "unzip" { "-d" } else { "-C" };
                let target = args
                    .iter()
                    .position(|a| *a == flag || *a == "--directory")
                    .and_then(|k| args.get(k + 1))
                    .map(|s| s.to_string())
                    .or_else(|| {
                        args.iter()
                            .find_map(|a| a.strip_prefix("--directory=").map(str::to_string))
                    });
                let extracts = c.name() == "unzip"
                    || args.first().is_some_and(|a| {
                        a.starts_with("--extract")
                            || a.starts_with('x')
                            || (a.starts_with('-') && !a.starts_with("--") && a.contains('x'))
                    })
                    || args.iter().any(|a| {
                        *a == "-x"
                            || *a == "--extract"
                            || (a.starts_with('-') && !a.starts_with("--") && a.contains('x'))
                    });
                if extracts {
                    match target {
                        Some(t) => write(&mut fx, &t, Amount::Files, &cwd),
                        None => {
                            if let Some(d) = cwd.clone() {
                                write(&mut fx, &d, Amount::Files, &cwd);
                            }
                        }
                    }
                } else if let Some(f) = args
                    .iter()
                    .position(|a| {
                        *a == "-f"
                            || (a.starts_with('-') && !a.starts_with("--") && a.ends_with('f'))
                            || (!a.starts_with('-') && a.contains('c') && a.ends_with('f'))
                    })
                    .and_then(|k| args.get(k + 1))
                {
                    write(&mut fx, f, Amount::Files, &cwd);
                }
            }
            // Build tools write below the working directory.
            "make" | "cmake" | "ninja" | "configure" | "./configure" | "autoreconf" | "meson" => {
                if let Some(d) = cwd.clone() {
                    write(&mut fx, &d, Amount::Files, &cwd);
                }
            }
            "mvn" | "./mvnw" => write(&mut fx, "target", Amount::Files, &cwd),
            "gradle" | "./gradlew" => write(&mut fx, "build", Amount::Files, &cwd),
            "composer"
                if args
                    .first()
                    .is_some_and(|a| *a == "install" || *a == "update") =>
            {
                write(&mut fx, "vendor", Amount::Files, &cwd)
            }
            _ => {
                if first.starts_with("./")
                    && let Some(d) = cwd.clone()
                {
                    write(&mut fx, &d, Amount::Files, &cwd);
                }
            }
        }
    }
    fx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(s: &str) -> Invocation {
        let c = split(s);
        invocation(&c[0]).unwrap_or_else(|| panic!("{s}: no invocation"))
    }

    #[test]
    fn global_options_do_not_hide_the_subcommand() {
        for (s, tool, sub) in [
            ("apt-get -y update", Tool::AptGet, "update"),
            ("apt-get -qq update", Tool::AptGet, "update"),
            (
                "apt-get -o Dpkg::Options::=--force-confold install x",
                Tool::AptGet,
                "install",
            ),
            (
                "apt-get -o Acquire::Retries=3 install x",
                Tool::AptGet,
                "install",
            ),
            ("apt install -y python3-pip", Tool::Apt, "install"),
            ("yum -y install httpd", Tool::Yum, "install"),
            ("dnf --enablerepo=crb install -y x", Tool::Dnf, "install"),
            ("dnf --enablerepo crb install -y x", Tool::Dnf, "install"),
            ("zypper --non-interactive in curl", Tool::Zypper, "install"),
            ("zypper -n cc -a", Tool::Zypper, "clean"),
            ("apk -U add curl", Tool::Apk, "add"),
            ("apk --update --no-cache add curl", Tool::Apk, "add"),
            ("python3 -m pip install -U pip", Tool::Pip, "install"),
            ("/usr/local/bin/pip3.11 install x", Tool::Pip, "install"),
            ("npm ci --omit=dev", Tool::Npm, "ci"),
            ("npm i -g pnpm", Tool::Npm, "install"),
            ("yarn --frozen-lockfile", Tool::Yarn, "install"),
            ("yarn global add serve", Tool::Yarn, "install"),
            ("pnpm i --frozen-lockfile", Tool::Pnpm, "install"),
            ("microdnf --nodocs install x", Tool::Microdnf, "install"),
            ("gem install bundler", Tool::Gem, "install"),
            ("go build -o /out ./cmd", Tool::Go, "build"),
            ("cargo build --release", Tool::Cargo, "build"),
        ] {
            let i = inv(s);
            assert_eq!((i.tool, i.sub.as_str()), (tool, sub), "{s}");
        }
        assert_eq!(
            inv("apt-get -o Acquire::Retries=3 install x").operands,
            ["x"]
        );
        assert!(inv("apk -U add curl").has(&["-U", "--update"]));
        assert!(inv("apk add -Uq curl").has(&["-U"]));
        assert!(inv("pip install --no-cache x").has(&["--no-cache"]));
        assert!(inv("pip install --no-cache-dir x").has(&["--no-cache"]));
        assert!(!inv("apk add --no-cache-x y").has(&["--no-cache"]));
        assert_eq!(
            inv("apk add --virtual .deps gcc").value(&["--virtual", "-t"]),
            Some(".deps")
        );
        assert_eq!(invocation(&split("echo apt-get install")[0]), None);
    }

    #[test]
    fn splitting_keeps_quotes_and_redirects_apart() {
        let c = split(
            "set -eux; FOO=1 sudo -E apt-get update && echo 'a && b' > /etc/x 2>&1 | tee /tmp/log; cd /src || exit 1",
        );
        let names: Vec<&str> = c.iter().map(Command::name).collect();
        assert_eq!(names, ["set", "apt-get", "echo", "tee", "cd", "exit"]);
        assert_eq!(c[1].env, [("FOO".to_string(), "1".to_string())]);
        assert_eq!(c[2].words, ["echo", "a && b"]);
        assert_eq!(c[2].redirects, ["/etc/x"]);
        let c = split("if [ -f x ]; then rm -rf \"$HOME/.cache\"; fi # rm /nope\nrm /b");
        assert!(c.iter().any(|c| c.words == ["rm", "-rf", "$HOME/.cache"]));
        assert!(c.iter().any(|c| c.words == ["rm", "/b"]));
        assert!(!c.iter().any(|c| c.words.iter().any(|w| w == "/nope")));
        let c = split("x=$(curl -s a | tr -d b) && rm /c");
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].words, ["rm", "/c"]);
    }

    #[test]
    fn caches_written_and_cleaned() {
        let kinds = |s: &str| -> Vec<CacheKind> {
            cache_writes(&inv(s), &[]).iter().map(|c| c.kind).collect()
        };
        assert_eq!(kinds("apk update"), [CacheKind::Apk]);
        assert_eq!(kinds("apk add --no-cache x"), []);
        assert_eq!(kinds("apt-get -y update"), [CacheKind::AptLists]);
        assert_eq!(kinds("pip install --no-cache-dir x"), []);
        assert_eq!(
            cache_writes(
                &inv("pip install x"),
                &[("PIP_NO_CACHE_DIR".into(), "1".into())]
            )
            .len(),
            0
        );
        assert_eq!(kinds("zypper -n in x"), [CacheKind::Zypper]);
        // `apk cache clean` does not remove the index `apk update` wrote.
        assert_eq!(cache_cleans(&inv("apk cache clean")), []);
        assert_eq!(cache_cleans(&inv("yum clean all")), [CacheKind::Yum]);
        assert_eq!(cache_cleans(&inv("yum clean packages")), []);
        assert_eq!(
            cache_cleans(&inv("npm cache clean --force")),
            [CacheKind::Npm]
        );
        assert_eq!(cache_cleans(&inv("zypper cc -a")), [CacheKind::Zypper]);
        assert_eq!(
            cache_cleans(&inv("apt-get -y clean")),
            [CacheKind::AptArchives]
        );
    }

    #[test]
    fn paths_resolve_and_overlap() {
        let env = vec![("APP".to_string(), "/srv/app".to_string())];
        assert_eq!(
            resolve("$APP/x/../y", None, None, &env).as_deref(),
            Some("/srv/app/y")
        );
        assert_eq!(
            resolve("~/.npm", None, Some("/root"), &[]).as_deref(),
            Some("/root/.npm")
        );
        assert_eq!(
            resolve("build", Some("/src"), None, &[]).as_deref(),
            Some("/src/build")
        );
        assert_eq!(resolve("build", None, None, &[]), None);
        assert_eq!(resolve("$GNUPGHOME", None, None, &[]), None);
        assert_eq!(
            resolve("${V:-/opt/v}", None, None, &[]).as_deref(),
            Some("/opt/v")
        );
        assert!(covers("/var/lib/apt/lists/*", "/var/lib/apt/lists"));
        assert!(covers("/tmp/*", "/tmp/x.tgz"));
        assert!(covers("/tmp/*.tgz", "/tmp/x.tgz"));
        assert!(!covers("/tmp/*.zip", "/tmp/x.tgz"));
        assert!(covers("/tmp/*/x", "/tmp/a/x/y") && !covers("/tmp/*/x", "/tmp/a/b/x"));
        assert!(covers("/a?c", "/abc") && !covers("/a?c", "/a/c"));
        // Many stars against a long name: answered at once (this used to backtrack exponentially).
        let long = format!("/{}", "a".repeat(300));
        assert!(!covers(&format!("/{}b", "*a".repeat(40)), &long));
        assert!(!covers("/var/lib/apt/lists/partial", "/var/lib/apt/lists"));
        assert!(overlaps("/app/tests", "/app"));
        assert!(!overlaps("/usr/local/lib/x", "/usr/local"));
        assert!(overlaps("pkg:gcc", "pkg:gcc"));
        assert!(
            below("/a/b", "/a") && below("/a/b", "/") && !below("/ab", "/a") && !below("/a", "/a")
        );
        assert!(!overlaps("/gcc", "pkg:gcc"));
    }

    #[test]
    fn effects_of_a_script() {
        let start = Start {
            cwd: Some("/w".into()),
            home: Some("/root".into()),
            env: vec![],
        };
        let fx = effects(
            "cd /tmp && curl -fsSLO https://x/y/tool.tgz && tar -xzf tool.tgz -C /opt/tool \
             && git clone https://g/repo.git && wget -q https://x/a.zip -P /dl \
             && ln -s /a /b && echo x > /etc/motd && rm -f /tmp/tool.tgz",
            &start,
        );
        let w: Vec<(&str, Amount)> = fx
            .writes
            .iter()
            .map(|w| (w.path.as_str(), w.amount))
            .collect();
        assert_eq!(
            w,
            [
                ("/tmp/tool.tgz", Amount::Files),
                ("/opt/tool", Amount::Files),
                ("/tmp/repo", Amount::Files),
                ("/dl/a.zip", Amount::Files),
                ("/b", Amount::Tiny),
                ("/etc/motd", Amount::Tiny),
            ]
        );
        assert_eq!(fx.deletes[0].path, "/tmp/tool.tgz");
        let fx = effects(
            "apk add --virtual .build-deps gcc && make && apk del .build-deps",
            &start,
        );
        assert!(fx.writes.iter().any(|w| w.path == "pkg:.build-deps"));
        assert!(fx.deletes.iter().any(|d| d.path == "pkg:.build-deps"));
        assert!(
            fx.writes
                .iter()
                .any(|w| w.amount == Amount::Cache(CacheKind::Apk))
        );
    }
}
