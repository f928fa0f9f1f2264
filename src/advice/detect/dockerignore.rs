//! Junk sent by the build context and COPYed in: a `.dockerignore`.

use std::collections::{BTreeMap, BTreeSet};

use crate::advice::context::{Ctx, evidence_rows};
use crate::advice::edit::Change;
use crate::advice::rules;
use crate::advice::types::{Evidence, Kind, Suggestion};
use crate::model::{EntryKind, display_path};

/// A file copied from the build context, as `dockerignore` looks at it.
struct Junk<'a> {
    path: &'a [u8],
    size: u64,
}

pub(super) fn dockerignore(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut patterns: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut layers = BTreeSet::new();
    let mut ev: BTreeMap<(usize, String), (u64, u64)> = BTreeMap::new();
    for (li, layer) in ctx.image.layers.iter().enumerate() {
        if !ctx.ours(li) || !ctx.is_copy(li) {
            continue;
        }
        if ctx.instr(li).is_some_and(|i| i.flag("from").is_some()) {
            continue; // copied from a stage or image, not from the context
        }
        // Build outputs that say so: a directory holding a CACHEDIR.TAG (cargo's target/, …).
        let files: Vec<(Vec<u8>, u64)> = layer
            .entries
            .iter()
            .filter(|e| e.kind() == EntryKind::File)
            .map(|e| (ctx.image.paths.bytes(e.path), e.size))
            .collect();
        let tagged: Vec<&[u8]> = files
            .iter()
            .filter_map(|(p, _)| p.strip_suffix(b"/CACHEDIR.TAG".as_slice()))
            .collect();
        for (path, size) in &files {
            let e = Junk { path, size: *size };
            let comps: Vec<&[u8]> = e.path.split(|&b| b == b'/').collect();
            let (k, pat) = if let Some((name, pat)) = rules::context_junk(e.path) {
                let k = comps
                    .iter()
                    .position(|c| *c == name.as_bytes())
                    .unwrap_or(0);
                (k, pat.to_string())
            } else if let Some(dir) = tagged
                .iter()
                .find(|d| e.path.starts_with(d) && e.path.get(d.len()) == Some(&b'/'))
            {
                let k = dir.split(|&b| b == b'/').count() - 1;
                (k, format!("**/{}", String::from_utf8_lossy(comps[k])))
            } else {
                continue;
            };
            let p = patterns.entry(pat).or_default();
            p.0 += e.size;
            p.1 += 1;
            layers.insert(li);
            // Evidence per junk directory.
            let dir = display_path(&comps[..=k].join(&b'/'));
            let r = ev.entry((li, dir)).or_default();
            r.0 += e.size;
            r.1 += 1;
        }
    }
    if patterns.is_empty() {
        return;
    }
    let bytes = patterns.values().map(|p| p.0).sum();
    let pats: Vec<String> = patterns.keys().cloned().collect();
    let changes = if ctx.df.is_some() {
        vec![Change::Ignore {
            patterns: pats.clone(),
        }]
    } else {
        vec![]
    };
    let (evidence, more) = evidence_rows(
        ev.into_iter()
            .map(|((l, path), (b, f))| Evidence {
                path,
                bytes: b,
                files: f,
                added_in: l,
                hidden_by: None,
                reason: "visible",
            })
            .collect(),
    );
    let layers: Vec<usize> = layers.into_iter().collect();
    out.push(Suggestion {
        kind: Kind::Dockerignore,
        bytes_saved: bytes,
        title: format!(
            "COPY sent {} the image rarely needs: add them to .dockerignore",
            pats.join(", ")
        ),
        lines: ctx.spans(&layers),
        layers,
        evidence,
        evidence_more: more,
        snippet: pats.join("\n"),
        mechanical: !changes.is_empty(),
        hadolint: None,
        note: Some(
            "the .dockerignore goes next to the Dockerfile (assumed to be the build context)"
                .into(),
        ),
        changes,
        covers: vec![],
    });
}
