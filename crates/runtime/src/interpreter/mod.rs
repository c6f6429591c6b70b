//! The interpreter: one run of a plan, iteration by iteration, exactly as
//! docs/semantics.md describes. Every finished step is committed to the
//! [`Store`] before the next one starts; `execute` can therefore be called
//! again on an interrupted run and continues at the first unfinished step.

mod agentic;
mod aggregate;
mod compose;
mod deadline;
mod evaluate;
mod guard;
mod invoke;
mod isolation;
mod publishing;
mod steps;
mod terminate;
mod tool_steps;
mod validate;
mod verdict;
mod workspace;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use loopc_plan::Plan;
use serde_json::{json, Map, Value};

use crate::bindings::Bindings;
use crate::executor::{Executor, StepRef};
use crate::store::{IterationRecord, Status, StepStatus, Store, StoreError};
use crate::Error;
pub use guard::Guard;
use isolation::{digests, isolation_for};
pub use validate::validate_plan;
/// The step under which each iteration's workspace snapshot is stored.
pub const SNAPSHOT_STEP: &str = workspace::SNAPSHOT;

/// How a run ended (or paused).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Report {
    pub run_id: String,
    pub loop_name: String,
    pub status: Status,
    pub reason: String,
    pub iterations: u32,
    pub cost_usd: f64,
    pub tokens: u64,
    /// What a person must do, when the run waits for one.
    pub needs_human: Option<String>,
    /// What a shadow run recorded instead of doing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<String>,
    /// Workers that failed, each as `iteration N: id: why`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worker_failures: Vec<String>,
    /// The run's own workspace (a worktree or a copy; none when in place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The branch of a `git-worktree` run, kept for review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// An iteration's flow, record, state and whether it ran to its end.
type IterationOutcome = (Flow, Option<IterationRecord>, steps::IterationState, bool);

/// The bindings as they apply to a run's workspace (the root remapped into
/// its worktree or copy) and its diff-scope gate; a workspace that is gone
/// cannot be continued.
fn workspace_bindings(
    ws: Option<&crate::workspace::Workspace>,
    bindings: &Bindings,
) -> Result<(Bindings, Option<crate::workspace::scope::DiffScope>), Error> {
    use crate::workspace::{Kind, WorkspaceError};
    if let Some(ws) = ws.filter(|w| w.kind != Kind::InPlace) {
        if !ws.removed_at.is_empty() || !ws.root.is_dir() {
            let why = if ws.removed_at.is_empty() {
                "deleted".to_owned()
            } else {
                format!("removed by loopc gc at {}", ws.removed_at)
            };
            return Err(WorkspaceError::Gone {
                path: ws.path.clone(),
                why,
            }
            .into());
        }
    }
    let scope = crate::workspace::scope::DiffScope::new(&bindings.workspace)?;
    let kind = ws.map_or(Kind::InPlace, |w| w.kind);
    if scope.is_some() && kind != Kind::GitWorktree {
        return Err(WorkspaceError::NeedsWorktree("allowed_paths / forbidden_paths", kind.as_str()).into());
    }
    Ok((bindings.for_workspace(ws), scope))
}

/// What an iteration (or part of it) decided.
pub(crate) enum Flow {
    Continue,
    Stop(Status, String),
    Pause(crate::gate::Gate, String),
}

/// Executors by binding name, built on first use.
pub(crate) struct Executors {
    bindings: Bindings,
    built: HashMap<String, Arc<dyn Executor>>,
    dry_run: bool,
    shadow: bool,
}

impl Executors {
    fn get(&mut self, step: &StepRef, implementation: Option<&str>, model: Option<(&str, &str)>) -> Result<Arc<dyn Executor>, String> {
        let name = self.bindings.select(step, implementation, model).ok_or_else(|| {
            let mut keys = vec![format!("\"{}\"", step.path())];
            if let Some(i) = implementation {
                keys.push(format!("\"impl:{i}\""));
            }
            if let Some((p, n)) = model {
                keys.push(format!("\"model:{p}/{n}\""));
            }
            format!(
                "no executor bound for {}: add one of {} (or `default`) to [bind] in the bindings",
                step.path(),
                keys.join(", ")
            )
        });
        let name = match (name, self.dry_run) {
            (Ok(n), _) => n.to_owned(),
            (Err(_), true) => "<dry-run>".to_owned(),
            (Err(e), false) => return Err(e),
        };
        if let Some(e) = self.built.get(&name) {
            return Ok(e.clone());
        }
        let config = self.bindings.executors.get(&name);
        let executor: Arc<dyn Executor> = match config {
            Some(crate::bindings::ExecutorConfig::Command(c)) if self.shadow && c.outward => {
                Arc::new(crate::executor::dry_run::Shadowed { argv: c.argv.clone() })
            }
            Some(c)
                if !self.dry_run
                    || matches!(
                        c,
                        crate::bindings::ExecutorConfig::Script(_) | crate::bindings::ExecutorConfig::Children
                    ) =>
            {
                Arc::from(crate::executor::build(c, &self.bindings).map_err(|e| format!("executor `{name}`: {e}"))?)
            }
            _ => Arc::new(crate::executor::dry_run::DryRun),
        };
        self.built.insert(name, executor.clone());
        Ok(executor)
    }
}

/// One run being executed.
pub struct Runner<'a> {
    pub(crate) store: &'a mut Store,
    pub(crate) plan: Plan,
    pub(crate) run_id: String,
    pub(crate) inputs: Map<String, Value>,
    pub(crate) workspace: PathBuf,
    pub(crate) executors: Executors,
    pub(crate) guard: Guard,
    pub(crate) observer: &'a mut dyn FnMut(&str),
    pub(crate) run_started_ms: i64,
    /// Set by `on_approach: throttle`: no concurrency, no retries (kept in the store).
    pub(crate) throttled: bool,
    /// One-time cost warnings already given (kept in the store).
    pub(crate) warned: Vec<String>,
    /// Where executors and `run_command` record the process groups they start.
    pub(crate) processes: Arc<crate::process::ProcessLog>,
    /// How every process of the run is isolated (rebuilt when paths are protected).
    pub(crate) isolation: Arc<crate::process::Isolation>,
    /// The files the executors run, with their SHA-256 when the run started
    /// in this process: a change halts the run (see [`Runner::check_executor_files`]).
    executor_files: Vec<(PathBuf, String)>,
    /// What builds `isolation`: the sandbox settings, the state directory, the bindings file.
    sandbox: crate::bindings::SandboxConfig,
    state_dir: PathBuf,
    bindings_file: Option<PathBuf>,
    /// [`Guard::safety_changes`] when the safety memory was last stored.
    saved_safety: u64,
    /// The run's workspace (`None`: a run from before workspaces, in place).
    pub(crate) ws: Option<crate::workspace::Workspace>,
    /// The diff-scope gate of `[workspace]`, when it sets globs.
    pub(crate) scope: Option<crate::workspace::scope::DiffScope>,
    /// The inner children to run in each iteration, when this run is the
    /// outer child of a `nested` composition.
    pub(crate) nested: Option<compose::Nested>,
    /// The state page, relative to the worktree, when it is inside it:
    /// kept out of the snapshots and the diff-scope gate.
    pub(crate) page_in_worktree: Option<PathBuf>,
    /// Whether the bindings name a state page (without one, a step boundary
    /// does not read the store for it).
    keeps_page: bool,
    /// A state page that could not be written was said once.
    page_failed: bool,
}

/// Counter keys of the run's persisted state (`counters` table).
const SAFETY_MEMO: &str = "safety";
const COST_WARNINGS: &str = "cost_warnings";
const THROTTLED: &str = "throttled";

impl<'a> Runner<'a> {
    /// Prepare to execute run `run_id` (created with [`crate::start_run`]).
    /// The options the run was started with are kept in the state and apply
    /// to every later execution (resume, approve) too.
    pub fn new(store: &'a mut Store, run_id: &str, bindings: Bindings, observer: &'a mut dyn FnMut(&str)) -> Result<Self, Error> {
        let row = store.run(run_id)?.ok_or_else(|| StoreError::not_found(run_id))?;
        let options = row.options;
        store.set_synchronous(options.sync.pragma())?;
        let plan = row.plan()?;
        validate_plan(&plan)?;
        store.set_redactor(crate::safety::redactor_for(&plan.safety));
        let inputs: Map<String, Value> = serde_json::from_str(&row.inputs_json)
            .map_err(|e| StoreError::corrupt(run_id, "runs", format!("`{run_id}`"), format!("inputs_json does not decode: {e}")))?;
        let workspace = PathBuf::from(&row.workspace);
        let ws = store.workspace(run_id)?;
        let (bindings, scope) = workspace_bindings(ws.as_ref(), &bindings)?;
        let state_dir = store.path().parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
        crate::check_state_location(&state_dir, &workspace)?;
        let processes = Arc::new(crate::process::ProcessLog::new(store.path(), run_id));
        let mut guard = Guard::new(&plan, &workspace, &bindings.sandbox, options.allow_unenforced)?;
        guard.protect(std::iter::once(state_dir.clone()).chain(bindings.private_files()));
        guard.read_only(bindings.executor_files(&plan));
        // The spec the run came from (its next run must not be one a worker
        // rewrote) and the repository's `.git` (hooks and config there run
        // code when a person later uses git; nothing in a diff shows them).
        guard.read_only(
            [PathBuf::from(&plan.source), workspace.join(".git")]
                .into_iter()
                .chain(ws.as_ref().and_then(crate::workspace::Workspace::common_dir))
                .filter(|p| p.exists()),
        );
        let executor_files = digests(&bindings.executor_files(&plan));
        guard.record_processes(processes.clone());
        let isolation = Arc::new(
            isolation_for(
                &bindings.sandbox,
                &workspace,
                &state_dir,
                bindings.source.as_deref(),
                guard.read_only_paths(),
            )
            .map_err(Error::Run)?,
        );
        guard.isolate(isolation.clone());
        if options.shadow {
            guard.shadow(bindings.shadow.clone());
        }
        if let Some(memo) = store.counter(run_id, SAFETY_MEMO)? {
            guard.restore_safety(&memo).map_err(Error::Run)?;
        }
        let corrupt_counter = |key: &str, why: String| StoreError::corrupt(run_id, "counters", format!("(key `{key}`)"), why);
        let warned: Vec<String> = match store.counter(run_id, COST_WARNINGS)? {
            None => Vec::new(),
            Some(v) => serde_json::from_value(v).map_err(|e| corrupt_counter(COST_WARNINGS, e.to_string()))?,
        };
        let throttled = match store.counter(run_id, THROTTLED)? {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(other) => return Err(corrupt_counter(THROTTLED, format!("{other} is not true or false")).into()),
        };
        // Command executors run only programs the sandbox allows.
        for (name, config) in &bindings.executors {
            let argv = match config {
                crate::bindings::ExecutorConfig::Command(c) => &c.argv,
                crate::bindings::ExecutorConfig::Agent(c) => &c.argv,
                _ => continue,
            };
            guard
                .check_command(argv)
                .map_err(|e| Error::Executor(format!("executor `{name}`: {e}")))?;
        }
        let (started, _) = store.run_interval(run_id)?;
        let page = bindings.state_page.file(&workspace, run_id);
        if let Some(file) = &page {
            crate::status::keep_page(store, run_id, file)?;
        }
        let page_in_worktree = page.as_ref().and_then(|file| {
            let ws = ws.as_ref().filter(|w| w.is_worktree())?;
            file.strip_prefix(&ws.path).ok().map(PathBuf::from)
        });
        let sandbox = bindings.sandbox.clone();
        let bindings_file = bindings.source.clone();
        Ok(Runner {
            store,
            plan,
            run_id: run_id.to_owned(),
            inputs,
            workspace,
            executors: Executors {
                bindings,
                built: HashMap::new(),
                dry_run: options.dry_run,
                shadow: options.shadow,
            },
            saved_safety: guard.safety_changes(),
            ws,
            scope,
            nested: None,
            page_in_worktree,
            keeps_page: page.is_some(),
            page_failed: false,
            sandbox,
            executor_files,
            state_dir,
            bindings_file,
            isolation,
            guard,
            observer,
            run_started_ms: started,
            throttled,
            warned,
            processes,
        })
    }

    /// Keep these paths read-only to every tool and process too (the plan
    /// file, a trace target, `loopc.toml`).
    pub fn protect(&mut self, paths: impl IntoIterator<Item = PathBuf>) -> Result<(), Error> {
        self.guard.read_only(paths);
        self.isolation = Arc::new(
            isolation_for(
                &self.sandbox,
                &self.workspace,
                &self.state_dir,
                self.bindings_file.as_deref(),
                self.guard.read_only_paths(),
            )
            .map_err(Error::Run)?,
        );
        self.guard.isolate(self.isolation.clone());
        Ok(())
    }

    /// Store the safety engine's memory (rate-limit counts, one-time
    /// reports) when it changed, so a resumed run goes on counting.
    pub(crate) fn save_safety(&mut self) -> Result<(), String> {
        let now = self.guard.safety_changes();
        if now != self.saved_safety {
            self.store.set_counter(&self.run_id, SAFETY_MEMO, &self.guard.safety_snapshot())?;
            self.saved_safety = now;
        }
        Ok(())
    }

    pub(crate) fn save_cost_state(&mut self) -> Result<(), String> {
        self.store
            .set_counter(&self.run_id, COST_WARNINGS, &serde_json::json!(self.warned))?;
        Ok(self.store.set_counter(&self.run_id, THROTTLED, &Value::Bool(self.throttled))?)
    }

    pub(crate) fn say(&mut self, line: &str) {
        (self.observer)(line);
    }

    /// Bring the run's state page (`[state_page]`) up to date. A page that
    /// cannot be written does not stop the run: it is said once, as an event.
    pub(crate) fn refresh_state_page(&mut self) -> Result<(), String> {
        if !self.keeps_page {
            return Ok(());
        }
        match crate::status::refresh_page(self.store, &self.run_id) {
            Err(why) if !self.page_failed => {
                self.page_failed = true;
                let iteration = self.store.run(&self.run_id)?.map_or(0, |r| r.iteration);
                self.event(iteration, "state_page", &why)
            }
            _ => Ok(()),
        }
    }

    /// Say which steps of iteration `i` start now (empty: they ended), for
    /// live views (`loopc serve --ui`); the steps table has what finished.
    pub(crate) fn under_way<S: AsRef<str>>(&self, i: u32, steps: &[S]) -> Result<(), String> {
        let steps: Vec<String> = steps.iter().map(|s| s.as_ref().to_owned()).collect();
        Ok(self.store.set_under_way(&self.run_id, i, &steps)?)
    }

    pub(crate) fn event(&mut self, iteration: u32, kind: &str, message: &str) -> Result<(), String> {
        let message = self.store.redactor().text(message).into_owned();
        self.say(&format!("  {kind}: {message}"));
        Ok(self.store.event(&self.run_id, iteration, kind, &message)?)
    }

    /// Execute until the run ends or waits for a person. A run another
    /// process executes is [`StoreError::Busy`]; what fails while it
    /// executes is [`Error::Run`].
    pub fn execute(&mut self) -> Result<Report, Error> {
        match self.store.claim(&self.run_id)? {
            crate::store::Claim::Ended(_) => return self.report(),
            crate::store::Claim::Claimed(_) => {}
        }
        let result = self
            .end_leftovers()
            .and_then(|()| self.clear_workspace_locks())
            .and_then(|()| self.warn_unisolated())
            .and_then(|()| self.execute_claimed());
        // A step cut short by a stop surfaces as an error; the run is then
        // marked for what stopped it, not failed.
        let result = match result {
            Err(e) => self.stop_or(e),
            ok => ok,
        };
        self.store.release(&self.run_id)?;
        result.map_err(Error::Run)?;
        self.report()
    }

    /// Halt when a file the executors run changed since the run started: a
    /// worker rewrote its checker or its own program (the OS sandbox keeps
    /// such files read-only, but renaming the directory around one gets
    /// past a read-only bind; this check does not care how).
    pub(crate) fn check_executor_files(&self) -> Option<Flow> {
        let now = digests(&self.executor_files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
        let changed: Vec<String> = self
            .executor_files
            .iter()
            .zip(&now)
            .filter(|((_, before), (_, after))| before != after)
            .map(|((p, _), _)| p.display().to_string())
            .collect();
        (!changed.is_empty()).then(|| {
            Flow::Stop(
                Status::Halted,
                format!(
                    "safety_violation: {} changed during the run: a file the run's executors run may not be rewritten by a worker",
                    changed.join(", ")
                ),
            )
        })
    }

    /// Say so when processes run without an OS sandbox because none works here.
    fn warn_unisolated(&mut self) -> Result<(), String> {
        if self.isolation.bwrap.is_none() && self.sandbox.isolation == crate::process::IsolationMode::Auto {
            let iteration = self.store.run(&self.run_id)?.map_or(0, |r| r.iteration);
            self.event(
                iteration,
                "sandbox",
                "no OS sandbox: bubblewrap is not installed here (or cannot create namespaces), so the run's processes have your user's rights and could reach loopc's state; install bubblewrap, or set [sandbox] isolation = \"none\" to accept this",
            )?;
        }
        Ok(())
    }

    /// Kill the process groups an earlier execution of this run started and
    /// did not see end (loopc was killed while a step ran).
    fn end_leftovers(&mut self) -> Result<(), String> {
        let groups = self.store.processes(&self.run_id)?;
        let killed = crate::process::end_leftovers(&groups);
        let iteration = self.store.run(&self.run_id)?.map_or(0, |r| r.iteration);
        for pgid in killed {
            self.event(
                iteration,
                "process",
                &format!("ended process group {pgid} left running by an earlier execution"),
            )?;
        }
        for (pgid, _) in groups {
            self.store.forget_process(&self.run_id, pgid)?;
        }
        Ok(())
    }

    fn execute_claimed(&mut self) -> Result<(), String> {
        if let Some(signal) = crate::stop::signal() {
            // Signalled while this run waited in the queue: it does not start.
            return Err(crate::stop::Stop::Signal(signal).to_string());
        }
        self.store.set_status(&self.run_id, Status::Running, "", None)?;
        self.refresh_state_page()?;
        // Loaded once; each completed iteration is appended (long runs stay linear).
        let mut history = self.store.iterations(&self.run_id)?;
        loop {
            let i = history.len() as u32 + 1;
            let (flow, record) = self.iteration(i, &history)?;
            match flow {
                Flow::Continue => {
                    let mut record = record.ok_or("internal: a continuing iteration has no record")?;
                    self.store.finish_iteration(&self.run_id, Some(&mut record), None)?;
                    history.push(record);
                    self.refresh_state_page()?;
                }
                Flow::Stop(status, reason) => {
                    let mut record = record;
                    self.store
                        .finish_iteration(&self.run_id, record.as_mut(), Some((status, &reason, None, 0)))?;
                    self.say(&format!("outcome: {} — {reason}", status.as_str()));
                    if status == Status::Succeeded {
                        self.publish(i)?;
                    }
                    break;
                }
                Flow::Pause(waiting_for, reason) => {
                    // An escalation ends the iteration (recorded); a gate is
                    // answered and the iteration redone from its cached steps.
                    let mut record = record;
                    self.store.finish_iteration(
                        &self.run_id,
                        record.as_mut(),
                        Some((Status::AwaitingHuman, &reason, Some(&waiting_for), i)),
                    )?;
                    self.say(&format!(
                        "paused: {reason} (loopc approve {} / loopc reject {})",
                        self.run_id, self.run_id
                    ));
                    break;
                }
            }
        }
        crate::trace::write(self.store, &self.run_id)?;
        self.refresh_state_page()
    }

    /// After an error: when the run was asked to stop (the error is how a
    /// cut step surfaces) mark it so; else the error as it is — also one
    /// after the run ended (a signal during its publish hooks).
    fn stop_or(&mut self, error: String) -> Result<(), String> {
        let ended = self.store.run(&self.run_id)?.is_some_and(|r| r.status.is_final());
        match self.store.stop_for(&self.run_id)? {
            Some(stop) if !ended => self.stopped(stop),
            _ => Err(error),
        }
    }

    /// At a step boundary: stop here when the run was asked to (see
    /// [`crate::stop`]); the caller's error reaches [`Runner::execute`].
    pub(crate) fn check_stop(&self) -> Result<(), String> {
        match self.store.stop_for(&self.run_id)? {
            Some(stop) => Err(stop.to_string()),
            None => Ok(()),
        }
    }

    /// Whether a cancel or a signal is pending (a pause lets steps finish):
    /// a tool call that ends now may have been cut short by it.
    pub(crate) fn cut_short(&self) -> Result<bool, String> {
        Ok(matches!(
            self.store.stop_for(&self.run_id)?,
            Some(crate::stop::Stop::Signal(_) | crate::stop::Stop::Cancel)
        ))
    }

    /// Mark the run for what stopped it (see [`crate::stop`]) and write its
    /// trace; the step that was running is not recorded, so a resume runs it.
    fn stopped(&mut self, stop: crate::stop::Stop) -> Result<(), String> {
        use crate::stop::Stop;
        let id = self.run_id.clone();
        let (status, reason) = match stop {
            Stop::Signal(_) => (
                Status::Interrupted,
                format!("{stop}; `loopc resume {id}` continues at the first unfinished step"),
            ),
            Stop::Cancel => (Status::Cancelled, stop.to_string()),
            Stop::Pause => (Status::Paused, format!("{stop}; `loopc continue {id}` goes on")),
        };
        // Stopped inside the iteration after the last one that finished.
        let iteration = self.store.run(&id)?.map_or(0, |r| r.iteration) + 1;
        self.store.set_status(&id, status, &reason, None)?;
        self.event(iteration, "stop", &reason)?;
        self.say(&format!("outcome: {} — {reason}", status.as_str()));
        crate::trace::write(self.store, &id)?;
        self.refresh_state_page()
    }

    fn report(&self) -> Result<Report, Error> {
        let row = self.store.run(&self.run_id)?.ok_or_else(|| Error::Run("run vanished".into()))?;
        Ok(Report {
            run_id: row.id,
            loop_name: row.loop_name,
            status: row.status,
            needs_human: (row.status == Status::AwaitingHuman).then(|| row.reason.clone()),
            reason: row.reason,
            iterations: row.iteration,
            cost_usd: row.cost_usd,
            tokens: row.tokens,
            shadowed: self.shadowed().map_err(Error::Run)?,
            worker_failures: self.worker_failures().map_err(Error::Run)?,
            workspace: self
                .ws
                .as_ref()
                .filter(|w| w.kind != crate::workspace::Kind::InPlace)
                .map(|w| w.path.display().to_string()),
            branch: self.ws.as_ref().filter(|w| w.is_worktree()).map(|w| w.branch.clone()),
        })
    }

    /// One iteration (semantics §2), resuming from its committed steps, then
    /// its snapshot (and rollback) in the run's workspace.
    fn iteration(&mut self, i: u32, history: &[IterationRecord]) -> Result<(Flow, Option<IterationRecord>), String> {
        let (flow, record, state, completed) = self.iteration_steps(i, history)?;
        self.settle_workspace(&flow, record.as_ref(), &state, completed, history)?;
        Ok((flow, record))
    }

    /// The iteration's steps: its flow and record, what it produced, and
    /// whether it ran to its end.
    fn iteration_steps(&mut self, i: u32, history: &[IterationRecord]) -> Result<IterationOutcome, String> {
        let started = Instant::now();
        let started_at = crate::clock::now_rfc3339();
        let previous = history.last();
        self.say(&format!("iteration {i}"));
        if self.plan.memory.kind == loopc_plan::MemoryKind::Ephemeral {
            // Cleared at the start of each iteration; a resumed iteration keeps what it wrote.
            if self.store.step(&self.run_id, i, "memory.cleared")?.is_none() {
                self.store.memory_clear(&self.memory_scope())?;
                self.commit_marker(i, "memory.cleared")?;
            }
        }
        let mut state = steps::IterationState::new(i, previous, history);
        let (notes, taken) = self.store.take_notes(&self.run_id, i)?;
        state.notes = notes;
        if taken > 0 {
            let said = if taken == 1 {
                "a note from a person reaches this iteration's workers".to_owned()
            } else {
                format!("{taken} notes from a person reach this iteration's workers")
            };
            self.event(i, "context", &said)?;
        }
        // A composition's children first (semantics §10).
        let mut early = self.run_composition(&mut state, history)?;
        for group in self.plan.groups.clone() {
            if early.is_some() {
                break;
            }
            self.check_stop()?;
            self.refresh_state_page()?;
            if let Some(flow) = self.run_group(&mut state, &group)? {
                early = Some(flow);
                break;
            }
        }
        if early.is_none() {
            for e in self.plan.evaluators.clone() {
                self.check_stop()?;
                self.refresh_state_page()?;
                if let Some(flow) = self.run_evaluator(&mut state, &e)? {
                    early = Some(flow);
                    break;
                }
            }
        }
        if early.is_none() {
            early = self.run_inner(&mut state)?;
        }
        if early.is_none() {
            early = self.check_diff_scope(&mut state)?;
        }
        if early.is_none() {
            early = self.check_output(&mut state)?;
        }
        if let Some(flow) = early {
            // Stopped mid-iteration: the partial iteration is part of the record
            // (its spend, violations, why it ended); a pause redoes it later.
            let record = match &flow {
                Flow::Stop(_, reason) => Some(IterationRecord {
                    iteration: i,
                    cost_usd: state.cost_usd,
                    tokens: state.tokens,
                    errors: state.errors,
                    worker_failures: state.worker_failures.clone(),
                    violations: state.violations.clone(),
                    decision: reason.clone(),
                    started_at,
                    finished_at: crate::clock::now_rfc3339(),
                    ..IterationRecord::default()
                }),
                _ => None,
            };
            return Ok((flow, record, state, false));
        }
        let metrics = self.metrics(&state, history, started.elapsed().as_secs_f64())?;
        let mut feedback = self.feedback(&state, &metrics);
        compose::add_inner_feedback(&mut feedback, &self.plan, &state.inner_feedback);
        let mut record = IterationRecord {
            iteration: i,
            metrics,
            feedback: feedback.clone(),
            cost_usd: state.cost_usd,
            tokens: state.tokens,
            errors: state.errors,
            violations: state.violations.clone(),
            decision: String::new(),
            started_at,
            finished_at: crate::clock::now_rfc3339(),
            optimizer_step: false,
            ..IterationRecord::default()
        };
        let flow = self.terminate(&mut record, history, &state)?;
        self.say(&format!(
            "  metrics: {} · iteration ${:.4} · total ${:.4}",
            record
                .metrics
                .iter()
                .map(|(k, v)| format!("{k}={}", short(v)))
                .collect::<Vec<_>>()
                .join(" "),
            record.cost_usd,
            self.store.spend(&self.run_id)?.0
        ));
        // A pause at a gate redoes this iteration's decision after the
        // person's answer (every step is cached); an escalation ends it.
        let keep = !matches!(&flow, Flow::Pause(gate, _) if *gate != crate::gate::Gate::Escalation);
        Ok((flow, keep.then_some(record), state, true))
    }

    pub(crate) fn memory_scope(&self) -> String {
        if self.plan.memory.kind == loopc_plan::MemoryKind::Persistent {
            format!("loop:{}", self.plan.loop_name)
        } else {
            format!("run:{}", self.run_id)
        }
    }

    pub(crate) fn commit_marker(&mut self, i: u32, step: &str) -> Result<(), String> {
        let mut record = crate::store::StepRecord {
            status: StepStatus::Done,
            result: json!(null),
            cost_usd: 0.0,
            tokens: 0,
            attempts: 0,
            seconds: 0.0,
        };
        Ok(self.store.record_step(&self.run_id, i, step, &mut record)?)
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |f| format!("{}", (f * 10_000.0).round() / 10_000.0)),
        other => other.to_string(),
    }
}
