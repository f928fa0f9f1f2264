//! Bytes that are visible in the final filesystem but need not ship: package-manager and build caches,
//! temp files, logs. The catalog is data (see `shared/docs/size-rules.md` §1); matching is by path.

/// A kind of leftover: the catalog's id. Its text ([`CacheKind::as_str`]) is what JSON carries;
/// kinds compare by that text, so lists sorted by kind read in alphabetical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKind {
    /// `apk`.
    Apk,
    /// `apt-lists`.
    AptLists,
    /// `apt-archives`.
    AptArchives,
    /// `yum`.
    Yum,
    /// `dnf`.
    Dnf,
    /// `zypper`.
    Zypper,
    /// `pip`.
    Pip,
    /// `pipenv`.
    Pipenv,
    /// `poetry`.
    Poetry,
    /// `conda`.
    Conda,
    /// `npm`.
    Npm,
    /// `yarn`.
    Yarn,
    /// `pnpm`.
    Pnpm,
    /// `go-build`.
    GoBuild,
    /// `go-mod`.
    GoMod,
    /// `cargo`.
    Cargo,
    /// `maven`.
    Maven,
    /// `gradle`.
    Gradle,
    /// `composer`.
    Composer,
    /// `gem`.
    Gem,
    /// `ccache`.
    Ccache,
    /// `huggingface`.
    Huggingface,
    /// `user-cache`.
    UserCache,
    /// `tmp`.
    Tmp,
    /// `logs`.
    Logs,
}

impl CacheKind {
    /// The id, as in JSON (`apt-lists`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheKind::Apk => "apk",
            CacheKind::AptLists => "apt-lists",
            CacheKind::AptArchives => "apt-archives",
            CacheKind::Yum => "yum",
            CacheKind::Dnf => "dnf",
            CacheKind::Zypper => "zypper",
            CacheKind::Pip => "pip",
            CacheKind::Pipenv => "pipenv",
            CacheKind::Poetry => "poetry",
            CacheKind::Conda => "conda",
            CacheKind::Npm => "npm",
            CacheKind::Yarn => "yarn",
            CacheKind::Pnpm => "pnpm",
            CacheKind::GoBuild => "go-build",
            CacheKind::GoMod => "go-mod",
            CacheKind::Cargo => "cargo",
            CacheKind::Maven => "maven",
            CacheKind::Gradle => "gradle",
            CacheKind::Composer => "composer",
            CacheKind::Gem => "gem",
            CacheKind::Ccache => "ccache",
            CacheKind::Huggingface => "huggingface",
            CacheKind::UserCache => "user-cache",
            CacheKind::Tmp => "tmp",
            CacheKind::Logs => "logs",
        }
    }
}

impl std::fmt::Display for CacheKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Ord for CacheKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for CacheKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for CacheKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One kind of leftover, and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct CacheRule {
    /// Stable identifier (used in JSON and by budgets).
    pub id: CacheKind,
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
        id: CacheKind::Apk,
        tool: "apk",
        dirs: &["var/cache/apk", "etc/apk/cache"],
        fix: "apk add --no-cache …",
    },
    CacheRule {
        id: CacheKind::AptLists,
        tool: "apt",
        dirs: &["var/lib/apt/lists"],
        fix: "… && rm -rf /var/lib/apt/lists/* in the same RUN as apt-get update",
    },
    CacheRule {
        id: CacheKind::AptArchives,
        tool: "apt",
        dirs: &["var/cache/apt"],
        fix: "apt-get clean (or rm -rf /var/cache/apt/*) in the same RUN",
    },
    CacheRule {
        id: CacheKind::Yum,
        tool: "yum",
        dirs: &["var/cache/yum"],
        fix: "… && yum clean all",
    },
    CacheRule {
        id: CacheKind::Dnf,
        tool: "dnf",
        dirs: &["var/cache/dnf", "var/cache/libdnf5"],
        fix: "… && dnf clean all",
    },
    CacheRule {
        id: CacheKind::Zypper,
        tool: "zypper",
        dirs: &["var/cache/zypp"],
        fix: "… && zypper clean -a",
    },
    CacheRule {
        id: CacheKind::Pip,
        tool: "pip",
        dirs: &["root/.cache/pip", "home/*/.cache/pip"],
        fix: "pip install --no-cache-dir … (or ENV PIP_NO_CACHE_DIR=1)",
    },
    CacheRule {
        id: CacheKind::Pipenv,
        tool: "pipenv",
        dirs: &["root/.cache/pipenv", "home/*/.cache/pipenv"],
        fix: "rm -rf ~/.cache/pipenv in the same RUN",
    },
    CacheRule {
        id: CacheKind::Poetry,
        tool: "poetry",
        dirs: &["root/.cache/pypoetry", "home/*/.cache/pypoetry"],
        fix: "poetry install --no-cache, or rm -rf $POETRY_CACHE_DIR",
    },
    CacheRule {
        id: CacheKind::Conda,
        tool: "conda",
        dirs: &["opt/conda/pkgs"],
        fix: "conda clean -afy in the same RUN",
    },
    CacheRule {
        id: CacheKind::Npm,
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
        id: CacheKind::Yarn,
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
        id: CacheKind::Pnpm,
        tool: "pnpm",
        dirs: &["root/.local/share/pnpm/store", "pnpm/store"],
        fix: "pnpm store prune, or a cache mount",
    },
    CacheRule {
        id: CacheKind::GoBuild,
        tool: "go",
        dirs: &["root/.cache/go-build", "home/*/.cache/go-build"],
        fix: "go clean -cache, or build in a separate stage",
    },
    CacheRule {
        id: CacheKind::GoMod,
        tool: "go",
        dirs: &["go/pkg/mod", "root/go/pkg/mod"],
        fix: "go clean -modcache, or build in a separate stage",
    },
    CacheRule {
        id: CacheKind::Cargo,
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
        id: CacheKind::Maven,
        tool: "maven",
        dirs: &["root/.m2/repository", "home/*/.m2/repository"],
        fix: "build in a separate stage",
    },
    CacheRule {
        id: CacheKind::Gradle,
        tool: "gradle",
        dirs: &[
            "root/.gradle/caches",
            "root/.gradle/wrapper/dists",
            "home/*/.gradle/caches",
        ],
        fix: "build in a separate stage (--no-daemon)",
    },
    CacheRule {
        id: CacheKind::Composer,
        tool: "composer",
        dirs: &["root/.cache/composer", "home/*/.cache/composer"],
        fix: "composer clear-cache in the same RUN",
    },
    CacheRule {
        id: CacheKind::Gem,
        tool: "gem",
        dirs: &["usr/local/bundle/cache"],
        fix: "gem install --no-document; rm -rf $GEM_HOME/cache/*.gem",
    },
    CacheRule {
        id: CacheKind::Ccache,
        tool: "ccache",
        dirs: &["root/.ccache", "root/.cache/ccache"],
        fix: "never keep it in a layer: use a cache mount",
    },
    CacheRule {
        id: CacheKind::Huggingface,
        tool: "huggingface",
        dirs: &["root/.cache/huggingface", "home/*/.cache/huggingface"],
        fix: "download once to the final path, or not at build time",
    },
    CacheRule {
        id: CacheKind::UserCache,
        tool: "generic",
        dirs: &["root/.cache", "home/*/.cache"],
        fix: "delete ~/.cache in the RUN that filled it",
    },
    CacheRule {
        id: CacheKind::Tmp,
        tool: "generic",
        dirs: &["tmp", "var/tmp"],
        fix: "delete temp files in the RUN that made them (or RUN --mount=type=tmpfs,target=/tmp)",
    },
    CacheRule {
        id: CacheKind::Logs,
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
            CacheKind::Apk
        );
        assert_eq!(
            classify(b"root/.cache/pip/http/x").unwrap().id,
            CacheKind::Pip
        );
        assert_eq!(
            classify(b"home/app/.cache/pip/x").unwrap().id,
            CacheKind::Pip
        );
        assert_eq!(
            classify(b"root/.cache/other/x").unwrap().id,
            CacheKind::UserCache
        );
        assert_eq!(classify(b"tmp/build/obj.o").unwrap().id, CacheKind::Tmp);
        assert!(classify(b"tmp").is_none());
        assert!(classify(b"var/cache/apkfoo/x").is_none());
        assert!(classify(b"usr/bin/sh").is_none());
    }
}
