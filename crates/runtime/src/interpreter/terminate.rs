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
        // The hard cap is the bindings' (LSS's token_soft_cap only warns).
        if let Some(cap) = self.executors.bindings.limits.max_tokens {
            if run_tokens > cap {
                let reason = format!("cost_exceeded: used {run_tokens} tokens, over the token hard cap {cap} ([limits] max_tokens)");
                return Ok(Some(Flow::Stop(Status::Halted, reason)));
            }
        }
        if let Some(cap) = b.token_soft_cap {
            if run_tokens > cap {
                self.warn_once(
                    state.i,
                    "token_soft_cap",
                    &format!("{run_tokens} tokens used, over token_soft_cap {cap} (a soft cap: the run goes on)"),
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

    /// Decide the iteration's outcome, in the order of semantics §5. The
    /// record keeps the iteration's worker failures and combined verdict; a
    /// run that ends with workers failed in its last iteration says so.
    pub(crate) fn terminate(
        &mut self,
        record: &mut IterationRecord,
        history: &[IterationRecord],
        state: &IterationState,
    ) -> Result<Flow, String> {
        record.worker_failures.clone_from(&state.worker_failures);
        record.verdict = super::aggregate::combined(&self.plan, &state.verdicts);
        if !state.vetoes.is_empty() {
            // An inner child that did not succeed vetoes the outer iteration (semantics §10).
            record.verdict = Some(json!({"passed": false, "score": 0.0, "failed_by": state.vetoes}));
        }
        let flow = self.decide(record, history, state)?;
        Ok(match flow {
            Flow::Stop(status, reason) if status != Status::Succeeded && !record.worker_failures.is_empty() => {
                Flow::Stop(status, format!("{reason}; worker failures: {}", record.worker_failures.join("; ")))
            }
            other => other,
        })
    }

    /// Every worker failure of the run, as `iteration N: id: why`.
    pub(crate) fn worker_failures(&self) -> Result<Vec<String>, String> {
        Ok(self
            .store
            .iterations(&self.run_id)?
            .iter()
            .flat_map(|it| it.worker_failures.iter().map(move |f| format!("iteration {}: {f}", it.iteration)))
            .collect())
    }

    fn decide(&mut self, record: &mut IterationRecord, history: &[IterationRecord], state: &IterationState) -> Result<Flow, String> {
        let t = self.plan.termination.clone();
        // Retried iterations were discarded (semantics §5): they count
        // towards max_iterations but not towards success or stall windows.
        let kept: Vec<&IterationRecord> = history.iter().filter(|h| h.decision != "retry_iteration").collect();
        let mut retry = false;

        // 1. safety: violations this iteration, under a `safety_violation` rule.
        if let Some((action, reason)) = safety_violation(&t, record) {
            if let Some(flow) = settle(record, action, reason, &mut retry) {
                return Ok(flow);
            }
        }
        // 2. cost.
        if let Some(flow) = self.check_spend(state)? {
            record.decision = "cost".into();
            return Ok(flow);
        }
        // 3. success: every condition, each on `consecutive` iterations,
        // with the evaluators' combined verdict passing on each (§2.3).
        if !retry {
            if let Some(reason) = success(&t, record, &kept, true) {
                record.decision.clone_from(&reason);
                return Ok(Flow::Stop(Status::Succeeded, reason));
            }
            if let Some(reason) = success(&t, record, &kept, false) {
                let failed_by = record.verdict.as_ref().map_or_else(String::new, |v| {
                    let by: Vec<&str> = v["failed_by"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    by.join(", ")
                });
                let message = format!("not a success: {reason} holds, but the evaluators' combined verdict failed ({failed_by})");
                self.event(record.iteration, "aggregation", &message)?;
            }
        }
        // 4. failure rules, 5. stall rules, in the spec's order.
        let elapsed = (crate::clock::unix_ms() - self.run_started_ms) as f64 / 1000.0;
        let fired = failures(&t, record, history, state, elapsed)
            .into_iter()
            .chain(stalls(&t, record, &kept));
        for (action, reason) in fired {
            if let Some(flow) = settle(record, action, reason, &mut retry) {
                return Ok(flow);
            }
        }
        if retry {
            // retry_iteration: the next iteration gets this iteration's incoming feedback again.
            record.feedback = state.incoming.clone();
            record.decision = "retry_iteration".into();
            return Ok(Flow::Continue);
        }
        // 6. the optimizer (semantics §8).
        if let Some(flow) = self.optimizer_step(record, history)? {
            return Ok(flow);
        }
        record.decision = "continue".into();
        Ok(Flow::Continue)
    }

    /// The optimizer's step when evaluators sent it feedback: stop when its
    /// steps are used up, wait for a person for manual and structural
    /// optimization, else hand the hints to its targets as refinements.
    fn optimizer_step(&mut self, record: &mut IterationRecord, history: &[IterationRecord]) -> Result<Option<Flow>, String> {
        let Some(messages) = record
            .feedback
            .get("optimizer")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .cloned()
        else {
            return Ok(None);
        };
        let optimizer = &self.plan.optimizer;
        let used = history.iter().filter(|h| h.optimizer_step).count() as u32;
        if used >= optimizer.max_steps {
            record.decision = "optimizer_exhausted".into();
            return Ok(Some(Flow::Stop(
                Status::Halted,
                format!("optimizer_exhausted: all {} optimizer steps used", optimizer.max_steps),
            )));
        }
        if matches!(optimizer.kind, OptimizerKind::Manual | OptimizerKind::Structural) {
            let gate = crate::gate::Gate::Optimizer;
            match self.store.decision(&self.run_id, record.iteration, &gate)? {
                None => {
                    record.decision = "optimizer awaits a person".into();
                    return Ok(Some(Flow::Pause(
                        gate,
                        format!("{} optimization: a person applies the change, then approves", optimizer.kind),
                    )));
                }
                Some((false, note)) => {
                    return Ok(Some(Flow::Stop(
                        Status::Rejected,
                        format!("human_rejected: optimizer change {note}").trim().to_owned(),
                    )))
                }
                Some((true, _)) => {}
            }
        }
        let hints: Vec<Value> = messages.iter().map(|m| json!({"from": m["channel"], "remediation_hints": m.get("remediation_hints"), "summary": m.get("summary"), "score": m.get("score")})).collect();
        let refinements: serde_json::Map<String, Value> = optimizer.targets.iter().map(|t| (t.clone(), json!(hints))).collect();
        record.feedback["refinements"] = Value::Object(refinements);
        record.optimizer_step = true;
        let line = format!("  optimizer: step {} of {} ({})", used + 1, optimizer.max_steps, optimizer.kind);
        self.say(&line);
        Ok(None)
    }
}

/// What a fired rule's action does: the flow that ends or pauses the run
/// (and the iteration's decision), or `None` with `retry` set for
/// `retry_iteration`, which is applied after every rule had its say.
fn settle(record: &mut IterationRecord, action: Action, reason: String, retry: &mut bool) -> Option<Flow> {
    match act(action, reason.clone()) {
        Some(flow) => {
            record.decision = reason;
            Some(flow)
        }
        None => {
            *retry = true;
            None
        }
    }
}

/// The `safety_violation` rule's action and reason when this iteration had violations.
fn safety_violation(t: &loopc_plan::TerminationPlan, record: &IterationRecord) -> Option<(Action, String)> {
    if record.violations.is_empty() {
        return None;
    }
    let rule = t.failure.iter().find(|f| f.kind == FailureKind::SafetyViolation)?;
    Some((rule.action, format!("safety_violation: {}", record.violations.join("; "))))
}

/// The success reason when every success condition holds, each on its
/// `consecutive` kept iterations (this one included), and — `with_verdict`
/// — the evaluators' combined verdict passed on each of them.
fn success(t: &loopc_plan::TerminationPlan, record: &IterationRecord, kept: &[&IterationRecord], with_verdict: bool) -> Option<String> {
    if t.success.is_empty() {
        return None;
    }
    let holds = |rule: &loopc_plan::SuccessRule, it: &IterationRecord| {
        let verdict = !with_verdict || it.verdict.as_ref().is_none_or(|v| v["passed"] == json!(true));
        verdict
            && it
                .metrics
                .get(&rule.metric)
                .and_then(Value::as_f64)
                .is_some_and(|v| rule.op.holds(v, rule.value))
    };
    let all = t.success.iter().all(|rule| {
        let n = rule.consecutive.max(1) as usize;
        holds(rule, record) && kept.len() + 1 >= n && kept.iter().rev().take(n - 1).all(|h| holds(rule, h))
    });
    all.then(|| {
        let text = t
            .success
            .iter()
            .map(|r| format!("{} {} {}", r.metric, op_text(r.op), r.value))
            .collect::<Vec<_>>()
            .join(" and ");
        format!("success: {text}")
    })
}

/// The failure rules that fire on this iteration, in the spec's order.
fn failures(
    t: &loopc_plan::TerminationPlan,
    record: &IterationRecord,
    history: &[IterationRecord],
    state: &IterationState,
    elapsed: f64,
) -> Vec<(Action, String)> {
    let i = record.iteration;
    let mut fired = Vec::new();
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
        if fires {
            fired.push((rule.action, reason));
        }
    }
    fired
}

/// The stall rules that fire: from the first iteration that has a value
/// `window` kept iterations back.
fn stalls(t: &loopc_plan::TerminationPlan, record: &IterationRecord, kept: &[&IterationRecord]) -> Vec<(Action, String)> {
    let mut fired = Vec::new();
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
            fired.push((rule.action, reason));
        }
    }
    fired
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
