//! `kind = "agent"`: agent CLIs in the styles of Claude Code (prompt on
//! stdin, one JSON result), Codex (prompt as an argument, JSON events) and
//! aider (prompt inside the arguments, plain text), each a fake that behaves
//! like the real one, fixing the calculator within one iteration.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::{calc_workdir, loopc_env, repo, run_calc};

fn workdir(name: &str, executor: &str) -> PathBuf {
    let dir = calc_workdir(&format!("agent-cli/{name}"));
    let fixtures = repo().join("tests/fixtures/runtime");
    for fake in ["fake-claude.py", "fake-codex.py", "fake-aider.py"] {
        std::fs::copy(fixtures.join("agent-cli").join(fake), dir.join(fake)).unwrap();
    }
    let spec = std::fs::read_to_string(fixtures.join("convergence/spec.yaml")).unwrap();
    std::fs::write(dir.join("spec.yaml"), spec.replace("    tools: [write_file, read_file]\n", "")).unwrap();
    let bindings = format!(
        "[sandbox]\nroot = \"repo\"\nallow_programs = [\"python3\"]\n\n{executor}\n\n\
         [executors.unit-tests]\nkind = \"command\"\nargv = [\"python3\", \"test_calc.py\"]\nverdict = \"exit_code\"\n\n\
         [bind]\n\"workers.fixer\" = \"agent\"\n\"impl:evaluators.unit_tests\" = \"unit-tests\"\n"
    );
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    dir
}

fn run(dir: &std::path::Path) -> (String, Value) {
    let env = [("FAKE_CLAUDE_KEY", "k-123".as_ref()), ("OTHER_SECRET_TOKEN", "t-456".as_ref())];
    let (out, report) = run_calc(dir, &env);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (all, report)
}

fn fixed_in_one(name: &str, executor: &str) -> Value {
    let dir = workdir(name, executor);
    let (all, report) = run(&dir);
    assert_eq!(report["status"], "succeeded", "{all}");
    assert_eq!(report["iterations"], 1, "{all}");
    assert_eq!(
        std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(),
        "def add(a, b):\n    return a + b\n"
    );
    report
}

#[test]
fn claude_code_style_prompt_on_stdin_and_a_json_result() {
    let report = fixed_in_one(
        "claude",
        "[executors.agent]\nkind = \"agent\"\nargv = [\"python3\", \"../fake-claude.py\", \"-p\", \"--output-format\", \"json\"]\nprompt = \"stdin\"\noutput = \"json\"\npass_env = [\"FAKE_CLAUDE_KEY\"]",
    );
    assert!((report["cost_usd"].as_f64().unwrap() - 0.0123).abs() < 1e-9, "{report}");
}

#[test]
fn codex_style_prompt_as_argument_and_json_events() {
    fixed_in_one(
        "codex",
        "[executors.agent]\nkind = \"agent\"\nargv = [\"python3\", \"../fake-codex.py\", \"exec\", \"--json\"]\nprompt = \"argument\"\noutput = \"jsonl\"",
    );
}

#[test]
fn aider_style_prompt_inside_the_arguments_and_text() {
    fixed_in_one(
        "aider",
        "[executors.agent]\nkind = \"agent\"\nargv = [\"python3\", \"../fake-aider.py\", \"--yes\", \"--message\", \"{prompt}\"]\noutput = \"text\"",
    );
}

#[test]
fn an_agent_that_reports_an_error_fails_the_worker() {
    let dir = workdir(
        "error",
        "[executors.agent]\nkind = \"agent\"\nargv = [\"python3\", \"../fake-claude.py\", \"-p\", \"--output-format\", \"json\"]\noutput = \"json\"\nenv = { FAKE_OUT_OF_CREDIT = \"1\" }",
    );
    let (all, report) = run(&dir);
    assert_eq!(report["status"], "halted", "{all}");
    let state = dir.with_extension("state");
    let logs = loopc_env(
        &["logs", report["run_id"].as_str().unwrap(), "--step", "fixer"],
        &dir,
        &[("LOOPC_STATE_DIR", state.as_os_str())],
    );
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("the agent reported an error: \"out of credit\""), "{logs}");
}
