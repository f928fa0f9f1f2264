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
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The path, an id in the image's [`super::Paths`] (normalized: relative to the root, no leading
    /// `/` or `./`, no trailing `/`, no `.`/`..`; [`super::ROOT`] only for an opaque marker at the root).
    pub path: PathId,
    /// What the entry is.
    pub kind: EntryKind,
    /// Content bytes (regular files only; 0 for every other kind).
    pub size: u64,
    /// Offset of the entry's data in the uncompressed layer tar.
    pub data_offset: u64,
}

impl Entry {
    /// True for entries that occupy a path in the final filesystem (everything but whiteouts and opaque markers).
    pub fn is_node(&self) -> bool {
        !matches!(self.kind, EntryKind::Whiteout | EntryKind::Opaque)
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
    fn displays_non_utf8_bytes_escaped() {
        assert_eq!(display_path(b"caf\xe9"), "/caf\\xe9");
        assert_eq!(display_path("é".as_bytes()), "/é");
    }
}
