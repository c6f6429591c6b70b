//! The tables, and the migrations between their versions (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{Result, StoreError};

/// The schema version this code writes (`PRAGMA user_version`). Version 1
/// is loopc 0.1's layout, which set no `user_version`.
pub const SCHEMA_VERSION: i64 = 8;

const SCHEMA: &str = "
CREATE TABLE runs (
  id TEXT PRIMARY KEY, loop_name TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
  iteration INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan_json TEXT NOT NULL, inputs_json TEXT NOT NULL,
  workspace TEXT NOT NULL, bindings_path TEXT NOT NULL DEFAULT '', waiting_for TEXT NOT NULL DEFAULT '',
  started_unix_ms INTEGER NOT NULL DEFAULT 0, finished_unix_ms INTEGER,
  waiting_iteration INTEGER NOT NULL DEFAULT 0, options_json TEXT NOT NULL DEFAULT '{}', pid INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE steps (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, step TEXT NOT NULL, status TEXT NOT NULL,
  result_json TEXT NOT NULL, cost_usd REAL NOT NULL, tokens INTEGER NOT NULL, attempts INTEGER NOT NULL,
  seconds REAL NOT NULL, finished_at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, step)
);
CREATE TABLE iterations (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, record_json TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration)
);
CREATE TABLE memory (
  scope TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL, writer TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE decisions (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, approved INTEGER NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE gates (
  run_id TEXT NOT NULL, iteration INTEGER NOT NULL, gate TEXT NOT NULL, first_ms INTEGER NOT NULL,
  PRIMARY KEY (run_id, iteration, gate)
);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, iteration INTEGER NOT NULL, kind TEXT NOT NULL,
  message TEXT NOT NULL, at TEXT NOT NULL
);
";

/// Version 1 → 2: the bindings' digest, the claiming process's start time
/// (a pid alone can be reused), counters that must survive a restart
/// (`rate_limit`, warn-once), and the process groups a run started.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE runs ADD COLUMN bindings_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid_start INTEGER NOT NULL DEFAULT 0;
CREATE TABLE counters (
  run_id TEXT NOT NULL, key TEXT NOT NULL, value_json TEXT NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE TABLE processes (
  run_id TEXT NOT NULL, pgid INTEGER NOT NULL, start_ticks INTEGER NOT NULL, program TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (run_id, pgid)
);
";

/// Version 2 → 3: each run's workspace (a git worktree and its branch, a
/// copy, or the root in place), which `resume` continues in and `gc` removes.
const MIGRATE_2_TO_3: &str = "
CREATE TABLE workspaces (
  run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, path TEXT NOT NULL, root TEXT NOT NULL,
  repository TEXT NOT NULL, git_dir TEXT NOT NULL DEFAULT '', branch TEXT NOT NULL DEFAULT '',
  base_ref TEXT NOT NULL DEFAULT '', base_commit TEXT NOT NULL DEFAULT '', removed_at TEXT NOT NULL DEFAULT ''
);
";

/// Version 3 → 4: a request to a run from another process (`cancel`,
/// `pause`); notes a person adds to a running run (`add-context`); the statuses `interrupted`, `cancelled` and `paused`, which an
/// older loopc would not read (hence the version).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE runs ADD COLUMN control TEXT NOT NULL DEFAULT '';
CREATE TABLE notes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL,
  iteration INTEGER
);
";

/// Version 4 → 5: work pools (`loopc run --items`): each pool's items with
/// their decisions, and which pool item each run is, so that results map
/// back to items.
const MIGRATE_4_TO_5: &str = "
CREATE TABLE pools (
  id TEXT PRIMARY KEY, created_at TEXT NOT NULL, spec TEXT NOT NULL, items_json TEXT NOT NULL
);
ALTER TABLE runs ADD COLUMN pool_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN item_id TEXT NOT NULL DEFAULT '';
";

/// Version 5 → 6: child runs of a composition (LSS 1.1): the composing
/// run, the iteration of it they belong to, and the child they are
/// (`<child id>`, or `<inner id>@<outer iteration>` for a nested inner child).
const MIGRATE_5_TO_6: &str = "
ALTER TABLE runs ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN parent_iteration INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN child_key TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_by_parent ON runs (parent_id, parent_iteration, child_key);
";

/// The queue of triggered work (`loopc serve`); a delivery (a webhook's id,
/// a schedule's due time) is enqueued at most once per source.
const MIGRATE_6_TO_7: &str = "
CREATE TABLE queue (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    delivery TEXT NOT NULL,
    request_json TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    result TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX queue_by_delivery ON queue (source, delivery);
CREATE INDEX queue_by_state ON queue (state, created_at);
";

/// Version 7 → 8: the machine of the process holding a run, its heartbeat
/// and the lease's length (see [`super::lease`]): a run held from another
/// machine holds while its heartbeat is fresh. And the steps under way
/// (what live views show as started; the `steps` table has finished ones).
const MIGRATE_7_TO_8: &str = "
ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN under_way TEXT NOT NULL DEFAULT '';
";

/// Version `n` → `n + 1` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: [&str; (SCHEMA_VERSION - 1) as usize] = [
    MIGRATE_1_TO_2,
    MIGRATE_2_TO_3,
    MIGRATE_3_TO_4,
    MIGRATE_4_TO_5,
    MIGRATE_5_TO_6,
    MIGRATE_6_TO_7,
    MIGRATE_7_TO_8,
];

/// A database a newer loopc wrote is not read (nor written) by this one.
pub(super) fn refuse_newer(version: i64, path: &Path) -> Result<()> {
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Bring a database to [`SCHEMA_VERSION`], or refuse one this code cannot read.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let mut version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        let has_runs: bool = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
            [],
            |r| r.get::<_, i64>(0),
        )? > 0;
        if has_runs {
            version = 1;
        } else {
            tx.execute_batch(SCHEMA)?;
            version = 1;
        }
    }
    refuse_newer(version, path)?;
    while let Some(step) = usize::try_from(version - 1).ok().and_then(|i| MIGRATIONS.get(i)) {
        tx.execute_batch(step)?;
        version += 1;
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit().map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state directory whose database has schema `version`, as the loopc
    /// of that version left it, with one waiting run and one of its steps.
    fn database_at(version: i64, name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("loopc-schema-{}-{name}-{version}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(dir.join("state.db")).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        for step in &MIGRATIONS[..(version - 1) as usize] {
            conn.execute_batch(step).unwrap();
        }
        // loopc 0.1 (version 1) set no user_version.
        conn.pragma_update(None, "user_version", if version == 1 { 0 } else { version })
            .unwrap();
        conn.execute(
            "INSERT INTO runs (id, loop_name, status, reason, iteration, created_at, updated_at, plan_json, inputs_json, workspace, waiting_for, waiting_iteration)
             VALUES ('r-old', 'fix-calc', 'awaiting_human', 'a gate', 1, 't', 't', '{}', '{\"target\":\"calc.py\"}', '/w', 'escalation', 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO steps (run_id, iteration, step, status, result_json, cost_usd, tokens, attempts, seconds, finished_at)
             VALUES ('r-old', 1, 'workers.fixer', 'done', '\"patch\"', 0.25, 10, 1, 1.5, 't')",
            [],
        )
        .unwrap();
        dir
    }

    #[test]
    fn every_older_schema_upgrades_and_keeps_its_runs() {
        for version in 1..SCHEMA_VERSION {
            let dir = database_at(version, "upgrade");
            let store = crate::store::Store::open(&dir).unwrap_or_else(|e| panic!("version {version}: {e}"));
            let runs = store.runs().unwrap();
            assert_eq!(runs.len(), 1, "version {version}");
            let run = store.observed(runs[0].clone()).unwrap();
            assert_eq!(
                (run.id.as_str(), run.status),
                ("r-old", crate::store::Status::AwaitingHuman),
                "version {version}"
            );
            assert_eq!(run.reason, "a gate", "version {version}");
            let step = store.step("r-old", 1, "workers.fixer").unwrap().expect("the step is kept");
            assert_eq!((step.cost_usd, step.tokens, step.attempts), (0.25, 10, 1), "version {version}");
            assert_eq!(store.lease("r-old").unwrap().host, "", "version {version}: no holder recorded");
            let now: i64 = Connection::open(dir.join("state.db"))
                .unwrap()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(now, SCHEMA_VERSION, "version {version}");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn a_schema_from_a_newer_loopc_is_refused_and_left_as_it_is() {
        let dir = database_at(SCHEMA_VERSION, "newer");
        let db = dir.join("state.db");
        Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let before = std::fs::read(&db).unwrap();
        let err = crate::store::Store::open(&dir).err().expect("refused");
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains(&db.display().to_string()), "{err}");
        assert!(std::fs::read(&db).unwrap() == before, "the database file was rewritten");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
