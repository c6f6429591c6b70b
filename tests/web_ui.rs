//! `loopc serve --ui` in a real browser (issue 14): Debian's headless
//! Chromium, driven by playwright-core (tests/webui, pinned by its
//! package-lock.json), logs in with the token, finds the waiting run in
//! "Needs a person", reads its phase graph (an SVG with as many nodes as
//! `loopc diagram --format json` has), rejects it with a note using the
//! keyboard only and sees the run end rejected; then watches a run started
//! during the test stream its steps live (Server-Sent Events). Requests
//! without the token get 401; the pool page lists a pool's items.
//!
//! Needs `node`, the npm registry on first run (`npm ci` in tests/webui),
//! and Chromium at /usr/bin/chromium (`.ci/run` installs Debian's
//! `chromium` when it is missing; `CHROMIUM` names another).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const TOKEN: &str = "test-token-0123456789abcdef";

/// Works on its ticket: on `one` it writes `notes.txt` (a change on the
/// run's branch), on `live` it takes long enough for the browser to open
/// the run's page while it is under way.
const WORKER: &str = "import json, sys, time\ninv = json.load(sys.stdin)\nticket = inv['payload']['inputs'].get('inputs.ticket')\ntime.sleep(5 if ticket == 'live' else 0.2)\ncalls = [{'tool': 'write_file', 'args': {'path': 'notes.txt', 'content': 'looked at it\\n'}}] if ticket == 'one' else []\nprint(json.dumps({'output': 'worked on ' + str(ticket), 'tool_calls': calls}))\n";

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The calculator in a git repository, a spec with a ticket input (and,
/// in `gated.yaml`, a person's sign-off on the worker's output), and
/// bindings for the worker above and an evaluator that passes.
fn setup() -> PathBuf {
    let dir = support::calc_workdir("web-ui");
    let _ = std::fs::remove_dir_all(dir.with_extension("state"));
    let repo = dir.join("repo");
    support::git(&repo, &["init", "-q", "-b", "main"]);
    support::git(&repo, &["add", "-A"]);
    support::git(&repo, &["commit", "-q", "-m", "calculator"]);
    std::fs::write(dir.join("worker.py"), WORKER).unwrap();
    std::fs::write(dir.join("pass.py"), "import sys\nsys.exit(0)\n").unwrap();
    let spec = support::convergence_spec_with_input("ticket", "The work item").replace("retries: 1", "retries: 0");
    std::fs::write(dir.join("spec.yaml"), &spec).unwrap();
    std::fs::write(
        dir.join("gated.yaml"),
        spec.replace(
            "safety_constraints:\n",
            "safety_constraints:\n  - {id: maintainer-signoff, type: human_gate, scope: pre_output, applies_to: [fixer], action: escalate_human}\n",
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("bindings.toml"),
        format!(
            "[sandbox]\nroot = \"repo\"\nisolation = \"none\"\n\n[executors.worker]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[executors.tests]\nkind = \"command\"\nargv = [\"python3\", \"{}\"]\n\n[bind]\n\"workers.fixer\" = \"worker\"\n\"impl:evaluators.unit_tests\" = \"tests\"\n",
            dir.join("worker.py").display(),
            dir.join("pass.py").display()
        ),
    )
    .unwrap();
    dir
}

/// A path as the pages write it (HTML-escaped: `/` is `&#x2f;`).
fn html_path(path: &str) -> String {
    path.replace('/', "&#x2f;")
}

fn loopc(dir: &Path, args: &[&str]) -> Output {
    support::loopc_env(args, dir, &[("LOOPC_STATE_DIR", dir.with_extension("state").as_os_str())])
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let (child, url) = support::start_serve(
            dir,
            &["--ui", "--listen", "127.0.0.1:0", "--bindings", "bindings.toml"],
            &[("LOOPC_UI_TOKEN", TOKEN)],
        );
        Server { child, url }
    }

    /// `curl` of `path`: (HTTP status, body), with `headers`.
    fn get(&self, path: &str, headers: &[&str]) -> (u16, String) {
        let mut args = vec![
            "-sS".to_owned(),
            "--max-time".to_owned(),
            "20".to_owned(),
            "-w".to_owned(),
            "\n%{http_code}".to_owned(),
        ];
        for h in headers {
            args.extend(["-H".to_owned(), (*h).to_owned()]);
        }
        args.push(format!("{}{path}", self.url));
        let out = Command::new("curl").args(&args).output().expect("curl runs");
        assert!(out.status.success(), "curl {path}: {}", text(&out));
        let all = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = all.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Chromium, and tests/webui's node_modules (installed once per run).
fn browser_ready() -> PathBuf {
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: tests/web_ui.rs drives Debian's headless Chromium (apt-get install chromium; .ci/run does it), or set CHROMIUM",
        chromium.display()
    );
    let dir = support::repo().join("tests/webui");
    if !support::npm_pins_installed(&dir) {
        support::npm_ci(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
    chromium
}

/// Run tests/webui/drive.mjs with `config`: what it saw.
fn drive(chromium: &Path, config: &Value) -> Value {
    let out = Command::new("node")
        .arg("drive.mjs")
        .arg(config.to_string())
        .current_dir(support::repo().join("tests/webui"))
        .env("CHROMIUM", chromium)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "drive.mjs {config}: {}", text(&out));
    let last = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("drive.mjs printed {last:?}: {e}; {}", text(&out)))
}

#[test]
fn a_person_reviews_and_rejects_a_waiting_run_and_watches_another_live() {
    let chromium = browser_ready();
    let dir = setup();
    let shots = dir.join("shots");
    std::fs::create_dir_all(&shots).unwrap();

    // A pool of two items, then a run that waits for a person.
    std::fs::write(
        dir.join("items.jsonl"),
        "{\"id\": \"T1\", \"ticket\": \"one\"}\n{\"id\": \"T2\", \"ticket\": \"two\"}\n",
    )
    .unwrap();
    let pool = loopc(
        &dir,
        &[
            "run",
            "spec.yaml",
            "--bindings",
            "bindings.toml",
            "--items",
            "items.jsonl",
            "--input",
            "target=calc.py",
            "--format",
            "json",
        ],
    );
    assert_eq!(pool.status.code(), Some(0), "{}", text(&pool));
    let pool_id = serde_json::from_slice::<Value>(&pool.stdout).unwrap()["pool_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = loopc(
        &dir,
        &[
            "run",
            "gated.yaml",
            "--bindings",
            "bindings.toml",
            "--input",
            "target=calc.py",
            "--input",
            "ticket=review",
            "--format",
            "json",
        ],
    );
    assert_eq!(waiting.status.code(), Some(3), "{}", text(&waiting));
    let run = serde_json::from_slice::<Value>(&waiting.stdout).unwrap()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let server = Server::start(&dir);
    // Without the token: 401, for pages and the API alike; with it, the API is `loopc runs`.
    assert_eq!(server.get("/", &[]).0, 401);
    assert_eq!(server.get("/api/runs", &[]).0, 401);
    assert_eq!(
        server
            .get(&format!("/runs/{run}"), &["Authorization: Bearer wrong-token-0123456789"])
            .0,
        401
    );
    let bearer = format!("Authorization: Bearer {TOKEN}");
    let (code, api) = server.get("/api/runs", &[&bearer]);
    assert_eq!(code, 200);
    assert_eq!(api, String::from_utf8_lossy(&loopc(&dir, &["runs", "--format", "json"]).stdout));
    let (code, page) = server.get(&format!("/pools/{pool_id}"), &[&bearer]);
    assert_eq!(code, 200);
    assert!(
        page.contains(">T1<") && page.contains(">T2<") && page.contains("2 succeeded"),
        "{page}"
    );
    // T1's run changed notes.txt on its branch: its page shows the branch and the diff.
    let report: Value = serde_json::from_slice(&pool.stdout).unwrap();
    let t1 = report["items"].as_array().unwrap().iter().find(|i| i["id"] == "T1").unwrap();
    let (code, page) = server.get(&format!("/runs/{}", t1["run_id"].as_str().unwrap()), &[&bearer]);
    assert_eq!(code, 200);
    assert!(page.contains("Changes on the branch") && page.contains("notes.txt | 1 +"), "{page}");
    assert!(page.contains(&html_path(t1["branch"].as_str().unwrap())), "{page}");
    // Its trace downloads as the Loop Trace loopc wrote.
    let (code, trace) = server.get(&format!("/runs/{}/trace.json", t1["run_id"].as_str().unwrap()), &[&bearer]);
    assert_eq!(code, 200);
    let trace: Value = serde_json::from_str(&trace).unwrap();
    assert_eq!(trace["loop_id"], t1["run_id"], "{trace}");
    // A decision without the form's CSRF value is refused, and changes nothing.
    let forged = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            &bearer,
            "--data",
            "decision=approve",
        ])
        .arg(format!("{}/runs/{run}/decision", server.url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&forged.stdout), "403");

    // A login's `next` never becomes a header of someone else's choosing.
    let login = Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "--data"])
        .arg(format!("token={TOKEN}&next=/%0D%0ASet-Cookie:%20evil=1"))
        .arg(format!("{}/login", server.url))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&login.stdout).to_lowercase();
    assert!(head.contains("location: /\r\n") && !head.contains("evil=1"), "{head}");
    // A client that sends half a body holds up one request thread, not the server.
    let mut slow = std::net::TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(
        &mut slow,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\ntoken=",
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(server.get("/healthz", &[]).0, 200);
    assert!(started.elapsed() < Duration::from_secs(5), "/healthz waited for the slow client");
    drop(slow);

    let graph: Value = serde_json::from_slice(&loopc(&dir, &["diagram", "gated.yaml", "--format", "json"]).stdout).unwrap();
    // Drawn: every node of the phase graph but an optimizer that nothing
    // feeds and that refines nothing (as tests/diagram_mermaid.rs counts).
    let edges = graph["edges"].as_array().expect("the graph's edges");
    let nodes = graph["nodes"]
        .as_array()
        .expect("the graph's nodes")
        .iter()
        .filter(|n| n["kind"] != "optimizer" || edges.iter().any(|e| e["from"] == n["id"] || e["to"] == n["id"]))
        .count();
    assert!(nodes >= 6, "{graph}");
    let note = "the fix edits the tests";
    let seen = drive(
        &chromium,
        &serde_json::json!({"phase": "review", "url": server.url, "token": TOKEN, "run": run, "pool": pool_id, "shots": shots, "note": note}),
    );
    assert_eq!(seen["unauthenticated_status"], 401, "{seen}");
    assert_eq!(seen["runs_heading"], "Runs", "{seen}");
    assert_eq!(seen["queue_without_js_has_form"], true, "{seen}");
    assert_eq!(seen["queue_lists_run"], true, "{seen}");
    assert_eq!(seen["diagram_nodes"], nodes, "the SVG has the graph's {nodes} nodes: {seen}");
    assert_eq!(
        (seen["first_button"].as_str(), seen["second_button"].as_str()),
        (Some("Approve"), Some("Reject with this note"))
    );
    assert_eq!(seen["final_status"], "rejected", "{seen}");
    assert!(seen["final_reason"].as_str().unwrap().contains(note), "{seen}");
    let status: Value = serde_json::from_slice(&loopc(&dir, &["status", &run, "--format", "json"]).stdout).unwrap();
    assert_eq!(status["status"], "rejected");
    assert!(status["reason"].as_str().unwrap().ends_with(note), "{status}");
    for name in ["runs", "queue", "run", "pool", "run-rejected"] {
        for scheme in ["light", "dark"] {
            let png = shots.join(format!("{name}-{scheme}.png"));
            assert!(
                std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000),
                "{} was not taken",
                png.display()
            );
        }
    }

    // A run started now: the browser sees its steps start and finish.
    let mut live_run = Command::new(env!("CARGO_BIN_EXE_loopc"))
        .args([
            "run",
            "spec.yaml",
            "--bindings",
            "bindings.toml",
            "--input",
            "target=calc.py",
            "--input",
            "ticket=live",
            "--quiet",
        ])
        .current_dir(&dir)
        .env("LOOPC_STATE_DIR", dir.with_extension("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The pool's two runs and the rejected one are there already: the fourth is it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let live_id = loop {
        let runs: Value = serde_json::from_slice(&loopc(&dir, &["runs", "--format", "json"]).stdout).unwrap_or(Value::Null);
        if let Some(id) = runs.as_array().filter(|r| r.len() == 4).and_then(|r| r[3]["run_id"].as_str()) {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "the live run was not recorded");
        std::thread::sleep(Duration::from_millis(20));
    };
    let seen = drive(
        &chromium,
        &serde_json::json!({"phase": "live", "url": server.url, "token": TOKEN, "run": live_id, "shots": shots}),
    );
    assert!(live_run.wait().unwrap().success());
    let lines: Vec<&str> = seen["live"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(has("iteration 1: started workers.fixer"), "{lines:#?}");
    assert!(has("iteration 1: workers.fixer done"), "{lines:#?}");
    assert!(has("iteration 1: evaluators.tests done passed"), "{lines:#?}");
    assert!(has("status: succeeded"), "{lines:#?}");
    assert!(lines.last().unwrap().contains("the run stopped executing"), "{lines:#?}");
    assert!(shots.join("live-light.png").exists());
}
