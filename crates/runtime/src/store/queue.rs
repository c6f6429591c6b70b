//! The queue of triggered work: what `loopc serve` enqueued (a webhook
//! delivery, a schedule's due time) and has not finished yet. It lives in
//! the state database, not in the server's memory, so a request that was
//! answered `202 Accepted` is not lost when the server stops; an entry that
//! was running when its server died is marked `interrupted` by the next one.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError};
use crate::clock;

/// Where an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueState {
    /// Waiting for a free slot.
    Queued,
    /// A `loopc run` executes it now.
    Running,
    /// Its `loopc run` ended; `exit_code` says how.
    Finished,
    /// Its server stopped (or died) while it ran; its runs are `interrupted`
    /// and `loopc resume` continues them.
    Interrupted,
}

impl QueueState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Running => "running",
            QueueState::Finished => "finished",
            QueueState::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> QueueState {
        match text {
            "running" => QueueState::Running,
            "finished" => QueueState::Finished,
            "interrupted" => QueueState::Interrupted,
            _ => QueueState::Queued,
        }
    }
}

/// What to run: a spec with inputs and, for a work pool, its items.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueRequest {
    /// The spec (or plan), an absolute path.
    pub spec: String,
    /// The bindings file the run uses (empty: none).
    #[serde(default)]
    pub bindings: String,
    /// `--input` pairs: name → JSON value.
    #[serde(default)]
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// Work items, when the trigger brought them (a webhook's payload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<serde_json::Value>>,
    /// An items file (`--items`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_file: Option<String>,
    /// A command whose stdout lists the items (`--items-from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_from: Option<String>,
    /// The directory `loopc run` starts in (the bindings' directory).
    #[serde(default)]
    pub cwd: String,
    /// Not a new run but a person's decision on a waiting one (the web
    /// UI's approve / reject): executed as `loopc approve|reject RUN --note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// A person's decision, as `loopc approve` / `loopc reject` take it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub run: String,
    pub approved: bool,
    #[serde(default)]
    pub note: String,
}

/// One entry as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct QueueEntry {
    pub id: String,
    /// `schedule:<name>` or `hook:<event>`.
    pub source: String,
    /// What made it unique within its source: a webhook's delivery id, a
    /// schedule's due time. The same delivery is never enqueued twice.
    pub delivery: String,
    pub request: QueueRequest,
    pub state: QueueState,
    pub created_at: String,
    pub started_at: String,
    pub finished_at: String,
    /// The `loopc run` process while it runs (0: none).
    pub pid: u32,
    pub exit_code: Option<i32>,
    /// The final report `loopc run` printed (JSON), or why it could not start.
    pub result: String,
}

const COLUMNS: &str = "id, source, delivery, request_json, state, created_at, started_at, finished_at, pid, exit_code, result";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<(QueueEntry, String)> {
    let request: String = r.get(3)?;
    let state: String = r.get(4)?;
    Ok((
        QueueEntry {
            id: r.get(0)?,
            source: r.get(1)?,
            delivery: r.get(2)?,
            request: QueueRequest::default(),
            state: QueueState::parse(&state),
            created_at: r.get(5)?,
            started_at: r.get(6)?,
            finished_at: r.get(7)?,
            pid: r.get(8)?,
            exit_code: r.get(9)?,
            result: r.get(10)?,
        },
        request,
    ))
}

fn decode((mut e, request): (QueueEntry, String)) -> Result<QueueEntry> {
    e.request = serde_json::from_str(&request)?;
    Ok(e)
}

impl Store {
    /// Enqueue `request` unless `(source, delivery)` is already in the
    /// queue; the new entry's id, or `None` for a repeated delivery.
    pub fn enqueue(&self, source: &str, delivery: &str, request: &QueueRequest) -> Result<Option<String>> {
        let stamp = clock::now_rfc3339().replace(['-', ':'], "");
        let id = format!("q{}-{:08x}", &stamp[..15], crate::random_u64() as u32);
        let added = self.conn.execute(
            "INSERT INTO queue (id, source, delivery, request_json, state, created_at)
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5)
             ON CONFLICT (source, delivery) DO NOTHING",
            params![id, source, delivery, serde_json::to_string(request)?, clock::now_rfc3339()],
        )?;
        Ok((added == 1).then_some(id))
    }

    /// Take the oldest queued entry for the process `pid`, atomically: two
    /// servers on one state directory never take the same entry.
    pub fn claim_queued(&self, pid: u32) -> Result<Option<QueueEntry>> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "UPDATE queue SET state = 'running', pid = ?1, started_at = ?2
                     WHERE id = (SELECT id FROM queue WHERE state = 'queued' ORDER BY created_at, rowid LIMIT 1)
                       AND state = 'queued'
                     RETURNING {COLUMNS}"
                ),
                params![pid, clock::now_rfc3339()],
                entry,
            )
            .optional()?;
        row.map(decode).transpose()
    }

    /// Record the pid of the `loopc run` that executes entry `id`.
    pub fn set_queue_pid(&self, id: &str, pid: u32) -> Result<()> {
        self.conn.execute("UPDATE queue SET pid = ?2 WHERE id = ?1", params![id, pid])?;
        Ok(())
    }

    /// Entry `id` ended in `state` with its process's exit code and report.
    pub fn finish_queued(&self, id: &str, state: QueueState, exit_code: Option<i32>, result: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE queue SET state = ?2, exit_code = ?3, result = ?4, finished_at = ?5, pid = 0 WHERE id = ?1",
            params![id, state.as_str(), exit_code, result, clock::now_rfc3339()],
        )?;
        Ok(())
    }

    /// Mark every `running` entry whose process is not alive `interrupted`
    /// (its server died); how many.
    pub fn interrupt_orphaned_queue(&self, alive: impl Fn(u32) -> bool) -> Result<usize> {
        let running: Vec<(String, u32)> = {
            let mut stmt = self.conn.prepare("SELECT id, pid FROM queue WHERE state = 'running'")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut n = 0;
        for (id, pid) in running {
            if pid == 0 || !alive(pid) {
                self.finish_queued(&id, QueueState::Interrupted, None, "its server stopped while it ran")?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every entry, oldest first.
    pub fn queue(&self) -> Result<Vec<QueueEntry>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM queue ORDER BY created_at, rowid"))?;
        let rows = stmt.query_map([], entry)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(decode)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(spec: &str) -> QueueRequest {
        QueueRequest {
            spec: spec.into(),
            ..QueueRequest::default()
        }
    }

    #[test]
    fn a_delivery_is_enqueued_once_and_claimed_once_in_order() {
        let dir = std::env::temp_dir().join(format!("loopc-queue-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let a = store.enqueue("hook:issues", "d1", &request("a.yaml")).unwrap();
        assert!(a.is_some());
        assert_eq!(store.enqueue("hook:issues", "d1", &request("a.yaml")).unwrap(), None);
        let b = store
            .enqueue("schedule:nightly", "2026-12-07T08:00:00Z", &request("b.yaml"))
            .unwrap();
        let first = store.claim_queued(7).unwrap().unwrap();
        assert_eq!(
            (first.id.as_str(), first.state, first.pid),
            (a.as_deref().unwrap(), QueueState::Running, 7)
        );
        let second = store.claim_queued(7).unwrap().unwrap();
        assert_eq!(Some(second.id.clone()), b);
        assert_eq!(second.request.spec, "b.yaml");
        assert!(store.claim_queued(7).unwrap().is_none());
        store.finish_queued(&first.id, QueueState::Finished, Some(0), "{}").unwrap();
        assert_eq!(store.interrupt_orphaned_queue(|_| false).unwrap(), 1);
        let states: Vec<_> = store.queue().unwrap().into_iter().map(|e| (e.state, e.exit_code)).collect();
        assert_eq!(states, [(QueueState::Finished, Some(0)), (QueueState::Interrupted, None)]);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
