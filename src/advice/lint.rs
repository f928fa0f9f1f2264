//! `dredge lint`: the size rules that can be checked from a Dockerfile's text alone, with hadolint's
//! ids where a rule corresponds. Where hadolint is known to be wrong, these rules differ on purpose:
//! `pip install --no-cache` is accepted (pip takes unambiguous prefixes), `apk add --no-network`
//! writes no cache, a path-qualified `/usr/bin/pip` is still pip, and two RUNs are only worth merging
//! when the later one cleans up (and they have the same `--mount`/`--network` flags).

use serde::Serialize;

use super::dockerfile::{Dockerfile, Instruction, squash};
use super::edit;
use super::rules::{CACHE_FIXES, CacheFix};

/// One lint rule.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LintRule {
    /// dredge's id.
    pub id: &'static str,
    /// hadolint's id for the same problem, if any.
    pub hadolint: Option<&'static str>,
    /// What it finds.
    pub summary: &'static str,
}

/// The rules. Cache rules come one per row of `rules::CACHE_FIXES` (id `cache-<rule>`).
pub const LINT_RULES: &[LintRule] = &[
    LintRule {
        id: "cache-apk",
        hadolint: Some("DL3019"),
        summary: "`apk add` without --no-cache (or a cache mount on /var/cache/apk) keeps the index",
    },
    LintRule {
        id: "cache-apt-lists",
        hadolint: Some("DL3009"),
        summary: "`apt-get update` without `rm -rf /var/lib/apt/lists/*` in the same RUN",
    },
    LintRule {
        id: "cache-apt-archives",
        hadolint: None,
        summary: "`apt-get install` on a base without docker-clean keeps .debs unless `apt-get clean`",
    },
    LintRule {
        id: "cache-pip",
        hadolint: Some("DL3042"),
        summary: "`pip install` without --no-cache-dir (or PIP_NO_CACHE_DIR, or a cache mount)",
    },
    LintRule {
        id: "cache-npm",
        hadolint: None,
        summary: "`npm install` without `npm cache clean --force` in the same RUN",
    },
    LintRule {
        id: "cache-yarn",
        hadolint: Some("DL3060"),
        summary: "`yarn install` without `yarn cache clean` in the same RUN",
    },
    LintRule {
        id: "cache-yum",
        hadolint: Some("DL3032"),
        summary: "`yum install` without `yum clean all`",
    },
    LintRule {
        id: "cache-dnf",
        hadolint: Some("DL3040"),
        summary: "`dnf install` without `dnf clean all`",
    },
    LintRule {
        id: "cache-zypper",
        hadolint: Some("DL3036"),
        summary: "`zypper install` without `zypper clean`",
    },
    LintRule {
        id: "merge-cleanup",
        hadolint: Some("DL3059"),
        summary: "a RUN that deletes files right after another RUN with the same flags: merge them",
    },
    LintRule {
        id: "separate-cleanup",
        hadolint: None,
        summary: "a RUN that only deletes files saves nothing: delete in the RUN that made them",
    },
    LintRule {
        id: "copy-chown",
        hadolint: None,
        summary: "`RUN chown -R`/`chmod -R` on a COPY destination copies the tree: COPY --chown/--chmod",
    },
];

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// dredge's rule id.
    pub rule: &'static str,
    /// hadolint's id, if it has one.
    pub hadolint: Option<&'static str>,
    /// First line of the instruction.
    pub line: usize,
    /// What to do.
    pub message: String,
}

fn rule(id: &str) -> &'static LintRule {
    LINT_RULES
        .iter()
        .find(|r| r.id == id)
        .expect("every rule used is in LINT_RULES (tested)")
}

fn finding(id: &'static str, line: usize, message: String) -> Finding {
    Finding {
        rule: rule(id).id,
        hadolint: rule(id).hadolint,
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
    let id: &'static str = match fix.rule {
        "apk" => "cache-apk",
        "apt-lists" => "cache-apt-lists",
        "apt-archives" => "cache-apt-archives",
        "pip" => "cache-pip",
        "npm" => "cache-npm",
        "yarn" => "cache-yarn",
        "yum" => "cache-yum",
        "dnf" => "cache-dnf",
        "zypper" => "cache-zypper",
        _ => return,
    };
    if id == "cache-apt-archives" {
        return; // needs to know the base image (docker-clean): only `advise` can tell
    }
    // Only stages whose layers ship: the final one and the stages it is built FROM.
    if !ins.stage.is_some_and(|s| shipping_stages(df).contains(&s)) {
        return;
    }
    let cleaned = fix.cleaned_by.iter().any(|c| text.contains(c));
    let missing = match fix.flag {
        Some(_) => {
            let lacking = edit::tool_sub_ends(&text, fix.tools, fix.sub, fix.flag_equivalents);
            let env_ok = fix.rule == "pip"
                && (truthy(&stage_env(df, idx), "PIP_NO_CACHE_DIR")
                    || truthy(&text, "PIP_NO_CACHE_DIR"));
            let no_network = fix.rule == "apk" && text.contains("--no-network");
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
                rule(id).summary,
                fix.mount
            ),
        ));
    }
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
                "merge-cleanup",
                ins.start_line,
                format!(
                    "merge with the RUN at line {}: files it deletes still ship in that layer",
                    p.start_line
                ),
            ));
        } else if only_deletes(&text) && prev_run.is_none() {
            out.push(finding(
                "separate-cleanup",
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
                    "copy-chown",
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
            .map(|f| (f.rule, f.line))
            .collect()
    }

    #[test]
    fn rule_table_is_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in LINT_RULES {
            assert!(seen.insert(r.id));
            assert!(r.hadolint.is_none_or(|h| h.starts_with("DL")));
        }
        for f in CACHE_FIXES {
            assert!(
                LINT_RULES
                    .iter()
                    .any(|r| r.id == format!("cache-{}", f.rule))
            );
        }
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
