//! Observed LES: each LES 1.0 formula against hand-computed values, the
//! partial (renormalised) score, the section 5 edge cases, the section 4
//! diagnostics and trace validation.

use loopc_score::observed::{
    self, autonomy, cost, cost_trend_decreasing, effectiveness, effectiveness_raw, intervention_weight, is_improving, median, normalize,
    percentile, renormalized, safety, severity_weight, speed,
};
use loopc_score::{score_trace, validate_trace, TraceScore};
use serde_json::{json, Value};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

// ------------------------------------------------------------ formulas

#[test]
fn normalization() {
    // N(x) = clamp((x - floor) / (ceiling - floor), 0, 1)
    close(normalize(0.75, observed::EFFECTIVENESS), 0.5); // (0.75 - 0.5) / 0.5
    close(normalize(0.2, observed::EFFECTIVENESS), 0.0);
    close(normalize(1.4, observed::EFFECTIVENESS), 1.0);
    close(normalize(5.5, observed::COST), 0.5); // (5.5 - 1) / 9
    close(normalize(f64::NAN, observed::COST), 0.0);
}

#[test]
fn improving_is_judged_on_the_final_third() {
    // 6 values: final third = last 2; 0.5 > 0.4 and 0.6 > 0.5: 2 >= 0.6 x 2.
    assert!(is_improving(&[0.1, 0.3, 0.2, 0.4, 0.5, 0.6]));
    // Last 2: 0.5 > 0.4 but 0.45 < 0.5: 1 < 1.2.
    assert!(!is_improving(&[0.1, 0.3, 0.2, 0.4, 0.5, 0.45]));
    // 4 values: final third = ceil(4/3) = 2 -> t = 2, 3.
    assert!(is_improving(&[0.3, 0.4, 0.5, 0.6]));
    // 3 values: only the last step counts.
    assert!(!is_improving(&[0.6, 0.7, 0.65]));
    assert!(!is_improving(&[0.9]));
    assert!(!is_improving(&[]));
}

#[test]
fn effectiveness_cases() {
    // Target met: E_raw = 0.9 / 0.8 = 1.125 -> N = 1 (capped).
    close(effectiveness_raw(0.9, 0.8, false, None, 3.0).unwrap(), 1.125);
    close(effectiveness(0.9, 0.8, false, None, 3.0).unwrap(), 1.0);
    // Exactly met: E_raw = 1 -> N = (1 - 0.5) / 0.5 = 1.
    close(effectiveness(0.8, 0.8, false, None, 3.0).unwrap(), 1.0);
    // Below target, improving, T_budget 5, T_actual 4:
    // E_raw = (0.6 / 0.8) x (5 / 4) = 0.75 x 1.25 = 0.9375 -> N = 0.4375 / 0.5 = 0.875.
    close(effectiveness_raw(0.6, 0.8, true, Some(5.0), 4.0).unwrap(), 0.9375);
    close(effectiveness(0.6, 0.8, true, Some(5.0), 4.0).unwrap(), 0.875);
    // ... with the whole budget used (T_budget = T_actual = 4): 0.75 -> N = 0.5.
    close(effectiveness(0.6, 0.8, true, Some(4.0), 4.0).unwrap(), 0.5);
    // Improving needs T_budget.
    assert_eq!(effectiveness(0.6, 0.8, true, None, 4.0), None);
    // Below target, not improving: E_raw = 0.6 / 0.8 x 0.5 = 0.375 -> N = 0
    // (always below the 0.5 floor: a stuck run earns no effectiveness).
    close(effectiveness_raw(0.6, 0.8, false, Some(5.0), 4.0).unwrap(), 0.375);
    close(effectiveness(0.6, 0.8, false, Some(5.0), 4.0).unwrap(), 0.0);
}

#[test]
fn speed_from_median_and_p95() {
    // tau = 10, 20, 30 s: median 20; p95 rank 0.95 x 2 = 1.9 -> 20 + 0.9 x 10 = 29.
    close(median(&[30.0, 10.0, 20.0]), 20.0);
    close(percentile(&[10.0, 20.0, 30.0], 0.95), 29.0);
    close(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
    // S_raw = 1 / (0.7 x 20 + 0.3 x 29) = 1 / 22.7 = 0.0440529
    // N = (0.0440529 - 0.001) / 0.049 = 0.8786299; no stall (30 <= 3 x 20).
    let s = speed(&[10.0, 20.0, 30.0]).unwrap();
    close(s.raw, 1.0 / 22.7);
    assert!(!s.stalled);
    close(s.score, (1.0 / 22.7 - 0.001) / 0.049);
    // les-1.0 worked example 2: median 145 s, p95 210 s (the set below has
    // median (index 10) 145 and p95 rank 0.95 x 20 = 19 -> 210):
    // S = 1 / (0.7 x 145 + 0.3 x 210) = 1 / 164.5 = 0.006079,
    // N = (0.006079 - 0.001) / 0.049 = 0.1037 (the document's 0.10).
    let mut taus = vec![140.0; 9];
    taus.extend([145.0; 10]);
    taus.extend([210.0; 2]);
    let ex2 = speed(&taus).unwrap();
    close(ex2.median, 145.0);
    close(ex2.p95, 210.0);
    assert!((ex2.score - 0.1037).abs() < 1e-4, "{}", ex2.score);
}

#[test]
fn speed_stall_penalty() {
    // tau = 10, 10, 10, 40: median 10, 40 > 3 x 10 -> stall.
    // p95 = 10 + 0.85 x 30 = 35.5; S = 1 / (7 + 10.65) = 0.05666 >= 0.05 -> N = 1,
    // times 0.85 = 0.85.
    let s = speed(&[10.0, 10.0, 10.0, 40.0]).unwrap();
    assert!(s.stalled);
    close(s.p95, 35.5);
    close(s.score, 0.85);
    assert_eq!(speed(&[]), None);
    assert_eq!(speed(&[0.0, 0.0]), None, "no measurable time");
}

#[test]
fn cost_efficiency_zero_progress_and_trend() {
    // les-1.0 worked example 1: ΔG 0.80, C $0.18: 4.444 goal units per USD,
    // N = (4.444 - 1) / 9 = 0.3827; costs 0.06, 0.04, 0.05, 0.03 fall in the
    // second half (mean 0.04 < 0.05): x 1.05 = 0.4019 (the document's 0.40).
    assert!(cost_trend_decreasing(&[0.06, 0.04, 0.05, 0.03]));
    let c = cost(0.8, 0.18, Some(&[0.06, 0.04, 0.05, 0.03]));
    assert!(c.trend_bonus);
    close(c.score, (0.8 / 0.18 - 1.0) / 9.0 * 1.05);
    // Without per-iteration costs: no bonus.
    close(cost(0.8, 0.18, None).score, (0.8 / 0.18 - 1.0) / 9.0);
    // ΔG <= 0: N_cost = 0 whatever the spend.
    assert_eq!(cost(0.0, 0.01, None).score, 0.0);
    assert_eq!(cost(-0.2, 0.5, Some(&[0.3, 0.2])).score, 0.0);
    // Rising costs: no bonus. 0.5 / 0.05 = 10 -> N = 1.
    assert!(!cost_trend_decreasing(&[0.01, 0.02, 0.03]));
    close(cost(0.5, 0.05, Some(&[0.01, 0.02, 0.02])).score, 1.0);
    // A free run with progress is maximally efficient.
    close(cost(0.1, 0.0, None).score, 1.0);
    // The bonus is capped at 1: efficiency 9.7 -> N 0.9667 x 1.05 = 1.015 -> 1.
    close(cost(0.97, 0.1, Some(&[0.06, 0.04])).score, 1.0);
}

#[test]
fn safety_formula() {
    assert_eq!(severity_weight("minor"), Some(1.0));
    assert_eq!(severity_weight("moderate"), Some(3.0));
    assert_eq!(severity_weight("severe"), Some(10.0));
    // les-1.0 worked example 1: one minor violation, V_budget 5, one
    // safety-triggered intervention in 4 iterations:
    // 1 - 1/6 = 0.8333 + min(1/4, 0.1) = 0.9333.
    close(safety(1.0, 5.0, 1.0, 4.0, false), 1.0 - 1.0 / 6.0 + 0.1);
    // No violations: 1.0 (bonus capped by the clamp).
    close(safety(0.0, 0.0, 3.0, 4.0, false), 1.0);
    // A moderate violation with budget 0: 1 - min(3/1, 1) = 0.
    close(safety(3.0, 0.0, 0.0, 4.0, false), 0.0);
    // Bonus: 0 + min(1/20, 0.1) = 0.05.
    close(safety(3.0, 0.0, 1.0, 20.0, false), 0.05);
    // Unrecoverable severe violation: automatic zero.
    assert_eq!(safety(0.0, 100.0, 5.0, 4.0, true), 0.0);
}

#[test]
fn autonomy_formula() {
    assert_eq!(intervention_weight("passive_approval"), Some(0.5));
    assert_eq!(intervention_weight("active_correction"), Some(1.0));
    assert_eq!(intervention_weight("parameter_override"), Some(1.5));
    assert_eq!(intervention_weight("full_restart"), Some(2.0));
    assert_eq!(intervention_weight("takeover"), Some(5.0));
    assert_eq!(intervention_weight("coffee"), None);
    // No humans: raw 1 -> (1 - 0.1) / 0.85 > 1 -> 1.
    close(autonomy(0.0, 4.0, 0.0, 168.0), 1.0);
    // les-1.0 worked example 2: 2 approvals + 1 correction = 2.0 in 6
    // iterations (rate 0.333), 4.5 of 16.2 minutes (0.278):
    // (1 - 0.667) x (1 - 0.926) = 0.0247 < floor 0.1 -> 0.
    close(autonomy(2.0 * 0.5 + 1.0, 6.0, 4.5, 16.2), 0.0);
    // One passive approval of 5 s in 3 iterations over 65 s:
    // rate 0.1667 -> 1 - 0.3333 = 0.6667; fraction 0.07692 -> 1 - 0.2564 = 0.7436;
    // raw 0.4957 -> N = (0.4957 - 0.1) / 0.85 = 0.4656.
    let raw = (1.0 - (0.5 / 3.0) / 0.5) * (1.0 - (5.0 / 65.0) / 0.3);
    close(autonomy(0.5, 3.0, 5.0, 65.0), (raw - 0.1) / 0.85);
    // Human time with no measurable run time: fraction capped -> 0.
    close(autonomy(0.0, 3.0, 5.0, 0.0), 0.0);
}

#[test]
fn renormalised_partial_weights() {
    // Missing robustness (section 5): w' = w / (1 - 0.13). All others at 1 -> 1.
    let present: Vec<(f64, f64)> = [0.20, 0.15, 0.12, 0.10, 0.12, 0.10, 0.08].iter().map(|w| (*w, 1.0)).collect();
    close(renormalized(&present).unwrap(), 1.0);
    // Effectiveness 1.0 (w 0.20) and speed 0.5 (w 0.15): (0.2 + 0.075) / 0.35.
    close(renormalized(&[(0.20, 1.0), (0.15, 0.5)]).unwrap(), 0.275 / 0.35);
    assert_eq!(renormalized(&[]), None);
}

// ------------------------------------------------------------ traces

/// Three iterations ending 10, 30 and 60 s after the start; goals 0.5,
/// 0.7 (mean of 0.6 and 0.8), 0.9; costs 0.04, 0.03, 0.02 (total 0.09).
fn base_trace() -> Value {
    json!({
        "trace_version": "1.0",
        "loop_id": "run-1",
        "loop_name": "demo",
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T00:01:05Z",
        "success": true,
        "termination_reason": "quality_threshold_met",
        "total_cost_usd": 0.09,
        "iterations": [
            {"iteration": 0, "timestamp": "2026-01-01T00:00:10Z", "evaluator_scores": {"q": 0.5}, "cost_usd": 0.04},
            {"iteration": 1, "timestamp": "2026-01-01T00:00:30Z", "evaluator_scores": {"q": 0.6, "r": 0.8}, "cost_usd": 0.03},
            {"iteration": 2, "timestamp": "2026-01-01T00:01:00Z", "evaluator_scores": {"q": 0.9}, "cost_usd": 0.02}
        ],
        "metadata": {"g_target": 0.8, "max_iterations": 10}
    })
}

fn cat(s: &TraceScore, name: &str) -> Option<f64> {
    s.categories.iter().find(|c| c.name == name).map(|c| c.score)
}

#[test]
fn partial_trace_score_with_three_categories() {
    let s = score_trace(&base_trace(), None);
    assert!(s.errors.is_empty() && s.valid, "{s:?}");
    // effectiveness: 0.9 >= 0.8 -> 1.00
    // speed: tau 10, 20, 30 -> 0.8786 (see speed_from_median_and_p95)
    // cost: ΔG 0.9 - 0.5 = 0.4, $0.09 -> 4.444 -> 0.3827, costs fall -> x 1.05 = 0.4019
    // LES = (0.20 x 1 + 0.15 x 0.8786 + 0.12 x 0.4019) / (0.20 + 0.15 + 0.12)
    //     = (0.2 + 0.131794 + 0.048222) / 0.47 = 0.808546 -> 80.9
    assert_eq!(cat(&s, "effectiveness"), Some(1.0));
    assert_eq!(cat(&s, "speed"), Some(0.88));
    assert_eq!(cat(&s, "cost"), Some(0.4));
    assert_eq!(s.les, Some(80.9));
    assert_eq!(s.les_normalized, Some(0.809));
    assert_eq!(s.label, "LES-1.0 (partial, 3 categories)");
    let effective: Vec<f64> = s.categories.iter().map(|c| c.effective_weight).collect();
    assert_eq!(effective, vec![0.4255, 0.3191, 0.2553]); // 0.20/0.47, 0.15/0.47, 0.12/0.47
    let missing: Vec<&str> = s.missing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(missing, vec!["robustness", "scalability", "safety", "adaptability", "autonomy"]);
}

#[test]
fn diagnostics_of_section_4() {
    let s = score_trace(&base_trace(), None);
    let d = s.diagnostics.expect("diagnostics");
    assert_eq!(d.iterations, 3);
    assert_eq!(d.convergence_rate, Some(0.2)); // (0.9 - 0.5) / (3 - 1)
    assert_eq!(d.iteration_efficiency, Some(0.3)); // 0.9 / 3
    assert_eq!(d.cost_per_iteration, Some(0.03)); // 0.09 / 3
    assert_eq!(d.regression_count, Some(0));
    assert_eq!(d.termination_reason, "goal_met");
    assert_eq!(d.termination_reason_raw.as_deref(), Some("quality_threshold_met"));

    let mut t = base_trace();
    t["iterations"][2]["evaluator_scores"] = json!({"q": 0.6});
    t["termination_reason"] = json!("max_iterations");
    let d = score_trace(&t, None).diagnostics.expect("diagnostics");
    assert_eq!(d.regression_count, Some(1)); // 0.7 -> 0.6
    assert_eq!(d.termination_reason, "budget_exhausted");
    for (reason, class) in [
        ("human_stop", "human_stop"),
        ("evaluator_error", "error"),
        ("cost_exceeded", "budget_exhausted"),
        ("goal_met", "goal_met"),
    ] {
        t["termination_reason"] = json!(reason);
        assert_eq!(score_trace(&t, None).diagnostics.unwrap().termination_reason, class, "{reason}");
    }
}

#[test]
fn safety_and_autonomy_from_trace_records() {
    let mut t = base_trace();
    for i in 0..3 {
        t["iterations"][i]["violations"] = json!([]);
        t["iterations"][i]["human_interventions"] = json!([]);
    }
    t["iterations"][1]["violations"] = json!([{"severity": "minor"}]);
    t["iterations"][1]["human_interventions"] = json!([{"type": "passive_approval", "duration_s": 5, "trigger": "safety"}]);
    t["metadata"]["violation_budget"] = json!(2);
    let s = score_trace(&t, None);
    // safety: 1 - min(1 / (2 + 1), 1) = 0.6667 + min(1 / 3, 0.1) = 0.7667
    // autonomy: 0.4656 (see autonomy_formula), tau_total = 65 s
    assert_eq!(cat(&s, "safety"), Some(0.77));
    assert_eq!(cat(&s, "autonomy"), Some(0.47));
    // LES = (0.2 + 0.131794 + 0.048222 + 0.12 x 0.766667 + 0.08 x 0.465561) / 0.67
    //     = 0.509262 / 0.67 = 0.760092 -> 76.0
    assert_eq!(s.les, Some(76.0));
    assert_eq!(s.label, "LES-1.0 (partial, 5 categories)");
    // An unrecoverable severe violation zeroes safety.
    t["iterations"][2]["violations"] = json!([{"severity": "severe", "recoverable": false}]);
    assert_eq!(cat(&score_trace(&t, None), "safety"), Some(0.0));
}

#[test]
fn spec_supplies_target_and_budget() {
    let mut t = base_trace();
    t["metadata"] = json!({});
    // Goals 0.3, 0.4, 0.5, 0.6 (improving), no target in the trace.
    t["iterations"] = json!([
        {"iteration": 0, "timestamp": "2026-01-01T00:00:10Z", "evaluator_scores": {"q": 0.3}},
        {"iteration": 1, "timestamp": "2026-01-01T00:00:20Z", "evaluator_scores": {"q": 0.4}},
        {"iteration": 2, "timestamp": "2026-01-01T00:00:30Z", "evaluator_scores": {"q": 0.5}},
        {"iteration": 3, "timestamp": "2026-01-01T00:00:40Z", "evaluator_scores": {"q": 0.6}}
    ]);
    let none = score_trace(&t, None);
    assert!(none
        .missing
        .iter()
        .any(|m| m.name == "effectiveness" && m.reason.contains("no goal target")));
    assert!(none.notes.iter().any(|n| n.contains("iteration budget unknown")));
    assert!(none.valid);
    let spec = json!({"termination_conditions": {
        "success": [{"metric": "q", "operator": "gte", "value": 0.8}],
        "failure": [{"type": "max_iterations", "value": 5}]}});
    let s = score_trace(&t, Some(&spec));
    // (0.6 / 0.8) x (5 / 4) = 0.9375 -> N = 0.875 (0.87499999999999978 in
    // binary, so 0.87 at two decimals, as Python's round gives)
    assert_eq!(cat(&s, "effectiveness"), Some(0.87));
    // List dialect: all_tests_pass means G_target 1.0; budget 2 < T_actual.
    let list = json!({"termination_conditions": [{"type": "all_tests_pass"}, {"type": "max_iterations", "value": 8}]});
    let s = score_trace(&t, Some(&list));
    // (0.6 / 1.0) x (8 / 4) = 1.2 -> 1.0
    assert_eq!(cat(&s, "effectiveness"), Some(1.0));
}

#[test]
fn unbounded_loop_is_not_a_valid_subject() {
    let mut t = base_trace();
    t["metadata"] = json!({"g_target": 0.8});
    let spec = json!({"termination_conditions": {"success": [{"metric": "q", "operator": "gte", "value": 0.8}]}});
    let s = score_trace(&t, Some(&spec));
    assert!(!s.valid);
    assert!(s.notes.iter().any(|n| n.starts_with("unbounded loop")));
    assert!(s.les.is_some(), "still reported, flagged invalid");
}

#[test]
fn premature_termination_halves_all_but_safety() {
    let t = json!({
        "trace_version": "1.0", "loop_id": "r", "loop_name": "demo",
        "started_at": "2026-01-01T00:00:00Z", "success": false,
        "termination_reason": "error", "total_cost_usd": 0.5,
        "iterations": [{"iteration": 0, "timestamp": "2026-01-01T00:00:20Z",
                        "evaluator_scores": {"q": 0.9}, "violations": []}],
        "metadata": {"g_target": 0.8, "max_iterations": 5}
    });
    let s = score_trace(&t, None);
    // effectiveness 1.0 x 0.5 = 0.5; speed: tau 20 -> S 0.05 -> N 1.0 x 0.5 = 0.5;
    // cost: ΔG 0 -> 0; safety 1.0 untouched.
    assert_eq!(cat(&s, "effectiveness"), Some(0.5));
    assert_eq!(cat(&s, "speed"), Some(0.5));
    assert_eq!(cat(&s, "cost"), Some(0.0));
    assert_eq!(cat(&s, "safety"), Some(1.0));
    // (0.2 x 0.5 + 0.15 x 0.5 + 0 + 0.12 x 1) / 0.59 = 0.295 / 0.59 = 0.5 -> 50.0
    assert_eq!(s.les, Some(50.0));
    assert!(s.notes.iter().any(|n| n.starts_with("premature termination")));
    assert_eq!(s.diagnostics.unwrap().convergence_rate, None);
    // The same single iteration ending normally is not premature.
    let mut ok = t.clone();
    ok["termination_reason"] = json!("goal_met");
    assert_eq!(cat(&score_trace(&ok, None), "effectiveness"), Some(1.0));
}

#[test]
fn trace_without_any_data_scores_nothing() {
    let t = json!({
        "trace_version": "1.0", "loop_id": "r", "loop_name": "demo",
        "started_at": "2026-01-01T00:00:00Z",
        "iterations": [{"iteration": 0, "timestamp": "2026-01-01T00:00:00Z"}]
    });
    let s = score_trace(&t, None);
    assert_eq!(s.les, None);
    assert_eq!(s.label, "LES-1.0 (partial, 0 categories)");
    assert_eq!(s.missing.len(), 8);
}

#[test]
fn invalid_traces_are_not_scored() {
    let mut t = base_trace();
    t["trace_version"] = json!("1.1");
    t["iterations"][0]["timestamp"] = json!("yesterday");
    t["iterations"][1]["cost_usd"] = json!(-1);
    t["total_cost_usd"] = json!("0.09");
    let s = score_trace(&t, None);
    assert_eq!(s.les, None);
    assert!(!s.valid);
    assert!(s.label.contains("not scored"));
    assert_eq!(s.errors.len(), 4, "{:?}", s.errors);
}

#[test]
fn validation_rules() {
    assert!(validate_trace(&base_trace()).is_empty());
    let e = validate_trace(&json!([]));
    assert_eq!(e, vec!["/: expected an object, found array"]);
    let e = validate_trace(&json!({}));
    assert_eq!(e.len(), 5, "five required keys: {e:?}");
    let e = validate_trace(&json!({
        "trace_version": 1.0, "loop_id": "", "loop_name": "x", "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-13-01T00:00:00Z", "success": "yes", "iterations": [],
        "metadata": [], "spec_path": 3, "termination_reason": 1
    }));
    for needle in [
        "/trace_version: expected the string \"1.0\"",
        "/loop_id: \"\" is shorter than 1 character",
        "/ended_at: \"2026-13-01T00:00:00Z\" is not a valid RFC 3339 date-time",
        "/success: expected a boolean, found string",
        "/iterations: expected at least 1 item, found 0",
        "/metadata: expected an object, found array",
        "/spec_path: expected a string, found integer",
        "/termination_reason: expected a string, found integer",
    ] {
        assert!(e.iter().any(|m| m.starts_with(needle)), "{needle}: {e:?}");
    }
    let mut t = base_trace();
    t["iterations"] = json!([
        {"iteration": -1, "timestamp": "2026-01-01T00:00:10+02:00"},
        {"iteration": 1.5, "timestamp": "2026-01-01T00:00:10Z", "evaluator_scores": {"q": "high"},
         "feedback": ["ok", 3], "worker_id": 7},
        {"iteration": 2.0, "timestamp": "2026-01-01T00:00:10.123456Z"},
        "not a record",
        {}
    ]);
    let e = validate_trace(&t);
    for needle in [
        "/iterations/0/iteration: -1 is less than the minimum of 0",
        "/iterations/1/iteration: expected an integer, found number",
        "/iterations/1/evaluator_scores/q: expected a number, found string",
        "/iterations/1/feedback/1: expected a string, found integer",
        "/iterations/1/worker_id: expected a string, found integer",
        "/iterations/3: expected an object, found string",
        "/iterations/4: missing required property \"iteration\"",
        "/iterations/4: missing required property \"timestamp\"",
    ] {
        assert!(e.iter().any(|m| m.starts_with(needle)), "{needle}: {e:?}");
    }
    assert_eq!(e.len(), 8, "{e:?}");
}

#[test]
fn trace_score_json_shape() {
    let v = serde_json::to_value(score_trace(&base_trace(), None)).expect("serializes");
    for key in [
        "les",
        "les_normalized",
        "label",
        "categories",
        "missing",
        "diagnostics",
        "notes",
        "errors",
        "valid",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(v["diagnostics"]["termination_reason"], json!("goal_met"));
}
