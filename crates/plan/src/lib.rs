//! The runtime plan: what `loopc compile` produces from a checked spec and
//! what `loopc run` executes. Types only (serde + schemars); the JSON Schema
//! in `schemas/loopc-plan.schema.json` is generated from them.
//!
//! Everything the interpreter needs is resolved here: `*` expanded, worker
//! groups that may run concurrently computed, `when` conditions parsed,
//! defaults of docs/semantics.md applied. The interpreter never looks at LSS.

pub mod composition;
pub mod expr;
// `vocabulary!` is defined there and used by the modules after it.
#[macro_use]
pub mod names;
pub mod safety;

pub use composition::*;
pub use expr::{CompareOp, Expr};
pub use names::*;
pub use safety::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Lowercase hex SHA-256 of `bytes`: the digest a plan records of its spec
/// ([`Plan::spec_sha256`]), and the one the runtime records of bindings.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Bumped on any incompatible change; `loopc run` refuses other versions.
/// 3: `and`/`or` chains of four or more compile into balanced trees (a
/// version-2 plan of such a chain differs from what its spec compiles to).
pub const PLAN_VERSION: &str = "3";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Always [`PLAN_VERSION`].
    pub plan_version: String,
    pub loop_name: String,
    pub spec_version: String,
    pub objective: String,
    /// Path of the spec this plan was compiled from, as given.
    pub source: String,
    /// SHA-256 of the spec's bytes. `loopc run PLAN` finds the spec, checks
    /// this digest and compiles it again: a plan that differs from what its
    /// spec compiles to (an edited plan) is refused.
    pub spec_sha256: String,
    pub inputs: Vec<InputDecl>,
    pub memory: MemoryPlan,
    /// Workers in a topological order of `depends_on` (and `workers.*` inputs).
    pub workers: Vec<WorkerStep>,
    /// Ids of workers that may run concurrently, level by level.
    pub groups: Vec<Vec<String>>,
    pub evaluators: Vec<EvaluatorStep>,
    pub metrics: Vec<MetricPlan>,
    pub feedback: Vec<FeedbackRoute>,
    pub termination: TerminationPlan,
    pub optimizer: OptimizerPlan,
    pub budgets: Budgets,
    pub safety: Vec<SafetyCheck>,
    /// LSS 1.1: the children that run, to their own ends, in each
    /// iteration before this loop's workers (docs/semantics.md §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composition: Option<CompositionPlan>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    pub name: String,
    pub kind: InputKind,
    pub required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryPlan {
    pub kind: MemoryKind,
    /// Workers that may write (empty: nobody, the LSS default).
    pub allowed_writers: Vec<String>,
    pub max_entries: Option<u64>,
    /// Worker id → keys it may read; a worker absent here reads everything.
    pub read_policy: Vec<ReadRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRule {
    pub worker: String,
    pub keys: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    pub provider: String,
    pub name: String,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u64>,
}

/// Where a worker input comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "from", content = "path", rename_all = "snake_case")]
pub enum Binding {
    /// `inputs.<path>`
    Input(String),
    /// `memory.<key>`
    Memory(String),
    /// `workers.<id>`: that worker's output of this iteration.
    Worker(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerStep {
    pub id: String,
    pub role: String,
    pub model: ModelRef,
    pub inputs: Vec<Binding>,
    pub depends_on: Vec<String>,
    pub output_name: String,
    pub output_format: OutputFormat,
    pub output_schema_ref: Option<String>,
    pub tools: Vec<String>,
    pub timeout_seconds: Option<u64>,
    pub retries: u32,
    pub cost_budget_usd: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvaluatorKind {
    Deterministic {
        implementation: String,
    },
    LlmRubric {
        model: ModelRef,
        dimensions: Vec<RubricDimension>,
        pass_threshold: f64,
    },
    Human {
        timeout_seconds: u64,
        queue: Option<String>,
        instructions: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RubricDimension {
    pub name: String,
    pub weight: f64,
    pub scale: (f64, f64),
    pub criteria: String,
}

// No `deny_unknown_fields` here: serde cannot combine it with `flatten`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EvaluatorStep {
    pub id: String,
    #[serde(flatten)]
    pub kind: EvaluatorKind,
    /// Worker ids (`*` expanded).
    pub runs_after: Vec<String>,
    pub aggregation: Option<Aggregation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum MetricSource {
    Evaluator(String),
    Worker(String),
    Telemetry(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricPlan {
    pub name: String,
    pub source: MetricSource,
    pub unit: MetricUnit,
    pub primary: bool,
    pub target: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Endpoint {
    Worker(String),
    Evaluator(String),
    Optimizer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRoute {
    pub id: String,
    pub source: Endpoint,
    pub destination: Endpoint,
    /// Result fields delivered; empty means all.
    pub fields: Vec<String>,
    pub max_tokens: Option<u64>,
    /// Compiled `when` condition; `None` fires every iteration.
    pub when: Option<Expr>,
    /// The condition as written, for reports.
    pub when_text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuccessRule {
    pub metric: String,
    pub op: CompareOp,
    pub value: f64,
    pub consecutive: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Halt,
    EscalateHuman,
    RetryIteration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureRule {
    pub kind: FailureKind,
    pub action: Action,
    pub value: Option<f64>,
    pub consecutive: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StallRule {
    pub metric: String,
    pub window_iterations: u32,
    pub min_improvement: f64,
    pub action: Action,
    /// +1 when improving means rising, −1 when falling (from the success rule on the metric).
    pub direction: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminationPlan {
    pub success: Vec<SuccessRule>,
    pub failure: Vec<FailureRule>,
    pub stall: Vec<StallRule>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizerPlan {
    pub kind: OptimizerKind,
    pub max_steps: u32,
    pub targets: Vec<String>,
    pub rollback_on_metric_drop: Option<f64>,
    pub rollback_on_safety_failure: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    pub per_iteration_usd: f64,
    pub cumulative_usd: f64,
    pub token_soft_cap: Option<u64>,
    pub on_approach_percent: Option<f64>,
    pub on_approach: Option<BudgetAction>,
    pub on_exceed: BudgetAction,
}
