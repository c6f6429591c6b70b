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
#[derive(Clone, Debug)]
pub struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
    /// Byte offset where each line starts. Line breaks are `\n`, `\r\n` and a
    /// lone `\r`, as in YAML, so that our lines agree with the parser's.
    line_starts: Arc<[usize]>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = compute_line_starts(&text).into();
        SourceFile {
            path: path.into(),
            text,
            line_starts,
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

    /// Byte offset of the character at 1-based `line`, 0-based `char_col`.
    /// Out-of-range columns clamp to the end of the line.
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        let start = self.line_start(line);
        let line_text = self.line_text(line);
        if line_text.is_ascii() {
            return start + char_col.min(line_text.len());
        }
        start + line_text.char_indices().nth(char_col).map_or(line_text.len(), |(i, _)| i)
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
        let column = self.text[start..offset].chars().count() + 1;
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
}
