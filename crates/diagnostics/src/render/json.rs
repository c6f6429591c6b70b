use serde::Serialize;

use super::{primary_range, FileDiagnostics};
use crate::Severity;

/// The stable JSON shape of one diagnostic (`--format json`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub rule: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<JsonLabel>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct JsonLabel {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub message: String,
}

#[derive(Serialize)]
struct JsonReport<'a, S: Serialize> {
    diagnostics: Vec<JsonDiagnostic>,
    summary: &'a S,
}

/// One JSON object: `{"diagnostics": [...], "summary": ...}` where the summary
/// is whatever the caller counts (files, errors, warnings, ...).
pub fn render_json<S: Serialize>(files: &[FileDiagnostics], summary: &S) -> String {
    let diagnostics = files.iter().flat_map(json_diagnostics).collect();
    let mut out = serde_json::to_string_pretty(&JsonReport { diagnostics, summary }).expect("diagnostics serialize");
    out.push('\n');
    out
}

fn json_diagnostics(file: &FileDiagnostics) -> impl Iterator<Item = JsonDiagnostic> + '_ {
    file.diagnostics.iter().map(move |d| {
        let (start, end) = primary_range(&file.source, d);
        JsonDiagnostic {
            file: file.display_path.clone(),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            severity: d.severity,
            code: d.code,
            rule: d.rule,
            message: d.message.clone(),
            help: d.help.clone(),
            labels: std::iter::once(&d.primary)
                .filter(|l| !l.message.is_empty())
                .chain(&d.labels)
                .map(|label| {
                    let (s, e) = (file.source.line_col(label.span.start), file.source.line_col(label.span.end));
                    JsonLabel {
                        line: s.line,
                        column: s.column,
                        end_line: e.line,
                        end_column: e.column,
                        message: label.message.clone(),
                    }
                })
                .collect(),
        }
    })
}
