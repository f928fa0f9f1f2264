//! The order of victims over many simulated days, driven by a fake clock: images used and not used,
//! an event-only use, a stopped container, keep rules, a parent with a child, and a restart of dredge
//! with a corrupt state file. Each day's victims are checked against the expectation computed by hand
//! in the comments (sizes in bytes; high 130, low 100).

use std::collections::BTreeMap;

use super::*;
use crate::prune::facts::{BuildRecord, ContainerFact};
use crate::reclaim::policy::Mark;
use crate::reclaim::state::{self, State};

const H: i64 = 3600;

struct Sim {
    images: Vec<ImageFact>,
    containers: Vec<ContainerFact>,
    build_cache: Vec<BuildRecord>,
    layers: BTreeMap<String, u64>,
}

impl Sim {
    fn add(
        &mut self,
        id: &str,
        tag: Option<&str>,
        parent: Option<&str>,
        chain: &[&str],
        created: i64,
    ) {
        self.images.push(ImageFact {
            id: id.into(),
            tags: tag.into_iter().map(String::from).collect(),
            parent: parent.map(String::from),
            created,
            chain: chain.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
    }
    /// Bytes in use: every layer some image has, each once; containers; build cache.
    fn used(&self) -> u64 {
        let live: std::collections::BTreeSet<&str> = self
            .images
            .iter()
            .flat_map(|i| i.chain.iter().map(String::as_str))
            .collect();
        live.iter().map(|l| self.layers[*l]).sum::<u64>()
            + self.containers.iter().map(|c| c.bytes).sum::<u64>()
            + self.build_cache.iter().map(|r| r.bytes).sum::<u64>()
    }
    fn facts(&self, now: i64, st: &State) -> Facts {
        Facts {
            engine_id: "E".into(),
            now,
            images: self.images.clone(),
            containers: self.containers.clone(),
            build_cache: self.build_cache.clone(),
            layer_bytes: self.layers.clone(),
            last_used: st
                .images
                .iter()
                .map(|(k, s)| (k.clone(), s.last_used))
                .collect(),
            ..Default::default()
        }
    }
    fn remove(&mut self, it: &Item) {
        match it.kind {
            Kind::Image => self.images.retain(|i| i.id != it.id),
            Kind::Container => self.containers.retain(|c| c.id != it.id),
            Kind::BuildCache => self.build_cache.retain(|r| r.id != it.id),
            k => panic!("unexpected {k:?}"),
        }
    }

    /// One run of reclaim at `now` (a new process: the state goes through its file): the victims'
    /// ids, in order.
    fn day(
        &mut self,
        p: &Policy,
        file: &std::path::Path,
        now: i64,
        uses: &[(&str, i64)],
    ) -> Vec<String> {
        let (prev, _) = state::load(file, "E");
        let uses: Vec<(String, i64)> = uses.iter().map(|(i, t)| (i.to_string(), *t)).collect();
        let st = state::updated(&prev, &self.facts(now, &prev), &uses, now);
        let new: std::collections::BTreeSet<String> = st
            .images
            .keys()
            .filter(|k| !prev.images.contains_key(*k))
            .cloned()
            .collect();
        state::save(file, &st).unwrap();
        let (high, low) = (p.high.bytes(0), p.low.bytes(0));
        let globs = crate::prune::plan::keep_globs(&p.keep).unwrap();
        let mut victims = Vec::new();
        if self.used() < high {
            return victims;
        }
        for &step in &p.steps {
            while self.used() > low {
                let facts = self.facts(now, &st);
                let v = View {
                    facts: &facts,
                    seen: &st.images,
                    new: &new,
                    quarantined: &[],
                };
                let plan = plan_step(p, &globs, step, &v, self.used() - low);
                if plan.items.is_empty() {
                    break;
                }
                for it in &plan.items {
                    victims.push(it.id.clone());
                    self.remove(it);
                }
            }
        }
        victims
    }
}

#[test]
fn victims_day_by_day_match_the_hand_computed_order() {
    let p = Policy {
        high: Mark::Bytes(130),
        low: Mark::Bytes(100),
        image_min_age: 24 * H as u64,
        keep: vec!["base:*".into()],
        keep_last: 1,
        container_finished_for: 24 * H as u64,
        build_cache_unused_for: 24 * H as u64,
        ..Policy::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let layers = [
        ("l0", 10),
        ("a1", 30),
        ("a2", 30),
        ("a3", 30),
        ("a4", 30),
        ("p", 15),
        ("t1", 25),
        ("t2", 10),
        ("d", 5),
        ("w1", 20),
    ];
    let mut sim = Sim {
        images: vec![],
        containers: vec![],
        build_cache: vec![BuildRecord {
            id: "r1".into(),
            bytes: 10,
            last_used: Some(-48 * H),
            ..Default::default()
        }],
        layers: layers.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    };
    sim.add("sha256:b", Some("base:1"), None, &["l0"], 0);
    sim.add("sha256:a1", Some("app:1"), None, &["l0", "a1"], 0);
    sim.add("sha256:a2", Some("app:2"), None, &["l0", "a2"], 0);
    sim.add("sha256:p", None, None, &["l0", "p"], 0);
    sim.add(
        "sha256:t1",
        Some("tool:1"),
        Some("sha256:p"),
        &["l0", "p", "t1"],
        0,
    );
    sim.add("sha256:d", None, None, &["l0", "d"], 0);
    sim.add("sha256:w1", Some("web:1"), None, &["l0", "w1"], 0);
    sim.containers.push(ContainerFact {
        id: "web".into(),
        name: "web".into(),
        image: "sha256:w1".into(),
        active: true,
        status: "running".into(),
        created: H,
        started_at: Some(H),
        ..Default::default()
    });
    // 10+30+30+15+25+5+20 + r1 10 = 145.
    assert_eq!(sim.used(), 145);

    // Day 0, 02:00: first run, every image first seen now (new): only the old build cache goes.
    // 145 → 135, not under low (the run ends with exit 1).
    assert_eq!(sim.day(&p, &file, 2 * H, &[]), ["r1"]);
    assert_eq!(sim.used(), 135);

    // Day 1, 02:00: images first seen 24 h ago (= min_age). An `docker run --rm app:2` at 14:00 is
    // known only from the events. Need 35: dangling d (5), then unused images: base kept (glob),
    // web in use, app:2 the most recent of app (keep_last), tool:1 the only one of tool (keep_last),
    // so p (its parent) stays; app:1 (30) is enough. 135 → 100.
    assert_eq!(
        sim.day(&p, &file, 26 * H, &[("sha256:a2", 14 * H)]),
        ["sha256:d", "sha256:a1"]
    );
    assert_eq!(sim.used(), 100);

    // Then: tool:2 built at 30 h, a container of tool:1 ran 40-41 h and stays stopped (3 bytes),
    // app:3 pulled at 45 h. 100 + 10 + 3 + 30 = 143.
    sim.add("sha256:t2", Some("tool:2"), None, &["l0", "t2"], 30 * H);
    sim.add("sha256:a3", Some("app:3"), None, &["l0", "a3"], 45 * H);
    sim.containers.push(ContainerFact {
        id: "c2".into(),
        name: "c2".into(),
        image: "sha256:t1".into(),
        status: "exited".into(),
        created: 40 * H,
        started_at: Some(40 * H),
        finished_at: Some(41 * H),
        bytes: 3,
        ..Default::default()
    });
    assert_eq!(sim.used(), 143);
    // Day 2, 02:00 (50 h): need 43. c2 stopped 9 h ago (< 24 h). tool:1 used by c2 (stopped
    // containers count), so p stays; tool:2 and app:3 are new since the last run (app:3 is also the
    // most recent of app). Only app:2 (30) can go: 143 → 113, short of low.
    assert_eq!(sim.day(&p, &file, 50 * H, &[]), ["sha256:a2"]);
    assert_eq!(sim.used(), 113);

    // app:4 pulled at 60 h: 143. Day 3 (74 h): dredge restarts on a corrupt state file: every image
    // counts as first seen now, so no image goes, whatever its age; c2 (finished 33 h ago) does.
    sim.add("sha256:a4", Some("app:4"), None, &["l0", "a4"], 60 * H);
    std::fs::write(&file, "{\"version\":1,\"engine_id\":\"E\",\"images\":{").unwrap();
    assert_eq!(sim.day(&p, &file, 74 * H, &[]), ["c2"]);
    assert_eq!(sim.used(), 140);

    // Day 4 (98 h): everything first seen 24 h ago, last used then too (the memory restarted). app:4
    // and tool:2 are the newest of their repositories (ties broken by creation): kept. Candidates
    // app:3, tool:1 and p (its parent, last use raised to tool:1's): LRU ties, first detection ties,
    // ids: a3 (30), then p waits for its child t1, t1 (25: p's layer is still p's) = 55 ≥ 40.
    // 140 → 85.
    assert_eq!(sim.day(&p, &file, 98 * H, &[]), ["sha256:a3", "sha256:t1"]);
    assert_eq!(sim.used(), 85);

    // Day 5 (122 h): under high, nothing to do.
    assert!(sim.day(&p, &file, 122 * H, &[]).is_empty());
}

#[test]
fn a_parent_goes_after_its_child_in_the_same_step_and_counts_its_own_layer() {
    let p = Policy {
        image_min_age: 0,
        keep_last: 0,
        ..Policy::default()
    };
    let seen: BTreeMap<String, Seen> = ["sha256:p", "sha256:c"]
        .iter()
        .map(|i| {
            (
                i.to_string(),
                Seen {
                    first_seen: 0,
                    last_used: 0,
                },
            )
        })
        .collect();
    let facts = Facts {
        now: 100,
        images: vec![
            ImageFact {
                id: "sha256:p".into(),
                chain: vec!["x".into()],
                ..Default::default()
            },
            ImageFact {
                id: "sha256:c".into(),
                tags: vec!["c:1".into()],
                parent: Some("sha256:p".into()),
                chain: vec!["x".into(), "y".into()],
                ..Default::default()
            },
        ],
        layer_bytes: [("x".to_string(), 7), ("y".to_string(), 3)].into(),
        ..Default::default()
    };
    let none = std::collections::BTreeSet::new();
    let v = View {
        facts: &facts,
        seen: &seen,
        new: &none,
        quarantined: &[],
    };
    let globs = crate::prune::plan::keep_globs(&[]).unwrap();
    let plan = plan_step(&p, &globs, Step::UnusedImages, &v, 10);
    let got: Vec<(&str, u64)> = plan
        .items
        .iter()
        .map(|i| (i.id.as_str(), i.bytes))
        .collect();
    assert_eq!(got, [("sha256:c", 3), ("sha256:p", 7)]);
    // Need only 2: the child alone.
    let plan = plan_step(&p, &globs, Step::UnusedImages, &v, 2);
    assert_eq!(plan.items.len(), 1);
    // A young child keeps its parent.
    let young: BTreeMap<String, Seen> = [
        (
            "sha256:p".to_string(),
            Seen {
                first_seen: 0,
                last_used: 0,
            },
        ),
        (
            "sha256:c".to_string(),
            Seen {
                first_seen: 100,
                last_used: 100,
            },
        ),
    ]
    .into();
    let c_new: std::collections::BTreeSet<String> = ["sha256:c".to_string()].into();
    let v = View {
        seen: &young,
        new: &c_new,
        ..v
    };
    let plan = plan_step(&p, &globs, Step::UnusedImages, &v, 10);
    assert!(plan.items.is_empty());
    let whys: Vec<Why> = plan.left.iter().map(|l| l.why).collect();
    assert_eq!(whys, [Why::New, Why::Parent]);
}
