//! Safe fixes (`loopc check --fix`): byte-span edits attached to findings,
//! and the loop that applies them one at a time, keeping each only when the
//! file checks cleaner after it.

use std::path::Path;

use loopc_diagnostics::{Diagnostic, Fix, Span};
use loopc_ir::{Sp, Spec};

use crate::Checker;

/// The span of a scalar's text inside `span` (inside its quotes, if any).
pub fn unquoted(source: &str, span: Span) -> Option<(Span, &str)> {
    let raw = source.get(span.start..span.end)?;
    let quoted = raw.len() >= 2 && (raw.starts_with('"') && raw.ends_with('"') || raw.starts_with('\'') && raw.ends_with('\''));
    Some(if quoted {
        (Span::new(span.start + 1, span.end - 1), &raw[1..raw.len() - 1])
    } else {
        (span, raw)
    })
}

/// The span of `tail`, the end of the scalar `at` (an id after its
/// `workers.` prefix), when the scalar is written as its value.
pub(crate) fn tail_span(source: &str, at: &Sp<String>, tail: &str) -> Option<Span> {
    let (span, written) = unquoted(source, at.span)?;
    (written == at.value && written.ends_with(tail)).then(|| Span::new(span.end - tail.len(), span.end))
}

/// Fixes for schema errors on references that the IR read as meant
/// (`source: tests` → `evaluators.tests`, see `loopc_ir`'s `meant`): the
/// finding at the reference's span gets the edit to the meant text.
pub(crate) fn meant_references(source: &str, spec: &Spec, diagnostics: &mut [Diagnostic]) {
    let references = spec
        .workers
        .iter()
        .flat_map(|w| w.inputs.iter())
        .chain(spec.feedback_channels.iter().flat_map(|f| f.source.iter().chain(&f.destination)))
        .chain(spec.metrics.iter().filter_map(|m| m.source.as_ref()));
    for reference in references {
        let Some((span, written)) = unquoted(source, reference.span) else {
            continue;
        };
        if written == reference.value || written.contains(['\\', '\n', '\'', '"']) {
            continue;
        }
        for d in diagnostics
            .iter_mut()
            .filter(|d| d.code == "L101" && d.primary.span == reference.span && d.fix.is_none())
        {
            d.fix = Some(Fix::replace(
                span,
                reference.value.clone(),
                format!("write `{written}` as `{}`", reference.value),
            ));
        }
    }
}

/// What `--fix` did to one file.
#[derive(Debug, Default)]
pub struct Fixed {
    /// The file's text after the kept fixes.
    pub text: String,
    /// What each kept fix did, in order.
    pub applied: Vec<String>,
    /// Findings before and after.
    pub before: usize,
    pub after: usize,
}

/// Most fixes tried on one file (each is a re-check).
const MAX_ATTEMPTS: usize = 200;

/// Apply the fixes of `path`'s findings one at a time: each is kept only
/// when the file has fewer findings after it (a fix that does not make the
/// file cleaner is dropped), then the file is checked again for the next.
pub fn fix_text(checker: &Checker, path: &Path, text: &str) -> Fixed {
    let count = |text: &str| checker.check_bytes(path, text.as_bytes()).diagnostics;
    let mut current = text.to_owned();
    let mut findings = count(&current);
    let before = findings.len();
    let mut applied = Vec::new();
    let mut rejected: Vec<(String, String)> = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        let candidate = findings
            .iter()
            .filter_map(|d| d.fix.as_ref().map(|f| (d, f)))
            .find(|(d, f)| !rejected.iter().any(|(code, message)| code == d.code && *message == f.message));
        let Some((d, fix)) = candidate else { break };
        let key = (d.code.to_owned(), fix.message.clone());
        match fix.apply(&current) {
            Some(next) => {
                let after = count(&next);
                if after.len() < findings.len() {
                    applied.push(format!("{}: {}", d.code, fix.message));
                    current = next;
                    findings = after;
                } else {
                    rejected.push(key);
                }
            }
            None => rejected.push(key),
        }
    }
    Fixed {
        text: current,
        applied,
        before,
        after: findings.len(),
    }
}
