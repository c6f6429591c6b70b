//! A plan is re-validated before the interpreter runs it, whatever its
//! origin (a compiled spec, a stored run): what would make the interpreter
//! misbehave is refused.

use loopc_plan::Plan;

/// Refuse plans that would make the interpreter misbehave (hand-written or
/// edited plan files): counts that must be at least 1, known names.
pub fn validate_plan(plan: &Plan) -> Result<(), crate::Error> {
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
    if !is_bounded(plan) {
        problems.push(
            "nothing bounds the loop: no max_iterations rule that halts or escalates, no halting stall rule on a bounded metric, no optimizer step budget that every iteration uses, and no halting cost cap (what `loopc check` reports as L401)"
                .into(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::InvalidPlan(problems))
    }
}

/// The plan's side of `loopc check`'s L401 (docs/semantics.md §6): some
/// bound that the interpreter enforces ends the loop.
fn is_bounded(plan: &Plan) -> bool {
    use loopc_plan::{Action, Endpoint, FailureKind};
    let t = &plan.termination;
    let stops = |a: Action| a != Action::RetryIteration;
    let iterations = t
        .failure
        .iter()
        .any(|f| f.kind == FailureKind::MaxIterations && stops(f.action) && f.value.is_some_and(|v| v >= 1.0));
    let stall = t.stall.iter().any(|r| {
        let unit = plan.metrics.iter().find(|m| m.name == r.metric).map(|m| m.unit.as_str());
        stops(r.action) && r.window_iterations >= 1 && r.min_improvement > 0.0 && matches!(unit, Some("ratio" | "percent"))
    });
    let retries = t
        .failure
        .iter()
        .map(|f| f.action)
        .chain(t.stall.iter().map(|r| r.action))
        .any(|a| !stops(a));
    let optimizer = !retries
        && plan.optimizer.max_steps >= 1
        && plan
            .feedback
            .iter()
            .any(|f| f.when.is_none() && f.destination == Endpoint::Optimizer);
    let models = !plan.workers.is_empty()
        || plan
            .evaluators
            .iter()
            .any(|e| matches!(e.kind, loopc_plan::EvaluatorKind::LlmRubric { .. }));
    let halts = plan.budgets.on_exceed == loopc_plan::BudgetAction::Halt
        || t.failure.iter().any(|f| f.kind == FailureKind::CostExceeded && stops(f.action));
    let cost = models && halts && plan.budgets.cumulative_usd.is_finite();
    iterations || stall || optimizer || cost
}
