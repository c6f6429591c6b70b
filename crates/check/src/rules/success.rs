//! Success must be reachable.

use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::graph::bounds::unit_range;
use crate::graph::number;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Reports a success condition that no value of its metric can meet,
    /// given the range the metric's unit implies: `ratio` in [0, 1],
    /// `percent` in [0, 100], and `count`, `usd`, `seconds`, `tokens` ≥ 0.
    /// For example `gt 1.0` on a ratio, or `lt 0` on a count.
    ///
    /// ## Why
    /// All success conditions must hold to succeed (docs/semantics.md §5);
    /// one impossible condition means the loop can only end in failure,
    /// after spending its whole budget.
    ///
    /// ## Example
    /// ```yaml
    /// metrics: [{name: pass_rate, unit: ratio, ...}]
    /// termination_conditions:
    ///   success: [{metric: pass_rate, operator: gt, value: 1}]   # L413
    /// ```
    pub struct UnreachableSuccess { code: "L413", name: "unreachable-success", group: "readiness", severity: Error, summary: "A success condition can never hold for its metric's unit." }
}

declare_rule! {
    /// ## What it does
    /// Warns when a success condition tests a metric whose `source` is not
    /// an evaluator (`workers.*` or `telemetry.*`).
    ///
    /// ## Why
    /// Success should be judged: a worker's self-reported number or a
    /// telemetry counter says the loop ran, not that its output is good.
    ///
    /// ## Example
    /// ```yaml
    /// metrics: [{name: spend, source: telemetry.cost, unit: usd, ...}]
    /// termination_conditions:
    ///   success: [{metric: spend, operator: lte, value: 5}]   # L414
    /// ```
    pub struct SuccessWithoutEvaluator { code: "L414", name: "success-without-evaluator", group: "readiness", severity: Warning, summary: "A success condition tests a metric that no evaluator produces." }
}

fn unit_bounds(unit: &str) -> Option<(f64, f64)> {
    unit_range(unit).or(match unit {
        "count" | "usd" | "seconds" | "tokens" => Some((0.0, f64::INFINITY)),
        _ => None,
    })
}

/// Whether `x <op> value` can hold for some x in [lo, hi].
fn satisfiable(op: &str, value: f64, lo: f64, hi: f64) -> bool {
    match op {
        "gt" => hi > value,
        "gte" => hi >= value,
        "lt" => lo < value,
        "lte" => lo <= value,
        "eq" => (lo..=hi).contains(&value),
        _ => true,
    }
}

impl Rule for UnreachableSuccess {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(t) = &cx.spec.termination else { return };
        for c in &t.success {
            let (Some(metric), Some(op), Some(value)) = (&c.metric, &c.operator, &c.value) else {
                continue;
            };
            let Some(unit) = cx.spec.metric(metric).and_then(|m| m.unit.as_ref()) else {
                continue;
            };
            let Some((lo, hi)) = unit_bounds(unit) else { continue };
            let count_fraction = unit.as_str() == "count" && op.as_str() == "eq" && value.value.fract() != 0.0;
            if satisfiable(op, value.value, lo, hi) && !count_fraction {
                continue;
            }
            let range = if hi.is_finite() {
                format!("[{}, {}]", number(lo), number(hi))
            } else {
                format!("≥ {}", number(lo))
            };
            let range = if count_fraction { "whole numbers".to_owned() } else { range };
            out.push(
                cx.report(
                    &UnreachableSuccess,
                    value.span,
                    format!(
                        "success needs `{} {} {}` but a {} metric is {range}",
                        metric.as_str(),
                        op.as_str(),
                        number(value.value),
                        unit.as_str()
                    ),
                )
                .with_label("can never hold")
                .with_secondary(unit.span, format!("`{}` is a {}", metric.as_str(), unit.as_str()))
                .with_help("use a threshold inside the metric's range (e.g. `gte 1` for \"all\")"),
            );
        }
    }
}

impl Rule for SuccessWithoutEvaluator {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(t) = &cx.spec.termination else { return };
        for c in &t.success {
            let Some(metric) = &c.metric else { continue };
            let Some(source) = cx.spec.metric(metric).and_then(|m| m.source.as_ref()) else {
                continue;
            };
            if source.starts_with("evaluators.") {
                continue;
            }
            out.push(
                cx.report(
                    &SuccessWithoutEvaluator,
                    metric.span,
                    format!(
                        "success tests `{}`, which comes from `{}`, not from an evaluator",
                        metric.as_str(),
                        source.as_str()
                    ),
                )
                .with_label("not judged by an evaluator")
                .with_secondary(source.span, "metric source")
                .with_help("base success on a metric whose source is `evaluators.<id>`"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::satisfiable;

    #[test]
    fn satisfiability_on_ranges() {
        assert!(!satisfiable("gt", 1.0, 0.0, 1.0));
        assert!(satisfiable("gte", 1.0, 0.0, 1.0));
        assert!(!satisfiable("lt", 0.0, 0.0, f64::INFINITY));
        assert!(satisfiable("lte", 0.0, 0.0, f64::INFINITY));
        assert!(!satisfiable("eq", 101.0, 0.0, 100.0));
        assert!(satisfiable("eq", 1e9, 0.0, f64::INFINITY));
    }
}
