//! The `config` keys of the safety types loopc's runtime enforces, and what
//! each must hold. LSS leaves `config` open (any keys): only these are read
//! by the runtime, so only these are checked (`loopc check` L424), carried
//! into the plan (`loopc compile`) and enforced. One table for both.

use serde_json::Value;

/// What a config key must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigValue {
    /// A number above zero.
    PositiveNumber,
    /// A whole number, zero or more.
    Count,
    /// A whole number, 8 or more (secret_scan's shortest scored token).
    MinLength,
    /// `true` or `false`.
    Flag,
    /// A list of strings (tool names, globs).
    Strings,
    /// A list of these words.
    Words(&'static [&'static str]),
    /// A string.
    Text,
    /// A JSON Schema: an object or a boolean.
    Schema,
}

impl ConfigValue {
    /// Why `value` does not fit, or `None` when it does.
    pub fn problem(self, value: &Value) -> Option<String> {
        let fits = match self {
            ConfigValue::PositiveNumber => value.as_f64().is_some_and(|f| f > 0.0 && f.is_finite()),
            ConfigValue::Count => whole(value).is_some(),
            ConfigValue::MinLength => whole(value).is_some_and(|n| n >= 8),
            ConfigValue::Flag => value.is_boolean(),
            ConfigValue::Strings => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
            ConfigValue::Words(words) => value
                .as_array()
                .is_some_and(|items| items.iter().all(|i| i.as_str().is_some_and(|w| words.contains(&w)))),
            ConfigValue::Text => value.is_string(),
            ConfigValue::Schema => value.is_object() || value.is_boolean(),
        };
        (!fits).then(|| match self {
            ConfigValue::PositiveNumber => "must be a number above 0".to_owned(),
            ConfigValue::Count => "must be a whole number, 0 or more".to_owned(),
            ConfigValue::MinLength => "must be a whole number, at least 8".to_owned(),
            ConfigValue::Flag => "must be true or false".to_owned(),
            ConfigValue::Strings => "must be a list of strings".to_owned(),
            ConfigValue::Words(words) => format!("must be a list of: {}", words.join(", ")),
            ConfigValue::Text => "must be a string".to_owned(),
            ConfigValue::Schema => "must be a JSON Schema (a mapping, or true/false)".to_owned(),
        })
    }
}

/// A whole number, zero or more (JSON `3` or `3.0`).
pub fn whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// The safety types loopc's runtime enforces (docs/semantics.md §7), each
/// with the config keys it reads. The plan's `SafetyRule` holds one typed
/// struct per entry; a test of `loopc-compile` keeps the two in step.
pub const ENFORCED: &[(&str, &[(&str, ConfigValue)])] = {
    use ConfigValue::*;
    &[
        ("tool_allowlist", &[("allowed", Strings)]),
        (
            "secret_scan",
            &[
                ("entropy_threshold", PositiveNumber),
                ("hex_entropy_threshold", PositiveNumber),
                ("min_length", MinLength),
                ("entropy", Flag),
            ],
        ),
        (
            "output_bounds",
            &[
                ("max_chars", Count),
                ("max_bytes", Count),
                ("max_lines", Count),
                ("max_items", Count),
                ("max_lines_changed", Count),
                ("forbidden_paths", Strings),
            ],
        ),
        ("schema_enforce", &[("schema", Schema), ("schema_ref", Text)]),
        ("human_gate", &[("message", Text)]),
        ("rate_limit", &[("requests_per_minute", Count), ("max_calls", Count)]),
        (
            "pii_detect",
            &[("categories", Words(&["email", "phone", "ssn", "credit_card", "iban"]))],
        ),
    ]
};

/// Whether the runtime enforces safety type `kind`.
pub fn is_enforced(kind: &str) -> bool {
    ENFORCED.iter().any(|(k, _)| *k == kind)
}

/// The enforced types' names, in table order.
pub fn enforced_types() -> Vec<&'static str> {
    ENFORCED.iter().map(|(k, _)| *k).collect()
}

/// The keys the runtime reads for a safety type (none for the types it does not enforce).
pub fn known_keys(kind: &str) -> &'static [(&'static str, ConfigValue)] {
    ENFORCED.iter().find(|(k, _)| *k == kind).map_or(&[], |(_, keys)| keys)
}
