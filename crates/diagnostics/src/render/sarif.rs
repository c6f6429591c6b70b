use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{primary_range, FileDiagnostics};
use crate::{RuleMeta, Severity};

mod fingerprint;
mod uri;

use uri::{file_uri, relative_uri};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A rule as `tool.driver.rules` lists it, with its documentation.
#[derive(Clone, Debug)]
pub struct SarifRule {
    pub meta: RuleMeta,
    /// The first paragraph of the documentation (`fullDescription`).
    pub full_description: String,
    /// The whole documentation as plain text (`help.text`).
    pub help_text: String,
    /// The same as Markdown (`help.markdown`).
    pub help_markdown: String,
    /// Where the documentation is on the web (`helpUri`).
    pub help_uri: String,
}

/// Where a file is, as a SARIF artifact location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactPath {
    /// Under `%SRCROOT%`: the path relative to it.
    InRoot(PathBuf),
    /// Elsewhere: the absolute path (a `file:///` URI with no base).
    Outside(PathBuf),
}

/// A problem that kept loopc from checking something (a path that could
/// not be read): `invocations[0].toolExecutionNotifications`.
#[derive(Clone, Debug)]
pub struct Notification {
    pub message: String,
    /// The file or directory it is about, as given (located like the checked files).
    pub path: Option<PathBuf>,
}

/// What a SARIF log says beyond the findings.
pub struct SarifRun<'a> {
    pub tool_version: &'a str,
    /// The tool's home page (`tool.driver.informationUri`).
    pub information_uri: &'a str,
    /// The whole rule registry (listed even when silent, so that code
    /// scanning can show every rule's help).
    pub rules: &'a [SarifRule],
    /// The absolute directory `%SRCROOT%` stands for, when known.
    pub root: Option<&'a Path>,
    /// Where a path, as the checked file's `SourceFile::path` gives it, is.
    pub locate: &'a dyn Fn(&Path) -> ArtifactPath,
    /// Paths that could not be read; any makes the run unsuccessful.
    pub notifications: &'a [Notification],
}

fn artifact_location(path: &ArtifactPath) -> Value {
    match path {
        ArtifactPath::InRoot(relative) => json!({ "uri": relative_uri(relative), "uriBaseId": "%SRCROOT%" }),
        ArtifactPath::Outside(absolute) => json!({ "uri": file_uri(absolute, false) }),
    }
}

fn driver_rule(r: &SarifRule) -> Value {
    json!({
        "id": r.meta.code,
        "name": r.meta.rule,
        "shortDescription": { "text": r.meta.summary },
        "fullDescription": { "text": r.full_description },
        "helpUri": r.help_uri,
        "help": { "text": r.help_text, "markdown": r.help_markdown },
        "defaultConfiguration": { "level": level(r.meta.default_severity) },
    })
}

/// The results of one file, in the order given.
fn file_results(file: &FileDiagnostics, location: &Value, rule_index: &dyn Fn(&str) -> Option<usize>) -> Vec<Value> {
    let mut fingerprints = fingerprint::Fingerprints::default();
    let mut results = Vec::new();
    for d in &file.diagnostics {
        let (start, end) = primary_range(&file.source, d);
        let mut text = d.message.clone();
        if let Some(help) = &d.help {
            text.push_str("\nhelp: ");
            text.push_str(help);
        }
        let mut result = json!({
            "ruleId": d.code,
            "level": level(d.severity),
            "message": { "text": text },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": location,
                    "region": {
                        "startLine": start.line,
                        "startColumn": start.column,
                        "endLine": end.line,
                        "endColumn": end.column.max(if end.line == start.line { start.column + 1 } else { 1 }),
                    }
                }
            }],
        });
        let print = fingerprints.next(d.code, file.source.line_text(start.line));
        result["partialFingerprints"] = Value::Object([(fingerprint::KEY.to_owned(), json!(print))].into_iter().collect());
        if let Some(index) = rule_index(d.code) {
            result["ruleIndex"] = json!(index);
        }
        let related: Vec<Value> = d
            .labels
            .iter()
            .enumerate()
            .map(|(i, label)| {
                let (s, e) = (file.source.line_col(label.span.start), file.source.line_col(label.span.end));
                json!({
                    "id": i + 1,
                    "message": { "text": label.message },
                    "physicalLocation": {
                        "artifactLocation": location,
                        "region": { "startLine": s.line, "startColumn": s.column, "endLine": e.line, "endColumn": e.column }
                    }
                })
            })
            .collect();
        if !related.is_empty() {
            result["relatedLocations"] = Value::Array(related);
        }
        results.push(result);
    }
    results
}

/// `invocations[0]`: successful unless a path could not be read, each
/// such path a notification at level error.
fn invocation(run: &SarifRun<'_>) -> Value {
    let notifications: Vec<Value> = run
        .notifications
        .iter()
        .map(|n| {
            let mut notification = json!({ "level": "error", "message": { "text": n.message } });
            if let Some(path) = &n.path {
                notification["locations"] = json!([{ "physicalLocation": { "artifactLocation": artifact_location(&(run.locate)(path)) } }]);
            }
            notification
        })
        .collect();
    let mut invocation = json!({ "executionSuccessful": notifications.is_empty() });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    invocation
}

/// A SARIF 2.1.0 log with one run, as GitHub code scanning reads it: every
/// rule with its documentation, results with URIs relative to `%SRCROOT%`
/// (percent-encoded), 1-based regions in Unicode code points, and
/// `partialFingerprints` that leave the line number out.
pub fn render_sarif(files: &[FileDiagnostics], run: &SarifRun<'_>) -> String {
    let rule_index = |code: &str| run.rules.iter().position(|r| r.meta.code == code);
    let mut results = Vec::new();
    for file in files {
        let location = artifact_location(&(run.locate)(file.source.path()));
        results.extend(file_results(file, &location, &rule_index));
    }
    let mut root = json!({
        "description": { "text": "The repository root: the nearest directory upward from the working directory that has `.git`, or `loopc check --sarif-root DIR`." }
    });
    if let Some(dir) = run.root {
        root["uri"] = json!(file_uri(dir, true));
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "loopc",
                "version": run.tool_version,
                "informationUri": run.information_uri,
                "rules": run.rules.iter().map(driver_rule).collect::<Vec<_>>(),
            }},
            "invocations": [invocation(run)],
            "originalUriBaseIds": { "%SRCROOT%": root },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}
