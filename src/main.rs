//! `loopc`: the compiler for LSS agent-loop specifications.

mod cli;
mod config;
mod files;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let code = match args.command {
        cli::Command::Check(check) => cli::check::run(check),
        cli::Command::Explain(explain) => cli::explain::run(explain),
    };
    ExitCode::from(code)
}
