//! # loopc-score
//!
//! Loop Engineering Score (LES 1.0) for LSS specs and Loop Trace 1.0 runs.
//!
//! * [`score_spec`]: the structural estimate of a spec, numerically equal to
//!   the reference `loopctl score` of le-loopctl 0.5.0 (with
//!   [`SpecScoreOptions::reference_parity`]) or with the reference's defects
//!   corrected (the default), explained category by category, with the one
//!   change that would raise it most.
//! * [`score_trace`]: the observed LES of a run, applying the LES 1.0
//!   formulas to the categories a trace has data for (a partial score with
//!   renormalised weights), with the section 4 diagnostics and the section 5
//!   edge cases. [`validate_trace`] checks the Loop Trace 1.0 schema first.
//! * [`render_table`]: a compact deterministic human table.
//!
//! The crate is pure: callers parse YAML/JSON into a [`serde_json::Value`].
//! See the crate README for the formulas and the reference defects.

#![warn(missing_docs)]

mod categories;
mod improve;
pub mod observed;
mod reference;
mod render;
mod spec;
mod trace;

pub use render::render_table;
pub use spec::{score_spec, CategoryScore, Improvement, SpecScore, SpecScoreOptions};
pub use trace::{score_trace, validate_trace, Diagnostics, MissingCategory, ObservedCategory, TraceScore};

/// The eight LES 1.0 categories, in their canonical order.
pub const CATEGORIES: [&str; 8] = [
    "effectiveness",
    "speed",
    "cost",
    "robustness",
    "scalability",
    "safety",
    "adaptability",
    "autonomy",
];

/// LES 1.0 category weights, in the order of [`CATEGORIES`] (sum 1.0).
pub const WEIGHTS: [f64; 8] = [0.20, 0.15, 0.12, 0.13, 0.10, 0.12, 0.10, 0.08];

/// The weight of a category by name (`None` for an unknown name).
pub fn weight(category: &str) -> Option<f64> {
    CATEGORIES.iter().position(|c| *c == category).map(|i| WEIGHTS[i])
}
