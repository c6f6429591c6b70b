//! The interpreter behind `loopc run`: it executes a [`loopc_plan::Plan`]
//! as docs/semantics.md describes — iterations, evaluators, metrics,
//! feedback, termination, budgets, safety — through executors chosen by a
//! bindings file, and checkpoints every step to SQLite so that a killed run
//! resumes where it stopped.
//!
//! Depends on the plan only: it never sees LSS.

pub mod bindings;
pub mod clock;
pub mod executor;
pub mod inputs;
pub mod interpreter;
pub mod safety;
pub mod store;
pub mod tools;
pub mod trace;

use std::path::Path;

use loopc_plan::Plan;
use serde_json::{Map, Value};

pub use interpreter::{Options, Report, Runner};
pub use store::{Status, Store};

/// A new run id: time-ordered and unique enough for one state directory.
pub fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = clock::unix_ms();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mix = (u64::from(std::process::id()) << 20) ^ n ^ (ms as u64).rotate_left(17);
    let stamp = clock::rfc3339(ms).replace(['-', ':'], "");
    format!("r{}-{:06x}", &stamp[..15], mix & 0xff_ffff)
}

/// Record a new run (inputs already validated) and return its id.
pub fn start_run(store: &Store, plan: &Plan, inputs: &Map<String, Value>, workspace: &Path, bindings_path: &str) -> Result<String, String> {
    if plan.plan_version != loopc_plan::PLAN_VERSION {
        return Err(format!(
            "plan version {} is not supported (this runtime runs version {})",
            plan.plan_version,
            loopc_plan::PLAN_VERSION
        ));
    }
    let id = new_run_id();
    let plan_json = serde_json::to_string(plan).map_err(|e| e.to_string())?;
    let inputs_json = Value::Object(inputs.clone()).to_string();
    store.create_run(
        &id,
        &plan.loop_name,
        &plan_json,
        &inputs_json,
        &workspace.to_string_lossy(),
        bindings_path,
    )?;
    Ok(id)
}

/// A person's decision on a waiting run. For a gate (human evaluator,
/// `human_gate`, blocked action, manual optimizer) approval lets the run go
/// on; for an escalation (a failure or stall rule's `escalate_human`)
/// approval accepts the result as it is and ends the run as succeeded.
/// Rejection ends the run as rejected. Returns whether the run should now
/// be executed further.
pub fn decide(store: &Store, run_id: &str, approved: bool, note: &str) -> Result<bool, String> {
    let run = store.run(run_id)?.ok_or_else(|| format!("no run `{run_id}`"))?;
    if run.status != Status::AwaitingHuman {
        return Err(format!("run `{run_id}` is {}, not waiting for a person", run.status.as_str()));
    }
    let iteration = if run.waiting_for == "escalation" {
        run.iteration
    } else {
        run.iteration + 1
    };
    store.decide(run_id, iteration, &run.waiting_for, approved, note)?;
    let who = if note.is_empty() { String::new() } else { format!(": {note}") };
    store.event(
        run_id,
        iteration,
        "human",
        &format!("{} {}{who}", if approved { "approved" } else { "rejected" }, run.waiting_for),
    )?;
    if !approved {
        store.set_status(run_id, Status::Rejected, &format!("human_rejected: {}{who}", run.waiting_for), "")?;
        trace::write(store, run_id)?;
        return Ok(false);
    }
    if run.waiting_for == "escalation" {
        store.set_status(
            run_id,
            Status::Succeeded,
            &format!("accepted by a person after escalation ({}){who}", run.reason),
            "",
        )?;
        trace::write(store, run_id)?;
        return Ok(false);
    }
    store.set_status(run_id, Status::Running, "", "")?;
    Ok(true)
}
