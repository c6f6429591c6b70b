use std::collections::HashMap;

use loopc_diagnostics::{Diagnostic, Fix};
use loopc_ir::Sp;

use super::Rule;
use crate::registry::declare_rule;
use crate::Context;

declare_rule! {
    /// ## What it does
    /// Reports an id defined twice among workers, evaluators, feedback
    /// channels or safety constraints, or a metric name defined twice; the
    /// second definition is the error and the first is labelled.
    ///
    /// ## Why
    /// Every reference to a duplicated id is ambiguous: which evaluator does
    /// `evaluators.test_suite` mean, which metric does success test? Tools
    /// resolve it differently (first wins, last wins, both run).
    ///
    /// ## Fix
    /// `loopc check --fix` renames the second definition (`test_suite` →
    /// `test_suite_2`) when that cannot change what any reference means:
    /// only when the id is written nowhere else in the file (no reference,
    /// no comment naming it) and the new name is not written anywhere either.
    ///
    /// ## Example
    /// ```yaml
    /// evaluators:
    ///   - id: test_suite
    ///     type: deterministic
    ///   - id: test_suite       # L202
    ///     type: llm_rubric
    /// ```
    pub struct DuplicateId { code: "L202", name: "duplicate-id", group: "references", severity: Error, summary: "Two workers, evaluators, feedback channels, metrics or safety constraints share an id." }
}

/// Pairs `(first, repeat)` of equal names, in order of the repeats.
pub(crate) fn duplicates<'a>(names: impl Iterator<Item = &'a Sp<String>>) -> Vec<(&'a Sp<String>, &'a Sp<String>)> {
    let mut first: HashMap<&str, &Sp<String>> = HashMap::new();
    let mut pairs = Vec::new();
    for name in names {
        match first.get(name.as_str()) {
            Some(original) => pairs.push((*original, name)),
            None => {
                first.insert(name.as_str(), name);
            }
        }
    }
    pairs
}

impl Rule for DuplicateId {
    fn check(&self, cx: &Context<'_>, out: &mut Vec<Diagnostic>) {
        let spec = cx.spec;
        let groups: [(&str, &str, Vec<&Sp<String>>); 5] = [
            ("worker", "id", spec.workers.iter().filter_map(|w| w.id.as_ref()).collect()),
            ("evaluator", "id", spec.evaluators.iter().filter_map(|e| e.id.as_ref()).collect()),
            (
                "feedback channel",
                "id",
                spec.feedback_channels.iter().filter_map(|f| f.id.as_ref()).collect(),
            ),
            ("metric", "name", spec.metrics.iter().filter_map(|m| m.name.as_ref()).collect()),
            (
                "safety constraint",
                "id",
                spec.safety_constraints.iter().filter_map(|s| s.id.as_ref()).collect(),
            ),
        ];
        for (what, key, names) in groups {
            for (first, repeat) in duplicates(names.into_iter()) {
                let mut d = cx
                    .report(&DuplicateId, repeat.span, format!("duplicate {what} {key} `{}`", repeat.as_str()))
                    .with_label("defined again here")
                    .with_secondary(first.span, "first defined here")
                    .with_help(format!("every {what} needs a unique {key}; rename or remove one of them"));
                d.fix = rename_second(cx.source_text, repeat);
                out.push(d);
            }
        }
    }
}

/// The fix for a duplicate: give the second definition a fresh name, but
/// only when the id is written exactly twice in the whole text (the two
/// definitions). Any other mention — a reference, a comment, a prompt that
/// names it — might mean either definition, and renaming one would pick for
/// the author.
fn rename_second(source: &str, repeat: &Sp<String>) -> Option<Fix> {
    let id = repeat.as_str();
    let (span, written) = crate::fixes::unquoted(source, repeat.span)?;
    if written != id || occurrences(source, id).count() != 2 {
        return None;
    }
    // Keep the id's own style: `injection-guard` → `injection-guard-2`.
    let separator = if id.contains('-') && !id.contains('_') { '-' } else { '_' };
    let fresh = (2..100)
        .map(|n| format!("{id}{separator}{n}"))
        .find(|name| occurrences(source, name).next().is_none())?;
    let message = format!("rename the second `{id}` to `{fresh}`");
    Some(Fix::replace(span, fresh, message))
}

/// Byte offsets where `word` is written as a whole name (not inside a
/// longer id: `coder` is not found in `coder_2` or `coders`).
fn occurrences<'s>(source: &'s str, word: &'s str) -> impl Iterator<Item = usize> + 's {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    source.match_indices(word).map(|(at, _)| at).filter(move |&at| {
        let before = source[..at].chars().next_back();
        let after = source[at + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loopc_diagnostics::Span;

    fn at(source: &str, nth: usize, id: &str) -> Sp<String> {
        let start = source.match_indices(id).nth(nth).unwrap().0;
        Sp::new(id.to_owned(), Span::new(start, start + id.len()))
    }

    #[test]
    fn whole_names_only() {
        let text = "a: coder\nb: coder_2\nc: workers.coder\nd: coders\n";
        assert_eq!(occurrences(text, "coder").collect::<Vec<_>>(), [3, 31]);
    }

    #[test]
    fn renames_the_second_when_nothing_else_names_it() {
        let text = "- id: guard\n- id: guard\n- id: guard_2x\n";
        let fix = rename_second(text, &at(text, 1, "guard")).unwrap();
        assert_eq!(fix.apply(text).unwrap(), "- id: guard\n- id: guard_2\n- id: guard_2x\n");
        let quoted = "- id: 'a-b'\n- id: 'a-b'\n";
        let fix = rename_second(quoted, &at(quoted, 1, "a-b")).unwrap();
        assert_eq!(fix.apply(quoted).unwrap(), "- id: 'a-b'\n- id: 'a-b-2'\n");
    }

    #[test]
    fn no_fix_when_a_reference_or_comment_names_the_id() {
        let referenced = "- id: coder\n- id: coder\nsource: workers.coder\n";
        assert!(rename_second(referenced, &at(referenced, 1, "coder")).is_none());
        let commented = "- id: coder # the coder\n- id: coder\n";
        assert!(rename_second(commented, &at(commented, 2, "coder")).is_none());
    }
}
