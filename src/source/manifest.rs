//! Finding an image inside a container: `index.json` (OCI layouts, Docker 25+ saves) first, then the
//! legacy `manifest.json`. The result is a plan: where the config is and which members are the layers.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::SourceError;
use super::container::Container;
use crate::model::History;
use crate::text::escape;

/// Media types of an image index (nested indexes are followed).
const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// How deep nested indexes are followed.
const MAX_INDEX_DEPTH: usize = 4;

/// What a descriptor says a blob is (OCI manifests and indexes; a legacy `manifest.json` has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    /// `algorithm:hex`.
    pub digest: String,
    /// Length in bytes, when given.
    pub size: Option<u64>,
}

/// Which members make up the image.
#[derive(Debug)]
pub(crate) struct Plan {
    pub format: &'static str,
    /// The member that lists the layers: `manifest.json`, or the manifest blob an index names.
    pub manifest_member: String,
    /// What the index's descriptor says of the manifest blob, and the blob's sha256 and length.
    pub manifest_blob: Option<(Expected, [u8; 32], u64)>,
    pub config_member: String,
    /// What the manifest's descriptor says of the config.
    pub config_expected: Option<Expected>,
    pub layer_members: Vec<String>,
    /// What the manifest's descriptors say of the layers, one per layer (legacy manifests: none).
    pub layer_expected: Vec<Option<Expected>>,
    pub tags: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Deserialize)]
struct LegacyItem {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// The parts of an image config the analysis uses.
#[derive(Deserialize, Default)]
pub(crate) struct Config {
    #[serde(default)]
    rootfs: Option<RootFs>,
    #[serde(default)]
    history: Vec<HistoryItem>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct HistoryItem {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

fn parse<'a, T: Deserialize<'a>>(
    c: &Container,
    member: &str,
    bytes: &'a [u8],
) -> Result<T, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Member {
        archive: c.label().to_string(),
        member: member.to_string(),
        reason: format!("invalid JSON: {e}"),
    })
}

/// `sha256:<hex>` to `blobs/sha256/<hex>`, refusing digests that could name anything else.
fn blob_path(c: &Container, digest: &str) -> Result<String, SourceError> {
    let bad = || SourceError::Member {
        archive: c.label().to_string(),
        member: digest.to_string(),
        reason: "not a valid digest".into(),
    };
    let (alg, enc) = digest.split_once(':').ok_or_else(bad)?;
    let alg_ok = !alg.is_empty()
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let enc_ok = !enc.is_empty()
        && enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b));
    if !alg_ok || !enc_ok {
        return Err(bad());
    }
    Ok(format!("blobs/{alg}/{enc}"))
}

/// Works out which members hold the image.
pub(crate) fn plan(c: &Container) -> Result<Plan, SourceError> {
    if c.has("index.json") {
        return plan_index(c);
    }
    if c.has("manifest.json") {
        return plan_legacy(c);
    }
    Err(SourceError::NotAnImage {
        path: c.label().to_string(),
        reason: "no index.json or manifest.json (not a docker save archive or OCI layout)".into(),
    })
}

fn plan_legacy(c: &Container) -> Result<Plan, SourceError> {
    let bytes = c.read_small("manifest.json")?;
    let items: Vec<LegacyItem> = parse(c, "manifest.json", &bytes)?;
    let mut warnings = Vec::new();
    let Some(first) = items
        .into_iter()
        .enumerate()
        .map(|(i, it)| {
            if i > 0 {
                warnings.push(format!(
                    "the archive holds more than one image; analysing the first ({})",
                    escape(c.label())
                ));
            }
            it
        })
        .next()
    else {
        return Err(SourceError::Member {
            archive: c.label().to_string(),
            member: "manifest.json".into(),
            reason: "lists no image".into(),
        });
    };
    let layer_expected = vec![None; first.layers.len()];
    Ok(Plan {
        format: "docker-archive",
        manifest_member: "manifest.json".into(),
        manifest_blob: None,
        config_member: first.config,
        config_expected: None,
        layer_members: first.layers,
        layer_expected,
        tags: first.repo_tags.unwrap_or_default(),
        warnings,
    })
}

fn plan_index(c: &Container) -> Result<Plan, SourceError> {
    let bytes = c.read_small("index.json")?;
    let index: Index = parse(c, "index.json", &bytes)?;
    let format = if c.has("manifest.json") {
        "docker-archive-oci"
    } else {
        "oci-layout"
    };
    plan_descriptors(c, &index.manifests, "index.json", format, Vec::new())
}

/// The plan of an image whose target (a manifest or an index) is `digest`, in a content store laid
/// out as an OCI blob store (`blobs/sha256/<hex>`): containerd's, read in place. `name` is the
/// image's name in the store.
pub(crate) fn plan_target(
    c: &Container,
    name: &str,
    digest: &str,
    media_type: &str,
    size: Option<u64>,
) -> Result<Plan, SourceError> {
    let d = Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        annotations: HashMap::new(),
    };
    plan_descriptors(
        c,
        std::slice::from_ref(&d),
        "meta.db",
        "containerd-store",
        vec![name.to_string()],
    )
}

fn plan_descriptors(
    c: &Container,
    manifests: &[Descriptor],
    from: &str,
    format: &'static str,
    mut tags: Vec<String>,
) -> Result<Plan, SourceError> {
    let mut warnings = Vec::new();
    for d in manifests {
        if let Some(t) = d
            .annotations
            .get("io.containerd.image.name")
            .or_else(|| d.annotations.get("org.opencontainers.image.ref.name"))
        {
            tags.push(t.clone());
        }
    }
    let (manifest_member, manifest_expected) =
        find_manifest(c, manifests, 0)?.ok_or_else(|| SourceError::Member {
            archive: c.label().to_string(),
            member: from.into(),
            reason: "names no image manifest whose blob is present".into(),
        })?;
    if manifests.len() > 1 {
        warnings
            .push("the index names more than one manifest; analysing the first present one".into());
    }
    let bytes = c.read_small(&manifest_member)?;
    let manifest: Manifest = parse(c, &manifest_member, &bytes)?;
    let config_member = blob_path(c, &manifest.config.digest)?;
    let layer_members = manifest
        .layers
        .iter()
        .map(|l| blob_path(c, &l.digest))
        .collect::<Result<Vec<_>, _>>()?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    Ok(Plan {
        format,
        manifest_blob: Some((manifest_expected, digest, bytes.len() as u64)),
        manifest_member,
        config_expected: Some(manifest.config.expected()),
        config_member,
        layer_expected: manifest.layers.iter().map(|l| Some(l.expected())).collect(),
        layer_members,
        tags,
        warnings,
    })
}

impl Descriptor {
    fn expected(&self) -> Expected {
        Expected {
            digest: self.digest.clone(),
            size: self.size,
        }
    }
}

fn find_manifest(
    c: &Container,
    descs: &[Descriptor],
    depth: usize,
) -> Result<Option<(String, Expected)>, SourceError> {
    for d in descs {
        let member = blob_path(c, &d.digest)?;
        if !c.has(&member) {
            continue; // other platforms of a multi-platform image are often absent
        }
        if INDEX_TYPES.contains(&d.media_type.as_str()) {
            if depth >= MAX_INDEX_DEPTH {
                continue;
            }
            let bytes = c.read_small(&member)?;
            let nested: Index = parse(c, &member, &bytes)?;
            if let Some(m) = find_manifest(c, &nested.manifests, depth + 1)? {
                return Ok(Some(m));
            }
            continue;
        }
        return Ok(Some((member, d.expected())));
    }
    Ok(None)
}

/// What the config says about the layers.
pub(crate) struct ConfigInfo {
    /// Diff id per layer.
    pub diff_ids: Vec<Option<String>>,
    /// History entry per layer.
    pub history: Vec<History>,
    /// The config's exact bytes (their sha256 is the image id).
    pub bytes: Vec<u8>,
    /// Mismatches found.
    pub warnings: Vec<String>,
    /// How many diff ids the config lists, when that differs from the layer count it was read for.
    pub listed_diff_ids: Option<usize>,
}

/// Reads the config named by `plan`: the diff ids, and the history aligned to the layers past
/// `empty_layer` entries. A config whose diff ids are not one per layer of the manifest is an error
/// (`docker load` refuses such an image too).
pub(crate) fn read_config(c: &Container, plan: &Plan) -> Result<ConfigInfo, SourceError> {
    let member = &plan.config_member;
    let bytes = c.read_small(member)?;
    let info = config_info(c.label(), member, bytes, Some(plan.layer_members.len()))?;
    if let Some(listed) = info.listed_diff_ids
        && listed != plan.layer_members.len()
    {
        return Err(SourceError::Disagree {
            archive: c.label().to_string(),
            manifest: plan.manifest_member.clone(),
            config: member.clone(),
            reason: format!(
                "the config lists {listed} diff ids, the manifest {} layers",
                plan.layer_members.len()
            ),
        });
    }
    Ok(info)
}

/// The same from a config's bytes; `layers` is the manifest's layer count, or `None` to take the config's.
pub(crate) fn config_info(
    archive: &str,
    member: &str,
    bytes: Vec<u8>,
    layers: Option<usize>,
) -> Result<ConfigInfo, SourceError> {
    let config: Config = serde_json::from_slice(&bytes).map_err(|e| SourceError::Member {
        archive: archive.to_string(),
        member: member.to_string(),
        reason: format!("invalid JSON: {e}"),
    })?;
    let mut warnings = Vec::new();
    let diff_ids = config.rootfs.unwrap_or_default().diff_ids;
    let layers = layers.unwrap_or(diff_ids.len());
    let listed_diff_ids = (diff_ids.len() != layers).then_some(diff_ids.len());
    let mut history: Vec<History> = Vec::new();
    // Instructions that made no layer (ENV, USER, …) are kept with the next layer's entry, so that
    // advice can tell whether two RUN layers were consecutive instructions.
    let mut empty: Vec<String> = Vec::new();
    for h in config.history {
        if h.empty_layer {
            empty.push(h.created_by.unwrap_or_default());
            continue;
        }
        history.push(History {
            created_by: h.created_by,
            comment: h.comment,
            created: h.created,
            empty_before: std::mem::take(&mut empty),
        });
    }
    if history.len() != layers {
        warnings.push(format!(
            "config history has {} entries with layers, the image {layers} layers",
            history.len()
        ));
    }
    history.resize_with(layers, History::default);
    let mut ids: Vec<Option<String>> = diff_ids.into_iter().map(Some).collect();
    ids.resize(layers, None);
    Ok(ConfigInfo {
        diff_ids: ids,
        history,
        bytes,
        warnings,
        listed_diff_ids,
    })
}
