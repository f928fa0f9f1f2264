//! Reading shell commands the way the detectors need: quoting paths for `rm`, spotting a forced `rm`
//! and a `chown`/`chmod`.

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

/// `chown [-R] OWNER` / `chmod [-R] MODE` in a command: (flag name, value, recursive), read from the
/// first chown or chmod command's own words ([`super::command::split`]), never from another
/// command's arguments.
pub(super) fn owner_change(command: &str) -> Option<(&'static str, String, bool)> {
    super::command::split(command).iter().find_map(|c| {
        let flag = match c.name() {
            "chown" => "chown",
            "chmod" => "chmod",
            _ => return None,
        };
        let args = &c.words[1..];
        let recursive = args.iter().any(|o| {
            o == "--recursive" || (o.starts_with('-') && !o.starts_with("--") && o.contains('R'))
        });
        let value = args.iter().find(|w| !w.starts_with('-'))?;
        Some((flag, value.clone(), recursive))
    })
}

/// True when `mode` is an octal mode that `COPY --chmod` takes as it is (`755`, `0644`); a symbolic
/// mode (`+x`, `u=rwX`) gives files and directories different modes and is not one value.
pub(super) fn octal_mode(mode: &str) -> bool {
    (3..=4).contains(&mode.len()) && mode.chars().all(|c| ('0'..='7').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_rm_and_owner_changes() {
        assert!(has_forced_rm("set -e; rm -rf /x"));
        assert!(has_forced_rm("rm -r -f /x"));
        assert!(!has_forced_rm("rm /x && echo -f"));
        assert_eq!(
            owner_change("chown -R 1000:1000 /app"),
            Some(("chown", "1000:1000".into(), true))
        );
        assert_eq!(
            owner_change("/bin/chmod -R -v 755 /app"),
            Some(("chmod", "755".into(), true))
        );
        assert_eq!(
            owner_change("chown 1:1 /app"),
            Some(("chown", "1:1".into(), false))
        );
        // Another command's words are not a chown.
        assert_eq!(owner_change("echo chown -R x /app"), None);
        assert_eq!(
            owner_change("cd /opt/x/ && chmod -R +x bin"),
            Some(("chmod", "+x".into(), true))
        );
        assert!(
            octal_mode("755") && octal_mode("0644") && !octal_mode("+x") && !octal_mode("u=rwX")
        );
    }

    #[test]
    fn paths_are_quoted_only_when_needed() {
        assert_eq!(sh_quote("/var/cache/apk"), "/var/cache/apk");
        assert_eq!(sh_quote("/a b"), "'/a b'");
        assert_eq!(sh_quote("/it's"), "'/it'\\''s'");
    }
}
