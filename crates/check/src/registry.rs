//! Every diagnostic code loopc emits, with its documentation: the one table
//! ([`REGISTRY`]) that says which rules exist, in which stage each runs,
//! and what `loopc explain`, `docs/rules.md` and SARIF list.
//!
//! A rule is a unit struct declared with [`declare_rule!`] next to its
//! check: its doc comment *is* its documentation, and its declaration gives
//! its code, name and default severity. Findings are built with
//! [`report`] (or `cx.report`), which stamps those three, so a rule cannot
//! emit a code or severity other than the one it declares.

use loopc_diagnostics::{Diagnostic, RuleMeta, Severity, Span};

/// What `loopc explain` prints and `docs/rules.md` lists.
#[derive(Clone, Copy, Debug)]
pub struct RuleInfo {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub default_severity: Severity,
    /// The doc comment as written (each line keeps the space after `///`);
    /// use [`RuleInfo::documentation`].
    pub docs: &'static str,
    /// Which part of loopc emits it (for grouping in the docs).
    pub group: &'static str,
}

impl RuleInfo {
    /// Markdown: what it does, why, an example.
    pub fn documentation(&self) -> String {
        self.docs
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_owned()
    }

    /// A finding of this rule, at its declared severity.
    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.default_severity, self.code, self.name, message, span)
    }

    pub fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: self.code,
            rule: self.name,
            summary: self.summary,
            default_severity: self.default_severity,
        }
    }
}

/// Declares a rule struct whose doc comment becomes `RuleInfo::docs`.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            code: $code:literal,
            name: $rule:literal,
            group: $group:literal,
            severity: $severity:ident,
            summary: $summary:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl $name {
            pub const INFO: $crate::registry::RuleInfo = $crate::registry::RuleInfo {
                code: $code,
                name: $rule,
                summary: $summary,
                default_severity: loopc_diagnostics::Severity::$severity,
                docs: concat!($($doc, "\n"),*),
                group: $group,
            };
        }

        impl $crate::registry::Declared for $name {
            const INFO: $crate::registry::RuleInfo = $name::INFO;
        }
    };
}
pub(crate) use declare_rule;

/// A rule declared with [`declare_rule!`].
pub trait Declared {
    const INFO: RuleInfo;
}

/// A finding of `rule` at `span`, with the rule's code, name and declared severity.
pub(crate) fn report<R: Declared>(_rule: &R, span: Span, message: impl Into<String>) -> Diagnostic {
    R::INFO.diagnostic(span, message)
}

/// Where in `check` a rule's findings come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The syntax layer's errors (`loopc-syntax`), coded here.
    Syntax,
    /// Canonical JSON Schema validation.
    Schema,
    /// References, ids, dependency order, compositions.
    FrontEnd,
    /// The phase graph: boundedness and readiness.
    Analysis,
}

/// One row of the registry.
pub struct Registered {
    pub info: RuleInfo,
    pub stage: Stage,
    /// The check, for the rules of the front end and the analysis.
    pub(crate) check: Option<&'static dyn crate::rules::Rule>,
}

/// The table: each rule once, with its stage, in code order.
macro_rules! registry {
    ($($stage:ident: [$($rule:ident),* $(,)?],)*) => {
        /// Every rule loopc has, in code order (see the module docs).
        pub static REGISTRY: &[Registered] = &[
            $($(Registered { info: $rule::INFO, stage: Stage::$stage, check: registry!(@check $stage $rule) },)*)*
        ];
    };
    (@check FrontEnd $rule:ident) => { Some(&$rule) };
    (@check Analysis $rule:ident) => { Some(&$rule) };
    (@check $stage:ident $rule:ident) => { None };
}

use crate::rules::*;
use crate::schema::{CompositionSchema, LssSchema};
use crate::suppress::UnusedSuppression;
use crate::syntax_rules::*;

registry! {
    Syntax: [
        YamlSyntax, DuplicateKey, MultipleDocuments, EmptyFile, RootNotMapping, InvalidUtf8, NulByte,
        NestingTooDeep, AliasExpansionLimit, FileTooLarge, UnsupportedNode, UnusedSuppression,
    ],
    Schema: [LssSchema, CompositionSchema],
    FrontEnd: [
        UnknownTopLevelKey, UnknownReference, DuplicateId, DependencyCycle, PrimaryMetric,
        ChildRefMissing, ChildRefInvalid, DuplicateChildId, NestedStructure, AdapterGaps, ParallelBranches, AdapterEndpoint,
    ],
    Analysis: [
        UnboundedCycle, MoneyOnlyBound, CompositionBudget,
        UncheckedMaker, SelfGrading, UnreachableSuccess, SuccessWithoutEvaluator, BudgetContradiction, WorkerBudgets,
        RubricWeights, InvalidWhen, UnusedWorker, UnusedEvaluator, UnreadMetric, UnenforceableSafety, NoHumanPath,
        SafetyConfig, IterationWorkerBudgets, SecretInSpec,
    ],
}

/// The checks of one stage, in code order.
pub(crate) fn checks(stage: Stage) -> impl Iterator<Item = &'static dyn crate::rules::Rule> {
    REGISTRY.iter().filter(move |r| r.stage == stage).filter_map(|r| r.check)
}

/// All rules, in code order.
pub fn all_rules() -> impl ExactSizeIterator<Item = &'static RuleInfo> {
    REGISTRY.iter().map(|r| &r.info)
}

/// Find a rule by code (`L201`, any case) or name (`unknown-reference`).
pub fn find_rule(key: &str) -> Option<&'static RuleInfo> {
    all_rules().find(|r| r.code.eq_ignore_ascii_case(key) || r.name == key)
}

/// The registry in the form renderers want.
pub fn rule_metas() -> Vec<RuleMeta> {
    all_rules().map(RuleInfo::meta).collect()
}
