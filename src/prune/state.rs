//! The last use of each image, kept across runs: the newest container start or finish dredge saw, else
//! the first time it saw the image (never the image's creation time: a freshly pulled old image is not
//! old). One small JSON file per engine, written atomically (temporary file, fsync, rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::facts::Facts;

fn path(state_dir: &Path, engine_id: &str) -> PathBuf {
    let safe: String = engine_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join(format!("last-used-{safe}.json"))
}

/// Reads the remembered last uses (an unreadable or corrupt file is a warning and an empty memory:
/// every image then counts as first seen now, which keeps it, never the reverse).
pub fn load(state_dir: &Path, engine_id: &str) -> (BTreeMap<String, i64>, Option<String>) {
    let p = path(state_dir, engine_id);
    match std::fs::read(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (BTreeMap::new(), None),
        Err(e) => (
            BTreeMap::new(),
            Some(format!("{}: {e}; last uses start afresh", p.display())),
        ),
        Ok(b) => match serde_json::from_slice(&b) {
            Ok(m) => (m, None),
            Err(e) => (
                BTreeMap::new(),
                Some(format!("{}: {e}; last uses start afresh", p.display())),
            ),
        },
    }
}

/// The updated memory: every image the engine has now, with its last use (containers, else what was
/// remembered, else now); images gone are forgotten. Pure.
pub fn updated(facts: &Facts) -> BTreeMap<String, i64> {
    facts
        .images
        .iter()
        .map(|i| (i.id.clone(), facts.last_use(&i.id).unwrap_or(facts.now)))
        .collect()
}

/// Writes the memory atomically.
pub fn save(state_dir: &Path, engine_id: &str, m: &BTreeMap<String, i64>) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let p = path(state_dir, engine_id);
    let tmp = p.with_extension("json.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(m).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &p)?;
    std::fs::File::open(state_dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::facts::{ContainerFact, ImageFact};

    #[test]
    fn first_seen_is_now_and_container_use_wins_and_gone_images_are_forgotten() {
        let mut f = Facts {
            now: 1000,
            ..Default::default()
        };
        f.images = vec![
            ImageFact {
                id: "a".into(),
                created: 1,
                ..Default::default()
            },
            ImageFact {
                id: "b".into(),
                ..Default::default()
            },
            ImageFact {
                id: "c".into(),
                ..Default::default()
            },
        ];
        f.last_used.insert("b".into(), 500);
        f.last_used.insert("gone".into(), 1);
        f.containers.push(ContainerFact {
            image: "c".into(),
            created: 600,
            finished_at: Some(700),
            ..Default::default()
        });
        let m = updated(&f);
        assert_eq!(m.get("a"), Some(&1000));
        assert_eq!(m.get("b"), Some(&500));
        assert_eq!(m.get("c"), Some(&700));
        assert!(!m.contains_key("gone"));
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), "E:1", &m).unwrap();
        assert_eq!(load(dir.path(), "E:1").0, m);
        std::fs::write(path(dir.path(), "E:1"), "{").unwrap();
        let (m2, w) = load(dir.path(), "E:1");
        assert!(m2.is_empty() && w.is_some());
    }
}
