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
        cli::Command::Diagram(diagram) => cli::diagram::run(diagram),
        cli::Command::Explain(explain) => cli::explain::run(explain),
        cli::Command::Score(score) => cli::score::run(score),
    };
    ExitCode::from(code)
}
