//! Run inputs: parsed from `key=value` pairs and checked against the plan's
//! input declarations before any worker starts (docs/semantics.md §1).

use loopc_plan::InputDecl;
use serde_json::{Map, Value};

/// `key=value`; the value is JSON when it parses as JSON, else a string.
pub fn parse_pair(pair: &str) -> Result<(String, Value), String> {
    let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value"))?;
    if key.is_empty() {
        return Err(format!("`{pair}` has an empty key"));
    }
    let value = serde_json::from_str::<Value>(value)
        .ok()
        .filter(|v| !v.is_string() || value.starts_with('"'))
        .unwrap_or_else(|| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// Check inputs against their declarations; apply defaults.
pub fn validate(decls: &[InputDecl], mut inputs: Map<String, Value>) -> Result<Map<String, Value>, Vec<String>> {
    let mut errors = Vec::new();
    for d in decls {
        match inputs.get(&d.name) {
            None => {
                if let Some(default) = &d.default {
                    inputs.insert(d.name.clone(), default.clone());
                } else if d.required {
                    errors.push(format!("input `{}` is required", d.name));
                }
            }
            Some(v) => {
                let fits = match d.kind.as_str() {
                    "string" => v.is_string(),
                    "number" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "array" => v.is_array(),
                    "object" => v.is_object(),
                    "enum" => d.values.is_empty() || d.values.contains(v),
                    _ => true,
                };
                if !fits {
                    let expected = if d.kind == "enum" {
                        format!("one of {}", Value::Array(d.values.clone()))
                    } else {
                        format!("a {}", d.kind)
                    };
                    errors.push(format!("input `{}` must be {expected}, got {v}", d.name));
                }
            }
        }
    }
    for key in inputs.keys() {
        if !decls.iter().any(|d| &d.name == key) && !decls.is_empty() {
            errors.push(format!(
                "unknown input `{key}`; the spec declares {}",
                decls.iter().map(|d| format!("`{}`", d.name)).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if errors.is_empty() {
        Ok(inputs)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(parse_pair("n=3").unwrap(), ("n".into(), Value::from(3)));
        assert_eq!(parse_pair("s=hello world").unwrap(), ("s".into(), Value::from("hello world")));
        assert_eq!(parse_pair("b=true").unwrap(), ("b".into(), Value::from(true)));
        assert_eq!(parse_pair("j={\"a\":1}").unwrap().1, serde_json::json!({"a": 1}));
        assert_eq!(parse_pair("e=").unwrap().1, Value::from(""));
        assert!(parse_pair("novalue").is_err());
    }

    #[test]
    fn validation() {
        let decls = vec![
            InputDecl {
                name: "task".into(),
                kind: "string".into(),
                required: true,
                values: vec![],
                default: None,
                pattern: None,
                minimum: None,
                maximum: None,
                max_length: None,
            },
            InputDecl {
                name: "lang".into(),
                kind: "enum".into(),
                required: false,
                values: vec!["rust".into(), "go".into()],
                default: None,
                pattern: None,
                minimum: None,
                maximum: None,
                max_length: None,
            },
        ];
        assert!(validate(&decls, Map::new()).unwrap_err()[0].contains("required"));
        let mut ok = Map::new();
        ok.insert("task".into(), "x".into());
        assert!(validate(&decls, ok.clone()).is_ok());
        ok.insert("lang".into(), "cobol".into());
        assert!(validate(&decls, ok.clone()).unwrap_err()[0].contains("one of"));
        ok.insert("lang".into(), "go".into());
        ok.insert("extra".into(), 1.into());
        assert!(validate(&decls, ok).unwrap_err()[0].contains("unknown input `extra`"));
    }
}
