use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A 1-based line and 1-based column counted in characters (Unicode scalar
/// values), the convention of rustc, actionlint and SARIF `charOffset`-free regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// The text of one input file and the index needed to turn byte offsets into
/// lines and columns. Cheap to clone.
///
/// Conversions cost O(log lines) on ASCII lines and O(log lines + STRIDE) on
/// others, whatever the line's length: a parser converts a position for
/// every node, and a one-line file of 600 KB has tens of thousands of them.
#[derive(Clone, Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
    /// Byte offset where each line starts. Line breaks are `\n`, `\r\n` and a
    /// lone `\r`, as in YAML, so that our lines agree with the parser's.
    line_starts: Arc<[usize]>,
    /// For each line with a non-ASCII character (by line index, ascending):
    /// the byte offset, from the line's start, of every `STRIDE`-th character.
    wide_lines: Arc<[(usize, Vec<usize>)]>,
}

/// Characters between two checkpoints of a non-ASCII line.
const STRIDE: usize = 64;

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts: Arc<[usize]> = compute_line_starts(&text).into();
        let wide_lines = wide_lines(&text, &line_starts).into();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
            wide_lines,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Byte offset of the first character of 1-based `line`.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(self.text.len())
    }

    /// The text of 1-based `line` without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_start(line);
        let end = if line < self.line_starts.len() {
            self.line_starts[line]
        } else {
            self.text.len()
        };
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// The length of 1-based `line` in characters, without its line break.
    pub fn line_chars(&self, line: usize) -> usize {
        let start = self.line_start(line);
        self.line_col(start + self.line_text(line).len()).column - 1
    }

    /// The checkpoints of 0-based `line_index` when it has non-ASCII characters.
    fn checkpoints(&self, line_index: usize) -> Option<&[usize]> {
        self.wide_lines
            .binary_search_by_key(&line_index, |(l, _)| *l)
            .ok()
            .map(|i| self.wide_lines[i].1.as_slice())
    }

    /// Byte offset of the character at 1-based `line`, 0-based `char_col`.
    /// Out-of-range columns clamp to the end of the line.
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        // Line 0 means line 1, as in `line_start`.
        let line = line.max(1);
        let start = self.line_start(line);
        let line_text = self.line_text(line);
        let Some(marks) = self.checkpoints(line.saturating_sub(1)) else {
            return start + char_col.min(line_text.len());
        };
        let k = (char_col / STRIDE).min(marks.len() - 1);
        let from = marks[k];
        let rest = char_col - k * STRIDE;
        start
            + from
            + line_text[from..]
                .char_indices()
                .nth(rest)
                .map_or(line_text.len() - from, |(i, _)| i)
    }

    /// Line and column of a byte offset (clamped to the text, and to a
    /// character boundary).
    pub fn line_col(&self, offset: usize) -> LineCol {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line_index];
        let within = offset - start;
        let column = match self.checkpoints(line_index) {
            None => within + 1,
            Some(marks) => {
                let k = match marks.binary_search(&within) {
                    Ok(k) => k,
                    Err(k) => k - 1,
                };
                k * STRIDE + self.text[start + marks[k]..offset].chars().count() + 1
            }
        };
        LineCol {
            line: line_index + 1,
            column,
        }
    }
}

fn compute_line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => starts.push(i + 1),
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
            _ => {}
        }
        i += 1;
    }
    starts
}

/// Checkpoints of the lines that are not plain ASCII, over each line
/// without its line break (so every checkpoint lies inside `line_text`).
fn wide_lines(text: &str, line_starts: &[usize]) -> Vec<(usize, Vec<usize>)> {
    if text.is_ascii() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (index, &start) in line_starts.iter().enumerate() {
        let end = line_starts.get(index + 1).copied().unwrap_or(text.len());
        let line = text[start..end].trim_end_matches(['\n', '\r']);
        if !line.is_ascii() {
            out.push((index, line.char_indices().step_by(STRIDE).map(|(i, _)| i).collect()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let file = SourceFile::new("x.yaml", "a: 1\nbé: 2\r\nc: 3\rd");
        assert_eq!(file.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(file.line_col(5), LineCol { line: 2, column: 1 });
        // "bé: 2": the ':' is the 3rd character but the 4th byte of the line.
        assert_eq!(file.line_col(8), LineCol { line: 2, column: 3 });
        assert_eq!(file.line_text(2), "bé: 2");
        assert_eq!(file.line_col(file.text().len() - 1), LineCol { line: 4, column: 1 });
        assert_eq!(file.offset_of(2, 2), 8);
    }

    #[test]
    fn long_lines_agree_with_counting_from_the_start() {
        // Mixed widths around and across checkpoints, on a long line and a short one.
        let long: String = (0..1000).map(|i| ['a', 'é', '€', '😀'][i % 7 % 4]).collect();
        let text = format!("k: {long}\r\nx: ü\n");
        let file = SourceFile::new("x.yaml", text.as_str());
        for (line, line_text) in [(1, format!("k: {long}")), (2, "x: ü".to_owned())] {
            let start = file.line_start(line);
            let chars: Vec<(usize, char)> = line_text.char_indices().collect();
            for (col, (byte, _)) in chars.iter().enumerate() {
                assert_eq!(file.offset_of(line, col), start + byte, "line {line} col {col}");
                assert_eq!(file.line_col(start + byte), LineCol { line, column: col + 1 });
            }
            assert_eq!(file.offset_of(line, chars.len() + 5), start + line_text.len(), "clamped");
            assert_eq!(file.line_chars(line), chars.len());
            if line == 1 {
                assert_eq!(file.offset_of(0, 70), file.offset_of(1, 70), "line 0 is line 1");
            }
        }
        // An offset inside a multi-byte character moves back to its start.
        let euro = text.find('€').unwrap();
        assert_eq!(file.line_col(euro + 1), file.line_col(euro));
    }
}
