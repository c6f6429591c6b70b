//! The rules of the syntax layer: `loopc-syntax` finds the problems and
//! names their kind ([`SyntaxErrorKind`]); their codes, names, severities
//! and documentation are declared here, and [`diagnostic`] gives each error
//! its code.

use loopc_diagnostics::Diagnostic;
use loopc_syntax::{SyntaxError, SyntaxErrorKind};

use crate::registry::{declare_rule, RuleInfo};

/// The rule of a syntax error kind.
pub fn rule_of(kind: SyntaxErrorKind) -> &'static RuleInfo {
    match kind {
        SyntaxErrorKind::YamlSyntax => &YamlSyntax::INFO,
        SyntaxErrorKind::DuplicateKey => &DuplicateKey::INFO,
        SyntaxErrorKind::MultipleDocuments => &MultipleDocuments::INFO,
        SyntaxErrorKind::EmptyFile => &EmptyFile::INFO,
        SyntaxErrorKind::RootNotMapping => &RootNotMapping::INFO,
        SyntaxErrorKind::InvalidUtf8 => &InvalidUtf8::INFO,
        SyntaxErrorKind::NulByte => &NulByte::INFO,
        SyntaxErrorKind::NestingTooDeep => &NestingTooDeep::INFO,
        SyntaxErrorKind::AliasExpansionLimit => &AliasExpansionLimit::INFO,
        SyntaxErrorKind::FileTooLarge => &FileTooLarge::INFO,
        SyntaxErrorKind::UnsupportedNode => &UnsupportedNode::INFO,
    }
}

/// A syntax error as a diagnostic of its rule.
pub fn diagnostic(error: SyntaxError) -> Diagnostic {
    let mut d = rule_of(error.kind).diagnostic(error.primary.span, error.message);
    d.primary.message = error.primary.message;
    d.labels = error.labels;
    d.help = error.help;
    d
}

declare_rule! {
    /// ## What it does
    /// Reports text that is not well-formed YAML 1.2 (or JSON), at the
    /// position where the parser gave up.
    ///
    /// ## Why
    /// Nothing else can be checked in a file that does not parse.
    ///
    /// ## Example
    /// ```yaml
    /// workers: [planner, coder     # the flow sequence is never closed
    /// evaluators: []
    /// ```
    pub struct YamlSyntax { code: "L001", name: "yaml-syntax", group: "syntax", severity: Error, summary: "The file is not well-formed YAML or JSON." }
}

declare_rule! {
    /// ## What it does
    /// Reports a key that appears twice in one mapping, pointing at the second
    /// occurrence with a label on the first.
    ///
    /// ## Why
    /// YAML 1.2 requires unique keys. Parsers that accept duplicates keep
    /// either the first or the last value, so the loop that runs may not be
    /// the loop that was reviewed.
    ///
    /// ## Example
    /// ```yaml
    /// cost_limits:
    ///   cumulative_usd: 5
    ///   cumulative_usd: 50   # L002: which budget applies?
    /// ```
    pub struct DuplicateKey { code: "L002", name: "duplicate-key", group: "syntax", severity: Error, summary: "A mapping repeats a key; YAML 1.2 forbids it and parsers disagree on which value wins." }
}

declare_rule! {
    /// ## What it does
    /// Reports a second YAML document (`---`) in the file.
    ///
    /// ## Why
    /// An LSS file describes exactly one loop; tools that read only the first
    /// document would silently ignore the rest.
    ///
    /// ## Example
    /// ```yaml
    /// loop_name: first
    /// ---
    /// loop_name: second   # L003
    /// ```
    pub struct MultipleDocuments { code: "L003", name: "multiple-documents", group: "syntax", severity: Error, summary: "The file holds more than one YAML document; an LSS file is exactly one." }
}

declare_rule! {
    /// ## What it does
    /// Reports a file with no YAML document: empty, or only comments.
    ///
    /// ## Why
    /// An empty spec is almost always a mistake (a truncated write, a wrong path).
    pub struct EmptyFile { code: "L004", name: "empty-file", group: "syntax", severity: Error, summary: "The file has no YAML document at all." }
}

declare_rule! {
    /// ## What it does
    /// Reports a document whose root is a list, a string, a number or null
    /// instead of a mapping.
    ///
    /// ## Example
    /// ```yaml
    /// - loop_name: fix-ci    # L005: the root is a list
    /// ```
    pub struct RootNotMapping { code: "L005", name: "root-not-mapping", group: "syntax", severity: Error, summary: "The document's root is not a mapping of LSS fields." }
}

declare_rule! {
    /// ## What it does
    /// Reports the first byte that is not valid UTF-8, with its byte offset,
    /// line and column. A UTF-8 byte order mark is accepted.
    ///
    /// ## Why
    /// YAML is UTF-8 (or UTF-16/32 with a BOM); a Latin-1 file decodes to
    /// different text in different tools.
    pub struct InvalidUtf8 { code: "L006", name: "invalid-utf8", group: "syntax", severity: Error, summary: "The file is not valid UTF-8." }
}

declare_rule! {
    /// ## What it does
    /// Reports a NUL byte, with its offset, line and column.
    ///
    /// ## Why
    /// YAML forbids NUL; it usually means a binary or UTF-16 file was given.
    pub struct NulByte { code: "L007", name: "nul-byte", group: "syntax", severity: Error, summary: "The file contains a NUL byte, which YAML forbids." }
}

declare_rule! {
    /// ## What it does
    /// Refuses sequences and mappings nested deeper than `limits.max_depth`
    /// (default 128; flow collections are also capped at 255 by the parser).
    ///
    /// ## Why
    /// Real specs nest about eight levels. Hundreds of thousands of levels
    /// are an attack on tools that recurse; loopc stops at the limit without
    /// reading further.
    pub struct NestingTooDeep { code: "L008", name: "nesting-too-deep", group: "syntax", severity: Error, summary: "Sequences and mappings are nested deeper than the configured limit." }
}

declare_rule! {
    /// ## What it does
    /// Refuses a document whose aliases (`*name`) would expand to more than
    /// `limits.max_alias_nodes` nodes (default 100,000).
    ///
    /// ## Why
    /// A "billion laughs" document of a few hundred bytes expands to billions
    /// of nodes. loopc counts the nodes each alias adds and stops at the limit.
    ///
    /// ## Example
    /// ```yaml
    /// a: &a [x, x, x, x, x, x, x, x, x]
    /// b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    /// c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]   # ... and so on
    /// ```
    pub struct AliasExpansionLimit { code: "L009", name: "alias-expansion-limit", group: "syntax", severity: Error, summary: "Aliases expand to more nodes than the configured limit (an alias bomb)." }
}

declare_rule! {
    /// ## What it does
    /// Refuses files larger than `limits.max_file_bytes` (default 16 MiB)
    /// before reading them into a tree.
    pub struct FileTooLarge { code: "L010", name: "file-too-large", group: "syntax", severity: Error, summary: "The file is larger than the configured limit." }
}

declare_rule! {
    /// ## What it does
    /// Reports YAML that has no JSON equivalent: a sequence or mapping used
    /// as a key, an application tag such as `!custom`, a core tag that does
    /// not fit its value, `.inf` or `.nan`, or a recursive alias.
    ///
    /// ## Why
    /// LSS is defined on the JSON data model; these constructs would be
    /// read differently, or not at all, by other tools.
    pub struct UnsupportedNode { code: "L011", name: "unsupported-node", group: "syntax", severity: Error, summary: "A construct with no JSON equivalent: a non-scalar key, an unknown tag, an infinite or NaN number." }
}

#[cfg(test)]
mod tests {
    use loopc_syntax::SyntaxErrorKind;

    #[test]
    fn every_syntax_kind_has_its_own_registered_rule() {
        let mut codes: Vec<&str> = SyntaxErrorKind::ALL.iter().map(|k| super::rule_of(*k).code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), SyntaxErrorKind::ALL.len());
        for code in codes {
            let row = crate::registry::REGISTRY.iter().find(|r| r.info.code == code).expect("registered");
            assert_eq!(row.stage, crate::registry::Stage::Syntax);
        }
    }
}
