//! `--dry-run`'s executor, used for every binding that is not a script.

use serde_json::json;

use super::{ExecError, Executor, Invocation, Outcome, StepRef};

/// The executor of `--dry-run`: no side effects; workers echo, evaluators pass.
pub struct DryRun;

impl Executor for DryRun {
    fn invoke(&self, inv: &Invocation) -> Result<Outcome, ExecError> {
        let output = match &inv.step {
            StepRef::Worker(id) => json!(format!("(dry run: output of {id} in iteration {})", inv.iteration)),
            StepRef::Evaluator(_) => json!({"passed": true, "score": 1.0, "summary": "dry run"}),
        };
        Ok(Outcome {
            output,
            ..Outcome::default()
        })
    }
}

/// A command executor marked `outward = true`, in shadow mode: what it
/// would have run is the step's output, and nothing runs. As an evaluator it
/// passes (a shadow run cannot know what the outward check would say), and
/// says so.
pub struct Shadowed {
    pub argv: Vec<String>,
}

impl Executor for Shadowed {
    fn invoke(&self, inv: &Invocation) -> Result<Outcome, ExecError> {
        let mut output = crate::publish::shadowed(&self.argv);
        if matches!(inv.step, StepRef::Evaluator(_)) {
            output["passed"] = json!(true);
            output["score"] = json!(1.0);
            output["summary"] = json!("shadow mode: the outward check was not run");
        }
        Ok(Outcome {
            output,
            ..Outcome::default()
        })
    }
}
