use loopc_diagnostics::Diagnostic;

use super::Rule;
use crate::graph::number;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Warns when the `weight`s of an LLM rubric's dimensions do not sum to 1
    /// (within 0.001).
    ///
    /// ## Why
    /// The rubric score is the weighted sum of normalised dimension scores
    /// and `pass_threshold` is read on that scale. With weights summing to
    /// 0.8 a perfect answer scores 0.8 and may never pass; above 1 a poor
    /// answer can.
    ///
    /// ## Example
    /// ```yaml
    /// rubric:
    ///   dimensions:
    ///     - {name: accuracy, weight: 0.5, ...}
    ///     - {name: clarity, weight: 0.3, ...}    # L416: weights sum to 0.8
    ///   pass_threshold: 0.85
    /// ```
    pub struct RubricWeights { code: "L417", name: "rubric-weights", group: "readiness", severity: Warning, summary: "An LLM rubric's dimension weights do not sum to 1." }
}

impl Rule for RubricWeights {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        for e in &cx.spec.evaluators {
            let Some(rubric) = &e.rubric else { continue };
            let weights: Vec<f64> = rubric
                .dimensions
                .iter()
                .filter_map(|d| d.weight.as_ref().map(|w| w.value))
                .collect();
            if weights.is_empty() || weights.len() != rubric.dimensions.len() {
                continue;
            }
            let sum: f64 = weights.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                out.push(
                    cx.report(
                        &RubricWeights,
                        rubric.span,
                        format!(
                            "the weights of rubric `{}` sum to {}, not 1",
                            e.id.as_ref().map_or("?", |i| i.as_str()),
                            number((sum * 1e6).round() / 1e6)
                        ),
                    )
                    .with_label("weights do not sum to 1")
                    .with_help("scale the weights so they add up to 1; pass_threshold is read on that scale"),
                );
            }
        }
    }
}
