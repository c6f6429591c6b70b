//! Alias expansion is limited by what it copies, text included: an anchor
//! over one long string is as expensive to repeat as one over many nodes.

use loopc_syntax::{load, Limits, SyntaxErrorKind};

/// `a0` anchors a string of `len` bytes; each level repeats the one below
/// nine times, `levels` deep.
fn laughs(len: usize, levels: usize) -> String {
    let mut doc = format!("a0: &a0 [\"{}\"]\n", "x".repeat(len));
    for i in 1..=levels {
        let items = vec![format!("*a{}", i - 1); 9].join(", ");
        doc.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    doc
}

fn expansion_refused(doc: &str) -> bool {
    load("laughs.yaml", doc.as_bytes(), &Limits::default())
        .errors
        .iter()
        .any(|e| e.kind == SyntaxErrorKind::AliasExpansionLimit)
}

#[test]
fn long_strings_count_against_the_expansion_limit() {
    // 6,561 copies of a 10 KB string: 66 MB of tree from a 10 KB file, but
    // only ~13,000 nodes, which a node count alone would let through.
    assert!(expansion_refused(&laughs(10_000, 4)));
    // The same shape over a short string is a few thousand small nodes: fine.
    assert!(!expansion_refused(&laughs(10, 4)));
}
