//! What the fuzz targets share: running `dredge image` / `dredge advise` / `dredge df` on what a target
//! built from its input, through the same public entry points the binary uses, and the documented
//! invariants of their results (docs/json.md), checked as assertions: a broken one is a finding.

use std::io;
use std::path::{Path, PathBuf};

use dredge::advice::{self, dockerfile::Dockerfile};
use dredge::analysis::{self, ImageReport, Options};
use dredge::audit::Audit;
use dredge::df::{self, DfOptions};
use dredge::model::Image;
use dredge::report;
use dredge::source::{self, LoadOptions, NoProgress};

/// `name` in this process's scratch directory (`$TMPDIR/dredge-fuzz-<pid>`, which `scripts/fuzz` points
/// at a tmpfs and removes). The same path for every input: paths show up in warnings and messages, and a
/// random one per input would look like new behaviour to the fuzzer each time.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dredge-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the scratch directory");
    dir.join(name)
}

/// One thread everywhere: the fuzzer wants each input to run the same way every time.
pub const LOAD: LoadOptions = LoadOptions {
    threads: 1,
    hash_streamed: false,
    verify: false,
};

/// `dredge image --duplicates FILE`, `dredge image --verify FILE` and `dredge advise FILE`, output thrown
/// away. `path` must be a path
/// to a file (absolute, so that it is never taken for an engine reference).
pub fn image(path: &Path) {
    let spec = path.to_str().expect("temp paths are UTF-8");
    assert!(
        spec.starts_with('/'),
        "{spec} would be taken for an image reference"
    );
    let Ok(opened) = source::open(spec, LOAD, &NoProgress) else {
        return; // a clear error is the right answer to most inputs
    };
    let opts = Options {
        duplicates: true,
        threads: 1,
        ..Options::default()
    };
    let Ok(report) = analysis::analyze(&opened.image, &opened, opts) else {
        return;
    };
    check_image_report(&report, &opened.image);
    report::json::write_image(&mut io::sink(), &report, 0).expect("a sink takes everything");
    report::table::write_image(&mut io::sink(), &report, 10).expect("a sink takes everything");
    let advice = advice::advise(spec, &opened.image, None);
    check_advice(&advice);
    report::advice::write_advice_json(&mut io::sink(), &advice).expect("a sink takes everything");
    report::advice::write_advice_table(&mut io::sink(), &advice).expect("a sink takes everything");
}

/// The image report's documented sums (docs/json.md, `dredge.image`).
fn check_image_report(r: &ImageReport, image: &Image) {
    assert!(r.visible_bytes <= r.size_bytes, "visible > size: {r:?}");
    assert_eq!(
        r.invisible_bytes,
        r.size_bytes - r.visible_bytes,
        "invisible = size − visible"
    );
    assert_eq!(
        r.invisible.total(),
        r.invisible_bytes,
        "invisible by reason sums to invisible"
    );
    assert_eq!(
        r.reclaimable_bytes, r.invisible_bytes,
        "reclaimable equals invisible"
    );
    assert_eq!(r.layers.len(), image.layers.len(), "one report per layer");
    let layer_size: u64 = r.layers.iter().map(|l| l.size_bytes).sum();
    assert_eq!(
        layer_size, r.size_bytes,
        "layer sizes sum to the image size"
    );
    let layer_invisible: u64 = r.layers.iter().map(|l| l.invisible_bytes).sum();
    assert_eq!(
        layer_invisible, r.invisible_bytes,
        "layers' invisible bytes sum to the image's"
    );
    assert!(
        (0.0..=1.0).contains(&r.efficiency),
        "efficiency {} out of [0, 1]",
        r.efficiency
    );
    assert!(
        r.wasted.len() <= r.wasted_total,
        "more wasted groups than counted"
    );
}

/// The advice's documented sums (docs/json.md, `dredge.advice`).
pub fn check_advice(a: &advice::Advice) {
    let saved: u64 = a.suggestions.iter().map(|s| s.bytes_saved).sum();
    assert_eq!(
        saved, a.bytes_saved,
        "suggestions' savings sum to bytes_saved"
    );
    assert!(
        a.bytes_saved <= a.size_bytes,
        "saves {} of {} bytes",
        a.bytes_saved,
        a.size_bytes
    );
}

/// `dredge lint`, then `dredge advise IMAGE --dockerfile` and its edit (`--diff`) against `image`;
/// an edit of a Dockerfile that parsed must parse again.
pub fn dockerfile(df: &Dockerfile, image: &Image) {
    let findings = advice::lint::lint(df);
    report::advice::write_lint(&mut io::sink(), &df.path, &findings, true)
        .expect("a sink takes everything");
    report::advice::write_lint(&mut io::sink(), &df.path, &findings, false)
        .expect("a sink takes everything");
    let advice = advice::advise("kitchen", image, Some(df));
    check_advice(&advice);
    report::advice::write_advice_json(&mut io::sink(), &advice).expect("a sink takes everything");
    if advice.mismatch.is_some() {
        return; // `advise --diff` refuses, as the binary does
    }
    for ignore in [None, Some("*.log\n!keep.log\n")] {
        // `--diff` never fails on a suggestion it offered: what cannot be applied is left out.
        let applied = advice::apply_all(df, &advice, ignore);
        let new = &applied.dockerfile;
        if let Err(e) = advice::dockerfile::parse(&df.path, new) {
            panic!("the edit does not parse: {e}\n--- edited:\n{new}");
        }
        assert!(
            applied.bytes_saved
                <= advice
                    .suggestions
                    .iter()
                    .map(|s| s.bytes_saved)
                    .sum::<u64>(),
            "the diff saves more than all suggestions together"
        );
    }
}

/// `dredge df --data-root ROOT [--cache CACHE]` (no engine is asked), output thrown away. `df::run`
/// reads the metadata (`source::dataroot::read`), audits (`audit::audit`) and writes the cache.
pub fn data_root(root: &Path, cache: Option<&Path>) {
    let opts = DfOptions {
        data_root: Some(root.to_path_buf()),
        cache: cache.map(Path::to_path_buf),
        threads: Some(1),
        ..DfOptions::default()
    };
    let Ok(r) = df::run(opts) else {
        return;
    };
    check_audit(&r.audit);
    report::df::write_json(&mut io::sink(), &r, 0).expect("a sink takes everything");
    report::df::write_table(&mut io::sink(), &r, 10).expect("a sink takes everything");
}

/// The df document's documented sums (docs/json.md, `dredge.df`): categories sum to the totals.
fn check_audit(a: &Audit) {
    let bytes: u64 = a.categories.iter().map(|c| c.bytes).sum();
    let apparent: u64 = a.categories.iter().map(|c| c.apparent_bytes).sum();
    assert_eq!(bytes, a.total_bytes, "categories' bytes sum to total_bytes");
    assert_eq!(
        apparent, a.total_apparent_bytes,
        "categories' apparent bytes sum to total_apparent_bytes"
    );
}
