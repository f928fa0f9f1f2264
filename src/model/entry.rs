//! One tar entry of a layer, reduced to what the analysis needs: a normalized path, a kind and a size.

use std::fmt;

use super::PathId;

/// What a layer entry does to the filesystem it is stacked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; its `size` bytes are content of the layer.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed while stacking).
    Symlink,
    /// A hard link to `target`, an earlier entry of the same layer; it carries no bytes of its own.
    Hardlink {
        /// The path (id in the image's [`super::Paths`]) of the entry this name shares its data with.
        target: PathId,
    },
    /// Device, FIFO or another non-regular entry: no content bytes.
    Special,
    /// `.wh.<name>`: deletes `path` (and everything below it) from lower layers.
    Whiteout,
    /// `<dir>/.wh..wh..opq`: hides every lower-layer child of `path` (the directory).
    Opaque,
}

/// One entry of a layer's tar. For whiteouts `path` is the path they delete, for opaque markers the
/// directory they make opaque; the `.wh.` names themselves never reach the analysis.
///
/// 24 bytes: a hard link's target shares the slot of the data offset (a hard link has no data).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Content bytes (regular files only; 0 for every other kind).
    pub size: u64,
    /// The data's offset in the uncompressed layer tar, or a hard link's target path id.
    slot: u64,
    /// The path, an id in the image's [`super::Paths`] (normalized: relative to the root, no leading
    /// `/` or `./`, no trailing `/`, no `.`/`..`; [`super::ROOT`] only for an opaque marker at the root).
    pub path: PathId,
    kind: Kind,
}

/// [`EntryKind`] without its payload, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Special,
    Whiteout,
    Opaque,
}

impl Entry {
    /// An entry at `path`; `data_offset` is where its data starts in the uncompressed layer tar (or
    /// any number unique in the layer that hashes can be keyed by).
    pub fn new(path: PathId, kind: EntryKind, size: u64, data_offset: u64) -> Entry {
        let (kind, slot) = match kind {
            EntryKind::File => (Kind::File, data_offset),
            EntryKind::Dir => (Kind::Dir, data_offset),
            EntryKind::Symlink => (Kind::Symlink, data_offset),
            EntryKind::Hardlink { target } => (Kind::Hardlink, u64::from(target)),
            EntryKind::Special => (Kind::Special, data_offset),
            EntryKind::Whiteout => (Kind::Whiteout, data_offset),
            EntryKind::Opaque => (Kind::Opaque, data_offset),
        };
        Entry {
            size,
            slot,
            path,
            kind,
        }
    }

    /// What the entry is.
    pub fn kind(&self) -> EntryKind {
        match self.kind {
            Kind::File => EntryKind::File,
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink => EntryKind::Symlink,
            Kind::Hardlink => EntryKind::Hardlink {
                target: self.slot as PathId,
            },
            Kind::Special => EntryKind::Special,
            Kind::Whiteout => EntryKind::Whiteout,
            Kind::Opaque => EntryKind::Opaque,
        }
    }

    /// Offset of the entry's data in the uncompressed layer tar (0 for a hard link).
    pub fn data_offset(&self) -> u64 {
        if self.kind == Kind::Hardlink {
            0
        } else {
            self.slot
        }
    }

    /// Points a hard link at another path id (when its layer's paths are renumbered).
    pub fn set_link_target(&mut self, target: PathId) {
        if self.kind == Kind::Hardlink {
            self.slot = u64::from(target);
        }
    }
}

/// Why a tar path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// A `..` component: the path would escape the root.
    Escapes,
    /// An empty whiteout name (`.wh.` alone), which the image spec calls invalid.
    EmptyWhiteout,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::Escapes => f.write_str("path escapes the root with '..'"),
            PathError::EmptyWhiteout => f.write_str("whiteout with an empty name"),
        }
    }
}

/// Normalizes a tar path: drops leading `/` and `./`, `.` components, empty components and a trailing `/`.
/// Returns an empty path for the root itself. Paths are compared as bytes, never as UTF-8.
pub fn normalize_path(raw: &[u8]) -> Result<Vec<u8>, PathError> {
    // Most names are already clean (`usr/bin/x`, or `usr/bin/` for a directory): copy them as they are.
    let trimmed = raw.strip_suffix(b"/").unwrap_or(raw);
    if is_clean(trimmed) {
        return Ok(trimmed.to_vec());
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => continue,
            b".." => return Err(PathError::Escapes),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

/// True when no component is empty, `.` or `..` (so no leading or doubled `/` either). Two vectorised
/// searches decide most paths; only names with a `/.` (hidden files, `.wh.` markers) are walked.
fn is_clean(p: &[u8]) -> bool {
    if p.is_empty() || p[0] == b'/' || memchr::memmem::find(p, b"//").is_some() {
        return false;
    }
    if p[0] != b'.' && memchr::memmem::find(p, b"/.").is_none() {
        return true;
    }
    p.split(|&b| b == b'/')
        .all(|c| !matches!(c, b"" | b"." | b".."))
}

/// Renders a normalized path for people and JSON: a leading `/`, and bytes that are not UTF-8 as `\xNN`.
pub fn display_path(path: &[u8]) -> String {
    let mut s = String::with_capacity(path.len() + 1);
    s.push('/');
    for chunk in path.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_the_forms_tars_use() {
        assert_eq!(normalize_path(b"./usr/bin/").unwrap(), b"usr/bin");
        assert_eq!(normalize_path(b"/etc//passwd").unwrap(), b"etc/passwd");
        assert_eq!(normalize_path(b"./").unwrap(), b"");
        assert_eq!(normalize_path(b"a/./b").unwrap(), b"a/b");
        assert_eq!(normalize_path(b"a/../../etc"), Err(PathError::Escapes));
    }

    #[test]
    fn an_entry_is_24_bytes_and_keeps_its_kind() {
        // Entries are the largest vector of an analysis: one per tar entry of every layer.
        assert_eq!(std::mem::size_of::<Entry>(), 24);
        let link = Entry::new(7, EntryKind::Hardlink { target: 3 }, 0, 99);
        assert_eq!(link.kind(), EntryKind::Hardlink { target: 3 });
        assert_eq!(link.data_offset(), 0);
        let file = Entry::new(8, EntryKind::File, 5, 1024);
        assert_eq!(
            (file.kind(), file.data_offset(), file.size),
            (EntryKind::File, 1024, 5)
        );
    }

    #[test]
    fn displays_non_utf8_bytes_escaped() {
        assert_eq!(display_path(b"caf\xe9"), "/caf\\xe9");
        assert_eq!(display_path("é".as_bytes()), "/é");
    }
}
