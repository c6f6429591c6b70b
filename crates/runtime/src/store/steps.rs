//! Steps, iterations, memory, decisions, events, counters and process groups of a run.

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use super::types::*;
use super::{Result, Store, StoreError};
use crate::clock;

impl Store {
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
            .optional()?;
        let Some((status, json, cost_usd, tokens, attempts, seconds)) = raw else {
            return Ok(None);
        };
        let row = || format!("(iteration {iteration}, step `{step}`)");
        let status = StepStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt(run, "steps", row(), format!("`{status}` is not a step status")))?;
        let result = serde_json::from_str(&json)
            .map_err(|e| StoreError::corrupt(run, "steps", row(), format!("result_json does not decode: {e}")))?;
        if !(cost_usd.is_finite() && cost_usd >= 0.0 && seconds.is_finite() && seconds >= 0.0) {
            return Err(StoreError::corrupt(
                run,
                "steps",
                row(),
                "cost_usd and seconds must be non-negative numbers",
            ));
        }
        Ok(Some(StepRecord {
            status,
            result,
            cost_usd,
            tokens: u64::try_from(tokens).map_err(|_| StoreError::corrupt(run, "steps", row(), "negative tokens"))?,
            attempts: u32::try_from(attempts).map_err(|_| StoreError::corrupt(run, "steps", row(), "attempts out of range"))?,
            seconds,
        }))
    }

    /// Every committed step of a run, in the order they were committed.
    pub fn steps_of(&self, run: &str) -> Result<Vec<(u32, String, StepRecord)>> {
        let mut query = self
            .conn
            .prepare("SELECT iteration, step FROM steps WHERE run_id = ?1 ORDER BY rowid")?;
        let keys = query
            .query_map(params![run], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(keys.len());
        for (iteration, step) in keys {
            let iteration = u32::try_from(iteration)
                .map_err(|_| StoreError::corrupt(run, "steps", format!("step `{step}`"), "iteration out of range"))?;
            if let Some(record) = self.step(run, iteration, &step)? {
                out.push((iteration, step, record));
            }
        }
        Ok(out)
    }

    /// Commit a finished step and its spend in one transaction. The record
    /// is redacted in place: go on with it as stored.
    pub fn record_step(&mut self, run: &str, iteration: u32, step: &str, record: &mut StepRecord) -> Result<()> {
        self.record_step_with_memory(run, iteration, step, record, None)
    }

    /// Change a committed step's status (a gated output that a person approved).
    pub fn set_step_status(&self, run: &str, iteration: u32, step: &str, status: StepStatus) -> Result<()> {
        self.conn.execute(
            "UPDATE steps SET status = ?4 WHERE run_id = ?1 AND iteration = ?2 AND step = ?3",
            params![run, iteration, step, status.as_str()],
        )?;
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
        self.check_file(run)?;
        self.redactor.value(&mut record.result);
        let result_json = record.result.to_string();
        let memory = memory.map(|mut m| {
            self.redactor.value(&mut m.value);
            m
        });
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(m) = memory {
            write_memory(&tx, &m)?;
        }
        tx.execute(
            "INSERT INTO steps (run_id, iteration, step, status, result_json, cost_usd, tokens, attempts, seconds, finished_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![run, iteration, step, record.status.as_str(), result_json, record.cost_usd, record.tokens as i64, record.attempts, record.seconds, clock::now_rfc3339()],
        )?;
        tx.execute(
            "UPDATE runs SET cost_usd = cost_usd + ?2, tokens = tokens + ?3, updated_at = ?4 WHERE id = ?1",
            params![run, record.cost_usd, record.tokens as i64, clock::now_rfc3339()],
        )?;
        tx.commit().map_err(StoreError::from)
    }

    pub fn iterations(&self, run: &str) -> Result<Vec<IterationRecord>> {
        let rows: Vec<(i64, String)> = self
            .conn
            .prepare("SELECT iteration, record_json FROM iterations WHERE run_id = ?1 ORDER BY iteration")
            .and_then(|mut s| s.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())?;
        rows.into_iter()
            .map(|(i, json)| {
                serde_json::from_str(&json).map_err(|e| {
                    StoreError::corrupt(
                        run,
                        "iterations",
                        format!("(iteration {i})"),
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
            .and_then(|mut s| s.query_map(params![scope], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())?;
        rows.into_iter()
            .map(|(k, v)| {
                // Memory may be the loop's (across runs), so no run is named.
                let value = serde_json::from_str(&v).map_err(|e| StoreError::Corrupt {
                    run: None,
                    table: "memory",
                    row: format!("(scope `{scope}`, key `{k}`)"),
                    why: format!("value_json does not decode: {e}"),
                })?;
                Ok((k, value))
            })
            .collect()
    }

    pub fn memory_clear(&self, scope: &str) -> Result<()> {
        self.conn.execute("DELETE FROM memory WHERE scope = ?1", params![scope])?;
        Ok(())
    }

    /// When the run first waited at this gate (ms since the epoch).
    pub fn gate_first_seen(&self, run: &str, iteration: u32, gate: &crate::gate::Gate) -> Result<i64> {
        let gate = gate.to_string();
        self.conn.execute(
            "INSERT OR IGNORE INTO gates (run_id, iteration, gate, first_ms) VALUES (?1, ?2, ?3, ?4)",
            params![run, iteration, gate, clock::unix_ms()],
        )?;
        self.conn
            .query_row(
                "SELECT first_ms FROM gates WHERE run_id = ?1 AND iteration = ?2 AND gate = ?3",
                params![run, iteration, gate],
                |r| r.get(0),
            )
            .map_err(StoreError::from)
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
            .optional()?;
        raw.map(|(approved, note)| Ok((decoded_approval(run, iteration, &gate, approved)?, note)))
            .transpose()
    }

    pub fn decisions(&self, run: &str) -> Result<Vec<(u32, String, bool, String)>> {
        let rows: Vec<(i64, String, i64, String)> = self
            .conn
            .prepare("SELECT iteration, gate, approved, note FROM decisions WHERE run_id = ?1 ORDER BY iteration, gate")
            .and_then(|mut s| {
                s.query_map(params![run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })?;
        rows.into_iter()
            .map(|(i, gate, approved, note)| {
                let approved = decoded_approval(run, i as u32, &gate, approved)?;
                Ok((i as u32, gate, approved, note))
            })
            .collect()
    }

    pub fn event(&self, run: &str, iteration: u32, kind: &str, message: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO events (run_id, iteration, kind, message, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![run, iteration, kind, self.clean(message), clock::now_rfc3339()],
        )?;
        Ok(())
    }

    pub fn events(&self, run: &str) -> Result<Vec<(u32, String, String)>> {
        self.conn
            .prepare("SELECT iteration, kind, message FROM events WHERE run_id = ?1 ORDER BY seq")
            .and_then(|mut s| {
                s.query_map(params![run], |r| Ok((r.get::<_, i64>(0)? as u32, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(StoreError::from)
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
            .optional()?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                StoreError::corrupt(
                    run,
                    "counters",
                    format!("(key `{key}`)"),
                    format!("value_json does not decode: {e}"),
                )
            })
        })
        .transpose()
    }

    pub fn set_counter(&self, run: &str, key: &str, value: &Value) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO counters (run_id, key, value_json) VALUES (?1, ?2, ?3)",
            params![run, key, self.clean_json(value)],
        )?;
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
            .map_err(StoreError::from)
    }

    pub fn forget_process(&self, run: &str, pgid: u32) -> Result<()> {
        self.conn
            .execute("DELETE FROM processes WHERE run_id = ?1 AND pgid = ?2", params![run, pgid])?;
        Ok(())
    }
}

/// A stored decision is 1 (approved) or 0 (rejected); anything else is corrupt.
fn decoded_approval(run: &str, iteration: u32, gate: &str, approved: i64) -> Result<bool> {
    match approved {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(StoreError::corrupt(
            run,
            "decisions",
            format!("(iteration {iteration}, gate `{gate}`)"),
            format!("approved is {other}, not 0 or 1"),
        )),
    }
}

/// Write one entry, evicting the oldest beyond `max_entries`.
fn write_memory(tx: &rusqlite::Transaction<'_>, m: &MemoryWrite) -> Result<()> {
    let seq: i64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM memory WHERE scope = ?1",
        params![m.scope],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT OR REPLACE INTO memory (scope, key, value_json, writer, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![m.scope, m.key, m.value.to_string(), m.writer, seq],
    )?;
    if let Some(max) = m.max_entries {
        tx.execute(
            "DELETE FROM memory WHERE scope = ?1 AND seq NOT IN (SELECT seq FROM memory WHERE scope = ?1 ORDER BY seq DESC LIMIT ?2)",
            params![m.scope, max as i64],
        )?;
    }
    Ok(())
}

impl Store {
    /// The steps of iteration `iteration` that start now (none: nothing is
    /// under way any more). Only live views read it: the `steps` table
    /// holds what finished.
    pub fn set_under_way(&self, run: &str, iteration: u32, steps: &[String]) -> Result<()> {
        let value = if steps.is_empty() {
            String::new()
        } else {
            serde_json::json!({"iteration": iteration, "steps": steps, "since": clock::now_rfc3339()}).to_string()
        };
        // Not a checkpoint: this commit need not survive a power cut, so it
        // pays no fsync (in WAL mode `normal` syncs at checkpoints only and
        // keeps the database consistent); the run's own mode comes back after.
        let mode: i64 = self.conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
        let lowered = mode > 1;
        if lowered {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        let written = self
            .conn
            .execute("UPDATE runs SET under_way = ?2 WHERE id = ?1", params![run, value]);
        if lowered {
            self.conn.pragma_update(None, "synchronous", mode)?;
        }
        written?;
        Ok(())
    }

    /// What [`Store::set_under_way`] recorded last (`None`: nothing).
    pub fn under_way(&self, run: &str) -> Result<Option<UnderWay>> {
        let text: String = self
            .conn
            .query_row("SELECT under_way FROM runs WHERE id = ?1", params![run], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::corrupt(run, "runs", format!("`{run}`"), format!("under_way does not decode: {e}")))
    }
}
