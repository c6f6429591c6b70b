//! What loopc prints on the bundled loop library and the public conformance
//! corpus, byte for byte: `check` in every format, `check --levels`,
//! `score`, `diagram` (whole and `--compact`) and `compile` of every spec.
//! Refactors keep these snapshots unchanged; a deliberate change is reviewed
//! with `cargo insta review`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run loopc from the repository root; stdout, then the exit code and stderr.
fn loopc(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("LOOPC_STATE_DIR")
        .output()
        .expect("loopc runs");
    let text = format!(
        "{}\n--- exit {:?}; stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // The absolute paths of the checkout and of `../shared` beside it differ
    // per machine; the snapshot names them `<repo>` and `<shared>`.
    // SARIF names them as loopc sees them, without symbolic links.
    let shared = std::fs::canonicalize(root().join("../shared")).expect("../shared is beside the checkout");
    let repo = std::fs::canonicalize(root()).expect("the checkout exists");
    text.replace(&shared.to_string_lossy().into_owned(), "<shared>")
        .replace(&repo.to_string_lossy().into_owned(), "<repo>")
        .replace(&root().to_string_lossy().into_owned(), "<repo>")
}

const CORPORA: [(&str, &str); 2] = [("library", "loop-library"), ("public", "../shared/conformance/public")];

fn specs(dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root().join(dir)];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                out.push(p.strip_prefix(root()).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "snapshots/golden", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn check_in_every_format() {
    for (name, dir) in CORPORA {
        for format in ["human", "json", "sarif", "github", "gitlab"] {
            snapshot(
                &format!("check-{name}-{format}"),
                &loopc(&["check", "--no-config", "--format", format, dir]),
            );
        }
        snapshot(&format!("check-{name}-levels"), &loopc(&["check", "--no-config", "--levels", dir]));
    }
}

#[test]
fn score_diagram_and_compile_of_every_spec() {
    for (name, dir) in CORPORA {
        snapshot(&format!("score-{name}"), &loopc(&["score", "--format", "json", dir]));
        let mut diagrams = String::new();
        let mut compact = String::new();
        let mut plans = String::new();
        for spec in specs(dir) {
            diagrams.push_str(&format!("=== {spec}\n{}", loopc(&["diagram", &spec])));
            compact.push_str(&format!("=== {spec}\n{}", loopc(&["diagram", "--compact", &spec])));
            plans.push_str(&format!("=== {spec}\n{}", loopc(&["compile", "--allow-unenforced", &spec])));
        }
        snapshot(&format!("diagram-{name}"), &diagrams);
        snapshot(&format!("diagram-{name}-compact"), &compact);
        snapshot(&format!("compile-{name}"), &plans);
    }
}
