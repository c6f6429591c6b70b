//! Command-line interface: argument definitions and one module per command.

pub mod check;
pub mod control;
pub mod diagram;
pub mod doctor;
pub mod explain;
pub mod fix;
pub mod gc;
pub mod logs;
pub mod lsp;
pub mod migrate;
pub mod new;
pub mod pool;
pub mod report;
pub mod run;
pub mod runs;
pub mod sarif;
pub mod score;
pub mod serve;

use clap::{Parser, Subcommand};

/// Exit statuses shared by every command.
pub const EXIT_OK: u8 = 0;
/// Findings at error level (or warnings under `--deny warnings`), or a gate failed.
pub const EXIT_FINDINGS: u8 = 1;
/// Usage or I/O errors.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "loopc",
    version,
    about = "Compiler and linter for LSS agent-loop specifications",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Configuration file (default: the nearest loopc.toml upward from the working directory).
    #[arg(long, global = true)]
    pub config: Option<std::path::PathBuf>,
    /// Ignore any loopc.toml.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
}

impl Cli {
    /// `loopc.toml`, read once; every command honours it.
    pub fn settings(&self) -> Result<loopc_check::Settings, String> {
        if self.no_config {
            return Ok(loopc_check::Settings::default());
        }
        let cwd = std::env::current_dir().map_err(|e| format!("cannot read the working directory: {e}"))?;
        loopc_check::Settings::resolve(self.config.as_deref(), &cwd).map_err(|e| e.to_string())
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check LSS files: syntax, schema and semantic rules.
    Check(check::CheckArgs),
    /// Draw the loop's phase graph as a Mermaid flowchart (or JSON).
    Diagram(diagram::DiagramArgs),
    /// LES 1.0 effectiveness score of specs (structural estimate) or of a run's trace; a CI gate with --min.
    Score(score::ScoreArgs),
    /// Lower a spec into a runtime plan (JSON).
    Compile(run::CompileArgs),
    /// Execute specs or plans with the included interpreter.
    Run(run::RunArgs),
    /// Continue an interrupted run at its first unfinished step.
    Resume(run::ResumeArgs),
    /// Approve what a waiting run asks a person for, and continue it.
    Approve(run::DecideArgs),
    /// Reject what a waiting run asks a person for; the run ends.
    Reject(run::DecideArgs),
    /// Cancel a run: its running step's process group is stopped and the run ends `cancelled`.
    Cancel(control::ControlArgs),
    /// Pause a running run after its current step (`loopc continue` goes on).
    Pause(control::ControlArgs),
    /// Continue a paused or interrupted run (the same as `loopc resume`).
    #[command(name = "continue")]
    Continue(run::ResumeArgs),
    /// Add a note for a run: every worker of its next iteration gets it as feedback.
    AddContext(control::AddContextArgs),
    /// List runs in the state directory.
    Runs(runs::RunsArgs),
    /// The report of a work pool (`loopc run --items`), as its runs stand now.
    Pool(pool::PoolArgs),
    /// Show where a run stands.
    Status(runs::StatusArgs),
    /// What each step of a run was asked and answered: prompts, model outputs, tool calls, errors.
    Logs(logs::LogsArgs),
    /// Check the state directory (integrity, runs whose process died, leftover processes and workspaces) and say how to repair it.
    Doctor(doctor::DoctorArgs),
    /// Remove the worktrees of runs that ended long enough ago (branches are kept unless --branches).
    Gc(gc::GcArgs),
    /// Write a new spec from a template (`loopc new --list`), with dry-run bindings if asked.
    New(new::NewArgs),
    /// Rewrite specs in the older list-form dialect into LSS 1.0, saying what changed and what is left.
    Migrate(migrate::MigrateArgs),
    /// Print the documentation of a rule (`loopc explain L201`), or list all rules.
    Explain(explain::ExplainArgs),
    /// Start runs from schedules and signed GitHub webhooks, queued in the state directory;
    /// the run list over HTTP (`GET /api/runs`).
    Serve(serve::ServeArgs),
    /// Run the language server for editors (LSP over standard input and output).
    Lsp(lsp::LspArgs),
    /// Print the shell completion script (`source <(loopc completions bash)`).
    Completions(CompletionsArgs),
    /// Print loopc's manual page in roff (`loopc man | man -l -`).
    Man,
}

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `loopc completions SHELL`: the script, generated from the CLI's own definitions.
pub fn completions(args: &CompletionsArgs) -> u8 {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "loopc", &mut out);
    emit(&String::from_utf8_lossy(&out));
    EXIT_OK
}

/// `loopc man`: the manual page.
pub fn man() -> u8 {
    use clap::CommandFactory;
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        return usage_error(format!("cannot render the manual page: {e}"));
    }
    emit(&String::from_utf8_lossy(&out));
    EXIT_OK
}

/// Write command output to stdout. A closed pipe (`loopc … | head`) ends
/// the output quietly instead of panicking like `print!` would.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Write a command's result to `path` (atomically) or, without one, to stdout.
pub fn write_output(path: Option<&std::path::Path>, text: &str) -> u8 {
    match path {
        None => emit(text),
        Some(path) => {
            if let Err(e) = loopc_runtime::atomic::write(path, text.as_bytes(), loopc_runtime::atomic::Mode::Default) {
                return usage_error(format!("cannot write {}: {e}", path.display()));
            }
        }
    }
    EXIT_OK
}

/// Print a usage/I-O error the way every command does.
pub fn usage_error(message: impl std::fmt::Display) -> u8 {
    eprintln!("loopc: error: {message}");
    EXIT_USAGE
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every visible argument of every subcommand says what it does: an
    /// option without help is a question the user has to ask the source.
    #[test]
    fn every_argument_has_help() {
        fn visit(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                visit(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        visit(&super::Cli::command(), "loopc", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
