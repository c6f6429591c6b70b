//! The interpreter's side of a run's workspace (see [`crate::workspace`]):
//! the diff-scope gate after an iteration's evaluators, the snapshot of
//! each iteration on the run's branch, and the rollback to the last good
//! snapshot — on a halt, on `optimization_strategy.rollback.on_safety_failure`
//! and on `rollback.on_metric_drop`.
//!
//! Both the snapshot and the rollback are steps of the iteration
//! (`workspace.snapshot`, `workspace.rolled_back`): a resumed run neither
//! commits twice nor rolls back twice.

use loopc_plan::CompareOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::steps::IterationState;
use super::{Flow, Runner};
use crate::store::{IterationRecord, Status, StepRecord, StepStatus};
use crate::workspace::snapshot;

/// The step that holds an iteration's snapshot.
pub(crate) const SNAPSHOT: &str = "workspace.snapshot";
/// The marker of a rollback that was carried out.
pub(crate) const ROLLED_BACK: &str = "workspace.rolled_back";

/// An iteration's snapshot, and the rollback it led to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotStep {
    pub commit: String,
    /// The snapshot before it (the last good one), or the base commit.
    pub parent: String,
    pub rollback: Option<Rollback>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rollback {
    /// The snapshot the worktree went back to.
    pub to: String,
    /// Its iteration (0: the base commit).
    pub to_iteration: u32,
    pub reason: String,
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

impl Runner<'_> {
    /// The diff-scope gate: the iteration's real diff in the worktree
    /// against the previous snapshot. A file out of scope is a safety
    /// violation that halts the run (and rolls the iteration back).
    pub(crate) fn check_diff_scope(&mut self, state: &mut IterationState) -> Result<Option<Flow>, String> {
        let (Some(scope), Some(ws)) = (&self.scope, self.ws.as_ref().filter(|w| w.is_worktree())) else {
            return Ok(None);
        };
        let outside = scope.check(&snapshot::changed(ws, self.page_in_worktree.as_deref())?);
        if outside.is_empty() {
            return Ok(None);
        }
        let text = format!("diff_scope (workspace, halt): {outside}");
        state.violations.push(text.clone());
        self.event(state.i, "diff_scope", &text)?;
        Ok(Some(Flow::Stop(Status::Halted, format!("safety_violation: {text}"))))
    }

    /// Before the run goes on: the git locks a killed loopc left in its
    /// worktree are removed (and said), so the next snapshot can be made.
    pub(crate) fn clear_workspace_locks(&mut self) -> Result<(), String> {
        let Some(ws) = self.ws.clone().filter(|w| w.is_worktree()) else {
            return Ok(());
        };
        let iteration = self.store.run(&self.run_id)?.map_or(0, |r| r.iteration);
        for lock in snapshot::clear_stale_locks(&ws) {
            self.event(
                iteration,
                "workspace",
                &format!("removed {} left by an interrupted git command", lock.display()),
            )?;
        }
        Ok(())
    }

    /// After an iteration that ended (not one paused at a gate, which is
    /// redone): commit its snapshot, and roll back when it must be.
    pub(crate) fn settle_workspace(
        &mut self,
        flow: &Flow,
        record: Option<&IterationRecord>,
        state: &IterationState,
        completed: bool,
        history: &[IterationRecord],
    ) -> Result<(), String> {
        let (Some(ws), Some(record)) = (self.ws.clone().filter(|w| w.is_worktree()), record) else {
            return Ok(());
        };
        let i = state.i;
        let snap: SnapshotStep = match self.store.step(&self.run_id, i, SNAPSHOT)? {
            Some(done) => serde_json::from_value(done.result).map_err(|e| format!("stored snapshot of iteration {i}: {e}"))?,
            None => {
                let (subject, body) = self.snapshot_message(flow, state);
                let (commit, parent) = snapshot::commit(&ws, &self.run_id, i, (&subject, &body), self.page_in_worktree.as_deref())?;
                let rollback = self.rollback_reason(flow, record, history, completed)?.map(|reason| Rollback {
                    to_iteration: snapshot::iteration_of(&ws, &self.run_id, &parent).unwrap_or(0),
                    to: parent.clone(),
                    reason,
                });
                let snap = SnapshotStep { commit, parent, rollback };
                let value = serde_json::to_value(&snap).map_err(|e| e.to_string())?;
                self.store
                    .record_step(&self.run_id, i, SNAPSHOT, &mut StepRecord::of(StepStatus::Done, value))?;
                self.say(&format!("  snapshot: {} on {}", short(&snap.commit), ws.branch));
                snap
            }
        };
        let Some(rollback) = &snap.rollback else { return Ok(()) };
        if self.store.step(&self.run_id, i, ROLLED_BACK)?.is_some() {
            return Ok(());
        }
        snapshot::reset(&ws, &rollback.to)?;
        let to = match rollback.to_iteration {
            0 => "the base commit".to_owned(),
            n => format!("iteration {n}'s snapshot"),
        };
        self.event(
            i,
            "rollback",
            &format!(
                "iteration {i} rolled back to {to} {} ({}); its own snapshot {} stays in the reflog of {}",
                short(&rollback.to),
                rollback.reason,
                short(&snap.commit),
                ws.branch
            ),
        )?;
        self.commit_marker(i, ROLLED_BACK)
    }

    /// Subject and body of an iteration's snapshot commit: the loop, the
    /// run, the iteration, the evaluators' verdicts and the outcome.
    fn snapshot_message(&self, flow: &Flow, state: &IterationState) -> (String, String) {
        let subject = format!("loopc: {} run {} iteration {}", self.plan.loop_name, self.run_id, state.i);
        let mut verdicts: Vec<String> = state
            .verdicts
            .iter()
            .map(|(id, v)| {
                let passed = match v.get("passed").and_then(Value::as_bool) {
                    Some(true) => "passed",
                    Some(false) => "failed",
                    None => "no verdict",
                };
                match v.get("score").and_then(Value::as_f64) {
                    Some(score) => format!("{id} {passed} (score {score})"),
                    None => format!("{id} {passed}"),
                }
            })
            .collect();
        verdicts.sort();
        let verdicts = if verdicts.is_empty() {
            "none (no evaluator ran)".to_owned()
        } else {
            verdicts.join("; ")
        };
        let outcome = match flow {
            Flow::Continue => "continue".to_owned(),
            Flow::Stop(status, reason) => format!("{}: {reason}", status.as_str()),
            Flow::Pause(_, reason) => format!("waiting for a person: {reason}"),
        };
        let body = format!("verdicts: {verdicts}\noutcome: {outcome}");
        (subject, self.store.redactor().text(&body).into_owned())
    }

    /// Why the iteration is rolled back, if it is: halted before it
    /// completed, safety violations (on a halt, or with
    /// `rollback.on_safety_failure`), or the primary metric dropping by more
    /// than `rollback.on_metric_drop` against the best so far.
    fn rollback_reason(
        &self,
        flow: &Flow,
        record: &IterationRecord,
        history: &[IterationRecord],
        completed: bool,
    ) -> Result<Option<String>, String> {
        let halted = matches!(flow, Flow::Stop(Status::Halted, _));
        if halted && !completed {
            let why = match flow {
                Flow::Stop(_, reason) => reason.as_str(),
                _ => "",
            };
            return Ok(Some(format!("halted before the iteration completed: {why}")));
        }
        if !record.violations.is_empty() && (halted || self.plan.optimizer.rollback_on_safety_failure) {
            let rule = if halted { "a halt" } else { "rollback.on_safety_failure" };
            return Ok(Some(format!("{rule}: safety violations: {}", record.violations.join("; "))));
        }
        self.metric_drop(record, history)
    }

    fn metric_drop(&self, record: &IterationRecord, history: &[IterationRecord]) -> Result<Option<String>, String> {
        let (Some(threshold), Some(primary)) = (
            self.plan.optimizer.rollback_on_metric_drop,
            self.plan.metrics.iter().find(|m| m.primary),
        ) else {
            return Ok(None);
        };
        let Some(now) = record.metrics.get(&primary.name).and_then(Value::as_f64) else {
            return Ok(None);
        };
        let direction = match self
            .plan
            .termination
            .success
            .iter()
            .find(|s| s.metric == primary.name)
            .map(|s| s.op)
        {
            Some(CompareOp::Lt | CompareOp::Le) => -1.0,
            _ => 1.0,
        };
        // The best of the snapshots still in the tree (rolled-back ones are not).
        let mut best: Option<f64> = None;
        for h in history {
            if self.store.step(&self.run_id, h.iteration, ROLLED_BACK)?.is_some() {
                continue;
            }
            if let Some(v) = h.metrics.get(&primary.name).and_then(Value::as_f64) {
                best = Some(best.map_or(v, |b: f64| if (v - b) * direction > 0.0 { v } else { b }));
            }
        }
        let Some(best) = best else { return Ok(None) };
        let drop = (best - now) * direction;
        if drop <= 1e-12 {
            return Ok(None);
        }
        let fraction = if best.abs() > 1e-12 { drop / best.abs() } else { f64::INFINITY };
        let shown = if fraction.is_finite() {
            format!("{:.0}%", fraction * 100.0)
        } else {
            "all of it".to_owned()
        };
        Ok((fraction > threshold).then(|| {
            format!(
                "rollback.on_metric_drop: {} fell from the best so far {best} to {now}, a drop of {shown}, more than {}%",
                primary.name,
                threshold * 100.0
            )
        }))
    }
}
