//! Where a run stands, read from the store: what `loopc status` prints and
//! the LOOP_STATE page (`--format markdown`), which a run can also keep
//! current in a file while it executes (`[state_page]` in the bindings).
//!
//! The page is rendered here, in the runtime, because the interpreter
//! writes it at every step boundary; the CLI only adds its human form.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{ChildRow, IterationRecord, ParentLink, RunRow, Status, StepStatus, Store, StoreError};
use crate::workspace::{Kind, Workspace};

/// One line of `loopc runs` (and of the web UI's run list).
#[derive(Clone, Debug, Serialize)]
pub struct RunLine {
    pub run_id: String,
    pub loop_name: String,
    pub status: Status,
    pub reason: String,
    pub iterations: u32,
    pub cost_usd: f64,
    pub created_at: String,
    pub updated_at: String,
    /// The work pool and item this run is (`loopc run --items`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The composition run this run is a child of, and which child.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_key: Option<String>,
}

impl RunLine {
    /// Every run of the store, oldest first, as [`Store::observed`] shows
    /// it, with its pool item and its parent.
    pub fn list(store: &Store) -> Result<Vec<RunLine>, StoreError> {
        let items = store.pool_runs()?;
        let mut lines = Vec::new();
        for row in store.runs()? {
            let r = store.observed(row)?;
            let item = items.iter().find(|(run, _, _)| *run == r.id);
            let parent = store.parent_of(&r.id)?;
            lines.push(RunLine {
                pool_id: item.map(|(_, pool, _)| pool.clone()),
                item_id: item.map(|(_, _, id)| id.clone()),
                parent_id: parent.as_ref().map(|p| p.parent.clone()),
                child_key: parent.map(|p| p.key),
                run_id: r.id,
                loop_name: r.loop_name,
                status: r.status,
                reason: r.reason,
                iterations: r.iteration,
                cost_usd: r.cost_usd,
                created_at: r.created_at,
                updated_at: r.updated_at,
            });
        }
        Ok(lines)
    }
}

/// How every state page begins (and how loopc knows a file is one).
const PAGE_HEADING: &str = "# Loop state: ";

/// How many of the latest events a status shows.
const RECENT_EVENTS: usize = 10;

/// `[state_page]` in the bindings: a LOOP_STATE page the run keeps current.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePageConfig {
    /// Where the page goes. A relative path is inside the run's workspace
    /// (its worktree or copy, else the sandbox root), where the run's
    /// workers can read it; loopc keeps it out of the iteration snapshots
    /// and the diff-scope gate. `{run}` is replaced by the run id (one page
    /// per run when several runs share a directory, as a pool's do).
    pub path: Option<String>,
}

impl StatePageConfig {
    /// The page's file for run `run_id` working in `root`, if one is set.
    pub fn file(&self, root: &Path, run_id: &str) -> Option<PathBuf> {
        let path = PathBuf::from(self.path.as_deref()?.replace("{run}", run_id));
        Some(if path.is_absolute() { path } else { root.join(path) })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub iteration: u32,
    pub kind: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LastError {
    pub iteration: u32,
    pub step: String,
    pub error: String,
}

/// A step of the latest iteration, as the page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct StepLine {
    pub step: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub seconds: f64,
    pub cost_usd: f64,
}

/// A run as `loopc status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RunStatus {
    pub run_id: String,
    pub loop_name: String,
    pub status: Status,
    pub reason: String,
    pub waiting_for: Option<crate::gate::Gate>,
    pub iterations: Vec<IterationRecord>,
    pub cost_usd: f64,
    pub tokens: u64,
    pub events: Vec<Event>,
    /// The run's Loop Trace file, once written.
    pub trace: Option<String>,
    /// Where the run works (none for a run from before workspaces).
    pub workspace: Option<Workspace>,
    /// The last step that failed, and why.
    pub last_error: Option<LastError>,
    /// The composition run this run is a child of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// This run's child runs (a composition), in the order they started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRow>,
    /// The steps committed so far in the iteration being worked on (or the
    /// last one), in the order they were committed.
    #[serde(skip)]
    pub current_steps: Vec<StepLine>,
}

impl RunStatus {
    /// Read run `row` (as [`Store::observed`] shows it) and what belongs to it.
    pub fn read(store: &Store, row: RunRow) -> Result<RunStatus, StoreError> {
        let steps = store.steps_of(&row.id)?;
        let last_error = steps
            .iter()
            .rev()
            .find(|(_, _, r)| r.status == StepStatus::Failed)
            .map(|(iteration, key, r)| LastError {
                iteration: *iteration,
                step: key.clone(),
                error: r
                    .result
                    .get("error")
                    .and_then(|e| e.as_str())
                    .map_or_else(|| r.result.to_string(), str::to_owned),
            });
        let latest = steps.iter().map(|(i, _, _)| *i).max().unwrap_or(0);
        let current_steps = steps
            .into_iter()
            .filter(|(i, _, _)| *i == latest && latest > 0)
            .map(|(_, step, r)| StepLine {
                step,
                status: r.status,
                attempts: r.attempts,
                seconds: r.seconds,
                cost_usd: r.cost_usd,
            })
            .collect();
        let events = store
            .events(&row.id)?
            .into_iter()
            .map(|(iteration, kind, message)| Event { iteration, kind, message })
            .collect();
        let trace = crate::trace::path(store, &row.id);
        Ok(RunStatus {
            iterations: store.iterations(&row.id)?,
            workspace: store.workspace(&row.id)?,
            parent: store.parent_of(&row.id)?,
            children: store.children_of(&row.id)?,
            trace: trace.exists().then(|| trace.display().to_string()),
            events,
            last_error,
            current_steps,
            run_id: row.id,
            loop_name: row.loop_name,
            status: row.status,
            reason: row.reason,
            waiting_for: row.waiting_for,
            cost_usd: row.cost_usd,
            tokens: row.tokens,
        })
    }

    /// The latest events (at most ten), oldest first.
    pub fn recent_events(&self) -> &[Event] {
        &self.events[self.events.len().saturating_sub(RECENT_EVENTS)..]
    }

    /// What a person (or the loop) does next, with the commands that do it.
    pub fn next_action(&self) -> String {
        let id = &self.run_id;
        match self.status {
            Status::AwaitingHuman => format!(
                "A person decides{}: `loopc approve {id} --note …` or `loopc reject {id} --note …`.",
                self.waiting_for.as_ref().map_or_else(String::new, |g| format!(" ({g})"))
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
        }
    }

    /// A LOOP_STATE-style page: the run, the next action, the steps of the
    /// current iteration, the child runs, the iterations, the last error
    /// and the recent events.
    pub fn markdown(&self) -> String {
        let id = &self.run_id;
        let mut out = format!("{PAGE_HEADING}{}\n\n| | |\n|---|---|\n", cell(&self.loop_name));
        out.push_str(&format!("| Run | `{id}` |\n"));
        let reason = if self.reason.is_empty() {
            String::new()
        } else {
            format!(" — {}", cell(&self.reason))
        };
        out.push_str(&format!("| Status | **{}**{reason} |\n", self.status.as_str()));
        if let Some(gate) = self.waiting_for.as_ref().filter(|_| self.status == Status::AwaitingHuman) {
            out.push_str(&format!("| Waiting for | {} |\n", cell(&gate.to_string())));
        }
        out.push_str(&format!("| Iterations | {} |\n", self.iterations.len()));
        out.push_str(&format!("| Spend | ${:.4}, {} tokens |\n", self.cost_usd, self.tokens));
        if let Some(p) = &self.parent {
            out.push_str(&format!(
                "| Parent | child `{}` of run `{}` (its iteration {}) |\n",
                cell(&p.key),
                p.parent,
                p.iteration
            ));
        }
        if let Some(ws) = &self.workspace {
            let line = workspace_line(ws);
            let line = line.trim().trim_start_matches("workspace: ").replace("\n  branch:", "; branch:");
            out.push_str(&format!("| Workspace | {} |\n", cell(&line)));
        }
        if let Some(trace) = &self.trace {
            out.push_str(&format!("| Trace | `{}` |\n", cell(trace)));
        }
        out.push_str(&format!("\n## Next action\n\n{}\n", self.next_action()));
        if !self.current_steps.is_empty() {
            let i = self.iterations.len() + usize::from(self.status == Status::Running || self.status == Status::Paused);
            out.push_str(&format!(
                "\n## Steps of iteration {}\n\n| step | status | attempts | seconds | cost |\n|---|---|---|---|---|\n",
                i.max(1)
            ));
            for s in &self.current_steps {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {:.1} | ${:.4} |\n",
                    cell(&s.step),
                    s.status.as_str(),
                    s.attempts,
                    s.seconds,
                    s.cost_usd
                ));
            }
        }
        if !self.children.is_empty() {
            out.push_str("\n## Child runs\n\n| child | iteration | run | status | cost | reason |\n|---|---|---|---|---|---|\n");
            for c in &self.children {
                out.push_str(&format!(
                    "| {} | {} | `{}` | {} | ${:.4} | {} |\n",
                    cell(&c.key),
                    c.iteration,
                    c.id,
                    cell(&c.status),
                    c.cost_usd,
                    cell(&c.reason)
                ));
            }
        }
        if !self.iterations.is_empty() {
            out.push_str("\n## Iterations\n\n| # | decision | metrics | cost | worker failures |\n|---|---|---|---|---|\n");
            for it in &self.iterations {
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
        let recent = self.recent_events();
        if !recent.is_empty() {
            out.push_str("\n## Recent events\n\n");
            for e in recent {
                out.push_str(&format!("- [{}] {}: {}\n", e.iteration, e.kind, cell(&e.message)));
            }
        }
        out
    }
}

/// A Markdown table cell: one line, no column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Where a run works, as one or two indented lines.
pub fn workspace_line(ws: &Workspace) -> String {
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

/// The counter under which a run keeps the file of its state page.
const PAGE_COUNTER: &str = "state_page";

/// Record that run `run_id` keeps its state page in `file` (so that what
/// changes the run from outside its process — a decision, a cancel — can
/// bring the page up to date too).
pub fn keep_page(store: &Store, run_id: &str, file: &Path) -> Result<(), StoreError> {
    store.set_counter(run_id, PAGE_COUNTER, &serde_json::json!(file.to_string_lossy()))
}

/// The file run `run_id` keeps its state page in, if it keeps one.
pub fn page_file(store: &Store, run_id: &str) -> Result<Option<PathBuf>, StoreError> {
    Ok(store.counter(run_id, PAGE_COUNTER)?.and_then(|v| v.as_str().map(PathBuf::from)))
}

/// Bring run `run_id`'s state page up to date, when it keeps one: the
/// page as `loopc status --format markdown` shows it, written atomically
/// (a reader sees the old page or the new one). Returns the file written.
pub fn refresh_page(store: &Store, run_id: &str) -> Result<Option<PathBuf>, String> {
    let Some(file) = page_file(store, run_id).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let row = store
        .run(run_id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("run {run_id} is not in the store"))?;
    let page = RunStatus::read(store, row).map_err(|e| e.to_string())?.markdown();
    // A path that names someone's file (a typo, the spec itself) is not
    // written over: only a page loopc wrote is replaced.
    if let Ok(existing) = std::fs::read(&file) {
        if !existing.starts_with(PAGE_HEADING.as_bytes()) {
            return Err(format!(
                "state page {}: the file exists and is not a loopc state page, so loopc leaves it as it is (name another path in [state_page])",
                file.display()
            ));
        }
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("state page {}: {e}", file.display()))?;
    }
    crate::atomic::write(&file, page.as_bytes(), crate::atomic::Mode::Default)
        .map_err(|e| format!("state page {}: {e}", file.display()))?;
    Ok(Some(file))
}
