//! A worker's tool calls, run through the sandbox after its model call,
//! each committed as its own step so that a resumed run never repeats one;
//! and the `remember` tool, a memory write under the write policy.

use loopc_plan::{SafetyAction, WorkerStep};
use serde_json::{json, Value};

use super::steps::IterationState;
use super::{Flow, Runner};
use crate::executor::ToolCall;
use crate::store::{MemoryWrite, StepRecord, StepStatus, StoreError};

/// The store key of call `n` of a worker's turn (`tools.fixer.0`; after the
/// model's first call `tools.fixer@2.0`, the turn after the second).
pub(crate) fn tool_key(worker: &str, turn: u32, n: usize) -> String {
    if turn == 0 {
        format!("tools.{worker}.{n}")
    } else {
        format!("tools.{worker}@{turn}.{n}")
    }
}

impl Runner<'_> {
    /// Execute a worker's tool calls through the sandbox, each committed as
    /// its own step (`tools.<worker>.<n>`, with the memory it wrote), so a
    /// resumed run never repeats one.
    pub(crate) fn run_tool_calls(
        &mut self,
        state: &mut IterationState,
        worker: &WorkerStep,
        record: &StepRecord,
        turn: u32,
    ) -> Result<Option<Flow>, String> {
        if record.status != StepStatus::Done {
            return Ok(None);
        }
        let calls: Vec<ToolCall> = serde_json::from_value(record.result.get("tool_calls").cloned().unwrap_or(json!([]))).map_err(|e| {
            let row = format!("(iteration {}, step `workers.{}`)", state.i, worker.id);
            StoreError::corrupt(&self.run_id, "steps", row, format!("tool_calls do not decode: {e}"))
        })?;
        let deadline = self.deadline();
        self.guard.set_deadline(deadline);
        for (n, call) in calls.iter().enumerate() {
            let key = tool_key(&worker.id, turn, n);
            if let Some(done) = self.store.step(&self.run_id, state.i, &key)? {
                if done.status == StepStatus::Blocked {
                    state
                        .violations
                        .push(format!("{key}: {}", done.result["error"].as_str().unwrap_or("blocked")));
                }
                continue;
            }
            // No tool call starts after the run's wall-clock limit, or once a stop was asked for.
            if let Some(flow) = self.check_deadline(state)? {
                return Ok(Some(flow));
            }
            self.check_stop()?;
            let mut memory = None;
            let outcome = if self.executors.dry_run {
                Ok((json!({"dry_run": true}), Vec::new()))
            } else if call.tool == "remember" {
                // A memory write is a tool like the others: declared, allowlisted.
                self.guard
                    .authorize(&worker.id, call, &worker.tools)
                    .and_then(|mut allowed| {
                        let (write, notes) = self.remember(worker, call)?;
                        allowed.extend(notes);
                        Ok((write, allowed))
                    })
                    .map(|(write, notes)| {
                        let stored = write.as_ref().map(|w| json!({"stored": w.key}));
                        memory = write;
                        (stored.unwrap_or(json!({"stored": null})), notes)
                    })
            } else {
                self.guard.tool(&worker.id, call, &worker.tools)
            };
            self.save_safety()?;
            if self.cut_short()? {
                // Its process may have been killed by the stop: not recorded,
                // so a resume makes the call again.
                return Err(format!("tool call {key} was stopped with the run"));
            }
            match outcome {
                Ok((value, notes)) => {
                    self.note_findings(state, &notes)?;
                    let mut done = StepRecord {
                        status: StepStatus::Done,
                        result: json!({"tool": call.tool, "result": value}),
                        cost_usd: 0.0,
                        tokens: 0,
                        attempts: 1,
                        seconds: 0.0,
                    };
                    self.store.record_step_with_memory(&self.run_id, state.i, &key, &mut done, memory)?;
                }
                Err(super::guard::ToolBlock { message, action }) => {
                    state.violations.push(format!("{key}: {message}"));
                    let mut blocked = StepRecord {
                        status: StepStatus::Blocked,
                        result: json!({"tool": call.tool, "error": message, "action": action}),
                        cost_usd: 0.0,
                        tokens: 0,
                        attempts: 1,
                        seconds: 0.0,
                    };
                    self.store.record_step(&self.run_id, state.i, &key, &mut blocked)?;
                    self.event(
                        state.i,
                        "safety",
                        &format!("worker {} tool call {} blocked: {message} (action {action})", worker.id, call.tool),
                    )?;
                    match action {
                        SafetyAction::Halt => {
                            return Ok(Some(Flow::Stop(
                                crate::store::Status::Halted,
                                format!("safety_violation: {message}"),
                            )))
                        }
                        SafetyAction::EscalateHuman => {
                            let gate = crate::gate::Gate::ToolCall {
                                worker: if turn == 0 {
                                    worker.id.clone()
                                } else {
                                    format!("{}@{turn}", worker.id)
                                },
                                n,
                            };
                            match self.store.decision(&self.run_id, state.i, &gate)? {
                                None => return Ok(Some(Flow::Pause(gate, format!("blocked tool call needs a person: {message}")))),
                                Some((false, note)) => {
                                    return Ok(Some(Flow::Stop(
                                        crate::store::Status::Rejected,
                                        format!("human_rejected: {gate} {note}").trim().to_owned(),
                                    )))
                                }
                                Some((true, _)) => {}
                            }
                        }
                        // The call is dropped and the run goes on.
                        SafetyAction::Quarantine | SafetyAction::Strip | SafetyAction::Warn => {}
                    }
                }
            }
        }
        Ok(None)
    }

    /// The `remember {key, value}` tool: a memory write under the write
    /// policy and the `pre_memory_write` checks. Returns the write to commit
    /// with the tool step.
    fn remember(
        &mut self,
        worker: &WorkerStep,
        call: &ToolCall,
    ) -> Result<(Option<MemoryWrite>, Vec<super::guard::Note>), super::guard::ToolBlock> {
        let refuse = |message: String, action: SafetyAction| super::guard::ToolBlock { message, action };
        if !self.plan.memory.allowed_writers.iter().any(|w| w == &worker.id) {
            return Err(refuse(
                format!("worker `{}` may not write memory (write_policy.allowed_writers)", worker.id),
                SafetyAction::Halt,
            ));
        }
        let Some(key) = call.args.get("key").and_then(Value::as_str) else {
            // A malformed call is the worker's mistake, not a violation.
            return Ok((
                None,
                vec![super::guard::Note {
                    action: SafetyAction::Warn,
                    text: format!("worker `{}`: remember needs a string `key`", worker.id),
                }],
            ));
        };
        let value = call.args.get("value").cloned().unwrap_or(Value::Null);
        let (value, notes) = self.guard.memory_write(&worker.id, &value)?;
        Ok((
            Some(MemoryWrite {
                scope: self.memory_scope(),
                key: key.to_owned(),
                value,
                writer: worker.id.clone(),
                max_entries: self.plan.memory.max_entries,
            }),
            notes,
        ))
    }
}
