//! When each image was last used, where that is known: a pure function of its containers' times as
//! the engine has them now (`State.StartedAt`, `State.FinishedAt`) and of `dredge prune`'s memory of
//! last uses (`prune::state`: the newest container use it saw, else when it first saw the image). The
//! newer of the two wins (an image looks used more recently, never less). `crate::df` gathers both.

use std::collections::BTreeMap;

use super::types::{ImageUsage, LastUsedSource};

/// One container's times, as the engine has them (seconds since the epoch; None: never).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerTimes {
    /// Its image's `sha256:` id.
    pub image: String,
    /// `State.StartedAt`.
    pub started_at: Option<i64>,
    /// `State.FinishedAt`.
    pub finished_at: Option<i64>,
}

/// Each container's times as its `config.v2.json` has them (containers with no image are left out).
pub fn from_records(containers: &[crate::model::dataroot::ContainerRecord]) -> Vec<ContainerTimes> {
    containers
        .iter()
        .filter_map(|c| {
            Some(ContainerTimes {
                image: c.image.clone()?,
                started_at: c.started_at,
                finished_at: c.finished_at,
            })
        })
        .collect()
}

/// Sets every image's `last_used` and `last_used_source` from its containers' newest start or finish
/// and the remembered last use (`state`, image id → seconds). An image neither gives is `NoneSeen`:
/// no container here has run it and nothing remembers a use.
pub fn apply(
    images: &mut [ImageUsage],
    containers: &[ContainerTimes],
    state: &BTreeMap<String, i64>,
) {
    for img in images {
        let used = containers
            .iter()
            .filter(|c| c.image == img.id)
            .flat_map(|c| [c.started_at, c.finished_at])
            .flatten()
            .max();
        let (t, source) = match (used, state.get(&img.id).copied()) {
            (Some(c), Some(s)) if s > c => (Some(s), LastUsedSource::StateFile),
            (Some(c), _) => (Some(c), LastUsedSource::Containers),
            (None, Some(s)) => (Some(s), LastUsedSource::StateFile),
            (None, None) => (None, LastUsedSource::NoneSeen),
        };
        img.last_used = t;
        img.last_used_source = Some(source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str) -> ImageUsage {
        ImageUsage {
            id: id.into(),
            tags: vec![],
            bytes: 0,
            apparent_bytes: 0,
            unique_bytes: 0,
            shared_bytes: 0,
            containers: 0,
            dangling: false,
            last_used: None,
            last_used_source: None,
        }
    }

    fn times(image: &str, started: Option<i64>, finished: Option<i64>) -> ContainerTimes {
        ContainerTimes {
            image: image.into(),
            started_at: started,
            finished_at: finished,
        }
    }

    #[test]
    fn newest_container_time_else_the_state_file_else_none_seen() {
        let mut imgs = vec![image("a"), image("b"), image("c"), image("d"), image("e")];
        let containers = [
            // a: two containers, one still running (no finish); the newest time is the other's finish.
            times("a", Some(100), Some(300)),
            times("a", Some(250), None),
            // c: created, never started.
            times("c", None, None),
            // d: used at 50, but the state file remembers a later use.
            times("d", Some(40), Some(50)),
            // e: used at 500, the state file only at 60.
            times("e", Some(500), None),
        ];
        let state: BTreeMap<String, i64> =
            [("b".into(), 70), ("d".into(), 80), ("e".into(), 60)].into();
        apply(&mut imgs, &containers, &state);
        let got: Vec<(Option<i64>, Option<LastUsedSource>)> = imgs
            .iter()
            .map(|i| (i.last_used, i.last_used_source))
            .collect();
        assert_eq!(
            got,
            [
                (Some(300), Some(LastUsedSource::Containers)),
                (Some(70), Some(LastUsedSource::StateFile)),
                (None, Some(LastUsedSource::NoneSeen)),
                (Some(80), Some(LastUsedSource::StateFile)),
                (Some(500), Some(LastUsedSource::Containers)),
            ]
        );
    }

    #[test]
    fn a_tie_is_the_containers() {
        let mut imgs = vec![image("a")];
        apply(
            &mut imgs,
            &[times("a", Some(10), Some(20))],
            &[("a".into(), 20)].into(),
        );
        assert_eq!(imgs[0].last_used_source, Some(LastUsedSource::Containers));
    }
}
