//! `dredge prune`: the plan and the result, as tables and as the `dredge.prune.plan` and
//! `dredge.prune.result` documents (docs/json.md).

use std::io::{self, Write};

use comfy_table::Cell;

use super::size;
use super::table::{new_table, right};
use crate::prune::journal::Recovered;
use crate::prune::{Outcome, Plan, RunResult, SCHEMA_VERSION};

/// Writes the `dredge.prune.plan` document.
pub fn write_plan_json<W: Write>(out: &mut W, p: &Plan) -> io::Result<()> {
    super::json::write_versioned(out, "dredge.prune.plan", SCHEMA_VERSION, p)
}

/// Writes the `dredge.prune.result` document.
pub fn write_result_json<W: Write>(out: &mut W, r: &RunResult) -> io::Result<()> {
    super::json::write_versioned(out, "dredge.prune.result", SCHEMA_VERSION, r)
}

fn short(id: &str) -> String {
    match id.strip_prefix("sha256:") {
        Some(h) => format!("sha256:{}", &h[..h.len().min(12)]),
        None if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) => id[..12].into(),
        None => id.to_string(),
    }
}

/// Writes the plan table.
pub fn write_plan_table<W: Write>(out: &mut W, p: &Plan) -> io::Result<()> {
    writeln!(
        out,
        "Plan for {} (engine {}, {}), made {}: nothing has been deleted.",
        p.data_root, p.engine_id, p.mode, p.created
    )?;
    if p.items.is_empty() {
        writeln!(out, "Nothing to prune.")?;
    } else {
        let mut t = new_table(&["KIND", "ID", "NAME", "BYTES", "RULE"]);
        for i in &p.items {
            t.add_row(vec![
                Cell::new(i.kind.as_str()),
                Cell::new(short(&i.id)),
                Cell::new(i.refs.join(", ")),
                right(size(i.bytes)),
                Cell::new(&i.rule),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    for s in &p.shared {
        writeln!(
            out,
            "+ {} of layers shared only by planned images ({}), freed when they all go",
            size(s.bytes),
            s.images
                .iter()
                .map(|i| short(i))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    writeln!(
        out,
        "Total: {} in {} items.",
        size(p.total_bytes),
        p.items.len()
    )?;
    let lost: Vec<_> = p.items.iter().filter(|i| i.data_loss).collect();
    if !lost.is_empty() {
        writeln!(
            out,
            "DATA LOSS: {} of these item(s) discard content (logs truncated to 0{}).",
            lost.len(),
            match lost
                .iter()
                .filter_map(|i| i.log_file.as_ref())
                .map(|l| l.size)
                .sum::<u64>()
            {
                0 => String::new(),
                n => format!(": {} of log content", size(n)),
            }
        )?;
    }
    if !p.logs.is_empty() {
        writeln!(
            out,
            "\nLogs over the limit (truncated only with --truncate-logs; the fix bounds them):"
        )?;
        for l in &p.logs {
            writeln!(
                out,
                "  {} ({}, {}): {}. Fix: {}",
                l.name,
                short(&l.container),
                l.driver,
                size(l.log_bytes),
                l.fix
            )?;
        }
    }
    if !p.held.is_empty() {
        writeln!(
            out,
            "\nDeleted files still held open, not acted on (nothing is done for them):"
        )?;
        for h in &p.held {
            writeln!(
                out,
                "  {} {} ({}{}), {}: {}. Fix: {}",
                h.process,
                h.id,
                h.path,
                h.container_name
                    .as_deref()
                    .map(|n| format!(", container {n}"))
                    .unwrap_or_default(),
                size(h.bytes),
                h.reason,
                h.fix
            )?;
        }
    }
    if !p.kept.is_empty() {
        writeln!(out, "\nKept ({}):", p.kept.len())?;
        for k in &p.kept {
            writeln!(out, "  {} {}: {}", k.kind.as_str(), short(&k.id), k.reason)?;
        }
    }
    Ok(())
}

/// Writes the result table.
pub fn write_result_table<W: Write>(out: &mut W, r: &RunResult) -> io::Result<()> {
    writeln!(out, "Run {} ({}), journal {}", r.run_id, r.what, r.journal)?;
    if !r.deleted.is_empty() {
        let mut t = new_table(&["KIND", "ID", "ACTION", "BYTES"]);
        for d in &r.deleted {
            t.add_row(vec![
                Cell::new(d.kind.as_str()),
                Cell::new(short(&d.id)),
                Cell::new(d.action),
                right(size(d.bytes)),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    for d in r.deleted.iter().filter(|d| d.data_loss) {
        for line in &d.detail {
            writeln!(
                out,
                "DATA LOSS {} {}: {line}",
                d.kind.as_str(),
                short(&d.id)
            )?;
        }
    }
    for s in &r.skipped {
        writeln!(
            out,
            "skipped {} {}: {}",
            s.kind.as_str(),
            short(&s.id),
            s.reason
        )?;
    }
    for g in &r.gone {
        writeln!(out, "already gone: {} {}", g.kind.as_str(), short(&g.id))?;
    }
    let freed = match r.freed_bytes {
        Some(f) if f >= 0 => size(f as u64),
        Some(f) => format!("-{}", size(f.unsigned_abs())),
        None => "not measured".into(),
    };
    writeln!(
        out,
        "{} done, {} skipped. Reclaimed (plan): {}; free space gained (statvfs): {}.",
        r.deleted.len(),
        r.skipped.len(),
        size(r.reclaimed_bytes),
        freed
    )?;
    if let Some(q) = &r.quarantine
        && r.what == "apply"
    {
        writeln!(
            out,
            "Orphans are in quarantine under {q}: `dredge prune --undo {}` restores them, \
             `dredge prune --purge-quarantine` deletes them for good.",
            r.run_id
        )?;
    }
    Ok(())
}

/// Writes the notes on interrupted runs that were settled.
pub fn write_recovered<W: Write>(out: &mut W, rec: &[Recovered]) -> io::Result<()> {
    for r in rec {
        writeln!(
            out,
            "dredge: run {} was interrupted after {} steps ({}); settled:",
            r.run, r.steps_done, r.journal
        )?;
        for s in &r.settled {
            writeln!(
                out,
                "  step {} {:?} {} {}: {} ({})",
                s.step,
                s.action,
                s.kind.as_str(),
                short(&s.id),
                if s.done { "done" } else { "not done" },
                s.found
            )?;
        }
    }
    Ok(())
}

/// Writes a whole outcome: JSON (the result when something was applied, else the plan) or tables.
pub fn write<W: Write>(out: &mut W, o: &Outcome, json: bool) -> io::Result<()> {
    if json {
        return match (&o.result, &o.plan) {
            (Some(r), _) => write_result_json(out, r),
            (None, Some(p)) => write_plan_json(out, p),
            (None, None) => Ok(()),
        };
    }
    if let Some(p) = &o.plan {
        write_plan_table(out, p)?;
        if o.result.is_none() && !p.items.is_empty() {
            writeln!(
                out,
                "\nTo delete: the same command with --yes, or save it with --plan-out FILE and run \
                 dredge prune --apply FILE."
            )?;
        }
    }
    if let Some(r) = &o.result {
        if o.plan.is_some() {
            writeln!(out)?;
        }
        write_result_table(out, r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_table_names_every_item_its_bytes_and_rule_and_says_nothing_was_deleted() {
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "created": "2026-12-01T00:00:00Z", "engine_id": "E", "data_root": "/var/lib/docker",
            "mode": "live", "total_bytes": 1_500_000,
            "items": [
                {"kind": "image", "id": format!("sha256:{}", "a".repeat(64)), "bytes": 1_000_000,
                 "rule": "dangling image (untagged)"},
                {"kind": "volume", "id": "b".repeat(64), "bytes": 500_000,
                 "rule": "anonymous volume, no container uses it"}
            ],
            "kept": [{"kind": "image", "id": "sha256:c", "reason": "used by container web"}]
        }))
        .unwrap();
        let o = Outcome {
            plan: Some(plan),
            ..Default::default()
        };
        let mut out = Vec::new();
        write(&mut out, &o, false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("nothing has been deleted"), "{text}");
        assert!(text.contains("sha256:aaaaaaaaaaaa"), "{text}");
        assert!(text.contains("bbbbbbbbbbbb"), "{text}");
        assert!(text.contains("1 MB") && text.contains("500 kB"), "{text}");
        assert!(text.contains("Total: 1.50 MB in 2 items."), "{text}");
        assert!(text.contains("used by container web"), "{text}");
        assert!(text.contains("--yes"), "{text}");
        let mut out = Vec::new();
        write(&mut out, &o, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema"], "dredge.prune.plan");
        assert_eq!(v["schema_version"], 1);
    }
}
