//! The run's wall-clock limit (semantics §5, `timeout`): the spec's
//! `timeout` failure rule and the bindings' `[limits] timeout_seconds`.
//! Every step's timeout is cut to the time the run has left, so a step
//! still running at the deadline is killed there (its process group, by the
//! executor that started it) rather than at the end of the iteration; after
//! the deadline nothing new starts and the run stops with a `timeout` reason.

use std::time::{Duration, Instant};

use loopc_plan::{Action, FailureKind};

use super::steps::IterationState;
use super::{Flow, Runner};
use crate::store::Status;

/// Which limit the deadline is.
#[derive(Clone, Copy)]
enum WallLimit {
    /// The spec's `timeout` failure rule, with its action.
    Rule(Action),
    /// `[limits] timeout_seconds` in the bindings: always a halt.
    Bindings,
}

impl Runner<'_> {
    /// The earliest wall-clock limit, in seconds from the run's start.
    fn wall_limit(&self) -> Option<(f64, WallLimit)> {
        let rules = self
            .plan
            .termination
            .failure
            .iter()
            .filter(|f| f.kind == FailureKind::Timeout)
            .filter_map(|f| Some((f.value?, WallLimit::Rule(f.action))));
        let bindings = self
            .executors
            .bindings
            .limits
            .timeout_seconds
            .map(|s| (s as f64, WallLimit::Bindings));
        rules
            .chain(bindings)
            .filter(|(s, _)| s.is_finite())
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Seconds since the run started (time waiting for a person included).
    fn elapsed_seconds(&self) -> f64 {
        (crate::clock::unix_ms() - self.run_started_ms) as f64 / 1000.0
    }

    /// The time the run has left, when it has a wall-clock limit.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let (limit, _) = self.wall_limit()?;
        Some(Duration::from_secs_f64((limit - self.elapsed_seconds()).max(0.0)))
    }

    /// The run's deadline as an instant of this process.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.remaining().map(|left| Instant::now() + left)
    }

    /// A step's timeout cut to the time the run has left.
    pub(crate) fn cap_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        match (timeout, self.remaining()) {
            (Some(t), Some(left)) => Some(t.min(left)),
            (t, left) => t.or(left),
        }
    }

    /// Stop the run when its wall-clock limit has passed: a `timeout` rule's
    /// `halt` or `escalate_human` applies (`retry_iteration` halts: time
    /// spent does not come back), the bindings' limit halts.
    pub(crate) fn check_deadline(&mut self, state: &IterationState) -> Result<Option<Flow>, String> {
        let Some((limit, source)) = self.wall_limit() else {
            return Ok(None);
        };
        let elapsed = self.elapsed_seconds();
        // The clocks are read to the millisecond: a step killed at the deadline has reached it.
        if elapsed + 0.005 < limit {
            return Ok(None);
        }
        let what = match source {
            WallLimit::Rule(_) => format!("ran {elapsed:.1}s, limit {limit}s"),
            WallLimit::Bindings => format!("ran {elapsed:.1}s, over [limits] timeout_seconds {limit}"),
        };
        self.event(
            state.i,
            "timeout",
            &format!("{what}: the running step was stopped and nothing more starts"),
        )?;
        let reason = format!("timeout: {what}");
        Ok(Some(match source {
            WallLimit::Rule(Action::EscalateHuman) => Flow::Pause(crate::gate::Gate::Escalation, reason),
            _ => Flow::Stop(Status::Halted, reason),
        }))
    }

    /// The checks after every step: spend, tokens, and the wall clock.
    pub(crate) fn after_step(&mut self, state: &IterationState) -> Result<Option<Flow>, String> {
        if let Some(flow) = self.check_spend(state)? {
            return Ok(Some(flow));
        }
        self.check_deadline(state)
    }
}
