//! What `dredge reclaim` remembers between runs: when it first saw each image and when it last saw the
//! image in use, the start of the previous run (the engine's events are read from there) and the last
//! success. One JSON file, written atomically (temporary file, fsync, rename, fsync of the dir), so a
//! kill -9 mid-write leaves the old file or the new one, never half of one.
//!
//! A missing, unreadable, corrupt or foreign (another engine's) file is a warning and an empty memory:
//! every image then counts as first seen now, which keeps it (the minimum age and the "new since the
//! last run" rule both hold it back), never the reverse.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::prune::facts::Facts;

/// Version of the state file.
pub const STATE_VERSION: u32 = 1;

/// First detection and last use of one image (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The first time a run saw the image (minimum ages count from here, kubelet's rule).
    pub first_seen: i64,
    /// The last time a run saw it in use (a running container: that run's time; a stopped one: its
    /// `FinishedAt`; an event of a container made from it), else its first detection.
    pub last_used: i64,
}

/// The state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The engine the memory is about (`/info` ID).
    pub engine_id: String,
    /// Start of the previous run.
    #[serde(default)]
    pub last_run: Option<i64>,
    /// End of the last run that brought the disk to `low` or found nothing to do.
    #[serde(default)]
    pub last_success: Option<i64>,
    /// Image id → first detection and last use.
    #[serde(default)]
    pub images: BTreeMap<String, Seen>,
}

/// Reads the state for this engine. A missing file is an empty memory; an unreadable, corrupt or
/// foreign one is an empty memory and a warning.
pub fn load(path: &Path, engine_id: &str) -> (State, Option<String>) {
    let fresh = State {
        version: STATE_VERSION,
        engine_id: engine_id.to_string(),
        ..Default::default()
    };
    let afresh = "every image counts as first seen now (nothing is old enough to go in this run)";
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (fresh, None),
        Err(e) => (
            fresh,
            Some(format!("state file {}: {e}; {afresh}", path.display())),
        ),
        Ok(b) => match serde_json::from_slice::<State>(&b) {
            Ok(s) if s.version != STATE_VERSION => (
                fresh,
                Some(format!(
                    "state file {} has version {}, this dredge reads {STATE_VERSION}; {afresh}",
                    path.display(),
                    s.version
                )),
            ),
            Ok(s) if s.engine_id != engine_id => (
                fresh,
                Some(format!(
                    "state file {} is about another engine ({}); {afresh}",
                    path.display(),
                    s.engine_id
                )),
            ),
            Ok(s) => (s, None),
            Err(e) => (
                fresh,
                Some(format!(
                    "state file {} is corrupt ({e}); {afresh}",
                    path.display()
                )),
            ),
        },
    }
}

/// Writes the state atomically.
pub fn save(path: &Path, s: &State) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.json".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The image ids a container event names: its `image` attribute is what the user typed (`repo:tag`,
/// a short name meaning `:latest`, or an id). Pure.
pub fn event_image(name: &str, facts: &Facts) -> Option<String> {
    if name.starts_with("sha256:") {
        return facts.image(name).map(|i| i.id.clone());
    }
    let full = if crate::prune::plan::repository(name) == name {
        format!("{name}:latest")
    } else {
        name.to_string()
    };
    facts
        .image_tagged(&full)
        .or_else(|| {
            facts
                .images
                .iter()
                .find(|i| i.id.trim_start_matches("sha256:").starts_with(name))
        })
        .map(|i| i.id.clone())
}

/// The memory after this run's look at the engine: every image it has now (others are forgotten),
/// first seen now if unknown, last used at the newest of what was remembered, its containers (running:
/// `now`; stopped: `FinishedAt`, else `StartedAt`) and `uses` (events: image id, time). Pure.
pub fn updated(prev: &State, facts: &Facts, uses: &[(String, i64)], now: i64) -> State {
    let mut images = BTreeMap::new();
    for i in &facts.images {
        let mut s = prev.images.get(&i.id).copied().unwrap_or(Seen {
            first_seen: now,
            last_used: now,
        });
        for c in facts.containers.iter().filter(|c| c.image == i.id) {
            let t = if c.active {
                Some(now)
            } else {
                c.finished_at.or(c.started_at)
            };
            if let Some(t) = t {
                s.last_used = s.last_used.max(t.min(now));
            }
        }
        for (_, t) in uses.iter().filter(|(id, _)| *id == i.id) {
            s.last_used = s.last_used.max((*t).min(now));
        }
        images.insert(i.id.clone(), s);
    }
    State {
        version: STATE_VERSION,
        engine_id: prev.engine_id.clone(),
        last_run: Some(now),
        last_success: prev.last_success,
        images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::facts::{ContainerFact, ImageFact};

    fn img(id: &str, tags: &[&str]) -> ImageFact {
        ImageFact {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn first_seen_stays_last_use_grows_gone_images_are_forgotten() {
        let prev = State {
            version: STATE_VERSION,
            engine_id: "E".into(),
            images: [
                (
                    "sha256:a".to_string(),
                    Seen {
                        first_seen: 10,
                        last_used: 20,
                    },
                ),
                (
                    "sha256:gone".to_string(),
                    Seen {
                        first_seen: 1,
                        last_used: 1,
                    },
                ),
            ]
            .into(),
            ..Default::default()
        };
        let facts = Facts {
            images: vec![
                img("sha256:a", &["a:1"]),
                img("sha256:b", &[]),
                img("sha256:c", &["c:1"]),
            ],
            containers: vec![
                ContainerFact {
                    image: "sha256:a".into(),
                    finished_at: Some(50),
                    ..Default::default()
                },
                ContainerFact {
                    image: "sha256:c".into(),
                    active: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let s = updated(&prev, &facts, &[("sha256:a".into(), 70)], 100);
        assert_eq!(
            s.images["sha256:a"],
            Seen {
                first_seen: 10,
                last_used: 70
            }
        );
        assert_eq!(
            s.images["sha256:b"],
            Seen {
                first_seen: 100,
                last_used: 100
            }
        );
        assert_eq!(
            s.images["sha256:c"],
            Seen {
                first_seen: 100,
                last_used: 100
            }
        );
        assert!(!s.images.contains_key("sha256:gone"));
        assert_eq!(s.last_run, Some(100));
        assert_eq!(event_image("a:1", &facts).as_deref(), Some("sha256:a"));
        assert_eq!(event_image("sha256:b", &facts).as_deref(), Some("sha256:b"));
        assert_eq!(event_image("nope", &facts), None);
    }

    #[test]
    fn a_write_killed_midway_leaves_the_old_file() {
        // What a kill -9 between create and rename leaves: a partial temporary file beside the
        // state file. The state file is the old one, whole; the next save replaces the leftover.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("reclaim-state.json");
        let mut s = State {
            version: STATE_VERSION,
            engine_id: "E".into(),
            ..Default::default()
        };
        s.images.insert(
            "sha256:a".into(),
            Seen {
                first_seen: 1,
                last_used: 2,
            },
        );
        save(&p, &s).unwrap();
        std::fs::write(
            dir.path().join(".reclaim-state.json.tmp"),
            "{\"version\": 1, \"ima",
        )
        .unwrap();
        assert_eq!(load(&p, "E"), (s.clone(), None));
        s.last_run = Some(9);
        save(&p, &s).unwrap();
        assert_eq!(load(&p, "E"), (s, None));
        assert!(!dir.path().join(".reclaim-state.json.tmp").exists());
    }

    #[test]
    fn corrupt_foreign_or_missing_files_start_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let (s, w) = load(&p, "E");
        assert!(s.images.is_empty() && w.is_none());
        let mut s = s;
        s.images.insert(
            "x".into(),
            Seen {
                first_seen: 1,
                last_used: 2,
            },
        );
        save(&p, &s).unwrap();
        assert_eq!(load(&p, "E"), (s.clone(), None));
        let (other, w) = load(&p, "F");
        assert!(other.images.is_empty() && w.unwrap().contains("another engine"));
        std::fs::write(
            &p,
            "{\"version\": 1, \"engine_id\": \"E\", \"images\": {\"x\": ",
        )
        .unwrap();
        let (c, w) = load(&p, "E");
        assert!(c.images.is_empty());
        assert!(w.unwrap().contains("corrupt"));
    }
}
