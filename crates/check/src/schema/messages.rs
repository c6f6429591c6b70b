//! From a `jsonschema` error to a diagnostic a person can act on.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::ValidationError;
use loopc_diagnostics::{Diagnostic, Span};
use loopc_syntax::Node;
use serde_json::Value;

use super::path::{parse_pointer, resolve, Segment};
use crate::registry::RuleInfo;
use crate::suggest;

pub(crate) struct Mapper<'a> {
    pub root: &'a Node,
    pub vocabulary: &'a [String],
}

/// Which `oneOf` branch of `Evaluator` each evaluator `type` selects.
const EVALUATOR_BRANCHES: [&str; 3] = ["deterministic", "llm_rubric", "human"];

impl Mapper<'_> {
    pub(crate) fn map(&self, error: &ValidationError, rule: &'static RuleInfo, out: &mut Vec<Diagnostic>) {
        let segments = parse_pointer(error.instance_path().as_str());
        let at = resolve(self.root, &segments);
        let value_span = at.node.span;
        let place = if at.display.is_empty() {
            "the document root".to_owned()
        } else {
            format!("`{}`", at.display)
        };
        let diag = |message: String, span: Span| rule.diagnostic(span, message);

        match error.kind() {
            ValidationErrorKind::OneOfNotValid { context } if is_evaluator(&segments) => {
                let kind = at.node.get("type");
                match kind
                    .and_then(Node::as_str)
                    .and_then(|t| EVALUATOR_BRANCHES.iter().position(|b| *b == t))
                {
                    Some(branch) => {
                        for inner in context.get(branch).into_iter().flatten() {
                            self.map(inner, rule, out);
                        }
                    }
                    None => out.push(match kind {
                        None => diag(format!("missing required field `type` in {place}"), self.head_span(&at))
                            .with_label("this evaluator has no `type`")
                            .with_help("`type` is one of `deterministic`, `llm_rubric`, `human`"),
                        Some(kind) => diag(format!("unknown evaluator type {}", show(&kind.to_json())), kind.span)
                            .with_label("not an evaluator type")
                            .with_help(match kind.as_str().and_then(|t| suggest::closest(t, EVALUATOR_BRANCHES)) {
                                Some(s) => format!("did you mean `{s}`? (one of `deterministic`, `llm_rubric`, `human`)"),
                                None => "`type` is one of `deterministic`, `llm_rubric`, `human`".to_owned(),
                            }),
                    }),
                }
            }
            ValidationErrorKind::OneOfNotValid { .. } if is_worker_or_star(&segments) => {
                out.push(
                    diag(format!("{} is neither a worker id nor `*`", show(&at.node.to_json())), value_span)
                        .with_label("expected a worker id or `*`")
                        .with_help("worker ids match ^[a-z][a-z0-9_-]*$ (lowercase letters, digits, `_`, `-`), at most 64 characters"),
                );
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                out.push(
                    diag(format!("missing required field `{name}` in {place}"), self.head_span(&at))
                        .with_label(format!("`{name}` is required here")),
                );
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let span = at.node.as_map().and_then(|m| m.entry(key)).map_or(value_span, |e| e.key_span);
                    let mut d = diag(format!("unknown field `{key}` in {place}"), span).with_label("not allowed here");
                    d = match suggest::closest(key, self.vocabulary.iter().map(String::as_str)) {
                        Some(s) => d.with_help(format!(
                            "did you mean `{s}`? Extensions go under `extensions:` or in `x_`-prefixed top-level keys"
                        )),
                        None => d.with_help(
                            "this object allows no other fields; extensions go under `extensions:` or in `x_`-prefixed top-level keys",
                        ),
                    };
                    out.push(d);
                }
            }
            ValidationErrorKind::Enum { options } => {
                let names: Vec<&str> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let found = at.node.to_json();
                let mut d = diag(format!("{} is not a valid value for {place}", show(&found)), value_span).with_label("not allowed");
                let expected = options
                    .as_array()
                    .map(|a| a.iter().map(show).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                d = match found.as_str().and_then(|s| suggest::closest(s, names.iter().copied())) {
                    Some(s) => d.with_help(format!("did you mean `{s}`? Expected one of {expected}")),
                    None => d.with_help(format!("expected one of {expected}")),
                };
                out.push(d);
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(
                    diag(format!("{place} must be {}", show(expected_value)), value_span)
                        .with_label(format!("found {}", show(&at.node.to_json()))),
                );
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => t.to_string(),
                    TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
                };
                let mut d = diag(
                    format!("{place} must be {} {expected}, found {}", article(&expected), describe(at.node)),
                    value_span,
                )
                .with_label(format!("expected {expected}"));
                if expected == "string" && matches!(at.node.to_json(), Value::Number(_) | Value::Bool(_)) {
                    d = d.with_help(format!("quote it: \"{}\"", at.node.to_json()));
                }
                out.push(d);
            }
            ValidationErrorKind::Pattern { pattern } => {
                let mut d = diag(
                    format!("{} does not match the pattern required for {place}", show(&at.node.to_json())),
                    value_span,
                )
                .with_label(format!("must match {pattern}"));
                if let Some(help) = pattern_help(pattern) {
                    d = d.with_help(help);
                }
                out.push(d);
            }
            ValidationErrorKind::AnyOf { .. } if segments == [Segment::Key("termination_conditions".into())] => {
                out.push(
                    diag(
                        "`termination_conditions` must have at least one non-empty `success`, `failure` or `stall` list".to_owned(),
                        self.head_span(&at),
                    )
                    .with_label("no termination condition")
                    .with_help("add e.g. `failure: [{type: max_iterations, value: 10, action: halt}]`"),
                );
            }
            ValidationErrorKind::FalseSchema => {
                out.push(diag(format!("{place} is not allowed here"), value_span).with_label("unexpected item"));
            }
            _ => {
                // Bounds, lengths, uniqueness and the rest: the library's text
                // is already specific ("0 is less than the minimum of 1").
                out.push(diag(format!("{place}: {}", error.masked()), value_span).with_label("here"));
            }
        }
    }

    /// Where to point for a problem with a whole mapping: the key that names
    /// it, or for a list item its first key.
    fn head_span(&self, at: &super::path::Resolved) -> Span {
        if let Some(span) = at.key_span {
            return span;
        }
        match at.node.as_map().and_then(|m| m.entries.first()) {
            Some(first) => first.key_span,
            None => at.node.span,
        }
    }
}

fn is_evaluator(segments: &[Segment]) -> bool {
    matches!(segments, [Segment::Key(k), Segment::Index(_)] if k == "evaluators")
}

fn is_worker_or_star(segments: &[Segment]) -> bool {
    matches!(segments, [.., Segment::Key(k), Segment::Index(_)] if k == "runs_after" || k == "applies_to")
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn describe(node: &Node) -> String {
    match node.to_json() {
        v @ (Value::Number(_) | Value::Bool(_) | Value::String(_)) => {
            format!("{} {}", node.type_name(), show(&v))
        }
        Value::Null => "null".to_owned(),
        _ => format!("{} {}", article(node.type_name()), node.type_name()),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn pattern_help(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        "^[a-z][a-z0-9-]*$" => "loop names are kebab-case: a lowercase letter, then lowercase letters, digits and `-`",
        "^[a-z][a-z0-9_-]*$" => "ids start with a lowercase letter, then lowercase letters, digits, `_` and `-`",
        "^[a-z][a-z0-9_]*$" => "metric names are snake_case: a lowercase letter, then lowercase letters, digits and `_`",
        p if p.starts_with("^(0|[1-9]") => "versions are semver, e.g. \"1.0.0\" (quote it: 1.0 unquoted is a number)",
        p if p.starts_with("^(inputs") => "bind to `inputs.<field>`, `memory.<key>` or `workers.<id>`",
        p if p.starts_with("^(evaluators|workers)") => "a source is `evaluators.<id>` or `workers.<id>`",
        p if p.starts_with("^(workers\\.[a-z][a-z0-9_-]*|optimization") => {
            "a destination is `workers.<id>`, `optimization_strategy` or `optimization_strategy.<type>`"
        }
        p if p.starts_with("^(evaluators\\.") => "a metric source is `evaluators.<id>`, `workers.<id>` or `telemetry.<signal>`",
        "^workers\\.[a-z][a-z0-9_-]*$" => "targets are `workers.<id>`",
        "^S[0-3]$" => "severity is one of S0, S1, S2, S3",
        _ => return None,
    })
}
