//! `tool_allowlist`: tools a worker may call beyond which its declared
//! `tools` (which the sandbox enforces with this constraint's action).

use super::constraint::{Constraint, Context, Found};
use crate::executor::ToolCall;

pub(crate) struct ToolAllowlist {
    /// `None`: no list of its own; the worker's declared `tools` are the
    /// allowlist (LSS: "tools not listed are forbidden").
    allowed: Option<Vec<String>>,
}

impl ToolAllowlist {
    pub fn new(config: &loopc_plan::ToolAllowlist) -> Self {
        ToolAllowlist {
            allowed: config.allowed.clone(),
        }
    }
}

impl Constraint for ToolAllowlist {
    fn guards_tool_calls(&self) -> bool {
        true
    }

    fn tool_call(&self, _cx: &Context<'_>, call: &ToolCall) -> Option<Found> {
        let allowed = self.allowed.as_ref()?;
        if allowed.iter().any(|t| t == &call.tool) {
            return None;
        }
        Some(Found::new(format!(
            "tool `{}` is not in the allowlist ({})",
            call.tool,
            allowed.join(", ")
        )))
    }
}
