//! An evaluator's verdict from what its executor answered (semantics §2.3):
//! a deterministic check's own, or an LLM rubric's computed from the
//! judge's dimension scores, the rubric's weights and scales and its
//! `pass_threshold`.

use serde_json::{json, Map, Value};

/// Normalise an executor's verdict: `passed` and `score` in [0, 1] always
/// present. A deterministic check's own `passed`/`score` decide.
pub(crate) fn normalise_verdict(output: &Value, pass_threshold: f64) -> Value {
    let mut verdict = verdict_object(output);
    let score = verdict.get("score").and_then(Value::as_f64).map(|s| s.clamp(0.0, 1.0));
    let passed = verdict
        .get("passed")
        .and_then(Value::as_bool)
        .or(score.map(|s| s >= pass_threshold))
        .unwrap_or(false);
    verdict.insert("passed".into(), json!(passed));
    verdict.insert("score".into(), json!(score.unwrap_or(if passed { 1.0 } else { 0.0 })));
    Value::Object(verdict)
}

fn verdict_object(output: &Value) -> Map<String, Value> {
    match output {
        Value::Object(m) => m.clone(),
        Value::Bool(b) => Map::from_iter([("passed".to_owned(), json!(b))]),
        Value::Number(n) => Map::from_iter([("score".to_owned(), json!(n))]),
        other => Map::from_iter([("raw_output".to_owned(), other.clone())]),
    }
}

/// An LLM rubric's verdict, computed by the spec's rule and not taken from
/// the judge: each dimension's score normalised from its `scale`, their
/// weighted mean the score, passing at `pass_threshold`. The judge's own
/// `passed`/`score` are kept as `judge_passed`/`judge_score`, and a judge
/// that disagrees with its own dimension scores is marked
/// `judge_disagrees`. A dimension the judge did not score, or scored outside
/// its scale, makes the verdict an evaluator error: a rubric with a hole in
/// it cannot pass.
pub(crate) fn rubric_verdict(output: &Value, pass_threshold: f64, dimensions: &[loopc_plan::RubricDimension]) -> Result<Value, String> {
    let mut verdict = verdict_object(output);
    let scores = verdict
        .get("dimension_scores")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // A rubric that gives no weights (they lower to 0) weighs its dimensions equally.
    let unweighted = dimensions.iter().all(|d| d.weight == 0.0);
    let (mut total, mut weights) = (0.0, 0.0);
    for d in dimensions {
        let (lo, hi) = d.scale;
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(format!(
                "rubric dimension `{}` has scale [{lo}, {hi}]: its top must be above its bottom",
                d.name
            ));
        }
        let s = match scores.get(&d.name) {
            None | Some(Value::Null) => return Err(format!("the judge gave no score for rubric dimension `{}`", d.name)),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| format!("the judge's score for rubric dimension `{}` is not a number: {v}", d.name))?,
        };
        if !(lo - 1e-9..=hi + 1e-9).contains(&s) {
            return Err(format!("the judge scored `{}` {s}, outside its scale [{lo}, {hi}]", d.name));
        }
        let weight = if unweighted { 1.0 } else { d.weight };
        total += weight * ((s - lo) / (hi - lo)).clamp(0.0, 1.0);
        weights += weight;
    }
    let score = if weights > 0.0 { total / weights } else { 0.0 };
    // Weights such as 0.4 + 0.3 + 0.3 that land on the threshold meet it.
    let passed = score + 1e-9 >= pass_threshold;
    for (own, kept) in [("passed", "judge_passed"), ("score", "judge_score")] {
        if let Some(v) = verdict.remove(own) {
            verdict.insert(kept.into(), v);
        }
    }
    if verdict.get("judge_passed").and_then(Value::as_bool).is_some_and(|p| p != passed) {
        verdict.insert("judge_disagrees".into(), json!(true));
    }
    verdict.insert("passed".into(), json!(passed));
    verdict.insert("score".into(), json!(score));
    Ok(Value::Object(verdict))
}

#[cfg(test)]
mod tests {
    use super::{normalise_verdict, rubric_verdict};
    use serde_json::json;

    fn dim(name: &str, weight: f64, scale: (f64, f64)) -> loopc_plan::RubricDimension {
        loopc_plan::RubricDimension {
            name: name.into(),
            weight,
            scale,
            criteria: String::new(),
        }
    }

    #[test]
    fn verdicts_are_normalised() {
        assert_eq!(normalise_verdict(&json!({"score": 0.9}), 0.8)["passed"], json!(true));
        assert_eq!(normalise_verdict(&json!({"passed": false}), 0.8)["score"], json!(0.0));
        assert_eq!(normalise_verdict(&json!("garbage"), 0.5)["passed"], json!(false));
    }

    fn dims() -> Vec<loopc_plan::RubricDimension> {
        let dim = |name: &str, weight, scale| loopc_plan::RubricDimension {
            name: name.into(),
            weight,
            scale,
            criteria: String::new(),
        };
        vec![dim("a", 0.5, (1.0, 5.0)), dim("b", 0.5, (0.0, 1.0))]
    }

    #[test]
    fn a_rubric_is_scored_by_its_dimensions_not_by_the_judge() {
        let v = rubric_verdict(&json!({"dimension_scores": {"a": 5, "b": 0.5}}), 0.7, &dims()).unwrap();
        assert_eq!((v["score"].clone(), v["passed"].clone()), (json!(0.75), json!(true)));
        // A judge that says it passed at 0.2 against a 0.7 threshold fails.
        let v = rubric_verdict(
            &json!({"passed": true, "score": 0.95, "dimension_scores": {"a": 1.8, "b": 0.0}}),
            0.7,
            &dims(),
        )
        .unwrap();
        assert_eq!(v["passed"], json!(false));
        assert!((v["score"].as_f64().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(
            (v["judge_passed"].clone(), v["judge_score"].clone(), v["judge_disagrees"].clone()),
            (json!(true), json!(0.95), json!(true))
        );
    }

    #[test]
    fn a_rubric_with_a_hole_is_an_error() {
        let missing = rubric_verdict(&json!({"passed": true, "dimension_scores": {"a": 4}}), 0.5, &dims()).unwrap_err();
        assert!(missing.contains("no score for rubric dimension `b`"), "{missing}");
        let outside = rubric_verdict(&json!({"dimension_scores": {"a": 9, "b": 1}}), 0.5, &dims()).unwrap_err();
        assert!(outside.contains("outside its scale [1, 5]"), "{outside}");
    }

    #[test]
    fn weights_that_are_absent_or_round_still_score() {
        let unweighted = [dim("x", 0.0, (0.0, 1.0)), dim("y", 0.0, (0.0, 1.0))];
        let v = rubric_verdict(&json!({"dimension_scores": {"x": 1, "y": 0}}), 0.5, &unweighted).unwrap();
        assert_eq!((v["score"].clone(), v["passed"].clone()), (json!(0.5), json!(true)));
        let thirds = [dim("x", 0.4, (0.0, 1.0)), dim("y", 0.3, (0.0, 1.0)), dim("z", 0.3, (0.0, 1.0))];
        let v = rubric_verdict(&json!({"dimension_scores": {"x": 0.75, "y": 0.75, "z": 0.75}}), 0.75, &thirds).unwrap();
        assert_eq!(v["passed"], json!(true), "{v}");
    }

    #[test]
    fn bad_scores_and_scales_are_errors() {
        let err = |output, dims: &[loopc_plan::RubricDimension]| rubric_verdict(&output, 0.5, dims).unwrap_err();
        let d = [dim("d", 1.0, (1.0, 5.0))];
        assert!(err(json!({"dimension_scores": {"d": "high"}}), &d).contains("not a number"));
        assert!(err(json!({"dimension_scores": {"d": null}}), &d).contains("no score"));
        assert!(err(json!({"passed": true, "score": 1}), &d).contains("no score"));
        assert!(err(json!("it passes"), &d).contains("no score"));
        assert!(err(json!({"dimension_scores": {"d": 3}}), &[dim("d", 1.0, (3.0, 3.0))]).contains("top must be above"));
    }
}
