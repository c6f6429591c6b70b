//! Crash-safe run state in SQLite (WAL, `synchronous = FULL`): runs,
//! iterations, step results, memory, human decisions and an event log.
//!
//! The interpreter commits each step's result before it starts the next
//! step, so after a crash `resume` finds every finished step here and never
//! runs it again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::clock;

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
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::AwaitingHuman => "awaiting_human",
            Status::Succeeded => "succeeded",
            Status::Halted => "halted",
            Status::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Status {
        match s {
            "awaiting_human" => Status::AwaitingHuman,
            "succeeded" => Status::Succeeded,
            "halted" => Status::Halted,
            "rejected" => Status::Rejected,
            _ => Status::Running,
        }
    }
    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Halted | Status::Rejected)
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
    pub bindings_path: String,
    pub waiting_for: String,
    /// The iteration whose gate the run waits at.
    pub waiting_iteration: u32,
    /// Options the run was started with (`dry_run`, `allow_unenforced`, `sync`).
    pub options_json: String,
    /// The process executing the run, 0 when none.
    pub pid: u32,
}

/// A finished step's stored result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepRecord {
    pub status: String,
    pub result: serde_json::Value,
    pub cost_usd: f64,
    pub tokens: u64,
    pub attempts: u32,
    pub seconds: f64,
}

/// A completed iteration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct IterationRecord {
    pub iteration: u32,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    pub feedback: serde_json::Value,
    pub cost_usd: f64,
    pub tokens: u64,
    pub errors: u32,
    pub violations: Vec<String>,
    pub decision: String,
    pub started_at: String,
    pub finished_at: String,
    pub optimizer_step: bool,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, loop_name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  iteration INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan_json TEXT NOT NULL, inputs_json TEXT NOT NULL,
  workspace TEXT NOT NULL, bindings_path TEXT NOT NULL DEFAULT '', waiting_for TEXT NOT NULL DEFAULT '',
  started_unix_ms INTEGER NOT NULL DEFAULT 0, finished_unix_ms INTEGER,
  waiting_iteration INTEGER NOT NULL DEFAULT 0, options_json TEXT NOT NULL DEFAULT '{}', pid INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
  result_json TEXT NOT NULL, cost_usd REAL NOT NULL, tokens INTEGER NOT NULL, attempts INTEGER NOT NULL,
  seconds REAL NOT NULL, finished_at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, step)
);
CREATE TABLE IF NOT EXISTS iterations (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, record_json TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration)
);
CREATE TABLE IF NOT EXISTS memory (
  scope TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL, writer TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS decisions (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, approved INTEGER NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE IF NOT EXISTS gates (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, first_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, iteration INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL, at TEXT NOT NULL
);
";

type Result<T> = std::result::Result<T, String>;

fn db(e: rusqlite::Error) -> String {
    format!("state database: {e}")
}

impl Store {
    /// Open (creating) `state_dir/state.db`.
    pub fn open(state_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(state_dir).map_err(|e| format!("cannot create state directory {}: {e}", state_dir.display()))?;
        let path = state_dir.join("state.db");
        let conn = Connection::open(&path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        // FULL: a committed step survives power loss, not only a killed process.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Store { conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checkpoint commits can be made cheaper for benchmarks (`NORMAL`), or
    /// skipped (`OFF`); the default is `FULL`.
    pub fn set_synchronous(&self, mode: &str) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", mode).map_err(db)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_run(
        &self,
        id: &str,
        loop_name: &str,
        plan_json: &str,
        inputs_json: &str,
        workspace: &str,
        bindings_path: &str,
        options_json: &str,
    ) -> Result<()> {
        let now = clock::now_rfc3339();
        self.conn
            .execute(
                "INSERT INTO runs (id, loop_name, status, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, started_unix_ms, options_json)
                 VALUES (?1, ?2, 'running', ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![id, loop_name, now, plan_json, inputs_json, workspace, bindings_path, clock::unix_ms(), options_json],
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

    /// Take the run for this process. Refused while another live process executes it.
    pub fn claim(&self, id: &str) -> Result<()> {
        let me = std::process::id();
        let holder: u32 = self
            .conn
            .query_row("SELECT pid FROM runs WHERE id = ?1", params![id], |r| r.get(0))
            .map_err(db)?;
        if holder != 0 && holder != me && Path::new(&format!("/proc/{holder}")).exists() {
            return Err(format!(
                "run `{id}` is being executed by process {holder}; wait for it or stop it first"
            ));
        }
        self.conn
            .execute("UPDATE runs SET pid = ?2 WHERE id = ?1", params![id, me])
            .map_err(db)?;
        Ok(())
    }

    /// Give the run up (the process stops executing it).
    pub fn release(&self, id: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET pid = 0 WHERE id = ?1 AND pid = ?2",
                params![id, std::process::id()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                "SELECT id, loop_name, status, reason, iteration, cost_usd, tokens, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, waiting_for, waiting_iteration, options_json, pid FROM runs WHERE id = ?1",
                params![id],
                row_to_run,
            )
            .optional()
            .map_err(db)
    }

    /// A run by id or unique id prefix.
    pub fn find_run(&self, prefix: &str) -> Result<RunRow> {
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT id FROM runs WHERE id LIKE ?1 || '%' ORDER BY id")
            .and_then(|mut s| s.query_map(params![prefix], |r| r.get(0))?.collect())
            .map_err(db)?;
        match ids.as_slice() {
            [one] => self.run(one)?.ok_or_else(|| format!("no run `{prefix}`")),
            [] => Err(format!("no run `{prefix}` in {}", self.path.display())),
            many => Err(format!("`{prefix}` matches {} runs; give more of the id", many.len())),
        }
    }

    pub fn runs(&self) -> Result<Vec<RunRow>> {
        self.conn
            .prepare(
                "SELECT id, loop_name, status, reason, iteration, cost_usd, tokens, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, waiting_for, waiting_iteration, options_json, pid FROM runs ORDER BY created_at, id",
            )
            .and_then(|mut s| s.query_map([], row_to_run)?.collect())
            .map_err(db)
    }

    pub fn set_status(&self, id: &str, status: Status, reason: &str, waiting_for: &str) -> Result<()> {
        update_status(&self.conn, id, status, reason, waiting_for, 0)
    }

    /// Record a completed (or ended) iteration and, when the run stops or
    /// waits, its new status — in one transaction, so that a crash cannot
    /// leave a finished run looking like one to continue.
    pub fn finish_iteration(
        &mut self,
        run: &str,
        record: Option<&IterationRecord>,
        status: Option<(Status, &str, &str, u32)>,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        if let Some(record) = record {
            let json = serde_json::to_string(record).expect("iteration serializes");
            tx.execute(
                "INSERT OR REPLACE INTO iterations (run_id, iteration, record_json) VALUES (?1, ?2, ?3)",
                params![run, record.iteration, json],
            )
            .map_err(db)?;
            tx.execute(
                "UPDATE runs SET iteration = ?2, updated_at = ?3 WHERE id = ?1",
                params![run, record.iteration, clock::now_rfc3339()],
            )
            .map_err(db)?;
        }
        if let Some((status, reason, waiting_for, waiting_iteration)) = status {
            update_status(&tx, run, status, reason, waiting_for, waiting_iteration)?;
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
        self.conn
            .query_row(
                "SELECT status, result_json, cost_usd, tokens, attempts, seconds FROM steps WHERE run_id = ?1 AND iteration = ?2 AND step = ?3",
                params![run, iteration, step],
                |r| {
                    let json: String = r.get(1)?;
                    Ok(StepRecord {
                        status: r.get(0)?,
                        result: serde_json::from_str(&json).unwrap_or(serde_json::Value::Null),
                        cost_usd: r.get(2)?,
                        tokens: r.get::<_, i64>(3)? as u64,
                        attempts: r.get::<_, i64>(4)? as u32,
                        seconds: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(db)
    }

    /// Commit a finished step and its spend in one transaction.
    pub fn record_step(&mut self, run: &str, iteration: u32, step: &str, record: &StepRecord) -> Result<()> {
        self.record_step_with_memory(run, iteration, step, record, None)
    }

    /// Change a committed step's status (a gated output that a person approved).
    pub fn set_step_status(&self, run: &str, iteration: u32, step: &str, status: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE steps SET status = ?4 WHERE run_id = ?1 AND iteration = ?2 AND step = ?3",
                params![run, iteration, step, status],
            )
            .map_err(db)?;
        Ok(())
    }

    /// Commit a step together with the memory write it made, so that a
    /// crash keeps both or neither.
    pub fn record_step_with_memory(
        &mut self,
        run: &str,
        iteration: u32,
        step: &str,
        record: &StepRecord,
        memory: Option<MemoryWrite>,
    ) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        if let Some(m) = memory {
            write_memory(&tx, &m)?;
        }
        tx.execute(
            "INSERT INTO steps (run_id, iteration, step, status, result_json, cost_usd, tokens, attempts, seconds, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![run, iteration, step, record.status, record.result.to_string(), record.cost_usd, record.tokens as i64, record.attempts, record.seconds, clock::now_rfc3339()],
        )
        .map_err(db)?;
        tx.execute(
            "UPDATE runs SET cost_usd = cost_usd + ?2, tokens = tokens + ?3, updated_at = ?4 WHERE id = ?1",
            params![run, record.cost_usd, record.tokens as i64, clock::now_rfc3339()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    /// Commit a completed iteration and advance the run's counter.
    pub fn record_iteration(&self, run: &str, record: &IterationRecord) -> Result<()> {
        let json = serde_json::to_string(record).expect("iteration serializes");
        self.conn
            .execute(
                "INSERT OR REPLACE INTO iterations (run_id, iteration, record_json) VALUES (?1, ?2, ?3)",
                params![run, record.iteration, json],
            )
            .map_err(db)?;
        self.conn
            .execute(
                "UPDATE runs SET iteration = ?2, updated_at = ?3 WHERE id = ?1",
                params![run, record.iteration, clock::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn iterations(&self, run: &str) -> Result<Vec<IterationRecord>> {
        self.conn
            .prepare("SELECT record_json FROM iterations WHERE run_id = ?1 ORDER BY iteration")
            .and_then(|mut s| {
                s.query_map(params![run], |r| r.get::<_, String>(0))?
                    .map(|j| j.map(|j| serde_json::from_str(&j).unwrap_or_default()))
                    .collect()
            })
            .map_err(db)
    }

    pub fn memory_get(&self, scope: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
        self.conn
            .prepare("SELECT key, value_json FROM memory WHERE scope = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map(params![scope], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .map(|kv| kv.map(|(k, v)| (k, serde_json::from_str(&v).unwrap_or(serde_json::Value::Null))))
                    .collect()
            })
            .map_err(db)
    }

    pub fn memory_clear(&self, scope: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM memory WHERE scope = ?1", params![scope])
            .map_err(db)?;
        Ok(())
    }

    /// When the run first waited at this gate (ms since the epoch).
    pub fn gate_first_seen(&self, run: &str, iteration: u32, gate: &str) -> Result<i64> {
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

    pub fn decision(&self, run: &str, iteration: u32, gate: &str) -> Result<Option<(bool, String)>> {
        self.conn
            .query_row(
                "SELECT approved, note FROM decisions WHERE run_id = ?1 AND iteration = ?2 AND gate = ?3",
                params![run, iteration, gate],
                |r| Ok((r.get::<_, i64>(0)? != 0, r.get(1)?)),
            )
            .optional()
            .map_err(db)
    }

    pub fn decide(&self, run: &str, iteration: u32, gate: &str, approved: bool, note: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO decisions (run_id, iteration, gate, approved, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![run, iteration, gate, approved as i64, note, clock::now_rfc3339()],
            )
            .map_err(db)?;
        Ok(())
    }

    pub fn decisions(&self, run: &str) -> Result<Vec<(u32, String, bool, String)>> {
        self.conn
            .prepare("SELECT iteration, gate, approved, note FROM decisions WHERE run_id = ?1 ORDER BY iteration, gate")
            .and_then(|mut s| {
                s.query_map(params![run], |r| {
                    Ok((r.get::<_, i64>(0)? as u32, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
                })?
                .collect()
            })
            .map_err(db)
    }

    pub fn event(&self, run: &str, iteration: u32, kind: &str, message: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO events (run_id, iteration, kind, message, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, iteration, kind, message, clock::now_rfc3339()],
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
}

/// A memory entry to write with a step.
#[derive(Clone, Debug)]
pub struct MemoryWrite {
    pub scope: String,
    pub key: String,
    pub value: serde_json::Value,
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

fn update_status(conn: &Connection, id: &str, status: Status, reason: &str, waiting_for: &str, waiting_iteration: u32) -> Result<()> {
    let finished = if status.is_final() { Some(clock::unix_ms()) } else { None };
    conn.execute(
        "UPDATE runs SET status = ?2, reason = ?3, waiting_for = ?4, waiting_iteration = ?5, updated_at = ?6, finished_unix_ms = COALESCE(?7, finished_unix_ms) WHERE id = ?1",
        params![id, status.as_str(), reason, waiting_for, waiting_iteration, clock::now_rfc3339(), finished],
    )
    .map_err(db)?;
    Ok(())
}

fn row_to_run(r: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        loop_name: r.get(1)?,
        status: Status::parse(&r.get::<_, String>(2)?),
        reason: r.get(3)?,
        iteration: r.get::<_, i64>(4)? as u32,
        cost_usd: r.get(5)?,
        tokens: r.get::<_, i64>(6)? as u64,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        plan_json: r.get(9)?,
        inputs_json: r.get(10)?,
        workspace: r.get(11)?,
        bindings_path: r.get(12)?,
        waiting_for: r.get(13)?,
        waiting_iteration: r.get::<_, i64>(14)? as u32,
        options_json: r.get(15)?,
        pid: r.get::<_, i64>(16)? as u32,
    })
}
