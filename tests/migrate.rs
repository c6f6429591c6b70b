//! `loopc migrate`: the older list-form dialect rewritten into LSS 1.0,
//! driven through the binary as a user runs it.

mod support;

use std::path::Path;

use support::{loopc, repo, scratch};

const FIXTURE: &str = "tests/fixtures/migrate/list-form.yaml";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The finding codes `loopc check` reports for `file`, sorted.
fn codes(file: &Path) -> Vec<String> {
    let out = loopc(&["check", "--no-config", "--format", "json", file.to_str().unwrap()], &repo());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --format json");
    let mut codes: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

#[test]
fn the_list_form_fixture_migrates_and_what_is_left_is_pointed_at() {
    let dir = scratch("migrate-fixture");
    let out_file = dir.join("migrated.yaml");
    let out = loopc(&["migrate", FIXTURE, "-o", out_file.to_str().unwrap()], &repo());
    let err = stderr(&out);
    // Three things only the author knows: a metric's definition and one
    // constraint's mechanism (its type, and so its scope).
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("! metrics.iterations.definition: left for a person"), "{err}");
    assert!(err.contains("! safety_constraints.keep_tests.type: left for a person"), "{err}");
    assert!(err.contains("3 errors and 0 warnings left for a person"), "{err}");
    assert!(err.contains("migrated.yaml:"), "findings name the written file: {err}");
    assert_eq!(codes(&out_file), ["L101", "L101", "L101"]);

    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        text.starts_with("# A loop in the older list-form dialect"),
        "the leading comments stay"
    );
    for expected in [
        "version: 1.0.0",
        "provider: anthropic",
        "from: workers.investigator",
        "source: evaluators.repeat_runs",
        "metric: repeat_runs_pass",
        "type: cost_exceeded",
        "value: 1200",
        "cumulative_usd: 3.0",
        "severity: S0",
        "owner: platform-team",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }

    // Supplying exactly what was listed makes it check clean.
    let finished = text
        .replace(
            "  - name: iterations\n",
            "  - name: iterations\n    definition: Iterations the run took\n",
        )
        .replace(
            "  - id: keep_tests\n",
            "  - id: keep_tests\n    type: output_bounds\n    scope: post_worker\n",
        );
    std::fs::write(&out_file, finished).unwrap();
    assert_eq!(codes(&out_file), Vec::<String>::new());
}

#[test]
fn migrating_twice_changes_nothing() {
    let dir = scratch("migrate-twice");
    let once = dir.join("once.yaml");
    loopc(&["migrate", FIXTURE, "-o", once.to_str().unwrap()], &repo());
    let before = std::fs::read(&once).unwrap();
    let out = loopc(&["migrate", "--write", once.to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("nothing to migrate"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&once).unwrap(), before);
}

#[test]
fn lss_1_0_specs_are_left_alone() {
    let mut seen = 0;
    for dir in ["loop-library", "../shared/conformance/public/loop-library"] {
        let root = repo().join(dir);
        if !root.exists() {
            continue;
        }
        for entry in walk(&root) {
            if entry.extension().is_none_or(|e| e != "yaml") || entry.to_string_lossy().contains("bindings") {
                continue;
            }
            let out = loopc(&["migrate", "--diff", entry.to_str().unwrap()], &repo());
            assert!(
                out.stdout.is_empty(),
                "{}: {}",
                entry.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(stderr(&out).contains("nothing to migrate"), "{}: {}", entry.display(), stderr(&out));
            seen += 1;
        }
    }
    assert!(seen >= 34, "only {seen} specs were tried");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn diff_previews_and_write_rewrites_keeping_the_mode() {
    let dir = scratch("migrate-write");
    let file = dir.join("loop.yaml");
    std::fs::copy(repo().join(FIXTURE), &file).unwrap();
    let before = std::fs::read(&file).unwrap();
    let out = loopc(&["migrate", "--diff", "-q", file.to_str().unwrap()], &repo());
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("-version: \"1.0\"") && diff.contains("+version: 1.0.0"), "{diff}");
    assert!(!stderr(&out).contains("  ~ "), "--quiet lists no changes: {}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), before, "--diff wrote the file");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let out = loopc(&["migrate", "--write", file.to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&file).unwrap().contains("inputs:\n  schema:"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}

#[test]
fn bad_input_gets_a_located_error_and_the_right_exit_code() {
    let dir = scratch("migrate-bad");
    let not_spec = dir.join("compose.yaml");
    std::fs::write(&not_spec, "services:\n  web:\n    image: nginx\n").unwrap();
    let out = loopc(&["migrate", not_spec.to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("compose.yaml:1:1: error: not an LSS spec"),
        "{}",
        stderr(&out)
    );

    let broken = dir.join("broken.yaml");
    std::fs::write(&broken, "loop_name: x\nworkers: [\n").unwrap();
    let out = loopc(&["migrate", broken.to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.yaml:"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    let out = loopc(&["migrate", dir.join("missing.yaml").to_str().unwrap()], &repo());
    assert_eq!(out.status.code(), Some(2));
    let out = loopc(&["migrate", FIXTURE, FIXTURE], &repo());
    assert_eq!(out.status.code(), Some(2), "several files need --write or --diff");
}
