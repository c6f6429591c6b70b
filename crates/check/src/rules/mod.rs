//! Semantic rules: what the schema cannot say. Each rule is a unit struct
//! (see [`crate::registry::declare_rule`]) implementing [`Rule`]; the
//! registry ([`crate::registry::REGISTRY`]) says which stage runs it.

mod adapters;
mod boundedness;
mod budgets;
mod composition;
mod cycles;
mod dead_parts;
mod duplicates;
mod maker_checker;
mod primary_metric;
mod references;
mod rubric;
mod runtime_support;
mod secrets;
mod success;
mod unknown_keys;
mod when_condition;

pub use adapters::*;
pub use boundedness::*;
pub use budgets::*;
pub use composition::*;
pub use cycles::*;
pub use dead_parts::*;
pub use duplicates::*;
pub use maker_checker::*;
pub use primary_metric::*;
pub use references::*;
pub use rubric::*;
pub use runtime_support::*;
pub use secrets::*;
pub use success::*;
pub use unknown_keys::*;
pub use when_condition::*;

use loopc_diagnostics::Diagnostic;

use crate::Context;

/// A semantic rule over one lowered document.
pub trait Rule: Sync {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>);
}
