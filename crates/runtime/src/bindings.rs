//! Bindings: what the providers, models, tools and deterministic evaluator
//! implementations named in a spec mean on this machine. Specs stay pure
//! LSS; a bindings file (or the `[run]` table of loopc.toml) maps each step
//! to an executor and sets the sandbox.
//!
//! ```toml
//! [sandbox]
//! root = "."                      # relative to this file; tool paths may not leave it
//! allow_programs = ["python3", "pytest"]
//! deny_commands = ["rm -rf", "git push --force"]
//! isolation = "auto"              # bubblewrap when it works here; "bwrap" requires it; "none"
//! network = false                # the default; true lets isolated processes reach the network
//! pass_env = ["PIP_INDEX_URL"]    # beyond PATH, HOME, LANG, …; the rest of the environment is dropped
//!
//! [workspace]                     # where each run works (see crate::workspace)
//! kind = "git-worktree"           # default when the root is in a git repository's base commit; "copy"; "in-place"
//! allowed_paths = ["src/**", "tests/**"]      # the diff-scope gate: every changed file must match one
//! forbidden_paths = [".github/**", "**/*.lock"]   # … and none of these
//!
//! [executors.replay]
//! kind = "script"
//! file = "responses.json"
//!
//! [executors.tests]
//! kind = "command"
//! argv = ["python3", "-m", "pytest", "-q"]
//! verdict = "exit_code"           # or "json": {"passed": .., "score": ..} on stdout
//!
//! [executors.gpt]
//! kind = "openai"
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY"  # the key itself never appears in a file or a log
//! input_usd_per_mtok = 2.0
//! output_usd_per_mtok = 8.0
//!
//! [bind]                          # most specific first
//! "workers.patcher" = "replay"    # a step
//! "impl:evaluators.run_tests" = "tests"   # a deterministic implementation
//! "model:openai/gpt-4.1" = "gpt"  # a provider/model
//! "provider:openai" = "gpt"
//! default = "replay"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::executor::StepRef;

/// Why bindings cannot be used: the file, its TOML, or what it says.
#[derive(Debug, thiserror::Error)]
pub enum BindingsError {
    /// The bindings file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// Not TOML, or not the bindings' keys (the `toml` crate's message as it is).
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A `[bind]` selector names an executor `[executors]` does not define.
    #[error("[bind] \"{selector}\" names executor `{executor}`, which [executors] does not define")]
    UndefinedExecutor { selector: String, executor: String },
    /// A command executor without a program.
    #[error("executor `{executor}`: argv is empty")]
    EmptyArgv { executor: String },
    /// A model API executor's settings are wrong.
    #[error("executor `{executor}`: {source}")]
    ModelApi { executor: String, source: ModelApiError },
    /// The `[workspace]` table says something wrong (a glob that does not parse).
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
}

/// What [`ModelApi::validate`] refuses (`kind`: `openai`, `anthropic`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelApiError {
    /// No variable named for the API key (the key itself is never in a file).
    #[error("{kind} executor: `api_key_env` is empty")]
    EmptyApiKeyEnv { kind: String },
    /// `max_tokens = 0`: no answer could be produced.
    #[error("{kind} executor: `max_tokens` must be positive")]
    ZeroMaxTokens { kind: String },
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bindings {
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// How agentic workers (model APIs with tools) run within a step.
    #[serde(default)]
    pub agent: AgentConfig,
    /// `[[publish]]`: hooks that run after the run succeeded (see [`crate::publish`]).
    #[serde(default)]
    pub publish: Vec<crate::publish::PublishHook>,
    /// `[shadow]`: what shadow mode records instead of doing.
    #[serde(default)]
    pub shadow: crate::publish::ShadowConfig,
    /// `[limits]`: the run's token hard cap and wall-clock limit.
    #[serde(default)]
    pub limits: crate::limits::LimitsConfig,
    /// Where each run works, and the diff-scope gate.
    #[serde(default)]
    pub workspace: crate::workspace::WorkspaceConfig,
    /// `[pool]`: which items of a work pool run, which go to a person (`loopc run --items`).
    #[serde(default)]
    pub pool: crate::pool::PoolConfig,
    #[serde(default)]
    pub executors: BTreeMap<String, ExecutorConfig>,
    /// Selector → executor name (see the module docs).
    #[serde(default)]
    pub bind: BTreeMap<String, String>,
    /// `[children.<id>]`: the bindings a composition's child runs with
    /// (default: these).
    #[serde(default)]
    pub children: BTreeMap<String, ChildBindings>,
    /// `[transforms.<name>]`: the programs a composition adapter's
    /// `transform` names (the value as JSON on stdin, the new value on stdout).
    #[serde(default)]
    pub transforms: BTreeMap<String, TransformConfig>,
    /// `[[schedule]]`: runs `loopc serve` starts when a cron expression is due.
    #[serde(default)]
    pub schedule: Vec<crate::triggers::ScheduleConfig>,
    /// `[[hook]]`: runs `loopc serve` starts for webhook events.
    #[serde(default)]
    pub hook: Vec<crate::triggers::HookConfig>,
    /// `[webhook]`: the secret webhook deliveries are signed with.
    #[serde(default)]
    pub webhook: crate::triggers::WebhookConfig,
    /// `[state_page]`: a LOOP_STATE page each run keeps current while it executes.
    #[serde(default)]
    pub state_page: crate::status::StatePageConfig,
    /// Directory the bindings were read from; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The file they were read from (a bindings file, or the `loopc.toml`
    /// whose `[run]` table they are).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// SHA-256 of the text they were parsed from (empty: no bindings).
    #[serde(skip)]
    pub sha256: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// The workspace: commands run here and tool paths may not leave it.
    #[serde(default = "dot")]
    pub root: PathBuf,
    /// Programs that command executors and `run_command` tool calls may start
    /// (by name or path); empty means no restriction on programs.
    #[serde(default)]
    pub allow_programs: Vec<String>,
    /// Commands that are always refused: a program with the words and
    /// flags it must carry, matched in any order and spelling, through
    /// shells and wrappers (see [`default_denied`]).
    #[serde(default = "default_denied")]
    pub deny_commands: Vec<String>,
    /// Whether a worker's command that cannot be analysed before it runs is
    /// refused (`strict`, the default) or run with best-effort checks.
    #[serde(default)]
    pub shell_scripts: ShellScripts,
    /// OS isolation of every process the run starts: `auto` (bubblewrap
    /// when it works here), `bwrap` (required) or `none`.
    #[serde(default)]
    pub isolation: crate::process::IsolationMode,
    /// Whether isolated processes keep the network (default: no network;
    /// a process with one also reaches the host's loopback services and
    /// abstract unix sockets).
    #[serde(default)]
    pub network: bool,
    /// Environment variables passed to processes beyond the basic ones
    /// (PATH, HOME, LANG, …); everything else is dropped.
    #[serde(default)]
    pub pass_env: Vec<String>,
}

/// `[agent]`: the tool-use loop of a worker whose executor is a model API.
/// Its tool calls run through the sandbox and their results go back to the
/// model, turn after turn, until it answers without tools or a limit ends
/// the step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Most tool calls one worker step may make (all turns together).
    #[serde(default = "default_max_tool_calls")]
    pub max_tool_calls: u32,
    /// Per worker id: `[agent.workers.fixer] max_tool_calls = 40`.
    #[serde(default)]
    pub workers: BTreeMap<String, AgentWorker>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentWorker {
    pub max_tool_calls: Option<u32>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            max_tool_calls: default_max_tool_calls(),
            workers: BTreeMap::new(),
        }
    }
}

impl AgentConfig {
    /// The tool-call limit of `worker`'s steps.
    pub fn max_tool_calls(&self, worker: &str) -> u32 {
        self.workers
            .get(worker)
            .and_then(|w| w.max_tool_calls)
            .unwrap_or(self.max_tool_calls)
    }
}

fn default_max_tool_calls() -> u32 {
    25
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

/// Destructive commands refused unless the bindings replace this list.
/// Each entry is a program with the words and flags it must carry, in any
/// order and spelling (`rm -r` is also `rm -Rf --verbose`, `find -delete`
/// and an interpreter's recursive-delete one-liner); an entry that is not a
/// command is matched as text.
pub fn default_denied() -> Vec<String> {
    [
        "rm -r",
        "find -delete",
        "git clean",
        "git push --force",
        "dd of=",
        "mkfs",
        "chmod -R /",
        "chown -R /",
        "shutdown",
        "reboot",
        "poweroff",
        "halt",
        ":(){",
        "> /dev/sd",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// How `run_command` treats what it cannot analyse before it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShellScripts {
    /// Refuse compound shell commands, unknown variables, command
    /// substitutions, `eval`/`source`, script files and git aliases.
    #[default]
    Strict,
    /// Check every program that can be seen and run the rest.
    BestEffort,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            root: dot(),
            allow_programs: Vec::new(),
            deny_commands: default_denied(),
            shell_scripts: ShellScripts::default(),
            isolation: crate::process::IsolationMode::default(),
            network: false,
            pass_env: Vec::new(),
        }
    }
}

/// How a command's result becomes an evaluator verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Exit 0 passes (score 1), anything else fails (score 0).
    #[default]
    ExitCode,
    /// stdout is a JSON object with `passed` and/or `score`.
    Json,
}

/// One executor of the bindings' `[executors]` table, by its `kind`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExecutorConfig {
    /// Run an argv in the workspace; the invocation as JSON on stdin.
    Command(CommandConfig),
    /// Scripted responses from a JSON file (tests, dry runs).
    Script(ScriptConfig),
    /// An OpenAI-compatible chat-completions API.
    Openai(ModelApi),
    /// The Anthropic Messages API.
    Anthropic(ModelApi),
    /// An agent CLI (Claude Code, Codex, aider style): the task as text,
    /// its own tools in the workspace.
    Agent(crate::executor::agent::AgentConfig),
    /// The composition's own verdict: passed when its children ended as
    /// the composition requires (the `evaluators.children_passed` of the
    /// loop library's compositions).
    Children,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    pub argv: Vec<String>,
    #[serde(default)]
    pub verdict: Verdict,
    /// The command acts outside the workspace (deploys, posts, pushes): in
    /// shadow mode it is recorded, not run.
    #[serde(default)]
    pub outward: bool,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `[children.<id>]`: how a composition's child runs.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildBindings {
    /// The child's own bindings file (relative to this one); default: these bindings.
    pub bindings: Option<PathBuf>,
}

/// `[transforms.<name>]`: a program that turns one child's value into the
/// next child's input (the value as JSON on stdin, the new value as JSON on stdout).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    pub argv: Vec<String>,
    /// Default 60.
    pub timeout_seconds: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    pub file: PathBuf,
}

/// A model behind an HTTP API (`openai`, `anthropic`): the same settings for each.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelApi {
    /// Default: the provider's public API.
    pub base_url: Option<String>,
    /// The environment variable that holds the key (the key itself never
    /// appears in a file or a log).
    pub api_key_env: String,
    /// Model name sent to the API (default: the spec's model name).
    pub model: Option<String>,
    #[serde(default)]
    pub input_usd_per_mtok: f64,
    #[serde(default)]
    pub output_usd_per_mtok: f64,
    pub timeout_seconds: Option<u64>,
    /// `max_tokens` when the step's model sets none (the Anthropic API
    /// requires one: 4096 unless set).
    pub max_tokens: Option<u64>,
    /// Retries of a call the API refused for now (HTTP 408, 429, 5xx, a
    /// lost connection), with exponential backoff and jitter and the
    /// server's `Retry-After`, within the step's timeout (default 3; 0: none).
    pub max_retries: Option<u32>,
}

impl ModelApi {
    /// The settings' own checks.
    pub fn validate(&self, kind: &str) -> Result<(), ModelApiError> {
        if self.api_key_env.trim().is_empty() {
            return Err(ModelApiError::EmptyApiKeyEnv { kind: kind.to_owned() });
        }
        if self.max_tokens == Some(0) {
            return Err(ModelApiError::ZeroMaxTokens { kind: kind.to_owned() });
        }
        Ok(())
    }
}

/// Programs whose first argument is the program they run.
fn is_interpreter(program: &str) -> bool {
    let name = program.rsplit('/').next().unwrap_or(program);
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    ["python", "node", "deno", "bun", "ruby", "perl", "php", "bash", "sh", "zsh"].contains(&base)
}

impl Bindings {
    /// Read a bindings TOML file (top-level keys as above).
    pub fn load(path: &Path) -> Result<Self, BindingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| BindingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut b = Self::parse(&text, path.parent().unwrap_or(Path::new(".")))?;
        b.source = Some(path.to_path_buf());
        Ok(b)
    }

    pub fn parse(text: &str, base_dir: &Path) -> Result<Self, BindingsError> {
        let mut b: Bindings = toml::from_str(text)?;
        b.base_dir = base_dir.to_path_buf();
        b.sha256 = crate::safety::secrets::sha256_hex(text.as_bytes());
        b.validate()?;
        Ok(b)
    }

    /// The file these bindings were read from: no tool may read or change
    /// it (it may hold environment values), and a worker must not choose
    /// its own executors.
    pub fn private_files(&self) -> Vec<PathBuf> {
        self.source.iter().cloned().collect()
    }

    /// What a run records to recognise these bindings later: their text
    /// and every file their executors run for `plan`
    /// ([`Bindings::executor_files`]). A worker that rewrote its checker,
    /// or its own program, changes it.
    pub fn digest(&self, plan: &loopc_plan::Plan) -> String {
        let mut all = self.sha256.clone();
        let mut files = self.executor_files(plan);
        files.sort();
        for file in files {
            let content = std::fs::read(&file).map_or_else(|_| "missing".to_owned(), |b| crate::safety::secrets::sha256_hex(&b));
            all.push_str(&format!("\n{}={content}", file.display()));
        }
        if all.is_empty() {
            return String::new();
        }
        crate::safety::secrets::sha256_hex(all.as_bytes())
    }

    /// The files the executors of `plan`'s steps run: script files, command
    /// programs given by path (and the script an interpreter such as
    /// `python3` runs), and — for the executors of evaluators — every
    /// command argument that names an existing file (relative to the
    /// workspace, where commands run). Tools may read them but not change
    /// them: a worker must not rewrite the checker that grades it. A
    /// worker's other arguments may be the files it is meant to edit.
    pub fn executor_files(&self, plan: &loopc_plan::Plan) -> Vec<PathBuf> {
        use loopc_plan::EvaluatorKind;
        let checkers: Vec<&str> = plan
            .evaluators
            .iter()
            .filter_map(|e| {
                let step = StepRef::Evaluator(e.id.clone());
                match &e.kind {
                    EvaluatorKind::Deterministic { implementation } => self.select(&step, Some(implementation), None),
                    EvaluatorKind::LlmRubric { model, .. } => self.select(&step, None, Some((&model.provider, &model.name))),
                    EvaluatorKind::Human { .. } => None,
                }
            })
            .collect();
        let root = self.root();
        let mut files = Vec::new();
        for (name, e) in &self.executors {
            match e {
                ExecutorConfig::Script(c) => files.push(self.path(&c.file)),
                // An agent CLI given by path is a file the run executes too.
                ExecutorConfig::Agent(c) => {
                    if let Some(program) = c.argv.first().filter(|p| p.contains('/')) {
                        files.push(self.path(Path::new(program)));
                    }
                }
                ExecutorConfig::Command(c) => {
                    let argv = &c.argv;
                    let Some(program) = argv.first() else { continue };
                    if program.contains('/') {
                        files.push(self.path(Path::new(program)));
                    }
                    let args = argv.iter().skip(1).filter(|a| !a.starts_with('-'));
                    let existing = |a: &String| Some(root.join(a)).filter(|p| p.is_file());
                    if checkers.contains(&name.as_str()) {
                        files.extend(args.filter_map(existing));
                    } else if is_interpreter(program) {
                        files.extend(args.take(1).filter_map(existing));
                    }
                }
                _ => {}
            }
        }
        files
    }

    fn validate(&self) -> Result<(), BindingsError> {
        crate::workspace::scope::DiffScope::new(&self.workspace)?;
        for (selector, name) in &self.bind {
            if !self.executors.contains_key(name) {
                return Err(BindingsError::UndefinedExecutor {
                    selector: selector.clone(),
                    executor: name.clone(),
                });
            }
        }
        for (name, e) in &self.executors {
            let model_api = |m: &ModelApi, kind| {
                m.validate(kind).map_err(|source| BindingsError::ModelApi {
                    executor: name.clone(),
                    source,
                })
            };
            match e {
                ExecutorConfig::Command(c) if c.argv.is_empty() => return Err(BindingsError::EmptyArgv { executor: name.clone() }),
                ExecutorConfig::Agent(c) if c.argv.is_empty() => return Err(BindingsError::EmptyArgv { executor: name.clone() }),
                ExecutorConfig::Openai(m) => model_api(m, "openai")?,
                ExecutorConfig::Anthropic(m) => model_api(m, "anthropic")?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The workspace root as an absolute-ish path.
    pub fn root(&self) -> PathBuf {
        self.base_dir.join(&self.sandbox.root)
    }

    /// These bindings for a run whose workspace is `workspace`: the sandbox
    /// root remapped into its worktree or copy (so the files the executors
    /// run, and their digests, are the workspace's).
    pub fn for_workspace(&self, workspace: Option<&crate::workspace::Workspace>) -> Bindings {
        let mut b = self.clone();
        if let Some(ws) = workspace.filter(|w| w.kind != crate::workspace::Kind::InPlace) {
            b.sandbox.root.clone_from(&ws.root);
        }
        b
    }

    /// Resolve a relative path of the bindings (a script file).
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The executor name for a step: the step itself, its deterministic
    /// implementation, its model, its provider, then `default`.
    pub fn select(&self, step: &StepRef, implementation: Option<&str>, model: Option<(&str, &str)>) -> Option<&str> {
        let mut keys = vec![step.path()];
        if let Some(i) = implementation {
            keys.push(format!("impl:{i}"));
        }
        if let Some((provider, name)) = model {
            keys.push(format!("model:{provider}/{name}"));
            keys.push(format!("provider:{provider}"));
        }
        keys.push("default".into());
        keys.iter().find_map(|k| self.bind.get(k)).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_order() {
        let b = Bindings::parse(
            r#"
[executors.a]
kind = "script"
file = "a.json"
[executors.b]
kind = "command"
argv = ["true"]
[bind]
"workers.w" = "a"
"impl:evaluators.run_tests" = "b"
"provider:openai" = "b"
default = "a"
"#,
            Path::new("/tmp"),
        )
        .unwrap();
        assert_eq!(b.select(&StepRef::Worker("w".into()), None, Some(("openai", "x"))), Some("a"));
        assert_eq!(b.select(&StepRef::Worker("v".into()), None, Some(("openai", "x"))), Some("b"));
        assert_eq!(
            b.select(&StepRef::Evaluator("t".into()), Some("evaluators.run_tests"), None),
            Some("b")
        );
        assert_eq!(b.select(&StepRef::Evaluator("t".into()), None, None), Some("a"));
        assert!(matches!(
            Bindings::parse("[bind]\ndefault = \"nope\"\n", Path::new(".")),
            Err(BindingsError::UndefinedExecutor { .. })
        ));
        assert!(matches!(
            Bindings::parse("[executors.x]\nkind = \"command\"\nargv = []\n", Path::new(".")),
            Err(BindingsError::EmptyArgv { .. })
        ));
    }

    #[test]
    fn model_apis_share_one_settings_struct_and_refuse_unknown_keys() {
        let b = Bindings::parse(
            "[executors.gpt]\nkind = \"openai\"\napi_key_env = \"K\"\n[executors.claude]\nkind = \"anthropic\"\napi_key_env = \"K\"\nmax_tokens = 100\n",
            Path::new("."),
        )
        .unwrap();
        assert!(matches!(&b.executors["gpt"], ExecutorConfig::Openai(m) if m.base_url.is_none()));
        assert!(matches!(&b.executors["claude"], ExecutorConfig::Anthropic(m) if m.max_tokens == Some(100)));
        let typo = Bindings::parse(
            "[executors.gpt]\nkind = \"openai\"\napi_key_env = \"K\"\napi_key = \"sk-x\"\n",
            Path::new("."),
        );
        assert!(matches!(&typo, Err(BindingsError::Toml(e)) if e.to_string().contains("unknown field `api_key`")));
        assert!(matches!(
            Bindings::parse("[executors.c]\nkind = \"anthropic\"\napi_key_env = \"\"\n", Path::new(".")),
            Err(BindingsError::ModelApi { executor, source: ModelApiError::EmptyApiKeyEnv { .. } }) if executor == "c"
        ));
    }
}
