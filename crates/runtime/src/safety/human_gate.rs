//! `human_gate`: always fires at its scope, with action `escalate_human`:
//! the gate *is* the pause, and the run goes on after `loopc approve`.

use loopc_plan::SafetyAction;
use serde_json::Value;

use super::constraint::{Constraint, Context, Found};

pub(crate) struct HumanGate {
    message: Option<String>,
}

impl HumanGate {
    pub fn new(config: &loopc_plan::HumanGate) -> Self {
        HumanGate {
            message: config.message.clone(),
        }
    }

    fn fire(&self, cx: &Context<'_>) -> Option<Found> {
        let scope = cx.check.scope;
        let text = match &self.message {
            Some(m) => format!("human approval required for worker `{}` at {scope}: {m}", cx.worker),
            None => format!(
                "human approval required for worker `{}` at {scope} (human_gate `{}`)",
                cx.worker, cx.check.id
            ),
        };
        Some(Found {
            action: Some(SafetyAction::EscalateHuman),
            ..Found::new(text)
        })
    }
}

impl Constraint for HumanGate {
    fn invocation(&self, cx: &Context<'_>) -> Option<Found> {
        self.fire(cx)
    }

    fn output(&self, cx: &Context<'_>, _value: &Value) -> Option<Found> {
        self.fire(cx)
    }
}
