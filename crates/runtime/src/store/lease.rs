//! Which process holds a run: its lease.
//!
//! A run is held by the process that executes it (or queued it behind
//! `--jobs`): its pid, that process's start time, the machine it runs on
//! and a heartbeat the process renews every [`HEARTBEAT`]. On the holder's
//! own machine the lease is exact: it holds while that very process runs
//! (pid and start time match), so a killed loopc shows as `interrupted` at
//! once. Seen from another machine sharing the state (where its pid means
//! nothing), it holds until the heartbeat is older than the lease's length,
//! which the holder records with it (`LOOPC_LEASE_SECONDS`, default 30; it
//! renews three times per length).
//!
//! Taking a run over is decided inside one write transaction (see
//! [`super::Store::claim`]), so two processes never both take it.

use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

/// How long a heartbeat holds a run for another machine, by default.
pub const LEASE_MS: i64 = 30_000;
/// The shortest lease `LOOPC_LEASE_SECONDS` can set.
const MIN_LEASE_MS: i64 = 300;

/// The length of the leases this process takes: `LOOPC_LEASE_SECONDS`
/// (at least 0.3), else [`LEASE_MS`].
pub fn lease_ms() -> i64 {
    static LEASE: LazyLock<i64> = LazyLock::new(|| {
        std::env::var("LOOPC_LEASE_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(LEASE_MS, |s| ((s * 1000.0) as i64).max(MIN_LEASE_MS))
    });
    *LEASE
}

/// How often this process renews the leases it holds: three times a lease.
pub fn heartbeat() -> Duration {
    Duration::from_millis((lease_ms() / 3) as u64)
}

/// This machine, as leases name it: `LOOPC_HOST_ID` when set (containers
/// that share a kernel but not a pid namespace need one each), else the
/// host name and the kernel's boot id — a pid is meaningful only within
/// one boot of one machine.
pub fn host_id() -> &'static str {
    static HOST: LazyLock<String> = LazyLock::new(|| {
        if let Some(id) = std::env::var("LOOPC_HOST_ID").ok().filter(|v| !v.is_empty()) {
            return id;
        }
        let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_owned()).unwrap_or_default();
        format!("{}/{}", read("/proc/sys/kernel/hostname"), read("/proc/sys/kernel/random/boot_id"))
    });
    &HOST
}

/// The lease of a run as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub pid: u32,
    /// The holder's start time (clock ticks since boot; 0: unknown).
    pub pid_start: u64,
    /// The holder's machine (empty: a run from before leases named one).
    pub host: String,
    pub heartbeat_ms: i64,
    /// How long the heartbeat holds (0: a run from before leases: [`LEASE_MS`]).
    pub lease_ms: i64,
}

impl Lease {
    pub(super) fn read(conn: &Connection, id: &str) -> rusqlite::Result<Option<Lease>> {
        conn.query_row(
            "SELECT pid, pid_start, host, heartbeat_ms, lease_ms FROM runs WHERE id = ?1",
            params![id],
            |r| {
                Ok(Lease {
                    pid: r.get(0)?,
                    pid_start: r.get::<_, i64>(1)?.max(0) as u64,
                    host: r.get(2)?,
                    heartbeat_ms: r.get(3)?,
                    lease_ms: r.get(4)?,
                })
            },
        )
        .optional()
    }

    /// Whether the holder is on this machine (where its pid can be checked).
    pub fn is_local(&self) -> bool {
        self.host.is_empty() || self.host == host_id()
    }

    /// Whether a process still holds the run.
    pub fn holds(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        if self.is_local() {
            crate::process::is_alive(self.pid, self.pid_start)
        } else {
            let length = if self.lease_ms > 0 { self.lease_ms } else { LEASE_MS };
            crate::clock::unix_ms() - self.heartbeat_ms < length
        }
    }

    /// Why a run recorded as `running` is not held any more.
    pub fn why_gone(&self) -> String {
        if self.is_local() {
            format!("its process ({}) is gone: killed or crashed mid-run", self.pid)
        } else {
            let ago = (crate::clock::unix_ms() - self.heartbeat_ms) / 1000;
            format!(
                "its lease expired: process {} on {} last renewed it {ago} s ago (died, or cut off from the state)",
                self.pid, self.host
            )
        }
    }
}

/// The databases whose leases this process renews.
static RENEWED: LazyLock<Mutex<Vec<PathBuf>>> = LazyLock::new(|| Mutex::new(Vec::new()));

/// Renew, every [`heartbeat`] until this process exits, the lease of every
/// run this process holds in the database at `path`. One thread per
/// process, started by the first call; it opens its own connection.
pub(super) fn keep_renewing(path: &Path) {
    let mut paths = RENEWED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if paths.iter().any(|p| p == path) {
        return;
    }
    let first = paths.is_empty();
    paths.push(path.to_path_buf());
    drop(paths);
    if first {
        let _ = std::thread::Builder::new().name("loopc-lease".into()).spawn(renew_forever);
    }
}

fn renew_forever() {
    let me = std::process::id();
    let mut open: Vec<(PathBuf, Connection)> = Vec::new();
    loop {
        std::thread::sleep(heartbeat());
        let paths = RENEWED.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for path in paths {
            if !open.iter().any(|(p, _)| *p == path) {
                // Never create a database here: a state file deleted under
                // the run is the run's error to report, not this thread's.
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let Ok(conn) = Connection::open_with_flags(&path, flags) else {
                    continue;
                };
                let _ = conn.busy_timeout(Duration::from_secs(5));
                open.push((path.clone(), conn));
            }
            if let Some((_, conn)) = open.iter().find(|(p, _)| *p == path) {
                // A missed beat is not fatal: the lease lasts three of them.
                let _ = conn.execute(
                    "UPDATE runs SET heartbeat_ms = ?1 WHERE pid = ?2 AND host = ?3",
                    params![crate::clock::unix_ms(), me, host_id()],
                );
            }
        }
    }
}
