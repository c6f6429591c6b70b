//! The interpreter behind `loopc run`: it executes a [`loopc_plan::Plan`]
//! as docs/semantics.md describes — iterations, evaluators, metrics,
//! feedback, termination, budgets, safety — through executors chosen by a
//! bindings file, and checkpoints every step to SQLite so that a killed run
//! resumes where it stopped.
//!
//! Depends on the plan only: it never sees LSS.

pub mod atomic;
pub mod bindings;
pub mod clock;
pub mod doctor;
pub mod error;
pub mod executor;
pub mod gate;
pub mod inputs;
pub mod interpreter;
pub mod launch;
pub mod limits;
pub mod pool;
pub mod process;
pub mod publish;
pub mod safety;
pub mod status;
pub mod stop;
pub mod store;
pub mod tools;
pub mod trace;
pub mod triggers;
pub mod workspace;

use std::path::Path;

use loopc_plan::Plan;
use serde_json::{Map, Value};

pub use error::{Error, StateLocationError};
pub use interpreter::{validate_plan, Report, Runner};
pub use store::{Status, Store, StoreError};

/// 64 random bits (from the kernel; time, pid and a counter without it).
pub fn random_u64() -> u64 {
    use std::io::Read;
    let mut random = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .is_ok()
    {
        return u64::from_le_bytes(random);
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    (clock::unix_ms() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(std::process::id()).rotate_left(32)
        ^ COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A new run id: time-ordered, with 32 random bits so that processes
/// starting runs in the same second do not collide.
pub fn new_run_id() -> String {
    let stamp = clock::now_rfc3339().replace(['-', ':'], "");
    format!("r{}-{:08x}", &stamp[..15], random_u64() as u32)
}

/// Options a run keeps for its whole life (resume and approve reuse them).
/// Every field has a default: a run recorded before an option existed (or
/// by a loopc that wrote `{}`) reads as one started without it.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunOptions {
    pub dry_run: bool,
    pub allow_unenforced: bool,
    /// Run everything inside the workspace, record what would act outside
    /// it (see [`publish`]).
    #[serde(default)]
    pub shadow: bool,
    /// Checkpoint durability: `full`, `normal` or `off`.
    #[serde(default)]
    pub sync: Sync,
    /// How many branches of a parallel composition run at once (`--jobs`; 0: all).
    #[serde(default)]
    pub jobs: u32,
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

/// Where a run's bindings came from, and the SHA-256 of their text: a
/// continuation refuses bindings that changed since (see docs/runtime.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindingsOrigin {
    /// A file, `<loopc.toml>[run]`, or empty for none.
    pub label: String,
    pub sha256: String,
}

/// A run [`start_run`] recorded.
#[derive(Clone, Debug)]
pub struct Started {
    pub id: String,
    /// One note for each input that held a secret.
    pub notes: Vec<String>,
    pub workspace: workspace::Workspace,
}

/// Record a new run (inputs already validated) with its own workspace made
/// from `source` (a worktree on a new branch, a copy, or the root in place),
/// and with the digest of `bindings` (labelled `label`) as they apply to
/// that workspace. An input that held a secret gets a note: the run's state
/// keeps no secret, so such an input is stored, and used, with the secret
/// replaced by a redaction marker. When the run cannot be recorded, the
/// workspace made for it is removed again.
pub fn start_run(
    store: &mut Store,
    plan: &Plan,
    inputs: &Map<String, Value>,
    source: &workspace::Source,
    bindings: (&bindings::Bindings, &str),
    options: &RunOptions,
) -> Result<Started, Error> {
    start_linked_run(store, plan, inputs, source, bindings, options, None)
}

/// [`start_run`] of a composition's child run, linked to its parent.
pub(crate) fn start_linked_run(
    store: &mut Store,
    plan: &Plan,
    inputs: &Map<String, Value>,
    source: &workspace::Source,
    bindings: (&bindings::Bindings, &str),
    options: &RunOptions,
    parent: Option<&store::ParentLink>,
) -> Result<Started, Error> {
    if plan.plan_version != loopc_plan::PLAN_VERSION {
        return Err(Error::PlanVersion {
            found: plan.plan_version.clone(),
            supported: loopc_plan::PLAN_VERSION,
        });
    }
    interpreter::validate_plan(plan)?;
    store.set_redactor(safety::redactor_for(&plan.safety));
    let mut notes = Vec::new();
    for (key, value) in inputs {
        let mut clean = value.clone();
        if store.redactor().value(&mut clean) {
            notes.push(format!(
                "input `{key}` holds what looks like a secret; loopc stores no secret, so the run sees it redacted (give secrets to executors through their environment)"
            ));
        }
    }
    let id = new_run_id();
    let plan_json = serde_json::to_string(plan).map_err(StoreError::from)?;
    let inputs_json = Value::Object(inputs.clone()).to_string();
    let state_dir = store.path().parent().unwrap_or(Path::new(".")).to_path_buf();
    let ws = workspace::create(source, &state_dir, &id, &plan.loop_name)?;
    let (bindings, label) = bindings;
    let digest = bindings.for_workspace(Some(&ws)).digest(plan);
    let created = store.create_run(
        &id,
        &plan.loop_name,
        &plan_json,
        &inputs_json,
        &ws,
        (label, &digest),
        options,
        parent,
    );
    if let Err(e) = created {
        workspace::discard(&ws);
        return Err(e.into());
    }
    Ok(Started { id, notes, workspace: ws })
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
/// The decision is taken atomically (two people deciding at once: one
/// wins, the other is told the run no longer waits). Returns whether the
/// run should now be executed further.
pub fn decide(store: &mut Store, run_id: &str, approved: bool, note: &str) -> Result<bool, Error> {
    // A composing run that waits for a child waits for what the child
    // waits for: the decision is the child's (at any depth).
    let target = waiting_child(store, run_id)?;
    let continues = decide_here(store, &target, approved, note)?;
    // A child's decision always lets the composing run go on: it reads the
    // child's outcome, whatever it is.
    Ok(continues || target != run_id)
}

/// The run a decision on `run_id` is for: the child it waits for, followed down.
fn waiting_child(store: &Store, run_id: &str) -> Result<String, Error> {
    let mut at = run_id.to_owned();
    for _ in 0..16 {
        let Some(row) = store.run(&at)? else { break };
        let Some(gate::Gate::Child(key)) = row.waiting_for.clone() else {
            break;
        };
        let link = store::ParentLink {
            parent: at.clone(),
            iteration: row.waiting_iteration,
            key,
        };
        match store.child_run(&link)? {
            Some(child) => at = child,
            None => break,
        }
    }
    Ok(at)
}

fn decide_here(store: &mut Store, run_id: &str, approved: bool, note: &str) -> Result<bool, Error> {
    let who = if note.is_empty() { String::new() } else { format!(": {note}") };
    store.decide(run_id, approved, note, |row| {
        let gate = row.waiting_for.as_ref();
        let verdict = gate.is_some_and(gate::Gate::is_verdict);
        let shown = gate.map_or_else(String::new, ToString::to_string);
        if !approved && !verdict {
            (Status::Rejected, format!("human_rejected: {shown}{who}"))
        } else if approved && gate == Some(&gate::Gate::Escalation) {
            (
                Status::Succeeded,
                format!("accepted by a person after escalation ({}){who}", row.reason),
            )
        } else {
            (Status::Running, String::new())
        }
    })?;
    let continues = match store.run(run_id)?.map(|r| r.status) {
        Some(status) if status.is_final() => {
            trace::write(store, run_id)?;
            refresh_page(store, run_id)?;
            false
        }
        _ => true,
    };
    Ok(continues)
}

/// What `loopc cancel` and `loopc pause` came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requested {
    /// A process executes the run: it was asked (it stops its step's
    /// process group, or pauses at the next step, and marks the run).
    Asked { pid: u32 },
    /// Nothing executed the run: it was cancelled here (leftover process
    /// groups of a killed loopc ended, trace written).
    Cancelled,
}

/// Cancel a run (final). A run another live process executes is asked to
/// stop (see [`stop`]); one nothing executes — waiting for a person,
/// paused, interrupted, or left `running` by a killed loopc — is cancelled
/// here, after ending the process groups an earlier execution left.
pub fn cancel(store: &mut Store, run_id: &str) -> Result<Requested, Error> {
    store.request(run_id, store::Control::Cancel)?;
    match store.claim(run_id) {
        Err(StoreError::Busy { pid, .. }) => Ok(Requested::Asked { pid }),
        Err(e) => Err(e.into()),
        Ok(store::Claim::Ended(row)) => Err(Error::Run(format!(
            "run {run_id} already ended: {}{}",
            row.status.as_str(),
            if row.reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", row.reason)
            }
        ))),
        Ok(store::Claim::Claimed(row)) => {
            let result = (|| -> Result<(), Error> {
                for pgid in process::end_leftovers(&store.processes(run_id)?) {
                    store.event(
                        run_id,
                        row.iteration,
                        "process",
                        &format!("ended process group {pgid} left running by an earlier execution"),
                    )?;
                }
                let reason = stop::Stop::Cancel.to_string();
                store.set_status(run_id, Status::Cancelled, &reason, None)?;
                store.event(run_id, row.iteration, "stop", &reason)?;
                trace::write(store, run_id)?;
                refresh_page(store, run_id)?;
                cancel_children(store, run_id)
            })();
            store.release(run_id)?;
            result.map(|()| Requested::Cancelled)
        }
    }
}

/// A run ended outside its process (a decision, a cancel): its state page
/// says so too. A page that cannot be written is an event of the run, not
/// a failure of the decision.
fn refresh_page(store: &Store, run_id: &str) -> Result<(), Error> {
    if let Err(why) = status::refresh_page(store, run_id) {
        let iteration = store.run(run_id)?.map_or(0, |r| r.iteration);
        store.event(run_id, iteration, "state_page", &why)?;
    }
    Ok(())
}

/// A cancelled composition's children that had not ended (waiting for a
/// person, paused, interrupted) end with it, at every depth.
fn cancel_children(store: &mut Store, run_id: &str) -> Result<(), Error> {
    for child in store.children_of(run_id)? {
        let Some(row) = store.run(&child.id)? else { continue };
        if !row.status.is_final() {
            for pgid in process::end_leftovers(&store.processes(&child.id)?) {
                store.event(
                    &child.id,
                    row.iteration,
                    "process",
                    &format!("ended process group {pgid} left running"),
                )?;
            }
            let reason = format!("{}: the composition run {run_id} was cancelled", stop::Stop::Cancel);
            store.set_status(&child.id, Status::Cancelled, &reason, None)?;
            store.event(&child.id, row.iteration, "stop", &reason)?;
            trace::write(store, &child.id)?;
            refresh_page(store, &child.id)?;
        }
        cancel_children(store, &child.id)?;
    }
    Ok(())
}

/// Pause a run at its next step boundary (`loopc continue` goes on). Only
/// a run a live process executes can be paused; returns that process's pid.
pub fn pause(store: &mut Store, run_id: &str) -> Result<u32, Error> {
    let row = store.run(run_id)?.ok_or_else(|| StoreError::not_found(run_id))?;
    match store.holder(run_id)? {
        Some(pid) if row.status == Status::Running => {
            store.request(run_id, store::Control::Pause)?;
            Ok(pid)
        }
        _ => Err(Error::Run(format!(
            "run {run_id} is {} and no process executes it: there is nothing to pause{}",
            row.status.as_str(),
            if row.status.is_final() {
                ""
            } else {
                " (loopc cancel ends it; loopc resume continues it)"
            }
        ))),
    }
}

/// The project a working directory belongs to: the nearest directory at or
/// above it with `.git` or `loopc.toml`, else the directory itself.
pub fn project_root(cwd: &Path) -> std::path::PathBuf {
    cwd.ancestors()
        .find(|d| d.join(".git").exists() || d.join("loopc.toml").is_file())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// `$XDG_STATE_HOME/loopc` (`~/.local/state/loopc`): where every project's
/// runs are kept by default. (The XDG rule: an unset or relative
/// `XDG_STATE_HOME` is ignored.)
pub fn default_state_base() -> Option<std::path::PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .map(|base| base.join("loopc"))
}

/// Where a project's runs are kept unless `--state-dir` or
/// `LOOPC_STATE_DIR` say otherwise: outside every workspace, in
/// `$XDG_STATE_HOME/loopc/<project>-<hash>` (`~/.local/state` when
/// `XDG_STATE_HOME` is unset), one directory per project (the hash is of
/// the project root's canonical path).
pub fn default_state_dir(cwd: &Path) -> Result<std::path::PathBuf, StateLocationError> {
    let project = project_root(cwd);
    let project = std::fs::canonicalize(&project).unwrap_or(project);
    let base = default_state_base()
        .and_then(|b| b.parent().map(Path::to_path_buf))
        .ok_or(StateLocationError::NoDefault)?;
    let name: String = project
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .unwrap_or_else(|| "root".into());
    let hash = safety::secrets::sha256_hex(project.to_string_lossy().as_bytes());
    Ok(base.join("loopc").join(format!("{name}-{}", &hash[..12])))
}

/// A state directory inside the workspace would let a worker write its own
/// approvals: refuse one (existing or not yet created) below the sandbox root.
pub fn check_state_location(state_dir: &Path, workspace: &Path) -> Result<(), StateLocationError> {
    let Ok(root) = std::fs::canonicalize(workspace) else {
        return Ok(());
    };
    let Some(state) = planned_path(state_dir).map_err(StateLocationError::Resolve)? else {
        return Ok(());
    };
    if state.starts_with(&root) {
        return Err(StateLocationError::InsideWorkspace { state, root });
    }
    Ok(())
}

/// Where `path` (existing or not yet created) is: its deepest existing
/// ancestor, canonical, with the rest appended; `None` when no ancestor
/// exists.
pub fn planned_path(path: &Path) -> std::io::Result<Option<std::path::PathBuf>> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while std::fs::canonicalize(existing).is_err() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return Ok(None),
        }
    }
    let mut planned = std::fs::canonicalize(existing)?;
    for name in rest.into_iter().rev() {
        if name == ".." {
            planned.pop();
        } else if name != "." {
            planned.push(name);
        }
    }
    Ok(Some(planned))
}
