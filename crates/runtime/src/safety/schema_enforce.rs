//! `schema_enforce`: the output must match a JSON Schema (inline, or the
//! `schema_ref` file `loopc compile` embedded). A string output that parses
//! as JSON is validated as that JSON. External `$ref`s are not fetched.

use serde_json::Value;

use super::constraint::{Constraint, Context, Found};

pub(crate) struct SchemaEnforce {
    validator: Box<jsonschema::Validator>,
    /// How messages name the schema.
    source: String,
}

impl SchemaEnforce {
    pub fn new(config: &loopc_plan::SchemaEnforce) -> Result<Self, String> {
        let source = config.source.as_ref().map_or_else(|| "(inline)".to_owned(), |s| format!("`{s}`"));
        if !config.schema.is_object() && !config.schema.is_boolean() {
            return Err("`config.schema` must be a JSON Schema object".into());
        }
        let validator = jsonschema::validator_for(&config.schema).map_err(|e| format!("invalid schema {source}: {e}"))?;
        Ok(SchemaEnforce {
            validator: Box::new(validator),
            source,
        })
    }
}

impl Constraint for SchemaEnforce {
    fn output(&self, _cx: &Context<'_>, value: &Value) -> Option<Found> {
        let parsed;
        let instance = match value {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v) => {
                    parsed = v;
                    &parsed
                }
                Err(_) => value,
            },
            other => other,
        };
        let errors: Vec<String> = self
            .validator
            .iter_errors(instance)
            .take(6)
            .map(|e| {
                let at = e.instance_path().to_string();
                let text: String = e.to_string().chars().take(200).collect();
                format!("at `{}`: {text}", if at.is_empty() { "/" } else { at.as_str() })
            })
            .collect();
        if errors.is_empty() {
            return None;
        }
        let mut shown = errors.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
        if errors.len() > 5 {
            shown.push_str("; …");
        }
        Some(Found::new(format!("output does not match schema {}: {shown}", self.source)))
    }
}
