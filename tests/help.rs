//! What an installed binary tells a newcomer: every command's `--help` ends with examples and its exit
//! status, every man page has EXAMPLES and EXIT STATUS, JSON schemas come from the binary (`dredge
//! schema`), never from a repository file; errors are one line, without `(os error N)`, and a text
//! file given as an image is not echoed back.

mod common;

use common::dredge;

const COMMANDS: [&str; 7] = ["image", "check", "advise", "lint", "df", "prune", "reclaim"];

fn stdout(args: &[&str]) -> String {
    let out = dredge().args(args).env_remove("COLUMNS").output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_and_man_pages_have_examples_and_exit_status() {
    for c in COMMANDS {
        for h in ["-h", "--help"] {
            let help = stdout(&[c, h]);
            let examples = &help[help.find("\nExamples:\n").expect("examples")..];
            assert!(
                examples.contains(&format!("dredge {c} ")),
                "{c} {h}: {help}"
            );
            assert!(help.contains("\nExit status: 0 "), "{c} {h}: {help}");
            assert!(
                !help.contains("docs/"),
                "{c} {h} points into the repository: {help}"
            );
        }
        let man = stdout(&["man", c]);
        assert!(man.contains("\n.SH EXAMPLES\n"), "{c}: {man}");
        assert!(man.contains("\n.SH \"EXIT STATUS\"\n0 "), "{c}: {man}");
        assert!(!man.contains("docs/"), "{c}");
    }
    let man = stdout(&["man"]);
    assert!(man.contains("\n.SH EXAMPLES\n") && man.contains("\n.SH \"EXIT STATUS\"\n"));
    // An image name works, and --help says so.
    assert!(stdout(&["image", "--help"]).contains("a name or id the engine knows"));
}

#[test]
fn the_schemas_ship_in_the_binary() {
    let list = stdout(&["schema"]);
    for name in [
        "image",
        "check",
        "advice",
        "lint",
        "df",
        "prune.plan",
        "prune.result",
        "reclaim",
    ] {
        assert!(list.contains(&format!("{name} (version ")), "{list}");
        let doc: serde_json::Value = serde_json::from_str(&stdout(&["schema", name])).unwrap();
        let id = doc["$id"].as_str().unwrap();
        assert!(id.contains(&format!("dredge.{name}.v")), "{id}");
    }
    let out = dredge().args(["schema", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn errors_are_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tar");
    let text = dir.path().join("passwd");
    std::fs::write(
        &text,
        "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/sbin/nologin\n",
    )
    .unwrap();
    for args in [
        vec!["image", missing.to_str().unwrap()],
        vec!["check", missing.to_str().unwrap(), "--max-size", "1"],
        vec!["lint", missing.to_str().unwrap()],
        vec!["df", "--data-root", missing.to_str().unwrap()],
        vec!["image", text.to_str().unwrap()],
    ] {
        let out = dredge().args(&args).arg("--no-progress").output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("{args:?}: {e}"),
        };
        // lint has no --no-progress: a usage error, also one line (clap's own usage text aside).
        if args[0] == "lint" {
            let out = dredge().args(&args).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2));
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(!err.contains("os error"), "{err}");
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("dredge: error: "), "{err}");
        assert!(!err.contains("os error"), "{err}");
        assert!(
            !err.contains("root:x") && !err.contains("daemon"),
            "input echoed: {err}"
        );
    }
    let out = dredge()
        .args(["image", text.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "dredge: error: {}: not an image: not a tar archive",
            text.display()
        )
    );
}
