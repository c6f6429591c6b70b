//! Operating runs from outside (issue 13 §3–§4): SIGTERM and SIGINT stop a
//! run gracefully, `loopc cancel` and `loopc pause` / `loopc continue` from
//! another shell, a run whose process died shows as interrupted, and state
//! that vanished or is not a database is an error, never a new database.
//!
//! The worker is a command that records each start and each finish in
//! `effects.log`, writes its pid, and then waits until the test releases it
//! (`go-<n>` for the n-th worker call, `go-all` for every one).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const WORKER: &str = r#"import json, os, sys, time
json.load(sys.stdin)
here = os.path.dirname(os.path.abspath(__file__))
path = os.path.join(here, 'effects.log')
k = 1 + (sum(1 for l in open(path) if l.strip() == 'start') if os.path.exists(path) else 0)
log = lambda what: open(path, 'a').write(what + '\n')
log('start')
open(os.path.join(here, 'worker.pid'), 'w').write(str(os.getpid()))
released = lambda: any(os.path.exists(os.path.join(here, f)) for f in ('go-all', 'go-%d' % k))
deadline = time.time() + 60
while not released() and time.time() < deadline:
    time.sleep(0.02)
log('done')
print('no fix')
"#;

/// The calculator, the convergence spec (two iterations at most) and
/// bindings whose worker is [`WORKER`].
fn setup(name: &str) -> PathBuf {
    let dir = support::calc_workdir(&format!("operate/{name}"));
    let _ = std::fs::remove_dir_all(state(&dir));
    std::fs::write(dir.join("worker.py"), WORKER).unwrap();
    let spec = std::fs::read_to_string(support::repo().join("tests/fixtures/runtime/convergence/spec.yaml")).unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        spec.replace("value: 5, action: halt", "value: 2, action: halt")
            .replace("timeout_seconds: 30", "timeout_seconds: 120")
            .replace("retries: 1", "retries: 0"),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!(
            "[sandbox]\nroot = \"repo\"\nisolation = \"none\"\n\n[executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"test_calc.py\"]\n\n[bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.unit_tests\" = \"tests\"\n",
            dir.join("worker.py").display()
        ),
    )
    .unwrap();
    dir
}

fn state(dir: &Path) -> PathBuf {
    dir.with_extension("state")
}

fn loopc(dir: &Path, args: &[&str]) -> Output {
    support::loopc_env(args, dir, &[("LOOPC_STATE_DIR", state(dir).as_os_str())])
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `loopc run` in the background.
fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(["run", "--format", "json", "spec.yaml", "--bindings", "bindings.toml"])
        .args(["--input", "target=calc.py"])
        .current_dir(dir)
        .env("LOOPC_STATE_DIR", state(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loopc runs")
}

/// Wait (at most 30 s) until `what` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < until, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the worker that runs now (after it wrote a new one).
fn running_worker(dir: &Path) -> u32 {
    let file = dir.join("worker.pid");
    wait_until("the worker runs", || file.exists());
    let pid = std::fs::read_to_string(&file).unwrap().trim().parse().unwrap();
    std::fs::remove_file(&file).unwrap();
    pid
}

/// Whether a process runs (a zombie does not count).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn wait_gone(pid: u32) {
    let until = Instant::now() + Duration::from_secs(1);
    while alive(pid) {
        assert!(Instant::now() < until, "worker {pid} still runs a second after loopc stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait for the background loopc with a timeout.
fn finish(mut child: Child) -> Output {
    let until = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("loopc did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn signal(pid: u32, sig: i32) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap();
    assert!(ok.success());
}

fn the_run(dir: &Path) -> String {
    let mut id = String::new();
    wait_until("the run is recorded", || {
        let out = loopc(dir, &["runs", "--format", "json"]);
        let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        match runs[0]["run_id"].as_str() {
            Some(found) => {
                id = found.to_owned();
                true
            }
            None => false,
        }
    });
    id
}

fn status(dir: &Path, id: &str) -> Value {
    serde_json::from_slice(&loopc(dir, &["status", id, "--format", "json"]).stdout).unwrap()
}

fn effects(dir: &Path) -> (usize, usize) {
    let log = std::fs::read_to_string(dir.join("effects.log")).unwrap_or_default();
    (
        log.lines().filter(|l| *l == "start").count(),
        log.lines().filter(|l| *l == "done").count(),
    )
}

/// Let the `n`-th worker call finish (0: every call).
fn go(dir: &Path, n: usize) {
    let name = if n == 0 { "go-all".to_owned() } else { format!("go-{n}") };
    std::fs::write(dir.join(name), "").unwrap();
}

#[test]
fn sigterm_and_sigint_interrupt_the_run_and_resume_finishes_it() {
    for (sig, name, code) in [(15, "SIGTERM", 143), (2, "SIGINT", 130)] {
        let dir = setup(&format!("signal-{sig}"));
        let child = start(&dir);
        let loopc_pid = child.id();
        let worker = running_worker(&dir);
        signal(loopc_pid, sig);
        let out = finish(child);
        assert_eq!(out.status.code(), Some(code), "{name}: {}", text(&out));
        wait_gone(worker);
        let id = the_run(&dir);
        let s = status(&dir, &id);
        assert_eq!(s["status"], "interrupted", "{name}: {s}");
        assert!(s["reason"].as_str().unwrap().contains(&format!("interrupted by {name}")), "{s}");
        // The step cut short was not recorded: resume runs it again, and
        // nothing of a finished step repeats.
        go(&dir, 0);
        let out = loopc(&dir, &["resume", &id]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert_eq!(status(&dir, &id)["status"], "halted");
        // Two iterations, two finished worker steps; three starts (one cut).
        assert_eq!(effects(&dir), (3, 2), "{name}");
    }
}

#[test]
fn cancel_from_another_shell_stops_the_step_and_ends_the_run() {
    let dir = setup("cancel");
    let child = start(&dir);
    // Cancelled in the second iteration, so that the trace has the first.
    running_worker(&dir);
    go(&dir, 1);
    let worker = running_worker(&dir);
    let id = the_run(&dir);
    let started = Instant::now();
    let out = loopc(&dir, &["cancel", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cancelled"), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(5), "cancel took {:?}", started.elapsed());
    let run = finish(child);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    wait_gone(worker);
    let s = status(&dir, &id);
    assert_eq!(s["status"], "cancelled", "{s}");
    assert_eq!(effects(&dir), (2, 1));
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(s["trace"].as_str().expect("a trace")).unwrap()).unwrap();
    assert_eq!(trace["termination_reason"], "cancelled by loopc cancel");
    assert_eq!(trace["success"], false);
    assert_eq!(trace["iterations"].as_array().map(Vec::len), Some(1), "{trace}");
    // Cancelled is final: resume reports it, a second cancel says so.
    let again = loopc(&dir, &["cancel", &id]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("already ended: cancelled"), "{}", text(&again));
}

#[test]
fn pause_stops_at_the_step_boundary_and_continue_goes_on() {
    let dir = setup("pause");
    let child = start(&dir);
    running_worker(&dir);
    let id = the_run(&dir);
    let out = loopc(&dir, &["pause", &id, "--wait", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The step finishes (it is not killed), then the run pauses.
    go(&dir, 1);
    let run = finish(child);
    assert_eq!(run.status.code(), Some(3), "{}", text(&run));
    let s = status(&dir, &id);
    assert_eq!(s["status"], "paused", "{s}");
    assert_eq!(effects(&dir), (1, 1));
    // A person adds context while it waits: the next iteration's worker gets it.
    let out = loopc(&dir, &["add-context", &id, "--note", "add() must return a + b"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    go(&dir, 0);
    let out = loopc(&dir, &["continue", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(status(&dir, &id)["status"], "halted");
    assert_eq!(effects(&dir), (2, 2), "the paused step was not run again");
    let logs: Value = serde_json::from_slice(&loopc(&dir, &["logs", &id, "--step", "fixer", "--format", "json"]).stdout).unwrap();
    let prompts: Vec<&Value> = logs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["record"]["prompt"]["feedback"])
        .collect();
    assert_eq!(prompts.len(), 2, "{logs}");
    assert!(!prompts[0].to_string().contains("a + b"), "{logs}");
    assert!(
        prompts[1]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["note"] == "add() must return a + b"),
        "{logs}"
    );
    let page = loopc(&dir, &["status", &id, "--format", "markdown"]);
    let page = String::from_utf8_lossy(&page.stdout);
    assert!(page.starts_with("# Loop state: fix-calc\n"), "{page}");
    assert!(page.contains("| Status | **halted** — max_iterations: reached 2 of 2 |"), "{page}");
    assert!(page.contains("## Next action\n\nNone: the run ended."), "{page}");
    assert!(page.contains("| 2 | max_iterations: reached 2 of 2 | pass_rate=0.0 |"), "{page}");
    assert!(
        page.contains("- [2] context: a note from a person reaches this iteration's workers"),
        "{page}"
    );
    let out = loopc(&dir, &["add-context", &id, "--note", "too late"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Nothing to pause once it ended.
    let out = loopc(&dir, &["pause", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing to pause"), "{}", text(&out));
}

#[test]
fn a_run_whose_process_died_shows_interrupted_and_can_be_cancelled() {
    let dir = setup("killed");
    let child = start(&dir);
    let loopc_pid = child.id();
    let worker = running_worker(&dir);
    signal(loopc_pid, 9);
    finish(child);
    wait_gone(worker);
    let id = the_run(&dir);
    let s = status(&dir, &id);
    assert_eq!(s["status"], "interrupted", "{s}");
    assert!(s["reason"].as_str().unwrap().contains("is gone"), "{s}");
    let runs = loopc(&dir, &["runs"]);
    assert!(String::from_utf8_lossy(&runs.stdout).contains("interrupted"), "{}", text(&runs));
    // loopc doctor names the run and how to repair it, and an orphaned worktree.
    std::fs::create_dir_all(state(&dir).join("worktrees/r-nobody")).unwrap();
    let doctor = loopc(&dir, &["doctor"]);
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor));
    let said = text(&doctor);
    assert!(
        said.contains(&format!("run {id} is recorded as running, but its process")),
        "{said}"
    );
    assert!(said.contains(&format!("`loopc resume {id}` continues it")), "{said}");
    assert!(
        said.contains("worktrees/r-nobody belongs to no run this state knows [orphaned-workspace]"),
        "{said}"
    );
    assert!(said.contains("2 problems"), "{said}");
    let out = loopc(&dir, &["cancel", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(status(&dir, &id)["status"], "cancelled");
    std::fs::remove_dir(state(&dir).join("worktrees/r-nobody")).unwrap();
    let doctor = loopc(&dir, &["doctor", "--format", "json"]);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor));
    let report: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(report["findings"], serde_json::json!([]), "{report}");
}

#[test]
fn a_state_database_deleted_mid_run_stops_it_with_a_clear_error() {
    let dir = setup("deleted");
    let child = start(&dir);
    running_worker(&dir);
    let db = state(&dir).join("state.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    go(&dir, 0);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("state database {} was deleted or replaced", db.display())),
        "{}",
        text(&out)
    );
}

#[test]
fn a_state_file_that_is_not_a_database_is_an_error_naming_it() {
    let dir = setup("corrupt");
    std::fs::create_dir_all(state(&dir)).unwrap();
    let db = state(&dir).join("state.db");
    std::fs::write(&db, "this is not SQLite, and it is not empty either\n".repeat(200)).unwrap();
    let before = std::fs::read(&db).unwrap();
    for args in [
        &["runs"][..],
        &["run", "spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"][..],
    ] {
        let out = loopc(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(&db.display().to_string()), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("not a loopc state database"), "{args:?}: {}", text(&out));
    }
    let out = loopc(&dir, &["doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a loopc state database"), "{}", text(&out));
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is left as it was");
    // Where nothing ran yet, doctor creates nothing.
    let empty = dir.join("no-state-yet");
    let out = support::loopc_env(&["doctor"], &dir, &[("LOOPC_STATE_DIR", empty.as_os_str())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("no state here yet"), "{}", text(&out));
    assert!(!empty.exists());
}

#[test]
fn a_signal_keeps_what_the_rest_of_a_parallel_group_finished() {
    let dir = setup("parallel");
    // A second worker in the same group, which finishes at once.
    let spec = std::fs::read_to_string(dir.join("spec.yaml")).unwrap();
    let scout = "  - id: scout\n    role: Read the target and note what looks wrong\n    model: {provider: local, name: scripted-scout}\n    inputs:\n      - from: inputs.target\n    outputs: {name: notes, format: text}\n    tools: [read_file]\n    timeout_seconds: 120\nevaluators:\n";
    std::fs::write(dir.join("spec.yaml"), spec.replacen("evaluators:\n", scout, 1)).unwrap();
    std::fs::write(
        dir.join("scout.py"),
        "import json, os, sys\njson.load(sys.stdin)\nopen(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'scout.log'), 'a').write('scouted\\n')\nprint('add() subtracts')\n",
    )
    .unwrap();
    let bindings = std::fs::read_to_string(dir.join("bindings.toml")).unwrap().replace(
        "[bind]\n",
        &format!(
            "[executors.scout]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[bind]\n\"workers.scout\" = \"scout\"\n",
            dir.join("scout.py").display()
        ),
    );
    std::fs::write(dir.join("bindings.toml"), bindings).unwrap();
    let scouted = || std::fs::read_to_string(dir.join("scout.log")).unwrap_or_default().lines().count();
    let child = start(&dir);
    let loopc_pid = child.id();
    let worker = running_worker(&dir);
    wait_until("the scout finished", || scouted() == 1);
    signal(loopc_pid, 15);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(143), "{}", text(&out));
    wait_gone(worker);
    let id = the_run(&dir);
    go(&dir, 0);
    let out = loopc(&dir, &["resume", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Two iterations: the scout ran once in each (its first call was kept),
    // the fixer three times (its first call was cut).
    assert_eq!(scouted(), 2, "{}", text(&out));
    assert_eq!(effects(&dir), (3, 2));
}

/// `[state_page]`: while the run executes, `LOOP_STATE.md` in its worktree
/// is the page `loopc status --format markdown` prints; the worker can read
/// it there, and loopc keeps it out of the snapshots and the diff-scope gate.
#[test]
fn a_run_keeps_its_state_page_current_in_its_worktree() {
    let dir = setup("state-page");
    let repo = dir.join("repo");
    support::git(&repo, &["init", "-q", "-b", "main"]);
    support::git(&repo, &["add", "-A"]);
    support::git(&repo, &["commit", "-q", "-m", "calculator"]);
    let bindings = std::fs::read_to_string(dir.join("bindings.toml")).unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!("{bindings}\n[state_page]\npath = \"LOOP_STATE.md\"\n\n[workspace]\nallowed_paths = [\"calc.py\"]\n"),
    )
    .unwrap();
    let child = start(&dir);
    running_worker(&dir);
    let id = the_run(&dir);
    let worktree = PathBuf::from(status(&dir, &id)["workspace"]["path"].as_str().unwrap());
    let page = worktree.join("LOOP_STATE.md");
    // Mid-step: the page shows the running run and its next action.
    let mid = std::fs::read_to_string(&page).expect("the page is in the worktree while the run executes");
    assert!(mid.starts_with("# Loop state: fix-calc\n"), "{mid}");
    assert!(mid.contains("| Status | **running** |"), "{mid}");
    assert!(mid.contains(&format!("`loopc pause {id}`")), "{mid}");
    go(&dir, 0);
    let out = finish(child);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["status"], "halted", "{}", text(&out));
    let reason = report[0]["reason"].as_str().unwrap();
    assert!(!reason.contains("diff_scope"), "the page is not the iteration's change: {reason}");
    // At the end: the page is exactly what `loopc status --format markdown` prints.
    let end = std::fs::read_to_string(&page).unwrap();
    let shown = loopc(&dir, &["status", &id, "--format", "markdown"]);
    assert_eq!(end, String::from_utf8_lossy(&shown.stdout), "the page is the status page");
    assert!(end.contains("| Status | **halted** —"), "{end}");
    assert!(end.contains("| 2 | "), "both iterations are listed: {end}");
    // Neither snapshot holds it; it is untracked in the worktree.
    let branch = status(&dir, &id)["workspace"]["branch"].as_str().unwrap().to_owned();
    let files = support::git(&repo, &["ls-tree", "-r", "--name-only", &branch]);
    assert!(!files.contains("LOOP_STATE.md"), "{files}");
    let log = support::git(&repo, &["log", "--format=%s", &branch]);
    assert_eq!(log.lines().filter(|l| l.starts_with("loopc: ")).count(), 2, "{log}");
}

/// A `[state_page]` path that names a file loopc did not write is left as
/// it is; the run goes on and says why once.
#[test]
fn a_state_page_path_naming_someone_elses_file_does_not_overwrite_it() {
    let dir = setup("state-page-taken");
    let notes = dir.join("notes.md");
    std::fs::write(&notes, "my notes\n").unwrap();
    let bindings = std::fs::read_to_string(dir.join("bindings.toml")).unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!("{bindings}\n[state_page]\npath = \"{}\"\n", notes.display()),
    )
    .unwrap();
    go(&dir, 0);
    let out = finish(start(&dir));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");
    let id = the_run(&dir);
    let events = status(&dir, &id)["events"].clone();
    let said: Vec<&Value> = events.as_array().unwrap().iter().filter(|e| e["kind"] == "state_page").collect();
    assert_eq!(said.len(), 1, "said once: {events}");
    assert!(
        said[0]["message"]
            .as_str()
            .unwrap()
            .contains("is not a loopc state page, so loopc leaves it as it is"),
        "{events}"
    );
}

/// Seen from another machine sharing the state (`LOOPC_HOST_ID`), a run's
/// pid means nothing: the run is held while its holder renews its
/// heartbeat, shows `interrupted` once the lease (here 1 s) expired, and
/// can then be taken over there.
#[test]
fn seen_from_another_machine_a_run_is_held_while_its_heartbeat_is_fresh() {
    let dir = setup("lease");
    let state_dir = state(&dir);
    let db = state_dir.join("state.db");
    let elsewhere = |args: &[&str]| {
        support::loopc_env(
            args,
            &dir,
            &[
                ("LOOPC_STATE_DIR", state_dir.as_os_str()),
                ("LOOPC_HOST_ID", std::ffi::OsStr::new("machine-b")),
            ],
        )
    };
    let status_elsewhere = |id: &str| -> Value { serde_json::from_slice(&elsewhere(&["status", id, "--format", "json"]).stdout).unwrap() };
    let heartbeat = || -> i64 {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT heartbeat_ms FROM runs').fetchone()[0])",
            ])
            .arg(&db)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let child = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(["run", "spec.yaml", "--bindings", "bindings.toml", "--input", "target=calc.py"])
        .current_dir(&dir)
        .env("LOOPC_STATE_DIR", &state_dir)
        .env("LOOPC_LEASE_SECONDS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let loopc_pid = child.id();
    let worker = running_worker(&dir);
    let id = the_run(&dir);
    // The holder renews its lease while its step runs.
    let first = heartbeat();
    wait_until("the heartbeat is renewed", || heartbeat() > first);
    assert_eq!(status_elsewhere(&id)["status"], "running");
    let taken = elsewhere(&["resume", &id]);
    assert_eq!(taken.status.code(), Some(2), "{}", text(&taken));
    assert!(
        text(&taken).contains(&format!("is being executed by process {loopc_pid}")),
        "{}",
        text(&taken)
    );

    signal(loopc_pid, 9);
    finish(child);
    wait_gone(worker);
    // Here its process is known to be gone: interrupted at once.
    assert_eq!(status(&dir, &id)["status"], "interrupted");
    // There: interrupted once the heartbeat is older than the lease.
    wait_until("the lease expires", || status_elsewhere(&id)["status"] == "interrupted");
    let reason = status_elsewhere(&id)["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains(&format!("its lease expired: process {loopc_pid} on ")), "{reason}");
    // machine-b takes it over and finishes it; the killed step ran again, no finished one did.
    go(&dir, 0);
    let out = elsewhere(&["resume", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(status(&dir, &id)["status"], "halted");
    assert_eq!(effects(&dir), (3, 2), "two worker calls finished, the killed one was redone");
}
