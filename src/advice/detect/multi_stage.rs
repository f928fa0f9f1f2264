//! Compilers, headers and static libraries in the final image: build in another stage.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::advice::context::{Ctx, evidence_rows};
use crate::advice::rules;
use crate::advice::types::{Evidence, Kind, Suggestion};
use crate::model::display_path;

pub(super) fn multi_stage(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut groups: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut layers = BTreeSet::new();
    let mut ev = Vec::new();
    let mut seen = HashSet::new();
    for (path, node) in &ctx.live {
        let Some(i) = node.inode() else { continue };
        let Some(tool) = rules::build_tool(path) else {
            continue;
        };
        if !seen.insert(i) {
            continue;
        }
        let inode = ctx.st.inode(i);
        if !ctx.ours(inode.layer) {
            continue;
        }
        let g = groups.entry(tool).or_default();
        g.0 += inode.size;
        g.1 += 1;
        layers.insert(inode.layer);
        ev.push(Evidence {
            path: display_path(path),
            bytes: inode.size,
            files: 1,
            added_in: inode.layer,
            hidden_by: None,
            reason: "visible",
        });
    }
    if groups.is_empty() {
        return;
    }
    let bytes: u64 = groups.values().map(|g| g.0).sum();
    let layers: Vec<usize> = layers.into_iter().collect();
    let what = groups
        .iter()
        .map(|(k, (b, f))| format!("{k} {} in {f} files", crate::units::size(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    let (evidence, more) = evidence_rows(ev);
    out.push(Suggestion {
        kind: Kind::MultiStage,
        bytes_saved: bytes,
        title: format!("build tooling in the final image ({what}): build in a separate stage"),
        lines: ctx.spans(&layers),
        layers,
        evidence,
        evidence_more: more,
        snippet: "FROM <base> AS build\n\
                  RUN <install compilers and -dev packages, build into /out>\n\
                  \n\
                  FROM <base>\n\
                  RUN <install runtime packages only>\n\
                  COPY --from=build /out/ /usr/local/"
            .to_string(),
        mechanical: false,
        hadolint: None,
        note: Some(
            "the saving is the bytes of these paths; the COPY --from layer adds back what you copy"
                .into(),
        ),
        changes: vec![],
        covers: vec![],
    });
}
