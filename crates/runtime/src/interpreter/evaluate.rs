//! Evaluators, metrics and feedback (semantics §2.3–§2.5, §4).

use std::time::Duration;

use loopc_plan::{Endpoint, EvaluatorKind, EvaluatorStep, MetricSource};
use serde_json::{json, Map, Value};

use super::guard::{Decision, Scope};
use super::invoke::invoke_with_retries;
use super::steps::IterationState;
use super::verdict::{normalise_verdict, rubric_verdict};
use super::{Flow, Runner};
use crate::executor::{Invocation, StepRef};
use crate::store::{IterationRecord, Status, StepRecord, StepStatus};

impl Runner<'_> {
    pub(crate) fn run_evaluator(&mut self, state: &mut IterationState, e: &EvaluatorStep) -> Result<Option<Flow>, String> {
        let key = format!("evaluators.{}", e.id);
        if let Some(done) = self.store.step(&self.run_id, state.i, &key)? {
            self.absorb_verdict(state, e, &done);
            return Ok(None);
        }
        let threshold = match &e.kind {
            EvaluatorKind::LlmRubric { pass_threshold, .. } => *pass_threshold,
            _ => 1.0,
        };
        if let Some(missing) = e.runs_after.iter().find(|w| state.failed.contains(w)) {
            // Nothing to judge: a failed verdict, but the worker's failure, not an evaluator error.
            let why = format!("worker `{missing}` produced no output");
            let mut record = StepRecord::of(StepStatus::Skipped, json!({"passed": false, "score": 0.0, "skipped": why}));
            self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
            self.say(&format!("  check {}: skipped ({why})", e.id));
            self.absorb_verdict(state, e, &record);
            return Ok(None);
        }
        let outputs: Map<String, Value> = e
            .runs_after
            .iter()
            .map(|w| (w.clone(), state.outputs.get(w).cloned().unwrap_or(Value::Null)))
            .collect();
        if let Some(flow) = self.pre_evaluator_guard(state, e, &outputs)? {
            return Ok(Some(flow));
        }
        // The checker must be the one the run started with.
        if !matches!(e.kind, EvaluatorKind::Human { .. }) {
            if let Some(flow) = self.check_executor_files() {
                return Ok(Some(flow));
            }
            // Nothing starts once the run's wall-clock limit has passed.
            if let Some(flow) = self.check_deadline(state)? {
                return Ok(Some(flow));
            }
        }
        let mut record = match &e.kind {
            EvaluatorKind::Human {
                instructions,
                queue,
                timeout_seconds,
            } => match self.human_verdict(state, e, instructions.as_deref(), queue.as_deref(), *timeout_seconds)? {
                Ok(record) => record,
                Err(pause) => return Ok(Some(pause)),
            },
            EvaluatorKind::Deterministic { implementation } => {
                self.machine_verdict(state, e, Some(implementation.as_str()), None, &outputs, threshold)?
            }
            EvaluatorKind::LlmRubric {
                model,
                dimensions,
                pass_threshold,
            } => {
                let rubric = json!({"dimensions": dimensions, "pass_threshold": pass_threshold});
                self.machine_verdict(state, e, None, Some((model.clone(), rubric)), &outputs, threshold)?
            }
        };
        self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
        self.say(&verdict_line(e, &record));
        self.report_verdict(state, e, &record)?;
        self.absorb_verdict(state, e, &record);
        self.after_step(state)
    }

    /// Events for what a verdict's line does not say: a judge overruled by
    /// its own dimension scores, an evaluator's error.
    fn report_verdict(&mut self, state: &IterationState, e: &EvaluatorStep, record: &StepRecord) -> Result<(), String> {
        let passed = record.result["passed"] == json!(true);
        if record.result["judge_disagrees"] == json!(true) {
            let (said, computed) = if passed { ("failed", "passed") } else { ("passed", "failed") };
            let message = format!(
                "evaluator {}: the judge said {said}, but its dimension scores give {:.4} against pass_threshold {}: {computed} (the computed result counts)",
                e.id,
                record.result["score"].as_f64().unwrap_or(0.0),
                match &e.kind {
                    EvaluatorKind::LlmRubric { pass_threshold, .. } => *pass_threshold,
                    _ => 1.0,
                }
            );
            self.event(state.i, "evaluator", &message)?;
        }
        if record.status == StepStatus::Error {
            if let Some(error) = record.result["error"].as_str() {
                self.event(state.i, "evaluator", &format!("evaluator {} erred: {error}", e.id))?;
            }
        }
        Ok(())
    }

    /// The `pre_evaluator` safety checks of the outputs an evaluator reads.
    fn pre_evaluator_guard(
        &mut self,
        state: &mut IterationState,
        e: &EvaluatorStep,
        outputs: &Map<String, Value>,
    ) -> Result<Option<Flow>, String> {
        for w in &e.runs_after {
            let decision = self.guard.check(Scope::PreEvaluator, w, &outputs[w], None)?;
            self.save_safety()?;
            match decision {
                Decision::Allow(notes) | Decision::Block(notes) => self.note_findings(state, &notes)?,
                Decision::Halt(why) => return Ok(Some(Flow::Stop(Status::Halted, why))),
                Decision::Pause(gate, why) => {
                    if self.store.decision(&self.run_id, state.i, &gate)?.is_none() {
                        return Ok(Some(Flow::Pause(gate, why)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// A human evaluator's verdict: the person's recorded decision, an
    /// evaluator error once the review SLA has passed (the run goes on), or
    /// `Err(pause)` while the run waits for the person.
    fn human_verdict(
        &mut self,
        state: &mut IterationState,
        e: &EvaluatorStep,
        instructions: Option<&str>,
        queue: Option<&str>,
        timeout_seconds: u64,
    ) -> Result<Result<StepRecord, Flow>, String> {
        let gate = crate::gate::Gate::Evaluator(e.id.clone());
        if let Some((approved, note)) = self.store.decision(&self.run_id, state.i, &gate)? {
            if !approved {
                state.human_rejected = true;
            }
            return Ok(Ok(StepRecord {
                status: StepStatus::Done,
                result: json!({"passed": approved, "score": if approved { 1.0 } else { 0.0 }, "summary": note}),
                cost_usd: 0.0,
                tokens: 0,
                attempts: 1,
                seconds: 0.0,
            }));
        }
        // The review SLA counts from when the run first waited here.
        let waited_ms = crate::clock::unix_ms() - self.store.gate_first_seen(&self.run_id, state.i, &gate)?;
        if waited_ms > (timeout_seconds as i64).saturating_mul(1000) {
            return Ok(Ok(StepRecord {
                status: StepStatus::Timeout,
                result: json!({"passed": false, "score": 0.0, "error": format!("no human review within timeout_seconds {timeout_seconds}")}),
                cost_usd: 0.0,
                tokens: 0,
                attempts: 0,
                seconds: waited_ms as f64 / 1000.0,
            }));
        }
        let what = instructions.map_or_else(|| format!("review the output of {}", e.runs_after.join(", ")), str::to_owned);
        let queue = queue.map_or_else(String::new, |q| format!(" [queue {q}]"));
        Ok(Err(Flow::Pause(
            gate,
            format!("human evaluator `{}`{queue}: {what} (within {timeout_seconds}s)", e.id),
        )))
    }

    fn machine_verdict(
        &mut self,
        state: &IterationState,
        e: &EvaluatorStep,
        implementation: Option<&str>,
        rubric: Option<(loopc_plan::ModelRef, Value)>,
        outputs: &Map<String, Value>,
        threshold: f64,
    ) -> Result<StepRecord, String> {
        let step = StepRef::Evaluator(e.id.clone());
        let model = rubric.as_ref().map(|(m, _)| (m.provider.clone(), m.name.clone()));
        let executor = match self
            .executors
            .get(&step, implementation, model.as_ref().map(|(p, n)| (p.as_str(), n.as_str())))
        {
            Ok(x) => x,
            Err(err) => {
                return Ok(StepRecord {
                    status: StepStatus::Error,
                    result: json!({"passed": false, "score": 0.0, "error": err}),
                    cost_usd: 0.0,
                    tokens: 0,
                    attempts: 0,
                    seconds: 0.0,
                })
            }
        };
        let mut payload = json!({
            "objective": self.plan.objective,
            "iteration": state.i,
            "implementation": implementation,
            "outputs": outputs,
            "rubric": rubric.as_ref().map(|(_, r)| r.clone()),
        });
        if !state.children.is_null() {
            payload["children"] = state.children.clone();
        }
        let invocation = Invocation {
            run_id: self.run_id.clone(),
            iteration: state.i,
            step,
            role: format!("evaluator {} of {}", e.id, e.runs_after.join(", ")),
            model: rubric.as_ref().map(|(m, _)| m.clone()),
            payload,
            timeout: self.cap_timeout(Some(Duration::from_secs(600))),
            workspace: self.workspace.clone(),
            processes: Some(self.processes.clone()),
            isolation: Some(self.isolation.clone()),
        };
        let retries = if self.throttled { 0 } else { 1 };
        self.under_way(state.i, &[format!("evaluators.{}", e.id)])?;
        let (result, attempts, seconds) = invoke_with_retries(executor.as_ref(), &invocation, retries, self.deadline());
        self.under_way::<&str>(state.i, &[])?;
        if let Err(crate::executor::ExecError::Stopped(why)) = &result {
            // Cut short by a stop: not recorded, so a resume runs it again.
            return Err(format!("evaluator `{}`: {why}", e.id));
        }
        let dimensions = match &e.kind {
            EvaluatorKind::LlmRubric { dimensions, .. } => Some(dimensions.clone()),
            _ => None,
        };
        let prompt = invocation.payload.clone();
        let mut record = match result {
            Ok(outcome) => {
                let verdict = match &dimensions {
                    Some(dimensions) => rubric_verdict(&outcome.output, threshold, dimensions),
                    None => Ok(normalise_verdict(&outcome.output, threshold)),
                };
                let (status, result) = match verdict {
                    Ok(v) => (StepStatus::Done, v),
                    Err(why) => (
                        StepStatus::Error,
                        json!({"passed": false, "score": 0.0, "error": why, "judge": outcome.output}),
                    ),
                };
                StepRecord {
                    status,
                    result,
                    cost_usd: outcome.usage.cost_usd,
                    tokens: outcome.usage.input_tokens + outcome.usage.output_tokens,
                    attempts,
                    seconds,
                }
            }
            Err(err) => StepRecord {
                status: StepStatus::Error,
                result: json!({"passed": false, "score": 0.0, "error": err.to_string()}),
                cost_usd: 0.0,
                tokens: 0,
                attempts,
                seconds,
            },
        };
        // What the evaluator was asked, for `loopc logs`.
        record.result["prompt"] = prompt;
        Ok(record)
    }

    fn absorb_verdict(&mut self, state: &mut IterationState, e: &EvaluatorStep, record: &StepRecord) {
        state.cost_usd += record.cost_usd;
        state.tokens += record.tokens;
        // Skipped: its worker failed, which is counted as the worker's failure.
        if !matches!(record.status, StepStatus::Done | StepStatus::Skipped) {
            state.errors += 1;
        }
        if matches!(e.kind, EvaluatorKind::Human { .. }) && record.result["passed"] == json!(false) {
            state.human_rejected = true;
        }
        let mut verdict = record.result.clone();
        // The prompt is kept for `loopc logs`, not passed on as feedback.
        if let Some(object) = verdict.as_object_mut() {
            object.remove("prompt");
        }
        if let EvaluatorKind::LlmRubric { pass_threshold, .. } = &e.kind {
            verdict["pass_threshold"] = json!(pass_threshold);
        }
        state.verdicts.insert(e.id.clone(), verdict);
    }

    /// Metric values of this iteration (semantics §2.4).
    pub(crate) fn metrics(
        &mut self,
        state: &IterationState,
        _history: &[IterationRecord],
        seconds: f64,
    ) -> Result<Map<String, Value>, String> {
        let (run_cost, run_tokens) = self.store.spend(&self.run_id)?;
        let verdict = super::aggregate::combined(&self.plan, &state.verdicts);
        let mut out = Map::new();
        for m in &self.plan.metrics {
            let value = match &m.source {
                MetricSource::Evaluator(id) => state
                    .verdicts
                    .get(id)
                    .and_then(|v| {
                        // A count comes only from the verdict's `count`; a
                        // pass/fail score is not a count (semantics §2.4).
                        if m.unit == loopc_plan::MetricUnit::Count {
                            v.get("count")
                        } else {
                            v.get("score")
                        }
                    })
                    .cloned(),
                MetricSource::Worker(id) => state.outputs.get(id).and_then(|o| {
                    o.as_f64()
                        .map(Value::from)
                        .or_else(|| o.get("value").cloned())
                        .or_else(|| o.get(&m.name).cloned())
                }),
                MetricSource::Telemetry(signal) => match signal.as_str() {
                    "cost" | "cost_usd" | "spend" => Some(json!(run_cost)),
                    "tokens" => Some(json!(run_tokens)),
                    "iteration_duration" | "duration" | "latency" => Some(json!(seconds)),
                    "iterations" | "iteration" => Some(json!(state.i)),
                    // The evaluators' combined verdict (aggregation, semantics §2.3).
                    "verdict" | "verdict_score" => verdict.as_ref().map(|v| v["score"].clone()),
                    "verdict_passed" => verdict.as_ref().map(|v| json!(if v["passed"] == json!(true) { 1 } else { 0 })),
                    _ => None,
                },
            };
            if let Some(v) = value.filter(Value::is_number) {
                out.insert(m.name.clone(), v);
            }
        }
        Ok(out)
    }

    /// Feedback for the next iteration (semantics §4): per destination worker,
    /// and for the optimizer.
    pub(crate) fn feedback(&self, state: &IterationState, metrics: &Map<String, Value>) -> Value {
        let mut workers: Map<String, Value> = Map::new();
        let mut optimizer: Vec<Value> = Vec::new();
        for route in &self.plan.feedback {
            let source = match &route.source {
                Endpoint::Evaluator(id) => state.verdicts.get(id).cloned(),
                Endpoint::Worker(id) => state.outputs.get(id).map(|o| json!({"raw_output": o, "summary": o})),
                Endpoint::Optimizer => None,
            };
            let Some(source) = source else { continue };
            let fires = route.when.as_ref().is_none_or(|when| {
                let lookup = |path: &[String]| -> Value {
                    match path[0].as_str() {
                        "failed" => json!(!source["passed"].as_bool().unwrap_or(false)),
                        "iteration" => json!(state.i),
                        "pass_threshold" => source.get("pass_threshold").cloned().unwrap_or(json!(1.0)),
                        "metrics" if path.len() == 2 => metrics.get(&path[1]).cloned().unwrap_or(Value::Null),
                        head => path[1..]
                            .iter()
                            .try_fold(source.get(head).or_else(|| metrics.get(head)), |v, k| Some(v?.get(k)))
                            .flatten()
                            .cloned()
                            .unwrap_or(Value::Null),
                    }
                };
                loopc_plan::expr::truthy(&when.eval(&lookup))
            });
            if !fires {
                continue;
            }
            let mut message = Map::new();
            message.insert("channel".into(), json!(route.id));
            for (k, v) in source.as_object().into_iter().flatten() {
                if route.fields.is_empty() || route.fields.contains(k) {
                    message.insert(k.clone(), v.clone());
                }
            }
            let mut message = Value::Object(message);
            if let Some(max) = route.max_tokens {
                // About four characters a token; cut the largest text fields.
                truncate_strings(&mut message, (max as usize) * 4);
            }
            match &route.destination {
                Endpoint::Worker(id) => workers
                    .entry(id.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .expect("array")
                    .push(message),
                Endpoint::Optimizer => optimizer.push(message),
                Endpoint::Evaluator(_) => {}
            }
        }
        json!({"workers": workers, "optimizer": optimizer})
    }
}

fn truncate_strings(value: &mut Value, budget: usize) {
    match value {
        Value::String(s) if s.len() > budget => {
            let mut cut = budget;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push('…');
        }
        Value::Array(items) => items.iter_mut().for_each(|v| truncate_strings(v, budget)),
        Value::Object(map) => map.values_mut().for_each(|v| truncate_strings(v, budget)),
        _ => {}
    }
}

/// The progress line of a finished check.
fn verdict_line(e: &EvaluatorStep, record: &StepRecord) -> String {
    let verdict = if record.result["passed"].as_bool() == Some(true) {
        "passed"
    } else if record.status == StepStatus::Done {
        "failed"
    } else {
        record.status.as_str()
    };
    let cost = if record.cost_usd > 0.0 {
        format!(" ${:.4}", record.cost_usd)
    } else {
        String::new()
    };
    format!(
        "  check {}: {verdict} score {:.2}{cost}",
        e.id,
        record.result["score"].as_f64().unwrap_or(0.0)
    )
}
