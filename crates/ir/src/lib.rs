//! The typed intermediate representation of an LSS 1.0 document, with the
//! LSS 1.1 `composition` block, lowered from the spanned syntax tree.
//!
//! Lowering is lenient on purpose: a field of the wrong type becomes `None`
//! (the schema layer reports it), so the semantic rules can still run on
//! the rest of a broken document and report everything in one pass.

mod lower;
mod model;
pub mod safety_config;
mod spanned;
pub mod when;

pub use lower::lower;
pub use model::*;
pub use spanned::Sp;

/// Safety constraint types the included interpreter enforces
/// (docs/semantics.md §7); the plan's `SafetyKind::is_enforced` agrees
/// (a test of `loopc-compile` keeps them in step).
pub const ENFORCED_SAFETY_TYPES: &[&str] = &[
    "tool_allowlist",
    "secret_scan",
    "output_bounds",
    "schema_enforce",
    "human_gate",
    "rate_limit",
];
