//! Model API calls are retried: HTTP 429 and 503 after the server's
//! `Retry-After`, other transient failures after a jittered exponential
//! backoff, all within the step's timeout. Against a loopback server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopc_plan::ModelRef;
use loopc_runtime::executor::{AnthropicExecutor, ExecError, Executor, Invocation, OpenAiExecutor, StepRef};
use serde_json::json;

/// One HTTP response: status line, extra headers, body.
type Canned = (&'static str, String, String);

/// Answer one connection per canned response, in order; the time each
/// request arrived is kept.
fn serve(responses: Vec<Canned>) -> (String, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for (status, headers, body) in responses {
            let Ok((stream, _)) = listener.accept() else { return };
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut line) = (0, String::new());
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            kept.lock().unwrap().push(Instant::now());
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn chat_ok() -> Canned {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": "patched"}}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
    ("200 OK", String::new(), body.to_string())
}

fn refused(status: &'static str, retry_after: &str) -> Canned {
    let headers = if retry_after.is_empty() {
        String::new()
    } else {
        format!("retry-after: {retry_after}\r\n")
    };
    (status, headers, json!({"error": {"message": "slow down"}}).to_string())
}

fn worker(timeout: Duration) -> Invocation {
    Invocation {
        run_id: "run-retry".into(),
        iteration: 1,
        step: StepRef::Worker("patcher".into()),
        role: "You write patches.".into(),
        model: Some(ModelRef {
            provider: "test".into(),
            name: "m".into(),
            temperature: None,
            max_tokens: None,
        }),
        payload: json!({"objective": "fix", "inputs": {}, "feedback": [], "output": {"name": "patch", "format": "text"}}),
        timeout: Some(timeout),
        workspace: std::env::temp_dir(),
        processes: None,
        isolation: None,
    }
}

fn settings(base_url: &str, key_env: &str) -> loopc_runtime::bindings::ModelApi {
    // Each test has its own variable.
    std::env::set_var(key_env, "sk-retry-test");
    loopc_runtime::bindings::ModelApi {
        base_url: Some(base_url.into()),
        api_key_env: key_env.into(),
        max_tokens: Some(64),
        ..Default::default()
    }
}

#[test]
fn a_429_with_retry_after_is_retried_after_the_wait() {
    let (url, seen) = serve(vec![refused("429 Too Many Requests", "1"), chat_ok()]);
    let exec = OpenAiExecutor::new(settings(&url, "LOOPC_RETRY_KEY_429"));
    let started = Instant::now();
    let out = exec.invoke(&worker(Duration::from_secs(20))).expect("the second attempt succeeds");
    let took = started.elapsed();
    assert_eq!(out.output, json!("patched"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2, "one refused request, one retry");
    let gap = seen[1] - seen[0];
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}, before Retry-After: 1");
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_503_with_an_http_date_is_retried_after_that_date() {
    // Whole seconds: the date is rounded down, so ask for 2 s ahead.
    let at = std::time::SystemTime::now() + Duration::from_secs(2);
    let (url, seen) = serve(vec![refused("503 Service Unavailable", &httpdate::fmt_http_date(at)), chat_ok()]);
    let exec = OpenAiExecutor::new(settings(&url, "LOOPC_RETRY_KEY_503"));
    exec.invoke(&worker(Duration::from_secs(20))).expect("the retry succeeds");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen[1] - seen[0] >= Duration::from_secs(1), "{:?}", seen[1] - seen[0]);
}

#[test]
fn a_retry_after_beyond_the_step_timeout_is_not_waited_for() {
    let (url, seen) = serve(vec![refused("429 Too Many Requests", "60"), chat_ok()]);
    let exec = OpenAiExecutor::new(settings(&url, "LOOPC_RETRY_KEY_FAR"));
    let started = Instant::now();
    let err = exec.invoke(&worker(Duration::from_secs(3))).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up at once: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, ExecError::Transport(m) if m.contains("HTTP 429") && m.contains("Retry-After 60s") && m.contains("not retried")),
        "{err:?}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn an_overloaded_api_is_retried_with_backoff_until_it_answers() {
    let body = json!({"content": [{"type": "text", "text": "patched"}], "usage": {"input_tokens": 3, "output_tokens": 2}});
    let (url, seen) = serve(vec![
        refused("529 Overloaded", ""),
        refused("500 Internal Server Error", ""),
        ("200 OK", String::new(), body.to_string()),
    ]);
    let exec = AnthropicExecutor::new(settings(&url, "LOOPC_RETRY_KEY_529"));
    let out = exec.invoke(&worker(Duration::from_secs(20))).expect("the third attempt succeeds");
    assert_eq!(out.output, json!("patched"));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3);
    // 0.5–1 s, then 1–2 s: exponential, jittered.
    let (first, second) = (seen[1] - seen[0], seen[2] - seen[1]);
    assert!(
        first >= Duration::from_millis(500) && first < Duration::from_millis(1500),
        "{first:?}"
    );
    assert!(
        second >= Duration::from_secs(1) && second < Duration::from_millis(2500),
        "{second:?}"
    );
}

#[test]
fn max_retries_zero_makes_one_call() {
    let (url, seen) = serve(vec![refused("429 Too Many Requests", "1"), chat_ok()]);
    let exec = OpenAiExecutor::new(loopc_runtime::bindings::ModelApi {
        max_retries: Some(0),
        ..settings(&url, "LOOPC_RETRY_KEY_NONE")
    });
    let err = exec.invoke(&worker(Duration::from_secs(20))).unwrap_err();
    assert!(matches!(err, ExecError::Transport(_)), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}
