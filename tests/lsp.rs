//! `loopc lsp` driven by a real LSP client nobody here wrote: pytest-lsp
//! (pygls, lsprotocol) runs `tests/lsp/test_lsp.py` against this build's
//! binary over stdio.
//!
//! The client lives in the venv `target/lspvenv`, made from the pinned
//! `tests/lsp/requirements.txt` on first use (PyPI), or is
//! `$LOOPC_LSP_PYTHON` when set (an interpreter that has them installed).

mod support;

use std::path::PathBuf;
use std::process::Command;

/// Tests in `tests/lsp/test_lsp.py`: fewer passing means some did not run.
const EXPECTED_TESTS: usize = 8;

fn python() -> PathBuf {
    match std::env::var_os("LOOPC_LSP_PYTHON") {
        Some(python) => PathBuf::from(python),
        None => support::venv_python("target/lspvenv", "tests/lsp/requirements.txt"),
    }
}

/// `(passed, failed, errors)` from pytest's closing line (`8 passed in 2.1s`).
fn counts(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed") || l.contains(" failed") || l.contains(" error"))
        .unwrap_or("");
    let count = |word: &str| {
        let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        words
            .windows(2)
            .find(|w| w[1].starts_with(word))
            .and_then(|w| w[0].trim_start_matches('=').parse().ok())
            .unwrap_or(0)
    };
    (count("passed"), count("failed"), count("error"))
}

#[test]
fn a_real_lsp_client_gets_diagnostics_hover_completion_navigation_rename_and_fixes() {
    let repo = support::repo();
    let output = Command::new(python())
        .args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-c",
            "tests/lsp/pytest.ini",
            "--basetemp",
        ])
        .arg(support::scratch("lsp-pytest"))
        .arg("tests/lsp/")
        .env("LOOPC_BIN", env!("CARGO_BIN_EXE_loopc"))
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        // No __pycache__ in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&repo)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert!(output.status.success(), "pytest failed ({}):\n{report}", output.status);
    let (passed, failed, errors) = counts(&stdout);
    assert_eq!((failed, errors), (0, 0), "{report}");
    assert_eq!(passed, EXPECTED_TESTS, "pytest ran {passed} tests, not {EXPECTED_TESTS}:\n{report}");
}

#[test]
fn the_closing_line_is_read() {
    assert_eq!(counts("....\n8 passed in 2.28s\n"), (8, 0, 0));
    assert_eq!(counts("F.\n1 failed, 7 passed, 2 errors in 3.0s\n"), (7, 1, 2));
    assert_eq!(counts("no tests ran in 0.01s\n"), (0, 0, 0));
}
