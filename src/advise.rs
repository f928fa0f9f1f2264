//! `dredge advise`: advice for an image (and the Dockerfile it was built from), and the Dockerfile
//! edits that apply it. Writing is atomic (a temporary file in the same directory, then a rename) and
//! touches only the Dockerfile and its `.dockerignore`, each backed up first as `*.dredge-bak`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::advice::dockerfile::{self, Dockerfile};
use crate::advice::{self, Advice};

/// What `dredge advise` was asked.
#[derive(Debug, Clone, Default)]
pub struct AdviseOptions {
    /// The image, as for `dredge image`.
    pub source: String,
    /// The Dockerfile it was built from.
    pub dockerfile: Option<PathBuf>,
    /// Compute the edits (for a diff). Needs `dockerfile`.
    pub edits: bool,
    /// Apply the edits in place, keeping backups. Needs `dockerfile`.
    pub write: bool,
    /// Show progress on stderr.
    pub progress: bool,
    /// Also check every blob's digest and size, and every diff id (reads every byte).
    pub verify: bool,
}

/// One file's text before and after the mechanical suggestions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// The file.
    pub path: PathBuf,
    /// Its text now; `None` when it does not exist yet.
    pub old: Option<String>,
    /// Its text with the edits applied.
    pub new: String,
}

/// The edits of the Dockerfile and, when an ignore pattern is suggested, of its `.dockerignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edits {
    /// The Dockerfile.
    pub dockerfile: FileEdit,
    /// The `.dockerignore` next to it.
    pub dockerignore: Option<FileEdit>,
    /// Bytes the applied suggestions save (Σ of their `bytes_saved`).
    pub bytes_saved: u64,
    /// Σ `bytes_saved` over all the suggestions, applied or not.
    pub advice_bytes_saved: u64,
    /// Suggestions marked as applied whose edit could not be made: (number in the table, why).
    pub left_out: Vec<(usize, String)>,
}

/// A file `advise` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file.
    pub path: PathBuf,
    /// Where its previous text was kept, when it had one.
    pub backup: Option<PathBuf>,
}

/// What `dredge advise` found, and did.
#[derive(Debug)]
pub struct AdviseOutcome {
    /// The advice (the `dredge.advice` document).
    pub advice: Advice,
    /// The edits, when asked for.
    pub edits: Option<Edits>,
    /// Files written (`write`), in order.
    pub written: Vec<Written>,
    /// Oddities that did not stop the advice (the source's and the advice's).
    pub warnings: Vec<String>,
}

impl AdviseOutcome {
    /// Always [`crate::Exit::Done`].
    pub fn exit(&self) -> crate::Exit {
        crate::Exit::Done
    }
}

/// Why advice or its edits could not be made (an input error, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum AdviseError {
    /// A file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The Dockerfile cannot be parsed.
    #[error(transparent)]
    Parse(#[from] dockerfile::ParseError),
    /// The image cannot be read.
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    /// Edits asked for without a Dockerfile.
    #[error("edits need a Dockerfile (--dockerfile PATH)")]
    NoDockerfile,
    /// The Dockerfile does not match the image, so no edit can be placed.
    #[error("no diff: {0}")]
    Mismatch(String),
    /// An edit cannot be applied.
    #[error("{}: {reason}", path.display())]
    Apply {
        /// The Dockerfile.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The backup cannot be made.
    #[error("cannot back up {}: {source}", path.display())]
    Backup {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Reads and parses a Dockerfile.
pub fn read_dockerfile(path: &Path) -> Result<Dockerfile, AdviseError> {
    let text = fs::read_to_string(path).map_err(|source| AdviseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(dockerfile::parse(&path.display().to_string(), &text)?)
}

/// `dredge advise`: the advice, the edits when asked, and the files written when asked.
pub fn run(opts: &AdviseOptions) -> Result<AdviseOutcome, AdviseError> {
    let df = opts
        .dockerfile
        .as_deref()
        .map(read_dockerfile)
        .transpose()?;
    let wants_edits = opts.edits || opts.write;
    if wants_edits && df.is_none() {
        return Err(AdviseError::NoDockerfile);
    }
    let opened = crate::image::open(
        &opts.source,
        crate::source::LoadOptions {
            verify: opts.verify,
            ..crate::source::LoadOptions::default()
        },
        opts.progress,
    )
    .map_err(crate::image::ImageError::from)?;
    let mut warnings = opened.image.warnings.clone();
    let advice = advice::advise(&opts.source, &opened.image, df.as_ref());
    warnings.extend(advice.warnings.iter().cloned());
    if let Some(m) = &advice.mismatch {
        if wants_edits {
            return Err(AdviseError::Mismatch(m.clone()));
        }
        warnings.push(format!("{m}; advice from the image history only"));
    }
    let (edits, written) = match (&df, &opts.dockerfile) {
        (Some(df), Some(path)) if wants_edits => {
            let edits = edits(df, path, &advice)?;
            let written = if opts.write { write(&edits)? } else { vec![] };
            (Some(edits), written)
        }
        _ => (None, vec![]),
    };
    Ok(AdviseOutcome {
        advice,
        edits,
        written,
        warnings,
    })
}

fn read_if_any(path: &Path) -> Result<Option<String>, AdviseError> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AdviseError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The mechanical suggestions of `advice` applied to the Dockerfile at `path` (parsed as `df`).
pub fn edits(df: &Dockerfile, path: &Path, advice: &Advice) -> Result<Edits, AdviseError> {
    let ignore_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(".dockerignore");
    let old_ignore = read_if_any(&ignore_path)?;
    let old = fs::read_to_string(path).map_err(|source| AdviseError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let applied = advice::apply_all(df, advice, old_ignore.as_deref());
    let (new, new_ignore) = (applied.dockerfile, applied.dockerignore);
    Ok(Edits {
        dockerfile: FileEdit {
            path: path.to_path_buf(),
            old: Some(old),
            new,
        },
        dockerignore: new_ignore.map(|new| FileEdit {
            path: ignore_path,
            old: old_ignore,
            new,
        }),
        bytes_saved: applied.bytes_saved,
        advice_bytes_saved: advice.bytes_saved,
        left_out: applied.left_out,
    })
}

/// `path` with `suffix` appended to its file name (same directory).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates `path` afresh with `text`: whatever is there (a stale file, a symlink) is removed first,
/// so nothing is written through a link to elsewhere.
fn create_fresh(path: &Path, text: &str, like: Option<&fs::Metadata>) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    if let Some(m) = like {
        f.set_permissions(m.permissions())?;
    }
    f.sync_all()
}

/// Writes one edit: backup of the old text (when there is one), then the new text to a temporary
/// file beside it, renamed over the file.
fn write_one(edit: &FileEdit) -> Result<Written, AdviseError> {
    let path = &edit.path;
    let meta = fs::metadata(path).ok();
    let backup = match &edit.old {
        Some(old) => {
            let b = sibling(path, ".dredge-bak");
            create_fresh(&b, old, meta.as_ref()).map_err(|source| AdviseError::Backup {
                path: path.clone(),
                source,
            })?;
            Some(b)
        }
        None => None,
    };
    let tmp = sibling(path, ".dredge-tmp");
    create_fresh(&tmp, &edit.new, meta.as_ref())
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = fs::remove_file(&tmp);
            AdviseError::Write {
                path: path.clone(),
                source,
            }
        })?;
    Ok(Written {
        path: path.clone(),
        backup,
    })
}

/// Writes the edits that change something: the Dockerfile, then its `.dockerignore`.
pub fn write(edits: &Edits) -> Result<Vec<Written>, AdviseError> {
    let mut out = Vec::new();
    let df = &edits.dockerfile;
    if df.old.as_deref() != Some(df.new.as_str()) {
        out.push(write_one(df)?);
    }
    if let Some(ignore) = &edits.dockerignore {
        out.push(write_one(ignore)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dredge-advise-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_atomically_with_backups_and_never_through_a_link() {
        let d = tempdir("write");
        let outside = tempdir("write-outside").join("victim");
        fs::write(&outside, "untouched").unwrap();
        let df = d.join("Dockerfile");
        fs::write(&df, "FROM a\nRUN x\n").unwrap();
        fs::set_permissions(&df, fs::Permissions::from_mode(0o640)).unwrap();
        // A backup name and a temporary name that point elsewhere: replaced, not followed.
        symlink(&outside, d.join("Dockerfile.dredge-bak")).unwrap();
        symlink(&outside, d.join("Dockerfile.dredge-tmp")).unwrap();
        let edits = Edits {
            dockerfile: FileEdit {
                path: df.clone(),
                old: Some("FROM a\nRUN x\n".into()),
                new: "FROM a\nRUN x && y\n".into(),
            },
            dockerignore: Some(FileEdit {
                path: d.join(".dockerignore"),
                old: None,
                new: "**/.git\n".into(),
            }),
            bytes_saved: 0,
            advice_bytes_saved: 0,
            left_out: vec![],
        };
        let written = write(&edits).unwrap();
        assert_eq!(
            written,
            [
                Written {
                    path: df.clone(),
                    backup: Some(d.join("Dockerfile.dredge-bak")),
                },
                Written {
                    path: d.join(".dockerignore"),
                    backup: None,
                },
            ]
        );
        assert_eq!(fs::read_to_string(&outside).unwrap(), "untouched");
        assert_eq!(fs::read_to_string(&df).unwrap(), "FROM a\nRUN x && y\n");
        assert_eq!(
            fs::metadata(&df).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let bak = d.join("Dockerfile.dredge-bak");
        assert!(fs::symlink_metadata(&bak).unwrap().is_file());
        assert_eq!(fs::read_to_string(&bak).unwrap(), "FROM a\nRUN x\n");
        assert_eq!(
            fs::read_to_string(d.join(".dockerignore")).unwrap(),
            "**/.git\n"
        );
        let mut names: Vec<String> = fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".dockerignore", "Dockerfile", "Dockerfile.dredge-bak"]
        );
        // Nothing to change in the Dockerfile: it is left alone.
        let same = Edits {
            dockerfile: FileEdit {
                path: df.clone(),
                old: Some("FROM a\nRUN x && y\n".into()),
                new: "FROM a\nRUN x && y\n".into(),
            },
            dockerignore: None,
            bytes_saved: 0,
            advice_bytes_saved: 0,
            left_out: vec![],
        };
        assert_eq!(write(&same).unwrap(), []);
        fs::remove_dir_all(&d).unwrap();
        fs::remove_dir_all(outside.parent().unwrap()).unwrap();
    }

    #[test]
    fn edits_need_a_dockerfile() {
        let e = run(&AdviseOptions {
            source: "/nonexistent.tar".into(),
            edits: true,
            ..AdviseOptions::default()
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "edits need a Dockerfile (--dockerfile PATH)");
    }
}
