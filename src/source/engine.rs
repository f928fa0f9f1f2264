//! The live engine, through bollard. The only module that knows tokio or bollard: it exposes
//! synchronous functions that run a private current-thread runtime and return plain data.
//!
//! Honours `DOCKER_HOST` (bollard's `connect_with_defaults`) and negotiates the API version down to the
//! daemon's (Docker 20.10 speaks 1.41). bollard 0.19 is used on purpose: its `/system/df` types still
//! carry the legacy fields (`LayersSize`, `Images`, `Containers`, `Volumes`, `BuildCache`) that every
//! engine before API 1.52 answers with; later bollard releases only decode the 1.52+ form.

use bollard::Docker;
use bollard::query_parameters::DataUsageOptions;

/// Why the engine could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answers (not running, wrong `DOCKER_HOST`, no permission on the socket).
    #[error("cannot reach the Docker Engine at {host}: {reason}")]
    Unreachable {
        /// Where we looked.
        host: String,
        /// What failed.
        reason: String,
    },
    /// The engine answered with an error.
    #[error("the Docker Engine at {host} answered {what} with an error: {reason}")]
    Answer {
        /// Where we looked.
        host: String,
        /// Which request.
        what: &'static str,
        /// The error.
        reason: String,
    },
}

pub use crate::model::engine::{EngineDiskUsage, EngineFacts};

fn host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn runtime() -> Result<tokio::runtime::Runtime, EngineError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| EngineError::Unreachable {
            host: host(),
            reason: format!("cannot start the I/O runtime: {e}"),
        })
}

async fn connect() -> Result<Docker, EngineError> {
    let unreachable = |e: bollard::errors::Error| EngineError::Unreachable {
        host: host(),
        reason: e.to_string(),
    };
    let d = Docker::connect_with_defaults().map_err(unreachable)?;
    d.negotiate_version().await.map_err(unreachable)
}

/// API 1.41 (Docker 20.10), which engines from 20.10 to 28 all accept: asked first, it saves the
/// `/version` round trip of a negotiation (15-20 ms on a 20.10 daemon, which runs `runc --version`
/// and asks containerd for it); an engine that refuses it (Engine 29 wants 1.44 or newer) answers 400
/// and is then negotiated with.
const FIRST_TRY: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// A client on a unix socket speaking [`FIRST_TRY`], or None for other transports.
fn connect_first_try() -> Option<Docker> {
    let h = host();
    if !h.starts_with("unix://") {
        return None;
    }
    Docker::connect_with_unix(&h, 120, &FIRST_TRY).ok()
}

/// `/info` with the first-try client, else (another transport, or a 400 for the API version) through
/// a negotiated one; the client used comes back with the answer.
async fn info() -> Result<(Docker, bollard::models::SystemInfo), EngineError> {
    let answer = |e: bollard::errors::Error| EngineError::Answer {
        host: host(),
        what: "/info",
        reason: e.to_string(),
    };
    if let Some(d) = connect_first_try() {
        match d.info().await {
            Ok(i) => return Ok((d, i)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 400, ..
            }) => {}
            Err(e @ bollard::errors::Error::DockerResponseServerError { .. }) => {
                return Err(answer(e));
            }
            Err(e) => {
                return Err(EngineError::Unreachable {
                    host: host(),
                    reason: e.to_string(),
                });
            }
        }
    }
    let d = connect().await?;
    let i = d.info().await.map_err(answer)?;
    Ok((d, i))
}

fn nonneg(v: Option<i64>) -> u64 {
    v.filter(|v| *v > 0).map_or(0, |v| v as u64)
}

/// Asks the engine (synchronously) for its version, root dir and driver, and with `disk_usage` also for
/// its own `/system/df` figures (slow on a busy host: the daemon walks every container and volume).
pub fn facts(disk_usage: bool) -> Result<EngineFacts, EngineError> {
    runtime()?.block_on(async {
        let (d, info) = info().await?;
        let containerd_store = info
            .driver_status
            .as_ref()
            .is_some_and(|s| s.iter().flatten().any(|v| v.contains("containerd.snapshotter")));
        let mut f = EngineFacts {
            host: host(),
            server_version: info.server_version.clone(),
            api_version: d.client_version().to_string(),
            id: info.id.clone().filter(|i| !i.is_empty()),
            root_dir: info.docker_root_dir.clone(),
            driver: info.driver.clone(),
            containerd_store,
            disk_usage: None,
            warnings: Vec::new(),
        };
        if !disk_usage {
            return Ok(f);
        }
        match d.df(None::<DataUsageOptions>).await {
            Ok(df) => {
                let mut u = EngineDiskUsage {
                    images_bytes: nonneg(df.layers_size),
                    ..Default::default()
                };
                let images = df.images.unwrap_or_default();
                u.images = images.len() as u64;
                // As the docker CLI: what no container's image keeps for itself.
                let used: u64 = images
                    .iter()
                    .filter(|i| i.containers > 0 && i.size >= 0 && i.shared_size >= 0)
                    .map(|i| nonneg(Some(i.size - i.shared_size)))
                    .sum();
                u.reclaimable.images_bytes = u.images_bytes.saturating_sub(used);
                let containers = df.containers.unwrap_or_default();
                u.containers = containers.len() as u64;
                for c in containers {
                    use bollard::models::ContainerSummaryStateEnum as S;
                    let size = nonneg(c.size_rw);
                    u.containers_bytes += size;
                    if !matches!(c.state, Some(S::RUNNING | S::PAUSED | S::RESTARTING)) {
                        u.reclaimable.containers_bytes += size;
                    }
                    if let Some(id) = c.id {
                        u.container_sizes.push((id, size));
                    }
                }
                let volumes = df.volumes.unwrap_or_default();
                u.volumes = volumes.len() as u64;
                for v in volumes {
                    let unused = v.usage_data.as_ref().is_some_and(|d| d.ref_count == 0);
                    let size = nonneg(v.usage_data.map(|d| d.size));
                    u.volumes_bytes += size;
                    if unused {
                        u.reclaimable.volumes_bytes += size;
                    }
                    u.volume_sizes.push((v.name, size));
                }
                let cache = df.build_cache.unwrap_or_default();
                u.build_cache_records = cache.len() as u64;
                u.build_cache_bytes = cache
                    .iter()
                    .filter(|c| c.shared != Some(true))
                    .map(|c| nonneg(c.size))
                    .sum();
                u.reclaimable.build_cache_bytes = cache
                    .iter()
                    .filter(|c| c.shared != Some(true) && c.in_use != Some(true))
                    .map(|c| nonneg(c.size))
                    .sum();
                f.disk_usage = Some(u);
            }
            Err(e) => f.warnings.push(format!(
                "the engine's /system/df answer could not be read ({e}); its own figures are omitted"
            )),
        }
        Ok(f)
    })
}

/// Why an image could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The engine could not be asked.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The engine does not know the image.
    #[error("the Docker Engine at {host} has no image {name}")]
    NoSuchImage {
        /// Where we looked.
        host: String,
        /// The reference asked for.
        name: String,
    },
}

/// True when the engine answers and knows `name` (a tag, digest or id).
pub fn has_image(name: &str) -> Result<bool, EngineError> {
    runtime()?.block_on(async {
        let d = connect().await?;
        match d.inspect_image(name).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            // Answered, but in a shape this bollard does not decode: the image exists.
            Err(bollard::errors::Error::JsonSerdeError { .. }) => Ok(true),
            Err(e) => Err(EngineError::Answer {
                host: host(),
                what: "/images/{name}/json",
                reason: e.to_string(),
            }),
        }
    })
}

/// The engine's `docker save` tar of one image, as a synchronous reader. A thread runs the transfer
/// and hands chunks over a small bounded channel, so memory stays a few chunks whatever the image size.
pub struct ImageExport {
    rx: std::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
    chunk: Vec<u8>,
    pos: usize,
    worker: Option<std::thread::JoinHandle<()>>,
}

/// Starts streaming the export (`GET /images/{name}/get`) of an image the engine knows.
pub fn export_image(name: &str) -> Result<ImageExport, ExportError> {
    if !has_image(name)? {
        return Err(ExportError::NoSuchImage {
            host: host(),
            name: name.to_string(),
        });
    }
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, String>>(8);
    let name = name.to_string();
    let worker = std::thread::spawn(move || {
        use futures_util::StreamExt;
        rt.block_on(async move {
            let d = match connect().await {
                Ok(d) => d,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let mut s = d.export_image(&name);
            while let Some(item) = s.next().await {
                let msg = item.map(|b| b.to_vec()).map_err(|e| e.to_string());
                let stop = msg.is_err();
                // The reader went away (an error downstream): stop transferring.
                if tx.send(msg).is_err() || stop {
                    return;
                }
            }
        });
    });
    Ok(ImageExport {
        rx,
        chunk: Vec::new(),
        pos: 0,
        worker: Some(worker),
    })
}

impl std::io::Read for ImageExport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.rx.recv() {
                Ok(Ok(c)) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    return Err(std::io::Error::other(format!(
                        "image export from the engine failed: {e}"
                    )));
                }
                Err(_) => return Ok(0), // the transfer ended
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ImageExport {
    fn drop(&mut self) {
        // Dropping the receiver makes the worker's next send fail, which ends it.
        let (_, dead) = std::sync::mpsc::sync_channel(0);
        self.rx = dead;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
