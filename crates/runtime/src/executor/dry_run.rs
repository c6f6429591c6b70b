//! `--dry-run`'s executor, used for every binding that is not a script.

use serde_json::json;

use super::{ExecError, Executor, Invocation, Outcome, StepRef};

/// The executor of `--dry-run`: no side effects; workers echo, evaluators pass.
pub struct DryRun;

impl Executor for DryRun {
    fn invoke(&self, inv: &Invocation) -> Result<Outcome, ExecError> {
        let output = match &inv.step {
            StepRef::Worker(id) => json!(format!("(dry run: output of {id} in iteration {})", inv.iteration)),
            StepRef::Evaluator(_) => {
                // A rubric is scored by its dimensions: the top of each scale.
                let scores: serde_json::Map<String, serde_json::Value> = inv
                    .payload
                    .pointer("/rubric/dimensions")
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|d| Some((d.get("name")?.as_str()?.to_owned(), d.pointer("/scale/1")?.clone())))
                    .collect();
                json!({"passed": true, "score": 1.0, "dimension_scores": scores, "summary": "dry run"})
            }
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
