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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::report::PoolReport;
    use crate::pool::Decision;

    #[test]
    fn a_pool_round_trips_and_reports_without_runs() {
        let dir = std::env::temp_dir().join(format!("loopc-pool-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).unwrap();
        let item = |id: &str, decision| PoolItem {
            id: id.into(),
            priority: Some(1.0),
            labels: vec!["x".into()],
            decision,
            reason: "why".into(),
            run_id: None,
        };
        let items = vec![
            item("a", Decision::Skipped),
            item("b", Decision::Escalated),
            item("c", Decision::Skipped),
        ];
        store.create_pool("p1", "spec.yaml", &items).unwrap();
        let row = store.pool("p1").unwrap().unwrap();
        assert_eq!((row.spec.as_str(), &row.items), ("spec.yaml", &items));
        assert!(store.pool("p2").unwrap().is_none());
        assert!(store.pool_runs().unwrap().is_empty());
        let report = PoolReport::load(&store, "p1").unwrap();
        let t = &report.totals;
        assert_eq!((t.items, t.run, t.skipped, t.escalated, t.success_rate), (3, 0, 2, 1, 0.0));
        // Nothing ran and nothing failed: every run item (none) succeeded.
        assert_eq!(report.waiting_and_all_succeeded(), (false, true));
        assert!(report.markdown().contains("For a person: b"));
        assert!(PoolReport::load(&store, "p2").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
