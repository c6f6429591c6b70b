//! LSS conformance levels (LSS 1.0 "Conformance levels"), as far as a spec
//! file can show them.

use loopc_diagnostics::{Diagnostic, Severity};
use loopc_ir::Spec;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Level {
    /// Does not parse or fails the schemas.
    None,
    /// Schema valid.
    Parseable,
    /// + metrics with a collectable source, cost limits the runtime enforces
    ///   (a halting `on_exceed`), and a bounded loop with no semantic errors.
    Operational,
    /// + non-empty safety constraints, evaluator calibration and a runbook
    ///   (the last two declared under `extensions` or as `x_` keys).
    Production,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Parseable => "LSS-Parseable",
            Level::Operational => "LSS-Operational",
            Level::Production => "LSS-Production",
        }
    }
}

/// The level a spec reaches and, for the next level, what is missing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conformance {
    pub level: Level,
    pub missing: Vec<String>,
}

fn declared(root: &serde_json::Value, key: &str) -> bool {
    root.get("extensions").and_then(|e| e.get(key)).is_some() || root.get(format!("x_{key}")).is_some()
}

/// `diagnostics` are the file's findings at default severity.
pub fn conformance(spec: Option<&Spec>, root: Option<&serde_json::Value>, diagnostics: &[Diagnostic]) -> Conformance {
    let (Some(spec), Some(root)) = (spec, root) else {
        return Conformance {
            level: Level::None,
            missing: vec!["a parseable YAML mapping".into()],
        };
    };
    let errors = |prefix: &str| {
        diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.code.starts_with(prefix))
    };
    if errors("L0") || errors("L1") {
        return Conformance {
            level: Level::None,
            missing: vec!["schema validity".into()],
        };
    }
    let mut missing = Vec::new();
    if !spec.metrics.iter().any(|m| m.source.is_some()) {
        missing.push("a metric with a source".into());
    }
    if spec
        .cost_limits
        .as_ref()
        .and_then(|c| c.on_exceed_action.as_deref())
        .map(String::as_str)
        != Some("halt")
    {
        missing.push("cost_limits.on_exceed.action: halt".into());
    }
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        missing.push("no semantic errors".into());
    }
    if !missing.is_empty() {
        return Conformance {
            level: Level::Parseable,
            missing,
        };
    }
    if spec.safety_constraints.is_empty() {
        missing.push("non-empty safety_constraints".into());
    }
    if !declared(root, "calibration") {
        missing.push("evaluator calibration (extensions.calibration)".into());
    }
    if !declared(root, "runbook") {
        missing.push("a runbook (extensions.runbook)".into());
    }
    if missing.is_empty() {
        Conformance {
            level: Level::Production,
            missing,
        }
    } else {
        Conformance {
            level: Level::Operational,
            missing,
        }
    }
}
