//! What a waiting run waits for, and what a person's decision answers.
//! Stored as text (`runs.waiting_for`, `decisions.gate`) in the spellings
//! below; anything else in the store is corrupt state.

use loopc_plan::Scope;

/// Where a run waits for a person.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Gate {
    /// A human evaluator's verdict (`evaluators.<id>`).
    Evaluator(String),
    /// A failure or stall rule's `escalate_human`: the iteration's result as it is.
    Escalation,
    /// A `manual` or `structural` optimizer step.
    Optimizer,
    /// A safety constraint that asked for a person (`safety.<check>.<worker>.<scope>`).
    Check { check: String, worker: String, scope: Scope },
    /// A tool call blocked with `escalate_human` (`safety.tools.<worker>.<n>`).
    ToolCall { worker: String, n: usize },
    /// A composition's child run waits for a person (`children.<key>`): a
    /// decision on the composing run is the child's.
    Child(String),
}

impl Gate {
    /// Whether a decision here is a verdict the loop goes on with (a human
    /// evaluator), rather than a go / stop.
    pub fn is_verdict(&self) -> bool {
        matches!(self, Gate::Evaluator(_))
    }

    /// The stored spelling's inverse; `None` for anything else.
    pub fn parse(text: &str) -> Option<Gate> {
        match text {
            "escalation" => return Some(Gate::Escalation),
            "optimizer" => return Some(Gate::Optimizer),
            _ => {}
        }
        if let Some(id) = text.strip_prefix("evaluators.") {
            return (!id.is_empty()).then(|| Gate::Evaluator(id.to_owned()));
        }
        if let Some(key) = text.strip_prefix("children.") {
            return (!key.is_empty()).then(|| Gate::Child(key.to_owned()));
        }
        // LSS ids have no dots, so the parts are unambiguous; a scope is never a number.
        let parts: Vec<&str> = text.strip_prefix("safety.")?.split('.').collect();
        match parts.as_slice() {
            ["tools", worker, n] if n.parse::<usize>().is_ok() => Some(Gate::ToolCall {
                worker: (*worker).to_owned(),
                n: n.parse().ok()?,
            }),
            [check, worker, scope] => Some(Gate::Check {
                check: (*check).to_owned(),
                worker: (*worker).to_owned(),
                scope: Scope::parse(scope)?,
            }),
            _ => None,
        }
    }
}

/// Serialized as its stored spelling (`loopc status --format json` shows it).
impl serde::Serialize for Gate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gate::Evaluator(id) => write!(f, "evaluators.{id}"),
            Gate::Escalation => f.write_str("escalation"),
            Gate::Optimizer => f.write_str("optimizer"),
            Gate::Check { check, worker, scope } => write!(f, "safety.{check}.{worker}.{scope}"),
            Gate::ToolCall { worker, n } => write!(f, "safety.tools.{worker}.{n}"),
            Gate::Child(key) => write!(f, "children.{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_round_trip_through_their_stored_spelling() {
        for gate in [
            Gate::Evaluator("review".into()),
            Gate::Escalation,
            Gate::Optimizer,
            Gate::Check {
                check: "tools".into(),
                worker: "fixer".into(),
                scope: Scope::PreOutput,
            },
            Gate::ToolCall {
                worker: "fixer".into(),
                n: 3,
            },
            Gate::Child("verify".into()),
            Gate::Child("debug@2".into()),
        ] {
            assert_eq!(Gate::parse(&gate.to_string()), Some(gate.clone()), "{gate}");
        }
        for bad in ["", "evaluators.", "children.", "safety.a.b", "safety.a.b.post_output", "paused"] {
            assert_eq!(Gate::parse(bad), None, "{bad}");
        }
    }
}
