//! `dredge reclaim`'s output: a table for people, the `dredge.reclaim` document, the Prometheus
//! textfile metrics and the systemd units of `install-timer`.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::reclaim::timer::{SERVICE, TimerOptions, Units};
use crate::reclaim::{Outcome, SCHEMA_VERSION, Step};
use crate::units::size;

/// Writes the outcome: the `dredge.reclaim` document with `json`, else a summary for people.
pub fn write<W: Write>(out: &mut W, o: &Outcome, json: bool) -> io::Result<()> {
    if json {
        return super::json::write_versioned(out, "dredge.reclaim", SCHEMA_VERSION, o);
    }
    let pct = |u: u64| {
        if o.before.size() == 0 {
            0.0
        } else {
            u as f64 * 100.0 / o.before.size() as f64
        }
    };
    writeln!(
        out,
        "data root {}: used {} ({:.1}%) before, watermarks high {} ({}) low {} ({})",
        crate::text::escape(&o.data_root),
        size(o.before.used_bytes),
        pct(o.before.used_bytes),
        o.watermarks.high,
        size(o.watermarks.high_bytes),
        o.watermarks.low,
        size(o.watermarks.low_bytes)
    )?;
    if !o.acted {
        writeln!(out, "under high: nothing to do")?;
        return Ok(());
    }
    let verb = if o.dry_run { "would free" } else { "freed" };
    for s in &o.steps {
        writeln!(
            out,
            "{}: {} victim(s) planned, {verb} {}",
            s.step.as_str(),
            s.planned.len(),
            size(s.freed_bytes)
        )?;
        for v in &s.planned {
            let name = v.refs.first().map_or(v.id.as_str(), String::as_str);
            writeln!(
                out,
                "  {} {} {} ({})",
                v.kind.as_str(),
                crate::text::escape(name),
                size(v.bytes),
                crate::text::escape(&v.rule)
            )?;
        }
        for k in &s.skipped {
            writeln!(
                out,
                "  left {} {}: {}",
                k.kind.as_str(),
                crate::text::escape(&k.id),
                crate::text::escape(&k.reason)
            )?;
        }
    }
    writeln!(
        out,
        "used {} ({:.1}%) after{}",
        size(o.after.used_bytes),
        pct(o.after.used_bytes),
        if o.dry_run { ", estimated" } else { "" }
    )?;
    if o.reached_low {
        writeln!(out, "at or under low")?;
    } else {
        writeln!(out, "could not reach low; what still holds the space:")?;
        for h in &o.holding {
            writeln!(out, "  {:>10}  {}", size(h.bytes), h.what)?;
        }
        for (why, n) in &o.skipped {
            writeln!(out, "  {n} object(s) left: {why}")?;
        }
    }
    Ok(())
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus textfile-collector text (no timestamps; node_exporter adds the scrape's).
pub fn metrics(o: &Outcome) -> String {
    let mut t = String::new();
    let head = |t: &mut String, name: &str, help: &str| {
        let _ = writeln!(t, "# HELP {name} {help}");
        let _ = writeln!(t, "# TYPE {name} gauge");
    };
    let before_after = |t: &mut String, name: &str, before: u64, after: u64| {
        for (when, v) in [("before", before), ("after", after)] {
            let _ = writeln!(t, "{name}{{when=\"{when}\"}} {v}");
        }
    };
    head(
        &mut t,
        "dredge_reclaim_reclaimed_bytes",
        "Used bytes freed by each step of the last run (statvfs before and after the step).",
    );
    for step in Step::ALL {
        let b = o
            .steps
            .iter()
            .filter(|s| s.step == step)
            .map(|s| s.freed_bytes)
            .sum::<u64>();
        let _ = writeln!(
            t,
            "dredge_reclaim_reclaimed_bytes{{category=\"{}\"}} {b}",
            step.as_str()
        );
    }
    head(
        &mut t,
        "dredge_reclaim_used_bytes",
        "Used bytes of the data root's filesystem (statvfs, as df's Used).",
    );
    before_after(
        &mut t,
        "dredge_reclaim_used_bytes",
        o.before.used_bytes,
        o.after.used_bytes,
    );
    head(
        &mut t,
        "dredge_reclaim_free_bytes",
        "Bytes available to unprivileged users on the data root's filesystem (statvfs, as df's Avail).",
    );
    before_after(
        &mut t,
        "dredge_reclaim_free_bytes",
        o.before.free_bytes,
        o.after.free_bytes,
    );
    head(
        &mut t,
        "dredge_reclaim_high_bytes",
        "The high watermark in used bytes.",
    );
    let _ = writeln!(t, "dredge_reclaim_high_bytes {}", o.watermarks.high_bytes);
    head(
        &mut t,
        "dredge_reclaim_low_bytes",
        "The low watermark in used bytes.",
    );
    let _ = writeln!(t, "dredge_reclaim_low_bytes {}", o.watermarks.low_bytes);
    head(
        &mut t,
        "dredge_reclaim_orphans",
        "Orphans of the data root found at the start of the run.",
    );
    let _ = writeln!(t, "dredge_reclaim_orphans {}", o.orphans);
    head(
        &mut t,
        "dredge_reclaim_orphans_bytes",
        "Bytes of those orphans.",
    );
    let _ = writeln!(t, "dredge_reclaim_orphans_bytes {}", o.orphans_bytes);
    head(
        &mut t,
        "dredge_reclaim_skipped",
        "Objects the steps looked at and left, by reason.",
    );
    for (why, n) in &o.skipped {
        let _ = writeln!(t, "dredge_reclaim_skipped{{reason=\"{}\"}} {n}", label(why));
    }
    head(
        &mut t,
        "dredge_reclaim_reached_low",
        "1 when the last run ended at or under low (or had nothing to do), else 0.",
    );
    let _ = writeln!(
        t,
        "dredge_reclaim_reached_low {}",
        u8::from(!o.acted || o.reached_low)
    );
    head(
        &mut t,
        "dredge_reclaim_duration_seconds",
        "Wall time of the last run.",
    );
    let _ = writeln!(
        t,
        "dredge_reclaim_duration_seconds {:.3}",
        o.duration_seconds
    );
    if let Some(ts) = o.last_success {
        head(
            &mut t,
            "dredge_reclaim_last_success_timestamp_seconds",
            "End of the last run that reached low or had nothing to do (seconds since the epoch).",
        );
        let _ = writeln!(t, "dredge_reclaim_last_success_timestamp_seconds {ts}");
    }
    t
}

/// One word of a unit's `ExecStart=`, quoted when it needs to be (systemd.service(5), "Command
/// lines"): `%` and `$` doubled, `\` and `"` escaped inside double quotes.
fn exec_word(s: &str) -> String {
    let s = s.replace('%', "%%").replace('$', "$$");
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._:=@%+-,$".contains(c))
    {
        return s;
    }
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The service and timer of `dredge reclaim install-timer`.
pub fn units(o: &TimerOptions) -> Units {
    let word = |p: &std::path::Path| exec_word(&p.to_string_lossy());
    let mut exec = format!("{} reclaim --policy {}", word(&o.exe), word(&o.policy));
    if let Some(m) = &o.metrics {
        exec.push_str(&format!(" --metrics {}", word(m)));
    }
    if let Some(s) = &o.state {
        exec.push_str(&format!(" --state {}", word(s)));
    }
    let service = format!(
        "# Written by dredge reclaim install-timer. Exit 1: the disk could not be brought under its\n\
         # low watermark (the unit then shows as failed; the metrics say what still holds the space).\n\
         [Unit]\n\
         Description=dredge reclaim: keep the Docker data root under its watermark\n\
         After=docker.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart={exec}\n\
         Nice=19\n\
         CPUSchedulingPolicy=idle\n\
         IOSchedulingClass=idle\n"
    );
    let timer = format!(
        "# Written by dredge reclaim install-timer.\n\
         [Unit]\n\
         Description=Run dredge reclaim on a schedule\n\
         \n\
         [Timer]\n\
         OnCalendar={}\n\
         Persistent=true\n\
         RandomizedDelaySec={}\n\
         Unit={SERVICE}\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        o.on_calendar.trim(),
        o.randomized_delay
    );
    Units { service, timer }
}

/// `dredge reclaim install-timer`: the two units, each under a `# NAME` line.
pub fn write_units<W: Write>(out: &mut W, u: &crate::reclaim::timer::Units) -> io::Result<()> {
    use crate::reclaim::timer::{SERVICE, TIMER};
    writeln!(out, "# {SERVICE}")?;
    write!(out, "{}", u.service)?;
    writeln!(out)?;
    writeln!(out, "# {TIMER}")?;
    write!(out, "{}", u.timer)
}

/// `dredge reclaim install-timer --write`: what was written, and what to run next.
pub fn write_installed<W: Write>(out: &mut W, written: &[std::path::PathBuf]) -> io::Result<()> {
    for p in written {
        writeln!(out, "wrote {}", p.display())?;
    }
    writeln!(
        out,
        "then: systemctl daemon-reload && systemctl enable --now {}",
        crate::reclaim::timer::TIMER
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_words_are_quoted_for_systemd() {
        assert_eq!(exec_word("/usr/bin/dredge"), "/usr/bin/dredge");
        assert_eq!(exec_word("/etc/my policy.toml"), "\"/etc/my policy.toml\"");
        assert_eq!(exec_word("/a%b"), "/a%%b");
        assert_eq!(exec_word("/a\"b"), "\"/a\\\"b\"");
    }

    #[test]
    fn metrics_follow_the_textfile_format() {
        let mut o = Outcome {
            acted: true,
            reached_low: true,
            last_success: Some(1_796_136_354),
            ..Default::default()
        };
        o.before.used_bytes = 900;
        o.after.used_bytes = 700;
        o.skipped.insert("in-use".into(), 2);
        let t = metrics(&o);
        assert!(t.contains("dredge_reclaim_used_bytes{when=\"before\"} 900\n"));
        assert!(t.contains("dredge_reclaim_used_bytes{when=\"after\"} 700\n"));
        assert!(t.contains("dredge_reclaim_skipped{reason=\"in-use\"} 2\n"));
        assert!(t.contains("dredge_reclaim_reclaimed_bytes{category=\"unused-images\"} 0\n"));
        assert!(t.contains("dredge_reclaim_last_success_timestamp_seconds 1796136354\n"));
        // Every sample line: name{labels} value, and every name has HELP and TYPE.
        for line in t.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
            let base = name.split('{').next().unwrap();
            assert!(base.starts_with("dredge_reclaim_"), "{line}");
            assert!(t.contains(&format!("# TYPE {base} gauge\n")), "{line}");
        }
    }
}
