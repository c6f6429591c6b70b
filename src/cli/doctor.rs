//! `loopc doctor`: check a state directory (the database's integrity, runs
//! whose process died, process groups left running, workspaces deleted or
//! orphaned) and say how to repair each problem. It changes nothing.

use clap::Args;
use loopc_runtime::doctor::{self, Finding};
use loopc_runtime::Store;

use super::report::{self, Format, Report};
use super::run::StateArgs;
use super::{emit, usage_error, EXIT_FINDINGS, EXIT_OK};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = report::offered(report::HUMAN_AND_JSON))]
    pub format: Format,
}

struct Examined {
    state_dir: String,
    findings: Vec<Finding>,
}

impl Report for Examined {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        if self.findings.is_empty() {
            return format!("{}: healthy\n", self.state_dir);
        }
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!("{} [{}]\n  repair: {}\n", f.problem, f.check, f.repair));
        }
        let n = self.findings.len();
        out.push_str(&format!("{}: {n} problem{}\n", self.state_dir, if n == 1 { "" } else { "s" }));
        out
    }

    fn json(&self) -> String {
        report::to_json(&serde_json::json!({"state_dir": self.state_dir, "findings": self.findings}))
    }
}

/// Exit 0 when healthy, 1 with problems, 2 when the state cannot be read.
pub fn run(args: &DoctorArgs) -> u8 {
    let dir = match args.state.resolve() {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    if !dir.join("state.db").exists() {
        // Opening would create it: a doctor does not.
        emit(&format!("{}: no state here yet (no run has been started with it)\n", dir.display()));
        return EXIT_OK;
    }
    let store = match Store::open(&dir) {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let findings = match doctor::examine(&store) {
        Ok(f) => f,
        Err(e) => return usage_error(e),
    };
    let failed = !findings.is_empty();
    report::print(
        &Examined {
            state_dir: dir.display().to_string(),
            findings,
        },
        args.format,
    );
    if failed {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}
