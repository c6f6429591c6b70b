//! What `run` and its continuations report at the end, and `loopc runs` /
//! `loopc status`: the state directory's runs, read, never changed. Every
//! JSON form names a run `run_id`, as the trace and the run report do.

use clap::Args;
use loopc_runtime::status::{workspace_line, RunLine, RunStatus};
use loopc_runtime::store::RunRow;
use loopc_runtime::{Report as RunReport, Status, Store};

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

/// `loopc runs`: every run in the state directory.
struct RunList(Vec<RunLine>);

impl Report for RunList {
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
fn listing<T>(store: &Store, f: impl FnOnce(Vec<RunLine>) -> T) -> Result<T, String> {
    RunLine::list(store).map(f).map_err(|e| e.to_string())
}

/// `loopc status RUN`: where a run stands (read and rendered by the runtime).
struct StatusPage(RunStatus);

impl Report for StatusPage {
    const FORMATS: &'static [Format] = STATUS_FORMATS;

    fn other(&self, format: Format) -> Option<String> {
        (format == Format::Markdown).then(|| self.0.markdown())
    }

    fn human(&self) -> String {
        let s = &self.0;
        let mut out = format!(
            "run {} ({})\n  status: {}{}\n",
            s.run_id,
            s.loop_name,
            s.status.as_str(),
            if s.reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", s.reason)
            }
        );
        if s.status == Status::AwaitingHuman {
            out.push_str(&format!(
                "  waiting for: {} (loopc approve {} / loopc reject {})\n",
                s.waiting_for.as_ref().map_or_else(String::new, ToString::to_string),
                s.run_id,
                s.run_id
            ));
        }
        out.push_str(&format!("  spend: ${:.4}, {} tokens\n", s.cost_usd, s.tokens));
        if let Some(p) = &s.parent {
            out.push_str(&format!(
                "  child `{}` of run {} (its iteration {})\n",
                p.key, p.parent, p.iteration
            ));
        }
        for c in &s.children {
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
        if let Some(ws) = &s.workspace {
            out.push_str(&workspace_line(ws));
        }
        for it in &s.iterations {
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
        if let Some(e) = &s.last_error {
            out.push_str(&format!("  last error: iteration {}, {}: {}\n", e.iteration, e.step, e.error));
        }
        for e in s.recent_events() {
            out.push_str(&format!("  [{}] {}: {}\n", e.iteration, e.kind, e.message));
        }
        if let Some(trace) = &s.trace {
            out.push_str(&format!("  trace: {trace}\n"));
        }
        out
    }

    fn json(&self) -> String {
        report::to_json(&self.0)
    }
}

pub fn status(args: StatusArgs) -> u8 {
    let read = open_run(&args.state, &args.run).and_then(|(store, row)| {
        let row = store.observed(row).map_err(|e| e.to_string())?;
        RunStatus::read(&store, row).map_err(|e| e.to_string())
    });
    match read {
        Ok(status) => {
            report::print(&StatusPage(status), args.format);
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}
