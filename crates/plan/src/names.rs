//! The closed vocabularies of LSS 1.0 (every one an `enum` in the canonical
//! schema) as Rust enums: the plan and the runtime never compare strings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An enum whose variants are the schema's words, with `as_str`, `parse`
/// (exactly the schema's spelling) and `ALL`.
macro_rules! vocabulary {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        /// `SafetyAction::Halt == "halt"`: the schema's word.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// An input field's `type`.
    pub enum InputKind {
        String = "string",
        Number = "number",
        Boolean = "boolean",
        Enum = "enum",
        Array = "array",
        Object = "object",
    }
}

vocabulary! {
    /// `memory.type`.
    pub enum MemoryKind {
        /// Cleared at the start of every iteration.
        Ephemeral = "ephemeral",
        /// Kept for the run.
        Session = "session",
        /// Kept across runs of the loop.
        Persistent = "persistent",
    }
}

vocabulary! {
    /// A worker's `outputs.format`.
    pub enum OutputFormat {
        Text = "text",
        Json = "json",
        Markdown = "markdown",
        Code = "code",
        Binary = "binary",
    }
}

vocabulary! {
    /// An evaluator's `aggregation`.
    pub enum Aggregation {
        Min = "min",
        WeightedAvg = "weighted_avg",
        Veto = "veto",
    }
}

vocabulary! {
    /// A metric's `unit`.
    pub enum MetricUnit {
        Ratio = "ratio",
        Count = "count",
        Usd = "usd",
        Seconds = "seconds",
        Tokens = "tokens",
        Percent = "percent",
    }
}

vocabulary! {
    /// A failure condition's `type`.
    pub enum FailureKind {
        SafetyViolation = "safety_violation",
        MaxIterations = "max_iterations",
        EvaluatorError = "evaluator_error",
        CostExceeded = "cost_exceeded",
        HumanRejected = "human_rejected",
        Timeout = "timeout",
    }
}

vocabulary! {
    /// `optimization_strategy.type`.
    pub enum OptimizerKind {
        PromptRefinement = "prompt_refinement",
        ParameterSearch = "parameter_search",
        MemoryUpdate = "memory_update",
        Structural = "structural",
        Manual = "manual",
    }
}

vocabulary! {
    /// What a cost limit does when spend approaches or exceeds it.
    pub enum BudgetAction {
        Warn = "warn",
        Throttle = "throttle",
        Halt = "halt",
    }
}

vocabulary! {
    /// A safety constraint's `type`.
    pub enum SafetyKind {
        InjectionDetect = "injection_detect",
        SecretScan = "secret_scan",
        PiiDetect = "pii_detect",
        EgressMonitor = "egress_monitor",
        ToolAllowlist = "tool_allowlist",
        SchemaEnforce = "schema_enforce",
        HumanGate = "human_gate",
        TenantIsolation = "tenant_isolation",
        OutputBounds = "output_bounds",
        RateLimit = "rate_limit",
    }
}

vocabulary! {
    /// Where a safety constraint applies.
    pub enum Scope {
        PreWorker = "pre_worker",
        PostWorker = "post_worker",
        PreOutput = "pre_output",
        PreMemoryWrite = "pre_memory_write",
        PreEvaluator = "pre_evaluator",
    }
}

vocabulary! {
    /// What a safety constraint does when it fires, most severe last.
    pub enum SafetyAction {
        Warn = "warn",
        Strip = "strip",
        Quarantine = "quarantine",
        EscalateHuman = "escalate_human",
        Halt = "halt",
    }
}

vocabulary! {
    /// What happens when a safety check itself fails.
    pub enum OnError {
        Halt = "halt",
        Warn = "warn",
        Quarantine = "quarantine",
    }
}
