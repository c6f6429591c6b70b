//! Scalability (w = 0.10): input fields, feedback, several workers and a
//! spend cap.

use super::{input_count, plural, Inferred, Tally};
use crate::reference::{get, number_like, truthy, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let mut t = Tally::new(0.45, "every loop");
    let inputs = input_count(doc, cx, true)?;
    if inputs > 0 {
        t.add(
            f64::min(0.2, 0.05 * inputs as f64),
            format!("{} (+0.05 each, capped at +0.20)", plural(inputs, "input field")),
        );
    } else {
        t.say("no input fields (+0.05 each)");
    }
    let feedback = doc.get("feedback_channels");
    // default: only a non-empty list or mapping of channels counts.
    let has_feedback = if cx.parity {
        truthy(feedback)
    } else {
        cx.count(feedback, "feedback_channels")? > 0
    };
    if has_feedback {
        t.add(0.1, "feedback_channels declared");
    } else {
        t.say("no feedback_channels (+0.10)");
    }
    let workers = cx.count(doc.get("workers"), "workers")?;
    if workers >= 2 {
        t.add(0.1, format!("{} (>= 2)", plural(workers, "worker")));
    } else {
        t.say(format!("{} (+0.10 at >= 2)", plural(workers, "worker")));
    }
    let cost = cx.mapping(doc.get("cost_limits"), "cost_limits")?;
    let caps = ["cumulative_usd", "max_cost_usd"].map(|k| cost.and_then(|c| get(c, k)));
    // default: a spend cap must be a number (the reference accepts any non-null value).
    let capped = caps.iter().any(|v| v.is_some_and(|v| cx.parity || number_like(v).is_some()));
    if capped {
        t.add(0.05, "spend cap (cumulative_usd or max_cost_usd) declared");
    } else {
        t.say("no cumulative_usd spend cap (+0.05)");
    }
    Ok(t.done())
}
