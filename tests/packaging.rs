//! Packaging: completions and man pages from the clap definitions, and the Dockerfile's final stage
//! built by a real engine from the locally built static binary (scripts/build-static) on an imported
//! busybox base, then checked against its budget:
//!
//! - 2 layers (the base, the binary), at most 12 MB in all, at most 10 MB in the binary's layer;
//! - nothing reclaimable, no caches or temp files;
//! - no sources, build output, VCS data or home directory: `**/*.rs`, `**/target/**`, `**/.git`, `/root/**`.
//!
//! The image test needs an engine and the static binary: ignored by plain `cargo test`; with
//! `--include-ignored` it fails when either is missing (.ci/run builds the binary first).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

#[test]
fn completions_for_every_shell_name_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = dredge().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        for word in [
            "check",
            "image",
            "max-size",
            "dive-ci",
            "completions",
            "man",
        ] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
        // Value lists (--format's) where the shell's generator writes them.
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(
                text.contains("junit"),
                "{shell} completion lacks --format's values"
            );
        }
    }
    let out = dredge().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_from_the_same_definitions() {
    let out = dredge().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH dredge 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"));
    assert!(page.contains("dredge\\-check(1)"));
    let out = dredge().args(["man", "check"]).output().unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH dredge-check 1"), "{page}");
    // Every flag of `dredge check --help` is in the page (roff escapes '-').
    let help = dredge().args(["check", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches([',', '.']))
        .collect();
    assert!(flags.len() > 15, "{help}");
    for f in flags {
        assert!(page.contains(&f.replace('-', "\\-")), "man page lacks {f}");
    }
    assert!(
        page.contains(".SH \"EXIT STATUS\"\n0 every budget holds"),
        "{page}"
    );
    let out = dredge().args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn static_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-gnu/dist/dredge")
}

fn docker(args: &[&str], input: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new(DOCKER)
        .args(args)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(i) = input {
        stdin.write_all(i).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn docker_ok(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let out = docker(args, input);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The Dockerfile's global ARGs and its final stage, the COPY taking the binary from the context.
fn final_stage() -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile"))
        .expect("Dockerfile");
    let (_, stage) = text.split_once("# final stage\n").expect("a final stage");
    let from_build = "COPY --from=build /out/dredge /usr/local/bin/dredge\n";
    assert!(stage.contains(from_build), "{stage}");
    format!(
        "ARG BASE\n{}",
        stage.replace(from_build, "COPY dredge /usr/local/bin/dredge\n")
    )
}

#[test]
#[ignore = "needs docker engine and the static binary (scripts/build-static)"]
fn final_stage_on_busybox_holds_its_budget() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    require(
        static_binary().is_file(),
        "a static release binary (run scripts/build-static)",
    );
    let id = std::process::id();
    let base = format!("dredge-test/pkg-base:{id}");
    let tag = format!("dredge-test/dredge:{id}");
    let _cleanup = Cleanup(vec![("rmi", base.clone()), ("rmi", tag.clone())]);
    docker_ok(&["import", "-", &base], Some(&busybox_rootfs(&["sh"])));

    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(static_binary(), ctx.path().join("dredge")).unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), final_stage()).unwrap();
    docker_ok(
        &[
            "build",
            "--network",
            "none",
            "--build-arg",
            &format!("BASE={base}"),
            "-t",
            &tag,
            ctx.path().to_str().unwrap(),
        ],
        None,
    );

    // The image runs: as nobody, without network, the static binary on busybox.
    let version = docker_ok(
        &["run", "--rm", "--network", "none", &tag, "--version"],
        None,
    );
    assert_eq!(
        String::from_utf8(version).unwrap(),
        format!("dredge {}\n", env!("CARGO_PKG_VERSION"))
    );

    let archive = ctx.path().join("image.tar");
    docker_ok(&["save", "-o", archive.to_str().unwrap(), &tag], None);
    let budget = [
        "--max-layers",
        "2",
        "--max-size",
        "12MB",
        "--max-layer-size",
        "10MB",
        "--max-reclaimable",
        "0",
        "--max-cache",
        "0",
        "--forbid",
        "**/*.rs",
        "--forbid",
        "**/target/**",
        "--forbid",
        "**/.git",
        "--forbid",
        "/root/**",
    ];
    let out = dredge()
        .arg("check")
        .arg(&archive)
        .args(budget)
        .args(["--no-config", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    // Exact sizes from the files themselves: the base's busybox, and the binary.
    let busybox = std::fs::metadata("/bin/busybox").unwrap().len();
    let binary = std::fs::metadata(static_binary()).unwrap().len();
    assert_eq!(v["image"]["layers"][0]["size_bytes"], busybox);
    assert_eq!(v["image"]["layers"][1]["size_bytes"], binary);
    assert_eq!(v["image"]["size_bytes"], busybox + binary);
    eprintln!(
        "packaged image: {} bytes (binary {binary})",
        busybox + binary
    );

    // The packaged dredge checks its own image from a pipe, as the README shows.
    let tar = std::fs::read(&archive).unwrap();
    let mut args = vec![
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        tag.as_str(),
        "check",
        "-",
    ];
    args.extend(budget);
    let out = docker(&args, Some(&tar));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("dredge check: ok, 6 budgets hold"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
