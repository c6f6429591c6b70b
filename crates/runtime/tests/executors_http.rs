//! The `openai` and `anthropic` executors against a loopback HTTP server
//! speaking their wire formats.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use loopc_plan::ModelRef;
use loopc_runtime::executor::{
    AnthropicExecutor, AnthropicSettings, ExecError, Executor, Invocation, OpenAiExecutor, OpenAiSettings, StepRef, ToolCall,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------- the server

#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Value,
}

enum Reply {
    /// Status and JSON body.
    Json(u16, Value),
    /// Read the request, then say nothing until the client hangs up (at most 10 s).
    Hang,
}

struct Server {
    base_url: String,
    requests: Receiver<Request>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve one connection per reply, in order, on 127.0.0.1.
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let (tx, rx) = channel();
        let thread = std::thread::spawn(move || {
            let give_up = Instant::now() + Duration::from_secs(20);
            for reply in replies {
                let stream = loop {
                    match listener.accept() {
                        Ok((s, _)) => break s,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < give_up => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => return,
                    }
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let Some((request, mut stream)) = read_request(stream) else {
                    return;
                };
                let _ = tx.send(request);
                match reply {
                    Reply::Json(status, body) => {
                        let text = body.to_string();
                        let head = format!(
                            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            reason(status),
                            text.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(text.as_bytes());
                        let _ = stream.flush();
                    }
                    Reply::Hang => {
                        // Until the client gives up (EOF or error) or the read timeout.
                        let mut sink = [0u8; 1024];
                        while let Ok(n) = stream.read(&mut sink) {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Server {
            base_url,
            requests: rx,
            thread: Some(thread),
        }
    }

    fn request(&self) -> Request {
        self.requests
            .recv_timeout(Duration::from_secs(10))
            .expect("the executor sent no request")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Request line, headers, and a body of `content-length` bytes (or chunked).
fn read_request(stream: TcpStream) -> Option<(Request, TcpStream)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    assert_eq!(parts.next(), Some("HTTP/1.1"), "request line: {line}");
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        body.resize(len.parse::<usize>().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers.get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        for _ in 0..10_000 {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Some((
        Request {
            method,
            path,
            headers,
            body,
        },
        reader.into_inner(),
    ))
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

// ---------------------------------------------------------------- helpers

fn set_key(var: &str, value: &str) {
    // Each test uses its own variable name.
    std::env::set_var(var, value);
}

fn invocation(step: StepRef, timeout: Option<Duration>) -> Invocation {
    let payload = match &step {
        StepRef::Worker(_) => json!({
            "objective": "fix the bug",
            "iteration": 2,
            "inputs": {"issue": "crash on empty input"},
            "feedback": [],
            "output": {"name": "patch", "format": "text"},
            "tools": ["read_file", "write_file"],
        }),
        StepRef::Evaluator(_) => json!({"objective": "fix the bug", "outputs": {"patcher": "diff"}, "rubric": {"dimensions": []}}),
    };
    Invocation {
        run_id: "run-1".into(),
        iteration: 2,
        step,
        role: "You write minimal patches.".into(),
        model: Some(ModelRef {
            provider: "test".into(),
            name: "spec-model".into(),
            temperature: Some(0.2),
            max_tokens: None,
        }),
        payload,
        timeout,
        workspace: std::env::temp_dir(),
        processes: None,
        isolation: None,
    }
}

fn worker() -> Invocation {
    invocation(StepRef::Worker("patcher".into()), Some(Duration::from_secs(20)))
}

fn evaluator() -> Invocation {
    invocation(StepRef::Evaluator("review".into()), Some(Duration::from_secs(20)))
}

fn openai(base_url: &str, key_env: &str, timeout_seconds: Option<u64>) -> OpenAiExecutor {
    OpenAiExecutor::new(OpenAiSettings {
        base_url: Some(base_url.into()),
        api_key_env: key_env.into(),
        model: None,
        input_usd_per_mtok: 2.0,
        output_usd_per_mtok: 8.0,
        timeout_seconds,
        max_tokens: None,
        // One call per reply: the retries are tests/executors_retry.rs's.
        max_retries: Some(0),
    })
}

fn anthropic(base_url: &str, key_env: &str, timeout_seconds: Option<u64>) -> AnthropicExecutor {
    AnthropicExecutor::new(AnthropicSettings {
        base_url: Some(base_url.into()),
        api_key_env: key_env.into(),
        model: Some("claude-test".into()),
        input_usd_per_mtok: 3.0,
        output_usd_per_mtok: 15.0,
        timeout_seconds,
        max_tokens: Some(1024),
        max_retries: Some(0),
    })
}

fn assert_no_key(err: &ExecError, key: &str) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(key), "the key leaked: {shown}");
}

fn openai_reply(content: Value, tool_calls: Option<Value>) -> Value {
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(t) = tool_calls {
        message["tool_calls"] = t;
    }
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "spec-model",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    })
}

// ---------------------------------------------------------------- openai

#[test]
fn openai_worker_success_with_usage_and_tool_calls() {
    let key = "sk-test-openai-worker-123";
    set_key("LOOPC_TEST_OPENAI_KEY_WORKER", key);
    let tool_calls = json!([{
        "id": "call_1",
        "type": "function",
        "function": {"name": "write_file", "arguments": "{\"path\": \"src/lib.rs\", \"content\": \"fn main() {}\"}"}
    }]);
    let server = Server::start(vec![Reply::Json(200, openai_reply(json!("Here is the patch."), Some(tool_calls)))]);
    let out = openai(&server.base_url, "LOOPC_TEST_OPENAI_KEY_WORKER", None)
        .invoke(&worker())
        .unwrap();

    let req = server.request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/chat/completions");
    assert_eq!(
        req.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {key}").as_str())
    );
    assert!(req.headers.get("content-type").is_some_and(|c| c.starts_with("application/json")));
    assert_eq!(req.body["model"], json!("spec-model"));
    assert_eq!(req.body["temperature"], json!(0.2));
    assert!(req.body.get("max_tokens").is_none());
    assert!(req.body.get("response_format").is_none());
    let messages = req.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], json!("system"));
    assert!(messages[0]["content"].as_str().unwrap().starts_with("You write minimal patches."));
    assert_eq!(messages[1]["role"], json!("user"));
    let sent: Value = serde_json::from_str(messages[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(sent["inputs"]["issue"], json!("crash on empty input"));
    let tools: Vec<&str> = req.body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["read_file", "write_file"]);
    assert_eq!(req.body["tools"][0]["type"], json!("function"));

    assert_eq!(out.output, json!("Here is the patch."));
    assert_eq!((out.usage.input_tokens, out.usage.output_tokens), (1000, 500));
    assert!((out.usage.cost_usd - 0.006).abs() < 1e-12, "{}", out.usage.cost_usd);
    assert_eq!(
        out.tool_calls,
        vec![ToolCall {
            tool: "write_file".into(),
            args: json!({"path": "src/lib.rs", "content": "fn main() {}"})
        }]
    );
}

#[test]
fn openai_evaluator_asks_for_and_parses_a_json_verdict() {
    set_key("LOOPC_TEST_OPENAI_KEY_EVAL", "sk-eval");
    let verdict =
        json!({"passed": false, "score": 0.4, "dimension_scores": {"correctness": 2}, "remediation_hints": ["handle empty input"]});
    let server = Server::start(vec![
        Reply::Json(200, openai_reply(json!(verdict.to_string()), None)),
        Reply::Json(200, openai_reply(json!("I think it is fine."), None)),
    ]);
    let exec = OpenAiExecutor::new(OpenAiSettings {
        base_url: Some(server.base_url.clone()),
        api_key_env: "LOOPC_TEST_OPENAI_KEY_EVAL".into(),
        model: Some("gpt-judge".into()),
        input_usd_per_mtok: 0.0,
        output_usd_per_mtok: 0.0,
        timeout_seconds: Some(30),
        max_tokens: None,
        // One call per reply: the retries are tests/executors_retry.rs's.
        max_retries: Some(0),
    });
    let mut inv = evaluator();
    inv.model.as_mut().unwrap().max_tokens = Some(300);
    let out = exec.invoke(&inv).unwrap();
    assert_eq!(out.output, verdict);
    assert_eq!(out.usage.cost_usd, 0.0);
    let req = server.request();
    assert_eq!(req.body["model"], json!("gpt-judge"));
    assert_eq!(req.body["max_tokens"], json!(300));
    assert_eq!(req.body["response_format"], json!({"type": "json_object"}));
    let system = req.body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("\"passed\"") && system.contains("\"score\"") && system.contains("JSON"),
        "{system}"
    );
    assert!(req.body.get("tools").is_none());

    let err = exec.invoke(&inv).unwrap_err();
    assert!(
        matches!(err, ExecError::Failed(ref m) if m.contains("not a JSON object")),
        "{err:?}"
    );
}

#[test]
fn openai_429_and_500_are_transport_errors() {
    let key = "sk-test-retry-456";
    set_key("LOOPC_TEST_OPENAI_KEY_RETRY", key);
    let server = Server::start(vec![
        Reply::Json(
            429,
            json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
        ),
        Reply::Json(
            500,
            json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        ),
    ]);
    let exec = openai(&server.base_url, "LOOPC_TEST_OPENAI_KEY_RETRY", Some(10));
    let err = exec.invoke(&worker()).unwrap_err();
    assert!(
        matches!(err, ExecError::Transport(ref m) if m.contains("429") && m.contains("Rate limit reached")),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_no_key(&err, key);
    let err = exec.invoke(&worker()).unwrap_err();
    assert!(matches!(err, ExecError::Transport(ref m) if m.contains("500")), "{err:?}");
    assert_no_key(&err, key);
}

#[test]
fn openai_400_fails_with_the_api_message_and_never_the_key() {
    let key = "sk-test-bad-request-789";
    set_key("LOOPC_TEST_OPENAI_KEY_400", key);
    let server = Server::start(vec![Reply::Json(
        400,
        json!({"error": {"message": format!("Invalid model for key {key}"), "type": "invalid_request_error", "param": "model"}}),
    )]);
    let err = openai(&server.base_url, "LOOPC_TEST_OPENAI_KEY_400", Some(10))
        .invoke(&worker())
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Failed(ref m) if m.contains("HTTP 400") && m.contains("Invalid model for key [redacted]")),
        "{err:?}"
    );
    assert_no_key(&err, key);
}

#[test]
fn openai_silent_server_times_out_within_the_configured_timeout() {
    set_key("LOOPC_TEST_OPENAI_KEY_HANG", "sk-hang");
    let server = Server::start(vec![Reply::Hang, Reply::Hang]);
    let exec = openai(&server.base_url, "LOOPC_TEST_OPENAI_KEY_HANG", Some(1));
    let started = Instant::now();
    let err = exec.invoke(&worker()).unwrap_err();
    assert_eq!(err, ExecError::Timeout(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // The step's shorter timeout wins.
    let short = invocation(StepRef::Worker("patcher".into()), Some(Duration::from_millis(400)));
    let started = Instant::now();
    assert_eq!(exec.invoke(&short).unwrap_err(), ExecError::Timeout(Duration::from_millis(400)));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[test]
fn openai_connection_refused_is_a_transport_error() {
    set_key("LOOPC_TEST_OPENAI_KEY_REFUSED", "sk-refused");
    let err = openai(&closed_port_url(), "LOOPC_TEST_OPENAI_KEY_REFUSED", Some(5))
        .invoke(&worker())
        .unwrap_err();
    assert!(matches!(err, ExecError::Transport(_)), "{err:?}");
}

#[test]
fn openai_missing_key_is_a_config_error_naming_the_variable() {
    let err = openai(&closed_port_url(), "LOOPC_TEST_OPENAI_KEY_NEVER_SET", Some(5))
        .invoke(&worker())
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Config(ref m) if m.contains("LOOPC_TEST_OPENAI_KEY_NEVER_SET")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    set_key("LOOPC_TEST_OPENAI_KEY_EMPTY", "  ");
    let err = openai(&closed_port_url(), "LOOPC_TEST_OPENAI_KEY_EMPTY", Some(5))
        .invoke(&worker())
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Config(ref m) if m.contains("LOOPC_TEST_OPENAI_KEY_EMPTY") && m.contains("empty")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- anthropic

#[test]
fn anthropic_worker_success_with_usage_and_tool_use() {
    let key = "sk-ant-test-worker-321";
    set_key("LOOPC_TEST_ANTHROPIC_KEY_WORKER", key);
    let reply = json!({
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {"type": "text", "text": "Reading the file first. "},
            {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "src/lib.rs"}},
            {"type": "text", "text": "Then patching."}
        ],
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "usage": {"input_tokens": 2000, "output_tokens": 100}
    });
    let server = Server::start(vec![Reply::Json(200, reply)]);
    let out = anthropic(&server.base_url, "LOOPC_TEST_ANTHROPIC_KEY_WORKER", None)
        .invoke(&worker())
        .unwrap();

    let req = server.request();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(req.headers.get("x-api-key").map(String::as_str), Some(key));
    assert_eq!(req.headers.get("anthropic-version").map(String::as_str), Some("2023-06-01"));
    assert!(!req.headers.contains_key("authorization"));
    assert_eq!(req.body["model"], json!("claude-test"));
    assert_eq!(req.body["max_tokens"], json!(1024));
    assert_eq!(req.body["temperature"], json!(0.2));
    assert!(req.body["system"].as_str().unwrap().starts_with("You write minimal patches."));
    assert_eq!(req.body["messages"][0]["role"], json!("user"));
    let sent: Value = serde_json::from_str(req.body["messages"][0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(sent["objective"], json!("fix the bug"));
    assert_eq!(req.body["tools"][1]["name"], json!("write_file"));
    assert_eq!(req.body["tools"][1]["input_schema"]["required"], json!(["path", "content"]));

    assert_eq!(out.output, json!("Reading the file first. Then patching."));
    assert_eq!(
        out.tool_calls,
        vec![ToolCall {
            tool: "read_file".into(),
            args: json!({"path": "src/lib.rs"})
        }]
    );
    assert_eq!((out.usage.input_tokens, out.usage.output_tokens), (2000, 100));
    assert!((out.usage.cost_usd - 0.0075).abs() < 1e-12, "{}", out.usage.cost_usd);
}

#[test]
fn anthropic_evaluator_parses_a_fenced_json_verdict() {
    set_key("LOOPC_TEST_ANTHROPIC_KEY_EVAL", "sk-ant-eval");
    let text = "```json\n{\"passed\": true, \"score\": 0.9, \"summary\": \"good\"}\n```";
    let server = Server::start(vec![
        Reply::Json(
            200,
            json!({"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}], "usage": {"input_tokens": 5, "output_tokens": 7}}),
        ),
        Reply::Json(
            200,
            json!({"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Looks good to me"}], "usage": {}}),
        ),
    ]);
    let exec = anthropic(&server.base_url, "LOOPC_TEST_ANTHROPIC_KEY_EVAL", Some(10));
    let mut inv = evaluator();
    inv.model.as_mut().unwrap().max_tokens = Some(256);
    let out = exec.invoke(&inv).unwrap();
    assert_eq!(out.output, json!({"passed": true, "score": 0.9, "summary": "good"}));
    let req = server.request();
    assert_eq!(req.body["max_tokens"], json!(256));
    assert!(req.body["system"].as_str().unwrap().contains("\"passed\""));
    assert!(req.body.get("tools").is_none());
    let err = exec.invoke(&inv).unwrap_err();
    assert!(matches!(err, ExecError::Failed(_)), "{err:?}");
}

#[test]
fn anthropic_error_statuses_map_to_transport_and_failed() {
    let key = "sk-ant-test-errors-654";
    set_key("LOOPC_TEST_ANTHROPIC_KEY_ERRORS", key);
    let server = Server::start(vec![
        Reply::Json(
            429,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}}),
        ),
        Reply::Json(
            500,
            json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
        ),
        Reply::Json(
            529,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        Reply::Json(
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: must be positive"}}),
        ),
    ]);
    let exec = anthropic(&server.base_url, "LOOPC_TEST_ANTHROPIC_KEY_ERRORS", Some(10));
    for expected in ["429", "500", "529"] {
        let err = exec.invoke(&worker()).unwrap_err();
        assert!(
            matches!(err, ExecError::Transport(ref m) if m.contains(expected)),
            "{expected}: {err:?}"
        );
        assert_no_key(&err, key);
    }
    let err = exec.invoke(&worker()).unwrap_err();
    assert!(
        matches!(err, ExecError::Failed(ref m) if m.contains("max_tokens: must be positive")),
        "{err:?}"
    );
    assert_no_key(&err, key);
}

#[test]
fn anthropic_silent_server_times_out() {
    set_key("LOOPC_TEST_ANTHROPIC_KEY_HANG", "sk-ant-hang");
    let server = Server::start(vec![Reply::Hang]);
    let started = Instant::now();
    let err = anthropic(&server.base_url, "LOOPC_TEST_ANTHROPIC_KEY_HANG", Some(1))
        .invoke(&worker())
        .unwrap_err();
    assert_eq!(err, ExecError::Timeout(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn anthropic_refused_and_missing_key() {
    set_key("LOOPC_TEST_ANTHROPIC_KEY_REFUSED", "sk-ant-refused");
    let err = anthropic(&closed_port_url(), "LOOPC_TEST_ANTHROPIC_KEY_REFUSED", Some(5))
        .invoke(&worker())
        .unwrap_err();
    assert!(matches!(err, ExecError::Transport(_)), "{err:?}");
    let err = anthropic(&closed_port_url(), "LOOPC_TEST_ANTHROPIC_KEY_NEVER_SET", Some(5))
        .invoke(&worker())
        .unwrap_err();
    assert!(
        matches!(err, ExecError::Config(ref m) if m.contains("LOOPC_TEST_ANTHROPIC_KEY_NEVER_SET")),
        "{err:?}"
    );
}

#[test]
fn a_step_without_any_model_is_a_config_error() {
    set_key("LOOPC_TEST_OPENAI_KEY_NOMODEL", "sk-nomodel");
    let mut inv = worker();
    inv.model = None;
    let err = openai(&closed_port_url(), "LOOPC_TEST_OPENAI_KEY_NOMODEL", Some(5))
        .invoke(&inv)
        .unwrap_err();
    assert!(matches!(err, ExecError::Config(ref m) if m.contains("no model")), "{err:?}");
}
