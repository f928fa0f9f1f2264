//! `dredge lint`: the size rules that can be checked on a Dockerfile's text alone
//! (the rules are in [`crate::advice::lint`]).

use std::path::PathBuf;

use crate::advice::dockerfile::{self, Dockerfile, ParseError};
pub use crate::advice::lint::{Finding, LintRule};

/// What `dredge lint` was asked.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The Dockerfile.
    pub dockerfile: PathBuf,
}

/// What `dredge lint` found.
#[derive(Debug)]
pub struct LintOutcome {
    /// The Dockerfile, parsed.
    pub dockerfile: Dockerfile,
    /// The findings, in file order.
    pub findings: Vec<Finding>,
}

impl LintOutcome {
    /// [`crate::Exit::Failed`] when a rule found something, else [`crate::Exit::Done`].
    pub fn exit(&self) -> crate::Exit {
        if self.findings.is_empty() {
            crate::Exit::Done
        } else {
            crate::Exit::Failed
        }
    }
}

/// Why a Dockerfile could not be linted (an input error, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// It cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It cannot be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// `dredge lint`: reads the Dockerfile and checks it.
pub fn run(opts: &LintOptions) -> Result<LintOutcome, LintError> {
    let path = &opts.dockerfile;
    let text = std::fs::read_to_string(path).map_err(|source| LintError::Read {
        path: path.clone(),
        source,
    })?;
    let dockerfile = dockerfile::parse(&path.display().to_string(), &text)?;
    let findings = crate::advice::lint::lint(&dockerfile);
    Ok(LintOutcome {
        dockerfile,
        findings,
    })
}
