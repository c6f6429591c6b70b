//! `loopc serve`: one long-running process that starts runs when a
//! `[[schedule]]` comes due or a signed GitHub webhook arrives, and answers
//! the run list over HTTP.
//!
//! Triggers do not run anything themselves: they put an entry in the state
//! database's queue (answered `202 Accepted` only once it is there), and the
//! dispatcher executes queued entries as `loopc run` processes, at most
//! `--jobs` at once. So an accepted delivery survives a server restart, a
//! delivery GitHub sends twice runs once, and the queue is visible to
//! `GET /api/queue`. HTTP requests are served on a thread of their own, so a
//! slow client never holds up a schedule.

mod clock;
mod dispatch;
mod hooks;
mod schedules;
pub mod signature;
pub mod ui;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loopc_runtime::bindings::Bindings;
use loopc_runtime::{stop, Store};
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

pub use clock::Clock;

/// The largest webhook body read (GitHub caps payloads at 25 MB).
const MAX_BODY: u64 = 25 * 1024 * 1024;
/// How often the dispatcher looks at the clock and the queue.
const TICK: Duration = Duration::from_millis(200);
/// How long stopping runs get between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(20);
/// Threads that answer HTTP requests.
const HTTP_THREADS: usize = 8;

pub struct Options {
    /// Address to listen on (default 127.0.0.1:8787; port 0 picks a free one).
    pub listen: String,
    /// Queue entries executed at once.
    pub jobs: usize,
    pub state_dir: PathBuf,
    pub bindings: Bindings,
    /// The `loopc` executable the runs are started with.
    pub exe: PathBuf,
    pub clock: Clock,
    /// `loopc runs --format json` of a store.
    pub runs_json: fn(&Store) -> Result<String, String>,
    /// Serve the web UI, every request but the login form, `/healthz` and
    /// the signed webhook needing this token (`LOOPC_UI_TOKEN`).
    pub ui_token: Option<String>,
}

/// Serve until SIGTERM or SIGINT; `listening` is told the bound address.
/// Errors are the server's own (bad bindings, an address in use, a broken
/// state database); a failed run is recorded in the queue, not returned.
pub fn serve(options: Options, listening: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let secret = match options.bindings.hook.is_empty() {
        true => None,
        false => {
            let var = &options.bindings.webhook.secret_env;
            match std::env::var(var) {
                Ok(s) if !s.is_empty() => Some(s.into_bytes()),
                _ => {
                    return Err(format!(
                        "the bindings have [[hook]] tables but ${var} is not set: webhooks are accepted only when signed with that secret"
                    ))
                }
            }
        }
    };
    let mut schedules = schedules::Schedule::all(&options.bindings, options.clock.now())?;
    let store = Store::open(&options.state_dir).map_err(|e| e.to_string())?;
    let orphaned = store
        .interrupt_orphaned_queue(|pid| Path::new("/proc").join(pid.to_string()).exists())
        .map_err(|e| e.to_string())?;
    if orphaned > 0 {
        eprintln!("loopc serve: {orphaned} queue entries were running when their server stopped: marked interrupted (loopc runs; loopc resume RUN)");
    }
    stop::install_handlers().map_err(|e| format!("signal handlers: {e}"))?;
    let server = Server::http(&options.listen).map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("{} is not an IP address", options.listen))?;
    if !addr.ip().is_loopback() {
        let what = if options.ui_token.is_some() {
            "every page needs the token, but it travels in clear text over plain HTTP: put a TLS proxy in front"
        } else {
            "/api/runs has no authentication"
        };
        eprintln!("loopc serve: warning: listening on {addr}, reachable from other machines; {what}");
    }
    listening(addr);
    for s in &schedules {
        if let Some(next) = s.next {
            eprintln!(
                "loopc serve: schedule `{}` ({}) next due {}",
                s.name,
                s.cron.pattern,
                schedules::rfc3339(next)
            );
        }
    }

    let done = Arc::new(AtomicBool::new(false));
    let ui = match options.ui_token.clone() {
        Some(token) => Some(ui::Ui::new(token, options.exe.clone(), options.state_dir.clone())?),
        None => None,
    };
    let app = Arc::new(App {
        bindings: options.bindings.clone(),
        secret,
        runs_json: options.runs_json,
        ui,
    });
    let server = Arc::new(server);
    // A few threads take requests, each with its own connection to the
    // state: a slow client or a slow page holds up one of them, not the
    // server (nor the dispatcher, which has the main thread).
    let http: Vec<_> = (0..HTTP_THREADS)
        .map(|_| {
            let (done, server, app, state_dir) = (Arc::clone(&done), Arc::clone(&server), Arc::clone(&app), options.state_dir.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let store = Store::open(&state_dir).map_err(|e| e.to_string())?;
                while !done.load(Ordering::SeqCst) {
                    match server.recv_timeout(TICK) {
                        Ok(Some(request)) => {
                            // A bug in one page must not take the server down with it.
                            let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.handle(&store, request)));
                            if answered.is_err() {
                                eprintln!("loopc serve: a request handler panicked; its connection was dropped");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return Err(format!("accepting a connection: {e}")),
                    }
                }
                Ok(())
            })
        })
        .collect();

    let mut dispatcher = dispatch::Dispatcher::new(options.exe.clone(), options.state_dir.clone(), options.jobs.max(1));
    let mut result = Ok(());
    while stop::signal().is_none() && !http.iter().any(std::thread::JoinHandle::is_finished) {
        let now = options.clock.now();
        for s in &mut schedules {
            if let Some(due) = s.due(now) {
                match store.enqueue(&format!("schedule:{}", s.name), &due, &s.request) {
                    Ok(Some(id)) => eprintln!("loopc serve: schedule `{}` due {due}: enqueued {id}", s.name),
                    Ok(None) => eprintln!("loopc serve: schedule `{}` due {due}: already enqueued", s.name),
                    Err(e) => eprintln!("loopc serve: schedule `{}` due {due}: {e}", s.name),
                }
            }
        }
        if let Err(e) = dispatcher.tick(&store) {
            result = Err(e);
            break;
        }
        std::thread::sleep(TICK);
    }
    if let Some(signal) = stop::signal() {
        eprintln!(
            "loopc serve: {}: stopping {} running job(s)",
            stop::signal_name(signal),
            dispatcher.running()
        );
    }
    done.store(true, Ordering::SeqCst);
    let stopped = dispatcher.stop(&store, GRACE);
    let served = http
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|_| Err("an HTTP thread panicked".to_owned())))
        .collect::<Result<Vec<()>, String>>()
        .map(|_| ());
    result.and(stopped).and(served)
}

struct App {
    bindings: Bindings,
    secret: Option<Vec<u8>>,
    runs_json: fn(&Store) -> Result<String, String>,
    ui: Option<ui::Ui>,
}

impl App {
    fn handle(&self, store: &Store, mut request: Request) {
        let path = request.url().split('?').next().unwrap_or("").to_owned();
        if let Some(ui) = &self.ui {
            // The webhook is signed, the health check says nothing, the login form is how one gets the token in.
            let public = matches!(path.as_str(), "/login" | "/healthz" | "/hooks/github");
            if !public && !ui.auth().admits(&request) {
                return ui::unauthorized(ui, request);
            }
            request = match ui.handle(store, request) {
                Some(theirs) => theirs,
                None => return,
            };
        }
        let (status, body) = match (request.method(), path.as_str()) {
            (Method::Get, "/healthz") => (200, json!({"ok": true})),
            (Method::Get, "/api/runs") => match (self.runs_json)(store) {
                Ok(text) => return respond(request, 200, text),
                Err(e) => (500, json!({"error": e})),
            },
            (Method::Get, "/api/queue") => match store.queue() {
                Ok(entries) => (200, json!(entries)),
                Err(e) => (500, json!({"error": e.to_string()})),
            },
            (Method::Post, "/hooks/github") => self.github(store, &mut request),
            (_, "/healthz" | "/api/runs" | "/api/queue" | "/hooks/github") => {
                (405, json!({"error": format!("{} {path}: method not allowed", request.method())}))
            }
            _ => (404, json!({"error": format!("no such endpoint: {path}")})),
        };
        respond(request, status, serde_json::to_string_pretty(&body).unwrap_or_default());
    }

    /// `POST /hooks/github`: verify, map the event to `[[hook]]`s, enqueue.
    fn github(&self, store: &Store, request: &mut Request) -> (u16, Value) {
        let Some(secret) = &self.secret else {
            return (404, json!({"error": "no [[hook]] in the bindings"}));
        };
        if request.body_length().is_some_and(|n| n as u64 > MAX_BODY) {
            return (413, json!({"error": "payload too large"}));
        }
        let mut body = Vec::new();
        if let Err(e) = request.as_reader().take(MAX_BODY + 1).read_to_end(&mut body) {
            return (400, json!({"error": format!("reading the body: {e}")}));
        }
        if body.len() as u64 > MAX_BODY {
            return (413, json!({"error": "payload too large"}));
        }
        let header = |name: &'static str| {
            request
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_owned())
        };
        if !signature::verify(secret, &body, header("X-Hub-Signature-256").as_deref()) {
            eprintln!("loopc serve: refused a webhook: bad or missing X-Hub-Signature-256");
            return (401, json!({"error": "bad or missing X-Hub-Signature-256"}));
        }
        let Some(event) = header("X-GitHub-Event") else {
            return (400, json!({"error": "no X-GitHub-Event header"}));
        };
        if event == "ping" {
            return (200, json!({"ok": true, "event": "ping"}));
        }
        let payload: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return (400, json!({"error": format!("the body is not JSON: {e}")})),
        };
        let delivery = header("X-GitHub-Delivery").unwrap_or_else(|| sha256_hex(&body));
        let requests = match hooks::requests(&self.bindings, &event, &payload) {
            Ok(r) => r,
            Err(e) => return (422, json!({"error": e})),
        };
        if requests.is_empty() {
            return (
                200,
                json!({"enqueued": [], "ignored": format!("no [[hook]] for event `{event}` with this action")}),
            );
        }
        let mut enqueued = Vec::new();
        let mut repeated = Vec::new();
        for (n, req) in requests {
            match store.enqueue(&format!("hook:{event}"), &format!("{delivery}#{}", n + 1), &req) {
                Ok(Some(id)) => {
                    eprintln!("loopc serve: webhook `{event}` delivery {delivery}: enqueued {id}");
                    enqueued.push(id);
                }
                Ok(None) => repeated.push(n + 1),
                Err(e) => return (500, json!({"error": e.to_string()})),
            }
        }
        let status = if enqueued.is_empty() { 200 } else { 202 };
        (status, json!({"enqueued": enqueued, "already_enqueued_hooks": repeated}))
    }
}

fn respond(request: Request, status: u16, body: String) {
    let header = Header::from_bytes("Content-Type", "application/json").expect("a valid header");
    let response = Response::from_string(body).with_status_code(status).with_header(header);
    // A client that went away is its own problem, not the server's.
    let _ = request.respond(response);
}

fn sha256_hex(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

/// `path` of the bindings, against the bindings' directory.
fn resolve(bindings: &Bindings, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        bindings.base_dir.join(path)
    }
}
