//! The root of a system containerd that a dockerd uses instead of its own (`--containerd=SOCKET` on
//! its command line, or `"containerd"` in its daemon.json; Debian's and Docker's systemd units do
//! this). With the containerd image store, the images then live under that containerd's root
//! (`--root`, else `root =` in its config.toml, else `/var/lib/containerd`), not under
//! `<data-root>/containerd/daemon`.
//!
//! The root is read only when proven to be the one of the containerd this dockerd talks to: the
//! socket dockerd names, resolved inside dockerd's root ([`procroot::stat_in`]), is the very socket
//! file (device, inode) that exactly one `containerd` process listens on (its listening socket's inode
//! in `/proc/<pid>/net/unix`, held in `/proc/<pid>/fd`, bound to a path that is that file inside its
//! own root); that process's root directory, resolved in its own namespace as a dockerd's data root
//! is ([`dataroot::resolve_in`]), is what is read.

use std::io;
use std::path::Path;

use super::dataroot::{self, NotProven};
use super::procroot;
use crate::model::containerd::CtrdRootProof;

/// containerd's default root.
pub const DEFAULT_ROOT: &str = "/var/lib/containerd";
/// containerd's default config file.
pub const DEFAULT_CONFIG: &str = "/etc/containerd/config.toml";
/// dockerd's default config file.
pub const DOCKERD_CONFIG: &str = "/etc/docker/daemon.json";
/// A daemon.json or config.toml larger than this is not read.
const CONFIG_LIMIT: u64 = 1 << 20;

/// Why the system containerd's root could not be proven: one line each.
#[derive(Debug, thiserror::Error)]
pub enum CtrdRootError {
    /// The socket dockerd names cannot be examined inside its root.
    #[error("{socket}: {source} (the containerd socket of dockerd pid {pid}, inside its root)")]
    Socket {
        /// The dockerd.
        pid: u32,
        /// The socket, as dockerd names it.
        socket: String,
        /// The underlying error.
        source: io::Error,
    },
    /// No visible containerd listens on it.
    #[error(
        "no containerd visible here listens on {0} (another pid namespace, or no permission to see its \
         sockets)"
    )]
    NoListener(String),
    /// Several do.
    #[error("several containerd processes ({0:?}) listen on {1}")]
    SeveralListeners(Vec<u32>, String),
    /// Its config file cannot be read or parsed.
    #[error("{path}: {reason} (the config of containerd pid {pid}): its root is unknown")]
    Config {
        /// The containerd.
        pid: u32,
        /// The config file, as containerd names it.
        path: String,
        /// Why.
        reason: String,
    },
    /// Its root cannot be resolved or read here.
    #[error("the root {root} of containerd pid {pid}: {why}")]
    Root {
        /// The containerd.
        pid: u32,
        /// Its root as it names it.
        root: String,
        /// Why.
        why: NotProven,
    },
}

/// The value of option `name` (`--name=V`, `--name V`, `-name=V`, `-name V`: Go's flag parsers take
/// one dash or two) in `args` (after the command); the last one wins.
fn flag(args: &[String], name: &str) -> Option<String> {
    let mut found = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(bare) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) else {
            continue;
        };
        if bare == name {
            found = it.next().cloned();
        } else if let Some(v) = bare.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            found = Some(v.to_string());
        }
    }
    found
}

/// The containerd socket a dockerd with command line `args` uses, given its daemon.json (the text,
/// when there is one): `--containerd`, else `"containerd"` there; None when it runs its own. A
/// `unix://` prefix (which containerd's client accepts) is dropped.
pub fn containerd_socket(args: &[String], daemon_json: Option<&[u8]>) -> Option<String> {
    flag(args, "containerd")
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let v: serde_json::Value = serde_json::from_slice(daemon_json?).ok()?;
            v["containerd"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(String::from)
        })
        .map(|s| s.strip_prefix("unix://").map(String::from).unwrap_or(s))
}

/// The config file of a dockerd with command line `args`.
pub fn dockerd_config(args: &[String]) -> String {
    flag(args, "config-file").unwrap_or_else(|| DOCKERD_CONFIG.into())
}

/// The root of a containerd with command line `args`, given its config file's text (None: no such
/// file): `--root`, else top-level `root =` of the config, else [`DEFAULT_ROOT`]. Err: the config is
/// not TOML.
pub fn containerd_root(args: &[String], config: Option<&str>) -> Result<String, String> {
    if let Some(r) = flag(args, "root") {
        return Ok(r);
    }
    let Some(text) = config else {
        return Ok(DEFAULT_ROOT.into());
    };
    let t: toml::Table = toml::from_str(text).map_err(|e| {
        // toml's messages span lines: the first one.
        e.to_string().lines().next().unwrap_or("").to_string()
    })?;
    match t.get("root") {
        None => Ok(DEFAULT_ROOT.into()),
        Some(toml::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(v) => Err(format!("root = {v} is not a path")),
    }
}

/// The config file of a containerd with command line `args`.
pub fn containerd_config(args: &[String]) -> String {
    flag(args, "config")
        .or_else(|| flag(args, "c"))
        .unwrap_or_else(|| DEFAULT_CONFIG.into())
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let b = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        b.split(|&c| c == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

fn named(args: &[String], cmd: &str) -> bool {
    args.first()
        .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == cmd))
}

/// A file read inside process `pid`'s root: `Ok(None)` when it does not exist.
fn read_opt(pid: u32, path: &str) -> io::Result<Option<Vec<u8>>> {
    match procroot::read_in(pid, Path::new(path), CONFIG_LIMIT) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The containerd socket that dockerd `pid` is configured to use (its command line, else its
/// daemon.json read inside its root); None when it runs its own containerd (or its config cannot be
/// read: then its data root tells, `containerd/daemon/`).
pub fn socket_of_dockerd(pid: u32) -> Option<String> {
    let args = cmdline(pid)?;
    let json = read_opt(pid, &dockerd_config(&args)).ok().flatten();
    containerd_socket(&args, json.as_deref())
}

/// Proves the root of the containerd that dockerd `pid` reaches at `socket` (a path in dockerd's root).
pub fn prove(pid: u32, socket: &str) -> Result<CtrdRootProof, CtrdRootError> {
    let (want, _) =
        procroot::stat_in(pid, Path::new(socket)).map_err(|source| CtrdRootError::Socket {
            pid,
            socket: socket.to_string(),
            source,
        })?;
    let mut listeners: Vec<(u32, Vec<String>)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, cmdline(p)?)))
        .filter(|(p, args)| named(args, "containerd") && dataroot::listens_on(*p, want))
        .collect();
    let (cpid, args) = match listeners.len() {
        1 => listeners.remove(0),
        0 => return Err(CtrdRootError::NoListener(socket.to_string())),
        _ => {
            return Err(CtrdRootError::SeveralListeners(
                listeners.iter().map(|l| l.0).collect(),
                socket.to_string(),
            ));
        }
    };
    let config = containerd_config(&args);
    let cfg_err = |reason: String| CtrdRootError::Config {
        pid: cpid,
        path: config.clone(),
        reason,
    };
    let text = read_opt(cpid, &config).map_err(|e| cfg_err(e.to_string()))?;
    let text = text
        .map(|b| String::from_utf8(b).map_err(|_| cfg_err("not UTF-8".into())))
        .transpose()?;
    let root = containerd_root(&args, text.as_deref()).map_err(cfg_err)?;
    let (path, how) =
        dataroot::resolve_in(cpid, Path::new(&root)).map_err(|why| CtrdRootError::Root {
            pid: cpid,
            root: root.clone(),
            why,
        })?;
    Ok(CtrdRootProof {
        path,
        root,
        how,
        pid: Some(cpid),
        socket: Some(socket.to_string()),
    })
}

/// The containerd root of the engine whose data root `proof` proves, live: a system containerd's
/// (dockerd names its socket), proven by [`prove`]; else dockerd's own, under the data root.
pub fn store_root(
    proof: &crate::model::dataroot::DataRootProof,
) -> Result<std::path::PathBuf, CtrdRootError> {
    match proof
        .pid
        .and_then(|pid| Some((pid, socket_of_dockerd(pid)?)))
    {
        Some((pid, sock)) => prove(pid, &sock).map(|c| c.path),
        None => Ok(proof.path.join(super::containerd::DAEMON_ROOT)),
    }
}

/// The proof for a containerd root named offline (`--containerd-root`).
pub fn named_root(path: &Path) -> CtrdRootProof {
    CtrdRootProof {
        path: path.to_path_buf(),
        root: path.display().to_string(),
        how: crate::model::dataroot::ProofHow::Named,
        pid: None,
        socket: None,
    }
}

/// Where a containerd root read here is: under the data root (dockerd's own) or beside it.
pub fn is_beside(data_root: &Path, ctrd_root: &Path) -> bool {
    !ctrd_root.starts_with(data_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dockerd_names_its_containerd_on_the_command_line_or_in_daemon_json() {
        let debian = v(&[
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--containerd=/run/containerd/containerd.sock",
        ]);
        assert_eq!(
            containerd_socket(&debian, None).as_deref(),
            Some("/run/containerd/containerd.sock")
        );
        let spaced = v(&["dockerd", "--containerd", "/x.sock"]);
        assert_eq!(containerd_socket(&spaced, None).as_deref(), Some("/x.sock"));
        let json =
            br#"{"containerd": "/run/c.sock", "features": {"containerd-snapshotter": true}}"#;
        let plain = v(&["dockerd"]);
        assert_eq!(
            containerd_socket(&plain, Some(json)).as_deref(),
            Some("/run/c.sock")
        );
        // The command line wins over daemon.json (dockerd refuses both; the flag is what it runs).
        assert_eq!(
            containerd_socket(&spaced, Some(json)).as_deref(),
            Some("/x.sock")
        );
        assert_eq!(
            containerd_socket(&v(&["dockerd", "--containerd=unix:///r/c.sock"]), None).as_deref(),
            Some("/r/c.sock")
        );
        assert_eq!(containerd_socket(&plain, Some(b"{}")), None);
        assert_eq!(containerd_socket(&plain, Some(b"not json")), None);
        assert_eq!(containerd_socket(&plain, None), None);
        // `--containerd-namespace` is another option.
        let ns = v(&["dockerd", "--containerd-namespace=x"]);
        assert_eq!(containerd_socket(&ns, None), None);
        assert_eq!(
            dockerd_config(&v(&["dockerd", "--config-file", "/c.json"])),
            "/c.json"
        );
        assert_eq!(dockerd_config(&plain), DOCKERD_CONFIG);
    }

    #[test]
    fn containerds_root_comes_from_its_flag_its_config_or_the_default() {
        let plain = v(&["containerd"]);
        assert_eq!(containerd_root(&plain, None).unwrap(), DEFAULT_ROOT);
        assert_eq!(
            containerd_root(&v(&["containerd", "--root", "/srv/c"]), None).unwrap(),
            "/srv/c"
        );
        assert_eq!(
            containerd_root(&v(&["containerd", "-root=/srv/d"]), Some("root = \"/x\"")).unwrap(),
            "/srv/d"
        );
        // A version 2 config as `containerd config default` writes it, root changed.
        let cfg = "version = 2\nroot = \"/data/containerd\"\nstate = \"/run/containerd\"\n\n\
                   [grpc]\n  address = \"/run/containerd/containerd.sock\"\n";
        assert_eq!(
            containerd_root(&plain, Some(cfg)).unwrap(),
            "/data/containerd"
        );
        // `root` inside a table is not containerd's root.
        assert_eq!(
            containerd_root(&plain, Some("[plugins.x]\nroot = \"/no\"\n")).unwrap(),
            DEFAULT_ROOT
        );
        assert!(containerd_root(&plain, Some("root = ")).is_err());
        assert!(containerd_root(&plain, Some("root = 3")).is_err());
        assert_eq!(
            containerd_config(&v(&["containerd", "-c", "/c.toml"])),
            "/c.toml"
        );
        assert_eq!(
            containerd_config(&v(&["containerd", "--config=/d.toml"])),
            "/d.toml"
        );
        assert_eq!(containerd_config(&plain), DEFAULT_CONFIG);
    }

    #[test]
    fn a_root_beside_the_data_root() {
        assert!(is_beside(
            Path::new("/var/lib/docker"),
            Path::new("/var/lib/containerd")
        ));
        assert!(!is_beside(
            Path::new("/var/lib/docker"),
            Path::new("/var/lib/docker/containerd/daemon")
        ));
    }
}
