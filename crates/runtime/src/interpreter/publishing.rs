//! After a run succeeded: its `[[publish]]` hooks, each committed as a step
//! so that a resumed run never publishes twice; in shadow mode recorded,
//! not run. And what a shadow run would have done, for its report.

use serde_json::{json, Value};

use super::Runner;
use crate::publish::{shadowed, HookContext};
use crate::store::{Status, StepRecord, StepStatus};

impl Runner<'_> {
    /// Run the publish hooks once the run has succeeded in iteration `i`.
    pub(crate) fn publish(&mut self, i: u32) -> Result<(), String> {
        let hooks = self.executors.bindings.publish.clone();
        if hooks.is_empty() {
            return Ok(());
        }
        let branch = current_branch(&self.workspace);
        let loop_name = self.plan.loop_name.clone();
        let workspace = self.workspace.clone();
        let run_id = self.run_id.clone();
        let cx = HookContext {
            run_id: &run_id,
            loop_name: &loop_name,
            branch: &branch,
            workspace: &workspace,
        };
        for (n, hook) in hooks.iter().enumerate() {
            let key = format!("publish.{n}");
            if self.store.step(&self.run_id, i, &key)?.is_some() {
                continue;
            }
            let argv = hook.argv_for(&cx);
            let shown = argv.join(" ");
            let (mut record, message) = if self.executors.shadow {
                let record = StepRecord::of(StepStatus::Done, json!({"publish": argv, "result": shadowed(&argv)}));
                (record, format!("shadow: publish would run `{shown}`"))
            } else {
                match hook.run(&argv, &cx) {
                    Ok(result) => (
                        StepRecord::of(StepStatus::Done, json!({"publish": argv, "result": result})),
                        format!("published: `{shown}`"),
                    ),
                    Err(e) => (
                        StepRecord::of(StepStatus::Failed, json!({"publish": argv, "error": e})),
                        format!("publish failed: {e}"),
                    ),
                }
            };
            self.store.record_step(&self.run_id, i, &key, &mut record)?;
            self.event(i, "publish", &message)?;
            self.say(&format!("  {message}"));
            if record.status == StepStatus::Failed {
                // The loop met its goal; what failed is the outward step,
                // said in the reason (the later hooks do not run).
                let row = self.store.run(&self.run_id)?.ok_or("run vanished")?;
                let reason = format!("{}; {message}", row.reason);
                self.store.set_status(&self.run_id, Status::Succeeded, &reason, None)?;
                break;
            }
        }
        Ok(())
    }

    /// What the run recorded instead of doing (shadow mode): each outward
    /// command, executor and publish hook, with the step that held it.
    pub(crate) fn shadowed(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for (iteration, key, record) in self.store.steps_of(&self.run_id)? {
            let held = [record.result.get("result"), record.result.get("output")]
                .into_iter()
                .flatten()
                .find(|v| v.get("shadow") == Some(&Value::Bool(true)));
            if let Some(held) = held {
                let argv: Vec<&str> = held["would_run"]
                    .as_array()
                    .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).collect());
                out.push(format!("iteration {iteration}, {key}: would run `{}`", argv.join(" ")));
            }
        }
        Ok(out)
    }
}

/// The branch checked out in `workspace` (empty outside a git repository).
fn current_branch(workspace: &std::path::Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(workspace)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
