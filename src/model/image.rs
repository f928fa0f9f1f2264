//! An image: its layers in order, each with the history entry that made it.

use super::{Entry, Paths};

/// How a layer blob is compressed, found by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (possibly multi-member).
    Gzip,
    /// zstd (possibly several frames).
    Zstd,
}

/// The history entry of the config that produced a layer.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The instruction, as the builder recorded it (`/bin/sh -c …`, `RUN … # buildkit`, `COPY …`).
    pub created_by: Option<String>,
    /// The builder's comment (`buildkit.dockerfile.v0`, `Imported from -`).
    pub comment: Option<String>,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// `created_by` of the history entries without a layer (`empty_layer`) just before this one.
    pub empty_before: Vec<String>,
}

/// One layer of an image, as listed from its tar.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Position in the image, 0 = base.
    pub index: usize,
    /// `sha256:…` of the uncompressed tar, from the image config.
    pub diff_id: Option<String>,
    /// Where the layer came from inside the source (archive member or blob path), for messages.
    pub origin: String,
    /// Compression of the stored blob.
    pub compression: Compression,
    /// Bytes of the blob as stored (compressed size for compressed layers).
    pub blob_bytes: u64,
    /// The archive stores this layer as a link to another member: a legacy `docker save` writes a
    /// layer that occurs twice once, and the second `layer.tar` as a symlink (dive reads it as empty).
    pub stored_as_link: bool,
    /// History entry aligned to this layer (past `empty_layer` entries).
    pub history: History,
    /// Every entry, in tar order.
    pub entries: Vec<Entry>,
    /// sha256 of file contents by entry index; filled only when duplicates are searched.
    pub hashes: Vec<(usize, [u8; 32])>,
}

impl Layer {
    /// Sum of regular-file sizes in the layer's tar (hard links carry no bytes of their own).
    pub fn content_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

/// An image: the config's identity and history, and its layers base first.
#[derive(Debug, Clone)]
pub struct Image {
    /// What the user named (path, `-`).
    pub source: String,
    /// The container format that was read (`docker-archive`, `docker-archive-oci`, `oci-layout`, `oci-archive`,
    /// `overlay2`, `containerd-store`).
    pub format: &'static str,
    /// `sha256:…` of the config bytes.
    pub id: Option<String>,
    /// Tags the archive names for the image.
    pub tags: Vec<String>,
    /// Every path the layers' entries name (their `path` and hard-link targets are ids in it).
    pub paths: Paths,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// Things that were odd but did not stop the reading (several images, history count mismatch).
    pub warnings: Vec<String>,
}
