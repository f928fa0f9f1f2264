//! The data root's accounting: every byte under it is given to exactly one category (images,
//! containers, volumes, build cache, orphans, other), so the categories add up to what `du -sx` says.
//! Orphans are what nothing references: overlay2 dirs no layer, mount or BuildKit snapshot names,
//! layer chains no image or container reaches (with no daemon running: a running daemon holds them),
//! `-removing` and `layerdb/tmp` leftovers, `tmp/` scratch of interrupted loads and builds, container
//! dirs without a config.
//!
//! What `dredge df` runs, in order: `source::dataroot::read` gathers the metadata and listings (safely:
//! `source::rootfs`); [`audit`] ([`measure`]) plans ownership ([`plan`], pure), measures
//! ([`walk`], [`cache`]), sorts the candidates ([`classify`], pure) and sums them up ([`assemble`]);
//! live, [`confirm_orphans`] ([`confirm`]) re-checks orphans a moment later. The whole sequence is
//! `crate::df::run`.
//!
//! On the containerd image store the accounting is [`containerd`]'s: the same walker, owners decided by
//! `model::containerd::own` from containerd's databases, six categories (`leases-ingest` in place of
//! `orphans` and `quarantine`).
//!
//! BuildKit's bbolt databases are not parsed; instead every `buildkit/*.db` is searched for names as
//! raw bytes (bbolt stores keys and values uncompressed), which protects every directory or chain
//! BuildKit names, and perhaps a few it named once (stale pages): a conservative error, never the
//! reverse. 25-character base-36 names are BuildKit's in any case.

pub mod assemble;
pub mod cache;
pub mod classify;
pub mod confirm;
pub mod containerd;
pub mod from_engine;
pub mod last_used;
pub mod measure;
pub mod plan;
pub mod types;
pub mod walk;

pub use confirm::{Recheck, confirm_orphans};
pub use from_engine::from_engine;
pub use measure::{AuditOptions, audit};
pub use types::{
    Audit, Category, CategoryName, ContainerUsage, ImageUsage, Item, ItemKind, LastUsedSource,
    Orphan, OrphanKind, QuarantineRun, VolumeUsage,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_name_and_a_reclaim_command() {
        let names: Vec<&str> = CategoryName::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "images",
                "containers",
                "volumes",
                "build-cache",
                "leases-ingest",
                "orphans",
                "other",
                "quarantine"
            ]
        );
        assert!(CategoryName::ALL.iter().all(|c| !c.reclaim().is_empty()));
        for c in CategoryName::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for s in [
            LastUsedSource::Containers,
            LastUsedSource::StateFile,
            LastUsedSource::NoneSeen,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in [
            ItemKind::BuildCache,
            ItemKind::HeldByDaemon,
            ItemKind::InFlight,
            ItemKind::ImageMetadata,
            ItemKind::Quarantine,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(
            serde_json::to_value(OrphanKind::UnknownContainerDir).unwrap(),
            OrphanKind::UnknownContainerDir.as_str()
        );
    }

    #[test]
    fn log_files_are_recognised() {
        use measure::is_log;
        use std::ffi::OsStr;
        assert!(is_log(OsStr::new("abc-json.log"), "abc"));
        assert!(is_log(OsStr::new("abc-json.log.1"), "abc"));
        assert!(is_log(OsStr::new("abc-json.log.2.gz"), "abc"));
        assert!(is_log(OsStr::new("local-logs"), "abc"));
        assert!(!is_log(OsStr::new("config.v2.json"), "abc"));
        assert!(!is_log(OsStr::new("abd-json.log"), "abc"));
    }
}
