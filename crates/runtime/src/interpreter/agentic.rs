//! Agentic workers: a worker whose executor is a model API gets the results
//! of its tool calls back within its step, turn after turn, until it answers
//! without tools or a limit ends the step.
//!
//! Every turn is a step of its own in the store (`workers.fixer@1`,
//! `workers.fixer@2`, … after the first call `workers.fixer`), and so is each
//! tool call (`tools.fixer@1.0`, …), all committed before the next one runs:
//! a resumed run replays the finished turns from the store and never calls
//! the model or a tool twice. Each turn goes through the same `post_worker`
//! checks as a first call, and each tool call through the sandbox and the
//! `pre_worker` tool checks; the step's limits are the bindings'
//! `[agent] max_tool_calls` (all turns together), the worker's
//! `cost_budget_usd` (all turns together) and its timeout (per call).

use loopc_plan::WorkerStep;
use serde_json::{json, Value};

use super::invoke::invoke_with_retries;
use super::steps::IterationState;
use super::tool_steps::tool_key;
use super::{Flow, Runner};
use crate::executor::transcript::{Turn, TurnCall};
use crate::executor::{StepRef, ToolCall};
use crate::store::{StepRecord, StepStatus, StoreError};

/// The store key of a worker's model call after `turn` earlier ones.
fn turn_key(worker: &str, turn: u32) -> String {
    if turn == 0 {
        format!("workers.{worker}")
    } else {
        format!("workers.{worker}@{turn}")
    }
}

impl Runner<'_> {
    /// Continue `worker`'s step after its first call (`first`) and that
    /// call's tool steps: while the model asked for tools and its executor
    /// converses, call it again with the transcript of the step so far.
    pub(crate) fn converse(&mut self, state: &mut IterationState, worker: &WorkerStep, first: &StepRecord) -> Result<Option<Flow>, String> {
        if first.status != StepStatus::Done || self.tool_calls_of(state, worker, first, 0)?.is_empty() {
            return Ok(None);
        }
        let step = StepRef::Worker(worker.id.clone());
        let Ok(executor) = self.executors.get(&step, None, Some((&worker.model.provider, &worker.model.name))) else {
            return Ok(None);
        };
        if !executor.converses() || self.executors.dry_run {
            return Ok(None);
        }
        let limit = self.executors.bindings.agent.max_tool_calls(&worker.id) as usize;
        let mut turns: Vec<Turn> = Vec::new();
        let mut record = first.clone();
        let mut spent = first.cost_usd;
        let mut calls_made = 0;
        for turn in 0.. {
            let calls = self.tool_calls_of(state, worker, &record, turn)?;
            if calls.is_empty() {
                return Ok(None);
            }
            calls_made += calls.len();
            turns.push(self.turn_of(state, worker, &record, turn, &calls)?);
            if calls_made >= limit {
                let why = format!(
                    "worker {} stopped after {calls_made} tool calls without a final answer (max_tool_calls = {limit})",
                    worker.id
                );
                return self.end_worker(state, worker, turn + 1, why).map(|()| None);
            }
            let key = turn_key(&worker.id, turn + 1);
            record = match self.store.step(&self.run_id, state.i, &key)? {
                Some(done) => done,
                None => {
                    let mut invocation = self.worker_invocation(state, worker)?;
                    invocation.payload["transcript"] = json!(turns);
                    if let Some(flow) = self.check_deadline(state)? {
                        return Ok(Some(flow));
                    }
                    self.check_stop()?;
                    self.under_way(state.i, &[key.as_str()])?;
                    let result = invoke_with_retries(executor.as_ref(), &invocation, worker.retries, self.deadline());
                    self.under_way::<&str>(state.i, &[])?;
                    if let Err(crate::executor::ExecError::Stopped(why)) = &result.0 {
                        return Err(format!("worker `{}`: {why}", worker.id));
                    }
                    let (record, flow) = self.finish_worker(state, worker, &key, &invocation.payload, result)?;
                    if flow.is_some() {
                        return Ok(flow);
                    }
                    record
                }
            };
            state.cost_usd += record.cost_usd;
            state.tokens += record.tokens;
            spent += record.cost_usd;
            if record.status == StepStatus::Gated {
                let mut gated = record.clone();
                if let Some(flow) = self.settle_gated(state, &key, &mut gated)? {
                    return Ok(Some(flow));
                }
                record = gated;
            }
            match record.status {
                StepStatus::Done => {
                    state.outputs.insert(worker.id.clone(), record.result["output"].clone());
                }
                StepStatus::Quarantined => {
                    state.outputs.insert(worker.id.clone(), Value::Null);
                    return Ok(None);
                }
                _ => {
                    let why = record.result["error"].as_str().unwrap_or("failed").to_owned();
                    return self
                        .end_worker(state, worker, turn + 2, format!("worker {} turn {}: {why}", worker.id, turn + 1))
                        .map(|()| None);
                }
            }
            if let Some(budget) = worker.cost_budget_usd {
                if spent > budget + 1e-12 {
                    let why = format!(
                        "worker {} spent ${spent:.4} over its turns, over its cost_budget_usd ${budget}",
                        worker.id
                    );
                    return self.end_worker(state, worker, turn + 2, why).map(|()| None);
                }
            }
            if let Some(flow) = self.after_step(state)? {
                return Ok(Some(flow));
            }
            if let Some(flow) = self.run_tool_calls(state, worker, &record, turn + 1)? {
                return Ok(Some(flow));
            }
        }
        Ok(None)
    }

    /// The tool calls a turn's record asked for.
    fn tool_calls_of(&self, state: &IterationState, worker: &WorkerStep, record: &StepRecord, turn: u32) -> Result<Vec<ToolCall>, String> {
        if record.status != StepStatus::Done {
            return Ok(Vec::new());
        }
        serde_json::from_value(record.result.get("tool_calls").cloned().unwrap_or(json!([]))).map_err(|e| {
            let row = format!("(iteration {}, step `{}`)", state.i, turn_key(&worker.id, turn));
            StoreError::corrupt(&self.run_id, "steps", row, format!("tool_calls do not decode: {e}")).to_string()
        })
    }

    /// A finished turn as the model will see it again: its text, its calls
    /// and what the sandbox returned for each (from the committed tool steps).
    fn turn_of(
        &self,
        state: &IterationState,
        worker: &WorkerStep,
        record: &StepRecord,
        turn: u32,
        calls: &[ToolCall],
    ) -> Result<Turn, String> {
        let text = match &record.result["output"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut out = Vec::new();
        for (n, call) in calls.iter().enumerate() {
            let step = self.store.step(&self.run_id, state.i, &tool_key(&worker.id, turn, n))?;
            let result = match step {
                Some(s) if s.status == StepStatus::Done => s.result.get("result").cloned().unwrap_or(Value::Null),
                Some(s) => json!({"error": s.result.get("error").cloned().unwrap_or(json!("refused"))}),
                None => json!({"error": "not run"}),
            };
            out.push(TurnCall {
                tool: call.tool.clone(),
                args: call.args.clone(),
                result,
            });
        }
        Ok(Turn { text, calls: out })
    }

    /// The step ends without a usable answer: the worker failed this
    /// iteration, for `why` (committed, so a resume does not try again).
    fn end_worker(&mut self, state: &mut IterationState, worker: &WorkerStep, turn: u32, why: String) -> Result<(), String> {
        let key = format!("{}.stopped", turn_key(&worker.id, turn));
        if self.store.step(&self.run_id, state.i, &key)?.is_none() {
            let mut record = StepRecord::of(StepStatus::Failed, json!({"error": why}));
            self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
            self.event(state.i, "worker", &why)?;
        }
        self.say(&format!("  {why}"));
        state.outputs.remove(&worker.id);
        if !state.failed.contains(&worker.id) {
            state.failed.push(worker.id.clone());
            state.worker_failures.push(format!("{}: {why}", worker.id));
        }
        Ok(())
    }
}
