//! Merge consecutive RUNs whose later ones delete or overwrite what earlier ones wrote. The saving is
//! the layers' content bytes minus what the layers squashed into one would hold
//! ([`crate::analysis::stack::squash`]).

use crate::advice::context::{Ctx, hidden_evidence};
use crate::advice::edit::{self, Change};
use crate::advice::types::{Kind, Suggestion};
use crate::analysis::stack::{self, HiddenItem};

pub(super) fn merge_runs(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let group = &ctx.group;
    // Intervals [added, hidden_by] inside one group, joined where they overlap.
    let mut spans: Vec<(usize, usize)> = ctx
        .st
        .hidden
        .iter()
        .filter(|h| h.added() < h.hidden_by() && group[h.added()] == group[h.hidden_by()])
        .map(|h| (h.added(), h.hidden_by()))
        .collect();
    spans.sort_unstable();
    let mut joined: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match joined.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => joined.push((a, b)),
        }
    }
    for (first, last) in joined {
        let layers: Vec<usize> = (first..=last).collect();
        let separate: u64 = layers.iter().map(|&l| ctx.st.layers[l].content_bytes).sum();
        let merged = stack::squash(ctx.image, &ctx.paths, first..=last).visible_bytes();
        let saved = separate.saturating_sub(merged);
        let covers: Vec<usize> = ctx
            .st
            .hidden
            .iter()
            .enumerate()
            .filter(|(_, h)| h.added() >= first && h.hidden_by() <= last)
            .map(|(i, _)| i)
            .collect();
        let items: Vec<&HiddenItem> = covers.iter().map(|&i| &ctx.st.hidden[i]).collect();
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let cmds: Vec<String> = layers
            .iter()
            .map(|&l| {
                let c = ctx.command(l);
                if l < last && edit::changes_shell_state(&c) {
                    format!("( {} )", c.trim_end().trim_end_matches(';'))
                } else {
                    c
                }
            })
            .collect();
        let snippet = format!("RUN {}", cmds.join(" && \\\n    "));
        let changes = match (
            ctx.df,
            ctx.map.instruction[first],
            ctx.map.instruction[last],
        ) {
            (Some(_), Some(a), Some(b)) => vec![Change::Merge { first: a, last: b }],
            _ => vec![],
        };
        out.push(Suggestion {
            kind: Kind::MergeRuns,
            bytes_saved: saved,
            title: format!(
                "merge the RUNs of layers {first}-{last}: later ones delete or overwrite what earlier ones wrote"
            ),
            lines: ctx.spans(&layers),
            layers,
            evidence,
            evidence_more: more,
            snippet,
            mechanical: !changes.is_empty(),
            hadolint: Some("DL3059"),
            note: if ctx.df.is_none() {
                Some("from the history alone: check that the RUNs have the same --mount/--network flags".into())
            } else {
                None
            },
            changes,
            covers,
        });
    }
}
