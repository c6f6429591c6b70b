//! loopc in a real repository, run by the real pre-commit (from PyPI, in
//! the test venv): the repository's hooks (`.pre-commit-hooks.yaml`, with
//! `--only-lss`) check the LSS specs among 19 other YAML and JSON files —
//! a workflow, compose, Kubernetes, Helm, OpenAPI, package.json, the LSS
//! JSON Schema itself, a Loop Trace, an empty file — and report only the
//! broken spec's errors.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The fixture repository as a fresh git repository with everything committed.
fn fixture_repo(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("precommit-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&support::repo().join("tests/fixtures/repo-mixed"), &dir);
    for args in [&["init", "-q"][..], &["add", "-A"], &["commit", "-q", "-m", "fixture"]] {
        let ok = git(&dir).args(args).status().unwrap().success();
        assert!(ok, "git {args:?}");
    }
    dir
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com");
    c
}

/// `pre-commit try-repo <this repository> <hook> <args>` in `dir`, with the
/// loopc under test first on PATH.
fn try_repo(dir: &Path, hook: &str, args: &[&str]) -> Output {
    let python = support::reference_python();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_loopc"));
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    Command::new(python.parent().unwrap().join("pre-commit"))
        .arg("try-repo")
        .arg(support::repo())
        .arg(hook)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env(
            "PRE_COMMIT_HOME",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-home"),
        )
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("pre-commit runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_hook_reports_only_the_broken_spec_among_other_yaml_and_json() {
    let dir = fixture_repo("all-files");
    let out = try_repo(&dir, "loopc-check-system", &["--all-files", "--verbose"]);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "the broken spec fails the hook: {shown}");
    let findings: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains(": error[") || l.contains(": warning["))
        .collect();
    assert_eq!(
        findings,
        [
            "specs/broken.lss.yaml:79:18: error[L201]: unknown worker `fixr` in `destination` of feedback channel `test_failures` [unknown-reference]",
            "specs/broken.lss.yaml:112:14: error[L101]: `termination_conditions.failure[0].value`: value is less than the minimum of 1 [schema]",
        ],
        "{shown}"
    );
    assert!(shown.contains("checked 2 files: 2 errors"), "{shown}");
}

#[test]
fn the_hook_passes_a_commit_of_other_files_only() {
    let dir = fixture_repo("other-files");
    let files = [
        "docker-compose.yml",
        "package.json",
        ".github/workflows/ci.yml",
        "deploy/k8s/deployment.yaml",
        "specs/lss-1.0.schema.json",
        "empty.yaml",
        "tasks.json",
    ];
    let mut args = vec!["--files"];
    args.extend(files);
    let out = try_repo(&dir, "loopc-check-system", &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The good spec alone passes too.
    let out = try_repo(&dir, "loopc-check-system", &["--files", "specs/code-repair.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
