//! Stopping a run that executes in this process.
//!
//! Two things can stop it before it ends by itself:
//! - **a signal** to this process (SIGTERM from a supervisor or `kill`,
//!   SIGINT from Ctrl-C): every run this process executes is stopped and
//!   marked `interrupted`, which `loopc resume` continues;
//! - **a request in the state database** for one run (`loopc cancel`,
//!   `loopc pause` from any process; see [`crate::store::Control`]).
//!
//! Either way the running step's process group is killed (a pause lets the
//! step finish) and the step is not recorded, so a resumed run executes it
//! again, from the start; nothing a finished step did is repeated. The
//! signal handlers only set an atomic flag (the async-signal-safe way); the
//! process waits of [`crate::process::Spawned`] and the store's step commits
//! read it. A second signal ends the process at once (exit 128 + signal),
//! for a person who does not want to wait; its children still die with it
//! (`PR_SET_PDEATHSIG`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

/// The signal that asked this process to stop (0: none yet).
static SIGNAL: LazyLock<Arc<AtomicUsize>> = LazyLock::new(|| Arc::new(AtomicUsize::new(0)));
/// Set by the first signal; the second exits at once.
static SIGNALLED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// Handle SIGTERM and SIGINT as requests to stop (see the module docs).
/// Called by the commands that execute runs, not by `check` or `score`.
pub fn install_handlers() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    for signal in [SIGTERM, SIGINT] {
        // Registered first, so that it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&SIGNALLED))?;
        signal_hook::flag::register(signal, Arc::clone(&SIGNALLED))?;
        signal_hook::flag::register_usize(signal, Arc::clone(&SIGNAL), signal as usize)?;
    }
    Ok(())
}

/// The signal this process was asked to stop by, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        n => i32::try_from(n).ok(),
    }
}

/// The name of a stopping signal, for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        signal_hook::consts::SIGTERM => "SIGTERM".to_owned(),
        signal_hook::consts::SIGINT => "SIGINT".to_owned(),
        n => format!("signal {n}"),
    }
}

/// Why a run stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// This process got a signal: the run is `interrupted`.
    Signal(i32),
    /// `loopc cancel`: the run is `cancelled` (final).
    Cancel,
    /// `loopc pause`: the run is `paused` at a step boundary.
    Pause,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Signal(s) => write!(f, "interrupted by {}", signal_name(*s)),
            Stop::Cancel => f.write_str("cancelled by loopc cancel"),
            Stop::Pause => f.write_str("paused by loopc pause"),
        }
    }
}
