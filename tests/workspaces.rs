//! A workspace per run, on a real git repository each test makes from
//! tests/fixtures/workspaces/repo: concurrent runs on their own branches,
//! per-iteration snapshots, rollback to the last good snapshot, resume in
//! the same worktree, `loopc gc`, and the diff-scope gate. Workers are
//! scripted (the `script` executor) or small commands; the repository's
//! own work tree, index and HEAD must come out exactly as they went in.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::git;

use serde_json::Value;

const ORIGINAL: &str = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a + b\n";
const ADD_FIXED: &str = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n";
const BOTH_FIXED: &str = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n";
/// Appended: a `sub` that works, whatever `add` is then.
const SUB_FIX: &str = "\n\ndef sub(a, b):\n    return a - b\n";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workspaces/repo")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A test directory with `repo/` (a git repository on `main`, one commit of
/// the fixture) and the state directory beside it.
fn make_repo(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("workspaces").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for entry in std::fs::read_dir(fixture()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), repo.join(entry.file_name())).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "--no-verify", "-m", "the fixture"]);
    dir
}

fn loopc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loopc"));
    cmd.args(args)
        .current_dir(dir)
        .env("LOOPC_STATE_DIR", dir.join("state"))
        .env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("loopc runs")
}

fn run_json(dir: &Path, args: &[&str]) -> (Output, Value) {
    let mut full = vec!["run", "--format", "json"];
    full.extend_from_slice(args);
    let out = loopc(dir, &full, &[]);
    let reports = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no JSON report: {}", text(&out)));
    (out, reports)
}

fn status(dir: &Path, run: &str) -> Value {
    let out = loopc(dir, &["status", run, "--format", "json"], &[]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("no status: {}", text(&out)))
}

/// The spec: a fixer worker, calc.py's tests as the evaluator, pass_rate as
/// the primary metric; `optimizer` and `safety` add to it.
fn write_spec(dir: &Path, loop_name: &str, max_iterations: u32, optimizer: &str, safety: &str) {
    let spec = format!(
        r#"loop_name: {loop_name}
version: 1.0.0
objective: Make calc.py's tests pass
inputs:
  schema:
    label:
      type: string
      description: A name for the run
      required: false
memory:
  type: ephemeral
workers:
  - id: fixer
    role: Edit calc.py until its tests pass
    model: {{provider: local, name: scripted}}
    inputs:
      - from: inputs.label
    outputs: {{name: patch, format: code}}
    tools: [write_file, append_file, read_file]
    timeout_seconds: 30
evaluators:
  - id: tests
    type: deterministic
    runs_after: [fixer]
    implementation: evaluators.unit_tests
feedback_channels:
  - id: failures
    source: evaluators.tests
    destination: workers.fixer
    format: structured
    fields: [passed, failure_codes]
    when: "passed == false"
optimization_strategy:
  type: prompt_refinement
  max_steps: 5
{optimizer}termination_conditions:
  success:
    - {{metric: pass_rate, operator: eq, value: 1}}
  failure:
    - {{type: max_iterations, value: {max_iterations}, action: halt}}
metrics:
  - name: pass_rate
    primary: true
    definition: The share of calc.py's functions that work
    source: evaluators.tests
    unit: ratio
safety_constraints:
  - id: tools
    type: tool_allowlist
    scope: pre_worker
    applies_to: ["*"]
    action: halt
{safety}cost_limits:
  per_iteration_usd: 1
  cumulative_usd: 5
  on_exceed: {{action: halt}}
"#
    );
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
}

/// Scripted worker responses: one `calc.py` action per iteration
/// (`("write" | "append", content)`).
fn write_responses(dir: &Path, actions: &[(&str, &str)]) {
    let entries: Vec<Value> = actions
        .iter()
        .enumerate()
        .map(|(n, (tool, content))| {
            serde_json::json!({
                "output": format!("attempt {}", n + 1),
                "tool_calls": [{"tool": format!("{tool}_file"), "args": {"path": "calc.py", "content": content}}],
                "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001}
            })
        })
        .collect();
    let script = serde_json::json!({"steps": {"workers.fixer": entries}});
    std::fs::write(dir.join("responses.json"), script.to_string()).unwrap();
}

/// Bindings: the scripted fixer, calc.py's tests (a JSON verdict) run by
/// `tests_argv`, and `extra` TOML.
fn write_bindings(dir: &Path, tests_argv: &str, extra: &str) {
    let bindings = format!(
        "[sandbox]\nroot = \"repo\"\nallow_programs = [\"python3\"]\n{extra}\n[executors.replay]\nkind = \"script\"\nfile = \"responses.json\"\n\n[executors.tests]\nkind = \"command\"\nargv = {tests_argv}\nverdict = \"json\"\n\n[bind]\n\"workers.fixer\" = \"replay\"\n\"impl:evaluators.unit_tests\" = \"tests\"\n"
    );
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
}

const TESTS: &str = r#"["python3", "check.py"]"#;

/// What must not change in the repository a run branches from.
#[derive(Debug, PartialEq)]
struct RepoState {
    head: String,
    branch: String,
    status: String,
    calc: String,
}

fn repo_state(repo: &Path) -> RepoState {
    RepoState {
        head: git(repo, &["rev-parse", "HEAD"]),
        branch: git(repo, &["symbolic-ref", "HEAD"]),
        status: git(repo, &["status", "--porcelain=v1", "--untracked-files=all"]),
        calc: std::fs::read_to_string(repo.join("calc.py")).unwrap(),
    }
}

/// The commit a trace records as iteration `n`'s snapshot.
fn snapshot_of(trace: &Value, n: usize) -> String {
    trace["iterations"][n - 1]["snapshot"]["commit"].as_str().unwrap().to_owned()
}

/// The run's trace, checked against the canonical Loop Trace 1.0 schema
/// (formats included) and by `loopc score --trace`.
fn trace(dir: &Path, run: &str) -> Value {
    let path = dir.join("state/traces").join(format!("{run}.json"));
    let scored = loopc(
        dir,
        &[
            "score",
            "--trace",
            path.to_str().unwrap(),
            "--spec",
            "spec.yaml",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(scored.status.code(), Some(0), "{}", text(&scored));
    let score: Value = serde_json::from_slice(&scored.stdout).unwrap();
    assert_eq!(score["valid"], true, "{score}");
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schema: Value = serde_json::from_str(loopc_trace::SCHEMA).unwrap();
    let canonical = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    assert!(canonical.is_valid(&trace), "the trace is Loop Trace 1.0: {trace}");
    trace
}

#[test]
fn eight_runs_four_at_a_time_each_on_its_own_branch() {
    let dir = make_repo("eight-runs");
    let repo = dir.join("repo");
    // The person's own uncommitted work, which no run may touch or see.
    std::fs::write(repo.join("calc.py"), format!("{ORIGINAL}# my local edit\n")).unwrap();
    std::fs::write(repo.join("notes.txt"), "mine\n").unwrap();
    let before = repo_state(&repo);
    write_spec(&dir, "fix-calc", 4, "", "");
    write_responses(&dir, &[("write", ADD_FIXED), ("write", BOTH_FIXED)]);
    // Each run's evaluator leaves a file named after its run.
    let tests = r#"["python3", "-c", "import os, runpy, sys; open('seen-' + os.environ['LOOPC_RUN_ID'], 'w').close(); sys.argv = ['check.py']; runpy.run_path('check.py', run_name='__main__')"]"#;
    write_bindings(&dir, tests, "");
    let sets: String = (1..=8).map(|n| format!("{{\"label\": \"job-{n}\"}}\n")).collect();
    std::fs::write(dir.join("sets.jsonl"), sets).unwrap();

    let (out, reports) = run_json(
        &dir,
        &[
            "spec.yaml",
            "--bindings",
            "bindings.toml",
            "--inputs-file",
            "sets.jsonl",
            "--jobs",
            "4",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 8);
    assert_eq!(
        repo_state(&repo),
        before,
        "the repository's HEAD, branch, index and work tree are untouched"
    );

    let mut branches = BTreeSet::new();
    for report in reports {
        let id = report["run_id"].as_str().unwrap();
        let branch = report["branch"].as_str().unwrap();
        assert_eq!(branch, format!("loopc/fix-calc/{id}"));
        assert_eq!(report["status"], "succeeded", "{report}");
        assert_eq!(report["iterations"], 2);
        // One commit per iteration, on top of the base, by loopc.
        let log = git(
            &repo,
            &[
                "log",
                "--format=%an <%ae>|%(trailers:key=Loopc-Iteration,valueonly,separator=)",
                &format!("{}..{branch}", before.head),
            ],
        );
        assert_eq!(log, "loopc <loopc@localhost>|2\nloopc <loopc@localhost>|1", "{branch}");
        // Its own file and no other run's, in its tree and on its branch.
        let worktree = PathBuf::from(report["workspace"].as_str().unwrap());
        assert!(worktree.starts_with(dir.join("state")), "{}", worktree.display());
        let seen: BTreeSet<String> = std::fs::read_dir(&worktree)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("seen-"))
            .collect();
        assert_eq!(seen, BTreeSet::from([format!("seen-{id}")]));
        let tree = git(&repo, &["ls-tree", "-r", "--name-only", branch]);
        let committed: Vec<&str> = tree.lines().filter(|n| n.starts_with("seen-")).collect();
        assert_eq!(committed, vec![format!("seen-{id}")]);
        assert!(
            !tree.lines().any(|n| n == "notes.txt"),
            "the person's untracked file is not in a run's branch"
        );
        assert_eq!(std::fs::read_to_string(worktree.join("calc.py")).unwrap(), BOTH_FIXED);
        branches.insert(branch.to_owned());
    }
    assert_eq!(branches.len(), 8);
    let listed: BTreeSet<String> = git(&repo, &["branch", "--list", "loopc/*", "--format=%(refname:short)"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(listed, branches);
    assert_eq!(git(&repo, &["rev-parse", "main"]), before.head, "main did not move");
    let id = reports[0]["run_id"].as_str().unwrap();
    let human = text(&loopc(&dir, &["status", id], &[]));
    assert!(
        human.contains("workspace: worktree") && human.contains(&format!("branch: loopc/fix-calc/{id}")),
        "{human}"
    );
    let t = trace(&dir, id);
    assert_eq!(t["metadata"]["workspace"]["branch"], format!("loopc/fix-calc/{id}"));
    assert_eq!(t["metadata"]["workspace"]["base_commit"], before.head.as_str());
}

#[test]
fn an_iteration_that_breaks_a_passing_test_is_rolled_back() {
    let dir = make_repo("rollback");
    let repo = dir.join("repo");
    let before = repo_state(&repo);
    write_spec(&dir, "fix-calc", 4, "  rollback: {on_metric_drop: 0.2}\n", "");
    // 1: add fixed (0.5) · 2: add broken again (0: rolled back) · 3: sub
    // fixed by appending, which passes only on iteration 1's tree.
    write_responses(&dir, &[("write", ADD_FIXED), ("write", ORIGINAL), ("append", SUB_FIX)]);
    write_bindings(&dir, TESTS, "");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(reports[0]["status"], "succeeded", "{}", text(&out));
    assert_eq!(reports[0]["iterations"], 3);
    let id = reports[0]["run_id"].as_str().unwrap();
    let worktree = PathBuf::from(reports[0]["workspace"].as_str().unwrap());
    let t = trace(&dir, id);
    let (one, two, three) = (snapshot_of(&t, 1), snapshot_of(&t, 2), snapshot_of(&t, 3));
    let rollback = &t["iterations"][1]["rollback"];
    assert_eq!(rollback["to"], one.as_str(), "{t}");
    assert_eq!(rollback["to_iteration"], 1);
    assert!(rollback["reason"].as_str().unwrap().contains("on_metric_drop"), "{rollback}");
    assert!(t["iterations"][0].get("rollback").is_none() && t["iterations"][2].get("rollback").is_none());
    // Iteration 3 was made on iteration 1's tree; iteration 2 is off the branch.
    assert_eq!(git(&worktree, &["rev-parse", &format!("{three}^")]), one);
    assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), three);
    let off = Command::new("git")
        .args(["merge-base", "--is-ancestor", &two, "HEAD"])
        .current_dir(&worktree)
        .status()
        .unwrap();
    assert_eq!(off.code(), Some(1), "the rolled-back snapshot is not on the branch");
    assert_eq!(
        std::fs::read_to_string(worktree.join("calc.py")).unwrap(),
        format!("{ADD_FIXED}{SUB_FIX}")
    );
    assert_eq!(git(&worktree, &["status", "--porcelain"]), "");
    let events = status(&dir, id)["events"].to_string();
    assert!(events.contains("iteration 2 rolled back to iteration 1's snapshot"), "{events}");
    assert_eq!(repo_state(&repo), before);
}

#[test]
fn a_halt_after_a_drop_leaves_the_last_good_snapshot() {
    let dir = make_repo("rollback-halt");
    write_spec(&dir, "fix-calc", 2, "  rollback: {on_metric_drop: 0.2}\n", "");
    write_responses(&dir, &[("write", ADD_FIXED), ("write", ORIGINAL)]);
    write_bindings(&dir, TESTS, "");
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(reports[0]["status"], "halted");
    let id = reports[0]["run_id"].as_str().unwrap();
    let worktree = PathBuf::from(reports[0]["workspace"].as_str().unwrap());
    let one = snapshot_of(&trace(&dir, id), 1);
    assert_eq!(
        git(&worktree, &["rev-parse", "HEAD"]),
        one,
        "the branch is back at the last good snapshot"
    );
    assert_eq!(git(&worktree, &["status", "--porcelain", "--untracked-files=all", "--ignored"]), "");
    assert_eq!(git(&worktree, &["diff", &one]), "", "the final tree equals it");
    assert_eq!(std::fs::read_to_string(worktree.join("calc.py")).unwrap(), ADD_FIXED);
}

#[test]
fn resume_after_a_kill_continues_in_the_same_worktree() {
    let dir = make_repo("resume");
    let repo = dir.join("repo");
    let before = repo_state(&repo);
    write_spec(&dir, "progress", 5, "", "");
    // The worker kills loopc half-way through iteration 2; the check
    // passes once iteration 3 has run.
    std::fs::write(dir.join("kill-at"), "2").unwrap();
    let bindings = "[sandbox]\nroot = \"repo\"\n# worker.py kills its parent (loopc); in an OS sandbox that would be the sandbox.\nisolation = \"none\"\npass_env = [\"KILL_DIR\"]\n\n[executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"worker.py\"]\n\n[executors.ready]\nkind = \"command\"\nargv = [\"python3\", \"-c\", \"import os, sys; sys.exit(0 if os.path.exists('progress-3.txt') else 1)\"]\n\n[bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.unit_tests\" = \"ready\"\n";
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    let kill_dir = dir.to_string_lossy().into_owned();
    let killed = loopc(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[("KILL_DIR", &kill_dir)],
    );
    assert_eq!(killed.status.code(), None, "loopc died of SIGKILL: {}", text(&killed));
    let stderr = String::from_utf8_lossy(&killed.stderr);
    let started = stderr.lines().find_map(|l| l.strip_prefix("run ")).expect("run announced");
    let id = started.split_whitespace().next().unwrap().to_owned();
    let worktree = started
        .split(" in worktree ")
        .nth(1)
        .and_then(|r| r.split(" on branch ").next())
        .expect("worktree announced");
    assert!(
        Path::new(worktree).join("progress-2.txt").exists(),
        "killed half-way through iteration 2"
    );

    // As if loopc had been killed while one of its git commands ran.
    let lock = repo
        .join(".git/worktrees")
        .join(Path::new(worktree).file_name().unwrap())
        .join("index.lock");
    std::fs::write(&lock, "").unwrap();
    let resumed = loopc(&dir, &["resume", &id], &[("KILL_DIR", &kill_dir)]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    let s = status(&dir, &id);
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["workspace"]["path"], worktree, "the same worktree");
    assert!(!lock.exists() && s["events"].to_string().contains("index.lock"), "{}", s["events"]);
    let worktrees: Vec<_> = std::fs::read_dir(dir.join("state/worktrees")).unwrap().collect();
    assert_eq!(worktrees.len(), 1, "no second worktree");
    let branch = s["workspace"]["branch"].as_str().unwrap();
    let wt = Path::new(worktree);
    assert_eq!(git(wt, &["rev-list", "--count", &format!("{}..{branch}", before.head)]), "3");
    assert_eq!(
        git(wt, &["ls-tree", "--name-only", &format!("{branch}~1")])
            .lines()
            .filter(|n| n.starts_with("progress-"))
            .count(),
        2
    );
    for n in 1..=3 {
        assert!(wt.join(format!("progress-{n}.txt")).exists());
    }
    assert_eq!(repo_state(&repo), before);
}

#[test]
fn gc_removes_old_ended_worktrees_only() {
    let dir = make_repo("gc");
    let repo = dir.join("repo");
    let before = repo_state(&repo);
    write_responses(&dir, &[("write", BOTH_FIXED)]);
    write_bindings(&dir, TESTS, "");
    write_spec(&dir, "fix-calc", 3, "", "");
    let (out, ended) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    write_spec(
        &dir,
        "fix-calc",
        3,
        "",
        "  - {id: signoff, type: human_gate, scope: pre_output, applies_to: [fixer], action: escalate_human}\n",
    );
    let (out, waiting) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let path = |r: &Value| PathBuf::from(r[0]["workspace"].as_str().unwrap());
    let (ended_path, waiting_path) = (path(&ended), path(&waiting));

    let young = loopc(&dir, &["gc", "--older-than", "1h"], &[]);
    assert_eq!(young.status.code(), Some(0), "{}", text(&young));
    assert!(text(&young).contains("nothing to remove"), "{}", text(&young));
    assert!(ended_path.is_dir() && waiting_path.is_dir());

    let gc = loopc(&dir, &["gc", "--older-than", "0s", "--format", "json"], &[]);
    assert_eq!(gc.status.code(), Some(0), "{}", text(&gc));
    let removed: Value = serde_json::from_slice(&gc.stdout).unwrap();
    assert_eq!(removed.as_array().unwrap().len(), 1, "{removed}");
    assert_eq!(removed[0]["run_id"], ended[0]["run_id"]);
    assert!(!ended_path.exists(), "the ended run's worktree is gone");
    assert!(waiting_path.is_dir(), "a waiting run keeps its worktree");
    let listed = git(&repo, &["worktree", "list", "--porcelain"]);
    assert!(
        !listed.contains(&*ended_path.to_string_lossy()) && listed.contains(&*waiting_path.to_string_lossy()),
        "{listed}"
    );
    let ended_branch = ended[0]["branch"].as_str().unwrap();
    assert_eq!(
        git(&repo, &["branch", "--list", ended_branch]).trim_start_matches(['*', '+', ' ']),
        ended_branch,
        "branches are kept"
    );
    let ended_id = ended[0]["run_id"].as_str().unwrap();
    assert!(text(&loopc(&dir, &["status", ended_id], &[])).contains("removed by loopc gc"));

    let bad = loopc(&dir, &["gc", "--older-than", "soon"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));

    // --branches: the next ended run goes with its branch; the waiting one stays.
    write_spec(&dir, "fix-calc", 3, "", "");
    let (_, third) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    let gc = loopc(&dir, &["gc", "--older-than", "0s", "--branches"], &[]);
    assert_eq!(gc.status.code(), Some(0), "{}", text(&gc));
    let third_branch = third[0]["branch"].as_str().unwrap();
    assert!(text(&gc).contains(third_branch), "{}", text(&gc));
    assert_eq!(git(&repo, &["branch", "--list", third_branch]), "");
    assert!(!path(&third).exists() && waiting_path.is_dir());
    assert_eq!(repo_state(&repo), before);
}

#[test]
fn the_diff_scope_gate_names_a_forbidden_file_a_command_wrote() {
    let dir = make_repo("scope");
    let repo = dir.join("repo");
    write_spec(&dir, "fix-calc", 3, "", "");
    // A command worker (no tool call): fixes calc.py, and writes a lock
    // file and a README it has no business changing.
    let fixed = BOTH_FIXED.replace('\n', "\\\\n");
    let worker = format!(
        "[\"python3\", \"-c\", \"open('calc.py', 'w').write('{fixed}'); open('deps.lock', 'w').write('pinned'); open('README.md', 'w').write('hi')\"]"
    );
    let extra = format!(
        "\n[workspace]\nallowed_paths = [\"*.py\", \"src/**\"]\nforbidden_paths = [\".github/**\", \"**/*.lock\"]\n\n[executors.writer]\nkind = \"command\"\nargv = {worker}\n"
    );
    write_bindings(&dir, TESTS, &extra);
    let bindings = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("\"workers.fixer\" = \"replay\"", "\"workers.fixer\" = \"writer\"");
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    write_responses(&dir, &[("write", BOTH_FIXED)]);
    let (out, reports) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let reason = reports[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("safety_violation: diff_scope"), "{reason}");
    assert!(reason.contains("deps.lock (matches **/*.lock)"), "{reason}");
    assert!(reason.contains("outside allowed_paths: README.md"), "{reason}");
    assert!(!reason.contains("calc.py"), "an allowed file is not named: {reason}");
    let id = reports[0]["run_id"].as_str().unwrap();
    let t = trace(&dir, id);
    assert!(t["iterations"][0]["violations"].to_string().contains("deps.lock"), "{t}");
    assert_eq!(t["iterations"][0]["rollback"]["to_iteration"], 0, "{t}");
    // Rolled back: the worktree is the base commit again.
    let worktree = PathBuf::from(reports[0]["workspace"].as_str().unwrap());
    assert!(!worktree.join("deps.lock").exists() && !worktree.join("README.md").exists());
    assert_eq!(std::fs::read_to_string(worktree.join("calc.py")).unwrap(), ORIGINAL);
    assert_eq!(git(&worktree, &["rev-parse", "HEAD"]), git(&repo, &["rev-parse", "main"]));

    // The gate needs a snapshot to diff against: in place it is refused.
    let in_place = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("[workspace]\n", "[workspace]\nkind = \"in-place\"\n");
    std::fs::write(dir.join("bindings.toml"), in_place).unwrap();
    let refused = loopc(&dir, &["run", "spec.yaml", "--bindings", "bindings.toml"], &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("needs [workspace] kind = \"git-worktree\""),
        "{}",
        text(&refused)
    );
}

#[test]
fn a_root_outside_any_repository_runs_in_place_and_bad_bases_are_refused() {
    let dir = make_repo("kinds");
    write_spec(&dir, "fix-calc", 3, "", "");
    write_responses(&dir, &[("write", BOTH_FIXED)]);
    write_bindings(&dir, TESTS, "");
    let bad = loopc(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml", "--base", "no-such-ref"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("--base no-such-ref"), "{}", text(&bad));
    // Worktrees must not land inside the repository (they would show in its status).
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("sub")).unwrap();
    std::fs::write(repo.join("sub/keep.txt"), "x").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "--no-verify", "-m", "sub"]);
    write_bindings(&dir, TESTS, "");
    let sub = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("root = \"repo\"", "root = \"repo/sub\"");
    std::fs::write(dir.join("bindings.toml"), sub).unwrap();
    let inside = repo.join("state-inside").to_string_lossy().into_owned();
    let refused = loopc(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[("LOOPC_STATE_DIR", &inside)],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("is inside the repository"), "{}", text(&refused));
    assert_eq!(git(&repo, &["status", "--porcelain"]), "", "{}", text(&refused));
    // A copy: its own directory, the root untouched.
    write_bindings(&dir, TESTS, "[workspace]\nkind = \"copy\"\n");
    let (out, copied) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = PathBuf::from(copied[0]["workspace"].as_str().unwrap());
    assert!(copy.starts_with(dir.join("state/copies")));
    assert_eq!(std::fs::read_to_string(copy.join("calc.py")).unwrap(), BOTH_FIXED);
    assert_eq!(std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(), ORIGINAL);
    assert!(copied[0].get("branch").is_none());
    // No repository: in place, as before workspaces.
    std::fs::remove_dir_all(dir.join("repo/.git")).unwrap();
    write_bindings(&dir, TESTS, "");
    let (out, in_place) = run_json(&dir, &["spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(in_place[0].get("workspace").is_none(), "{in_place}");
    assert_eq!(std::fs::read_to_string(dir.join("repo/calc.py")).unwrap(), BOTH_FIXED);
}
