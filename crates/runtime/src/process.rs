//! Processes the runtime starts: who is alive, killing a whole process
//! group, and the registry that remembers every group a run started so
//! that a later `resume` can end what a killed loopc left behind.
//!
//! A pid alone can be reused by an unrelated process, so a process is
//! named by its pid *and* its start time (field 22 of `/proc/<pid>/stat`,
//! clock ticks since boot).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection};

/// Start time of `pid` in clock ticks since boot; `None` when it is not
/// running (gone, or a zombie).
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `comm` (field 2) is parenthesised and may contain spaces or `)`.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    // Field 3 is the state; the start time is field 22.
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Whether the process `pid` that started at `start` (0: unknown) still runs.
pub fn is_alive(pid: u32, start: u64) -> bool {
    match start_ticks(pid) {
        None => false,
        Some(now) => start == 0 || now == start,
    }
}

/// Whether any process of group `pgid` still runs. Zombies do not count:
/// a killed process stays one until its parent reaps it, and an orphan's
/// new parent (in a container, often a pid 1 that never reaps) may not.
pub fn group_exists(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.filter_map(Result::ok).any(|e| {
        let name = e.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some(close) = stat.rfind(')') else { return false };
        let mut fields = stat[close + 1..].split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|f| f.parse::<u32>().ok());
        pgrp == Some(pgid) && !matches!(state, Some("Z" | "X"))
    })
}

/// SIGTERM every process of group `pgid`: a `loopc run` among them marks
/// its runs interrupted and stops its steps before it exits.
pub fn terminate_group(pgid: u32) {
    signal_group(pgid, libc::SIGTERM);
}

/// SIGKILL every process of group `pgid`.
pub fn kill_group(pgid: u32) {
    signal_group(pgid, libc::SIGKILL);
}

#[allow(unsafe_code, reason = "kill(2) of a process group has no safe std API")]
fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: a plain kill(2) of a process group we started.
            unsafe {
                libc::kill(-pgid, signal);
            }
        }
    }
}

/// Whether the group a run recorded as `(pgid, start)` is still that group:
/// its leader is alive with the recorded start time, or the leader is gone
/// but members remain (Linux does not reuse an id while its group exists).
pub fn recorded_group_alive(pgid: u32, start: u64) -> bool {
    match start_ticks(pgid) {
        Some(now) => now == start,
        None => group_exists(pgid),
    }
}

/// End the process groups a previous execution of a run left behind, and
/// wait (briefly) until they are gone. Returns the groups killed.
pub fn end_leftovers(groups: &[(u32, u64)]) -> Vec<u32> {
    let mut killed = Vec::new();
    for &(pgid, start) in groups {
        if recorded_group_alive(pgid, start) {
            kill_group(pgid);
            killed.push(pgid);
        }
    }
    for _ in 0..200 {
        if !killed.iter().any(|g| group_exists(*g)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    killed
}

/// Make a command the leader of a new process group that dies with the
/// thread that spawned it (`PR_SET_PDEATHSIG`), so a killed loopc does not
/// leave it running; whatever it started itself is ended through the
/// [`ProcessLog`] on the next `resume`.
#[allow(unsafe_code, reason = "pre_exec is unsafe by signature; the closure only calls prctl")]
pub fn isolate(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
            Ok(())
        });
    }
}

/// A started process group: the leader is watched without being reaped
/// (`waitid(WNOWAIT)`), so its group id cannot be reused while the group
/// is killed; whatever is left of the group is killed when the leader
/// exits, at a timeout, and on drop (an early return, a panic).
pub struct Spawned {
    child: std::process::Child,
    pgid: u32,
    log: Option<std::sync::Arc<ProcessLog>>,
    reaped: bool,
}

impl Spawned {
    /// Spawn `cmd` as the leader of its own group (see [`isolate`]) and
    /// record the group in `log`.
    pub fn spawn(cmd: &mut std::process::Command, log: Option<std::sync::Arc<ProcessLog>>, program: &str) -> std::io::Result<Spawned> {
        isolate(cmd);
        let child = cmd.spawn()?;
        let pgid = child.id();
        if let Some(log) = &log {
            log.started(pgid, program);
        }
        Ok(Spawned {
            child,
            pgid,
            log,
            reaped: false,
        })
    }

    pub fn id(&self) -> u32 {
        self.pgid
    }

    /// Whether the run this process belongs to was asked to stop (a signal
    /// to loopc, `loopc cancel`): after [`Spawned::wait_until`] returned
    /// `None`, whether that, and not the deadline, ended it.
    pub fn stop_requested(&self) -> bool {
        crate::stop::signal().is_some() || self.log.as_ref().is_some_and(|l| l.cancel_requested())
    }

    pub fn child_mut(&mut self) -> &mut std::process::Child {
        &mut self.child
    }

    /// Wait for the leader until `deadline`. On exit the rest of its group
    /// is killed and the leader reaped: `Some(status)`. At the deadline the
    /// whole group is killed: `None`.
    /// A stop asked for (see [`crate::stop`]) kills the group too: `None`.
    pub fn wait_until(&mut self, deadline: Option<std::time::Instant>) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.wait(deadline, true)
    }

    /// Like [`Spawned::wait_until`], but a stop asked for lets the process
    /// finish: for what must not be cut half-way (a git commit, a publish
    /// hook), each with its own timeout.
    pub fn wait_to_end(&mut self, deadline: Option<std::time::Instant>) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.wait(deadline, false)
    }

    fn wait(&mut self, deadline: Option<std::time::Instant>, stoppable: bool) -> std::io::Result<Option<std::process::ExitStatus>> {
        let mut pause = Duration::from_millis(1);
        loop {
            if exited_unreaped(self.pgid)? {
                return self.finish().map(Some);
            }
            if stoppable && self.stop_requested() {
                // Asked to stop (crate::stop): the step ends here, unrecorded.
                self.finish()?;
                return Ok(None);
            }
            let now = std::time::Instant::now();
            if let Some(d) = deadline {
                if now >= d {
                    self.finish()?;
                    return Ok(None);
                }
                pause = pause.min(d - now);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(25));
        }
    }

    /// Kill the group (the leader is a zombie or alive, so the id is still
    /// ours), then reap the leader.
    fn finish(&mut self) -> std::io::Result<std::process::ExitStatus> {
        kill_group(self.pgid);
        let status = self.child.wait();
        self.reaped = true;
        if let Some(log) = &self.log {
            log.ended(self.pgid);
        }
        status
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.finish();
        }
    }
}

/// Whether `pid` (our child) has exited, without reaping it.
#[allow(unsafe_code, reason = "waitid(WNOWAIT) has no safe std API")]
fn exited_unreaped(pid: u32) -> std::io::Result<bool> {
    // SAFETY: waitid writes only into `info`; WNOWAIT leaves the child waitable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        if libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(info.si_pid() != 0)
    }
}

/// Environment variables every started process keeps (and `LC_*`); all
/// others are dropped unless the bindings pass them (`[sandbox] pass_env`)
/// or set them (an executor's `env`). API keys, tokens and loopc's own
/// settings (`LOOPC_STATE_DIR`) therefore never reach a worker's process.
pub const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TMPDIR",
];

/// How processes of a run are isolated from the rest of the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IsolationMode {
    /// bubblewrap when it works on this machine, else none (with a warning).
    #[default]
    Auto,
    /// bubblewrap, or the run does not start.
    Bwrap,
    /// Plain processes with the user's rights (only the environment is filtered).
    None,
}

/// What every process of a run sees: its environment and, under
/// bubblewrap, its file system. Under bubblewrap the file system is
/// read-only except the workspace; `/tmp` is private; loopc's state is not
/// there at all (a tmpfs over it), the bindings file reads as empty, and
/// loopc's other files inside the workspace are read-only; processes live
/// in their own PID namespace, so nothing they start outlives them.
#[derive(Clone, Debug, Default)]
pub struct Isolation {
    /// The bubblewrap binary, when the run is isolated.
    pub bwrap: Option<PathBuf>,
    /// The workspace (the only writable directory).
    pub root: PathBuf,
    /// Directories not mounted (loopc's state).
    pub hidden_dirs: Vec<PathBuf>,
    /// Files that read as empty (the bindings).
    pub hidden_files: Vec<PathBuf>,
    /// Files and directories inside the workspace that are read-only.
    pub read_only: Vec<PathBuf>,
    /// Keep the network (and with it the host's loopback services and
    /// abstract unix sockets); the default cuts it.
    pub network: bool,
    /// Extra environment variable names passed through.
    pub pass_env: Vec<String>,
}

/// Where bubblewrap is looked for: system directories only. Never `PATH`,
/// which may hold a directory of the workspace (`.venv/bin`,
/// `node_modules/.bin`, an empty entry) where a worker could plant one.
pub const BUBBLEWRAP_PATHS: &[&str] = &["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"];

/// What every sandboxed process gets: a user namespace without
/// capabilities (even a run as root cannot remount, unmount or write past
/// the read-only binds), death with loopc, a session and PID and IPC
/// namespaces of its own (nothing it starts outlives it).
const SANDBOX_BASE: &[&str] = &[
    "--unshare-user",
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--unshare-pid",
    "--unshare-ipc",
];

/// The bubblewrap binary, if it is installed and can create namespaces here.
pub fn bubblewrap() -> Option<&'static Path> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let bwrap = BUBBLEWRAP_PATHS.iter().map(PathBuf::from).find(|p| p.is_file())?;
            let works = std::process::Command::new(&bwrap)
                .args(SANDBOX_BASE)
                .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", "true"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            works.then_some(bwrap)
        })
        .as_deref()
}

impl Isolation {
    /// A command for `program args` run in `cwd`, isolated as configured.
    pub fn command(&self, program: &std::ffi::OsStr, args: &[String], cwd: &Path) -> std::process::Command {
        let mut cmd = match &self.bwrap {
            None => {
                let mut cmd = std::process::Command::new(program);
                cmd.args(args).current_dir(cwd);
                cmd
            }
            Some(bwrap) => {
                let mut cmd = std::process::Command::new(bwrap);
                cmd.args(self.bwrap_args(cwd)).arg("--").arg(program).args(args);
                cmd
            }
        };
        self.filter_env(&mut cmd);
        cmd
    }

    fn filter_env(&self, cmd: &mut std::process::Command) {
        cmd.env_clear();
        for (name, value) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if BASE_ENV.contains(&n.as_ref()) || n.starts_with("LC_") || self.pass_env.iter().any(|p| p == n.as_ref()) {
                cmd.env(&name, value);
            }
        }
        // Python checks cached bytecode by mtime (whole seconds) and size: a
        // file a worker rewrote within the second, to the same length, would
        // be tested as its old self.
        cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    }

    /// What the fresh `/tmp` would hide that the run's executors need: the
    /// read-only files outside the workspace that live under `/tmp` (a
    /// checkout in `/tmp`, with its checker beside the workspace). Each
    /// comes back read-only with its directory (a script imports its
    /// neighbours), or alone when it sits in `/tmp` itself, whose other
    /// files are nobody's business.
    fn shown_in_tmp(&self) -> Vec<PathBuf> {
        let mut shown: Vec<PathBuf> = self
            .read_only
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .filter(|p| p.starts_with("/tmp") && !p.starts_with(&self.root))
            .map(|p| match p.parent() {
                Some(dir) if p.is_file() && dir != Path::new("/tmp") => dir.to_path_buf(),
                _ => p,
            })
            .collect();
        shown.sort();
        shown.dedup();
        shown
    }

    fn bwrap_args(&self, cwd: &Path) -> Vec<std::ffi::OsString> {
        let mut a: Vec<std::ffi::OsString> = SANDBOX_BASE.iter().map(std::ffi::OsString::from).collect();
        let mut add = |items: &[&std::ffi::OsStr]| a.extend(items.iter().map(|s| s.to_os_string()));
        if !self.network {
            add(&["--unshare-net".as_ref()]);
        }
        add(&[
            "--ro-bind".as_ref(),
            "/".as_ref(),
            "/".as_ref(),
            "--dev".as_ref(),
            "/dev".as_ref(),
            "--proc".as_ref(),
            "/proc".as_ref(),
        ]);
        add(&["--tmpfs".as_ref(), "/tmp".as_ref()]);
        let shown = self.shown_in_tmp();
        for p in &shown {
            add(&["--ro-bind".as_ref(), p.as_os_str(), p.as_os_str()]);
        }
        add(&["--bind".as_ref(), self.root.as_os_str(), self.root.as_os_str()]);
        // Only what is visible needs covering: the rest of /tmp is a fresh tmpfs.
        let visible =
            |p: &Path| p.exists() && (!p.starts_with("/tmp") || p.starts_with(&self.root) || shown.iter().any(|s| p.starts_with(s)));
        for d in self.hidden_dirs.iter().filter(|d| visible(d) && d.is_dir()) {
            add(&["--tmpfs".as_ref(), d.as_os_str()]);
        }
        // A run's worktree lives in the state directory: hidden with it, shown again.
        if self.hidden_dirs.iter().any(|d| self.root.starts_with(d) && visible(d)) {
            add(&["--bind".as_ref(), self.root.as_os_str(), self.root.as_os_str()]);
        }
        for f in self.hidden_files.iter().filter(|f| visible(f) && f.is_file()) {
            add(&["--ro-bind".as_ref(), "/dev/null".as_ref(), f.as_os_str()]);
        }
        for p in self.read_only.iter().filter(|p| p.starts_with(&self.root) && p.exists()) {
            add(&["--ro-bind".as_ref(), p.as_os_str(), p.as_os_str()]);
        }
        // Inside the sandbox a relative directory would mean nothing.
        let cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| self.root.clone());
        a.extend(["--chdir".into(), cwd.into_os_string()]);
        a
    }
}

/// Records the process groups a run starts in its state database (its own
/// connection, so executor threads can record without the interpreter's).
pub struct ProcessLog {
    conn: Mutex<Option<Connection>>,
    db: PathBuf,
    run_id: String,
    /// When `loopc cancel` was last looked for, and whether it was found.
    cancel_checked: Mutex<Option<(std::time::Instant, bool)>>,
}

/// How often a waiting step looks for `loopc cancel` in the database.
const CANCEL_POLL: Duration = Duration::from_millis(200);

impl std::fmt::Debug for ProcessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessLog").field("run_id", &self.run_id).finish()
    }
}

impl ProcessLog {
    pub fn new(db: &Path, run_id: &str) -> ProcessLog {
        ProcessLog {
            conn: Mutex::new(None),
            db: db.to_path_buf(),
            run_id: run_id.to_owned(),
            cancel_checked: Mutex::new(None),
        }
    }

    /// Whether `loopc cancel` asked for this run (read at most every
    /// [`CANCEL_POLL`]; a cancel once seen stays seen).
    pub fn cancel_requested(&self) -> bool {
        let mut checked = self.cancel_checked.lock().unwrap_or_else(|p| p.into_inner());
        match *checked {
            Some((_, true)) => return true,
            Some((at, false)) if at.elapsed() < CANCEL_POLL => return false,
            _ => {}
        }
        let mut found = false;
        self.with_conn(|c| {
            // A cancel of a composing run reaches the step of its child.
            let asked: Vec<String> = c
                .prepare(crate::store::UP_THE_PARENTS)?
                .query_map(params![self.run_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            found = crate::store::strongest(asked.iter().map(String::as_str)) == Some(crate::store::Control::Cancel);
            Ok(0)
        });
        *checked = Some((std::time::Instant::now(), found));
        found
    }

    fn with_conn(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<usize>) {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Connection::open(&self.db)
                .and_then(|c| c.busy_timeout(Duration::from_secs(30)).map(|()| c))
                .ok();
        }
        if let Some(conn) = guard.as_ref() {
            // Best effort: a failed record only means a leftover group is
            // not ended on resume; the group still dies with its leader.
            let _ = f(conn);
        }
    }

    /// A group was started (`pgid` is the leader's pid).
    pub fn started(&self, pgid: u32, program: &str) {
        let start = start_ticks(pgid).unwrap_or(0) as i64;
        self.with_conn(|c| {
            c.execute(
                "INSERT OR REPLACE INTO processes (run_id, pgid, start_ticks, program, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![self.run_id, pgid, start, program, crate::clock::now_rfc3339()],
            )
        });
    }

    /// The group was reaped and killed: nothing of it is left.
    pub fn ended(&self, pgid: u32) {
        self.with_conn(|c| c.execute("DELETE FROM processes WHERE run_id = ?1 AND pgid = ?2", params![self.run_id, pgid]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_stable() {
        let me = std::process::id();
        let a = start_ticks(me).expect("/proc is mounted");
        assert_eq!(start_ticks(me), Some(a));
        assert!(is_alive(me, a));
        assert!(!is_alive(me, a + 1));
        assert!(!is_alive(u32::MAX - 7, 0));
    }

    #[test]
    fn a_group_is_killed_when_its_leader_exits() {
        let marker = std::env::temp_dir().join(format!("loopc-group-{}", std::process::id()));
        let _ = std::fs::remove_file(&marker);
        // The leader leaves a background child that would write the marker later.
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &format!("(sleep 1; touch {}) & exit 0", marker.display())]);
        let mut p = Spawned::spawn(&mut cmd, None, "sh").unwrap();
        let pgid = p.id();
        let status = p.wait_until(None).unwrap().unwrap();
        assert!(status.success());
        // Killed members linger as zombies until their new parent reaps them.
        assert!(!end_leftovers(&[]).contains(&pgid));
        for _ in 0..100 {
            if !group_exists(pgid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!group_exists(pgid));
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the background child outlived its group");
    }

    #[test]
    fn a_timeout_kills_the_group() {
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        let mut p = Spawned::spawn(&mut cmd, None, "sleep").unwrap();
        let pgid = p.id();
        let deadline = std::time::Instant::now() + Duration::from_millis(100);
        assert!(p.wait_until(Some(deadline)).unwrap().is_none());
        for _ in 0..100 {
            if !group_exists(pgid) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!group_exists(pgid));
    }
}
