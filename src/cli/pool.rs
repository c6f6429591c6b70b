//! `loopc run --items` / `--items-from` (a work pool) and `loopc pool POOL`:
//! reading the items, compiling the `[pool]` rules, and printing the pool's
//! report. The deciding and the report are the runtime's (`loopc_runtime::pool`).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use loopc_runtime::bindings::Bindings;
use loopc_runtime::pool::report::PoolReport;
use loopc_runtime::pool::{items, Item, Rules};
use loopc_runtime::Store;

use super::report::{self, Format};
use super::run::{StateArgs, EXIT_AWAITING_HUMAN};
use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK};

/// The formats of a pool's report.
pub const POOL_FORMATS: &[Format] = &[Format::Human, Format::Json, Format::Markdown];

/// How long `--items-from` may take.
const ITEMS_FROM_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Args, Debug)]
pub struct PoolArgs {
    /// Pool id (printed by `loopc run --items`).
    pub pool: String,
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = report::offered(POOL_FORMATS))]
    pub format: Format,
}

/// Items from `--items FILE` or `--items-from CMD`, in priority order.
pub fn read_items(file: Option<&Path>, command: Option<&str>, root: &Path, id_field: &str) -> Result<Vec<Item>, String> {
    let mut items = match (file, command) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let shown = path.display().to_string();
            items::parse(&text, items::Layout::of(&shown, &text), &shown, id_field)?
        }
        (None, Some(cmd)) => {
            let text = run_items_command(cmd, root)?;
            let layout = if text.trim_start().starts_with('[') {
                items::Layout::JsonArray
            } else {
                items::Layout::JsonLines
            };
            items::parse(&text, layout, &format!("--items-from `{cmd}`"), id_field)?
        }
        (None, None) => return Ok(Vec::new()),
    };
    items::by_priority(&mut items);
    Ok(items)
}

/// Run `cmd` with `sh -c` in `root`; its stdout, or why not (a non-zero
/// exit names the command and the last lines of its stderr).
fn run_items_command(cmd: &str, root: &Path) -> Result<String, String> {
    // Bindings read from `bindings.toml` have the base directory ``; that is the working directory.
    let root = if root.as_os_str().is_empty() { Path::new(".") } else { root };
    let mut child = Command::new("sh")
        .args(["-c", cmd])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("--items-from `{cmd}`: cannot start sh: {e}"))?;
    // Read both pipes on threads: a command that fills one would block otherwise.
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > ITEMS_FROM_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "--items-from `{cmd}` took longer than {}s; stopped",
                    ITEMS_FROM_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("--items-from `{cmd}`: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        return Err(format!(
            "--items-from `{cmd}` failed ({status}){}",
            if tail.is_empty() { String::new() } else { format!(":\n{tail}") }
        ));
    }
    Ok(stdout)
}

/// The `[pool]` rules compiled, or a usage message naming the bindings and the position.
pub fn rules(bindings: &Bindings, label: &str) -> Result<Rules, String> {
    let compile = |key: &str, text: &Option<String>| -> Result<Option<loopc_plan::Expr>, String> {
        let Some(text) = text else { return Ok(None) };
        let parsed = loopc_ir::when::parse(text).map_err(|e| {
            format!(
                "{} [pool] {key}: {} at column {} of `{text}`",
                if label.is_empty() { "bindings" } else { label },
                e.message,
                e.offset + 1
            )
        })?;
        Ok(Some(loopc_compile::lower_condition(&parsed)))
    };
    Ok(Rules {
        select: compile("select", &bindings.pool.select)?,
        escalate_if: compile("escalate_if", &bindings.pool.escalate_if)?,
    })
}

/// Print a pool's report; the exit status: 0 when every run item
/// succeeded, 3 when some wait for a person, 1 otherwise.
pub fn print_report(report: &PoolReport, format: Format, target: Option<&Path>) -> u8 {
    if let Some(target) = target {
        let text = if target.extension().is_some_and(|e| e == "md") {
            report.markdown()
        } else {
            report::to_json(report)
        };
        if let Err(e) = std::fs::write(target, text) {
            return usage_error(format!("cannot write report {}: {e}", target.display()));
        }
    }
    emit(&match format {
        Format::Json => report::to_json(report),
        Format::Markdown => report.markdown(),
        _ => report.human(),
    });
    match report.waiting_and_all_succeeded() {
        (true, _) => EXIT_AWAITING_HUMAN,
        (false, true) => EXIT_OK,
        (false, false) => EXIT_FINDINGS,
    }
}

/// `loopc pool POOL`: the pool's report as the store has it now.
pub fn pool(args: PoolArgs) -> u8 {
    let store = match args.state.resolve().and_then(|d| Store::open(&d).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    match store.pool(&args.pool) {
        Ok(Some(_)) => {}
        Ok(None) => return usage_error(format!("no pool `{}` in {}", args.pool, store.path().display())),
        Err(e) => return usage_error(e),
    }
    match PoolReport::load(&store, &args.pool) {
        Ok(r) => print_report(&r, args.format, None),
        Err(e) => usage_error(e),
    }
}

/// A new pool id (the run ids' form, with `p`).
pub fn new_pool_id() -> String {
    let id = loopc_runtime::new_run_id();
    format!("p{}", &id[1..])
}
