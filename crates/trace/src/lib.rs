//! Loop Trace 1.0 (`schemas/loop-trace-1.0.schema.json`): the standard
//! record of one run. The runtime writes a [`Trace`]; `loopc score --trace`
//! checks a document with [`validate`] (friendly, positioned messages) and
//! reads it. A test keeps [`validate`] in agreement with the canonical
//! schema, and every [`Trace`] the types can express valid against it.

mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use validate::{parse_datetime, validate};

/// The canonical schema, byte for byte.
pub const SCHEMA: &str = include_str!("../../../schemas/loop-trace-1.0.schema.json");

/// The version this crate writes and reads.
pub const TRACE_VERSION: &str = "1.0";

/// One run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Always [`TRACE_VERSION`].
    pub trace_version: String,
    /// The run's id.
    pub loop_id: String,
    pub loop_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_path: Option<String>,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339; absent while the run goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<f64>,
    /// At least one.
    pub iterations: Vec<IterationRecord>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// What else the document holds (the schema allows more properties).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One iteration of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationRecord {
    pub iteration: u64,
    /// RFC 3339.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_output: Option<String>,
    /// Evaluator id → score.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub evaluator_scores: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<String>,
    /// What else the record holds (loopc adds `metrics`, `violations`,
    /// `human_interventions`, `decision`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Trace {
    /// The trace as JSON (what is written to a file).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a trace serializes")
    }
}
