//! `loopc check` and `loopc explain` as a user runs them: exit codes, the
//! output formats, configuration, and hostile input.

mod support;

use support::{loopc, repo, scratch};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn conformance() -> PathBuf {
    let dir = repo().join("../shared/conformance/public");
    assert!(dir.is_dir(), "the conformance corpus must sit beside the repo at {}", dir.display());
    dir
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const VALID: &str = include_str!("fixtures/rules/L101-schema/ok/minimal.yaml");

#[test]
fn loop_library_checks_clean() {
    let out = loopc(&["check", "loop-library/"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Only the infos that loop-library/README.md explains.
    assert!(stdout(&out).contains("0 errors, 0 warnings, 1 info"), "{}", stdout(&out));
    assert!(stdout(&out).contains("[L422]"), "{}", stdout(&out));
}

#[test]
fn conformance_corpus_verdicts() {
    let out = loopc(&["check", "--format", "json", "--no-config", "."], &conformance());
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut failing: Vec<String> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["file"].as_str().unwrap().to_owned())
        .collect();
    failing.sort();
    failing.dedup();
    assert_eq!(
        failing,
        [
            "docs/submission-dry-run/partner/agentless-lb-cr-1.yaml",
            "docs/submission-dry-run/partner/aider-lb-cr-1.yaml",
            "docs/submission-dry-run/partner/openhands-lb-cr-1.yaml",
            "examples/specs/runtime-minimal.yaml",
            "loop-library/compositions/flat/debug-repair-flat.yaml",
            "loop-library/compositions/flat/research-to-writing-flat.yaml",
            "loop-library/compositions/flat/scenario-swarm-rehearsal-flat.yaml",
            "loop-library/compositions/research-code-nest.yaml",
            "loop-library/compositions/research-to-writing.yaml",
            "loop-library/compositions/scenario-swarm-rehearsal.yaml",
            "loop-library/compositions/startup-to-strategy.yaml",
            "standards/examples/composition-counterexamples/nested-no-adapters.yaml",
            "standards/examples/composition-counterexamples/parallel-first-wins.yaml",
            "standards/examples/composition-counterexamples/sequential-no-adapters.yaml",
        ]
    );
    let codes_of = |file: &str| -> Vec<String> {
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["file"] == file)
            .map(|d| d["code"].as_str().unwrap().to_owned())
            .collect()
    };
    // The flat compositions repeat ids and declare several primary metrics.
    for flat in ["debug-repair-flat", "research-to-writing-flat", "scenario-swarm-rehearsal-flat"] {
        let codes = codes_of(&format!("loop-library/compositions/flat/{flat}.yaml"));
        assert!(codes.iter().any(|c| c == "L202"), "{flat}: {codes:?}");
        assert!(codes.iter().any(|c| c == "L204"), "{flat}: {codes:?}");
    }
    // Three library compositions hand over the output of a worker their
    // first child does not have (`research-agent.yaml` has only `researcher`).
    for composition in ["research-code-nest", "research-to-writing", "startup-to-strategy"] {
        let codes = codes_of(&format!("loop-library/compositions/{composition}.yaml"));
        assert_eq!(codes.iter().filter(|c| *c == "L307").count(), 1, "{composition}: {codes:?}");
    }
    // The counterexamples break the LSS 1.1 adapter rules, which warn
    // (their README expects warnings from a non-strict validator).
    for gap in ["nested-no-adapters", "sequential-no-adapters"] {
        let file = format!("standards/examples/composition-counterexamples/{gap}.yaml");
        let l305: Vec<&Value> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["file"] == file.as_str() && d["code"] == "L305")
            .collect();
        assert_eq!(l305.len(), 1, "{gap}: {:?}", codes_of(&file));
        assert_eq!(l305[0]["severity"], "warning", "{gap}");
    }
}

#[test]
fn json_contract() {
    let dir = scratch("json_contract");
    std::fs::write(
        dir.join("spec.yaml"),
        VALID.replace("depends_on: [planner]", "depends_on: [planer]"),
    )
    .unwrap();
    let out = loopc(&["check", "--format", "json", "spec.yaml"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &report["diagnostics"][0];
    assert_eq!(d["file"], "spec.yaml");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(22), Some(18)));
    assert_eq!((d["end_line"].as_u64(), d["end_column"].as_u64()), (Some(22), Some(24)));
    assert_eq!(d["severity"], "error");
    assert_eq!(d["code"], "L201");
    assert_eq!(d["help"], "did you mean `planner`?");
    assert!(d["message"].as_str().unwrap().contains("planer"));
    assert_eq!(report["summary"]["errors"], 1);
}

#[test]
fn human_output_leads_with_file_line_col() {
    let dir = scratch("human");
    std::fs::write(
        dir.join("spec.yaml"),
        VALID.replace("depends_on: [planner]", "depends_on: [planer]"),
    )
    .unwrap();
    let out = loopc(&["check", "spec.yaml"], &dir);
    let text = stdout(&out);
    assert!(text.starts_with("spec.yaml:22:18: error[L201]: unknown worker `planer`"), "{text}");
    assert!(text.contains("help: did you mean `planner`?"));
    assert!(text.contains("checked 1 file: 1 error, 0 warnings"));
}

#[test]
fn sarif_output_is_what_code_scanning_reads() {
    let dir = scratch("sarif");
    // Its own repository root (`%SRCROOT%`), not the checkout's target/tmp/sarif.
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::write(dir.join("specs/spec.yaml"), VALID.replace("  type: ephemeral", "  type: ephemral")).unwrap();
    let out = loopc(&["check", "--format", "sarif", "specs"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 20);
    assert!(rules
        .iter()
        .all(|r| r["shortDescription"]["text"].is_string() && r["helpUri"].is_string()));
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "L101");
    assert_eq!(rules[result["ruleIndex"].as_u64().unwrap() as usize]["id"], "L101");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "specs/spec.yaml");
    assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(location["region"]["startLine"], 11);
    assert_eq!(location["region"]["startColumn"], 9);
}

#[test]
fn github_annotations() {
    let dir = scratch("github");
    std::fs::write(dir.join("spec.yaml"), VALID.replace("    primary: true\n", "")).unwrap();
    let out = loopc(&["check", "--format", "github", "spec.yaml"], &dir);
    assert_eq!(out.status.code(), Some(0), "a warning alone passes");
    let text = stdout(&out);
    assert!(
        text.starts_with("::warning file=spec.yaml,line=48,col=1,endLine=48,endColumn=8,title=L204 primary-metric::no metric"),
        "{text}"
    );
}

#[test]
fn gitlab_code_quality_report() {
    let dir = scratch("gitlab");
    let spec = VALID.replace("    primary: true\n", "");
    std::fs::write(dir.join("spec.yaml"), &spec).unwrap();
    let issues = |dir: &Path| -> Vec<Value> {
        let out = loopc(&["check", "--format", "gitlab", "spec.yaml"], dir);
        assert_eq!(out.status.code(), Some(0), "a warning alone passes");
        serde_json::from_slice::<Value>(&out.stdout).unwrap().as_array().unwrap().clone()
    };
    let before = issues(&dir);
    assert!(!before.is_empty());
    let first = &before[0];
    assert_eq!(first["check_name"], "L204");
    assert_eq!(first["severity"], "minor", "warnings are minor, errors major");
    assert_eq!(first["location"]["path"], "spec.yaml");
    assert_eq!(first["location"]["positions"]["begin"]["line"], 48);
    assert!(first["description"].as_str().unwrap().contains("[primary-metric]"));
    let prints: std::collections::HashSet<&str> = before.iter().map(|i| i["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(prints.len(), before.len(), "GitLab needs every fingerprint unique");
    // Lines added above a finding move it; GitLab must not see it as new.
    std::fs::write(dir.join("spec.yaml"), format!("# a comment\n# another\n{spec}")).unwrap();
    let after = issues(&dir);
    assert_eq!(after[0]["location"]["positions"]["begin"]["line"], 50);
    assert_eq!(after[0]["fingerprint"], first["fingerprint"]);
}

#[test]
fn each_command_offers_only_the_formats_it_has() {
    let dir = scratch("formats");
    for (args, offered) in [
        (vec!["check", "--format", "yaml", "."], "human, json, sarif, github, gitlab"),
        (vec!["score", "--format", "sarif", "."], "human, json"),
        (vec!["runs", "--format", "github"], "human, json"),
    ] {
        let out = loopc(&args, &dir);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("[possible values: {offered}]")), "{args:?}: {err}");
    }
}

#[test]
fn severity_overrides_and_exit_codes() {
    let dir = scratch("levels");
    std::fs::write(dir.join("spec.yaml"), VALID.replace("    primary: true\n", "")).unwrap();
    assert_eq!(loopc(&["check", "spec.yaml"], &dir).status.code(), Some(0));
    assert_eq!(loopc(&["check", "--deny", "warnings", "spec.yaml"], &dir).status.code(), Some(1));
    assert_eq!(loopc(&["check", "-D", "primary-metric", "spec.yaml"], &dir).status.code(), Some(1));
    let silenced = loopc(&["check", "-A", "L204", "spec.yaml"], &dir);
    assert_eq!(silenced.status.code(), Some(0));
    assert!(stdout(&silenced).contains("no problems"));
    let unknown = loopc(&["check", "-A", "L999", "spec.yaml"], &dir);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown rule `L999`"));
    assert_eq!(loopc(&["check", "--format", "yaml", "spec.yaml"], &dir).status.code(), Some(2));
    let missing = loopc(&["check", "nowhere.yaml"], &dir);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nowhere.yaml"));
}

#[test]
fn config_file_levels_and_excludes() {
    let dir = scratch("config");
    std::fs::create_dir_all(dir.join("specs/generated")).unwrap();
    std::fs::write(dir.join("specs/spec.yaml"), VALID.replace("    primary: true\n", "")).unwrap();
    std::fs::write(dir.join("specs/generated/broken.yaml"), "a: [").unwrap();
    std::fs::write(dir.join("specs/notes.txt"), "not a spec").unwrap();
    std::fs::write(
        dir.join("loopc.toml"),
        "[rules]\nprimary-metric = \"deny\"\n\n[files]\nexclude = [\"generated/**\"]\n",
    )
    .unwrap();
    let out = loopc(&["check", "--format", "json", "specs"], &dir);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["files"], 1, "generated/ excluded, .txt not included");
    assert_eq!(report["diagnostics"][0]["severity"], "error", "primary-metric denied by loopc.toml");
    assert_eq!(out.status.code(), Some(1));
    // Found upward from a subdirectory, too.
    let from_sub = loopc(&["check", "--format", "json", "."], &dir.join("specs"));
    assert_eq!(serde_json::from_slice::<Value>(&from_sub.stdout).unwrap()["summary"]["files"], 1);
    // --no-config ignores it; a bad config is a usage error.
    assert_eq!(loopc(&["check", "--no-config", "specs/spec.yaml"], &dir).status.code(), Some(0));
    std::fs::write(dir.join("loopc.toml"), "[rules]\nprimary-metric = \"sometimes\"\n").unwrap();
    assert_eq!(loopc(&["check", "specs/spec.yaml"], &dir).status.code(), Some(2));
}

#[test]
fn output_is_deterministic() {
    let first = loopc(&["check", "--format", "json", "--no-config", "."], &conformance());
    let second = loopc(&["check", "--format", "json", "--no-config", "."], &conformance());
    assert_eq!(first.stdout, second.stdout);
}

/// Every hostile input gets exit 1 and a `file:line:col` error, never a panic.
#[test]
fn hostile_inputs_fail_cleanly() {
    let dir = scratch("hostile");
    let bomb = {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            text.push_str(&format!(
                "a{level}: &a{level} [{}]\n",
                vec![format!("*a{}", level - 1); 9].join(", ")
            ));
        }
        text
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.yaml", Vec::new(), "L004"),
        ("list.yaml", b"- a\n- b\n".to_vec(), "L005"),
        ("broken.yaml", b"a: [1, 2\nb: 3\n".to_vec(), "L001"),
        ("dup.yaml", b"a: 1\na: 2\n".to_vec(), "L002"),
        ("multi.yaml", b"a: 1\n---\nb: 2\n".to_vec(), "L003"),
        ("nul.yaml", b"a: \0\n".to_vec(), "L007"),
        ("latin1.yaml", b"a: caf\xe9\n".to_vec(), "L006"),
        ("deep.yaml", "[".repeat(100_000).into_bytes(), "L008"),
        ("bomb.yaml", bomb.into_bytes(), "L009"),
    ];
    for (name, bytes, code) in &cases {
        std::fs::write(dir.join(name), bytes).unwrap();
        let out = loopc(&["check", name], &dir);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {text}");
        let expected = format!("{name}:");
        assert!(text.starts_with(&expected) && text.contains(&format!("[{code}]")), "{name}: {text}");
        let line_col: Vec<&str> = text.splitn(4, ':').collect();
        assert!(
            line_col[1].parse::<usize>().is_ok() && line_col[2].parse::<usize>().is_ok(),
            "{name}: {text}"
        );
        assert!(out.stderr.is_empty(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn large_spec_with_many_workers_checks() {
    let dir = scratch("large");
    let mut text = VALID.replace("workers:\n", "workers:\n__MORE__");
    let mut more = String::new();
    for i in 0..17_000 {
        more.push_str(&format!(
            "  - id: w{i}\n    role: Generated worker {i}\n    model: {{provider: openai, name: gpt-4.1-mini}}\n    inputs:\n      - from: inputs.task\n    outputs: {{name: out{i}, format: text}}\n"
        ));
    }
    text = text.replace("__MORE__", &more);
    assert!(text.len() > 3_000_000);
    std::fs::write(dir.join("big.yaml"), &text).unwrap();
    let out = loopc(&["check", "big.yaml"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn explain_prints_rule_docs_and_rules_md_is_current() {
    let out = loopc(&["explain", "L201"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("L201 unknown-reference"));
    assert!(text.contains("## What it does") && text.contains("## Example"));
    assert_eq!(loopc(&["explain", "dependency-cycle"], &repo()).status.code(), Some(0));
    assert_eq!(loopc(&["explain", "L999"], &repo()).status.code(), Some(2));
    let generated = stdout(&loopc(&["explain", "--markdown"], &repo()));
    let committed = std::fs::read_to_string(repo().join("docs/rules.md")).unwrap();
    assert!(
        generated == committed,
        "docs/rules.md is stale: run `cargo run -- explain --markdown > docs/rules.md`"
    );
}

#[test]
fn bundled_schemas_are_the_canonical_ones() {
    for name in [
        "lss-1.0.schema.json",
        "lss-1.1-composition.schema.json",
        "loop-trace-1.0.schema.json",
    ] {
        let ours = std::fs::read(repo().join("schemas").join(name)).unwrap();
        let canonical = std::fs::read(repo().join("../shared/standards").join(name)).expect("../shared/standards beside the repo");
        assert!(ours == canonical, "schemas/{name} differs from ../shared/standards/{name}");
    }
}

#[test]
fn diagram_mermaid_and_json() {
    let dir = scratch("diagram");
    let out = loopc(&["diagram", "loop-library/ci-self-healing.yaml"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("flowchart TD\n"));
    assert!(text.contains("worker#58; patcher") && text.contains("check#58; ci_tests"), "{text}");
    assert!(
        text.contains("-.->|\"review_to_patcher when score #lt; pass_threshold\"|"),
        "feedback is a dashed back edge labelled with its when"
    );
    assert!(text.contains("≤ 6 iterations"));

    let json = loopc(&["diagram", "--format", "json", "loop-library/ci-self-healing.yaml"], &repo());
    let graph: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(graph["loop_name"], "ci-self-healing");
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for id in [
        "worker:diagnoser",
        "worker:patcher",
        "evaluator:ci_tests",
        "decide",
        "exit:success",
        "exit:halt",
        "exit:escalate",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    assert!(!graph["cycles"].as_array().unwrap().is_empty());
    assert_eq!(graph["bounds"]["max_iterations"], 6);

    let target = dir.join("out.mmd");
    assert_eq!(
        loopc(
            &["diagram", "loop-library/code-repair.yaml", "-o", target.to_str().unwrap()],
            &repo()
        )
        .status
        .code(),
        Some(0)
    );
    assert!(std::fs::read_to_string(&target).unwrap().starts_with("flowchart TD"));

    std::fs::write(dir.join("broken.yaml"), "a: [").unwrap();
    let broken = loopc(&["diagram", "broken.yaml"], &dir);
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stderr).contains("broken.yaml:1:"));
    assert_eq!(loopc(&["diagram", "missing.yaml"], &dir).status.code(), Some(2));
}

/// `--direction`, `--format markdown`, `--hide` and `--compact`, on a loop
/// with inputs, memory, two checks of one worker and an optimizer.
#[test]
fn diagram_directions_markdown_and_compact() {
    let spec = "loop-library/ci-self-healing.yaml";
    let run = |args: &[&str]| {
        let out = loopc(&[&["diagram", spec][..], args].concat(), &repo());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    };
    let top_down = run(&[]);
    assert_eq!(run(&["--direction", "TB"]), top_down, "TB is the default");
    assert_eq!(run(&["--direction", "tb"]), top_down);
    let left_right = run(&["--direction", "LR"]);
    assert!(left_right.starts_with("flowchart LR\n"), "{left_right}");
    // The inputs run across the flow; nothing else differs.
    assert!(top_down.contains("subgraph inputs[\"inputs\"]\n    direction LR\n"), "{top_down}");
    assert!(
        left_right.contains("subgraph inputs[\"inputs\"]\n    direction TB\n"),
        "{left_right}"
    );
    let rest = |text: &str| -> Vec<String> {
        let directions = |l: &&str| !l.starts_with("flowchart ") && !l.trim_start().starts_with("direction ");
        text.lines().filter(directions).map(str::to_owned).collect()
    };
    assert_eq!(rest(&top_down), rest(&left_right));
    assert_eq!(loopc(&["diagram", spec, "--direction", "up"], &repo()).status.code(), Some(2));

    // Markdown: a heading naming the loop, then exactly the Mermaid source
    // in a fenced block, in the direction asked for.
    let markdown = run(&["--format", "markdown"]);
    assert_eq!(
        markdown,
        format!("#### Phase graph of `ci-self-healing 1.0.0`\n\n```mermaid\n{top_down}```\n")
    );
    let markdown_lr = run(&["--format", "markdown", "--direction", "LR"]);
    assert!(markdown_lr.contains(&format!("```mermaid\n{left_right}```\n")), "{markdown_lr}");

    // Every worker and check stays; inputs and memory go.
    let hidden = run(&["--hide", "inputs,memory"]);
    for kept in [
        "worker#58; diagnoser",
        "worker#58; patcher",
        "check#58; ci_tests",
        "check#58; patch_review",
    ] {
        assert!(top_down.contains(kept) && hidden.contains(kept), "{kept}: {hidden}");
    }
    for gone in ["input#58; repository", "memory (session)", "<-.->"] {
        assert!(top_down.contains(gone) && !hidden.contains(gone), "{gone}: {hidden}");
    }
    assert_eq!(run(&["--hide", "memory", "--hide", "inputs"]), hidden);
    // Compact: the two checks of the patcher are one node, and no models.
    let compact = run(&["--compact"]);
    assert!(
        compact.contains("{{\"checks#58;<br/>ci_tests<br/>patch_review\"}}:::evaluator"),
        "{compact}"
    );
    assert!(!compact.contains("anthropic/") && !compact.contains("input#58;"), "{compact}");
    assert!(
        compact.contains("|\"tests_passing, review_score\"|"),
        "one measurement edge for both: {compact}"
    );

    let help = stdout(&loopc(&["diagram", "--help"], &repo()));
    for flag in [
        "--direction <DIRECTION>",
        "[default: TB]",
        "--hide <WHAT>",
        "--compact",
        "markdown:",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn check_reports_conformance_levels() {
    let out = loopc(&["check", "--levels", "loop-library/"], &repo());
    let text = stdout(&out);
    assert!(
        text.contains("loop-library/code-repair.yaml: LSS-Operational (next level needs:"),
        "{text}"
    );
    // Every spec of the library (the rendered templates) is LSS-Operational.
    let specs = text
        .lines()
        .filter(|l| l.starts_with("loop-library/") && l.contains(": LSS-"))
        .count();
    assert!(specs >= 4, "{text}");
    assert!(text.contains(&format!("conformance: {specs} LSS-Operational\n")), "{text}");
    let json = loopc(&["check", "--format", "json", "--no-config", "."], &conformance());
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let levels = &report["summary"]["levels"];
    assert_eq!(levels["none"], 8, "{levels}");
    // The flat compositions (duplicate ids) and the three compositions
    // whose adapters name a worker their child lacks (L307).
    assert_eq!(levels["LSS-Parseable"], 6, "{levels}");
    assert_eq!(levels["LSS-Operational"], 14, "{levels}");
}

#[test]
fn loopc_toml_is_honoured_by_every_command() {
    let dir = scratch("settings-everywhere");
    let unbounded = std::fs::read_to_string(repo().join("tests/fixtures/rules/L401-unbounded-cycle/err/success-only.yaml")).unwrap();
    std::fs::write(dir.join("spec.yaml"), &unbounded).unwrap();
    std::fs::create_dir_all(dir.join("drafts")).unwrap();
    std::fs::write(dir.join("drafts/other.yaml"), VALID).unwrap();
    // Without settings the unbounded loop stops check and compile (a diagram draws it anyway).
    for args in [vec!["check", "spec.yaml"], vec!["compile", "spec.yaml"]] {
        assert_eq!(loopc(&args, &dir).status.code(), Some(1), "{args:?}");
    }
    // Allowed in loopc.toml, it stops none of them: the same settings everywhere.
    std::fs::write(
        dir.join("loopc.toml"),
        "[rules]\nL401 = \"allow\"\n\n[files]\nexclude = [\"drafts/**\"]\n",
    )
    .unwrap();
    for args in [
        vec!["check", "spec.yaml"],
        vec!["compile", "spec.yaml"],
        vec!["diagram", "spec.yaml"],
    ] {
        let out = loopc(&args, &dir);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The runtime still refuses a loop nothing ends, whatever the linter was told.
    let run = loopc(&["run", "spec.yaml", "--dry-run", "--input", "task=x"], &dir);
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing bounds the loop"));
    // `score` walks directories with the same file globs as `check`.
    let scored: Value = serde_json::from_slice(&loopc(&["score", ".", "--format", "json"], &dir).stdout).unwrap();
    let files: Vec<&str> = scored["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["spec.yaml"], "drafts/ is excluded");
    // Limits apply to every command that reads a spec.
    std::fs::write(dir.join("loopc.toml"), "[limits]\nmax_file_bytes = 100\n").unwrap();
    for args in [
        vec!["check", "spec.yaml"],
        vec!["compile", "spec.yaml"],
        vec!["diagram", "spec.yaml"],
        vec!["score", "spec.yaml"],
    ] {
        let out = loopc(&args, &dir);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr)).contains("L010"),
            "{args:?}"
        );
    }
    // `--no-config` works on any command.
    assert_eq!(loopc(&["compile", "--no-config", "spec.yaml"], &dir).status.code(), Some(1));
}

/// In a repository with other YAML and JSON files, a directory walk checks
/// the LSS specs only (and says what it skipped); a file named on the
/// command line is checked as a spec whatever it is; `score DIR` reads the
/// same files.
#[test]
fn a_directory_walk_checks_only_lss_documents() {
    let fixture = repo().join("tests/fixtures/repo-mixed");
    let out = loopc(&["check", "--format", "json", "."], &fixture);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["files"], 2, "{json}");
    assert_eq!(json["summary"]["skipped"], 17, "{json}");
    assert_eq!(json["summary"]["errors"], 2, "{json}");
    let files: Vec<&str> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert!(files.iter().all(|f| *f == "specs/broken.lss.yaml"), "{files:?}");

    let verbose = loopc(&["check", "--verbose", "--quiet", "."], &fixture);
    let said = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        said.contains("loopc: skipped docker-compose.yml: not an LSS spec (only one LSS top-level key (`version`))"),
        "{said}"
    );
    assert!(
        said.contains("loopc: skipped specs/lss-1.0.schema.json: not an LSS spec (a JSON Schema)"),
        "{said}"
    );
    assert!(
        said.contains("loopc: skipped empty.yaml: not an LSS spec (an empty file)"),
        "{said}"
    );
    let human = loopc(&["check", "."], &fixture);
    assert!(
        stdout(&human).contains("skipped 17 YAML/JSON files that are not LSS specs (--verbose lists them)"),
        "{}",
        stdout(&human)
    );

    // Named: strict, as before.
    let named = loopc(&["check", "docker-compose.yml"], &fixture);
    assert_eq!(named.status.code(), Some(1), "{}", stdout(&named));
    // Named in hook mode: skipped, and nothing to report is a pass.
    let hook = loopc(
        &["check", "--only-lss", "docker-compose.yml", "empty.yaml", "specs/code-repair.yaml"],
        &fixture,
    );
    assert_eq!(hook.status.code(), Some(0), "{}", stdout(&hook));
    assert!(stdout(&hook).contains("checked 1 file"), "{}", stdout(&hook));

    let score = loopc(&["score", "--format", "json", "."], &fixture);
    let scored: serde_json::Value = serde_json::from_slice(&score.stdout).unwrap();
    let mut names: Vec<&str> = scored["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["specs/broken.lss.yaml", "specs/code-repair.yaml"], "{scored}");
}

/// `loopc check -` reads a spec from standard input (editors and formatters
/// pipe buffers), reported under `--stdin-filename`.
#[test]
fn a_spec_on_standard_input() {
    use std::io::Write;
    let fixture = repo().join("tests/fixtures/repo-mixed");
    let run = |args: &[&str], input: &[u8]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loopc"))
            .args(args)
            .current_dir(&fixture)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let broken = std::fs::read(fixture.join("specs/broken.lss.yaml")).unwrap();
    let out = run(&["check", "-", "--stdin-filename", "specs/broken.lss.yaml"], &broken);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("specs/broken.lss.yaml:79:18: error[L201]"), "{text}");
    assert!(text.contains("checked 1 file: 2 errors"), "{text}");
    let out = run(&["check", "-"], b"loop_name: [");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("<stdin>:1:13: error[L001]"), "{}", stdout(&out));
    // With files beside it, and in hook mode a non-spec is skipped.
    let out = run(&["check", "-", "specs/code-repair.yaml"], &broken);
    assert!(stdout(&out).contains("checked 2 files: 2 errors"), "{}", stdout(&out));
    let compose = std::fs::read(fixture.join("docker-compose.yml")).unwrap();
    let out = run(&["check", "--only-lss", "-"], &compose);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("skipped 1 YAML/JSON file that is not an LSS spec"),
        "{}",
        stdout(&out)
    );
}

/// Completion scripts from the CLI's own definitions, loaded by a real
/// bash and asked to complete; a manual page in roff.
#[test]
fn shell_completions_and_the_manual_page() {
    let dir = repo();
    for (shell, marker) in [("bash", "_loopc()"), ("zsh", "#compdef loopc"), ("fish", "complete -c loopc")] {
        let out = loopc(&["completions", shell], &dir);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            stdout(&out).contains(marker),
            "{shell}: {}",
            &stdout(&out)[..200.min(stdout(&out).len())]
        );
    }
    let script = stdout(&loopc(&["completions", "bash"], &dir));
    let path = scratch("completions").join("loopc.bash");
    std::fs::write(&path, script).unwrap();
    let complete = |words: &str| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _loopc loopc \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; echo \"${{COMPREPLY[@]}}\"",
                path.display()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(complete("loopc ch"), "check");
    assert!(
        complete("loopc check --only").contains("--only-lss"),
        "{}",
        complete("loopc check --only")
    );
    let man = stdout(&loopc(&["man"], &dir));
    assert!(
        man.contains(".TH loopc 1") && man.contains("check"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert_eq!(
        loopc(&["completions", "tcsh"], &dir).status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// `-o FILE` writes the report to a file (the exit code is the check's);
/// `--output-format` is `--format` under ruff's name.
#[test]
fn the_report_goes_to_a_file() {
    let fixture = repo().join("tests/fixtures/repo-mixed");
    let out_dir = scratch("report-file");
    let sarif = out_dir.join("loopc.sarif");
    let out = loopc(&["check", "--output-format", "sarif", "-o", sarif.to_str().unwrap(), "."], &fixture);
    assert_eq!(out.status.code(), Some(1), "findings still fail the check");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", stdout(&out));
    let written: Value = serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    assert_eq!(written["runs"][0]["results"].as_array().unwrap().len(), 2);
    let bad = loopc(&["check", "-o", "/nonexistent-dir/x.txt", "."], &fixture);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot write /nonexistent-dir/x.txt"));
}

#[test]
fn strict_makes_adapter_gaps_errors() {
    let spec = "tests/fixtures/rules/L305-adapter-gaps/err/three-stages-one-adapter.yaml";
    let lenient = loopc(&["check", "--no-config", spec], &repo());
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
    assert!(stdout(&lenient).contains("warning[L305]"), "{}", stdout(&lenient));
    let strict = loopc(&["check", "--no-config", "--strict", spec], &repo());
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    assert!(stdout(&strict).contains("error[L305]"), "{}", stdout(&strict));
    // A later `--warn` still wins over --strict, as any later level does.
    let relaxed = loopc(&["check", "--no-config", "--strict", "-W", "adapter-gaps", spec], &repo());
    assert_eq!(relaxed.status.code(), Some(0));
}
