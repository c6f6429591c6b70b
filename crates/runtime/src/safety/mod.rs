//! Safety checks at the declared scopes (docs/semantics.md §7).
//!
//! A [`SafetyEngine`] is built once per run from the plan's
//! [`SafetyCheck`]s, one [`constraint::Constraint`] per check (a file per
//! type: [`tool_allowlist`], [`secret_scan`], [`output_bounds`],
//! [`schema_enforce`], [`human_gate`], [`rate_limit`], [`pii_detect`], and [`unenforced`]
//! for the types it cannot enforce). The interpreter calls
//! [`SafetyEngine::check`] at each scope with what is about to happen and
//! applies each [`Finding`]'s `action`: `halt` ends the run,
//! `escalate_human` pauses it, `quarantine` withholds the output, `strip`
//! continues with [`Finding::redacted`] (when it is `None` the content
//! cannot be cut apart: withhold it as for `quarantine`; a stripped tool
//! call is dropped), `warn` records and goes on.
//!
//! **Which subject is checked where.**
//! - `Subject::Invocation` (before a worker runs; normally `pre_worker`):
//!   `rate_limit` counts the call, `human_gate` fires.
//! - `Subject::Output` (a worker's output at `post_worker`, `pre_output`,
//!   `pre_memory_write`, `pre_evaluator`): `secret_scan`, `pii_detect`,
//!   `output_bounds` (sizes, `max_lines_changed`), `schema_enforce`, `human_gate`.
//! - `Subject::ToolCall` (each tool call, before the sandbox runs it):
//!   `tool_allowlist` and `output_bounds.forbidden_paths`. These two guard the
//!   worker's actions whatever scope they are declared at (the library
//!   declares allowlists at `pre_worker` and path bounds at `post_worker`),
//!   so for a tool call the `scope` argument is ignored: check each call once.
//!
//! For the other pairs a check applies when its scope equals the given scope
//! and its `applies_to` names the worker (or `*`).
//!
//! Configurations are typed in the plan and checked by `loopc check`
//! (L424) and `loopc compile`; every constraint is built in
//! [`SafetyEngine::new`], so a check cannot fail at run time and `on_error`
//! has nothing to apply to here. Finding messages never contain a secret:
//! previews are masked and messages are passed through the scanner.

mod constraint;
pub mod glob;
mod human_gate;
mod output_bounds;
mod pii_detect;
mod rate_limit;
mod schema_enforce;
mod secret_scan;
mod tool_allowlist;
mod unenforced;

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub use loopc_plan::{SafetyAction, SafetyCheck, SafetyKind, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::executor::ToolCall;
use crate::tools::{BlockRule, Blocked};
pub use glob::glob_match;
pub use loopc_secrets as secrets;
pub(crate) use loopc_secrets::json_path_child;
pub use output_bounds::PATH_WRITING_TOOLS;
use secrets::SecretConfig;

/// The constraint a plan's rule describes. A type the interpreter does not
/// enforce is an error unless `allow_unenforced`. A newly enforced type is
/// its file, its `mod` line above and its arm here.
fn build(check: &SafetyCheck, allow_unenforced: bool) -> Result<Box<dyn constraint::Constraint>, String> {
    use loopc_plan::SafetyRule;
    Ok(match &check.rule {
        SafetyRule::ToolAllowlist(c) => Box::new(tool_allowlist::ToolAllowlist::new(c)),
        SafetyRule::SecretScan(c) => Box::new(secret_scan::SecretScan::new(c)?),
        SafetyRule::OutputBounds(c) => Box::new(output_bounds::OutputBounds::new(c)?),
        SafetyRule::SchemaEnforce(c) => Box::new(schema_enforce::SchemaEnforce::new(c)?),
        SafetyRule::HumanGate(c) => Box::new(human_gate::HumanGate::new(c)),
        SafetyRule::RateLimit(c) => Box::new(rate_limit::RateLimit::new(c)?),
        SafetyRule::PiiDetect(c) => Box::new(pii_detect::PiiDetect::new(c)),
        SafetyRule::InjectionDetect(_) | SafetyRule::EgressMonitor(_) | SafetyRule::TenantIsolation(_) => {
            if !allow_unenforced {
                return Err(format!(
                    "the interpreter cannot enforce type `{}` (it enforces {}); it needs an external enforcer. Remove the constraint, or allow unenforced safety types to run with it as a no-op",
                    check.kind(),
                    loopc_plan::SafetyKind::ALL
                        .iter()
                        .filter(|k| k.is_enforced())
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Box::new(unenforced::Unenforced)
        }
    })
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
    /// What a tool call changed in the workspace (measured on the files).
    Changes(&'a [crate::tools::changes::Change]),
}

/// A check that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check_id: String,
    /// The constraint's type; `None` for a block of the sandbox itself.
    pub kind: Option<SafetyKind>,
    /// The constraint's action; `escalate_human` for `human_gate`, `warn`
    /// for the one report of an unenforced type.
    pub action: SafetyAction,
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

impl Finding {
    /// `secret_scan`, …, or `sandbox`.
    pub fn kind_name(&self) -> &'static str {
        self.kind.map_or("sandbox", SafetyKind::as_str)
    }
}

/// The engine's time source for `rate_limit`: wall-clock milliseconds, so
/// that the window survives a restart of the process.
pub type Clock = Box<dyn Fn() -> i64 + Send + Sync>;

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallLog {
    pub recent: VecDeque<i64>,
    pub total: u64,
}

/// What the engine keeps between calls and a run keeps across restarts:
/// `rate_limit` call logs by `check id/worker`, and the unenforced types
/// already reported once.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Memo {
    pub calls: BTreeMap<String, CallLog>,
    pub reported: Vec<String>,
}

struct Compiled {
    check: SafetyCheck,
    rule: Box<dyn constraint::Constraint>,
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
    /// Build the constraints (`root`, the workspace, is what
    /// `forbidden_paths` are relative to). A type the interpreter does not
    /// enforce is an error unless `allow_unenforced`, in which case it does
    /// nothing but report itself once, with action `warn`, the first time
    /// it applies.
    pub fn new(checks: &[SafetyCheck], root: &Path, allow_unenforced: bool) -> Result<Self, String> {
        let root = std::fs::canonicalize(root).map_err(|e| format!("workspace root {}: {e}", root.display()))?;
        let checks = checks
            .iter()
            .map(|check| {
                let rule =
                    build(check, allow_unenforced).map_err(|msg| format!("safety constraint `{}` ({}): {msg}", check.id, check.kind()))?;
                Ok(Compiled {
                    check: check.clone(),
                    rule,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(SafetyEngine {
            root,
            checks,
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
    pub fn unenforced(&self) -> Vec<(&str, SafetyKind)> {
        self.checks
            .iter()
            .filter(|c| !c.check.kind().is_enforced())
            .map(|c| (c.check.id.as_str(), c.check.kind()))
            .collect()
    }

    /// Forget `rate_limit` history.
    pub fn reset_rate_limits(&self) {
        self.memo.lock().unwrap_or_else(|p| p.into_inner()).calls.clear();
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times the engine's memory (call logs, reports) has changed.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// The engine's memory, to be stored with the run (see [`SafetyEngine::restore`]).
    /// Whether some check looks at what tool calls change.
    pub fn guards_changes(&self) -> bool {
        self.checks.iter().any(|c| c.rule.guards_changes())
    }

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
    /// is the sandbox's own (`check_id` `sandbox.<rule>`, no kind) and halts.
    pub fn sandbox_finding(&self, worker: &str, blocked: &Blocked) -> Finding {
        let allowlist = (blocked.rule == BlockRule::ToolNotAllowed)
            .then(|| {
                self.checks
                    .iter()
                    .find(|c| c.check.kind() == SafetyKind::ToolAllowlist && c.check.applies_to.iter().any(|w| w == worker || w == "*"))
            })
            .flatten();
        let message = safe_message(&format!("worker `{worker}`: {}", blocked.message));
        match allowlist {
            Some(c) => Finding {
                check_id: c.check.id.clone(),
                kind: Some(c.check.kind()),
                action: c.check.action,
                message,
                redacted: None,
            },
            None => Finding {
                check_id: format!("sandbox.{}", blocked.rule.as_str()),
                kind: None,
                action: SafetyAction::Halt,
                message,
                redacted: None,
            },
        }
    }

    /// Run the checks that apply to `worker` at `scope` on `subject`, in
    /// declaration order (see the module docs). An empty result means go on.
    pub fn check(&self, scope: Scope, worker: &str, subject: &Subject<'_>) -> Vec<Finding> {
        let mut findings = Vec::new();
        // Output as seen by the next check: earlier strips applied.
        let mut current: Option<Cow<'_, Value>> = match subject {
            Subject::Output(v) => Some(Cow::Borrowed(*v)),
            _ => None,
        };
        let now = (self.clock)();
        for c in &self.checks {
            if !c.check.applies_to.iter().any(|w| w == worker || w == "*") {
                continue;
            }
            let applies = match subject {
                Subject::ToolCall(_) => c.rule.guards_tool_calls(),
                Subject::Changes(_) => c.rule.guards_changes(),
                _ => c.check.scope == scope,
            };
            if !applies {
                continue;
            }
            let cx = constraint::Context::new(&c.check, worker, &self.root, now, &self.memo, &self.changes);
            let found = match subject {
                Subject::Invocation => c.rule.invocation(&cx),
                Subject::ToolCall(call) => c.rule.tool_call(&cx, call),
                Subject::Changes(list) => c.rule.changes(&cx, list),
                Subject::Output(_) => c.rule.output(&cx, current.as_deref().expect("output subject")),
            };
            let Some(found) = found else { continue };
            let finding = Finding {
                check_id: c.check.id.clone(),
                kind: Some(c.check.kind()),
                action: found.action.unwrap_or(c.check.action),
                message: safe_message(&found.message),
                redacted: found.redacted,
            };
            if finding.action == SafetyAction::Strip {
                if let Some(r) = &finding.redacted {
                    current = Some(Cow::Owned(r.clone()));
                }
            }
            findings.push(finding);
        }
        findings
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

/// A JSON path step: `$.key` or `$["odd key"]`.
/// The scanner a run's state and trace pass through: known formats, plus
/// the entropy test as strict as the run's strictest `secret_scan`.
pub fn redactor_for(checks: &[SafetyCheck]) -> secrets::Redactor {
    let configs: Vec<SecretConfig> = checks
        .iter()
        .filter_map(|c| match &c.rule {
            loopc_plan::SafetyRule::SecretScan(s) => secret_scan::scanner(s).ok(),
            _ => None,
        })
        .collect();
    secrets::Redactor::for_configs(&configs)
}
