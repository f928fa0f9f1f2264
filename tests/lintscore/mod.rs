//! Scoring `dredge lint` and hadolint against hand-judged labels of real-world Dockerfiles, shared by
//! tests/lint_corpus.rs (the corpus the rules were written against) and tests/lint_heldout.rs (a
//! held-out set labelled before either tool was run on it). A set is a directory of `*.Dockerfile`
//! files with PROVENANCE.tsv (file, repo, path, commit) and LABELS.tsv (file, line, family, verdict,
//! [when,] reason): one row per (file, line, rule family) that either tool reports, `right` or
//! `wrong`, plus every real problem neither reports. A finding is right only if following it makes
//! the shipped image smaller.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::run;
use dredge::advice::dockerfile;
use dredge::advice::lint::{LintRule, lint};

/// (file, line, family).
pub type Key = (String, u64, String);

/// Per family (and `all`, `covered`): (true positives, false positives, misses).
pub type Scores = BTreeMap<String, [u32; 3]>;

/// A labelled set of Dockerfiles under tests/lint/NAME.
pub struct Set {
    pub dir: PathBuf,
    /// LABELS.tsv has a `when` column (`before`: judged before any tool ran; `after`: added on
    /// seeing a tool's finding).
    pub has_when: bool,
}

/// One label.
#[derive(Debug, Clone, Copy)]
pub struct Label {
    pub right: bool,
    /// Added after seeing the tools' output.
    pub after: bool,
}

impl Set {
    pub fn new(name: &str, has_when: bool) -> Set {
        Set {
            dir: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/lint")
                .join(name),
            has_when,
        }
    }

    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".Dockerfile"))
            .collect();
        v.sort();
        v
    }

    /// Rows of a tab-separated file, comments and blank lines skipped.
    pub fn rows(&self, name: &str) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }

    /// The truth.
    pub fn labels(&self) -> BTreeMap<Key, Label> {
        let cols = if self.has_when { 6 } else { 5 };
        let mut out = BTreeMap::new();
        for r in self.rows("LABELS.tsv") {
            assert_eq!(
                r.len(),
                cols,
                "LABELS.tsv row {r:?}: file line family verdict{} reason",
                if self.has_when { " when" } else { "" }
            );
            let right = match r[3].as_str() {
                "right" => true,
                "wrong" => false,
                v => panic!("LABELS.tsv: verdict {v:?} is neither right nor wrong"),
            };
            let after = self.has_when
                && match r[4].as_str() {
                    "before" => false,
                    "after" => true,
                    v => panic!("LABELS.tsv: when {v:?} is neither before nor after"),
                };
            assert!(!r[cols - 1].trim().is_empty(), "{r:?} gives no reason");
            let key = (r[0].clone(), r[1].parse().unwrap(), r[2].clone());
            assert!(
                out.insert(key.clone(), Label { right, after }).is_none(),
                "{key:?} twice"
            );
        }
        out
    }

    /// Every file has provenance (repo owner/name, path, 40-hex commit), every provenance row and
    /// label names a file of the set, and there are at least `min` files.
    pub fn check_provenance(&self, min: usize) {
        let files = self.files();
        assert!(files.len() >= min, "{} Dockerfiles", files.len());
        let prov = self.rows("PROVENANCE.tsv");
        let named: BTreeSet<&str> = prov.iter().map(|r| r[0].as_str()).collect();
        for r in &prov {
            assert_eq!(
                r.len(),
                4,
                "PROVENANCE.tsv row {r:?}: file repo path commit"
            );
            assert!(r[1].contains('/'), "{r:?}: repo is owner/name");
            assert!(
                r[3].len() == 40 && r[3].chars().all(|c| c.is_ascii_hexdigit()),
                "{r:?}: commit"
            );
            assert!(files.contains(&r[0]), "{r:?}: no such file");
        }
        for f in &files {
            assert!(named.contains(f.as_str()), "{f} has no provenance");
        }
        for k in self.labels().keys() {
            assert!(
                files.contains(&k.0),
                "LABELS.tsv names {k:?}, not in the set"
            );
        }
    }

    /// dredge's findings, and the files it could not parse (file, error).
    pub fn dredge_findings(&self) -> (BTreeSet<Key>, Vec<(String, String)>) {
        let mut out = BTreeSet::new();
        let mut errors = Vec::new();
        for f in self.files() {
            let text = std::fs::read_to_string(self.dir.join(&f)).unwrap();
            match dockerfile::parse(&f, &text) {
                Ok(df) => {
                    for x in lint(&df) {
                        out.insert((f.clone(), x.line as u64, family(x.rule)));
                    }
                }
                Err(e) => errors.push((f.clone(), e.to_string())),
            }
        }
        (out, errors)
    }

    /// hadolint's findings in the families dredge has.
    pub fn hadolint_findings(&self) -> BTreeSet<Key> {
        let mut out = BTreeSet::new();
        for f in self.files() {
            let p = self.dir.join(&f);
            let json = run(
                "hadolint",
                &["--no-fail", "-f", "json", p.to_str().unwrap()],
            );
            let v: serde_json::Value = serde_json::from_str(&json).unwrap();
            for x in v.as_array().unwrap() {
                if let Some(fam) = hadolint_family(x["code"].as_str().unwrap()) {
                    out.insert((f.clone(), x["line"].as_u64().unwrap(), fam.to_string()));
                }
            }
        }
        out
    }
}

/// The family a dredge rule is scored in.
pub fn family(rule: LintRule) -> String {
    match rule {
        LintRule::MergeCleanup | LintRule::SeparateCleanup | LintRule::CopyThenDelete => {
            "cleanup".into()
        }
        r => r.id().to_string(),
    }
}

/// The families some dredge rule claims.
pub fn covered() -> BTreeSet<String> {
    LintRule::ALL.iter().map(|r| family(*r)).collect()
}

/// hadolint's rules that have a dredge family.
pub fn hadolint_family(code: &str) -> Option<&'static str> {
    Some(match code {
        "DL3009" => "cache-apt-lists",
        "DL3019" => "cache-apk",
        "DL3042" => "cache-pip",
        "DL3060" => "cache-yarn",
        "DL3032" => "cache-yum",
        "DL3040" => "cache-dnf",
        "DL3036" => "cache-zypper",
        "DL3015" => "no-install-recommends",
        "DL3059" => "cleanup",
        _ => return None,
    })
}

/// Per family, `all` and `covered` (the families a dredge rule claims): (true positives, false
/// positives, misses). Every finding must have a verdict.
pub fn score(found: &BTreeSet<Key>, truth: &BTreeMap<Key, Label>, tool: &str) -> Scores {
    let unjudged: Vec<&Key> = found.iter().filter(|k| !truth.contains_key(*k)).collect();
    assert!(
        unjudged.is_empty(),
        "{tool} findings without a verdict in LABELS.tsv: {unjudged:?}"
    );
    let covered = covered();
    let mut out = Scores::new();
    for (k, l) in truth {
        let hit = found.contains(k);
        let mut fams = vec![k.2.clone(), "all".to_string()];
        if covered.contains(&k.2) {
            fams.push("covered".to_string());
        }
        for fam in fams {
            let s = out.entry(fam).or_default();
            match (l.right, hit) {
                (true, true) => s[0] += 1,
                (false, true) => s[1] += 1,
                (true, false) => s[2] += 1,
                (false, false) => {}
            }
        }
    }
    out
}

fn ratio(a: u32, b: u32) -> Option<f64> {
    (b > 0).then(|| f64::from(a) / f64::from(b))
}

pub fn precision(s: [u32; 3]) -> Option<f64> {
    ratio(s[0], s[0] + s[1])
}

pub fn recall(s: [u32; 3]) -> Option<f64> {
    ratio(s[0], s[0] + s[2])
}

pub fn table(tool: &str, s: &Scores) -> String {
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
    let mut t = format!(
        "{tool}:\n| family | right | wrong | missed | precision | recall |\n|---|---|---|---|---|---|\n"
    );
    for (fam, v) in s {
        t += &format!(
            "| {fam} | {} | {} | {} | {} | {} |\n",
            v[0],
            v[1],
            v[2],
            f(precision(*v)),
            f(recall(*v))
        );
    }
    t
}
