use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A compiled `when` condition (docs/semantics.md §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", content = "args", rename_all = "snake_case")]
pub enum Expr {
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A dotted name (`score`, `dimension_scores.accuracy`, `metrics.pass_rate`).
    Path(Vec<String>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    /// `item in collection`: true when the collection is an array holding a
    /// value equal to the item, or both are strings and the item is a
    /// substring of the collection; false otherwise (a missing name is null,
    /// and nothing is in null).
    In(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CompareOp {
    /// LSS success operators (`gte`, `lte`, `eq`, `gt`, `lt`).
    pub fn from_lss(op: &str) -> Option<Self> {
        Some(match op {
            "gte" => CompareOp::Ge,
            "lte" => CompareOp::Le,
            "eq" => CompareOp::Eq,
            "gt" => CompareOp::Gt,
            "lt" => CompareOp::Lt,
            _ => return None,
        })
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CompareOp::Lt => left < right,
            CompareOp::Le => left <= right,
            CompareOp::Gt => left > right,
            CompareOp::Ge => left >= right,
            CompareOp::Eq => (left - right).abs() < 1e-9,
            CompareOp::Ne => (left - right).abs() >= 1e-9,
        }
    }
}

impl Expr {
    /// Evaluate against a lookup of names. Comparisons of numbers use their
    /// values; of anything else, equality of the JSON values. A name that
    /// is not found is `null`; `null` in an ordering comparison is false.
    pub fn eval(&self, lookup: &dyn Fn(&[String]) -> serde_json::Value) -> serde_json::Value {
        use serde_json::Value as V;
        match self {
            Expr::Number(n) => serde_json::json!(n),
            Expr::Text(s) => V::String(s.clone()),
            Expr::Bool(b) => V::Bool(*b),
            Expr::Null => V::Null,
            Expr::Path(p) => lookup(p),
            Expr::Not(e) => V::Bool(!truthy(&e.eval(lookup))),
            Expr::And(a, b) => V::Bool(truthy(&a.eval(lookup)) && truthy(&b.eval(lookup))),
            Expr::Or(a, b) => V::Bool(truthy(&a.eval(lookup)) || truthy(&b.eval(lookup))),
            Expr::Compare(a, op, b) => {
                let (a, b) = (a.eval(lookup), b.eval(lookup));
                V::Bool(match (a.as_f64(), b.as_f64(), op) {
                    (Some(x), Some(y), _) => op.holds(x, y),
                    (_, _, CompareOp::Eq) => a == b,
                    (_, _, CompareOp::Ne) => a != b,
                    _ => false,
                })
            }
            Expr::In(item, collection) => V::Bool(contains(&collection.eval(lookup), &item.eval(lookup))),
        }
    }
}

/// Whether `item` is in `collection` (see [`Expr::In`]). Numbers in an
/// array compare by value, as `==` does (1 is in `[1.0]`).
fn contains(collection: &serde_json::Value, item: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (collection, item) {
        (V::Array(xs), _) => xs.iter().any(|x| match (x.as_f64(), item.as_f64()) {
            (Some(a), Some(b)) => CompareOp::Eq.holds(a, b),
            _ => x == item,
        }),
        (V::String(text), V::String(part)) => text.contains(part.as_str()),
        _ => false,
    }
}

/// JSON truthiness: false, null, 0, "" and empty collections are false.
pub fn truthy(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        serde_json::Value::String(s) => !s.is_empty(),
        serde_json::Value::Array(a) => !a.is_empty(),
        serde_json::Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_conditions() {
        let e = Expr::Compare(
            Box::new(Expr::Path(vec!["score".into()])),
            CompareOp::Lt,
            Box::new(Expr::Path(vec!["pass_threshold".into()])),
        );
        let look = |p: &[String]| match p[0].as_str() {
            "score" => json!(0.5),
            "pass_threshold" => json!(0.8),
            _ => json!(null),
        };
        assert_eq!(e.eval(&look), json!(true));
        let f = Expr::Compare(
            Box::new(Expr::Path(vec!["passed".into()])),
            CompareOp::Eq,
            Box::new(Expr::Bool(false)),
        );
        assert_eq!(f.eval(&|_| json!(false)), json!(true));
        assert_eq!(f.eval(&|_| json!(null)), json!(false));
    }

    #[test]
    fn membership_in_arrays_and_strings() {
        let is_in = |item: Expr, collection: serde_json::Value| {
            Expr::In(Box::new(item), Box::new(Expr::Path(vec!["c".into()]))).eval(&|_| collection.clone())
        };
        let text = |s: &str| Expr::Text(s.into());
        assert_eq!(is_in(text("bug"), json!(["maintenance", "bug"])), json!(true));
        assert_eq!(is_in(text("feature"), json!(["maintenance", "bug"])), json!(false));
        assert_eq!(is_in(Expr::Number(2.0), json!([1, 2, 3])), json!(true));
        assert_eq!(is_in(text("auth"), json!("src/auth/login.rs")), json!(true));
        assert_eq!(is_in(text("db"), json!("src/auth/login.rs")), json!(false));
        // A missing collection is null; nothing is in it, nor in a number or an object.
        assert_eq!(is_in(text("bug"), json!(null)), json!(false));
        assert_eq!(is_in(Expr::Number(1.0), json!(1)), json!(false));
        assert_eq!(is_in(text("k"), json!({"k": 1})), json!(false));
    }
}
