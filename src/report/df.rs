//! `dredge df`: the table and the `dredge.df` JSON document (docs/json.md).

use std::io::{self, Write};

use comfy_table::Cell;

use super::size;
use super::table::{new_table, right};
use crate::audit::{Audit, CategoryName, ContainerUsage, ImageUsage, ItemKind, LastUsedSource};
pub use crate::df::DfReport;
use crate::model::dataroot::Driver;
use crate::model::held::HeldState;

/// Version of the `dredge.df` document.
pub const DF_SCHEMA_VERSION: u32 = 2;

/// Longest text put in one table cell; longer input-derived text (names, paths) is cut with `…`.
pub const CELL_CHARS: usize = 240;

/// Input-derived text made safe for one line of a terminal: control characters (newlines, escape
/// sequences) are written as Rust escapes (`\n`, `\u{1b}`); everything else is kept.
pub fn escape(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`], then cut to `max` characters with a trailing `…`, in time linear in what is kept.
pub fn cut(s: &str, max: usize) -> String {
    let mut at = s.char_indices().map(|(i, _)| i);
    match (at.nth(max.saturating_sub(1)), at.next()) {
        // More than `max` characters: keep `max - 1` and the ellipsis.
        (Some(end), Some(_)) => format!("{}…", escape(&s[..end])),
        _ => escape(s),
    }
}

/// Writes the warnings, one escaped line each, as `dredge: warning: …`.
pub fn write_warnings<W: Write>(out: &mut W, r: &DfReport) -> io::Result<()> {
    for w in &r.audit.warnings {
        writeln!(out, "dredge: warning: {}", super::errors::line(w))?;
    }
    Ok(())
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
        Driver::ContainerdStore => "containerd image store".into(),
        Driver::Other(n) => format!("{} (not supported)", escape(n)),
        Driver::None => "no image store".into(),
    }
}

/// The data root could not be read here: the engine's own figures, said to be the engine's, and
/// what only a reader of the data root (root) would add.
fn write_engine_figures<W: Write>(out: &mut W, r: &DfReport) -> io::Result<()> {
    let a = &r.audit;
    let engine = r.engine.as_ref();
    writeln!(
        out,
        "Docker engine {} (API {}), data root {}: not read here",
        engine
            .and_then(|e| e.server_version.as_deref())
            .map_or("?".into(), escape),
        engine.map_or("?", |e| e.api_version.as_str()),
        escape(&a.data_root),
    )?;
    write_held_line(out, r)?;
    if engine.and_then(|e| e.disk_usage.as_ref()).is_none() {
        writeln!(
            out,
            "  the engine gave no figures either (its /system/df answer is missing: see warnings)"
        )?;
        return write_missing(out);
    }
    writeln!(
        out,
        "The engine's own figures (docker system df: apparent sizes), {} in all:",
        size(a.total_bytes)
    )?;
    let mut t = new_table(&["Category", "Size", "Count", "Reclaimable"]);
    for c in &a.categories {
        t.add_row(vec![
            Cell::new(c.name.as_str()),
            right(size(c.bytes)),
            right(c.count.to_string()),
            right(size(c.reclaimable_bytes)),
        ]);
    }
    writeln!(out, "{t}")?;
    write_reclaim_lines(out, a)?;
    write_missing(out)
}

/// One line per category with reclaimable bytes: its name, the bytes and the command that frees them.
fn write_reclaim_lines<W: Write>(out: &mut W, a: &Audit) -> io::Result<()> {
    for c in a.categories.iter().filter(|c| c.reclaimable_bytes > 0) {
        writeln!(
            out,
            "  {:<12} {:>10}  {}",
            c.name.as_str(),
            size(c.reclaimable_bytes),
            reclaim_with(c.name)
        )?;
    }
    Ok(())
}

fn write_missing<W: Write>(out: &mut W) -> io::Result<()> {
    writeln!(
        out,
        "Missing here: container logs, orphans, deleted files still held open, and the rest of the \
         data root; root sees them (sudo dredge df)."
    )
}

/// Writes the `dredge df` tables; `top` limits the orphans and largest-items tables (0 = all).
pub fn write_table<W: Write>(out: &mut W, r: &DfReport, top: usize) -> io::Result<()> {
    if r.engine_figures {
        return write_engine_figures(out, r);
    }
    let a = &r.audit;
    let engine = match &r.engine {
        Some(e) => format!(": engine {}", e.server_version.as_deref().unwrap_or("?")),
        None => String::new(),
    };
    writeln!(
        out,
        "Data root {} ({}, {}{engine}){}",
        escape(&a.data_root),
        driver(&a.driver),
        r.mode.as_str(),
        if r.partial {
            " — PARTIAL, see warnings"
        } else {
            ""
        }
    )?;
    if let Some(c) = &r.containerd_root_proof {
        writeln!(out, "{}", containerd_root_line(c))?;
    }
    writeln!(
        out,
        "  on disk {}  apparent {}",
        size(a.total_bytes),
        size(a.total_apparent_bytes)
    )?;
    write_held_line(out, r)?;
    let mut t = new_table(&["Category", "On disk", "Apparent", "Count", "Reclaimable"]);
    for c in &a.categories {
        t.add_row(vec![
            Cell::new(c.name.as_str()),
            right(size(c.bytes)),
            right(size(c.apparent_bytes)),
            right(c.count.to_string()),
            right(size(c.reclaimable_bytes)),
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
    writeln!(
        out,
        "  on disk: allocated blocks (as du counts); apparent: file sizes (as docker counts)"
    )?;
    if a.categories.iter().any(|c| c.reclaimable_bytes > 0) {
        writeln!(
            out,
            "Reclaimable, and the command that frees it (a plan first; --yes deletes):"
        )?;
    }
    write_reclaim_lines(out, a)?;
    if let Some(u) = r.engine.as_ref().and_then(|e| e.disk_usage.as_ref()) {
        writeln!(
            out,
            "  the engine's own figures (docker system df: apparent, no logs, no orphans): images {}, \
             containers {}, volumes {}, build cache {}",
            size(u.images_bytes),
            size(u.containers_bytes),
            size(u.volumes_bytes),
            size(u.build_cache_bytes)
        )?;
    }
    write_held(out, r, top)?;
    if !a.orphans.is_empty() {
        writeln!(out, "\nOrphans ({})", a.orphans.len())?;
        let mut t = new_table(&["Path", "Kind", "On disk", "Age"]);
        let n = if top == 0 { a.orphans.len() } else { top };
        for o in a.orphans.iter().take(n) {
            t.add_row(vec![
                Cell::new(cut(&o.path, CELL_CHARS)),
                Cell::new(o.kind.as_str()),
                right(size(o.bytes)),
                right(age(o.age_seconds)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if !a.quarantine.is_empty() {
        let items: u64 = a.quarantine.iter().map(|q| q.items).sum();
        writeln!(
            out,
            "\nQuarantine ({} run(s), {items} item(s)): what `dredge prune --purge-quarantine` deletes \
             (`--older-than` by age); `dredge prune --undo RUN` restores a run",
            a.quarantine.len()
        )?;
        let mut t = new_table(&["Run", "Items", "On disk", "Age"]);
        for q in &a.quarantine {
            t.add_row(vec![
                Cell::new(cut(&q.run, CELL_CHARS)),
                right(q.items.to_string()),
                right(size(q.bytes)),
                right(age(q.age_seconds)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if let Some(c) = &a.containerd {
        write_containerd(out, c, top)?;
    }
    if !a.held_by_daemon.is_empty() {
        let bytes: u64 = a.held_by_daemon.iter().map(|o| o.bytes).sum();
        writeln!(
            out,
            "\nHeld by the running daemon ({}, {}, counted as other): unreferenced layers and mounts \
             its layer store keeps and may re-use; reclaimable with the daemon stopped",
            a.held_by_daemon.len(),
            size(bytes)
        )?;
    }
    if !a.inconsistent.is_empty() {
        writeln!(
            out,
            "\nInconsistent metadata ({}): kept, never orphans; see inconsistent[] in --json",
            a.inconsistent.len()
        )?;
        let mut t = new_table(&["Path", "Detail"]);
        let n = if top == 0 { a.inconsistent.len() } else { top };
        for i in a.inconsistent.iter().take(n) {
            t.add_row(vec![
                Cell::new(cut(&i.path, CELL_CHARS)),
                Cell::new(cut(&i.detail, CELL_CHARS)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    write_images(out, a, top)?;
    let items = removable(a);
    if !items.is_empty() {
        let n = if top == 0 { items.len() } else { top };
        writeln!(
            out,
            "\nLargest items you can remove ({} of {}), each with the command that removes it:",
            n.min(items.len()),
            items.len()
        )?;
        for i in items.iter().take(n) {
            writeln!(
                out,
                "  {:>10}  {:<11} {}",
                size(i.bytes),
                i.kind,
                cut(&i.name, CELL_CHARS)
            )?;
            writeln!(out, "{:>26}{}", "", cut(&i.command, CELL_CHARS))?;
        }
    }
    Ok(())
}

/// The command `dredge df` shows beside a category: the `dredge prune` selector that frees it.
pub fn reclaim_with(c: CategoryName) -> &'static str {
    match c {
        CategoryName::Images => "dredge prune --unused-images",
        CategoryName::Containers => "dredge prune --stopped-containers",
        CategoryName::Volumes => "dredge prune --volumes --named-volumes",
        CategoryName::BuildCache => "dredge prune --build-cache",
        CategoryName::LeasesIngest => "dredge prune --orphans",
        CategoryName::Orphans => "dredge prune --orphans",
        CategoryName::Other => "-",
        CategoryName::Quarantine => "dredge prune --purge-quarantine",
    }
}

/// The name commands accept for an image: its first tag, else its short id.
fn image_name(i: &ImageUsage) -> String {
    match i.tags.iter().find(|t| !t.contains('@')).or(i.tags.first()) {
        Some(t) => t.clone(),
        None => short_id(&i.id),
    }
}

fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

/// The command that removes one image, or the containers to remove first.
fn image_command(i: &ImageUsage, containers: &[ContainerUsage]) -> String {
    match (i.containers, i.dangling) {
        (0, true) => "dredge prune --dangling-images".into(),
        (0, false) => format!("docker rmi {}", image_name(i)),
        (n, _) => {
            let users: Vec<String> = containers
                .iter()
                .filter(|c| c.image.as_deref() == Some(i.id.as_str()))
                .map(|c| {
                    format!(
                        "{} ({})",
                        container_name(c),
                        if c.running { "running" } else { "stopped" }
                    )
                })
                .collect();
            if users.is_empty() {
                format!("in use by {n} container{}", if n == 1 { "" } else { "s" })
            } else {
                format!("in use by {}: remove it first", users.join(", "))
            }
        }
    }
}

fn container_name(c: &ContainerUsage) -> String {
    c.name.clone().unwrap_or_else(|| short_id(&c.id))
}

/// The images, most unique bytes first: what removing each frees (unique) and what stays for the
/// others (shared).
fn write_images<W: Write>(out: &mut W, a: &Audit, top: usize) -> io::Result<()> {
    if a.images.is_empty() {
        return Ok(());
    }
    let mut images: Vec<&ImageUsage> = a.images.iter().collect();
    images.sort_by(|x, y| y.unique_bytes.cmp(&x.unique_bytes).then(x.id.cmp(&y.id)));
    let n = if top == 0 { images.len() } else { top };
    writeln!(
        out,
        "\nImages ({} of {}): unique bytes are freed by removing the image, shared ones are used \
         by other images too",
        n.min(images.len()),
        images.len()
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut t = new_table(&["Image", "Unique", "Shared", "Containers", "Last used"]);
    for i in images.into_iter().take(n) {
        let running = a
            .containers
            .iter()
            .any(|c| c.running && c.image.as_deref() == Some(i.id.as_str()));
        t.add_row(vec![
            Cell::new(cut(&image_name(i), CELL_CHARS)),
            right(size(i.unique_bytes)),
            right(size(i.shared_bytes)),
            right(i.containers.to_string()),
            Cell::new(last_used(i, running, now)),
        ]);
    }
    writeln!(out, "{t}")
}

/// An image's last use for the table: `in use` while a container of it runs, else how long ago
/// (`3 days ago`), `never used` (no container the engine has ran it, nothing remembers a use) or
/// `unknown` (not looked for: offline, or the engine not asked). `now` in seconds since the epoch.
pub fn last_used(i: &ImageUsage, running: bool, now: i64) -> String {
    if running {
        return "in use".into();
    }
    match (i.last_used, i.last_used_source) {
        (Some(t), _) => ago(now - t),
        (None, Some(LastUsedSource::NoneSeen)) => "never used".into(),
        (None, _) => "unknown".into(),
    }
}

/// A duration in the past, humanised: `just now`, `5 minutes ago`, `1 hour ago`, `3 days ago`.
fn ago(secs: i64) -> String {
    let n = |v: i64, unit: &str| format!("{v} {unit}{} ago", if v == 1 { "" } else { "s" });
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => n(s / 60, "minute"),
        s if s < 86_400 => n(s / 3600, "hour"),
        s => n(s / 86_400, "day"),
    }
}

/// One row of "Largest items you can remove".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removable {
    /// `image`, `container`, `log`, `volume`, `orphan`, `build-cache`, `quarantine`, `held`.
    pub kind: &'static str,
    /// A name the command accepts (a tag, a container or volume name, a path for orphans).
    pub name: String,
    /// Allocated bytes removing it frees.
    pub bytes: u64,
    /// The command, or why there is none.
    pub command: String,
}

/// Everything a command can remove, largest first: images by their unique bytes, containers' writable
/// layers and their logs apart, volumes, orphans, the build cache as one item, quarantine runs, and
/// what the running daemon holds. Shared layers, image metadata and "other" are not removable one by
/// one and are left out (the categories have them; `--json`'s `top[]` lists every item).
pub fn removable(a: &Audit) -> Vec<Removable> {
    let mut v = Vec::new();
    for i in &a.images {
        v.push(Removable {
            kind: "image",
            name: image_name(i),
            bytes: i.unique_bytes,
            command: image_command(i, &a.containers),
        });
    }
    for c in &a.containers {
        let name = container_name(c);
        v.push(Removable {
            kind: "container",
            name: name.clone(),
            bytes: c.bytes.saturating_sub(c.log_bytes),
            command: if c.running {
                format!("docker stop {name} && docker rm {name}")
            } else {
                format!("docker rm {name}")
            },
        });
        if c.log_bytes > 0 {
            v.push(Removable {
                kind: "log",
                name: format!("{name} (its log)"),
                bytes: c.log_bytes,
                command: format!("truncate -s 0 $(docker inspect -f '{{{{.LogPath}}}}' {name})"),
            });
        }
    }
    for vol in &a.volumes {
        v.push(Removable {
            kind: "volume",
            name: vol.name.clone(),
            bytes: vol.bytes,
            command: if vol.containers > 0 {
                format!("in use by {} container(s)", vol.containers)
            } else {
                format!("docker volume rm {}", vol.name)
            },
        });
    }
    for o in &a.orphans {
        v.push(Removable {
            kind: "orphan",
            name: o.path.clone(),
            bytes: o.bytes,
            command: "dredge prune --orphans".into(),
        });
    }
    let by_kind = |k: ItemKind| a.top.iter().filter(move |i| i.kind == k);
    let cache: u64 = by_kind(ItemKind::BuildCache).map(|i| i.bytes).sum();
    if cache > 0 {
        v.push(Removable {
            kind: "build-cache",
            name: "the build cache".into(),
            bytes: cache,
            command: "dredge prune --build-cache".into(),
        });
    }
    for q in &a.quarantine {
        v.push(Removable {
            kind: "quarantine",
            name: q.path.clone(),
            bytes: q.bytes,
            command: format!(
                "dredge prune --purge-quarantine (every run; dredge prune --undo {} restores this one)",
                q.run
            ),
        });
    }
    for h in &a.held_by_daemon {
        v.push(Removable {
            kind: "held",
            name: h.path.clone(),
            bytes: h.bytes,
            command: format!(
                "stop dockerd, then dredge prune --data-root {} --orphans",
                a.data_root
            ),
        });
    }
    v.retain(|r| r.bytes > 0);
    v.sort_by(|x, y| y.bytes.cmp(&x.bytes).then(x.name.cmp(&y.name)));
    v
}

/// The held line under the totals: outside the categories, and the total with it.
/// The line naming a system containerd's root read beside the data root.
fn containerd_root_line(c: &crate::model::containerd::CtrdRootProof) -> String {
    let read = c.path.display().to_string();
    let via = if read == c.root {
        String::new()
    } else {
        format!(", read as {}", escape(&read))
    };
    let who = match (c.pid, &c.socket) {
        (Some(pid), Some(sock)) => format!("system containerd pid {pid} on {}", escape(sock)),
        _ => "named with --containerd-root".into(),
    };
    format!(
        "  and containerd root {} ({who}{via}): the totals cover both roots",
        escape(&c.root)
    )
}

/// The containerd store's leases that pin content with nothing under way, `ingest/` leftovers, and
/// what nothing reaches or no record names.
fn write_containerd<W: Write>(
    out: &mut W,
    c: &crate::audit::containerd::CtrdFindings,
    top: usize,
) -> io::Result<()> {
    let leaked: Vec<_> = c.leases.iter().filter(|l| l.leaked).collect();
    let ops = c
        .leases
        .iter()
        .filter(|l| l.role == crate::model::containerd::LeaseRole::Operation)
        .count();
    writeln!(
        out,
        "\ncontainerd: {} leases ({ops} of pulls/loads, {} leaked), {} ingest leftovers, {} \
         unreferenced (containerd's GC removes them), {} with no record",
        c.leases.len(),
        leaked.len(),
        c.ingest.len(),
        c.unreferenced.len(),
        c.no_record.len()
    )?;
    let mut rows: Vec<(String, &str, u64, Option<u64>)> = Vec::new();
    for l in &leaked {
        rows.push((
            format!("lease {} ({})", l.id, l.namespace),
            "leaked lease",
            0,
            l.age_seconds.map(|a| a.max(0) as u64),
        ));
    }
    for (list, kind) in [
        (&c.ingest, "ingest"),
        (&c.unreferenced, "unreferenced"),
        (&c.no_record, "no record"),
    ] {
        for p in list {
            let kind = if kind == "ingest" && p.lease.is_some() {
                "ingest (lease)"
            } else {
                kind
            };
            rows.push((p.path.clone(), kind, p.bytes, p.age_seconds));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut t = new_table(&["Path", "Kind", "On disk", "Age"]);
    let n = if top == 0 { rows.len() } else { top };
    for (path, kind, bytes, a) in rows.into_iter().take(n) {
        t.add_row(vec![
            Cell::new(cut(&escape(&path), CELL_CHARS)),
            Cell::new(kind),
            right(if bytes == 0 { "-".into() } else { size(bytes) }),
            right(age(a)),
        ]);
    }
    writeln!(out, "{t}")
}

fn write_held_line<W: Write>(out: &mut W, r: &DfReport) -> io::Result<()> {
    let s = &r.held_scan;
    match r.held_bytes {
        None => writeln!(
            out,
            "  held by deleted files: not scanned: {}",
            escape(s.reason.as_deref().unwrap_or("-"))
        ),
        Some(0) if r.held_scan.state != HeldState::Partial => {
            writeln!(out, "  held by deleted files: none")
        }
        Some(b) => writeln!(
            out,
            "  held by deleted files {} ({} file{}, not in the categories){}; on disk under the data \
             root + held = {}",
            size(b),
            r.held.len(),
            if r.held.len() == 1 { "" } else { "s" },
            match (&s.state, &s.reason) {
                (HeldState::Partial, Some(why)) => format!(" — PARTIAL: {}", escape(why)),
                _ => String::new(),
            },
            size(r.audit.total_bytes + b)
        ),
    }
}

/// The held files, and the filesystem's gap when the data root is its own filesystem.
fn write_held<W: Write>(out: &mut W, r: &DfReport, top: usize) -> io::Result<()> {
    if !r.held.is_empty() {
        writeln!(
            out,
            "\nHeld by deleted files ({}, {}): deleted but still open, freed when the last holder \
             closes them",
            r.held.len(),
            size(r.held_bytes.unwrap_or(0))
        )?;
        let mut t = new_table(&["Process", "Container", "Path", "On disk", "Fix"]);
        let n = if top == 0 { r.held.len() } else { top };
        for h in r.held.iter().take(n) {
            let container = match (&h.container, &h.container_name) {
                (Some(id), Some(name)) => format!("{} ({})", escape(name), &id[..12.min(id.len())]),
                (Some(id), None) => id[..12.min(id.len())].to_string(),
                (None, _) => "-".into(),
            };
            let more = if h.holders.len() > 1 {
                format!(" +{} fd", h.holders.len() - 1)
            } else {
                String::new()
            };
            t.add_row(vec![
                Cell::new(format!(
                    "{} {} fd {}{more}",
                    h.pid,
                    cut(&h.process, 32),
                    h.fd
                )),
                Cell::new(container),
                Cell::new(cut(&h.path, CELL_CHARS)),
                right(size(h.bytes)),
                Cell::new(h.fix.advice()),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    if let Some(g) = &r.filesystem {
        let signed = |v: i64| {
            if v < 0 {
                format!("-{}", size(v.unsigned_abs()))
            } else {
                size(v as u64)
            }
        };
        writeln!(
            out,
            "\nFilesystem of the data root (its own): used {}, walked {}, gap {} = held by deleted \
             files {} + metadata and unexplained {}; reserved for root {} (free, not available), \
             available {}",
            size(g.used_bytes),
            size(g.walked_bytes),
            signed(g.gap_bytes),
            size(g.held_bytes),
            signed(g.unexplained_bytes),
            size(g.reserved_bytes),
            size(g.available_bytes)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], unique: u64, containers: u64, dangling: bool) -> ImageUsage {
        ImageUsage {
            id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            bytes: unique,
            apparent_bytes: unique,
            unique_bytes: unique,
            shared_bytes: 0,
            containers,
            dangling,
            last_used: None,
            last_used_source: None,
        }
    }

    #[test]
    fn last_use_is_humanised() {
        let now = 10_000_000;
        let mut i = image("sha256:a", &[], 1, 0, false);
        assert_eq!(last_used(&i, false, now), "unknown");
        i.last_used_source = Some(LastUsedSource::NoneSeen);
        assert_eq!(last_used(&i, false, now), "never used");
        assert_eq!(last_used(&i, true, now), "in use");
        i.last_used_source = Some(LastUsedSource::Containers);
        for (ago, text) in [
            (0, "just now"),
            (-5, "just now"),
            (59, "just now"),
            (60, "1 minute ago"),
            (3599, "59 minutes ago"),
            (3600, "1 hour ago"),
            (86_399, "23 hours ago"),
            (86_400, "1 day ago"),
            (3 * 86_400 + 5, "3 days ago"),
        ] {
            i.last_used = Some(now - ago);
            assert_eq!(last_used(&i, false, now), text, "{ago} s");
        }
    }

    #[test]
    fn every_removable_item_carries_a_name_its_command_accepts() {
        let a = Audit {
            images: vec![
                image("sha256:aaaaaaaaaaaaaaaa", &["app:1"], 500, 1, false),
                image("sha256:bbbbbbbbbbbbbbbb", &["old:1"], 300, 0, false),
                image("sha256:cccccccccccccccc", &[], 200, 0, true),
            ],
            containers: vec![ContainerUsage {
                id: "dddd".into(),
                name: Some("web".into()),
                image: Some("sha256:aaaaaaaaaaaaaaaa".into()),
                running: false,
                writable_bytes: 50,
                writable_apparent_bytes: 50,
                log_bytes: 1000,
                log_apparent_bytes: 1000,
                dir_bytes: 1010,
                bytes: 1060,
            }],
            ..Audit::default()
        };
        let got: Vec<(&str, String, u64, String)> = removable(&a)
            .into_iter()
            .map(|r| (r.kind, r.name, r.bytes, r.command))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "log",
                    "web (its log)".into(),
                    1000,
                    "truncate -s 0 $(docker inspect -f '{{.LogPath}}' web)".into()
                ),
                (
                    "image",
                    "app:1".into(),
                    500,
                    "in use by web (stopped): remove it first".into()
                ),
                ("image", "old:1".into(), 300, "docker rmi old:1".into()),
                (
                    "image",
                    "cccccccccccc".into(),
                    200,
                    "dredge prune --dangling-images".into()
                ),
                ("container", "web".into(), 60, "docker rm web".into()),
            ]
        );
    }

    #[test]
    fn long_names_are_cut_and_control_characters_escaped() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcde", 5), "abcde");
        assert_eq!(cut("abcdef", 5), "abcd…");
        assert_eq!(cut("ééééé", 5), "ééééé");
        assert_eq!(cut("éééééé", 5), "éééé…");
        assert_eq!(escape("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(cut("a\nb", 10), "a\\nb");
        // Linear: a 30 MB name is cut at once.
        let long = "x".repeat(30 << 20);
        assert_eq!(cut(&long, CELL_CHARS).chars().count(), CELL_CHARS);
    }
}
