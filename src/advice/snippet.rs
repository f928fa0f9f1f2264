//! Snippets of mechanical suggestions: the instructions their edit changed, whole.

use super::dockerfile::{self, Dockerfile};

/// The instructions of `new` that differ from `df`, whole, as a snippet.
pub(super) fn changed_instructions(df: &Dockerfile, new: &str) -> String {
    let old: Vec<&str> = df.lines.iter().map(String::as_str).collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let prefix = old
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (lo, hi) = (prefix + 1, new_lines.len() - suffix);
    let Ok(parsed) = dockerfile::parse(&df.path, new) else {
        return new_lines[prefix..new_lines.len() - suffix].join("\n");
    };
    let mut out: Vec<&str> = Vec::new();
    for ins in &parsed.instructions {
        if ins.end_line >= lo && ins.start_line <= hi {
            out.extend(&new_lines[ins.start_line - 1..ins.end_line]);
        }
    }
    if out.is_empty() {
        // Only deletions: show what goes.
        return old[prefix..old.len() - suffix]
            .iter()
            .map(|l| format!("# delete: {l}"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    out.join("\n")
}
