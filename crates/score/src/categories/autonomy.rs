//! Autonomy (w = 0.08): workers, escalations to humans and taxonomy level.

use super::{num, plural, robustness::level_hint, Inferred, Tally};
use crate::reference::{get_str, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let mut t = Tally::new(0.5, "every loop");
    let workers = cx.count(doc.get("workers"), "workers")?;
    if workers > 0 {
        t.add(
            f64::min(0.25, 0.06 * workers as f64),
            format!("{} (+0.06 each, capped at +0.25)", plural(workers, "worker")),
        );
    } else {
        t.say("no workers (+0.06 each)");
    }
    for c in cx.dicts(doc.get("safety_constraints"), "safety_constraints")? {
        let action = get_str(c, "action");
        if matches!(action, Some("escalate" | "escalate_human")) {
            let id = get_str(c, "id").unwrap_or("?");
            t.sub(0.1, format!("constraint `{id}` escalates to a human"));
        }
    }
    let level = cx.level(doc)?;
    t.add(
        f64::min(0.15, 0.03 * level),
        format!("taxonomy_level {} (+0.03 per level, capped at +0.15)", num(level)),
    );
    if doc.get("taxonomy_level").is_none() {
        t.say(level_hint(doc, level, "+0.03 per level"));
    }
    Ok(t.done())
}
