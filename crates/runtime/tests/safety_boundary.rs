//! The engine and the sandbox together, as the interpreter uses them for one
//! worker's tool calls: check the call, run it through the sandbox, turn a
//! block into a finding.

use std::fs;
use std::path::{Path, PathBuf};

use loopc_plan::SafetyCheck;
use loopc_runtime::bindings::SandboxConfig;
use loopc_runtime::executor::ToolCall;
use loopc_runtime::safety::{Finding, SafetyEngine, Scope, Subject};
use loopc_runtime::tools::{BlockRule, Blocked, Sandbox, ToolFailure};
use serde_json::{json, Value};

fn dirs(name: &str) -> (PathBuf, PathBuf) {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("safety-boundary-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(base.join("root")).unwrap();
    fs::create_dir_all(base.join("outside")).unwrap();
    fs::write(base.join("outside/keep.txt"), "keep").unwrap();
    (
        fs::canonicalize(base.join("root")).unwrap(),
        fs::canonicalize(base.join("outside")).unwrap(),
    )
}

fn constraint(id: &str, kind: &str, scope: &str, action: &str, config: Value) -> SafetyCheck {
    SafetyCheck::from_lss(id, kind, scope, &["fixer"], action, config).unwrap()
}

/// What the interpreter does with one tool call: the first finding that stops it, or the result.
fn intercept(engine: &SafetyEngine, sandbox: &Sandbox, worker_tools: &[String], call: &ToolCall) -> Result<Value, Box<Finding>> {
    if let Some(f) = engine
        .check(Scope::PostWorker, "fixer", &Subject::ToolCall(call))
        .into_iter()
        .next()
    {
        return Err(Box::new(f));
    }
    match sandbox.call(call, worker_tools) {
        Ok(v) => Ok(v),
        Err(ToolFailure::Blocked(b)) => Err(Box::new(engine.sandbox_finding("fixer", &b))),
        Err(ToolFailure::Failed(m)) => panic!("unexpected failure: {m}"),
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.clone(), fs::read_to_string(&p).unwrap_or_default()))
        .collect();
    out.sort();
    out
}

#[test]
fn every_boundary_is_intercepted_and_nothing_outside_changes() {
    let (root, outside) = dirs("all");
    let engine = SafetyEngine::new(
        &[
            constraint(
                "allowed-tools",
                "tool_allowlist",
                "pre_worker",
                "halt",
                json!({"allowed": ["read_file", "write_file", "run_command"]}),
            ),
            constraint(
                "no-test-edits",
                "output_bounds",
                "post_worker",
                "quarantine",
                json!({"forbidden_paths": ["tests/**"]}),
            ),
        ],
        &root,
        false,
    )
    .unwrap();
    let sandbox = Sandbox::new(
        root.clone(),
        &SandboxConfig {
            allow_programs: vec!["sh".into(), "echo".into()],
            ..SandboxConfig::default()
        },
    )
    .unwrap();
    let worker_tools: Vec<String> = ["read_file", "write_file", "run_command", "list_dir"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let before = snapshot(&outside);
    let out_file = outside.join("keep.txt").display().to_string();

    let cases: Vec<(ToolCall, &str, &str)> = vec![
        // Declared by the worker, refused by the spec's allowlist.
        (
            ToolCall {
                tool: "list_dir".into(),
                args: json!({}),
            },
            "allowed-tools",
            "halt",
        ),
        // Not declared by the worker: the sandbox blocks, the allowlist's action applies.
        (
            ToolCall {
                tool: "delete_file".into(),
                args: json!({"path": "a"}),
            },
            "allowed-tools",
            "halt",
        ),
        (
            ToolCall {
                tool: "write_file".into(),
                args: json!({"path": "tests/test_x.py", "content": ""}),
            },
            "no-test-edits",
            "quarantine",
        ),
        (
            ToolCall {
                tool: "write_file".into(),
                args: json!({"path": "../outside/keep.txt", "content": "pwned"}),
            },
            "sandbox.path_outside_root",
            "halt",
        ),
        (
            ToolCall {
                tool: "write_file".into(),
                args: json!({"path": out_file, "content": "pwned"}),
            },
            "sandbox.path_outside_root",
            "halt",
        ),
        (
            ToolCall {
                tool: "run_command".into(),
                args: json!({"argv": ["sh", "-c", "rm -rf /"]}),
            },
            "sandbox.denied_command",
            "halt",
        ),
        (
            ToolCall {
                tool: "run_command".into(),
                args: json!({"argv": ["curl", "http://x"]}),
            },
            "sandbox.program_not_allowed",
            "halt",
        ),
        (
            ToolCall {
                tool: "run_command".into(),
                args: json!({"argv": ["sh", "-c", "echo pwned > ../outside/keep.txt"]}),
            },
            "sandbox.path_outside_root",
            "halt",
        ),
    ];
    for (call, id, action) in &cases {
        let f = intercept(&engine, &sandbox, &worker_tools, call).unwrap_err();
        assert_eq!((f.check_id.as_str(), f.action.as_str()), (*id, *action), "{call:?}: {}", f.message);
        assert!(f.message.contains("fixer") || f.kind_name() != "sandbox", "{}", f.message);
    }
    assert_eq!(snapshot(&outside), before);
    assert!(!root.join("tests").exists());

    // What is allowed goes through.
    let ok = ToolCall {
        tool: "write_file".into(),
        args: json!({"path": "src/fix.py", "content": "x = 1\n"}),
    };
    intercept(&engine, &sandbox, &worker_tools, &ok).unwrap();
    let ran = ToolCall {
        tool: "run_command".into(),
        args: json!({"argv": ["sh", "-c", "echo ok"]}),
    };
    assert_eq!(intercept(&engine, &sandbox, &worker_tools, &ran).unwrap()["stdout"], "ok\n");
}

#[test]
fn sandbox_findings_without_an_allowlist_halt() {
    let (root, _) = dirs("no-allowlist");
    let engine = SafetyEngine::new(&[], &root, false).unwrap();
    let b = Blocked {
        rule: BlockRule::ToolNotAllowed,
        message: "tool `x` is not among the worker's tools".into(),
    };
    let f = engine.sandbox_finding("fixer", &b);
    assert_eq!(
        (f.check_id.as_str(), f.kind_name(), f.action.as_str()),
        ("sandbox.tool_not_allowed", "sandbox", "halt")
    );
    // Findings survive a round trip through the state store's JSON.
    let back: Finding = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
    assert_eq!(back, f);
}
