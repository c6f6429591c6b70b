use serde_json::{json, Value};

use super::{primary_range, FileDiagnostics};
use crate::{RuleMeta, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A SARIF 2.1.0 log with one run, in the subset GitHub code scanning reads:
/// every rule with its descriptions and help link, results with
/// `%SRCROOT%`-relative URIs and 1-based regions.
///
/// `rules` is the whole rule registry (listed even when silent, so that code
/// scanning can show rule help); `docs_url` is the base of per-rule links.
pub fn render_sarif(files: &[FileDiagnostics], rules: &[RuleMeta], tool_version: &str, docs_url: &str) -> String {
    let rule_index = |code: &str| rules.iter().position(|r| r.code == code);
    let driver_rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.rule,
                "shortDescription": { "text": r.summary },
                "fullDescription": { "text": format!("{} ({}). Run `loopc explain {}` for details.", r.summary, r.rule, r.code) },
                "helpUri": format!("{docs_url}#{}", r.code.to_ascii_lowercase()),
                "help": { "text": format!("loopc explain {}", r.code) },
                "defaultConfiguration": { "level": level(r.default_severity) },
            })
        })
        .collect();

    let mut results = Vec::new();
    for file in files {
        let uri = file.display_path.trim_start_matches("./");
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
                        "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
                        "region": {
                            "startLine": start.line,
                            "startColumn": start.column,
                            "endLine": end.line,
                            "endColumn": end.column.max(if end.line == start.line { start.column + 1 } else { 1 }),
                        }
                    }
                }],
            });
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
                            "artifactLocation": { "uri": uri, "uriBaseId": "%SRCROOT%" },
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
    }

    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "loopc",
                "version": tool_version,
                "informationUri": docs_url,
                "rules": driver_rules,
            }},
            "originalUriBaseIds": { "%SRCROOT%": { "description": { "text": "The repository root (the working directory of the run)." } } },
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).expect("SARIF serializes");
    out.push('\n');
    out
}
