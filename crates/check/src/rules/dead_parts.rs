//! Parts of a spec that nothing uses.

use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::index::Unchecked;
use crate::registry::declare_rule;
use crate::Context;
use loopc_ir::when;

declare_rule! {
    /// ## What it does
    /// Warns about a worker whose output goes nowhere the loop looks: no
    /// other worker consumes it (`inputs: from: workers.<id>`) or runs after
    /// it (`depends_on`), no evaluator checks it, and no feedback channel or
    /// metric reads it, while the loop's result is checked at another
    /// worker. (When no worker's result is checked, the unchecked last
    /// workers are the result, and L411 reports them instead: one finding
    /// per worker.)
    ///
    /// ## Why
    /// Such a worker costs money every iteration and influences nothing —
    /// usually a leftover from a refactor, or a missing `runs_after`.
    pub struct UnusedWorker { code: "L419", name: "unused-worker", group: "readiness", severity: Warning, summary: "A worker's output is used by nothing: no worker, evaluator, feedback channel or metric." }
}

declare_rule! {
    /// ## What it does
    /// Warns about an evaluator that no metric takes as its `source` and no
    /// feedback channel takes as its `source`.
    ///
    /// ## Why
    /// Its verdict cannot influence success, stall detection or the next
    /// iteration: it only spends time and money.
    pub struct UnusedEvaluator { code: "L420", name: "unused-evaluator", group: "readiness", severity: Warning, summary: "An evaluator's result is used by no metric and no feedback channel." }
}

declare_rule! {
    /// ## What it does
    /// Notes a metric computed from a worker or an evaluator that nothing
    /// reads: not primary, not in a success or stall condition, not named by
    /// a `when` condition, and with no `regression_threshold` to alert on.
    /// Telemetry metrics (`telemetry.*`) are exempt: they are for dashboards.
    ///
    /// ## Why
    /// Usually a forgotten termination condition; it is an `info` because a
    /// metric kept for reports is legitimate.
    pub struct UnreadMetric { code: "L421", name: "unread-metric", group: "readiness", severity: Info, summary: "A metric is read by no termination condition, alert or feedback condition." }
}

impl Rule for UnusedWorker {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for (id, _) in cx.index.unchecked(cx.spec).into_iter().filter(|(_, u)| *u == Unchecked::Unused) {
            out.push(
                cx.report(
                    &UnusedWorker,
                    id.span,
                    format!("nothing uses the output of worker `{}`", id.as_str()),
                )
                .with_label("unused output")
                .with_help("check it with an evaluator (`runs_after`), feed it to another worker, or remove the worker"),
            );
        }
    }
}

impl Rule for UnusedEvaluator {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        // With both sections missing the schema's "missing required field"
        // errors already say it: nothing can use any evaluator yet.
        if cx.root.get("metrics").is_none() && cx.root.get("feedback_channels").is_none() {
            return;
        }
        for e in &cx.spec.evaluators {
            let Some(id) = &e.id else { continue };
            let source = format!("evaluators.{}", id.as_str());
            let used = cx.index.is_source(&source);
            if !used {
                out.push(
                    cx.report(
                        &UnusedEvaluator,
                        id.span,
                        format!("no metric or feedback channel uses evaluator `{}`", id.as_str()),
                    )
                    .with_label("result never used")
                    .with_help(format!("add a metric with `source: {source}`, or a feedback channel from it")),
                );
            }
        }
    }
}

impl Rule for UnreadMetric {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let in_when: Vec<String> = spec
            .feedback_channels
            .iter()
            .filter_map(|f| f.when.as_ref().and_then(|w| when::parse(w).ok()))
            .flat_map(|e| {
                when::names(&e)
                    .into_iter()
                    .map(|(p, _)| p.last().cloned().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .collect();
        for m in &spec.metrics {
            let Some(name) = &m.name else { continue };
            if m.source.as_deref().is_some_and(|s| s.starts_with("telemetry.")) {
                continue;
            }
            let read = m.primary.as_ref().is_some_and(|p| p.value)
                || m.regression_threshold.is_some()
                || spec.termination.iter().any(|t| {
                    t.success
                        .iter()
                        .filter_map(|c| c.metric.as_ref())
                        .chain(t.stall.iter().filter_map(|c| c.metric.as_ref()))
                        .any(|n| n.as_str() == name.as_str())
                })
                || in_when.iter().any(|n| n == name.as_str());
            if !read {
                out.push(
                    cx.report(
                        &UnreadMetric,
                        name.span,
                        format!("metric `{}` is collected but nothing reads it", name.as_str()),
                    )
                    .with_label("unread")
                    .with_help("use it in a success or stall condition, or give it a regression_threshold to alert on"),
                );
            }
        }
    }
}
