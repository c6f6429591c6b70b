//! What `run` and its continuations report at the end, and `loopc runs` /
//! `loopc status`: the state directory's runs, read, never changed. Every
//! JSON form names a run `run_id`, as the trace and the run report do.

use clap::Args;
use loopc_runtime::store::{IterationRecord, RunRow};
use loopc_runtime::{Report as RunReport, Status, Store};
use serde::Serialize;

use super::report::{self, Format, Report};
use super::run::{StateArgs, EXIT_AWAITING_HUMAN};
use super::{usage_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = report::offered(report::HUMAN_AND_JSON))]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format (markdown: a LOOP_STATE-style page with the next action).
    #[arg(long, default_value = "human", value_parser = report::offered(STATUS_FORMATS))]
    pub format: Format,
}

/// What `loopc status` writes.
const STATUS_FORMATS: &[Format] = &[Format::Human, Format::Json, Format::Markdown];

/// The state directory's store and the run `run` (an id or a unique prefix) in it.
pub(super) fn open_run(state: &StateArgs, run: &str) -> Result<(Store, RunRow), String> {
    let store = state.resolve().and_then(|d| Store::open(&d).map_err(|e| e.to_string()))?;
    let row = store.find_run(run).map_err(|e| e.to_string())?;
    Ok((store, row))
}

/// The final reports of the runs a command executed.
struct Finished(Vec<RunReport>);

impl Report for Finished {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        self.0.iter().map(human_report).collect()
    }

    fn json(&self) -> String {
        report::to_json(&self.0)
    }
}

/// Print the runs' reports; the exit status is the worst of them. Every
/// failure of a run's execution is an I/O or usage error here (exit 2),
/// whatever its variant; a run that ran decides by its status.
pub fn finish(results: Vec<(String, Result<RunReport, loopc_runtime::Error>)>, format: Format) -> u8 {
    let mut status = EXIT_OK;
    let mut reports = Vec::new();
    for (id, result) in results {
        match result {
            Ok(report) => {
                status = status.max(match report.status {
                    Status::Succeeded => EXIT_OK,
                    Status::AwaitingHuman | Status::Paused => EXIT_AWAITING_HUMAN,
                    Status::Running => EXIT_USAGE,
                    // 128 + the signal, as a shell reports a signalled process.
                    Status::Interrupted => loopc_runtime::stop::signal()
                        .and_then(|s| u8::try_from(128 + s).ok())
                        .unwrap_or(EXIT_USAGE),
                    Status::Halted | Status::Rejected | Status::Cancelled => EXIT_FINDINGS,
                });
                reports.push(report);
            }
            Err(e) => {
                eprintln!("loopc: error: run {id}: {e}");
                status = status.max(EXIT_USAGE);
            }
        }
    }
    report::print(&Finished(reports), format);
    status
}

fn human_report(r: &RunReport) -> String {
    let mut out = format!(
        "run {} ({}): {} after {} iteration{}, ${:.4}, {} tokens\n  reason: {}\n",
        r.run_id,
        r.loop_name,
        r.status.as_str(),
        r.iterations,
        if r.iterations == 1 { "" } else { "s" },
        r.cost_usd,
        r.tokens,
        if r.reason.is_empty() { "-" } else { &r.reason }
    );
    if let Some(branch) = &r.branch {
        out.push_str(&format!("  branch: {branch} (kept for review)\n"));
    }
    if let Some(path) = &r.workspace {
        out.push_str(&format!("  workspace: {path}\n"));
    }
    if let Some(what) = &r.needs_human {
        out.push_str(&format!(
            "  needs a person: {what}\n    loopc approve {} [--note ...]   |   loopc reject {} [--note ...]\n",
            r.run_id, r.run_id
        ));
    }
    if !r.shadowed.is_empty() {
        out.push_str(
            "  shadow mode: recorded, not done:
",
        );
        for what in &r.shadowed {
            out.push_str(&format!(
                "    {what}
"
            ));
        }
    }
    for failure in &r.worker_failures {
        out.push_str(&format!("  worker failed: {failure}\n"));
    }
    out
}

/// One line of `loopc runs`.
#[derive(Serialize)]
struct RunLine<'a> {
    run_id: &'a str,
    loop_name: &'a str,
    status: Status,
    reason: &'a str,
    iterations: u32,
    cost_usd: f64,
    created_at: &'a str,
    updated_at: &'a str,
    /// The work pool and item this run is (`loopc run --items`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_id: Option<String>,
    /// The composition run this run is a child of, and which child.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_key: Option<String>,
}

impl<'a> From<&'a RunRow> for RunLine<'a> {
    fn from(r: &'a RunRow) -> Self {
        RunLine {
            run_id: &r.id,
            loop_name: &r.loop_name,
            status: r.status,
            reason: &r.reason,
            iterations: r.iteration,
            cost_usd: r.cost_usd,
            created_at: &r.created_at,
            updated_at: &r.updated_at,
            pool_id: None,
            item_id: None,
            parent_id: None,
            child_key: None,
        }
    }
}

/// `loopc runs`: every run in the state directory.
struct RunList<'a>(Vec<RunLine<'a>>);

impl Report for RunList<'_> {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        let mut out = format!(
            "{:<30} {:<24} {:<15} {:>5} {:>9}  {}\n",
            "RUN", "LOOP", "STATUS", "ITER", "COST", "REASON"
        );
        for r in &self.0 {
            out.push_str(&format!(
                "{:<30} {:<24} {:<15} {:>5} {:>9.4}  {}{}{}\n",
                r.run_id,
                r.loop_name,
                r.status.as_str(),
                r.iterations,
                r.cost_usd,
                r.reason,
                match (&r.pool_id, &r.item_id) {
                    (Some(pool), Some(item)) => format!(" [item {item} of {pool}]"),
                    _ => String::new(),
                },
                match (&r.parent_id, &r.child_key) {
                    (Some(parent), Some(key)) => format!(" [child {key} of {parent}]"),
                    _ => String::new(),
                }
            ));
        }
        out
    }

    fn json(&self) -> String {
        report::to_json(&self.0)
    }
}

pub fn runs(args: RunsArgs) -> u8 {
    let store = match args.state.resolve().and_then(|d| Store::open(&d).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    match listing(&store, |lines| report::print(&RunList(lines), args.format)) {
        Ok(()) => EXIT_OK,
        Err(e) => usage_error(e),
    }
}

/// `loopc runs --format json` as text: what `loopc serve` answers on `GET /api/runs`.
pub fn runs_json(store: &Store) -> Result<String, String> {
    listing(store, |lines| report::to_json(&lines))
}

/// `f` of the lines of `loopc runs`, each run with its pool item and parent.
fn listing<T>(store: &Store, f: impl FnOnce(Vec<RunLine<'_>>) -> T) -> Result<T, String> {
    let rows = store
        .runs()
        .and_then(|rows| rows.into_iter().map(|r| store.observed(r)).collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    let items = store.pool_runs().map_err(|e| e.to_string())?;
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut line = RunLine::from(row);
        if let Some((_, pool, item)) = items.iter().find(|(run, _, _)| run == &row.id) {
            line.pool_id = Some(pool.clone());
            line.item_id = Some(item.clone());
        }
        if let Some(link) = store.parent_of(&row.id).map_err(|e| e.to_string())? {
            line.parent_id = Some(link.parent);
            line.child_key = Some(link.key);
        }
        lines.push(line);
    }
    Ok(f(lines))
}

#[derive(Serialize)]
struct Event<'a> {
    iteration: u32,
    kind: &'a str,
    message: &'a str,
}

/// `loopc status RUN`: where a run stands.
#[derive(Serialize)]
struct RunStatus<'a> {
    run_id: &'a str,
    loop_name: &'a str,
    status: Status,
    reason: &'a str,
    waiting_for: Option<&'a loopc_runtime::gate::Gate>,
    iterations: &'a [IterationRecord],
    cost_usd: f64,
    tokens: u64,
    events: Vec<Event<'a>>,
    /// The run's Loop Trace file, once written.
    trace: Option<String>,
    /// Where the run works (none for a run from before workspaces).
    workspace: Option<loopc_runtime::workspace::Workspace>,
    /// The last step that failed, and why.
    last_error: Option<LastError>,
    /// The composition run this run is a child of.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<loopc_runtime::store::ParentLink>,
    /// This run's child runs (a composition), in the order they started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<loopc_runtime::store::ChildRow>,
}

#[derive(Serialize)]
struct LastError {
    iteration: u32,
    step: String,
    error: String,
}

impl Report for RunStatus<'_> {
    const FORMATS: &'static [Format] = STATUS_FORMATS;

    fn other(&self, format: Format) -> Option<String> {
        (format == Format::Markdown).then(|| self.markdown())
    }

    fn human(&self) -> String {
        let mut out = format!(
            "run {} ({})\n  status: {}{}\n",
            self.run_id,
            self.loop_name,
            self.status.as_str(),
            if self.reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", self.reason)
            }
        );
        if self.status == Status::AwaitingHuman {
            out.push_str(&format!(
                "  waiting for: {} (loopc approve {} / loopc reject {})\n",
                self.waiting_for.map_or_else(String::new, ToString::to_string),
                self.run_id,
                self.run_id
            ));
        }
        out.push_str(&format!("  spend: ${:.4}, {} tokens\n", self.cost_usd, self.tokens));
        if let Some(p) = &self.parent {
            out.push_str(&format!(
                "  child `{}` of run {} (its iteration {})\n",
                p.key, p.parent, p.iteration
            ));
        }
        for c in &self.children {
            out.push_str(&format!(
                "  child {} (iteration {}): run {} ({}) {} · ${:.4}{}\n",
                c.key,
                c.iteration,
                c.id,
                c.loop_name,
                c.status,
                c.cost_usd,
                if c.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", c.reason)
                }
            ));
        }
        if let Some(ws) = &self.workspace {
            out.push_str(&workspace_line(ws));
        }
        for it in self.iterations {
            let metrics: Vec<String> = it.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!(
                "  iteration {}: {} · {} · ${:.4}\n",
                it.iteration,
                it.decision,
                metrics.join(" "),
                it.cost_usd
            ));
            for failure in &it.worker_failures {
                out.push_str(&format!("    worker failed: {failure}\n"));
            }
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("  last error: iteration {}, {}: {}\n", e.iteration, e.step, e.error));
        }
        let recent = self.events.len().saturating_sub(10);
        for e in &self.events[recent..] {
            out.push_str(&format!("  [{}] {}: {}\n", e.iteration, e.kind, e.message));
        }
        if let Some(trace) = &self.trace {
            out.push_str(&format!("  trace: {trace}\n"));
        }
        out
    }

    fn json(&self) -> String {
        report::to_json(self)
    }
}

/// A Markdown table cell: one line, no column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl RunStatus<'_> {
    /// A LOOP_STATE-style page: the run, the next action, the iterations,
    /// the last error and the recent events.
    fn markdown(&self) -> String {
        let id = self.run_id;
        let mut out = format!("# Loop state: {}\n\n| | |\n|---|---|\n", cell(self.loop_name));
        out.push_str(&format!("| Run | `{id}` |\n"));
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(" — {}", cell(self.reason))
        };
        out.push_str(&format!("| Status | **{}**{reason} |\n", self.status.as_str()));
        out.push_str(&format!("| Iterations | {} |\n", self.iterations.len()));
        out.push_str(&format!("| Spend | ${:.4}, {} tokens |\n", self.cost_usd, self.tokens));
        if let Some(ws) = &self.workspace {
            let line = workspace_line(ws);
            let line = line.trim().trim_start_matches("workspace: ").replace("\n  branch:", "; branch:");
            out.push_str(&format!("| Workspace | {} |\n", cell(&line)));
        }
        if let Some(trace) = &self.trace {
            out.push_str(&format!("| Trace | `{}` |\n", cell(trace)));
        }
        let next = match self.status {
            Status::AwaitingHuman => format!(
                "A person decides{}: `loopc approve {id} --note …` or `loopc reject {id} --note …`.",
                self.waiting_for.map_or_else(String::new, |g| format!(" ({g})"))
            ),
            Status::Running => {
                format!("Nothing: it executes (`loopc logs {id} --follow` to watch, `loopc pause {id}`, `loopc cancel {id}`).")
            }
            Status::Paused => format!("`loopc continue {id}` goes on (`loopc add-context {id} --note …` first to steer it)."),
            Status::Interrupted => format!("`loopc resume {id}` continues at the first unfinished step; `loopc cancel {id}` ends it."),
            Status::Succeeded => "Review the result (its branch, when it worked in a worktree): loopc never merges it.".to_owned(),
            Status::Halted | Status::Rejected | Status::Cancelled => {
                format!("None: the run ended. `loopc logs {id}` shows what each step did.")
            }
        };
        out.push_str(&format!("\n## Next action\n\n{next}\n"));
        if !self.iterations.is_empty() {
            out.push_str("\n## Iterations\n\n| # | decision | metrics | cost | worker failures |\n|---|---|---|---|---|\n");
            for it in self.iterations {
                let metrics: Vec<String> = it.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!(
                    "| {} | {} | {} | ${:.4} | {} |\n",
                    it.iteration,
                    cell(&it.decision),
                    cell(&metrics.join(" ")),
                    it.cost_usd,
                    cell(&it.worker_failures.join("; "))
                ));
            }
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!(
                "\n## Last error\n\nIteration {}, `{}`:\n\n~~~\n{}\n~~~\n",
                e.iteration,
                e.step,
                e.error.replace("~~~", "~ ~ ~")
            ));
        }
        let recent = self.events.len().saturating_sub(10);
        if recent < self.events.len() {
            out.push_str("\n## Recent events\n\n");
            for e in &self.events[recent..] {
                out.push_str(&format!("- [{}] {}: {}\n", e.iteration, e.kind, cell(e.message)));
            }
        }
        out
    }
}

fn workspace_line(ws: &loopc_runtime::workspace::Workspace) -> String {
    use loopc_runtime::workspace::Kind;
    let gone = if ws.removed_at.is_empty() {
        String::new()
    } else {
        format!(" (removed by loopc gc at {})", ws.removed_at)
    };
    match ws.kind {
        Kind::GitWorktree => format!(
            "  workspace: worktree {}{gone}\n  branch: {} (from {} {})\n",
            ws.path.display(),
            ws.branch,
            ws.base_ref,
            ws.base_commit.get(..12).unwrap_or(&ws.base_commit)
        ),
        Kind::Copy => format!("  workspace: copy {} of {}{gone}\n", ws.path.display(), ws.repository.display()),
        Kind::InPlace => format!("  workspace: in place, {}\n", ws.root.display()),
    }
}

pub fn status(args: StatusArgs) -> u8 {
    let (store, row) = match open_run(&args.state, &args.run).and_then(|(s, r)| {
        let row = s.observed(r).map_err(|e| e.to_string())?;
        Ok((s, row))
    }) {
        Ok(found) => found,
        Err(e) => return usage_error(e),
    };
    let last_error = match store.steps_of(&row.id) {
        Ok(steps) => steps
            .into_iter()
            .rev()
            .find(|(_, _, r)| r.status == loopc_runtime::store::StepStatus::Failed)
            .map(|(iteration, key, r)| LastError {
                iteration,
                step: key,
                error: r
                    .result
                    .get("error")
                    .and_then(|e| e.as_str())
                    .map_or_else(|| r.result.to_string(), str::to_owned),
            }),
        Err(e) => return usage_error(e),
    };
    let (iterations, events) = match (store.iterations(&row.id), store.events(&row.id)) {
        (Ok(i), Ok(e)) => (i, e),
        (Err(e), _) | (_, Err(e)) => return usage_error(e),
    };
    let trace = loopc_runtime::trace::path(&store, &row.id);
    let status = RunStatus {
        run_id: &row.id,
        loop_name: &row.loop_name,
        status: row.status,
        reason: &row.reason,
        waiting_for: row.waiting_for.as_ref(),
        iterations: &iterations,
        cost_usd: row.cost_usd,
        tokens: row.tokens,
        events: events
            .iter()
            .map(|(iteration, kind, message)| Event {
                iteration: *iteration,
                kind,
                message,
            })
            .collect(),
        trace: trace.exists().then(|| trace.display().to_string()),
        workspace: match store.workspace(&row.id) {
            Ok(w) => w,
            Err(e) => return usage_error(e),
        },
        last_error,
        parent: match store.parent_of(&row.id) {
            Ok(p) => p,
            Err(e) => return usage_error(e),
        },
        children: match store.children_of(&row.id) {
            Ok(c) => c,
            Err(e) => return usage_error(e),
        },
    };
    report::print(&status, args.format);
    EXIT_OK
}
