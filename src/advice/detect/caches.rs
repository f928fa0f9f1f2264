//! Package-manager caches and temp files a RUN left in the final filesystem: a flag, a cleanup or a
//! cache mount.

use std::collections::{BTreeMap, HashSet};

use crate::advice::context::{Ctx, evidence_rows};
use crate::advice::edit::{self, Change};
use crate::advice::rules;
use crate::advice::shell::sh_quote;
use crate::advice::types::{Evidence, Kind, Suggestion};
use crate::analysis::caches;
use crate::model::display_path;

/// The cache directory a path lies in: the rule directory with its `*` filled in.
fn concrete_dir(rule: &caches::CacheRule, path: &[u8]) -> Option<String> {
    let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    rule.dirs.iter().find_map(|d| {
        let want: Vec<&str> = d.split('/').collect();
        (comps.len() > want.len()
            && want
                .iter()
                .zip(&comps)
                .all(|(w, c)| *w == "*" || w.as_bytes() == *c))
        .then(|| display_path(&comps[..want.len()].join(&b'/')))
    })
}

/// Cache files one layer left: (directory, bytes, files, evidence).
type Found = (String, u64, u64, Vec<Evidence>);

pub(super) fn caches_left(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    // (layer, rule) → (dir, bytes, files, evidence)
    let mut found: BTreeMap<(usize, caches::CacheKind), Found> = BTreeMap::new();
    let mut seen = HashSet::new();
    for (path, node) in &ctx.live {
        let Some(i) = node.inode() else { continue };
        if !seen.insert(i) {
            continue;
        }
        let inode = ctx.st.inode(i);
        let Some(rule) = caches::classify(path) else {
            continue;
        };
        if !ctx.ours(inode.layer) || !ctx.is_run(inode.layer) {
            continue;
        }
        let Some(dir) = concrete_dir(rule, path) else {
            continue;
        };
        let e = found
            .entry((inode.layer, rule.id))
            .or_insert_with(|| (dir, 0, 0, Vec::new()));
        e.1 += inode.size;
        e.2 += 1;
        e.3.push(Evidence {
            path: display_path(path),
            bytes: inode.size,
            files: 1,
            added_in: inode.layer,
            hidden_by: None,
            reason: "visible",
        });
    }
    for ((layer, rule_id), (dir, bytes, files, ev)) in found {
        let fix = rules::cache_fix(rule_id);
        let cleanup = fix.map_or_else(
            || format!("rm -rf {}/*", sh_quote(&dir)),
            |f| f.cleanup.replace("{dir}", &sh_quote(&dir)),
        );
        let mut changes = Vec::new();
        let mut how = format!("append `&& {cleanup}`");
        if let Some(ins_idx) = ctx.map.instruction[layer]
            && let Some(df) = ctx.df
        {
            let ins = &df.instructions[ins_idx];
            let flag_fits = fix.and_then(|f| f.flag.map(|fl| (f, fl))).filter(|(f, _)| {
                df.lines[ins.start_line - 1..ins.end_line]
                    .iter()
                    .any(|l| !edit::tool_sub_ends(l, f.tools, f.sub, f.flag_equivalents).is_empty())
            });
            match flag_fits {
                Some((f, flag)) => {
                    how = format!("use `{} {} {flag}`", f.tools[0], f.sub);
                    changes.push(Change::InsertFlag {
                        instr: ins_idx,
                        tools: f.tools,
                        sub: f.sub,
                        flag,
                    });
                }
                None => changes.push(Change::Append {
                    instr: ins_idx,
                    command: cleanup.clone(),
                }),
            }
        }
        let mount = fix.map_or(dir.as_str(), |f| f.mount);
        let (evidence, more) = evidence_rows(ev);
        out.push(Suggestion {
            kind: Kind::Cache,
            bytes_saved: bytes,
            title: format!(
                "{rule_id} cache left by layer {layer} ({files} file{} in {dir}): {how}",
                if files == 1 { "" } else { "s" }
            ),
            layers: vec![layer],
            lines: ctx.spans(&[layer]),
            evidence,
            evidence_more: more,
            snippet: format!("RUN {} && {cleanup}", ctx.command(layer)),
            mechanical: !changes.is_empty(),
            hadolint: fix.and_then(|f| f.hadolint),
            note: Some(format!(
                "or, with BuildKit: RUN --mount=type=cache,target={mount} …"
            )),
            changes,
            covers: vec![],
        });
    }
}
