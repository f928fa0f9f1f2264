//! What a person at a terminal sees: every command run in a pseudo-terminal of 80 columns prints no
//! line wider than that (measured in display columns), the same commands piped keep their values whole,
//! and `dredge df` names what to remove with a command that accepts the name.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use common::fixture;
use unicode_width::UnicodeWidthStr;

const BIN: &str = env!("CARGO_BIN_EXE_dredge");

/// Runs dredge with stdout on a fresh pseudo-terminal of `cols` columns (its window size) and the
/// given environment; returns stdout (the terminal's `\r\n` made `\n`) and the exit code.
fn in_pty(args: &[&str], cols: u16, env: &[(&str, &str)], cwd: &Path) -> (String, Option<i32>) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .expect("a pseudo-terminal");
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    rustix::termios::tcsetwinsize(
        &slave,
        rustix::termios::Winsize {
            ws_row: 50,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    let mut master = fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        // Linux answers EIO once the last holder of the other end has closed it.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("COLUMNS")
        .env_remove("GITHUB_ACTIONS")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave))
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("dredge starts");
    // The parent's copy of the terminal's other end goes with the Command.
    drop(cmd);
    let status = child.wait().unwrap();
    let out = reader.join().unwrap();
    (
        String::from_utf8_lossy(&out).replace("\r\n", "\n"),
        status.code(),
    )
}

/// Runs dredge with stdout on a pipe.
fn piped(args: &[&str], cwd: &Path) -> String {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("COLUMNS", "80")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `s` without ANSI CSI sequences (clap's help is in colour on a terminal): they take no column.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // ESC [ params final-byte
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The lines wider than `max` display columns, with their widths.
fn too_wide(out: &str, max: usize) -> Vec<(usize, String)> {
    out.lines()
        .map(|l| (strip_ansi(l).width(), l.to_string()))
        .filter(|(w, _)| *w > max)
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small data root: one image with a long tag used by a stopped container named `web` with json-file
/// logs, one image nothing uses, and a leaked overlay2 dir (an orphan).
fn data_root(root: &Path) {
    let w = |p: &Path, b: &[u8]| {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b).unwrap();
    };
    let hex = |c: char| std::iter::repeat_n(c, 64).collect::<String>();
    let store = root.join("image/overlay2");
    let layer = |id: &str, n: usize| {
        w(
            &root.join("overlay2").join(id).join("diff/f"),
            &vec![b'x'; n],
        );
        w(
            &root.join("overlay2").join(id).join("link"),
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        );
    };
    for (img, diff, cache, n) in [('e', 'a', '1', 300_000), ('7', 'b', '4', 120_000)] {
        let diff_id = format!("sha256:{}", hex(diff));
        w(
            &store.join("imagedb/content/sha256").join(hex(img)),
            format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#).as_bytes(),
        );
        let chain = store.join("layerdb/sha256").join(hex(diff));
        w(&chain.join("diff"), diff_id.as_bytes());
        w(&chain.join("cache-id"), hex(cache).as_bytes());
        w(&chain.join("size"), n.to_string().as_bytes());
        layer(&hex(cache), n);
    }
    w(
        &store.join("repositories.json"),
        format!(
            r#"{{"Repositories":{{
              "registry.example.com/platform/very-long-service-name":{{
                "registry.example.com/platform/very-long-service-name:2026-12-01-build-4711":"sha256:{}"}},
              "old":{{"old:1":"sha256:{}"}}}}}}"#,
            hex('e'),
            hex('7')
        )
        .as_bytes(),
    );
    let (container, mount) = (hex('c'), hex('2'));
    let m = store.join("layerdb/mounts").join(&container);
    w(&m.join("mount-id"), mount.as_bytes());
    w(&m.join("init-id"), format!("{mount}-init").as_bytes());
    w(&m.join("parent"), format!("sha256:{}", hex('a')).as_bytes());
    layer(&mount, 20_000);
    layer(&format!("{mount}-init"), 10);
    let c = root.join("containers").join(&container);
    w(
        &c.join("config.v2.json"),
        format!(
            r#"{{"Name":"/web","Image":"sha256:{}","State":{{"Running":false}}}}"#,
            hex('e')
        )
        .as_bytes(),
    );
    w(
        &c.join("hostconfig.json"),
        br#"{"LogConfig":{"Type":"json-file"}}"#,
    );
    w(&c.join(format!("{container}-json.log")), &[b'l'; 200_000]);
    layer(&hex('3'), 50_000);
}

#[test]
fn every_command_fits_80_columns_in_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docker");
    data_root(&root);
    let dockerfile = fixture("kitchen/Dockerfile");
    let archive = fixture("kitchen/docker-archive.tar");
    let mut runs: Vec<Vec<String>> = Vec::new();
    for f in [
        "kitchen/docker-archive.tar",
        "kitchen/docker25.tar",
        "kitchen/oci-zstd.tar",
        "kitchen/oci-gzip",
    ] {
        runs.push(vec![
            "image".into(),
            s(&fixture(f)).into(),
            "--duplicates".into(),
            "--no-progress".into(),
        ]);
    }
    let a = s(&archive).to_string();
    runs.push(vec![
        "advise".into(),
        a.clone(),
        "--dockerfile".into(),
        s(&dockerfile).into(),
        "--no-progress".into(),
    ]);
    runs.push(vec!["advise".into(), a.clone(), "--no-progress".into()]);
    runs.push(vec![
        "check".into(),
        a.clone(),
        "--max-size".into(),
        "1".into(),
        "--max-reclaimable".into(),
        "1".into(),
        "--forbid".into(),
        "/data/**".into(),
        "--no-config".into(),
        "--no-progress".into(),
    ]);
    runs.push(vec!["lint".into(), s(&dockerfile).into()]);
    // Every Dockerfile of tests/lint and of its labelled corpus (tests/lint/corpus, beside its TSVs).
    let lint_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    let mut dockerfiles: Vec<_> = [lint_dir.clone(), lint_dir.join("corpus")]
        .iter()
        .flat_map(|d| fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with("Dockerfile"))
        .collect();
    dockerfiles.sort();
    assert!(dockerfiles.len() > 40, "{dockerfiles:?}");
    for lint in dockerfiles {
        runs.push(vec!["lint".into(), s(&lint).into()]);
    }
    runs.push(vec![
        "df".into(),
        "--data-root".into(),
        s(&root).into(),
        "--no-progress".into(),
        "--top".into(),
        "0".into(),
    ]);
    runs.push(vec!["--help".into()]);
    for c in [
        "image", "check", "advise", "lint", "df", "prune", "reclaim", "man", "schema",
    ] {
        runs.push(vec![c.into(), "--help".into()]);
    }
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // COLUMNS wins over the terminal's own width; without it, the terminal's width counts.
        for (cols, env) in [(200, &[("COLUMNS", "80")][..]), (80, &[][..])] {
            let (out, code) = in_pty(&args, cols, env, tmp.path());
            assert!(
                code.is_some_and(|c| c <= 1),
                "{args:?}: exit {code:?}\n{out}"
            );
            // (lint says nothing about a Dockerfile that breaks no rule.)
            assert!(
                args[0] == "lint" || out.lines().count() > 1,
                "{args:?}: {out}"
            );
            assert_eq!(
                too_wide(&out, 80),
                Vec::new(),
                "{args:?} ({cols} cols): {out}"
            );
        }
    }
}

#[test]
fn piped_output_keeps_what_the_terminal_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = fixture("kitchen/docker-archive.tar");
    let args = ["image", s(&archive), "--no-progress"];
    // The fix for the temp file (fixtures/build.sh writes /tmp/build.log) is 85 characters.
    let fix = "delete temp files in the RUN that made them (or RUN --mount=type=tmpfs,target=/tmp)";
    let (tty, _) = in_pty(&args, 80, &[], tmp.path());
    assert!(!tty.contains(fix) && tty.contains('…'), "{tty}");
    assert!(piped(&args, tmp.path()).contains(fix));
    // --wide: not cut on a terminal either.
    let wide = ["image", s(&archive), "--no-progress", "--wide"];
    assert!(in_pty(&wide, 80, &[], tmp.path()).0.contains(fix));
    // The deleted-by-reason columns, left out at 80 columns, are there piped.
    assert!(!tty.contains("┆ opaque ┆"), "{tty}");
    assert!(piped(&args, tmp.path()).contains("┆ opaque ┆"));
}

#[test]
fn df_names_what_to_remove_with_a_command_that_accepts_the_name() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("docker");
    data_root(&root);
    let tag = "registry.example.com/platform/very-long-service-name:2026-12-01-build-4711";
    let out = piped(
        &["df", "--data-root", s(&root), "--no-progress", "--top", "0"],
        tmp.path(),
    );
    let lines: Vec<&str> = out.lines().collect();
    // Each removable item is a line with its size, kind and name, then the command.
    let command_after = |what: &str| {
        let i = lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what:?}:\n{out}"));
        lines[i + 1].trim().to_string()
    };
    assert!(out.contains("Largest items you can remove"), "{out}");
    assert_eq!(
        command_after("web (its log)"),
        "truncate -s 0 $(docker inspect -f '{{.LogPath}}' web)"
    );
    assert_eq!(command_after("container   web"), "docker rm web");
    assert_eq!(command_after("image       old:1"), "docker rmi old:1");
    assert_eq!(
        command_after(&format!("image       {tag}")),
        "in use by web (stopped): remove it first"
    );
    let orphan = root.join("overlay2").join("3".repeat(64));
    assert_eq!(
        command_after(&format!("orphan      {}", orphan.display())),
        "dredge prune --orphans"
    );
    // No bare layer id anywhere in the list.
    let list = &out[out.find("Largest items").unwrap()..];
    assert!(
        !list.contains(&"a".repeat(12)) && !list.contains(&"1".repeat(12)),
        "{list}"
    );
    // The images table: the tag whole, piped.
    assert!(
        lines.iter().any(|l| l.starts_with('│') && l.contains(tag)),
        "{out}"
    );
    // The log's size is the log file's allocated bytes (stat), labelled as a log.
    let log = root
        .join("containers")
        .join("c".repeat(64))
        .join(format!("{}-json.log", "c".repeat(64)));
    let blocks = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&log).unwrap().blocks() * 512
    };
    let shown = dredge::units::size(blocks);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("web (its log)") && l.trim_start().starts_with(&shown)),
        "{shown}: {out}"
    );
}
