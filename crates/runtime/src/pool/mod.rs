//! Work pools (`loopc run --items`): many work items, each run by the same
//! spec in its own workspace, in priority order, some skipped or handed to
//! a person by the `[pool]` rules, and one report mapping results back to
//! items. The CLI reads the file and compiles the rules; this module decides.

pub mod items;
pub mod report;

use loopc_plan::{Expr, InputDecl};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use items::{Item, Layout};

/// `[pool]` of the bindings.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Items for which this is false are skipped.
    pub select: Option<String>,
    /// Items for which this holds are not run but listed for a person.
    pub escalate_if: Option<String>,
    /// The field holding an item's id (default `id`; `number` for `gh`).
    pub id: Option<String>,
}

impl PoolConfig {
    pub fn id_field(&self) -> &str {
        self.id.as_deref().unwrap_or("id")
    }
}

/// The `[pool]` rules, compiled.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub select: Option<Expr>,
    pub escalate_if: Option<Expr>,
}

/// What the pool does with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Run,
    Skipped,
    Escalated,
}

/// One item as the pool records it (the `items_json` of the `pools` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolItem {
    pub id: String,
    pub priority: Option<f64>,
    pub labels: Vec<String>,
    pub decision: Decision,
    pub reason: String,
    /// The run, once started.
    pub run_id: Option<String>,
}

/// Decide an item by the rules. Names resolve against the item's fields
/// (dotted names walk into objects); a missing name is null, as in `when`.
pub fn decide(item: &Item, rules: &Rules) -> (Decision, String) {
    let lookup = |path: &[String]| -> Value {
        path[1..]
            .iter()
            .try_fold(item.fields.get(&path[0]), |v, k| Some(v?.get(k)))
            .flatten()
            .cloned()
            .unwrap_or(Value::Null)
    };
    let holds = |e: &Expr| loopc_plan::expr::truthy(&e.eval(&lookup));
    if let Some(select) = &rules.select {
        if !holds(select) {
            return (Decision::Skipped, "not selected by [pool] select".into());
        }
    }
    if let Some(escalate) = &rules.escalate_if {
        if holds(escalate) {
            return (Decision::Escalated, "[pool] escalate_if holds: for a person".into());
        }
    }
    (Decision::Run, String::new())
}

/// An item's inputs: its `inputs` object when it has one, else its fields
/// that the spec declares as inputs (the rest is metadata); `defaults`
/// (`--input k=v`) fill what the item does not give.
pub fn inputs_of(item: &Item, decls: &[InputDecl], defaults: &Map<String, Value>) -> Map<String, Value> {
    let mut inputs = match item.fields.get("inputs") {
        Some(Value::Object(given)) => given.clone(),
        _ => item
            .fields
            .iter()
            .filter(|(k, _)| decls.iter().any(|d| &d.name == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    for (k, v) in defaults {
        inputs.entry(k.clone()).or_insert(v.clone());
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopc_plan::CompareOp;

    fn item(fields: Value) -> Item {
        let text = fields.to_string();
        items::parse(&text, Layout::JsonLines, "t", "id").unwrap().remove(0)
    }

    #[test]
    fn select_skips_and_escalate_hands_over() {
        let rules = Rules {
            select: Some(Expr::In(
                Box::new(Expr::Text("maintenance".into())),
                Box::new(Expr::Path(vec!["labels".into()])),
            )),
            escalate_if: Some(Expr::Compare(
                Box::new(Expr::Path(vec!["failures".into()])),
                CompareOp::Ge,
                Box::new(Expr::Number(2.0)),
            )),
        };
        let a = item(serde_json::json!({"id": "a", "labels": ["maintenance"]}));
        let b = item(serde_json::json!({"id": "b", "labels": ["feature"]}));
        let c = item(serde_json::json!({"id": "c", "labels": ["maintenance"], "failures": 2}));
        assert_eq!(decide(&a, &rules).0, Decision::Run, "a missing `failures` is null: not >= 2");
        assert_eq!(decide(&b, &rules).0, Decision::Skipped);
        assert_eq!(decide(&c, &rules).0, Decision::Escalated);
        assert_eq!(decide(&b, &Rules::default()).0, Decision::Run);
    }

    #[test]
    fn inputs_are_declared_fields_or_the_inputs_object() {
        let decls: Vec<InputDecl> =
            serde_json::from_value(serde_json::json!([{"name": "target", "kind": "string", "required": true}])).unwrap();
        let defaults: Map<String, Value> = serde_json::from_value(serde_json::json!({"target": "d", "extra": 1})).unwrap();
        let flat = item(serde_json::json!({"id": "a", "target": "x.py", "title": "meta"}));
        assert_eq!(
            Value::Object(inputs_of(&flat, &decls, &Map::new())),
            serde_json::json!({"target": "x.py"})
        );
        let nested = item(serde_json::json!({"id": "a", "target": "meta", "inputs": {"target": "y.py"}}));
        assert_eq!(
            Value::Object(inputs_of(&nested, &decls, &Map::new())),
            serde_json::json!({"target": "y.py"})
        );
        let bare = item(serde_json::json!({"id": "a"}));
        assert_eq!(
            Value::Object(inputs_of(&bare, &decls, &defaults)),
            serde_json::json!({"target": "d", "extra": 1})
        );
    }
}
