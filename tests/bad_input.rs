//! Bad input: a clear one-line error naming the file and the layer or member, exit code 2, no panic,
//! and nothing written anywhere.

mod common;

use std::path::Path;

use common::*;

/// Runs `dredge image SOURCE` from an empty directory; checks exit 2, one line on stderr naming `names`,
/// no panic, nothing on stdout and nothing written in the working directory.
fn fails_cleanly(source: &Path, names: &[&str]) -> String {
    let cwd = tempfile::tempdir().unwrap();
    let before = std::fs::read(source).ok();
    let out = dredge()
        .current_dir(cwd.path())
        .args(["image", source.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    one_clean_line(&out.stderr);
    assert!(err.starts_with("dredge: error: "), "{err}");
    for n in names {
        assert!(err.contains(n), "error should name {n:?}: {err}");
    }
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing written"
    );
    assert_eq!(std::fs::read(source).ok(), before, "input untouched");
    eprintln!("{}", err.trim_end());
    err
}

/// Exactly one line, and no byte below 0x20 (line breaks, ESC, BEL) or DEL but its final newline.
fn one_clean_line(stderr: &[u8]) {
    let body = stderr.strip_suffix(b"\n").unwrap_or_else(|| {
        panic!(
            "stderr should end with one newline: {:?}",
            String::from_utf8_lossy(stderr)
        )
    });
    assert!(
        !body.iter().any(|&b| b < 0x20 || b == 0x7f),
        "control bytes on stderr: {:?}",
        String::from_utf8_lossy(stderr)
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn good_layers() -> Vec<Vec<u8>> {
    vec![layer_tar(&[
        E::Dir(b"etc"),
        E::File(b"etc/a", 3000),
        E::File(b"etc/b", 40_000),
    ])]
}

#[test]
fn truncated_archive() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(fixture("kitchen/docker-archive.tar")).unwrap();
    for cut in [full.len() / 2, full.len() - 2000, 700] {
        let p = write(dir.path(), "cut.tar", &full[..cut]);
        fails_cleanly(&p, &["cut.tar"]);
    }
}

#[test]
fn truncated_layer_inside_a_whole_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = good_layers().remove(0);
    layer.truncate(layer.len() - 1024 - 20_000); // cut inside etc/b's data, end blocks gone
    let p = write(
        dir.path(),
        "img.tar",
        &docker_save(&[layer], &["RUN x"], &[]),
    );
    let err = fails_cleanly(&p, &["img.tar", "layer 0", "l0/layer.tar"]);
    assert!(
        err.contains("truncated") || err.contains("past the end"),
        "{err}"
    );
    // Cut exactly after a whole entry: no end-of-archive blocks.
    let layer = good_layers().remove(0);
    let cut = layer[..layer.len() - 1024].to_vec();
    let p = write(
        dir.path(),
        "img2.tar",
        &docker_save(&[cut], &["RUN x"], &[]),
    );
    fails_cleanly(&p, &["img2.tar", "layer 0"]);
}

#[test]
fn corrupt_gzip_and_zstd_layers() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let tar = layer_tar(&[E::File(b"a", 200_000)]);
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).unwrap();
    let mut gz = e.finish().unwrap();
    let mid = gz.len() / 2;
    gz[mid..mid + 16].copy_from_slice(&[0xAA; 16]);
    let p = write(
        dir.path(),
        "gz.tar",
        &docker_save(&[layer_tar(&[]), gz], &["base", "RUN gz"], &[]),
    );
    fails_cleanly(&p, &["gz.tar", "layer 1", "l1/layer.tar"]);

    let mut zs = zstd::encode_all(tar.as_slice(), 3).unwrap();
    let mid = zs.len() / 2;
    zs[mid..mid + 16].copy_from_slice(&[0x55; 16]);
    let p = write(dir.path(), "zs.tar", &docker_save(&[zs], &["RUN zs"], &[]));
    fails_cleanly(&p, &["zs.tar", "layer 0"]);

    // A gzip stream cut short.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).unwrap();
    let gz = e.finish().unwrap();
    let p = write(
        dir.path(),
        "gzcut.tar",
        &docker_save(&[gz[..gz.len() / 3].to_vec()], &["RUN gz"], &[]),
    );
    fails_cleanly(&p, &["gzcut.tar", "layer 0"]);
}

#[test]
fn missing_manifest_or_config_or_layer() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "nomanifest.tar",
        &docker_save(&good_layers(), &["x"], &[("manifest.json", None)]),
    );
    fails_cleanly(&p, &["nomanifest.tar", "not an image"]);

    let manifest = br#"[{"Config":"abc.json","Layers":["l0/layer.tar"]}]"#.to_vec();
    let p = write(
        dir.path(),
        "noconfig.tar",
        &docker_save(&good_layers(), &["x"], &[("manifest.json", Some(manifest))]),
    );
    fails_cleanly(&p, &["noconfig.tar", "abc.json"]);

    let p = write(
        dir.path(),
        "nolayer.tar",
        &docker_save(&good_layers(), &["x"], &[("l0/layer.tar", None)]),
    );
    fails_cleanly(&p, &["nolayer.tar", "l0/layer.tar"]);

    let p = write(
        dir.path(),
        "badjson.tar",
        &docker_save(
            &good_layers(),
            &["x"],
            &[("manifest.json", Some(b"[{".to_vec()))],
        ),
    );
    fails_cleanly(&p, &["badjson.tar", "manifest.json", "invalid JSON"]);
}

#[test]
fn paths_that_escape() {
    let dir = tempfile::tempdir().unwrap();
    // A layer entry with `..`: written raw, since tar writers refuse it.
    let mut layer = layer_tar(&[E::File(b"okay", 10)]);
    let name = b"../../etc/evil";
    layer[..100].fill(0);
    layer[..name.len()].copy_from_slice(name);
    let mut h = tar::Header::from_byte_slice(&layer[..512]).clone();
    h.set_cksum();
    layer[..512].copy_from_slice(h.as_bytes());
    let p = write(
        dir.path(),
        "dotdot.tar",
        &docker_save(&[layer], &["x"], &[]),
    );
    fails_cleanly(&p, &["dotdot.tar", "layer 0", "escapes"]);

    // A manifest naming a layer outside the archive (its config lists one diff id for its one layer).
    let manifest = br#"[{"Config":"c.json","Layers":["../../etc/passwd"]}]"#.to_vec();
    let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}"#.to_vec();
    let p = write(
        dir.path(),
        "outside.tar",
        &docker_save(
            &good_layers(),
            &["x"],
            &[("manifest.json", Some(manifest)), ("c.json", Some(config))],
        ),
    );
    fails_cleanly(&p, &["outside.tar", "../../etc/passwd"]);

    // An OCI layout directory whose blob is a symlink out of the directory.
    let oci = tempfile::tempdir().unwrap();
    let blobs = oci.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let digest = "a".repeat(64);
    std::os::unix::fs::symlink("/etc/passwd", blobs.join(&digest)).unwrap();
    std::fs::write(
        oci.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        oci.path().join("index.json"),
        format!(r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{digest}","size":1}}]}}"#),
    )
    .unwrap();
    let out = dredge()
        .args(["image", oci.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("names no image manifest") || err.contains("outside"),
        "{err}"
    );
}

#[test]
fn absurd_declared_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut layer = layer_tar(&[E::File(b"huge", 10), E::File(b"after", 10)]);
    let mut h = tar::Header::from_byte_slice(&layer[..512]).clone();
    h.set_size(1 << 50); // 1 PiB declared, 10 bytes present
    h.set_cksum();
    layer[..512].copy_from_slice(h.as_bytes());
    let p = write(
        dir.path(),
        "absurd.tar",
        &docker_save(&[layer.clone()], &["x"], &[]),
    );
    let err = fails_cleanly(&p, &["absurd.tar", "layer 0", "/huge"]);
    assert!(err.contains("declares"), "{err}");
    // The same from a stream, where it cannot be checked by seeking.
    let out = dredge()
        .args(["image", "-"])
        .write_stdin(docker_save(&[layer], &["x"], &[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("l0/layer.tar") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "README", b"hello");
    fails_cleanly(dir.path(), &["not an image"]);
    let p = write(dir.path(), "empty.tar", b"");
    fails_cleanly(&p, &["empty.tar"]);
    let p = write(dir.path(), "text.tar", &[b'z'; 3000]);
    fails_cleanly(&p, &["text.tar"]);
    fails_cleanly(
        &dir.path().join("does-not-exist.tar"),
        &["does-not-exist.tar"],
    );
    let out = dredge()
        .args(["image", "-"])
        .write_stdin(b"hello".to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "secret.tar",
        &docker_save(&good_layers(), &["x"], &[]),
    );
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Root reads a mode-000 file anyway: run dredge as nobody (setpriv, util-linux) when we are root.
    let is_root = command_ok("sh", &["-c", "test $(id -u) = 0"]);
    let bin = assert_cmd::cargo::cargo_bin("dredge");
    let mut cmd = if is_root {
        require(
            command_ok("setpriv", &["--version"]),
            "setpriv (util-linux), to drop root",
        );
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        std::process::Command::new(&bin)
    };
    let out = cmd.args(["image", p.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("secret.tar") && err.contains("ermission denied"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = dredge().args(["image"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = dredge()
        .args(["image", "x", "--top", "many"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Writes `name` and a raw `size` field into the first header of `tar`, with a valid checksum.
fn craft_header(tar: &mut [u8], name: &[u8], size: &[u8; 12]) {
    tar[..100].fill(0);
    tar[..name.len()].copy_from_slice(name);
    tar[124..136].copy_from_slice(size);
    let mut h = tar::Header::from_byte_slice(&tar[..512]).clone();
    h.set_cksum();
    tar[..512].copy_from_slice(h.as_bytes());
}

const HOSTILE_NAME: &[u8] = b"evil\n\x1b[2J\x07\x1b[31mred\x1b[0m\nline3\rline4\x7f";
const HOSTILE_SIZE: &[u8; 12] = b"\x1b[2J\x07\n1\n\x1b]0\x07";

#[test]
fn a_crafted_tar_header_gives_one_clean_line() {
    let dir = tempfile::tempdir().unwrap();
    // In a layer: the tar reader's message quotes the size field and the name.
    let mut layer = layer_tar(&[E::File(b"okay", 10), E::File(b"after", 10)]);
    craft_header(&mut layer, HOSTILE_NAME, HOSTILE_SIZE);
    let p = write(
        dir.path(),
        "esc.tar",
        &docker_save(&[layer.clone()], &["x"], &[]),
    );
    let err = fails_cleanly(&p, &["esc.tar", "layer 0", "l0/layer.tar"]);
    assert!(err.contains("\\x1b[2J") && err.contains("\\n"), "{err}");
    // A later entry: the message names the entry before it, whose name is hostile too.
    let mut second = layer_tar(&[E::File(b"okay", 10), E::File(b"after", 10)]);
    craft_header(&mut second, HOSTILE_NAME, b"00000000012\0");
    craft_header(&mut second[1024..], b"after", HOSTILE_SIZE);
    let p = write(dir.path(), "esc2.tar", &docker_save(&[second], &["x"], &[]));
    fails_cleanly(&p, &["esc2.tar", "layer 0"]);
    // The same layer read from standard input.
    let out = dredge()
        .args(["image", "-"])
        .write_stdin(docker_save(&[layer], &["x"], &[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    one_clean_line(&out.stderr);
    // The archive's own header: a member with a hostile name and size field.
    let mut outer = docker_save(&good_layers(), &["x"], &[]);
    craft_header(&mut outer, HOSTILE_NAME, HOSTILE_SIZE);
    let p = write(dir.path(), "outer.tar", &outer);
    fails_cleanly(&p, &["outer.tar"]);
    // A member name with control characters in a manifest (quoted in the error as the missing member).
    let manifest = b"[{\"Config\":\"c\\u001b[2J\\n.json\",\"Layers\":[\"l0/layer.tar\"]}]".to_vec();
    let p = write(
        dir.path(),
        "member.tar",
        &docker_save(&good_layers(), &["x"], &[("manifest.json", Some(manifest))]),
    );
    fails_cleanly(&p, &["member.tar", "c\\x1b[2J\\n.json"]);
}
