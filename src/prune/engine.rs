//! The engine, for `dredge prune`: its facts (images, containers, volumes) and its deletions, one
//! object at a time and never with `force`. The only async code of prune; it exposes synchronous
//! methods over a private current-thread runtime.

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::errors::Error as BErr;
use bollard::query_parameters::{
    DataUsageOptions, ListContainersOptions, ListImagesOptions, ListVolumesOptions,
    RemoveContainerOptions, RemoveImageOptions, RemoveVolumeOptions,
};

use super::PruneError;
use super::facts::{BuildRecord, ContainerFact, Facts, ImageFact, VolumeFact, parse_time};

/// How one deletion went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Deleted (or untagged).
    Done,
    /// The engine refused (409: in use, has children, …): skipped, never retried with force.
    Conflict(String),
    /// Not there (404).
    Gone,
    /// Any other failure.
    Failed(String),
}

/// A connection to the engine.
pub struct Engine {
    rt: tokio::runtime::Runtime,
    d: Docker,
    host: String,
}

fn host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn removal(r: Result<(), BErr>) -> Removal {
    match r {
        Ok(()) => Removal::Done,
        Err(BErr::DockerResponseServerError {
            status_code: 404, ..
        }) => Removal::Gone,
        Err(BErr::DockerResponseServerError {
            status_code: 409,
            message,
        }) => Removal::Conflict(message),
        Err(e) => Removal::Failed(e.to_string()),
    }
}

/// Why a `unix://` engine socket cannot be reached, as the OS says it (permission denied, no such
/// file, connection refused): the HTTP client's own error names only "Connect". None when a plain
/// connect works (the failure is further on) or the host is not a unix socket.
fn socket_cause(host: &str) -> Option<String> {
    let path = host.strip_prefix("unix://")?;
    std::os::unix::net::UnixStream::connect(path)
        .err()
        .map(|e| format!("{path}: {e}"))
}

/// The engine's identity: its `ID` and `DockerRootDir`.
#[derive(Debug, Clone)]
pub struct Identity {
    /// `ID`.
    pub id: String,
    /// `DockerRootDir`.
    pub root: String,
    /// True for the containerd image store (not supported by prune).
    pub containerd_store: bool,
}

/// What [`Engine::gather`] asks the engine beyond the lists and the inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    /// `/system/df`: volume sizes and build-cache records (the engine walks every volume).
    pub df: bool,
    /// Containers' writable-layer sizes (the engine walks every container's layer).
    pub container_sizes: bool,
}

/// Container inspects in flight at once while gathering facts.
pub const INSPECTS_AT_ONCE: usize = 8;

impl Engine {
    /// Connects (DOCKER_HOST, else the default socket) and negotiates the API version.
    pub fn connect() -> Result<Engine, PruneError> {
        let host = host();
        let down =
            |e: String| PruneError::Input(format!("cannot reach the Docker Engine at {host}: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| down(e.to_string()))?;
        let d = rt
            .block_on(async {
                let d = Docker::connect_with_defaults()?;
                d.negotiate_version().await
            })
            .map_err(|e| down(socket_cause(&host).unwrap_or_else(|| e.to_string())))?;
        Ok(Engine { rt, d, host })
    }

    fn answer(&self, what: &str, e: BErr) -> PruneError {
        PruneError::Input(format!(
            "the Docker Engine at {} answered {what} with an error: {e}",
            self.host
        ))
    }

    /// `/info`: the engine's id and data root.
    pub fn identity(&self) -> Result<Identity, PruneError> {
        self.rt.block_on(self.identity_async())
    }

    /// Images, containers and volumes as the engine lists them now, and with `df` volume sizes and
    /// build-cache records (`/system/df`: the engine then walks every volume). Chains and layer sizes
    /// are filled by the caller from the data root.
    pub fn facts(&self, df: bool) -> Result<Facts, PruneError> {
        self.gather(Need {
            df,
            container_sizes: true,
        })
        .map(|(f, _)| f)
    }

    /// The facts of [`Engine::facts`] and the engine's identity, in one concurrent round of requests:
    /// `/info`, the image, container and volume lists and (`need.df`) `/system/df` at once; then every
    /// container's inspect (its `FinishedAt`, `StartedAt`, log path and log config), at most
    /// [`INSPECTS_AT_ONCE`] at a time. With `/system/df` its container list is used (the engine makes
    /// it as `/containers/json?all=1&size=1`), so the engine sizes the writable layers once; without,
    /// the list asks for sizes only with `need.container_sizes` (else a container's `bytes` are its
    /// logs only).
    pub fn gather(&self, need: Need) -> Result<(Facts, Identity), PruneError> {
        use futures_util::StreamExt;
        let d = &self.d;
        self.rt.block_on(async {
            let images = async {
                d.list_images(Some(ListImagesOptions {
                    all: true,
                    ..Default::default()
                }))
                .await
                .map_err(|e| self.answer("/images/json", e))
            };
            let list = async {
                if need.df {
                    return Ok(None);
                }
                d.list_containers(Some(ListContainersOptions {
                    all: true,
                    size: need.container_sizes,
                    ..Default::default()
                }))
                .await
                .map(Some)
                .map_err(|e| self.answer("/containers/json", e))
            };
            let vols = async {
                d.list_volumes(None::<ListVolumesOptions>)
                    .await
                    .map_err(|e| self.answer("/volumes", e))
            };
            let usage = async {
                if !need.df {
                    return Ok(None);
                }
                d.df(None::<DataUsageOptions>)
                    .await
                    .map(Some)
                    .map_err(|e| self.answer("/system/df", e))
            };
            let (id, images, list, vols, mut usage) =
                futures_util::future::try_join5(self.identity_async(), images, list, vols, usage)
                    .await?;
            let images: Vec<ImageFact> = images.into_iter().map(image_fact).collect();
            let list = match list {
                Some(l) => l,
                None => usage
                    .as_mut()
                    .and_then(|u| u.containers.take())
                    .unwrap_or_default(),
            };
            let inspected: Vec<_> = futures_util::stream::iter(list)
                .filter_map(|c| async move { c.id.clone().map(|cid| (cid, c)) })
                .map(|(cid, c)| async move {
                    let r = d
                        .inspect_container(
                            &cid,
                            None::<bollard::query_parameters::InspectContainerOptions>,
                        )
                        .await;
                    (cid, c, r)
                })
                .buffered(INSPECTS_AT_ONCE)
                .collect()
                .await;
            let mut containers = Vec::new();
            for (cid, c, inspected) in inspected {
                let inspected = match inspected {
                    Ok(i) => i,
                    // Removed since it was listed.
                    Err(BErr::DockerResponseServerError {
                        status_code: 404, ..
                    }) => continue,
                    Err(e) => return Err(self.answer("/containers/{id}/json", e)),
                };
                let state = inspected.state.clone().unwrap_or_default();
                let status = state.status.map(|s| s.to_string()).unwrap_or_default();
                let active = !matches!(status.as_str(), "created" | "exited" | "dead");
                let log = log_bytes(
                    inspected.log_path.as_deref(),
                    &std::path::Path::new(&id.root).join("containers").join(&cid),
                );
                let log_config = inspected
                    .host_config
                    .as_ref()
                    .and_then(|h| h.log_config.clone())
                    .unwrap_or_default();
                let driver = log_config.typ.clone().unwrap_or_default();
                let log_file = super::facts::live_log_path(
                    &driver,
                    inspected.log_path.as_deref().unwrap_or(""),
                    &id.root,
                    &cid,
                )
                .and_then(|p| log_file(&p));
                containers.push(ContainerFact {
                    log_file,
                    id: cid,
                    name: inspected
                        .name
                        .as_deref()
                        .unwrap_or("")
                        .trim_start_matches('/')
                        .to_string(),
                    image: inspected
                        .image
                        .clone()
                        .or(c.image_id.clone())
                        .unwrap_or_default(),
                    active,
                    status,
                    started_at: state.started_at.as_deref().and_then(parse_time),
                    finished_at: state.finished_at.as_deref().and_then(parse_time),
                    created: inspected
                        .created
                        .as_deref()
                        .and_then(parse_time)
                        .or(c.created)
                        .unwrap_or(0),
                    volumes: inspected
                        .mounts
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| m.name)
                        .collect(),
                    bytes: c.size_rw.filter(|s| *s > 0).map_or(0, |s| s as u64) + log,
                    log_bytes: log,
                    log_driver: driver,
                    log_opts: log_config.config.unwrap_or_default().into_iter().collect(),
                });
            }
            let mut sizes: HashMap<String, u64> = HashMap::new();
            let mut build_cache = Vec::new();
            if let Some(df) = usage {
                for v in df.volumes.unwrap_or_default() {
                    let s = v.usage_data.map_or(0, |u| u.size.max(0) as u64);
                    sizes.insert(v.name, s);
                }
                for b in df.build_cache.unwrap_or_default() {
                    let Some(id) = b.id else { continue };
                    build_cache.push(BuildRecord {
                        id,
                        bytes: b.size.filter(|s| *s > 0).map_or(0, |s| s as u64),
                        in_use: b.in_use.unwrap_or(true),
                        shared: b.shared.unwrap_or(true),
                        last_used: b
                            .last_used_at
                            .as_deref()
                            .and_then(parse_time)
                            .or(b.created_at.as_deref().and_then(parse_time)),
                        description: b.description.unwrap_or_default(),
                    });
                }
            }
            let volumes = vols
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| VolumeFact {
                    anonymous: v.labels.contains_key("com.docker.volume.anonymous")
                        || crate::model::dataroot::is_hex64(&v.name),
                    bytes: sizes.get(&v.name).copied().unwrap_or(0),
                    created_at: v.created_at.unwrap_or_default(),
                    name: v.name,
                })
                .collect();
            let facts = Facts {
                engine_id: id.id.clone(),
                data_root: id.root.clone(),
                now: now(),
                now_ns: now_ns(),
                images,
                containers,
                volumes,
                build_cache,
                ..Default::default()
            };
            Ok((facts, id))
        })
    }

    /// Fresh facts for re-checking one item, as few requests as it needs: the container list
    /// (no sizes, no inspects: ids, names, image ids, states, mounted volumes), and the image list
    /// (images), the item's own container inspected (containers: its `FinishedAt`), the volume list
    /// (volumes) or `/system/df` (build cache).
    pub fn recheck_facts(&self, kind: super::Kind, id: &str) -> Result<Facts, PruneError> {
        use super::Kind;
        if kind == Kind::BuildCache {
            return self.facts(true);
        }
        let d = &self.d;
        self.rt.block_on(async {
            let list = d
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    ..Default::default()
                }))
                .await
                .map_err(|e| self.answer("/containers/json", e))?;
            let mut containers: Vec<ContainerFact> = list
                .into_iter()
                .filter_map(|c| {
                    let status = c.state.map(|s| s.to_string()).unwrap_or_default();
                    Some(ContainerFact {
                        id: c.id?,
                        name: c
                            .names
                            .unwrap_or_default()
                            .first()
                            .map(|n| n.trim_start_matches('/').to_string())
                            .unwrap_or_default(),
                        image: c.image_id.unwrap_or_default(),
                        active: !matches!(status.as_str(), "created" | "exited" | "dead"),
                        status,
                        volumes: c
                            .mounts
                            .unwrap_or_default()
                            .into_iter()
                            .filter_map(|m| m.name)
                            .collect(),
                        created: c.created.unwrap_or(0),
                        ..Default::default()
                    })
                })
                .collect();
            let mut f = Facts {
                now: now(),
                now_ns: now_ns(),
                ..Default::default()
            };
            match kind {
                Kind::Container => {
                    if let Some(c) = containers.iter_mut().find(|c| c.id == id) {
                        match d
                            .inspect_container(
                                id,
                                None::<bollard::query_parameters::InspectContainerOptions>,
                            )
                            .await
                        {
                            Ok(i) => {
                                let st = i.state.unwrap_or_default();
                                c.started_at = st.started_at.as_deref().and_then(parse_time);
                                c.finished_at = st.finished_at.as_deref().and_then(parse_time);
                                let status = st.status.map(|s| s.to_string()).unwrap_or_default();
                                c.active =
                                    !matches!(status.as_str(), "created" | "exited" | "dead");
                                c.status = status;
                            }
                            Err(BErr::DockerResponseServerError {
                                status_code: 404, ..
                            }) => containers.retain(|c| c.id != id),
                            Err(e) => return Err(self.answer("/containers/{id}/json", e)),
                        }
                    }
                }
                Kind::Image => {
                    f.images = d
                        .list_images(Some(ListImagesOptions {
                            all: true,
                            ..Default::default()
                        }))
                        .await
                        .map_err(|e| self.answer("/images/json", e))?
                        .into_iter()
                        .map(image_fact)
                        .collect();
                }
                Kind::Volume => {
                    f.volumes = d
                        .list_volumes(None::<ListVolumesOptions>)
                        .await
                        .map_err(|e| self.answer("/volumes", e))?
                        .volumes
                        .unwrap_or_default()
                        .into_iter()
                        .map(|v| VolumeFact {
                            anonymous: crate::model::dataroot::is_hex64(&v.name),
                            created_at: v.created_at.unwrap_or_default(),
                            name: v.name,
                            bytes: 0,
                        })
                        .collect();
                }
                _ => {}
            }
            f.containers = containers;
            Ok(f)
        })
    }

    async fn identity_async(&self) -> Result<Identity, PruneError> {
        let i = self.d.info().await.map_err(|e| self.answer("/info", e))?;
        let containerd_store = i.driver_status.as_ref().is_some_and(|s| {
            s.iter()
                .flatten()
                .any(|v| v.contains("containerd.snapshotter"))
        });
        Ok(Identity {
            id: i.id.unwrap_or_default(),
            root: i.docker_root_dir.unwrap_or_default(),
            containerd_store,
        })
    }

    /// `DELETE /containers/{id}` (no force, no volumes).
    pub fn remove_container(&self, id: &str) -> Removal {
        removal(self.rt.block_on(self.d.remove_container(
            id,
            Some(RemoveContainerOptions {
                force: false,
                v: false,
                link: false,
            }),
        )))
    }

    /// `DELETE /volumes/{name}` (no force).
    pub fn remove_volume(&self, name: &str) -> Removal {
        removal(
            self.rt.block_on(
                self.d
                    .remove_volume(name, Some(RemoveVolumeOptions { force: false })),
            ),
        )
    }

    /// `DELETE /images/{name}` (no force, no pruning of untagged parents): with a reference, untags
    /// it (and deletes the image if it was its last); with an id, deletes the image.
    pub fn remove_image(&self, name: &str) -> Removal {
        removal(
            self.rt
                .block_on(self.d.remove_image(
                    name,
                    Some(RemoveImageOptions {
                        force: false,
                        noprune: true,
                    }),
                    None,
                ))
                .map(|_| ()),
        )
    }

    /// `POST /build/prune` of exactly one record (`id` filter, `all` so that its type does not
    /// matter; BuildKit never prunes a record in use). The ids the engine says it deleted.
    pub fn prune_build_record(&self, id: &str) -> Result<Vec<String>, String> {
        let mut filters = HashMap::new();
        filters.insert("id".to_string(), vec![id.to_string()]);
        self.rt
            .block_on(
                self.d
                    .prune_build(Some(bollard::query_parameters::PruneBuildOptions {
                        all: Some(true),
                        filters: Some(filters),
                        ..Default::default()
                    })),
            )
            .map(|r| r.caches_deleted.unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Ids of every container the engine lists now (`/containers/json?all=1`, no sizes): for the
    /// orphans' re-check, a container the engine knows is never an orphan, whatever its files say.
    pub fn container_ids(&self) -> Result<std::collections::HashSet<String>, PruneError> {
        self.rt.block_on(async {
            self.d
                .list_containers(Some(ListContainersOptions {
                    all: true,
                    ..Default::default()
                }))
                .await
                .map(|l| l.into_iter().filter_map(|c| c.id).collect())
                .map_err(|e| self.answer("/containers/json", e))
        })
    }

    /// Whether an object still exists (for settling an interrupted step).
    pub fn exists(&self, kind: super::Kind, id: &str) -> Result<bool, String> {
        use super::Kind;
        if kind == Kind::BuildCache {
            return self
                .facts(true)
                .map(|f| f.build_cache.iter().any(|r| r.id == id))
                .map_err(|e| e.to_string());
        }
        let r = self.rt.block_on(async {
            match kind {
                Kind::Image => self.d.inspect_image(id).await.map(|_| ()),
                Kind::Container => self
                    .d
                    .inspect_container(
                        id,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await
                    .map(|_| ()),
                Kind::Volume => self.d.inspect_volume(id).await.map(|_| ()),
                _ => Ok(()),
            }
        });
        match r {
            Ok(()) => Ok(true),
            Err(BErr::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(BErr::JsonSerdeError { .. }) => Ok(true),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Bytes of a container's logs: json-file's `LogPath` and its rotations (`.1`, `.2.gz`, …), and the
/// local driver's `local-logs/` under the container's dir (apparent sizes; 0 where unreadable).
fn log_bytes(log_path: Option<&str>, dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Some(p) = log_path.filter(|p| !p.is_empty()).map(std::path::Path::new)
        && let (Some(parent), Some(name)) = (p.parent(), p.file_name())
    {
        for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&*name.to_string_lossy())
                && let Ok(m) = e.metadata()
                && m.is_file()
            {
                total += m.len();
            }
        }
    }
    for e in std::fs::read_dir(dir.join("local-logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(m) = e.metadata()
            && m.is_file()
        {
            total += m.len();
        }
    }
    total
}

/// The container's live log file, when it is a regular file (not followed through a link).
fn log_file(path: &str) -> Option<super::facts::LogFile> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    m.is_file().then(|| super::facts::LogFile {
        path: path.to_string(),
        dev: m.dev(),
        inode: m.ino(),
        size: m.len(),
        allocated: m.blocks() * 512,
    })
}

/// Now, seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Now, nanoseconds since the epoch: what modification times (`st_mtim`, nanoseconds) are compared
/// with, so that a grace period is measured to the nanosecond and not from the start of this second.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

// `dredge prune --held`: what the engine knows of a container holding deleted files, and its restart.
impl Engine {
    /// `GET /containers/{id}/json`, reduced to what `--held` decides on. None: no such container.
    pub fn held_container(&self, id: &str) -> Result<Option<super::facts::HeldContainer>, String> {
        let r = self.rt.block_on(self.d.inspect_container(
            id,
            None::<bollard::query_parameters::InspectContainerOptions>,
        ));
        let c = match r {
            Ok(c) => c,
            Err(BErr::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let state = c.state.unwrap_or_default();
        let host = c.host_config.unwrap_or_default();
        Ok(Some(super::facts::HeldContainer {
            id: c.id.unwrap_or_default(),
            name: c
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            running: state.running.unwrap_or(false),
            started_at: state.started_at.unwrap_or_default(),
            restart_policy: host
                .restart_policy
                .and_then(|p| p.name)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            log_driver: host.log_config.and_then(|l| l.typ).unwrap_or_default(),
            log_path: c.log_path.unwrap_or_default(),
        }))
    }

    /// `POST /containers/{id}/restart` (the engine's default stop timeout).
    pub fn restart_container(&self, id: &str) -> Removal {
        removal(self.rt.block_on(self.d.restart_container(
            id,
            None::<bollard::query_parameters::RestartContainerOptions>,
        )))
    }
}

/// An image as `/images/json` lists it: its tags without the `<none>:<none>` placeholder.
fn image_fact(i: bollard::models::ImageSummary) -> ImageFact {
    ImageFact {
        id: i.id,
        tags: i
            .repo_tags
            .into_iter()
            .filter(|t| t != "<none>:<none>")
            .collect(),
        parent: Some(i.parent_id).filter(|p| !p.is_empty()),
        created: i.created,
        labels: i.labels.into_iter().collect::<BTreeMap<_, _>>(),
        chain: Vec::new(),
        held_by_lease: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_socket_names_the_os_cause() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("unix://{}/d.sock", dir.path().display());
        let why = socket_cause(&missing).unwrap();
        assert!(why.contains("No such file"), "{why}");
        assert_eq!(socket_cause("tcp://127.0.0.1:2375"), None);
        let path = dir.path().join("live.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(socket_cause(&format!("unix://{}", path.display())), None);
    }
}
