//! Safety (w = 0.12): safety constraints and halting actions.

use super::{plural, Inferred, Tally};
use crate::reference::{get_str, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let constraints = doc.get("safety_constraints");
    let n = cx.count(constraints, "safety_constraints")?;
    if n == 0 {
        return Ok(Inferred {
            score: 0.35,
            why: vec![
                "0.35: no safety_constraints".to_string(),
                "+0.00 one constraint would score 0.62 (+0.12 each up to +0.35 over 0.50, +0.05 per halt/quarantine action)".to_string(),
            ],
        });
    }
    let mut t = Tally::new(0.5, "safety constraints declared");
    t.add(
        f64::min(0.35, 0.12 * n as f64),
        format!("{} (+0.12 each, capped at +0.35)", plural(n, "safety constraint")),
    );
    for c in cx.dicts(constraints, "safety_constraints")? {
        let action = get_str(c, "action");
        let id = get_str(c, "id").unwrap_or("?");
        if matches!(action, Some("halt" | "quarantine")) {
            t.add(0.05, format!("constraint `{id}` acts by {}", action.unwrap_or_default()));
        } else {
            t.say(format!("constraint `{id}` does not halt or quarantine (+0.05 if it did)"));
        }
    }
    Ok(t.done())
}
