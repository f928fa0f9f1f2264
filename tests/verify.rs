//! Corrupt layers and images whose parts disagree: compressed streams are read to their end (CRC, length,
//! trailing data), `--verify` checks every blob's sha256 and size against its name, its descriptor and
//! the config's diff ids, and a config whose diff ids do not match the manifest's layers is refused.
//! Every mutant is built here from a good image; the expected digests come from `sha2` over the bytes
//! written.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use sha2::{Digest, Sha256};

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(tar).unwrap();
    e.finish().unwrap()
}

fn zstd_frame(tar: &[u8]) -> Vec<u8> {
    let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    e.include_checksum(true).unwrap();
    e.write_all(tar).unwrap();
    e.finish().unwrap()
}

fn tar() -> Vec<u8> {
    layer_tar(&[
        E::Dir(b"etc"),
        E::File(b"etc/a", 3000),
        E::File(b"etc/b", 40_000),
    ])
}

/// Runs `dredge ARGS`; returns (exit code, stderr).
fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = dredge().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code(), err)
}

/// `dredge ARGS` fails with exit 2 and one line naming every one of `names`.
fn fails(args: &[&str], names: &[&str]) -> String {
    let (code, err) = run(args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("dredge: error: "), "{err}");
    for n in names {
        assert!(err.contains(n), "error should name {n:?}: {err}");
    }
    eprintln!("{}", err.trim_end());
    err
}

fn passes(args: &[&str]) {
    let (code, err) = run(args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
}

fn save(dir: &Path, name: &str, layers: &[Vec<u8>]) -> String {
    let history: Vec<&str> = layers.iter().map(|_| "RUN x").collect();
    let p = dir.join(name);
    std::fs::write(&p, docker_save(layers, &history, &[])).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_gzip_layer_with_a_bad_crc_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = gzip(&tar());
    passes(&[
        "image",
        &save(dir.path(), "good.tar", std::slice::from_ref(&good)),
    ]);
    // The CRC is the trailer's first four bytes; the deflate data is intact.
    let mut bad = good.clone();
    let crc = bad.len() - 8;
    bad[crc] ^= 0xff;
    let p = save(dir.path(), "crc.tar", &[bad.clone()]);
    let err = fails(
        &["image", &p],
        &["crc.tar", "layer 0", "l0/layer.tar", "gzip"],
    );
    assert!(err.contains("checksum"), "{err}");
    fails(&["advise", &p, "--no-progress"], &["crc.tar", "layer 0"]);
    fails(
        &["check", &p, "--max-size", "1GB", "--no-progress"],
        &["crc.tar", "layer 0"],
    );
    // The same through standard input.
    let out = dredge()
        .args(["image", "-"])
        .write_stdin(std::fs::read(&p).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("l0/layer.tar"));
    // The length (the trailer's last four bytes) wrong.
    let mut bad = good;
    let isize = bad.len() - 1;
    bad[isize] ^= 0x01;
    fails(
        &["image", &save(dir.path(), "isize.tar", &[bad])],
        &["isize.tar", "layer 0", "gzip"],
    );
}

#[test]
fn compressed_layers_cut_short_or_followed_by_garbage_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, blob) in [("gzip", gzip(&tar())), ("zstd", zstd_frame(&tar()))] {
        passes(&[
            "image",
            &save(dir.path(), "ok.tar", std::slice::from_ref(&blob)),
        ]);
        // 13 bytes gone: the trailer and the end of the data after the tar's last entry.
        let cut = blob[..blob.len() - 13].to_vec();
        let name = format!("{kind}-cut.tar");
        let err = fails(
            &["image", &save(dir.path(), &name, &[cut])],
            &[&name, "layer 0", "l0/layer.tar", kind],
        );
        assert!(
            err.contains("truncated") || err.contains("corrupt"),
            "{err}"
        );
        // Trailing garbage after the stream.
        let mut tail = blob.clone();
        tail.extend_from_slice(b"garbage after the end");
        let name = format!("{kind}-tail.tar");
        fails(
            &["image", &save(dir.path(), &name, &[tail])],
            &[&name, "layer 0", kind],
        );
    }
    // A zstd frame whose content checksum is wrong (the frame's last four bytes).
    let mut z = zstd_frame(&tar());
    let n = z.len();
    z[n - 2] ^= 0xff;
    fails(
        &["image", &save(dir.path(), "zsum.tar", &[z])],
        &["zsum.tar", "layer 0", "zstd"],
    );
}

/// An OCI image layout with the given layers (blob, uncompressed tar) and a config listing their diff
/// ids. `edit` changes the blobs after the manifest was written (the mutation under test).
fn oci_layout(dir: &Path, layers: &[(Vec<u8>, Vec<u8>)], edit: impl Fn(usize, &mut Vec<u8>)) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|(_, t)| format!("sha256:{}", hex(t)))
        .collect();
    let history: Vec<_> = layers
        .iter()
        .map(|_| serde_json::json!({"created_by": "RUN x"}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history,
    }))
    .unwrap();
    let mut descs = Vec::new();
    for (i, (blob, _)) in layers.iter().enumerate() {
        let h = hex(blob);
        descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": format!("sha256:{h}"), "size": blob.len(),
        }));
        let mut bytes = blob.clone();
        edit(i, &mut bytes);
        std::fs::write(blobs.join(&h), bytes).unwrap();
    }
    std::fs::write(blobs.join(hex(&config)), &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", hex(&config)), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    std::fs::write(blobs.join(hex(&manifest)), &manifest).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": format!("sha256:{}", hex(&manifest)), "size": manifest.len()}],
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn layers() -> Vec<(Vec<u8>, Vec<u8>)> {
    let base = layer_tar(&[E::File(b"bin/sh", 5000)]);
    let top = tar();
    vec![(base.clone(), base), (gzip(&top), top)]
}

#[test]
fn verify_checks_every_blob_against_its_name_descriptor_and_diff_id() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good");
    oci_layout(&good, &layers(), |_, _| {});
    let good = good.to_str().unwrap();
    passes(&["image", good, "--verify"]);
    passes(&[
        "check",
        good,
        "--verify",
        "--max-size",
        "1GB",
        "--no-progress",
    ]);
    passes(&["advise", good, "--verify", "--no-progress"]);

    // A plain layer whose file data changed (same length, the tar still reads): only --verify sees it.
    let flipped = root.path().join("flipped");
    oci_layout(&flipped, &layers(), |i, b| {
        if i == 0 {
            b[600] ^= 1; // inside bin/sh's data
        }
    });
    let flipped = flipped.to_str().unwrap();
    passes(&["image", flipped]);
    let err = fails(
        &["image", flipped, "--verify"],
        &[flipped, "layer 0", "blobs/sha256/"],
    );
    assert!(err.contains("its name says"), "{err}");
    fails(
        &[
            "check",
            flipped,
            "--verify",
            "--max-size",
            "1GB",
            "--no-progress",
        ],
        &["layer 0"],
    );

    // A plain layer cut short by 13 bytes (in its end-of-archive blocks): the tar reads, the size does not.
    let cut = root.path().join("cut");
    oci_layout(&cut, &layers(), |i, b| {
        if i == 0 {
            b.truncate(b.len() - 13);
        }
    });
    let cut = cut.to_str().unwrap();
    passes(&["image", cut]);
    fails(&["image", cut, "--verify"], &["layer 0", "blobs/sha256/"]);

    // A blob renamed to the digest it claims: the name and descriptor agree, the diff id does not.
    let swapped = root.path().join("swapped");
    let mut ls = layers();
    ls[1].1 = layer_tar(&[E::File(b"other", 10)]); // the config's diff id now names another tar
    oci_layout(&swapped, &ls, |_, _| {});
    let swapped = swapped.to_str().unwrap();
    passes(&["image", swapped]);
    let err = fails(
        &["image", swapped, "--verify"],
        &["layer 1", "diff id", "disagree"],
    );
    assert!(err.contains("blobs/sha256/"), "{err}");

    // A layer whose descriptor gives another size.
    let sized = root.path().join("sized");
    oci_layout(&sized, &layers(), |_, _| {});
    let n = layers()[1].0.len();
    let layer1 = format!("blobs/sha256/{}", hex(&layers()[1].0));
    // Edited in place, the manifest no longer matches its own name and the index's descriptor.
    let manifest = find_manifest(&sized);
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    m["layers"][1]["size"] = (n + 7).into();
    std::fs::write(&manifest, serde_json::to_vec(&m).unwrap()).unwrap();
    let s = sized.to_str().unwrap();
    let err = fails(
        &["image", s, "--verify"],
        &["blobs/sha256/", "its name says"],
    );
    assert!(
        !err.contains("layer"),
        "the manifest is named, not a layer: {err}"
    );
    // Stored under its new digest and named so by the index: now the layer's size is what is wrong.
    rewrite_manifest(&sized, |m| m["layers"][1]["size"] = (n + 7).into());
    let err = fails(&["image", s, "--verify"], &["layer 1", &layer1]);
    assert!(
        err.contains(&format!("holds {n} bytes, its descriptor says {}", n + 7)),
        "{err}"
    );
}

/// Changes the manifest of the layout at `dir`, stores it under its new digest and points the index at it.
fn rewrite_manifest(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let old = find_manifest(dir);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).unwrap();
    edit(&mut m);
    let bytes = serde_json::to_vec(&m).unwrap();
    std::fs::remove_file(&old).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(hex(&bytes)), &bytes).unwrap();
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"] = format!("sha256:{}", hex(&bytes)).into();
    index["manifests"][0]["size"] = bytes.len().into();
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// The manifest blob under `dir` (the one whose JSON has "layers").
fn find_manifest(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read(p)
                .is_ok_and(|b| b.starts_with(b"{") && b.windows(8).any(|w| w == b"\"layers\""))
        })
        .unwrap()
}

#[test]
fn the_engine_made_fixtures_verify() {
    for f in [
        "kitchen/docker-archive.tar",
        "kitchen/docker25.tar",
        "kitchen/oci-gzip",
        "kitchen/oci-zstd.tar",
    ] {
        passes(&["image", fixture(f).to_str().unwrap(), "--verify"]);
    }
}

#[test]
fn a_config_that_lists_fewer_diff_ids_than_the_manifest_has_layers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ls: Vec<Vec<u8>> = (0..4)
        .map(|i| layer_tar(&[E::File(format!("f{i}").as_bytes(), 100)]))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&ls[0]))]},
        "history": [{"created_by": "RUN a"}],
    }))
    .unwrap();
    let config_name = format!("{}.json", hex(&config));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name, "RepoTags": ["x:1"],
        "Layers": ["l0/layer.tar", "l1/layer.tar", "l2/layer.tar", "l3/layer.tar"],
    }]))
    .unwrap();
    let p = dir.path().join("count.tar");
    std::fs::write(
        &p,
        docker_save(
            &ls,
            &["a", "b", "c", "d"],
            &[
                ("manifest.json", Some(manifest)),
                (config_name.as_str(), Some(config)),
            ],
        ),
    )
    .unwrap();
    let p = p.to_str().unwrap();
    let err = fails(&["image", p], &["count.tar", "manifest.json", &config_name]);
    assert!(
        err.contains("1 diff ids") && err.contains("4 layers"),
        "{err}"
    );
    // And the other way round, in an OCI layout: two diff ids, one layer.
    let oci = dir.path().join("oci");
    oci_layout(&oci, &layers(), |_, _| {});
    rewrite_manifest(&oci, |m| {
        m["layers"].as_array_mut().unwrap().pop();
    });
    fails(
        &["image", oci.to_str().unwrap()],
        &["blobs/sha256/", "2 diff ids", "1 layers"],
    );
}
