//! The eight structural category heuristics of the LES 1.0 spec estimate.
//!
//! Each module infers one category from the spec's structure exactly as the
//! reference `loopctl score` does (same base values, increments, caps and
//! order of floating-point operations) and explains every step. Differences
//! in the default mode are marked in the code with `// default:` comments and
//! listed in the crate README.

pub(crate) mod adaptability;
pub(crate) mod autonomy;
pub(crate) mod cost;
pub(crate) mod effectiveness;
pub(crate) mod robustness;
pub(crate) mod safety;
pub(crate) mod scalability;
pub(crate) mod speed;

use crate::reference::{clamp01, Cx, Py};
use serde_json::{Map, Value};

/// One inferred category: the clamped score and the reasons behind it.
pub(crate) struct Inferred {
    pub score: f64,
    pub why: Vec<String>,
}

/// Accumulates a category score and its explanation lines.
pub(crate) struct Tally {
    score: f64,
    why: Vec<String>,
}

impl Tally {
    pub(crate) fn new(base: f64, what: &str) -> Self {
        Tally {
            score: base,
            why: vec![format!("base {base:.2} ({what})")],
        }
    }

    /// Adds `delta` (may be negative or zero) with a reason.
    pub(crate) fn add(&mut self, delta: f64, reason: impl Into<String>) {
        self.score += delta;
        self.why.push(format!("{} {}", signed(delta), reason.into()));
    }

    /// Subtracts `delta` (Python `score -= delta`) with a reason.
    pub(crate) fn sub(&mut self, delta: f64, reason: impl Into<String>) {
        self.score -= delta;
        self.why.push(format!("{} {}", signed(-delta), reason.into()));
    }

    /// A reason that did not move the score (a missed opportunity or a fact).
    pub(crate) fn say(&mut self, reason: impl Into<String>) {
        self.why.push(format!("+0.00 {}", reason.into()));
    }

    /// Clamps to [0, 1] and finishes.
    pub(crate) fn done(mut self) -> Inferred {
        let clamped = clamp01(self.score);
        if clamped != self.score {
            self.why.push(format!("clamped to {clamped:.2} (raw {:.2})", self.score));
        }
        Inferred {
            score: clamped,
            why: self.why,
        }
    }
}

/// `+0.05` / `-0.10` style.
pub(crate) fn signed(x: f64) -> String {
    if x < 0.0 {
        format!("-{:.2}", -x)
    } else {
        format!("+{x:.2}")
    }
}

/// Shortest display of a number (`10`, `0.5`).
pub(crate) fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Plural helper: `1 evaluator`, `2 evaluators`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The termination dialect of a spec.
pub(crate) enum Termination<'a> {
    /// Canonical LSS 1.0 mapping with `success`/`failure`/`stall` lists.
    Canonical(&'a Map<String, Value>),
    /// List form: `[{type: max_iterations, value: 10}, {type: all_tests_pass}]`.
    List(&'a Vec<Value>),
    /// Absent or any other shape.
    Other,
}

/// Reads `termination_conditions` (`isinstance(term, dict)` / `list`).
pub(crate) fn termination(doc: &Map<String, Value>) -> Termination<'_> {
    match doc.get("termination_conditions") {
        Some(Value::Object(m)) => Termination::Canonical(m),
        Some(Value::Array(a)) => Termination::List(a),
        _ => Termination::Other,
    }
}

/// The per-category inference, by category name.
pub(crate) fn infer(name: &str, doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    match name {
        "effectiveness" => effectiveness::infer(doc, cx),
        "speed" => speed::infer(doc, cx),
        "cost" => cost::infer(doc, cx),
        "robustness" => robustness::infer(doc, cx),
        "scalability" => scalability::infer(doc, cx),
        "safety" => safety::infer(doc, cx),
        "adaptability" => adaptability::infer(doc, cx),
        "autonomy" => autonomy::infer(doc, cx),
        other => unreachable!("unknown category {other}"),
    }
}

/// Number of input fields: `len(inputs.schema or {})` for a mapping, the list
/// length for a list.
pub(crate) fn input_count(doc: &Map<String, Value>, cx: &mut Cx, strings_count: bool) -> Py<usize> {
    let inputs = doc.get("inputs");
    match inputs {
        Some(Value::Object(m)) => cx.count(m.get("schema"), "inputs.schema"),
        Some(Value::Array(a)) => Ok(a.len()),
        // Only scalability applies `len()` to other shapes (a string's length).
        _ if strings_count => cx.count(inputs, "inputs"),
        _ => Ok(0),
    }
}

/// A short display of a JSON scalar.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.as_f64().map(num).unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    }
}
