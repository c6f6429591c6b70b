use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Warns when the number of metrics marked `primary: true` is not exactly one.
    ///
    /// ## Why
    /// The primary metric is what the loop optimizes and what success,
    /// stall detection and scoring read first. With none the objective is
    /// unmeasured; with several, tools pick one arbitrarily.
    ///
    /// ## Example
    /// ```yaml
    /// metrics:
    ///   - { name: pass_rate, primary: true, ... }
    ///   - { name: cost_usd, primary: true, ... }   # L204: second primary metric
    /// ```
    pub struct PrimaryMetric { code: "L204", name: "primary-metric", group: "references", severity: Warning, summary: "Not exactly one metric is marked `primary: true`." }
}

impl Rule for PrimaryMetric {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(metrics_key) = cx.root.as_map().and_then(|m| m.entry("metrics")) else {
            return;
        };
        if cx.spec.metrics.is_empty() {
            return;
        }
        let primaries: Vec<_> = cx
            .spec
            .metrics
            .iter()
            .filter_map(|m| m.primary.as_ref().filter(|p| p.value))
            .collect();
        match primaries.as_slice() {
            [] => out.push(
                cx.report(&PrimaryMetric, metrics_key.key_span, "no metric is marked `primary: true`")
                    .with_label("none of these metrics is primary")
                    .with_help("mark the metric the loop optimizes with `primary: true`"),
            ),
            [_] => {}
            [first, rest @ ..] => {
                for extra in rest {
                    out.push(
                        cx.report(
                            &PrimaryMetric,
                            extra.span,
                            format!("{} metrics are marked `primary: true`; exactly one should be", primaries.len()),
                        )
                        .with_label("another primary metric")
                        .with_secondary(first.span, "first primary metric")
                        .with_help("keep `primary: true` on the metric the loop optimizes and remove it from the others"),
                    );
                }
            }
        }
    }
}
