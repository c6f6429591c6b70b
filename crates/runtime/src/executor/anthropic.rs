//! `kind = "anthropic"`: the Anthropic Messages API.
//!
//! Constructors: [`AnthropicExecutor::from_config`]`(&ExecutorConfig, &Bindings) -> Result<AnthropicExecutor, String>`
//! and [`AnthropicExecutor::new`]`(AnthropicSettings)`.
//!
//! Each invocation POSTs `{base_url}/messages` with `x-api-key: <key>` (read
//! from `api_key_env` at invocation time; unset → [`ExecError::Config`] naming
//! the variable), `anthropic-version: 2023-06-01` and
//! `{"model", "max_tokens", "system", "messages": [{"role": "user", "content": payload}], "temperature"?}`:
//! the model is the executor's `model` or the step's model name, `max_tokens`
//! the step model's or the executor's; the system prompt is the role (an
//! evaluator's instructions) plus how to answer; the user content is the
//! payload as pretty JSON. A worker's declared built-in tools
//! (`payload.tools`) are offered as tools. The reply's `text` blocks are
//! joined: an evaluator's must hold a JSON object (passed through; the
//! interpreter completes the verdict), else [`ExecError::Failed`]; a worker's is
//! its output (parsed as JSON when its output format is `json` and it parses).
//! `tool_use` blocks (`name`, `input`) become [`ToolCall`]s; usage comes from
//! `usage.input_tokens`/`output_tokens`, priced per million tokens.
//!
//! The timeout is the shorter of `timeout_seconds` and the step's timeout
//! (10 minutes when neither is set): every attempt and retry within it. Errors and
//! retries: see [`super::http`] and [`super::retry`].

use serde_json::{json, Value};

use super::{http, transcript};
use super::{ExecError, Executor, Invocation, Outcome, StepRef, ToolCall};
use crate::bindings::{Bindings, ExecutorConfig, ModelApi};

/// The `anthropic-version` header sent.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The settings of a `kind = "anthropic"` executor (those of every model API).
pub type AnthropicSettings = ModelApi;

/// The public API, when `base_url` is not set.
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com/v1";

/// `max_tokens` when neither the step's model nor the executor sets one (the API requires it).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Calls the Messages API (see the module docs).
#[derive(Debug)]
pub struct AnthropicExecutor {
    settings: AnthropicSettings,
    agent: ureq::Agent,
    retry: http::RetryPolicy,
}

impl AnthropicExecutor {
    pub fn new(settings: AnthropicSettings) -> Self {
        AnthropicExecutor {
            retry: http::retry_policy(&settings),
            settings,
            agent: http::agent(),
        }
    }

    /// From a `kind = "anthropic"` config.
    pub fn from_config(config: &ExecutorConfig, _bindings: &Bindings) -> Result<Self, String> {
        let ExecutorConfig::Anthropic(settings) = config else {
            return Err("not an `anthropic` executor config".into());
        };
        settings.validate("anthropic").map_err(|e| e.to_string())?;
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
        let max_tokens = invocation
            .model
            .as_ref()
            .and_then(|m| m.max_tokens)
            .or(self.settings.max_tokens)
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let mut body = json!({
            "model": model,
            "max_tokens": max_tokens,
            "system": http::system_prompt(invocation),
            "messages": [{"role": "user", "content": http::user_message(invocation)}],
        });
        if let Some(Value::Array(messages)) = body.get_mut("messages") {
            messages.extend(transcript::anthropic_messages(&transcript::turns(invocation)));
        }
        if let Some(t) = invocation.model.as_ref().and_then(|m| m.temperature) {
            body["temperature"] = json!(t);
        }
        let tools: Vec<Value> = http::tool_specs(invocation)
            .into_iter()
            .map(|(name, description, schema)| json!({"name": name, "description": description, "input_schema": schema}))
            .collect();
        if !tools.is_empty() {
            body["tools"] = Value::Array(tools);
        }
        Ok(body)
    }

    fn outcome(&self, invocation: &Invocation, response: &Value) -> Result<Outcome, ExecError> {
        let Some(Value::Array(blocks)) = response.get("content") else {
            return Err(ExecError::Failed("the response has no `content` list".into()));
        };
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
                Some("tool_use") => {
                    let name = block
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ExecError::Failed(format!("a tool_use block has no name: {block}")))?;
                    tool_calls.push(ToolCall {
                        tool: name.to_owned(),
                        args: block.get("input").cloned().unwrap_or_else(|| json!({})),
                    });
                }
                _ => {}
            }
        }
        let output = match invocation.step {
            StepRef::Evaluator(_) => {
                tool_calls.clear();
                http::parse_json_reply(&text).map_err(ExecError::Failed)?
            }
            StepRef::Worker(_) => http::worker_output(invocation, text),
        };
        let tokens = |k: &str| response.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
        let usage = http::usage(
            tokens("input_tokens"),
            tokens("output_tokens"),
            self.settings.input_usd_per_mtok,
            self.settings.output_usd_per_mtok,
        );
        Ok(Outcome { output, usage, tool_calls })
    }
}

impl Executor for AnthropicExecutor {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError> {
        let body = self.request_body(invocation)?;
        let key = http::api_key(&self.settings.api_key_env)?;
        let url = http::endpoint(self.settings.base_url.as_deref().unwrap_or(ANTHROPIC_URL), "messages");
        let timeout = http::timeout(self.settings.timeout_seconds, invocation.timeout);
        let headers = [("x-api-key", key.as_str()), ("anthropic-version", ANTHROPIC_VERSION)];
        let response = http::post_json(&self.agent, &url, &headers, &body, timeout, &self.retry, &key)?;
        self.outcome(invocation, &response)
    }

    fn converses(&self) -> bool {
        true
    }
}
