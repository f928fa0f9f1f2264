//! The journal: one file of JSON lines per run, `<state-dir>/runs/<run-id>.jsonl`. Every step is an
//! `intent` line, fsync'ed before the step, and a `done` line, fsync'ed after it; `begin` and `end`
//! frame the run. A run killed at any point leaves a journal without `end`: the next run reports it,
//! settles its step in flight by looking at what is there (an object gone or still present, a path
//! moved or not), and closes it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Kind, PruneError};

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Remove one reference of an image (`DELETE /images/{ref}`).
    Untag,
    /// Delete an object through the engine (no force).
    Delete,
    /// Rename an orphan path into quarantine.
    Quarantine,
    /// Rename a quarantined path back.
    Restore,
    /// Delete a quarantined dir for good.
    Purge,
    /// Restart a container holding deleted files (`POST /containers/{id}/restart`).
    Restart,
    /// Truncate a deleted log through `/proc/PID/fd/N` (its content is lost).
    Truncate,
    /// Abort an unfinished write of the containerd store (`Content.Abort`).
    Abort,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done as intended.
    Done,
    /// Not done; see the reason.
    Skipped,
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// The run starts.
    Begin {
        /// The run id.
        run: String,
        /// Seconds since the epoch.
        time: i64,
        /// The engine id (`offline` without one).
        engine_id: String,
        /// The data root.
        data_root: String,
        /// What the run does (`apply`, `undo`, `purge`).
        what: String,
    },
    /// A step is about to be taken.
    Intent {
        /// Step number, from 1.
        step: u64,
        /// The item's kind.
        kind: Kind,
        /// The item's id.
        id: String,
        /// What is done.
        action: Action,
        /// Untag: the reference; a `log` item's truncate: the log file; a lease's delete and an
        /// ingest's abort: the containerd namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// Renames: from where.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Renames: to where.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// A step ended.
    Done {
        /// Step number.
        step: u64,
        /// How.
        outcome: Outcome,
        /// Why, when skipped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// True when a later run settled it after an interruption.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recovered: bool,
    },
    /// The run ended.
    End {
        /// Seconds since the epoch.
        time: i64,
        /// True when a later run closed it after an interruption.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        interrupted: bool,
    },
}

/// A journal being written.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    step: u64,
}

/// The runs dir of a state dir.
pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runs")
}

fn io_err(path: &Path, e: std::io::Error) -> PruneError {
    PruneError::Input(format!("cannot write the journal {}: {e}", path.display()))
}

impl Journal {
    /// Creates the run's journal and writes `begin`.
    pub fn create(state_dir: &Path, begin: Entry) -> Result<Journal, PruneError> {
        let Entry::Begin { run, .. } = &begin else {
            return Err(PruneError::Input("a journal starts with begin".into()));
        };
        let dir = runs_dir(state_dir);
        std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let path = dir.join(format!("{run}.jsonl"));
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let _ = File::open(&dir).and_then(|d| d.sync_all());
        let mut j = Journal {
            file,
            path,
            step: 0,
        };
        j.write(&begin)?;
        Ok(j)
    }

    /// Reopens an existing journal to append to it (recovery).
    fn reopen(path: &Path, step: u64) -> Result<Journal, PruneError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            step,
        })
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line and fsyncs it.
    pub fn write(&mut self, e: &Entry) -> Result<(), PruneError> {
        let mut line = serde_json::to_vec(e).map_err(|e| io_err(&self.path, e.into()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io_err(&self.path, e))
    }

    /// Writes an intent for the next step; returns its number.
    pub fn intent(
        &mut self,
        kind: Kind,
        id: &str,
        action: Action,
        reference: Option<&str>,
        from_to: Option<(&str, &str)>,
    ) -> Result<u64, PruneError> {
        self.step += 1;
        let step = self.step;
        self.write(&Entry::Intent {
            step,
            kind,
            id: id.to_string(),
            action,
            reference: reference.map(String::from),
            from: from_to.map(|(f, _)| f.to_string()),
            to: from_to.map(|(_, t)| t.to_string()),
        })?;
        test_hook("intent", step);
        Ok(step)
    }

    /// Writes how a step ended.
    pub fn done(
        &mut self,
        step: u64,
        outcome: Outcome,
        reason: Option<String>,
    ) -> Result<(), PruneError> {
        self.write(&Entry::Done {
            step,
            outcome,
            reason,
            recovered: false,
        })?;
        test_hook("done", step);
        Ok(())
    }

    /// Writes `end`.
    pub fn end(mut self, time: i64) -> Result<(), PruneError> {
        self.write(&Entry::End {
            time,
            interrupted: false,
        })
    }
}

/// Test-only: `DREDGE_PRUNE_TEST_PAUSE=intent:N` (or `done:N`) stops the run right after that journal
/// line is on disk, printing `dredge: test pause` to stderr, so that a test can `kill -9` it there.
fn test_hook(at: &str, step: u64) {
    if let Ok(v) = std::env::var("DREDGE_PRUNE_TEST_PAUSE")
        && v == format!("{at}:{step}")
    {
        eprintln!("dredge: test pause at {v}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// A journal read back.
#[derive(Debug, Clone)]
pub struct Read {
    /// Its path.
    pub path: PathBuf,
    /// Its lines.
    pub entries: Vec<Entry>,
}

impl Read {
    /// The run id (from `begin`, else the file name).
    pub fn run(&self) -> String {
        match self.entries.first() {
            Some(Entry::Begin { run, .. }) => run.clone(),
            _ => self
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
    /// True when the run ended (cleanly or closed by a later run).
    pub fn ended(&self) -> bool {
        self.entries.iter().any(|e| matches!(e, Entry::End { .. }))
    }
    /// Intents without a `done`.
    pub fn in_flight(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| match e {
                Entry::Intent { step, .. } => !self
                    .entries
                    .iter()
                    .any(|d| matches!(d, Entry::Done { step: s, .. } if s == step)),
                _ => false,
            })
            .collect()
    }
    /// Renames into quarantine that were done: (item id, from, to).
    pub fn quarantined(&self) -> Vec<(String, String, String)> {
        self.entries
            .iter()
            .filter_map(|e| {
                match e {
                Entry::Intent {
                    step,
                    id,
                    action: Action::Quarantine,
                    from: Some(f),
                    to: Some(t),
                    ..
                } if self.entries.iter().any(|d| {
                    matches!(d, Entry::Done { step: s, outcome: Outcome::Done, .. } if s == step)
                }) =>
                {
                    Some((id.clone(), f.clone(), t.clone()))
                }
                _ => None,
            }
            })
            .collect()
    }
    fn last_step(&self) -> u64 {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Intent { step, .. } => Some(*step),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// Parses a journal's text; any line that is not a complete entry (a torn or corrupt write) is an
/// error naming the file and line: the state it describes is then unknown, and nothing is done.
pub fn parse(path: &Path, text: &str) -> Result<Read, PruneError> {
    let mut entries = Vec::new();
    let bad = |n: usize, why: String| {
        PruneError::Input(format!(
            "journal {} line {n} is corrupt ({why}): check the objects it names, then move it aside",
            path.display()
        ))
    };
    if !text.is_empty() && !text.ends_with('\n') {
        let n = text.lines().count();
        return Err(bad(n, "truncated: no end of line".into()));
    }
    for (i, line) in text.lines().enumerate() {
        let e: Entry = serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
        entries.push(e);
    }
    if !matches!(entries.first(), Some(Entry::Begin { .. })) {
        return Err(bad(1, "it does not start with begin".into()));
    }
    Ok(Read {
        path: path.to_path_buf(),
        entries,
    })
}

/// Every journal of the state dir, oldest first.
pub fn all(state_dir: &Path) -> Result<Vec<Read>, PruneError> {
    let dir = runs_dir(state_dir);
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(PruneError::Input(format!(
                "cannot read the journals in {}: {e}",
                dir.display()
            )));
        }
    };
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| {
                PruneError::Input(format!("cannot read the journal {}: {e}", p.display()))
            })?;
            parse(p, &text)
        })
        .collect()
}

/// How an interrupted run was settled.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    /// The run id.
    pub run: String,
    /// Its journal.
    pub journal: String,
    /// Steps it finished.
    pub steps_done: usize,
    /// Steps that were in flight, with what was found.
    pub settled: Vec<Settled>,
}

/// One in-flight step, settled.
#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    /// Its number.
    pub step: u64,
    /// The item's kind.
    pub kind: Kind,
    /// The item's id.
    pub id: String,
    /// What it was doing.
    pub action: Action,
    /// True when it turned out done.
    pub done: bool,
    /// What was found.
    pub found: String,
}

/// Says whether an interrupted step happened: `Ok((done, what was found))`, or why it cannot tell.
pub type Look<'a> = dyn FnMut(&Entry) -> Result<(bool, String), String> + 'a;

/// Settles and closes every journal without `end`. `look(intent)` says, from what is there now,
/// whether the step in flight happened (true, with what was found) or not, or that it cannot tell
/// (then nothing is written and the run stops); the finding is journaled as the step's `done` line,
/// then `end` (interrupted). Needs the lock.
pub fn recover(
    state_dir: &Path,
    now: i64,
    look: &mut Look<'_>,
) -> Result<Vec<Recovered>, PruneError> {
    let mut out = Vec::new();
    for r in all(state_dir)? {
        if r.ended() {
            continue;
        }
        let steps_done = r
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Done { .. }))
            .count();
        let mut j = Journal::reopen(&r.path, r.last_step())?;
        let mut settled = Vec::new();
        for e in r.in_flight() {
            let Entry::Intent {
                step,
                kind,
                id,
                action,
                ..
            } = e
            else {
                continue;
            };
            let (done, found) = look(e).map_err(|why| {
                PruneError::Input(format!(
                    "cannot settle step {step} of the interrupted run in {}: {why}",
                    r.path.display()
                ))
            })?;
            j.write(&Entry::Done {
                step: *step,
                outcome: if done {
                    Outcome::Done
                } else {
                    Outcome::Skipped
                },
                reason: Some(format!("interrupted; found: {found}")),
                recovered: true,
            })?;
            settled.push(Settled {
                step: *step,
                kind: *kind,
                id: id.clone(),
                action: *action,
                done,
                found,
            });
        }
        j.write(&Entry::End {
            time: now,
            interrupted: true,
        })?;
        out.push(Recovered {
            run: r.run(),
            journal: r.path.display().to_string(),
            steps_done,
            settled,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(run: &str) -> Entry {
        Entry::Begin {
            run: run.into(),
            time: 1,
            engine_id: "E".into(),
            data_root: "/r".into(),
            what: "apply".into(),
        }
    }

    #[test]
    fn a_run_killed_mid_step_is_settled_and_closed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(dir.path(), begin("r1")).unwrap();
        let s1 = j
            .intent(Kind::Container, "c1", Action::Delete, None, None)
            .unwrap();
        j.done(s1, Outcome::Done, None).unwrap();
        let s2 = j
            .intent(
                Kind::Orphan,
                "/r/x",
                Action::Quarantine,
                None,
                Some(("/r/x", "/r/q/x")),
            )
            .unwrap();
        drop(j); // killed here: step 2 in flight
        let mut asked = Vec::new();
        let rec = recover(dir.path(), 5, &mut |e| {
            asked.push(e.clone());
            Ok((true, "moved".into()))
        })
        .unwrap();
        assert_eq!(asked.len(), 1);
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].steps_done, 1);
        assert_eq!(rec[0].settled[0].step, s2);
        assert!(rec[0].settled[0].done);
        let all = all(dir.path()).unwrap();
        assert!(all[0].ended());
        assert_eq!(
            all[0].quarantined(),
            [("/r/x".to_string(), "/r/x".to_string(), "/r/q/x".to_string())]
        );
        // Nothing left to recover.
        assert!(
            recover(dir.path(), 6, &mut |_| Ok((false, String::new())))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn torn_or_corrupt_journals_are_refused_with_file_and_line() {
        let p = Path::new("/s/runs/r.jsonl");
        let ok = serde_json::to_string(&begin("r")).unwrap();
        assert!(parse(p, &format!("{ok}\n")).is_ok());
        let e = parse(p, &format!("{ok}\n{{\"op\":\"intent\",\"st")).unwrap_err();
        assert!(e.to_string().contains("/s/runs/r.jsonl line 2"), "{e}");
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse(p, &format!("{ok}\nnot json\n")).unwrap_err();
        assert!(e.to_string().contains("line 2 is corrupt"), "{e}");
        let e = parse(p, "{\"op\":\"end\",\"time\":1}\n").unwrap_err();
        assert!(e.to_string().contains("begin"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }
}
