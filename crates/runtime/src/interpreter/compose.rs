//! Compositions (LSS 1.1, docs/semantics.md §10). In each iteration of a
//! composing run its children run first, each as a run of its own — a
//! sub-run linked to this run, this iteration and the child, with its own
//! iterations, steps, checkpoints and trace — to its own end; then the
//! composing loop's workers and evaluators see what they did (`children`
//! in their payload).
//!
//! A child that ended is committed as the step `children.<id>` of the
//! composing run, with the child's spend: a resume never runs a finished
//! child again, and the composing run's budgets count what its children
//! spent. A child that has not ended is continued from its own checkpoints
//! when the composing run is.

use std::collections::HashMap;

use loopc_plan::{AdapterPlan, ChildPlan, ChildRole, CompositionKind, CompositionPlan, ValueRef};
use serde_json::{json, Map, Value};

use super::steps::IterationState;
use super::{Flow, Runner};
use crate::bindings::Bindings;
use crate::executor::{Executor, Invocation, StepRef};
use crate::store::{ParentLink, Status, StepRecord, StepStatus, Store};
use crate::workspace::{Kind, Repository, Source};

/// The inner children an outer child's runner runs in each of its own
/// iterations (a `nested` composition), after its evaluators.
#[derive(Clone, Debug)]
pub(crate) struct Nested {
    /// The outer child's id (what triggers and adapters name).
    pub outer: String,
    pub inner: Vec<ChildPlan>,
    pub adapters: Vec<AdapterPlan>,
    /// The composing run's bindings: `[children.*]` and `[transforms.*]`.
    pub bindings: Bindings,
}

/// How one child came out in this iteration.
enum ChildEnd {
    /// It ended: its outcome (the `children.<id>` step's result).
    Ended(Value),
    /// It waits for a person, or was stopped: the composing run waits too.
    Waits(Flow),
}

/// Where a child works.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A worktree branched off the composing run's HEAD, merged back
    /// (fast-forward) when the child ended: stages and the outer child.
    Merged,
    /// A worktree (or copy) of its own, kept for review: parallel branches.
    Own,
    /// The composing run's directory as it is: inner children, which run
    /// in the middle of an outer iteration.
    Shared,
}

/// A child ready to execute: its key, run id and bindings.
struct Ready {
    key: String,
    step: String,
    run_id: String,
    bindings: Bindings,
    place: Place,
}

impl Runner<'_> {
    /// Before the workers of iteration `state.i`: the composition's children
    /// (semantics §10). `Some` when the iteration cannot go on (a child
    /// waits for a person); otherwise `state.children` says what they did.
    pub(crate) fn run_composition(
        &mut self,
        state: &mut IterationState,
        history: &[crate::store::IterationRecord],
    ) -> Result<Option<Flow>, String> {
        let Some(comp) = self.plan.composition.clone() else {
            return Ok(None);
        };
        // What each child gave in the previous iteration: an adapter from a
        // later child to an earlier one (a gate that sends work back) reads it.
        let previous = match history.last() {
            Some(last) => self.child_outcomes(last.iteration)?,
            None => HashMap::new(),
        };
        let mut ended: Vec<(String, Value)> = Vec::new();
        match comp.kind {
            CompositionKind::Sequential | CompositionKind::Nested => {
                let order: Vec<&ChildPlan> = comp
                    .children
                    .iter()
                    .filter(|c| matches!(c.role, ChildRole::Stage | ChildRole::Outer))
                    .collect();
                for child in order {
                    self.check_stop()?;
                    let now: HashMap<String, Value> = ended.iter().cloned().collect();
                    let inputs = self.child_inputs(child, &comp.adapters, &|c| now.get(c).or_else(|| previous.get(c)).cloned());
                    let nested = (child.role == ChildRole::Outer).then(|| Nested {
                        outer: child.id.clone(),
                        inner: comp.children.iter().filter(|c| c.role == ChildRole::Inner).cloned().collect(),
                        adapters: comp.adapters.clone(),
                        bindings: self.executors.bindings.clone(),
                    });
                    let shares = self.budget_share(state, 1);
                    let link = self.link(state.i, &child.id);
                    match self.run_child(state, child, &link, inputs, Place::Merged, shares, nested)? {
                        ChildEnd::Waits(flow) => return Ok(Some(flow)),
                        ChildEnd::Ended(outcome) => {
                            let passed = outcome["passed"] == json!(true);
                            ended.push((child.id.clone(), outcome));
                            // A stage that did not succeed ends the chain (semantics §10).
                            if !passed {
                                break;
                            }
                        }
                    }
                }
            }
            CompositionKind::Parallel => {
                if let Some(flow) = self.run_branches(state, &comp, &previous, &mut ended)? {
                    return Ok(Some(flow));
                }
            }
        }
        state.children = summary(&comp, &ended);
        let passed = state.children["passed"] == json!(true);
        let text = state.children["summary"].as_str().unwrap_or_default().to_owned();
        self.say(&format!("  children: {} — {text}", if passed { "passed" } else { "failed" }));
        Ok(None)
    }

    /// After an outer child's evaluators (its runner was given [`Nested`]):
    /// the inner children whose trigger holds, each run to its end. One that
    /// does not succeed vetoes this outer iteration's success, and what it
    /// found reaches the outer loop's workers in the next iteration.
    pub(crate) fn run_inner(&mut self, state: &mut IterationState) -> Result<Option<Flow>, String> {
        let Some(nested) = self.nested.clone() else {
            return Ok(None);
        };
        let mut ended: Vec<(String, Value)> = Vec::new();
        for inner in &nested.inner {
            self.check_stop()?;
            let live = self.live_outcome(state);
            let lookup = |path: &[String]| -> Value {
                match path {
                    [c, id, rest @ ..] if c == "children" && *id == nested.outer => pick(&live, rest),
                    [c, id, rest @ ..] if c == "children" => {
                        ended.iter().find(|(k, _)| k == id).map_or(Value::Null, |(_, o)| pick(o, rest))
                    }
                    _ => Value::Null,
                }
            };
            if let Some(trigger) = &inner.trigger {
                if !loopc_plan::expr::truthy(&trigger.eval(&lookup)) {
                    self.say(&format!(
                        "  inner {}: not triggered ({})",
                        inner.id,
                        inner.trigger_text.as_deref().unwrap_or("trigger")
                    ));
                    continue;
                }
            }
            let now: HashMap<String, Value> = ended.iter().cloned().collect();
            let inputs = self.child_inputs(inner, &nested.adapters, &|c| {
                if c == nested.outer {
                    Some(live.clone())
                } else {
                    now.get(c).cloned()
                }
            });
            let link = self.link(state.i, &format!("{}@{}", inner.id, state.i));
            let shares = self.budget_share(state, 1);
            match self.run_child(state, inner, &link, inputs, Place::Shared, shares, None)? {
                ChildEnd::Waits(flow) => return Ok(Some(flow)),
                ChildEnd::Ended(outcome) => {
                    if outcome["passed"] != json!(true) {
                        state.vetoes.push(format!(
                            "children.{} ({}): {}",
                            inner.id,
                            outcome["status"].as_str().unwrap_or("failed"),
                            outcome["reason"].as_str().unwrap_or_default()
                        ));
                    }
                    state.inner_feedback.push(json!({
                        "channel": "children",
                        "from": format!("children.{}", inner.id),
                        "passed": outcome["passed"],
                        "status": outcome["status"],
                        "reason": outcome["reason"],
                        "outputs": outcome["outputs"],
                    }));
                    ended.push((inner.id.clone(), outcome));
                }
            }
        }
        Ok(None)
    }

    /// What an outer child has done so far this iteration, in the shape of
    /// an ended child's outcome (for triggers and adapters).
    fn live_outcome(&self, state: &IterationState) -> Value {
        let mut outputs = Map::new();
        for w in &self.plan.workers {
            if let Some(o) = state.outputs.get(&w.id) {
                outputs.insert(w.output_name.clone(), o.clone());
            }
        }
        let evaluators: Map<String, Value> = state.verdicts.iter().map(|(id, v)| (id.clone(), verdict_view(v))).collect();
        json!({"outputs": outputs, "evaluators": evaluators, "iteration": state.i})
    }

    fn link(&self, iteration: u32, key: &str) -> ParentLink {
        ParentLink {
            parent: self.run_id.clone(),
            iteration,
            key: key.to_owned(),
        }
    }

    /// The cost caps for each of `n` children started now: the composing
    /// run's budgets less what it spent (run and iteration), split evenly.
    fn budget_share(&self, state: &IterationState, n: usize) -> (f64, f64) {
        let spent = self.store.spend(&self.run_id).map_or(0.0, |s| s.0);
        let b = &self.plan.budgets;
        let run_left = (b.cumulative_usd - spent).max(0.0);
        let iteration_left = (b.per_iteration_usd - state.cost_usd).max(0.0);
        let n = n.max(1) as f64;
        (run_left / n, iteration_left / n)
    }

    /// The outcomes of the children that ended in iteration `i`, by child id.
    fn child_outcomes(&self, i: u32) -> Result<HashMap<String, Value>, String> {
        let Some(comp) = &self.plan.composition else {
            return Ok(HashMap::new());
        };
        let mut out = HashMap::new();
        for c in &comp.children {
            if let Some(done) = self.store.step(&self.run_id, i, &format!("children.{}", c.id))? {
                out.insert(c.id.clone(), done.result);
            }
        }
        Ok(out)
    }

    /// A child's inputs: the composing run's inputs it declares by name,
    /// then the adapters to it (`outcome_of` finds another child's outcome).
    /// `Err` says why the child cannot start.
    fn child_inputs(
        &mut self,
        child: &ChildPlan,
        adapters: &[AdapterPlan],
        outcome_of: &dyn Fn(&str) -> Option<Value>,
    ) -> Result<Map<String, Value>, String> {
        let mut inputs = Map::new();
        for decl in &child.plan.inputs {
            if let Some(v) = self.inputs.get(&decl.name) {
                inputs.insert(decl.name.clone(), v.clone());
            }
        }
        for a in adapters.iter().filter(|a| a.to_child == child.id) {
            let value = match &a.from {
                ValueRef::Input { name } => self.inputs.get(name).cloned(),
                ValueRef::Output { child, name } => outcome_of(child).and_then(|o| o["outputs"].get(name).cloned()),
                ValueRef::Verdict { child, evaluator, field } => outcome_of(child).and_then(|o| {
                    let v = o["evaluators"].get(evaluator)?.clone();
                    match field {
                        Some(f) => v.get(f).cloned(),
                        None => Some(v),
                    }
                }),
            };
            // Not there (yet): the first pass of a loop-back, or a child that
            // did not produce it; the child's own input rules decide.
            let Some(value) = value.filter(|v| !v.is_null()) else { continue };
            let value = match &a.transform {
                Some(name) => self.transform(name, a, value)?,
                None => value,
            };
            inputs.insert(a.to_input.clone(), value);
        }
        crate::inputs::validate(&child.plan.inputs, inputs).map_err(|errors| errors.join("; "))
    }

    /// Apply the transform `name` of the bindings to an adapter's value.
    fn transform(&mut self, name: &str, adapter: &AdapterPlan, value: Value) -> Result<Value, String> {
        let bindings = self.nested.as_ref().map_or(&self.executors.bindings, |n| &n.bindings);
        let config = bindings.transforms.get(name).cloned().ok_or_else(|| {
            format!(
                "adapter {} → children.{}.inputs.{}: no transform `{name}` in the bindings (add [transforms.{name}] argv = [...])",
                adapter.from_text, adapter.to_child, adapter.to_input
            )
        })?;
        self.guard
            .check_command(&config.argv)
            .map_err(|e| format!("transform `{name}`: {e}"))?;
        let mut argv = config.argv.clone();
        if let Some(first) = argv.first_mut() {
            if first.contains('/') && !std::path::Path::new(first.as_str()).is_absolute() {
                *first = bindings.path(std::path::Path::new(first.as_str())).display().to_string();
            }
        }
        let executor = crate::executor::command::CommandExecutor::new(argv, crate::bindings::Verdict::ExitCode, Default::default())
            .map_err(|e| format!("transform `{name}`: {e}"))?;
        let invocation = Invocation {
            run_id: self.run_id.clone(),
            iteration: 0,
            step: StepRef::Worker(format!("transform.{name}")),
            role: format!("transform {name} of {}", adapter.from_text),
            model: None,
            payload: json!({
                "transform": name,
                "from": adapter.from_text,
                "to": format!("children.{}.inputs.{}", adapter.to_child, adapter.to_input),
                "value": value,
            }),
            timeout: Some(std::time::Duration::from_secs(config.timeout_seconds.unwrap_or(60))),
            workspace: self.workspace.clone(),
            processes: Some(self.processes.clone()),
            isolation: Some(self.isolation.clone()),
        };
        let outcome = executor
            .invoke(&invocation)
            .map_err(|e| format!("transform `{name}` of {}: {e}", adapter.from_text))?;
        // Plain text that is JSON is the JSON value.
        Ok(match outcome.output {
            Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            other => other,
        })
    }

    /// The bindings a child runs with: its `[children.<id>] bindings` file,
    /// else the composing run's own.
    fn child_bindings(&self, id: &str) -> Result<(Bindings, String), String> {
        let own = self.nested.as_ref().map_or(&self.executors.bindings, |n| &n.bindings);
        match own.children.get(id).and_then(|c| c.bindings.as_ref()) {
            Some(file) => {
                let path = own.path(file);
                let b = Bindings::load(&path).map_err(|e| format!("child `{id}`: {e}"))?;
                Ok((b, path.display().to_string()))
            }
            None => Ok((
                own.clone(),
                own.source.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            )),
        }
    }

    /// What a child's workspace is made from.
    fn child_source(&self, place: Place) -> Result<Source, String> {
        let shared = Source {
            kind: Kind::InPlace,
            root: self.workspace.clone(),
            repository: None,
            note: None,
        };
        let Some(ws) = self.ws.as_ref().filter(|_| place != Place::Shared) else {
            return Ok(shared);
        };
        match ws.kind {
            Kind::GitWorktree => {
                let head = crate::workspace::snapshot::head(ws)?;
                let prefix = ws
                    .root
                    .strip_prefix(&ws.path)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok(Source {
                    kind: Kind::GitWorktree,
                    root: self.workspace.clone(),
                    repository: Some(Repository {
                        top: ws.repository.clone(),
                        prefix: if prefix.is_empty() { prefix } else { format!("{prefix}/") },
                        base_ref: ws.branch.clone(),
                        base_commit: head,
                    }),
                    note: None,
                })
            }
            Kind::Copy if place == Place::Own => Ok(Source {
                kind: Kind::Copy,
                ..shared
            }),
            _ => Ok(shared),
        }
    }

    /// Make the child's run (once: a resume finds it linked), or say why it cannot start.
    fn prepare_child(
        &mut self,
        child: &ChildPlan,
        link: &ParentLink,
        inputs: Result<Map<String, Value>, String>,
        place: Place,
        (run_cap, iteration_cap): (f64, f64),
    ) -> Result<Result<Ready, Value>, String> {
        let step = format!("children.{}", child.id);
        let (bindings, label) = match self.child_bindings(&child.id) {
            Ok(b) => b,
            Err(why) => return Ok(Err(not_started(&why))),
        };
        let mut bindings = bindings;
        // An in-place child works where the composing run works (a worktree
        // or copy of its own remaps the root again, see `for_workspace`).
        bindings.sandbox.root.clone_from(&self.workspace);
        if let Some(id) = self.store.child_run(link)? {
            return Ok(Ok(Ready {
                key: link.key.clone(),
                step,
                run_id: id,
                bindings,
                place,
            }));
        }
        let inputs = match inputs {
            Ok(i) => i,
            Err(why) => return Ok(Err(not_started(&format!("its inputs: {why}")))),
        };
        if run_cap <= 0.0 {
            return Ok(Err(not_started("cost_exceeded: the composing run's cumulative_usd is spent")));
        }
        let mut plan = (*child.plan).clone();
        plan.budgets.cumulative_usd = plan.budgets.cumulative_usd.min(run_cap);
        plan.budgets.per_iteration_usd = plan
            .budgets
            .per_iteration_usd
            .min(iteration_cap.max(0.0))
            .min(plan.budgets.cumulative_usd);
        let source = self.child_source(place)?;
        let row = self.store.run(&self.run_id)?.ok_or("the composing run vanished")?;
        let started = crate::start_linked_run(self.store, &plan, &inputs, &source, (&bindings, &label), &row.options, Some(link));
        // The parent's redactor again (starting a run sets the child's).
        self.store.set_redactor(crate::safety::redactor_for(&self.plan.safety));
        match started {
            Ok(s) => {
                self.event(
                    link.iteration,
                    "child",
                    &format!("{} started as run {} ({})", link.key, s.id, plan.loop_name),
                )?;
                Ok(Ok(Ready {
                    key: link.key.clone(),
                    step,
                    run_id: s.id,
                    bindings,
                    place,
                }))
            }
            Err(e) => Ok(Err(not_started(&e.to_string()))),
        }
    }

    /// Run one child to its end (or until it waits), here in this thread.
    #[allow(clippy::too_many_arguments)]
    fn run_child(
        &mut self,
        state: &mut IterationState,
        child: &ChildPlan,
        link: &ParentLink,
        inputs: Result<Map<String, Value>, String>,
        place: Place,
        caps: (f64, f64),
        nested: Option<Nested>,
    ) -> Result<ChildEnd, String> {
        let step = format!("children.{}", child.id);
        if let Some(done) = self.store.step(&self.run_id, state.i, &step)? {
            self.say(&format!(
                "  child {}: done earlier ({})",
                link.key,
                done.result["status"].as_str().unwrap_or("?")
            ));
            absorb(state, &done);
            return Ok(ChildEnd::Ended(done.result));
        }
        let ready = match self.prepare_child(child, link, inputs, place, caps)? {
            Ok(r) => r,
            Err(outcome) => return self.commit_child(state, &step, &link.key, outcome, 0.0, 0).map(ChildEnd::Ended),
        };
        self.say(&format!("  child {}: run {}", ready.key, ready.run_id));
        let executed = {
            let store: &mut Store = &mut *self.store;
            let observer = &mut *self.observer;
            let key = ready.key.clone();
            let mut say = |line: &str| observer(&format!("  │ {key}: {}", line.trim_start()));
            crate::Runner::new(store, &ready.run_id, ready.bindings.clone(), &mut say).and_then(|mut r| {
                r.nested = nested;
                r.execute()
            })
        };
        self.store.set_redactor(crate::safety::redactor_for(&self.plan.safety));
        self.finish_child(state, &ready, executed)
    }

    /// After a child's execution: stop when this run was asked to, wait
    /// when the child waits, else commit its outcome.
    fn finish_child(
        &mut self,
        state: &mut IterationState,
        ready: &Ready,
        executed: Result<super::Report, crate::Error>,
    ) -> Result<ChildEnd, String> {
        // A cancel, pause or signal of this run reached the child and stopped
        // it; this run stops the same way (the child resumes with it).
        self.check_stop()?;
        let report = executed.map_err(|e| format!("child `{}` (run {}): {e}", ready.key, ready.run_id))?;
        match report.status {
            Status::AwaitingHuman => Ok(ChildEnd::Waits(Flow::Pause(
                crate::gate::Gate::Child(ready.key.clone()),
                format!(
                    "child `{}` (run {}) waits for a person: {}",
                    ready.key,
                    ready.run_id,
                    report.needs_human.as_deref().unwrap_or(&report.reason)
                ),
            ))),
            s if s.is_final() => {
                if ready.place == Place::Merged {
                    self.merge_back(&ready.run_id)?;
                }
                let outcome = outcome_of(self.store, &ready.run_id)?;
                self.commit_child(state, &ready.step, &ready.key, outcome, report.cost_usd, report.tokens)
                    .map(ChildEnd::Ended)
            }
            other => Err(format!(
                "child `{}` (run {}) stopped as {}: {}",
                ready.key,
                ready.run_id,
                other.as_str(),
                report.reason
            )),
        }
    }

    /// Bring a stage's work into this run's worktree: its branch, which
    /// started at this run's HEAD, fast-forwarded onto it.
    fn merge_back(&mut self, child_id: &str) -> Result<(), String> {
        let (Some(ws), Some(child_ws)) = (self.ws.clone(), self.store.workspace(child_id)?) else {
            return Ok(());
        };
        if !ws.is_worktree() || !child_ws.is_worktree() {
            return Ok(());
        }
        crate::workspace::git::run(ws.at(), &["merge", "--ff-only", "--quiet", &child_ws.branch])
            .map_err(|e| format!("bringing child run {child_id}'s branch {} into {}: {e}", child_ws.branch, ws.branch))?;
        Ok(())
    }

    /// Commit a child's outcome as this run's step (with its spend).
    fn commit_child(
        &mut self,
        state: &mut IterationState,
        step: &str,
        key: &str,
        outcome: Value,
        cost_usd: f64,
        tokens: u64,
    ) -> Result<Value, String> {
        let mut record = StepRecord {
            status: StepStatus::Done,
            result: outcome,
            cost_usd,
            tokens,
            attempts: 1,
            seconds: 0.0,
        };
        self.store.record_step(&self.run_id, state.i, step, &mut record)?;
        absorb(state, &record);
        let r = &record.result;
        self.event(
            state.i,
            "child",
            &format!(
                "{key}: {}{} (run {}, {} iterations, ${:.4})",
                r["status"].as_str().unwrap_or("?"),
                r["reason"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(" — {s}"))
                    .unwrap_or_default(),
                r["run_id"].as_str().unwrap_or("none"),
                r["iterations"],
                cost_usd
            ),
        )?;
        Ok(record.result)
    }

    /// The branches of a parallel composition, at most `--jobs` at once,
    /// each in a thread with its own connection to the store.
    fn run_branches(
        &mut self,
        state: &mut IterationState,
        comp: &CompositionPlan,
        previous: &HashMap<String, Value>,
        ended: &mut Vec<(String, Value)>,
    ) -> Result<Option<Flow>, String> {
        let branches: Vec<&ChildPlan> = comp.children.iter().filter(|c| c.role == ChildRole::Branch).collect();
        let mut ready = Vec::new();
        let fresh = branches
            .iter()
            .filter(|c| {
                let link = self.link(state.i, &c.id);
                self.store.child_run(&link).ok().flatten().is_none()
                    && self
                        .store
                        .step(&self.run_id, state.i, &format!("children.{}", c.id))
                        .ok()
                        .flatten()
                        .is_none()
            })
            .count();
        let caps = self.budget_share(state, fresh);
        for child in &branches {
            let step = format!("children.{}", child.id);
            if let Some(done) = self.store.step(&self.run_id, state.i, &step)? {
                absorb(state, &done);
                ended.push((child.id.clone(), done.result));
                continue;
            }
            let inputs = self.child_inputs(child, &comp.adapters, &|c| previous.get(c).cloned());
            let link = self.link(state.i, &child.id);
            match self.prepare_child(child, &link, inputs, Place::Own, caps)? {
                Ok(r) => ready.push(r),
                Err(outcome) => {
                    let outcome = self.commit_child(state, &step, &child.id, outcome, 0.0, 0)?;
                    ended.push((child.id.clone(), outcome));
                }
            }
        }
        let jobs = match self.store.run(&self.run_id)?.map_or(0, |r| r.options.jobs) {
            0 => ready.len(),
            n => n as usize,
        }
        .max(1);
        let executed = execute_concurrently(self.store.path(), &ready, jobs, &mut *self.observer);
        let mut wait = None;
        for (r, result) in ready.iter().zip(executed) {
            match self.finish_child(state, r, result)? {
                ChildEnd::Ended(outcome) => ended.push((r.key.clone(), outcome)),
                ChildEnd::Waits(flow) => wait = wait.or(Some(flow)),
            }
        }
        // In the spec's order, whatever order they ended in.
        ended.sort_by_key(|(k, _)| comp.children.iter().position(|c| &c.id == k));
        Ok(wait)
    }
}

/// Execute the ready children in threads (at most `jobs` at once), each with
/// its own store connection; their progress lines reach `observer` here.
fn execute_concurrently(
    store_path: &std::path::Path,
    ready: &[Ready],
    jobs: usize,
    observer: &mut dyn FnMut(&str),
) -> Vec<Result<super::Report, crate::Error>> {
    let state_dir = store_path.parent().unwrap_or(std::path::Path::new(".")).to_path_buf();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<super::Report, crate::Error>>>> =
        ready.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(ready.len()) {
            let tx = tx.clone();
            let (next, results, state_dir) = (&next, &results, &state_dir);
            scope.spawn(move || loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(r) = ready.get(n) else { break };
                let result = Store::open(state_dir).map_err(crate::Error::from).and_then(|mut store| {
                    let key = r.key.clone();
                    let tx = tx.clone();
                    let mut say = move |line: &str| {
                        let _ = tx.send(format!("  │ {key}: {}", line.trim_start()));
                    };
                    let mut runner = crate::Runner::new(&mut store, &r.run_id, r.bindings.clone(), &mut say)?;
                    runner.execute()
                });
                *results[n].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(result);
            });
        }
        drop(tx);
        for line in rx {
            observer(&line);
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or_else(|| Err(crate::Error::Run("a branch's thread ended without a result".into())))
        })
        .collect()
}

/// Fold a committed child step into the iteration's spend.
fn absorb(state: &mut IterationState, record: &StepRecord) {
    state.cost_usd += record.cost_usd;
    state.tokens += record.tokens;
}

/// The outcome of a child that could not start.
fn not_started(why: &str) -> Value {
    json!({
        "run_id": Value::Null,
        "status": "failed",
        "reason": format!("not started: {why}"),
        "passed": false,
        "iterations": 0,
        "cost_usd": 0.0,
        "outputs": {},
        "evaluators": {},
    })
}

/// What the composing run keeps of an ended child: its status and reason,
/// its spend, and each output (by name) and evaluator verdict of its last
/// iteration that produced one.
fn outcome_of(store: &Store, run_id: &str) -> Result<Value, String> {
    let row = store.run(run_id)?.ok_or_else(|| format!("child run {run_id} vanished"))?;
    let plan = row.plan()?;
    let mut outputs = Map::new();
    let mut evaluators = Map::new();
    for (_, step, record) in store.steps_of(run_id)? {
        if record.status != StepStatus::Done {
            continue;
        }
        if let Some(id) = step.strip_prefix("workers.") {
            if let Some(w) = plan.workers.iter().find(|w| w.id == id) {
                outputs.insert(w.output_name.clone(), record.result["output"].clone());
            }
        } else if let Some(id) = step.strip_prefix("evaluators.") {
            evaluators.insert(id.to_owned(), verdict_view(&record.result));
        }
    }
    let branch = store.workspace(run_id)?.filter(|w| w.is_worktree()).map(|w| w.branch);
    Ok(json!({
        "run_id": run_id,
        "loop_name": row.loop_name,
        "status": row.status.as_str(),
        "reason": row.reason,
        "passed": row.status == Status::Succeeded,
        "iterations": row.iteration,
        "cost_usd": row.cost_usd,
        "outputs": outputs,
        "evaluators": evaluators,
        "branch": branch,
    }))
}

/// A verdict as triggers and adapters read it: with `failed` beside `passed`.
fn verdict_view(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("prompt");
        let passed = m.get("passed") == Some(&json!(true));
        m.insert("failed".into(), json!(!passed));
    }
    v
}

/// `outputs.<name>` / `evaluators.<id>.<field>` inside an outcome.
fn pick(outcome: &Value, path: &[String]) -> Value {
    path.iter()
        .try_fold(outcome, |v, k| v.get(k.as_str()))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The `children` the composing loop's workers and evaluators see.
fn summary(comp: &CompositionPlan, ended: &[(String, Value)]) -> Value {
    let succeeded = ended.iter().filter(|(_, o)| o["passed"] == json!(true)).count();
    let passed = match comp.kind {
        CompositionKind::Sequential | CompositionKind::Nested => {
            let expected = comp
                .children
                .iter()
                .filter(|c| matches!(c.role, ChildRole::Stage | ChildRole::Outer))
                .count();
            succeeded == expected && ended.len() == expected
        }
        CompositionKind::Parallel => {
            let n = comp.children.iter().filter(|c| c.role == ChildRole::Branch).count();
            let needed = comp.merge.as_ref().map_or(n, |m| m.needed(n));
            succeeded >= needed
        }
    };
    let text: Vec<String> = ended
        .iter()
        .map(|(k, o)| {
            let reason = o["reason"].as_str().filter(|r| !r.is_empty());
            format!(
                "{k}: {}{}",
                o["status"].as_str().unwrap_or("?"),
                reason.map(|r| format!(" ({r})")).unwrap_or_default()
            )
        })
        .collect();
    let children: Map<String, Value> = ended.iter().cloned().collect();
    json!({
        "kind": match comp.kind {
            CompositionKind::Sequential => "sequential",
            CompositionKind::Parallel => "parallel",
            CompositionKind::Nested => "nested",
        },
        "passed": passed,
        "succeeded": succeeded,
        "summary": text.join("; "),
        "children": children,
    })
}

/// What the inner children of an outer iteration did reaches each of the
/// outer loop's workers in its next iteration (beside the spec's channels).
pub(crate) fn add_inner_feedback(feedback: &mut Value, plan: &loopc_plan::Plan, inner: &[Value]) {
    if inner.is_empty() {
        return;
    }
    let Some(workers) = feedback.get_mut("workers").and_then(Value::as_object_mut) else {
        return;
    };
    for w in &plan.workers {
        let list = workers.entry(w.id.clone()).or_insert_with(|| json!([]));
        if let Value::Array(items) = list {
            items.extend(inner.iter().cloned());
        }
    }
}
