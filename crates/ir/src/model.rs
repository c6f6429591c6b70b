//! LSS types. Every field is optional or a possibly empty list: presence and
//! types are the schema's business; these types carry what the rules and the
//! runtime plan need, each with its span.

use loopc_diagnostics::Span;

use crate::Sp;

pub type Text = Option<Sp<String>>;
pub type Number = Option<Sp<f64>>;
pub type Integer = Option<Sp<i64>>;

/// A whole LSS document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub span: Span,
    pub loop_name: Text,
    pub version: Text,
    pub objective: Text,
    pub inputs: Option<Inputs>,
    pub memory: Option<Memory>,
    pub workers: Vec<Worker>,
    pub evaluators: Vec<Evaluator>,
    pub feedback_channels: Vec<FeedbackChannel>,
    pub optimization_strategy: Option<OptimizationStrategy>,
    pub termination: Option<Termination>,
    pub metrics: Vec<Metric>,
    pub safety_constraints: Vec<SafetyConstraint>,
    pub cost_limits: Option<CostLimits>,
    pub composition: Option<Composition>,
}

impl Spec {
    pub fn worker(&self, id: &str) -> Option<&Worker> {
        self.workers.iter().find(|w| w.id.as_deref().map(String::as_str) == Some(id))
    }
    pub fn evaluator(&self, id: &str) -> Option<&Evaluator> {
        self.evaluators.iter().find(|e| e.id.as_deref().map(String::as_str) == Some(id))
    }
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name.as_deref().map(String::as_str) == Some(name))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    pub span: Span,
    pub fields: Vec<InputField>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InputField {
    pub name: Sp<String>,
    pub span: Span,
    pub kind: Text,
    pub description: Text,
    pub required: Option<Sp<bool>>,
    /// `enum` values (strings, numbers or booleans).
    pub values: Vec<Sp<serde_json::Value>>,
    pub default: Option<Sp<serde_json::Value>>,
    pub pattern: Text,
    pub minimum: Number,
    pub maximum: Number,
    pub min_length: Integer,
    pub max_length: Integer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub span: Span,
    pub kind: Text,
    pub backend: Text,
    pub retention_unit: Text,
    pub retention_value: Number,
    pub allowed_writers: Vec<Sp<String>>,
    pub write_schema: Text,
    pub max_entries: Integer,
    /// `read_policy`: worker id → memory keys it may read.
    pub read_policy: Vec<(Sp<String>, Vec<Sp<String>>)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub span: Span,
    pub provider: Text,
    pub name: Text,
    pub temperature: Number,
    pub max_tokens: Integer,
    pub top_p: Number,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Worker {
    pub span: Span,
    pub id: Text,
    pub role: Text,
    pub model: Option<Model>,
    pub depends_on: Vec<Sp<String>>,
    /// `inputs[].from` binding paths (`inputs.x`, `memory.x`, `workers.x`).
    pub inputs: Vec<Sp<String>>,
    pub output_name: Text,
    pub output_format: Text,
    pub output_schema_ref: Text,
    pub tools: Vec<Sp<String>>,
    pub timeout_seconds: Integer,
    pub retries: Integer,
    pub cost_budget_usd: Number,
}

/// The three evaluator kinds of LSS 1.0, and what else a file may say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvaluatorKind {
    Deterministic,
    LlmRubric,
    Human,
    Other(String),
}

impl EvaluatorKind {
    pub fn parse(s: &str) -> Self {
        match s {
            "deterministic" => Self::Deterministic,
            "llm_rubric" => Self::LlmRubric,
            "human" => Self::Human,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The spelling in LSS.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Deterministic => "deterministic",
            Self::LlmRubric => "llm_rubric",
            Self::Human => "human",
            Self::Other(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RubricDimension {
    pub span: Span,
    pub name: Text,
    pub weight: Number,
    pub scale: Option<Sp<(f64, f64)>>,
    pub criteria: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rubric {
    pub span: Span,
    pub dimensions: Vec<RubricDimension>,
    pub pass_threshold: Number,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Evaluator {
    pub span: Span,
    pub id: Text,
    pub kind: Option<Sp<EvaluatorKind>>,
    /// Worker ids, or `*` for every worker.
    pub runs_after: Vec<Sp<String>>,
    pub aggregation: Text,
    pub implementation: Text,
    pub rubric: Option<Rubric>,
    pub model: Option<Model>,
    pub timeout_seconds: Integer,
    pub queue: Text,
    pub instructions: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackChannel {
    pub span: Span,
    pub id: Text,
    /// `evaluators.<id>` or `workers.<id>`.
    pub source: Text,
    /// `workers.<id>` or `optimization_strategy[.<type>]`.
    pub destination: Text,
    pub format: Text,
    pub fields: Vec<Sp<String>>,
    pub max_tokens: Integer,
    pub when: Text,
    pub template_ref: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OptimizationStrategy {
    pub span: Span,
    pub kind: Text,
    pub max_steps: Integer,
    pub refinement_target: Text,
    pub secondary_targets: Vec<Sp<String>>,
    pub rollback_on_metric_drop: Number,
    pub rollback_on_safety_failure: Option<Sp<bool>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SuccessCondition {
    pub span: Span,
    pub metric: Text,
    pub operator: Text,
    pub value: Number,
    pub consecutive: Integer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FailureCondition {
    pub span: Span,
    pub kind: Text,
    pub action: Text,
    pub value: Number,
    pub consecutive: Integer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StallCondition {
    pub span: Span,
    pub metric: Text,
    pub window_iterations: Integer,
    pub min_improvement: Number,
    pub action: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Termination {
    pub span: Span,
    pub success: Vec<SuccessCondition>,
    pub failure: Vec<FailureCondition>,
    pub stall: Vec<StallCondition>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub span: Span,
    pub name: Text,
    pub primary: Option<Sp<bool>>,
    pub definition: Text,
    /// `evaluators.<id>`, `workers.<id>` or `telemetry.<signal>`.
    pub source: Text,
    pub unit: Text,
    pub target: Number,
    pub regression_threshold: Number,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SafetyConstraint {
    pub span: Span,
    pub id: Text,
    pub kind: Text,
    pub scope: Text,
    /// Worker ids, or `*`.
    pub applies_to: Vec<Sp<String>>,
    pub action: Text,
    pub severity: Text,
    pub on_error: Text,
    pub rule: Text,
    pub config: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CostLimits {
    pub span: Span,
    pub per_iteration_usd: Number,
    pub cumulative_usd: Number,
    pub token_soft_cap: Integer,
    pub on_approach_threshold_percent: Number,
    pub on_approach_action: Text,
    pub on_exceed_action: Text,
    pub price_table_ref: Text,
}

/// LSS 1.1 composition kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompositionKind {
    Sequential,
    Parallel,
    Nested,
    Other(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Composition {
    pub span: Span,
    pub kind: Option<Sp<CompositionKind>>,
    pub children: Vec<CompositionChild>,
    pub adapters: Vec<Adapter>,
    pub merge: Option<Merge>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CompositionChild {
    pub span: Span,
    pub id: Text,
    /// Path of the child spec, relative to the composing file.
    pub reference: Text,
    /// `stage` (the default), `branch`, `outer` or `inner`.
    pub role: Text,
    /// An inner child's condition (loopc's extension: run only in the outer
    /// iterations where it holds).
    pub trigger: Text,
}

impl CompositionChild {
    /// The role, with the schema's default applied.
    pub fn role(&self) -> &str {
        self.role.as_deref().map_or("stage", String::as_str)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Adapter {
    pub span: Span,
    pub from: Text,
    pub to: Text,
    pub transform: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    pub span: Span,
    pub strategy: Text,
    pub min_branches_pass: Integer,
    pub preserve_dissent: Option<Sp<bool>>,
    /// `synthesize`: the composing loop's worker that merges (`workers.<id>`).
    pub synthesizer: Text,
}
