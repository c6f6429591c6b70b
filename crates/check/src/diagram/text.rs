//! Text inside a Mermaid diagram and around it: escaped labels, clipped
//! lines, comments, and the Markdown line that names the loop.

/// Longest label line shown; the full text stays in `--format json`.
const MAX_LABEL_CHARS: usize = 60;

/// Escape text for a quoted Mermaid label: entity codes for the characters
/// that end a label, start markup, or that Mermaid's style rewriting eats
/// (`:` followed by `#…;`). Control characters become spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            ':' => out.push_str("#58;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Cut a label line to [`MAX_LABEL_CHARS`], marking the cut.
pub(super) fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        return text.to_owned();
    }
    text.chars().take(MAX_LABEL_CHARS - 1).collect::<String>() + "…"
}

/// Lines of a node label, clipped, escaped and joined with `<br/>`.
pub(super) fn label(lines: &[String]) -> String {
    lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| escape(&clip(l)))
        .collect::<Vec<_>>()
        .join("<br/>")
}

/// An edge, with a quoted label when there is text for one.
pub(super) fn edge(from: &str, arrow: &str, text: &str, to: &str) -> String {
    if text.trim().is_empty() {
        format!("{from} {arrow} {to}")
    } else {
        format!("{from} {arrow}|\"{}\"| {to}", escape(&clip(text)))
    }
}

/// Termination rules, one per line: alternatives start with `or`, parts
/// of a conjunction with `and`.
pub(super) fn rule_label(rule: &str) -> String {
    let mut lines = Vec::new();
    for (i, alternative) in rule.split(" or ").enumerate() {
        for (j, part) in alternative.split(" and ").enumerate() {
            let joiner = if j > 0 {
                "and "
            } else if i > 0 {
                "or "
            } else {
                ""
            };
            lines.push(escape(&clip(&format!("{joiner}{part}"))));
        }
    }
    lines.join("<br/>")
}

/// A comment line may not carry line breaks, Mermaid directives (`%%{…}%%`)
/// or backticks (which could close the Markdown fence around it).
pub(super) fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '%' | '{' | '}' | '`') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A Markdown code span showing `text` literally on one line: no markup,
/// links, mentions, emoji or math. The fence is one backtick longer than
/// any run of backticks inside, and padded when the text starts or ends
/// with one (CommonMark strips one space on each side).
pub(super) fn code_span(text: &str) -> String {
    let text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let fence = "`".repeat(longest_run(&text, '`') + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The longest run of `c` in `text`.
pub(super) fn longest_run(text: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for d in text.chars() {
        run = if d == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::{code_span, comment, escape};

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(
            escape("a \"b\" <c> #d `e` |f| & g\nh"),
            "a #quot;b#quot; #lt;c#gt; #35;d #96;e#96; #124;f#124; #amp; g h"
        );
    }

    #[test]
    fn comments_cannot_close_a_fence_or_start_a_directive() {
        assert_eq!(comment("x ```\n%%{init}%%"), "x        init   ");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(code_span("triage-then-repair 1.0.0"), "`triage-then-repair 1.0.0`");
        assert_eq!(code_span("a `b` c"), "``a `b` c``");
        assert_eq!(code_span("``x``\n@me"), "``` ``x`` @me ```");
    }
}
