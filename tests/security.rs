//! Attacks on loopc's own state, bindings and plans, each turned into a
//! test: a worker must not approve itself, choose its own executor, run an
//! edited plan, leave a secret at rest, or outlive a restart's limits.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn base() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("security")
}

/// A fresh work directory `name` with the convergence fixture's repository
/// and a spec whose sandbox root is the work directory itself (the default).
fn workdir(name: &str) -> PathBuf {
    let dir = base().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(state(&dir));
    let _ = std::fs::remove_dir_all(xdg(&dir));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime/convergence");
    for f in ["calc.py", "test_calc.py"] {
        std::fs::copy(fixture.join("repo").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("spec.yaml"), SPEC).unwrap();
    dir
}

/// Explicit state directory: beside the work directory, outside its root.
fn state(dir: &Path) -> PathBuf {
    dir.with_file_name(format!("{}.state", dir.file_name().unwrap().to_string_lossy()))
}

/// An `XDG_STATE_HOME` outside the work directory, for the default location.
fn xdg(dir: &Path) -> PathBuf {
    dir.with_file_name(format!("{}.xdg", dir.file_name().unwrap().to_string_lossy()))
}

const SPEC: &str = r#"loop_name: guarded
version: 1.0.0
objective: Fix add() while a person reviews every output
inputs:
  schema:
    target:
      type: string
      description: File to repair
      required: false
memory:
  type: session
  write_policy:
    allowed_writers: [fixer]
workers:
  - id: fixer
    role: Edit the target file until the tests pass
    model: {provider: local, name: scripted}
    inputs:
      - from: inputs.target
    outputs: {name: patch, format: code}
    tools: [write_file, read_file, run_command]
    timeout_seconds: 30
evaluators:
  - id: tests
    type: deterministic
    runs_after: [fixer]
    implementation: evaluators.tests
feedback_channels:
  - id: failures
    source: evaluators.tests
    destination: workers.fixer
    format: structured
    when: "passed == false"
optimization_strategy:
  type: prompt_refinement
  max_steps: 3
termination_conditions:
  success:
    - {metric: pass_rate, operator: eq, value: 1}
  failure:
    - {type: max_iterations, value: 3, action: halt}
metrics:
  - name: pass_rate
    primary: true
    definition: 1 when the tests pass
    source: evaluators.tests
    unit: ratio
safety_constraints:
  - {id: tools, type: tool_allowlist, scope: pre_worker, applies_to: ["*"], action: halt}
  - {id: review, type: human_gate, scope: pre_output, applies_to: [fixer], action: escalate_human}
cost_limits:
  per_iteration_usd: 1
  cumulative_usd: 5
  on_exceed: {action: halt}
"#;

/// Bindings in the work directory (root "."): the worker replays
/// `worker.json`, the tests are `python3 test_calc.py`.
fn bindings(dir: &Path, worker_replies: &Value) {
    std::fs::write(
        dir.join("worker.json"),
        json!({"steps": {"workers.fixer": worker_replies}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        "[sandbox]\nroot = \".\"\nallow_programs = [\"python3\"]\n\n[executors.replay]\nkind = \"script\"\nfile = \"worker.json\"\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"test_calc.py\"]\n\n[bind]\n\"workers.fixer\" = \"replay\"\n\"impl:evaluators.tests\" = \"tests\"\n",
    )
    .unwrap();
}

/// Bindings in the work directory whose worker is `python3 <script>` (the
/// script written there) and whose tests are `python3 test_calc.py`; the
/// spec loses its review gate. `isolation` is the sandbox's (`none` for
/// tests whose worker kills its parent, loopc, to simulate a crash).
fn command_worker(dir: &Path, script: &str, code: &str, isolation: &str) {
    std::fs::write(dir.join(script), code).unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!("[sandbox]\nroot = \".\"\nisolation = \"{isolation}\"\npass_env = [\"KILL_PARENT\"]\n\n[executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"{script}\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"test_calc.py\"]\n\n[bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.tests\" = \"tests\"\n"),
    )
    .unwrap();
    std::fs::write(dir.join("spec.yaml"), SPEC.replace(REVIEW_GATE, "")).unwrap();
}

const REVIEW_GATE: &str = "  - {id: review, type: human_gate, scope: pre_output, applies_to: [fixer], action: escalate_human}\n";

fn loopc(dir: &Path, args: &[&str]) -> Output {
    loopc_env(dir, args, &[("LOOPC_STATE_DIR", state(dir).to_str().unwrap())])
}

fn loopc_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loopc"));
    cmd.args(args).current_dir(dir).env_remove("LOOPC_STATE_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("loopc runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn run(dir: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["run", "--format", "json", "spec.yaml", "--bindings", "bindings.toml"];
    args.extend_from_slice(extra);
    let out = loopc(dir, &args);
    let reports = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, reports)
}

fn status(dir: &Path, id: &str) -> Value {
    serde_json::from_slice(&loopc(dir, &["status", id, "--format", "json"]).stdout).unwrap()
}

fn sql(db: &Path, statement: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nrows = c.execute(sys.argv[2]).fetchall()\nc.commit()\nprint('\\n'.join('|'.join(str(x) for x in r) for r in rows))",
        ])
        .arg(db)
        .arg(statement)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A GitHub-token-shaped secret, built here so that no token sits in the repository.
fn secret() -> String {
    format!(
        "ghp_{}",
        "Zq7Lm2Xw9Rt4Yp6Vb3Nc8Kd5Hs1Jf0Ga".chars().cycle().take(36).collect::<String>()
    )
}

#[test]
fn a_state_directory_inside_the_sandbox_root_is_refused() {
    let dir = workdir("state-inside");
    bindings(&dir, &json!([{"output": "nothing"}]));
    let out = loopc(&dir, &["run", "spec.yaml", "--bindings", "bindings.toml", "--state-dir", ".loopc"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is inside the sandbox root"), "{}", text(&out));
    assert!(!dir.join(".loopc/state.db").exists(), "no run was recorded there");
}

#[test]
fn the_default_state_directory_is_outside_the_workspace_and_private() {
    let dir = workdir("default-state");
    // The project is the nearest directory with `.git` (or `loopc.toml`).
    std::fs::create_dir(dir.join(".git")).unwrap();
    bindings(&dir, &json!([{"output": "no change"}]));
    let home = xdg(&dir);
    let env = [("XDG_STATE_HOME", home.to_str().unwrap())];
    let out = loopc_env(&dir, &["run", "--format", "json", "spec.yaml", "--bindings", "bindings.toml"], &env);
    assert_eq!(out.status.code(), Some(3), "waits at the review gate: {}", text(&out));
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = reports[0]["run_id"].as_str().unwrap();
    let projects: Vec<PathBuf> = std::fs::read_dir(home.join("loopc")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(projects.len(), 1, "{projects:?}");
    let state_dir = &projects[0];
    assert!(state_dir.file_name().unwrap().to_string_lossy().starts_with("default-state-"));
    assert!(state_dir.join("state.db").is_file());
    assert!(!dir.join(".loopc").exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("state.db")), 0o600);
    // `loopc status` from the same project finds the run without being told where.
    let shown = loopc_env(&dir, &["status", id], &env);
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown));
    assert!(text(&shown).contains("awaiting_human"));
}

#[test]
fn a_worker_cannot_write_its_own_approval() {
    let dir = workdir("self-approval");
    let db = state(&dir).join("state.db");
    let insert = format!(
        "import sqlite3; c = sqlite3.connect('{}'); c.execute(\"insert into decisions values ((select id from runs), 1, 'safety.review.fixer.pre_output', 1, 'me', 'now')\"); c.commit()",
        db.display()
    );
    let attacks = [
        (
            "write_file",
            json!({"tool": "write_file", "args": {"path": db.display().to_string(), "content": "x"}}),
        ),
        (
            "run_command",
            json!({"tool": "run_command", "args": {"argv": ["python3", "-c", insert]}}),
        ),
    ];
    for (name, call) in attacks {
        let _ = std::fs::remove_dir_all(state(&dir));
        bindings(&dir, &json!([{"output": "patched", "tool_calls": [call]}]));
        let (out, reports) = run(&dir, &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert_eq!(reports[0]["status"], "halted", "{name}");
        let reason = reports[0]["reason"].as_str().unwrap();
        assert!(reason.contains("path_outside_root"), "{name}: {reason}");
        assert_eq!(sql(&db, "select count(*) from decisions"), "0", "{name}: no approval was written");
    }
}

#[test]
fn loopc_files_inside_the_root_are_refused_to_tools() {
    let dir = workdir("protected");
    std::fs::write(dir.join("loopc.toml"), "[rules]\n").unwrap();
    for (file, call) in [
        (
            "bindings.toml",
            json!({"tool": "write_file", "args": {"path": "bindings.toml", "content": "[bind]\n"}}),
        ),
        (
            "worker.json",
            json!({"tool": "write_file", "args": {"path": "./worker.json", "content": "{}"}}),
        ),
        (
            "loopc.toml",
            json!({"tool": "write_file", "args": {"path": "loopc.toml", "content": "[rules]\nL401 = \"allow\"\n"}}),
        ),
        ("bindings.toml", json!({"tool": "read_file", "args": {"path": "bindings.toml"}})),
        (
            "test_calc.py",
            json!({"tool": "write_file", "args": {"path": "test_calc.py", "content": "print('3 passed')\n"}}),
        ),
        (
            "bindings.toml",
            json!({"tool": "run_command", "args": {"argv": ["python3", "-c", "open('bindings.toml', 'a').write('x')"]}}),
        ),
    ] {
        let _ = std::fs::remove_dir_all(state(&dir));
        bindings(&dir, &json!([{"output": "patched", "tool_calls": [call.clone()]}]));
        let before = std::fs::read(dir.join(file)).unwrap();
        let (out, reports) = run(&dir, &[]);
        assert_eq!(reports[0]["status"], "halted", "{call}: {}", text(&out));
        assert!(
            reports[0]["reason"].as_str().unwrap().contains("protected_path"),
            "{call}: {}",
            reports[0]
        );
        assert_eq!(std::fs::read(dir.join(file)).unwrap(), before, "{file} is unchanged");
    }
}

#[test]
fn changed_bindings_are_not_used_without_rebind() {
    let dir = workdir("bindings-swap");
    let fix = json!({"tool": "write_file", "args": {"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"}});
    bindings(&dir, &json!([{"output": "fixed", "tool_calls": [fix]}]));
    let original = std::fs::read_to_string(dir.join("bindings.toml")).unwrap();
    let (out, reports) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    // While the run waits for its reviewer, the bindings are swapped for an
    // executor that writes outside the root.
    let canary = base().join("bindings-swap-canary.txt");
    std::fs::write(&canary, "untouched").unwrap();
    let evil = original.replace(
        "argv = [\"python3\", \"test_calc.py\"]",
        &format!("argv = [\"python3\", \"-c\", \"open('{}', 'w').write('owned')\"]", canary.display()),
    );
    std::fs::write(dir.join("bindings.toml"), evil).unwrap();
    let approved = loopc(&dir, &["approve", &id]);
    assert_eq!(approved.status.code(), Some(2), "{}", text(&approved));
    assert!(
        text(&approved).contains("changed since it started") && text(&approved).contains("--rebind"),
        "{}",
        text(&approved)
    );
    assert_eq!(status(&dir, &id)["status"], "awaiting_human", "the run still waits");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched");
    let resumed = loopc(&dir, &["resume", &id]);
    assert_eq!(resumed.status.code(), Some(2), "{}", text(&resumed));
    // The original bindings back: the approval goes through.
    std::fs::write(dir.join("bindings.toml"), &original).unwrap();
    let approved = loopc(&dir, &["approve", &id, "--note", "diff reviewed"]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    assert_eq!(status(&dir, &id)["status"], "succeeded");
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "untouched");
}

#[test]
fn edited_and_hand_written_plans_are_refused() {
    let dir = workdir("plans");
    bindings(&dir, &json!([{"output": "nothing"}]));
    let compiled = loopc(&dir, &["compile", "spec.yaml", "-o", "plan.json"]);
    assert_eq!(compiled.status.code(), Some(0), "{}", text(&compiled));
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["spec_sha256"].as_str().unwrap().len(), 64);
    let try_plan = |name: &str, edited: &Value| {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(edited).unwrap()).unwrap();
        let out = loopc(&dir, &["run", name, "--bindings", "bindings.toml"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        text(&out)
    };
    // Safety checks removed and tools widened.
    let mut unsafe_plan = plan.clone();
    unsafe_plan["safety"] = json!([]);
    unsafe_plan["workers"][0]["tools"] = json!(["write_file", "read_file", "run_command", "delete_file"]);
    let said = try_plan("unsafe.json", &unsafe_plan);
    assert!(
        said.contains("is not what spec.yaml compiles to") && said.contains("`/safety/0` differs"),
        "{said}"
    );
    // Termination rules removed.
    let mut endless = plan.clone();
    endless["termination"] = json!({"success": [], "failure": [], "stall": []});
    let said = try_plan("endless.json", &endless);
    assert!(said.contains("`/termination/failure/0` differs"), "{said}");
    // A plan without a digest, and one whose spec has changed since.
    let mut hand_written = plan.clone();
    hand_written.as_object_mut().unwrap().remove("spec_sha256");
    assert!(try_plan("hand.json", &hand_written).contains("carries no spec digest"));
    std::fs::write(
        dir.join("spec.yaml"),
        SPEC.replace("value: 3, action: halt", "value: 4, action: halt"),
    )
    .unwrap();
    assert!(try_plan("stale.json", &plan).contains("the spec changed since"));
    // The unedited plan of the current spec runs.
    let fresh = loopc(&dir, &["compile", "spec.yaml", "-o", "plan.json"]);
    assert_eq!(fresh.status.code(), Some(0));
    let out = loopc(&dir, &["run", "plan.json", "--bindings", "bindings.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

/// Every file of the state directory (WAL and trace included), as text.
fn everything_at_rest(state_dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![state_dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()));
            }
        }
    }
    out
}

#[test]
fn no_secret_is_at_rest() {
    let dir = workdir("secrets");
    let key = secret();
    std::fs::write(dir.join("config.txt"), format!("token = {key}\n")).unwrap();
    // Worker: fails once with the key on stderr, then prints it, reads a
    // file that holds it and passes it to a tool; the evaluator prints it.
    std::fs::write(
        dir.join("leaky.py"),
        format!(
            "import json, os, sys\njson.load(sys.stdin)\nif not os.path.exists('attempted'):\n    open('attempted', 'w').write('1')\n    sys.stderr.write('auth failed for {key}\\n')\n    sys.exit(1)\nprint(json.dumps({{'output': 'my token is {key}, url user%3D{key}', 'tool_calls': [{{'tool': 'read_file', 'args': {{'path': 'config.txt'}}}}, {{'tool': 'write_file', 'args': {{'path': 'notes.txt', 'content': 'key {key}'}}}}]}}))\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!("[sandbox]\nroot = \".\"\n\n[executors.leaky]\nkind = \"command\"\nargv = [\"python3\", \"leaky.py\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"-c\", \"print('checked with {key}')\"]\n\n[bind]\n\"workers.fixer\" = \"leaky\"\n\"impl:evaluators.tests\" = \"tests\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        SPEC.replace("    timeout_seconds: 30\n", "    timeout_seconds: 30\n    retries: 1\n"),
    )
    .unwrap();
    let (out, reports) = run(&dir, &["--input", &format!("target=config:\n{key}")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    assert!(
        text(&out).contains("looks like a secret"),
        "the input is redacted with a warning: {}",
        text(&out)
    );
    let approved = loopc(&dir, &["approve", &id, "--note", &format!("see https://ci.test/run?token%3D{key}")]);
    assert_eq!(approved.status.code(), Some(0), "{}", text(&approved));
    // A second run whose output a secret_scan halts: the blocked output is stored redacted.
    std::fs::write(
        dir.join("spec.yaml"),
        SPEC.replace(
            "safety_constraints:\n",
            "safety_constraints:\n  - {id: scan, type: secret_scan, scope: post_worker, applies_to: [fixer], action: halt}\n",
        ),
    )
    .unwrap();
    let (halted, reports) = run(&dir, &[]);
    assert_eq!(halted.status.code(), Some(1), "{}", text(&halted));
    assert!(reports[0]["reason"].as_str().unwrap().contains("secret"), "{}", reports[0]);
    let files = everything_at_rest(&state(&dir));
    assert!(
        files.iter().any(|(p, _)| p.extension().is_some_and(|e| e == "json")),
        "a trace was written"
    );
    for (path, content) in &files {
        assert!(!content.contains(&key), "{} holds the secret", path.display());
    }
    let all: String = files.iter().map(|(_, c)| c.as_str()).collect();
    assert!(all.contains("[REDACTED:sha256:"), "secrets are replaced by fingerprinted markers");
    let db = state(&dir).join("state.db");
    let blocked = sql(&db, "select result_json from steps where status = 'blocked'");
    assert!(
        blocked.contains("output_sha256") && blocked.contains("[REDACTED:sha256:"),
        "{blocked}"
    );
    for out in [&out, &approved, &halted] {
        assert!(!text(out).contains(&key), "loopc printed the secret: {}", text(out));
    }
    use std::os::unix::fs::PermissionsExt;
    for (path, _) in &files {
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o077,
            0,
            "{} is private",
            path.display()
        );
    }
    // What the worker wrote into the workspace went through the same record.
    assert!(!std::fs::read_to_string(dir.join("notes.txt")).unwrap().contains(&key));
}

#[test]
fn memory_writes_are_under_the_tool_allowlist() {
    let dir = workdir("remember");
    bindings(
        &dir,
        &json!([{"output": "x", "tool_calls": [{"tool": "remember", "args": {"key": "k", "value": "v"}}]}]),
    );
    let (out, reports) = run(&dir, &[]);
    assert_eq!(reports[0]["status"], "halted", "{}", text(&out));
    assert!(
        reports[0]["reason"].as_str().unwrap().contains("tool_not_allowed"),
        "{}",
        reports[0]
    );
    assert_eq!(sql(&state(&dir).join("state.db"), "select count(*) from memory"), "0");
}

#[test]
fn run_ids_are_matched_as_text() {
    let dir = workdir("run-ids");
    bindings(&dir, &json!([{"output": "nothing"}]));
    let (out, reports) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap();
    for pattern in ["%", "_", "r%", "%-%"] {
        let shown = loopc(&dir, &["status", pattern]);
        assert_eq!(shown.status.code(), Some(2), "`{pattern}` matched: {}", text(&shown));
    }
    assert_eq!(loopc(&dir, &["status", &id[..12]]).status.code(), Some(0));
    assert_eq!(loopc(&dir, &["status", id]).status.code(), Some(0));
}

#[test]
fn rate_limit_holds_across_approvals() {
    let dir = workdir("rate-limit");
    command_worker(
        &dir,
        "counting.py",
        "import json, sys\njson.load(sys.stdin)\nopen('calls.txt', 'a').write('1\\n')\nprint('no fix')\n",
        "auto",
    );
    std::fs::write(
        dir.join("spec.yaml"),
        SPEC.replace("value: 3, action: halt", "value: 5, action: halt").replace(
            "safety_constraints:\n",
            "safety_constraints:\n  - {id: budget, type: rate_limit, scope: pre_worker, applies_to: [fixer], action: halt, config: {max_calls: 2}}\n",
        ),
    )
    .unwrap();
    let (out, reports) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    let mut last = out;
    for _ in 0..4 {
        if status(&dir, &id)["status"] != "awaiting_human" {
            break;
        }
        last = loopc(&dir, &["approve", &id]);
    }
    let s = status(&dir, &id);
    assert_eq!(s["status"], "halted", "{}", text(&last));
    assert!(s["reason"].as_str().unwrap().contains("max_calls"), "{s}");
    let calls = std::fs::read_to_string(dir.join("calls.txt")).unwrap().lines().count();
    assert_eq!(calls, 2, "max_calls: 2 across approvals");
}

/// A run whose loopc was SIGKILLed mid-step: `running`, held by nobody.
fn interrupted_run(dir: &Path) -> String {
    command_worker(
        dir,
        "step.py",
        "import json, os, signal, sys\njson.load(sys.stdin)\nif os.environ.get('KILL_PARENT') and not os.path.exists('killed'):\n    open('killed', 'w').write('1')\n    os.kill(os.getppid(), signal.SIGKILL)\n    sys.exit(9)\nopen('effects.log', 'a').write('worker\\n')\nprint('no fix')\n",
        "none",
    );
    let killed = loopc_env(
        dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[("LOOPC_STATE_DIR", state(dir).to_str().unwrap()), ("KILL_PARENT", "1")],
    );
    assert_eq!(killed.status.code(), None, "loopc was killed: {}", text(&killed));
    String::from_utf8_lossy(&killed.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .and_then(|l| l.split_whitespace().next())
        .expect("run id announced")
        .to_owned()
}

#[test]
fn two_concurrent_resumes_run_the_run_once() {
    for trial in 0..20 {
        let dir = workdir(&format!("resume-race-{trial}"));
        let id = interrupted_run(&dir);
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_loopc"))
                .args(["resume", &id])
                .current_dir(&dir)
                .env("LOOPC_STATE_DIR", state(&dir))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let executed = outs
            .iter()
            .filter(|o| String::from_utf8_lossy(&o.stderr).contains("iteration "))
            .count();
        assert_eq!(executed, 1, "trial {trial}: {} / {}", text(&outs[0]), text(&outs[1]));
        // Three iterations, each with one worker call: no call was made twice.
        let effects = std::fs::read_to_string(dir.join("effects.log")).unwrap();
        assert_eq!(effects.lines().count(), 3, "trial {trial}: {effects}");
        assert_eq!(status(&dir, &id)["status"], "halted", "trial {trial}");
    }
}

#[test]
fn resume_ends_what_a_killed_run_left_running() {
    let dir = workdir("leftovers");
    // The worker leaves a background process in its group, then loopc dies.
    command_worker(
        &dir,
        "step.py",
        "import json, os, signal, subprocess, sys, time\njson.load(sys.stdin)\nif not os.path.exists('killed'):\n    open('killed', 'w').write('1')\n    p = subprocess.Popen(['sleep', '300'])\n    open('orphan.pid', 'w').write(str(p.pid))\n    os.kill(os.getppid(), signal.SIGKILL)\n    time.sleep(300)\nprint('no fix')\n",
        "none",
    );
    let killed = loopc(&dir, &["run", "spec.yaml", "--bindings", "bindings.toml"]);
    assert_eq!(killed.status.code(), None, "{}", text(&killed));
    let id = String::from_utf8_lossy(&killed.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let orphan: u32 = std::fs::read_to_string(dir.join("orphan.pid")).unwrap().trim().parse().unwrap();
    let running = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'))
            .unwrap_or(false)
    };
    // The worker itself died with loopc (parent-death signal); its child did not.
    assert!(running(orphan), "the orphan should still run before resume");
    let resumed = loopc(&dir, &["resume", &id]);
    assert!(text(&resumed).contains("ended process group"), "{}", text(&resumed));
    assert!(!running(orphan), "resume ended the left-over process group");
}

#[test]
fn corrupt_state_is_an_error_naming_the_row() {
    let dir = workdir("corrupt");
    bindings(&dir, &json!([{"output": "nothing"}]));
    let (out, reports) = run(&dir, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let id = reports[0]["run_id"].as_str().unwrap().to_owned();
    let db = state(&dir).join("state.db");
    let cases = [
        ("update runs set options_json = '{\"dry_run\": \"no\"}'", "options_json", "resume"),
        ("update runs set status = 'sleeping'", "not a run status", "runs"),
        (
            "update steps set result_json = '{oops' where step = 'workers.fixer'",
            "table `steps`",
            "resume",
        ),
    ];
    for (statement, expected, command) in cases {
        let saved = std::fs::read(&db).unwrap();
        sql(&db, statement);
        let args: Vec<&str> = if command == "runs" { vec!["runs"] } else { vec!["resume", &id] };
        let out = loopc(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{statement}: {}", text(&out));
        assert!(
            text(&out).contains(expected) && text(&out).contains(&id),
            "{statement}: {}",
            text(&out)
        );
        std::fs::write(&db, saved).unwrap();
        let _ = std::fs::remove_file(state(&dir).join("state.db-wal"));
        let _ = std::fs::remove_file(state(&dir).join("state.db-shm"));
    }
    // A truncated database is not silently replaced by an empty one.
    std::fs::write(&db, b"").unwrap();
    let out = loopc(&dir, &["runs"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is empty (0 bytes)"), "{}", text(&out));
}

#[test]
fn the_runtime_refuses_an_unbounded_plan_whatever_its_origin() {
    let dir = workdir("unbounded");
    let path = dir.join("spec.yaml");
    let bytes = std::fs::read(&path).unwrap();
    let plan = loopc_compile::compile(&path, &bytes, "spec.yaml", &loopc_compile::Options::default()).unwrap();
    assert!(loopc_runtime::validate_plan(&plan).is_ok());
    // Without its iteration limit, only the cost cap bounds it; without that, nothing.
    let mut money_only = plan.clone();
    money_only.termination.failure.clear();
    money_only.optimizer.max_steps = 0;
    assert!(loopc_runtime::validate_plan(&money_only).is_ok(), "a halting cost cap is a bound");
    let mut endless = money_only;
    endless.budgets.on_exceed = loopc_plan::BudgetAction::Warn;
    let err = loopc_runtime::validate_plan(&endless).unwrap_err();
    assert!(
        matches!(&err, loopc_runtime::Error::InvalidPlan(problems) if problems.iter().any(|p| p.contains("nothing bounds the loop"))),
        "{err}"
    );
}

/// The OS sandbox is part of what these tests check; `.ci/run` installs it.
fn require_bubblewrap() {
    assert!(
        loopc_runtime::process::bubblewrap().is_some(),
        "bubblewrap is needed for this test: apt-get install bubblewrap (.ci/run does)"
    );
}

#[test]
fn a_computed_path_does_not_reach_the_state_from_the_os_sandbox() {
    require_bubblewrap();
    let dir = workdir("computed-path");
    let db = state(&dir).join("state.db");
    // The path is assembled at run time, so no argument names it.
    let parts: Vec<String> = db.to_string_lossy().split('/').map(|p| format!("'{p}'")).collect();
    let code = format!(
        "import os, sqlite3\nd = os.environ.get('LOOPC_STATE' + '_DIR')\np = chr(47).join([{}])\nopen('probe.txt', 'w').write(repr(d) + ' ' + str(os.path.exists(p)))\nc = sqlite3.connect(p)\nc.execute(\"insert into decisions values ((select id from runs), 1, 'safety.review.fixer.pre_output', 1, 'me', 'now')\")\nc.commit()\n",
        parts.join(", ")
    );
    bindings(
        &dir,
        &json!([{"output": "patched", "tool_calls": [{"tool": "run_command", "args": {"argv": ["python3", "-c", code]}}]}]),
    );
    let (out, reports) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "the run still waits for its reviewer: {}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("probe.txt")).unwrap(),
        "None False",
        "no state in sight"
    );
    assert_eq!(sql(&db, "select count(*) from decisions"), "0");
    assert_eq!(status(&dir, reports[0]["run_id"].as_str().unwrap())["status"], "awaiting_human");
}

#[test]
fn nothing_a_command_starts_outlives_it() {
    require_bubblewrap();
    let dir = workdir("daemon");
    // A daemon (double fork, new session) that would write a file two seconds later.
    let code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(2)\n        open('late.txt', 'w').write('still here')\n    os._exit(0)\nos.wait()\n";
    bindings(
        &dir,
        &json!([{"output": "x", "tool_calls": [{"tool": "run_command", "args": {"argv": ["python3", "-c", code]}}]}]),
    );
    let (out, _) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(!dir.join("late.txt").exists(), "the daemon outlived its command");
}

#[test]
fn processes_see_only_the_basic_environment() {
    let dir = workdir("environment");
    let code = "import os, json\nopen('env.json', 'w').write(json.dumps(dict(os.environ)))\n";
    bindings(
        &dir,
        &json!([{"output": "x", "tool_calls": [{"tool": "run_command", "args": {"argv": ["python3", "-c", code]}}]}]),
    );
    let out = loopc_env(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[
            ("LOOPC_STATE_DIR", state(&dir).to_str().unwrap()),
            ("PGPASSWORD", "hunter2"),
            ("GH_PAT", "pat"),
            ("DATABASE_URL", "postgres://u:pw@db/x"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let env: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("env.json")).unwrap()).unwrap();
    for hidden in ["PGPASSWORD", "GH_PAT", "DATABASE_URL", "LOOPC_STATE_DIR"] {
        assert!(env.get(hidden).is_none(), "{hidden} reached the command: {env}");
    }
    assert!(env.get("PATH").is_some());
}

/// A run whose worker makes one `run_command` call with this Python code.
fn python_worker(dir: &Path, code: &str) {
    bindings(
        dir,
        &json!([{"output": "x", "tool_calls": [{"tool": "run_command", "args": {"argv": ["python3", "-c", code]}}]}]),
    );
}

#[test]
fn sandboxed_processes_have_no_capabilities_even_as_root() {
    require_bubblewrap();
    let dir = workdir("capabilities");
    // Paths built at run time: the argument check would refuse them written out.
    let code = "import subprocess\nslash = chr(47)\ncaps = [l.split()[1] for l in open(slash.join(['', 'proc', 'self', 'status'])) if l.startswith('CapEff')][0]\numount = subprocess.run(['umount', '-l', slash + 'tmp'], capture_output=True).returncode\nopen('probe.txt', 'w').write(caps + ' ' + str(umount))\n";
    python_worker(&dir, code);
    // The probe starts a program (`umount`), which the strict command check
    // refuses; what is tested here is the OS sandbox under it.
    let b = std::fs::read_to_string(dir.join("bindings.toml")).unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        b.replace("[sandbox]\n", "[sandbox]\nshell_scripts = \"best_effort\"\n"),
    )
    .unwrap();
    let (out, _) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let probe = std::fs::read_to_string(dir.join("probe.txt")).unwrap();
    let (caps, umount) = probe.split_once(' ').unwrap();
    assert_eq!(caps, "0000000000000000", "no effective capabilities");
    assert_ne!(umount, "0", "umount must fail");
}

#[test]
fn a_bubblewrap_planted_on_path_is_not_used() {
    require_bubblewrap();
    let dir = workdir("fake-bwrap");
    std::fs::create_dir_all(dir.join(".venv/bin")).unwrap();
    let fake = dir.join(".venv/bin/bwrap");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho used > {}\nexit 0\n", dir.join("fake-used.txt").display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    python_worker(&dir, "open('ran.txt', 'w').write('yes')\n");
    let path = format!("{}:{}", dir.join(".venv/bin").display(), std::env::var("PATH").unwrap());
    let out = loopc_env(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[("LOOPC_STATE_DIR", state(&dir).to_str().unwrap()), ("PATH", &path)],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(dir.join("ran.txt").exists(), "the command ran");
    assert!(!dir.join("fake-used.txt").exists(), "the bwrap found on PATH was used");
    assert!(!text(&out).contains("no OS sandbox"), "{}", text(&out));
}

#[test]
fn a_checker_replaced_by_renaming_its_directory_halts_the_run() {
    let dir = workdir("renamed-checker");
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::rename(dir.join("test_calc.py"), dir.join("tests/test_calc.py")).unwrap();
    std::fs::write(
        dir.join("tests/test_calc.py"),
        std::fs::read_to_string(dir.join("tests/test_calc.py"))
            .unwrap()
            .replace("from calc import", "import sys\nsys.path.insert(0, '.')\nfrom calc import"),
    )
    .unwrap();
    let code =
        "import os\nos.rename('tests', 'tests.orig')\nos.mkdir('tests')\nopen('tests/test_calc.py', 'w').write('print(\"3 passed\")\\n')\n";
    bindings(
        &dir,
        &json!([{"output": "x", "tool_calls": [{"tool": "run_command", "args": {"argv": ["python3", "-c", code]}}]}]),
    );
    let b = std::fs::read_to_string(dir.join("bindings.toml"))
        .unwrap()
        .replace("\"test_calc.py\"", "\"tests/test_calc.py\"");
    std::fs::write(dir.join("bindings.toml"), b).unwrap();
    let (out, reports) = run(&dir, &[]);
    assert_eq!(reports[0]["status"], "halted", "{}", text(&out));
    let reason = reports[0]["reason"].as_str().unwrap();
    // The command's changes are measured on the files: the checker it
    // replaced is read-only, so the command is undone and the run halts.
    assert!(
        reason.contains("tests/test_calc.py") && reason.contains("read-only in this run") && reason.contains("undone"),
        "{reason}"
    );
    assert!(std::fs::read_to_string(dir.join("tests/test_calc.py"))
        .unwrap()
        .contains("from calc import"));
    assert!(!dir.join("tests.orig").exists(), "the renamed directory is put back");
}

#[test]
fn the_network_is_cut_by_default() {
    require_bubblewrap();
    let dir = workdir("network");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    r = 'connected'\nexcept OSError as e:\n    r = 'refused'\nopen('probe.txt', 'w').write(r)\n"
    );
    python_worker(&dir, &code);
    let (out, _) = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(dir.join("probe.txt")).unwrap(), "refused");
    drop(listener);
}

#[test]
fn credentials_in_the_home_directory_are_hidden_from_the_os_sandbox() {
    require_bubblewrap();
    let dir = workdir("home-credentials");
    // Inside the root, so that it is in sight of the sandbox wherever the
    // test directory is (a sandbox's /tmp is its own, and CI works in /tmp).
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "canary private key\n").unwrap();
    std::fs::write(home.join(".netrc"), "machine example.invalid password canary\n").unwrap();
    std::fs::write(home.join("notes.txt"), "not a secret\n").unwrap();
    // The paths come from $HOME at run time: no argument names them.
    let code = "import os\nout = []\nfor p in [('.' + 'ssh', 'id_ed25519'), ('.' + 'netrc',), ('notes.txt',)]:\n    try:\n        out.append(open(os.path.join(os.environ['HOME'], *p)).read().strip() or 'empty')\n    except OSError as e:\n        out.append(type(e).__name__)\nopen('probe.txt', 'w').write(' | '.join(out))\n";
    python_worker(&dir, code);
    let out = loopc_env(
        &dir,
        &["run", "spec.yaml", "--bindings", "bindings.toml"],
        &[("LOOPC_STATE_DIR", state(&dir).to_str().unwrap()), ("HOME", home.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // The key's directory is empty, the .netrc an unreadable empty node
    // (/dev/null); the rest of the home directory is in sight.
    let probe = std::fs::read_to_string(dir.join("probe.txt")).unwrap();
    let seen: Vec<&str> = probe.split(" | ").collect();
    assert_eq!(seen[0], "FileNotFoundError", "{probe}");
    assert!(["PermissionError", "empty"].contains(&seen[1]), "{probe}");
    assert_eq!(seen[2], "not a secret", "{probe}");
    assert_eq!(
        std::fs::read_to_string(home.join(".ssh/id_ed25519")).unwrap(),
        "canary private key\n"
    );
}

#[test]
fn the_spec_and_git_metadata_are_read_only_to_workers() {
    let dir = workdir("git-and-spec");
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".git/config"), "[core]\n").unwrap();
    for (file, call) in [
        (
            ".git/config",
            json!({"tool": "write_file", "args": {"path": ".git/config", "content": "[core]\nfsmonitor = \"sh -c id\"\n"}}),
        ),
        (
            "spec.yaml",
            json!({"tool": "write_file", "args": {"path": "spec.yaml", "content": "loop_name: weaker\n"}}),
        ),
    ] {
        let _ = std::fs::remove_dir_all(state(&dir));
        bindings(&dir, &json!([{"output": "x", "tool_calls": [call.clone()]}]));
        let before = std::fs::read(dir.join(file)).unwrap();
        let (out, reports) = run(&dir, &[]);
        assert_eq!(reports[0]["status"], "halted", "{call}: {}", text(&out));
        assert!(reports[0]["reason"].as_str().unwrap().contains("protected_path"), "{}", reports[0]);
        assert_eq!(std::fs::read(dir.join(file)).unwrap(), before, "{file} unchanged");
    }
}
