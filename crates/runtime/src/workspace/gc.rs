//! `loopc gc`: remove the worktrees (and copies) of runs that ended longer
//! ago than a given age. A run that is running or waiting for a person
//! keeps its workspace whatever its age; branches are kept (they are what a
//! person reviews) unless asked for.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::git::{self, At};
use super::{Kind, Workspace};
use crate::store::{Store, StoreError};

/// What `gc` did with one run's workspace.
#[derive(Clone, Debug, Serialize)]
pub struct Collected {
    pub run_id: String,
    pub kind: Kind,
    pub path: String,
    /// The branch, when it was deleted too.
    pub branch_deleted: Option<String>,
    /// What could not be done (the workspace is then still recorded as there).
    pub error: Option<String>,
}

/// Parse an age: a number with `s`, `m`, `h`, `d` or `w` (`7d`, `12h`, `0s`).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age: give a number and a unit, such as 7d, 12h, 30m or 0s"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("`{text}`: the unit must be s, m, h, d or w (such as 7d)")),
    };
    n.checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long an age"))
}

/// Remove the workspaces of runs that ended more than `older_than` ago.
pub fn collect(store: &Store, older_than: Duration, branches: bool) -> Result<Vec<Collected>, StoreError> {
    let state_dir = store.path().parent().unwrap_or(Path::new(".")).to_path_buf();
    let state_dir = std::fs::canonicalize(&state_dir).unwrap_or(state_dir);
    let cutoff = crate::clock::unix_ms() - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let mut done = Vec::new();
    for entry in store.workspaces()? {
        let (run_id, ws) = (entry.run_id, entry.workspace);
        let ended_long_ago = entry.status.is_final() && entry.finished_unix_ms.is_some_and(|f| f <= cutoff);
        if ws.kind == Kind::InPlace || !ws.removed_at.is_empty() || !ended_long_ago {
            continue;
        }
        let result = remove(&ws, &state_dir, branches);
        if result.is_ok() {
            store.workspace_removed(&run_id)?;
        }
        done.push(Collected {
            run_id,
            kind: ws.kind,
            path: ws.path.display().to_string(),
            branch_deleted: (branches && result.is_ok() && ws.kind == Kind::GitWorktree).then(|| ws.branch.clone()),
            error: result.err(),
        });
    }
    Ok(done)
}

fn remove(ws: &Workspace, state_dir: &Path, branches: bool) -> Result<(), String> {
    // Only what loopc made, where it makes it: never a directory elsewhere.
    if !ws.path.starts_with(state_dir) {
        return Err(format!(
            "{} is not inside the state directory {}; left alone",
            ws.path.display(),
            state_dir.display()
        ));
    }
    match ws.kind {
        Kind::InPlace => Ok(()),
        Kind::Copy => remove_dir(&ws.path),
        Kind::GitWorktree => {
            let repo = At::Dir(&ws.repository);
            if ws.repository.is_dir() {
                if ws.path.exists() {
                    let path = ws.path.to_string_lossy();
                    git::run(repo, &["worktree", "remove", "--force", "--force", "--", &path])?;
                }
                git::run(repo, &["worktree", "prune"])?;
                if branches {
                    let (ok, _, stderr) = git::output(repo, &["branch", "-D", "--", &ws.branch])?;
                    if !ok && !stderr.contains("not found") {
                        return Err(format!("`git branch -D {}` failed: {}", ws.branch, stderr.trim()));
                    }
                }
            }
            // The repository is gone (or git left files behind): the directory is loopc's.
            remove_dir(&ws.path)
        }
    }
}

fn remove_dir(path: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("cannot remove {}: {e}", path.display())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages() {
        assert_eq!(super::parse_age("7d").unwrap().as_secs(), 7 * 86_400);
        assert_eq!(super::parse_age("0s").unwrap().as_secs(), 0);
        assert_eq!(super::parse_age("90m").unwrap().as_secs(), 5400);
        for bad in ["", "7", "d", "7y", "-1d", "99999999999999999999w"] {
            assert!(super::parse_age(bad).is_err(), "{bad}");
        }
    }
}
