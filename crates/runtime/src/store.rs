//! Crash-safe run state in SQLite (WAL, `synchronous = FULL`): runs,
//! iterations, step results, memory, human decisions, persisted counters,
//! the processes a run started, and an event log.
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

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock;
use crate::safety::secrets::Redactor;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Executing, or interrupted (a crash leaves this; `resume` continues).
    Running,
    /// Waiting for `loopc approve` / `loopc reject`.
    AwaitingHuman,
    Succeeded,
    Halted,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Running,
        Status::AwaitingHuman,
        Status::Succeeded,
        Status::Halted,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::AwaitingHuman => "awaiting_human",
            Status::Succeeded => "succeeded",
            Status::Halted => "halted",
            Status::Rejected => "rejected",
        }
    }

    /// `None` for anything but the five statuses: the caller reports it.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Halted | Status::Rejected)
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Ran and produced its result.
    Done,
    /// Not run: a worker it depends on failed.
    Skipped,
    /// Refused by a safety check or the sandbox.
    Blocked,
    /// Its executor failed.
    Failed,
    /// Its executor did not finish in time.
    Timeout,
    /// Spent more than its own `cost_budget_usd`.
    OverBudget,
    /// Its output was withheld (`quarantine`).
    Quarantined,
    /// Its output waits for a person (`escalate_human`).
    Gated,
    /// A run output that passed its `pre_output` checks.
    Released,
    /// An evaluator could not give a verdict.
    Error,
}

impl StepStatus {
    pub const ALL: [StepStatus; 10] = [
        StepStatus::Done,
        StepStatus::Skipped,
        StepStatus::Blocked,
        StepStatus::Failed,
        StepStatus::Timeout,
        StepStatus::OverBudget,
        StepStatus::Quarantined,
        StepStatus::Gated,
        StepStatus::Released,
        StepStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Skipped => "skipped",
            StepStatus::Blocked => "blocked",
            StepStatus::Failed => "failed",
            StepStatus::Timeout => "timeout",
            StepStatus::OverBudget => "over_budget",
            StepStatus::Quarantined => "quarantined",
            StepStatus::Gated => "gated",
            StepStatus::Released => "released",
            StepStatus::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<StepStatus> {
        StepStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run's row.
#[derive(Clone, Debug, Serialize)]
pub struct RunRow {
    pub id: String,
    pub loop_name: String,
    pub status: Status,
    pub reason: String,
    pub iteration: u32,
    pub cost_usd: f64,
    pub tokens: u64,
    pub created_at: String,
    pub updated_at: String,
    pub plan_json: String,
    pub inputs_json: String,
    pub workspace: String,
    /// Where the bindings came from (a file, or `loopc.toml[run]`), empty for none.
    pub bindings_path: String,
    /// SHA-256 of the bindings text the run started with (empty: none).
    pub bindings_sha256: String,
    /// What the run waits for, when it waits.
    pub waiting_for: Option<crate::gate::Gate>,
    /// The iteration whose gate the run waits at.
    pub waiting_iteration: u32,
    /// Options the run was started with.
    pub options: crate::RunOptions,
    /// The process executing the run, 0 when none.
    pub pid: u32,
}

/// A finished step's stored result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub status: StepStatus,
    pub result: Value,
    pub cost_usd: f64,
    pub tokens: u64,
    pub attempts: u32,
    pub seconds: f64,
}

/// A completed iteration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct IterationRecord {
    pub iteration: u32,
    pub metrics: serde_json::Map<String, Value>,
    pub feedback: Value,
    pub cost_usd: f64,
    pub tokens: u64,
    pub errors: u32,
    pub violations: Vec<String>,
    pub decision: String,
    pub started_at: String,
    pub finished_at: String,
    pub optimizer_step: bool,
}

/// What [`Store::claim`] found.
pub enum Claim {
    /// The run is this process's now.
    Claimed(RunRow),
    /// The run had already ended; nothing was claimed.
    Ended(RunRow),
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    redactor: Redactor,
}

/// The schema version this code writes (`PRAGMA user_version`). Version 1
/// is loopc 0.1's layout, which set no `user_version`.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE runs (
  id TEXT PRIMARY KEY, loop_name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  iteration INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan_json TEXT NOT NULL, inputs_json TEXT NOT NULL,
  workspace TEXT NOT NULL, bindings_path TEXT NOT NULL DEFAULT '', waiting_for TEXT NOT NULL DEFAULT '',
  started_unix_ms INTEGER NOT NULL DEFAULT 0, finished_unix_ms INTEGER,
  waiting_iteration INTEGER NOT NULL DEFAULT 0, options_json TEXT NOT NULL DEFAULT '{}', pid INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE steps (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
  result_json TEXT NOT NULL, cost_usd REAL NOT NULL, tokens INTEGER NOT NULL, attempts INTEGER NOT NULL,
  seconds REAL NOT NULL, finished_at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, step)
);
CREATE TABLE iterations (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, record_json TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration)
);
CREATE TABLE memory (
  scope TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL, writer TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE decisions (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, approved INTEGER NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE gates (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, first_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, iteration INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL, at TEXT NOT NULL
);
";

/// Version 1 → 2: the bindings' digest, the claiming process's start time
/// (a pid alone can be reused), counters that must survive a restart
/// (`rate_limit`, warn-once), and the process groups a run started.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE runs ADD COLUMN bindings_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid_start INTEGER NOT NULL DEFAULT 0;
CREATE TABLE counters (
  run_id TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE processes (
  run_id TEXT NOT NULL, pgid INTEGER NOT NULL, start_ticks INTEGER NOT NULL, program TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (run_id, pgid)
);
";

type Result<T> = std::result::Result<T, String>;

fn db(e: rusqlite::Error) -> String {
    format!("state database: {e}")
}

/// A stored row that does not decode: which run, table and row, and why.
fn corrupt(run: &str, table: &str, row: &str, why: impl std::fmt::Display) -> String {
    format!("state database is corrupt: run `{run}`, table `{table}`, row {row}: {why}")
}

const RUN_COLUMNS: &str = "id, loop_name, status, reason, iteration, cost_usd, tokens, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, bindings_sha256, waiting_for, waiting_iteration, options_json, pid";

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
        create_private_dir(state_dir).map_err(|e| format!("cannot create state directory {}: {e}", state_dir.display()))?;
        let path = state_dir.join("state.db");
        match std::fs::metadata(&path) {
            // SQLite would take an empty file for a new database: a state
            // file truncated by accident must not silently lose every run.
            Ok(meta) if meta.len() == 0 => {
                return Err(format!(
                    "state database {} is empty (0 bytes): it may have been truncated; move it away to start with a new one",
                    path.display()
                ))
            }
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
                if let Err(e) = options.open(&path) {
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(format!("cannot create {}: {e}", path.display()));
                    }
                }
            }
        }
        let mut conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        // FULL: a committed step survives power loss, not only a killed process.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        migrate(&mut conn, &path)?;
        Ok(Store {
            conn,
            path,
            redactor: Redactor::default(),
        })
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
        self.conn.pragma_update(None, "synchronous", mode).map_err(db)
    }

    /// Record a new run. `inputs` and the plan are redacted before they are
    /// stored; the run then executes with exactly what was stored.
    #[allow(clippy::too_many_arguments)]
    pub fn create_run(
        &self,
        id: &str,
        loop_name: &str,
        plan_json: &str,
        inputs_json: &str,
        workspace: &str,
        bindings: (&str, &str),
        options: &crate::RunOptions,
    ) -> Result<()> {
        let now = clock::now_rfc3339();
        let options_json = serde_json::to_string(options).map_err(|e| e.to_string())?;
        self.conn
            .execute(
                "INSERT INTO runs (id, loop_name, status, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, bindings_sha256, started_unix_ms, options_json)
                 VALUES (?1, ?2, 'running', ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    self.clean(loop_name),
                    now,
                    self.clean_json_text(plan_json),
                    self.clean_json_text(inputs_json),
                    workspace,
                    bindings.0,
                    bindings.1,
                    clock::unix_ms(),
                    options_json
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Spend so far, without loading the plan.
    pub fn spend(&self, id: &str) -> Result<(f64, u64)> {
        self.conn
            .query_row("SELECT cost_usd, tokens FROM runs WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(db)
    }

    /// Take the run for this process, atomically: in one write transaction
    /// the run is read and, unless it has ended or another live process
    /// holds it, marked as this process's. Two `resume`s started together
    /// therefore never both execute it.
    pub fn claim(&mut self, id: &str) -> Result<Claim> {
        let me = std::process::id();
        let my_start = crate::process::start_ticks(me).unwrap_or(0);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let row = tx
            .query_row(
                &format!("SELECT {RUN_COLUMNS}, pid_start FROM runs WHERE id = ?1"),
                params![id],
                |r| Ok((raw_run(r)?, r.get::<_, i64>(18)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((raw, holder_start)) = row else {
            return Err(format!("no run `{id}`"));
        };
        let row = raw.decode()?;
        if row.status.is_final() {
            return Ok(Claim::Ended(row));
        }
        if row.pid != 0 && row.pid != me && crate::process::is_alive(row.pid, holder_start as u64) {
            return Err(format!(
                "run `{id}` is being executed by process {}; wait for it or stop it first",
                row.pid
            ));
        }
        tx.execute(
            "UPDATE runs SET pid = ?2, pid_start = ?3 WHERE id = ?1",
            params![id, me, my_start as i64],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Claim::Claimed(row))
    }

    /// A person accepted changed bindings (`--rebind`): the run goes on with these.
    pub fn set_bindings(&self, id: &str, label: &str, sha256: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET bindings_path = ?2, bindings_sha256 = ?3 WHERE id = ?1",
                params![id, label, sha256],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Give the run up (the process stops executing it).
    pub fn release(&self, id: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET pid = 0, pid_start = 0 WHERE id = ?1 AND pid = ?2",
                params![id, std::process::id()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), params![id], raw_run)
            .optional()
            .map_err(db)?
            .map(RawRun::decode)
            .transpose()
    }

    /// A run by its id or an unambiguous prefix of it. Only the characters
    /// run ids are made of are accepted, and the prefix is compared as
    /// text: no pattern syntax of any kind.
    pub fn find_run(&self, prefix: &str) -> Result<RunRow> {
        let plausible = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plausible {
            return Err(format!(
                "no run `{prefix}` in {} (run ids are letters, digits and `-`)",
                self.path.display()
            ));
        }
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id")
            .and_then(|mut s| s.query_map(params![prefix], |r| r.get(0))?.collect())
            .map_err(db)?;
        let exact = ids.iter().find(|id| id.as_str() == prefix);
        match (exact, ids.as_slice()) {
            (Some(id), _) | (None, [id]) => self.run(id)?.ok_or_else(|| format!("no run `{prefix}`")),
            (None, []) => Err(format!("no run `{prefix}` in {}", self.path.display())),
            (None, many) => Err(format!("`{prefix}` matches {} runs; give more of the id", many.len())),
        }
    }

    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let raws: Vec<RawRun> = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at, id"))
            .and_then(|mut s| s.query_map([], raw_run)?.collect())
            .map_err(db)?;
        raws.into_iter().map(RawRun::decode).collect()
    }

    pub fn set_status(&self, id: &str, status: Status, reason: &str, waiting_for: Option<&crate::gate::Gate>) -> Result<()> {
        update_status(&self.conn, &self.redactor, id, status, reason, waiting_for, 0)
    }

    /// Record a completed (or ended) iteration and, when the run stops or
    /// waits, its new status — in one transaction, so that a crash cannot
    /// leave a finished run looking like one to continue. The record is
    /// redacted in place.
    pub fn finish_iteration(
        &mut self,
        run: &str,
        record: Option<&mut IterationRecord>,
        status: Option<(Status, &str, Option<&crate::gate::Gate>, u32)>,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        if let Some(record) = record {
            let mut value = serde_json::to_value(&*record).map_err(|e| e.to_string())?;
            if self.redactor.value(&mut value) {
                *record = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO iterations (run_id, iteration, record_json) VALUES (?1, ?2, ?3)",
                params![run, record.iteration, value.to_string()],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE runs SET iteration = ?2, updated_at = ?3 WHERE id = ?1",
                params![run, record.iteration, clock::now_rfc3339()],
            )
            .map_err(db)?;
        }
        if let Some((status, reason, waiting_for, waiting_iteration)) = status {
            update_status(&tx, &self.redactor, run, status, reason, waiting_for, waiting_iteration)?;
        }
        tx.commit().map_err(db)
    }

    /// Wall-clock start and end (ms since the epoch) of a run, for reports and tests.
    pub fn run_interval(&self, id: &str) -> Result<(i64, Option<i64>)> {
        self.conn
            .query_row(
                "SELECT started_unix_ms, finished_unix_ms FROM runs WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db)
    }

    pub fn step(&self, run: &str, iteration: u32, step: &str) -> Result<Option<StepRecord>> {
        let raw = self
            .conn
            .query_row(
                "SELECT status, result_json, cost_usd, tokens, attempts, seconds FROM steps WHERE run_id = ?1 AND iteration = ?2 AND step = ?3",
                params![run, iteration, step],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, f64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, f64>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(db)?;
        let Some((status, json, cost_usd, tokens, attempts, seconds)) = raw else {
            return Ok(None);
        };
        let row = || format!("(iteration {iteration}, step `{step}`)");
        let status = StepStatus::parse(&status).ok_or_else(|| corrupt(run, "steps", &row(), format!("`{status}` is not a step status")))?;
        let result = serde_json::from_str(&json).map_err(|e| corrupt(run, "steps", &row(), format!("result_json does not decode: {e}")))?;
        if !(cost_usd.is_finite() && cost_usd >= 0.0 && seconds.is_finite() && seconds >= 0.0) {
            return Err(corrupt(run, "steps", &row(), "cost_usd and seconds must be non-negative numbers"));
        }
        Ok(Some(StepRecord {
            status,
            result,
            cost_usd,
            tokens: u64::try_from(tokens).map_err(|_| corrupt(run, "steps", &row(), "negative tokens"))?,
            attempts: u32::try_from(attempts).map_err(|_| corrupt(run, "steps", &row(), "attempts out of range"))?,
            seconds,
        }))
    }

    /// Commit a finished step and its spend in one transaction. The record
    /// is redacted in place: go on with it as stored.
    pub fn record_step(&mut self, run: &str, iteration: u32, step: &str, record: &mut StepRecord) -> Result<()> {
        self.record_step_with_memory(run, iteration, step, record, None)
    }

    /// Change a committed step's status (a gated output that a person approved).
    pub fn set_step_status(&self, run: &str, iteration: u32, step: &str, status: StepStatus) -> Result<()> {
        self.conn
            .execute(
                "UPDATE steps SET status = ?4 WHERE run_id = ?1 AND iteration = ?2 AND step = ?3",
                params![run, iteration, step, status.as_str()],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Commit a step together with the memory write it made, so that a
    /// crash keeps both or neither. Both are redacted first.
    pub fn record_step_with_memory(
        &mut self,
        run: &str,
        iteration: u32,
        step: &str,
        record: &mut StepRecord,
        memory: Option<MemoryWrite>,
    ) -> Result<()> {
        self.redactor.value(&mut record.result);
        let result_json = record.result.to_string();
        let memory = memory.map(|mut m| {
            self.redactor.value(&mut m.value);
            m
        });
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        if let Some(m) = memory {
            write_memory(&tx, &m)?;
        }
        tx.execute(
            "INSERT INTO steps (run_id, iteration, step, status, result_json, cost_usd, tokens, attempts, seconds, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![run, iteration, step, record.status.as_str(), result_json, record.cost_usd, record.tokens as i64, record.attempts, record.seconds, clock::now_rfc3339()],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE runs SET cost_usd = cost_usd + ?2, tokens = tokens + ?3, updated_at = ?4 WHERE id = ?1",
            params![run, record.cost_usd, record.tokens as i64, clock::now_rfc3339()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    pub fn iterations(&self, run: &str) -> Result<Vec<IterationRecord>> {
        let rows: Vec<(i64, String)> = self
            .conn
            .prepare("SELECT iteration, record_json FROM iterations WHERE run_id = ?1 ORDER BY iteration")
            .and_then(|mut s| s.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(db)?;
        rows.into_iter()
            .map(|(i, json)| {
                serde_json::from_str(&json).map_err(|e| {
                    corrupt(
                        run,
                        "iterations",
                        &format!("(iteration {i})"),
                        format!("record_json does not decode: {e}"),
                    )
                })
            })
            .collect()
    }

    pub fn memory_get(&self, scope: &str) -> Result<serde_json::Map<String, Value>> {
        let rows: Vec<(String, String)> = self
            .conn
            .prepare("SELECT key, value_json FROM memory WHERE scope = ?1 ORDER BY seq")
            .and_then(|mut s| s.query_map(params![scope], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(db)?;
        rows.into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(&v).map_err(|e| {
                    format!("state database is corrupt: table `memory`, row (scope `{scope}`, key `{k}`): value_json does not decode: {e}")
                })?;
                Ok((k, value))
            })
            .collect()
    }

    pub fn memory_clear(&self, scope: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM memory WHERE scope = ?1", params![scope])
            .map_err(db)?;
        Ok(())
    }

    /// When the run first waited at this gate (ms since the epoch).
    pub fn gate_first_seen(&self, run: &str, iteration: u32, gate: &crate::gate::Gate) -> Result<i64> {
        let gate = gate.to_string();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO gates (run_id, iteration, gate, first_ms) VALUES (?1, ?2, ?3, ?4)",
                params![run, iteration, gate, clock::unix_ms()],
            )
            .map_err(db)?;
        self.conn
            .query_row(
                "SELECT first_ms FROM gates WHERE run_id = ?1 AND iteration = ?2 AND gate = ?3",
                params![run, iteration, gate],
                |r| r.get(0),
            )
            .map_err(db)
    }

    pub fn decision(&self, run: &str, iteration: u32, gate: &crate::gate::Gate) -> Result<Option<(bool, String)>> {
        let gate = gate.to_string();
        let raw: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT approved, note FROM decisions WHERE run_id = ?1 AND iteration = ?2 AND gate = ?3",
                params![run, iteration, gate],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db)?;
        raw.map(|(approved, note)| Ok((decoded_approval(run, iteration, &gate, approved)?, note)))
            .transpose()
    }

    /// A person's decision on a waiting run, atomically: in one write
    /// transaction the run must still be waiting and not held by a live
    /// process; the decision, an event and the status `next(row)` returns
    /// are written together. Returns the run as it was while waiting.
    pub fn decide(&mut self, run_id: &str, approved: bool, note: &str, next: impl FnOnce(&RunRow) -> (Status, String)) -> Result<RunRow> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let raw = tx
            .query_row(
                &format!("SELECT {RUN_COLUMNS}, pid_start FROM runs WHERE id = ?1"),
                params![run_id],
                |r| Ok((raw_run(r)?, r.get::<_, i64>(18)?)),
            )
            .optional()
            .map_err(db)?;
        let Some((raw, holder_start)) = raw else {
            return Err(format!("no run `{run_id}`"));
        };
        let row = raw.decode()?;
        if row.status != Status::AwaitingHuman {
            return Err(format!("run `{run_id}` is {}, not waiting for a person", row.status.as_str()));
        }
        if row.pid != 0 && crate::process::is_alive(row.pid, holder_start as u64) {
            return Err(format!("run `{run_id}` is being executed by process {}", row.pid));
        }
        let Some(gate) = row.waiting_for.as_ref().map(ToString::to_string) else {
            return Err(corrupt(
                run_id,
                "runs",
                &format!("`{run_id}`"),
                "waits for a person but not at any gate",
            ));
        };
        let note = self.redactor.text(note).into_owned();
        tx.execute(
            "INSERT OR REPLACE INTO decisions (run_id, iteration, gate, approved, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run_id, row.waiting_iteration, gate, approved as i64, note, clock::now_rfc3339()],
        )
        .map_err(db)?;
        let who = if note.is_empty() { String::new() } else { format!(": {note}") };
        tx.execute(
            "INSERT INTO events (run_id, iteration, kind, message, at) VALUES (?1, ?2, 'human', ?3, ?4)",
            params![
                run_id,
                row.waiting_iteration,
                format!("{} {gate}{who}", if approved { "approved" } else { "rejected" }),
                clock::now_rfc3339()
            ],
        )
        .map_err(db)?;
        let (status, reason) = next(&row);
        update_status(&tx, &self.redactor, run_id, status, &reason, None, 0)?;
        tx.commit().map_err(db)?;
        Ok(row)
    }

    pub fn decisions(&self, run: &str) -> Result<Vec<(u32, String, bool, String)>> {
        let rows: Vec<(i64, String, i64, String)> = self
            .conn
            .prepare("SELECT iteration, gate, approved, note FROM decisions WHERE run_id = ?1 ORDER BY iteration, gate")
            .and_then(|mut s| {
                s.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .map_err(db)?;
        rows.into_iter()
            .map(|(i, gate, approved, note)| {
                let approved = decoded_approval(run, i as u32, &gate, approved)?;
                Ok((i as u32, gate, approved, note))
            })
            .collect()
    }

    pub fn event(&self, run: &str, iteration: u32, kind: &str, message: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO events (run_id, iteration, kind, message, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, iteration, kind, self.clean(message), clock::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn events(&self, run: &str) -> Result<Vec<(u32, String, String)>> {
        self.conn
            .prepare("SELECT iteration, kind, message FROM events WHERE run_id = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map(params![run], |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(db)
    }

    /// A counter the run keeps across restarts (`rate_limit` calls, warn-once keys).
    pub fn counter(&self, run: &str, key: &str) -> Result<Option<Value>> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT value_json FROM counters WHERE run_id = ?1 AND key = ?2",
                params![run, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                corrupt(
                    run,
                    "counters",
                    &format!("(key `{key}`)"),
                    format!("value_json does not decode: {e}"),
                )
            })
        })
        .transpose()
    }

    pub fn set_counter(&self, run: &str, key: &str, value: &Value) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO counters (run_id, key, value_json) VALUES (?1, ?2, ?3)",
                params![run, key, self.clean_json(value)],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Process groups the run started that have not been seen to end: `(pgid, start ticks)`.
    pub fn processes(&self, run: &str) -> Result<Vec<(u32, u64)>> {
        self.conn
            .prepare("SELECT pgid, start_ticks FROM processes WHERE run_id = ?1 ORDER BY pgid")
            .and_then(|mut s| {
                s.query_map(params![run], |r| Ok((r.get::<_, i64>(0)? as u32, r.get::<_, i64>(1)? as u64)))?
                    .collect()
            })
            .map_err(db)
    }

    pub fn forget_process(&self, run: &str, pgid: u32) -> Result<()> {
        self.conn
            .execute("DELETE FROM processes WHERE run_id = ?1 AND pgid = ?2", params![run, pgid])
            .map_err(db)?;
        Ok(())
    }
}

/// A stored decision is 1 (approved) or 0 (rejected); anything else is corrupt.
fn decoded_approval(run: &str, iteration: u32, gate: &str, approved: i64) -> Result<bool> {
    match approved {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt(
            run,
            "decisions",
            &format!("(iteration {iteration}, gate `{gate}`)"),
            format!("approved is {other}, not 0 or 1"),
        )),
    }
}

/// Bring a database to [`SCHEMA_VERSION`], or refuse one this code cannot read.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive).map_err(db)?;
    let mut version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(db)?;
    if version == 0 {
        let has_runs: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(db)?
            > 0;
        if has_runs {
            version = 1;
        } else {
            tx.execute_batch(SCHEMA).map_err(db)?;
            version = 1;
        }
    }
    if version > SCHEMA_VERSION {
        return Err(format!(
            "state database {} has schema version {version}; this loopc reads up to {SCHEMA_VERSION} (a newer loopc made it)",
            path.display()
        ));
    }
    if version == 1 {
        tx.execute_batch(MIGRATE_1_TO_2).map_err(db)?;
        version = 2;
    }
    tx.pragma_update(None, "user_version", version).map_err(db)?;
    tx.commit().map_err(db)
}

/// A memory entry to write with a step.
#[derive(Clone, Debug)]
pub struct MemoryWrite {
    pub scope: String,
    pub key: String,
    pub value: Value,
    pub writer: String,
    pub max_entries: Option<u64>,
}

/// Write one entry, evicting the oldest beyond `max_entries`.
fn write_memory(tx: &rusqlite::Transaction, m: &MemoryWrite) -> Result<()> {
    let seq: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM memory WHERE scope = ?1",
            params![m.scope],
            |r| r.get(0),
        )
        .map_err(db)?;
    tx.execute(
        "INSERT OR REPLACE INTO memory (scope, key, value_json, writer, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![m.scope, m.key, m.value.to_string(), m.writer, seq],
    )
    .map_err(db)?;
    if let Some(max) = m.max_entries {
        tx.execute(
            "DELETE FROM memory WHERE scope = ?1 AND seq NOT IN (SELECT seq FROM memory WHERE scope = ?1 ORDER BY seq DESC LIMIT ?2)",
            params![m.scope, max as i64],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn update_status(
    conn: &Connection,
    redactor: &Redactor,
    id: &str,
    status: Status,
    reason: &str,
    waiting_for: Option<&crate::gate::Gate>,
    waiting_iteration: u32,
) -> Result<()> {
    let finished = if status.is_final() { Some(clock::unix_ms()) } else { None };
    let waiting_for = waiting_for.map_or_else(String::new, ToString::to_string);
    conn.execute(
        "UPDATE runs SET status = ?2, reason = ?3, waiting_for = ?4, waiting_iteration = ?5, updated_at = ?6, finished_unix_ms = COALESCE(?7, finished_unix_ms) WHERE id = ?1",
        params![id, status.as_str(), redactor.text(reason), waiting_for, waiting_iteration, clock::now_rfc3339(), finished],
    )
    .map_err(db)?;
    Ok(())
}

/// A run row as SQLite holds it, before its typed columns are decoded.
struct RawRun {
    id: String,
    loop_name: String,
    status: String,
    reason: String,
    iteration: i64,
    cost_usd: f64,
    tokens: i64,
    created_at: String,
    updated_at: String,
    plan_json: String,
    inputs_json: String,
    workspace: String,
    bindings_path: String,
    bindings_sha256: String,
    waiting_for: String,
    waiting_iteration: i64,
    options_json: String,
    pid: i64,
}

fn raw_run(r: &rusqlite::Row) -> rusqlite::Result<RawRun> {
    Ok(RawRun {
        id: r.get(0)?,
        loop_name: r.get(1)?,
        status: r.get(2)?,
        reason: r.get(3)?,
        iteration: r.get(4)?,
        cost_usd: r.get(5)?,
        tokens: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        plan_json: r.get(9)?,
        inputs_json: r.get(10)?,
        workspace: r.get(11)?,
        bindings_path: r.get(12)?,
        bindings_sha256: r.get(13)?,
        waiting_for: r.get(14)?,
        waiting_iteration: r.get(15)?,
        options_json: r.get(16)?,
        pid: r.get(17)?,
    })
}

impl RawRun {
    fn decode(self) -> Result<RunRow> {
        let id = self.id;
        let bad = |column: &str, why: String| corrupt(&id, "runs", &format!("`{id}`"), format!("{column}: {why}"));
        let status = Status::parse(&self.status).ok_or_else(|| {
            bad(
                "status",
                format!(
                    "`{}` is not a run status ({})",
                    self.status,
                    Status::ALL.map(Status::as_str).join(", ")
                ),
            )
        })?;
        let options: crate::RunOptions =
            serde_json::from_str(&self.options_json).map_err(|e| bad("options_json", format!("does not decode: {e}")))?;
        let count = |column: &str, v: i64| u32::try_from(v).map_err(|_| bad(column, format!("{v} is out of range")));
        if !(self.cost_usd.is_finite() && self.cost_usd >= 0.0) {
            return Err(bad("cost_usd", format!("{} is not a non-negative amount", self.cost_usd)));
        }
        Ok(RunRow {
            status,
            reason: self.reason,
            iteration: count("iteration", self.iteration)?,
            cost_usd: self.cost_usd,
            tokens: u64::try_from(self.tokens).map_err(|_| bad("tokens", format!("{} is negative", self.tokens)))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            plan_json: self.plan_json,
            inputs_json: self.inputs_json,
            workspace: self.workspace,
            bindings_path: self.bindings_path,
            bindings_sha256: self.bindings_sha256,
            waiting_for: match self.waiting_for.as_str() {
                "" => None,
                text => Some(crate::gate::Gate::parse(text).ok_or_else(|| bad("waiting_for", format!("`{text}` is not a gate")))?),
            },
            waiting_iteration: count("waiting_iteration", self.waiting_iteration)?,
            options,
            pid: count("pid", self.pid)?,
            loop_name: self.loop_name,
            id,
        })
    }
}
