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
    /// Keep printing steps and events as the run records them, until it
    /// stops executing (JSON: one object per line).
    #[arg(short, long)]
    pub follow: bool,
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
    if args.follow {
        return follow(&store, &row.id, args.step.as_deref(), args.format);
    }
    let (steps, events) = match (store.steps_of(&row.id), store.events(&row.id)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return usage_error(e),
    };
    let steps: Vec<Entry> = steps
        .into_iter()
        .filter(|(_, key, _)| args.step.as_deref().is_none_or(|w| selected(key, w)))
        .map(|(iteration, step, r): (u32, String, StepRecord)| Entry::of(iteration, step, r))
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
            out.push_str(&e.human());
        }
        out
    }

    fn json(&self) -> String {
        format!("{}\n", serde_json::to_string_pretty(self).unwrap_or_default())
    }
}

impl Entry {
    fn of(iteration: u32, step: String, r: StepRecord) -> Entry {
        Entry {
            iteration,
            step,
            status: r.status.to_string(),
            cost_usd: r.cost_usd,
            tokens: r.tokens,
            seconds: r.seconds,
            record: r.result,
        }
    }

    /// The step as `loopc logs` shows it: a heading, then what it was asked
    /// and answered, its tool calls, result and error.
    fn human(&self) -> String {
        let mut out = format!("\n-- {} ({}, {:.2}s", self.step, self.status, self.seconds);
        if self.cost_usd > 0.0 {
            out.push_str(&format!(", ${:.4}, {} tokens", self.cost_usd, self.tokens));
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
            match self.record.get(field) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(Value::String(s)) => out.push_str(&format!("  {label}: {}\n", indent(s))),
                Some(v) => out.push_str(&format!(
                    "  {label}: {}\n",
                    indent(&serde_json::to_string_pretty(v).unwrap_or_default())
                )),
            }
        }
        out
    }
}

/// `--follow`: print steps and events as the run records them, until it
/// stops executing (ended, waiting for a person, paused, interrupted).
/// JSON: one object per line (`{"step": …}` or `{"event": …}`).
fn follow(store: &loopc_runtime::Store, run_id: &str, wanted: Option<&str>, format: Format) -> u8 {
    let (mut steps_seen, mut events_seen) = (0usize, 0usize);
    let mut matched = false;
    let mut iteration = None;
    let json = format == Format::Json;
    if !json {
        super::emit(&format!("run {run_id}\n"));
    }
    loop {
        // Read the status first: what was recorded before it stopped is printed below.
        let row = match store.run(run_id).and_then(|r| r.map(|r| store.observed(r)).transpose()) {
            Ok(Some(row)) => row,
            Ok(None) => return usage_error(format!("run {run_id} vanished")),
            Err(e) => return usage_error(e),
        };
        let (steps, events) = match (store.steps_of(run_id), store.events(run_id)) {
            (Ok(s), Ok(e)) => (s, e),
            (Err(e), _) | (_, Err(e)) => return usage_error(e),
        };
        // This poll's news in iteration order, an iteration's events before its steps (as without --follow).
        let mut news: Vec<(u32, bool, String)> = Vec::new();
        for (i, kind, message) in events.iter().skip(events_seen).filter(|_| wanted.is_none()) {
            news.push((
                *i,
                false,
                if json {
                    format!(
                        "{}\n",
                        serde_json::json!({"event": {"iteration": i, "kind": kind, "message": message}})
                    )
                } else {
                    format!("  [{kind}] {message}\n")
                },
            ));
        }
        events_seen = events.len();
        for (i, key, record) in steps.into_iter().skip(steps_seen) {
            steps_seen += 1;
            if wanted.is_some_and(|w| !selected(&key, w)) {
                continue;
            }
            matched = true;
            let entry = Entry::of(i, key, record);
            news.push((
                i,
                true,
                if json {
                    format!("{}\n", serde_json::json!({ "step": entry }))
                } else {
                    entry.human()
                },
            ));
        }
        news.sort_by_key(|(i, is_step, _)| (*i, *is_step));
        let mut out = String::new();
        for (i, _, text) in news {
            if !json && iteration != Some(i) {
                iteration = Some(i);
                out.push_str(&format!("\n== iteration {i}\n"));
            }
            out.push_str(&text);
        }
        super::emit(&out);
        if row.status != loopc_runtime::Status::Running {
            if let (Some(w), false) = (wanted, matched) {
                return usage_error(format!("run {run_id} has no step `{w}`"));
            }
            if !json {
                super::emit(&format!(
                    "\n== {}{}\n",
                    row.status.as_str(),
                    if row.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", row.reason)
                    }
                ));
            }
            return EXIT_OK;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
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
