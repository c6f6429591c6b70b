//! The text secret matching runs on, so that a key cannot hide behind its
//! formatting: each character in its Unicode compatibility form (NFKC:
//! fullwidth `ｇｈｐ＿…` is `ghp_…`), characters that show nothing removed
//! (zero-width space and joiners, word joiner, byte order mark, soft
//! hyphen), and adjacent string pieces joined (`"AKIA" + "IOSF…"`,
//! `'AKIA' 'IOSF…'`, `"AKIA" . "IOSF…"`). Every byte of the view maps back to
//! the byte of the original it came from, so a match redacts the original.

use unicode_normalization::UnicodeNormalization;

/// Characters that show nothing: zero-width space, joiners, word joiner,
/// byte order mark, soft hyphen.
pub(crate) const INVISIBLE: &[char] = &['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}', '\u{ad}'];

/// A normalized text and where each of its bytes came from.
pub(crate) struct View {
    pub text: String,
    /// `origin[i]`: the byte offset in the original of the view's byte `i`.
    origin: Vec<usize>,
    original_len: usize,
}

impl View {
    /// The view of `text`, or `None` when it would be `text` itself.
    pub fn of(text: &str) -> Option<View> {
        if text.is_ascii() && !has_joint(text.as_bytes()) {
            return None;
        }
        let mut view = View {
            text: String::with_capacity(text.len()),
            origin: Vec::with_capacity(text.len() + 1),
            original_len: text.len(),
        };
        let bytes = text.as_bytes();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if INVISIBLE.contains(&c) {
                continue;
            }
            if let Some(skip_to) = joint_at(bytes, i) {
                while chars.peek().is_some_and(|(k, _)| *k <= skip_to) {
                    chars.next();
                }
                continue;
            }
            if c.is_ascii() {
                view.push(c, i);
            } else {
                for n in std::iter::once(c).nfkc() {
                    view.push(n, i);
                }
            }
        }
        (view.text != text).then_some(view)
    }

    fn push(&mut self, c: char, from: usize) {
        for _ in 0..c.len_utf8() {
            self.origin.push(from);
        }
        self.text.push(c);
    }

    /// The original range of the view's `start..end`.
    pub fn back(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.origin.get(start).copied().unwrap_or(self.original_len);
        // The end is the start of the original character after the last one matched.
        let e = if end >= self.text.len() {
            self.original_len
        } else {
            self.origin[end]
        };
        (s, e.max(s))
    }
}

fn piece_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'+' | b'=')
}

/// Where a joint between two string pieces starts at `i` (a closing quote
/// after a piece character), the offset of the opening quote of the next
/// piece (followed by a piece character): `"…X" + "Y…"`, `'…X' 'Y…'`.
fn joint_at(bytes: &[u8], i: usize) -> Option<usize> {
    let q = bytes[i];
    if !matches!(q, b'"' | b'\'') || i == 0 || !piece_char(bytes[i - 1]) {
        return None;
    }
    let mut k = i + 1;
    let skip_ws = |k: &mut usize| {
        while bytes.get(*k).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            *k += 1;
        }
    };
    skip_ws(&mut k);
    // One joining operator at most: `+` (most languages), `.`/`..` (PHP,
    // Perl, Lua), `&` (VB), `||` (SQL), `~` (D); none (Python, C literals).
    for op in [&b"||"[..], b"..", b"+", b".", b"&", b"~"] {
        if bytes[k..].starts_with(op) {
            k += op.len();
            break;
        }
    }
    skip_ws(&mut k);
    (bytes.get(k) == Some(&q) && bytes.get(k + 1).copied().is_some_and(piece_char)).then_some(k)
}

fn has_joint(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| matches!(b, b'"' | b'\'') && joint_at(bytes, i).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(t: &str) -> String {
        View::of(t).map_or_else(|| t.to_owned(), |v| v.text)
    }

    #[test]
    fn pieces_are_joined_and_forms_folded() {
        assert_eq!(view("k = \"AKIA\" + \"IOSFODNN7EXAMPLE\""), "k = \"AKIAIOSFODNN7EXAMPLE\"");
        assert_eq!(view("k = 'AKIA' 'IOSF' . 'ODNN'"), "k = 'AKIAIOSFODNN'");
        assert_eq!(view("ｇｈｐ＿abc"), "ghp_abc");
        assert_eq!(view("a\u{200b}b"), "ab");
        // Ordinary text is left alone.
        assert!(View::of("print(\"a\", \"b\")").is_none());
        assert!(View::of("plain ascii text").is_none());
    }

    #[test]
    fn offsets_map_back_to_the_original() {
        let t = "x \"AKIA\" + \"IOSF\" y";
        let v = View::of(t).unwrap();
        let at = v.text.find("AKIAIOSF").unwrap();
        let (s, e) = v.back(at, at + "AKIAIOSF".len());
        assert_eq!(&t[s..e], "AKIA\" + \"IOSF");
        let t = "ｓｋ-x";
        let v = View::of(t).unwrap();
        assert_eq!(v.back(0, 2), (0, 6));
    }
}
