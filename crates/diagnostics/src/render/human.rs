use std::fmt::Write;

use super::FileDiagnostics;
use crate::{Label, Severity, SourceFile};

/// Options of the human renderer.
#[derive(Clone, Copy, Debug, Default)]
pub struct HumanOptions {
    /// ANSI colours (the CLI decides from `--color` and the terminal).
    pub color: bool,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        self.paint(code, severity.as_str())
    }
    fn gutter(&self, text: &str) -> String {
        self.paint("1;34", text)
    }
}

/// rustc-style text: a first line `path:line:col: severity[CODE]: message [rule]`
/// that editors and terminals can jump to, then the source lines with carets
/// under every label, then help.
pub fn render_human(files: &[FileDiagnostics], options: HumanOptions) -> String {
    let paint = Paint { on: options.color };
    let mut out = String::new();
    for file in files {
        for d in &file.diagnostics {
            let start = file.source.line_col(d.primary.span.start);
            let _ = writeln!(
                out,
                "{}:{}:{}: {}[{}]: {} [{}]",
                file.display_path,
                start.line,
                start.column,
                paint.severity(d.severity),
                d.code,
                paint.paint("1", &d.message),
                d.rule
            );
            let mut labels: Vec<(&Label, bool)> = vec![(&d.primary, true)];
            labels.extend(d.labels.iter().map(|l| (l, false)));
            render_snippet(&mut out, &file.source, &labels, &paint);
            if let Some(help) = &d.help {
                let _ = writeln!(out, "  {} {}", paint.paint("1;32", "help:"), help);
            }
            out.push('\n');
        }
    }
    out
}

/// Longest source line shown whole; longer lines (minified JSON) are shown
/// as a window around the labels.
const MAX_LINE_CHARS: usize = 120;

/// Source lines with carets. Labels are shown in line order; a label spanning
/// several lines is drawn at its first line, to the end of that line.
fn render_snippet(out: &mut String, source: &SourceFile, labels: &[(&Label, bool)], paint: &Paint) {
    if source.text().is_empty() {
        return;
    }
    let mut located: Vec<(usize, usize, usize, &Label, bool)> = labels
        .iter()
        .map(|(label, primary)| {
            let start = source.line_col(label.span.start);
            let end = source.line_col(label.span.end);
            let width = if end.line == start.line {
                end.column.saturating_sub(start.column).max(1)
            } else {
                source.line_chars(start.line).saturating_sub(start.column - 1).max(1)
            };
            (start.line, start.column, width, *label, *primary)
        })
        .collect();
    located.sort_by_key(|&(line, col, ..)| (line, col));
    let gutter_width = located.iter().map(|l| l.0).max().unwrap_or(1).to_string().len();
    let pad = " ".repeat(gutter_width);
    let _ = writeln!(out, "{pad} {}", paint.gutter("|"));
    let mut previous_line = 0;
    let mut window = Window::default();
    for (line, column, width, label, primary) in located {
        if previous_line != 0 && line > previous_line + 1 {
            let _ = writeln!(out, "{pad} {}", paint.gutter("..."));
        }
        if line != previous_line {
            window = Window::around(source, line, column);
            let number = format!("{line:>gutter_width$}");
            let _ = writeln!(out, "{} {}", paint.gutter(&format!("{number} |")), window.text);
        }
        previous_line = line;
        let (offset, width) = window.place(column, width);
        let marker = if primary { "^" } else { "-" };
        let underline = paint.paint(if primary { "1;31" } else { "1;34" }, &marker.repeat(width));
        let message = if label.message.is_empty() {
            String::new()
        } else {
            format!(" {}", label.message)
        };
        let _ = writeln!(out, "{pad} {} {}{}{}", paint.gutter("|"), " ".repeat(offset), underline, message);
    }
}

/// The part of a source line that is shown, with tabs expanded.
#[derive(Default)]
struct Window {
    text: String,
    /// Display columns (0-based) of each shown character's start, by the
    /// character's 0-based index in the full line.
    first_char: usize,
    columns: Vec<usize>,
}

impl Window {
    /// The window of 1-based `line` around 1-based `column`. Only the shown
    /// characters are decoded: a minified file is one line of megabytes,
    /// and every finding on it has a window.
    fn around(source: &SourceFile, line: usize, column: usize) -> Self {
        let length = source.line_chars(line);
        let (start, end) = if length <= MAX_LINE_CHARS {
            (0, length)
        } else {
            let start = column
                .saturating_sub(1 + MAX_LINE_CHARS / 3)
                .min(length.saturating_sub(MAX_LINE_CHARS));
            (start, (start + MAX_LINE_CHARS).min(length))
        };
        let shown = &source.text()[source.offset_of(line, start)..source.offset_of(line, end)];
        let mut text = String::new();
        let mut columns = Vec::with_capacity(end - start + 1);
        if start > 0 {
            text.push_str("...");
        }
        let mut width = text.len();
        for c in shown.chars() {
            columns.push(width);
            if c == '\t' {
                text.push_str("    ");
                width += 4;
            } else {
                text.push(c);
                width += 1;
            }
        }
        columns.push(width);
        if end < length {
            text.push_str("...");
        }
        Window {
            text,
            first_char: start,
            columns,
        }
    }

    /// Display offset and width of a label at 1-based `column`, `width` characters wide.
    fn place(&self, column: usize, width: usize) -> (usize, usize) {
        let last = self.columns.len() - 1;
        let index = |c: usize| c.saturating_sub(self.first_char).min(last);
        let from = self.columns[index(column - 1)];
        let to = self.columns[index(column - 1 + width)];
        (from, (to - from).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Diagnostic, Span};

    #[test]
    fn renders_location_first_then_snippet() {
        let source = SourceFile::new("x.yaml", "workers:\n  - id: a\n    depends_on: [zz]\n");
        let start = source.text().find("zz").unwrap();
        let diagnostic = Diagnostic::error("L201", "unknown-reference", "unknown worker `zz`", Span::new(start, start + 2))
            .with_label("no worker has this id")
            .with_secondary(Span::new(17, 18), "in this worker")
            .with_help("known workers: a");
        let text = render_human(
            &[FileDiagnostics {
                source,
                display_path: "x.yaml".into(),
                diagnostics: vec![diagnostic],
            }],
            HumanOptions::default(),
        );
        assert_eq!(
            text,
            "x.yaml:3:18: error[L201]: unknown worker `zz` [unknown-reference]\n  |\n2 |   - id: a\n  |         - in this worker\n3 |     depends_on: [zz]\n  |                  ^^ no worker has this id\n  help: known workers: a\n\n"
        );
    }
}
