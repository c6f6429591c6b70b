//! Inline suppressions, as `# noqa` in ruff: a comment
//! `# loopc: allow L412` (codes or rule names, separated by commas or
//! spaces) silences those findings on its line and on the line below it;
//! `# loopc: allow-file L420` in the comments at the top of a file silences
//! them in the whole file. A suppression that silences nothing, or names
//! no rule, is itself a finding ([`UnusedSuppression`]).

use loopc_diagnostics::{Diagnostic, SourceFile, Span};

use crate::registry::{declare_rule, find_rule};

declare_rule! {
    /// ## What it does
    /// Reports a `# loopc: allow …` comment that silences nothing: no
    /// finding of the named rule is on its line or the line below (or, for
    /// `allow-file`, in the file), the rule does not exist, or an
    /// `allow-file` comment is not among the comments at the top of the file.
    ///
    /// ## Why
    /// A suppression outlives the finding it was written for; left behind,
    /// it would silence the next, unrelated finding of that rule there.
    ///
    /// ## Example
    /// ```yaml
    /// # loopc: allow-file L420
    /// loop_name: fix-ci
    /// workers:
    ///   - id: coder   # loopc: allow L419 — L012 when coder is used after all
    /// ```
    pub struct UnusedSuppression { code: "L012", name: "unused-suppression", group: "syntax", severity: Warning, summary: "A `# loopc: allow` comment silences nothing." }
}

/// One rule named in a suppression comment.
#[derive(Debug)]
struct Key {
    text: String,
    span: Span,
    /// The rule's code, when `text` names one.
    code: Option<&'static str>,
    used: bool,
}

#[derive(Debug)]
struct Suppression {
    /// 1-based line of the comment.
    line: usize,
    file_wide: bool,
    /// `allow-file` below the file's leading comments: it silences nothing.
    misplaced: bool,
    keys: Vec<Key>,
}

const MARKER: &str = "loopc:";

/// The suppressions in `source` (YAML comments: a `#` at the start of a
/// line or after a space; JSON has no comments).
fn find(source: &SourceFile) -> Vec<Suppression> {
    let mut out = Vec::new();
    let mut in_header = true;
    for line in 1..=source.line_count() {
        let text = source.line_text(line);
        let trimmed = text.trim_start();
        let comment_line = trimmed.starts_with('#') || trimmed.is_empty();
        let Some(hash) = comment_start(text) else {
            in_header &= comment_line;
            continue;
        };
        let after = text[hash + 1..].trim_start();
        let Some(rest) = after.strip_prefix(MARKER) else {
            in_header &= comment_line;
            continue;
        };
        let rest_at = text.len() - rest.len();
        let rest_trimmed = rest.trim_start();
        let (file_wide, list) = if let Some(l) = rest_trimmed.strip_prefix("allow-file") {
            (true, l)
        } else if let Some(l) = rest_trimmed.strip_prefix("allow") {
            (false, l)
        } else {
            in_header &= comment_line;
            continue;
        };
        let list_at = rest_at + (rest.len() - list.len());
        let mut keys = Vec::new();
        let mut offset = list_at;
        for piece in list.split([',', ' ', '\t']) {
            let start = offset;
            offset += piece.len() + 1;
            // Text after the list (`— because …`) is a comment on the comment.
            if piece.is_empty() {
                continue;
            }
            if !piece.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                break;
            }
            let at = source.line_start(line) + start;
            keys.push(Key {
                text: piece.to_owned(),
                span: Span::new(at, at + piece.len()),
                code: find_rule(piece).map(|r| r.code),
                used: false,
            });
        }
        out.push(Suppression {
            line,
            file_wide,
            misplaced: file_wide && !(in_header && comment_line),
            keys,
        });
        in_header &= comment_line;
    }
    out
}

/// Where a YAML comment starts in a line: a `#` at its start or after
/// whitespace, outside quotes.
fn comment_start(line: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' && prev.is_whitespace() => return Some(i),
            None if (c == '"' || c == '\'') && (prev.is_whitespace() || prev == ':' || prev == '[' || prev == ',') => quote = Some(c),
            None => {}
        }
        prev = c;
    }
    None
}

/// Drop the findings a suppression silences and add a finding for each
/// suppression that silences nothing.
pub(crate) fn apply(source: &SourceFile, diagnostics: &mut Vec<Diagnostic>) {
    if !source.text().contains(MARKER) {
        return;
    }
    let mut suppressions = find(source);
    if suppressions.is_empty() {
        return;
    }
    diagnostics.retain(|d| {
        let line = source.line_col(d.primary.span.start).line;
        let mut silenced = false;
        for s in suppressions.iter_mut().filter(|s| !s.misplaced) {
            if !(s.file_wide || s.line == line || s.line + 1 == line) {
                continue;
            }
            for k in s.keys.iter_mut().filter(|k| k.code == Some(d.code)) {
                k.used = true;
                silenced = true;
            }
        }
        !silenced
    });
    for s in &suppressions {
        for k in s.keys.iter().filter(|k| !k.used) {
            let message = if k.code.is_none() {
                format!("`{}` is not a loopc rule; this suppression silences nothing", k.text)
            } else if s.misplaced {
                format!(
                    "`allow-file {}` is not among the comments at the top of the file; it silences nothing",
                    k.text
                )
            } else if s.file_wide {
                format!("no `{}` finding in this file; the suppression silences nothing", k.text)
            } else {
                format!("no `{}` finding on this line or the next; the suppression silences nothing", k.text)
            };
            let mut d = UnusedSuppression::INFO.diagnostic(k.span, message);
            d.help = Some("remove it (or name the rule it was meant for: `loopc explain CODE`)".into());
            diagnostics.push(d);
        }
    }
    diagnostics.sort_by(|a, b| (a.primary.span.start, a.code, &a.message).cmp(&(b.primary.span.start, b.code, &b.message)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_found_outside_quotes() {
        assert_eq!(comment_start("a: b # c"), Some(5));
        assert_eq!(comment_start("# top"), Some(0));
        assert_eq!(comment_start("a: \"x # y\""), None);
        assert_eq!(comment_start("url: http://x#frag"), None);
    }
}
