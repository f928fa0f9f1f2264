//! The thing that holds an image's files: a tar file on disk (seekable), a directory, or a tar read once
//! from standard input. Each answers the same questions: is a member there, what are its bytes (small
//! JSON), and what entries does a layer member hold.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::SourceError;
use super::layer::{self, Digests, LayerError, Listing, SNIFF_LEN};
use crate::model::{display_path, normalize_path};

/// JSON members (manifests, configs, indexes) larger than this are refused rather than read into memory.
pub(crate) const MAX_JSON_BYTES: u64 = 64 << 20;
/// How many symlinks are followed to find a member before giving up.
const MAX_LINK_HOPS: usize = 16;

/// Where one member's bytes are inside a tar file.
#[derive(Debug, Clone)]
enum Member {
    Data { offset: u64, len: u64 },
    Link { target: Vec<u8> },
}

/// An image container, whatever its form.
pub(crate) enum Container {
    TarFile(TarFile),
    Dir(DirContainer),
    Stream(StreamContainer),
}

impl Container {
    pub(crate) fn label(&self) -> &str {
        match self {
            Container::TarFile(t) => &t.label,
            Container::Dir(d) => &d.label,
            Container::Stream(_) => "-",
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        match self {
            Container::TarFile(t) => t.resolve(name.as_bytes()).is_ok(),
            Container::Dir(d) => d.resolve(name).is_ok(),
            Container::Stream(s) => s.resolve(name.as_bytes()).is_ok(),
        }
    }

    /// Reads a small member whole (JSON), refusing anything over [`MAX_JSON_BYTES`].
    pub(crate) fn read_small(&self, name: &str) -> Result<Vec<u8>, SourceError> {
        let member_err = |reason: String| SourceError::Member {
            archive: self.label().to_string(),
            member: name.to_string(),
            reason,
        };
        match self {
            Container::TarFile(t) => {
                let (offset, len) = t.resolve(name.as_bytes()).map_err(member_err)?;
                if len > MAX_JSON_BYTES {
                    return Err(member_err(format!(
                        "{len} bytes is too large for a JSON document"
                    )));
                }
                let mut f = t
                    .window(offset, len)
                    .map_err(|e| member_err(e.to_string()))?;
                let mut buf = Vec::with_capacity(len as usize);
                f.read_to_end(&mut buf)
                    .map_err(|e| member_err(e.to_string()))?;
                Ok(buf)
            }
            Container::Dir(d) => {
                let path = d.resolve(name).map_err(member_err)?;
                let f = File::open(&path).map_err(|e| member_err(e.to_string()))?;
                let len = f.metadata().map_err(|e| member_err(e.to_string()))?.len();
                if len > MAX_JSON_BYTES {
                    return Err(member_err(format!(
                        "{len} bytes is too large for a JSON document"
                    )));
                }
                let mut buf = Vec::with_capacity(len as usize);
                f.take(MAX_JSON_BYTES)
                    .read_to_end(&mut buf)
                    .map_err(|e| member_err(e.to_string()))?;
                Ok(buf)
            }
            Container::Stream(s) => match s.resolve(name.as_bytes()).map_err(member_err)? {
                Streamed::Small(b) => Ok(b.clone()),
                Streamed::Layer(_) => Err(member_err("is a layer, not a JSON document".into())),
                Streamed::Skipped(len) => Err(member_err(format!(
                    "{len} bytes is too large for a JSON document"
                ))),
            },
        }
    }

    /// Lists the entries of a layer member, with its length and, when `verify` asks, its digests. For
    /// seekable containers this opens its own file handle, so several layers can be listed at once from
    /// different threads.
    pub(crate) fn list_layer(
        &self,
        name: &str,
        verify: bool,
    ) -> Result<(Listing, u64, Option<Digests>), LayerError> {
        let missing = |reason: String| LayerError {
            entry: None,
            reason,
        };
        match self {
            Container::TarFile(t) => {
                let (offset, len) = t.resolve(name.as_bytes()).map_err(missing)?;
                let w = t.window(offset, len).map_err(|e| missing(e.to_string()))?;
                let (listing, digests) = layer::list_seekable(w, len, false, verify)?;
                Ok((listing, len, digests))
            }
            Container::Dir(d) => {
                let path = d.resolve(name).map_err(missing)?;
                let f = File::open(&path).map_err(|e| missing(e.to_string()))?;
                let len = f.metadata().map_err(|e| missing(e.to_string()))?.len();
                let w = Window::new(f, 0, len).map_err(|e| missing(e.to_string()))?;
                let (listing, digests) = layer::list_seekable(w, len, false, verify)?;
                Ok((listing, len, digests))
            }
            Container::Stream(s) => match s.resolve(name.as_bytes()).map_err(missing)? {
                Streamed::Layer(l) => Ok((l.0.clone(), s.len_of(name), l.1)),
                Streamed::Small(_) | Streamed::Skipped(_) => {
                    Err(missing("is not a layer tar".into()))
                }
            },
        }
    }

    /// True when `name` is a link (symlink or hard link) to another member of a tar.
    pub(crate) fn is_link(&self, name: &str) -> bool {
        let Ok(key) = normalize_path(name.as_bytes()) else {
            return false;
        };
        match self {
            Container::TarFile(t) => matches!(t.members.get(&key), Some(Member::Link { .. })),
            Container::Stream(s) => s.links.contains_key(&key),
            Container::Dir(_) => false,
        }
    }

    /// Hashes the files of a layer member whose data starts at the given offsets (seekable containers).
    pub(crate) fn hash_layer(
        &self,
        name: &str,
        offsets: &HashSet<u64>,
    ) -> Result<Vec<(u64, [u8; 32])>, LayerError> {
        let missing = |reason: String| LayerError {
            entry: None,
            reason,
        };
        match self {
            Container::TarFile(t) => {
                let (offset, len) = t.resolve(name.as_bytes()).map_err(missing)?;
                layer::hash_seekable(
                    t.window(offset, len).map_err(|e| missing(e.to_string()))?,
                    len,
                    offsets,
                )
            }
            Container::Dir(d) => {
                let path = d.resolve(name).map_err(missing)?;
                let f = File::open(&path).map_err(|e| missing(e.to_string()))?;
                let len = f.metadata().map_err(|e| missing(e.to_string()))?.len();
                layer::hash_seekable(
                    Window::new(f, 0, len).map_err(|e| missing(e.to_string()))?,
                    len,
                    offsets,
                )
            }
            Container::Stream(_) => Ok(Vec::new()),
        }
    }
}

/// Bytes read from the file at a time. Tar headers of small files sit close together, so one read
/// usually serves many headers, and a seek that lands inside the buffer costs no system call.
const WINDOW_BUFFER: usize = 8 * 1024;

/// A buffered window onto part of a file: reads and seeks stay inside `[start, start+len)`. Seeking past
/// the end is an error, which is how a declared size larger than the data is caught without reading it.
pub(crate) struct Window {
    file: File,
    start: u64,
    len: u64,
    /// Position in the window of the next byte to hand out.
    pos: u64,
    /// Buffered bytes: they hold the window's bytes from `buf_at` on.
    buf: Vec<u8>,
    buf_at: u64,
}

impl Window {
    fn new(file: File, start: u64, len: u64) -> io::Result<Self> {
        Ok(Window {
            file,
            start,
            len,
            pos: 0,
            buf: Vec::new(),
            buf_at: 0,
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let want = (self.len - self.pos).min(WINDOW_BUFFER as u64) as usize;
        self.buf.resize(want, 0);
        let mut got = 0;
        while got < want {
            let n = self
                .file
                .read_at(&mut self.buf[got..], self.start + self.pos + got as u64)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.buf.truncate(got);
        self.buf_at = self.pos;
        Ok(())
    }
}

impl Read for Window {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let in_buf = self.pos >= self.buf_at && self.pos < self.buf_at + self.buf.len() as u64;
        if !in_buf {
            if out.len() >= WINDOW_BUFFER {
                // Large reads bypass the buffer.
                use std::os::unix::fs::FileExt;
                let n = (out.len() as u64).min(self.len - self.pos) as usize;
                let got = self.file.read_at(&mut out[..n], self.start + self.pos)?;
                self.pos += got as u64;
                return Ok(got);
            }
            self.fill()?;
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let off = (self.pos - self.buf_at) as usize;
        let n = out.len().min(self.buf.len() - off);
        out[..n].copy_from_slice(&self.buf[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match target {
            Some(t) if t <= self.len => {
                self.pos = t;
                Ok(t)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "an entry's data runs past the end of the blob (truncated or absurd size)",
            )),
        }
    }
}

/// A tar file on disk (`docker save -o`, an OCI archive): indexed once by walking its headers, seeking
/// over the contents.
pub(crate) struct TarFile {
    label: String,
    path: PathBuf,
    members: HashMap<Vec<u8>, Member>,
}

/// Why a tar could not be read, without the tar reader's own message: it quotes header bytes (a text
/// file given as an image would be echoed back line by line).
fn tar_failure(last: &str, e: &io::Error) -> String {
    if last == "(start)" {
        "not a tar archive".into()
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        format!("not a readable tar (truncated after member {last})")
    } else {
        format!("not a readable tar (corrupt after member {last})")
    }
}

impl TarFile {
    pub(crate) fn open(path: &Path) -> Result<Self, SourceError> {
        let label = path.display().to_string();
        let io_err = |e: io::Error| SourceError::Io {
            path: label.clone(),
            source: e,
        };
        let file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let window = Window::new(file, 0, file_len).map_err(io_err)?;
        let mut archive = tar::Archive::new(layer::EofWatch::new(window));
        let mut members = HashMap::new();
        let not_image = |reason: String| SourceError::NotAnImage {
            path: label.clone(),
            reason,
        };
        let entries = archive
            .entries_with_seek()
            .map_err(|e| not_image(e.to_string()))?;
        let mut last = String::from("(start)");
        for item in entries {
            let entry = item.map_err(|e| not_image(tar_failure(&last, &e)))?;
            let name = member_name(&entry, &label)?;
            last = display_path(&name);
            let ty = entry.header().entry_type();
            let offset = entry.raw_file_position();
            let len = entry.size();
            if offset.checked_add(len).is_none_or(|end| end > file_len) {
                return Err(SourceError::Member {
                    archive: label.clone(),
                    member: last,
                    reason: format!("declares {len} bytes but the archive ends first (truncated)"),
                });
            }
            if ty.is_symlink() || ty.is_hard_link() {
                let target = link_target(&entry, &name, &label)?;
                members.insert(name, Member::Link { target });
            } else if ty.is_file() || ty.is_contiguous() {
                members.insert(name, Member::Data { offset, len });
            }
        }
        Ok(TarFile {
            label,
            path: path.to_path_buf(),
            members,
        })
    }

    fn resolve(&self, name: &[u8]) -> Result<(u64, u64), String> {
        let mut cur = normalize_path(name).map_err(|e| e.to_string())?;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&cur) {
                Some(Member::Data { offset, len }) => return Ok((*offset, *len)),
                Some(Member::Link { target }) => cur = target.clone(),
                None => return Err("not in the archive".into()),
            }
        }
        Err("too many levels of symbolic links".into())
    }

    fn window(&self, offset: u64, len: u64) -> io::Result<Window> {
        Window::new(File::open(&self.path)?, offset, len)
    }
}

/// A member's normalized name, or an error naming the member as written.
fn member_name<R: Read>(entry: &tar::Entry<'_, R>, archive: &str) -> Result<Vec<u8>, SourceError> {
    let raw = entry.path_bytes();
    normalize_path(&raw).map_err(|e| SourceError::Member {
        archive: archive.to_string(),
        member: String::from_utf8_lossy(&raw).into_owned(),
        reason: e.to_string(),
    })
}

/// Where the link member `name` points inside the archive: a symlink relative to its directory, a hard
/// link from the archive root. Links that leave the archive are errors.
fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &[u8],
    archive: &str,
) -> Result<Vec<u8>, SourceError> {
    let link = entry.link_name_bytes().unwrap_or_default();
    let target = if entry.header().entry_type().is_symlink() {
        join_link(name, &link)
    } else {
        normalize_path(&link).ok()
    };
    target.ok_or_else(|| SourceError::Member {
        archive: archive.to_string(),
        member: display_path(name),
        reason: "link points outside the archive".into(),
    })
}

/// Resolves a symlink found at `name` with target `link`, relative to the link's directory; `None` if it
/// leaves the archive root.
fn join_link(name: &[u8], link: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = if link.starts_with(b"/") {
        Vec::new()
    } else {
        let mut p: Vec<&[u8]> = name.split(|&b| b == b'/').collect();
        p.pop();
        p
    };
    for comp in link.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

/// A directory: an OCI image layout, or an unpacked `docker save`.
pub(crate) struct DirContainer {
    label: String,
    root: PathBuf,
}

impl DirContainer {
    pub(crate) fn open(path: &Path) -> Result<Self, SourceError> {
        let root = path.canonicalize().map_err(|e| SourceError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Ok(DirContainer {
            label: path.display().to_string(),
            root,
        })
    }

    /// Maps a member name to a file under the root, refusing anything (`..`, a symlink) that leads out.
    fn resolve(&self, name: &str) -> Result<PathBuf, String> {
        let rel = normalize_path(name.as_bytes()).map_err(|e| e.to_string())?;
        let rel = String::from_utf8(rel).map_err(|_| "member name is not UTF-8".to_string())?;
        let path = self.root.join(rel);
        let real = path
            .canonicalize()
            .map_err(|_| "not in the directory".to_string())?;
        if !real.starts_with(&self.root) {
            return Err("leads outside the image directory".into());
        }
        if !real.is_file() {
            return Err("is not a regular file".into());
        }
        Ok(real)
    }
}

/// What a member read from standard input became.
pub(crate) enum Streamed {
    /// A small document kept in memory.
    Small(Vec<u8>),
    /// A layer tar, listed as it went by, and its digests when they were asked for.
    Layer(Box<(Listing, Option<Digests>)>),
    /// Large data that is neither (its length).
    Skipped(u64),
}

/// A tar read once from standard input. Members come in any order (layers before the manifest in legacy
/// saves), so every member that looks like a tar is listed as it streams past, and small ones are kept.
pub(crate) struct StreamContainer {
    members: HashMap<Vec<u8>, Streamed>,
    lens: HashMap<Vec<u8>, u64>,
    links: HashMap<Vec<u8>, Vec<u8>>,
}

impl StreamContainer {
    pub(crate) fn read<R: Read>(
        input: R,
        hash_all: bool,
        verify: bool,
        mut on_layer: impl FnMut(&str),
    ) -> Result<Self, SourceError> {
        let label = "-".to_string();
        let not_image = |reason: String| SourceError::NotAnImage {
            path: label.clone(),
            reason,
        };
        let mut archive = tar::Archive::new(layer::EofWatch::new(input));
        let mut members = HashMap::new();
        let mut lens = HashMap::new();
        let mut links = HashMap::new();
        let mut last = String::from("(start)");
        for item in archive.entries().map_err(|e| not_image(e.to_string()))? {
            let mut entry = item.map_err(|e| not_image(tar_failure(&last, &e)))?;
            let name = member_name(&entry, &label)?;
            last = display_path(&name);
            let ty = entry.header().entry_type();
            if ty.is_symlink() || ty.is_hard_link() {
                let target = link_target(&entry, &name, &label)?;
                links.insert(name, target);
                continue;
            }
            if !(ty.is_file() || ty.is_contiguous()) {
                continue;
            }
            let len = entry.size();
            let mut head = Vec::with_capacity(SNIFF_LEN);
            (&mut entry)
                .take(SNIFF_LEN as u64)
                .read_to_end(&mut head)
                .map_err(|e| not_image(format!("member {last}: {e}")))?;
            let compression = layer::sniff(&head);
            let streamed =
                if compression != crate::model::Compression::None || layer::looks_like_tar(&head) {
                    on_layer(&last);
                    let listing =
                        layer::list_stream(head, &mut entry, hash_all, verify).map_err(|e| {
                            SourceError::Member {
                                archive: label.clone(),
                                member: last.clone(),
                                reason: e.to_string(),
                            }
                        })?;
                    Streamed::Layer(Box::new(listing))
                } else if len <= MAX_JSON_BYTES {
                    let mut buf = head;
                    entry
                        .read_to_end(&mut buf)
                        .map_err(|e| not_image(format!("member {last}: {e}")))?;
                    Streamed::Small(buf)
                } else {
                    Streamed::Skipped(len)
                };
            lens.insert(name.clone(), len);
            members.insert(name, streamed);
        }
        Ok(StreamContainer {
            members,
            lens,
            links,
        })
    }

    fn canonical(&self, name: &[u8]) -> Result<Vec<u8>, String> {
        let mut cur = normalize_path(name).map_err(|e| e.to_string())?;
        for _ in 0..MAX_LINK_HOPS {
            if self.members.contains_key(&cur) {
                return Ok(cur);
            }
            match self.links.get(&cur) {
                Some(t) => cur = t.clone(),
                None => return Err("not in the archive".into()),
            }
        }
        Err("too many levels of symbolic links".into())
    }

    /// Drops the layer listings kept from the stream once they have been handed out (each was copied
    /// out, as a repeated layer is named twice): they would otherwise live as long as the analysis.
    pub(crate) fn drop_listings(&mut self) {
        for m in self.members.values_mut() {
            if matches!(m, Streamed::Layer(_)) {
                *m = Streamed::Skipped(0);
            }
        }
    }

    fn resolve(&self, name: &[u8]) -> Result<&Streamed, String> {
        let key = self.canonical(name)?;
        Ok(&self.members[&key])
    }

    fn len_of(&self, name: &str) -> u64 {
        self.canonical(name.as_bytes())
            .ok()
            .and_then(|k| self.lens.get(&k).copied())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reads_only_its_range_and_refuses_seeks_past_its_end() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(
            &mut f,
            &(0..=255u8).cycle().take(200_000).collect::<Vec<_>>(),
        )
        .unwrap();
        let mut w = Window::new(f, 1000, 150_000).unwrap();
        let mut head = [0u8; 4];
        w.read_exact(&mut head).unwrap();
        assert_eq!(head, [232, 233, 234, 235]); // byte 1000 of the file is 1000 % 256
        w.seek(SeekFrom::Start(149_998)).unwrap();
        let mut rest = Vec::new();
        w.read_to_end(&mut rest).unwrap();
        assert_eq!(rest.len(), 2);
        assert!(w.seek(SeekFrom::Current(1)).is_err());
        assert!(w.seek(SeekFrom::Start(150_000)).is_ok());
        // A seek inside the buffer, then a large read that bypasses it.
        w.seek(SeekFrom::Start(10)).unwrap();
        let mut big = vec![0u8; 100_000];
        w.read_exact(&mut big).unwrap();
        assert_eq!(big[0], ((1000 + 10) % 256) as u8);
        assert_eq!(big[99_999], ((1000 + 10 + 99_999) % 256) as u8);
    }

    #[test]
    fn legacy_layer_symlinks_resolve_inside_the_archive() {
        assert_eq!(
            join_link(b"b/layer.tar", b"../a/layer.tar").unwrap(),
            b"a/layer.tar"
        );
        assert_eq!(join_link(b"b/layer.tar", b"../../etc/passwd"), None);
    }
}
