use std::fmt;

use serde::Serialize;

use crate::Span;

/// How bad a finding is. Ordered so that `Error > Warning > Info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte range with a short note, drawn under the source line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding about one source file.
///
/// Built like oxc's diagnostics: start from [`Diagnostic::error`] (or
/// `warning`, `info`), then add the primary label, secondary labels and help.
/// `code` is the stable rule code (`L201`), `rule` its kebab-case name
/// (`unknown-reference`); both are what users put in configuration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where the finding is; its start is the `file:line:col` users see.
    pub primary: Label,
    /// Other places that explain the finding (the first definition of a
    /// duplicate, the rest of a cycle).
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// A safe, mechanical repair (`loopc check --fix`), when the rule knows one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// One replacement of source bytes: `span` (byte offsets) becomes `replacement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

/// Edits that repair a finding, with what they do in words. Edits never
/// overlap; applied together they change only the bytes they name, so
/// comments and formatting elsewhere stay as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub message: String,
    pub edits: Vec<Edit>,
}

impl Fix {
    /// One replacement.
    pub fn replace(span: Span, replacement: impl Into<String>, message: impl Into<String>) -> Self {
        Fix {
            message: message.into(),
            edits: vec![Edit {
                span,
                replacement: replacement.into(),
            }],
        }
    }

    /// `text` with the edits applied; `None` when an edit falls outside the
    /// text, off a character boundary, or overlaps another.
    pub fn apply(&self, text: &str) -> Option<String> {
        let mut edits: Vec<&Edit> = self.edits.iter().collect();
        edits.sort_by_key(|e| e.span.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for edit in edits {
            let (start, end) = (edit.span.start, edit.span.end);
            if start < at || end < start || !text.is_char_boundary(start) || !text.is_char_boundary(end.min(text.len())) || end > text.len()
            {
                return None;
            }
            out.push_str(&text[at..start]);
            out.push_str(&edit.replacement);
            at = end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &'static str, rule: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            rule,
            severity,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            labels: Vec::new(),
            help: None,
            fix: None,
        }
    }

    pub fn error(code: &'static str, rule: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Error, code, rule, message, span)
    }

    pub fn warning(code: &'static str, rule: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Warning, code, rule, message, span)
    }

    pub fn info(code: &'static str, rule: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(Severity::Info, code, rule, message, span)
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

    pub fn with_fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn span(&self) -> Span {
        self.primary.span
    }
}

/// What a renderer needs to know about a rule beyond a single finding:
/// SARIF lists every rule with its description and default level.
#[derive(Clone, Copy, Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub rule: &'static str,
    pub summary: &'static str,
    pub default_severity: Severity,
}
