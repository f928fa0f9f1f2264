//! Fact tables for advice and lint: how to avoid each cache, what counts as build tooling, what a
//! build context should not send. Data, not code (see shared/docs/size-rules.md §1-2).

use crate::analysis::caches::CacheKind;

/// How to keep one cache of the catalog (`analysis::caches`) out of the layer that makes it.
#[derive(Debug, Clone, Copy)]
pub struct CacheFix {
    /// The cache (`analysis::caches::CACHE_RULES`).
    pub rule: CacheKind,
    /// Commands that fill the cache, by basename (`pip` also matches `/usr/bin/pip3`).
    pub tools: &'static [&'static str],
    /// Their subcommand that fills it (`add`, `install`).
    pub sub: &'static str,
    /// A flag that stops the cache from being written, if the tool has one.
    pub flag: Option<&'static str>,
    /// Flags that do the same job when already present (abbreviations the tool accepts included).
    pub flag_equivalents: &'static [&'static str],
    /// Shell to append to the RUN otherwise; `{dir}` is the cache directory found.
    pub cleanup: &'static str,
    /// Text in the same RUN that shows the cache is cleaned (for lint).
    pub cleaned_by: &'static [&'static str],
    /// Where a BuildKit cache mount would go.
    pub mount: &'static str,
    /// hadolint's rule for the same problem, if it has one.
    pub hadolint: Option<&'static str>,
}

/// The fixes, by cache rule. Rules without a row get `rm -rf {dir}/*` appended.
pub const CACHE_FIXES: &[CacheFix] = &[
    CacheFix {
        rule: CacheKind::Apk,
        tools: &["apk"],
        sub: "add",
        flag: Some("--no-cache"),
        flag_equivalents: &["--no-cache"],
        cleanup: "rm -rf /var/cache/apk/*",
        cleaned_by: &["/var/cache/apk"],
        mount: "/var/cache/apk",
        hadolint: Some("DL3019"),
    },
    CacheFix {
        rule: CacheKind::AptLists,
        tools: &["apt-get", "apt"],
        sub: "update",
        flag: None,
        flag_equivalents: &[],
        cleanup: "rm -rf /var/lib/apt/lists/*",
        cleaned_by: &["/var/lib/apt/lists"],
        mount: "/var/lib/apt/lists",
        hadolint: Some("DL3009"),
    },
    CacheFix {
        rule: CacheKind::AptArchives,
        tools: &["apt-get", "apt"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "apt-get clean",
        cleaned_by: &["apt-get clean", "apt clean", "/var/cache/apt"],
        mount: "/var/cache/apt",
        hadolint: None,
    },
    CacheFix {
        rule: CacheKind::Pip,
        tools: &["pip"],
        sub: "install",
        flag: Some("--no-cache-dir"),
        // pip's option parser accepts any unambiguous prefix: `--no-cache` is `--no-cache-dir`.
        flag_equivalents: &["--no-cache"],
        cleanup: "rm -rf {dir}",
        cleaned_by: &[".cache/pip", ".cache"],
        mount: "/root/.cache/pip",
        hadolint: Some("DL3042"),
    },
    CacheFix {
        rule: CacheKind::Npm,
        tools: &["npm"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "npm cache clean --force",
        cleaned_by: &["npm cache clean", ".npm"],
        mount: "/root/.npm",
        hadolint: None,
    },
    CacheFix {
        rule: CacheKind::Yarn,
        tools: &["yarn"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "yarn cache clean",
        cleaned_by: &["yarn cache clean", ".cache/yarn"],
        mount: "/usr/local/share/.cache/yarn",
        hadolint: Some("DL3060"),
    },
    CacheFix {
        rule: CacheKind::Yum,
        tools: &["yum"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "yum clean all",
        cleaned_by: &["yum clean all", "/var/cache/yum"],
        mount: "/var/cache/yum",
        hadolint: Some("DL3032"),
    },
    CacheFix {
        rule: CacheKind::Dnf,
        tools: &["dnf", "microdnf"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "dnf clean all",
        cleaned_by: &[
            "dnf clean all",
            "microdnf clean all",
            "/var/cache/libdnf5",
            "/var/cache/dnf",
        ],
        mount: "/var/cache/libdnf5",
        hadolint: Some("DL3040"),
    },
    CacheFix {
        rule: CacheKind::Zypper,
        tools: &["zypper"],
        sub: "install",
        flag: None,
        flag_equivalents: &[],
        cleanup: "zypper clean -a",
        cleaned_by: &["zypper clean", "zypper cc", "/var/cache/zypp"],
        mount: "/var/cache/zypp",
        hadolint: Some("DL3036"),
    },
];

/// The fix for cache rule `rule`, if the table has one.
pub fn cache_fix(rule: CacheKind) -> Option<&'static CacheFix> {
    CACHE_FIXES.iter().find(|f| f.rule == rule)
}

/// Official images whose default tags (not `-slim`, `-alpine`, Windows) are built FROM
/// `buildpack-deps`, so that [`BUILDPACK_PACKAGES`] are already installed.
pub const BUILDPACK_IMAGES: &[&str] = &[
    "buildpack-deps",
    "python",
    "node",
    "ruby",
    "golang",
    "rust",
    "perl",
];

/// The Debian packages `buildpack-deps` installs (its curl, scm and full layers; docker-library/
/// buildpack-deps `debian/bookworm/{curl,scm,}/Dockerfile`). Installing only these in such an image
/// installs nothing, recommendations included.
pub const BUILDPACK_PACKAGES: &[&str] = &[
    "ca-certificates",
    "curl",
    "netbase",
    "wget",
    "gnupg",
    "dirmngr",
    "git",
    "mercurial",
    "openssh-client",
    "subversion",
    "procps",
    "autoconf",
    "automake",
    "bzip2",
    "dpkg-dev",
    "file",
    "g++",
    "gcc",
    "imagemagick",
    "libbz2-dev",
    "libc6-dev",
    "libcurl4-openssl-dev",
    "libdb-dev",
    "libevent-dev",
    "libffi-dev",
    "libgdbm-dev",
    "libglib2.0-dev",
    "libgmp-dev",
    "libjpeg-dev",
    "libkrb5-dev",
    "liblzma-dev",
    "libmagickcore-dev",
    "libmagickwand-dev",
    "libmaxminddb-dev",
    "libncurses5-dev",
    "libncursesw5-dev",
    "libpng-dev",
    "libpq-dev",
    "libreadline-dev",
    "libsqlite3-dev",
    "libssl-dev",
    "libtool",
    "libwebp-dev",
    "libxml2-dev",
    "libxslt-dev",
    "libyaml-dev",
    "make",
    "patch",
    "unzip",
    "xz-utils",
    "zlib1g-dev",
    "default-libmysqlclient-dev",
];

/// Official images whose Dockerfiles set no WORKDIR: a build starting from them runs in `/`.
pub const ROOT_WORKDIR_IMAGES: &[&str] = &[
    "alpine",
    "debian",
    "ubuntu",
    "centos",
    "fedora",
    "rockylinux",
    "almalinux",
    "busybox",
    "buildpack-deps",
    "python",
    "node",
    "ruby",
    "perl",
    "rust",
    "opensuse/leap",
    "opensuse/tumbleweed",
];

/// The image's name without registry, `library/`, tag or digest (`docker.io/library/node:20` → `node`).
pub fn image_name(image: &str) -> String {
    let image = image.to_ascii_lowercase();
    let image = image.strip_prefix("docker.io/").unwrap_or(&image);
    let image = image.strip_prefix("library/").unwrap_or(image);
    let image = image.split('@').next().unwrap_or(image);
    // A tag follows the last `:` after the last `/` (a registry port comes before a `/`).
    match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n.to_string(),
        _ => image.to_string(),
    }
}

/// True when `image` (`python:3.9`, `docker.io/library/node:20`) is built FROM buildpack-deps.
pub fn is_buildpack_image(image: &str) -> bool {
    let image = image.to_ascii_lowercase();
    let image = image.strip_prefix("docker.io/").unwrap_or(&image);
    let image = image.strip_prefix("library/").unwrap_or(image);
    let (name, tag) = image.split_once(':').unwrap_or((image, "latest"));
    let tag = tag.split('@').next().unwrap_or(tag);
    BUILDPACK_IMAGES.contains(&name)
        && !["slim", "alpine", "windows", "nanoserver"]
            .iter()
            .any(|t| tag.contains(t))
}

/// How a build-tool path is recognised.
#[derive(Debug, Clone, Copy)]
pub enum PathMatch {
    /// The path starts with this (relative to `/`).
    Prefix(&'static str),
    /// The file's name ends with this, anywhere below `usr/`.
    UsrSuffix(&'static str),
}

/// Compilers, headers and development files that a runtime image rarely needs.
pub const BUILD_TOOLS: &[(&str, PathMatch)] = &[
    ("headers", PathMatch::Prefix("usr/include/")),
    ("headers", PathMatch::Prefix("usr/local/include/")),
    ("gcc", PathMatch::Prefix("usr/lib/gcc/")),
    ("gcc", PathMatch::Prefix("usr/libexec/gcc/")),
    ("gcc", PathMatch::Prefix("usr/bin/gcc")),
    ("gcc", PathMatch::Prefix("usr/bin/g++")),
    ("gcc", PathMatch::Prefix("usr/bin/cc1")),
    ("llvm", PathMatch::Prefix("usr/lib/llvm")),
    ("llvm", PathMatch::Prefix("usr/bin/clang")),
    ("binutils", PathMatch::Prefix("usr/bin/ld.")),
    (
        "binutils",
        PathMatch::Prefix("usr/lib/x86_64-linux-gnu/libbfd"),
    ),
    ("go toolchain", PathMatch::Prefix("usr/local/go/")),
    ("rust toolchain", PathMatch::Prefix("usr/local/rustup/")),
    ("static libraries", PathMatch::UsrSuffix(".a")),
];

/// The build-tool group a path belongs to.
pub fn build_tool(path: &[u8]) -> Option<&'static str> {
    let p = std::str::from_utf8(path).ok()?;
    BUILD_TOOLS.iter().find_map(|(name, m)| match m {
        PathMatch::Prefix(pre) => p.starts_with(pre).then_some(*name),
        PathMatch::UsrSuffix(suf) => (p.starts_with("usr/") && p.ends_with(suf)).then_some(*name),
    })
}

/// Directory names a build context should not send: (name, `.dockerignore` pattern).
pub const CONTEXT_JUNK: &[(&str, &str)] = &[
    (".git", "**/.git"),
    ("node_modules", "**/node_modules"),
    ("__pycache__", "**/__pycache__"),
    (".pytest_cache", "**/.pytest_cache"),
    (".mypy_cache", "**/.mypy_cache"),
    (".tox", "**/.tox"),
    (".venv", "**/.venv"),
    (".cache", "**/.cache"),
    (".gradle", "**/.gradle"),
    (".next", "**/.next"),
];

/// The junk entry a path lies in: (name, pattern).
pub fn context_junk(path: &[u8]) -> Option<(&'static str, &'static str)> {
    path.split(|&b| b == b'/').find_map(|c| {
        CONTEXT_JUNK
            .iter()
            .find(|(n, _)| n.as_bytes() == c)
            .copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::caches::CACHE_RULES;

    #[test]
    fn tables_are_well_formed() {
        for f in CACHE_FIXES {
            assert!(
                CACHE_RULES.iter().any(|r| r.id == f.rule),
                "{} is not a cache rule",
                f.rule
            );
            assert!(!f.tools.is_empty() && !f.sub.is_empty() && !f.cleanup.is_empty());
            assert!(f.mount.starts_with('/'));
            if let Some(flag) = f.flag {
                assert!(flag.starts_with("--"));
                assert!(f.flag_equivalents.iter().all(|e| flag.starts_with(e)));
            }
            assert!(f.hadolint.is_none_or(|h| h.starts_with("DL")));
        }
        for (_, pat) in CONTEXT_JUNK {
            assert!(pat.starts_with("**/"));
        }
    }

    #[test]
    fn buildpack_images() {
        assert!(is_buildpack_image("python:3.9"));
        assert!(is_buildpack_image("docker.io/library/node:20-bookworm"));
        assert!(is_buildpack_image("ruby"));
        assert!(!is_buildpack_image("python:3.12-slim"));
        assert!(!is_buildpack_image("node:20-alpine"));
        assert!(!is_buildpack_image("debian:bookworm"));
        assert_eq!(image_name("docker.io/library/node:20@sha256:ab"), "node");
        assert_eq!(image_name("localhost:5000/x/y:1"), "localhost:5000/x/y");
        assert_eq!(image_name("opensuse/leap"), "opensuse/leap");
    }

    #[test]
    fn matches() {
        assert_eq!(build_tool(b"usr/include/stdio.h"), Some("headers"));
        assert_eq!(build_tool(b"usr/lib/libfoo.a"), Some("static libraries"));
        assert_eq!(build_tool(b"usr/bin/python3"), None);
        assert_eq!(
            context_junk(b"app/.git/objects/ab"),
            Some((".git", "**/.git"))
        );
        assert_eq!(context_junk(b"app/gitx"), None);
    }
}
