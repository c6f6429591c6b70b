//! Loop Trace 1.0 files (the standard's run record), written from the state
//! store whenever a run stops or pauses: `<state dir>/traces/<run>.json`.

use std::path::PathBuf;

use loopc_plan::{EvaluatorKind, Plan};
use loopc_trace::{IterationRecord, Trace};
use serde_json::{json, Map, Value};

use crate::store::{Status, Store, StoreError};
use crate::Error;

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
pub fn build(store: &Store, run_id: &str) -> Result<Option<Trace>, Error> {
    let run = store.run(run_id)?.ok_or_else(|| StoreError::not_found(run_id))?;
    let plan: Plan = serde_json::from_str(&run.plan_json).map_err(StoreError::from)?;
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
        let worker = output.is_some().then(|| last_worker.clone()).flatten();
        let extra = iteration_extra(store, run_id, it, &decisions)?;
        records.push(IterationRecord {
            iteration: u64::from(it.iteration),
            timestamp: it.finished_at.clone(),
            worker_id: worker,
            worker_output: output,
            evaluator_scores: scores,
            cost_usd: Some(it.cost_usd),
            feedback,
            extra,
        });
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
    let workspace = store
        .workspace(run_id)?
        .filter(|w| w.kind != crate::workspace::Kind::InPlace)
        .map(|w| {
            json!({
                "kind": w.kind.as_str(),
                "path": w.path.display().to_string(),
                "branch": (!w.branch.is_empty()).then_some(&w.branch),
                "base_ref": (!w.base_ref.is_empty()).then_some(&w.base_ref),
                "base_commit": (!w.base_commit.is_empty()).then_some(&w.base_commit),
            })
        });
    let metadata = json!({
        "runtime": format!("loopc-runtime {}", env!("CARGO_PKG_VERSION")),
        "status": run.status.as_str(),
        "max_iterations": max_iterations,
        "primary_metric": primary,
        "g_target": g_target,
        "human_evaluators": plan.evaluators.iter().filter(|e| matches!(e.kind, EvaluatorKind::Human { .. })).count(),
    });
    // A composition's child runs have traces of their own: linked here, so
    // the composing run's trace (whose spend includes theirs) leads to them.
    let children: Vec<Value> = store
        .children_of(run_id)?
        .into_iter()
        .map(|c| {
            json!({
                "key": c.key,
                "parent_iteration": c.iteration,
                "run_id": c.id,
                "loop_name": c.loop_name,
                "status": c.status,
                "cost_usd": c.cost_usd,
                "trace": format!("{}.json", c.id),
            })
        })
        .collect();
    let parent = store
        .parent_of(run_id)?
        .map(|p| json!({"run_id": p.parent, "parent_iteration": p.iteration, "key": p.key, "trace": format!("{}.json", p.parent)}));
    let ended = run.status.is_final() || run.status == Status::AwaitingHuman;
    Ok(Some(Trace {
        trace_version: loopc_trace::TRACE_VERSION.into(),
        loop_id: run.id.clone(),
        loop_name: run.loop_name.clone(),
        spec_path: Some(plan.source.clone()),
        started_at: run.created_at.clone(),
        ended_at: ended.then(|| run.updated_at.clone()),
        success: Some(run.status == Status::Succeeded),
        termination_reason: Some(if run.reason.is_empty() {
            run.status.as_str().to_owned()
        } else {
            run.reason.clone()
        }),
        total_cost_usd: Some(run.cost_usd),
        iterations: records,
        metadata: match metadata {
            Value::Object(mut m) => {
                m.extend(workspace.map(|w| ("workspace".to_owned(), w)));
                if !children.is_empty() {
                    m.insert("children".to_owned(), Value::Array(children));
                }
                m.extend(parent.map(|p| ("parent".to_owned(), p)));
                m
            }
            _ => Map::new(),
        },
        extra: Map::new(),
    }))
}

/// What an iteration's record carries beyond Loop Trace 1.0's own fields:
/// metrics, violations, people's decisions, the decision, the
/// workspace's snapshot and rollback, and when there are any, the worker
/// failures and the evaluators' combined verdict.
fn iteration_extra(
    store: &Store,
    run_id: &str,
    it: &crate::store::IterationRecord,
    decisions: &[(u32, String, bool, String)],
) -> Result<Map<String, Value>, Error> {
    let interventions: Vec<Value> = decisions
        .iter()
        .filter(|(i, ..)| *i == it.iteration)
        .map(|(_, gate, approved, note)| json!({"gate": gate, "approved": approved, "note": note}))
        .collect();
    let mut extra = Map::from_iter([
        ("metrics".to_owned(), Value::Object(it.metrics.clone())),
        ("violations".to_owned(), json!(it.violations)),
        ("human_interventions".to_owned(), Value::Array(interventions)),
        ("decision".to_owned(), json!(it.decision)),
    ]);
    if !it.worker_failures.is_empty() {
        extra.insert("worker_failures".to_owned(), json!(it.worker_failures));
    }
    if let Some(verdict) = &it.verdict {
        extra.insert("verdict".to_owned(), verdict.clone());
    }
    extra.extend(workspace_annotations(store, run_id, it.iteration)?);
    Ok(extra)
}

/// An iteration's snapshot (`snapshot`: its commit and the one before it)
/// and rollback (`rollback`: the commit the worktree went back to, its
/// iteration, why), as extra members of its record (Loop Trace 1.0 allows
/// them).
fn workspace_annotations(store: &Store, run_id: &str, iteration: u32) -> Result<Map<String, Value>, Error> {
    let mut extra = Map::new();
    if let Some(step) = store.step(run_id, iteration, crate::interpreter::SNAPSHOT_STEP)? {
        let mut snapshot = step.result;
        if let Some(rollback) = snapshot.as_object_mut().and_then(|o| o.remove("rollback")).filter(|r| !r.is_null()) {
            extra.insert("rollback".to_owned(), rollback);
        }
        extra.insert("snapshot".to_owned(), snapshot);
    }
    Ok(extra)
}

/// Write (atomically, mode 0600) the run's trace, if it has one. Every
/// field goes through the run's secret scanner once more on the way out.
pub fn write(store: &Store, run_id: &str) -> Result<Option<PathBuf>, Error> {
    let Some(trace) = build(store, run_id)? else { return Ok(None) };
    let mut trace = trace.to_value();
    store.redactor().value(&mut trace);
    let target = path(store, run_id);
    let dir = target.parent().expect("traces dir");
    crate::store::create_private_dir(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let text = serde_json::to_string_pretty(&trace).expect("trace serializes") + "\n";
    crate::atomic::write(&target, text.as_bytes(), crate::atomic::Mode::Private).map_err(|e| Error::io("cannot write", &target, e))?;
    Ok(Some(target))
}
