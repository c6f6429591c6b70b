//! Every diagnostic code loopc emits, with its documentation.
//!
//! A rule is a unit struct declared with [`declare_rule!`]: its doc comment
//! *is* its documentation, shown by `loopc explain CODE` and rendered into
//! `docs/rules.md`, so the two can never drift apart.

use loopc_diagnostics::{RuleMeta, Severity};

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
            pub const CODE: &'static str = $code;
            pub const NAME: &'static str = $rule;
            pub const INFO: $crate::registry::RuleInfo = $crate::registry::RuleInfo {
                code: $code,
                name: $rule,
                summary: $summary,
                default_severity: loopc_diagnostics::Severity::$severity,
                docs: concat!($($doc, "\n"),*),
                group: $group,
            };
        }
    };
}
pub(crate) use declare_rule;

/// All rules, in code order.
pub fn all_rules() -> &'static [RuleInfo] {
    use crate::rules::*;
    use crate::schema::{CompositionSchema, LssSchema};
    use crate::syntax_rules::*;
    static RULES: &[RuleInfo] = &[
        YamlSyntax::INFO,
        DuplicateKey::INFO,
        MultipleDocuments::INFO,
        EmptyFile::INFO,
        RootNotMapping::INFO,
        InvalidUtf8::INFO,
        NulByte::INFO,
        NestingTooDeep::INFO,
        AliasExpansionLimit::INFO,
        FileTooLarge::INFO,
        UnsupportedNode::INFO,
        LssSchema::INFO,
        CompositionSchema::INFO,
        UnknownReference::INFO,
        DuplicateId::INFO,
        DependencyCycle::INFO,
        PrimaryMetric::INFO,
        ChildRefMissing::INFO,
        ChildRefInvalid::INFO,
        DuplicateChildId::INFO,
        NestedStructure::INFO,
        SequentialAdapters::INFO,
        ParallelBranches::INFO,
        UnboundedCycle::INFO,
        MoneyOnlyBound::INFO,
        CompositionBudget::INFO,
        UncheckedMaker::INFO,
        SelfGrading::INFO,
        UnreachableSuccess::INFO,
        SuccessWithoutEvaluator::INFO,
        BudgetContradiction::INFO,
        WorkerBudgets::INFO,
        RubricWeights::INFO,
        InvalidWhen::INFO,
        UnusedWorker::INFO,
        UnusedEvaluator::INFO,
        UnreadMetric::INFO,
        UnenforceableSafety::INFO,
        NoHumanPath::INFO,
    ];
    RULES
}

/// Find a rule by code (`L201`, any case) or name (`unknown-reference`).
pub fn find_rule(key: &str) -> Option<&'static RuleInfo> {
    all_rules().iter().find(|r| r.code.eq_ignore_ascii_case(key) || r.name == key)
}

/// The registry in the form renderers want.
pub fn rule_metas() -> Vec<RuleMeta> {
    all_rules().iter().map(RuleInfo::meta).collect()
}
