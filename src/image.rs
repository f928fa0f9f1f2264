//! `dredge image`: open an image source and analyse its layers.

use crate::analysis::{self, ImageReport, Options, stack::Stacked};
use crate::model::Paths;
use crate::report::progress::LayerProgress;
use crate::source::{self, LoadOptions, Opened, SourceError};

/// What `dredge image` was asked.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// The source: a `docker save` archive, an OCI layout or archive, an engine reference, `-`.
    pub source: String,
    /// How many of the largest invisible paths and duplicate groups to describe (0 = all).
    pub top: usize,
    /// Also find identical content under different paths.
    pub duplicates: bool,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Show progress on stderr.
    pub progress: bool,
    /// Also check every blob's digest and size, and every diff id (reads every byte).
    pub verify: bool,
}

/// What `dredge image` found.
#[derive(Debug)]
pub struct ImageOutcome {
    /// The analysis.
    pub report: ImageReport,
    /// Oddities of the source that did not stop the analysis.
    pub warnings: Vec<String>,
}

impl ImageOutcome {
    /// Always [`crate::Exit::Done`]: a report is not a verdict.
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::Done
    }
}

/// Why an image could not be analysed (an input error, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The source cannot be read.
    #[error(transparent)]
    Source(#[from] SourceError),
}

fn load_options(threads: Option<usize>, verify: bool) -> LoadOptions {
    let mut load = LoadOptions {
        verify,
        ..LoadOptions::default()
    };
    if let Some(t) = threads {
        load.threads = t.max(1);
    }
    load
}

/// Opens `spec` with progress on stderr when `progress`.
pub(crate) fn open(spec: &str, load: LoadOptions, progress: bool) -> Result<Opened, SourceError> {
    let bar = LayerProgress::new(progress);
    let opened = source::open(spec, load, &bar);
    bar.finish();
    opened
}

/// `dredge image`: opens the source and analyses it.
pub fn run(opts: &ImageOptions) -> Result<ImageOutcome, ImageError> {
    let mut load = load_options(opts.threads, opts.verify);
    load.hash_streamed = opts.duplicates;
    let opened = open(&opts.source, load, opts.progress)?;
    let warnings = opened.image.warnings.clone();
    let report = analysis::analyze(
        &opened.image,
        &opened,
        Options {
            duplicates: opts.duplicates,
            threads: load.threads,
            top: opts.top,
            ..Options::default()
        },
    )?;
    Ok(ImageOutcome { report, warnings })
}

/// Opens and analyses `spec`, handing back the final filesystem too (for `check`).
pub fn analyse_stacked(
    spec: &str,
    threads: Option<usize>,
    progress: bool,
    verify: bool,
) -> Result<(ImageReport, Stacked, Paths), ImageError> {
    let load = load_options(threads, verify);
    let mut opened = open(spec, load, progress)?;
    let opts = Options {
        threads: load.threads,
        ..Options::default()
    };
    let (report, stacked) = analysis::analyze_stacked(&opened.image, &opened, opts)?;
    Ok((report, stacked, std::mem::take(&mut opened.image.paths)))
}
