//! loopc's values as the protocol's: paths as `file:` URIs, findings as
//! diagnostics, fixes as quick-fix code actions.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use loopc_diagnostics::{Diagnostic, Severity};
use lsp_types as lsp;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::position::LineIndex;

/// What the server says about each rule: the `loopc explain` text and the
/// address of its section of docs/rules.md (the same pages SARIF links to).
#[derive(Clone, Debug, Default)]
pub struct RuleDocs {
    rules: HashMap<String, RuleDoc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDoc {
    /// `loopc explain CODE`.
    pub text: String,
    /// The rule's documentation on the web.
    pub url: Option<String>,
}

impl RuleDocs {
    pub fn insert(&mut self, code: impl Into<String>, doc: RuleDoc) {
        self.rules.insert(code.into(), doc);
    }

    pub fn get(&self, code: &str) -> Option<&RuleDoc> {
        self.rules.get(code)
    }
}

/// The local path of a `file:` URI (`None` for other schemes, such as an
/// editor's unsaved `untitled:` buffers).
pub fn uri_to_path(uri: &lsp::Uri) -> Option<PathBuf> {
    if !uri.scheme().is_some_and(|s| s.as_str().eq_ignore_ascii_case("file")) {
        return None;
    }
    let decoded = percent_decode_str(uri.path().as_str()).decode_utf8().ok()?;
    Some(PathBuf::from(decoded.as_ref()))
}

/// Bytes a path keeps as they are in a URI: unreserved characters and `/`.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The `file:` URI of an absolute path.
pub fn path_to_uri(path: &Path) -> Option<lsp::Uri> {
    let text = path.to_str()?;
    format!("file://{}", utf8_percent_encode(text, PATH)).parse().ok()
}

fn severity(severity: Severity) -> lsp::DiagnosticSeverity {
    match severity {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Info => lsp::DiagnosticSeverity::INFORMATION,
    }
}

/// A finding as the protocol has it: its code is the rule's, linked to the
/// rule's documentation; its help follows the message, and its other
/// labels are related locations in the same file.
pub fn diagnostic(d: &Diagnostic, index: &LineIndex, uri: &lsp::Uri, docs: &RuleDocs) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .labels
        .iter()
        .map(|label| lsp::DiagnosticRelatedInformation {
            location: lsp::Location::new(uri.clone(), index.range(label.span)),
            message: label.message.clone(),
        })
        .collect();
    lsp::Diagnostic {
        range: index.range(d.primary.span),
        severity: Some(severity(d.severity)),
        code: Some(lsp::NumberOrString::String(d.code.to_owned())),
        code_description: docs
            .get(d.code)
            .and_then(|doc| doc.url.as_deref())
            .and_then(|url| url.parse().ok())
            .map(|href| lsp::CodeDescription { href }),
        source: Some("loopc".to_owned()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}

/// The quick fixes of the findings that meet `range`: each finding's
/// `--fix` edit, as the one preferred action for that finding.
pub fn quick_fixes(
    diagnostics: &[Diagnostic],
    index: &LineIndex,
    uri: &lsp::Uri,
    docs: &RuleDocs,
    range: lsp::Range,
) -> Vec<lsp::CodeActionOrCommand> {
    let meets = |r: lsp::Range| r.start <= range.end && range.start <= r.end;
    diagnostics
        .iter()
        .filter(|d| meets(index.range(d.primary.span)))
        .filter_map(|d| {
            let fix = d.fix.as_ref()?;
            let edits = fix
                .edits
                .iter()
                .map(|e| lsp::TextEdit::new(index.range(e.span), e.replacement.clone()))
                .collect();
            Some(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: format!("{} ({})", fix.message, d.code),
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic(d, index, uri, docs)]),
                edit: Some(lsp::WorkspaceEdit::new(HashMap::from([(uri.clone(), edits)]))),
                is_preferred: Some(true),
                ..lsp::CodeAction::default()
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use loopc_diagnostics::{Fix, Span};

    use super::*;

    #[test]
    fn file_uris_and_paths_round_trip() {
        let path = Path::new("/tmp/a dir/spé c#1.yaml");
        let uri = path_to_uri(path).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20dir/sp%C3%A9%20c%231.yaml");
        assert_eq!(uri_to_path(&uri).as_deref(), Some(path));
        let untitled: lsp::Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(uri_to_path(&untitled), None);
    }

    #[test]
    fn a_finding_keeps_its_code_link_range_and_fix() {
        let text = "a: é\nb: planer\n";
        let index = LineIndex::new(text);
        let uri: lsp::Uri = "file:///x.yaml".parse().unwrap();
        let at = Span::new(9, 15);
        let finding = Diagnostic::error("L201", "unknown-reference", "unknown worker `planer`", at)
            .with_help("did you mean `planner`?")
            .with_secondary(Span::new(0, 1), "here")
            .with_fix(Fix::replace(at, "planner", "replace `planer` with `planner`"));
        let mut docs = RuleDocs::default();
        docs.insert(
            "L201",
            RuleDoc {
                text: "L201 unknown-reference".into(),
                url: Some("https://example.com/rules.md#l201".into()),
            },
        );
        let d = diagnostic(&finding, &index, &uri, &docs);
        assert_eq!(d.range, lsp::Range::new(lsp::Position::new(1, 3), lsp::Position::new(1, 9)));
        assert_eq!(d.code, Some(lsp::NumberOrString::String("L201".into())));
        assert_eq!(d.code_description.unwrap().href.as_str(), "https://example.com/rules.md#l201");
        assert_eq!(d.severity, Some(lsp::DiagnosticSeverity::ERROR));
        assert!(d.message.ends_with("help: did you mean `planner`?"));
        assert_eq!(d.related_information.unwrap().len(), 1);
        let everywhere = lsp::Range::new(lsp::Position::new(0, 0), lsp::Position::new(9, 0));
        let actions = quick_fixes(std::slice::from_ref(&finding), &index, &uri, &docs, everywhere);
        let [lsp::CodeActionOrCommand::CodeAction(action)] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        let edits = &action.edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri];
        assert_eq!(edits[0].new_text, "planner");
        let elsewhere = lsp::Range::new(lsp::Position::new(0, 0), lsp::Position::new(0, 1));
        assert!(quick_fixes(&[finding], &index, &uri, &docs, elsewhere).is_empty());
    }
}
