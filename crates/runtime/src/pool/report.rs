//! The aggregate report of a pool, built from the store (so that it is the
//! same right after the runs and later, after resumes): per item in
//! priority order, then totals.

use serde::Serialize;

use super::{Decision, PoolItem};
use crate::store::{Status, Store, StoreError};

/// One item's line.
#[derive(Clone, Debug, Serialize)]
pub struct ItemLine {
    pub id: String,
    pub priority: Option<f64>,
    pub labels: Vec<String>,
    /// The run's status (`succeeded`, `halted`, `awaiting_human`, …), or
    /// `skipped` / `escalated`.
    pub outcome: String,
    pub reason: String,
    pub run_id: Option<String>,
    pub iterations: u32,
    pub cost_usd: f64,
    /// The run's workspace branch (git-worktree runs).
    pub branch: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub items: usize,
    pub run: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Runs waiting for a person (a gate or a pause).
    pub waiting: usize,
    pub skipped: usize,
    pub escalated: usize,
    /// Succeeded of those run (0 when none ran).
    pub success_rate: f64,
    pub mean_iterations: f64,
    pub total_cost_usd: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolReport {
    pub pool_id: String,
    pub spec: String,
    pub items: Vec<ItemLine>,
    pub totals: Totals,
}

impl PoolReport {
    /// The report of pool `id` as the store has it now.
    pub fn load(store: &Store, id: &str) -> Result<PoolReport, StoreError> {
        let pool = store.pool(id)?.ok_or_else(|| StoreError::NotFound {
            run: format!("pool {id}"),
            path: Some(store.path().to_path_buf()),
        })?;
        let mut lines = Vec::with_capacity(pool.items.len());
        let mut totals = Totals {
            items: pool.items.len(),
            ..Totals::default()
        };
        for item in &pool.items {
            lines.push(line(store, item, &mut totals)?);
        }
        if totals.run > 0 {
            totals.success_rate = totals.succeeded as f64 / totals.run as f64;
            totals.mean_iterations = lines
                .iter()
                .filter(|l| l.run_id.is_some())
                .map(|l| f64::from(l.iterations))
                .sum::<f64>()
                / totals.run as f64;
        }
        Ok(PoolReport {
            pool_id: pool.id,
            spec: pool.spec,
            items: lines,
            totals,
        })
    }

    /// Whether some run item waits for a person, and whether every run item succeeded.
    pub fn waiting_and_all_succeeded(&self) -> (bool, bool) {
        (self.totals.waiting > 0, self.totals.succeeded == self.totals.run)
    }

    pub fn markdown(&self) -> String {
        let t = &self.totals;
        let mut out = format!(
            "# Pool {}\n\nSpec: `{}`\n\n| Items | Run | Succeeded | Failed | Waiting | Skipped | Escalated | Success rate | Mean iterations | Spend |\n|---|---|---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.1} | ${:.4} |\n\n",
            self.pool_id, self.spec, t.items, t.run, t.succeeded, t.failed, t.waiting, t.skipped, t.escalated,
            t.success_rate * 100.0, t.mean_iterations, t.total_cost_usd
        );
        out.push_str("| Item | Priority | Outcome | Reason | Iterations | Cost | Branch | Run |\n|---|---|---|---|---|---|---|---|\n");
        for l in &self.items {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | ${:.4} | {} | {} |\n",
                cell(&l.id),
                l.priority.map_or("-".into(), |p| p.to_string()),
                l.outcome,
                cell(if l.reason.is_empty() { "-" } else { &l.reason }),
                l.iterations,
                l.cost_usd,
                l.branch.as_deref().map_or("-".into(), cell),
                l.run_id.as_deref().unwrap_or("-"),
            ));
        }
        let escalated: Vec<&str> = self
            .items
            .iter()
            .filter(|l| l.outcome == "escalated")
            .map(|l| l.id.as_str())
            .collect();
        if !escalated.is_empty() {
            out.push_str(&format!("\nFor a person: {}\n", escalated.join(", ")));
        }
        out
    }

    /// The short table `loopc run --items` prints by default.
    pub fn human(&self) -> String {
        let t = &self.totals;
        let mut out = format!("pool {} ({})\n", self.pool_id, self.spec);
        out.push_str(&format!(
            "{:<16} {:<15} {:>5} {:>9}  {}\n",
            "ITEM", "OUTCOME", "ITER", "COST", "REASON"
        ));
        for l in &self.items {
            out.push_str(&format!(
                "{:<16} {:<15} {:>5} {:>9.4}  {}\n",
                l.id, l.outcome, l.iterations, l.cost_usd, l.reason
            ));
        }
        out.push_str(&format!(
            "{} items: {} run ({} succeeded, {} failed, {} waiting), {} skipped, {} escalated; success rate {:.0}%, mean {:.1} iterations, ${:.4}\n",
            t.items, t.run, t.succeeded, t.failed, t.waiting, t.skipped, t.escalated, t.success_rate * 100.0, t.mean_iterations, t.total_cost_usd
        ));
        out
    }
}

/// A Markdown table cell: pipes and newlines would break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn line(store: &Store, item: &PoolItem, totals: &mut Totals) -> Result<ItemLine, StoreError> {
    let mut l = ItemLine {
        id: item.id.clone(),
        priority: item.priority,
        labels: item.labels.clone(),
        outcome: String::new(),
        reason: item.reason.clone(),
        run_id: item.run_id.clone(),
        iterations: 0,
        cost_usd: 0.0,
        branch: None,
    };
    match (item.decision, &item.run_id) {
        (Decision::Skipped, _) => {
            totals.skipped += 1;
            l.outcome = "skipped".into();
        }
        (Decision::Escalated, _) => {
            totals.escalated += 1;
            l.outcome = "escalated".into();
        }
        (Decision::Run, None) => {
            // Decided to run but never recorded (the pool's process stopped first).
            totals.run += 1;
            totals.failed += 1;
            l.outcome = "not_started".into();
        }
        (Decision::Run, Some(run)) => {
            totals.run += 1;
            let row = store.observed(store.run(run)?.ok_or_else(|| StoreError::not_found(run))?)?;
            match row.status {
                Status::Succeeded => totals.succeeded += 1,
                Status::AwaitingHuman | Status::Paused => totals.waiting += 1,
                _ => totals.failed += 1,
            }
            l.outcome = row.status.as_str().to_owned();
            l.reason = row.reason.clone();
            l.iterations = row.iteration;
            l.cost_usd = row.cost_usd;
            totals.total_cost_usd += row.cost_usd;
            l.branch = store.workspace(run)?.map(|w| w.branch).filter(|b| !b.is_empty());
        }
    }
    Ok(l)
}
