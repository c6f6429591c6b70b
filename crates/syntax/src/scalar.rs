//! Plain-scalar resolution by the YAML 1.2 core schema (spec 10.3.2).
//!
//! Only these spellings are null, booleans or numbers; everything else is a
//! string. In particular YAML 1.1's `yes`/`no`/`on`/`off`, sexagesimal
//! `1:30` and `0777` octals are strings or decimals here, as YAML 1.2 says.

use crate::tree::Value;

pub(crate) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(v) = resolve_int(text) {
        return v;
    }
    if let Some(v) = resolve_float(text) {
        return v;
    }
    Value::String(text.to_owned())
}

fn resolve_int(text: &str) -> Option<Value> {
    let radix_int = |digits: &str, radix: u32| {
        (!digits.is_empty() && digits.chars().all(|c| c.is_digit(radix)))
            .then(|| i64::from_str_radix(digits, radix).map_or_else(|_| big(digits, radix), Value::Int))
    };
    if let Some(octal) = text.strip_prefix("0o") {
        return radix_int(octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return radix_int(hex, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.parse::<i64>()
            .map_or_else(|_| Value::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)), Value::Int),
    )
}

/// Integers beyond i64 become floats: JSON Schema still counts them as integers.
fn big(digits: &str, radix: u32) -> Value {
    Value::Float(
        digits
            .chars()
            .fold(0.0, |acc, c| acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))),
    )
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` and the infinities.
fn resolve_float(text: &str) -> Option<Value> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(Value::Float(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }));
    }
    let bytes = unsigned.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let integer_digits = digits(&mut i);
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let fraction_digits = digits(&mut i);
        if integer_digits == 0 && fraction_digits == 0 {
            return None;
        }
    } else if integer_digits == 0 {
        return None;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().map(Value::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_1_booleans_are_strings() {
        for word in ["yes", "no", "on", "off", "Yes", "NO", "y", "n"] {
            assert_eq!(resolve_plain(word), Value::String(word.into()), "{word}");
        }
    }

    #[test]
    fn core_schema_values() {
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("True"), Value::Bool(true));
        assert_eq!(resolve_plain("-12"), Value::Int(-12));
        assert_eq!(resolve_plain("0o17"), Value::Int(15));
        assert_eq!(resolve_plain("0x1F"), Value::Int(31));
        assert_eq!(resolve_plain("0777"), Value::Int(777));
        assert_eq!(resolve_plain("1.0"), Value::Float(1.0));
        assert_eq!(resolve_plain(".5"), Value::Float(0.5));
        assert_eq!(resolve_plain("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain("1."), Value::Float(1.0));
        assert_eq!(resolve_plain("-.inf"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".nan"), Value::Float(f) if f.is_nan()));
        for s in ["1.0.0", "1:30", "0x", "e3", ".", "1e", "1_000", "+", "- 1", "0b101"] {
            assert_eq!(resolve_plain(s), Value::String(s.into()), "{s}");
        }
    }

    #[test]
    fn huge_integers_become_floats() {
        assert_eq!(resolve_plain("99999999999999999999"), Value::Float(1e20));
    }
}
