//! `loopc check --format sarif` as GitHub code scanning reads it, checked
//! by two validators that are not loopc's: the SARIF 2.1.0 JSON Schema
//! (tests/sarif/sarif-schema-2.1.0.json) and Microsoft's SARIF Multitool
//! (`validate`, pinned by tests/sarif/package-lock.json). The specs sit in
//! a scratch git repository under names that need percent-encoding; the
//! URIs must decode back to them, relative to `%SRCROOT%`, from the root
//! and from a subdirectory.
//!
//! Needs `git`, `node` and, on first run, the npm registry: the test runs
//! `npm ci` in tests/sarif when its node_modules is missing or stale.

mod support;

use support::loopc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const BROKEN: &str = include_str!("fixtures/rules/L201-unknown-reference/err/typo-in-depends-on.yaml");

/// Every spec of the scratch repository, by its path there.
const NAMES: &[&str] = &[
    "specs/a spec.yaml",
    "specs/100%.yaml",
    "specs/a,b.yaml",
    "specs/#1.yaml",
    "specs/café.yaml",
    "specs/日本/ループ.yaml",
    "sub dir/é #%,.yaml",
];

fn sarif_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sarif")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory under the target directory, made a git repository of
/// its own (inside the checkout it would otherwise be part of loopc's).
fn scratch_repo(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let git = Command::new("git").args(["init", "-q"]).current_dir(&dir).output();
    match git {
        Ok(o) if o.status.success() => {}
        other => panic!("`git init` in {} failed (is git installed?): {other:?}", dir.display()),
    }
    std::fs::canonicalize(dir).unwrap()
}

/// `check --format sarif ARGS` in `cwd`, parsed; the exit code must be `code`.
fn sarif(args: &[&str], cwd: &Path, code: i32) -> Value {
    let out = loopc(&[&["check", "--no-config", "--format", "sarif"][..], args].concat(), cwd);
    assert_eq!(out.status.code(), Some(code), "{:?}: {}", args, text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// The schema's errors for `log`: under its own draft (04) and again under
/// draft-07, whose `uri-reference` format checks the relative URIs.
fn schema_errors(log: &Value) -> Vec<String> {
    static VALIDATORS: OnceLock<[jsonschema::Validator; 2]> = OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(sarif_dir().join("sarif-schema-2.1.0.json")).unwrap()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
        let build = |draft| {
            jsonschema::options()
                .with_draft(draft)
                .should_validate_formats(true)
                .build(&schema)
                .unwrap()
        };
        [build(jsonschema::Draft::Draft4), build(jsonschema::Draft::Draft7)]
    });
    let mut errors: Vec<String> = validators
        .iter()
        .flat_map(|v| v.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())))
        .collect();
    errors.sort();
    errors.dedup();
    errors
}

/// A `file:` URI's path, decoded.
fn file_path(uri: &str) -> PathBuf {
    let path = uri.strip_prefix("file://").unwrap_or_else(|| panic!("{uri} is not a file: URI"));
    assert!(path.starts_with('/'), "{uri}: no authority, an absolute path");
    PathBuf::from(decode(path))
}

fn decode(uri: &str) -> String {
    percent_encoding::percent_decode_str(uri).decode_utf8().unwrap().into_owned()
}

/// Every artifact location of a log (results, related locations and
/// notifications), each as the absolute path it names.
fn located_paths(log: &Value) -> Vec<PathBuf> {
    let run = &log["runs"][0];
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("%SRCROOT% has a uri");
    assert!(base.starts_with("file:///") && base.ends_with('/'), "{base}");
    let root = file_path(base);
    let mut out = Vec::new();
    let mut add = |location: &Value| {
        let uri = location["uri"].as_str().unwrap();
        if location["uriBaseId"] == "%SRCROOT%" {
            assert!(!uri.contains(':') && !uri.starts_with('/'), "{uri}: relative to %SRCROOT%");
            out.push(root.join(decode(uri)));
        } else {
            assert!(location.get("uriBaseId").is_none(), "{location}");
            out.push(file_path(uri));
        }
    };
    for result in run["results"].as_array().unwrap() {
        add(&result["locations"][0]["physicalLocation"]["artifactLocation"]);
        for related in result["relatedLocations"].as_array().into_iter().flatten() {
            add(&related["physicalLocation"]["artifactLocation"]);
        }
    }
    for invocation in run["invocations"].as_array().unwrap() {
        for n in invocation["toolExecutionNotifications"].as_array().into_iter().flatten() {
            add(&n["locations"][0]["physicalLocation"]["artifactLocation"]);
        }
    }
    out
}

/// The fingerprint of every result, in order.
fn fingerprints(log: &Value) -> Vec<String> {
    let results = log["runs"][0]["results"].as_array().unwrap();
    results
        .iter()
        .map(|r| {
            let print = r["partialFingerprints"]["loopc/v1"].as_str();
            print
                .unwrap_or_else(|| panic!("a result without partialFingerprints: {r}"))
                .to_owned()
        })
        .collect()
}

/// The scratch repository with every spec of [`NAMES`]; `specs/café.yaml`
/// has two identical findings on two identical lines.
fn repository(name: &str) -> PathBuf {
    let root = scratch_repo(name);
    for name in NAMES {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, BROKEN).unwrap();
    }
    let twice = BROKEN.replace(
        "evaluators:\n",
        "  - id: coder2\n    role: Write another patch\n    depends_on: [planer]\n    outputs: {name: patch2, format: code}\nevaluators:\n",
    );
    std::fs::write(root.join("specs/café.yaml"), twice).unwrap();
    root
}

/// What every log must be: valid by the schema, all URIs naming real files
/// (or the missing path), fingerprints on every result, rules documented.
fn check_log(name: &str, log: &Value, missing: Option<&Path>) {
    let errors = schema_errors(log);
    eprintln!("{name}: {} JSON Schema errors", errors.len());
    assert!(
        errors.is_empty(),
        "{name}: the SARIF schema rejects the log:\n{}",
        errors.join("\n")
    );
    for path in located_paths(log) {
        assert!(
            path.is_file() || Some(path.as_path()) == missing,
            "{name}: {} is no file",
            path.display()
        );
    }
    let run = &log["runs"][0];
    assert_eq!(fingerprints(log).len(), run["results"].as_array().unwrap().len());
    for rule in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(!rule["help"]["markdown"].as_str().unwrap().is_empty(), "{name}: {rule}");
        assert_ne!(rule["fullDescription"], rule["shortDescription"], "{name}: {rule}");
    }
}

/// The relative path of each result's file, by `uriBaseId`-relative URI.
fn relative_files(log: &Value) -> Vec<String> {
    let results = log["runs"][0]["results"].as_array().unwrap();
    let mut files: Vec<String> = results
        .iter()
        .map(|r| &r["locations"][0]["physicalLocation"]["artifactLocation"])
        .filter(|l| l["uriBaseId"] == "%SRCROOT%")
        .map(|l| decode(l["uri"].as_str().unwrap()))
        .collect();
    files.dedup();
    files
}

#[test]
fn uris_are_encoded_and_relative_to_the_repository_from_anywhere_in_it() {
    let root = repository("names");
    let mut names: Vec<&str> = NAMES.to_vec();
    names.sort();

    let from_root = sarif(&["."], &root, 1);
    check_log("from the root", &from_root, None);
    assert_eq!(relative_files(&from_root), names);
    let run = &from_root["runs"][0];
    assert_eq!(file_path(run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().unwrap()), root);
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert!(run["invocations"][0].get("toolExecutionNotifications").is_none());

    // From a subdirectory, the same URIs: the root is the repository's, not the cwd.
    let from_sub = sarif(&[".", "../../sub dir"], &root.join("specs/日本"), 1);
    check_log("from specs/日本", &from_sub, None);
    let from_sub_files = relative_files(&from_sub);
    assert_eq!(from_sub_files, ["specs/日本/ループ.yaml", "sub dir/é #%,.yaml"]);

    // `--sarif-root`: files outside it get absolute file: URIs.
    let rooted = sarif(&["--sarif-root", "specs", "."], &root, 1);
    check_log("--sarif-root specs", &rooted, None);
    let outside: Vec<PathBuf> = located_paths(&rooted)
        .into_iter()
        .filter(|p| !p.starts_with(root.join("specs")))
        .collect();
    assert!(!outside.is_empty() && outside.iter().all(|p| p == &root.join("sub dir/é #%,.yaml")));
    assert!(
        relative_files(&rooted).iter().all(|f| !f.starts_with("specs/")),
        "relative to specs/"
    );

    // An unreadable path: the run is not successful, and says which path.
    let missing = root.join("no such dir");
    let failed = sarif(&[".", "no such dir"], &root, 2);
    check_log("with a missing path", &failed, Some(&missing));
    let invocation = &failed["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notification = &invocation["toolExecutionNotifications"][0];
    assert_eq!(notification["level"], "error");
    assert!(notification["message"]["text"].as_str().unwrap().contains("no such dir"));
    assert_eq!(
        notification["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "no%20such%20dir"
    );

    let logs = [
        ("root", &from_root),
        ("subdirectory", &from_sub),
        ("sarif-root", &rooted),
        ("missing", &failed),
    ];
    multitool_accepts(&root, &logs);
}

#[test]
fn fingerprints_survive_unrelated_edits_and_tell_identical_findings_apart() {
    let root = repository("fingerprints");
    let before = sarif(&["specs/café.yaml"], &root, 1);
    let prints = fingerprints(&before);
    let lines = |log: &Value| -> Vec<(String, u64)> {
        let results = log["runs"][0]["results"].as_array().unwrap();
        let at = |r: &Value| r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap();
        results.iter().map(|r| (r["ruleId"].as_str().unwrap().to_owned(), at(r))).collect()
    };
    let twins: Vec<usize> = (0..prints.len()).filter(|&i| lines(&before)[i].0 == "L201").collect();
    assert_eq!(twins.len(), 2, "two L201 findings on identical lines: {:?}", lines(&before));
    assert_ne!(prints[twins[0]], prints[twins[1]]);
    let unique: std::collections::HashSet<&String> = prints.iter().collect();
    assert_eq!(unique.len(), prints.len(), "every fingerprint in the file is distinct");

    let spec = std::fs::read_to_string(root.join("specs/café.yaml")).unwrap();
    let edited = format!(
        "# an unrelated comment\n{}",
        spec.replace("evaluators:\n", "# another one\nevaluators:\n")
    );
    std::fs::write(root.join("specs/café.yaml"), edited).unwrap();
    let after = sarif(&["specs/café.yaml"], &root, 1);
    assert_eq!(fingerprints(&after), prints, "unrelated lines keep every fingerprint");
    let (old, new) = (lines(&before), lines(&after));
    assert!(
        old.iter().zip(&new).all(|(o, n)| n.1 > o.1),
        "the findings did move: {old:?} → {new:?}"
    );
}

#[test]
fn rule_help_is_the_rule_documentation() {
    let root = scratch_repo("help");
    let log = sarif(&["."], &root, 0);
    let rules = log["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().clone();
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md")).unwrap();
    for rule in &rules {
        let code = rule["id"].as_str().unwrap();
        let explain = loopc(&["explain", code], &root);
        assert_eq!(rule["help"]["text"].as_str(), Some(text(&explain.stdout).as_str()), "{code}");
        let markdown = rule["help"]["markdown"].as_str().unwrap();
        assert!(docs.contains(markdown), "{code}: help.markdown is its section of docs/rules.md");
        let uri = rule["helpUri"].as_str().unwrap();
        let anchor = uri.split_once("docs/rules.md#").map(|(_, a)| a);
        assert_eq!(
            anchor,
            Some(code.to_ascii_lowercase().as_str()),
            "{uri}: GitHub's anchor of `### {code}`"
        );
    }
}

/// The Multitool of tests/sarif/node_modules, installed with `npm ci` when
/// missing or not at the version package.json pins.
fn multitool() -> &'static Path {
    static TOOL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let tool = TOOL.get_or_init(|| {
        let dir = sarif_dir();
        let package: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
        let pinned = &package["dependencies"]["@microsoft/sarif-multitool"];
        let resolve = || -> Option<PathBuf> {
            let installed = std::fs::read_to_string(dir.join("node_modules/@microsoft/sarif-multitool/package.json")).ok()?;
            if serde_json::from_str::<Value>(&installed).ok()?["version"] != *pinned {
                return None;
            }
            // The package's own choice of its platform build.
            let o = Command::new("node")
                .args(["-p", "require('@microsoft/sarif-multitool')"])
                .current_dir(&dir)
                .output()
                .ok()?;
            let path = PathBuf::from(text(&o.stdout).trim());
            (o.status.success() && path.is_file()).then_some(path)
        };
        if let Some(path) = resolve() {
            return Ok(path);
        }
        support::npm_ci(&dir)?;
        resolve().ok_or_else(|| format!("`npm ci` in {} installed no Multitool for this platform", dir.display()))
    });
    let path = tool.as_ref().unwrap_or_else(|e| panic!("{e}"));
    #[cfg(unix)]
    {
        // npm may skip the package's `chmod u+x` postinstall script.
        use std::os::unix::fs::PermissionsExt;
        let mut mode = std::fs::metadata(path).unwrap().permissions();
        if mode.mode() & 0o100 == 0 {
            mode.set_mode(mode.mode() | 0o100);
            std::fs::set_permissions(path, mode).unwrap();
        }
    }
    path
}

/// Validate the logs with the Multitool (SARIF and GitHub rules), next to a
/// broken copy that must fail; no error in ours.
fn multitool_accepts(scratch: &Path, logs: &[(&str, &Value)]) {
    let dir = scratch.join("validate");
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for (name, log) in logs {
        files.push(dir.join(format!("{name}.sarif")));
        std::fs::write(files.last().unwrap(), serde_json::to_string_pretty(log).unwrap()).unwrap();
    }
    // The control: a URI as it was before it was encoded.
    let mut broken = logs[0].1.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = Value::from(NAMES[6]);
    let control = dir.join("control.sarif");
    std::fs::write(&control, serde_json::to_string_pretty(&broken).unwrap()).unwrap();
    assert!(!schema_errors(&broken).is_empty(), "the schema must reject the control");

    let report = dir.join("multitool.sarif");
    let out = Command::new(multitool())
        .args([
            "validate",
            "--rule-kind",
            "Sarif;Gh",
            "--level",
            "Error;Warning",
            "--log",
            "ForceOverwrite",
        ])
        .arg("--output")
        .arg(&report)
        .args(&files)
        .arg(&control)
        .env("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
        .output()
        .expect("run the Multitool");
    let console = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap_or_default())
        .unwrap_or_else(|e| panic!("the Multitool wrote no report ({e}):\n{console}"));
    let run = &report["runs"][0];
    assert_eq!(run["invocations"][0]["executionSuccessful"], true, "{console}");
    let rules = run["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default();
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut ours = Vec::new();
    for result in run["results"].as_array().unwrap() {
        let rule = result["ruleIndex"].as_u64().and_then(|i| rules.get(i as usize));
        let default = rule.and_then(|r| r["defaultConfiguration"]["level"].as_str());
        let level = result["level"].as_str().or(default).unwrap_or("warning").to_owned();
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_default();
        let file = uri.rsplit('/').next().unwrap_or_default().to_owned();
        *counts.entry((file.clone(), level.clone())).or_default() += 1;
        if file != "control.sarif" {
            ours.push(format!("{level} {file}: {} {}", result["ruleId"], result["message"]));
        }
    }
    let count = |file: &str, level: &str| counts.get(&(file.to_owned(), level.to_owned())).copied().unwrap_or(0);
    let (errors, warnings): (usize, usize) = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .fold((0, 0), |(e, w), f| (e + count(&f, "error"), w + count(&f, "warning")));
    eprintln!("Multitool: {errors} errors, {warnings} warnings in {} logs", files.len());
    for line in &ours {
        eprintln!("  {line}");
    }
    assert!(
        count("control.sarif", "error") > 0,
        "the Multitool must reject the control:\n{console}"
    );
    assert_eq!(errors, 0, "the Multitool rejects loopc's SARIF:\n{}", ours.join("\n"));
}
