//! Semantic rules: what the schema cannot say. Each rule is a unit struct
//! (see [`crate::registry::declare_rule`]) implementing [`Rule`].

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
mod success;
mod when_condition;

pub use boundedness::{CompositionBudget, MoneyOnlyBound, UnboundedCycle};
pub use budgets::{BudgetContradiction, WorkerBudgets};
pub use composition::{ChildRefInvalid, ChildRefMissing, DuplicateChildId, NestedStructure, ParallelBranches, SequentialAdapters};
pub use cycles::DependencyCycle;
pub use dead_parts::{UnreadMetric, UnusedEvaluator, UnusedWorker};
pub use duplicates::DuplicateId;
pub use maker_checker::{SelfGrading, UncheckedMaker};
pub use primary_metric::PrimaryMetric;
pub use references::UnknownReference;
pub use rubric::RubricWeights;
pub use runtime_support::{NoHumanPath, UnenforceableSafety, ENFORCED_SAFETY_TYPES};
pub use success::{SuccessWithoutEvaluator, UnreachableSuccess};
pub use when_condition::InvalidWhen;

use loopc_diagnostics::Diagnostic;

use crate::Context;

/// A semantic rule over one lowered document.
pub(crate) trait Rule: Sync {
    fn check(&self, cx: &Context, out: &mut Vec<Diagnostic>);
}

/// The rules `check` runs, in a fixed order (output is sorted afterwards).
/// The front end's rules: references, ids, dependency order, compositions.
pub(crate) const FRONT_END: &[&dyn Rule] = &[
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

/// The phase-graph analysis: boundedness and readiness.
pub(crate) const ANALYSIS: &[&dyn Rule] = &[
    &UnboundedCycle,
    &CompositionBudget,
    &UncheckedMaker,
    &SelfGrading,
    &UnreachableSuccess,
    &SuccessWithoutEvaluator,
    &BudgetContradiction,
    &WorkerBudgets,
    &RubricWeights,
    &InvalidWhen,
    &UnusedWorker,
    &UnusedEvaluator,
    &UnreadMetric,
    &UnenforceableSafety,
    &NoHumanPath,
];
