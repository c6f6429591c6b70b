use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::graph::number;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Reports `per_iteration_usd` above `cumulative_usd`.
    ///
    /// ## Why
    /// The smaller cap always wins: a "per-iteration" budget larger than the
    /// whole run's is a promise the runtime will not keep, and usually a
    /// swapped pair of numbers.
    ///
    /// ## Example
    /// ```yaml
    /// cost_limits: {per_iteration_usd: 5, cumulative_usd: 0.5, on_exceed: {action: halt}}   # L415
    /// ```
    pub struct BudgetContradiction { code: "L415", name: "budget-contradiction", group: "readiness", severity: Error, summary: "`per_iteration_usd` is above `cumulative_usd`." }
}

declare_rule! {
    /// ## What it does
    /// Warns when the workers' `cost_budget_usd` add up to more than the
    /// run's `cumulative_usd`.
    ///
    /// ## Why
    /// LSS 1.0 (`cost_limits`): per-worker budgets must not sum to more than
    /// the cumulative cap without a stated reason. Past that sum the run's
    /// cap, not the workers' own budgets, is what stops spending, so the
    /// worker budgets promise more than the loop may spend. If the excess is
    /// deliberate (workers rarely use their whole budget), say so with a
    /// suppression comment that gives the reason.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [{id: a, cost_budget_usd: 3, ...}, {id: b, cost_budget_usd: 3, ...}]
    /// cost_limits: {per_iteration_usd: 1, cumulative_usd: 5, ...}   # L416: 6 > 5
    /// ```
    pub struct WorkerBudgets { code: "L416", name: "worker-budgets", group: "readiness", severity: Warning, summary: "Workers' `cost_budget_usd` add up to more than `cumulative_usd`." }
}

declare_rule! {
    /// ## What it does
    /// Notes when the workers' `cost_budget_usd` add up to more than
    /// `per_iteration_usd` (and not more than `cumulative_usd`, which is
    /// L416).
    ///
    /// ## Why
    /// A worker's budget is not a per-iteration figure in LSS, so this is no
    /// contradiction; but if every worker spends its whole budget in one
    /// iteration, the iteration cap ends that iteration before its last
    /// workers run. An `info`: worth a look when iterations halt on cost.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [{id: a, cost_budget_usd: 0.8, ...}, {id: b, cost_budget_usd: 0.8, ...}]
    /// cost_limits: {per_iteration_usd: 1.0, cumulative_usd: 5, ...}   # L425: 1.6 > 1.0
    /// ```
    pub struct IterationWorkerBudgets { code: "L425", name: "iteration-worker-budgets", group: "readiness", severity: Info, summary: "Workers' `cost_budget_usd` add up to more than `per_iteration_usd`." }
}

impl Rule for BudgetContradiction {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(limits) = &cx.spec.cost_limits else { return };
        if let (Some(per), Some(total)) = (&limits.per_iteration_usd, &limits.cumulative_usd) {
            if per.value > total.value {
                out.push(
                    cx.report(
                        &BudgetContradiction,
                        per.span,
                        format!(
                            "per_iteration_usd ({}) is above cumulative_usd ({})",
                            number(per.value),
                            number(total.value)
                        ),
                    )
                    .with_label("one iteration may cost more than the whole run")
                    .with_secondary(total.span, "the run's cap")
                    .with_help("lower per_iteration_usd or raise cumulative_usd"),
                );
            }
        }
    }
}

/// "workers' cost_budget_usd add up to S, above CAP (N)" at the cap, with
/// each worker budget as a secondary label.
fn over_cap<R: crate::registry::Declared>(
    cx: &Context<'_>,
    rule: &R,
    cap: (&str, &loopc_ir::Sp<f64>),
    (budgets, sum): (Vec<&loopc_ir::Sp<f64>>, f64),
) -> Diagnostic {
    let (name, value) = cap;
    let mut d = cx.report(
        rule,
        value.span,
        format!(
            "workers' cost_budget_usd add up to {}, above {name} ({})",
            number(sum),
            number(value.value)
        ),
    );
    for b in budgets {
        d = d.with_secondary(b.span, "worker budget");
    }
    d
}

/// The workers' budgets and their sum, rounded to what a person wrote
/// (binary floating point adds 0.1 + 0.2 to 0.30000000000000004).
fn worker_budgets<'a>(cx: &'a Context<'_>) -> (Vec<&'a loopc_ir::Sp<f64>>, f64) {
    let budgets: Vec<_> = cx.spec.workers.iter().filter_map(|w| w.cost_budget_usd.as_ref()).collect();
    let sum = budgets.iter().map(|b| b.value).sum::<f64>();
    (budgets, (sum * 1e6).round() / 1e6)
}

impl Rule for WorkerBudgets {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(total) = cx.spec.cost_limits.as_ref().and_then(|l| l.cumulative_usd.as_ref()) else {
            return;
        };
        let budgets = worker_budgets(cx);
        if budgets.1 > total.value + 1e-9 {
            out.push(
                over_cap(cx, &WorkerBudgets, ("cumulative_usd", total), budgets)
                    .with_label("the run's cap is smaller than its workers' budgets")
                    .with_help("raise cumulative_usd to at least the sum of the workers' budgets, lower those, or say why with `# loopc: allow L416 — <reason>`"),
            );
        }
    }
}

impl Rule for IterationWorkerBudgets {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(limits) = &cx.spec.cost_limits else { return };
        let Some(per) = &limits.per_iteration_usd else { return };
        let budgets = worker_budgets(cx);
        let sum = budgets.1;
        let above_total = limits.cumulative_usd.as_ref().is_some_and(|t| sum > t.value + 1e-9);
        if sum > per.value + 1e-9 && !above_total {
            out.push(
                over_cap(cx, &IterationWorkerBudgets, ("per_iteration_usd", per), budgets)
                    .with_label("an iteration in which every worker spends its budget halts on cost")
                    .with_help("if iterations halt on cost, raise per_iteration_usd or lower the workers' budgets"),
            );
        }
    }
}
