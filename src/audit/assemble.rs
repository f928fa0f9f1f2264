//! Gives the measured units' bytes to their categories and objects: the figures of the report.

use std::collections::{HashMap, HashSet};

use super::classify::Sorted;
use super::plan::{Owner, Plan, closure};
use super::types::{
    Audit, Category, CategoryName, ContainerUsage, ImageUsage, Item, ItemKind, QuarantineRun,
    VolumeUsage,
};
use super::walk::Usage;
use crate::model::dataroot::DataRoot;

pub(crate) fn assemble(
    dr: &DataRoot,
    plan: &Plan,
    results: &[(Usage, Usage)],
    sorted: Sorted,
) -> Audit {
    let mut chain_use: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut meta = Usage::default();
    let mut writable: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut cdir: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut vols: HashMap<&str, (Usage, Usage)> = HashMap::new();
    let mut build = Usage::default();
    let mut build_count = 0u64;
    let mut other = Usage::default();
    let mut other_count = 0u64;
    let mut quarantine = Usage::default();
    let mut quarantine_count = 0u64;
    let mut runs: Vec<QuarantineRun> = Vec::new();
    let mut top: Vec<Item> = Vec::new();
    let mut total = Usage::default();
    for (u, (all, part)) in plan.units.iter().zip(results) {
        total.add(all);
        let add = |m: &mut (Usage, Usage)| {
            m.0.add(all);
            m.1.add(part);
        };
        match &u.owner {
            Owner::Layer(c) => add(chain_use.entry(c).or_default()),
            Owner::ImageMeta => meta.add(all),
            Owner::Writable(c) => add(writable.entry(c).or_default()),
            Owner::ContainerDir(c) => add(cdir.entry(c).or_default()),
            Owner::Volume(v) => add(vols.entry(v).or_default()),
            Owner::Build(label) => {
                build.add(all);
                if label != "buildkit/" {
                    build_count += 1;
                }
                top.push(Item {
                    kind: ItemKind::BuildCache,
                    name: u.path.display().to_string(),
                    bytes: all.bytes,
                });
            }
            Owner::Orphan(_) => {} // given below, once sorted
            Owner::Quarantine(run) => {
                quarantine.add(all);
                // The dir itself (and strays in it) is counted in the category, not as an item.
                if let Some(r) = run.and_then(|i| dr.listing.quarantine.get(i)) {
                    quarantine_count += r.items;
                    runs.push(QuarantineRun {
                        run: r.run.clone(),
                        path: u.path.display().to_string(),
                        items: r.items,
                        bytes: all.bytes,
                        apparent_bytes: all.apparent_bytes,
                        age_seconds: None,
                        modified_ns: r.modified_ns,
                    });
                    top.push(Item {
                        kind: ItemKind::Quarantine,
                        name: u.path.display().to_string(),
                        bytes: all.bytes,
                    });
                }
            }
            Owner::Kept => {
                other.add(all);
                other_count += 1;
                top.push(Item {
                    kind: ItemKind::Other,
                    name: u.path.display().to_string(),
                    bytes: all.bytes,
                });
            }
            Owner::Other(name) => {
                other.add(all);
                if name != "(rest)" {
                    other_count += 1;
                }
                top.push(Item {
                    kind: ItemKind::Other,
                    name: if name == "(rest)" {
                        format!(
                            "{} (the directories themselves, metadata.db, strays)",
                            u.path.display()
                        )
                    } else {
                        u.path.display().to_string()
                    },
                    bytes: all.bytes,
                });
            }
        }
    }
    top.push(Item {
        kind: ItemKind::ImageMetadata,
        name: dr.path.join("image").display().to_string(),
        bytes: meta.bytes,
    });

    // Images.
    let mut users: HashMap<&str, u64> = HashMap::new();
    for img in &dr.images {
        let set: HashSet<&str> = img.chain.iter().map(String::as_str).collect();
        for c in set {
            *users.entry(c).or_default() += 1;
        }
    }
    let parents: HashSet<&str> = dr
        .images
        .iter()
        .filter_map(|i| i.parent.as_deref())
        .collect();
    let mut containers_of: HashMap<&str, u64> = HashMap::new();
    for c in dr.containers.iter().filter(|c| c.known) {
        if let Some(i) = &c.image {
            *containers_of.entry(i).or_default() += 1;
        }
    }
    let images: Vec<ImageUsage> = dr
        .images
        .iter()
        .map(|img| {
            let mut seen = HashSet::new();
            let (mut bytes, mut apparent, mut unique) = (0, 0, 0);
            for c in img.chain.iter().filter(|c| seen.insert(c.as_str())) {
                let (all, diff) = chain_use.get(c.as_str()).copied().unwrap_or_default();
                bytes += all.bytes;
                apparent += diff.apparent_bytes;
                if users.get(c.as_str()) == Some(&1) {
                    unique += all.bytes;
                }
            }
            ImageUsage {
                id: img.id.clone(),
                tags: img.tags.clone(),
                bytes,
                apparent_bytes: apparent,
                unique_bytes: unique,
                shared_bytes: bytes - unique,
                containers: containers_of.get(img.id.as_str()).copied().unwrap_or(0),
                dangling: img.tags.is_empty() && !parents.contains(img.id.as_str()),
                last_used: None,
                last_used_source: None,
            }
        })
        .collect();
    // Chains kept by containers: their images' chains and their mounts' parents, with ancestors.
    let used_starts: Vec<String> = dr
        .images
        .iter()
        .filter(|i| containers_of.contains_key(i.id.as_str()))
        .flat_map(|i| i.chain.iter().cloned())
        .chain(
            dr.mounts
                .iter()
                .filter(|m| dr.containers.iter().any(|c| c.known && c.id == m.id))
                .filter_map(|m| m.parent.clone()),
        )
        .collect();
    let used = closure(dr, used_starts.iter());
    let mut layers_total = Usage::default();
    let mut images_reclaimable = 0;
    for (c, (all, _)) in &chain_use {
        layers_total.add(all);
        if !used.contains(*c) {
            images_reclaimable += all.bytes;
        }
        let names: Vec<&str> = dr
            .images
            .iter()
            .filter(|i| i.chain.iter().any(|x| x == c))
            .flat_map(|i| i.tags.iter().map(String::as_str))
            .take(3)
            .collect();
        top.push(Item {
            kind: ItemKind::Layer,
            name: format!(
                "{} ({})",
                &c[..12.min(c.len())],
                if names.is_empty() {
                    "untagged".to_string()
                } else {
                    names.join(", ")
                }
            ),
            bytes: all.bytes,
        });
    }

    // Containers.
    let mut containers = Vec::new();
    let (mut c_total, mut c_reclaim) = (Usage::default(), 0);
    for c in dr.containers.iter().filter(|c| c.known) {
        let (w_all, w_diff) = writable.get(c.id.as_str()).copied().unwrap_or_default();
        let (d_all, d_logs) = cdir.get(c.id.as_str()).copied().unwrap_or_default();
        c_total.add(&w_all);
        c_total.add(&d_all);
        let bytes = w_all.bytes + d_all.bytes;
        if !c.running {
            c_reclaim += bytes;
        }
        top.push(Item {
            kind: ItemKind::Container,
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            bytes,
        });
        containers.push(ContainerUsage {
            id: c.id.clone(),
            name: c.name.clone(),
            image: c.image.clone(),
            running: c.running,
            writable_bytes: w_all.bytes,
            writable_apparent_bytes: w_diff.apparent_bytes,
            log_bytes: d_logs.bytes,
            log_apparent_bytes: d_logs.apparent_bytes,
            dir_bytes: d_all.bytes,
            bytes,
        });
    }

    // Volumes.
    let mut volumes = Vec::new();
    let (mut v_total, mut v_reclaim) = (Usage::default(), 0);
    for v in &dr.volumes {
        let (all, data) = vols.get(v.name.as_str()).copied().unwrap_or_default();
        v_total.add(&all);
        let n = dr
            .containers
            .iter()
            .filter(|c| c.known && c.volumes.contains(&v.name))
            .count() as u64;
        if n == 0 {
            v_reclaim += all.bytes;
        }
        top.push(Item {
            kind: ItemKind::Volume,
            name: v.name.clone(),
            bytes: all.bytes,
        });
        volumes.push(VolumeUsage {
            name: v.name.clone(),
            anonymous: v.anonymous,
            bytes: all.bytes,
            apparent_bytes: data.apparent_bytes,
            containers: n,
        });
    }

    // Orphans, and the candidates that are not (counted as "other").
    let Sorted {
        orphans,
        in_flight,
        held,
    } = sorted;
    let mut o_total = Usage::default();
    for o in &orphans {
        o_total.bytes += o.bytes;
        o_total.apparent_bytes += o.apparent_bytes;
        top.push(Item {
            kind: ItemKind::Orphan,
            name: o.path.clone(),
            bytes: o.bytes,
        });
    }
    for (list, kind) in [
        (&in_flight, ItemKind::InFlight),
        (&held, ItemKind::HeldByDaemon),
    ] {
        for o in list {
            other.bytes += o.bytes;
            other.apparent_bytes += o.apparent_bytes;
            top.push(Item {
                kind,
                name: o.path.clone(),
                bytes: o.bytes,
            });
        }
    }

    let mut images_usage = layers_total;
    images_usage.add(&meta);
    let cat = |name: CategoryName, u: &Usage, count: u64, reclaimable: u64| Category {
        name,
        bytes: u.bytes,
        apparent_bytes: u.apparent_bytes,
        count,
        reclaimable_bytes: reclaimable,
        reclaim: name.reclaim(),
    };
    let categories = vec![
        cat(
            CategoryName::Images,
            &images_usage,
            dr.images.len() as u64,
            images_reclaimable,
        ),
        cat(
            CategoryName::Containers,
            &c_total,
            containers.len() as u64,
            c_reclaim,
        ),
        cat(
            CategoryName::Volumes,
            &v_total,
            volumes.len() as u64,
            v_reclaim,
        ),
        cat(CategoryName::BuildCache, &build, build_count, build.bytes),
        cat(
            CategoryName::Orphans,
            &o_total,
            orphans.len() as u64,
            o_total.bytes,
        ),
        cat(CategoryName::Other, &other, other_count, 0),
        cat(
            CategoryName::Quarantine,
            &quarantine,
            quarantine_count,
            quarantine.bytes,
        ),
    ];
    top.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Audit {
        container_times: super::last_used::from_records(&dr.containers),
        data_root: dr.path.display().to_string(),
        driver: dr.driver.clone(),
        total_bytes: total.bytes,
        total_apparent_bytes: total.apparent_bytes,
        categories,
        images,
        containers,
        volumes,
        orphans,
        in_flight,
        held_by_daemon: held,
        inconsistent: dr
            .inconsistent
            .iter()
            .chain(&plan.inconsistent)
            .cloned()
            .collect(),
        top,
        quarantine: runs,
        ..Audit::default()
    }
}
