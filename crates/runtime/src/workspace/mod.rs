//! A workspace per run: where a run's workers, command executors and
//! command evaluators work, chosen by the bindings' `[workspace]` table.
//!
//! - `git-worktree` (the default when the sandbox root is part of a git
//!   repository's base commit): each run gets a linked worktree under the
//!   state directory (`<state>/worktrees/<run-id>`) on a new branch
//!   `loopc/<loop_name>/<run-id>` made from a base ref (`--base`, default
//!   `HEAD`). The sandbox root is remapped into it. Each iteration is
//!   committed to the branch (a snapshot, [`snapshot`]), and a failed
//!   iteration can be rolled back to the last good one.
//! - `copy`: the root copied once per run to `<state>/copies/<run-id>`; no
//!   snapshots, no rollback.
//! - `in-place`: the root itself, shared by every run (loopc before
//!   workspaces).
//!
//! The user's repository is only ever touched through `git worktree add`
//! (a new branch and the worktree's administrative files) and `loopc gc`:
//! its work tree, index, HEAD and every other branch stay as they were.

pub mod copy;
pub mod gc;
pub mod git;
pub mod scope;
pub mod snapshot;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use git::At;

/// How a run gets its workspace (`[workspace] kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    GitWorktree,
    Copy,
    InPlace,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::GitWorktree => "git-worktree",
            Kind::Copy => "copy",
            Kind::InPlace => "in-place",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [Kind::GitWorktree, Kind::Copy, Kind::InPlace]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// The bindings' `[workspace]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Default: `git-worktree` when the sandbox root is part of a git
    /// repository's base commit, else `in-place`.
    pub kind: Option<Kind>,
    /// Globs (relative to the sandbox root) every changed file must match.
    #[serde(default)]
    pub allowed_paths: Vec<String>,
    /// Globs no changed file may match.
    #[serde(default)]
    pub forbidden_paths: Vec<String>,
}

impl WorkspaceConfig {
    /// Whether the diff-scope gate is on.
    pub fn has_scope(&self) -> bool {
        !self.allowed_paths.is_empty() || !self.forbidden_paths.is_empty()
    }
}

/// Why a run's workspace cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("[workspace] kind = \"git-worktree\": the sandbox root {} is not inside a git repository", .root.display())]
    NotARepository { root: PathBuf },
    #[error("[workspace] kind = \"git-worktree\": the sandbox root {} is not part of {base} (untracked or ignored), so a worktree of it would not contain it", .root.display())]
    NotInBase { root: PathBuf, base: String },
    #[error("[workspace] kind = \"git-worktree\": the repository at {} has no commit yet to branch from", .top.display())]
    NoCommit { top: PathBuf },
    #[error("--base {base}: {message}")]
    BadBase { base: String, message: String },
    #[error("{0} needs [workspace] kind = \"git-worktree\" (this run's workspace is {1})")]
    NeedsWorktree(&'static str, &'static str),
    #[error("[workspace] {field}: `{pattern}` is not a glob: {message}")]
    Glob {
        field: &'static str,
        pattern: String,
        message: String,
    },
    #[error("the state directory {} is inside the repository {}: each run's worktree would show in its git status. Keep the state outside the repository (--state-dir, LOOPC_STATE_DIR; the default location is), or choose another [workspace] kind", .state.display(), .top.display())]
    StateInRepository { state: PathBuf, top: PathBuf },
    #[error("the run's workspace {} is gone ({why}); it cannot be continued", .path.display())]
    Gone { path: PathBuf, why: String },
    #[error("workspace: {0}")]
    Git(String),
    #[error("workspace {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The repository a `git-worktree` run branches from.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    /// Its top level (canonical).
    pub top: PathBuf,
    /// The sandbox root relative to it (`""` or `dir/sub/`).
    pub prefix: String,
    /// The base ref as given, and the commit it named when the runs started.
    pub base_ref: String,
    pub base_commit: String,
}

/// What the runs of one `loopc run` start from: the kind, resolved once
/// (every job of `--jobs` branches from the same commit).
#[derive(Clone, Debug)]
pub struct Source {
    pub kind: Kind,
    /// The sandbox root as the bindings name it.
    pub root: PathBuf,
    pub repository: Option<Repository>,
    /// Why the default was not `git-worktree`, when that is worth saying.
    pub note: Option<String>,
}

impl Source {
    /// Resolve the kind for `root`. `base` is `--base` (default `HEAD`);
    /// `dry_run` runs default to in-place (a dry run changes nothing).
    pub fn resolve(root: &Path, config: &WorkspaceConfig, base: Option<&str>, dry_run: bool) -> Result<Source, WorkspaceError> {
        let auto = config.kind.is_none();
        let wanted = config.kind.unwrap_or(if dry_run { Kind::InPlace } else { Kind::GitWorktree });
        let in_place = |kind: Kind, note: Option<String>| Source {
            kind,
            root: root.to_path_buf(),
            repository: None,
            note,
        };
        // Without git there is no repository to branch from: the default works in place.
        let wanted = if auto && git::program().is_err() { Kind::InPlace } else { wanted };
        if wanted != Kind::GitWorktree {
            if base.is_some() {
                return Err(WorkspaceError::NeedsWorktree("--base", wanted.as_str()));
            }
            if config.has_scope() {
                return Err(WorkspaceError::NeedsWorktree("allowed_paths / forbidden_paths", wanted.as_str()));
            }
            return Ok(in_place(wanted, None));
        }
        match repository(root, base) {
            Ok(repository) => Ok(Source {
                kind: Kind::GitWorktree,
                root: root.to_path_buf(),
                repository: Some(repository),
                note: None,
            }),
            // The default quietly falls back when there is no repository to
            // branch from; a base or a diff scope asked for one.
            Err(e @ (WorkspaceError::NotARepository { .. } | WorkspaceError::NotInBase { .. } | WorkspaceError::NoCommit { .. }))
                if auto && base.is_none() && !config.has_scope() =>
            {
                let note = (!matches!(e, WorkspaceError::NotARepository { .. })).then(|| format!("runs work in place: {e}"));
                Ok(in_place(Kind::InPlace, note))
            }
            Err(e) => Err(e),
        }
    }
}

impl Source {
    /// Refuse a state directory (existing or not) inside the repository a
    /// `git-worktree` run branches from: the worktrees under it would show
    /// in the repository's `git status`.
    pub fn check_state_dir(&self, state_dir: &Path) -> Result<(), WorkspaceError> {
        let Some(repo) = &self.repository else { return Ok(()) };
        let state = crate::planned_path(state_dir).map_err(|source| WorkspaceError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        match state {
            Some(state) if state.starts_with(&repo.top) => Err(WorkspaceError::StateInRepository {
                state,
                top: repo.top.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The repository `root` is part of, and the commit `base` (default
/// `HEAD`) names there.
fn repository(root: &Path, given: Option<&str>) -> Result<Repository, WorkspaceError> {
    let base = given.unwrap_or("HEAD");
    let canonical = std::fs::canonicalize(root).map_err(|source| WorkspaceError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let not_a_repository = || WorkspaceError::NotARepository { root: canonical.clone() };
    let (ok, text, _) =
        git::output(At::Dir(&canonical), &["rev-parse", "--show-toplevel", "--show-prefix"]).map_err(WorkspaceError::Git)?;
    let mut lines = text.lines();
    let (Some(top), prefix) = (lines.next().filter(|_| ok), lines.next().unwrap_or("")) else {
        return Err(not_a_repository());
    };
    let top = PathBuf::from(top);
    if base.starts_with('-') || base.is_empty() {
        return Err(WorkspaceError::BadBase {
            base: base.to_owned(),
            message: "not a ref".into(),
        });
    }
    let spec = format!("{base}^{{commit}}");
    let (ok, commit, _) =
        git::output(At::Dir(&top), &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec]).map_err(WorkspaceError::Git)?;
    let commit = commit.trim().to_owned();
    if (!ok || commit.is_empty()) && given.is_none() {
        return Err(WorkspaceError::NoCommit { top });
    }
    if !ok || commit.is_empty() {
        return Err(WorkspaceError::BadBase {
            base: base.to_owned(),
            message: format!("names no commit in {}", top.display()),
        });
    }
    let inside = prefix.trim_end_matches('/');
    if !inside.is_empty() {
        let object = format!("{commit}:{inside}");
        let (ok, kind, _) = git::output(At::Dir(&top), &["cat-file", "-t", "--end-of-options", &object]).map_err(WorkspaceError::Git)?;
        if !ok || kind.trim() != "tree" {
            return Err(WorkspaceError::NotInBase {
                root: canonical,
                base: base.to_owned(),
            });
        }
    }
    Ok(Repository {
        top,
        prefix: prefix.to_owned(),
        base_ref: base.to_owned(),
        base_commit: commit,
    })
}

/// A run's workspace, as the state records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workspace {
    pub kind: Kind,
    /// The worktree or the copy (for `in-place`, the root).
    pub path: PathBuf,
    /// The sandbox root inside it (what the run's tools and processes see).
    pub root: PathBuf,
    /// The repository the worktree belongs to, or the root that was copied.
    pub repository: PathBuf,
    /// The worktree's administrative directory in the repository.
    pub git_dir: PathBuf,
    pub branch: String,
    pub base_ref: String,
    pub base_commit: String,
    /// When `loopc gc` removed it (empty: it is there).
    pub removed_at: String,
}

impl Workspace {
    /// Where git commands on the worktree work.
    pub fn at(&self) -> At<'_> {
        At::Worktree {
            git_dir: &self.git_dir,
            work_tree: &self.path,
        }
    }

    pub fn is_worktree(&self) -> bool {
        self.kind == Kind::GitWorktree
    }

    /// The repository's git directory a worktree shares (objects, refs):
    /// its processes may read it (so git works in the worktree) but not
    /// change it.
    pub fn common_dir(&self) -> Option<PathBuf> {
        if !self.is_worktree() {
            return None;
        }
        let relative = std::fs::read_to_string(self.git_dir.join("commondir")).ok()?;
        std::fs::canonicalize(self.git_dir.join(relative.trim())).ok()
    }
}

/// A ref-safe spelling of a loop name (`git check-ref-format` rules).
pub fn branch_name(loop_name: &str, run_id: &str) -> String {
    let mut name: String = loop_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches(|c| c == '-' || c == '.').to_owned();
    if name.is_empty() {
        name = "loop".into();
    }
    format!("loopc/{name}/{run_id}")
}

/// Make run `run_id`'s workspace from `source` (`state_dir` is where
/// worktrees and copies go).
pub fn create(source: &Source, state_dir: &Path, run_id: &str, loop_name: &str) -> Result<Workspace, WorkspaceError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WorkspaceError::Io { path, source }
    };
    let state = std::fs::canonicalize(state_dir).map_err(io(state_dir))?;
    let plain = |kind, path: PathBuf| Workspace {
        kind,
        root: path.clone(),
        repository: source.root.clone(),
        path,
        git_dir: PathBuf::new(),
        branch: String::new(),
        base_ref: String::new(),
        base_commit: String::new(),
        removed_at: String::new(),
    };
    match (source.kind, &source.repository) {
        (Kind::GitWorktree, Some(repo)) => {
            source.check_state_dir(&state)?;
            worktree(repo, &state, run_id, loop_name)
        }
        (Kind::Copy, _) => {
            let dir = state.join("copies");
            crate::store::create_private_dir(&dir).map_err(io(&dir))?;
            let target = dir.join(run_id);
            copy::tree(&source.root, &target).map_err(|(path, source)| WorkspaceError::Io { path, source })?;
            let canonical = std::fs::canonicalize(&source.root).map_err(io(&source.root))?;
            Ok(Workspace {
                repository: canonical,
                ..plain(Kind::Copy, target)
            })
        }
        _ => Ok(plain(Kind::InPlace, source.root.clone())),
    }
}

fn worktree(repo: &Repository, state: &Path, run_id: &str, loop_name: &str) -> Result<Workspace, WorkspaceError> {
    let dir = state.join("worktrees");
    crate::store::create_private_dir(&dir).map_err(|source| WorkspaceError::Io { path: dir.clone(), source })?;
    let path = dir.join(run_id);
    let branch = branch_name(loop_name, run_id);
    let shown = path.to_string_lossy().into_owned();
    git::run(
        At::Dir(&repo.top),
        &[
            "worktree",
            "add",
            "--quiet",
            "--no-track",
            "-b",
            &branch,
            "--",
            &shown,
            &repo.base_commit,
        ],
    )
    .map_err(WorkspaceError::Git)?;
    // Right after `worktree add` its `.git` file is git's own: from now on
    // the administrative directory is named, never looked up through it.
    let git_dir = git::run(At::Dir(&path), &["rev-parse", "--absolute-git-dir"]).map_err(WorkspaceError::Git)?;
    Ok(Workspace {
        kind: Kind::GitWorktree,
        root: path.join(repo.prefix.trim_end_matches('/')),
        repository: repo.top.clone(),
        git_dir: PathBuf::from(git_dir.trim()),
        branch,
        base_ref: repo.base_ref.clone(),
        base_commit: repo.base_commit.clone(),
        removed_at: String::new(),
        path,
    })
}

/// Undo [`create`] for a run that could not be recorded: the worktree and
/// its branch (or the copy) go again.
pub fn discard(workspace: &Workspace) {
    match workspace.kind {
        Kind::GitWorktree => {
            let path = workspace.path.to_string_lossy();
            let top = At::Dir(&workspace.repository);
            let _ = git::run(top, &["worktree", "remove", "--force", "--", &path]);
            let _ = git::run(top, &["branch", "-D", "--", &workspace.branch]);
        }
        Kind::Copy => {
            let _ = std::fs::remove_dir_all(&workspace.path);
        }
        Kind::InPlace => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_are_refs() {
        assert_eq!(branch_name("fix-calc", "r1"), "loopc/fix-calc/r1");
        assert_eq!(branch_name("a b..c/d", "r1"), "loopc/a-b--c-d/r1");
        assert_eq!(branch_name("...", "r1"), "loopc/loop/r1");
        assert_eq!(Kind::parse("copy"), Some(Kind::Copy));
        assert_eq!(Kind::parse("worktree"), None);
    }
}
