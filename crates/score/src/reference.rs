//! The reference scorer's semantics: Python value semantics over JSON documents.
//!
//! The reference scorer is Python code that reads a parsed document with
//! `dict.get`, truthiness, `len`, `int()` and `float()`. To reproduce its
//! numbers (and to know when it would raise instead of scoring) the structural
//! scorer goes through the helpers here. [`Cx`] carries the mode: in parity
//! mode an ill-typed value yields `Err` (the reference would raise); in the
//! default mode the value is ignored and a note says so.

use serde_json::{Map, Value};

/// `Err(message)`: the reference implementation would raise here.
pub(crate) type Py<T> = Result<T, String>;

/// Python truthiness of an optional JSON value (`None`/null, `false`, `0`,
/// `""`, `[]` and `{}` are false).
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// `dict.get(key)`: a JSON null reads as absent, as Python's `None` does.
pub(crate) fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).filter(|v| !v.is_null())
}

/// `dict.get(key)` compared with a string.
pub(crate) fn get_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// The Python type name of a JSON value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The JSON kind of a value, for notes (`a number`, `a string`, ...).
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Rounds like Python's `round(x, digits)` (exact binary value, ties to even).
pub(crate) fn round_to(x: f64, digits: usize) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.digits$}").parse().unwrap_or(x)
}

/// `max(0.0, min(1.0, x))`, where NaN becomes 1.0 as in Python (`clamp`
/// would keep NaN).
#[allow(clippy::manual_clamp)]
pub(crate) fn clamp01(x: f64) -> f64 {
    f64::max(0.0, f64::min(1.0, x))
}

/// A number, or a string that Python's `float()` accepts (booleans excluded).
pub(crate) fn number_like(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_py_float(s),
        _ => None,
    }
}

/// Python `int(v)`; `Err` with the exception Python would raise.
pub(crate) fn py_int(v: &Value) -> Py<f64> {
    match v {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i as f64)
            } else if let Some(u) = n.as_u64() {
                Ok(u as f64)
            } else {
                Ok(n.as_f64().unwrap_or(0.0).trunc())
            }
        }
        Value::String(s) => parse_py_int(s).ok_or_else(|| format!("ValueError: invalid literal for int() with base 10: {s:?}")),
        other => Err(format!(
            "TypeError: int() argument must be a string, a bytes-like object or a real number, not '{}'",
            type_name(other)
        )),
    }
}

/// Python `float(v)`; `Err` with the exception Python would raise.
pub(crate) fn py_float(v: &Value) -> Py<f64> {
    match v {
        Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => parse_py_float(s).ok_or_else(|| format!("ValueError: could not convert string to float: {s:?}")),
        other => Err(format!(
            "TypeError: float() argument must be a string or a real number, not '{}'",
            type_name(other)
        )),
    }
}

/// Removes underscores placed between digits (Python numeric literal rule);
/// `None` when an underscore is misplaced.
fn strip_digit_underscores(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            let before = i > 0 && chars[i - 1].is_ascii_digit();
            let after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Python `int(str)` for base 10.
pub(crate) fn parse_py_int(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let digits = strip_digit_underscores(body)?;
    let x: f64 = digits.parse().ok()?;
    Some(if neg { -x } else { x })
}

/// Python `float(str)`.
pub(crate) fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let x = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else {
        // digits [. digits] [e [sign] digits], or . digits [...]
        let b = body.as_bytes();
        let mut i = 0;
        let digit_run = |i: &mut usize| {
            let start = *i;
            while *i < b.len() && (b[*i].is_ascii_digit() || b[*i] == b'_') {
                *i += 1;
            }
            *i > start
        };
        let int_part = digit_run(&mut i);
        let mut frac_part = false;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            frac_part = digit_run(&mut i);
        }
        if !int_part && !frac_part {
            return None;
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                i += 1;
            }
            if !digit_run(&mut i) {
                return None;
            }
        }
        if i != b.len() {
            return None;
        }
        let cleaned = strip_digit_underscores(body)?;
        cleaned.parse::<f64>().ok()?
    };
    Some(if neg { -x } else { x })
}

/// Scoring context: parity or default mode, plus the notes gathered about
/// values the default mode ignored.
pub(crate) struct Cx {
    /// Reproduce the reference's behaviour, including where it raises.
    pub parity: bool,
    /// Human-readable notes about ignored or ill-typed values (default mode).
    pub notes: Vec<String>,
}

impl Cx {
    pub(crate) fn new(parity: bool) -> Self {
        Cx { parity, notes: Vec::new() }
    }

    /// Records a note once; a second note about the same `` `field` `` is
    /// dropped.
    pub(crate) fn note(&mut self, msg: String) {
        let subject = |m: &str| {
            m.strip_prefix('`')
                .and_then(|rest| rest.find('`').map(|end| rest[..end].to_string()))
        };
        let dup = match subject(&msg) {
            Some(field) => self.notes.iter().any(|n| subject(n).as_deref() == Some(field.as_str())),
            None => self.notes.contains(&msg),
        };
        if !dup {
            self.notes.push(msg);
        }
    }

    /// An ill-typed value: `Err(py_error)` in parity mode, a note otherwise.
    pub(crate) fn ill(&mut self, py_error: String, note: String) -> Py<()> {
        if self.parity {
            Err(py_error)
        } else {
            self.note(note);
            Ok(())
        }
    }

    /// `len(value or [])`. The default mode counts only lists and mappings.
    pub(crate) fn count(&mut self, v: Option<&Value>, what: &str) -> Py<usize> {
        if !truthy(v) {
            return Ok(0);
        }
        match v.expect("truthy") {
            Value::Array(a) => Ok(a.len()),
            Value::Object(o) => Ok(o.len()),
            Value::String(s) => {
                if self.parity {
                    Ok(s.chars().count())
                } else {
                    self.note(format!("`{what}` is a string, not a list: counted as empty"));
                    Ok(0)
                }
            }
            other => {
                self.ill(
                    format!("TypeError: object of type '{}' has no len() ({what})", type_name(other)),
                    format!("`{what}` is {}, not a list: ignored", kind(other)),
                )?;
                Ok(0)
            }
        }
    }

    /// `for item in (value or []): item.get(...)`: the mapping items. In the
    /// default mode non-mapping items are skipped and a mapping container is
    /// read as the collection of its values.
    pub(crate) fn dicts<'v>(&mut self, v: Option<&'v Value>, what: &str) -> Py<Vec<&'v Map<String, Value>>> {
        if !truthy(v) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        match v.expect("truthy") {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(m) => out.push(m),
                        other => {
                            self.ill(
                                format!(
                                    "AttributeError: '{}' object has no attribute 'get' (an item of {what})",
                                    type_name(other)
                                ),
                                format!("an item of `{what}` is {}, not a mapping: skipped", kind(other)),
                            )?;
                        }
                    }
                }
            }
            Value::Object(m) => {
                if self.parity {
                    return Err(format!(
                        "AttributeError: 'str' object has no attribute 'get' ({what} is a mapping, iterated by key)"
                    ));
                }
                for item in m.values() {
                    if let Value::Object(inner) = item {
                        out.push(inner);
                    }
                }
            }
            Value::String(_) => {
                self.ill(
                    format!("AttributeError: 'str' object has no attribute 'get' ({what} is a string)"),
                    format!("`{what}` is a string, not a list: ignored"),
                )?;
            }
            other => {
                self.ill(
                    format!("TypeError: '{}' object is not iterable ({what})", type_name(other)),
                    format!("`{what}` is {}, not a list: ignored", kind(other)),
                )?;
            }
        }
        Ok(out)
    }

    /// `(value or {}).get(...)`: the mapping, or `None` when empty.
    pub(crate) fn mapping<'v>(&mut self, v: Option<&'v Value>, what: &str) -> Py<Option<&'v Map<String, Value>>> {
        if !truthy(v) {
            return Ok(None);
        }
        match v.expect("truthy") {
            Value::Object(m) => Ok(Some(m)),
            other => {
                self.ill(
                    format!("AttributeError: '{}' object has no attribute 'get' ({what})", type_name(other)),
                    format!("`{what}` is {}, not a mapping: ignored", kind(other)),
                )?;
                Ok(None)
            }
        }
    }

    /// Python `int(v)`: `Ok(None)` when the default mode ignores the value.
    /// Booleans are numbers to Python but not to the default mode.
    pub(crate) fn int(&mut self, v: &Value, what: &str) -> Py<Option<f64>> {
        if matches!(v, Value::Bool(_)) && !self.parity {
            self.note(format!("`{what}` is a boolean, not a number: ignored"));
            return Ok(None);
        }
        match py_int(v) {
            Ok(x) => Ok(Some(x)),
            Err(e) => {
                self.ill(format!("{e} ({what})"), format!("`{what}` is not an integer: ignored"))?;
                Ok(None)
            }
        }
    }

    /// Python `float(v)`: `Ok(None)` when the default mode ignores the value.
    pub(crate) fn float(&mut self, v: &Value, what: &str) -> Py<Option<f64>> {
        if matches!(v, Value::Bool(_)) && !self.parity {
            self.note(format!("`{what}` is a boolean, not a number: ignored"));
            return Ok(None);
        }
        match py_float(v) {
            Ok(x) => Ok(Some(x)),
            Err(e) => {
                self.ill(format!("{e} ({what})"), format!("`{what}` is not a number: ignored"))?;
                Ok(None)
            }
        }
    }

    /// `spec.get("taxonomy_level", 1)` used as a number.
    pub(crate) fn level(&mut self, doc: &Map<String, Value>) -> Py<f64> {
        match doc.get("taxonomy_level") {
            None => Ok(1.0),
            Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(1.0)),
            Some(Value::Bool(b)) if self.parity => Ok(f64::from(u8::from(*b))),
            Some(other) => {
                self.ill(
                    format!(
                        "TypeError: '>=' not supported between instances of '{}' and 'int' (taxonomy_level)",
                        type_name(other)
                    ),
                    format!("`taxonomy_level` is {}, not a number: level 1 assumed", kind(other)),
                )?;
                Ok(1.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_numbers() {
        assert_eq!(parse_py_int(" 1_000 "), Some(1000.0));
        assert_eq!(parse_py_int("1__0"), None);
        assert_eq!(parse_py_int("10.0"), None);
        assert_eq!(parse_py_float("1_0.5e1"), Some(105.0));
        assert_eq!(parse_py_float(".5"), Some(0.5));
        assert_eq!(parse_py_float("5."), Some(5.0));
        assert_eq!(parse_py_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_py_float("nan").unwrap().is_nan());
        assert_eq!(parse_py_float("1e"), None);
        assert_eq!(parse_py_float("abc"), None);
        assert_eq!(py_int(&json!(9.9)).unwrap(), 9.0);
        assert_eq!(py_int(&json!(-9.9)).unwrap(), -9.0);
        assert!(py_int(&json!([1])).is_err());
    }

    #[test]
    fn rounding_matches_python() {
        // Python: round(0.125, 2) == 0.12, round(70.45, 1) == 70.5, round(2.5) == 2
        assert_eq!(round_to(0.125, 2), 0.12);
        assert_eq!(round_to(70.45, 1), 70.5);
        assert_eq!(round_to(2.5, 0), 2.0);
        assert_eq!(round_to(0.25, 1), 0.2);
    }

    #[test]
    fn truthiness() {
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(0.0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(!truthy(Some(&json!({}))));
        assert!(truthy(Some(&json!("0"))));
        assert!(truthy(Some(&json!([0]))));
    }
}
