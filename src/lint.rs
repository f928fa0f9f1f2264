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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exit;

    #[test]
    fn findings_fail_and_bad_input_is_an_error() {
        let d = std::env::temp_dir().join(format!("dredge-lint-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let run_on = |text: &str| {
            let p = d.join("Dockerfile");
            std::fs::write(&p, text).unwrap();
            run(&LintOptions { dockerfile: p })
        };
        let found = run_on("FROM alpine\nRUN apk add curl\n").unwrap();
        assert_eq!(found.exit(), Exit::Failed);
        assert_eq!(found.findings[0].rule, LintRule::CacheApk);
        assert_eq!(found.exit().code(), 1);
        let clean = run_on("FROM alpine\nRUN apk add --no-cache curl\n").unwrap();
        assert_eq!((clean.exit(), clean.exit().code()), (Exit::Done, 0));
        let missing = d.join("nope");
        let e = run(&LintOptions {
            dockerfile: missing.clone(),
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot read {}: ", missing.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
