//! Per-iteration snapshots of a `git-worktree` workspace: each iteration's
//! changes committed to the run's branch, a rollback to an earlier
//! snapshot, and the iteration's real diff (for the diff-scope gate).
//!
//! Every write first checks that the worktree is still on the run's branch:
//! loopc commits to and resets that branch only, never one a worker
//! switched the worktree to.

use std::path::Path;

use super::git::{self, trailer};
use super::Workspace;

/// Trailers that name a snapshot's run and iteration: a commit made just
/// before loopc was killed is recognised (and not made twice) on resume.
pub const RUN_TRAILER: &str = "Loopc-Run";
pub const ITERATION_TRAILER: &str = "Loopc-Iteration";

/// The commit HEAD names.
pub fn head(ws: &Workspace) -> Result<String, String> {
    Ok(git::run(ws.at(), &["rev-parse", "--verify", "HEAD^{commit}"])?.trim().to_owned())
}

/// The message of `commit`.
pub fn message(ws: &Workspace, commit: &str) -> Result<String, String> {
    git::run(ws.at(), &["show", "-s", "--format=%B", "--end-of-options", commit])
}

/// The iteration a snapshot commit belongs to (`None`: not one of this run's).
pub fn iteration_of(ws: &Workspace, run_id: &str, commit: &str) -> Option<u32> {
    let text = message(ws, commit).ok()?;
    (trailer(&text, RUN_TRAILER) == Some(run_id))
        .then(|| trailer(&text, ITERATION_TRAILER)?.parse().ok())
        .flatten()
}

/// Refuse to write unless HEAD is the run's branch.
fn on_branch(ws: &Workspace) -> Result<(), String> {
    let (ok, text, _) = git::output(ws.at(), &["symbolic-ref", "--quiet", "HEAD"])?;
    let wanted = format!("refs/heads/{}", ws.branch);
    if ok && text.trim() == wanted {
        return Ok(());
    }
    let now = if ok { text.trim().to_owned() } else { "a detached HEAD".to_owned() };
    Err(format!(
        "the worktree {} is on {now}, not on the run's branch {}: something (a worker?) switched it; loopc commits to and resets its own branch only, so it changed nothing",
        ws.path.display(),
        ws.branch
    ))
}

/// Commit everything in the worktree as iteration `iteration`'s snapshot
/// (an iteration that changed nothing gets an empty commit): `(commit,
/// parent)`. When HEAD already is that snapshot (committed just before a
/// kill), it is returned as it is. `skip` (relative to the worktree) is
/// left out: loopc's own state page, which is not the iteration's work.
pub fn commit(
    ws: &Workspace,
    run_id: &str,
    iteration: u32,
    (subject, body): (&str, &str),
    skip: Option<&Path>,
) -> Result<(String, String), String> {
    on_branch(ws)?;
    let now = head(ws)?;
    if iteration_of(ws, run_id, &now) == Some(iteration) {
        let parent = git::run(ws.at(), &["rev-parse", "--verify", &format!("{now}^1")])?;
        return Ok((now, parent.trim().to_owned()));
    }
    let excluded = skip.map(|p| format!(":(exclude,literal){}", p.to_string_lossy()));
    let mut add = vec!["add", "--all", "--", "."];
    add.extend(excluded.as_deref());
    git::run(ws.at(), &add)?;
    let trailers = format!("{RUN_TRAILER}: {run_id}\n{ITERATION_TRAILER}: {iteration}");
    let mut args = vec!["commit", "--quiet", "--no-verify", "--allow-empty", "--no-gpg-sign", "-m", subject];
    if !body.is_empty() {
        args.extend(["-m", body]);
    }
    args.extend(["-m", &trailers]);
    git::run(ws.at(), &args)?;
    Ok((head(ws)?, now))
}

/// Put the worktree back at `commit`: the branch moves there, tracked files
/// are restored, every other file (ignored ones and nested repositories
/// too) is removed. Only the worktree is touched.
pub fn reset(ws: &Workspace, commit: &str) -> Result<(), String> {
    on_branch(ws)?;
    git::run(ws.at(), &["reset", "--quiet", "--hard", commit])?;
    git::run(ws.at(), &["clean", "-ffdxq"])?;
    Ok(())
}

/// Every file the worktree changed since HEAD (the previous snapshot):
/// changed, added and deleted tracked files and untracked ones (not
/// ignored ones), but `skip` (relative to the worktree). Each relative to
/// the sandbox root, or `None` when it is outside it, with its path in the
/// worktree.
pub fn changed(ws: &Workspace, skip: Option<&Path>) -> Result<Vec<(Option<String>, String)>, String> {
    let tracked = git::run(
        ws.at(),
        &["diff", "--name-only", "-z", "--no-renames", "--ignore-submodules=all", "HEAD", "--"],
    )?;
    let untracked = git::run(ws.at(), &["ls-files", "-z", "--others", "--exclude-standard"])?;
    let prefix = ws.root.strip_prefix(&ws.path).unwrap_or(Path::new(""));
    let mut files: Vec<String> = git::names(&tracked).into_iter().chain(git::names(&untracked)).collect();
    files.retain(|f| skip != Some(Path::new(f)));
    files.sort();
    files.dedup();
    Ok(files
        .into_iter()
        .map(|f| {
            let inside = Path::new(&f).strip_prefix(prefix).ok().map(|p| p.to_string_lossy().into_owned());
            (inside, f)
        })
        .collect())
}

/// Remove the lock files a git command of this run left when loopc was
/// killed while it ran (the run is claimed: nothing else of loopc works in
/// this worktree): the worktree's index and HEAD locks and its branch's.
pub fn clear_stale_locks(ws: &Workspace) -> Vec<std::path::PathBuf> {
    let mut locks = vec![ws.git_dir.join("index.lock"), ws.git_dir.join("HEAD.lock")];
    if let Some(common) = ws.common_dir() {
        locks.push(common.join("refs/heads").join(format!("{}.lock", ws.branch)));
    }
    locks.into_iter().filter(|l| std::fs::remove_file(l).is_ok()).collect()
}
