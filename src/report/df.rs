//! `dredge df`: the table and the `dredge.df` JSON document (docs/json.md).

use std::io::{self, Write};

use comfy_table::Cell;
use serde::Serialize;

use super::size;
use super::table::{new_table, right};
use crate::audit::Audit;
use crate::model::dataroot::Driver;
use crate::source::engine::EngineFacts;

/// Version of the `dredge.df` document.
pub const DF_SCHEMA_VERSION: u32 = 1;

/// Everything `dredge df` reports.
#[derive(Debug, Clone, Serialize)]
pub struct DfReport {
    /// `live` (engine asked, data root scanned when readable) or `offline` (`--data-root`).
    pub mode: &'static str,
    /// The accounting of the data root.
    #[serde(flatten)]
    pub audit: Audit,
    /// What the engine said, in live mode.
    pub engine: Option<EngineFacts>,
    /// True when some figures are missing (data root unreadable, metadata corrupt, paths unreadable).
    pub partial: bool,
}

/// Writes the `dredge.df` document; `top` cuts `top[]` and `orphans[]` is always whole.
pub fn write_json<W: Write>(out: &mut W, r: &DfReport, top: usize) -> io::Result<()> {
    let mut r = r.clone();
    if top > 0 {
        r.audit.top.truncate(top);
    }
    super::json::write_versioned(out, "dredge.df", DF_SCHEMA_VERSION, &r)
}

fn age(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) if s < 172_800 => format!("{} h", s / 3600),
        Some(s) => format!("{} d", s / 86_400),
    }
}

fn driver(d: &Driver) -> String {
    match d {
        Driver::Overlay2 => "overlay2".into(),
        Driver::ContainerdStore => "containerd image store (not supported)".into(),
        Driver::Other(n) => format!("{n} (not supported)"),
        Driver::None => "no image store".into(),
    }
}

/// Writes the `dredge df` tables; `top` limits the orphans and largest-items tables (0 = all).
pub fn write_table<W: Write>(out: &mut W, r: &DfReport, top: usize) -> io::Result<()> {
    let a = &r.audit;
    let engine = match &r.engine {
        Some(e) => format!(
            ", engine {} (API {})",
            e.server_version.as_deref().unwrap_or("?"),
            e.api_version
        ),
        None => String::new(),
    };
    writeln!(
        out,
        "Data root {} ({}, {}{engine}){}",
        a.data_root,
        driver(&a.driver),
        r.mode,
        if r.partial {
            " — PARTIAL, see warnings"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "  on disk {}  apparent {}",
        size(a.total_bytes),
        size(a.total_apparent_bytes)
    )?;
    let mut t = new_table(&[
        "Category",
        "On disk",
        "Apparent",
        "Count",
        "Reclaimable",
        "Reclaim with",
    ]);
    for c in &a.categories {
        t.add_row(vec![
            Cell::new(c.name),
            right(size(c.bytes)),
            right(size(c.apparent_bytes)),
            right(c.count.to_string()),
            right(size(c.reclaimable_bytes)),
            Cell::new(c.reclaim),
        ]);
    }
    writeln!(out, "{t}")?;
    let logs: u64 = a.containers.iter().map(|c| c.log_bytes).sum();
    let running = a.containers.iter().filter(|c| c.running).count();
    let dangling = a.images.iter().filter(|i| i.dangling).count();
    let unused_images = a.images.iter().filter(|i| i.containers == 0).count();
    let unused_vols = a.volumes.iter().filter(|v| v.containers == 0).count();
    let anon = a.volumes.iter().filter(|v| v.anonymous).count();
    writeln!(
        out,
        "  images: {dangling} dangling, {unused_images} unused by any container; containers: {running} \
         running, {} stopped, logs {}; volumes: {unused_vols} unused, {anon} anonymous",
        a.containers.len() - running,
        size(logs),
    )?;
    if let Some(u) = r.engine.as_ref().and_then(|e| e.disk_usage.as_ref()) {
        writeln!(
            out,
            "  docker system df (apparent, no logs, no orphans): images {}, containers {}, volumes {}, build cache {}",
            size(u.images_bytes),
            size(u.containers_bytes),
            size(u.volumes_bytes),
            size(u.build_cache_bytes)
        )?;
    }
    if !a.orphans.is_empty() {
        writeln!(out, "\nOrphans ({})", a.orphans.len())?;
        let mut t = new_table(&["Path", "Kind", "On disk", "Age"]);
        let n = if top == 0 { a.orphans.len() } else { top };
        for o in a.orphans.iter().take(n) {
            let kind = serde_json::to_value(o.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            t.add_row(vec![
                Cell::new(&o.path),
                Cell::new(kind),
                right(size(o.bytes)),
                right(age(o.age_seconds)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if !a.top.is_empty() {
        writeln!(out, "\nLargest items")?;
        let mut t = new_table(&["Kind", "Item", "On disk"]);
        let n = if top == 0 { a.top.len() } else { top };
        for i in a.top.iter().take(n) {
            t.add_row(vec![
                Cell::new(i.kind),
                Cell::new(&i.name),
                right(size(i.bytes)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    Ok(())
}
