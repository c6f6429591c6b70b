//! Loop Trace 1.0 schema rules (schemas/loop-trace-1.0.schema.json), checked
//! by hand: required keys, types, `const`, `minLength`, `minItems`,
//! `minimum` and the RFC 3339 `date-time` format.

use serde_json::{Map, Value};

/// Seconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`), or `None` if malformed.
pub fn parse_datetime(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (h, mi, sec) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > mdays[(mo - 1) as usize] {
        return None;
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        frac = format!("0.{}", &s[start..i]).parse().ok()?;
    }
    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (oh, om) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian).
    let (yy, mm) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) as f64 + frac)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON Schema `integer`: an integer, or a number with no fractional part.
fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0),
        _ => false,
    }
}

struct Checker {
    errors: Vec<String>,
}

impl Checker {
    fn err(&mut self, path: &str, msg: String) {
        self.errors.push(format!("{}: {msg}", if path.is_empty() { "/" } else { path }));
    }

    fn string(&mut self, m: &Map<String, Value>, key: &str, path: &str, min_len: usize, date: bool) {
        let Some(v) = m.get(key) else { return };
        let p = format!("{path}/{key}");
        match v {
            Value::String(s) => {
                if s.chars().count() < min_len {
                    self.err(&p, format!("{s:?} is shorter than {min_len} character"));
                }
                if date && parse_datetime(s).is_none() {
                    self.err(&p, format!("{s:?} is not a valid RFC 3339 date-time"));
                }
            }
            other => self.err(&p, format!("expected a string, found {}", kind(other))),
        }
    }

    fn number(&mut self, m: &Map<String, Value>, key: &str, path: &str) {
        let Some(v) = m.get(key) else { return };
        let p = format!("{path}/{key}");
        match v.as_f64() {
            Some(x) if x < 0.0 => self.err(&p, format!("{x} is less than the minimum of 0")),
            Some(_) => {}
            None => self.err(&p, format!("expected a number, found {}", kind(v))),
        }
    }

    fn required(&mut self, m: &Map<String, Value>, keys: &[&str], path: &str) {
        for k in keys {
            if !m.contains_key(*k) {
                self.err(path, format!("missing required property {k:?}"));
            }
        }
    }

    fn iteration(&mut self, v: &Value, path: &str) {
        let Value::Object(m) = v else {
            self.err(path, format!("expected an object, found {}", kind(v)));
            return;
        };
        self.required(m, &["iteration", "timestamp"], path);
        if let Some(it) = m.get("iteration") {
            if !is_integer(it) {
                self.err(&format!("{path}/iteration"), format!("expected an integer, found {}", kind(it)));
            } else if it.as_f64().is_some_and(|x| x < 0.0) {
                self.err(&format!("{path}/iteration"), format!("{it} is less than the minimum of 0"));
            }
        }
        self.string(m, "timestamp", path, 0, true);
        self.string(m, "worker_id", path, 0, false);
        self.string(m, "worker_output", path, 0, false);
        if let Some(ev) = m.get("evaluator_scores") {
            let p = format!("{path}/evaluator_scores");
            match ev {
                Value::Object(scores) => {
                    for (k, s) in scores {
                        if !s.is_number() {
                            self.err(&format!("{p}/{k}"), format!("expected a number, found {}", kind(s)));
                        }
                    }
                }
                other => self.err(&p, format!("expected an object, found {}", kind(other))),
            }
        }
        self.number(m, "cost_usd", path);
        if let Some(fb) = m.get("feedback") {
            let p = format!("{path}/feedback");
            match fb {
                Value::Array(items) => {
                    for (i, s) in items.iter().enumerate() {
                        if !s.is_string() {
                            self.err(&format!("{p}/{i}"), format!("expected a string, found {}", kind(s)));
                        }
                    }
                }
                other => self.err(&p, format!("expected an array, found {}", kind(other))),
            }
        }
    }
}

/// Checks a document against the Loop Trace 1.0 schema rules. Returns one
/// message per violation (`/json/pointer: what is wrong`), empty when valid.
pub fn validate(trace: &Value) -> Vec<String> {
    let mut c = Checker { errors: Vec::new() };
    let Value::Object(m) = trace else {
        c.err("", format!("expected an object, found {}", kind(trace)));
        return c.errors;
    };
    c.required(m, &["trace_version", "loop_id", "loop_name", "started_at", "iterations"], "");
    if let Some(v) = m.get("trace_version") {
        if v.as_str() != Some("1.0") {
            c.err("/trace_version", format!("expected the string \"1.0\", found {v}"));
        }
    }
    c.string(m, "loop_id", "", 1, false);
    c.string(m, "loop_name", "", 1, false);
    c.string(m, "spec_path", "", 0, false);
    c.string(m, "started_at", "", 0, true);
    c.string(m, "ended_at", "", 0, true);
    if let Some(v) = m.get("success") {
        if !v.is_boolean() {
            c.err("/success", format!("expected a boolean, found {}", kind(v)));
        }
    }
    c.string(m, "termination_reason", "", 0, false);
    c.number(m, "total_cost_usd", "");
    if let Some(v) = m.get("iterations") {
        match v {
            Value::Array(items) => {
                if items.is_empty() {
                    c.err("/iterations", "expected at least 1 item, found 0".to_string());
                }
                for (i, it) in items.iter().enumerate() {
                    c.iteration(it, &format!("/iterations/{i}"));
                }
            }
            other => c.err("/iterations", format!("expected an array, found {}", kind(other))),
        }
    }
    if let Some(v) = m.get("metadata") {
        if !v.is_object() {
            c.err("/metadata", format!("expected an object, found {}", kind(v)));
        }
    }
    c.errors
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_datetime("2026-06-25T12:00:01Z").map(|x| x as i64), Some(1_782_388_801));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_datetime("1970-01-01T00:00:00.25z"), Some(0.25));
        assert!(parse_datetime("2024-02-29T00:00:00Z").is_some());
        assert_eq!(parse_datetime("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_datetime("2026-06-25 12:00:01Z"), None);
        assert_eq!(parse_datetime("2026-06-25T12:00:01"), None);
        assert_eq!(parse_datetime("2026-06-25T24:00:01Z"), None);
    }
}
