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

pub use interpreter::{validate_plan, Report, Runner};
pub use store::{Status, Store};

/// A new run id: time-ordered, with 32 random bits so that processes
/// starting runs in the same second do not collide.
pub fn new_run_id() -> String {
    use std::io::Read;
    let mut random = [0u8; 4];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .is_err()
    {
        // No urandom: mix time, pid and a counter instead.
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let mix = (clock::unix_ms() as u32).wrapping_mul(2_654_435_761)
            ^ std::process::id().rotate_left(16)
            ^ COUNTER.fetch_add(1, Ordering::Relaxed);
        random = mix.to_le_bytes();
    }
    let stamp = clock::now_rfc3339().replace(['-', ':'], "");
    format!("r{}-{:08x}", &stamp[..15], u32::from_le_bytes(random))
}

/// Options a run keeps for its whole life (resume and approve reuse them).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    pub dry_run: bool,
    pub allow_unenforced: bool,
    /// Checkpoint durability: `full`, `normal` or `off`.
    #[serde(default)]
    pub sync: Sync,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sync {
    #[default]
    Full,
    Normal,
    Off,
}

impl Sync {
    pub fn parse(s: &str) -> Option<Sync> {
        match s {
            "full" => Some(Sync::Full),
            "normal" => Some(Sync::Normal),
            "off" => Some(Sync::Off),
            _ => None,
        }
    }
    pub fn pragma(self) -> &'static str {
        match self {
            Sync::Full => "FULL",
            Sync::Normal => "NORMAL",
            Sync::Off => "OFF",
        }
    }
}

/// Record a new run (inputs already validated) and return its id.
pub fn start_run(
    store: &Store,
    plan: &Plan,
    inputs: &Map<String, Value>,
    workspace: &Path,
    bindings_path: &str,
    options: &RunOptions,
) -> Result<String, String> {
    if plan.plan_version != loopc_plan::PLAN_VERSION {
        return Err(format!(
            "plan version {} is not supported (this runtime runs version {})",
            plan.plan_version,
            loopc_plan::PLAN_VERSION
        ));
    }
    interpreter::validate_plan(plan)?;
    let id = new_run_id();
    let plan_json = serde_json::to_string(plan).map_err(|e| e.to_string())?;
    let inputs_json = Value::Object(inputs.clone()).to_string();
    let options_json = serde_json::to_string(options).expect("options serialize");
    store.create_run(
        &id,
        &plan.loop_name,
        &plan_json,
        &inputs_json,
        &workspace.to_string_lossy(),
        bindings_path,
        &options_json,
    )?;
    Ok(id)
}

/// The options a run was started with.
pub fn run_options(row: &store::RunRow) -> RunOptions {
    serde_json::from_str(&row.options_json).unwrap_or_default()
}

/// A person's decision on a waiting run. What it does depends on what the
/// run waits for (docs/semantics.md §5):
/// - a human evaluator: the verdict (approve passes, reject fails); the run
///   goes on and the spec's rules decide (`human_rejected`, feedback);
/// - a gate (`human_gate`, a blocked action, a gated output, a manual
///   optimizer step): approve lets the run go on, reject ends it;
/// - an escalation (`escalate_human` of a failure or stall rule): approve
///   accepts the result as it is (succeeded), reject ends it (rejected).
///
/// Returns whether the run should now be executed further.
pub fn decide(store: &Store, run_id: &str, approved: bool, note: &str) -> Result<bool, String> {
    let run = store.run(run_id)?.ok_or_else(|| format!("no run `{run_id}`"))?;
    if run.status != Status::AwaitingHuman {
        return Err(format!("run `{run_id}` is {}, not waiting for a person", run.status.as_str()));
    }
    let iteration = run.waiting_iteration;
    store.decide(run_id, iteration, &run.waiting_for, approved, note)?;
    let who = if note.is_empty() { String::new() } else { format!(": {note}") };
    store.event(
        run_id,
        iteration,
        "human",
        &format!("{} {}{who}", if approved { "approved" } else { "rejected" }, run.waiting_for),
    )?;
    let evaluator = run.waiting_for.starts_with("evaluators.");
    if !approved && !evaluator {
        store.set_status(run_id, Status::Rejected, &format!("human_rejected: {}{who}", run.waiting_for), "")?;
        trace::write(store, run_id)?;
        return Ok(false);
    }
    if approved && run.waiting_for == "escalation" {
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
