//! Workers (semantics §2.1): bound inputs, retries, timeouts, budgets,
//! concurrent groups, safety around each call, tool calls through the
//! sandbox, memory writes.

use std::collections::HashMap;
use std::time::Duration;

use loopc_plan::{Binding, SafetyAction, WorkerStep};
use serde_json::{json, Map, Value};

use super::guard::{Decision, Scope};
use super::invoke::{invoke_group, Called};
use super::{Flow, Runner};
use crate::executor::{ExecError, Executor, Invocation, StepRef};
use crate::store::{IterationRecord, StepRecord, StepStatus, StoreError};

/// What the iteration has produced so far.
pub(crate) struct IterationState {
    pub i: u32,
    /// Worker id → its output this iteration (after safety: quarantined outputs are null).
    pub outputs: HashMap<String, Value>,
    /// Workers that failed or were blocked this iteration.
    pub failed: Vec<String>,
    /// Evaluator id → verdict.
    pub verdicts: HashMap<String, Value>,
    pub cost_usd: f64,
    pub tokens: u64,
    /// Evaluator errors (the `evaluator_error` rule counts these).
    pub errors: u32,
    /// Workers that failed this iteration, each as `id: why` (not evaluator errors).
    pub worker_failures: Vec<String>,
    pub violations: Vec<String>,
    pub human_rejected: bool,
    /// Feedback addressed to each worker / the optimizer, from the previous iteration.
    pub incoming: Value,
    /// Optimizer refinements accumulated for each target worker.
    pub refinements: HashMap<String, Vec<Value>>,
    /// Notes a person added to the run (`loopc add-context`) for this iteration's workers.
    pub notes: Vec<String>,
    /// What a composition's children did this iteration (`null`: no composition).
    pub children: Value,
    /// Inner children (of a nested composition) that did not succeed: each vetoes this iteration's success.
    pub vetoes: Vec<String>,
    /// What the inner children did, for the next iteration's workers.
    pub inner_feedback: Vec<Value>,
}

impl IterationState {
    pub fn new(i: u32, previous: Option<&IterationRecord>, history: &[IterationRecord]) -> Self {
        let mut refinements: HashMap<String, Vec<Value>> = HashMap::new();
        for record in history.iter().filter(|r| r.optimizer_step) {
            if let Some(Value::Object(per_target)) = record.feedback.get("refinements") {
                for (target, notes) in per_target {
                    refinements.entry(target.clone()).or_default().push(notes.clone());
                }
            }
        }
        IterationState {
            i,
            outputs: HashMap::new(),
            failed: Vec::new(),
            verdicts: HashMap::new(),
            cost_usd: 0.0,
            tokens: 0,
            errors: 0,
            worker_failures: Vec::new(),
            violations: Vec::new(),
            human_rejected: false,
            incoming: previous.map_or(Value::Null, |p| p.feedback.clone()),
            refinements,
            notes: Vec::new(),
            children: Value::Null,
            vetoes: Vec::new(),
            inner_feedback: Vec::new(),
        }
    }
}

/// A worker ready to invoke: its step, its invocation, its executor.
type Pending = (WorkerStep, Invocation, std::sync::Arc<dyn Executor>);

/// What [`Runner::prepare_worker`] found. Short-lived (returned and moved
/// into the group's lists at once), so the variants stay unboxed.
#[allow(clippy::large_enum_variant)]
enum Prepared {
    /// A step already committed (done earlier, skipped, blocked).
    Committed(WorkerStep, StepRecord),
    /// Ready to invoke.
    Pending(Pending),
    /// The iteration stops or waits before this worker runs.
    Stop(Flow),
}

impl Runner<'_> {
    /// Run one group of workers that may run concurrently. Every executor
    /// result is committed before any of them is acted on (a gate, a halt),
    /// so no finished call is lost or repeated; tool calls run afterwards,
    /// in worker order, only when nothing stopped the iteration.
    pub(crate) fn run_group(&mut self, state: &mut IterationState, group: &[String]) -> Result<Option<Flow>, String> {
        if let Some(flow) = self.check_executor_files() {
            return Ok(Some(flow));
        }
        let mut pending: Vec<Pending> = Vec::new();
        let mut committed: Vec<(WorkerStep, StepRecord)> = Vec::new();
        for id in group {
            match self.prepare_worker(state, id)? {
                Prepared::Committed(worker, record) => committed.push((worker, record)),
                Prepared::Pending(p) => pending.push(p),
                Prepared::Stop(flow) => return Ok(Some(flow)),
            }
        }
        // Nothing new starts once the run's wall-clock limit has passed.
        if !pending.is_empty() {
            if let Some(flow) = self.check_deadline(state)? {
                return Ok(Some(flow));
            }
        }
        let starting: Vec<String> = pending.iter().map(|(w, _, _)| format!("workers.{}", w.id)).collect();
        self.under_way(state.i, &starting)?;
        let results = invoke_group(&pending, self.throttled, self.deadline());
        self.under_way::<&str>(state.i, &[])?;
        let mut flow = None;
        let mut stopped = None;
        for ((worker, invocation, _), (result, attempts, seconds)) in pending.into_iter().zip(results) {
            // Cut short by a stop: not recorded (a resume runs it again); the
            // rest of the group, which finished, is.
            if let Err(ExecError::Stopped(why)) = &result {
                stopped = Some(format!("worker `{}`: {why}", worker.id));
                continue;
            }
            let key = format!("workers.{}", worker.id);
            let called = (result, attempts, seconds);
            let (record, worker_flow) = self.finish_worker(state, &worker, &key, &invocation.payload, called)?;
            flow = flow.or(worker_flow);
            committed.push((worker, record));
        }
        if let Some(why) = stopped {
            return Err(why);
        }
        for (worker, record) in &mut committed {
            if record.status == StepStatus::Gated {
                let key = format!("workers.{}", worker.id);
                let gated = self.settle_gated(state, &key, record)?;
                flow = flow.or(gated);
            }
        }
        for (worker, record) in &committed {
            self.absorb_worker(state, worker, record);
        }
        if flow.is_none() {
            flow = self.after_step(state)?;
        }
        if flow.is_some() {
            return Ok(flow);
        }
        for (worker, record) in &committed {
            if let Some(flow) = self.run_tool_calls(state, worker, record, 0)? {
                return Ok(Some(flow));
            }
            // An agentic worker gets its tool results back, turn after turn.
            if let Some(flow) = self.converse(state, worker, record)? {
                return Ok(Some(flow));
            }
        }
        Ok(None)
    }

    /// A worker of the group before it runs: done in an earlier execution,
    /// skipped (a dependency failed), stopped or blocked by its `pre_worker`
    /// checks, or ready to invoke.
    fn prepare_worker(&mut self, state: &mut IterationState, id: &str) -> Result<Prepared, String> {
        let worker = self
            .plan
            .workers
            .iter()
            .find(|w| w.id == id)
            .cloned()
            .ok_or_else(|| format!("plan has no worker `{id}`"))?;
        let key = format!("workers.{id}");
        if let Some(done) = self.store.step(&self.run_id, state.i, &key)? {
            self.say(&format!("  worker {id}: done earlier ({})", done.status));
            return Ok(Prepared::Committed(worker, done));
        }
        if state.failed.iter().any(|f| worker.depends_on.contains(f)) {
            let mut record = StepRecord::of(StepStatus::Skipped, json!({"error": "a worker it depends on failed"}));
            self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
            self.say(&format!("  worker {id}: skipped (a dependency failed)"));
            return Ok(Prepared::Committed(worker, record));
        }
        let decision = self.guard.check(Scope::PreWorker, id, &Value::Null, None)?;
        // A rate-limit count is stored before the call it admits.
        self.save_safety()?;
        match decision {
            Decision::Allow(notes) => self.note_findings(state, &notes)?,
            Decision::Pause(gate, why) => match self.store.decision(&self.run_id, state.i, &gate)? {
                Some((true, _)) => {}
                Some((false, note)) => {
                    state.human_rejected = true;
                    return Ok(Prepared::Stop(Flow::Stop(
                        crate::store::Status::Rejected,
                        format!("human_rejected: {gate} {note}").trim().to_owned(),
                    )));
                }
                None => return Ok(Prepared::Stop(Flow::Pause(gate, why))),
            },
            Decision::Halt(why) => return Ok(Prepared::Stop(Flow::Stop(crate::store::Status::Halted, why))),
            Decision::Block(notes) => {
                self.note_findings(state, &notes)?;
                let mut record = StepRecord::of(StepStatus::Blocked, json!({"error": "blocked before it ran"}));
                self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
                return Ok(Prepared::Committed(worker, record));
            }
        }
        let executor = match self.executors.get(
            &StepRef::Worker(id.to_owned()),
            None,
            Some((&worker.model.provider, &worker.model.name)),
        ) {
            Ok(e) => e,
            Err(e) => {
                return Ok(Prepared::Stop(Flow::Stop(
                    crate::store::Status::Halted,
                    format!("configuration: {e}"),
                )))
            }
        };
        let invocation = self.worker_invocation(state, &worker)?;
        Ok(Prepared::Pending((worker, invocation, executor)))
    }

    /// A gated output waits for a person; approved, it counts as done
    /// (exactly the output that was reviewed).
    pub(crate) fn settle_gated(&mut self, state: &IterationState, key: &str, record: &mut StepRecord) -> Result<Option<Flow>, String> {
        let stored = record.result["gate"].as_str().unwrap_or_default();
        let row = format!("(iteration {}, step `{key}`)", state.i);
        let gate = crate::gate::Gate::parse(stored)
            .ok_or_else(|| StoreError::corrupt(&self.run_id, "steps", row, format!("`{stored}` is not a gate")))?;
        Ok(match self.store.decision(&self.run_id, state.i, &gate)? {
            Some((true, _)) => {
                record.status = StepStatus::Done;
                self.store.set_step_status(&self.run_id, state.i, key, StepStatus::Done)?;
                None
            }
            Some((false, note)) => Some(Flow::Stop(
                crate::store::Status::Rejected,
                format!("human_rejected: {gate} {note}").trim().to_owned(),
            )),
            None => {
                let why = record.result["gate_reason"]
                    .as_str()
                    .unwrap_or("a person must review this output")
                    .to_owned();
                Some(Flow::Pause(gate, why))
            }
        })
    }

    pub(crate) fn worker_invocation(&mut self, state: &IterationState, worker: &WorkerStep) -> Result<Invocation, String> {
        let memory = self.store.memory_get(&self.memory_scope())?;
        let readable = self
            .plan
            .memory
            .read_policy
            .iter()
            .find(|r| r.worker == worker.id)
            .map(|r| r.keys.clone());
        let mut bound = Map::new();
        for b in &worker.inputs {
            let (name, value) = match b {
                Binding::Input(path) => (format!("inputs.{path}"), lookup(&Value::Object(self.inputs.clone()), path)),
                Binding::Memory(key) => {
                    let allowed = readable.as_ref().is_none_or(|keys| keys.iter().any(|k| k == key));
                    (
                        format!("memory.{key}"),
                        if allowed {
                            memory.get(key).cloned().unwrap_or(Value::Null)
                        } else {
                            Value::Null
                        },
                    )
                }
                Binding::Worker(id) => (format!("workers.{id}"), state.outputs.get(id).cloned().unwrap_or(Value::Null)),
            };
            bound.insert(name, value);
        }
        let mut feedback = state
            .incoming
            .get("workers")
            .and_then(|w| w.get(&worker.id))
            .cloned()
            .unwrap_or(json!([]));
        if let Value::Array(items) = &mut feedback {
            items.extend(
                state
                    .notes
                    .iter()
                    .map(|n| json!({"from": "a person (loopc add-context)", "note": n})),
            );
        }
        let refinements = state.refinements.get(&worker.id).cloned().unwrap_or_default();
        let mut payload = json!({
            "objective": self.plan.objective,
            "iteration": state.i,
            "inputs": bound,
            "feedback": feedback,
            "refinements": refinements,
            "output": {"name": worker.output_name, "format": worker.output_format},
            "tools": worker.tools,
        });
        if !state.children.is_null() {
            payload["children"] = state.children.clone();
        }
        Ok(Invocation {
            run_id: self.run_id.clone(),
            iteration: state.i,
            step: StepRef::Worker(worker.id.clone()),
            role: worker.role.clone(),
            model: Some(worker.model.clone()),
            payload,
            timeout: self.cap_timeout(worker.timeout_seconds.map(Duration::from_secs)),
            workspace: self.workspace.clone(),
            processes: Some(self.processes.clone()),
            isolation: Some(self.isolation.clone()),
        })
    }

    /// Build, check and commit one worker's result; the returned flow (a
    /// halt) is acted on by the caller once the whole group is committed.
    pub(crate) fn finish_worker(
        &mut self,
        state: &mut IterationState,
        worker: &WorkerStep,
        key: &str,
        prompt: &Value,
        (result, attempts, seconds): Called,
    ) -> Result<(StepRecord, Option<Flow>), String> {
        let mut flow = None;
        let mut record = match result {
            Err(e) => {
                let status = if matches!(e, ExecError::Timeout(_)) {
                    StepStatus::Timeout
                } else {
                    StepStatus::Failed
                };
                // Retrying cannot mend a configuration (no program, no key): stop.
                if let ExecError::Config(why) = &e {
                    let reason = format!("worker_failure: worker `{}`: configuration error: {why}", worker.id);
                    flow = Some(Flow::Stop(crate::store::Status::Halted, reason));
                }
                StepRecord {
                    status,
                    result: json!({"error": e.to_string()}),
                    cost_usd: 0.0,
                    tokens: 0,
                    attempts,
                    seconds,
                }
            }
            Ok(outcome) => {
                let tokens = outcome.usage.input_tokens + outcome.usage.output_tokens;
                let mut record = StepRecord {
                    status: StepStatus::Done,
                    result: json!({"output": outcome.output, "tool_calls": outcome.tool_calls}),
                    cost_usd: outcome.usage.cost_usd,
                    tokens,
                    attempts,
                    seconds,
                };
                if let Some(budget) = worker.cost_budget_usd {
                    if outcome.usage.cost_usd > budget + 1e-12 {
                        record.status = StepStatus::OverBudget;
                        record.result["error"] = json!(format!("spent ${:.4}, over its cost_budget_usd ${budget}", outcome.usage.cost_usd));
                    }
                }
                record
            }
        };
        if record.status == StepStatus::Done {
            let output = record.result["output"].clone();
            let decision = self.guard.check(Scope::PostWorker, &worker.id, &output, None)?;
            self.save_safety()?;
            match decision {
                Decision::Allow(notes) => {
                    self.note_findings(state, &notes)?;
                    if let Some(redacted) = self.guard.take_redacted() {
                        record.result["output"] = redacted;
                    }
                }
                Decision::Block(notes) => {
                    // quarantine: the output and its actions are withheld for the rest of the iteration
                    self.note_findings(state, &notes)?;
                    record.status = StepStatus::Quarantined;
                    record.result["withheld_sha256"] = json!(crate::safety::secrets::fingerprint(&output));
                    record.result["output"] = Value::Null;
                    record.result["tool_calls"] = json!([]);
                }
                Decision::Halt(why) => {
                    state.violations.push(why.clone());
                    self.store.event(&self.run_id, state.i, "safety", &why)?;
                    // Kept for review with its secrets redacted (as everything stored).
                    record.status = StepStatus::Blocked;
                    record.result["output_sha256"] = json!(crate::safety::secrets::fingerprint(&output));
                    record.result["tool_calls"] = json!([]);
                    flow = Some(Flow::Stop(crate::store::Status::Halted, why));
                }
                Decision::Pause(gate, why) => {
                    // Committed as gated: after approval exactly this output is used.
                    record.status = StepStatus::Gated;
                    record.result["output_sha256"] = json!(crate::safety::secrets::fingerprint(&output));
                    record.result["gate"] = json!(gate.to_string());
                    record.result["gate_reason"] = json!(why);
                }
            }
        }
        // What the worker was asked, kept (redacted, as all stored text) for `loopc logs`.
        record.result["prompt"] = prompt.clone();
        self.store.record_step(&self.run_id, state.i, key, &mut record)?;
        if let Some(why) = failure(&record) {
            self.event(state.i, "worker", &format!("worker {}: {why}", worker.id))?;
        }
        self.say(&format!(
            "  worker {}: {} in {:.2}s{}{}",
            key.strip_prefix("workers.").unwrap_or(key),
            record.status,
            record.seconds,
            if record.cost_usd > 0.0 {
                format!(" ${:.4}", record.cost_usd)
            } else {
                String::new()
            },
            if record.attempts > 1 {
                format!(" ({} attempts)", record.attempts)
            } else {
                String::new()
            }
        ));
        Ok((record, flow))
    }

    /// Fold a committed worker step into the iteration state.
    pub(crate) fn absorb_worker(&mut self, state: &mut IterationState, worker: &WorkerStep, record: &StepRecord) {
        state.cost_usd += record.cost_usd;
        state.tokens += record.tokens;
        match record.status.as_str() {
            "done" => {
                state.outputs.insert(worker.id.clone(), record.result["output"].clone());
            }
            "quarantined" => {
                state.outputs.insert(worker.id.clone(), Value::Null);
            }
            _ => {
                // No output; a failure of its own unless a check or a
                // dependency stopped it (recorded where that happened).
                state.failed.push(worker.id.clone());
                if let Some(why) = failure(record) {
                    state.worker_failures.push(format!("{}: {why}", worker.id));
                }
            }
        }
    }

    /// Record findings that did not stop anything; all but warnings are violations.
    pub(crate) fn note_findings(&mut self, state: &mut IterationState, notes: &[super::guard::Note]) -> Result<(), String> {
        for note in notes {
            if note.action != SafetyAction::Warn {
                state.violations.push(note.text.clone());
            }
            self.event(state.i, "safety", &note.text)?;
        }
        Ok(())
    }
}

/// Why a worker step failed, when it failed on its own: its executor
/// erred or timed out, or it spent over its budget.
pub(crate) fn failure(record: &StepRecord) -> Option<String> {
    matches!(record.status, StepStatus::Failed | StepStatus::Timeout | StepStatus::OverBudget).then(|| {
        let why = record.result["error"].as_str().unwrap_or(record.status.as_str());
        why.to_owned()
    })
}

/// `a.b.c` inside a JSON value.
pub(crate) fn lookup(value: &Value, path: &str) -> Value {
    path.split('.').try_fold(value, |v, k| v.get(k)).cloned().unwrap_or(Value::Null)
}
