//! Effectiveness (w = 0.20): evaluators, rubric thresholds, metrics and a
//! success condition.

use super::{plural, termination, Inferred, Tally, Termination};
use crate::reference::{get, get_str, truthy, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let mut t = Tally::new(0.4, "every loop");
    let evaluators = doc.get("evaluators");
    let n = cx.count(evaluators, "evaluators")?;
    if n == 0 {
        t.say("no evaluators (each adds +0.08, up to +0.25)");
    } else {
        let add = f64::min(0.25, 0.08 * n as f64);
        t.add(add, format!("{} (+0.08 each, capped at +0.25)", plural(n, "evaluator")));
    }
    for ev in cx.dicts(evaluators, "evaluators")? {
        let id = get_str(ev, "id").unwrap_or("?").to_string();
        let rubric = cx.mapping(ev.get("rubric"), "evaluators[].rubric")?;
        if rubric.and_then(|r| get(r, "pass_threshold")).is_some() {
            t.add(0.05, format!("evaluator `{id}` has a rubric pass_threshold"));
        }
        if get(ev, "threshold").is_some() {
            t.add(0.05, format!("evaluator `{id}` has a threshold"));
        }
        if truthy(rubric.and_then(|r| r.get("dimensions"))) {
            t.add(0.05, format!("evaluator `{id}` has rubric dimensions"));
        }
    }
    let m = cx.count(doc.get("metrics"), "metrics")?;
    if m == 0 {
        t.say("no metrics (each adds +0.05, up to +0.15)");
    } else {
        t.add(
            f64::min(0.15, 0.05 * m as f64),
            format!("{} (+0.05 each, capped at +0.15)", plural(m, "metric")),
        );
    }
    match termination(doc) {
        Termination::Canonical(term) => {
            if truthy(term.get("success")) {
                t.add(0.1, "termination_conditions.success declared");
            } else {
                t.say("no termination_conditions.success (+0.10)");
            }
        }
        Termination::List(_) => {
            let conds = cx.dicts(doc.get("termination_conditions"), "termination_conditions")?;
            let mut hits = 0;
            for cond in conds {
                if matches!(get_str(cond, "type"), Some("quality_threshold" | "all_tests_pass")) {
                    hits += 1;
                    // The reference adds 0.1 per success-type condition.
                    // default: a success condition counts once, as in the
                    // canonical dialect.
                    if cx.parity || hits == 1 {
                        let ty = get_str(cond, "type").unwrap_or_default();
                        t.add(0.1, format!("success condition `{ty}` in termination_conditions"));
                    }
                }
            }
            if hits > 1 && !cx.parity {
                cx.note(format!(
                    "{hits} success-type termination conditions counted once (the reference adds +0.10 for each)"
                ));
            }
            if hits == 0 {
                t.say("no quality_threshold/all_tests_pass condition (+0.10)");
            }
        }
        Termination::Other => t.say("no termination_conditions success condition (+0.10)"),
    }
    Ok(t.done())
}
