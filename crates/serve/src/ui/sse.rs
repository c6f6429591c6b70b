//! `GET /runs/RUN/events`: a run's progress as Server-Sent Events, on a
//! thread of its own (a stream lasts as long as the run executes).
//!
//! What the store records is what is streamed: `step_started` when the
//! run marks steps under way, `step_finished` for each committed step (with
//! an evaluator's verdict and score), `event` for the run's events, `spend`
//! and `status` when they change, and `end` once the run has stopped
//! executing (ended, waiting, paused or interrupted) and nothing is left
//! to send. The client (EventSource) reconnects by itself after a drop;
//! each stream starts from the run's beginning, so nothing is missed.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loopc_runtime::store::Status;
use loopc_runtime::Store;
use serde_json::{json, Value};
use tiny_http::Request;

/// Streams open at once; more are refused (`503`) rather than each taking a thread.
const MAX_STREAMS: usize = 64;
static STREAMS: AtomicUsize = AtomicUsize::new(0);

/// How often the store is read for news.
const POLL: Duration = Duration::from_millis(250);
/// A comment line this often keeps proxies from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Stream run `run`'s progress to `request` until the run stops executing
/// or the client goes away.
pub fn stream(request: Request, state_dir: PathBuf, run: String) {
    if STREAMS.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        STREAMS.fetch_sub(1, Ordering::SeqCst);
        let _ = request.respond(tiny_http::Response::from_string("too many live streams; try again").with_status_code(503));
        return;
    }
    std::thread::spawn(move || {
        // Counted out however the stream ends.
        struct Open;
        impl Drop for Open {
            fn drop(&mut self) {
                STREAMS.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _open = Open;
        let mut out = request.into_writer();
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
        if out.write_all(head.as_bytes()).and_then(|()| out.flush()).is_err() {
            return;
        }
        let store = match Store::open(&state_dir) {
            Ok(s) => s,
            Err(e) => {
                let _ = send(&mut out, "error", &json!({"error": e.to_string()}));
                return;
            }
        };
        let _ = Progress::default().follow(&store, &run, &mut out);
    });
}

/// What the stream has sent so far.
#[derive(Default)]
struct Progress {
    steps: HashSet<(u32, String, String)>,
    events: usize,
    under_way: Option<Value>,
    spend: Option<(u64, u64)>,
    status: Option<(Status, String)>,
}

impl Progress {
    fn follow(mut self, store: &Store, run: &str, out: &mut dyn Write) -> std::io::Result<()> {
        let mut quiet_since = Instant::now();
        loop {
            let row = match store.run(run).and_then(|r| r.map(|r| store.observed(r)).transpose()) {
                Ok(Some(row)) => row,
                Ok(None) => return send(out, "error", &json!({"error": format!("no run {run}")})),
                Err(e) => return send(out, "error", &json!({"error": e.to_string()})),
            };
            let mut sent = false;
            if let Ok(Some(now)) = store.under_way(run) {
                let value = json!({"iteration": now.iteration, "steps": now.steps, "since": now.since});
                if self.under_way.as_ref() != Some(&value) {
                    send(out, "step_started", &value)?;
                    self.under_way = Some(value);
                    sent = true;
                }
            }
            for (iteration, step, record) in store.steps_of(run).unwrap_or_default() {
                let key = (iteration, step.clone(), record.status.as_str().to_owned());
                if self.steps.insert(key) {
                    send(
                        out,
                        "step_finished",
                        &json!({
                            "iteration": iteration,
                            "step": step,
                            "status": record.status.as_str(),
                            "attempts": record.attempts,
                            "seconds": record.seconds,
                            "cost_usd": record.cost_usd,
                            "passed": record.result.get("passed"),
                            "score": record.result.get("score"),
                        }),
                    )?;
                    sent = true;
                }
            }
            let events = store.events(run).unwrap_or_default();
            for (iteration, kind, message) in events.iter().skip(self.events) {
                send(out, "event", &json!({"iteration": iteration, "kind": kind, "message": message}))?;
                sent = true;
            }
            self.events = events.len();
            // Compared as bits: a float that did not change is the same bits.
            let spend = (row.cost_usd.to_bits(), row.tokens);
            if self.spend != Some(spend) {
                send(out, "spend", &json!({"cost_usd": row.cost_usd, "tokens": row.tokens}))?;
                self.spend = Some(spend);
                sent = true;
            }
            let status = (row.status, row.reason.clone());
            if self.status.as_ref() != Some(&status) {
                send(out, "status", &json!({"status": row.status, "reason": row.reason}))?;
                self.status = Some(status);
                sent = true;
            }
            let executing = row.status == Status::Running && store.holder(run).ok().flatten().is_some();
            if !executing && !sent {
                return send(out, "end", &json!({"status": row.status}));
            }
            if sent {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= KEEPALIVE {
                out.write_all(b": still running\n\n")?;
                out.flush()?;
                quiet_since = Instant::now();
            }
            std::thread::sleep(POLL);
        }
    }
}

fn send(out: &mut dyn Write, event: &str, data: &Value) -> std::io::Result<()> {
    // JSON has no raw newline, so one `data:` line carries it whole.
    write!(out, "event: {event}\ndata: {data}\n\n")?;
    out.flush()
}
