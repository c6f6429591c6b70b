//! Runs: creating, claiming, finding, their status, a person's decision.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::lease::{self, host_id, Lease};
use super::types::*;
use super::{Result, Store, StoreError, RUN_COLUMNS};
use crate::clock;
use crate::safety::secrets::Redactor;

/// A run and its lease, read inside the write transaction that decides
/// whether it may be taken.
fn run_and_lease(tx: &Connection, id: &str) -> Result<(RunRow, Lease)> {
    let row = tx
        .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), params![id], raw_run)
        .optional()?;
    let (Some(raw), Some(lease)) = (row, Lease::read(tx, id)?) else {
        return Err(StoreError::not_found(id));
    };
    Ok((raw.decode()?, lease))
}

impl Store {
    /// Record a new run with its workspace (the run's `workspace` column is
    /// the workspace's sandbox root). `inputs` and the plan are redacted
    /// before they are stored; the run then executes with exactly what was stored.
    #[allow(clippy::too_many_arguments)]
    pub fn create_run(
        &self,
        id: &str,
        loop_name: &str,
        plan_json: &str,
        inputs_json: &str,
        workspace: &crate::workspace::Workspace,
        bindings: (&str, &str),
        options: &crate::RunOptions,
        parent: Option<&super::ParentLink>,
    ) -> Result<()> {
        let now = clock::now_rfc3339();
        let options_json = serde_json::to_string(options)?;
        // The run and its workspace are recorded together, or neither is.
        // The process that records it holds it until it executes it (a run
        // queued behind --jobs whose process died shows as interrupted).
        let me = std::process::id();
        let my_start = crate::process::start_ticks(me).unwrap_or(0) as i64;
        let tx = self.conn.unchecked_transaction()?;
        tx
            .execute(
                "INSERT INTO runs (id, loop_name, status, created_at, updated_at, plan_json, inputs_json, workspace, bindings_path, bindings_sha256, started_unix_ms, options_json, pid, pid_start, host, heartbeat_ms, lease_ms)
                 VALUES (?1, ?2, 'running', ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?9, ?14)",
                params![
                    id,
                    self.clean(loop_name),
                    now,
                    self.clean_json_text(plan_json),
                    self.clean_json_text(inputs_json),
                    workspace.root.to_string_lossy(),
                    bindings.0,
                    bindings.1,
                    clock::unix_ms(),
                    options_json,
                    me,
                    my_start,
                    host_id(),
                    lease::lease_ms()
                ],
            )?;
        super::workspaces::insert(&tx, id, workspace)?;
        if let Some(link) = parent {
            Store::link_parent(&tx, id, link)?;
        }
        tx.commit()?;
        lease::keep_renewing(&self.path);
        Ok(())
    }

    /// Spend so far, without loading the plan.
    pub fn spend(&self, id: &str) -> Result<(f64, u64)> {
        self.conn
            .query_row("SELECT cost_usd, tokens FROM runs WHERE id = ?1", params![id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(StoreError::from)
    }

    /// Take the run for this process, atomically: in one write transaction
    /// the run is read and, unless it has ended or another live process
    /// holds it, marked as this process's. Two `resume`s started together
    /// therefore never both execute it.
    pub fn claim(&mut self, id: &str) -> Result<Claim> {
        let me = std::process::id();
        let my_start = crate::process::start_ticks(me).unwrap_or(0);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (row, lease) = run_and_lease(&tx, id)?;
        if row.status.is_final() {
            return Ok(Claim::Ended(row));
        }
        let mine = lease.pid == me && lease.is_local();
        if !mine && lease.holds() {
            return Err(StoreError::Busy {
                run: id.to_owned(),
                pid: lease.pid,
                to_execute: true,
            });
        }
        tx.execute(
            // A cancel or pause asked of an earlier execution is answered by this one's start.
            "UPDATE runs SET pid = ?2, pid_start = ?3, host = ?4, heartbeat_ms = ?5, lease_ms = ?6, control = '' WHERE id = ?1",
            params![id, me, my_start as i64, host_id(), crate::clock::unix_ms(), lease::lease_ms()],
        )?;
        tx.commit()?;
        lease::keep_renewing(&self.path);
        Ok(Claim::Claimed(row))
    }

    /// A person accepted changed bindings (`--rebind`): the run goes on with these.
    pub fn set_bindings(&self, id: &str, label: &str, sha256: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET bindings_path = ?2, bindings_sha256 = ?3 WHERE id = ?1",
            params![id, label, sha256],
        )?;
        Ok(())
    }

    /// The run's lease as stored.
    pub fn lease(&self, id: &str) -> Result<Lease> {
        Lease::read(&self.conn, id)?.ok_or_else(|| StoreError::not_found(id))
    }

    /// The live process that executes `id`, if one does: on this machine,
    /// the very process that took it (pid and start time both match: a
    /// reused pid is not the holder); from another, one whose heartbeat is
    /// fresh (see [`super::lease`]).
    pub fn holder(&self, id: &str) -> Result<Option<u32>> {
        let lease = self.lease(id)?;
        Ok(lease.holds().then_some(lease.pid))
    }

    /// A run shown as it is: one recorded `running` whose process is gone
    /// (killed, crashed, the machine restarted, its lease expired) is
    /// `interrupted`, which is what `loopc resume` continues. The stored
    /// row is not changed.
    pub fn observed(&self, mut row: RunRow) -> Result<RunRow> {
        if row.status == Status::Running && row.pid != 0 {
            let lease = self.lease(&row.id)?;
            if !lease.holds() {
                row.status = Status::Interrupted;
                row.reason = format!(
                    "{}; `loopc resume {}` continues at the first unfinished step",
                    lease.why_gone(),
                    row.id
                );
            }
        }
        Ok(row)
    }

    /// Give the run up (the process stops executing it).
    pub fn release(&self, id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE runs SET pid = 0, pid_start = 0, heartbeat_ms = 0 WHERE id = ?1 AND pid = ?2 AND host = ?3",
            params![id, std::process::id(), host_id()],
        )?;
        Ok(())
    }

    pub fn run(&self, id: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), params![id], raw_run)
            .optional()?
            .map(RawRun::decode)
            .transpose()
    }

    /// A run by its id or an unambiguous prefix of it. Only the characters
    /// run ids are made of are accepted, and the prefix is compared as
    /// text: no pattern syntax of any kind.
    pub fn find_run(&self, prefix: &str) -> Result<RunRow> {
        let plausible = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plausible {
            return Err(StoreError::InvalidRunId {
                run: prefix.to_owned(),
                path: self.path.clone(),
            });
        }
        let ids: Vec<String> = self
            .conn
            .prepare("SELECT id FROM runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY id")
            .and_then(|mut s| s.query_map(params![prefix], |r| r.get(0))?.collect())?;
        let exact = ids.iter().find(|id| id.as_str() == prefix);
        match (exact, ids.as_slice()) {
            (Some(id), _) | (None, [id]) => self.run(id)?.ok_or_else(|| StoreError::not_found(prefix)),
            (None, []) => Err(StoreError::NotFound {
                run: prefix.to_owned(),
                path: Some(self.path.clone()),
            }),
            (None, many) => Err(StoreError::Ambiguous {
                prefix: prefix.to_owned(),
                count: many.len(),
            }),
        }
    }

    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let raws: Vec<RawRun> = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at, rowid"))
            .and_then(|mut s| s.query_map([], raw_run)?.collect())?;
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
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(record) = record {
            let mut value = serde_json::to_value(&*record)?;
            if self.redactor.value(&mut value) {
                *record = serde_json::from_value(value.clone())?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO iterations (run_id, iteration, record_json) VALUES (?1, ?2, ?3)",
                params![run, record.iteration, value.to_string()],
            )?;
            tx.execute(
                "UPDATE runs SET iteration = ?2, updated_at = ?3 WHERE id = ?1",
                params![run, record.iteration, clock::now_rfc3339()],
            )?;
        }
        if let Some((status, reason, waiting_for, waiting_iteration)) = status {
            update_status(&tx, &self.redactor, run, status, reason, waiting_for, waiting_iteration)?;
        }
        tx.commit().map_err(StoreError::from)
    }

    /// Wall-clock start and end (ms since the epoch) of a run, for reports and tests.
    pub fn run_interval(&self, id: &str) -> Result<(i64, Option<i64>)> {
        self.conn
            .query_row(
                "SELECT started_unix_ms, finished_unix_ms FROM runs WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(StoreError::from)
    }

    /// A person's decision on a waiting run, atomically: in one write
    /// transaction the run must still be waiting and not held by a live
    /// process; the decision, an event and the status `next(row)` returns
    /// are written together. Returns the run as it was while waiting.
    pub fn decide(&mut self, run_id: &str, approved: bool, note: &str, next: impl FnOnce(&RunRow) -> (Status, String)) -> Result<RunRow> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (row, lease) = run_and_lease(&tx, run_id)?;
        if row.status != Status::AwaitingHuman {
            return Err(StoreError::NotWaiting {
                run: run_id.to_owned(),
                status: row.status,
            });
        }
        if lease.holds() {
            return Err(StoreError::Busy {
                run: run_id.to_owned(),
                pid: lease.pid,
                to_execute: false,
            });
        }
        let Some(gate) = row.waiting_for.as_ref().map(ToString::to_string) else {
            return Err(StoreError::corrupt(
                run_id,
                "runs",
                format!("`{run_id}`"),
                "waits for a person but not at any gate",
            ));
        };
        let note = self.redactor.text(note).into_owned();
        tx.execute(
            "INSERT OR REPLACE INTO decisions (run_id, iteration, gate, approved, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![run_id, row.waiting_iteration, gate, approved as i64, note, clock::now_rfc3339()],
        )?;
        let who = if note.is_empty() { String::new() } else { format!(": {note}") };
        tx.execute(
            "INSERT INTO events (run_id, iteration, kind, message, at) VALUES (?1, ?2, 'human', ?3, ?4)",
            params![
                run_id,
                row.waiting_iteration,
                format!("{} {gate}{who}", if approved { "approved" } else { "rejected" }),
                clock::now_rfc3339()
            ],
        )?;
        let (status, reason) = next(&row);
        update_status(&tx, &self.redactor, run_id, status, &reason, None, 0)?;
        tx.commit()?;
        Ok(row)
    }
}

pub(super) fn update_status(
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
    )?;
    Ok(())
}
