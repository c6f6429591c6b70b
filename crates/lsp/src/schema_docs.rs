//! What a field means, for hover: read from the LSS JSON Schema by the
//! key's path in the document.
//!
//! The schema built in is the editor schema, `schemas/lss.schema.json`: the
//! canonical LSS 1.0 schema with the LSS 1.1 composition block merged in and
//! a description on every property (tests/editor_schema.rs keeps it exact
//! and complete). The walk follows what JSON Schema can say about a
//! member: `properties`, `patternProperties` (literal-prefix patterns such as
//! `^x_`), `additionalProperties`, `items`/`prefixItems`, `$ref`s into the
//! same file and the `allOf`/`anyOf`/`oneOf` (and `then`/`else`) branches,
//! and takes the first description found, the property's own before its
//! `$ref`'s, `markdownDescription` before `description`.

use std::sync::OnceLock;

use serde_json::Value;

/// The built-in schemas, in the order they are asked.
const SCHEMAS: [&str; 1] = [include_str!("../../../schemas/lss.schema.json")];

/// How many `$ref`s and branches deep the walk goes before it stops (the
/// schemas are acyclic along a path, but a hand-edited one need not be).
const MAX_DEPTH: usize = 24;

/// One step of a key's path in the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `workers[].depends_on`: the path as the schema sees it (any item).
pub fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(_) => out.push_str("[]"),
        }
    }
    out
}

/// What the schema says of one field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldDoc {
    /// Markdown (a plain `description` is Markdown too).
    pub description: Option<String>,
    /// The JSON type(s), `string`, `array`, ….
    pub kind: Option<String>,
    /// The values allowed, for an `enum` or a `const`.
    pub values: Vec<String>,
    pub default: Option<String>,
}

/// The documentation of the field at `path` in the built-in schemas.
pub fn field_doc(path: &[Step]) -> Option<FieldDoc> {
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    let schemas = PARSED.get_or_init(|| SCHEMAS.iter().filter_map(|text| serde_json::from_str(text).ok()).collect());
    field_doc_in(schemas, path)
}

/// [`field_doc`] in `schemas`: the first schema that knows the path.
pub fn field_doc_in(schemas: &[Value], path: &[Step]) -> Option<FieldDoc> {
    schemas.iter().find_map(|root| {
        let nodes = walk(root, path);
        (!nodes.is_empty()).then(|| summarise(&nodes))
    })
}

fn summarise(nodes: &[&Value]) -> FieldDoc {
    let text = |node: &Value, key: &str| {
        node.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let description = nodes
        .iter()
        .find_map(|n| text(n, "markdownDescription").or_else(|| text(n, "description")));
    let kind = nodes.iter().find_map(|n| match n.get("type")? {
        Value::String(t) => Some(t.clone()),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | ")),
        _ => None,
    });
    let values = nodes
        .iter()
        .find_map(|n| match (n.get("enum"), n.get("const")) {
            (Some(Value::Array(values)), _) => Some(values.iter().map(Value::to_string).collect()),
            (_, Some(value)) => Some(vec![value.to_string()]),
            _ => None,
        })
        .unwrap_or_default();
    let default = nodes.iter().find_map(|n| n.get("default")).map(Value::to_string);
    FieldDoc {
        description,
        kind,
        values,
        default,
    }
}

/// The schema nodes that describe the value at `path`, most specific first.
fn walk<'a>(root: &'a Value, path: &[Step]) -> Vec<&'a Value> {
    let mut level = Vec::new();
    expand(root, root, 0, &mut level);
    for step in path {
        let mut next = Vec::new();
        for node in &level {
            for child in members(node, step) {
                expand(root, child, 0, &mut next);
            }
        }
        if next.is_empty() {
            return next;
        }
        level = next;
    }
    level
}

/// `node`, then what it stands for: its `$ref`'s target and its branches.
fn expand<'a>(root: &'a Value, node: &'a Value, depth: usize, out: &mut Vec<&'a Value>) {
    if depth > MAX_DEPTH || out.iter().any(|seen| std::ptr::eq(*seen, node)) {
        return;
    }
    out.push(node);
    if let Some(target) = node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| root.pointer(pointer))
    {
        expand(root, target, depth + 1, out);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for branch in node.get(key).and_then(Value::as_array).into_iter().flatten() {
            expand(root, branch, depth + 1, out);
        }
    }
    for key in ["then", "else"] {
        if let Some(branch) = node.get(key) {
            expand(root, branch, depth + 1, out);
        }
    }
}

/// The schemas `node` gives the member `step` of its value.
fn members<'a>(node: &'a Value, step: &Step) -> Vec<&'a Value> {
    let object = |key: &str| node.get(key).filter(|v| v.is_object());
    match step {
        Step::Key(key) => {
            if let Some(property) = node.get("properties").and_then(|p| p.get(key.as_str())) {
                return vec![property];
            }
            let patterned: Vec<&Value> = node
                .get("patternProperties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(pattern, _)| literal_prefix(pattern).is_some_and(|prefix| key.starts_with(prefix)))
                .map(|(_, schema)| schema)
                .collect();
            if !patterned.is_empty() {
                return patterned;
            }
            object("additionalProperties").into_iter().collect()
        }
        Step::Index(i) => node
            .get("prefixItems")
            .and_then(|items| items.get(*i))
            .or_else(|| object("items"))
            .into_iter()
            .collect(),
    }
}

/// `x_` for the pattern `^x_`: the patterns this walk can match without a
/// regular-expression engine (anything else matches nothing here).
fn literal_prefix(pattern: &str) -> Option<&str> {
    let prefix = pattern.strip_prefix('^')?;
    prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        .then_some(prefix)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_owned())
    }

    #[test]
    fn the_walk_follows_refs_items_and_branches() {
        let schema = json!({
            "properties": {
                "workers": { "type": "array", "items": { "$ref": "#/$defs/Worker" } },
                "evaluators": { "items": { "oneOf": [{ "$ref": "#/$defs/A" }, { "$ref": "#/$defs/B" }] } }
            },
            "patternProperties": { "^x_": { "description": "An extension." } },
            "$defs": {
                "Worker": { "properties": {
                    "id": { "$ref": "#/$defs/Id", "description": "Plain words." , "markdownDescription": "**Bold** words." },
                    "depends_on": { "type": "array", "description": "Workers first." }
                } },
                "Id": { "type": "string", "description": "Ids in general." },
                "A": { "properties": { "kind": { "const": "a" } } },
                "B": { "properties": { "queue": { "type": "string", "enum": ["x", "y"], "description": "Queue." } } }
            }
        });
        let doc = |path: &[Step]| field_doc_in(std::slice::from_ref(&schema), path);
        let id = doc(&[key("workers"), Step::Index(3), key("id")]).unwrap();
        assert_eq!(
            id.description.as_deref(),
            Some("**Bold** words."),
            "markdown first, the property before its $ref"
        );
        assert_eq!(id.kind.as_deref(), Some("string"), "the type from the $ref");
        let queue = doc(&[key("evaluators"), Step::Index(0), key("queue")]).unwrap();
        assert_eq!(queue.description.as_deref(), Some("Queue."), "found in the second oneOf branch");
        assert_eq!(queue.values, ["\"x\"", "\"y\""]);
        assert_eq!(doc(&[key("x_owner")]).unwrap().description.as_deref(), Some("An extension."));
        assert_eq!(doc(&[key("nothing")]), None);
        assert_eq!(display(&[key("workers"), Step::Index(3), key("id")]), "workers[].id");
    }

    #[test]
    fn the_built_in_schemas_describe_lss_and_its_composition_block() {
        let source = field_doc(&[key("feedback_channels"), Step::Index(0), key("source")]).unwrap();
        assert!(source.description.unwrap().contains("evaluators"));
        let kind = field_doc(&[key("composition"), key("type")]).unwrap();
        assert_eq!(kind.values, ["\"sequential\"", "\"parallel\"", "\"nested\""]);
        assert!(field_doc(&[key("loop_name")]).unwrap().description.is_some());
    }
}
