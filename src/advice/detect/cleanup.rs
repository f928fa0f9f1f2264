//! Delete, in the RUN that made them, files a later RUN (not mergeable with it) deletes.

use std::collections::{BTreeMap, BTreeSet};

use crate::advice::context::{Ctx, hidden_evidence};
use crate::advice::edit::Change;
use crate::advice::shell::{has_forced_rm, sh_quote};
use crate::advice::types::{Kind, Suggestion};
use crate::analysis::stack::{HiddenItem, Reason};

pub(super) fn cleanup_moves(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let group = &ctx.group;
    let mut by_pair: BTreeMap<(usize, usize), Vec<(usize, &HiddenItem)>> = BTreeMap::new();
    for (i, h) in ctx.st.hidden.iter().enumerate() {
        if matches!(h.reason, Reason::Deleted | Reason::Opaque)
            && h.added() < h.hidden_by()
            && group[h.added()] != group[h.hidden_by()]
            && ctx.ours(h.added())
            && ctx.is_run(h.added())
            && ctx.is_run(h.hidden_by())
        {
            by_pair
                .entry((h.added(), h.hidden_by()))
                .or_default()
                .push((i, h));
        }
    }
    for ((x, y), found) in by_pair {
        let covers: Vec<usize> = found.iter().map(|f| f.0).collect();
        let items: Vec<&HiddenItem> = found.iter().map(|f| f.1).collect();
        let bytes: u64 = items.iter().map(|h| h.bytes).sum();
        let paths: BTreeSet<String> = items
            .iter()
            .map(|h| ctx.image.paths.display(h.path))
            .collect();
        let rm = format!(
            "rm -rf {}",
            paths
                .iter()
                .map(|p| sh_quote(p))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let mut note = None;
        let mut changes = Vec::new();
        if let (Some(df), Some(a), Some(b)) =
            (ctx.df, ctx.map.instruction[x], ctx.map.instruction[y])
        {
            let runs_between = df.instructions[a + 1..b].iter().any(|i| i.keyword == "RUN");
            if runs_between {
                note = Some(
                    "RUNs between them may read these files: check before moving the cleanup"
                        .into(),
                );
            } else if !has_forced_rm(&ctx.command(y)) {
                note = Some(format!(
                    "the deleting RUN (line {}) has no `rm -f`: drop its deletion when moving it",
                    df.instructions[b].start_line
                ));
            } else {
                changes.push(Change::Append {
                    instr: a,
                    command: rm.clone(),
                });
            }
        }
        out.push(Suggestion {
            kind: Kind::CleanupInCreatingRun,
            bytes_saved: bytes,
            title: format!("delete in layer {x}'s RUN what layer {y} deletes later"),
            layers: vec![x, y],
            lines: ctx.spans(&[x, y]),
            evidence,
            evidence_more: more,
            snippet: format!("RUN {} && \\\n    {rm}", ctx.command(x)),
            mechanical: !changes.is_empty(),
            hadolint: None,
            note,
            changes,
            covers,
        });
    }
}
