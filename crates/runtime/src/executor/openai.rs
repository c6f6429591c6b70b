//! `kind = "openai"`: an OpenAI-compatible chat-completions API.
//!
//! Constructors: [`OpenAiExecutor::from_config`]`(&ExecutorConfig, &Bindings) -> Result<OpenAiExecutor, String>`
//! and [`OpenAiExecutor::new`]`(OpenAiSettings)`.
//!
//! Each invocation POSTs `{base_url}/chat/completions` with
//! `Authorization: Bearer <key>` (the key read from `api_key_env` at
//! invocation time; unset → [`ExecError::Config`] naming the variable) and
//! `{"model", "messages": [system, user], "temperature"?, "max_tokens"?}`:
//! the model is the executor's `model` or the step's model name; the system
//! message is the role (an evaluator's instructions) plus how to answer; the
//! user message is the payload as pretty JSON. A worker's declared built-in
//! tools (`payload.tools`) are offered as functions. Evaluators get
//! `response_format: {"type": "json_object"}` and their reply must be a JSON
//! object (passed through; the interpreter completes the verdict), else
//! [`ExecError::Failed`]. A worker's reply is its text (parsed as JSON when its
//! output format is `json` and it parses). `message.tool_calls[].function`
//! (`name`, `arguments` as a JSON string) become [`ToolCall`]s; usage comes from
//! `usage.prompt_tokens`/`completion_tokens`, priced per million tokens.
//!
//! The timeout is the shorter of `timeout_seconds` and the step's timeout
//! (10 minutes when neither is set): every attempt and retry within it. Errors and
//! retries: see [`super::http`] and [`super::retry`].

use serde_json::{json, Value};

use super::{http, transcript};
use super::{ExecError, Executor, Invocation, Outcome, StepRef, ToolCall};
use crate::bindings::{Bindings, ExecutorConfig, ModelApi};

/// The settings of a `kind = "openai"` executor (those of every model API).
pub type OpenAiSettings = ModelApi;

/// The public API, when `base_url` is not set.
pub const OPENAI_URL: &str = "https://api.openai.com/v1";

/// Calls a chat-completions API (see the module docs).
#[derive(Debug)]
pub struct OpenAiExecutor {
    settings: OpenAiSettings,
    agent: ureq::Agent,
    retry: http::RetryPolicy,
}

impl OpenAiExecutor {
    pub fn new(settings: OpenAiSettings) -> Self {
        OpenAiExecutor {
            retry: http::retry_policy(&settings),
            settings,
            agent: http::agent(),
        }
    }

    /// From a `kind = "openai"` config.
    pub fn from_config(config: &ExecutorConfig, _bindings: &Bindings) -> Result<Self, String> {
        let ExecutorConfig::Openai(settings) = config else {
            return Err("not an `openai` executor config".into());
        };
        settings.validate("openai").map_err(|e| e.to_string())?;
        Ok(Self::new(settings.clone()))
    }

    /// The request body for an invocation.
    pub fn request_body(&self, invocation: &Invocation) -> Result<Value, ExecError> {
        let model = self
            .settings
            .model
            .clone()
            .or_else(|| invocation.model.as_ref().map(|m| m.name.clone()))
            .ok_or_else(|| {
                ExecError::Config(format!(
                    "no model for {}: set `model` in the executor or give the step a model",
                    invocation.step.path()
                ))
            })?;
        let mut messages = vec![
            json!({"role": "system", "content": http::system_prompt(invocation)}),
            json!({"role": "user", "content": http::user_message(invocation)}),
        ];
        messages.extend(transcript::openai_messages(&transcript::turns(invocation)));
        let mut body = json!({"model": model, "messages": messages});
        if let Some(m) = &invocation.model {
            if let Some(t) = m.temperature {
                body["temperature"] = json!(t);
            }
            if let Some(n) = m.max_tokens.or(self.settings.max_tokens) {
                body["max_tokens"] = json!(n);
            }
        }
        match invocation.step {
            StepRef::Evaluator(_) => body["response_format"] = json!({"type": "json_object"}),
            StepRef::Worker(_) => {
                let tools: Vec<Value> = http::tool_specs(invocation)
                    .into_iter()
                    .map(|(name, description, parameters)| {
                        json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
                    })
                    .collect();
                if !tools.is_empty() {
                    body["tools"] = Value::Array(tools);
                }
            }
        }
        Ok(body)
    }

    fn outcome(&self, invocation: &Invocation, response: &Value) -> Result<Outcome, ExecError> {
        let message = response
            .pointer("/choices/0/message")
            .ok_or_else(|| ExecError::Failed("the response has no choices[0].message".into()))?;
        let text = match message.get("content") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            // Content parts: join their text.
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
            Some(other) => other.to_string(),
        };
        let mut tool_calls = Vec::new();
        if let Some(Value::Array(calls)) = message.get("tool_calls") {
            for call in calls {
                let function = call.get("function").unwrap_or(call);
                let name = function
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ExecError::Failed(format!("a tool call has no function name: {call}")))?;
                tool_calls.push(http::tool_call_from_json_string(name, function.get("arguments"))?);
            }
        }
        let output = match invocation.step {
            StepRef::Evaluator(_) => {
                if message.get("refusal").and_then(Value::as_str).is_some_and(|r| !r.is_empty()) && text.is_empty() {
                    return Err(ExecError::Failed(format!(
                        "the model refused: {}",
                        message["refusal"].as_str().unwrap_or_default()
                    )));
                }
                http::parse_json_reply(&text).map_err(ExecError::Failed)?
            }
            StepRef::Worker(_) => http::worker_output(invocation, text),
        };
        let tokens = |k: &str| response.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
        let usage = http::usage(
            tokens("prompt_tokens"),
            tokens("completion_tokens"),
            self.settings.input_usd_per_mtok,
            self.settings.output_usd_per_mtok,
        );
        let tool_calls: Vec<ToolCall> = if matches!(invocation.step, StepRef::Worker(_)) {
            tool_calls
        } else {
            Vec::new()
        };
        Ok(Outcome { output, usage, tool_calls })
    }
}

impl Executor for OpenAiExecutor {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError> {
        let body = self.request_body(invocation)?;
        let key = http::api_key(&self.settings.api_key_env)?;
        let url = http::endpoint(self.settings.base_url.as_deref().unwrap_or(OPENAI_URL), "chat/completions");
        let timeout = http::timeout(self.settings.timeout_seconds, invocation.timeout);
        let auth = format!("Bearer {key}");
        let headers = [("authorization", auth.as_str())];
        let response = http::post_json(&self.agent, &url, &headers, &body, timeout, &self.retry, &key)?;
        self.outcome(invocation, &response)
    }

    fn converses(&self) -> bool {
        true
    }
}
