//! Evaluator `aggregation` (semantics §2.3): how the evaluators that judge
//! one worker's output combine into one verdict on it, and those into the
//! iteration's verdict.
//!
//! The evaluators that declare an `aggregation` and run after a worker form
//! that worker's panel (an evaluator without one counts on its own, through
//! its metrics, as before):
//!
//! - `veto`: the panel fails when this evaluator fails; a failed veto also
//!   caps the panel's score at its own.
//! - `min`: the panel's score is at most this evaluator's, and the panel
//!   fails when it fails.
//! - `weighted_avg`: the panel's average is the mean of these evaluators'
//!   scores, each with weight 1 (an LLM rubric's score is already its
//!   dimensions' weighted mean); the average passes when it reaches the mean
//!   of their thresholds (an LLM rubric's `pass_threshold`, 1 for a check
//!   whose verdict is pass/fail).
//!
//! The panel's score is the lowest of its average and its `min` members'
//! scores (of its `veto` members' scores when it has neither). The
//! iteration's verdict passes when every panel passes; its score is the
//! lowest panel score. An evaluator that erred or was skipped counts as a
//! failed verdict with score 0.

use std::collections::HashMap;

use loopc_plan::{Aggregation, EvaluatorKind, Plan};
use serde_json::{json, Map, Value};

/// A score within this of a threshold meets it (floating-point rounding).
const EPSILON: f64 = 1e-9;

/// One evaluator's part in a panel.
struct Member<'a> {
    id: &'a str,
    aggregation: Aggregation,
    passed: bool,
    score: f64,
    threshold: f64,
}

/// The iteration's combined verdict, when any evaluator declares an
/// `aggregation`: `{"passed", "score", "failed_by", "panels": {worker: …}}`.
pub(crate) fn combined(plan: &Plan, verdicts: &HashMap<String, Value>) -> Option<Value> {
    let mut panels = Map::new();
    for worker in &plan.workers {
        let members: Vec<Member<'_>> = plan
            .evaluators
            .iter()
            .filter(|e| e.runs_after.contains(&worker.id))
            .filter_map(|e| {
                let aggregation = e.aggregation?;
                let verdict = verdicts.get(&e.id);
                Some(Member {
                    id: &e.id,
                    aggregation,
                    passed: verdict.and_then(|v| v["passed"].as_bool()).unwrap_or(false),
                    score: verdict.and_then(|v| v["score"].as_f64()).unwrap_or(0.0).clamp(0.0, 1.0),
                    threshold: match &e.kind {
                        EvaluatorKind::LlmRubric { pass_threshold, .. } => *pass_threshold,
                        _ => 1.0,
                    },
                })
            })
            .collect();
        if !members.is_empty() {
            panels.insert(worker.id.clone(), panel(&members));
        }
    }
    if panels.is_empty() {
        return None;
    }
    let passed = panels.values().all(|p| p["passed"] == json!(true));
    let score = panels.values().filter_map(|p| p["score"].as_f64()).fold(1.0, f64::min);
    let mut failed_by: Vec<Value> = panels
        .values()
        .flat_map(|p| p["failed_by"].as_array().cloned().unwrap_or_default())
        .collect();
    failed_by.dedup();
    Some(json!({"passed": passed, "score": score, "failed_by": failed_by, "panels": panels}))
}

/// One worker's panel: its verdict, and what failed it (`id (veto)`, …).
fn panel(members: &[Member<'_>]) -> Value {
    let of = |a: Aggregation| members.iter().filter(move |m| m.aggregation == a);
    let mut failed_by: Vec<String> = members
        .iter()
        .filter(|m| m.aggregation != Aggregation::WeightedAvg && !m.passed)
        .map(|m| format!("{} ({})", m.id, m.aggregation))
        .collect();
    let averaged: Vec<&Member<'_>> = of(Aggregation::WeightedAvg).collect();
    let average = (!averaged.is_empty()).then(|| {
        let n = averaged.len() as f64;
        let score = averaged.iter().map(|m| m.score).sum::<f64>() / n;
        let threshold = averaged.iter().map(|m| m.threshold).sum::<f64>() / n;
        (score, threshold)
    });
    if let Some((score, threshold)) = average {
        if score + EPSILON < threshold {
            let ids: Vec<&str> = averaged.iter().map(|m| m.id).collect();
            failed_by.push(format!("{} (weighted_avg {score:.4} < {threshold:.4})", ids.join(", ")));
        }
    }
    let lowest = |it: &mut dyn Iterator<Item = &Member<'_>>| it.map(|m| m.score).reduce(f64::min);
    let min_score = lowest(&mut of(Aggregation::Min));
    let mut score = match (average.map(|a| a.0), min_score) {
        (Some(a), Some(m)) => a.min(m),
        (Some(a), None) => a,
        (None, Some(m)) => m,
        (None, None) => lowest(&mut of(Aggregation::Veto)).unwrap_or(0.0),
    };
    if let Some(vetoed) = lowest(&mut of(Aggregation::Veto).filter(|m| !m.passed)) {
        score = score.min(vetoed);
    }
    json!({"passed": failed_by.is_empty(), "score": score, "failed_by": failed_by})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, aggregation: Aggregation, passed: bool, score: f64, threshold: f64) -> Member<'_> {
        Member {
            id,
            aggregation,
            passed,
            score,
            threshold,
        }
    }

    #[test]
    fn a_veto_fails_the_panel_whatever_the_average() {
        let p = panel(&[
            member("tests", Aggregation::Veto, false, 0.0, 1.0),
            member("judge", Aggregation::WeightedAvg, true, 0.95, 0.8),
        ]);
        assert_eq!(p["passed"], json!(false));
        assert_eq!(p["score"], json!(0.0));
        assert_eq!(p["failed_by"], json!(["tests (veto)"]));
        let p = panel(&[
            member("tests", Aggregation::Veto, true, 1.0, 1.0),
            member("judge", Aggregation::WeightedAvg, true, 0.95, 0.8),
        ]);
        assert_eq!((p["passed"].clone(), p["score"].clone()), (json!(true), json!(0.95)));
    }

    #[test]
    fn min_takes_the_lowest_score() {
        let p = panel(&[
            member("a", Aggregation::Min, true, 0.9, 0.5),
            member("b", Aggregation::Min, true, 0.6, 0.5),
        ]);
        assert_eq!((p["passed"].clone(), p["score"].clone()), (json!(true), json!(0.6)));
        let p = panel(&[
            member("a", Aggregation::Min, true, 0.9, 0.5),
            member("b", Aggregation::Min, false, 0.3, 0.5),
        ]);
        assert_eq!(p["passed"], json!(false));
        assert_eq!(p["failed_by"], json!(["b (min)"]));
    }

    #[test]
    fn weighted_avg_compares_the_mean_score_with_the_mean_threshold() {
        // A failed check (0 of 1) and a strong rubric (0.9 of 0.8): 0.45 < 0.9.
        let p = panel(&[
            member("tests", Aggregation::WeightedAvg, false, 0.0, 1.0),
            member("judge", Aggregation::WeightedAvg, true, 0.9, 0.8),
        ]);
        assert_eq!(p["passed"], json!(false));
        assert_eq!(p["score"], json!(0.45));
        // Two rubrics: one below its threshold, carried by the other.
        let p = panel(&[
            member("a", Aggregation::WeightedAvg, false, 0.7, 0.75),
            member("b", Aggregation::WeightedAvg, true, 0.9, 0.75),
        ]);
        assert_eq!(p["passed"], json!(true), "{p}");
        assert!((p["score"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    }

    #[test]
    fn only_vetoes_score_their_lowest() {
        let p = panel(&[
            member("a", Aggregation::Veto, true, 1.0, 1.0),
            member("b", Aggregation::Veto, true, 0.8, 1.0),
        ]);
        assert_eq!((p["passed"].clone(), p["score"].clone()), (json!(true), json!(0.8)));
    }
}
