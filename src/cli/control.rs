//! `loopc cancel` and `loopc pause`: asking a run to stop, from any shell
//! on the machine that holds its state (`loopc continue` is a resume).

use std::time::{Duration, Instant};

use clap::Args;
use loopc_runtime::{Requested, Status, Store};

use super::run::StateArgs;
use super::runs::open_run;
use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct ControlArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    #[command(flatten)]
    pub state: StateArgs,
    /// Seconds to wait for the executing process to act on it (0: ask and return).
    #[arg(long, default_value_t = 30)]
    pub wait: u64,
}

/// `loopc cancel RUN`: the run ends as `cancelled` (exit 0 once it has).
pub fn cancel(args: &ControlArgs) -> u8 {
    let (mut store, row) = match open_run(&args.state, &args.run) {
        Ok(found) => found,
        Err(e) => return usage_error(e),
    };
    match loopc_runtime::cancel(&mut store, &row.id) {
        Ok(Requested::Cancelled) => {
            emit(&format!("run {}: cancelled\n", row.id));
            EXIT_OK
        }
        Ok(Requested::Asked { pid }) => {
            emit(&format!("run {}: asked process {pid} to cancel it\n", row.id));
            wait_for_cancel(&mut store, &row.id, args.wait)
        }
        Err(loopc_runtime::Error::Run(e)) => {
            eprintln!("loopc: {e}");
            EXIT_FINDINGS
        }
        Err(e) => usage_error(e),
    }
}

/// `loopc pause RUN`: the run stops at its next step boundary as `paused`.
pub fn pause(args: &ControlArgs) -> u8 {
    let (mut store, row) = match open_run(&args.state, &args.run) {
        Ok(found) => found,
        Err(e) => return usage_error(e),
    };
    match loopc_runtime::pause(&mut store, &row.id) {
        Ok(pid) => {
            emit(&format!("run {}: asked process {pid} to pause it after its current step\n", row.id));
            wait_for_pause(&store, &row.id, args.wait)
        }
        Err(loopc_runtime::Error::Run(e)) => {
            eprintln!("loopc: {e}");
            EXIT_FINDINGS
        }
        Err(e) => usage_error(e),
    }
}

/// Wait until the asked process cancelled the run. When that process ends
/// without doing so (it reached a gate, or died), the run is cancelled here;
/// a run that ended another way first is said so (exit 1).
fn wait_for_cancel(store: &mut Store, id: &str, seconds: u64) -> u8 {
    if seconds == 0 {
        return EXIT_OK;
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    loop {
        let row = match store.run(id) {
            Ok(Some(row)) => row,
            Ok(None) => return usage_error(format!("run {id} vanished")),
            Err(e) => return usage_error(e),
        };
        match row.status {
            Status::Cancelled => {
                emit(&format!("run {id}: cancelled\n"));
                return EXIT_OK;
            }
            s if s.is_final() => {
                eprintln!("loopc: run {id} ended {} before the cancel took effect: {}", s.as_str(), row.reason);
                return EXIT_FINDINGS;
            }
            _ => {}
        }
        match store.holder(id) {
            Ok(Some(_)) => {}
            // The process let the run go without cancelling it: do it here.
            Ok(None) => return cancel_here(store, id),
            Err(e) => return usage_error(e),
        }
        if Instant::now() >= until {
            eprintln!("loopc: run {id} has not stopped after {seconds}s; its process still runs a step (the cancel stays asked: it acts at the step's end)");
            return EXIT_USAGE;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn cancel_here(store: &mut Store, id: &str) -> u8 {
    match loopc_runtime::cancel(store, id) {
        Ok(Requested::Cancelled) => {
            emit(&format!("run {id}: cancelled\n"));
            EXIT_OK
        }
        Ok(Requested::Asked { pid }) => {
            eprintln!("loopc: run {id} is now executed by process {pid}; asked it to cancel the run");
            EXIT_USAGE
        }
        Err(loopc_runtime::Error::Run(e)) => {
            eprintln!("loopc: {e}");
            EXIT_FINDINGS
        }
        Err(e) => usage_error(e),
    }
}

/// Wait until the run is paused (exit 0); a run that stopped another way
/// first (it ended, or waits for a person) is said so (exit 1).
fn wait_for_pause(store: &Store, id: &str, seconds: u64) -> u8 {
    if seconds == 0 {
        return EXIT_OK;
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    loop {
        match store.run(id) {
            Ok(Some(row)) if row.status != Status::Running => {
                let reason = if row.reason.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", row.reason)
                };
                emit(&format!("run {id}: {}{reason}\n", row.status.as_str()));
                return if row.status == Status::Paused { EXIT_OK } else { EXIT_FINDINGS };
            }
            Ok(Some(_)) => {}
            Ok(None) => return usage_error(format!("run {id} vanished")),
            Err(e) => return usage_error(e),
        }
        if Instant::now() >= until {
            eprintln!("loopc: run {id} has not paused after {seconds}s; its process still runs a step (the pause stays asked: it acts at the step's end)");
            return EXIT_USAGE;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Args, Debug)]
pub struct AddContextArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// What the workers should know (given to every worker of the next iteration as feedback).
    #[arg(long)]
    pub note: String,
    #[command(flatten)]
    pub state: StateArgs,
}

/// `loopc add-context RUN --note TEXT`: a note for the run's next iteration.
pub fn add_context(args: &AddContextArgs) -> u8 {
    let (store, row) = match open_run(&args.state, &args.run) {
        Ok(found) => found,
        Err(e) => return usage_error(e),
    };
    if row.status.is_final() {
        eprintln!(
            "loopc: run {} already ended ({}): no iteration will read the note",
            row.id,
            row.status.as_str()
        );
        return EXIT_FINDINGS;
    }
    if args.note.trim().is_empty() {
        return usage_error("--note is empty");
    }
    match store.add_note(&row.id, &args.note) {
        Ok(()) => {
            emit(&format!(
                "run {}: the note reaches the workers of the next iteration to start\n",
                row.id
            ));
            EXIT_OK
        }
        Err(e) => usage_error(e),
    }
}
