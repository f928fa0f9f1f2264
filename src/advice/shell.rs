//! Reading shell commands the way the detectors need: quoting paths for `rm`, spotting a forced `rm`
//! and a recursive `chown`/`chmod`.

/// Quotes a path for sh when it needs it.
pub(super) fn sh_quote(p: &str) -> String {
    if p.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        p.to_string()
    } else {
        format!("'{}'", p.replace('\'', "'\\''"))
    }
}

/// True when the command has an `rm` that cannot fail on a missing file (`-f`, `-rf`, `--force`).
pub(super) fn has_forced_rm(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        (*w == "rm" || w.ends_with("/rm"))
            && words[i + 1..]
                .iter()
                .take_while(|x| x.starts_with('-'))
                .any(|x| *x == "--force" || (!x.starts_with("--") && x.contains('f')))
    })
}

/// `chown -R OWNER` / `chmod -R MODE` in a command: (flag name, value).
pub(super) fn recursive_owner_change(command: &str) -> Option<(&'static str, String)> {
    let words: Vec<&str> = command.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let flag = match basename(w) {
            "chown" => "chown",
            "chmod" => "chmod",
            _ => continue,
        };
        let opts: Vec<&&str> = words[i + 1..]
            .iter()
            .take_while(|x| x.starts_with('-'))
            .collect();
        if opts
            .iter()
            .any(|o| **o == "--recursive" || (!o.starts_with("--") && o.contains('R')))
            && let Some(v) = words.get(i + 1 + opts.len())
        {
            return Some((flag, (*v).to_string()));
        }
    }
    None
}

/// The last component of a command word (`/bin/chown` → `chown`).
fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_rm_and_recursive_owner_changes() {
        assert!(has_forced_rm("set -e; rm -rf /x"));
        assert!(has_forced_rm("rm -r -f /x"));
        assert!(!has_forced_rm("rm /x && echo -f"));
        assert_eq!(
            recursive_owner_change("chown -R 1000:1000 /app"),
            Some(("chown", "1000:1000".into()))
        );
        assert_eq!(
            recursive_owner_change("/bin/chmod -R -v 755 /app"),
            Some(("chmod", "755".into()))
        );
        assert_eq!(recursive_owner_change("chown 1:1 /app"), None);
    }

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(sh_quote("/var/cache/apk"), "/var/cache/apk");
        assert_eq!(sh_quote("/a b"), "'/a b'");
        assert_eq!(sh_quote("/it's"), "'/it'\\''s'");
    }
}
