//! Hostile text in otherwise valid input: names with terminal escape sequences and megabyte-long paths in
//! the human reports, and a Dockerfile that starts with a byte-order mark.

mod common;

use std::time::Duration;

use common::*;

/// Lines of `out` wider than `max` characters.
fn wide_lines(out: &str, max: usize) -> Vec<usize> {
    out.lines()
        .map(|l| l.chars().count())
        .filter(|&n| n > max)
        .collect()
}

fn no_control_bytes(out: &[u8]) {
    assert!(
        !out.iter().any(|&b| (b < 0x20 && b != b'\n') || b == 0x7f),
        "control bytes in: {}",
        String::from_utf8_lossy(out)
    );
}

/// An image whose base layer writes `name` (5000 bytes) and whose second layer deletes it, so the path
/// shows in the invisible-bytes table; the history entry and the tag carry `history` and `tag`.
fn image_with(name: &[u8], history: &str, tag: &str) -> Vec<u8> {
    let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (&name[..0], name),
    };
    let whiteout = [dir, b"/.wh.", base].concat();
    let l0 = layer_tar(&[E::File(name, 5000), E::File(b"var/cache/apk/x", 100)]);
    let l1 = layer_tar(&[E::File(&whiteout, 0)]);
    let save = docker_save(&[l0, l1], &[history, "RUN rm"], &[]);
    // Put the tag in (docker_save writes crafted:1).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("i.tar");
    std::fs::write(&p, &save).unwrap();
    let mut a = tar::Archive::new(std::fs::File::open(&p).unwrap());
    let mut members = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let n = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        if n == "manifest.json" {
            let mut m: serde_json::Value = serde_json::from_slice(&b).unwrap();
            m[0]["RepoTags"] = serde_json::json!([tag]);
            b = serde_json::to_vec(&m).unwrap();
        }
        members.push((n, b));
    }
    let mut out = tar::Builder::new(Vec::new());
    for (n, b) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        out.append_data(&mut h, &n, b.as_slice()).unwrap();
    }
    out.into_inner().unwrap()
}

fn write_tmp(bytes: &[u8]) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("image.tar");
    std::fs::write(&p, bytes).unwrap();
    let s = p.to_str().unwrap().to_string();
    (dir, s)
}

#[test]
fn escape_sequences_in_names_tags_and_history_are_shown_escaped() {
    let img = image_with(
        b"d/evil\x1b[2J\x07name",
        "RUN echo \x1b[31mred\x1b[0m\x07",
        "tag\x1b]0;owned\x07:1",
    );
    let (_d, p) = write_tmp(&img);
    let out = dredge()
        .args(["image", &p, "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    no_control_bytes(&out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/d/evil\\x1b[2J\\x07name"), "{text}");
    assert!(text.contains("tag\\x1b]0;owned\\x07:1"), "{text}");
    assert!(text.contains("RUN echo \\x1b[31mred"), "{text}");
    // The JSON keeps the names as they are (JSON escapes them itself).
    let v = image_json(&[&p, "--top", "0"]);
    assert_eq!(v["wasted"][0]["path"], "/d/evil\x1b[2J\x07name");
}

#[test]
fn a_huge_path_name_is_cut_in_the_tables_in_linear_time() {
    // 2 MB path and history entry: the tables show their start and an ellipsis. Before the cut, the
    // image table took time quadratic in the name (1 MB: 1.8 s, 4 MB: 18 s in a debug build).
    let long = [b"d/".as_slice(), &vec![b'a'; 2 << 20]].concat();
    let history = format!("RUN {}", "b".repeat(2 << 20));
    let (_d, p) = write_tmp(&image_with(&long, &history, "long:1"));
    let out = dredge()
        .args(["image", &p, "--no-progress"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(wide_lines(&text, 400), Vec::<usize>::new());
    assert!(text.contains("/d/aaaa") && text.contains("a…"), "{text}");
    assert!(text.contains("RUN bbbb") && text.contains("b…"), "{text}");
    // advise and check finish too, their tables and verdict lines cut as well. (advise's evidence lines
    // below the table, `    RUN …` and `    5 kB  /d/…`, are not a table: printed whole, in linear time.)
    let out = dredge()
        .args(["advise", &p, "--no-progress"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('│'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(wide_lines(&table, 400), Vec::<usize>::new());
    let out = dredge()
        .args(["check", &p, "--max-size", "1", "--no-progress"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        wide_lines(&String::from_utf8_lossy(&out.stdout), 400),
        Vec::<usize>::new()
    );
}

#[test]
fn a_dockerfile_with_a_byte_order_mark_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, "\u{feff}FROM alpine:3.20\nRUN echo hi\n").unwrap();
    let out = dredge().arg("lint").arg(&df).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code().is_some_and(|c| c < 2), "{err}");
    assert!(!err.contains("unknown instruction"), "{err}");
    // advise reads it against the kitchen image's Dockerfile, BOM added: same advice as without.
    let img = fixture("kitchen/docker-archive.tar");
    let plain = std::fs::read_to_string(fixture("kitchen/Dockerfile")).unwrap();
    std::fs::write(&df, format!("\u{feff}{plain}")).unwrap();
    let with_bom = json_ok(
        dredge()
            .args([
                "advise",
                img.to_str().unwrap(),
                "--json",
                "--no-progress",
                "--dockerfile",
            ])
            .arg(&df),
    );
    std::fs::write(&df, &plain).unwrap();
    let without = json_ok(
        dredge()
            .args([
                "advise",
                img.to_str().unwrap(),
                "--json",
                "--no-progress",
                "--dockerfile",
            ])
            .arg(&df),
    );
    assert_eq!(with_bom["suggestions"], without["suggestions"]);
    assert!(
        with_bom["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
}
