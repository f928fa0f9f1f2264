//! What a running engine does to the orphan rules. A running dockerd keeps every complete layerdb
//! record in its in-memory layer store and re-uses it on load or pull, whatever the images on disk say.
//! So, while a daemon runs, a chain that no image names on disk may still be live:
//!
//! * **rmi during a load.** `docker load` of a child image is under way (it holds the base's layers);
//!   `docker rmi` of the base finishes; for a while no image on disk names the base's chain, then the
//!   load registers the child, which does.
//! * **A killed load's leftovers.** dockerd is killed (SIGKILL) in the middle of a load and restarted;
//!   the layers the cut-short load committed are named by no image until the same image is loaded
//!   again, and that load re-uses them (same chain, same overlay2 dir).
//!
//! Both are made here, many times, on a PRIVATE dockerd (its own data root, exec root, pid file and
//! socket; the shared engine is never touched), while `dredge df --json` scans it back to back from
//! several threads. Every orphan each scan reports is kept. After each round's loads finished, the test
//! asks the engine which images exist (`docker image inspect`: RootFS diff ids), computes their chain
//! ids itself (`ChainID(L0) = DiffID(L0)`, `ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " +
//! DiffID(Ln))`), reads those chains' `cache-id` files, and calls a reported orphan a LIVE LAYER when
//! the overlay2 dir it names is one of those (or, naming no overlay2 dir, its layerdb chain is one of
//! those chains). Any live layer reported as an orphan fails the test, with the scan, its time and the
//! path. The test also asserts that the races happened (the rmi finished while the load was under way
//! and the base's record survived it; the killed load left complete records that no image named), and
//! counts the scans that ran inside those windows, so that it cannot pass by scanning at the wrong time.
//!
//! Full run (measured 2 min 40 s on 2 cores shared with other builds, load average 20):
//!     cargo test --test df_race -- --ignored --nocapture
//! Quick variant for debugging (`QUICK` below, measured 40 s):
//!     DREDGE_RACE_QUICK=1 cargo test --test df_race -- --ignored --nocapture
//! `DREDGE_RACE_VERBOSE=1` also prints what each scan reported (orphans and in flight).

mod common;
mod dfcommon;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dfcommon::*;

/// How much racing a run does.
struct Scale {
    /// Rounds of "load the child, rmi the base while it loads".
    rmi_rounds: usize,
    /// Rounds of "kill dockerd mid-load, restart, load the same image again".
    kill_rounds: usize,
    /// `dredge df` processes running at once, back to back.
    scanners: usize,
    /// The child image's own layers: how many, files in each, KiB in each file. The load applies them
    /// after it took hold of the base's layers: that is the race window, which must outlast a scan.
    child_layers: usize,
    child_files: usize,
    child_file_kib: usize,
    /// Seconds the scans run after a restart before the image is loaded again.
    settle_secs: u64,
    /// Wall-time budgets of the rmi rounds and of the kill rounds: no new round starts once its
    /// budget is spent (the rounds done must still show the races, see the minimums).
    rmi_budget: Duration,
    kill_budget: Duration,
    /// Minimum rounds in which each race happened, and scans that ran inside a race window.
    min_rmi_races: usize,
    min_kill_races: usize,
    min_window_scans: usize,
}

/// The test the `audit` branch is judged by (about 160 s: the budgets, plus setup and a last round).
const FULL: Scale = Scale {
    rmi_rounds: 12,
    kill_rounds: 3,
    scanners: 4,
    child_layers: 6,
    child_files: 1000,
    child_file_kib: 4,
    settle_secs: 3,
    rmi_budget: Duration::from_secs(100),
    kill_budget: Duration::from_secs(50),
    min_rmi_races: 4,
    min_kill_races: 2,
    min_window_scans: 60,
};

/// `DREDGE_RACE_QUICK=1`: two rmi rounds and one kill round, for debugging (about 40 s).
const QUICK: Scale = Scale {
    rmi_rounds: 2,
    kill_rounds: 1,
    scanners: 2,
    child_layers: 6,
    child_files: 1000,
    child_file_kib: 4,
    settle_secs: 2,
    rmi_budget: Duration::from_secs(20),
    kill_budget: Duration::from_secs(20),
    min_rmi_races: 1,
    min_kill_races: 1,
    min_window_scans: 4,
};

/// Bound on any one load or scan (a hang fails the test instead of stalling it).
const OP_TIMEOUT: Duration = Duration::from_secs(120);

const BASE: &str = "dredge-race/base:1";
const CHILD: &str = "dredge-race/child:1";

fn scale() -> &'static Scale {
    if std::env::var("DREDGE_RACE_QUICK").is_ok_and(|v| v == "1") {
        &QUICK
    } else {
        &FULL
    }
}

/// Seconds since the test started.
fn secs(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64()
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Chain ids (`sha256:…`) of each prefix of an image's diff ids, bottom first.
fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!("sha256:{}", sha256_hex(format!("{prev} {d}").as_bytes())),
        };
        out.push(next);
    }
    out
}

fn layerdb(root: &Path) -> PathBuf {
    root.join("image/overlay2/layerdb/sha256")
}

/// The `cache-id` (overlay2 dir name) a chain's layerdb record names, if the record is there.
fn cache_id(root: &Path, chain: &str) -> Option<String> {
    let hex = chain.strip_prefix("sha256:").unwrap_or(chain);
    std::fs::read_to_string(layerdb(root).join(hex).join("cache-id"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Complete layerdb records: `layerdb/sha256/<64 hex>` (a commit renames its staged dir there at once).
fn chain_records(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(layerdb(root))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default()
}

fn overlay_dirs(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("overlay2"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n != "l")
                .collect()
        })
        .unwrap_or_default()
}

/// What the engine says is live now: every image's chains (computed here from its RootFS diff ids)
/// and the overlay2 dir each names on disk (its layerdb `cache-id`), dir → (chain, image).
struct Live {
    chains: BTreeSet<String>,
    dirs: BTreeMap<String, (String, String)>,
}

fn live_now(d: &PrivateDaemon) -> Live {
    let root = d.root();
    let ids: BTreeSet<String> = d
        .docker(&["image", "ls", "-q", "--no-trunc"], None)
        .lines()
        .map(str::to_string)
        .collect();
    let mut live = Live {
        chains: BTreeSet::new(),
        dirs: BTreeMap::new(),
    };
    for id in ids {
        let out = d.docker(
            &[
                "image",
                "inspect",
                "-f",
                "{{json .RootFS.Layers}} {{json .RepoTags}}",
                &id,
            ],
            None,
        );
        let (layers, tags) = out.trim().split_once(' ').expect("two JSON values");
        let diff_ids: Vec<String> = serde_json::from_str(layers).expect("RootFS.Layers");
        let tags: Vec<String> = serde_json::from_str(tags).unwrap_or_default();
        let name = tags.first().cloned().unwrap_or(id.clone());
        for c in chain_ids(&diff_ids) {
            let hex = c.trim_start_matches("sha256:").to_string();
            let cache = cache_id(&root, &c)
                .unwrap_or_else(|| panic!("image {name}: chain {c} has no layerdb record"));
            live.dirs.insert(cache, (hex.clone(), name.clone()));
            live.chains.insert(hex);
        }
    }
    live
}

/// One orphan as a scan reported it.
#[derive(Clone, Debug)]
struct Reported {
    kind: String,
    path: String,
    also: Vec<String>,
}

impl Reported {
    /// The overlay2 dir and the layerdb chain this orphan names, if any.
    fn names(&self, root: &Path) -> (Option<String>, Option<String>) {
        let (ov, db) = (root.join("overlay2"), layerdb(root));
        let (mut dir, mut chain) = (None, None);
        for p in std::iter::once(&self.path).chain(&self.also) {
            let p = Path::new(p);
            if let Ok(rel) = p.strip_prefix(&ov) {
                dir = dir.or(rel
                    .components()
                    .next()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned()));
            } else if let Ok(rel) = p.strip_prefix(&db) {
                chain = chain.or(rel
                    .components()
                    .next()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned()));
            }
        }
        (dir, chain)
    }
}

/// One `dredge df --json` run.
struct Scan {
    n: usize,
    what: String,
    start: f64,
    end: f64,
    orphans: Vec<Reported>,
    error: Option<String>,
}

/// Runs one live scan of the private daemon (stdout to a file, so a hang can be bounded).
fn scan_once(d: &PrivateDaemon, n: usize, what: &str, t0: Instant) -> Scan {
    let dir = d.dir.path().join("scans");
    let _ = std::fs::create_dir_all(&dir);
    let out_path = dir.join(format!("{n}.json"));
    let err_path = dir.join(format!("{n}.err"));
    let start = secs(t0);
    let spawned = Command::new(env!("CARGO_BIN_EXE_dredge"))
        .args(["df", "--json", "--no-progress", "--top", "0"])
        .env("DOCKER_HOST", d.host())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("scan output file"))
        .stderr(std::fs::File::create(&err_path).expect("scan stderr file"))
        .spawn();
    let mut scan = Scan {
        n,
        what: what.to_string(),
        start,
        end: start,
        orphans: Vec::new(),
        error: None,
    };
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            scan.error = Some(format!("dredge does not start: {e}"));
            return scan;
        }
    };
    let began = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if began.elapsed() < OP_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    scan.end = secs(t0);
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        None => scan.error = Some(format!("no answer in {OP_TIMEOUT:?}")),
        Some(s) if !s.success() => scan.error = Some(format!("{s}: {}", stderr.trim())),
        Some(_) => {
            let doc: serde_json::Value =
                match serde_json::from_slice(&std::fs::read(&out_path).unwrap_or_default()) {
                    Ok(v) => v,
                    Err(e) => {
                        scan.error = Some(format!("stdout is not JSON: {e}"));
                        return scan;
                    }
                };
            if std::env::var("DREDGE_RACE_VERBOSE").is_ok_and(|v| v == "1") {
                let brief = |k: &str| -> Vec<String> {
                    doc[k]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| format!("{} {} +{}", o["kind"], o["path"], o["also"]))
                        .collect()
                };
                eprintln!(
                    "scan #{n} ({what}, {start:.2}s): orphans {:?}; in flight {:?}",
                    brief("orphans"),
                    brief("in_flight")
                );
            }
            if doc["mode"] != "live" {
                scan.error = Some(format!("mode {} (not live)", doc["mode"]));
            }
            for o in doc["orphans"].as_array().into_iter().flatten() {
                scan.orphans.push(Reported {
                    kind: o["kind"].as_str().unwrap_or("?").to_string(),
                    path: o["path"].as_str().unwrap_or("?").to_string(),
                    also: o["also"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect(),
                });
            }
        }
    }
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    scan
}

/// Scans the daemon from `threads` threads, back to back, while `work` runs; returns `work`'s result
/// and every scan made. The scanners stop when `work` returns or panics.
fn scanning<R>(
    d: &PrivateDaemon,
    threads: usize,
    what: &str,
    counter: &AtomicUsize,
    t0: Instant,
    work: impl FnOnce() -> R,
) -> (R, Vec<Scan>) {
    let stop = AtomicBool::new(false);
    let scans = Mutex::new(Vec::new());
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let r = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    let scan = scan_once(d, n, what, t0);
                    scans.lock().unwrap_or_else(|p| p.into_inner()).push(scan);
                }
            });
        }
        let _stop = StopOnDrop(&stop);
        work()
    });
    (r, scans.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// A `docker load -i` under way, with the time its "Loaded image" line came (the image is registered).
struct Load {
    child: Child,
    loaded: std::sync::Arc<Mutex<Option<f64>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(d: &PrivateDaemon, archive: &Path, t0: Instant) -> Load {
        let mut child = Command::new(DOCKER)
            .env("DOCKER_HOST", d.host())
            .args(["load", "-i", archive.to_str().expect("utf-8 path")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker load starts");
        let out = child.stdout.take().expect("piped stdout");
        let loaded = std::sync::Arc::new(Mutex::new(None));
        let l = loaded.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if line.starts_with("Loaded image") {
                    let mut g = l.lock().unwrap_or_else(|p| p.into_inner());
                    g.get_or_insert(secs(t0));
                }
            }
        });
        Load {
            child,
            loaded,
            reader: Some(reader),
        }
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn loaded_at(&self) -> Option<f64> {
        *self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (bounded) for the client to exit: (succeeded, time the image was registered).
    fn finish(mut self) -> (bool, Option<f64>) {
        let t = Instant::now();
        let ok = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break s.success(),
                Ok(None) if t.elapsed() < OP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break false;
                }
            }
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (ok, self.loaded_at())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `docker save` archive of one image, tagged `tag`, made of `layers` (tar blobs), bottom first.
fn save_archive(tag: &str, layers: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created_by": "dredge df_race"}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("config JSON");
    let config_name = format!("{}.json", sha256_hex(&config));
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name, "RepoTags": [tag], "Layers": names,
    }]))
    .expect("manifest JSON");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, bytes).expect("archive member");
    };
    for (n, l) in names.iter().zip(layers) {
        add(n, l);
    }
    add(&config_name, &config);
    add("manifest.json", &manifest);
    b.into_inner().expect("archive")
}

/// A layer tar of `files` files of `kib` KiB under `name/`, in 32 directories.
fn files_layer(name: &str, files: usize, kib: usize) -> Vec<u8> {
    let names: Vec<Vec<u8>> = (0..files)
        .map(|i| format!("{name}/d{}/f{i}", i % 32).into_bytes())
        .collect();
    let entries: Vec<common::E<'_>> = names
        .iter()
        .map(|n| common::E::File(n.as_slice(), kib * 1024))
        .collect();
    common::layer_tar(&entries)
}

/// Writes the archives: base = busybox + 2 small layers, child = base's layers + `child_layers` layers
/// of many small files (made here, not built: a classic build of them takes minutes); loads the base.
fn make_images(d: &PrivateDaemon, s: &Scale) -> (PathBuf, PathBuf) {
    let bb = busybox_rootfs();
    let b1 = files_layer("b1", 64, 4);
    let b2 = files_layer("b2", 64, 4);
    let own: Vec<Vec<u8>> = (0..s.child_layers)
        .map(|i| files_layer(&format!("c{i}"), s.child_files, s.child_file_kib))
        .collect();
    let base_layers: Vec<&[u8]> = vec![&bb, &b1, &b2];
    let mut child_layers = base_layers.clone();
    child_layers.extend(own.iter().map(Vec::as_slice));
    let base = d.dir.path().join("base.tar");
    let child = d.dir.path().join("child.tar");
    std::fs::write(&base, save_archive(BASE, &base_layers)).expect("base archive");
    std::fs::write(&child, save_archive(CHILD, &child_layers)).expect("child archive");
    d.docker(&["load", "-q", "-i", base.to_str().expect("utf-8")], None);
    (base, child)
}

fn diff_ids(d: &PrivateDaemon, image: &str) -> Vec<String> {
    let out = d.docker(
        &["image", "inspect", "-f", "{{json .RootFS.Layers}}", image],
        None,
    );
    serde_json::from_str(out.trim()).expect("RootFS.Layers")
}

/// A live layer some scan reported as an orphan.
struct Misreport {
    scan: usize,
    what: String,
    start: f64,
    end: f64,
    kind: String,
    path: String,
    layer: String,
    image: String,
}

/// Judges every scan of a round against what is live once the round's loads finished; says how
/// many live layers the round's scans reported as orphans.
fn judge(d: &PrivateDaemon, scans: &[Scan], out: &mut Vec<Misreport>) -> usize {
    let had = out.len();
    let root = d.root();
    let live = live_now(d);
    for s in scans {
        for o in &s.orphans {
            let (dir, chain) = o.names(&root);
            let hit = match (&dir, &chain) {
                (Some(dir), _) => live.dirs.get(dir).cloned(),
                (None, Some(c)) if live.chains.contains(c) => Some((c.clone(), "?".into())),
                _ => None,
            };
            if let Some((layer, image)) = hit {
                out.push(Misreport {
                    scan: s.n,
                    what: s.what.clone(),
                    start: s.start,
                    end: s.end,
                    kind: o.kind.clone(),
                    path: o.path.clone(),
                    layer,
                    image,
                });
            }
        }
    }
    out.len() - had
}

fn assert_root() {
    let uid = common::run("id", &["-u"]);
    assert_eq!(uid.trim(), "0", "this test needs root (a private dockerd)");
}

#[test]
#[ignore = "needs docker engine and root"]
fn live_layers_are_never_reported_as_orphans_while_the_daemon_races() {
    let s = scale();
    let t0 = Instant::now();
    assert_root();
    let mut d = PrivateDaemon::start().expect("private dockerd");
    let root = d.root();
    let (base_tar, child_tar) = make_images(&d, s);
    let base_chains = chain_ids(&diff_ids(&d, BASE));
    let base_top = base_chains
        .last()
        .expect("base has layers")
        .trim_start_matches("sha256:")
        .to_string();
    // A clean restart: the layers made so far are older than the running daemon, as in production,
    // where an image pulled last week is removed while another one loads.
    d.stop();
    d.spawn().expect("restart after the setup");
    eprintln!(
        "setup done at {:.1}s (child: {} layers of {} files of {} KiB)",
        secs(t0),
        s.child_layers,
        s.child_files,
        s.child_file_kib
    );

    let counter = AtomicUsize::new(0);
    let mut scans_total = 0usize;
    let mut scan_errors: Vec<String> = Vec::new();
    let mut misreports: Vec<Misreport> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let race_start = Instant::now();

    // Case 1: rmi of the base while the child (which contains the base's layers) loads.
    let (mut rmi_races, mut rmi_window_scans, mut rmi_rounds_done) = (0, 0, 0);
    for round in 1..=s.rmi_rounds {
        if race_start.elapsed() > s.rmi_budget {
            notes.push(format!("rmi: budget spent after {} rounds", round - 1));
            break;
        }
        // Base present, child absent (the first round: as made; later: reload base, rmi child).
        if round > 1 {
            d.docker(
                &["load", "-q", "-i", base_tar.to_str().expect("utf-8")],
                None,
            );
            d.docker(&["rmi", CHILD], None);
        }
        let before = overlay_dirs(&root);
        let base_dir = cache_id(&root, &base_top).expect("base's top chain on disk");
        let what = format!("rmi round {round}");
        let ((rmi_start, rmi_done, loaded, held), scans) =
            scanning(&d, s.scanners, &what, &counter, t0, || {
                let mut load = Load::start(&d, &child_tar, t0);
                // Once a new overlay2 dir appears the load is applying the child's own layers: it
                // holds the base's layers (moby `tarexport` `Get`s each chain it finds, until done).
                let t = Instant::now();
                while t.elapsed() < OP_TIMEOUT
                    && load.running()
                    && overlay_dirs(&root).difference(&before).next().is_none()
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let rmi_start = secs(t0);
                d.docker(&["rmi", BASE], None);
                let rmi_done = secs(t0);
                // The base's record survived the rmi, naming the same dir (the load holds it).
                let held = cache_id(&root, &base_top).as_deref() == Some(base_dir.as_str());
                let (ok, loaded) = load.finish();
                assert!(ok, "{what}: docker load of the child failed");
                (rmi_start, rmi_done, loaded, held)
            });
        rmi_rounds_done += 1;
        let loaded = loaded.unwrap_or(f64::MAX);
        let raced = rmi_done < loaded && held;
        let window: Vec<&Scan> = scans
            .iter()
            .filter(|x| x.start >= rmi_done && x.end <= loaded)
            .collect();
        rmi_races += usize::from(raced);
        if raced {
            rmi_window_scans += window.len();
        }
        let bad = judge(&d, &scans, &mut misreports);
        eprintln!(
            "{what}: rmi {rmi_start:.2}s..{rmi_done:.2}s, child registered {loaded:.2}s, base record held: \
             {held}; {} scans, {} inside the window; live layers reported as orphans: {bad}",
            scans.len(),
            window.len()
        );
        scans_total += scans.len();
        scan_errors.extend(scans.iter().filter_map(|x| {
            x.error
                .as_ref()
                .map(|e| format!("scan #{} ({}): {e}", x.n, x.what))
        }));
    }

    // Case 2: dockerd killed mid-load, restarted; scans, then the same image loaded again.
    d.docker(&["rmi", CHILD], None);
    let (mut kill_races, mut kill_window_scans, mut kill_rounds_done) = (0, 0, 0);
    let kill_start = Instant::now();
    for round in 1..=s.kill_rounds {
        if kill_start.elapsed() > s.kill_budget {
            notes.push(format!("kill: budget spent after {} rounds", round - 1));
            break;
        }
        let before = chain_records(&root);
        let mut load = Load::start(&d, &child_tar, t0);
        // Kill once the base's chains are committed and the child's own layers are being applied.
        let t = Instant::now();
        let mut killed = false;
        while t.elapsed() < OP_TIMEOUT && load.running() {
            if chain_records(&root).difference(&before).count() >= base_chains.len()
                && load.loaded_at().is_none()
            {
                d.crash();
                killed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = load.finish();
        if !killed {
            notes.push(format!(
                "kill round {round}: the load finished before the kill"
            ));
            d.docker(&["rmi", CHILD], None);
            continue;
        }
        d.spawn().expect("restart after the kill");
        kill_rounds_done += 1;
        let restarted = secs(t0);
        // Independently of dredge: the child is not an image, no image at all exists, and the load
        // left complete records.
        let images = d.docker(&["image", "ls", "-q"], None);
        let left: BTreeSet<String> = chain_records(&root).difference(&before).cloned().collect();
        let what = format!("kill round {round}");
        let (loaded, scans) = scanning(&d, s.scanners, &what, &counter, t0, || {
            std::thread::sleep(Duration::from_secs(s.settle_secs));
            let load = Load::start(&d, &child_tar, t0);
            let (ok, loaded) = load.finish();
            assert!(ok, "{what}: docker load after the restart failed");
            loaded
        });
        let loaded = loaded.unwrap_or(f64::MAX);
        // Re-adopted: the leftover records still there, naming the same dirs, now live.
        let live = live_now(&d);
        let readopted = left.iter().filter(|c| live.chains.contains(*c)).count();
        let raced = images.trim().is_empty() && readopted > 0;
        let window: Vec<&Scan> = scans
            .iter()
            .filter(|x| x.start >= restarted && x.end <= loaded)
            .collect();
        kill_races += usize::from(raced);
        if raced {
            kill_window_scans += window.len();
        }
        let bad = judge(&d, &scans, &mut misreports);
        eprintln!(
            "{what}: killed and restarted at {restarted:.2}s, {} complete records left, {readopted} \
             re-adopted by the reload (registered {loaded:.2}s); {} scans, {} inside the window; live \
             layers reported as orphans: {bad}",
            left.len(),
            scans.len(),
            window.len()
        );
        scans_total += scans.len();
        scan_errors.extend(scans.iter().filter_map(|x| {
            x.error
                .as_ref()
                .map(|e| format!("scan #{} ({}): {e}", x.n, x.what))
        }));
        d.docker(&["rmi", CHILD], None);
    }

    // The summary, always printed; then the verdicts.
    let distinct: BTreeSet<&str> = misreports.iter().map(|m| m.path.as_str()).collect();
    let bad_scans: BTreeSet<usize> = misreports.iter().map(|m| m.scan).collect();
    eprintln!(
        "SUMMARY: {scans_total} scans in {:.0}s ({:.0}s racing); rmi: {rmi_races} races in \
         {rmi_rounds_done} rounds, {rmi_window_scans} scans inside them; kill: {kill_races} races in \
         {kill_rounds_done} rounds, {kill_window_scans} scans inside them; live layers reported as \
         orphans: {} times, {} distinct paths, in {} scans; scan errors: {}; notes: {notes:?}",
        secs(t0),
        race_start.elapsed().as_secs_f64(),
        misreports.len(),
        distinct.len(),
        bad_scans.len(),
        scan_errors.len()
    );
    let mut failures = Vec::new();
    if !misreports.is_empty() {
        let lines: Vec<String> = misreports
            .iter()
            .take(40)
            .map(|m| {
                format!(
                    "  scan #{} ({}, {:.2}s..{:.2}s): {} {} is layer sha256:{} of {}",
                    m.scan,
                    m.what,
                    m.start,
                    m.end,
                    m.kind,
                    m.path,
                    &m.layer[..12.min(m.layer.len())],
                    m.image
                )
            })
            .collect();
        failures.push(format!(
            "{} live layer reports as orphans ({} distinct paths, {} of {scans_total} scans); first \
             ones:\n{}",
            misreports.len(),
            distinct.len(),
            bad_scans.len(),
            lines.join("\n")
        ));
    }
    if !scan_errors.is_empty() {
        failures.push(format!(
            "{} scans failed: {:?}",
            scan_errors.len(),
            &scan_errors[..scan_errors.len().min(10)]
        ));
    }
    // The races happened, and scans ran inside them: the verdict above judged something.
    if rmi_races < s.min_rmi_races {
        failures.push(format!(
            "the rmi race happened in {rmi_races} rounds, fewer than {}",
            s.min_rmi_races
        ));
    }
    if kill_races < s.min_kill_races {
        failures.push(format!(
            "the killed load left re-adopted records in {kill_races} rounds, fewer than {}",
            s.min_kill_races
        ));
    }
    if rmi_window_scans + kill_window_scans < s.min_window_scans {
        failures.push(format!(
            "{} scans ran inside a race window, fewer than {}",
            rmi_window_scans + kill_window_scans,
            s.min_window_scans
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
