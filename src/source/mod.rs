//! Where layers come from. Every source (a `docker save` archive in either layout, an OCI layout
//! directory or archive, standard input) yields the same [`Image`]; nothing downstream knows which.

pub mod bbolt;
mod container;
pub mod containerd;
pub mod containerd_api;
pub mod dataroot;
pub mod engine;
pub mod held;
mod layer;
mod manifest;
mod overlay;
pub mod procroot;
pub mod rootfs;
pub mod syscontainerd;
mod verify;

use std::collections::HashSet;
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use layer::LayerError;

use crate::model::{Image, Layer, Paths, hex};
use crate::text::escape;
use container::{Container, DirContainer, StreamContainer, TarFile};

/// Why an image could not be read. Every variant names the file, and the member or layer. Messages are
/// one line: every input-derived part (paths, member names, tar fields, JSON errors) is shown through
/// [`escape`], so a crafted archive cannot put line breaks or terminal escape sequences on stderr.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source could not be opened or read.
    #[error("{}: {}", escape(.path), escape(&.source.to_string()))]
    Io {
        /// The path named by the user.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The source is not an image archive or layout.
    #[error("{}: not an image: {}", escape(.path), escape(.reason))]
    NotAnImage {
        /// The path named by the user.
        path: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// A member of the archive (manifest, config, blob) is missing or malformed.
    #[error("{}: {}: {}", escape(.archive), escape(.member), escape(.reason))]
    Member {
        /// The archive or directory.
        archive: String,
        /// The member.
        member: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer could not be read.
    #[error("{}: layer {index} ({}): {error}", escape(.archive), escape(.member))]
    Layer {
        /// The archive or directory.
        archive: String,
        /// The layer's position, 0 = base.
        index: usize,
        /// The member holding it.
        member: String,
        /// What went wrong, and where in the layer.
        error: LayerError,
    },
    /// The manifest (or index) and the config describe different images: not the same number of
    /// layers, or a layer whose tar is not the one the config's diff id names.
    #[error("{}: manifest {} and config {} disagree: {}", escape(.archive), escape(.manifest), escape(.config), escape(.reason))]
    Disagree {
        /// The archive or directory.
        archive: String,
        /// The member listing the layers (`manifest.json`, or a manifest blob).
        manifest: String,
        /// The config member.
        config: String,
        /// How they disagree.
        reason: String,
    },
}

/// Reports progress while layers are listed. Implementations must be cheap and thread-safe.
pub trait Progress: Sync {
    /// Listing begins; `layers` is known once the manifest has been read (0 for a stream).
    fn start(&self, layers: usize);
    /// One more layer has been listed.
    fn layer_done(&self, member: &str);
}

/// A progress sink that reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: usize) {}
    fn layer_done(&self, _: &str) {}
}

/// Options for reading an image.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Worker threads for listing layers (at least 1).
    pub threads: usize,
    /// Hash file contents while streaming, for sources that cannot be read twice (duplicates search).
    pub hash_streamed: bool,
    /// Read every blob whole and check it (`--verify`): its sha256 against its name and descriptor, its
    /// length against the descriptor, the decompressed tar's sha256 against the config's diff id. An
    /// image named from the engine is then read from its export, whose blobs can be checked.
    pub verify: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hash_streamed: false,
            verify: false,
        }
    }
}

/// An image read from a source, with a way back to the source's bytes for content hashing.
pub struct Opened {
    /// The image.
    pub image: Image,
    /// Where the bytes are; `None` for images read from the storage driver's directories, whose files
    /// were hashed while listing when that was asked for.
    container: Option<Container>,
    members: Vec<String>,
}

impl Opened {
    /// Hashes (sha256) the regular files of layer `index` whose data starts at one of `offsets`.
    /// Sources read once (standard input) hashed every file while listing and return nothing here.
    pub fn hash_files(
        &self,
        index: usize,
        offsets: &HashSet<u64>,
    ) -> Result<Vec<(u64, [u8; 32])>, SourceError> {
        let Some(container) = &self.container else {
            return Ok(Vec::new());
        };
        let member = &self.members[index];
        container
            .hash_layer(member, offsets)
            .map_err(|error| SourceError::Layer {
                archive: container.label().to_string(),
                index,
                member: member.clone(),
                error,
            })
    }
}

/// Opens `spec`: `-` for standard input, a directory (OCI layout or unpacked save), or a tar file.
pub fn open(spec: &str, opts: LoadOptions, progress: &dyn Progress) -> Result<Opened, SourceError> {
    let mut planned = None;
    let mut container = if spec == "-" {
        progress.start(0);
        let stdin = io::stdin().lock();
        Container::Stream(StreamContainer::read(
            stdin,
            opts.hash_streamed,
            opts.verify,
            |m| progress.layer_done(m),
        )?)
    } else if !Path::new(spec).exists() && engine_ref(spec) {
        // Not a file: an image the engine knows. Straight from the storage driver's directories when the
        // data root is here and readable, else from the engine's export as a stream (like stdin).
        if let Some((c, plan)) = open_from_containerd(spec)? {
            planned = Some(plan);
            Container::Dir(c)
        } else if let Some(image) = open_from_data_root(spec, opts, progress)? {
            return Ok(Opened {
                members: image.layers.iter().map(|l| l.origin.clone()).collect(),
                image,
                container: None,
            });
        } else {
            progress.start(0);
            let export = engine::export_image(spec).map_err(|e| SourceError::NotAnImage {
                path: spec.to_string(),
                reason: format!("no such file, and {e}"),
            })?;
            Container::Stream(StreamContainer::read(
                export,
                opts.hash_streamed,
                opts.verify,
                |m| progress.layer_done(m),
            )?)
        }
    } else {
        let path = Path::new(spec);
        let meta = std::fs::metadata(path).map_err(|e| SourceError::Io {
            path: spec.to_string(),
            source: e,
        })?;
        if meta.is_dir() {
            Container::Dir(DirContainer::open(path)?)
        } else {
            Container::TarFile(TarFile::open(path)?)
        }
    };
    let plan = match planned {
        Some(p) => p,
        None => manifest::plan(&container)?,
    };
    let config = manifest::read_config(&container, &plan)?;
    if opts.verify {
        verify_small_blobs(&container, &plan, &config.bytes)?;
    }
    if !matches!(container, Container::Stream(_)) {
        progress.start(plan.layer_members.len());
    }
    let mut listings = list_all(
        &container,
        &plan.layer_members,
        opts.threads,
        opts.verify,
        progress,
    )?;
    if let Container::Stream(s) = &mut container {
        s.drop_listings();
    }
    if opts.verify {
        verify_layers(&container, &plan, &config, &listings)?;
    }
    let paths = merge_paths(listings.iter_mut().map(|(l, _, _)| l));
    let layers = listings
        .into_iter()
        .zip(config.diff_ids)
        .zip(config.history)
        .enumerate()
        .map(|(index, (((listing, blob_bytes, _), diff_id), history))| {
            let entries = listing.entries;
            Layer {
                index,
                diff_id,
                origin: plan.layer_members[index].clone(),
                compression: listing.compression,
                blob_bytes,
                stored_as_link: container.is_link(&plan.layer_members[index]),
                history,
                entries,
                hashes: listing.hashes,
            }
        })
        .collect();
    let mut warnings = plan.warnings;
    warnings.extend(config.warnings);
    let id = format!("sha256:{}", hex(&Sha256::digest(&config.bytes)));
    Ok(Opened {
        image: Image {
            source: spec.to_string(),
            format: plan.format,
            id: Some(id),
            tags: plan.tags,
            paths,
            layers,
            warnings,
        },
        container: Some(container),
        members: plan.layer_members,
    })
}

/// `--verify` for the manifest and config: each blob's sha256 against its name and its descriptor.
fn verify_small_blobs(
    c: &Container,
    plan: &manifest::Plan,
    config: &[u8],
) -> Result<(), SourceError> {
    let member_err = |member: &str, reason: String| SourceError::Member {
        archive: c.label().to_string(),
        member: member.to_string(),
        reason,
    };
    if let Some((expected, sha, len)) = &plan.manifest_blob {
        verify::check_blob(&plan.manifest_member, Some(expected), sha, *len)
            .map_err(|r| member_err(&plan.manifest_member, r))?;
    }
    let sha: [u8; 32] = Sha256::digest(config).into();
    verify::check_blob(
        &plan.config_member,
        plan.config_expected.as_ref(),
        &sha,
        config.len() as u64,
    )
    .map_err(|r| member_err(&plan.config_member, r))
}

/// `--verify` for the layers: each blob against its name and descriptor, each tar against its diff id.
fn verify_layers(
    c: &Container,
    plan: &manifest::Plan,
    config: &manifest::ConfigInfo,
    listings: &[Listed],
) -> Result<(), SourceError> {
    for (index, (_, _, digests)) in listings.iter().enumerate() {
        let member = &plan.layer_members[index];
        let Some(d) = digests else {
            continue; // not read whole: cannot happen under --verify, and nothing to compare
        };
        let expected = plan.layer_expected.get(index).and_then(Option::as_ref);
        verify::check_blob(member, expected, &d.blob, d.blob_len).map_err(|reason| {
            SourceError::Layer {
                archive: c.label().to_string(),
                index,
                member: member.clone(),
                error: LayerError {
                    entry: None,
                    reason,
                },
            }
        })?;
        let diff_id = config.diff_ids.get(index).and_then(Option::as_deref);
        verify::check_diff_id(diff_id, &d.diff).map_err(|reason| SourceError::Disagree {
            archive: c.label().to_string(),
            manifest: plan.manifest_member.clone(),
            config: plan.config_member.clone(),
            reason: format!("layer {index} ({member}): {reason}"),
        })?;
    }
    Ok(())
}

/// Reads `spec` from the engine's overlay2 data root when it is local, readable and knows the image.
/// `DREDGE_EXPORT=1` skips this (the export is then read, as for a remote engine).
fn open_from_data_root(
    spec: &str,
    opts: LoadOptions,
    progress: &dyn Progress,
) -> Result<Option<Image>, SourceError> {
    // `--verify` checks blobs, which only the export has.
    if opts.verify || std::env::var_os("DREDGE_EXPORT").is_some_and(|v| v == "1") {
        return Ok(None);
    }
    let Ok(facts) = engine::facts(false) else {
        return Ok(None); // the export path says clearly why the engine cannot be reached
    };
    if facts.containerd_store || facts.driver.as_deref() != Some("overlay2") {
        return Ok(None);
    }
    // Only a directory proven to be this engine's own data root (the dockerd serving DOCKER_HOST, seen
    // through its /proc/PID/root); otherwise the export, which is the engine's word.
    let Ok(proof) = dataroot::prove_engine_root(&facts) else {
        return Ok(None);
    };
    let root = proof.path;
    let Some(found) = overlay::find(&root, spec) else {
        return Ok(None);
    };
    // `docker save` wrote the legacy layout (repeated layers as symlinks) before Engine 25.0.
    let major = facts
        .server_version
        .as_deref()
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    let legacy_save = major.is_none_or(|m| m < 25);
    overlay::open(
        &root,
        spec,
        found,
        opts.threads,
        opts.hash_streamed,
        legacy_save,
        progress,
    )
    .map(Some)
}

/// Reads `spec` straight from the engine's containerd content store (an OCI blob store) when the
/// engine uses the containerd image store, runs its own containerd under a data root proven to be its
/// own (or a system containerd whose root is proven, `syscontainerd`), and knows the image. The
/// blobs are those `docker save` writes, so the figures are the same. `DREDGE_EXPORT=1` skips this.
fn open_from_containerd(spec: &str) -> Result<Option<(DirContainer, manifest::Plan)>, SourceError> {
    if std::env::var_os("DREDGE_EXPORT").is_some_and(|v| v == "1") {
        return Ok(None);
    }
    let Ok(facts) = engine::facts(false) else {
        return Ok(None);
    };
    if !facts.containerd_store {
        return Ok(None);
    }
    let Ok(proof) = dataroot::prove_engine_root(&facts) else {
        return Ok(None);
    };
    // A system containerd's root (dockerd names its socket), proven; else dockerd's own, under the
    // data root.
    let Ok(root) = syscontainerd::store_root(&proof) else {
        return Ok(None);
    };
    // Unreadable metadata or an unknown image: the engine's export says why.
    let Ok(Some(t)) = containerd::find_image(&root, spec) else {
        return Ok(None);
    };
    let dir = DirContainer::open(&root.join(containerd::CONTENT))?;
    let c = Container::Dir(dir);
    let plan = manifest::plan_target(&c, &t.name, &t.digest, &t.media_type, t.size)?;
    match c {
        Container::Dir(d) => Ok(Some((d, plan))),
        _ => Ok(None),
    }
}

/// True when `spec` could name an image (`name[:tag]`, `name@sha256:…`, an id) rather than a path:
/// no path separator it would need as a file (`./`, `/` at the start, or an archive extension).
fn engine_ref(spec: &str) -> bool {
    const FILE_ENDINGS: &[&str] = &[".tar", ".tar.gz", ".tgz", ".tar.zst", ".json", ".oci"];
    !spec.is_empty()
        && !spec.starts_with('/')
        && !spec.starts_with('.')
        && !spec.ends_with('/')
        && !FILE_ENDINGS.iter().any(|e| spec.ends_with(e))
}

/// One path table for all layers: the largest listing's table becomes the image's (its entries keep
/// their ids), every other one is absorbed into it and its entries renumbered. Each listing's own
/// table is freed as soon as it is absorbed.
pub(crate) fn merge_paths<'a>(listings: impl Iterator<Item = &'a mut layer::Listing>) -> Paths {
    let mut listings: Vec<&mut layer::Listing> = listings.collect();
    let Some(big) = (0..listings.len()).max_by_key(|&i| listings[i].paths.len()) else {
        return Paths::new();
    };
    let mut paths = std::mem::take(&mut listings[big].paths);
    for (i, l) in listings.iter_mut().enumerate() {
        if i != big {
            paths.absorb(std::mem::take(&mut l.paths), &mut l.entries);
        }
    }
    paths.shrink_to_fit();
    paths
}

/// One layer's listing, its blob's length, and its digests when verifying.
type Listed = (layer::Listing, u64, Option<layer::Digests>);

/// Lists every layer, several at once when the container allows it. Errors name the first failing layer.
fn list_all(
    c: &Container,
    members: &[String],
    threads: usize,
    verify: bool,
    progress: &dyn Progress,
) -> Result<Vec<Listed>, SourceError> {
    let workers = if matches!(c, Container::Stream(_)) {
        1
    } else {
        threads
    };
    crate::par::map(members, workers, |_, member| {
        let r = c.list_layer(member, verify);
        if !matches!(c, Container::Stream(_)) {
            progress.layer_done(member); // a stream reported its layers as they went by
        }
        r
    })
    .into_iter()
    .enumerate()
    .map(|(index, r)| {
        r.map_err(|error| SourceError::Layer {
            archive: c.label().to_string(),
            index,
            member: members[index].clone(),
            error,
        })
    })
    .collect()
}
