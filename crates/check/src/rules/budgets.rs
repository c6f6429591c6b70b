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
    /// Warns when the workers' `cost_budget_usd` add up to more than
    /// `per_iteration_usd`.
    ///
    /// ## Why
    /// Every worker runs every iteration; if each may spend its budget, the
    /// iteration cap stops the iteration half-way through its workers. Either
    /// the worker budgets are loose upper bounds (then lower them) or the
    /// iteration cap is too tight.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [{id: a, cost_budget_usd: 0.8, ...}, {id: b, cost_budget_usd: 0.8, ...}]
    /// cost_limits: {per_iteration_usd: 1.0, ...}   # L416: 1.6 > 1.0
    /// ```
    pub struct WorkerBudgets { code: "L416", name: "worker-budgets", group: "readiness", severity: Warning, summary: "Workers' `cost_budget_usd` add up to more than `per_iteration_usd`." }
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

impl Rule for WorkerBudgets {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(limits) = &cx.spec.cost_limits else { return };
        let Some(per) = &limits.per_iteration_usd else { return };
        let budgets: Vec<_> = cx.spec.workers.iter().filter_map(|w| w.cost_budget_usd.as_ref()).collect();
        let sum: f64 = budgets.iter().map(|b| b.value).sum();
        if sum > per.value + 1e-9 {
            let mut d = cx
                .report(
                    &WorkerBudgets,
                    per.span,
                    format!(
                        "workers' cost_budget_usd add up to {}, above per_iteration_usd ({})",
                        number((sum * 1e6).round() / 1e6),
                        number(per.value)
                    ),
                )
                .with_label("the iteration cap is smaller than its workers' budgets")
                .with_help("raise per_iteration_usd to at least the sum of the workers' budgets, or lower those");
            for b in budgets {
                d = d.with_secondary(b.span, "worker budget");
            }
            out.push(d);
        }
    }
}
