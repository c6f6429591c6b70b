//! Robustness (w = 0.13): evaluators, feedback, memory, a reflective
//! optimizer, a stall condition and the taxonomy level.

use super::{num, plural, termination, Inferred, Tally, Termination};
use crate::reference::{get_str, truthy, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let mut t = Tally::new(0.35, "every loop");
    let n = cx.count(doc.get("evaluators"), "evaluators")?;
    if n > 0 {
        t.add(
            f64::min(0.2, 0.07 * n as f64),
            format!("{} (+0.07 each, capped at +0.20)", plural(n, "evaluator")),
        );
    } else {
        t.say("no evaluators (+0.07 each)");
    }
    let f = cx.count(doc.get("feedback_channels"), "feedback_channels")?;
    if f > 0 {
        t.add(
            f64::min(0.15, 0.05 * f as f64),
            format!("{} (+0.05 each, capped at +0.15)", plural(f, "feedback channel")),
        );
    } else {
        t.say("no feedback_channels (+0.05 each)");
    }
    if truthy(doc.get("memory")) {
        t.add(0.1, "memory declared");
    } else {
        t.say("no memory (+0.10)");
    }
    let opt = cx.mapping(doc.get("optimization_strategy"), "optimization_strategy")?;
    let ty = opt.and_then(|o| get_str(o, "type"));
    if matches!(ty, Some("reflection" | "prompt_refinement")) {
        t.add(0.1, format!("optimization_strategy.type {}", ty.unwrap_or_default()));
    } else {
        t.say("optimization_strategy.type is not reflection/prompt_refinement (+0.10)");
    }
    match termination(doc) {
        Termination::Canonical(term) if truthy(term.get("stall")) => {
            t.add(0.05, "termination_conditions.stall declared");
        }
        Termination::List(_) => t.say("list-form termination_conditions have no stall section (+0.05 in the canonical form)"),
        _ => t.say("no termination_conditions.stall (+0.05)"),
    }
    let level = cx.level(doc)?;
    if level >= 2.0 {
        t.add(0.05, format!("taxonomy_level {} >= 2", num(level)));
    } else {
        t.say(level_hint(doc, level, "+0.05 at level >= 2"));
    }
    Ok(t.done())
}

/// Explains a low or missing top-level `taxonomy_level`, pointing at
/// `metadata.taxonomy_level` when only that one is declared.
pub(crate) fn level_hint(doc: &Map<String, Value>, level: f64, gain: &str) -> String {
    let meta = doc.get("metadata").and_then(Value::as_object).and_then(|m| m.get("taxonomy_level"));
    match (doc.get("taxonomy_level"), meta) {
        (None, Some(m)) => format!(
            "taxonomy_level read only at top level: metadata.taxonomy_level ({}) is not counted, level 1 assumed ({gain})",
            crate::categories::show(m)
        ),
        (None, None) => format!("no taxonomy_level, level 1 assumed ({gain})"),
        _ => format!("taxonomy_level {} ({gain})", num(level)),
    }
}
