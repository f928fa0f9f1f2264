//! Bytes that are visible in the final filesystem but need not ship: package-manager and build caches,
//! temp files, logs. The catalog is data (see `shared/docs/size-rules.md` §1); matching is by path.

/// One kind of leftover, and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct CacheRule {
    /// Stable identifier (used in JSON and by budgets).
    pub id: &'static str,
    /// The tool that leaves it.
    pub tool: &'static str,
    /// Directories (relative to `/`, `*` = one path component) whose contents are the leftover.
    pub dirs: &'static [&'static str],
    /// How to avoid it, in the same RUN that makes it.
    pub fix: &'static str,
}

/// The catalog. The first rule whose directory holds a path claims it, so specific rules come first.
pub const CACHE_RULES: &[CacheRule] = &[
    CacheRule {
        id: "apk",
        tool: "apk",
        dirs: &["var/cache/apk", "etc/apk/cache"],
        fix: "apk add --no-cache …",
    },
    CacheRule {
        id: "apt-lists",
        tool: "apt",
        dirs: &["var/lib/apt/lists"],
        fix: "… && rm -rf /var/lib/apt/lists/* in the same RUN as apt-get update",
    },
    CacheRule {
        id: "apt-archives",
        tool: "apt",
        dirs: &["var/cache/apt"],
        fix: "apt-get clean (or rm -rf /var/cache/apt/*) in the same RUN",
    },
    CacheRule {
        id: "yum",
        tool: "yum",
        dirs: &["var/cache/yum"],
        fix: "… && yum clean all",
    },
    CacheRule {
        id: "dnf",
        tool: "dnf",
        dirs: &["var/cache/dnf", "var/cache/libdnf5"],
        fix: "… && dnf clean all",
    },
    CacheRule {
        id: "zypper",
        tool: "zypper",
        dirs: &["var/cache/zypp"],
        fix: "… && zypper clean -a",
    },
    CacheRule {
        id: "pip",
        tool: "pip",
        dirs: &["root/.cache/pip", "home/*/.cache/pip"],
        fix: "pip install --no-cache-dir … (or ENV PIP_NO_CACHE_DIR=1)",
    },
    CacheRule {
        id: "pipenv",
        tool: "pipenv",
        dirs: &["root/.cache/pipenv", "home/*/.cache/pipenv"],
        fix: "rm -rf ~/.cache/pipenv in the same RUN",
    },
    CacheRule {
        id: "poetry",
        tool: "poetry",
        dirs: &["root/.cache/pypoetry", "home/*/.cache/pypoetry"],
        fix: "poetry install --no-cache, or rm -rf $POETRY_CACHE_DIR",
    },
    CacheRule {
        id: "conda",
        tool: "conda",
        dirs: &["opt/conda/pkgs"],
        fix: "conda clean -afy in the same RUN",
    },
    CacheRule {
        id: "npm",
        tool: "npm",
        dirs: &[
            "root/.npm/_cacache",
            "root/.npm/_logs",
            "home/*/.npm/_cacache",
            "home/*/.npm/_logs",
        ],
        fix: "npm cache clean --force in the same RUN",
    },
    CacheRule {
        id: "yarn",
        tool: "yarn",
        dirs: &[
            "usr/local/share/.cache/yarn",
            "root/.cache/yarn",
            "home/*/.cache/yarn",
            "root/.yarn/berry/cache",
            "home/*/.yarn/berry/cache",
        ],
        fix: "yarn cache clean in the same RUN",
    },
    CacheRule {
        id: "pnpm",
        tool: "pnpm",
        dirs: &["root/.local/share/pnpm/store", "pnpm/store"],
        fix: "pnpm store prune, or a cache mount",
    },
    CacheRule {
        id: "go-build",
        tool: "go",
        dirs: &["root/.cache/go-build", "home/*/.cache/go-build"],
        fix: "go clean -cache, or build in a separate stage",
    },
    CacheRule {
        id: "go-mod",
        tool: "go",
        dirs: &["go/pkg/mod", "root/go/pkg/mod"],
        fix: "go clean -modcache, or build in a separate stage",
    },
    CacheRule {
        id: "cargo",
        tool: "cargo",
        dirs: &[
            "usr/local/cargo/registry",
            "usr/local/cargo/git",
            "root/.cargo/registry",
            "root/.cargo/git",
        ],
        fix: "build in a separate stage and copy only the binary",
    },
    CacheRule {
        id: "maven",
        tool: "maven",
        dirs: &["root/.m2/repository", "home/*/.m2/repository"],
        fix: "build in a separate stage",
    },
    CacheRule {
        id: "gradle",
        tool: "gradle",
        dirs: &[
            "root/.gradle/caches",
            "root/.gradle/wrapper/dists",
            "home/*/.gradle/caches",
        ],
        fix: "build in a separate stage (--no-daemon)",
    },
    CacheRule {
        id: "composer",
        tool: "composer",
        dirs: &["root/.cache/composer", "home/*/.cache/composer"],
        fix: "composer clear-cache in the same RUN",
    },
    CacheRule {
        id: "gem",
        tool: "gem",
        dirs: &["usr/local/bundle/cache"],
        fix: "gem install --no-document; rm -rf $GEM_HOME/cache/*.gem",
    },
    CacheRule {
        id: "ccache",
        tool: "ccache",
        dirs: &["root/.ccache", "root/.cache/ccache"],
        fix: "never keep it in a layer: use a cache mount",
    },
    CacheRule {
        id: "huggingface",
        tool: "huggingface",
        dirs: &["root/.cache/huggingface", "home/*/.cache/huggingface"],
        fix: "download once to the final path, or not at build time",
    },
    CacheRule {
        id: "user-cache",
        tool: "generic",
        dirs: &["root/.cache", "home/*/.cache"],
        fix: "delete ~/.cache in the RUN that filled it",
    },
    CacheRule {
        id: "tmp",
        tool: "generic",
        dirs: &["tmp", "var/tmp"],
        fix: "delete temp files in the RUN that made them (or RUN --mount=type=tmpfs,target=/tmp)",
    },
    CacheRule {
        id: "logs",
        tool: "generic",
        dirs: &["var/log"],
        fix: "delete logs in the RUN that wrote them",
    },
];

/// True when `path` lies strictly below directory pattern `dir` (`*` matches one component).
fn is_below(dir: &str, path: &[u8]) -> bool {
    if !dir.contains('*') {
        // The common case: a plain prefix, one comparison.
        let d = dir.as_bytes();
        return path.len() > d.len() && path.starts_with(d) && path[d.len()] == b'/';
    }
    let mut comps = path.split(|&b| b == b'/');
    for want in dir.split('/') {
        match comps.next() {
            Some(c) if want == "*" || want.as_bytes() == c => {}
            _ => return false,
        }
    }
    comps.next().is_some()
}

/// The rule that claims `path`, if any.
pub fn classify(path: &[u8]) -> Option<&'static CacheRule> {
    let first = path.split(|&b| b == b'/').next().unwrap_or(path);
    // Each bucket is in catalog order, so the first match is the catalog's first.
    by_first_component()
        .get(first)?
        .iter()
        .find(|(_, d)| is_below(d, path))
        .map(|&(i, _)| &CACHE_RULES[i])
}

/// Directory patterns by their first component, in catalog order: a path is compared only with the
/// few patterns that can hold it.
type Index = rustc_hash::FxHashMap<&'static [u8], Vec<(usize, &'static str)>>;

fn by_first_component() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut m = Index::default();
        for (i, r) in CACHE_RULES.iter().enumerate() {
            for d in r.dirs {
                let first = d.split('/').next().unwrap_or(d);
                m.entry(first.as_bytes()).or_default().push((i, d));
            }
        }
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalog_is_well_formed() {
        for r in CACHE_RULES {
            for d in r.dirs {
                assert!(
                    !d.starts_with('*'),
                    "{d}: a leading wildcard would escape the first-component index"
                );
            }
        }
        for r in CACHE_RULES {
            for d in r.dirs {
                assert!(
                    !d.starts_with('*'),
                    "{d}: a leading wildcard would defeat the first-component index"
                );
            }
        }
        let mut ids = HashSet::new();
        for r in CACHE_RULES {
            assert!(ids.insert(r.id), "duplicate id {}", r.id);
            assert!(!r.dirs.is_empty() && !r.fix.is_empty());
            for d in r.dirs {
                assert!(
                    !d.starts_with('/') && !d.ends_with('/') && !d.is_empty(),
                    "{d}"
                );
            }
        }
    }

    #[test]
    fn specific_rules_win_and_only_contents_count() {
        assert_eq!(
            classify(b"var/cache/apk/APKINDEX.abc.tar.gz").unwrap().id,
            "apk"
        );
        assert_eq!(classify(b"root/.cache/pip/http/x").unwrap().id, "pip");
        assert_eq!(classify(b"home/app/.cache/pip/x").unwrap().id, "pip");
        assert_eq!(classify(b"root/.cache/other/x").unwrap().id, "user-cache");
        assert_eq!(classify(b"tmp/build/obj.o").unwrap().id, "tmp");
        assert!(classify(b"tmp").is_none());
        assert!(classify(b"var/cache/apkfoo/x").is_none());
        assert!(classify(b"usr/bin/sh").is_none());
    }
}
