//! Semantic rules: what the schema cannot say. Each rule is a unit struct
//! (see [`crate::registry::declare_rule`]) implementing [`Rule`].

mod composition;
mod cycles;
mod duplicates;
mod primary_metric;
mod references;

pub use composition::{ChildRefInvalid, ChildRefMissing, DuplicateChildId, NestedStructure, ParallelBranches, SequentialAdapters};
pub use cycles::DependencyCycle;
pub use duplicates::DuplicateId;
pub use primary_metric::PrimaryMetric;
pub use references::UnknownReference;

use loopc_diagnostics::Diagnostic;

use crate::Context;

/// A semantic rule over one lowered document.
pub(crate) trait Rule: Sync {
    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>);
}

/// The rules `check` runs, in a fixed order (output is sorted afterwards).
pub(crate) const RULES: &[&dyn Rule] = &[
    &UnknownReference,
    &DuplicateId,
    &DependencyCycle,
    &PrimaryMetric,
    &ChildRefMissing,
    &DuplicateChildId,
    &NestedStructure,
    &SequentialAdapters,
    &ParallelBranches,
];
