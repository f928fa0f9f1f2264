//! The input is a small Docker data root, as records separated by NUL bytes: `<kind><path>\n<content>`,
//! kind `f` a file, `d` a directory, `l` a symlink (content: its target), `p` a fifo, `c` the layer-size
//! cache file (`dredge df --cache`, kept outside the root; `@ROOT@` in it becomes the root's path).
//! Paths are relative, without `.` or `..` components; symlink targets are relative and climb (leading
//! `..`) no higher than the root, so nothing outside the temp dir is ever read or written. The root is
//! built in a scratch dir and read as `dredge df --data-root ROOT` reads it (`df::run`): every metadata
//! file (config.v2.json, hostconfig.json, repositories.json, layerdb files, image configs) through
//! `source::dataroot::read`, then measured by `audit::audit`.
#![no_main]

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use libfuzzer_sys::fuzz_target;

const MAX_RECORDS: usize = 256;
const MAX_DEPTH: usize = 16;

/// A relative path with only normal components, at most `MAX_DEPTH` of them.
fn relative(bytes: &[u8]) -> Option<&Path> {
    let p = Path::new(std::ffi::OsStr::from_bytes(bytes));
    let ok = !bytes.is_empty()
        && p.components().count() <= MAX_DEPTH
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(p)
}

/// A symlink target: `../` at most `up` times, then normal components.
fn link_target(bytes: &[u8], up: usize) -> Option<&Path> {
    let p = Path::new(std::ffi::OsStr::from_bytes(bytes));
    let mut climbing = true;
    let mut climbs = 0;
    for c in p.components() {
        match c {
            Component::ParentDir if climbing => climbs += 1,
            Component::Normal(_) => climbing = false,
            _ => return None,
        }
    }
    (!bytes.is_empty() && climbs <= up && p.components().count() <= MAX_DEPTH).then_some(p)
}

fn build(root: &Path, cache: &Path, data: &[u8]) -> bool {
    let Ok(canonical_root) = fs::canonicalize(root) else {
        return false;
    };
    let mut has_cache = false;
    for record in data.split(|&b| b == 0).take(MAX_RECORDS) {
        let (header, content) = match record.iter().position(|&b| b == b'\n') {
            Some(i) => (&record[..i], &record[i + 1..]),
            None => (record, &[][..]),
        };
        let Some((&kind, path)) = header.split_first() else {
            continue;
        };
        if kind == b'c' {
            let root_text = root.as_os_str().as_bytes();
            let mut text = Vec::with_capacity(content.len());
            let mut rest = content;
            while let Some(i) = rest.windows(6).position(|w| w == b"@ROOT@") {
                text.extend_from_slice(&rest[..i]);
                text.extend_from_slice(root_text);
                rest = &rest[i + 6..];
            }
            text.extend_from_slice(rest);
            has_cache = fs::write(cache, text).is_ok();
            continue;
        }
        let Some(rel) = relative(path) else {
            continue;
        };
        let full = root.join(rel);
        let parent = full.parent().expect("a joined path has a parent");
        // Errors (a file where a directory is wanted, a dangling link…) skip the record.
        if fs::create_dir_all(parent).is_err() {
            continue;
        }
        let _ = match kind {
            // Never open a fifo made by an earlier record: the write would wait for a reader.
            b'f' if fs::metadata(&full).is_ok_and(|m| !m.is_file()) => continue,
            b'f' => fs::write(&full, content),
            b'd' => fs::create_dir_all(&full),
            b'l' => {
                // How deep the link's directory really is (links met on the way count as what they
                // resolve to), so that its target cannot climb out of the root.
                let Some(up) = fs::canonicalize(parent)
                    .ok()
                    .and_then(|p| Some(p.strip_prefix(&canonical_root).ok()?.components().count()))
                else {
                    continue;
                };
                let Some(target) = link_target(content, up) else {
                    continue;
                };
                std::os::unix::fs::symlink(target, &full)
            }
            b'p' => rustix::fs::mknodat(
                rustix::fs::CWD,
                &full,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o644),
                0,
            )
            .map_err(std::io::Error::from),
            _ => continue,
        };
    }
    has_cache
}

fuzz_target!(|data: &[u8]| {
    let root: PathBuf = dredge_fuzz::scratch("root");
    let cache = dredge_fuzz::scratch("cache.json");
    for gone in [fs::remove_dir_all(&root), fs::remove_file(&cache)] {
        if let Err(e) = gone {
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::NotFound,
                "the last input's root stays: {e}"
            );
        }
    }
    fs::create_dir(&root).expect("the root dir");
    let has_cache = build(&root, &cache, data);
    dredge_fuzz::data_root(&root, has_cache.then_some(cache.as_path()));
});
