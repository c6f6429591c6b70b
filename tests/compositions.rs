//! `loopc run` of LSS 1.1 compositions (docs/semantics.md §10): the loop
//! library's triage-then-repair through a person's approval, a PLAN →
//! BUILD → VERIFY pipeline that loops back on a failed gate, parallel
//! branches merged by vote, a nested inner loop, kills at many points with
//! resumes, and a parent's cost cap over its children. Every step is the
//! fixture script `tests/fixtures/compositions/step.py`, which counts its
//! executions in a file.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::git;

use serde_json::Value;

fn fixtures() -> PathBuf {
    support::repo().join("tests/fixtures/compositions")
}

/// A scratch directory: `repo/` (a git repository whose `calc.py` has an
/// `add` that subtracts), `bindings.toml` binding every step to the step
/// script (plus `extra` lines), the state in `state/`, the execution count
/// in `counter`.
struct Setup {
    dir: PathBuf,
    counter: PathBuf,
}

fn setup(name: &str, env: &str, extra: &str) -> Setup {
    let dir = support::scratch(&format!("compositions/{name}"));
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-qm", "a calculator whose add subtracts"]);
    let counter = dir.join("counter");
    let script = fixtures().join("step.py");
    let env = format!("{{ COUNTER = {:?}{env} }}", counter.display().to_string());
    std::fs::write(
        dir.join("bindings.toml"),
        format!(
            "[sandbox]\nroot = \"repo\"\nisolation = \"none\"\nallow_programs = [\"python3\"]\n\n\
             [executors.step]\nkind = \"command\"\nargv = [\"python3\", {script:?}]\nenv = {env}\n\n\
             [executors.check]\nkind = \"command\"\nargv = [\"python3\", {script:?}]\nverdict = \"json\"\nenv = {env}\n\n\
             [executors.children]\nkind = \"children\"\n\n{extra}\n\
             [bind]\ndefault = \"step\"\n\"impl:evaluators.plan_written\" = \"check\"\n\"impl:evaluators.build_written\" = \"check\"\n\
             \"impl:evaluators.calc_correct\" = \"check\"\n\"impl:evaluators.review_verdict\" = \"check\"\n\
             \"impl:evaluators.children_passed\" = \"children\"\n",
        ),
    )
    .unwrap();
    Setup { dir, counter }
}

impl Setup {
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    fn loopc(&self, args: &[&str]) -> Output {
        support::loopc_env(args, &self.dir, &[("LOOPC_STATE_DIR", self.state().as_os_str())])
    }

    fn run(&self, spec: &str, extra: &[&str]) -> Output {
        let spec = fixtures().join(spec);
        let mut args = vec!["run", spec.to_str().unwrap(), "--bindings", "bindings.toml", "--input", "goal=calc"];
        args.extend_from_slice(extra);
        self.loopc(&args)
    }

    /// `loopc runs --format json`.
    fn runs(&self) -> Vec<Value> {
        let out = self.loopc(&["runs", "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        // In the order they were created.
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }

    fn root(&self) -> Value {
        self.runs()
            .into_iter()
            .find(|r| r.get("parent_id").is_none())
            .expect("a composing run")
    }

    /// Every execution of a step, as `run iteration step`.
    fn executions(&self) -> Vec<String> {
        std::fs::read_to_string(&self.counter)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn status(&self, run: &str) -> Value {
        let out = self.loopc(&["status", run, "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// (loop, status) of every run, the composing one first, then its
/// children in the order they started (what two executions of the same
/// composition must agree on).
fn shape(runs: &[Value]) -> Vec<(String, String)> {
    runs.iter()
        .map(|r| {
            (
                r["loop_name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(loop, status)` of the pipeline's runs when its first verification
/// fails and the second passes: the parent, then its children in order.
fn looping_back() -> Vec<(String, String)> {
    [
        ("factory-pipeline", "succeeded"),
        ("factory-plan", "succeeded"),
        ("factory-build", "succeeded"),
        ("factory-verify", "halted"),
        ("factory-plan", "succeeded"),
        ("factory-build", "succeeded"),
        ("factory-verify", "succeeded"),
    ]
    .iter()
    .map(|(l, s)| ((*l).to_owned(), (*s).to_owned()))
    .collect()
}

#[test]
fn the_pipeline_loops_back_from_a_failed_verification_to_build_and_then_succeeds() {
    let s = setup("pipeline", "", "");
    let out = s.run("factory/pipeline.yaml", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let runs = s.runs();
    let stages: Vec<(String, String)> = shape(&runs);
    assert_eq!(stages, looping_back(), "{}", text(&out));
    let root = &runs[0];
    assert_eq!(root["iterations"], 2);
    // Spend rolls up: the parent's is its children's (0.1 + 0.2 + 0.05, twice).
    let children_spend: f64 = runs[1..].iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!((root["cost_usd"].as_f64().unwrap() - children_spend).abs() < 1e-9, "{root}");
    assert!((children_spend - 0.7).abs() < 1e-9);
    // The second build was given the first verification's findings (the loop-back adapter).
    let second_build = &runs[5];
    let rows = s.status(second_build["run_id"].as_str().unwrap());
    assert_eq!(rows["parent"]["key"], "build");
    assert_eq!(rows["parent"]["iteration"], 2);
    let inputs = s.loopc(&[
        "logs",
        second_build["run_id"].as_str().unwrap(),
        "--step",
        "workers.builder",
        "--format",
        "json",
    ]);
    assert!(
        text(&inputs).contains("add() subtracts"),
        "the builder's prompt should carry the findings: {}",
        text(&inputs)
    );
    // Each stage worked in its own worktree branched off the parent's and
    // was brought back: the parent's branch holds the fixed calculator and
    // every stage's commits.
    let ws = s.status(root["run_id"].as_str().unwrap())["workspace"].clone();
    let path = PathBuf::from(ws["path"].as_str().unwrap());
    assert!(std::fs::read_to_string(path.join("calc.py")).unwrap().contains("a + b"));
    let log = git(&path, &["log", "--format=%s"]);
    for stage in ["factory-plan", "factory-build", "factory-verify"] {
        assert_eq!(log.matches(&format!("loopc: {stage} run")).count(), 2, "{log}");
    }
    // The user's checkout is untouched.
    assert!(std::fs::read_to_string(s.dir.join("repo/calc.py")).unwrap().contains("a - b"));
    // 2 × (3 stages × 2 steps) + 2 reporter steps, each once.
    assert_eq!(s.executions().len(), 14, "{:#?}", s.executions());
    // The composing run's trace links its children's.
    let trace: Value = serde_json::from_slice(
        &std::fs::read(s.state().join("traces").join(format!("{}.json", root["run_id"].as_str().unwrap()))).unwrap(),
    )
    .unwrap();
    assert_eq!(trace["metadata"]["children"].as_array().unwrap().len(), 6);
    let score = s.loopc(&[
        "score",
        "--trace",
        s.state()
            .join("traces")
            .join(format!("{}.json", root["run_id"].as_str().unwrap()))
            .to_str()
            .unwrap(),
    ]);
    assert!(score.status.success(), "{}", text(&score));
}

#[test]
fn killed_at_many_points_the_pipeline_resumes_to_the_same_end_without_repeating_a_finished_step() {
    let s = setup("kills", ", DELAY_MS = \"250\"", "");
    let spec = fixtures().join("factory/pipeline.yaml");
    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_loopc"))
            .args(args)
            .current_dir(&s.dir)
            .env("NO_COLOR", "1")
            .env("LOOPC_STATE_DIR", s.state())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start loopc")
    };
    let mut child = spawn(&["run", spec.to_str().unwrap(), "--bindings", "bindings.toml", "--input", "goal=calc"]);
    let mut in_flight: Vec<String> = Vec::new();
    let mut kills = 0;
    // Kill loopc while the k-th step runs (each sleeps 250 ms after it
    // counted itself), resume, and again, across the parent and its
    // children: 12 kills over the 14 steps of an undisturbed run.
    for k in 1..=12 {
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.executions().len() < k + kills && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            if let Some(status) = child.try_wait().unwrap() {
                panic!("loopc ended ({status}) before the kill at step {k}");
            }
        }
        std::thread::sleep(Duration::from_millis(60));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        in_flight.push(s.executions().last().cloned().unwrap());
        let root = s.root()["run_id"].as_str().unwrap().to_owned();
        child = spawn(&["resume", &root]);
    }
    let end = child.wait().unwrap();
    assert!(end.success(), "the last resume should finish the run");

    let runs = s.runs();
    assert_eq!(shape(&runs), looping_back());
    assert_eq!(runs[0]["iterations"], 2);
    assert!((runs[0]["cost_usd"].as_f64().unwrap() - 0.7).abs() < 1e-9, "{}", runs[0]);
    // A step runs again only when a kill cut it short: every repeat is one
    // that was in flight at a kill, at most once per kill.
    let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
    let executions = s.executions();
    for e in &executions {
        *counts.entry(e).or_default() += 1;
    }
    for (step, n) in &counts {
        let cut = in_flight.iter().filter(|f| f == step).count();
        assert!(
            *n <= 1 + cut,
            "{step} ran {n} times, cut short {cut} times; executions: {executions:#?}"
        );
    }
    assert_eq!(counts.len(), 14, "the same 14 steps as an undisturbed run: {counts:#?}");
    assert!(executions.len() <= 14 + kills);
    eprintln!(
        "{kills} kills, {} executions for 14 steps; cut short: {in_flight:#?}",
        executions.len()
    );
    // No process of the run is left (the step script's processes carry
    // this test's counter in their environment).
    let marker = format!("COUNTER={}", s.counter.display());
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .filter(|e| std::fs::read(e.path().join("environ")).is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes())))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "processes of the run left running: {left:?}");
}

#[test]
fn a_parent_cost_cap_stops_its_children() {
    let s = setup("cost-cap", "", "");
    // The pipeline with $0.25 for everything: PLAN spends 0.10, so BUILD may
    // spend 0.15 and its 0.20 step is over that.
    let spec = std::fs::read_to_string(fixtures().join("factory/pipeline.yaml"))
        .unwrap()
        .replace(
            "per_iteration_usd: 4\n  cumulative_usd: 10",
            "per_iteration_usd: 0.25\n  cumulative_usd: 0.25",
        )
        .replace(
            "ref: plan.yaml",
            &format!("ref: {}", fixtures().join("factory/plan.yaml").display()),
        )
        .replace(
            "ref: build.yaml",
            &format!("ref: {}", fixtures().join("factory/build.yaml").display()),
        )
        .replace(
            "ref: verify.yaml",
            &format!("ref: {}", fixtures().join("factory/verify.yaml").display()),
        );
    assert!(spec.contains("cumulative_usd: 0.25"));
    std::fs::write(s.dir.join("capped.yaml"), spec).unwrap();
    let out = s.loopc(&["run", "capped.yaml", "--bindings", "bindings.toml", "--input", "goal=calc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let runs = s.runs();
    let build = runs.iter().find(|r| r["loop_name"] == "factory-build").unwrap();
    assert_eq!(build["status"], "halted", "{build}");
    assert!(build["reason"].as_str().unwrap().contains("cost"), "{build}");
    // VERIFY never started, and the parent stopped for its spend.
    assert!(runs.iter().all(|r| r["loop_name"] != "factory-verify"), "{runs:#?}");
    let root = &runs[0];
    assert_eq!(root["status"], "halted", "{root}");
    assert!(root["reason"].as_str().unwrap().contains("cost"), "{root}");
    assert!(root["cost_usd"].as_f64().unwrap() <= 0.25 + 0.2 + 1e-9);
}

#[test]
fn parallel_branches_run_at_once_and_two_of_three_carry_the_vote() {
    let s = setup("parallel", ", DELAY_MS = \"400\"", "");
    let started = Instant::now();
    let out = s.run("parallel/reviews.yaml", &[]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    let runs = s.runs();
    let branches: Vec<&Value> = runs.iter().filter(|r| r.get("parent_id").is_some()).collect();
    assert_eq!(branches.len(), 3);
    let c = branches.iter().find(|r| r["loop_name"] == "review-c").unwrap();
    assert_eq!(c["status"], "halted");
    assert_eq!(runs[0]["status"], "succeeded", "{}", text(&out));
    // The three reviewers' 400 ms steps overlapped: all three started before any verdict.
    let executions = s.executions();
    let first_verdict = executions.iter().position(|e| e.contains("evaluators.")).unwrap();
    assert!(
        executions[..first_verdict]
            .iter()
            .filter(|e| e.contains("workers.reviewer_"))
            .count()
            == 3,
        "{executions:#?}"
    );
    // Each branch has a worktree (and branch) of its own.
    let mut paths: Vec<String> = branches
        .iter()
        .map(|b| {
            s.status(b["run_id"].as_str().unwrap())["workspace"]["path"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    paths.dedup();
    assert_eq!(paths.len(), 3);
    // `--jobs 1` runs them one after another: no two reviewers at once.
    let s1 = setup("parallel-jobs1", ", DELAY_MS = \"400\"", "");
    let out = s1.run("parallel/reviews.yaml", &["--jobs", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let executions = s1.executions();
    let reviewer_then_check = executions
        .windows(2)
        .filter(|w| w[0].contains("workers.reviewer_"))
        .all(|w| w[1].contains("evaluators.review_"));
    assert!(reviewer_then_check, "{executions:#?}");
    eprintln!("three 400 ms branches at once took {took:?}");
}

#[test]
fn a_nested_inner_loop_runs_in_the_outer_iteration_whose_check_failed() {
    let s = setup("nested", "", "");
    let out = s.run("nested/code-and-debug.yaml", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let runs = s.runs();
    let want = |l: &str, st: &str| (l.to_owned(), st.to_owned());
    assert_eq!(
        shape(&runs),
        vec![
            want("code-and-debug", "succeeded"),
            want("code", "succeeded"),
            want("debug", "succeeded")
        ]
    );
    let code = &runs[1];
    let debug = &runs[2];
    assert_eq!(code["iterations"], 2, "the outer loop went on after its first check failed");
    // One debugging run, in the outer's first iteration only (its trigger
    // did not hold in the second).
    assert_eq!(debug["parent_id"], code["run_id"]);
    assert_eq!(debug["child_key"], "debug@1");
    // Its spend is part of the outer's, which is part of the parent's.
    assert!((code["cost_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9, "{code}");
    assert!((runs[0]["cost_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    // The outer's second iteration was told what the debugging run did.
    let logs = s.loopc(&[
        "logs",
        code["run_id"].as_str().unwrap(),
        "--step",
        "workers.builder",
        "--format",
        "json",
    ]);
    assert!(text(&logs).contains("children.debug"), "{}", text(&logs));
}

/// The loop library's triage-then-repair with scripted steps, started: it
/// waits for the triage child's maintainer.
fn start_library_composition(name: &str) -> (Setup, Output) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("compositions/{name}"));
    let transform = format!(
        "[executors.script]\nkind = \"script\"\nfile = \"script.json\"\n\n\
         [transforms.first_reproducible_test]\nargv = [\"python3\", {:?}]\n",
        dir.join("first_test.py").display().to_string()
    );
    let s = setup(name, "", &transform);
    std::fs::write(
        s.dir.join("script.json"),
        serde_json::json!({"steps": {
            "workers.deduplicator": {"output": {"duplicates": []}, "usage": {"cost_usd": 0.01}},
            "workers.labeler": {"output": [{"number": 7, "type_label": "bug", "priority": "p1", "evidence": "add subtracts",
                                             "reproducible_test": "test_calc.py::test_add"}], "usage": {"cost_usd": 0.02}},
            "evaluators.label_schema": {"output": {"passed": true, "score": 1.0, "count": 0}},
            "evaluators.triage_rubric": {"output": {"dimension_scores": {"label_accuracy": 5, "duplicate_precision": 5, "priority_justified": 4}}},
            "workers.localizer": {"output": ["calc.py:2"], "usage": {"cost_usd": 0.01}},
            "workers.fixer": {"output": {"patch": "a + b"}, "usage": {"cost_usd": 0.03}},
            "evaluators.test_suite": {"output": {"passed": true, "score": 1.0}},
            "evaluators.lint": {"output": {"passed": true, "score": 1.0}},
            "workers.coordinator": {"output": {"done": true}}
        }})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        s.dir.join("first_test.py"),
        "import json, sys\ninv = json.load(sys.stdin)\nprint(json.dumps({\"output\": inv[\"payload\"][\"value\"][0][\"reproducible_test\"]}))\n",
    )
    .unwrap();
    let bindings = std::fs::read_to_string(s.dir.join("bindings.toml"))
        .unwrap()
        .replace("default = \"step\"", "default = \"script\"");
    std::fs::write(s.dir.join("bindings.toml"), bindings).unwrap();
    let spec = support::repo().join("loop-library/compositions/triage-then-repair.yaml");
    let out = s.loopc(&[
        "run",
        spec.to_str().unwrap(),
        "--bindings",
        "bindings.toml",
        "--allow-unenforced",
        "--input",
        r#"issues=[{"number":7,"title":"add","body":"add subtracts"}]"#,
        "--input",
        r#"label_set=["bug"]"#,
        "--input",
        "repository=.",
        "--input",
        "language=python",
    ]);
    (s, out)
}

#[test]
fn the_library_triage_then_repair_runs_to_success_through_a_persons_approval() {
    let (s, out) = start_library_composition("library");
    // The triage child's maintainer must approve: the composing run waits (exit 3).
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let root = s.root();
    assert_eq!(root["status"], "awaiting_human");
    let status = s.status(root["run_id"].as_str().unwrap());
    assert_eq!(status["waiting_for"], "children.triage");
    // A decision on the composing run is the triage child's.
    let approved = s.loopc(&["approve", root["run_id"].as_str().unwrap(), "--note", "labels look right"]);
    assert!(approved.status.success(), "{}", text(&approved));
    let runs = s.runs();
    let want = |l: &str, st: &str| (l.to_owned(), st.to_owned());
    assert_eq!(
        shape(&runs),
        vec![
            want("triage-then-repair", "succeeded"),
            want("issue-triage", "succeeded"),
            want("code-repair", "succeeded"),
        ],
        "{}",
        text(&approved)
    );
    // The adapter's transform gave the repair loop triage's first reproducible test.
    let repair = s.status(runs[2]["run_id"].as_str().unwrap());
    assert_eq!(repair["parent"]["key"], "repair");
    let logs = s.loopc(&[
        "logs",
        runs[2]["run_id"].as_str().unwrap(),
        "--step",
        "workers.localizer",
        "--format",
        "json",
    ]);
    assert!(text(&logs).contains("test_calc.py::test_add"), "{}", text(&logs));
    let spend: f64 = runs[1..].iter().map(|r| r["cost_usd"].as_f64().unwrap()).sum();
    assert!((runs[0]["cost_usd"].as_f64().unwrap() - spend).abs() < 1e-9);
}

#[test]
fn cancelling_a_composition_that_waits_for_a_child_cancels_the_child_too() {
    let (s, out) = start_library_composition("cancel");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let root = s.root()["run_id"].as_str().unwrap().to_owned();
    let cancelled = s.loopc(&["cancel", &root]);
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    let runs = s.runs();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    for r in &runs {
        assert_eq!(r["status"], "cancelled", "{r}");
    }
    // Nothing is left to approve.
    let approve = s.loopc(&["approve", &root]);
    assert_eq!(approve.status.code(), Some(2), "{}", text(&approve));
}
