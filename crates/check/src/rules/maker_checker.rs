//! Every maker's output is checked, and not only by itself (F2).

use loopc_diagnostics::Diagnostic;
use loopc_ir::{Evaluator, EvaluatorKind};

use super::Rule;
use crate::index::Unchecked;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Reports a worker whose output reaches the loop's result with no
    /// evaluator checking it: no evaluator runs after it (by id or `*`),
    /// nor after any worker downstream of it.
    ///
    /// The result is what the last workers of the graph produce. A worker
    /// whose output only advises others (the source of a feedback channel
    /// or a metric that no worker reads: a critic, a reflector) is not a
    /// maker of it and is not reported. A last worker that nothing takes,
    /// in a loop whose result is checked at another last worker, is
    /// reported once, as unused (L419).
    ///
    /// ## Why
    /// The maker–checker principle: an agent's output is trusted only after
    /// an independent check. An unchecked maker ships whatever it produced.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [{id: writer, ...}, {id: publisher, depends_on: [writer], ...}]
    /// evaluators:
    ///   - {id: style, type: llm_rubric, runs_after: [writer], ...}
    /// # L411: publisher's output is never checked
    /// ```
    pub struct UncheckedMaker { code: "L411", name: "unchecked-maker", group: "readiness", severity: Warning, summary: "A worker's output reaches the result without any evaluator checking it." }
}

declare_rule! {
    /// ## What it does
    /// Warns when the only checks of a worker are LLM rubrics run by the same
    /// provider and model as the worker itself.
    ///
    /// ## Why
    /// A model grading its own output shares its blind spots and tends to
    /// approve it: failure mode F2 (`fail.self_grade`). Use a deterministic
    /// check, a different model, or a human.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [{id: writer, model: {provider: openai, name: gpt-4.1}, ...}]
    /// evaluators:
    ///   - {id: judge, type: llm_rubric, runs_after: [writer], model: {provider: openai, name: gpt-4.1}, ...}
    /// ```
    pub struct SelfGrading { code: "L412", name: "self-grading", group: "readiness", severity: Warning, summary: "A worker is checked only by LLM rubrics on its own provider and model (F2 fail.self_grade)." }
}

impl Rule for UncheckedMaker {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for (wid, _) in cx.index.unchecked(cx.spec).into_iter().filter(|(_, u)| *u == Unchecked::Maker) {
            out.push(
                cx.report(
                    &UncheckedMaker,
                    wid.span,
                    format!("no evaluator checks the output of worker `{}`", wid.as_str()),
                )
                .with_label("unchecked maker")
                .with_help(format!(
                    "add `{}` to the `runs_after` of an evaluator (or check a worker downstream of it)",
                    wid.as_str()
                )),
            );
        }
    }
}

impl Rule for SelfGrading {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for w in &cx.spec.workers {
            let (Some(wid), Some(model)) = (&w.id, &w.model) else { continue };
            let (Some(provider), Some(name)) = (&model.provider, &model.name) else {
                continue;
            };
            let evaluators: Vec<&Evaluator> = cx.index.checks(wid).collect();
            let same_model = |e: &&Evaluator| {
                matches!(e.kind.as_deref(), Some(EvaluatorKind::LlmRubric))
                    && e.model
                        .as_ref()
                        .is_some_and(|m| m.provider.as_deref() == Some(provider) && m.name.as_deref() == Some(name))
            };
            if evaluators.is_empty() || !evaluators.iter().all(same_model) {
                continue;
            }
            let mut d = cx
                .report(
                    &SelfGrading,
                    wid.span,
                    format!(
                        "worker `{}` is graded only by its own model ({}/{})",
                        wid.as_str(),
                        provider.as_str(),
                        name.as_str()
                    ),
                )
                .with_label("graded by the same model")
                .with_help(
                    "add a deterministic evaluator, use a different model for the rubric, or add a human check (F2 fail.self_grade)",
                );
            for e in evaluators {
                if let Some(m) = &e.model {
                    d = d.with_secondary(
                        m.span,
                        format!("evaluator `{}` uses the same model", e.id.as_ref().map_or("?", |i| i.as_str())),
                    );
                }
            }
            out.push(d);
        }
    }
}
