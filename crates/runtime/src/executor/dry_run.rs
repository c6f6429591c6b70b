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
