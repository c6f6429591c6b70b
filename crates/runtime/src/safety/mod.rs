//! Safety checks at the declared scopes (docs/semantics.md §7).
//!
//! A [`SafetyEngine`] is built once per run from the plan's
//! [`SafetyCheck`]s. The interpreter calls [`SafetyEngine::check`] at each
//! scope with what is about to happen and applies each [`Finding`]'s
//! `action`: `halt` ends the run, `escalate_human` pauses it, `quarantine`
//! withholds the output, `strip` continues with [`Finding::redacted`] (when it
//! is `None` the content cannot be cut apart: withhold it as for
//! `quarantine`; a stripped tool call is dropped), `warn` records and goes on.
//!
//! **Which subject is checked where.**
//! - `Subject::Invocation` (before a worker runs; normally `pre_worker`):
//!   `rate_limit` counts the call, `human_gate` fires.
//! - `Subject::Output` (a worker's output at `post_worker`, `pre_output`,
//!   `pre_memory_write`, `pre_evaluator`): `secret_scan`, `output_bounds`
//!   (sizes, `max_lines_changed`), `schema_enforce`, `human_gate`.
//! - `Subject::ToolCall` (each tool call, before the sandbox runs it):
//!   `tool_allowlist` and `output_bounds.forbidden_paths`. These two guard the
//!   worker's actions whatever scope they are declared at (the library
//!   declares allowlists at `pre_worker` and path bounds at `post_worker`),
//!   so for a tool call the `scope` argument is ignored: check each call once.
//!
//! For the other pairs a check applies when its scope equals the given scope
//! and its `applies_to` names the worker (or `*`).
//!
//! **`human_gate` always fires** at its scope, with action `escalate_human`:
//! the gate *is* the pause. The interpreter records the pause and the run
//! continues past the gate after `loopc approve`.
//!
//! **Constraint config** (unknown keys are ignored; a check with nothing to
//! enforce is refused by [`SafetyEngine::new`]):
//! - `tool_allowlist`: `allowed: [tool, …]` (on top of the worker's `tools`).
//! - `secret_scan`: `entropy_threshold` (bits/char, default 4.5),
//!   `hex_entropy_threshold` (hex-only tokens; default: the general
//!   threshold, which hex cannot exceed), `min_length` (default 20),
//!   `entropy: false` to match known formats only.
//! - `output_bounds`: `max_chars`, `max_bytes`, `max_lines`, `max_items`
//!   (any array), `max_lines_changed` (`+`/`-` lines of a unified diff),
//!   `forbidden_paths` (globs, see [`glob_match`]) for `write_file`,
//!   `append_file` and `delete_file`. A non-string output is measured as
//!   compact JSON; its lines are the lines of its strings.
//! - `schema_enforce`: `schema` (inline; `loopc compile` embeds the file a
//!   spec's `schema_ref` names, with `schema_source` naming it in messages);
//!   a string output that parses as JSON is validated as that JSON. External
//!   `$ref`s are not fetched.
//! - `human_gate`: optional `message`.
//! - `rate_limit`: `requests_per_minute` (sliding 60 s window per worker)
//!   and/or `max_calls` (per worker per run). The counts are the engine's
//!   memory ([`SafetyEngine::snapshot`]), which the interpreter stores with
//!   the run, so they hold across resume and approve.
//!
//! Every check is built (schemas loaded and compiled, config read) in
//! [`SafetyEngine::new`], so a check cannot fail at run time and
//! `on_error` has nothing to apply to here. Finding messages never contain a
//! secret: previews are masked and messages are passed through the scanner.

pub mod glob;
pub mod secrets;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use loopc_plan::{SafetyCheck, ENFORCED_SAFETY_TYPES};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::executor::ToolCall;
use crate::tools::{BlockRule, Blocked};
pub use glob::glob_match;
use secrets::{SecretConfig, REDACTED};

/// Tool calls whose `path` argument `forbidden_paths` guards.
pub const PATH_WRITING_TOOLS: &[&str] = &["write_file", "append_file", "delete_file"];

/// Actions a constraint may declare.
pub const ACTIONS: &[&str] = &["halt", "quarantine", "escalate_human", "warn", "strip"];

/// The LSS safety scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    PreWorker,
    PostWorker,
    PreOutput,
    PreMemoryWrite,
    PreEvaluator,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::PreWorker,
        Scope::PostWorker,
        Scope::PreOutput,
        Scope::PreMemoryWrite,
        Scope::PreEvaluator,
    ];

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::PreWorker => "pre_worker",
            Scope::PostWorker => "post_worker",
            Scope::PreOutput => "pre_output",
            Scope::PreMemoryWrite => "pre_memory_write",
            Scope::PreEvaluator => "pre_evaluator",
        }
    }
}

/// What is checked.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A worker's output (a string or JSON), or a value about to be written to memory.
    Output(&'a Value),
    /// A tool call the worker asks for.
    ToolCall(&'a ToolCall),
    /// The worker is about to be invoked.
    Invocation,
}

/// A check that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check_id: String,
    /// The constraint's type (`secret_scan`, …).
    pub kind: String,
    /// The constraint's action; `escalate_human` for `human_gate`, `warn`
    /// for the one report of an unenforced type.
    pub action: String,
    /// Safe to log: secrets are masked.
    pub message: String,
    /// For action `strip`: the output with the offending parts replaced by
    /// `[REDACTED]` (or cut, for size bounds). Findings of one `check` call
    /// accumulate: a later strip's value includes the earlier redactions, and
    /// later checks see the redacted output. `None` when the content cannot
    /// be cut apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted: Option<Value>,
}

/// The engine's time source for `rate_limit`: wall-clock milliseconds, so
/// that the window survives a restart of the process.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

const RATE_WINDOW_MS: i64 = 60_000;

#[derive(Debug, Default)]
struct Bounds {
    max_chars: Option<u64>,
    max_bytes: Option<u64>,
    max_lines: Option<u64>,
    max_items: Option<u64>,
    max_lines_changed: Option<u64>,
    forbidden_paths: Vec<String>,
}

impl Bounds {
    fn has_size_bounds(&self) -> bool {
        self.max_chars.is_some()
            || self.max_bytes.is_some()
            || self.max_lines.is_some()
            || self.max_items.is_some()
            || self.max_lines_changed.is_some()
    }
}

enum Rule {
    /// `None`: no list of its own; the worker's declared `tools` are the
    /// allowlist (LSS: "tools not listed are forbidden"), which the sandbox
    /// enforces with this constraint's action.
    ToolAllowlist(Option<Vec<String>>),
    SecretScan(SecretConfig),
    OutputBounds(Bounds),
    SchemaEnforce {
        validator: Box<jsonschema::Validator>,
        source: String,
    },
    HumanGate {
        message: Option<String>,
    },
    RateLimit {
        per_minute: Option<u64>,
        max_calls: Option<u64>,
    },
    /// A type the interpreter cannot enforce, allowed by the caller.
    Unenforced,
}

struct Compiled {
    check: SafetyCheck,
    scope: Scope,
    rule: Rule,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallLog {
    recent: VecDeque<i64>,
    total: u64,
}

/// What the engine keeps between calls and a run keeps across restarts:
/// `rate_limit` call logs by `check id/worker`, and the unenforced types
/// already reported once.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Memo {
    calls: std::collections::BTreeMap<String, CallLog>,
    reported: Vec<String>,
}

/// The safety constraints of a run.
pub struct SafetyEngine {
    root: PathBuf,
    checks: Vec<Compiled>,
    clock: Clock,
    memo: Mutex<Memo>,
    /// Bumped whenever `memo` changes, so a caller saves it only then.
    changes: AtomicU64,
}

impl std::fmt::Debug for SafetyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafetyEngine")
            .field("root", &self.root)
            .field("checks", &self.checks.iter().map(|c| &c.check.id).collect::<Vec<_>>())
            .finish()
    }
}

impl SafetyEngine {
    /// Build the checks: read every config and compile schemas (`root`,
    /// the workspace, is what `forbidden_paths` are relative to). A type the interpreter does not
    /// enforce (not in [`ENFORCED_SAFETY_TYPES`]) is an error unless
    /// `allow_unenforced`, in which case it does nothing but report itself
    /// once, with action `warn`, the first time it applies.
    pub fn new(checks: &[SafetyCheck], root: &Path, allow_unenforced: bool) -> Result<Self, String> {
        let root = std::fs::canonicalize(root).map_err(|e| format!("workspace root {}: {e}", root.display()))?;
        let mut compiled = Vec::with_capacity(checks.len());
        for check in checks {
            let ctx = |msg: String| format!("safety constraint `{}` ({}): {msg}", check.id, check.kind);
            let scope = Scope::parse(&check.scope).ok_or_else(|| {
                ctx(format!(
                    "unknown scope `{}` (expected one of {})",
                    check.scope,
                    Scope::ALL.map(|s| s.as_str()).join(", ")
                ))
            })?;
            if !ACTIONS.contains(&check.action.as_str()) {
                return Err(ctx(format!(
                    "unknown action `{}` (expected one of {})",
                    check.action,
                    ACTIONS.join(", ")
                )));
            }
            if !check.config.is_null() && !check.config.is_object() {
                return Err(ctx("`config` must be a mapping".into()));
            }
            let rule = build_rule(check, allow_unenforced).map_err(ctx)?;
            compiled.push(Compiled {
                check: check.clone(),
                scope,
                rule,
            });
        }
        Ok(SafetyEngine {
            root,
            checks: compiled,
            clock: Box::new(crate::clock::unix_ms),
            memo: Mutex::new(Memo::default()),
            changes: AtomicU64::new(0),
        })
    }

    /// Replace the time source (tests drive `rate_limit` without sleeping).
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// `(id, type)` of the constraints that are accepted but not enforced.
    pub fn unenforced(&self) -> Vec<(&str, &str)> {
        self.checks
            .iter()
            .filter(|c| matches!(c.rule, Rule::Unenforced))
            .map(|c| (c.check.id.as_str(), c.check.kind.as_str()))
            .collect()
    }

    /// Forget `rate_limit` history (e.g. when a resumed run starts a new engine state).
    pub fn reset_rate_limits(&self) {
        self.memo.lock().unwrap_or_else(|p| p.into_inner()).calls.clear();
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the engine's memory (call logs, reports) has changed.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// The engine's memory, to be stored with the run (see [`SafetyEngine::restore`]).
    pub fn snapshot(&self) -> Value {
        serde_json::to_value(&*self.memo.lock().unwrap_or_else(|p| p.into_inner())).expect("memo serializes")
    }

    /// Continue from a [`SafetyEngine::snapshot`]: a resumed run keeps its
    /// `rate_limit` counts and reports an unenforced type only once.
    pub fn restore(&self, snapshot: &Value) -> Result<(), String> {
        let memo: Memo = serde_json::from_value(snapshot.clone()).map_err(|e| format!("stored safety state does not decode: {e}"))?;
        *self.memo.lock().unwrap_or_else(|p| p.into_inner()) = memo;
        Ok(())
    }

    /// The finding for an action the sandbox refused ([`crate::tools::Sandbox::call`]).
    /// A [`BlockRule::ToolNotAllowed`] block takes the id and action of the
    /// first `tool_allowlist` constraint that applies to the worker (at any
    /// scope); every other block, and a worker without such a constraint,
    /// is the sandbox's own (`check_id` `sandbox.<rule>`, kind `sandbox`) and halts.
    pub fn sandbox_finding(&self, worker: &str, blocked: &Blocked) -> Finding {
        let allowlist = (blocked.rule == BlockRule::ToolNotAllowed)
            .then(|| {
                self.checks
                    .iter()
                    .find(|c| matches!(c.rule, Rule::ToolAllowlist(_)) && c.check.applies_to.iter().any(|w| w == worker || w == "*"))
            })
            .flatten();
        let message = safe_message(&format!("worker `{worker}`: {}", blocked.message));
        match allowlist {
            Some(c) => Finding {
                check_id: c.check.id.clone(),
                kind: c.check.kind.clone(),
                action: c.check.action.clone(),
                message,
                redacted: None,
            },
            None => Finding {
                check_id: format!("sandbox.{}", blocked.rule.as_str()),
                kind: "sandbox".into(),
                action: "halt".into(),
                message,
                redacted: None,
            },
        }
    }

    /// Run the checks that apply to `worker` at `scope` on `subject`, in
    /// declaration order (see the module docs). An empty result means go on.
    pub fn check(&self, scope: Scope, worker: &str, subject: &Subject) -> Vec<Finding> {
        let mut findings = Vec::new();
        // Output as seen by the next check: earlier strips applied.
        let mut current: Option<Cow<'_, Value>> = match subject {
            Subject::Output(v) => Some(Cow::Borrowed(*v)),
            _ => None,
        };
        for c in &self.checks {
            if !c.check.applies_to.iter().any(|w| w == worker || w == "*") {
                continue;
            }
            let tool_rule =
                matches!(c.rule, Rule::ToolAllowlist(_)) || matches!(&c.rule, Rule::OutputBounds(b) if !b.forbidden_paths.is_empty());
            let applies = match subject {
                Subject::ToolCall(_) => tool_rule,
                _ => c.scope == scope,
            };
            if !applies {
                continue;
            }
            let found = match (subject, &c.rule) {
                (Subject::ToolCall(call), _) => self.check_tool_call(c, call),
                (Subject::Invocation, Rule::RateLimit { per_minute, max_calls }) => self.rate_limit(c, worker, *per_minute, *max_calls),
                (Subject::Invocation | Subject::Output(_), Rule::HumanGate { message }) => Some(human_gate(c, worker, message.as_deref())),
                (Subject::Output(_), rule) => {
                    let value = current.as_deref().expect("output subject");
                    check_output(c, rule, value)
                }
                (_, Rule::Unenforced) => None,
                (Subject::Invocation, _) => None,
            };
            let found = found.or_else(|| match &c.rule {
                Rule::Unenforced if self.first_report(&c.check.id) => Some(Finding {
                    check_id: c.check.id.clone(),
                    kind: c.check.kind.clone(),
                    action: "warn".into(),
                    message: format!(
                        "safety constraint `{}` of type `{}` is not enforced by the interpreter (it needs an external enforcer)",
                        c.check.id, c.check.kind
                    ),
                    redacted: None,
                }),
                _ => None,
            });
            if let Some(mut f) = found {
                f.message = safe_message(&f.message);
                if f.action == "strip" {
                    if let Some(r) = &f.redacted {
                        current = Some(Cow::Owned(r.clone()));
                    }
                }
                findings.push(f);
            }
        }
        findings
    }

    fn check_tool_call(&self, c: &Compiled, call: &ToolCall) -> Option<Finding> {
        match &c.rule {
            Rule::ToolAllowlist(allowed) => {
                let allowed = allowed.as_ref()?;
                if allowed.iter().any(|t| t == &call.tool) {
                    return None;
                }
                Some(finding(
                    c,
                    format!("tool `{}` is not in the allowlist ({})", call.tool, allowed.join(", ")),
                    None,
                ))
            }
            Rule::OutputBounds(bounds) => {
                if !PATH_WRITING_TOOLS.contains(&call.tool.as_str()) {
                    return None;
                }
                let path = call.args.get("path")?.as_str()?;
                let candidates = self.relative_paths(path);
                let pattern = bounds
                    .forbidden_paths
                    .iter()
                    .find(|p| candidates.iter().any(|rel| glob_match(p, rel)))?;
                Some(finding(
                    c,
                    format!("`{}` on `{path}` touches forbidden path `{pattern}`", call.tool),
                    None,
                ))
            }
            _ => None,
        }
    }

    /// The root-relative spellings of a tool path: lexical, and through symlinks.
    fn relative_paths(&self, path: &str) -> Vec<String> {
        let mut out = Vec::new();
        let p = Path::new(path);
        let lexical = if p.is_absolute() {
            p.strip_prefix(&self.root).ok().map(Path::to_path_buf)
        } else {
            Some(p.to_path_buf())
        };
        if let Some(rel) = lexical {
            let mut segs: Vec<String> = Vec::new();
            for c in rel.components() {
                match c {
                    std::path::Component::Normal(n) => segs.push(n.to_string_lossy().into_owned()),
                    std::path::Component::ParentDir => {
                        segs.pop();
                    }
                    _ => {}
                }
            }
            out.push(segs.join("/"));
        }
        if let Ok(resolved) = crate::tools::resolve_in(&self.root, path) {
            if let Ok(rel) = resolved.strip_prefix(&self.root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if !out.contains(&rel) {
                    out.push(rel);
                }
            }
        }
        out
    }

    /// Whether the unenforced check `id` has not been reported yet (and is now).
    fn first_report(&self, id: &str) -> bool {
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if memo.reported.iter().any(|r| r == id) {
            return false;
        }
        memo.reported.push(id.to_owned());
        self.changes.fetch_add(1, Ordering::SeqCst);
        true
    }

    fn rate_limit(&self, c: &Compiled, worker: &str, per_minute: Option<u64>, max_calls: Option<u64>) -> Option<Finding> {
        let now = (self.clock)();
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        let log = memo.calls.entry(format!("{}/{worker}", c.check.id)).or_default();
        while log.recent.front().is_some_and(|t| now - *t >= RATE_WINDOW_MS) {
            log.recent.pop_front();
        }
        let mut problem = None;
        if let Some(max) = max_calls {
            if log.total >= max {
                problem = Some(format!("worker `{worker}` has used all {max} calls allowed (max_calls)"));
            }
        }
        if let Some(rpm) = per_minute {
            if problem.is_none() && log.recent.len() as u64 >= rpm {
                let wait_ms = log.recent.front().map_or(0, |t| (RATE_WINDOW_MS - (now - *t)).max(0));
                problem = Some(format!(
                    "worker `{worker}` made {} calls in the last 60 s (requests_per_minute: {rpm}); the next is allowed in {:.1} s",
                    log.recent.len(),
                    wait_ms as f64 / 1000.0
                ));
            }
        }
        // A call that goes ahead counts: admitted, or only warned about.
        if problem.is_none() || c.check.action == "warn" {
            log.total += 1;
            if per_minute.is_some() {
                log.recent.push_back(now);
            }
            self.changes.fetch_add(1, Ordering::SeqCst);
        }
        problem.map(|m| finding(c, m, None))
    }
}

fn finding(c: &Compiled, message: String, redacted: Option<Value>) -> Finding {
    Finding {
        check_id: c.check.id.clone(),
        kind: c.check.kind.clone(),
        action: c.check.action.clone(),
        message,
        redacted,
    }
}

fn human_gate(c: &Compiled, worker: &str, message: Option<&str>) -> Finding {
    let text = match message {
        Some(m) => format!("human approval required for worker `{worker}` at {}: {m}", c.scope.as_str()),
        None => format!(
            "human approval required for worker `{worker}` at {} (human_gate `{}`)",
            c.scope.as_str(),
            c.check.id
        ),
    };
    Finding {
        check_id: c.check.id.clone(),
        kind: c.check.kind.clone(),
        action: "escalate_human".into(),
        message: text,
        redacted: None,
    }
}

/// Remove anything that looks like a secret from a message and keep it short.
fn safe_message(message: &str) -> String {
    let cfg = SecretConfig::default();
    let matches = secrets::scan_text(message, &cfg);
    let mut m = if matches.is_empty() {
        message.to_owned()
    } else {
        secrets::redact_text(message, &matches)
    };
    if m.chars().count() > 2000 {
        m = m.chars().take(2000).collect::<String>() + "…";
    }
    m
}

fn check_output(c: &Compiled, rule: &Rule, value: &Value) -> Option<Finding> {
    match rule {
        Rule::SecretScan(cfg) => {
            let (found, redacted) = secrets::scan_value(value, cfg);
            if found.is_empty() {
                return None;
            }
            let mut parts: Vec<String> = found
                .iter()
                .take(5)
                .map(|l| match l.entropy {
                    Some(e) => format!("{} ({e:.2} bits/char) `{}` at {}", l.format, l.preview, l.path),
                    None => format!("{} `{}` at {}", l.format, l.preview, l.path),
                })
                .collect();
            if found.len() > 5 {
                parts.push(format!("and {} more", found.len() - 5));
            }
            let redacted = (c.check.action == "strip").then_some(redacted);
            Some(finding(
                c,
                format!("{} possible secret(s) in the output: {}", found.len(), parts.join("; ")),
                redacted,
            ))
        }
        Rule::OutputBounds(bounds) if bounds.has_size_bounds() => {
            let problems = bound_violations(bounds, value);
            if problems.is_empty() {
                return None;
            }
            let redacted = if c.check.action == "strip" {
                cut_to_bounds(bounds, value)
            } else {
                None
            };
            Some(finding(c, format!("output exceeds its bounds: {}", problems.join("; ")), redacted))
        }
        Rule::SchemaEnforce { validator, source } => {
            let parsed;
            let instance = match value {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => {
                        parsed = v;
                        &parsed
                    }
                    Err(_) => value,
                },
                other => other,
            };
            let errors: Vec<String> = validator
                .iter_errors(instance)
                .take(6)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let text: String = e.to_string().chars().take(200).collect();
                    format!("at `{}`: {text}", if at.is_empty() { "/" } else { at.as_str() })
                })
                .collect();
            if errors.is_empty() {
                return None;
            }
            let mut shown = errors.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
            if errors.len() > 5 {
                shown.push_str("; …");
            }
            Some(finding(c, format!("output does not match schema {source}: {shown}"), None))
        }
        _ => None,
    }
}

/// A JSON path step: `$.key` or `$["odd key"]`.
pub(crate) fn json_path_child(path: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_owned()))
    }
}

struct Measure {
    chars: u64,
    bytes: u64,
    lines: u64,
}

fn measure(value: &Value) -> Measure {
    match value {
        Value::String(s) => Measure {
            chars: s.chars().count() as u64,
            bytes: s.len() as u64,
            lines: s.lines().count() as u64,
        },
        other => {
            let text = other.to_string();
            let mut lines = 0;
            visit_strings(other, &mut |s| lines += s.lines().count() as u64);
            Measure {
                chars: text.chars().count() as u64,
                bytes: text.len() as u64,
                lines,
            }
        }
    }
}

fn visit_strings(value: &Value, f: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|v| visit_strings(v, f)),
        Value::Object(map) => map.values().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// Path and length of the first array longer than `max`.
fn long_array(value: &Value, path: &str, max: u64) -> Option<(String, usize)> {
    match value {
        Value::Array(items) => {
            if items.len() as u64 > max {
                return Some((path.to_owned(), items.len()));
            }
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| long_array(v, &format!("{path}[{i}]"), max))
        }
        Value::Object(map) => map.iter().find_map(|(k, v)| long_array(v, &json_path_child(path, k), max)),
        _ => None,
    }
}

/// `+`/`-` lines of unified diffs in the output's strings (not `+++`/`---` headers).
fn lines_changed(value: &Value) -> u64 {
    let mut n = 0;
    visit_strings(value, &mut |s| {
        n += s
            .lines()
            .filter(|l| (l.starts_with('+') && !l.starts_with("+++")) || (l.starts_with('-') && !l.starts_with("---")))
            .count() as u64;
    });
    n
}

fn bound_violations(b: &Bounds, value: &Value) -> Vec<String> {
    let m = measure(value);
    let mut out = Vec::new();
    let mut over = |name: &str, actual: u64, max: Option<u64>, unit: &str| {
        if let Some(max) = max {
            if actual > max {
                out.push(format!("{actual} {unit}, more than {name} {max}"));
            }
        }
    };
    over("max_chars", m.chars, b.max_chars, "characters");
    over("max_bytes", m.bytes, b.max_bytes, "bytes");
    over("max_lines", m.lines, b.max_lines, "lines");
    if b.max_lines_changed.is_some() {
        over("max_lines_changed", lines_changed(value), b.max_lines_changed, "changed lines");
    }
    if let Some(max) = b.max_items {
        if let Some((path, len)) = long_array(value, "$", max) {
            out.push(format!("array at {path} has {len} items, more than max_items {max}"));
        }
    }
    out
}

fn within(b: &Bounds, value: &Value) -> bool {
    bound_violations(b, value).is_empty()
}

/// The output cut down to its bounds, where that is meaningful: a string is
/// truncated (ending in `[REDACTED]` when that fits), arrays lose their
/// excess items. `None` when the result would still break a bound.
fn cut_to_bounds(b: &Bounds, value: &Value) -> Option<Value> {
    if b.max_lines_changed.is_some_and(|max| lines_changed(value) > max) {
        return None;
    }
    match value {
        Value::String(s) => {
            let chars: Vec<(usize, char)> = s.char_indices().collect();
            for marker in [REDACTED, ""] {
                let fits = |k: usize| {
                    let end = chars.get(k).map(|(i, _)| *i).unwrap_or(s.len());
                    within(b, &Value::String(format!("{}{marker}", &s[..end])))
                };
                if !fits(0) {
                    continue;
                }
                let (mut lo, mut hi) = (0usize, chars.len());
                while lo < hi {
                    let mid = (lo + hi).div_ceil(2);
                    if fits(mid) {
                        lo = mid;
                    } else {
                        hi = mid - 1;
                    }
                }
                let end = chars.get(lo).map(|(i, _)| *i).unwrap_or(s.len());
                return Some(Value::String(format!("{}{marker}", &s[..end])));
            }
            None
        }
        other => {
            let max = b.max_items?;
            let cut = truncate_arrays(other, max as usize);
            within(b, &cut).then_some(cut)
        }
    }
}

fn truncate_arrays(value: &Value, max: usize) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().take(max).map(|v| truncate_arrays(v, max)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), truncate_arrays(v, max))).collect()),
        other => other.clone(),
    }
}

// ---- building ----

fn build_rule(check: &SafetyCheck, allow_unenforced: bool) -> Result<Rule, String> {
    let cfg = &check.config;
    if !ENFORCED_SAFETY_TYPES.contains(&check.kind.as_str()) {
        if allow_unenforced {
            return Ok(Rule::Unenforced);
        }
        return Err(format!(
            "the interpreter cannot enforce type `{}` (it enforces {}); it needs an external enforcer. Remove the constraint, or allow unenforced safety types to run with it as a no-op",
            check.kind,
            ENFORCED_SAFETY_TYPES.join(", ")
        ));
    }
    match check.kind.as_str() {
        "tool_allowlist" => Ok(Rule::ToolAllowlist(str_list(cfg, "allowed")?)),
        "secret_scan" => Ok(Rule::SecretScan(secret_config(cfg)?)),
        "output_bounds" => {
            let b = Bounds {
                max_chars: uint(cfg, "max_chars")?,
                max_bytes: uint(cfg, "max_bytes")?,
                max_lines: uint(cfg, "max_lines")?,
                max_items: uint(cfg, "max_items")?,
                max_lines_changed: uint(cfg, "max_lines_changed")?,
                forbidden_paths: str_list(cfg, "forbidden_paths")?.unwrap_or_default(),
            };
            if !b.has_size_bounds() && b.forbidden_paths.is_empty() {
                return Err(
                    "sets no bound: give one of max_chars, max_bytes, max_lines, max_items, max_lines_changed, forbidden_paths".into(),
                );
            }
            Ok(Rule::OutputBounds(b))
        }
        "schema_enforce" => {
            // `loopc compile` reads `schema_ref` files (inside the spec's
            // repository, size-limited) and embeds them: a run reads none.
            if cfg.get("schema_ref").is_some() {
                return Err(
                    "`config.schema_ref` is resolved by `loopc compile`, and this plan still has one: compile the spec again".into(),
                );
            }
            let schema = match cfg.get("schema") {
                Some(s) if s.is_object() || s.is_boolean() => s.clone(),
                Some(_) => return Err("`config.schema` must be a JSON Schema object".into()),
                None => return Err("`config.schema_ref` (a JSON Schema file) or `config.schema` (inline) is required".into()),
            };
            let source = match cfg.get("schema_source") {
                Some(Value::String(s)) => format!("`{s}`"),
                _ => "(inline)".to_owned(),
            };
            let validator = jsonschema::validator_for(&schema).map_err(|e| format!("invalid schema {source}: {e}"))?;
            Ok(Rule::SchemaEnforce {
                validator: Box::new(validator),
                source,
            })
        }
        "human_gate" => {
            let message = match cfg.get("message") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err("`config.message` must be a string".into()),
            };
            Ok(Rule::HumanGate { message })
        }
        "rate_limit" => {
            let per_minute = uint(cfg, "requests_per_minute")?;
            let max_calls = uint(cfg, "max_calls")?;
            if per_minute.is_none() && max_calls.is_none() {
                return Err("`config.requests_per_minute` and/or `config.max_calls` is required".into());
            }
            Ok(Rule::RateLimit { per_minute, max_calls })
        }
        other => Err(format!("type `{other}` has no implementation")),
    }
}

/// A `secret_scan` constraint's scanner settings.
fn secret_config(cfg: &Value) -> Result<SecretConfig, String> {
    let mut sc = SecretConfig::default();
    if let Some(t) = positive_f64(cfg, "entropy_threshold")? {
        sc.entropy_threshold = t;
    }
    sc.hex_entropy_threshold = positive_f64(cfg, "hex_entropy_threshold")?;
    if let Some(n) = uint(cfg, "min_length")? {
        if n < 8 {
            return Err("`config.min_length` must be at least 8".into());
        }
        sc.min_token_length = n as usize;
    }
    match cfg.get("entropy") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => sc.entropy = *b,
        Some(_) => return Err("`config.entropy` must be true or false".into()),
    }
    Ok(sc)
}

/// The scanner a run's state and trace pass through: known formats, plus
/// the entropy test as strict as the run's strictest `secret_scan`.
pub fn redactor_for(checks: &[SafetyCheck]) -> secrets::Redactor {
    let configs: Vec<SecretConfig> = checks
        .iter()
        .filter(|c| c.kind == "secret_scan")
        .filter_map(|c| secret_config(&c.config).ok())
        .collect();
    secrets::Redactor::for_configs(&configs)
}

fn uint(cfg: &Value, key: &str) -> Result<Option<u64>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(n)),
            None => match v.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
                _ => Err(format!("`config.{key}` must be a non-negative integer")),
            },
        },
    }
}

fn positive_f64(cfg: &Value, key: &str) -> Result<Option<f64>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(f) if f > 0.0 && f.is_finite() => Ok(Some(f)),
            _ => Err(format!("`config.{key}` must be a positive number")),
        },
    }
}

fn str_list(cfg: &Value, key: &str) -> Result<Option<Vec<String>>, String> {
    match cfg.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`config.{key}` must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(format!("`config.{key}` must be a list of strings")),
    }
}
