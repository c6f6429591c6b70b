//! loopc's schema verdict (no L101/L102) must equal the canonical schemas'
//! verdict as Python `jsonschema` (Draft 2020-12) gives it, on the conformance
//! corpus and on >= 5,000 generated single-field mutants.
//!
//! The work is done by `bench/schema/` (see `differential.py`'s header);
//! this test provides the interpreter and runs it:
//!
//! 1. a Python with `bench/schema/requirements.txt`: `$LOOPC_REFERENCE_PYTHON`
//!    if set (used as is), else the venv `target/refvenv` shared with the
//!    other differential tests (`tests/support`): created with `python3 -m
//!    venv` and `pip install -r bench/requirements.txt` (which includes
//!    `bench/schema/requirements.txt`) when missing or when a pin changed;
//! 2. `mutate.py` writes the mutants into a fresh directory under `target/`;
//! 3. `differential.py` validates every file in one Python run (its worker
//!    processes share the cores) and checks them all with ONE run of this
//!    build's `loopc check --format json --no-config`.
//!
//! The test passes when the last line is `schema-differential: N passed,
//! 0 failed` and at least 5,000 mutants were compared.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::{env, fs};

const MUTANTS: usize = 6000;
const MIN_MUTANTS: usize = 5000;
const SEED: u64 = 1;

fn run(what: &str, command: &mut Command) -> Output {
    let output = command
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// The interpreter that runs the reference: `tests/support`'s shared venv
/// (`target/refvenv`, made from `bench/requirements.txt`, which includes
/// `bench/schema/requirements.txt`), or `$LOOPC_REFERENCE_PYTHON`.
fn reference_python() -> PathBuf {
    if env::var_os("LOOPC_REFERENCE_PYTHON").is_none() && !root().join("target/refvenv/bin/python").exists() {
        let found = Command::new("python3").arg("--version").output().map(|o| o.status.success());
        assert!(
            matches!(found, Ok(true)),
            "the schema differential needs Python 3 to run the reference validator (python3 was not found \
             or does not run): install python3 with its venv module, or set LOOPC_REFERENCE_PYTHON to an \
             interpreter that has bench/schema/requirements.txt installed"
        );
    }
    support::reference_python()
}

fn root() -> PathBuf {
    support::repo()
}

/// `N passed, M failed` from the line `schema-differential: N passed, M failed`.
fn closing_counts(stdout: &str) -> Option<(usize, usize)> {
    let line = stdout.lines().rev().find_map(|l| l.strip_prefix("schema-differential: "))?;
    let (passed, failed) = line.split_once(", ")?;
    Some((
        passed.strip_suffix(" passed")?.parse().ok()?,
        failed.strip_suffix(" failed")?.parse().ok()?,
    ))
}

#[test]
fn schema_verdict_matches_the_canonical_schemas() {
    let root = root();
    let target = root.join("target");
    let python = reference_python();
    let bench = root.join("bench/schema");

    let mutants = target.join(format!("schema-differential-{}", std::process::id()));
    if mutants.exists() {
        fs::remove_dir_all(&mutants).expect("clear the mutant directory");
    }
    let generated = run(
        "mutate.py",
        Command::new(&python).arg(bench.join("mutate.py")).arg("--out").arg(&mutants).args([
            "--count",
            &MUTANTS.to_string(),
            "--seed",
            &SEED.to_string(),
        ]),
    );
    print!("{}", String::from_utf8_lossy(&generated.stdout));

    let output = Command::new(&python)
        .arg(bench.join("differential.py"))
        .arg("--loopc")
        .arg(env!("CARGO_BIN_EXE_loopc"))
        .arg("--mutants")
        .arg(&mutants)
        .args(["--min-mutants", &MIN_MUTANTS.to_string()])
        .env("PYTHONUTF8", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("run differential.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    print!("{stdout}");
    eprint!("{stderr}");

    let compared = stdout
        .lines()
        .find_map(|l| l.strip_prefix("mutants compared: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let counts = closing_counts(&stdout);
    assert!(
        output.status.success() && matches!(counts, Some((_, 0))),
        "loopc's schema verdict differs from the canonical schemas' ({:?}, exit {}): \
         see the DISAGREE entries above; the mutants are kept in {}",
        counts,
        output.status,
        mutants.display()
    );
    assert!(
        compared >= MIN_MUTANTS,
        "only {compared} mutants were compared, fewer than {MIN_MUTANTS} (mutants in {})",
        mutants.display()
    );
    fs::remove_dir_all(&mutants).ok();
}

#[test]
fn closing_line_is_parsed() {
    assert_eq!(closing_counts("x\nschema-differential: 6032 passed, 0 failed\n"), Some((6032, 0)));
    assert_eq!(closing_counts("schema-differential: 1 passed, 2 failed"), Some((1, 2)));
    assert_eq!(closing_counts("nothing"), None);
}
