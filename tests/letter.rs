//! The spec honoured to the letter, each through `loopc run` with scripted
//! and command executors: a judge overruled by its rubric is reported;
//! evaluator `aggregation` decides the iteration's verdict; `token_soft_cap`
//! warns once and `[limits] max_tokens` stops; a wall-clock limit kills the
//! running step's process group; a worker's failure is a worker failure.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{calc_workdir, loopc_env, run_calc};

/// A loop of one worker `fixer` with the given evaluators, metrics,
/// success conditions, failure rules and cost limits.
fn spec(evaluators: &str, metrics: &str, success: &str, failure: &str, cost: &str) -> String {
    format!(
        r#"loop_name: letter
version: 1.0.0
objective: Make the calculator's tests pass
inputs:
  schema:
    target: {{type: string, description: File to repair, required: true}}
memory: {{type: ephemeral}}
workers:
  - id: fixer
    role: Edit the target file
    model: {{provider: local, name: scripted-fixer}}
    inputs: [{{from: inputs.target}}]
    outputs: {{name: patch, format: code}}
    tools: [run_command]
    timeout_seconds: 30
evaluators:
{evaluators}
feedback_channels:
  - {{id: notes, source: evaluators.tests, destination: workers.fixer, format: structured}}
optimization_strategy: {{type: prompt_refinement, max_steps: 5}}
termination_conditions:
  success: {success}
  failure: {failure}
metrics:
{metrics}
safety_constraints: []
cost_limits: {cost}
"#
    )
}

/// [`spec`] within a dollar a run.
fn cheap(evaluators: &str, metrics: &str, success: &str, failure: &str) -> String {
    spec(evaluators, metrics, success, failure, CHEAP)
}

const TESTS: &str = "  - {id: tests, type: deterministic, runs_after: [fixer], implementation: evaluators.unit_tests}";
const PASS_RATE: &str = "  - {name: pass_rate, primary: true, definition: Tests pass, source: evaluators.tests, unit: ratio}";
const CHEAP: &str = "{per_iteration_usd: 1, cumulative_usd: 5, on_exceed: {action: halt}}";

fn write(dir: &Path, spec: &str, bindings: &str, responses: &str) {
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    std::fs::write(dir.join("responses.json"), responses).unwrap();
}

/// Bindings with every step scripted, plus `extra` TOML.
fn scripted(extra: &str) -> String {
    format!("[sandbox]\nroot = \"repo\"\n\n{extra}\n[executors.replay]\nkind = \"script\"\nfile = \"responses.json\"\n\n[bind]\ndefault = \"replay\"\n")
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// `loopc status RUN --format json` of a run made by [`run_calc`].
fn status(dir: &Path, report: &Value) -> Value {
    let state = dir.with_extension("state");
    let id = report["run_id"].as_str().unwrap_or("?");
    let out = loopc_env(&["status", id, "--format", "json"], dir, &[("LOOPC_STATE_DIR", state.as_os_str())]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no status: {}", text(&out)))
}

fn events<'a>(status: &'a Value, kind: &str) -> Vec<&'a str> {
    status["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["message"].as_str())
        .collect()
}

/// The run's Loop Trace file.
fn trace(dir: &Path, report: &Value) -> Value {
    let path = dir
        .with_extension("state")
        .join("traces")
        .join(format!("{}.json", report["run_id"].as_str().unwrap()));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_judge_overruled_by_its_rubric_is_reported() {
    let dir = calc_workdir("letter/overruled");
    let judge = "  - id: review\n    type: llm_rubric\n    runs_after: [fixer]\n    rubric:\n      dimensions:\n        - {name: correct, weight: 1, scale: [0, 10], criteria: Right}\n      pass_threshold: 0.7\n    model: {provider: local, name: judge}";
    let metrics = "  - {name: quality, primary: true, definition: Rubric, source: evaluators.review, unit: ratio}";
    let evaluators = format!("{TESTS}\n{judge}");
    let failure = "[{type: max_iterations, value: 1, action: halt}]";
    write(
        &dir,
        &cheap(&evaluators, metrics, "[{metric: quality, operator: gte, value: 0.7}]", failure),
        &scripted(""),
        r#"{"steps": {"workers.fixer": {"output": "p"}, "evaluators.tests": {"output": {"passed": true}},
            "evaluators.review": {"output": {"passed": true, "score": 0.95, "dimension_scores": {"correct": 2}}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    assert_eq!(report["status"], "halted", "{}", text(&out));
    let said = events(&status(&dir, &report), "evaluator").join("\n");
    assert!(
        said.contains("the judge said passed, but its dimension scores give 0.2000 against pass_threshold 0.7: failed"),
        "{said}"
    );
}

/// Tests (`veto`) fail in iteration 1 and pass in iteration 2; the judge
/// (`weighted_avg`) is content both times.
fn vetoed_run(name: &str, aggregation: bool) -> (std::path::PathBuf, std::process::Output, Value) {
    let dir = calc_workdir(&format!("letter/{name}"));
    let (veto, avg) = if aggregation {
        ("\n    aggregation: veto", "\n    aggregation: weighted_avg")
    } else {
        ("", "")
    };
    let evaluators = format!(
        "  - id: tests\n    type: deterministic\n    runs_after: [fixer]\n    implementation: evaluators.unit_tests{veto}\n  - id: review\n    type: llm_rubric\n    runs_after: [fixer]{avg}\n    rubric:\n      dimensions:\n        - {{name: correct, weight: 1, scale: [1, 5], criteria: Right}}\n      pass_threshold: 0.7\n    model: {{provider: local, name: judge}}"
    );
    let metrics = "  - {name: quality, primary: true, definition: Rubric, source: evaluators.review, unit: ratio}\n  - {name: combined, definition: The combined verdict, source: telemetry.verdict, unit: ratio}";
    let failure = "[{type: max_iterations, value: 3, action: halt}]";
    write(
        &dir,
        &cheap(&evaluators, metrics, "[{metric: quality, operator: gte, value: 0.7}]", failure),
        &scripted(""),
        r#"{"steps": {"workers.fixer": {"output": "p"},
            "evaluators.tests": [{"output": {"passed": false, "score": 0}}, {"output": {"passed": true}}],
            "evaluators.review": {"output": {"dimension_scores": {"correct": 5}}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    (dir, out, report)
}

#[test]
fn a_vetoing_evaluator_keeps_the_iteration_from_succeeding() {
    // Without aggregation the rubric's metric alone decides: success at once.
    let (_, out, report) = vetoed_run("no-aggregation", false);
    assert_eq!(
        (report["status"].clone(), report["iterations"].clone()),
        ("succeeded".into(), 1.into()),
        "{}",
        text(&out)
    );

    let (dir, out, report) = vetoed_run("veto", true);
    assert_eq!(report["status"], "succeeded", "{}", text(&out));
    assert_eq!(report["iterations"], 2, "the failed tests vetoed iteration 1: {}", text(&out));
    let s = status(&dir, &report);
    let first = &s["iterations"][0];
    assert_eq!(first["verdict"]["passed"], false, "{first}");
    assert_eq!(first["verdict"]["failed_by"], serde_json::json!(["tests (veto)"]));
    assert_eq!(first["metrics"]["combined"], 0.0, "a failed veto caps the score: {first}");
    assert_eq!(s["iterations"][1]["verdict"]["passed"], true);
    assert_eq!(s["iterations"][1]["metrics"]["combined"], 1.0);
    let said = events(&s, "aggregation").join("\n");
    assert!(
        said.contains("quality gte 0.7 holds, but the evaluators' combined verdict failed (tests (veto))"),
        "{said}"
    );
    // The trace carries the verdict too.
    assert_eq!(trace(&dir, &report)["iterations"][0]["verdict"]["passed"], false);
}

#[test]
fn min_and_weighted_avg_combine_scores() {
    let dir = calc_workdir("letter/min");
    let rubric = |id: &str, aggregation: &str| {
        format!("  - id: {id}\n    type: llm_rubric\n    runs_after: [fixer]\n    aggregation: {aggregation}\n    rubric:\n      dimensions:\n        - {{name: d, weight: 1, scale: [0, 10], criteria: Good}}\n      pass_threshold: 0.5\n    model: {{provider: local, name: judge}}")
    };
    let evaluators = format!(
        "{TESTS}\n{}\n{}\n{}",
        rubric("a", "min"),
        rubric("b", "weighted_avg"),
        rubric("c", "weighted_avg")
    );
    let metrics = format!("{PASS_RATE}\n  - {{name: combined, definition: Combined, source: telemetry.verdict, unit: ratio}}");
    write(
        &dir,
        &cheap(
            &evaluators,
            &metrics,
            "[{metric: combined, operator: gte, value: 0.65}]",
            "[{type: max_iterations, value: 2, action: halt}]",
        ),
        &scripted(""),
        // a: 0.6 (min); b, c: 0.9 and 0.5, averaging 0.7; the panel's score is the lowest: 0.6.
        // In iteration 2, a gives 0.8: min(0.8, 0.7) = 0.7 meets `combined >= 0.65`.
        r#"{"steps": {"workers.fixer": {"output": "p"}, "evaluators.tests": {"output": {"passed": true}},
            "evaluators.a": [{"output": {"dimension_scores": {"d": 6}}}, {"output": {"dimension_scores": {"d": 8}}}],
            "evaluators.b": {"output": {"dimension_scores": {"d": 9}}},
            "evaluators.c": {"output": {"dimension_scores": {"d": 5}}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    assert_eq!(
        (report["status"].clone(), report["iterations"].clone()),
        ("succeeded".into(), 2.into()),
        "{}",
        text(&out)
    );
    let s = status(&dir, &report);
    let combined = |i: usize| s["iterations"][i]["metrics"]["combined"].as_f64().unwrap();
    assert!((combined(0) - 0.6).abs() < 1e-9 && (combined(1) - 0.7).abs() < 1e-9, "{s}");
    assert_eq!(s["iterations"][0]["verdict"]["passed"], true);
}

/// 80 tokens per worker call; the judge-free loop never succeeds.
fn token_run(name: &str, extra: &str) -> (std::path::PathBuf, std::process::Output, Value) {
    let dir = calc_workdir(&format!("letter/{name}"));
    let cost = "{per_iteration_usd: 1, cumulative_usd: 5, token_soft_cap: 100, on_exceed: {action: halt}}";
    write(
        &dir,
        &spec(
            TESTS,
            PASS_RATE,
            "[{metric: pass_rate, operator: eq, value: 1}]",
            "[{type: max_iterations, value: 4, action: halt}]",
            cost,
        ),
        &scripted(extra),
        r#"{"steps": {"workers.fixer": {"output": "p", "usage": {"input_tokens": 50, "output_tokens": 30}},
            "evaluators.tests": {"output": {"passed": false}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    (dir, out, report)
}

#[test]
fn the_token_soft_cap_warns_once_and_the_hard_cap_stops() {
    let (dir, out, report) = token_run("soft-cap", "");
    assert_eq!(report["status"], "halted", "{}", text(&out));
    assert_eq!(report["iterations"], 4, "a soft cap does not stop the run");
    assert_eq!(report["tokens"], 320);
    let s = status(&dir, &report);
    let warned = events(&s, "cost");
    let over: Vec<&&str> = warned.iter().filter(|m| m.contains("token_soft_cap")).collect();
    assert_eq!(over.len(), 1, "{warned:?}");
    assert!(over[0].contains("160 tokens used, over token_soft_cap 100"), "{over:?}");

    let (_, out, report) = token_run("hard-cap", "[limits]\nmax_tokens = 200\n");
    assert_eq!(report["status"], "halted", "{}", text(&out));
    assert_eq!(report["iterations"], 3, "{}", text(&out));
    assert_eq!(
        report["reason"], "cost_exceeded: used 240 tokens, over the token hard cap 200 ([limits] max_tokens)",
        "{report}"
    );
}

/// Processes whose command line holds `marker`, other than the search itself.
fn running(marker: &str) -> Vec<String> {
    let out = std::process::Command::new("pgrep").args(["-af", marker]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("pgrep"))
        .map(str::to_owned)
        .collect()
}

/// A worker that sleeps 10 s under a 3 s wall-clock limit (the spec's
/// `timeout` rule, or the bindings' `[limits] timeout_seconds`).
fn sleeper_run(name: &str, spec_limit: bool) -> (std::path::PathBuf, std::process::Output, Value, Duration, String) {
    let dir = calc_workdir(&format!("letter/{name}"));
    // Unique to this run: the sleep's own argument.
    let marker = format!("10.{}{}", std::process::id(), u8::from(spec_limit));
    let failure = if spec_limit {
        "[{type: max_iterations, value: 2, action: halt}, {type: timeout, value: 3, action: halt}]"
    } else {
        "[{type: max_iterations, value: 2, action: halt}]"
    };
    let limits = if spec_limit { "" } else { "[limits]\ntimeout_seconds = 3\n" };
    let bindings = format!(
        "[sandbox]\nroot = \"repo\"\n\n{limits}\n[executors.sleeper]\nkind = \"command\"\nargv = [\"sh\", \"-c\", \"sleep {marker}; touch finished.txt\"]\n\n[executors.replay]\nkind = \"script\"\nfile = \"responses.json\"\n\n[bind]\n\"workers.fixer\" = \"sleeper\"\ndefault = \"replay\"\n"
    );
    write(
        &dir,
        &cheap(TESTS, PASS_RATE, "[{metric: pass_rate, operator: eq, value: 1}]", failure),
        &bindings,
        r#"{"steps": {"evaluators.tests": {"output": {"passed": true}}}}"#,
    );
    let started = Instant::now();
    let (out, report) = run_calc(&dir, &[]);
    (dir, out, report, started.elapsed(), marker)
}

#[test]
fn a_wall_clock_limit_kills_the_running_step() {
    for spec_limit in [true, false] {
        let (dir, out, report, took, marker) = sleeper_run(&format!("timeout-{spec_limit}"), spec_limit);
        assert!(took < Duration::from_secs(6), "the run took {took:?}: {}", text(&out));
        assert_eq!(report["status"], "halted", "{}", text(&out));
        let reason = report["reason"].as_str().unwrap();
        assert!(reason.starts_with("timeout: ran 3."), "{reason}");
        if !spec_limit {
            assert!(reason.contains("[limits] timeout_seconds 3"), "{reason}");
        }
        assert_eq!(report["iterations"], 1, "stopped within the first iteration");
        assert_eq!(running(&marker), Vec::<String>::new(), "the step's processes outlived it");
        let s = status(&dir, &report);
        assert!(
            s["iterations"][0]["worker_failures"][0]
                .as_str()
                .unwrap()
                .starts_with("fixer: timed out"),
            "{s}"
        );
        assert!(!dir.join("repo/finished.txt").exists());
    }
}

#[test]
fn a_wall_clock_limit_kills_a_running_tool_command() {
    let dir = calc_workdir("letter/timeout-tool");
    let marker = format!("10.{}7", std::process::id());
    let failure = "[{type: max_iterations, value: 2, action: halt}, {type: timeout, value: 3, action: halt}]";
    let responses = format!(
        r#"{{"steps": {{"workers.fixer": {{"output": "p", "tool_calls": [{{"tool": "run_command", "args": {{"argv": ["sleep", "{marker}"]}}}}]}},
            "evaluators.tests": {{"output": {{"passed": true}}}}}}}}"#
    );
    write(
        &dir,
        &cheap(TESTS, PASS_RATE, "[{metric: pass_rate, operator: eq, value: 1}]", failure),
        &scripted(""),
        &responses,
    );
    let started = Instant::now();
    let (out, report) = run_calc(&dir, &[]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "the run took {took:?}: {}", text(&out));
    assert_eq!(report["status"], "halted", "{}", text(&out));
    assert!(report["reason"].as_str().unwrap().starts_with("timeout: ran 3."), "{report}");
    assert_eq!(running(&marker), Vec::<String>::new(), "the tool's command outlived the limit");
}

#[test]
fn a_failing_worker_is_a_worker_failure_not_an_evaluator_error() {
    let dir = calc_workdir("letter/worker-fails");
    let failure = "[{type: evaluator_error, consecutive: 1, action: halt}, {type: max_iterations, value: 2, action: halt}]";
    let bindings = "[sandbox]\nroot = \"repo\"\n\n[executors.broken]\nkind = \"command\"\nargv = [\"sh\", \"-c\", \"echo cannot patch >&2; exit 3\"]\n\n[executors.replay]\nkind = \"script\"\nfile = \"responses.json\"\n\n[bind]\n\"workers.fixer\" = \"broken\"\ndefault = \"replay\"\n";
    write(
        &dir,
        &cheap(TESTS, PASS_RATE, "[{metric: pass_rate, operator: eq, value: 1}]", failure),
        bindings,
        r#"{"steps": {"evaluators.tests": {"output": {"passed": true}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    assert_eq!(report["status"], "halted", "{}", text(&out));
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.starts_with("max_iterations: reached 2"), "not evaluator_error: {reason}");
    assert!(
        reason.contains("worker failures: fixer: failed: `sh` exited with status 3; stderr: cannot patch"),
        "{reason}"
    );
    let failures = report["worker_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{report}");
    assert!(
        failures[0].as_str().unwrap().starts_with("iteration 1: fixer: failed"),
        "{failures:?}"
    );
    let s = status(&dir, &report);
    assert_eq!(s["iterations"][0]["errors"], 0, "no evaluator erred: {s}");
    assert!(s["iterations"][0]["worker_failures"][0].as_str().unwrap().contains("status 3"));
    assert!(
        events(&s, "worker")[0].starts_with("worker fixer: failed: `sh` exited with status 3"),
        "{s}"
    );
    let t = trace(&dir, &report);
    assert!(
        t["iterations"][0]["worker_failures"][0].as_str().unwrap().contains("cannot patch"),
        "{t}"
    );
    // The human report says so too.
    let state = dir.with_extension("state");
    let human = loopc_env(
        &["status", report["run_id"].as_str().unwrap()],
        &dir,
        &[("LOOPC_STATE_DIR", state.as_os_str())],
    );
    assert!(
        text(&human).contains("worker failed: fixer: failed: `sh` exited with status 3"),
        "{}",
        text(&human)
    );
}

#[test]
fn a_misconfigured_worker_stops_the_run_at_once() {
    let dir = calc_workdir("letter/worker-config");
    write(
        &dir,
        &cheap(
            TESTS,
            PASS_RATE,
            "[{metric: pass_rate, operator: eq, value: 1}]",
            "[{type: max_iterations, value: 3, action: halt}]",
        ),
        &scripted(""),
        // No response for the worker: the executor cannot serve it, now or on a retry.
        r#"{"steps": {"evaluators.tests": {"output": {"passed": true}}}}"#,
    );
    let (out, report) = run_calc(&dir, &[]);
    assert_eq!(report["status"], "halted", "{}", text(&out));
    assert_eq!(report["iterations"], 1);
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("worker_failure: worker `fixer`: configuration error: no scripted response for workers.fixer"),
        "{reason}"
    );
}
