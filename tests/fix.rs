//! `loopc check --fix` and `--diff` on the err fixtures of every rule: each
//! file a fix touches checks with fewer findings afterwards, keeps every
//! comment, and changes only the lines the fixes name.

mod support;

use support::{loopc, repo};

use std::path::{Path, PathBuf};

use serde_json::Value;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The rule fixtures, copied to a scratch repository of their own.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fix").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&repo().join("tests/fixtures/rules"), &dir.join("rules"));
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    dir
}

fn findings(dir: &Path, file: &Path) -> usize {
    let out = loopc(&["check", "--no-config", "--format", "json", file.to_str().unwrap()], dir);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["diagnostics"].as_array().unwrap().len()
}

fn err_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for rule in std::fs::read_dir(dir.join("rules")).unwrap() {
        let err = rule.unwrap().path().join("err");
        for f in std::fs::read_dir(&err).into_iter().flatten() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
}

fn comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.find(" #").map(|i| &l[i..]).or_else(|| l.trim_start().strip_prefix('#')))
        .collect()
}

#[test]
fn fixes_make_every_touched_fixture_cleaner_and_keep_its_comments() {
    let dir = scratch("all");
    let mut fixed = 0;
    for file in err_files(&dir) {
        // Syntax fixtures that are not UTF-8 or not YAML get no fix.
        let before_text = std::fs::read(&file).unwrap();
        let before = findings(&dir, &file);
        let out = loopc(&["check", "--no-config", "--fix", "--quiet", file.to_str().unwrap()], &dir);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let after_text = std::fs::read(&file).unwrap();
        if after_text == before_text {
            continue;
        }
        fixed += 1;
        let after = findings(&dir, &file);
        assert!(after < before, "{}: {before} → {after} findings", file.display());
        let (old, new) = (String::from_utf8(before_text).unwrap(), String::from_utf8(after_text).unwrap());
        assert_eq!(comments(&old), comments(&new), "{}: comments changed", file.display());
        assert_eq!(
            old.lines().count(),
            new.lines().count(),
            "{}: fixes edit within lines",
            file.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("fixed "), "{}: {stderr}", file.display());
    }
    // L101 (version, prefixes), L201 (typos) at least.
    assert!(fixed >= 4, "only {fixed} fixtures were fixed");
}

#[test]
fn diff_shows_the_fix_and_changes_nothing() {
    let dir = scratch("diff");
    let file = dir.join("rules/L201-unknown-reference/err/typo-in-depends-on.yaml");
    let before = std::fs::read(&file).unwrap();
    let out = loopc(&["check", "--no-config", "--diff", file.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("-    depends_on: [planer]") && diff.contains("+    depends_on: [planner]"),
        "{diff}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before, "--diff wrote the file");
    // Nothing to fix: exit 0, no output.
    let clean = dir.join("rules/L201-unknown-reference/ok");
    let out = loopc(&["check", "--no-config", "--diff", clean.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_fix_that_would_not_make_the_file_cleaner_is_not_applied() {
    let dir = scratch("worse");
    // Renaming `compositon` to `composition` would turn a stray mapping into
    // a composition without children: more findings, so it stays.
    let file = dir.join("rules/L103-unknown-top-level-key/err/misspelt.yaml");
    let before = std::fs::read(&file).unwrap();
    let out = loopc(&["check", "--no-config", "--fix", file.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn fix_writes_through_a_link_and_keeps_the_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("link");
    let real = dir.join("rules/L101-schema/err/unquoted-version.yaml");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("spec.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = loopc(&["check", "--no-config", "--fix", "spec.yaml"], &dir);
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(),
        "the link was replaced"
    );
    assert!(std::fs::read_to_string(&real).unwrap().contains("version: \"1.0.0\""));
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
    // Standard input has no file to fix.
    assert_eq!(loopc(&["check", "--fix", "-"], &dir).status.code(), Some(2));
}
