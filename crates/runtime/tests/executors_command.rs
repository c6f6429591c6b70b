//! The `command` executor: workers, evaluators, timeouts, start failures.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use loopc_runtime::bindings::{Bindings, Verdict};
use loopc_runtime::executor::{build, CommandExecutor, ExecError, Executor, Invocation, StepRef, ToolCall};
use serde_json::{json, Value};

fn workspace(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loopc-exec-cmd-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn invocation(step: StepRef, workspace: PathBuf, timeout: Option<Duration>) -> Invocation {
    Invocation {
        run_id: "run-42".into(),
        iteration: 3,
        step,
        role: "write the patch".into(),
        model: None,
        payload: json!({"objective": "fix it", "inputs": {"issue": "crash"}}),
        timeout,
        workspace,
        processes: None,
        isolation: None,
    }
}

fn worker(ws: &str) -> Invocation {
    invocation(StepRef::Worker("patcher".into()), workspace(ws), Some(Duration::from_secs(20)))
}

fn evaluator(ws: &str) -> Invocation {
    invocation(StepRef::Evaluator("tests".into()), workspace(ws), Some(Duration::from_secs(20)))
}

fn sh(script: &str, verdict: Verdict) -> CommandExecutor {
    CommandExecutor::new(vec!["sh".into(), "-c".into(), script.into()], verdict, BTreeMap::new()).unwrap()
}

#[test]
fn worker_plain_output_trims_one_newline() {
    let out = sh("printf 'hello\\n\\n'", Verdict::ExitCode).invoke(&worker("plain")).unwrap();
    assert_eq!(out.output, json!("hello\n"));
    assert_eq!(out.usage.input_tokens, 0);
    assert!(out.tool_calls.is_empty());
}

#[test]
fn worker_json_output_with_usage_and_tool_calls() {
    let script = r#"cat >/dev/null; printf '%s' '{"output": {"patch": "diff"}, "usage": {"input_tokens": 12, "output_tokens": 3, "cost_usd": 0.25}, "tool_calls": [{"tool": "read_file", "args": {"path": "a.txt"}}, {"tool": "list_dir"}]}'"#;
    let out = sh(script, Verdict::ExitCode).invoke(&worker("json")).unwrap();
    assert_eq!(out.output, json!({"patch": "diff"}));
    assert_eq!((out.usage.input_tokens, out.usage.output_tokens, out.usage.cost_usd), (12, 3, 0.25));
    assert_eq!(
        out.tool_calls,
        vec![
            ToolCall {
                tool: "read_file".into(),
                args: json!({"path": "a.txt"})
            },
            ToolCall {
                tool: "list_dir".into(),
                args: json!({})
            }
        ]
    );
    // A JSON object without `output` is plain text.
    let out = sh("echo '{\"x\": 1}'", Verdict::ExitCode).invoke(&worker("json")).unwrap();
    assert_eq!(out.output, json!("{\"x\": 1}"));
    // A bad `usage` is a failure.
    let err = sh("echo '{\"output\": 1, \"usage\": {\"input_tokens\": -1}}'", Verdict::ExitCode)
        .invoke(&worker("json"))
        .unwrap_err();
    assert!(matches!(err, ExecError::Failed(ref m) if m.contains("input_tokens")), "{err:?}");
}

#[test]
fn stdin_carries_the_invocation_and_env_and_cwd_are_set() {
    let inv = worker("stdin");
    let out = sh("cat", Verdict::ExitCode).invoke(&inv).unwrap();
    let got: Value = serde_json::from_str(out.output.as_str().unwrap()).unwrap();
    assert_eq!(got["run_id"], json!("run-42"));
    assert_eq!(got["iteration"], json!(3));
    assert_eq!(got["step"], json!({"kind": "worker", "id": "patcher"}));
    assert_eq!(got["payload"], inv.payload);
    assert_eq!(got["role"], json!("write the patch"));

    let env = BTreeMap::from([("GREETING".to_owned(), "hi there".to_owned())]);
    let exec = CommandExecutor::new(
        vec![
            "sh".into(),
            "-c".into(),
            "echo \"$GREETING|$LOOPC_STEP|$LOOPC_ITERATION|$LOOPC_RUN_ID|$(pwd)\"".into(),
        ],
        Verdict::ExitCode,
        env,
    )
    .unwrap();
    let out = exec.invoke(&inv).unwrap();
    assert_eq!(
        out.output,
        json!(format!("hi there|workers.patcher|3|run-42|{}", inv.workspace.display()))
    );
}

#[test]
fn worker_nonzero_exit_fails_with_code_and_stderr() {
    let err = sh("echo partial; echo 'boom: it broke' >&2; exit 3", Verdict::ExitCode)
        .invoke(&worker("fail"))
        .unwrap_err();
    match &err {
        ExecError::Failed(m) => assert!(m.contains("status 3") && m.contains("boom: it broke"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
}

#[test]
fn worker_output_over_the_cap_fails() {
    let err = sh("head -c 9000000 /dev/zero", Verdict::ExitCode)
        .invoke(&worker("big"))
        .unwrap_err();
    assert!(matches!(err, ExecError::Failed(ref m) if m.contains("9000000")), "{err:?}");
}

#[test]
fn evaluator_exit_code_verdicts() {
    let pass = sh("echo '3 passed'", Verdict::ExitCode).invoke(&evaluator("exit")).unwrap();
    assert_eq!(pass.output["passed"], json!(true));
    assert_eq!(pass.output["score"], json!(1.0));
    assert_eq!(pass.output["exit_code"], json!(0));
    assert!(pass.output["raw_output"].as_str().unwrap().contains("3 passed"));

    // A failing suite is a verdict, not an error.
    let fail = sh("echo '1 failed, 2 passed'; echo 'warning: flaky' >&2; exit 1", Verdict::ExitCode)
        .invoke(&evaluator("exit"))
        .unwrap();
    assert_eq!(fail.output["passed"], json!(false));
    assert_eq!(fail.output["score"], json!(0.0));
    assert_eq!(fail.output["exit_code"], json!(1));
    let raw = fail.output["raw_output"].as_str().unwrap();
    assert!(raw.contains("1 failed, 2 passed") && raw.contains("warning: flaky"), "{raw}");

    // raw_output keeps the tail, at most 4 KiB.
    let long = sh("seq 1 5000; exit 1", Verdict::ExitCode).invoke(&evaluator("exit")).unwrap();
    let raw = long.output["raw_output"].as_str().unwrap();
    assert!(raw.len() <= 4096 && raw.trim_end().ends_with("5000"), "{}", raw.len());
}

#[test]
fn evaluator_json_verdicts() {
    let ev = evaluator("json");
    let full = sh(
        r#"echo '{"passed": false, "score": 0.4, "failure_codes": ["E1"], "remediation_hints": ["fix x"], "summary": "meh"}'; exit 1"#,
        Verdict::Json,
    )
    .invoke(&ev)
    .unwrap();
    assert_eq!(
        full.output,
        json!({"passed": false, "score": 0.4, "failure_codes": ["E1"], "remediation_hints": ["fix x"], "summary": "meh"})
    );

    let score_only = sh(r#"echo '{"score": 1}'"#, Verdict::Json).invoke(&ev).unwrap();
    assert_eq!(
        (score_only.output["passed"].clone(), score_only.output["score"].as_f64()),
        (json!(true), Some(1.0))
    );
    let partial = sh(r#"echo '{"score": 0.75, "dimension_scores": {"style": 3}}'"#, Verdict::Json)
        .invoke(&ev)
        .unwrap();
    assert_eq!(partial.output["passed"], json!(false));
    assert_eq!(partial.output["dimension_scores"], json!({"style": 3}));
    let passed_only = sh(r#"echo '{"passed": true}'"#, Verdict::Json).invoke(&ev).unwrap();
    assert_eq!(passed_only.output, json!({"passed": true, "score": 1.0}));

    for bad in [
        "echo 'not json'; echo oops >&2",
        r#"echo '{"summary": "no verdict"}'"#,
        r#"echo '{"passed": "yes"}'"#,
        "echo '[true]'",
    ] {
        let err = sh(bad, Verdict::Json).invoke(&ev).unwrap_err();
        assert!(matches!(err, ExecError::Failed(_)), "{bad}: {err:?}");
    }
}

#[test]
fn timeout_kills_the_process_group() {
    let inv = invocation(
        StepRef::Worker("slow".into()),
        workspace("timeout"),
        Some(Duration::from_millis(300)),
    );
    let started = Instant::now();
    let err = sh("sleep 30", Verdict::ExitCode).invoke(&inv).unwrap_err();
    assert_eq!(err, ExecError::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());

    // A grandchild holding the pipes does not keep us waiting either.
    let started = Instant::now();
    let err = sh("sleep 30 & sleep 30 & wait", Verdict::ExitCode).invoke(&inv).unwrap_err();
    assert!(matches!(err, ExecError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
}

#[test]
fn a_background_process_left_behind_is_cut_off() {
    let started = Instant::now();
    let out = sh("sleep 30 & echo done", Verdict::ExitCode).invoke(&worker("linger")).unwrap();
    assert_eq!(out.output, json!("done"));
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
}

#[test]
fn a_missing_program_is_a_config_error() {
    let exec = CommandExecutor::new(vec!["loopc-no-such-program-xyz".into()], Verdict::ExitCode, BTreeMap::new()).unwrap();
    let err = exec.invoke(&worker("missing")).unwrap_err();
    assert!(
        matches!(err, ExecError::Config(ref m) if m.contains("loopc-no-such-program-xyz") && m.contains("not found")),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    let mut inv = worker("missing");
    inv.workspace = inv.workspace.join("does-not-exist");
    assert!(matches!(sh("true", Verdict::ExitCode).invoke(&inv), Err(ExecError::Config(_))));
    assert!(CommandExecutor::new(Vec::new(), Verdict::ExitCode, BTreeMap::new()).is_err());
}

#[test]
fn built_from_bindings_with_a_relative_program() {
    let dir = workspace("bindings");
    let script = dir.join("check.sh");
    std::fs::write(&script, "#!/bin/sh\necho '{\"score\": 0.5}'\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bindings = Bindings::parse(
        "[executors.check]\nkind = \"command\"\nargv = [\"./check.sh\"]\nverdict = \"json\"\n",
        &dir,
    )
    .unwrap();
    let exec = build(&bindings.executors["check"], &bindings).unwrap();
    let mut inv = evaluator("bindings");
    inv.workspace = std::env::temp_dir();
    let out = exec.invoke(&inv).unwrap();
    assert_eq!(out.output, json!({"passed": false, "score": 0.5}));
}
