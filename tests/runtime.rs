//! `loopc run` end to end with `command` and `script` executors: the
//! scenarios of the runtime issue, each against real processes, files and
//! the SQLite state directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime").join(name)
}

/// Where a test's runs are kept: beside its work directory, outside every
/// sandbox root (loopc refuses a state directory inside one).
fn state(dir: &Path) -> PathBuf {
    dir.with_file_name(format!("{}.state", dir.file_name().unwrap().to_string_lossy()))
}

/// A fresh copy of a fixture directory.
fn workdir(fixture_name: &str, test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(state(&dir));
    copy_dir(&fixture(fixture_name), &dir);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn loopc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(args)
        .current_dir(dir)
        .env("LOOPC_STATE_DIR", state(dir))
        .env_remove("KILL_AT")
        .output()
        .expect("loopc runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run_json(dir: &Path, args: &[&str]) -> (Output, Value) {
    let mut full = vec!["run", "--format", "json"];
    full.extend_from_slice(args);
    let out = loopc(dir, &full);
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no JSON report: {}", text(&out)));
    (out, reports)
}

fn status(dir: &Path, run: &str) -> Value {
    serde_json::from_slice(&loopc(dir, &["status", run, "--format", "json"]).stdout).unwrap()
}

#[test]
fn convergence_fixes_the_bug_within_two_iterations() {
    let dir = workdir("convergence", "convergence");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = &reports[0];
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["iterations"], 2, "{}", text(&out));
    assert!(report["reason"].as_str().unwrap().contains("pass_rate"));
    assert!((report["cost_usd"].as_f64().unwrap() - 0.02).abs() < 1e-9);
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
    // The run's trace is a valid Loop Trace 1.0 file that `loopc score --trace` scores.
    let id = report["run_id"].as_str().unwrap();
    let trace = state(&dir).join(format!("traces/{id}.json"));
    let scored = loopc(
        &dir,
        &[
            "score",
            "--trace",
            trace.to_str().unwrap(),
            "--spec",
            "spec.yaml",
            "--format",
            "json",
        ],
    );
    assert_eq!(scored.status.code(), Some(0), "{}", text(&scored));
    let score: Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(score["valid"], true);
    assert_eq!(score["diagnostics"]["iterations"], 2);
    // And the canonical Loop Trace 1.0 schema agrees (formats included).
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(loopc_trace::SCHEMA).unwrap();
    let canonical = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    assert!(canonical.is_valid(&written), "{written}");
}

/// A checkout under `/tmp` (where many CI runners clone): the sandbox's
/// fresh `/tmp` still shows the workspace, and the executors' files beside it.
#[test]
fn a_checkout_under_tmp_runs_with_its_executors_in_view() {
    let base = Path::new("/tmp").join(format!("loopc-checkout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("convergence");
    copy_dir(&fixture("convergence"), &dir);
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    let _ = std::fs::remove_dir_all(&base);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(reports[0]["status"], "succeeded");
    assert_eq!(reports[0]["iterations"], 2, "{}", text(&out));
}

#[test]
fn unfixable_task_stops_at_max_iterations_and_waits_for_a_person() {
    let dir = workdir("limit", "limit");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(out.status.code(), Some(3), "waiting for a person: {}", text(&out));
    let report = &reports[0];
    assert_eq!(report["status"], "awaiting_human");
    assert_eq!(report["iterations"], 3);
    assert!(report["reason"].as_str().unwrap().starts_with("max_iterations"), "{report}");
    let id = report["run_id"].as_str().unwrap();
    let human = loopc(&dir, &["status", id]);
    assert!(text(&human).contains("waiting for: escalation"), "{}", text(&human));
    let rejected = loopc(&dir, &["reject", id, "--note", "give up"]);
    assert_eq!(rejected.status.code(), Some(1));
    assert_eq!(status(&dir, id)["status"], "rejected");
}

fn escape(case: &str, tool_call: &str) -> (PathBuf, Output, Value) {
    let dir = workdir("boundary", &format!("boundary-{case}"));
    std::fs::write(
        dir.join("escape.json"),
        format!(r#"{{"steps": {{"workers.fixer": [{{"output": "trying", "tool_calls": [{tool_call}]}}]}}}}"#),
    )
    .unwrap();
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    (dir, out, reports)
}

#[test]
fn boundary_interception() {
    let outside = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime/outside-canary.txt");
    std::fs::create_dir_all(outside.parent().unwrap()).unwrap();
    std::fs::write(&outside, "untouched").unwrap();
    let cases = [
        (
            "denied-command",
            r#"{"tool": "run_command", "args": {"argv": ["rm", "-rf", "/"]}}"#.to_owned(),
            "denied",
        ),
        (
            "outside-root",
            format!(
                r#"{{"tool": "write_file", "args": {{"path": "{}", "content": "owned"}}}}"#,
                outside.display()
            ),
            "outside",
        ),
        (
            "dotdot",
            r#"{"tool": "write_file", "args": {"path": "../../escaped.txt", "content": "owned"}}"#.to_owned(),
            "outside",
        ),
        (
            "tool-not-allowed",
            r#"{"tool": "delete_file", "args": {"path": "calc.py"}}"#.to_owned(),
            "not",
        ),
    ];
    for (case, call, expect) in cases {
        let (dir, out, reports) = escape(case, &call);
        let report = &reports[0];
        assert_eq!(out.status.code(), Some(1), "{case}: {}", text(&out));
        assert_eq!(report["status"], "halted", "{case}");
        let reason = report["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("safety_violation") && reason.to_lowercase().contains(expect),
            "{case}: {reason}"
        );
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "untouched", "{case}");
        assert!(
            !dir.join("escaped.txt").exists() && !dir.parent().unwrap().join("escaped.txt").exists(),
            "{case}"
        );
        assert!(
            dir.join("repo/calc.py").exists(),
            "{case}: nothing inside the root was deleted either"
        );
    }
}

#[test]
fn cost_cap_halts() {
    let dir = workdir("budget", "budget");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=x"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(reports[0]["status"], "halted");
    assert!(
        reports[0]["reason"].as_str().unwrap().starts_with("cost_exceeded"),
        "{}",
        reports[0]
    );
    assert_eq!(
        reports[0]["iterations"], 2,
        "halted in the second iteration, which is recorded as it ended"
    );
    assert!((reports[0]["cost_usd"].as_f64().unwrap() - 1.2).abs() < 1e-9);
}

#[test]
fn stalled_metric_triggers_its_action() {
    let dir = workdir("limit", "stall");
    let spec = std::fs::read_to_string(dir.join("spec.yaml"))
        .unwrap()
        .replace("- {type: max_iterations, value: 3, action: escalate_human}", "- {type: max_iterations, value: 10, action: halt}\n  stall:\n    - {metric: pass_rate, window_iterations: 2, min_improvement: 0.1, action: halt}");
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let bindings = std::fs::read_to_string(dir.join("bindings.toml")).unwrap().replace(
        r#"argv = ["python3", "-c", "import sys; print('1 failed: the bug cannot be fixed'); sys.exit(1)"]"#,
        "argv = [\"python3\", \"-c\", \"print('{\\\"score\\\": 0.5, \\\"summary\\\": \\\"half\\\"}')\"]\nverdict = \"json\"",
    );
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=x"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(reports[0]["status"], "halted");
    assert!(reports[0]["reason"].as_str().unwrap().starts_with("stall"), "{}", reports[0]);
    assert_eq!(reports[0]["iterations"], 3);
}

#[test]
fn human_gate_pauses_then_continues_on_approve_and_ends_on_reject() {
    for (decision, final_status, code) in [("approve", "succeeded", 0), ("reject", "rejected", 1)] {
        let dir = workdir("convergence", &format!("gate-{decision}"));
        let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap().replace(
            "safety_constraints:\n",
            "safety_constraints:\n  - id: maintainer-signoff\n    type: human_gate\n    scope: pre_output\n    applies_to: [fixer]\n    action: escalate_human\n",
        );
        std::fs::write(dir.join("spec.yaml"), spec).unwrap();
        let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out));
        assert_eq!(reports[0]["status"], "awaiting_human");
        let id = reports[0]["run_id"].as_str().unwrap().to_owned();
        let mut last = loopc(&dir, &[decision, &id, "--note", "checked by hand"]);
        // The gate is at every iteration's output: approve each time until the run ends.
        for _ in 0..5 {
            if status(&dir, &id)["status"] != "awaiting_human" || decision == "reject" {
                break;
            }
            last = loopc(&dir, &[decision, &id]);
        }
        assert_eq!(last.status.code(), Some(code), "{decision}: {}", text(&last));
        assert_eq!(status(&dir, &id)["status"], final_status);
    }
}

/// The side effects and results of the resumable loop, for comparison.
fn outcome(dir: &Path, id: &str) -> (Vec<String>, Value) {
    let mut effects: Vec<String> = std::fs::read_to_string(dir.join("effects.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    effects.sort();
    let s = status(dir, id);
    let summary = serde_json::json!({
        "status": s["status"],
        "reason": s["reason"],
        "metrics": s["iterations"].as_array().unwrap().iter().map(|i| i["metrics"].clone()).collect::<Vec<_>>(),
        "decisions": s["iterations"].as_array().unwrap().iter().map(|i| i["decision"].clone()).collect::<Vec<_>>(),
    });
    (effects, summary)
}

#[test]
fn checkpoint_resume_after_sigkill_at_every_step() {
    let reference_dir = workdir("resume", "resume-reference");
    let (out, reports) = run_json(&reference_dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (expected_effects, expected) = outcome(&reference_dir, reports[0]["run_id"].as_str().unwrap());
    let calls: usize = std::fs::read_to_string(reference_dir.join("calls.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(calls, 20, "4 iterations of 5 steps");
    assert_eq!(expected_effects.len(), 20);

    for kill_at in 1..=calls {
        let dir = workdir("resume", &format!("resume-kill-{kill_at}"));
        let killed = Command::new(env!("CARGO_BIN_EXE_loopc"))
            .args(["run", "spec.yaml", "--bindings", "bindings.toml"])
            .current_dir(&dir)
            .env("LOOPC_STATE_DIR", state(&dir))
            .env("KILL_AT", kill_at.to_string())
            .output()
            .unwrap();
        assert_eq!(
            killed.status.code(),
            None,
            "kill point {kill_at}: loopc must have died of SIGKILL: {}",
            text(&killed)
        );
        let stderr = String::from_utf8_lossy(&killed.stderr);
        let id = stderr
            .lines()
            .find_map(|l| l.strip_prefix("run "))
            .and_then(|l| l.split_whitespace().next())
            .expect("run id announced")
            .to_owned();
        let resumed = loopc(&dir, &["resume", &id]);
        assert_eq!(resumed.status.code(), Some(0), "kill point {kill_at}: {}", text(&resumed));
        let (effects, summary) = outcome(&dir, &id);
        assert_eq!(
            summary, expected,
            "kill point {kill_at}: final state differs from an uninterrupted run"
        );
        assert_eq!(
            effects, expected_effects,
            "kill point {kill_at}: a finished step ran twice or not at all"
        );
    }
}

#[test]
fn jobs_bound_concurrency() {
    let dir = workdir("resume", "jobs");
    let spec = r#"loop_name: sleeper
version: 1.0.0
objective: Sleep briefly and log when, to measure concurrency
inputs:
  schema:
    n: {type: number, description: Run number, required: true}
memory: {type: ephemeral}
workers:
  - id: sleeper
    role: Sleep
    model: {provider: local, name: sleep}
    inputs: [{from: inputs.n}]
    outputs: {name: slept, format: text}
evaluators:
  - {id: done, type: deterministic, runs_after: [sleeper], implementation: evaluators.true}
feedback_channels:
  - {id: f, source: evaluators.done, destination: workers.sleeper, format: structured}
optimization_strategy: {type: prompt_refinement, max_steps: 1}
termination_conditions:
  success: [{metric: ok, operator: eq, value: 1}]
  failure: [{type: max_iterations, value: 2, action: halt}]
metrics:
  - {name: ok, primary: true, definition: done, source: evaluators.done, unit: ratio}
safety_constraints: []
cost_limits: {per_iteration_usd: 1, cumulative_usd: 1, on_exceed: {action: halt}}
"#;
    std::fs::write(dir.join("sleeper.yaml"), spec).unwrap();
    std::fs::write(
        dir.join("sleep.py"),
        "import json, sys, time, os\ninv = json.load(sys.stdin)\nlog = 'intervals.log'\nstart = time.time_ns()\ntime.sleep(0.05)\nwith open(log, 'a') as f:\n    f.write(f'{start} {time.time_ns()}\\n')\nprint('slept')\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("jobs.toml"),
        "[sandbox]\nroot = \"work\"\n[executors.sleep]\nkind = \"command\"\nargv = [\"python3\", \"../sleep.py\"]\n[executors.ok]\nkind = \"command\"\nargv = [\"true\"]\n[bind]\n\"workers.sleeper\" = \"sleep\"\n\"impl:evaluators.true\" = \"ok\"\n",
    )
    .unwrap();
    let lines: String = (0..50).map(|n| format!("{{\"n\": {n}}}\n")).collect();
    std::fs::write(dir.join("inputs.jsonl"), lines).unwrap();
    let (out, reports) = run_json(
        &dir,
        &[
            "sleeper.yaml",
            "--bindings",
            "jobs.toml",
            "--inputs-file",
            "inputs.jsonl",
            "--jobs",
            "4",
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 50);
    assert!(reports.iter().all(|r| r["status"] == "succeeded"));
    let mut events: Vec<(u128, i32)> = Vec::new();
    for line in std::fs::read_to_string(dir.join("work/intervals.log")).unwrap().lines() {
        let (a, b) = line.split_once(' ').unwrap();
        events.push((a.parse().unwrap(), 1));
        events.push((b.parse().unwrap(), -1));
    }
    assert_eq!(events.len(), 100);
    events.sort();
    let (mut now, mut most) = (0, 0);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    assert!(most <= 4, "{most} runs executed at once with --jobs 4");
    assert!(most >= 2, "the queue did run jobs in parallel ({most})");
}

#[test]
fn compile_emits_a_plan_and_refuses_bad_specs() {
    let dir = workdir("convergence", "compile");
    let out = loopc(&dir, &["compile", "spec.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["plan_version"], "3");
    assert_eq!(plan["groups"], serde_json::json!([["fixer"]]));
    assert_eq!(plan["feedback"][0]["when"]["op"], "compare");
    // A compiled plan runs like the spec.
    std::fs::write(dir.join("plan.json"), &out.stdout).unwrap();
    let (ran, reports) = run_json(&dir, &["plan.json", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    assert_eq!(reports[0]["status"], "succeeded");
    // Unenforceable safety types are refused unless allowed.
    let spec = std::fs::read_to_string(dir.join("spec.yaml"))
        .unwrap()
        .replace("type: tool_allowlist", "type: injection_detect");
    std::fs::write(dir.join("pii.yaml"), spec).unwrap();
    let refused = loopc(&dir, &["compile", "pii.yaml"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("--allow-unenforced"));
    assert_eq!(loopc(&dir, &["compile", "pii.yaml", "--allow-unenforced"]).status.code(), Some(0));
    // A spec with errors does not compile.
    std::fs::write(dir.join("bad.yaml"), "loop_name: x\n").unwrap();
    assert_eq!(loopc(&dir, &["compile", "bad.yaml"]).status.code(), Some(1));
    // Missing inputs and missing bindings are usage errors before anything runs.
    assert_eq!(
        loopc(&dir, &["run", "spec.yaml", "--bindings", "bindings.toml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        loopc(&dir, &["run", "spec.yaml", "--input", "target=calc.py"]).status.code(),
        Some(2)
    );
    // A dry run needs no bindings and changes nothing.
    let fresh = workdir("convergence", "dry-run");
    let dry = loopc(&fresh, &["run", "spec.yaml", "--dry-run", "--input", "target=calc.py"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(std::fs::read_to_string(fresh.join("repo/calc.py")).unwrap().contains("a - b"));
}

#[test]
fn plan_schema_is_current() {
    let out = loopc(Path::new(env!("CARGO_MANIFEST_DIR")), &["compile", "--plan-schema"]);
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/loopc-plan.schema.json")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "schemas/loopc-plan.schema.json is stale: cargo run -- compile --plan-schema > schemas/loopc-plan.schema.json"
    );
}

/// A loopback server speaking the chat-completions wire format: answers
/// `requests` requests, then stops. Returns its port and the requests seen.
fn fake_openai(requests: usize) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..requests {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.to_ascii_lowercase().starts_with("content-length:") {
                    length = line[15..].trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            seen.push(format!("{head}{}", String::from_utf8_lossy(&body)));
            let reply = serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-test",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "def add(a, b):\n    return a + b\n"}}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
            })
            .to_string();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
        }
        seen
    });
    (port, handle)
}

#[test]
fn openai_executor_end_to_end_over_loopback() {
    let dir = workdir("convergence", "openai");
    let (port, server) = fake_openai(1);
    std::fs::write(
        dir.join("openai.toml"),
        format!(
            "[executors.gpt]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\napi_key_env = \"LOOPC_E2E_OPENAI_KEY\"\ninput_usd_per_mtok = 2.0\noutput_usd_per_mtok = 8.0\n\n[executors.ok]\nkind = \"command\"\nargv = [\"true\"]\n\n[bind]\n\"workers.fixer\" = \"gpt\"\n\"impl:evaluators.unit_tests\" = \"ok\"\n"
        ),
    )
    .unwrap();
    let secret = "sk-test-e2e-0123456789abcdefghij";
    let out = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args([
            "run",
            "--format",
            "json",
            "spec.yaml",
            "--bindings",
            "openai.toml",
            "--input",
            "target=calc.py",
        ])
        .current_dir(&dir)
        .env("LOOPC_STATE_DIR", state(&dir))
        .env("LOOPC_E2E_OPENAI_KEY", secret)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["status"], "succeeded");
    // 1000 prompt tokens at $2/M + 500 completion tokens at $8/M.
    assert!((report[0]["cost_usd"].as_f64().unwrap() - 0.006).abs() < 1e-9, "{}", report[0]);
    assert_eq!(report[0]["tokens"], 1500);
    let requests = server.join().unwrap();
    assert!(requests[0].starts_with("POST /v1/chat/completions "), "{}", requests[0]);
    assert!(requests[0].contains(&format!("Bearer {secret}")));
    assert!(
        requests[0].contains("\"model\":\"scripted-fixer\""),
        "the spec's model name is sent: {}",
        requests[0]
    );
    // The key appears in no output, state or trace.
    assert!(!text(&out).contains(secret));
    for entry in std::fs::read_dir(state(&dir))
        .unwrap()
        .chain(std::fs::read_dir(state(&dir).join("traces")).unwrap())
    {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert!(
                !String::from_utf8_lossy(&std::fs::read(&path).unwrap()).contains(secret),
                "{} leaks the key",
                path.display()
            );
        }
    }
}

/// A worker that counts its calls in `calls.txt` (in the workspace, the one
/// place its process may write) and says which call it is.
const COUNTING_WORKER: &str = "import json, os, sys\njson.load(sys.stdin)\np = 'calls.txt'\nn = int(open(p).read()) + 1 if os.path.exists(p) else 1\nopen(p, 'w').write(str(n))\nprint(json.dumps({'output': f'call {n}', 'usage': {'cost_usd': 0.5}, 'tool_calls': [{'tool': 'write_file', 'args': {'path': 'out.txt', 'content': f'written by call {n}'}}]}))\n";

fn gated_workdir(test: &str, gate_scope: &str) -> PathBuf {
    let dir = workdir("convergence", test);
    std::fs::write(dir.join("counting.py"), COUNTING_WORKER).unwrap();
    let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap().replace(
        "safety_constraints:\n",
        &format!("safety_constraints:\n  - {{id: signoff, type: human_gate, scope: {gate_scope}, applies_to: [fixer], action: escalate_human}}\n"),
    );
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let bindings = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("argv = [\"python3\", \"../fixer.py\"]", "argv = [\"python3\", \"../counting.py\"]")
        .replace("argv = [\"python3\", \"test_calc.py\"]", "argv = [\"python3\", \"-c\", \"pass\"]");
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    dir
}

#[test]
fn an_approved_output_is_the_one_that_was_reviewed() {
    let dir = gated_workdir("gate-reviewed", "post_worker");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        !dir.join("repo/out.txt").exists(),
        "nothing the output asks for happens before approval"
    );
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    let approved = loopc(&dir, &["approve", &id, "--note", "call 1 reviewed"]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/calls.txt")).unwrap(),
        "1",
        "the worker is not run again after approval"
    );
    assert_eq!(std::fs::read_to_string(dir.join("repo/out.txt")).unwrap(), "written by call 1");
    assert!(
        (status(&dir, &id)["cost_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9,
        "the reviewed call's cost is counted once"
    );
}

#[test]
fn a_dry_run_stays_dry_after_approval() {
    let dir = gated_workdir("gate-dry", "pre_worker");
    let (out, reports) = run_json(
        &dir,
        &["spec.yaml", "--bindings", "bindings.toml", "--dry-run", "--input", "target=calc.py"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    let approved = loopc(&dir, &["approve", &id]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    assert!(!dir.join("repo/calls.txt").exists(), "no real executor ran");
    assert!(!dir.join("repo/out.txt").exists(), "no tool side effect happened");
}

#[test]
fn strip_redacts_memory_writes_and_drops_forbidden_tool_calls() {
    let dir = workdir("convergence", "strip");
    std::fs::write(
        dir.join("leaky.py"),
        "import json, sys\njson.load(sys.stdin)\nprint(json.dumps({'output': 'done', 'tool_calls': [\n  {'tool': 'remember', 'args': {'key': 'creds', 'value': 'aws key AKIAIOSFODNN7EXAMPLE'}},\n  {'tool': 'write_file', 'args': {'path': '.github/workflows/ci.yml', 'content': 'owned'}},\n  {'tool': 'write_file', 'args': {'path': 'notes.txt', 'content': 'fine'}}]}))\n",
    )
    .unwrap();
    let spec = std::fs::read_to_string(dir.join("spec.yaml"))
        .unwrap()
        .replace("memory:\n  type: ephemeral\n", "memory:\n  type: session\n  write_policy:\n    allowed_writers: [fixer]\n")
        .replace("    tools: [write_file, read_file]\n", "    tools: [write_file, read_file, remember]\n")
        .replace(
            "safety_constraints:\n",
            "safety_constraints:\n  - {id: scan, type: secret_scan, scope: pre_memory_write, applies_to: [fixer], action: strip}\n  - {id: no-ci, type: output_bounds, scope: post_worker, applies_to: [fixer], action: strip, config: {forbidden_paths: [\".github/**\"]}}\n",
        );
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let bindings = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("../fixer.py", "../leaky.py")
        .replace("\"test_calc.py\"", "\"-c\", \"pass\"");
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(reports[0]["status"], "succeeded");
    assert!(!dir.join("repo/.github").exists(), "the forbidden write was dropped");
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/notes.txt")).unwrap(),
        "fine",
        "the other calls still ran"
    );
    // The memory entry holds the value as the strip left it.
    let memory = Command::new("python3")
        .args(["-c", "import sqlite3; print(sqlite3.connect('state.db').execute(\"select value_json from memory where key = 'creds'\").fetchone()[0])"])
        .current_dir(state(&dir))
        .output()
        .unwrap();
    let stored = String::from_utf8_lossy(&memory.stdout);
    // The key never reached memory: the worker's step was stored (and its
    // tool calls run) with it redacted already.
    assert!(
        stored.contains("[REDACTED") && !stored.contains("AKIAIOSFODNN7EXAMPLE"),
        "memory holds {stored}"
    );
}

#[test]
fn an_unanswered_human_review_times_out() {
    let dir = workdir("convergence", "human-timeout");
    let spec = std::fs::read_to_string(dir.join("spec.yaml"))
        .unwrap()
        .replace(
            "    type: deterministic\n    runs_after: [fixer]\n    implementation: evaluators.unit_tests\n",
            "    type: human\n    runs_after: [fixer]\n    timeout_seconds: 1\n",
        )
        .replace(
            "- {type: max_iterations, value: 5, action: halt}",
            "- {type: max_iterations, value: 1, action: halt}",
        );
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"]);
    assert_eq!(out.status.code(), Some(3), "waits for the reviewer: {}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let resumed = loopc(&dir, &["resume", &id]);
    assert_eq!(resumed.status.code(), Some(1), "{}", text(&resumed));
    let s = status(&dir, &id);
    assert_eq!(s["status"], "halted");
    assert_eq!(
        s["iterations"][0]["errors"], 1,
        "the missed review counts as an evaluator error: {s}"
    );
    assert!(text(&resumed).contains("check tests: timeout"), "{}", text(&resumed));
}
