//! Fixtures for every rule, in the actionlint style: for rule `CODE-name`,
//! `tests/fixtures/rules/CODE-name/ok/*.yaml` must not trigger it (and,
//! past the syntax layer, must be entirely clean), and every file in
//! `err/` must trigger it. The rendered diagnostics of each `err` file are
//! an insta snapshot, so a change in wording or position is reviewed.

use std::path::{Path, PathBuf};

use loopc_check::{all_rules, Checker, Limits};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Limits for one rule's fixtures: defaults, or the rule dir's `limits.toml`.
fn limits_for(rule_dir: &Path) -> Limits {
    let mut limits = Limits::default();
    if let Ok(text) = std::fs::read_to_string(rule_dir.join("limits.toml")) {
        let table: toml::Table = text.parse().expect("limits.toml parses");
        if let Some(v) = table.get("max_file_bytes").and_then(toml::Value::as_integer) {
            limits.max_file_bytes = v as usize;
        }
    }
    limits
}

fn rule_dir(code: &str) -> PathBuf {
    let root = fixtures_root();
    std::fs::read_dir(&root)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{code}-")))
        .unwrap_or_else(|| panic!("no fixture directory for {code} in {}", root.display()))
}

#[test]
fn every_rule_has_ok_and_err_fixtures() {
    for rule in all_rules() {
        let dir = rule_dir(rule.code);
        assert_eq!(
            dir.file_name().unwrap().to_string_lossy(),
            format!("{}-{}", rule.code, rule.name),
            "fixture dir named CODE-name"
        );
        assert!(!yaml_files(&dir.join("ok")).is_empty(), "{}: no ok fixtures", rule.code);
        assert!(!yaml_files(&dir.join("err")).is_empty(), "{}: no err fixtures", rule.code);
    }
}

#[test]
fn ok_fixtures_do_not_trigger_their_rule() {
    for rule in all_rules() {
        let dir = rule_dir(rule.code);
        let checker = Checker::new(limits_for(&dir));
        for file in yaml_files(&dir.join("ok")) {
            let checked = checker.check_bytes(&file, &std::fs::read(&file).unwrap());
            let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
            assert!(!codes.contains(&rule.code), "{}: {} triggered {codes:?}", rule.code, file.display());
            if rule.group != "syntax" {
                assert!(
                    codes.is_empty(),
                    "{}: ok fixture {} is not clean: {codes:?}",
                    rule.code,
                    file.display()
                );
            }
        }
    }
}

#[test]
fn err_fixtures_trigger_their_rule_and_match_snapshots() {
    let root = fixtures_root();
    for rule in all_rules() {
        let dir = rule_dir(rule.code);
        let checker = Checker::new(limits_for(&dir));
        for file in yaml_files(&dir.join("err")) {
            let checked = checker.check_bytes(&file, &std::fs::read(&file).unwrap());
            assert!(
                checked.diagnostics.iter().any(|d| d.code == rule.code),
                "{}: {} did not trigger it: {:?}",
                rule.code,
                file.display(),
                checked.diagnostics
            );
            let display_path = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
            // Only this rule's findings: other rules have their own fixtures,
            // and unrelated wording changes should not churn these snapshots.
            let diagnostics = checked.diagnostics.into_iter().filter(|d| d.code == rule.code).collect();
            let text = render_human(
                &[FileDiagnostics {
                    source: checked.source,
                    display_path: display_path.clone(),
                    diagnostics,
                }],
                HumanOptions::default(),
            );
            let name = display_path.trim_end_matches(".yaml").replace('/', "__");
            insta::with_settings!({ snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(name, text);
            });
        }
    }
}

/// Every file the tests know: the rule fixtures, the loop library and the public corpus.
fn every_known_spec() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![
        fixtures_root(),
        manifest.join("loop-library"),
        manifest.join("../shared/conformance/public"),
    ];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_finding_has_its_rules_declared_severity() {
    let mut seen = std::collections::BTreeSet::new();
    for file in every_known_spec() {
        // A rule fixture is checked with its rule directory's limits.
        let limits = match file.strip_prefix(fixtures_root()) {
            Ok(rel) => limits_for(&fixtures_root().join(rel.components().next().unwrap())),
            Err(_) => Limits::default(),
        };
        let checker = Checker::new(limits);
        for d in checker.check_bytes(&file, &std::fs::read(&file).unwrap()).diagnostics {
            let rule = loopc_check::find_rule(d.code).unwrap_or_else(|| panic!("{}: unregistered code {}", file.display(), d.code));
            assert_eq!(rule.name, d.rule, "{}: {}", file.display(), d.code);
            assert_eq!(rule.default_severity, d.severity, "{}: {} {}", file.display(), d.code, d.message);
            seen.insert(d.code);
        }
    }
    // The files cover every rule (the fixtures guarantee it), so the check means something.
    assert_eq!(seen.len(), all_rules().len(), "codes seen: {seen:?}");
}
