//! Agentic workers: a scripted model behind a loopback server that speaks the
//! OpenAI chat-completions wire format reads a file, runs the tests, edits
//! and passes within one step, its tool results coming back as `tool`
//! messages; a model that never stops calling tools ends at max_tool_calls.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::{calc_workdir, loopc_env, repo, run_calc};

/// What the scripted model answers, given the request's messages.
type Script = fn(&[Value]) -> Value;

/// A loopback chat-completions server: every request body is kept, each
/// answer is `script`'s, one request per connection.
fn serve(script: Script) -> (u16, Arc<Mutex<Vec<Value>>>) {
    serve_with(script, |_| {})
}

/// [`serve`], calling `before_answer` with the number of the request (from
/// 0) before it is answered.
fn serve_with(script: Script, before_answer: impl Fn(usize) + Send + 'static) -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut line) = (0, String::new());
            let mut authorized = false;
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                authorized |= lower.trim() == "authorization: bearer test-key";
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let answer = if authorized {
                script(request["messages"].as_array().map_or(&[][..], Vec::as_slice))
            } else {
                json!({"error": {"message": "no key"}})
            };
            let n = {
                let mut kept = kept.lock().unwrap();
                kept.push(request);
                kept.len() - 1
            };
            before_answer(n);
            let text = answer.to_string();
            let status = if authorized { "200 OK" } else { "401 Unauthorized" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (port, seen)
}

fn tool_call(name: &str, arguments: Value) -> Value {
    json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
        {"id": "model-own-id", "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}
    ]}}], "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
}

/// The tool results the model has been sent so far.
fn tool_results(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Read, test, fix, test again, answer: each step decided on what the
/// previous tool returned.
fn fixer(messages: &[Value]) -> Value {
    let results = tool_results(messages);
    let last = results.last().cloned().unwrap_or_default();
    match results.len() {
        0 => tool_call("read_file", json!({"path": "calc.py"})),
        1 if last.contains("a - b") => tool_call("run_command", json!({"argv": ["python3", "test_calc.py"]})),
        2 if last.contains("expected 4") => tool_call(
            "write_file",
            json!({"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}),
        ),
        3 => tool_call("run_command", json!({"argv": ["python3", "test_calc.py"]})),
        4 if last.contains("3 passed") => {
            json!({"choices": [{"message": {"role": "assistant", "content": "add() now adds; the tests pass"}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
        }
        _ => json!({"choices": [{"message": {"role": "assistant", "content": format!("unexpected tool results: {results:?}")}}]}),
    }
}

/// Always one more file to read.
fn restless(_: &[Value]) -> Value {
    tool_call("read_file", json!({"path": "calc.py"}))
}

fn workdir(name: &str, port: u16) -> PathBuf {
    let dir = calc_workdir(&format!("agentic/{name}"));
    let fixtures = repo().join("tests/fixtures/runtime/agentic");
    std::fs::copy(fixtures.join("spec.yaml"), dir.join("spec.yaml")).unwrap();
    let bindings = std::fs::read_to_string(fixtures.join("bindings.toml")).unwrap();
    std::fs::write(dir.join("bindings.toml"), bindings.replace("PORT", &port.to_string())).unwrap();
    dir
}

fn run(dir: &Path) -> (std::process::Output, Value) {
    run_calc(dir, &[("LOOPC_TEST_MODEL_KEY", "test-key".as_ref())])
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_model_reads_tests_edits_and_passes_within_one_step() {
    let (port, seen) = serve(fixer);
    let dir = workdir("fixer", port);
    let (out, report) = run(&dir);
    assert_eq!(report["status"], "succeeded", "{}", text(&out));
    assert_eq!(report["iterations"], 1, "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 5, "one model call per turn: {requests:#?}");
    let last = requests[4]["messages"].as_array().unwrap();
    // system, user, then per turn an assistant message with its call and the
    // call's tool message, the ids agreeing.
    assert_eq!(last.len(), 2 + 2 * 4, "{last:#?}");
    for pair in last[2..].chunks(2) {
        assert_eq!(pair[0]["role"], "assistant");
        assert_eq!(pair[1]["role"], "tool");
        assert_eq!(pair[0]["tool_calls"][0]["id"], pair[1]["tool_call_id"]);
    }
    assert!(requests[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["function"]["name"] == "run_command"));
    // Five calls of 100 + 20 tokens at $1 / $2 per million.
    let cost = report["cost_usd"].as_f64().unwrap();
    assert!((cost - 5.0 * (100.0 + 40.0) / 1e6).abs() < 1e-9, "{cost}");

    // `loopc logs` shows every turn with what it was asked and answered, and
    // every tool call with its result, in order.
    let state = dir.with_extension("state");
    let id = report["run_id"].as_str().unwrap();
    let logs = loopc_env(
        &["logs", id, "--step", "fixer", "--format", "json"],
        &dir,
        &[("LOOPC_STATE_DIR", state.as_os_str())],
    );
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    let logs: Value = serde_json::from_slice(&logs.stdout).unwrap();
    let keys: Vec<&str> = logs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "workers.fixer",
            "tools.fixer.0",
            "workers.fixer@1",
            "tools.fixer@1.0",
            "workers.fixer@2",
            "tools.fixer@2.0",
            "workers.fixer@3",
            "tools.fixer@3.0",
            "workers.fixer@4"
        ]
    );
    let last = &logs["steps"][8]["record"];
    assert_eq!(last["output"], "add() now adds; the tests pass");
    assert_eq!(last["prompt"]["transcript"].as_array().unwrap().len(), 4);
    assert!(logs["steps"][7]["record"]["result"].to_string().contains("3 passed"));
    let human = loopc_env(&["logs", id], &dir, &[("LOOPC_STATE_DIR", state.as_os_str())]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("-- workers.fixer@4 (done") && human.contains("answered: add() now adds"),
        "{human}"
    );
}

#[test]
fn a_model_that_keeps_calling_tools_stops_at_max_tool_calls() {
    let (port, seen) = serve(restless);
    let dir = workdir("restless", port);
    let (out, report) = run(&dir);
    let all = text(&out);
    assert!(
        all.contains("stopped after 8 tool calls without a final answer (max_tool_calls = 8)"),
        "{all}"
    );
    assert_ne!(report["status"], "succeeded", "{all}");
    // 8 calls per iteration, then the model is not asked again that iteration.
    let requests = seen.lock().unwrap().len();
    let iterations = report["iterations"].as_u64().unwrap() as usize;
    assert_eq!(requests, 8 * iterations, "{all}");
}

#[test]
fn a_run_killed_mid_conversation_resumes_without_asking_again() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let pid = Arc::new(AtomicU32::new(0));
    let target = pid.clone();
    // loopc is killed while the model thinks about its third turn.
    let (port, seen) = serve_with(fixer, move |n| {
        if n == 2 {
            let _ = std::process::Command::new("kill")
                .args(["-9", &target.load(Ordering::SeqCst).to_string()])
                .status();
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    let dir = workdir("killed", port);
    let state = dir.with_extension("state");
    let _ = std::fs::remove_dir_all(&state);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(["run", "-q", "spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"])
        .current_dir(&dir)
        .env("LOOPC_STATE_DIR", &state)
        .env("LOOPC_TEST_MODEL_KEY", "test-key")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    pid.store(child.id(), Ordering::SeqCst);
    let out = child.wait_with_output().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(9));
    assert_eq!(seen.lock().unwrap().len(), 3);

    let runs = loopc_env(&["runs", "--format", "json"], &dir, &[("LOOPC_STATE_DIR", state.as_os_str())]);
    let runs: Value = serde_json::from_slice(&runs.stdout).unwrap();
    let id = runs[0]["run_id"].as_str().expect("one run").to_owned();
    let out = loopc_env(
        &["resume", &id, "--bindings", "bindings.toml"],
        &dir,
        &[
            ("LOOPC_STATE_DIR", state.as_os_str()),
            ("LOOPC_TEST_MODEL_KEY", "test-key".as_ref()),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let requests = seen.lock().unwrap().clone();
    // The two finished turns are replayed from the store, not asked again:
    // the first request after the resume is the unfinished third turn.
    assert_eq!(requests.len(), 6, "{requests:#?}");
    assert_eq!(requests[3]["messages"], requests[2]["messages"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
}
