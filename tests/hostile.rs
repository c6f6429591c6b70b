//! Hostile front-end input, as the attacks of the hardening issue found it:
//! `when` conditions built to exhaust the parser's stack or to blow up the
//! plan, and one-line files of hundreds of kilobytes. Every command ends with
//! exit 0, 1 or 2 and a diagnostic, alone and in a directory of such files;
//! a condition within the limits compiles into a plan `loopc run` accepts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn loopc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("LOOPC_STATE_DIR", cwd.with_extension("state"))
        .output()
        .expect("loopc runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SPEC: &str = include_str!("../loop-library/code-repair.yaml");

/// The loop library's code-repair loop with its first `when` replaced.
fn with_when(condition: &str) -> String {
    let original = "when: \"passed == false\"";
    assert!(SPEC.contains(original));
    SPEC.replacen(original, &format!("when: \"{condition}\""), 1)
}

fn hostile_conditions() -> Vec<(&'static str, String)> {
    vec![
        ("parens", format!("{}passed == false{}", "(".repeat(10_000), ")".repeat(10_000))),
        ("nots", format!("{}passed", "not ".repeat(40_000))),
        ("bangs", format!("{}passed", "!".repeat(40_000))),
        ("chain", vec!["score > 0"; 10_000].join(" and ")),
    ]
}

/// `loopc run --dry-run` of `plan.json` in `dir`, with the code-repair loop's inputs.
fn dry_run_plan(dir: &Path) -> Output {
    let inputs = ["-i", "repository=.", "-i", "failing_test=t", "-i", "language=python"];
    loopc(&[&["run", "--dry-run", "-q", "plan.json"][..], &inputs].concat(), dir)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn hostile_when_conditions_are_diagnostics_in_every_command() {
    let dir = scratch("hostile-when");
    for (name, condition) in hostile_conditions() {
        let file = format!("{name}.yaml");
        std::fs::write(dir.join(&file), with_when(&condition)).unwrap();
        for format in ["human", "json", "sarif", "github", "gitlab"] {
            let out = loopc(&["check", "--no-config", "--format", format, &file], &dir);
            assert_eq!(out.status.code(), Some(1), "{name} {format}: {}", stderr(&out));
            assert!(String::from_utf8_lossy(&out.stdout).contains("L418"), "{name} {format}");
        }
        let compile = loopc(&["compile", &file], &dir);
        assert_eq!(compile.status.code(), Some(1), "{name}: {}", stderr(&compile));
        for command in ["diagram", "score"] {
            let out = loopc(&[command, &file], &dir);
            assert!(matches!(out.status.code(), Some(0..=2)), "{name} {command}: {:?}", out.status);
        }
    }
    let human = loopc(&["check", "--no-config", "parens.yaml"], &dir);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("deeper than 32 levels"), "{text}");
    let chain = String::from_utf8_lossy(&loopc(&["check", "--no-config", "chain.yaml"], &dir).stdout).into_owned();
    assert!(chain.contains("more than 1024 operands"), "{chain}");
}

#[test]
fn one_hostile_file_in_a_directory_is_its_own_diagnostic() {
    let dir = scratch("hostile-dir");
    let specs = dir.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    // Files of a batch are checked on worker threads: 50 files, each of the
    // four attacks, and one clean spec among them.
    for (i, (name, condition)) in hostile_conditions().into_iter().cycle().take(50).enumerate() {
        std::fs::write(specs.join(format!("{i:02}-{name}.yaml")), with_when(&condition)).unwrap();
    }
    std::fs::write(specs.join("clean.yaml"), SPEC).unwrap();
    let out = loopc(&["check", "--no-config", "--format", "json", "specs"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["files"], 51);
    assert_eq!(report["summary"]["files_with_errors"], 50, "the clean spec stays clean");
}

#[test]
fn a_long_chain_within_the_limits_compiles_shallow_and_runs() {
    let dir = scratch("hostile-chain");
    // 512 comparisons: 1,024 operands, the most a condition may have.
    std::fs::write(dir.join("chain.yaml"), with_when(&vec!["score > 0"; 512].join(" and "))).unwrap();
    let check = loopc(&["check", "--no-config", "chain.yaml"], &dir);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    let compile = loopc(&["compile", "chain.yaml", "-o", "plan.json"], &dir);
    assert_eq!(compile.status.code(), Some(0), "{}", stderr(&compile));
    let size = std::fs::metadata(dir.join("plan.json")).unwrap().len();
    assert!(size < 1_000_000, "the plan is linear in the chain: {size} bytes");
    let plan: Value = serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap();
    fn depth(v: &Value) -> usize {
        match v {
            Value::Array(xs) => 1 + xs.iter().map(depth).max().unwrap_or(0),
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    assert!(depth(&plan) < 64, "a balanced tree: depth {}", depth(&plan));
    let run = dry_run_plan(&dir);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        stderr(&run)
    );
}

#[test]
fn the_deepest_condition_accepted_runs_and_one_level_more_is_refused() {
    let dir = scratch("hostile-depth");
    // Each level an `or` of four whose last operand is the next level: two
    // compiled levels per level, around a comparison (2): 23 levels = depth
    // 48, the most accepted.
    let nest = |levels: usize| {
        (0..levels).fold("iteration > 1".to_owned(), |inner, _| {
            format!("(passed or failed or score > 0 or {inner})")
        })
    };
    std::fs::write(dir.join("deepest.yaml"), with_when(&nest(23))).unwrap();
    let check = loopc(&["check", "--no-config", "deepest.yaml"], &dir);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    assert_eq!(loopc(&["compile", "deepest.yaml", "-o", "plan.json"], &dir).status.code(), Some(0));
    let run = dry_run_plan(&dir);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    std::fs::write(dir.join("deeper.yaml"), with_when(&nest(24))).unwrap();
    let refused = loopc(&["check", "--no-config", "deeper.yaml"], &dir);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("50 levels deep once compiled, more than 48"));
}

#[test]
fn long_single_lines_are_checked_with_positions() {
    let dir = scratch("hostile-lines");
    // A 200 KB line with one non-ASCII character, and a one-line JSON spec of
    // about 600 KB with thousands of findings on its only line.
    let long = format!("é{}", "x".repeat(200_000));
    std::fs::write(
        dir.join("wide.yaml"),
        SPEC.replacen("description: ", &format!("description: {long} "), 1),
    )
    .unwrap();
    // A finding after the long line is still placed on its own line.
    let wide =
        SPEC.replacen("description: ", &format!("description: {long} "), 1)
            .replacen("when: \"passed == false\"", "when: \"scor < 1\"", 1);
    std::fs::write(dir.join("wide.yaml"), &wide).unwrap();
    let out = loopc(&["check", "--no-config", "--format", "json", "wide.yaml"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let finding = &serde_json::from_slice::<Value>(&out.stdout).unwrap()["diagnostics"][0];
    let line = wide.lines().position(|l| l.contains("scor < 1")).unwrap() + 1;
    assert_eq!(finding["line"], line, "{finding}");
    let text_line = wide.lines().nth(line - 1).unwrap();
    assert_eq!(finding["column"], text_line.find("scor").unwrap() + 1, "{finding}");

    let mut doc = spec_as_json();
    let workers = doc["workers"].as_array().unwrap().clone();
    doc["workers"] = Value::Array(workers.iter().cycle().take(workers.len() * 700).cloned().collect());
    doc["description"] = Value::String("ünïcödé ".repeat(4));
    let text = serde_json::to_string(&doc).unwrap();
    assert!(text.len() > 500_000 && !text.contains('\n'), "{}", text.len());
    std::fs::write(dir.join("minified.json"), &text).unwrap();
    let human = loopc(&["check", "--no-config", "minified.json"], &dir);
    assert_eq!(human.status.code(), Some(1), "duplicate worker ids are errors: {}", stderr(&human));
    assert!(String::from_utf8_lossy(&human.stdout).contains("minified.json:1:"));
    let out = loopc(&["check", "--no-config", "--format", "json", "minified.json"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert!(diagnostics.len() > 1000, "a finding per duplicate: {}", diagnostics.len());
    assert!(diagnostics.iter().all(|d| d["line"] == 1));
    let last = diagnostics.last().unwrap().clone();
    // Columns count characters (the description's are two bytes each in
    // UTF-8): the last finding's span is exactly the duplicate id's text.
    let chars: Vec<char> = text.chars().collect();
    let (start, end) = (
        last["column"].as_u64().unwrap() as usize,
        last["end_column"].as_u64().unwrap() as usize,
    );
    let shown: String = chars[start - 1..end - 1].iter().collect();
    let id = last["message"].as_str().unwrap().split('`').nth(1).unwrap().to_owned();
    assert_eq!(shown, format!("\"{id}\""), "{last}");
}

/// The code-repair spec as JSON, read by loopc's own YAML front end.
fn spec_as_json() -> Value {
    let limits = loopc_check::Limits::default();
    let (_, root, diagnostics) = loopc_check::read_document(Path::new("code-repair.yaml"), SPEC.as_bytes(), &limits);
    assert!(diagnostics.is_empty());
    root.expect("the library spec parses").to_json()
}
