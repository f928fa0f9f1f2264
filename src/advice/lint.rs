//! `dredge lint`: the size rules that can be checked from a Dockerfile's text alone, with hadolint's
//! ids where a rule corresponds. Where hadolint is known to be wrong, these rules differ on purpose:
//! `pip install --no-cache` is accepted (pip takes unambiguous prefixes), `apk add --no-network`
//! writes no cache, a path-qualified `/usr/bin/pip` is still pip, and two RUNs are only worth merging
//! when the later one cleans up (and they have the same `--mount`/`--network` flags).

use serde::Serialize;

use super::command::{self, Amount, Start, Tool, Write};
use super::dockerfile::{Dockerfile, Form, Instruction};
use super::rules::{
    BUILDPACK_PACKAGES, CACHE_FIXES, ROOT_WORKDIR_IMAGES, image_name, is_buildpack_image,
};
use crate::analysis::caches::CacheKind;

/// A lint rule. Its id, hadolint's id and its summary are in [`LintRule::spec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LintRule {
    /// `cache-apk`.
    CacheApk,
    /// `cache-apt-lists`.
    CacheAptLists,
    /// `cache-apt-archives`.
    CacheAptArchives,
    /// `cache-pip`.
    CachePip,
    /// `cache-npm`.
    CacheNpm,
    /// `cache-yarn`.
    CacheYarn,
    /// `cache-yum`.
    CacheYum,
    /// `cache-dnf`.
    CacheDnf,
    /// `cache-zypper`.
    CacheZypper,
    /// `no-install-recommends`.
    NoInstallRecommends,
    /// `merge-cleanup`.
    MergeCleanup,
    /// `separate-cleanup`.
    SeparateCleanup,
    /// `copy-then-delete`.
    CopyThenDelete,
    /// `copy-chown`.
    CopyChown,
}

/// What describes a lint rule: dredge's id, hadolint's id for the same problem (if any), and what
/// it finds.
#[derive(Debug, Clone, Copy)]
pub struct LintSpec {
    /// dredge's id.
    pub id: &'static str,
    /// hadolint's id for the same problem, if any.
    pub hadolint: Option<&'static str>,
    /// What it finds.
    pub summary: &'static str,
}

impl LintRule {
    /// Every rule.
    pub const ALL: [LintRule; 14] = [
        LintRule::CacheApk,
        LintRule::CacheAptLists,
        LintRule::CacheAptArchives,
        LintRule::CachePip,
        LintRule::CacheNpm,
        LintRule::CacheYarn,
        LintRule::CacheYum,
        LintRule::CacheDnf,
        LintRule::CacheZypper,
        LintRule::NoInstallRecommends,
        LintRule::MergeCleanup,
        LintRule::SeparateCleanup,
        LintRule::CopyThenDelete,
        LintRule::CopyChown,
    ];

    /// The rule's id, hadolint's, and summary.
    pub const fn spec(self) -> LintSpec {
        let (id, hadolint, summary) = match self {
            LintRule::CacheApk => (
                "cache-apk",
                Some("DL3019"),
                "`apk update`, or `apk add`/`upgrade` without --no-cache, leaves the index in /var/cache/apk",
            ),
            LintRule::CacheAptLists => (
                "cache-apt-lists",
                Some("DL3009"),
                "`apt-get update` without `rm -rf /var/lib/apt/lists/*` in the same RUN",
            ),
            LintRule::CacheAptArchives => (
                "cache-apt-archives",
                None,
                "`apt-get install` once /etc/apt/apt.conf.d/docker-clean is deleted keeps the .debs \
                 unless `apt-get clean`",
            ),
            LintRule::CachePip => (
                "cache-pip",
                Some("DL3042"),
                "`pip install` without --no-cache-dir (or PIP_NO_CACHE_DIR, or a cache mount)",
            ),
            LintRule::CacheNpm => (
                "cache-npm",
                None,
                "`npm install` without `npm cache clean --force` in the same RUN",
            ),
            LintRule::CacheYarn => (
                "cache-yarn",
                Some("DL3060"),
                "`yarn install` without `yarn cache clean` in the same RUN",
            ),
            LintRule::CacheYum => (
                "cache-yum",
                Some("DL3032"),
                "`yum install`/`update` without `yum clean all`",
            ),
            LintRule::CacheDnf => (
                "cache-dnf",
                Some("DL3040"),
                "`dnf`/`microdnf` install/update without `clean all`",
            ),
            LintRule::CacheZypper => (
                "cache-zypper",
                Some("DL3036"),
                "`zypper install`/`update`/`refresh` without `zypper clean`",
            ),
            LintRule::NoInstallRecommends => (
                "no-install-recommends",
                Some("DL3015"),
                "`apt-get install`/`apt install` without --no-install-recommends",
            ),
            LintRule::MergeCleanup => (
                "merge-cleanup",
                Some("DL3059"),
                "a RUN deletes files an earlier RUN wrote, and the RUNs between can be merged: merge them",
            ),
            LintRule::SeparateCleanup => (
                "separate-cleanup",
                None,
                "a RUN deletes files an earlier RUN wrote (the bytes still ship): delete them in that RUN",
            ),
            LintRule::CopyThenDelete => (
                "copy-then-delete",
                None,
                "a RUN deletes files a COPY/ADD put in its layer (the bytes still ship): do not copy them",
            ),
            LintRule::CopyChown => (
                "copy-chown",
                None,
                "`RUN chown -R`/`chmod -R` on a COPY destination, or `chown`/`chmod` of a file a \
                 COPY/ADD put there, copies the files: COPY --chown/--chmod",
            ),
        };
        LintSpec {
            id,
            hadolint,
            summary,
        }
    }

    /// dredge's id (`cache-pip`), as in JSON and text output.
    pub const fn id(self) -> &'static str {
        self.spec().id
    }

    /// The rule for a cache of the catalog (one per row of `rules::CACHE_FIXES`, id `cache-<kind>`).
    pub fn for_cache(kind: CacheKind) -> Option<LintRule> {
        Some(match kind {
            CacheKind::Apk => LintRule::CacheApk,
            CacheKind::AptLists => LintRule::CacheAptLists,
            CacheKind::AptArchives => LintRule::CacheAptArchives,
            CacheKind::Pip => LintRule::CachePip,
            CacheKind::Npm => LintRule::CacheNpm,
            CacheKind::Yarn => LintRule::CacheYarn,
            CacheKind::Yum => LintRule::CacheYum,
            CacheKind::Dnf => LintRule::CacheDnf,
            CacheKind::Zypper => LintRule::CacheZypper,
            _ => return None,
        })
    }
}

impl std::fmt::Display for LintRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for LintRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// dredge's rule.
    pub rule: LintRule,
    /// hadolint's id, if it has one.
    pub hadolint: Option<&'static str>,
    /// First line of the instruction.
    pub line: usize,
    /// What to do.
    pub message: String,
}

fn finding(rule: LintRule, line: usize, message: String) -> Finding {
    Finding {
        rule,
        hadolint: rule.spec().hadolint,
        line,
        message,
    }
}

/// Values of the ARGs declared before the first FROM (their defaults), which FROM may use.
fn global_args(df: &Dockerfile) -> Vec<(String, String)> {
    df.instructions
        .iter()
        .filter(|i| i.stage.is_none() && i.keyword == "ARG")
        .flat_map(|i| assignments(&i.args, &[]))
        .collect()
}

/// `K=V K2="V 2"` (ENV, ARG) or the legacy `K V` (ENV); values expanded from `env` where they can be.
fn assignments(args: &str, env: &[(String, String)]) -> Vec<(String, String)> {
    let words: Vec<String> = command::split(args)
        .into_iter()
        .flat_map(|c| {
            c.env
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .chain(c.words)
        })
        .collect();
    if words.len() >= 2 && !words[0].contains('=') {
        let v = words[1..].join(" ");
        return vec![(words[0].clone(), command::expand(&v, env).unwrap_or(v))];
    }
    words
        .iter()
        .filter_map(|w| {
            let (k, v) = w.split_once('=')?;
            Some((
                k.to_string(),
                command::expand(v, env).unwrap_or_else(|| v.to_string()),
            ))
        })
        .collect()
}

/// A stage's base with the global ARGs' defaults put in (`FROM ${BASE}-slim`), lower-cased.
pub fn resolved_base(df: &Dockerfile, stage: usize) -> String {
    let raw = &df.stages[stage].base;
    command::expand(raw, &global_args(df))
        .unwrap_or_else(|| raw.clone())
        .to_ascii_lowercase()
}

/// The stage `COPY --from=NAME` (ARG defaults resolved) names, if it is a stage of this file.
pub fn copy_from_stage(df: &Dockerfile, idx: usize) -> Option<usize> {
    let ins = &df.instructions[idx];
    let from = ins.flag("from")?;
    let mut env = global_args(df);
    env.extend(stage_env_before(df, idx));
    let name = command::expand(from, &env)?.to_ascii_lowercase();
    let upto = ins.stage?;
    df.stages[..upto]
        .iter()
        .position(|s| s.name.as_deref() == Some(name.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < upto))
}

/// The value of `COPY --from` with ARG defaults put in (`--from=${STAGE}` → `build`), as written when
/// it cannot be expanded.
pub fn copy_from(df: &Dockerfile, idx: usize) -> Option<String> {
    let from = df.instructions[idx].flag("from")?;
    let mut env = global_args(df);
    env.extend(stage_env_before(df, idx));
    Some(command::expand(from, &env).unwrap_or_else(|| from.to_string()))
}

/// ENV/ARG values set in the instruction's stage before it.
fn stage_env_before(df: &Dockerfile, idx: usize) -> Vec<(String, String)> {
    let stage = df.instructions[idx].stage;
    let mut env = Vec::new();
    for i in &df.instructions[..idx] {
        if i.stage == stage && matches!(i.keyword.as_str(), "ENV" | "ARG") {
            let found = assignments(&i.args, &env);
            env.extend(found);
        }
    }
    env
}

/// The final stage and, transitively, the stages it starts FROM (their layers are the image's too),
/// the final one first.
pub fn shipping_stages(df: &Dockerfile) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = df.stages.len().checked_sub(1);
    while let Some(s) = cur {
        if out.contains(&s) {
            break;
        }
        out.push(s);
        let base = resolved_base(df, s);
        cur = df.stages[..s]
            .iter()
            .rposition(|st| st.name.as_deref() == Some(base.as_str()))
            .or_else(|| base.parse::<usize>().ok().filter(|&i| i < s));
    }
    out
}

/// The shell script of a RUN: its arguments, its heredoc bodies, or the command of an exec form.
pub fn run_script(df: &Dockerfile, ins: &Instruction) -> String {
    if !ins.heredocs.is_empty() {
        let mut s = String::new();
        for h in &ins.heredocs {
            for l in h.body_lines.0..=h.body_lines.1 {
                if let Some(line) = df.lines.get(l.wrapping_sub(1)) {
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
        return s;
    }
    match &ins.form {
        Form::Exec(v) => match v.as_slice() {
            [sh, c, script] if sh.ends_with("sh") && c == "-c" => script.clone(),
            _ => v.join(" "),
        },
        Form::Shell => ins.args.clone(),
    }
}

/// Targets of the RUN's cache and tmpfs mounts (what is written there never reaches the layer).
fn mount_targets(ins: &Instruction) -> Vec<String> {
    ins.flags
        .iter()
        .filter(|f| f.name == "mount")
        .filter_map(|f| {
            let v = f.value.as_deref()?;
            let parts: Vec<(&str, &str)> = v.split(',').filter_map(|p| p.split_once('=')).collect();
            let ty = parts
                .iter()
                .find(|(k, _)| *k == "type")
                .map_or("bind", |p| p.1);
            if !matches!(ty, "cache" | "tmpfs" | "bind") {
                return None;
            }
            parts
                .iter()
                .find(|(k, _)| matches!(*k, "target" | "dst" | "destination"))
                .map(|(_, t)| command::normalise(t))
        })
        .collect()
}

/// What an earlier instruction of the shipping stages wrote, as far as the text tells.
#[derive(Debug, Clone)]
struct Written {
    /// Index of the instruction.
    instr: usize,
    /// What and where.
    write: Write,
}

/// A COPY/ADD destination (for copy-chown).
#[derive(Debug, Clone)]
struct Copied {
    instr: usize,
    dst: String,
    /// `dst` is one copied file (not a directory the COPY filled).
    file: bool,
    chown: bool,
    chmod: bool,
}

/// Where a COPY/ADD puts its files: the destination, or, for sources copied into a directory, each
/// plain file's path there (the directory itself for directories, globs and archives ADD extracts);
/// each with whether it is one file. A single source copied to a destination without a trailing
/// slash is a file unless the source looks like a directory (`.`, `x/`), a glob, a variable or an
/// archive ADD extracts: the text cannot tell `COPY src /app/src` (a directory) from
/// `COPY build/lab /usr/local/bin/lab` (a file), and only a non-recursive chmod/chown of that exact
/// path reads it as a file.
fn copy_destinations(
    ins: &Instruction,
    cwd: Option<&str>,
    env: &[(String, String)],
) -> Vec<(String, bool)> {
    let words: Vec<String> = match &ins.form {
        Form::Exec(v) => v.clone(),
        Form::Shell => command::split(&ins.args)
            .into_iter()
            .flat_map(|c| c.words)
            .collect(),
    };
    let Some((dst, srcs)) = words.split_last() else {
        return Vec::new();
    };
    let Some(dst_abs) = command::resolve(dst, cwd, None, env) else {
        return Vec::new();
    };
    let name_of = |src: &str| -> String {
        src.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_string()
    };
    let into_dir = dst.ends_with('/') || dst == "." || srcs.len() > 1;
    if !into_dir {
        let file = match srcs {
            [src] => {
                let name = name_of(src);
                let url = src.contains("://");
                !src.ends_with('/')
                    && !matches!(name.as_str(), "" | "." | "..")
                    && !src.contains(['*', '?', '[', '$'])
                    && (url || ins.keyword != "ADD" || !is_local_archive(&name))
                    && !dst_abs.contains(['*', '?', '['])
            }
            _ => false,
        };
        return vec![(dst_abs, file)];
    }
    let mut out: Vec<(String, bool)> = Vec::new();
    for src in srcs {
        let name = name_of(src);
        let file_like = name.contains('.')
            && !name.starts_with('.')
            && !name.contains('$')
            && (ins.keyword != "ADD" || !is_local_archive(&name));
        let at = if file_like {
            (command::normalise(&format!("{dst_abs}/{name}")), true)
        } else {
            (dst_abs.clone(), false)
        };
        if !out.contains(&at) {
            out.push(at);
        }
    }
    out
}

/// `ADD x.tar.gz /dst` extracts a local archive: its files are below `/dst`, not at `/dst/x.tar.gz`.
fn is_local_archive(name: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst",
    ]
    .iter()
    .any(|e| name.ends_with(e))
}

/// The stage's state while walking it.
#[derive(Debug, Clone, Default)]
struct State {
    cwd: Option<String>,
    home: Option<String>,
    env: Vec<(String, String)>,
    /// The chain starts from a buildpack-deps based image.
    buildpack: bool,
    /// A RUN so far deleted /etc/apt/apt.conf.d/docker-clean (downloaded .debs are kept).
    debs_kept: bool,
    /// An instruction so far wrote an apt configuration about recommendations.
    recommends_off: bool,
}

/// Checks one Dockerfile.
pub fn lint(df: &Dockerfile) -> Vec<Finding> {
    let mut out = Vec::new();
    let shipping = shipping_stages(df);
    let globals = global_args(df);
    let mut history: Vec<Written> = Vec::new();
    let mut copies: Vec<Copied> = Vec::new();
    let buildpack = shipping
        .last()
        .is_some_and(|&root| is_buildpack_image(&resolved_base(df, root)));
    let mut st = State {
        cwd: Some("/".into()),
        home: Some("/root".into()),
        buildpack,
        ..State::default()
    };
    // The chain from its root stage to the final one: each inherits the previous one's state.
    for &s in shipping.iter().rev() {
        let stage = &df.stages[s];
        let base_is_stage = df.stages[..s]
            .iter()
            .any(|x| x.name.as_deref() == Some(resolved_base(df, s).as_str()));
        if !base_is_stage {
            // An image: its WORKDIR is `/` for the official images that set none, else unknown.
            let root_wd = ROOT_WORKDIR_IMAGES.contains(&image_name(&resolved_base(df, s)).as_str());
            st = State {
                cwd: root_wd.then(|| "/".to_string()),
                home: Some("/root".into()),
                buildpack,
                ..State::default()
            };
            history.clear();
            copies.clear();
        }
        for idx in stage.from + 1..stage.end {
            let ins = &df.instructions[idx];
            match ins.keyword.as_str() {
                "WORKDIR" => {
                    st.cwd = command::resolve(ins.args.trim(), st.cwd.as_deref(), None, &st.env);
                }
                "ENV" => {
                    let found = assignments(&ins.args, &st.env);
                    st.env.extend(found);
                }
                "ARG" => {
                    for w in ins.args.split_whitespace() {
                        match w.split_once('=') {
                            Some(_) => st.env.extend(assignments(w, &st.env)),
                            None => {
                                if let Some(g) = globals.iter().rev().find(|(k, _)| k == w) {
                                    st.env.push(g.clone());
                                }
                            }
                        }
                    }
                }
                "USER" => {
                    let user = ins.args.split(':').next().unwrap_or("").trim();
                    st.home = match user {
                        "root" | "0" => Some("/root".into()),
                        u if !u.is_empty()
                            && !u.contains('$')
                            && !u.chars().all(|c| c.is_ascii_digit()) =>
                        {
                            Some(format!("/home/{u}"))
                        }
                        _ => None,
                    };
                }
                "COPY" | "ADD" => {
                    let dsts = copy_destinations(ins, st.cwd.as_deref(), &st.env);
                    // Its content is not in the Dockerfile: a file put in apt's configuration may
                    // turn recommendations off.
                    st.recommends_off |= dsts.iter().any(|(d, _)| apt_config_path(d));
                    for (dst, file) in dsts {
                        history.push(Written {
                            instr: idx,
                            write: Write {
                                path: dst.clone(),
                                amount: Amount::Files,
                                cmd: 0,
                            },
                        });
                        copies.push(Copied {
                            instr: idx,
                            dst,
                            file,
                            chown: ins.flag("chown").is_some(),
                            chmod: ins.flag("chmod").is_some(),
                        });
                    }
                }
                "RUN" => run_findings(df, idx, &mut st, &mut history, &mut copies, &mut out),
                _ => {}
            }
        }
    }
    out.sort_by_key(|f| f.line);
    out
}

/// The findings of one RUN of a shipping stage; records what it writes.
fn run_findings(
    df: &Dockerfile,
    idx: usize,
    st: &mut State,
    history: &mut Vec<Written>,
    copies: &mut Vec<Copied>,
    out: &mut Vec<Finding>,
) {
    let ins = &df.instructions[idx];
    let script = run_script(df, ins);
    let start = Start {
        cwd: st.cwd.clone(),
        home: st.home.clone(),
        env: st.env.clone(),
    };
    let fx = command::effects(&script, &start);
    let cmds = command::split(&script);
    st.debs_kept |= cmds.iter().any(|c| {
        matches!(c.name(), "rm" | "mv")
            && c.words
                .iter()
                .any(|w| w.ends_with("apt.conf.d/docker-clean"))
    });
    let mounts = mount_targets(ins);
    let under_mount = |p: &str| mounts.iter().any(|m| command::covers(m, p));
    // A write is gone by the end of the RUN when a later command of it deletes or cleans it.
    let gone = |w: &Write| {
        fx.deletes
            .iter()
            .any(|d| d.cmd > w.cmd && command::covers(&d.path, &w.path))
            || matches!(w.amount, Amount::Cache(k) if fx.cleaned.iter().any(|(c, at)| *c == k && *at > w.cmd))
    };
    // Caches.
    let mut fired: Vec<LintRule> = Vec::new();
    for w in &fx.writes {
        let Amount::Cache(kind) = w.amount else {
            continue;
        };
        let Some(rule) = LintRule::for_cache(kind) else {
            continue;
        };
        if fired.contains(&rule) || under_mount(&w.path) || gone(w) {
            continue;
        }
        if rule == LintRule::CacheAptArchives && !st.debs_kept {
            continue;
        }
        // `apt-get clean` also covers what `apt` installs and the reverse.
        let Some(fix) = CACHE_FIXES.iter().find(|f| f.rule == kind) else {
            continue;
        };
        fired.push(rule);
        let how = match fix.flag {
            Some(f) if rule == LintRule::CacheApk => format!(
                "use `apk add {f}` (it needs no `apk update`), or end the RUN with `&& {}`",
                fix.cleanup
            ),
            Some(f) => format!("add {f}"),
            None => format!(
                "end the RUN with `&& {}`",
                fix.cleanup.replace("{dir}", "~/.cache/pip")
            ),
        };
        out.push(finding(
            rule,
            ins.start_line,
            format!(
                "{}: {how} (or RUN --mount=type=cache,target={})",
                rule.spec().summary,
                fix.mount
            ),
        ));
    }
    // --no-install-recommends.
    let config_off = st.recommends_off || may_disable_recommends(&script, &cmds, st);
    for c in &cmds {
        if let Some(inv) = command::invocation(c)
            && matches!(inv.tool, Tool::AptGet | Tool::Apt)
            && inv.sub == "install"
            && !inv.operands.is_empty()
            && !inv.operands.iter().all(|o| is_local_package(o))
            && !(st.buildpack
                && inv
                    .operands
                    .iter()
                    .all(|o| BUILDPACK_PACKAGES.contains(&o.as_str())))
            && !inv.has(&["--no-install-recommends"])
            && !config_off
        {
            out.push(finding(
                LintRule::NoInstallRecommends,
                ins.start_line,
                format!(
                    "`{} install` without --no-install-recommends also installs the packages' \
                     recommendations: add --no-install-recommends to it",
                    c.name()
                ),
            ));
            break;
        }
    }
    // Deletions of what earlier instructions wrote: one finding per rule, naming every writer.
    let mut writers: Vec<(usize, Vec<String>)> = Vec::new();
    for d in &fx.deletes {
        // What this RUN made itself (its own build tree, its own apt lists) is its own business.
        let own = fx.writes.iter().any(|w| {
            w.cmd < d.cmd && !command::broad(&w.path) && command::covers(&w.path, &d.path)
        });
        if own {
            continue;
        }
        for h in history.iter() {
            if h.write.amount == Amount::Tiny || !command::overlaps(&d.path, &h.write.path) {
                continue;
            }
            match writers.iter_mut().find(|w| w.0 == h.instr) {
                Some(w) => {
                    if !w.1.contains(&d.path) {
                        w.1.push(d.path.clone());
                    }
                }
                None => writers.push((h.instr, vec![d.path.clone()])),
            }
        }
    }
    // `chown -R`/`chmod -R` over what an earlier RUN wrote copies those files into this layer.
    let mut changed: Vec<String> = Vec::new();
    for (ci, c) in cmds.iter().enumerate() {
        let Some((_, targets)) = recursive_change(c, st) else {
            continue;
        };
        for t in &targets {
            let own = fx
                .writes
                .iter()
                .any(|w| w.cmd < ci && !command::broad(&w.path) && command::covers(&w.path, t));
            if own {
                continue;
            }
            for h in history.iter() {
                let run_made = df.instructions[h.instr].keyword == "RUN";
                if !run_made
                    || h.write.amount == Amount::Tiny
                    || matches!(h.write.amount, Amount::Package | Amount::Cache(_))
                    || !command::covers(t, &h.write.path)
                {
                    continue;
                }
                match writers.iter_mut().find(|w| w.0 == h.instr) {
                    Some(w) => {
                        if !w.1.contains(t) {
                            w.1.push(t.clone());
                        }
                    }
                    None => writers.push((h.instr, vec![t.clone()])),
                }
                changed.push(t.clone());
            }
        }
    }
    writers.sort();
    let lines = |ws: &[&(usize, Vec<String>)]| -> String {
        let l: Vec<String> = ws
            .iter()
            .map(|w| df.instructions[w.0].start_line.to_string())
            .collect();
        format!(
            "line{} {}",
            if l.len() > 1 { "s" } else { "" },
            l.join(", ")
        )
    };
    let paths = |ws: &[&(usize, Vec<String>)]| -> String {
        let mut p: Vec<&str> = ws
            .iter()
            .flat_map(|w| w.1.iter().map(String::as_str))
            .collect();
        p.sort_unstable();
        p.dedup();
        p.join(" ")
    };
    let copies_w: Vec<&(usize, Vec<String>)> = writers
        .iter()
        .filter(|w| df.instructions[w.0].keyword != "RUN")
        .collect();
    let runs_w: Vec<&(usize, Vec<String>)> = writers
        .iter()
        .filter(|w| df.instructions[w.0].keyword == "RUN")
        .collect();
    if !copies_w.is_empty() {
        out.push(finding(
            LintRule::CopyThenDelete,
            ins.start_line,
            format!(
                "deletes {}, which the COPY/ADD at {} put in its layer, where the bytes \
                 still ship: leave it out of the COPY (.dockerignore, a narrower source) or use it \
                 through RUN --mount=type=bind",
                paths(&copies_w),
                lines(&copies_w)
            ),
        ));
    }
    if let Some(first) = runs_w.first() {
        let (rule, how) = if mergeable(df, first.0, idx) {
            (
                LintRule::MergeCleanup,
                format!(
                    "merge the RUNs of lines {}-{} so the files never reach a layer",
                    df.instructions[first.0].start_line, ins.start_line
                ),
            )
        } else {
            (
                LintRule::SeparateCleanup,
                "the bytes still ship in that layer: delete them (or change their owner or mode) in \
                 the RUN that wrote them"
                    .into(),
            )
        };
        out.push(finding(
            rule,
            ins.start_line,
            format!(
                "{} {}, which the RUN at {} wrote: {how}",
                if runs_w
                    .iter()
                    .any(|w| w.1.iter().any(|p| changed.contains(p)))
                {
                    "changes the owner or mode of (or deletes)"
                } else {
                    "deletes"
                },
                paths(&runs_w),
                lines(&runs_w)
            ),
        ));
    }
    // chown/chmod over COPYed files: `-R` over a COPY destination, or (not recursive) a file a
    // COPY/ADD put there.
    for (ci, c) in cmds.iter().enumerate() {
        let name = c.name();
        if name != "chown" && name != "chmod" {
            continue;
        }
        let opts: Vec<&String> = c.words[1..].iter().filter(|w| w.starts_with('-')).collect();
        let recursive = opts
            .iter()
            .any(|o| *o == "--recursive" || (!o.starts_with("--") && o.contains('R')));
        let operands: Vec<&String> = c.words[1..]
            .iter()
            .filter(|w| !w.starts_with('-') || (name == "chmod" && is_symbolic_minus(w)))
            .collect();
        if operands.len() < 2 {
            continue;
        }
        let value = operands[0].clone();
        let targets: Vec<String> = operands[1..]
            .iter()
            .filter(|t| recursive || !t.contains(['*', '?', '[', '$', '`']))
            .filter_map(|t| command::resolve(t, st.cwd.as_deref(), st.home.as_deref(), &st.env))
            .collect();
        // Written by this RUN before the chown (a tarball it extracted): not a COPY's files.
        let own = |t: &str| {
            fx.writes.iter().any(|w| {
                w.cmd < ci
                    && w.amount != Amount::Tiny
                    && !command::broad(&w.path)
                    && command::covers(&w.path, t)
            })
        };
        // Written by a RUN after the COPY: not (only) the COPY's file.
        let rewritten = |cp: &Copied, t: &str| {
            history.iter().any(|h| {
                h.instr > cp.instr
                    && df.instructions[h.instr].keyword == "RUN"
                    && (command::covers(&h.write.path, t) || command::covers(t, &h.write.path))
            })
        };
        let hits: Vec<&Copied> = copies
            .iter()
            .filter(|cp| {
                let flagged = if name == "chown" { cp.chown } else { cp.chmod };
                !flagged
                    && targets.iter().any(|t| {
                        !own(t)
                            && t != "/"
                            && if recursive {
                                command::covers(t, &cp.dst)
                            } else {
                                copied_file(cp, t) && !rewritten(cp, t)
                            }
                    })
            })
            .collect();
        if let Some(first) = hits.first() {
            let keyword = &df.instructions[first.instr].keyword;
            let flag = if name == "chown" {
                format!("--chown={value}")
            } else if super::shell::octal_mode(&value) {
                format!("--chmod={value}")
            } else if recursive {
                format!(
                    "--chmod=<octal mode> (`chmod {value}` is not one mode for files and \
                     directories alike)"
                )
            } else {
                format!(
                    "--chmod=<octal mode> (the file's mode after `chmod {value}`, 755 for `+x` on \
                     a 644 file)"
                )
            };
            let mut lines: Vec<String> = hits
                .iter()
                .map(|cp| df.instructions[cp.instr].start_line.to_string())
                .collect();
            lines.dedup();
            let what = if recursive {
                let mut dsts: Vec<&str> = hits.iter().map(|cp| cp.dst.as_str()).collect();
                dsts.dedup();
                format!(
                    "`{name} -R` copies what the {keyword} at line{} {} put in {}",
                    if lines.len() > 1 { "s" } else { "" },
                    lines.join(", "),
                    dsts.join(" ")
                )
            } else {
                let mut files: Vec<&str> = targets
                    .iter()
                    .filter(|t| hits.iter().any(|cp| copied_file(cp, t)))
                    .map(String::as_str)
                    .collect();
                files.dedup();
                format!(
                    "`{name}` copies {} that the {keyword} at line{} {} put there",
                    files.join(" "),
                    if lines.len() > 1 { "s" } else { "" },
                    lines.join(", ")
                )
            };
            out.push(finding(
                LintRule::CopyChown,
                ins.start_line,
                format!("{what} into a new layer: {keyword} {flag} instead"),
            ));
        }
    }
    // What this RUN leaves behind is history for later instructions.
    let deletes = fx.deletes.clone();
    copies.retain(|cp| !deletes.iter().any(|d| command::covers(&d.path, &cp.dst)));
    history.retain(|h| {
        !deletes
            .iter()
            .any(|d| command::covers(&d.path, &h.write.path))
    });
    // A recursive chown/chmod rewrites the files: this RUN is now their latest writer.
    for c in &cmds {
        if let Some((_, targets)) = recursive_change(c, st) {
            for t in targets {
                history.retain(|h| !command::covers(&t, &h.write.path));
                history.push(Written {
                    instr: idx,
                    write: Write {
                        path: t,
                        amount: Amount::Files,
                        cmd: 0,
                    },
                });
            }
        }
    }
    let debs_kept = st.debs_kept;
    let off = may_disable_recommends(&script, &cmds, st);
    st.recommends_off |= off;
    for w in &fx.writes {
        let dropped = w.amount == Amount::Cache(CacheKind::AptArchives) && !debs_kept;
        if !under_mount(&w.path) && !gone(w) && !dropped {
            history.push(Written {
                instr: idx,
                write: w.clone(),
            });
        }
    }
}

/// A path of apt's configuration: `/etc/apt/apt.conf`, anything in `/etc/apt/apt.conf.d`, or the
/// whole `/etc/apt`.
fn apt_config_path(p: &str) -> bool {
    p == "/etc/apt" || p == "/etc/apt/apt.conf" || command::covers("/etc/apt/apt.conf.d", p)
}

/// True when apt configuration text sets `Install-Recommends` to a false value: `APT::Install-Recommends
/// "false";` (or `"0"`, `no`, `off`, …, as apt reads booleans), the nested `APT { Install-Recommends
/// "0"; };` and `-o APT::Install-Recommends=false`. `--no-install-recommends` is the flag, read
/// elsewhere; other settings in apt.conf.d (`Acquire::Retries`) do not count.
fn disables_recommends(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let key = "install-recommends";
    lower.match_indices(key).any(|(at, _)| {
        if lower[..at].ends_with('-') {
            return false;
        }
        let rest = lower[at + key.len()..].trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, '=' | '"' | '\'' | '\\')
        });
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        matches!(
            word.as_str(),
            "0" | "false" | "no" | "off" | "without" | "disable"
        )
    })
}

/// True when a RUN may turn apt's recommendations off: its text sets `Install-Recommends` false
/// ([`disables_recommends`]), or it puts a file whose content the text does not show (`cp`, `mv`,
/// `install`, `ln`, a download, an archive) into apt's configuration. Writing a known other setting
/// (`echo 'Acquire::Retries "3";' > /etc/apt/apt.conf.d/80-retries`) does not.
fn may_disable_recommends(script: &str, cmds: &[command::Command], st: &State) -> bool {
    disables_recommends(script)
        || cmds.iter().any(|c| {
            matches!(
                c.name(),
                "cp" | "mv" | "install" | "ln" | "curl" | "wget" | "tar" | "rsync" | "unzip"
            ) && c.words[1..].iter().any(|w| {
                command::resolve(w, st.cwd.as_deref(), st.home.as_deref(), &st.env)
                    .is_some_and(|p| apt_config_path(&p))
            })
        })
}

/// True when the COPY/ADD put the file at `t`: `t` is its destination file, or lies below the
/// directory it filled (a directory too broad to tell, `/usr/local/bin`, does not count: the base
/// image has files there).
fn copied_file(cp: &Copied, t: &str) -> bool {
    if cp.file {
        return t == cp.dst;
    }
    t != cp.dst && !command::broad(&cp.dst) && command::covers(&cp.dst, t)
}

/// `chmod -x`, `chmod -w`: a mode, not an option.
fn is_symbolic_minus(w: &str) -> bool {
    w.len() > 1 && w[1..].chars().all(|c| "rwxXst".contains(c))
}

/// `chown -R OWNER paths…`/`chmod -R MODE paths…`: (the owner or mode, the resolved paths).
fn recursive_change(c: &command::Command, st: &State) -> Option<(String, Vec<String>)> {
    let name = c.name();
    if name != "chown" && name != "chmod" {
        return None;
    }
    let recursive = c.words[1..].iter().any(|o| {
        o == "--recursive" || (o.starts_with('-') && !o.starts_with("--") && o.contains('R'))
    });
    let operands: Vec<&String> = c.words[1..]
        .iter()
        .filter(|w| !w.starts_with('-'))
        .collect();
    if !recursive || operands.len() < 2 {
        return None;
    }
    let targets = operands[1..]
        .iter()
        .filter_map(|t| command::resolve(t, st.cwd.as_deref(), st.home.as_deref(), &st.env))
        .filter(|t| t != "/")
        .collect();
    Some((operands[0].clone(), targets))
}

/// A package file rather than a name (`./x.deb`, `/tmp/*.deb`): its recommendations are not known
/// from the text.
fn is_local_package(op: &str) -> bool {
    op.starts_with("./") || op.starts_with('/') || op.ends_with(".deb")
}

/// True when the instructions from `first` to `last` are RUNs (comments aside) that can be merged:
/// same `--mount`/`--network`/`--security` flags, shell form without heredocs.
fn mergeable(df: &Dockerfile, first: usize, last: usize) -> bool {
    let a = &df.instructions[first];
    (first..=last).all(|k| {
        let i = &df.instructions[k];
        i.keyword == "RUN"
            && i.stage == a.stage
            && i.is_plain_shell()
            && ["mount", "network", "security"]
                .iter()
                .all(|f| i.flag(f) == a.flag(f))
    })
}

#[cfg(test)]
mod tests {
    use super::super::dockerfile::parse;
    use super::*;

    fn ids(src: &str) -> Vec<(&'static str, usize)> {
        lint(&parse("D", src).unwrap())
            .into_iter()
            .map(|f| (f.rule.id(), f.line))
            .collect()
    }

    #[test]
    fn rule_table_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in LintRule::ALL {
            assert!(seen.insert(r.id()));
            assert!(r.spec().hadolint.is_none_or(|h| h.starts_with("DL")));
        }
        for f in CACHE_FIXES {
            let r = LintRule::for_cache(f.rule).expect("every cache fix has a lint rule");
            assert_eq!(r.id(), format!("cache-{}", f.rule.as_str()));
        }
        assert_eq!(
            serde_json::to_string(&LintRule::CacheAptArchives).unwrap(),
            "\"cache-apt-archives\""
        );
    }

    /// A Dockerfile that triggers `rule` (a match, so a new rule cannot go without one).
    fn trigger(rule: LintRule) -> &'static str {
        match rule {
            LintRule::CacheApk => "FROM alpine\nRUN apk add curl\n",
            LintRule::CacheAptLists => {
                "FROM debian\nRUN apt-get update && apt-get install -y curl\n"
            }
            LintRule::CacheAptArchives => {
                "FROM debian\nRUN rm -f /etc/apt/apt.conf.d/docker-clean\n\
                 RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
            }
            LintRule::CachePip => "FROM python\nRUN pip install requests\n",
            LintRule::CacheNpm => "FROM node\nRUN npm install\n",
            LintRule::CacheYarn => "FROM node\nRUN yarn install\n",
            LintRule::CacheYum => "FROM centos\nRUN yum install -y curl\n",
            LintRule::CacheDnf => "FROM fedora\nRUN dnf install -y curl\n",
            LintRule::CacheZypper => "FROM opensuse\nRUN zypper install -y curl\n",
            LintRule::NoInstallRecommends => "FROM debian\nRUN apt-get install -y curl\n",
            LintRule::MergeCleanup => {
                "FROM a\nRUN git clone https://x/src.git /src && make -C /src\nRUN rm -rf /src\n"
            }
            LintRule::SeparateCleanup => {
                "FROM a\nRUN git clone https://x/src.git /src\nENV A=1\nRUN rm -rf /src\n"
            }
            LintRule::CopyThenDelete => "FROM a\nCOPY x /x\nRUN rm -rf /x\n",
            LintRule::CopyChown => "FROM a\nCOPY . /app\nRUN chown -R 1:1 /app\n",
        }
    }

    #[test]
    fn every_rule_can_fire() {
        for rule in LintRule::ALL {
            let found = lint(&parse("D", trigger(rule)).unwrap());
            assert!(
                found.iter().any(|f| f.rule == rule),
                "{} does not fire on its trigger: {found:?}",
                rule.id()
            );
        }
    }

    #[test]
    fn apt_archives_only_once_docker_clean_is_deleted() {
        let apt = |src: &str| -> Vec<usize> {
            ids(src)
                .into_iter()
                .filter(|f| f.0 == "cache-apt-archives")
                .map(|f| f.1)
                .collect()
        };
        let install = "RUN apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*\n";
        assert_eq!(apt(&format!("FROM debian\n{install}")), [0; 0]);
        let rm = format!("FROM debian\nRUN rm -f /etc/apt/apt.conf.d/docker-clean\n{install}");
        assert_eq!(apt(&rm), [3]);
        // In the same RUN, before the install.
        assert_eq!(
            apt("FROM debian\nRUN rm /etc/apt/apt.conf.d/docker-clean && apt-get install -y x\n"),
            [2]
        );
        // Cleaned, or a cache mount: nothing kept.
        assert_eq!(
            apt(&rm.replace("/lists/*", "/lists/* && apt-get clean")),
            [0; 0]
        );
        assert_eq!(
            apt(&rm.replace(
                "RUN apt-get",
                "RUN --mount=type=cache,target=/var/cache/apt apt-get"
            )),
            [0; 0]
        );
        // Deleted in a stage that does not ship, or after the install: nothing kept here.
        assert_eq!(
            apt(
                "FROM debian AS b\nRUN rm -f /etc/apt/apt.conf.d/docker-clean\n\
                 FROM debian\nRUN apt-get install -y x\n"
            ),
            [0; 0]
        );
        assert_eq!(
            apt("FROM debian\nRUN apt-get install -y x\nRUN rm /etc/apt/apt.conf.d/docker-clean\n"),
            [0; 0]
        );
    }

    #[test]
    fn caches_where_hadolint_is_wrong() {
        assert_eq!(ids("FROM a\nRUN pip install --no-cache x\n"), vec![]);
        assert_eq!(
            ids("FROM a\nRUN /usr/bin/pip install x\n"),
            vec![("cache-pip", 2)]
        );
        assert_eq!(ids("FROM a\nRUN apk add --no-network x\n"), vec![]);
        assert_eq!(
            ids("FROM a\nENV PIP_NO_CACHE_DIR=1\nRUN pip install x\n"),
            vec![]
        );
        assert_eq!(
            ids("FROM a\nENV PIP_NO_CACHE_DIR=0\nRUN pip install x\n"),
            vec![("cache-pip", 3)]
        );
        assert_eq!(ids("FROM a\nRUN pipx install x\n"), vec![]);
        assert_eq!(
            ids("FROM a\nRUN --mount=type=cache,target=/var/cache/apk apk add x\n"),
            vec![]
        );
        assert_eq!(
            ids("FROM a\nRUN apt-get update && apt-get install -y x\n"),
            vec![("cache-apt-lists", 2), ("no-install-recommends", 2)]
        );
        assert_eq!(
            ids(
                "FROM a\nRUN apt-get update && apt-get install -y --no-install-recommends x && rm -rf /var/lib/apt/lists/*\n"
            ),
            vec![]
        );
        // Only the final stage ships.
        assert_eq!(
            ids("FROM a AS b\nRUN apk add x\nFROM c\nCOPY --from=b /x /x\n"),
            vec![]
        );
    }

    #[test]
    fn merges_only_when_they_can_and_it_pays() {
        assert_eq!(ids("FROM a\nRUN make\nRUN echo done\n"), vec![]);
        // What a RUN deletes must have been written by an earlier instruction, named in the finding.
        let f = lint(&parse(
            "D",
            "FROM a\nRUN curl -fsSLo /tmp/t.tgz https://x/t.tgz\nRUN tar -C /opt -xzf /tmp/t.tgz\n\
             # c\nRUN rm -f /tmp/t.tgz\n",
        )
        .unwrap());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].rule, f[0].line), (LintRule::MergeCleanup, 5));
        assert!(f[0].message.contains("line 2"), "{}", f[0].message);
        // A RUN deleting its own files: nothing.
        assert_eq!(
            ids(
                "FROM a\nRUN make\nRUN export GNUPGHOME=\"$(mktemp -d)\" && gpg --batch x && rm -rf \"$GNUPGHOME\"\n"
            ),
            vec![]
        );
        assert_eq!(
            ids(
                "FROM a\nRUN apt-get update && apt-get install -y --no-install-recommends x && rm -rf /var/lib/apt/lists/*\nRUN rm -rf /var/lib/apt/lists/*\n"
            ),
            vec![]
        );
        assert_eq!(
            ids(
                "FROM a\nWORKDIR /b\nRUN git clone https://g/x.git && cd x && make && cd .. && rm -rf x\n"
            ),
            vec![]
        );
        // Deleting what the base image shipped: nothing to gain here.
        assert_eq!(
            ids("FROM a\nRUN echo x\nRUN rm -rf /usr/share/doc\n"),
            vec![]
        );
        // A symlink or a line of text: not worth it.
        assert_eq!(ids("FROM a\nRUN ln -s /a /b\nRUN rm /b\n"), vec![]);
        assert_eq!(ids("FROM a\nRUN echo x > /etc/x\nRUN rm /etc/x\n"), vec![]);
        // Other flags in between: not mergeable, delete where written.
        assert_eq!(
            ids(
                "FROM a\nRUN --mount=type=cache,target=/c git clone https://x/s.git /s\nRUN rm -rf /s\n"
            ),
            vec![("separate-cleanup", 3)]
        );
        assert_eq!(
            ids("FROM a\nRUN apk add --virtual .b gcc\nRUN make\nRUN apk del .b\n"),
            vec![("cache-apk", 2), ("merge-cleanup", 4)]
        );
        // Files a COPY put in its layer.
        assert_eq!(
            ids("FROM a\nWORKDIR /app\nCOPY . .\nRUN rm -rf tests\n"),
            vec![("copy-then-delete", 4)]
        );
        assert_eq!(
            ids("FROM a\nCOPY pkg.deb /tmp/\nRUN dpkg -i /tmp/pkg.deb && rm /tmp/pkg.deb\n"),
            vec![("copy-then-delete", 3)]
        );
        // Only shipping stages.
        assert_eq!(
            ids("FROM a AS b\nCOPY x /x\nRUN rm -rf /x\nFROM c\nCOPY --from=b /y /y\n"),
            vec![]
        );
    }

    #[test]
    fn base_workdir_and_files_copied_into_a_directory() {
        // python sets no WORKDIR: `.` is `/`, and the file is /requirements.txt.
        let src = "FROM python:3-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt && rm requirements.txt\n";
        assert_eq!(ids(src), vec![("copy-then-delete", 3)]);
        // An image whose WORKDIR is not known: relative paths are left out.
        assert_eq!(ids(&src.replace("python:3-slim", "example/app")), vec![]);
        // Several files into a directory: each at its own path.
        assert_eq!(
            ids("FROM debian\nCOPY a.txt b.txt /srv/\nRUN rm /srv/b.txt\n"),
            vec![("copy-then-delete", 3)]
        );
        assert_eq!(
            ids("FROM debian\nCOPY a.txt b.txt /srv/\nRUN rm /srv/c.txt\n"),
            vec![]
        );
    }

    #[test]
    fn a_chown_is_the_latest_writer_of_what_it_changes() {
        // advise merges the chown RUN with the rm (the COPY's copy of b is hidden by the chown
        // already): lint names the same RUN.
        let f = lint(
            &parse(
                "D",
                "FROM a\nCOPY app /app\nRUN chown -R 1:1 /app\nRUN rm -f /app/sub/b.bin\n",
            )
            .unwrap(),
        );
        let got: Vec<(&str, usize)> = f.iter().map(|f| (f.rule.id(), f.line)).collect();
        assert_eq!(got, [("copy-chown", 3), ("merge-cleanup", 4)]);
        assert!(f[1].message.contains("lines 3-4"), "{}", f[1].message);
    }

    #[test]
    fn copy_chown_reads_only_its_own_arguments() {
        assert_eq!(
            ids("FROM a\nCOPY . /app\nRUN chown -R 1:1 /app\n"),
            vec![("copy-chown", 3)]
        );
        assert_eq!(
            ids("FROM a\nCOPY --chown=1:1 . /app\nRUN chown -R 1:1 /app\n"),
            vec![]
        );
        // `cd /opt/x/` is not a chown target.
        assert_eq!(
            ids("FROM a\nCOPY x /opt/x/\nRUN cd /opt/x/ && chown -R u /var/log/u\n"),
            vec![]
        );
        // A tarball extracted by the same RUN.
        assert_eq!(
            ids(
                "FROM a\nCOPY t.tgz /tmp/\nRUN tar -xzf /tmp/t.tgz -C /opt/t && rm /tmp/t.tgz && chmod -R 755 /opt/t\n"
            ),
            vec![("copy-then-delete", 3)]
        );
        // A builder stage that is only copied from.
        assert_eq!(
            ids("FROM a AS b\nCOPY . /src\nRUN chown -R u /src\nFROM c\nCOPY --from=b /src/x /x\n"),
            vec![]
        );
        let msg = |src: &str| lint(&parse("D", src).unwrap())[0].message.clone();
        assert!(msg("FROM a\nCOPY . /app\nRUN chmod -R 755 /app\n").contains("--chmod=755"));
        assert!(
            msg("FROM a\nCOPY . /app\nRUN chmod -R +x /app\n")
                .contains("`chmod +x` is not one mode")
        );
        // Deleted, then chowned: nothing of the COPY's is left to copy.
        assert_eq!(
            ids("FROM a\nCOPY x /x\nRUN rm -rf /x && mkdir /x\nRUN chown -R u /x\n"),
            vec![("copy-then-delete", 3)]
        );
        // Every COPY it covers is named.
        assert!(
            msg("FROM a\nWORKDIR /app\nCOPY r.txt .\nCOPY src ./src\nRUN chown -R u /app\n")
                .contains("lines 3, 4")
        );
    }

    #[test]
    fn arg_defaults_pick_the_shipping_stages() {
        let src =
            "ARG BASE=builder\nFROM alpine AS builder\nRUN apk add gcc\nFROM ${BASE}\nRUN echo\n";
        assert_eq!(shipping_stages(&parse("D", src).unwrap()), [1, 0]);
        assert_eq!(ids(src), vec![("cache-apk", 3)]);
        let src = "ARG V=3.19\nARG S=b\nFROM alpine:${V} AS b\nRUN echo\nFROM scratch\nCOPY --from=${S} /x /x\n";
        let df = parse("D", src).unwrap();
        assert_eq!(resolved_base(&df, 0), "alpine:3.19");
        assert_eq!(copy_from_stage(&df, 5), Some(0));
        assert_eq!(copy_from(&df, 5).as_deref(), Some("b"));
    }

    #[test]
    fn no_install_recommends() {
        assert_eq!(
            ids("FROM a\nRUN apt install -y python3-pip && rm -rf /var/lib/apt/lists/*\n"),
            vec![("no-install-recommends", 2)]
        );
        assert_eq!(
            ids("FROM a\nRUN apt-get -y install --no-install-recommends x\n"),
            vec![]
        );
        assert_eq!(
            ids("FROM a\nRUN apt-get -o APT::Install-Recommends=false install x\n"),
            vec![]
        );
        assert_eq!(
            ids(
                "FROM a\nRUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/01norec\nRUN apt-get install -y x\n"
            ),
            vec![]
        );
    }

    #[test]
    fn only_a_false_install_recommends_turns_recommendations_off() {
        assert!(disables_recommends("APT::Install-Recommends \"false\";"));
        assert!(disables_recommends(
            "echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/01norec"
        ));
        assert!(disables_recommends(
            "apt-get -o APT::Install-Recommends=false install x"
        ));
        assert!(disables_recommends("APT { Install-Recommends \"no\"; };"));
        assert!(disables_recommends("apt::install-recommends=0"));
        assert!(!disables_recommends("APT::Install-Recommends \"true\";"));
        assert!(!disables_recommends(
            "apt-get -o APT::Install-Recommends=1 install x"
        ));
        assert!(!disables_recommends(
            "apt-get install --no-install-recommends x"
        ));
        assert!(!disables_recommends(
            "echo 'Acquire::Retries \"3\";' >> /etc/apt/apt.conf.d/80-retries"
        ));
        assert!(apt_config_path("/etc/apt/apt.conf.d/01norec"));
        assert!(apt_config_path("/etc/apt/apt.conf.d"));
        assert!(apt_config_path("/etc/apt"));
        assert!(!apt_config_path("/etc/apt/sources.list"));
        assert!(!apt_config_path("/etc"));
    }

    #[test]
    fn apt_configuration_that_is_not_about_recommendations() {
        let install = "RUN apt-get install -y x\n";
        let rec = |pre: &str| -> Vec<usize> {
            ids(&format!("FROM debian\n{pre}{install}"))
                .into_iter()
                .filter(|f| f.0 == "no-install-recommends")
                .map(|f| f.1)
                .collect()
        };
        // Another setting in apt.conf.d: recommendations are still installed.
        assert_eq!(
            rec("RUN echo 'Acquire::Retries \"3\";' >> /etc/apt/apt.conf.d/80-retries\n"),
            [3]
        );
        assert_eq!(
            rec("RUN echo 'APT::Install-Recommends \"true\";' > /etc/apt/apt.conf.d/01rec\n"),
            [3]
        );
        assert_eq!(
            rec("RUN printf 'APT::Install-Recommends \"false\";' > /etc/apt/apt.conf.d/01\n"),
            [0; 0]
        );
        // A file whose content the Dockerfile does not show may turn them off: no finding.
        assert_eq!(rec("COPY 01norec /etc/apt/apt.conf.d/\n"), [0; 0]);
        assert_eq!(rec("COPY apt.conf /etc/apt/apt.conf\n"), [0; 0]);
        assert_eq!(rec("RUN cp /tmp/01norec /etc/apt/apt.conf.d/\n"), [0; 0]);
        assert_eq!(rec("COPY sources.list /etc/apt/sources.list\n"), [3]);
        // In the same RUN: only a false value.
        assert_eq!(
            ids("FROM a\nRUN apt-get -o APT::Install-Recommends=true install -y x\n"),
            vec![("no-install-recommends", 2)]
        );
    }

    #[test]
    fn copy_chown_of_one_copied_file() {
        // A file destination, a URL ADD, a file copied into the WORKDIR, a file below a copied tree.
        assert_eq!(
            ids("FROM a\nCOPY run.sh /app/run.sh\nRUN chmod +x /app/run.sh\n"),
            vec![("copy-chown", 3)]
        );
        assert_eq!(
            ids("FROM a\nADD https://x/r/wait /wait\nRUN chmod +x /wait\n"),
            vec![("copy-chown", 3)]
        );
        assert_eq!(
            ids("FROM a\nCOPY build/lab /usr/local/bin/lab\nRUN chmod 755 /usr/local/bin/lab\n"),
            vec![("copy-chown", 3)]
        );
        assert_eq!(
            ids("FROM a\nWORKDIR /app\nCOPY ./s/build.sh .\nRUN chmod +x ./build.sh\n"),
            vec![("copy-chown", 4)]
        );
        assert_eq!(
            ids("FROM a\nWORKDIR /app\nCOPY . .\nRUN chmod +x bin/rails entry.sh\n"),
            vec![("copy-chown", 4)]
        );
        assert_eq!(
            ids("FROM a\nCOPY app.conf /etc/app.conf\nRUN chown u:u /etc/app.conf\n"),
            vec![("copy-chown", 3)]
        );
        let msg = |src: &str| lint(&parse("D", src).unwrap())[0].message.clone();
        assert!(
            msg("FROM a\nCOPY r.sh /r.sh\nRUN chmod 0755 /r.sh\n")
                .contains("COPY --chmod=0755 instead")
        );
        assert!(msg("FROM a\nCOPY r.sh /r.sh\nRUN chmod +x /r.sh\n").contains("755 for `+x`"));
        // Not the COPY's file, or not known to be: nothing.
        let none: &[&str] = &[
            // Already flagged.
            "FROM a\nCOPY --chmod=755 r.sh /r.sh\nRUN chmod +x /r.sh\n",
            // Another file.
            "FROM a\nCOPY r.sh /r.sh\nRUN chmod +x /s.sh\n",
            // The directory's own mode, not its files.
            "FROM a\nCOPY . /app\nRUN chmod 755 /app\n",
            "FROM a\nCOPY src/ /app/src\nRUN chmod 755 /app/src\n",
            // Into a directory the base image fills.
            "FROM a\nCOPY lab /usr/local/bin/\nRUN chmod +x /usr/local/bin/other\n",
            // A glob, a variable nobody set.
            "FROM a\nWORKDIR /app\nCOPY . .\nRUN chmod +x bin/*\n",
            "FROM a\nCOPY . /app\nRUN chmod +x $DIR/run.sh\n",
            // Written by a RUN after the COPY (a build output).
            "FROM a\nCOPY . /app\nRUN git clone https://x/t.git /app/t\nRUN chmod +x /app/t/run.sh\n",
            // Written by this RUN before the chmod.
            "FROM a\nCOPY . /app\nRUN curl -o /app/x.sh https://x/x.sh && chmod +x /app/x.sh\n",
            // A builder stage.
            "FROM a AS b\nCOPY r.sh /r.sh\nRUN chmod +x /r.sh\nFROM c\nCOPY --from=b /r.sh /r.sh\n",
        ];
        for src in none {
            assert_eq!(
                ids(src).into_iter().filter(|f| f.0 == "copy-chown").count(),
                0,
                "{src}"
            );
        }
    }

    #[test]
    fn global_options_and_aliases() {
        assert_eq!(
            ids("FROM a\nRUN apt-get -qq update\n"),
            vec![("cache-apt-lists", 2)]
        );
        assert_eq!(
            ids("FROM a\nRUN yum -y install x\n"),
            vec![("cache-yum", 2)]
        );
        assert_eq!(
            ids("FROM a\nRUN dnf --enablerepo=crb install -y x\n"),
            vec![("cache-dnf", 2)]
        );
        assert_eq!(
            ids("FROM a\nRUN zypper --non-interactive in x\n"),
            vec![("cache-zypper", 2)]
        );
        assert_eq!(ids("FROM a\nRUN zypper -n in x && zypper cc -a\n"), vec![]);
        assert_eq!(ids("FROM a\nRUN apk -U add x\n"), vec![("cache-apk", 2)]);
        assert_eq!(
            ids("FROM a\nRUN apk update && apk add x && apk cache clean\n"),
            vec![("cache-apk", 2)]
        );
        assert_eq!(
            ids("FROM a\nRUN apk update && apk add x && rm -rf /var/cache/apk/*\n"),
            vec![]
        );
    }
}
