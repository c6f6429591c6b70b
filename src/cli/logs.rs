//! `loopc logs RUN`: what each step of a run was asked and answered, in the
//! order it happened — every prompt and model output, each tool call and
//! its result, errors, the run's events — as stored (secrets redacted).

use clap::Args;
use loopc_runtime::store::StepRecord;
use serde::Serialize;
use serde_json::Value;

use super::report::{self, Format, Report};
use super::run::StateArgs;
use super::{usage_error, EXIT_OK};

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Run id (or a unique prefix).
    pub run: String,
    /// Only this step and its turns and tool calls (`workers.fixer`,
    /// `evaluators.tests`, `fixer`).
    #[arg(long, value_name = "STEP")]
    pub step: Option<String>,
    #[command(flatten)]
    pub state: StateArgs,
    /// Output format.
    #[arg(long, default_value = "human", value_parser = report::offered(report::HUMAN_AND_JSON))]
    pub format: Format,
}

#[derive(Serialize)]
struct Entry {
    iteration: u32,
    step: String,
    status: String,
    cost_usd: f64,
    tokens: u64,
    seconds: f64,
    /// What the step was asked (workers), its answer, tool calls, errors.
    record: Value,
}

#[derive(Serialize)]
struct Logs {
    run_id: String,
    steps: Vec<Entry>,
    events: Vec<(u32, String, String)>,
}

/// Whether `key` is the step `wanted` names, one of its turns or (for a
/// worker) one of its tool calls: `fixer` and `workers.fixer` both select
/// `workers.fixer`, `workers.fixer@1`, `tools.fixer.0`, `tools.fixer@1.0`.
fn selected(key: &str, wanted: &str) -> bool {
    let families: Vec<String> = match wanted.split_once('.') {
        Some(("workers", id)) => vec![format!("workers.{id}"), format!("tools.{id}")],
        Some(("evaluators", id)) => vec![format!("evaluators.{id}")],
        Some(_) => return key == wanted,
        None => ["workers", "tools", "evaluators"].iter().map(|k| format!("{k}.{wanted}")).collect(),
    };
    families
        .iter()
        .any(|f| key == f || key.starts_with(&format!("{f}@")) || key.starts_with(&format!("{f}.")))
}

pub fn logs(args: LogsArgs) -> u8 {
    let (store, row) = match super::runs::open_run(&args.state, &args.run) {
        Ok(found) => found,
        Err(e) => return usage_error(e),
    };
    let (steps, events) = match (store.steps_of(&row.id), store.events(&row.id)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return usage_error(e),
    };
    let steps: Vec<Entry> = steps
        .into_iter()
        .filter(|(_, key, _)| args.step.as_deref().is_none_or(|w| selected(key, w)))
        .map(|(iteration, step, r): (u32, String, StepRecord)| Entry {
            iteration,
            step,
            status: r.status.to_string(),
            cost_usd: r.cost_usd,
            tokens: r.tokens,
            seconds: r.seconds,
            record: r.result,
        })
        .collect();
    if let Some(wanted) = &args.step {
        if steps.is_empty() {
            return usage_error(format!("run {} has no step `{wanted}`", row.id));
        }
    }
    let events = if args.step.is_some() { Vec::new() } else { events };
    report::print(
        &Logs {
            run_id: row.id,
            steps,
            events,
        },
        args.format,
    );
    EXIT_OK
}

impl Report for Logs {
    const FORMATS: &'static [Format] = report::HUMAN_AND_JSON;

    fn human(&self) -> String {
        let mut out = format!("run {}\n", self.run_id);
        let mut iteration = None;
        for e in &self.steps {
            if iteration != Some(e.iteration) {
                iteration = Some(e.iteration);
                out.push_str(&format!("\n== iteration {}\n", e.iteration));
                for (_, kind, message) in self.events.iter().filter(|(i, ..)| *i == e.iteration) {
                    out.push_str(&format!("  [{kind}] {message}\n"));
                }
            }
            out.push_str(&format!("\n-- {} ({}, {:.2}s", e.step, e.status, e.seconds));
            if e.cost_usd > 0.0 {
                out.push_str(&format!(", ${:.4}, {} tokens", e.cost_usd, e.tokens));
            }
            out.push_str(")\n");
            for (field, label) in [
                ("prompt", "asked"),
                ("output", "answered"),
                ("tool_calls", "tool calls"),
                ("tool", "tool"),
                ("result", "result"),
                ("error", "error"),
            ] {
                match e.record.get(field) {
                    None | Some(Value::Null) => {}
                    Some(Value::Array(a)) if a.is_empty() => {}
                    Some(Value::String(s)) => out.push_str(&format!("  {label}: {}\n", indent(s))),
                    Some(v) => out.push_str(&format!(
                        "  {label}: {}\n",
                        indent(&serde_json::to_string_pretty(v).unwrap_or_default())
                    )),
                }
            }
        }
        out
    }

    fn json(&self) -> String {
        format!("{}\n", serde_json::to_string_pretty(self).unwrap_or_default())
    }
}

/// A multi-line text indented under its label.
fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n    ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_step_selects_its_turns_and_tool_calls() {
        let keys = [
            "workers.fixer",
            "workers.fixer@1",
            "tools.fixer.0",
            "tools.fixer@1.0",
            "workers.fixer2",
            "evaluators.tests",
        ];
        let by = |w: &str| keys.iter().filter(|k| super::selected(k, w)).copied().collect::<Vec<_>>();
        assert_eq!(
            by("fixer"),
            ["workers.fixer", "workers.fixer@1", "tools.fixer.0", "tools.fixer@1.0"]
        );
        assert_eq!(by("workers.fixer"), by("fixer"));
        assert_eq!(by("evaluators.tests"), ["evaluators.tests"]);
    }
}
