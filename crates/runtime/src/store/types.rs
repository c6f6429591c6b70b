//! What the store holds, as typed values: run and step statuses, rows and
//! records; and the decoding of a stored run row, which refuses (never
//! defaults) what does not decode.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Result, StoreError};

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Executing (or its process died: [`RunRow`] readers check the holder).
    Running,
    /// Waiting for `loopc approve` / `loopc reject`.
    AwaitingHuman,
    Succeeded,
    Halted,
    Rejected,
    /// Its process was signalled (SIGTERM, SIGINT) and stopped it between
    /// steps; `loopc resume` continues at the first unfinished step.
    Interrupted,
    /// `loopc pause`: stopped at a step boundary until `loopc continue`.
    Paused,
    /// `loopc cancel`: ended on a person's word; final.
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Running,
        Status::AwaitingHuman,
        Status::Succeeded,
        Status::Halted,
        Status::Rejected,
        Status::Interrupted,
        Status::Paused,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::AwaitingHuman => "awaiting_human",
            Status::Succeeded => "succeeded",
            Status::Halted => "halted",
            Status::Rejected => "rejected",
            Status::Interrupted => "interrupted",
            Status::Paused => "paused",
            Status::Cancelled => "cancelled",
        }
    }

    /// `None` for anything but the statuses above: the caller reports it.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Halted | Status::Rejected | Status::Cancelled)
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

impl RunRow {
    /// The plan the run executes, as stored; one that does not decode is
    /// corrupt state (every reader of it says so the same way).
    pub fn plan(&self) -> Result<loopc_plan::Plan> {
        serde_json::from_str(&self.plan_json).map_err(|e| {
            StoreError::corrupt(
                &self.id,
                "runs",
                format!("`{}`", self.id),
                format!("plan_json does not decode: {e}"),
            )
        })
    }
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

impl StepRecord {
    /// A step that cost nothing and took no time (skipped, blocked, a marker).
    pub fn of(status: StepStatus, result: Value) -> StepRecord {
        StepRecord {
            status,
            result,
            cost_usd: 0.0,
            tokens: 0,
            attempts: 0,
            seconds: 0.0,
        }
    }
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
    /// Workers that failed in this iteration, each as `id: why` (a worker's
    /// failure, not an evaluator error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_failures: Vec<String>,
    /// The evaluators' combined verdict when the spec declares `aggregation`
    /// (semantics §2.3): `{"passed", "score", "failed_by", "panels"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Value>,
}

/// What [`Store::claim`] found.
pub enum Claim {
    /// The run is this process's now.
    Claimed(RunRow),
    /// The run had already ended; nothing was claimed.
    Ended(RunRow),
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

/// A run row as SQLite holds it, before its typed columns are decoded.
pub(super) struct RawRun {
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

pub(super) fn raw_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
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
    pub(super) fn decode(self) -> Result<RunRow> {
        let id = self.id;
        let bad = |column: &str, why: String| StoreError::corrupt(&id, "runs", format!("`{id}`"), format!("{column}: {why}"));
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

/// Steps that started and have not finished (see [`super::Store::set_under_way`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnderWay {
    pub iteration: u32,
    pub steps: Vec<String>,
    /// When they started (RFC 3339).
    pub since: String,
}
