//! What can go wrong with the run store, one variant per thing a caller
//! can act on: SQLite failed, the database cannot be created or is empty,
//! a newer loopc wrote it, a row does not decode, a run id finds no run
//! (or several), a run is busy or not waiting.
//!
//! The messages are the ones `loopc` prints: front ends show `Display`
//! as it is, and match on the variant when they need to decide something.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::Status;

/// An error of the [`Store`](super::Store).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused an operation (I/O, a lock held past the busy timeout, …).
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A value did not encode or decode as JSON (serde_json's message as it is).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The state directory cannot be created.
    #[error("cannot create state directory {}: {source}", .path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    /// The database file cannot be created.
    #[error("cannot create {}: {source}", .path.display())]
    Create { path: PathBuf, source: std::io::Error },
    /// The database file has 0 bytes. SQLite would take it for a new
    /// database, so a file truncated by accident would lose every run
    /// silently: it is refused instead.
    #[error(
        "state database {} is empty (0 bytes): it may have been truncated; move it away to start with a new one",
        .path.display()
    )]
    Empty { path: PathBuf },
    /// The file is not an SQLite database, or its header is damaged. It is
    /// left as it is.
    #[error(
        "{} is not a loopc state database ({why}); move it away to start with a new one, or restore it from a backup",
        .path.display()
    )]
    NotADatabase { path: PathBuf, why: String },
    /// The database has a schema version newer than this code reads.
    #[error(
        "state database {} has schema version {found}; this loopc reads up to {supported} (a newer loopc made it)",
        .path.display()
    )]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    /// A stored row does not decode: which run (none for loop-scoped
    /// memory), table and row, and why. Corrupt state is never read as a default.
    #[error("state database is corrupt: {}table `{table}`, row {row}: {why}", run_prefix(.run))]
    Corrupt {
        run: Option<String>,
        table: &'static str,
        row: String,
        why: String,
    },
    /// No run has this id (`path`: the database looked in, when the id was typed by a person).
    #[error("no run `{run}`{}", in_path(.path))]
    NotFound { run: String, path: Option<PathBuf> },
    /// Not even possibly a run id: only letters, digits, `-` and `_` are looked up.
    #[error("no run `{run}` in {} (run ids are letters, digits and `-`)", .path.display())]
    InvalidRunId { run: String, path: PathBuf },
    /// A run id prefix that fits more than one run.
    #[error("`{prefix}` matches {count} runs; give more of the id")]
    Ambiguous { prefix: String, count: usize },
    /// Another live process executes the run. `to_execute`: this process
    /// wanted to execute it too (the message then says what to do).
    #[error("run `{run}` is being executed by process {pid}{}", busy_advice(*.to_execute))]
    Busy { run: String, pid: u32, to_execute: bool },
    /// A decision was given for a run that does not wait for a person.
    #[error("run `{run}` is {}, not waiting for a person{}", .status.as_str(), not_waiting_advice(*.status))]
    NotWaiting { run: String, status: Status },
    /// The database file was deleted or replaced while a run wrote to it:
    /// what it writes now would be lost with the unlinked file.
    #[error(
        "state database {} was deleted or replaced while run `{run}` executed; the run stops (its steps so far are in the file that was open; restore it to resume)",
        .path.display()
    )]
    Lost { run: String, path: PathBuf },
}

/// What a person who meant to stop a run that does not wait can do instead.
fn not_waiting_advice(status: Status) -> &'static str {
    match status {
        Status::Running | Status::Paused | Status::Interrupted => " (to stop it: loopc cancel)",
        _ => "",
    }
}

impl StoreError {
    /// A row of `run` in `table` that does not decode.
    pub fn corrupt(run: &str, table: &'static str, row: impl Into<String>, why: impl Display) -> StoreError {
        StoreError::Corrupt {
            run: Some(run.to_owned()),
            table,
            row: row.into(),
            why: why.to_string(),
        }
    }

    /// No run `run`, without saying where it was looked for.
    pub fn not_found(run: &str) -> StoreError {
        StoreError::NotFound {
            run: run.to_owned(),
            path: None,
        }
    }
}

/// Interpreter internals report failures as text; a store error among them
/// becomes its message (the `?` operator uses this).
impl From<StoreError> for String {
    fn from(e: StoreError) -> String {
        e.to_string()
    }
}

fn run_prefix(run: &Option<String>) -> String {
    run.as_ref().map_or_else(String::new, |run| format!("run `{run}`, "))
}

fn in_path(path: &Option<PathBuf>) -> String {
    path.as_deref().map_or_else(String::new, |p: &Path| format!(" in {}", p.display()))
}

fn busy_advice(to_execute: bool) -> &'static str {
    if to_execute {
        "; wait for it or stop it first"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages are the ones loopc printed before the store had typed
    /// errors, byte for byte (scripts and people match on them).
    #[test]
    fn messages_are_unchanged() {
        let db = PathBuf::from("/s/state.db");
        let cases = [
            (
                StoreError::corrupt("r1", "steps", "(iteration 2, step `workers.w`)", "negative tokens"),
                "state database is corrupt: run `r1`, table `steps`, row (iteration 2, step `workers.w`): negative tokens",
            ),
            (
                StoreError::Corrupt {
                    run: None,
                    table: "memory",
                    row: "(scope `loop:x`, key `k`)".into(),
                    why: "value_json does not decode: EOF".into(),
                },
                "state database is corrupt: table `memory`, row (scope `loop:x`, key `k`): value_json does not decode: EOF",
            ),
            (StoreError::not_found("r1"), "no run `r1`"),
            (
                StoreError::NotFound {
                    run: "r1".into(),
                    path: Some(db.clone()),
                },
                "no run `r1` in /s/state.db",
            ),
            (
                StoreError::InvalidRunId {
                    run: "r*".into(),
                    path: db.clone(),
                },
                "no run `r*` in /s/state.db (run ids are letters, digits and `-`)",
            ),
            (
                StoreError::Ambiguous {
                    prefix: "r".into(),
                    count: 3,
                },
                "`r` matches 3 runs; give more of the id",
            ),
            (
                StoreError::Busy {
                    run: "r1".into(),
                    pid: 42,
                    to_execute: true,
                },
                "run `r1` is being executed by process 42; wait for it or stop it first",
            ),
            (
                StoreError::Busy {
                    run: "r1".into(),
                    pid: 42,
                    to_execute: false,
                },
                "run `r1` is being executed by process 42",
            ),
            (
                StoreError::NotWaiting {
                    run: "r1".into(),
                    status: Status::Halted,
                },
                "run `r1` is halted, not waiting for a person",
            ),
            (
                StoreError::SchemaTooNew {
                    path: db.clone(),
                    found: 9,
                    supported: 2,
                },
                "state database /s/state.db has schema version 9; this loopc reads up to 2 (a newer loopc made it)",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
            assert_eq!(String::from(error), message);
        }
    }
}
