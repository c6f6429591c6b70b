//! The embedded templates are well-formed: what `templates/` holds is what
//! the binary embeds, every default is a value its variable takes, and every
//! template renders. (That each rendered spec checks clean and dry-runs is
//! tests/templates.rs, at the workspace root, which runs the binary.)

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

fn templates_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

#[test]
fn the_embedded_list_is_the_templates_directory() {
    let mut on_disk: Vec<String> = std::fs::read_dir(templates_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = SOURCES.iter().map(|s| s.name.to_owned()).collect();
    embedded.sort();
    assert_eq!(
        embedded, on_disk,
        "add each directory of templates/ to SOURCES in lib.rs (and only those)"
    );
    for source in SOURCES {
        let dir = templates_dir().join(source.name);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let expected: &[&str] = if source.run.is_some() {
            &["inputs.json.j2", "responses.json.j2", "spec.yaml.j2", "template.toml"]
        } else {
            &["spec.yaml.j2", "template.toml"]
        };
        assert_eq!(
            files, expected,
            "{}: a loop has responses and inputs, a composition neither",
            source.name
        );
    }
}

#[test]
fn every_template_declares_what_loopc_new_needs() {
    for t in all() {
        assert!(!t.summary.is_empty() && !t.summary.contains('\n'), "{}: one-line summary", t.name);
        let mut names: Vec<&str> = t.vars.iter().map(|v| v.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), t.vars.len(), "{}: a variable is declared twice", t.name);
        let loop_name = t.var("loop_name").unwrap_or_else(|| panic!("{}: no loop_name variable", t.name));
        assert_eq!(loop_name.kind, Kind::Name, "{}", t.name);
        assert_eq!(
            loop_name.default, t.name,
            "{}: the default loop_name is the template's name",
            t.name
        );
        for v in &t.vars {
            assert!(
                v.parse(&v.default).is_ok(),
                "{}: the default of {} is not a value it takes",
                t.name,
                v.name
            );
            assert!(!v.description.is_empty(), "{}: {} has no description", t.name, v.name);
        }
        if t.is_composition() {
            assert!(
                t.end_state.is_none(),
                "{}: a composition is not run (yet), so it has no end state",
                t.name
            );
            assert!(
                t.var(CHILDREN_DIR).is_some(),
                "{}: a composition says where its children are",
                t.name
            );
            for child in &t.children {
                let template = find(&child.template).unwrap_or_else(|| panic!("{}: no child template {}", t.name, child.template));
                template.validate(&child.set).unwrap();
            }
        } else {
            assert!(t.end_state.is_some(), "{}: a loop says how its dry run ends", t.name);
        }
    }
}

#[test]
fn every_template_renders_with_its_defaults() {
    for t in all() {
        let rendered = t.render(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
        assert!(rendered.spec.contains(&format!("loop_name: {}\n", t.name)), "{}", t.name);
        assert_eq!(rendered.run.is_some(), !t.is_composition(), "{}", t.name);
        if let Some(run) = &rendered.run {
            let responses: serde_json::Value = serde_json::from_str(&run.responses).unwrap();
            assert!(responses["steps"].as_object().is_some_and(|s| !s.is_empty()), "{}", t.name);
            assert_eq!(
                run.inputs.lines().count(),
                1,
                "{}: --inputs-file takes one JSON object per line",
                t.name
            );
        }
    }
}

#[test]
fn unknown_and_bad_values_are_refused_by_name() {
    let t = find("ci-self-healing").unwrap();
    let set = BTreeMap::from([("max_iteration".to_owned(), "3".to_owned())]);
    match t.render(&set).unwrap_err() {
        RenderError::UnknownVar { name, known, .. } => {
            assert_eq!(name, "max_iteration");
            assert!(known.iter().any(|k| k == "max_iterations"), "{known:?}");
        }
        other => panic!("{other:?}"),
    }
    let set = BTreeMap::from([("loop_name".to_owned(), "Fix CI".to_owned())]);
    assert!(matches!(t.render(&set).unwrap_err(), RenderError::BadValue { .. }));
}

#[test]
fn a_value_changes_the_spec_where_the_template_uses_it() {
    let t = find("ci-self-healing").unwrap();
    let set = BTreeMap::from([
        ("loop_name".to_owned(), "fix-nightly".to_owned()),
        ("max_iterations".to_owned(), "3".to_owned()),
    ]);
    let spec = t.render(&set).unwrap().spec;
    assert!(spec.contains("loop_name: fix-nightly\n"), "{spec}");
    assert!(spec.contains("type: max_iterations\n      value: 3\n"), "{spec}");
}

#[test]
fn dry_run_bindings_bind_every_step_to_the_samples() {
    let command = "loopc run ci.yaml --bindings ci.bindings.toml --inputs-file ci.inputs.jsonl --dry-run";
    let text = dry_run_bindings("ci-self-healing", "ci.responses.json", command);
    let value: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(value["executors"]["samples"]["kind"].as_str(), Some("script"));
    assert_eq!(value["executors"]["samples"]["file"].as_str(), Some("ci.responses.json"));
    assert_eq!(value["bind"]["default"].as_str(), Some("samples"));
    assert!(text.contains(&format!("#   {command}\n")));
}
