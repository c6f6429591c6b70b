//! The interpreter: one run of a plan, iteration by iteration, exactly as
//! docs/semantics.md describes. Every finished step is committed to the
//! [`Store`] before the next one starts; `execute` can therefore be called
//! again on an interrupted run and continues at the first unfinished step.

mod evaluate;
mod guard;
mod steps;
mod terminate;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use loopc_plan::Plan;
use serde_json::{json, Map, Value};

use crate::bindings::Bindings;
use crate::executor::{Executor, StepRef};
use crate::store::{IterationRecord, Status, Store};
pub use guard::Guard;

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
}

/// What an iteration (or part of it) decided.
pub(crate) enum Flow {
    Continue,
    Stop(Status, String),
    Pause(String, String),
}

/// Executors by binding name, built on first use.
pub(crate) struct Executors {
    bindings: Bindings,
    built: HashMap<String, Arc<dyn Executor>>,
    dry_run: bool,
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
            Some(c) if !self.dry_run || matches!(c, crate::bindings::ExecutorConfig::Script { .. }) => {
                Arc::from(crate::executor::build(c, &self.bindings).map_err(|e| format!("executor `{name}`: {e}"))?)
            }
            _ => Arc::new(steps::DryRun),
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
    /// Set by `on_approach: throttle`: no concurrency, no retries.
    pub(crate) throttled: bool,
    pub(crate) warned: Vec<String>,
}

impl<'a> Runner<'a> {
    /// Prepare to execute run `run_id` (created with [`crate::start_run`]).
    /// The options the run was started with are kept in the state and apply
    /// to every later execution (resume, approve) too.
    pub fn new(store: &'a mut Store, run_id: &str, bindings: Bindings, observer: &'a mut dyn FnMut(&str)) -> Result<Self, String> {
        let row = store.run(run_id)?.ok_or_else(|| format!("no run `{run_id}`"))?;
        let options = crate::run_options(&row);
        store.set_synchronous(options.sync.pragma())?;
        let plan: Plan = serde_json::from_str(&row.plan_json).map_err(|e| format!("run `{run_id}` has an unreadable plan: {e}"))?;
        validate_plan(&plan)?;
        let inputs: Map<String, Value> = serde_json::from_str(&row.inputs_json).unwrap_or_default();
        let workspace = PathBuf::from(&row.workspace);
        let guard = Guard::new(&plan, &workspace, &bindings.sandbox, options.allow_unenforced)?;
        // Command executors run only programs the sandbox allows.
        for (name, config) in &bindings.executors {
            if let crate::bindings::ExecutorConfig::Command { argv, .. } = config {
                guard.check_command(argv).map_err(|e| format!("executor `{name}`: {e}"))?;
            }
        }
        let (started, _) = store.run_interval(run_id)?;
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
            },
            guard,
            observer,
            run_started_ms: started,
            throttled: false,
            warned: Vec::new(),
        })
    }

    pub(crate) fn say(&mut self, line: &str) {
        (self.observer)(line);
    }

    pub(crate) fn event(&mut self, iteration: u32, kind: &str, message: &str) -> Result<(), String> {
        self.say(&format!("  {kind}: {message}"));
        self.store.event(&self.run_id, iteration, kind, message)
    }

    /// Execute until the run ends or waits for a person.
    pub fn execute(&mut self) -> Result<Report, String> {
        let row = self.store.run(&self.run_id)?.ok_or("run vanished")?;
        if row.status.is_final() {
            return self.report();
        }
        self.store.claim(&self.run_id)?;
        let result = self.execute_claimed();
        self.store.release(&self.run_id)?;
        result
    }

    fn execute_claimed(&mut self) -> Result<Report, String> {
        self.store.set_status(&self.run_id, Status::Running, "", "")?;
        // Loaded once; each completed iteration is appended (long runs stay linear).
        let mut history = self.store.iterations(&self.run_id)?;
        loop {
            let i = history.len() as u32 + 1;
            let (flow, record) = self.iteration(i, &history)?;
            match flow {
                Flow::Continue => {
                    let record = record.ok_or("internal: a continuing iteration has no record")?;
                    self.store.finish_iteration(&self.run_id, Some(&record), None)?;
                    history.push(record);
                }
                Flow::Stop(status, reason) => {
                    self.store
                        .finish_iteration(&self.run_id, record.as_ref(), Some((status, &reason, "", 0)))?;
                    self.say(&format!("outcome: {} — {reason}", status.as_str()));
                    break;
                }
                Flow::Pause(waiting_for, reason) => {
                    // An escalation ends the iteration (recorded); a gate is
                    // answered and the iteration redone from its cached steps.
                    self.store.finish_iteration(
                        &self.run_id,
                        record.as_ref(),
                        Some((Status::AwaitingHuman, &reason, &waiting_for, i)),
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
        self.report()
    }

    fn report(&self) -> Result<Report, String> {
        let row = self.store.run(&self.run_id)?.ok_or("run vanished")?;
        Ok(Report {
            run_id: row.id,
            loop_name: row.loop_name,
            status: row.status,
            needs_human: (row.status == Status::AwaitingHuman).then(|| row.reason.clone()),
            reason: row.reason,
            iterations: row.iteration,
            cost_usd: row.cost_usd,
            tokens: row.tokens,
        })
    }

    /// One iteration (semantics §2), resuming from its committed steps.
    fn iteration(&mut self, i: u32, history: &[IterationRecord]) -> Result<(Flow, Option<IterationRecord>), String> {
        let started = Instant::now();
        let started_at = crate::clock::now_rfc3339();
        let previous = history.last();
        self.say(&format!("iteration {i}"));
        if self.plan.memory.kind == "ephemeral" {
            // Cleared at the start of each iteration; a resumed iteration keeps what it wrote.
            if self.store.step(&self.run_id, i, "memory.cleared")?.is_none() {
                self.store.memory_clear(&self.memory_scope())?;
                self.commit_marker(i, "memory.cleared")?;
            }
        }
        let mut state = steps::IterationState::new(i, previous, history);
        let mut early = None;
        for group in self.plan.groups.clone() {
            if let Some(flow) = self.run_group(&mut state, &group)? {
                early = Some(flow);
                break;
            }
        }
        if early.is_none() {
            for e in self.plan.evaluators.clone() {
                if let Some(flow) = self.run_evaluator(&mut state, &e)? {
                    early = Some(flow);
                    break;
                }
            }
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
                    violations: state.violations.clone(),
                    decision: reason.clone(),
                    started_at,
                    finished_at: crate::clock::now_rfc3339(),
                    ..IterationRecord::default()
                }),
                _ => None,
            };
            return Ok((flow, record));
        }
        let metrics = self.metrics(&state, history, started.elapsed().as_secs_f64())?;
        let feedback = self.feedback(&state, &metrics);
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
        let keep = !matches!(&flow, Flow::Pause(gate, _) if gate != "escalation");
        Ok((flow, keep.then_some(record)))
    }

    pub(crate) fn memory_scope(&self) -> String {
        if self.plan.memory.kind == "persistent" {
            format!("loop:{}", self.plan.loop_name)
        } else {
            format!("run:{}", self.run_id)
        }
    }

    pub(crate) fn commit_marker(&mut self, i: u32, step: &str) -> Result<(), String> {
        let record = crate::store::StepRecord {
            status: "done".into(),
            result: json!(null),
            cost_usd: 0.0,
            tokens: 0,
            attempts: 0,
            seconds: 0.0,
        };
        self.store.record_step(&self.run_id, i, step, &record)
    }
}

/// Refuse plans that would make the interpreter misbehave (hand-written or
/// edited plan files): counts that must be at least 1, known names.
pub fn validate_plan(plan: &Plan) -> Result<(), String> {
    let mut problems = Vec::new();
    for r in &plan.termination.success {
        if r.consecutive == 0 {
            problems.push(format!("success rule on `{}`: consecutive must be at least 1", r.metric));
        }
    }
    for r in &plan.termination.failure {
        if r.consecutive == 0 {
            problems.push(format!("failure rule `{}`: consecutive must be at least 1", r.kind));
        }
    }
    for r in &plan.termination.stall {
        if r.window_iterations == 0 {
            problems.push(format!("stall rule on `{}`: window_iterations must be at least 1", r.metric));
        }
    }
    let workers: Vec<&str> = plan.workers.iter().map(|w| w.id.as_str()).collect();
    for group in &plan.groups {
        for id in group {
            if !workers.contains(&id.as_str()) {
                problems.push(format!("group names unknown worker `{id}`"));
            }
        }
    }
    if plan.groups.iter().map(Vec::len).sum::<usize>() != plan.workers.len() {
        problems.push("every worker must be in exactly one group".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("invalid plan: {}", problems.join("; ")))
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
