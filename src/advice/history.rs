//! Which instruction made each layer: read from the history's `created_by` (classic builder and
//! BuildKit forms, shared/docs/image-archives.md §6), and matched to a Dockerfile's final stage.

use super::dockerfile::{Dockerfile, Form, squash};
use crate::model::Image;

/// What a history entry says made a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A RUN; `command` is the shell text (or the exec argv joined by spaces).
    Run {
        /// The command as recorded (build-arg prefix and shell removed).
        command: String,
    },
    /// COPY or ADD (`keyword`), with the recorded arguments.
    Copy {
        /// `COPY` or `ADD`.
        keyword: String,
        /// The rest of the record (`file:<sha> in /dst`, or BuildKit's `src /dst`).
        args: String,
    },
    /// WORKDIR, or another instruction that made a layer.
    Other(String),
    /// No `created_by`: the layer's origin is unknown (base images made by `docker import`).
    Unknown,
}

/// Reads one `created_by`.
pub fn parse_created_by(created_by: Option<&str>) -> Step {
    let Some(raw) = created_by else {
        return Step::Unknown;
    };
    let mut s = raw.trim();
    if s.is_empty() {
        return Step::Unknown;
    }
    // BuildKit: `RUN /bin/sh -c … # buildkit`, `COPY src /dst # buildkit`.
    let buildkit = s.ends_with("# buildkit");
    if buildkit {
        s = s.trim_end_matches("# buildkit").trim_end();
        if let Some(rest) = s.strip_prefix("RUN ") {
            return Step::Run {
                command: strip_shell(strip_build_args(rest)).to_string(),
            };
        }
    }
    // Classic: `/bin/sh -c #(nop) COPY …`, `/bin/sh -c #(nop)  ENV …`.
    if let Some(p) = s.find("#(nop)") {
        let rest = s[p + "#(nop)".len()..].trim();
        return keyword_step(rest);
    }
    if !buildkit {
        // A classic RUN: `[|N A=1 …] /bin/sh -c cmd`, or an exec-form argv joined by spaces.
        return Step::Run {
            command: strip_shell(strip_build_args(s)).to_string(),
        };
    }
    keyword_step(s)
}

fn keyword_step(rest: &str) -> Step {
    let (kw, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let kw = kw.to_ascii_uppercase();
    match kw.as_str() {
        "COPY" | "ADD" => Step::Copy {
            keyword: kw,
            args: args.trim().to_string(),
        },
        _ => Step::Other(format!("{kw} {}", args.trim()).trim().to_string()),
    }
}

/// Drops the `|N A=1 B=2 ` prefix the builders write when build args are in use.
fn strip_build_args(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('|') else {
        return s;
    };
    let (n, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let n: usize = n.parse().unwrap_or(0);
    for _ in 0..n {
        rest = rest.split_once(' ').map_or("", |(_, r)| r);
    }
    rest
}

/// Drops a leading `<shell> -c ` (the default `/bin/sh -c`, or a SHELL such as `/bin/bash -o pipefail -c`).
fn strip_shell(s: &str) -> &str {
    if s.starts_with('/')
        && let Some(p) = s.find(" -c ")
        && !s[..p].contains("&&")
    {
        return &s[p + 4..];
    }
    s
}

/// The layer ↔ instruction map of an image, with a Dockerfile's line numbers when one was given.
#[derive(Debug, Clone)]
pub struct LayerMap {
    /// What made each layer, by layer index.
    pub steps: Vec<Step>,
    /// Index into `Dockerfile::instructions` of the instruction that made each layer, when known.
    pub instruction: Vec<Option<usize>>,
    /// Layers below the Dockerfile's final stage (the base image), when a Dockerfile was matched.
    pub base_layers: usize,
}

/// The image was not built from the given Dockerfile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the image was not built from {path}: {detail}")]
pub struct Mismatch {
    /// The Dockerfile named.
    pub path: String,
    /// The first disagreement found.
    pub detail: String,
}

/// Maps layers to steps from the history alone.
pub fn from_history(image: &Image) -> LayerMap {
    let steps: Vec<Step> = image
        .layers
        .iter()
        .map(|l| parse_created_by(l.history.created_by.as_deref()))
        .collect();
    LayerMap {
        instruction: vec![None; steps.len()],
        steps,
        base_layers: 0,
    }
}

/// The destination of a COPY/ADD: the last argument (of the JSON array in exec form).
fn destination(ins: &super::dockerfile::Instruction) -> String {
    match &ins.form {
        Form::Exec(v) => v.last().cloned().unwrap_or_default(),
        Form::Shell => ins.args.split_whitespace().last().unwrap_or("").to_string(),
    }
}

/// True when instruction text and a recorded step agree.
fn same_step(ins: &super::dockerfile::Instruction, step: &Step) -> bool {
    match (ins.keyword.as_str(), step) {
        // The recorded text of a heredoc RUN differs between builder versions: the kind must do.
        ("RUN", Step::Run { .. }) if !ins.heredocs.is_empty() => true,
        ("RUN", Step::Run { command }) => {
            let text = match &ins.form {
                Form::Exec(argv) => argv.join(" "),
                Form::Shell => ins.args.clone(),
            };
            squash(&text) == squash(command)
        }
        ("COPY" | "ADD", Step::Copy { keyword, args }) => {
            // Classic records `file:<sha> in /dst`; BuildKit the source text. The destination is last in
            // both; the classic builder records it with variables expanded.
            let dst_ins = destination(ins);
            let dst_rec = args.split_whitespace().last().unwrap_or("");
            *keyword == ins.keyword
                && (dst_ins.contains('$')
                    || dst_ins.trim_end_matches('/') == dst_rec.trim_end_matches('/'))
        }
        // BuildKit records a WORKDIR layer without `# buildkit`, so it reads like an exec-form RUN.
        // A relative WORKDIR is recorded resolved, so the recorded path ends with the written one.
        ("WORKDIR", Step::Other(o) | Step::Run { command: o }) => {
            o.strip_prefix("WORKDIR ").is_some_and(|rec| {
                let want = ins.args.trim().trim_end_matches('/');
                want.contains('$')
                    || rec.trim().trim_end_matches('/').ends_with(want) && !want.is_empty()
            })
        }
        _ => false,
    }
}

/// Matches the layers to the final stage of `df`, from the last layer backwards. A WORKDIR may or may
/// not have made a layer; RUN, COPY and ADD always did. Any disagreement is a [`Mismatch`].
pub fn match_dockerfile(image: &Image, df: &Dockerfile) -> Result<LayerMap, Mismatch> {
    let mut map = from_history(image);
    let mismatch = |detail: String| Mismatch {
        path: df.path.clone(),
        detail,
    };
    let made_layers: Vec<usize> = df
        .final_instructions()
        .filter(|(_, ins)| matches!(ins.keyword.as_str(), "RUN" | "COPY" | "ADD" | "WORKDIR"))
        .map(|(i, _)| i)
        .collect();
    let mut layer = image.layers.len();
    for &ii in made_layers.iter().rev() {
        let ins = &df.instructions[ii];
        let Some(l) = layer.checked_sub(1) else {
            if ins.keyword == "WORKDIR" {
                continue;
            }
            return Err(mismatch(format!(
                "line {} ({}) has no layer: the image has only {} layers",
                ins.start_line,
                ins.keyword,
                image.layers.len()
            )));
        };
        let step = &map.steps[l];
        if same_step(ins, step) {
            map.instruction[l] = Some(ii);
            layer = l;
        } else if ins.keyword == "WORKDIR" {
            // This WORKDIR made no layer.
        } else {
            let recorded = image.layers[l]
                .history
                .created_by
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or("(no created_by)");
            return Err(mismatch(format!(
                "layer {l} was made by `{}` but line {} says `{}`",
                shorten(&squash(recorded)),
                ins.start_line,
                shorten(&squash(&ins.to_string()))
            )));
        }
    }
    map.base_layers = layer;
    Ok(map)
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(79).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &str) -> Step {
        Step::Run { command: c.into() }
    }

    #[test]
    fn classic_forms() {
        assert_eq!(
            parse_created_by(Some("/bin/sh -c apt-get update")),
            run("apt-get update")
        );
        assert_eq!(
            parse_created_by(Some("|2 A=1 B=2 /bin/sh -c make")),
            run("make")
        );
        assert_eq!(
            parse_created_by(Some("/bin/bash -o pipefail -c curl x | sh")),
            run("curl x | sh")
        );
        assert_eq!(
            parse_created_by(Some("/bin/sh -c #(nop) COPY file:0123abcd in /app/x.txt ")),
            Step::Copy {
                keyword: "COPY".into(),
                args: "file:0123abcd in /app/x.txt".into()
            }
        );
        assert_eq!(
            parse_created_by(Some("/bin/sh -c #(nop) WORKDIR /app")),
            Step::Other("WORKDIR /app".into())
        );
        assert_eq!(parse_created_by(None), Step::Unknown);
        // Exec form: the argv joined by spaces.
        assert_eq!(parse_created_by(Some("make all")), run("make all"));
    }

    #[test]
    fn buildkit_forms() {
        assert_eq!(
            parse_created_by(Some("RUN /bin/sh -c apt-get update # buildkit")),
            run("apt-get update")
        );
        assert_eq!(
            parse_created_by(Some("RUN |1 V=2 /bin/sh -c make # buildkit")),
            run("make")
        );
        assert_eq!(
            parse_created_by(Some("COPY --chown=1:1 src /dst # buildkit")),
            Step::Copy {
                keyword: "COPY".into(),
                args: "--chown=1:1 src /dst".into()
            }
        );
        assert_eq!(
            parse_created_by(Some("WORKDIR /app")),
            run("WORKDIR /app"),
            "without `# buildkit` or `#(nop)` a record reads as a classic exec-form RUN"
        );
    }

    fn image(records: &[&str]) -> Image {
        use crate::model::{Compression, History, Layer};
        Image {
            source: "t".into(),
            format: "docker-archive",
            id: None,
            tags: vec![],
            warnings: vec![],
            layers: records
                .iter()
                .enumerate()
                .map(|(index, r)| Layer {
                    index,
                    diff_id: None,
                    origin: String::new(),
                    compression: Compression::None,
                    blob_bytes: 0,
                    stored_as_link: false,
                    history: History {
                        created_by: (!r.is_empty()).then(|| r.to_string()),
                        ..History::default()
                    },
                    entries: vec![],
                    hashes: vec![],
                })
                .collect(),
            paths: crate::model::Paths::new(),
        }
    }

    #[test]
    fn final_stage_is_matched_from_the_last_layer() {
        let df = super::super::dockerfile::parse(
            "Dockerfile",
            "FROM golang AS build\nRUN go build\n\
             FROM base\nWORKDIR /app\nWORKDIR /\nRUN apk add \\\n  curl\nCOPY [\"a b\", \"/dst/\"]\nENV X=1\n",
        )
        .unwrap();
        // Classic: the first WORKDIR made a layer, the second did not.
        let img = image(&[
            "",
            "/bin/sh -c #(nop) WORKDIR /app",
            "/bin/sh -c apk add   curl",
            "/bin/sh -c #(nop) COPY multi:abc in /dst/ ",
        ]);
        let m = match_dockerfile(&img, &df).unwrap();
        assert_eq!(m.instruction, vec![None, Some(3), Some(5), Some(6)]);
        assert_eq!(m.base_layers, 1);
        // BuildKit forms of the same.
        let img = image(&[
            "",
            "WORKDIR /app",
            "RUN /bin/sh -c apk add   curl # buildkit",
            "COPY a b /dst/ # buildkit",
        ]);
        assert_eq!(
            match_dockerfile(&img, &df).unwrap().instruction,
            vec![None, Some(3), Some(5), Some(6)]
        );
        // Another command: the first disagreement is named.
        let img = image(&[
            "",
            "/bin/sh -c apk add wget",
            "/bin/sh -c #(nop) COPY file:x in /dst ",
        ]);
        let e = match_dockerfile(&img, &df).unwrap_err().to_string();
        assert_eq!(
            e,
            "the image was not built from Dockerfile: layer 1 was made by `/bin/sh -c apk add wget` but line 6 says `RUN apk add curl`"
        );
        // Fewer layers than instructions.
        let img = image(&["/bin/sh -c #(nop) COPY file:x in /dst "]);
        assert!(
            match_dockerfile(&img, &df)
                .unwrap_err()
                .detail
                .contains("has no layer")
        );
    }
}
