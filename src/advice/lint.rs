//! `dredge lint`: the size rules that can be checked from a Dockerfile's text alone, with hadolint's
//! ids where a rule corresponds. Where hadolint is known to be wrong, these rules differ on purpose:
//! `pip install --no-cache` is accepted (pip takes unambiguous prefixes), `apk add --no-network`
//! writes no cache, a path-qualified `/usr/bin/pip` is still pip, and two RUNs are only worth merging
//! when the later one cleans up (and they have the same `--mount`/`--network` flags).

use serde::Serialize;

use super::dockerfile::{Dockerfile, Instruction, squash};
use super::edit;
use super::rules::{CACHE_FIXES, CacheFix};
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
    /// `merge-cleanup`.
    MergeCleanup,
    /// `separate-cleanup`.
    SeparateCleanup,
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
    pub const ALL: [LintRule; 12] = [
        LintRule::CacheApk,
        LintRule::CacheAptLists,
        LintRule::CacheAptArchives,
        LintRule::CachePip,
        LintRule::CacheNpm,
        LintRule::CacheYarn,
        LintRule::CacheYum,
        LintRule::CacheDnf,
        LintRule::CacheZypper,
        LintRule::MergeCleanup,
        LintRule::SeparateCleanup,
        LintRule::CopyChown,
    ];

    /// The rule's id, hadolint's, and summary.
    pub const fn spec(self) -> LintSpec {
        let (id, hadolint, summary) = match self {
            LintRule::CacheApk => (
                "cache-apk",
                Some("DL3019"),
                "`apk add` without --no-cache (or a cache mount on /var/cache/apk) keeps the index",
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
                "`yum install` without `yum clean all`",
            ),
            LintRule::CacheDnf => (
                "cache-dnf",
                Some("DL3040"),
                "`dnf install` without `dnf clean all`",
            ),
            LintRule::CacheZypper => (
                "cache-zypper",
                Some("DL3036"),
                "`zypper install` without `zypper clean`",
            ),
            LintRule::MergeCleanup => (
                "merge-cleanup",
                Some("DL3059"),
                "a RUN that deletes files right after another RUN with the same flags: merge them",
            ),
            LintRule::SeparateCleanup => (
                "separate-cleanup",
                None,
                "a RUN that only deletes files saves nothing: delete in the RUN that made them",
            ),
            LintRule::CopyChown => (
                "copy-chown",
                None,
                "`RUN chown -R`/`chmod -R` on a COPY destination copies the tree: COPY --chown/--chmod",
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

/// ENV (or ARG) values in force for a stage, as a flat text (`PIP_NO_CACHE_DIR=1 …`).
fn stage_env(df: &Dockerfile, upto: usize) -> String {
    let stage = df.instructions[upto].stage;
    df.instructions[..upto]
        .iter()
        .filter(|i| i.stage == stage && matches!(i.keyword.as_str(), "ENV" | "ARG"))
        .map(|i| i.args.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

/// True when a variable is set to a truthy value in `text` (`NAME=1`, `NAME=true`, `NAME 1`).
fn truthy(text: &str, name: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        let v = match w.strip_prefix(name) {
            Some(rest) if rest.starts_with('=') => rest[1..].trim_matches('"').to_string(),
            Some("") => words.get(i + 1).map_or(String::new(), |s| s.to_string()),
            _ => return false,
        };
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    })
}

fn mounts_on(ins: &Instruction, target: &str) -> bool {
    ins.flags.iter().any(|f| {
        f.name == "mount"
            && f.value.as_deref().is_some_and(|v| {
                (v.contains("type=cache") || v.contains("type=tmpfs")) && v.contains(target)
            })
    })
}

fn cache_findings(
    df: &Dockerfile,
    idx: usize,
    ins: &Instruction,
    fix: &CacheFix,
    out: &mut Vec<Finding>,
) {
    let text = squash(&ins.args);
    let hits = edit::tool_sub_ends(&text, fix.tools, fix.sub, &[]);
    if hits.is_empty() || mounts_on(ins, fix.mount) {
        return;
    }
    let Some(id) = LintRule::for_cache(fix.rule) else {
        return;
    };
    // Only stages whose layers ship: the final one and the stages it is built FROM.
    let shipping = shipping_stages(df);
    if !ins.stage.is_some_and(|s| shipping.contains(&s)) {
        return;
    }
    // Debian's and Ubuntu's images delete downloaded .debs after each install (docker-clean); from
    // the text alone, the archives are known to be kept only where the Dockerfile deletes that hook.
    if id == LintRule::CacheAptArchives && !keeps_debs(df, idx, &shipping) {
        return;
    }
    let cleaned = fix.cleaned_by.iter().any(|c| text.contains(c));
    let missing = match fix.flag {
        Some(_) => {
            let lacking = edit::tool_sub_ends(&text, fix.tools, fix.sub, fix.flag_equivalents);
            let env_ok = fix.rule == CacheKind::Pip
                && (truthy(&stage_env(df, idx), "PIP_NO_CACHE_DIR")
                    || truthy(&text, "PIP_NO_CACHE_DIR"));
            let no_network = fix.rule == CacheKind::Apk && text.contains("--no-network");
            !lacking.is_empty() && !env_ok && !no_network && !cleaned
        }
        None => !cleaned,
    };
    if missing {
        let how = match fix.flag {
            Some(f) => format!("add {f}"),
            None => format!(
                "end the RUN with `&& {}`",
                fix.cleanup.replace("{dir}", "~/.cache/pip")
            ),
        };
        out.push(finding(
            id,
            ins.start_line,
            format!(
                "{}: {how} (or RUN --mount=type=cache,target={})",
                id.spec().summary,
                fix.mount
            ),
        ));
    }
}

/// True when a RUN of the shipping stages, up to instruction `upto` (included), deletes
/// `/etc/apt/apt.conf.d/docker-clean`, the hook by which Debian's and Ubuntu's images delete the
/// downloaded .debs after each `apt-get install`.
fn keeps_debs(df: &Dockerfile, upto: usize, shipping: &[usize]) -> bool {
    df.instructions[..=upto].iter().any(|i| {
        let t = squash(&i.args);
        i.keyword == "RUN"
            && i.stage.is_some_and(|s| shipping.contains(&s))
            && deletes(&t)
            && t.contains("apt.conf.d/docker-clean")
    })
}

/// The final stage and, transitively, the stages it starts FROM (their layers are the image's too).
fn shipping_stages(df: &Dockerfile) -> Vec<usize> {
    let mut out = Vec::new();
    let mut cur = df.stages.len().checked_sub(1);
    while let Some(s) = cur {
        if out.contains(&s) {
            break;
        }
        out.push(s);
        let base = df.stages[s].base.to_ascii_lowercase();
        cur = df.stages[..s]
            .iter()
            .rposition(|st| st.name.as_deref() == Some(base.as_str()))
            .or_else(|| base.parse::<usize>().ok().filter(|&i| i < s));
    }
    out
}

/// Every command of a RUN is `rm`.
fn only_deletes(text: &str) -> bool {
    let cmds: Vec<&str> = text
        .split("&&")
        .flat_map(|c| c.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "set -e" && *c != "set -eux")
        .collect();
    !cmds.is_empty()
        && cmds
            .iter()
            .all(|c| c.starts_with("rm ") || c.starts_with("/bin/rm "))
}

fn deletes(text: &str) -> bool {
    text.split([';', '&', '|']).any(|c| {
        let w = c.split_whitespace().next().unwrap_or("");
        w == "rm" || w.ends_with("/rm")
    })
}

/// Checks one Dockerfile.
pub fn lint(df: &Dockerfile) -> Vec<Finding> {
    let mut out = Vec::new();
    for (idx, ins) in df.instructions.iter().enumerate() {
        if ins.keyword != "RUN" {
            continue;
        }
        for fix in CACHE_FIXES {
            cache_findings(df, idx, ins, fix, &mut out);
        }
        let text = squash(&ins.args);
        let prev = idx.checked_sub(1).map(|p| &df.instructions[p]);
        let prev_run = prev.filter(|p| p.keyword == "RUN" && p.stage == ins.stage);
        if let Some(p) = prev_run
            && deletes(&text)
            && ["mount", "network", "security"]
                .iter()
                .all(|f| p.flag(f) == ins.flag(f))
            && p.is_plain_shell()
            && ins.is_plain_shell()
        {
            out.push(finding(
                LintRule::MergeCleanup,
                ins.start_line,
                format!(
                    "merge with the RUN at line {}: files it deletes still ship in that layer",
                    p.start_line
                ),
            ));
        } else if only_deletes(&text) && prev_run.is_none() {
            out.push(finding(
                LintRule::SeparateCleanup,
                ins.start_line,
                "this RUN only deletes files: the bytes still ship in the layer that made them"
                    .into(),
            ));
        }
        if let Some((flag, value)) = super::recursive_owner_change(&text) {
            let targets: Vec<&str> = text.split_whitespace().collect();
            let copied = df.instructions[..idx]
                .iter()
                .rev()
                .take_while(|i| i.stage == ins.stage)
                .any(|i| {
                    matches!(i.keyword.as_str(), "COPY" | "ADD")
                        && i.flag(flag).is_none()
                        && i.args.split_whitespace().last().is_some_and(|dst| {
                            let dst = dst.trim_end_matches('/');
                            targets.iter().any(|t| {
                                let t = t.trim_end_matches('/');
                                t == dst
                                    || (t != "/" && dst.starts_with(&format!("{t}/")))
                                    || (t == "." || t == "./")
                            })
                        })
                });
            if copied {
                out.push(finding(
                    LintRule::CopyChown,
                    ins.start_line,
                    format!("`{flag} -R` duplicates the COPYed files in a new layer: COPY --{flag}={value}"),
                ));
            }
        }
    }
    out
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
            LintRule::MergeCleanup => "FROM a\nRUN make\nRUN rm -rf /src\n",
            LintRule::SeparateCleanup => "FROM a\nCOPY x /x\nRUN rm -rf /x\n",
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
            vec![("cache-apt-lists", 2)]
        );
        assert_eq!(
            ids(
                "FROM a\nRUN apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*\n"
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
        assert_eq!(
            ids("FROM a\nRUN make\n# c\nRUN rm -rf /src\n"),
            vec![("merge-cleanup", 4)]
        );
        assert_eq!(
            ids("FROM a\nRUN --mount=type=cache,target=/c make\nRUN rm -rf /src\n"),
            vec![]
        );
        assert_eq!(
            ids("FROM a\nCOPY x /x\nRUN rm -rf /x\n"),
            vec![("separate-cleanup", 3)]
        );
        assert_eq!(
            ids("FROM a\nCOPY . /app\nRUN chown -R 1:1 /app\n"),
            vec![("copy-chown", 3)]
        );
        assert_eq!(
            ids("FROM a\nCOPY --chown=1:1 . /app\nRUN chown -R 1:1 /app\n"),
            vec![]
        );
    }
}
