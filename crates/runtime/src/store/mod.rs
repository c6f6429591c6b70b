//! Crash-safe run state in SQLite (WAL, `synchronous = FULL`): runs,
//! iterations, step results, memory, human decisions, persisted counters,
//! the processes a run started, each run's workspace, and an event log.
//!
//! The interpreter commits each step's result before it starts the next
//! step, so after a crash `resume` finds every finished step here and never
//! runs it again.
//!
//! Three promises hold for everything this module writes:
//! - **no secret at rest**: every text stored goes through the run's
//!   [`Redactor`] first (step results are redacted in place, so the
//!   interpreter goes on with exactly what was stored);
//! - **private files**: the state directory is created `0700`, the database
//!   (and with it SQLite's `-wal` and `-shm` files) `0600`;
//! - **corrupt state is an error, never a default**: a row that does not
//!   decode stops the command with a message naming the run, the table and
//!   the row.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde_json::Value;

use crate::safety::secrets::Redactor;

mod children;
mod control;
mod error;
mod lease;
mod pools;
mod queue;
mod runs;
mod schema;
mod steps;
mod types;
mod workspaces;

pub use children::{ChildRow, ParentLink};
pub use control::Control;
pub(crate) use control::{strongest, UP_THE_PARENTS};
pub use error::StoreError;
pub use lease::{heartbeat, host_id, lease_ms, Lease, LEASE_MS};
pub use pools::PoolRow;
pub use queue::{Decision, QueueEntry, QueueRequest, QueueState};
pub use schema::SCHEMA_VERSION;
pub use types::{Claim, IterationRecord, MemoryWrite, RunRow, Status, StepRecord, StepStatus, UnderWay};
pub use workspaces::RunWorkspace;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    redactor: Redactor,
    /// The database file's device and inode when it was opened: a file
    /// deleted or replaced under a running run is noticed at its next step.
    identity: Option<(u64, u64)>,
}

/// Device and inode of `path`.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// What every store method returns.
pub(super) type Result<T> = std::result::Result<T, StoreError>;

pub(super) const RUN_COLUMNS: &str = "id, loop_name, status, reason, iteration, cost_usd, tokens, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, bindings_sha256, waiting_for, waiting_iteration, options_json, pid";

/// Create `dir` (and parents) with mode 0700; an existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

impl Store {
    /// Open (creating) `state_dir/state.db`.
    pub fn open(state_dir: &Path) -> Result<Store> {
        create_private_dir(state_dir).map_err(|source| StoreError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("state.db");
        match std::fs::metadata(&path) {
            // SQLite would take an empty file for a new database: a state
            // file truncated by accident must not silently lose every run.
            Ok(meta) if meta.len() == 0 => return Err(StoreError::Empty { path }),
            Ok(_) => {}
            Err(_) => {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                // SQLite creates `-wal` and `-shm` with the database file's mode.
                if let Err(source) = options.open(&path) {
                    if source.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(StoreError::Create { path, source });
                    }
                }
            }
        }
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // The first read of the file: one that is not SQLite (or whose
        // header is damaged) is named, not taken for a new database; one a
        // newer loopc wrote is refused before anything is written to it.
        let not_a_database = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::NotADatabase {
                path: path.clone(),
                why: e.to_string(),
            },
            _ => e.into(),
        };
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(not_a_database)?;
        schema::refuse_newer(version, &path)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(not_a_database)?;
        // FULL: a committed step survives power loss, not only a killed process.
        conn.pragma_update(None, "synchronous", "FULL")?;
        schema::migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            identity: file_identity(&path),
            path,
            redactor: Redactor::default(),
        })
    }

    /// Refuse to write for `run` into a database file that is no longer
    /// the one at [`Store::path`] (deleted, or replaced by another file).
    pub(crate) fn check_file(&self, run: &str) -> Result<()> {
        if self.identity.is_some() && file_identity(&self.path) != self.identity {
            return Err(StoreError::Lost {
                run: run.to_owned(),
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: the problems it reports (none: healthy).
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let rows: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The scanner every stored text goes through (default: known secret formats).
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn clean<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        self.redactor.text(text)
    }

    fn clean_json(&self, value: &Value) -> String {
        let mut v = value.clone();
        self.redactor.value(&mut v);
        v.to_string()
    }

    /// JSON text redacted value by value (scanning the text itself would see
    /// a key after a line break as `\nghp_…` and miss it).
    fn clean_json_text(&self, text: &str) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => self.clean_json(&v),
            Err(_) => self.clean(text).into_owned(),
        }
    }

    /// Checkpoint commits can be made cheaper for benchmarks (`NORMAL`), or
    /// skipped (`OFF`); the default is `FULL`.
    pub fn set_synchronous(&self, mode: &str) -> Result<()> {
        Ok(self.conn.pragma_update(None, "synchronous", mode)?)
    }
}
