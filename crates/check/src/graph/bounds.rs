//! Which bounds the runtime enforces on the loop's cycle (semantics §6).

use loopc_diagnostics::Span;
use loopc_ir::Spec;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundKind {
    MaxIterations,
    Stall,
    OptimizerSteps,
    CostCap,
}

/// One enforced bound.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bound {
    pub kind: BoundKind,
    /// Most iterations this bound allows, when it bounds iterations.
    pub iterations: Option<u64>,
    /// Most money this bound allows, when it bounds spend.
    pub usd: Option<f64>,
    pub detail: String,
    #[serde(skip)]
    pub span: Span,
}

/// All bounds of a loop and what they add up to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoopBounds {
    pub bounds: Vec<Bound>,
    /// The tightest iteration bound, if any bound limits iterations.
    pub max_iterations: Option<u64>,
    /// The run's cost cap, when one halts the run.
    pub max_cost_usd: Option<f64>,
}

impl LoopBounds {
    /// Some bound stops the loop in loopc's runtime.
    pub fn is_bounded(&self) -> bool {
        !self.bounds.is_empty()
    }

    /// The bounds LSS itself declares, which any LSS runtime enforces: all
    /// but the optimizer's step budget. LSS defines `max_steps` as the
    /// optimizer's budget, not the loop's; loopc's runtime ends a run when
    /// it is spent (semantics §6), another runtime need not.
    pub fn declared(&self) -> impl Iterator<Item = &Bound> {
        self.bounds.iter().filter(|b| b.kind != BoundKind::OptimizerSteps)
    }

    /// Some bound the standard declares stops the loop.
    pub fn is_declared_bounded(&self) -> bool {
        self.declared().next().is_some()
    }

    /// Of the bounds the standard declares, only money stops this loop
    /// (F4 `fail.tau_omission`), whatever loopc's optimizer budget adds.
    pub fn money_only(&self) -> bool {
        self.is_declared_bounded() && self.declared().all(|b| b.iterations.is_none())
    }

    /// The optimizer's step budget, when it is the loopc-only bound that
    /// keeps the loop from running unbounded (for messages).
    pub fn optimizer_steps(&self) -> Option<&Bound> {
        self.bounds.iter().find(|b| b.kind == BoundKind::OptimizerSteps)
    }
}

/// Range of a metric by its unit, for units that bound it.
pub fn unit_range(unit: &str) -> Option<(f64, f64)> {
    match unit {
        "ratio" => Some((0.0, 1.0)),
        "percent" => Some((0.0, 100.0)),
        _ => None,
    }
}

fn stops(action: Option<&str>) -> bool {
    matches!(action, None | Some("halt" | "escalate_human"))
}

pub(crate) fn loop_bounds(spec: &Spec) -> LoopBounds {
    let mut bounds = Vec::new();
    if let Some(t) = &spec.termination {
        for c in &t.failure {
            if c.kind.as_deref().map(String::as_str) != Some("max_iterations") || !stops(c.action.as_deref().map(String::as_str)) {
                continue;
            }
            if let Some(v) = c.value.as_ref().filter(|v| v.value >= 1.0) {
                bounds.push(Bound {
                    kind: BoundKind::MaxIterations,
                    iterations: Some(v.value.ceil() as u64),
                    usd: None,
                    detail: format!("max_iterations {}", v.value),
                    span: v.span,
                });
            }
        }
        for c in &t.stall {
            if !stops(c.action.as_deref().map(String::as_str)) {
                continue;
            }
            let (Some(metric), Some(window), Some(min)) = (&c.metric, &c.window_iterations, &c.min_improvement) else {
                continue;
            };
            let range = spec.metric(metric).and_then(|m| m.unit.as_deref()).and_then(|u| unit_range(u));
            if let Some((lo, hi)) = range.filter(|_| min.value > 0.0 && window.value >= 1) {
                // Each window must gain `min_improvement`; after ⌈range/min⌉ + 1
                // windows it cannot, and the first check comes one iteration
                // after the first window.
                let steps = ((hi - lo) / min.value).ceil() as u64 + 1;
                let iterations = (window.value as u64).saturating_mul(steps) + 1;
                bounds.push(Bound {
                    kind: BoundKind::Stall,
                    iterations: Some(iterations),
                    usd: None,
                    detail: format!("stall on {} (+{} per {} iterations)", metric.as_str(), min.value, window.value),
                    span: metric.span,
                });
            }
        }
    }
    // A retried iteration takes no optimizer step, so any retry_iteration
    // rule can keep the optimizer from ever running out.
    let retries = spec.termination.iter().any(|t| {
        t.failure
            .iter()
            .filter_map(|c| c.action.as_deref())
            .chain(t.stall.iter().filter_map(|c| c.action.as_deref()))
            .any(|a| a == "retry_iteration")
    });
    if let (Some(o), false) = (&spec.optimization_strategy, retries) {
        let every_iteration = spec
            .feedback_channels
            .iter()
            .any(|f| f.when.is_none() && f.destination.as_deref().is_some_and(|d| d.starts_with("optimization_strategy")));
        if let (true, Some(steps)) = (every_iteration, o.max_steps.as_ref().filter(|s| s.value >= 1)) {
            bounds.push(Bound {
                kind: BoundKind::OptimizerSteps,
                iterations: Some(steps.value as u64 + 1),
                usd: None,
                detail: format!("optimizer max_steps {}", steps.value),
                span: steps.span,
            });
        }
    }
    let models = spec.workers.iter().any(|w| w.model.is_some()) || spec.evaluators.iter().any(|e| e.model.is_some());
    if let Some(c) = &spec.cost_limits {
        let halts_on_exceed =
            c.on_exceed_action.as_deref().map(String::as_str) == Some("halt")
                || spec.termination.iter().flat_map(|t| &t.failure).any(|f| {
                    f.kind.as_deref().map(String::as_str) == Some("cost_exceeded") && stops(f.action.as_deref().map(String::as_str))
                });
        if let (true, true, Some(cap)) = (models, halts_on_exceed, &c.cumulative_usd) {
            bounds.push(Bound {
                kind: BoundKind::CostCap,
                iterations: None,
                usd: Some(cap.value),
                detail: format!("cumulative_usd {}", cap.value),
                span: cap.span,
            });
        }
    }
    let max_iterations = bounds.iter().filter_map(|b| b.iterations).min();
    let max_cost_usd = bounds.iter().filter_map(|b| b.usd).reduce(f64::min);
    LoopBounds {
        bounds,
        max_iterations,
        max_cost_usd,
    }
}
