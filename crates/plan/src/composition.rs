//! LSS 1.1 compositions in the plan: the children (each a whole plan, run
//! to its own termination as a sub-run), how their values flow
//! (adapters) and how their outcomes combine (docs/semantics.md §10).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Expr, Plan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompositionKind {
    /// Children one after another, each fed by the ones before it.
    Sequential,
    /// Branches at once, their outcomes merged.
    Parallel,
    /// The outer child; after each of its iterations, the inner children.
    Nested,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChildRole {
    Stage,
    Branch,
    Outer,
    Inner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MergeStrategy {
    /// Every branch must succeed.
    AllPass,
    /// One success is enough.
    FirstPass,
    /// At least `min_branches_pass` successes (default: more than half).
    Vote,
    /// At least `min_branches_pass` successes (default one); a worker of
    /// the composing loop merges the branches' outputs.
    Synthesize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompositionPlan {
    pub kind: CompositionKind,
    /// In the order of the spec (sequential: the order they run in).
    pub children: Vec<ChildPlan>,
    pub adapters: Vec<AdapterPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergePlan>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildPlan {
    pub id: String,
    pub role: ChildRole,
    /// The `ref` as written (relative to the composing spec).
    pub reference: String,
    /// An inner child runs only in outer iterations where this holds
    /// (names: `children.<outer>.evaluators.<id>.passed` / `.failed` /
    /// `.score`, `children.<outer>.outputs.<name>`); `None`: every one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Expr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_text: Option<String>,
    pub plan: Box<Plan>,
}

/// A value of one child (or of the composing loop's inputs) given to an
/// input of another child.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdapterPlan {
    pub from: ValueRef,
    /// The child whose input is set, and the input's name.
    pub to_child: String,
    pub to_input: String,
    /// A transform bound in the bindings (`[transforms.<name>]`) applied to the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// The path as written, for messages.
    pub from_text: String,
}

/// Where an adapter's value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ValueRef {
    /// `children.<child>.outputs.<name>`: the output named `name` of the
    /// child's last iteration that produced it.
    Output { child: String, name: String },
    /// `children.<child>.evaluators.<id>[.<field>]`: a verdict of the child's last iteration.
    Verdict {
        child: String,
        evaluator: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// `inputs.<name>`: an input of the composing loop.
    Input { name: String },
}

impl ValueRef {
    /// The child the value comes from (`None`: the composing loop's inputs).
    pub fn child(&self) -> Option<&str> {
        match self {
            ValueRef::Output { child, .. } | ValueRef::Verdict { child, .. } => Some(child),
            ValueRef::Input { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergePlan {
    pub strategy: MergeStrategy,
    /// Successes needed (the strategy's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_branches_pass: Option<u32>,
    /// `synthesize`: the composing loop's worker that merges the outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthesizer: Option<String>,
}

impl MergePlan {
    /// How many of `n` branches must succeed.
    pub fn needed(&self, n: usize) -> usize {
        let n32 = n as u32;
        match self.strategy {
            MergeStrategy::AllPass => n,
            MergeStrategy::FirstPass => 1.min(n),
            MergeStrategy::Vote => self.min_branches_pass.unwrap_or(n32 / 2 + 1).min(n32) as usize,
            MergeStrategy::Synthesize => self.min_branches_pass.unwrap_or(1).min(n32) as usize,
        }
    }
}
