//! The child runs of compositions: each is a run of its own (its own
//! iterations, steps, workspace and trace) linked to the composing run,
//! the iteration of it, and the child it is.

use rusqlite::{params, OptionalExtension};

use super::{Result, Store};

/// Where a child run belongs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ParentLink {
    pub parent: String,
    pub iteration: u32,
    /// The child's id, or `<inner id>@<outer iteration>` for an inner child
    /// of a nested composition (one run per outer iteration).
    pub key: String,
}

/// A child run of a composing run, as `loopc status` lists them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ChildRow {
    pub id: String,
    pub iteration: u32,
    pub key: String,
    pub loop_name: String,
    pub status: String,
    pub reason: String,
    pub cost_usd: f64,
}

impl Store {
    /// Link a just-created run to its parent (inside the transaction that created it).
    pub(super) fn link_parent(tx: &rusqlite::Connection, id: &str, link: &ParentLink) -> Result<()> {
        tx.execute(
            "UPDATE runs SET parent_id = ?2, parent_iteration = ?3, child_key = ?4 WHERE id = ?1",
            params![id, link.parent, link.iteration, link.key],
        )?;
        Ok(())
    }

    /// The run recorded for this child of `link.parent` in that iteration, if any.
    pub fn child_run(&self, link: &ParentLink) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM runs WHERE parent_id = ?1 AND parent_iteration = ?2 AND child_key = ?3 ORDER BY created_at, rowid LIMIT 1",
                params![link.parent, link.iteration, link.key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The composing run `id` is a child of, if it is one.
    pub fn parent_of(&self, id: &str) -> Result<Option<ParentLink>> {
        let row: Option<(String, u32, String)> = self
            .conn
            .query_row(
                "SELECT parent_id, parent_iteration, child_key FROM runs WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        Ok(row
            .filter(|(p, _, _)| !p.is_empty())
            .map(|(parent, iteration, key)| ParentLink { parent, iteration, key }))
    }

    /// The outermost run of the composition `id` belongs to (`id` itself when it is no child).
    pub fn root_of(&self, id: &str) -> Result<String> {
        let mut at = id.to_owned();
        for _ in 0..16 {
            match self.parent_of(&at)? {
                Some(link) => at = link.parent,
                None => break,
            }
        }
        Ok(at)
    }

    /// The child runs of `id`, in the order they were started.
    pub fn children_of(&self, id: &str) -> Result<Vec<ChildRow>> {
        let rows = self
            .conn
            .prepare(
                "SELECT id, parent_iteration, child_key, loop_name, status, reason, cost_usd FROM runs
                 WHERE parent_id = ?1 ORDER BY created_at, rowid",
            )?
            .query_map(params![id], |r| {
                Ok(ChildRow {
                    id: r.get(0)?,
                    iteration: r.get(1)?,
                    key: r.get(2)?,
                    loop_name: r.get(3)?,
                    status: r.get(4)?,
                    reason: r.get(5)?,
                    cost_usd: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
