//! Starting and executing runs: what a front end (the CLI, a server, a
//! worker pool) calls, so that none of them repeats the runtime's policy.
//!
//! - [`preflight`]: every machine step of a plan resolves to an executor;
//! - [`build_executors`]: every executor the plan uses is built now, so a
//!   bad executor configuration (an unreadable script, an unset API key
//!   variable) fails before any step runs or any money is spent;
//! - [`Launcher::run_many`]: many runs, at most `jobs` at once, the rest
//!   queued; results in the order the runs were given.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use loopc_plan::{EvaluatorKind, Plan};

use crate::bindings::{Bindings, ExecutorConfig};
use crate::executor::StepRef;
use crate::interpreter::{Report, Runner};
use crate::store::Store;
use crate::Error;

/// The machine steps of `plan` that no executor is bound to, as the bindings name them.
pub fn preflight(plan: &Plan, bindings: &Bindings) -> Vec<String> {
    let mut missing = Vec::new();
    for (step, name) in bound_steps(plan, bindings) {
        if name.is_none() {
            missing.push(step);
        }
    }
    missing
}

/// Each machine step of `plan` with the executor it is bound to (`None`: unbound).
fn bound_steps<'a>(plan: &Plan, bindings: &'a Bindings) -> Vec<(String, Option<&'a str>)> {
    let mut out = Vec::new();
    for w in &plan.workers {
        let name = bindings.select(&StepRef::Worker(w.id.clone()), None, Some((&w.model.provider, &w.model.name)));
        out.push((format!("workers.{} (model {}/{})", w.id, w.model.provider, w.model.name), name));
    }
    for e in &plan.evaluators {
        let step = StepRef::Evaluator(e.id.clone());
        let name = match &e.kind {
            EvaluatorKind::Human { .. } => continue,
            EvaluatorKind::Deterministic { implementation } => bindings.select(&step, Some(implementation), None),
            EvaluatorKind::LlmRubric { model, .. } => bindings.select(&step, None, Some((&model.provider, &model.name))),
        };
        out.push((format!("evaluators.{}", e.id), name));
    }
    out
}

/// Build every executor `plan`'s steps are bound to (in a dry run, the
/// scripted ones: the others answer synthetically), and check what only
/// the environment can tell: a model API's key variable must be set.
/// One message per executor that cannot be used.
pub fn build_executors(plan: &Plan, bindings: &Bindings, dry_run: bool) -> Vec<String> {
    let mut names: Vec<&str> = bound_steps(plan, bindings).into_iter().filter_map(|(_, n)| n).collect();
    names.sort();
    names.dedup();
    let mut problems = Vec::new();
    for name in names {
        let Some(config) = bindings.executors.get(name) else { continue };
        if dry_run && !matches!(config, ExecutorConfig::Script(_) | ExecutorConfig::Children) {
            continue;
        }
        if let Err(e) = crate::executor::build(config, bindings) {
            problems.push(format!("executor `{name}`: {e}"));
            continue;
        }
        if let ExecutorConfig::Openai(api) | ExecutorConfig::Anthropic(api) = config {
            if std::env::var_os(&api.api_key_env).is_none_or(|v| v.is_empty()) {
                problems.push(format!(
                    "executor `{name}`: environment variable {} (its API key) is not set",
                    api.api_key_env
                ));
            }
        }
    }
    problems
}

/// Where progress lines go: `(run id, line)`.
pub type Observer = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Executes runs recorded in a state directory.
pub struct Launcher {
    pub state_dir: PathBuf,
    pub bindings: Bindings,
    /// Files of the front end that tools and processes may read but not
    /// change (a plan file, a trace target, `loopc.toml`), beside what the
    /// runtime protects itself.
    pub protected: Vec<PathBuf>,
    pub observer: Observer,
}

impl Launcher {
    /// Execute one run in this thread until it ends or waits for a person.
    pub fn execute(&self, run_id: &str) -> Result<Report, Error> {
        let mut store = Store::open(&self.state_dir)?;
        let observer = self.observer.clone();
        let id = run_id.to_owned();
        let mut say = move |line: &str| observer(&id, line);
        let mut runner = Runner::new(&mut store, run_id, self.bindings.clone(), &mut say)?;
        runner.protect(self.protected.iter().cloned())?;
        runner.execute()
    }

    /// Execute `run_ids`, at most `jobs` at once (the outer loop); the
    /// results come back in the order of `run_ids`.
    pub fn run_many(&self, run_ids: &[String], jobs: usize) -> Vec<(String, Result<Report, Error>)> {
        let queue = Mutex::new(run_ids.iter().cloned().enumerate().collect::<VecDeque<_>>());
        let results = Mutex::new(Vec::with_capacity(run_ids.len()));
        let workers = jobs.max(1).min(run_ids.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let Some((n, id)) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front() else {
                        break;
                    };
                    let result = self.execute(&id);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push((n, id, result));
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|(n, _, _)| *n);
        results.into_iter().map(|(_, id, r)| (id, r)).collect()
    }
}
