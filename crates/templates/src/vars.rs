//! A template's variables: what each one is, and how a `--set` value (or
//! a line typed at the prompt) becomes a value the template can use.

use minijinja::Value;
use serde::Deserialize;

/// What kind of value a variable takes; the kind decides how its text is
/// read and how it is written into the spec.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A kebab-case identifier, as LSS `loop_name` requires: `^[a-z][a-z0-9-]*$`, 3 to 64 characters.
    Name,
    /// Any single line of text; written as a quoted YAML string.
    Text,
    /// A finite number.
    Number,
    /// A whole number.
    Integer,
    /// Comma-separated text items; written as a YAML flow sequence of quoted strings.
    List,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Name => "name",
            Kind::Text => "text",
            Kind::Number => "number",
            Kind::Integer => "integer",
            Kind::List => "list",
        }
    }
}

/// One variable of a template, as `template.toml` declares it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Var {
    pub name: String,
    pub description: String,
    pub kind: Kind,
    /// The default, written as it would be given to `--set`.
    pub default: String,
    /// Bounds of a number or integer (inclusive).
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// The values a text variable may take, when it is one of a few.
    #[serde(default)]
    pub choices: Vec<String>,
}

impl Var {
    /// The value `text` stands for, or why it is not one this variable takes.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        if text.chars().any(|c| c.is_control() && c != '\t') && self.kind != Kind::Text {
            return Err("must be a single line without control characters".into());
        }
        let value = match self.kind {
            Kind::Name => {
                let ok = text.len() >= 3
                    && text.len() <= 64
                    && text.starts_with(|c: char| c.is_ascii_lowercase())
                    && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if !ok {
                    return Err(
                        "must be kebab-case: a lowercase letter, then lowercase letters, digits and `-`, 3 to 64 characters".into(),
                    );
                }
                Value::from(text)
            }
            Kind::Text => {
                if text.trim().is_empty() {
                    return Err("must not be empty".into());
                }
                if !self.choices.is_empty() && !self.choices.iter().any(|c| c == text) {
                    return Err(format!("must be one of {}", self.choices.join(", ")));
                }
                Value::from(text)
            }
            Kind::Number => {
                let n: f64 = text.trim().parse().map_err(|_| "must be a number".to_owned())?;
                if !n.is_finite() {
                    return Err("must be a finite number".into());
                }
                self.bounded(n)?;
                // A whole number is written as one (`8`, not `8.0`).
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    Value::from(n as i64)
                } else {
                    Value::from(n)
                }
            }
            Kind::Integer => {
                let n: i64 = text.trim().parse().map_err(|_| "must be a whole number".to_owned())?;
                self.bounded(n as f64)?;
                Value::from(n)
            }
            Kind::List => {
                let items: Vec<Value> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Value::from).collect();
                if items.is_empty() {
                    return Err("must list at least one item, separated by commas".into());
                }
                Value::from(items)
            }
        };
        Ok(value)
    }

    fn bounded(&self, n: f64) -> Result<(), String> {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) if n < lo || n > hi => Err(format!("must be between {lo} and {hi}")),
            (Some(lo), _) if n < lo => Err(format!("must be at least {lo}")),
            (_, Some(hi)) if n > hi => Err(format!("must be at most {hi}")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(kind: Kind) -> Var {
        Var {
            name: "x".into(),
            description: "x".into(),
            kind,
            default: String::new(),
            min: Some(1.0),
            max: Some(10.0),
            choices: Vec::new(),
        }
    }

    #[test]
    fn names_are_kebab_case() {
        let v = var(Kind::Name);
        assert!(v.parse("ci-fix-2").is_ok());
        for bad in ["Ci", "ab", "2fix", "fix me", "fix_me", "fix\nme", "a: b"] {
            assert!(v.parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_are_bounded_and_finite() {
        let v = var(Kind::Number);
        assert_eq!(v.parse("2.5").unwrap(), Value::from(2.5));
        assert_eq!(v.parse("8.0").unwrap().to_string(), "8");
        assert!(v.parse("0.5").unwrap_err().contains("between 1 and 10"));
        assert!(v.parse("inf").is_err());
        assert!(v.parse("1e999").is_err());
        let i = var(Kind::Integer);
        assert_eq!(i.parse("4").unwrap(), Value::from(4));
        assert!(i.parse("4.5").is_err());
        assert!(i.parse("11").is_err());
    }

    #[test]
    fn lists_split_on_commas() {
        let v = var(Kind::List);
        assert_eq!(
            v.parse(" bug, docs ,,").unwrap(),
            Value::from(vec![Value::from("bug"), Value::from("docs")])
        );
        assert!(v.parse(" , ").is_err());
    }

    #[test]
    fn choices_are_enforced() {
        let mut v = var(Kind::Text);
        v.choices = vec!["openai".into(), "anthropic".into()];
        assert!(v.parse("openai").is_ok());
        assert!(v.parse("mistral").unwrap_err().contains("one of openai, anthropic"));
    }
}
