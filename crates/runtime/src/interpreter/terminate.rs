//! Termination (semantics §5), cost (§9), the run's output (§7 `pre_output`)
//! and the optimizer's step (§8).

use loopc_plan::{Action, BudgetAction, CompareOp, FailureKind, OptimizerKind};
use serde_json::{json, Value};

use super::guard::{Decision, Scope};
use super::steps::IterationState;
use super::{Flow, Runner};
use crate::store::{IterationRecord, Status, StepRecord, StepStatus};

fn act(action: Action, reason: String) -> Option<Flow> {
    match action {
        Action::Halt => Some(Flow::Stop(Status::Halted, reason)),
        Action::EscalateHuman => Some(Flow::Pause(crate::gate::Gate::Escalation, reason)),
        Action::RetryIteration => None,
    }
}

impl Runner<'_> {
    /// Spend checks after every step: caps stop a run mid-iteration.
    pub(crate) fn check_spend(&mut self, state: &IterationState) -> Result<Option<Flow>, String> {
        let (run_cost, run_tokens) = self.store.spend(&self.run_id)?;
        let b = self.plan.budgets.clone();
        for (spent, cap, what) in [
            (run_cost, b.cumulative_usd, "cumulative_usd"),
            (state.cost_usd, b.per_iteration_usd, "per_iteration_usd"),
        ] {
            if spent > cap + 1e-12 {
                let reason = format!("cost_exceeded: spent ${spent:.4}, over {what} ${cap}");
                let rule = self
                    .plan
                    .termination
                    .failure
                    .iter()
                    .find(|f| f.kind == FailureKind::CostExceeded)
                    .map(|f| f.action);
                match (b.on_exceed, rule) {
                    (BudgetAction::Halt, _) => return Ok(Some(Flow::Stop(Status::Halted, reason))),
                    (_, Some(action)) => {
                        if let Some(flow) = act(action, reason.clone()) {
                            return Ok(Some(flow));
                        }
                    }
                    (BudgetAction::Throttle, _) => self.throttle(state.i, &reason)?,
                    (BudgetAction::Warn, _) => self.warn_once(state.i, &format!("over:{what}"), &reason)?,
                }
            } else if let (Some(percent), Some(action)) = (b.on_approach_percent, b.on_approach) {
                if cap.is_finite() && spent >= cap * percent / 100.0 {
                    let reason = format!("spend ${spent:.4} reached {percent}% of {what} ${cap}");
                    match action {
                        BudgetAction::Halt => return Ok(Some(Flow::Stop(Status::Halted, format!("cost_approach: {reason}")))),
                        BudgetAction::Throttle => self.throttle(state.i, &reason)?,
                        BudgetAction::Warn => self.warn_once(state.i, &format!("approach:{what}"), &reason)?,
                    }
                }
            }
        }
        if let Some(cap) = b.token_soft_cap {
            if run_tokens > cap {
                self.warn_once(
                    state.i,
                    "token_soft_cap",
                    &format!("{run_tokens} tokens used, over token_soft_cap {cap}"),
                )?;
            }
        }
        Ok(None)
    }

    fn throttle(&mut self, i: u32, reason: &str) -> Result<(), String> {
        if !self.throttled {
            self.throttled = true;
            self.save_cost_state()?;
            self.event(i, "cost", &format!("throttling (one worker at a time, no retries): {reason}"))?;
        }
        Ok(())
    }

    fn warn_once(&mut self, i: u32, key: &str, message: &str) -> Result<(), String> {
        if !self.warned.iter().any(|k| k == key) {
            self.warned.push(key.to_owned());
            self.save_cost_state()?;
            self.event(i, "cost", message)?;
        }
        Ok(())
    }

    /// `pre_output` checks on the run's output — the outputs of the workers
    /// nothing else depends on. What is released is committed as
    /// `output.<worker>` (and is what the trace shows).
    pub(crate) fn check_output(&mut self, state: &mut IterationState) -> Result<Option<Flow>, String> {
        let sinks: Vec<String> = self
            .plan
            .workers
            .iter()
            .filter(|w| !self.plan.workers.iter().any(|o| o.depends_on.contains(&w.id)))
            .map(|w| w.id.clone())
            .collect();
        for w in sinks {
            let key = format!("output.{w}");
            if let Some(released) = self.store.step(&self.run_id, state.i, &key)? {
                state.outputs.insert(w.clone(), released.result);
                continue;
            }
            let output = state.outputs.get(&w).cloned().unwrap_or(Value::Null);
            let decision = self.guard.check(Scope::PreOutput, &w, &output, None)?;
            self.save_safety()?;
            let released = match decision {
                Decision::Allow(notes) => {
                    self.note_findings(state, &notes)?;
                    self.guard.take_redacted().unwrap_or(output)
                }
                Decision::Block(notes) => {
                    self.note_findings(state, &notes)?;
                    Value::Null
                }
                Decision::Halt(why) => return Ok(Some(Flow::Stop(Status::Halted, why))),
                Decision::Pause(gate, why) => match self.store.decision(&self.run_id, state.i, &gate)? {
                    Some((true, _)) => output,
                    Some((false, note)) => {
                        return Ok(Some(Flow::Stop(
                            Status::Rejected,
                            format!("human_rejected: {gate} {note}").trim().to_owned(),
                        )))
                    }
                    None => return Ok(Some(Flow::Pause(gate, why))),
                },
            };
            let mut record = StepRecord {
                status: StepStatus::Released,
                result: released,
                cost_usd: 0.0,
                tokens: 0,
                attempts: 0,
                seconds: 0.0,
            };
            self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
            state.outputs.insert(w, record.result);
        }
        Ok(None)
    }

    /// Decide the iteration's outcome, in the order of semantics §5.
    pub(crate) fn terminate(
        &mut self,
        record: &mut IterationRecord,
        history: &[IterationRecord],
        state: &IterationState,
    ) -> Result<Flow, String> {
        let i = record.iteration;
        let t = self.plan.termination.clone();
        // Retried iterations were discarded (semantics §5): they count
        // towards max_iterations but not towards success or stall windows.
        let kept: Vec<&IterationRecord> = history.iter().filter(|h| h.decision != "retry_iteration").collect();
        let mut retry = false;

        // 1. safety: violations this iteration, under a `safety_violation` rule.
        if !record.violations.is_empty() {
            if let Some(rule) = t.failure.iter().find(|f| f.kind == FailureKind::SafetyViolation) {
                let reason = format!("safety_violation: {}", record.violations.join("; "));
                match act(rule.action, reason.clone()) {
                    Some(flow) => {
                        record.decision = reason;
                        return Ok(flow);
                    }
                    None => retry = true,
                }
            }
        }
        // 2. cost.
        if let Some(flow) = self.check_spend(state)? {
            record.decision = "cost".into();
            return Ok(flow);
        }
        // 3. success: every condition, each on `consecutive` iterations.
        if !t.success.is_empty() && !retry {
            let holds = |rule: &loopc_plan::SuccessRule, metrics: &serde_json::Map<String, Value>| {
                metrics
                    .get(&rule.metric)
                    .and_then(Value::as_f64)
                    .is_some_and(|v| rule.op.holds(v, rule.value))
            };
            let all = t.success.iter().all(|rule| {
                let n = rule.consecutive.max(1) as usize;
                holds(rule, &record.metrics) && kept.len() + 1 >= n && kept.iter().rev().take(n - 1).all(|h| holds(rule, &h.metrics))
            });
            if all {
                let text = t
                    .success
                    .iter()
                    .map(|r| format!("{} {} {}", r.metric, op_text(r.op), r.value))
                    .collect::<Vec<_>>()
                    .join(" and ");
                record.decision = format!("success: {text}");
                return Ok(Flow::Stop(Status::Succeeded, format!("success: {text}")));
            }
        }
        // 4. failure rules.
        let elapsed = (crate::clock::unix_ms() - self.run_started_ms) as f64 / 1000.0;
        for rule in &t.failure {
            let value = rule.value.unwrap_or(f64::INFINITY);
            let (fires, reason) = match rule.kind {
                FailureKind::MaxIterations => (f64::from(i) >= value, format!("max_iterations: reached {i} of {value}")),
                FailureKind::EvaluatorError => {
                    let streak = std::iter::once(record.errors)
                        .chain(history.iter().rev().map(|h| h.errors))
                        .take_while(|e| *e > 0)
                        .count() as u32;
                    (
                        streak >= rule.consecutive.max(1),
                        format!("evaluator_error: errors in {streak} consecutive iterations"),
                    )
                }
                FailureKind::Timeout => (elapsed > value, format!("timeout: ran {elapsed:.1}s, limit {value}s")),
                FailureKind::HumanRejected => (state.human_rejected, "human_rejected: a person rejected the output".to_owned()),
                // Handled where they happen: violations (1.) and spend (2.).
                FailureKind::SafetyViolation | FailureKind::CostExceeded => (false, String::new()),
            };
            if !fires {
                continue;
            }
            match act(rule.action, reason.clone()) {
                Some(flow) => {
                    record.decision = reason;
                    return Ok(flow);
                }
                None => retry = true,
            }
        }
        // 5. stall: from the first iteration that has a value `window` iterations back.
        for rule in &t.stall {
            let w = rule.window_iterations.max(1) as usize;
            if kept.len() < w {
                continue;
            }
            let now = record.metrics.get(&rule.metric).and_then(Value::as_f64);
            let then = kept[kept.len() - w].metrics.get(&rule.metric).and_then(Value::as_f64);
            let (Some(now), Some(then)) = (now, then) else { continue };
            let improvement = (now - then) * rule.direction;
            if improvement < rule.min_improvement {
                let reason = format!(
                    "stall: {} improved {improvement:.4} over {w} iterations, less than {}",
                    rule.metric, rule.min_improvement
                );
                match act(rule.action, reason.clone()) {
                    Some(flow) => {
                        record.decision = reason;
                        return Ok(flow);
                    }
                    None => retry = true,
                }
            }
        }
        if retry {
            // retry_iteration: the next iteration gets this iteration's incoming feedback again.
            record.feedback = state.incoming.clone();
            record.decision = "retry_iteration".into();
            return Ok(Flow::Continue);
        }
        // 6. the optimizer (semantics §8).
        let optimizer_feedback = record
            .feedback
            .get("optimizer")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .cloned();
        if let Some(messages) = optimizer_feedback {
            let used = history.iter().filter(|h| h.optimizer_step).count() as u32;
            if used >= self.plan.optimizer.max_steps {
                record.decision = "optimizer_exhausted".into();
                return Ok(Flow::Stop(
                    Status::Halted,
                    format!("optimizer_exhausted: all {} optimizer steps used", self.plan.optimizer.max_steps),
                ));
            }
            if matches!(self.plan.optimizer.kind, OptimizerKind::Manual | OptimizerKind::Structural) {
                let gate = crate::gate::Gate::Optimizer;
                match self.store.decision(&self.run_id, i, &gate)? {
                    None => {
                        record.decision = "optimizer awaits a person".into();
                        return Ok(Flow::Pause(
                            gate,
                            format!(
                                "{} optimization: a person applies the change, then approves",
                                self.plan.optimizer.kind
                            ),
                        ));
                    }
                    Some((false, note)) => {
                        return Ok(Flow::Stop(
                            Status::Rejected,
                            format!("human_rejected: optimizer change {note}").trim().to_owned(),
                        ))
                    }
                    Some((true, _)) => {}
                }
            }
            let hints: Vec<Value> = messages.iter().map(|m| json!({"from": m["channel"], "remediation_hints": m.get("remediation_hints"), "summary": m.get("summary"), "score": m.get("score")})).collect();
            let refinements: serde_json::Map<String, Value> =
                self.plan.optimizer.targets.iter().map(|t| (t.clone(), json!(hints))).collect();
            record.feedback["refinements"] = Value::Object(refinements);
            record.optimizer_step = true;
            self.say(&format!(
                "  optimizer: step {} of {} ({})",
                used + 1,
                self.plan.optimizer.max_steps,
                self.plan.optimizer.kind
            ));
        }
        record.decision = "continue".into();
        Ok(Flow::Continue)
    }
}

fn op_text(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Lt => "lt",
        CompareOp::Le => "lte",
        CompareOp::Gt => "gt",
        CompareOp::Ge => "gte",
        CompareOp::Eq => "eq",
        CompareOp::Ne => "ne",
    }
}
