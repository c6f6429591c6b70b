//! Shared helpers of the loopc-score integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `/work/shared` as `../shared` next to the workspace root.
pub fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared"))
}

/// The JSON fixtures converted by bench/score/make_fixtures.py.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conformance"))
}

/// Reads a `path<TAB>value...` TSV with a header line.
pub fn tsv(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Loads a conformance fixture by its path in the conformance tree.
pub fn fixture(rel: &str) -> serde_json::Value {
    let p = fixtures().join(format!("{rel}.json"));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}
