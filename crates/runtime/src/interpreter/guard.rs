//! The interpreter's view of safety (semantics §7): the safety engine's
//! findings turned into one decision per check point, and tool calls run
//! through the sandbox with blocked actions recorded as violations.

use std::path::Path;

use loopc_plan::Plan;
use serde_json::Value;

use crate::bindings::SandboxConfig;
use crate::executor::ToolCall;
pub(crate) use crate::safety::Scope;
use crate::safety::{Finding, SafetyEngine, Subject};
use crate::tools::{Sandbox, ToolFailure};

/// What the interpreter must do after a check point.
pub(crate) enum Decision {
    /// Go on; the notes are recorded (warnings, stripped content).
    Allow(Vec<String>),
    /// Withhold the output (quarantine); notes recorded.
    Block(Vec<String>),
    /// End the run.
    Halt(String),
    /// Wait for a person at this gate.
    Pause(String, String),
}

/// A refused tool call and the action that applies.
pub(crate) struct ToolBlock {
    pub message: String,
    pub action: String,
}

pub struct Guard {
    engine: SafetyEngine,
    sandbox: Sandbox,
    redacted: Option<Value>,
}

fn severity(action: &str) -> u8 {
    match action {
        "halt" => 4,
        "escalate_human" => 3,
        "quarantine" => 2,
        "strip" => 1,
        _ => 0,
    }
}

impl Guard {
    /// Refuse command executors whose program the sandbox does not allow.
    pub(crate) fn check_command(&self, argv: &[String]) -> Result<(), String> {
        self.sandbox
            .check_command(argv)
            .map_err(|b| format!("{}: {}", b.rule.as_str(), b.message))
    }

    pub(crate) fn new(plan: &Plan, workspace: &Path, sandbox: &SandboxConfig, allow_unenforced: bool) -> Result<Guard, String> {
        let engine = SafetyEngine::new(&plan.safety, workspace, allow_unenforced)?;
        let sandbox = Sandbox::new(workspace.to_path_buf(), sandbox)?;
        Ok(Guard {
            engine,
            sandbox,
            redacted: None,
        })
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
        let Some(worst) = findings.iter().max_by_key(|f| severity(&f.action)) else {
            return Decision::Allow(Vec::new());
        };
        let notes: Vec<String> = findings
            .iter()
            .map(|f| format!("{} ({}, {}): {}", f.check_id, f.kind, f.action, f.message))
            .collect();
        match worst.action.as_str() {
            "halt" => Decision::Halt(format!("safety_violation: {}", notes.join("; "))),
            "escalate_human" => Decision::Pause(
                format!("safety.{}.{worker}.{:?}", worst.check_id, scope).to_lowercase(),
                format!("safety check needs a person: {}", notes.join("; ")),
            ),
            "quarantine" => Decision::Block(notes),
            "strip" => {
                self.redacted = findings.iter().rev().find_map(|f| f.redacted.clone());
                Decision::Allow(notes)
            }
            _ => Decision::Allow(notes),
        }
    }

    /// Output with offending parts removed by the last `strip` decision.
    pub(crate) fn take_redacted(&mut self) -> Option<Value> {
        self.redacted.take()
    }

    /// Run one tool call: safety checks on the call, then the sandbox.
    pub(crate) fn tool(&mut self, worker: &str, call: &ToolCall, allowed_tools: &[String]) -> Result<Value, ToolBlock> {
        for scope in [Scope::PreWorker, Scope::PostWorker] {
            let findings = self.engine.check(scope, worker, &Subject::ToolCall(call));
            if let Some(worst) = findings
                .iter()
                .filter(|f| severity(&f.action) >= 2)
                .max_by_key(|f| severity(&f.action))
            {
                return Err(ToolBlock {
                    message: format!("{} ({}): {}", worst.check_id, worst.kind, worst.message),
                    action: worst.action.clone(),
                });
            }
        }
        match self.sandbox.call(call, allowed_tools) {
            Ok(value) => Ok(value),
            Err(ToolFailure::Blocked(blocked)) => {
                let finding = self.engine.sandbox_finding(worker, &blocked);
                Err(ToolBlock {
                    message: format!(
                        "{} ({}): {}: {}",
                        finding.check_id,
                        finding.kind,
                        blocked.rule.as_str(),
                        finding.message
                    ),
                    action: finding.action,
                })
            }
            // A tool that ran and failed is the worker's problem, not a violation.
            Err(ToolFailure::Failed(message)) => Ok(serde_json::json!({"error": message})),
        }
    }

    /// `pre_memory_write` checks; `Some(reason)` refuses the write.
    pub(crate) fn memory_write(&mut self, worker: &str, value: &Value) -> Option<String> {
        let findings = self.engine.check(Scope::PreMemoryWrite, worker, &Subject::Output(value));
        findings
            .iter()
            .find(|f| severity(&f.action) >= 2)
            .map(|f| format!("{} ({}): {}", f.check_id, f.kind, f.message))
    }
}
