//! `termination_conditions` as a list of `{type, …}` → `success`, `failure`
//! and `stall` lists. Each old type maps to the LSS 1.0 rule that means the
//! same; `all_evaluators_pass` becomes one success condition per evaluator,
//! on a metric made for it.

use loopc_syntax::Node;

use super::{int_node, Cx};
use crate::build::{node, seq, str_at, text, Obj};

pub(super) fn termination(cx: &mut Cx<'_>, n: &Node) -> Node {
    let Some(list) = n.as_seq() else {
        let mut out = n.clone();
        add_limit_failures(cx, &mut out);
        return out;
    };
    let (mut success, mut failure, mut stall) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in list.iter().enumerate() {
        let path = format!("termination_conditions[{i}]");
        let kind = str_at(c, "type").unwrap_or("");
        let fail = |t: &str| Obj::new().put("type", text(t)).put("action", text("halt"));
        match kind {
            "max_iterations" | "max_sessions" | "max_generations" | "max_rounds" | "max_steps" | "session_budget" => {
                match c
                    .get("value")
                    .and_then(|v| cx.number(&format!("{path}.value"), v))
                    .and_then(|v| int_node(&v))
                {
                    Some(v) => {
                        failure.push(fail("max_iterations").put("value", v).build());
                        if kind != "max_iterations" {
                            cx.change(&path, format!("`{kind}` → a `max_iterations` failure rule"));
                        }
                    }
                    None => cx.left(&path, format!("`{kind}` has no numeric limit")),
                }
            }
            "budget_exhausted" | "cost_limit" | "cost_exceeded" | "budget" => {
                failure.push(fail("cost_exceeded").build());
                cx.change(&path, format!("`{kind}` → a `cost_exceeded` failure rule"));
            }
            "safety_violation" | "evaluator_error" => failure.push(fail(kind).build()),
            "timeout" | "wall_clock" => {
                let mut rule = fail("timeout");
                if let Some(v) = c.get("value").and_then(int_node) {
                    rule = rule.put("value", v);
                }
                failure.push(rule.build());
            }
            "human_gate" | "human_rejected" | "human_approval" => {
                failure.push(fail("human_rejected").build());
                cx.change(
                    &path,
                    format!("`{kind}` → a `human_rejected` failure rule (add a `human` evaluator for the gate)"),
                );
            }
            "all_evaluators_pass" => all_pass(cx, &path, c, &mut success),
            "fitness_threshold" | "metric_threshold" | "threshold" | "target_met" => match threshold(cx, &path, c) {
                Some(rule) => success.push(rule),
                None => keep_unmapped(cx, &path, c, kind),
            },
            "stagnation" | "plateau" | "stall" => match stalled(cx, &path, c) {
                Some(rule) => stall.push(rule),
                None => keep_unmapped(cx, &path, c, kind),
            },
            _ => keep_unmapped(cx, &path, c, kind),
        }
    }
    cx.change("termination_conditions", "a list of rules → `success`, `failure` and `stall`");
    let mut out = Obj::new();
    for (key, rules) in [("success", success), ("failure", failure), ("stall", stall)] {
        if !rules.is_empty() {
            out.set(key, seq(rules));
        }
    }
    let mut out = out.build();
    add_limit_failures(cx, &mut out);
    out
}

fn keep_unmapped(cx: &mut Cx<'_>, path: &str, c: &Node, kind: &str) {
    cx.keep(path, c);
    cx.left(path, format!("`{kind}` has no LSS 1.0 rule; kept under extensions.x_migrated"));
}

/// Add the failure rules that the old `cost_limits` held, unless a rule of
/// that type is already there.
fn add_limit_failures(cx: &mut Cx<'_>, out: &mut Node) {
    let Some(map) = out.as_map() else { return };
    let mut failure: Vec<Node> = map
        .entries
        .iter()
        .find(|e| e.key == "failure")
        .and_then(|e| e.value.as_seq())
        .unwrap_or(&[])
        .to_vec();
    let before = failure.len();
    for rule in std::mem::take(&mut cx.limit_failures) {
        if !failure.iter().any(|f| str_at(f, "type") == str_at(&rule, "type")) {
            failure.push(rule);
        }
    }
    if failure.len() == before {
        return;
    }
    let mut rebuilt = Obj::new();
    for e in &map.entries {
        rebuilt.set(&e.key, e.value.clone());
    }
    rebuilt.set("failure", seq(failure));
    *out = rebuilt.build();
}

/// One success condition per evaluator the rule names (all of them when it
/// names none), each on a metric sourced from that evaluator: passing is a
/// score of 1 for a deterministic check, the rubric's threshold for a judge.
fn all_pass(cx: &mut Cx<'_>, path: &str, c: &Node, success: &mut Vec<Node>) {
    let named: Vec<String> = match c.get("evaluators").and_then(Node::as_seq) {
        Some(list) => list.iter().filter_map(Node::as_str).map(str::to_owned).collect(),
        None => cx.evaluators.clone(),
    };
    for id in &named {
        let metric = format!("{}_pass", id.replace('-', "_"));
        let value = pass_value(cx, id);
        success.push(
            Obj::new()
                .put("metric", text(&metric))
                .put("operator", text("gte"))
                .put("value", value.clone())
                .build(),
        );
        add_metric(
            cx,
            &metric,
            &format!("The score of evaluator {id}; passing is {}", super::show(&value)),
            id,
        );
    }
    cx.change(
        path,
        format!(
            "`all_evaluators_pass` → {} success condition(s) on new `*_pass` metrics",
            named.len()
        ),
    );
}

fn pass_value(cx: &mut Cx<'_>, id: &str) -> Node {
    let evaluator = cx
        .root
        .get("evaluators")
        .and_then(Node::as_seq)
        .and_then(|l| l.iter().find(|e| str_at(e, "id") == Some(id)));
    let threshold = evaluator
        .filter(|e| matches!(str_at(e, "type"), Some("llm_rubric" | "rubric")))
        .and_then(|e| e.get("pass_threshold").or_else(|| e.get("rubric")?.get("pass_threshold")))
        .cloned();
    match threshold.and_then(|t| cx.number(&format!("evaluators.{id}.pass_threshold"), &t)) {
        Some(t) => t,
        None => node(loopc_syntax::Value::Int(1)),
    }
}

pub(super) fn add_metric(cx: &mut Cx<'_>, name: &str, definition: &str, evaluator: &str) {
    if cx.new_metrics.iter().any(|m| str_at(m, "name") == Some(name)) {
        return;
    }
    cx.new_metrics.push(
        Obj::new()
            .put("name", text(name))
            .put("definition", text(definition))
            .put("source", text(format!("evaluators.{evaluator}")))
            .put("unit", text("ratio"))
            .build(),
    );
    if cx.success_metric.is_none() {
        cx.success_metric = Some(name.to_owned());
    }
}

/// `{type: fitness_threshold, metric: m, value: v}` → `m gte v`.
fn threshold(cx: &mut Cx<'_>, path: &str, c: &Node) -> Option<Node> {
    let metric = metric_name(cx, str_at(c, "metric")?);
    let value = c.get("value").or_else(|| c.get("threshold"))?;
    let value = cx.number(&format!("{path}.value"), value)?;
    if cx.success_metric.is_none() {
        cx.success_metric = Some(metric.clone());
    }
    cx.change(path, format!("→ success when `{metric}` ≥ {}", super::show(&value)));
    Some(
        Obj::new()
            .put("metric", text(metric))
            .put("operator", text("gte"))
            .put("value", value)
            .build(),
    )
}

/// `{type: stagnation, metric: m, plateau_iterations: k}` → a stall rule.
fn stalled(cx: &mut Cx<'_>, path: &str, c: &Node) -> Option<Node> {
    let metric = metric_name(cx, str_at(c, "metric")?);
    let window = ["plateau_iterations", "window_iterations", "iterations", "window"]
        .iter()
        .find_map(|k| c.get(k).and_then(int_node))?;
    // A plateau is no improvement at all: 0 unless the file says otherwise.
    let improvement = c
        .get("min_improvement")
        .cloned()
        .unwrap_or_else(|| node(loopc_syntax::Value::Int(0)));
    cx.change(
        path,
        format!("→ a stall rule on `{metric}`, min_improvement {}", super::show(&improvement)),
    );
    if let Some(action) = c.get("action") {
        cx.keep(format!("{path}.action"), action);
    }
    Some(
        Obj::new()
            .put("metric", text(metric))
            .put("window_iterations", window)
            .put("min_improvement", improvement)
            .put("action", text("halt"))
            .build(),
    )
}

/// A metric reference: `coherence_rubric.overall` (an evaluator's score)
/// becomes a metric of that evaluator.
fn metric_name(cx: &mut Cx<'_>, written: &str) -> String {
    match written.split_once('.') {
        Some((evaluator, field)) if cx.is_evaluator(evaluator) => {
            let name = format!("{}_{}", evaluator.replace('-', "_"), field.replace(['.', '-'], "_"));
            add_metric(cx, &name, &format!("The {field} score of evaluator {evaluator}"), evaluator);
            name
        }
        _ => written.to_owned(),
    }
}
