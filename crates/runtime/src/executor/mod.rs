//! Executors run one step (a worker or an evaluator) and report its output,
//! its token usage and cost, and the tool calls it asks for.

use std::path::PathBuf;
use std::time::Duration;

use loopc_plan::ModelRef;
use serde::{Deserialize, Serialize};

/// Which step is being run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum StepRef {
    Worker(String),
    Evaluator(String),
}

impl StepRef {
    pub fn id(&self) -> &str {
        match self {
            StepRef::Worker(id) | StepRef::Evaluator(id) => id,
        }
    }
    /// `workers.<id>` / `evaluators.<id>`, as bindings and reports name steps.
    pub fn path(&self) -> String {
        match self {
            StepRef::Worker(id) => format!("workers.{id}"),
            StepRef::Evaluator(id) => format!("evaluators.{id}"),
        }
    }
}

/// Everything an executor is given.
#[derive(Clone, Debug, Serialize)]
pub struct Invocation {
    pub run_id: String,
    pub iteration: u32,
    pub step: StepRef,
    /// The worker's role, or an evaluator's instructions.
    pub role: String,
    pub model: Option<ModelRef>,
    /// A JSON object: `objective`, `iteration`, `inputs` (the bound values),
    /// `feedback` (messages for this step), and for evaluators `outputs`
    /// (the checked workers' outputs) and `rubric`.
    pub payload: serde_json::Value,
    pub timeout: Option<Duration>,
    /// Working directory of the loop (the sandbox root).
    pub workspace: PathBuf,
    /// Where executors that start processes record their process groups,
    /// so that a `resume` after a crash can end what was left running.
    #[serde(skip)]
    pub processes: Option<std::sync::Arc<crate::process::ProcessLog>>,
    /// How executors that start processes isolate them (`None`: the
    /// environment is filtered, nothing else).
    #[serde(skip)]
    pub isolation: Option<std::sync::Arc<crate::process::Isolation>>,
}

/// Tokens and money one step used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// An action a worker asks the runtime to perform on its behalf (through
/// the sandbox): see [`crate::tools`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub tool: String,
    #[serde(default)]
    pub args: serde_json::Value,
}

/// What a step produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// A worker's output (a string or JSON); an evaluator's verdict
    /// `{"passed": bool, "score": number, ...}` (other fields become feedback:
    /// `failure_codes`, `dimension_scores`, `remediation_hints`, `summary`, `raw_output`).
    pub output: serde_json::Value,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExecError {
    /// The step did not finish within its timeout.
    Timeout(Duration),
    /// The step ran and failed (non-zero exit, unusable output, API refusal).
    Failed(String),
    /// The executor could not reach its backend (connection, HTTP 5xx, 429).
    Transport(String),
    /// Bindings or environment are wrong (missing key, unknown program); retrying will not help.
    Config(String),
    /// Its process was killed because the run was asked to stop (a signal,
    /// `loopc cancel`): the step did not finish and is not recorded.
    Stopped(String),
}

impl ExecError {
    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ExecError::Config(_) | ExecError::Stopped(_))
    }
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Timeout(d) => write!(f, "timed out after {:.1}s", d.as_secs_f64()),
            ExecError::Failed(m) => write!(f, "failed: {m}"),
            ExecError::Transport(m) => write!(f, "transport error: {m}"),
            ExecError::Config(m) => write!(f, "configuration error: {m}"),
            ExecError::Stopped(m) => write!(f, "stopped: {m}"),
        }
    }
}

/// Runs steps. Implementations must be usable from several threads.
pub trait Executor: Send + Sync {
    fn invoke(&self, invocation: &Invocation) -> Result<Outcome, ExecError>;

    /// Whether the executor replays `payload.transcript` to its model, so
    /// that a worker's tool results can go back to it within the step (the
    /// model APIs). Others end the step with their first answer.
    fn converses(&self) -> bool {
        false
    }
}

pub mod agent;
pub mod anthropic;
pub mod children;
pub mod command;
pub mod dry_run;
mod http;
pub mod openai;
pub mod retry;
pub mod script;
pub mod transcript;

pub use anthropic::{AnthropicExecutor, AnthropicSettings};
pub use command::CommandExecutor;
pub use openai::{OpenAiExecutor, OpenAiSettings};
pub use script::ScriptExecutor;

/// The executor a bindings entry describes (relative paths resolve against
/// the bindings' directory). Each kind's constructor explains itself in
/// text; here that text becomes an [`Error::Executor`](crate::Error::Executor).
pub fn build(config: &crate::bindings::ExecutorConfig, bindings: &crate::bindings::Bindings) -> Result<Box<dyn Executor>, crate::Error> {
    use crate::bindings::ExecutorConfig;
    let built: Result<Box<dyn Executor>, String> = match config {
        ExecutorConfig::Command(_) => CommandExecutor::from_config(config, bindings).map(|e| Box::new(e) as _),
        ExecutorConfig::Script(_) => ScriptExecutor::from_config(config, bindings).map(|e| Box::new(e) as _),
        ExecutorConfig::Openai(_) => OpenAiExecutor::from_config(config, bindings).map(|e| Box::new(e) as _),
        ExecutorConfig::Anthropic(_) => AnthropicExecutor::from_config(config, bindings).map(|e| Box::new(e) as _),
        ExecutorConfig::Agent(_) => agent::AgentExecutor::from_config(config, bindings).map(|e| Box::new(e) as _),
        ExecutorConfig::Children => Ok(Box::new(children::ChildrenVerdict) as _),
    };
    built.map_err(crate::Error::Executor)
}
