//! The single spec change that would raise the structural LES most.
//!
//! A fixed list of candidate edits is applied one at a time to a copy of the
//! spec and rescored; the largest gain wins (ties: the first candidate).
//! Candidates never remove a safety constraint or a human escalation.

use crate::categories::speed;
use crate::categories::{num, termination, Termination};
use crate::reference::{get, get_str, number_like, py_int, truthy, Cx};
use crate::spec::{evaluate, Evaluation, Improvement};
use crate::{CATEGORIES, WEIGHTS};
use serde_json::{json, Map, Value};

type Doc = Map<String, Value>;

/// Registers one candidate: its description and the edit to apply.
type AddFn<'a> = dyn FnMut(String, &dyn Fn(&mut Doc) -> Option<()>) + 'a;

/// The best single change, or `None` when no candidate raises the LES by at
/// least 0.05 display points.
pub(crate) fn best(doc: &Value, parity: bool, base: &Evaluation) -> Option<Improvement> {
    let Value::Object(map) = doc else {
        return None;
    };
    let mut best: Option<(f64, Improvement)> = None;
    for (change, edited) in candidates(map) {
        let ev = evaluate(&Value::Object(edited), parity);
        let gain = (ev.composite - base.composite) * 100.0;
        if gain < 0.05 || best.as_ref().is_some_and(|(g, _)| gain <= *g + 1e-12) {
            continue;
        }
        let (cat, _) = (0..8)
            .map(|i| (i, WEIGHTS[i] * (ev.scores[i] - base.scores[i])))
            .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        best = Some((
            gain,
            Improvement {
                category: CATEGORIES[cat].to_string(),
                change,
                gain: crate::reference::round_to(gain, 1),
            },
        ));
    }
    best.map(|(_, i)| i)
}

/// Appends `item` to the list at `key` (creating it); `None` when `key`
/// holds something other than a list.
fn push(doc: &mut Doc, key: &str, item: Value) -> Option<()> {
    match doc.entry(key).or_insert_with(|| json!([])) {
        Value::Array(a) => {
            a.push(item);
            Some(())
        }
        Value::Null => {
            doc.insert(key.to_string(), json!([item]));
            Some(())
        }
        _ => None,
    }
}

/// The mapping at `key` (creating it when absent or null).
fn mapping<'a>(doc: &'a mut Doc, key: &str) -> Option<&'a mut Doc> {
    let slot = doc.entry(key).or_insert_with(|| json!({}));
    if slot.is_null() {
        *slot = json!({});
    }
    slot.as_object_mut()
}

/// Every candidate edit, each applied to its own copy of the spec, in the
/// order that breaks ties between equal gains.
fn candidates(doc: &Doc) -> Vec<(String, Doc)> {
    let mut out: Vec<(String, Doc)> = Vec::new();
    let mut add = |change: String, f: &dyn Fn(&mut Doc) -> Option<()>| {
        let mut d = doc.clone();
        if f(&mut d).is_some() {
            out.push((change, d));
        }
    };
    termination_candidates(doc, &mut add);
    budget_candidate(doc, &mut add);
    cost_candidates(doc, &mut add);
    evaluator_candidates(doc, &mut add);
    structure_candidates(doc, &mut add);
    safety_candidates(doc, &mut add);
    out
}

/// Termination: a success condition and a stall condition, in the dialect
/// the spec already writes its conditions in.
fn termination_candidates(doc: &Doc, add: &mut AddFn<'_>) {
    match termination(doc) {
        Termination::Canonical(t) => {
            if !truthy(t.get("success")) {
                add(
                    "add a termination_conditions.success condition (e.g. primary_quality gte 0.8)".into(),
                    &|d| {
                        let t = mapping(d, "termination_conditions")?;
                        t.insert(
                            "success".into(),
                            json!([{"metric": "primary_quality", "operator": "gte", "value": 0.8}]),
                        );
                        Some(())
                    },
                );
            }
            if !truthy(t.get("stall")) {
                add(
                    "add a termination_conditions.stall condition (halt when the primary metric stops improving)".into(),
                    &|d| {
                        let t = mapping(d, "termination_conditions")?;
                        t.insert(
                            "stall".into(),
                            json!([{"metric": "primary_quality", "window_iterations": 3, "min_improvement": 0.03, "action": "halt"}]),
                        );
                        Some(())
                    },
                );
            }
        }
        Termination::List(items) => {
            let has = items.iter().any(|c| {
                c.as_object()
                    .and_then(|c| get_str(c, "type"))
                    .is_some_and(|t| t == "quality_threshold" || t == "all_tests_pass")
            });
            if !has {
                add("add a `quality_threshold` termination condition".into(), &|d| {
                    push(d, "termination_conditions", json!({"type": "quality_threshold", "value": 0.8}))
                });
            }
        }
        Termination::Other => {
            if doc.get("termination_conditions").is_none_or(Value::is_null) {
                add("declare termination_conditions with a success condition".into(), &|d| {
                    d.insert(
                        "termination_conditions".into(),
                        json!({"success": [{"metric": "primary_quality", "operator": "gte", "value": 0.8}]}),
                    );
                    Some(())
                });
            }
        }
    }
}

/// Cost caps: declare or tighten the token cap and the spend cap to the
/// next cost band (left alone when `cost_limits` is not a mapping).
fn cost_candidates(doc: &Doc, add: &mut AddFn<'_>) {
    let cost = doc.get("cost_limits").and_then(Value::as_object);
    if !doc.get("cost_limits").is_none_or(|v| v.is_object() || v.is_null()) {
        return;
    }
    let tokens = cost.and_then(|c| {
        ["token_soft_cap", "max_total_tokens"]
            .iter()
            .find_map(|k| c.get(*k).filter(|v| truthy(Some(v))).and_then(number_like))
    });
    if let Some(target) = lower_bound(tokens, &[10000.0, 50000.0, 100000.0]) {
        let change = match tokens {
            Some(t) => format!("lower the token cap from {} to {}", num(t), num(target)),
            None => format!("declare cost_limits.token_soft_cap: {}", num(target)),
        };
        add(change, &|d| {
            let c = mapping(d, "cost_limits")?;
            c.remove("max_total_tokens");
            c.insert("token_soft_cap".into(), json!(target as i64));
            Some(())
        });
    }
    let usd = cost.and_then(|c| {
        ["cumulative_usd", "max_cost_usd"]
            .iter()
            .find_map(|k| c.get(*k).filter(|v| truthy(Some(v))).and_then(number_like))
    });
    if let Some(target) = lower_bound(usd, &[0.5, 2.0, 10.0]) {
        let change = match usd {
            Some(u) => format!("lower the spend cap from ${} to ${}", num(u), num(target)),
            None => format!("declare cost_limits.cumulative_usd: {}", num(target)),
        };
        add(change, &|d| {
            let c = mapping(d, "cost_limits")?;
            c.remove("max_cost_usd");
            c.insert("cumulative_usd".into(), json!(target));
            Some(())
        });
    }
}

/// Evaluators and metrics: another rubric evaluator, the first evaluator
/// lacking a pass_threshold (then dimensions) completed, another metric.
fn evaluator_candidates(doc: &Doc, add: &mut AddFn<'_>) {
    let has_evaluators = matches!(doc.get("evaluators"), Some(Value::Array(evs)) if !evs.is_empty());
    let rubric_change = if has_evaluators {
        "add another evaluator, an LLM rubric with dimensions and a pass_threshold"
    } else {
        "add an evaluator, an LLM rubric with dimensions and a pass_threshold"
    };
    add(rubric_change.into(), &|d| {
        push(
            d,
            "evaluators",
            json!({"id": "added_rubric", "type": "llm_rubric", "runs_after": ["*"],
                       "rubric": {"dimensions": [{"name": "quality", "weight": 1.0}], "pass_threshold": 0.8}}),
        )
    });
    if let Some(Value::Array(evs)) = doc.get("evaluators") {
        for (field, change) in [
            ("pass_threshold", "give evaluator `{}` a rubric pass_threshold"),
            ("dimensions", "give evaluator `{}` rubric dimensions"),
        ] {
            let idx = evs.iter().position(|e| {
                e.as_object().is_some_and(|e| {
                    matches!(e.get("rubric"), None | Some(Value::Null | Value::Object(_)))
                        && !truthy(e.get("rubric").and_then(|r| r.get(field)))
                })
            });
            if let Some(i) = idx {
                let id = evs[i].get("id").and_then(Value::as_str).unwrap_or("?").to_string();
                add(change.replace("{}", &id), &move |d| {
                    let ev = d.get_mut("evaluators")?.as_array_mut()?.get_mut(i)?.as_object_mut()?;
                    let r = mapping(ev, "rubric")?;
                    let v = if field == "dimensions" {
                        json!([{"name": "quality", "weight": 1.0}])
                    } else {
                        json!(0.8)
                    };
                    r.insert(field.into(), v);
                    Some(())
                });
            }
        }
    }
    add("declare another metric".into(), &|d| {
        push(d, "metrics", json!({"name": "added_metric", "source": "evaluators.added"}))
    });
}

/// Structure: feedback, memory, optimizer, inputs, workers, level.
fn structure_candidates(doc: &Doc, add: &mut AddFn<'_>) {
    add("add a feedback channel from an evaluator to a worker".into(), &|d| {
        push(d, "feedback_channels", json!({"id": "added_feedback", "format": "structured"}))
    });
    if !truthy(doc.get("memory")) {
        add("declare memory (e.g. type: ephemeral)".into(), &|d| {
            d.insert("memory".into(), json!({"type": "ephemeral"}));
            Some(())
        });
    }
    let opt_type = doc
        .get("optimization_strategy")
        .and_then(Value::as_object)
        .and_then(|o| get_str(o, "type"));
    if !matches!(opt_type, Some("reflection" | "prompt_refinement")) {
        add("set optimization_strategy.type to prompt_refinement".into(), &|d| {
            mapping(d, "optimization_strategy")?.insert("type".into(), json!("prompt_refinement"));
            Some(())
        });
    }
    input_candidate(doc, add);
    let workers = match doc.get("workers") {
        Some(Value::Array(a)) => Some(a.len()),
        None | Some(Value::Null) => Some(0),
        _ => None,
    };
    if workers.is_some_and(|n| n < 2) {
        add("add a second worker (e.g. a reviewer)".into(), &|d| {
            push(d, "workers", json!({"id": "added_worker", "role": "review"}))
        });
    }
    level_candidate(doc, add);
}

/// Declares an input field, or one more under a name not yet taken.
fn input_candidate(doc: &Doc, add: &mut AddFn<'_>) {
    match doc.get("inputs") {
        None | Some(Value::Null) => add("declare an input field (inputs.schema)".into(), &|d| {
            d.insert("inputs".into(), json!({"schema": {"task": {"type": "string"}}}));
            Some(())
        }),
        Some(Value::Object(i)) if matches!(i.get("schema"), None | Some(Value::Object(_))) => {
            add("declare another input field (inputs.schema)".into(), &|d| {
                let i = mapping(d, "inputs")?;
                let s = mapping(i, "schema")?;
                let mut k = s.len();
                while s.contains_key(&format!("input_{k}")) {
                    k += 1;
                }
                s.insert(format!("input_{k}"), json!({"type": "string"}));
                Some(())
            })
        }
        _ => {}
    }
}

/// A taxonomy level above 1 written only under `metadata`, where the score
/// does not read it, moved to the top level.
fn level_candidate(doc: &Doc, add: &mut AddFn<'_>) {
    if doc.get("taxonomy_level").is_some() {
        return;
    }
    let meta = doc
        .get("metadata")
        .and_then(Value::as_object)
        .and_then(|m| get(m, "taxonomy_level"))
        .and_then(number_like);
    if let Some(level) = meta.filter(|l| *l > 1.0) {
        add(
            format!(
                "declare taxonomy_level: {} at the top level (metadata.taxonomy_level is not read)",
                num(level)
            ),
            &|d| {
                d.insert("taxonomy_level".into(), json!(level));
                Some(())
            },
        );
    }
}

/// Safety: add a halting constraint, or make a non-escalating one halt.
fn safety_candidates(doc: &Doc, add: &mut AddFn<'_>) {
    add("add a safety constraint that halts on violation".into(), &|d| {
        push(
            d,
            "safety_constraints",
            json!({"id": "added-guard", "type": "output_filter", "action": "halt", "severity": "S1"}),
        )
    });
    if let Some(Value::Array(cs)) = doc.get("safety_constraints") {
        if let Some(i) = cs.iter().position(|c| {
            c.as_object()
                .is_some_and(|c| !matches!(get_str(c, "action"), Some("halt" | "quarantine" | "escalate" | "escalate_human")))
        }) {
            let id = cs[i].get("id").and_then(Value::as_str).unwrap_or("?").to_string();
            add(format!("make safety constraint `{id}` halt"), &move |d| {
                let c = d.get_mut("safety_constraints")?.as_array_mut()?.get_mut(i)?.as_object_mut()?;
                c.insert("action".into(), json!("halt"));
                Some(())
            });
        }
    }
}

/// The next band bound below `current` (or the loosest bound when absent).
fn lower_bound(current: Option<f64>, bounds: &[f64]) -> Option<f64> {
    match current {
        None => bounds.first().copied(),
        Some(x) => bounds.iter().rev().copied().find(|b| *b < x),
    }
}

/// Declares or tightens the iteration budget to the next speed band.
fn budget_candidate(doc: &Doc, add: &mut AddFn<'_>) {
    let mut cx = Cx::new(false);
    let current = speed::budget(doc, &mut cx)
        .ok()
        .flatten()
        .and_then(|b| py_int(b.value).ok().filter(|_| !b.value.is_boolean()));
    let target = match current {
        None => 10.0,
        Some(n) => match [3.0, 5.0, 10.0, 20.0].iter().rev().copied().find(|b| *b < n) {
            Some(b) => b,
            None => return,
        },
    };
    let change = match current {
        None => format!("declare an iteration budget (max_iterations: {})", num(target)),
        Some(n) => format!("lower the iteration budget from {} to {}", num(n), num(target)),
    };
    let dialect_is_list = matches!(termination(doc), Termination::List(_));
    add(change, &move |d| {
        let t = target as i64;
        // Rewrite every place the budget can come from.
        if let Some(Value::Object(c)) = d.get_mut("cost_limits") {
            if c.contains_key("max_iterations") {
                c.insert("max_iterations".into(), json!(t));
            }
        }
        if let Some(Value::Object(o)) = d.get_mut("optimization_strategy") {
            if o.contains_key("max_steps") {
                o.insert("max_steps".into(), json!(t));
            }
        }
        let cond = json!({"type": "max_iterations", "value": t, "action": "halt"});
        if dialect_is_list {
            let list = d.get_mut("termination_conditions")?.as_array_mut()?;
            list.retain(|c| c.get("type").and_then(Value::as_str) != Some("max_iterations"));
            list.push(json!({"type": "max_iterations", "value": t}));
        } else {
            let term = mapping(d, "termination_conditions")?;
            let failure = term.entry("failure").or_insert_with(|| json!([]));
            if !failure.is_array() {
                *failure = json!([]);
            }
            let f = failure.as_array_mut()?;
            f.retain(|c| c.get("type").and_then(Value::as_str) != Some("max_iterations"));
            f.push(cond);
        }
        Some(())
    });
}
