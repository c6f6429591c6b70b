//! The `script` executor and `build`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use loopc_runtime::bindings::Bindings;
use loopc_runtime::executor::{build, ExecError, Executor, Invocation, ScriptExecutor, StepRef, ToolCall};
use serde_json::{json, Value};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loopc-exec-script-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn script(name: &str, value: &Value) -> ScriptExecutor {
    let path = dir(name).join("script.json");
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    ScriptExecutor::load(&path).unwrap()
}

fn inv(step: StepRef, iteration: u32) -> Invocation {
    Invocation {
        run_id: "r".into(),
        iteration,
        step,
        role: String::new(),
        model: None,
        payload: json!({}),
        timeout: Some(Duration::from_secs(5)),
        workspace: std::env::temp_dir(),
        processes: None,
        isolation: None,
    }
}

fn w(iteration: u32) -> Invocation {
    inv(StepRef::Worker("patcher".into()), iteration)
}

#[test]
fn iterations_use_their_entry_and_the_last_repeats() {
    let s = script(
        "iterations",
        &json!({"steps": {
            "workers.patcher": [
                {"output": "one", "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01}},
                {"output": {"two": 2}, "tool_calls": [{"tool": "write_file", "args": {"path": "a", "content": "b"}}]},
                {"output": "last"}
            ],
            "evaluators.tests": {"output": {"passed": true}}
        }}),
    );
    let first = s.invoke(&w(1)).unwrap();
    assert_eq!(first.output, json!("one"));
    assert_eq!(
        (first.usage.input_tokens, first.usage.output_tokens, first.usage.cost_usd),
        (10, 5, 0.01)
    );
    let second = s.invoke(&w(2)).unwrap();
    assert_eq!(second.output, json!({"two": 2}));
    assert_eq!(
        second.tool_calls,
        vec![ToolCall {
            tool: "write_file".into(),
            args: json!({"path": "a", "content": "b"})
        }]
    );
    assert_eq!(s.invoke(&w(3)).unwrap().output, json!("last"));
    assert_eq!(s.invoke(&w(9)).unwrap().output, json!("last"));
    assert_eq!(s.invoke(&w(0)).unwrap().output, json!("one"));
    // A single entry stands for every iteration; evaluator outputs come back as written.
    let ev = inv(StepRef::Evaluator("tests".into()), 4);
    assert_eq!(s.invoke(&ev).unwrap().output, json!({"passed": true}));
}

#[test]
fn failures_and_timeouts() {
    let s = script(
        "fail",
        &json!({"steps": {"workers.patcher": [{"fail": "model refused"}, {"timeout": true}]}}),
    );
    assert_eq!(s.invoke(&w(1)).unwrap_err(), ExecError::Failed("model refused".into()));
    assert_eq!(s.invoke(&w(2)).unwrap_err(), ExecError::Timeout(Duration::from_secs(5)));
}

#[test]
fn attempts_are_counted_per_step_and_iteration() {
    let s = script(
        "attempts",
        &json!({"steps": {"workers.patcher": [
            {"attempts": [{"fail": "flaky"}, {"timeout": true}, {"output": "third time lucky"}]},
            {"attempts": [{"fail": "again"}, {"output": "second"}]}
        ]}}),
    );
    assert_eq!(s.invoke(&w(1)).unwrap_err(), ExecError::Failed("flaky".into()));
    // Another iteration has its own counter.
    assert_eq!(s.invoke(&w(2)).unwrap_err(), ExecError::Failed("again".into()));
    assert!(matches!(s.invoke(&w(1)), Err(ExecError::Timeout(_))));
    assert_eq!(s.invoke(&w(1)).unwrap().output, json!("third time lucky"));
    assert_eq!(s.invoke(&w(1)).unwrap().output, json!("third time lucky"));
    assert_eq!(s.invoke(&w(2)).unwrap().output, json!("second"));
    // Iteration 3 repeats the last entry, with a fresh counter.
    assert_eq!(s.invoke(&w(3)).unwrap_err(), ExecError::Failed("again".into()));
    assert_eq!(s.invoke(&w(3)).unwrap().output, json!("second"));
}

#[test]
fn a_missing_step_is_a_config_error() {
    let s = script("missing", &json!({"steps": {"workers.other": [{"output": 1}]}}));
    let err = s.invoke(&w(1)).unwrap_err();
    assert!(
        matches!(err, ExecError::Config(ref m) if m.starts_with("no scripted response for workers.patcher")),
        "{err:?}"
    );
}

#[test]
fn delays_respect_the_timeout() {
    let s = script(
        "delay",
        &json!({"steps": {"workers.patcher": [{"output": "slow", "delay_ms": 50}, {"output": "x", "delay_ms": 60000}]}}),
    );
    assert_eq!(s.invoke(&w(1)).unwrap().output, json!("slow"));
    let mut late = w(2);
    late.timeout = Some(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(s.invoke(&late).unwrap_err(), ExecError::Timeout(Duration::from_millis(100)));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn bad_files_are_reported_with_their_path() {
    let d = dir("bad");
    let cases = [
        ("notjson.json", "{nope"),
        ("nosteps.json", r#"{"workers.x": []}"#),
        ("badname.json", r#"{"steps": {"patcher": [{"output": 1}]}}"#),
        ("empty.json", r#"{"steps": {"workers.x": []}}"#),
        ("noreply.json", r#"{"steps": {"workers.x": [{"usage": {}}]}}"#),
        ("badtimeout.json", r#"{"steps": {"workers.x": [{"timeout": false}]}}"#),
        ("typo.json", r#"{"steps": {"workers.x": [{"output": 1, "tool_cals": []}]}}"#),
        (
            "nested.json",
            r#"{"steps": {"workers.x": [{"attempts": [{"attempts": [{"output": 1}]}]}]}}"#,
        ),
        (
            "badusage.json",
            r#"{"steps": {"workers.x": [{"output": 1, "usage": {"cost_usd": "free"}}]}}"#,
        ),
    ];
    for (name, text) in cases {
        let path = d.join(name);
        std::fs::write(&path, text).unwrap();
        let err = ScriptExecutor::load(&path).unwrap_err();
        assert!(err.contains(&path.display().to_string()), "{name}: {err}");
    }
    let err = ScriptExecutor::load(&d.join("absent.json")).unwrap_err();
    assert!(err.contains("absent.json"), "{err}");
}

#[test]
fn build_resolves_the_script_against_the_bindings() {
    let d = dir("build");
    std::fs::write(
        d.join("replies.json"),
        r#"{"steps": {"workers.patcher": [{"output": "from build"}]}}"#,
    )
    .unwrap();
    let bindings = Bindings::parse(
        r#"
[executors.replay]
kind = "script"
file = "replies.json"
[executors.gpt]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "LOOPC_TEST_BUILD_UNUSED_KEY"
[executors.claude]
kind = "anthropic"
api_key_env = "LOOPC_TEST_BUILD_UNUSED_KEY"
[executors.tests]
kind = "command"
argv = ["true"]
[executors.broken]
kind = "script"
file = "absent.json"
"#,
        &d,
    )
    .unwrap();
    let exec = build(&bindings.executors["replay"], &bindings).unwrap();
    assert_eq!(exec.invoke(&w(1)).unwrap().output, json!("from build"));
    for name in ["gpt", "claude", "tests"] {
        assert!(build(&bindings.executors[name], &bindings).is_ok(), "{name}");
    }
    let err = build(&bindings.executors["broken"], &bindings)
        .err()
        .expect("a missing script fails to build");
    assert!(
        matches!(&err, loopc_runtime::Error::Executor(m) if m.contains("absent.json")),
        "{err}"
    );
}
