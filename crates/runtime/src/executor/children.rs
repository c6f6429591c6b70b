//! `kind = "children"`: a composition's own verdict, from what its
//! children did this iteration (the runtime puts their outcomes in the
//! payload's `children`). No process, no model: it cannot be wrong about
//! which child failed.

use serde_json::{json, Value};

use super::{ExecError, Executor, Invocation, Outcome, StepRef};

pub struct ChildrenVerdict;

impl Executor for ChildrenVerdict {
    fn invoke(&self, inv: &Invocation) -> Result<Outcome, ExecError> {
        if !matches!(inv.step, StepRef::Evaluator(_)) {
            return Err(ExecError::Config(
                "a `children` executor is an evaluator (it judges a composition's children), not a worker".into(),
            ));
        }
        let children = &inv.payload["children"];
        if children.is_null() {
            return Err(ExecError::Config(
                "a `children` executor judges a composition (LSS 1.1), and this loop composes no children".into(),
            ));
        }
        let passed = children["passed"] == Value::Bool(true);
        Ok(Outcome {
            output: json!({
                "passed": passed,
                "score": if passed { 1.0 } else { 0.0 },
                "summary": children["summary"].clone(),
            }),
            ..Outcome::default()
        })
    }
}
