//! From a `jsonschema` error to a diagnostic a person can act on.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::ValidationError;
use loopc_diagnostics::{Diagnostic, Fix, Span};
use loopc_syntax::Node;
use serde_json::Value;

use super::path::{parse_pointer, resolve, Resolved, Segment};
use crate::registry::RuleInfo;
use crate::suggest;

pub(crate) struct Mapper<'a> {
    pub root: &'a Node,
    /// The schemas' property names, for "did you mean" (built on first use).
    pub vocabulary: fn() -> &'static [String],
}

/// Which `oneOf` branch of `Evaluator` each evaluator `type` selects.
const EVALUATOR_BRANCHES: [&str; 3] = ["deterministic", "llm_rubric", "human"];

impl Mapper<'_> {
    pub(crate) fn map(&self, error: &ValidationError<'_>, rule: &'static RuleInfo, out: &mut Vec<Diagnostic>) {
        let segments = parse_pointer(error.instance_path().as_str());
        let site = Site::new(resolve(self.root, &segments), rule);

        match error.kind() {
            ValidationErrorKind::OneOfNotValid { context } if is_evaluator(&segments) => self.evaluator(&site, context, rule, out),
            ValidationErrorKind::OneOfNotValid { .. } if is_worker_or_star(&segments) => out.push(site.not_worker_or_star()),
            ValidationErrorKind::Required { property } => out.push(site.missing(property.as_str().unwrap_or_default())),
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                out.extend(unexpected.iter().map(|key| self.unknown_field(&site, key)));
            }
            ValidationErrorKind::Enum { options } => out.push(site.not_an_option(options)),
            ValidationErrorKind::Constant { expected_value } => out.push(site.not_the_constant(expected_value)),
            ValidationErrorKind::Type { kind } => out.push(site.wrong_type(kind)),
            ValidationErrorKind::Pattern { pattern } => out.push(site.pattern_mismatch(pattern)),
            ValidationErrorKind::AnyOf { .. } if segments == [Segment::Key("termination_conditions".into())] => {
                out.push(site.no_termination_condition());
            }
            ValidationErrorKind::FalseSchema => {
                out.push(
                    site.diag(format!("{} is not allowed here", site.place), site.value_span())
                        .with_label("unexpected item"),
                );
            }
            _ => {
                // Bounds, lengths, uniqueness and the rest: the library's text
                // is already specific ("0 is less than the minimum of 1").
                out.push(
                    site.diag(format!("{}: {}", site.place, error.masked()), site.value_span())
                        .with_label("here"),
                );
            }
        }
    }

    /// An evaluator that matches none of the `oneOf` branches. Its `type`
    /// says which branch was meant, so only that branch's errors are
    /// reported; without a known `type` the other branches' errors would
    /// all be noise, so the `type` itself is reported.
    fn evaluator(&self, site: &Site<'_>, context: &[Vec<ValidationError<'_>>], rule: &'static RuleInfo, out: &mut Vec<Diagnostic>) {
        let kind = site.at.node.get("type");
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
                None => site
                    .diag(format!("missing required field `type` in {}", site.place), site.head_span())
                    .with_label("this evaluator has no `type`")
                    .with_help("`type` is one of `deterministic`, `llm_rubric`, `human`"),
                Some(kind) => site
                    .diag(format!("unknown evaluator type {}", show(&kind.to_json())), kind.span)
                    .with_label("not an evaluator type")
                    .with_help(match kind.as_str().and_then(|t| suggest::closest(t, EVALUATOR_BRANCHES)) {
                        Some(s) => format!("did you mean `{s}`? (one of `deterministic`, `llm_rubric`, `human`)"),
                        None => "`type` is one of `deterministic`, `llm_rubric`, `human`".to_owned(),
                    }),
            }),
        }
    }

    /// A key the schema does not allow, pointed at the key itself, with the
    /// closest known field name as a guess and where extensions belong.
    fn unknown_field(&self, site: &Site<'_>, key: &str) -> Diagnostic {
        let span = site
            .at
            .node
            .as_map()
            .and_then(|m| m.entry(key))
            .map_or(site.value_span(), |e| e.key_span);
        let d = site
            .diag(format!("unknown field `{key}` in {}", site.place), span)
            .with_label("not allowed here");
        match suggest::closest(key, (self.vocabulary)().iter().map(String::as_str)) {
            Some(s) => d.with_help(format!(
                "did you mean `{s}`? Extensions go under `extensions:` or in `x_`-prefixed top-level keys"
            )),
            None => d.with_help("this object allows no other fields; extensions go under `extensions:` or in `x_`-prefixed top-level keys"),
        }
    }
}

/// Where a schema error points, with the words and spans its diagnostic uses.
struct Site<'a> {
    at: Resolved<'a>,
    /// The path in backticks, or "the document root".
    place: String,
    rule: &'static RuleInfo,
}

impl<'a> Site<'a> {
    fn new(at: Resolved<'a>, rule: &'static RuleInfo) -> Self {
        let place = if at.display.is_empty() {
            "the document root".to_owned()
        } else {
            format!("`{}`", at.display)
        };
        Site { at, place, rule }
    }

    fn diag(&self, message: String, span: Span) -> Diagnostic {
        self.rule.diagnostic(span, message)
    }

    /// The offending value itself.
    fn value_span(&self) -> Span {
        self.at.node.span
    }

    /// Where to point for a problem with a whole mapping: the key that names
    /// it, or for a list item its first key.
    fn head_span(&self) -> Span {
        if let Some(span) = self.at.key_span {
            return span;
        }
        match self.at.node.as_map().and_then(|m| m.entries.first()) {
            Some(first) => first.key_span,
            None => self.at.node.span,
        }
    }

    /// A `runs_after` or `applies_to` item: the schema's `oneOf` of an id
    /// pattern and `*` says nothing useful, so say what an id looks like.
    fn not_worker_or_star(&self) -> Diagnostic {
        self.diag(
            format!("{} is neither a worker id nor `*`", show(&self.at.node.to_json())),
            self.value_span(),
        )
        .with_label("expected a worker id or `*`")
        .with_help("worker ids match ^[a-z][a-z0-9_-]*$ (lowercase letters, digits, `_`, `-`), at most 64 characters")
    }

    fn missing(&self, name: &str) -> Diagnostic {
        self.diag(format!("missing required field `{name}` in {}", self.place), self.head_span())
            .with_label(format!("`{name}` is required here"))
    }

    /// A value outside an `enum`, with the closest option as a guess.
    fn not_an_option(&self, options: &Value) -> Diagnostic {
        let names: Vec<&str> = options
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let found = self.at.node.to_json();
        let d = self
            .diag(
                format!("{} is not a valid value for {}", show(&found), self.place),
                self.value_span(),
            )
            .with_label("not allowed");
        let expected = options
            .as_array()
            .map(|a| a.iter().map(show).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        match found.as_str().and_then(|s| suggest::closest(s, names.iter().copied())) {
            Some(s) => d.with_help(format!("did you mean `{s}`? Expected one of {expected}")),
            None => d.with_help(format!("expected one of {expected}")),
        }
    }

    fn not_the_constant(&self, expected: &Value) -> Diagnostic {
        self.diag(format!("{} must be {}", self.place, show(expected)), self.value_span())
            .with_label(format!("found {}", show(&self.at.node.to_json())))
    }

    /// A value of the wrong JSON type; a number or boolean where a string
    /// belongs is usually a YAML scalar that wanted quotes.
    fn wrong_type(&self, kind: &TypeKind) -> Diagnostic {
        let expected = match kind {
            TypeKind::Single(t) => t.to_string(),
            TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
        };
        let d = self
            .diag(
                format!(
                    "{} must be {} {expected}, found {}",
                    self.place,
                    article(&expected),
                    describe(self.at.node)
                ),
                self.value_span(),
            )
            .with_label(format!("expected {expected}"));
        let value = self.at.node.to_json();
        if expected == "string" && self.place == "`version`" && value.is_number() {
            let semver = semver_of(&value.to_string());
            d.with_help(format!("versions are semver: quote it as \"{semver}\""))
                .with_fix(Fix::replace(
                    self.value_span(),
                    format!("\"{semver}\""),
                    format!("quote the version as \"{semver}\""),
                ))
        } else if expected == "string" && matches!(value, Value::Number(_) | Value::Bool(_)) {
            d.with_help(format!("quote it: \"{value}\""))
        } else {
            d
        }
    }

    /// A string that misses its pattern, with the pattern in words when it
    /// is one of the schema's well-known ones.
    fn pattern_mismatch(&self, pattern: &str) -> Diagnostic {
        let d = self
            .diag(
                format!(
                    "{} does not match the pattern required for {}",
                    show(&self.at.node.to_json()),
                    self.place
                ),
                self.value_span(),
            )
            .with_label(format!("must match {pattern}"));
        match pattern_help(pattern) {
            Some(help) => d.with_help(help),
            None => d,
        }
    }

    /// `termination_conditions` whose `anyOf` (some non-empty list) fails:
    /// a loop with no way to end.
    fn no_termination_condition(&self) -> Diagnostic {
        self.diag(
            "`termination_conditions` must have at least one non-empty `success`, `failure` or `stall` list".to_owned(),
            self.head_span(),
        )
        .with_label("no termination condition")
        .with_help("add e.g. `failure: [{type: max_iterations, value: 10, action: halt}]`")
    }
}

fn is_evaluator(segments: &[Segment]) -> bool {
    matches!(segments, [Segment::Key(k), Segment::Index(_)] if k == "evaluators")
}

fn is_worker_or_star(segments: &[Segment]) -> bool {
    matches!(segments, [.., Segment::Key(k), Segment::Index(_)] if k == "runs_after" || k == "applies_to")
}

/// `1` → `1.0.0`, `1.2` → `1.2.0`: the semver an unquoted YAML number
/// in `version` stood for.
fn semver_of(number: &str) -> String {
    let mut parts: Vec<&str> = number.split('.').collect();
    parts.resize(3, "0");
    parts.join(".")
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
