//! `loopc doctor`: what is wrong with a state directory, and how to repair
//! it. It only reads: every repair is a command a person runs.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::store::{Status, Store, StoreError};
use crate::workspace::Kind;

/// One problem found, with the command or step that repairs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `integrity`, `dead-lease`, `leftover-process`, `workspace-gone`, `orphaned-workspace`.
    pub check: &'static str,
    pub run_id: Option<String>,
    pub problem: String,
    pub repair: String,
}

/// Examine the store and the state directory around it.
pub fn examine(store: &Store) -> Result<Vec<Finding>, StoreError> {
    let mut findings = Vec::new();
    let problems = store.integrity_check()?;
    if !problems.is_empty() {
        findings.push(Finding {
            check: "integrity",
            run_id: None,
            problem: format!(
                "{} fails SQLite's integrity check: {}",
                store.path().display(),
                problems.join("; ")
            ),
            repair: format!(
                "stop every loopc that uses it, keep a copy, then `sqlite3 {} .recover > recovered.sql` and load that into a new state.db (or restore a backup)",
                store.path().display()
            ),
        });
    }
    let runs = store.runs()?;
    for row in &runs {
        if row.status != Status::Running || row.pid == 0 || store.holder(&row.id)?.is_some() {
            continue;
        }
        findings.push(Finding {
            check: "dead-lease",
            run_id: Some(row.id.clone()),
            problem: format!("run {} is recorded as running, but {}", row.id, store.lease(&row.id)?.why_gone()),
            repair: format!(
                "`loopc resume {}` continues it at its first unfinished step; `loopc cancel {}` ends it",
                row.id, row.id
            ),
        });
    }
    for row in &runs {
        if store.holder(&row.id)?.is_some() {
            continue;
        }
        for (pgid, start) in store.processes(&row.id)? {
            if crate::process::recorded_group_alive(pgid, start) {
                findings.push(Finding {
                    check: "leftover-process",
                    run_id: Some(row.id.clone()),
                    problem: format!(
                        "process group {pgid}, started by run {} in an execution that died, still runs",
                        row.id
                    ),
                    repair: format!(
                        "`loopc resume {}` or `loopc cancel {}` ends it first (or `kill -KILL -{pgid}`)",
                        row.id, row.id
                    ),
                });
            }
        }
    }
    let workspaces = store.workspaces()?;
    for w in &workspaces {
        let ws = &w.workspace;
        if ws.kind == Kind::InPlace || !ws.removed_at.is_empty() || w.status.is_final() || ws.path.is_dir() {
            continue;
        }
        findings.push(Finding {
            check: "workspace-gone",
            run_id: Some(w.run_id.clone()),
            problem: format!(
                "run {} is {}, but its {} {} was deleted: it cannot continue",
                w.run_id,
                w.status.as_str(),
                ws.kind.as_str(),
                ws.path.display()
            ),
            repair: format!("`loopc cancel {}` ends it (its branch, if any, is kept)", w.run_id),
        });
    }
    let known: HashSet<&str> = workspaces
        .iter()
        .filter(|w| w.workspace.removed_at.is_empty())
        .map(|w| w.run_id.as_str())
        .collect();
    let state_dir = store.path().parent().unwrap_or(Path::new("."));
    for (dir, kind) in [("worktrees", "worktree"), ("copies", "copy")] {
        let Ok(entries) = std::fs::read_dir(state_dir.join(dir)) else {
            continue;
        };
        let mut orphans: Vec<_> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter(|e| !known.contains(e.file_name().to_string_lossy().as_ref()))
            .map(|e| e.path())
            .collect();
        orphans.sort();
        for path in orphans {
            findings.push(Finding {
                check: "orphaned-workspace",
                run_id: None,
                problem: format!("{kind} {} belongs to no run this state knows", path.display()),
                repair: if kind == "worktree" {
                    format!(
                        "from its repository: `git worktree remove --force {}` then `git worktree prune`",
                        path.display()
                    )
                } else {
                    format!("`rm -rf {}`", path.display())
                },
            });
        }
    }
    Ok(findings)
}
