//! Work pools: the items of a `loopc run --items` and the run each became,
//! so that results map back to items (and `loopc pool` re-renders later).

use rusqlite::params;

use super::{Result, Store, StoreError};
use crate::clock;
use crate::pool::PoolItem;

/// A pool as recorded.
#[derive(Clone, Debug)]
pub struct PoolRow {
    pub id: String,
    pub created_at: String,
    /// The spec (or plan) the pool's items run.
    pub spec: String,
    /// Every item in priority order, with its decision and run.
    pub items: Vec<PoolItem>,
}

impl Store {
    /// Record a new pool with its items (decided, not yet started).
    pub fn create_pool(&self, id: &str, spec: &str, items: &[PoolItem]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO pools (id, created_at, spec, items_json) VALUES (?1, ?2, ?3, ?4)",
            params![id, clock::now_rfc3339(), spec, serde_json::to_string(items)?],
        )?;
        Ok(())
    }

    /// Replace a pool's items (once their runs are recorded) and mark each run as the item's.
    pub fn update_pool(&self, id: &str, items: &[PoolItem]) -> Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute(
            "UPDATE pools SET items_json = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(items)?],
        )?;
        for item in items {
            if let Some(run) = &item.run_id {
                tx.execute(
                    "UPDATE runs SET pool_id = ?1, item_id = ?2 WHERE id = ?3",
                    params![id, item.id, run],
                )?;
            }
        }
        tx.commit().map_err(StoreError::from)
    }

    /// A pool by its id.
    pub fn pool(&self, id: &str) -> Result<Option<PoolRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, created_at, spec, items_json FROM pools WHERE id = ?1")?;
        let mut rows = stmt.query(params![id])?;
        let Some(r) = rows.next()? else { return Ok(None) };
        let items_json: String = r.get(3)?;
        Ok(Some(PoolRow {
            id: r.get(0)?,
            created_at: r.get(1)?,
            spec: r.get(2)?,
            items: serde_json::from_str(&items_json)?,
        }))
    }

    /// `(run id, pool id, item id)` of every run that belongs to a pool.
    pub fn pool_runs(&self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, pool_id, item_id FROM runs WHERE pool_id != '' ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(StoreError::from)
    }
}
