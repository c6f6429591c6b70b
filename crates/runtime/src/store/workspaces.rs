//! Each run's workspace (see [`crate::workspace`]): recorded with the run,
//! read by the interpreter, `status` and `gc`.

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::types::Status;
use super::{Result, Store, StoreError};
use crate::workspace::{Kind, Workspace};

const COLUMNS: &str = "run_id, kind, path, root, repository, git_dir, branch, base_ref, base_commit, removed_at";

/// A workspace row before its kind is decoded.
type Raw = (String, String, String, String, String, String, String, String, String, String);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn decode(raw: Raw) -> Result<(String, Workspace)> {
    let (run_id, kind, path, root, repository, git_dir, branch, base_ref, base_commit, removed_at) = raw;
    let kind = Kind::parse(&kind).ok_or_else(|| {
        StoreError::corrupt(
            &run_id,
            "workspaces",
            format!("`{run_id}`"),
            format!("kind: `{kind}` is not git-worktree, copy or in-place"),
        )
    })?;
    let workspace = Workspace {
        kind,
        path: PathBuf::from(path),
        root: PathBuf::from(root),
        repository: PathBuf::from(repository),
        git_dir: PathBuf::from(git_dir),
        branch,
        base_ref,
        base_commit,
        removed_at,
    };
    Ok((run_id, workspace))
}

/// A run's workspace with what `gc` decides by: the run's status and when it ended.
#[derive(Clone, Debug)]
pub struct RunWorkspace {
    pub run_id: String,
    pub status: Status,
    /// When the run ended (ms since the epoch), if it has.
    pub finished_unix_ms: Option<i64>,
    pub workspace: Workspace,
}

/// Record `ws` as run `run_id`'s workspace (inside the run's creation).
pub(super) fn insert(conn: &rusqlite::Connection, run_id: &str, ws: &Workspace) -> Result<()> {
    let text = |p: &std::path::Path| p.to_string_lossy().into_owned();
    conn.execute(
        &format!("INSERT INTO workspaces ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '')"),
        params![
            run_id,
            ws.kind.as_str(),
            text(&ws.path),
            text(&ws.root),
            text(&ws.repository),
            text(&ws.git_dir),
            ws.branch,
            ws.base_ref,
            ws.base_commit
        ],
    )?;
    Ok(())
}

impl Store {
    /// Run `run_id`'s workspace; `None` for a run recorded before workspaces
    /// existed (it works in place).
    pub fn workspace(&self, run_id: &str) -> Result<Option<Workspace>> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM workspaces WHERE run_id = ?1"), params![run_id], raw)
            .optional()?
            .map(|r| decode(r).map(|(_, ws)| ws))
            .transpose()
    }

    /// Every recorded workspace with its run's status and end.
    pub fn workspaces(&self) -> Result<Vec<RunWorkspace>> {
        let rows: Vec<(Raw, String, Option<i64>)> = self
            .conn
            .prepare(&format!(
                "SELECT w.{}, r.status, r.finished_unix_ms FROM workspaces w JOIN runs r ON r.id = w.run_id ORDER BY w.run_id",
                COLUMNS.replace(", ", ", w.")
            ))?
            .query_map([], |r| Ok((raw(r)?, r.get(10)?, r.get(11)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(raw, status, finished)| {
                let (run_id, ws) = decode(raw)?;
                let status = Status::parse(&status).ok_or_else(|| {
                    StoreError::corrupt(
                        &run_id,
                        "runs",
                        format!("`{run_id}`"),
                        format!("status: `{status}` is not a run status"),
                    )
                })?;
                Ok(RunWorkspace {
                    run_id,
                    status,
                    finished_unix_ms: finished,
                    workspace: ws,
                })
            })
            .collect()
    }

    /// `loopc gc` removed the run's workspace.
    pub fn workspace_removed(&self, run_id: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE workspaces SET removed_at = ?2 WHERE run_id = ?1",
            params![run_id, crate::clock::now_rfc3339()],
        )?;
        Ok(())
    }
}
