//! A COPY whose files a later RUN deletes: the bytes stay in the COPY's layer. The fix binds the
//! source into the RUN that uses the files (`RUN --mount=type=bind`, which Docker 20.10's built-in
//! BuildKit frontend supports without a `# syntax=` line), copies them where the COPY put them, and
//! deletes them in that same RUN; RUNs up to the deleting one are merged so that the copy and the
//! deletion share one layer.

use std::collections::{BTreeMap, BTreeSet};

use crate::advice::context::{Ctx, hidden_evidence};
use crate::advice::edit::Change;
use crate::advice::shell::sh_quote;
use crate::advice::types::{Kind, Suggestion};
use crate::analysis::caches;
use crate::analysis::stack::{HiddenItem, Reason};
use crate::model::EntryKind;

/// File names of package archives that are build inputs, not content.
const PACKAGE_ARCHIVES: &[&str] = &[".deb", ".apk", ".rpm", ".whl", ".udeb"];

/// True when `path` is a package archive or a package manager's cache or list.
pub(crate) fn is_package_input(path: &[u8]) -> bool {
    let s = String::from_utf8_lossy(path);
    use caches::CacheKind::{Apk, AptArchives, AptLists, Dnf, Npm, Pip, Yarn, Yum, Zypper};
    PACKAGE_ARCHIVES.iter().any(|e| s.ends_with(e))
        || caches::classify(path).is_some_and(|r| {
            matches!(
                r.id,
                Apk | AptLists | AptArchives | Yum | Dnf | Zypper | Pip | Npm | Yarn
            )
        })
}

/// How the COPY put its source in the image, for the `cp` that replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placed {
    /// A directory's contents into `dst`.
    Dir {
        /// Absolute destination directory.
        dst: String,
    },
    /// One file at `dst`.
    File {
        /// Absolute destination path.
        dst: String,
    },
}

/// The shell that puts the bound source (`mount`) where the COPY put it.
pub(crate) fn copy_in(mount: &str, placed: &Placed) -> String {
    match placed {
        Placed::Dir { dst } => format!(
            "mkdir -p {d} && cp -a {m}/. {d}/",
            d = sh_quote(dst),
            m = sh_quote(mount)
        ),
        Placed::File { dst } => {
            let parent = match dst.rsplit_once('/') {
                Some(("", _)) | None => "/".to_string(),
                Some((p, _)) => p.to_string(),
            };
            format!(
                "mkdir -p {} && cp -a {} {}",
                sh_quote(&parent),
                sh_quote(mount),
                sh_quote(dst)
            )
        }
    }
}

/// The source and destination of a COPY that a bind mount can replace: one source, no wildcard,
/// an absolute destination, shell form.
pub(crate) fn simple_copy(args: &str) -> Option<(String, String)> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let [src, dst] = words.as_slice() else {
        return None;
    };
    let plain = |w: &str| {
        !w.is_empty()
            && !w.starts_with('[')
            && !w.contains(['*', '?', '[', '$', '"', '\'', ',', '='])
            && !w.contains("://")
    };
    (plain(src) && plain(dst) && dst.starts_with('/')).then(|| (src.to_string(), dst.to_string()))
}

pub(super) fn copy_then_delete(ctx: &Ctx<'_>, out: &mut Vec<Suggestion>) {
    let mut by_copy: BTreeMap<usize, Vec<(usize, &HiddenItem)>> = BTreeMap::new();
    for (i, h) in ctx.st.hidden.iter().enumerate() {
        if matches!(h.reason, Reason::Deleted | Reason::Opaque)
            && ctx.ours(h.added())
            && ctx.is_copy(h.added())
            && ctx.is_run(h.hidden_by())
        {
            by_copy.entry(h.added()).or_default().push((i, h));
        }
    }
    for (c, found) in by_copy {
        let covers: Vec<usize> = found.iter().map(|f| f.0).collect();
        let items: Vec<&HiddenItem> = found.iter().map(|f| f.1).collect();
        let bytes: u64 = items.iter().map(|h| h.bytes).sum();
        let hiders: BTreeSet<usize> = items.iter().map(|h| h.hidden_by()).collect();
        let Some(&last) = hiders.iter().next_back() else {
            continue;
        };
        let layer = &ctx.image.layers[c];
        let files: Vec<(Vec<u8>, u64)> = layer
            .entries
            .iter()
            .filter(|e| e.kind() == EntryKind::File)
            .map(|e| (ctx.image.paths.bytes(e.path), e.size))
            .collect();
        let packages = !files.is_empty() && files.iter().all(|(p, _)| is_package_input(p));
        let kind = if packages {
            Kind::CopiedCache
        } else {
            Kind::CopyThenDelete
        };
        let (evidence, more) = hidden_evidence(&ctx.image.paths, &items);
        let all_gone = bytes == ctx.st.layers[c].content_bytes;
        let mut changes = Vec::new();
        let mut note: Option<String> = None;
        let mut snippet = String::new();
        match (ctx.df, ctx.map.instruction[c], ctx.map.instruction[last]) {
            (Some(df), Some(ci), Some(li)) => {
                let copy = &df.instructions[ci];
                let first_run = (ci + 1..=li).find(|&k| df.instructions[k].keyword == "RUN");
                let layer_of = |k: usize| ctx.map.instruction.iter().position(|x| *x == Some(k));
                let placed = simple_copy(&copy.args).and_then(|(src, dst)| {
                    let rel = dst.trim_matches('/');
                    let kind_at = |p: &str| {
                        layer
                            .entries
                            .iter()
                            .find(|e| ctx.image.paths.bytes(e.path) == p.as_bytes())
                            .map(|e| e.kind())
                    };
                    let base = src.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                    let placed = match kind_at(rel) {
                        Some(EntryKind::File) => Placed::File { dst: dst.clone() },
                        Some(EntryKind::Dir) if dst.ends_with('/') && !base.is_empty() => {
                            match kind_at(&format!("{rel}/{base}")) {
                                Some(EntryKind::File) => Placed::File {
                                    dst: format!("/{rel}/{base}"),
                                },
                                _ => Placed::Dir {
                                    dst: format!("/{rel}"),
                                },
                            }
                        }
                        Some(EntryKind::Dir) => Placed::Dir {
                            dst: format!("/{rel}"),
                        },
                        _ => return None,
                    };
                    Some((src, placed))
                });
                let mergeable = first_run.is_some_and(|f| {
                    (f..=li).all(|k| df.instructions[k].keyword == "RUN")
                        && match (layer_of(f), layer_of(li)) {
                            (Some(a), Some(b)) => ctx.group[a] == ctx.group[b],
                            _ => false,
                        }
                });
                let mount_target = format!("/dev/.dredge-src-{}", copy.start_line);
                if let (Some(f), Some((src, placed))) = (first_run, &placed) {
                    // ARG defaults put in: `RUN --mount` does not see the COPY's `--from=${STAGE}`.
                    let from = crate::advice::lint::copy_from(df, ci)
                        .map(|s| format!(",from={s}"))
                        .unwrap_or_default();
                    let flag =
                        format!("--mount=type=bind{from},source={src},target={mount_target}");
                    let cp = copy_in(&mount_target, placed);
                    snippet = format!("RUN {flag} \\\n    {cp} && \\\n    {}", ctx.command(last));
                    if copy.keyword != "COPY" {
                        note = Some(
                            "ADD may extract or fetch: replace it by hand (a local tarball that is extracted: ADD it where it is extracted)"
                                .into(),
                        );
                    } else if !all_gone {
                        note = Some(
                            "the RUNs keep some of the COPYed files: COPY those separately, bind-mount the rest"
                                .into(),
                        );
                    } else if !mergeable {
                        note = Some(
                            "instructions between the RUN that uses the files and the one that deletes them forbid a merge: mount the source in each RUN that reads it"
                                .into(),
                        );
                    } else {
                        changes.push(Change::Delete { instr: ci });
                        changes.push(Change::Prepend {
                            instr: f,
                            flag,
                            command: cp,
                        });
                        if f < li {
                            changes.push(Change::Merge { first: f, last: li });
                        }
                    }
                } else {
                    note = Some(
                        "the COPY has several sources, a wildcard or a relative destination: bind-mount its sources by hand"
                            .into(),
                    );
                }
            }
            _ => {
                note = Some("bind-mount the COPY's source into the RUN that uses it".into());
            }
        }
        if snippet.is_empty() {
            snippet = "RUN --mount=type=bind,source=<src>,target=/dev/.dredge-src \\\n    cp -a /dev/.dredge-src <dst> && <the RUN> && rm -rf <dst>".into();
        }
        let what = if packages {
            "package archives or lists"
        } else {
            "files"
        };
        out.push(Suggestion {
            kind,
            bytes_saved: bytes,
            title: format!(
                "layer {c} COPYs {what} that layer(s) {} delete: bind-mount them into the RUN instead (BuildKit)",
                hiders
                    .iter()
                    .map(|h| h.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            layers: std::iter::once(c).chain(hiders.iter().copied()).collect(),
            lines: ctx.spans(&std::iter::once(c).chain(hiders.iter().copied()).collect::<Vec<_>>()),
            evidence,
            evidence_more: more,
            snippet,
            mechanical: !changes.is_empty(),
            hadolint: None,
            note: note.or_else(|| {
                Some(
                    "needs BuildKit (DOCKER_BUILDKIT=1; the built-in frontend of Docker 20.10 has RUN --mount, no # syntax line needed). For a tarball that is only extracted, `ADD` it where it is extracted instead"
                        .into(),
                )
            }),
            changes,
            covers,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_in_puts_files_where_copy_did() {
        assert_eq!(
            copy_in(
                "/dev/m",
                &Placed::Dir {
                    dst: "/tmp/debs".into()
                }
            ),
            "mkdir -p /tmp/debs && cp -a /dev/m/. /tmp/debs/"
        );
        assert_eq!(
            copy_in(
                "/dev/m",
                &Placed::File {
                    dst: "/tmp/a.tar".into()
                }
            ),
            "mkdir -p /tmp && cp -a /dev/m /tmp/a.tar"
        );
        assert_eq!(
            copy_in(
                "/dev/m",
                &Placed::File {
                    dst: "/a.tar".into()
                }
            ),
            "mkdir -p / && cp -a /dev/m /a.tar"
        );
    }

    #[test]
    fn only_simple_copies_are_replaced() {
        assert_eq!(
            simple_copy("debs /tmp/debs"),
            Some(("debs".into(), "/tmp/debs".into()))
        );
        assert_eq!(simple_copy("a b /tmp/"), None);
        assert_eq!(simple_copy("*.deb /tmp/"), None);
        assert_eq!(simple_copy("debs tmp/debs"), None);
        assert_eq!(simple_copy("[\"a\", \"/b\"]"), None);
        assert!(is_package_input(b"tmp/debs/curl_8.deb"));
        assert!(!is_package_input(b"tmp/src/main.c"));
        assert!(!is_package_input(b"tmp/app.tar"));
        assert!(is_package_input(b"var/lib/apt/lists/x_Packages"));
    }
}
