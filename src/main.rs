//! `loopc`: the compiler for LSS agent-loop specifications.

mod cli;
mod files;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: parsing and schema compilation are allocation-bound (malloc and
/// free are a fifth of a check's instructions); it also touches fewer pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // The server reads each document's nearest loopc.toml itself, and says
    // in the editor when one cannot be used: that is no reason not to start.
    let settings = if matches!(args.command, cli::Command::Lsp(_)) {
        Ok(loopc_check::Settings::default())
    } else {
        args.settings()
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return ExitCode::from(cli::usage_error(e)),
    };
    let s = &settings;
    let code = match args.command {
        cli::Command::Check(check) => cli::check::run(check, s),
        cli::Command::Diagram(diagram) => cli::diagram::run(diagram, s),
        cli::Command::Explain(explain) => cli::explain::run(explain),
        cli::Command::Lsp(a) => cli::lsp::run(&a, args.config.as_deref(), args.no_config),
        cli::Command::New(a) => cli::new::run(a, s),
        cli::Command::Migrate(a) => cli::migrate::run(a, s),
        cli::Command::Score(score) => cli::score::run(score, s),
        cli::Command::Compile(a) => cli::run::compile(a, s),
        cli::Command::Run(a) => cli::run::run(a, s),
        cli::Command::Resume(a) => cli::run::resume(a, s),
        cli::Command::Approve(a) => cli::run::decide(a, true, s),
        cli::Command::Reject(a) => cli::run::decide(a, false, s),
        cli::Command::Cancel(a) => cli::control::cancel(&a),
        cli::Command::Pause(a) => cli::control::pause(&a),
        cli::Command::Continue(a) => cli::run::resume(a, s),
        cli::Command::AddContext(a) => cli::control::add_context(&a),
        cli::Command::Runs(a) => cli::runs::runs(a),
        cli::Command::Pool(a) => cli::pool::pool(a),
        cli::Command::Status(a) => cli::runs::status(a),
        cli::Command::Logs(a) => cli::logs::logs(a),
        cli::Command::Gc(a) => cli::gc::run(a),
        cli::Command::Serve(a) => cli::serve::run(a, s),
        cli::Command::Doctor(a) => cli::doctor::run(&a),
        cli::Command::Completions(a) => cli::completions(&a),
        cli::Command::Man => cli::man(),
    };
    ExitCode::from(code)
}
