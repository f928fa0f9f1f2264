//! `dredge df --data-root` on data roots made by hand in a temp dir, with the layout Docker 20.10 writes
//! (docs in /work/shared/docs/docker-data-root.md): every kind of object and leftover, each placed so
//! the expected category is known from the recipe, and the total checked against `du -sx`.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn write(p: &Path, bytes: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

/// A layer dir under overlay2/ with `n` bytes in diff/f.
fn layer_dir(root: &Path, id: &str, n: usize) {
    write(
        &root.join("overlay2").join(id).join("diff/f"),
        &vec![b'x'; n],
    );
    write(
        &root.join("overlay2").join(id).join("link"),
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    );
}

struct Recipe {
    live_cache: String,
    mount_id: String,
    orphan_dir: String,
    leaked_cache: String,
    bk_key: String,
    bk_hex: String,
    container: String,
    unknown_container: String,
    log_bytes: u64,
}

/// Builds a data root: one image (one layer), one stopped container with json-file logs (rotated),
/// one named and one anonymous volume, BuildKit state, and one of each leftover.
fn make_root(root: &Path) -> Recipe {
    let r = Recipe {
        live_cache: hex('1'),
        mount_id: hex('2'),
        orphan_dir: hex('3'),
        leaked_cache: hex('4'),
        bk_key: "0t8qkhpx2mwvp1ifzcfbm3qbg".into(),
        bk_hex: hex('5'),
        container: hex('c'),
        unknown_container: hex('d'),
        log_bytes: 3000 + 5000 + 7000,
    };
    let store = root.join("image/overlay2");
    // One image whose single layer's diff id is sha256:aaaa…; its chain id is the diff id.
    let diff_id = format!("sha256:{}", hex('a'));
    let config = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#);
    let image_id = hex('e'); // (not the config's real digest: dredge does not check it offline)
    write(
        &store.join("imagedb/content/sha256").join(&image_id),
        config.as_bytes(),
    );
    write(
        &store.join("repositories.json"),
        format!(r#"{{"Repositories":{{"t":{{"t:1":"sha256:{image_id}"}}}}}}"#).as_bytes(),
    );
    let chain = store.join("layerdb/sha256").join(hex('a'));
    write(&chain.join("diff"), diff_id.as_bytes());
    write(&chain.join("cache-id"), r.live_cache.as_bytes());
    write(&chain.join("size"), b"100000");
    layer_dir(root, &r.live_cache, 100_000);
    // A leaked chain: no image reaches it.
    let leaked = store.join("layerdb/sha256").join(hex('b'));
    write(
        &leaked.join("diff"),
        format!("sha256:{}", hex('b')).as_bytes(),
    );
    write(&leaked.join("cache-id"), r.leaked_cache.as_bytes());
    layer_dir(root, &r.leaked_cache, 40_000);
    // A container on that image: mount record, rw + init dirs, config, logs.
    let m = store.join("layerdb/mounts").join(&r.container);
    write(&m.join("mount-id"), r.mount_id.as_bytes());
    write(
        &m.join("init-id"),
        format!("{}-init", r.mount_id).as_bytes(),
    );
    write(&m.join("parent"), format!("sha256:{}", hex('a')).as_bytes());
    layer_dir(root, &r.mount_id, 20_000);
    layer_dir(root, &format!("{}-init", r.mount_id), 10);
    let c = root.join("containers").join(&r.container);
    write(
        &c.join("config.v2.json"),
        format!(
            r#"{{"Name":"/web","Image":"sha256:{image_id}","State":{{"Running":false}},
            "MountPoints":{{"/data":{{"Type":"volume","Name":"named"}}}}}}"#
        )
        .as_bytes(),
    );
    write(
        &c.join("hostconfig.json"),
        br#"{"LogConfig":{"Type":"json-file"}}"#,
    );
    write(&c.join(format!("{}-json.log", r.container)), &[b'l'; 3000]);
    write(
        &c.join(format!("{}-json.log.1", r.container)),
        &[b'l'; 5000],
    );
    write(
        &c.join(format!("{}-json.log.2.gz", r.container)),
        &[b'l'; 7000],
    );
    // A container dir the engine will not load (no config.v2.json).
    write(
        &root
            .join("containers")
            .join(&r.unknown_container)
            .join("hostname"),
        b"x",
    );
    // Volumes.
    write(&root.join("volumes/named/_data/v"), &[b'v'; 30_000]);
    write(
        &root.join("volumes").join(hex('f')).join("_data/w"),
        &[b'w'; 6000],
    );
    write(&root.join("volumes/metadata.db"), &[0u8; 32768]);
    // BuildKit: a base-36 snapshot dir, and a 64-hex dir named only in its database.
    layer_dir(root, &r.bk_key, 9000);
    layer_dir(root, &r.bk_hex, 8000);
    let mut db = vec![0u8; 4096];
    db.extend_from_slice(b"\x01\x02chainidsha256:");
    db.extend_from_slice(r.bk_hex.as_bytes());
    db.extend_from_slice(&[0u8; 100]);
    write(&root.join("buildkit/snapshots.db"), &db);
    // Leftovers.
    layer_dir(root, &r.orphan_dir, 50_000);
    write(
        &store
            .join("layerdb/sha256")
            .join(format!("{}-123456789-removing", hex('9')))
            .join("cache-id"),
        b"gone",
    );
    write(&store.join("layerdb/tmp/write-set-1/diff"), b"half");
    write(&root.join("tmp/docker-import-42/repo.tar"), &[b't'; 12_000]);
    // Everything else.
    write(&root.join("network/files/local-kv.db"), &[0u8; 16384]);
    fs::create_dir_all(root.join("overlay2/l")).unwrap();
    std::os::unix::fs::symlink(
        format!("../{}/diff", r.live_cache),
        root.join("overlay2/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    )
    .unwrap();
    r
}

fn df(root: &Path) -> serde_json::Value {
    df_with(root, &[])
}

fn du(path: &Path) -> u64 {
    run("du", &["-sx", "--block-size=1", path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn category<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("category {name}"))
}

#[test]
fn every_leftover_is_found_and_nothing_live_is() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    let doc = df(&root);
    assert_eq!(doc["schema"], "dredge.df");
    assert_eq!(doc["schema_version"], 2);
    assert_eq!(doc["mode"], "offline");
    let mut found: Vec<(String, String)> = doc["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let p = o["path"].as_str().unwrap();
            let rel = Path::new(p).strip_prefix(&root).unwrap();
            (
                rel.display().to_string(),
                o["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        (
            format!("overlay2/{}", r.orphan_dir),
            "unreferenced-dir".to_string(),
        ),
        (
            format!("overlay2/{}", r.leaked_cache),
            "unreferenced-layer".into(),
        ),
        (
            format!(
                "image/overlay2/layerdb/sha256/{}-123456789-removing",
                hex('9')
            ),
            "removing-layer".into(),
        ),
        (
            "image/overlay2/layerdb/tmp/write-set-1".into(),
            "layerdb-tmp".into(),
        ),
        ("tmp/docker-import-42".into(), "tmp".into()),
        (
            format!("containers/{}", r.unknown_container),
            "unknown-container-dir".into(),
        ),
    ];
    expected.sort();
    assert_eq!(found, expected, "orphans");
    // The live layer, the container's dirs and both BuildKit dirs are never orphans (checked above by
    // equality); say so explicitly for the BuildKit ones, the point of docker/buildx#2061.
    for o in doc["orphans"].as_array().unwrap() {
        let p = o["path"].as_str().unwrap();
        assert!(!p.contains(&r.bk_key) && !p.contains(&r.bk_hex) && !p.contains(&r.live_cache));
        assert!(!p.contains(&r.mount_id));
    }
    assert_eq!(category(&doc, "build-cache")["count"], 2);
}

#[test]
fn categories_add_up_to_du() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    make_root(&root);
    // A hard link inside a volume and across volumes: du counts the inode once, so must dredge.
    fs::hard_link(
        root.join("volumes/named/_data/v"),
        root.join("volumes/named/_data/v2"),
    )
    .unwrap();
    let doc = df(&root);
    let sum: u64 = doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bytes"].as_u64().unwrap())
        .sum();
    let du = du(&root);
    assert_eq!(sum, doc["total_bytes"].as_u64().unwrap());
    let diff = sum.abs_diff(du) as f64 / du as f64;
    assert!(diff <= 0.01, "categories {sum} vs du -sx {du}");
}

#[test]
fn containers_volumes_images_and_logs() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    let doc = df(&root);
    let c = &doc["containers"][0];
    assert_eq!(c["id"], r.container);
    assert_eq!(c["name"], "web");
    assert_eq!(c["running"], false);
    // Log bytes: the three files written above (3000 + 5000 + 7000), rotated and compressed included.
    assert_eq!(c["log_apparent_bytes"], r.log_bytes);
    // Writable layer: diff/f of the rw dir, 20 000 bytes.
    assert_eq!(c["writable_apparent_bytes"], 20_000);
    let img = &doc["images"][0];
    assert_eq!(img["tags"][0], "t:1");
    assert_eq!(img["apparent_bytes"], 100_000);
    assert_eq!(img["containers"], 1);
    let vols = doc["volumes"].as_array().unwrap();
    let named = vols.iter().find(|v| v["name"] == "named").unwrap();
    assert_eq!(named["apparent_bytes"], 30_000);
    assert_eq!(named["containers"], 1);
    assert_eq!(named["anonymous"], false);
    let anon = vols.iter().find(|v| v["name"] == hex('f')).unwrap();
    assert_eq!(anon["anonymous"], true);
    assert_eq!(anon["containers"], 0);
    // Reclaimable: the stopped container all of it; only the unused volume; no image (in use).
    let cc = category(&doc, "containers");
    assert_eq!(cc["reclaimable_bytes"], cc["bytes"]);
    assert_eq!(
        category(&doc, "volumes")["reclaimable_bytes"],
        anon["bytes"]
    );
    assert_eq!(category(&doc, "images")["reclaimable_bytes"], 0);
    assert_eq!(category(&doc, "images")["count"], 1);
}

#[test]
fn corrupt_metadata_gives_warnings_and_a_partial_report() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    fs::write(root.join("image/overlay2/repositories.json"), b"{not json").unwrap();
    fs::write(
        root.join("containers")
            .join(&r.container)
            .join("config.v2.json"),
        b"\x00garbage",
    )
    .unwrap();
    // A symlink loop must not hang the walk (links are never followed).
    std::os::unix::fs::symlink("loop", root.join("tmp/loop")).unwrap();
    let out = dredge()
        .args(["df", "--no-progress", "--json", "--data-root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("repositories.json"), "{err}");
    assert!(err.contains("config.v2.json"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["partial"], true);
    // A container whose config is there but unreadable is unknown, not an orphan: its dir and its mount
    // are kept and listed as inconsistent metadata.
    let orphans = doc["orphans"].as_array().unwrap();
    assert!(
        !orphans.iter().any(|o| {
            o["path"].as_str().unwrap().ends_with(&r.container)
                || o["path"].as_str().unwrap().ends_with(&r.mount_id)
        }),
        "{orphans:?}"
    );
    assert!(
        doc["inconsistent"].as_array().unwrap().iter().any(|i| {
            i["path"].as_str().unwrap().ends_with(&r.container)
                && i["detail"].as_str().unwrap().contains("config.v2.json")
        }),
        "{}",
        doc["inconsistent"]
    );
}

#[test]
fn a_corrupt_cache_leaves_the_report_complete() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    make_root(&root);
    let cache = t.path().join("df-cache.json");
    fs::write(&cache, b"{not a cache").unwrap();
    let out = dredge()
        .args(["df", "--no-progress", "--json", "--data-root"])
        .arg(&root)
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a dredge cache"),
        "the cache is named: {err}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["partial"], false, "every figure is there");
}

#[test]
fn not_a_data_root_is_an_input_error() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("file");
    fs::write(&f, b"x").unwrap();
    dredge()
        .args(["df", "--data-root"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a directory"));
    dredge()
        .args(["df", "--data-root"])
        .arg(t.path().join("missing"))
        .assert()
        .code(2);
}

#[test]
fn containerd_store_without_its_database_is_partial_and_said_clearly() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    write(
        &root.join("containerd/daemon/io.containerd.content.v1.content/blobs/sha256/aa"),
        b"blob",
    );
    let out = dredge()
        .args(["df", "--no-progress", "--json", "--data-root"])
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success());
    // Read since issue 13; without meta.db nothing is known of the blob: said, partial, not
    // reclaimable.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("meta.db"), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["driver"]["kind"], "containerd-store");
    assert_eq!(doc["partial"], true);
    assert_eq!(doc["containerd"]["no_record"].as_array().unwrap().len(), 1);
}

#[test]
fn engine_down_is_one_line_and_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let err = df_without_engine(t.path(), &[]);
    assert!(err.contains("cannot reach the Docker Engine"), "{err}");
}

/// `dredge df ARGS` with DOCKER_HOST on a socket nobody listens on (under `dir`): it must fail with
/// exit 2 and one line on stderr, which is returned.
fn df_without_engine(dir: &Path, args: &[&std::ffi::OsStr]) -> String {
    let out = dredge()
        .args(["df", "--no-progress"])
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}/nope.sock", dir.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn engine_down_with_a_cache_leaves_the_cache_alone() {
    // A cache names a readable data root, but no engine answers: live mode fails in one line, and the
    // cache file stays as it was (a data root read before the engine's answer never writes it).
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    make_root(&root);
    let cache = t.path().join("df-cache.json");
    df_with(&root, &["--cache", cache.to_str().unwrap()]);
    let before = fs::read(&cache).unwrap();
    df_without_engine(t.path(), &["--cache".as_ref(), cache.as_os_str()]);
    assert_eq!(fs::read(&cache).unwrap(), before);
}

/// `dredge df --json --top 0 --data-root ROOT EXTRA`, which must succeed.
fn df_with(root: &Path, extra: &[&str]) -> serde_json::Value {
    json_ok(
        dredge()
            .args(["df", "--no-progress", "--json", "--top", "0", "--data-root"])
            .arg(root)
            .args(extra),
    )
}

#[test]
fn layer_sizes_are_kept_by_layer_id_between_runs() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    let cache = t.path().join("df-cache.json");
    let c = cache.to_str().unwrap();
    let first = df_with(&root, &["--cache", c]);
    assert_eq!(first["cached_layers"], 0);
    let second = df_with(&root, &["--cache", c]);
    assert_eq!(second["cached_layers"], 1, "the one live layer");
    assert_eq!(second["categories"], first["categories"]);
    // The figure really comes from the cache: a committed layer never changes, so a change made behind
    // the engine's back is not seen while the layer id stays…
    fs::write(
        root.join("overlay2").join(&r.live_cache).join("diff/f"),
        vec![b'y'; 250_000],
    )
    .unwrap();
    let third = df_with(&root, &["--cache", c]);
    assert_eq!(third["images"][0]["apparent_bytes"], 100_000);
    // …and is seen without the cache.
    assert_eq!(df(&root)["images"][0]["apparent_bytes"], 250_000);
    // A layer that is gone leaves the cache at the next run.
    fs::remove_dir_all(root.join("image/overlay2/imagedb/content")).unwrap();
    fs::remove_dir_all(root.join("image/overlay2/layerdb/mounts")).unwrap();
    df_with(&root, &["--cache", c]);
    let kept: serde_json::Value = serde_json::from_slice(&fs::read(&cache).unwrap()).unwrap();
    assert_eq!(kept["layers"].as_object().unwrap().len(), 0);
}

#[test]
fn table_lists_categories_orphans_and_top_items() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    let out = dredge()
        .args(["df", "--no-progress", "--top", "3", "--data-root"])
        .arg(&root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "images",
        "containers",
        "volumes",
        "build-cache",
        "orphans",
        "other",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    assert!(text.contains("dredge prune --stopped-containers"), "{text}");
    assert!(
        text.contains(&r.orphan_dir),
        "the largest orphan is listed:\n{text}"
    );
    assert!(text.contains("Orphans (6)"), "{text}");
    // --top cuts the JSON's top[] (never orphans[]).
    let out = dredge()
        .args(["df", "--no-progress", "--json", "--top", "2", "--data-root"])
        .arg(&root)
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["top"].as_array().unwrap().len(), 2);
    assert_eq!(doc["orphans"].as_array().unwrap().len(), 6);
    let sizes: Vec<u64> = doc["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["bytes"].as_u64().unwrap())
        .collect();
    assert!(sizes[0] >= sizes[1], "largest first");
}

#[test]
fn unreadable_directories_give_warnings_and_a_partial_report() {
    use std::os::unix::fs::PermissionsExt;
    // Root reads everything: drop to nobody (setpriv, util-linux) to make a directory unreadable.
    common::require(
        common::command_ok("setpriv", &["--version"]),
        "setpriv (util-linux), to run dredge as an unprivileged user",
    );
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("docker");
    let r = make_root(&root);
    // Everything readable by others, then one layer directory and one container directory not.
    let status = std::process::Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(t.path())
        .status()
        .unwrap();
    assert!(status.success());
    let layer = root.join("overlay2").join(&r.live_cache);
    let container = root.join("containers").join(&r.container);
    for d in [&layer, &container] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o000)).unwrap();
    }
    let bin = assert_cmd::cargo::cargo_bin("dredge");
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["df", "--no-progress", "--json", "--data-root"])
        .arg(&root)
        .output()
        .unwrap();
    for d in [&layer, &container] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!("{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&r.live_cache) && err.contains("ermission denied"),
        "names the directory: {err}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["partial"], true, "unread bytes make the report partial");
}
