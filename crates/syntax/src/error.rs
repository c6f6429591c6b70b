//! What the syntax layer reports: a typed kind and where. The codes, names
//! and documentation of these kinds belong to the rule registry of
//! `loopc-check` (`syntax_rules.rs`), which turns each into a diagnostic.

use loopc_diagnostics::{Label, Span};

/// Every problem the syntax layer can find.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyntaxErrorKind {
    /// Not well-formed YAML or JSON.
    YamlSyntax,
    DuplicateKey,
    MultipleDocuments,
    EmptyFile,
    RootNotMapping,
    InvalidUtf8,
    NulByte,
    NestingTooDeep,
    AliasExpansionLimit,
    FileTooLarge,
    /// A construct with no JSON equivalent (non-scalar key, unknown tag, `.inf`).
    UnsupportedNode,
}

impl SyntaxErrorKind {
    pub const ALL: [SyntaxErrorKind; 11] = [
        SyntaxErrorKind::YamlSyntax,
        SyntaxErrorKind::DuplicateKey,
        SyntaxErrorKind::MultipleDocuments,
        SyntaxErrorKind::EmptyFile,
        SyntaxErrorKind::RootNotMapping,
        SyntaxErrorKind::InvalidUtf8,
        SyntaxErrorKind::NulByte,
        SyntaxErrorKind::NestingTooDeep,
        SyntaxErrorKind::AliasExpansionLimit,
        SyntaxErrorKind::FileTooLarge,
        SyntaxErrorKind::UnsupportedNode,
    ];
}

/// One syntax problem, built like a diagnostic (label, secondary labels,
/// help) but without a code: the checker gives it one.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub kind: SyntaxErrorKind,
    pub message: String,
    pub primary: Label,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl SyntaxError {
    pub fn new(kind: SyntaxErrorKind, message: impl Into<String>, span: Span) -> Self {
        SyntaxError {
            kind,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            labels: Vec::new(),
            help: None,
        }
    }

    /// The note drawn under the primary span.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// A secondary location.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn span(&self) -> Span {
        self.primary.span
    }
}
