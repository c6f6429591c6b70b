//! Validation against the canonical LSS JSON Schemas, with every error
//! mapped back to the YAML node it is about.
//!
//! The verdict is exactly the canonical schemas' (both must hold for a
//! document): we only rewrite messages and locations, never drop an error,
//! except an identical one reported twice through `allOf` branches.

mod messages;
mod path;

use std::sync::OnceLock;

use jsonschema::ValidationError;
use loopc_diagnostics::Diagnostic;
use loopc_syntax::Node;

use crate::registry::declare_rule;

declare_rule! {
    /// ## What it does
    /// Validates the document against the canonical LSS 1.0 JSON Schema
    /// (`schemas/lss-1.0.schema.json`, byte-identical to the standard) and
    /// reports each violation at the node it is about: a wrong type or value
    /// at the value, an unknown field at its key, a missing field at the
    /// mapping that lacks it. For evaluators, whose schema is a `oneOf` of
    /// three kinds, the errors are those of the kind that `type` selects.
    ///
    /// ## Why
    /// The schema is the contract every LSS tool shares; a spec that fails it
    /// is not portable between tools, whatever else is right about it.
    ///
    /// ## Fix
    /// `loopc check --fix` quotes an unquoted `version` as the semver it
    /// stood for (`1.0` → `"1.0.0"`), and completes a reference whose prefix
    /// is missing or that points into a worker when it names exactly one
    /// worker or evaluator (`source: tests` → `evaluators.tests`,
    /// `from: workers.planner.outputs` → `workers.planner`).
    ///
    /// ## Example
    /// ```yaml
    /// workers:
    ///   - id: Planner          # L101: ids are lowercase
    ///     role: plan
    ///     model: { provider: openai }   # L101: missing required field `name`
    /// ```
    pub struct LssSchema { code: "L101", name: "schema", group: "schema", severity: Error, summary: "The document violates the canonical LSS 1.0 JSON Schema." }
}

declare_rule! {
    /// ## What it does
    /// Validates the `composition` block against the canonical LSS 1.1
    /// composition schema (`schemas/lss-1.1-composition.schema.json`). An LSS
    /// 1.1 document must satisfy this schema *and* the LSS 1.0 schema.
    ///
    /// ## Example
    /// ```yaml
    /// composition:
    ///   type: parallel          # L102: a parallel composition needs `merge`
    ///   children: [{ id: a, ref: a.yaml, role: branch }, { id: b, ref: b.yaml, role: branch }]
    /// ```
    pub struct CompositionSchema { code: "L102", name: "composition-schema", group: "schema", severity: Error, summary: "The composition block violates the canonical LSS 1.1 composition schema." }
}

pub(crate) const LSS_1_0: &str = include_str!("../../../../schemas/lss-1.0.schema.json");
pub(crate) const LSS_1_1_COMPOSITION: &str = include_str!("../../../../schemas/lss-1.1-composition.schema.json");

/// LSS 1.0, compiled into Rust at build time (jsonschema's `macros`): a
/// process validates without compiling the schema first.
#[jsonschema::validator(path = "../../schemas/lss-1.0.schema.json", draft = Draft202012)]
struct Lss;

/// The LSS 1.1 composition schema, likewise.
#[jsonschema::validator(path = "../../schemas/lss-1.1-composition.schema.json", draft = Draft202012)]
struct Composition;

/// Every property name the LSS schemas know, for "did you mean" (read only
/// when a message needs it).
fn vocabulary() -> &'static [String] {
    static VOCABULARY: OnceLock<Vec<String>> = OnceLock::new();
    VOCABULARY.get_or_init(|| {
        let mut vocabulary = Vec::new();
        for text in [LSS_1_0, LSS_1_1_COMPOSITION] {
            let schema: serde_json::Value = serde_json::from_str(text).expect("bundled schema is JSON");
            collect_property_names(&schema, &mut vocabulary);
        }
        vocabulary.sort();
        vocabulary.dedup();
        vocabulary
    })
}

fn collect_property_names(schema: &serde_json::Value, out: &mut Vec<String>) {
    match schema {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                out.extend(props.keys().cloned());
            }
            map.values().for_each(|v| collect_property_names(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_property_names(v, out)),
        _ => {}
    }
}

/// Whether `json` satisfies both canonical schemas: the verdict alone.
pub fn is_valid(json: &serde_json::Value) -> bool {
    Lss::is_valid(json) && Composition::is_valid(json)
}

/// Validate a document and map every error to a diagnostic.
pub fn validate(root: &Node, json: &serde_json::Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mapper = messages::Mapper { root, vocabulary };
    for error in Lss::iter_errors(json) {
        mapper.map(&error, &LssSchema::INFO, &mut out);
    }
    if json.get("composition").is_some() {
        for error in Composition::iter_errors(json) {
            mapper.map(&error, &CompositionSchema::INFO, &mut out);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|d: &Diagnostic| seen.insert((d.primary.span, d.message.clone())));
    out
}

/// For tests and tools: the raw error count of the canonical validators.
pub fn raw_error_count(json: &serde_json::Value) -> usize {
    let errors: Vec<ValidationError<'_>> = Lss::iter_errors(json).chain(Composition::iter_errors(json)).collect();
    errors.len()
}
