//! Renderers: the same findings as human text, JSON, SARIF 2.1.0, GitHub
//! workflow commands and a GitLab Code Quality report. Each takes the
//! findings grouped by file, already in the order they should appear
//! (callers sort; renderers never reorder).

mod github;
mod gitlab;
mod human;
mod json;
mod sarif;

pub use github::render_github;
pub use gitlab::render_gitlab;
pub use human::{render_human, HumanOptions};
pub use json::{render_json, JsonDiagnostic};
pub use sarif::{render_sarif, ArtifactPath, Notification, SarifRule, SarifRun};

use crate::{Diagnostic, LineCol, SourceFile};

/// The findings for one file, with the path as it should be shown.
#[derive(Clone, Debug)]
pub struct FileDiagnostics {
    pub source: SourceFile,
    /// The path shown to users: as given on the command line, with `/` separators.
    pub display_path: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Start and end of a diagnostic's primary span as 1-based line/column.
/// The end column is exclusive, as in SARIF and LSP.
pub(crate) fn primary_range(source: &SourceFile, diagnostic: &Diagnostic) -> (LineCol, LineCol) {
    let span = diagnostic.span();
    (source.line_col(span.start), source.line_col(span.end))
}
