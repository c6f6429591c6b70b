//! `loopc serve`: the adapter from the command line to `loopc_serve`.

use std::path::PathBuf;

use clap::Args;
use loopc_check::Settings;

use super::run::{load_bindings, StateArgs};
use super::{usage_error, EXIT_OK};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; only this machine can reach the default. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    pub listen: String,
    /// Queued runs executed at once (each a `loopc run`); the rest wait in the queue.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: u32,
    /// Bindings file with the `[[schedule]]`, `[[hook]]` and `[webhook]` tables, which the
    /// runs use too (default: the `[run]` table of loopc.toml).
    #[arg(long)]
    pub bindings: Option<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    /// Serve the web UI too (runs, live progress, diagrams, approve / reject). Every request
    /// but the login form, /healthz and the signed webhook then needs the token in
    /// $LOOPC_UI_TOKEN (Authorization: Bearer, or the login form's cookie).
    #[arg(long)]
    pub ui: bool,
    /// Start the server's clock at this instant (RFC 3339) instead of now; it then runs at
    /// the system's pace. For testing schedules.
    #[arg(long, value_name = "TIME", hide = true)]
    pub clock_start: Option<String>,
}

pub fn run(args: ServeArgs, settings: &Settings) -> u8 {
    // Absolute, so that the queue's requests mean the same from any directory.
    let path = match args.bindings.as_deref().map(std::fs::canonicalize).transpose() {
        Ok(p) => p,
        Err(e) => return usage_error(format!("bindings {}: {e}", args.bindings.unwrap_or_default().display())),
    };
    let (mut bindings, from) = match load_bindings(path.as_deref(), settings) {
        Ok(b) => b,
        Err(e) => return usage_error(e),
    };
    if args.bindings.is_none() {
        // From loopc.toml's [run]: a run started in the bindings' directory
        // reads them there itself; `--bindings loopc.toml` would not parse.
        bindings.source = None;
    }
    let state_dir = match args.state.resolve() {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let clock = match &args.clock_start {
        None => loopc_serve::Clock::system(),
        Some(text) => match loopc_serve::Clock::starting_at_rfc3339(text) {
            Ok(clock) => clock,
            Err(e) => return usage_error(format!("--clock-start {e}")),
        },
    };
    let ui_token = match (args.ui, std::env::var("LOOPC_UI_TOKEN")) {
        (false, _) => None,
        // It travels in a cookie and a header: letters, digits and `-._~+/=` only.
        (true, Ok(t)) if t.trim().bytes().any(|b| !(b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b))) => {
            return usage_error(
                "$LOOPC_UI_TOKEN may hold letters, digits and -._~+/= only (it is sent as a cookie), e.g. `openssl rand -hex 24`",
            )
        }
        (true, Ok(t)) if t.trim().len() >= 16 => Some(t.trim().to_owned()),
        (true, Ok(t)) if !t.trim().is_empty() => {
            return usage_error("$LOOPC_UI_TOKEN is shorter than 16 characters: use a long random one, e.g. `openssl rand -hex 24`")
        }
        (true, _) => {
            return usage_error(
                "--ui needs a token in $LOOPC_UI_TOKEN (every page asks for it), e.g. `export LOOPC_UI_TOKEN=$(openssl rand -hex 24)`",
            )
        }
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return usage_error(format!("cannot find the loopc executable: {e}")),
    };
    let options = loopc_serve::Options {
        listen: args.listen,
        jobs: args.jobs as usize,
        state_dir: state_dir.clone(),
        bindings,
        exe,
        clock,
        runs_json: super::runs::runs_json,
        ui_token: ui_token.clone(),
    };
    let ui = ui_token.is_some();
    let from = if from.is_empty() { "no bindings".to_owned() } else { from };
    let result = loopc_serve::serve(options, |addr| {
        // The first line on stdout, for whoever started the server (a port 0 caller).
        println!("listening on http://{addr}");
        eprintln!(
            "loopc serve: listening on http://{addr} (state {}, {from}); GET /api/runs, GET /api/queue, POST /hooks/github",
            state_dir.display()
        );
        if ui {
            eprintln!("loopc serve: web UI on http://{addr}/ (log in with $LOOPC_UI_TOKEN)");
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    });
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => usage_error(e),
    }
}
