use std::collections::HashMap;

use loopc_diagnostics::Diagnostic;
use loopc_ir::Sp;

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Reports an id defined twice among workers, evaluators, feedback
    /// channels or safety constraints, or a metric name defined twice; the
    /// second definition is the error and the first is labelled.
    ///
    /// ## Why
    /// Every reference to a duplicated id is ambiguous: which evaluator does
    /// `evaluators.test_suite` mean, which metric does success test? Tools
    /// resolve it differently (first wins, last wins, both run).
    ///
    /// ## Example
    /// ```yaml
    /// evaluators:
    ///   - id: test_suite
    ///     type: deterministic
    ///   - id: test_suite       # L202
    ///     type: llm_rubric
    /// ```
    pub struct DuplicateId { code: "L202", name: "duplicate-id", group: "references", severity: Error, summary: "Two workers, evaluators, feedback channels, metrics or safety constraints share an id." }
}

/// Pairs `(first, repeat)` of equal names, in order of the repeats.
pub(crate) fn duplicates<'a>(names: impl Iterator<Item = &'a Sp<String>>) -> Vec<(&'a Sp<String>, &'a Sp<String>)> {
    let mut first: HashMap<&str, &Sp<String>> = HashMap::new();
    let mut pairs = Vec::new();
    for name in names {
        match first.get(name.as_str()) {
            Some(original) => pairs.push((*original, name)),
            None => {
                first.insert(name.as_str(), name);
            }
        }
    }
    pairs
}

impl Rule for DuplicateId {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let groups: [(&str, &str, Vec<&Sp<String>>); 5] = [
            ("worker", "id", spec.workers.iter().filter_map(|w| w.id.as_ref()).collect()),
            ("evaluator", "id", spec.evaluators.iter().filter_map(|e| e.id.as_ref()).collect()),
            (
                "feedback channel",
                "id",
                spec.feedback_channels.iter().filter_map(|f| f.id.as_ref()).collect(),
            ),
            ("metric", "name", spec.metrics.iter().filter_map(|m| m.name.as_ref()).collect()),
            (
                "safety constraint",
                "id",
                spec.safety_constraints.iter().filter_map(|s| s.id.as_ref()).collect(),
            ),
        ];
        for (what, key, names) in groups {
            for (first, repeat) in duplicates(names.into_iter()) {
                out.push(
                    cx.report(&DuplicateId, repeat.span, format!("duplicate {what} {key} `{}`", repeat.as_str()))
                        .with_label("defined again here")
                        .with_secondary(first.span, "first defined here")
                        .with_help(format!("every {what} needs a unique {key}; rename or remove one of them")),
                );
            }
        }
    }
}
