//! Run inputs: parsed from `key=value` pairs and checked against the plan's
//! input declarations before any worker starts (docs/semantics.md §1).

use loopc_plan::InputDecl;
use serde_json::{Map, Value};

/// A `key=value` input that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("`{pair}` is not key=value")]
    NotKeyValue { pair: String },
    #[error("`{pair}` has an empty key")]
    EmptyKey { pair: String },
}

/// `key=value`; the value is JSON when it parses as JSON, else a string.
pub fn parse_pair(pair: &str) -> Result<(String, Value), InputError> {
    let (key, value) = pair
        .split_once('=')
        .ok_or_else(|| InputError::NotKeyValue { pair: pair.to_owned() })?;
    if key.is_empty() {
        return Err(InputError::EmptyKey { pair: pair.to_owned() });
    }
    let value = serde_json::from_str::<Value>(value)
        .ok()
        .filter(|v| !v.is_string() || value.starts_with('"'))
        .unwrap_or_else(|| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

/// What is wrong with `value` for input `d`: its type, its `values`, and
/// its `pattern`, `minimum`, `maximum`, `min_length` and `max_length` (as
/// JSON Schema means them: lengths of strings in characters, of arrays in
/// items; `pattern` an ECMA-262 regular expression, unanchored).
fn problems(d: &InputDecl, value: &Value) -> Vec<String> {
    use loopc_plan::InputKind;
    let fits = match d.kind {
        InputKind::String => value.is_string(),
        InputKind::Number => value.is_number(),
        InputKind::Boolean => value.is_boolean(),
        InputKind::Array => value.is_array(),
        InputKind::Object => value.is_object(),
        InputKind::Enum => true,
    };
    if !fits {
        return vec![format!("input `{}` must be a {}, got {value}", d.name, d.kind)];
    }
    if !d.values.is_empty() && !d.values.contains(value) {
        return vec![format!(
            "input `{}` must be one of {}, got {value}",
            d.name,
            Value::Array(d.values.clone())
        )];
    }
    let mut out = Vec::new();
    let name = &d.name;
    if let (Some(n), Some(min)) = (value.as_f64(), d.minimum) {
        if n < min {
            out.push(format!("input `{name}` must be at least {min}, got {value}"));
        }
    }
    if let (Some(n), Some(max)) = (value.as_f64(), d.maximum) {
        if n > max {
            out.push(format!("input `{name}` must be at most {max}, got {value}"));
        }
    }
    let length = match value {
        Value::String(s) => Some((s.chars().count() as u64, "characters")),
        Value::Array(items) => Some((items.len() as u64, "items")),
        _ => None,
    };
    if let Some((len, unit)) = length {
        if d.min_length.is_some_and(|min| len < min) {
            out.push(format!(
                "input `{name}` must have at least {} {unit}, has {len}",
                d.min_length.unwrap_or_default()
            ));
        }
        if d.max_length.is_some_and(|max| len > max) {
            out.push(format!(
                "input `{name}` must have at most {} {unit}, has {len}",
                d.max_length.unwrap_or_default()
            ));
        }
    }
    if let (Value::String(text), Some(pattern)) = (value, &d.pattern) {
        // The schema's regular-expression dialect, as JSON Schema's `pattern`.
        match jsonschema::validator_for(&serde_json::json!({ "pattern": pattern })) {
            Ok(v) if !v.is_valid(value) => out.push(format!(
                "input `{name}` must match the pattern `{pattern}`, got {}",
                Value::String(text.clone())
            )),
            Ok(_) => {}
            Err(e) => out.push(format!(
                "input `{name}`: the spec's pattern `{pattern}` is not a valid regular expression: {e}"
            )),
        }
    }
    out
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
            Some(v) => errors.extend(problems(d, v)),
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
        assert_eq!(parse_pair("novalue"), Err(InputError::NotKeyValue { pair: "novalue".into() }));
        assert_eq!(parse_pair("=1"), Err(InputError::EmptyKey { pair: "=1".into() }));
    }

    fn decl(name: &str, kind: loopc_plan::InputKind) -> InputDecl {
        InputDecl {
            name: name.into(),
            kind,
            required: false,
            values: vec![],
            default: None,
            pattern: None,
            minimum: None,
            maximum: None,
            min_length: None,
            max_length: None,
        }
    }

    #[test]
    fn validation() {
        use loopc_plan::InputKind;
        let decls = vec![
            InputDecl {
                required: true,
                ..decl("task", InputKind::String)
            },
            InputDecl {
                values: vec!["rust".into(), "go".into()],
                ..decl("lang", InputKind::Enum)
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

    #[test]
    fn declared_constraints_are_enforced() {
        use loopc_plan::InputKind;
        use serde_json::json;
        let decls = vec![
            InputDecl {
                values: vec![json!(1), json!(2), json!(3)],
                ..decl("level", InputKind::Enum)
            },
            InputDecl {
                minimum: Some(0.0),
                maximum: Some(1.0),
                ..decl("ratio", InputKind::Number)
            },
            InputDecl {
                pattern: Some("^[a-z]+/[a-z]+$".into()),
                min_length: Some(3),
                max_length: Some(12),
                ..decl("repo", InputKind::String)
            },
            InputDecl {
                default: Some(json!("main")),
                ..decl("branch", InputKind::String)
            },
        ];
        let check = |pairs: &[(&str, Value)]| validate(&decls, pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect());
        let ok = check(&[("level", json!(2)), ("ratio", json!(0.5)), ("repo", json!("acme/app"))]).unwrap();
        assert_eq!(ok["branch"], json!("main"), "the default applies");
        assert!(check(&[("level", json!(7))]).unwrap_err()[0].contains("one of [1,2,3]"));
        assert!(
            check(&[("level", json!("2"))]).unwrap_err()[0].contains("one of"),
            "a numeric enum is not a string enum"
        );
        assert!(check(&[("ratio", json!(1.5))]).unwrap_err()[0].contains("at most 1"));
        assert!(check(&[("ratio", json!(-1))]).unwrap_err()[0].contains("at least 0"));
        assert!(check(&[("repo", json!("Acme/App"))]).unwrap_err()[0].contains("must match the pattern"));
        assert!(check(&[("repo", json!("a/"))])
            .unwrap_err()
            .iter()
            .any(|e| e.contains("at least 3 characters")));
        assert!(check(&[("repo", json!("abcdefgh/ijklmn"))]).unwrap_err()[0].contains("at most 12 characters"));
    }
}
