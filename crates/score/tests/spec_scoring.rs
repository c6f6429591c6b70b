//! Structural scorer: the reference defects (default vs parity), reference
//! failures, explanations, the best improvement, the JSON shape and the table.

mod common;

use loopc_score::{render_table, score_spec, SpecScore, SpecScoreOptions, CATEGORIES, WEIGHTS};
use serde_json::{json, Value};

const PARITY: SpecScoreOptions = SpecScoreOptions { reference_parity: true };
const DEFAULT: SpecScoreOptions = SpecScoreOptions { reference_parity: false };

fn cats(s: &SpecScore) -> Vec<f64> {
    s.categories.iter().map(|c| c.score).collect()
}

fn has_note(s: &SpecScore, needle: &str) -> bool {
    s.notes.iter().any(|n| n.contains(needle))
}

#[test]
fn weights_sum_to_one_in_les_order() {
    assert_eq!(CATEGORIES[0], "effectiveness");
    assert_eq!(CATEGORIES[7], "autonomy");
    assert!((WEIGHTS.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert_eq!(loopc_score::weight("robustness"), Some(0.13));
    assert_eq!(loopc_score::weight("vibes"), None);
}

#[test]
fn empty_spec_gets_the_base_values() {
    // 0.2*0.40 + 0.15*0.50 + 0.12*0.50 + 0.13*0.35 + 0.10*0.45 + 0.12*0.35
    // + 0.10*0.44 (0.40 + 0.04 x level 1) + 0.08*0.53 (0.50 + 0.03) = 0.4339 -> 43.4
    for opts in [DEFAULT, PARITY] {
        let s = score_spec(&json!({}), &opts);
        assert_eq!(s.les, 43.4);
        assert_eq!(cats(&s), vec![0.4, 0.5, 0.5, 0.35, 0.45, 0.35, 0.44, 0.53]);
        assert!(s.reference_error.is_none());
    }
    let s = score_spec(&json!({}), &DEFAULT);
    assert!(has_note(&s, "no iteration budget declared"), "{:?}", s.notes);
}

#[test]
fn les_scores_override_only_with_parity() {
    let doc = json!({"les_scores": {
        "effectiveness": 1, "speed": 1, "cost": 1, "robustness": 1,
        "scalability": 1, "safety": 1, "adaptability": 1, "autonomy": 1}});
    let parity = score_spec(&doc, &PARITY);
    assert_eq!(parity.les, 100.0, "the reference takes self-reported scores");
    assert!(
        has_note(&parity, "default (corrected) LES of this spec is 43.4"),
        "{:?}",
        parity.notes
    );
    assert!(parity.categories[0].explanation[0].contains("les_scores"));
    let def = score_spec(&doc, &DEFAULT);
    assert_eq!(def.les, 43.4);
    assert!(has_note(&def, "les_scores key ignored; pass --reference-parity to honour it"));
    assert!(has_note(&def, "reference loopctl score gives 100.0"));
}

#[test]
fn les_scores_partial_nulls_strings_and_clamping() {
    // speed from les_scores "0.9" (float("0.9")), cost null -> inferred,
    // safety 7 -> clamped to 1.0, autonomy -1 -> 0.0.
    let doc = json!({"les_scores": {"speed": "0.9", "cost": null, "safety": 7, "autonomy": -1}});
    let s = score_spec(&doc, &PARITY);
    assert_eq!(cats(&s), vec![0.4, 0.9, 0.5, 0.35, 0.45, 1.0, 0.44, 0.0]);
    // 0.08 + 0.135 + 0.06 + 0.0455 + 0.045 + 0.12 + 0.044 + 0 = 0.5295; in
    // binary the sum x 100 is just below 52.95, so round(_, 1) gives 52.9,
    // as `loopctl score` prints.
    assert_eq!(s.les, 52.9);
}

#[test]
fn les_scores_shapes_the_reference_cannot_read() {
    for (bad, err) in [
        (json!(["speed"]), "list indices"),
        (json!("speed=0.9"), "string indices"),
        (json!(85), "not iterable"),
        (json!({"speed": "fast"}), "could not convert"),
    ] {
        let s = score_spec(&json!({"les_scores": bad}), &PARITY);
        let e = s.reference_error.as_deref().unwrap_or_default();
        assert!(e.contains(err), "{bad}: {e}");
        let d = score_spec(&json!({"les_scores": bad}), &DEFAULT);
        assert!(d.reference_error.is_none());
        assert_eq!(d.les, 43.4);
        assert!(has_note(&d, "reference loopctl score fails on this document"));
    }
    // Shapes it reads without failing: no category name inside.
    for ok in [json!(["other"]), json!("excellent"), json!([]), json!(0)] {
        let s = score_spec(&json!({"les_scores": ok}), &PARITY);
        assert!(s.reference_error.is_none(), "{ok}");
        assert_eq!(s.les, 43.4);
    }
}

#[test]
fn list_form_success_conditions_count_once_by_default() {
    // Reference: 0.4 + 0.1 (quality_threshold) + 0.1 (all_tests_pass) = 0.6 -> 52.6.
    let doc = json!({"termination_conditions": [
        {"type": "quality_threshold", "value": 0.8}, {"type": "all_tests_pass"},
        {"type": "max_iterations", "value": 5}]});
    let p = score_spec(&doc, &PARITY);
    assert_eq!(p.categories[0].score, 0.6);
    assert_eq!(p.categories[1].score, 0.85);
    assert_eq!(p.les, 52.6);
    let d = score_spec(&doc, &DEFAULT);
    assert_eq!(d.categories[0].score, 0.5, "same as the canonical dialect");
    assert_eq!(d.les, 50.6);
    assert!(has_note(&d, "counted once"));
    // The canonical dialect with two success conditions: +0.10 once in both modes.
    let canon = json!({"termination_conditions": {
        "success": [{"metric": "q", "operator": "gte", "value": 0.8}, {"metric": "r", "operator": "gte", "value": 0.9}],
        "failure": [{"type": "max_iterations", "value": 5}]}});
    assert_eq!(score_spec(&canon, &PARITY).les, 50.6);
    assert_eq!(score_spec(&canon, &DEFAULT).les, 50.6);
}

#[test]
fn strings_are_not_counted_by_length_by_default() {
    // Reference: len("abcdefgh") = 8 input fields -> scalability 0.45 + 0.20.
    let p = score_spec(&json!({"inputs": "abcdefgh"}), &PARITY);
    assert_eq!((p.categories[4].score, p.les), (0.65, 45.4));
    let d = score_spec(&json!({"inputs": "abcdefgh"}), &DEFAULT);
    assert_eq!((d.categories[4].score, d.les), (0.45, 43.4));
    // len("accuracy") = 8 metrics -> effectiveness +0.15.
    assert_eq!(score_spec(&json!({"metrics": "accuracy"}), &PARITY).les, 46.4);
    assert_eq!(score_spec(&json!({"metrics": "accuracy"}), &DEFAULT).les, 43.4);
}

#[test]
fn booleans_are_not_numbers_by_default() {
    // int(True) == 1: a budget of 1 -> speed 0.95 in the reference.
    let doc = json!({"cost_limits": {"max_iterations": true}});
    assert_eq!(score_spec(&doc, &PARITY).les, 50.1);
    let d = score_spec(&doc, &DEFAULT);
    assert_eq!(d.categories[1].score, 0.5);
    assert!(has_note(&d, "is a boolean, not a number"));
}

#[test]
fn top_level_taxonomy_level_counts_and_metadata_is_explained() {
    // Level 3: robustness +0.05, adaptability 0.40 + 0.12, autonomy 0.50 + 0.09 -> 45.3.
    assert_eq!(score_spec(&json!({"taxonomy_level": 3}), &DEFAULT).les, 45.3);
    let s = score_spec(&json!({"metadata": {"taxonomy_level": 3}}), &DEFAULT);
    assert_eq!(s.les, 43.4, "the reference reads only the top-level key; kept");
    assert!(s.categories[3]
        .explanation
        .iter()
        .any(|l| l.contains("metadata.taxonomy_level (3) is not counted")));
    let best = s.best_improvement.expect("an improvement");
    assert!(best.gain > 0.0);
}

#[test]
fn reference_failures_are_predicted() {
    for (doc, err) in [
        (json!({"evaluators": "pytest"}), "'str' object has no attribute 'get'"),
        (json!({"evaluators": ["pytest"]}), "'str' object has no attribute 'get'"),
        (json!({"safety_constraints": {"g": {"action": "halt"}}}), "iterated by key"),
        (json!({"cost_limits": [1]}), "'list' object has no attribute 'get'"),
        (json!({"taxonomy_level": "3"}), "'>=' not supported"),
        (json!({"taxonomy_level": null}), "'NoneType'"),
        (
            json!({"termination_conditions": {"failure": [{"type": "max_iterations", "value": "ten"}]}}),
            "invalid literal for int()",
        ),
        (json!({"feedback_channels": 2}), "has no len()"),
        (json!([1, 2]), "Expected YAML mapping"),
    ] {
        let p = score_spec(&doc, &PARITY);
        let e = p.reference_error.clone().unwrap_or_default();
        assert!(e.contains(err), "{doc}: {e}");
        let d = score_spec(&doc, &DEFAULT);
        assert!(d.reference_error.is_none());
        assert!(!d.notes.is_empty(), "{doc}: the default mode says what it ignored");
        assert!(d.les > 0.0);
    }
}

#[test]
fn parity_failure_with_les_scores_still_reports_the_self_reported_numbers() {
    let doc = json!({"evaluators": "x", "les_scores": {"speed": 1.0}});
    let p = score_spec(&doc, &PARITY);
    assert!(p.reference_error.is_some());
    assert_eq!(p.categories[1].score, 1.0);
}

#[test]
fn explanations_say_what_raised_and_lowered_each_category() {
    let doc = json!({
        "evaluators": [{"id": "judge", "rubric": {"dimensions": [{"name": "q"}], "pass_threshold": 0.8}}],
        "cost_limits": {"token_soft_cap": 200000, "cumulative_usd": 20},
        "workers": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}],
        "safety_constraints": [{"id": "ask", "action": "escalate_human"}],
    });
    let s = score_spec(&doc, &DEFAULT);
    let cost = &s.categories[2];
    // 0.5 - 0.1 (tokens > 100000) - 0.15 (> $10) - 0.08 (2 workers beyond two) = 0.17
    assert_eq!(cost.score, 0.17);
    assert!(cost.explanation.iter().any(|l| l.starts_with("-0.10 token cap 200000")));
    assert!(cost.explanation.iter().any(|l| l.starts_with("-0.15 spend cap $20")));
    assert!(cost.explanation.iter().any(|l| l.starts_with("-0.08 2 workers beyond two")));
    let autonomy = &s.categories[7];
    assert!(autonomy
        .explanation
        .iter()
        .any(|l| l.starts_with("-0.10 constraint `ask` escalates")));
    let eff = &s.categories[0];
    assert!(eff.explanation.iter().any(|l| l.contains("`judge` has a rubric pass_threshold")));
    assert!(eff.explanation.iter().any(|l| l.starts_with("+0.00 no metrics")));
}

#[test]
fn best_improvement_is_the_largest_single_gain() {
    let s = score_spec(&common::fixture("loop-library/coding-agent.yaml"), &DEFAULT);
    let best = s.best_improvement.clone().expect("an improvement");
    // A rubric evaluator: effectiveness +0.08 +0.05 +0.05, robustness +0.07:
    // 0.20 x 0.18 + 0.13 x 0.07 = 0.0451 -> +4.5 display points.
    assert_eq!(best.category, "effectiveness");
    assert_eq!(best.gain, 4.5);
    assert!(best.change.contains("evaluator"));
    // A spec with an over-large iteration budget: tightening it wins.
    let doc = json!({
        "evaluators": [{}, {}, {}, {}],
        "termination_conditions": {"failure": [{"type": "max_iterations", "value": 50}]}});
    let s = score_spec(&doc, &DEFAULT);
    let best = s.best_improvement.expect("an improvement");
    // speed 0.40 -> 0.55: 0.15 x 0.15 = +2.25 points; the stall condition
    // gives 0.13 x 0.05 = 0.65; a safety constraint 0.12 x 0.32 = 3.84.
    assert_eq!(best.category, "safety");
    assert_eq!(best.gain, 3.8);
}

#[test]
fn json_shape() {
    let s = score_spec(&common::fixture("examples/specs/runtime-minimal.yaml"), &DEFAULT);
    let v: Value = serde_json::to_value(&s).expect("serializes");
    assert_eq!(v["les"], json!(56.2));
    assert_eq!(v["les_normalized"], json!(0.562));
    assert_eq!(v["categories"].as_array().map(Vec::len), Some(8));
    for c in v["categories"].as_array().into_iter().flatten() {
        assert!(c["name"].is_string() && c["score"].is_number() && c["weight"].is_number());
        assert!(c["explanation"].as_array().is_some_and(|e| !e.is_empty()));
        let score = c["score"].as_f64().unwrap_or(-1.0);
        assert_eq!(score, (score * 100.0).round() / 100.0, "two decimals");
    }
    assert!(v["best_improvement"]["gain"].is_number());
    assert!(v.get("reference_error").is_none());
    assert_eq!(v["reference_parity"], json!(false));
}

#[test]
fn table_is_compact_and_deterministic() {
    let rows: Vec<(String, SpecScore)> = ["loop-library/coding-agent.yaml", "examples/specs/runtime-minimal.yaml"]
        .iter()
        .map(|f| (f.to_string(), score_spec(&common::fixture(f), &DEFAULT)))
        .collect();
    let a = render_table(&rows);
    assert_eq!(a, render_table(&rows));
    let lines: Vec<&str> = a.lines().collect();
    assert!(lines[0].starts_with("FILE") && lines[0].contains("LES") && lines[0].ends_with("AUT"));
    assert!(lines[1].starts_with("loop-library/coding-agent.yaml") && lines[1].contains("70.4"));
    assert!(lines[1].contains("0.78  0.70  0.75  0.77  0.65  0.67  0.60  0.59"));
    assert!(lines[2].contains("56.2"));
    assert!(a.contains("  weakest: "));
    assert!(a.contains("  best change: add another evaluator, an LLM rubric"));
    assert_eq!(render_table(&[]).lines().count(), 1);
}
