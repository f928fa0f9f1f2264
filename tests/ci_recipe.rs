//! The README's GitHub Actions recipe, run as the runner would: its `dredge` steps are taken from the
//! README itself, run by `sh -c` with the variables GitHub sets (`GITHUB_ACTIONS=true`,
//! `GITHUB_STEP_SUMMARY`), in a directory holding `app.tar` (the kitchen fixture) and a `dredge.toml`
//! with a budget it breaks. The job summary must be Markdown only, the JUnit file XML only, and the
//! annotations must reach the runner on stderr.

mod common;

use std::path::Path;
use std::process::Command;

use common::fixture;

/// The `run:` lines of the README's GitHub Actions example that call dredge.
fn readme_steps() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find("```yaml")
        .expect("the README has a GitHub Actions example in a yaml block");
    let block = &readme[start..];
    let block = &block[..block[7..].find("```").expect("the block ends") + 7];
    assert!(block.contains("GITHUB_STEP_SUMMARY"), "{block}");
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- run: "))
        .filter(|l| l.starts_with("dredge "))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_github_recipe_writes_a_clean_summary_and_annotations_on_stderr() {
    let steps = readme_steps();
    assert!(
        steps.iter().any(|s| s.contains("--format markdown")),
        "{steps:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("kitchen/docker-archive.tar"),
        dir.path().join("app.tar"),
    )
    .unwrap();
    // The fixture's 2.58 MB (fixtures/build.sh) breaks a 1 MB budget.
    std::fs::write(
        dir.path().join("dredge.toml"),
        "[check]\nmax_size = \"1MB\"\n",
    )
    .unwrap();
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "").unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_dredge")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut annotations = 0;
    for step in &steps {
        let out = Command::new("sh")
            .args(["-c", step])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env_remove("COLUMNS")
            .output()
            .unwrap();
        // The budget is broken: the step fails the job, as it should.
        assert_eq!(out.status.code(), Some(1), "{step}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let errors = stderr.lines().filter(|l| l.starts_with("::error ")).count();
        assert_eq!(
            errors, 1,
            "{step}: one broken budget, one annotation: {stderr}"
        );
        annotations += errors;
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("::"),
            "{step}"
        );
    }
    assert!(annotations >= 2);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("## dredge check: FAILED"), "{md}");
    for line in md.lines() {
        assert!(
            !line.starts_with("::"),
            "a workflow command in the summary: {line}"
        );
        assert!(
            !line.contains('\x1b'),
            "an escape sequence in the summary: {line:?}"
        );
    }
    assert!(md.contains(r"| **FAIL** | max\_size |"), "{md}");
    let xml = std::fs::read_to_string(dir.path().join("dredge-check.xml")).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(!xml.contains("::error"), "{xml}");
}
