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
            wait_for(&store, &row.id, args.wait, |s| s == Status::Cancelled || s.is_final())
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
            wait_for(&store, &row.id, args.wait, |s| s != Status::Running)
        }
        Err(loopc_runtime::Error::Run(e)) => {
            eprintln!("loopc: {e}");
            EXIT_FINDINGS
        }
        Err(e) => usage_error(e),
    }
}

/// Wait until the run's status satisfies `done` (or `seconds` pass: exit 2).
fn wait_for(store: &Store, id: &str, seconds: u64, done: impl Fn(Status) -> bool) -> u8 {
    if seconds == 0 {
        return EXIT_OK;
    }
    let until = Instant::now() + Duration::from_secs(seconds);
    loop {
        match store.run(id) {
            Ok(Some(row)) if done(row.status) => {
                emit(&format!(
                    "run {id}: {}{}\n",
                    row.status.as_str(),
                    if row.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", row.reason)
                    }
                ));
                return EXIT_OK;
            }
            Ok(Some(_)) => {}
            Ok(None) => return usage_error(format!("run {id} vanished")),
            Err(e) => return usage_error(e),
        }
        if Instant::now() >= until {
            eprintln!("loopc: run {id} has not stopped after {seconds}s; its process still runs a step (the request stays: it acts at the step's end)");
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
