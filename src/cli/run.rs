//! `loopc compile`, `run`, `resume`, `approve`, `reject`, `runs`, `status`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use loopc_check::{Checker, Limits};
use loopc_diagnostics::render::{render_human, FileDiagnostics, HumanOptions};
use loopc_diagnostics::Severity;
use loopc_plan::{Plan, ENFORCED_SAFETY_TYPES};
use loopc_runtime::bindings::Bindings;
use loopc_runtime::{Report, RunOptions, Runner, Status, Store, Sync};
use serde_json::{Map, Value};

use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::config;
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Where runs are kept (SQLite).
    #[arg(long, default_value = ".loopc", global = true)]
    pub state_dir: PathBuf,
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
    /// Bindings file (default: the `[run]` table of loopc.toml).
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    /// Simulate: scripted executors only, others answer synthetically; no tool side effects.
    #[arg(long)]
    pub dry_run: bool,
    /// Run at most this many loops at once; the rest wait in a queue.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Accept safety constraint types the runtime cannot enforce.
    #[arg(long)]
    pub allow_unenforced: bool,
    /// Also copy the run's Loop Trace 1.0 file here (single run only).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print only the final report.
    #[arg(short, long)]
    pub quiet: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Checkpoint durability: `full` (default; survives power loss), `normal`, or `off` (benchmarks).
    #[arg(long, default_value = "full", hide = true)]
    pub sync: String,
}

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
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
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(flatten)]
    pub state: StateArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    #[command(flatten)]
    pub state: StateArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// Check a spec and lower it; diagnostics go to stderr.
fn compile_spec(path: &Path, allow_unenforced: bool) -> Result<Plan, u8> {
    let bytes = std::fs::read(path).map_err(|e| usage_error(format!("cannot read {}: {e}", path.display())))?;
    // A compiled plan runs as is.
    if path.extension().is_some_and(|e| e == "json") {
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            if value.get("plan_version").is_some() {
                return serde_json::from_value(value).map_err(|e| {
                    eprintln!("loopc: error: {} is not a valid loopc plan: {e}", display_path(path));
                    EXIT_FINDINGS
                });
            }
        }
    }
    let analysis = Checker::new(Limits::default()).analyse(path, &bytes);
    let errors: Vec<_> = analysis
        .checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    let Some((spec, _, _)) = analysis.spec.filter(|_| errors.is_empty()) else {
        let report = FileDiagnostics {
            source: analysis.checked.source,
            display_path: display_path(path),
            diagnostics: errors,
        };
        eprint!("{}", render_human(&[report], HumanOptions::default()));
        eprintln!("loopc: error: {} has errors; it does not compile", display_path(path));
        return Err(EXIT_FINDINGS);
    };
    let plan = loopc_ir::to_plan(&spec, &display_path(path)).map_err(|errors| {
        for e in errors {
            eprintln!("loopc: error: {}: {e}", display_path(path));
        }
        EXIT_FINDINGS
    })?;
    let unenforced: Vec<String> = plan
        .safety
        .iter()
        .filter(|s| !ENFORCED_SAFETY_TYPES.contains(&s.kind.as_str()))
        .map(|s| format!("`{}` ({})", s.id, s.kind))
        .collect();
    if !unenforced.is_empty() && !allow_unenforced {
        eprintln!(
            "loopc: error: {}: the runtime cannot enforce safety constraint{} {}; pass --allow-unenforced to run without them (they are then reported, not enforced)",
            display_path(path),
            if unenforced.len() == 1 { "" } else { "s" },
            unenforced.join(", ")
        );
        return Err(EXIT_FINDINGS);
    }
    Ok(plan)
}

pub fn compile(args: CompileArgs) -> u8 {
    if args.plan_schema {
        emit(&(serde_json::to_string_pretty(&schemars::schema_for!(Plan)).expect("schema serializes") + "\n"));
        return EXIT_OK;
    }
    let spec = args.spec.expect("clap requires it");
    let plan = match compile_spec(&spec, args.allow_unenforced) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let text = serde_json::to_string_pretty(&plan).expect("plan serializes") + "\n";
    super::write_output(args.output.as_deref(), &text)
}

/// Bindings from `--bindings`, else loopc.toml's `[run]`, else none.
fn load_bindings(path: Option<&Path>) -> Result<(Bindings, String), String> {
    if let Some(p) = path {
        return Bindings::load(p)
            .map(|b| (b, p.display().to_string()))
            .map_err(|e| format!("bindings {}: {e}", p.display()));
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    if let Some(file) = config::discover(&cwd) {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let table: toml::Table = text.parse().map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(run) = table.get("run") {
            let run_text = toml::to_string(run).map_err(|e| e.to_string())?;
            let base = file.parent().unwrap_or(Path::new("."));
            return Bindings::parse(&run_text, base)
                .map(|b| (b, format!("{}[run]", file.display())))
                .map_err(|e| format!("{} [run]: {e}", file.display()));
        }
    }
    Ok((
        Bindings {
            base_dir: cwd,
            ..Bindings::default()
        },
        String::new(),
    ))
}

/// Every machine step must have an executor before a run starts.
fn preflight(plan: &Plan, bindings: &Bindings) -> Vec<String> {
    use loopc_runtime::executor::StepRef;
    let mut missing = Vec::new();
    for w in &plan.workers {
        if bindings
            .select(&StepRef::Worker(w.id.clone()), None, Some((&w.model.provider, &w.model.name)))
            .is_none()
        {
            missing.push(format!("workers.{} (model {}/{})", w.id, w.model.provider, w.model.name));
        }
    }
    for e in &plan.evaluators {
        let step = StepRef::Evaluator(e.id.clone());
        let bound = match &e.kind {
            loopc_plan::EvaluatorKind::Human { .. } => true,
            loopc_plan::EvaluatorKind::Deterministic { implementation } => bindings.select(&step, Some(implementation), None).is_some(),
            loopc_plan::EvaluatorKind::LlmRubric { model, .. } => {
                bindings.select(&step, None, Some((&model.provider, &model.name))).is_some()
            }
        };
        if !bound {
            missing.push(format!("evaluators.{}", e.id));
        }
    }
    missing
}

struct Job {
    plan: Plan,
    inputs: Map<String, Value>,
}

fn input_sets(args: &RunArgs) -> Result<Vec<Map<String, Value>>, String> {
    let mut base = Map::new();
    for pair in &args.inputs {
        let (k, v) = loopc_runtime::inputs::parse_pair(pair)?;
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

fn printer(quiet: bool, prefix: Option<String>) -> impl FnMut(&str) {
    move |line: &str| {
        if !quiet {
            match &prefix {
                Some(p) => eprintln!("[{p}] {line}"),
                None => eprintln!("{line}"),
            }
        }
    }
}

fn execute_one(state_dir: &Path, run_id: &str, bindings: Bindings, quiet: bool, prefix: Option<String>) -> Result<Report, String> {
    let mut store = Store::open(state_dir)?;
    let mut say = printer(quiet, prefix);
    let mut runner = Runner::new(&mut store, run_id, bindings, &mut say)?;
    runner.execute()
}

pub fn run(args: RunArgs) -> u8 {
    let (bindings, bindings_label) = match load_bindings(args.bindings.as_deref()) {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    let sets = match input_sets(&args) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut jobs = Vec::new();
    for spec in &args.specs {
        let plan = match compile_spec(spec, args.allow_unenforced) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if !args.dry_run {
            let missing = preflight(&plan, &bindings);
            if !missing.is_empty() {
                return usage_error(format!(
                    "{}: no executor bound for {}; bind them in [bind] of {} (see `loopc run --help` and docs/runtime.md), or use --dry-run",
                    display_path(spec),
                    missing.join(", "),
                    if bindings_label.is_empty() { "a bindings file (--bindings) or loopc.toml [run]".to_owned() } else { bindings_label.clone() }
                ));
            }
        }
        for set in &sets {
            match loopc_runtime::inputs::validate(&plan.inputs, set.clone()) {
                Ok(inputs) => jobs.push(Job {
                    plan: plan.clone(),
                    inputs,
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
        sync,
    };
    let store = match Store::open(&args.state.state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut run_ids = Vec::new();
    for job in &jobs {
        match loopc_runtime::start_run(&store, &job.plan, &job.inputs, &workspace, &bindings_label, &options) {
            Ok(id) => {
                if !args.quiet {
                    eprintln!("run {id} started: {} ({})", job.plan.loop_name, job.plan.source);
                }
                run_ids.push(id);
            }
            Err(e) => return usage_error(e),
        }
    }
    drop(store);

    // The outer loop: at most `jobs` runs at once, the rest queued.
    let queue = Mutex::new(run_ids.iter().cloned().collect::<std::collections::VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let workers = args.jobs.max(1).min(run_ids.len().max(1));
    let many = run_ids.len() > 1;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(id) = queue.lock().expect("queue").pop_front() else {
                    break;
                };
                let prefix = many.then(|| id.clone());
                let result = execute_one(&args.state.state_dir, &id, bindings.clone(), args.quiet, prefix);
                results.lock().expect("results").push((id, result));
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    if let (Some(target), [(id, Ok(_))]) = (&args.trace, results.as_slice()) {
        let source = Store::open(&args.state.state_dir).ok().map(|s| loopc_runtime::trace::path(&s, id));
        match source.filter(|s| s.exists()) {
            // No iteration completed yet (a pause in the first one): no trace to copy.
            None => eprintln!("loopc: note: run {id} has no trace yet (no iteration completed)"),
            Some(source) => {
                if let Err(e) = std::fs::copy(&source, target) {
                    return usage_error(format!("cannot write trace {}: {e}", target.display()));
                }
            }
        }
    }
    finish(results, args.format)
}

fn finish(results: Vec<(String, Result<Report, String>)>, format: OutputFormat) -> u8 {
    let mut status = EXIT_OK;
    let mut reports = Vec::new();
    for (id, result) in results {
        match result {
            Ok(report) => {
                status = status.max(match report.status {
                    Status::Succeeded => EXIT_OK,
                    Status::AwaitingHuman => EXIT_AWAITING_HUMAN,
                    Status::Running => EXIT_USAGE,
                    Status::Halted | Status::Rejected => EXIT_FINDINGS,
                });
                reports.push(report);
            }
            Err(e) => {
                eprintln!("loopc: error: run {id}: {e}");
                status = status.max(EXIT_USAGE);
            }
        }
    }
    match format {
        OutputFormat::Json => emit(&(serde_json::to_string_pretty(&reports).expect("reports serialize") + "\n")),
        OutputFormat::Human => emit(&reports.iter().map(human_report).collect::<String>()),
    }
    status
}

fn human_report(r: &Report) -> String {
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
    if let Some(what) = &r.needs_human {
        out.push_str(&format!(
            "  needs a person: {what}\n    loopc approve {} [--note ...]   |   loopc reject {} [--note ...]\n",
            r.run_id, r.run_id
        ));
    }
    out
}

pub fn resume(args: ResumeArgs) -> u8 {
    continue_run(&args.run, &args.state.state_dir, args.bindings.as_deref(), args.quiet)
}

/// Continue a run with the options it was started with (dry run,
/// unenforced safety types, checkpoint durability are part of the run).
fn continue_run(run: &str, state_dir: &Path, bindings: Option<&Path>, quiet: bool) -> u8 {
    let store = match Store::open(state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let row = match store.find_run(run) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    // The bindings the run started with, unless others are given.
    let path = bindings
        .map(Path::to_path_buf)
        .or_else(|| (!row.bindings_path.is_empty() && !row.bindings_path.ends_with("[run]")).then(|| PathBuf::from(&row.bindings_path)));
    let (bindings, _) = match load_bindings(path.as_deref()) {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    drop(store);
    let result = execute_one(state_dir, &row.id, bindings, quiet, None);
    finish(vec![(row.id, result)], OutputFormat::Human)
}

pub fn decide(args: DecideArgs, approved: bool) -> u8 {
    let store = match Store::open(&args.state.state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let row = match store.find_run(&args.run) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    match loopc_runtime::decide(&store, &row.id, approved, &args.note) {
        Err(e) => usage_error(e),
        Ok(false) => {
            let row = store.run(&row.id).ok().flatten().expect("run exists");
            emit(&format!("run {}: {} — {}\n", row.id, row.status.as_str(), row.reason));
            if row.status == Status::Succeeded {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            }
        }
        Ok(true) => {
            drop(store);
            continue_run(&row.id, &args.state.state_dir, args.bindings.as_deref(), args.quiet)
        }
    }
}

pub fn runs(args: RunsArgs) -> u8 {
    let store = match Store::open(&args.state.state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let rows = match store.runs() {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    match args.format {
        OutputFormat::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|r| serde_json::json!({"id": r.id, "loop_name": r.loop_name, "status": r.status, "reason": r.reason, "iterations": r.iteration, "cost_usd": r.cost_usd, "created_at": r.created_at, "updated_at": r.updated_at}))
                .collect();
            emit(&(serde_json::to_string_pretty(&list).expect("runs serialize") + "\n"));
        }
        OutputFormat::Human => {
            let mut out = format!(
                "{:<30} {:<24} {:<15} {:>5} {:>9}  {}\n",
                "RUN", "LOOP", "STATUS", "ITER", "COST", "REASON"
            );
            for r in &rows {
                out.push_str(&format!(
                    "{:<30} {:<24} {:<15} {:>5} {:>9.4}  {}\n",
                    r.id,
                    r.loop_name,
                    r.status.as_str(),
                    r.iteration,
                    r.cost_usd,
                    r.reason
                ));
            }
            emit(&out);
        }
    }
    EXIT_OK
}

pub fn status(args: StatusArgs) -> u8 {
    let store = match Store::open(&args.state.state_dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let row = match store.find_run(&args.run) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let iterations = store.iterations(&row.id).unwrap_or_default();
    let events = store.events(&row.id).unwrap_or_default();
    let trace = loopc_runtime::trace::path(&store, &row.id);
    match args.format {
        OutputFormat::Json => emit(
            &(serde_json::to_string_pretty(&serde_json::json!({
                "id": row.id, "loop_name": row.loop_name, "status": row.status, "reason": row.reason, "waiting_for": row.waiting_for,
                "iterations": iterations, "cost_usd": row.cost_usd, "tokens": row.tokens,
                "events": events.iter().map(|(i, k, m)| serde_json::json!({"iteration": i, "kind": k, "message": m})).collect::<Vec<_>>(),
                "trace": trace.exists().then(|| trace.display().to_string()),
            }))
            .expect("status serializes")
                + "\n"),
        ),
        OutputFormat::Human => {
            let mut out = format!(
                "run {} ({})\n  status: {}{}\n",
                row.id,
                row.loop_name,
                row.status.as_str(),
                if row.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", row.reason)
                }
            );
            if row.status == Status::AwaitingHuman {
                out.push_str(&format!(
                    "  waiting for: {} (loopc approve {} / loopc reject {})\n",
                    row.waiting_for, row.id, row.id
                ));
            }
            out.push_str(&format!("  spend: ${:.4}, {} tokens\n", row.cost_usd, row.tokens));
            for it in &iterations {
                let metrics: Vec<String> = it.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!(
                    "  iteration {}: {} · {} · ${:.4}\n",
                    it.iteration,
                    it.decision,
                    metrics.join(" "),
                    it.cost_usd
                ));
            }
            for (i, kind, message) in events.iter().rev().take(10).collect::<Vec<_>>().into_iter().rev() {
                out.push_str(&format!("  [{i}] {kind}: {message}\n"));
            }
            if trace.exists() {
                out.push_str(&format!("  trace: {}\n", trace.display()));
            }
            emit(&out);
        }
    }
    EXIT_OK
}
