use loopc_diagnostics::{Diagnostic, Span};

use super::Rule;
use crate::registry::declare_rule;
use crate::{suggest, Context};
use loopc_ir::when::{self, RESULT_FIELDS};

declare_rule! {
    /// ## What it does
    /// Parses every feedback channel's `when` condition with the grammar of
    /// docs/semantics.md §4 (comparisons, `and`/`or`/`not`, parentheses)
    /// and checks the names it reads: the source's result fields (`score`,
    /// `passed`, `failed`, `pass_threshold`, `failure_codes`,
    /// `dimension_scores[.<name>]`, `remediation_hints`, `raw_output`,
    /// `summary`), `iteration`, and the spec's metric names (also as
    /// `metrics.<name>`). A condition may nest `(` and `not` 32 levels deep
    /// and have 1,024 operands in 8,192 tokens; past that (or when its compiled form would
    /// be deeper than 48 levels) it is refused here rather than crash the
    /// parser or make a plan the runtime cannot read.
    ///
    /// ## Why
    /// A condition the runtime cannot evaluate either never fires (the
    /// feedback is silently lost) or always fires.
    ///
    /// ## Example
    /// ```yaml
    /// feedback_channels:
    ///   - id: retry
    ///     when: "scor < pass_threshold"     # L418: unknown name `scor`
    /// ```
    pub struct InvalidWhen { code: "L418", name: "invalid-when", group: "readiness", severity: Error, summary: "A feedback `when` condition does not parse or names unknown fields." }
}

/// Span of `len` bytes at `offset` inside a scalar, accounting for quotes.
fn inner_span(cx: &Context<'_>, scalar: Span, text: &str, offset: usize, len: usize) -> Span {
    let raw = &cx.source_text[scalar.start..scalar.end];
    match raw.find(text) {
        Some(at) => Span::new(scalar.start + at + offset, scalar.start + at + offset + len.max(1)),
        None => scalar,
    }
}

impl Rule for InvalidWhen {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let metrics: Vec<&str> = cx.spec.metrics.iter().filter_map(|m| m.name.as_ref().map(|n| n.as_str())).collect();
        for f in &cx.spec.feedback_channels {
            let Some(condition) = &f.when else { continue };
            let channel = f.id.as_ref().map_or("?", |i| i.as_str());
            match when::parse(condition) {
                Err(error) => out.push(
                    cx.report(
                        &InvalidWhen,
                        inner_span(cx, condition.span, condition, error.offset, 1),
                        format!("the `when` of feedback channel `{channel}` does not parse: {}", error.message),
                    )
                    .with_label(error.message)
                    .with_help("e.g. `score < pass_threshold`, `passed == false`, `not passed and iteration >= 2`"),
                ),
                Ok(expr) => {
                    for (path, offset) in when::names(&expr) {
                        let head = path[0].as_str();
                        let known = RESULT_FIELDS.contains(&head) && (path.len() == 1 || head == "dimension_scores")
                            || metrics.contains(&head) && path.len() == 1
                            || head == "metrics" && path.len() == 2 && metrics.contains(&path[1].as_str());
                        if known {
                            continue;
                        }
                        let name = path.join(".");
                        let candidates = RESULT_FIELDS.iter().copied().chain(metrics.iter().copied());
                        let help = match suggest::closest(&name, candidates) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("a condition can read {} and the spec's metrics", suggest::list(RESULT_FIELDS, 10)),
                        };
                        out.push(
                            cx.report(
                                &InvalidWhen,
                                inner_span(cx, condition.span, condition, offset, name.len()),
                                format!("the `when` of feedback channel `{channel}` reads unknown name `{name}`"),
                            )
                            .with_label("unknown name")
                            .with_help(help),
                        );
                    }
                }
            }
        }
    }
}
