use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

/// Safety constraint types the included interpreter enforces (defined with the plan).
pub use loopc_ir::ENFORCED_SAFETY_TYPES;

declare_rule! {
    /// ## What it does
    /// Notes safety constraint types that loopc's own runtime cannot enforce:
    /// `injection_detect`, `pii_detect`, `egress_monitor` and
    /// `tenant_isolation` need an external enforcer. (`loopc compile`
    /// refuses them unless explicitly allowed.)
    ///
    /// ## Why
    /// A constraint that nobody enforces is worse than none: reviewers
    /// believe the loop is protected.
    pub struct UnenforceableSafety { code: "L422", name: "unenforceable-safety", group: "readiness", severity: Info, summary: "A safety constraint type that loopc's runtime cannot enforce." }
}

declare_rule! {
    /// ## What it does
    /// Notes a loop that edits code (a worker with `format: code` output or a
    /// file-writing tool) or spends money, that has no deterministic gate,
    /// and no path to a person: no human evaluator, no `human_gate`
    /// constraint, no `escalate_human` action, no `manual` optimizer.
    ///
    /// ## Why
    /// When only models judge model output, a person must be able to step
    /// in before changes land or money is spent.
    pub struct NoHumanPath { code: "L423", name: "no-human-path", group: "readiness", severity: Info, summary: "A loop that edits code or spends money has neither a deterministic gate nor a path to a human." }
}

impl Rule for UnenforceableSafety {
    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        for s in &cx.spec.safety_constraints {
            let Some(kind) = &s.kind else { continue };
            if ENFORCED_SAFETY_TYPES.contains(&kind.as_str()) {
                continue;
            }
            out.push(
                cx.report(
                    &UnenforceableSafety,
                    kind.span,
                    format!("loopc's runtime cannot enforce `{}` constraints", kind.as_str()),
                )
                .with_label("needs an external enforcer")
                .with_help(format!(
                    "the runtime enforces {}; bind an external checker for this one",
                    crate::suggest::list(ENFORCED_SAFETY_TYPES, 6)
                )),
            );
        }
    }
}

const WRITE_TOOLS: &[&str] = &[
    "apply_patch",
    "write_file",
    "edit_file",
    "git_commit",
    "git_push",
    "create_pull_request",
    "shell",
    "bash",
];

impl Rule for NoHumanPath {
    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let edits_code = spec.workers.iter().any(|w| {
            w.output_format.as_deref().map(String::as_str) == Some("code") || w.tools.iter().any(|t| WRITE_TOOLS.contains(&t.as_str()))
        });
        let spends = spec.workers.iter().any(|w| w.model.is_some());
        let deterministic_gate = spec
            .evaluators
            .iter()
            .any(|e| matches!(e.kind.as_deref(), Some(loopc_ir::EvaluatorKind::Deterministic)));
        if !(edits_code || spends) || deterministic_gate {
            return;
        }
        let human_evaluator = spec
            .evaluators
            .iter()
            .any(|e| matches!(e.kind.as_deref(), Some(loopc_ir::EvaluatorKind::Human)));
        let human_gate = spec.safety_constraints.iter().any(|s| {
            s.kind.as_deref().map(String::as_str) == Some("human_gate") || s.action.as_deref().map(String::as_str) == Some("escalate_human")
        });
        let escalates = spec.termination.iter().any(|t| {
            t.failure
                .iter()
                .filter_map(|c| c.action.as_deref())
                .chain(t.stall.iter().filter_map(|c| c.action.as_deref()))
                .any(|a| a == "escalate_human")
        });
        let manual = spec
            .optimization_strategy
            .as_ref()
            .and_then(|o| o.kind.as_deref())
            .is_some_and(|k| k == "manual");
        if human_evaluator || human_gate || escalates || manual {
            return;
        }
        let at = cx
            .root
            .as_map()
            .and_then(|m| m.entry("evaluators"))
            .map_or(spec.span, |e| e.key_span);
        out.push(
            cx.report(
                &NoHumanPath,
                at,
                format!(
                    "this loop {} with no deterministic gate and no path to a human",
                    if edits_code { "edits code" } else { "spends money" }
                ),
            )
            .with_label("only model judges")
            .with_help("add a deterministic evaluator, a human evaluator, a `human_gate` constraint or an `escalate_human` action"),
        );
    }
}
