//! One `dredge prune` at a time: an exclusive `flock(2)` on `<state-dir>/prune.lock`, taken without
//! waiting. The kernel releases it when the holder exits, even after `kill -9`; the file stays.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use super::PruneError;

/// The held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock or fails at once with [`PruneError::Locked`] naming the holder.
pub fn take(state_dir: &Path) -> Result<Lock, PruneError> {
    std::fs::create_dir_all(state_dir).map_err(|e| {
        PruneError::Input(format!(
            "cannot create the state dir {}: {e}",
            state_dir.display()
        ))
    })?;
    let path = state_dir.join("prune.lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| PruneError::Input(format!("cannot open the lock {}: {e}", path.display())))?;
    if let Err(e) = flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(PruneError::Locked(format!(
                "another dredge prune is running (lock {} held{}); try again when it has finished",
                path.display(),
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" by pid {holder}")
                }
            )));
        }
        return Err(PruneError::Input(format!(
            "cannot lock {}: {e}",
            path.display()
        )));
    }
    // Best effort: the holder's pid, for the message above.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    Ok(Lock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_at_once_and_the_first_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = take(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open conflicts, as another
        // process would.
        let e = take(dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.to_string().contains("another dredge prune is running"),
            "{e}"
        );
        assert!(
            e.to_string().contains(&std::process::id().to_string()),
            "{e}"
        );
        drop(first);
        assert!(take(dir.path()).is_ok());
    }
}
