//! `loopc compile`, `run`, `resume`, `approve`, `reject` (`runs` and `status` are in `runs.rs`).

use std::path::{Path, PathBuf};

use clap::Args;
use loopc_check::Settings;
use loopc_compile::{CompileError, Options};
use loopc_diagnostics::render::{render_human, HumanOptions};
use loopc_plan::Plan;
use loopc_runtime::bindings::Bindings;
use loopc_runtime::launch::Launcher;
use loopc_runtime::workspace::{Kind, Source, Workspace};
use loopc_runtime::{BindingsOrigin, RunOptions, Status, Store, Sync};
use serde_json::{Map, Value};

use super::report::{self, Format};
use super::runs::finish;
use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK};
use crate::files::display_path;

/// Exit status of `run`/`resume` when a run waits for a person.
pub const EXIT_AWAITING_HUMAN: u8 = 3;

#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The LSS spec to compile.
    #[arg(required_unless_present = "plan_schema")]
    pub spec: Option<PathBuf>,
    /// Write the plan here (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Accept safety constraint types the runtime cannot enforce (they become warnings).
    #[arg(long)]
    pub allow_unenforced: bool,
    /// Print the plan's JSON Schema (generated from the Rust types) instead.
    #[arg(long)]
    pub plan_schema: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Where runs are kept (SQLite). Default: outside the workspace, in
    /// $XDG_STATE_HOME/loopc/<project>-<hash> (~/.local/state when unset).
    #[arg(long, env = "LOOPC_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    /// The state directory: the flag, `LOOPC_STATE_DIR`, or the project's default.
    pub fn resolve(&self) -> Result<PathBuf, String> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => {
                let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
                loopc_runtime::default_state_dir(&cwd).map_err(|e| e.to_string())
            }
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Specs (LSS) or compiled plans (`loopc compile` JSON) to run.
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// An input, `key=value` (the value is JSON when it parses as JSON).
    #[arg(short, long = "input", value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Input sets, one JSON object per line: each spec runs once per line.
    #[arg(long, value_name = "FILE")]
    pub inputs_file: Option<PathBuf>,
    /// A work pool: items (JSON array, JSON lines or CSV) each with an `id`, an optional
    /// `priority` (lower first) and `labels`, run in priority order; `[pool]` rules of the
    /// bindings skip or escalate items. `--input` pairs are defaults for every item.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["inputs_file", "items_from"])]
    pub items: Option<PathBuf>,
    /// A work pool read from a command's stdout (JSON array or lines), run with `sh -c` in
    /// the project root, e.g. "gh issue list --json number,title,labels" with `[pool] id = "number"`.
    #[arg(long, value_name = "CMD", conflicts_with = "inputs_file")]
    pub items_from: Option<String>,
    /// Also write a pool's report here (Markdown for .md, else JSON).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Bindings file (default: the `[run]` table of loopc.toml).
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    /// Simulate: scripted executors only, others answer synthetically; no tool side effects.
    #[arg(long)]
    pub dry_run: bool,
    /// Run everything inside the workspace for real, but only record what would act outside it
    /// (publish hooks, `outward` executors, `git push` and the like); the report lists it.
    #[arg(long, conflicts_with = "dry_run")]
    pub shadow: bool,
    /// Run at most this many loops at once (default 1); the rest wait in a queue. Also how many
    /// branches of a parallel composition run at once (default: all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// The ref each run's worktree branches from (`[workspace] kind = "git-worktree"`; default HEAD).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Accept safety constraint types the runtime cannot enforce.
    #[arg(long)]
    pub allow_unenforced: bool,
    /// Also copy the run's Loop Trace 1.0 file here (single run only).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print only the final report.
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format of the final report (markdown: work pools only).
    #[arg(long, default_value = "human", value_parser = report::offered(super::pool::POOL_FORMATS))]
    pub format: Format,
    /// Checkpoint durability: `full` (default; survives power loss), `normal`, or `off` (benchmarks).
    #[arg(long, default_value = "full", hide = true)]
    pub sync: String,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// Bindings file (default: the `[run]` table of loopc.toml); it must be
    /// the one the run started with, unless `--rebind`.
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    /// Continue with bindings that changed since the run started (after you reviewed them).
    #[arg(long)]
    pub rebind: bool,
    #[command(flatten)]
    pub state: StateArgs,
    /// Print only the final report.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct DecideArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// A note recorded with the decision (and given to the loop as feedback).
    #[arg(long, default_value = "")]
    pub note: String,
    /// Bindings file the run goes on with (default: the `[run]` table of
    /// loopc.toml); it must be the one the run started with, unless `--rebind`.
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    /// Continue with bindings that changed since the run started (after you reviewed them).
    #[arg(long)]
    pub rebind: bool,
    #[command(flatten)]
    pub state: StateArgs,
    /// Print only the final report.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Check a spec and lower it, or load a compiled plan and verify it against
/// its spec; diagnostics go to stderr. Returns whether the file was a plan.
fn compile_spec(path: &Path, allow_unenforced: bool, settings: &Settings) -> Result<(Plan, bool), u8> {
    let bytes = std::fs::read(path).map_err(|e| usage_error(format!("cannot read {}: {e}", path.display())))?;
    let options = Options {
        allow_unenforced,
        limits: settings.limits.clone(),
        levels: settings.levels.clone(),
    };
    let shown = display_path(path);
    let (result, is_plan) = match loopc_compile::load_plan(path, &bytes, &options) {
        Some(verified) => (verified, true),
        None => (loopc_compile::compile(path, &bytes, &shown, &options), false),
    };
    match result {
        Ok(plan) => Ok((plan, is_plan)),
        Err(CompileError::Diagnostics(report)) => {
            eprint!("{}", render_human(&[*report], HumanOptions::default()));
            eprintln!("loopc: error: {shown} has errors; it does not compile");
            Err(EXIT_FINDINGS)
        }
        Err(CompileError::Refused(messages)) => {
            for m in messages {
                eprintln!("loopc: error: {shown}: {m}");
            }
            Err(EXIT_FINDINGS)
        }
    }
}

pub fn compile(args: CompileArgs, settings: &Settings) -> u8 {
    if args.plan_schema {
        emit(&(serde_json::to_string_pretty(&schemars::schema_for!(Plan)).expect("schema serializes") + "\n"));
        return EXIT_OK;
    }
    let spec = args.spec.expect("clap requires it");
    let plan = match compile_spec(&spec, args.allow_unenforced, settings) {
        Ok((p, _)) => p,
        Err(code) => return code,
    };
    let text = serde_json::to_string_pretty(&plan).expect("plan serializes") + "\n";
    super::write_output(args.output.as_deref(), &text)
}

/// Bindings from `--bindings`, else loopc.toml's `[run]`, else none; with
/// where they came from (empty for none).
pub(super) fn load_bindings(path: Option<&Path>, settings: &Settings) -> Result<(Bindings, String), String> {
    if let Some(p) = path {
        let b = Bindings::load(p).map_err(|e| format!("bindings {}: {e}", p.display()))?;
        return Ok((b, p.display().to_string()));
    }
    if let (Some(run), Some(file)) = (&settings.run, &settings.file) {
        let run_text = toml::to_string(run).map_err(|e| e.to_string())?;
        let base = file.parent().unwrap_or(Path::new("."));
        let mut b = Bindings::parse(&run_text, base).map_err(|e| format!("{} [run]: {e}", file.display()))?;
        b.source = Some(file.clone());
        return Ok((b, format!("{}[run]", file.display())));
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    Ok((
        Bindings {
            base_dir: cwd,
            ..Bindings::default()
        },
        String::new(),
    ))
}

struct Job {
    plan: Plan,
    inputs: Map<String, Value>,
    /// The pool item this job runs (its index in the pool's items).
    item: Option<usize>,
}

fn input_sets(args: &RunArgs) -> Result<Vec<Map<String, Value>>, String> {
    let mut base = Map::new();
    for pair in &args.inputs {
        let (k, v) = loopc_runtime::inputs::parse_pair(pair).map_err(|e| e.to_string())?;
        base.insert(k, v);
    }
    let Some(file) = &args.inputs_file else { return Ok(vec![base]) };
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut sets = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let Ok(Value::Object(mut set)) = serde_json::from_str::<Value>(line) else {
            return Err(format!("{}:{}: each line must be a JSON object of inputs", file.display(), n + 1));
        };
        for (k, v) in &base {
            set.entry(k.clone()).or_insert(v.clone());
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Progress lines on stderr, prefixed with the run id when several runs share it.
fn printer(quiet: bool, many: bool) -> loopc_runtime::launch::Observer {
    std::sync::Arc::new(move |id: &str, line: &str| {
        if !quiet {
            if many {
                eprintln!("[{id}] {line}");
            } else {
                eprintln!("{line}");
            }
        }
    })
}

fn launcher(state_dir: &Path, bindings: Bindings, protected: Vec<PathBuf>, quiet: bool, many: bool) -> Launcher {
    // SIGTERM / SIGINT stop the runs this process executes, marked
    // `interrupted` (resumable), rather than killing it mid-step.
    if let Err(e) = loopc_runtime::stop::install_handlers() {
        eprintln!("loopc: warning: cannot handle SIGTERM/SIGINT ({e}); a signal kills loopc at once (its children die with it)");
    }
    Launcher {
        state_dir: state_dir.to_path_buf(),
        bindings,
        protected,
        observer: printer(quiet, many),
    }
}

/// Record one run per job, each in its own workspace; their ids, in order.
fn start_runs(
    jobs: &[Job],
    state_dir: &Path,
    bindings: &Bindings,
    label: &str,
    args: &RunArgs,
    options: &RunOptions,
) -> Result<Vec<String>, u8> {
    let workspace = bindings.root();
    // Resolved once: every job branches from the same commit.
    let source = match Source::resolve(&workspace, &bindings.workspace, args.base.as_deref(), args.dry_run) {
        Ok(s) => s,
        Err(e) => return Err(usage_error(e)),
    };
    if let Err(e) = source.check_state_dir(state_dir) {
        return Err(usage_error(e));
    }
    if let (Some(note), false) = (&source.note, args.quiet) {
        eprintln!("loopc: note: {note}");
    }
    let mut store = match Store::open(state_dir) {
        Ok(s) => s,
        Err(e) => return Err(usage_error(e)),
    };
    let mut run_ids = Vec::new();
    for job in jobs {
        match loopc_runtime::start_run(&mut store, &job.plan, &job.inputs, &source, (bindings, label), options) {
            Ok(started) => {
                for note in &started.notes {
                    eprintln!("loopc: warning: run {}: {note}", started.id);
                }
                if !args.quiet {
                    eprintln!(
                        "run {} started: {} ({}){}",
                        started.id,
                        job.plan.loop_name,
                        job.plan.source,
                        where_it_works(&started.workspace)
                    );
                }
                run_ids.push(started.id);
            }
            // The runs started so far are recorded and can be resumed; say which.
            Err(e) => {
                if !run_ids.is_empty() {
                    eprintln!(
                        "loopc: note: runs {} were recorded but not executed (loopc resume RUN)",
                        run_ids.join(", ")
                    );
                }
                return Err(usage_error(e));
            }
        }
    }
    drop(store);
    Ok(run_ids)
}

pub fn run(args: RunArgs, settings: &Settings) -> u8 {
    let state_dir = match args.state.resolve() {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let (bindings, label) = match load_bindings(args.bindings.as_deref(), settings) {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    let sets = match input_sets(&args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let pooled = args.items.is_some() || args.items_from.is_some();
    if !pooled && args.format == Format::Markdown {
        return usage_error("--format markdown is the report of a work pool (--items or --items-from)");
    }
    if !pooled && args.report.is_some() {
        return usage_error("--report writes the report of a work pool (--items or --items-from)");
    }
    if pooled && args.specs.len() != 1 {
        return usage_error("a work pool (--items, --items-from) runs one spec");
    }
    // The pool's items in priority order, each decided by the `[pool]` rules.
    let mut pool: Vec<(loopc_runtime::pool::Item, loopc_runtime::pool::PoolItem)> = Vec::new();
    if pooled {
        let rules = match super::pool::rules(&bindings, &label) {
            Ok(r) => r,
            Err(e) => return usage_error(e),
        };
        let items = match super::pool::read_items(
            args.items.as_deref(),
            args.items_from.as_deref(),
            &bindings.base_dir,
            bindings.pool.id_field(),
        ) {
            Ok(i) => i,
            Err(e) => return usage_error(e),
        };
        for item in items {
            let (decision, reason) = loopc_runtime::pool::decide(&item, &rules);
            let record = loopc_runtime::pool::PoolItem {
                id: item.id.clone(),
                priority: item.priority,
                labels: item.labels.clone(),
                decision,
                reason,
                run_id: None,
            };
            pool.push((item, record));
        }
    }
    let mut jobs = Vec::new();
    let mut protected: Vec<PathBuf> = args.trace.iter().cloned().chain(settings.file.clone()).collect();
    for spec in &args.specs {
        let plan = match compile_spec(spec, args.allow_unenforced, settings) {
            Ok((p, is_plan)) => {
                if is_plan {
                    protected.push(spec.clone());
                }
                p
            }
            Err(code) => return code,
        };
        if !args.dry_run {
            let missing = loopc_runtime::launch::preflight(&plan, &bindings);
            if !missing.is_empty() {
                return usage_error(format!(
                    "{}: no executor bound for {}; bind them in [bind] of {} (see `loopc run --help` and docs/runtime.md), or use --dry-run",
                    display_path(spec),
                    missing.join(", "),
                    if label.is_empty() { "a bindings file (--bindings) or loopc.toml [run]".to_owned() } else { label.clone() }
                ));
            }
        }
        let unusable = loopc_runtime::launch::build_executors(&plan, &bindings, args.dry_run);
        if !unusable.is_empty() {
            return usage_error(format!("{}: {} (nothing ran)", display_path(spec), unusable.join("; ")));
        }
        if pooled {
            let source = args.items.as_ref().map_or_else(|| "--items-from".to_owned(), |p| display_path(p));
            for (n, (item, record)) in pool.iter().enumerate() {
                if record.decision != loopc_runtime::pool::Decision::Run {
                    continue;
                }
                let inputs = loopc_runtime::pool::inputs_of(item, &plan.inputs, &sets[0]);
                match loopc_runtime::inputs::validate(&plan.inputs, inputs) {
                    Ok(inputs) => jobs.push(Job {
                        plan: plan.clone(),
                        inputs,
                        item: Some(n),
                    }),
                    Err(errors) => return usage_error(format!("{source}:{}: item `{}`: {}", item.line, item.id, errors.join("; "))),
                }
            }
            continue;
        }
        for set in &sets {
            match loopc_runtime::inputs::validate(&plan.inputs, set.clone()) {
                Ok(inputs) => jobs.push(Job {
                    plan: plan.clone(),
                    inputs,
                    item: None,
                }),
                Err(errors) => return usage_error(format!("{}: {}", display_path(spec), errors.join("; "))),
            }
        }
    }
    if args.trace.is_some() && jobs.len() != 1 {
        return usage_error("--trace takes a single run");
    }
    let workspace = bindings.root();
    let Some(sync) = Sync::parse(&args.sync) else {
        return usage_error(format!("--sync takes full, normal or off, not `{}`", args.sync));
    };
    let options = RunOptions {
        dry_run: args.dry_run,
        allow_unenforced: args.allow_unenforced,
        shadow: args.shadow,
        sync,
        jobs: args.jobs.unwrap_or(0),
    };
    if let Err(e) = loopc_runtime::check_state_location(&state_dir, &workspace) {
        return usage_error(e);
    }
    let run_ids = match start_runs(&jobs, &state_dir, &bindings, &label, &args, &options) {
        Ok(ids) => ids,
        Err(code) => return code,
    };

    // The outer loop: at most `jobs` runs at once, the rest queued; reports
    // in the order the runs were started (specs, then input lines).
    let launcher = launcher(&state_dir, bindings, protected, args.quiet, run_ids.len() > 1);
    let pool_id = if pooled {
        let mut records: Vec<_> = pool.into_iter().map(|(_, r)| r).collect();
        for (job, id) in jobs.iter().zip(&run_ids) {
            if let Some(n) = job.item {
                records[n].run_id = Some(id.clone());
            }
        }
        let id = super::pool::new_pool_id();
        let spec = display_path(&args.specs[0]);
        let recorded = Store::open(&state_dir).and_then(|s| {
            s.create_pool(&id, &spec, &records)?;
            s.update_pool(&id, &records)
        });
        if let Err(e) = recorded {
            return usage_error(format!("cannot record pool {id}: {e}"));
        }
        if !args.quiet {
            eprintln!(
                "pool {id}: {} items, {} to run (loopc pool {id} shows its report)",
                records.len(),
                run_ids.len()
            );
        }
        Some(id)
    } else {
        None
    };
    let results = launcher.run_many(&run_ids, args.jobs.unwrap_or(1) as usize);
    if let Some(pool_id) = pool_id {
        let mut broken = false;
        for (id, result) in &results {
            if let Err(e) = result {
                eprintln!("loopc: error: run {id}: {e}");
                broken = true;
            }
        }
        let report = Store::open(&state_dir).and_then(|s| loopc_runtime::pool::report::PoolReport::load(&s, &pool_id));
        return match report {
            Ok(r) => super::pool::print_report(&r, args.format, args.report.as_deref()).max(if broken { super::EXIT_USAGE } else { 0 }),
            Err(e) => usage_error(e),
        };
    }
    if let (Some(target), [(id, Ok(_))]) = (&args.trace, results.as_slice()) {
        let source = Store::open(&state_dir).ok().map(|s| loopc_runtime::trace::path(&s, id));
        match source.filter(|s| s.exists()) {
            // No iteration completed yet (a pause in the first one): no trace to copy.
            None => eprintln!("loopc: note: run {id} has no trace yet (no iteration completed)"),
            Some(source) => {
                // Replaced, not written through: a symlink planted at the target is not followed.
                let copied = std::fs::read(&source)
                    .and_then(|bytes| loopc_runtime::atomic::write(target, &bytes, loopc_runtime::atomic::Mode::Private));
                if let Err(e) = copied {
                    return usage_error(format!("cannot write trace {}: {e}", target.display()));
                }
            }
        }
    }
    finish(results, args.format)
}

/// Where a new run works, for its start line.
fn where_it_works(ws: &Workspace) -> String {
    match ws.kind {
        Kind::GitWorktree => format!(" in worktree {} on branch {}", ws.path.display(), ws.branch),
        Kind::Copy => format!(" in a copy at {}", ws.path.display()),
        Kind::InPlace => String::new(),
    }
}

pub fn resume(args: ResumeArgs, settings: &Settings) -> u8 {
    let state_dir = match args.state.resolve() {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let (row, bindings) = match prepare_continuation(&args.run, &state_dir, args.bindings.as_deref(), args.rebind, settings) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let protected: Vec<PathBuf> = settings.file.iter().cloned().collect();
    let result = launcher(&state_dir, bindings, protected, args.quiet, false).execute(&row.id);
    finish(vec![(row.id, result)], Format::Human)
}

/// The run to continue and the bindings to continue it with: the ones it
/// started with (or `--bindings`), which must be byte for byte what the
/// run recorded — a worker that rewrote them must not choose its next
/// executor. A person who reviewed a change passes `--rebind`.
fn prepare_continuation(
    run: &str,
    state_dir: &Path,
    bindings: Option<&Path>,
    rebind: bool,
    settings: &Settings,
) -> Result<(loopc_runtime::store::RunRow, Bindings), u8> {
    let store = Store::open(state_dir).map_err(usage_error)?;
    let asked = store.find_run(run).map_err(usage_error)?;
    // A composition's child run goes on only as part of the run that composes it.
    let root = store.root_of(&asked.id).map_err(usage_error)?;
    let row = if root == asked.id {
        asked
    } else {
        eprintln!(
            "loopc: run {} is a child of the composition run {root}; continuing that run",
            asked.id
        );
        store
            .run(&root)
            .map_err(usage_error)?
            .ok_or_else(|| usage_error(format!("run {root} vanished")))?
    };
    let path = bindings
        .map(Path::to_path_buf)
        .or_else(|| (!row.bindings_path.is_empty() && !row.bindings_path.ends_with("[run]")).then(|| PathBuf::from(&row.bindings_path)));
    let (bindings, label) = load_bindings(path.as_deref(), settings).map_err(|e| {
        usage_error(if row.bindings_sha256.is_empty() {
            e
        } else {
            format!("{e}; run {} started with bindings from {}", row.id, row.bindings_path)
        })
    })?;
    let plan = row.plan().map_err(usage_error)?;
    let workspace = store.workspace(&row.id).map_err(usage_error)?;
    let origin = BindingsOrigin {
        label,
        sha256: bindings.for_workspace(workspace.as_ref()).digest(&plan),
    };
    if origin.sha256 != row.bindings_sha256 {
        let short = |h: &str| {
            if h.is_empty() {
                "none".to_owned()
            } else {
                format!("sha256 {}", &h[..12])
            }
        };
        if !rebind {
            return Err(usage_error(format!(
                "the bindings of run {}, or a file their executors run, changed since it started ({} → {}: {}); someone, or a worker, edited them. Review them, then continue with --rebind",
                row.id,
                short(&row.bindings_sha256),
                short(&origin.sha256),
                if origin.label.is_empty() { "no bindings now".to_owned() } else { origin.label.clone() }
            )));
        }
        store.set_bindings(&row.id, &origin.label, &origin.sha256).map_err(usage_error)?;
        let _ = store.event(
            &row.id,
            row.iteration,
            "bindings",
            &format!("a person continued the run with changed bindings ({}, --rebind)", origin.label),
        );
    }
    Ok((row, bindings))
}

pub fn decide(args: DecideArgs, approved: bool, settings: &Settings) -> u8 {
    let state_dir = match args.state.resolve() {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    // Bindings first: a decision is not recorded for a run that cannot go on.
    let (row, bindings) = match prepare_continuation(&args.run, &state_dir, args.bindings.as_deref(), args.rebind, settings) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut store = match Store::open(&state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    // The decision is for the run named (a child of a composition may be
    // named); the execution that follows is of the run that composes it.
    let decided = match store.find_run(&args.run) {
        Ok(r) => r.id,
        Err(e) => return usage_error(e),
    };
    let decision = loopc_runtime::decide(&mut store, &decided, approved, &args.note);
    let decision = decision.map(|go_on| go_on || decided != row.id);
    match decision {
        Err(e) => usage_error(e),
        Ok(false) => {
            let row = match store.run(&row.id) {
                Ok(Some(r)) => r,
                Ok(None) => return usage_error(format!("run {} vanished", row.id)),
                Err(e) => return usage_error(e),
            };
            emit(&format!("run {}: {} — {}\n", row.id, row.status.as_str(), row.reason));
            if row.status == Status::Succeeded {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            }
        }
        Ok(true) => {
            drop(store);
            let protected: Vec<PathBuf> = settings.file.iter().cloned().collect();
            let result = launcher(&state_dir, bindings, protected, args.quiet, false).execute(&row.id);
            finish(vec![(row.id, result)], Format::Human)
        }
    }
}
