//! The pages: what each reads from the store and hands its template.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use loopc_runtime::gate::Gate;
use loopc_runtime::pool::report::PoolReport;
use loopc_runtime::status::{RunLine, RunStatus};
use loopc_runtime::store::{Decision, QueueRequest, RunRow, Status};
use loopc_runtime::Store;
use serde_json::{json, Value};
use tiny_http::{Request, Response};

use super::{get, redirect, Page, Ui};

/// Every status a run can have, for the filter.
const STATUSES: &[&str] = &[
    "running",
    "awaiting_human",
    "paused",
    "interrupted",
    "succeeded",
    "halted",
    "rejected",
    "cancelled",
];

/// `GET /`: the runs, newest first, filtered by status, loop and text.
pub fn runs(ui: &Ui, store: &Store, query: &[(String, String)]) -> Page {
    let lines = match RunLine::list(store) {
        Ok(l) => l,
        Err(e) => return Page::Html(500, ui.error_page(store, "The state cannot be read", &e.to_string())),
    };
    let (status, loop_name, q) = (get(query, "status"), get(query, "loop"), get(query, "q").to_lowercase());
    let mut loops: Vec<&str> = lines.iter().map(|l| l.loop_name.as_str()).collect();
    loops.sort_unstable();
    loops.dedup();
    let count = |f: &dyn Fn(Status) -> bool| lines.iter().filter(|l| f(l.status)).count();
    let counts = json!({
        "succeeded": count(&|s| s == Status::Succeeded),
        "failed": count(&|s| matches!(s, Status::Halted | Status::Rejected | Status::Cancelled)),
        "waiting": count(&|s| matches!(s, Status::AwaitingHuman | Status::Paused)),
        "running": count(&|s| s == Status::Running),
    });
    let now = chrono::Utc::now();
    let shown: Vec<Value> = lines
        .iter()
        .rev()
        .filter(|l| status.is_empty() || l.status.as_str() == status)
        .filter(|l| loop_name.is_empty() || l.loop_name == loop_name)
        .filter(|l| {
            q.is_empty()
                || [Some(&l.run_id), Some(&l.reason), l.item_id.as_ref(), l.pool_id.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|t| t.to_lowercase().contains(&q))
        })
        .map(|l| {
            let mut v = json!(l);
            v["age"] = age(&l.created_at, now).into();
            v
        })
        .collect();
    let queue: Vec<Value> = store
        .queue()
        .unwrap_or_default()
        .into_iter()
        .rev()
        .take(20)
        .map(|e| json!(e))
        .collect();
    Page::Html(
        200,
        ui.page(
            store,
            "runs.html",
            "runs",
            json!({
                "runs": shown,
                "total": lines.len(),
                "counts": counts,
                "loops": loops,
                "statuses": STATUSES,
                "filter": {"status": status, "loop": loop_name, "q": get(query, "q")},
                "queue": queue,
            }),
        ),
    )
}

/// The runs a person decides on now: waiting for a person at a gate of
/// their own (a composition that waits for a child is decided on the child).
pub fn waiting(store: &Store) -> Vec<RunRow> {
    store
        .runs()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| decided_here(r.status, r.waiting_for.as_ref()))
        .collect()
}

/// Whether a person decides on this run itself: it waits at a gate of its
/// own, not for a child run (whose page carries the form).
fn decided_here(status: Status, waiting_for: Option<&Gate>) -> bool {
    status == Status::AwaitingHuman && !matches!(waiting_for, Some(Gate::Child(_)))
}

/// What the decision form shows of a waiting run.
fn decision_form(run_id: &str, loop_name: &str, waiting_for: Option<&Gate>, reason: &str) -> Value {
    json!({
        "run_id": run_id,
        "loop_name": loop_name,
        "waiting_for": waiting_for.map(ToString::to_string).unwrap_or_default(),
        "reason": reason,
    })
}

/// `GET /queue`: every run that waits for a person, each with its form.
pub fn queue(ui: &Ui, store: &Store, query: &[(String, String)]) -> Page {
    let decisions: Vec<Value> = waiting(store)
        .iter()
        .map(|r| decision_form(&r.id, &r.loop_name, r.waiting_for.as_ref(), &r.reason))
        .collect();
    let notice = decided_notice(get(query, "decided"));
    Page::Html(
        200,
        ui.page(store, "queue.html", "queue", json!({"decisions": decisions, "notice": notice})),
    )
}

fn decided_notice(decided: &str) -> Option<&'static str> {
    match decided {
        "approve" => Some("Approved: `loopc approve` runs it now; this page shows the run as it goes on."),
        "reject" => Some("Rejected: `loopc reject` records it now, with your note."),
        _ => None,
    }
}

/// `GET /runs/RUN`: a run's state, live progress, phase graph, iterations
/// with each step's verdict, the trace, the branch and its changes.
pub fn run(ui: &Ui, store: &Store, id: &str, query: &[(String, String)]) -> Page {
    let row = match store.find_run(id).and_then(|r| store.observed(r)) {
        Ok(r) => r,
        Err(e) => return Page::Html(404, ui.error_page(store, "No such run", &e.to_string())),
    };
    let plan_source = row.plan().ok().map(|p| p.source);
    let status = match RunStatus::read(store, row) {
        Ok(s) => s,
        Err(e) => return Page::Html(500, ui.error_page(store, "The run cannot be read", &e.to_string())),
    };
    let (diagram, diagram_error) = match plan_source.as_deref() {
        Some(src) if !src.is_empty() => diagram(ui, Path::new(src)),
        _ => (None, Some("The run's plan names no spec file to draw.".to_owned())),
    };
    let ws = status.workspace.as_ref();
    let worktree = ws.filter(|w| w.is_worktree());
    let pool = store
        .pool_runs()
        .unwrap_or_default()
        .into_iter()
        .find(|(run, _, _)| *run == status.run_id)
        .map(|(_, pool, item)| json!({"id": pool, "item": item}));
    let decision = decided_here(status.status, status.waiting_for.as_ref())
        .then(|| decision_form(&status.run_id, &status.loop_name, status.waiting_for.as_ref(), &status.reason));
    let live = status.status == Status::Running;
    let under_way = if live {
        store.under_way(&status.run_id).ok().flatten().map(|u| json!(u))
    } else {
        None
    };
    let values = json!({
        "s": status,
        "next_action": status.next_action(),
        "iterations": iterations(store, &status),
        "diagram": diagram,
        "diagram_error": diagram_error,
        "workspace": ws.map(|w| loopc_runtime::status::workspace_line(w).trim().trim_start_matches("workspace: ").lines().next().unwrap_or("").to_owned()),
        "branch": worktree.map(|w| w.branch.clone()),
        "diff": worktree.and_then(|w| diff_summary(&w.repository, &w.base_commit, &w.branch)),
        "pool": pool,
        "has_trace": status.trace.is_some(),
        "decision": decision,
        "live": live,
        "under_way": under_way,
        "notice": decided_notice(get(query, "decided")),
    });
    Page::Html(200, ui.page(store, "run.html", "run", values))
}

/// Each iteration (recorded, or under way) with its committed steps.
fn iterations(store: &Store, status: &RunStatus) -> Vec<Value> {
    let mut steps: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    for (i, step, r) in store.steps_of(&status.run_id).unwrap_or_default() {
        let verdict = match (
            r.result.get("passed").and_then(Value::as_bool),
            r.result.get("score").and_then(Value::as_f64),
        ) {
            (Some(p), Some(score)) => format!("{} (score {score})", if p { "passed" } else { "failed" }),
            (Some(p), None) => (if p { "passed" } else { "failed" }).to_owned(),
            (None, _) => r.result.get("error").and_then(Value::as_str).map(short).unwrap_or_default(),
        };
        steps.entry(i).or_default().push(json!({
            "step": step,
            "status": r.status.as_str(),
            "verdict": verdict,
            "attempts": r.attempts,
            "seconds": r.seconds,
            "cost_usd": r.cost_usd,
        }));
    }
    let mut numbers: Vec<u32> = status
        .iterations
        .iter()
        .map(|it| it.iteration)
        .chain(steps.keys().copied())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
        .into_iter()
        .map(|i| {
            let record = status.iterations.iter().find(|it| it.iteration == i);
            let metrics = record
                .map(|r| r.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let feedback = record
                .map(|r| &r.feedback)
                .filter(|f| {
                    !(f.is_null() || f.as_array().is_some_and(Vec::is_empty) || f.as_object().is_some_and(serde_json::Map::is_empty))
                })
                .map(|f| serde_json::to_string_pretty(f).unwrap_or_default());
            json!({
                "iteration": i,
                "decision": record.map(|r| r.decision.clone()).unwrap_or_else(|| "under way".to_owned()),
                "metrics": metrics,
                "cost_usd": record.map_or(0.0, |r| r.cost_usd),
                "feedback": feedback,
                "steps": steps.remove(&i).unwrap_or_default(),
            })
        })
        .collect()
}

fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() > 160 {
        format!("{}…", line.chars().take(160).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// The phase graph as Mermaid, from `loopc diagram` (the same text a
/// person gets on the command line), or why there is none.
fn diagram(ui: &Ui, spec: &Path) -> (Option<String>, Option<String>) {
    if !spec.is_file() {
        return (None, Some(format!("The spec {} is not there any more.", spec.display())));
    }
    match Command::new(&ui.exe)
        .args(["diagram", "--format", "mermaid", "--"])
        .arg(spec)
        .output()
    {
        Ok(out) if out.status.success() => (Some(String::from_utf8_lossy(&out.stdout).into_owned()), None),
        Ok(out) => (
            None,
            Some(format!(
                "loopc diagram {}: {}",
                spec.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        ),
        Err(e) => (None, Some(format!("loopc diagram could not start: {e}"))),
    }
}

/// `git diff --stat` of the run's branch against the commit it started from.
fn diff_summary(repository: &Path, base: &str, branch: &str) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repository)
        .args(["diff", "--stat", "--no-color", "--end-of-options", base, branch, "--"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim_end().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `GET /runs/RUN/trace.json`: the run's Loop Trace, as a download.
pub fn trace(request: Request, store: &Store, id: &str) -> Option<Request> {
    let found = store.find_run(id).ok().map(|r| {
        let path = loopc_runtime::trace::path(store, &r.id);
        (r.id, std::fs::read(path).ok())
    });
    let response = match found {
        Some((run, Some(bytes))) => {
            let mut r = Response::from_data(bytes);
            let disposition = format!("attachment; filename=\"{run}.trace.json\"");
            for h in [("Content-Type", "application/json"), ("Content-Disposition", disposition.as_str())]
                .into_iter()
                .filter_map(|(k, v)| super::header(k, v))
            {
                r.add_header(h);
            }
            r
        }
        Some((_, None)) => Response::from_string("the run's trace is written when it stops").with_status_code(404),
        None => Response::from_string("no such run").with_status_code(404),
    };
    let _ = request.respond(response);
    None
}

/// `GET /pools/POOL`: a work pool's report.
pub fn pool(ui: &Ui, store: &Store, id: &str) -> Page {
    match PoolReport::load(store, id) {
        Ok(report) => Page::Html(200, ui.page(store, "pool.html", "pool", json!({"p": report}))),
        Err(e) => Page::Html(404, ui.error_page(store, "No such pool", &e.to_string())),
    }
}

/// `POST /runs/RUN/decision`: queue `loopc approve|reject RUN --note …`.
pub fn decide(ui: &Ui, store: &Store, id: &str, fields: &[(String, String)]) -> Page {
    let approved = match get(fields, "decision") {
        "approve" => true,
        "reject" => false,
        other => {
            return Page::Html(
                400,
                ui.error_page(store, "Bad request", &format!("`{other}` is not a decision (approve or reject)")),
            )
        }
    };
    let row = match store.find_run(id).and_then(|r| store.observed(r)) {
        Ok(r) => r,
        Err(e) => return Page::Html(404, ui.error_page(store, "No such run", &e.to_string())),
    };
    if row.status != Status::AwaitingHuman {
        let text = format!(
            "Run {} is {}, not waiting for a person: nothing was decided.",
            row.id,
            row.status.as_str()
        );
        return Page::Html(409, ui.error_page(store, "Not waiting", &text));
    }
    let request = QueueRequest {
        cwd: bindings_dir(&row.bindings_path),
        decision: Some(Decision {
            run: row.id.clone(),
            approved,
            note: get(fields, "note").to_owned(),
        }),
        ..QueueRequest::default()
    };
    let delivery = format!("{}@{}", row.id, loopc_runtime::clock::unix_ms());
    match store.enqueue("ui:decision", &delivery, &request) {
        Ok(_) => redirect(
            &format!("/runs/{}?decided={}", row.id, if approved { "approve" } else { "reject" }),
            None,
        ),
        Err(e) => Page::Html(500, ui.error_page(store, "The decision could not be queued", &e.to_string())),
    }
}

/// Where `loopc approve` finds the run's bindings: the directory of its
/// bindings file, or of the `loopc.toml` whose `[run]` they are (empty:
/// the server's own directory).
fn bindings_dir(label: &str) -> String {
    let file = label.strip_suffix("[run]").unwrap_or(label);
    Path::new(file)
        .parent()
        .filter(|_| !file.is_empty())
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// How long ago `rfc3339` was, in the largest whole unit.
fn age(rfc3339: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let Ok(then) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return String::new();
    };
    let s = (now - then.with_timezone(&chrono::Utc)).num_seconds().max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(age("2026-12-06T11:59:30Z", now), "30 s");
        assert_eq!(age("2026-12-06T11:15:00Z", now), "45 min");
        assert_eq!(age("2026-12-06T02:00:00Z", now), "10 h");
        assert_eq!(age("2026-12-01T12:00:00Z", now), "5 d");
        assert_eq!(age("not a time", now), "");
    }

    #[test]
    fn a_decision_runs_where_the_runs_bindings_are() {
        assert_eq!(bindings_dir("/p/bindings.toml"), "/p");
        assert_eq!(bindings_dir("/p/loopc.toml[run]"), "/p");
        assert_eq!(bindings_dir(""), "");
    }
}
