//! How a command ends, as the process sees it. The one place exit statuses are defined.

/// The exit status of a `dredge` command (documented in the README and in `dredge check --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the command did what was asked (every budget holds, no lint finding).
    Done,
    /// 1: a check failed: a budget is broken (`check`) or a rule found something (`lint`).
    /// The report has been printed in full.
    Failed,
    /// 2: usage or input error: a bad flag, an unreadable or malformed file, an image that cannot
    /// be read. Said in one line on stderr.
    Input,
    /// 3: another `dredge prune` holds the lock; nothing was done. Said in one line on stderr.
    Locked,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Input => 2,
            Exit::Locked => 3,
        }
    }
}
