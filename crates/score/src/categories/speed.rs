//! Speed (w = 0.15): banded on the declared iteration budget.

use super::{num, termination, Inferred, Termination};
use crate::reference::{get, get_str, truthy, Cx, Py};
use serde_json::{Map, Value};

/// Where the iteration budget was found, and its raw value.
pub(crate) struct Budget<'a> {
    pub value: &'a Value,
    pub source: &'static str,
}

/// The reference's budget lookup: the last `max_iterations` termination
/// condition (canonical `failure` list or list dialect), else
/// `cost_limits.max_iterations`, else `optimization_strategy.max_steps`
/// (the last two only when truthy, Python `a or b`).
pub(crate) fn budget<'a>(doc: &'a Map<String, Value>, cx: &mut Cx) -> Py<Option<Budget<'a>>> {
    let mut found: Option<Budget<'a>> = None;
    match termination(doc) {
        Termination::Canonical(term) => {
            for f in cx.dicts(term.get("failure"), "termination_conditions.failure")? {
                if get_str(f, "type") == Some("max_iterations") {
                    found = get(f, "value").map(|v| Budget {
                        value: v,
                        source: "termination_conditions.failure max_iterations",
                    });
                }
            }
        }
        Termination::List(_) => {
            for c in cx.dicts(doc.get("termination_conditions"), "termination_conditions")? {
                if get_str(c, "type") == Some("max_iterations") {
                    found = get(c, "value").map(|v| Budget {
                        value: v,
                        source: "termination_conditions max_iterations",
                    });
                }
            }
        }
        Termination::Other => {}
    }
    if found.is_some() {
        return Ok(found);
    }
    let cost = cx.mapping(doc.get("cost_limits"), "cost_limits")?;
    let cost_mi = cost.and_then(|c| c.get("max_iterations"));
    if truthy(cost_mi) {
        return Ok(cost_mi.map(|v| Budget {
            value: v,
            source: "cost_limits.max_iterations",
        }));
    }
    let opt = cx.mapping(doc.get("optimization_strategy"), "optimization_strategy")?;
    Ok(opt.and_then(|o| get(o, "max_steps")).map(|v| Budget {
        value: v,
        source: "optimization_strategy.max_steps",
    }))
}

/// The speed band of an iteration budget.
pub(crate) fn band(max_iter: f64) -> f64 {
    if max_iter <= 3.0 {
        0.95
    } else if max_iter <= 5.0 {
        0.85
    } else if max_iter <= 10.0 {
        0.70
    } else if max_iter <= 20.0 {
        0.55
    } else {
        0.40
    }
}

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    const BANDS: &str = "budget bands: <=3 0.95, <=5 0.85, <=10 0.70, <=20 0.55, more 0.40";
    let Some(b) = budget(doc, cx)? else {
        cx.note(
            "no iteration budget declared: LES 1.0 section 5 does not accept unbounded loops as scoring subjects; declare max_iterations"
                .to_string(),
        );
        return Ok(Inferred {
            score: 0.5,
            why: vec![
                "0.50: no iteration budget (max_iterations, cost_limits.max_iterations or optimization_strategy.max_steps)".to_string(),
                format!("  {BANDS}"),
            ],
        });
    };
    let Some(n) = cx.int(b.value, b.source)? else {
        return Ok(Inferred {
            score: 0.5,
            why: vec![format!("0.50: the iteration budget at {} is not a number", b.source)],
        });
    };
    let s = band(n);
    Ok(Inferred {
        score: s,
        why: vec![format!("{s:.2}: iteration budget {} ({})", num(n), b.source), format!("  {BANDS}")],
    })
}
