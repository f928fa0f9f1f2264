//! `RUN chown`/`chmod` (recursive or not) copying files a COPY/ADD put in an earlier layer:
//! `COPY --chown`/`--chmod` instead. The image says which files the RUN rewrote and their bytes.

use std::collections::{BTreeMap, BTreeSet};

use crate::advice::context::{Ctx, hidden_evidence};
use crate::advice::edit::{self, Change};
use crate::advice::shell::{octal_mode, owner_change};
use crate::advice::types::{Kind, Suggestion};
use crate::analysis::stack::{HiddenItem, Reason};
use crate::model::EntryKind;

pub(super) fn copy_chown(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut by_run: BTreeMap<usize, Vec<(usize, &HiddenItem)>> = BTreeMap::new();
    for (i, h) in ctx.st.hidden.iter().enumerate() {
        if h.reason == Reason::Overwritten
            && ctx.ours(h.added())
            && ctx.is_copy(h.added())
            && ctx.is_run(h.hidden_by())
            && owner_change(&ctx.command(h.hidden_by())).is_some()
        {
            by_run.entry(h.hidden_by()).or_default().push((i, h));
        }
    }
    for (run, found) in by_run {
        let covers: Vec<usize> = found.iter().map(|f| f.0).collect();
        let items: Vec<&HiddenItem> = found.iter().map(|f| f.1).collect();
        let cmd = ctx.command(run);
        let Some((flag, value, recursive)) = owner_change(&cmd) else {
            continue;
        };
        let bytes: u64 = items.iter().map(|h| h.bytes).sum();
        let copies: BTreeSet<usize> = items.iter().map(|h| h.added()).collect();
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let mut changes = Vec::new();
        let mut note = if flag == "chmod" {
            Some("COPY --chmod needs BuildKit (the classic builder refuses it)".to_string())
        } else {
            None
        };
        // Mechanical only when the RUN is that one command and it copies nothing but COPYed files.
        let only_copies = ctx
            .st
            .hidden
            .iter()
            .filter(|h| h.hidden_by() == run)
            .all(|h| copies.contains(&h.added()));
        // COPY --chmod/--chown sets every file of the COPY: without -R, only when the RUN rewrote
        // all of them (a single copied file).
        let whole = recursive
            || copies.iter().all(|&c| {
                let regular = ctx.image.layers[c]
                    .entries
                    .iter()
                    .filter(|e| e.kind() == EntryKind::File)
                    .count() as u64;
                let rewritten: u64 = items
                    .iter()
                    .filter(|h| h.added() == c)
                    .map(|h| h.files)
                    .sum();
                rewritten >= regular
            });
        let single = edit::changes_shell_state(&cmd) || cmd.contains("&&") || cmd.contains(';');
        if let (Some(df), Some(r)) = (ctx.df, ctx.map.instruction[run]) {
            let copy_instrs: Vec<usize> = copies
                .iter()
                .filter_map(|&c| ctx.map.instruction[c])
                .collect();
            let flagged = copy_instrs
                .iter()
                .any(|&c| df.instructions[c].flag(flag).is_some());
            let provable = flag == "chown" || octal_mode(&value);
            if !provable {
                note = Some(format!(
                    "`chmod {value}` is not one octal mode for files and directories alike: pick the \
                     mode for COPY --chmod by hand"
                ));
            } else if only_copies
                && whole
                && !single
                && !flagged
                && copy_instrs.len() == copies.len()
            {
                for c in copy_instrs {
                    changes.push(Change::AddFlag {
                        instr: c,
                        flag: format!("--{flag}={value}"),
                    });
                }
                changes.push(Change::Delete { instr: r });
            } else if !whole {
                note = Some(format!(
                    "`{flag}` changes only some of the files the COPY put there, and COPY --{flag} \
                     would change them all: edit by hand"
                ));
            } else if note.is_none() {
                note = Some(
                    "the RUN does more than this, or also changes files not COPYed: edit by hand"
                        .into(),
                );
            }
        }
        let mut layers: Vec<usize> = copies.iter().copied().collect();
        layers.push(run);
        out.push(Suggestion {
            kind: Kind::CopyChown,
            bytes_saved: bytes,
            title: format!(
                "layer {run} (`{flag}{}`) copies the {} COPYed by layer(s) {}: use COPY --{flag}={value}",
                if recursive { " -R" } else { "" },
                if recursive { "tree" } else { "files" },
                copies.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
            ),
            lines: ctx.spans(&layers),
            layers,
            evidence,
            evidence_more: more,
            snippet: format!("COPY --{flag}={value} <src> <dst>   # instead of RUN {cmd}"),
            mechanical: !changes.is_empty(),
            hadolint: None,
            note,
            changes,
            covers,
        });
    }
}
