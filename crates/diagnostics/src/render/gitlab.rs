use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{primary_range, FileDiagnostics};
use crate::Severity;

/// One entry of a GitLab Code Quality report (a subset of the Code Climate
/// issue format that GitLab reads).
#[derive(Serialize)]
struct Issue<'a> {
    description: String,
    check_name: &'static str,
    fingerprint: String,
    severity: &'static str,
    location: Location<'a>,
}

#[derive(Serialize)]
struct Location<'a> {
    path: &'a str,
    positions: Positions,
}

#[derive(Serialize)]
struct Positions {
    begin: Position,
    end: Position,
}

#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
}

/// A GitLab Code Quality report: a JSON array GitLab shows in the merge
/// request (`artifacts: reports: codequality:`).
///
/// GitLab tells new findings from fixed ones by `fingerprint`, comparing the
/// report of the merge request with that of its target branch. The
/// fingerprint therefore leaves the line out (a finding that moved because
/// lines were added above it is not new): it hashes the path, the rule and
/// the message, with a counter that keeps identical findings in one file
/// apart.
pub fn render_gitlab(files: &[FileDiagnostics]) -> String {
    let mut issues = Vec::new();
    for file in files {
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for d in &file.diagnostics {
            let (start, end) = primary_range(&file.source, d);
            let occurrence = seen.entry((d.code, d.message.as_str())).or_default();
            *occurrence += 1;
            let mut description = format!("{} [{}]", d.message, d.rule);
            if let Some(help) = &d.help {
                description.push_str("; help: ");
                description.push_str(help);
            }
            issues.push(Issue {
                description,
                check_name: d.code,
                fingerprint: fingerprint(&file.display_path, d.code, &d.message, *occurrence),
                severity: match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                    Severity::Info => "info",
                },
                location: Location {
                    path: &file.display_path,
                    positions: Positions {
                        begin: Position {
                            line: start.line,
                            column: start.column,
                        },
                        end: Position {
                            line: end.line,
                            column: end.column,
                        },
                    },
                },
            });
        }
    }
    serde_json::to_string_pretty(&issues).expect("issues serialize") + "\n"
}

fn fingerprint(path: &str, code: &str, message: &str, occurrence: usize) -> String {
    let mut hash = Sha256::new();
    for part in [path, code, message, &occurrence.to_string()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Diagnostic, SourceFile, Span};

    #[test]
    fn identical_findings_get_distinct_fingerprints_that_ignore_the_line() {
        let text = "a: 1\nb: 1\n";
        let at = |line_start: usize| Diagnostic::warning("L999", "test-rule", "same message", Span::new(line_start, line_start + 1));
        let report = |text: &str, starts: [usize; 2]| -> Vec<serde_json::Value> {
            let file = FileDiagnostics {
                source: SourceFile::new("x.yaml", text),
                display_path: "x.yaml".into(),
                diagnostics: starts.iter().map(|&s| at(s)).collect(),
            };
            serde_json::from_str(&render_gitlab(&[file])).unwrap()
        };
        let issues = report(text, [0, 5]);
        assert_ne!(issues[0]["fingerprint"], issues[1]["fingerprint"]);
        assert_eq!(issues[1]["location"]["positions"]["begin"]["line"], 2);
        // The same two findings two lines further down keep their fingerprints.
        let moved = report(&format!("\n\n{text}"), [2, 7]);
        assert_eq!(moved[1]["location"]["positions"]["begin"]["line"], 4);
        assert_eq!(moved[0]["fingerprint"], issues[0]["fingerprint"]);
        assert_eq!(moved[1]["fingerprint"], issues[1]["fingerprint"]);
    }
}
