//! Evaluators, metrics and feedback (semantics §2.3–§2.5, §4).

use std::time::Duration;

use loopc_plan::{Endpoint, EvaluatorKind, EvaluatorStep, MetricSource};
use serde_json::{json, Map, Value};

use super::guard::{Decision, Scope};
use super::steps::{invoke_with_retries, IterationState};
use super::{Flow, Runner};
use crate::executor::{Invocation, StepRef};
use crate::store::{IterationRecord, Status, StepRecord, StepStatus};

/// Normalise an executor's verdict: `passed` and `score` in [0, 1] always
/// present. A deterministic check's own `passed`/`score` decide.
pub(crate) fn normalise_verdict(output: &Value, pass_threshold: f64) -> Value {
    let mut verdict = verdict_object(output);
    let score = verdict.get("score").and_then(Value::as_f64).map(|s| s.clamp(0.0, 1.0));
    let passed = verdict
        .get("passed")
        .and_then(Value::as_bool)
        .or(score.map(|s| s >= pass_threshold))
        .unwrap_or(false);
    verdict.insert("passed".into(), json!(passed));
    verdict.insert("score".into(), json!(score.unwrap_or(if passed { 1.0 } else { 0.0 })));
    Value::Object(verdict)
}

fn verdict_object(output: &Value) -> Map<String, Value> {
    match output {
        Value::Object(m) => m.clone(),
        Value::Bool(b) => Map::from_iter([("passed".to_owned(), json!(b))]),
        Value::Number(n) => Map::from_iter([("score".to_owned(), json!(n))]),
        other => Map::from_iter([("raw_output".to_owned(), other.clone())]),
    }
}

/// An LLM rubric's verdict, computed by the spec's rule and not taken from
/// the judge: each dimension's score normalised from its `scale`, their
/// weighted mean the score, passing at `pass_threshold`. The judge's own
/// `passed`/`score` are kept as `judge_passed`/`judge_score`, and a judge
/// that disagrees with its own dimension scores is marked
/// `judge_disagrees`. A dimension the judge did not score, or scored outside
/// its scale, makes the verdict an evaluator error: a rubric with a hole in
/// it cannot pass.
pub(crate) fn rubric_verdict(output: &Value, pass_threshold: f64, dimensions: &[loopc_plan::RubricDimension]) -> Result<Value, String> {
    let mut verdict = verdict_object(output);
    let scores = verdict
        .get("dimension_scores")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let (mut total, mut weights) = (0.0, 0.0);
    for d in dimensions {
        let (lo, hi) = d.scale;
        let s = scores
            .get(&d.name)
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("the judge gave no score for rubric dimension `{}`", d.name))?;
        if !(lo - 1e-9..=hi + 1e-9).contains(&s) {
            return Err(format!("the judge scored `{}` {s}, outside its scale [{lo}, {hi}]", d.name));
        }
        let normal = if hi > lo { ((s - lo) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
        total += d.weight * normal;
        weights += d.weight;
    }
    let score = if weights > 0.0 { total / weights } else { 0.0 };
    let passed = score >= pass_threshold;
    for (own, kept) in [("passed", "judge_passed"), ("score", "judge_score")] {
        if let Some(v) = verdict.remove(own) {
            verdict.insert(kept.into(), v);
        }
    }
    if verdict.get("judge_passed").and_then(Value::as_bool).is_some_and(|p| p != passed) {
        verdict.insert("judge_disagrees".into(), json!(true));
    }
    verdict.insert("passed".into(), json!(passed));
    verdict.insert("score".into(), json!(score));
    Ok(Value::Object(verdict))
}

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
            let mut record = StepRecord {
                status: StepStatus::Error,
                result: json!({"passed": false, "score": 0.0, "error": format!("worker `{missing}` produced no output")}),
                cost_usd: 0.0,
                tokens: 0,
                attempts: 0,
                seconds: 0.0,
            };
            self.store.record_step(&self.run_id, state.i, &key, &mut record)?;
            self.say(&format!("  check {}: error (worker `{missing}` produced no output)", e.id));
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
        self.absorb_verdict(state, e, &record);
        self.check_spend(state)
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
        let invocation = Invocation {
            run_id: self.run_id.clone(),
            iteration: state.i,
            step,
            role: format!("evaluator {} of {}", e.id, e.runs_after.join(", ")),
            model: rubric.as_ref().map(|(m, _)| m.clone()),
            payload: json!({
                "objective": self.plan.objective,
                "iteration": state.i,
                "implementation": implementation,
                "outputs": outputs,
                "rubric": rubric.as_ref().map(|(_, r)| r.clone()),
            }),
            timeout: Some(Duration::from_secs(600)),
            workspace: self.workspace.clone(),
            processes: Some(self.processes.clone()),
            isolation: Some(self.isolation.clone()),
        };
        let (result, attempts, seconds) = invoke_with_retries(executor.as_ref(), &invocation, if self.throttled { 0 } else { 1 });
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
        if record.status != StepStatus::Done {
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

#[cfg(test)]
mod tests {
    use super::{normalise_verdict, rubric_verdict};
    use serde_json::json;

    #[test]
    fn verdicts_are_normalised() {
        assert_eq!(normalise_verdict(&json!({"score": 0.9}), 0.8)["passed"], json!(true));
        assert_eq!(normalise_verdict(&json!({"passed": false}), 0.8)["score"], json!(0.0));
        assert_eq!(normalise_verdict(&json!("garbage"), 0.5)["passed"], json!(false));
    }

    fn dims() -> Vec<loopc_plan::RubricDimension> {
        let dim = |name: &str, weight, scale| loopc_plan::RubricDimension {
            name: name.into(),
            weight,
            scale,
            criteria: String::new(),
        };
        vec![dim("a", 0.5, (1.0, 5.0)), dim("b", 0.5, (0.0, 1.0))]
    }

    #[test]
    fn a_rubric_is_scored_by_its_dimensions_not_by_the_judge() {
        let v = rubric_verdict(&json!({"dimension_scores": {"a": 5, "b": 0.5}}), 0.7, &dims()).unwrap();
        assert_eq!((v["score"].clone(), v["passed"].clone()), (json!(0.75), json!(true)));
        // A judge that says it passed at 0.2 against a 0.7 threshold fails.
        let v = rubric_verdict(
            &json!({"passed": true, "score": 0.95, "dimension_scores": {"a": 1.8, "b": 0.0}}),
            0.7,
            &dims(),
        )
        .unwrap();
        assert_eq!(v["passed"], json!(false));
        assert!((v["score"].as_f64().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(
            (v["judge_passed"].clone(), v["judge_score"].clone(), v["judge_disagrees"].clone()),
            (json!(true), json!(0.95), json!(true))
        );
    }

    #[test]
    fn a_rubric_with_a_hole_is_an_error() {
        let missing = rubric_verdict(&json!({"passed": true, "dimension_scores": {"a": 4}}), 0.5, &dims()).unwrap_err();
        assert!(missing.contains("no score for rubric dimension `b`"), "{missing}");
        let outside = rubric_verdict(&json!({"dimension_scores": {"a": 9, "b": 1}}), 0.5, &dims()).unwrap_err();
        assert!(outside.contains("outside its scale [1, 5]"), "{outside}");
    }
}
