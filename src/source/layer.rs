//! Listing one layer blob: sniff the compression, walk the tar, keep each entry's path, kind and size.
//! Plain tars on a seekable input are walked by seeking over file contents, so a layer costs one read of
//! its headers; compressed ones must be decompressed, and are, in one pass.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::model::{Compression, Entry, EntryKind, PathError, Paths, display_path, normalize_path};
use crate::text::escape;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Any other `.wh..wh.` name is aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), not a whiteout.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// How much of a blob is read to recognise it.
pub(crate) const SNIFF_LEN: usize = 512;

/// What went wrong inside one layer, and at which entry.
#[derive(Debug)]
pub struct LayerError {
    /// The last entry read before the failure (display form), if any.
    pub entry: Option<String>,
    /// What failed.
    pub reason: String,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = escape(&self.reason);
        match &self.entry {
            Some(e) => write!(f, "{reason} (at entry {})", escape(e)),
            None => f.write_str(&reason),
        }
    }
}

impl LayerError {
    fn new(entry: Option<&[u8]>, reason: impl Into<String>) -> Self {
        LayerError {
            entry: entry.map(display_path),
            reason: reason.into(),
        }
    }
}

/// The result of listing one layer blob.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub entries: Vec<Entry>,
    /// The paths `entries` name (ids local to this listing until the image absorbs them).
    pub paths: Paths,
    pub compression: Compression,
    pub hashes: Vec<(usize, [u8; 32])>,
}

/// Recognises a blob from its first bytes: gzip and zstd by magic, anything else is taken as tar.
pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// True when `head` looks like the start of a tar: `ustar` magic, or an all-zero block (an empty tar).
pub(crate) fn looks_like_tar(head: &[u8]) -> bool {
    (head.len() >= 262 && &head[257..262] == b"ustar")
        || (head.len() == SNIFF_LEN && head.iter().all(|&b| b == 0))
}

/// What reading a whole blob found (`--verify`): the sha256 and length of its bytes, and the sha256 of
/// the tar they hold once decompressed (the layer's diff id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digests {
    pub blob: [u8; 32],
    pub blob_len: u64,
    pub diff: [u8; 32],
}

/// Lists a blob that can be seeked (a member of a tar file, a file of an OCI layout).
/// `len` is the blob's length; plain tars are walked by seeking over contents unless `verify` asks for
/// every byte to be hashed. Compressed blobs are decompressed to their end either way, so a bad
/// checksum, a short stream or trailing garbage is an error.
pub(crate) fn list_seekable<R: Read + Seek>(
    mut blob: R,
    len: u64,
    hash_all: bool,
    verify: bool,
) -> Result<(Listing, Option<Digests>), LayerError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut blob)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| LayerError::new(None, format!("cannot read: {e}")))?;
    blob.seek(SeekFrom::Start(0))
        .map_err(|e| LayerError::new(None, format!("cannot seek: {e}")))?;
    let compression = sniff(&head);
    if compression == Compression::None && !verify {
        let mut archive = tar::Archive::new(EofWatch::new(blob));
        let entries = archive
            .entries_with_seek()
            .map_err(|e| LayerError::new(None, e.to_string()))?;
        let mut listing = collect(entries, Some(len), hash_all, None)?;
        listing.compression = compression;
        return Ok((listing, None));
    }
    list_read(blob, compression, Some(len), hash_all, None, verify)
}

/// Lists a blob that can only be read once (standard input).
pub(crate) fn list_stream<R: Read>(
    head: Vec<u8>,
    rest: R,
    hash_all: bool,
    verify: bool,
) -> Result<(Listing, Option<Digests>), LayerError> {
    let compression = sniff(&head);
    let blob = io::Cursor::new(head).chain(rest);
    list_read(blob, compression, None, hash_all, None, verify)
}

/// Lists a blob read from start to end, decompressing it as `compression` says, and reads past the tar's
/// end-of-archive blocks to the end of the blob: that tail is where a gzip member keeps its CRC and
/// length, and where truncation and trailing garbage show. `verify` hashes the blob and the tar.
fn list_read<R: Read>(
    blob: R,
    compression: Compression,
    len: Option<u64>,
    hash_all: bool,
    only: Option<&HashSet<u64>>,
    verify: bool,
) -> Result<(Listing, Option<Digests>), LayerError> {
    let mut raw = Hashing::new(blob, verify);
    let (mut listing, diff) = match compression {
        Compression::None => {
            let listing = list_tar(&mut raw, len, hash_all, only)?;
            drain(&mut raw)?;
            (listing, None)
        }
        Compression::Gzip => {
            let decoder = MultiGzDecoder::new(io::BufReader::new(&mut raw));
            let mut tar = Hashing::new(Labelled("gzip stream", decoder), verify);
            let listing = list_tar(&mut tar, None, hash_all, only)?;
            drain(&mut tar)?;
            let diff = tar.finish();
            drain(&mut raw)?;
            (listing, diff)
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(&mut raw)
                .map_err(|e| LayerError::new(None, format!("corrupt zstd stream: {e}")))?;
            let mut tar = Hashing::new(Labelled("zstd stream", decoder), verify);
            let listing = list_tar(&mut tar, None, hash_all, only)?;
            drain(&mut tar)?;
            let diff = tar.finish();
            drain(&mut raw)?;
            (listing, diff)
        }
    };
    let blob_len = raw.len;
    let blob = raw.finish();
    let diff = if compression == Compression::None {
        blob
    } else {
        diff
    };
    listing.compression = compression;
    let digests = match (blob, diff) {
        (Some(blob), Some(diff)) => Some(Digests {
            blob,
            blob_len,
            diff,
        }),
        _ => None,
    };
    Ok((listing, digests))
}

fn list_tar<R: Read>(
    tar: R,
    len: Option<u64>,
    hash_all: bool,
    only: Option<&HashSet<u64>>,
) -> Result<Listing, LayerError> {
    let mut archive = tar::Archive::new(EofWatch::new(tar));
    let entries = archive
        .entries()
        .map_err(|e| LayerError::new(None, e.to_string()))?;
    collect(entries, len, hash_all, only)
}

/// Reads `r` to its end, discarding what it yields. Decoders' errors name their stream (`gzip stream:
/// corrupt gzip stream does not have a matching checksum`).
fn drain<R: Read>(r: &mut R) -> Result<(), LayerError> {
    io::copy(r, &mut io::sink()).map(drop).map_err(|e| {
        let reason = if e.kind() == io::ErrorKind::UnexpectedEof {
            format!("truncated after the tar's last entry: {e}")
        } else {
            format!("corrupt after the tar's last entry (checksum, length or trailing data): {e}")
        };
        LayerError::new(None, reason)
    })
}

/// A decoder whose errors say which kind of stream failed (`zstd stream: incomplete frame`).
struct Labelled<R>(&'static str, R);

impl<R: Read> Read for Labelled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.1
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.0)))
    }
}

/// A reader that counts what passes through it and, when asked, hashes it (sha256).
struct Hashing<R> {
    inner: R,
    hasher: Option<Sha256>,
    len: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R, hash: bool) -> Self {
        Hashing {
            inner,
            hasher: hash.then(Sha256::new),
            len: 0,
        }
    }

    fn finish(self) -> Option<[u8; 32]> {
        self.hasher.map(|h| h.finalize().into())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.len += n as u64;
        Ok(n)
    }
}

/// Hashes the contents of the entries whose data starts at one of `offsets`, reading the blob again.
/// Plain tars seek straight to each file; compressed ones are decompressed and only those files hashed.
pub(crate) fn hash_seekable<R: Read + Seek>(
    mut blob: R,
    len: u64,
    offsets: &HashSet<u64>,
) -> Result<Vec<(u64, [u8; 32])>, LayerError> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut blob)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| LayerError::new(None, format!("cannot read: {e}")))?;
    let compression = sniff(&head);
    blob.seek(SeekFrom::Start(0))
        .map_err(|e| LayerError::new(None, format!("cannot seek: {e}")))?;
    if compression == Compression::None {
        // Walk the headers again, seeking over every file that is not wanted.
        let mut out = Vec::with_capacity(offsets.len());
        let mut archive = tar::Archive::new(EofWatch::new(blob));
        for entry in archive
            .entries_with_seek()
            .map_err(|e| LayerError::new(None, e.to_string()))?
        {
            let mut entry = entry.map_err(|e| LayerError::new(None, e.to_string()))?;
            let pos = entry.raw_file_position();
            if offsets.contains(&pos) {
                if pos + entry.size() > len {
                    return Err(LayerError::new(
                        Some(&entry.path_bytes()),
                        "data past the end of the layer",
                    ));
                }
                out.push((
                    pos,
                    hash_reader(&mut entry).map_err(|e| LayerError::new(None, e.to_string()))?,
                ));
            }
        }
        return Ok(out);
    }
    let (listing, _) = list_read(blob, compression, None, false, Some(offsets), false)?;
    Ok(listing
        .hashes
        .into_iter()
        .map(|(i, h)| (listing.entries[i].data_offset(), h))
        .collect())
}

/// sha256 of everything `r` yields.
pub(crate) fn hash_reader<R: Read>(r: &mut R) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// Walks the entries of one tar. `len` is known for seekable plain tars and lets a declared size be
/// checked against what is really there before any seek.
fn collect<R: Read>(
    entries: tar::Entries<'_, R>,
    len: Option<u64>,
    hash_all: bool,
    only: Option<&HashSet<u64>>,
) -> Result<Listing, LayerError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut paths = Paths::new();
    let mut hashes = Vec::new();
    for item in entries {
        let mut entry = item.map_err(|e| {
            let last = out.last().map(|l: &Entry| paths.bytes(l.path));
            tar_error(last.as_deref(), e)
        })?;
        let ty = entry.header().entry_type();
        if ty.is_pax_global_extensions() {
            continue;
        }
        let path = {
            let raw = entry.path_bytes();
            normalize_path(&raw).map_err(|e| LayerError::new(Some(&raw), e.to_string()))?
        };
        let size = entry.size();
        let data_offset = entry.raw_file_position();
        if let Some(len) = len
            && data_offset.checked_add(size).is_none_or(|end| end > len)
        {
            return Err(LayerError::new(
                Some(&path),
                format!(
                    "entry declares {size} bytes but the layer ends {} bytes after its header (truncated or corrupt)",
                    len.saturating_sub(data_offset)
                ),
            ));
        }
        if path.is_empty() {
            continue; // the root directory itself
        }
        let (dir, base) = match memchr::memrchr(b'/', &path) {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&path[..0], &path[..]),
        };
        let (id, kind) = if base == OPAQUE_MARKER {
            (paths.intern(dir), EntryKind::Opaque)
        } else if base.starts_with(AUFS_META_PREFIX) {
            continue;
        } else if let Some(name) = base.strip_prefix(WHITEOUT_PREFIX) {
            if name.is_empty() {
                return Err(LayerError::new(
                    Some(&path),
                    PathError::EmptyWhiteout.to_string(),
                ));
            }
            let parent = paths.intern(dir);
            (paths.child(parent, name), EntryKind::Whiteout)
        } else {
            let kind = if ty.is_file() || ty.is_contiguous() || ty.is_gnu_sparse() {
                EntryKind::File
            } else if ty.is_dir() {
                EntryKind::Dir
            } else if ty.is_symlink() {
                EntryKind::Symlink
            } else if ty.is_hard_link() {
                let link = entry.link_name_bytes().unwrap_or_default();
                let target = normalize_path(&link)
                    .map_err(|e| LayerError::new(Some(&path), format!("hard link target: {e}")))?;
                EntryKind::Hardlink {
                    target: paths.intern(&target),
                }
            } else {
                EntryKind::Special
            };
            (paths.intern(&path), kind)
        };
        let size = if kind == EntryKind::File { size } else { 0 };
        let wanted = match only {
            Some(set) => set.contains(&data_offset),
            None => hash_all && size > 0,
        };
        if wanted && kind == EntryKind::File {
            let h = hash_reader(&mut entry)
                .map_err(|e| LayerError::new(Some(&path), format!("cannot read: {e}")))?;
            hashes.push((out.len(), h));
        }
        out.push(Entry::new(id, kind, size, data_offset));
    }
    // The list lives as long as the analysis: give back the growth slack.
    out.shrink_to_fit();
    paths.shrink_to_fit();
    Ok(Listing {
        entries: out,
        paths,
        compression: Compression::None,
        hashes,
    })
}

fn tar_error(last: Option<&[u8]>, e: io::Error) -> LayerError {
    let msg = e.to_string();
    let reason = if e.kind() == io::ErrorKind::UnexpectedEof || msg.contains("unexpected EOF") {
        format!("truncated: {msg}")
    } else {
        format!("corrupt: {msg}")
    };
    LayerError::new(last, reason)
}

/// A reader that turns running dry before the tar's end-of-archive blocks into an error. The `tar`
/// crate treats a clean end of input where a header should be as the end of the archive; a layer
/// cut at an entry boundary would otherwise pass as complete.
pub(crate) struct EofWatch<R> {
    inner: R,
    started: bool,
}

impl<R> EofWatch<R> {
    pub(crate) fn new(inner: R) -> Self {
        EofWatch {
            inner,
            started: false,
        }
    }
}

impl<R: Read> Read for EofWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                if self.started {
                    "unexpected end of data, no end-of-archive marker"
                } else {
                    "input is empty"
                },
            ));
        }
        self.started = true;
        Ok(n)
    }
}

impl<R: Seek> Seek for EofWatch<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_of(files: &[(&str, usize)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, size) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(*size as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, io::repeat(b'x').take(*size as u64))
                .unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn verify_reports_the_blob_and_tar_digests() {
        let tar = tar_of(&[("a", 3000), ("b/c", 70_000)]);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        let gz = e.finish().unwrap();
        let zs = zstd::encode_all(tar.as_slice(), 3).unwrap();
        let sha = |b: &[u8]| -> [u8; 32] { Sha256::digest(b).into() };
        for blob in [&tar, &gz, &zs] {
            let (listing, d) = list_seekable(
                io::Cursor::new(blob.clone()),
                blob.len() as u64,
                false,
                true,
            )
            .unwrap();
            assert_eq!(listing.entries.len(), 2);
            let d = d.expect("digests under verify");
            assert_eq!(d.blob, sha(blob));
            assert_eq!(d.blob_len, blob.len() as u64);
            assert_eq!(d.diff, sha(&tar));
            // Without verify: the same entries, no digests.
            let (plain, none) = list_seekable(
                io::Cursor::new(blob.clone()),
                blob.len() as u64,
                false,
                false,
            )
            .unwrap();
            assert!(none.is_none());
            assert_eq!(plain.entries.len(), 2);
            // From a stream.
            let (head, rest) = blob.split_at(SNIFF_LEN.min(blob.len()));
            let (_, d2) = list_stream(head.to_vec(), rest, false, true).unwrap();
            assert_eq!(d2, Some(d));
        }
    }

    #[test]
    fn a_compressed_stream_is_read_to_its_end() {
        let tar = tar_of(&[("a", 3000)]);
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).unwrap();
        let gz = e.finish().unwrap();
        let list = |b: Vec<u8>| {
            let n = b.len() as u64;
            list_seekable(io::Cursor::new(b), n, false, false).map(|_| ())
        };
        assert!(list(gz.clone()).is_ok());
        let mut crc = gz.clone();
        let at = crc.len() - 6;
        crc[at] ^= 0x10;
        assert!(list(crc).unwrap_err().reason.contains("gzip stream"));
        let mut tail = gz.clone();
        tail.push(0);
        assert!(list(tail).is_err());
        assert!(list(gz[..gz.len() - 4].to_vec()).is_err());
    }
}
