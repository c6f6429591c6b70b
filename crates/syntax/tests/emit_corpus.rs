//! `to_yaml` reads back as the same data for every real spec we have.

use std::path::{Path, PathBuf};

use loopc_syntax::{load, to_yaml, Limits};

fn specs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            specs(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_spec_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["loop-library", "templates", "tests/fixtures/rules", "../shared/conformance/public"] {
        specs(&root.join(dir), &mut files);
    }
    let mut checked = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let parsed = load(file, &bytes, &Limits::default());
        let (Some(root), true) = (parsed.root, parsed.errors.is_empty()) else {
            continue;
        };
        let written = to_yaml(&root);
        let again = load("again.yaml", written.as_bytes(), &Limits::default());
        assert!(again.errors.is_empty(), "{}: {:?}\n{written}", file.display(), again.errors);
        assert_eq!(root.to_json(), again.root.unwrap().to_json(), "{}:\n{written}", file.display());
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} files round-tripped");
}
