//! `loopc gc`: remove the worktrees (and copies) of runs that ended longer
//! ago than `--older-than`; branches stay for review unless `--branches`.
//! A run that is running or waits for a person keeps its workspace.

use clap::Args;
use loopc_runtime::workspace::gc::{self, Collected};
use loopc_runtime::Store;

use super::report::{self, Format, Report};
use super::run::StateArgs;
use super::{usage_error, EXIT_OK, EXIT_USAGE};

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Remove workspaces of runs that ended longer ago than this (a number and s, m, h, d or w).
    #[arg(long, default_value = "7d", value_name = "AGE")]
    pub older_than: String,
    /// Delete the runs' branches too (by default they are kept for review).
    #[arg(long)]
    pub branches: bool,
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = report::offered(report::HUMAN_AND_JSON))]
    pub format: Format,
}

struct Removed(Vec<Collected>);

impl Report for Removed {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        if self.0.is_empty() {
            return "nothing to remove\n".to_owned();
        }
        self.0
            .iter()
            .map(|c| match (&c.error, &c.branch_deleted) {
                (Some(e), _) => format!("run {}: {} {} not removed: {e}\n", c.run_id, c.kind.as_str(), c.path),
                (None, Some(branch)) => format!("run {}: removed {} {} and branch {branch}\n", c.run_id, c.kind.as_str(), c.path),
                (None, None) => format!("run {}: removed {} {}\n", c.run_id, c.kind.as_str(), c.path),
            })
            .collect()
    }

    fn json(&self) -> String {
        report::to_json(&self.0)
    }
}

pub fn run(args: GcArgs) -> u8 {
    let age = match gc::parse_age(&args.older_than) {
        Ok(a) => a,
        Err(e) => return usage_error(format!("--older-than: {e}")),
    };
    let store = match args.state.resolve().and_then(|d| Store::open(&d).map_err(|e| e.to_string())) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let removed = match gc::collect(&store, age, args.branches) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let failed = removed.iter().any(|c| c.error.is_some());
    report::print(&Removed(removed), args.format);
    // A workspace that could not be removed is an I/O failure.
    if failed {
        EXIT_USAGE
    } else {
        EXIT_OK
    }
}
