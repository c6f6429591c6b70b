//! `partialFingerprints` that survive unrelated edits: code scanning
//! matches a result of this run with one of an earlier run by them, so an
//! alert that only moved (lines added above it) stays the same alert.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The key under which results carry their fingerprint. A new way of
/// computing it gets a new key, so old and new fingerprints never collide.
pub const KEY: &str = "loopc/v1";

/// Fingerprints of one file's findings, in the order they are given.
#[derive(Default)]
pub struct Fingerprints {
    /// How often each (code, normalized line) pair was seen so far.
    seen: HashMap<(&'static str, String), usize>,
}

/// The line's text with surrounding whitespace trimmed and inner runs of
/// whitespace collapsed to one space: re-indenting does not change it.
fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Fingerprints {
    /// The fingerprint of the next finding of rule `code` whose primary
    /// span starts on a line reading `line`: a SHA-256 over the code, the
    /// normalized line and how many times that pair came before in the
    /// file (so two identical findings on identical lines differ). The
    /// line number and the path are left out.
    pub fn next(&mut self, code: &'static str, line: &str) -> String {
        let line = normalize(line);
        let occurrence = self.seen.entry((code, line.clone())).or_default();
        let index = *occurrence;
        *occurrence += 1;
        let mut hash = Sha256::new();
        for part in [code.as_bytes(), line.as_bytes(), index.to_string().as_bytes()] {
            hash.update(part);
            hash.update([0]);
        }
        hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_text_counts_not_its_number_or_indentation() {
        let mut a = Fingerprints::default();
        let mut b = Fingerprints::default();
        assert_eq!(a.next("L201", "  depends_on: [planer]"), b.next("L201", "depends_on:   [planer]\t"));
        assert_ne!(
            Fingerprints::default().next("L201", "x: 1"),
            Fingerprints::default().next("L202", "x: 1"),
            "the rule counts"
        );
        assert_ne!(
            Fingerprints::default().next("L201", "x: 1"),
            Fingerprints::default().next("L201", "x: 2"),
            "the line's text counts"
        );
    }

    #[test]
    fn identical_findings_on_identical_lines_are_told_apart_by_occurrence() {
        let mut f = Fingerprints::default();
        let first = f.next("L201", "depends_on: [planer]");
        let other = f.next("L202", "depends_on: [planer]");
        let second = f.next("L201", "depends_on: [planer]");
        assert_ne!(first, second);
        assert_ne!(first, other);
        // A fresh file starts counting again: the same findings, the same prints.
        let mut again = Fingerprints::default();
        assert_eq!(again.next("L201", "depends_on: [planer]"), first);
        assert_eq!(again.next("L201", "depends_on: [planer]"), second);
        assert_eq!(first.len(), 32);
    }
}
