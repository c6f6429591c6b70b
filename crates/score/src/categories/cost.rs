//! Cost (w = 0.12): token and spend caps, minus a penalty for many workers.

use super::{num, plural, Inferred, Tally};
use crate::reference::{get, truthy, Cx, Py};
use serde_json::{Map, Value};

pub(crate) fn infer(doc: &Map<String, Value>, cx: &mut Cx) -> Py<Inferred> {
    let cost = cx.mapping(doc.get("cost_limits"), "cost_limits")?;
    let mut t = Tally::new(0.5, "every loop");
    let soft = cost.and_then(|c| c.get("token_soft_cap"));
    let total = cost.and_then(|c| c.get("max_total_tokens"));
    let tokens_val = if truthy(soft) {
        soft.map(|v| (v, "cost_limits.token_soft_cap"))
    } else if truthy(total) {
        total.map(|v| (v, "cost_limits.max_total_tokens"))
    } else {
        None
    };
    let tokens = match tokens_val {
        Some((v, what)) => cx.int(v, what)?,
        None => None,
    };
    match tokens {
        Some(n) => {
            let (d, band) = if n <= 10000.0 {
                (0.25, "<= 10000")
            } else if n <= 50000.0 {
                (0.15, "<= 50000")
            } else if n <= 100000.0 {
                (0.05, "<= 100000")
            } else {
                (-0.1, "> 100000")
            };
            t.add(d, format!("token cap {} ({band})", num(n)));
        }
        None => t.say("no token_soft_cap (<=10000 adds +0.25)"),
    }
    let cum = cost.and_then(|c| c.get("cumulative_usd"));
    let max_usd = cost.and_then(|c| get(c, "max_cost_usd"));
    // Python `cumulative_usd or max_cost_usd`: a zero cap falls through.
    let cumulative = if truthy(cum) {
        cum.map(|v| (v, "cost_limits.cumulative_usd"))
    } else {
        max_usd.map(|v| (v, "cost_limits.max_cost_usd"))
    };
    let usd = match cumulative {
        Some((v, what)) => cx.float(v, what)?.map(|x| (x, what)),
        None => None,
    };
    match usd {
        Some((x, what)) => {
            let (d, band) = if x <= 0.5 {
                (0.2, "<= $0.50")
            } else if x <= 2.0 {
                (0.1, "<= $2")
            } else if x <= 10.0 {
                (0.0, "<= $10")
            } else {
                (-0.15, "> $10")
            };
            t.add(d, format!("spend cap ${} ({what}, {band})", num(x)));
        }
        None => t.say("no cumulative_usd cap (<= $0.50 adds +0.20)"),
    }
    let workers = cx.count(doc.get("workers"), "workers")?;
    let extra = workers.saturating_sub(2);
    let penalty = f64::min(0.2, 0.04 * extra as f64);
    if extra > 0 {
        t.sub(
            penalty,
            format!("{} beyond two (-0.04 each, at most -0.20)", plural(extra, "worker")),
        );
    } else {
        t.score -= penalty;
    }
    Ok(t.done())
}
