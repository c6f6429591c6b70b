//! `cost_limits` (flat `max_usd` caps → the LSS 1.0 shape) and
//! `optimization_strategy` (free-form types and `parameters` → a known type,
//! `max_steps` and `config`).

use loopc_syntax::Node;

use super::{int_node, show, whole, Cx};
use crate::build::{entries, int, is_number, str_at, text, Obj};

const COST_KEYS: [&str; 6] = [
    "per_iteration_usd",
    "cumulative_usd",
    "token_soft_cap",
    "on_approach",
    "on_exceed",
    "price_table_ref",
];

pub(super) fn cost_limits(cx: &mut Cx<'_>, n: &Node) -> Node {
    let has = |k: &str| n.get(k).is_some();
    if has("cumulative_usd") && has("per_iteration_usd") && has("on_exceed") {
        return n.clone();
    }
    let mut out = Obj::new();
    let mut cumulative = None;
    for entry in entries(n) {
        let (key, value) = (entry.key.as_str(), &entry.value);
        let path = format!("cost_limits.{key}");
        match key {
            _ if COST_KEYS.contains(&key) => out.set(key, value.clone()),
            "max_usd" | "total_usd" | "budget_usd" | "max_cost_usd" if is_number(value) => {
                cumulative = Some(value.clone());
                cx.change(path, format!("→ `cumulative_usd: {}`", show(value)));
            }
            "per_session_cap_usd" | "per_iteration_cap_usd" | "max_iteration_usd" if is_number(value) => {
                out.set("per_iteration_usd", value.clone());
                cx.change(path, "→ `per_iteration_usd`");
            }
            "max_tokens" if whole(value).is_some() => {
                out.set("token_soft_cap", int_node(value).unwrap_or_else(|| value.clone()));
                cx.change(path, "→ `token_soft_cap` (LSS 1.0 caps tokens softly: a warning)");
            }
            "max_wall_clock_seconds" | "wall_clock_seconds" | "wall_clock_minutes" | "max_wall_clock_minutes" => {
                let factor = if key.ends_with("minutes") { 60 } else { 1 };
                match whole(value) {
                    Some(v) if v > 0 => {
                        let seconds = v * factor;
                        cx.limit_failures.push(
                            Obj::new()
                                .put("type", text("timeout"))
                                .put("value", int(seconds))
                                .put("action", text("halt"))
                                .build(),
                        );
                        cx.change(
                            path,
                            format!("→ a `timeout` failure rule of {seconds} s (unless the termination rules have one)"),
                        );
                    }
                    _ => cx.keep(path, value),
                }
            }
            "max_iterations" => match int_node(value) {
                Some(v) => {
                    cx.limit_failures.push(
                        Obj::new()
                            .put("type", text("max_iterations"))
                            .put("value", v)
                            .put("action", text("halt"))
                            .build(),
                    );
                    cx.change(path, "→ a `max_iterations` failure rule (unless the termination rules have one)");
                }
                None => cx.keep(path, value),
            },
            "per_worker_caps" | "per_worker_usd" => {
                for cap in entries(value) {
                    cx.worker_caps.insert(cap.key.clone(), cap.value.clone());
                }
                cx.change(path, "→ each worker's `cost_budget_usd`");
            }
            _ => cx.keep(path, value),
        }
    }
    if let Some(total) = cumulative {
        if !out.has("per_iteration_usd") {
            out.set("per_iteration_usd", total.clone());
            cx.change(
                "cost_limits.per_iteration_usd",
                "set to the whole budget (the old file had no per-iteration cap; lower it)",
            );
        }
        out.set("cumulative_usd", total);
    }
    if !out.has("on_exceed") {
        out.set("on_exceed", Obj::new().put("action", text("halt")).build());
        cx.change("cost_limits.on_exceed", "`halt`: an old `max_` cap stopped the loop");
    }
    out.build()
}

const OPTIMIZATION_TYPES: [&str; 5] = ["prompt_refinement", "parameter_search", "memory_update", "structural", "manual"];

pub(super) fn optimization(cx: &mut Cx<'_>, n: &Node) -> Node {
    let known = str_at(n, "type").is_some_and(|t| OPTIMIZATION_TYPES.contains(&t));
    if known && n.get("max_steps").is_some() {
        return n.clone();
    }
    let mut out = Obj::new();
    let mut config = Obj::new();
    let old_type = str_at(n, "type").unwrap_or("");
    let kind = if known { old_type } else { optimization_type(old_type) };
    out.set("type", text(kind));
    if !known {
        cx.change(
            "optimization_strategy.type",
            format!("`{old_type}` → `{kind}` (kept as `config.x_strategy`)"),
        );
        config.set("x_strategy", text(old_type));
    }
    for entry in entries(n) {
        match entry.key.as_str() {
            "type" => {}
            "max_steps" | "rollback" => out.set(&entry.key, entry.value.clone()),
            "config" | "parameters" => {
                for e in entries(&entry.value) {
                    config.set(&e.key, e.value.clone());
                }
                if entry.key == "parameters" {
                    cx.change("optimization_strategy.parameters", "→ `config`");
                }
            }
            other => {
                config.set(other, entry.value.clone());
                cx.change(format!("optimization_strategy.{other}"), "→ `config`");
            }
        }
    }
    if !out.has("max_steps") {
        match max_steps(cx, n) {
            Some((steps, from)) => {
                out.set("max_steps", int(steps));
                cx.change("optimization_strategy.max_steps", format!("{steps}, from {from}"));
            }
            None => cx.left("optimization_strategy.max_steps", "how many optimisation steps the loop may take"),
        }
    }
    if !config.is_empty() {
        out.set("config", config.build());
    }
    out.build()
}

/// The nearest LSS 1.0 optimisation type to an old free-form one.
fn optimization_type(old: &str) -> &'static str {
    let old = old.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| old.contains(w));
    if has(&["search", "evolution", "genetic", "bayes", "sweep", "hill", "anneal", "tune"]) {
        "parameter_search"
    } else if has(&["memory"]) {
        "memory_update"
    } else if has(&["manual", "human"]) {
        "manual"
    } else if has(&["structur", "architecture"]) {
        "structural"
    } else {
        "prompt_refinement"
    }
}

/// A bound on steps the old file states: a `max_…` parameter, else the
/// iteration limit of its termination list.
fn max_steps(cx: &Cx<'_>, n: &Node) -> Option<(i64, String)> {
    let params = n.get("parameters").or_else(|| n.get("config"));
    let from_params = params.map(entries).unwrap_or(&[]).iter().chain(entries(n)).find_map(|e| {
        let v = whole(&e.value).filter(|v| *v > 0)?;
        e.key.starts_with("max_").then(|| (v, format!("`{}`", e.key)))
    });
    from_params.or_else(|| {
        let list = cx.root.get("termination_conditions")?.as_seq()?;
        list.iter().find_map(|c| {
            let kind = str_at(c, "type")?;
            let v = whole(c.get("value")?).filter(|v| *v > 0)?;
            kind.starts_with("max_").then(|| (v, format!("the `{kind}` termination rule")))
        })
    })
}
