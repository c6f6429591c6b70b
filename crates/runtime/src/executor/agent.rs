//! `kind = "agent"`: an agent CLI runs the step (the Claude Code, Codex and
//! aider style): it gets the task as text, works in the workspace with its
//! own tools, and says what it did.
//!
//! ```toml
//! [executors.claude-code]
//! kind = "agent"
//! argv = ["claude", "-p", "--output-format", "json"]
//! prompt = "stdin"          # or "argument" (the last argument), or "{prompt}" inside argv
//! output = "json"           # "text", "json" (one object) or "jsonl" (one event per line)
//! pass_env = ["ANTHROPIC_API_KEY"]   # from loopc's environment, to this executor only
//! ```
//!
//! The prompt is the step's system prompt (the worker's role and how to
//! answer) followed by the task as JSON (objective, inputs, feedback,
//! refinements). The CLI runs like a `command` executor: in the workspace
//! (the run's worktree), in its own process group, under the run's OS
//! sandbox and environment allowlist, killed with its group at the timeout.
//! An agent CLI calls its model's API, so under bubblewrap it needs
//! `[sandbox] network = true`, and its API key in its own `pass_env`.
//!
//! What it printed becomes the outcome: `text` is the output as it is;
//! `json` reads the answer from `result` (Claude Code), `output`, `response`
//! or `text`, the spend from `total_cost_usd`/`cost_usd` and the tokens
//! from `usage` (`input_tokens`/`output_tokens` or `prompt_tokens`/
//! `completion_tokens`), and `is_error: true` fails the step; `jsonl` reads
//! every line as such an event (Codex's `exec --json`: the answer is the last
//! `item.completed` agent message, the usage the sum over `turn.completed`).
//! A non-zero exit fails the step with the tail of stderr. For an evaluator
//! the answer must be a JSON verdict.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::command::{describe, stderr_suffix, CommandExecutor, Finished};
use super::{http, ExecError, Executor, Invocation, Outcome, StepRef, Usage};
use crate::bindings::{Bindings, ExecutorConfig, Verdict};

/// How the prompt reaches the CLI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptVia {
    #[default]
    Stdin,
    /// Appended as the last argument (unless an argument holds `{prompt}`).
    Argument,
}

/// What the CLI prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentOutput {
    #[default]
    Text,
    Json,
    Jsonl,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub argv: Vec<String>,
    #[serde(default)]
    pub prompt: PromptVia,
    #[serde(default)]
    pub output: AgentOutput,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Variables of loopc's own environment passed to this executor only
    /// (its API key: `pass_env = ["ANTHROPIC_API_KEY"]`); no other process
    /// of the run sees them.
    #[serde(default)]
    pub pass_env: Vec<String>,
}

/// Runs an agent CLI for a step (see the module docs).
#[derive(Clone, Debug)]
pub struct AgentExecutor {
    config: AgentConfig,
}

const PLACEHOLDER: &str = "{prompt}";

impl AgentExecutor {
    pub fn from_config(config: &ExecutorConfig, bindings: &Bindings) -> Result<Self, String> {
        let ExecutorConfig::Agent(c) = config else {
            return Err("not an `agent` executor config".into());
        };
        let mut config = c.clone();
        let Some(program) = config.argv.first_mut() else {
            return Err("agent executor: argv is empty".into());
        };
        if program.contains('/') && Path::new(program.as_str()).is_relative() {
            *program = bindings.base_dir.join(program.as_str()).to_string_lossy().into_owned();
        }
        Ok(AgentExecutor { config })
    }

    fn prompt(invocation: &Invocation) -> String {
        format!(
            "{}\n\nThe task, as JSON:\n{}\n",
            http::system_prompt(invocation),
            http::user_message(invocation)
        )
    }

    fn outcome(&self, invocation: &Invocation, f: &Finished) -> Result<Outcome, ExecError> {
        let program = &self.config.argv[0];
        if !f.status.success() {
            return Err(ExecError::Failed(format!(
                "`{program}` {}{}",
                describe(&f.status),
                stderr_suffix(&f.stderr)
            )));
        }
        let text = String::from_utf8_lossy(&f.stdout.head);
        let (answer, usage) = match self.config.output {
            AgentOutput::Text => (text.trim_end().to_owned(), Usage::default()),
            AgentOutput::Json => {
                let event: Value = serde_json::from_str(text.trim())
                    .map_err(|e| ExecError::Failed(format!("`{program}` did not print one JSON object: {e}")))?;
                read_events(std::slice::from_ref(&event)).map_err(|e| ExecError::Failed(format!("`{program}`: {e}")))?
            }
            AgentOutput::Jsonl => {
                let events: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l.trim()).ok()).collect();
                read_events(&events).map_err(|e| ExecError::Failed(format!("`{program}`: {e}")))?
            }
        };
        let output = match invocation.step {
            StepRef::Worker(_) => http::worker_output(invocation, answer),
            StepRef::Evaluator(_) => http::parse_json_reply(&answer).map_err(ExecError::Failed)?,
        };
        Ok(Outcome {
            output,
            usage,
            tool_calls: Vec::new(),
        })
    }
}

/// The answer and the spend in a CLI's JSON events (see the module docs).
fn read_events(events: &[Value]) -> Result<(String, Usage), String> {
    let mut answer = None;
    let mut usage = Usage::default();
    let mut cost = None;
    for event in events {
        if event.get("is_error").and_then(Value::as_bool) == Some(true) {
            let why = ["result", "error", "message"]
                .iter()
                .find_map(|k| event.get(*k))
                .map_or_else(String::new, |v| v.to_string());
            return Err(format!("the agent reported an error: {why}"));
        }
        let text = ["result", "output", "response", "text"]
            .iter()
            .find_map(|k| event.get(*k).and_then(Value::as_str))
            .or_else(|| {
                (event.pointer("/item/type").and_then(Value::as_str) == Some("agent_message"))
                    .then(|| event.pointer("/item/text").and_then(Value::as_str))
                    .flatten()
            });
        if let Some(text) = text {
            answer = Some(text.to_owned());
        }
        if let Some(u) = event.get("usage") {
            let tokens = |a: &str, b: &str| u.get(a).or_else(|| u.get(b)).and_then(Value::as_u64).unwrap_or(0);
            usage.input_tokens += tokens("input_tokens", "prompt_tokens");
            usage.output_tokens += tokens("output_tokens", "completion_tokens");
        }
        if let Some(c) = ["total_cost_usd", "cost_usd"]
            .iter()
            .find_map(|k| event.get(*k).and_then(Value::as_f64))
        {
            cost = Some(c);
        }
    }
    usage.cost_usd = cost.filter(|c| c.is_finite() && *c >= 0.0).unwrap_or(0.0);
    let answer = answer.ok_or("no answer among its output (`result`, `output`, `response`, `text` or an agent message)")?;
    Ok((answer, usage))
}

impl Executor for AgentExecutor {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError> {
        let prompt = Self::prompt(invocation);
        let mut argv = self.config.argv.clone();
        let mut input = Vec::new();
        if argv.iter().any(|a| a.contains(PLACEHOLDER)) {
            for a in &mut argv {
                *a = a.replace(PLACEHOLDER, &prompt);
            }
        } else if self.config.prompt == PromptVia::Argument {
            argv.push(prompt);
        } else {
            input = prompt.into_bytes();
        }
        let mut env = self.config.env.clone();
        for name in &self.config.pass_env {
            match std::env::var(name) {
                Ok(value) => {
                    env.insert(name.clone(), value);
                }
                Err(_) => {
                    return Err(ExecError::Config(format!(
                        "environment variable {name} (pass_env of an agent executor) is not set"
                    )))
                }
            }
        }
        let command = CommandExecutor::new(argv, Verdict::ExitCode, env).map_err(ExecError::Config)?;
        let finished = command.run_with_input(invocation, input)?;
        self.outcome(invocation, &finished)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn claude_code_and_codex_results() {
        let claude = json!({"type": "result", "subtype": "success", "is_error": false, "result": "Fixed add()",
            "total_cost_usd": 0.0123, "usage": {"input_tokens": 1200, "output_tokens": 300}});
        let (answer, usage) = super::read_events(&[claude]).unwrap();
        assert_eq!(answer, "Fixed add()");
        assert_eq!((usage.input_tokens, usage.output_tokens, usage.cost_usd), (1200, 300, 0.0123));

        let codex = [
            json!({"type": "thread.started", "thread_id": "t"}),
            json!({"type": "item.completed", "item": {"type": "agent_message", "text": "Done"}}),
            json!({"type": "turn.completed", "usage": {"input_tokens": 1000, "output_tokens": 200}}),
            json!({"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 2}}),
        ];
        let (answer, usage) = super::read_events(&codex).unwrap();
        assert_eq!(answer, "Done");
        assert_eq!((usage.input_tokens, usage.output_tokens), (1010, 202));

        let failed = json!({"type": "result", "subtype": "error_during_execution", "is_error": true, "result": "out of credit"});
        assert!(super::read_events(&[failed]).unwrap_err().contains("out of credit"));
        assert!(super::read_events(&[json!({"type": "ping"})]).is_err());
    }
}
