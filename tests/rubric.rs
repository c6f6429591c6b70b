//! An LLM judge does not grade its own rubric: the verdict is computed from
//! its dimension scores, the spec's weights and scales and `pass_threshold`.
//! Driven through `loopc run` with scripted executors.

mod support;

use serde_json::Value;
use support::{calc_workdir, run_calc};

const SPEC: &str = r#"loop_name: judged-fix
version: 1.0.0
objective: Make the calculator's tests pass, judged by a reviewer model
inputs:
  schema:
    target: {type: string, description: File to repair, required: true}
memory: {type: ephemeral}
workers:
  - id: fixer
    role: Edit the target file
    model: {provider: local, name: scripted-fixer}
    inputs: [{from: inputs.target}]
    outputs: {name: patch, format: code}
evaluators:
  - id: review
    type: llm_rubric
    runs_after: [fixer]
    rubric:
      dimensions:
        - {name: correct, weight: 0.7, scale: [1, 5], criteria: The fix is right}
        - {name: minimal, weight: 0.3, scale: [1, 5], criteria: The diff is small}
      pass_threshold: 0.7
    model: {provider: local, name: scripted-judge}
feedback_channels:
  - {id: notes, source: evaluators.review, destination: workers.fixer, format: structured}
optimization_strategy: {type: prompt_refinement, max_steps: 3}
termination_conditions:
  success: [{metric: quality, operator: gte, value: 0.7}]
  failure: [{type: max_iterations, value: 2, action: halt}]
metrics:
  - {name: quality, primary: true, definition: The rubric score, source: evaluators.review, unit: ratio}
safety_constraints: []
cost_limits: {per_iteration_usd: 1, cumulative_usd: 5, on_exceed: {action: halt}}
"#;

fn run_with_judge(name: &str, judge: &str) -> (String, Value) {
    let dir = calc_workdir(&format!("rubric/{name}"));
    std::fs::write(dir.join("spec.yaml"), SPEC).unwrap();
    let responses = format!(r#"{{"steps": {{"workers.fixer": {{"output": "a patch"}}, "evaluators.review": {judge}}}}}"#);
    std::fs::write(dir.join("responses.json"), responses).unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        "[sandbox]\nroot = \"repo\"\n\n[executors.replay]\nkind = \"script\"\nfile = \"responses.json\"\n\n[bind]\ndefault = \"replay\"\n",
    )
    .unwrap();
    let (out, report) = run_calc(&dir, &[]);
    let state = dir.with_extension("state");
    let logs = support::loopc_env(
        &[
            "logs",
            report["run_id"].as_str().unwrap_or("?"),
            "--step",
            "review",
            "--format",
            "json",
        ],
        &dir,
        &[("LOOPC_STATE_DIR", state.as_os_str())],
    );
    let logs: Value = serde_json::from_slice(&logs.stdout).unwrap_or(Value::Null);
    (
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        json_pair(report, logs),
    )
}

fn json_pair(report: Value, logs: Value) -> Value {
    serde_json::json!({"report": report, "verdict": logs["steps"][0]["record"]})
}

#[test]
fn a_judge_that_passes_itself_at_a_low_rubric_score_fails() {
    // The judge says "passed, 0.95"; its own dimension scores give
    // 0.7 * (2-1)/4 + 0.3 * (1-1)/4 = 0.175 < 0.7.
    let (all, got) = run_with_judge(
        "self-pass",
        r#"{"output": {"passed": true, "score": 0.95, "dimension_scores": {"correct": 2, "minimal": 1}}}"#,
    );
    assert_eq!(got["report"]["status"], "halted", "{all}");
    let verdict = &got["verdict"];
    assert_eq!(verdict["passed"], false, "{verdict}");
    assert!((verdict["score"].as_f64().unwrap() - 0.175).abs() < 1e-9, "{verdict}");
    assert_eq!(verdict["judge_passed"], true);
    assert_eq!(verdict["judge_disagrees"], true);
}

#[test]
fn a_judge_scores_that_pass_the_rubric_pass_whatever_it_says() {
    let (all, got) = run_with_judge(
        "pass",
        r#"{"output": {"passed": false, "dimension_scores": {"correct": 5, "minimal": 3}}}"#,
    );
    assert_eq!(got["report"]["status"], "succeeded", "{all}");
    assert!((got["verdict"]["score"].as_f64().unwrap() - 0.85).abs() < 1e-9);
}

#[test]
fn a_judge_that_skips_a_dimension_is_an_evaluator_error() {
    let (all, got) = run_with_judge(
        "hole",
        r#"{"output": {"passed": true, "score": 1, "dimension_scores": {"correct": 5}}}"#,
    );
    assert_ne!(got["report"]["status"], "succeeded", "{all}");
    assert_eq!(
        got["verdict"]["error"], "the judge gave no score for rubric dimension `minimal`",
        "{}",
        got["verdict"]
    );
}
