//! Loop Trace 1.0 files (the standard's run record), written from the state
//! store whenever a run stops or pauses: `<state dir>/traces/<run>.json`.

use std::path::PathBuf;

use loopc_plan::{EvaluatorKind, Plan};
use serde_json::{json, Map, Value};

use crate::store::{Status, Store};

/// Where a run's trace lives.
pub fn path(store: &Store, run_id: &str) -> PathBuf {
    store
        .path()
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("traces")
        .join(format!("{run_id}.json"))
}

/// Build the trace of a run; `None` before its first iteration completes
/// (the format needs at least one iteration).
pub fn build(store: &Store, run_id: &str) -> Result<Option<Value>, String> {
    let run = store.run(run_id)?.ok_or_else(|| format!("no run `{run_id}`"))?;
    let plan: Plan = serde_json::from_str(&run.plan_json).map_err(|e| e.to_string())?;
    let iterations = store.iterations(run_id)?;
    if iterations.is_empty() {
        return Ok(None);
    }
    let decisions = store.decisions(run_id)?;
    let last_worker = plan.workers.last().map(|w| w.id.clone());
    let mut records = Vec::new();
    for it in &iterations {
        let mut scores = Map::new();
        for e in &plan.evaluators {
            if let Some(step) = store.step(run_id, it.iteration, &format!("evaluators.{}", e.id))? {
                if let Some(score) = step.result.get("score").and_then(Value::as_f64) {
                    scores.insert(e.id.clone(), json!(score));
                }
            }
        }
        // What was released (after `pre_output` checks), else the worker's raw output.
        let output = match &last_worker {
            Some(id) => {
                let released = store.step(run_id, it.iteration, &format!("output.{id}"))?.map(|s| s.result);
                let raw = || {
                    store
                        .step(run_id, it.iteration, &format!("workers.{id}"))
                        .ok()
                        .flatten()
                        .map(|s| s.result["output"].clone())
                };
                released.or_else(raw).map(|v| match v {
                    Value::String(text) => text,
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
            }
            None => None,
        };
        let feedback: Vec<String> = it
            .feedback
            .get("workers")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|w| w.values())
            .chain(it.feedback.get("optimizer"))
            .flat_map(|v| v.as_array().cloned().unwrap_or_default())
            .map(|m| m.to_string())
            .collect();
        let interventions: Vec<Value> = decisions
            .iter()
            .filter(|(i, ..)| *i == it.iteration)
            .map(|(_, gate, approved, note)| json!({"gate": gate, "approved": approved, "note": note}))
            .collect();
        let mut record = json!({
            "iteration": it.iteration,
            "timestamp": it.finished_at,
            "evaluator_scores": scores,
            "cost_usd": it.cost_usd,
            "feedback": feedback,
            "metrics": it.metrics,
            "violations": it.violations,
            "human_interventions": interventions,
            "decision": it.decision,
        });
        if let (Some(id), Some(out)) = (&last_worker, output) {
            record["worker_id"] = json!(id);
            record["worker_output"] = json!(out);
        }
        records.push(record);
    }
    let max_iterations = plan
        .termination
        .failure
        .iter()
        .find(|f| f.kind == loopc_plan::FailureKind::MaxIterations)
        .and_then(|f| f.value);
    let primary = plan.metrics.iter().find(|m| m.primary).map(|m| m.name.clone());
    let g_target = primary
        .as_ref()
        .and_then(|p| plan.termination.success.iter().find(|s| &s.metric == p))
        .map(|s| s.value);
    let mut trace = json!({
        "trace_version": "1.0",
        "loop_id": run.id,
        "loop_name": run.loop_name,
        "spec_path": plan.source,
        "started_at": run.created_at,
        "success": run.status == Status::Succeeded,
        "termination_reason": if run.reason.is_empty() { run.status.as_str().to_owned() } else { run.reason.clone() },
        "total_cost_usd": run.cost_usd,
        "iterations": records,
        "metadata": {
            "runtime": format!("loopc-runtime {}", env!("CARGO_PKG_VERSION")),
            "status": run.status.as_str(),
            "max_iterations": max_iterations,
            "primary_metric": primary,
            "g_target": g_target,
            "human_evaluators": plan.evaluators.iter().filter(|e| matches!(e.kind, EvaluatorKind::Human { .. })).count(),
        },
    });
    if run.status.is_final() || run.status == Status::AwaitingHuman {
        trace["ended_at"] = json!(run.updated_at);
    }
    Ok(Some(trace))
}

/// Write (atomically, mode 0600) the run's trace, if it has one. Every
/// field goes through the run's secret scanner once more on the way out.
pub fn write(store: &Store, run_id: &str) -> Result<Option<PathBuf>, String> {
    let Some(mut trace) = build(store, run_id)? else { return Ok(None) };
    store.redactor().value(&mut trace);
    let target = path(store, run_id);
    let dir = target.parent().expect("traces dir");
    crate::store::create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(&trace).expect("trace serializes") + "\n";
    crate::atomic::write(&target, text.as_bytes(), crate::atomic::Mode::Private)
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(Some(target))
}
