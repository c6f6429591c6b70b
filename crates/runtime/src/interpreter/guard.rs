//! The interpreter's view of safety (semantics §7): the safety engine's
//! findings turned into one decision per check point, and tool calls run
//! through the sandbox with blocked actions recorded as violations.

use std::path::Path;

use loopc_plan::Plan;
use serde_json::Value;

use crate::bindings::SandboxConfig;
use crate::executor::ToolCall;
pub(crate) use crate::safety::Scope;
use crate::safety::{Finding, SafetyAction, SafetyEngine, Subject};
use crate::tools::{Sandbox, ToolFailure};

/// A finding that did not stop anything: recorded as an event, and as a
/// violation unless its action is `warn`.
#[derive(Clone, Debug)]
pub(crate) struct Note {
    pub action: SafetyAction,
    pub text: String,
}

/// What the interpreter must do after a check point.
pub(crate) enum Decision {
    /// Go on; the notes are recorded (warnings, stripped content).
    Allow(Vec<Note>),
    /// Withhold the output (quarantine, or a strip that cannot cut); notes recorded.
    Block(Vec<Note>),
    /// End the run.
    Halt(String),
    /// Wait for a person at this gate.
    Pause(crate::gate::Gate, String),
}

/// A refused tool call or memory write, and the action that applies.
pub(crate) struct ToolBlock {
    pub message: String,
    pub action: SafetyAction,
}

pub struct Guard {
    engine: SafetyEngine,
    sandbox: Sandbox,
    redacted: Option<Value>,
}

fn describe(f: &Finding) -> String {
    format!("{} ({}, {}): {}", f.check_id, f.kind_name(), f.action, f.message)
}

fn notes(findings: &[Finding]) -> Vec<Note> {
    findings
        .iter()
        .map(|f| Note {
            action: f.action,
            text: describe(f),
        })
        .collect()
}

impl Guard {
    pub(crate) fn new(plan: &Plan, workspace: &Path, sandbox: &SandboxConfig, allow_unenforced: bool) -> Result<Guard, crate::Error> {
        let engine = SafetyEngine::new(&plan.safety, workspace, allow_unenforced).map_err(crate::Error::Run)?;
        let sandbox = Sandbox::new(workspace.to_path_buf(), sandbox)?.keeping_contents(engine.guards_changes());
        Ok(Guard {
            engine,
            sandbox,
            redacted: None,
        })
    }

    /// Refuse these paths to every tool.
    pub(crate) fn protect(&mut self, paths: impl IntoIterator<Item = std::path::PathBuf>) {
        self.sandbox = self.sandbox.clone().protect(paths);
    }

    pub(crate) fn record_processes(&mut self, log: std::sync::Arc<crate::process::ProcessLog>) {
        self.sandbox = self.sandbox.clone().with_process_log(log);
    }

    /// Let tools read these paths but not change them.
    pub(crate) fn read_only(&mut self, paths: impl IntoIterator<Item = std::path::PathBuf>) {
        self.sandbox = self.sandbox.clone().read_only(paths);
    }

    pub(crate) fn read_only_paths(&self) -> &[std::path::PathBuf] {
        self.sandbox.read_only_paths()
    }

    /// Shadow mode: outward commands of tool calls are recorded, not run.
    pub(crate) fn shadow(&mut self, shadow: crate::publish::ShadowConfig) {
        self.sandbox = self.sandbox.clone().in_shadow(shadow);
    }

    /// `run_command` calls end at the run's wall-clock deadline.
    pub(crate) fn set_deadline(&mut self, deadline: Option<std::time::Instant>) {
        self.sandbox.deadline = deadline;
    }

    pub(crate) fn isolate(&mut self, isolation: std::sync::Arc<crate::process::Isolation>) {
        self.sandbox = self.sandbox.clone().with_isolation(isolation);
    }

    pub(crate) fn safety_changes(&self) -> u64 {
        self.engine.changes()
    }

    pub(crate) fn safety_snapshot(&self) -> Value {
        self.engine.snapshot()
    }

    pub(crate) fn restore_safety(&self, memo: &Value) -> Result<(), String> {
        self.engine.restore(memo)
    }

    /// Refuse command executors whose program the sandbox does not allow.
    pub(crate) fn check_command(&self, argv: &[String]) -> Result<(), String> {
        self.sandbox
            .check_executor_command(argv)
            .map_err(|b| format!("{}: {}", b.rule.as_str(), b.message))
    }

    /// Run the checks of `scope` for `worker` on `subject` (an output, or
    /// null before a worker runs).
    pub(crate) fn check(&mut self, scope: Scope, worker: &str, subject: &Value, _unused: Option<()>) -> Result<Decision, String> {
        let subject = if matches!(scope, Scope::PreWorker) {
            Subject::Invocation
        } else {
            Subject::Output(subject)
        };
        let findings = self.engine.check(scope, worker, &subject);
        Ok(self.decide(scope, worker, findings))
    }

    fn decide(&mut self, scope: Scope, worker: &str, findings: Vec<Finding>) -> Decision {
        self.redacted = None;
        // Actions are ordered by severity (warn < strip < quarantine < escalate < halt).
        let Some(worst) = findings.iter().max_by_key(|f| f.action) else {
            return Decision::Allow(Vec::new());
        };
        let all: Vec<String> = findings.iter().map(describe).collect();
        match worst.action {
            SafetyAction::Halt => Decision::Halt(format!("safety_violation: {}", all.join("; "))),
            SafetyAction::EscalateHuman => Decision::Pause(
                crate::gate::Gate::Check {
                    check: worst.check_id.clone(),
                    worker: worker.to_owned(),
                    scope,
                },
                format!("safety check needs a person: {}", all.join("; ")),
            ),
            SafetyAction::Quarantine => Decision::Block(notes(&findings)),
            SafetyAction::Strip => match findings.iter().rev().find_map(|f| f.redacted.clone()) {
                Some(redacted) => {
                    self.redacted = Some(redacted);
                    Decision::Allow(notes(&findings))
                }
                // Nothing could be cut out (a schema or size failure): withhold it.
                None => Decision::Block(notes(&findings)),
            },
            SafetyAction::Warn => Decision::Allow(notes(&findings)),
        }
    }

    /// Output with offending parts removed by the last `strip` decision.
    pub(crate) fn take_redacted(&mut self) -> Option<Value> {
        self.redacted.take()
    }

    /// Whether a tool call may run: the safety checks on the call (which
    /// apply at any scope), then the worker's declared tools. Every tool,
    /// `remember` included, passes here. A `strip` drops the call; `warn`
    /// notes it.
    pub(crate) fn authorize(&mut self, worker: &str, call: &ToolCall, allowed_tools: &[String]) -> Result<Vec<Note>, ToolBlock> {
        let findings = self.engine.check(Scope::PreWorker, worker, &Subject::ToolCall(call));
        if let Some(worst) = findings.iter().filter(|f| f.action > SafetyAction::Warn).max_by_key(|f| f.action) {
            return Err(ToolBlock {
                message: describe(worst),
                action: worst.action,
            });
        }
        self.sandbox
            .check_declared(call, allowed_tools)
            .map_err(|b| self.block(worker, &b))?;
        Ok(notes(&findings))
    }

    fn block(&self, worker: &str, blocked: &crate::tools::Blocked) -> ToolBlock {
        let finding = self.engine.sandbox_finding(worker, blocked);
        ToolBlock {
            message: format!("{}: {}", blocked.rule.as_str(), describe(&finding)),
            action: finding.action,
        }
    }

    /// Run one built-in tool call through the sandbox, after [`Guard::authorize`].
    pub(crate) fn tool(&mut self, worker: &str, call: &ToolCall, allowed_tools: &[String]) -> Result<(Value, Vec<Note>), ToolBlock> {
        let mut notes = self.authorize(worker, call, allowed_tools)?;
        match self.sandbox.call_measured(call, allowed_tools) {
            Ok(measured) if measured.changes.is_empty() => Ok((measured.value, notes)),
            Ok(measured) => {
                let findings = self.engine.check(Scope::PostWorker, worker, &Subject::Changes(&measured.changes));
                let Some(worst) = findings.iter().filter(|f| f.action > SafetyAction::Warn).max_by_key(|f| f.action) else {
                    notes.extend(crate::interpreter::guard::notes(&findings));
                    return Ok((measured.value, notes));
                };
                // A refused change does not stay in the workspace.
                let failed = measured.undo(&self.sandbox);
                let mut action = worst.action;
                let how = if failed.is_empty() {
                    "the changes were undone".to_owned()
                } else {
                    // What cannot be undone cannot be dropped: stop the run.
                    action = action.max(SafetyAction::Halt);
                    format!("the changes could not all be undone ({})", failed.join(", "))
                };
                Err(ToolBlock {
                    message: format!("{}; {how}", describe(worst)),
                    action,
                })
            }
            Err(ToolFailure::Blocked(blocked)) => Err(self.block(worker, &blocked)),
            // A tool that ran and failed is the worker's problem, not a violation.
            Err(ToolFailure::Failed(message)) => Ok((serde_json::json!({"error": message}), notes)),
        }
    }

    /// `pre_memory_write` checks: the value to write (redacted by `strip`),
    /// or the refusal (`quarantine`, an uncuttable strip) or stop.
    pub(crate) fn memory_write(&mut self, worker: &str, value: &Value) -> Result<(Value, Vec<Note>), ToolBlock> {
        match self.check(Scope::PreMemoryWrite, worker, value, None).map_err(|e| ToolBlock {
            message: e,
            action: SafetyAction::Halt,
        })? {
            Decision::Allow(found) => Ok((self.take_redacted().unwrap_or_else(|| value.clone()), found)),
            Decision::Block(found) => Err(ToolBlock {
                message: found.iter().map(|n| n.text.clone()).collect::<Vec<_>>().join("; "),
                action: SafetyAction::Quarantine,
            }),
            Decision::Halt(why) => Err(ToolBlock {
                message: why,
                action: SafetyAction::Halt,
            }),
            Decision::Pause(_, why) => Err(ToolBlock {
                message: why,
                action: SafetyAction::EscalateHuman,
            }),
        }
    }
}
