//! What the HTTP model executors ([`super::openai`], [`super::anthropic`]) share:
//! the API key, the timeout, one POST with its error mapping, prompts, tool
//! declarations and reading a JSON verdict out of a model's reply.
//!
//! Error mapping: HTTP 408, 429 and 5xx → [`ExecError::Transport`]
//! (retried with backoff and jitter, honouring `Retry-After` on 429 and
//! 503: [`super::retry`]); other non-2xx → [`ExecError::Failed`] with the API's
//! `error.message`; a timeout → [`ExecError::Timeout`]; no connection →
//! [`ExecError::Transport`]. The key is never logged and is replaced by
//! `[redacted]` in every message built here.

use std::io::ErrorKind;
use std::time::Duration;

use serde_json::{json, Value};

pub(crate) use super::retry::RetryPolicy;
use super::retry::{self, Failed};
use super::{ExecError, Invocation, StepRef, ToolCall, Usage};

/// Timeout when neither the executor nor the step sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Largest response body read.
const MAX_BODY: u64 = 32 * 1024 * 1024;

/// An agent that returns 4xx/5xx responses instead of errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// The API key from `var`, read now.
pub(crate) fn api_key(var: &str) -> Result<String, ExecError> {
    match std::env::var(var) {
        Ok(k) if !k.trim().is_empty() => Ok(k.trim().to_owned()),
        Ok(_) => Err(ExecError::Config(format!("environment variable {var} (the API key) is empty"))),
        Err(std::env::VarError::NotPresent) => Err(ExecError::Config(format!("environment variable {var} (the API key) is not set"))),
        Err(std::env::VarError::NotUnicode(_)) => Err(ExecError::Config(format!(
            "environment variable {var} (the API key) is not valid UTF-8"
        ))),
    }
}

/// The shorter of the executor's `timeout_seconds` and the step's timeout.
pub(crate) fn timeout(config_seconds: Option<u64>, invocation: Option<Duration>) -> Duration {
    match (config_seconds.map(Duration::from_secs), invocation) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => DEFAULT_TIMEOUT,
    }
}

/// `base_url` + `/path`.
pub(crate) fn endpoint(base_url: &str, path: &str) -> String {
    format!("{}/{}", base_url.trim_end_matches('/'), path.trim_start_matches('/'))
}

pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// POST `body` as JSON and return the JSON of a 2xx response, retrying
/// what the API refused for now as `policy` says (see [`super::retry`]):
/// all attempts and waits together within `timeout`.
pub(crate) fn post_json(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
    timeout: Duration,
    policy: &RetryPolicy,
    secret: &str,
) -> Result<Value, ExecError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ExecError::Failed(format!("cannot serialize the request: {e}")))?;
    let result = retry::call(
        policy,
        timeout,
        |left| post_once(agent, url, headers, &bytes, left, secret),
        std::thread::sleep,
    );
    // An attempt times out at what was left of the step's time: the step's timeout.
    result.map_err(|e| match e {
        ExecError::Timeout(_) => ExecError::Timeout(timeout),
        other => other,
    })
}

/// One POST within `timeout`.
fn post_once(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    bytes: &[u8],
    timeout: Duration,
    secret: &str,
) -> Result<Value, Failed> {
    let shown_url = redact(url, secret);
    if timeout.is_zero() {
        return Err(ExecError::Timeout(timeout).into());
    }
    let mut request = agent
        .post(url)
        .config()
        .timeout_global(Some(timeout))
        .build()
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(bytes).map_err(|e| map_error(e, &shown_url, timeout, secret))?;
    let status = response.status().as_u16();
    let retry_after = match status {
        429 | 503 => response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::retry_after(v, std::time::SystemTime::now())),
        _ => None,
    };
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| map_error(e, &shown_url, timeout, secret))?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text).map_err(|e| {
            ExecError::Failed(format!(
                "POST {shown_url}: the response is not JSON ({e}): {}",
                clip(&redact(&text, secret), 300)
            ))
            .into()
        });
    }
    let message = clip(&redact(&api_message(&text), secret), 500);
    let message = format!("POST {shown_url}: HTTP {status}: {message}");
    let error = if status == 408 || status == 429 || status >= 500 {
        ExecError::Transport(message)
    } else {
        ExecError::Failed(message)
    };
    Err(Failed { error, retry_after })
}

/// How a model API executor retries (`max_retries` in its bindings).
pub(crate) fn retry_policy(settings: &crate::bindings::ModelApi) -> RetryPolicy {
    RetryPolicy::new(settings.max_retries.unwrap_or(retry::DEFAULT_RETRIES))
}

/// `error.message` (OpenAI, Anthropic), `error` or `message` of an error body, else its text.
fn api_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let found = v
            .pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str);
        if let Some(m) = found {
            return m.to_owned();
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        "(empty response)".into()
    } else {
        trimmed.to_owned()
    }
}

fn map_error(e: ureq::Error, url: &str, timeout: Duration, secret: &str) -> ExecError {
    match &e {
        ureq::Error::Timeout(_) => return ExecError::Timeout(timeout),
        ureq::Error::Io(io) if matches!(io.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => return ExecError::Timeout(timeout),
        _ => {}
    }
    let message = redact(&format!("POST {url}: {e}"), secret);
    match e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_) | ureq::Error::TlsRequired => {
            ExecError::Config(message)
        }
        _ => ExecError::Transport(message),
    }
}

/// The JSON an evaluator is asked to answer with (an LLM rubric's verdict is
/// computed from its `dimension_scores`).
const VERDICT_SHAPE: &str = "{\"passed\": true|false, \"score\": <number from 0 to 1>, \"dimension_scores\": {\"<dimension>\": <score on its scale>}, \"remediation_hints\": [\"<what to fix>\"], \"summary\": \"<one sentence>\"}";

/// The system prompt: the role (or an evaluator's instructions) and how to answer.
pub(crate) fn system_prompt(invocation: &Invocation) -> String {
    let role = invocation.role.trim();
    match &invocation.step {
        StepRef::Worker(id) => {
            let format = invocation
                .payload
                .pointer("/output/format")
                .and_then(Value::as_str)
                .unwrap_or("text");
            format!(
                "{role}\n\nYou are worker `{id}` of an iterative agent loop (iteration {}). The user message is a JSON object with the \
                 objective, your inputs and the feedback on earlier iterations. Reply with your output only (format: {format}).",
                invocation.iteration
            )
        }
        StepRef::Evaluator(id) => format!(
            "{role}\n\nYou are evaluator `{id}` of an iterative agent loop (iteration {}). The user message is a JSON object with the \
             objective, the workers' outputs and the rubric. Reply with a single JSON object and nothing else: {VERDICT_SHAPE}",
            invocation.iteration
        ),
    }
}

/// The user message: the payload as pretty JSON.
pub(crate) fn user_message(invocation: &Invocation) -> String {
    // The transcript is replayed as the API's own messages, not in here.
    let mut payload = invocation.payload.clone();
    if let Some(object) = payload.as_object_mut() {
        object.remove("transcript");
    }
    serde_json::to_string_pretty(&payload).unwrap_or_else(|_| payload.to_string())
}

/// `(name, description, JSON schema of the arguments)` of the tools a worker
/// declares in `payload.tools` (names of the runtime's built-in tools;
/// unknown names get a free-form object).
pub(crate) fn tool_specs(invocation: &Invocation) -> Vec<(String, String, Value)> {
    if !matches!(invocation.step, StepRef::Worker(_)) {
        return Vec::new();
    }
    let Some(Value::Array(tools)) = invocation.payload.get("tools") else {
        return Vec::new();
    };
    tools
        .iter()
        .filter_map(Value::as_str)
        .map(|name| match crate::tools::table::find(name) {
            Some(tool) => (name.to_owned(), tool.description.to_owned(), (tool.arguments)()),
            None => (name.to_owned(), "A tool of the runtime.".to_owned(), json!({"type": "object"})),
        })
        .collect()
}

/// Token counts priced per million tokens.
pub(crate) fn usage(input_tokens: u64, output_tokens: u64, input_usd_per_mtok: f64, output_usd_per_mtok: f64) -> Usage {
    Usage {
        input_tokens,
        output_tokens,
        cost_usd: (input_tokens as f64 * input_usd_per_mtok + output_tokens as f64 * output_usd_per_mtok) / 1e6,
    }
}

/// The text inside a Markdown code fence (```json … ``` or ``` … ```), or the text itself.
fn unfence(trimmed: &str) -> &str {
    trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|t| t.trim_end().strip_suffix("```"))
        .map(str::trim)
        .unwrap_or(trimmed)
}

/// A JSON object in a model's reply (bare, in a ```json fence, or the outermost `{…}`).
pub(crate) fn parse_json_reply(text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let unfenced = unfence(trimmed);
    let parsed = serde_json::from_str::<Value>(unfenced).ok().or_else(|| {
        let (start, end) = (unfenced.find('{')?, unfenced.rfind('}')?);
        (start < end)
            .then(|| serde_json::from_str::<Value>(&unfenced[start..=end]).ok())
            .flatten()
    });
    match parsed {
        Some(v @ Value::Object(_)) => Ok(v),
        _ => Err(format!("the reply is not a JSON object: {}", clip(trimmed, 300))),
    }
}

/// A worker's reply: JSON when the worker's output format is `json` and the reply parses, else the text.
pub(crate) fn worker_output(invocation: &Invocation, text: String) -> Value {
    let wants_json = invocation
        .payload
        .pointer("/output/format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.eq_ignore_ascii_case("json"));
    if wants_json {
        let unfenced = unfence(text.trim());
        if let Ok(v) = serde_json::from_str::<Value>(unfenced) {
            return v;
        }
    }
    Value::String(text)
}

/// A tool call whose arguments arrive as a JSON string (OpenAI).
pub(crate) fn tool_call_from_json_string(name: &str, arguments: Option<&Value>) -> Result<ToolCall, ExecError> {
    let args = match arguments {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| ExecError::Failed(format!("tool call `{name}`: the arguments are not JSON ({e}): {}", clip(s, 200))))?,
        Some(other) => other.clone(),
    };
    Ok(ToolCall {
        tool: name.to_owned(),
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_replies() {
        assert_eq!(parse_json_reply("{\"passed\": true}").unwrap(), json!({"passed": true}));
        assert_eq!(parse_json_reply("```json\n{\"score\": 0.5}\n```").unwrap(), json!({"score": 0.5}));
        assert_eq!(parse_json_reply("Here: {\"score\": 1} done").unwrap(), json!({"score": 1}));
        assert!(parse_json_reply("no").is_err());
        assert!(parse_json_reply("[1, 2]").is_err());
    }

    #[test]
    fn timeouts_and_messages() {
        assert_eq!(timeout(Some(5), Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(timeout(Some(5), None), Duration::from_secs(5));
        assert_eq!(timeout(None, None), DEFAULT_TIMEOUT);
        assert_eq!(api_message(r#"{"error": {"message": "bad model"}}"#), "bad model");
        assert_eq!(api_message(r#"{"type":"error","error":{"type":"x","message":"m"}}"#), "m");
        assert_eq!(api_message("oops"), "oops");
        assert_eq!(redact("key sk-123 here", "sk-123"), "key [redacted] here");
        assert_eq!(endpoint("http://x/v1/", "/messages"), "http://x/v1/messages");
    }
}
