//! Byte offsets ↔ LSP positions.
//!
//! loopc's spans are byte offsets into the text the parser read; LSP
//! positions are a 0-based line and a column in UTF-16 code units (the
//! protocol's default encoding, which every client supports). The two differ
//! on every non-ASCII character, and by two units on characters outside the
//! Basic Multilingual Plane, so a range is only right if it is converted here.
//!
//! [`SourceFile`] already turns offsets into character columns in
//! O(log lines) whatever the line's length; a character outside the BMP is
//! the only one whose UTF-16 width differs from one, so the UTF-16 column is
//! the character column plus the number of such characters before it on its
//! line, found by binary search in their (usually empty) list.

use loopc_diagnostics::{SourceFile, Span};
use lsp_types::{Position, Range};

/// The positions of one document's text.
#[derive(Clone, Debug)]
pub struct LineIndex {
    source: SourceFile,
    /// Byte offsets of the characters that take two UTF-16 units, ascending.
    astral: Vec<usize>,
    /// Bytes of a leading BOM: the parser drops it, so every loopc span is
    /// this far from the client's text.
    base: usize,
}

const BOM: &str = "\u{feff}";

impl LineIndex {
    /// The index of `text` as the client has it (a BOM included).
    pub fn new(text: &str) -> Self {
        let base = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let astral = text.char_indices().filter(|(_, c)| c.len_utf16() == 2).map(|(i, _)| i).collect();
        LineIndex {
            source: SourceFile::new("", text),
            astral,
            base,
        }
    }

    /// The text loopc's spans are offsets into (without a BOM).
    pub fn body(&self) -> &str {
        &self.source.text()[self.base..]
    }

    /// The LSP position of `offset` (a loopc span offset), clamped to the text.
    pub fn position(&self, offset: usize) -> Position {
        let text = self.source.text();
        let mut offset = (offset + self.base).min(text.len());
        // An offset inside a character means that character (as in `line_col`).
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let at = self.source.line_col(offset);
        let wide = self.astral_between(self.source.line_start(at.line), offset);
        Position::new(to_u32(at.line - 1), to_u32(at.column - 1 + wide))
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    /// The loopc span offset at an LSP position. A line past the end is
    /// the end of the text, a column past the end of its line that line's
    /// end, and a column between the two halves of a surrogate pair the
    /// start of its character.
    pub fn offset(&self, position: Position) -> usize {
        let line = position.line as usize + 1;
        if line > self.source.line_count() {
            return self.body().len();
        }
        let target = position.character as usize;
        let line_start = self.source.line_start(line);
        let line_end = line_start + self.source.line_text(line).len();
        let first = self.astral.partition_point(|&b| b < line_start);
        let mut chars = target;
        for (k, &at) in self.astral[first..].iter().take_while(|&&b| b < line_end).enumerate() {
            let units = self.source.line_col(at).column - 1 + k;
            if units >= target {
                break;
            }
            if units + 1 == target {
                chars = units - k;
                break;
            }
            chars -= 1;
        }
        self.source.offset_of(line, chars).saturating_sub(self.base)
    }

    /// Characters of two UTF-16 units in `start..end`.
    fn astral_between(&self, start: usize, end: usize) -> usize {
        self.astral.partition_point(|&b| b < end) - self.astral.partition_point(|&b| b < start)
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_utf16_units() {
        // 'é' is 2 bytes and 1 unit, '😀' 4 bytes and 2 units, '€' 3 bytes and 1 unit.
        let text = "a: 1\nb: é😀x\r\nc: €\rd";
        let index = LineIndex::new(text);
        assert_eq!(index.position(0), Position::new(0, 0));
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), Position::new(1, 6));
        assert_eq!(index.offset(Position::new(1, 6)), x);
        let emoji = text.find('😀').unwrap();
        assert_eq!(index.position(emoji), Position::new(1, 4));
        // Between the surrogates: the start of the emoji.
        assert_eq!(index.offset(Position::new(1, 5)), emoji);
        // Inside the emoji's bytes: its start.
        assert_eq!(index.position(emoji + 2), Position::new(1, 4));
        // CRLF and a lone CR both end lines.
        assert_eq!(index.position(text.find('c').unwrap()), Position::new(2, 0));
        assert_eq!(index.position(text.find('d').unwrap()), Position::new(3, 0));
        assert_eq!(index.position(text.find('€').unwrap() + 3), Position::new(2, 4));
    }

    #[test]
    fn out_of_range_positions_clamp() {
        let text = "ab\ncd";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(Position::new(0, 99)), 2, "end of its line");
        assert_eq!(index.offset(Position::new(9, 0)), text.len(), "end of the text");
        assert_eq!(index.position(999), Position::new(1, 2));
    }

    #[test]
    fn offsets_skip_a_bom_the_parser_dropped() {
        let text = "\u{feff}a: 1\nb: 2";
        let index = LineIndex::new(text);
        assert_eq!(index.body(), "a: 1\nb: 2");
        // Offset 0 of the body is after the BOM, one UTF-16 unit in.
        assert_eq!(index.position(0), Position::new(0, 1));
        assert_eq!(index.position(5), Position::new(1, 0));
        assert_eq!(index.offset(Position::new(1, 0)), 5);
        assert_eq!(index.offset(Position::new(0, 0)), 0);
    }

    #[test]
    fn every_offset_round_trips() {
        let text = "k: 😀é€a\n  - \"x😀\"\n";
        let index = LineIndex::new(text);
        for (offset, _) in text.char_indices() {
            assert_eq!(index.offset(index.position(offset)), offset, "offset {offset}");
        }
    }
}
