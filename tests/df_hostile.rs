//! `dredge df --data-root` on hostile data roots (no engine needed): FIFOs, symbolic links out of the
//! root, to `/dev/zero`, to `/etc/passwd`, a symlinked container dir, cache-ids naming paths. Each run
//! must end within a bound (a hang fails the test: the child is killed), exit 0 with a warning naming
//! the path, say `partial: true`, read nothing outside the root, and call nothing an orphan that the
//! unreadable metadata could protect.
//!
//! "Nothing outside" cannot pass by accident: links point at files OUTSIDE the root whose contents
//! would show in the report if read (a container named `LEAKED…`, a tag `leaked/…`), or at a FIFO
//! outside the root that blocks whoever opens it for reading.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn write(p: &Path, bytes: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, bytes).unwrap();
}

fn fifo(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let _ = fs::remove_file(p);
    let ok = Command::new("mkfifo").arg(p).status().unwrap().success();
    assert!(ok, "mkfifo {}", p.display());
}

/// Replaces `p` (a file or directory) by a symbolic link to `target`.
fn relink(p: &Path, target: &Path) {
    if p.is_dir() && !p.is_symlink() {
        fs::remove_dir_all(p).unwrap();
    } else {
        let _ = fs::remove_file(p);
    }
    symlink(target, p).unwrap();
}

/// The names in a small data root (Docker 20.10 layout, docs/docker-data-root.md).
struct Root {
    root: PathBuf,
    /// Outside the root: a FIFO nobody writes to, and a directory of bait files.
    outside_fifo: PathBuf,
    outside: PathBuf,
    live_cache: String,
    mount_id: String,
    bk_hex: String,
    container: String,
    chain: String,
    image: String,
}

impl Root {
    fn store(&self) -> PathBuf {
        self.root.join("image/overlay2")
    }
    fn config(&self) -> PathBuf {
        self.root
            .join("containers")
            .join(&self.container)
            .join("config.v2.json")
    }
    fn cache_id(&self) -> PathBuf {
        self.store()
            .join("layerdb/sha256")
            .join(&self.chain)
            .join("cache-id")
    }
    fn mount_id_file(&self) -> PathBuf {
        self.store()
            .join("layerdb/mounts")
            .join(&self.container)
            .join("mount-id")
    }
    fn image_config(&self) -> PathBuf {
        self.store()
            .join("imagedb/content/sha256")
            .join(&self.image)
    }
}

/// One image (one layer), one container on it (mount, rw and init dirs), a 64-hex overlay2 dir only
/// BuildKit's database names; outside the root, bait files and a FIFO.
fn make_root(t: &Path) -> Root {
    let r = Root {
        root: t.join("docker"),
        outside_fifo: t.join("outside/fifo"),
        outside: t.join("outside"),
        live_cache: hex('1'),
        mount_id: hex('2'),
        bk_hex: hex('5'),
        container: hex('c'),
        chain: hex('a'),
        image: hex('e'),
    };
    let root = &r.root;
    let store = r.store();
    let layer_dir = |id: &str, n: usize| {
        write(
            &root.join("overlay2").join(id).join("diff/f"),
            &vec![b'x'; n],
        );
    };
    let diff_id = format!("sha256:{}", r.chain);
    write(
        &r.image_config(),
        format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#).as_bytes(),
    );
    write(
        &store.join("repositories.json"),
        format!(
            r#"{{"Repositories":{{"t":{{"t:1":"sha256:{}"}}}}}}"#,
            r.image
        )
        .as_bytes(),
    );
    let chain = store.join("layerdb/sha256").join(&r.chain);
    write(&chain.join("diff"), diff_id.as_bytes());
    write(&chain.join("cache-id"), r.live_cache.as_bytes());
    write(&chain.join("size"), b"100000");
    layer_dir(&r.live_cache, 100_000);
    let m = store.join("layerdb/mounts").join(&r.container);
    write(&m.join("mount-id"), r.mount_id.as_bytes());
    write(
        &m.join("init-id"),
        format!("{}-init", r.mount_id).as_bytes(),
    );
    write(&m.join("parent"), diff_id.as_bytes());
    layer_dir(&r.mount_id, 20_000);
    layer_dir(&format!("{}-init", r.mount_id), 10);
    let c = root.join("containers").join(&r.container);
    write(
        &c.join("config.v2.json"),
        format!(
            r#"{{"Name":"/web","Image":"sha256:{}","State":{{"Running":false}}}}"#,
            r.image
        )
        .as_bytes(),
    );
    write(
        &c.join("hostconfig.json"),
        br#"{"LogConfig":{"Type":"json-file"}}"#,
    );
    layer_dir(&r.bk_hex, 8000);
    let mut db = vec![0u8; 4096];
    db.extend_from_slice(b"\x01\x02chainidsha256:");
    db.extend_from_slice(r.bk_hex.as_bytes());
    write(&root.join("buildkit/snapshots.db"), &db);
    fs::create_dir_all(root.join("tmp")).unwrap();
    // Bait outside the root.
    fifo(&r.outside_fifo);
    write(
        &r.outside.join("config.v2.json"),
        br#"{"Name":"/LEAKED-outside","Image":"sha256:x","State":{"Running":true}}"#,
    );
    write(
        &r.outside.join("repositories.json"),
        br#"{"Repositories":{"leaked/repo":{"leaked/repo:outside":"sha256:eeee"}}}"#,
    );
    write(
        &r.outside.join("container/config.v2.json"),
        br#"{"Name":"/LEAKED-dir","Image":"sha256:x","State":{"Running":true}}"#,
    );
    r
}

/// A path of the recipe.
type PathOf = fn(&Root) -> PathBuf;

/// What a run gave.
struct Run {
    code: Option<i32>,
    stderr: String,
    doc: serde_json::Value,
}

/// Runs `dredge df --json --top 0 --data-root ROOT` with 2 GB of address space at most; kills it and
/// fails after 60 s (a hang).
fn df(r: &Root) -> Run {
    let out = r.root.parent().unwrap().join("out.json");
    let err = r.root.parent().unwrap().join("err.txt");
    let bin = assert_cmd::cargo::cargo_bin("dredge");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000; exec \"$0\" \"$@\"")
        .arg(&bin)
        .args(["df", "--no-progress", "--json", "--top", "0", "--data-root"])
        .arg(&r.root)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dredge df hung on {} (killed after 60 s); stderr: {}",
                r.root.display(),
                fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = fs::read(&out).unwrap();
    let stderr = fs::read_to_string(&err).unwrap();
    let doc = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}); status {status}; stderr: {stderr}"));
    Run {
        code: status.code(),
        stderr,
        doc,
    }
}

/// The common checks: exit 0, partial, a warning naming `names`, no bait from outside in the report,
/// one warning per line.
fn check(r: &Root, run: &Run, names: &str) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(run.doc["partial"], true, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("dredge: warning: ") && l.contains(names)),
        "a warning names {names}: {}",
        run.stderr
    );
    let text = run.doc.to_string();
    assert!(!text.contains("LEAKED"), "read outside the root: {text}");
    assert!(
        !text.contains("leaked/repo"),
        "read outside the root: {text}"
    );
    let _ = r;
}

fn orphan_paths(run: &Run) -> Vec<String> {
    run.doc["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect()
}

/// No live object of the recipe is an orphan: the layer's dir, the container's dirs, BuildKit's dir.
fn nothing_live_is_an_orphan(r: &Root, run: &Run) {
    let orphans = orphan_paths(run);
    for live in [
        &r.live_cache,
        &r.mount_id,
        &format!("{}-init", r.mount_id),
        &r.bk_hex,
        &r.container,
    ] {
        assert!(
            !orphans.iter().any(|p| p.ends_with(live.as_str())),
            "{live} is live or unknown, not an orphan: {orphans:?}"
        );
    }
}

#[test]
fn the_recipe_itself_is_clean() {
    let t = tempfile::tempdir().unwrap();
    let r = make_root(t.path());
    let run = df(&r);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.doc["partial"], false, "{}", run.stderr);
    assert_eq!(orphan_paths(&run), Vec::<String>::new());
    assert_eq!(run.doc["containers"][0]["name"], "web");
}

#[test]
fn a_fifo_in_any_of_seven_places_neither_blocks_nor_frees_what_it_describes() {
    let places: Vec<(&str, PathOf)> = vec![
        ("config.v2.json", |r| r.config()),
        ("hostconfig.json", |r| {
            r.config().with_file_name("hostconfig.json")
        }),
        ("repositories.json", |r| r.store().join("repositories.json")),
        ("cache-id", |r| r.cache_id()),
        ("mount-id", |r| r.mount_id_file()),
        ("imagedb/content", |r| r.image_config()),
        ("snapshots.db", |r| r.root.join("buildkit/snapshots.db")),
    ];
    for (name, place) in places {
        let t = tempfile::tempdir().unwrap();
        let r = make_root(t.path());
        let p = place(&r);
        fifo(&p);
        let run = df(&r);
        check(&r, &run, &p.display().to_string());
        assert!(run.stderr.contains("FIFO"), "{name}: {}", run.stderr);
        nothing_live_is_an_orphan(&r, &run);
    }
}

#[test]
fn symlinks_are_never_followed_out_of_the_root() {
    // (file in the root, link target): each a fresh root.
    let cases: Vec<(PathOf, PathOf)> = vec![
        (|r| r.config(), |r| r.outside.join("config.v2.json")),
        (|r| r.config(), |_| PathBuf::from("/dev/zero")),
        (|r| r.config(), |_| PathBuf::from("/etc/passwd")),
        (|r| r.config(), |r| r.outside_fifo.clone()),
        (
            |r| r.store().join("repositories.json"),
            |r| r.outside.join("repositories.json"),
        ),
        (
            |r| r.store().join("repositories.json"),
            |_| PathBuf::from("/dev/zero"),
        ),
        (|r| r.cache_id(), |r| r.outside_fifo.clone()),
        (|r| r.mount_id_file(), |_| PathBuf::from("/dev/zero")),
        (|r| r.image_config(), |r| r.outside_fifo.clone()),
        (
            |r| r.root.join("buildkit/snapshots.db"),
            |_| PathBuf::from("/dev/zero"),
        ),
    ];
    for (at, to) in cases {
        let t = tempfile::tempdir().unwrap();
        let r = make_root(t.path());
        let (p, target) = (at(&r), to(&r));
        relink(&p, &target);
        let run = df(&r);
        check(&r, &run, &p.display().to_string());
        nothing_live_is_an_orphan(&r, &run);
    }
}

#[test]
fn a_symlinked_directory_on_the_way_is_not_entered() {
    // image/overlay2/imagedb/content/sha256 → a directory outside holding an "image" config.
    let t = tempfile::tempdir().unwrap();
    let r = make_root(t.path());
    let dir = r.store().join("imagedb/content/sha256");
    let outside = r.outside.join("imagedb");
    fs::create_dir_all(&outside).unwrap();
    fs::copy(r.image_config(), outside.join(&r.image)).unwrap();
    relink(&dir, &outside);
    let run = df(&r);
    check(&r, &run, &dir.display().to_string());
    assert_eq!(run.doc["images"].as_array().unwrap().len(), 0, "not read");
    // The image's chain is not reached, but an unreadable image store may hold anything.
    nothing_live_is_an_orphan(&r, &run);
}

#[test]
fn a_symlinked_container_dir_is_not_a_container_nor_an_orphan() {
    for target in ["container", "/"] {
        let t = tempfile::tempdir().unwrap();
        let r = make_root(t.path());
        let other = hex('d');
        let link = r.root.join("containers").join(&other);
        let target = if target == "/" {
            PathBuf::from("/")
        } else {
            r.outside.join(target)
        };
        symlink(&target, &link).unwrap();
        let run = df(&r);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            run.stderr.contains(&link.display().to_string()),
            "{}",
            run.stderr
        );
        let text = run.doc.to_string();
        assert!(!text.contains("LEAKED"), "read outside the root: {text}");
        let ids: Vec<&str> = run.doc["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [r.container.as_str()]);
        assert!(!orphan_paths(&run).iter().any(|p| p.ends_with(&other)));
    }
}

#[test]
fn a_cache_id_naming_a_path_or_a_missing_dir_is_inconsistent_and_frees_nothing() {
    for bad in [
        "/",
        "../..",
        "..",
        "l",
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let t = tempfile::tempdir().unwrap();
        let r = make_root(t.path());
        write(&r.cache_id(), bad.as_bytes());
        let run = df(&r);
        assert_eq!(run.code, Some(0), "{bad:?}: {}", run.stderr);
        assert_eq!(run.doc["partial"], true, "{bad:?}: {}", run.stderr);
        // The layer's real dir is named by nothing readable: it is kept, not an orphan.
        nothing_live_is_an_orphan(&r, &run);
        assert!(
            !run.doc["inconsistent"].as_array().unwrap().is_empty(),
            "{bad:?}: {}",
            run.doc
        );
        if !bad.is_empty() {
            assert!(
                run.stderr.contains("inconsistent metadata"),
                "{bad:?}: {}",
                run.stderr
            );
        }
        // Nothing outside was measured: the total is the root's own (du -sx).
        let du: u64 = common::run("du", &["-sx", "--block-size=1", r.root.to_str().unwrap()])
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let total = run.doc["total_bytes"].as_u64().unwrap();
        assert!(
            total.abs_diff(du) as f64 <= 0.01 * du as f64,
            "{bad:?}: total {total} vs du {du}"
        );
    }
}

#[test]
fn a_mount_id_naming_a_missing_dir_keeps_every_unnamed_dir() {
    let t = tempfile::tempdir().unwrap();
    let r = make_root(t.path());
    write(&r.mount_id_file(), hex('7').as_bytes());
    // The real rw dir is now named by nothing.
    let run = df(&r);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    nothing_live_is_an_orphan(&r, &run);
    assert!(run.stderr.contains(&hex('7')), "{}", run.stderr);
}

#[test]
fn control_characters_in_names_stay_on_one_line() {
    let t = tempfile::tempdir().unwrap();
    let r = make_root(t.path());
    write(
        &r.config(),
        format!(
            "{{\"Name\":\"/evil\\nname\\u001b[31m\",\"Image\":\"sha256:{}\",\"State\":{{\"Running\":false}}}}",
            r.image
        )
        .as_bytes(),
    );
    // A layerdb entry whose name holds a newline: listed as a stray, warned about on one line.
    write(&r.cache_id(), b"bad\nid");
    let bin = assert_cmd::cargo::cargo_bin("dredge");
    let out = Command::new(bin)
        .args(["df", "--no-progress", "--data-root"])
        .arg(&r.root)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("evil\\nname"), "{text}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.lines().all(|l| l.starts_with("dredge: warning: ")),
        "one line per warning: {err}"
    );
}

#[test]
fn a_thirty_megabyte_tag_is_cut() {
    let t = tempfile::tempdir().unwrap();
    let r = make_root(t.path());
    let tag = format!("{}:1", "n".repeat(30 << 20));
    write(
        &r.store().join("repositories.json"),
        format!(
            r#"{{"Repositories":{{"t":{{"{tag}":"sha256:{}"}}}}}}"#,
            r.image
        )
        .as_bytes(),
    );
    let bin = assert_cmd::cargo::cargo_bin("dredge");
    let mut child = Command::new(bin)
        .args(["df", "--no-progress", "--data-root"])
        .arg(&r.root)
        .stdout(fs::File::create(t.path().join("table.txt")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success());
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the table of a 30 MB tag took over 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = fs::read_to_string(t.path().join("table.txt")).unwrap();
    assert!(text.len() < 100_000, "{} bytes", text.len());
    assert!(text.contains("nnn…"), "cut with an ellipsis:\n{text}");
}
