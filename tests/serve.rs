//! `loopc serve` (issue 13 §5), driven as a supervisor and GitHub would:
//! started as a process on a free port, sent webhooks with curl, signed by
//! Python's own `hmac` module, its schedule run on a clock that starts two
//! seconds before it is due, stopped by SIGTERM.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const SECRET: &str = "It's a Secret to Everybody";
/// A Monday, three seconds before the schedule's 08:00.
const CLOCK: &str = "2026-12-07T07:59:57Z";

const WORKER: &str = "import json, os, sys, time\ninv = json.load(sys.stdin)\n\
if inv['payload']['inputs']['inputs.title'] == 'slow':\n    time.sleep(60)\n\
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'worked.log'), 'a').write(inv['payload']['inputs']['inputs.title'] + '\\n')\n\
print('worked')\n";

/// The convergence spec with a `title` input, a worker that logs it, a
/// passing evaluator, and bindings with one `[[hook]]` and one `[[schedule]]`.
fn setup(name: &str) -> PathBuf {
    let dir = support::calc_workdir(&format!("serve/{name}"));
    let _ = std::fs::remove_dir_all(dir.with_extension("state"));
    let _ = std::fs::remove_file(dir.join("worked.log"));
    std::fs::write(dir.join("worker.py"), WORKER).unwrap();
    std::fs::write(dir.join("pass.py"), "import sys\nsys.exit(0)\n").unwrap();
    std::fs::write(
        dir.join("spec.yaml"),
        support::convergence_spec_with_input("title", "What to work on"),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!(
            "[sandbox]\nroot = \"repo\"\nisolation = \"none\"\n\n[pool]\nid = \"number\"\n\n\
             [[hook]]\nevent = \"issues\"\nactions = [\"opened\"]\nspec = \"spec.yaml\"\nitems = \"issue\"\ninputs = {{ target = \"calc.py\" }}\n\n\
             [[schedule]]\nname = \"morning\"\ncron = \"0 8 * * 1-5\"\nspec = \"spec.yaml\"\ninputs = {{ target = \"calc.py\", title = \"morning sweep\" }}\n\n\
             [executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n\
             [bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.unit_tests\" = \"tests\"\n",
            dir.join("worker.py").display(),
            dir.join("pass.py").display()
        ),
    )
    .unwrap();
    dir
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let (child, url) = support::start_serve(
            dir,
            &["--listen", "127.0.0.1:0", "--bindings", "bindings.toml", "--clock-start", CLOCK],
            &[("LOOPC_WEBHOOK_SECRET", SECRET)],
        );
        Server { child, url }
    }

    fn get(&self, path: &str) -> Value {
        let out = curl(&[&format!("{}{path}", self.url)]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{path}: {e}: {}", text(&out)))
    }

    /// POST `body` as GitHub would, signed with `secret`: (status, response).
    fn deliver(&self, event: &str, delivery: &str, body: &str, secret: &str) -> (u16, Value) {
        let signature = sign(secret, body);
        let out = curl(&[
            "-X",
            "POST",
            "-w",
            "\n%{http_code}",
            "-H",
            "Content-Type: application/json",
            "-H",
            &format!("X-GitHub-Event: {event}"),
            "-H",
            &format!("X-GitHub-Delivery: {delivery}"),
            "-H",
            &format!("X-Hub-Signature-256: {signature}"),
            "--data-binary",
            body,
            &format!("{}/hooks/github", self.url),
        ]);
        let all = String::from_utf8_lossy(&out.stdout).into_owned();
        let (json, code) = all.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), serde_json::from_str(json).unwrap_or(Value::Null))
    }

    /// SIGTERM, and the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "loopc serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(args: &[&str]) -> Output {
    let out = Command::new("curl").arg("-sS").args(args).output().expect("curl runs");
    assert!(out.status.success(), "curl {args:?}: {}", text(&out));
    out
}

/// GitHub's signature, computed by Python's standard library.
fn sign(secret: &str, body: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print('sha256=' + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            secret,
            body,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn entries<'a>(queue: &'a Value, source: &str) -> Vec<&'a Value> {
    queue.as_array().unwrap().iter().filter(|e| e["source"] == source).collect()
}

/// Poll `GET /api/queue` until `done` holds of it.
fn wait_for(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let queue = server.get("/api/queue");
        if done(&queue) {
            return queue;
        }
        assert!(Instant::now() < deadline, "{what}: {queue:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const OPENED: &str = r#"{"action":"opened","issue":{"number":42,"title":"add subtracts","labels":[{"name":"bug"}]}}"#;

#[test]
fn a_signed_webhook_enqueues_one_run_a_bad_signature_nothing_and_the_schedule_fires_once() {
    let dir = setup("hooks");
    let server = Server::start(&dir);
    assert_eq!(server.get("/healthz")["ok"], true);

    let (code, body) = server.deliver("issues", "d-1", OPENED, "not the secret");
    assert_eq!(code, 401, "{body}");
    let (code, body) = server.deliver("issues", "d-1", &OPENED.replace("42", "43"), SECRET);
    // Signed over other bytes than were sent? No: signed right, but for 43; a
    // tampered body with the old signature is refused below.
    assert_eq!(code, 202, "{body}");
    let tampered = OPENED.replace("add subtracts", "rm -rf");
    let out = curl(&[
        "-X",
        "POST",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        "X-GitHub-Event: issues",
        "-H",
        &format!("X-Hub-Signature-256: {}", sign(SECRET, OPENED)),
        "--data-binary",
        &tampered,
        &format!("{}/hooks/github", server.url),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    let queue = server.get("/api/queue");
    assert_eq!(entries(&queue, "hook:issues").len(), 1, "only the signed delivery: {queue:#}");

    // GitHub redelivers: the same delivery id runs once.
    let (code, body) = server.deliver("issues", "d-1", &OPENED.replace("42", "43"), SECRET);
    assert_eq!((code, &body["enqueued"]), (200, &serde_json::json!([])), "{body}");
    // Another action of the event is no hook's.
    let (code, body) = server.deliver("issues", "d-2", &OPENED.replace("opened", "closed"), SECRET);
    assert_eq!(code, 200, "{body}");
    assert_eq!(server.deliver("ping", "d-3", "{}", SECRET).0, 200);

    // The hook's run, and the schedule's at 08:00 on the server's clock.
    let queue = wait_for(&server, "both finished", |q| {
        let finished = |source| entries(q, source).iter().filter(|e| e["state"] == "finished").count();
        finished("hook:issues") == 1 && finished("schedule:morning") == 1
    });
    let morning = entries(&queue, "schedule:morning");
    assert_eq!(morning[0]["delivery"], "2026-12-07T08:00:00Z");
    for e in queue.as_array().unwrap() {
        assert_eq!(e["exit_code"], 0, "{e:#}");
    }
    let runs = server.get("/api/runs");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{runs:#?}");
    assert!(
        runs.iter().any(|r| r["item_id"] == "43"),
        "the webhook's issue is the pool item: {runs:#?}"
    );
    // `GET /api/runs` is `loopc runs --format json`.
    let cli = support::loopc_env(
        &["runs", "--format", "json"],
        &dir,
        &[("LOOPC_STATE_DIR", dir.with_extension("state").as_os_str())],
    );
    assert_eq!(serde_json::from_slice::<Value>(&cli.stdout).unwrap(), Value::Array(runs.clone()));
    let mut worked: Vec<String> = std::fs::read_to_string(dir.join("worked.log"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    worked.sort();
    assert_eq!(worked, ["add subtracts", "morning sweep"]);

    // A little later the schedule has still fired once.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(entries(&server.get("/api/queue"), "schedule:morning").len(), 1);
    let status = server.stop();
    assert!(
        status.success(),
        "{status:?}: {}",
        std::fs::read_to_string(dir.join("serve.log")).unwrap()
    );

    // Restarted on the same clock, the 08:00 slot is not run a second time.
    let server = Server::start(&dir);
    std::thread::sleep(Duration::from_secs(5));
    let queue = server.get("/api/queue");
    assert_eq!(entries(&queue, "schedule:morning").len(), 1, "{queue:#}");
    assert!(server.stop().success());
    let log = std::fs::read_to_string(dir.join("serve.log")).unwrap();
    assert!(log.contains("already enqueued"), "{log}");
}

#[test]
fn hooks_without_a_secret_do_not_start_and_other_endpoints_say_no() {
    let dir = setup("no-secret");
    let out = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args(["serve", "--listen", "127.0.0.1:0", "--bindings", "bindings.toml"])
        .env("LOOPC_STATE_DIR", dir.with_extension("state"))
        .env_remove("LOOPC_WEBHOOK_SECRET")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("$LOOPC_WEBHOOK_SECRET is not set"), "{}", text(&out));

    let server = Server::start(&dir);
    let out = curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{}/nothing", server.url)]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
    let out = curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{}/hooks/github", server.url)]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "405");
    let (code, _) = server.deliver("issues", "x", "not json", SECRET);
    assert_eq!(code, 400);
    assert!(server.stop().success());
}

#[test]
fn sigterm_stops_a_running_job_and_marks_it_and_its_run_interrupted() {
    let dir = setup("sigterm");
    let server = Server::start(&dir);
    let (code, body) = server.deliver("issues", "slow-1", &OPENED.replace("add subtracts", "slow"), SECRET);
    assert_eq!(code, 202, "{body}");
    let state = dir.with_extension("state");
    let env = [("LOOPC_STATE_DIR", state.as_os_str())];
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until the hook's run is in its (sleeping) worker step.
    loop {
        let out = support::loopc_env(&["runs", "--format", "json"], &dir, &env);
        let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if runs.as_array().is_some_and(|r| r.iter().any(|r| r["status"] == "running")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no run started: {}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Instant::now();
    assert!(server.stop().success());
    assert!(stopped.elapsed() < Duration::from_secs(15), "it did not wait for the 60 s step");
    let out = support::loopc_env(&["runs", "--format", "json"], &dir, &env);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hook_run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["item_id"] == "42")
        .expect("the hook's run");
    assert_eq!(hook_run["status"], "interrupted", "{runs:#}");
    // The sleeping worker went with it.
    let left = Command::new("pgrep")
        .args(["-f", &dir.join("worker.py").display().to_string()])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "left running: {}", text(&left));
    // The next server finds the entry interrupted, not running.
    let server = Server::start(&dir);
    let queue = server.get("/api/queue");
    let hook = entries(&queue, "hook:issues");
    assert_eq!(hook[0]["state"], "interrupted", "{queue:#}");
    assert!(server.stop().success());
}
