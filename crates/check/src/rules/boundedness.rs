//! Every cycle needs a bound the runtime enforces (semantics §6, §10).

use loopc_diagnostics::{Diagnostic, Span};

use super::Rule;
use crate::children::ChildOutcome;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Finds the cycles of the loop's phase graph (iteration → termination
    /// check → next iteration, and every feedback edge) and reports a loop
    /// that nothing stops: no `max_iterations` failure rule that halts or
    /// escalates, no halting stall rule on a bounded metric with a positive
    /// `min_improvement`, and no cumulative cost cap that halts.
    ///
    /// An optimizer `max_steps` does not count: LSS defines it as the
    /// optimizer's budget, not the loop's. loopc's runtime does end a run
    /// whose optimizer has spent it (docs/semantics.md §6), and the message
    /// says so, but another LSS runtime will not stop there.
    ///
    /// ## Why
    /// An unbounded agent loop runs (and spends) until someone notices.
    /// LSS's first design principle is boundedness; this is failure mode F4
    /// (`fail.tau_omission`). See docs/semantics.md §6 for what counts.
    ///
    /// ## Example
    /// ```yaml
    /// termination_conditions:
    ///   success: [{metric: quality, operator: gte, value: 0.9}]   # may never hold
    /// cost_limits: {per_iteration_usd: 1, cumulative_usd: 10, on_exceed: {action: warn}}
    /// # L401: nothing ends this loop if quality stays below 0.9
    /// ```
    pub struct UnboundedCycle { code: "L401", name: "unbounded-cycle", group: "phase graph", severity: Error, summary: "A cycle of the loop has no bound that the runtime enforces." }
}

declare_rule! {
    /// ## What it does
    /// Warns when the only thing that stops the loop is its cumulative cost
    /// cap: there is no iteration bound (max_iterations or a halting stall
    /// rule; an optimizer `max_steps` is the optimizer's budget, not the
    /// loop's, and does not count, see L401).
    ///
    /// ## Why
    /// A cost cap bounds spend, not time: with cheap iterations (cached
    /// calls, a small model) the loop can run for a very long time before it
    /// reaches the cap. Failure mode F4 (`fail.tau_omission`).
    ///
    /// ## Example
    /// ```yaml
    /// termination_conditions:
    ///   failure: [{type: cost_exceeded, action: halt}]   # L402: add max_iterations
    /// ```
    pub struct MoneyOnlyBound { code: "L402", name: "money-only-bound", group: "phase graph", severity: Warning, summary: "Only the cost cap bounds the loop (F4 fail.tau_omission)." }
}

declare_rule! {
    /// ## What it does
    /// For an LSS 1.1 composition, computes the children's worst-case
    /// iterations and cost per parent iteration — sequential: the sum of the
    /// children; parallel: the sum over branches; nested: outer + R × inner,
    /// R being the outer loop's iteration bound — and warns when that cost
    /// exceeds the parent's `cumulative_usd`, or when a child is unbounded.
    ///
    /// ## Why
    /// The parent's budget is what the team approved; children that may
    /// spend more make the parent's cap the thing that stops them, half-way
    /// through a stage.
    pub struct CompositionBudget { code: "L403", name: "composition-budget", group: "phase graph", severity: Warning, summary: "A composition's children can together spend more than the parent allows, or run unbounded." }
}

/// What loopc's runtime adds, for the messages of L401 and L402.
fn loopc_only_note(cx: &Context<'_>) -> String {
    cx.graph.bounds.optimizer_steps().map_or_else(String::new, |b| {
        format!(
            "; loopc's runtime stops after {} (at most {} iterations), but LSS defines `max_steps` as the optimizer's budget and another runtime will not stop there",
            b.detail,
            b.iterations.unwrap_or_default()
        )
    })
}

impl Rule for UnboundedCycle {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        if cx.graph.cycles.is_empty() || cx.spec.termination.is_none() {
            return;
        }
        let bounds = &cx.graph.bounds;
        let at = termination_span(cx);
        if !bounds.is_declared_bounded() {
            out.push(
                cx.report(
                    &UnboundedCycle,
                    at,
                    format!(
                        "nothing bounds this loop: no iteration limit, halting stall rule or halting cost cap{}",
                        loopc_only_note(cx)
                    ),
                )
                .with_label("the loop may never terminate")
                .with_help("add `failure: [{type: max_iterations, value: 10, action: halt}]` to termination_conditions"),
            );
        }
    }
}

impl Rule for MoneyOnlyBound {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        if cx.graph.cycles.is_empty() || cx.spec.termination.is_none() || !cx.graph.bounds.money_only() {
            return;
        }
        let cap = cx.graph.bounds.max_cost_usd.map_or_else(String::new, |c| format!(" (${c})"));
        out.push(
            cx.report(
                &MoneyOnlyBound,
                termination_span(cx),
                format!("only the cumulative cost cap{cap} bounds this loop{}", loopc_only_note(cx)),
            )
            .with_label("no iteration bound")
            .with_help("add `{type: max_iterations, value: N, action: halt}` to `failure` (F4 fail.tau_omission)"),
        );
    }
}

fn termination_span(cx: &Context<'_>) -> Span {
    cx.root
        .as_map()
        .and_then(|m| m.entry("termination_conditions"))
        .map_or(cx.spec.span, |e| e.key_span)
}

impl Rule for CompositionBudget {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let Some(c) = &cx.spec.composition else { return };
        let kind = c.kind.as_ref().map(|k| k.value.clone());
        let mut iterations: Option<u64> = Some(0);
        let mut cost: Option<f64> = Some(0.0);
        let mut outer: Option<(Option<u64>, Option<f64>)> = None;
        let mut inner: Vec<(Option<u64>, Option<f64>)> = Vec::new();
        for child in &c.children {
            let Some(reference) = &child.reference else { continue };
            let ChildOutcome::Valid { bounds, .. } = cx.children.resolve(cx.path, reference) else {
                return;
            };
            let name = child.id.as_ref().map_or("child", |i| i.as_str());
            if bounds.max_iterations.is_none() && bounds.max_cost_usd.is_none() {
                out.push(
                    cx.report(
                        &CompositionBudget,
                        reference.span,
                        format!("child `{name}` has no bound of its own"),
                    )
                    .with_label("unbounded child loop")
                    .with_help("give the child spec a max_iterations failure rule"),
                );
            }
            let pair = (bounds.max_iterations, bounds.max_cost_usd);
            match (kind.as_ref(), child.role()) {
                (Some(loopc_ir::CompositionKind::Nested), "outer") => outer = Some(pair),
                (Some(loopc_ir::CompositionKind::Nested), "inner") => inner.push(pair),
                _ => {
                    iterations = iterations.zip(pair.0).map(|(a, b)| a + b);
                    cost = cost.zip(pair.1).map(|(a, b)| a + b);
                }
            }
        }
        if let Some((outer_iterations, outer_cost)) = outer {
            // nested: outer + R × inner, R = the outer loop's iteration bound.
            let inner_iterations: Option<u64> = inner.iter().map(|p| p.0).sum();
            let inner_cost: Option<f64> = inner.iter().map(|p| p.1).sum();
            iterations = outer_iterations.zip(inner_iterations).map(|(r, i)| r + r * i);
            cost = outer_cost.zip(inner_cost).zip(outer_iterations).map(|((o, i), r)| o + r as f64 * i);
        }
        let parent_cap = cx.spec.cost_limits.as_ref().and_then(|l| l.cumulative_usd.as_ref());
        if let (Some(cost), Some(cap)) = (cost, parent_cap) {
            if cost > cap.value + 1e-9 {
                let iterations = iterations.map_or_else(String::new, |i| format!(" over at most {i} child iterations"));
                out.push(
                    cx.report(
                        &CompositionBudget,
                        cap.span,
                        format!(
                            "the children can spend up to ${}{iterations} per parent iteration, more than the parent's cumulative_usd ${}",
                            crate::graph::number(cost),
                            crate::graph::number(cap.value)
                        ),
                    )
                    .with_label("parent budget")
                    .with_help("raise the parent's cumulative_usd to cover its children, or lower the children's caps"),
                );
            }
        }
    }
}
