//! From waste to Dockerfile changes: which instruction made each layer, what to change, and exactly how
//! many bytes each change saves. Savings come from the stacked image (shared/docs/size-rules.md §3):
//! merging RUNs is simulated by squashing the layers' range ([`crate::analysis::stack::squash`]).
//!
//! `types` is the document; `history` ties layers to instructions; `context` gathers what the
//! detectors (`detect/`) look at; `shell` reads commands; `edit` and `snippet` turn suggestions into
//! Dockerfile text.

pub mod command;
mod context;
mod detect;
pub mod dockerfile;
pub mod edit;
pub mod history;
pub mod lint;
pub mod rules;
mod shell;
mod snippet;
mod types;

pub use types::{Advice, Evidence, Kind, LayerStep, LineSpan, Suggestion, Unaddressed};

use crate::analysis::stack as analysis_reason;
use crate::model::Image;
use context::Ctx;
use dockerfile::Dockerfile;
use edit::Change;

/// Works out the suggestions for `image`; with a Dockerfile, also their edits and line numbers.
pub fn advise(source: &str, image: &Image, df: Option<&Dockerfile>) -> Advice {
    let mut warnings = Vec::new();
    let given = df;
    let (map, df, mismatch) = match df {
        Some(d) => match history::match_dockerfile(image, d) {
            Ok(m) => (m, Some(d), None),
            Err(e) => (history::from_history(image), None, Some(e.to_string())),
        },
        None => (history::from_history(image), None, None),
    };
    if image
        .layers
        .iter()
        .all(|l| l.history.created_by.as_deref().is_none_or(str::is_empty))
        && !image.layers.is_empty()
    {
        warnings.push(
            "the image's history records no `created_by`: layers cannot be tied to instructions"
                .to_string(),
        );
    }
    let ctx = Ctx::new(image, df, map);
    let mut out = detect::all(&ctx);
    // Snippets of mechanical suggestions come from applying their own edit.
    if let Some(d) = ctx.df {
        for s in &mut out {
            if s.mechanical && !s.changes.is_empty() {
                match edit::apply(d, &s.changes, None) {
                    Ok((new, ignore)) => {
                        if let Some(ig) = ignore {
                            s.snippet = ig
                                .lines()
                                .filter(|l| !l.starts_with('#'))
                                .collect::<Vec<_>>()
                                .join("\n");
                        } else {
                            s.snippet = snippet::changed_instructions(d, &new);
                        }
                    }
                    Err(e) => {
                        s.mechanical = false;
                        s.changes.clear();
                        s.note = Some(format!("not applied automatically: {e}"));
                    }
                }
            }
        }
    }
    out.retain(|s| s.bytes_saved > 0);
    out.sort_by(|a, b| {
        b.bytes_saved
            .cmp(&a.bytes_saved)
            .then(a.kind.cmp(&b.kind))
            .then(a.layers.cmp(&b.layers))
    });
    // What `--diff` applies: every mechanical suggestion, largest first, that applies together with
    // the ones before it; the others say why they are left to the user.
    if let Some(d) = ctx.df {
        let mut taken: Vec<Change> = Vec::new();
        for s in &mut out {
            if !s.mechanical {
                continue;
            }
            let mut trial = taken.clone();
            trial.extend(s.changes.iter().cloned());
            match edit::apply(d, &trial, None) {
                Ok(_) => taken = trial,
                Err(e) => {
                    s.mechanical = false;
                    s.changes.clear();
                    let why = format!("not applied by --diff: with the larger suggestions, {e}");
                    s.note = Some(match s.note.take() {
                        Some(n) => format!("{why}; {n}"),
                        None => why,
                    });
                }
            }
        }
    }
    let (reclaimable_bytes, addressed_bytes, unaddressed) = accounting(&ctx, &out);
    let layers = image
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerStep {
            index: i,
            created_by: l.history.created_by.clone(),
            content_bytes: ctx.st.layers[i].content_bytes,
            lines: ctx.span(i),
            base: ctx.df.is_some() && i < ctx.map.base_layers,
        })
        .collect();
    Advice {
        source: source.to_string(),
        dockerfile: given.map(|d| d.path.clone()),
        dockerfile_matched: ctx.df.is_some(),
        mismatch,
        size_bytes: ctx.st.layers.iter().map(|l| l.content_bytes).sum(),
        bytes_saved: out.iter().map(|s| s.bytes_saved).sum(),
        reclaimable_bytes,
        addressed_bytes,
        diff_bytes_saved: out
            .iter()
            .filter(|s| s.mechanical)
            .map(|s| s.bytes_saved)
            .sum(),
        unaddressed,
        layers,
        suggestions: out,
        warnings,
    }
}

/// Unaddressed groups shown: the largest ones; the rest are summed into one last row.
const UNADDRESSED_ROWS: usize = 20;

/// Why no suggestion removes hidden bytes written by layer `added` and hidden by layer `by`.
fn unaddressed_reason(
    ctx: &Ctx<'_>,
    added: usize,
    by: usize,
    reason: analysis_reason::Reason,
) -> String {
    use analysis_reason::Reason;
    if !ctx.ours(added) {
        return if ctx.ours(by) {
            "the base image ships it: deleting it later cannot take it out of the base's layer"
                .into()
        } else {
            "the base image ships it".into()
        };
    }
    if ctx.df.is_none()
        && ctx.map.base_layers == 0
        && ctx.image.layers[added]
            .history
            .created_by
            .as_deref()
            .is_none_or(str::is_empty)
    {
        return "no instruction is known for its layer".into();
    }
    let from_stage = ctx.instr(added).and_then(|i| i.flag("from")).is_some();
    if ctx.is_copy(added) {
        if from_stage {
            return "written by a COPY from another stage: copy only what the final image keeps"
                .into();
        }
        return match reason {
            Reason::Overwritten => "a later instruction rewrites files a COPY brought in: change them before the COPY (in the build context or a build stage)".into(),
            _ if !ctx.is_run(by) => "a later COPY replaces what a COPY brought in: drop the first COPY or narrow it".into(),
            _ => "a COPY's files deleted later: see the copy-then-delete suggestion's note".into(),
        };
    }
    if ctx.is_run(added) && ctx.is_copy(by) {
        return "a COPY replaces what a RUN wrote: have the RUN not write it, or COPY first".into();
    }
    if !ctx.is_run(added) {
        return "written by an instruction other than RUN or COPY".into();
    }
    if ctx.is_run(by) && reason == Reason::Overwritten {
        return "a later RUN (that cannot be merged with it) rewrites it: do that in the RUN that wrote it".into();
    }
    "no Dockerfile change found for it".into()
}

/// Reclaimable bytes (hidden in the final filesystem), the part the suggestions remove (each hidden
/// item once), and the rest grouped by (layer, hiding layer, reason), largest first.
fn accounting(ctx: &Ctx<'_>, out: &[Suggestion]) -> (u64, u64, Vec<Unaddressed>) {
    let hidden = &ctx.st.hidden;
    let reclaimable: u64 = hidden.iter().map(|h| h.bytes).sum();
    let mut covered = vec![false; hidden.len()];
    for s in out {
        for &i in &s.covers {
            if let Some(c) = covered.get_mut(i) {
                *c = true;
            }
        }
    }
    let addressed: u64 = hidden
        .iter()
        .zip(&covered)
        .filter(|(_, c)| **c)
        .map(|(h, _)| h.bytes)
        .sum();
    // (layer, hiding layer, reason) → (bytes, items, largest item's bytes, its path)
    type Group = (u64, usize, u64, String);
    let mut groups: std::collections::BTreeMap<(usize, usize, String), Group> =
        std::collections::BTreeMap::new();
    for (h, _) in hidden
        .iter()
        .zip(&covered)
        .filter(|(h, c)| !**c && h.bytes > 0)
    {
        let why = unaddressed_reason(ctx, h.added(), h.hidden_by(), h.reason);
        let g = groups
            .entry((h.added(), h.hidden_by(), why))
            .or_insert((0, 0, 0, String::new()));
        g.0 += h.bytes;
        g.1 += 1;
        if h.bytes > g.2 || g.3.is_empty() {
            g.2 = h.bytes;
            g.3 = ctx.image.paths.display(h.path);
        }
    }
    let mut rows: Vec<Unaddressed> = groups
        .into_iter()
        .map(
            |((layer, hidden_by, reason), (bytes, items, _, path))| Unaddressed {
                path,
                items,
                bytes,
                layer,
                hidden_by,
                reason,
            },
        )
        .collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.layer.cmp(&b.layer)));
    if rows.len() > UNADDRESSED_ROWS {
        let rest = rows.split_off(UNADDRESSED_ROWS - 1);
        rows.push(Unaddressed {
            path: format!("{} more groups", rest.len()),
            items: rest.iter().map(|r| r.items).sum(),
            bytes: rest.iter().map(|r| r.bytes).sum(),
            layer: rest.iter().map(|r| r.layer).min().unwrap_or(0),
            hidden_by: rest.iter().map(|r| r.hidden_by).max().unwrap_or(0),
            reason: "smaller groups, reasons as above".into(),
        });
    }
    (reclaimable, addressed, rows)
}

/// The whole edit of the mechanical suggestions, as new texts (Dockerfile, `.dockerignore`), with
/// the bytes those suggestions save; a suggestion whose edit does not apply with the others is left
/// out, named (1-based, as in the table) with the reason, never failing the rest.
pub fn apply_all(df: &Dockerfile, advice: &Advice, old_ignore: Option<&str>) -> Applied {
    let mut taken: Vec<Change> = Vec::new();
    let mut bytes_saved = 0;
    let mut left_out = Vec::new();
    for (i, s) in advice.suggestions.iter().enumerate() {
        if !s.mechanical {
            continue;
        }
        let mut trial = taken.clone();
        trial.extend(s.changes.iter().cloned());
        match edit::apply(df, &trial, old_ignore) {
            Ok(_) => {
                taken = trial;
                bytes_saved += s.bytes_saved;
            }
            Err(e) => left_out.push((i + 1, e)),
        }
    }
    let (dockerfile, dockerignore) = match edit::apply(df, &taken, old_ignore) {
        Ok(t) => t,
        // Each step applied above; the whole cannot fail. Should it, nothing is changed.
        Err(e) => {
            left_out.push((0, e));
            bytes_saved = 0;
            let same = edit::apply(df, &[], None).map_or_else(|_| df.lines.join("\n"), |t| t.0);
            (same, None)
        }
    };
    Applied {
        dockerfile,
        dockerignore,
        bytes_saved,
        left_out,
    }
}

/// The mechanical suggestions applied together.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The new Dockerfile text.
    pub dockerfile: String,
    /// The new `.dockerignore` text, when patterns were added.
    pub dockerignore: Option<String>,
    /// Σ `bytes_saved` of the suggestions applied.
    pub bytes_saved: u64,
    /// Suggestions left out: (number in the table, why).
    pub left_out: Vec<(usize, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Compression, Entry, EntryKind, History, Layer};

    thread_local! {
        static PATHS: std::cell::RefCell<crate::model::Paths> = Default::default();
    }
    /// Interns a test path in this test's (thread's) path table.
    fn p(path: &str) -> crate::model::PathId {
        PATHS.with(|t| t.borrow_mut().intern(path.as_bytes()))
    }
    /// This test's (thread's) path table.
    fn paths() -> crate::model::Paths {
        PATHS.with(|t| t.borrow().clone())
    }
    /// An image of `layers` (made first: their entries' paths are interned as they are built).
    fn image(layers: Vec<Layer>) -> Image {
        Image {
            source: "t".into(),
            format: "docker-archive",
            id: None,
            tags: vec![],
            warnings: vec![],
            layers,
            paths: paths(),
        }
    }

    fn entry(path: &str, kind: EntryKind, size: u64) -> Entry {
        Entry::new(p(path), kind, size, 0)
    }
    fn layer(index: usize, created_by: &str, entries: Vec<Entry>) -> Layer {
        Layer {
            index,
            diff_id: None,
            origin: String::new(),
            compression: Compression::None,
            blob_bytes: 0,
            stored_as_link: false,
            history: History {
                created_by: Some(created_by.into()),
                ..History::default()
            },
            entries,
            hashes: vec![],
        }
    }
    fn f(p: &str, n: u64) -> Entry {
        entry(p, EntryKind::File, n)
    }

    /// The worked example of image-archives.md §9, with the history of its Dockerfile.
    fn example() -> Image {
        use EntryKind::*;
        image(vec![
            layer(
                0,
                "",
                vec![
                    f("bin/app", 1_000_000),
                    f("etc/conf", 2_000),
                    entry("var/cache/pkg", Dir, 0),
                    f("var/cache/pkg/index", 5_000_000),
                ],
            ),
            layer(
                1,
                "/bin/sh -c install",
                vec![
                    f("usr/lib/libx.so", 3_000_000),
                    f("var/cache/pkg/x.deb", 2_500_000),
                    entry("tmp/build", Dir, 0),
                    f("tmp/build/obj.o", 800_000),
                ],
            ),
            layer(
                2,
                "/bin/sh -c chmod +x /usr/lib/libx.so && rm -rf /tmp/build",
                vec![
                    f("usr/lib/libx.so", 3_000_000),
                    entry("tmp/build", Whiteout, 0),
                ],
            ),
            layer(
                3,
                "/bin/sh -c rm -rf /var/cache/pkg && mkdir /var/cache/pkg && edit /etc/conf",
                vec![entry("var/cache/pkg", Opaque, 0), f("etc/conf", 2_100)],
            ),
        ])
    }

    #[test]
    fn merged_layer_matches_the_worked_example() {
        let img = example();
        // §9: merging L1-L3 drops libx.so's first copy (3 000 000), obj.o (800 000) and x.deb (2 500 000).
        let paths = crate::analysis::paths::PathTable::of(&img);
        let merged = |r: std::ops::RangeInclusive<usize>| {
            crate::analysis::stack::squash(&img, &paths, r).visible_bytes()
        };
        let sep: u64 = img.layers[1..=3].iter().map(Layer::content_bytes).sum();
        assert_eq!(sep - merged(1..=3), 6_300_000);
        // L1-L2 only: libx.so's copy and obj.o.
        let sep: u64 = img.layers[1..=2].iter().map(Layer::content_bytes).sum();
        assert_eq!(sep - merged(1..=2), 3_800_000);
        let a = advise("t", &img, None);
        let merge: Vec<_> = a
            .suggestions
            .iter()
            .filter(|s| s.kind == Kind::MergeRuns)
            .collect();
        assert_eq!(merge.len(), 1);
        assert_eq!(merge[0].layers, vec![1, 2, 3]);
        assert_eq!(merge[0].bytes_saved, 6_300_000);
        // The base's /var/cache/pkg/index (L0, hidden by L3) is not ours to save.
        assert_eq!(a.bytes_saved, 6_300_000);
    }

    /// Layer 1 writes /w/big (1000 bytes), layer 2 deletes it; between their RUNs stands `between`.
    fn two_runs(between: &str, first_flags: &str) -> (Image, Dockerfile) {
        use EntryKind::*;
        let mut img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c make big",
                vec![entry("w", Dir, 0), f("w/big", 1000)],
            ),
            layer(
                2,
                "/bin/sh -c rm -rf /w/big",
                vec![entry("w/big", Whiteout, 0)],
            ),
        ]);
        if !between.is_empty() {
            img.layers[2].history.empty_before = vec![format!("/bin/sh -c #(nop)  {between}")];
        }
        let text = format!("FROM base\nRUN {first_flags}make big\n{between}\nRUN rm -rf /w/big\n");
        (img, dockerfile::parse("Dockerfile", &text).unwrap())
    }

    fn kinds(a: &Advice) -> Vec<(Kind, u64, bool)> {
        a.suggestions
            .iter()
            .map(|s| (s.kind, s.bytes_saved, s.mechanical))
            .collect()
    }

    #[test]
    fn never_merges_across_what_changes_meaning() {
        let (img, df) = two_runs("", "");
        assert_eq!(
            kinds(&advise("t", &img, Some(&df))),
            vec![(Kind::MergeRuns, 1000, true)]
        );
        for between in [
            "USER app",
            "WORKDIR /w",
            "ENV A=1",
            "ARG V",
            "SHELL [\"/bin/bash\", \"-c\"]",
        ] {
            let (img, df) = two_runs(between, "");
            // Not merged; the deletion moves into the RUN that made the file instead.
            assert_eq!(
                kinds(&advise("t", &img, Some(&df))),
                vec![(Kind::CleanupInCreatingRun, 1000, true)],
                "{between}"
            );
            // From the history alone, the empty-layer record between them says the same.
            assert_eq!(
                kinds(&advise("t", &img, None)),
                vec![(Kind::CleanupInCreatingRun, 1000, false)],
                "{between}"
            );
        }
        // Different --mount or --network flags: no merge either.
        for flags in ["--mount=type=cache,target=/c ", "--network=none "] {
            let (img, df) = two_runs("", flags);
            let k = kinds(&advise("t", &img, Some(&df)));
            assert_eq!(k, vec![(Kind::CleanupInCreatingRun, 1000, true)], "{flags}");
        }
    }

    #[test]
    fn heredoc_and_exec_runs_are_never_merged_into() {
        use EntryKind::*;
        let img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "RUN /bin/sh -c make big # buildkit",
                vec![f("big", 1000)],
            ),
            layer(
                2,
                "RUN rm -rf /big # buildkit",
                vec![entry("big", Whiteout, 0)],
            ),
        ]);
        for text in [
            "FROM b\nRUN make big\nRUN [\"rm\", \"-rf\", \"/big\"]\n",
            "FROM b\nRUN make big\nRUN <<EOF\nrm -rf /big\nEOF\n",
        ] {
            let df = dockerfile::parse("D", text).unwrap();
            let a = advise("t", &img, Some(&df));
            assert!(a.dockerfile_matched, "{text}: {:?}", a.mismatch);
            assert!(
                a.suggestions.iter().all(|s| s.kind != Kind::MergeRuns),
                "{text}"
            );
        }
    }

    #[test]
    fn a_recreated_directory_moves_its_cleanup_too() {
        use EntryKind::*;
        let mut img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c make d",
                vec![entry("d", Dir, 0), f("d/x", 500)],
            ),
            layer(
                2,
                "/bin/sh -c rm -rf /d && mkdir /d && touch /d/new",
                vec![entry("d", Dir, 0), entry("d", Opaque, 0), f("d/new", 1)],
            ),
        ]);
        img.layers[2].history.empty_before = vec!["USER x".to_string()];
        let df = dockerfile::parse(
            "D",
            "FROM b\nRUN make d\nUSER x\nRUN rm -rf /d && mkdir /d && touch /d/new\n",
        )
        .unwrap();
        let a = advise("t", &img, Some(&df));
        assert_eq!(kinds(&a), vec![(Kind::CleanupInCreatingRun, 500, true)]);
        assert_eq!(a.suggestions[0].snippet, "RUN make d && rm -rf /d");
        assert_eq!(a.suggestions[0].evidence[0].reason, "opaque");
    }

    #[test]
    fn a_chmod_of_one_copied_file_is_copy_chown() {
        use EntryKind::*;
        // COPY r.sh /r.sh then RUN chmod 755 /r.sh: the RUN's layer holds the file again (50 bytes).
        let img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c #(nop) COPY file:abc in /r.sh ",
                vec![f("r.sh", 50)],
            ),
            layer(2, "/bin/sh -c chmod 755 /r.sh", vec![f("r.sh", 50)]),
        ]);
        let df = dockerfile::parse("D", "FROM b\nCOPY r.sh /r.sh\nRUN chmod 755 /r.sh\n").unwrap();
        let a = advise("t", &img, Some(&df));
        assert!(a.dockerfile_matched, "{:?}", a.mismatch);
        assert_eq!(kinds(&a), vec![(Kind::CopyChown, 50, true)]);
        assert_eq!(
            apply_all(&df, &a, None).dockerfile,
            "FROM b\nCOPY --chmod=755 r.sh /r.sh\n"
        );
        // One file of a copied tree: COPY --chmod would change them all, so not mechanical.
        let img = image(vec![
            layer(0, "", vec![f("bin/sh", 10)]),
            layer(
                1,
                "/bin/sh -c #(nop) COPY dir:abc in /app ",
                vec![
                    entry("app", Dir, 0),
                    f("app/run.sh", 50),
                    f("app/data", 900),
                ],
            ),
            layer(
                2,
                "/bin/sh -c chmod 755 /app/run.sh",
                vec![f("app/run.sh", 50)],
            ),
        ]);
        let df =
            dockerfile::parse("D", "FROM b\nCOPY app /app\nRUN chmod 755 /app/run.sh\n").unwrap();
        let a = advise("t", &img, Some(&df));
        assert_eq!(kinds(&a), vec![(Kind::CopyChown, 50, false)]);
        assert!(
            a.suggestions[0]
                .note
                .as_deref()
                .is_some_and(|n| n.contains("would change them all")),
            "{:?}",
            a.suggestions[0].note
        );
    }

    #[test]
    fn diff_leaves_out_what_conflicts_and_every_hidden_byte_is_accounted() {
        use EntryKind::*;
        let img = image(vec![
            layer(0, "", vec![f("bin/sh", 10), f("etc/motd", 7)]),
            layer(
                1,
                "/bin/sh -c #(nop) COPY dir:abc in /app ",
                vec![entry("app", Dir, 0), f("app/a", 100), f("app/b", 40)],
            ),
            layer(
                2,
                "/bin/sh -c chown -R 1:1 /app",
                vec![entry("app", Dir, 0), f("app/a", 100), f("app/b", 40)],
            ),
            layer(
                3,
                "/bin/sh -c rm -f /app/b /etc/motd",
                vec![entry("app/b", Whiteout, 0), entry("etc/motd", Whiteout, 0)],
            ),
        ]);
        let df = dockerfile::parse(
            "D",
            "FROM b\nCOPY app /app\nRUN chown -R 1:1 /app\nRUN rm -f /app/b /etc/motd\n",
        )
        .unwrap();
        let a = advise("t", &img, Some(&df));
        assert!(a.dockerfile_matched, "{:?}", a.mismatch);
        // COPY --chown (140, deletes the chown RUN) and the merge of that RUN with the rm (its b, 40)
        // cannot both be edited: the larger is applied, the other says why.
        assert_eq!(
            kinds(&a),
            vec![(Kind::CopyChown, 140, true), (Kind::MergeRuns, 40, false)]
        );
        assert!(
            a.suggestions[1]
                .note
                .as_deref()
                .is_some_and(|n| n.starts_with("not applied by --diff")),
            "{:?}",
            a.suggestions[1].note
        );
        assert_eq!(a.diff_bytes_saved, 140);
        // Hidden: the COPY's a and b (140, overwritten), chown's b (40), the base's motd (7).
        assert_eq!(a.reclaimable_bytes, 187);
        assert_eq!(a.addressed_bytes, 180);
        assert_eq!(a.unaddressed.len(), 1);
        assert_eq!(a.unaddressed[0].bytes, 7);
        assert_eq!(a.unaddressed[0].path, "/etc/motd");
        assert!(
            a.unaddressed[0]
                .reason
                .starts_with("the base image ships it")
        );
        let applied = apply_all(&df, &a, None);
        assert!(applied.left_out.is_empty());
        assert_eq!(applied.bytes_saved, 140);
        assert_eq!(
            applied.dockerfile,
            "FROM b\nCOPY --chown=1:1 app /app\nRUN rm -f /app/b /etc/motd\n"
        );
    }
}
